"""How the LangGraph Server pods start, stay alive and stop, checked against what the server and
LangChain's `langgraph-cloud` chart do (the citations are in `render_agent`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitops_agent.manifests import load_repository, render_unit

from .helpers import SETTINGS, deployment, write_repo

SEED = b"test-seed"


def _objects(root: Path, unit: str = "a") -> dict[str, dict[str, Any]]:
    loaded = load_repository(root)
    assert loaded.settings is not None
    assert loaded.valid, [str(p) for p in loaded.all_problems()]
    target = loaded.unit(unit)
    assert target is not None
    return {str(o.key): o.manifest for o in render_unit(target, loaded.settings, secret_seed=SEED).objects}


def _render(tmp_path: Path, spec: str, *, settings: str | None = None) -> dict[str, dict[str, Any]]:
    files = {"deployments/a.yaml": deployment("a", spec)}
    return _objects(
        write_repo(tmp_path, files) if settings is None else write_repo(tmp_path, files, settings=settings)
    )


def _container(objects: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    container: dict[str, Any] = objects[f"Deployment/agents/{name}"]["spec"]["template"]["spec"][
        "containers"
    ][0]
    return container


def _problems(tmp_path: Path, spec: str) -> list[str]:
    return [
        str(p)
        for p in load_repository(
            write_repo(tmp_path, {"deployments/a.yaml": deployment("a", spec)})
        ).all_problems()
    ]


# -- How queue workers start -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "command"),
    [
        ("queue: {enabled: true}\n", ["/storage/queue_entrypoint.sh"]),
        (
            "queue: {enabled: true, command: [python, -m, langgraph_api.queue_entrypoint]}\n",
            ["python", "-m", "langgraph_api.queue_entrypoint"],
        ),
        ("queue: {enabled: true, command: [/app/start-worker]}\n", ["/app/start-worker"]),
    ],
    ids=["licensed-image-script", "python-only-image", "custom-script"],
)
def test_queue_workers_start_with_the_images_script_unless_overridden(
    tmp_path: Path, spec: str, command: list[str]
) -> None:
    objects = _render(tmp_path, spec)
    assert _container(objects, "a-queue")["command"] == command
    assert "command" not in _container(objects, "a")  # the API server keeps the image's entrypoint


@pytest.mark.parametrize("command", ["[]", "['']", "python"], ids=["empty", "empty-word", "not-a-list"])
def test_a_queue_command_must_be_a_non_empty_list_of_words(tmp_path: Path, command: str) -> None:
    problems = _problems(tmp_path, f"queue: {{enabled: true, command: {command}}}\n")
    assert problems, "expected a validation problem"
    assert all("spec.queue.command" in p for p in problems), problems


# -- Probes ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("deployment_name", "probe", "path"),
    [
        ("a-queue", "livenessProbe", "/ok?check_db=0"),  # a database blip does not restart workers
        ("a-queue", "readinessProbe", "/ok"),
        ("a-queue", "startupProbe", "/ok"),
        ("a", "livenessProbe", "/ok"),  # the API server's /ok skips the database by default
        ("a", "readinessProbe", "/ok"),
        ("a", "startupProbe", "/ok"),
    ],
)
def test_queue_liveness_does_not_check_the_database(
    tmp_path: Path, deployment_name: str, probe: str, path: str
) -> None:
    container = _container(_render(tmp_path, "queue: {enabled: true}\n"), deployment_name)
    assert container[probe]["httpGet"] == {"path": path, "port": "http"}


# -- Termination grace -------------------------------------------------------------------------------


def _grace(objects: dict[str, dict[str, Any]], name: str) -> int:
    grace: int = objects[f"Deployment/agents/{name}"]["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"
    ]
    return grace


@pytest.mark.parametrize(
    ("spec", "api", "queue"),
    [
        # The API server's 10 s drain (its preStop) comes first: the hook counts against the grace.
        ("", 10 + 190, None),  # the server's default wait (180 s) plus the margin
        ("env: {BG_JOB_SHUTDOWN_GRACE_PERIOD_SECS: '600'}\n", 10 + 610, None),
        ("env: {BG_JOB_SHUTDOWN_GRACE_PERIOD_SECS: '0'}\n", 10 + 10, None),
        ("queue: {enabled: true}\n", 10 + 30, 190),
        ("queue: {enabled: true}\nenv: {BG_JOB_SHUTDOWN_GRACE_PERIOD_SECS: '3600'}\n", 10 + 30, 3610),
    ],
    ids=["default", "longer", "zero", "queue-default", "queue-longer"],
)
def test_termination_grace_follows_the_servers_job_shutdown_wait(
    tmp_path: Path, spec: str, api: int, queue: int | None
) -> None:
    objects = _render(tmp_path, spec)
    assert _grace(objects, "a") == api
    if queue is not None:
        assert _grace(objects, "a-queue") == queue


@pytest.mark.parametrize("value", ["'3m'", "'-5'", "''", "'1.5'"])
def test_a_job_shutdown_wait_must_be_whole_seconds(tmp_path: Path, value: str) -> None:
    problems = _problems(tmp_path, f"env: {{BG_JOB_SHUTDOWN_GRACE_PERIOD_SECS: {value}}}\n")
    assert len(problems) == 1, problems
    assert "spec.env.BG_JOB_SHUTDOWN_GRACE_PERIOD_SECS" in problems[0]


# -- LangSmith tracing -------------------------------------------------------------------------------

LICENSE_ONLY = SETTINGS.replace(
    "langsmith:\n  apiKeySecret: {name: langsmith, key: api-key}\n",
    "langsmith:\n  licenseKeySecret: {name: lic, key: key}\n",
)


def _tracing(objects: dict[str, dict[str, Any]], name: str) -> str | None:
    env = {e["name"]: e.get("value") for e in _container(objects, name)["env"]}
    return env.get("LANGSMITH_TRACING")


@pytest.mark.parametrize(
    ("settings", "spec", "tracing"),
    [
        (SETTINGS, "", "true"),  # the settings' API key
        (SETTINGS, "langsmith: {tracing: false}\n", "false"),
        (LICENSE_ONLY, "", "false"),  # a license key starts the server but cannot trace
        (LICENSE_ONLY, "langsmith: {apiKeySecret: {name: own, key: k}}\n", "true"),
        (LICENSE_ONLY, "secretEnv:\n  - {name: LANGSMITH_API_KEY, secret: own, key: k}\n", "true"),
        (LICENSE_ONLY, "secretEnv:\n  - {name: LANGCHAIN_API_KEY, secret: own, key: k}\n", "true"),
        (LICENSE_ONLY, "env: {LANGSMITH_TRACING: 'true'}\n", "true"),  # the file's own word is kept
    ],
    ids=["api-key", "off", "license-only", "own-api-key", "own-secret-env", "legacy-name", "own-env"],
)
def test_tracing_is_on_only_when_an_api_key_is_wired(
    tmp_path: Path, settings: str, spec: str, tracing: str
) -> None:
    objects = _render(tmp_path, f"queue: {{enabled: true}}\n{spec}", settings=settings)
    assert _tracing(objects, "a") == tracing
    assert _tracing(objects, "a-queue") == tracing


# -- Rolling updates ---------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["", "queue: {enabled: true}\n"], ids=["api-runs-jobs", "with-queue"])
def test_a_rollout_never_drops_a_serving_pod(tmp_path: Path, spec: str) -> None:
    objects = _render(tmp_path, spec)
    api = objects["Deployment/agents/a"]
    assert api["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    container = _container(objects, "a")
    assert container["readinessProbe"]["httpGet"]["path"] == "/ok"  # what the rollout waits for
    # The Service drains before SIGTERM: a sleep action, so no `sleep` binary is needed in the image.
    assert container["lifecycle"] == {"preStop": {"sleep": {"seconds": 10}}}
    assert _grace(objects, "a") > container["lifecycle"]["preStop"]["sleep"]["seconds"]


def test_queue_workers_have_no_service_to_drain(tmp_path: Path) -> None:
    objects = _render(tmp_path, "queue: {enabled: true}\n")
    assert "lifecycle" not in _container(objects, "a-queue")  # SIGTERM at once starts the job wait
    strategy = objects["Deployment/agents/a-queue"]["spec"]["strategy"]["rollingUpdate"]
    assert strategy == {"maxSurge": 1, "maxUnavailable": 0}
