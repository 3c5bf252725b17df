"""Fleet scale model: the real controller and history over 10, 100 and 1,000 in-memory hosts (no processes,
no sockets: agent_shim.fleet.in_memory), each hook a fixed short wait that does not grow with the fleet.

Prints, for each size, the controller's CPU per host (this process's CPU time over the deployment: the
in-memory hosts' own work is a few dictionary writes), its memory per host (the tracemalloc peak over a
second, traced run of the same size; and the RSS growth) and how the totals grow (100/10 and 1000/100:
linear is 10), against the goal: linear, under 5 ms of CPU and 0.5 MiB per host at 1,000 hosts. An
in-place deployment with a load balancer, so every host runs the three runner steps and both traffic
events, and every event and traffic change is written to the history (SQLite, WAL, synchronous=NORMAL).

Run: python3 bench/fleet_scale.py [--sizes 10,100,1000] [--hook-ms 2] [--parallel 10] [--state-dir DIR] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import sys
import tempfile
import threading
import time
import tracemalloc
from dataclasses import dataclass
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from agent_shim.fleet.contracts import SUCCEEDED  # noqa: E402
from agent_shim.fleet.controller import Controller  # noqa: E402
from agent_shim.fleet.history import History  # noqa: E402
from agent_shim.fleet.in_memory import InMemoryFleet, make_revision  # noqa: E402

GOAL_CPU_MS, GOAL_MIB, GOAL_GROWTH = 5.0, 0.5, 1.3  # per host at 1,000; growth: within 1.3 × linear


@dataclass
class Measured:
    hosts: int
    wall: float  # seconds
    cpu: float  # seconds of this process's CPU (user + system)
    system: float  # of which in the kernel (mostly the history's fsyncs)
    peak: int  # bytes: tracemalloc's peak over the deployment
    rss: int  # bytes: growth of the peak RSS over the traced run


def deploy(hosts: int, hook_seconds: float, parallel: int, folder: str) -> str:
    """One in-place deployment to `hosts` in-memory hosts; its status."""
    fleet = InMemoryFleet([f"h{i:04d}" for i in range(hosts)], hook_seconds=hook_seconds)
    group = fleet.group(config="CodeDeployDefault.AllAtOnce", max_parallel_ssh=parallel)
    with History(os.path.join(folder, "history.sqlite")) as history:
        controller = Controller(group, history, fleet.transport_for, fleet.lb)
        run = controller.deploy(make_revision(os.path.join(folder, "revisions"), "v1"))
    return str(run.deployment.status)


def measure(hosts: int, hook_seconds: float, parallel: int, state_dir: Optional[str]) -> Measured:
    with tempfile.TemporaryDirectory(prefix="fleet-scale-", dir=state_dir) as folder:
        wall, before = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF)
        status = deploy(hosts, hook_seconds, parallel, os.path.join(folder, "cpu"))
        wall, after = time.monotonic() - wall, resource.getrusage(resource.RUSAGE_SELF)
        system = after.ru_stime - before.ru_stime
        cpu = after.ru_utime - before.ru_utime + system
        if status != SUCCEEDED:
            raise SystemExit(f"fleet_scale: the {hosts}-host deployment ended {status}")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        tracemalloc.start()
        deploy(hosts, hook_seconds, parallel, os.path.join(folder, "memory"))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss
    return Measured(hosts, wall, cpu, system, peak, rss)


def report(results: List[Measured]) -> bool:
    print(
        f"{'hosts':>6} {'wall s':>8} {'CPU ms/host':>12} {'of it system':>13} {'traced KiB/host':>16} "
        f"{'RSS growth KiB/host':>20}"
    )
    for m in results:
        print(
            f"{m.hosts:>6} {m.wall:>8.2f} {1000 * m.cpu / m.hosts:>12.2f} {1000 * m.system / m.hosts:>13.2f} "
            f"{m.peak / 1024 / m.hosts:>16.1f} {m.rss / 1024 / m.hosts:>20.1f}"
        )
    by_size: Dict[int, Measured] = {m.hosts: m for m in results}
    linear = True
    for small, large in zip(results, results[1:]):
        factor = large.hosts / small.hosts
        cpu, memory = large.cpu / small.cpu, large.peak / max(small.peak, 1)
        linear = linear and cpu <= GOAL_GROWTH * factor and memory <= GOAL_GROWTH * factor
        print(
            f"growth {large.hosts}/{small.hosts} (linear: {factor:g}): CPU x{cpu:.1f}, traced memory x{memory:.1f}"
        )
    largest = by_size[max(by_size)]
    cpu_ms, mib = 1000 * largest.cpu / largest.hosts, largest.peak / 2**20 / largest.hosts
    met = linear and cpu_ms < GOAL_CPU_MS and mib < GOAL_MIB
    print(
        f"goal at {largest.hosts} hosts: linear, < {GOAL_CPU_MS:g} ms CPU and < {GOAL_MIB:g} MiB per host: "
        f"{cpu_ms:.2f} ms, {mib:.3f} MiB, {'linear' if linear else 'NOT linear'}: {'met' if met else 'MISSED'}"
    )
    return met


def profile(hosts: int, hook_seconds: float, parallel: int, state_dir: Optional[str]) -> None:
    """cProfile of every thread (the controller's and the hosts'), timed by each thread's CPU time."""
    profiles: List[cProfile.Profile] = []
    run = threading.Thread.run

    def profiled(thread: threading.Thread) -> None:
        profiles.append(cProfile.Profile(timer=time.thread_time))
        profiles[-1].runcall(run, thread)

    threading.Thread.run = profiled  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory(prefix="fleet-scale-", dir=state_dir) as folder:
            profiles.append(cProfile.Profile(timer=time.thread_time))
            profiles[-1].runcall(deploy, hosts, hook_seconds, parallel, folder)
    finally:
        threading.Thread.run = run  # type: ignore[method-assign]
    stats = pstats.Stats(profiles[0])
    for more in profiles[1:]:
        stats.add(more)
    stats.sort_stats("tottime").print_stats(20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000", help="host counts, comma-separated")
    parser.add_argument("--hook-ms", type=float, default=2.0, help="each hook's simulated duration")
    parser.add_argument(
        "--parallel", type=int, default=10, help="max_parallel_ssh of the group (its default)"
    )
    parser.add_argument("--profile", action="store_true", help="also profile the largest size")
    parser.add_argument("--state-dir", help="where the history goes (default: the system's temp folder)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    print(
        f"in-place, AllAtOnce, with a load balancer; max_parallel_ssh {args.parallel}; every hook "
        f"{args.hook_ms:g} ms; {os.cpu_count()} cores; history in {args.state_dir or tempfile.gettempdir()}"
    )
    results = [measure(size, args.hook_ms / 1000, args.parallel, args.state_dir) for size in sizes]
    met = report(results)
    if args.profile:
        profile(sizes[-1], args.hook_ms / 1000, args.parallel, args.state_dir)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
