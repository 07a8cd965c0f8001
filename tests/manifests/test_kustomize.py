"""Kustomize overlays in `manifests/`: built with the real kustomize binary (hack/build-k8s.sh), the
output checked like plain manifests, build errors named by folder with kustomize's own message."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gitops_agent.cli import main
from gitops_agent.core.labels import MANIFESTS_UNIT
from gitops_agent.manifests import load_repository
from gitops_agent.manifests.model import RepositoryLoad, Unit

from .helpers import FIXTURES, write_repo

GUESTBOOK = FIXTURES / "kustomize-guestbook"


def _manifests(load: RepositoryLoad) -> Unit:
    return next(u for u in load.units if u.name == MANIFESTS_UNIT)


def _objects(unit: Unit) -> dict[tuple[str, str, str], dict]:  # type: ignore[type-arg]
    return {(o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]): o for o in unit.plain_objects}


def _guestbook_repo(tmp_path: Path) -> Path:
    write_repo(tmp_path, {"manifests/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"})
    shutil.copytree(GUESTBOOK, tmp_path / "manifests" / "guestbook")
    return tmp_path


def test_argo_cds_kustomize_guestbook_builds_unchanged_beside_plain_files(tmp_path: Path) -> None:
    root = _guestbook_repo(tmp_path)
    load = load_repository(root)
    unit = _manifests(load)
    assert unit.problems == ()
    objects = _objects(unit)
    # namePrefix applied by kustomize, namespace filled in from the settings like any plain object:
    assert set(objects) == {
        ("ConfigMap", "agents", "c"),
        ("Deployment", "agents", "kustomize-guestbook-ui"),
        ("Service", "agents", "kustomize-guestbook-ui"),
    }
    service = objects[("Service", "agents", "kustomize-guestbook-ui")]
    assert service["spec"]["selector"] == {"app": "guestbook-ui"}
    # The unit is written in the plain file and the kustomization, not in the kustomized files:
    assert unit.files == ("manifests/config.yaml", "manifests/guestbook/kustomization.yaml")


def test_only_overlays_are_built_their_base_through_them(tmp_path: Path) -> None:
    write_repo(
        tmp_path,
        {
            "manifests/app/base/kustomization.yaml": "resources: [cm.yaml]\n",
            "manifests/app/base/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n",
            "manifests/app/overlays/prod/kustomization.yaml": "resources: [../../base]\nnamePrefix: prod-\n",
            "manifests/app/overlays/staging/kustomization.yaml": (
                "resources: [../../base]\nnamePrefix: staging-\nnamespace: agents-staging\n"
            ),
        },
    )
    objects = _objects(_manifests(load_repository(tmp_path)))
    assert set(objects) == {
        ("ConfigMap", "agents", "prod-app"),
        ("ConfigMap", "agents-staging", "staging-app"),
    }


def test_a_build_error_names_the_folder_and_kustomizes_message(tmp_path: Path) -> None:
    root = _guestbook_repo(tmp_path)
    (root / "manifests/guestbook/guestbook-ui-svc.yaml").unlink()
    unit = _manifests(load_repository(root))
    assert unit.plain_objects == ()  # nothing of manifests/ is applied (or pruned) while it is broken
    [problem] = unit.problems
    assert problem.file == "manifests/guestbook/kustomization.yaml"
    assert "kustomize build failed" in problem.message
    assert "guestbook-ui-svc.yaml" in problem.message and str(root) not in problem.message


def test_an_object_the_policy_refuses_is_reported_in_the_build_output(tmp_path: Path) -> None:
    write_repo(
        tmp_path,
        {
            "manifests/k/kustomization.yaml": "resources: [role.yaml]\n",
            "manifests/k/role.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: mine}\n",
        },
    )
    [problem] = _manifests(load_repository(tmp_path)).problems
    assert problem.file == "manifests/k/ (kustomize build)"
    assert problem.field == "kind" and "cluster-scoped" in problem.message


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v5.0.0", "remote bases"),
        ("github.com/example/app/base", "remote bases"),
        ("../../../outside", "leaves the repository"),
    ],
)
def test_bases_outside_the_repository_are_refused_before_kustomize_runs(
    tmp_path: Path, entry: str, reason: str
) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside/kustomization.yaml").write_text("resources: []\n")
    root = write_repo(
        tmp_path / "repo",
        {"manifests/app/kustomization.yaml": f"namePrefix: x-\nresources:\n  - cm.yaml\n  - {entry}\n"},
    )
    [problem] = _manifests(load_repository(root)).problems
    where = (problem.file, problem.line, problem.field)
    assert where == ("manifests/app/kustomization.yaml", 4, "resources[1]")
    assert reason in problem.message and entry in problem.message


def test_without_kustomize_the_folder_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _guestbook_repo(tmp_path)
    monkeypatch.delenv("GITOPS_AGENT_KUSTOMIZE")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    [problem] = _manifests(load_repository(root)).problems
    assert problem.file == "manifests/guestbook/kustomization.yaml"
    assert "kustomize is not installed" in problem.message


def test_validate_and_render_show_the_built_objects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _guestbook_repo(tmp_path)
    assert main(["validate", str(root)]) == 0
    assert main(["render", str(root)]) == 0
    out = capsys.readouterr().out
    assert "# Source: manifests/guestbook/ (kustomize build)" in out
    assert "name: kustomize-guestbook-ui" in out


def test_a_relative_repository_path_builds_like_an_absolute_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _guestbook_repo(tmp_path / "r5")
    monkeypatch.chdir(tmp_path)
    relative, absolute = load_repository(Path("r5")), load_repository(tmp_path / "r5")
    assert _manifests(relative).problems == () and _manifests(absolute).problems == ()
    assert _objects(_manifests(relative)) == _objects(_manifests(absolute))
    assert main(["validate", "r5"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("ok: ")


@pytest.mark.parametrize(
    "kustomization",
    [
        "resources: [cm.yaml]\nconfigMapGenerator:\n- name: g\n  files: [{path}]\n",
        "resources: [cm.yaml]\npatches:\n- path: {path}\n",
    ],
    ids=["generator", "patch"],
)
def test_a_file_outside_the_repository_gets_one_message_whether_or_not_it_exists(
    tmp_path: Path, kustomization: str
) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "exists.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    seen: dict[str, list[str]] = {}
    for index, target in enumerate(("exists.yaml", "missing.yaml")):
        root = tmp_path / f"repo{index}"
        messages = seen.setdefault(target, [])
        for path in (host / target, f"../../../host/{target}"):  # absolute, and out by `../`
            write_repo(
                root,
                {
                    "manifests/app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\n",
                    "manifests/app/kustomization.yaml": kustomization.format(path=path),
                },
            )
            [problem] = _manifests(load_repository(root)).problems
            messages.append(problem.message)
        (root / "manifests/app/link.yaml").symlink_to(host / target)  # a symlink out of the tree
        write_repo(root, {"manifests/app/kustomization.yaml": "resources: [cm.yaml, link.yaml]\n"})
        [problem] = _manifests(load_repository(root)).problems
        messages.append(problem.message)
        assert not [m for m in messages if str(host) in m or "host/" in m], messages
    assert seen["exists.yaml"] == seen["missing.yaml"]  # nothing tells which host paths exist


def test_a_json_patchs_path_is_not_taken_for_a_host_path(tmp_path: Path) -> None:
    patch = '[{"op": "replace", "path": "/data/missing", "value": "x"}]'
    root = write_repo(
        tmp_path,
        {
            "manifests/app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\n",
            "manifests/app/kustomization.yaml": "resources: [cm.yaml]\npatches:\n"
            f"- target: {{kind: ConfigMap, name: d}}\n  patch: '{patch}'\n",
        },
    )
    [problem] = _manifests(load_repository(root)).problems
    assert "/data/missing" in problem.message  # kustomize's own words, not the outside-file sentence
