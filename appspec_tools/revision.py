"""Revisions as the agent unpacks them: a directory, or a zip / tar / tgz bundle read in memory.

Listing and reading live here, apart from linting, so that the deploy shim can reuse `open_revision`,
`Entry`, `clean_name` and `unsafe_reason` and add safe extraction. This module states facts (an entry
and why it is unsafe); appspec_tools.rules.revision_bundle turns them into problems. Archives are never
extracted here; the number of entries and every read are bounded.
"""

from __future__ import annotations

import contextlib
import lzma
import os
import posixpath
import re
import stat
import struct
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, replace
from typing import IO, Callable, Dict, Iterator, List, Literal, NamedTuple, Optional, Set, Tuple

from appspec_tools.agent_names import APPSPEC_NAMES
from appspec_tools.bundle_types import ARCHIVE_SUFFIXES, sniff_archive
from appspec_tools.bundle_types import is_archive as is_archive  # re-exported: part of this module's API
from appspec_tools.errors import InputError

MAX_ENTRIES = 100_000
MAX_LINK_HOPS = 40
FILE, DIR, SYMLINK, HARDLINK, DEVICE, OTHER = "file", "dir", "symlink", "hardlink", "device", "other"
_DRIVE = re.compile(r"^[A-Za-z]:")
_APPSPEC_LIKE = re.compile("appspec", re.IGNORECASE)  # the agent's `Dir.entries(top).grep(/appspec/i)`
TarMode = Literal["r:", "r:gz", "r:bz2", "r:xz"]
_TAR_MODES: Dict[bytes, TarMode] = {b"\x1f\x8b": "r:gz", b"BZh": "r:bz2", b"\xfd7zXZ\x00": "r:xz"}
_READ_ERRORS = (
    zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError, RuntimeError,
    NotImplementedError, ValueError, KeyError, struct.error,
)  # fmt: skip
Lookup = Callable[[str], Optional["Entry"]]
# Why an entry is unsafe to unpack.
ABSOLUTE = "absolute"  # an absolute name or a `..` component
HARDLINK_OUT = "hardlink-out"  # a hard link to a path outside the archive
THROUGH_SYMLINK = "through-symlink"  # written through one of the archive's own symlinks
SPECIAL = "special"  # a device, FIFO, socket or other special file
SETUID = "setuid"  # a setuid file, or a setgid one (the agent keeps the bit)
SYMLINK_OUT = "symlink-out"  # a symlink pointing outside the archive (the agent keeps it as a link)


class RevisionError(InputError):
    """A revision that cannot be read at all: one line naming the path and the problem."""


@dataclass(frozen=True)
class Entry:
    """One member. `name` is its clean relative path ("" for the root itself)."""

    name: str
    kind: str  # file, dir, symlink, hardlink, device, other
    mode: Optional[int]  # permission bits incl. setuid/setgid/sticky; None when the archive stores none
    size: int = 0
    target: str = ""  # symlink target as stored; hardlink target (a path from the archive root) as stored
    raw: str = ""  # the member name exactly as stored


ROOT = Entry("", DIR, None)


class UnsafeEntry(NamedTuple):
    """A member unsafe to unpack: which, why (one of the kinds above), and the reason in words."""

    entry: Entry
    kind: str
    reason: str


def clean_name(raw: str, backslashes: bool = False) -> Optional[str]:
    """The member's relative POSIX path ("" for the root), or None when it is absolute or has `..`."""
    name = raw.replace("\\", "/") if backslashes else raw
    if name.startswith("/") or _DRIVE.match(name):
        return None
    parts = _parts(name)
    return None if ".." in parts else "/".join(parts)


def _parts(path: str) -> List[str]:
    return [part for part in path.split("/") if part not in ("", ".")]


