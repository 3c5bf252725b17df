"""Blue/green deployments: deploy the revision to the idle set by the group's config, switch the load
balancer's traffic to it and keep the originals for `keep_blue_seconds`, in which a rollback switches
traffic back without redeploying.

The traffic events run as in CodeDeploy, each host's load-balancer step between its hooks: the
replacements run BeforeAllowTraffic → AllowTraffic → AfterAllowTraffic (continuing their host
deployment, so with the new revision's scripts), then the originals BeforeBlockTraffic → BlockTraffic →
AfterBlockTraffic (a new host deployment: their last installed revision's scripts). A rollback swaps the
trios, its runner told `--creator codeDeployRollback --deployment-type BLUE_GREEN` for the agent's script
mapping. Replacement hosts are out of the load balancer until their AllowTraffic, as unregistered instances
are in CodeDeploy. Every load-balancer call is recorded per host as it happens (traffic.py), so after any
interruption the history says which hosts serve and `rollback` puts traffic back on the originals exactly.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

from agent_shim.fleet.config import deployment_order
from agent_shim.fleet.contracts import (
    FAILED,
    PENDING,
    SKIPPED,
    STOPPED,
    SUCCEEDED,
    FleetDeployment,
    HostOutcome,
    HostSpec,
)
from agent_shim.fleet.controller import (
    BLUE_GREEN,
    ORIGINAL,
    REPLACEMENT,
    TRAFFIC,
    FleetRun,
    close_outcome,
)
from agent_shim.fleet.revisions import Revision, RevisionRefused
from agent_shim.fleet.traffic import OUT
from agent_shim.layout import new_deployment_id
from agent_shim.plan import ROLLBACK_CREATOR
from appspec_tools.errors import one_line

if TYPE_CHECKING:
    from agent_shim.fleet.controller import Controller


def deploy(ctl: Controller, revision: Revision) -> FleetRun:
    """Take the idle set out of the load balancer, deploy to it by the config, then switch traffic: the
    AllowTraffic trio on the replacement hosts, the BlockTraffic trio on the originals, which stay
    drained (kept for `keep_blue_seconds`: the window in which `rollback` switches back without
    redeploying). A stop during the switch (Ctrl-C, `appspec fleet stop`) lets the trios in flight
    finish, then puts traffic back on the originals; so does a failed switch with auto_rollback."""
    bg, group = ctl.group.blue_green, ctl.group
    assert bg is not None
    live_side = ctl.history.group_state(group.application, group.name)["live_set"]
    target_side = "green" if live_side == "blue" else "blue"
    originals = list(bg.green if live_side == "green" else bg.blue)
    replacements = list(bg.green if target_side == "green" else bg.blue)
    health = ctl.history.host_health(group.application, group.name, replacements)
    order = deployment_order(replacements, health)
    roles = {**{h: REPLACEMENT for h in order}, **{h: ORIGINAL for h in originals}}
    message = f"blue/green: {target_side} replaces {live_side}"
    run = FleetRun(
        ctl._begin(revision, order + originals, [], style=BLUE_GREEN, roles=roles, message=message)
    )
    d = run.deployment
    ctl.history.set_details(d.deployment_id, live_before=live_side)
    refused = withdraw(ctl, d, order)
    if refused:
        for name in order + originals:
            ctl._host_done(d, HostOutcome(name, SKIPPED, reason="not attempted: " + refused))
        d.status, d.message = FAILED, f"{refused}; nothing was deployed"
        ctl._end(d, last_good=False)
        return run
    verdict = ctl._roll(d, group.hosts_named(order), revision, len(order), traffic=False)
    if verdict.status != SUCCEEDED:
        for name in originals:
            ctl._host_done(d, HostOutcome(name, SKIPPED, reason="traffic never left the original hosts"))
        d.message = f"{verdict.message}; traffic stays on the original hosts ({live_side})"
        ctl._end(d, last_good=False)
        return run
    ready = [n for n in order if d.hosts[n].status == SUCCEEDED]
    allowed = traffic_all(ctl, d, ready, "AllowTraffic", revision)
    problems = [n for n, o in allowed.items() if o.status != SUCCEEDED]
    stopping = ctl.history.stop_requested(d.deployment_id)
    if not problems and not stopping:
        d.batches.append(list(originals))
        ctl.history.set_batches(d.deployment_id, d.batches)
        blocked = traffic_all(ctl, d, originals, "BlockTraffic", revision)
        problems = [n for n, o in blocked.items() if o.status != SUCCEEDED]
        stopping = ctl.history.stop_requested(d.deployment_id)
    for name in originals:
        if d.hosts[name].status == PENDING:
            ctl._host_done(d, HostOutcome(name, SKIPPED, reason="traffic was not switched"))
    if problems or stopping:
        return _undo_or_leave(ctl, run, problems, live_side)
    kept_until = time.time() + bg.keep_blue_seconds
    ctl.history.set_details(d.deployment_id, switched=True, kept_until=kept_until)
    d.message = (
        f"{len(ready)} {target_side} host{'s' * (len(ready) != 1)} serve traffic; the {live_side} hosts are "
        f"drained and kept until {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(kept_until))}"
    )
    ctl._end(d, last_good=True, live_set=target_side)
    return run


def _undo_or_leave(ctl: Controller, run: FleetRun, problems: List[str], live_side: str) -> FleetRun:
    """The switch failed or was stopped: with auto_rollback, or after a stop, a rollback deployment puts
    traffic back on the originals; otherwise the hosts stay as they are and a note says which serve."""
    d, group = run.deployment, ctl.group
    if problems:
        d.status, d.message = FAILED, f"the traffic switch failed on {', '.join(problems)}"
    else:
        d.status, d.message = STOPPED, f"stopped during the traffic switch; traffic goes back to {live_side}"
    undo = not problems or group.auto_rollback
    ctl._end(d, last_good=False, release=not undo)
    if not undo:
        split = split_traffic(ctl, d)
        if split:
            run.notes.append(split)
        return run
    try:
        allow_back, block_back = moved(ctl, d)
        if allow_back or block_back:
            run.rollback = switch(
                ctl, d, allow_back, block_back, live_side, run.notes, successor_of=d.deployment_id
            )
    finally:
        ctl.history.release(group.application, group.name, d.deployment_id)
    return run


def moved(ctl: Controller, deployment: FleetDeployment) -> Tuple[List[str], List[str]]:
    """What putting traffic back on a blue/green deployment's originals takes, from the traffic records:
    (originals that do not serve, replacements that do or may)."""
    roles = ctl.history.details(deployment.deployment_id).get("roles", {})
    records = ctl.history.traffic(ctl.group.application, ctl.group.name)
    originals = [h for h, role in roles.items() if role == ORIGINAL]
    replacements = [h for h, role in roles.items() if role == REPLACEMENT]
    allow = [h for h in originals if h in records and not records[h].serving()]
    block = [h for h in replacements if h in records and records[h].state != OUT]
    return allow, block


def split_traffic(ctl: Controller, deployment: FleetDeployment) -> str:
    """A note when both sets of a blue/green deployment take traffic, or neither does."""
    roles = ctl.history.details(deployment.deployment_id).get("roles", {})
    records = ctl.history.traffic(ctl.group.application, ctl.group.name)
    serving = [h for h in roles if h not in records or records[h].serving()]
    new = [h for h in serving if roles[h] == REPLACEMENT]
    old = [h for h in serving if roles[h] == ORIGINAL]
    if new and old:
        return (
            f"traffic is split: {', '.join(new)} (new revision) and {', '.join(old)} (previous) serve; "
            f"`appspec fleet rollback --group {ctl.group.path}` puts it back on the original hosts"
        )
    if not serving:
        return "no host of the group takes traffic; `appspec fleet rollback` puts it back on the originals"
    return ""


def switch_back(ctl: Controller, deployment: FleetDeployment) -> FleetRun:
    """The rollback of a blue/green deployment: traffic back to the originals, no redeployment. Which
    hosts move comes from the traffic records, so an interrupted or failed switch is undone exactly."""
    details = ctl.history.details(deployment.deployment_id)
    if details.get("switched") and time.time() > float(details.get("kept_until") or 0):
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(details.get("kept_until") or 0)))
        raise RevisionRefused(
            f"the original hosts of {deployment.deployment_id} were kept until {when} (keep_blue_seconds): deploy "
            "the previous revision instead"
        )
    allow, block = moved(ctl, deployment)
    if not allow and not block:
        originals = [h for h, role in details.get("roles", {}).items() if role == ORIGINAL]
        raise RevisionRefused(
            f"traffic is on the original hosts of {deployment.deployment_id} ({', '.join(originals)}) and off "
            "its replacements: there is nothing to switch back"
        )
    run = FleetRun(deployment)
    run.rollback = switch(ctl, deployment, allow, block, details.get("live_before", "blue"), run.notes)
    return run


def switch(
    ctl: Controller,
    deployment: FleetDeployment,
    allow: List[str],
    block: List[str],
    live_set: str,
    notes: List[str],
    successor_of: str = "",
) -> FleetDeployment:
    """A rollback deployment that only moves traffic: the AllowTraffic trio on `allow`, then the
    BlockTraffic trio on `block`. Its revision is what the original hosts run (the deployment that
    installed it becomes the group's last good one again); the hosts' runners get that archive (for
    BUNDLE_*), or the rolled-back deployment's when the store no longer has it."""
    roles = ctl.history.details(deployment.deployment_id).get("roles", {})
    originals = [h for h, role in roles.items() if role == ORIGINAL] or allow
    good = ctl.history.installed_on(ctl.group.application, ctl.group.name, originals)
    revision = ctl._stored(good, need_archive=False) if good else Revision("(unknown)", "", "", "")
    if not (revision.archive and os.path.exists(revision.archive)):
        revision = ctl._stored(deployment.deployment_id, need_archive=False)
    hosts = list(dict.fromkeys(allow + block))
    message = f"rollback of {deployment.deployment_id}: traffic back to {live_set}, no redeployment"
    rollback = ctl._begin(
        revision,
        hosts,
        notes,
        creator=ROLLBACK_CREATOR,
        rollback_of=deployment.deployment_id,
        style=BLUE_GREEN,
        message=message,
        roles={h: TRAFFIC for h in hosts},
        successor_of=successor_of,
    )
    rollback.batches = [batch for batch in (allow, block) if batch]
    ctl.history.set_batches(rollback.deployment_id, rollback.batches)
    allowed = traffic_all(ctl, rollback, allow, "AllowTraffic", revision, rollback=True)
    problems = [n for n, o in allowed.items() if o.status != SUCCEEDED]
    if not problems:
        blocked = traffic_all(ctl, rollback, block, "BlockTraffic", revision, rollback=True)
        problems = [n for n, o in blocked.items() if o.status != SUCCEEDED]
    rollback.status = FAILED if problems else SUCCEEDED
    rollback.message = f"{message}; failed on {', '.join(problems)}" if problems else message
    ctl._end(rollback, last_good=False, live_set="" if problems else live_set)
    if not problems:
        ctl.history.set_last_good(ctl.group.application, ctl.group.name, good)
    return rollback


def traffic_all(
    ctl: Controller,
    deployment: FleetDeployment,
    names: Sequence[str],
    event: str,
    revision: Revision,
    rollback: bool = False,
) -> Dict[str, HostOutcome]:
    """One traffic trio on many hosts at once (bounded by max_parallel_ssh); the outcomes of those that
    ran (a stop leaves the ones not started out). Each host is InProgress in the history meanwhile."""

    def one(name: str) -> HostOutcome:
        outcome = deployment.hosts.get(name) or HostOutcome(name, PENDING)
        if outcome.status == PENDING:
            ctl._start_host(deployment, name)
            outcome = deployment.hosts[name]
        else:
            ctl.history.host_busy(deployment.deployment_id, name)
        ok = traffic_trio(ctl, deployment, outcome, ctl.group.host(name), event, revision, rollback)
        outcome.status = SUCCEEDED if ok else FAILED
        return close_outcome(outcome)

    results = ctl.each_host(deployment, names, one)
    for outcome in results.values():
        ctl._host_done(deployment, outcome)
    return results


def traffic_trio(
    ctl: Controller,
    deployment: FleetDeployment,
    outcome: HostOutcome,
    spec: HostSpec,
    event: str,
    revision: Revision,
    rollback: bool,
) -> bool:
    """Before<event> on the host, <event> through the load balancer, After<event> on the host. A host
    deployed in this deployment continues its own host deployment (its revision's scripts); any other
    host gets a new one, whose hooks run its last installed revision's scripts."""
    sink = ctl._sink(deployment)
    continuing = outcome.host_deployment_id if outcome.events and not rollback else ""
    host_deployment = continuing or new_deployment_id(local=False)
    extra = ["--deployment-type", BLUE_GREEN] + (["--creator", ROLLBACK_CREATOR] if rollback else [])
    try:
        staged = ctl._stage(spec, revision, deployment)
    except Exception as exc:  # noqa: BLE001 - SSH, upload: one line, this host only
        outcome.reason = f"cannot prepare the host for {event}: {one_line(exc)}"
        return False
    transport = staged.transport
    try:
        for step in (f"Before{event}", event, f"After{event}"):
            if step == event:
                ok = ctl.traffic_step(deployment, outcome, spec, event, sink)
            else:
                ok = ctl._run_step(
                    outcome,
                    transport,
                    staged.runner_path,
                    spec,
                    staged.bundle_path,
                    revision,
                    (host_deployment, [step]),
                    sink,
                    extra,
                )
            if not ok:
                return False
        return True
    finally:
        transport.close()


def withdraw(ctl: Controller, deployment: FleetDeployment, names: Sequence[str]) -> Optional[str]:
    """Take the replacement hosts out of the load balancer before anything is deployed to them (they
    serve nothing until their AllowTraffic); why that failed, or None. Already out is quick."""
    settings = ctl.group.load_balancer
    if not settings.enabled or not names:
        return None

    def one(name: str) -> Optional[str]:
        reason = ctl.ask_load_balancer(
            "BlockTraffic", ctl.group.host(name), settings.drain_timeout, deployment.deployment_id
        )
        return f"{name}: {reason}" if reason else None

    answers = ctl.each_host(deployment, names, one)
    failures = [str(answers[n]) for n in names if answers.get(n)]
    if ctl.history.stop_requested(deployment.deployment_id):
        failures.append("the deployment was stopped")
    if not failures:
        return None
    return "cannot take the replacement hosts out of the load balancer: " + "; ".join(failures)
