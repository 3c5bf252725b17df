"""Load-balancer adapters for the controller: CodeDeploy's BlockTraffic and AllowTraffic.

`HaproxyLoadBalancer` speaks HAProxy's runtime API (a `stats socket ... level admin`, unix path or
host:port), `Elbv2LoadBalancer` ELBv2 target groups through boto3, `NoLoadBalancer` does nothing.
`block` drains a host and waits until its connections are gone; `allow` puts it back and waits until the
load balancer's health check says healthy, and fails as soon as the check has had the time to pass
(the group's `health_check`: interval × (healthy + unhealthy threshold) + timeout) while it still
fails; both are bounded by their timeout and return None or a one-line reason, the load balancer's own
answer in it. `check` is the preflight: every name the group file gives (socket, backend, servers,
target groups) resolves, one line per problem, nothing changed. A blue/green switch is `allow(green)`
for each replacement host, then `block(blue)` for each original. The hook scripts
(hooks/loadbalancer.py) do the same from the host; this is the controller's side.
"""

from __future__ import annotations

import csv
import io
import socket
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from agent_shim.fleet.contracts import HostSpec
from agent_shim.fleet.group import HealthCheck

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

    def check(self, hosts: Sequence[HostSpec]) -> List[Tuple[str, str]]:
        return []


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


# HAProxy's check_status values that are passes; the others name why the last check failed
CHECK_PASSED = ("L4OK", "L6OK", "L7OK", "L7OKC")
CHECK_WORDS = {
    "L4CON": "connection refused or reset",
    "L4TOUT": "no connection within the check timeout",
    "L6TOUT": "no TLS handshake within the check timeout",
    "L7TOUT": "no HTTP answer within the check timeout",
    "L7RSP": "not a valid HTTP answer",
    "L7STS": "HTTP status",
    "SOCKERR": "socket error",
}


def describe_check(stat: Dict[str, str]) -> str:
    """`DOWN, last check: HTTP status 500 (L7STS, Internal Server Error)` from a `show stat` row."""
    status, code, text = (stat.get(k, "").strip() for k in ("check_status", "check_code", "last_chk"))
    status = status.lstrip("* ")  # "* L7STS": the last result, with a new check in progress
    words = CHECK_WORDS.get(status, "")
    if words == "HTTP status":
        said = f"HTTP status {code}" if code else "a failing HTTP status"
    else:
        said = words or status or "no check yet"
    extra = ", ".join(part for part in (status if words else "", text) if part)
    return f"{stat.get('status', '?')}, last check: {said}" + (f" ({extra})" if extra else "")


class HaproxyLoadBalancer:
    """Servers of one HAProxy backend; a host's server name is `lb_server` or else its name."""

    def __init__(
        self,
        socket_address: str,
        backend: str,
        *,
        health_check: Optional[HealthCheck] = None,
        poll: float = 0.1,
    ) -> None:
        self.address = socket_address
        self.backend = backend
        self.health_check = health_check or HealthCheck()
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
        """Back in service, then wait for UP: `rise` fresh passing checks. A server still failing its check
        once the check has had the time to pass (the group's health_check) is a failure at once."""
        name = f"{self.backend}/{self.server(host)}"
        try:
            if int(self._row(self.states(), host).get("srv_admin_state", 0)) & ADMIN_NOT_READY:
                self._set_state(host, "drain")  # out of maintenance, still no traffic
                self._force_down(host)
            self._set_state(host, "ready")
            registered = time.monotonic()
            verdict_after = self.health_check.verdict_after
            settled: Dict[str, str] = {}  # the last finished check (one in progress shows "* " and no code)
            while True:
                state, stat = self._row(self.states(), host), self._row(self.stats(), host)
                op_state, admin = int(state.get("srv_op_state", -1)), int(state.get("srv_admin_state", 0))
                if op_state == SRV_ST_RUNNING and not admin & ADMIN_NOT_READY:
                    return None
                if stat.get("check_status") and not stat["check_status"].startswith("*"):
                    settled = stat
                seen = settled or stat
                waited = time.monotonic() - registered
                failing = seen.get("check_status", "").lstrip("* ") not in CHECK_PASSED
                if waited >= verdict_after and failing and seen.get("check_status"):
                    return (
                        f"{name} failed its health check ({self.health_check.describe()}) for {waited:.1f}s: "
                        f"{describe_check(seen)}"
                    )
                if waited >= timeout:
                    return f"{name} not UP within {timeout:g}s ({describe_check(seen)})"
                time.sleep(min(self.poll, max(0.0, timeout - waited)))
        except LoadBalancerError as exc:
            return str(exc)

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

    def check(self, hosts: Sequence[HostSpec]) -> List[Tuple[str, str]]:
        """The preflight: HAProxy answers at `socket`, `backend` is one of its backends and each host's
        server is in it. (group-file key, problem and fix) per problem; nothing is changed."""
        try:
            rows = parse_stat(self.command("show stat"))
        except LoadBalancerError as exc:
            return [("load_balancer.socket", f"{exc}; start HAProxy or fix load_balancer.socket")]
        if not rows:
            return [
                (
                    "load_balancer.socket",
                    f"HAProxy at {self.address} did not answer `show stat` (is it a stats socket of level admin?)",
                )
            ]
        backends = sorted({r["pxname"] for r in rows if r.get("svname") == "BACKEND"})
        if self.backend not in backends:
            known = ", ".join(backends) or "none"
            return [
                (
                    "load_balancer.backend",
                    f"HAProxy at {self.address} has no backend {self.backend!r} (its backends: {known}); "
                    "fix load_balancer.backend",
                )
            ]
        servers = sorted(
            r["svname"]
            for r in rows
            if r.get("pxname") == self.backend and r.get("svname") not in ("BACKEND", "FRONTEND")
        )
        problems = []
        for host in hosts:
            if self.server(host) not in servers:
                problems.append(
                    (
                        f"host:{host.name}:lb_server",
                        f"HAProxy backend {self.backend} has no server {self.server(host)!r} (its servers: "
                        f"{', '.join(servers) or 'none'}); set the host's lb_server",
                    )
                )
        return problems


