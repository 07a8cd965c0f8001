"""The UI's own pages: sign-in, the new-deployment and revision forms, the review of a change, the
delete confirmation, the workload view (pods, Events) and a pod's log tail.

Plain HTML forms that post and redirect, so everything works without JavaScript; every value from
Git, the cluster or the form itself is escaped by `markup.e`; every form carries the session's CSRF
token (`markup.csrf_field`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gitops_agent.agent.http.markup import (
    Chrome,
    badge,
    clip,
    csrf_field,
    diff_lines,
    document,
    e,
    row,
    scroll_table,
    url,
    when,
)
from gitops_agent.agent.http.ui_forms import FormError
from gitops_agent.agent.workload import EventView, PodView

PENDING_REFRESH_SECONDS = 2


@dataclass(frozen=True)
class Flash:
    """What the last write did, shown on top of the page it redirected to."""

    commit: str = ""
    revision: str = ""
    message: str = ""
    branch: str = ""
    proposal: bool = False

    def html(self) -> str:
        if not self.commit:
            return ""
        if self.proposal:
            text = (
                f"Pushed <span class='mono'>{e(self.commit[:12])}</span> to branch "
                f"<span class='mono' id='flash-branch'>{e(self.branch)}</span>: open a pull request from it."
            )
        else:
            revision = (
                f": becomes revision <b id='flash-revision'>{e(self.revision)}</b>" if self.revision else ""
            )
            text = f"Committed <span class='mono' id='flash-commit'>{e(self.commit[:12])}</span>{revision}."
        message = f"<div class='muted small'>{e(self.message)}</div>" if self.message else ""
        return f"<div class='flash' id='flash'>{text}{message}</div>"


def sign_in_page(chrome: Chrome, *, error: str = "", name: str = "", then: str = "/") -> str:
    alert = f"<div class='box alert' id='sign-in-error'>{e(error)}</div>" if error else ""
    body = (
        "<h2>Sign in</h2>"
        + alert
        + "<form class='card' method='post' action='/sign-in'>"
        + f"<input type='hidden' name='next' value='{e(then)}'>"
        + _input("name", "Your name", name, None, hint="for the audit log and the commits you make")
        + _input("token", "Token", "", None, kind="password", hint="the UI token, or the API token")
        + "<div class='actions'>"
        "<button class='primary' type='submit' id='sign-in-submit'>Sign in</button></div></form>"
    )
    return document("Sign in · gitops-agent", body, chrome)


# -- new deployment -----------------------------------------------------------------------------

NEW_FIELDS = frozenset(
    {
        "name", "image", "type", "namespace", "path", "host", "postgres", "postgres_secret", "redis",
        "redis_secret", "replicas", "min", "max", "target_cpu", "cpu", "memory", "env", "secret_env", "queue",
    }
)  # fmt: skip


def new_deployment_page(chrome: Chrome, form: Mapping[str, str], errors: FormError | None = None) -> str:
    err = errors or FormError()
    f = _Fields(form, err)
    body = (
        "<p class='small'><a href='/'>&larr; all deployments</a></p><h2>New deployment</h2>"
        + _general(err)
        + "<form class='card' method='post' action='/new' id='new-form'>"
        + csrf_field(chrome)
        + "<fieldset><legend>Agent server</legend><div class='row'>"
        + f.text("name", "Name", hint="lower-case letters, digits, dashes")
        + f.select(
            "type",
            "Type",
            (("", "repository default"), ("development", "development"), ("production", "production")),
        )
        + "</div>"
        + f.text("image", "Image", hint="built with `langgraph build`: a tag or a digest", mono=True)
        + "<div class='row'>"
        + f.text("path", "Path", hint="served under the shared host, e.g. /support")
        + f.text("host", "Or its own host", hint="e.g. support.agents.example.com")
        + f.text("namespace", "Namespace", hint="default: the repository's")
        + "</div></fieldset>"
        + "<fieldset><legend>Postgres and Redis</legend><div class='row'>"
        + f.select("postgres", "Postgres", (("managed", "managed in the cluster"), ("external", "external")))
        + f.text("postgres_secret", "External Postgres URI in", hint="secret-name/key", mono=True)
        + f.select("redis", "Redis", (("managed", "managed in the cluster"), ("external", "external")))
        + f.text("redis_secret", "External Redis URI in", hint="secret-name/key", mono=True)
        + "</div></fieldset>"
        + _scale_fieldset(f, queue_label="run queue workers in their own pods")
        + "<fieldset><legend>Resources and environment</legend><div class='row'>"
        + f.text("cpu", "CPU request", hint="e.g. 500m")
        + f.text("memory", "Memory request", hint="e.g. 1Gi")
        + "</div>"
        + f.area("env", "Environment", hint="one NAME=value per line; never credentials")
        + f.area("secret_env", "Secret environment", hint="one NAME=secret-name/key per line")
        + "</fieldset>"
        + "<div class='actions'><button class='primary' type='submit' id='create'>Create deployment</button>"
        "<a class='button' href='/'>Cancel</a></div></form>"
    )
    return document("New deployment · gitops-agent", body, chrome)


# -- new revision -------------------------------------------------------------------------------

REVISION_FIELDS = frozenset({"image", "env", "replicas", "min", "max", "target_cpu", "queue"})


@dataclass(frozen=True)
class CurrentSpec:
    """What the deployment's file says now (the revision form starts from it)."""

    image: str
    env: Mapping[str, str]
    scale: str
    """`2 replicas`, `autoscaling 2 to 10`, for the hint."""


