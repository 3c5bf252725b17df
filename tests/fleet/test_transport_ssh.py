"""SshTransport against real sshd hosts: uploads skipped by checksum, events streamed as they happen,
hostile words quoted, and every host failure a Failed outcome with its reason."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import replace

import pytest

from agent_shim.fleet.contracts import FAILED, IN_PROGRESS, SUCCEEDED, HostSpec
from agent_shim.fleet.remote_files import KEEP_RUNNERS, parse_check
from agent_shim.fleet.transport_ssh import CommandResult, SshTransport, TransportError

pytestmark = [pytest.mark.fleet, pytest.mark.slow]

HOSTILE = [
    "a b; rm -rf /",
    "$(touch /opt/pwned)",
    "`id`",
    "'quoted' \"double\"",
    "semi;colon|pipe&",
    "*",
    "~",
    "",
]


@pytest.fixture
def hosts(make_fleet):
    return make_fleet(2, with_haproxy=False)


def read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def deploy_args(path: str, spec: HostSpec):
    """The runner's arguments; a loopback-fallback host has its own roots (namespace hosts their own /opt)."""
    roots = [w for option, value in (("--root", spec.root), ("--install-root", spec.install_root)) if value
             for w in (option, value)]  # fmt: skip
    return ["--bundle", path, "--application", "app", "--deployment-group", "group", *roots]


def test_runner_upload_is_skipped_when_the_checksum_is_already_there(hosts, runner_zipapp):
    transport = hosts.transport("h1")
    remote = transport.ensure_runner(runner_zipapp.path, runner_zipapp.checksum)
    netns = hosts.mode == "netns"  # the host's runner folder is its own; in the loopback fallback, ours
    local_copy = (
        os.path.join(hosts.host("h1").directory, "runner", os.path.basename(remote)) if netns else remote
    )
    assert read(local_copy) == read(runner_zipapp.path)
    os.utime(local_copy, (1_000_000, 1_000_000))
    inode = os.stat(local_copy).st_ino
    assert transport.ensure_runner(runner_zipapp.path, runner_zipapp.checksum) == remote
    assert os.stat(local_copy).st_ino == inode, "uploaded again although the same sha256 was there"
    assert os.stat(local_copy).st_mtime > 1_000_000  # touched: the runner in use counts as recent
    with open(local_copy, "ab") as handle:
        handle.write(b"corrupt")
    transport.ensure_runner(runner_zipapp.path, runner_zipapp.checksum)
    assert read(local_copy) == read(runner_zipapp.path)  # a wrong copy is replaced
    assert not netns or not os.listdir(os.path.join(hosts.host("h2").directory, "runner"))  # each its own
    transport.close()


def test_events_stream_while_the_deployment_runs(hosts, runner_zipapp, make_bundle):
    bundle = make_bundle("slow", {"BeforeInstall": "echo before", "ApplicationStart": "sleep 1.5"})
    transport = hosts.transport("h1")
    runner = transport.ensure_runner(runner_zipapp.path, runner_zipapp.checksum)
    revision = transport.upload_revision(bundle.path, bundle.checksum)
    seen = []
    outcome = transport.run_deployment(
        runner, deploy_args(revision, transport.spec), lambda e: seen.append((time.time(), e)), 60
    )
    finished = time.time()
    assert outcome.status == SUCCEEDED, outcome.reason
    assert outcome.host_deployment_id.startswith("d-")
    done = {e.event: (at, e) for at, e in seen if e.status != IN_PROGRESS}
    assert done["BeforeInstall"][1].status == SUCCEEDED
    assert finished - done["BeforeInstall"][0] >= 1.2  # delivered before ApplicationStart's sleep ended
    assert [e.event for e in outcome.events] == [e.event for _, e in seen if e.status != IN_PROGRESS]
    assert any(e.event == "ApplicationStart" and e.status == IN_PROGRESS for _, e in seen)
    transport.close()


