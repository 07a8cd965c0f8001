"""The status pages: server-rendered HTML, no scripts at all (works offline, works without JS).

`/` is the deployments table, `/deployments/{name}` one deployment with its objects, revision
history and last diff; with a signed-in viewer (`Chrome.writes`) they also carry the buttons of the
UI (`ui`): new deployment, new revision, roll back, redeploy, suspend, delete. Both reload
themselves with a meta refresh, which the strict Content-Security-Policy allows, since it is not a
script. Escaping and the frame are `markup`'s.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from gitops_agent.agent.http.markup import (
    Chrome,
    age,
    badge,
    clip,
    diff_lines,
    document,
    e,
    iso_seconds,
    post_button,
    row,
    scroll_table,
    url,
    when,
)
from gitops_agent.engine.health import Health
from gitops_agent.reconcile.sync import SyncState

INDEX_REFRESH_SECONDS = 5
DETAIL_REFRESH_SECONDS = 10
ERROR_CELL_LIMIT = 300
ANONYMOUS = Chrome()


def render_index(
    overview: dict[str, Any],
    deployments: list[dict[str, Any]],
    chrome: Chrome = ANONYMOUS,
    *,
    flash: str = "",
) -> str:
    """The deployments table, with the repository and leadership above it."""
    now = time.time()
    actions = (
        "<div class='actions'>"
        "<a class='button primary' id='new-deployment' href='/new'>New deployment</a></div>"
        if chrome.writes
        else ""
    )
    body = flash + _source_box(overview) + actions + _deployments_table(deployments, now)
    return document(
        "gitops-agent", body, chrome, refresh=INDEX_REFRESH_SECONDS, header=_header_meta(overview, now)
    )


def render_detail(
    deployment: dict[str, Any], chrome: Chrome = ANONYMOUS, *, flash: str = "", workload: str = ""
) -> str:
    """One deployment: its state, last error, actions, workload, objects, history and last diff."""
    now = time.time()
    name = str(deployment["name"])
    title = f"<h2 id='title'>{e(name)} {badge(deployment['sync_state'])} {badge(deployment['health'])}</h2>"
    body = (
        "<p class='small'><a href='/'>&larr; all deployments</a> · "
        f"<a href='/api/v1/deployments/{url(name)}'>JSON</a></p>"
        + flash
        + title
        + _actions(deployment, chrome)
        + _summary(deployment, now)
        + _error_box(deployment)
        + workload
        + _objects(deployment["objects"])
        + _history(deployment["history"], deployment["revision"], name, chrome)
        + _diff(deployment["last_diff"])
    )
    return document(f"{name} · gitops-agent", body, chrome, refresh=DETAIL_REFRESH_SECONDS)


def _actions(d: dict[str, Any], chrome: Chrome) -> str:
    """The buttons of a signed-in viewer: each makes one commit (delete asks first)."""
    if not chrome.writes:
        return ""
    base = f"/deployments/{url(str(d['name']))}"
    suspended = d.get("sync_state") == SyncState.SUSPENDED
    buttons = [
        f"<a class='button primary' id='new-revision' href='{base}/revise'>New revision</a>",
        post_button(f"{base}/redeploy", "Redeploy", chrome, button_id="redeploy"),
        post_button(
            f"{base}/{'resume' if suspended else 'suspend'}",
            "Resume" if suspended else "Suspend",
            chrome,
            button_id="resume" if suspended else "suspend",
        ),
        f"<a class='button danger' id='delete' href='{base}/delete'>Delete…</a>",
    ]
    return f"<div class='actions'>{''.join(buttons)}</div>"


# -- the index ---------------------------------------------------------------------------------


def _header_meta(overview: dict[str, Any], now: float) -> str:
    source = overview.get("source", {})
    leader = overview.get("leader", {})
    fetched = source.get("fetched_at")
    parts = [
        f"<span class='mono'>{e(source.get('repo', ''))}</span> @ {e(source.get('ref', ''))}",
        f"commit <span class='mono'>{e(str(source.get('commit', ''))[:12]) or '—'}</span>",
        f"fetched {e(age(now - fetched)) + ' ago' if fetched else 'not yet'}",
        "leading" if leader.get("leading") else f"standby (leader: {e(leader.get('holder') or '?')})",
    ]
    return " · ".join(parts)


def _source_box(overview: dict[str, Any]) -> str:
    source = overview.get("source", {})
    out = ""
    if source.get("error"):
        error = f"<div class='err'>{e(source['error'])}</div>"
        out += f"<div class='box alert' id='source-error'><b>Repository fetch failing</b>{error}</div>"
    if source.get("prune_refused"):
        refused = f"<div class='err'>{e(source['prune_refused'])}</div>"
        title = "<b>Prune refused: objects removed from Git are still live</b>"
        out += f"<div class='box alert' id='prune-refused'>{title}{refused}</div>"
    orphans = source.get("orphaned_volumes") or []
    if orphans:
        items = "".join(
            f"<li><span class='mono'>{e(v['namespace'])}/{e(v['claim'])}</span> — was "
            f"{e(v['deployment'])}'s Postgres{', ' + e(v['capacity']) if v.get('capacity') else ''}</li>"
            for v in orphans
        )
        title = "<b>Orphaned database volumes: kept data that no deployment uses</b>"
        hint = (
            "<div>Delete a claim when its data is no longer needed, or continue it with "
            "<span class='mono'>spec.postgres.managed.volumeFrom</span>.</div>"
        )
        out += f"<div class='box' id='orphaned-volumes'>{title}<ul>{items}</ul>{hint}</div>"
    problems = source.get("problems") or []
    if problems:
        items = "".join(f"<li class='err'>{e(p)}</li>" for p in problems)
        out += f"<div class='box alert' id='repository-problems'><b>Repository problems</b><ul>{items}</ul>"
        out += "</div>"
    return out


def _deployments_table(deployments: Sequence[dict[str, Any]], now: float) -> str:
    head = row(
        "th",
        ("Deployment", "Revision", "Image", "Commit", "Sync", "Health", "Age", "Last sync", "Last error"),
    )
    rows = "".join(_deployment_row(d, now) for d in deployments) or (
        "<tr><td colspan='9' class='muted'>No deployments synced yet.</td></tr>"
    )
    return scroll_table("deployments", head, rows)


def _deployment_row(d: dict[str, Any], now: float) -> str:
    name = str(d["name"])
    first_line = _first_line(d.get("message", ""))
    commit = f"<span class='mono'>{e(str(d['commit'])[:12]) or '—'}</span>"
    if first_line:
        commit += f"<span class='msg' title='{e(first_line)}'>{e(first_line)}</span>"
    if d.get("last_change"):
        commit += f"<div class='muted small change'>{e(clip(str(d['last_change']), ERROR_CELL_LIMIT))}</div>"
    problem = d.get("last_error") or d.get("note") or ""
    problem_css = "err"
    if not problem and d.get("health") not in (Health.HEALTHY, Health.UNKNOWN):
        problem = d.get("health_message", "")
        problem_css = "err" if d.get("health") == Health.DEGRADED else "muted"
    cells = (
        f"<a href='/deployments/{url(name)}'>{e(name)}</a>"
        + (f"<div class='muted small'>{e(d['namespace'])}</div>" if d.get("namespace") else ""),
        (e(str(d["revision"])) if d.get("revision") is not None else "—")
        + (f" {badge(d['revision_state'])}" if d.get("revision_state") else ""),
        _image(str(d.get("image") or "")),
        commit,
        badge(d["sync_state"]),
        badge(d["health"]),
        when(iso_seconds(d.get("revision_time", "")), now),
        when(d.get("last_sync_time"), now),
        f"<span class='{problem_css}'>{e(clip(problem, ERROR_CELL_LIMIT))}</span>" if problem else "",
    )
    return f"<tr data-deployment='{e(name)}'>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


# -- the detail page ---------------------------------------------------------------------------


def _summary(d: dict[str, Any], now: float) -> str:
    fields = [
        ("Namespace", e(d.get("namespace") or "—")),
        ("Revision", e(str(d["revision"])) if d.get("revision") is not None else "—"),
        ("Image", f"<span class='mono' id='image'>{e(d.get('image') or '—')}</span>"),
        ("Commit", f"<span class='mono'>{e(d['commit']) or '—'}</span>"),
        ("Author", e(d.get("author") or "—")),
        ("Message", f"<pre id='message'>{e(d.get('message', ''))}</pre>" if d.get("message") else "—"),
        ("Revision age", when(iso_seconds(d.get("revision_time", "")), now)),
        ("Last sync", when(d.get("last_sync_time"), now)),
        ("Last attempt", when(d.get("last_attempt_time"), now)),
        ("Health", f"{badge(d['health'])} {e(d.get('health_message', ''))}"),
    ]
    if d.get("note"):
        fields.append(("Note", e(d["note"])))
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
    return f"<span class='mono image' title='{e(image)}'>{e(short)}</span>"


def _error_box(d: dict[str, Any]) -> str:
    if not d.get("last_error"):
        return ""
    problems = d.get("problems") or []
    listing = "".join(f"<li class='err mono'>{e(p)}</li>" for p in problems)
    detail = f"<ul>{listing}</ul>" if listing else f"<div class='err mono'>{e(d['last_error'])}</div>"
    return f"<div class='box alert' id='last-error'><b>Last error</b>{detail}</div>"


def _objects(objects: Iterable[dict[str, str]]) -> str:
    rows = "".join(
        row("td", (f"<span class='mono'>{e(o['object'])}</span>", badge(o["action"]))) for o in objects
    )
    if not rows:
        return ""
    head = row("th", ("Object", "Last action"))
    return "<h2>Objects</h2>" + scroll_table("objects", head, rows)


def _history(history: Sequence[dict[str, Any]], current: int | None, name: str, chrome: Chrome) -> str:
    if not history:
        return "<h2>Revision history</h2><p class='muted'>No revisions recorded yet.</p>"
    labels = ("Revision", "Commit", "Result", "Time", "Author", "Message")
    head = row("th", (*labels, "") if chrome.writes else labels)
    rows = ""
    for r in history:  # newest first, as recorded
        reason = f"<div class='err small'>{e(r['reason'])}</div>" if r.get("reason") else ""
        cells: tuple[str, ...] = (
            e(str(r["revision"])),
            f"<span class='mono'>{e(str(r['commit'])[:12])}</span>",
            badge(r["result"]),
            f"<span class='small'>{e(r.get('time', ''))}</span>",
            e(r.get("author", "")),
            f"<pre>{e(r.get('message', '').strip())}</pre>{reason}",
        )
        if chrome.writes:
            cells += (_rollback_button(name, r["revision"], chrome) if r["revision"] != current else "",)
        css = " class='current'" if r["revision"] == current else ""
        rows += f"<tr{css}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
    return "<h2>Revision history</h2>" + scroll_table("history", head, rows)


def _rollback_button(name: str, revision: int, chrome: Chrome) -> str:
    return post_button(
        f"/deployments/{url(name)}/rollback",
        f"Roll back to {revision}",
        chrome,
        fields={"revision": str(revision)},
        button_id=f"rollback-{revision}",
    )


def _diff(diff: str) -> str:
    if not diff:
        return "<h2>Last diff</h2><p class='muted'>No changes applied since the agent started.</p>"
    return f"<h2>Last diff</h2><pre class='diff' id='diff'>{diff_lines(diff)}</pre>"


# -- helpers -----------------------------------------------------------------------------------


def _first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0] if stripped else ""
