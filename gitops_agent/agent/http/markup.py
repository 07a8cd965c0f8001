"""What every page of the agent shares: the stylesheet, the frame, escaping and small cells.

Everything that comes from the repository or the cluster — names, commit messages, authors, errors,
file names, diffs, Events, logs — goes through `e` (HTML-escaped, quotes included) before it is
written, so a commit message with `<script>` shows as text. State badges use a CSS class picked from a
fixed table, never the raw state. The stylesheet is a file (`/static/ui.css`), so the pages'
Content-Security-Policy allows no inline style or script at all (CSP below).
"""

from __future__ import annotations

import html
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from gitops_agent.engine.diff import Action
from gitops_agent.engine.health import Health
from gitops_agent.reconcile.sync import SyncState
from gitops_agent.state.inventory import RevisionState

STYLESHEET_PATH = "/static/ui.css"
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
"""No script, no inline style, forms post only here, never framed (clickjacking)."""

TONES: dict[str, str] = {
    SyncState.SYNCED: "ok",
    Health.HEALTHY: "ok",
    RevisionState.DEPLOYED: "ok",
    Action.CREATE: "ok",
    SyncState.OUT_OF_SYNC: "warn",
    SyncState.SUSPENDED: "muted",
    Health.PROGRESSING: "info",
    Action.UPDATE: "info",
    RevisionState.SUPERSEDED: "muted",
    Action.UNCHANGED: "muted",
    Health.MISSING: "muted",
    Health.UNKNOWN: "muted",
    Action.SKIPPED: "warn",
    SyncState.FAILED: "bad",
    RevisionState.DEPLOY_FAILED: "bad",
    RevisionState.QUEUED: "info",
    RevisionState.DEPLOYING: "info",
    RevisionState.SKIPPED: "muted",
    Health.DEGRADED: "bad",
    Action.PRUNE: "bad",
    Health.ROLLED_BACK: "back",
    RevisionState.ROLLED_BACK: "back",
    "Running": "ok",
    "Succeeded": "muted",
    "Pending": "info",
    "Terminating": "muted",
    "Warning": "bad",
    "Normal": "muted",
}

STYLESHEET = """
:root{--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--bg:#f6f8fa;--link:#0969da}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg)}
header{background:#24292f;color:#fff;padding:12px 24px;display:flex;gap:16px;align-items:baseline;
flex-wrap:wrap}
header h1{font-size:18px;margin:0}header h1 a{color:#fff;text-decoration:none}
header .meta{color:#c9d1d9;font-size:13px}
main{padding:16px 24px;max-width:1400px}
a{color:var(--link)}
h2{font-size:16px;margin:24px 0 8px}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--bg);font-weight:600;font-size:13px;white-space:nowrap}
tr.current td{background:#f0f7ff}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.muted{color:var(--muted)}
.small{font-size:12px}
.msg{display:block;color:var(--muted);font-size:12px;max-width:36em;white-space:nowrap;overflow:hidden;
text-overflow:ellipsis}
.err{color:#b42318;white-space:pre-wrap;word-break:break-word}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;
white-space:nowrap;border:1px solid transparent}
.badge.ok{background:#dafbe1;color:#116329;border-color:#aceebb}
.badge.warn{background:#fff8c5;color:#7d4e00;border-color:#f5e08f}
.badge.info{background:#ddf4ff;color:#0550ae;border-color:#b6e3ff}
.badge.bad{background:#ffebe9;color:#a40e26;border-color:#ffcecb}
.badge.back{background:#fbefff;color:#8250df;border-color:#ecd8ff}
.badge.muted{background:#eaeef2;color:#57606a;border-color:#d0d7de}
.box{border:1px solid var(--line);border-radius:6px;padding:10px 14px;margin:12px 0;background:#fff}
.box.alert{border-color:#ffcecb;background:#fff5f5}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}
dt{color:var(--muted)}dd{margin:0;word-break:break-word}
pre{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:10px;overflow:auto;
margin:0;white-space:pre-wrap;word-break:break-word}
pre.diff{white-space:pre}
.add{color:#116329;background:#e6ffec;display:block}.del{color:#a40e26;background:#ffebe9;display:block}
.hunk{color:#8250df;display:block}
footer{padding:8px 24px 24px;color:var(--muted);font-size:12px}
nav.user{margin-left:auto;display:flex;gap:12px;align-items:center;color:#c9d1d9;font-size:13px}
nav.user a{color:#fff}
.inline{display:inline;margin:0}
button,.button{font:inherit;font-size:13px;padding:4px 12px;border-radius:6px;border:1px solid var(--line);
background:var(--bg);color:var(--fg);cursor:pointer;text-decoration:none;display:inline-block}
button.primary,.button.primary{background:#1f883d;border-color:#1a7f37;color:#fff}
button.danger{background:#fff;color:#a40e26;border-color:#ffcecb}
nav.user button{background:transparent;color:#fff;border-color:#57606a}
.actions{display:flex;flex-wrap:wrap;gap:8px;margin:12px 0}
.flash{border:1px solid #aceebb;background:#dafbe1;border-radius:6px;padding:10px 14px;margin:12px 0}
form.card{max-width:760px}
fieldset{border:1px solid var(--line);border-radius:6px;margin:0 0 12px;padding:8px 14px 12px}
legend{font-weight:600;padding:0 4px}
label{display:block;font-weight:600;font-size:13px;margin:8px 0 2px}
label .hint{font-weight:400;color:var(--muted)}
input[type=text],input[type=number],input[type=password],select,textarea{font:inherit;width:100%;
padding:5px 8px;border:1px solid var(--line);border-radius:6px;background:#fff}
input.mono,textarea{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.row{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:0 16px}
label.check{font-weight:400;display:flex;gap:6px;align-items:center}
.invalid input,.invalid select,.invalid textarea{border-color:#cf222e;background:#fff5f5}
.field-error{color:#b42318;font-size:12.5px;margin-top:2px;white-space:pre-wrap}
pre.log{max-height:70vh}
.scroll{overflow-x:auto}
@media (max-width:900px){main{padding:12px}header{padding:10px 12px}td,th{padding:5px 6px}
#deployments th:nth-child(7),#deployments td:nth-child(7),#deployments th:nth-child(8),
#deployments td:nth-child(8){display:none}.msg{max-width:14em}.change{max-width:16em}
.err{word-break:break-word}}
"""


