"""What the history knows of a group's hosts that decides a deployment's shape: which blue/green set is
live, which hosts the load balancer does not route to, and so the schedule of a deployment's targets.

The one home of "which set serves": every reader (the controller, blue/green, the dry run, `status`) asks
`serving_sets`. The one way to a deployment's order and minimum: `schedule_for`, which feeds
`scheduling.schedule` what the history says of the targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

from agent_shim.fleet.group import DeploymentGroup
from agent_shim.fleet.history import History
from agent_shim.fleet.scheduling import Schedule, schedule
from agent_shim.fleet.traffic import not_serving as records_not_serving

BLUE, GREEN = "blue", "green"


@dataclass(frozen=True)
class ServingSets:
    """The group's hosts by role: `serving` take traffic (a blue/green group's live set, or every host),
    `idle` are a blue/green group's replacement set (empty otherwise)."""

    live: str  # blue or green; "" without blue/green
    serving: Tuple[str, ...]
    idle: Tuple[str, ...] = ()

    @property
    def target(self) -> str:
        """The set the next blue/green deployment goes to."""
        return BLUE if self.live == GREEN else GREEN


def serving_sets(group: DeploymentGroup, history: History) -> ServingSets:
    bg = group.blue_green
    if bg is None:
        return ServingSets("", tuple(h.name for h in group.hosts))
    live = GREEN if history.group_state(group.application, group.name)["live_set"] == GREEN else BLUE
    return ServingSets(live, bg.green, bg.blue) if live == GREEN else ServingSets(live, bg.blue, bg.green)


def not_serving(group: DeploymentGroup, history: History, names: Sequence[str]) -> List[str]:
    """The hosts among `names` that the load balancer does not route to, as the history knows it:
    left out by an earlier deployment that failed or was interrupted (none without a load balancer)."""
    if not group.load_balancer.enabled:
        return []
    return records_not_serving(history.traffic(group.application, group.name), names)


def schedule_for(
    group: DeploymentGroup, history: History, targets: Sequence[str], replacement_set: bool = False
) -> Schedule:
    """The schedule of a deployment to `targets`, from their recorded health and traffic. A blue/green
    replacement set is a fleet of its own: the configuration applies to it alone, and its hosts are out
    of the load balancer on purpose (they cost no capacity and are not reordered for it)."""
    health = history.host_health(group.application, group.name, targets)
    if replacement_set:
        return schedule(targets, health, group.config, len(targets))
    down = not_serving(group, history, targets)
    return schedule(targets, health, group.config, len(group.hosts), down)
