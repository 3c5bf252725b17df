"""Helpers of the agent-shim tests: tiny hand-made revisions, archives, a FIFO gate that proves a hook is
in flight, and process bookkeeping so that no test leaves a process behind.

Hook scripts are POSIX sh; they write what they observe under $OUT (passed through
`DeploymentRequest.extra_environment`), never to the deployment's own files.
"""

from __future__ import annotations

import errno
import io
import os
import select
import signal
import socket
import stat
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

REPO = Path(__file__).resolve().parents[2]
SAMPLE_APP = REPO / "sample_app"
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"  # the agent's scripts.log time stamp


@dataclass
class Hook:
    """One script of a lifecycle event: `body` is sh after the `#!/bin/sh` line."""

    body: str
    location: Optional[str] = None  # default scripts/<Event>-<n>.sh
    timeout: Optional[int] = 10
    shebang: bool = True
    executable: bool = True
    extra: str = ""  # more YAML keys of the entry, e.g. "runas: nobody"


HookSpec = Union[str, Hook, Sequence[Union[str, Hook]]]


def make_revision(
    path: Path,
    hooks: Optional[Mapping[str, HookSpec]] = None,
    files: Sequence[Tuple[str, str]] = (),
    content: Optional[Mapping[str, Union[str, bytes]]] = None,
    extra: str = "",
    appspec: Optional[str] = None,
) -> Path:
    """A revision folder: appspec.yml with `files` (source, destination) and `hooks` (event → script
    bodies), plus the files of `content` (relative path → text). `appspec` replaces the whole file."""
    path.mkdir(parents=True, exist_ok=True)
    for name, data in (content or {}).items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            target.write_bytes(data)
        else:
            target.write_text(data)
    lines = ["version: 0.0", "os: linux"]
    if files:
        lines.append("files:")
        for source, destination in files:
            lines += [f"  - source: {source}", f"    destination: {destination}"]
    if hooks:
        lines.append("hooks:")
        for event, spec in hooks.items():
            lines.append(f"  {event}:")
            scripts = [spec] if isinstance(spec, (str, Hook)) else list(spec)
            for number, script in enumerate(scripts, start=1):
                hook = Hook(script) if isinstance(script, str) else script
                location = hook.location or f"scripts/{event}-{number}.sh"
                write_script(path / location.lstrip("/"), hook)
                lines.append(f"    - location: {location}")
                if hook.timeout is not None:
                    lines.append(f"      timeout: {hook.timeout}")
                if hook.extra:
                    lines.append(f"      {hook.extra}")
    text = appspec if appspec is not None else "\n".join(lines) + "\n" + extra
    (path / "appspec.yml").write_text(text)
    return path


def write_script(path: Path, hook: Hook) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(("#!/bin/sh\n" if hook.shebang else "") + hook.body.strip("\n") + "\n")
    path.chmod(0o755 if hook.executable else 0o644)


# Archives ------------------------------------------------------------------------------------------------


def zip_tree(source: Path, target: Path, prefix: str = "", extra: Iterable[str] = ()) -> Path:
    """Zip a folder like `zip -r` on Linux: Unix modes in external_attr, directories as entries; `prefix`
    puts everything under one top-level folder; `extra` adds empty members (e.g. "__MACOSX/x")."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        if prefix:
            archive.writestr(_dir_info(prefix), b"")
        for item in sorted(source.rglob("*")):
            name = prefix + item.relative_to(source).as_posix()
            mode = item.lstat().st_mode
            if item.is_symlink():
                info = zipfile.ZipInfo(name)
                info.create_system = 3
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                archive.writestr(info, os.readlink(item))
            elif item.is_dir():
                archive.writestr(_dir_info(name + "/", stat.S_IMODE(mode)), b"")
            else:
                info = zipfile.ZipInfo(name, time.localtime(item.stat().st_mtime)[:6])
                info.create_system = 3
                info.external_attr = (stat.S_IFREG | stat.S_IMODE(mode)) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, item.read_bytes())
        for name in extra:
            archive.writestr(name, b"")
    return target


def _dir_info(name: str, mode: int = 0o755) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = ((stat.S_IFDIR | mode) << 16) | 0x10
    return info


def tar_tree(source: Path, target: Path, mode: str = "w", prefix: str = "") -> Path:
    """tar (mode "w") or tgz ("w:gz") of a folder's contents, optionally under a top-level folder."""
    with tarfile.open(target, mode) as archive:
        if prefix:
            archive.add(source, arcname=prefix.rstrip("/"))
        else:
            for item in sorted(source.iterdir()):
                archive.add(item, arcname=item.name)
    return target


