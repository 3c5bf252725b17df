"""Load balancers for deregister_from_lb / register_with_lb: ELBv2 target groups through boto3 (the only
non-stdlib import, made only when TARGET_GROUP_ARNS is set) and HAProxy servers through the runtime API.

Each adapter has deregister(): take the target out and wait until it is drained, and register(): put it
back and wait until the load balancer's health check says healthy. Both are safe to run twice.
"""

from __future__ import annotations

import csv
import http.client
import io
import socket
import sys
import time
import urllib.parse
from typing import Callable, Dict, List, Optional, Tuple

import hookkit

# ---------------------------------------------------------------------------------------------------------
# Instance metadata, IMDSv2 only: PUT a session token, then GET with it. Works where IMDSv1 is disabled.


class InstanceMetadata:
    TOKEN_TTL = "21600"

    def __init__(self, endpoint: str, timeout: float = 2.0) -> None:
        parts = urllib.parse.urlsplit(endpoint)
        if parts.scheme != "http" or not parts.hostname:
            raise hookkit.ConfigError(
                f"IMDS_ENDPOINT={endpoint} is not an http:// URL; use http://169.254.169.254"
            )
        self.endpoint = endpoint
        self.host = parts.hostname
        self.port = parts.port or 80
        self.timeout = timeout
        self.token: Optional[str] = None

    def _request(self, method: str, path: str, headers: Dict[str, str]) -> str:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request(method, path, headers=headers)
            response = connection.getresponse()
            body = response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as exc:
            raise hookkit.PrerequisiteError(
                f"instance metadata {self.endpoint}{path} unreachable ({exc or type(exc).__name__}); "
                "on EC2 enable the metadata endpoint (and a hop limit >= 2 in containers); "
                "elsewhere set TARGET_ID and AWS_REGION"
            ) from None
        finally:
            connection.close()
        if response.status != 200:
            raise hookkit.PrerequisiteError(
                f"instance metadata {method} {self.endpoint}{path} answered {response.status}; "
                "IMDSv2 token refused?"
            )
        return body.strip()

    def get(self, path: str) -> str:
        if self.token is None:
            self.token = self._request(
                "PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": self.TOKEN_TTL}
            )
        return self._request("GET", path, {"X-aws-ec2-metadata-token": self.token})


# ---------------------------------------------------------------------------------------------------------
# ELBv2 target groups.


def wait_timeout(config: hookkit.Config, default: float) -> float:
    return config.number("LB_WAIT_TIMEOUT", minimum=0) if config.get("LB_WAIT_TIMEOUT") else default


