"""The Install event (AGENT-FACTS §5): copies, the cleanup file and its replay, file_exists_behavior,
permissions (checked with os.stat), install.json."""

from __future__ import annotations

import json
import os
import pwd
import stat
from pathlib import Path

import pytest
from shim_support import tar_tree

from agent_shim.install import cleanup_entries, replay_cleanup

GROUP = "default-local-deployment-group"


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def app_revision(host, name: str, files: dict, destination: Path = None, extra: str = "", **kwargs):
    content = {f"app/{rel}": text for rel, text in files.items()}
    return host.revision(
        name, files=[("app", str(destination or host.dest))], content=content, extra=extra, **kwargs
    )


# Copies ---------------------------------------------------------------------------------------------------


def test_a_directory_source_copies_its_contents_and_lists_what_it_created(host):
    rev = app_revision(host, "r", {"a.txt": "a", "sub/b.txt": "b"})
    (rev / "app" / "run.sh").write_text("#!/bin/sh\n")
    (rev / "app" / "run.sh").chmod(0o750)
    os.utime(rev / "app" / "a.txt", (1_600_000_000, 1_600_000_000))
    (rev / "app" / "link").symlink_to("sub/b.txt")
    result = host.deploy(tar_tree(rev, host.tmp / "r.tar"))  # a folder revision gets new times: cp -r
    assert result.succeeded, result.message
    dest = host.dest
    assert (dest / "a.txt").read_text() == "a" and (dest / "sub" / "b.txt").read_text() == "b"
    assert mode_of(dest / "run.sh") == 0o750, "modes are kept"
    assert os.stat(dest / "a.txt").st_mtime == 1_600_000_000, "times are kept"
    assert os.readlink(dest / "link") == "sub/b.txt", "symlinks are copied as symlinks"
    assert host.cleanup_lines() == [
        str(dest),
        str(dest / "a.txt"),
        str(dest / "link"),
        str(dest / "run.sh"),
        str(dest / "sub"),
        str(dest / "sub" / "b.txt"),
    ]


def test_missing_destination_ancestors_are_created_and_listed(host):
    deep = host.tmp / "x" / "y" / "z"
    rev = app_revision(host, "r", {"a.txt": "a"}, destination=deep)
    assert host.deploy(rev).succeeded
    assert host.cleanup_lines() == [
        str(host.tmp / "x"),
        str(host.tmp / "x" / "y"),
        str(deep),
        str(deep / "a.txt"),
    ]


def test_an_existing_directory_is_reused_and_never_listed(host):
    host.dest.mkdir()
    (host.dest / "foreign.txt").write_text("not ours")
    rev = app_revision(host, "r", {"a.txt": "a"})
    assert host.deploy(rev).succeeded
    assert host.cleanup_lines() == [str(host.dest / "a.txt")]
    assert host.deploy(host.revision("empty")).succeeded
    assert sorted(p.name for p in host.dest.iterdir()) == ["foreign.txt"]


def test_a_file_source_lands_at_destination_slash_basename(host):
    rev = host.revision(
        "r", files=[("config/settings.ini", str(host.dest))], content={"config/settings.ini": "k=v"}
    )
    assert host.deploy(rev).succeeded
    assert (host.dest / "settings.ini").read_text() == "k=v"
    assert host.cleanup_lines() == [str(host.dest), str(host.dest / "settings.ini")]


def test_source_slash_is_the_whole_revision_appspec_and_scripts_included(host):
    rev = host.revision(
        "r", files=[("/", str(host.dest))], hooks={"BeforeInstall": "true"}, content={"a.txt": "a"}
    )
    assert host.deploy(rev).succeeded
    assert sorted(str(p.relative_to(host.dest)) for p in host.dest.rglob("*")) == [
        "a.txt",
        "appspec.yml",
        "scripts",
        "scripts/BeforeInstall-1.sh",
    ]


def test_install_json_lists_the_instructions_before_they_run(host):
    rev = app_revision(
        host,
        "r",
        {"a.txt": "a"},
        extra=f'permissions:\n  - object: {host.dest}\n    mode: "0640"\n    type: [file]\n',
    )
    assert host.deploy(rev).succeeded
    data = json.loads((host.root / "deployment-instructions" / f"{GROUP}-install.json").read_text())
    archive = Path(host.pointer("last_successful_install")) / "deployment-archive"
    assert data == {
        "instructions": [
            {"type": "mkdir", "directory": str(host.dest)},
            {
                "type": "copy",
                "source": str(archive / "app" / "a.txt"),
                "destination": str(host.dest / "a.txt"),
            },
            {"type": "chmod", "mode": "0640", "file": str(host.dest / "a.txt")},
        ]
    }


