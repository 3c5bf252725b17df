#!/usr/bin/env python3
"""One-host deploy speed, measured side by side in one run.

    python bench/deploy_bench.py [--files 2000] [--megabytes 50] [--repeat 3]

1. A revision of N files (M MB in all) as a .tar bundle with no-op hooks: `appspec deploy` (the CLI, as
   a user runs it, and the shim in-process) beside the physical floor, `tar -xf` of the same bundle plus
   `cp -a` of the files to their destination. Target: shim <= 1.3x the floor.
2. Per-event overhead: a full lifecycle (ApplicationStop ... ValidateService) whose hooks are `true`,
   minus the cost of spawning `true` itself, divided by the events run. Target: < 15 ms per event.
3. Hook wait: hooks that sleep 0.2 s; each hook event's duration beside the same script run directly
   (`subprocess.run`): what waiting for a script that takes a while adds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from agent_shim.deployment import DeploymentRequest, deploy  # noqa: E402

NOOP = "#!/bin/sh\nexit 0\n"
EVENTS = ("ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService")


def make_revision(folder: str, files: int, megabytes: int, hooks: bool) -> str:
    revision = os.path.join(folder, "revision")
    os.makedirs(os.path.join(revision, "scripts"))
    size = megabytes * 1024 * 1024 // max(files, 1)
    for n in range(files):
        sub = os.path.join(revision, "app", f"d{n % 40:02d}")
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, f"f{n:05d}.bin"), "wb") as handle:
            handle.write(os.urandom(size))
    hook_lines = []
    for event in EVENTS if hooks else ():
        script = os.path.join(revision, "scripts", f"{event}.sh")
        with open(script, "w") as handle:
            handle.write(NOOP)
        os.chmod(script, 0o755)
        hook_lines.append(f"  {event}:\n    - location: scripts/{event}.sh\n      timeout: 60\n")
    with open(os.path.join(revision, "appspec.yml"), "w") as handle:
        handle.write("version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: /opt/bench-app\n")
        if hook_lines:
            handle.write("hooks:\n" + "".join(hook_lines))
    bundle = os.path.join(folder, "revision.tar")
    with tarfile.open(bundle, "w") as archive:
        archive.add(revision, arcname=".")
    return bundle


def floor_seconds(bundle: str, folder: str) -> float:
    target = tempfile.mkdtemp(dir=folder)
    start = time.perf_counter()
    subprocess.run(["tar", "-xf", bundle, "-C", target], check=True)
    subprocess.run(["cp", "-a", os.path.join(target, "app"), os.path.join(target, "installed")], check=True)
    elapsed = time.perf_counter() - start
    shutil.rmtree(target)
    return elapsed


def cli_seconds(bundle: str, folder: str) -> float:
    work = tempfile.mkdtemp(dir=folder)
    argv = [
        sys.executable,
        "-m",
        "appspec_tools",
        "deploy",
        "--bundle",
        bundle,
        "--root",
        os.path.join(work, "root"),
        "--install-root",
        os.path.join(work, "install"),
        "--without-load-balancer",  # the seven events counted below, without the four traffic hooks
    ]
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    shutil.rmtree(work)
    return elapsed


def shim_seconds(bundle: str, folder: str, deployments: int = 1) -> float:
    work = tempfile.mkdtemp(dir=folder)
    request = DeploymentRequest(
        bundle=bundle,
        root=os.path.join(work, "root"),
        install_root=os.path.join(work, "install"),
        file_exists_behavior="OVERWRITE",
        with_load_balancer=False,  # the seven events counted below
    )
    elapsed = 0.0
    for _ in range(deployments):  # the last one is timed, so ApplicationStop has a previous revision
        start = time.perf_counter()
        result = deploy(request)
        elapsed = time.perf_counter() - start
        if not result.succeeded:
            sys.exit(f"benchmark deployment failed: {result.message}")
    shutil.rmtree(work)
    return elapsed


SLEEPER = "#!/bin/sh\nsleep 0.2\n"


def hook_wait_seconds(folder: str, repeat: int) -> tuple:
    """(median duration of a hook event whose script sleeps 0.2 s, median of the script run directly)."""
    revision = os.path.join(folder, "sleepy")
    os.makedirs(os.path.join(revision, "scripts"))
    script = os.path.join(revision, "scripts", "sleep.sh")
    with open(script, "w") as handle:
        handle.write(SLEEPER)
    os.chmod(script, 0o755)
    with open(os.path.join(revision, "appspec.yml"), "w") as handle:
        handle.write("version: 0.0\nos: linux\nhooks:\n")
        for event in ("BeforeInstall", "AfterInstall", "ApplicationStart"):
            handle.write(f"  {event}:\n    - location: scripts/sleep.sh\n")
    hooked, direct = [], []
    for _ in range(repeat):  # interleaved
        work = tempfile.mkdtemp(dir=folder)
        result = deploy(DeploymentRequest(bundle=revision, root=os.path.join(work, "root")))
        if not result.succeeded:
            sys.exit(f"benchmark deployment failed: {result.message}")
        hooked += [
            e.duration
            for e in result.events
            if e.event in ("BeforeInstall", "AfterInstall", "ApplicationStart")
        ]
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run([script], check=True)
            direct.append(time.perf_counter() - start)
        shutil.rmtree(work)
    return statistics.median(hooked), statistics.median(direct)


def spawn_true_seconds(count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        subprocess.run(["true"], check=True)
    return (time.perf_counter() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--megabytes", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        bundle = make_revision(os.path.join(folder, "big"), args.files, args.megabytes, hooks=False)
        floors, shims, clis = [], [], []
        for _ in range(args.repeat):  # interleaved, so page-cache and writeback effects hit all three alike
            floors.append(floor_seconds(bundle, folder))
            shims.append(shim_seconds(bundle, folder))
            clis.append(cli_seconds(bundle, folder))
        floor, shim, cli = statistics.median(floors), statistics.median(shims), statistics.median(clis)
        small = make_revision(os.path.join(folder, "small"), 10, 1, hooks=True)
        lifecycle = min(shim_seconds(small, folder, deployments=2) for _ in range(args.repeat))
        spawn = spawn_true_seconds(50)
        hooked, direct = hook_wait_seconds(folder, args.repeat)
    print(f"{args.files} files, {args.megabytes} MB, .tar bundle, median of {args.repeat} interleaved runs")
    print(f"  floor: tar -xf + cp -a        {floor:6.2f} s")
    print(f"  shim (in-process)             {shim:6.2f} s   {shim / floor:.2f}x the floor (target <= 1.3x)")
    print(f"  appspec deploy (CLI process)  {cli:6.2f} s   {cli / floor:.2f}x the floor")
    events = 7  # ApplicationStop, DownloadBundle, BeforeInstall, Install, AfterInstall, ApplicationStart, ValidateService
    overhead = (lifecycle - len(EVENTS) * spawn) / events
    print(
        f"full lifecycle with `true` hooks: {lifecycle * 1000:.0f} ms for {events} events; spawning `true` costs "
        f"{spawn * 1000:.1f} ms; overhead {overhead * 1000:.1f} ms per event (target < 15 ms)"
    )

    print(
        f"hook sleeping 0.2 s: event {hooked * 1000:.1f} ms, the script run directly {direct * 1000:.1f} ms; "
        f"{(hooked - direct) * 1000:.1f} ms added per hook"
    )


if __name__ == "__main__":
    main()
