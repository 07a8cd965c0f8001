"""The reconciler: `sync` converges the cluster to a snapshot; `rollback` is the same reconcile of
one unit at an older snapshot."""
