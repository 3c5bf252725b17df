"""The preflight: before any host is changed, everything a deployment will need answers.

- the group file's local paths exist (each host's key file, `ssh.known_hosts` when keys are checked
  against it, `ssh.config`);
- no host is listed twice under two names (the same address and port once resolved, ssh_config aliases
  included): both would be deployed at once and fight over the host's lock;
- every host answers over SSH (connection, host key, login) and has python3, in one command per host
  that also learns whether the runner and the revision are there already (the deployment reuses the
  open connection and the answer, so the preflight costs no extra round trip on the hosts that deploy
  first);
- every load-balancer name resolves: HAProxy's socket, backend and each host's server (`show stat`);
  ELBv2's target groups (describe-target-groups, describe-target-health).

Each problem is one `FILE:LINE:COL: place: problem; fix` line. Nothing is changed on a host or in the
load balancer; `appspec fleet check` runs the same checks on demand, `plan --connect` adds them to the
dry run.
"""

from __future__ import annotations

import os
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from agent_shim.fleet.contracts import HostSpec, HostTransport, LoadBalancer
from agent_shim.fleet.group import LOCAL, DeploymentGroup

KEEP_OPEN = 2  # connections kept for the deployment: this many × max_parallel_ssh, first in its order


@dataclass(frozen=True)
class Problem:
    where: str  # a key path of the group file (`ssh.known_hosts`, `hosts[2].key`)
    message: str  # what is wrong, in the user's terms, and the fix
    host: str = ""  # the host it is about, if one

    def line(self, group: DeploymentGroup) -> str:
        about = f"host {self.host}: " if self.host else f"{self.where}: "
        return f"{group.place(self.where)}: {about}{self.message}"


@dataclass
class Preflight:
    problems: List[Problem] = field(default_factory=list)
    transports: Dict[str, HostTransport] = field(default_factory=dict)  # open, checked connections
    checked: List[str] = field(default_factory=list)  # the hosts that answered

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self, group: DeploymentGroup) -> List[str]:
        return [problem.line(group) for problem in self.problems]

    def take(self, name: str) -> Optional[HostTransport]:
        """The open connection the preflight made to a host, once (None if it kept none)."""
        return self.transports.pop(name, None)

    def close(self) -> None:
        for transport in self.transports.values():
            transport.close()
        self.transports.clear()


def check_settings(group: DeploymentGroup, hosts: Sequence[HostSpec]) -> List[Problem]:
    """What can be known without the network: local files the SSH connections need."""
    problems: List[Problem] = []
    ssh_hosts = [h for h in hosts if h.address != LOCAL]
    if not ssh_hosts:
        return problems
    for name, path in (("ssh.config", group.ssh.config), ("ssh.known_hosts", group.ssh.known_hosts)):
        if path and not os.path.isfile(path) and not (name == "ssh.known_hosts" and _accept_new(group)):
            fix = (
                "create it with ssh-keyscan (after checking the keys), or set ssh.host_key_policy: accept-new"
                if name == "ssh.known_hosts"
                else "fix the path or remove the setting"
            )
            problems.append(Problem(name, f"{path} does not exist; {fix}"))
    for spec in ssh_hosts:
        if spec.key and not os.path.isfile(os.path.expanduser(spec.key)):
            problems.append(
                Problem(
                    group.host_key(spec.name, "key"),
                    f"key file {spec.key} does not exist; fix the path, or remove `key` to use the SSH agent "
                    "and ssh_config's IdentityFile",
                    spec.name,
                )
            )
    return problems


def _accept_new(group: DeploymentGroup) -> bool:
    return group.ssh.host_key_policy == "accept-new"


def resolved_address(spec: HostSpec, ssh_config: Optional[str]) -> Optional[Tuple[str, int]]:
    """(IP, port) that SSH will connect to, ssh_config's HostName and Port applied; None if unresolvable."""
    host, port = spec.address, spec.port
    try:
        import fabric

        config = fabric.Config(runtime_ssh_path=ssh_config) if ssh_config else fabric.Config()
        connection = fabric.Connection(host=spec.address, port=spec.port, user=spec.user, config=config)
        host, port = connection.host, connection.port
    except Exception:  # noqa: BLE001 - an unreadable ssh_config is the SSH check's to report
        pass
    try:
        return str(socket.getaddrinfo(host, port or 22, proto=socket.IPPROTO_TCP)[0][4][0]), int(port or 22)
    except (OSError, UnicodeError):
        return None


