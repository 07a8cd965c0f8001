"""The pure YAML edits: only the intended lines change; comments, order and quoting survive."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest
import yaml
from cphelpers import SAMPLE_REPO

from gitops_agent.controlplane.edit import (
    EditError,
    ScaleSpec,
    describe_scale,
    guess_indent,
    needs_quotes,
    set_env,
    set_image,
    set_scale,
)
from gitops_agent.controlplane.scaffold import NewDeployment, SecretRef, render_new
from gitops_agent.manifests import load_repository

DEPLOYMENTS = sorted((SAMPLE_REPO / "deployments").glob("*.yaml"))


def _sample(name: str) -> str:
    return (SAMPLE_REPO / "deployments" / f"{name}.yaml").read_text()


def _changes(before: str, after: str) -> list[str]:
    """Changed lines as +x / -x (like a unified diff with no context)."""
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]


@pytest.mark.parametrize("path", DEPLOYMENTS, ids=lambda p: p.stem)
def test_an_edit_to_the_same_value_gives_back_the_file_byte_for_byte(path: Path) -> None:
    text = path.read_text()
    image = yaml.safe_load(text)["spec"]["image"]
    assert set_image(text, image) == text


@pytest.mark.parametrize("path", DEPLOYMENTS, ids=lambda p: p.stem)
def test_set_image_changes_exactly_one_line(path: Path) -> None:
    text = path.read_text()
    old = yaml.safe_load(text)["spec"]["image"]
    changed = _changes(text, set_image(text, "ghcr.io/example/other:9.9.9"))
    assert changed == [f"-  image: {old}", "+  image: ghcr.io/example/other:9.9.9"]


def test_set_env_sets_in_place_appends_and_keeps_the_comment_that_follows() -> None:
    text = _sample("support-bot")
    after = set_env(text, set_vars={"LOG_LEVEL": "debug", "WORKERS": "4", "FLAG": "on"})
    assert _changes(text, after) == [
        "-    LOG_LEVEL: info",
        "+    LOG_LEVEL: debug",
        '+    WORKERS: "4"',
        '+    FLAG: "on"',
    ]
    lines = after.splitlines()
    flag = lines.index('    FLAG: "on"')
    assert lines[flag + 1].startswith("  # ...credentials stay in Secrets")
    assert yaml.safe_load(after)["spec"]["env"]["WORKERS"] == "4"


def test_set_env_unset_keeps_the_comment_of_the_next_section() -> None:
    text = _sample("support-bot")
    after = set_env(text, set_vars={}, unset=["BG_JOB_TIMEOUT_SECS", "NOT_THERE"])
    assert _changes(text, after) == [
        '-    BG_JOB_TIMEOUT_SECS: "1800"     # values are strings: quote numbers'
    ]
    assert "  # ...credentials stay in Secrets" in after


def test_set_env_adds_a_missing_env_block_in_schema_order_and_removes_an_emptied_one() -> None:
    text = _sample("billing-agent")
    after = set_env(text, set_vars={"LOG_LEVEL": "debug"})
    assert _changes(text, after) == ["+  env:", "+    LOG_LEVEL: debug"]
    keys = list(yaml.safe_load(after)["spec"])
    assert keys.index("resources") < keys.index("env") < keys.index("queue")
    assert set_env(after, set_vars={}, unset=["LOG_LEVEL"]) == text


def test_scale_replaces_fixed_replicas_by_autoscaling_at_the_same_place() -> None:
    text = _sample("billing-agent")
    after = set_scale(text, ScaleSpec(min_replicas=2, max_replicas=8, target_cpu=60))
    assert _changes(text, after) == [
        "-  replicas: 3                 # fixed size, no autoscaler",
        "+  autoscaling:",
        "+    minReplicas: 2",
        "+    maxReplicas: 8",
        "+    targetCPUUtilization: 60",
    ]
    assert describe_scale(after, cpu=True) == "scale 2..8 at 60% CPU"
    assert describe_scale(after) == "scale 2..8"


def test_scale_updates_an_autoscaling_range_in_place() -> None:
    text = _sample("support-bot")
    after = set_scale(text, ScaleSpec(min_replicas=3, max_replicas=9))
    assert _changes(text, after) == [
        "-    minReplicas: 2",
        "-    maxReplicas: 6",
        "+    minReplicas: 3",
        "+    maxReplicas: 9",
    ]
    assert describe_scale(after) == "scale 3..9"


def test_scale_to_fixed_replicas_and_the_queue_workers() -> None:
    text = _sample("support-bot")
    fixed = set_scale(text, ScaleSpec(replicas=4))
    assert _changes(text, fixed) == [
        "-  autoscaling:",
        "-    mode: keda",
        "-    minReplicas: 2",
        "-    maxReplicas: 6",
        "-    targetCPUUtilization: 70",
        "+  replicas: 4",
    ]
    queue = set_scale(text, ScaleSpec(min_replicas=1, max_replicas=12, queue=True))
    assert _changes(text, queue) == [
        "-      minReplicas: 2",
        "-      maxReplicas: 8",
        "+      minReplicas: 1",
        "+      maxReplicas: 12",
    ]
    assert describe_scale(queue, queue=True) == "scale queue 1..12"


def test_scale_errors() -> None:
    with pytest.raises(EditError, match="queue workers are not enabled"):
        set_scale(_sample("billing-agent"), ScaleSpec(replicas=2, queue=True))
    with pytest.raises(EditError, match="needs a maximum"):
        set_scale(_sample("billing-agent"), ScaleSpec(min_replicas=2))


def test_files_that_are_not_deployments_are_refused() -> None:
    with pytest.raises(EditError, match="cannot parse"):
        set_image("spec: [unclosed\n", "a:1")
    with pytest.raises(EditError, match="no `spec` mapping"):
        set_image("kind: AgentDeployment\n", "a:1")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a:\n  b: 1\n  c:\n    - x\n", (2, 4, 2)),
        ("a:\n    b: 1\n    c:\n    - x\n", (4, 2, 0)),
        ("a:\n  b:\n  - x\n", (2, 2, 0)),
        ("a: 1\n", (2, 4, 2)),
    ],
)
def test_guess_indent(text: str, expected: tuple[int, int, int]) -> None:
    assert guess_indent(text) == expected


def test_a_four_space_file_keeps_its_indentation() -> None:
    text = "apiVersion: v1\nspec:\n    image: a/b:1  # pinned\n    tolerations:\n    -   key: x\n"
    assert _changes(text, set_image(text, "a/b:2")) == [
        "-    image: a/b:1  # pinned",
        "+    image: a/b:2  # pinned",
    ]


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("info", False),
        ("ghcr.io/a/b:1.0", False),
        ("1800", True),
        ("on", True),
        ("yes", True),
        ("null", True),
        ("", True),
        ("a b", True),
        ("x: y", True),
        ("#x", True),
        ("1.5", True),
    ],
)
def test_needs_quotes(value: str, quoted: bool) -> None:
    assert needs_quotes(value) is quoted


NEW_CASES = {
    "minimal": NewDeployment(name="triage-bot", image="ghcr.io/example/triage:0.1.0"),
    "everything": NewDeployment(
        name="triage-bot",
        image="ghcr.io/example/triage:0.1.0",
        type="production",
        namespace="agents-staging",
        min_replicas=2,
        max_replicas=5,
        target_cpu=65,
        cpu="250m",
        memory="1Gi",
        env=(("LOG_LEVEL", "info"), ("TIMEOUT", "30")),
        secret_env=(("OPENAI_API_KEY", SecretRef("triage-secrets", "openai")),),
        queue=True,
        ingress_host="triage.example.com",
        postgres_secret=SecretRef("triage-db", "uri"),
        redis_secret=SecretRef("triage-redis", "uri"),
    ),
    "fixed-path": NewDeployment(
        name="triage-bot", image="ghcr.io/example/triage:0.1.0", replicas=3, ingress_path="/triage"
    ),
}


@pytest.mark.parametrize("case", NEW_CASES, ids=list(NEW_CASES))
def test_scaffolded_files_are_valid_and_commented(case: str, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(SAMPLE_REPO, repo)
    text = render_new(NEW_CASES[case])
    (repo / "deployments" / "triage-bot.yaml").write_text(text)
    loaded = load_repository(repo)
    assert loaded.all_problems() == (), loaded.all_problems()
    assert sum(1 for line in text.splitlines() if line.lstrip().startswith("#")) >= 4
    assert max(len(line) for line in text.splitlines()) <= 110


def test_scaffold_refuses_contradictions() -> None:
    with pytest.raises(EditError, match="--path or --host"):
        render_new(NewDeployment(name="x", image="a/b:1", ingress_path="/x", ingress_host="x.example.com"))
    with pytest.raises(EditError, match="not both"):
        render_new(NewDeployment(name="x", image="a/b:1", replicas=2, max_replicas=3))
    with pytest.raises(EditError, match="SECRET:KEY"):
        SecretRef.parse("no-colon", flag="--postgres-secret")
