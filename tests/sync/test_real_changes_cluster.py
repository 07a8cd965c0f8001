"""Only real changes are written: nothing per-revision is stamped on objects (the revision issue).

Before, every new revision re-stamped revision/commit annotations on every object and
GITOPS_AGENT_REVISION in the pod template, so an env change showed 14 objects to update, deleting a
plain manifest 28 updates, and a revert of an Ingress-only change restarted every pod.
"""

from __future__ import annotations

from apimetrics import request_counts, settle, writes_between
from sync_repo import DeploymentsRepo

from gitops_agent.engine.diff import Action, format_changes


def _updates(report: object) -> list[str]:
    return sorted(str(c.key) for c in report.changes if c.action is Action.UPDATE)  # type: ignore[attr-defined]


def test_an_env_change_updates_only_the_two_agent_deployments(deployments_repo: DeploymentsRepo) -> None:
    repo, ns = deployments_repo, deployments_repo.namespace
    assert repo.sync().ok
    text = repo.read("deployments/support-bot.yaml")
    assert "  env:\n" in text
    repo.push(
        {"deployments/support-bot.yaml": text.replace("  env:\n", "  env:\n    NEW_FLAG: 'on'\n", 1)}, "flag"
    )

    planned = repo.sync(dry_run=True)
    assert _updates(planned) == [f"Deployment/{ns}/support-bot", f"Deployment/{ns}/support-bot-queue"]
    assert not [c for c in planned.changes if c.action in (Action.CREATE, Action.PRUNE)]
    text_diff = format_changes(planned.changes, "text")
    assert text_diff.startswith("support-bot: env +NEW_FLAG\n"), text_diff
    assert "| support-bot | env +NEW_FLAG |" in format_changes(planned.changes, "markdown")

    settle(repo.kube)
    before = request_counts(repo.kube)
    report = repo.sync()
    writes = writes_between(before, request_counts(repo.kube))
    assert report.ok and _updates(report) == _updates(planned)
    # the two Deployments and the unit's inventory (its new revision), nothing else
    assert writes == {"APPLY deployments": 2, "APPLY configmaps": 1}, writes


def test_deleting_a_plain_manifest_prunes_it_and_updates_nothing(deployments_repo: DeploymentsRepo) -> None:
    repo = deployments_repo
    assert repo.sync().ok
    repo.push({"manifests/network-policy.yaml": None}, "drop the network policy")
    planned = repo.sync(dry_run=True)
    assert _updates(planned) == []
    assert [c.action for c in planned.changes if c.action is not Action.UNCHANGED] == [Action.PRUNE]


def test_reverting_an_ingress_change_restarts_no_pod(deployments_repo: DeploymentsRepo) -> None:
    repo, ns = deployments_repo, deployments_repo.namespace
    assert repo.sync().ok
    templates = _templates(repo)
    original = repo.read("gitops-agent.yaml")
    assert 'proxy-read-timeout: "3600"' in original
    repo.push({"gitops-agent.yaml": original.replace('"3600"', '"7200"')}, "longer streams")
    changed = repo.sync()
    # support-bot is routed by an HTTPRoute: the shared Ingress annotations do not touch it.
    ingresses = [f"Ingress/{ns}/{name}" for name in ("billing-agent", "research-assistant")]
    assert _updates(changed) == ingresses
    repo.push({"gitops-agent.yaml": original}, "Revert longer streams")
    reverted = repo.sync()
    assert _updates(reverted) == ingresses
    assert [u.revision for u in reverted.units if u.unit == "research-assistant"] == [3]
    assert _templates(repo) == templates, "a pod template changed: pods restart"


def _templates(repo: DeploymentsRepo) -> dict[str, object]:
    listed = repo.kube.list("apps/v1", "Deployment", namespace=repo.namespace).items
    return {d["metadata"]["name"]: (d["metadata"]["generation"], d["spec"]["template"]) for d in listed}
