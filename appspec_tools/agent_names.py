"""Names the CodeDeploy agent knows by heart, in one place for the linter, the model, the deploy shim and
the command lines (AGENT-FACTS §5, §9)."""

from __future__ import annotations

# the AppSpec file names the linter looks for in a revision, in the order it takes the first
APPSPEC_NAMES = ("appspec.yml", "appspec.yaml", "appspec.json")
# Install's fallback when the deployment's AppSpec file name is not there (command_executor.rb)
INSTALL_APPSPEC_FALLBACKS = ("appspec.yaml", "appspec.yml")
# file_exists_behavior: exactly these in the AppSpec; the deployment's value is upper-cased first
FILE_EXISTS_BEHAVIORS = ("DISALLOW", "OVERWRITE", "RETAIN")
