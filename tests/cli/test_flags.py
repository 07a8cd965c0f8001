"""One flag name per meaning: `--repo-path` is the repository's sub-folder everywhere, `--ingress-path`
the URL path of `new`; the old `--path` still works in both places and says it is deprecated."""

from __future__ import annotations

import pytest

from gitops_agent.cli import build_parser


@pytest.mark.parametrize("command", ["sync", "diff", "run"])
def test_repo_path_names_the_sub_folder_and_path_is_a_warned_alias(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = build_parser()
    assert parser.parse_args([command, "--repo", ".", "--repo-path", "team-a"]).sub_path == "team-a"
    assert capsys.readouterr().err == ""
    assert parser.parse_args([command, "--repo", ".", "--path", "team-b"]).sub_path == "team-b"
    assert capsys.readouterr().err == "warning: --path is deprecated; use --repo-path\n"


def test_new_takes_ingress_path_and_keeps_path_as_a_warned_alias(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    base = ["new", "bot", "--image", "ghcr.io/x/bot:1.0.0"]
    args = parser.parse_args([*base, "--ingress-path", "/bot", "--repo-path", "team-a"])
    assert (args.path, args.repo_path) == ("/bot", "team-a")
    assert capsys.readouterr().err == ""
    assert parser.parse_args([*base, "--path", "/bot"]).path == "/bot"
    assert capsys.readouterr().err == "warning: --path is deprecated; use --ingress-path\n"
