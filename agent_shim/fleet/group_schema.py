"""The deployment group file's JSON Schema (draft 2020-12) and its validation: every problem one
`FILE:LINE:COL: key.path: message` line, found on the nodes `appspec_tools.source` read (so each keeps its
place). The `load_balancer:` part comes from the load-balancer kinds (lb/registry.py)."""

from __future__ import annotations

import difflib
from typing import Any, Dict, List, Sequence, Tuple

from agent_shim.fleet.config import ALL_AT_ONCE, HALF_AT_A_TIME, ONE_AT_A_TIME
from agent_shim.fleet.lb.registry import settings_schema
from agent_shim.fleet.schema_parts import NAMES, PORT, SECONDS, TEXT
from appspec_tools.agent_names import FILE_EXISTS_BEHAVIORS
from appspec_tools.nodes import Mapping, Node, to_python
from appspec_tools.nodes import Sequence as SequenceNode

LOCAL = "local"  # a host that is this machine: no SSH (transport_local.LocalTransport)
SAFE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"  # names a folder under the deployment root on hosts

HOST_SCHEMA = {
    "type": "object",
    "required": ["host"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": SAFE_NAME},
        "host": TEXT,
        "port": PORT,
        "user": TEXT,
        "key": TEXT,
        "lb_server": TEXT,
        "lb_target": TEXT,
        "root": TEXT,
        "install_root": TEXT,
        "environment": {
            "type": "object",
            "propertyNames": {"pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
            "additionalProperties": {"type": ["string", "integer", "number"]},
        },
    },
}
SCHEMA: Dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "appspec-tools deployment group",
    "type": "object",
    "required": ["application", "deployment_group", "hosts"],
    "additionalProperties": False,
    "properties": {
        "application": TEXT,
        "deployment_group": {"type": "string", "pattern": SAFE_NAME},
        "deployment_config": {
            "anyOf": [
                {"enum": [ONE_AT_A_TIME, HALF_AT_A_TIME, ALL_AT_ONCE]},
                {
                    "type": "object",
                    "required": ["minimum_healthy_hosts"],
                    "additionalProperties": False,
                    "properties": {
                        "name": TEXT,
                        "minimum_healthy_hosts": {
                            "type": "object",
                            "required": ["type", "value"],
                            "additionalProperties": False,
                            "properties": {
                                "type": {"enum": ["HOST_COUNT", "FLEET_PERCENT"]},
                                "value": {"type": "integer", "minimum": 0},
                            },
                            "if": {"properties": {"type": {"const": "FLEET_PERCENT"}}},
                            "then": {"properties": {"value": {"maximum": 100}}},
                        },
                    },
                },
            ]
        },
        "hosts": {"type": "array", "minItems": 1, "items": HOST_SCHEMA},
        "load_balancer": settings_schema({"drain_timeout": SECONDS, "healthy_timeout": SECONDS}),
        "health_check": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "path": {"type": "string", "pattern": "^/"},
                "port": PORT,
                "interval": SECONDS,
                "timeout": SECONDS,
                "healthy_threshold": {"type": "integer", "minimum": 1},
                "unhealthy_threshold": {"type": "integer", "minimum": 1},
                "success_codes": {
                    "type": ["string", "integer"],
                    "pattern": r"^\d{3}(-\d{3})?(,\d{3}(-\d{3})?)*$",
                },
            },
        },
        "auto_rollback": {"type": "boolean"},
        "blue_green": {
            "type": "object",
            "required": ["blue", "green"],
            "additionalProperties": False,
            "properties": {
                "blue": NAMES,
                "green": NAMES,
                "keep_blue_seconds": {"type": "number", "minimum": 0},
            },
        },
        "max_parallel_ssh": {"type": "integer", "minimum": 1},
        "host_timeout": SECONDS,
        "file_exists_behavior": {"enum": list(FILE_EXISTS_BEHAVIORS)},
        "ignore_application_stop_failures": {"type": "boolean"},
        "max_revisions": {"type": "integer", "minimum": 1},
        "history": TEXT,
        "ssh": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "config": TEXT,
                "known_hosts": TEXT,
                "host_key_policy": {"enum": ["reject", "accept-new"]},
                "connect_timeout": SECONDS,
                "server_alive_interval": SECONDS,
                "server_alive_count_max": {"type": "integer", "minimum": 1},
            },
        },
    },
}


def plain_data(root: Node) -> Any:
    """Plain data for the schema; a host given as a bare string is `{host: STRING}`."""
    data = to_python(root)
    if isinstance(data, dict) and isinstance(data.get("hosts"), list):
        data["hosts"] = [{"host": h} if isinstance(h, str) else h for h in data["hosts"]]
    return data


def validate(root: Node, path: str) -> List[str]:
    import jsonschema

    found: List[Tuple[int, int, str]] = list(_duplicate_keys(root))
    data = plain_data(root)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for error in validator.iter_errors(data):
        found.extend(_describe(error, root))
    if not found:
        found.extend(_cross_checks(root, data))
    return [f"{path}:{line}:{column}: {message}" for line, column, message in sorted(set(found))]


