"""gitops-agent: a GitOps control plane for LangGraph agent servers on Kubernetes.

A Git repository of small declarative files (one per agent deployment) is the source of truth; the
agent renders them into Kubernetes objects and converges a cluster to them with server-side apply.
"""

__version__ = "0.1.0"
