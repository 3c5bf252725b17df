"""sample_app/: its vendored scripts, its appspec.yml, and two deployments through its own hooks."""

from __future__ import annotations

import re
import shutil
import urllib.request
from pathlib import Path

import hookkit
import pytest
import yaml
from conftest import HOOKS, SAMPLE_APP, free_port, run_hook

SCRIPTS = SAMPLE_APP / "scripts"
EVENTS = ["ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"]


def appspec() -> dict:
    return yaml.safe_load((SAMPLE_APP / "appspec.yml").read_text())


def test_vendored_scripts_are_byte_identical_copies_of_hooks():
    vendored = sorted(p.name for p in SCRIPTS.iterdir() if p.is_file())
    assert "hookkit.py" in vendored
    for name in vendored:
        assert (SCRIPTS / name).read_bytes() == (HOOKS / name).read_bytes(), (
            f"{name}: cp hooks/{name} {SCRIPTS}/"
        )
        assert (SCRIPTS / name).stat().st_mode & 0o777 == (HOOKS / name).stat().st_mode & 0o777, name


def test_appspec_wires_every_scriptable_event_to_a_vendored_script():
    spec = appspec()
    assert (spec["version"], spec["os"]) == (0.0, "linux")
    assert (
        "0.0" in (SAMPLE_APP / "appspec.yml").read_text()
        and "'0.0'" not in (SAMPLE_APP / "appspec.yml").read_text()
    )
    assert list(spec["hooks"]) == EVENTS
    for event, entries in spec["hooks"].items():
        assert sum(entry["timeout"] for entry in entries) <= 3600
        for entry in entries:
            assert 0 < entry["timeout"] <= 3600 and "runas" not in entry
            script = SAMPLE_APP / entry["location"]
            assert script.parent == SCRIPTS and script.exists(), entry["location"]
            assert re.sub(r"(?<!^)([A-Z])", r"_\1", event).lower() == script.stem
    for entry in spec["files"]:
        assert entry["destination"].startswith("/opt/sample-app") and (SAMPLE_APP / entry["source"]).exists()


def test_sample_config_keeps_each_deadline_below_its_hook_timeout():
    config = hookkit.Config.load(str(SCRIPTS / "validate_service.py"), {})
    assert config.source == str(SAMPLE_APP / "hooks.env") and config.warnings == []
    timeouts = {event: entries[0]["timeout"] for event, entries in appspec()["hooks"].items()}
    assert config.number("HEALTH_DEADLINE") < timeouts["ValidateService"]
    assert (
        config.number("APP_START_TIMEOUT") + config.number("APP_STOP_TIMEOUT") < timeouts["ApplicationStart"]
    )
    assert config.number("APP_STOP_TIMEOUT") < timeouts["ApplicationStop"]


def install(revision: Path, root: Path) -> None:
    """The agent's Install step, re-rooted under root: copy each files entry (OVERWRITE)."""
    for entry in yaml.safe_load((revision / "appspec.yml").read_text())["files"]:
        source = revision / entry["source"]
        destination = root / entry["destination"].lstrip("/")
        destination.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, destination, dirs_exist_ok=True)
        else:
            shutil.copy2(source, destination / source.name)


def get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return response.read().decode()


@pytest.mark.slow
def test_two_deployments_through_the_sample_hooks(tmp_path, hook_env):
    root = tmp_path / "host"
    app_dir = root / "opt" / "sample-app"
    port = free_port()
    overrides = {
        "APP_DIR": app_dir,  # re-rooted for a non-root test; everything else comes from hooks.env
        "APP_PORT": port,
        "BACKUP_DIR": tmp_path / "backups",
        "HEALTH_INTERVAL": "0.1",
        "HEALTH_TIMEOUT": "0.1",
        "APP_ENV_SAMPLE_APP_DRAIN_SECONDS": "0.1",
    }
    revisions = []
    for number, version in ((1, "1.0.0"), (2, "2.0.0")):
        revision = tmp_path / f"d-{number}" / "deployment-archive"
        shutil.copytree(SAMPLE_APP, revision, ignore=shutil.ignore_patterns("__pycache__"))
        (revision / "VERSION").write_text(version + "\n")
        revisions.append(revision)
    timeouts = {event: entries[0]["timeout"] for event, entries in appspec()["hooks"].items()}

    def run_event(event: str, revision: Path, deployment: str) -> None:
        env = hook_env(**overrides, LIFECYCLE_EVENT=event, DEPLOYMENT_ID=deployment)
        del env["HOOKS_CONFIG"]  # found at the revision root, as on a real host
        location = appspec()["hooks"][event][0]["location"]
        result = run_hook(revision / location, env, timeout=timeouts[event])
        assert result.returncode == 0 and result.closed, result
        assert f"config file {revision / 'hooks.env'}" in result.stdout

    try:
        # first deployment: no previous install, so the agent does not run ApplicationStop
        run_event("BeforeInstall", revisions[0], "d-1")
        install(revisions[0], root)
        for event in ("AfterInstall", "ApplicationStart", "ValidateService"):
            run_event(event, revisions[0], "d-1")
        assert get(port, "/") == "sample-app 1.0.0 (deployment d-1)\n"
        first_pid = int((app_dir / "run" / "sample-app.pid").read_text())

        # second deployment: ApplicationStop comes from the last successful install (revision 1)
        run_event("ApplicationStop", revisions[0], "d-2")
        assert not hookkit.process_alive(first_pid)
        run_event("BeforeInstall", revisions[1], "d-2")
        install(revisions[1], root)
        for event in ("AfterInstall", "ApplicationStart", "ValidateService"):
            run_event(event, revisions[1], "d-2")
        assert get(port, "/") == "sample-app 2.0.0 (deployment d-2)\n"
        assert [p.name.endswith("-d-2.tar.gz") for p in (tmp_path / "backups").iterdir()] == [True]
    finally:
        run_event("ApplicationStop", revisions[1], "d-3")
