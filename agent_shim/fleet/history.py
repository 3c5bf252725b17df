"""The controller's deployment history: SQLite (standard library), one file for every group.

Tables: `deployments` (one row per fleet deployment, with the controller that runs it and a stop flag),
`host_results` (each host's last known state, the event it is in), `events` (every finished lifecycle
event with its duration and log tail) and `groups` (last good deployment, the live blue/green set, and
the group lock). WAL mode; every state change is its own committed transaction, so a controller killed
at any point leaves a consistent record: its deployment still says InProgress, and the next reader whose
lock check finds the controller gone marks it Interrupted, with each host's last known state.
`traffic` holds, per host, whether the load balancer routes to it as the controller last left it
(traffic.py). The revisions deployed are kept beside the database (`revisions/<sha256>.<ext>`) for rollback and sync.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import threading
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence

from agent_shim.fleet.config import CURRENT, HEALTHY, OLD, UNHEALTHY, UNKNOWN, HostHealth
from agent_shim.fleet.contracts import (
    FAILED,
    IN_PROGRESS,
    INTERRUPTED,
    PENDING,
    SKIPPED,
    SUCCEEDED,
    FleetDeployment,
    HostEvent,
    HostOutcome,
)
from agent_shim.fleet.traffic import TrafficRecord
from appspec_tools.fileio import replaced

SCHEMA = """
CREATE TABLE IF NOT EXISTS deployments (
    id TEXT PRIMARY KEY,
    application TEXT NOT NULL,
    group_name TEXT NOT NULL,
    revision TEXT NOT NULL,
    revision_checksum TEXT NOT NULL,
    archive TEXT NOT NULL DEFAULT '',
    bundle_type TEXT NOT NULL DEFAULT '',
    config TEXT NOT NULL,
    status TEXT NOT NULL,
    started REAL NOT NULL,
    finished REAL,
    creator TEXT NOT NULL DEFAULT 'user',
    rollback_of TEXT,
    style TEXT NOT NULL DEFAULT 'IN_PLACE',
    message TEXT NOT NULL DEFAULT '',
    batches TEXT NOT NULL DEFAULT '[]',
    details TEXT NOT NULL DEFAULT '{}',
    controller TEXT NOT NULL DEFAULT '{}',
    stop_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS deployments_by_group ON deployments (application, group_name, started);
CREATE TABLE IF NOT EXISTS host_results (
    deployment_id TEXT NOT NULL,
    host TEXT NOT NULL,
    position INTEGER NOT NULL,
    role TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    current_event TEXT NOT NULL DEFAULT '',
    started REAL NOT NULL DEFAULT 0,
    duration REAL NOT NULL DEFAULT 0,
    host_deployment_id TEXT NOT NULL DEFAULT '',
    log_tail TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (deployment_id, host)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id TEXT NOT NULL,
    host TEXT NOT NULL,
    event TEXT NOT NULL,
    status TEXT NOT NULL,
    started REAL NOT NULL,
    duration REAL NOT NULL,
    error_code INTEGER NOT NULL DEFAULT 0,
    error_name TEXT NOT NULL DEFAULT '',
    script_name TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    log_tail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS events_by_deployment ON events (deployment_id, host);
CREATE TABLE IF NOT EXISTS groups (
    application TEXT NOT NULL,
    group_name TEXT NOT NULL,
    last_good TEXT,
    live_set TEXT NOT NULL DEFAULT 'blue',
    lock_deployment TEXT,
    lock_controller TEXT,
    lock_since REAL,
    PRIMARY KEY (application, group_name)
);
CREATE TABLE IF NOT EXISTS traffic (
    application TEXT NOT NULL,
    group_name TEXT NOT NULL,
    host TEXT NOT NULL,
    state TEXT NOT NULL,
    deployment_id TEXT NOT NULL DEFAULT '',
    event TEXT NOT NULL DEFAULT '',
    since REAL NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (application, group_name, host)
);
"""
HOST_COLUMNS = "host, role, status, reason, current_event, started, duration, host_deployment_id, log_tail"
EVENT_FIELDS = (
    "host",
    "event",
    "status",
    "started",
    "duration",
    "error_code",
    "error_name",
    "script_name",
    "message",
    "log_tail",
)


class GroupBusy(Exception):
    """Another controller runs a deployment of this group (CodeDeploy allows one at a time)."""


def this_controller() -> Dict[str, Any]:
    """Who runs a deployment: pid, the process's start time (so a reused pid is not mistaken for it), host."""
    return {"pid": os.getpid(), "start": _process_start(os.getpid()), "host": socket.gethostname()}


def _process_start(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def controller_alive(controller: Dict[str, Any]) -> bool:
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


class History:
    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self._lock = threading.RLock()
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA busy_timeout=30000")
        with self._lock:
            self.db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, sql: str, parameters: Sequence[Any] = ()) -> int:
        with self._lock:
            return self.db.execute(sql, parameters).rowcount

    def _rows(self, sql: str, parameters: Sequence[Any] = ()) -> List[sqlite3.Row]:
        with self._lock:
            return self.db.execute(sql, parameters).fetchall()

    # The group lock ----------------------------------------------------------------------------------
    def begin(
        self, deployment: FleetDeployment, details: Optional[Dict[str, Any]] = None, successor_of: str = ""
    ) -> List[str]:
        """Record a new deployment and take its group's lock, atomically. A lock whose controller is gone
        is released and its deployment marked Interrupted (returned as a note); a live one raises
        GroupBusy unless it is `successor_of` held by this very process (an automatic rollback)."""
        d, me = deployment, this_controller()
        notes: List[str] = []
        details = dict(details or {})
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute(
                    "INSERT OR IGNORE INTO groups (application, group_name) VALUES (?, ?)",
                    (d.application, d.group),
                )
                row = self.db.execute(
                    "SELECT lock_deployment, lock_controller FROM groups WHERE application=? AND group_name=?",
                    (d.application, d.group),
                ).fetchone()
                holder = json.loads(row["lock_controller"] or "{}")
                if row["lock_deployment"]:
                    ours = holder == me and row["lock_deployment"] == successor_of
                    if controller_alive(holder) and not ours:
                        raise GroupBusy(
                            f"deployment group {d.group} is busy: deployment {row['lock_deployment']} is in progress "
                            f"(controller pid {holder.get('pid')} on {holder.get('host')}); wait for it or run "
                            "`appspec fleet stop` (CodeDeploy allows one deployment per group at a time)"
                        )
                    if not ours:
                        notes.append(self._interrupt(row["lock_deployment"], holder))
                self.db.execute(
                    "INSERT INTO deployments (id, application, group_name, revision, revision_checksum, archive, "
                    "bundle_type, config, status, started, creator, rollback_of, style, message, batches, details, "
                    "controller) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        d.deployment_id,
                        d.application,
                        d.group,
                        d.revision,
                        d.revision_checksum,
                        str(details.pop("archive", "")),
                        str(details.pop("bundle_type", "")),
                        d.config,
                        d.status,
                        d.started,
                        d.creator,
                        d.rollback_of,
                        d.style,
                        d.message,
                        json.dumps(d.batches),
                        json.dumps(details),
                        json.dumps(me),
                    ),
                )
                for position, (name, outcome) in enumerate(d.hosts.items()):
                    self.db.execute(
                        "INSERT INTO host_results (deployment_id, host, position, role, status, reason) "
                        "VALUES (?,?,?,?,?,?)",
                        (
                            d.deployment_id,
                            name,
                            position,
                            details.get("roles", {}).get(name, ""),
                            outcome.status,
                            outcome.reason,
                        ),
                    )
                self.db.execute(
                    "UPDATE groups SET lock_deployment=?, lock_controller=?, lock_since=? "
                    "WHERE application=? AND group_name=?",
                    (d.deployment_id, json.dumps(me), time.time(), d.application, d.group),
                )
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return notes

    def _interrupt(self, deployment_id: str, controller: Dict[str, Any]) -> str:
        """Inside a transaction: the deployment's controller is gone."""
        message = (
            f"interrupted: its controller (pid {controller.get('pid', '?')} on {controller.get('host', '?')}) "
            "stopped while it was in progress"
        )
        self.db.execute(
            "UPDATE deployments SET status=?, message=? WHERE id=? AND status=?",
            (INTERRUPTED, message, deployment_id, IN_PROGRESS),
        )
        self.db.execute(
            "UPDATE host_results SET status=?, reason=CASE WHEN current_event != '' THEN "
            "'interrupted during ' || current_event ELSE 'interrupted' END WHERE deployment_id=? AND status=?",
            (INTERRUPTED, deployment_id, IN_PROGRESS),
        )
        self.db.execute(
            "UPDATE host_results SET status=?, reason='not attempted: the deployment was interrupted' "
            "WHERE deployment_id=? AND status=?",
            (SKIPPED, deployment_id, PENDING),
        )
        self.db.execute(
            "UPDATE groups SET lock_deployment=NULL, lock_controller=NULL, lock_since=NULL WHERE lock_deployment=?",
            (deployment_id,),
        )
        return f"deployment {deployment_id} was {message}"

    def reconcile(self, application: str, group: str) -> List[str]:
        """Mark the group's deployments whose controller is gone as Interrupted; the notes say which."""
        notes = []
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for row in self.db.execute(
                    "SELECT id, controller FROM deployments WHERE application=? AND group_name=? AND status=?",
                    (application, group, IN_PROGRESS),
                ).fetchall():
                    controller = json.loads(row["controller"] or "{}")
                    if not controller_alive(controller):
                        notes.append(self._interrupt(row["id"], controller))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return notes

    def holder(self, application: str, group: str) -> Optional[str]:
        rows = self._rows(
            "SELECT lock_deployment FROM groups WHERE application=? AND group_name=?", (application, group)
        )
        return rows[0]["lock_deployment"] if rows else None

    # Progress ----------------------------------------------------------------------------------------
    def set_batches(self, deployment_id: str, batches: List[List[str]]) -> None:
        self._write("UPDATE deployments SET batches=? WHERE id=?", (json.dumps(batches), deployment_id))

    def set_details(self, deployment_id: str, **values: Any) -> None:
        with self._lock:
            details = self.details(deployment_id)
            details.update(values)
            self._write("UPDATE deployments SET details=? WHERE id=?", (json.dumps(details), deployment_id))

    def host_started(self, deployment_id: str, host: str, started: float) -> None:
        self._write(
            "UPDATE host_results SET status=?, started=?, reason='' WHERE deployment_id=? AND host=?",
            (IN_PROGRESS, started, deployment_id, host),
        )

    def record_event(self, deployment_id: str, event: HostEvent) -> None:
        """An event that begins (InProgress) becomes the host's current event; a finished one is stored."""
        if event.status == IN_PROGRESS:
            self._write(
                "UPDATE host_results SET current_event=? WHERE deployment_id=? AND host=?",
                (event.event, deployment_id, event.host),
            )
            return
        values = [getattr(event, name) for name in EVENT_FIELDS]
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute(
                    f"INSERT INTO events (deployment_id, {', '.join(EVENT_FIELDS)}) VALUES (?,{','.join('?' * len(values))})",
                    [deployment_id, *values],
                )
                self.db.execute(
                    "UPDATE host_results SET current_event='' WHERE deployment_id=? AND host=? AND current_event=?",
                    (deployment_id, event.host, event.event),
                )
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def host_finished(self, deployment_id: str, outcome: HostOutcome) -> None:
        self._write(
            "UPDATE host_results SET status=?, reason=?, current_event='', started=?, duration=?, "
            "host_deployment_id=?, log_tail=? WHERE deployment_id=? AND host=?",
            (
                outcome.status,
                outcome.reason,
                outcome.started,
                outcome.duration,
                outcome.host_deployment_id,
                outcome.log_tail,
                deployment_id,
                outcome.host,
            ),
        )

    def finish(
        self, deployment: FleetDeployment, last_good: bool, release: bool = True, live_set: str = ""
    ) -> None:
        """The deployment's end; with `last_good` it becomes the group's last good revision."""
        d = deployment
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute(
                    "UPDATE deployments SET status=?, finished=?, message=?, batches=? WHERE id=?",
                    (d.status, d.finished, d.message, json.dumps(d.batches), d.deployment_id),
                )
                if last_good:  # a deployment of an unknown revision leaves the group's revision unknown
                    self.db.execute(
                        "UPDATE groups SET last_good=? WHERE application=? AND group_name=?",
                        (d.deployment_id if d.revision_checksum else None, d.application, d.group),
                    )
                if live_set:
                    self.db.execute(
                        "UPDATE groups SET live_set=? WHERE application=? AND group_name=?",
                        (live_set, d.application, d.group),
                    )
                if release:
                    self.db.execute(
                        "UPDATE groups SET lock_deployment=NULL, lock_controller=NULL, lock_since=NULL "
                        "WHERE application=? AND group_name=? AND lock_deployment=?",
                        (d.application, d.group, d.deployment_id),
                    )
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def set_last_good(self, application: str, group: str, deployment_id: Optional[str]) -> None:
        """The group's last good deployment is `deployment_id` (a blue/green switch back: the one that
        installed what the original hosts run; None when nobody knows)."""
        self._write(
            "UPDATE groups SET last_good=? WHERE application=? AND group_name=?",
            (deployment_id, application, group),
        )

    def release(self, application: str, group: str, deployment_id: str) -> None:
        """Give the group lock up, if this deployment holds it."""
        self._write(
            "UPDATE groups SET lock_deployment=NULL, lock_controller=NULL, lock_since=NULL "
            "WHERE application=? AND group_name=? AND lock_deployment=?",
            (application, group, deployment_id),
        )

    def host_busy(self, deployment_id: str, host: str) -> None:
        """A host that finished one part of a deployment starts another (a blue/green traffic trio): it
        is InProgress again, so that an interruption reads as one."""
        self._write(
            "UPDATE host_results SET status=?, reason='' WHERE deployment_id=? AND host=?",
            (IN_PROGRESS, deployment_id, host),
        )

    def set_traffic(
        self,
        application: str,
        group: str,
        host: str,
        state: str,
        deployment_id: str,
        event: str,
        reason: str = "",
    ) -> None:
        """Whether the load balancer routes to `host` (traffic.IN, OUT, CHANGING), and which call said so."""
        self._write(
            "INSERT OR REPLACE INTO traffic (application, group_name, host, state, deployment_id, event, "
            "since, reason) VALUES (?,?,?,?,?,?,?,?)",
            (application, group, host, state, deployment_id, event, time.time(), reason),
        )

    def traffic(self, application: str, group: str) -> Dict[str, TrafficRecord]:
        rows = self._rows(
            "SELECT host, state, deployment_id, event, since, reason FROM traffic "
            "WHERE application=? AND group_name=?",
            (application, group),
        )
        return {r["host"]: TrafficRecord(**dict(r)) for r in rows}

    def installed_revisions(self, application: str, group: str) -> Dict[str, str]:
        """host → the revision (as given) of the last deployment whose Install succeeded on it."""
        rows = self._rows(
            "SELECT e.host, d.revision FROM events e JOIN deployments d ON d.id = e.deployment_id "
            "WHERE d.application=? AND d.group_name=? AND e.event='Install' AND e.status=? ORDER BY e.id",
            (application, group, SUCCEEDED),
        )
        return {r["host"]: r["revision"] for r in rows}

    def request_stop(self, deployment_id: str) -> bool:
        return (
            self._write(
                "UPDATE deployments SET stop_requested=1 WHERE id=? AND status=?",
                (deployment_id, IN_PROGRESS),
            )
            > 0
        )

    def stop_requested(self, deployment_id: str) -> bool:
        rows = self._rows("SELECT stop_requested FROM deployments WHERE id=?", (deployment_id,))
        return bool(rows and rows[0]["stop_requested"])

    # Reading -----------------------------------------------------------------------------------------
    def load(self, deployment_id: str, events: bool = True) -> FleetDeployment:
        rows = self._rows("SELECT * FROM deployments WHERE id=?", (deployment_id,))
        if not rows:
            raise KeyError(f"no deployment {deployment_id} in {self.path}")
        row = rows[0]
        deployment = FleetDeployment(
            deployment_id=row["id"],
            application=row["application"],
            group=row["group_name"],
            revision=row["revision"],
            revision_checksum=row["revision_checksum"],
            config=row["config"],
            status=row["status"],
            started=row["started"],
            finished=row["finished"],
            creator=row["creator"],
            rollback_of=row["rollback_of"],
            style=row["style"],
            message=row["message"],
            batches=json.loads(row["batches"]),
        )
        for host in self._rows(
            f"SELECT {HOST_COLUMNS} FROM host_results WHERE deployment_id=? ORDER BY position",
            (deployment_id,),
        ):
            deployment.hosts[host["host"]] = HostOutcome(
                host["host"],
                host["status"],
                reason=host["reason"],
                started=host["started"],
                duration=host["duration"],
                host_deployment_id=host["host_deployment_id"],
                log_tail=host["log_tail"],
            )
        if events:
            for event in self._rows(
                f"SELECT {', '.join(EVENT_FIELDS)} FROM events WHERE deployment_id=? ORDER BY id",
                (deployment_id,),
            ):
                outcome = deployment.hosts.get(event["host"])
                if outcome is not None:
                    outcome.events.append(HostEvent(**{name: event[name] for name in EVENT_FIELDS}))
        return deployment

    def row(self, deployment_id: str) -> Dict[str, Any]:
        rows = self._rows("SELECT * FROM deployments WHERE id=?", (deployment_id,))
        if not rows:
            raise KeyError(f"no deployment {deployment_id} in {self.path}")
        return dict(rows[0])

    def details(self, deployment_id: str) -> Dict[str, Any]:
        row = self.row(deployment_id)
        details = json.loads(row["details"] or "{}")
        details.update(archive=row["archive"], bundle_type=row["bundle_type"])
        return details

    def current_events(self, deployment_id: str) -> Dict[str, str]:
        """Each host's event in progress (for an interrupted deployment: the one it was in)."""
        rows = self._rows(
            "SELECT host, current_event, reason FROM host_results WHERE deployment_id=?", (deployment_id,)
        )
        return {r["host"]: r["current_event"] for r in rows if r["current_event"]}

    def deployment_ids(self, application: str, group: str, limit: int = 20) -> List[str]:
        rows = self._rows(
            "SELECT id FROM deployments WHERE application=? AND group_name=? ORDER BY started DESC, rowid DESC LIMIT ?",
            (application, group, limit),
        )
        return [r["id"] for r in rows]

    def group_state(self, application: str, group: str) -> Dict[str, Any]:
        rows = self._rows("SELECT * FROM groups WHERE application=? AND group_name=?", (application, group))
        return dict(rows[0]) if rows else {"last_good": None, "live_set": "blue", "lock_deployment": None}

    def last_good(self, application: str, group: str, before: Optional[str] = None) -> Optional[str]:
        """The group's last good deployment; with `before`, the last one that succeeded before it started."""
        if before is None:
            return self.group_state(application, group).get("last_good")
        started = self.row(before)["started"]
        rows = self._rows(
            "SELECT id FROM deployments WHERE application=? AND group_name=? AND status=? AND started < ? "
            "AND id != ? AND revision_checksum != '' ORDER BY started DESC LIMIT 1",
            (application, group, SUCCEEDED, started, before),
        )
        return rows[0]["id"] if rows else None

    def installed_on(self, application: str, group: str, hosts: Sequence[str]) -> Optional[str]:
        """The latest deployment that installed its revision on any of these hosts."""
        if not hosts:
            return None
        rows = self._rows(
            "SELECT d.id FROM host_results h JOIN deployments d ON d.id = h.deployment_id WHERE d.application=? "
            f"AND d.group_name=? AND h.status=? AND h.role IN ('', 'replacement') AND h.host IN "
            f"({','.join('?' * len(hosts))}) AND d.revision_checksum != '' ORDER BY d.started DESC LIMIT 1",
            (application, group, SUCCEEDED, *hosts),
        )
        return rows[0]["id"] if rows else None

    def host_health(self, application: str, group: str, hosts: Iterable[str]) -> Dict[str, HostHealth]:
        """CodeDeploy's instance health (last attempt) and revision health (against the last good
        revision) of each host, from the deployments recorded; never deployed: Unhealthy / Unknown."""
        good = self.last_good(application, group)
        good_checksum = self.row(good)["revision_checksum"] if good else None
        attempts = self._rows(
            "SELECT h.host, h.status, d.revision_checksum FROM host_results h JOIN deployments d "
            "ON d.id = h.deployment_id WHERE d.application=? AND d.group_name=? AND h.role != 'original' "
            "AND h.status IN (?,?,?) ORDER BY d.started, d.rowid",
            (application, group, SUCCEEDED, FAILED, INTERRUPTED),
        )
        instance: Dict[str, str] = {}
        revision: Dict[str, str] = {}
        for row in attempts:  # oldest first: the last write wins
            instance[row["host"]] = HEALTHY if row["status"] == SUCCEEDED else UNHEALTHY
            if row["status"] == SUCCEEDED:
                revision[row["host"]] = row["revision_checksum"]
        return {
            host: HostHealth(
                instance.get(host, UNHEALTHY),
                UNKNOWN if host not in revision else CURRENT if revision[host] == good_checksum else OLD,
            )
            for host in hosts
        }

    # Revisions -----------------------------------------------------------------------------------------
    @property
    def revisions_dir(self) -> str:
        return os.path.join(os.path.dirname(self.path), "revisions")

    def prune_revisions(self, keep: int = 20) -> List[str]:
        """Remove stored archives no longer needed: kept are those of each group's last good deployment
        and of the `keep` most recent deployments."""
        wanted = {
            row["archive"]
            for row in self._rows(
                "SELECT archive FROM deployments WHERE id IN (SELECT last_good FROM groups) "
                "OR id IN (SELECT id FROM deployments ORDER BY started DESC LIMIT ?)",
                (keep,),
            )
        }
        removed = []
        if os.path.isdir(self.revisions_dir):
            for name in sorted(os.listdir(self.revisions_dir)):
                path = os.path.join(self.revisions_dir, name)
                if path not in wanted and not name.endswith(".part"):
                    os.remove(path)
                    removed.append(path)
        return removed

    def store_revision(self, archive: str, checksum: str, suffix: str) -> str:
        """Keep the archive as `revisions/<sha256><suffix>` (once per content) and return that path."""
        target = os.path.join(self.revisions_dir, f"{checksum}{suffix}")
        if not os.path.exists(target):
            with open(archive, "rb") as source, replaced(target) as copy:
                shutil.copyfileobj(source, copy, 1 << 20)
        return target
