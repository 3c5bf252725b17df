"""A fleet of simulated hosts on this machine, for the tests, the benchmark and a demo.

Each host is a real OpenSSH `sshd` in a network namespace of its own (`10.213.X.(10+i)` on a bridge whose
root-namespace end is `10.213.X.1`) and a mount namespace where the host's own directories are bound over
`/opt` (app destination and deployment root), `/var/backups` and the runner directory, so every host has
the agent's default paths and its own files. HAProxy in the root namespace balances
`127.0.0.1:PORT` over the hosts with `option httpchk GET /health`.

Where network namespaces cannot be made (not root, no `ip netns`), hosts fall back to loopback
addresses 127.0.1.N with a per-host deployment root and install root (`HostSpec.root`/`install_root`).
Everything started here is stopped by `stop()` (also on errors), found by namespace or by a marker
variable in the host processes' environment (host_processes.py, which also cleans up after a run whose
process died). Demo: `python -m agent_shim.fleet.simulated --hosts 4`.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, replace
from typing import Dict, List, Optional

from agent_shim.fleet.contracts import HostSpec
from agent_shim.fleet.health_check import HealthCheck
from agent_shim.fleet.host_processes import (
    MARKER,
    alive,
    binary,
    kill_all,
    marked,
    missing_binaries,
    namespaces_unavailable,
    remove_stale,
    run_checked,
    spawn,
    unregister,
    wait_port,
)
from agent_shim.fleet.lb import HaproxyLoadBalancer
from agent_shim.fleet.simulated_config import (
    BACKEND,
    bare_bashrc,
    haproxy_config,
    health_check_document,
    server_check,
    sshd_config,
)
from agent_shim.fleet.transport_ssh import RUNNER_DIR, SshTransport

SUBNET_PREFIX = "10.213"
_counter = [0]


@dataclass
class SimulatedHost:
    name: str
    address: str
    directory: str
    namespace: Optional[str]
    spec: HostSpec
    sshd: Optional[subprocess.Popen] = None

    @property
    def app_dir(self) -> str:
        """Where the host's /opt/sample-app is, seen from this machine."""
        return os.path.join(self.directory, "opt", "sample-app")


