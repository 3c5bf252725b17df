"""Helpers of the controller tests: a fleet of `local` hosts (this machine, each with its own deployment
root and install root), tiny hand-made revisions whose hooks succeed or fail by a marker file, a FIFO
gate that holds a hook in flight until the test lets it go, and a real HAProxy in front of per-host
health servers. Nothing here is a stand-in for product code: the controller, the runner, the history and
the load-balancer adapter are the real ones.
"""

from __future__ import annotations

import errno
import json
import os
import select
import socket
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from agent_shim.fleet.commands import load_balancer_for, transport_factory
from agent_shim.fleet.controller import Controller
from agent_shim.fleet.group import DeploymentGroup, load_group
from agent_shim.fleet.history import History
from agent_shim.fleet.recorder import FleetRun
from agent_shim.fleet.revisions import prepare_revision

REPO = Path(__file__).resolve().parents[2]
EVENTS = ("ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService")

# A hook fails on a host when the test created $OUT/fail-<event>-<host> (or fail-<version>-<event>-<host>,
# for that revision only); it always records that it ran.
HOOK = """\
#!/bin/sh
echo "$LIFECYCLE_EVENT $DEPLOYMENT_ID" >> "$OUT/ran-$HOST_NAME"
for marker in "fail-$LIFECYCLE_EVENT-$HOST_NAME" "fail-$VERSION-$LIFECYCLE_EVENT-$HOST_NAME"; do
  if [ -e "$OUT/$marker" ]; then echo "failing on purpose" >&2; exit 3; fi
done
"""


def make_revision(path: Path, version: str, extra: Optional[Dict[str, str]] = None) -> Path:
    """A revision that installs VERSION to <install root>/opt/app and runs HOOK (plus `extra` sh lines
    per event) at every scriptable event, the traffic ones included."""
    events = list(EVENTS) + [
        "BeforeBlockTraffic",
        "AfterBlockTraffic",
        "BeforeAllowTraffic",
        "AfterAllowTraffic",
    ]
    (path / "scripts").mkdir(parents=True, exist_ok=True)
    (path / "content").mkdir(exist_ok=True)
    (path / "content" / "VERSION").write_text(version + "\n")
    lines = [
        "version: 0.0",
        "os: linux",
        "files:",
        "  - source: content",
        "    destination: /opt/app",
        "hooks:",
    ]
    for event in events:
        script = path / "scripts" / f"{event}.sh"
        script.write_text(
            HOOK.replace("\n", f"\nVERSION={version}\n", 1) + (extra or {}).get(event, "") + "\n"
        )
        script.chmod(0o755)
        lines += [f"  {event}:", f"    - location: scripts/{event}.sh", "      timeout: 60"]
    (path / "appspec.yml").write_text("\n".join(lines) + "\n")
    return path


