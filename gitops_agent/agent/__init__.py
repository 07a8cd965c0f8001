"""The running agent (`gitops-agent run`): triggers, work queue, self-heal, leader election, rollback.

The one-shot sync engine (`gitops_agent.reconcile.sync`) does the converging; this package decides *when*:
on a poll tick, a push webhook, a file change, a drift event from the watches, a retry after a
failure, or the periodic full resync — and only while this replica holds the leader Lease.
"""