def _duplicate_keys(root: Node) -> List[Tuple[int, int, str]]:
    from appspec_tools.nodes import walk

    found = []
    for node in walk(root):
        if isinstance(node, Mapping):
            seen: Dict[Any, Node] = {}
            for key, key_node, _ in node.items():
                if key in seen:
                    first = seen[key]
                    found.append(
                        (
                            key_node.line,
                            key_node.column,
                            f"duplicate key {key!r} (first at line {first.line})",
                        )
                    )
                else:
                    seen[key] = key_node
    return found


def key_path(parts: Sequence[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _node_at(root: Node, parts: Sequence[Any]) -> Node:
    """The deepest node along a jsonschema path (a bare-string host stands for its `host` key)."""
    node = root
    for part in parts:
        if isinstance(node, Mapping) and node.get(part) is not None:
            node = node.get(part)  # type: ignore[assignment]
        elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.items):
            node = node.items[part]
        else:
            break
    return node


def _suggest(word: str, known: Sequence[str]) -> List[str]:
    """The known key meant: a transposition (`prot` → `port`) first, else the closest spelling."""
    swapped = [k for k in known if sorted(k) == sorted(word)]
    return swapped[:1] or difflib.get_close_matches(word, known, n=1)


def _branch_errors(error: Any) -> List[Any]:
    """For an anyOf that failed: the errors of the one branch whose type fits the value, if one does."""
    from jsonschema.exceptions import best_match

    branches: Dict[Any, List[Any]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    fitting = [
        errs
        for errs in branches.values()
        if not any(e.validator in ("type", "enum", "const") and not e.relative_path for e in errs)
    ]
    return fitting[0] if len(fitting) == 1 else [best_match(error.context)]


def _describe(error: Any, root: Node) -> List[Tuple[int, int, str]]:
    if error.validator in ("anyOf", "oneOf") and error.context:
        return [found for sub in _branch_errors(error) for found in _describe(sub, root)]
    parts = list(error.absolute_path)
    node = _node_at(root, parts)
    where = key_path(parts)
    prefix = f"{where}: " if where else ""
    if error.validator == "additionalProperties" and isinstance(node, Mapping):
        allowed = sorted(error.schema.get("properties", {}))
        found = []
        for key, key_node, _ in node.items():
            if key not in allowed:
                close = _suggest(str(key), allowed)
                hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(allowed)})"
                found.append((key_node.line, key_node.column, f"{prefix}unknown key {key!r}{hint}"))
        return found
    if "propertyNames" in error.schema_path and isinstance(node, Mapping):
        key_node = node.key_node(error.instance) or node
        return [
            (
                key_node.line,
                key_node.column,
                f"{prefix}{error.instance!r} is not a valid environment variable name",
            )
        ]
    message = error.message
    if error.validator == "enum":
        message = f"{error.instance!r} is not one of {', '.join(map(str, error.validator_value))}"
    elif error.validator == "pattern" and error.validator_value == SAFE_NAME:
        message = f"{error.instance!r}: use letters, digits, '.', '_' or '-' (it names a folder on the hosts)"
    return [(node.line, node.column, prefix + message)]


def _cross_checks(root: Node, data: Dict[str, Any]) -> List[Tuple[int, int, str]]:
    """What the schema cannot say: unique host names, and blue/green sets naming hosts of the file."""
    found = []
    names: Dict[str, int] = {}
    for index, host in enumerate(data["hosts"]):
        name = host.get("name") or host["host"]
        if name in names:
            node = _node_at(root, ["hosts", index, "name" if "name" in host else "host"])
            found.append(
                (
                    node.line,
                    node.column,
                    f"hosts[{index}]: host name {name!r} is also hosts[{names[name]}]'s; give each a `name`",
                )
            )
        names.setdefault(name, index)
    where: Dict[Tuple[str, Any], int] = {}
    for index, host in enumerate(data["hosts"]):
        if host["host"] == LOCAL:
            continue  # local hosts are told apart by their roots
        address = (host["host"].lower(), host.get("port") or 22)
        if address in where:
            node = _node_at(root, ["hosts", index, "host"])
            first = data["hosts"][where[address]]
            found.append(
                (
                    node.line,
                    node.column,
                    f"hosts[{index}]: {host['host']}:{address[1]} is also hosts[{where[address]}] "
                    f"({first.get('name') or first['host']}): the same host under two names would be deployed "
                    "twice at once; list it once",
                )
            )
        where.setdefault(address, index)
    blue_green = data.get("blue_green")
    if blue_green:
        for side in ("blue", "green"):
            for index, name in enumerate(blue_green[side]):
                node = _node_at(root, ["blue_green", side, index])
                if name not in names:
                    found.append(
                        (
                            node.line,
                            node.column,
                            f"blue_green.{side}[{index}]: no host named {name!r} in hosts",
                        )
                    )
                elif side == "green" and name in blue_green["blue"]:
                    found.append(
                        (node.line, node.column, f"blue_green.green[{index}]: {name!r} is in both sets")
                    )
        missing = [n for n in names if n not in blue_green["blue"] and n not in blue_green["green"]]
        if missing:
            node = _node_at(root, ["blue_green"])
            found.append((node.line, node.column, f"blue_green: hosts in neither set: {', '.join(missing)}"))
    return found