class TargetGroups:
    def __init__(self, config: hookkit.Config, log: hookkit.HookLog, client: object = None) -> None:
        self.config = config
        self.log = log
        self.arns = config.items("TARGET_GROUP_ARNS")
        for arn in self.arns:
            if not arn.startswith("arn:") or ":targetgroup/" not in arn:
                raise hookkit.ConfigError(
                    f"TARGET_GROUP_ARNS entry {arn!r} is not a target group ARN "
                    "(arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID)"
                )
        self.poll = config.number("LB_POLL_INTERVAL", minimum=0.01)
        self._metadata: Optional[InstanceMetadata] = None
        self.client = client or self._client()  # boto3 missing fails before any metadata call
        self.target = self._target()

    def metadata(self) -> InstanceMetadata:
        if self._metadata is None:
            self._metadata = InstanceMetadata(self.config.get("IMDS_ENDPOINT") or "")
        return self._metadata

    def _target(self) -> Dict[str, object]:
        target_id = self.config.get("TARGET_ID")
        if target_id is None:
            target_id = self.metadata().get("/latest/meta-data/instance-id")
            self.log.step(f"instance id {target_id} (from IMDSv2)")
        target: Dict[str, object] = {"Id": target_id}
        if self.config.get("TARGET_PORT"):
            target["Port"] = self.config.port("TARGET_PORT")
        return target

    def _client(self) -> object:
        try:
            import boto3
        except ImportError:
            raise hookkit.PrerequisiteError(
                f"TARGET_GROUP_ARNS is set but boto3 is not installed for {sys.executable}; "
                "install python3-boto3 (dnf/apt) or pip install boto3"
            ) from None
        region = self.config.get("AWS_REGION") or self.config.environ.get("AWS_DEFAULT_REGION")
        if not region:
            region = self.metadata().get("/latest/meta-data/placement/region")
            self.log.step(f"region {region} (from IMDSv2)")
        return boto3.client("elbv2", region_name=region, endpoint_url=self.config.get("AWS_ENDPOINT_URL"))

    def _call(self, operation: str, **kwargs: object) -> dict:
        import botocore.exceptions

        try:
            return getattr(self.client, operation)(**kwargs)
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            raise hookkit.LoadBalancerError(
                "elbv2 {}: {}: {}".format(operation, error.get("Code", "?"), error.get("Message", exc))
            ) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise hookkit.LoadBalancerError(f"elbv2 {operation}: {exc}") from None

    def health(self, arn: str) -> Tuple[str, str, str]:
        """(State, Reason, Description) of this host's target in the group."""
        descriptions = self._call("describe_target_health", TargetGroupArn=arn, Targets=[self.target])
        for description in descriptions.get("TargetHealthDescriptions", []):
            if description["Target"]["Id"] == self.target["Id"]:
                health = description.get("TargetHealth", {})
                return health.get("State", "unknown"), health.get("Reason", ""), health.get("Description", "")
        return "unused", "Target.NotRegistered", "not in the target group"

    def deregistration_delay(self, arn: str) -> float:
        attributes = self._call("describe_target_group_attributes", TargetGroupArn=arn).get("Attributes", [])
        for attribute in attributes:
            if attribute.get("Key") == "deregistration_delay.timeout_seconds":
                return float(attribute.get("Value", 300))
        return 300.0

    def deregister(self) -> None:
        pending = []
        for arn in self.arns:
            state, reason, _ = self.health(arn)
            if state == "unused" and reason == "Target.NotRegistered":
                self.log.step("{}: {} not registered: nothing to drain".format(arn, self.target["Id"]))
                continue
            if state != "draining":
                self._call("deregister_targets", TargetGroupArn=arn, Targets=[self.target])
                self.log.step("{}: deregistered {} (was {})".format(arn, self.target["Id"], state))
            pending.append(arn)
        if not pending:
            return
        default = max(self.deregistration_delay(arn) for arn in pending) + 30
        self._wait(pending, wait_timeout(self.config, default), "drained", _drained)

    def register(self) -> None:
        pending = []
        for arn in self.arns:
            state, _, _ = self.health(arn)
            if state == "healthy":
                self.log.step("{}: {} already registered and healthy".format(arn, self.target["Id"]))
                continue
            self._call("register_targets", TargetGroupArn=arn, Targets=[self.target])
            self.log.step("{}: registered {} (was {})".format(arn, self.target["Id"], state))
            pending.append(arn)
        if pending:
            self._wait(pending, wait_timeout(self.config, 300), "healthy", _in_service)

    def _wait(
        self, pending: List[str], timeout: float, goal: str, reached: Callable[[str, str], Optional[str]]
    ) -> None:
        deadline = time.monotonic() + timeout
        target_id = self.target["Id"]
        while pending:
            for arn in list(pending):
                state, reason, description = self.health(arn)
                verdict = reached(state, reason)
                because = f" ({reason})" if reason else ""
                self.log.step(f"{arn}: target {target_id} is {state}{because}")
                if verdict:
                    if verdict != goal:
                        self.log.warn(f"{arn}: {verdict}")
                    pending.remove(arn)
                elif time.monotonic() >= deadline:
                    raise hookkit.LoadBalancerError(
                        f"target {target_id} not {goal} in {arn} within {timeout:g}s: {state} {reason} "
                        f"{description}; raise LB_WAIT_TIMEOUT or check the target group"
                    )
            if pending:
                time.sleep(self.poll)
        self.log.step(f"target {target_id} {goal} in every target group")


def _drained(state: str, reason: str) -> Optional[str]:
    return "drained" if state == "unused" else None


def _in_service(state: str, reason: str) -> Optional[str]:
    if state == "healthy":
        return "healthy"
    if state == "unused" and reason == "Target.NotInUse":
        return "the target group is not used by any load balancer: no health check to wait for"
    if state == "unavailable" and reason == "Target.HealthCheckDisabled":
        return "health checks are disabled for the target group: nothing to wait for"
    return None


# ---------------------------------------------------------------------------------------------------------
# HAProxy runtime API (stats socket with `level admin`): one command per connection, answer read to EOF.

SRV_ST_RUNNING = 2
# srv_admin_state bits that keep traffic away: FMAINT IMAINT CMAINT FDRAIN IDRAIN RMAINT
ADMIN_NOT_READY = 0x01 | 0x02 | 0x04 | 0x08 | 0x10 | 0x20


