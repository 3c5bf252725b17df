"""One host's part of a fleet deployment: staging it, running the host runner (the whole lifecycle or one
step of it), and the load balancer's BlockTraffic and AllowTraffic between the runner's steps.

Per host, in place: BlockTraffic through the load balancer framed by the runner's steps, as CodeDeploy
orders them (BeforeBlockTraffic | AfterBlockTraffic … BeforeAllowTraffic | AfterAllowTraffic, one host
deployment continued with `--deployment-id` and `--exact-events`); a blue/green host runs one traffic
trio. Every step returns whether it succeeded and fills the host's `HostOutcome`: a host's failure is
data, never an exception.
"""

from __future__ import annotations

import time
from typing import Any, Callable, List, Optional, Sequence, Tuple

from agent_shim.fleet.contracts import (
    FAILED,
    IN_PROGRESS,
    SUCCEEDED,
    EventSink,
    FleetDeployment,
    HostEvent,
    HostOutcome,
    HostSpec,
    HostTransport,
    LoadBalancer,
)
from agent_shim.fleet.group import DeploymentGroup
from agent_shim.fleet.recorder import Recorder
from agent_shim.fleet.revisions import Revision
from agent_shim.fleet.staging import StagedHost, Staging, stage_host
from agent_shim.fleet.traffic import CHANGING, IN, OUT
from agent_shim.layout import new_deployment_id
from agent_shim.plan import BLUE_GREEN, ROLLBACK_CREATOR, default_events
from appspec_tools.errors import one_line

# The host's lifecycle around the load balancer's BlockTraffic and AllowTraffic, run as three steps:
# BeforeBlockTraffic | AfterBlockTraffic ... BeforeAllowTraffic | AfterAllowTraffic.
_WITH_LB = default_events(with_load_balancer=True)
TRAFFIC_STEPS: Tuple[Tuple[str, ...], ...] = (
    tuple(_WITH_LB[:1]),
    tuple(_WITH_LB[1:-1]),
    tuple(_WITH_LB[-1:]),
)
BLOCK, ALLOW = "BlockTraffic", "AllowTraffic"
TransportFactory = Callable[[HostSpec], HostTransport]
RunnerStep = Tuple[str, Sequence[str]]  # (host deployment id, events)


def close_outcome(outcome: HostOutcome) -> HostOutcome:
    outcome.duration = time.time() - outcome.started if outcome.started else 0.0
    return outcome


