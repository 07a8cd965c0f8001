"""The control-plane HTTP API on the agent: create, revise and delete deployments by writing commits.

LangGraph's hosted control plane has an API for deployments and revisions; this is ours, with Git
still the source of truth. Each write is the same validated commit as `gitops-agent new / set-image
/ set-env / scale / delete` (a revision request may combine image, env and scale in one commit, so
one request is one revision), pushed to the branch the agent follows, after which the agent is told
to fetch at once. The answer names the commit and the revision number it becomes, computed the way
the sync computes it: the pushed tree's render of the deployment, its spec hash against the recorded
history (`revisions.next_revision`).

Off unless an API token is configured (the write routes then answer 404). Writes need
`Authorization: Bearer <token>`, compared in constant time, checked before the body is read; one
write at a time per agent. Bodies are parsed in `api_request`, against the JSON Schemas that the
OpenAPI document publishes (`api_schema`); every error names its field path, in the body or in the
manifest file.
"""

from __future__ import annotations

import hmac
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gitops_agent.agent.http.api_request import (
    CREATE,
    REVISION,
    ROLLBACK,
    RequestError,
    RevisionRequest,
    invalid,
    json_response,
    new_deployment,
    parse_body,
    problem,
)
from gitops_agent.agent.http.api_schema import NAME_PATTERN, openapi_document
from gitops_agent.agent.http.server import Request, Response, Router
from gitops_agent.controlplane.edit import (
    DeploymentExistsError,
    EditError,
    PushConflictError,
    UnknownDeploymentError,
    ValidationFailedError,
    describe_scale,
)
from gitops_agent.controlplane.edit import set_env as edit_env
from gitops_agent.controlplane.edit import set_image as edit_image
from gitops_agent.controlplane.edit import set_scale as edit_scale
from gitops_agent.controlplane.repo_writer import Change, EditResult, Planner, RepoTarget, preview, publish
from gitops_agent.controlplane.scaffold import NewDeployment, render_new
from gitops_agent.controlplane.verbs import (
    ACTIONS,
    DEPLOYMENTS_DIR,
    check_no_new_problems,
    deployment_file,
    rollback_plan,
)
from gitops_agent.core.errors import ConfigError, GitopsAgentError, SourceError
from gitops_agent.core.logs import fields, get_logger
from gitops_agent.manifests import load_repository, render_unit
from gitops_agent.state.revisions import next_revision
from gitops_agent.state.seed import load_or_create_seed

if TYPE_CHECKING:
    from gitops_agent.agent.controller import Agent

log = get_logger("api")
PREFIX = "/api/v1/deployments"
_NAME = re.compile(NAME_PATTERN)


def register_control_plane(router: Router, agent: Agent, writer: ControlPlaneApi) -> None:
    """The OpenAPI document, and the write routes (404 stubs when no API token is configured).

    `writer` is shared with the UI, so the API's and the browser's writes take one lock."""
    api = writer if agent.config.api_token else None
    document = json.dumps(openapi_document(writes=api is not None), indent=2).encode()
    router.add("GET", "/api/v1/openapi.json", lambda _: Response(200, document, "application/json"))
    routes: list[tuple[str, str, Callable[[Request], Response]]] = [
        ("POST", PREFIX, api.create if api else _disabled),
        ("POST", PREFIX + "/{name}/revisions", api.revise if api else _disabled),
        ("DELETE", PREFIX + "/{name}", api.delete if api else _disabled),
        ("POST", PREFIX + "/{name}/rollback", api.rollback if api else _disabled),
        *(
            ("POST", f"{PREFIX}/{{name}}/{action}", api.action(action) if api else _disabled)
            for action in ACTIONS
        ),
    ]
    for method, pattern, action in routes:
        router.add(method, pattern, api.guarded(action) if api else action)


API_ACTOR = "api (bearer token)"


@dataclass(frozen=True)
class Written:
    """A write's commit, and the revision numbers it is predicted to make (see the module docstring)."""

    result: EditResult
    revision: int | None
    previous: int | None

    def to_json(self) -> dict[str, object]:
        return {**self.result.to_json(), "revision": self.revision, "previousRevision": self.previous}


