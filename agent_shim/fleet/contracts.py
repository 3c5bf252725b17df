"""The values and interfaces the fleet's parts share (controller, transport, load balancer, report).

Data flows one way: deployment group file → `DeploymentGroup` → controller plans batches with the
minimum-healthy-hosts rule → per host, a `HostTransport` uploads the revision and the runner zipapp and
runs `appspec deploy --format jsonl` there, streaming `HostEvent`s back → a `LoadBalancer` drains and
enables → `HostOutcome`s and events are recorded in the history → the report renders them. One host's
failure is data (a `HostOutcome` with a reason), never an exception that hides the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Protocol, Sequence, Tuple

from agent_shim.events import EventStatus
from agent_shim.fleet.events import HostEvent, HostOutcome  # the event record, defined in events.py

SUCCEEDED, FAILED, SKIPPED = EventStatus.SUCCEEDED, EventStatus.FAILED, EventStatus.SKIPPED
IN_PROGRESS, PENDING = EventStatus.IN_PROGRESS, "Pending"
INTERRUPTED, STOPPED = "Interrupted", "Stopped"


@dataclass(frozen=True)
class HostSpec:
    """One host of the group file. `name` is unique in the group; `address` is what SSH connects to
    (an ssh_config alias is allowed: fabric reads ~/.ssh/config)."""

    name: str
    address: str
    port: Optional[int] = None
    user: Optional[str] = None
    key: Optional[str] = None
    lb_server: Optional[str] = None  # the host's server name in the load balancer (HAProxy)
    lb_target: Optional[str] = None  # ELBv2 target id (instance id or IP)
    root: Optional[str] = None  # deployment root on the host (default: the agent's)
    install_root: Optional[str] = (
        None  # --install-root on the host (simulated hosts without mount namespaces)
    )
    environment: Dict[str, str] = field(default_factory=dict)  # extra hook environment on this host


EventSink = Callable[[HostEvent], None]


class HostTransport(Protocol):
    """How the controller reaches one host (fabric over SSH in production and tests)."""

    spec: HostSpec

    def ensure_runner(self, zipapp_path: str, checksum: str) -> str:
        """Upload the runner zipapp unless the same checksum is already there; return its remote path."""

    def upload_revision(self, bundle_path: str, checksum: str) -> str:
        """Upload the revision archive unless the same checksum is already there; return its remote path."""

    def prepare(
        self, zipapp_path: str, runner_checksum: str, bundle_path: str, checksum: str
    ) -> Tuple[str, str]:
        """`ensure_runner` and `upload_revision` together (one round trip when both are there already)."""

    def check(self, zipapp_path: str, runner_checksum: str, bundle_path: str, checksum: str) -> None:
        """The preflight: the host answers (raises with a one-line reason if not) and has what the runner
        needs; what it learns spares the next `prepare` its own check."""

    def run_deployment(
        self, runner_path: str, arguments: Sequence[str], on_event: EventSink, timeout: float
    ) -> HostOutcome:
        """Run `python3 RUNNER deploy ARGUMENTS --format jsonl`, streaming events; never raises for a
        host failure (SSH error, vanished host, timeout): those are a Failed outcome with the reason."""

    def close(self) -> None: ...


class LoadBalancer(Protocol):
    """The traffic side of a deployment: CodeDeploy's BlockTraffic / AllowTraffic."""

    def block(self, host: HostSpec, timeout: float) -> Optional[str]:
        """Take the host out (drain) and wait until its connections are drained; None or the reason it failed."""

    def allow(self, host: HostSpec, timeout: float) -> Optional[str]:
        """Put the host back and wait until the load balancer sees it healthy; None or the reason it failed."""

    def healthy(self, hosts: Sequence[HostSpec]) -> Dict[str, bool]:
        """What the load balancer currently thinks of each host."""

    def check(self, hosts: Sequence[HostSpec]) -> List[Tuple[str, str]]:
        """The preflight: every name the group file gives resolves; (group-file key, problem and fix)
        for each one that does not. Host keys are `host:NAME:KEY`. Changes nothing."""


@dataclass
class FleetDeployment:
    """One fleet deployment as the history records it and the report renders it."""

    deployment_id: str  # d-XXXXXXXXX
    application: str
    group: str
    revision: str  # the bundle as given
    revision_checksum: str  # sha256 of the uploaded archive
    config: str  # e.g. CodeDeployDefault.HalfAtATime, or HOST_COUNT:3 / FLEET_PERCENT:75
    status: str  # InProgress, Succeeded, Failed, Stopped, Interrupted
    started: float
    finished: Optional[float] = None
    creator: str = "user"  # or codeDeployRollback
    rollback_of: Optional[str] = None
    style: str = "IN_PLACE"  # or BLUE_GREEN
    message: str = ""
    batches: List[List[str]] = field(default_factory=list)  # host names, in the order they were started
    hosts: Dict[str, HostOutcome] = field(default_factory=dict)