def test_hostile_words_reach_the_host_unchanged(hosts, runner_zipapp, make_bundle):
    transport = hosts.transport("h1")
    result = transport.run(["printf", "%s\\n", *HOSTILE])
    assert result.ok and result.stdout.split("\n")[:-1] == HOSTILE
    assert not os.path.exists(os.path.join(hosts.host("h1").directory, "opt", "pwned"))

    bundle = make_bundle(
        "env", {"AfterInstall": 'printf "%s|%s" "$APPLICATION_NAME" "$ODD" > "$INSTALL_ROOT/opt/seen"'}
    )
    odd = "x'; touch /opt/pwned; echo '$(id)"
    spec = replace(hosts.host("h1").spec, environment={**hosts.host("h1").spec.environment, "ODD": odd})
    transport = SshTransport(spec, known_hosts=hosts.known_hosts)
    runner = transport.ensure_runner(runner_zipapp.path, runner_zipapp.checksum)
    revision = transport.upload_revision(bundle.path, bundle.checksum)
    arguments = deploy_args(revision, spec)
    arguments[arguments.index("--application") + 1] = HOSTILE[0] + HOSTILE[1]
    outcome = transport.run_deployment(runner, arguments, lambda e: None, 60)
    assert outcome.status == SUCCEEDED, outcome.reason
    with open(os.path.join(hosts.host("h1").directory, "opt", "seen")) as handle:
        assert handle.read() == f"{HOSTILE[0] + HOSTILE[1]}|{odd}"
    assert not os.path.exists(os.path.join(hosts.host("h1").directory, "opt", "pwned"))
    assert not os.path.exists("/opt/pwned")
    transport.close()


def test_bundle_origin_reaches_the_hooks_through_the_remote_shell(hosts, runner_zipapp, make_bundle):
    """`?`, `&` and `=` of an S3 origin are shell syntax: quoted, they reach the runner as one word."""
    dump = 'printf "%s|%s|%s|%s" "$BUNDLE_BUCKET" "$BUNDLE_KEY" "$BUNDLE_VERSION" "$BUNDLE_ETAG"'
    bundle = make_bundle("origin", {"AfterInstall": f'{dump} > "$INSTALL_ROOT/opt/bundle"'})
    transport = hosts.transport("h1")
    runner = transport.ensure_runner(runner_zipapp.path, runner_zipapp.checksum)
    revision = transport.upload_revision(bundle.path, bundle.checksum)
    origin = "s3://releases/web/app*.tgz?versionId=3sL4.kq&etag=1aa643d6"
    arguments = [*deploy_args(revision, transport.spec), "--bundle-origin", origin]
    outcome = transport.run_deployment(runner, arguments, lambda e: None, 60)
    assert outcome.status == SUCCEEDED, outcome.reason
    with open(os.path.join(hosts.host("h1").directory, "opt", "bundle")) as handle:
        assert handle.read() == "releases|web/app*.tgz|3sL4.kq|1aa643d6"
    transport.close()


def test_a_wrong_key_is_a_failed_outcome_with_the_reason(hosts, runner_zipapp, tmp_path):
    other = str(tmp_path / "other_key")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other], check=True)
    spec = replace(hosts.host("h1").spec, key=other)
    transport = SshTransport(spec, known_hosts=hosts.known_hosts)
    outcome = transport.run_deployment("/nowhere/runner.pyz", [], lambda e: None, 30)
    assert outcome.status == FAILED
    assert "authentication failed" in outcome.reason and "h1" in outcome.reason
    with pytest.raises(TransportError, match="authentication failed"):
        transport.ensure_runner(runner_zipapp.path, runner_zipapp.checksum)


def test_an_unknown_host_key_is_refused_unless_accept_new(hosts, tmp_path):
    empty = str(tmp_path / "known_hosts")
    open(empty, "w").close()
    outcome = SshTransport(hosts.host("h1").spec, known_hosts=empty).run_deployment(
        "r.pyz", [], lambda e: None, 30
    )
    assert outcome.status == FAILED and "known_hosts" in outcome.reason
    trusting = SshTransport(hosts.host("h1").spec, known_hosts=empty, host_key_policy="accept-new")
    assert trusting.run(["true"]).ok
    trusting.close()
    assert hosts.host("h1").address in read(empty).decode()  # recorded, so the next connection checks it


def test_nothing_listening_is_a_failed_outcome(hosts):
    spec = replace(hosts.host("h1").spec, port=2)
    outcome = SshTransport(spec, known_hosts=hosts.known_hosts, connect_timeout=3).run_deployment(
        "r.pyz", [], lambda e: None, 10
    )
    assert outcome.status == FAILED and "refused" in outcome.reason


