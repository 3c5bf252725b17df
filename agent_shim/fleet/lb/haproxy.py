"""`type: haproxy`: servers of one HAProxy backend through its runtime API (a `stats socket ... level
admin`, a unix path or HOST:PORT). A host's server is its `lb_server`, else its name. Settings:
`socket` (a path is relative to the group file) and `backend`."""

from __future__ import annotations

import csv
import io
import socket
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from agent_shim.fleet.contracts import HostSpec
from agent_shim.fleet.health_check import HealthCheck
from agent_shim.fleet.lb.kind import LoadBalancerKind, PathResolver
from agent_shim.fleet.lb.waiting import LoadBalancerError, until
from agent_shim.fleet.schema_parts import TEXT

SRV_ST_RUNNING = 2  # srv_op_state
ADMIN_NOT_READY = 0x01 | 0x02 | 0x04 | 0x08 | 0x10 | 0x20  # srv_admin_state: MAINT and DRAIN bits


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
            done, detail = until(timeout, self.poll, drained)
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


def resolve(options: Dict[str, Any], local_path: PathResolver) -> Dict[str, Any]:
    """A socket path (not `unix@`/`ipv4@`, not HOST:PORT) is on the controller: relative to the group file."""
    address = options.get("socket") or ""
    if "/" in address and not address.startswith(("unix@", "ipv4@")):
        options["socket"] = local_path(address)
    return options


def build(options: Mapping[str, Any], health_check: HealthCheck) -> HaproxyLoadBalancer:
    return HaproxyLoadBalancer(
        options.get("socket") or "", options.get("backend") or "", health_check=health_check
    )


KIND = LoadBalancerKind(
    name="haproxy",
    rank=10,
    settings={"socket": TEXT, "backend": TEXT},
    required=("socket", "backend"),
    build=build,
    resolve=resolve,
)