class HostSteps:
    """The steps of one host, for any deployment style; `connections` (a preflight's open ones) are
    used before new ones are opened."""

    def __init__(
        self,
        group: DeploymentGroup,
        recorder: Recorder,
        transport_for: TransportFactory,
        load_balancer: LoadBalancer,
        runner: Any = None,  # agent_shim.fleet.runner.RunnerZipapp (path, checksum) or None
        appspec_filename: str = "appspec.yml",
    ) -> None:
        self.group = group
        self.recorder = recorder
        self.transport_for = transport_for
        self.lb = load_balancer
        self.runner = runner
        self.appspec_filename = appspec_filename
        self.connections: Any = None  # a preflight.Preflight whose open connections the deployment uses

    def stage(self, spec: HostSpec, revision: Revision, deployment: FleetDeployment) -> StagedHost:
        opened = self.connections.take(spec.name) if self.connections is not None else None
        transport = opened or self.transport_for(spec)
        if hasattr(transport, "on_silence"):  # SSH: the live view shows a host that stopped answering
            transport.on_silence = lambda text: self.recorder.tell(
                deployment, "host_waiting", spec.name, text
            )
        return stage_host(transport, self.runner, revision.archive, revision.checksum)

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
        sink = self.recorder.sink(deployment)
        try:
            staged = staging.take(spec) if staging is not None else self.stage(spec, revision, deployment)
        except Exception as exc:  # noqa: BLE001 - SSH, upload: one line, this host only
            outcome.reason = f"cannot prepare the host: {one_line(exc)}"
            return close_outcome(outcome)
        try:
            if not (traffic and self.group.load_balancer.enabled):
                self.run_step(outcome, staged, spec, revision, None, sink)
                return close_outcome(outcome)
            # CodeDeploy's order with a load balancer; the runner continues one host deployment in steps
            # (--deployment-id + --exact-events) so that BlockTraffic and AllowTraffic fall in between.
            host_deployment = new_deployment_id(local=False)
            before, middle, after = ((host_deployment, events) for events in TRAFFIC_STEPS)
            for step in (before, BLOCK, middle, ALLOW, after):
                if isinstance(step, str):
                    ok = self.traffic_step(deployment, outcome, spec, step, sink)
                else:
                    ok = self.run_step(outcome, staged, spec, revision, step, sink)
                if not ok:
                    return close_outcome(outcome)
            outcome.status = SUCCEEDED
            return close_outcome(outcome)
        finally:
            staged.transport.close()

    def traffic_trio(
        self,
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
        sink = self.recorder.sink(deployment)
        continuing = outcome.host_deployment_id if outcome.events and not rollback else ""
        host_deployment = continuing or new_deployment_id(local=False)
        extra = ["--deployment-type", BLUE_GREEN] + (["--creator", ROLLBACK_CREATOR] if rollback else [])
        try:
            staged = self.stage(spec, revision, deployment)
        except Exception as exc:  # noqa: BLE001 - SSH, upload: one line, this host only
            outcome.reason = f"cannot prepare the host for {event}: {one_line(exc)}"
            return False
        try:
            for step in (f"Before{event}", event, f"After{event}"):
                if step == event:
                    ok = self.traffic_step(deployment, outcome, spec, event, sink)
                else:
                    ok = self.run_step(
                        outcome, staged, spec, revision, (host_deployment, [step]), sink, extra
                    )
                if not ok:
                    return False
            return True
        finally:
            staged.transport.close()

    def run_step(
        self,
        outcome: HostOutcome,
        staged: StagedHost,
        spec: HostSpec,
        revision: Revision,
        step: Optional[RunnerStep],
        sink: EventSink,
        extra: Sequence[str] = (),
    ) -> bool:
        """One run of the host runner: the whole lifecycle, or one step (deployment id, events)."""
        words = self.runner_arguments(spec, staged.bundle_path, revision) + list(extra)
        if step is not None:
            words += ["--deployment-id", step[0], "--events", ",".join(step[1]), "--exact-events"]
        result = staged.transport.run_deployment(staged.runner_path, words, sink, self.group.host_timeout)
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
        group, history = self.group, self.recorder.history
        history.set_traffic(group.application, group.name, spec.name, CHANGING, deployment_id, event)
        try:
            action = self.lb.block if event == BLOCK else self.lb.allow
            reason = action(spec, timeout)
        except Exception as exc:  # noqa: BLE001 - the adapter should return a reason; be safe anyway
            reason = one_line(exc)
        if reason is None:
            state = OUT if event == BLOCK else IN
        else:  # half done, or not at all: what the load balancer says now
            try:
                state = IN if self.lb.healthy([spec]).get(spec.name) else OUT
            except Exception:  # noqa: BLE001 - unknown: the record says so
                state = CHANGING
        history.set_traffic(
            group.application, group.name, spec.name, state, deployment_id, event, reason or ""
        )
        return reason

    def traffic_step(
        self,
        deployment: FleetDeployment,
        outcome: HostOutcome,
        spec: HostSpec,
        event: str,
        sink: EventSink,
    ) -> bool:
        """BlockTraffic or AllowTraffic through the load balancer, recorded as the host's event. A failure
        fails the host (error code 5, the load balancer's answer); a host whose AllowTraffic failed is taken
        back out, so that it never serves a revision its health check rejected."""
        settings = self.group.load_balancer
        timeout = settings.drain_timeout if event == BLOCK else settings.healthy_timeout
        started, clock = time.time(), time.monotonic()
        sink(HostEvent(spec.name, event, IN_PROGRESS, started, 0.0))
        reason = self.ask_load_balancer(event, spec, timeout, deployment.deployment_id)
        if reason and event == ALLOW:
            again = self.ask_load_balancer(BLOCK, spec, settings.drain_timeout, deployment.deployment_id)
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