def test_a_host_that_vanishes_mid_deploy_is_failed_with_the_reason(hosts, runner_zipapp, make_bundle):
    bundle = make_bundle("hang", {"ApplicationStart": "sleep 60"})
    transport = hosts.transport("h1")
    runner = transport.ensure_runner(runner_zipapp.path, runner_zipapp.checksum)
    revision = transport.upload_revision(bundle.path, bundle.checksum)

    def on_event(event):
        if event.event == "ApplicationStart" and event.status == IN_PROGRESS:
            threading.Timer(0.3, hosts.kill_host, ["h1"]).start()

    started = time.monotonic()
    outcome = transport.run_deployment(runner, deploy_args(revision, transport.spec), on_event, 60)
    assert outcome.status == FAILED
    assert "connection lost during ApplicationStart" in outcome.reason, outcome.reason
    assert time.monotonic() - started < 20
    assert [e.event for e in outcome.events][-1] == "AfterInstall"


def test_a_timeout_fails_the_host_and_stops_its_runner(hosts, runner_zipapp, make_bundle):
    bundle = make_bundle("hang", {"ApplicationStart": "sleep 60"})
    transport = hosts.transport("h2")
    runner = transport.ensure_runner(runner_zipapp.path, runner_zipapp.checksum)
    revision = transport.upload_revision(bundle.path, bundle.checksum)
    started = time.monotonic()
    outcome = transport.run_deployment(runner, deploy_args(revision, transport.spec), lambda e: None, 3)
    assert outcome.status == FAILED
    assert (
        outcome.reason == "timed out after 3s (host_timeout) during ApplicationStart; the runner was stopped"
    )
    assert time.monotonic() - started < 10
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and runner_running(hosts, "h2"):
        time.sleep(0.1)
    assert not runner_running(hosts, "h2")


def runner_running(hosts, name: str) -> bool:
    for pid in hosts.host_pids(name):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if b"runner-" in handle.read():
                    return True
        except OSError:
            continue
    return False


def test_a_failed_deployment_carries_the_agent_message_and_log_tail(hosts, runner_zipapp, make_bundle):
    bundle = make_bundle("fails", {"AfterInstall": "echo 'disk on fire' >&2; exit 3"})
    transport = hosts.transport("h1")
    runner = transport.ensure_runner(runner_zipapp.path, runner_zipapp.checksum)
    outcome = transport.run_deployment(
        runner,
        deploy_args(transport.upload_revision(bundle.path, bundle.checksum), transport.spec),
        lambda e: None,
        60,
    )
    assert outcome.status == FAILED
    assert "AfterInstall" in outcome.reason or "exit code 3" in outcome.reason
    assert "disk on fire" in outcome.log_tail
    assert outcome.events[-1].event == "AfterInstall" and outcome.events[-1].error_name == "ScriptFailed"


def test_an_upload_of_a_directory_is_refused(hosts, tmp_path):
    with pytest.raises(TransportError, match="not a .zip"):
        hosts.transport("h1").upload_revision(str(tmp_path), "0" * 64)


def test_the_simulated_hosts_see_their_own_opt(hosts):
    if hosts.mode != "netns":
        pytest.skip(f"loopback fallback: {hosts.fallback_reason}")
    for name in ("h1", "h2"):
        assert hosts.transport(name).run(f"echo {name} > /opt/whoami").ok
    for name in ("h1", "h2"):
        assert hosts.transport(name).run("cat /opt/whoami").stdout.strip() == name
        assert read(os.path.join(hosts.host(name).directory, "opt", "whoami")).decode().strip() == name
    assert not os.path.exists("/opt/whoami")


def test_host_spec_defaults_come_from_ssh_config(hosts, tmp_path):
    host = hosts.host("h1")
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host web-one\n  HostName {host.address}\n  Port {host.spec.port}\n  User {host.spec.user}\n"
        f"  IdentityFile {hosts.client_key}\n  UserKnownHostsFile {hosts.known_hosts}\n"
    )
    transport = SshTransport(HostSpec("one", "web-one"), ssh_config=str(config))
    assert transport.run(["echo", "ok"]).stdout == "ok\n"
    transport.close()