def revision_page(
    chrome: Chrome, name: str, current: CurrentSpec, form: Mapping[str, str], errors: FormError | None = None
) -> str:
    err = errors or FormError()
    f = _Fields(form, err)
    base = f"/deployments/{url(name)}"
    body = (
        f"<p class='small'><a href='{base}'>&larr; {e(name)}</a></p><h2>New revision of {e(name)}</h2>"
        + _general(err)
        + f"<form class='card' method='post' action='{base}/revise' id='revise-form'>"
        + csrf_field(chrome)
        + "<input type='hidden' name='step' value='review'>"
        + f.text("image", "Image", mono=True, hint=f"now {current.image}")
        + f.area(
            "env",
            "Environment",
            hint="the whole plain environment, one NAME=value per line: edit, add or delete lines",
        )
        + _scale_fieldset(f, queue_label="scale the queue workers instead", hint=f"now {current.scale}")
        + "<div class='actions'><button class='primary' type='submit' id='review'>Review the change</button>"
        f"<a class='button' href='{base}'>Cancel</a></div></form>"
    )
    return document(f"New revision · {name} · gitops-agent", body, chrome)


def review_page(chrome: Chrome, name: str, message: str, diff: str, form: Mapping[str, str]) -> str:
    """The change as a diff of the deployment's file, with the form's values kept to commit it."""
    base = f"/deployments/{url(name)}"
    hidden = "".join(
        f"<input type='hidden' name='{e(k)}' value='{e(v)}'>" for k, v in form.items() if k in REVISION_FIELDS
    )
    body = (
        f"<p class='small'><a href='{base}'>&larr; {e(name)}</a></p><h2>Review: {e(name)}</h2>"
        f"<p>Commit message: <span class='mono' id='review-message'>{e(message)}</span></p>"
        f"<pre class='diff' id='review-diff'>{diff_lines(diff)}</pre>"
        f"<form method='post' action='{base}/revise'>{csrf_field(chrome)}{hidden}"
        "<div class='actions'>"
        "<button class='primary' type='submit' name='step' value='commit' id='commit'>"
        "Commit and deploy</button>"
        "<button type='submit' name='step' value='edit' id='edit'>Back to the form</button>"
        "</div></form>"
    )
    return document(f"Review · {name} · gitops-agent", body, chrome)


# -- delete -------------------------------------------------------------------------------------


