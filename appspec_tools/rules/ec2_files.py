"""EC2/On-Premises `files`: what the agent copies at Install, and where (`file_info.rb`, `installer.rb`)."""

from __future__ import annotations

import posixpath
import re
from typing import Dict, Iterator, List, NamedTuple, Optional, Tuple
from typing import Sequence as Names

from appspec_tools import reading
from appspec_tools.nodes import Mapping, Node, Scalar, Sequence, describe
from appspec_tools.reading import is_null, items, string
from appspec_tools.rules import ERROR, INFO, WARNING, Context, Finding, did_you_mean, rule

FILE_KEYS = ("source", "destination")
FILE_KEY_ALIASES = {
    "src": "source",
    "from": "source",
    "path": "source",
    "dest": "destination",
    "dst": "destination",
    "target": "destination",
    "to": "destination",
}
_DRIVE = r"^[A-Za-z]:[\\/]"  # compiled by `re` on first use, not at import
_WEB_ROOTS = ("/var/www", "/usr/share/nginx", "/srv/www", "/srv/http", "/usr/local/apache2/htdocs")
_WEB_DIRS = frozenset({"htdocs", "public_html", "wwwroot", "inetpub"})
_QUOTE = 'write the path as a quoted string, e.g. `source: "2024"`'


def target_os(ctx: Context) -> str:
    return reading.target_os(ctx.doc)


def unknown_entry_keys(
    mapping: Mapping, known: Names[str], where: str, aliases: Dict[str, str]
) -> Iterator[Tuple[Node, str]]:
    """Like ``rules.unknown_keys``, but also suggests the real key for common synonyms (`user` → `owner`)."""
    for key, key_node, _ in mapping.items():
        if key in known:
            continue
        guess = did_you_mean(key, known)
        if guess is None and isinstance(key, str):
            guess = aliases.get(key.lower().replace("-", "_"))
        tip = f"; did you mean '{guess}'?" if guess else f" (known keys: {', '.join(known)})"
        yield key_node, f"unknown key '{key}' in {where}: the agent ignores it{tip}"


def described(node: Optional[Node]) -> str:
    """A value's type and, for a scalar, its text: "an integer (1000)", "a list"."""
    return f"{describe(node)} ({node.text})" if isinstance(node, Scalar) else describe(node)


def shown(node: Optional[Node]) -> str:
    """A value as a message shows it: the scalar as written, else its type."""
    return node.text if isinstance(node, Scalar) else describe(node)


def _entries(ctx: Context) -> List[Mapping]:
    return [e for e in items(ctx.doc.get("files")) if isinstance(e, Mapping)]


@rule(
    "FILE001",
    ERROR,
    "`files` is not a list",
    hint="write `files:` as a list of `- source: …` / `destination: …` entries",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nfiles:\n  source: /\n  destination: /opt/app",
    good="version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: /opt/app",
)
def files_not_a_list(ctx: Context) -> Iterator[Finding]:
    """The agent loops over `files` expecting a list of mappings; a mapping or a string makes it fail
    with a Ruby error instead of a validation message. `files:` left empty (null) means no files."""
    node = ctx.doc.get("files")
    if node is None or isinstance(node, Sequence) or (isinstance(node, Scalar) and node.tag == "null"):
        return
    yield Finding(node, f"`files` is {describe(node)}, not a list of source/destination entries")


@rule(
    "FILE002",
    ERROR,
    "A `files` entry is not a mapping",
    hint="each entry needs `source:` and `destination:` keys, indented under the `-`",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nfiles:\n  - /opt/app",
    good="version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: /opt/app",
)
def entry_not_a_mapping(ctx: Context) -> Iterator[Finding]:
    """Each entry must be a `source`/`destination` mapping. For a plain string the agent reports the
    misleading "specifies a destination file, but no source file"; a nested list crashes it."""
    for entry in items(ctx.doc.get("files")):
        if not isinstance(entry, Mapping):
            yield Finding(
                entry,
                f"files entry is {described(entry)}, not a source/destination "
                'mapping: the agent reports "a destination file, but no source file"',
            )


