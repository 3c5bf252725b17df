"""Bytes to nodes: decoding, size and encoding checks, and YAML 1.1 / JSON parsing with positions.

The YAML side mirrors what the agent's loader (Ruby Psych, YAML 1.1) sees: `mode: 0644` is the
integer 420, `yes` is a boolean, only the first document counts, the last duplicate key wins.
Parse-stage findings are returned as ``SourceFinding`` values that carry a rule id from
``appspec_tools.rules.common_syntax``; nothing here prints or exits.
"""

from __future__ import annotations

from typing import Any, List, NamedTuple, Optional, Tuple

from appspec_tools.nodes import Mapping, Node, Scalar, Sequence

MAX_FILE_BYTES = 1024 * 1024
MAX_NODES = 20_000
MAX_DEPTH = 64
BOM = "\ufeff"

_TAGS = {
    "tag:yaml.org,2002:str": "str",
    "tag:yaml.org,2002:int": "int",
    "tag:yaml.org,2002:float": "float",
    "tag:yaml.org,2002:bool": "bool",
    "tag:yaml.org,2002:null": "null",
    "tag:yaml.org,2002:timestamp": "timestamp",
    "tag:yaml.org,2002:binary": "binary",
}
_MERGE_TAG = "tag:yaml.org,2002:merge"


class SourceFinding(NamedTuple):
    """A parse-stage finding; a NamedTuple (immutable, and cheaper to define than a dataclass)."""

    rule_id: str
    line: int
    column: int
    message: str


class Source:
    """A document as read: its text, its nodes (None when it did not parse) and the parser's findings.
    A plain class, not a dataclass, to keep `appspec lint` start-up short."""

    def __init__(self, path: str, text: str = "", format: str = "yaml", root: Optional[Node] = None) -> None:
        self.path = path
        self.text = text
        self.format = format
        self.root = root
        self.findings: List[SourceFinding] = []
        self.alias_lines: List[Tuple[int, int]] = []


class _TooBig(Exception):
    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


def read_source(raw: bytes, path: str, fmt: Optional[str] = None, max_bytes: int = MAX_FILE_BYTES) -> Source:
    source = Source(path=path, format=fmt or guess_format(path, raw))
    find = source.findings.append
    if len(raw) > max_bytes:
        find(
            SourceFinding(
                "SYN009",
                1,
                1,
                f"file is {len(raw):,} bytes, over the {max_bytes:,}-byte limit for an AppSpec file",
            )
        )
        return source
    if b"\x00" in raw[:8192]:
        find(SourceFinding("SYN010", 1, 1, "file is binary (contains NUL bytes), not YAML or JSON text"))
        return source
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        find(SourceFinding("SYN010", line, column, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})"))
        return source
    if text.startswith(BOM):
        text = text[1:]
        first = next((ln for ln in text.splitlines() if ln.strip()), "")
        if first and not first.lstrip().startswith("#"):
            find(
                SourceFinding(
                    "SYN005",
                    1,
                    1,
                    "UTF-8 byte-order mark before the first key: the agent's parser then sees only the "
                    "first key and ignores the rest",
                )
            )
    source.text = text
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        find(SourceFinding("SYN001", 1, 1, "AppSpec file is empty"))
        return source
    if source.format == "json":
        _parse_json(source)
    else:
        _parse_yaml(source)
    return source


def guess_format(path: str, raw: bytes) -> str:
    if path.lower().endswith(".json"):
        return "json"
    if path.lower().endswith((".yml", ".yaml")):
        return "yaml"
    return "json" if raw.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else "yaml"


def _parse_json(source: Source) -> None:
    """JSON, or else YAML: the agent YAML-loads the AppSpec whatever its name, so YAML saved as
    `appspec.json` deploys (SYN014 warns that JSON readers differ); SYN003 when neither parses."""
    from appspec_tools.json_nodes import JSONSyntaxError, parse_json  # only JSON AppSpecs need it

    try:
        source.root = parse_json(source.text, MAX_DEPTH)
        return
    except JSONSyntaxError as exc:
        error = SourceFinding("SYN003", exc.line, exc.column, f"JSON syntax error: {exc.message}")
    as_yaml = Source(source.path, source.text, "yaml")
    _parse_yaml(as_yaml)
    if as_yaml.root is None or any(f.rule_id in ("SYN002", "SYN004") for f in as_yaml.findings):
        source.findings.append(error)
        return
    source.format, source.root, source.alias_lines = "yaml", as_yaml.root, as_yaml.alias_lines
    message = (
        f"not JSON ({error.message[len('JSON syntax error: ') :]}) but YAML, which the agent reads "
        "whatever the file's name; JSON readers (the service, other tools) may not"
    )
    source.findings += [SourceFinding("SYN014", error.line, error.column, message)] + as_yaml.findings