def test_a_host_whose_network_vanishes_times_out_instead_of_hanging(hosts, runner_zipapp, make_bundle):
    if hosts.mode != "netns":
        pytest.skip(f"needs network namespaces: {hosts.fallback_reason}")
    bundle = make_bundle("hang", {"ApplicationStart": "sleep 60"})
    transport = hosts.transport("h1", connect_timeout=2)
    runner = transport.ensure_runner(runner_zipapp.path, runner_zipapp.checksum)
    revision = transport.upload_revision(bundle.path, bundle.checksum)
    namespace = hosts.host("h1").namespace

    def on_event(event):  # no reset, no FIN: the link just goes away
        if event.event == "ApplicationStart" and event.status == IN_PROGRESS:
            subprocess.run(["ip", "-n", namespace, "link", "set", "eth0", "down"], check=True)

    started = time.monotonic()
    outcome = transport.run_deployment(runner, deploy_args(revision, transport.spec), on_event, 3)
    assert outcome.status == FAILED and outcome.reason.startswith(
        "timed out after 3s (host_timeout) during ApplicationStart; the runner could not be stopped ("
    )  # the controller cannot know whether the runner stopped: it says so
    assert time.monotonic() - started < 3 + 5 + 3  # the deployment timeout, then a bounded attempt to stop it


def test_the_loopback_fallback_gives_each_host_its_own_roots(make_fleet, runner_zipapp, make_bundle):
    fleet = make_fleet(2, namespaces=False, with_haproxy=False)
    assert fleet.mode == "loopback" and [h.address for h in fleet.hosts] == ["127.0.1.1", "127.0.1.2"]
    bundle = make_bundle("where", {"AfterInstall": 'echo "$APPSPEC_SIMULATED_HOST" > "$INSTALL_ROOT/where"'})
    for host in fleet.hosts:
        transport = fleet.transport(host.name)
        runner = transport.ensure_runner(runner_zipapp.path, runner_zipapp.checksum)
        revision = transport.upload_revision(bundle.path, bundle.checksum)
        outcome = transport.run_deployment(runner, deploy_args(revision, host.spec), lambda e: None, 60)
        assert outcome.status == SUCCEEDED, outcome.reason
        assert read(os.path.join(host.directory, "where")).decode().strip().endswith(f"/{host.name}")
        assert os.path.isdir(os.path.join(host.spec.root, "deployment-instructions"))
        transport.close()
    pids = [pid for host in fleet.hosts for pid in fleet.host_pids(host.name)]
    assert pids  # at least the sshd of each host
    fleet.stop()
    assert [pid for pid in pids if os.path.exists(f"/proc/{pid}")] == []


# -- revision archives on the host: the most recent kept, the rest pruned -----------------------------------


def archives(folder) -> set:
    """The revision archives in a host's revisions folder, by name."""
    return {name for name in os.listdir(folder) if not name.endswith(".part") and name != "notes.txt"}


def test_old_revision_archives_are_pruned_after_an_upload(hosts, make_bundle, tmp_path):
    """The five most recent (by mtime) are kept, the new one counted; other files are left alone."""
    runner_dir = tmp_path / "runner"  # a folder of this test's own, the same path on the host
    transport = hosts.transport("h1", runner_dir=str(runner_dir))
    bundles = [make_bundle(f"r{index}", {"BeforeInstall": f"echo {index}"}) for index in range(7)]
    folder = runner_dir / "revisions"
    names = []
    for index, bundle in enumerate(bundles[:5]):
        remote = transport.upload_revision(bundle.path, bundle.checksum)
        names.append(os.path.basename(remote))
        os.utime(remote, (1_000_000 + index, 1_000_000 + index))  # r0 the oldest, whatever the clock did
    (folder / "notes.txt").write_text("not a revision\n")
    (folder / f"{bundles[0].checksum}.tgz.123.456.part").write_bytes(b"an upload in progress")
    assert archives(folder) == set(names)

    sixth = transport.upload_revision(bundles[5].path, bundles[5].checksum)
    assert read(sixth) == read(bundles[5].path)
    assert archives(folder) == set(names[1:]) | {os.path.basename(sixth)}  # r0 went
    assert (folder / "notes.txt").exists() and (folder / f"{bundles[0].checksum}.tgz.123.456.part").exists()
    transport.close()


