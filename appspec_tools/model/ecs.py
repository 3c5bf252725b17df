"""The Amazon ECS AppSpec: the service to update with a new task set, and its hook functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional, Tuple

from appspec_tools.model.hooks import HookFunction
from appspec_tools.model.values import freeze_lists

ECS_SERVICE_TYPE = "AWS::ECS::Service"


@dataclass(frozen=True)
class AwsvpcConfiguration:
    """`NetworkConfiguration.AwsvpcConfiguration` of the replacement task set (all three or none)."""

    subnets: Tuple[str, ...] = ()
    security_groups: Tuple[str, ...] = ()
    assign_public_ip: Optional[str] = None

    def __post_init__(self) -> None:
        freeze_lists(self, "subnets", "security_groups")


@dataclass(frozen=True)
class CapacityProviderStrategyItem:
    """One `CapacityProviderStrategy` entry; `Base` and `Weight` default to 0."""

    capacity_provider: str
    base: int = 0
    weight: int = 0


@dataclass(frozen=True)
class TargetService:
    """`Resources[0].TargetService` (type AWS::ECS::Service) and its properties."""

    task_definition: str
    container_name: str
    container_port: int
    platform_version: Optional[str] = None
    network: Optional[AwsvpcConfiguration] = None
    capacity_provider_strategy: Tuple[CapacityProviderStrategyItem, ...] = ()

    def __post_init__(self) -> None:
        freeze_lists(self, "capacity_provider_strategy")


@dataclass(frozen=True)
class EcsAppSpec:
    """An Amazon ECS AppSpec. ``hooks`` are (event, Lambda function) pairs in the order written."""

    platform: ClassVar[str] = "ecs"

    target_service: TargetService
    hooks: Tuple[HookFunction, ...] = ()
    version: str = "0.0"

    def __post_init__(self) -> None:
        freeze_lists(self, "hooks")