def parse_runtime_address(text: str) -> Tuple[int, object]:
    """(family, address) of `/path/admin.sock`, `unix@/path`, `127.0.0.1:9999`, `ipv4@host:port`, `[::1]:99`."""
    for prefix in ("unix@", "ipv4@", "ipv6@"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    if "/" in text:
        return socket.AF_UNIX, text
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise hookkit.ConfigError(
            f"HAPROXY_SOCKET={text} is neither a socket path nor host:port; e.g. /run/haproxy/admin.sock"
        )
    return (socket.AF_INET6 if ":" in host else socket.AF_INET), (host, int(port))


def haproxy_command(address: str, command: str, timeout: float = 5.0) -> str:
    family, target = parse_runtime_address(address)
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
    except OSError as exc:
        raise hookkit.LoadBalancerError(
            f"HAProxy runtime API at {address}: {exc}; "
            "is HAProxy running with `stats socket ... level admin`?"
        ) from None
    return b"".join(chunks).decode("utf-8", "replace")


def parse_servers_state(text: str) -> List[Dict[str, str]]:
    """Rows of `show servers state` (format 1: a version line, a '# ' header line, space-separated rows)."""
    lines = text.splitlines()
    header: List[str] = []
    rows = []
    for line in lines[1:]:
        if line.startswith("# "):
            header = line[2:].split()
        elif line.strip() and header:
            rows.append(dict(zip(header, line.split())))
    return rows


def parse_stat(text: str) -> List[Dict[str, str]]:
    """Rows of `show stat` CSV (header line starts with '# ')."""
    if not text.startswith("# "):
        return []
    return list(csv.DictReader(io.StringIO(text[2:])))


class HAProxyServers:
    def __init__(self, config: hookkit.Config, log: hookkit.HookLog) -> None:
        self.address = config.require("HAPROXY_SOCKET", "set it to HAProxy's admin socket")
        parse_runtime_address(self.address)
        self.backends = config.items("HAPROXY_BACKENDS")
        if not self.backends:
            raise hookkit.ConfigError(
                "HAPROXY_BACKENDS is not set; list the backends that hold this host, e.g. web"
            )
        self.server = config.require(
            "HAPROXY_SERVER", "set it to this host's server name in HAPROXY_BACKENDS"
        )
        self.poll = config.number("LB_POLL_INTERVAL", minimum=0.01)
        self.timeout = wait_timeout(config, 300)
        self.log = log

    def _set_state(self, state: str) -> None:
        for backend in self.backends:
            answer = haproxy_command(
                self.address, f"set server {backend}/{self.server} state {state}"
            ).strip()
            if answer:
                raise hookkit.LoadBalancerError(
                    f"HAProxy refused `set server {backend}/{self.server} state {state}`: {answer}"
                )
            self.log.step(f"haproxy: {backend}/{self.server} state {state}")

    def server_row(
        self, command: str, backend: str, parse: Callable[[str], List[Dict[str, str]]], name_key: str
    ) -> Dict[str, str]:
        answer = haproxy_command(self.address, command)
        for row in parse(answer):
            if row.get(name_key) == self.server and row.get("pxname", backend) == backend:
                return row
        raise hookkit.LoadBalancerError(
            f"HAProxy has no server {self.server} in backend {backend} ({command}): {answer.strip()[:200]}; "
            "fix HAPROXY_BACKENDS/HAPROXY_SERVER"
        )

    def sessions(self, backend: str) -> Tuple[int, str]:
        row = self.server_row("show stat -1 4 -1", backend, parse_stat, "svname")
        return int(row.get("scur") or 0), row.get("status", "?")

    def state(self, backend: str) -> Tuple[int, int, str]:
        row = self.server_row(f"show servers state {backend}", backend, parse_servers_state, "srv_name")
        status = self.server_row(
            "show stat -1 4 -1", backend, parse_stat, "svname"
        )  # by name: header only on 2.6
        check = "{} {}".format(status.get("status", "?"), status.get("check_status", ""))
        return int(row.get("srv_op_state", -1)), int(row.get("srv_admin_state", 0)), check.strip()

    def _wait(self, goal: str, done: Callable[[str], Tuple[bool, str]]) -> None:
        deadline = time.monotonic() + self.timeout
        pending = list(self.backends)
        while pending:
            for backend in list(pending):
                finished, detail = done(backend)
                self.log.step(f"haproxy: {backend}/{self.server} {detail}")
                if finished:
                    pending.remove(backend)
                elif time.monotonic() >= deadline:
                    raise hookkit.LoadBalancerError(
                        f"HAProxy server {backend}/{self.server} not {goal} within {self.timeout:g}s ({detail}); "
                        "raise LB_WAIT_TIMEOUT or check the server"
                    )
            if pending:
                time.sleep(self.poll)
        self.log.step("haproxy: {} {} in {}".format(self.server, goal, ", ".join(self.backends)))

    def deregister(self) -> None:
        self._set_state("drain")

        def drained(backend: str) -> Tuple[bool, str]:
            sessions, status = self.sessions(backend)
            return sessions == 0, f"{status}, {sessions} current session(s)"

        self._wait("drained", drained)

    def register(self) -> None:
        self._set_state("ready")

        def up(backend: str) -> Tuple[bool, str]:
            op_state, admin_state, check = self.state(backend)
            ready = op_state == SRV_ST_RUNNING and not admin_state & ADMIN_NOT_READY
            return ready, f"srv_op_state {op_state}, srv_admin_state {admin_state:#x}, {check}"

        self._wait("UP", up)


def configured(config: hookkit.Config, log: hookkit.HookLog) -> list:
    balancers: list = []
    if config.get("TARGET_GROUP_ARNS"):
        balancers.append(TargetGroups(config, log))
    if config.get("HAPROXY_SOCKET"):
        balancers.append(HAProxyServers(config, log))
    if not balancers:
        raise hookkit.ConfigError(
            "no load balancer configured: set TARGET_GROUP_ARNS (ELBv2), "
            "or HAPROXY_SOCKET, HAPROXY_BACKENDS and HAPROXY_SERVER"
        )
    return balancers
