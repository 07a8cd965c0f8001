"""Telling people: chat notifications (Slack, Microsoft Teams, a signed generic webhook) and commit
statuses on the deployments repository (GitHub, GitLab, Gitea/Forgejo), fed by the agent's outcomes.

`notice` is what is said (pure), `formats` how each service wants it said (pure, per each service's
documented contract), `delivery` gets it there without ever blocking a sync (a queue and a thread
per target, retries with back-off), `config` reads which targets exist. The outcome sink that
decides what deserves a message — and keeps quiet about repeats and outages — is
`agent/sinks/notifications.py`.
"""
