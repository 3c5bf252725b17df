"""Fixtures of the hooks tests: run a hook the way the CodeDeploy agent does, the sample app, small fake
servers, HAProxy and moto. Everything binds to 127.0.0.1 only."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import pytest

REPO = Path(__file__).resolve().parents[2]
HOOKS = REPO / "hooks"
SAMPLE_APP = REPO / "sample_app"
DOCS = REPO / "docs"
sys.path.insert(0, str(HOOKS))

import hookkit  # noqa: E402

DEPLOYMENT_ENV = {
    "LIFECYCLE_EVENT": "ValidateService",
    "DEPLOYMENT_ID": "d-TEST00001",
    "APPLICATION_NAME": "SampleApp",
    "DEPLOYMENT_GROUP_NAME": "SampleGroup",
    "DEPLOYMENT_GROUP_ID": "00000000-0000-0000-0000-000000000001",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> object:
    """Poll condition until it is truthy; the bounded wait for an event the test cannot be told about."""
    deadline = time.monotonic() + timeout
    pause = 0.01
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def listening(port: int) -> bool:
    return hookkit.port_listening("127.0.0.1", port, timeout=0.2)


class HookRun:
    def __init__(self, returncode: Optional[int], stdout: str, stderr: str, elapsed: float, closed: bool):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.elapsed = elapsed
        self.closed = closed  # both output streams reached EOF before the deadline

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __repr__(self) -> str:
        return f"HookRun(rc={self.returncode}, {self.elapsed:.2f}s)\n--stdout--\n{self.stdout}--stderr--\n{self.stderr}"


def run_hook(script: Path, env: Dict[str, str], timeout: float = 30.0, args: Sequence[str] = ()) -> HookRun:
    """Run script like the agent: own process group, stdin closed at once, no cwd of its own (here /),
    stdout and stderr read until EOF, the whole wait bounded by timeout (like the script's appspec timeout)."""
    start = time.monotonic()
    process = subprocess.Popen(
        [str(script), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd="/",
        **({"process_group": 0} if sys.version_info >= (3, 11) else {"start_new_session": True}),
    )
    process.stdin.close()
    chunks: Dict[str, List[bytes]] = {"stdout": [], "stderr": []}

    def drain(name: str, stream) -> None:
        for line in iter(stream.readline, b""):
            chunks[name].append(line)

    readers = [
        threading.Thread(target=drain, args=(name, getattr(process, name)), daemon=True) for name in chunks
    ]
    for reader in readers:
        reader.start()
    deadline = start + timeout
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    for reader in readers:
        reader.join(max(0.0, deadline - time.monotonic()))
    closed = not any(reader.is_alive() for reader in readers)
    elapsed = time.monotonic() - start
    if closed:  # a reader still blocked on an open pipe keeps its stream
        process.stdout.close()
        process.stderr.close()
    return HookRun(
        process.returncode,
        b"".join(chunks["stdout"]).decode(),
        b"".join(chunks["stderr"]).decode(),
        elapsed,
        closed,
    )


def clean_environ() -> Dict[str, str]:
    """os.environ without anything the hooks would read as configuration."""
    env = {}
    for name, value in os.environ.items():
        if (
            hookkit.known_setting(name)
            or name in DEPLOYMENT_ENV
            or name.startswith(("AWS_", "HEALTH_", "APP_", "HOOKS_DEFAULT_"))
        ):
            continue
        env[name] = value
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@pytest.fixture
def hook_env(tmp_path: Path) -> Callable[..., Dict[str, str]]:
    """Build a hook environment: the agent's five variables, an empty config file, then the given settings."""
    empty = tmp_path / "empty-hooks.env"
    empty.write_text("")

    def build(**settings: object) -> Dict[str, str]:
        env = clean_environ()
        env.update(DEPLOYMENT_ENV)
        env["HOOKS_CONFIG"] = str(empty)
        env.update({key: str(value) for key, value in settings.items()})
        return env

    return build


class SampleApp:
    """The sample app run directly (not through the hooks)."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.processes: List[subprocess.Popen] = []

    def start(
        self, port: Optional[int] = None, wait: bool = True, **env: object
    ) -> Tuple[subprocess.Popen, int]:
        port = port or free_port()
        environment = clean_environ()
        environment.update({key: str(value) for key, value in env.items()})
        with open(self.tmp_path / f"sample-app-{port}.log", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, str(SAMPLE_APP / "app" / "server.py"), "--port", str(port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environment,
            )
        self.processes.append(process)
        if wait:
            wait_for(lambda: listening(port) or process.poll() is not None, what=f"sample app on {port}")
            assert process.poll() is None, (self.tmp_path / f"sample-app-{port}.log").read_text()
        return process, port

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait()


@pytest.fixture
def sample_app(tmp_path: Path):
    apps = SampleApp(tmp_path)
    yield apps
    apps.stop_all()


class FakeServer:
    """An HTTP server in this process whose /health answers come from a function of the request count."""

    def __init__(self, answer: Callable[[int], Tuple[int, str]]) -> None:
        self.count = 0
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                with lock:
                    outer.count += 1
                    number = outer.count
                status, text = answer(number)
                body = text.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_server():
    servers: List[FakeServer] = []

    def make(answer: Callable[[int], Tuple[int, str]]) -> FakeServer:
        server = FakeServer(answer)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: List[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            accepted.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def require_binary(name: str) -> str:
    """The binary's path; skip when absent, except under CI=true where it must be there."""
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    if path:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is required under CI=true (apt-get install {name})")
    pytest.skip(f"{name} not installed (apt-get install {name}); under CI=true this test fails instead")
    raise AssertionError("unreachable")


def start_hook(script: Path, env: Dict[str, str]) -> subprocess.Popen:
    """Start script like the agent (own process group, stdin closed) for a test that talks to it while it runs."""
    process = subprocess.Popen(
        [str(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd="/",
        text=True,
        **({"process_group": 0} if sys.version_info >= (3, 11) else {"start_new_session": True}),
    )
    process.stdin.close()
    return process


def read_until(process: subprocess.Popen, needle: str) -> str:
    """Lines of process's output up to and including the first that contains needle (EOF fails)."""
    seen = []
    for line in iter(process.stdout.readline, ""):
        seen.append(line)
        if needle in line:
            return "".join(seen)
    raise AssertionError(f"{needle!r} never appeared in:\n{''.join(seen)}")


HAPROXY_CONFIG = """\
global
    stats socket {socket} mode 600 level admin
    stats socket ipv4@127.0.0.1:{admin_port} level admin
    stats timeout 10s

defaults
    mode tcp
    timeout connect 1s
    timeout client 30s
    timeout server 30s

frontend fe
    bind 127.0.0.1:{frontend_port}
    default_backend web

backend web
    balance first
    option httpchk GET /health
    default-server inter 100ms fall 2 rise 2
    server web1 127.0.0.1:{web1} check
    server web2 127.0.0.1:{web2} check
"""


class HAProxy:
    def __init__(self, directory: Path, web1: int, web2: int) -> None:
        self.binary = require_binary("haproxy")
        self.socket = directory / "admin.sock"
        self.admin_port = free_port()
        self.frontend_port = free_port()
        self.config = directory / "haproxy.cfg"
        self.config.write_text(
            HAPROXY_CONFIG.format(
                socket=self.socket,
                admin_port=self.admin_port,
                frontend_port=self.frontend_port,
                web1=web1,
                web2=web2,
            )
        )
        self.log = directory / "haproxy.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [self.binary, "-f", str(self.config), "-db"], stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        wait_for(lambda: self.process.poll() is not None or self.answers(), what="the HAProxy runtime API")
        assert self.process.poll() is None, self.log.read_text()

    def answers(self) -> bool:
        try:
            return "Name: HAProxy" in self.command("show info")
        except hookkit.HookError:
            return False

    def command(self, text: str) -> str:
        import loadbalancer

        return loadbalancer.haproxy_command(str(self.socket), text)

    def server(self, name: str) -> Dict[str, str]:
        import loadbalancer

        [row] = [
            r for r in loadbalancer.parse_stat(self.command("show stat web 4 -1")) if r["svname"] == name
        ]
        return row

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
