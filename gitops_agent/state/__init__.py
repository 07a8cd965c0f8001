"""What the agent keeps between syncs: inventories and revision history (`inventory`, `revisions`),
the password seed (`seed`) and the per-commit load cache (`loadcache`)."""
