#!/usr/bin/env python3
"""AfterInstall: install the app's dependencies, render its environment file, set ownership.

Python: requirements.txt in APP_DIR -> virtual environment VENV_DIR (created with PYTHON) and `pip install
-r requirements.txt PIP_ARGS`. Node: package.json in APP_DIR -> `npm ci NPM_ARGS` (needs package-lock.json).
Environment file APP_ENV_FILE: the lines of APP_ENV_TEMPLATE with ${NAME} substituted (settings, deployment
variables, environment), then NAME=value for every APP_ENV_NAME setting. Ownership: chown -R APP_OWNER
APP_DIR. Steps that do not apply are skipped with one line each.
"""

from __future__ import annotations

import grp
import os
import pwd
import shlex
import shutil
import subprocess
from typing import List, Tuple

import hookkit

USES = (
    "APP_DIR",
    "INSTALL_DEPENDENCIES",
    "PYTHON",
    "VENV_DIR",
    "PIP_ARGS",
    "NPM_ARGS",
    "APP_ENV_FILE",
    "APP_ENV_TEMPLATE",
    "APP_ENV_<NAME>",
    "APP_OWNER",
)


def main(config: hookkit.Config, log: hookkit.HookLog) -> None:
    app_dir = config.app_dir()
    if not os.path.isdir(app_dir):
        raise hookkit.ConfigError(
            f"APP_DIR={app_dir} does not exist; set it to the appspec files destination"
        )
    owner = resolve_owner(config.get("APP_OWNER"))  # validate before doing any work
    if config.boolean("INSTALL_DEPENDENCIES"):
        install_python(config, app_dir, log)
        install_node(config, app_dir, log)
    else:
        log.step("dependencies: skipped (INSTALL_DEPENDENCIES=false)")
    render_env_file(config, log)
    if owner is None:
        log.step("ownership: skipped (APP_OWNER not set)")
    else:
        count = chown_tree(app_dir, owner)
        log.step("ownership: {} set on {} path(s) under {}".format(config.get("APP_OWNER"), count, app_dir))


def run_step(argv: List[str], cwd: str, what: str, log: hookkit.HookLog) -> None:
    log.step("{}: {}".format(what, " ".join(argv)))
    try:
        result = subprocess.run(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    except FileNotFoundError:
        raise hookkit.PrerequisiteError(f"{what}: {argv[0]} not found; install it on the host") from None
    if result.returncode != 0:
        tail = "\n".join("  | " + line for line in result.stdout.splitlines()[-20:])
        raise hookkit.InstallError(f"{what} failed with exit code {result.returncode}:\n{tail}")


def install_python(config: hookkit.Config, app_dir: str, log: hookkit.HookLog) -> None:
    requirements = os.path.join(app_dir, "requirements.txt")
    if not os.path.isfile(requirements):
        log.step(f"python dependencies: skipped (no requirements.txt in {app_dir})")
        return
    venv = config.path("VENV_DIR") or ""
    python = config.get("PYTHON") or "python3"
    if not shutil.which(python):
        raise hookkit.PrerequisiteError(
            f"PYTHON={python} not found; install python3 (with venv) or set PYTHON"
        )
    if os.path.isfile(os.path.join(venv, "bin", "python")):
        log.step(f"python dependencies: reusing virtual environment {venv}")
    else:
        run_step([python, "-m", "venv", venv], app_dir, "python venv", log)
    pip = [os.path.join(venv, "bin", "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    run_step(pip + ["-r", requirements] + split_args(config, "PIP_ARGS"), app_dir, "pip install", log)


def install_node(config: hookkit.Config, app_dir: str, log: hookkit.HookLog) -> None:
    if not os.path.isfile(os.path.join(app_dir, "package.json")):
        log.step(f"node dependencies: skipped (no package.json in {app_dir})")
        return
    if not any(
        os.path.isfile(os.path.join(app_dir, n)) for n in ("package-lock.json", "npm-shrinkwrap.json")
    ):
        raise hookkit.InstallError(
            f"package.json without package-lock.json in {app_dir}: npm ci needs a lockfile; commit it"
        )
    if not shutil.which("npm"):
        raise hookkit.PrerequisiteError(
            "package.json found but npm is not installed on this host; install Node.js and npm"
        )
    run_step(["npm", "ci"] + split_args(config, "NPM_ARGS"), app_dir, "npm ci", log)


def split_args(config: hookkit.Config, name: str) -> List[str]:
    try:
        return shlex.split(config.get(name) or "")
    except ValueError as exc:
        raise hookkit.ConfigError(f"{name}: {exc}; fix its quoting") from None


def render_env_file(config: hookkit.Config, log: hookkit.HookLog) -> None:
    template = config.path("APP_ENV_TEMPLATE")
    extra = config.with_prefix(hookkit.APP_ENV_PREFIX)
    if template is None and not extra:
        log.step("environment file: skipped (no APP_ENV_TEMPLATE, no APP_ENV_* settings)")
        return
    target = config.path("APP_ENV_FILE") or ""
    lines: List[str] = []
    if template is not None:
        try:
            with open(template, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise hookkit.ConfigError(f"APP_ENV_TEMPLATE={template}: {exc}") from None
        lines.extend(substitute(text, template, config).splitlines())
    for name, value in sorted(extra.items()):
        if "\n" in value:
            raise hookkit.ConfigError(
                f"APP_ENV_{name} holds a newline; environment file values must be one line"
            )
        lines.append(f"{name}={value}")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    temporary = target + ".tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    os.chmod(temporary, 0o640)
    os.replace(temporary, target)
    log.step(f"environment file: {target} written ({len(lines)} line(s), mode 0640)")


def substitute(text: str, source: str, config: hookkit.Config) -> str:
    """${NAME} from the settings, deployment variables or environment; ${NAME:-default}; $$ is a literal $."""

    def missing(name: str, offset: int) -> None:
        line = text.count("\n", 0, offset) + 1
        raise hookkit.ConfigError(
            f"{source}:{line}: ${{{name}}} is not set; set {name} or remove it from the template"
        )

    return hookkit.expand_references(text, config.get, missing)


def resolve_owner(spec: str | None) -> Tuple[int, int] | None:
    if not spec:
        return None
    user, _, group = spec.partition(":")
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise hookkit.ConfigError(
            f"APP_OWNER={spec}: no user {user!r} on this host; create it or fix APP_OWNER"
        ) from None
    gid = entry.pw_gid
    if group:
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            raise hookkit.ConfigError(
                f"APP_OWNER={spec}: no group {group!r} on this host; create it or fix APP_OWNER"
            ) from None
    return entry.pw_uid, gid


def chown_tree(root: str, owner: Tuple[int, int]) -> int:
    uid, gid = owner
    count = 1
    try:
        os.lchown(root, uid, gid)
        for directory, dirs, files in os.walk(root):
            for name in dirs + files:
                os.lchown(os.path.join(directory, name), uid, gid)
                count += 1
    except PermissionError as exc:
        raise hookkit.InstallError(f"chown failed: {exc}; run AfterInstall as root (no runas)") from None
    return count


if __name__ == "__main__":
    hookkit.run(__file__, __doc__, USES, main)
