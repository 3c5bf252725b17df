"""`appspec demo`: the sample app deployed on this host by the shim, validated over HTTP.

Everything lives under one temporary folder (deployment root and install root), so it needs no root
and leaves nothing elsewhere; `appspec demo --stop DIR` runs the installed revision's ApplicationStop
hook and removes the folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Optional, TextIO

from agent_shim.command import LiveLines, check_urls, report
from agent_shim.deployment import DeploymentRequest, deploy
from agent_shim.layout import DeploymentRoot

GROUP = "sample-app-demo"
STATE_FILE = "demo.env"


def sample_app_dir() -> Optional[Path]:
    candidate = Path(__file__).resolve().parent.parent / "sample_app"
    return candidate if (candidate / "appspec.yml").is_file() else None


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise OSError("no free port on 127.0.0.1")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.stop:
        return stop(args.stop, out, err)
    app = sample_app_dir()
    if app is None:
        err.write(
            "appspec demo: the sample app ships with the source tree; run it from a checkout (pip install -e .)\n"
        )
        return 2
    folder = os.path.abspath(args.dir or tempfile.mkdtemp(prefix="appspec-demo-"))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        err.write(f"appspec demo: cannot use {folder}: {exc.strerror}; pass another --dir\n")
        return 2
    port = free_port(args.port)
    request = DeploymentRequest(
        bundle=str(app),
        application="sample-app",
        group_name=GROUP,
        root=os.path.join(folder, "deployment-root"),
        install_root=os.path.join(folder, "install"),
        extra_environment={"APP_PORT": str(port)},
    )
    with open(os.path.join(folder, STATE_FILE), "w", encoding="utf-8") as handle:
        handle.write(f"APP_PORT={port}\n")
    result = deploy(request, LiveLines(out))
    report(result, out)
    if not result.succeeded:
        out.write(
            f"the demo failed; its files are in {folder}; clean up with: appspec demo --stop {folder}\n"
        )
        return 1
    healthy = check_urls([f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{port}/health"], out)
    out.write(
        f"\nThe sample app runs at http://127.0.0.1:{port}/ (installed under {request.install_root}).\n"
        f"Stop it and remove the demo folder with: appspec demo --stop {folder}\n"
    )
    return 0 if healthy else 1


def stop(folder: str, out: TextIO, err: TextIO) -> int:
    folder = os.path.abspath(folder)
    root = DeploymentRoot(os.path.join(folder, "deployment-root"))
    last = root.last_successful_install(GROUP)
    if not os.path.isfile(os.path.join(folder, STATE_FILE)):
        err.write(f"appspec demo: {folder} is not a demo folder (no {STATE_FILE}); nothing was removed\n")
        return 2
    env = dict(os.environ, INSTALL_ROOT=os.path.join(folder, "install"), LIFECYCLE_EVENT="ApplicationStop")
    with open(os.path.join(folder, STATE_FILE), encoding="utf-8") as handle:
        for line in handle:
            key, _, value = line.strip().partition("=")
            if key:
                env[key] = value
    if last:
        script = os.path.join(last, "deployment-archive", "scripts", "application_stop.py")
        result = subprocess.run(
            [script], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
        )
        out.write(result.stdout)
        if result.returncode != 0:
            err.write(result.stderr)
            err.write(f"appspec demo: ApplicationStop failed (exit {result.returncode}); {folder} was kept\n")
            return 1
    shutil.rmtree(folder)
    out.write(f"stopped; removed {folder}\n")
    return 0
