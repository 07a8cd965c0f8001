#!/usr/bin/env bash
# Prepare a machine for the tests and the demo; idempotent and quick when everything is in place.
#   - Debian packages the project needs (only when missing; needs root or sudo);
#   - a Python virtualenv in .venv with the package and its dev extra (re-installed when
#     pyproject.toml changes);
#   - the Go-built local cluster binaries (hack/build-k8s.sh; cached outside the repo).
# Sourced by hack/test.sh and hack/demo.sh; run it directly to just set up.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

say() { printf '[setup] %s\n' "$*" >&2; }

# chromium + chromium-driver: the status page is tested in headless Chromium (Selenium).
# podman + runc + mmdebstrap (+ uidmap): the agent image is built from a Debian base and run
# (tests/install; base images cannot be pulled from public registries here).
# podman-docker: a `docker` command for `langgraph build` (tests/dataplane).
APT_PACKAGES=(git openssh-client ca-certificates chromium chromium-driver podman runc mmdebstrap uidmap podman-docker)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  sudo_cmd=""; [[ $(id -u) -eq 0 ]] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
  say "Debian packages installed in ${SECONDS}s"
fi

PYTHON="${PYTHON:-python3}"
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [[ ! -f "$stamp" ]]; then
  say "creating .venv and installing gitops-agent[dev]"
  pip_start=$SECONDS
  [[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
  log=.venv/pip-install.log
  if ! { .venv/bin/python -m pip install --upgrade pip && .venv/bin/python -m pip install -e '.[dev]'; } >"$log" 2>&1; then
    tail -30 "$log" >&2; say "pip install failed (full log: $log)"; exit 1
  fi
  rm -f .venv/.installed-*
  touch "$stamp"
  say ".venv ready in $((SECONDS - pip_start))s"
fi

bash hack/build-k8s.sh >/dev/null
