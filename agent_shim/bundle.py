"""Revisions to the deployment archive: where the bundle comes from, and safe unpacking.

Local bundles: a folder is copied (never stripped); a zip/tar/tgz file gets `bundle.tar` as a symlink to
it, as the agent does. S3 bundles (`s3://bucket/key?versionId=…&etag=…`) are downloaded with boto3 to
`bundle.tar`. Before anything is unpacked, every member is checked with
`appspec_tools.revision.unsafe_reason`: a member with an absolute path or `..`, a hard link leaving the
archive, a device file or FIFO, or a member under one of the archive's own symlinks refuses the whole
bundle in every mode; setuid/setgid files only with `safe`. Symlinks are kept as symlinks wherever they
point, like the agent, and nothing is ever written through one. Unpacking keeps modes and mtimes (and,
as root, the archive's owners, as `tar -xp` does; `safe` leaves the files to the deploying user) and
strips the single top-level folder by the agent's rule. A folder is copied as Ruby's `FileUtils.cp_r`
copies it for codedeploy-local: modes under the umask, times and owners not kept.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tarfile
import time
import zipfile
from dataclasses import dataclass
from typing import IO, Dict, List, Optional, TextIO, Tuple
from urllib.parse import parse_qs, urlencode, urlparse

from appspec_tools.errors import InputError
from appspec_tools.revision import SETUID, SYMLINK_OUT, Revision, clean_name, sniff_archive

COPY_CHUNK = 1024 * 1024


class BundleError(InputError):
    """A revision that cannot be fetched or unpacked; one line naming the bundle and the fix."""


@dataclass(frozen=True)
class BundleLocation:
    source: str  # as given
    bundle_type: str  # directory, zip, tar, tgz
    path: str = ""  # local path
    bucket: str = ""
    key: str = ""
    version: Optional[str] = None
    etag: Optional[str] = None

    @property
    def is_s3(self) -> bool:
        return bool(self.bucket)

    @property
    def url(self) -> str:
        """An S3 location as `parse_location` reads it: s3://BUCKET/KEY[?versionId=V&etag=E]."""
        query = urlencode([(n, v) for n, v in (("versionId", self.version), ("etag", self.etag)) if v])
        return f"s3://{self.bucket}/{self.key}" + (f"?{query}" if query else "")

    def variables(self) -> Dict[str, Optional[str]]:
        """BUNDLE_* for the hooks: S3 revisions only; a missing version or ETag is unset, not empty."""
        if not self.is_s3:
            return {}
        return {
            "BUNDLE_BUCKET": self.bucket,
            "BUNDLE_KEY": self.key,
            "BUNDLE_VERSION": self.version,
            "BUNDLE_ETAG": self.etag,
        }


def _type_from_name(name: str) -> Optional[str]:
    lowered = name.lower()
    for suffix, kind in ((".tar.gz", "tgz"), (".tgz", "tgz"), (".tar", "tar"), (".zip", "zip")):
        if lowered.endswith(suffix):
            return kind
    return None


def _first(values: Optional[List[str]]) -> Optional[str]:
    return values[0] if values else None


def parse_location(bundle: str, bundle_type: Optional[str] = None) -> BundleLocation:
    if bundle.startswith("s3://"):
        url = urlparse(bundle)
        query = parse_qs(url.query)
        key = url.path.lstrip("/")
        if not url.netloc or not key:
            raise BundleError(f"{bundle}: an S3 revision is s3://BUCKET/KEY[?versionId=V&etag=E]")
        kind = bundle_type or _type_from_name(key)
        if kind is None:
            raise BundleError(
                f"{bundle}: cannot tell the bundle type from the key; pass --type zip, tar or tgz"
            )
        if kind == "directory":
            raise BundleError(f"{bundle}: an S3 revision is a zip, tar or tgz file, not a directory")
        return BundleLocation(
            bundle,
            kind,
            bucket=url.netloc,
            key=key,
            version=_first(query.get("versionId")),
            etag=_first(query.get("etag")),
        )
    if "://" in bundle:
        raise BundleError(f"{bundle}: unsupported location; use a local path or s3://bucket/key")
    path = os.path.abspath(bundle)
    if not os.path.exists(path):
        raise BundleError(f"{bundle}: no such file or directory")
    if os.path.isdir(path):
        if bundle_type not in (None, "directory"):
            raise BundleError(f"{bundle}: is a directory, but --type {bundle_type} was given")
        return BundleLocation(bundle, "directory", path=path)
    kind = bundle_type or _type_from_name(path) or sniff_archive(path)
    if kind is None:
        raise BundleError(f"{bundle}: not a zip, tar or tgz archive; pass --type if the name hides it")
    if kind == "directory":
        raise BundleError(f"{bundle}: is a file, not a directory; pass --type zip, tar or tgz")
    return BundleLocation(bundle, kind, path=path)


