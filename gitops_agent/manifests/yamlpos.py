"""YAML loading that remembers where every value came from.

Users fix what they can find: every manifest problem must name `file:line:column` and a field path.
PyYAML's constructor throws positions away, so this module walks the composed node graph itself and
records the marks of every key and value. The walk is also where hostile or sloppy input is stopped:
size limits, duplicate keys (PyYAML silently keeps the last one), alias bombs (a few hundred bytes that
expand to billions of nodes), recursive aliases, exotic tags and non-finite numbers. Everything wrong
with a file surfaces as `YamlError`, never as another exception.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

# libyaml's parser, when PyYAML was built with it (its wheels are): see `_FastLoader`.
try:
    from yaml._yaml import CParser

    _C_PARSER: tuple[type, ...] = (CParser,)
except ImportError:
    _C_PARSER = ()

MAX_FILE_BYTES = 256 * 1024
"""Largest file read; real deployment files are a few KiB, so anything bigger is a mistake or an attack."""
MAX_NODES = 100_000
"""Most nodes one file may expand to, counting every alias use (stops alias bombs)."""
MAX_DEPTH = 64
"""Deepest nesting accepted; real manifests stay below 15."""

FieldPath = tuple[str | int, ...]

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null")}
_SIMPLE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class YamlError(Exception):
    """A file cannot be read as YAML; carries a 1-based position and, when known, the field path."""

    def __init__(self, message: str, *, line: int = 1, column: int = 1, path: FieldPath = ()) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.path = path


@dataclass(frozen=True, order=True)
class Mark:
    """A 1-based line and column in a file."""

    line: int
    column: int


@dataclass(frozen=True)
class Document:
    """One YAML document: plain data plus where each key and value starts.

    `keys` maps a field path to the mark of the mapping key naming it; `values` maps a path to the
    mark of its value (list items have only a value mark). `sources` keeps the original text of
    scalars YAML resolved to something other than a string, so messages can say what was written.
    """

    data: Any
    start: Mark
    keys: dict[FieldPath, Mark] = field(default_factory=dict)
    values: dict[FieldPath, Mark] = field(default_factory=dict)
    sources: dict[FieldPath, str] = field(default_factory=dict)

    def mark(self, path: FieldPath, *, prefer_key: bool = False) -> Mark:
        """Where `path` is written, falling back to its nearest written ancestor (e.g. missing fields)."""
        for end in range(len(path), 0, -1):
            prefix = path[:end]
            first, second = (self.keys, self.values) if prefer_key else (self.values, self.keys)
            found = first.get(prefix) or second.get(prefix)
            if found is not None:
                return found
        return self.start

    def get(self, path: FieldPath) -> Any:
        """The value at `path`, or None when any step is missing or of the wrong kind."""
        current: Any = self.data
        for step in path:
            in_list = isinstance(step, int) and isinstance(current, list) and 0 <= step < len(current)
            in_dict = isinstance(step, str) and isinstance(current, dict) and step in current
            if not (in_list or in_dict):
                return None
            current = current[step]
        return current


def format_path(path: FieldPath) -> str:
    """`("spec", "secretEnv", 0, "key")` → `spec.secretEnv[0].key`; odd keys are quoted in brackets."""
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        elif _SIMPLE_KEY.match(step):
            out += f".{step}" if out else step
        else:
            out += '["' + step.replace("\\", "\\\\").replace('"', '\\"') + '"]'
    return out


def read_text(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> str:
    """Read a file as UTF-8 text, refusing huge, binary-looking or empty files with a clear problem."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as err:
        raise YamlError(f"cannot read file: {err.strerror or err}") from err
    if len(raw) > max_bytes:
        raise YamlError(f"file is larger than the {max_bytes // 1024} KiB limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        column = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        raise YamlError(
            f"file is not UTF-8 text (invalid byte 0x{raw[err.start]:02x})", line=line, column=column
        ) from err
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise YamlError("file is empty")
    return text


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps dates as strings: JSON Schema (and Kubernetes) only know strings, and
    stops at MAX_DEPTH while composing (PyYAML's composer recurses: a 5,000-deep flow sequence would
    otherwise end in a RecursionError that knows no position)."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise YamlError(
                    f"nesting is deeper than {MAX_DEPTH} levels", line=mark.line + 1, column=mark.column + 1
                )
            return Composer.compose_node(self, parent, index)  # shared by _FastLoader
        finally:
            self._depth -= 1


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TAG + "timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _FastLoader(*_C_PARSER, Composer, SafeConstructor, Resolver):  # type: ignore[misc]
    """libyaml's scanner and parser (C, ~5x faster) under the same Python composer, resolvers and
    depth limit as `_Loader`: the nodes, and so the data and every mark, are the same. Only for text
    that parses: a syntax error is reported by re-parsing with `_Loader`, in PyYAML's own words."""

    _depth = 0

    def __init__(self, stream: str) -> None:
        CParser.__init__(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)

    check_node = Composer.check_node
    get_node = Composer.get_node
    compose_node = _Loader.compose_node


