"""LangGraph Server built here, with no registry pull: the offline stand-in for the licensed
`langchain/langgraph-api` image (hack/images/langgraph-api, built by
gitops_agent.localcluster.images), and the real `langgraph build` (langgraph-cli, calling Debian's
podman-docker as `docker`) of a sample graph app on top of it, the way a team builds its app image.

The app image then runs with podman, its port published on 127.0.0.1 only: the API server answers
GET /ok and the chart's probe script, and one run of the graph through langgraph_sdk returns the
graph's answer; the queue worker (`/storage/queue_entrypoint.sh`) answers its own /ok.

Each build step's time goes to stderr, past pytest's capture, so CI logs show it. A warm run builds
nothing new: the images are found by content hash, and `langgraph build` reuses podman's layers.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from langgraph_sdk import get_sync_client

from gitops_agent.localcluster.cluster import free_port
from gitops_agent.localcluster.images import LANGGRAPH_API_TAG, Podman, Say, langgraph_api_image, run

APP = Path(__file__).resolve().parents[1] / "fixtures" / "langgraph-app"
APP_IMAGE = "localhost/gitops-agent-langgraph-sample:test"
PODMAN_DOCKER = Path("/usr/bin/docker")
"""Debian's podman-docker (hack/setup.sh): `exec podman "$@"`. Another `docker` may come first on
PATH (a Docker client without a daemon), so `langgraph build` gets a PATH that finds this one."""
CONTAINER_PORT = "8000"  # the image's PORT, as the chart sets it

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="session")
def say(pytestconfig: pytest.Config) -> Say:
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")

    def say_past_capture(line: str) -> None:
        with capture.global_and_fixture_disabled():
            print(f"[langgraph-image] {line}", file=sys.stderr, flush=True)

    return say_past_capture


@pytest.fixture(scope="session")
def lg_podman(tmp_path_factory: pytest.TempPathFactory) -> Podman:
    return Podman(tmp_path_factory.mktemp("lg-podman"))


@pytest.fixture(scope="session")
def server_image(lg_podman: Podman, tmp_path_factory: pytest.TempPathFactory, say: Say) -> str:
    started = time.monotonic()
    image = langgraph_api_image(lg_podman, tmp_path_factory.mktemp("lg-build"), say)
    say(f"LangGraph Server image {image} ready in {time.monotonic() - started:.1f}s")
    return image


@pytest.fixture(scope="session")
def app_image(
    server_image: str, lg_podman: Podman, tmp_path_factory: pytest.TempPathFactory, say: Say
) -> str:
    assert PODMAN_DOCKER.exists(), f"{PODMAN_DOCKER} missing: install Debian's podman-docker (hack/setup.sh)"
    shims = tmp_path_factory.mktemp("docker-shim")
    (shims / "docker").symlink_to(PODMAN_DOCKER)
    env = {**lg_podman.env, "PATH": f"{shims}:{lg_podman.env['PATH']}"}
    before = image_id(lg_podman, APP_IMAGE)
    started = time.monotonic()
    run(str(Path(sys.executable).with_name("langgraph")), "build", "--no-pull", "--tag", APP_IMAGE,
        "--config", str(APP / "langgraph.json"), cwd=APP, env=env, timeout=600)  # fmt: skip
    reused = "the same image, every layer reused" if image_id(lg_podman, APP_IMAGE) == before else "new"
    say(f"app image {APP_IMAGE} (langgraph build): {reused}, {time.monotonic() - started:.1f}s")
    return APP_IMAGE


def image_id(podman: Podman, image: str) -> str | None:
    if not podman.exists(image):
        return None
    return podman("image", "inspect", "--format", "{{.Id}}", image).stdout.strip()


@contextmanager
def container(podman: Podman, image: str, *args: str) -> Iterator[tuple[str, int]]:
    """A detached container with CONTAINER_PORT published on a free 127.0.0.1 port: (name, port);
    removed on exit."""
    name, port = f"gitops-agent-lg-{secrets.token_hex(4)}", free_port()
    try:
        podman(
            "run", "--detach", "--name", name, "--publish", f"127.0.0.1:{port}:{CONTAINER_PORT}", *args, image
        )
        yield name, port
    finally:
        subprocess.run(["podman", "rm", "--force", name], env=podman.env, capture_output=True, check=False)


def wait_for_ok(podman: Podman, name: str, port: int, timeout: float = 60) -> tuple[dict[str, object], float]:
    """GET http://127.0.0.1:<port>/ok until it answers 200: (its JSON body, seconds waited)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ok", timeout=2) as response:
                return json.loads(response.read()), time.monotonic() - started
        except OSError:
            time.sleep(0.2)
    logs = subprocess.run(
        ["podman", "logs", name], env=podman.env, capture_output=True, text=True, check=False
    )
    raise AssertionError(
        f"no /ok from {name} after {timeout:.0f}s; logs:\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}"
    )


def test_langgraph_build_bases_an_app_on_the_tag_the_stand_in_carries(
    server_image: str, tmp_path: Path
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    run(str(Path(sys.executable).with_name("langgraph")), "dockerfile", str(dockerfile),
        "--config", str(APP / "langgraph.json"), cwd=APP)  # fmt: skip
    [from_line] = [line for line in dockerfile.read_text().splitlines() if line.startswith("FROM ")]
    assert f"localhost/{from_line.removeprefix('FROM ')}" == server_image == LANGGRAPH_API_TAG


def test_the_app_image_serves_ok_and_runs_the_graph_once(app_image: str, lg_podman: Podman, say: Say) -> None:
    with container(lg_podman, app_image, "--env", "GREETING=hello") as (name, port):
        body, waited = wait_for_ok(lg_podman, name, port)
        assert body["ok"] is True
        rss = lg_podman("exec", name, "grep", "VmRSS", "/proc/1/status").stdout.split()[1]
        say(f"API server: /ok {waited:.1f}s after start, {int(rss) // 1024} MiB RSS")

        lg_podman("exec", name, "python", "/api/healthcheck.py")  # the chart's probe command
        client = get_sync_client(url=f"http://127.0.0.1:{port}")
        [assistant] = client.assistants.search(graph_id="agent")
        thread = client.threads.create()
        answer = client.runs.wait(
            thread["thread_id"], assistant["assistant_id"], input={"question": "gitops"}
        )
        assert answer == {"question": "gitops", "answer": "hello: spotig"}
        [run_record] = client.runs.list(thread["thread_id"])
        assert run_record["status"] == "success"


def test_the_queue_entrypoint_answers_its_health_check(app_image: str, lg_podman: Podman, say: Say) -> None:
    entrypoint = "/storage/queue_entrypoint.sh"  # the chart's queue container command
    with container(lg_podman, app_image, "--entrypoint", entrypoint) as (name, port):
        body, waited = wait_for_ok(lg_podman, name, port)
        assert body == {"status": "ok"}
        say(f"queue worker: /ok {waited:.1f}s after start")