def fetch(location: BundleLocation, bundle_file: str, progress_to: Optional[TextIO] = None) -> BundleLocation:
    """Make the bundle available as `bundle_file` (none for a directory). Returns the location with the
    S3 version and ETag that were actually downloaded; `progress_to` shows the bytes on a terminal."""
    os.makedirs(os.path.dirname(bundle_file), exist_ok=True)
    if location.bundle_type == "directory":
        return location
    if os.path.lexists(bundle_file):
        os.remove(bundle_file)
    if not location.is_s3:
        os.symlink(location.path, bundle_file)
        return location
    return _download(location, bundle_file, progress_to)


def _download(location: BundleLocation, bundle_file: str, progress_to: Optional[TextIO]) -> BundleLocation:
    from appspec_tools.progress import progress_on

    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        raise BundleError(
            f"{location.source}: S3 revisions need the 'aws' extra: pip install 'appspec-tools[aws]'"
        ) from None
    arguments = {"Bucket": location.bucket, "Key": location.key}
    if location.version:
        arguments["VersionId"] = location.version
    try:
        response = boto3.client("s3").get_object(**arguments)
        size = int(response.get("ContentLength") or 0)
        with open(bundle_file, "wb") as out, progress_on(
            progress_to, f"downloading {location.url}", size
        ) as shown:
            body = response["Body"]
            for chunk in iter(lambda: body.read(COPY_CHUNK), b""):
                out.write(chunk)
                shown.advance(len(chunk))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "Error")
        message = exc.response.get("Error", {}).get("Message", str(exc))
        raise BundleError(f"{location.source}: S3 refused the download: {code}: {message}") from None
    except BotoCoreError as exc:
        raise BundleError(f"{location.source}: cannot download from S3: {exc}") from None
    etag = str(response.get("ETag", "")).strip('"') or None
    if location.etag and etag and location.etag.strip('"') != etag:
        raise BundleError(
            f"{location.source}: the object's ETag is {etag}, not {location.etag}; the revision changed"
        )
    version = response.get("VersionId") or location.version
    if version == "null":
        version = location.version
    return BundleLocation(
        location.source,
        location.bundle_type,
        bucket=location.bucket,
        key=location.key,
        version=version,
        etag=etag,
    )


def unpack(
    location: BundleLocation, bundle_file: str, archive_dir: str, prefix: str, keep_owners: bool = False
) -> None:
    """Unpack a bundle already checked by `refuse_unsafe` into a fresh `archive_dir` (the agent `rm -rf`s
    it first), without the top-level folder `prefix` the agent strips. Like the agent, the system's
    `tar -xp` / `unzip -qo` do the work when present; Python's tarfile/zipfile otherwise. As root,
    `keep_owners` gives the files the archive's owners, as the agent's `tar -xp` does."""
    if os.path.lexists(archive_dir):
        shutil.rmtree(archive_dir)
    try:
        if location.bundle_type == "directory":
            copy_like_cp_r(location.path, archive_dir)
            return
        source = os.path.realpath(bundle_file)
        os.makedirs(archive_dir)
        owners = keep_owners and os.geteuid() == 0
        if not _unpack_with_system_tools(location.bundle_type, source, archive_dir, prefix, owners):
            if location.bundle_type == "zip":
                _unzip(source, archive_dir, prefix)
            else:
                _untar(source, archive_dir, prefix, owners)
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise BundleError(f"{location.source}: cannot unpack it: {exc}") from None


def copy_like_cp_r(source: str, destination: str) -> None:
    """codedeploy-local's copy of a folder revision, `FileUtils.cp_r`: files keep their mode under the
    umask, directories get 0777 under the umask, symlinks stay symlinks; times and owners are new."""
    umask = os.umask(0)
    os.umask(umask)
    os.mkdir(destination)
    for entry in sorted(os.scandir(source), key=lambda e: e.name):
        target = os.path.join(destination, entry.name)
        info = entry.stat(follow_symlinks=False)
        if stat.S_ISLNK(info.st_mode):
            os.symlink(os.readlink(entry.path), target)
        elif stat.S_ISDIR(info.st_mode):
            copy_like_cp_r(entry.path, target)
        elif stat.S_ISREG(info.st_mode):
            shutil.copyfile(entry.path, target, follow_symlinks=False)
            os.chmod(target, stat.S_IMODE(info.st_mode) & ~umask)
        elif stat.S_ISFIFO(info.st_mode):
            os.mkfifo(target, stat.S_IMODE(info.st_mode))
        else:  # Ruby: "cannot handle device file" / "cannot handle socket"
            what = "socket" if stat.S_ISSOCK(info.st_mode) else "device file"
            raise BundleError(f"{entry.path}: cannot handle {what}")


def _unpack_with_system_tools(kind: str, source: str, archive_dir: str, prefix: str, owners: bool) -> bool:
    """The fast path for the common case; a stripped folder always goes through Python, which names
    members the same way whatever the archive wrote (`myapp/x`, `./myapp/x`)."""
    tool = shutil.which("unzip" if kind == "zip" else "tar")
    if tool is None or prefix:
        return False
    if kind == "zip":
        argv = [tool, "-qo", source, "-d", archive_dir]
    else:
        argv = [tool, "-xpf", source, "-C", archive_dir] + ([] if owners else ["--no-same-owner"])
    result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        detail = "; ".join(lines[:3]) if lines else f"exit code {result.returncode}"
        raise BundleError(f"{os.path.basename(tool)} could not unpack {source}: {detail}")
    return True


