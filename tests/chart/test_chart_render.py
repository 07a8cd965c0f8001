"""The Helm chart as `helm` sees it: lint, render, schema, and the exact RBAC it grants."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from chart_harness import CHART_DIR, EVERYTHING_VALUES, REPO_URL, Helm

from gitops_agent.agent.notify.config import load_notify_config
from gitops_agent.cli import build_parser
from gitops_agent.cli.run_cmd import config_from
from gitops_agent.core.kinds import target_rules

ALL_VERBS = {"get", "list", "watch", "create", "update", "patch", "delete"}
EVENTS = {"create", "patch"}

# What the agent may do in each target namespace, and nothing more: exactly what the kinds table
# (`gitops_agent.core.kinds`) says each kind needs.
TARGET_RULES = {key: set(verbs) for key, verbs in target_rules().items()}
# In the release (state) namespace: inventories, the seed Secret, the leader Lease, events.
STATE_RULES = {
    ("", "configmaps"): ALL_VERBS,
    ("", "secrets"): ALL_VERBS,
    ("coordination.k8s.io", "leases"): ALL_VERBS,
    ("", "events"): EVENTS,
    ("events.k8s.io", "events"): EVENTS,
}
CLUSTER_RULES = {("", "namespaces"): {"get"}, ("", "persistentvolumes"): {"get", "list", "update"}}


def _by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def _one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = _by_kind(objects, kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def _grants(role: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    """(apiGroup, resource) → verbs, failing on wildcards, resourceNames and duplicate grants."""
    grants: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        assert "resourceNames" not in rule and "nonResourceURLs" not in rule, rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                assert "*" not in (group, resource, *rule["verbs"]), f"wildcard in {rule}"
                assert (group, resource) not in grants, f"{group}/{resource} granted twice"
                grants[(group, resource)] = set(rule["verbs"])
    return grants


def _container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    pod = _one(objects, "Deployment")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    return container


def _env(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in _container(objects)["env"]}


def test_helm_lint_strict_is_clean(helm: Helm) -> None:
    for extra in ([], ["--values", str(EVERYTHING_VALUES)]):
        result = helm.run("lint", "--strict", str(CHART_DIR), "--set", f"repo.url={REPO_URL}", *extra)
        assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout, result.stdout
        assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout


def test_default_values_render_the_agent_with_least_privilege(helm: Helm) -> None:
    objects = helm.render(namespace="platform")
    kinds = Counter(o["kind"] for o in objects)
    assert kinds == {
        "ServiceAccount": 1,
        "Role": 2,
        "RoleBinding": 2,
        "ClusterRole": 1,
        "ClusterRoleBinding": 1,
        "Service": 1,
        "Deployment": 1,
        "PodDisruptionBudget": 1,
    }
    deployment = _one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "gitops-agent"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = _container(objects)
    assert container["args"] == ["run"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts == {"/var/cache/gitops-agent": "cache", "/tmp": "tmp"}
    assert all("emptyDir" in v for v in pod["volumes"])
    assert _env(objects) == {
        "GITOPS_AGENT_REPO": REPO_URL,
        "GITOPS_AGENT_REF": "main",
        "GITOPS_AGENT_PATH": "",
        "GITOPS_AGENT_STATE_NAMESPACE": {"fieldRef": {"fieldPath": "metadata.namespace"}},
        "GITOPS_AGENT_POLL_INTERVAL": "60",
        "GITOPS_AGENT_LISTEN": "0.0.0.0:8080",
        "GITOPS_AGENT_LOG_FORMAT": "json",
        "GITOPS_AGENT_LEADER_ELECT": "true",
        "GITOPS_AGENT_CACHE_DIR": "/var/cache/gitops-agent",
        "POD_NAME": {"fieldRef": {"fieldPath": "metadata.name"}},
        "HOME": "/tmp",
    }
    service = _one(objects, "Service")
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}
    ]
    assert _one(objects, "PodDisruptionBudget")["spec"]["minAvailable"] == 1


def test_rbac_is_exactly_the_documented_table(helm: Helm) -> None:
    objects = helm.render(namespace="platform", values={"targetNamespaces": "{agents,agents-staging}"})
    roles = {(r["metadata"]["namespace"], r["metadata"]["name"]): r for r in _by_kind(objects, "Role")}
    assert set(roles) == {
        ("agents", "gitops-agent-workloads"),
        ("agents-staging", "gitops-agent-workloads"),
        ("platform", "gitops-agent-state"),
    }
    for (namespace, name), role in roles.items():
        expected = STATE_RULES if namespace == "platform" else TARGET_RULES
        assert _grants(role) == expected, f"Role {namespace}/{name}"
    assert _grants(_one(objects, "ClusterRole")) == CLUSTER_RULES
    bindings = _by_kind(objects, "RoleBinding") + _by_kind(objects, "ClusterRoleBinding")
    assert len(bindings) == 4
    for binding in bindings:
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "gitops-agent", "namespace": "platform"}
        ]
        assert binding["roleRef"]["name"] == binding["metadata"]["name"]


def test_everything_enabled_renders_every_optional_object(helm: Helm) -> None:
    objects = helm.render(namespace="platform", values_files=[EVERYTHING_VALUES])
    kinds = Counter(o["kind"] for o in objects)
    assert kinds == {
        "ServiceAccount": 1,
        "Role": 3,
        "RoleBinding": 3,
        "ClusterRole": 1,
        "ClusterRoleBinding": 1,
        "Service": 1,
        "Deployment": 1,
        "PodDisruptionBudget": 1,
        "Ingress": 1,
        "ServiceMonitor": 1,
        "PrometheusRule": 1,
        "ConfigMap": 2,
    }
    monitor = _one(objects, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["endpoints"][0]["port"] == "http"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert _one(objects, "PrometheusRule")["spec"]["groups"][0]["name"] == "gitops-agent"
    [dashboard] = [c["data"] for c in _by_kind(objects, "ConfigMap") if "gitops-agent.json" in c["data"]]
    assert list(dashboard) == ["gitops-agent.json"]
    shipped = json.loads((CHART_DIR / "files" / "dashboard.json").read_text())
    assert json.loads(dashboard["gitops-agent.json"]) == shipped
    assert shipped["panels"], "the dashboard has panels"
    backend = _one(objects, "Ingress")["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert backend == {"service": {"name": "gitops-agent", "port": {"name": "http"}}}

    env = _env(objects)
    assert env["GITOPS_AGENT_POLL_INTERVAL"] == "300"
    assert env["GITOPS_AGENT_SSH_KEY_FILE"] == "/etc/gitops-agent/git/ssh-privatekey"
    assert env["GITOPS_AGENT_KNOWN_HOSTS_FILE"] == "/etc/gitops-agent/git/known_hosts"
    assert env["GITOPS_AGENT_WEBHOOK_SECRET_FILE"] == "/etc/gitops-agent/webhook/secret"
    assert env["GITOPS_AGENT_API_TOKEN_FILE"] == "/etc/gitops-agent/api/token"
    assert env["GITOPS_AGENT_VERIFY_COMMITS"] == "true"
    assert env["GITOPS_AGENT_ALLOWED_SIGNERS"] == "/etc/gitops-agent/verify/ssh/allowed_signers"
    assert env["GITOPS_AGENT_GPG_KEYRING"] == "/etc/gitops-agent/verify/gpg/keyring"
    assert env["GITOPS_AGENT_SIGNING_KEY"] == "/etc/gitops-agent/signing/ssh-privatekey"
    assert "GITOPS_AGENT_GIT_TOKEN_FILE" not in env
    mounts = {m["mountPath"]: m for m in _container(objects)["volumeMounts"]}
    for path in (
        "/etc/gitops-agent/git",
        "/etc/gitops-agent/webhook",
        "/etc/gitops-agent/api",
        "/etc/gitops-agent/verify/ssh",
        "/etc/gitops-agent/verify/gpg",
        "/etc/gitops-agent/signing",
        "/etc/gitops-agent/ui",
    ):
        assert mounts[path]["readOnly"] is True
    volumes = {v["name"]: v for v in _one(objects, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["git-credentials"]["secret"]["items"] == [
        {"key": "ssh-privatekey", "path": "ssh-privatekey"},
        {"key": "known_hosts", "path": "known_hosts"},
    ]


def test_the_ui_values_reach_the_agent_configuration(
    helm: Helm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chart's UI environment, read by `gitops-agent run`'s own flags, is the UI the values ask for
    (the token file path is the mounted Secret key's; a scratch file stands in for it here)."""
    objects = helm.render(namespace="platform", values_files=[EVERYTHING_VALUES])
    env = {k: v for k, v in _env(objects).items() if k.startswith("GITOPS_AGENT_UI_")}
    assert env.pop("GITOPS_AGENT_UI_TOKEN_FILE") == "/etc/gitops-agent/ui/token"
    volumes = {v["name"]: v for v in _one(objects, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["ui-token"]["secret"] == {
        "secretName": "gitops-agent-ui", "defaultMode": 0o440, "items": [{"key": "token", "path": "token"}]
    }  # fmt: skip
    token = tmp_path / "token"
    token.write_text("ui-token-0123456789abcdef\n")
    for key, value in {**env, "GITOPS_AGENT_UI_TOKEN_FILE": str(token)}.items():
        monkeypatch.setenv(key, value)
    args = build_parser().parse_args(["run", "--repo", "https://git.example.com/a.git"])
    ui = config_from(args).ui
    assert (ui.token, ui.public_read, ui.session_minutes, ui.secure_cookie, ui.propose) == (
        "ui-token-0123456789abcdef", True, 60, True, True
    )  # fmt: skip


def test_notifications_config_names_only_files_the_pod_mounts(helm: Helm, tmp_path: Path) -> None:
    """The agent reads the rendered config; every URL, key and token file it names is mounted from
    the right Secret key, and no credential is in the ConfigMap."""
    objects = helm.render(namespace="platform", values_files=[EVERYTHING_VALUES])
    [config_map] = [
        c for c in _by_kind(objects, "ConfigMap") if c["metadata"]["name"] == "gitops-agent-notify"
    ]
    config_file = tmp_path / "config.yaml"
    config_file.write_text(config_map["data"]["config.yaml"])
    config = load_notify_config(config_file)
    assert [(s.name, s.type, s.min_severity.name, s.deployments) for s in config.sinks] == [
        ("platform-slack", "slack", "WARNING", ("*",)),
        ("audit", "generic", "INFO", ("billing-*",)),
    ]
    assert config.commit_status is not None and config.commit_status.provider == "gitlab"
    assert config.status_page_url == "https://gitops.example.com/"
    assert _env(objects)["GITOPS_AGENT_NOTIFY_CONFIG"] == "/etc/gitops-agent/notify-config/config.yaml"

    spec = _one(objects, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    files = {}  # path in the container → (Secret, key)
    for mount in _container(objects)["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "secret" in volume:
            for item in volume["secret"]["items"]:
                files[f"{mount['mountPath']}/{item['path']}"] = (volume["secret"]["secretName"], item["key"])
        elif "configMap" in volume:
            assert volume["configMap"]["name"] == "gitops-agent-notify"
            assert mount["mountPath"] == "/etc/gitops-agent/notify-config"
    wanted = [
        *(s.url_file for s in config.sinks),
        config.sinks[1].secret_file,
        config.commit_status.token_file,
    ]
    assert {str(p): files[str(p)] for p in wanted} == {
        "/etc/gitops-agent/notify/platform-slack/url": ("notify-slack", "url"),
        "/etc/gitops-agent/notify/audit/url": ("notify-audit", "url"),
        "/etc/gitops-agent/notify/audit/secret": ("notify-audit", "secret"),
        "/etc/gitops-agent/notify/forge/token": ("notify-gitlab", "token"),
    }


def test_a_commit_status_provider_needs_its_token_secret(helm: Helm) -> None:
    result = helm.run(
        *helm.template_args(namespace="platform", values={"notifications.commitStatus.provider": "github"}),
        check=False,
    )
    assert result.returncode != 0 and "notifications.commitStatus.existingSecret is required" in result.stderr


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"repo.url": "https://git.example.com/d.git"}, {"GITOPS_AGENT_GIT_TOKEN_FILE"}),
        (
            {"repo.url": "git@git.example.com:d.git"},
            {"GITOPS_AGENT_SSH_KEY_FILE", "GITOPS_AGENT_KNOWN_HOSTS_FILE"},
        ),
        (
            {"repo.url": "https://git.example.com/d.git", "git.auth": "ssh"},
            {"GITOPS_AGENT_SSH_KEY_FILE", "GITOPS_AGENT_KNOWN_HOSTS_FILE"},
        ),
    ],
)
def test_git_credentials_follow_the_url_scheme(
    helm: Helm, values: dict[str, str], expected: set[str]
) -> None:
    objects = helm.render(values={"git.existingSecret": "git-creds", **values})
    credential_env = {k for k in _env(objects) if k.endswith("_FILE")}
    assert credential_env == expected


