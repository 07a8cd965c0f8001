"""The web UI: the status pages, plus sign-in and every change a person makes from the browser.

Each button that changes something makes one reviewable commit through the control-plane API's own
machinery (`ControlPlaneApi.write`: the same schema, the same validation of the pushed tree, the
same predicted revision, one write at a time), so Git stays the source of truth; with `--ui-propose`
the commit goes to a new branch to open a pull request from instead. A person signs in with the UI
token (or the API token) and gets a session cookie (`session`); every form carries the session's
CSRF token, and a write without a valid session and token is a 403 that reads nothing from Git. Each
write is an audit log line (who, what, commit) and names who asked in the commit (`Requested-by:`).

Without any token the UI is the read-only status page, open to all (put it behind the ingress's
authentication). With a token, the pages need a sign-in too, unless `--ui-public-read`.
"""

from __future__ import annotations

import difflib
import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from gitops_agent.agent.http.api import ControlPlaneApi, create_plan, delete_plan, edit_error, revision_plan
from gitops_agent.agent.http.api_request import (
    CREATE,
    REVISION,
    RequestError,
    RevisionRequest,
    check_body,
    new_deployment,
)
from gitops_agent.agent.http.api_schema import NAME_PATTERN
from gitops_agent.agent.http.markup import CSP, STYLESHEET, STYLESHEET_PATH, Chrome
from gitops_agent.agent.http.page import render_detail, render_index
from gitops_agent.agent.http.server import Request, Response, Router
from gitops_agent.agent.http.session import Session, SessionKeeper
from gitops_agent.agent.http.ui_forms import (
    Form,
    FormError,
    TooManyFieldsError,
    add_problem,
    create_body,
    env_text,
    parse_form,
    revision_body,
)
from gitops_agent.agent.http.ui_pages import (
    NEW_FIELDS,
    REVISION_FIELDS,
    CurrentSpec,
    Flash,
    delete_page,
    error_box,
    log_page,
    message_page,
    new_deployment_page,
    pending_page,
    review_page,
    revision_page,
    sign_in_page,
    workload_section,
)
from gitops_agent.agent.workload import (
    LOG_TAIL_LINES,
    NotItsPodError,
    read_events,
    read_log,
    read_pods,
    workload_objects,
)
from gitops_agent.controlplane.edit import EditError, UnknownDeploymentError
from gitops_agent.controlplane.repo_writer import Change, Planner
from gitops_agent.controlplane.verbs import ACTIONS, deployment_file
from gitops_agent.core.errors import ConfigError, GitopsAgentError, SourceError
from gitops_agent.core.logs import fields, get_logger

if TYPE_CHECKING:
    from gitops_agent.agent.controller import Agent

log = get_logger("ui")
_NAME = re.compile(NAME_PATTERN)
_REQUEST_TARGET = re.compile(r"[!-~]+")
"""Printable ASCII without spaces: what a browser sends as a path (anything else is percent-encoded)."""
_WRITE_ERRORS = (RequestError, EditError, ConfigError, SourceError)
_ACTIONS = ("redeploy", "suspend", "resume")
PROPOSAL_PREFIX = "gitops-agent/ui/"
"""`--ui-propose`: each change is a branch `gitops-agent/ui/<deployment>-<UTC time>`."""
_STYLE = STYLESHEET.encode()

PageHandler = Callable[[Request, Session | None], Response]
WriteHandler = Callable[[Request, Session, Form], Response]


def register_ui(router: Router, agent: Agent, writer: ControlPlaneApi) -> None:
    """The pages, the sign-in and the UI's writes (through `writer`, the API's)."""
    ui = Ui(agent, writer)
    router.add("GET", STYLESHEET_PATH, lambda _: Response(200, _STYLE, "text/css; charset=utf-8", _CACHED))
    router.add("GET", "/", ui.page(ui.index))
    router.add("GET", "/deployments/{name}", ui.page(ui.detail))
    router.add("GET", "/sign-in", ui.sign_in_form)
    router.add("POST", "/sign-in", ui.sign_in)
    router.add("POST", "/sign-out", ui.write(ui.sign_out))
    router.add("GET", "/new", ui.signed_in(ui.new_form))
    router.add("POST", "/new", ui.write(ui.create))
    base = "/deployments/{name}"
    router.add("GET", base + "/revise", ui.signed_in(ui.revise_form))
    router.add("POST", base + "/revise", ui.write(ui.revise))
    router.add("POST", base + "/rollback", ui.write(ui.rollback))
    for action in _ACTIONS:
        router.add("POST", f"{base}/{action}", ui.write(ui.action(action)))
    router.add("GET", base + "/delete", ui.signed_in(ui.delete_form))
    router.add("POST", base + "/delete", ui.write(ui.delete))
    router.add("GET", base + "/pods/{pod}/log", ui.signed_in(ui.pod_log))


