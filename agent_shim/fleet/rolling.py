"""Running many hosts at once: the rolling window of a deployment, and a bounded pool for work that every
host of a list gets (a blue/green traffic trio, a withdrawal).

`roll` starts hosts as `scheduling.RollingWindow` allows (and `max_parallel_ssh` connections), one
thread each, collects their outcomes and records them, until the window has a verdict; the hosts after
the first window are staged in the SSH slots it leaves free. The first Ctrl-C while waiting is
`appspec fleet stop` (hosts in flight finish, none other starts); a second one leaves at once.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Callable, Dict, Sequence, TypeVar

from agent_shim.fleet.contracts import (
    FAILED,
    SKIPPED,
    STOPPED,
    SUCCEEDED,
    FleetDeployment,
    HostOutcome,
    HostSpec,
)
from agent_shim.fleet.host_steps import HostSteps
from agent_shim.fleet.revisions import Revision
from agent_shim.fleet.scheduling import RollingWindow, Schedule, Verdict
from agent_shim.fleet.staging import Staging

T = TypeVar("T")


def roll(
    steps: HostSteps,
    deployment: FleetDeployment,
    plan: Schedule,
    revision: Revision,
    traffic: bool = True,
) -> Verdict:
    """Deploy to the schedule's hosts, in its order, by its minimum healthy hosts; the hosts never started
    are Skipped with the verdict's reason. The deployment's status and message are the verdict's."""
    recorder, limit = steps.recorder, steps.group.max_parallel_ssh
    specs = steps.group.hosts_named(plan.order)
    at_once = plan.first_window(limit)
    staging = Staging(lambda spec: steps.stage(spec, revision, deployment), specs, limit - at_once)
    window = plan.window()
    staging.begin(skip=at_once)
    try:
        verdict = _run_window(steps, deployment, window, revision, traffic, staging)
    finally:
        staging.close()
    for name in window.skipped:
        why = (
            "not attempted: the deployment was stopped"
            if verdict.status == STOPPED
            else f"not attempted: {verdict.message}"
        )
        recorder.host_done(deployment, HostOutcome(name, SKIPPED, reason=why))
    deployment.status, deployment.message = verdict.status, verdict.message
    return verdict


def _run_window(
    steps: HostSteps,
    deployment: FleetDeployment,
    window: RollingWindow,
    revision: Revision,
    traffic: bool,
    staging: Staging,
) -> Verdict:
    """Start hosts as the window allows, collect their outcomes, until the window has a verdict."""
    recorder, limit = steps.recorder, steps.group.max_parallel_ssh
    done: queue.Queue[HostOutcome] = queue.Queue()
    running = 0
    while True:
        if not window.stopping and recorder.stop_wanted(deployment):
            window.stop()
        batch = window.start_next(limit - running)
        if batch:
            recorder.add_batch(deployment, batch)
        for name in batch:
            recorder.host_started(deployment, name)
            spec = steps.group.host(name)
            worker = threading.Thread(
                target=_host_worker,
                args=(steps, deployment, spec, revision, traffic, staging, done),
                daemon=True,
            )
            worker.start()
            running += 1
        verdict = window.verdict
        if verdict is not None:
            return verdict
        try:
            outcome = done.get(timeout=recorder.poll)
        except queue.Empty:
            continue
        except KeyboardInterrupt:  # the first Ctrl-C is `appspec fleet stop`; a second one leaves
            if window.stopping:
                raise
            recorder.request_stop(deployment)
            continue
        running -= 1
        window.finished(outcome.host, outcome.status == SUCCEEDED)
        recorder.host_done(deployment, outcome)


def _host_worker(
    steps: HostSteps,
    deployment: FleetDeployment,
    spec: HostSpec,
    revision: Revision,
    traffic: bool,
    staging: Staging,
    done: queue.Queue,
) -> None:
    try:
        outcome = steps.deploy_host(deployment, spec, revision, traffic, staging)
    except Exception as exc:  # noqa: BLE001 - a bug must not hang the deployment: the host fails
        outcome = HostOutcome(spec.name, FAILED, reason=f"internal error: {type(exc).__name__}: {exc}")
    done.put(outcome)


def each_host(
    steps: HostSteps, deployment: FleetDeployment, names: Sequence[str], work: Callable[[str], T]
) -> Dict[str, T]:
    """`work(name)` for every host, at most max_parallel_ssh at once; host → its result. The first
    Ctrl-C while waiting is `appspec fleet stop` (the work in flight finishes, none other starts:
    those hosts have no result); a second one leaves at once."""
    if not names:
        return {}
    recorder = steps.recorder
    pool = ThreadPoolExecutor(
        max_workers=max(1, min(steps.group.max_parallel_ssh, len(names))), thread_name_prefix="host"
    )
    futures = {pool.submit(work, name): name for name in names}
    waiting = set(futures)
    stopping = False
    try:
        while waiting:
            try:
                _, waiting = wait(waiting, timeout=recorder.poll)
            except KeyboardInterrupt:
                if stopping:
                    raise
                recorder.request_stop(deployment)
            if not stopping and recorder.stop_wanted(deployment):
                stopping = True
                for future in waiting:
                    future.cancel()  # not started yet: it never will
    finally:
        pool.shutdown(wait=False)
    return {futures[f]: f.result() for f in futures if f.done() and not f.cancelled()}