def resolve(lookup: Lookup, path: str, base: str = "", follow: bool = True) -> Tuple[Optional[Entry], str]:
    """Walk `path` from directory `base` of a tree, following symlinks inside the tree (the last
    component only when `follow`). Returns (entry, "ok") or (None, "missing" | "escapes" | "loop")."""
    todo, done, hops = _parts(path), _parts(base), 0
    entry: Optional[Entry] = ROOT
    while todo:
        part = todo.pop(0)
        if part == "..":
            if not done:
                return None, "escapes"
            done.pop()
            entry = lookup("/".join(done)) if done else ROOT
            continue
        entry = lookup("/".join(done + [part]))
        if entry is None:
            return None, "missing"
        if entry.kind == SYMLINK and (todo or follow):
            hops += 1
            if hops > MAX_LINK_HOPS:
                return None, "loop"
            if entry.target.startswith("/") or _DRIVE.match(entry.target):
                return None, "escapes"
            todo = _parts(entry.target) + todo
            continue
        if todo and entry.kind != DIR:
            return None, "missing"
        done.append(part)
    return entry, "ok"


def unsafe_reason(entry: Entry, lookup: Lookup, backslashes: bool = False) -> Optional[Tuple[str, str]]:
    """Why unpacking an archive member is unsafe, as (kind, reason), or None. `lookup` finds the other
    members by clean name, so links are checked through the archive's own symlinks as well as lexically."""
    name = clean_name(entry.raw or entry.name, backslashes)
    if name is None:
        return ABSOLUTE, f"entry {entry.raw!r} has an absolute path or a `..` component"
    if entry.kind in (SYMLINK, HARDLINK):
        base = posixpath.dirname(name) if entry.kind == SYMLINK else ""
        lexical = clean_name(posixpath.normpath(posixpath.join(base, entry.target or ".")))
        status = resolve(lookup, entry.target, base, follow=entry.kind == SYMLINK)[1]
        if lexical is None or status == "escapes":
            if entry.kind == SYMLINK:  # the agent keeps it as a link, and so do we
                return SYMLINK_OUT, f"symlink {name} -> {entry.target} points outside the archive"
            return HARDLINK_OUT, f"hard link {name} -> {entry.target} points outside the archive"
    if entry.kind in (DEVICE, OTHER):
        what = "a device file" if entry.kind == DEVICE else "a FIFO, socket or other special file"
        return SPECIAL, f"entry {name} is {what}"
    mode = entry.mode or 0
    if mode & stat.S_ISUID or (mode & stat.S_ISGID and entry.kind != DIR):
        bit = "setuid" if mode & stat.S_ISUID else "setgid"
        return SETUID, f"entry {name} has the {bit} bit (mode {mode:04o})"
    return None


