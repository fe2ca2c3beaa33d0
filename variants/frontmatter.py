"""Split an agent file into its parts and read the frontmatter the way Claude Code does.

Invariant: nothing here rewrites text it was not asked to. ``Document`` keeps every line with its
own line ending, so joining the parts gives back the decoded text exactly, and an edit replaces only
the lines of one ``Entry`` (a top-level key and the lines of its value).

Reading is two-step: strict YAML first (``yaml`` composes the node tree, which also tells us where
each key's lines are); when that fails, a tolerant line reader takes over, because Claude Code
accepts frontmatter that no strict YAML parser does (unquoted ``: `` in a one-line description).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any

import yaml

from variants.yamlio import check_aliases

# One line with its ending; \r\n, lone \r and \n all end a line (and only they do).
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_FENCE_RE = re.compile(r"---[ \t]*")
# A top-level key as the tolerant reader sees it: column 0, then ':' followed by a blank or the end.
_KEY_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*:(?=[ \t]|$)")
_BLOCK_HEADER_RE = re.compile(r"[|>][+-]?[1-9]?[+-]?")
_EXAMPLE_OPEN = "<example>"
_EXAMPLE_CLOSE = "</example>"
MERGE_TAG = "tag:yaml.org,2002:merge"  # the ``<<`` key: merges a mapping in, repeats nothing


# libyaml when present: every edit re-reads the frontmatter; pure-Python YAML is ~10x slower.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]  # a base picked at run time
    """SafeLoader without the timestamp resolver: ``2025-01-01`` stays a string.

    Claude Code's JavaScript YAML (core schema) has no timestamps either, and parsed fields must
    stay JSON-serialisable for the registry.
    """


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _load(text: str) -> Any:
    """One YAML document read with ``_Loader``; aliases are bounded (``AliasExpansionError``)."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        check_aliases(node)
        return None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()


def split_lines(text: str) -> list[str]:
    """Lines with their endings; ``"".join(split_lines(t)) == t``."""
    return _LINE_RE.findall(text)


def line_ending(line: str) -> str:
    """The ending of ``line``: ``"\\r\\n"``, ``"\\r"``, ``"\\n"`` or ``""``."""
    if line.endswith("\r\n"):
        return "\r\n"
    if line.endswith(("\r", "\n")):
        return line[-1]
    return ""


def line_content(line: str) -> str:
    return line.rstrip("\r\n")


@dataclass(frozen=True)
class Document:
    """A decoded agent file cut into parts: ``bom + opening + "".join(lines) + closing + body``."""

    bom: str
    opening: str
    lines: tuple[str, ...]
    closing: str
    body: str

    @property
    def newline(self) -> str:
        """The line ending new lines get: the one of the opening ``---`` line."""
        return line_ending(self.opening) or "\n"

    def text(self) -> str:
        return self.bom + self.opening + "".join(self.lines) + self.closing + self.body


class DocumentError(ValueError):
    """The text has no frontmatter, or it is never closed; the message is the reason."""


def starts_with_frontmatter(text: str) -> bool:
    """Whether the first line (after an optional BOM) is the opening '---' fence."""
    lines = split_lines(text.removeprefix("\ufeff"))
    return bool(lines) and _FENCE_RE.fullmatch(line_content(lines[0])) is not None


def split_document(text: str) -> Document:
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    lines = split_lines(text[len(bom) :])
    if not starts_with_frontmatter(text):
        raise DocumentError("no frontmatter (the file must start with a '---' line)")
    for index in range(1, len(lines)):
        if _FENCE_RE.fullmatch(line_content(lines[index])):
            return Document(
                bom=bom,
                opening=lines[0],
                lines=tuple(lines[1:index]),
                closing=lines[index],
                body="".join(lines[index + 1 :]),
            )
    raise DocumentError("frontmatter never closed (no '---' line after the opening one)")


@dataclass(frozen=True)
class Entry:
    """A top-level key; its value occupies ``lines[start:stop]`` of the frontmatter.

    Comment and blank lines after the value are not part of the entry, so an edit keeps them.
    """

    key: str
    start: int
    stop: int


@dataclass(frozen=True)
class Frontmatter:
    fields: dict[str, Any]
    entries: tuple[Entry, ...]
    strict: bool
    error: str | None  # first line of the YAML error when the tolerant reader was needed
    # Keys written more than once inside a mapping value (``hooks:``, ``mcpServers:``, ...): the
    # dotted path of each and the lines (indexes into the frontmatter's lines) it is written on.
    nested_duplicates: tuple[tuple[str, tuple[int, ...]], ...] = ()

    def duplicate_key_warnings(self) -> tuple[str, ...]:
        """One warning per key written more than once in one mapping, at the top level or
        nested (both readers keep the last)."""
        lines: dict[str, list[int]] = {}
        for entry in self.entries:
            lines.setdefault(entry.key, []).append(entry.start)
        repeated = [(key, at) for key, at in lines.items() if len(at) > 1]
        return tuple(
            # line 1 is the opening '---'
            f"key {key!r} appears {len(at)} times (lines {', '.join(str(i + 2) for i in at)}); "
            "the last is used here, and which one Claude Code uses is not defined"
            for key, at in [*repeated, *self.nested_duplicates]
        )