def test_no_secret_is_mounted_unless_configured(helm: Helm) -> None:
    objects = helm.render()
    assert not any("_FILE" in name for name in _env(objects))
    volumes = _one(objects, "Deployment")["spec"]["template"]["spec"]["volumes"]
    assert not any("secret" in v for v in volumes)


def test_single_replica_has_no_disruption_budget_and_leader_election_can_be_off(helm: Helm) -> None:
    objects = helm.render(values={"replicaCount": "1", "leaderElection.enabled": "false"})
    assert not _by_kind(objects, "PodDisruptionBudget")
    assert _one(objects, "Deployment")["spec"]["replicas"] == 1
    assert _env(objects)["GITOPS_AGENT_LEADER_ELECT"] == "false"


def test_an_instance_id_reaches_the_agent_only_when_set(helm: Helm) -> None:
    """Two releases in one namespace need their own instance ids (session 3 left this out)."""
    assert "GITOPS_AGENT_INSTANCE" not in _env(helm.render())
    assert _env(helm.render(values={"instance": "team-a"}))["GITOPS_AGENT_INSTANCE"] == "team-a"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set-string", "replicaCount=two"], "at '/replicaCount': got string, want integer"),
        (["--set", "logFormat=xml"], "/logFormat"),
        (["--set", "targetNamespaces={Not_A_Namespace}"], "/targetNamespaces/0"),
        (["--set", "pollInterval=soon"], "/pollInterval"),
        (["--set", "git.auth=password"], "/git/auth"),
        (["--set", "instance=Team_A"], "/instance"),
        (["--set", "replicaCont=2"], "additional properties 'replicaCont' not allowed"),
        (
            [
                "--set",
                "notifications.targets[0].name=x,notifications.targets[0].type=email,"
                "notifications.targets[0].existingSecret=s",
            ],
            "/notifications/targets/0/type",
        ),
    ],
)
def test_the_values_schema_rejects_bad_values(helm: Helm, args: list[str], message: str) -> None:
    result = helm.run(*helm.template_args(namespace="platform"), *args, check=False)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr, result.stderr
    assert message in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"repo.url": ""}, "repo.url is required"),
        ({"controlPlaneApi.enabled": "true"}, "controlPlaneApi.enabled needs controlPlaneApi.existingSecret"),
    ],
)
def test_missing_required_values_fail_with_a_clear_message(
    helm: Helm, values: dict[str, str], message: str
) -> None:
    result = helm.run(*helm.template_args(namespace="platform", values=values), check=False)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
