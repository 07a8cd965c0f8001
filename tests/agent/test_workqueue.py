"""The work queue and back-off, with a fake clock (no cluster): `agent.workqueue`."""

from __future__ import annotations

from gitops_agent.agent.workqueue import FULL, Backoff, Batch, WorkQueue


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_keys_are_deduplicated_into_one_batch() -> None:
    queue = WorkQueue()
    for key in ("a", "b", "a"):
        queue.add(key)
    assert queue.get(timeout=0) == Batch(frozenset({"a", "b"}), full=False)
    assert queue.get(timeout=0) is None


def test_full_absorbs_the_named_units() -> None:
    queue = WorkQueue()
    queue.add("a")
    queue.add(FULL)
    batch = queue.get(timeout=0)
    assert batch is not None and batch.full and batch.units == frozenset({"a"})


def test_add_after_waits_for_its_time() -> None:
    clock = Clock()
    queue = WorkQueue(clock=clock)
    queue.add_after("a", 5)
    assert queue.get(timeout=0) is None
    clock.now += 5
    assert queue.get(timeout=0) == Batch(frozenset({"a"}), full=False)


def test_close_wakes_the_consumer_with_nothing() -> None:
    queue = WorkQueue()
    queue.close()
    assert queue.get(timeout=5) is None


def test_backoff_grows_is_capped_and_resets() -> None:
    backoff = Backoff()
    delays = [backoff.next_delay("a") for _ in range(20)]
    assert delays[3] > delays[0]
    assert max(delays) <= backoff.max_seconds
    backoff.reset("a")
    assert backoff.next_delay("a") <= delays[1]
