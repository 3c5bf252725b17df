"""Fixtures of the agent-shim tests: a deployment root per test (`host`), the moto S3 server, and the sample
app deployed through the shim with a teardown that always stops it. Everything binds to 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from shim_support import (  # noqa: E402
    SAMPLE_APP,
    Gate,
    alive,
    free_port,
    kill_group_or_pid,
    make_revision,
    pids_in_file,
    wait_for,
)

from agent_shim.deployment import DeploymentRequest, DeploymentResult, deploy  # noqa: E402
from agent_shim.layout import LOCAL_GROUP_ID, DeploymentRoot  # noqa: E402


def _require(what: str, hint: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required under CI=true ({hint})")
    pytest.skip(f"{what} not available ({hint}); under CI=true this test fails instead")


class Host:
    """One host's deployment root in tmp_path, with short timeouts, and what the hooks saw under `out`."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.root = tmp_path / "root"
        self.out = tmp_path / "out"
        self.dest = tmp_path / "dest"
        self.revs = tmp_path / "revs"
        self.out.mkdir()
        self.layout = DeploymentRoot(str(self.root))
        self.gates: List[Gate] = []
        self.pidfiles: List[Path] = []

    def revision(self, name: str, **kwargs: Any) -> Path:
        return make_revision(self.revs / name, **kwargs)

    def request(self, bundle: Any, **kwargs: Any) -> DeploymentRequest:
        environment = {"OUT": str(self.out)}
        environment.update(kwargs.pop("extra_environment", {}))
        settings: Dict[str, Any] = {"root": str(self.root), "kill_grace": 0.2}
        settings.update(kwargs)
        return DeploymentRequest(bundle=str(bundle), extra_environment=environment, **settings)

    def deploy(self, bundle: Any, **kwargs: Any) -> DeploymentResult:
        return deploy(self.request(bundle, **kwargs))

    # What is on disk --------------------------------------------------------------------------------
    def scripts_log(self, result: DeploymentResult) -> str:
        return (Path(result.deployment_dir) / "logs" / "scripts.log").read_text()

    def pointer(self, kind: str, group: str = LOCAL_GROUP_ID) -> Optional[str]:
        """The exact content of `_last_successful_install` / `_most_recent_install` (None when absent)."""
        path = Path(self.layout.instructions_dir) / f"{group}_{kind}"
        return path.read_text() if path.exists() else None

    def cleanup_lines(self, group: str = LOCAL_GROUP_ID) -> List[str]:
        path = Path(self.layout.cleanup_file(group))
        return path.read_text().splitlines() if path.exists() else []

    def deployment_dirs(self, group: str = LOCAL_GROUP_ID) -> List[str]:
        group_dir = Path(self.layout.group_dir(group))
        return sorted(p.name for p in group_dir.iterdir()) if group_dir.exists() else []

    # Processes the hooks leave ----------------------------------------------------------------------
    def gate(self, name: str = "gate") -> Gate:
        gate = Gate(self.tmp / "gates", name)
        self.gates.append(gate)
        return gate

    def reap(self, pidfile: Path) -> Path:
        """Kill at teardown every pid a hook writes into this file."""
        self.pidfiles.append(pidfile)
        return pidfile

    def teardown(self) -> None:
        pids = [pid for path in self.pidfiles for pid in pids_in_file(path)]
        pids += [pid for pid in (gate.hook_pid() for gate in self.gates) if pid]
        for pid in pids:
            if alive(pid):
                kill_group_or_pid(pid)
        for gate in self.gates:
            gate.close()


@pytest.fixture
def host(tmp_path: Path):
    machine = Host(tmp_path)
    try:
        yield machine
    finally:
        machine.teardown()


# S3 through moto's server ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory):
    try:
        import boto3  # noqa: F401
        import moto.server  # noqa: F401
        import requests
    except ImportError:
        _require("moto[server] and boto3", "pip install 'moto[server]' boto3")
    port = free_port()
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"moto server exited: {log_path.read_text()}")
        try:
            return requests.get(f"{url}/moto-api/", timeout=1).ok
        except requests.RequestException:
            return False

    try:
        wait_for(answers, timeout=30, what="the moto server")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def s3(moto_endpoint, monkeypatch):
    """A boto3 S3 client on the moto server; the shim's own boto3 (same process) sees the same settings."""
    import boto3

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return boto3.client("s3")


@pytest.fixture
def bucket_name() -> str:
    return f"revisions-{uuid.uuid4().hex[:12]}"


# The sample app through the shim --------------------------------------------------------------------


class SampleAppHost:
    """The sample app deployed by the shim under tmp_path (deployment root and install root), on a free
    port, with short health-check and drain settings. Teardown runs the installed revision's
    ApplicationStop hook, then kills whatever pid the app's pidfile ever named."""

    GROUP = "sample-group"

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.root = tmp_path / "root"
        self.install_root = tmp_path / "inst"
        self.port = free_port()
        self.layout = DeploymentRoot(str(self.root))
        self.app_dir = self.install_root / "opt" / "sample-app"
        self.pidfile = self.app_dir / "run" / "sample-app.pid"
        self.seen_pids: List[int] = []
        self.settings = {
            "APP_PORT": str(self.port),
            "APP_STOP_TIMEOUT": "5",
            "APP_START_TIMEOUT": "20",
            "APP_ENV_SAMPLE_APP_DRAIN_SECONDS": "0",
            "HEALTH_INTERVAL": "0.5",
            "HEALTH_TIMEOUT": "0.5",
            "HEALTH_START_GRACE": "1",
            "HEALTH_DEADLINE": "10",
            "MIN_FREE_MB": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }

    def copy_sample(self, name: str) -> Path:
        target = self.tmp / "revisions" / name
        shutil.copytree(SAMPLE_APP, target, ignore=shutil.ignore_patterns("__pycache__"))
        return target

    def request(self, bundle: Path, **kwargs: Any) -> DeploymentRequest:
        request = DeploymentRequest(
            bundle=str(bundle),
            root=str(self.root),
            install_root=str(self.install_root),
            group_name=self.GROUP,
            application="SampleApp",
            kill_grace=0.5,
            extra_environment=dict(self.settings),
        )
        return replace(request, **kwargs)

    def deploy(self, bundle: Path, **kwargs: Any) -> DeploymentResult:
        try:
            return deploy(self.request(bundle, **kwargs))
        finally:
            self.remember_pid()

    def remember_pid(self) -> Optional[int]:
        pids = pids_in_file(self.pidfile)
        for pid in pids:
            if pid not in self.seen_pids:
                self.seen_pids.append(pid)
        return pids[0] if pids else None

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str = "/"):
        import requests

        return requests.get(self.url(path), timeout=5)

    def stop(self) -> None:
        last = self.layout.last_successful_install(self.GROUP)
        script = Path(last or "") / "deployment-archive" / "scripts" / "application_stop.py"
        if last and script.exists():
            env = dict(os.environ, **self.settings, INSTALL_ROOT=str(self.install_root))
            subprocess.run(
                [str(script)], env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False
            )
        self.remember_pid()
        for pid in self.seen_pids:
            if alive(pid):
                kill_group_or_pid(pid)


@pytest.fixture
def sample_host(tmp_path: Path):
    machine = SampleAppHost(tmp_path)
    try:
        yield machine
    finally:
        machine.stop()
