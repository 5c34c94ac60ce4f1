"""Reading a topology file: YAML 1.2 into plain Python data, with a position for every node.

Why not ``yaml.safe_load``: it forgets where things were (we must point at line and column), it
speaks YAML 1.1 (``no`` would become ``False``), it silently keeps the last of two duplicate keys,
and it expands aliases without bound (a "billion laughs" file eats the machine). We compose the
node graph with ruamel.yaml (YAML 1.2, positions on every node), measure the expanded size of the
graph before expanding anything, and build the data ourselves.
"""

from __future__ import annotations

import math
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import yaml as pyyaml
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode as RuamelMapping
from ruamel.yaml.nodes import ScalarNode as RuamelScalar
from ruamel.yaml.nodes import SequenceNode as RuamelSequence
from ruamel.yaml.reader import ReaderError

from planner.diagnostics import Finding, PlannerError, Position, Severity, YamlPath
from planner.limits import (
    MAX_ALIAS_EXTRA_NODES,
    MAX_DEPTH,
    MAX_EXPANDED_NODES,
    MAX_FILE_BYTES,
    MAX_STRING_CHARS,
)

EXIT_UNREADABLE = 3

# Two parsers compose the same node graph (tag, value, style, start_mark): libyaml's C parser,
# fast, for files it accepts; ruamel's pure parser, the reference, for the rest -- it explains
# syntax errors in the words `_SYNTAX` rephrases and accepts what libyaml refuses (redefined anchors).
Node: TypeAlias = Any  # a node of either parser
MAPPING_NODES = (RuamelMapping, pyyaml.MappingNode)
SEQUENCE_NODES = (RuamelSequence, pyyaml.SequenceNode)
SCALAR_NODES = (RuamelScalar, pyyaml.ScalarNode)

_CORE = "tag:yaml.org,2002:"
_STANDARD_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "merge")}


@dataclass
class Document:
    """A loaded file: its data, and where in the text each value and each key stands."""

    file: str
    data: dict[str, Any]
    lines: list[str]
    positions: dict[YamlPath, Position] = field(default_factory=dict)
    key_positions: dict[YamlPath, Position] = field(default_factory=dict)

    def where(self, path: YamlPath, *, key: bool = False) -> Position | None:
        """Position of the value at ``path`` (or of its key), else of its nearest known ancestor."""
        if key and path in self.key_positions:
            return self.key_positions[path]
        probe = path
        while probe:
            if probe in self.positions:
                return self.positions[probe]
            probe = probe[:-1]
        return self.positions.get((), Position(1, 1))


def _error(code: str, message: str, hint: str, file: str, position: Position | None = None,
           path: YamlPath = ()) -> Finding:
    return Finding(code, Severity.ERROR, message, hint, file, position, path)


STDIN = "-"  # the path that means standard input, as for most command-line tools
STDIN_NAME = "<stdin>"  # how findings name it


_stdin_read: tuple[object, bytes] | None = None


def stdin_bytes() -> bytes:
    """Standard input, read once per stream (its excerpts are shown after it was parsed), at most one
    byte past the size limit."""
    global _stdin_read
    if _stdin_read is None or _stdin_read[0] is not sys.stdin:
        _stdin_read = (sys.stdin, sys.stdin.buffer.read(MAX_FILE_BYTES + 1))
    return _stdin_read[1]


def load_file(path: str | Path) -> Document:
    """Read and parse a topology file (`-`: standard input), or raise PlannerError (exit code 3)."""
    name = str(path)
    if name == STDIN:
        return load_bytes(stdin_bytes(), STDIN_NAME)
    try:
        size = Path(path).stat().st_size
        if size > MAX_FILE_BYTES:
            raise PlannerError([_error(
                "MP008", f"file is too large ({size} bytes; the limit is {MAX_FILE_BYTES})",
                "split the estate or remove generated bulk; a topology file is written by people",
                name)], EXIT_UNREADABLE)
        raw = Path(path).read_bytes()
    except PlannerError:
        raise
    except IsADirectoryError:
        raise PlannerError([_error("MP001", "is a directory, not a topology file",
                                   "name the topology.yaml file inside it", name)], EXIT_UNREADABLE) from None
    except OSError as exc:
        raise PlannerError([_error("MP001", f"cannot read the file: {exc.strerror or exc}",
                                   "check the path and its permissions", name)], EXIT_UNREADABLE) from None
    return load_bytes(raw, name)