class LocalFleet:
    """Hosts named `names`, all this machine; `out` collects what the hooks saw."""

    def __init__(self, tmp: Path, names: Sequence[str], **settings: Any) -> None:
        self.tmp = tmp
        self.names = list(names)
        self.out = tmp / "out"
        self.out.mkdir(exist_ok=True)
        self.revisions = tmp / "revisions"
        self.group_path = tmp / "group.yml"
        self.settings: Dict[str, Any] = {"deployment_config": "CodeDeployDefault.OneAtATime"}
        self.settings.update(settings)
        self.extra_environment: Dict[str, str] = {}
        self.write_group()

    def host_entry(self, name: str) -> Dict[str, Any]:
        environment = {
            "HOST_NAME": name,
            "OUT": str(self.out),
            "PY": sys.executable,
            **self.extra_environment,
        }
        return {
            "name": name,
            "host": "local",
            "root": f"hosts/{name}/root",
            "install_root": f"hosts/{name}/inst",
            "lb_server": name,
            "environment": environment,
        }

    def write_group(self, **settings: Any) -> Path:
        self.settings.update(settings)
        document = {
            "application": "App",
            "deployment_group": "web",
            "history": "state/history.sqlite",
            "hosts": [self.host_entry(n) for n in self.names],
            **self.settings,
        }
        self.group_path.write_text(json.dumps(document, indent=2))  # JSON is YAML
        return self.group_path

    def add_host(self, name: str) -> None:
        self.names.append(name)
        self.write_group()

    @property
    def group(self) -> DeploymentGroup:
        return load_group(str(self.group_path))

    def revision(self, version: str, **extra: str) -> Path:
        return make_revision(self.revisions / version, version, extra)

    def fail(self, event: str, *hosts: str, version: str = "") -> None:
        for host in hosts:
            (self.out / f"fail-{version + '-' if version else ''}{event}-{host}").touch()

    def heal(self) -> None:
        for marker in self.out.glob("fail-*"):
            marker.unlink()

    def installed(self, host: str) -> Optional[str]:
        path = self.tmp / "hosts" / host / "inst" / "opt" / "app" / "VERSION"
        return path.read_text().strip() if path.exists() else None

    def host_deployments(self, host: str) -> List[str]:
        group_dir = self.tmp / "hosts" / host / "root" / "web"
        return sorted(p.name for p in group_dir.iterdir()) if group_dir.exists() else []

    def ran(self, host: str) -> List[str]:
        path = self.out / f"ran-{host}"
        return [line.split()[0] for line in path.read_text().splitlines()] if path.exists() else []

    def deploy(self, version: str, **extra: str) -> FleetRun:
        group = self.group
        with History(group.history_path) as history:
            revision = prepare_revision(str(self.revision(version, **extra)), None, history)
            return self.controller(group, history).deploy(revision)

    def controller(self, group: DeploymentGroup, history: History, **options: Any) -> Controller:
        return Controller(
            group, history, transport_factory(group), load_balancer_for(group), poll=0.05, **options
        )

    def history(self) -> History:
        return History(self.group.history_path)


def intervals(run_deployment: Any) -> Dict[str, tuple]:
    """(start, end) of each host that ran, from the controller's own records."""
    return {
        name: (outcome.started, outcome.started + outcome.duration)
        for name, outcome in run_deployment.hosts.items()
        if outcome.started
    }


def most_at_once(spans: Dict[str, tuple]) -> int:
    points = sorted([(start, 1) for start, _ in spans.values()] + [(end, -1) for _, end in spans.values()])
    peak = current = 0
    for _, step in points:  # an end at the same instant as a start counts first (-1 sorts before 1)
        current += step
        peak = max(peak, current)
    return peak


