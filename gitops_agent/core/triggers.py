"""The small protocol every trigger follows: something that says "look again".

Poll and resync timers, the webhook receiver and the directory watch all implement `Trigger`; the
controller runs each in a thread of its own and decides what a firing means (fetch the source, or
re-sync everything). Which triggers a source needs is the source's own business
(`Source.change_trigger()`), so nothing above `source/` asks what kind of source it has.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from typing import Protocol


class TriggerKind(enum.StrEnum):
    POLL = "poll"
    """The poll interval passed: fetch."""
    WEBHOOK = "webhook"
    """A signed push notification (or a control-plane commit): fetch now."""
    FILE_CHANGE = "file-change"
    """A file of a directory source changed: fetch now."""
    RESYNC = "resync"
    """The resync interval passed: sync everything again, even without a new commit."""


Fire = Callable[[TriggerKind], None]


class Trigger(Protocol):
    kind: TriggerKind

    def run(self, fire: Fire, stop: threading.Event) -> None:
        """Call `fire(self.kind)` whenever there may be something new; return once `stop` is set."""
        ...
