"""Fleet deployment benchmark: 20 simulated hosts (real sshd in network namespaces), hooks that take a
fixed time, the real controller over SSH.

Prints, measured side by side in each of `--repeat` rounds (medians, and the range of each ratio):
  AllAtOnce on 20 hosts vs one host (target <= 2x): what parallelism costs;
  HalfAtATime on 20 hosts vs the theoretical two batches (target <= 1.15x): twice a 10-host AllAtOnce
    measured in the same round, so the ratio is what the rolling window and the minimum-healthy-hosts
    rule add (docs/design.md, "Fleet benchmark"); also against twice one host, which adds the CPU
    contention of ten simulated hosts on this machine's cores;
  the controller's CPU time and peak memory per host (resource.getrusage of this process).
Each deployment includes the preflight, as `appspec fleet deploy --group` runs it (`--no-preflight`: without).

Needs root, sshd and ip (see docs/fleet-testing.md). Run: python3 bench/fleet_bench.py [--hosts 20]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from agent_shim.fleet.contracts import SUCCEEDED  # noqa: E402
from agent_shim.fleet.controller import Controller  # noqa: E402
from agent_shim.fleet.group import load_group  # noqa: E402
from agent_shim.fleet.history import History  # noqa: E402
from agent_shim.fleet.lb import NoLoadBalancer  # noqa: E402
from agent_shim.fleet.preflight import preflight  # noqa: E402
from agent_shim.fleet.revisions import prepare_revision  # noqa: E402
from agent_shim.fleet.runner import build_runner  # noqa: E402
from agent_shim.fleet.simulated import SimulatedFleet  # noqa: E402
from agent_shim.fleet.transport_ssh import SshTransport  # noqa: E402


def revision(directory: str, hook_seconds: float) -> str:
    """Two hooks that each sleep `hook_seconds`, and one small file to install."""
    os.makedirs(os.path.join(directory, "scripts"))
    os.makedirs(os.path.join(directory, "site"))
    with open(os.path.join(directory, "site", "index.html"), "w") as handle:
        handle.write("hello\n")
    for event in ("BeforeInstall", "ApplicationStart"):
        path = os.path.join(directory, "scripts", f"{event}.sh")
        with open(path, "w") as handle:
            handle.write(f"#!/bin/sh\nsleep {hook_seconds}\n")
        os.chmod(path, 0o755)
    with open(os.path.join(directory, "appspec.yml"), "w") as handle:
        handle.write(
            "version: 0.0\nos: linux\nfiles:\n  - source: site\n    destination: /opt/bench-site\n"
            "file_exists_behavior: OVERWRITE\nhooks:\n"
            "  BeforeInstall:\n    - location: scripts/BeforeInstall.sh\n"
            "  ApplicationStart:\n    - location: scripts/ApplicationStart.sh\n"
        )
    return directory


CHECK_FIRST = [True]  # the preflight before each deployment (--no-preflight turns it off)


def deploy(fleet: SimulatedFleet, config: str, hosts, runner, bundle: str, scratch: str, label: str):
    """One deployment of `bundle` to `hosts` with `config`; (wall seconds, CPU seconds, deployment)."""
    group_file = fleet.write_group_file(
        os.path.join(scratch, f"{label}.yml"),
        deployment_config=config,
        max_parallel_ssh=len(fleet.hosts),
        history=os.path.join(scratch, f"{label}.sqlite"),
    )
    group = load_group(group_file)
    group.hosts = [h for h in group.hosts if h.name in hosts]
    history = History(group.history_path)
    prepared = prepare_revision(bundle, None, history)

    def transport_for(spec):
        return SshTransport(spec, known_hosts=group.ssh.known_hosts)

    controller = Controller(group, history, transport_for, NoLoadBalancer(), runner=runner)
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    if CHECK_FIRST[0]:
        checked = preflight(
            group, controller.planned_hosts(), transport_for, controller.lb, runner=runner, revision=prepared
        )
        if not checked.ok:
            raise SystemExit(f"{label}: preflight: {checked.lines(group)}")
        controller.connections = checked
    run = controller.deploy(prepared)
    if controller.connections is not None:
        controller.connections.close()
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    history.close()
    failed = {n: o.reason for n, o in run.deployment.hosts.items() if o.status != SUCCEEDED}
    if failed:
        raise SystemExit(f"{label}: hosts failed: {failed}")
    return wall, (after.ru_utime + after.ru_stime) - (cpu.ru_utime + cpu.ru_stime), run.deployment


def machine_cpu() -> float:
    """CPU seconds this whole machine has used (every process), from /proc/stat."""
    with open("/proc/stat") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def spread(values) -> str:
    return f"median {median(values):.2f}x, range {min(values):.2f}-{max(values):.2f}x"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument(
        "--hook-seconds", type=float, default=1.0, help="each of the two hooks sleeps this long"
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the four deployments")
    parser.add_argument("--no-preflight", action="store_true", help="deploy without the preflight")
    args = parser.parse_args(argv)
    CHECK_FIRST[0] = not args.no_preflight
    if args.hosts < 2 or args.repeat < 1:
        parser.error("--hosts needs at least 2 and --repeat at least 1")
    scratch = tempfile.mkdtemp(prefix="fleet-bench-")
    bundle = revision(os.path.join(scratch, "revision"), args.hook_seconds)
    runner = build_runner(os.path.join(scratch, "runner"))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    rounds = []
    with SimulatedFleet(args.hosts, with_haproxy=False) as fleet:
        print(
            f"{args.hosts} simulated hosts ({fleet.mode}) up in {time.monotonic() - started:.1f}s; "
            f"hooks sleep 2 x {args.hook_seconds:g}s; {args.repeat} rounds; "
            f"preflight {'on' if CHECK_FIRST[0] else 'off'}"
        )
        names = [h.name for h in fleet.hosts]
        # warm-up: the runner and the revision reach every host once, so every timing below skips uploads
        deploy(fleet, "CodeDeployDefault.AllAtOnce", names, runner, bundle, scratch, "warmup")
        for number in range(args.repeat):
            label = f"r{number}"
            one, _, _ = deploy(
                fleet, "CodeDeployDefault.AllAtOnce", names[:1], runner, bundle, scratch, label + "one"
            )
            machine = machine_cpu()
            every, cpu_all, _ = deploy(
                fleet, "CodeDeployDefault.AllAtOnce", names, runner, bundle, scratch, label + "all"
            )
            machine = machine_cpu() - machine
            batch, _, _ = deploy(
                fleet,
                "CodeDeployDefault.AllAtOnce",
                names[: len(names) // 2],
                runner,
                bundle,
                scratch,
                label + "batch",
            )
            half, cpu_half, deployment = deploy(
                fleet, "CodeDeployDefault.HalfAtATime", names, runner, bundle, scratch, label + "half"
            )
            rounds.append((one, every, batch, half, cpu_all, cpu_half, machine, len(deployment.batches)))
            print(
                f"  round {number + 1}: one {one:.2f}s, AllAtOnce {every:.2f}s, "
                f"{len(names) // 2}-host batch {batch:.2f}s, HalfAtATime {half:.2f}s"
            )
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    n, half_n = args.hosts, args.hosts // 2
    one, every, batch, half, cpu_all, cpu_half, machine, starts = (
        median([r[i] for r in rounds]) for i in range(8)
    )
    print(f"one host:                  {one:6.2f}s")
    print(
        f"AllAtOnce, {n} hosts:       {every:6.2f}s  {spread([r[1] / r[0] for r in rounds])} one host"
        " (target <= 2x)"
    )
    print(
        f"HalfAtATime, {n} hosts:     {half:6.2f}s  {spread([r[3] / (2 * r[2]) for r in rounds])} the theoretical"
        f" two batches (target <= 1.15x)\n"
        f"                                     (two {half_n}-host AllAtOnce batches, {batch:.2f}s each;"
        f" {starts:.0f} starts of the rolling window)\n"
        f"                                     {spread([r[3] / (2 * r[0]) for r in rounds])} twice one host"
        f" (adds {half_n} simulated hosts' CPU on {os.cpu_count()} cores)"
    )
    print(
        f"controller CPU per host:   {1000 * cpu_all / n:6.1f} ms (AllAtOnce), {1000 * cpu_half / n:.1f} ms (HalfAtATime)"
    )
    print(
        f"whole machine CPU per host:{1000 * machine / n:6.1f} ms (AllAtOnce: the simulated hosts' sshd, shells, "
        f"runners and hooks share this machine's {os.cpu_count()} cores)"
    )
    print(
        f"controller peak memory:    {rss_peak / 1024:6.1f} MiB "
        f"(+{(rss_peak - rss_before) / 1024 / n:.2f} MiB per host over the start)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
