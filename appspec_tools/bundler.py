"""`appspec bundle`: a revision folder → a reproducible zip, tar or tgz that lints clean.

Reproducible means the same tree gives the same bytes: entries sorted, one fixed timestamp
(`SOURCE_DATE_EPOCH`, else 1980-01-01), owner 0, no gzip name or time, and modes reduced to what git
keeps (0755 when any exec bit is set, else 0644; directories 0755) unless `--preserve-modes`.
"""

from __future__ import annotations

import argparse
import calendar
import gzip
import hashlib
import json
import os
import shutil
import stat
import tarfile
import time
import zipfile
from dataclasses import dataclass
from typing import IO, List, Optional, Sequence, TextIO, Tuple

from appspec_tools.errors import EXIT_FAILED as EXIT_REFUSED
from appspec_tools.errors import EXIT_OK, EXIT_USAGE, InputError, one_line
from appspec_tools.fileio import replaced
from appspec_tools.problem import Problem
from appspec_tools.progress import NO_PROGRESS, Progress, human_size, progress_on

BUNDLE_TYPES = ("zip", "tar", "tgz")
ALWAYS_EXCLUDED = frozenset({".git", ".hg", ".svn", ".bzr", "__MACOSX", ".DS_Store"})
IGNORE_FILE = ".appspecignore"
DEFAULT_EPOCH = calendar.timegm((1980, 1, 1, 0, 0, 0))  # the earliest time a zip can store
FILE, DIR, SYMLINK = "file", "dir", "symlink"


class BundleError(InputError):
    """A revision that cannot be bundled: one line naming the path and the fix."""


class LintRefused(Exception):
    """The revision has lint errors; `problems` holds every finding."""

    def __init__(self, path: str, problems: List[Problem], message: str = "") -> None:
        super().__init__(message or f"{path}: lint errors; not bundling (fix them, or pass --no-lint)")
        self.problems = problems


@dataclass(frozen=True)
class Member:
    name: str  # POSIX path relative to the revision root
    kind: str  # file, dir, symlink
    mode: int  # permission bits as stored in the archive
    path: str  # where it is on disk
    size: int = 0
    target: str = ""  # symlink target


@dataclass(frozen=True)
class Bundle:
    path: str
    bundle_type: str  # CodeDeploy's bundleType: zip, tar or tgz
    size: int
    sha256: str
    entries: int
    warnings: Tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "path": self.path, "bundleType": self.bundle_type, "size": self.size, "sha256": self.sha256,
            "entries": self.entries, "warnings": list(self.warnings),
        }  # fmt: skip


class IgnoreRules:
    """The ignore file's lines, matched by git's rules (pathspec's GitIgnoreSpec): `#` comments, `!`
    re-includes, a trailing `/` for directories only, a `/` elsewhere anchors at the revision root, `*`,
    `?`, `[...]`, `**` and `\\` escapes. Paths are checked level by level as git walks a tree: the last
    matching line wins, and an excluded directory is not entered, so nothing inside it comes back."""

    def __init__(self, lines: Sequence[str] = ()) -> None:
        import pathspec  # only a bundle needs it: lint never loads it

        patterns = [line.rstrip("\r\n") for line in lines]
        # A directory is asked as itself: "build/" becomes "build", and "foo/**" (inside foo) leaves foo.
        self._directories = pathspec.GitIgnoreSpec.from_lines([_as_directory(p) for p in patterns])
        # A file in a directory that was entered: excluding directory-only lines cannot match it (they
        # matter only to its folders, decided above), their negations still re-include what is below them.
        files = [p for p in patterns if p.startswith("!") or not _directory_only(p)]
        self._files = pathspec.GitIgnoreSpec.from_lines(files)

    @classmethod
    def read(cls, path: str) -> IgnoreRules:
        try:
            with open(path, encoding="utf-8") as handle:
                return cls(handle.readlines())
        except FileNotFoundError:
            return cls()
        except (OSError, UnicodeDecodeError) as exc:
            raise BundleError(f"{path}: cannot read the ignore file: {exc}") from None

    def excludes(self, name: str, is_dir: bool) -> bool:
        """Whether `name` (POSIX, relative to the revision root; its folders not excluded) is left out."""
        spec = self._directories if is_dir else self._files
        return bool(spec.match_file(name))


def _pattern_text(line: str) -> str:
    """The line without the trailing spaces git drops (a backslash-escaped one stays)."""
    stripped = line.rstrip(" ")
    return stripped + " " if stripped.endswith("\\") and stripped != line else stripped


def _directory_only(line: str) -> bool:
    return not line.startswith("#") and _pattern_text(line).endswith("/")


def _as_directory(line: str) -> str:
    return _pattern_text(line)[:-1] if _directory_only(line) else line


