"""A dead SSH peer, noticed in bounded time: OpenSSH's ServerAliveInterval / ServerAliveCountMax.

Every `interval` seconds the controller asks the host's sshd a `keepalive@openssh.com` global request
that wants a reply (sshd answers it at once, whatever the runner is doing). A host that answers nothing
for `interval × count_max` seconds (a cable pulled, a network link down, a frozen machine: cases where
TCP alone would wait for many minutes) is declared dead: the connection is closed under every thread
that uses it, and `reason` says so in one line. Between the first missed answer and the verdict, the
`on_silence` callback tells the live view which host is waiting and for how long.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional

SilenceListener = Callable[[str], None]  # "" when the host answers again


class Liveness:
    """Watches one paramiko Transport from two daemon threads (one asks, one watches the clock)."""

    def __init__(
        self,
        transport: Any,
        interval: float,
        count_max: int,
        on_silence: Optional[SilenceListener] = None,
    ) -> None:
        self.transport = transport
        self.interval = interval
        self.count_max = count_max
        self.on_silence = on_silence
        self.reason: Optional[str] = None  # set when the peer is declared dead
        self._answered = time.monotonic()
        self._silent_told = False
        self._stop = threading.Event()
        for target, name in ((self._ask, "ssh-alive-ask"), (self._watch, "ssh-alive-watch")):
            threading.Thread(target=target, name=name, daemon=True).start()

    @property
    def limit(self) -> float:
        return self.interval * self.count_max

    def stop(self) -> None:
        self._stop.set()

    def _ask(self) -> None:
        while not self._stop.is_set() and self.transport.is_active():
            try:  # blocks until sshd answers (REQUEST_FAILURE is an answer) or the transport closes
                self.transport.global_request("keepalive@openssh.com", wait=True)
            except Exception:  # noqa: BLE001 - a closing transport: the watcher decides
                return
            if not self.transport.is_active():
                return
            self._answered = time.monotonic()
            self._stop.wait(self.interval)

    def _watch(self) -> None:
        while not self._stop.wait(min(1.0, self.interval / 2)):
            if not self.transport.is_active():
                return
            silent = time.monotonic() - self._answered
            if silent >= self.limit:
                self.reason = (  # the configured bound, not the polled clock: the same words on every run
                    f"no answer over SSH for {self.limit:g}s (ssh.server_alive_interval {self.interval:g}s × "
                    f"server_alive_count_max {self.count_max}); the host or its network is down"
                )
                try:
                    self.transport.close()  # unblocks every channel read, upload and command on it
                except Exception:  # noqa: BLE001 - closing a dead connection
                    pass
                return
            if silent > self.interval + min(self.interval, 1.0) and not self._silent_told:
                self._silent_told = True
                self._tell(
                    f"no answer over SSH for {silent:.0f}s; failing the host at {self.limit:g}s of silence"
                )
            elif silent <= self.interval and self._silent_told:
                self._silent_told = False
                self._tell("")

    def _tell(self, text: str) -> None:
        if self.on_silence is not None:
            try:
                self.on_silence(text)
            except Exception:  # noqa: BLE001 - the view is best effort
                pass
