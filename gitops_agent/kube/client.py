"""The one door to the Kubernetes API: every request the agent makes goes through `KubeClient`.

Why raw REST instead of the generated typed API classes: the agent handles arbitrary kinds as plain
dicts (rendered objects, plain manifests), and decoding JSON straight into dicts is several times
faster than the client's model objects. The official client still does what it is good at:
kubeconfig and in-cluster auth (with token refresh), TLS, connection pooling. ApiExceptions and
transport errors become `ClusterError`s that say whether retrying may help. Throttled answers (429,
a 5xx with Retry-After) are waited out here, paced by `kube.throttle`, until the budget is spent.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from gitops_agent.core.errors import ClusterError, ConfigError
from gitops_agent.core.labels import FIELD_MANAGER
from gitops_agent.core.logs import get_logger
from gitops_agent.kube.throttle import (
    DEFAULT_BURST,
    DEFAULT_QPS,
    DEFAULT_REQUEST_BUDGET,
    Pacer,
    ThrottleBudget,
    retry_after,
)

log = get_logger("kube")

RETRYABLE_STATUSES = frozenset({0, 408, 429, 500, 502, 503, 504})
DEFAULT_TIMEOUT_SECONDS = 30.0
_TRANSPORT_RETRIES = urllib3.Retry(3, respect_retry_after_header=False)
"""urllib3's own retries, for connection errors only: on its defaults it also sent a throttled GET
again after the Retry-After (three times, unseen by the pacer); throttling is handled in `_send`."""
Manifest = dict[str, Any]


@dataclass(frozen=True)
class ResourceType:
    """What discovery says about one kind: where it lives in the REST tree."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(self, namespace: str = "", name: str = "") -> str:
        """The REST path of the collection (or of one object when `name` is given)."""
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{urllib.parse.quote(namespace)}"
        base += f"/{self.plural}"
        return f"{base}/{urllib.parse.quote(name)}" if name else base


@dataclass(frozen=True)
class Rules:
    """What the client's identity may do in one namespace (a SelfSubjectRulesReview's resource rules)."""

    namespace: str
    resource_rules: tuple[Mapping[str, Any], ...]

    def allows(self, verb: str, group: str, resource: str, name: str = "") -> bool:
        """Whether some rule grants `verb` on `resource` of API `group` (RBAC's own matching)."""
        return any(_rule_allows(rule, verb, group, resource, name) for rule in self.resource_rules)


def _rule_allows(rule: Mapping[str, Any], verb: str, group: str, resource: str, name: str) -> bool:
    def has(field: str, value: str) -> bool:
        values = rule.get(field) or []
        return "*" in values or value in values

    names = rule.get("resourceNames") or []
    return (
        has("verbs", verb)
        and has("apiGroups", group)
        and has("resources", resource)
        and (not names or name in names)
    )


@dataclass(frozen=True)
class ObjectList:
    """A LIST result: the items and the collection's resourceVersion (to start a watch from)."""

    items: tuple[Manifest, ...]
    resource_version: str


class NotFoundError(ClusterError):
    """The object (or its kind) does not exist."""


class ConflictError(ClusterError):
    """Another field manager owns a field we apply, or the object changed under a precondition."""


class InvalidObjectError(ClusterError):
    """The apiserver rejected the object (422 / 400): fix the input, retrying will not help."""


class GoneError(ClusterError):
    """A watch's resourceVersion is too old (410): re-list, then watch again."""


class ThrottledError(ClusterError):
    """The apiserver kept throttling the request (429, or 503 with Retry-After) until the budget
    for waiting was spent; retryable."""


def describe(manifest: Mapping[str, Any]) -> str:
    """`Kind/namespace/name` (or `Kind/name`) for messages."""
    meta = manifest.get("metadata", {})
    parts = [manifest.get("kind", "?"), meta.get("namespace"), meta.get("name", "?")]
    return "/".join(str(p) for p in parts if p)


def connect(
    kubeconfig: str | None = None,
    context: str | None = None,
    *,
    pool_size: int = 32,
    qps: float = DEFAULT_QPS,
    burst: int = DEFAULT_BURST,
) -> KubeClient:
    """A client from a kubeconfig (flag, $KUBECONFIG, ~/.kube/config) or, inside a pod, in-cluster;
    its requests paced at `qps` (bursts of `burst`), slower while the apiserver throttles it."""
    configuration = client.Configuration()
    try:
        if kubeconfig or context or not _in_cluster():
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, context=context, client_configuration=configuration
            )
        else:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except (ConfigException, FileNotFoundError, OSError) as err:
        raise ConfigError(f"cannot load Kubernetes credentials: {err}") from err
    configuration.connection_pool_maxsize = pool_size
    return KubeClient(client.ApiClient(configuration), pacer=Pacer(qps, burst))


