"""The fleet's failure paths, measured: the figures of docs/fleet.md's "When things go wrong".

On 4 simulated hosts (real sshd in network namespaces) behind a real HAProxy, each failure is made to
happen for real and timed through `appspec fleet deploy --group`, as a user runs it, with steady load through
HAProxy where traffic matters:

  check      the preflight alone (`appspec fleet check`) on a healthy fleet, and one with a dead host;
  lb-check   a revision whose ValidateService passes while the load balancer's check fails (OneAtATime,
             auto_rollback): how long until AllowTraffic fails, the rollback, failed requests;
  dead-host  a host whose network link goes down mid-hook: how long until it is failed (keepalives);
  bg-stop    Ctrl-C during a blue/green switch: how long until traffic is back on the originals;
  bg-kill    the controller killed mid-switch: what `status` says, how long `rollback` takes.

Needs root, sshd, haproxy and ip (docs/fleet-testing.md). Run: python3 bench/fleet_failures.py
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from agent_shim.fleet.simulated import SimulatedFleet  # noqa: E402

GATE = """#!/bin/sh
[ -n "$GATE_DIR" ] && [ -e "$GATE_DIR/hold-$LIFECYCLE_EVENT" ] || exit 0
touch "$GATE_DIR/reached-$LIFECYCLE_EVENT-$APP_HOST"
n=0
while [ ! -e "$GATE_DIR/go" ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done
"""
HOLDABLE = ("BeforeBlockTraffic", "AfterBlockTraffic", "BeforeAllowTraffic", "AfterAllowTraffic")


def revision(scratch: str, name: str, version: str, hooks_env: str = "") -> str:
    """The sample app at `version`, a gate hook at every traffic event, as a .tgz."""
    folder = os.path.join(scratch, name)
    shutil.copytree(os.path.join(ROOT, "sample_app"), folder, ignore=shutil.ignore_patterns("__pycache__"))
    with open(os.path.join(folder, "VERSION"), "w") as handle:
        handle.write(version + "\n")
    gate = os.path.join(folder, "scripts", "gate.sh")
    with open(gate, "w") as handle:
        handle.write(GATE)
    os.chmod(gate, 0o755)
    with open(os.path.join(folder, "appspec.yml"), "a") as handle:
        for event in HOLDABLE:
            handle.write(f"  {event}:\n    - location: scripts/gate.sh\n      timeout: 120\n")
    if hooks_env:
        with open(os.path.join(folder, "hooks.env"), "a") as handle:
            handle.write(hooks_env)
    archive = folder + ".tgz"
    subprocess.run(["tar", "-czf", archive, "-C", folder, "."], check=True)
    return archive


class Load:
    """GETs through HAProxy at a steady rate from a thread; counts answers and failures."""

    def __init__(self, url: str, rate: float = 25.0) -> None:
        self.url, self.rate = url, rate
        self.results: List[Tuple[float, bool]] = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import requests

        def one() -> None:
            at = time.time()
            try:
                ok = requests.get(self.url, timeout=5).status_code == 200
            except requests.RequestException:
                ok = False
            self.results.append((at, ok))

        with ThreadPoolExecutor(max_workers=16) as pool:
            index, started = 0, time.monotonic()
            while not self.stop_event.wait(max(0.0, started + index / self.rate - time.monotonic())):
                pool.submit(one)
                index += 1

    def stop(self) -> Tuple[int, int]:
        self.stop_event.set()
        self.thread.join(timeout=15)
        return len(self.results), sum(1 for _, ok in self.results if not ok)


def appspec(*arguments: str, fmt: str = "json") -> Tuple[int, Dict[str, Any], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "appspec_tools", "fleet", *arguments, "--format", fmt],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        result = json.loads(done.stdout) if done.stdout.strip() else {}
    except ValueError:
        result = {"stdout": done.stdout}
    if done.returncode not in (0, 1):
        print(f"    ({' '.join(arguments[:1])} exited {done.returncode}: {done.stderr.strip()[:300]})")
    return done.returncode, result, time.monotonic() - started


def background(*arguments: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "appspec_tools", "fleet", *arguments, "--format", "jsonl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )


def wait_for(path_glob_dir: str, prefix: str, count: int = 1, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(1 for name in os.listdir(path_glob_dir) if name.startswith(prefix)) >= count:
            return
        time.sleep(0.05)
    raise SystemExit(f"nothing reached {prefix} within {timeout}s")


def serving(fleet: SimulatedFleet) -> List[str]:
    return sorted(n for n, ok in fleet.load_balancer().healthy(fleet.specs).items() if ok)


def fresh_fleet(scratch: str, name: str) -> Tuple[SimulatedFleet, str]:
    gate = os.path.join(scratch, f"gate-{name}")
    os.makedirs(gate)
    os.chmod(gate, 0o777)
    fleet = SimulatedFleet(4, environment={"APP_ENV_SAMPLE_APP_DRAIN_SECONDS": "0.5", "GATE_DIR": gate})
    fleet.__enter__()
    return fleet, gate


def scenario_check(scratch: str, v1: str) -> None:
    fleet, _ = fresh_fleet(scratch, "check")
    try:
        group = fleet.write_group_file(deployment_config="CodeDeployDefault.AllAtOnce")
        code, _, took = appspec("check", "--group", group)
        print(f"check, 4 hosts answering:             {took:5.2f}s (exit {code})")
        fleet.kill_host("h3")
        code, result, took = appspec("check", "--group", group)
        print(
            f"check, one host dead (refused):       {took:5.2f}s (exit {code}; {len(result.get('problems', []))} problem)"
        )
        code, _, took = appspec("deploy", "--group", group, "--bundle", v1)
        print(f"deploy with that dead host:           {took:5.2f}s to refuse (exit {code}), nothing deployed")
    finally:
        fleet.stop()


def scenario_lb_check(scratch: str, v1: str, broken: str) -> None:
    fleet, _ = fresh_fleet(scratch, "lb")
    try:
        group = fleet.write_group_file(deployment_config="CodeDeployDefault.OneAtATime", auto_rollback=True)
        appspec("deploy", "--group", group, "--bundle", v1)
        load = Load(fleet.url)
        time.sleep(1)
        code, result, took = appspec("deploy", "--group", group, "--bundle", broken)
        time.sleep(1)
        requests, failures = load.stop()
        d = result["deployment"]
        first = d["batches"][0][0]
        allow = next(e for e in d["hosts"][first]["events"] if e["event"] == "AllowTraffic")
        back = result["rollback"]
        print(
            f"lb-check: exit {code}, {d['status']} in {d['duration']:.1f}s (the whole command {took:.1f}s); "
            f"AllowTraffic failed after {allow['duration']:.1f}s; rollback {back['status']} in "
            f"{back['duration']:.1f}s; {requests} requests, {failures} failed; serving {serving(fleet)}"
        )
    finally:
        fleet.stop()


def scenario_dead_host(scratch: str, bundle: str, interval: float, count: int) -> None:
    fleet = SimulatedFleet(4, with_haproxy=False)
    fleet.__enter__()
    try:
        group = fleet.write_group_file(
            deployment_config="CodeDeployDefault.AllAtOnce",
            ssh={
                "known_hosts": fleet.known_hosts,
                "server_alive_interval": interval,
                "server_alive_count_max": count,
            },
        )
        process = background("deploy", "--group", group, "--bundle", bundle)
        seen = set()
        for line in process.stdout:  # type: ignore[union-attr]
            record = json.loads(line)
            if record.get("type") == "event-start" and record["event"] == "ApplicationStart":
                seen.add(record["host"])
            if len(seen) == 4:
                break
        down = time.time()
        subprocess.run(["ip", "-n", fleet.host("h2").namespace, "link", "set", "eth0", "down"], check=True)
        out, _ = process.communicate(timeout=600)
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        told = next((r for r in lines if r.get("type") == "waiting" and r["host"] == "h2"), None)
        result = next(r for r in lines if r.get("type") == "result")
        h2 = result["deployment"]["hosts"]["h2"]
        print(
            f"dead-host ({interval:g}s x {count}): h2 failed {h2['started'] + h2['duration'] - down:.1f}s after its "
            f"link went down ({h2['reason'][:70]}...); the live view said so "
            f"{'(yes)' if told else '(no)'}; deployment {result['deployment']['status']}, exit {process.returncode}"
        )
    finally:
        fleet.stop()


def scenario_blue_green(scratch: str, v1: str, v2: str, kill: bool) -> None:
    fleet, gate = fresh_fleet(scratch, "bg-kill" if kill else "bg-stop")
    try:
        group = fleet.write_group_file(
            deployment_config="CodeDeployDefault.AllAtOnce",
            blue_green={"blue": ["h1", "h2"], "green": ["h3", "h4"]},
        )
        appspec("deploy", "--group", group, "--bundle", v1)
        load = Load(fleet.url)
        event = "BeforeBlockTraffic" if kill else "AfterAllowTraffic"
        open(os.path.join(gate, f"hold-{event}"), "w").close()
        process = background("deploy", "--group", group, "--bundle", v2)
        wait_for(gate, f"reached-{event}", count=2)
        both = serving(fleet)
        signalled = time.monotonic()
        os.killpg(process.pid, signal.SIGKILL if kill else signal.SIGINT)
        for name in os.listdir(gate):
            if name.startswith("hold-"):
                os.remove(os.path.join(gate, name))
        open(os.path.join(gate, "go"), "w").close()
        process.communicate(timeout=300)
        exited = time.monotonic() - signalled
        if kill:
            time.sleep(1)
            _, status, status_took = appspec("status", "--group", group)
            code, _, rollback_took = appspec("rollback", "--group", group)
            requests, failures = load.stop()
            print(
                f"bg-kill: mid-switch {both} serve; status ({status_took:.1f}s) says {status.get('status')}, "
                f"{len(status['traffic']['problems'])} hosts to fix; rollback exit {code} in {rollback_took:.1f}s; "
                f"serving {serving(fleet)}; {requests} requests, {failures} failed"
            )
        else:
            requests, failures = load.stop()
            print(
                f"bg-stop: mid-switch {both} serve; one Ctrl-C: the controller exited {process.returncode} "
                f"{exited:.1f}s later with traffic on {serving(fleet)}; {requests} requests, {failures} failed"
            )
    finally:
        fleet.stop()


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--default-keepalive", action="store_true", help="also time the default 15 s x 3")
    args = parser.parse_args(argv)
    scratch = tempfile.mkdtemp(prefix="fleet-failures-")
    try:
        v1 = revision(scratch, "v1", "1.0.0")
        v2 = revision(scratch, "v2", "2.0.0")
        broken = revision(
            scratch,
            "broken",
            "3.0.0",
            "HEALTH_PATH=/\nHEALTH_EXPECT_BODY=\nAPP_ENV_SAMPLE_APP_STARTUP_DELAY=3600\n",
        )
        slow = os.path.join(scratch, "slow")
        os.makedirs(os.path.join(slow, "scripts"))
        with open(os.path.join(slow, "scripts", "start.sh"), "w") as handle:
            handle.write("#!/bin/sh\nsleep 60\n")
        os.chmod(os.path.join(slow, "scripts", "start.sh"), 0o755)
        with open(os.path.join(slow, "appspec.yml"), "w") as handle:
            handle.write(
                "version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: scripts/start.sh\n"
            )
        scenario_check(scratch, v1)
        scenario_lb_check(scratch, v1, broken)
        scenario_dead_host(scratch, slow, 1, 3)
        if args.default_keepalive:
            scenario_dead_host(scratch, slow, 15, 3)
        scenario_blue_green(scratch, v1, v2, kill=False)
        scenario_blue_green(scratch, v1, v2, kill=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
