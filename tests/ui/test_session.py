"""UI sessions and CSRF tokens: signed, expiring, bound to one token (pure logic, no cluster)."""

from __future__ import annotations

from gitops_agent.agent.http.session import COOKIE, SessionKeeper

TOKEN = "ui-token-0123456789abcdef"


def _headers(set_cookie: str) -> dict[str, str]:
    return {"Cookie": set_cookie.split(";", 1)[0]}


def test_a_session_round_trips_and_carries_its_csrf_token() -> None:
    keeper = SessionKeeper(TOKEN, minutes=10, clock=lambda: 1000.0)
    session, cookie = keeper.sign_in("Ada")
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Max-Age=600" in cookie and "Secure" not in cookie
    found = keeper.session(_headers(cookie))
    assert found == session and found.who == "Ada" and found.expires == 1600
    other = "1" if session.csrf.endswith("0") else "0"
    assert keeper.csrf_ok(found, session.csrf) and not keeper.csrf_ok(found, session.csrf[:-1] + other)


def test_expired_forged_or_foreign_cookies_are_no_session() -> None:
    now = [1000.0]
    keeper = SessionKeeper(TOKEN, minutes=1, clock=lambda: now[0])
    _, cookie = keeper.sign_in("Ada")
    body, _, signature = cookie.split(";", 1)[0].partition(".")
    assert keeper.session({"Cookie": f"{body}.{'0' * len(signature)}"}) is None  # forged signature
    assert keeper.session({"Cookie": f"{COOKIE}=garbage"}) is None
    assert keeper.session({}) is None
    other = SessionKeeper("another-token-0123456789", clock=lambda: now[0])
    assert other.session(_headers(cookie)) is None  # a new token ends every session
    now[0] = 1059.0
    assert keeper.session(_headers(cookie)) is not None
    now[0] = 1060.0
    assert keeper.session(_headers(cookie)) is None  # expired


def test_two_sessions_have_different_csrf_tokens_and_names_are_bounded() -> None:
    keeper = SessionKeeper(TOKEN, secure=True)
    first, cookie = keeper.sign_in("x" * 200)
    second, _ = keeper.sign_in("Ada")
    assert first.csrf != second.csrf and first.id != second.id
    assert len(first.who) == 64 and "Secure" in cookie
    assert keeper.sign_out_cookie().startswith(f"{COOKIE}=;") and "Max-Age=0" in keeper.sign_out_cookie()
    assert keeper.token_matches(TOKEN + "\n") and not keeper.token_matches(TOKEN[:-1])


def test_the_api_token_signs_in_next_to_a_ui_token_and_changing_either_ends_every_session() -> None:
    api = "api-token-0123456789abcdef"
    keeper = SessionKeeper(TOKEN, also=(api,), clock=lambda: 1000.0)
    assert keeper.token_matches(TOKEN) and keeper.token_matches(api + "\n")
    assert not keeper.token_matches("") and not keeper.token_matches(api[:-1])
    _, cookie = keeper.sign_in("Ada")
    assert keeper.session(_headers(cookie)) is not None
    rotated = SessionKeeper(TOKEN, also=("another-api-token-0123456789",), clock=lambda: 1000.0)
    assert rotated.session(_headers(cookie)) is None
