#!/usr/bin/env python3
"""Lint throughput and start-up, measured side by side in one run.

    python bench/lint_bench.py [--files 1000] [--repeat 3]

Generates AppSpec files (EC2/ECS/Lambda, valid and invalid), then times, on the same files:
`appspec lint` (one process for all files), `check-jsonschema` with the schema `appspec schema`
exports, and `yamllint`; then `appspec lint` on one file beside `python -c pass`, and beside
`python -c "import yaml"` in interleaved runs (the start-up target: within 1.5x); then the peak
memory of `appspec lint` on a tenth of the files and on all of them. Prints ratios. The package is
byte-compiled first, so start-up is measured with the bytecode caches users have after pip install.
Needs the `bench` extra: pip install -e '.[bench]'.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import List, Tuple

EC2_VALID = """version: 0.0
os: linux
files:
  - source: /app
    destination: /opt/app{n}
permissions:
  - object: /opt/app{n}
    owner: app
    mode: "0644"
    type:
      - file
hooks:
  ApplicationStop:
    - location: scripts/stop.sh
      timeout: 60
  AfterInstall:
    - location: scripts/install.sh
      timeout: 300
      runas: root
  ValidateService:
    - location: scripts/validate.sh
      timeout: {timeout}
"""
EC2_INVALID = """version: "0.0"
os: Linux
overwrite: yes
files:
  - source: /
permissions:
  - object: /opt/app{n}
    mode: 0755
    type: file
hooks:
  AfterInstal:
    - location: /opt/app/scripts/install.sh
      timeout: {timeout}0
  Install:
    - location: scripts/x.sh
"""
ECS_VALID = """version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: "arn:aws:ecs:us-east-1:111122223333:task-definition/web:{n}"
        LoadBalancerInfo:
          ContainerName: "web"
          ContainerPort: 8080
Hooks:
  - BeforeInstall: "arn:aws:lambda:us-east-1:111122223333:function:pre{n}"
  - AfterAllowTraffic: "post{n}"
"""
LAMBDA_VALID = """version: 0.0
Resources:
  - fn{n}:
      Type: AWS::Lambda::Function
      Properties:
        Name: "fn{n}"
        Alias: "live"
        CurrentVersion: "{n}"
        TargetVersion: "{m}"
Hooks:
  - BeforeAllowTraffic: "check{n}"
"""
TEMPLATES = [EC2_VALID, EC2_INVALID, ECS_VALID, LAMBDA_VALID]


def generate(folder: str, count: int) -> List[str]:
    rng = random.Random(7)
    paths = []
    for n in range(count):
        template = TEMPLATES[n % len(TEMPLATES)]
        text = template.format(n=n + 1, m=n + 2, timeout=rng.randint(30, 900))
        path = os.path.join(folder, f"appspec-{n:04d}.yml")
        with open(path, "w") as handle:
            handle.write(text)
        paths.append(path)
    return paths


def timed(argv: List[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        best = min(best, time.perf_counter() - start)
    return best


def interleaved_medians(first: List[str], second: List[str], rounds: int) -> Tuple[float, float]:
    """Median wall time of each command, run alternately (ABBA) so that drift in the machine's load
    falls on both alike."""
    times: Tuple[List[float], List[float]] = ([], [])
    for round_ in range(rounds):
        order = (0, 1) if round_ % 2 == 0 else (1, 0)
        for which in order:
            times[which].append(timed((first, second)[which], 1))
    return statistics.median(times[0]), statistics.median(times[1])


def compile_package() -> None:
    """Write the package's bytecode caches, as pip does on install (PYTHONDONTWRITEBYTECODE would
    otherwise leave an editable checkout without them and every start-up would recompile)."""
    import appspec_tools

    compileall.compile_dir(os.path.dirname(appspec_tools.__file__), quiet=1)


def peak_rss_kib(argv: List[str]) -> int:
    probe = (
        "import resource, subprocess, sys; "
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def tool(name: str) -> List[str]:
    found = shutil.which(name)
    if found:
        return [found]
    sys.exit(f"{name} not found: pip install -e '.[bench]'")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    appspec = [sys.executable, "-m", "appspec_tools", "lint", "--no-config", "--format", "json"]
    compile_package()
    with tempfile.TemporaryDirectory() as folder:
        paths = generate(folder, args.files)
        schema = os.path.join(folder, "appspec.schema.json")
        with open(schema, "w") as handle:
            json.dump(
                json.loads(subprocess.check_output([sys.executable, "-m", "appspec_tools", "schema"])), handle
            )
        ours = timed(appspec + paths, args.repeat)
        cjs = timed(tool("check-jsonschema") + ["--schemafile", schema] + paths, args.repeat)
        yl = timed(tool("yamllint") + ["-d", "relaxed"] + paths, args.repeat)
        one = paths[:1]
        starts = [timed(appspec + one, 1) for _ in range(max(5, args.repeat * 3))]
        baseline = [timed([sys.executable, "-c", "pass"], 1) for _ in range(max(5, args.repeat * 3))]
        rounds = max(20, args.repeat * 10)
        with_yaml = [sys.executable, "-c", "import yaml"]
        for warm_up in (appspec + one, with_yaml):  # the page cache, for both alike
            timed(warm_up, 1)
        lint_start, yaml_start = interleaved_medians(appspec + one, with_yaml, rounds)
        tenth = paths[: max(1, args.files // 10)]
        rss_small, rss_all = peak_rss_kib(appspec + tenth), peak_rss_kib(appspec + paths)

    n = args.files
    print(f"{n} AppSpec files (EC2 valid/invalid, ECS, Lambda), best of {args.repeat}")
    print(f"  appspec lint       {n / ours:8.0f} files/s  ({ours:.2f} s)")
    print(
        f"  check-jsonschema   {n / cjs:8.0f} files/s  ({cjs:.2f} s)   appspec lint is {cjs / ours:.1f}x faster (target >= 2x)"
    )
    print(
        f"  yamllint           {n / yl:8.0f} files/s  ({yl:.2f} s)   appspec lint is {yl / ours:.1f}x faster"
    )
    start, base = statistics.median(starts), statistics.median(baseline)
    print(
        f"one file, start to exit (median): appspec lint {start * 1000:.0f} ms, python -c pass {base * 1000:.0f} ms, "
        f"ratio {start / base:.1f}x (target < 150 ms)"
    )
    ratio = lint_start / yaml_start
    print(
        f"one file vs python -c 'import yaml', interleaved, median of {rounds} each: "
        f"appspec lint {lint_start * 1000:.0f} ms, import yaml {yaml_start * 1000:.0f} ms, "
        f"ratio {ratio:.2f}x (target <= 1.5x: {'met' if ratio <= 1.5 else 'NOT met'})"
    )
    print(
        f"peak memory: {len(tenth)} files {rss_small / 1024:.1f} MiB, {n} files {rss_all / 1024:.1f} MiB, "
        f"ratio {rss_all / rss_small:.2f} (flat means ~1.0)"
    )


if __name__ == "__main__":
    main()
