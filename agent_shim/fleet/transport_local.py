"""A `HostTransport` for a host that is this machine (address `local` in the group file).

No SSH and no upload: the runner is this Python's own `appspec_tools` (or the runner zipapp, when one is
given), started as a subprocess with the host's environment; its `--format jsonl` lines are read as they
come, exactly as the SSH transport reads them. Useful for a one-host group without sshd, and for
rehearsing a fleet on one machine: several `local` hosts with their own `root` and `install_root`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from typing import List, Optional, Sequence, Tuple

from agent_shim.fleet.contracts import FAILED, EventSink, HostOutcome, HostSpec
from agent_shim.fleet.stream import RunnerStream


class LocalTransport:
    def __init__(self, spec: HostSpec, python: str = sys.executable, kill_grace: float = 5.0) -> None:
        self.spec = spec
        self.python = python
        self.kill_grace = kill_grace

    def ensure_runner(self, zipapp_path: str, checksum: str) -> str:
        """The zipapp where it is, or "" for the installed package (nothing to upload)."""
        return zipapp_path if zipapp_path and os.path.isfile(zipapp_path) else ""

    def upload_revision(self, bundle_path: str, checksum: str) -> str:
        return os.path.abspath(bundle_path)

    def prepare(
        self, zipapp_path: str, runner_checksum: str, bundle_path: str, checksum: str
    ) -> Tuple[str, str]:
        return self.ensure_runner(zipapp_path, runner_checksum), self.upload_revision(bundle_path, checksum)

    def check(self, zipapp_path: str, runner_checksum: str, bundle_path: str, checksum: str) -> None:
        """This machine answers; its python runs the controller."""

    def command(self, runner_path: str, arguments: Sequence[str]) -> List[str]:
        runner = [runner_path] if runner_path else ["-m", "appspec_tools"]
        return [self.python, *runner, "deploy", *arguments, "--format", "jsonl"]

    def run_deployment(
        self, runner_path: str, arguments: Sequence[str], on_event: EventSink, timeout: float
    ) -> HostOutcome:
        stream = RunnerStream(self.spec.name, on_event)
        outcome = HostOutcome(self.spec.name, FAILED, started=time.time())
        environment = dict(os.environ, **self.spec.environment)
        try:
            process = subprocess.Popen(
                self.command(runner_path, arguments),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=environment,
                start_new_session=True,  # its own group, so a timeout stops the runner and nothing else
            )
        except OSError as exc:
            outcome.reason = f"cannot start the runner: {exc.strerror or exc}"
            return stream.finish(outcome)
        assert process.stdout is not None and process.stderr is not None
        errors = threading.Thread(target=_pump, args=(process.stderr, stream.feed_stderr), daemon=True)
        errors.start()
        expired = threading.Event()
        timer = threading.Timer(timeout, self._expire, args=(process, expired))
        timer.daemon = True
        timer.start()
        try:
            _pump(process.stdout, stream.feed)
            exited = process.wait()
        finally:
            timer.cancel()
            errors.join(timeout=10)
            stream.flush()
        if expired.is_set():
            outcome.reason = f"timed out after {timeout:g}s{stream.during()}; the runner was stopped"
            stream.result = None
        elif stream.result is None:
            detail = stream.stderr_tail[-1] if stream.stderr_tail else "no output"
            outcome.reason = f"runner exited with code {exited} without a result{stream.during()}: {detail}"
        return stream.finish(outcome)

    def _expire(self, process: subprocess.Popen, expired: threading.Event) -> None:
        """SIGTERM to the runner's group, SIGKILL after the grace; hook scripts in their own groups are
        left, as the agent leaves them."""
        expired.set()
        for sig, wait in ((signal.SIGTERM, self.kill_grace), (signal.SIGKILL, None)):
            try:
                os.killpg(process.pid, sig)
            except (ProcessLookupError, PermissionError):
                return
            if wait is None:
                return
            try:
                process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def close(self) -> None:
        pass


def _pump(pipe: Optional[object], feed: object) -> None:
    """Read a pipe to EOF in chunks, as they arrive, handing each to `feed`."""
    fd = pipe.fileno()  # type: ignore[union-attr]
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        feed(chunk)  # type: ignore[operator]
    pipe.close()  # type: ignore[union-attr]
