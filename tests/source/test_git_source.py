"""GitSource against real repositories: a bare repo on disk as the remote, real commits and pushes."""

from __future__ import annotations

import os
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from source_helpers import Upstream, git

from gitops_agent.core.errors import ConfigError, SourceError
from gitops_agent.source import GitSource, Snapshot


def source(upstream: Upstream, tmp_path: Path, **kwargs: object) -> GitSource:
    return GitSource(str(upstream.bare), cache_dir=tmp_path / "cache", **kwargs)  # type: ignore[arg-type]


def files(snapshot: Snapshot) -> list[str]:
    return sorted(p.relative_to(snapshot.path).as_posix() for p in snapshot.path.rglob("*") if p.is_file())


def test_first_clone_gives_snapshot_of_branch_head(upstream: Upstream, tmp_path: Path) -> None:
    snapshot = source(upstream, tmp_path).fetch()

    assert snapshot.commit == upstream.head()
    assert len(snapshot.commit) == 40
    assert snapshot.short_commit == snapshot.commit[:12]
    assert snapshot.author == "Alice Example <alice@example.com>"
    assert snapshot.message == "Initial deployments\n\nTwo agents to start with.\n"
    assert snapshot.time == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert snapshot.time.utcoffset() is not None
    assert snapshot.ref == "main"
    assert files(snapshot) == ["README.md", "agents/support-bot.yaml", "agents/triage.yaml"]
    assert not (snapshot.path / ".git").exists()
    assert snapshot.path.is_relative_to(tmp_path / "cache")


def test_new_push_is_fetched_incrementally(upstream: Upstream, tmp_path: Path) -> None:
    src = source(upstream, tmp_path)
    first = src.fetch()
    sha = upstream.commit({"agents/triage.yaml": "changed\n", "agents/new.yaml": "x: 1\n"}, "Change")
    upstream.push()

    second = src.fetch()

    assert second.commit == sha != first.commit
    assert (second.path / "agents/triage.yaml").read_text() == "changed\n"
    assert (second.path / "agents/new.yaml").is_file()
    assert second.message == "Change\n"
    assert (first.path / "agents/triage.yaml").read_text() != "changed\n"  # old tree untouched


def test_fetch_without_changes_reuses_the_tree(upstream: Upstream, tmp_path: Path) -> None:
    src = source(upstream, tmp_path)
    assert src.fetch() == src.fetch()


def test_branch_tag_and_commit_refs(upstream: Upstream, tmp_path: Path) -> None:
    first = upstream.head()
    git("tag", "v1", cwd=upstream.work)
    git("tag", "-a", "v1-annotated", "-m", "release 1", cwd=upstream.work)
    git("checkout", "-q", "-b", "staging", cwd=upstream.work)
    staging = upstream.commit({"agents/staging.yaml": "s\n"}, "Staging only")
    upstream.push("staging", "--tags")
    git("checkout", "-q", "main", cwd=upstream.work)
    main = upstream.commit({"agents/main.yaml": "m\n"}, "Main moves on")
    upstream.push("main")

    cases = {
        "main": main,
        "refs/heads/main": main,
        "staging": staging,
        "v1": first,
        "refs/tags/v1": first,
        "v1-annotated": first,  # annotated tags are peeled to their commit
        first: first,
        first[:7]: first,
        staging[:12]: staging,
        "HEAD": main,  # the remote's default branch
    }
    for ref, expected in cases.items():
        snapshot = source(upstream, tmp_path, ref=ref).fetch()
        assert (ref, snapshot.commit) == (ref, expected)
        assert snapshot.ref == ref
    assert (source(upstream, tmp_path, ref="staging").fetch().path / "agents/staging.yaml").is_file()


def test_branch_wins_over_tag_of_the_same_name(upstream: Upstream, tmp_path: Path) -> None:
    git("tag", "release", cwd=upstream.work)
    git("branch", "release", cwd=upstream.work)
    upstream.push("refs/tags/release")
    git("checkout", "-q", "release", cwd=upstream.work)
    branch_head = upstream.commit({"b.yaml": "b\n"}, "On the branch")
    upstream.push("refs/heads/release")

    assert source(upstream, tmp_path, ref="release").fetch().commit == branch_head


