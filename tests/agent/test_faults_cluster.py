"""The apiserver goes away in the middle of a sync: the agent converges when it is back, losing nothing."""

from __future__ import annotations

import time
from pathlib import Path

from agent_harness import wait_for
from sync_repo import make_deployments_repo

from gitops_agent.core.errors import ClusterError
from gitops_agent.core.objects import ObjectKey
from gitops_agent.engine.live import OWNED_SELECTOR
from gitops_agent.kube.client import connect
from gitops_agent.localcluster import LocalCluster, Mode
from gitops_agent.state.inventory import InventoryStore

KINDS = (
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("v1", "Service"),
    ("v1", "Secret"),
    ("v1", "ConfigMap"),
    ("networking.k8s.io/v1", "Ingress"),
    ("policy/v1", "PodDisruptionBudget"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("v1", "ServiceAccount"),
)


def test_an_apiserver_outage_mid_sync_converges_without_losing_or_orphaning_objects(  # type: ignore[no-untyped-def]
    tmp_path: Path, start_agent
) -> None:
    with LocalCluster(tmp_path / "own-cluster", mode=Mode.API) as cluster:
        kube = connect(str(cluster.kubeconfig))
        kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "faults"}})
        (tmp_path / "repo").mkdir()
        repo = make_deployments_repo(tmp_path / "repo", "faults", kube)
        running = start_agent(str(repo.upstream.bare), "faults", client=kube)
        wait_for(lambda: len(running.agent.board.deployments()) == 4, timeout=60)

        changes = {}
        for name, old, new in (
            ("support-bot", ":1.4.2", ":1.5.0"),
            ("billing-agent", "@sha256:9b2f", "@sha256:1b2f"),
            ("research-assistant", ":0.3.0", ":0.4.0"),
        ):
            changes[f"deployments/{name}.yaml"] = repo.read(f"deployments/{name}.yaml").replace(old, new)
        repo.push(changes, "Three new builds")  # type: ignore[arg-type]
        running.agent.trigger_fetch()
        time.sleep(0.3)  # the sync is under way ...
        cluster.stop_apiserver()  # ... and the apiserver disappears
        time.sleep(3)
        cluster.start_apiserver()
        assert kube.get("v1", "Namespace", "faults") is not None

        def converged() -> bool:
            try:
                images = [
                    (kube.get("apps/v1", "Deployment", n, "faults") or {})["spec"]["template"]["spec"][
                        "containers"
                    ][0]["image"]
                    for n in ("support-bot", "billing-agent", "research-assistant")
                ]
            except (ClusterError, KeyError):
                return False
            return (
                images[0].endswith(":1.5.0") and "@sha256:1b2f" in images[1] and images[2].endswith(":0.4.0")
            )

        wait_for(converged, timeout=90)
        wait_for(
            lambda: all(d["sync_state"] == "Synced" for d in running.agent.board.deployments()), timeout=60
        )

        inventories = InventoryStore(kube, "faults").load_all()
        recorded = {e.key for inv in inventories.values() for e in inv.objects}
        for key in recorded:  # nothing lost ...
            assert kube.get(key.api_version, key.kind, key.name, key.namespace) is not None, key
        owned = {
            ObjectKey.of(item)
            for api_version, kind in KINDS
            for item in kube.list(api_version, kind, namespace="faults", label_selector=OWNED_SELECTOR).items
            if not item["metadata"]["name"].startswith("gitops-agent.")  # the inventories themselves
        }
        assert owned <= recorded  # ... and nothing orphaned


def test_rollout_tracking_survives_an_apiserver_outage(tmp_path: Path, start_agent) -> None:  # type: ignore[no-untyped-def]
    """The revision issue, story 5: the per-revision polling threads died with tracebacks when the
    apiserver went away, and the revision's result was never recorded."""
    with LocalCluster(tmp_path / "own-cluster", mode=Mode.FULL) as cluster:
        kube = connect(str(cluster.kubeconfig))
        kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "outage"}})
        (tmp_path / "repo").mkdir()
        repo = make_deployments_repo(tmp_path / "repo", "outage", kube)
        running = start_agent(str(repo.upstream.bare), "outage", client=kube)

        def shown() -> tuple[object, object]:
            entry = running.agent.board.deployment("research-assistant") or {}
            return entry.get("revision"), entry.get("revision_state")

        wait_for(lambda: shown() == (1, "Deployed"), timeout=120)
        text = repo.read("deployments/research-assistant.yaml").replace(":0.3.0", ":0.4.0")
        repo.push({"deployments/research-assistant.yaml": text}, "research-assistant 0.4.0")
        running.agent.trigger_fetch()
        wait_for(lambda: shown()[0] == 2, timeout=30)
        cluster.stop_apiserver()  # while the rollout is tracked
        time.sleep(4)
        cluster.start_apiserver()

        def recorded() -> bool:
            try:
                latest = InventoryStore(kube, "outage").load_all()["research-assistant"].latest
            except ClusterError:
                return False
            return latest is not None and (latest.revision, latest.result.value) == (2, "Deployed")

        wait_for(recorded, timeout=120)
        wait_for(lambda: shown() == (2, "Deployed"), timeout=10)  # the board follows the record
        assert all(t.is_alive() for t in running.agent._threads if t.name == "rollouts")
