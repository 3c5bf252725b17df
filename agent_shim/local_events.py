"""codedeploy-local's own checks of the lifecycle events of a deployment (deployer.rb and
command_executor.rb validate_app_spec_hooks), which the service's agent does not make: a one-host
deployment has them, a step of a fleet deployment does not."""

from __future__ import annotations

import json
import os
from typing import Any, Optional, Sequence

from agent_shim.plan import LOCAL_ORDER
from appspec_tools.lifecycle import EC2_ORDER, EC2_SCRIPTABLE


def lifecycle_events_problem(spec: Any, events: Optional[Sequence[str]], appspec_path: str) -> str:
    """The agent's message when Install refuses the AppSpec, or "": every hook of the AppSpec must be a
    lifecycle event of this deployment (the defaults and `--events`), and every custom `--events` name a
    hook of the AppSpec."""
    possible = list(LOCAL_ORDER) + [e for e in events or () if e not in LOCAL_ORDER]
    name = os.path.basename(appspec_path)
    unknown = [hook for hook in spec.hooks if hook not in possible and _hook_given(appspec_path, hook)]
    if unknown:
        listed = ", ".join(json.dumps(hook) for hook in unknown)  # Ruby's Array#to_s
        return f"{name} file contains unknown lifecycle events: [{listed}]"
    missing = [e for e in possible[len(LOCAL_ORDER) :] if e not in spec.hooks and e not in EC2_SCRIPTABLE]
    if missing:
        return (
            "You specified a lifecycle event which is not a default one and doesn't exist in your "
            f"{name} file: {','.join(missing)}"
        )
    return ""


def _hook_given(appspec_path: str, name: str) -> bool:
    """Whether the AppSpec gives hook `name` a value: the agent's parser drops a hook whose value is null."""
    import yaml

    try:
        with open(appspec_path, "rb") as handle:
            hooks = (yaml.safe_load(handle) or {}).get("hooks") or {}
        return hooks.get(name) is not None
    except (OSError, yaml.YAMLError, AttributeError):
        return True


def unknown_event_names(events: Optional[Sequence[str]], revision: Any) -> str:
    """`--events` may name custom events, as codedeploy-local allows, but only hooks the AppSpec has: a
    name that is neither a lifecycle event nor one of its hooks, said before any event (`--safe`), or ""."""
    from appspec_tools.model import AppSpecError, load

    custom = [e.strip() for e in events or () if e.strip() and e.strip() not in EC2_ORDER]
    if not custom or revision.appspec_member is None:
        return ""
    try:
        spec = load(
            revision.read(revision.appspec_member, 1 << 20), path=revision.appspec_member, platform="ec2"
        )
    except AppSpecError:
        return ""  # the lint has said what is wrong with it
    hooks = sorted(getattr(spec, "hooks", None) or {})
    missing = [name for name in custom if name not in hooks]
    if not missing:
        return ""
    return (
        f"--events: {', '.join(missing)} is neither a lifecycle event nor a hook of "
        f"{revision.appspec_member} (its hooks: {', '.join(hooks) or 'none'}); check the spelling"
    )
