"""The control plane: verbs that change the deployments repository as validated commits (`verbs`,
`edit`, `scaffold`, `repo_writer`, `workspace`, `gitcmd`) and waiting for a rollout (`wait`)."""