class ControlPlaneApi:
    """The writes of one agent (the HTTP API's and the UI's): they edit `agent.config.repo` at `ref`."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self._token = (agent.config.api_token or "").encode()
        self._lock = threading.Lock()

    def guarded(self, action: Callable[[Request], Response]) -> Callable[[Request], Response]:
        """`action` behind the bearer token, with the edit errors turned into answers."""

        def handle(request: Request) -> Response:
            if not self._authorized(request):
                return json_response(
                    {"error": "a valid `Authorization: Bearer <token>` is required"}, 401, _CHALLENGE
                )
            try:
                return action(request)
            except RequestError as err:
                return err.response
            except (EditError, ConfigError, SourceError) as err:
                return edit_error(err)

        return handle

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.header("Authorization").strip().partition(" ")
        given = token.strip().encode("latin-1", errors="replace")  # http.server decodes as latin-1
        return bool(self._token) and hmac.compare_digest(given, self._token) and scheme.lower() == "bearer"

    # -- the verbs -------------------------------------------------------------------------------

    def create(self, request: Request) -> Response:
        spec = new_deployment(parse_body(request, CREATE))
        written = self.write(spec.name, create_plan(spec), actor=API_ACTOR)
        return _answer(written, 201, location=f"{PREFIX}/{spec.name}")

    def revise(self, request: Request) -> Response:
        name = _deployment_name(request)
        revision = RevisionRequest.parse(parse_body(request, REVISION))
        return _answer(self.write(name, revision_plan(revision, name), actor=API_ACTOR), 201)

    def delete(self, request: Request) -> Response:
        name = _deployment_name(request)
        return _answer(self.write(name, delete_plan(name), actor=API_ACTOR), 200)

    def rollback(self, request: Request) -> Response:
        name = _deployment_name(request)
        revision = int(parse_body(request, ROLLBACK)["revision"])
        return _answer(self.write(name, self.rollback_plan(name, revision), actor=API_ACTOR), 201)

    def action(self, action: str) -> Callable[[Request], Response]:
        """suspend, resume or redeploy: a body-less edit of the deployment's file."""

        def handle(request: Request) -> Response:
            name = _deployment_name(request)
            return _answer(self.write(name, ACTIONS[action].plan(name), actor=API_ACTOR), 201)

        return handle

    # -- the machinery the UI shares -----------------------------------------------------------

    def rollback_plan(self, name: str, revision: int) -> Planner:
        """The edit that brings back `revision`'s files; a 422 about `revision` when it is unknown."""
        inventory = self.agent.ledger.load(name)
        record = inventory.find(revision) if inventory else None
        if record is None:
            raise invalid("revision", f"{name} has no revision {revision} in its history")
        return rollback_plan(name, commit=record.commit, revision=revision)

    def target(self, *, branch: str | None = None) -> RepoTarget:
        """Where writes go: the branch the agent follows, or `branch` (a proposal) made from it."""
        cfg = self.agent.config
        return RepoTarget(
            location=cfg.repo,
            ref=cfg.ref,
            push_branch=branch,
            sub_path=cfg.sub_path,
            auth=self.agent.auth,
            sign_key=cfg.signing_key,
        )

    def write(self, name: str, plan: Planner, *, actor: str, branch: str | None = None) -> Written:
        """Plan, validate, commit and push one change (one at a time), then tell the agent to fetch.

        Every write is an audit log line: who asked (`actor`), what, and the commit.
        """
        rendered = RenderedSpec(self.agent, name)
        with self._lock:
            result = publish(self.target(branch=branch), rendered.planner(plan), check=rendered.check)
        if result.changed:
            if branch is None:
                self.agent.trigger_fetch()
            log.info(
                "audit: %s committed %s",
                actor,
                result.message.splitlines()[0],
                extra=fields(actor=actor, commit=result.commit[:12], deployment=name, branch=result.branch),
            )
        if branch is not None:  # a proposal: it becomes a revision only once merged
            return Written(result, None, None)
        revision, previous = self._revisions(name, rendered.spec_hash)
        return Written(result, revision, previous)

    def preview(self, plan: Planner) -> tuple[Change, dict[str, str | None]]:
        """What `plan` would change on the branch's tip, validated, without committing anything."""
        return preview(self.target(), plan, check=check_no_new_problems)

    def _revisions(self, name: str, spec_hash: str | None) -> tuple[int | None, int | None]:
        """(the revision the pushed spec becomes, the newest recorded one), as the sync numbers them."""
        try:
            inventory = self.agent.ledger.load(name)
        except GitopsAgentError as err:
            log.warning("revision of %s unknown: %s", name, err)
            return None, None
        previous = inventory.latest.revision if inventory and inventory.latest else None
        if spec_hash is None:
            return None, previous
        return next_revision(inventory, spec_hash)[0], previous


def create_plan(spec: NewDeployment) -> Planner:
    """A new file `deployments/<name>.yaml`; DeploymentExistsError when the name is taken."""
    text = _step("", lambda: render_new(spec))

    def plan(root: Path) -> Change:
        if any((root / DEPLOYMENTS_DIR / f"{spec.name}{s}").exists() for s in (".yaml", ".yml")):
            raise DeploymentExistsError(f"deployment {spec.name!r} already exists")
        path = f"{DEPLOYMENTS_DIR}/{spec.name}.yaml"
        return Change(spec.name, f"{spec.name}: new deployment ({spec.image})", ((path, text),))

    return plan


def delete_plan(name: str) -> Planner:
    def plan(root: Path) -> Change:
        return Change(name, f"{name}: delete", ((deployment_file(root, name), None),))

    return plan