def load_bytes(raw: bytes, name: str) -> Document:
    if len(raw) > MAX_FILE_BYTES:
        raise PlannerError([_error(
            "MP008", f"file is too large ({len(raw)} bytes; the limit is {MAX_FILE_BYTES})",
            "split the estate or remove generated bulk; a topology file is written by people",
            name)], EXIT_UNREADABLE)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise PlannerError([_error(
            "MP002", "the file is UTF-16 (it starts with a UTF-16 byte order mark), not UTF-8",
            "save the file as UTF-8 (your editor's encoding setting)", name, Position(1, 1))],
            EXIT_UNREADABLE)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise PlannerError([_error(
            "MP002", f"the file is not UTF-8 (byte 0x{raw[exc.start]:02x} cannot be decoded)",
            "save the file as UTF-8; a lone byte like this usually comes from Latin-1 or Windows-1252 text",
            name, Position(line, column))], EXIT_UNREADABLE) from None
    return load_text(text, name)


def load_text(text: str, name: str) -> Document:
    lines = text.splitlines()
    if "\x00" in text:
        raise PlannerError([_error("MP002", "the file contains a NUL byte",
                                   "a topology file is plain text; remove the binary content",
                                   name, _offset_position(text, text.index("\x00")))], EXIT_UNREADABLE)
    root = _fast_compose(text)
    if root is None:
        root = _reference_compose(text, name, lines)
    if root is None:
        raise PlannerError([_error("MP003", "the file is empty",
                                   "start from one of the examples: version, name, organisations, "
                                   "communities, instances", name, Position(1, 1))], EXIT_UNREADABLE)
    if not isinstance(root, MAPPING_NODES):
        kind = "a list" if isinstance(root, SEQUENCE_NODES) else "a single value"
        raise PlannerError([_error("MP007", f"the top level is {kind}, not a mapping",
                                   "a topology file is a mapping with keys version, name, "
                                   "organisations, communities, instances", name,
                                   _pos(root))], EXIT_UNREADABLE)
    builder = _Builder(name, lines)
    if _aliased_or_deep(root):
        builder.check_expansion(root)  # finds and reports the bound exceeded
    else:
        builder.consume = True  # every node is built once: drop each as it is built
    data = builder.build(root, (), 0)
    del root
    if builder.findings:
        raise PlannerError(builder.findings, EXIT_UNREADABLE)
    assert isinstance(data, dict)
    return Document(name, data, lines, builder.positions, builder.key_positions)


