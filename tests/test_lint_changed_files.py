"""The pre-commit hook: `appspec lint --changed FILE...` lints each revision that holds a changed file
(AppSpec, hook script or anything else in it) once, with the revision checks that a single AppSpec
never gets. The hook's own definition in .pre-commit-hooks.yaml is what runs here."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from appspec_tools.linter import revision_roots

ROOT = Path(__file__).resolve().parent.parent
HOOK = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())[0]
APPSPEC = "version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: scripts/start.sh\n"


def git(repo: Path, *args: str) -> str:
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@x",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@x",
    )
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    ).stdout


def write(repo: Path, name: str, text: str, mode: int = 0o644) -> None:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


@pytest.fixture
def repo(tmp_path):
    """A git repository with two revisions: `api` (its start script missing) and `web` (clean)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    write(repo, "README.md", "# services\n")
    write(repo, "api/appspec.yml", APPSPEC)
    write(repo, "api/scripts/stop.sh", "#!/bin/sh\nexit 0\n", 0o755)
    write(repo, "web/appspec.yml", APPSPEC)
    write(repo, "web/scripts/start.sh", "#!/bin/sh\nexit 0\n", 0o755)
    write(repo, "web/app/index.html", "<p>hi</p>\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "start")
    return repo


def run_hook(repo: Path, files, **environ):
    """The hook's entry with the files pre-commit would pass, and the environment it would set
    (PRE_COMMIT=1, the refs): (exit code, JSON report)."""
    entry = HOOK["entry"].split()
    command = [shutil.which(entry[0]) or entry[0], *entry[1:]]
    if command[0] == "appspec" and shutil.which("appspec") is None:
        command = [sys.executable, "-m", "appspec_tools", *entry[1:]]
    out = subprocess.run(
        [*command, "--no-config", "--format", "json", *files],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("PRE_COMMIT")}, **environ},
    )
    return out.returncode, json.loads(out.stdout)


def staged(repo: Path):
    return git(repo, "diff", "--cached", "--name-only").split()


def test_the_hook_takes_every_changed_file_at_once():
    assert HOOK["pass_filenames"] is True and HOOK["require_serial"] is True
    assert HOOK["always_run"] is True  # a commit that only deletes files passes none
    assert "files" not in HOOK and HOOK["types"] == ["file"]  # scripts and AppSpecs alike


def test_editing_only_a_hook_script_lints_its_revision_and_finds_the_missing_script(repo):
    write(repo, "api/scripts/stop.sh", "#!/bin/sh\necho stopping\n", 0o755)
    git(repo, "add", "-A")
    code, report = run_hook(repo, staged(repo))
    assert code == 1 and report["files"] == 1
    assert [(p["path"], p["rule"]) for p in report["problems"]] == [("api/appspec.yml", "REV010")]


def test_each_revision_is_linted_once_and_files_outside_revisions_are_left_out(repo):
    write(repo, "web/app/index.html", "<p>hello</p>\n")
    write(repo, "web/appspec.yml", APPSPEC + "# touched\n")
    write(repo, "README.md", "# services, two\n")
    git(repo, "add", "-A")
    code, report = run_hook(repo, staged(repo))
    assert (code, report["files"], report["problems"]) == (0, 1, [])


def test_a_crlf_shebang_in_a_changed_script_is_found(repo):
    write(repo, "web/scripts/start.sh", "#!/bin/sh\r\nexit 0\r\n", 0o755)
    git(repo, "add", "-A")
    code, report = run_hook(repo, staged(repo))
    assert code == 1
    assert [(p["path"], p["rule"]) for p in report["problems"]] == [("web/appspec.yml", "REV012")]


def test_changes_outside_every_revision_lint_nothing_and_pass(repo):
    code, report = run_hook(repo, ["README.md"])
    assert (code, report["files"], report["problems"]) == (0, 0, [])


def test_the_nearest_revision_wins_and_the_search_stops_at_the_repository_top(tmp_path, repo, monkeypatch):
    write(tmp_path, "appspec.yml", APPSPEC)  # above the repository: never a revision of its files
    write(repo, "web/app/appspec.yml", APPSPEC)  # a nested revision
    monkeypatch.chdir(repo)
    changed = ["README.md", "web/app/index.html", "web/scripts/start.sh", "web/app/appspec.yml"]
    assert revision_roots(changed) == ["web/app", "web"]
    assert revision_roots([str(repo / "web" / "appspec.yml")]) == [str(repo / "web")]


