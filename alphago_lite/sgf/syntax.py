"""SGF text -> a tree of nodes, plus typed reads of values (points, numbers, names).

The game-level meaning (main line, setup, the `SgfGame` record, writing) lives in
`alphago_lite.sgf.game`, which also explains the coordinate conventions of `sgf_to_point`.

Vocabulary (the words of the SGF FF[4] grammar, https://www.red-bean.com/sgf/sgf4.html):

    collection  one or more game trees: the whole file
    game tree   "(" node+ game-tree* ")": a sequence of nodes, then its variations
    node        ";" property*: one step of the game (a move, setup stones, a comment ...)
    property    identifier value+, e.g. ``AB[aa][bb]``; identifiers are capital letters
    value       the text between "[" and "]"; ``\\`` escapes the next character, and ``\\``
                before a line break removes that line break (a "soft" line break)

White space may stand between any two tokens. Values are stored unescaped (soft line breaks
removed, ``\\x`` -> ``x``), with the SGF ``Text`` rules applied: every line break becomes
``\\n`` and other white space characters (tabs ...) become a space. Lower-case letters in an
identifier (FF[3] style, ``AddBlack``) are dropped, as the older standard prescribes.

Errors are `SgfError` (a ValueError) carrying the 1-based line and column of the offending
character and a snippet of the text around it. The parser is iterative, so deeply nested
variations cannot exhaust Python's recursion limit.

Limits: an input of more than `MAX_SGF_BYTES` (10 MB; characters for text already decoded) or a
file of more than `MAX_SGF_NODES` nodes (all games and variations together) is refused with an
`SgfError` naming the limit, before it can cost minutes and gigabytes. Real game records are a few
kB; 100,000 nodes take about a second and 90 MB to parse.
"""

from __future__ import annotations

import codecs
import math
import re
from dataclasses import dataclass, field

from alphago_lite.errors import UserError

Point = tuple[int, int]
MAX_SIZE = 52
"""Largest board SGF letters can address (a..z, then A..Z)."""
MAX_SGF_BYTES = 10_000_000
"""Largest SGF input read (10 MB)."""
MAX_SGF_NODES = 100_000
"""Most nodes in one SGF input, every game tree and variation counted."""
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

__all__ = ["MAX_SGF_BYTES", "MAX_SGF_NODES", "SgfError", "SgfNode", "ValueReader", "check_length",
           "decode_sgf_bytes", "parse_collection", "error_at", "normalize_text", "simple_text", "sgf_to_point",
           "point_to_sgf"]


class SgfError(UserError):
    """Malformed or unsupported SGF; `line`/`column` (1-based) point into the text when known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None,
                 snippet: str | None = None):
        self.reason = message
        self.line = line
        self.column = column
        self.snippet = snippet
        if line is not None:
            message = f"SGF error at line {line}, column {column}: {message}"
            if snippet:
                message += f" (near {snippet!r})"
        else:
            message = f"SGF error: {message}"
        super().__init__(message)


def check_length(length: int, unit: str = "bytes") -> None:
    """SgfError when an input of ``length`` bytes (or characters) is over `MAX_SGF_BYTES`."""
    if length > MAX_SGF_BYTES:
        raise SgfError(f"input of {length:,} {unit} is over the SGF size limit of {MAX_SGF_BYTES:,} {unit} "
                       "(10 MB)")


def error_at(text: str, offset: int, message: str) -> SgfError:
    """An `SgfError` for the character at `offset` of `text`, with line, column and snippet."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    snippet = text[max(0, offset - 12): offset + 18].replace("\r", " ").replace("\n", " ")
    return SgfError(message, line, column, snippet)


@dataclass
class SgfNode:
    """One node: its properties in file order, its children (first child = main line)."""

    properties: dict[str, list[str]] = field(default_factory=dict)
    children: list[SgfNode] = field(default_factory=list)
    offset: int = 0
    """Offset of the node's ";" in the decoded text (for error messages)."""
    value_offsets: dict[str, list[int]] = field(default_factory=dict)
    """Offset of each value's "[" in the decoded text, parallel to `properties`."""


# ---------------------------------------------------------------------------------------------
# Decoding bytes

_CHARSET = re.compile(rb"CA\s*\[([^\]]*)\]")


