#!/usr/bin/env bash
# The test command (README, CI): set up what is missing, then lint, type-check and run every test
# against a real local Kubernetes cluster. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash hack/setup.sh
echo "[test] ruff" >&2
.venv/bin/ruff check gitops_agent tests bench hack
.venv/bin/ruff format --check gitops_agent tests bench hack
echo "[test] mypy --strict" >&2
.venv/bin/mypy
echo "[test] import contract (lint-imports)" >&2
.venv/bin/lint-imports
echo "[test] pytest" >&2
exec .venv/bin/pytest "$@"
