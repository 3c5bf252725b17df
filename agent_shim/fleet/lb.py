"""Load-balancer adapters for the controller: CodeDeploy's BlockTraffic and AllowTraffic.

`HaproxyLoadBalancer` speaks HAProxy's runtime API (a `stats socket ... level admin`, unix path or
host:port), `Elbv2LoadBalancer` ELBv2 target groups through boto3, `NoLoadBalancer` does nothing.
`block` drains a host and waits until its connections are gone; `allow` puts it back and waits until the
health check says healthy; both are bounded by their timeout and return None or a one-line reason.
A blue/green switch is `allow(green)` for each replacement host, then `block(blue)` for each original.
The hook scripts (hooks/loadbalancer.py) do the same from the host; this is the controller's side.
"""

from __future__ import annotations

import csv
import io
import socket
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from agent_shim.fleet.contracts import HostSpec

SRV_ST_RUNNING = 2  # srv_op_state
ADMIN_NOT_READY = 0x01 | 0x02 | 0x04 | 0x08 | 0x10 | 0x20  # srv_admin_state: MAINT and DRAIN bits


class NoLoadBalancer:
    """No load balancer: traffic is nobody's business, every host counts as healthy."""

    def block(self, host: HostSpec, timeout: float) -> Optional[str]:
        return None

    def allow(self, host: HostSpec, timeout: float) -> Optional[str]:
        return None

    def healthy(self, hosts: Sequence[HostSpec]) -> Dict[str, bool]:
        return {host.name: True for host in hosts}


def _until(timeout: float, poll: float, check: Callable[[], Tuple[bool, str]]) -> Tuple[bool, str]:
    """Poll `check` until it reports done or `timeout` passes; (done, last detail)."""
    deadline = time.monotonic() + timeout
    while True:
        done, detail = check()
        if done or time.monotonic() >= deadline:
            return done, detail
        time.sleep(min(poll, max(0.0, deadline - time.monotonic())))


# -- HAProxy -------------------------------------------------------------------------------------------


class LoadBalancerError(Exception):
    pass


def haproxy_command(address: str, command: str, timeout: float = 5.0) -> str:
    """One runtime-API command (one connection, answer read to EOF); `address` is a socket path,
    `unix@PATH`, `HOST:PORT` or `ipv4@HOST:PORT`."""
    for prefix in ("unix@", "ipv4@", "ipv6@"):
        if address.startswith(prefix):
            address = address[len(prefix) :]
    target: Any = address
    family = socket.AF_UNIX
    if "/" not in address:
        host, _, port = address.rpartition(":")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        target = (host.strip("[]"), int(port))
    try:
        with socket.socket(family, socket.SOCK_STREAM) as connection:
            connection.settimeout(timeout)
            connection.connect(target)
            connection.sendall(command.encode() + b"\n")
            chunks = []
            while True:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
    except (OSError, ValueError) as exc:
        raise LoadBalancerError(f"HAProxy runtime API at {address}: {exc}") from None
    return b"".join(chunks).decode("utf-8", "replace")


def parse_stat(text: str) -> List[Dict[str, str]]:
    """Rows of `show stat` (CSV whose header line starts with '# ')."""
    return list(csv.DictReader(io.StringIO(text[2:]))) if text.startswith("# ") else []


def parse_servers_state(text: str) -> List[Dict[str, str]]:
    """Rows of `show servers state` (a version line, a '# ' header, space-separated rows)."""
    header: List[str] = []
    rows = []
    for line in text.splitlines()[1:]:
        if line.startswith("# "):
            header = line[2:].split()
        elif line.strip() and header:
            rows.append(dict(zip(header, line.split())))
    return rows


