"""`appspec deploy` on this host: arguments → DeploymentRequest → live lines → report and exit code."""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from typing import List, Optional, TextIO

from agent_shim.bundle import BundleError, parse_location
from agent_shim.deployment import (
    FAILED,
    SKIPPED,
    DeploymentRequest,
    DeploymentResult,
    EventCallback,
    deploy,
    origin_location,
)
from agent_shim.events import EventRecord, event_line, event_start_line, result_line
from agent_shim.hook_executor import SAFE_KILL_GRACE
from agent_shim.layout import DEFAULT_ROOT, LOCAL_GROUP_ID
from agent_shim.lock import GroupLocked
from agent_shim.plan import PlanError
from appspec_tools.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE

TAIL_LINES = 12


def request_from(args: argparse.Namespace) -> DeploymentRequest:
    if not args.bundle:
        raise PlanError(
            "appspec deploy: --bundle is required (a folder, .zip, .tar, .tgz or s3://bucket/key)"
        )
    parse_location(args.bundle, args.bundle_type)  # a bundle that is not there is a usage error: exit 2
    origin = args.bundle_origin or ""
    if origin:
        try:
            origin_location(origin)
        except BundleError as exc:
            raise PlanError(f"appspec deploy: --bundle-origin {exc}") from None
    return DeploymentRequest(
        bundle=args.bundle,
        bundle_type=args.bundle_type,
        application=args.application,
        group_id=args.deployment_group or LOCAL_GROUP_ID,  # codedeploy-local's --deployment-group
        group_name=args.deployment_group_name,
        file_exists_behavior=args.file_exists_behavior,
        ignore_application_stop_failures=args.ignore_application_stop_failures,
        events=args.events.split(",") if args.events else None,
        with_load_balancer=args.with_load_balancer,
        root=args.root or DEFAULT_ROOT,
        max_revisions=args.max_revisions,
        appspec_filename=args.appspec_filename,
        rollback=args.rollback,
        kill_grace=kill_grace(args),
        safe=args.safe,
        install_root=args.install_root or "",
        deployment_id=args.deployment_id,
        exact_events=args.exact_events,
        skip_lint=args.skip_lint,
        bundle_origin=origin,
        creator=args.creator,
        deployment_type=args.deployment_type,
    )


def kill_grace(args: argparse.Namespace) -> Optional[float]:
    """None (the agent: wait for a timed-out script) unless asked for, or --safe."""
    if args.kill_grace is not None:
        return float(args.kill_grace)
    return SAFE_KILL_GRACE if args.safe else None


class RunningEvent:
    """On a terminal, `EVENT running 12s` redrawn in place while an event runs for more than half a
    second, and cleared when it ends."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._drawn = False

    def start(self, name: str) -> None:
        self.stop()
        self._stop.clear()
        started = time.monotonic()

        def tick() -> None:
            while not self._stop.wait(0.5 if not self._drawn else 1.0):
                self.out.write(f"\r  {name:<20} running {time.monotonic() - started:5.0f}s")
                self.out.flush()
                self._drawn = True

        self._thread = threading.Thread(target=tick, name="running-event", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        if self._drawn:
            self.out.write("\r" + " " * 40 + "\r")
            self._drawn = False


class LiveLines:
    """One line per finished event; a header per deployment (the rollback is a second one). On a
    terminal the running event shows its time so far."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.seen: set = set()
        self.running = RunningEvent(out) if hasattr(out, "isatty") and out.isatty() else None

    def __call__(self, name: str, event: Optional[EventRecord], result: DeploymentResult) -> None:
        if self.running is not None:
            self.running.stop()
        self._line(name, event, result)
        if event is None and self.running is not None:
            self.running.start(name)

    def _line(self, name: str, event: Optional[EventRecord], result: DeploymentResult) -> None:
        if result.deployment_id not in self.seen:
            self.seen.add(result.deployment_id)
            kind = "rollback " if result.creator == "codeDeployRollback" else ""
            self.out.write(
                f"{kind}deployment {result.deployment_id}: group {result.group_id}, revision {result.bundle}\n"
            )
            for line in result.lint:  # before the first event: what the agent will meet
                self.out.write(f"  lint: {line}\n")
        if event is None:
            return
        note = ""
        if event.status == SKIPPED:
            note = "  (no scripts to run)"
        elif event.status == FAILED:
            note = f"  {event.error_name}: {event.message}"
        self.out.write(f"  {event.event:<20} {event.status.lower():<10} {event.duration:7.2f}s{note}\n")
        self.out.flush()


