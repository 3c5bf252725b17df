"""In-place deployments: every host of the group (or one, for a sync) gets the revision by the rolling
window, each with the load balancer's traffic events around its lifecycle; CodeDeploy's rollback is a new
deployment of the last good revision to the hosts the failed one reached.

The peer of bluegreen.py: both run over a `Recorder` and `HostSteps`, and take their order and minimum
from `group_state.schedule_for`.
"""

from __future__ import annotations

from typing import List, Optional

from agent_shim.fleet.contracts import FAILED, SUCCEEDED, FleetDeployment
from agent_shim.fleet.group_state import schedule_for, serving_sets
from agent_shim.fleet.host_steps import HostSteps
from agent_shim.fleet.recorder import FleetRun, received
from agent_shim.fleet.revisions import Revision, RevisionRefused, stored_revision
from agent_shim.fleet.rolling import roll
from agent_shim.plan import ROLLBACK_CREATOR


def deploy(steps: HostSteps, revision: Revision) -> FleetRun:
    """The revision to every host by the group's configuration; with auto_rollback, a failure is followed
    by the rollback deployment while the group's lock is still held."""
    recorder, group = steps.recorder, steps.group
    plan = schedule_for(group, recorder.history, [h.name for h in group.hosts])
    notes: List[str] = []
    run = FleetRun(recorder.begin(revision, plan.order, notes), notes=notes)
    if plan.down:
        notes.append(
            f"{', '.join(plan.down)}: out of the load balancer since an earlier deployment, so deployed first "
            "and not counted as healthy until deployed"
        )
    roll(steps, run.deployment, plan, revision)
    roll_back = run.deployment.status == FAILED and group.auto_rollback
    recorder.end(run.deployment, last_good=run.deployment.status == SUCCEEDED, release=not roll_back)
    if roll_back:
        try:
            redeploy_last_good(steps, run, before=None, successor_of=run.deployment.deployment_id)
        finally:
            recorder.release(run.deployment)
    return run


def rollback(steps: HostSteps, deployment: FleetDeployment) -> FleetRun:
    """Redeploy the last good revision before `deployment` to the hosts it reached."""
    run = FleetRun(deployment)
    redeploy_last_good(steps, run, before=deployment.deployment_id, successor_of="")
    if run.rollback is None:
        raise RevisionRefused("; ".join(run.notes) or "nothing to roll back")
    return run


def sync(steps: HostSteps, host: str) -> FleetRun:
    """Deploy the group's last good revision to one host (a new or repaired one), with traffic when the
    host is in the serving set."""
    recorder, group = steps.recorder, steps.group
    spec = group.host(host)
    good = recorder.history.last_good(group.application, group.name)
    if good is None:
        raise RevisionRefused(f"deployment group {group.name} has no successful deployment to sync from")
    revision = stored_revision(recorder.history, good)
    message = f"sync: the last good revision (of {good}) to {spec.name}"
    notes: List[str] = []
    run = FleetRun(recorder.begin(revision, [spec.name], notes, message=message), notes=notes)
    traffic = spec.name in serving_sets(group, recorder.history).serving
    roll(steps, run.deployment, schedule_for(group, recorder.history, [spec.name]), revision, traffic)
    recorder.end(run.deployment, last_good=run.deployment.status == SUCCEEDED)
    return run


def redeploy_last_good(steps: HostSteps, run: FleetRun, before: Optional[str], successor_of: str) -> None:
    """CodeDeploy's rollback: a new deployment of the last good revision (before `before`, or the
    group's) to the hosts the deployment reached."""
    recorder, group = steps.recorder, steps.group
    failed = run.deployment
    good = recorder.history.last_good(group.application, group.name, before=before)
    members = {s.name for s in group.hosts}
    plan = schedule_for(group, recorder.history, [h for h in received(failed) if h in members])
    if good is None:
        run.notes.append(f"no rollback: deployment group {group.name} has no earlier successful deployment")
        return
    if not plan.order:
        run.notes.append(f"no rollback: deployment {failed.deployment_id} changed no host")
        return
    revision = stored_revision(recorder.history, good)
    message = (
        f"rollback of {failed.deployment_id}: the last good revision (of {good}) to the hosts it reached"
    )
    rollback = recorder.begin(
        revision,
        plan.order,
        run.notes,
        creator=ROLLBACK_CREATOR,
        rollback_of=failed.deployment_id,
        message=message,
        successor_of=successor_of,
    )
    run.rollback = rollback
    roll(steps, rollback, plan, revision)
    recorder.end(rollback, last_good=rollback.status == SUCCEEDED)
