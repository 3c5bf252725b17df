"""One deployment per deployment group at a time, on this host.

An exclusive `flock` on `deployment-instructions/<group>.lock`: the kernel releases it when the holder
dies, so a lock left by a killed process is never stale; its content (pid, deployment id) lets the next
deployment say who holds it, or that the previous holder was interrupted.
"""

from __future__ import annotations

import fcntl
import json
import os
from typing import Optional


class GroupLocked(Exception):
    pass


class GroupLock:
    def __init__(self, path: str, group_id: str, deployment_id: str) -> None:
        self.path = path
        self.group_id = group_id
        self.deployment_id = deployment_id
        self.interrupted: Optional[dict] = None  # the record of a holder that died without releasing
        self._fd: Optional[int] = None

    def __enter__(self) -> GroupLock:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            who = (
                f"deployment {holder.get('deployment_id', '?')} (pid {holder.get('pid', '?')})"
                if holder
                else "another deployment"
            )
            raise GroupLocked(
                f"deployment group {self.group_id} is busy: {who} is in progress; wait for it to finish "
                "(CodeDeploy allows one deployment per group at a time)"
            ) from None
        previous = _read(fd)
        if previous and previous.get("state") == "running":
            self.interrupted = previous
        _write(fd, {"pid": os.getpid(), "deployment_id": self.deployment_id, "state": "running"})
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is None:
            return
        _write(self._fd, {"pid": os.getpid(), "deployment_id": self.deployment_id, "state": "released"})
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def _read(fd: int) -> dict:
    os.lseek(fd, 0, os.SEEK_SET)
    data = os.read(fd, 4096)
    try:
        value = json.loads(data.decode("utf-8")) if data else {}
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _write(fd: int, record: dict) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, json.dumps(record).encode("utf-8"))
    os.fsync(fd)