@rule(
    "FILE003",
    ERROR,
    "A `files` entry has no `source`",
    hint="add `source:` — a path relative to the revision root, or `/` for the whole revision",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nfiles:\n  - destination: /opt/app",
    good="version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: /opt/app",
)
def source_missing(ctx: Context) -> Iterator[Finding]:
    """`file_info.rb` rejects an entry whose `source` is missing or null ("specifies a destination
    file, but no source file"). A number, boolean or mapping is not a path either: the agent's
    `File.join` fails on it — quote names such as `"2024"`."""
    for entry in _entries(ctx):
        node = entry.get("source")
        if is_null(node):
            has_destination = string(entry.get("destination")) is not None
            yield Finding(
                entry,
                "files entry specifies a destination but no source"
                if has_destination
                else "files entry has no source",
            )
        elif string(node) is None:
            yield Finding(node, f"source is {described(node)}, not a path", hint=_QUOTE)


@rule(
    "FILE004",
    ERROR,
    "A `files` entry has no `destination`",
    hint="add `destination:` — the absolute directory on the instance, e.g. `/opt/app`",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nfiles:\n  - source: app",
    good="version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: /opt/app",
)
def destination_missing(ctx: Context) -> Iterator[Finding]:
    """`file_info.rb` rejects an entry with a null or missing `destination` ("specifies only a source
    file"). A number or boolean destination makes `File.join` fail."""
    for entry in _entries(ctx):
        node = entry.get("destination")
        if is_null(node):
            source = entry.get("source")
            if string(source) is not None:
                yield Finding(entry, f"files entry specifies only a source ({shown(source)}), no destination")
            else:
                yield Finding(entry, "files entry has no destination")
        elif string(node) is None:
            yield Finding(node, f"destination is {described(node)}, not a path", hint=_QUOTE)


@rule(
    "FILE005",
    WARNING,
    "`destination` is not an absolute path for the `os`",
    hint="use an absolute path: `/opt/app` with `os: linux`, `C:\\app` with `os: windows`",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: opt/app",
    good="version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: /opt/app",
)
def destination_not_absolute(ctx: Context) -> Iterator[Finding]:
    """The agent resolves a relative destination against its own working directory (which depends on
    how the service was started), so files land somewhere nobody expects. A drive path like `C:\\app`
    is a relative name on Linux; a Linux path on Windows lands on the agent's current drive. (A
    warning, not an error: the agent accepts it and copies somewhere.)"""
    windows = target_os(ctx) == "windows"
    for entry in _entries(ctx):
        node = entry.get("destination")
        value = string(node)
        if value is None:
            continue
        if windows:
            if re.match(_DRIVE, value) or value.startswith("\\\\"):
                continue
            why = "a Linux path" if value.startswith("/") else "not an absolute path"
            yield Finding(
                node, f"destination '{value}' is {why}; with os: windows use a drive path like C:\\app"
            )
        elif not value.startswith("/"):
            why = "a Windows drive path" if re.match(_DRIVE, value) else "not an absolute path"
            yield Finding(node, f"destination '{value}' is {why}; with os: linux it must start with /")


@rule(
    "FILE006",
    WARNING,
    "Unknown key in a `files` entry",
    hint="a files entry has only `source` and `destination`; keys are case-sensitive",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nfiles:\n  - source: app\n    dest: /opt/app",
    good="version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: /opt/app",
)
def unknown_file_keys(ctx: Context) -> Iterator[Finding]:
    """The agent reads only `source` and `destination`; anything else (`dest`, `Source`, `overwrite`)
    is silently ignored."""
    for entry in _entries(ctx):
        for key_node, message in unknown_entry_keys(entry, FILE_KEYS, "a files entry", FILE_KEY_ALIASES):
            if isinstance(key_node, Scalar) and key_node.value in ("overwrite", "file_exists_behavior"):
                message += " (replacing existing files is the top-level `file_exists_behavior: OVERWRITE`)"
            yield Finding(key_node, message)


def _norm(path: str, windows: bool) -> str:
    if windows:
        path = path.replace("\\", "/").lower()
    return posixpath.normpath(path.strip() or ".")


def _source_key(path: str, windows: bool) -> str:
    """The source as the agent joins it to the archive: leading slashes do not matter, `/` is `.`."""
    return _norm(_norm(path, windows).lstrip("/"), windows)


def _looks_like_file(source: str) -> bool:
    name = posixpath.basename(source)
    return "." in name[1:] and not name.endswith(".d")


class _Copy(NamedTuple):
    node: Node  # the source value, where findings point
    source: str  # normalised, relative to the revision root ("." is the whole revision)
    destination: str  # normalised
    written: str  # the destination as written


