"""The fleet controller: runs one deployment of a group by CodeDeploy's rules, in place or blue/green.

The two styles are peers (inplace.py, bluegreen.py) over the same parts: a `Recorder` (history records
and the live view, recorder.py), `HostSteps` (one host's staging, runner steps and traffic events,
host_steps.py), the rolling window (rolling.py) and one schedule (group_state.schedule_for →
scheduling.schedule). The controller wires them and picks the style; see docs/fleet.md.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, List, Optional

from agent_shim.fleet import bluegreen, inplace
from agent_shim.fleet.contracts import FleetDeployment, HostSpec, LoadBalancer
from agent_shim.fleet.group import DeploymentGroup
from agent_shim.fleet.group_state import schedule_for, serving_sets
from agent_shim.fleet.history import History
from agent_shim.fleet.host_steps import HostSteps, TransportFactory
from agent_shim.fleet.recorder import FleetRun, Recorder
from agent_shim.fleet.revisions import Revision
from agent_shim.plan import BLUE_GREEN


class Controller:
    def __init__(
        self,
        group: DeploymentGroup,
        history: History,
        transport_for: TransportFactory,
        load_balancer: LoadBalancer,
        runner: Any = None,  # agent_shim.fleet.runner.RunnerZipapp (path, checksum) or None
        progress: Optional[Callable[[FleetDeployment], Any]] = None,
        appspec_filename: str = "appspec.yml",
        poll: float = 0.2,
    ) -> None:
        self.group = group
        self.history = history
        self.recorder = Recorder(group, history, progress, poll)
        self.steps = HostSteps(group, self.recorder, transport_for, load_balancer, runner, appspec_filename)

    @property
    def transport_for(self) -> TransportFactory:
        return self.steps.transport_for

    @property
    def lb(self) -> LoadBalancer:
        return self.steps.lb

    @property
    def runner(self) -> Any:
        return self.steps.runner

    @property
    def stop_signal(self) -> threading.Event:
        """Set by the command's Ctrl-C handler: stop what runs now."""
        return self.recorder.stop_signal

    @property
    def connections(self) -> Any:
        """A preflight.Preflight whose open connections the deployment uses (None: open new ones)."""
        return self.steps.connections

    @connections.setter
    def connections(self, preflight: Any) -> None:
        self.steps.connections = preflight

    def deploy(self, revision: Revision) -> FleetRun:
        if self.group.blue_green is not None:
            return bluegreen.deploy(self.steps, revision)
        return inplace.deploy(self.steps, revision)

    def rollback(self, deployment_id: str) -> FleetRun:
        """Roll back the group's latest deployment: a blue/green one by switching traffic back, an
        in-place one by redeploying the last good revision before it to the hosts it reached."""
        deployment = self.history.load(deployment_id)
        if deployment.style == BLUE_GREEN:
            return bluegreen.switch_back(self.steps, deployment)
        return inplace.rollback(self.steps, deployment)

    def sync(self, host: str) -> FleetRun:
        """Deploy the group's last good revision to one host (a new or repaired one)."""
        return inplace.sync(self.steps, host)

    def planned_hosts(self) -> List[HostSpec]:
        """The hosts a deployment touches, in the order it touches them (replacements, then originals)."""
        if self.group.blue_green is None:
            names = [h.name for h in self.group.hosts]
            return self.group.hosts_named(schedule_for(self.group, self.history, names).order)
        sets = serving_sets(self.group, self.history)
        replacements = schedule_for(self.group, self.history, sets.idle, replacement_set=True).order
        return self.group.hosts_named([*replacements, *sets.serving])

    def runner_arguments(self, spec: HostSpec, bundle: str, revision: Revision) -> List[str]:
        return self.steps.runner_arguments(spec, bundle, revision)