def delete_page(chrome: Chrome, name: str, file: str, objects: Sequence[str], *, error: str = "") -> str:
    base = f"/deployments/{url(name)}"
    listing = "".join(f"<li class='mono'>{e(o)}</li>" for o in objects) or (
        "<li class='muted'>nothing live yet</li>"
    )
    alert = f"<div class='box alert' id='delete-error'>{e(error)}</div>" if error else ""
    body = (
        f"<p class='small'><a href='{base}'>&larr; {e(name)}</a></p><h2>Delete {e(name)}?</h2>"
        + alert
        + f"<div class='box alert'><p>This commits the removal of <span class='mono' id='delete-file'>"
        f"{e(file)}</span>. Once the agent syncs it, it deletes these objects (and their data: "
        f"managed Postgres volumes go too):</p><ul id='delete-objects'>{listing}</ul></div>"
        f"<form class='card' method='post' action='{base}/delete'>{csrf_field(chrome)}"
        + _input("confirm", f"Type {name} to confirm", "", None, mono=True)
        + "<div class='actions'><button class='danger' type='submit' id='confirm-delete'>Delete</button>"
        f"<a class='button' href='{base}'>Cancel</a></div></form>"
    )
    return document(f"Delete {name} · gitops-agent", body, chrome)


# -- the workload view --------------------------------------------------------------------------


def workload_section(
    name: str, pods: Sequence[PodView] | str, events: Sequence[EventView] | str, *, logs: bool
) -> str:
    """Pods and Events of one deployment; a string instead of a list says why it could not be read."""
    now = time.time()
    return "<h2>Pods</h2>" + _pods(name, pods, now, logs=logs) + "<h2>Events</h2>" + _events(events, now)


def _pods(name: str, pods: Sequence[PodView] | str, now: float, *, logs: bool) -> str:
    if isinstance(pods, str):
        return f"<p class='muted' id='pods-unreadable'>{e(pods)}</p>"
    if not pods:
        return "<p class='muted' id='no-pods'>No pods.</p>"
    head = row("th", ("Pod", "Component", "Phase", "Ready", "Restarts", "Age", "Node", "Log"))
    rows = ""
    for pod in pods:
        phase = badge(pod.phase) + (
            f" <span class='err small'>{e(pod.waiting)}</span>" if pod.waiting else ""
        )
        log_links = (
            " ".join(
                f"<a href='/deployments/{url(name)}/pods/{url(pod.name)}/log?container={url(c)}'>{e(c)}</a>"
                for c in pod.containers
            )
            if logs
            else "<span class='muted'>sign in</span>"
        )
        cells = (
            f"<span class='mono'>{e(pod.name)}</span>",
            e(pod.component),
            phase,
            e(pod.ready),
            e(str(pod.restarts)),
            when(pod.created, now),
            f"<span class='mono small'>{e(pod.node)}</span>",
            log_links,
        )
        rows += f"<tr data-pod='{e(pod.name)}'>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
    return scroll_table("pods", head, rows)


def _events(events: Sequence[EventView] | str, now: float) -> str:
    if isinstance(events, str):
        return f"<p class='muted' id='events-unreadable'>{e(events)}</p>"
    if not events:
        return "<p class='muted' id='no-events'>No recent Events.</p>"
    head = row("th", ("When", "Type", "Reason", "Object", "Message"))
    rows = "".join(
        row(
            "td",
            (
                when(ev.last_seen, now)
                + (f" <span class='muted small'>x{ev.count}</span>" if ev.count > 1 else ""),
                badge(ev.type),
                e(ev.reason),
                f"<span class='mono small'>{e(ev.object)}</span>",
                f"<span class='small'>{e(clip(ev.message, 400))}</span>",
            ),
        )
        for ev in events
    )
    return scroll_table("events", head, rows)


def log_page(chrome: Chrome, name: str, pod: str, container: str, text: str, *, lines: int) -> str:
    base = f"/deployments/{url(name)}"
    body = (
        f"<p class='small'><a href='{base}'>&larr; {e(name)}</a></p>"
        f"<h2>Log of <span class='mono'>{e(pod)}</span> · {e(container)}</h2>"
        f"<p class='muted small'>The last {lines} lines (no follow); reload for newer ones.</p>"
        f"<pre class='log' id='log'>{e(text) or '<span class=muted>(empty)</span>'}</pre>"
    )
    return document(f"Log · {pod} · gitops-agent", body, chrome)


def pending_page(chrome: Chrome, name: str, flash: Flash) -> str:
    """A deployment the agent has not synced yet (just created): the commit, and a reload."""
    body = (
        "<p class='small'><a href='/'>&larr; all deployments</a></p>"
        + flash.html()
        + f"<h2 id='title'>{e(name)} {badge('Not synced yet')}</h2>"
        "<p class='muted' id='pending'>The agent has not synced this commit yet; this page reloads until "
        "it has.</p>"
    )
    return document(f"{name} · gitops-agent", body, chrome, refresh=PENDING_REFRESH_SECONDS)


