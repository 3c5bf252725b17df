"""The dry run of a fleet deployment (`appspec fleet plan`): the order, the batches the rolling window
would start if every host succeeds, and what each host would go through and run. Reads the group file
and the history only; no host is contacted."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, TextIO

from agent_shim.fleet.contracts import HostSpec
from agent_shim.fleet.controller import Controller
from agent_shim.fleet.group import LOCAL
from agent_shim.fleet.group_state import schedule_for, serving_sets
from agent_shim.fleet.host_steps import TRAFFIC_STEPS
from agent_shim.fleet.revisions import Revision


def build_plan(controller: Controller, bundle: Optional[str], bundle_type: Optional[str]) -> Dict[str, Any]:
    """What a deployment of `bundle` would do, from the group file and the history (the controller's);
    no host is contacted."""
    group, history = controller.group, controller.history
    sets = serving_sets(group, history)
    blue_green = group.blue_green is not None
    targets = list(sets.idle) if blue_green else [h.name for h in group.hosts]
    scheduled = schedule_for(group, history, targets, replacement_set=blue_green)
    order, minimum = list(scheduled.order), scheduled.minimum
    health = history.host_health(group.application, group.name, order)
    lb = group.load_balancer
    with_lb = lb.enabled and group.blue_green is None
    placeholder = Revision(
        bundle or "BUNDLE",
        "<uploaded revision>",
        bundle_type or "tgz",
        "",
        origin=bundle
        if bundle and bundle.startswith("s3://")
        else "",  # the version and ETag come at run time
    )
    steps = host_steps(with_lb, lb.enabled and group.blue_green is not None)
    hosts = []
    for name in order:
        spec = group.host(name)
        hosts.append(
            {
                "host": name,
                "address": spec.address,
                "via": "this machine" if spec.address == LOCAL else ssh_target(spec),
                "health": health[name].instance,
                "revision": health[name].revision,
                "runner": [
                    "appspec",
                    "deploy",
                    *controller.runner_arguments(spec, "<uploaded revision>", placeholder),
                    "--format",
                    "jsonl",
                ],
                "steps": steps,
                "runner_steps": [list(step) for step in TRAFFIC_STEPS] if with_lb else [],
            }
        )
    plan: Dict[str, Any] = {
        "application": group.application,
        "deployment_group": group.name,
        "config": group.config.describe(len(order)),
        "minimum_healthy_hosts": minimum,
        "load_balancer": lb.type,
        "batches": scheduled.batches(group.max_parallel_ssh),
        "hosts": hosts,
        "fails_at_once": minimum >= len(order),
        "revision": bundle,
        "auto_rollback": group.auto_rollback,
    }
    if group.blue_green is not None:
        originals = list(sets.serving)
        plan["blue_green"] = {
            "serving": originals,
            "replacement": order,
            "keep_originals_seconds": group.blue_green.keep_blue_seconds,
            "switch": [
                f"{trio('AllowTraffic')} on {', '.join(order)}",
                f"{trio('BlockTraffic')} on {', '.join(originals)}",
            ]
            if lb.enabled
            else [],
        }
    return plan


def host_steps(in_place_traffic: bool, blue_green_traffic: bool) -> List[str]:
    """What a host goes through, the load balancer's events in brackets: CodeDeploy's in-place order
    with the traffic events, or a blue/green replacement's lifecycle and its AllowTraffic trio."""
    if in_place_traffic:
        before, middle, after = TRAFFIC_STEPS
        return [*before, "[BlockTraffic]", *middle, "[AllowTraffic]", *after]
    from agent_shim.plan import default_events

    return default_events(False) + ([trio("AllowTraffic")] if blue_green_traffic else [])


def trio(event: str) -> str:
    return f"Before{event} → [{event}] → After{event}"


def ssh_target(spec: HostSpec) -> str:
    user = f"{spec.user}@" if spec.user else ""
    port = f":{spec.port}" if spec.port else ""
    note = "" if spec.port or spec.user else " (ssh_config may set user, port, key)"
    return f"ssh {user}{spec.address}{port}{note}"


def write_plan(plan: Dict[str, Any], out: TextIO) -> None:
    out.write(f"plan: deployment group {plan['deployment_group']} ({plan['application']})")
    out.write(f", revision {plan['revision']}\n" if plan["revision"] else " (no --bundle given)\n")
    out.write(f"  config: {plan['config']}\n")
    out.write(
        f"  load balancer: {plan['load_balancer']}; automatic rollback: {'on' if plan['auto_rollback'] else 'off'}\n"
    )
    if "blue_green" in plan:
        bg = plan["blue_green"]
        out.write(
            f"  blue/green: serving {', '.join(bg['serving'])}; deploying to {', '.join(bg['replacement'])}\n"
        )
    out.write("  order (unhealthy first, then unknown, old, current revision), if every host succeeds:\n")
    for number, batch in enumerate(plan["batches"], 1):
        out.write(f"    batch {number}: {', '.join(batch)}\n")
    if plan["fails_at_once"]:
        out.write(
            "    none: the minimum healthy hosts leaves no host to deploy to; the deployment would fail at once\n"
        )
    for host in plan["hosts"]:
        out.write(f"  {host['host']}: {host['via']}; {host['health']}, {host['revision']} revision\n")
        out.write(f"    {' → '.join(host['steps'])}\n")
        out.write(f"    runs: {' '.join(host['runner'])}\n")
        if host["runner_steps"]:
            parts = " | ".join(",".join(step) for step in host["runner_steps"])
            out.write(
                f"      in {len(host['runner_steps'])} steps of one host deployment (--events …): {parts}\n"
            )
    if "blue_green" in plan:
        bg = plan["blue_green"]
        switch = f"{bg['switch'][0]}; then {bg['switch'][1]}; " if bg["switch"] else ""
        out.write(f"  then: {switch}originals kept {bg['keep_originals_seconds']:g}s\n")
    for line in plan["lint"]:
        out.write(f"  {line}\n")
    checked = plan.get("preflight")
    if checked is None:
        out.write("dry run: no host was contacted and nothing was changed\n")
        return
    for line in checked["problems"]:
        out.write(f"  {line}\n")
    verdict = "no problem" if not checked["problems"] else f"{len(checked['problems'])} problem(s)"
    out.write(
        f"preflight: {verdict}; {len(checked['answered'])} host(s) answered over SSH. Dry run: nothing was changed\n"
    )