def _tab_lines(text: str) -> List[int]:
    return [n for n, ln in enumerate(text.splitlines(), 1) if "\t" in ln[: len(ln) - len(ln.lstrip(" \t"))]]


def _tab_findings(source: Source, lines: List[int]) -> None:
    """SYN004 at the indentation tabs from the line where the parse failed on: libyaml (the agent's
    loader too) accepts tabs inside `[ ]` and `{ }`, so the lines it read before failing were fine."""
    message = "tab character in block indentation: YAML allows tabs only inside [ ] and { }"
    source.findings += [SourceFinding("SYN004", line, 1, message) for line in lines]


def _parse_yaml(source: Source) -> None:
    import yaml

    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    tabs = _tab_lines(source.text)
    loader = loader_class(source.text)
    try:
        try:
            ynode = loader.get_node() if loader.check_node() else None
            more = ynode is not None and loader.check_node()
        except RecursionError:
            source.findings.append(
                SourceFinding("SYN002", 1, 1, f"YAML nesting is too deep (over {MAX_DEPTH})")
            )
            return
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 1
            column = mark.column + 1 if mark is not None else 1
            _tab_findings(source, [n for n in tabs if n >= line])
            if line in tabs:
                return  # the tab finding explains this failure
            what = exc.problem or "invalid YAML"
            context = f" ({exc.context})" if exc.context else ""
            source.findings.append(
                SourceFinding("SYN002", line, column, f"YAML syntax error: {what}{context}")
            )
            return
        except yaml.YAMLError as exc:
            source.findings.append(SourceFinding("SYN002", 1, 1, f"YAML syntax error: {exc}"))
            return
        if ynode is None:
            source.findings.append(SourceFinding("SYN001", 1, 1, "AppSpec file is empty"))
            return
        if more:
            source.findings.append(
                SourceFinding(
                    "SYN008",
                    ynode.end_mark.line + 1,
                    1,
                    "more than one YAML document: the agent reads only the first one",
                )
            )
        converter = _Converter(loader)
        try:
            source.root = converter.convert(ynode, 0)
        except _TooBig as exc:
            source.findings.append(SourceFinding("SYN007", exc.line, exc.column, exc.message))
            source.root = None
            return
        if converter.aliased:
            source.alias_lines = _alias_positions(source.text)
    finally:
        loader.dispose()


def _alias_positions(text: str) -> List[Tuple[int, int]]:
    import yaml

    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    positions = []
    try:
        for event in yaml.parse(text, Loader=loader_class):
            mark = event.start_mark
            if isinstance(event, yaml.AliasEvent) and mark is not None:
                positions.append((mark.line + 1, mark.column + 1))
    except yaml.YAMLError:
        pass
    return positions or [(1, 1)]


class _Converter:
    """PyYAML nodes to ours, counting nodes so that alias bombs stop early."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.count = 0
        self.seen: set = set()
        self.aliased = False

    def convert(self, ynode: Any, depth: int) -> Node:
        import yaml

        self.count += 1
        line, column = ynode.start_mark.line + 1, ynode.start_mark.column + 1
        if self.count > MAX_NODES:
            raise _TooBig(
                f"document expands to more than {MAX_NODES:,} nodes (an alias/anchor bomb?)", line, column
            )
        if depth > MAX_DEPTH:
            raise _TooBig(f"nesting deeper than {MAX_DEPTH} levels", line, column)
        if id(ynode) in self.seen:
            self.aliased = True
        self.seen.add(id(ynode))
        if isinstance(ynode, yaml.ScalarNode):
            return self.scalar(ynode, line, column)
        if isinstance(ynode, yaml.SequenceNode):
            return Sequence([self.convert(item, depth + 1) for item in ynode.value], line, column)
        pairs: List[Tuple[Node, Node]] = []
        merged: List[Tuple[Node, Node]] = []
        for key, value in ynode.value:
            if key.tag == _MERGE_TAG:
                self.aliased = True
                sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
                for src in sources:
                    converted = self.convert(src, depth + 1)
                    if isinstance(converted, Mapping):
                        merged.extend(converted.pairs)
                continue
            pairs.append((self.convert(key, depth + 1), self.convert(value, depth + 1)))
        explicit = {_hashable(k) for k, _ in pairs}
        merged = [(k, v) for k, v in merged if _hashable(k) not in explicit]
        return Mapping(merged + pairs, line, column)

    def scalar(self, ynode: Any, line: int, column: int) -> Scalar:
        tag = _TAGS.get(ynode.tag, "str")
        quoted = ynode.style in ("'", '"')
        try:
            value = self.loader.construct_object(ynode) if tag != "str" else ynode.value
        except Exception:  # an unknown or malformed explicit tag: keep the text
            value, tag = ynode.value, "str"
        return Scalar(value, tag, line, column, quoted=quoted, text=ynode.value)


def _hashable(node: Node) -> Any:
    return (node.tag, node.value) if isinstance(node, Scalar) else id(node)