def test_unknown_ref_is_not_retryable(upstream: Upstream, tmp_path: Path) -> None:
    for ref in ("no-such-branch", "deadbeef", "0" * 40):
        with pytest.raises(SourceError) as info:
            source(upstream, tmp_path, ref=ref).fetch()
        assert info.value.retryable is False
        assert repr(ref) in str(info.value)
        assert "branches: main" in str(info.value)


@pytest.mark.parametrize("ref", ["", "-delete", "a..b", "bad ref", "x~1", "feature/"])
def test_malformed_ref_is_a_config_error(upstream: Upstream, tmp_path: Path, ref: str) -> None:
    with pytest.raises(ConfigError):
        source(upstream, tmp_path, ref=ref)


def test_commit_on_no_branch_is_fetched_by_full_sha(upstream: Upstream, tmp_path: Path) -> None:
    src = source(upstream, tmp_path)
    src.fetch()
    git("checkout", "-q", "-b", "pr-1", cwd=upstream.work)
    orphaned = upstream.commit({"pr.yaml": "p\n"}, "PR commit")
    upstream.push("pr-1")
    git("push", "-q", "origin", "--delete", "pr-1", cwd=upstream.work)

    snapshot = source(upstream, tmp_path, ref=orphaned).fetch()

    assert snapshot.commit == orphaned
    assert (snapshot.path / "pr.yaml").is_file()


def test_sub_path(upstream: Upstream, tmp_path: Path) -> None:
    snapshot = source(upstream, tmp_path, sub_path="agents").fetch()
    assert snapshot.path.name == "agents"
    assert files(snapshot) == ["support-bot.yaml", "triage.yaml"]
    assert source(upstream, tmp_path, sub_path="./agents/").fetch().path == snapshot.path


def test_missing_sub_path_names_it(upstream: Upstream, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="'deploy/prod'") as info:
        source(upstream, tmp_path, sub_path="deploy/prod").fetch()
    assert info.value.retryable is False


@pytest.mark.parametrize("sub_path", ["../elsewhere", "/etc", "agents/../../x"])
def test_sub_path_cannot_escape(upstream: Upstream, tmp_path: Path, sub_path: str) -> None:
    with pytest.raises(ConfigError):
        source(upstream, tmp_path, sub_path=sub_path)


def test_sub_path_symlink_out_of_the_tree_is_refused(upstream: Upstream, tmp_path: Path) -> None:
    (upstream.work / "escape").symlink_to("/etc")
    git("add", "escape", cwd=upstream.work)
    upstream.commit({}, "Link out")
    upstream.push()
    with pytest.raises(SourceError, match="outside the repository"):
        source(upstream, tmp_path, sub_path="escape").fetch()


def test_force_push_is_followed(upstream: Upstream, tmp_path: Path) -> None:
    src = source(upstream, tmp_path)
    upstream.commit({"agents/bad.yaml": "oops\n"}, "Bad commit")
    upstream.push()
    bad = src.fetch()
    git("reset", "-q", "--hard", "HEAD~1", cwd=upstream.work)
    rewritten = upstream.commit({"agents/good.yaml": "ok\n"}, "Rewritten history")
    upstream.push(force=True)

    snapshot = src.fetch()

    assert snapshot.commit == rewritten != bad.commit
    assert (snapshot.path / "agents/good.yaml").is_file()
    assert not (snapshot.path / "agents/bad.yaml").exists()


def test_deleted_branch_and_moved_tag_are_followed(upstream: Upstream, tmp_path: Path) -> None:
    git("tag", "stable", cwd=upstream.work)
    git("push", "-q", "origin", "HEAD:refs/heads/gone", "stable", cwd=upstream.work)
    assert source(upstream, tmp_path, ref="gone").fetch().commit == upstream.head()
    moved = upstream.commit({"n.yaml": "n\n"}, "Next")
    git("tag", "-f", "stable", cwd=upstream.work)
    git("push", "-q", "--force", "origin", "main", "stable", ":refs/heads/gone", cwd=upstream.work)

    assert source(upstream, tmp_path, ref="stable").fetch().commit == moved
    with pytest.raises(SourceError) as info:
        source(upstream, tmp_path, ref="gone").fetch()
    assert info.value.retryable is False