def decode_sgf_bytes(data: bytes) -> str:
    """Decode a file's bytes: the charset its CA property names, else UTF-8; latin-1 when that
    fails (latin-1 decodes any byte sequence, so a garbled name never stops a game loading)."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    match = _CHARSET.search(data)
    charset = "utf-8"
    if match:
        named = match.group(1).decode("ascii", "replace").strip()
        try:
            charset = codecs.lookup(named).name
        except LookupError:
            pass  # unknown charset name: try UTF-8, the FF[4] recommendation
    try:
        return data.decode(charset)
    except UnicodeDecodeError:
        return data.decode("latin-1")


# ---------------------------------------------------------------------------------------------
# Tokenizer and tree builder

_SPACE = re.compile(r"\s*")
_IDENT = re.compile(r"[A-Z][A-Za-z]*")
_VALUE_BODY = re.compile(r"(?:[^\]\\]|\\.)*", re.DOTALL)
_ESCAPE = re.compile(r"\\(\r\n|\n\r|\n|\r|.)", re.DOTALL)
_LINE_BREAK = re.compile(r"\r\n|\n\r|\r")
_OTHER_SPACE = re.compile(r"[\t\v\f]")


def _resolve_escape(match: re.Match) -> str:
    escaped = match.group(1)
    return "" if escaped in ("\r\n", "\n\r", "\n", "\r") else escaped  # soft break: drop it


def _unescape(raw: str) -> str:
    """Value text as SGF Text means it: soft breaks removed, escapes resolved, breaks as \\n."""
    if "\\" in raw:
        # One left-to-right pass, so that "\\\\" + line break is an escaped backslash followed
        # by a real line break, not a backslash followed by a soft break.
        raw = _ESCAPE.sub(_resolve_escape, raw)
    return normalize_text(raw)


def normalize_text(text: str) -> str:
    """The SGF Text white-space rule: every line break becomes "\\n", tabs etc. a space."""
    return _OTHER_SPACE.sub(" ", _LINE_BREAK.sub("\n", text))


def _skip_space(text: str, pos: int) -> int:
    return _SPACE.match(text, pos).end()


def _parse_properties(text: str, pos: int, node: SgfNode) -> int:
    """Read the properties after a node's ";" into `node`; return the offset after them."""
    while True:
        pos = _skip_space(text, pos)
        if pos >= len(text) or text[pos] in ";()":
            return pos
        ident_match = _IDENT.match(text, pos)
        if ident_match is None:
            bad = re.match(r"[^\s\[;()]*", text[pos:]).group(0) or text[pos]
            raise error_at(text, pos, f"bad property identifier {bad!r} "
                                      "(expected capital letters such as B, AB, KM)")
        ident = "".join(c for c in ident_match.group(0) if c.isupper())
        pos = _skip_space(text, ident_match.end())
        if pos >= len(text) or text[pos] != "[":
            raise error_at(text, pos, f"property {ident} has no value (expected '[')")
        values = node.properties.setdefault(ident, [])
        offsets = node.value_offsets.setdefault(ident, [])
        while pos < len(text) and text[pos] == "[":
            body_end = _VALUE_BODY.match(text, pos + 1).end()
            if body_end >= len(text):
                raise error_at(text, pos, f"unclosed value of property {ident}: '[' without ']'")
            values.append(_unescape(text[pos + 1: body_end]))
            offsets.append(pos)
            pos = _skip_space(text, body_end + 1)


def parse_collection(text: str) -> list[SgfNode]:
    """Parse SGF text into the root node of each game tree in the file (at least one). Raises
    SgfError for text over `MAX_SGF_BYTES` characters or with more than `MAX_SGF_NODES` nodes."""
    check_length(len(text), "characters")
    if text.startswith("\ufeff"):
        text = text[1:]
    roots: list[SgfNode] = []
    nodes = 0
    # Each open "(" remembers its offset and the node its first node hangs under (None at top).
    open_trees: list[tuple[int, SgfNode | None]] = []
    current: SgfNode | None = None
    pos = _skip_space(text, 0)
    if pos >= len(text):
        raise error_at(text, pos, "empty file: expected '(' to start a game tree")
    while True:
        pos = _skip_space(text, pos)
        if pos >= len(text):
            break
        char = text[pos]
        if char == "(":
            open_trees.append((pos, current))
            after = _skip_space(text, pos + 1)
            if after >= len(text) or text[after] != ";":
                raise error_at(text, after, "a game tree must start with a node (expected ';')")
            pos = after
        elif char == ";":
            if not open_trees:
                raise error_at(text, pos, "node outside a game tree (missing '(')")
            nodes += 1
            if nodes > MAX_SGF_NODES:
                raise error_at(text, pos, f"more than {MAX_SGF_NODES:,} nodes, the SGF node limit")
            node = SgfNode(offset=pos)
            if current is None:
                roots.append(node)
            else:
                current.children.append(node)
            current = node
            pos = _parse_properties(text, pos + 1, node)
        elif char == ")":
            if not open_trees:
                raise error_at(text, pos, "')' without a matching '('")
            _, current = open_trees.pop()
            pos += 1
        elif not open_trees:
            raise error_at(text, pos, f"expected '(' to start a game tree, found {char!r}")
        else:
            raise error_at(text, pos, f"unexpected {char!r} (expected ';', '(' or ')')")
    if open_trees:
        raise error_at(text, open_trees[-1][0],
                       "game tree opened here is never closed (missing ')')")
    return roots