def _answer(written: Written, status: int, *, location: str = "") -> Response:
    changed = written.result.changed
    headers = (("Location", location),) if location and changed else ()
    return json_response(written.to_json(), status if changed else 200, headers)


def revision_plan(request: RevisionRequest, name: str) -> Planner:
    """The edit a revision request makes: image, env and scale applied to the file in that order."""

    def plan(root: Path) -> Change:
        path = deployment_file(root, name)
        text = (root / path).read_text(encoding="utf-8")
        words = []
        if request.image is not None:
            image = request.image
            text = _step("image", lambda: edit_image(text, image))
            words.append(f"image → {image}")
        if request.env or request.unset:
            text = _step("env", lambda: edit_env(text, set_vars=request.env, unset=request.unset))
            words.append(_env_words(request.env, request.unset))
        if request.scale is not None:
            scale = request.scale
            text = _step("scale", lambda: edit_scale(text, scale))
            words.append(describe_scale(text, queue=scale.queue, cpu=request.cpu))
        return Change(name, f"{name}: {', '.join(words)}", ((path, text),))

    return plan


class RenderedSpec:
    """The deployment's spec hash in the tree that gets pushed.

    The writer validates every tree it pushes with `check` (after a rebase too), so the last tree
    checked is the pushed one; a no-op is never checked, so its hash is taken from the plan's tree.
    """

    def __init__(self, agent: Agent, name: str) -> None:
        self.agent, self.name = agent, name
        self.spec_hash: str | None = None
        self._seed: bytes | None = None

    def check(self, before: Path, after: Path) -> None:
        check_no_new_problems(before, after)
        self.spec_hash = self._hash(after)

    def planner(self, plan: Planner) -> Planner:
        def planned(root: Path) -> Change:
            change = plan(root)
            if all(_unchanged(root / path, text) for path, text in change.files):
                self.spec_hash = self._hash(root)
            return change

        return planned

    def _hash(self, root: Path) -> str | None:
        load = load_repository(root)
        unit = load.unit(self.name)
        if load.settings is None or unit is None or not unit.valid:
            return None
        try:
            if self._seed is None:  # generated passwords are part of the spec: the cluster's seed
                namespace = self.agent.config.state_namespace
                self._seed = load_or_create_seed(self.agent.kube, namespace, create=False)
            return render_unit(unit, load.settings, secret_seed=self._seed).spec_hash
        except GitopsAgentError as err:
            log.warning("cannot render %s for its revision number: %s", self.name, err)
            return None


# -- requests and answers --------------------------------------------------------------------------

_CHALLENGE = (("WWW-Authenticate", 'Bearer realm="gitops-agent"'),)


def _disabled(_: Request) -> Response:
    return json_response(
        {"error": "the control-plane API is disabled: start the agent with --api-token-file"}, 404
    )


def _deployment_name(request: Request) -> str:
    name = request.params["name"]
    if not _NAME.match(name) or len(name) > 40:
        raise RequestError(json_response({"error": f"no deployment {name!r}"}, 404))
    return name


def _step(field: str, edit: Callable[[], str]) -> str:
    """One edit of the file; what it refuses is a 422 about the request field that asked for it."""
    try:
        return edit()
    except (UnknownDeploymentError, DeploymentExistsError):
        raise
    except EditError as err:
        raise invalid(field, str(err)) from err


def edit_error(err: GitopsAgentError) -> Response:
    """The API's answer to a write that failed (the UI shows the same problems on its forms)."""
    if isinstance(err, ValidationFailedError):
        problems = [
            problem(p.field, p.message, file=p.file, line=p.line, column=p.column) for p in err.problems
        ]
        return json_response({"errors": problems}, 422)
    if isinstance(err, UnknownDeploymentError):
        return json_response({"error": str(err)}, 404)
    if isinstance(err, PushConflictError):
        return json_response({"error": str(err), "file": err.file}, 409)
    if isinstance(err, DeploymentExistsError):
        return json_response({"error": str(err)}, 409)
    if isinstance(err, EditError):
        return json_response({"errors": [problem("", str(err))]}, 422)
    log.warning("control-plane write failed: %s", err)
    headers = (("Retry-After", "10"),) if err.retryable else ()
    return json_response({"error": f"nothing was written: {err}"}, 503, headers)


def _unchanged(path: Path, text: str | None) -> bool:
    if text is None:
        return not path.exists()
    return path.is_file() and path.read_text(encoding="utf-8") == text


def _env_words(values: Mapping[str, str], unset: tuple[str, ...]) -> str:
    """`env LOG_LEVEL=debug -OLD` (plain env values are configuration, fine in a commit message)."""
    text = "env " + " ".join([f"{k}={v}" for k, v in values.items()] + [f"-{k}" for k in unset])
    return text if len(text) <= 120 else text[:117] + "…"


__all__ = [
    "ControlPlaneApi",
    "RenderedSpec",
    "Written",
    "create_plan",
    "delete_plan",
    "edit_error",
    "register_control_plane",
    "revision_plan",
]
