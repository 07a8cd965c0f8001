"""The agent's own triggers: interval timers (poll, resync) and the webhook receiver's doorbell.

Each follows `core.triggers.Trigger`; a source may add its own (`Source.change_trigger()`).
"""

from __future__ import annotations

import random
import threading

from gitops_agent.core.triggers import Fire, TriggerKind


class Interval:
    """Fires every `seconds` (± `jitter` of it, so replicas and agents do not poll in step)."""

    def __init__(self, kind: TriggerKind, seconds: float, *, jitter: float = 0.0) -> None:
        self.kind = kind
        self.seconds = seconds
        self.jitter = jitter

    def run(self, fire: Fire, stop: threading.Event) -> None:
        while not stop.wait(self.seconds * random.uniform(1 - self.jitter, 1 + self.jitter)):
            fire(self.kind)


class Doorbell:
    """Fires when rung: the webhook receiver and the control-plane API ring it after a push.

    A ring before the trigger runs is kept and fired when it starts.
    """

    kind = TriggerKind.WEBHOOK

    def __init__(self) -> None:
        self._fire: Fire | None = None
        self._pending = False
        self._lock = threading.Lock()

    def run(self, fire: Fire, stop: threading.Event) -> None:
        with self._lock:
            self._fire, pending = fire, self._pending
        if pending:
            fire(self.kind)
        stop.wait()

    def ring(self) -> None:
        with self._lock:
            fire = self._fire
            self._pending = fire is None
        if fire is not None:
            fire(self.kind)
