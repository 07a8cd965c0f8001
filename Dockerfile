# syntax=docker/dockerfile:1
# The gitops-agent image: the agent (`gitops-agent run`), kustomize, git and ssh for fetching, and
# ssh-keygen and gpg for verifying signed commits.
#
#   docker build -t gitops-agent:0.1.0 .            # or: podman build …
#
# Stages: `build` turns the project (and its dependencies) into wheels; `install` installs those
# wheels offline into a virtualenv at /opt/gitops-agent; the final stage copies only that virtualenv,
# so no build tool, wheel, pip cache or source tree reaches the image. Needs BuildKit (the default
# builder since Docker 23) or Buildah/Podman for `RUN --mount`.
#
# Build arguments (the defaults build from public images and the public package index):
#   BASE             the Python image both stages start from. Any Debian-like image with python3 and
#                    its venv module works; git, openssh-client, ca-certificates and gnupg are installed
#                    only when missing. (The tests use a Debian bookworm base made with mmdebstrap.)
#   PIP_OPTIONS      extra pip options for the build stage, e.g. an offline build from a wheelhouse
#                    in the context: --build-arg PIP_OPTIONS="--no-index --find-links /src/wheelhouse"
#                    (`pip wheel --wheel-dir wheelhouse . setuptools wheel` makes one).
#   KUSTOMIZE_IMAGE  where /app/kustomize comes from: by default the `kustomize-build` stage below
#                    (`go install` of kustomize's Go module); or the kustomize project's own image.
#
# The base is pinned by tag. For reproducible release builds pin the digest as well:
#   docker buildx imagetools inspect python:3.11.13-slim-bookworm   # prints "Digest: sha256:…"
#   --build-arg BASE=python:3.11.13-slim-bookworm@sha256:<digest>
ARG BASE=python:3.11.13-slim-bookworm
ARG KUSTOMIZE_IMAGE=kustomize-build

FROM golang:1.26.0-bookworm AS kustomize-build
ARG KUSTOMIZE_VERSION=v5.8.2
RUN CGO_ENABLED=0 GOBIN=/app go install -trimpath \
      -ldflags "-s -w -X sigs.k8s.io/kustomize/api/provenance.version=kustomize/${KUSTOMIZE_VERSION}" \
      "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}"

# hadolint ignore=DL3006
FROM ${KUSTOMIZE_IMAGE} AS kustomize

# hadolint ignore=DL3006
FROM ${BASE} AS build
ARG PIP_OPTIONS=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# The context is only pyproject.toml, README.md, gitops_agent/, schema/ and, when there is one, a
# wheelhouse/ (see .dockerignore); this stage is thrown away, so the copy never reaches the image.
COPY . .
# PIP_OPTIONS is split into words on purpose.
# hadolint ignore=SC2086
RUN python3 -m venv /opt/build \
    && /opt/build/bin/pip wheel ${PIP_OPTIONS} --wheel-dir /wheels .

# hadolint ignore=DL3006
FROM ${BASE} AS install
COPY --from=build /wheels /wheels
RUN python3 -m venv /opt/gitops-agent \
    && /opt/gitops-agent/bin/pip install --no-index --find-links=/wheels /wheels/gitops_agent-*.whl \
    && /opt/gitops-agent/bin/pip uninstall --yes pip \
    && /opt/gitops-agent/bin/gitops-agent --version

# hadolint ignore=DL3006
FROM ${BASE}
LABEL org.opencontainers.image.title="gitops-agent" \
      org.opencontainers.image.description="GitOps control plane for LangGraph agent servers on Kubernetes" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GIT_TERMINAL_PROMPT=0 \
    PATH=/opt/gitops-agent/bin:$PATH
# Debian's versions are not pinned: bookworm's security updates replace them in place, and an old
# pin would stop building. The base image is what pins the release.
# hadolint ignore=DL3008
RUN if ! command -v git >/dev/null || ! command -v ssh-keygen >/dev/null || ! command -v gpg >/dev/null \
        || [ ! -e /etc/ssl/certs/ca-certificates.crt ]; then \
      apt-get update \
      && apt-get install -y --no-install-recommends git openssh-client ca-certificates gnupg \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
    && groupadd --system --gid 10001 gitops-agent \
    && useradd --system --uid 10001 --gid 10001 --home-dir /home/gitops-agent --create-home \
        --shell /usr/sbin/nologin gitops-agent \
    && install -d -o 10001 -g 10001 /var/cache/gitops-agent
COPY --from=install /opt/gitops-agent /opt/gitops-agent
COPY --from=kustomize /app/kustomize /usr/local/bin/kustomize
WORKDIR /home/gitops-agent
# Numeric, so Kubernetes can check runAsNonRoot without looking the name up.
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["gitops-agent"]
CMD ["run"]
