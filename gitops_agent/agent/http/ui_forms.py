"""The UI's forms → the control-plane API's request bodies, and its errors → the form's fields.

A form post is turned into exactly the JSON body the HTTP API takes (`api_schema`), so both are
checked by the same schema and the same code, and make the same commit. What comes back — a body
field (`autoscaling.max`), or a manifest field from the repository's validation (`spec.image`, with
file and line) — is put next to the form field that holds it; what no field holds goes on top.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitops_agent.agent.http.api_schema import MAX_ENTRIES

Form = dict[str, str]
"""A posted form: name → value (the last one, when a name repeats)."""
MAX_FORM_FIELDS = 64
"""Most fields a form post may have (the new-deployment form has 21): more is refused unread."""


@dataclass
class FormError(Exception):
    """What is wrong with a form: messages per form field, and those that belong to none."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def add(self, form_field: str, message: str) -> None:
        if form_field:
            self.fields.setdefault(form_field, []).append(message)
        else:
            self.general.append(message)

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)


class TooManyFieldsError(ValueError):
    """A form post with more than MAX_FORM_FIELDS fields (nothing of it is read)."""


def parse_form(body: bytes) -> Form:
    """An `application/x-www-form-urlencoded` body (blank values kept: a cleared field means unset);
    TooManyFieldsError past MAX_FORM_FIELDS fields."""
    try:
        pairs = urllib.parse.parse_qsl(
            body.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
        )
    except ValueError as err:
        raise TooManyFieldsError(f"a form has at most {MAX_FORM_FIELDS} fields") from err
    return {key: value.replace("\r\n", "\n") for key, value in pairs}


# -- create -------------------------------------------------------------------------------------


def create_body(form: Mapping[str, str]) -> dict[str, Any]:
    """The `POST /api/v1/deployments` body of the new-deployment form; FormError for what cannot be
    read at all (a number that is not one, an env line without `=`)."""
    errors = FormError()
    body: dict[str, Any] = {"name": _text(form, "name"), "image": _text(form, "image")}
    for key in ("type", "namespace", "path", "host", "cpu", "memory"):
        if _text(form, key):
            body[key] = _text(form, key)
    for what in ("postgres", "redis"):
        _backing(form, what, body, errors)
    replicas = _number(form, "replicas", errors)
    if replicas is not None:
        body["replicas"] = replicas
    autoscaling = {
        key: value
        for key, form_key in (("min", "min"), ("max", "max"), ("targetCPU", "target_cpu"))
        if (value := _number(form, form_key, errors)) is not None
    }
    if autoscaling:
        body["autoscaling"] = autoscaling
    env = _env_lines(form.get("env", ""), "env", errors)
    if env:
        body["env"] = env
    secret_env = _secret_env_lines(form.get("secret_env", ""), errors)
    if secret_env:
        body["secretEnv"] = secret_env
    if form.get("queue") == "on":
        body["queue"] = True
    if errors:
        raise errors
    return body


def _backing(form: Mapping[str, str], what: str, body: dict[str, Any], errors: FormError) -> None:
    """`managed` (the default) or `external` with `secret/key` holding the URI."""
    choice = form.get(what, "managed")
    if choice != "external":
        return
    ref = _text(form, f"{what}_secret")
    name, slash, key = ref.partition("/")
    if not slash or not name or not key:
        errors.add(f"{what}_secret", "give the Secret holding the URI as `secret-name/key`")
        return
    body[f"managed{what.title()}"] = False
    body[f"{what}Secret"] = {"name": name.strip(), "key": key.strip()}


# -- revise -------------------------------------------------------------------------------------


def revision_body(
    form: Mapping[str, str], current_image: str, current_env: Mapping[str, str]
) -> dict[str, Any]:
    """The `POST …/revisions` body of the revision form: the env box holds the whole plain env, so
    its difference from `current_env` is what is set and unset; an unchanged image is left out."""
    errors = FormError()
    body: dict[str, Any] = {}
    image = _text(form, "image")
    if image and image != current_image:
        body["image"] = image
    wanted = _env_lines(form.get("env", ""), "env", errors)
    changed = {k: v for k, v in wanted.items() if current_env.get(k) != v}
    removed = [k for k in current_env if k not in wanted]
    if changed:
        body["env"] = changed
    if removed:
        body["unsetEnv"] = removed
    scale = {
        key: value
        for key, form_key in (
            ("replicas", "replicas"),
            ("min", "min"),
            ("max", "max"),
            ("targetCPU", "target_cpu"),
        )
        if (value := _number(form, form_key, errors)) is not None
    }
    if scale:
        body["scale"] = {**scale, **({"queue": True} if form.get("queue") == "on" else {})}
    if errors:
        raise errors
    if not body:
        errors.add("", "nothing to change: edit the image, the environment or the scale")
        raise errors
    return body


