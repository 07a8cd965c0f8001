"""Counting requests with the apiserver's own `apiserver_request_total` metric.

Used to prove "no write request at all" claims: only the resources the agent touches are counted,
so the apiserver's internal traffic (leases, events) does not blur the numbers. The agent writes
with server-side apply (APPLY), creates (POST) and deletes (DELETE); in full mode the controllers
also write our objects, but with PUT (status subresources, the deployment controller's annotations),
which is therefore not counted as ours.
"""

from __future__ import annotations

import time
from collections import Counter

from prometheus_client.parser import text_string_to_metric_families

from gitops_agent.kube.client import KubeClient

AGENT_WRITE_VERBS = frozenset({"POST", "PATCH", "DELETE", "APPLY", "DELETECOLLECTION"})
AGENT_RESOURCES = frozenset(
    {
        "configmaps",
        "secrets",
        "services",
        "namespaces",
        "deployments",
        "statefulsets",
        "ingresses",
        "horizontalpodautoscalers",
        "poddisruptionbudgets",
        "networkpolicies",
    }
)


def request_counts(kube: KubeClient) -> Counter[tuple[str, str, bool]]:
    """(verb, resource, dry_run) → requests so far, for the resources the agent manages."""
    counts: Counter[tuple[str, str, bool]] = Counter()
    for family in text_string_to_metric_families(kube.raw_get("/metrics")):
        if family.name != "apiserver_request":
            continue
        for sample in family.samples:
            labels = sample.labels
            if not sample.name.endswith("_total") or labels.get("resource") not in AGENT_RESOURCES:
                continue
            if labels.get("subresource"):
                continue  # status updates come from controllers, never from the agent
            key = (labels["verb"], labels["resource"], bool(labels.get("dry_run")))
            counts[key] += int(sample.value)
    return counts


def writes_between(
    before: Counter[tuple[str, str, bool]], after: Counter[tuple[str, str, bool]]
) -> dict[str, int]:
    """Non-dry-run write requests per "VERB resource" that happened between two readings."""
    delta = after - before
    return {
        f"{verb} {resource}": n
        for (verb, resource, dry), n in delta.items()
        if verb in AGENT_WRITE_VERBS and not dry
    }


def requests_between(before: Counter[tuple[str, str, bool]], after: Counter[tuple[str, str, bool]]) -> int:
    """All requests (reads, dry-runs and writes) to the agent's resources between two readings."""
    return sum((after - before).values())


def settle(kube: KubeClient, timeout: float = 60.0) -> None:
    """Wait until no namespace is terminating: in full mode the namespace controller's DELETEs of
    earlier tests' objects would otherwise be counted in the next measurement."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        namespaces = kube.list("v1", "Namespace").items
        if not any(ns.get("status", {}).get("phase") == "Terminating" for ns in namespaces):
            return
        time.sleep(0.2)
    raise AssertionError(f"namespaces still terminating after {timeout:.0f}s")