class HaproxyLoadBalancer:
    """Servers of one HAProxy backend; a host's server name is `lb_server` or else its name."""

    def __init__(self, socket_address: str, backend: str, *, poll: float = 0.1) -> None:
        self.address = socket_address
        self.backend = backend
        self.poll = poll

    def server(self, host: HostSpec) -> str:
        return host.lb_server or host.name

    def command(self, command: str) -> str:
        return haproxy_command(self.address, command)

    def _set_state(self, host: HostSpec, state: str) -> None:
        answer = self.command(f"set server {self.backend}/{self.server(host)} state {state}").strip()
        if answer:
            raise LoadBalancerError(
                f"HAProxy refused `set server {self.backend}/{self.server(host)} state {state}`: {answer}"
            )

    def stats(self) -> Dict[str, Dict[str, str]]:
        """`show stat` rows of the backend's servers by name: scur, status, check_status, ..."""
        rows = parse_stat(self.command("show stat -1 4 -1"))  # 2.6 takes a proxy id here, not a name
        return {row["svname"]: row for row in rows if row.get("pxname") == self.backend and row.get("svname")}

    def states(self) -> Dict[str, Dict[str, str]]:
        rows = parse_servers_state(self.command(f"show servers state {self.backend}"))
        return {row["srv_name"]: row for row in rows if row.get("srv_name")}

    def _row(self, rows: Dict[str, Dict[str, str]], host: HostSpec) -> Dict[str, str]:
        row = rows.get(self.server(host))
        if row is None:
            raise LoadBalancerError(f"HAProxy backend {self.backend} has no server {self.server(host)}")
        return row

    def block(self, host: HostSpec, timeout: float) -> Optional[str]:
        def drained() -> Tuple[bool, str]:
            row = self._row(self.stats(), host)
            sessions = int(row.get("scur") or 0)
            return sessions == 0, f"{row.get('status', '?')}, {sessions} current session(s)"

        try:
            self._set_state(host, "drain")
            done, detail = _until(timeout, self.poll, drained)
        except LoadBalancerError as exc:
            return str(exc)
        return (
            None if done else f"{self.backend}/{self.server(host)} not drained within {timeout:g}s ({detail})"
        )

    def allow(self, host: HostSpec, timeout: float) -> Optional[str]:
        def up() -> Tuple[bool, str]:
            state = self._row(self.states(), host)
            stat = self._row(self.stats(), host)
            op_state, admin = int(state.get("srv_op_state", -1)), int(state.get("srv_admin_state", 0))
            detail = f"{stat.get('status', '?')} {stat.get('check_status', '')}".strip()
            return op_state == SRV_ST_RUNNING and not admin & ADMIN_NOT_READY, detail

        try:
            if int(self._row(self.states(), host).get("srv_admin_state", 0)) & ADMIN_NOT_READY:
                self._set_state(host, "drain")  # out of maintenance, still no traffic
                self._force_down(host)
            self._set_state(host, "ready")
            done, detail = _until(timeout, self.poll, up)
        except LoadBalancerError as exc:
            return str(exc)
        return None if done else f"{self.backend}/{self.server(host)} not UP within {timeout:g}s ({detail})"

    def _force_down(self, host: HostSpec) -> None:
        """A server coming back from drain or maintenance must pass `rise` fresh checks before it takes
        traffic, like a target registering with ELB: an UP left from before the app stopped proves nothing."""
        answer = self.command(f"set server {self.backend}/{self.server(host)} health down").strip()
        if answer:
            raise LoadBalancerError(
                f"HAProxy refused `set server {self.backend}/{self.server(host)} health down`: {answer}"
            )

    def healthy(self, hosts: Sequence[HostSpec]) -> Dict[str, bool]:
        """True for a server that passes its health check and takes traffic (not drained, not in
        maintenance); False otherwise, also when HAProxy cannot be asked."""
        try:
            states = self.states()
        except LoadBalancerError:
            return {host.name: False for host in hosts}
        verdict = {}
        for host in hosts:
            row = states.get(self.server(host), {})
            op_state, admin = int(row.get("srv_op_state", -1)), int(row.get("srv_admin_state", 0))
            verdict[host.name] = op_state == SRV_ST_RUNNING and not admin & ADMIN_NOT_READY
        return verdict


