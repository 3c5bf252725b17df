"""What a fleet deployment says as it happens: its records in the history and its live view.

The in-place and blue/green deployments both go through a `Recorder`: a deployment begins (recorded with
the group's lock taken), hosts start and finish, their events stream, the batches grow, a stop is asked
for (by `appspec fleet stop` or a Ctrl-C caught as `stop_signal`), and the deployment ends. A rendering
problem in the view never stops a deployment.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence

from agent_shim.fleet.contracts import (
    FAILED,
    IN_PROGRESS,
    INTERRUPTED,
    PENDING,
    SUCCEEDED,
    EventSink,
    FleetDeployment,
    HostEvent,
    HostOutcome,
)
from agent_shim.fleet.group import DeploymentGroup
from agent_shim.fleet.history import History
from agent_shim.fleet.revisions import Revision
from agent_shim.layout import new_deployment_id
from agent_shim.plan import IN_PLACE

ViewFactory = Callable[[FleetDeployment], Any]


@dataclass
class FleetRun:
    deployment: FleetDeployment
    rollback: Optional[FleetDeployment] = None
    notes: List[str] = field(default_factory=list)  # e.g. an interrupted deployment found, no rollback


def received(deployment: FleetDeployment) -> List[str]:
    """The hosts a deployment reached: every host with a result but those it failed before touching
    (an SSH or upload failure leaves no event)."""
    return [
        name
        for name, outcome in deployment.hosts.items()
        if outcome.status in (SUCCEEDED, INTERRUPTED) or (outcome.status == FAILED and outcome.events)
    ]


class Recorder:
    def __init__(
        self,
        group: DeploymentGroup,
        history: History,
        progress: Optional[ViewFactory] = None,
        poll: float = 0.2,
    ) -> None:
        self.group = group
        self.history = history
        self.progress_factory = progress
        self.poll = poll  # how often waiting loops look at the stop flag
        self.views: Dict[str, Any] = {}
        self.stop_signal = threading.Event()  # set by the command's Ctrl-C handler: stop what runs now

    def begin(
        self,
        revision: Revision,
        hosts: Sequence[str],
        notes: List[str],
        creator: str = "user",
        rollback_of: Optional[str] = None,
        style: str = IN_PLACE,
        message: str = "",
        roles: Optional[Dict[str, str]] = None,
        successor_of: str = "",
    ) -> FleetDeployment:
        """A new deployment, recorded with the group's lock taken; what the history noticed goes to `notes`."""
        deployment = FleetDeployment(
            deployment_id=new_deployment_id(local=False),
            application=self.group.application,
            group=self.group.name,
            revision=revision.source,
            revision_checksum=revision.checksum,
            config=self.group.config.name,
            status=IN_PROGRESS,
            started=time.time(),
            creator=creator,
            rollback_of=rollback_of,
            style=style,
            message=message,
            hosts={name: HostOutcome(name, PENDING) for name in hosts},
        )
        details = {
            "archive": revision.archive,
            "bundle_type": revision.bundle_type,
            "origin": revision.origin,
            "roles": roles or {},
        }
        notes.extend(self.history.begin(deployment, details, successor_of=successor_of))
        view = self.progress_factory(deployment) if self.progress_factory else None
        self.views[deployment.deployment_id] = view
        return deployment

    def end(
        self, deployment: FleetDeployment, last_good: bool, release: bool = True, live_set: str = ""
    ) -> None:
        deployment.finished = time.time()
        self.history.finish(deployment, last_good=last_good, release=release, live_set=live_set)
        self.tell(deployment, "close")

    def release(self, deployment: FleetDeployment) -> None:
        """Give the group's lock back (after a deployment that kept it for its rollback)."""
        self.history.release(self.group.application, self.group.name, deployment.deployment_id)

    def tell(self, deployment: FleetDeployment, method: str, *args: Any) -> None:
        """Pass something to the live view; a rendering problem never stops a deployment."""
        view = self.views.get(deployment.deployment_id)
        target = getattr(view, method, None) if method != "__call__" else view
        if target is not None:
            try:
                target(*args)
            except Exception:  # noqa: BLE001 - the view is best effort
                pass

    def sink(self, deployment: FleetDeployment) -> EventSink:
        def on_event(event: HostEvent) -> None:
            self.history.record_event(deployment.deployment_id, event)
            self.tell(deployment, "__call__", event)

        return on_event

    def host_started(self, deployment: FleetDeployment, name: str) -> None:
        now = time.time()
        deployment.hosts[name] = HostOutcome(name, IN_PROGRESS, started=now)
        self.history.host_started(deployment.deployment_id, name, now)
        self.tell(deployment, "host_started", name)

    def host_busy(self, deployment: FleetDeployment, name: str) -> None:
        """A host with a result already works again (a blue/green replacement's traffic trio)."""
        self.history.host_busy(deployment.deployment_id, name)

    def host_done(self, deployment: FleetDeployment, outcome: HostOutcome) -> None:
        deployment.hosts[outcome.host] = outcome
        self.history.host_finished(deployment.deployment_id, outcome)
        self.tell(deployment, "host_finished", outcome)

    def add_batch(self, deployment: FleetDeployment, batch: Sequence[str]) -> None:
        deployment.batches.append(list(batch))
        self.history.set_batches(deployment.deployment_id, deployment.batches)

    def set_details(self, deployment: FleetDeployment, **values: Any) -> None:
        self.history.set_details(deployment.deployment_id, **values)

    def details(self, deployment: FleetDeployment) -> Dict[str, Any]:
        return self.history.details(deployment.deployment_id)

    def request_stop(self, deployment: FleetDeployment) -> None:
        self.history.request_stop(deployment.deployment_id)

    def stop_requested(self, deployment: FleetDeployment) -> bool:
        return self.history.stop_requested(deployment.deployment_id)

    def stop_wanted(self, deployment: FleetDeployment) -> bool:
        """Whether the deployment is asked to stop: by `appspec fleet stop` (the history's flag) or by a
        Ctrl-C caught as `stop_signal`, which is recorded as that flag for this deployment."""
        if self.stop_signal.is_set():
            self.stop_signal.clear()
            self.request_stop(deployment)
        return self.stop_requested(deployment)