def test_a_reused_revision_counts_as_recent_and_is_not_uploaded_again(hosts, make_bundle, tmp_path):
    runner_dir = tmp_path / "runner"
    transport = hosts.transport("h1", runner_dir=str(runner_dir), keep_revisions=2)
    first, second, third = (
        make_bundle(f"r{index}", {"BeforeInstall": f"echo {index}"}) for index in range(3)
    )
    old = transport.upload_revision(first.path, first.checksum)
    os.utime(old, (1_000_000, 1_000_000))
    newer = transport.upload_revision(second.path, second.checksum)
    os.utime(newer, (2_000_000, 2_000_000))
    inode = os.stat(old).st_ino

    assert transport.upload_revision(first.path, first.checksum) == old  # the oldest, deployed again
    assert os.stat(old).st_ino == inode, "uploaded again although the same sha256 was there"
    assert os.stat(old).st_mtime > 2_000_000  # now the most recent
    last = transport.upload_revision(third.path, third.checksum)
    assert archives(runner_dir / "revisions") == {os.path.basename(old), os.path.basename(last)}
    transport.close()


def test_keeping_one_revision_keeps_the_one_just_uploaded(hosts, make_bundle, tmp_path):
    runner_dir = tmp_path / "runner"
    transport = hosts.transport("h1", runner_dir=str(runner_dir), keep_revisions=1)
    for index in range(3):
        bundle = make_bundle(f"r{index}", {"BeforeInstall": f"echo {index}"})
        remote = transport.upload_revision(bundle.path, bundle.checksum)
        assert archives(runner_dir / "revisions") == {os.path.basename(remote)}
    transport.close()
    with pytest.raises(ValueError, match="keep at least 1"):
        hosts.transport("h1", keep_revisions=0)


def test_the_prune_command_quotes_the_runner_folder(hosts, make_bundle, tmp_path):
    """A runner folder with spaces and shell syntax in its name: pruned all the same, nothing else run."""
    marker = f"pwned-{os.getpid()}-{time.monotonic_ns()}"  # would land in the login's home (its cwd)
    runner_dir = tmp_path / f"run ner'; touch {marker}; echo '$(touch {marker})`touch {marker}`"
    transport = hosts.transport("h1", runner_dir=str(runner_dir), keep_revisions=1)
    names = []
    for index in range(2):
        bundle = make_bundle(f"r{index}", {"BeforeInstall": f"echo {index}"})
        names.append(os.path.basename(transport.upload_revision(bundle.path, bundle.checksum)))
    assert archives(runner_dir / "revisions") == {names[1]}
    home = transport.home()
    transport.close()
    assert not os.path.exists(os.path.join(home, marker))


def test_old_runners_are_pruned_when_a_runner_is_checked(hosts, runner_zipapp, tmp_path):
    """KEEP_RUNNERS runner zipapps stay, the one in use counted; other files of the folder are left."""
    runner_dir = tmp_path / "runner"
    runner_dir.mkdir()
    old = [runner_dir / f"runner-{index:016x}.pyz" for index in range(4)]
    for index, path in enumerate(old):
        path.write_bytes(b"an older runner")
        os.utime(path, (1_000_000 + index, 1_000_000 + index))  # runner-0 the oldest
    (runner_dir / "runner-notes.txt").write_text("not a runner\n")
    transport = hosts.transport("h1", runner_dir=str(runner_dir))

    remote = transport.ensure_runner(runner_zipapp.path, runner_zipapp.checksum)
    kept = {name for name in os.listdir(runner_dir) if name.startswith("runner-")}
    assert KEEP_RUNNERS == 3
    assert kept == {os.path.basename(remote), old[3].name, old[2].name, "runner-notes.txt"}
    assert read(remote) == read(runner_zipapp.path)
    transport.close()