# Holding a hook in flight -------------------------------------------------------------------------------------
class Gate:
    """A hook runs `gate.hold` to say "I am here" through one FIFO, then blocks reading another until the
    test calls `release`: the test knows for certain that the hook is in flight."""

    def __init__(self, directory: Path, name: str = "gate") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.reached = directory / f"{name}.reached"
        self.released = directory / f"{name}.release"
        for fifo in (self.reached, self.released):
            os.mkfifo(fifo)
        self._reader = os.open(self.reached, os.O_RDONLY | os.O_NONBLOCK)

    @property
    def hold(self) -> str:
        return f'echo reached > "{self.reached}"\nread line < "{self.released}"\n'

    def wait_reached(self, timeout: float = 30.0) -> None:
        poller = select.poll()
        poller.register(self._reader, select.POLLIN)
        if not poller.poll(timeout * 1000):
            raise AssertionError(f"no hook reached {self.reached} within {timeout}s")
        os.read(self._reader, 64)

    def release(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fd = os.open(self.released, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as exc:  # ENXIO: the hook has not opened its end yet
                if exc.errno != errno.ENXIO or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        try:
            os.write(fd, b"go\n")
        finally:
            os.close(fd)

    def close(self) -> None:
        os.close(self._reader)


def barrier(out: Path, name: str, hosts: Sequence[str]) -> str:
    """sh lines: mark this host, then wait (at most 30 s, else fail) until every host in `hosts` has:
    proof that they are in flight together."""
    names = " ".join(hosts)
    return textwrap.dedent(
        f"""\
        touch "{out}/{name}-$HOST_NAME"
        case " {names} " in *" $HOST_NAME "*) ;; *) exit 0 ;; esac
        n=0
        while :; do
          all=1
          for h in {names}; do [ -e "{out}/{name}-$h" ] || all=0; done
          [ $all = 1 ] && exit 0
          n=$((n+1)); [ $n -gt 3000 ] && echo "barrier {name}: not all of {names} came" >&2 && exit 9
          sleep 0.01
        done
        """
    )


class InThread:
    """Run a callable in a thread and get its result (or its exception) back."""

    def __init__(self, target: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._run, args=(target,), daemon=True)
        self.thread.start()

    def _run(self, target: Callable[[], Any]) -> None:
        try:
            self.result = target()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.error = exc

    def join(self, timeout: float = 60.0) -> Any:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the deployment did not end"
        if self.error is not None:
            raise self.error
        return self.result


# A real HAProxy in front of per-host health servers ------------------------------------------------------------
class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        failing = getattr(self.server, "failing", False)
        body = b"failing\n" if failing else b"ok\n"
        self.send_response(500 if failing else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _HealthServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # HAProxy's check closes the connection once it has the status line


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Haproxy:
    """HAProxy (`option httpchk GET /health`, checks every 100 ms) over one health server per host, with
    its runtime API socket for the controller's load-balancer adapter."""

    def __init__(self, tmp: Path, names: Sequence[str], binary: str) -> None:
        self.servers = {}
        for name in names:
            server = _HealthServer(("127.0.0.1", 0), _Health)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.servers[name] = server
        self.socket = str(tmp / "haproxy.sock")
        self.port = free_port()
        config = tmp / "haproxy.cfg"
        lines = [
            "global",
            f"    stats socket {self.socket} mode 600 level admin",
            "defaults",
            "    mode http",
            "    timeout connect 1s",
            "    timeout client 5s",
            "    timeout server 5s",
            "frontend site",
            f"    bind 127.0.0.1:{self.port}",
            "    default_backend web",
            "backend web",
            "    option httpchk GET /health",
        ]
        for name, server in self.servers.items():
            lines.append(
                f"    server {name} 127.0.0.1:{server.server_address[1]} check inter 100 rise 1 fall 1"
            )
        config.write_text("\n".join(lines) + "\n")
        self.log = open(tmp / "haproxy.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [binary, "-db", "-f", str(config)], stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 15
        while not os.path.exists(self.socket):  # waiting for a process we cannot be notified about
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"HAProxy did not start: {(tmp / 'haproxy.log').read_text()}")
            time.sleep(0.02)

    def fail_health(self, name: str, failing: bool = True) -> None:
        """Make one server's /health answer 500 (or 200 again)."""
        self.servers[name].failing = failing  # type: ignore[attr-defined]

    # the check HAProxy runs here, as a group file's health_check (so the adapter's verdict agrees)
    HEALTH_CHECK = {"interval": 0.1, "timeout": 0.1, "healthy_threshold": 1, "unhealthy_threshold": 1}

    def admin_state(self, name: str) -> int:
        from agent_shim.fleet.lb import HaproxyLoadBalancer

        return int(HaproxyLoadBalancer(self.socket, "web").states()[name]["srv_admin_state"])

    def set_state(self, name: str, state: str) -> None:
        from agent_shim.fleet.lb import haproxy_command

        haproxy_command(self.socket, f"set server web/{name} state {state}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        for server in self.servers.values():
            server.shutdown()
            server.server_close()


DRAINED = 0x08  # srv_admin_state FDRAIN: set by `set server ... state drain`
MAINTENANCE = 0x01  # FMAINT


def query_state_hook() -> str:
    """sh lines: write this host's HAProxy admin state, as the hook sees it, to $OUT/state-<event>-<host>."""
    code = (
        "import os; from agent_shim.fleet.lb import HaproxyLoadBalancer as L; "
        "s = L(os.environ['HAPROXY_SOCKET'], 'web').states()[os.environ['HOST_NAME']]['srv_admin_state']; "
        "open(os.path.join(os.environ['OUT'], 'state-' + os.environ['LIFECYCLE_EVENT'] + '-' + "
        "os.environ['HOST_NAME']), 'w').write(s)"
    )
    return f'"$PY" -c "{code}"\n'
