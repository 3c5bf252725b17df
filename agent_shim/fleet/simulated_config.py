"""The simulated fleet's configuration files, generated: each host's sshd_config and shell start-up,
HAProxy's configuration and server check options (from the group's health check), and the group file's
`health_check` for it."""

from __future__ import annotations

import os
import shutil
import sys
from typing import Dict, Sequence, Tuple

from agent_shim.fleet.health_check import HealthCheck

BACKEND = "web"


def bare_bashrc() -> str:
    """The shell start-up of a simulated host: nothing, or where python3 is if the default PATH has none."""
    if shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin"):
        return "# simulated host: a bare shell\n"
    return f'export PATH="{os.path.dirname(os.path.realpath(sys.executable))}:$PATH"\n'


SSHD_CONFIG = """\
ListenAddress {address}
Port {port}
HostKey {host_key}
AuthorizedKeysFile {authorized_keys}
PidFile {directory}/sshd.pid
# a test daemon: root by key only, no PAM, files under a temporary folder
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
LogLevel ERROR
MaxStartups 100:30:200
MaxSessions 50
Subsystem sftp internal-sftp
"""

HAPROXY_CONFIG = """\
global
    stats socket {socket} mode 600 level admin
    stats timeout 30s
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout check 2s
frontend web
    bind 127.0.0.1:{port}
    default_backend {backend}
backend {backend}
    balance roundrobin
    option httpchk GET {path}
    http-check expect {expect}
    timeout check {timeout}ms
    default-server inter {inter}ms fall {fall} rise {rise}
"""


def sshd_config(address: str, port: int, directory: str, host_key: str, authorized_keys: str) -> str:
    return SSHD_CONFIG.format(
        address=address, port=port, host_key=host_key, authorized_keys=authorized_keys, directory=directory
    )


def haproxy_config(
    socket: str, port: int, servers: Sequence[Tuple[str, str]], app_port: int, check: HealthCheck
) -> str:
    """HAProxy's configuration: a frontend on `port`, `servers` (name, address) behind it, its check
    generated from the fleet's health check."""
    head = HAPROXY_CONFIG.format(
        socket=socket, port=port, backend=BACKEND, path=check.path,
        expect=http_check_expect(check.success_codes), timeout=int(check.timeout * 1000),
        inter=int(check.interval * 1000), fall=check.unhealthy_threshold, rise=check.healthy_threshold,
    )  # fmt: skip
    return head + "".join(
        f"    server {name} {address}:{app_port} {server_check(check)}\n" for name, address in servers
    )


def server_check(check: HealthCheck) -> str:
    """A server line's check options: HAProxy's `inter`/`fall`/`rise` are ELB's interval and thresholds."""
    port = f" port {check.port}" if check.port else ""
    return (
        f"check{port} inter {int(check.interval * 1000)} fall {check.unhealthy_threshold} "
        f"rise {check.healthy_threshold}"
    )


def http_check_expect(codes: str) -> str:
    """`status 200`, or a regular expression for ELB's lists and ranges (`200-299,302`)."""
    if codes.isdigit():
        return f"status {codes}"
    alternatives = []
    for part in codes.split(","):
        low, _, high = part.partition("-")
        alternatives += [str(code) for code in range(int(low), int(high or low) + 1)]
    return f"rstatus ^({'|'.join(alternatives)})$"


def health_check_document(check: HealthCheck) -> Dict[str, object]:
    """The group file's `health_check` for `check`."""
    document: Dict[str, object] = {
        "path": check.path,
        "interval": check.interval,
        "timeout": check.timeout,
        "healthy_threshold": check.healthy_threshold,
        "unhealthy_threshold": check.unhealthy_threshold,
        "success_codes": check.success_codes,
    }
    if check.port:
        document["port"] = check.port
    return document