def tar_members(target: Path, members: Sequence[Tuple[tarfile.TarInfo, bytes]], mode: str = "w") -> Path:
    """A tar built member by member, for archives no tool would write."""
    with tarfile.open(target, mode, format=tarfile.GNU_FORMAT) as archive:
        for info, data in members:
            if info.isreg():
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
            else:
                archive.addfile(info)
    return target


def tar_info(name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o644, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.linkname = link
    info.mtime = int(time.time())
    return info


# Reading what hooks wrote ---------------------------------------------------------------------------------

ENV_DUMP = 'env -0 > "$OUT/env-$LIFECYCLE_EVENT"'


def read_env(path: Path) -> Dict[str, str]:
    """A file written by `env -0`."""
    pairs = [item.split("=", 1) for item in path.read_bytes().decode().split("\0") if "=" in item]
    return {key: value for key, value in pairs}


# Synchronisation with a hook in flight ---------------------------------------------------------------------


class Gate:
    """A hook runs `gate.hold` to say "I am here" through one FIFO and then blocks reading another until the
    test calls `release` (or kills it): the test knows for certain that the hook is in flight."""

    def __init__(self, directory: Path, name: str = "gate") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.reached = directory / f"{name}.reached"
        self.released = directory / f"{name}.release"
        self.pidfile = directory / f"{name}.pid"
        for fifo in (self.reached, self.released):
            os.mkfifo(fifo)
        # Opened before any hook runs, so the hook's write-open never blocks; O_NONBLOCK keeps us free.
        self._reader = os.open(self.reached, os.O_RDONLY | os.O_NONBLOCK)

    @property
    def hold(self) -> str:
        """sh lines for a hook: record its pid, announce itself, wait to be released."""
        return f'echo $$ > "{self.pidfile}"\necho reached > "{self.reached}"\nread line < "{self.released}"\n'

    def wait_reached(self, timeout: float = 20.0) -> None:
        poller = select.poll()
        poller.register(self._reader, select.POLLIN)
        if not poller.poll(timeout * 1000):
            raise AssertionError(f"no hook reached {self.reached} within {timeout}s")
        assert os.read(self._reader, 64).startswith(b"reached")

    def release(self, timeout: float = 20.0) -> None:
        """Let the held hook go on (it is blocked opening the FIFO, so a writer appears at once)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                fd = os.open(self.released, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as exc:  # ENXIO: the hook has not opened its end yet
                if exc.errno != errno.ENXIO or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        try:
            os.write(fd, b"go\n")
        finally:
            os.close(fd)

    def hook_pid(self) -> Optional[int]:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def close(self) -> None:
        os.close(self._reader)


# Processes ---------------------------------------------------------------------------------------------------


def alive(pid: int) -> bool:
    """True while pid runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def kill_group_or_pid(pid: int) -> None:
    for action in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            action()
        except (ProcessLookupError, PermissionError):
            pass


def wait_for(condition: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> object:
    """Poll a condition the test cannot be notified about (a process exiting), with a deadline."""
    deadline = time.monotonic() + timeout
    pause = 0.01
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pids_in_file(path: Path) -> List[int]:
    try:
        return [int(word) for word in path.read_text().split() if word.isdigit()]
    except OSError:
        return []
