# syntax=docker/dockerfile:1
# The gitops-agent image: the agent (`gitops-agent run`) plus git and ssh for fetching repositories.
#
#   docker build -t gitops-agent:0.1.0 .
#
# Two stages: `build` turns the project (and its dependencies) into wheels; the final stage
# installs those wheels offline, so no build tool, pip cache or source tree reaches the image.
# Needs BuildKit (the default builder since Docker 23) for `RUN --mount`.
#
# The base is pinned by tag. For reproducible release builds pin the digest as well:
#   docker buildx imagetools inspect python:3.11.13-slim-bookworm   # prints "Digest: sha256:…"
#   FROM python:3.11.13-slim-bookworm@sha256:<digest>               # (in both stages)

FROM python:3.11.13-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gitops_agent ./gitops_agent
RUN pip wheel --wheel-dir /wheels .

FROM python:3.11.13-slim-bookworm
LABEL org.opencontainers.image.title="gitops-agent" \
      org.opencontainers.image.description="GitOps control plane for LangGraph agent servers on Kubernetes" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    GIT_TERMINAL_PROMPT=0
# Debian's versions are not pinned: bookworm's security updates replace them in place, and an old
# pin would stop building. The base image tag above is what pins the release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 gitops-agent \
    && useradd --system --uid 10001 --gid 10001 --home-dir /home/gitops-agent --create-home \
        --shell /usr/sbin/nologin gitops-agent \
    && install -d -o 10001 -g 10001 /var/cache/gitops-agent
# The wheels are bind-mounted from the build stage, not copied: they never become a layer (17 MB).
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels /wheels/gitops_agent-*.whl \
    && gitops-agent --version
WORKDIR /home/gitops-agent
# Numeric, so Kubernetes can check runAsNonRoot without looking the name up.
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["gitops-agent"]
CMD ["run"]
