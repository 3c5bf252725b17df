"""The verbs that read what the history knows: `status`, `show`, `history` and `stop` (which only sets
the running deployment's stop flag)."""

from __future__ import annotations

import json
import time
from typing import Any, Dict

from agent_shim.fleet.command_output import write_timelines
from agent_shim.fleet.contracts import SUCCEEDED, FleetDeployment
from agent_shim.fleet.group_state import serving_sets
from agent_shim.fleet.wiring import Context
from appspec_tools.errors import EXIT_FAILED, EXIT_OK, UsageError


def latest_deployment(context: Context) -> str:
    ids = context.history.deployment_ids(context.group.application, context.group.name, limit=1)
    if not ids:
        raise UsageError(
            f"deployment group {context.group.name} has no deployments in {context.history.path}"
        )
    return ids[0]


def cmd_stop(context: Context) -> int:
    group, history = context.group, context.history
    history.reconcile(group.application, group.name)
    running = history.holder(group.application, group.name)
    if context.args.target and context.args.target != running:
        raise UsageError(f"deployment {context.args.target} is not in progress")
    if running is None or not history.request_stop(running):
        context.err.write(f"appspec fleet stop: no deployment of group {group.name} is in progress\n")
        return EXIT_FAILED
    if context.format == "json":
        json.dump({"stop_requested": running}, context.out)
        context.out.write("\n")
    else:
        context.out.write(
            f"stop requested for deployment {running}: hosts in flight finish, no other host starts\n"
        )
    return EXIT_OK


def cmd_status(context: Context) -> int:
    from agent_shim.fleet import report

    group, history = context.group, context.history
    notes = history.reconcile(group.application, group.name)
    deployment = history.load(context.args.target or latest_deployment(context))
    timelines = write_timelines(context, [deployment])
    traffic = traffic_state(context)
    if context.format == "text":
        report.summary(deployment, context.out, timelines[0] if timelines else None)
        report.traffic_table(traffic, context.out)
        for note in notes:
            context.out.write(f"note: {note}\n")
    else:
        document = report.to_json(deployment)
        if timelines and timelines[0]:
            document["timeline"] = timelines[0]
        document["traffic"] = traffic
        json.dump(document, context.out, indent=2)
        context.out.write("\n")
    return EXIT_OK


def traffic_state(context: Context) -> Dict[str, Any]:
    """Which host takes traffic as this controller left it, the revision each one runs, and the hosts
    left out of the load balancer (or still in it, for a blue/green idle set) with the command that
    fixes each; empty without a load balancer. Hosts of a running deployment are not reported."""
    from agent_shim.fleet import traffic

    group, history = context.group, context.history
    if not group.load_balancer.enabled:
        return {}
    records = history.traffic(group.application, group.name)
    installed = history.installed_revisions(group.application, group.name)
    names = [h.name for h in group.hosts]
    sets = serving_sets(group, history)
    serving_set = list(sets.serving)
    idle_set = [n for n in names if n not in serving_set]
    running = history.holder(group.application, group.name)
    problems = [] if running else traffic.left_out(records, serving_set, idle_set)
    return {
        "hosts": {
            name: {
                "state": records[name].state if name in records else None,
                "since": records[name].since if name in records else None,
                "by": records[name].deployment_id if name in records else None,
                "revision": installed.get(name),
                "serving_set": name in serving_set,
            }
            for name in names
        },
        "in_progress": running,
        "problems": [p.describe(context.args.group) for p in problems],
    }


def cmd_show(context: Context) -> int:
    if not context.args.target:
        raise UsageError("show needs a deployment ID: appspec fleet show ID --group FILE (see `history`)")
    return cmd_status(context)


def cmd_history(context: Context) -> int:
    group, history = context.group, context.history
    history.reconcile(group.application, group.name)
    deployments = [
        history.load(i, events=False) for i in history.deployment_ids(group.application, group.name)
    ]
    if context.format != "text":
        json.dump([_brief(d) for d in deployments], context.out, indent=2)
        context.out.write("\n")
        return EXIT_OK
    state = history.group_state(group.application, group.name)
    context.out.write(
        f"deployment group {group.name} ({group.application}): last good {state.get('last_good') or '-'}\n"
    )
    rows = [("ID", "STATUS", "CREATOR", "STARTED", "DURATION", "HOSTS", "REVISION")]
    for d in deployments:
        brief = _brief(d)
        rows.append(
            (
                d.deployment_id,
                d.status,
                d.creator,
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(d.started)),
                f"{brief['duration']:.1f}s" if brief["duration"] is not None else "-",
                f"{brief['succeeded']}/{brief['hosts']} ok",
                d.revision,
            )
        )
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        context.out.write("  ".join(str(c).ljust(w) for c, w in zip(row, widths)) + f"  {row[-1]}\n")
    return EXIT_OK


def _brief(d: FleetDeployment) -> Dict[str, Any]:
    statuses = [o.status for o in d.hosts.values()]
    return {
        "deployment_id": d.deployment_id,
        "status": d.status,
        "creator": d.creator,
        "rollback_of": d.rollback_of,
        "style": d.style,
        "revision": d.revision,
        "started": d.started,
        "duration": (d.finished - d.started) if d.finished else None,
        "hosts": len(statuses),
        "succeeded": statuses.count(SUCCEEDED),
        "message": d.message,
    }