def file_copies(ctx: Context) -> List[_Copy]:
    windows = target_os(ctx) == "windows"
    out = []
    for entry in _entries(ctx):
        source_node = entry.get("source")
        source, destination = string(source_node), string(entry.get("destination"))
        if source_node is not None and source is not None and destination is not None:
            out.append(
                _Copy(source_node, _source_key(source, windows), _norm(destination, windows), destination)
            )
    return out


@rule(
    "FILE007",
    ERROR,
    "The same source is copied to the same destination twice",
    hint="remove one of the two entries",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: /opt/app\n"
    "  - source: app/\n    destination: /opt/app/",
    good="version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: /opt/app",
)
def same_pair_twice(ctx: Context) -> Iterator[Finding]:
    """Every file would be installed twice at the same path; the agent refuses that at Install ("two
    source files named … for the same destination"). Paths are compared as the agent resolves them
    (`app` = `app/` = `./app`)."""
    seen: Dict[Tuple[str, str], Node] = {}
    for copy in file_copies(ctx):
        first = seen.get((copy.source, copy.destination))
        seen.setdefault((copy.source, copy.destination), copy.node)
        if first is not None:
            yield Finding(
                copy.node,
                f"source '{copy.source}' is copied to '{copy.written}' again (first at line "
                f"{first.line}): Install fails with two source files for the same destination",
            )


@rule(
    "FILE008",
    WARNING,
    "Two entries install a file of the same name at the same path",
    hint="give the files different destinations, or drop the entry that duplicates another",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: /opt/app\n"
    "  - source: app.conf\n    destination: /opt/app",
    good="version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: /opt/app",
)
def same_target_twice(ctx: Context) -> Iterator[Finding]:
    """A file source lands at `destination/<basename>`. When two entries would put a file at the same
    path — two sources with the same file name into one destination, or a file that a directory
    entry (`source: /`) already copies to that very place — Install fails ("two source files … for
    the same destination"). Only names that look like files (`app.conf`, not `conf.d` or `public`) are
    checked, since a directory source copies its contents instead; a warning because the linter cannot
    see the revision to be sure."""
    copies = file_copies(ctx)
    for index, copy in enumerate(copies):
        earlier = copies[:index]
        if not _looks_like_file(copy.source) or any(c[1:3] == copy[1:3] for c in earlier):
            continue  # an exact repeat is FILE007's
        name = posixpath.basename(copy.source)
        for other_index, other in enumerate(copies):
            if other.source == copy.source:
                continue  # the same source twice is FILE007's
            if posixpath.basename(other.source) == name and other.destination == copy.destination:
                if other_index > index:
                    continue  # report the pair once, at the later entry
                why = f"'{other.source}' (line {other.node.line}) has the same file name and destination"
            elif other.source == "." or copy.source.startswith(other.source + "/"):
                inside = copy.source if other.source == "." else copy.source[len(other.source) + 1 :]
                landing = posixpath.normpath(posixpath.join(other.destination, posixpath.dirname(inside)))
                if landing != copy.destination:
                    continue
                why = f"the entry at line {other.node.line} already copies it there from '{other.source}'"
            else:
                continue
            yield Finding(copy.node, f"'{copy.source}' would be installed in '{copy.written}' twice: {why}")
            break


def _web_served(destination: str) -> bool:
    path = destination.replace("\\", "/").lower().rstrip("/")
    if any(path == root or path.startswith(root + "/") for root in _WEB_ROOTS):
        return True
    return bool(_WEB_DIRS & set(path.split("/")))


@rule(
    "FILE009",
    INFO,
    "The whole revision is copied into a web-served directory",
    hint="copy only the site's directory (e.g. `source: public`) into the web root",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: /var/www/html",
    good="version: 0.0\nos: linux\nfiles:\n  - source: public\n    destination: /var/www/html",
)
def revision_in_web_root(ctx: Context) -> Iterator[Finding]:
    """`source: /` (or `\\` on Windows) is the whole revision, the AppSpec and the hook scripts
    included. Copied into a directory a web server serves (/var/www, /usr/share/nginx, htdocs,
    public_html, inetpub\\wwwroot…), it publishes appspec.yml and your scripts to anyone who asks —
    scanners look for exactly that file."""
    for copy in file_copies(ctx):
        if copy.source == "." and _web_served(copy.destination):
            yield Finding(
                copy.node,
                f"source '{shown(copy.node)}' copies the whole revision, appspec and hook "
                f"scripts included, into the web-served '{copy.written}'",
            )
