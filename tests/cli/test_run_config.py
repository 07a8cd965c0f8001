"""`gitops-agent run` refuses invalid configuration at start-up, before touching any cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_agent.agent.config import AgentConfig
from gitops_agent.cli import main


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--listen", "nonsense"], "is not host:port"),
        (["--poll-interval", "0"], "at least 1 second"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--webhook-secret-file", "/does/not/exist"], "cannot read the webhook secret file"),
    ],
)
def test_invalid_configuration_exits_non_zero_with_a_clear_error(
    flags: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "--repo", str(tmp_path), "--kubeconfig", str(tmp_path / "none"), *flags])
    assert code == 2
    assert message in capsys.readouterr().err


def test_an_unreadable_kubeconfig_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "--repo", str(tmp_path), "--kubeconfig", str(tmp_path / "missing"), "--listen", ":0"])
    assert code == 2
    assert "cannot load Kubernetes credentials" in capsys.readouterr().err


def test_a_bad_environment_value_is_a_usage_error_of_run_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITOPS_AGENT_POLL_INTERVAL", "often")
    monkeypatch.setenv("GITOPS_AGENT_WORKERS", "many")
    with pytest.raises(SystemExit) as exited:
        main(["run", "--repo", str(tmp_path), "--kubeconfig", str(tmp_path / "none")])
    assert exited.value.code == 2
    assert "argument --poll-interval: invalid float value: 'often'" in capsys.readouterr().err
    # The other commands build the same parser and still work.
    assert main(["validate", str(Path(__file__).resolve().parents[2] / "sample-repo")]) == 0


def test_the_configuration_never_shows_its_secrets(tmp_path: Path) -> None:
    """A repr reaches logs and tracebacks: the webhook secret and the API token stay out of it."""
    config = AgentConfig(
        repo="r",
        state_namespace="gitops-agent",
        cache_dir=tmp_path,
        webhook_secret=b"webhook-secret-value",
        api_token="api-token-value-0123456789",
    )
    shown = repr(config)
    assert "webhook-secret-value" not in shown and "api-token-value" not in shown
    assert "gitops-agent" in shown
