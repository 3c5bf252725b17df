"""The fleet controller: runs one deployment of a group, host by host, by CodeDeploy's rules.

Per host (in-place): BlockTraffic through the load balancer → the host runner (`appspec deploy
--format jsonl`: BeforeBlockTraffic, AfterBlockTraffic, ApplicationStop … ValidateService,
BeforeAllowTraffic, AfterAllowTraffic when a load balancer is configured) → AllowTraffic. The runner
cannot pause between its events, so the controller's two traffic events frame the whole run; see
docs/fleet.md. Which hosts start when is `config.RollingWindow`'s decision; every event, host result and
the deployment's end go to the `History` as they happen. One host's failure is data, never an exception.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

from agent_shim.fleet.config import RollingWindow, Verdict, deployment_order
from agent_shim.fleet.contracts import (
    FAILED,
    IN_PROGRESS,
    INTERRUPTED,
    PENDING,
    SKIPPED,
    STOPPED,
    SUCCEEDED,
    FleetDeployment,
    HostEvent,
    HostOutcome,
    HostSpec,
    HostTransport,
    LoadBalancer,
)
from agent_shim.fleet.group import DeploymentGroup
from agent_shim.fleet.history import History
from agent_shim.fleet.revisions import Revision, RevisionRefused
from agent_shim.fleet.staging import StagedHost, Staging, stage_host
from agent_shim.fleet.traffic import CHANGING, IN, OUT, not_serving, serving_order
from agent_shim.layout import new_deployment_id
from agent_shim.plan import BLUE_GREEN, IN_PLACE, ROLLBACK_CREATOR, default_events
from appspec_tools.errors import one_line

# The host's lifecycle around the load balancer's BlockTraffic and AllowTraffic, run as three steps:
# BeforeBlockTraffic | AfterBlockTraffic ... BeforeAllowTraffic | AfterAllowTraffic.
_WITH_LB = default_events(with_load_balancer=True)
TRAFFIC_STEPS: Tuple[Tuple[str, ...], ...] = (
    tuple(_WITH_LB[:1]),
    tuple(_WITH_LB[1:-1]),
    tuple(_WITH_LB[-1:]),
)

REPLACEMENT, ORIGINAL, TRAFFIC = "replacement", "original", "traffic"  # host roles in the history
TransportFactory = Callable[[HostSpec], HostTransport]
T = TypeVar("T")


@dataclass
class FleetRun:
    deployment: FleetDeployment
    rollback: Optional[FleetDeployment] = None
    notes: List[str] = field(default_factory=list)  # e.g. an interrupted deployment found, no rollback


def received(deployment: FleetDeployment) -> List[str]:
    """The hosts a deployment reached: every host with a result but those it failed before touching
    (an SSH or upload failure leaves no event)."""
    return [
        name
        for name, outcome in deployment.hosts.items()
        if outcome.status in (SUCCEEDED, INTERRUPTED) or (outcome.status == FAILED and outcome.events)
    ]


class Controller:
    def __init__(
        self,
        group: DeploymentGroup,
        history: History,
        transport_for: TransportFactory,
        load_balancer: LoadBalancer,
        runner: Any = None,  # agent_shim.fleet.runner.RunnerZipapp (path, checksum) or None
        progress: Optional[Callable[[FleetDeployment], Any]] = None,
        appspec_filename: str = "appspec.yml",
        poll: float = 0.2,
    ) -> None:
        self.group = group
        self.history = history
        self.transport_for = transport_for
        self.lb = load_balancer
        self.runner = runner
        self.progress_factory = progress
        self.appspec_filename = appspec_filename
        self.poll = poll
        self.views: Dict[str, Any] = {}
        self.connections: Any = None  # a preflight.Preflight whose open connections the deployment uses
        self.stop_signal = threading.Event()  # set by the command's Ctrl-C handler: stop what runs now

    # Entry points ------------------------------------------------------------------------------------
    def deploy(self, revision: Revision) -> FleetRun:
        if self.group.blue_green is not None:
            from agent_shim.fleet import bluegreen

            return bluegreen.deploy(self, revision)
        names = [h.name for h in self.group.hosts]
        down = self.not_serving(names)
        order = serving_order(
            deployment_order(names, self.history.host_health(self.group.application, self.group.name, names)),
            down,
        )
        notes: List[str] = []
        run = FleetRun(self._begin(revision, order, notes), notes=notes)
        if down:
            notes.append(
                f"{', '.join(down)}: out of the load balancer since an earlier deployment, so deployed first and "
                "not counted as healthy until deployed"
            )
        self._roll(run.deployment, self.group.hosts_named(order), revision, len(order), down=down)
        roll_back = run.deployment.status == FAILED and self.group.auto_rollback
        self._end(run.deployment, last_good=run.deployment.status == SUCCEEDED, release=not roll_back)
        if roll_back:
            try:
                self._redeploy_last_good(run, before=None, successor_of=run.deployment.deployment_id)
            finally:
                self.history.release(self.group.application, self.group.name, run.deployment.deployment_id)
        return run

    def rollback(self, deployment_id: str) -> FleetRun:
        """Roll back the group's latest deployment: a blue/green one by switching traffic back, an
        in-place one by redeploying the last good revision before it to the hosts it reached."""
        failed = self.history.load(deployment_id)
        if failed.style == BLUE_GREEN:
            from agent_shim.fleet import bluegreen

            return bluegreen.switch_back(self, failed)
        run = FleetRun(failed)
        self._redeploy_last_good(run, before=deployment_id, successor_of="")
        if run.rollback is None:
            raise RevisionRefused("; ".join(run.notes) or "nothing to roll back")
        return run

    def sync(self, host: str) -> FleetRun:
        """Deploy the group's last good revision to one host (a new or repaired one)."""
        spec = self.group.host(host)
        good = self.history.last_good(self.group.application, self.group.name)
        if good is None:
            raise RevisionRefused(
                f"deployment group {self.group.name} has no successful deployment to sync from"
            )
        revision = self._stored(good)
        message = f"sync: the last good revision (of {good}) to {spec.name}"
        notes: List[str] = []
        run = FleetRun(self._begin(revision, [spec.name], notes, message=message), notes=notes)
        live = self._live_hosts()
        self._roll(
            run.deployment,
            [spec],
            revision,
            len(self.group.hosts),
            traffic=spec.name in live,
            down=self.not_serving([spec.name]),
        )
        self._end(run.deployment, last_good=run.deployment.status == SUCCEEDED)
        return run

    # Bookkeeping -----------------------------------------------------------------------------------
    def _begin(
        self,
        revision: Revision,
        hosts: Sequence[str],
        notes: List[str],
        creator: str = "user",
        rollback_of: Optional[str] = None,
        style: str = IN_PLACE,
        message: str = "",
        roles: Optional[Dict[str, str]] = None,
        successor_of: str = "",
    ) -> FleetDeployment:
        """A new deployment, recorded with the group's lock taken; what the history noticed goes to `notes`."""
        deployment = FleetDeployment(
            deployment_id=new_deployment_id(local=False),
            application=self.group.application,
            group=self.group.name,
            revision=revision.source,
            revision_checksum=revision.checksum,
            config=self.group.config.name,
            status=IN_PROGRESS,
            started=time.time(),
            creator=creator,
            rollback_of=rollback_of,
            style=style,
            message=message,
            hosts={name: HostOutcome(name, PENDING) for name in hosts},
        )
        details = {
            "archive": revision.archive,
            "bundle_type": revision.bundle_type,
            "origin": revision.origin,
            "roles": roles or {},
        }
        notes.extend(self.history.begin(deployment, details, successor_of=successor_of))
        view = self.progress_factory(deployment) if self.progress_factory else None
        self.views[deployment.deployment_id] = view
        return deployment

    def _end(
        self, deployment: FleetDeployment, last_good: bool, release: bool = True, live_set: str = ""
    ) -> None:
        deployment.finished = time.time()
        self.history.finish(deployment, last_good=last_good, release=release, live_set=live_set)
        self._tell(deployment, "close")

    def _tell(self, deployment: FleetDeployment, method: str, *args: Any) -> None:
        """Pass something to the live view; a rendering problem never stops a deployment."""
        view = self.views.get(deployment.deployment_id)
        target = getattr(view, method, None) if method != "__call__" else view
        if target is not None:
            try:
                target(*args)
            except Exception:  # noqa: BLE001 - the view is best effort
                pass

    def _sink(self, deployment: FleetDeployment) -> Callable[[HostEvent], None]:
        def on_event(event: HostEvent) -> None:
            self.history.record_event(deployment.deployment_id, event)
            self._tell(deployment, "__call__", event)

        return on_event

    def _stored(self, deployment_id: str, need_archive: bool = True) -> Revision:
        """The revision a recorded deployment deployed, from the revision store."""
        details = self.history.details(deployment_id)
        row = self.history.row(deployment_id)
        if need_archive and not (details.get("archive") and os.path.exists(details["archive"])):
            raise RevisionRefused(
                f"the revision of {deployment_id} is no longer in {self.history.revisions_dir}"
            )
        return Revision(
            row["revision"],
            details["archive"],
            details["bundle_type"],
            row["revision_checksum"],
            str(details.get("origin") or ""),  # recorded before origins were: none
        )

    def not_serving(self, names: Sequence[str]) -> List[str]:
        """The hosts among `names` that the load balancer does not route to, as the history knows it:
        left out by an earlier deployment that failed or was interrupted (none without a load balancer)."""
        if not self.group.load_balancer.enabled:
            return []
        return not_serving(self.history.traffic(self.group.application, self.group.name), names)

    def _live_hosts(self) -> List[str]:
        bg = self.group.blue_green
        if bg is None:
            return [h.name for h in self.group.hosts]
        live = self.history.group_state(self.group.application, self.group.name)["live_set"]
        return list(bg.green if live == "green" else bg.blue)

    # The rolling window ----------------------------------------------------------------------------
    def _roll(
        self,
        deployment: FleetDeployment,
        specs: Sequence[HostSpec],
        revision: Revision,
        group_size: int,
        traffic: bool = True,
        down: Sequence[str] = (),
    ) -> Verdict:
        """Deploy to `specs` (in order) by the group's minimum healthy hosts. Hosts of the group outside
        this deployment (a rollback's or a sync's) count as healthy: m' = max(0, m(group) − untouched);
        `down` hosts serve nothing at the start and are not counted until they succeed."""
        minimum = max(0, self.group.config.minimum(group_size) - (group_size - len(specs)))
        window = RollingWindow([s.name for s in specs], minimum, down)
        by_name = {s.name: s for s in specs}
        # the hosts after the first window are staged (connected, runner and revision uploaded) in the
        # SSH slots the window leaves free, so that their turn starts with the lifecycle
        at_once = max(0, min(self.group.max_parallel_ssh, len(specs) - minimum))
        staging = Staging(
            lambda spec: self._stage(spec, revision, deployment), specs, self.group.max_parallel_ssh - at_once
        )
        staging.begin(skip=at_once)
        try:
            verdict = self._run_window(deployment, window, by_name, revision, traffic, staging)
        finally:
            staging.close()
        for name in window.skipped:
            why = (
                "not attempted: the deployment was stopped"
                if verdict.status == STOPPED
                else f"not attempted: {verdict.message}"
            )
            self._host_done(deployment, HostOutcome(name, SKIPPED, reason=why))
        deployment.status, deployment.message = verdict.status, verdict.message
        return verdict

    def _run_window(
        self,
        deployment: FleetDeployment,
        window: RollingWindow,
        by_name: Dict[str, HostSpec],
        revision: Revision,
        traffic: bool,
        staging: Staging,
    ) -> Verdict:
        """Start hosts as the window allows, collect their outcomes, until the window has a verdict."""
        done: queue.Queue[HostOutcome] = queue.Queue()
        running = 0
        while True:
            if not window.stopping and self.stop_wanted(deployment):
                window.stop()
            batch = window.start_next(self.group.max_parallel_ssh - running)
            if batch:
                deployment.batches.append(batch)
                self.history.set_batches(deployment.deployment_id, deployment.batches)
            for name in batch:
                self._start_host(deployment, name)
                worker = threading.Thread(
                    target=self._host_worker,
                    args=(deployment, by_name[name], revision, traffic, staging, done),
                    daemon=True,
                )
                worker.start()
                running += 1
            verdict = window.verdict
            if verdict is not None:
                break
            try:
                outcome = done.get(timeout=self.poll)
            except queue.Empty:
                continue
            except KeyboardInterrupt:  # the first Ctrl-C is `appspec fleet stop`; a second one leaves
                if window.stopping:
                    raise
                self.history.request_stop(deployment.deployment_id)
                continue
            running -= 1
            window.finished(outcome.host, outcome.status == SUCCEEDED)
            self._host_done(deployment, outcome)
        return verdict

    def stop_wanted(self, deployment: FleetDeployment) -> bool:
        """Whether the deployment is asked to stop: by `appspec fleet stop` (the history's flag) or by a
        Ctrl-C caught as `stop_signal`, which is recorded as that flag for this deployment."""
        if self.stop_signal.is_set():
            self.stop_signal.clear()
            self.history.request_stop(deployment.deployment_id)
        return self.history.stop_requested(deployment.deployment_id)

    def each_host(
        self, deployment: FleetDeployment, names: Sequence[str], work: Callable[[str], T]
    ) -> Dict[str, T]:
        """`work(name)` for every host, at most max_parallel_ssh at once; host → its result. The first
        Ctrl-C while waiting is `appspec fleet stop` (the work in flight finishes, none other starts:
        those hosts have no result); a second one leaves at once."""
        if not names:
            return {}
        pool = ThreadPoolExecutor(
            max_workers=max(1, min(self.group.max_parallel_ssh, len(names))), thread_name_prefix="host"
        )
        futures = {pool.submit(work, name): name for name in names}
        waiting = set(futures)
        stopping = False
        try:
            while waiting:
                try:
                    _, waiting = wait(waiting, timeout=self.poll)
                except KeyboardInterrupt:
                    if stopping:
                        raise
                    self.history.request_stop(deployment.deployment_id)
                if not stopping and self.stop_wanted(deployment):
                    stopping = True
                    for future in waiting:
                        future.cancel()  # not started yet: it never will
        finally:
            pool.shutdown(wait=False)
        return {futures[f]: f.result() for f in futures if f.done() and not f.cancelled()}

    def _start_host(self, deployment: FleetDeployment, name: str) -> None:
        now = time.time()
        deployment.hosts[name] = HostOutcome(name, IN_PROGRESS, started=now)
        self.history.host_started(deployment.deployment_id, name, now)
        self._tell(deployment, "host_started", name)

    def _host_done(self, deployment: FleetDeployment, outcome: HostOutcome) -> None:
        deployment.hosts[outcome.host] = outcome
        self.history.host_finished(deployment.deployment_id, outcome)
        self._tell(deployment, "host_finished", outcome)

    def _host_worker(
        self,
        deployment: FleetDeployment,
        spec: HostSpec,
        revision: Revision,
        traffic: bool,
        staging: Optional[Staging],
        done: queue.Queue,
    ) -> None:
        try:
            outcome = self.deploy_host(deployment, spec, revision, traffic, staging)
        except Exception as exc:  # noqa: BLE001 - a bug must not hang the deployment: the host fails
            outcome = HostOutcome(spec.name, FAILED, reason=f"internal error: {type(exc).__name__}: {exc}")
        done.put(outcome)

    # One host ----------------------------------------------------------------------------------------
    def deploy_host(
        self,
        deployment: FleetDeployment,
        spec: HostSpec,
        revision: Revision,
        traffic: bool,
        staging: Optional[Staging] = None,
    ) -> HostOutcome:
        """BlockTraffic → the runner → AllowTraffic (the traffic events only with a load balancer)."""
        outcome = HostOutcome(spec.name, FAILED, started=time.time())
        sink = self._sink(deployment)
        with_lb = traffic and self.group.load_balancer.enabled
        try:
            staged = staging.take(spec) if staging is not None else self._stage(spec, revision, deployment)
        except Exception as exc:  # noqa: BLE001 - SSH, upload: one line, this host only
            outcome.reason = f"cannot prepare the host: {one_line(exc)}"
            return close_outcome(outcome)
        transport, runner_path, bundle = staged.transport, staged.runner_path, staged.bundle_path
        try:
            if not with_lb:
                self._run_step(outcome, transport, runner_path, spec, bundle, revision, None, sink)
                return close_outcome(outcome)
            # CodeDeploy's order with a load balancer; the runner continues one host deployment in steps
            # (--deployment-id + --exact-events) so that BlockTraffic and AllowTraffic fall in between.
            host_deployment = new_deployment_id(local=False)
            steps = (
                TRAFFIC_STEPS[0],
                "BlockTraffic",
                TRAFFIC_STEPS[1],
                "AllowTraffic",
                TRAFFIC_STEPS[2],
            )
            for step in steps:
                if isinstance(step, str):
                    ok = self.traffic_step(deployment, outcome, spec, step, sink)
                else:
                    ok = self._run_step(
                        outcome, transport, runner_path, spec, bundle, revision, (host_deployment, step), sink
                    )
                if not ok:
                    return close_outcome(outcome)
            outcome.status = SUCCEEDED
            return close_outcome(outcome)
        finally:
            transport.close()

    def planned_hosts(self) -> List[HostSpec]:
        """The hosts a deployment touches, in the order it touches them (replacements, then originals)."""
        names = [h.name for h in self.group.hosts]
        bg = self.group.blue_green
        if bg is not None:
            live = self.history.group_state(self.group.application, self.group.name)["live_set"]
            originals = list(bg.green if live == "green" else bg.blue)
            names = [n for n in names if n not in originals] + originals
        health = self.history.host_health(self.group.application, self.group.name, names)
        order = deployment_order(names, health) if bg is None else names
        return self.group.hosts_named(serving_order(order, self.not_serving(names)) if bg is None else order)

    def _stage(self, spec: HostSpec, revision: Revision, deployment: FleetDeployment) -> StagedHost:
        opened = self.connections.take(spec.name) if self.connections is not None else None
        transport = opened or self.transport_for(spec)
        if hasattr(transport, "on_silence"):  # SSH: the live view shows a host that stopped answering
            transport.on_silence = lambda text: self._tell(deployment, "host_waiting", spec.name, text)
        return stage_host(transport, self.runner, revision.archive, revision.checksum)

    def _run_step(
        self,
        outcome: HostOutcome,
        transport: HostTransport,
        runner_path: str,
        spec: HostSpec,
        bundle: str,
        revision: Revision,
        step: Optional[Tuple[str, Sequence[str]]],
        sink: Callable[[HostEvent], None],
        extra: Sequence[str] = (),
    ) -> bool:
        """One run of the host runner: the whole lifecycle, or one step (deployment id, events)."""
        words = self.runner_arguments(spec, bundle, revision) + list(extra)
        if step is not None:
            words += ["--deployment-id", step[0], "--events", ",".join(step[1]), "--exact-events"]
        result = transport.run_deployment(runner_path, words, sink, self.group.host_timeout)
        outcome.events.extend(result.events)
        outcome.status, outcome.reason = result.status, result.reason
        outcome.host_deployment_id, outcome.log_tail = result.host_deployment_id, result.log_tail
        return result.status == SUCCEEDED

    def runner_arguments(self, spec: HostSpec, bundle: str, revision: Revision) -> List[str]:
        group = self.group
        words = ["--bundle", bundle, "--type", revision.bundle_type, "--application", group.application]
        words += ["--deployment-group", group.name, "--deployment-group-name", group.name]
        words += ["--appspec-filename", self.appspec_filename]
        words.append("--skip-lint")  # prepare_revision linted this archive; the upload is checksum-verified
        words.append("--safe")  # the host protections the agent lacks (docs/deploy.md)
        words.append("--without-load-balancer")  # a whole lifecycle in one run: a group without one
        for option, value in (
            ("--root", spec.root),
            ("--install-root", spec.install_root),
            ("--file-exists-behavior", group.file_exists_behavior),
            ("--max-revisions", group.max_revisions),
        ):
            if value:
                words += [option, str(value)]
        if group.ignore_application_stop_failures:
            words.append("--ignore-application-stop-failures")
        if revision.origin:  # an S3 revision: the hooks get its BUNDLE_*, as from the agent
            words += ["--bundle-origin", revision.origin]
        return words

    def ask_load_balancer(
        self, event: str, spec: HostSpec, timeout: float, deployment_id: str
    ) -> Optional[str]:
        """BlockTraffic or AllowTraffic for one host; None, or why it failed (one line, never raised).
        The host's traffic record is `changing` while the call runs, then what the load balancer says."""
        group = self.group
        self.history.set_traffic(group.application, group.name, spec.name, CHANGING, deployment_id, event)
        try:
            action = self.lb.block if event == "BlockTraffic" else self.lb.allow
            reason = action(spec, timeout)
        except Exception as exc:  # noqa: BLE001 - the adapter should return a reason; be safe anyway
            reason = one_line(exc)
        if reason is None:
            state = OUT if event == "BlockTraffic" else IN
        else:  # half done, or not at all: what the load balancer says now
            try:
                state = IN if self.lb.healthy([spec]).get(spec.name) else OUT
            except Exception:  # noqa: BLE001 - unknown: the record says so
                state = CHANGING
        self.history.set_traffic(
            group.application, group.name, spec.name, state, deployment_id, event, reason or ""
        )
        return reason

    def traffic_step(
        self,
        deployment: FleetDeployment,
        outcome: HostOutcome,
        spec: HostSpec,
        event: str,
        sink: Callable[[HostEvent], None],
    ) -> bool:
        """BlockTraffic or AllowTraffic through the load balancer, recorded as the host's event. A failure
        fails the host (error code 5, the load balancer's answer); a host whose AllowTraffic failed is taken
        back out, so that it never serves a revision its health check rejected."""
        settings = self.group.load_balancer
        timeout = settings.drain_timeout if event == "BlockTraffic" else settings.healthy_timeout
        started, clock = time.time(), time.monotonic()
        sink(HostEvent(spec.name, event, IN_PROGRESS, started, 0.0))
        reason = self.ask_load_balancer(event, spec, timeout, deployment.deployment_id)
        if reason and event == "AllowTraffic":
            again = self.ask_load_balancer(
                "BlockTraffic", spec, settings.drain_timeout, deployment.deployment_id
            )
            reason += (
                "; the host was taken back out of the load balancer"
                if again is None
                else f"; taking it back out failed too: {again}"
            )
        done = HostEvent(spec.name, event, FAILED if reason else SUCCEEDED, started, time.monotonic() - clock)
        if reason:
            done.error_code, done.error_name, done.message = 5, "UnknownError", reason
            outcome.status, outcome.reason = FAILED, f"{event} failed: {reason}"
        outcome.events.append(done)
        sink(done)
        return not reason

    # Rollback --------------------------------------------------------------------------------------
    def _redeploy_last_good(self, run: FleetRun, before: Optional[str], successor_of: str) -> None:
        """CodeDeploy's rollback: a new deployment of the last good revision (before `before`, or the
        group's) to the hosts the deployment reached."""
        failed = run.deployment
        good = self.history.last_good(self.group.application, self.group.name, before=before)
        reached = [h for h in received(failed) if h in {s.name for s in self.group.hosts}]
        hosts = serving_order(
            deployment_order(
                reached, self.history.host_health(self.group.application, self.group.name, reached)
            ),
            self.not_serving(reached),
        )
        if good is None:
            run.notes.append(
                f"no rollback: deployment group {self.group.name} has no earlier successful deployment"
            )
            return
        if not hosts:
            run.notes.append(f"no rollback: deployment {failed.deployment_id} changed no host")
            return
        revision = self._stored(good)
        message = (
            f"rollback of {failed.deployment_id}: the last good revision (of {good}) to the hosts it reached"
        )
        rollback = self._begin(
            revision,
            hosts,
            run.notes,
            creator=ROLLBACK_CREATOR,
            rollback_of=failed.deployment_id,
            message=message,
            successor_of=successor_of,
        )
        run.rollback = rollback
        self._roll(
            rollback,
            self.group.hosts_named(hosts),
            revision,
            len(self.group.hosts),
            traffic=True,
            down=self.not_serving(hosts),
        )
        self._end(rollback, last_good=rollback.status == SUCCEEDED)


def close_outcome(outcome: HostOutcome) -> HostOutcome:
    outcome.duration = time.time() - outcome.started if outcome.started else 0.0
    return outcome
