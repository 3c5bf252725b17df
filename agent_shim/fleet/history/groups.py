"""What the history knows of each deployment group across its deployments: the last good deployment, the
live blue/green set, the traffic record (whether the load balancer routes to each host, traffic.py), and
each host's health and installed revision as CodeDeploy derives them from the deployments recorded."""

from __future__ import annotations

import time
from typing import Any, Dict, Iterable, Optional, Sequence

from agent_shim.fleet.config import CURRENT, HEALTHY, OLD, UNHEALTHY, UNKNOWN, HostHealth
from agent_shim.fleet.contracts import FAILED, INTERRUPTED, SUCCEEDED
from agent_shim.fleet.history.database import Database
from agent_shim.fleet.traffic import TrafficRecord

NO_GROUP_STATE = {"last_good": None, "live_set": "blue", "lock_deployment": None}


class GroupRecords:
    def __init__(self, database: Database) -> None:
        self.database = database

    def _set(self, application: str, group: str, column: str, value: Optional[str]) -> None:
        self.database.write(
            f"UPDATE groups SET {column}=? WHERE application=? AND group_name=?", (value, application, group)
        )

    def set_last_good(self, application: str, group: str, deployment_id: Optional[str]) -> None:
        self._set(application, group, "last_good", deployment_id)

    def set_live_set(self, application: str, group: str, live_set: str) -> None:
        self._set(application, group, "live_set", live_set)

    def state(self, application: str, group: str) -> Dict[str, Any]:
        rows = self.database.rows(
            "SELECT * FROM groups WHERE application=? AND group_name=?", (application, group)
        )
        return dict(rows[0]) if rows else dict(NO_GROUP_STATE)

    def last_good_before(self, application: str, group: str, before: str, started: float) -> Optional[str]:
        """The last deployment of a known revision that succeeded before `before` (which began at `started`)."""
        rows = self.database.rows(
            "SELECT id FROM deployments WHERE application=? AND group_name=? AND status=? AND started < ? "
            "AND id != ? AND revision_checksum != '' ORDER BY started DESC LIMIT 1",
            (application, group, SUCCEEDED, started, before),
        )
        return rows[0]["id"] if rows else None

    def set_traffic(
        self, application: str, group: str, host: str, state: str, deployment_id: str, event: str, reason: str
    ) -> None:
        self.database.write(
            "INSERT OR REPLACE INTO traffic (application, group_name, host, state, deployment_id, event, "
            "since, reason) VALUES (?,?,?,?,?,?,?,?)",
            (application, group, host, state, deployment_id, event, time.time(), reason),
        )

    def traffic(self, application: str, group: str) -> Dict[str, TrafficRecord]:
        rows = self.database.rows(
            "SELECT host, state, deployment_id, event, since, reason FROM traffic WHERE application=? AND group_name=?",
            (application, group),
        )
        return {r["host"]: TrafficRecord(**dict(r)) for r in rows}

    def installed_revisions(self, application: str, group: str) -> Dict[str, str]:
        """host → the revision (as given) of the last deployment whose Install succeeded on it."""
        rows = self.database.rows(
            "SELECT e.host, d.revision FROM events e JOIN deployments d ON d.id = e.deployment_id "
            "WHERE d.application=? AND d.group_name=? AND e.event='Install' AND e.status=? ORDER BY e.id",
            (application, group, SUCCEEDED),
        )
        return {r["host"]: r["revision"] for r in rows}

    def installed_on(self, application: str, group: str, hosts: Sequence[str]) -> Optional[str]:
        """The latest deployment that installed its revision on any of these hosts."""
        if not hosts:
            return None
        rows = self.database.rows(
            "SELECT d.id FROM host_results h JOIN deployments d ON d.id = h.deployment_id WHERE d.application=? "
            f"AND d.group_name=? AND h.status=? AND h.role IN ('', 'replacement') AND h.host IN "
            f"({','.join('?' * len(hosts))}) AND d.revision_checksum != '' ORDER BY d.started DESC LIMIT 1",
            (application, group, SUCCEEDED, *hosts),
        )
        return rows[0]["id"] if rows else None

    def host_health(
        self, application: str, group: str, hosts: Iterable[str], good_checksum: Optional[str]
    ) -> Dict[str, HostHealth]:
        """CodeDeploy's instance health (last attempt) and revision health (against `good_checksum`, the
        last good revision's) of each host; never deployed: Unhealthy / Unknown."""
        attempts = self.database.rows(
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
