"""The agent's on-disk layout under the deployment root (AGENT-FACTS §6) and its pointer files."""

from __future__ import annotations

import os
import random
import re
import shutil
import string
from typing import List, Optional

from appspec_tools.fileio import write_atomically

DEFAULT_ROOT = "/opt/codedeploy-agent/deployment-root"
DEFAULT_MAX_REVISIONS = 5
LOCAL_GROUP_ID = "default-local-deployment-group"
LOCAL_GROUP_NAME = "LocalFleet"
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def new_deployment_id(local: bool = True) -> str:
    """`d-` and nine capitals or digits; codedeploy-local adds `-local`."""
    body = "".join(random.SystemRandom().choice(string.ascii_uppercase + string.digits) for _ in range(9))
    return f"d-{body}-local" if local else f"d-{body}"


def check_id(value: str, what: str) -> str:
    if not _SAFE_ID.match(value or ""):
        raise ValueError(
            f"invalid {what} {value!r}: use letters, digits, '.', '_' or '-' (it names a folder under the deployment root)"
        )
    return value


class DeploymentRoot:
    def __init__(self, root: str = DEFAULT_ROOT) -> None:
        self.root = os.path.abspath(root)

    # Paths ---------------------------------------------------------------------------------------
    def group_dir(self, group_id: str) -> str:
        return os.path.join(self.root, group_id)

    def deployment_dir(self, group_id: str, deployment_id: str) -> str:
        return os.path.join(self.root, group_id, deployment_id)

    def archive_dir(self, group_id: str, deployment_id: str) -> str:
        return os.path.join(self.deployment_dir(group_id, deployment_id), "deployment-archive")

    def bundle_file(self, group_id: str, deployment_id: str) -> str:
        return os.path.join(self.deployment_dir(group_id, deployment_id), "bundle.tar")

    def scripts_log(self, group_id: str, deployment_id: str) -> str:
        return os.path.join(self.deployment_dir(group_id, deployment_id), "logs", "scripts.log")

    @property
    def instructions_dir(self) -> str:
        return os.path.join(self.root, "deployment-instructions")

    @property
    def deployments_log(self) -> str:
        return os.path.join(self.root, "deployment-logs", "codedeploy-agent-deployments.log")

    def ongoing_file(self, deployment_id: str) -> str:
        return os.path.join(self.root, "ongoing-deployment", deployment_id)

    def last_successful_install_file(self, group_id: str) -> str:
        return os.path.join(self.instructions_dir, f"{group_id}_last_successful_install")

    def most_recent_install_file(self, group_id: str) -> str:
        return os.path.join(self.instructions_dir, f"{group_id}_most_recent_install")

    def cleanup_file(self, group_id: str) -> str:
        return os.path.join(self.instructions_dir, f"{group_id}-cleanup")

    def lock_file(self, group_id: str) -> str:
        return os.path.join(self.instructions_dir, f"{group_id}.lock")

    def history_file(self, group_id: str) -> str:
        """Ours, not the agent's: the group's last successful deployment, for rollback."""
        return os.path.join(self.instructions_dir, f"{group_id}_last_successful_deployment.json")

    # Pointer files -------------------------------------------------------------------------------
    @staticmethod
    def write_pointer(path: str, deployment_dir: str) -> None:
        """The absolute deployment dir, no trailing newline, as the agent writes it (mode w+)."""
        write_atomically(path, deployment_dir)

    @staticmethod
    def read_pointer(path: str) -> Optional[str]:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read().rstrip("\n") or None
        except FileNotFoundError:
            return None

    def last_successful_install(self, group_id: str) -> Optional[str]:
        return self.read_pointer(self.last_successful_install_file(group_id))

    # max_revisions -------------------------------------------------------------------------------
    def prune(self, group_id: str, current_deployment_id: str, max_revisions: int) -> List[str]:
        """The agent's rule (command_executor.rb): keep `max_revisions` directories counting the current
        one, oldest by mtime removed first, never the last successful install."""
        group_dir = self.group_dir(group_id)
        if not os.path.isdir(group_dir):
            return []
        candidates = [
            os.path.join(group_dir, name) for name in os.listdir(group_dir) if name != current_deployment_id
        ]
        extra = len(candidates) - max_revisions + 1
        if extra <= 0:
            return []
        keep = self.last_successful_install(group_id)
        candidates = [c for c in candidates if os.path.abspath(c) != keep]
        candidates.sort(key=lambda path: os.stat(path).st_mtime)
        removed = candidates[:extra]
        for path in removed:
            shutil.rmtree(path, ignore_errors=True)
        return removed
