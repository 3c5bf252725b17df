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
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, TextIO

from agent_shim.command import LiveLines, check_urls, report
from agent_shim.deployment import DeploymentRequest, deploy, read_last_good
from agent_shim.hook_executor import hook_environment
from agent_shim.layout import DeploymentRoot

APPLICATION = "sample-app"
GROUP = "sample-app-demo"
STATE_FILE = "demo.env"
LOWEST_PORT, HIGHEST_PORT = 1, 65535


def sample_app_dir() -> Optional[Path]:
    """The sample app: package data of an installed appspec-tools (agent_shim/sample_app, mapped from
    the source tree's sample_app/ by setup.cfg), or the source tree's folder (a checkout, pip install -e)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "sample_app", here.parent / "sample_app"):
        if (candidate / "appspec.yml").is_file():
            return candidate
    return None


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise OSError("no free port on 127.0.0.1")


def port_problem(port: int) -> Optional[str]:
    if LOWEST_PORT <= port <= HIGHEST_PORT:
        return None
    return (
        f"appspec demo: --port {port} is not a TCP port; give one from {LOWEST_PORT} to {HIGHEST_PORT} "
        "(or leave --port out: 8080, or a free one)"
    )


def first_missing(path: str) -> Optional[str]:
    """The outermost folder that creating ``path`` adds (None: ``path`` exists): what to remove if the
    demo fails before it deploys, so a folder the user already had is never removed."""
    missing = None
    while not os.path.lexists(path):
        missing, parent = path, os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing


def demo_request(app: Path, folder: str, port: int) -> DeploymentRequest:
    return DeploymentRequest(
        bundle=str(app),
        application=APPLICATION,
        group_name=GROUP,
        root=os.path.join(folder, "deployment-root"),
        install_root=os.path.join(folder, "install"),
        extra_environment={"APP_PORT": str(port)},
    )


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.stop:
        return stop(args.stop, out, err)
    problem = port_problem(args.port)
    if problem:
        err.write(f"{problem}\n")
        return 2
    app = sample_app_dir()
    if app is None:
        err.write("appspec demo: the sample app is missing from this installation; reinstall appspec-tools\n")
        return 2
    folder = os.path.abspath(args.dir) if args.dir else ""
    created = first_missing(folder) if folder else None
    try:
        if folder:
            os.makedirs(folder, exist_ok=True)
        else:
            folder = created = tempfile.mkdtemp(prefix="appspec-demo-")
    except OSError as exc:
        _remove(created)
        where, fix = (folder, "pass another --dir") if folder else (tempfile.gettempdir(), "pass --dir DIR")
        err.write(f"appspec demo: cannot use {where}: {exc.strerror or exc}; {fix}\n")
        return 2
    try:
        port = free_port(args.port)
        request = demo_request(app, folder, port)
        with open(os.path.join(folder, STATE_FILE), "w", encoding="utf-8") as handle:
            handle.write(f"APP_PORT={port}\n")
    except BaseException as exc:  # nothing deployed yet: leave nothing behind
        _remove(created)
        if not isinstance(exc, OSError):
            raise
        kept = f"; {folder} was kept" if created is None else ""
        err.write(f"appspec demo: cannot prepare the demo: {exc.strerror or exc}{kept}\n")
        return 2  # the machine, not the deployment: an input error by the exit-code table
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


def _remove(created: Optional[str]) -> None:
    if created:
        shutil.rmtree(created, ignore_errors=True)


@dataclass(frozen=True)
class InstalledDeployment:
    """The deployment whose revision is installed in a demo folder, as the shim recorded it."""

    deployment_dir: str
    deployment_id: str
    application: str
    group_name: str
    group_id: str

    def hook_variables(self) -> Dict[str, str]:
        return {
            "DEPLOYMENT_ID": self.deployment_id,
            "APPLICATION_NAME": self.application,
            "DEPLOYMENT_GROUP_NAME": self.group_name,
            "DEPLOYMENT_GROUP_ID": self.group_id,
        }


def installed_deployment(folder: str) -> Optional[InstalledDeployment]:
    """From deployment-instructions/: the last successful install's pointer names the deployment folder
    (ROOT/GROUP_ID/DEPLOYMENT_ID); the group's last good deployment record names the application."""
    root = DeploymentRoot(os.path.join(folder, "deployment-root"))
    last = root.last_successful_install(GROUP)
    if not last:
        return None
    record = read_last_good(root, GROUP) or {}
    application = record.get("application")
    return InstalledDeployment(
        deployment_dir=last,
        deployment_id=os.path.basename(last),
        application=application if isinstance(application, str) and application else APPLICATION,
        group_name=GROUP,  # the shim records no name; demo deploys with group name = group id = GROUP
        group_id=os.path.basename(os.path.dirname(last)),
    )


def stop(folder: str, out: TextIO, err: TextIO) -> int:
    folder = os.path.abspath(folder)
    if not os.path.isfile(os.path.join(folder, STATE_FILE)):
        err.write(f"appspec demo: {folder} is not a demo folder (no {STATE_FILE}); nothing was removed\n")
        return 2
    variables = {
        "INSTALL_ROOT": os.path.join(folder, "install"),
        "LIFECYCLE_EVENT": "ApplicationStop",
    }
    with open(os.path.join(folder, STATE_FILE), encoding="utf-8") as handle:
        for line in handle:
            key, _, value = line.strip().partition("=")
            if key:
                variables[key] = value
    installed = installed_deployment(folder)
    if installed:
        variables.update(installed.hook_variables())
        script = os.path.join(
            installed.deployment_dir, "deployment-archive", "scripts", "application_stop.py"
        )
        result = subprocess.run(
            [script],
            env=hook_environment(os.environ, variables),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        out.write(result.stdout)
        if result.returncode != 0:
            err.write(result.stderr)
            err.write(f"appspec demo: ApplicationStop failed (exit {result.returncode}); {folder} was kept\n")
            return 1
    shutil.rmtree(folder)
    out.write(f"stopped; removed {folder}\n")
    return 0
