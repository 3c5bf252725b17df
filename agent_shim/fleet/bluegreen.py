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

The peer of inplace.py: both run over a `Recorder` and `HostSteps`, and take their order and minimum
from `group_state.schedule_for`; which set serves is `group_state.serving_sets`.
"""

from __future__ import annotations

import os
import time
from typing import Dict, List, Optional, Sequence, Tuple

from agent_shim.fleet.contracts import (
    FAILED,
    PENDING,
    SKIPPED,
    STOPPED,
    SUCCEEDED,
    FleetDeployment,
    HostOutcome,
)
from agent_shim.fleet.group_state import schedule_for, serving_sets
from agent_shim.fleet.host_steps import ALLOW, BLOCK, HostSteps, close_outcome
from agent_shim.fleet.recorder import FleetRun
from agent_shim.fleet.revisions import Revision, RevisionRefused, stored_revision
from agent_shim.fleet.rolling import each_host, roll
from agent_shim.fleet.traffic import OUT
from agent_shim.plan import BLUE_GREEN, ROLLBACK_CREATOR

REPLACEMENT, ORIGINAL, TRAFFIC = "replacement", "original", "traffic"  # host roles in the history


def deploy(steps: HostSteps, revision: Revision) -> FleetRun:
    """Take the idle set out of the load balancer, deploy to it by the config, then switch traffic: the
    AllowTraffic trio on the replacement hosts, the BlockTraffic trio on the originals, which stay
    drained (kept for `keep_blue_seconds`: the window in which `rollback` switches back without
    redeploying). A stop during the switch (Ctrl-C, `appspec fleet stop`) lets the trios in flight
    finish, then puts traffic back on the originals; so does a failed switch with auto_rollback."""
    recorder, group = steps.recorder, steps.group
    bg = group.blue_green
    assert bg is not None
    sets = serving_sets(group, recorder.history)
    live_side, target_side, originals = sets.live, sets.target, list(sets.serving)
    plan = schedule_for(group, recorder.history, list(sets.idle), replacement_set=True)
    order = list(plan.order)
    roles = {**{h: REPLACEMENT for h in order}, **{h: ORIGINAL for h in originals}}
    message = f"blue/green: {target_side} replaces {live_side}"
    run = FleetRun(
        recorder.begin(revision, order + originals, [], style=BLUE_GREEN, roles=roles, message=message)
    )
    d = run.deployment
    recorder.set_details(d, live_before=live_side)
    refused = withdraw(steps, d, order)
    if refused:
        for name in order + originals:
            recorder.host_done(d, HostOutcome(name, SKIPPED, reason="not attempted: " + refused))
        d.status, d.message = FAILED, f"{refused}; nothing was deployed"
        recorder.end(d, last_good=False)
        return run
    verdict = roll(steps, d, plan, revision, traffic=False)
    if verdict.status != SUCCEEDED:
        for name in originals:
            recorder.host_done(d, HostOutcome(name, SKIPPED, reason="traffic never left the original hosts"))
        d.message = f"{verdict.message}; traffic stays on the original hosts ({live_side})"
        recorder.end(d, last_good=False)
        return run
    ready = [n for n in order if d.hosts[n].status == SUCCEEDED]
    allowed = traffic_all(steps, d, ready, ALLOW, revision)
    problems = [n for n, o in allowed.items() if o.status != SUCCEEDED]
    stopping = recorder.stop_requested(d)
    if not problems and not stopping:
        recorder.add_batch(d, originals)
        blocked = traffic_all(steps, d, originals, BLOCK, revision)
        problems = [n for n, o in blocked.items() if o.status != SUCCEEDED]
        stopping = recorder.stop_requested(d)
    for name in originals:
        if d.hosts[name].status == PENDING:
            recorder.host_done(d, HostOutcome(name, SKIPPED, reason="traffic was not switched"))
    if problems or stopping:
        return _undo_or_leave(steps, run, problems, live_side)
    kept_until = time.time() + bg.keep_blue_seconds
    recorder.set_details(d, switched=True, kept_until=kept_until)
    d.message = (
        f"{len(ready)} {target_side} host{'s' * (len(ready) != 1)} serve traffic; the {live_side} hosts are "
        f"drained and kept until {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(kept_until))}"
    )
    recorder.end(d, last_good=True, live_set=target_side)
    return run


def _undo_or_leave(steps: HostSteps, run: FleetRun, problems: List[str], live_side: str) -> FleetRun:
    """The switch failed or was stopped: with auto_rollback, or after a stop, a rollback deployment puts
    traffic back on the originals; otherwise the hosts stay as they are and a note says which serve."""
    d, recorder = run.deployment, steps.recorder
    if problems:
        d.status, d.message = FAILED, f"the traffic switch failed on {', '.join(problems)}"
    else:
        d.status, d.message = STOPPED, f"stopped during the traffic switch; traffic goes back to {live_side}"
    undo = not problems or steps.group.auto_rollback
    recorder.end(d, last_good=False, release=not undo)
    if not undo:
        split = split_traffic(steps, d)
        if split:
            run.notes.append(split)
        return run
    try:
        allow_back, block_back = moved(steps, d)
        if allow_back or block_back:
            run.rollback = switch(
                steps, d, allow_back, block_back, live_side, run.notes, successor_of=d.deployment_id
            )
    finally:
        recorder.release(d)
    return run


def _roles(steps: HostSteps, deployment: FleetDeployment) -> Dict[str, str]:
    return steps.recorder.details(deployment).get("roles", {})


def moved(steps: HostSteps, deployment: FleetDeployment) -> Tuple[List[str], List[str]]:
    """What putting traffic back on a blue/green deployment's originals takes, from the traffic records:
    (originals that do not serve, replacements that do or may)."""
    roles = _roles(steps, deployment)
    records = steps.recorder.history.traffic(steps.group.application, steps.group.name)
    originals = [h for h, role in roles.items() if role == ORIGINAL]
    replacements = [h for h, role in roles.items() if role == REPLACEMENT]
    allow = [h for h in originals if h in records and not records[h].serving()]
    block = [h for h in replacements if h in records and records[h].state != OUT]
    return allow, block


def split_traffic(steps: HostSteps, deployment: FleetDeployment) -> str:
    """A note when both sets of a blue/green deployment take traffic, or neither does."""
    roles = _roles(steps, deployment)
    records = steps.recorder.history.traffic(steps.group.application, steps.group.name)
    serving = [h for h in roles if h not in records or records[h].serving()]
    new = [h for h in serving if roles[h] == REPLACEMENT]
    old = [h for h in serving if roles[h] == ORIGINAL]
    if new and old:
        return (
            f"traffic is split: {', '.join(new)} (new revision) and {', '.join(old)} (previous) serve; "
            f"`appspec fleet rollback --group {steps.group.path}` puts it back on the original hosts"
        )
    if not serving:
        return "no host of the group takes traffic; `appspec fleet rollback` puts it back on the originals"
    return ""


def switch_back(steps: HostSteps, deployment: FleetDeployment) -> FleetRun:
    """The rollback of a blue/green deployment: traffic back to the originals, no redeployment. Which
    hosts move comes from the traffic records, so an interrupted or failed switch is undone exactly."""
    details = steps.recorder.details(deployment)
    if details.get("switched") and time.time() > float(details.get("kept_until") or 0):
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(details.get("kept_until") or 0)))
        raise RevisionRefused(
            f"the original hosts of {deployment.deployment_id} were kept until {when} (keep_blue_seconds): deploy "
            "the previous revision instead"
        )
    allow, block = moved(steps, deployment)
    if not allow and not block:
        originals = [h for h, role in details.get("roles", {}).items() if role == ORIGINAL]
        raise RevisionRefused(
            f"traffic is on the original hosts of {deployment.deployment_id} ({', '.join(originals)}) and off "
            "its replacements: there is nothing to switch back"
        )
    run = FleetRun(deployment)
    run.rollback = switch(steps, deployment, allow, block, details.get("live_before", "blue"), run.notes)
    return run


def switch(
    steps: HostSteps,
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
    recorder, group = steps.recorder, steps.group
    history = recorder.history
    originals = [h for h, role in _roles(steps, deployment).items() if role == ORIGINAL] or allow
    good = history.installed_on(group.application, group.name, originals)
    revision = (
        stored_revision(history, good, need_archive=False) if good else Revision("(unknown)", "", "", "")
    )
    if not (revision.archive and os.path.exists(revision.archive)):
        revision = stored_revision(history, deployment.deployment_id, need_archive=False)
    hosts = list(dict.fromkeys(allow + block))
    message = f"rollback of {deployment.deployment_id}: traffic back to {live_set}, no redeployment"
    rollback = recorder.begin(
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
    for batch in (allow, block):
        if batch:
            recorder.add_batch(rollback, batch)
    allowed = traffic_all(steps, rollback, allow, ALLOW, revision, rollback=True)
    problems = [n for n, o in allowed.items() if o.status != SUCCEEDED]
    if not problems:
        blocked = traffic_all(steps, rollback, block, BLOCK, revision, rollback=True)
        problems = [n for n, o in blocked.items() if o.status != SUCCEEDED]
    rollback.status = FAILED if problems else SUCCEEDED
    rollback.message = f"{message}; failed on {', '.join(problems)}" if problems else message
    recorder.end(rollback, last_good=False, live_set="" if problems else live_set)
    if not problems:
        history.set_last_good(group.application, group.name, good)
    return rollback


def traffic_all(
    steps: HostSteps,
    deployment: FleetDeployment,
    names: Sequence[str],
    event: str,
    revision: Revision,
    rollback: bool = False,
) -> Dict[str, HostOutcome]:
    """One traffic trio on many hosts at once (bounded by max_parallel_ssh); the outcomes of those that
    ran (a stop leaves the ones not started out). Each host is InProgress in the history meanwhile."""
    recorder = steps.recorder

    def one(name: str) -> HostOutcome:
        outcome = deployment.hosts.get(name) or HostOutcome(name, PENDING)
        if outcome.status == PENDING:
            recorder.host_started(deployment, name)
            outcome = deployment.hosts[name]
        else:
            recorder.host_busy(deployment, name)
        ok = steps.traffic_trio(deployment, outcome, steps.group.host(name), event, revision, rollback)
        outcome.status = SUCCEEDED if ok else FAILED
        return close_outcome(outcome)

    results = each_host(steps, deployment, names, one)
    for outcome in results.values():
        recorder.host_done(deployment, outcome)
    return results


def withdraw(steps: HostSteps, deployment: FleetDeployment, names: Sequence[str]) -> Optional[str]:
    """Take the replacement hosts out of the load balancer before anything is deployed to them (they
    serve nothing until their AllowTraffic); why that failed, or None. Already out is quick."""
    settings = steps.group.load_balancer
    if not settings.enabled or not names:
        return None

    def one(name: str) -> Optional[str]:
        reason = steps.ask_load_balancer(
            BLOCK, steps.group.host(name), settings.drain_timeout, deployment.deployment_id
        )
        return f"{name}: {reason}" if reason else None

    answers = each_host(steps, deployment, names, one)
    failures = [str(answers[n]) for n in names if answers.get(n)]
    if steps.recorder.stop_requested(deployment):
        failures.append("the deployment was stopped")
    if not failures:
        return None
    return "cannot take the replacement hosts out of the load balancer: " + "; ".join(failures)
