"""The revision of a fleet deployment: linted, archived (a folder becomes a .tgz, an S3 object is
downloaded once, by the controller) and kept in the history's revision store, so that every host, and
any later rollback or sync, receives exactly these bytes."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Optional

from agent_shim.fleet.history import History
from appspec_tools.errors import EXIT_FAILED, EXIT_USAGE, Refused

SUFFIXES = {"zip": ".zip", "tar": ".tar", "tgz": ".tgz"}


class RevisionRefused(Refused):
    """The revision cannot be deployed at all (unreadable, lint errors): nothing changed on any host.
    `unreadable`: it is not a revision at all (a missing file, not an archive): an input error, exit 2, as
    in `appspec lint`; otherwise (lint errors, nothing to roll back to) the deployment fails, exit 1."""

    def __init__(self, message: str, unreadable: bool = False) -> None:
        super().__init__(message)
        self.unreadable = unreadable
        self.exit_code = EXIT_USAGE if unreadable else EXIT_FAILED


@dataclass(frozen=True)
class Revision:
    source: str  # as the user gave it
    archive: str  # the archive every host receives (kept in the history's revision store)
    bundle_type: str  # zip, tar, tgz
    checksum: str  # sha256 of the archive
    origin: str = ""  # s3://bucket/key?versionId=…&etag=… it was downloaded from (BUNDLE_* on hosts), or ""


def unreadable_revision(bundle: str, exc: Exception) -> RevisionRefused:
    """A bundle that is not a revision at all, named once (the reason often names it already)."""
    said = str(exc)
    return RevisionRefused(said if bundle in said else f"{bundle}: {said}", unreadable=True)


def refuse_on_hosts(bundle: str, path: str) -> None:
    """The hosts' runner has `--safe`, which refuses setuid and setgid files (REV006, only a warning for
    the agent): refuse the revision here, before any host is touched."""
    from appspec_tools.revision import SETUID, open_revision

    with open_revision(path) as revision:
        setuid = [found.reason for found in revision.unsafe_entries() if found.kind == SETUID]
    if setuid:
        more = f" (and {len(setuid) - 3} more)" if len(setuid) > 3 else ""
        raise RevisionRefused(
            f"{bundle}: {'; '.join(setuid[:3])}{more}: the fleet's hosts deploy with --safe, which refuses "
            "setuid and setgid files; nothing was deployed"
        )


def prepare_revision(bundle: str, bundle_type: Optional[str], history: History) -> Revision:
    """Lint the revision (a folder, zip, tar, tgz or s3:// object), archive a folder, and keep the
    archive in the revision store. Raises RevisionRefused with the reasons, one per line."""
    from agent_shim.bundle import BundleError, fetch, parse_location
    from appspec_tools import bundler

    scratch = tempfile.mkdtemp(prefix="appspec-fleet-")
    origin = ""
    try:
        location = parse_location(bundle, bundle_type)
        if location.is_s3:  # the controller downloads it once; hosts get the archive like any other
            path, kind = (
                os.path.join(scratch, "bundle" + SUFFIXES[location.bundle_type]),
                location.bundle_type,
            )
            origin = fetch(location, path).url  # hosts get its BUNDLE_*: the version and ETag S3 gave
        elif location.bundle_type == "directory":
            path, kind = os.path.join(scratch, "revision.tgz"), "tgz"
            bundler.build_bundle(location.path, path, bundle_type="tgz", preserve_modes=True)
        else:
            path, kind = location.path, location.bundle_type
        if location.bundle_type != "directory":
            bundler.lint_revision(path)
        refuse_on_hosts(bundle, path)
        checksum = bundler.sha256_of(path)
        stored = history.store_revision(path, checksum, SUFFIXES[kind])
        return Revision(bundle, stored, kind, checksum, origin)
    except bundler.LintRefused as exc:
        errors = [p for p in exc.problems if p.severity.label == "error"] or exc.problems
        lines = [f"{p.path}:{p.line}:{p.column}: {p.severity.label} {p.rule_id} {p.message}" for p in errors]
        raise RevisionRefused(
            "\n".join([*lines, f"{bundle}: the revision has lint errors; nothing was deployed"])
        ) from None
    except (BundleError, bundler.BundleError, ValueError, OSError) as exc:
        raise unreadable_revision(bundle, exc) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def stored_revision(history: History, deployment_id: str, need_archive: bool = True) -> Revision:
    """The revision a recorded deployment deployed, from the revision store."""
    details = history.details(deployment_id)
    row = history.row(deployment_id)
    if need_archive and not (details.get("archive") and os.path.exists(details["archive"])):
        raise RevisionRefused(f"the revision of {deployment_id} is no longer in {history.revisions_dir}")
    return Revision(
        row["revision"],
        details["archive"],
        details["bundle_type"],
        row["revision_checksum"],
        str(details.get("origin") or ""),  # recorded before origins were: none
    )