class SimulatedFleet:
    """N simulated hosts and HAProxy; a context manager whose exit tears everything down."""

    def __init__(
        self,
        hosts: int = 4,
        base_dir: Optional[str] = None,
        *,
        app_port: int = 8080,
        check_interval: float = 0.5,
        fall: int = 2,
        rise: int = 2,
        health_check: Optional[HealthCheck] = None,
        namespaces: Optional[bool] = None,
        with_haproxy: bool = True,
        environment: Optional[Dict[str, str]] = None,
    ) -> None:
        missing = missing_binaries()
        if missing:
            raise RuntimeError(
                f"simulated fleet needs {', '.join(missing)}: apt-get install openssh-server haproxy"
            )
        self.count = hosts
        self.own_dir = base_dir is None
        self.base_dir = os.path.abspath(base_dir or tempfile.mkdtemp(prefix="appspec-fleet-"))
        if self.base_dir == "/opt" or self.base_dir.startswith("/opt/"):
            raise ValueError("the fleet's directory must not be under /opt: each host gets its own /opt")
        self.app_port = app_port
        # the group's one definition of health: HAProxy's check, the group file's health_check and the
        # hooks' ValidateService defaults (HOOKS_DEFAULT_*) all come from it
        self.health_check = health_check or HealthCheck(
            interval=check_interval,
            timeout=min(2.0, check_interval),
            healthy_threshold=rise,
            unhealthy_threshold=fall,
        )
        self.with_haproxy = with_haproxy
        self.environment = dict(environment or {})
        _counter[0] += 1
        self.tag = f"{os.getpid():x}-{_counter[0]:x}"
        self.fallback_reason = namespaces_unavailable() if namespaces is not False else "namespaces=False"
        self.mode = "netns" if namespaces is not False and self.fallback_reason is None else "loopback"
        if namespaces and self.mode != "netns":
            raise RuntimeError(f"network namespaces unavailable: {self.fallback_reason}")
        self.hosts: List[SimulatedHost] = []
        self.bridge: Optional[str] = None
        self.subnet = ""
        self.haproxy: Optional[subprocess.Popen] = None
        self.haproxy_port = 0
        self.haproxy_socket = os.path.join(self.base_dir, "haproxy.sock")
        self.client_key = os.path.join(self.base_dir, "client_key")
        self.known_hosts = os.path.join(self.base_dir, "known_hosts")
        self.runner_mount = os.path.join(os.path.expanduser("~"), RUNNER_DIR)

    # -- lifecycle ---------------------------------------------------------------------------------------
    def __enter__(self) -> SimulatedFleet:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        os.makedirs(self.base_dir, exist_ok=True)
        run_checked(
            "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "appspec-fleet", "-f", self.client_key
        )
        open(self.known_hosts, "w").close()
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
        remove_stale()
        if self.mode == "netns":
            self._make_bridge()
        for _ in range(self.count):
            self.add_host()
        if self.with_haproxy:
            self._start_haproxy()

    def stop(self) -> None:
        """Kill every process of every host, HAProxy; remove namespaces, the bridge, our directory."""
        for host in self.hosts:
            self._kill_host_processes(host)
            unregister(host.sshd)
        if self.haproxy is not None and self.haproxy.poll() is None:
            self.haproxy.terminate()
            try:
                self.haproxy.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.haproxy.kill()
                self.haproxy.wait()
        unregister(self.haproxy)
        for host in self.hosts:
            if host.namespace:
                subprocess.run(["ip", "netns", "del", host.namespace], capture_output=True)
        if self.bridge:
            subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
            self.bridge = None
        self.hosts = []
        if self.own_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    # -- network -----------------------------------------------------------------------------------------
    def _make_bridge(self) -> None:
        used = set(
            re.findall(
                rf"inet {re.escape(SUBNET_PREFIX)}\.(\d+)\.",
                subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True).stdout,
            )
        )
        third = next(n for n in range(256) if str(n) not in used)
        self.subnet = f"{SUBNET_PREFIX}.{third}"
        self.bridge = f"asfb-{self.tag}"
        run_checked("ip", "link", "add", self.bridge, "type", "bridge")
        run_checked("ip", "addr", "add", f"{self.subnet}.1/24", "dev", self.bridge)
        run_checked("ip", "link", "set", self.bridge, "up")

    def _address(self, index: int) -> str:
        return f"{self.subnet}.{10 + index}" if self.mode == "netns" else f"127.0.1.{index}"

    # -- hosts -------------------------------------------------------------------------------------------
    def add_host(self, in_load_balancer: bool = True) -> SimulatedHost:
        """Create and start one more host (h1, h2, ...); with HAProxy running, add it as a drained server
        (like an instance that joins the target group at its first AllowTraffic)."""
        index = len(self.hosts) + 1
        name, address = f"h{index}", self._address(index)
        directory = os.path.join(self.base_dir, name)
        for sub in ("opt", "backups", "runner"):
            os.makedirs(os.path.join(directory, sub), exist_ok=True)
        environment = {
            MARKER: f"{self.tag}/{name}",
            "APP_HOST": address,
            "SAMPLE_APP_HOST": address,
            "APP_PORT": str(self.app_port),
        }
        environment.update(self.health_check.hook_defaults())  # as the group file gives every host
        environment.update(self.environment)
        port = 22 if self.mode == "netns" else 2222
        spec = HostSpec(
            name,
            address,
            port=port,
            user=_user(),
            key=self.client_key,
            lb_server=name,
            environment=environment,
        )
        namespace = None
        if self.mode == "netns":
            namespace = f"asf-{self.tag}-{name}"
            self._make_namespace(namespace, index, address)
        else:
            environment["BACKUP_DIR"] = os.path.join(directory, "backups")
            spec = replace(
                spec,
                root=os.path.join(directory, "opt", "codedeploy-agent", "deployment-root"),
                install_root=directory,
            )
        host = SimulatedHost(name, address, directory, namespace, spec)
        self.hosts.append(host)
        self._start_sshd(host)
        if in_load_balancer and self.haproxy is not None:
            lb = self.load_balancer()
            for command in (
                f"add server {BACKEND}/{name} {address}:{self.app_port} {server_check(self.health_check)}",
                f"enable health {BACKEND}/{name}",
                f"set server {BACKEND}/{name} state drain",  # in service only after AllowTraffic
                f"set server {BACKEND}/{name} health down",  # and `rise` good checks
            ):
                lb.command(command)
        return host

    def _make_namespace(self, namespace: str, index: int, address: str) -> None:
        veth = f"asv{self.tag.replace('-', '')}h{index}"[:15]
        run_checked("ip", "netns", "add", namespace)
        run_checked("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        run_checked("ip", "link", "set", veth, "master", self.bridge or "", "up")
        run_checked("ip", "-n", namespace, "addr", "add", f"{address}/24", "dev", "eth0")
        run_checked("ip", "-n", namespace, "link", "set", "eth0", "up")
        run_checked("ip", "-n", namespace, "link", "set", "lo", "up")

    def _start_sshd(self, host: SimulatedHost) -> None:
        directory = host.directory
        key = os.path.join(directory, "ssh_host_ed25519_key")
        run_checked("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", host.name, "-f", key)
        shutil.copy(self.client_key + ".pub", os.path.join(directory, "authorized_keys"))
        config = os.path.join(directory, "sshd_config")
        with open(config, "w") as handle:
            handle.write(
                sshd_config(
                    host.address,
                    host.spec.port or 22,
                    host.directory,
                    key,
                    os.path.join(directory, "authorized_keys"),
                )
            )
        with open(key + ".pub") as public, open(self.known_hosts, "a") as known:
            entry = host.address if host.spec.port in (None, 22) else f"[{host.address}]:{host.spec.port}"
            known.write(f"{entry} {' '.join(public.read().split()[:2])}\n")
        sshd = binary("sshd") or "sshd"
        command = [sshd, "-D", "-e", "-f", config]
        if host.namespace:  # its own /opt, /var/backups and runner directory: a mount namespace
            mounts = [
                (os.path.join(directory, "opt"), "/opt"),
                (os.path.join(directory, "runner"), self.runner_mount),
            ]
            rc = os.path.join(os.path.expanduser("~"), ".bashrc")
            if os.path.isfile(rc):  # a bare host's shell, not this machine's (pyenv init: ~80 ms a command)
                with open(os.path.join(directory, "bashrc"), "w") as handle:
                    handle.write(bare_bashrc())
                mounts.append((os.path.join(directory, "bashrc"), rc))
            if os.path.isdir("/var/backups"):
                mounts.append((os.path.join(directory, "backups"), "/var/backups"))
            os.makedirs(self.runner_mount, exist_ok=True)  # the mount point, empty on this machine
            script = " && ".join(f"mount --bind {shlex.quote(a)} {shlex.quote(b)}" for a, b in mounts)
            command = [
                "ip",
                "netns",
                "exec",
                host.namespace,
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                f'{script} && exec "$@"',
                "sh",
                *command,
            ]
        host.sshd = spawn(command, os.path.join(directory, "sshd.log"))
        wait_port(
            host.address,
            host.spec.port or 22,
            15,
            host.sshd,
            f"sshd of {host.name} (see {directory}/sshd.log)",
        )

    def host(self, name: str) -> SimulatedHost:
        return next(h for h in self.hosts if h.name == name)

    def host_pids(self, name: str) -> List[int]:
        host = self.host(name)
        if host.namespace:
            listing = subprocess.run(["ip", "netns", "pids", host.namespace], capture_output=True, text=True)
            return [int(p) for p in listing.stdout.split()]
        pids = [pid for pid, value in marked() if value == f"{self.tag}/{name}"]
        return pids + ([host.sshd.pid] if host.sshd and host.sshd.poll() is None else [])

    def _kill_host_processes(self, host: SimulatedHost) -> None:
        if host.sshd is not None and host.sshd.poll() is None:
            kill_all([host.sshd.pid])
        kill_all(self.host_pids(host.name))
        if host.sshd is not None:
            host.sshd.wait(timeout=10)

    def kill_host(self, name: str) -> None:
        """The host vanishes: sshd, the runner, the hooks and the app die at once (SIGKILL)."""
        self._kill_host_processes(self.host(name))

    def app_pid(self, name: str) -> Optional[int]:
        try:
            with open(os.path.join(self.host(name).app_dir, "run", "sample-app.pid")) as handle:
                pid = int(handle.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if alive(pid) else None

    def kill_app(self, name: str) -> Optional[int]:
        """Stop the host's app abruptly (SIGKILL), as a crash would; its pid, or None if none ran."""
        pid = self.app_pid(name)
        if pid is not None:
            kill_all([pid])
        return pid

    # -- what the controller uses ------------------------------------------------------------------------
    @property
    def specs(self) -> List[HostSpec]:
        return [host.spec for host in self.hosts]

    def transport(self, name: str, **options: object) -> SshTransport:
        return SshTransport(self.host(name).spec, known_hosts=self.known_hosts, **options)  # type: ignore[arg-type]

    def load_balancer(self) -> HaproxyLoadBalancer:
        return HaproxyLoadBalancer(self.haproxy_socket, BACKEND, health_check=self.health_check)

    @property
    def check_interval(self) -> float:
        return self.health_check.interval

    @property
    def fall(self) -> int:
        return self.health_check.unhealthy_threshold

    @property
    def rise(self) -> int:
        return self.health_check.healthy_threshold

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.haproxy_port}/"

    def group_document(self, **settings: object) -> Dict[str, object]:
        """The deployment group file's content for these hosts (schema: agent_shim.fleet.group)."""
        hosts = []
        for spec in self.specs:
            entry: Dict[str, object] = dict(name=spec.name, host=spec.address, port=spec.port, user=spec.user)
            entry.update(
                key=spec.key, lb_server=spec.lb_server, root=spec.root, install_root=spec.install_root
            )
            hosts.append({k: v for k, v in entry.items() if v is not None})
            hosts[-1]["environment"] = dict(spec.environment)
        document: Dict[str, object] = {
            "application": "sample-app",
            "deployment_group": "simulated",
            "hosts": hosts,
            "health_check": health_check_document(self.health_check),
            "ssh": {"known_hosts": self.known_hosts},
            "history": os.path.join(self.base_dir, "history.sqlite"),
        }
        if self.haproxy is not None:
            document["load_balancer"] = {"type": "haproxy", "socket": self.haproxy_socket, "backend": BACKEND}
        document.update(settings)
        return document

    def write_group_file(self, path: Optional[str] = None, **settings: object) -> str:
        import yaml

        path = path or os.path.join(self.base_dir, "group.yml")
        with open(path, "w") as handle:
            handle.write(
                f"# simulated fleet of {len(self.hosts)} hosts ({self.mode}), written by agent_shim.fleet.simulated\n"
            )
            yaml.safe_dump(self.group_document(**settings), handle, sort_keys=False)
        return path

    def _start_haproxy(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.haproxy_port = probe.getsockname()[1]
        config = os.path.join(self.base_dir, "haproxy.cfg")
        with open(config, "w") as handle:
            servers = [(h.name, h.address) for h in self.hosts]
            handle.write(
                haproxy_config(
                    self.haproxy_socket, self.haproxy_port, servers, self.app_port, self.health_check
                )
            )
        command = [binary("haproxy") or "haproxy", "-db", "-f", config]
        self.haproxy = spawn(command, os.path.join(self.base_dir, "haproxy.log"))
        wait_port("127.0.0.1", self.haproxy_port, 10, self.haproxy, "haproxy (see haproxy.log)")


def _user() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def main(argv: Optional[List[str]] = None) -> int:
    """The demo: start the fleet, write its group file, wait for Ctrl-C, tear everything down."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m agent_shim.fleet.simulated", description=main.__doc__)
    parser.add_argument("--hosts", type=int, default=4, help="number of simulated hosts (default 4)")
    parser.add_argument(
        "--dir", help="folder for the hosts' files (default: a new temporary one, removed at exit)"
    )
    parser.add_argument("--port", type=int, default=8080, help="the app's port on every host (default 8080)")
    parser.add_argument("--seed-checks", action="store_true", help="the seed's 5 s check interval, not 0.5 s")
    args = parser.parse_args(argv)
    stop = []
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.append(1))
    fleet = SimulatedFleet(
        args.hosts, args.dir, app_port=args.port, check_interval=5 if args.seed_checks else 0.5
    )
    with fleet:
        group_file = fleet.write_group_file()
        print(f"{len(fleet.hosts)} simulated hosts ({fleet.mode}); HAProxy at {fleet.url}", flush=True)
        if fleet.fallback_reason and fleet.mode == "loopback":
            print(f"  loopback fallback: {fleet.fallback_reason}")
        for host in fleet.hosts:
            print(
                f"  {host.name}  ssh {host.spec.user}@{host.address} -p {host.spec.port} -i {fleet.client_key}  files {host.directory}"
            )
        print(f"\ngroup file {group_file}:\n")
        with open(group_file) as handle:
            print(handle.read())
        print(f"deploy:  appspec fleet deploy --group {group_file} --bundle sample_app")
        print(f"watch:   curl {fleet.url}   (HAProxy runtime API: {fleet.haproxy_socket})")
        print("stop:    Ctrl-C (removes the hosts, namespaces and files)", flush=True)
        while not stop:
            time.sleep(0.2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
