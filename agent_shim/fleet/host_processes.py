"""The simulated fleet's processes: starting them so that a later run can find them, stopping them, and
what a run whose process died left behind (namespaces, bridges, sshd, HAProxy, host processes). Also
whether this machine can make network namespaces at all."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import List, Optional, Tuple

REGISTRY = os.path.join(tempfile.gettempdir(), "appspec-fleet-pids")  # what to kill if our process dies
MARKER = "APPSPEC_SIMULATED_HOST"  # set in every host process's environment: how teardown finds them


def binary(name: str) -> Optional[str]:
    return shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.path.exists(p)), None
    )


def missing_binaries() -> List[str]:
    return [name for name in ("sshd", "ssh-keygen", "haproxy") if binary(name) is None]


def run_checked(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def namespaces_unavailable() -> Optional[str]:
    """Why network namespaces cannot be used here, or None when they can."""
    if os.geteuid() != 0:
        return "not root: network namespaces need CAP_SYS_ADMIN"
    for name in ("ip", "unshare"):
        if binary(name) is None:
            return f"{name} not found (install iproute2 / util-linux)"
    probe = f"asf-probe-{os.getpid():x}"
    try:
        run_checked("ip", "netns", "add", probe)
    except subprocess.CalledProcessError as exc:
        return "ip netns add failed: " + exc.stderr.decode(errors="replace").strip()
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale() -> None:
    """What a fleet whose process died without its teardown left: namespaces, bridges, HAProxy and sshd
    processes it started, and host processes marked with its tag."""
    if binary("ip") is not None and os.geteuid() == 0:
        listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        for name, owner in re.findall(r"^(asf-([0-9a-f]+)-\S+)", listing, re.M):
            if not alive(int(owner, 16)):
                kill_namespace(name)
        links = subprocess.run(["ip", "-o", "link", "show", "type", "bridge"], capture_output=True, text=True)
        for name, owner in re.findall(r"^\d+: (asfb-([0-9a-f]+)-[0-9a-f]+)[:@]", links.stdout, re.M):
            if not alive(int(owner, 16)):
                subprocess.run(["ip", "link", "del", name], capture_output=True)
    for entry in os.listdir(REGISTRY) if os.path.isdir(REGISTRY) else []:
        owner, _, child = entry.partition(".")
        if not alive(int(owner, 16)):
            with open(os.path.join(REGISTRY, entry)) as handle:
                if child.isdigit() and start_time(int(child)) == handle.read():
                    kill_all([int(child)])
            os.remove(os.path.join(REGISTRY, entry))
    kill_all(pid for pid, value in marked() if not alive(int(value.split("-")[0], 16)))


def start_time(pid: int) -> str:
    """When a process started (clock ticks since boot): tells a pid from a later process that reused it."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def register(process: subprocess.Popen) -> None:
    os.makedirs(REGISTRY, exist_ok=True)
    with open(os.path.join(REGISTRY, f"{os.getpid():x}.{process.pid}"), "w") as handle:
        handle.write(start_time(process.pid))


def unregister(process: Optional[subprocess.Popen]) -> None:
    if process is not None:
        try:
            os.remove(os.path.join(REGISTRY, f"{os.getpid():x}.{process.pid}"))
        except OSError:
            pass


def kill_namespace(namespace: str) -> None:
    pids = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True).stdout.split()
    kill_all(int(p) for p in pids)
    subprocess.run(["ip", "netns", "del", namespace], capture_output=True)


def kill_all(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def marked() -> List[Tuple[int, str]]:
    """(pid, value) of the processes whose environment holds MARKER=value (host processes)."""
    needle = f"{MARKER}=".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as handle:
                    environ = handle.read().split(b"\0")
            except OSError:
                continue
            for item in environ:
                if item.startswith(needle):
                    found.append((int(entry), item[len(needle) :].decode(errors="replace")))
    return found


def spawn(command: List[str], log_path: str) -> subprocess.Popen:
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    register(process)
    return process


def wait_port(address: str, port: int, timeout: float, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{what} exited with code {process.returncode} before listening on {address}:{port}"
            )
        try:
            socket.create_connection((address, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {address}:{port} after {timeout:g}s")
