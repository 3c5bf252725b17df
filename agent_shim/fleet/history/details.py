"""What the history keeps about a deployment beyond `FleetDeployment`: where its revision is stored and,
for blue/green, the hosts' roles and the switch. Typed, and stored as columns (schema version 1)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Dict, Mapping, Optional


@dataclass(frozen=True)
class DeploymentDetails:
    archive: str = ""  # the revision in the history's revision store ('' when not kept)
    bundle_type: str = ""  # zip, tar or tgz
    origin: str = ""  # the s3:// location it was downloaded from ('' for a local bundle)
    roles: Dict[str, str] = field(default_factory=dict)  # blue/green: host → original / replacement
    live_before: Optional[str] = None  # blue/green: the set that served before it (blue, green)
    switched: bool = False  # blue/green: traffic went to the replacements
    kept_until: Optional[float] = None  # blue/green: the originals are kept until then (epoch seconds)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> DeploymentDetails:
        return cls().updated(**values)

    def updated(self, **values: Any) -> DeploymentDetails:
        """These details with `values` changed; a name that is not a detail is a TypeError."""
        unknown = sorted(set(values) - {f.name for f in fields(self)})
        if unknown:
            raise TypeError(f"not a deployment detail: {', '.join(unknown)}")
        return replace(self, **values)

    def as_dict(self) -> Dict[str, Any]:
        """The mapping `History.details` has always returned: unset blue/green values are left out, so
        `.get(name, default)` reads their default."""
        values: Dict[str, Any] = {
            "archive": self.archive,
            "bundle_type": self.bundle_type,
            "origin": self.origin,
            "roles": dict(self.roles),
            "switched": self.switched,
        }
        if self.live_before is not None:
            values["live_before"] = self.live_before
        if self.kept_until is not None:
            values["kept_until"] = self.kept_until
        return values
