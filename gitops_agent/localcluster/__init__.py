"""A real local Kubernetes control plane for tests and the demo, built from Go modules.

`api` mode runs etcd + kube-apiserver (fast; enough for apply/diff/prune tests); `full` mode adds
kube-controller-manager, kube-scheduler and kwok fake nodes so Deployments really get Pods that turn
Ready (rollout and health tests). Nothing here is a mock: these are the upstream binaries.
"""

from gitops_agent.localcluster.binaries import K8S_VERSION, ensure_binaries, find_binaries
from gitops_agent.localcluster.cluster import LocalCluster, Mode

__all__ = ["K8S_VERSION", "LocalCluster", "Mode", "ensure_binaries", "find_binaries"]
