"""Project configuration for `appspec lint`: `.appspec-lint.yml`, or `[tool:appspec-lint]` in setup.cfg.

Looked up from the current directory upwards, stopping at the first folder that has either file
(or a `.git`). Command-line flags add to or override what the file says.
"""

from __future__ import annotations

import os
from typing import Any, FrozenSet, Optional

from appspec_tools.errors import UsageError
from appspec_tools.lifecycle import PLATFORMS

CONFIG_FILE = ".appspec-lint.yml"
KEYS = ("disable", "enable", "strict", "platform", "max-file-size")


class ConfigError(UsageError):
    pass


class LintConfig:
    """The settings of a lint configuration file; command-line flags add to or override them.
    A plain class, not a dataclass: defining one costs about a millisecond of every lint start-up."""

    def __init__(self, path: Optional[str] = None) -> None:
        self.disable: FrozenSet[str] = frozenset()
        self.enable: FrozenSet[str] = frozenset()
        self.strict = False
        self.platform: Optional[str] = None
        self.max_file_size: Optional[int] = None
        self.path = path


def find_config(start: str = ".") -> Optional[str]:
    current = os.path.abspath(start)
    while True:
        candidate = os.path.join(current, CONFIG_FILE)
        if os.path.isfile(candidate):
            return candidate
        setup_cfg = os.path.join(current, "setup.cfg")
        if os.path.isfile(setup_cfg) and _has_section(setup_cfg):
            return setup_cfg
        parent = os.path.dirname(current)
        if parent == current or os.path.isdir(os.path.join(current, ".git")):
            return None
        current = parent


def _has_section(path: str) -> bool:
    try:
        with open(path, encoding="utf-8") as handle:
            return "[tool:appspec-lint]" in handle.read()
    except (OSError, UnicodeDecodeError):
        return False


def load_config(path: Optional[str]) -> LintConfig:
    if path is None:
        return LintConfig()
    if os.path.basename(path) == "setup.cfg":
        import configparser  # only for setup.cfg: not at every start-up

        parser = configparser.ConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error as exc:
            raise ConfigError(f"{path}: {str(exc).splitlines()[0]}") from None
        values: Any = dict(parser["tool:appspec-lint"]) if parser.has_section("tool:appspec-lint") else {}
    else:
        import yaml

        try:
            with open(path, encoding="utf-8") as handle:
                values = yaml.safe_load(handle) or {}
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
            raise ConfigError(f"{path}{where}: invalid YAML in the lint configuration") from None
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: must be a mapping with keys {', '.join(KEYS)}")
    return _build(values, path)


def _build(values: dict, path: str) -> LintConfig:
    config = LintConfig(path=path)
    for key, value in values.items():
        if key not in KEYS:
            raise ConfigError(f"{path}: unknown key '{key}' (known keys: {', '.join(KEYS)})")
        if key in ("disable", "enable"):
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list):
                raise ConfigError(f"{path}: '{key}' must be a list of rule ids, e.g. [HOOK008, TOP007]")
            ids = frozenset(str(i).strip().upper() for i in items if str(i).strip())
            setattr(config, key, ids)
        elif key == "strict":
            config.strict = _boolean(value, path)
        elif key == "platform":
            if value not in PLATFORMS:
                raise ConfigError(f"{path}: 'platform' must be one of {', '.join(PLATFORMS)}, not {value!r}")
            config.platform = value
        elif key == "max-file-size":
            try:
                config.max_file_size = int(value)
            except (TypeError, ValueError):
                raise ConfigError(
                    f"{path}: 'max-file-size' must be a number of bytes, not {value!r}"
                ) from None
    return config


def _boolean(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).strip().lower() in ("1", "true", "yes", "on"):
        return True
    if str(value).strip().lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{path}: 'strict' must be true or false, not {value!r}")
