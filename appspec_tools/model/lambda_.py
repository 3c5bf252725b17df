"""The AWS Lambda AppSpec: the function whose alias shifts traffic between two versions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Tuple

from appspec_tools.model.hooks import HookFunction
from appspec_tools.model.values import freeze_lists

LAMBDA_FUNCTION_TYPE = "AWS::Lambda::Function"


@dataclass(frozen=True)
class LambdaFunction:
    """The `Resources` entry: a logical name → `{Type: AWS::Lambda::Function, Properties: ...}`.
    Versions are kept as strings, the way the service reads them."""

    logical_name: str
    name: str
    alias: str
    current_version: str
    target_version: str


@dataclass(frozen=True)
class LambdaAppSpec:
    """An AWS Lambda AppSpec. ``hooks`` are (event, Lambda function) pairs in the order written."""

    platform: ClassVar[str] = "lambda"

    function: LambdaFunction
    hooks: Tuple[HookFunction, ...] = ()
    version: str = "0.0"

    def __post_init__(self) -> None:
        freeze_lists(self, "hooks")