def test_install_root_rebases_destinations_and_hooks_see_it(host):
    install_root = host.tmp / "inst"
    rev = app_revision(
        host,
        "r",
        {"a.txt": "a"},
        destination=Path("/opt/app"),
        hooks={"AfterInstall": 'echo "$INSTALL_ROOT" > "$OUT/ir"'},
    )
    assert host.deploy(rev, install_root=str(install_root)).succeeded
    assert (install_root / "opt" / "app" / "a.txt").read_text() == "a"
    assert (host.out / "ir").read_text().strip() == str(install_root)


def test_two_sources_for_one_target_fail_the_install(host):
    rev = host.revision(
        "r",
        files=[("one/x.txt", str(host.dest)), ("two/x.txt", str(host.dest))],
        content={"one/x.txt": "1", "two/x.txt": "2"},
    )
    result = host.deploy(rev)
    event = result.failed_event
    assert (event.event, event.error_code) == ("Install", 5)
    assert event.message.startswith(
        "The deployment failed because the application specification file specifies two source files"
    )
    assert f"for the same destination ({host.dest / 'x.txt'})" in event.message


# Cleanup file -----------------------------------------------------------------------------------------------


def test_cleanup_replay_is_reverse_ordered_keeps_busy_dirs_and_ignores_an_unfinished_last_line(tmp_path):
    ours, busy = tmp_path / "ours", tmp_path / "busy"
    (ours / "deep").mkdir(parents=True)
    (ours / "deep" / "f").write_text("f")
    busy.mkdir()
    (busy / "g").write_text("g")
    (busy / "foreign").write_text("someone else's")
    unfinished = tmp_path / "unfinished"
    unfinished.write_text("half-copied")
    cleanup = tmp_path / "group-cleanup"
    lines = [ours, ours / "deep", ours / "deep" / "f", busy, busy / "g", tmp_path / "already-gone"]
    cleanup.write_text("".join(f"{p}\n" for p in lines) + str(unfinished))
    assert cleanup_entries(str(cleanup)) == [f"{p}\n" for p in reversed(lines)]
    replay_cleanup(str(cleanup))
    assert not ours.exists(), "files first, then their now-empty directories"
    assert sorted(p.name for p in busy.iterdir()) == ["foreign"], "a non-empty directory stays"
    assert unfinished.read_text() == "half-copied", "a last line without newline is not an entry"
    assert not cleanup.exists()


def test_the_previous_install_is_removed_before_the_new_one(host):
    first = app_revision(host, "one", {"a.txt": "1", "old-only.txt": "x", "sub/s.txt": "s"})
    assert host.deploy(first).succeeded
    second = app_revision(host, "two", {"a.txt": "2"})
    assert host.deploy(second).succeeded
    assert sorted(str(p.relative_to(host.dest)) for p in host.dest.rglob("*")) == ["a.txt"]
    assert (host.dest / "a.txt").read_text() == "2"


def test_files_created_by_scripts_are_never_removed(host):
    rev = app_revision(
        host, "r", {"a.txt": "1"}, hooks={"AfterInstall": f'echo made > "{host.dest}/made-by-hook"'}
    )
    assert host.deploy(rev).succeeded
    assert host.deploy(host.revision("empty")).succeeded
    assert [p.name for p in host.dest.iterdir()] == ["made-by-hook"]


def test_a_failed_install_leaves_a_partial_cleanup_list_that_the_next_one_replays(host):
    rev = app_revision(
        host,
        "r",
        {"a.txt": "a"},
        extra=f"permissions:\n  - object: {host.dest}\n    owner: no-such-user-zz9\n    type: [file]\n",
    )
    result = host.deploy(rev)
    assert result.failed_event.event == "Install"
    assert "no-such-user-zz9" in result.failed_event.message
    assert host.cleanup_lines() == [str(host.dest), str(host.dest / "a.txt")]
    assert host.pointer("last_successful_install") is None
    assert host.deploy(host.revision("empty")).succeeded
    assert not host.dest.exists()


# file_exists_behavior ------------------------------------------------------------------------------------------


