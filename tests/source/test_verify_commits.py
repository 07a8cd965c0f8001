"""Signed commits (`--verify-commits`): real ssh-keygen keys and `gpg.format=ssh` signatures, a real
GitSource fetching from a bare remote, git's own `verify-commit` deciding."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from gitrepo import Upstream, allowed_signers, git, ssh_key

from gitops_agent.core.errors import ConfigError
from gitops_agent.source import CommitRefusedError, CommitVerifier, GitSource


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    bare, work = tmp_path / "remote.git", tmp_path / "work"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    git("remote", "add", "origin", str(bare), cwd=work)
    return Upstream(bare=bare, work=work)


def test_only_commits_signed_by_a_trusted_key_are_fetched(upstream: Upstream, tmp_path: Path) -> None:
    trusted, stranger = ssh_key(tmp_path, "release"), ssh_key(tmp_path, "stranger")
    verifier = CommitVerifier(allowed_signers=allowed_signers(tmp_path, trusted))
    source = GitSource(str(upstream.bare), ref="main", cache_dir=tmp_path / "cache", verifier=verifier)

    good = upstream.commit({"a.txt": "1"}, "signed", sign_key=trusted)
    upstream.push("main")
    assert source.fetch().commit == good

    unsigned = upstream.commit({"a.txt": "2"}, "not signed")
    upstream.push("main")
    with pytest.raises(CommitRefusedError, match=rf"commit {unsigned[:12]} is not signed"):
        source.fetch()

    foreign = upstream.commit({"a.txt": "3"}, "signed by someone else", sign_key=stranger)
    upstream.push("main")
    with pytest.raises(CommitRefusedError, match=rf"commit {foreign[:12]} is not signed by a trusted key"):
        source.fetch()

    again = upstream.commit({"a.txt": "4"}, "signed again", sign_key=trusted)
    upstream.push("main")
    assert source.fetch().commit == again


def test_a_tampered_signature_does_not_verify(upstream: Upstream, tmp_path: Path) -> None:
    trusted = ssh_key(tmp_path, "release")
    verifier = CommitVerifier(allowed_signers=allowed_signers(tmp_path, trusted))
    signed = upstream.commit({"a.txt": "1"}, "signed", sign_key=trusted)
    # The same signature on a different commit (another message): what a forged history looks like.
    raw = git("cat-file", "commit", signed, cwd=upstream.work).replace("signed", "forged", 1)
    forged = subprocess.run(
        ["git", "hash-object", "-t", "commit", "-w", "--stdin"], input=raw + "\n", cwd=upstream.work,
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    git("update-ref", "refs/heads/main", forged, cwd=upstream.work)
    upstream.push("main", force=True)
    source = GitSource(str(upstream.bare), ref="main", cache_dir=tmp_path / "cache", verifier=verifier)
    with pytest.raises(CommitRefusedError, match="not signed by a trusted key"):
        source.fetch()


def test_a_verifier_needs_keys_that_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs --allowed-signers"):
        CommitVerifier()
    with pytest.raises(ConfigError, match="cannot read the trusted keys file"):
        CommitVerifier(allowed_signers=tmp_path / "missing")


def test_an_openpgp_keyring_verifies_gpg_signed_commits(upstream: Upstream, tmp_path: Path) -> None:
    """A real gpg key (made here, no passphrase), its public key exported as the keyring."""
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    gpg = ["gpg", "--batch", "--homedir", str(home)]
    new_key = [
        "--passphrase",
        "",
        "--quick-gen-key",
        "Release <release@example.com>",
        "ed25519",
        "sign",
        "never",
    ]
    subprocess.run([*gpg, *new_key], check=True, capture_output=True)
    keyring = tmp_path / "release.asc"
    exported = subprocess.run(
        [*gpg, "--armor", "--export", "release@example.com"], check=True, capture_output=True
    )
    keyring.write_bytes(exported.stdout)
    verifier = CommitVerifier(gpg_keyring=keyring)
    source = GitSource(str(upstream.bare), ref="main", cache_dir=tmp_path / "cache", verifier=verifier)

    signing = {"GNUPGHOME": str(home)}
    sign = ("-c", "user.signingkey=release@example.com")
    git(*sign, "commit", "-q", "-S", "--allow-empty", "-m", "gpg-signed", cwd=upstream.work, env=signing)
    upstream.push("main")
    assert source.fetch().commit == upstream.head()

    unsigned = upstream.commit({"a.txt": "2"}, "not signed")
    upstream.push("main")
    with pytest.raises(CommitRefusedError, match=rf"commit {unsigned[:12]} is not signed"):
        source.fetch()
