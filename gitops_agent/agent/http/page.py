"""The status page: server-rendered HTML with inline CSS, no scripts at all (works offline).

`/` is the deployments table, `/deployments/{name}` one deployment with its objects, revision
history and last diff. Both reload themselves with a meta refresh, which the route's
Content-Security-Policy (`default-src 'self'; style-src 'self' 'unsafe-inline'`) allows, since it is
not a script. Everything that comes from the repository or the cluster — names, commit messages,
authors, errors, file names, diffs — goes through `_e` (HTML-escaped, quotes included) before it
is written, so a commit message with `<script>` shows as text. State badges use a CSS class
picked from a fixed table, never the raw state.
"""

from __future__ import annotations

import html
import time
import urllib.parse
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from gitops_agent.engine.diff import Action
from gitops_agent.engine.health import Health
from gitops_agent.reconcile.sync import SyncState
from gitops_agent.state.inventory import RevisionState

INDEX_REFRESH_SECONDS = 5
DETAIL_REFRESH_SECONDS = 10
ERROR_CELL_LIMIT = 300

_TONES: dict[str, str] = {
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
}

_CSS = """
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
"""


def render_index(overview: dict[str, Any], deployments: list[dict[str, Any]]) -> str:
    """The deployments table, with the repository and leadership above it."""
    now = time.time()
    body = _source_box(overview) + _deployments_table(deployments, now)
    return _document(
        "gitops-agent",
        body,
        refresh=INDEX_REFRESH_SECONDS,
        header=_header_meta(overview, now),
    )


def render_detail(deployment: dict[str, Any]) -> str:
    """One deployment: its state, last error, objects, revision history and last diff."""
    now = time.time()
    name = str(deployment["name"])
    title = (
        f"<h2 id='title'>{_e(name)} {_badge(deployment['sync_state'])} {_badge(deployment['health'])}</h2>"
    )
    body = (
        "<p class='small'><a href='/'>&larr; all deployments</a> · "
        f"<a href='/api/v1/deployments/{_url(name)}'>JSON</a></p>"
        + title
        + _summary(deployment, now)
        + _error_box(deployment)
        + _objects(deployment["objects"])
        + _history(deployment["history"], deployment["revision"])
        + _diff(deployment["last_diff"])
    )
    return _document(f"{name} · gitops-agent", body, refresh=DETAIL_REFRESH_SECONDS, header="")


# -- the index ---------------------------------------------------------------------------------


def _header_meta(overview: dict[str, Any], now: float) -> str:
    source = overview.get("source", {})
    leader = overview.get("leader", {})
    fetched = source.get("fetched_at")
    parts = [
        f"<span class='mono'>{_e(source.get('repo', ''))}</span> @ {_e(source.get('ref', ''))}",
        f"commit <span class='mono'>{_e(str(source.get('commit', ''))[:12]) or '—'}</span>",
        f"fetched {_e(_age(now - fetched)) + ' ago' if fetched else 'not yet'}",
        "leading" if leader.get("leading") else f"standby (leader: {_e(leader.get('holder') or '?')})",
    ]
    return " · ".join(parts)


def _source_box(overview: dict[str, Any]) -> str:
    source = overview.get("source", {})
    out = ""
    if source.get("error"):
        error = f"<div class='err'>{_e(source['error'])}</div>"
        out += f"<div class='box alert' id='source-error'><b>Repository fetch failing</b>{error}</div>"
    if source.get("prune_refused"):
        refused = f"<div class='err'>{_e(source['prune_refused'])}</div>"
        title = "<b>Prune refused: objects removed from Git are still live</b>"
        out += f"<div class='box alert' id='prune-refused'>{title}{refused}</div>"
    problems = source.get("problems") or []
    if problems:
        items = "".join(f"<li class='err'>{_e(p)}</li>" for p in problems)
        out += f"<div class='box alert' id='repository-problems'><b>Repository problems</b><ul>{items}</ul>"
        out += "</div>"
    return out


def _deployments_table(deployments: Sequence[dict[str, Any]], now: float) -> str:
    head = _row(
        "th",
        ("Deployment", "Revision", "Image", "Commit", "Sync", "Health", "Age", "Last sync", "Last error"),
    )
    rows = "".join(_deployment_row(d, now) for d in deployments) or (
        "<tr><td colspan='9' class='muted'>No deployments synced yet.</td></tr>"
    )
    return f"<table id='deployments'><thead>{head}</thead><tbody>{rows}</tbody></table>"


def _deployment_row(d: dict[str, Any], now: float) -> str:
    name = str(d["name"])
    first_line = _first_line(d.get("message", ""))
    commit = f"<span class='mono'>{_e(str(d['commit'])[:12]) or '—'}</span>"
    if first_line:
        commit += f"<span class='msg' title='{_e(first_line)}'>{_e(first_line)}</span>"
    if d.get("last_change"):
        commit += (
            f"<div class='muted small change'>{_e(_clip(str(d['last_change']), ERROR_CELL_LIMIT))}</div>"
        )
    problem = d.get("last_error") or d.get("note") or ""
    problem_css = "err"
    if not problem and d.get("health") not in (Health.HEALTHY, Health.UNKNOWN):
        problem = d.get("health_message", "")
        problem_css = "err" if d.get("health") == Health.DEGRADED else "muted"
    cells = (
        f"<a href='/deployments/{_url(name)}'>{_e(name)}</a>"
        + (f"<div class='muted small'>{_e(d['namespace'])}</div>" if d.get("namespace") else ""),
        (_e(str(d["revision"])) if d.get("revision") is not None else "—")
        + (f" {_badge(d['revision_state'])}" if d.get("revision_state") else ""),
        _image(str(d.get("image") or "")),
        commit,
        _badge(d["sync_state"]),
        _badge(d["health"]),
        _when(_iso_seconds(d.get("revision_time", "")), now),
        _when(d.get("last_sync_time"), now),
        f"<span class='{problem_css}'>{_e(_clip(problem, ERROR_CELL_LIMIT))}</span>" if problem else "",
    )
    return f"<tr data-deployment='{_e(name)}'>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


