"""The validate, render and schema commands, called through gitops_agent.cli.main."""

from __future__ import annotations

import json

import pytest
import yaml

from gitops_agent.cli import main
from gitops_agent.cli.validate_cmd import github_annotation
from gitops_agent.manifests import Problem

from .helpers import FIXTURES, SAMPLE_REPO

DUPLICATE_KEY = FIXTURES / "invalid" / "duplicate-key"


def test_validate_valid_repo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(SAMPLE_REPO)]) == 0
    assert capsys.readouterr().out == "ok: 4 units, all valid\n"


def test_validate_invalid_repo_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(DUPLICATE_KEY)]) == 1
    lines = capsys.readouterr().out.splitlines()
    message = "duplicate key 'replicas' (first defined at line 7)"
    assert lines[0] == f"{DUPLICATE_KEY}/deployments/bot.yaml:8:3: spec.replicas: {message}"
    assert lines[-1] == "invalid: 1 of 1 unit invalid, 1 problem"


def test_validate_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(DUPLICATE_KEY), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False
    assert report["problems"][0]["line"] == 8 and report["problems"][0]["field"] == "spec.replicas"
    assert report["units"] == [
        {"name": "bot", "files": ["deployments/bot.yaml"], "valid": False, "problems": 1}
    ]


def test_validate_github_annotations(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(FIXTURES.parent.parent)
    assert main(["validate", "tests/fixtures/invalid/duplicate-key", "--format", "github"]) == 1
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (
        "::error file=tests/fixtures/invalid/duplicate-key/deployments/bot.yaml,line=8,col=3,"
        "title=spec.replicas::duplicate key 'replicas' (first defined at line 7)"
    )


def test_github_annotation_escaping() -> None:
    problem = Problem("a,b:c.yaml", 1, 2, 'x["a,b"]', "50% wrong\nsecond line")
    assert github_annotation(problem) == (
        '::error file=a%2Cb%3Ac.yaml,line=1,col=2,title=x["a%2Cb"]::50%25 wrong%0Asecond line'
    )
    assert github_annotation(Problem("f", 1, 1, "", "m")).startswith(
        "::error file=f,line=1,col=1,title=gitops-agent::"
    )


def test_validate_defaults_to_current_directory(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(SAMPLE_REPO)
    assert main(["validate"]) == 0
    assert "all valid" in capsys.readouterr().out


def test_render_masks_secrets_unless_asked(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(SAMPLE_REPO), "-d", "support-bot"]) == 0
    masked = list(yaml.safe_load_all(capsys.readouterr().out))
    secret = next(d for d in masked if d["kind"] == "Secret")
    assert set(secret["data"].values()) == {"***"}
    assert main(["render", str(SAMPLE_REPO), "-d", "support-bot", "--show-secrets"]) == 0
    shown = list(yaml.safe_load_all(capsys.readouterr().out))
    secret = next(d for d in shown if d["kind"] == "Secret")
    assert "***" not in secret["data"].values()
    assert len(shown) == len(masked) == 14


def test_render_all_units_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(SAMPLE_REPO)]) == 0
    out = capsys.readouterr().out
    sources = [line.removeprefix("# Source: ") for line in out.splitlines() if line.startswith("# Source:")]
    assert sources[0] == "deployments/billing-agent.yaml"
    assert sources[-1] == "deployments/support-bot.yaml"
    assert "manifests/network-policy.yaml" in sources


def test_render_invalid_repo_prints_problems(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(DUPLICATE_KEY)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "deployments/bot.yaml:8:3: spec.replicas: duplicate key" in captured.err


def test_render_only_checks_the_chosen_deployment(capsys: pytest.CaptureFixture[str]) -> None:
    repo = FIXTURES / "invalid" / "duplicate-ingress-path"
    assert main(["render", str(repo), "-d", "gamma"]) == 0
    assert "name: gamma" in capsys.readouterr().out
    assert main(["render", str(repo), "-d", "alpha"]) == 1


def test_render_unknown_deployment(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(SAMPLE_REPO), "-d", "nope"]) == 2
    assert "no deployment named nope; known: billing-agent, manifests" in capsys.readouterr().err


def test_render_help_mentions_the_placeholder_seed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["render", "--help"])
    assert "placeholder seed" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    ("args", "title"),
    [([], "AgentDeployment"), (["agentdeployment"], "AgentDeployment"), (["settings"], "Settings")],
)
def test_schema_command(capsys: pytest.CaptureFixture[str], args: list[str], title: str) -> None:
    assert main(["schema", *args]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == title


def test_schema_command_rejects_unknown_names(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["schema", "bogus"])
    assert "invalid choice" in capsys.readouterr().err
