"""The one door to the Kubernetes API: the only package that imports the `kubernetes` client.

Everything above talks to the cluster through `client.KubeClient` and its typed errors, so the
import contract can check that no other layer reaches for the client library.
"""
