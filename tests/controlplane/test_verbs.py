"""The edit verbs end to end on real Git: each commit holds exactly the intended change, and a refused
edit writes nothing at all."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from cphelpers import AUTHOR, SAMPLE_REPO, Remote, run_cli, status
from gitrepo import git

from gitops_agent.manifests import load_repository

IMAGE = "ghcr.io/example/support-bot:1.5.0"


def _comments(text: str) -> list[str]:
    return [line.split("#", 1)[1] for line in text.splitlines() if "#" in line]


def test_set_image_pushes_one_commit_changing_one_line(remote: Remote) -> None:
    before = remote.count()
    original = remote.show("deployments/support-bot.yaml")
    code, out, err = run_cli(
        "set-image", "support-bot", IMAGE, "--repo", str(remote.bare), "--author", AUTHOR
    )
    assert code == 0, err
    assert remote.count() == before + 1
    assert remote.subject() == f"support-bot: image → {IMAGE}"
    assert remote.author() == AUTHOR
    assert remote.stat() == ["deployments/support-bot.yaml | 2 +-"]
    assert remote.diff() == ["-  image: ghcr.io/example/support-bot:1.4.2", f"+  image: {IMAGE}"]
    assert _comments(remote.show("deployments/support-bot.yaml")) == _comments(original)
    assert f"commit {remote.rev()}" in out
    assert "pushed to origin/main" in out


def test_set_env_on_a_local_clone_edits_in_place_and_leaves_it_clean(remote: Remote) -> None:
    clone = remote.clone("clone")
    code, _out, err = run_cli(
        "set-env", "billing-agent", "LOG_LEVEL=debug", "TIMEOUT=30", "--repo", str(clone), "--author", AUTHOR
    )
    assert code == 0, err
    assert remote.subject() == "billing-agent: env LOG_LEVEL=debug TIMEOUT=30"
    assert remote.stat() == ["deployments/billing-agent.yaml | 3 +++"]
    assert remote.diff() == ["+  env:", "+    LOG_LEVEL: debug", '+    TIMEOUT: "30"']
    assert git("rev-parse", "HEAD", cwd=clone) == remote.rev()
    assert status(clone) == ""

    code, _, err = run_cli("set-env", "billing-agent", "--unset", "TIMEOUT", "--repo", str(clone))
    assert code == 0, err
    assert remote.subject() == "billing-agent: env -TIMEOUT"
    assert remote.diff() == ['-    TIMEOUT: "30"']


def test_scale_switches_replicas_to_autoscaling(remote: Remote) -> None:
    code, _, err = run_cli("scale", "billing-agent", "--min", "2", "--max", "8", "--repo", str(remote.bare))
    assert code == 0, err
    assert remote.subject() == "billing-agent: scale 2..8"
    assert remote.diff() == [
        "-  replicas: 3                 # fixed size, no autoscaler",
        "+  autoscaling:",
        "+    minReplicas: 2",
        "+    maxReplicas: 8",
    ]
    code, _, err = run_cli("scale", "support-bot", "--min", "2", "--max", "8", "--repo", str(remote.bare))
    assert code == 0, err
    assert remote.subject() == "support-bot: scale 2..8"
    assert remote.diff() == ["-    maxReplicas: 6", "+    maxReplicas: 8"]


def test_new_scaffolds_a_valid_commented_file(remote: Remote, tmp_path: Path) -> None:
    code, _out, err = run_cli(
        "new", "triage-bot", "--image", "ghcr.io/example/triage:0.1.0", "--type", "production",
        "--ingress-path", "/triage", "--postgres-secret", "triage-db:uri", "--managed-redis",
        "--min", "2", "--max", "4", "--env", "LOG_LEVEL=info",
        "--secret-env", "OPENAI_API_KEY=triage-secrets:openai", "--repo", str(remote.bare),
    )  # fmt: skip
    assert code == 0, err
    assert remote.subject() == "triage-bot: new deployment (ghcr.io/example/triage:0.1.0)"
    [stat] = remote.stat()
    assert stat.startswith("deployments/triage-bot.yaml |") and "-" not in stat.split("|")[1]
    assert all(line.startswith("+") for line in remote.diff())
    text = remote.show("deployments/triage-bot.yaml")
    spec = yaml.safe_load(text)["spec"]
    assert spec["postgres"] == {"external": {"uriSecret": {"name": "triage-db", "key": "uri"}}}
    assert spec["redis"] == {"managed": {}}
    assert spec["autoscaling"] == {"minReplicas": 2, "maxReplicas": 4}
    assert spec["ingress"] == {"path": "/triage"}
    assert text.count("#") >= 5
    clone = remote.clone("check")
    assert load_repository(clone).all_problems() == ()

    code, _, err = run_cli("new", "triage-bot", "--image", "a/b:1", "--repo", str(remote.bare))
    assert code == 2
    assert "already exists" in err


def test_delete_removes_the_file(remote: Remote) -> None:
    code, _, err = run_cli("delete", "research-assistant", "--repo", str(remote.bare))
    assert code == 0, err
    assert remote.subject() == "research-assistant: delete"
    [stat] = remote.stat()
    assert stat.startswith("deployments/research-assistant.yaml |") and "+" not in stat.split("|")[1]
    assert "research-assistant.yaml" not in git("ls-tree", "-r", "--name-only", "main", cwd=remote.bare)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("set-image", "support-bot", "UPPER/case::bad"), "deployments/support-bot.yaml:9:10: spec.image:"),
        (("set-image", "nope", IMAGE), "no deployment 'nope' in the repository"),
        (("set-env", "support-bot", "PORT=9000"), "spec.env.PORT"),
        (("set-env", "support-bot", "OPENAI_API_KEY=x"), "OPENAI_API_KEY"),
        (("scale", "support-bot", "--min", "5", "--max", "2"), "maxReplicas"),
        (("scale", "billing-agent", "--replicas", "2", "--queue"), "queue workers are not enabled"),
        (("new", "Bad_Name", "--image", IMAGE), "invalid deployment name"),
        (("new", "triage-bot", "--image", IMAGE, "--ingress-path", "/support-bot"), "/support-bot"),
        (("delete", "manifests"), "no deployment 'manifests'"),
    ],
    ids=["bad-image", "unknown", "reserved-env", "env-and-secret", "min-gt-max", "no-queue", "bad-name",
         "path-taken", "not-a-deployment"],
)  # fmt: skip
def test_a_refused_edit_writes_nothing(remote: Remote, argv: tuple[str, ...], message: str) -> None:
    clone = remote.clone("clone")
    head, before = remote.rev(), remote.count()
    code, _out, err = run_cli(*argv, "--repo", str(clone))
    assert code == 2
    assert message in err
    assert remote.rev() == head and remote.count() == before
    assert git("rev-parse", "HEAD", cwd=clone) == head
    assert status(clone) == ""


def test_validation_names_file_line_and_field(remote: Remote) -> None:
    code, _, err = run_cli("set-image", "support-bot", "UPPER/case::bad", "--repo", str(remote.bare))
    assert code == 2
    assert "would make the repository invalid; nothing was written" in err
    assert "deployments/support-bot.yaml:9:10: spec.image: 'UPPER/case::bad' is not a valid image" in err


def test_branch_pushes_a_new_branch_and_leaves_main_alone(remote: Remote) -> None:
    main = remote.rev()
    argv = ("--repo", str(remote.bare), "--branch", "bump-support-bot")
    assert run_cli("set-image", "support-bot", IMAGE, *argv)[0] == 0
    assert remote.rev() == main
    assert "bump-support-bot" in remote.branches()
    assert remote.rev("bump-support-bot^") == main
    # a second verb adds to the existing branch (more commits for the same pull request)
    assert run_cli("set-env", "support-bot", "LOG_LEVEL=debug", *argv)[0] == 0
    assert remote.rev("bump-support-bot~2") == main
    assert remote.subject("bump-support-bot") == "support-bot: env LOG_LEVEL=debug"
    assert remote.rev() == main


def test_no_push_only_commits_locally(remote: Remote) -> None:
    clone = remote.clone("clone")
    main = remote.rev()
    code, out, err = run_cli("set-image", "support-bot", IMAGE, "--repo", str(clone), "--no-push")
    assert code == 0, err
    assert "committed on main" in out
    assert remote.rev() == main
    assert git("rev-parse", "HEAD~1", cwd=clone) == main
    assert git("log", "-1", "--format=%s", cwd=clone) == f"support-bot: image → {IMAGE}"
    # with an unpushed commit, a pushing verb refuses rather than publish it along
    code, _, err = run_cli(
        "set-image", "support-bot", "ghcr.io/example/support-bot:1.6.0", "--repo", str(clone)
    )
    assert code == 2
    assert "not on origin/main" in err


def test_a_dirty_clone_is_refused(remote: Remote) -> None:
    clone = remote.clone("clone")
    path = clone / "deployments" / "support-bot.yaml"
    path.write_text(path.read_text() + "# local edit\n")
    code, _, err = run_cli("set-image", "support-bot", IMAGE, "--repo", str(clone))
    assert code == 2
    assert "uncommitted changes" in err
    assert path.read_text().endswith("# local edit\n")


def test_same_value_is_a_no_op(remote: Remote) -> None:
    head = remote.rev()
    code, out, _ = run_cli(
        "set-image",
        "support-bot",
        "ghcr.io/example/support-bot:1.4.2",
        "--repo",
        str(remote.bare),
        "--format",
        "json",
    )
    assert code == 0
    result = json.loads(out)
    assert result["changed"] is False and result["commit"] == head and result["changedFiles"] == []
    assert remote.rev() == head


def test_json_output(remote: Remote) -> None:
    code, out, _ = run_cli("set-image", "support-bot", IMAGE, "--repo", str(remote.bare), "--format", "json")
    assert code == 0
    assert json.loads(out) == {
        "commit": remote.rev(),
        "branch": "main",
        "message": f"support-bot: image → {IMAGE}",
        "deployment": "support-bot",
        "changedFiles": ["deployments/support-bot.yaml"],
        "changed": True,
        "pushed": True,
        "rebases": 0,
    }


def test_author_defaults_to_git_config_then_to_gitops_agent(
    remote: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    clone = remote.clone("clone")
    git("config", "user.name", "Local User", cwd=clone)
    git("config", "user.email", "local@example.com", cwd=clone)
    assert run_cli("set-image", "support-bot", IMAGE, "--repo", str(clone))[0] == 0
    assert remote.author() == "Local User <local@example.com>"

    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(name, raising=False)
    assert run_cli("set-env", "support-bot", "A=1", "--repo", str(remote.bare))[0] == 0
    assert remote.author() == "gitops-agent <gitops-agent@localhost>"

    code, _, err = run_cli("set-env", "support-bot", "A=2", "--repo", str(remote.bare), "--author", "nobody")
    assert code == 2 and "Name <email>" in err


def test_repo_sub_folder(tmp_path: Path) -> None:
    bare, seed = tmp_path / "remote.git", tmp_path / "seed"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    shutil.copytree(SAMPLE_REPO, seed / "agents")
    git("init", "-q", "-b", "main", cwd=seed)
    git("add", "-A", cwd=seed)
    git("commit", "-q", "-m", "import", cwd=seed)
    git("push", "-q", str(bare), "main", cwd=seed)
    remote = Remote(bare, tmp_path)
    code, _, err = run_cli("set-image", "support-bot", IMAGE, "--repo", str(bare), "--repo-path", "agents")
    assert code == 0, err
    assert remote.stat() == ["agents/deployments/support-bot.yaml | 2 +-"]
    clone = remote.clone("clone")
    code, _, err = run_cli("set-env", "support-bot", "X=y", "--repo", str(clone / "agents"))
    assert code == 0, err
    assert remote.stat() == ["agents/deployments/support-bot.yaml | 1 +"]


def test_tokens_never_reach_the_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITOPS_AGENT_GIT_TOKEN", "env-secret-token-42")
    for url in (
        "http://x-access-token:url-secret-token-17@127.0.0.1:9/acme/deployments.git",
        "http://127.0.0.1:9/acme/deployments.git",
    ):
        code, out, err = run_cli("set-image", "support-bot", IMAGE, "--repo", url)
        assert code == 2
        assert "git clone failed" in err
        for secret in ("env-secret-token-42", "url-secret-token-17"):
            assert secret not in out + err