def env_text(env: Mapping[str, str]) -> str:
    """A plain env mapping as the form's box shows it: one `NAME=value` per line."""
    return "".join(f"{k}={v}\n" for k, v in env.items())


# -- errors → fields ----------------------------------------------------------------------------

_FIELDS: tuple[tuple[str, str], ...] = (
    # request body fields (both forms)
    ("autoscaling.targetCPU", "target_cpu"),
    ("autoscaling.min", "min"),
    ("autoscaling", "max"),
    ("scale.targetCPU", "target_cpu"),
    ("scale.min", "min"),
    ("scale.max", "max"),
    ("scale", "replicas"),
    ("managedPostgres", "postgres"),
    ("postgresSecret", "postgres_secret"),
    ("managedRedis", "redis"),
    ("redisSecret", "redis_secret"),
    ("secretEnv", "secret_env"),
    ("unsetEnv", "env"),
    # manifest fields (the repository's validation)
    ("metadata.name", "name"),
    ("metadata.namespace", "namespace"),
    ("spec.ingress.path", "path"),
    ("spec.ingress.host", "host"),
    ("spec.autoscaling.minReplicas", "min"),
    ("spec.autoscaling.maxReplicas", "max"),
    ("spec.autoscaling.targetCPUUtilizationPercentage", "target_cpu"),
    ("spec.autoscaling", "max"),
    ("spec.resources.requests.cpu", "cpu"),
    ("spec.resources.requests.memory", "memory"),
    ("spec.secretEnv", "secret_env"),
    ("spec.postgres", "postgres"),
    ("spec.redis", "redis"),
    ("spec.", ""),
)
_PLAIN = ("name", "image", "type", "namespace", "path", "host", "replicas", "cpu", "memory", "env", "queue")


def form_field(path: str, known: frozenset[str]) -> str:
    """The form field that holds a body or manifest field path ("": none of this form's)."""
    for prefix, target in _FIELDS:
        if path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "["):
            return target if target in known else ""
    head = path.removeprefix("spec.").split(".")[0].split("[")[0]
    return head if head in _PLAIN and head in known else ""


def add_problem(errors: FormError, problem: Mapping[str, Any], known: frozenset[str]) -> None:
    """One API problem (`{file, line, column, field, message}`) on its field, with file:line if any."""
    where = ""
    if problem.get("file"):
        where = ":".join(str(p) for p in (problem["file"], problem.get("line"), problem.get("column")) if p)
        where += ": "
    path = str(problem.get("field") or "")
    target = form_field(path, known)
    label = f"{path}: " if path and not target else ""
    errors.add(target, f"{where}{label}{problem.get('message', '')}")


# -- helpers ------------------------------------------------------------------------------------


def _text(form: Mapping[str, str], key: str) -> str:
    return form.get(key, "").strip()


def _number(form: Mapping[str, str], key: str, errors: FormError) -> int | None:
    text = _text(form, key)
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        errors.add(key, f"{text!r} is not a whole number")
        return None


def _env_lines(text: str, form_field_name: str, errors: FormError) -> dict[str, str]:
    """`NAME=value` lines (blank lines and `#` comments skipped) → a mapping, in order; more than
    MAX_ENTRIES lines are refused before any is read (what the API would refuse, but cheaper)."""
    env: dict[str, str] = {}
    lines = text.splitlines()
    if len(lines) > MAX_ENTRIES:
        errors.add(form_field_name, f"at most {MAX_ENTRIES:,} lines; got {len(lines):,}")
        return env
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, eq, value = line.partition("=")
        if not eq or not name.strip():
            errors.add(form_field_name, f"line {number}: write NAME=value")
            continue
        if name.strip() in env:
            errors.add(form_field_name, f"line {number}: {name.strip()} is given twice")
        env[name.strip()] = value
    return env


def _secret_env_lines(text: str, errors: FormError) -> dict[str, dict[str, str]]:
    """`NAME=secret-name/key` lines → `{NAME: {name, key}}`."""
    refs: dict[str, dict[str, str]] = {}
    for name, ref in _env_lines(text, "secret_env", errors).items():
        secret, slash, key = ref.strip().partition("/")
        if not slash or not secret or not key:
            errors.add("secret_env", f"{name}: write NAME=secret-name/key")
            continue
        refs[name] = {"name": secret, "key": key}
    return refs


__all__ = [
    "MAX_FORM_FIELDS",
    "Form",
    "FormError",
    "TooManyFieldsError",
    "add_problem",
    "create_body",
    "env_text",
    "form_field",
    "parse_form",
    "revision_body",
]