class JsonLines:
    """One JSON object per line: `event-start`, `event` (finished) and, at the end, `result`. The fleet
    controller reads this from each host's runner over SSH."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def __call__(self, name: str, event: Optional[EventRecord], result: DeploymentResult) -> None:
        if event is None:
            self.out.write(event_start_line(result.deployment_id, name, time.time()))
        else:
            self.out.write(event_line(result.deployment_id, event))
        self.out.flush()


def describe_failure(result: DeploymentResult, out: TextIO) -> None:
    event = result.failed_event
    if event is not None and event.log_tail:
        out.write(f"    last lines of {os.path.join(result.deployment_dir, 'logs', 'scripts.log')}:\n")
        for line in event.log_tail.splitlines()[-TAIL_LINES:]:
            out.write(f"    | {line}\n")
    if result.lint and not result.events:
        for line in result.lint:
            out.write(f"    {line}\n")
    out.write(f"deployment {result.deployment_id} failed: {result.message}\n")


def describe_success(result: DeploymentResult, out: TextIO) -> None:
    archive = os.path.join(result.deployment_dir, "deployment-archive")
    out.write(f"deployment {result.deployment_id} succeeded in {result.duration:.1f}s\n")
    out.write(
        f"  revision: {archive}\n  scripts log: {os.path.join(result.deployment_dir, 'logs', 'scripts.log')}\n"
    )


def check_urls(urls: List[str], out: TextIO) -> bool:
    """GET each URL (urllib: the base install has no requests); healthy when every answer is below 400."""
    import urllib.error
    import urllib.request

    healthy = True
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                status, text = response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:  # an answer, with a status of 400 or more
            status, text = exc.code, exc.read().decode("utf-8", "replace")
        except (OSError, ValueError) as exc:  # URLError, timeouts, refused, a malformed URL
            out.write(f"  GET {url}: failed ({type(exc).__name__})\n")
            healthy = False
            continue
        body = text.strip().splitlines()[0][:80] if text.strip() else ""
        out.write(f"  GET {url}: {status} {body}\n")
        healthy = healthy and status < 400
    return healthy


def report(result: DeploymentResult, out: TextIO) -> None:
    if result.succeeded:
        describe_success(result, out)
    else:
        describe_failure(result, out)
    for warning in result.warnings:
        out.write(f"  warning: {warning}\n")
    if result.rollback is not None:
        rollback = result.rollback
        if rollback.succeeded:
            out.write(f"rolled back: deployment {rollback.deployment_id} redeployed {rollback.bundle}\n")
        else:
            describe_failure(rollback, out)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        request = request_from(args)
        live: Optional[EventCallback] = None
        if args.output_format == "text" and not getattr(args, "quiet", False):
            live = LiveLines(out)
            request.progress_to = err
        elif args.output_format == "jsonl":
            live = JsonLines(out)
        try:
            result = deploy(request, live)
        finally:
            if isinstance(live, LiveLines) and live.running is not None:
                live.running.stop()
    except BundleError as exc:
        err.write(f"appspec deploy: {exc}\n")
        return EXIT_USAGE
    except (PlanError, ValueError, GroupLocked) as exc:
        err.write(f"{exc}\n")
        return EXIT_USAGE
    except PermissionError as exc:
        err.write(
            f"appspec deploy: permission denied: {exc.filename}; run as root, or pass --root DIR "
            "(and --install-root DIR) to rehearse as an ordinary user\n"
        )
        return EXIT_USAGE
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        err.write(f"appspec deploy: {exc.strerror or exc}{where}; check --root and --install-root\n")
        return EXIT_USAGE
    healthy = True
    if result.input_error and args.output_format == "text":  # one line, as a usage error
        err.write(f"appspec deploy: {result.message}\n")
        return EXIT_USAGE
    if args.output_format == "json":
        json.dump(result.to_dict(), out, indent=2)
        out.write("\n")
    elif args.output_format == "jsonl":
        out.write(result_line(result.to_dict()))
    else:
        report(result, out)
        if result.succeeded:
            healthy = check_urls(args.check_url, out)
    if result.input_error:
        return EXIT_USAGE  # not a revision at all: an input error, as in `appspec lint`
    return EXIT_OK if result.succeeded and healthy else EXIT_FAILED
