"""The control-plane API's contract: request/response JSON Schemas and the OpenAPI 3.1 document.

The same schema objects validate request bodies (`api_request`, with jsonschema) and are published at
`/api/v1/openapi.json`, so the documentation cannot drift from what the server accepts. Rules that
span fields (`path` or `host`, `replicas` or `autoscaling`) are checked in code, where the error can
name the field; the documents state them in descriptions. String formats (paths, host names,
quantities, Secret names) are the manifest schema's own; the rest of what a manifest may say (image
references, min ≤ max, reserved names) is left to the repository's validation, which reports
`file:line:column` and the manifest field path.
"""

from __future__ import annotations

import copy
from typing import Any

from gitops_agent.controlplane.verbs import ACTIONS
from gitops_agent.manifests import load_schema

NAME_PATTERN = "^[a-z]([-a-z0-9]*[a-z0-9])?$"
_STR = {"type": "string", "minLength": 1, "maxLength": 512}
MAX_ENTRIES = 1000
"""Most entries in `env`, `secretEnv` or `unsetEnv` (and lines in a UI form's env box). A bound on
what one request costs to check and apply: it is checked before anything else."""
_INT = {"type": "integer", "minimum": 0, "maximum": 1000}


def _manifest(name: str) -> dict[str, Any]:
    """A string format of the manifest schema (`$defs`), so the API accepts what a file may say."""
    found = dict(load_schema("agentdeployment")["$defs"][name])
    found.pop("errorMessage", None)
    return {**found, "type": "string"}


_ENV_NAME = _manifest("envName")
_SECRET_REF = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "key"],
    "properties": {"name": _manifest("resourceName"), "key": _manifest("secretKey")},
    "description": "A key in an existing Secret of the deployment's namespace.",
}
_ENV = {
    "type": "object",
    "description": "Plain environment variables (values are strings; never credentials: use secretEnv).",
    "propertyNames": _ENV_NAME,
    "maxProperties": MAX_ENTRIES,
    "additionalProperties": {"type": "string", "maxLength": 4096},
    "examples": [{"LOG_LEVEL": "debug"}],
}
_AUTOSCALING = {
    "type": "object",
    "additionalProperties": False,
    "required": ["max"],
    "properties": {
        "min": {**_INT, "description": "fewest replicas (default 1)"},
        "max": {**_INT, "description": "most replicas"},
        "targetCPU": {"type": "integer", "minimum": 1, "maximum": 100, "description": "CPU target, %"},
    },
}

CREATE_REQUEST: dict[str, Any] = {
    "type": "object",
    "description": "The fields of `gitops-agent new`. `path` and `host` exclude each other, so do "
    "`replicas` and `autoscaling`, and `managedPostgres`/`postgresSecret` (`managedRedis`/"
    "`redisSecret`). Unset fields are left to the repository's defaults.",
    "additionalProperties": False,
    "required": ["name", "image"],
    "properties": {
        "name": {"type": "string", "pattern": NAME_PATTERN, "minLength": 1, "maxLength": 40},
        "image": {**_STR, "description": "built with `langgraph build`; a tag or a digest"},
        "type": {"type": "string", "enum": ["development", "production"]},
        "namespace": _manifest("namespaceName"),
        "path": {**_manifest("urlPath"), "description": "served under the repository's shared host here"},
        "host": {**_manifest("hostName"), "description": "served on its own host name"},
        "managedPostgres": {"type": "boolean", "description": "Postgres in the cluster (the default)"},
        "postgresSecret": {**_SECRET_REF, "description": "an external Postgres: its URI in a Secret"},
        "managedRedis": {"type": "boolean", "description": "Redis in the cluster (the default)"},
        "redisSecret": {**_SECRET_REF, "description": "an external Redis: its URI in a Secret"},
        "replicas": {**_INT, "description": "fixed replica count"},
        "autoscaling": _AUTOSCALING,
        "cpu": {**_manifest("quantity"), "description": "CPU request per server, e.g. 500m"},
        "memory": {**_manifest("quantity"), "description": "memory request per server, e.g. 1Gi"},
        "env": _ENV,
        "secretEnv": {
            "type": "object",
            "description": "Environment variables read from existing Secrets: NAME → {name, key}.",
            "propertyNames": _ENV_NAME,
            "maxProperties": MAX_ENTRIES,
            "additionalProperties": _SECRET_REF,
        },
        "queue": {"type": "boolean", "description": "run queue workers in their own pods"},
    },
    "examples": [{"name": "support-bot", "image": "ghcr.io/acme/support-bot:1.4.2", "path": "/support-bot"}],
}