class Ui:
    """The handlers of one agent's UI."""

    def __init__(self, agent: Agent, writer: ControlPlaneApi) -> None:
        cfg = agent.config
        self.agent = agent
        token = cfg.ui_token
        also = (cfg.api_token,) if cfg.api_token and cfg.api_token != token else ()
        self.keeper = (
            SessionKeeper(token, minutes=cfg.ui.session_minutes, secure=cfg.ui.secure_cookie, also=also)
            if token
            else None
        )
        self.api = writer
        self.public_read = cfg.ui.public_read or self.keeper is None

    # -- gates ----------------------------------------------------------------------------------

    def page(self, handler: PageHandler) -> Callable[[Request], Response]:
        """A read-only page: open when reads are public, else it needs a session."""

        def handle(request: Request) -> Response:
            session = self._session(request)
            if session is None and not self.public_read:
                return _to_sign_in(request)
            return handler(request, session)

        return handle

    def signed_in(self, handler: PageHandler) -> Callable[[Request], Response]:
        """A page only a signed-in person sees (forms, logs)."""

        def handle(request: Request) -> Response:
            if self.keeper is None:
                return self._read_only()
            session = self._session(request)
            return handler(request, session) if session else _to_sign_in(request)

        return handle

    def write(self, handler: WriteHandler) -> Callable[[Request], Response]:
        """A form post: a valid session, its CSRF token and a same-origin request, or 403."""

        def handle(request: Request) -> Response:
            if self.keeper is None:
                return self._read_only()
            session = self._session(request)
            if session is None:
                return self._forbidden("You are not signed in, or your session has expired.")
            try:
                form = parse_form(request.body)
            except TooManyFieldsError as err:
                return _too_many_fields(err)
            if not self.keeper.csrf_ok(session, form.get("csrf", "")) or not _same_origin(request):
                return self._forbidden("The form's security token is missing or wrong (CSRF).")
            return handler(request, session, form)

        return handle

    def _session(self, request: Request) -> Session | None:
        return self.keeper.session(request.headers) if self.keeper else None

    def _chrome(self, session: Session | None) -> Chrome:
        if session is None:
            return Chrome(sign_in=self.keeper is not None)
        return Chrome(who=session.who, csrf=session.csrf)

    def _read_only(self) -> Response:
        text = "The UI is read-only: start the agent with --ui-token-file or --api-token-file to sign in."
        return _html(message_page(Chrome(), "Read-only", text), 404)

    def _forbidden(self, why: str) -> Response:
        text = f"{why} Nothing was changed. Sign in again and retry."
        return _html(message_page(self._chrome(None), "Forbidden", text), 403)

    # -- sign-in --------------------------------------------------------------------------------

    def sign_in_form(self, request: Request) -> Response:
        if self.keeper is None:
            return self._read_only()
        then = _local_path(_query(request, "next"))
        if then is None:
            return _bad_next()
        return _html(sign_in_page(Chrome(), then=then))

    def sign_in(self, request: Request) -> Response:
        if self.keeper is None:
            return self._read_only()
        try:
            form = parse_form(request.body)
        except TooManyFieldsError as err:
            return _too_many_fields(err)
        who = _printable(form.get("name", "")) or "someone"
        if not _same_origin(request):
            return self._forbidden("The sign-in came from another site.")
        then = _local_path(form.get("next", "/"))
        if then is None:
            return _bad_next()
        if not self.keeper.token_matches(form.get("token", "")):
            log.warning("audit: a UI sign-in was refused (wrong token)", extra=fields(actor=who))
            page = sign_in_page(Chrome(), error="That token is not right.", name=who, then=then)
            return _html(page, 401)
        _, cookie = self.keeper.sign_in(who)
        log.info("audit: %s signed in to the UI", who, extra=fields(actor=who))
        return _redirect(then, cookie)

    def sign_out(self, request: Request, session: Session, form: Form) -> Response:
        assert self.keeper is not None
        log.info("audit: %s signed out of the UI", session.who, extra=fields(actor=session.who))
        return _redirect("/sign-in" if not self.public_read else "/", self.keeper.sign_out_cookie())

    # -- read -----------------------------------------------------------------------------------

    def index(self, request: Request, session: Session | None) -> Response:
        board = self.agent.board
        deleted = _query(request, "deleted")
        flash = Flash(commit=_query(request, "commit"), message=f"{deleted}: delete" if deleted else "")
        return _html(
            render_index(board.overview(), board.deployments(), self._chrome(session), flash=flash.html())
        )

    def detail(self, request: Request, session: Session | None) -> Response:
        name = request.params["name"]
        found = self.agent.board.deployment(name)
        flash = _flash(request)
        chrome = self._chrome(session)
        if found is None:
            if flash.commit and _NAME.match(name):
                return _html(pending_page(chrome, name, flash))
            return _html(message_page(chrome, "Not found", f"There is no deployment {name!r}."), 404)
        workload = self._workload(found, logs=session is not None)
        return _html(render_detail(found, chrome, flash=flash.html(), workload=workload))

    def _workload(self, deployment: dict[str, Any], *, logs: bool) -> str:
        namespace, name = str(deployment.get("namespace") or ""), str(deployment["name"])
        if not namespace:
            return ""
        try:
            pods: Any = read_pods(self.agent.kube, namespace, name)
        except GitopsAgentError as err:
            pods = f"Cannot read the pods: {err}"
        owned = [str(o["object"]) for o in deployment.get("objects", [])]
        try:
            events: Any = read_events(
                self.agent.kube, namespace, workload_objects(owned, pods if isinstance(pods, list) else [])
            )
        except GitopsAgentError as err:
            events = f"Cannot read the Events: {err}"
        return workload_section(name, pods, events, logs=logs)

    def pod_log(self, request: Request, session: Session | None) -> Response:
        name, pod = request.params["name"], request.params["pod"]
        container = _query(request, "container")
        found = self.agent.board.deployment(name)
        chrome = self._chrome(session)
        if found is None or not found.get("namespace"):
            return _html(message_page(chrome, "Not found", f"There is no deployment {name!r}."), 404)
        try:
            text = read_log(self.agent.kube, str(found["namespace"]), name, pod, container)
        except NotItsPodError as err:
            return _html(message_page(chrome, "Not found", str(err)), 404)
        except GitopsAgentError as err:
            return _html(message_page(chrome, "Log unavailable", str(err)), 502)
        return _html(log_page(chrome, name, pod, container, text, lines=LOG_TAIL_LINES))

    # -- create ---------------------------------------------------------------------------------

    def new_form(self, request: Request, session: Session | None) -> Response:
        return _html(new_deployment_page(self._chrome(session), {}))

    def create(self, request: Request, session: Session, form: Form) -> Response:
        chrome = self._chrome(session)
        try:
            spec = new_deployment(check_body(create_body(form), CREATE))
            written = self._commit(spec.name, create_plan(spec), session)
        except FormError as unreadable:
            return _html(new_deployment_page(chrome, form, unreadable), 422)
        except _WRITE_ERRORS as err:
            status, refused = _errors(err, NEW_FIELDS)
            return _html(new_deployment_page(chrome, form, refused), status)
        return _redirect(written)

    # -- revise ---------------------------------------------------------------------------------

    def revise_form(self, request: Request, session: Session | None) -> Response:
        name = request.params["name"]
        current = self._current(name)
        if current is None:
            return _html(
                message_page(self._chrome(session), "Not found", f"There is no deployment {name!r}."), 404
            )
        form = {"image": current.image, "env": env_text(current.env)}
        return _html(revision_page(self._chrome(session), name, current, form))

    def revise(self, request: Request, session: Session, form: Form) -> Response:
        name, chrome = request.params["name"], self._chrome(session)
        current = self._current(name)
        if current is None:
            return _html(message_page(chrome, "Not found", f"There is no deployment {name!r}."), 404)
        if form.get("step") == "edit":
            return _html(revision_page(chrome, name, current, form))
        try:
            body = check_body(revision_body(form, current.image, current.env), REVISION)
            plan = revision_plan(RevisionRequest.parse(body), name)
            if form.get("step") != "commit":
                return self._review(chrome, name, plan, form)
            written = self._commit(name, plan, session)
        except FormError as unreadable:
            return _html(revision_page(chrome, name, current, form, unreadable), 422)
        except _WRITE_ERRORS as err:
            status, refused = _errors(err, REVISION_FIELDS)
            return _html(revision_page(chrome, name, current, form, refused), status)
        return _redirect(written)

    def _review(self, chrome: Chrome, name: str, plan: Planner, form: Form) -> Response:
        change, before = self.api.preview(plan)
        if not change.files:
            raise RequestError(
                Response(422, json.dumps({"error": "nothing changes: the file already says that"}).encode())
            )
        diff = "".join(
            "".join(
                difflib.unified_diff(
                    (before.get(path) or "").splitlines(keepends=True),
                    (text or "").splitlines(keepends=True),
                    fromfile=f"a/{path}",
                    tofile=f"b/{path}",
                )
            )
            for path, text in change.files
        )
        return _html(review_page(chrome, name, change.message, diff, form))

    def _current(self, name: str) -> CurrentSpec | None:
        """What the deployment's file says at the commit the agent synced last."""
        snapshot = self.agent.snapshot
        if snapshot is None or not _NAME.match(name):
            return None
        try:
            path = deployment_file(snapshot.path, name)
            data = yaml.safe_load((snapshot.path / path).read_text(encoding="utf-8")) or {}
        except (UnknownDeploymentError, OSError, yaml.YAMLError):
            return None
        spec = data.get("spec") if isinstance(data, dict) else None
        if not isinstance(spec, dict):
            return None
        env = spec.get("env")
        env = env if isinstance(env, dict) else {}
        return CurrentSpec(
            str(spec.get("image", "")), {str(k): str(v) for k, v in env.items()}, _scale_words(spec)
        )

    # -- one-button changes ---------------------------------------------------------------------

    def rollback(self, request: Request, session: Session, form: Form) -> Response:
        name = request.params["name"]

        def plan() -> Planner:
            revision = form.get("revision", "")
            if not revision.isdigit():
                raise EditError(f"{revision!r} is not a revision number")
            return self.api.rollback_plan(name, int(revision))

        return self._one_button(request, session, name, plan)

    def action(self, action: str) -> WriteHandler:
        def handle(request: Request, session: Session, form: Form) -> Response:
            name = request.params["name"]
            return self._one_button(request, session, name, lambda: ACTIONS[action].plan(name))

        return handle

    def _one_button(
        self, request: Request, session: Session, name: str, plan: Callable[[], Planner]
    ) -> Response:
        try:
            written = self._commit(name, plan(), session)
        except _WRITE_ERRORS as err:
            status, errors = _errors(err, frozenset())
            found = self.agent.board.deployment(name)
            chrome = self._chrome(session)
            if found is None:
                return _html(message_page(chrome, "Nothing was changed", "; ".join(errors.general)), status)
            return _html(render_detail(found, chrome, flash=error_box(errors.general)), status)
        return _redirect(written)

    # -- delete ---------------------------------------------------------------------------------

    def delete_form(
        self, request: Request, session: Session | None, *, error: str = "", status: int = 200
    ) -> Response:
        name = request.params["name"]
        chrome = self._chrome(session)
        snapshot = self.agent.snapshot
        try:
            file = deployment_file(snapshot.path, name) if snapshot and _NAME.match(name) else ""
        except UnknownDeploymentError:
            file = ""
        if not file:
            return _html(message_page(chrome, "Not found", f"There is no deployment {name!r}."), 404)
        found = self.agent.board.deployment(name) or {}
        objects = [str(o["object"]) for o in found.get("objects", []) if o.get("action") != "Pruned"]
        return _html(delete_page(chrome, name, file, objects, error=error), status)

    def delete(self, request: Request, session: Session, form: Form) -> Response:
        name = request.params["name"]
        if form.get("confirm", "").strip() != name:
            return self.delete_form(request, session, error=f"Type {name} to confirm.", status=422)
        try:
            done = self._commit(name, delete_plan(name), session)
        except _WRITE_ERRORS as err:
            _, errors = _errors(err, frozenset())
            return self.delete_form(request, session, error="; ".join(errors.general), status=409)
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(done).query)
        return _redirect("/?" + urllib.parse.urlencode({"deleted": name, "commit": query["commit"][0]}))

    # -- the write ------------------------------------------------------------------------------

    def _commit(self, name: str, plan: Planner, session: Session) -> str:
        """One commit through the API's machinery, naming who asked (a proposal branch if configured);
        returns where to go next: the deployment's page, saying what was committed."""
        trailer = f"\n\nRequested-by: {session.who} (gitops-agent UI)"

        def requested(root: Path) -> Change:
            change = plan(root)
            return replace(change, message=change.message + trailer)

        branch = None
        if self.agent.config.ui.propose:
            branch = f"{PROPOSAL_PREFIX}{name}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"
        written = self.api.write(name, requested, actor=f"{session.who} (ui)", branch=branch)
        result = written.result
        query = {"commit": result.commit, "message": result.message.splitlines()[0]}
        if written.revision is not None:
            query["revision"] = str(written.revision)
        if branch is not None and result.changed:
            query.update(branch=result.branch, proposal="1")
        return f"/deployments/{urllib.parse.quote(name)}?" + urllib.parse.urlencode(query)