class Revision:
    """A revision and what is in it. Members are paths relative to the root the agent uses (for an
    archive, after it strips a single top-level folder: AGENT-FACTS §8)."""

    kind = "directory"

    def __init__(self, path: str) -> None:
        self.path = path
        self.prefix = ""  # "top/" when the agent strips that folder
        self.appspec_member: Optional[str] = None
        self.appspec_variants: List[str] = []  # every AppSpec name present at the root, in lookup order

    def _lookup(self, name: str) -> Optional[Entry]:
        """The entry at a clean path from the archive (or directory) root, not following links."""
        raise NotImplementedError

    def _read(self, entry: Entry, limit: int) -> bytes:
        raise NotImplementedError

    def archive_entries(self) -> Iterator[Entry]:
        """Every member, named from the archive (or directory) root."""
        raise NotImplementedError

    def unsafe_entries(self) -> Iterator[UnsafeEntry]:
        """Each member that is unsafe to unpack (a directory has none)."""
        return iter(())

    def close(self) -> None:
        pass

    def _locate_appspec(self) -> None:
        self.appspec_variants = [name for name in APPSPEC_NAMES if self.is_regular(name)]
        self.appspec_member = self.appspec_variants[0] if self.appspec_variants else None

    def _in_root(self, name: str) -> Optional[Entry]:
        return self._lookup(self.prefix + name)

    def entry(self, member: str) -> Optional[Entry]:
        """The member itself (a final symlink is not followed), or None."""
        return resolve(self._in_root, member, follow=False)[0]

    def resolved(self, member: str) -> Tuple[Optional[Entry], str]:
        """The member with symlinks (and a tar hard link) followed, and "ok" | "missing" | "escapes" | "loop"."""
        entry, status = resolve(self._in_root, member)
        if entry is not None and entry.kind == HARDLINK:
            entry = self._lookup(clean_name(entry.target) or "\0")
            status = "ok" if entry is not None else "missing"
        return entry, status

    def exists(self, member: str) -> bool:
        return self.entry(member) is not None

    def is_regular(self, member: str) -> bool:
        entry = self.resolved(member)[0]
        return entry is not None and entry.kind == FILE

    def mode(self, member: str) -> Optional[int]:
        entry = self.resolved(member)[0]
        return entry.mode if entry is not None else None

    def read(self, member: str, limit: int) -> bytes:
        """At most `limit` bytes of a regular file of the revision."""
        entry = self.resolved(member)[0]
        if entry is None or entry.kind != FILE:
            raise RevisionError(f"{self.display(member)}: not a regular file in the revision")
        try:
            return self._read(entry, limit)
        except _READ_ERRORS as exc:
            raise RevisionError(f"{self.display(member)}: cannot read it: {_reason(exc)}") from None

    def display(self, member: str) -> str:
        """How a member is named in problems: `revision/appspec.yml`, `bundle.zip/app/appspec.yml`."""
        if self.kind == "directory":
            return os.path.normpath(os.path.join(self.path, member))
        return "/".join(part for part in (self.path, self.prefix.rstrip("/"), member) if part)

    def entries(self) -> Iterator[Entry]:
        """Members of the revision, named from its root."""
        for entry in self.archive_entries():
            if entry.name.startswith(self.prefix) and entry.name != self.prefix.rstrip("/"):
                yield replace(entry, name=entry.name[len(self.prefix) :])


