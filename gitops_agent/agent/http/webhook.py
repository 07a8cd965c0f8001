"""Push webhooks: verify who sent them, then say which branch moved.

Supported senders and how each proves itself:
- GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`, delivery id `X-GitHub-Delivery`;
- Gitea/Forgejo: `X-Gitea-Signature: <hex HMAC-SHA256>`, delivery id `X-Gitea-Delivery`;
- GitLab: `X-Gitlab-Token: <the secret>` (a shared token, compared in constant time), `X-Gitlab-Event-UUID`;
- generic: `X-Gitops-Agent-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` with
  `X-Gitops-Agent-Timestamp` (unix seconds, at most 5 minutes old) and an optional delivery id.
A delivery id seen before is a replay and is rejected; so is a body over the size limit. Pure
functions: the HTTP server feeds them headers and bytes.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

MAX_BODY_BYTES = 1024 * 1024
GENERIC_MAX_AGE_SECONDS = 300
REPLAY_MEMORY = 4096


class Verdict(enum.StrEnum):
    """How the server answers."""

    ACCEPTED = "accepted"  # 202, sync triggered
    IGNORED = "ignored"  # 202, a push to another branch, or not a push
    UNAUTHORIZED = "unauthorized"  # 401
    REPLAYED = "replayed"  # 409
    TOO_LARGE = "too_large"  # 413
    BAD_REQUEST = "bad_request"  # 400


@dataclass(frozen=True)
class WebhookResult:
    verdict: Verdict
    provider: str
    ref: str = ""
    commit: str = ""
    detail: str = ""


def _hmac_hex(secret: bytes, payload: bytes) -> str:
    return hmac.new(secret, payload, hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str:
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), "")


def detect_provider(headers: Mapping[str, str]) -> str:
    if _header(headers, "X-Gitea-Signature") or _header(headers, "X-Gitea-Event"):
        return "gitea"
    if _header(headers, "X-Hub-Signature-256") or _header(headers, "X-GitHub-Event"):
        return "github"
    if _header(headers, "X-Gitlab-Token") or _header(headers, "X-Gitlab-Event"):
        return "gitlab"
    return "generic"


def authentic(provider: str, headers: Mapping[str, str], body: bytes, secret: bytes, *, now: float) -> bool:
    """True when the request carries a valid signature (or token) for `secret`."""
    if provider == "github":
        expected = "sha256=" + _hmac_hex(secret, body)
        return hmac.compare_digest(_header(headers, "X-Hub-Signature-256"), expected)
    if provider == "gitea":
        return hmac.compare_digest(_header(headers, "X-Gitea-Signature"), _hmac_hex(secret, body))
    if provider == "gitlab":
        return hmac.compare_digest(_header(headers, "X-Gitlab-Token").encode(), secret)
    stamp = _header(headers, "X-Gitops-Agent-Timestamp")
    if not stamp.isdigit() or abs(now - int(stamp)) > GENERIC_MAX_AGE_SECONDS:
        return False
    expected = "sha256=" + _hmac_hex(secret, stamp.encode() + b"." + body)
    return hmac.compare_digest(_header(headers, "X-Gitops-Agent-Signature"), expected)


def delivery_id(provider: str, headers: Mapping[str, str]) -> str:
    name = {"github": "X-GitHub-Delivery", "gitea": "X-Gitea-Delivery", "gitlab": "X-Gitlab-Event-UUID"}
    return _header(headers, name.get(provider, "X-Gitops-Agent-Delivery"))


def push_ref(body: bytes) -> tuple[str, str]:
    """(ref, after-commit) of a push payload (the field names all four senders share)."""
    try:
        payload = json.loads(body or b"{}")
    except RecursionError as err:  # a signed but absurd body: a 400 like any other bad JSON
        raise ValueError("payload is nested too deeply") from err
    if not isinstance(payload, dict):
        raise ValueError("payload is not a JSON object")
    return str(payload.get("ref", "")), str(payload.get("after", payload.get("checkout_sha", "")) or "")


class WebhookVerifier:
    """Holds the secret and the replay memory; `check` is the whole decision for one request."""

    def __init__(self, secret: bytes, *, branch: str) -> None:
        if not secret:
            raise ValueError("a webhook secret is required")
        self._secret = secret
        self._branch = branch
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, headers: Mapping[str, str], body: bytes, *, now: float | None = None) -> WebhookResult:
        provider = detect_provider(headers)
        if len(body) > MAX_BODY_BYTES:
            return WebhookResult(Verdict.TOO_LARGE, provider, detail=f"body over {MAX_BODY_BYTES} bytes")
        if not authentic(provider, headers, body, self._secret, now=time.time() if now is None else now):
            return WebhookResult(Verdict.UNAUTHORIZED, provider, detail="invalid or missing signature")
        if not self._first_delivery(delivery_id(provider, headers)):
            return WebhookResult(Verdict.REPLAYED, provider, detail="delivery already processed")
        try:
            ref, commit = push_ref(body)
        except ValueError as err:
            return WebhookResult(Verdict.BAD_REQUEST, provider, detail=f"invalid JSON: {err}")
        if ref and ref not in (self._branch, f"refs/heads/{self._branch}"):
            return WebhookResult(
                Verdict.IGNORED, provider, ref, commit, detail=f"push to {ref}, watching {self._branch}"
            )
        return WebhookResult(Verdict.ACCEPTED, provider, ref, commit)

    def _first_delivery(self, delivery: str) -> bool:
        if not delivery:
            return True
        with self._lock:
            if delivery in self._seen:
                return False
            self._seen[delivery] = None
            if len(self._seen) > REPLAY_MEMORY:
                self._seen.popitem(last=False)
        return True
