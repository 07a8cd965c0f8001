"""`--notify-config FILE`: where notifications and commit statuses go.

```yaml
statusPageUrl: https://agents.example.com/gitops/     # linked from messages and commit statuses
notifications:
  - name: platform-slack            # names the target in logs and metrics (never the URL)
    type: slack                     # slack | teams | generic
    urlFile: /etc/gitops-agent/notify/platform-slack/url
    secretFile: …                   # generic only: the HMAC-SHA256 key (optional)
    minSeverity: info               # info | warning | error (default info)
    deployments: ["support-*"]      # fnmatch patterns (default: all); agent-wide messages always go
commitStatus:
  provider: github                  # github | gitlab | gitea (Forgejo too)
  tokenFile: /etc/gitops-agent/notify/forge/token
  apiUrl: ""                        # default: from the repository URL (api.github.com, https://<host>)
  repository: ""                    # owner/name (GitLab: the project path); default: from the URL
```

Webhook URLs and tokens are credentials, so the file only says where they are (files, i.e. mounted
Secrets); they are read when a message is sent (a rotated Secret takes effect without a restart).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitops_agent.agent.notify.notice import Severity
from gitops_agent.core.errors import ConfigError

SINK_TYPES = ("slack", "teams", "generic")
FORGES = ("github", "gitlab", "gitea")


@dataclass(frozen=True)
class SinkConfig:
    name: str
    type: str
    url_file: Path
    secret_file: Path | None = None
    min_severity: Severity = Severity.INFO
    deployments: tuple[str, ...] = ("*",)

    def wants(self, severity: Severity, deployment: str | None) -> bool:
        if severity < self.min_severity:
            return False
        return deployment is None or any(fnmatch.fnmatchcase(deployment, p) for p in self.deployments)


@dataclass(frozen=True)
class CommitStatusConfig:
    provider: str
    token_file: Path
    api_url: str = ""
    repository: str = ""


@dataclass(frozen=True)
class NotifyConfig:
    sinks: tuple[SinkConfig, ...] = ()
    commit_status: CommitStatusConfig | None = None
    status_page_url: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.sinks or self.commit_status)


def load_notify_config(path: Path) -> NotifyConfig:
    """Read and check the file; every mistake is a ConfigError naming the file and the field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot read notification settings: {err}") from err
    where = _Where(str(path))
    where.mapping(data, "", {"statusPageUrl", "notifications", "commitStatus"})
    entries = data.get("notifications") or []
    if not isinstance(entries, list):
        raise where.error("notifications", "must be a list")
    sinks = tuple(_sink(where, f"notifications[{i}]", entry) for i, entry in enumerate(entries))
    names = [s.name for s in sinks]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise where.error("notifications", f"two targets are named {duplicate!r}")
    status = data.get("commitStatus")
    return NotifyConfig(
        sinks,
        _commit_status(where, status) if status else None,
        where.string(data, "", "statusPageUrl"),
    )


class _Where:
    def __init__(self, file: str) -> None:
        self.file = file

    def error(self, field: str, message: str) -> ConfigError:
        return ConfigError(f"{self.file}: {field}: {message}")

    def mapping(self, data: Any, field: str, allowed: set[str]) -> None:
        if not isinstance(data, dict):
            raise self.error(field or "(top level)", "must be a mapping")
        unknown = sorted(set(data) - allowed)
        if unknown:
            known = ", ".join(sorted(allowed))
            raise self.error(
                f"{field}.{unknown[0]}" if field else unknown[0], f"unknown field; known: {known}"
            )

    def string(self, data: dict[str, Any], field: str, key: str, *, required: bool = False) -> str:
        value = data.get(key, "")
        name = f"{field}.{key}" if field else key
        if not isinstance(value, str):
            raise self.error(name, "must be a string")
        if required and not value:
            raise self.error(name, "is required")
        return value


def _sink(where: _Where, field: str, entry: Any) -> SinkConfig:
    allowed = {"name", "type", "urlFile", "secretFile", "minSeverity", "deployments"}
    where.mapping(entry, field, allowed)
    kind = where.string(entry, field, "type", required=True)
    if kind not in SINK_TYPES:
        raise where.error(f"{field}.type", f"{kind!r} is not one of {', '.join(SINK_TYPES)}")
    secret = where.string(entry, field, "secretFile")
    if secret and kind != "generic":
        raise where.error(f"{field}.secretFile", "only the generic webhook is signed")
    try:
        severity = Severity.parse(where.string(entry, field, "minSeverity") or "info")
    except ValueError as err:
        raise where.error(f"{field}.minSeverity", str(err)) from None
    patterns = entry.get("deployments", ["*"])
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns) or not patterns:
        raise where.error(f"{field}.deployments", "must be a non-empty list of name patterns")
    return SinkConfig(
        where.string(entry, field, "name") or kind,
        kind,
        Path(where.string(entry, field, "urlFile", required=True)),
        Path(secret) if secret else None,
        severity,
        tuple(patterns),
    )


def _commit_status(where: _Where, data: Any) -> CommitStatusConfig:
    where.mapping(data, "commitStatus", {"provider", "tokenFile", "apiUrl", "repository"})
    provider = where.string(data, "commitStatus", "provider", required=True)
    if provider not in FORGES:
        raise where.error("commitStatus.provider", f"{provider!r} is not one of {', '.join(FORGES)}")
    return CommitStatusConfig(
        provider,
        Path(where.string(data, "commitStatus", "tokenFile", required=True)),
        where.string(data, "commitStatus", "apiUrl"),
        where.string(data, "commitStatus", "repository"),
    )