def check_duplicates(group: DeploymentGroup, hosts: Sequence[HostSpec]) -> List[Problem]:
    """Two names for the same SSH host (same address and port once aliases and names are resolved)."""
    problems, seen = [], {}  # type: List[Problem], Dict[Tuple[str, int], str]
    names = {spec.name for spec in hosts}
    for spec in (h for h in group.hosts if h.name in names):  # the later entry of the file is the twin
        if spec.address == LOCAL:
            continue
        where = resolved_address(spec, group.ssh.config)
        if where is None:
            continue  # the SSH check says it cannot be resolved
        if where in seen:
            problems.append(
                Problem(
                    group.host_key(spec.name),
                    f"it is the same host as {seen[where]} ({where[0]} port {where[1]}): it would be deployed "
                    "twice at once; list it once",
                    spec.name,
                )
            )
        seen.setdefault(where, spec.name)
    return problems


def check_hosts(
    group: DeploymentGroup,
    hosts: Sequence[HostSpec],
    transport_for: Callable[[HostSpec], HostTransport],
    runner: Any,
    revision: Any,
    keep: int = 0,
) -> Preflight:
    """Every host answers over SSH and has python3 (at most max_parallel_ssh at once). The connections of
    the first `keep` hosts stay open for the deployment; the others are closed."""
    result = Preflight()

    def one(spec: HostSpec) -> Tuple[HostSpec, HostTransport, Optional[str]]:
        transport = transport_for(spec)
        try:
            transport.check(
                getattr(runner, "path", ""),
                getattr(runner, "checksum", ""),
                getattr(revision, "archive", ""),
                getattr(revision, "checksum", ""),
            )
            return spec, transport, None
        except Exception as exc:  # noqa: BLE001 - TransportError, or anything else: one line
            transport.close()
            text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            prefix = f"ssh {getattr(transport, 'where', spec.name)}: "
            if text.startswith(prefix):  # the problem's place names the host already
                port = f":{spec.port}" if spec.port else ""
                text = f"ssh {spec.address}{port}: {text[len(prefix) :]}"
            return spec, transport, text

    workers = max(1, min(group.max_parallel_ssh, len(hosts)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="preflight") as pool:
        answers = list(pool.map(one, hosts))
    for index, (spec, transport, problem) in enumerate(answers):
        if problem is not None:
            result.problems.append(Problem(group.host_key(spec.name), problem, spec.name))
            continue
        result.checked.append(spec.name)
        if index < keep:
            result.transports[spec.name] = transport
        else:
            transport.close()
    return result


def check_load_balancer(group: DeploymentGroup, lb: LoadBalancer, hosts: Sequence[HostSpec]) -> List[Problem]:
    if not group.load_balancer.enabled:
        return []
    try:
        found = lb.check(hosts)
    except Exception as exc:  # noqa: BLE001 - an adapter should answer with problems; be safe anyway
        found = [("load_balancer", f"the load balancer could not be asked: {exc}")]
    problems = []
    for where, message in found:
        if where.startswith("host:"):
            _, name, key = (where.split(":", 2) + [""])[:3]
            problems.append(Problem(group.host_key(name, key), message, name))
        else:
            problems.append(Problem(where, message))
    return problems


def preflight(
    group: DeploymentGroup,
    hosts: Sequence[HostSpec],
    transport_for: Callable[[HostSpec], HostTransport],
    lb: LoadBalancer,
    runner: Any = None,
    revision: Any = None,
    connect: bool = True,
) -> Preflight:
    """Every check, for `hosts` (in deployment order); with `connect=False` only what needs no host
    (files, duplicates, the load balancer)."""
    problems = check_settings(group, hosts) + check_duplicates(group, hosts)
    problems += check_load_balancer(group, lb, hosts)
    result = Preflight()
    if connect and not any(p.where.startswith("ssh.") for p in problems):  # else every host fails alike
        known = {p.host for p in problems if p.host and not p.where.endswith("lb_server")}
        keep = KEEP_OPEN * group.max_parallel_ssh if revision is not None else 0
        reachable = [h for h in hosts if h.name not in known]
        result = check_hosts(group, reachable, transport_for, runner, revision, keep=keep)
    result.problems[:0] = problems
    result.problems.sort(key=lambda p: group.places.get(p.where, (0, 0)))  # in the group file's order
    return result
