"""UI sessions: a signed cookie in exchange for the UI token (or the API token), and a CSRF token.

A session is stateless, so every replica behind the chart's Service accepts it and a restart does
not sign anybody out: the cookie carries who signed in, when it expires and a random id, signed with
HMAC-SHA256 under a key derived from the tokens that sign in (the UI token and the API token:
changing either ends every session). The CSRF token of a session is an HMAC of its id under the same
key: forms carry it in a hidden field, and a write without it (or with an expired session) is
refused with 403 before anything is read from Git.

The cookie is HttpOnly and SameSite=Strict (a cross-site form post does not carry it at all), and
Secure when the operator says the UI is served over TLS (`--ui-secure-cookie`: TLS usually ends at
the ingress, which the agent cannot see). Signing out clears the cookie; a copied cookie stays
valid until it expires (`--ui-session-minutes`), which is the price of statelessness and is
documented.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie

COOKIE = "gitops_agent_session"
DEFAULT_SESSION_MINUTES = 480
MAX_NAME = 64


@dataclass(frozen=True)
class Session:
    """A signed-in browser: who (the name given at sign-in), until when, and its CSRF token."""

    who: str
    expires: float
    id: str
    csrf: str


@dataclass(frozen=True)
class SessionKeeper:
    """Issues and checks session cookies for one UI token."""

    token: str = field(repr=False)
    minutes: int = DEFAULT_SESSION_MINUTES
    secure: bool = False
    clock: Callable[[], float] = time.time
    also: tuple[str, ...] = field(default=(), repr=False)
    """Other tokens that sign in (the API token next to a UI token); the session key is derived from
    all of them."""

    @property
    def _key(self) -> bytes:
        secret = "\x00".join((self.token, *self.also)).encode()  # changing any token ends every session
        return hmac.new(secret, b"gitops-agent ui session key", hashlib.sha256).digest()

    def token_matches(self, given: str) -> bool:
        """`given` is one of the tokens (each compared in constant time, all of them every time)."""
        offered = given.strip().encode()
        matches = [hmac.compare_digest(offered, token.encode()) for token in (self.token, *self.also)]
        return any(matches)

    def sign_in(self, who: str) -> tuple[Session, str]:
        """A new session and the Set-Cookie header value that carries it."""
        payload = {
            "who": who[:MAX_NAME],
            "exp": int(self.clock() + self.minutes * 60),
            "id": secrets.token_hex(16),
        }
        body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()
        value = f"{body}.{self._sign(body)}"
        session = Session(payload["who"], payload["exp"], payload["id"], self._csrf(payload["id"]))  # type: ignore[arg-type]
        return session, self._cookie(value, max_age=self.minutes * 60)

    def sign_out_cookie(self) -> str:
        return self._cookie("", max_age=0)

    def session(self, headers: Mapping[str, str]) -> Session | None:
        """The request's session, or None (no cookie, a forged or expired one)."""
        value = _cookie_value(headers)
        body, _, signature = value.partition(".")
        if not body or not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(body.encode()))
            who, expires, sid = str(payload["who"]), float(payload["exp"]), str(payload["id"])
        except (ValueError, KeyError, TypeError):
            return None
        if expires <= self.clock():
            return None
        return Session(who, expires, sid, self._csrf(sid))

    def csrf_ok(self, session: Session, given: str) -> bool:
        return hmac.compare_digest(given.encode(), session.csrf.encode())

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()

    def _csrf(self, sid: str) -> str:
        return hmac.new(self._key, f"csrf:{sid}".encode(), hashlib.sha256).hexdigest()[:40]

    def _cookie(self, value: str, *, max_age: int) -> str:
        parts = [f"{COOKIE}={value}", "Path=/", "HttpOnly", "SameSite=Strict", f"Max-Age={max_age}"]
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)


def _cookie_value(headers: Mapping[str, str]) -> str:
    raw = next((v for k, v in headers.items() if k.lower() == "cookie"), "")
    try:
        jar: SimpleCookie = SimpleCookie(raw)
    except CookieError:
        return ""
    morsel = jar.get(COOKIE)
    return morsel.value if morsel else ""


__all__ = ["COOKIE", "DEFAULT_SESSION_MINUTES", "Session", "SessionKeeper"]