_FastLoader.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers


def parse_documents(text: str) -> list[Document]:
    """Every non-empty document in `text`, in order (an empty document, e.g. a trailing `---`, is skipped)."""
    if _C_PARSER:
        try:
            return _parse(text, _FastLoader)
        except (yaml.YAMLError, YamlError):
            pass  # said again below, positioned and worded as PyYAML says it
    return _parse(text, _Loader)


def _parse(text: str, loader_class: type[_Loader] | type[_FastLoader]) -> list[Document]:
    documents: list[Document] = []
    loader: _Loader | _FastLoader | None = None
    try:
        loader = loader_class(text)
        for node in _composed(loader):
            if isinstance(node, ScalarNode) and node.tag == _TAG + "null" and node.value in ("", "~", "null"):
                continue
            documents.append(_Walker(loader).document(node))
    except yaml.YAMLError as err:
        raise _syntax_problem(err, text) from err
    except RecursionError as err:
        raise YamlError(f"nesting is deeper than {MAX_DEPTH} levels") from err
    finally:
        if loader is not None:
            loader.dispose()
    return documents


def _composed(loader: _Loader | _FastLoader) -> Iterator[Node]:
    while loader.check_node():
        node = loader.get_node()
        if node is not None:
            yield node


def _syntax_problem(err: yaml.YAMLError, text: str) -> YamlError:
    """Turn any PyYAML error into a positioned problem with PyYAML's own wording."""
    if isinstance(err, yaml.reader.ReaderError):
        before = text[: err.position]
        line = before.count("\n") + 1
        column = err.position - (before.rfind("\n") + 1) + 1
        return YamlError(f"invalid character U+{err.character:04X} in file", line=line, column=column)
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        parts = [p for p in (err.context, err.problem) if p]
        message = "invalid YAML: " + ", ".join(parts) if parts else "invalid YAML"
        context = err.context_mark
        if context is not None and mark is not None and context.line != mark.line:
            message += f" (the construct started at line {context.line + 1}, column {context.column + 1})"
        if mark is not None:
            return YamlError(message, line=mark.line + 1, column=mark.column + 1)
        return YamlError(message)
    return YamlError(f"invalid YAML: {err}")


def _tag(tag: str) -> str:
    """`tag:yaml.org,2002:set` → `!!set`, as users write it."""
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