# -- helpers ----------------------------------------------------------------------------------------

_CACHED = (("Cache-Control", "public, max-age=300"),)


def _html(text: str, status: int = 200, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return Response(
        status,
        text.encode(),
        "text/html; charset=utf-8",
        (
            ("Content-Security-Policy", CSP),
            ("X-Frame-Options", "DENY"),
            ("Referrer-Policy", "same-origin"),
            ("Cache-Control", "no-store"),
            *headers,
        ),
    )


def _redirect(location: str, cookie: str = "") -> Response:
    headers = [("Location", location), ("Cache-Control", "no-store")]
    if cookie:
        headers.append(("Set-Cookie", cookie))
    return Response(303, b"", "text/plain; charset=utf-8", tuple(headers))


def _to_sign_in(request: Request) -> Response:
    return _redirect("/sign-in?" + urllib.parse.urlencode({"next": request.path}))


def _same_origin(request: Request) -> bool:
    """A browser's Origin (when it sends one) names this host: a cross-site post is refused."""
    origin, host = request.header("Origin"), request.header("Host")
    if not origin:
        return True
    return origin != "null" and urllib.parse.urlsplit(origin).netloc == host


def _local_path(target: str) -> str | None:
    """Where to go after signing in: a path on this site, else `/` (no open redirect); None (a 400)
    when it is not a request target at all (a character outside printable ASCII: a space, a tab,
    CR/LF, U+3000).

    Browsers drop tabs and newlines inside a URL and read `\\` as `/`, so `/<TAB>/evil.example` and
    `/\\evil.example` are `//evil.example`, another origin: refusing every such character first
    leaves only what `urlsplit` reads the way a browser does."""
    if not target:
        return "/"
    if _REQUEST_TARGET.fullmatch(target) is None:
        return None
    parts = urllib.parse.urlsplit(target)
    same_site = not parts.scheme and not parts.netloc and parts.path.startswith("/")
    return target if same_site and not target.startswith("//") and "\\" not in target else "/"


def _too_many_fields(err: TooManyFieldsError) -> Response:
    return _html(message_page(Chrome(), "Form too large", f"{err}. Nothing was changed."), 413)


def _bad_next() -> Response:
    text = "The link's `next` is not a path on this site (it holds spaces or control characters)."
    return _html(message_page(Chrome(), "Bad request", text), 400)


def _query(request: Request, key: str) -> str:
    return (request.query.get(key) or [""])[-1]


def _flash(request: Request) -> Flash:
    return Flash(
        commit=_query(request, "commit"),
        revision=_query(request, "revision"),
        message=_query(request, "message")[:200],
        branch=_query(request, "branch"),
        proposal=_query(request, "proposal") == "1",
    )


def _errors(err: Exception, known: frozenset[str]) -> tuple[int, FormError]:
    """The API's answer to a failed write (status and problems), on the form's fields."""
    response = err.response if isinstance(err, RequestError) else edit_error(err)  # type: ignore[arg-type]
    data = json.loads(response.body or b"{}")
    errors = FormError()
    for problem in data.get("errors", []):
        add_problem(errors, problem, known)
    if data.get("error"):
        target = (
            "name" if response.status == 409 and "already exists" in data["error"] and "name" in known else ""
        )
        errors.add(target, str(data["error"]))
    return response.status, errors


def _printable(text: str) -> str:
    """A name for the audit log and a commit trailer: one line of printable text, 64 characters."""
    return "".join(c for c in text if c.isprintable()).strip()[:64]


def _scale_words(spec: dict[str, Any]) -> str:
    auto = spec.get("autoscaling")
    if isinstance(auto, dict):
        low, high = auto.get("minReplicas", 1), auto.get("maxReplicas", "?")
        return f"autoscaling {low} to {high}"
    replicas = spec.get("replicas")
    return f"{replicas} replicas" if replicas is not None else "the repository's default"
