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
import signal
import threading
from typing import Any, Callable, Dict, Iterator, List, TextIO

from agent_shim.fleet import dryrun
from agent_shim.fleet.command_output import check_timeline_option, write_result
from agent_shim.fleet.contracts import SUCCEEDED, HostSpec
from agent_shim.fleet.controller import Controller
from agent_shim.fleet.group import GroupFileError, load_group
from agent_shim.fleet.history import GroupBusy, History
from agent_shim.fleet.revisions import Revision, RevisionRefused, prepare_revision, unreadable_revision
from agent_shim.fleet.status_commands import cmd_history, cmd_show, cmd_status, cmd_stop, latest_deployment
from agent_shim.fleet.wiring import Context, controller_for, load_balancer_for, transport_factory
from appspec_tools.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CommandError, UsageError

__all__ = ["load_balancer_for", "run", "transport_factory"]  # the tests build controllers as the commands do


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


def cmd_rollback(context: Context) -> int:
    group, history = context.group, context.history
    notes = history.reconcile(group.application, group.name)
    latest = latest_deployment(context)
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
