"""Following a CodeDeploy deployment: the API's answers as plain values, and the polling loop.

Each poll is GetDeployment, then (once the deployment has targets) ListDeploymentTargets and
BatchGetDeploymentTargets, whose lifecycle events carry the diagnostics CodeDeploy keeps for a failed
script: its name, the error code, the message and the tail of its log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Dict, List, Optional, Tuple

TERMINAL = ("Succeeded", "Failed", "Stopped")
_NO_TARGETS_YET = ("Created", "Queued")
_TARGET_KINDS = ("instanceTarget", "ecsTarget", "lambdaTarget", "cloudFormationTarget")
DEFAULT_POLL_INTERVAL = 5.0  # seconds between polls while following
BATCH_SIZE = 25  # BatchGetDeploymentTargets takes at most 25 ids


@dataclass(frozen=True)
class LifecycleEvent:
    name: str
    status: str  # Pending, InProgress, Succeeded, Failed, Skipped, Unknown
    start: Optional[datetime] = None
    end: Optional[datetime] = None
    error_code: Optional[str] = None  # ScriptMissing, ScriptNotExecutable, ScriptTimedOut, ScriptFailed...
    script_name: Optional[str] = None
    message: Optional[str] = None
    log_tail: Optional[str] = None

    def seconds(self, now: Optional[datetime] = None) -> Optional[float]:
        """How long it took, or has taken so far when `now` is given."""
        if self.start is None:
            return None
        end = self.end or now
        return (end - self.start).total_seconds() if end is not None else None


@dataclass(frozen=True)
class Target:
    target_id: str
    kind: str  # InstanceTarget, ECSTarget, LambdaTarget, CloudFormationTarget
    status: str  # Pending, InProgress, Succeeded, Failed, Skipped, Unknown, Ready
    events: Tuple[LifecycleEvent, ...] = ()
    label: Optional[str] = None  # Blue or Green in a blue/green deployment

    @property
    def current(self) -> Optional[LifecycleEvent]:
        return next((event for event in self.events if event.status == "InProgress"), None)

    @property
    def failed_events(self) -> List[LifecycleEvent]:
        return [event for event in self.events if event.status == "Failed"]

    def seconds(self, now: Optional[datetime] = None) -> Optional[float]:
        starts = [event.start for event in self.events if event.start is not None]
        ends = [event.end or now for event in self.events if event.start is not None]
        if not starts or any(end is None for end in ends):
            return None
        return (max(end for end in ends if end is not None) - min(starts)).total_seconds()


@dataclass(frozen=True)
class DeploymentState:
    deployment_id: str
    status: str  # Created, Queued, InProgress, Baking, Ready, Succeeded, Failed, Stopped
    application: str = ""
    group: str = ""
    config: str = ""
    error_code: Optional[str] = None  # e.g. HEALTH_CONSTRAINTS
    error_message: Optional[str] = None
    overview: Dict[str, int] = field(default_factory=dict)
    create_time: Optional[datetime] = None
    complete_time: Optional[datetime] = None
    rollback_deployment_id: Optional[str] = None
    rollback_message: Optional[str] = None
    targets: Tuple[Target, ...] = ()

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    @property
    def succeeded(self) -> bool:
        return self.status == "Succeeded"

    def seconds(self, now: Optional[datetime] = None) -> Optional[float]:
        end = self.complete_time or now
        if self.create_time is None or end is None:
            return None
        return (end - self.create_time).total_seconds()


def _event(raw: Dict[str, Any]) -> LifecycleEvent:
    diagnostics = raw.get("diagnostics") or {}
    return LifecycleEvent(
        name=raw.get("lifecycleEventName", "?"),
        status=raw.get("status", "Unknown"),
        start=raw.get("startTime"),
        end=raw.get("endTime"),
        error_code=diagnostics.get("errorCode"),
        script_name=diagnostics.get("scriptName"),
        message=diagnostics.get("message"),
        log_tail=diagnostics.get("logTail"),
    )


def target_from(raw: Dict[str, Any]) -> Optional[Target]:
    """One entry of BatchGetDeploymentTargets' `deploymentTargets`."""
    for key in _TARGET_KINDS:
        body = raw.get(key)
        if body:
            return Target(
                target_id=body.get("targetId", "?"),
                kind=raw.get("deploymentTargetType") or key[0].upper() + key[1:],
                status=body.get("status", "Unknown"),
                events=tuple(_event(event) for event in body.get("lifecycleEvents") or ()),
                label=body.get("instanceLabel"),
            )
    return None


def deployment_from(info: Dict[str, Any], targets: Tuple[Target, ...] = ()) -> DeploymentState:
    """GetDeployment's `deploymentInfo` with the targets fetched beside it."""
    error = info.get("errorInformation") or {}
    rollback = info.get("rollbackInfo") or {}
    return DeploymentState(
        deployment_id=info.get("deploymentId", "?"),
        status=info.get("status", "Unknown"),
        application=info.get("applicationName", ""),
        group=info.get("deploymentGroupName", ""),
        config=info.get("deploymentConfigName", ""),
        error_code=error.get("code"),
        error_message=error.get("message"),
        overview=dict(info.get("deploymentOverview") or {}),
        create_time=info.get("createTime"),
        complete_time=info.get("completeTime"),
        rollback_deployment_id=rollback.get("rollbackDeploymentId"),
        rollback_message=rollback.get("rollbackMessage"),
        targets=targets,
    )


def fetch_targets(codedeploy: Any, deployment_id: str) -> Tuple[Target, ...]:
    ids: List[str] = []
    token: Optional[str] = None
    while True:
        page = codedeploy.list_deployment_targets(
            deploymentId=deployment_id, **({"nextToken": token} if token else {})
        )
        ids += page.get("targetIds") or []
        token = page.get("nextToken")
        if not token:
            break
    targets: List[Target] = []
    for start in range(0, len(ids), BATCH_SIZE):
        answer = codedeploy.batch_get_deployment_targets(
            deploymentId=deployment_id, targetIds=ids[start : start + BATCH_SIZE]
        )
        found = (target_from(raw) for raw in answer.get("deploymentTargets") or ())
        targets += [target for target in found if target is not None]
    return tuple(sorted(targets, key=lambda target: target.target_id))


def poll(codedeploy: Any, deployment_id: str) -> DeploymentState:
    info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    if info.get("status") in _NO_TARGETS_YET:
        return deployment_from(info)
    return deployment_from(info, fetch_targets(codedeploy, deployment_id))


def follow(
    codedeploy: Any,
    deployment_id: str,
    on_update: Callable[[DeploymentState], None],
    interval: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> DeploymentState:
    """Poll until the deployment ends, handing every state to `on_update`; returns the final state.
    KeyboardInterrupt is left to the caller, which knows whether to offer stopping the deployment."""
    while True:
        state = poll(codedeploy, deployment_id)
        on_update(state)
        if state.finished:
            return state
        sleep(interval)