def test_unreachable_remote_is_retryable_and_keeps_previous_tree(upstream: Upstream, tmp_path: Path) -> None:
    src = source(upstream, tmp_path)
    before = src.fetch()
    moved = upstream.bare.with_name("moved.git")
    upstream.bare.rename(moved)

    with pytest.raises(SourceError) as info:
        src.fetch()

    assert info.value.retryable is True
    assert str(upstream.bare) in str(info.value)
    assert (before.path / "agents/support-bot.yaml").read_text().startswith("kind: AgentDeployment")
    moved.rename(upstream.bare)
    assert src.fetch() == before  # recovers once the remote is back


def test_concurrent_fetches_are_serialized(upstream: Upstream, tmp_path: Path) -> None:
    sources = [source(upstream, tmp_path), source(upstream, tmp_path)]  # two objects, one cache
    results: list[Snapshot] = []
    errors: list[BaseException] = []

    def run(src: GitSource) -> None:
        try:
            for _ in range(3):
                results.append(src.fetch())
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=run, args=(sources[i % 2],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert len(results) == 12
    assert {r.commit for r in results} == {upstream.head()}
    worktrees = sources[0].cache_path / "worktrees"
    assert [p.name for p in worktrees.iterdir()] == [upstream.head()]


def test_old_worktrees_are_pruned(upstream: Upstream, tmp_path: Path) -> None:
    src = source(upstream, tmp_path, keep_worktrees=2)
    seen = [src.fetch().commit]
    for n in range(3):
        upstream.commit({f"agents/a{n}.yaml": f"{n}\n"}, f"Commit {n}")
        upstream.push()
        seen.append(src.fetch().commit)

    trees = {p.name for p in (src.cache_path / "worktrees").iterdir()}
    assert trees == set(seen[-2:])


def test_damaged_cache_is_rebuilt(upstream: Upstream, tmp_path: Path) -> None:
    src = source(upstream, tmp_path)
    src.fetch()
    repo_dir = src.cache_path / "repo.git"
    shutil.rmtree(repo_dir / "objects")
    (repo_dir / "HEAD").unlink()
    assert src.fetch().commit == upstream.head()


def test_describe_names_url_and_ref(upstream: Upstream, tmp_path: Path) -> None:
    src = source(upstream, tmp_path, ref="v2", sub_path="agents")
    assert src.describe() == f"git {upstream.bare} @ v2 (path agents)"


def test_a_failed_first_fetch_leaves_no_partial_clone_behind(upstream: Upstream, tmp_path: Path) -> None:
    for number in range(20):  # enough objects that the fetch has written some when it fails
        upstream.commit({f"data/blob{number}.bin": os.urandom(20_000).hex()}, f"data {number}")
    upstream.push("main")
    loose = next(p for p in (upstream.bare / "objects").glob("??/*") if p.is_file())
    original = loose.read_bytes()
    loose.chmod(0o644)
    loose.write_bytes(b"garbage")  # the remote dies halfway through sending its objects
    src = source(upstream, tmp_path)
    with pytest.raises(SourceError):
        src.fetch()
    assert sorted(p.name for p in src.cache_path.iterdir()) == ["lock"]  # no repo.git, no .init-*
    loose.write_bytes(original)
    assert src.fetch().commit == upstream.head()  # the next fetch clones from scratch


def test_a_failed_later_fetch_keeps_the_clone(upstream: Upstream, tmp_path: Path) -> None:
    src = source(upstream, tmp_path)
    src.fetch()
    upstream.bare.rename(upstream.bare.with_name("gone.git"))
    with pytest.raises(SourceError):
        src.fetch()
    assert (src.cache_path / "repo.git").is_dir()
