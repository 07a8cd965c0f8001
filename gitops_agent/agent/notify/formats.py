"""How each service wants a notice: the request to send (pure functions, one per documented contract).

- Slack incoming webhooks: POST JSON `{"text": …, "blocks": […]}` (text is the fallback for
  notifications; blocks use `mrkdwn`), answered `200 ok`.
- Microsoft Teams workflow webhooks ("When a Teams webhook request is received"): POST a message
  whose `attachments` hold an Adaptive Card (`application/vnd.microsoft.card.adaptive`), answered
  `202 Accepted`.
- generic: POST our JSON, signed like the agent's inbound generic webhook:
  `X-Gitops-Agent-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`,
  `X-Gitops-Agent-Timestamp`, `X-Gitops-Agent-Delivery` — so a receiver can verify with the same code.
- Commit statuses: GitHub `POST /repos/{owner}/{repo}/statuses/{sha}` (Bearer token, states
  pending/success/failure/error, description ≤ 140 characters); GitLab
  `POST /api/v4/projects/{id}/statuses/{sha}` (`PRIVATE-TOKEN`, states pending/running/success/
  failed/canceled, `name`); Gitea/Forgejo `POST /api/v1/repos/{owner}/{repo}/statuses/{sha}`
  (`Authorization: token …`, states pending/success/error/failure/warning).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from gitops_agent.agent.notify.notice import Notice, Severity

_ICONS = {Severity.INFO: "✅", Severity.WARNING: "⚠️", Severity.ERROR: "❌"}
DESCRIPTION_LIMIT = 140
"""GitHub rejects longer commit status descriptions; the others accept them but show one line."""


@dataclass(frozen=True)
class Request:
    """One HTTP request to make (its URL and headers may hold credentials: never logged)."""

    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"


def _json(data: object) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _markdown(notice: Notice) -> str:
    """Slack mrkdwn and Teams' TextBlock markdown agree on *bold*, `code` and links."""
    lines = [f"{_ICONS[notice.severity]} *{notice.title}*"]
    if notice.commit:
        commit = (
            f"<{notice.commit_url}|{notice.short_commit}>"
            if notice.commit_url
            else f"`{notice.short_commit}`"
        )
        lines.append(f"commit {commit}" + (f" by {notice.author}" if notice.author else ""))
    if notice.reason:
        lines.append(notice.reason)
    return "\n".join(lines)


def slack(url: str, notice: Notice) -> Request:
    blocks: list[dict[str, object]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _markdown(notice)}}
    ]
    if notice.status_url:
        link = f"<{notice.status_url}|status page>"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": link}]})
    body = {"text": notice.text(), "blocks": blocks}
    return Request(url, _json(body), {"Content-Type": "application/json"})


def teams(url: str, notice: Notice) -> Request:
    facts = [{"title": "Event", "value": notice.event.value}]
    if notice.deployment:
        facts.append({"title": "Deployment", "value": notice.deployment})
    if notice.revision is not None:
        facts.append({"title": "Revision", "value": str(notice.revision)})
    if notice.commit:
        commit = f"[{notice.short_commit}]({notice.commit_url})" if notice.commit_url else notice.short_commit
        facts.append({"title": "Commit", "value": commit})
    if notice.author:
        facts.append({"title": "Author", "value": notice.author})
    color = {Severity.INFO: "Good", Severity.WARNING: "Warning", Severity.ERROR: "Attention"}[notice.severity]
    body: list[dict[str, object]] = [
        {"type": "TextBlock", "text": notice.title, "weight": "Bolder", "size": "Medium", "color": color},
        {"type": "FactSet", "facts": facts},
    ]
    if notice.reason:
        body.append({"type": "TextBlock", "text": notice.reason, "wrap": True})
    card: dict[str, object] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if notice.status_url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Status page", "url": notice.status_url}]
    message = {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }
    return Request(url, _json(message), {"Content-Type": "application/json"})


def generic(url: str, secret: bytes | None, notice: Notice, *, now: float | None = None) -> Request:
    body = _json(
        {
            "event": notice.event.value,
            "severity": notice.severity.name.lower(),
            "deployment": notice.deployment,
            "revision": notice.revision,
            "commit": notice.commit or None,
            "commitUrl": notice.commit_url or None,
            "author": notice.author or None,
            "reason": notice.reason,
            "statusUrl": notice.status_url or None,
            "text": notice.text(),
        }
    )
    stamp = str(int(now if now is not None else time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Gitops-Agent-Timestamp": stamp,
        "X-Gitops-Agent-Delivery": str(uuid.uuid4()),
    }
    if secret:
        digest = hmac.new(secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers["X-Gitops-Agent-Signature"] = f"sha256={digest}"
    return Request(url, body, headers)


# -- commit statuses -----------------------------------------------------------------------------


class CommitState(StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    FAILURE = "failure"


@dataclass(frozen=True)
class CommitStatus:
    """One status for one commit: `context` is `gitops-agent/<deployment>`."""

    commit: str
    state: CommitState
    context: str
    description: str
    target_url: str = ""

    @property
    def short_description(self) -> str:
        text = " ".join(self.description.split())
        return text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 1] + "…"


def _status_body(status: CommitStatus, *, state: str, name_field: str = "context") -> bytes:
    body = {"state": state, name_field: status.context, "description": status.short_description}
    if status.target_url:
        body["target_url"] = status.target_url
    return _json(body)


def github_status(api: str, repository: str, token: str, status: CommitStatus) -> Request:
    return Request(
        f"{api.rstrip('/')}/repos/{repository}/statuses/{status.commit}",
        _status_body(status, state=status.state.value),
        {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {token}",
            "X-GitHub-Api-Version": "2022-11-28",
            "Content-Type": "application/json",
        },
    )


_GITLAB_STATES = {
    CommitState.PENDING: "running",
    CommitState.SUCCESS: "success",
    CommitState.FAILURE: "failed",
}


def gitlab_status(api: str, repository: str, token: str, status: CommitStatus) -> Request:
    project = urllib.parse.quote(repository, safe="")
    return Request(
        f"{api.rstrip('/')}/api/v4/projects/{project}/statuses/{status.commit}",
        _status_body(status, state=_GITLAB_STATES[status.state], name_field="name"),
        {"PRIVATE-TOKEN": token, "Content-Type": "application/json"},
    )


def gitea_status(api: str, repository: str, token: str, status: CommitStatus) -> Request:
    return Request(
        f"{api.rstrip('/')}/api/v1/repos/{repository}/statuses/{status.commit}",
        _status_body(status, state=status.state.value),
        {"Authorization": f"token {token}", "Content-Type": "application/json"},
    )


STATUS_FORMATS = {"github": github_status, "gitlab": gitlab_status, "gitea": gitea_status}


def default_api(forge: str, host: str) -> str:
    """The API base of a forge at `host`: api.github.com (or GitHub Enterprise's /api/v3), else the host."""
    if forge == "github":
        return "https://api.github.com" if host == "github.com" else f"https://{host}/api/v3"
    return f"https://{host}"