# -- ELBv2 ---------------------------------------------------------------------------------------------


def _deregistered(state: str, reason: str) -> bool:
    return state == "unused" or reason == "Target.NotRegistered"


class Elbv2LoadBalancer:
    """ELBv2 target groups; a host's target is `lb_target` (instance id or IP) or else its address."""

    def __init__(
        self,
        target_group_arns: Sequence[str],
        region: Optional[str] = None,
        *,
        endpoint_url: Optional[str] = None,
        port: Optional[int] = None,
        poll: float = 5.0,
        client: Any = None,
    ) -> None:
        self.arns = list(target_group_arns)
        self.port = port
        self.poll = poll
        if client is None:
            import boto3  # only when ELBv2 is used: the controller must start without it

            client = boto3.client("elbv2", region_name=region, endpoint_url=endpoint_url)
        self.client = client

    def target(self, host: HostSpec) -> Dict[str, Any]:
        target: Dict[str, Any] = {"Id": host.lb_target or host.address}
        if self.port:
            target["Port"] = self.port
        return target

    def _call(self, operation: str, **kwargs: Any) -> Dict[str, Any]:
        import botocore.exceptions

        try:
            return getattr(self.client, operation)(**kwargs)
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            raise LoadBalancerError(
                f"elbv2 {operation}: {error.get('Code', '?')}: {error.get('Message', exc)}"
            ) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise LoadBalancerError(f"elbv2 {operation}: {exc}") from None

    def state(self, arn: str, host: HostSpec) -> Tuple[str, str]:
        """(State, Reason) of the host's target in one group; ('unused', 'Target.NotRegistered') if absent."""
        target = self.target(host)
        answer = self._call("describe_target_health", TargetGroupArn=arn, Targets=[target])
        for description in answer.get("TargetHealthDescriptions", []):
            if description.get("Target", {}).get("Id") == target["Id"]:
                health = description.get("TargetHealth", {})
                return health.get("State", "unknown"), health.get("Reason", "")
        return "unused", "Target.NotRegistered"

    def _wait(
        self, host: HostSpec, timeout: float, goal: str, reached: Callable[[str, str], bool]
    ) -> Optional[str]:
        def everywhere() -> Tuple[bool, str]:
            states = {arn: self.state(arn, host) for arn in self.arns}
            pending = {arn: s for arn, s in states.items() if not reached(*s)}
            detail = "; ".join(
                f"{arn.rsplit('/', 2)[-2]}: {s[0]} {s[1]}".strip() for arn, s in pending.items()
            )
            return not pending, detail

        done, detail = _until(timeout, self.poll, everywhere)
        return None if done else f"target {self.target(host)['Id']} not {goal} within {timeout:g}s ({detail})"

    def block(self, host: HostSpec, timeout: float) -> Optional[str]:
        try:
            for arn in self.arns:
                if self.state(arn, host)[1] != "Target.NotRegistered":
                    self._call("deregister_targets", TargetGroupArn=arn, Targets=[self.target(host)])
            return self._wait(host, timeout, "deregistered", _deregistered)
        except LoadBalancerError as exc:
            return str(exc)

    def allow(self, host: HostSpec, timeout: float) -> Optional[str]:
        def in_service(
            state: str, reason: str
        ) -> bool:  # a group without checks or listener has nothing to wait for
            return state == "healthy" or reason in ("Target.NotInUse", "Target.HealthCheckDisabled")

        try:
            for arn in self.arns:
                self._call("register_targets", TargetGroupArn=arn, Targets=[self.target(host)])
            return self._wait(host, timeout, "healthy", in_service)
        except LoadBalancerError as exc:
            return str(exc)

    def healthy(self, hosts: Sequence[HostSpec]) -> Dict[str, bool]:
        verdict = {}
        for host in hosts:
            try:
                verdict[host.name] = all(self.state(arn, host)[0] == "healthy" for arn in self.arns)
            except LoadBalancerError:
                verdict[host.name] = False
        return verdict