# The YAML 1.2 core schema's resolution of plain scalars: tag, pattern, first characters.
_CORE_SCHEMA = (
    ("null", r"^(?:null|Null|NULL|~|)$", ["n", "N", "~", ""]),
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    ("float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
              r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", list("-+.0123456789")),
    ("merge", r"^(?:<<)$", ["<"]),
)
_RESOLVERS: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
for _name, _pattern, _first in _CORE_SCHEMA:
    for _char in _first:
        _RESOLVERS.setdefault(_char, []).append((_CORE + _name, re.compile(_pattern)))
_PLAIN = "!plain"  # a plain scalar libyaml composed, resolved by _plain_tag when it is built


def _plain_tag(value: str) -> str:
    for tag, pattern in _RESOLVERS.get(value[:1], ()):
        if pattern.match(value):
            return tag
    return _CORE + "str"


class _Yaml12Loader(getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's parser. Plain scalars are marked _PLAIN and resolved by the YAML 1.2 core schema as
    they are built (`no` is a string): PyYAML's resolver, called for every scalar, was a third of
    the time of composing a large estate."""

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is pyyaml.ScalarNode:
            return _PLAIN if implicit[0] else _CORE + "str"
        return _CORE + ("seq" if kind is pyyaml.SequenceNode else "map")


def _is_merge(key: Node) -> bool:
    """A `<<` key (merge) as written plain; ruamel's nodes come resolved already."""
    return str(key.tag) == _CORE + "merge" or (str(key.tag) == _PLAIN and key.value == "<<")


def _tag(node: Node) -> str:
    tag = str(node.tag)
    return _plain_tag(node.value) if tag == _PLAIN else tag


def _fast_compose(text: str) -> Any:
    """The node graph by libyaml, or None when libyaml refuses the text (the reference decides)."""
    try:
        return pyyaml.compose(text, Loader=_Yaml12Loader)
    except (pyyaml.YAMLError, RecursionError):
        return None


def _reference_compose(text: str, name: str, lines: list[str]) -> Any:
    yaml = YAML(typ="safe", pure=True)  # composes the same nodes and marks as "rt", ~1.5x faster
    yaml.version = (1, 2)
    try:
        with warnings.catch_warnings():
            # A redefined anchor is legal YAML (later aliases use the new value); ruamel would
            # print a Python warning on stderr in the middle of our output.
            warnings.simplefilter("ignore")
            root = yaml.compose(text)
    except ReaderError as exc:
        # YAML forbids most control characters anywhere in the text, even inside quotes.
        raise PlannerError([_error(
            "MP002", f"the file contains the control character U+{_code_point(exc.character):04X}",
            "remove it; write special characters inside double quotes as escapes (\\x07, \\u00e9)",
            name, _offset_position(text, exc.position))], EXIT_UNREADABLE) from None
    except MarkedYAMLError as exc:
        raise PlannerError([_syntax_error(exc, name, lines)], EXIT_UNREADABLE) from None
    except RecursionError:
        raise PlannerError([_error("MP010", f"the document nests far deeper than {MAX_DEPTH} levels",
                                   "flatten the structure; a topology needs a handful of levels",
                                   name)], EXIT_UNREADABLE) from None
    except YAMLError as exc:
        message = " ".join(str(exc).split())
        raise PlannerError([_error("MP004", f"YAML syntax error: {message}",
                                   "fix the YAML syntax", name)], EXIT_UNREADABLE) from None
    return root


def _aliased_or_deep(root: Node) -> bool:
    """Whether a mapping or list is reached twice (an alias) or anything nests deeper than MAX_DEPTH:
    only then can the data once expanded outgrow the text, and check_expansion measures it. One pass
    over the mappings and lists as written (a repeated scalar adds no more than its alias's text)."""
    seen: set[int] = set()
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            return True
        seen.add(id(node))
        children = ([part for pair in node.value for part in pair] if isinstance(node, MAPPING_NODES)
                    else node.value if isinstance(node, SEQUENCE_NODES) else [])
        if children and depth + 1 > MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children if not isinstance(child, SCALAR_NODES))
    return False


def _pos(node: Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def _code_point(character: object) -> int:
    return ord(character) if isinstance(character, str) and len(character) == 1 else int(str(character), 0)


def _offset_position(text: str, offset: int) -> Position:
    # Count lines as the parser and the source display do (splitlines: also \r, \x85, \u2028).
    before = (text[:offset] + "x").splitlines()
    return Position(len(before), len(before[-1]))


# The YAML parser's own words for common mistakes, rephrased: (problem starts with, context starts
# with) -> (message, hint, point at the context rather than the problem).
_SYNTAX: list[tuple[str, str, str, str, bool]] = [
    ("found character '\\t' that cannot start any token", "", "a tab character is used for indentation",
     "YAML indents with spaces only; replace the tab with spaces", False),
    ("found unexpected end of stream", "while scanning a quoted", "a quoted value is never closed",
     "add the closing quote", True),
    ("expected <block end>", "", "this line is indented differently from the lines above it",
     "keys of one mapping must start in the same column; align this line with its siblings", False),
    ("mapping values are not allowed here", "", "a ':' here starts a mapping where YAML does not expect one",
     "indent the line under its parent key, or quote a value that contains ': '", False),
    ("but found another document", "", "the file holds a second YAML document after '---'",
     "a topology is one document; remove the second '---' and what follows it", False),
    ("expected ',' or '}'", "while parsing a flow mapping", "a '{' mapping is not closed before this point",
     "close the '{' ... '}' on its line, or write the mapping in block style", False),
    ("expected ',' or ']'", "while parsing a flow sequence", "a '[' list is not closed before this point",
     "close the '[' ... ']' on its line, or write the list in block style", False),
]


def _syntax_error(exc: MarkedYAMLError, name: str, lines: list[str]) -> Finding:
    problem = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
    context = " ".join(str(exc.context or "").split())
    problem_mark, context_mark = exc.problem_mark, exc.context_mark
    message, hint = problem, "fix the YAML syntax at this place (indentation, quotes, colons)"
    mark = problem_mark or context_mark
    for starts, context_starts, plain, advice, at_context in _SYNTAX:
        if problem.startswith(starts) and context.startswith(context_starts):
            message, hint = plain, advice
            if at_context and context_mark is not None:
                mark = context_mark
            break
    else:
        if context and context_mark is not None and exc.problem:
            message = f"{problem} ({context} on line {context_mark.line + 1})"
    if message.startswith("a tab") and mark is not None and mark.line < len(lines) \
            and lines[mark.line][: mark.column].strip():
        message = "a tab character separates the value from its key"
        hint = "use spaces here; the YAML reader accepts tabs only inside quoted text"
    if mark is not None and mark.line >= len(lines) and context_mark is not None:
        mark = context_mark  # the end of the file has no line to show; point where the construct began
    position = Position(mark.line + 1, mark.column + 1) if mark is not None else None
    return _error("MP004", f"YAML syntax error: {message}", hint, name, position)


def _shown_tag(tag: str) -> str:
    """A tag as people write it: ``!!python/object`` rather than ``tag:yaml.org,2002:python/object``."""
    return "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag


class _Builder:
    def __init__(self, name: str, lines: list[str]) -> None:
        self.name = name
        self.lines = lines
        self.findings: list[Finding] = []
        self.positions: dict[YamlPath, Position] = {}
        self.key_positions: dict[YamlPath, Position] = {}
        self._seen: set[int] = set()
        # Without aliases, a node's subtree is built once: the builder then lets go of each node as
        # soon as it is built, so the node graph and the data are not both in memory whole.
        self.consume = False

    def anchor_of(self, node: Node) -> str | None:
        """The anchor name written at the node (libyaml's nodes do not keep it)."""
        anchor = getattr(node, "anchor", None)
        if isinstance(anchor, str):
            return anchor
        line, column = node.start_mark.line, node.start_mark.column
        found = re.match(r"&([^\s,\[\]{}]+)", self.lines[line][column:]) if line < len(self.lines) else None
        return found.group(1) if found else None

    def check_expansion(self, root: Node) -> None:
        """Measure the data as it will be once every alias is expanded, before expanding anything.

        Three bounds: the values in total (a "billion laughs" file), the extra values aliases add
        to what is written in the file (each extra value costs memory and a position), and the
        nesting depth, which aliases can deepen without the text looking deep.
        """
        sizes: dict[int, int] = {}  # node -> values once expanded
        heights: dict[int, int] = {}  # node -> nesting levels once expanded
        uses: dict[int, int] = {}  # node -> how many times it is reached
        nodes: dict[int, Node] = {}
        on_stack: set[int] = set()

        def too_deep(node: Node, through_alias: bool = False) -> PlannerError:
            how = " (counting through aliases)" if through_alias else ""
            return PlannerError([_error(
                "MP010", f"the document nests deeper than {MAX_DEPTH} levels{how}",
                "flatten the structure; a topology needs a handful of levels",
                self.name, _pos(node))], EXIT_UNREADABLE)

        def size(node: Node, depth: int) -> int:
            key = id(node)
            uses[key] = uses.get(key, 0) + 1
            if key in sizes:
                if depth + heights[key] > MAX_DEPTH:
                    raise too_deep(node, through_alias=True)
                return sizes[key]
            if key in on_stack:
                anchor = self.anchor_of(node)
                shown = f"'&{anchor}' " if isinstance(anchor, str) else ""
                raise PlannerError([_error(
                    "MP010", f"the anchor {shown}is used inside the value it names (a recursive alias)",
                    "an alias may only refer to a value defined before and outside it; write the value out",
                    self.name, _pos(node))], EXIT_UNREADABLE)
            if depth > MAX_DEPTH:
                raise too_deep(node)
            on_stack.add(key)
            nodes[key] = node
            total, height = 1, 0
            children: list[Node] = []
            if isinstance(node, MAPPING_NODES):
                children = [part for pair in node.value for part in pair]
            elif isinstance(node, SEQUENCE_NODES):
                children = list(node.value)
            for child in children:
                total += size(child, depth + 1)
                height = max(height, heights[id(child)] + 1)
                if total > MAX_EXPANDED_NODES:
                    break
            on_stack.discard(key)
            sizes[key], heights[key] = total, height
            if total > MAX_EXPANDED_NODES:
                raise PlannerError([_error(
                    "MP006", f"aliases expand to more than {MAX_EXPANDED_NODES:,} values",
                    "this looks like an alias bomb (\"billion laughs\"); write the values out or "
                    "use fewer nested aliases", self.name, _pos(node))], EXIT_UNREADABLE)
            return total

        expanded = size(root, 0)
        extra = expanded - len(sizes)
        if extra > MAX_ALIAS_EXTRA_NODES:
            # Point at the anchored value whose repetitions weigh most.
            worst = max((k for k in uses if uses[k] > 1), key=lambda k: (uses[k] - 1) * sizes[k])
            raise PlannerError([_error(
                "MP006", f"aliases add {extra:,} values to the {len(sizes):,} written in the file (at most "
                f"{MAX_ALIAS_EXTRA_NODES:,} may be added); the value here is repeated {uses[worst] - 1:,} times",
                "this looks like an alias bomb (\"billion laughs\"); write the values out or "
                "use fewer nested aliases", self.name, _pos(nodes[worst]))], EXIT_UNREADABLE)

    def build(self, node: Node, path: YamlPath, depth: int, at: Position | None = None) -> Any:
        # A node met a second time was reached through an alias: point at the referring key.
        repeated = id(node) in self._seen
        if not self.consume:
            self._seen.add(id(node))
        self.positions[path] = at if (repeated and at) else _pos(node)
        if at is not None and isinstance(node, SCALAR_NODES) and node.value == "" and not node.style:
            # An empty value ('instances:' and nothing after it) starts on the next line: point at its key.
            self.positions[path] = at
        tag = _tag(node)
        if tag not in _STANDARD_TAGS:
            self.findings.append(_error(
                "MP009", f"unsupported YAML tag '{_shown_tag(tag)}'",
                "remove the tag; a topology file uses plain YAML values only",
                self.name, _pos(node), path))
            return None
        if isinstance(node, MAPPING_NODES):
            return self._mapping(node, path, depth)
        if isinstance(node, SEQUENCE_NODES):
            items = node.value
            built = [self.build(item, (*path, i), depth + 1, at if repeated else None)
                     for i, item in enumerate(items)]
            if self.consume:
                items.clear()
            return built
        assert isinstance(node, SCALAR_NODES)
        return self._scalar(node, path, tag)

    def _mapping(self, node: Node, path: YamlPath, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, Position] = {}
        merged: list[tuple[str, Any]] = []
        # Merged ('<<: *base') values first, so that the positions of keys written here win over
        # the positions of the same keys in the merged mapping, wherever the '<<' line stands.
        for key_node, value_node in node.value:
            if _is_merge(key_node):
                merged.extend(self._merge_sources(value_node, path, depth))
        for key_node, value_node in node.value:
            if _is_merge(key_node):
                continue
            if not isinstance(key_node, SCALAR_NODES):
                self.findings.append(_error("MP004", "a mapping key must be a plain value",
                                            "use a simple word as the key", self.name,
                                            _pos(key_node), path))
                continue
            key = str(key_node.value)
            key_at = _pos(key_node)
            if key in first_seen:
                first = first_seen[key]
                self.findings.append(_error(
                    "MP005", f"duplicate key '{key}' (first defined on line {first.line})",
                    "remove one of the two entries or merge them", self.name, key_at, (*path, key)))
                continue
            first_seen[key] = key_at
            self.key_positions[(*path, key)] = key_at
            result[key] = self.build(value_node, (*path, key), depth + 1, key_at)
        for key, value in merged:
            result.setdefault(key, value)
        if self.consume:
            node.value.clear()
        return result

    def _merge_sources(self, node: Node, path: YamlPath, depth: int) -> list[tuple[str, Any]]:
        sources = node.value if isinstance(node, SEQUENCE_NODES) else [node]
        pairs: list[tuple[str, Any]] = []
        for source in sources:
            if not isinstance(source, MAPPING_NODES):
                self.findings.append(_error("MP004", "'<<' (merge) needs a mapping or a list of mappings",
                                            "merge an anchored mapping: '<<: *defaults'", self.name,
                                            _pos(source), path))
                continue
            pairs.extend(self._mapping(source, path, depth).items())
        return pairs

    def _scalar(self, node: Node, path: YamlPath, tag: str) -> Any:
        value = str(node.value)
        if node.style == ">":
            value = value.replace("\a", "")  # ruamel marks fold points of folded scalars with BEL
        if len(value) > MAX_STRING_CHARS:
            self.findings.append(_error(
                "MP011", f"a value is {len(value):,} characters long (the limit is {MAX_STRING_CHARS:,})",
                "shorten it; long text belongs in documentation, not in the topology",
                self.name, _pos(node), path))
            return ""
        if tag == _CORE + "null":
            return None
        if tag == _CORE + "bool":
            return value.lower() == "true"
        if tag == _CORE + "int":
            return _to_int(value)
        if tag == _CORE + "float":
            return _to_float(value)
        return value


def _to_int(value: str) -> int | str:
    text = value.replace("_", "")
    try:
        if text.lower().startswith(("0x", "-0x", "+0x", "0o", "-0o", "+0o")):
            return int(text, 0)
        return int(text, 10)
    except ValueError:
        return value


def _to_float(value: str) -> float | str:
    text = value.lower().replace("_", "")
    if text in (".inf", "+.inf"):
        return math.inf
    if text == "-.inf":
        return -math.inf
    if text == ".nan":
        return math.nan
    try:
        return float(text)
    except ValueError:
        return value
