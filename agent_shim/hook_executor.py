"""Runs one lifecycle event's hook scripts the way the CodeDeploy agent does (AGENT-FACTS §3).

Each script: its own process group, stdin closed, no working directory set, the agent's environment
plus the deployment variables, stdout/stderr captured line by line into scripts.log. The deadline is
script start + timeout; on timeout the group gets SIGTERM and, like the agent, the event ends when the
script has exited (with a kill grace, ours, opt-in: SIGKILL to what is left of the group after it, so a
script that ignores TERM cannot block the host); after the script exits, the wait for its output streams
to close is bounded by the same deadline (error code 6, the child is not killed).
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import IO, Any, Callable, Dict, List, Mapping, Optional, Sequence

from agent_shim.script_log import ScriptLog

SUCCEEDED = 0
SCRIPT_MISSING = 1
SCRIPT_EXECUTABILITY = 2
SCRIPT_TIMED_OUT = 3
SCRIPT_FAILED = 4
UNKNOWN_ERROR = 5
OUTPUTS_LEFT_OPEN = 6
FAILED_AFTER_RESTART = 7

# Names 0-5 are the CodeDeploy API's Diagnostics.errorCode values; 6 and 7 have no API name, these are ours.
ERROR_NAMES = {
    SUCCEEDED: "Success",
    SCRIPT_MISSING: "ScriptMissing",
    SCRIPT_EXECUTABILITY: "ScriptNotExecutable",
    SCRIPT_TIMED_OUT: "ScriptTimedOut",
    SCRIPT_FAILED: "ScriptFailed",
    UNKNOWN_ERROR: "UnknownError",
    OUTPUTS_LEFT_OPEN: "OutputsLeftOpen",
    FAILED_AFTER_RESTART: "FailedAfterRestart",
}
# The agent removes these from its own environment at start, so hooks never inherit them.
BLANKED_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_CREDENTIAL_FILE")
SAFE_KILL_GRACE = 5.0  # `appspec deploy --safe` and the fleet's host runner


class ScriptFailure(Exception):
    """A failed event: the agent's error code, the script's location and message, and the log tail."""

    def __init__(self, error_code: int, script_name: str, message: str, log: str = "") -> None:
        super().__init__(message)
        self.error_code = error_code
        self.script_name = script_name
        self.message = message
        self.log = log

    @property
    def error_name(self) -> str:
        return ERROR_NAMES.get(self.error_code, "UnknownError")


@dataclass(frozen=True)
class Script:
    """What the executor needs of a hook entry (the model's HookScript has these fields)."""

    location: str
    timeout: int = 3600
    runas: Optional[str] = None
    sudo: bool = False


def script_command(script: Any, path: str) -> List[str]:
    """The agent's Linux command line (platform/linux_util.rb)."""
    runas = getattr(script, "runas", None)
    if getattr(script, "sudo", False):
        return ["sudo", "su", runas, "-c", path] if runas else ["sudo", path]
    if runas:
        return ["su", runas, "-c", path]
    return [path]


def hook_environment(base: Mapping[str, str], variables: Mapping[str, Optional[str]]) -> Dict[str, str]:
    env = {k: v for k, v in base.items() if k not in BLANKED_VARIABLES}
    if coerced_lc_ctype(env):  # the interpreter's, not the user's: the agent's scripts never see it
        del env["LC_CTYPE"]
    for key, value in variables.items():
        if value is None:
            env.pop(key, None)  # nil BUNDLE_VERSION / BUNDLE_ETAG are unset, not empty
        else:
            env[key] = value
    return env


def _spawn(argv: List[str], env: Mapping[str, str]) -> subprocess.Popen:
    """The agent's `Open3.popen3(env, command, pgroup: true)`. Like Ruby's spawn, a file the kernel cannot
    execute (ENOEXEC: no `#!` line) is run again as `/bin/sh FILE` (process.c `try_with_sh`)."""
    options: Dict[str, Any] = dict(
        stdin=subprocess.PIPE,  # closed at once by the caller: the agent's `stdin.close`
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
        preexec_fn=os.setpgrp,  # the agent's {:pgroup => true}; works on python3 >= 3.8 hosts
        close_fds=True,
    )
    try:
        return subprocess.Popen(argv, **options)
    except OSError as exc:
        import errno

        if exc.errno != errno.ENOEXEC:
            raise
    return subprocess.Popen(["sh", *argv], executable="/bin/sh", **options)


def _errno_class(exc: OSError) -> str:
    import errno

    name = errno.errorcode.get(exc.errno or 0, "EUNKNOWN")
    return f"Errno::{name}"


class HookExecutor:
    def __init__(
        self,
        archive_dir: str,
        log: ScriptLog,
        env: Mapping[str, str],
        *,
        kill_grace: Optional[float] = None,
        warn: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.archive_dir = archive_dir
        self.log = log
        self.env = dict(env)
        self.kill_grace = kill_grace
        self.warn = warn

    def script_path(self, location: str) -> str:
        # Ruby's File.join(archive, "/x") is "archive/x": a leading slash still resolves inside the archive.
        return os.path.abspath(os.path.join(self.archive_dir, location.lstrip("/")))

    def run_event(self, event: str, scripts: Sequence[Any]) -> None:
        """Run an event's scripts in order; the first failure raises ScriptFailure."""
        if not scripts:
            return
        self.log.reset_tail()
        self.log.record(f"LifecycleEvent - {event}\n")
        env = dict(self.env, LIFECYCLE_EVENT=event)
        for script in scripts:
            path = self.script_path(script.location)
            if not os.path.exists(path):
                self._fail(SCRIPT_MISSING, script, f"Script does not exist at specified location: {path}")
            if not os.access(path, os.X_OK):
                self.warn(
                    f"Script at specified location: {script.location} is not executable.  Trying to make it executable."
                )
                try:
                    mode = os.stat(path).st_mode
                    os.chmod(path, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
                except OSError:
                    self._fail(
                        SCRIPT_EXECUTABILITY,
                        script,
                        f"Unable to set script at specified location: {script.location} as executable",
                    )
            self._execute(script, path, env)

    def _fail(self, code: int, script: Any, message: str) -> None:
        raise ScriptFailure(code, script.location, message, self.log.tail())

    def _describe(self, script: Any) -> str:
        runas = getattr(script, "runas", None)
        where = f"Script at specified location: {script.location}"
        return f"{where} run as user {runas}" if runas else where

    def _execute(self, script: Any, path: str, env: Mapping[str, str]) -> None:
        timeout = int(getattr(script, "timeout", 3600) or 3600)
        self.log.record(f"Script - {script.location}\n")
        deadline = time.monotonic() + timeout
        try:
            process = _spawn(script_command(script, path), env)
        except OSError as exc:
            self._fail(
                SCRIPT_FAILED,
                script,
                f"{self._describe(script)} failed with error {_errno_class(exc)} with message {exc.strerror} - {path}",
            )
            raise  # unreachable; keeps type checkers calm
        assert process.stdin is not None
        process.stdin.close()
        utf8 = agent_locale_is_utf8(self.env)
        pumps = [
            _Pump(process.stdout, b"[stdout]", self.log, utf8),
            _Pump(process.stderr, b"[stderr]", self.log, utf8),
        ]
        if not _exits_by(process, deadline):
            self._terminate_group(process)
            for pump in pumps:
                if pump.broken:  # a reader that stopped keeps its stream open until the script is gone
                    pump.stream.close()
            self._fail(
                SCRIPT_TIMED_OUT, script, f"{self._describe(script)} failed to complete in {timeout} seconds"
            )
        for pump, name in zip(pumps, ("STDOUT", "STDERR")):
            pump.join(max(0.0, deadline - time.monotonic()))
            if pump.is_alive():
                self._fail(OUTPUTS_LEFT_OPEN, script, f"{self._describe(script)} failed to close {name}")
            if pump.broken:  # Ruby's String#strip raised in the agent's reader thread
                pump.stream.close()
                self._fail(
                    SCRIPT_FAILED,
                    script,
                    f"{self._describe(script)} failed with error ArgumentError with message invalid byte "
                    "sequence in UTF-8",
                )
        status = process.returncode
        if status != 0:
            shown = str(status)
            if status < 0:
                shown = f"{128 - status} (terminated by {signal.Signals(-status).name})"
            self._fail(SCRIPT_FAILED, script, f"{self._describe(script)} failed with exit code {shown}")

    def _terminate_group(self, process: subprocess.Popen) -> None:
        """SIGTERM to the group and wait for the script to exit, like the agent (its popen3 block joins
        the child). With a kill grace (ours, opt-in), SIGKILL whatever of the group is left after it, so a
        script that ignores TERM cannot block the deployment."""
        _signal_group(process, signal.SIGTERM)
        if self.kill_grace is None:
            process.wait()
            return
        try:
            process.wait(timeout=self.kill_grace)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(process, signal.SIGKILL)  # the script, or what it left of its group
        try:
            process.wait(timeout=10.0)
        except subprocess.TimeoutExpired:
            pass


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class _Pump(threading.Thread):
    """The agent's reader thread of one output stream: each line into the logs, as printed. Under a UTF-8
    locale, a line whose `strip` raises in Ruby (for the deployments log) ends the thread there: the
    stream stays open but unread, and the script fails once it has exited."""

    def __init__(self, stream: Optional[IO[bytes]], prefix: bytes, log: ScriptLog, utf8: bool) -> None:
        super().__init__(name=f"hook-{prefix.decode()}", daemon=True)
        assert stream is not None
        self.stream, self.prefix, self.log, self.utf8 = stream, prefix, log, utf8
        self.broken = False
        self.start()

    def run(self) -> None:
        for raw in iter(self.stream.readline, b""):
            line = self.prefix + raw
            if self.utf8 and ruby_strip_raises(line):
                self.log.record(line, mirror=False)
                self.broken = True
                return
            self.log.record(line)
        self.stream.close()


def agent_locale_is_utf8(env: Mapping[str, str]) -> bool:
    """Whether the agent's Ruby would read script output as UTF-8: its locale is the first of LC_ALL,
    LC_CTYPE and LANG that is set. A LC_CTYPE that Python's own C-locale coercion (PEP 538) put there
    does not count."""
    lc_all, lc_ctype, lang = (env.get(name, "") for name in ("LC_ALL", "LC_CTYPE", "LANG"))
    value = lc_all or ("" if coerced_lc_ctype(env) else lc_ctype) or lang
    return value.replace("-", "").lower().endswith("utf8") or ".utf8@" in value.replace("-", "").lower()


def coerced_lc_ctype(env: Mapping[str, str]) -> bool:
    """Whether LC_CTYPE is what Python's C-locale coercion (PEP 538) set at start-up, under a C locale."""
    return (
        not env.get("LC_ALL")
        and env.get("LC_CTYPE") in ("C.UTF-8", "C.utf8", "UTF-8")
        and env.get("LANG", "") in ("", "C", "POSIX")
    )


_RUBY_SPACE = b" \t\n\v\f\r\0"


def ruby_strip_raises(line: bytes) -> bool:
    """Whether Ruby's `String#strip` of this UTF-8 string raises "invalid byte sequence": scanning back
    over whitespace and NULs, the first character it meets is not a complete, valid one (string.c
    rstrip_offset; the line starts with `[stdout]`, so lstrip never raises)."""
    end = len(line.rstrip(_RUBY_SPACE))
    if end == 0:
        return False
    head = end - 1
    while head > 0 and 0x80 <= line[head] <= 0xBF:  # onigmo's left_adjust_char_head for UTF-8
        head -= 1
    lead = line[head]
    size = (
        1
        if lead < 0x80
        else 2
        if 0xC2 <= lead <= 0xDF
        else 3
        if 0xE0 <= lead <= 0xEF
        else 4
        if 0xF0 <= lead <= 0xF4
        else 0
    )
    if size == 0:
        return True
    try:
        line[head : head + size].decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _exits_by(process: subprocess.Popen, deadline: float) -> bool:
    """Whether the script exits before the deadline (monotonic). A blocking wait in a thread notices the
    exit at once, where `Popen.wait(timeout)` polls and is up to 50 ms late for every script."""
    exited = threading.Event()

    def reap() -> None:
        process.wait()
        exited.set()

    threading.Thread(target=reap, name="hook-wait", daemon=True).start()
    return exited.wait(max(0.0, deadline - time.monotonic()))
