"""A one-line progress display for long steps (bundling, S3 transfers), drawn only on a terminal.

One carriage-return line on stderr, redrawn at most every REDRAW seconds and cleared at the end, so it
never mixes with the output and leaves nothing in a log: a stream that is not a terminal, or `--quiet`,
gets nothing at all. No library: a line of text does not need one, and lint start-up stays untouched.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional, TextIO

REDRAW = 0.1  # seconds between two drawings; the first is at once


def human_size(size: float) -> str:
    if size < 1024:
        return f"{int(size)} bytes"
    for power, unit in ((3, "GiB"), (2, "MiB"), (1, "KiB")):
        if size >= 1024**power:
            return f"{size / 1024**power:.1f} {unit}"
    return f"{int(size)} bytes"


class Progress:
    """No display: what a stream that is not a terminal gets. Also the interface of TerminalProgress."""

    def advance(self, amount: int = 1) -> None:
        """Count `amount` more units done (a boto3 transfer Callback has this shape)."""

    def close(self) -> None:
        """Clear the line."""

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


NO_PROGRESS = Progress()


class TerminalProgress(Progress):
    """`LABEL: DONE/TOTAL UNIT  PCT%`, redrawn in place; thread-safe (S3 parts upload in threads)."""

    def __init__(
        self,
        stream: TextIO,
        label: str,
        total: int,
        unit: str = "bytes",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream, self.label, self.total, self.unit, self.clock = stream, label, total, unit, clock
        self.done = 0
        self._drawn_at = float("-inf")
        self._width = 0
        self._lock = threading.Lock()

    def advance(self, amount: int = 1) -> None:
        with self._lock:
            self.done += amount
            now = self.clock()
            if now - self._drawn_at >= REDRAW:
                self._drawn_at = now
                self._draw(self.line())

    def line(self) -> str:
        if self.unit == "bytes":
            counted = f"{human_size(self.done)} of {human_size(self.total)}"
        else:
            counted = f"{self.done}/{self.total} {self.unit}"
        percent = 100 * self.done // self.total if self.total else 100
        return f"{self.label}: {counted} {min(percent, 100)}%"

    def close(self) -> None:
        with self._lock:
            if self._width:
                self._draw("")

    def _draw(self, text: str) -> None:
        self.stream.write("\r" + text.ljust(self._width) + ("\r" if not text else ""))
        self.stream.flush()
        self._width = len(text)


def progress_on(stream: Optional[TextIO], label: str, total: int, unit: str = "bytes") -> Progress:
    """A display on `stream` when it is a terminal (None: the caller was told --quiet), else none."""
    if stream is None or not (hasattr(stream, "isatty") and stream.isatty()):
        return NO_PROGRESS
    return TerminalProgress(stream, label, total, unit)
