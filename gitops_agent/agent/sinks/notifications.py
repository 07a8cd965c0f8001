"""Outcomes → chat notifications and commit statuses, without the noise.

What is said: a revision Deploying / Deployed / DeployFailed / RolledBack, a deployment that failed
to sync (invalid file, apiserver rejection), drift put back, a refused prune, an invalid repository,
the source failing to fetch, the whole sync failing. Each names the deployment, revision, commit
(linked when the repository is on a known forge), author and reason.

What is not said (the complaints people have about chat notifiers):
- repeats: one message per state change of a revision — a unit failing the same way on every retry
  is one message (the key is deployment, event and commit), again only after it synced meanwhile;
  the same drift put back again and again is one message per `DRIFT_WINDOW_SECONDS`;
- floods: when a whole sync fails, or `COLLAPSE_AT` or more deployments fail in one sync run, that is
  one agent-wide message, and per-deployment failures stay quiet until a sync run ends clean; a
  source that cannot be fetched is one message until a fetch succeeds;
- blocking: messages go to per-target queues (`notify.delivery`); handling an outcome never waits.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from gitops_agent.agent.notify.config import NotifyConfig, SinkConfig
from gitops_agent.agent.notify.delivery import Target
from gitops_agent.agent.notify.formats import (
    STATUS_FORMATS,
    CommitState,
    CommitStatus,
    Request,
    default_api,
    generic,
    slack,
    teams,
)
from gitops_agent.agent.notify.notice import Event, Notice, commit_url, forge_location
from gitops_agent.agent.outcomes import (
    DriftCorrected,
    Fetched,
    FetchFailed,
    HistoryLoaded,
    Outcome,
    RepositorySynced,
    RevisionDeployed,
    RevisionDeployFailed,
    RevisionDeploying,
    RolledBack,
    SyncFailed,
    UnitSynced,
)
from gitops_agent.core.logs import get_logger
from gitops_agent.reconcile.sync import SyncState, UnitResult
from gitops_agent.source import Snapshot

log = get_logger("notify")

COLLAPSE_AT = 3
"""Deployments failing in one sync run from which the run is reported once, agent-wide."""
CONTEXT_PREFIX = "gitops-agent/"
DRIFT_WINDOW_SECONDS = 600
"""The same objects of a deployment put back again within this window are not said again."""

REMEMBERED = 20_000
"""State changes and revision commits remembered (oldest forgotten first): bounded for agents that run
for months; far more than the revisions a burst of outcomes can refer to."""

MakeTarget = Callable[[str], Target]


class NotificationsSink:
    """Decides what deserves a message and hands requests to the targets' queues."""

    def __init__(self, config: NotifyConfig, repo_url: str, *, make_target: MakeTarget = Target) -> None:
        self.config = config
        self.repo_url = repo_url
        forge = config.commit_status.provider if config.commit_status else ""
        self._forge = forge
        self.targets = {s.name: make_target(s.name) for s in config.sinks}
        self.status_target = make_target("commit-status") if config.commit_status else None
        self._lock = threading.Lock()
        self._said: OrderedDict[tuple[str, Event, str], None] = OrderedDict()
        self._run_failures: list[Notice] = []
        self._run_failed = 0  # units that failed in this sync run, said or not
        self._outage = ""  # the agent-wide failure already reported ("" when none)
        self._source_failing = False
        self._commits: OrderedDict[tuple[str, int], tuple[str, str]] = OrderedDict()
        """(unit, revision) → (commit, author)."""

    def stop(self) -> None:
        for target in self._all_targets():
            target.stop()

    def drain(self, timeout: float = 30.0) -> bool:
        return all(t.drain(timeout) for t in self._all_targets())

    def _all_targets(self) -> list[Target]:
        return [*self.targets.values(), *([self.status_target] if self.status_target else [])]

    # -- outcomes ----------------------------------------------------------------------------------

    def handle(self, outcome: Outcome) -> None:
        with self._lock:
            match outcome:
                case UnitSynced(result=result, snapshot=snapshot):
                    self._unit_synced(result, snapshot)
                case RevisionDeploying() | RevisionDeployed() | RevisionDeployFailed() | RolledBack():
                    self._rollout(outcome)
                case DriftCorrected(unit=unit, changes=changes):
                    what = ", ".join(str(c.key) for c in changes)
                    # Someone (or some controller) fighting Git: one message per window, not per round.
                    window = int(time.monotonic() // DRIFT_WINDOW_SECONDS)
                    if self._first(unit, Event.DRIFT_CORRECTED, f"{what}@{window}"):
                        self._send(self._notice(Event.DRIFT_CORRECTED, unit, f"put back: {what}"))
                case HistoryLoaded(inventory=inventory):
                    for record in inventory.history:
                        self._remember_commit(inventory.unit, record.revision, record.commit, record.author)
                case RepositorySynced(status=status):
                    self._end_of_run(status.commit, status.problems, status.prune_refused)
                case SyncFailed(error=error):
                    self._agent_wide(Event.CLUSTER_FAILING, f"sync failed: {error}")
                case FetchFailed(error=error):
                    if not self._source_failing:
                        self._source_failing = True
                        self._send(self._notice(Event.SOURCE_FAILING, None, error))
                case Fetched():
                    self._source_failing = False
                case _:
                    pass

    def _unit_synced(self, result: UnitResult, snapshot: Snapshot) -> None:
        if (
            result.revision is not None
            and result.commit
            and (result.unit, result.revision) not in self._commits
        ):
            author = snapshot.author if result.commit == snapshot.commit else ""
            self._remember_commit(result.unit, result.revision, result.commit, author)
        if result.state is SyncState.FAILED:
            self._run_failed += 1
            commit = result.commit or snapshot.commit
            if self._first(result.unit, Event.SYNC_FAILED, commit):
                reason = result.error or "; ".join(result.problems)
                self._run_failures.append(self._notice(Event.SYNC_FAILED, result.unit, reason, commit=commit))
        elif result.state is SyncState.SYNCED:
            self._forget(result.unit, Event.SYNC_FAILED)

    def _rollout(
        self, outcome: RevisionDeploying | RevisionDeployed | RevisionDeployFailed | RolledBack
    ) -> None:
        match outcome:
            case RevisionDeploying(result=result):
                self._revision(Event.DEPLOYING, result.unit, result.revision, "", CommitState.PENDING)
            case RevisionDeployed(unit=unit, revision=revision, commit=commit):
                if (unit, revision) not in self._commits:
                    self._remember_commit(unit, revision, commit, "")
                self._revision(Event.DEPLOYED, unit, revision, "healthy", CommitState.SUCCESS)
            case RevisionDeployFailed(unit=unit, revision=revision, reason=reason):
                self._revision(Event.DEPLOY_FAILED, unit, revision, reason, CommitState.FAILURE)
            case RolledBack(unit=unit, failed_revision=failed, restored=restored, reason=reason):
                # An automatic rollback is the answer to a failed rollout: both are said.
                self._revision(Event.DEPLOY_FAILED, unit, failed, reason, None)
                why = f"rolled back to r{restored.revision} (commit {restored.commit[:12]}): {reason}"
                self._revision(Event.ROLLED_BACK, unit, failed, why, CommitState.FAILURE)

    def _revision(
        self, event: Event, unit: str, revision: int | None, reason: str, state: CommitState | None
    ) -> None:
        """A revision's state change: one message, and the commit's status (`state`) when it has one."""
        if revision is None or not self._first(unit, event, f"r{revision}"):
            return
        commit, author = self._commits.get((unit, revision), ("", ""))
        notice = self._notice(event, unit, reason, revision=revision, commit=commit, author=author)
        self._send(notice)
        if commit and state is not None:
            context = CONTEXT_PREFIX + unit
            self._status(CommitStatus(commit, state, context, notice.text(), self.config.status_page_url))

    def _end_of_run(self, commit: str, problems: tuple[str, ...], prune_refused: str) -> None:
        failures, self._run_failures = self._run_failures, []
        failed, self._run_failed = self._run_failed, 0
        if problems and self._first("", Event.REPOSITORY_INVALID, commit):
            reason = f"{len(problems)} problem(s): {problems[0]}"
            self._send(self._notice(Event.REPOSITORY_INVALID, None, reason, commit=commit))
        if prune_refused and self._first("", Event.PRUNE_REFUSED, f"{commit}:{prune_refused}"):
            self._send(self._notice(Event.PRUNE_REFUSED, None, prune_refused, commit=commit))
        if len(failures) >= COLLAPSE_AT:
            names = ", ".join(sorted(n.deployment or "" for n in failures))
            reason = f"{len(failures)} deployments failed to sync ({names}): {failures[0].reason}"
            self._agent_wide(Event.CLUSTER_FAILING, reason)
            return
        if self._outage and not failed:
            log.info("notifications: sync runs are clean again after %s", self._outage)
            self._outage = ""
        if self._outage:
            return  # explained by the agent-wide message already sent
        for notice in failures:
            self._send(notice)

    def _agent_wide(self, event: Event, reason: str) -> None:
        if self._outage:
            return
        self._outage = reason
        self._send(self._notice(event, None, reason))

    # -- bookkeeping -------------------------------------------------------------------------------

    def _first(self, unit: str, event: Event, key: str) -> bool:
        """True the first time (unit, event, key) is seen; remembers it."""
        entry = (unit, event, key)
        if entry in self._said:
            return False
        self._said[entry] = None
        if len(self._said) > REMEMBERED:
            self._said.popitem(last=False)
        return True

    def _forget(self, unit: str, event: Event) -> None:
        for entry in [s for s in self._said if s[0] == unit and s[1] is event]:
            del self._said[entry]

    def _remember_commit(self, unit: str, revision: int, commit: str, author: str) -> None:
        self._commits[(unit, revision)] = (commit, author)
        self._commits.move_to_end((unit, revision))
        if len(self._commits) > REMEMBERED:
            self._commits.popitem(last=False)

    def _notice(
        self, event: Event, unit: str | None, reason: str, *, revision: int | None = None,
        commit: str = "", author: str = "",
    ) -> Notice:  # fmt: skip
        return Notice(
            event, unit, reason, revision, commit, author,
            commit_url(self.repo_url, commit, self._forge), self.config.status_page_url,
        )  # fmt: skip

    # -- sending -----------------------------------------------------------------------------------

    def _send(self, notice: Notice) -> None:
        for sink in self.config.sinks:
            if not sink.wants(notice.severity, notice.deployment):
                continue
            try:
                request = _request(sink, notice)
            except OSError as err:
                log.warning("notification target %s: cannot read its URL or secret: %s", sink.name, err)
                continue
            self.targets[sink.name].put(request)

    def _status(self, status: CommitStatus) -> None:
        config = self.config.commit_status
        if config is None or self.status_target is None:
            return
        location = forge_location(self.repo_url)
        repository = config.repository or (location[1] if location else "")
        api = config.api_url or (default_api(config.provider, location[0]) if location else "")
        if not repository or not api:
            log.warning("commit statuses: cannot tell the forge's API from the repository URL; set apiUrl")
            return
        try:
            token = _read(config.token_file)
        except OSError as err:
            log.warning("commit statuses: cannot read the token file: %s", err)
            return
        self.status_target.put(STATUS_FORMATS[config.provider](api, repository, token, status))


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip()


def _request(sink: SinkConfig, notice: Notice) -> Request:
    url = _read(sink.url_file)
    if sink.type == "slack":
        return slack(url, notice)
    if sink.type == "teams":
        return teams(url, notice)
    secret = _read(sink.secret_file).encode() if sink.secret_file else None
    return generic(url, secret, notice)