def collect(
    directory: str, rules: IgnoreRules, skip_paths: Sequence[str] = (), preserve_modes: bool = False
) -> Tuple[List[Member], List[str]]:
    """The members to archive, sorted by name, and warnings for what had to be left out."""
    skip = {os.path.realpath(p) for p in skip_paths}
    members: List[Member] = []
    warnings: List[str] = []
    stack = [""]
    while stack:
        folder = stack.pop()
        with os.scandir(os.path.join(directory, folder)) as listing:
            children = sorted(listing, key=lambda entry: entry.name)
        for child in children:
            name = f"{folder}/{child.name}" if folder else child.name
            info = child.stat(follow_symlinks=False)
            is_dir = stat.S_ISDIR(info.st_mode)
            if child.name in ALWAYS_EXCLUDED or os.path.realpath(child.path) in skip:
                continue
            if rules.excludes(name, is_dir):
                continue
            mode = stat.S_IMODE(info.st_mode)
            if is_dir:
                members.append(Member(name, DIR, mode if preserve_modes else 0o755, child.path))
                stack.append(name)
            elif stat.S_ISLNK(info.st_mode):
                members.append(Member(name, SYMLINK, 0o777, child.path, target=os.readlink(child.path)))
            elif stat.S_ISREG(info.st_mode):
                stored = mode if preserve_modes else (0o755 if mode & 0o111 else 0o644)
                members.append(Member(name, FILE, stored, child.path, info.st_size))
            else:
                warnings.append(f"{name}: not a file, directory or symlink; left out")
    members.sort(key=lambda member: member.name)
    return members, warnings