REVISION_REQUEST: dict[str, Any] = {
    "type": "object",
    "description": "A new revision: any of image, env changes and scale, in one commit (at least one).",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "image": _STR,
        "env": {**_ENV, "description": "variables to set (added or replaced)"},
        "unsetEnv": {
            "type": "array",
            "description": "variables to remove (absent names are ignored)",
            "maxItems": MAX_ENTRIES,
            "items": _ENV_NAME,
        },
        "scale": {
            "type": "object",
            "description": "A fixed `replicas` count, or an autoscaling range (`min`, `max`, `targetCPU`; "
            "missing ones are kept). `queue: true` scales the queue workers instead.",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {
                "replicas": _INT,
                "min": _INT,
                "max": _INT,
                "targetCPU": {"type": "integer", "minimum": 1, "maximum": 100},
                "queue": {"type": "boolean"},
            },
        },
    },
    "examples": [{"image": "ghcr.io/acme/support-bot:1.5.0"}, {"env": {"LOG_LEVEL": "debug"}}],
}

EDIT_RESULT: dict[str, Any] = {
    "type": "object",
    "required": ["commit", "branch", "message", "deployment", "revision", "changed"],
    "properties": {
        "commit": {"type": "string", "description": "the commit made (for a no-op: the branch head)"},
        "branch": {"type": "string"},
        "message": {"type": "string"},
        "deployment": {"type": "string"},
        "revision": {
            "type": ["integer", "null"],
            "description": "the revision number this deployment has once the agent syncs this commit "
            "(exact: the edited tree is rendered and compared with the recorded history, as the agent "
            "does). A later commit that changes it first makes that one the revision instead. "
            "null after a delete, or when it cannot be computed (the cluster is unreachable).",
        },
        "previousRevision": {"type": ["integer", "null"], "description": "the newest recorded revision"},
        "changed": {"type": "boolean"},
        "changedFiles": {"type": "array", "items": {"type": "string"}},
        "pushed": {"type": "boolean"},
        "rebases": {"type": "integer"},
    },
}

ERRORS: dict[str, Any] = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "file": {
                        "type": ["string", "null"],
                        "description": "the repository file for a manifest problem; null: the request body",
                    },
                    "line": {"type": ["integer", "null"]},
                    "column": {"type": ["integer", "null"]},
                    "field": {
                        "type": "string",
                        "description": "field path: in the body (`scale.min`) or in the file (`spec.image`)",
                    },
                    "message": {"type": "string"},
                },
            },
        }
    },
}
_ERROR = {"type": "object", "properties": {"error": {"type": "string"}}}
ROLLBACK_REQUEST: dict[str, Any] = {
    "type": "object",
    "description": "Restore the deployment's file as it was at this revision of its history (one commit).",
    "required": ["revision"],
    "additionalProperties": False,
    "properties": {"revision": {"type": "integer", "minimum": 1, "examples": [1]}},
}