# -- ELBv2 ---------------------------------------------------------------------------------------------
API_CALL_LIMIT = 2 * 4  # seconds: two attempts of a 4 s read (connecting: two of 3 s)


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
            from botocore.config import Config

            # an API that does not answer costs one call at most API_CALL_LIMIT seconds, not botocore's
            # default of 60 s a read and 5 attempts: allow and block stay near their own timeout
            config = Config(
                connect_timeout=3, read_timeout=4, retries={"total_max_attempts": 2, "mode": "standard"}
            )
            client = boto3.client("elbv2", region_name=region, endpoint_url=endpoint_url, config=config)
        self.client = client

    def target(self, host: HostSpec) -> Dict[str, Any]:
        target: Dict[str, Any] = {"Id": host.lb_target or host.address}
        if self.port:
            target["Port"] = self.port
        return target

    def _call(self, operation: str, **kwargs: Any) -> Dict[str, Any]:
        import botocore.exceptions

        arn = kwargs.get("TargetGroupArn")
        what = f"elbv2 {operation}" + (f" ({_group_name(arn)})" if arn else "")
        try:
            return getattr(self.client, operation)(**kwargs)
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            raise LoadBalancerError(
                f"{what}: {error.get('Code', '?')}: {error.get('Message', exc)}"
            ) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise LoadBalancerError(f"{what}: {exc}") from None

    def state(self, arn: str, host: HostSpec) -> Tuple[str, str]:
        """(State, Reason) of the host's target in one group; ('unused', 'Target.NotRegistered') if absent."""
        return self.health(arn, host)[:2]

    def _wait(
        self, host: HostSpec, timeout: float, goal: str, reached: Callable[[str, str], bool]
    ) -> Optional[str]:
        def everywhere() -> Tuple[bool, str]:
            states = {arn: self.state(arn, host) for arn in self.arns}
            pending = {arn: s for arn, s in states.items() if not reached(*s)}
            detail = "; ".join(f"{_group_name(arn)}: {s[0]} {s[1]}".strip() for arn, s in pending.items())
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
        """Register in every target group, then wait until each says healthy; a target group that says
        unhealthy (its health checks failed) is a failure at once, with its reason."""
        target = self.target(host)["Id"]

        def verdict() -> Tuple[bool, str]:
            pending = []
            for arn in self.arns:
                state, reason, description = self.health(arn, host)
                if state == "healthy" or reason in ("Target.NotInUse", "Target.HealthCheckDisabled"):
                    continue  # a group without checks or listener has nothing to wait for
                if state == "unhealthy" or (state == "unused" and reason == "Target.InvalidState"):
                    why = f"{reason}: {description}" if description else reason
                    raise LoadBalancerError(
                        f"target {target} is {state} in target group {_group_name(arn)} ({why})"
                    )
                pending.append(f"{_group_name(arn)}: {state} {reason}".strip())
            return not pending, "; ".join(pending)

        try:
            for arn in self.arns:
                self._call("register_targets", TargetGroupArn=arn, Targets=[self.target(host)])
            done, detail = _until(timeout, self.poll, verdict)
        except LoadBalancerError as exc:
            return str(exc)
        return None if done else f"target {target} not healthy within {timeout:g}s ({detail})"

    def health(self, arn: str, host: HostSpec) -> Tuple[str, str, str]:
        """(State, Reason, Description) of the host's target in one group."""
        target = self.target(host)
        answer = self._call("describe_target_health", TargetGroupArn=arn, Targets=[target])
        for description in answer.get("TargetHealthDescriptions", []):
            if description.get("Target", {}).get("Id") == target["Id"]:
                health = description.get("TargetHealth", {})
                return (
                    health.get("State", "unknown"),
                    health.get("Reason", ""),
                    health.get("Description", ""),
                )
        return "unused", "Target.NotRegistered", ""

    def healthy(self, hosts: Sequence[HostSpec]) -> Dict[str, bool]:
        verdict = {}
        for host in hosts:
            try:
                verdict[host.name] = all(self.state(arn, host)[0] == "healthy" for arn in self.arns)
            except LoadBalancerError:
                verdict[host.name] = False
        return verdict

    def check(self, hosts: Sequence[HostSpec]) -> List[Tuple[str, str]]:
        """The preflight: every target group ARN exists and its targets can be read (credentials,
        region, endpoint). (group-file key, problem and fix) per problem; nothing is changed."""
        problems = []
        for index, arn in enumerate(self.arns):
            try:
                self._call("describe_target_groups", TargetGroupArns=[arn])
                self._call("describe_target_health", TargetGroupArn=arn)
            except LoadBalancerError as exc:
                problems.append(
                    (
                        f"load_balancer.target_group_arns[{index}]",
                        f"{exc}; fix the ARN, the region, load_balancer.endpoint_url or the credentials",
                    )
                )
        return problems


def _group_name(arn: str) -> str:
    """`web-tg` from `arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/web-tg/0123456789abcdef`."""
    parts = arn.rsplit("/", 2)
    return parts[-2] if len(parts) == 3 else arn
