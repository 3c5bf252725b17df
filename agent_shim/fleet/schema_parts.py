"""JSON Schema pieces the group file's schema and the load-balancer kinds' settings share."""

from typing import Any, Dict

TEXT: Dict[str, Any] = {"type": "string", "minLength": 1}
PORT: Dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": 65535}
SECONDS: Dict[str, Any] = {"type": "number", "exclusiveMinimum": 0}
NAMES: Dict[str, Any] = {"type": "array", "minItems": 1, "uniqueItems": True, "items": TEXT}
