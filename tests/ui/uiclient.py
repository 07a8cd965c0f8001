"""A browser-less UI client for the security tests: form posts with cookies over a real socket."""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from email.message import Message

UI_TOKEN = "test-ui-token-0123456789abcdef"
_CSRF = re.compile(r"name='csrf' value='([0-9a-f]+)'")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


@dataclass
class Reply:
    status: int
    body: str
    headers: Message

    @property
    def csrf(self) -> str:
        found = _CSRF.search(self.body)
        assert found, "the page has no CSRF field"
        return found.group(1)


@dataclass
class UiClient:
    """One browser: its cookie, requests that do not follow redirects."""

    base: str
    cookie: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    def get(self, path: str) -> Reply:
        return self._send(urllib.request.Request(self.base + path, headers=self._headers()))

    def post(self, path: str, form: dict[str, str], **headers: str) -> Reply:
        data = urllib.parse.urlencode(form).encode()
        request = urllib.request.Request(
            self.base + path,
            data=data,
            headers={**self._headers(), "Content-Type": "application/x-www-form-urlencoded", **headers},
            method="POST",
        )
        return self._send(request)

    def sign_in(self, token: str = UI_TOKEN, name: str = "tester") -> Reply:
        reply = self.post("/sign-in", {"token": token, "name": name})
        set_cookie = reply.headers.get("Set-Cookie", "")
        if set_cookie:
            self.cookie = set_cookie.split(";", 1)[0]
        return reply

    def _headers(self) -> dict[str, str]:
        return {**self.headers, **({"Cookie": self.cookie} if self.cookie else {})}

    def _send(self, request: urllib.request.Request) -> Reply:
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(request, timeout=30) as response:
                return Reply(response.status, response.read().decode(), response.headers)
        except urllib.error.HTTPError as err:
            return Reply(err.code, err.read().decode(), err.headers)
