"""The per-file cache of checked deployment files: a new commit re-checks only what changed, and the
cache never changes an answer (cross-file problems do not pile up, new settings re-check all)."""

from __future__ import annotations

from pathlib import Path

from gitops_agent.manifests import load_repository, repository

from .helpers import SETTINGS, deployment, write_repo


def _problems(root: Path) -> list[str]:
    return sorted(str(p) for p in load_repository(root).all_problems())


def test_cross_file_problems_are_the_same_on_every_load(tmp_path: Path) -> None:
    files = {"deployments/a.yaml": deployment("a"), "deployments/b.yaml": deployment("a")}
    root = write_repo(tmp_path, files)
    first = _problems(root)
    assert any("also defined in" in p for p in first)
    assert _problems(root) == first == _problems(root)


def test_only_changed_files_are_checked_again(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    root = write_repo(tmp_path, {f"deployments/d{i}.yaml": deployment(f"d{i}") for i in range(5)})
    load_repository(root)
    checked: list[str] = []
    original = repository._load_entry
    monkeypatch.setattr(
        repository, "_load_entry", lambda path, *a: checked.append(path.name) or original(path, *a)
    )
    (root / "deployments/d3.yaml").write_text(deployment("d3").replace("1.0.0", "1.0.1"))
    load = load_repository(root)
    assert checked == ["d3.yaml"]
    d3 = next(u for u in load.units if u.name == "d3")
    assert d3.deployment is not None and d3.deployment.image.endswith(":1.0.1")

    checked.clear()
    (root / "gitops-agent.yaml").write_text(SETTINGS.replace("namespace: agents\n", "namespace: agents-2\n"))
    load = load_repository(root)
    assert sorted(checked) == [f"d{i}.yaml" for i in range(5)]  # new settings: everything again
    assert {u.deployment.namespace for u in load.units if u.deployment} == {"agents-2"}


def test_a_file_that_became_invalid_is_reported(tmp_path: Path) -> None:
    root = write_repo(tmp_path, {"deployments/a.yaml": deployment("a")})
    assert _problems(root) == []
    (root / "deployments/a.yaml").write_text(deployment("a").replace("  image:", "  imagee:"))
    assert any("deployments/a.yaml" in p and "imagee" in p for p in _problems(root))
