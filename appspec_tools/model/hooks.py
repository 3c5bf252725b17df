"""Hooks in CodeDeploy's vocabulary: scripts for EC2/On-Premises, Lambda functions for ECS and Lambda."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Optional, Tuple, Union

from appspec_tools.lifecycle import DEFAULT_SCRIPT_TIMEOUT


@dataclass(frozen=True)
class HookScript:
    """One entry under a lifecycle event: a script in the revision, run by the agent."""

    location: str
    timeout: int = DEFAULT_SCRIPT_TIMEOUT
    runas: Optional[str] = None
    sudo: bool = False


@dataclass(frozen=True)
class HookFunction:
    """An ECS or Lambda hook: the Lambda function CodeDeploy invokes at a lifecycle event."""

    event: str
    function: str


class LifecycleHooks(Mapping[str, Tuple[HookScript, ...]]):
    """The EC2/On-Premises `hooks` section: lifecycle event name → scripts, in source order.

    Immutable and hashable so that an `AppSpec` is a value; equal to any mapping with the same
    events and scripts (the agent runs events in lifecycle order, not in the order written).
    """

    __slots__ = ("_events",)

    def __init__(
        self,
        events: Union[Mapping[str, Iterable[HookScript]], Iterable[Tuple[str, Iterable[HookScript]]]] = (),
    ) -> None:
        pairs = events.items() if isinstance(events, Mapping) else events
        merged: dict = {}
        for event, scripts in pairs:
            merged[event] = tuple(scripts)
        self._events = merged

    def __getitem__(self, event: str) -> Tuple[HookScript, ...]:
        return self._events[event]

    def __iter__(self) -> Iterator[str]:
        return iter(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def __hash__(self) -> int:
        return hash(frozenset(self._events.items()))

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, Mapping):
            return self._events == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return f"LifecycleHooks({self._events!r})"