def refuse_unsafe(revision: Revision, shown: str, allow_setuid: bool = False) -> str:
    """Refuse an archive with any member unsafe to unpack; return the top-level folder the agent would
    strip. A symlink pointing outside is kept (the agent keeps it); a setuid file only if allowed."""
    allowed = {SYMLINK_OUT} | ({SETUID} if allow_setuid else set())
    unsafe = [found for found in revision.unsafe_entries() if found.kind not in allowed]
    if unsafe:
        reasons = "; ".join(found.reason for found in unsafe[:3])
        more = f" (and {len(unsafe) - 3} more)" if len(unsafe) > 3 else ""
        raise BundleError(f"{shown}: unsafe archive, nothing was unpacked: {reasons}{more}")
    return revision.prefix


def _target(archive_dir: str, prefix: str, raw_name: str) -> Optional[str]:
    """Where a member lands, with the stripped folder removed; None for the root and the folder itself."""
    name = clean_name(raw_name)
    if name is None:  # check() refused these already; never write outside the archive
        raise BundleError(f"entry {raw_name!r} has an absolute path or a `..` component")
    if prefix:
        if name == prefix.rstrip("/") or not name.startswith(prefix):
            return None
        name = name[len(prefix) :]
    if not name:
        return None
    return os.path.join(archive_dir, *name.split("/"))


def _fresh(root: str, target: str, directory: bool = False) -> None:
    """Make room for a member at `target` without ever writing through a symlink: its folder must resolve
    inside the archive (`root`, real) before anything is created there, and whatever is at `target` (a
    symlink, an earlier member of the same name) is removed first, as tar does; an existing real folder
    stays for a folder member."""
    parent = os.path.dirname(target)
    real = os.path.realpath(parent)
    if real != root and not real.startswith(root + os.sep):
        raise BundleError(f"{target}: its folder leads outside the archive through a symlink")
    os.makedirs(parent, exist_ok=True)
    real_folder = os.path.isdir(target) and not os.path.islink(target)
    if real_folder and not directory:
        shutil.rmtree(target)
    elif not real_folder and os.path.lexists(target):
        os.unlink(target)


def _write(source: IO[bytes], target: str) -> None:
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(descriptor, "wb") as out:
        shutil.copyfileobj(source, out, COPY_CHUNK)


def _owner(member: tarfile.TarInfo) -> Tuple[int, int]:
    """The owner `tar -xp` gives a member as root: its user and group names if this host has them, else
    the numbers stored."""
    import grp
    import pwd

    try:
        uid = pwd.getpwnam(member.uname).pw_uid if member.uname else member.uid
    except KeyError:
        uid = member.uid
    try:
        gid = grp.getgrnam(member.gname).gr_gid if member.gname else member.gid
    except KeyError:
        gid = member.gid
    return uid, gid


def _untar(path: str, archive_dir: str, prefix: str, owners: bool = False) -> None:
    root = os.path.realpath(archive_dir)
    directories = []
    with tarfile.open(path, "r:*") as archive:
        for member in archive:
            target = _target(archive_dir, prefix, member.name)
            if target is None:
                continue
            _fresh(root, target, directory=member.isdir())
            if member.isdir():
                os.makedirs(target, exist_ok=True)
                directories.append((target, member))
            elif member.isreg():
                source = archive.extractfile(member)
                assert source is not None
                with source:
                    _write(source, target)
                if owners:
                    os.lchown(target, *_owner(member))
                os.chmod(target, member.mode & 0o7777)
                os.utime(target, (member.mtime, member.mtime))
            elif member.issym():
                os.symlink(member.linkname, target)
                if owners:
                    os.lchown(target, *_owner(member))
            elif member.islnk():
                linked = _target(archive_dir, prefix, member.linkname)
                if linked is None or not os.path.lexists(linked):
                    raise BundleError(
                        f"hard link {member.name} -> {member.linkname}: target not in the archive"
                    )
                os.link(linked, target, follow_symlinks=False)
    for target, member in reversed(directories):  # like tar -p: directory owners, modes and times last
        if owners:
            os.lchown(target, *_owner(member))
        os.chmod(target, member.mode & 0o7777)
        os.utime(target, (member.mtime, member.mtime))


def _unzip(path: str, archive_dir: str, prefix: str) -> None:
    root = os.path.realpath(archive_dir)
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            target = _target(archive_dir, prefix, info.filename)
            if target is None:
                continue
            unix_mode = info.external_attr >> 16
            _fresh(root, target, directory=info.is_dir())
            if info.is_dir():
                os.makedirs(target, exist_ok=True)
                continue
            if stat.S_ISLNK(unix_mode):
                os.symlink(archive.read(info).decode("utf-8"), target)
                continue
            with archive.open(info) as source:
                _write(source, target)
            permissions = stat.S_IMODE(unix_mode) & 0o777  # `unzip` without -K drops setuid/setgid/sticky
            os.chmod(target, permissions if permissions else 0o644)
            mtime = time.mktime(info.date_time + (0, 0, -1))
            os.utime(target, (mtime, mtime))