@dataclass(frozen=True)
class Chrome:
    """What the frame of a page shows about the viewer: who is signed in, and their CSRF token."""

    who: str | None = None
    csrf: str = ""
    sign_in: bool = False
    """Offer a sign-in link (the UI can write, nobody is signed in)."""

    @property
    def writes(self) -> bool:
        return self.who is not None


def document(title: str, body: str, chrome: Chrome, *, refresh: int | None = None, header: str = "") -> str:
    """A whole page: head, the dark header (with the viewer), `body`, and the footer."""
    meta = f"<span class='meta'>{header}</span>" if header else ""
    refresh_tag = f"<meta http-equiv='refresh' content='{refresh}'>" if refresh else ""
    footer = f"Refreshes every {refresh} s · " if refresh else ""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"{refresh_tag}<title>{e(title)}</title><link rel='stylesheet' href='{STYLESHEET_PATH}'></head><body>"
        f"<header><h1><a href='/'>gitops-agent</a></h1>{meta}{_viewer(chrome)}</header><main>{body}</main>"
        f"<footer>{footer}<a href='/api/v1/deployments'>/api/v1/deployments</a> · "
        "<a href='/metrics'>/metrics</a></footer></body></html>"
    )


def _viewer(chrome: Chrome) -> str:
    if chrome.who is not None:
        return (
            f"<nav class='user'><span id='signed-in'>{e(chrome.who)}</span>"
            f"<form class='inline' method='post' action='/sign-out'>{csrf_field(chrome)}"
            "<button type='submit' id='sign-out'>Sign out</button></form></nav>"
        )
    if chrome.sign_in:
        return "<nav class='user'><a href='/sign-in' id='sign-in'>Sign in</a></nav>"
    return ""


def csrf_field(chrome: Chrome) -> str:
    return f"<input type='hidden' name='csrf' value='{e(chrome.csrf)}'>"


def post_button(
    action: str,
    label: str,
    chrome: Chrome,
    *,
    css: str = "",
    fields: dict[str, str] | None = None,
    button_id: str = "",
) -> str:
    """A one-button form that posts to `action` (with the CSRF token and hidden `fields`)."""
    hidden = "".join(f"<input type='hidden' name='{e(k)}' value='{e(v)}'>" for k, v in (fields or {}).items())
    ident = f" id='{e(button_id)}'" if button_id else ""
    klass = f" class='{css}'" if css else ""
    return (
        f"<form class='inline' method='post' action='{e(action)}'>{csrf_field(chrome)}{hidden}"
        f"<button type='submit'{klass}{ident}>{e(label)}</button></form>"
    )


def diff_lines(diff: str) -> str:
    """A unified diff, escaped, its lines coloured by what they do (for a `<pre class='diff'>`)."""
    lines = []
    for line in diff.splitlines():
        css = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "")
        if line.startswith(("+++", "---")):
            css = "hunk"
        escaped = e(line) or " "
        lines.append(f"<span class='{css}'>{escaped}</span>" if css else escaped + "\n")
    return "".join(lines)


def e(value: object) -> str:
    return html.escape(str(value), quote=True)


def url(name: str) -> str:
    """A path segment, quoted and escaped for an attribute."""
    return e(urllib.parse.quote(name, safe=""))


def badge(state: str) -> str:
    return f"<span class='badge {TONES.get(state, 'muted')}'>{e(state)}</span>"


def row(cell: str, values: Iterable[str]) -> str:
    return "<tr>" + "".join(f"<{cell}>{v}</{cell}>" for v in values) + "</tr>"


def scroll_table(table_id: str, head: str, rows: str) -> str:
    """A table that scrolls sideways on its own when the window is narrower than it."""
    return (
        f"<div class='scroll'><table id='{table_id}'><thead>{head}</thead><tbody>{rows}</tbody></table></div>"
    )


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def iso_seconds(value: str) -> float | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def when(stamp: float | None, now: float) -> str:
    """`5m ago`, with the exact UTC time as a tooltip."""
    if stamp is None:
        return "<span class='muted'>—</span>"
    exact = datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"<span title='{exact}'>{age(now - stamp)} ago</span>"


def age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
