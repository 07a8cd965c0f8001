"""The sync engine against the real apiserver and a real Git remote (issue acceptance)."""

from __future__ import annotations

import pytest
from apimetrics import request_counts, settle, writes_between
from sync_repo import DeploymentsRepo

from gitops_agent.core.objects import ObjectKey
from gitops_agent.engine.diff import Action
from gitops_agent.kube.client import KubeClient
from gitops_agent.manifests import load_repository, render_unit
from gitops_agent.reconcile.sync import SyncState
from gitops_agent.state.inventory import InventoryStore, RevisionState
from gitops_agent.state.seed import load_or_create_seed

UNITS = {"billing-agent", "manifests", "research-assistant", "support-bot"}


def _rendered_keys(repo: DeploymentsRepo) -> dict[str, set[ObjectKey]]:
    snapshot = repo.fetch()
    load = load_repository(snapshot.path)
    assert load.settings is not None
    seed = load_or_create_seed(repo.kube, repo.namespace, create=True)
    return {
        u.name: {o.key for o in render_unit(u, load.settings, secret_seed=seed).objects} for u in load.units
    }


def _live(kube: KubeClient, key: ObjectKey) -> dict | None:  # type: ignore[type-arg]
    return kube.get(key.api_version, key.kind, key.name, key.namespace)


def _ours(annotations: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in annotations.items() if k.startswith("gitops-agent.dev/")}


def test_first_sync_creates_everything_and_a_resync_writes_nothing(deployments_repo: DeploymentsRepo) -> None:
    repo, kube = deployments_repo, deployments_repo.kube
    first = repo.sync()
    assert first.ok, first
    assert {u.unit for u in first.units} == UNITS
    assert all(u.state is SyncState.SYNCED and u.revision == 1 for u in first.units)
    for unit, keys in _rendered_keys(repo).items():
        for key in keys:
            live = _live(kube, key)
            assert live is not None, f"{key} of {unit} was not created"
            assert "gitops-agent.dev/revision" not in live["metadata"]["annotations"]

    settle(kube)
    before = request_counts(kube)
    second = repo.sync()
    assert writes_between(before, request_counts(kube)) == {}
    assert all(c.action is Action.UNCHANGED for c in second.changes)
    assert all(c.action is Action.UNCHANGED for c in repo.sync(dry_run=True).changes)


def test_a_pushed_change_updates_only_that_deployment_and_bumps_its_revision(
    deployments_repo: DeploymentsRepo,
) -> None:
    repo, kube = deployments_repo, deployments_repo.kube
    repo.sync()
    text = repo.read("deployments/research-assistant.yaml").replace(":0.3.0", ":0.4.0")
    sha = repo.push(
        {"deployments/research-assistant.yaml": text}, "research-assistant: image 0.4.0\n\nFaster."
    )

    report = repo.sync()
    # Only what the image is in changes: the agent Deployment; nothing of the others.
    changed = {c.key for c in report.changes if c.action is not Action.UNCHANGED}
    assert changed == {ObjectKey("apps/v1", "Deployment", repo.namespace, "research-assistant")}
    revisions = {u.unit: u.revision for u in report.units}
    assert revisions == {"billing-agent": 1, "manifests": 1, "research-assistant": 2, "support-bot": 1}

    inventory = InventoryStore(kube, repo.namespace).load_all()["research-assistant"]
    latest = inventory.latest
    assert latest is not None and (latest.revision, latest.commit) == (2, sha)
    assert latest.message.startswith("research-assistant: image 0.4.0") and latest.author.startswith("Alice")
    # applied, not known healthy (no agent tracks it, no --wait): Deploying; and r1, never confirmed
    # healthy either, was replaced before it was Deployed: Skipped
    assert latest.result is RevisionState.DEPLOYING
    assert inventory.history[1].result is RevisionState.SKIPPED
    live = _live(kube, ObjectKey("apps/v1", "Deployment", repo.namespace, "research-assistant"))
    assert live is not None and live["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":0.4.0")


def test_a_commit_that_does_not_change_a_render_keeps_revisions_and_writes_nothing(
    deployments_repo: DeploymentsRepo,
) -> None:
    repo, kube = deployments_repo, deployments_repo.kube
    repo.sync()
    repo.push({"README.md": "# notes\n"}, "docs only")
    settle(kube)
    before = request_counts(kube)
    report = repo.sync()
    assert writes_between(before, request_counts(kube)) == {}
    assert {u.revision for u in report.units} == {1}


def test_removing_a_deployment_file_prunes_only_what_we_applied(deployments_repo: DeploymentsRepo) -> None:
    repo, kube = deployments_repo, deployments_repo.kube
    repo.sync()
    keys = _rendered_keys(repo)["billing-agent"]
    # Someone else's object carrying our labels (never in our inventory) must survive the prune.
    impostor = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "billing-agent-notes",
            "namespace": repo.namespace,
            "labels": {
                "app.kubernetes.io/managed-by": "gitops-agent",
                "gitops-agent.dev/deployment": "billing-agent",
            },
        },
        "data": {"owner": "someone else"},
    }
    KubeClient(kube.api_client, field_manager="someone-else").apply(impostor)

    repo.push({"deployments/billing-agent.yaml": None}, "Retire billing-agent")
    report = repo.sync()
    assert report.ok and not report.prune_refused
    assert {str(c.key) for c in report.prune_changes if c.action is Action.PRUNE} == {str(k) for k in keys}
    assert all(_live(kube, k) is None or _live(kube, k)["metadata"].get("deletionTimestamp") for k in keys)  # type: ignore[index]
    assert _live(kube, ObjectKey.of(impostor)) is not None
    assert "billing-agent" not in InventoryStore(kube, repo.namespace).load_all()