def openapi_document(*, writes: bool) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the agent's HTTP API (the write operations when enabled)."""
    paths: dict[str, Any] = {
        "/healthz": {"get": _plain("Liveness probe", {"200": "alive"})},
        "/readyz": {"get": _plain("Readiness probe", {"200": "ready", "503": "not ready yet"})},
        "/metrics": {"get": _plain("Prometheus metrics", {"200": "text exposition format"})},
        "/webhook": {"post": _webhook()},
        "/webhook/{provider}": {"post": {**_webhook(), "parameters": [_path_param("provider")]}},
        "/api/v1/status": {"get": _json_get("Source and leadership state", {"type": "object"})},
        "/api/v1/deployments": {"get": _json_get("Every deployment's state", {"type": "object"})},
        "/api/v1/deployments/{name}": {
            "get": {
                **_json_get("One deployment: state, history, last diff", {"type": "object"}, missing=True)
            },
            "parameters": [_path_param("name")],
        },
    }
    if writes:
        paths["/api/v1/deployments"]["post"] = _write(
            "Create a deployment: commit `deployments/<name>.yaml`", "CreateDeployment", "201", conflict=True
        )
        paths["/api/v1/deployments/{name}"]["delete"] = _write(
            "Delete a deployment: commit the removal of its file", None, "200", missing=True
        )
        paths["/api/v1/deployments/{name}/revisions"] = {
            "post": _write(
                "A new revision (image, env, scale): one commit", "NewRevision", "201", missing=True
            ),
            "parameters": [_path_param("name")],
        }
        paths["/api/v1/deployments/{name}/rollback"] = {
            "post": _write(
                "Roll back to a revision's file content: one commit", "Rollback", "201", missing=True
            ),
            "parameters": [_path_param("name")],
        }
        for verb, action in ACTIONS.items():
            paths[f"/api/v1/deployments/{{name}}/{verb}"] = {
                "post": _write(action.summary, None, "201", missing=True),
                "parameters": [_path_param("name")],
            }
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "gitops-agent",
            "version": "1",
            "description": "The agent's HTTP API. Writes are commits to the deployments repository "
            "(Git stays the source of truth); the agent then rolls them out. Write operations need "
            "`Authorization: Bearer <token>` and exist only when an API token is configured.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": copy.deepcopy(
                {
                    "CreateDeployment": CREATE_REQUEST,
                    "NewRevision": REVISION_REQUEST,
                    "Rollback": ROLLBACK_REQUEST,
                    "EditResult": EDIT_RESULT,
                    "ValidationErrors": ERRORS,
                }
            ),
        },
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _path_param(name: str) -> dict[str, Any]:
    example = {"name": "support-bot", "provider": "github"}[name]
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}, "example": example}


def _plain(summary: str, statuses: dict[str, str]) -> dict[str, Any]:
    return {
        "summary": summary,
        "responses": {
            code: {"description": text, "content": {"text/plain": {"schema": {"type": "string"}}}}
            for code, text in statuses.items()
        },
    }


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _json_get(summary: str, schema: dict[str, Any], *, missing: bool = False) -> dict[str, Any]:
    responses = {"200": _json("OK", schema)}
    if missing:
        responses["404"] = _json("no such deployment", _ERROR)
    return {"summary": summary, "responses": responses}


def _webhook() -> dict[str, Any]:
    result = {"type": "object", "properties": {"result": {"type": "string"}}}
    return {
        "summary": "Push webhook (GitHub, GitLab, Gitea/Forgejo, Bitbucket): fetch now",
        "description": "Signed with the webhook secret; 404 when webhooks are off.",
        "requestBody": {"content": {"application/json": {"schema": {}}}},
        "responses": {
            "202": _json("accepted or ignored (another branch, another event)", result),
            "400": _json("not a push event the agent understands", result),
            "401": _json("missing or bad signature", result),
            "404": {"description": "webhooks are disabled"},
            "409": _json("a replayed delivery", result),
            "413": {"description": "body too large"},
        },
    }


def _write(
    summary: str,
    body: str | None,
    success: str,
    *,
    conflict: bool = False,
    missing: bool = False,
) -> dict[str, Any]:
    responses: dict[str, Any] = {
        success: _json("committed and pushed (200: nothing to change, no commit)", _ref("EditResult")),
        "401": _json("no valid bearer token (`WWW-Authenticate: Bearer`); nothing was written", _ERROR),
        "409": _json("exists already / the push conflicted with another commit", _ERROR),
        "422": _json(
            "invalid request, or the edit would make the repository invalid; nothing was written",
            _ref("ValidationErrors"),
        ),
        "503": _json("the repository could not be reached; nothing was written", _ERROR),
    }
    if success == "201":
        responses["200"] = responses[success]
    if body is not None:
        responses["400"] = _json("the body is not valid JSON", _ERROR)
        responses["413"] = {"description": "body too large (over 1 MiB)"}
    if missing:
        responses["404"] = _json("no such deployment", _ERROR)
    if not conflict:
        responses["409"]["description"] = "the push conflicted with another commit"
    operation: dict[str, Any] = {"summary": summary, "security": [{"bearer": []}], "responses": responses}
    if body is not None:
        schema = {"$ref": f"#/components/schemas/{body}"}
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    return operation