def _in_cluster() -> bool:
    return "KUBERNETES_SERVICE_HOST" in os.environ


class KubeClient:
    """Typed, dict-based access to the API with discovery cached per group/version.

    Every request passes the client's `pacer`; a throttled one is sent again after the server's
    Retry-After while its budget lasts (`with_budget`: one shared by every request of a sync; else one
    of DEFAULT_REQUEST_BUDGET seconds per request).
    """

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        field_manager: str = FIELD_MANAGER,
        pacer: Pacer | None = None,
    ) -> None:
        self.api_client = api_client
        self.field_manager = field_manager
        self.pacer = pacer or Pacer()
        self.request_budget = DEFAULT_REQUEST_BUDGET
        self._budget: ThrottleBudget | None = None
        self._types: dict[tuple[str, str], ResourceType] = {}
        self._types_lock = threading.Lock()

    def with_budget(self, budget: ThrottleBudget) -> KubeClient:
        """The same client (connections, pace, discovery cache), its requests sharing `budget`."""
        view = copy.copy(self)
        view._budget = budget
        return view

    # -- discovery ---------------------------------------------------------------------------

    def resource_type(self, api_version: str, kind: str) -> ResourceType:
        """Where `kind` of `api_version` is served; raises NotFoundError for unknown kinds."""
        key = (api_version, kind)
        with self._types_lock:
            cached = self._types.get(key)
        if cached:
            return cached
        path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        listing = self._request("GET", path, what=f"discovery of {api_version}")
        found: dict[tuple[str, str], ResourceType] = {}
        for resource in listing.get("resources", []):
            if "/" not in resource["name"]:  # skip subresources such as deployments/status
                found[(api_version, resource["kind"])] = ResourceType(
                    api_version, resource["kind"], resource["name"], bool(resource["namespaced"])
                )
        with self._types_lock:
            self._types.update(found)
        if key not in found:
            raise NotFoundError(f"the apiserver serves no kind {kind} in {api_version}")
        return found[key]

    def type_of(self, manifest: Mapping[str, Any]) -> ResourceType:
        return self.resource_type(str(manifest.get("apiVersion")), str(manifest.get("kind")))

    # -- object verbs --------------------------------------------------------------------------

    def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> Manifest | None:
        """The live object, or None when it does not exist."""
        rtype = self.resource_type(api_version, kind)
        try:
            return self._request("GET", rtype.path(namespace, name), what=f"get {kind}/{name}")
        except NotFoundError:
            return None

    def apply(self, manifest: Manifest, *, dry_run: bool = False, force: bool = False) -> Manifest:
        """Server-side apply `manifest` with our field manager; returns the resulting object."""
        rtype = self.type_of(manifest)
        meta = manifest["metadata"]
        query: list[tuple[str, str]] = [("fieldManager", self.field_manager)]
        if force:
            query.append(("force", "true"))
        if dry_run:
            query.append(("dryRun", "All"))
        return self._request(
            "PATCH",
            rtype.path(meta.get("namespace", ""), meta["name"]),
            query=query,
            body=manifest,
            content_type="application/apply-patch+yaml",
            what=f"{'dry-run ' if dry_run else ''}apply {describe(manifest)}",
        )

    def create(self, manifest: Manifest) -> Manifest:
        """POST a new object (for objects we never update, such as Events)."""
        rtype = self.type_of(manifest)
        namespace = manifest["metadata"].get("namespace", "")
        return self._request(
            "POST", rtype.path(namespace), body=manifest, what=f"create {describe(manifest)}"
        )

    def replace(self, manifest: Manifest) -> Manifest:
        """PUT with the object's resourceVersion as an optimistic lock (ConflictError when stale)."""
        rtype = self.type_of(manifest)
        meta = manifest["metadata"]
        return self._request(
            "PUT",
            rtype.path(meta.get("namespace", ""), meta["name"]),
            body=manifest,
            what=f"update {describe(manifest)}",
        )

    def delete(
        self, api_version: str, kind: str, name: str, namespace: str = "", *, uid: str | None = None
    ) -> bool:
        """Delete in the background; `uid` guards against deleting a re-created namesake.

        Returns False when the object was already gone.
        """
        rtype = self.resource_type(api_version, kind)
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "propagationPolicy": "Background",
        }
        if uid:
            body["preconditions"] = {"uid": uid}
        try:
            self._request("DELETE", rtype.path(namespace, name), body=body, what=f"delete {kind}/{name}")
        except NotFoundError:
            return False
        return True

    def list(
        self, api_version: str, kind: str, *, namespace: str = "", label_selector: str = ""
    ) -> ObjectList:
        """All objects of a kind (in a namespace, or cluster-wide), paging through large lists."""
        items: list[Manifest] = []
        resource_version = ""
        for page in self.pages(api_version, kind, namespace=namespace, label_selector=label_selector):
            items += page.items
            resource_version = page.resource_version
        return ObjectList(tuple(items), resource_version)

    def pages(
        self, api_version: str, kind: str, *, namespace: str = "", label_selector: str = ""
    ) -> Iterator[ObjectList]:
        """A LIST page by page (500 objects each), as they arrive, for callers that need not hold
        them all at once; the last page's resource version is the list's."""
        rtype = self.resource_type(api_version, kind)
        query: list[tuple[str, str]] = [("limit", "500")]
        if label_selector:
            query.append(("labelSelector", label_selector))
        while True:
            page = self._request("GET", rtype.path(namespace), query=query, what=f"list {rtype.plural}")
            items = page.get("items", [])
            for item in items:
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
            token = page.get("metadata", {}).get("continue")
            yield ObjectList(tuple(items), page.get("metadata", {}).get("resourceVersion", ""))
            if not token:
                return
            query = [q for q in query if q[0] != "continue"] + [("continue", token)]

    def watch(
        self,
        api_version: str,
        kind: str,
        *,
        resource_version: str,
        namespace: str = "",
        label_selector: str = "",
        timeout_seconds: int = 300,
    ) -> Iterator[tuple[str, Manifest]]:
        """Stream (event type, object) from `resource_version` with bookmarks; GoneError on 410."""
        rtype = self.resource_type(api_version, kind)
        query = [
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("resourceVersion", resource_version),
            ("timeoutSeconds", str(timeout_seconds)),
        ]
        if label_selector:
            query.append(("labelSelector", label_selector))
        response = self._send(
            "GET",
            rtype.path(namespace),
            query=query,
            stream=True,
            timeout=(10.0, timeout_seconds + 30.0),
            what=f"watch {rtype.plural}",
        )
        try:
            self._raise_for_status(response, f"watch {rtype.plural}")
            yield from self._events(response, rtype)
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise ClusterError(f"watch {rtype.plural}: connection lost: {err}", retryable=True) from err
        finally:
            response.release_conn()

    @staticmethod
    def _events(response: Any, rtype: ResourceType) -> Iterator[tuple[str, Manifest]]:
        """Decode watch events; an ERROR event becomes GoneError (410) or ClusterError."""
        for line in _lines(response):
            event = json.loads(line)
            obj = event.get("object", {})
            if event.get("type") == "ERROR":
                code = int(obj.get("code", 0))
                raise (GoneError if code == 410 else ClusterError)(
                    f"watch {rtype.plural}: {obj.get('message', 'error')}", retryable=True, status=code
                )
            yield event["type"], obj

    def rules_in(self, namespace: str) -> Rules | None:
        """What this client may do in `namespace` (one SelfSubjectRulesReview, which every
        authenticated identity may create), or None when the authorizer cannot list its rules (a
        webhook authorizer, say): then nothing can be concluded before trying."""
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectRulesReview",
            "spec": {"namespace": namespace},
        }
        path = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
        answer = self._request("POST", path, body=review, what=f"review own permissions in {namespace}")
        status = answer.get("status") or {}
        if status.get("incomplete"):
            return None
        return Rules(namespace, tuple(status.get("resourceRules") or ()))

    def pod_log(self, namespace: str, pod: str, container: str, *, tail_lines: int, limit_bytes: int) -> str:
        """The last `tail_lines` lines of a container's log (at most `limit_bytes`), as text."""
        query = [
            ("container", container),
            ("tailLines", str(tail_lines)),
            ("limitBytes", str(limit_bytes)),
        ]
        path = f"/api/v1/namespaces/{namespace}/pods/{pod}/log"
        response = self._send("GET", path, query=query, accept="*/*")  # text/plain alone is a 406
        self._raise_for_status(response, f"read the log of pod {namespace}/{pod} container {container}")
        text: str = response.data.decode("utf-8", errors="replace")
        return text

    def raw_get(self, path: str) -> str:
        """GET a non-resource path (e.g. /metrics) as text."""
        response = self._send("GET", path, accept="text/plain")
        self._raise_for_status(response, f"GET {path}")
        text: str = response.data.decode()
        return text

    # -- transport -----------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str = "application/json",
    ) -> Manifest:
        response = self._send(method, path, query=query, body=body, content_type=content_type, what=what)
        self._raise_for_status(response, what)
        decoded: Manifest = json.loads(response.data) if response.data else {}
        return decoded

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str = "application/json",
        accept: str = "application/json",
        stream: bool = False,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT_SECONDS,
        what: str = "",
    ) -> Any:
        """One request, sent again after the server's Retry-After while it is throttled and the
        budget lasts (ThrottledError once it is spent)."""
        budget = self._budget or ThrottleBudget(self.request_budget)
        paced = "/leases" not in path  # leader election is not queued behind the sync (see Pacer)
        while True:
            self.pacer.acquire(paced=paced)
            response = self._send_once(
                method, path, query=query, body=body, content_type=content_type, accept=accept,
                stream=stream, timeout=timeout,
            )  # fmt: skip
            status = int(response.status)
            delay = retry_after(status, response.headers)
            if delay is None:
                return response
            message = _status_message(_body(response)) or response.reason
            if stream:
                response.release_conn()
            pause = self.pacer.on_throttled(delay)
            if not budget.allows(pause):
                raise ThrottledError(
                    f"{what or f'{method} {path}'} failed ({status}): throttled by the apiserver for "
                    f"{budget.waited:.0f}s ({budget.retries} retries), the budget of "
                    f"{budget.seconds:.0f}s is spent: {message}",
                    retryable=True,
                    status=status,
                )

    def _send_once(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]],
        body: Any,
        content_type: str,
        accept: str,
        stream: bool,
        timeout: float | tuple[float, float],
    ) -> Any:
        headers = {"Accept": accept, "Content-Type": content_type}
        _, url, headers, _, _ = self.api_client.param_serialize(
            method, path, query_params=list(query), header_params=headers, auth_settings=["BearerToken"]
        )
        payload = json.dumps(body) if body is not None else None
        try:
            response = self.api_client.rest_client.pool_manager.request(
                method,
                url,
                body=payload,
                headers=headers,
                preload_content=not stream,
                retries=_TRANSPORT_RETRIES,
                timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1])
                if isinstance(timeout, tuple)
                else timeout,
            )
        except (urllib3.exceptions.HTTPError, OSError, ApiException) as err:
            raise ClusterError(f"{method} {path}: apiserver unreachable: {err}", retryable=True) from err
        return response

    @staticmethod
    def _raise_for_status(response: Any, what: str) -> None:
        status = int(response.status)
        if 200 <= status < 300:
            return
        data = _body(response)
        message = _status_message(data) or response.reason
        text = f"{what} failed ({status}): {message}"
        retryable = status in RETRYABLE_STATUSES
        error_type = _ERROR_TYPES.get(status, ClusterError)
        raise error_type(text, retryable=retryable, status=status)


_ERROR_TYPES: dict[int, type[ClusterError]] = {
    400: InvalidObjectError,
    404: NotFoundError,
    409: ConflictError,
    410: GoneError,
    422: InvalidObjectError,
}


def _body(response: Any) -> bytes:
    """The whole body of a response (a streamed one is read to its end)."""
    data = response.data
    return bytes(data) if data else b""


def _status_message(data: bytes) -> str:
    try:
        status = json.loads(data)
    except (ValueError, TypeError):
        return data.decode(errors="replace")[:500] if data else ""
    return str(status.get("message", "")) if isinstance(status, dict) else ""


def _lines(response: Any) -> Iterator[bytes]:
    """Split a chunked watch stream into JSON lines."""
    buffer = b""
    for chunk in response.stream(65536, decode_content=True):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield line
    if buffer.strip():
        yield buffer
