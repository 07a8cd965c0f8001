"""Outcomes → the status board (what the status API, the page and `status --agent-url` show)."""

from __future__ import annotations

from gitops_agent.agent.outcomes import (
    Fetched,
    FetchFailed,
    HealthChanged,
    HistoryLoaded,
    LeadershipChanged,
    Outcome,
    Pruned,
    RepositorySynced,
    RolledBack,
    UnitRemoved,
    UnitSynced,
)
from gitops_agent.agent.status import StatusBoard
from gitops_agent.engine.diff import Action
from gitops_agent.engine.health import Health


class BoardSink:
    def __init__(self, board: StatusBoard) -> None:
        self.board = board

    def handle(self, outcome: Outcome) -> None:
        board = self.board
        match outcome:
            case UnitSynced(result=result, snapshot=snapshot):
                board.record_sync(result, snapshot)
            case Pruned(unit=unit, changes=changes):
                board.record_prune(unit, [c for c in changes if c.action is Action.PRUNE])
            case RepositorySynced(status=status):
                board.record_repository(status)
            case HealthChanged(health=health):
                board.record_health(health)
            case RolledBack(unit=unit, restored=restored, reason=reason):
                board.set_health(unit, Health.ROLLED_BACK, f"rolled back to r{restored.revision}: {reason}")
            case HistoryLoaded(inventory=inventory):
                board.record_history(inventory)
            case UnitRemoved(unit=unit):
                board.remove(unit)
            case Fetched(snapshot=snapshot):
                board.record_fetch(snapshot.commit)
            case FetchFailed(error=error):
                board.record_fetch_error(error)
            case LeadershipChanged(leading=leading, holder=holder):
                board.record_leader(leading=leading, holder=holder)
