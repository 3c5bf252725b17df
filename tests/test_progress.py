"""The progress line of `appspec bundle` and `appspec push`: drawn on a real terminal (a pseudo-terminal
here), redrawn in place and cleared before the result; nothing when piped or with --quiet."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import one_hook_revision, read_terminal

from appspec_tools.progress import REDRAW, TerminalProgress, progress_on

REPO = Path(__file__).resolve().parent.parent
CLEAN = REPO / "tests" / "fixtures" / "revisions" / "clean"
BUCKET = "progress-bucket"


def on_terminal(argv, cwd, env=None) -> tuple:
    """Run `appspec ARGV` with stdout and stderr on a pseudo-terminal: its exit code and all it wrote."""
    controller, terminal = pty.openpty()
    command = [sys.executable, "-m", "appspec_tools", *map(str, argv)]
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal, cwd=cwd, env=env
    )
    os.close(terminal)
    transcript = read_terminal(controller)
    return process.wait(timeout=60), transcript.decode()


def piped(argv, cwd, env=None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "appspec_tools", *map(str, argv)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=60)


def test_bundle_draws_its_progress_on_a_terminal_and_clears_it(tmp_path):
    code, screen = on_terminal(["bundle", CLEAN, "-o", "out.zip"], tmp_path)
    assert code == 0, screen
    assert "\rbundling out.zip: 1/10 entries 10%" in screen
    drawn, _, result = screen.rpartition("wrote out.zip")
    assert drawn.endswith(" " * len("bundling out.zip: 1/10 entries 10%") + "\r")  # cleared at the end
    assert result.startswith(" (zip, 10 entries")


def test_bundle_shows_no_progress_when_piped_or_quiet(tmp_path):
    result = piped(["bundle", CLEAN, "-o", "out.zip"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert (result.stderr, "\r" in result.stdout) == ("", False)
    code, screen = on_terminal(["bundle", CLEAN, "-o", "quiet.zip", "--quiet"], tmp_path)
    assert code == 0, screen
    assert "bundling" not in screen and screen.startswith("wrote quiet.zip")


def test_push_draws_the_upload_in_bytes(endpoint, monkeypatch, tmp_path):
    from test_aws_emulator import use_emulator

    from appspec_tools.aws.session import connect

    use_emulator(monkeypatch, endpoint, tmp_path)
    connect().s3.create_bucket(Bucket=BUCKET)
    argv = ["push", CLEAN, "--s3", f"s3://{BUCKET}/rev.zip", "--application", "web", "--no-register"]
    code, screen = on_terminal(argv, tmp_path, dict(os.environ))
    assert code == 0, screen
    size = r"[\d.]+ (bytes|KiB)"
    assert re.search(rf"\ruploading s3://{BUCKET}/rev.zip: {size} of {size} \d+%", screen), screen
    assert screen.index("uploading") < screen.index("uploaded s3://")
    quiet = on_terminal([*argv, "-q"], tmp_path, dict(os.environ))
    assert quiet[0] == 0 and "\r" not in quiet[1].replace("\r\n", "\n")


def test_aws_deploy_draws_the_upload_unless_quiet(endpoint, monkeypatch, tmp_path):
    from test_aws_emulator import create_group, use_emulator

    from appspec_tools.aws.session import connect

    use_emulator(monkeypatch, endpoint, tmp_path)
    clients = connect()
    clients.s3.create_bucket(Bucket=BUCKET)
    create_group(clients)
    argv = ["aws", "deploy", "--application", "web", "--deployment-group", "prod",
            "--bundle", CLEAN, "--s3", f"s3://{BUCKET}/web/"]  # fmt: skip
    code, screen = on_terminal(argv, tmp_path, dict(os.environ))
    assert code == 0, screen
    assert re.search(rf"\ruploading s3://{BUCKET}/web/web-", screen), screen
    code, screen = on_terminal([*argv, "--quiet"], tmp_path, dict(os.environ))
    assert code == 0, screen
    assert "\r" not in screen.replace("\r\n", "\n") and "uploaded s3://" in screen
    assert "created deployment " in screen


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_line_is_redrawn_at_most_every_redraw_interval_and_padded_over_the_last():
    stream, clock = io.StringIO(), Clock()
    shown = TerminalProgress(stream, "uploading", 3 * 1024 * 1024, "bytes", clock)
    shown.advance(100)  # the first drawing is at once
    shown.advance(1024 * 1024)  # too soon: counted, not drawn
    clock.now += REDRAW * 1.5
    shown.advance(1024 * 1024)
    shown.close()
    assert stream.getvalue().split("\r")[1:] == [
        "uploading: 100 bytes of 3.0 MiB 0%",
        "uploading: 2.0 MiB of 3.0 MiB 66% ",  # padded over the longer line before it
        " " * len("uploading: 2.0 MiB of 3.0 MiB 66%"),
        "",
    ]


def test_progress_goes_only_to_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert isinstance(progress_on(Terminal(), "bundling", 3, "entries"), TerminalProgress)
    for stream in (io.StringIO(), None):
        shown = progress_on(stream, "bundling", 3, "entries")
        shown.advance()
        shown.close()
        assert not isinstance(shown, TerminalProgress)


@pytest.mark.parametrize("done, total, line", [(0, 0, "x: 0/0 entries 100%"), (7, 5, "x: 7/5 entries 100%")])
def test_the_percentage_stays_within_0_and_100(done, total, line):
    shown = TerminalProgress(io.StringIO(), "x", total, "entries", Clock())
    shown.done = done
    assert shown.line() == line


def test_deploy_shows_the_running_event_on_a_terminal_and_clears_it(tmp_path):
    argv = [
        "deploy",
        "--bundle",
        one_hook_revision(tmp_path / "slow", "BeforeInstall", "sleep 2.5"),
        "--root",
        tmp_path / "root",
    ]
    code, screen = on_terminal(argv, tmp_path)
    assert code == 0, screen
    assert re.search(r"\r  BeforeInstall +running +[12]s", screen), screen
    assert len(re.findall(r"\r  \S+ +running +\d+s", screen)) <= 3, (
        "only an event that lasts is shown running"
    )
    ticking, _, rest = screen.rpartition("\r" + " " * 40 + "\r")
    assert "BeforeInstall" in ticking and rest.startswith("  BeforeInstall        succeeded"), rest[:200]
    piped_run = piped([*argv, "--deployment-id", "d-PIPED0000-local"], tmp_path)
    assert piped_run.returncode == 0 and " running " not in piped_run.stdout + piped_run.stderr


def test_deploy_draws_the_s3_download_in_bytes(endpoint, monkeypatch, tmp_path):
    from test_aws_emulator import use_emulator

    from appspec_tools.aws.session import connect

    use_emulator(monkeypatch, endpoint, tmp_path)
    client = connect().s3
    client.create_bucket(Bucket=BUCKET)
    bundle = tmp_path / "rev.tgz"
    subprocess.run(["tar", "-czf", bundle, "-C", CLEAN, "."], check=True)
    client.upload_file(str(bundle), BUCKET, "rev.tgz")
    argv = ["deploy", "--bundle", f"s3://{BUCKET}/rev.tgz", "--root", tmp_path / "root", "--skip-lint"]
    code, screen = on_terminal(argv, tmp_path, dict(os.environ))
    assert code in (0, 1), screen  # the outcome is the revision's; the download is what is measured
    size = r"[\d.]+ (bytes|KiB)"
    assert re.search(rf"\rdownloading s3://{BUCKET}/rev.tgz: {size} of {size} 100%", screen), screen
