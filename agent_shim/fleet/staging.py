"""Hosts made ready ahead of their turn: while a batch deploys, the next hosts in the deployment order get
their SSH connection opened and the runner and revision uploaded, in the SSH slots the rolling window
leaves free. A host's lifecycle still starts only at its turn; staging only moves the transport work
off the critical path. A staging that failed is retried at the host's turn (the host may be back)."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence

from agent_shim.fleet.contracts import HostSpec, HostTransport


@dataclass
class StagedHost:
    transport: HostTransport
    runner_path: str  # the runner zipapp on the host
    bundle_path: str  # the revision archive on the host


Stager = Callable[[HostSpec], StagedHost]


def stage_host(transport: HostTransport, runner: object, archive: str, checksum: str) -> StagedHost:
    """Upload the runner and the revision unless the host has them (same checksum); raises on failure,
    closing the connection."""
    try:
        runner_path, bundle_path = transport.prepare(
            getattr(runner, "path", ""), getattr(runner, "checksum", ""), archive, checksum
        )
        return StagedHost(transport, runner_path, bundle_path)
    except BaseException:
        transport.close()
        raise


class Staging:
    """At most `slots` hosts staged or being staged at a time, in `order`; `take` hands a host's staging
    to its deployment (waiting for one in progress) or stages it then and there."""

    def __init__(self, stage: Stager, order: Sequence[HostSpec], slots: int) -> None:
        self.stage = stage
        self.slots = max(0, slots)
        self.waiting: Dict[str, HostSpec] = {spec.name: spec for spec in order}  # in order
        self.ahead: Dict[str, Future] = {}
        self.lock = threading.Lock()
        self.pool: Optional[ThreadPoolExecutor] = (
            ThreadPoolExecutor(max_workers=self.slots, thread_name_prefix="staging") if self.slots else None
        )
        self.closed = False

    def begin(self, skip: int) -> None:
        """Start staging, leaving out the first `skip` hosts of the order (they start at once anyway)."""
        with self.lock:
            for name in list(self.waiting)[:skip]:
                del self.waiting[name]
            self._refill()

    def take(self, spec: HostSpec) -> StagedHost:
        with self.lock:
            future = self.ahead.pop(spec.name, None)
            self.waiting.pop(spec.name, None)
            self._refill()
        if future is not None:
            try:
                return future.result()
            except Exception:  # noqa: BLE001 - staged too early or the host was down: try again now
                pass
        return self.stage(spec)

    def close(self) -> None:
        """Stage nothing more; close the connections of hosts staged but never taken."""
        with self.lock:
            self.closed = True
            self.waiting = {}
            left = list(self.ahead.values())
            self.ahead.clear()
        for future in left:
            if not future.cancel():  # running or done: its connection is closed once it has one
                future.add_done_callback(_close_staged)
        if self.pool is not None:
            self.pool.shutdown(wait=False)

    def _refill(self) -> None:
        while not self.closed and self.pool is not None and self.waiting and len(self.ahead) < self.slots:
            spec = self.waiting.pop(next(iter(self.waiting)))
            self.ahead[spec.name] = self.pool.submit(self.stage, spec)


def _close_staged(future: Future) -> None:
    if future.exception() is None:
        future.result().transport.close()
