"""`appspec fleet VERB --group FILE …`: the fleet's command line (the parser is
appspec_tools/fleet_options.py: each verb has only its own options).

    appspec fleet deploy --group FILE --bundle B   deploy B to the group's hosts
    appspec fleet plan --group FILE [--bundle B]   dry run: order, batches, what each host runs
    appspec fleet check --group FILE [--bundle B]  the preflight alone: hosts answer, names resolve
    appspec fleet status [ID] --group FILE         the latest (or ID) deployment, hosts' last known state
    appspec fleet history --group FILE             the group's deployments, newest first
    appspec fleet show ID --group FILE             one deployment in full (--format json for JSON)
    appspec fleet rollback [ID] --group FILE       roll back the latest deployment
    appspec fleet stop [ID] --group FILE           ask the running deployment to stop
    appspec fleet sync HOST --group FILE           give HOST the group's last good revision

Exit codes: 0 succeeded, 1 the deployment failed or stopped (or nothing to stop), 2 usage, group file or
history problems, a preflight problem, or the group is busy.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, TextIO

from agent_shim.fleet import dryrun
from agent_shim.fleet.contracts import (
    IN_PROGRESS,
    SUCCEEDED,
    FleetDeployment,
    HostEvent,
    HostSpec,
    LoadBalancer,
)
from agent_shim.fleet.controller import Controller, FleetRun
from agent_shim.fleet.group import LOCAL, DeploymentGroup, GroupFileError, load_group
from agent_shim.fleet.history import GroupBusy, History
from agent_shim.fleet.revisions import Revision, RevisionRefused, prepare_revision, unreadable_revision
from appspec_tools.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CommandError, UsageError
from appspec_tools.fileio import write_atomically


@dataclass
class Context:
    args: argparse.Namespace
    group: DeploymentGroup
    history: History
    out: TextIO
    err: TextIO

    @property
    def format(self) -> str:
        return getattr(self.args, "output_format", "text") or "text"


class PreflightRefused(UsageError):
    """The preflight found problems: nothing was deployed and nothing recorded; one line each."""


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    action = getattr(args, "action", None) or "run"
    name = f"appspec fleet {getattr(args, 'fleet_verb', None) or action}"
    try:
        group = load_group(args.group)
    except GroupFileError as exc:
        err.write(f"{exc}\n")
        return EXIT_USAGE
    try:
        history = History(group.history_path)
    except Exception as exc:  # noqa: BLE001 - sqlite3.Error, OSError: one line
        err.write(f"{name}: cannot open the history {group.history_path}: {exc}\n")
        return EXIT_USAGE
    context = Context(args, group, history, out, err)
    try:
        check_timeline_option(action, getattr(args, "timeline", None))
        return HANDLERS[action](context)
    except PreflightRefused as exc:
        err.write(f"{exc}\n")
        return EXIT_USAGE
    except (UsageError, GroupBusy, RevisionRefused, KeyError) as exc:
        text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        err.write(f"{name}: {text}\n" if "\n" not in text else f"{text}\n")
        return exc.exit_code if isinstance(exc, CommandError) else EXIT_USAGE
    finally:
        history.close()


# Wiring the controller ---------------------------------------------------------------------------------
def transport_factory(group: DeploymentGroup) -> Callable[[HostSpec], Any]:
    def make(spec: HostSpec) -> Any:
        if spec.address == LOCAL:
            from agent_shim.fleet.transport_local import LocalTransport

            return LocalTransport(spec)
        from agent_shim.fleet.transport_ssh import SshTransport

        return SshTransport(
            spec,
            known_hosts=group.ssh.known_hosts,
            host_key_policy=group.ssh.host_key_policy,
            ssh_config=group.ssh.config,
            connect_timeout=group.ssh.connect_timeout,
            server_alive_interval=group.ssh.server_alive_interval,
            server_alive_count_max=group.ssh.server_alive_count_max,
        )

    return make


def load_balancer_for(group: DeploymentGroup) -> LoadBalancer:
    from agent_shim.fleet import lb

    settings = group.load_balancer
    if settings.type == "haproxy":
        return lb.HaproxyLoadBalancer(
            settings.socket or "", settings.backend or "", health_check=group.health_check
        )
    if settings.type == "elbv2":
        return lb.Elbv2LoadBalancer(
            settings.target_group_arns,
            settings.region,
            endpoint_url=settings.endpoint_url,
            port=settings.port,
        )
    return lb.NoLoadBalancer()


def controller_for(context: Context) -> Controller:
    group = context.group
    runner = None
    if any(h.address != LOCAL for h in group.hosts):
        from agent_shim.fleet.runner import build_runner

        runner = build_runner()
    return Controller(
        group,
        context.history,
        transport_factory(group),
        load_balancer_for(group),
        runner=runner,
        progress=progress_for(context),
        appspec_filename=getattr(context.args, "appspec_filename", None) or "appspec.yml",
    )


def progress_for(context: Context) -> Optional[Callable[[FleetDeployment], Any]]:
    if context.format == "jsonl":
        return lambda deployment: JsonEvents(context.out, deployment)
    if context.format != "text" or getattr(context.args, "quiet", False):
        return None
    from agent_shim.fleet import report

    return lambda deployment: report.live_view(context.out, deployment)


class JsonEvents:
    """`--format jsonl`: one JSON line per host event as it happens."""

    def __init__(self, out: TextIO, deployment: FleetDeployment) -> None:
        self.out, self.deployment_id = out, deployment.deployment_id

    def __call__(self, event: HostEvent) -> None:
        record = {
            "type": "event-start" if event.status == IN_PROGRESS else "event",
            "deployment_id": self.deployment_id,
        }
        record.update(vars(event))
        self.out.write(json.dumps(record) + "\n")
        self.out.flush()

    def host_waiting(self, host: str, text: str) -> None:
        record = {"type": "waiting", "deployment_id": self.deployment_id, "host": host, "on": text}
        self.out.write(json.dumps(record) + "\n")
        self.out.flush()


TIMELINE_ACTIONS = ("run", "rollback", "sync", "show", "status")
TIMELINE_SUFFIXES = (".svg", ".html", ".htm")


def check_timeline_option(action: str, path: Optional[str]) -> None:
    """Refuse a --timeline that cannot be written before anything is deployed."""
    if not path:
        return
    if action not in TIMELINE_ACTIONS:
        raise UsageError(f"--timeline goes with {', '.join(TIMELINE_ACTIONS)}, not {action}")
    if not path.lower().endswith(TIMELINE_SUFFIXES):
        raise UsageError(f"--timeline {path}: name an .svg picture or an .html page")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"--timeline {path}: folder {folder} does not exist")


def write_timelines(context: Context, deployments: List[FleetDeployment]) -> List[Optional[str]]:
    """`--timeline FILE`: the first deployment's timeline in FILE, a rollback's beside it as
    FILE-rollback.svg|html; per deployment, the path written (None when it could not be)."""
    from agent_shim.fleet import report

    path = getattr(context.args, "timeline", None)
    if not path:
        return []
    stem, suffix = os.path.splitext(path)
    written: List[Optional[str]] = []
    for index, deployment in enumerate(deployments):
        target = path if index == 0 else f"{stem}-rollback{suffix}"
        svg = suffix.lower() == ".svg"
        text = report.timeline_svg(deployment) if svg else report.timeline_html(deployment)
        try:
            write_atomically(target, text)
        except OSError as exc:  # the deployment is over and recorded: say so, report the rest
            context.err.write(f"appspec fleet: cannot write the timeline {target}: {exc.strerror or exc}\n")
            target = None
        written.append(target)
    return written


def write_result(context: Context, run: FleetRun, deployments: List[FleetDeployment]) -> None:
    from agent_shim.fleet import report

    timelines = write_timelines(context, deployments)
    if context.format == "text":
        for index, deployment in enumerate(deployments):
            report.summary(deployment, context.out, timelines[index] if timelines else None)
        for note in run.notes:
            context.out.write(f"note: {note}\n")
        return
    document = {
        "deployment": report.to_json(deployments[0]),
        "rollback": report.to_json(deployments[1]) if len(deployments) > 1 else None,
        "notes": run.notes,
    }
    if timelines:
        document["timelines"] = [path for path in timelines if path]
    if context.format == "jsonl":
        context.out.write(json.dumps({"type": "result", **document}) + "\n")
    else:
        json.dump(document, context.out, indent=2)
        context.out.write("\n")


# Actions ---------------------------------------------------------------------------------------------
def cmd_run(context: Context) -> int:
    args = context.args
    if not getattr(args, "bundle", None):
        raise UsageError("--bundle is required (a folder, .zip, .tar, .tgz or s3://bucket/key)")
    notes = context.history.reconcile(context.group.application, context.group.name)
    revision = prepare_revision(args.bundle, getattr(args, "bundle_type", None), context.history)
    controller = controller_for(context)
    checked = run_preflight(context, controller, controller.planned_hosts(), revision)
    try:
        with ctrl_c_stops(controller, context.err):
            run = controller.deploy(revision)
    finally:
        checked.close()
    run.notes[:0] = notes
    context.history.prune_revisions()
    write_result(context, run, [d for d in (run.deployment, run.rollback) if d is not None])
    return EXIT_OK if run.deployment.status == SUCCEEDED else EXIT_FAILED


def _latest(context: Context) -> str:
    ids = context.history.deployment_ids(context.group.application, context.group.name, limit=1)
    if not ids:
        raise UsageError(
            f"deployment group {context.group.name} has no deployments in {context.history.path}"
        )
    return ids[0]


def cmd_rollback(context: Context) -> int:
    group, history = context.group, context.history
    notes = history.reconcile(group.application, group.name)
    latest = _latest(context)
    target = context.args.target or latest
    if target != latest:
        raise UsageError(
            f"only the group's latest deployment ({latest}) can be rolled back; to go back further, deploy the "
            "revision you want"
        )
    controller = controller_for(context)
    run_preflight(context, controller, context.group.hosts, None, connect=False)
    with ctrl_c_stops(controller, context.err):
        run = controller.rollback(target)
    run.notes[:0] = notes
    assert run.rollback is not None
    write_result(context, run, [run.rollback])
    return EXIT_OK if run.rollback.status == SUCCEEDED else EXIT_FAILED


def cmd_sync(context: Context) -> int:
    if not context.args.target:
        raise UsageError("sync needs the HOST to bring up to date: appspec fleet sync HOST --group FILE")
    notes = context.history.reconcile(context.group.application, context.group.name)
    controller = controller_for(context)
    host = context.group.host(context.args.target)
    checked = run_preflight(context, controller, [host], Revision("", "", "", ""))
    try:
        with ctrl_c_stops(controller, context.err):
            run = controller.sync(context.args.target)
    finally:
        checked.close()
    run.notes[:0] = notes
    write_result(context, run, [run.deployment])
    return EXIT_OK if run.deployment.status == SUCCEEDED else EXIT_FAILED


@contextlib.contextmanager
def ctrl_c_stops(controller: Controller, err: TextIO) -> Iterator[None]:
    """While a deployment runs, the first Ctrl-C is `appspec fleet stop` for the deployment in progress
    (hosts in flight finish, a blue/green switch is undone), whatever the controller is doing when it
    comes; a second one leaves at once (the deployment then reads as interrupted)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed: List[int] = []

    def on_interrupt(signum: int, frame: Any) -> None:
        if pressed:
            raise KeyboardInterrupt
        pressed.append(signum)
        controller.stop_signal.set()
        err.write("appspec fleet: stopping: the hosts in flight finish (Ctrl-C again to leave at once)\n")
        err.flush()

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_preflight(
    context: Context, controller: Controller, hosts: List[HostSpec], revision: Any, connect: bool = True
) -> Any:
    """The preflight before anything changes (preflight.py); raises PreflightRefused with its lines.
    The open connections it made go to the controller. `--no-preflight` skips it: hosts that cannot be
    reached then fail one by one, by the minimum healthy hosts."""
    from agent_shim.fleet.preflight import Preflight

    if getattr(context.args, "no_preflight", False):
        return Preflight()
    checked = preflight_of(context, controller, hosts, revision, connect)
    if not checked.ok:
        checked.close()
        lines = checked.lines(context.group)
        count = len(lines)
        raise PreflightRefused(
            "\n".join(lines)
            + f"\nappspec fleet: {count} problem{'s' * (count != 1)} found before any host was changed; nothing "
            "was deployed (fix them, or run with --no-preflight to deploy to the hosts that work)"
        )
    controller.connections = checked
    return checked