def _mark(node: Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


class _Walker:
    """Builds plain data from one document's nodes, recording marks and enforcing the limits."""

    def __init__(self, loader: _Loader | _FastLoader) -> None:
        self._loader = loader
        self._nodes = 0
        self._active: set[int] = set()
        self._doc: Document | None = None

    def document(self, root: Node) -> Document:
        self._doc = Document(data=None, start=_mark(root))
        data = self._value(root, ())
        doc = self._doc
        return Document(data=data, start=doc.start, keys=doc.keys, values=doc.values, sources=doc.sources)

    def _value(self, node: Node, path: FieldPath) -> Any:
        assert self._doc is not None
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise YamlError(
                f"document expands to more than {MAX_NODES} values (too many aliases?)", **_pos(node, path)
            )
        if len(path) > MAX_DEPTH:
            raise YamlError(f"nesting is deeper than {MAX_DEPTH} levels", **_pos(node, path))
        self._doc.values.setdefault(path, _mark(node))
        if id(node) in self._active:
            raise YamlError("recursive alias: a value contains itself", **_pos(node, path))
        self._active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            if isinstance(node, SequenceNode):
                return self._sequence(node, path)
            return self._scalar(node, path)
        finally:
            self._active.discard(id(node))

    def _sequence(self, node: SequenceNode, path: FieldPath) -> list[Any]:
        if node.tag != _TAG + "seq":
            raise YamlError(f"unsupported YAML tag {_tag(node.tag)}", **_pos(node, path))
        return [self._value(item, (*path, index)) for index, item in enumerate(node.value)]

    def _scalar(self, node: Node, path: FieldPath) -> Any:
        assert self._doc is not None
        if not isinstance(node, ScalarNode) or node.tag not in _SCALAR_TAGS:
            raise YamlError(f"unsupported YAML tag {_tag(node.tag)}", **_pos(node, path))
        try:
            value = self._loader.construct_object(node)
        except (ValueError, KeyError, TypeError) as err:
            raise YamlError(f"{node.value!r} is not a valid {_tag(node.tag)}", **_pos(node, path)) from err
        if isinstance(value, float) and not math.isfinite(value):
            raise YamlError(f"{node.value!r} is not a finite number", **_pos(node, path))
        if not isinstance(value, str):
            self._doc.sources[path] = node.value
        return value

    def _mapping(self, node: MappingNode, path: FieldPath) -> dict[str, Any]:
        assert self._doc is not None
        if node.tag != _TAG + "map":
            raise YamlError(f"unsupported YAML tag {_tag(node.tag)}", **_pos(node, path))
        result: dict[str, Any] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                merges.append(value_node)
                continue
            key = self._key(key_node, path)
            if key in result:
                first = self._doc.keys[(*path, key)]
                raise YamlError(
                    f"duplicate key {key!r} (first defined at line {first.line})",
                    **_pos(key_node, (*path, key)),
                )
            self._doc.keys.setdefault((*path, key), _mark(key_node))
            result[key] = self._value(value_node, (*path, key))
        for merge in merges:
            self._merge(result, merge, path)
        return result

    def _merge(self, result: dict[str, Any], source: Node, path: FieldPath) -> None:
        """YAML merge keys (`<<: *defaults`): explicit keys win, earlier merge sources win over later."""
        sources = source.value if isinstance(source, SequenceNode) else [source]
        for item in sources:
            merged = self._value(item, path) if isinstance(item, MappingNode) else None
            if not isinstance(merged, dict):
                raise YamlError("a merge key (<<) needs a mapping or a list of mappings", **_pos(item, path))
            for key, value in merged.items():
                result.setdefault(key, value)

    def _key(self, node: Node, path: FieldPath) -> str:
        if not isinstance(node, ScalarNode):
            raise YamlError("mapping keys must be plain strings, not lists or mappings", **_pos(node, path))
        if node.tag != _TAG + "str":
            kind = _tag(node.tag).removeprefix("!!")
            raise YamlError(
                f'key {node.value} is read as a {kind} by YAML; quote it ("{node.value}") to use it as text',
                **_pos(node, path),
            )
        return str(node.value)


def _pos(node: Node, path: FieldPath) -> dict[str, Any]:
    mark = _mark(node)
    return {"line": mark.line, "column": mark.column, "path": path}


def load_file(path: Path, *, multi: bool, what: str, root: Path | None = None) -> list[Document]:
    """Read and parse one file whose documents must all be mappings; `what` names them in messages.

    With `multi=False` the file must hold exactly one document: a second one would otherwise be
    silently ignored or silently deployed, depending on the tool that reads it next. With `root`,
    a symbolic link leading outside it is refused: a repository must not make the agent read (and
    quote in error messages) files of the machine it runs on.
    """
    if root is not None and not path.resolve().is_relative_to(root.resolve()):
        raise YamlError("symbolic link points outside the repository; refused")
    documents = parse_documents(read_text(path))
    if not documents:
        raise YamlError("file has no content (only comments or empty documents)")
    if not multi and len(documents) > 1:
        second = documents[1].start
        raise YamlError(
            f"file holds {len(documents)} YAML documents; it must hold exactly one {what} "
            "(put each in its own file)",
            line=second.line,
            column=second.column,
        )
    for doc in documents:
        if not isinstance(doc.data, dict):
            kind = "a list" if isinstance(doc.data, list) else "a single value"
            raise YamlError(
                f"expected a mapping ({what}) at the top level, got {kind}",
                line=doc.start.line,
                column=doc.start.column,
            )
    return documents
