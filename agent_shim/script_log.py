"""The agent's hook logs: `<deployment>/logs/scripts.log` and the root's deployments log.

Formats, exactly as the agent writes them (AGENT-FACTS §3):
    2026-02-19 10:00:00 LifecycleEvent - AfterInstall
    2026-02-19 10:00:00 Script - scripts/after_install.sh
    2026-02-19 10:00:01 [stdout]installing deps
and in `deployment-logs/codedeploy-agent-deployments.log`:
    [2026-02-19 10:00:01.123] [d-ABCDEFGHI]LifecycleEvent - AfterInstall
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from typing import Deque, Optional, Union

LOG_TAIL_CHARS = 2048


def _stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())


def _precise_stamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1000):03d}"


class ScriptLog:
    """Appends records to scripts.log (created on the first record) and mirrors them to the
    deployments log. Keeps the most recent records for the event's diagnostic log tail."""

    def __init__(self, scripts_log: str, deployments_log: Optional[str], deployment_id: str) -> None:
        self.scripts_log = scripts_log
        self.deployments_log = deployments_log
        self.deployment_id = deployment_id
        self._lock = threading.Lock()
        self._recent: Deque[str] = deque()
        self._recent_chars = 0

    def record(self, message: Union[str, bytes], mirror: bool = True) -> None:
        """One record, written as the agent writes it: no newline is added, so header messages carry
        their own and a script's last line without one stays without one. A script's output is bytes,
        written as printed (invalid UTF-8 included); the diagnostic tail is text."""
        raw = message if isinstance(message, bytes) else message.encode("utf-8", errors="surrogateescape")
        text = raw.decode("utf-8", errors="replace")
        with self._lock:
            os.makedirs(os.path.dirname(self.scripts_log), exist_ok=True)
            with open(self.scripts_log, "ab") as handle:
                handle.write(_stamp().encode() + b" " + raw)
            if self.deployments_log and mirror:
                os.makedirs(os.path.dirname(self.deployments_log), exist_ok=True)
                with open(self.deployments_log, "ab") as handle:
                    stamp = f"[{_precise_stamp()}] [{self.deployment_id}]".encode()
                    handle.write(stamp + raw.strip() + b"\n")
            self._recent.append(text)  # the agent's diagnostic tail holds messages without stamps
            self._recent_chars += len(text)
            while self._recent_chars >= LOG_TAIL_CHARS and len(self._recent) > 1:
                self._recent_chars -= len(self._recent.popleft())

    def reset_tail(self) -> None:
        with self._lock:
            self._recent.clear()
            self._recent_chars = 0

    def tail(self) -> str:
        """The most recent messages, under 2048 characters in all: the agent's diagnostic `log`."""
        with self._lock:
            return "".join(self._recent)