# ---------------------------------------------------------------------------------------------
# Coordinates (see alphago_lite.sgf.game for the conventions)


def sgf_to_point(text: str, size: int) -> Point | None:
    """``"cd"`` -> ``(3, 2)`` (row, col); ``""`` (and ``"tt"`` when size <= 19) -> None (pass).

    Raises ValueError naming the point when it is not two letters or lies off the board."""
    if text == "" or (text == "tt" and size <= 19):
        return None
    if len(text) != 2 or text[0] not in _LETTERS or text[1] not in _LETTERS:
        raise ValueError(f"bad SGF point {text!r}: expected two letters such as 'dd', "
                         "or '' for a pass")
    col, row = _LETTERS.index(text[0]), _LETTERS.index(text[1])
    if row >= size or col >= size:
        raise ValueError(f"SGF point {text!r} is off the {size}x{size} board")
    return row, col


def point_to_sgf(point: Point | None, size: int) -> str:
    """``(3, 2)`` -> ``"cd"``; None (pass) -> ``""``. Raises ValueError for off-board points."""
    if point is None:
        return ""
    row, col = point
    if not (0 <= row < size and 0 <= col < size) or size > MAX_SIZE:
        raise ValueError(f"point {point!r} is off the {size}x{size} board")
    return _LETTERS[col] + _LETTERS[row]


# ---------------------------------------------------------------------------------------------
# Typed values


def simple_text(value: str | None) -> str | None:
    """SGF SimpleText as a field holds it: white space runs collapsed, "" -> None (unknown)."""
    return None if value is None else " ".join(value.split()) or None


POINT_LIST_BOARDS = 4
"""The point lists one reader expands cover at most this many boards' worth of points, repeats counted:
a game's setup needs one board at most, and 100,000 nodes of ``AB[aa:ZZ]`` would take minutes."""


class ValueReader:
    """Reads typed values from the nodes of `text`; its errors point at the value in the text."""

    def __init__(self, text: str, size: int = 19):
        self.text = text
        self.size = size
        self.points_listed = 0
        """Points that point lists read so far covered, repeats counted (see `POINT_LIST_BOARDS`)."""

    def fail(self, node: SgfNode, ident: str, message: str, i: int = 0) -> SgfError:
        offsets = node.value_offsets.get(ident)
        return error_at(self.text, offsets[i] if offsets else node.offset, message)

    def one(self, node: SgfNode, ident: str) -> str | None:
        values = node.properties.get(ident)
        return None if values is None else values[0]

    def simple_text(self, node: SgfNode, ident: str) -> str | None:
        return simple_text(self.one(node, ident))

    def number(self, node: SgfNode, ident: str, kind, default):
        value = self.one(node, ident)
        if value is None or not value.strip():
            return default
        try:
            number = kind(value.strip())
        except ValueError:
            number = None
        if number is None or not math.isfinite(number):
            raise self.fail(node, ident, f"{ident}[{value}] is not a number")
        return number

    def point(self, node: SgfNode, ident: str, value: str, i: int) -> Point | None:
        try:
            return sgf_to_point(value.strip(), self.size)
        except ValueError as exc:
            raise self.fail(node, ident, f"{ident}: {exc}", i) from None

    def points(self, node: SgfNode, ident: str) -> list[Point]:
        """A list of points, expanding compressed rectangles ``aa:cc``; a point listed twice counts once."""
        return list(self.points_and_values(node, ident))

    def points_and_values(self, node: SgfNode, ident: str) -> dict[Point, int]:
        """Each point of a point list (in order) -> the index of the value that first names it. Lists
        covering more than `POINT_LIST_BOARDS` boards of points are refused, so that the work stays
        bounded by the board, not by the length of the file."""
        found: dict[Point, int] = {}
        for i, value in enumerate(node.properties.get(ident, ())):
            corners = value.split(":")
            if len(corners) > 2:
                raise self.fail(node, ident, f"{ident}[{value}] is not a point or a rectangle", i)
            ends = [self.point(node, ident, corner, i) for corner in corners]
            if None in ends:
                raise self.fail(node, ident, f"{ident}[{value}]: a setup stone cannot be a pass", i)
            (r1, c1), (r2, c2) = ends[0], ends[-1]
            self.points_listed += (abs(r1 - r2) + 1) * (abs(c1 - c2) + 1)
            if self.points_listed > POINT_LIST_BOARDS * self.size * self.size:
                raise self.fail(node, ident, f"point lists cover more than {POINT_LIST_BOARDS} times the "
                                             f"{self.size}x{self.size} board (the same points again and again)", i)
            for row in range(min(r1, r2), max(r1, r2) + 1):
                for col in range(min(c1, c2), max(c1, c2) + 1):
                    found.setdefault((row, col), i)
        return found