# -- the detail page ---------------------------------------------------------------------------


def _summary(d: dict[str, Any], now: float) -> str:
    fields = [
        ("Namespace", _e(d.get("namespace") or "—")),
        ("Revision", _e(str(d["revision"])) if d.get("revision") is not None else "—"),
        ("Image", f"<span class='mono' id='image'>{_e(d.get('image') or '—')}</span>"),
        ("Commit", f"<span class='mono'>{_e(d['commit']) or '—'}</span>"),
        ("Author", _e(d.get("author") or "—")),
        ("Message", f"<pre id='message'>{_e(d.get('message', ''))}</pre>" if d.get("message") else "—"),
        ("Revision age", _when(_iso_seconds(d.get("revision_time", "")), now)),
        ("Last sync", _when(d.get("last_sync_time"), now)),
        ("Last attempt", _when(d.get("last_attempt_time"), now)),
        ("Health", f"{_badge(d['health'])} {_e(d.get('health_message', ''))}"),
    ]
    if d.get("note"):
        fields.append(("Note", _e(d["note"])))
    rows = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in fields)
    return f"<div class='box'><dl id='summary'>{rows}</dl></div>"


def _image(image: str) -> str:
    """The running image as `name:tag` or `name@sha256:<12>` (the registry path in the tooltip)."""
    if not image:
        return "<span class='muted'>—</span>"
    short = image.rsplit("/", 1)[-1]
    name, at, digest = short.partition("@")
    if at:
        short = f"{name}@{digest[: len('sha256:') + 12]}"
    return f"<span class='mono image' title='{_e(image)}'>{_e(short)}</span>"


def _error_box(d: dict[str, Any]) -> str:
    if not d.get("last_error"):
        return ""
    problems = d.get("problems") or []
    listing = "".join(f"<li class='err mono'>{_e(p)}</li>" for p in problems)
    detail = f"<ul>{listing}</ul>" if listing else f"<div class='err mono'>{_e(d['last_error'])}</div>"
    return f"<div class='box alert' id='last-error'><b>Last error</b>{detail}</div>"


def _objects(objects: Iterable[dict[str, str]]) -> str:
    rows = "".join(
        _row("td", (f"<span class='mono'>{_e(o['object'])}</span>", _badge(o["action"]))) for o in objects
    )
    if not rows:
        return ""
    head = _row("th", ("Object", "Last action"))
    return f"<h2>Objects</h2><table id='objects'><thead>{head}</thead><tbody>{rows}</tbody></table>"


def _history(history: Sequence[dict[str, Any]], current: int | None) -> str:
    if not history:
        return "<h2>Revision history</h2><p class='muted'>No revisions recorded yet.</p>"
    head = _row("th", ("Revision", "Commit", "Result", "Time", "Author", "Message"))
    rows = ""
    for r in history:  # newest first, as recorded
        reason = f"<div class='err small'>{_e(r['reason'])}</div>" if r.get("reason") else ""
        cells = (
            _e(str(r["revision"])),
            f"<span class='mono'>{_e(str(r['commit'])[:12])}</span>",
            _badge(r["result"]),
            f"<span class='small'>{_e(r.get('time', ''))}</span>",
            _e(r.get("author", "")),
            f"<pre>{_e(r.get('message', '').strip())}</pre>{reason}",
        )
        css = " class='current'" if r["revision"] == current else ""
        rows += f"<tr{css}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
    return f"<h2>Revision history</h2><table id='history'><thead>{head}</thead><tbody>{rows}</tbody></table>"


def _diff(diff: str) -> str:
    if not diff:
        return "<h2>Last diff</h2><p class='muted'>No changes applied since the agent started.</p>"
    lines = []
    for line in diff.splitlines():
        css = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "")
        if line.startswith(("+++", "---")):
            css = "hunk"
        escaped = _e(line) or " "
        lines.append(f"<span class='{css}'>{escaped}</span>" if css else escaped + "\n")
    return f"<h2>Last diff</h2><pre class='diff' id='diff'>{''.join(lines)}</pre>"


# -- helpers -----------------------------------------------------------------------------------


def _document(title: str, body: str, *, refresh: int, header: str) -> str:
    meta = f"<span class='meta'>{header}</span>" if header else ""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<meta http-equiv='refresh' content='{refresh}'>"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1><a href='/'>gitops-agent</a></h1>{meta}</header><main>{body}</main>"
        f"<footer>Refreshes every {refresh} s · <a href='/api/v1/deployments'>/api/v1/deployments</a> · "
        "<a href='/metrics'>/metrics</a></footer></body></html>"
    )


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _url(name: str) -> str:
    return _e(urllib.parse.quote(name, safe=""))


def _badge(state: str) -> str:
    return f"<span class='badge {_TONES.get(state, 'muted')}'>{_e(state)}</span>"


def _row(cell: str, values: Iterable[str]) -> str:
    return "<tr>" + "".join(f"<{cell}>{v}</{cell}>" for v in values) + "</tr>"


def _first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0] if stripped else ""


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _iso_seconds(value: str) -> float | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _when(stamp: float | None, now: float) -> str:
    """`5m ago`, with the exact UTC time as a tooltip."""
    if stamp is None:
        return "<span class='muted'>—</span>"
    exact = datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"<span title='{exact}'>{_age(now - stamp)} ago</span>"


def _age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