def test_uploads_left_half_done_for_an_hour_are_removed(hosts, make_bundle, tmp_path):
    """A `.part` is an upload in progress or one whose controller died: removed only once it is stale."""
    runner_dir = tmp_path / "runner"
    folder = runner_dir / "revisions"
    folder.mkdir(parents=True)
    stale, fresh = folder / f"{'a' * 64}.tgz.1.2.part", folder / f"{'b' * 64}.tgz.3.4.part"
    stale.write_bytes(b"dead upload")
    fresh.write_bytes(b"upload in progress")
    two_hours_ago = time.time() - 2 * 3600
    os.utime(stale, (two_hours_ago, two_hours_ago))
    (folder / "old.part.d").mkdir()  # not a file: never removed, nor looked into
    inner = folder / "old.part.d" / "x.part"
    inner.write_bytes(b"")
    os.utime(inner, (two_hours_ago, two_hours_ago))
    transport = hosts.transport("h1", runner_dir=str(runner_dir))

    bundle = make_bundle("r0", {"BeforeInstall": "echo 0"})
    transport.upload_revision(bundle.path, bundle.checksum)
    assert not stale.exists()
    assert fresh.exists() and inner.exists()
    transport.close()


def test_a_host_that_has_both_files_is_prepared_in_one_command(hosts, runner_zipapp, make_bundle):
    """The common case of a redeploy: one remote command checks (and touches) the runner and the
    revision and tells the home directory; no upload, no SFTP session."""
    bundle = make_bundle("r0", {"BeforeInstall": "echo 0"})
    first = hosts.transport("h1")
    paths = first.prepare(runner_zipapp.path, runner_zipapp.checksum, bundle.path, bundle.checksum)
    first.close()

    again = hosts.transport("h1")
    commands = []
    run = again.run

    def counting(command, timeout=60.0, action=""):
        commands.append(command)
        return run(command, timeout, action)

    again.run = counting
    assert again.prepare(runner_zipapp.path, runner_zipapp.checksum, bundle.path, bundle.checksum) == paths
    assert len(commands) == 1
    assert again._connection._sftp is None, "an SFTP session was opened with nothing to upload"
    assert all(path.startswith(again.home() + "/") for path in paths)
    again.close()


def test_the_check_ignores_what_a_chatty_login_shell_prints():
    stdout = "Welcome!\nappspec-home /home/deploy\nappspec-sum abc\nlast login\nappspec-sum -\n"
    assert parse_check(stdout) == ("/home/deploy", ["abc", "-"])


def test_uploads_work_through_a_login_shell_that_prints_a_banner(hosts, runner_zipapp, make_bundle):
    """A ~/.bashrc that echoes something (bash reads it for commands run by sshd) must not be taken for
    a checksum: the check and the verification after an upload read only their own marked lines."""
    rc = os.path.join(hosts.host("h1").directory, "bashrc")
    if hosts.mode != "netns" or not os.path.exists(rc):
        pytest.skip("the host shares this machine's ~/.bashrc (loopback fallback, or none to bind over)")
    with open(rc, "a") as handle:
        handle.write("echo 'Welcome to h1'\n")
    transport = hosts.transport("h1")
    assert transport.run("true").stdout == "Welcome to h1\n"  # the banner does reach the controller
    bundle = make_bundle("r0", {"BeforeInstall": "echo 0"})
    paths = transport.prepare(runner_zipapp.path, runner_zipapp.checksum, bundle.path, bundle.checksum)
    on_host = os.path.join(hosts.host("h1").directory, "runner", "revisions", os.path.basename(paths[1]))
    assert read(on_host) == read(bundle.path)
    assert (
        transport.prepare(runner_zipapp.path, runner_zipapp.checksum, bundle.path, bundle.checksum) == paths
    )
    transport.close()


@pytest.mark.parametrize(
    "result, shown",
    [
        (CommandResult(0, "Welcome\n", ""), "Welcome"),  # no marked lines: not a POSIX shell's output
        (CommandResult(127, "", "sh: 1: printf: not found\nsecond line\n"), "second line"),
        (CommandResult(1, "", ""), "exit code 1"),
    ],
)
def test_a_check_the_host_cannot_answer_is_one_line_naming_the_host(result, shown):
    transport = SshTransport(HostSpec("web-1", "192.0.2.10", port=2222))
    transport.run = lambda command, timeout=60.0, action="": result  # the shell's answer, whatever it ran
    with pytest.raises(TransportError) as caught:
        transport.prepare("runner.pyz", "ab" * 32, "revision.tgz", "cd" * 32)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("ssh web-1 (192.0.2.10:2222): checking the uploads: ")
    assert f": {shown} (the host needs a POSIX login shell and sha256sum or shasum)" in message
