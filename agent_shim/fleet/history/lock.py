"""The group lock: one deployment per deployment group at a time, as CodeDeploy allows, across every
controller that shares the history file. The lock names its deployment and its controller (pid, the
process's start time, host), so a lock whose controller is gone can be told from a busy group."""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from typing import Any, Dict, Optional

from agent_shim.fleet.history.database import Database

Controller = Dict[str, Any]  # {"pid": …, "start": …, "host": …}; {} when unknown


class GroupBusy(Exception):
    """Another controller runs a deployment of this group (CodeDeploy allows one at a time)."""


@dataclass(frozen=True)
class StaleLock:
    """A lock whose controller is gone: its deployment is to be marked Interrupted."""

    deployment_id: str
    controller: Controller


def this_controller() -> Controller:
    """Who runs a deployment: pid, the process's start time (so a reused pid is not mistaken for it), host."""
    return {"pid": os.getpid(), "start": _process_start(os.getpid()), "host": socket.gethostname()}


def _process_start(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def controller_alive(controller: Controller) -> bool:
    """False only when we can tell: same machine, and the pid is gone or now names another process.
    A controller on another machine is assumed alive."""
    if not controller or controller.get("host") != socket.gethostname():
        return bool(controller)
    pid = int(controller.get("pid") or 0)
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    start = _process_start(pid)
    if start and controller.get("start") and start != controller["start"]:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def read_controller(text: Optional[str]) -> Controller:
    return dict(json.loads(text or "{}"))


class GroupLock:
    """The lock columns of the `groups` table. `check` and `take` belong in the caller's transaction,
    with the deployment's own record, so that taking the lock and recording the deployment are one."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def check(
        self, application: str, group: str, me: Controller, successor_of: str = ""
    ) -> Optional[StaleLock]:
        """Raise GroupBusy when a live controller holds the group, unless it is `successor_of` held by
        `me` (an automatic rollback takes over its own deployment's lock); a lock left by a controller
        that is gone is returned, to be cleared."""
        self.database.write(
            "INSERT OR IGNORE INTO groups (application, group_name) VALUES (?, ?)", (application, group)
        )
        row = self.database.rows(
            "SELECT lock_deployment, lock_controller FROM groups WHERE application=? AND group_name=?",
            (application, group),
        )[0]
        holder = read_controller(row["lock_controller"])
        held = row["lock_deployment"]
        if not held or (holder == me and held == successor_of):
            return None
        if controller_alive(holder):
            raise GroupBusy(
                f"deployment group {group} is busy: deployment {held} is in progress "
                f"(controller pid {holder.get('pid')} on {holder.get('host')}); wait for it or run "
                "`appspec fleet stop` (CodeDeploy allows one deployment per group at a time)"
            )
        return StaleLock(held, holder)

    def take(self, application: str, group: str, deployment_id: str, me: Controller) -> None:
        self.database.write(
            "UPDATE groups SET lock_deployment=?, lock_controller=?, lock_since=? "
            "WHERE application=? AND group_name=?",
            (deployment_id, json.dumps(me), time.time(), application, group),
        )

    def holder(self, application: str, group: str) -> Optional[str]:
        rows = self.database.rows(
            "SELECT lock_deployment FROM groups WHERE application=? AND group_name=?", (application, group)
        )
        return rows[0]["lock_deployment"] if rows else None

    def release(self, application: str, group: str, deployment_id: str) -> None:
        """Give the group lock up, if this deployment holds it."""
        self.database.write(
            "UPDATE groups SET lock_deployment=NULL, lock_controller=NULL, lock_since=NULL "
            "WHERE application=? AND group_name=? AND lock_deployment=?",
            (application, group, deployment_id),
        )

    def clear(self, deployment_id: str) -> None:
        """Whichever group this deployment holds is free (its controller is gone)."""
        self.database.write(
            "UPDATE groups SET lock_deployment=NULL, lock_controller=NULL, lock_since=NULL WHERE lock_deployment=?",
            (deployment_id,),
        )