def source_epoch() -> int:
    """SOURCE_DATE_EPOCH (reproducible-builds.org) when set, else 1980-01-01; never before 1980."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    try:
        return max(DEFAULT_EPOCH, int(value)) if value else DEFAULT_EPOCH
    except ValueError:
        raise BundleError(f"SOURCE_DATE_EPOCH must be a number of seconds, not {value!r}") from None


def _write_zip(members: Sequence[Member], handle: IO[bytes], epoch: int, progress: Progress) -> None:
    when = time.gmtime(epoch)[:6]
    with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for member in members:
            info = zipfile.ZipInfo(member.name + ("/" if member.kind == DIR else ""), date_time=when)
            info.create_system = 3  # Unix: unzip restores the mode from the high 16 bits
            kind_bits = {FILE: stat.S_IFREG, DIR: stat.S_IFDIR, SYMLINK: stat.S_IFLNK}[member.kind]
            info.external_attr = ((kind_bits | member.mode) << 16) | (0x10 if member.kind == DIR else 0)
            if member.kind == FILE:
                info.compress_type = zipfile.ZIP_DEFLATED
                info.file_size = member.size
                with open(member.path, "rb") as source, archive.open(info, "w") as target:
                    shutil.copyfileobj(source, target, 1 << 20)
            else:
                info.compress_type = zipfile.ZIP_STORED
                archive.writestr(info, member.target.encode("utf-8", "surrogateescape"))
            progress.advance()


def _write_tar(members: Sequence[Member], handle: IO[bytes], epoch: int, progress: Progress) -> None:
    with tarfile.open(fileobj=handle, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for member in members:
            progress.advance()
            info = tarfile.TarInfo(member.name)
            info.mtime, info.mode = epoch, member.mode  # owner 0 and no names: uid/gid 0, uname/gname ""
            if member.kind == FILE:
                info.size = member.size
                with open(member.path, "rb") as source:
                    archive.addfile(info, source)
                continue
            info.type = tarfile.DIRTYPE if member.kind == DIR else tarfile.SYMTYPE
            info.linkname = member.target
            archive.addfile(info)


def write_archive(
    members: Sequence[Member], output: str, bundle_type: str, epoch: int, progress: Progress = NO_PROGRESS
) -> None:
    """Write next to `output`, then rename: a failed run never leaves half an archive behind.
    `progress` counts the members as they are written."""
    with replaced(output) as handle:
        if bundle_type == "zip":
            _write_zip(members, handle, epoch, progress)
        elif bundle_type == "tar":
            _write_tar(members, handle, epoch, progress)
        else:  # no file name and time 0 in the gzip header
            with gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0, compresslevel=9) as packed:
                _write_tar(members, packed, epoch, progress)  # type: ignore[arg-type]


def bundle_type_for(output: str, chosen: Optional[str] = None) -> str:
    if chosen:
        return chosen
    lower = output.lower()
    if lower.endswith((".tgz", ".tar.gz")):
        return "tgz"
    return "tar" if lower.endswith(".tar") else "zip"


def lint_revision(
    path: str, err: Optional[TextIO] = None, config_from: Optional[str] = None
) -> List[Problem]:
    """Lint a revision folder or archive with the lint configuration found from `config_from` (default:
    the revision); raise LintRefused when it fails (errors, or warnings under `strict`), else write its
    findings to `err`."""
    from appspec_tools.config import ConfigError, find_config, load_config
    from appspec_tools.formatters import FORMATTERS
    from appspec_tools.linter import LintOptions, failing, lint_paths

    start = config_from or (path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path)))
    try:
        config = load_config(find_config(start))
    except ConfigError as exc:
        raise BundleError(str(exc)) from None
    options = LintOptions(platform=config.platform, disabled=config.disable, enabled=config.enable)
    report = lint_paths([path], options)
    if report.errors:
        raise BundleError(report.errors[0])
    if failing(report.problems, config.strict):
        raise LintRefused(path, report.problems)
    if report.problems and err is not None:
        FORMATTERS["text"](report.problems, report.files, err, False)
    return report.problems


def check_root(directory: str) -> None:
    """CodeDeploy reads the AppSpec only at the revision root."""
    from appspec_tools.linter import APPSPEC_NAMES, find_appspecs

    if not os.path.isdir(directory):
        raise BundleError(f"{directory}: not a directory")
    if any(os.path.isfile(os.path.join(directory, name)) for name in APPSPEC_NAMES):
        return
    below = find_appspecs(directory)
    hint = f"; did you mean {os.path.dirname(below[0])}?" if below else ""
    raise BundleError(f"{directory}: no appspec.yml at the revision root (CodeDeploy looks only there){hint}")


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_bundle(
    directory: str,
    output: str,
    *,
    bundle_type: Optional[str] = None,
    ignore_file: Optional[str] = None,
    lint: bool = True,
    preserve_modes: bool = False,
    err: Optional[TextIO] = None,
    progress_to: Optional[TextIO] = None,
) -> Bundle:
    """Lint the folder, archive it, then check that the archive is a revision that lints clean. A
    terminal `progress_to` shows the members being written."""
    from appspec_tools.revision import RevisionError, open_revision

    check_root(directory)
    if lint:
        lint_revision(directory, err)
    if ignore_file and not os.path.isfile(ignore_file):
        raise BundleError(f"{ignore_file}: no such ignore file")
    kind = bundle_type_for(output, bundle_type)
    ignore_file = ignore_file or os.path.join(directory, IGNORE_FILE)
    rules = IgnoreRules.read(ignore_file)
    skip = [output, ignore_file]
    members, warnings = collect(directory, rules, skip, preserve_modes)
    with progress_on(progress_to, f"bundling {os.path.basename(output)}", len(members), "entries") as shown:
        write_archive(members, output, kind, source_epoch(), shown)
    try:
        with open_revision(output) as revision:
            if revision.appspec_member is None:
                raise BundleError(f"{output}: the archive has no AppSpec at its root")
        if lint:
            lint_revision(output, config_from=directory)
    except LintRefused as exc:
        os.unlink(output)
        reason = "did an ignore pattern leave out a file it needs?"
        raise LintRefused(
            output, exc.problems, f"{output}: the archive has lint errors ({reason}); removed it"
        ) from None
    except BundleError:
        os.unlink(output)
        raise
    except RevisionError as exc:
        os.unlink(output)
        raise BundleError(str(exc)) from None
    return Bundle(output, kind, os.path.getsize(output), sha256_of(output), len(members), tuple(warnings))


def report_refusal(exc: LintRefused, err: TextIO, command: str) -> None:
    from appspec_tools.formatters import FORMATTERS

    FORMATTERS["text"](exc.problems, 1, err, False)
    err.write(f"appspec {command}: {exc}\n")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        bundle = build_bundle(
            args.directory,
            args.output,
            bundle_type=args.bundle_type,
            ignore_file=args.ignore_file,
            lint=args.lint,
            preserve_modes=args.preserve_modes,
            err=err,
            progress_to=None if args.quiet else err,
        )
    except LintRefused as exc:
        report_refusal(exc, err, "bundle")
        return EXIT_REFUSED
    except (BundleError, OSError) as exc:
        err.write(f"appspec bundle: {one_line(exc)}\n")
        return EXIT_USAGE
    for warning in bundle.warnings:
        err.write(f"appspec bundle: warning: {warning}\n")
    if args.output_format == "json":
        json.dump(bundle.to_dict(), out, indent=2)
        out.write("\n")
    else:
        out.write(
            f"wrote {bundle.path} ({bundle.bundle_type}, {bundle.entries} entries, {human_size(bundle.size)})\n"
            f"sha256 {bundle.sha256}\n"
        )
    return EXIT_OK
