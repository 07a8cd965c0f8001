"""/api/healthcheck.py of the stand-in: exit 0 when the API server on $PORT answers GET /ok.

The licensed image's probe script (the chart's api-server probes run `python /api/healthcheck.py`:
langchain-ai/helm charts/langgraph-cloud/values.yaml:138-164; langgraph-cli's compose file too,
langgraph_cli/docker.py:289) is not public; this one only asks /ok, under MOUNT_PREFIX if set.
"""

import os
import sys
import urllib.request

port = os.environ.get("PORT", "8000")
prefix = os.environ.get("MOUNT_PREFIX", "").rstrip("/")
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{prefix}/ok", timeout=5) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError as error:
    print(f"healthcheck: {error}", file=sys.stderr)
    sys.exit(1)
