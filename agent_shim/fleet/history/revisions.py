"""The revision store beside the history file: each deployed archive once per content, as
`revisions/<sha256><suffix>`, kept for rollback and sync until no deployment that may need it remains."""

from __future__ import annotations

import os
import shutil
from typing import AbstractSet, List

from agent_shim.fleet.history.database import Database
from appspec_tools.fileio import replaced


class RevisionStore:
    def __init__(self, directory: str) -> None:
        self.directory = directory

    def store(self, archive: str, checksum: str, suffix: str) -> str:
        """Keep the archive as `<sha256><suffix>` (once per content) and return that path."""
        target = os.path.join(self.directory, f"{checksum}{suffix}")
        if not os.path.exists(target):
            with open(archive, "rb") as source, replaced(target) as copy:
                shutil.copyfileobj(source, copy, 1 << 20)
        return target

    def prune(self, wanted: AbstractSet[str]) -> List[str]:
        """Remove every stored archive not in `wanted` (uploads in progress, `.part`, stay)."""
        removed = []
        if os.path.isdir(self.directory):
            for name in sorted(os.listdir(self.directory)):
                path = os.path.join(self.directory, name)
                if path not in wanted and not name.endswith(".part"):
                    os.remove(path)
                    removed.append(path)
        return removed


def archives_in_use(database: Database, keep: int) -> AbstractSet[str]:
    """The archives of each group's last good deployment and of the `keep` most recent deployments."""
    rows = database.rows(
        "SELECT archive FROM deployments WHERE id IN (SELECT last_good FROM groups) "
        "OR id IN (SELECT id FROM deployments ORDER BY started DESC LIMIT ?)",
        (keep,),
    )
    return {row["archive"] for row in rows}
