#!/usr/bin/env python3
"""BeforeInstall: prepare APP_DIR for the agent's Install step.

In order: check free space on APP_DIR's file system (MIN_FREE_MB); keep a .tar.gz of the current APP_DIR in
BACKUP_DIR (newest BACKUP_KEEP kept; one per deployment id); remove leftovers that would trip
file_exists_behavior DISALLOW: files matching CLEAN_GLOBS, or everything when CLEAN_DESTINATION=true (except
CLEAN_KEEP, BACKUP_DIR, APP_LOG_FILE and APP_PIDFILE); create APP_DIR.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import shutil
import tarfile
import time
from typing import List

import hookkit

USES = (
    "APP_DIR",
    "MIN_FREE_MB",
    "BACKUP_DIR",
    "BACKUP_KEEP",
    "CLEAN_GLOBS",
    "CLEAN_DESTINATION",
    "CLEAN_KEEP",
    "APP_LOG_FILE",
    "APP_PIDFILE",
)
# Directories a mistyped APP_DIR must never empty.
PROTECTED = {
    "/",
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/lib64",
    "/opt",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/srv",
    "/sys",
    "/tmp",
    "/usr",
    "/var",
    "/var/lib",
    "/var/www",
    "/usr/local",
}


def main(config: hookkit.Config, log: hookkit.HookLog) -> None:
    app_dir = config.app_dir()
    check_free_space(app_dir, config.integer("MIN_FREE_MB"), log)
    backup_dir = config.path("BACKUP_DIR")
    if backup_dir:
        backup(app_dir, backup_dir, config.integer("BACKUP_KEEP", minimum=1), config.environ, log)
    else:
        log.step("backup: skipped (BACKUP_DIR not set)")
    clean(config, app_dir, backup_dir, log)
    os.makedirs(app_dir, exist_ok=True)
    log.step(f"destination {app_dir} ready")


def check_free_space(app_dir: str, minimum_mb: int, log: hookkit.HookLog) -> None:
    existing = app_dir
    while not os.path.isdir(existing):
        existing = os.path.dirname(existing)
    usage = shutil.disk_usage(existing)
    free_mb = usage.free // (1024 * 1024)
    if free_mb < minimum_mb:
        raise hookkit.PrerequisiteError(
            f"only {free_mb} MiB free on the file system of {existing}, MIN_FREE_MB={minimum_mb}; "
            "free space or lower MIN_FREE_MB"
        )
    log.step(f"free space on {existing}: {free_mb} MiB (minimum {minimum_mb} MiB)")


def backup(app_dir: str, backup_dir: str, keep: int, environ: dict, log: hookkit.HookLog) -> None:
    if not os.path.isdir(app_dir) or not os.listdir(app_dir):
        log.step(f"backup: skipped ({app_dir} is missing or empty: nothing installed yet)")
        return
    name = os.path.basename(app_dir) or "app"
    deployment = environ.get("DEPLOYMENT_ID") or "manual"
    existing = sorted(glob.glob(os.path.join(glob.escape(backup_dir), f"{glob.escape(name)}-*.tar.gz")))
    mine = [p for p in existing if p.endswith(f"-{deployment}.tar.gz")]
    if mine and deployment != "manual":
        log.step(f"backup: {mine[-1]} already holds this deployment's backup")
    else:
        os.makedirs(backup_dir, exist_ok=True)
        target = os.path.join(
            backup_dir, "{}-{}-{}.tar.gz".format(name, time.strftime("%Y%m%dT%H%M%S"), deployment)
        )
        inside = os.path.abspath(backup_dir) + os.sep

        def exclude_backups(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
            full = os.path.join(os.path.dirname(app_dir), info.name)
            return None if (full + os.sep).startswith(inside) else info

        try:
            with tarfile.open(target + ".part", "w:gz") as archive:
                archive.add(app_dir, arcname=os.path.basename(app_dir), filter=exclude_backups)
            os.replace(target + ".part", target)
        except OSError as exc:
            raise hookkit.InstallError(f"backup of {app_dir} to {target} failed: {exc}") from None
        log.step(f"backup: {target} written ({os.path.getsize(target) // 1024} KiB)")
        existing.append(target)
    for old in sorted(existing)[:-keep]:
        os.unlink(old)
        log.step(f"backup: removed old {old} (BACKUP_KEEP={keep})")


def clean(config: hookkit.Config, app_dir: str, backup_dir: str | None, log: hookkit.HookLog) -> None:
    patterns = config.items("CLEAN_GLOBS")
    everything = config.boolean("CLEAN_DESTINATION")
    if not patterns and not everything:
        log.step("clean: skipped (CLEAN_GLOBS empty, CLEAN_DESTINATION=false)")
        return
    if not os.path.isdir(app_dir):
        log.step(f"clean: skipped ({app_dir} does not exist yet)")
        return
    if everything and app_dir in PROTECTED:
        raise hookkit.ConfigError(
            f"CLEAN_DESTINATION=true with APP_DIR={app_dir} would empty a system directory; fix APP_DIR"
        )
    if everything:
        keep = config.items("CLEAN_KEEP")
        kept_paths = [p for p in (backup_dir, config.path("APP_LOG_FILE"), config.path("APP_PIDFILE")) if p]
        victims = [
            os.path.join(app_dir, entry)
            for entry in sorted(os.listdir(app_dir))
            if not any(fnmatch.fnmatch(entry, pattern) for pattern in keep)
            and not any(_contains(os.path.join(app_dir, entry), path) for path in kept_paths)
        ]
    else:
        victims = matching(app_dir, patterns)
    for victim in victims:
        remove(victim)
        log.step(f"clean: removed {victim}")
    log.step(f"clean: {len(victims)} path(s) removed from {app_dir}")


def matching(app_dir: str, patterns: List[str]) -> List[str]:
    found = set()
    for pattern in patterns:
        if os.path.isabs(pattern) or ".." in pattern.split("/"):
            raise hookkit.ConfigError(
                f"CLEAN_GLOBS entry {pattern!r} must be relative to APP_DIR without '..'"
            )
        found.update(glob.glob(os.path.join(glob.escape(app_dir), pattern), recursive=True))
    # deepest first, so a directory's matching children go before the directory itself
    return sorted((p for p in found if os.path.lexists(p)), key=lambda p: (-p.count(os.sep), p))


def _contains(entry: str, path: str) -> bool:
    return path == entry or path.startswith(entry + os.sep)


def remove(path: str) -> None:
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise hookkit.InstallError(f"cannot remove {path}: {exc}") from None


if __name__ == "__main__":
    hookkit.run(__file__, __doc__, USES, main)
