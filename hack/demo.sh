#!/usr/bin/env bash
# The main job (README): set up what is missing, then run the demo: a local Kubernetes cluster
# built from Go modules, with the agent syncing sample-repo/ into it. Extra arguments go to
# `gitops-agent demo`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash hack/setup.sh
exec .venv/bin/gitops-agent demo "$@"
