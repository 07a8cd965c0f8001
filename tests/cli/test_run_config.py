"""`gitops-agent run` refuses invalid configuration at start-up, before touching any cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

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