def test_an_object_that_lost_our_labels_is_left_alone(deployments_repo: DeploymentsRepo) -> None:
    repo, kube = deployments_repo, deployments_repo.kube
    repo.sync()
    pdb = ObjectKey("policy/v1", "PodDisruptionBudget", repo.namespace, "billing-agent")
    other = KubeClient(kube.api_client, field_manager="someone-else")
    other.apply(
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {
                "name": "billing-agent",
                "namespace": repo.namespace,
                "labels": {"app.kubernetes.io/managed-by": "someone-else"},
            },
        },
        force=True,
    )
    repo.push({"deployments/billing-agent.yaml": None}, "Retire billing-agent")
    report = repo.sync()
    skipped = [c for c in report.prune_changes if c.key == pdb]
    assert skipped and skipped[0].action is Action.SKIPPED
    assert _live(kube, pdb) is not None


def test_mass_prune_is_refused_unless_allowed(deployments_repo: DeploymentsRepo) -> None:
    repo, kube = deployments_repo, deployments_repo.kube
    repo.sync()
    keys = _rendered_keys(repo)
    repo.push(
        {"deployments/support-bot.yaml": None, "deployments/research-assistant.yaml": None}, "Remove two"
    )
    refused = repo.sync()
    assert "refusing to prune" in refused.prune_refused and not refused.prune_changes
    assert all(_live(kube, k) is not None for k in keys["support-bot"] | keys["research-assistant"])

    allowed = repo.sync(allow_mass_prune=True)
    assert not allowed.prune_refused
    assert {c.unit for c in allowed.prune_changes} == {"support-bot", "research-assistant"}


@pytest.mark.parametrize(
    ("keep", "refusal"),
    [
        ({"deployments/README.md": "moved elsewhere\n"}, "renders no deployments"),
        ({}, "repository has problems"),  # no deployments/ at all: a load problem, no teardown
    ],
)
def test_an_empty_repository_prunes_nothing(
    deployments_repo: DeploymentsRepo, keep: dict[str, str], refusal: str
) -> None:
    repo, kube = deployments_repo, deployments_repo.kube
    repo.sync()
    files: dict[str, str | None] = {
        f"deployments/{u}.yaml": None for u in ("support-bot", "research-assistant", "billing-agent")
    }
    files |= {f"manifests/{f}": None for f in ("agents-config.yaml", "network-policy.yaml")}
    files |= {"manifests/billing-agent-serviceaccount.yaml": None, **keep}
    repo.push(files, "Remove everything")
    report = repo.sync(allow_mass_prune=True)
    assert refusal in report.prune_refused and not report.prune_changes
    assert len(InventoryStore(kube, repo.namespace).load_all()) == len(UNITS)


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("  image:", "  imagee:", "spec.imagee"),  # schema: unknown field (a typo)
        ("  type: development", "  type: development: oops", ""),  # YAML syntax error
    ],
)
def test_a_broken_file_fails_alone_and_keeps_its_live_objects(
    deployments_repo: DeploymentsRepo, old: str, new: str, field: str
) -> None:
    repo, kube = deployments_repo, deployments_repo.kube
    repo.sync()
    deployment = ObjectKey("apps/v1", "Deployment", repo.namespace, "research-assistant")
    before = _live(kube, deployment)
    assert before is not None
    text = repo.read("deployments/research-assistant.yaml").replace(old, new)
    other = repo.read("deployments/support-bot.yaml").replace(":1.4.2", ":1.4.3")
    repo.push({"deployments/research-assistant.yaml": text, "deployments/support-bot.yaml": other}, "Oops")

    report = repo.sync()
    results = {u.unit: u for u in report.units}
    error = results["research-assistant"].error
    assert results["research-assistant"].state is SyncState.FAILED
    broken_line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith(new))
    assert f"deployments/research-assistant.yaml:{broken_line}:" in error, error
    assert field in error
    assert results["support-bot"].state is SyncState.SYNCED and results["support-bot"].revision == 2
    after = _live(kube, deployment)
    assert after is not None  # spec and our annotations untouched (status may move on in full mode):
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert _ours(after["metadata"]["annotations"]) == _ours(before["metadata"]["annotations"])
    assert not report.prune_changes