def read_frontmatter(lines: tuple[str, ...]) -> Frontmatter:
    text = "".join(lines)
    try:
        return _read_strict(lines, text)
    except (yaml.YAMLError, _NotAMapping) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return read_tolerant(lines, error=first_line)


def read_tolerant(lines: tuple[str, ...], *, error: str | None = None) -> Frontmatter:
    """The line reader on its own (used when YAML fails; public so tests can compare the two)."""
    entries = _tolerant_entries(lines)
    fields = {entry.key: _tolerant_value(lines, entry) for entry in entries}
    return Frontmatter(fields=fields, entries=entries, strict=False, error=error)


class _NotAMapping(Exception):
    def __str__(self) -> str:
        return "frontmatter is not a mapping of keys to values"


def _read_strict(lines: tuple[str, ...], text: str) -> Frontmatter:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Frontmatter(fields={}, entries=(), strict=True, error=None)
        if not isinstance(node, yaml.MappingNode):
            raise _NotAMapping()
        check_aliases(node)
        starts = _line_starts(lines)
        nested = _nested_duplicates(node, starts)  # before construction merges ``<<`` keys in
        data = loader.construct_document(node)
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise _NotAMapping()
    entries = []
    for key_node, value_node in node.value:
        first = _line_of(starts, key_node.start_mark.index)
        last = _line_of(starts, max(value_node.end_mark.index - 1, key_node.start_mark.index))
        # Block values run up to the next key, over blank and comment lines that are not theirs.
        while last > first and _is_comment_or_blank(lines[last]):
            last -= 1
        entries.append(Entry(key=str(key_node.value), start=first, stop=last + 1))
    fields = {str(key): value for key, value in data.items()}
    return Frontmatter(
        fields=fields, entries=tuple(entries), strict=True, error=None, nested_duplicates=nested
    )


def _nested_duplicates(
    root: yaml.MappingNode, starts: list[int]
) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """Keys repeated within one mapping below the top level (which ``entries`` show), by path.

    Each node is visited once, at the first path that reaches it: a mapping written once and
    aliased many times has its duplicates reported once. Keys are the same when their resolved
    tag and value are (``1`` and ``'1'`` differ); lines are ``starts``' (the project's lines, not
    PyYAML's, which also end at U+2028, U+2029 and U+0085).
    """
    found: list[tuple[str, tuple[int, ...]]] = []
    seen: set[int] = set()

    def walk(node: yaml.Node, path: str) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            for i, child in enumerate(node.value):
                walk(child, f"{path}[{i}]")
        elif isinstance(node, yaml.MappingNode):
            lines: dict[tuple[str, str], tuple[str, list[int]]] = {}
            for key_node, value_node in node.value:
                if key_node.tag == MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = f"{path}.{key_node.value}" if path else str(key_node.value)
                at = _line_of(starts, key_node.start_mark.index)
                lines.setdefault((key_node.tag, key_node.value), (key, []))[1].append(at)
                walk(value_node, key)
            if path:
                found.extend((key, tuple(at)) for key, at in lines.values() if len(at) > 1)

    walk(root, "")
    return tuple(sorted(found, key=lambda duplicate: duplicate[1]))


def _line_of(starts: list[int], index: int) -> int:
    """The line (of ``_line_starts``) that character ``index`` of the text is on."""
    return bisect.bisect_right(starts, index) - 1


def _line_starts(lines: tuple[str, ...]) -> list[int]:
    starts, offset = [], 0
    for line in lines:
        starts.append(offset)
        offset += len(line)
    return starts


def _is_comment_or_blank(line: str) -> bool:
    stripped = line.strip()
    return not stripped or (stripped.startswith("#") and not line[0].isspace())


def _tolerant_entries(lines: tuple[str, ...]) -> tuple[Entry, ...]:
    """Top-level keys by line shape; everything else continues the previous key.

    A column-0 ``user: "..."`` inside an unclosed ``<example>`` block is description text (real
    files write examples unindented), not a new key.
    """
    starts: list[tuple[str, int]] = []
    open_examples = 0
    for index, line in enumerate(lines):
        match = _KEY_RE.match(line_content(line))
        if match and open_examples <= 0:
            starts.append((match.group(1), index))
            open_examples = 0
        open_examples += line.count(_EXAMPLE_OPEN) - line.count(_EXAMPLE_CLOSE)
    entries = []
    for position, (key, start) in enumerate(starts):
        stop = starts[position + 1][1] if position + 1 < len(starts) else len(lines)
        while stop - 1 > start and _is_comment_or_blank(lines[stop - 1]):
            stop -= 1
        entries.append(Entry(key=key, start=start, stop=stop))
    return tuple(entries)


