"""The controller's deployment history: one SQLite file (standard library) for every group, and the
revisions deployed kept beside it (`revisions/<sha256>.<ext>`) for rollback and sync.

`History` is the one entry point; its parts each own their tables: `database` (the file, its schema
version and migrations, transactions), `lock` (one deployment per group, across controllers),
`records` (deployments with their typed details, each host's last known state, every finished event),
`groups` (last good deployment, live blue/green set, traffic record, host health) and `revisions` (the
revision store). Every state change is its own committed transaction, so a controller killed at any
point leaves a consistent record: its deployment still says InProgress, and the next reader whose lock
check finds the controller gone marks it Interrupted, with each host's last known state.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from agent_shim.fleet.config import HostHealth
from agent_shim.fleet.contracts import IN_PROGRESS, FleetDeployment
from agent_shim.fleet.events import HostEvent, HostOutcome
from agent_shim.fleet.history.database import Database
from agent_shim.fleet.history.details import DeploymentDetails
from agent_shim.fleet.history.groups import GroupRecords
from agent_shim.fleet.history.lock import GroupBusy, GroupLock, controller_alive, this_controller
from agent_shim.fleet.history.records import DeploymentRecords
from agent_shim.fleet.history.revisions import RevisionStore, archives_in_use
from agent_shim.fleet.traffic import TrafficRecord

__all__ = ["DeploymentDetails", "GroupBusy", "History", "controller_alive", "this_controller"]


class History:
    def __init__(self, path: str) -> None:
        self.database = Database(path)
        self.path = self.database.path
        self.lock = GroupLock(self.database)
        self.records = DeploymentRecords(self.database)
        self.groups = GroupRecords(self.database)
        self.revisions = RevisionStore(os.path.join(os.path.dirname(self.path), "revisions"))

    def close(self) -> None:
        self.database.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # The group lock ----------------------------------------------------------------------------------
    def begin(
        self, deployment: FleetDeployment, details: Optional[Mapping[str, Any]] = None, successor_of: str = ""
    ) -> List[str]:
        """Record a new deployment and take its group's lock, atomically. A lock whose controller is gone
        is released and its deployment marked Interrupted (returned as a note); a live one raises
        GroupBusy unless it is `successor_of` held by this very process (an automatic rollback)."""
        d, me = deployment, this_controller()
        typed = DeploymentDetails.from_mapping(details or {})
        notes = []
        with self.database.transaction():
            stale = self.lock.check(d.application, d.group, me, successor_of)
            if stale is not None:
                notes.append(self.records.interrupt(stale.deployment_id, stale.controller))
                self.lock.clear(stale.deployment_id)
            self.records.insert(d, typed, me)
            self.lock.take(d.application, d.group, d.deployment_id, me)
        return notes

    def reconcile(self, application: str, group: str) -> List[str]:
        """Mark the group's deployments whose controller is gone as Interrupted; the notes say which."""
        notes = []
        with self.database.transaction():
            for deployment_id, controller in self.records.in_progress(application, group).items():
                if not controller_alive(controller):
                    notes.append(self.records.interrupt(deployment_id, controller))
                    self.lock.clear(deployment_id)
        return notes

    def holder(self, application: str, group: str) -> Optional[str]:
        return self.lock.holder(application, group)

    def release(self, application: str, group: str, deployment_id: str) -> None:
        """Give the group lock up, if this deployment holds it."""
        self.lock.release(application, group, deployment_id)

    # Progress ----------------------------------------------------------------------------------------
    def set_batches(self, deployment_id: str, batches: List[List[str]]) -> None:
        self.records.set_batches(deployment_id, batches)

    def set_details(self, deployment_id: str, **values: Any) -> None:
        with self.database.transaction():
            self.records.set_details(deployment_id, self.records.details(deployment_id).updated(**values))

    def host_started(self, deployment_id: str, host: str, started: float) -> None:
        self.records.host_state(deployment_id, host, IN_PROGRESS, started)

    def host_busy(self, deployment_id: str, host: str) -> None:
        """A host that finished one part of a deployment starts another (a blue/green traffic trio): it
        is InProgress again, so that an interruption reads as one."""
        self.records.host_state(deployment_id, host, IN_PROGRESS)

    def record_event(self, deployment_id: str, event: HostEvent) -> None:
        """An event that begins (InProgress) becomes the host's current event; a finished one is stored."""
        if event.status == IN_PROGRESS:
            self.records.event_started(deployment_id, event)
        else:
            self.records.event_finished(deployment_id, event)

    def host_finished(self, deployment_id: str, outcome: HostOutcome) -> None:
        self.records.host_finished(deployment_id, outcome)

    def finish(
        self, deployment: FleetDeployment, last_good: bool, release: bool = True, live_set: str = ""
    ) -> None:
        """The deployment's end; with `last_good` it becomes the group's last good revision."""
        d = deployment
        with self.database.transaction():
            self.records.finish(d)
            if last_good:  # a deployment of an unknown revision leaves the group's revision unknown
                self.groups.set_last_good(
                    d.application, d.group, d.deployment_id if d.revision_checksum else None
                )
            if live_set:
                self.groups.set_live_set(d.application, d.group, live_set)
            if release:
                self.lock.release(d.application, d.group, d.deployment_id)

    def set_last_good(self, application: str, group: str, deployment_id: Optional[str]) -> None:
        """The group's last good deployment is `deployment_id` (a blue/green switch back: the one that
        installed what the original hosts run; None when nobody knows)."""
        self.groups.set_last_good(application, group, deployment_id)

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
        self.groups.set_traffic(application, group, host, state, deployment_id, event, reason)

    def request_stop(self, deployment_id: str) -> bool:
        return self.records.request_stop(deployment_id)

    def stop_requested(self, deployment_id: str) -> bool:
        return self.records.stop_requested(deployment_id)

    # Reading -----------------------------------------------------------------------------------------
    def load(self, deployment_id: str, events: bool = True) -> FleetDeployment:
        return self.records.load(deployment_id, events)

    def row(self, deployment_id: str) -> Dict[str, Any]:
        return self.records.row(deployment_id)

    def deployment_details(self, deployment_id: str) -> DeploymentDetails:
        return self.records.details(deployment_id)

    def details(self, deployment_id: str) -> Dict[str, Any]:
        """`deployment_details` as a mapping (archive, bundle_type, origin, roles and the blue/green values set)."""
        return self.records.details(deployment_id).as_dict()

    def deployment_ids(self, application: str, group: str, limit: int = 20) -> List[str]:
        return self.records.deployment_ids(application, group, limit)

    def group_state(self, application: str, group: str) -> Dict[str, Any]:
        return self.groups.state(application, group)

    def traffic(self, application: str, group: str) -> Dict[str, TrafficRecord]:
        return self.groups.traffic(application, group)

    def installed_revisions(self, application: str, group: str) -> Dict[str, str]:
        """host → the revision (as given) of the last deployment whose Install succeeded on it."""
        return self.groups.installed_revisions(application, group)

    def last_good(self, application: str, group: str, before: Optional[str] = None) -> Optional[str]:
        """The group's last good deployment; with `before`, the last one that succeeded before it started."""
        if before is None:
            return self.groups.state(application, group).get("last_good")
        return self.groups.last_good_before(application, group, before, self.row(before)["started"])

    def installed_on(self, application: str, group: str, hosts: Sequence[str]) -> Optional[str]:
        """The latest deployment that installed its revision on any of these hosts."""
        return self.groups.installed_on(application, group, hosts)

    def host_health(self, application: str, group: str, hosts: Iterable[str]) -> Dict[str, HostHealth]:
        """CodeDeploy's instance health (last attempt) and revision health (against the last good
        revision) of each host, from the deployments recorded; never deployed: Unhealthy / Unknown."""
        good = self.last_good(application, group)
        good_checksum = self.row(good)["revision_checksum"] if good else None
        return self.groups.host_health(application, group, hosts, good_checksum)

    # Revisions -----------------------------------------------------------------------------------------
    @property
    def revisions_dir(self) -> str:
        return self.revisions.directory

    def store_revision(self, archive: str, checksum: str, suffix: str) -> str:
        """Keep the archive as `revisions/<sha256><suffix>` (once per content) and return that path."""
        return self.revisions.store(archive, checksum, suffix)

    def prune_revisions(self, keep: int = 20) -> List[str]:
        """Remove stored archives no longer needed: kept are those of each group's last good deployment
        and of the `keep` most recent deployments."""
        return self.revisions.prune(archives_in_use(self.database, keep))