def test_without_files_the_hook_lints_every_revision_of_the_repository(repo):
    """`always_run: true` with `pass_filenames: false` (docs/lint.md) also catches a deleted script."""
    (repo / "web" / "scripts" / "start.sh").unlink()
    code, report = run_hook(repo, [])
    assert code == 1 and report["files"] == 2
    assert sorted(p["path"] for p in report["problems"]) == ["api/appspec.yml", "web/appspec.yml"]


def test_a_script_deleted_in_the_commit_is_found_under_pre_commit(repo):
    """pre-commit passes only files that exist: the hook asks git for the staged deletions."""
    git(repo, "rm", "-q", "web/scripts/start.sh")
    write(repo, "README.md", "# services, two\n")
    git(repo, "add", "-A")
    code, report = run_hook(repo, ["README.md"])
    assert (code, report["files"]) == (0, 0)  # outside pre-commit, only the files given count
    code, report = run_hook(repo, ["README.md"], PRE_COMMIT="1")
    assert (code, report["files"]) == (1, 1)
    assert [(p["path"], p["rule"]) for p in report["problems"]] == [("web/appspec.yml", "REV010")]


def test_a_script_deleted_between_refs_is_found_with_from_ref_and_to_ref(repo):
    """`pre-commit run --from-ref A --to-ref B` (CI): the deletions between the two refs."""
    git(repo, "rm", "-q", "web/scripts/start.sh")
    write(repo, "README.md", "# services, two\n")
    git(repo, "commit", "-q", "-am", "drop the start script")
    refs = {"PRE_COMMIT": "1", "PRE_COMMIT_FROM_REF": "HEAD~1", "PRE_COMMIT_TO_REF": "HEAD"}
    code, report = run_hook(repo, ["README.md"], **refs)
    assert code == 1 and [(p["path"], p["rule"]) for p in report["problems"]] == [
        ("web/appspec.yml", "REV010")
    ]
    assert run_hook(repo, ["README.md"], PRE_COMMIT="1")[0] == 0  # nothing staged: nothing deleted


def test_a_deleted_revision_and_a_repository_without_revisions_lint_nothing(tmp_path, repo):
    git(repo, "rm", "-q", "-r", "web")
    code, report = run_hook(repo, ["README.md"], PRE_COMMIT="1")
    assert (code, report["files"]) == (0, 0)  # no AppSpec left above the deleted files
    bare = tmp_path / "bare"
    write(bare, "README.md", "# nothing to deploy\n")
    code, report = run_hook(bare, [])
    assert (code, report["files"], report["problems"]) == (0, 0, [])


@pytest.mark.slow
def test_pre_commit_try_repo_runs_the_hook_on_a_changed_script(repo):
    """The real pre-commit installs this repository's hook and fails on the revision's missing script."""
    pytest.importorskip("pre_commit", reason="pre-commit is not installed (pip install pre-commit)")
    write(repo, "api/scripts/stop.sh", "#!/bin/sh\necho stopping\n", 0o755)
    git(repo, "add", "-A")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pre_commit",
            "try-repo",
            str(ROOT),
            HOOK["id"],
            "--files",
            "api/scripts/stop.sh",
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        env=dict(os.environ, PRE_COMMIT_HOME=str(repo.parent / "pre-commit-home")),
        timeout=900,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "REV010" in out.stdout and "api/appspec.yml" in out.stdout

    # a commit that deletes web's start script, with another file, then with no other file: caught both times
    write(repo, "api/scripts/start.sh", "#!/bin/sh\nexit 0\n", 0o755)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "api is clean")
    git(repo, "rm", "-q", "web/scripts/start.sh")
    for also in ("README.md", None):
        if also:
            write(repo, also, "# services, two\n")
            git(repo, "add", also)
        else:
            git(repo, "reset", "-q", "README.md")
            git(repo, "checkout", "--", "README.md")
        out = subprocess.run(
            [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), HOOK["id"]],  # the staged files
            cwd=repo,
            capture_output=True,
            text=True,
            env=dict(os.environ, PRE_COMMIT_HOME=str(repo.parent / "pre-commit-home")),
            timeout=900,
        )
        assert out.returncode == 1, (also, out.stdout + out.stderr)
        assert (
            "REV010" in out.stdout and "web/appspec.yml" in out.stdout and "api/appspec.yml" not in out.stdout
        )
