"""What every load-balancer kind shares: its one error, and waiting for a state with a deadline."""

from __future__ import annotations

import time
from typing import Callable, Tuple


class LoadBalancerError(Exception):
    """A load balancer refused or did not answer; its text is the one-line reason a traffic step gives."""


def until(timeout: float, poll: float, check: Callable[[], Tuple[bool, str]]) -> Tuple[bool, str]:
    """Poll `check` until it reports done or `timeout` passes; (done, last detail)."""
    deadline = time.monotonic() + timeout
    while True:
        done, detail = check()
        if done or time.monotonic() >= deadline:
            return done, detail
        time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
