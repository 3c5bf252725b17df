"""One exit-code table for every command (appspec_tools.cli.EXIT_CODES, docs/cli.md, `appspec --help`):
each command's error paths walked through `main`, as a user meets them."""

from __future__ import annotations

import argparse
import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import one_hook_revision

from appspec_tools.cli import EXIT_CODES, build_parser, main

REPO = Path(__file__).resolve().parent.parent
CLEAN = REPO / "tests" / "fixtures" / "revisions" / "clean"
FAILING_LINT = REPO / "tests" / "fixtures" / "appspec" / "invalid"


def run(*argv: object):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def files(tmp_path):
    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    group = tmp_path / "group.yml"
    group.write_text(
        "application: web\ndeployment_group: prod\ndeployment_config: CodeDeployDefault.AllAtOnce\n"
        f"history: {tmp_path / 'history.sqlite'}\n"
        f"hosts:\n  - {{name: a, host: local, root: {tmp_path / 'root-a'}}}\n"
    )
    failing = one_hook_revision(tmp_path / "failing", "AfterInstall", "exit 3")
    return {"corrupt": corrupt, "group": group, "failing": failing, "root": tmp_path / "root"}


def invalid_appspec() -> Path:
    return next(p for p in sorted(FAILING_LINT.rglob("*.yml")) if p.is_file())


CASES = [
    # (label, argv built from the files fixture, expected code)
    ("no command", lambda f: [], 2),
    ("unknown top-level flag", lambda f: ["--bogus"], 2),
    ("lint clean", lambda f: ["lint", CLEAN], 0),
    ("lint findings", lambda f: ["lint", invalid_appspec()], 1),
    ("lint missing file", lambda f: ["lint", "-f", "json", f["root"] / "missing.yml"], 2),
    ("lint unknown rule", lambda f: ["lint", "--disable", "NOPE99", CLEAN], 2),
    ("lint --config with --no-config", lambda f: ["lint", "--config", "x.yml", "--no-config", CLEAN], 2),
    ("lint corrupt bundle", lambda f: ["lint", f["corrupt"]], 2),
    ("rules", lambda f: ["rules"], 0),
    ("schema bad platform", lambda f: ["schema", "--platform", "mainframe"], 2),
    ("init unknown flag", lambda f: ["init", "--bogus"], 2),
    ("deploy without --bundle", lambda f: ["deploy", "--root", f["root"]], 2),
    (
        "deploy missing bundle",
        lambda f: ["deploy", "--bundle", f["root"] / "nope.zip", "--root", f["root"]],
        2,
    ),
    ("deploy corrupt bundle", lambda f: ["deploy", "--bundle", f["corrupt"], "--root", f["root"]], 2),
    ("deploy a fleet flag", lambda f: ["deploy", "--bundle", CLEAN, "--group", f["group"]], 2),
    ("deploy a service flag", lambda f: ["deploy", "--bundle", CLEAN, "--aws", "--region", "xx"], 2),
    ("deploy --timeline", lambda f: ["deploy", "--bundle", CLEAN, "--timeline", "t.svg"], 2),
    ("deploy a negative kill grace", lambda f: ["deploy", "--bundle", CLEAN, "--kill-grace", "-1"], 2),
    ("deploy a failing hook", lambda f: ["deploy", "--bundle", f["failing"], "--root", f["root"]], 1),
    ("fleet without a verb", lambda f: ["fleet"], 2),
    ("fleet without --group", lambda f: ["fleet", "status"], 2),
    ("fleet missing group file", lambda f: ["fleet", "history", "--group", f["root"] / "none.yml"], 2),
    (
        "fleet a host flag",
        lambda f: ["fleet", "deploy", "--group", f["group"], "--bundle", CLEAN, "--root", "/x"],
        2,
    ),
    (
        "fleet plan corrupt bundle",
        lambda f: ["fleet", "plan", "--group", f["group"], "--bundle", f["corrupt"]],
        2,
    ),
    (
        "fleet plan lint errors",
        lambda f: ["fleet", "plan", "--group", f["group"], "--bundle", invalid_appspec()],
        1,
    ),
    ("fleet plan", lambda f: ["fleet", "plan", "--group", f["group"]], 0),
    ("fleet stop with nothing running", lambda f: ["fleet", "stop", "--group", f["group"]], 1),
    ("fleet rollback with nothing to roll back", lambda f: ["fleet", "rollback", "--group", f["group"]], 2),
    ("fleet show without an id", lambda f: ["fleet", "show", "--group", f["group"]], 2),
    ("aws without a verb", lambda f: ["aws"], 2),
    ("aws deploy without a group", lambda f: ["aws", "deploy", "--s3", "s3://b/k.zip"], 2),
    ("aws a read verb it does not have", lambda f: ["aws", "plan"], 2),
    ("demo unknown flag", lambda f: ["demo", "--bogus"], 2),
    ("bundle missing folder", lambda f: ["bundle", f["root"] / "nope", "-o", f["root"] / "o.zip"], 2),
    ("push without a destination", lambda f: ["push", CLEAN], 2),
]


@pytest.mark.parametrize("label, argv, expected", CASES, ids=[c[0] for c in CASES])
def test_every_command_exits_by_the_one_table(files, label, argv, expected):
    code, out, err = run(*argv(files))
    assert code == expected, (label, out, err)
    assert "Traceback" not in err and "internal error" not in err
    if code == 2 and argv(files):
        assert len(err.strip().splitlines()) == 1, err  # one line, naming the place and the fix
    assert code in {c for c, _ in EXIT_CODES}


def test_a_run_that_read_nothing_prints_no_report(tmp_path):
    for fmt in ("json", "sarif", "text", "github"):
        code, out, err = run("lint", "-f", fmt, tmp_path / "missing.yml")
        assert (code, out) == (2, ""), fmt
        assert err == f"appspec lint: {tmp_path / 'missing.yml'}: no such file or directory\n"


def test_the_table_is_in_the_help_and_the_docs():
    helped = build_parser().format_help()
    docs = (REPO / "docs" / "cli.md").read_text()
    for code, meaning in EXIT_CODES:
        assert re.search(rf"^\s+{code}\s+{re.escape(meaning)}$", helped, re.M), code
        assert re.search(rf"^\| {code} \| ", docs, re.M), code


def help_of(*path: str) -> str:
    parser = build_parser()
    for name in path:
        chooser = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = chooser.choices[name]
    return parser.format_help()


def options(*path: str) -> set:
    return set(re.findall(r"(--[a-z0-9-]+)", help_of(*path)))


def test_each_verb_shows_only_its_own_options():
    here, status, rollback, aws = (
        options("deploy"),
        options("fleet", "status"),
        options("fleet", "rollback"),
        options("aws", "deploy"),
    )
    assert "--root" in here and not here & {"--group", "--aws", "--s3", "--timeline", "--wait"}
    assert status == {"--help", "--group", "--format", "--timeline"}
    assert "--no-preflight" not in rollback and "--bundle" not in rollback
    assert "--s3" in aws and not aws & {"--group", "--root", "--install-root", "--events"}
    assert help_of("fleet", "plan") != help_of("fleet", "history")


def test_ctrl_c_exits_130(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "appspec_tools", "lint", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    time.sleep(1.0)  # past start-up: the lint then waits on its standard input, which never comes
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 130 and err.strip() == "interrupted"
