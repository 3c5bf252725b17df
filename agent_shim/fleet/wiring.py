"""How `appspec fleet` builds what a command needs from the group file: the command's context, a
transport per host (`local` or SSH), the load balancer (its kind's module, lb/registry.py), the runner
zipapp and the live view (text, or `--format jsonl` lines)."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any, Callable, Optional, TextIO

from agent_shim.fleet.contracts import IN_PROGRESS, FleetDeployment, HostEvent, HostSpec, LoadBalancer
from agent_shim.fleet.controller import Controller
from agent_shim.fleet.group import LOCAL, DeploymentGroup
from agent_shim.fleet.history import History


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
    from agent_shim.fleet.lb.registry import build

    settings = group.load_balancer
    return build(settings.type, settings.options, group.health_check)


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
