"""The positioned YAML loader: marks, limits and every way a file can be broken."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_agent.manifests.yamlpos import (
    MAX_DEPTH,
    Mark,
    YamlError,
    format_path,
    load_file,
    parse_documents,
    read_text,
)


def test_marks_of_keys_values_and_list_items() -> None:
    (doc,) = parse_documents("spec:\n  image: x\n  secretEnv:\n    - name: A\n      key: b\n")
    assert doc.keys[("spec", "image")] == Mark(2, 3)
    assert doc.values[("spec", "image")] == Mark(2, 10)
    assert doc.values[("spec", "secretEnv", 0)] == Mark(4, 7)
    assert doc.keys[("spec", "secretEnv", 0, "key")] == Mark(5, 7)


def test_mark_falls_back_to_nearest_written_ancestor() -> None:
    (doc,) = parse_documents("spec:\n  image: x\n")
    assert doc.mark(("spec", "missing", "deeper"), prefer_key=True) == Mark(1, 1)
    assert doc.mark(("spec", "image")) == Mark(2, 10)


def test_duplicate_key_is_an_error_at_the_second_key() -> None:
    with pytest.raises(YamlError) as err:
        parse_documents("a: 1\nb:\n  c: 1\n  c: 2\n")
    assert (err.value.line, err.value.column, err.value.path) == (4, 3, ("b", "c"))
    assert "first defined at line 3" in err.value.message


def test_merge_keys_work_and_explicit_keys_win() -> None:
    (doc,) = parse_documents("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n")
    assert doc.data["use"] == {"x": 1, "y": 3}
    assert doc.keys[("use", "y")] == Mark(4, 3)


def test_recursive_alias_is_rejected() -> None:
    with pytest.raises(YamlError, match="recursive alias"):
        parse_documents("a: &a [1, *a]\n")


def test_alias_bomb_is_stopped() -> None:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(YamlError, match="too many aliases"):
        parse_documents("\n".join(lines))


def test_deep_nesting_is_rejected_without_crashing() -> None:
    with pytest.raises(YamlError, match="nesting"):
        parse_documents("[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5))
    with pytest.raises(YamlError, match="nesting"):
        parse_documents("[" * 5000 + "]" * 5000)


def test_deep_nesting_points_at_the_line_and_column_where_the_limit_was_hit() -> None:
    """A 5,000-deep flow sequence used to be reported at 1:1 (a RecursionError has no position)."""
    text = "apiVersion: v1\nspec:\n  env:\n    X: " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(YamlError) as err:
        parse_documents(text)
    assert (err.value.line, err.value.column) == (4, 8 + MAX_DEPTH - 3)  # the bracket one level too deep
    block = "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 10)) + "  " * (MAX_DEPTH + 10) + "x\n"
    with pytest.raises(YamlError) as err:
        parse_documents(block)
    assert (err.value.line, err.value.column) == (MAX_DEPTH, 2 * (MAX_DEPTH - 1) + 1)  # key k63


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a: !!binary aGk=\n", "unsupported YAML tag !!binary"),
        ("a: !custom x\n", "unsupported YAML tag !custom"),
        ("a: !!set {x}\n", "unsupported YAML tag !!set"),
        ("a: .inf\n", "not a finite number"),
        ("a: !!int abc\n", "not a valid !!int"),
        ("on: 1\n", "quote it"),
        ("? [a]\n: b\n", "mapping keys must be plain strings"),
        ("a: \x07\n", "invalid character U+0007"),
    ],
)
def test_unsupported_constructs_are_clear_errors(text: str, fragment: str) -> None:
    with pytest.raises(YamlError) as err:
        parse_documents(text)
    assert fragment in err.value.message


def test_dates_stay_strings_and_plain_scalars_remember_their_text() -> None:
    (doc,) = parse_documents("when: 2024-01-01\nflag: yes\n")
    assert doc.data == {"when": "2024-01-01", "flag": True}
    assert doc.sources[("flag",)] == "yes"


def test_empty_documents_are_skipped() -> None:
    docs = parse_documents("---\n---\na: 1\n---\n")
    assert [d.data for d in docs] == [{"a": 1}]


def test_read_text_limits_and_encoding(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: " + b"x" * 300_000)
    with pytest.raises(YamlError, match="larger than the 256 KiB limit"):
        read_text(big)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"a: 1\nb: caf\xe9\n")
    with pytest.raises(YamlError) as err:
        read_text(latin)
    assert (err.value.line, err.value.column) == (2, 7)
    assert "not UTF-8" in err.value.message
    bom = tmp_path / "bom.yaml"
    bom.write_bytes("\ufeffa: 1\n".encode())
    assert read_text(bom) == "a: 1\n"
    blank = tmp_path / "blank.yaml"
    blank.write_text("  \n\n")
    with pytest.raises(YamlError, match="empty"):
        read_text(blank)


def test_load_file_single_document_rules(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\n---\nb: 2\n")
    with pytest.raises(YamlError) as err:
        load_file(path, multi=False, what="AgentDeployment")
    assert err.value.line == 3
    assert len(load_file(path, multi=True, what="object")) == 2
    path.write_text("just a string\n")
    with pytest.raises(YamlError, match="got a single value"):
        load_file(path, multi=False, what="AgentDeployment")


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("spec", "postgres", "storage"), "spec.postgres.storage"),
        (("spec", "secretEnv", 0, "key"), "spec.secretEnv[0].key"),
        (("spec", "labels", "example.com/team"), 'spec.labels["example.com/team"]'),
        ((), ""),
    ],
)
def test_format_path(path: tuple[str | int, ...], text: str) -> None:
    assert format_path(path) == text


REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS = sorted(
    p
    for folder in ("sample-repo", "tests/fixtures", "tests/golden", "charts/gitops-agent")
    for p in (REPO_ROOT / folder).rglob("*.y*ml")
    if "templates" not in p.parts  # Helm templates are not YAML until rendered
)


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_libyaml_and_pure_python_parses_agree(path: Path) -> None:
    """The fast path (libyaml's parser) gives the same data and marks as PyYAML's own, and whatever
    it cannot parse is reported exactly as PyYAML reports it (the fallback re-parses)."""
    from gitops_agent.manifests import yamlpos

    text = path.read_text(encoding="utf-8", errors="replace")
    outcomes: list[object] = []
    for loader in (yamlpos._FastLoader, yamlpos._Loader):
        try:
            documents = yamlpos._parse(text, loader)
            outcomes.append([(d.data, d.keys, d.values, d.start) for d in documents])
        except YamlError as err:
            outcomes.append(err.message)
    fast, pure = outcomes
    if isinstance(pure, str) and "found character '\\t' that cannot start any token" in pure:
        # The one known difference: a tab after a value (Argo CD's guestbook Service has them) is
        # valid YAML that libyaml, Kubernetes and kustomize accept and PyYAML's scanner does not.
        assert not isinstance(fast, str)
        return
    assert fast == pure or (isinstance(fast, str) and parse_fallback_matches(text, pure))


def parse_fallback_matches(text: str, pure: object) -> bool:
    """Where libyaml fails, parse_documents falls back to PyYAML: same result as PyYAML alone."""
    try:
        documents = parse_documents(text)
    except YamlError:
        return isinstance(pure, str)
    return [(d.data, d.keys, d.values, d.start) for d in documents] == pure