def message_page(chrome: Chrome, title: str, text: str) -> str:
    return document(f"{title} · gitops-agent", f"<h2>{e(title)}</h2><p id='message'>{e(text)}</p>", chrome)


def error_box(errors: Sequence[str]) -> str:
    items = "".join(f"<li class='err'>{e(m)}</li>" for m in errors)
    return f"<div class='box alert' id='action-error'><b>Nothing was changed</b><ul>{items}</ul></div>"


# -- form pieces --------------------------------------------------------------------------------


class _Fields:
    """Inputs that show the posted value and their errors."""

    def __init__(self, form: Mapping[str, str], errors: FormError) -> None:
        self.form, self.errors = form, errors

    def text(self, name: str, label: str, *, hint: str = "", mono: bool = False) -> str:
        return _input(
            name, label, self.form.get(name, ""), self.errors.fields.get(name), hint=hint, mono=mono
        )

    def number(self, name: str, label: str, *, hint: str = "") -> str:
        return _input(
            name, label, self.form.get(name, ""), self.errors.fields.get(name), hint=hint, kind="number"
        )

    def area(self, name: str, label: str, *, hint: str = "") -> str:
        errs = self.errors.fields.get(name)
        return (
            f"<div class='{_css(errs)}' id='field-{name}'><label for='{name}'>{e(label)} "
            f"<span class='hint'>{e(hint)}</span></label>"
            f"<textarea id='{name}' name='{name}' rows='4'>{e(self.form.get(name, ''))}</textarea>"
            f"{_field_errors(name, errs)}</div>"
        )

    def select(self, name: str, label: str, options: Sequence[tuple[str, str]]) -> str:
        chosen = self.form.get(name, options[0][0])
        items = "".join(
            f"<option value='{e(v)}'{' selected' if v == chosen else ''}>{e(text)}</option>"
            for v, text in options
        )
        errs = self.errors.fields.get(name)
        return (
            f"<div class='{_css(errs)}' id='field-{name}'><label for='{name}'>{e(label)}</label>"
            f"<select id='{name}' name='{name}'>{items}</select>{_field_errors(name, errs)}</div>"
        )

    def check(self, name: str, label: str) -> str:
        checked = " checked" if self.form.get(name) == "on" else ""
        return (
            f"<div id='field-{name}'><label class='check'><input type='checkbox' id='{name}' name='{name}'"
            f"{checked}> {e(label)}</label>{_field_errors(name, self.errors.fields.get(name))}</div>"
        )


def _scale_fieldset(f: _Fields, *, queue_label: str, hint: str = "") -> str:
    return (
        "<fieldset><legend>Scale</legend>"
        + (f"<p class='muted small'>{e(hint)}</p>" if hint else "")
        + "<div class='row'>"
        + f.number("replicas", "Replicas", hint="a fixed count")
        + f.number("min", "Or autoscale from")
        + f.number("max", "to")
        + f.number("target_cpu", "at CPU %")
        + "</div>"
        + f.check("queue", queue_label)
        + "</fieldset>"
    )


def _input(
    name: str,
    label: str,
    value: str,
    errors: Sequence[str] | None,
    *,
    hint: str = "",
    kind: str = "text",
    mono: bool = False,
) -> str:
    css = " class='mono'" if mono else ""
    hint_html = f" <span class='hint'>{e(hint)}</span>" if hint else ""
    return (
        f"<div class='{_css(errors)}' id='field-{name}'><label for='{name}'>{e(label)}{hint_html}</label>"
        f"<input type='{kind}' id='{name}' name='{name}' value='{e(value)}'{css}>"
        f"{_field_errors(name, errors)}</div>"
    )


def _css(errors: Sequence[str] | None) -> str:
    return "field invalid" if errors else "field"


def _field_errors(name: str, errors: Sequence[str] | None) -> str:
    return "".join(f"<div class='field-error' data-field='{e(name)}'>{e(m)}</div>" for m in errors or ())


def _general(errors: FormError) -> str:
    return error_box(errors.general) if errors.general else ""
