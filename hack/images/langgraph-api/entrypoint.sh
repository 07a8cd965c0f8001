#!/bin/sh
# The API server, as the licensed image's default command: HTTP on $PORT (the chart sets PORT to
# its containerPort, 8000: langchain-ai/helm charts/langgraph-cloud/templates/api-server/
# deployment.yaml:59-60, values.yaml:112), graphs from LANGSERVE_GRAPHS (which `langgraph build`
# writes as ENV), logs through langgraph-api's own logging config (/api/logging.json, the file
# langgraph_api/queue_entrypoint.py:309 loads; LOG_JSON=true for JSON lines, logging.py:15).
# Reproduced: the server, its routes (/ok, /threads, /runs, ...), PORT, the bind address from
# LANGGRAPH_SERVER_HOST (the variable langgraph_api/queue_entrypoint.py:80 reads), N_JOBS_PER_WORKER;
# runs execute in this process, as when the chart's queue is off (values.yaml:193-194).
# Not reproduced: the licensed script itself is not public; no license check
# (LANGGRAPH_CLOUD_LICENSE_KEY is ignored), no Postgres/Redis runtime, no migrations.
set -eu
. /storage/inmem_env.sh
exec uvicorn langgraph_api.server:app \
  --host "${LANGGRAPH_SERVER_HOST:-0.0.0.0}" --port "${PORT:-8000}" \
  --log-config /api/logging.json --no-access-log --no-server-header