def stray(host) -> Path:
    host.dest.mkdir(exist_ok=True)
    path = host.dest / "stray.txt"
    path.write_text("put here by hand")
    return path


def test_disallow_is_the_default_and_like_the_agent_removes_the_running_revision_first(host):
    assert host.deploy(app_revision(host, "one", {"a.txt": "1"})).succeeded
    existing = stray(host)
    result = host.deploy(app_revision(host, "two", {"a.txt": "2", "stray.txt": "new"}))
    event = result.failed_event
    assert (event.event, event.error_code, event.script_name) == ("Install", 5, "")
    assert (
        event.message
        == f"The deployment failed because a specified file already exists at this location: {existing}"
    )
    assert existing.read_text() == "put here by hand"
    assert not (host.dest / "a.txt").exists(), "the agent replays the cleanup before it finds the conflict"
    assert not os.path.exists(host.layout.cleanup_file(GROUP)), "and deletes the cleanup file"
    assert any("--safe finds it first" in w for w in result.warnings), result.warnings


def test_safe_finds_a_disallow_conflict_first_and_keeps_the_running_revision(host):
    assert host.deploy(app_revision(host, "one", {"a.txt": "1"})).succeeded
    existing = stray(host)
    result = host.deploy(app_revision(host, "two", {"a.txt": "2", "stray.txt": "new"}), safe=True)
    event = result.failed_event
    assert (event.event, event.error_code, event.script_name) == ("Install", 5, "")
    assert (
        event.message
        == f"The deployment failed because a specified file already exists at this location: {existing}"
    )
    assert existing.read_text() == "put here by hand"
    assert (host.dest / "a.txt").read_text() == "1", (
        "the conflict is found before the previous files are removed"
    )


def test_overwrite_replaces_the_file_and_lists_it(host):
    existing = stray(host)
    rev = app_revision(host, "r", {"stray.txt": "new"})
    assert host.deploy(rev, file_exists_behavior="OVERWRITE").succeeded
    assert existing.read_text() == "new"
    assert str(existing) in host.cleanup_lines()
    assert host.deploy(host.revision("empty")).succeeded
    assert not existing.exists(), "an overwritten file is ours now and is cleaned up"


def test_retain_keeps_the_file_and_never_lists_it(host):
    existing = stray(host)
    rev = app_revision(host, "r", {"stray.txt": "new", "other.txt": "o"})
    assert host.deploy(rev, file_exists_behavior="RETAIN").succeeded
    assert existing.read_text() == "put here by hand"
    assert str(existing) not in host.cleanup_lines()
    assert str(host.dest / "other.txt") in host.cleanup_lines()
    assert host.deploy(host.revision("empty")).succeeded
    assert existing.read_text() == "put here by hand", "never cleaned up"


def test_the_appspec_value_wins_over_the_deployments(host):
    existing = stray(host)
    rev = app_revision(host, "r", {"stray.txt": "new"}, extra="file_exists_behavior: RETAIN\n")
    assert host.deploy(rev, file_exists_behavior="OVERWRITE").succeeded
    assert existing.read_text() == "put here by hand"


def test_the_previous_installs_own_files_are_no_conflict(host):
    rev = app_revision(host, "r", {"a.txt": "1"})
    assert host.deploy(rev).succeeded
    assert host.deploy(rev).succeeded, "a.txt is in the cleanup list, so it is gone before the check"


# Permissions ------------------------------------------------------------------------------------------------


def permissions(host, body: str) -> str:
    return f"permissions:\n  - object: {host.dest}\n" + body


def test_permissions_touch_only_installed_paths(host):
    host.dest.mkdir()
    foreign = host.dest / "foreign.sh"
    foreign.write_text("x")
    foreign.chmod(0o644)
    host.dest.chmod(0o755)
    extra = permissions(
        host, '    pattern: "*.sh"\n    except: [keep.sh]\n    mode: "0700"\n    type: [file]\n'
    )
    extra += f'  - object: {host.dest}\n    mode: "0750"\n    type: [directory]\n'
    rev = app_revision(
        host, "r", {"run.sh": "r", "keep.sh": "k", "data.txt": "d", "sub/deep.sh": "s"}, extra=extra
    )
    result = host.deploy(rev)
    assert result.succeeded, result.message
    assert mode_of(host.dest / "run.sh") == 0o700
    assert mode_of(host.dest / "keep.sh") == 0o644, "except"
    assert mode_of(host.dest / "data.txt") == 0o644, "pattern"
    assert mode_of(host.dest / "sub" / "deep.sh") == 0o644, (
        "a pattern other than ** matches direct children only"
    )
    assert mode_of(host.dest / "sub") == 0o750, "a created directory, type directory"
    assert mode_of(foreign) == 0o644, "a file this deployment did not install"
    assert mode_of(host.dest) == 0o755, "the existing object directory itself"


