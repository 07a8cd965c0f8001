"""The policy for `manifests/`: allowed kinds, plaintext Secrets, privileged pods, credential-like
values (a warning) and directory links — each reported at its file, line and field."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from gitops_agent.cli import main
from gitops_agent.manifests import load_repository
from gitops_agent.manifests.model import ManifestPolicy
from gitops_agent.manifests.schemas import load_schema

from .helpers import SETTINGS, deployment, write_repo

PRIVILEGED_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: root-shell}
spec:
  hostPID: true
  containers:
    - name: shell
      image: busybox:1.36
      securityContext: {privileged: true}
  volumes:
    - name: root
      hostPath: {path: /}
"""
PLAINTEXT_SECRET = """\
apiVersion: v1
kind: Secret
metadata: {name: db}
stringData:
  password: hunter2
"""
ROLE = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader}
rules: []
"""
LEAKY_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker}
spec:
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}}
    spec:
      containers:
        - name: worker
          image: busybox:1.36
          env:
            - {name: AWS_SECRET_ACCESS_KEY, value: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY}
            - {name: LOG_LEVEL, value: debug}
"""


def _problems(root: Path) -> list[str]:
    return [str(p) for p in load_repository(root).all_problems()]


def test_privileged_and_host_access_pods_are_refused_at_their_lines(tmp_path: Path) -> None:
    pods = SETTINGS + "manifests: {allowedKinds: [Pod]}\n"
    root = write_repo(tmp_path, {"manifests/pod.yaml": PRIVILEGED_POD}, settings=pods)
    problems = _problems(root)
    assert [p.split(": ")[0] + ": " + p.split(": ")[1] for p in problems] == [
        "manifests/pod.yaml:5:12: spec.hostPID",
        "manifests/pod.yaml:9:37: spec.containers[0].securityContext.privileged",
        "manifests/pod.yaml:12:7: spec.volumes[0].hostPath",
    ]
    assert "a hostPath volume (/) gives the pod the node's files" in problems[2]
    assert all("manifests.allowPrivilegedPods" in p for p in problems)
    allowed = SETTINGS + "manifests: {allowedKinds: [Pod], allowPrivilegedPods: true}\n"
    assert (
        _problems(write_repo(tmp_path / "allowed", {"manifests/pod.yaml": PRIVILEGED_POD}, settings=allowed))
        == []
    )


def test_kinds_outside_the_agents_rbac_are_refused_unless_listed(tmp_path: Path) -> None:
    root = write_repo(tmp_path, {"manifests/role.yaml": ROLE})
    (problem,) = _problems(root)
    assert problem.startswith(
        "manifests/role.yaml:2:7: kind: kind rbac.authorization.k8s.io/Role is not allowed"
    )
    assert "apps/Deployment" in problem and "ConfigMap" in problem  # the default list is named
    listed = SETTINGS + "manifests: {allowedKinds: [ConfigMap, rbac.authorization.k8s.io/Role]}\n"
    assert _problems(write_repo(tmp_path / "listed", {"manifests/role.yaml": ROLE}, settings=listed)) == []


def test_a_plaintext_secret_is_refused_and_points_to_the_alternatives(tmp_path: Path) -> None:
    (problem,) = _problems(write_repo(tmp_path, {"manifests/secret.yaml": PLAINTEXT_SECRET}))
    assert problem.startswith(
        "manifests/secret.yaml:4:1: stringData: a Secret with plaintext values is refused"
    )
    assert "External Secrets, Sealed Secrets or SOPS" in problem
    assert "hunter2" not in problem
    allowed = SETTINGS + "manifests: {allowPlaintextSecrets: true}\n"
    assert (
        _problems(write_repo(tmp_path / "a", {"manifests/secret.yaml": PLAINTEXT_SECRET}, settings=allowed))
        == []
    )


def test_credential_like_values_are_warnings_not_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {
        "manifests/worker.yaml": LEAKY_DEPLOYMENT,
        "deployments/bot.yaml": deployment(
            "bot", "env:\n  OPENAI_KEY: sk-proj-abcdefghijklmnopqrstuvwxyz0123\n"
        ),
    }
    root = write_repo(tmp_path, files)
    loaded = load_repository(root)
    assert loaded.valid
    warnings = [str(w) for w in loaded.warnings]
    assert warnings == [
        "deployments/bot.yaml:8:17: spec.env.OPENAI_KEY: the value of OPENAI_KEY looks like an OpenAI API "
        "key: a "
        "plain value lives in Git and in the Deployment for everyone who can read them; read it from a "
        "Secret "
        "instead (secretEnv / valueFrom.secretKeyRef)",
        "manifests/worker.yaml:13:52: spec.template.spec.containers[0].env[0].value: the value of "
        "AWS_SECRET_ACCESS_KEY looks like a secret (the name AWS_SECRET_ACCESS_KEY says so): a plain value "
        "lives "
        "in Git and in the Deployment for everyone who can read them; read it from a Secret instead "
        "(secretEnv / valueFrom.secretKeyRef)",
    ]
    assert main(["validate", str(root)]) == 0
    out = capsys.readouterr().out
    assert "warning: " in out and "OPENAI_KEY" in out and "sk-proj-" not in out
    assert out.rstrip().endswith("ok: 2 units, all valid (2 warnings)")


def test_directory_links_are_reported_like_file_links(tmp_path: Path) -> None:
    root = write_repo(
        tmp_path, {"manifests/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"}
    )
    os.symlink("/", root / "manifests" / "root")
    (tmp_path / "shared").mkdir()
    os.symlink(tmp_path / "shared", root / "manifests" / "shared")  # inside the repository
    problems = _problems(root)
    assert problems == [
        "manifests/root:1:1: symbolic link points outside the repository; refused",
        "manifests/shared:1:1: symbolic link to a directory is not followed; move the files here or link "
        "them "
        "one by one",
    ]


def test_the_documented_default_kinds_are_the_kinds_table_write_kinds() -> None:
    """The reference spells the default list out; it must stay what `core.kinds` says the chart grants."""
    described = load_schema("settings")["properties"]["manifests"]["properties"]["allowedKinds"][
        "description"
    ]
    listed = re.search(r"write \(([^)]*)\)", described)
    assert listed is not None
    assert sorted(re.findall(r"`([^`]+)`", listed.group(1))) == sorted(ManifestPolicy().allowed_kinds)
