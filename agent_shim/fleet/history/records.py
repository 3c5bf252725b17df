"""The records of each deployment: its row in `deployments` (with its typed details), each host's last
known state in `host_results`, and every finished lifecycle event in `events`, whose columns are the
event record's fields (agent_shim/events.py)."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any, Dict, List, Optional

from agent_shim.fleet.contracts import IN_PROGRESS, INTERRUPTED, PENDING, SKIPPED, FleetDeployment
from agent_shim.fleet.events import HostEvent, HostOutcome
from agent_shim.fleet.history.database import Database
from agent_shim.fleet.history.details import DeploymentDetails
from agent_shim.fleet.history.lock import Controller, read_controller

EVENT_COLUMNS = tuple(field.name for field in fields(HostEvent))  # host, then the record's fields
HOST_COLUMNS = "host, role, status, reason, current_event, started, duration, host_deployment_id, log_tail"


class DeploymentRecords:
    def __init__(self, database: Database) -> None:
        self.database = database

    # Writing -------------------------------------------------------------------------------------------
    def insert(self, deployment: FleetDeployment, details: DeploymentDetails, controller: Controller) -> None:
        """The deployment's row and a Pending row per host, in the deployment's order."""
        d = deployment
        self.database.write(
            "INSERT INTO deployments (id, application, group_name, revision, revision_checksum, archive, "
            "bundle_type, config, status, started, creator, rollback_of, style, message, batches, controller, "
            "origin, live_before, switched, kept_until) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                d.deployment_id,
                d.application,
                d.group,
                d.revision,
                d.revision_checksum,
                details.archive,
                details.bundle_type,
                d.config,
                d.status,
                d.started,
                d.creator,
                d.rollback_of,
                d.style,
                d.message,
                json.dumps(d.batches),
                json.dumps(controller),
                details.origin,
                details.live_before,
                int(details.switched),
                details.kept_until,
            ),
        )
        for position, (name, outcome) in enumerate(d.hosts.items()):
            self.database.write(
                "INSERT INTO host_results (deployment_id, host, position, role, status, reason) VALUES (?,?,?,?,?,?)",
                (
                    d.deployment_id,
                    name,
                    position,
                    details.roles.get(name, ""),
                    outcome.status,
                    outcome.reason,
                ),
            )

    def set_details(self, deployment_id: str, details: DeploymentDetails) -> None:
        self.database.write(
            "UPDATE deployments SET archive=?, bundle_type=?, origin=?, live_before=?, switched=?, kept_until=? "
            "WHERE id=?",
            (
                details.archive,
                details.bundle_type,
                details.origin,
                details.live_before,
                int(details.switched),
                details.kept_until,
                deployment_id,
            ),
        )
        for host, role in details.roles.items():
            self.database.write(
                "UPDATE host_results SET role=? WHERE deployment_id=? AND host=?", (role, deployment_id, host)
            )

    def set_batches(self, deployment_id: str, batches: List[List[str]]) -> None:
        self.database.write(
            "UPDATE deployments SET batches=? WHERE id=?", (json.dumps(batches), deployment_id)
        )

    def finish(self, deployment: FleetDeployment) -> None:
        d = deployment
        self.database.write(
            "UPDATE deployments SET status=?, finished=?, message=?, batches=? WHERE id=?",
            (d.status, d.finished, d.message, json.dumps(d.batches), d.deployment_id),
        )

    def interrupt(self, deployment_id: str, controller: Controller) -> str:
        """The deployment's controller is gone: it and its hosts in progress are Interrupted, with the
        event each host was in; hosts not attempted are Skipped. Returns the note that says so."""
        message = (
            f"interrupted: its controller (pid {controller.get('pid', '?')} on {controller.get('host', '?')}) "
            "stopped while it was in progress"
        )
        self.database.write(
            "UPDATE deployments SET status=?, message=? WHERE id=? AND status=?",
            (INTERRUPTED, message, deployment_id, IN_PROGRESS),
        )
        self.database.write(
            "UPDATE host_results SET status=?, reason=CASE WHEN current_event != '' THEN "
            "'interrupted during ' || current_event ELSE 'interrupted' END WHERE deployment_id=? AND status=?",
            (INTERRUPTED, deployment_id, IN_PROGRESS),
        )
        self.database.write(
            "UPDATE host_results SET status=?, reason='not attempted: the deployment was interrupted' "
            "WHERE deployment_id=? AND status=?",
            (SKIPPED, deployment_id, PENDING),
        )
        return f"deployment {deployment_id} was {message}"

    def host_state(self, deployment_id: str, host: str, status: str, started: Optional[float] = None) -> None:
        """The host is `status` again with no reason (and, when given, a new start time)."""
        if started is None:
            self.database.write(
                "UPDATE host_results SET status=?, reason='' WHERE deployment_id=? AND host=?",
                (status, deployment_id, host),
            )
        else:
            self.database.write(
                "UPDATE host_results SET status=?, started=?, reason='' WHERE deployment_id=? AND host=?",
                (status, started, deployment_id, host),
            )

    def event_started(self, deployment_id: str, event: HostEvent) -> None:
        self.database.write(
            "UPDATE host_results SET current_event=? WHERE deployment_id=? AND host=?",
            (event.event, deployment_id, event.host),
        )

    def event_finished(self, deployment_id: str, event: HostEvent) -> None:
        """Stored, and no longer the host's current event (one transaction)."""
        with self.database.transaction():
            self.database.write(
                f"INSERT INTO events (deployment_id, {', '.join(EVENT_COLUMNS)}) "
                f"VALUES (?,{','.join('?' * len(EVENT_COLUMNS))})",
                (deployment_id, *(getattr(event, name) for name in EVENT_COLUMNS)),
            )
            self.database.write(
                "UPDATE host_results SET current_event='' WHERE deployment_id=? AND host=? AND current_event=?",
                (deployment_id, event.host, event.event),
            )

    def host_finished(self, deployment_id: str, outcome: HostOutcome) -> None:
        self.database.write(
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

    def request_stop(self, deployment_id: str) -> bool:
        return (
            self.database.write(
                "UPDATE deployments SET stop_requested=1 WHERE id=? AND status=?",
                (deployment_id, IN_PROGRESS),
            )
            > 0
        )

    # Reading -------------------------------------------------------------------------------------------
    def row(self, deployment_id: str) -> Dict[str, Any]:
        rows = self.database.rows("SELECT * FROM deployments WHERE id=?", (deployment_id,))
        if not rows:
            raise KeyError(f"no deployment {deployment_id} in {self.database.path}")
        return dict(rows[0])

    def details(self, deployment_id: str) -> DeploymentDetails:
        row = self.row(deployment_id)
        roles = self.database.rows(
            "SELECT host, role FROM host_results WHERE deployment_id=? AND role != '' ORDER BY position",
            (deployment_id,),
        )
        return DeploymentDetails(
            archive=row["archive"],
            bundle_type=row["bundle_type"],
            origin=row["origin"],
            roles={r["host"]: r["role"] for r in roles},
            live_before=row["live_before"],
            switched=bool(row["switched"]),
            kept_until=row["kept_until"],
        )

    def stop_requested(self, deployment_id: str) -> bool:
        rows = self.database.rows("SELECT stop_requested FROM deployments WHERE id=?", (deployment_id,))
        return bool(rows and rows[0]["stop_requested"])

    def in_progress(self, application: str, group: str) -> Dict[str, Controller]:
        """The group's deployments recorded as InProgress, with the controller of each."""
        rows = self.database.rows(
            "SELECT id, controller FROM deployments WHERE application=? AND group_name=? AND status=?",
            (application, group, IN_PROGRESS),
        )
        return {r["id"]: read_controller(r["controller"]) for r in rows}

    def load(self, deployment_id: str, events: bool = True) -> FleetDeployment:
        row = self.row(deployment_id)
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
        for host in self.database.rows(
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
            for event in self.events(deployment_id):
                outcome = deployment.hosts.get(event.host)
                if outcome is not None:
                    outcome.events.append(event)
        return deployment

    def events(self, deployment_id: str) -> List[HostEvent]:
        """The deployment's finished events, in the order they were recorded."""
        rows = self.database.rows(
            f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE deployment_id=? ORDER BY id",
            (deployment_id,),
        )
        return [HostEvent.from_wire(row, host=row["host"]) for row in map(dict, rows)]

    def deployment_ids(self, application: str, group: str, limit: int = 20) -> List[str]:
        rows = self.database.rows(
            "SELECT id FROM deployments WHERE application=? AND group_name=? ORDER BY started DESC, rowid DESC LIMIT ?",
            (application, group, limit),
        )
        return [r["id"] for r in rows]