def preflight_of(
    context: Context, controller: Controller, hosts: List[HostSpec], revision: Any, connect: bool = True
) -> Any:
    """preflight.preflight with this controller's transports, load balancer and runner."""
    from agent_shim.fleet.preflight import preflight

    return preflight(
        context.group,
        hosts,
        controller.transport_for,
        controller.lb,
        runner=controller.runner,
        revision=revision,
        connect=connect,
    )


def cmd_check(context: Context) -> int:
    """`appspec fleet check`: the preflight alone, on every host of the group (like `cap deploy:check`)."""
    controller = controller_for(context)
    bundle = getattr(context.args, "bundle", None)
    revision = (
        prepare_revision(bundle, getattr(context.args, "bundle_type", None), context.history)
        if bundle
        else None
    )
    hosts = controller.planned_hosts()
    checked = preflight_of(context, controller, hosts, revision)
    checked.close()
    lines = checked.lines(context.group)
    if context.format != "text":
        json.dump(
            {
                "ok": checked.ok,
                "problems": lines,
                "answered": checked.checked,
                "hosts": [h.name for h in hosts],
            },
            context.out,
            indent=2,
        )
        context.out.write("\n")
        return EXIT_OK if checked.ok else EXIT_USAGE
    for line in lines:
        context.err.write(line + "\n")
    lb = context.group.load_balancer
    names = f"; {lb.type} knows every host" if lb.enabled and checked.ok else ""
    if checked.ok:
        context.out.write(
            f"check: {len(checked.checked)} of {len(hosts)} hosts of deployment group {context.group.name} answer "
            f"over SSH and have python3{names}; nothing was changed\n"
        )
        return EXIT_OK
    context.err.write(
        f"appspec fleet check: {len(lines)} problem{'s' * (len(lines) != 1)}; nothing was changed\n"
    )
    return EXIT_USAGE


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
    deployment = history.load(context.args.target or _latest(context))
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
    serving_set, idle_set = names, []
    if group.blue_green is not None:
        live = history.group_state(group.application, group.name)["live_set"]
        serving_set = list(group.blue_green.green if live == "green" else group.blue_green.blue)
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


