"""The sinks that turn the controller's outcomes into signals: one module per kind of signal.

`metrics` (Prometheus), `board` (the status board behind the API and page), `events` (Kubernetes
Events) and `logs` (structured log lines). Each has a `handle(outcome)` that ignores what it has
nothing to say about; `agent.outcomes.Outcomes` hands every outcome to each.
"""
