#!/usr/bin/env python3
"""ApplicationStop: stop the application gracefully.

With systemd running and APP_SYSTEMD_UNIT set: `systemctl stop UNIT`. Otherwise the pid in APP_PIDFILE gets
SIGTERM, APP_STOP_TIMEOUT seconds to exit, then SIGKILL. Nothing running (first deployment, already stopped,
stale pidfile) is success. Remember: the agent runs the ApplicationStop script of the previous revision.
"""

from __future__ import annotations

import hookkit

USES = ("APP_DIR", "APP_SYSTEMD_UNIT", "APP_PIDFILE", "APP_STOP_TIMEOUT")


def main(config: hookkit.Config, log: hookkit.HookLog) -> None:
    unit = hookkit.systemd_unit(config, log)
    if unit:
        stop_unit(unit, log)
        return
    grace = config.number("APP_STOP_TIMEOUT", minimum=0)
    pidfile = hookkit.PidFile(config.path("APP_PIDFILE") or "")
    pid = pidfile.owned_pid(log)
    if pid is None:
        log.step(f"nothing to stop: no running process recorded in {pidfile.path}")
    else:
        hookkit.stop_process(pid, grace, log)
    pidfile.remove()


def stop_unit(unit: str, log: hookkit.HookLog) -> None:
    state = hookkit.systemctl("is-active", unit).stdout.strip()
    if state in ("inactive", "failed", "unknown"):
        log.step(f"unit {unit} is {state}: nothing to stop")
        return
    log.step(f"systemctl stop {unit} (was {state})")
    result = hookkit.systemctl("stop", unit)
    if result.returncode == 5:  # "Unit ... not loaded": nothing installed yet
        log.step(f"unit {unit} is not loaded: nothing to stop")
        return
    if result.returncode != 0:
        raise hookkit.AppError(f"systemctl stop {unit} failed ({result.returncode}): {result.stdout.strip()}")
    log.step(f"unit {unit} stopped")


if __name__ == "__main__":
    hookkit.run(__file__, __doc__, USES, main)