class DirectoryRevision(Revision):
    """A directory revision: copied as it is (the agent never strips a folder of a directory bundle)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self._locate_appspec()

    def _lookup(self, name: str) -> Optional[Entry]:
        full = os.path.join(self.path, name) if name else self.path
        try:
            info = os.lstat(full)
            target = os.readlink(full) if stat.S_ISLNK(info.st_mode) else ""
        except (OSError, ValueError):
            return None
        return Entry(name, _kind(info.st_mode), stat.S_IMODE(info.st_mode), info.st_size, target, name)

    def _read(self, entry: Entry, limit: int) -> bytes:
        with open(os.path.join(self.path, entry.name), "rb") as handle:
            return handle.read(limit)

    def archive_entries(self) -> Iterator[Entry]:
        """Every entry below the directory, symlinks not followed; the walk stops after MAX_ENTRIES."""
        stack, seen = [""], 0
        while stack:
            folder = stack.pop()
            try:
                with os.scandir(os.path.join(self.path, folder) if folder else self.path) as listing:
                    children = sorted(listing, key=lambda item: item.name)
            except OSError:
                continue
            for child in children:
                seen += 1
                if seen > MAX_ENTRIES:
                    return
                name = f"{folder}/{child.name}" if folder else child.name
                with contextlib.suppress(OSError):
                    info = child.stat(follow_symlinks=False)
                    yield Entry(name, _kind(info.st_mode), stat.S_IMODE(info.st_mode), info.st_size, "", name)
                    if stat.S_ISDIR(info.st_mode):
                        stack.append(name)


class ArchiveRevision(Revision):
    """A zip or tar bundle, listed once and read member by member in memory."""

    def __init__(
        self, path: str, kind: str, members: List[Entry], read: Callable[[Entry, int], bytes],
        close: Callable[[], None], backslashes: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(path)
        self.kind = kind
        self.members = members  # as stored, in archive order, unsafe ones included
        self._read_member, self._close, self._backslashes = read, close, backslashes
        self._by_name: Dict[str, Entry] = {}  # clean name -> last member of that name (unpacking overwrites)
        self._dirs: Set[str] = set()  # parents implied by member names
        for entry in members:
            name = clean_name(entry.raw, backslashes)
            if name:
                self._by_name[name] = replace(entry, name=name)
                parts = name.split("/")
                self._dirs.update("/".join(parts[:i]) for i in range(1, len(parts)))
        self.prefix = self._strip_prefix()
        self._locate_appspec()

    def _strip_prefix(self) -> str:
        """One entry at the archive root, a directory, directly holding a name matching /appspec/i."""
        roots = {name.split("/", 1)[0] for name in self._by_name}
        if len(roots) != 1:
            return ""
        top = roots.pop()
        entry = self._lookup(top)
        if entry is None or entry.kind != DIR:
            return ""
        children = {name.split("/")[1] for name in self._by_name if "/" in name}
        return top + "/" if any(_APPSPEC_LIKE.search(child) for child in children) else ""

    def _lookup(self, name: str) -> Optional[Entry]:
        if not name:
            return ROOT
        found = self._by_name.get(name)
        return Entry(name, DIR, None) if found is None and name in self._dirs else found

    def _read(self, entry: Entry, limit: int) -> bytes:
        return self._read_member(entry, limit)

    def archive_entries(self) -> Iterator[Entry]:
        yield from self._by_name.values()
        yield from (Entry(name, DIR, None) for name in sorted(self._dirs - set(self._by_name)))

    def unsafe_entries(self) -> Iterator[UnsafeEntry]:
        links = {entry.name for entry in self.members if entry.kind == SYMLINK}
        for entry in self.members:
            found = unsafe_reason(entry, self._lookup, self._backslashes) or _under_symlink(entry, links)
            if found is not None:
                yield UnsafeEntry(entry, *found)

    def close(self) -> None:
        self._close()


def _under_symlink(entry: Entry, links: Set[str]) -> Optional[Tuple[str, str]]:
    """An entry whose path runs through one of the archive's symlinks: unpacking it writes through it."""
    parts = entry.name.split("/")
    through = next((p for p in ("/".join(parts[:i]) for i in range(1, len(parts))) if p in links), None)
    if through is None:
        return None
    return THROUGH_SYMLINK, f"entry {entry.name} would be written through the symlink {through}"


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return FILE
    if stat.S_ISDIR(mode):
        return DIR
    if stat.S_ISLNK(mode):
        return SYMLINK
    return DEVICE if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else OTHER


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _too_many(path: str) -> RevisionError:
    return RevisionError(f"{path}: more than {MAX_ENTRIES:,} entries; refusing to read it")


def _zip_declared_entries(handle: IO[bytes]) -> int:
    """The entry count of the end-of-central-directory record (zip64 too), read before zipfile
    builds an object for every entry."""
    size = handle.seek(0, os.SEEK_END)
    handle.seek(max(0, size - 22 - 65535))
    tail = handle.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return 0
    (count,) = struct.unpack("<H", tail[at + 10 : at + 12])
    if count == 0xFFFF and at >= 20 and tail[at - 20 : at - 16] == b"PK\x06\x07":
        handle.seek(struct.unpack("<Q", tail[at - 12 : at - 4])[0])
        record = handle.read(40)
        if len(record) == 40 and record[:4] == b"PK\x06\x06":
            (count,) = struct.unpack("<Q", record[32:40])
    return count


