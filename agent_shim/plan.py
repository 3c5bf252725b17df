"""Which lifecycle events run, in which order, and where each event's scripts come from."""

from __future__ import annotations

from typing import List, Optional, Sequence

from appspec_tools.lifecycle import EC2_FROM_LAST_INSTALL, EC2_ORDER, EC2_RESERVED, EC2_TRAFFIC

DOWNLOAD_BUNDLE = "DownloadBundle"
INSTALL = "Install"
AGENT_EVENTS = (DOWNLOAD_BUNDLE, INSTALL)  # the agent's own work, no scripts
LOAD_BALANCER_EVENTS = ("BlockTraffic", "AllowTraffic")  # the load balancer's work, never the host's
STOP_EVENTS = EC2_FROM_LAST_INSTALL
ROLLBACK_CREATOR = "codeDeployRollback"  # the agent's DeploymentCreator of a rollback
IN_PLACE, BLUE_GREEN = "IN_PLACE", "BLUE_GREEN"  # the agent's DeploymentType
LAST_SUCCESSFUL_INSTALL, MOST_RECENT_INSTALL = "last_successful_install", "most_recent_install"
# codedeploy-local's DEFAULT_ORDERED_LIFECYCLE_EVENTS (deployer.rb): the order without the load balancer's
LOCAL_ORDER = tuple(e for e in EC2_ORDER if e not in LOAD_BALANCER_EVENTS)


class PlanError(ValueError):
    pass


def default_events(with_load_balancer: bool) -> List[str]:
    """In-place order (DESIGN.md); without a load balancer the six traffic events are left out."""
    events = list(LOCAL_ORDER)
    if not with_load_balancer:
        events = [e for e in events if e not in EC2_TRAFFIC]
    return events


def custom_events(names: Sequence[str], exact: bool = False) -> List[str]:
    """`--events`, as codedeploy-local reads it: the listed events in order, DownloadBundle and Install
    added before the first event that needs the new revision unless listed; stop-type events may only
    precede them. With `exact`, nothing is added: a step of a deployment run in several parts (the fleet
    controller does the load balancer's BlockTraffic and AllowTraffic between the steps)."""
    events: List[str] = []
    for name in names:
        name = name.strip()
        if not name:
            continue
        if name in LOAD_BALANCER_EVENTS or (name in EC2_RESERVED and name not in AGENT_EVENTS):
            raise PlanError(
                f"--events: {name} is not an event a host runs (it is the load balancer's or reserved)"
            )
        if name in events:
            raise PlanError(f"--events: {name} is listed twice")
        events.append(name)
    if not events:
        raise PlanError("--events: no event given")
    if exact and DOWNLOAD_BUNDLE not in events:
        stops = [i for i, e in enumerate(events) if e in STOP_EVENTS]
        if stops and stops != list(range(len(stops))):
            raise PlanError(
                "--events: ApplicationStop and the BlockTraffic events must come before the others"
            )
        return events
    if DOWNLOAD_BUNDLE not in events or INSTALL not in events:
        head = [e for e in events if e in STOP_EVENTS]
        tail = [e for e in events if e not in STOP_EVENTS and e not in AGENT_EVENTS]
        if [e for e in events if e in STOP_EVENTS] != events[: len(head)]:
            raise PlanError(
                "--events: ApplicationStop and the BlockTraffic events must come before the others"
            )
        events = head + [DOWNLOAD_BUNDLE, INSTALL] + tail
    download = events.index(DOWNLOAD_BUNDLE)
    install = events.index(INSTALL) if INSTALL in events else len(events)
    if install < download:
        raise PlanError("--events: DownloadBundle must come before Install")
    early = [e for e in events[:download] if e not in STOP_EVENTS]
    if early:
        raise PlanError(f"--events: {early[0]} needs the new revision, so it must come after DownloadBundle")
    late = [e for e in events[download:] if e in STOP_EVENTS]
    if late:
        raise PlanError(
            f"--events: {late[0]} runs the previous revision's scripts, so it must come before DownloadBundle"
        )
    return events


def plan_events(names: Optional[Sequence[str]], with_load_balancer: bool, exact: bool = False) -> List[str]:
    if exact and not names:
        raise PlanError("--exact-events needs --events")
    return custom_events(names, exact) if names else default_events(with_load_balancer)


def earlier_install(event: str, creator: str, deployment_type: str) -> Optional[str]:
    """Which earlier install's scripts `event` runs while the deployment has no archive of its own, or
    None for the new revision's (AGENT-FACTS §2): ApplicationStop and the BlockTraffic hooks the last
    successful install; in a blue/green rollback, the BlockTraffic hooks the most recent install and
    ApplicationStop and the AllowTraffic hooks the last successful one."""
    if creator == ROLLBACK_CREATOR and deployment_type == BLUE_GREEN:
        if event in ("BeforeBlockTraffic", "AfterBlockTraffic"):
            return MOST_RECENT_INSTALL
        if event in ("ApplicationStop", "BeforeAllowTraffic", "AfterAllowTraffic"):
            return LAST_SUCCESSFUL_INSTALL
        return None
    return LAST_SUCCESSFUL_INSTALL if event in STOP_EVENTS else None
