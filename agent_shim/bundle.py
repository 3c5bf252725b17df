"""Revisions to the deployment archive: where the bundle comes from, and safe unpacking.

Local bundles: a folder is copied (never stripped); a zip/tar/tgz file gets `bundle.tar` as a symlink to
it, as the agent does. S3 bundles (`s3://bucket/key?versionId=…&etag=…`) are downloaded with boto3 to
`bundle.tar`. Before anything is unpacked, every member is checked with
`appspec_tools.revision.unsafe_reason` (traversal, absolute paths, links escaping the archive, devices,
setuid); any unsafe member refuses the whole bundle. Unpacking then streams member by member, keeps
exec bits and mtimes, and strips the single top-level folder by the agent's rule.
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
from typing import Dict, List, Optional
from urllib.parse import parse_qs, urlencode, urlparse

from appspec_tools.errors import InputError
from appspec_tools.revision import Revision, clean_name, sniff_archive

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


def fetch(location: BundleLocation, bundle_file: str) -> BundleLocation:
    """Make the bundle available as `bundle_file` (none for a directory). Returns the location with the
    S3 version and ETag that were actually downloaded."""
    os.makedirs(os.path.dirname(bundle_file), exist_ok=True)
    if location.bundle_type == "directory":
        return location
    if os.path.lexists(bundle_file):
        os.remove(bundle_file)
    if not location.is_s3:
        os.symlink(location.path, bundle_file)
        return location
    return _download(location, bundle_file)


def _download(location: BundleLocation, bundle_file: str) -> BundleLocation:
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        raise BundleError(f"{location.source}: S3 revisions need boto3 (pip install boto3)") from None
    arguments = {"Bucket": location.bucket, "Key": location.key}
    if location.version:
        arguments["VersionId"] = location.version
    try:
        response = boto3.client("s3").get_object(**arguments)
        with open(bundle_file, "wb") as out:
            body = response["Body"]
            for chunk in iter(lambda: body.read(COPY_CHUNK), b""):
                out.write(chunk)
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


def unpack(location: BundleLocation, bundle_file: str, archive_dir: str, prefix: str) -> None:
    """Unpack a bundle already checked by `refuse_unsafe` into a fresh `archive_dir` (the agent `rm -rf`s
    it first), without the top-level folder `prefix` the agent strips. Like the agent, the system's
    `tar -xp` / `unzip -qo` do the work when present; Python's tarfile/zipfile otherwise."""
    if os.path.lexists(archive_dir):
        shutil.rmtree(archive_dir)
    if location.bundle_type == "directory":
        shutil.copytree(location.path, archive_dir, symlinks=True)
        return
    source = os.path.realpath(bundle_file)
    os.makedirs(archive_dir)
    try:
        if not _unpack_with_system_tools(location.bundle_type, source, archive_dir, prefix):
            if location.bundle_type == "zip":
                _unzip(source, archive_dir, prefix)
            else:
                _untar(source, archive_dir, prefix)
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise BundleError(f"{location.source}: cannot unpack it: {exc}") from None


def _unpack_with_system_tools(kind: str, source: str, archive_dir: str, prefix: str) -> bool:
    """The fast path for the common case; a stripped folder always goes through Python, which names
    members the same way whatever the archive wrote (`myapp/x`, `./myapp/x`)."""
    tool = shutil.which("unzip" if kind == "zip" else "tar")
    if tool is None or prefix:
        return False
    if kind == "zip":
        argv = [tool, "-qo", source, "-d", archive_dir]
    else:
        argv = [tool, "-xpf", source, "-C", archive_dir, "--no-same-owner"]
    result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        detail = "; ".join(lines[:3]) if lines else f"exit code {result.returncode}"
        raise BundleError(f"{os.path.basename(tool)} could not unpack {source}: {detail}")
    return True


def refuse_unsafe(revision: Revision, shown: str) -> str:
    """Refuse an archive with any unsafe member; return the top-level folder the agent would strip."""
    unsafe = list(revision.unsafe())
    if unsafe:
        reasons = "; ".join(reason for _, _, reason in unsafe[:3])
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


def _untar(path: str, archive_dir: str, prefix: str) -> None:
    directories = []
    with tarfile.open(path, "r:*") as archive:
        for member in archive:
            target = _target(archive_dir, prefix, member.name)
            if target is None:
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if member.isdir():
                os.makedirs(target, exist_ok=True)
                directories.append((target, member.mode, member.mtime))
            elif member.isreg():
                source = archive.extractfile(member)
                assert source is not None
                with source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out, COPY_CHUNK)
                os.chmod(target, member.mode & 0o7777)
                os.utime(target, (member.mtime, member.mtime))
            elif member.issym():
                os.symlink(member.linkname, target)
            elif member.islnk():
                linked = _target(archive_dir, prefix, member.linkname)
                if linked is None or not os.path.exists(linked):
                    raise BundleError(
                        f"hard link {member.name} -> {member.linkname}: target not in the archive"
                    )
                os.link(linked, target)
    for target, mode, mtime in reversed(directories):  # like tar -p: directory modes and times last
        os.chmod(target, mode & 0o7777)
        os.utime(target, (mtime, mtime))


def _unzip(path: str, archive_dir: str, prefix: str) -> None:
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            target = _target(archive_dir, prefix, info.filename)
            if target is None:
                continue
            unix_mode = info.external_attr >> 16
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if info.is_dir():
                os.makedirs(target, exist_ok=True)
                continue
            if stat.S_ISLNK(unix_mode):
                os.symlink(archive.read(info).decode("utf-8"), target)
                continue
            with archive.open(info) as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out, COPY_CHUNK)
            permissions = stat.S_IMODE(unix_mode)
            os.chmod(target, permissions if permissions else 0o644)
            mtime = time.mktime(info.date_time + (0, 0, -1))
            os.utime(target, (mtime, mtime))
