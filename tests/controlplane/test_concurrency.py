"""Two writers at once: a lost push race is rebased and retried; a real conflict fails cleanly with
nothing pushed; a rebase that would make the repository invalid is refused too."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

import pytest
import yaml
from cphelpers import Remote, status
from gitrepo import git

from gitops_agent.controlplane.repo_writer import EditResult, EventKind, RepoTarget, WriteEvent
from gitops_agent.controlplane.verbs import (
    NewDeployment,
    PushConflictError,
    ValidationFailedError,
    create_deployment,
    set_image,
)

Verb = Callable[[RepoTarget], EditResult]


def _race(targets: list[RepoTarget], verbs: list[Verb]) -> list[EditResult | BaseException]:
    """Run the verbs in threads; both commit before either pushes (a barrier at the first push)."""
    barrier = threading.Barrier(len(verbs), timeout=60)
    results: list[EditResult | BaseException] = [RuntimeError("did not run")] * len(verbs)

    def hold(event: WriteEvent) -> None:
        if event.kind is EventKind.PUSHING and event.attempt == 1:
            barrier.wait()

    def run(index: int) -> None:
        try:
            results[index] = verbs[index](replace(targets[index], on_event=hold))
        except BaseException as err:  # handed to the test thread
            results[index] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(verbs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def _image(remote: Remote, name: str) -> str:
    return str(yaml.safe_load(remote.show(f"deployments/{name}.yaml"))["spec"]["image"])


def test_edits_of_different_deployments_from_two_clones_both_land(remote: Remote) -> None:
    before = remote.count()
    clones = [remote.clone("a"), remote.clone("b")]
    results = _race(
        [remote.target(), remote.target()],
        [
            lambda t: set_image(
                replace(t, location=str(clones[0])), "support-bot", "ghcr.io/x/support:2.0.0"
            ),
            lambda t: set_image(
                replace(t, location=str(clones[1])), "billing-agent", "ghcr.io/x/billing:2.0.0"
            ),
        ],
    )
    assert all(isinstance(r, EditResult) for r in results), results
    done = [r for r in results if isinstance(r, EditResult)]
    assert sorted(r.rebases for r in done) == [0, 1]
    assert remote.count() == before + 2
    assert _image(remote, "support-bot") == "ghcr.io/x/support:2.0.0"
    assert _image(remote, "billing-agent") == "ghcr.io/x/billing:2.0.0"
    # the rebased commit is the one now on the remote, and each clone is clean at its own commit
    assert {r.commit for r in done} == {remote.rev(), remote.rev("main~1")}
    for clone, result in zip(clones, done, strict=True):
        assert git("rev-parse", "HEAD", cwd=clone) == result.commit
        assert status(clone) == ""


def test_edits_of_the_same_field_conflict_and_only_one_lands(remote: Remote) -> None:
    before = remote.count()
    images = ["ghcr.io/example/support-bot:2.0.0", "ghcr.io/example/support-bot:3.0.0"]
    results = _race(
        [remote.target(), remote.target()],
        [lambda t, image=image: set_image(t, "support-bot", image) for image in images],  # type: ignore[misc]
    )
    winners = [r for r in results if isinstance(r, EditResult)]
    losers = [r for r in results if isinstance(r, PushConflictError)]
    assert len(winners) == 1 and len(losers) == 1, results
    [loser] = losers
    assert loser.file == "deployments/support-bot.yaml"
    assert "deployments/support-bot.yaml was changed on main" in str(loser)
    assert "nothing was pushed" in str(loser)
    assert remote.count() == before + 1
    assert _image(remote, "support-bot") == images[results.index(winners[0])]


def test_a_conflict_resets_a_local_clone_to_the_remote(remote: Remote) -> None:
    clones = [remote.clone("a"), remote.clone("b")]
    results = _race(
        [remote.target(location=str(clones[0])), remote.target(location=str(clones[1]))],
        [
            lambda t: set_image(t, "support-bot", "ghcr.io/example/support-bot:2.0.0"),
            lambda t: set_image(t, "support-bot", "ghcr.io/example/support-bot:3.0.0"),
        ],
    )
    loser = next(i for i, r in enumerate(results) if isinstance(r, PushConflictError))
    assert git("rev-parse", "HEAD", cwd=clones[loser]) == remote.rev()
    assert status(clones[loser]) == ""
    assert git("status", "--porcelain", "--ignored", cwd=clones[loser]) == ""


def test_two_valid_edits_that_clash_after_the_rebase_are_refused(remote: Remote) -> None:
    before = remote.count()
    results = _race(
        [remote.target(), remote.target()],
        [
            lambda t, name=name: create_deployment(  # type: ignore[misc]
                t, NewDeployment(name=name, image="ghcr.io/example/x:1.0.0", ingress_path="/shared")
            )
            for name in ("alpha-bot", "beta-bot")
        ],
    )
    refused = [r for r in results if isinstance(r, ValidationFailedError)]
    assert len(refused) == 1, results
    assert "/shared" in str(refused[0])
    assert remote.count() == before + 1


def test_without_retries_a_lost_race_is_a_push_conflict(remote: Remote) -> None:
    results = _race(
        [remote.target(attempts=1), remote.target(attempts=1)],
        [
            lambda t: set_image(t, "support-bot", "ghcr.io/x/support:2.0.0"),
            lambda t: set_image(t, "billing-agent", "ghcr.io/x/billing:2.0.0"),
        ],
    )
    errors = [r for r in results if isinstance(r, PushConflictError)]
    assert len(errors) == 1, results
    assert "rejected 1 times" in str(errors[0])


@pytest.mark.parametrize("attempts", [0])
def test_attempts_must_be_positive(remote: Remote, attempts: int) -> None:
    from gitops_agent.core.errors import ConfigError

    with pytest.raises(ConfigError):
        set_image(remote.target(attempts=attempts), "support-bot", "a/b:1")
