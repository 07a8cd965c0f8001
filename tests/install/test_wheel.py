"""The CLI as a package: `python -m build` makes a wheel and an sdist; the wheel, installed in a clean
virtualenv outside the checkout, runs `validate`, `render` and `schema` on its own package data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from install_harness import REPO_ROOT, build_distributions, run, wheelhouse

SCHEMAS = ("agentdeployment.schema.json", "settings.schema.json")


def test_the_wheel_installs_in_a_clean_venv_and_runs_on_its_own(tmp_path: Path) -> None:
    wheel, sdist = build_distributions(tmp_path / "dist")

    in_wheel = zipfile.ZipFile(wheel).namelist()
    for schema in SCHEMAS:
        assert f"gitops_agent/manifests/schema_data/{schema}" in in_wheel
    assert "gitops_agent/py.typed" in in_wheel
    assert not [n for n in in_wheel if n.startswith(("tests/", "sample-repo/", "bench/"))]
    with tarfile.open(sdist) as archive:
        in_sdist = archive.getnames()
    assert any(n.endswith(f"gitops_agent/manifests/schema_data/{SCHEMAS[0]}") for n in in_sdist)

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", str(venv))
    offline = ("--no-index", "--find-links", str(wheelhouse()))
    run(str(venv / "bin/pip"), "install", "--quiet", *offline, str(wheel))
    cli = str(venv / "bin/gitops-agent")
    sample = tmp_path / "sample-repo"
    shutil.copytree(REPO_ROOT / "sample-repo", sample)
    # Away from the checkout, with nothing of ours on the path: only the installed package answers.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = {"cwd": tmp_path, "env": env}

    assert run(cli, "--version", **where).stdout.strip() == "gitops-agent 0.1.0"
    imported = "import gitops_agent; print(gitops_agent.__file__)"
    located = run(str(venv / "bin/python"), "-c", imported, **where)
    assert located.stdout.startswith(str(venv)), located.stdout

    validated = run(cli, "validate", str(sample), **where)
    assert validated.stdout.strip() == "ok: 4 units, all valid", validated

    rendered = run(cli, "render", str(sample), "--deployment", "support-bot", **where)
    assert "kind: Deployment" in rendered.stdout and "name: support-bot" in rendered.stdout

    for name in ("agentdeployment", "settings"):
        schema = json.loads(run(cli, "schema", name, **where).stdout)
        assert schema == json.loads((REPO_ROOT / "schema" / f"{name}.schema.json").read_text())

    broken = sample / "deployments" / "support-bot.yaml"
    broken.write_text(broken.read_text().replace("  image:", "  imagee:"))
    result = subprocess.run(
        [cli, "validate", str(sample)], capture_output=True, text=True, check=False, cwd=tmp_path, env=env
    )
    assert result.returncode == 1 and "deployments/support-bot.yaml" in result.stdout + result.stderr
