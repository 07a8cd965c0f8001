"""Repository loading and semantic validation beyond the fixture table."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_agent.manifests import DeploymentType, Problem, load_repository
from gitops_agent.manifests.model import External, ManagedPostgres
from gitops_agent.manifests.syntax import ImageRef, parse_image, parse_quantity, quantity_string

from .helpers import SAMPLE_REPO, SETTINGS, deployment, write_repo


def _problems(root: Path) -> list[str]:
    return [str(p) for p in load_repository(root).all_problems()]


def test_sample_repo_is_valid_and_sorted() -> None:
    loaded = load_repository(SAMPLE_REPO)
    assert loaded.valid, _problems(SAMPLE_REPO)
    assert [u.name for u in loaded.units] == [
        "billing-agent",
        "manifests",
        "research-assistant",
        "support-bot",
    ]
    support = loaded.unit("support-bot")
    assert support is not None and support.deployment is not None
    assert support.files == ("deployments/support-bot.yaml",)
    assert support.deployment.type is DeploymentType.PRODUCTION
    assert support.deployment.scale.autoscaling is not None
    assert isinstance(support.deployment.postgres, ManagedPostgres)
    billing = loaded.unit("billing-agent")
    assert billing is not None and billing.deployment is not None
    assert isinstance(billing.deployment.postgres, External)
    manifests = loaded.unit("manifests")
    assert manifests is not None and len(manifests.plain_objects) == 3
    assert loaded.settings is not None and loaded.settings.sync.prune.max_share == 0.5


def test_defaults_come_from_settings(tmp_path: Path) -> None:
    settings = SETTINGS + "defaults:\n  type: production\n  resources: {requests: {cpu: 250m}}\n"
    settings += "  postgres: {storage: 5Gi, storageClassName: fast}\nsync: {autoRollback: false}\n"
    loaded = load_repository(write_repo(tmp_path, {"deployments/x.yaml": deployment("x")}, settings=settings))
    assert loaded.valid, _problems(tmp_path)
    dep = loaded.units[0].deployment
    assert dep is not None
    assert dep.type is DeploymentType.PRODUCTION
    assert dep.scale.replicas == 2
    assert dep.resources.cpu_request == "250m" and dep.resources.memory_limit is None
    assert isinstance(dep.postgres, ManagedPostgres)
    assert (dep.postgres.storage, dep.postgres.storage_class_name) == ("5Gi", "fast")
    assert dep.auto_rollback is False
    assert dep.queue.resources == dep.resources
    assert dep.namespace == "agents"


def test_one_invalid_file_never_hides_the_others(tmp_path: Path) -> None:
    files = {
        "deployments/broken.yaml": "apiVersion: [\n",
        "deployments/bad.yaml": deployment("bad", "replicas: -1\n"),
        "deployments/good.yaml": deployment("good"),
        "deployments/README.md": "not yaml at all: [",
        "deployments/.hidden.yaml": "[",
    }
    loaded = load_repository(write_repo(tmp_path, files))
    units = {u.name: u for u in loaded.units}
    assert sorted(units) == ["bad", "broken", "good"]
    assert units["good"].valid and units["good"].deployment is not None
    assert [p.field for p in units["bad"].problems] == ["spec.replicas"]
    assert units["broken"].problems[0].file == "deployments/broken.yaml"
    assert not loaded.valid


def test_yaml_and_yml_of_one_name_are_merged_into_one_invalid_unit(tmp_path: Path) -> None:
    files = {"deployments/x.yaml": deployment("x"), "deployments/x.yml": deployment("x")}
    loaded = load_repository(write_repo(tmp_path, files))
    (unit,) = loaded.units
    assert unit.files == ("deployments/x.yaml", "deployments/x.yml")
    assert not unit.valid and unit.deployment is None


def test_manifests_name_is_reserved(tmp_path: Path) -> None:
    loaded = load_repository(write_repo(tmp_path, {"deployments/manifests.yaml": deployment("manifests")}))
    (unit,) = loaded.units
    assert unit.name == "manifests" and not unit.valid
    assert any("reserved" in p.message for p in unit.problems)


def test_duplicate_name_without_owner_flags_every_file(tmp_path: Path) -> None:
    files = {"deployments/a.yaml": deployment("c"), "deployments/b.yaml": deployment("c")}
    loaded = load_repository(write_repo(tmp_path, files))
    assert all(not u.valid for u in loaded.units)
    duplicate = [p for p in loaded.problems if "also defined" in p.message]
    assert sorted(p.file for p in duplicate) == ["deployments/a.yaml", "deployments/b.yaml"]
    assert set(duplicate) <= set(loaded.all_problems())


@pytest.mark.parametrize(
    ("spec", "field", "fragment"),
    [
        ("image: ghcr.io/Example/x:1.0.0\n", "spec.image", "must be lowercase"),
        ("image: ghcr.io/example/x@sha256:abc\n", "spec.image", "invalid digest"),
        ("image: 'ghcr.io/example/x:bad tag'\n", "spec.image", "invalid tag"),
        (
            "env: {A: b}\nsecretEnv: [{name: A, secret: s, key: k}]\n",
            "spec.secretEnv[0].name",
            "also set in spec.env",
        ),
        (
            "secretEnv: [{name: A, secret: s, key: k}, {name: A, secret: s, key: j}]\n",
            "spec.secretEnv[1].name",
            "more than once",
        ),
        (
            "queue: {enabled: true, autoscaling: {maxReplicas: 3}, resources: {requests: {memory: 1Gi}}}\n",
            "spec.queue.autoscaling",
            "needs a CPU request",
        ),
        ("ingress: {host: agents.example.com}\n", "spec.ingress.host", "this is the shared host"),
        ("ingress: {host: x.example.org, path: /noauth/x}\n", "spec.ingress.path", "reserved by LangGraph"),
        ("ingress: {path: /a/}\n", "spec.ingress.path", "no trailing '/'"),
        (
            "postgres: {managed: {}, external: {uriSecret: {name: a, key: b}}}\n",
            "spec.postgres",
            "exactly one of",
        ),
        ("postgres: {managed: {storage: 100Ki}}\n", "spec.postgres.managed.storage", "too small"),
        ("postgres: {managed: {image: 'postgres'}}\n", "spec.postgres.managed.image", "no tag or digest"),
        ("labels: {team: 'has space'}\n", "spec.labels.team", "must be a label value"),
        ("labels: {'bad key!': x}\n", 'spec.labels["bad key!"]', "invalid name"),
        (
            "tolerations: [{operator: Sometimes}]\n",
            "spec.tolerations[0].operator",
            "must be one of Equal, Exists",
        ),
        ("resources: {requests: {cpu: -1}}\n", "spec.resources.requests.cpu", "at least 0"),
    ],
)
def test_semantic_problems(tmp_path: Path, spec: str, field: str, fragment: str) -> None:
    text = deployment("x")
    if spec.startswith("image:"):
        text = text.replace("  image: ghcr.io/example/x:1.0.0\n", "")
    loaded = load_repository(
        write_repo(tmp_path, {"deployments/x.yaml": text + "  " + spec.replace("\n", "\n  ")})
    )
    problems = loaded.all_problems()
    assert [p.field for p in problems] == [field], [str(p) for p in problems]
    assert fragment in problems[0].message


@pytest.mark.parametrize(
    "spec",
    [
        "type: production\nimage: ghcr.io/example/x@sha256:" + "a" * 64 + "\n",
        "type: development\nimage: ghcr.io/example/x:latest\n",
        "image: localhost:5000/team/x:1.0\n",
        "image: x:1\n",
        "resources: {requests: {cpu: 1, memory: 512Mi}, limits: {cpu: 1.5, memory: 1Gi}}\n",
        "autoscaling: {maxReplicas: 3}\n",
        "ingress: {host: x.example.org, path: /api, tls: {secretName: x-tls}}\n",
        "ingress: {path: /}\n",
        "replicas: 0\n",
        "queue: {enabled: false, jobsPerWorker: 3}\n",
        "env: {WHEN: 2024-01-01, EMPTY: ''}\n",
    ],
)
def test_valid_variants(tmp_path: Path, spec: str) -> None:
    text = deployment("x")
    if "image:" in spec:
        text = text.replace("  image: ghcr.io/example/x:1.0.0\n", "")
    loaded = load_repository(
        write_repo(tmp_path, {"deployments/x.yaml": text + "  " + spec.replace("\n", "\n  ")})
    )
    assert loaded.valid, _problems(tmp_path)


def test_namespace_from_allowed_list(tmp_path: Path) -> None:
    text = deployment("x").replace("  name: x\n", "  name: x\n  namespace: agents-staging\n")
    loaded = load_repository(write_repo(tmp_path, {"deployments/x.yaml": text}))
    assert loaded.valid
    assert loaded.units[0].deployment is not None and loaded.units[0].deployment.namespace == "agents-staging"


def test_repository_without_anything_to_deploy(tmp_path: Path) -> None:
    loaded = load_repository(write_repo(tmp_path, {}))
    assert loaded.units == ()
    assert [p.message for p in loaded.problems] == [
        "neither deployments/ nor manifests/ exists: nothing to deploy"
    ]
    missing = load_repository(tmp_path / "nope")
    assert missing.settings is None and "not found" in missing.problems[0].message


def test_plain_manifests_checks(tmp_path: Path) -> None:
    files = {
        "manifests/a.yaml": "apiVersion: v1\nkind: ConfigMapList\nitems: []\nmetadata: {name: l}\n",
        "manifests/b.yaml": "kind: ConfigMap\nmetadata: {generateName: x-}\nstatus: {}\n",
        "manifests/c.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  labels:\n"
        "    gitops-agent.dev/deployment: other\n    n: 1\n",
    }
    loaded = load_repository(write_repo(tmp_path, files))
    found = sorted((p.file, p.line, p.field) for p in loaded.all_problems())
    assert found == [
        ("manifests/a.yaml", 2, "kind"),
        ("manifests/b.yaml", 1, "apiVersion"),
        ("manifests/b.yaml", 2, "metadata.generateName"),
        ("manifests/b.yaml", 2, "metadata.name"),
        ("manifests/b.yaml", 3, "status"),
        ("manifests/c.yaml", 6, 'metadata.labels["gitops-agent.dev/deployment"]'),
        ("manifests/c.yaml", 7, "metadata.labels.n"),
    ]


def test_problem_str() -> None:
    assert (
        str(Problem("d/x.yaml", 12, 5, "spec.postgres.storage", "bad"))
        == "d/x.yaml:12:5: spec.postgres.storage: bad"
    )
    assert str(Problem("d/x.yaml", 1, 1, "", "empty")) == "d/x.yaml:1:1: empty"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", "0.5"),
        ("1Gi", str(2**30)),
        ("2", "2"),
        ("1.5", "1.5"),
        ("1e3", "1000"),
        ("100Ki", str(102400)),
        (".5", "0.5"),
        ("+1k", "1000"),
    ],
)
def test_parse_quantity(text: str, value: str) -> None:
    parsed = parse_quantity(text)
    assert parsed is not None and parsed == type(parsed)(value)


@pytest.mark.parametrize("text", ["", "500mb", "1.2.3", "Gi", "-1", "1 Gi", "0x10"])
def test_parse_quantity_rejects(text: str) -> None:
    assert parse_quantity(text) is None


def test_quantity_string_from_yaml_numbers() -> None:
    assert [quantity_string(v) for v in (1, 0.5, 2.0, "250m")] == ["1", "0.5", "2", "250m"]


def test_parse_image() -> None:
    ref = parse_image("registry.example.com:5000/a/b:1.2")
    assert ref == ImageRef("registry.example.com:5000/a/b", "1.2", None)
    assert parse_image("redis:7") == ImageRef("redis", "7", None)
    assert isinstance(parse_image("UPPER/x:1"), str)


def test_symlinks_leaving_the_repository_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(deployment("x"))
    repo = write_repo(tmp_path / "repo", {"deployments/y.yaml": deployment("y")})
    (repo / "deployments" / "x.yaml").symlink_to(outside)
    (repo / "deployments" / "z.yaml").symlink_to(repo / "deployments" / "y.yaml")
    units = {u.name: u for u in load_repository(repo).units}
    assert [p.message for p in units["x"].problems] == [
        "symbolic link points outside the repository; refused"
    ]
    assert units["y"].valid
    assert [p.field for p in units["z"].problems] == ["metadata.name", "metadata.name"]