def test_pattern_double_star_matches_at_any_depth(host):
    extra = permissions(host, '    pattern: "**"\n    mode: "0600"\n    type: [file]\n')
    rev = app_revision(host, "r", {"a": "a", "sub/deeper/b": "b"}, extra=extra)
    assert host.deploy(rev).succeeded
    assert mode_of(host.dest / "a") == mode_of(host.dest / "sub" / "deeper" / "b") == 0o600


def test_quoted_mode_is_octal_and_unquoted_leading_zero_mode_is_420_like_the_agent(host):
    quoted = app_revision(
        host, "q", {"a": "a"}, extra=permissions(host, '    mode: "0644"\n    type: [file]\n')
    )
    result = host.deploy(quoted)
    assert result.succeeded and mode_of(host.dest / "a") == 0o644
    assert not any("PERM011" in line for line in result.lint)
    unquoted = app_revision(
        host, "u", {"a": "a"}, extra=permissions(host, "    mode: 0644\n    type: [file]\n")
    )
    result = host.deploy(unquoted)
    assert result.succeeded, result.message
    assert mode_of(host.dest / "a") == 0o420, "YAML 1.1 reads 0644 as 420, and the agent applies mode 420"
    assert any("PERM011" in line and "warning" in line for line in result.lint)


def test_a_permission_on_an_installed_file_object(host):
    target = host.dest / "a.txt"
    extra = f'permissions:\n  - object: {target}\n    mode: "0604"\n'
    rev = app_revision(host, "r", {"a.txt": "a", "b.txt": "b"}, extra=extra)
    assert host.deploy(rev).succeeded
    assert mode_of(target) == 0o604 and mode_of(host.dest / "b.txt") == 0o644


def test_two_permissions_on_one_path_fail_the_install(host):
    extra = (
        permissions(host, '    mode: "0600"\n    type: [file]\n')
        + f'  - object: {host.dest}\n    mode: "0644"\n    type: [file]\n'
    )
    result = host.deploy(app_revision(host, "r", {"a": "a"}, extra=extra))
    assert result.failed_event.event == "Install"
    assert (
        f"permissions setting for ({host.dest / 'a'}) is specified more than once"
        in result.failed_event.message
    )


def test_owner_and_group_are_applied(host):
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no `nobody` user on this host")
    if os.geteuid() != 0:
        pytest.skip("chown to another user needs root")
    import grp

    group = grp.getgrgid(nobody.pw_gid).gr_name
    extra = permissions(host, f"    owner: nobody\n    group: {group}\n    type: [file, directory]\n")
    rev = app_revision(host, "r", {"a": "a", "sub/b": "b"}, extra=extra)
    assert host.deploy(rev).succeeded
    for path in (host.dest / "a", host.dest / "sub", host.dest / "sub" / "b"):
        info = os.stat(path)
        assert (info.st_uid, info.st_gid) == (nobody.pw_uid, nobody.pw_gid), path
    assert os.stat(host.dest).st_uid == os.geteuid(), "the object directory itself is not matched"


def test_acls_are_completed_from_the_mode_like_the_agent(host):
    import shutil
    import subprocess

    if not (shutil.which("setfacl") and shutil.which("getfacl")):
        if os.environ.get("CI") == "true":
            pytest.fail("setfacl/getfacl are required under CI=true (apt-get install acl)")
        pytest.skip("setfacl/getfacl not installed (apt-get install acl)")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no `nobody` user on this host")
    extra = permissions(host, '    mode: "0640"\n    acls: ["u:nobody:rw"]\n    type: [file]\n')
    result = host.deploy(app_revision(host, "r", {"a": "a"}, extra=extra))
    assert result.succeeded, result.message
    acl = subprocess.run(
        ["getfacl", "--omit-header", "--numeric", str(host.dest / "a")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    # chmod first, then `setfacl --set` with the base entries taken from that mode; the mask is the group bits
    assert acl[:2] == ["user::rw-", f"user:{nobody.pw_uid}:rw-"]
    assert "group::r--" in acl and "mask::r--" in acl and "other::---" in acl
