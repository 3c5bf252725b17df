"""The typed AppSpec model for the three compute platforms, and its text form.

`load` lints a document and builds the model (raising `AppSpecError` on errors); `dump` writes the
canonical AppSpec back, so that ``load(dump(spec)) == spec``. The classes are frozen dataclasses:
values with equality, named in CodeDeploy's vocabulary.
"""

from appspec_tools.model.codec import AppSpecError, dump, load, to_data
from appspec_tools.model.ec2 import DEFAULT_PERMISSION_TYPES, AppSpec, FileMapping, Permission, SeLinuxContext
from appspec_tools.model.ecs import (
    AwsvpcConfiguration,
    CapacityProviderStrategyItem,
    EcsAppSpec,
    TargetService,
)
from appspec_tools.model.hooks import HookFunction, HookScript, LifecycleHooks
from appspec_tools.model.lambda_ import LambdaAppSpec, LambdaFunction

__all__ = [
    "DEFAULT_PERMISSION_TYPES",
    "AppSpec",
    "AppSpecError",
    "AwsvpcConfiguration",
    "CapacityProviderStrategyItem",
    "EcsAppSpec",
    "FileMapping",
    "HookFunction",
    "HookScript",
    "LambdaAppSpec",
    "LambdaFunction",
    "LifecycleHooks",
    "Permission",
    "SeLinuxContext",
    "TargetService",
    "dump",
    "load",
    "to_data",
]