# The dry run -----------------------------------------------------------------------------------------
def cmd_plan(context: Context) -> int:
    bundle = getattr(context.args, "bundle", None)
    problems: List[str] = []
    if bundle and not bundle.startswith("s3://"):
        from appspec_tools import bundler

        try:
            bundler.lint_revision(bundle)
        except bundler.LintRefused as exc:
            problems = [
                f"{p.path}:{p.line}:{p.column}: {p.severity.label} {p.rule_id} {p.message}"
                for p in exc.problems
            ]
        except (bundler.BundleError, OSError) as exc:  # not a revision at all: an input error
            raise unreadable_revision(bundle, exc) from None
    controller = Controller(
        context.group, context.history, transport_factory(context.group), load_balancer_for(context.group)
    )
    plan = dryrun.build_plan(controller, bundle, getattr(context.args, "bundle_type", None))
    plan["lint"] = problems
    code = EXIT_FAILED if problems or plan["fails_at_once"] else EXIT_OK
    if getattr(context.args, "connect", False):
        checked = preflight_of(context, controller, controller.planned_hosts(), None)
        checked.close()
        plan["preflight"] = {"problems": checked.lines(context.group), "answered": checked.checked}
        code = EXIT_USAGE if not checked.ok else code
    if context.format != "text":
        json.dump(plan, context.out, indent=2)
        context.out.write("\n")
        return code
    dryrun.write_plan(plan, context.out)
    return code


HANDLERS: Dict[str, Callable[[Context], int]] = {
    "run": cmd_run,
    "plan": cmd_plan,
    "check": cmd_check,
    "status": cmd_status,
    "history": cmd_history,
    "show": cmd_show,
    "rollback": cmd_rollback,
    "stop": cmd_stop,
    "sync": cmd_sync,
}
