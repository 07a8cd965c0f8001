"""Changes that would leave a managed Postgres's data behind, as tables (no cluster):
`manifests.databases.check_moves`, and where its refusal points in the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_agent.manifests import load_repository
from gitops_agent.manifests.databases import VolumeMove, check_moves, move_problem
from gitops_agent.manifests.model import AgentDeployment, DatabaseHome

from .helpers import MINIMAL, write_repo

A, B = "agents", "agents-staging"


def _deployments(tmp_path: Path, files: dict[str, str]) -> dict[str, AgentDeployment]:
    load = load_repository(write_repo(tmp_path, files))
    assert load.valid, load.all_problems()
    return {u.name: u.deployment for u in load.units if u.deployment is not None}


def _file(name: str, extra: str = "", *, namespace: str = "") -> str:
    text = MINIMAL.format(name=name)
    if namespace:
        text = text.replace(f"  name: {name}\n", f"  name: {name}\n  namespace: {namespace}\n")
    return text + extra


EXTERNAL = "  postgres:\n    external:\n      uriSecret: {name: db, key: uri}\n"


def _from(**fields: str) -> str:
    inner = ", ".join(f"{k}: {v}" for k, v in fields.items())
    return f"  postgres:\n    managed:\n      volumeFrom: {{{inner}}}\n"


@pytest.mark.parametrize(
    ("files", "before", "vanished", "refused", "moves", "held"),
    [
        # at home: nothing to say
        ({"bot": _file("bot")}, {"bot": DatabaseHome(A, "bot")}, [], {}, {}, set()),
        # a new deployment with nothing removed beside it: a new database, on purpose
        ({"bot": _file("bot")}, {}, [], {}, {}, set()),
        # an external database has no home to lose
        ({"bot": _file("bot", EXTERNAL, namespace=B)}, {"bot": DatabaseHome(A, "bot")}, [], {}, {}, set()),
        # a namespace move without volumeFrom: refused, naming the data left behind and the fix
        (
            {"bot": _file("bot", namespace=B)},
            {"bot": DatabaseHome(A, "bot")},
            [],
            {"bot": ["from namespace agents to agents-staging", "agents/data-bot-postgres-0",
                     "volumeFrom: {namespace: agents}"]},
            {},
            set(),
        ),
        # ... with it: a move
        (
            {"bot": _file("bot", _from(namespace=A), namespace=B)},
            {"bot": DatabaseHome(A, "bot")},
            [],
            {},
            {"bot": VolumeMove("bot", DatabaseHome(A, "bot"), DatabaseHome(B, "bot"))},
            set(),
        ),
        # a finished move keeps its volumeFrom and has nothing left to do
        (
            {"bot": _file("bot", _from(namespace=A), namespace=B)},
            {"bot": DatabaseHome(B, "bot")},
            [],
            {},
            {},
            set(),
        ),
        # volumeFrom naming a home that is not where the data is
        (
            {"bot": _file("bot", _from(namespace="elsewhere"), namespace=B)},
            {"bot": DatabaseHome(A, "bot")},
            [],
            {"bot": ["volumeFrom names elsewhere/data-bot-postgres-0",
                     "data is in agents/data-bot-postgres-0"]},
            {},
            set(),
        ),
        # a rename: the newcomer is refused and the old one keeps running meanwhile
        (
            {"bot-v2": _file("bot-v2")},
            {"bot": DatabaseHome(A, "bot")},
            ["bot"],
            {"bot-v2": ["removes the managed Postgres of bot (agents/data-bot-postgres-0)",
                        "volumeFrom: {deployment: bot}"]},
            {},
            {"bot"},
        ),
        # ... done on purpose: a move, and the old one's teardown waits for it
        (
            {"bot-v2": _file("bot-v2", _from(deployment="bot"))},
            {"bot": DatabaseHome(A, "bot")},
            ["bot"],
            {},
            {"bot-v2": VolumeMove("bot-v2", DatabaseHome(A, "bot"), DatabaseHome(A, "bot-v2"))},
            {"bot"},
        ),
        # a removal beside a newcomer that takes another's data: the removal goes ahead
        (
            {"bot-v2": _file("bot-v2", _from(deployment="bot"))},
            {"bot": DatabaseHome(A, "bot"), "old": DatabaseHome(A, "old")},
            ["bot", "old"],
            {},
            {"bot-v2": VolumeMove("bot-v2", DatabaseHome(A, "bot"), DatabaseHome(A, "bot-v2"))},
            {"bot"},
        ),
        # a removal of a deployment without a database beside a newcomer: nothing lost
        ({"bot-v2": _file("bot-v2")}, {}, ["bot"], {}, {}, set()),
    ],
)  # fmt: skip
def test_check_moves(
    tmp_path: Path,
    files: dict[str, str],
    before: dict[str, DatabaseHome],
    vanished: list[str],
    refused: dict[str, list[str]],
    moves: dict[str, VolumeMove],
    held: set[str],
) -> None:
    deployments = _deployments(tmp_path, {f"deployments/{n}.yaml": text for n, text in files.items()})
    check = check_moves(before, deployments.values(), vanished=vanished)
    assert set(check.refused) == set(refused)
    for unit, parts in refused.items():
        for part in parts:
            assert part in check.refused[unit]
    assert dict(check.moves) == moves
    assert check.held == held


def test_a_refusal_points_at_the_field_that_moved_it(tmp_path: Path) -> None:
    root = write_repo(
        tmp_path,
        {
            "deployments/bot.yaml": _file("bot", namespace=B),
            "deployments/other.yaml": _file("other", _from(namespace=A)),
        },
    )
    deployments = {u.name: u.deployment for u in load_repository(root).units if u.deployment}
    moved = move_problem(root, deployments["bot"], "moved")
    assert (moved.file, moved.line, moved.field) == ("deployments/bot.yaml", 5, "metadata.namespace")
    named = move_problem(root, deployments["other"], "wrong home")
    assert (named.line, named.field) == (9, "spec.postgres.managed.volumeFrom")
    assert str(named).startswith("deployments/other.yaml:9:")


def test_validate_base_refuses_a_move_a_pull_request_makes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`validate --base REF` in a repository folder inside a real Git work tree (a monorepo): the
    change since REF moves a managed Postgres to another namespace; the fix passes."""
    from gitrepo import git

    from gitops_agent.cli import main

    folder = write_repo(tmp_path / "mono" / "deploy", {"deployments/bot.yaml": _file("bot")})
    git("init", "-q", "-b", "main", cwd=tmp_path / "mono")
    git("add", "-A", cwd=tmp_path / "mono")
    git("commit", "-q", "-m", "bot", cwd=tmp_path / "mono")
    (folder / "deployments" / "bot.yaml").write_text(_file("bot", namespace=B))
    assert main(["validate", str(folder)]) == 0  # valid on its own ...
    capsys.readouterr()
    assert main(["validate", str(folder), "--base", "main"]) == 1  # ... but not as a change
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{folder}/deployments/bot.yaml:5:3: metadata.namespace: this change moves"), (
        lines
    )
    assert "volumeFrom: {namespace: agents}" in lines[0]
    assert lines[-1] == "invalid: 1 deployment would leave managed Postgres data behind; 1 unit"

    (folder / "deployments" / "bot.yaml").write_text(_file("bot", _from(namespace=A), namespace=B))
    assert main(["validate", str(folder), "--base", "main"]) == 0
    assert capsys.readouterr().out == "ok: 1 unit, all valid\n"
