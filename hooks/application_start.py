#!/usr/bin/env python3
"""ApplicationStart: start the application and return once it listens on APP_PORT.

With systemd running and APP_SYSTEMD_UNIT set: `systemctl start UNIT`. Otherwise APP_START_COMMAND runs as
a daemon: new session, cwd APP_DIR, stdin from /dev/null, stdout and stderr appended to APP_LOG_FILE, so the
agent never waits on streams it holds; its pid goes to APP_PIDFILE and it gets the variables of APP_ENV_FILE.
Fails with the app's last log lines when it exits early or does not listen within APP_START_TIMEOUT.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from typing import List

import hookkit

USES = (
    "APP_DIR",
    "APP_HOST",
    "APP_PORT",
    "APP_SYSTEMD_UNIT",
    "APP_START_COMMAND",
    "APP_PIDFILE",
    "APP_LOG_FILE",
    "APP_LOG_TAIL",
    "APP_ENV_FILE",
    "APP_START_TIMEOUT",
    "APP_STOP_TIMEOUT",
)


def main(config: hookkit.Config, log: hookkit.HookLog) -> None:
    host = config.get("APP_HOST") or "127.0.0.1"
    port = config.port("APP_PORT")
    timeout = config.number("APP_START_TIMEOUT", minimum=0.1)
    unit = hookkit.systemd_unit(config, log)
    if unit:
        start_unit(unit, host, port, timeout, log)
        return
    argv = start_command(config)
    app_dir = config.app_dir()
    pidfile = hookkit.PidFile(config.path("APP_PIDFILE") or "")
    pid = pidfile.owned_pid(log)
    if pid is not None:
        log.step(f"already running as pid {pid} (from {pidfile.path})")
        wait_listening_pid(pid, host, port, timeout, log)
        log.step(f"already running and listening on {host}:{port} with the same pid {pid}: nothing to do")
        return
    if hookkit.port_listening(host, port):
        raise hookkit.AppError(
            f"port {host}:{port} is already in use by a process not recorded in {pidfile.path}; "
            "stop it (or fix APP_PORT)"
        )
    if not os.path.isdir(app_dir):
        raise hookkit.ConfigError(f"APP_DIR={app_dir} does not exist; was the revision installed there?")
    log_file = config.path("APP_LOG_FILE") or ""
    env = dict(os.environ)
    env_file = config.path("APP_ENV_FILE")
    if env_file and os.path.isfile(env_file):
        env.update(hookkit.read_env_file(env_file))
        log.step(f"loaded environment from {env_file}")
    process, offset = spawn(argv, app_dir, env, log_file, log)
    pidfile.write(process.pid)
    log.step(f"started pid {process.pid}: {shlex.join(argv)} (log {log_file}, pidfile {pidfile.path})")
    deadline = time.monotonic() + timeout
    tail_lines = config.integer("APP_LOG_TAIL")
    while not hookkit.port_listening(host, port, timeout=0.5):
        code = process.poll()
        if code is not None:
            pidfile.remove()
            raise hookkit.AppError(
                f"the app exited with code {code} before listening on {host}:{port}"
                + tail(log_file, offset, tail_lines)
            )
        if time.monotonic() >= deadline:
            hookkit.stop_process(process.pid, config.number("APP_STOP_TIMEOUT"), log)
            process.wait()
            pidfile.remove()
            raise hookkit.AppError(
                f"the app did not listen on {host}:{port} within APP_START_TIMEOUT={timeout:g}s; stopped it"
                + tail(log_file, offset, tail_lines)
            )
        time.sleep(0.05)
    log.step(
        f"pid {process.pid} listening on {host}:{port} after {timeout - (deadline - time.monotonic()):.1f}s"
    )


def start_command(config: hookkit.Config) -> List[str]:
    command = config.require("APP_START_COMMAND", "set it to the command that runs the app in the foreground")
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise hookkit.ConfigError(f"APP_START_COMMAND={command!r}: {exc}; fix its quoting") from None
    if not argv:
        raise hookkit.ConfigError("APP_START_COMMAND is empty; set it to the command that runs the app")
    return argv


def spawn(argv: List[str], cwd: str, env: dict, log_file: str, log: hookkit.HookLog):
    """Start argv detached from the hook's streams and process group; return (process, log offset)."""
    os.makedirs(os.path.dirname(log_file), exist_ok=True)
    with open(log_file, "ab") as handle:
        offset = handle.tell()
        try:
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        except FileNotFoundError:
            raise hookkit.ConfigError(
                f"APP_START_COMMAND: program {argv[0]!r} not found; use an absolute path"
            ) from None
        except PermissionError:
            raise hookkit.ConfigError(
                f"APP_START_COMMAND: {argv[0]!r} is not executable; chmod +x it"
            ) from None
    return process, offset


def tail(log_file: str, offset: int, lines: int) -> str:
    text = hookkit.log_tail(log_file, offset, lines)
    if not text:
        return f"; {log_file} is empty"
    return "; last lines of {}:\n{}".format(log_file, "\n".join("  | " + line for line in text))


def wait_listening_pid(pid: int, host: str, port: int, timeout: float, log: hookkit.HookLog) -> None:
    deadline = time.monotonic() + timeout
    while not hookkit.port_listening(host, port):
        if not hookkit.process_alive(pid):
            raise hookkit.AppError(
                f"pid {pid} exited before listening on {host}:{port}; run application_start again"
            )
        if time.monotonic() >= deadline:
            raise hookkit.AppError(
                f"pid {pid} is running but not listening on {host}:{port} after {timeout:g}s; "
                "stop it or fix APP_PORT"
            )
        time.sleep(0.05)


def start_unit(unit: str, host: str, port: int, timeout: float, log: hookkit.HookLog) -> None:
    log.step(f"systemctl start {unit}")
    result = hookkit.systemctl("start", unit, timeout=timeout + 30)
    if result.returncode != 0:
        raise hookkit.AppError(
            f"systemctl start {unit} failed ({result.returncode}): {result.stdout.strip()}; "
            f"see journalctl -u {unit}"
        )
    deadline = time.monotonic() + timeout
    while not hookkit.port_listening(host, port):
        state = hookkit.systemctl("is-active", unit).stdout.strip()
        if state in ("failed", "inactive"):
            raise hookkit.AppError(
                f"unit {unit} is {state} before listening on {host}:{port}; see journalctl -u {unit}"
            )
        if time.monotonic() >= deadline:
            raise hookkit.AppError(f"unit {unit} did not listen on {host}:{port} within {timeout:g}s")
        time.sleep(0.2)
    log.step(f"unit {unit} listening on {host}:{port}")


if __name__ == "__main__":
    hookkit.run(__file__, __doc__, USES, main)
