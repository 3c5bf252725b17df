"""Which hosts take traffic, as the controller left them: one record per host of a group, written before
and after every load-balancer call (BlockTraffic, AllowTraffic, a blue/green withdrawal), so that after
any interruption (Ctrl-C, a killed controller, a failed step) the history says which hosts serve.

A host's record is `in` (the load balancer routes to it), `out` (drained, deregistered, or failing the
load balancer's check) or `changing` (a call was in flight when its deployment ended: ask the load
balancer). Hosts without a record were never touched by this controller and count as serving.
`left_out` lists the hosts that should serve but do not, with the command that puts each back.
Everything here decides; the history stores, the controller and the commands call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

IN, OUT, CHANGING = "in", "out", "changing"


@dataclass(frozen=True)
class TrafficRecord:
    host: str
    state: str  # in, out, changing
    deployment_id: str  # the deployment that made the last call
    event: str  # BlockTraffic or AllowTraffic
    since: float
    reason: str = ""  # why a call failed, when it did

    def serving(self) -> bool:
        return self.state == IN


@dataclass(frozen=True)
class LeftOut:
    """A host that should take traffic and does not (or may not), as one line and a fix."""

    host: str
    record: TrafficRecord
    expected: bool  # True: it should serve and does not; False: it serves and should not (blue/green)

    def describe(self, group_file: str) -> str:
        r = self.record
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.since))
        because = f" ({r.reason})" if r.reason else ""
        if not self.expected:
            return (
                f"{self.host} still takes traffic since {r.event} of {r.deployment_id} ({when}) though it is "
                f"not in the serving set; `appspec fleet rollback --group {group_file}` puts traffic back "
                "on the serving set"
            )
        if r.state == CHANGING:
            return (
                f"{self.host}: its {r.event} of {r.deployment_id} ({when}) never finished: the load balancer may "
                f"or may not route to it; `appspec fleet sync {self.host} --group {group_file}` puts it back"
            )
        return (
            f"{self.host} is out of the load balancer since {r.event} of {r.deployment_id} ({when}){because}; "
            f"`appspec fleet sync {self.host} --group {group_file}` puts it back"
        )


def not_serving(records: Dict[str, TrafficRecord], hosts: Sequence[str]) -> List[str]:
    """The hosts among `hosts` that the load balancer does not route to, as far as the history knows."""
    return [h for h in hosts if h in records and not records[h].serving()]


def left_out(
    records: Dict[str, TrafficRecord], serving_set: Sequence[str], idle_set: Sequence[str] = ()
) -> List[LeftOut]:
    """Hosts of the serving set out of the load balancer (or in an unknown state), then hosts of a
    blue/green idle set that still take traffic."""
    found = [LeftOut(h, records[h], True) for h in not_serving(records, serving_set)]
    found += [LeftOut(h, records[h], False) for h in idle_set if h in records and records[h].state != OUT]
    return found


def summary(records: Dict[str, TrafficRecord], hosts: Sequence[str]) -> Dict[str, Optional[str]]:
    """host → in / out / changing, or None when this controller never touched its traffic."""
    return {h: records[h].state if h in records else None for h in hosts}
