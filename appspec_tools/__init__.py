"""appspec_tools: lint, model and generate AWS CodeDeploy AppSpec files.

The public library API is small: :func:`lint_bytes` for findings, :func:`load` and
:func:`dump` for the typed model.
"""

__version__ = "0.1.0"

from appspec_tools.problem import Problem, Severity  # noqa: E402

__all__ = ["Problem", "Severity", "__version__", "dump", "lint_bytes", "load"]


def __getattr__(name: str):  # lazy: keep `appspec lint` start-up fast
    if name == "lint_bytes":
        from appspec_tools.linter import lint_bytes

        return lint_bytes
    if name in ("load", "dump"):
        from appspec_tools import model

        return getattr(model, name)
    raise AttributeError(name)