def _open_zip(path: str) -> ArchiveRevision:
    with contextlib.ExitStack() as stack:
        handle = stack.enter_context(open(path, "rb"))
        try:
            if _zip_declared_entries(handle) > MAX_ENTRIES:
                raise _too_many(path)
            archive = stack.enter_context(zipfile.ZipFile(handle))
            infos = archive.infolist()
            if len(infos) > MAX_ENTRIES:
                raise _too_many(path)
            by_raw, members = {}, []
            for info in infos:
                bits = info.external_attr >> 16
                unix = info.create_system in (3, 19) and bits != 0  # Unix or macOS: unzip restores this mode
                kind = _kind(bits) if unix and stat.S_IFMT(bits) else FILE
                if info.is_dir() or (not unix and info.external_attr & 0x10):
                    kind = DIR
                target = ""
                if kind == SYMLINK:  # unzip makes a symlink whose target is the member's content
                    with archive.open(info) as member:
                        target = member.read(4096).decode("utf-8", "surrogateescape")
                by_raw[info.filename] = info
                mode = stat.S_IMODE(bits) if unix else None
                members.append(Entry(info.filename, kind, mode, info.file_size, target, info.filename))
        except _READ_ERRORS as exc:
            raise RevisionError(f"{path}: not a readable zip archive ({_reason(exc)})") from None
        close = stack.pop_all().close

    def read(entry: Entry, limit: int) -> bytes:
        with archive.open(by_raw[entry.raw]) as member:
            return member.read(limit)

    return ArchiveRevision(path, "zip", members, read, close, backslashes=True)


def _check_tar_end(path: str, archive: tarfile.TarFile, compressed: bool, end: int) -> None:
    """tarfile stops quietly at a header it cannot parse; past the last member only zeros may follow,
    and a compressed stream must reach its end (that is where truncation shows)."""
    stream = archive.fileobj
    assert stream is not None
    stream.seek(archive.offset)
    if stream.read(1024).strip(b"\0"):
        raise RevisionError(f"{path}: corrupt tar archive (unreadable header at byte {archive.offset:,})")
    while compressed and stream.read(1 << 20):
        pass
    if not compressed and end > os.path.getsize(path):
        raise RevisionError(f"{path}: truncated tar archive (member data runs past the end of the file)")


def _open_tar(path: str) -> ArchiveRevision:
    with contextlib.ExitStack() as stack:
        handle = stack.enter_context(open(path, "rb"))
        try:
            head = handle.read(6)
            mode: TarMode = next((mode for magic, mode in _TAR_MODES.items() if head.startswith(magic)), "r:")
            handle.seek(0)
            archive = stack.enter_context(tarfile.open(fileobj=handle, mode=mode))
            by_raw: Dict[str, tarfile.TarInfo] = {}
            members: List[Entry] = []
            end = 0
            for info in iter(archive.next, None):
                if len(members) >= MAX_ENTRIES:
                    raise _too_many(path)
                kind = (FILE if info.isreg() else DIR if info.isdir() else SYMLINK if info.issym() else
                        HARDLINK if info.islnk() else DEVICE if info.ischr() or info.isblk() else OTHER)  # fmt: skip
                by_raw[info.name] = info
                members.append(
                    Entry(info.name, kind, stat.S_IMODE(info.mode), info.size, info.linkname, info.name)
                )
                end = max(end, info.offset_data + (info.size if info.isreg() else 0))
            _check_tar_end(path, archive, mode != "r:", end)
        except _READ_ERRORS as exc:
            raise RevisionError(f"{path}: not a readable tar archive ({_reason(exc)})") from None
        close = stack.pop_all().close

    def read(entry: Entry, limit: int) -> bytes:
        member = archive.extractfile(by_raw[entry.raw])
        return member.read(limit) if member is not None else b""

    return ArchiveRevision(path, "tar", members, read, close)


@contextlib.contextmanager
def open_revision(path: str) -> Iterator[Revision]:
    """A directory or a zip/tar/tgz bundle as a Revision; RevisionError (one line) when it cannot be read."""
    if os.path.isdir(path):
        revision: Revision = DirectoryRevision(path)
    elif not os.path.exists(path):
        raise RevisionError(f"{path}: no such file or directory")
    else:
        magic = sniff_archive(path)
        if magic is None and not path.lower().endswith(ARCHIVE_SUFFIXES):
            raise RevisionError(f"{path}: not a directory or a zip, tar or tgz archive")
        kind = magic or ("zip" if path.lower().endswith(".zip") else "tar")
        try:
            revision = _open_zip(path) if kind == "zip" else _open_tar(path)
        except OSError as exc:
            raise RevisionError(f"{path}: cannot read it: {_reason(exc)}") from None
    try:
        yield revision
    finally:
        revision.close()
