# Sourced by /storage/entrypoint.sh and /storage/queue_entrypoint.sh: the in-memory runtime's
# settings, each only when the environment does not set it.
#   LANGGRAPH_RUNTIME_EDITION  read by langgraph_runtime/__init__.py:10 (langgraph-api wheel): which
#                              runtime package serves the server ("inmem": langgraph-runtime-inmem);
#                              "set by packaging/entrypoint" (langgraph_api/feature_flags.py:16).
#   MIGRATIONS_PATH            defaults to /storage/migrations, the licensed image's Postgres
#                              migrations (langgraph_api/config/__init__.py:57); "__inmem" selects
#                              the in-memory routes (langgraph_runtime/routes.py:4).
#   DATABASE_URI, REDIS_URI    required by the server's settings even for the in-memory runtime; the
#                              values are placeholders (`langgraph dev` passes the same kind,
#                              langgraph_api/cli.py:263-265). POSTGRES_URI (the chart's) is ignored:
#                              state lives in the process and is lost when it stops.
export LANGGRAPH_RUNTIME_EDITION="${LANGGRAPH_RUNTIME_EDITION:-inmem}"
export MIGRATIONS_PATH="${MIGRATIONS_PATH:-__inmem}"
export DATABASE_URI="${DATABASE_URI:-:memory:}"
export REDIS_URI="${REDIS_URI:-fake}"
export LANGGRAPH_DISABLE_FILE_PERSISTENCE="${LANGGRAPH_DISABLE_FILE_PERSISTENCE:-true}"
