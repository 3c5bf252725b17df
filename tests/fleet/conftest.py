"""Fixtures for the fleet tests: simulated hosts (real sshd in network namespaces) behind HAProxy, test
revisions, the runner zipapp and a bounded load generator.

A missing sshd/haproxy skips these tests with the reason, except under CI=true, where it fails them.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

from agent_shim.fleet.runner import RunnerZipapp, build_runner, file_checksum
from agent_shim.fleet.simulated import SimulatedFleet, missing_binaries

SAMPLE_APP = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "sample_app")


def require_fleet_tools() -> None:
    missing = missing_binaries()
    if not missing:
        return
    reason = (
        f"the simulated fleet needs {', '.join(missing)} (apt-get install openssh-server haproxy iproute2)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: under CI=true fleet tests must run, not skip")
    pytest.skip(reason)


@pytest.fixture
def make_fleet() -> Iterator:
    """`make_fleet(n, **options)` starts a simulated fleet; every fleet is torn down after the test."""
    fleets: List[SimulatedFleet] = []

    def start(hosts: int = 4, **options) -> SimulatedFleet:
        require_fleet_tools()
        if os.environ.get("APPSPEC_FLEET_LOOPBACK") == "1":  # to exercise the fallback where namespaces work
            options.setdefault("namespaces", False)
        fleet = SimulatedFleet(hosts, **options)
        fleets.append(fleet)
        fleet.__enter__()
        return fleet

    yield start
    for fleet in reversed(fleets):
        fleet.stop()


@pytest.fixture
def fleet(make_fleet) -> SimulatedFleet:
    """Four hosts behind HAProxy. HAProxy drains a host before its ApplicationStop, so the sample app's
    own drain after SIGTERM can be short."""
    return make_fleet(4, environment={"APP_ENV_SAMPLE_APP_DRAIN_SECONDS": "0.5"})


@pytest.fixture
def haproxy_binary() -> str:
    """The haproxy binary: a missing one skips, or fails under CI=true."""
    binary = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None)
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("haproxy is required under CI=true (apt-get install haproxy)")
        pytest.skip("haproxy not installed; under CI=true this test fails instead")
    return binary


@pytest.fixture(scope="session")
def runner_zipapp(tmp_path_factory) -> RunnerZipapp:
    return build_runner(str(tmp_path_factory.mktemp("runner")))


@dataclass
class Bundle:
    path: str
    checksum: str


def archive(directory: str, path: str) -> Bundle:
    with tarfile.open(path, "w:gz") as tar:
        for name in sorted(os.listdir(directory)):
            tar.add(os.path.join(directory, name), arcname=name)
    return Bundle(path, file_checksum(path))


def sample_revision(directory: str, version: str = "2.0.0", broken: bool = False) -> str:
    """A copy of sample_app with its VERSION set; `broken` makes ValidateService fail at once."""
    shutil.copytree(SAMPLE_APP, directory, ignore=shutil.ignore_patterns("__pycache__"))
    with open(os.path.join(directory, "VERSION"), "w") as handle:
        handle.write(version + "\n")
    if broken:
        write_script(
            directory, "scripts/validate_service.py", "#!/bin/sh\necho 'health check: 500' >&2\nexit 1\n"
        )
    return directory


def write_script(root: str, relative: str, text: str) -> None:
    path = os.path.join(root, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def script_revision(directory: str, scripts: Dict[str, str]) -> str:
    """A revision with one shell script per lifecycle event (`{"ApplicationStart": "sleep 30"}`) and no files."""
    os.makedirs(directory)
    hooks = []
    for event, body in scripts.items():
        write_script(directory, f"scripts/{event}.sh", f"#!/bin/sh\n{body}\n")
        hooks.append(f"  {event}:\n    - location: scripts/{event}.sh\n      timeout: 300\n")
    with open(os.path.join(directory, "appspec.yml"), "w") as handle:
        handle.write("version: 0.0\nos: linux\nhooks:\n" + "".join(hooks))
    return directory


@pytest.fixture(scope="session")
def sample_bundles(tmp_path_factory) -> Dict[str, Bundle]:
    """v1 and v2 of the sample app, and a broken v3 whose ValidateService fails."""
    base = str(tmp_path_factory.mktemp("bundles"))
    bundles = {}
    for name, version, broken in (("v1", "1.0.0", False), ("v2", "2.0.0", False), ("broken", "3.0.0", True)):
        source = sample_revision(os.path.join(base, name), version, broken)
        bundles[name] = archive(source, os.path.join(base, f"{name}.tgz"))
    return bundles


@pytest.fixture
def make_bundle(tmp_path) -> Iterator:
    """`make_bundle(name, {"Event": "shell body"})`: a script-only revision as a .tgz."""

    def make(name: str, scripts: Dict[str, str]) -> Bundle:
        source = script_revision(str(tmp_path / name), scripts)
        return archive(source, str(tmp_path / f"{name}.tgz"))

    yield make


@dataclass
class LoadGenerator:
    """GETs through the load balancer at a steady rate from a thread, bounded in count and time; it
    stops by itself. `results` holds (time, ok, body or error)."""

    url: str
    rate: float = 25.0
    limit: float = 120.0  # seconds
    results: List[Tuple[float, bool, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: Optional[threading.Thread] = None

    def __enter__(self) -> LoadGenerator:
        self._thread = threading.Thread(target=self._run, name="load", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)

    def _run(self) -> None:
        """Requests start on schedule, each on a worker of a small pool, so one slow failure (HAProxy
        retrying a dead server) does not hold back the ones after it."""
        from concurrent.futures import ThreadPoolExecutor

        local = threading.local()
        interval = 1.0 / self.rate
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=16, thread_name_prefix="load") as pool:
            for index in range(int(self.rate * self.limit)):
                if self._stop.wait(max(0.0, started + index * interval - time.monotonic())):
                    break
                pool.submit(self._get, local)

    def _get(self, local: threading.local) -> None:
        import requests

        if not hasattr(local, "session"):
            local.session = requests.Session()
        at = time.time()
        try:
            response = local.session.get(self.url, timeout=5)
            result = (at, response.status_code == 200, response.text.strip())
        except requests.RequestException as exc:
            result = (at, False, type(exc).__name__)
        with self._lock:
            self.results.append(result)
            self.results.sort()

    @property
    def failures(self) -> List[Tuple[float, bool, str]]:
        return [r for r in self.results if not r[1]]

    def rate_achieved(self) -> float:
        if len(self.results) < 2:
            return 0.0
        return (len(self.results) - 1) / (self.results[-1][0] - self.results[0][0])


@pytest.fixture
def load() -> Iterator:
    """`load(url, rate=25)`: a started LoadGenerator, stopped after the test at the latest."""
    generators: List[LoadGenerator] = []

    def start(url: str, rate: float = 25.0, limit: float = 120.0) -> LoadGenerator:
        generator = LoadGenerator(url, rate, limit).__enter__()
        generators.append(generator)
        return generator

    yield start
    for generator in generators:
        generator.stop()


# -- the controller, through its command line ----------------------------------------------------------


@dataclass
class Deployed:
    code: int
    result: dict
    stderr: str

    @property
    def deployment(self) -> dict:
        return self.result.get("deployment") or self.result

    def statuses(self, which: str = "deployment") -> Dict[str, str]:
        document = self.result.get(which) or {}
        return {name: host["status"] for name, host in document.get("hosts", {}).items()}


def appspec_fleet(*arguments: str, timeout: float = 240) -> Deployed:
    """`appspec fleet ARGUMENTS --format json` in a process of its own, as a user runs it."""
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "appspec_tools", "fleet", *arguments, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    try:
        result = json.loads(done.stdout) if done.stdout.strip() else {}
    except ValueError:
        result = {"unparsed": done.stdout}
    return Deployed(done.returncode, result, done.stderr)


def served_versions(fleet: SimulatedFleet, names: Optional[List[str]] = None) -> Dict[str, str]:
    """What each host's app answers on its own address (not through HAProxy): its VERSION, or why not."""
    import requests

    versions = {}
    for host in fleet.hosts:
        if names is not None and host.name not in names:
            continue
        try:
            body = requests.get(f"http://{host.address}:{fleet.app_port}/", timeout=3).text
            versions[host.name] = body.split()[1] if body.startswith("sample-app ") else body.strip()
        except requests.RequestException as exc:
            versions[host.name] = type(exc).__name__
    return versions


def bodies_versions(results: List[Tuple[float, bool, str]]) -> List[str]:
    """The versions a load generator saw, in order, without repeats."""
    seen: List[str] = []
    for _, ok, body in results:
        if ok and body.startswith("sample-app "):
            version = body.split()[1]
            if not seen or seen[-1] != version:
                seen.append(version)
    return seen


@pytest.fixture
def cli():
    """The helpers the end-to-end tests share: `cli.fleet(...)`, `cli.versions(fleet)`, `cli.seen(results)`."""

    class Helpers:
        fleet = staticmethod(appspec_fleet)
        versions = staticmethod(served_versions)
        seen = staticmethod(bodies_versions)

    return Helpers
