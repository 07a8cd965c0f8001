#!/bin/sh
# The queue worker the chart starts with `command: ["/storage/queue_entrypoint.sh"]` (langchain-ai/
# helm charts/langgraph-cloud/templates/queue/deployment.yaml:55-59, PORT from values.yaml:196),
# probed with GET /ok on that port (values.yaml:222-240). langgraph-api ships the worker itself:
# langgraph_api/queue_entrypoint.py runs the runtime's lifespan without the cron scheduler
# (queue_entrypoint.py:190-198) and serves /ok and /metrics on $PORT (queue_entrypoint.py:77,
# 109-112) once the worker has started.
# Not reproduced: with the in-memory runtime a separate worker shares no queue with the API server
# (the licensed image's queue reads runs from Postgres/Redis), so it answers /ok but runs nothing
# the API server accepted; the API server runs its own runs.
set -eu
. /storage/inmem_env.sh
exec python -m langgraph_api.queue_entrypoint
