"""The sync engine's stages, each a module: `diff`, `apply` (plan + write), `prune`, `health`, `live`.

Stages take typed input and return typed output; they know nothing of revisions, Git or the agent.
"""