def _tolerant_value(lines: tuple[str, ...], entry: Entry) -> Any:
    """The value of one entry: YAML when the entry alone is valid YAML, else the text as written."""
    own = "".join(lines[entry.start : entry.stop])
    try:
        data = _load(own)
    except yaml.YAMLError:
        data = None
    if isinstance(data, dict) and list(data) == [entry.key]:
        return data[entry.key]
    head = line_content(lines[entry.start])
    rest = head[head.index(":") + 1 :].strip()
    continuation = [line_content(line) for line in lines[entry.start + 1 : entry.stop]]
    if _BLOCK_HEADER_RE.fullmatch(rest):
        text = "\n".join(_dedent(continuation))
        return re.sub(r"(?<=\S)\n(?=\S)", " ", text) if rest.startswith(">") else text
    value = "\n".join([rest, *_dedent(continuation)]) if continuation else rest
    return _unquote(value.strip())


def _dedent(lines: list[str]) -> list[str]:
    widths = [len(line) - len(line.lstrip(" \t")) for line in lines if line.strip()]
    cut = min(widths, default=0)
    return [line[cut:] for line in lines]


def _unquote(value: str) -> str:
    """Strip matching quotes only when they wrap the whole value."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        try:
            loaded = _load(value)
        except yaml.YAMLError:
            loaded = None
        return loaded if isinstance(loaded, str) else value[1:-1]
    return value


# -- writing one entry ---------------------------------------------------------------------------

LITERAL_ESCAPES = "literal-escapes"  # one plain line holding two-character "\n" sequences
PLAIN = "plain"  # one unquoted line


class _Quoted(str):
    """A string to be written double-quoted."""


class _Block(str):
    """A multi-line string to be written as a block scalar with the indicator in ``style``."""

    style = "|"


class _Folded(_Block):
    style = ">"


class _Dumper(yaml.SafeDumper):
    """Block lists indented under their key; double quotes wherever PyYAML would pick single."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def choose_scalar_style(self) -> str:
        style = super().choose_scalar_style()
        return '"' if style == "'" else style


def _plain_round_trips(text: str) -> bool:
    if not text or text != text.strip():
        return False
    try:
        return _load(f"k: {text}") == {"k": text}
    except yaml.YAMLError:
        return False


def _represent_str(dumper: _Dumper, data: str) -> yaml.ScalarNode:
    tag = "tag:yaml.org,2002:str"
    if isinstance(data, _Quoted):
        style = '"'
    elif "\n" in data or "\r" in data:
        style = data.style if isinstance(data, _Block) else "|"
    elif not _plain_round_trips(data):
        style = '"'
    else:
        style = None
    return dumper.represent_scalar(tag, str(data), style=style)


for _kind in (str, _Quoted, _Block, _Folded):
    _Dumper.add_representer(_kind, _represent_str)


def value_style(lines: tuple[str, ...], entry: Entry) -> str | None:
    """How an existing value is written: a block indicator, '"', LITERAL_ESCAPES or None."""
    head = line_content(lines[entry.start])
    rest = head[head.index(":") + 1 :].strip()
    if _BLOCK_HEADER_RE.fullmatch(rest):
        return rest[0]
    if entry.stop - entry.start > 1:
        return None
    if rest[:1] in "\"'" and rest:
        return '"'
    return LITERAL_ESCAPES if "\\n" in rest else PLAIN


def render_entry(
    key: str, value: Any, newline: str, *, style: str | None = None, strict: bool = True
) -> list[str]:
    """The lines of ``key: value``, ending in ``newline``, that read back as ``value``.

    ``style`` is a preference (from ``value_style``); it is dropped when the result would not read
    back as ``value``, and with ``strict`` the result is always valid YAML.
    """
    if style == LITERAL_ESCAPES and isinstance(value, str):
        escaped = value.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")
        candidate = [f"{key}: {escaped}{newline}"]
        if _reads_back(candidate, key, escaped, strict):
            return candidate
        value = escaped  # keep the escapes as text; quoting below makes it safe
        style = '"'
    if style == PLAIN and isinstance(value, str) and "\n" not in value and "\r" not in value:
        # A file that is already not strict YAML may keep its unquoted line (Claude Code reads it).
        candidate = [f"{key}: {value}{newline}"]
        if _reads_back(candidate, key, value, strict):
            return candidate
    if isinstance(value, str):
        multi_line = "\n" in value or "\r" in value
        if style == '"':
            value = _Quoted(value)
        elif multi_line:
            value = _Folded(value) if style == ">" else _Block(value)
    dumped = yaml.dump(
        {key: value},
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=10**9,
        default_flow_style=False,
    )
    return [line_content(line) + newline for line in split_lines(dumped)]


def _reads_back(lines: list[str], key: str, value: Any, strict: bool) -> bool:
    entry = Entry(key=key, start=0, stop=len(lines))
    if strict:
        try:
            return _load("".join(lines)) == {key: value}
        except yaml.YAMLError:
            return False
    return _tolerant_value(tuple(lines), entry) == value
