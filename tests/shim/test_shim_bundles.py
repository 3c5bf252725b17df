"""Revisions of every bundle type (AGENT-FACTS §6, §8): directory, zip, tar, tgz, .tar.gz, --type, the
single top-level folder strip, and an attack corpus: archives refused in every mode before anything is
unpacked or any event runs, what the agent accepts and we keep exactly (symlinks wherever they point,
setuid bits, owners), and what `--safe` refuses besides."""

from __future__ import annotations

import os
import stat
import tarfile
import uuid
import zipfile
from pathlib import Path

import pytest
from shim_support import Hook, tar_info, tar_members, tar_tree, zip_tree

APPSPEC = b"version: 0.0\nos: linux\n"


def typical_revision(host, name: str = "src"):
    """A hook that must be executable and a data file with a non-default mode."""
    rev = host.revision(
        name,
        files=[("app", str(host.dest))],
        content={"app/data.txt": "data"},
        hooks={"AfterInstall": Hook('echo "$LIFECYCLE_EVENT" > "$OUT/ran"')},
    )
    (rev / "app" / "data.txt").chmod(0o640)
    return rev


def assert_deployed(host, result):
    assert result.succeeded, (result.message, result.lint)
    assert (host.out / "ran").read_text().strip() == "AfterInstall", "the hook kept its exec bit"
    assert (host.dest / "data.txt").read_text() == "data"
    assert stat.S_IMODE(os.stat(host.dest / "data.txt").st_mode) == 0o640
    archive = Path(result.deployment_dir) / "deployment-archive"
    assert (archive / "appspec.yml").is_file()


def build(kind: str, source: Path, target_dir: Path, prefix: str = "") -> Path:
    if kind == "zip":
        return zip_tree(source, target_dir / "rev.zip", prefix=prefix)
    suffix, mode = {"tar": (".tar", "w"), "tgz": (".tgz", "w:gz"), "tar.gz": (".tar.gz", "w:gz")}[kind]
    return tar_tree(source, target_dir / f"rev{suffix}", mode=mode, prefix=prefix)


@pytest.mark.parametrize("kind", ["zip", "tar", "tgz", "tar.gz"])
def test_archive_bundles_deploy_with_their_modes(host, kind):
    bundle = build(kind, typical_revision(host), host.tmp)
    result = host.deploy(bundle)
    assert_deployed(host, result)
    bundle_file = Path(result.deployment_dir) / "bundle.tar"
    assert bundle_file.is_symlink() and os.path.realpath(bundle_file) == str(bundle), (
        "bundle.tar whatever the type"
    )


def test_a_directory_bundle_is_copied_with_no_bundle_file(host):
    result = host.deploy(typical_revision(host))
    assert_deployed(host, result)
    assert not os.path.lexists(Path(result.deployment_dir) / "bundle.tar")


@pytest.mark.parametrize("given", [None, "tgz"])
def test_a_bundle_whose_name_hides_its_type_is_sniffed_or_typed(host, given):
    bundle = tar_tree(typical_revision(host), host.tmp / "revision.bin", mode="w:gz")
    assert_deployed(host, host.deploy(bundle, bundle_type=given))


def test_type_overrides_the_name(host):
    bundle = zip_tree(typical_revision(host), host.tmp / "misnamed.tar")
    assert_deployed(host, host.deploy(bundle, bundle_type="zip"))


def test_a_directory_given_with_an_archive_type_is_refused(host):
    result = host.deploy(typical_revision(host), bundle_type="zip")
    assert result.events == [] and "is a directory, but --type zip was given" in result.message


# The single top-level folder ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["zip", "tar", "tgz"])
def test_a_single_top_level_folder_holding_the_appspec_is_stripped(host, kind):
    bundle = build(kind, typical_revision(host), host.tmp, prefix="myapp/")
    result = host.deploy(bundle)
    assert_deployed(host, result)
    assert not (Path(result.deployment_dir) / "deployment-archive" / "myapp").exists()


def test_a_dot_slash_prefixed_top_level_folder_is_stripped_too(host):
    source = typical_revision(host)
    bundle = host.tmp / "dot.tgz"
    with tarfile.open(bundle, "w:gz") as archive:
        archive.add(source, arcname="./myapp")
    assert_deployed(host, host.deploy(bundle))


def refused_with_appspec_not_at_root(result):
    """The agent unpacks it and fails at BeforeInstall, the first event that reads the AppSpec; the lint
    said why before the first event."""
    assert result.status == "Failed" and result.failed_event.event == "BeforeInstall"
    assert result.failed_event.error_code == 5
    assert "did not find an AppSpec file" in result.failed_event.message
    assert any(rule in line for line in result.lint for rule in ("REV001", "REV002")), result.lint


def test_safe_refuses_an_appspec_not_at_the_root_before_any_event(host):
    typical_revision(host, "wrapped/myapp")
    result = host.deploy(host.revs / "wrapped", safe=True)
    assert result.status == "Failed" and result.events == []
    assert any(rule in line for line in result.lint for rule in ("REV001", "REV002")), result.lint


def test_no_strip_when_macosx_metadata_sits_beside_the_folder(host):
    bundle = zip_tree(
        typical_revision(host), host.tmp / "rev.zip", prefix="myapp/", extra=["__MACOSX/myapp/._x"]
    )
    refused_with_appspec_not_at_root(host.deploy(bundle))


def test_no_strip_when_a_dotfile_sits_beside_the_folder(host):
    bundle = zip_tree(typical_revision(host), host.tmp / "rev.zip", prefix="myapp/", extra=[".gitignore"])
    refused_with_appspec_not_at_root(host.deploy(bundle))


def test_no_strip_two_levels_down(host):
    bundle = zip_tree(typical_revision(host), host.tmp / "rev.zip", prefix="outer/inner/")
    refused_with_appspec_not_at_root(host.deploy(bundle))


def test_a_directory_bundle_is_never_stripped(host):
    typical_revision(host, "wrapped/myapp")
    refused_with_appspec_not_at_root(host.deploy(host.revs / "wrapped"))


# Attack corpus ------------------------------------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path):
    """A directory outside the deployment root that an archive tries to reach, with a file to protect."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "target").write_text("precious")
    return path


def marker() -> str:
    return f"appspec-shim-evil-{uuid.uuid4().hex[:10]}"


ESCAPE = "../../../../"  # from <root>/<group>/<d-id>/deployment-archive to tmp_path


def attack_tar(name: str, outside: Path, evil: str):
    """(members, entry name expected in the message, paths that must not exist afterwards)."""
    tmp = outside.parent
    regular = (tar_info("appspec.yml"), APPSPEC)
    cases = {
        "traversal": ([regular, (tar_info(f"{ESCAPE}{evil}"), b"x")], f"{ESCAPE}{evil}", [tmp / evil]),
        "absolute": ([regular, (tar_info(f"/tmp/{evil}"), b"x")], f"/tmp/{evil}", [Path("/tmp") / evil]),
        "symlink": (
            [regular, (tar_info("passwd", tarfile.SYMTYPE, link="../../etc/passwd"), b"")],
            "passwd -> ../../etc/passwd",
            [],
        ),
        "symlink-then-file": (
            [
                regular,
                (tar_info("door", tarfile.SYMTYPE, link=f"{ESCAPE}outside"), b""),
                (tar_info(f"door/{evil}"), b"x"),
            ],
            "door",
            [outside / evil],
        ),
        "absolute-symlink": (
            [
                regular,
                (tar_info("door", tarfile.SYMTYPE, link=str(outside)), b""),
                (tar_info(f"door/{evil}"), b"x"),
            ],
            f"entry door/{evil} would be written through the symlink door",
            [outside / evil],
        ),
        "hardlink": (
            [regular, (tar_info("hard", tarfile.LNKTYPE, link=f"{ESCAPE}outside/target"), b"")],
            "hard",
            [],
        ),
        "device": (
            [regular, (tar_info("null", tarfile.CHRTYPE, mode=0o666), b"")],
            "entry null is a device",
            [],
        ),
        "fifo": ([regular, (tar_info("pipe", tarfile.FIFOTYPE), b"")], "entry pipe is a FIFO", []),
        "setuid": (
            [regular, (tar_info("suid", mode=0o4755), b"#!/bin/sh\n")],
            "entry suid has the setuid bit",
            [],
        ),
    }
    return cases[name]


def assert_refused_before_anything(host, result, named: str, must_not_exist):
    assert result.status == "Failed" and result.error_code == 5
    assert result.events == [], "refused in preflight: no event ran"
    assert "unsafe archive, nothing was unpacked" in result.message, result.message
    assert named in result.message, result.message
    assert not result.changed_host
    assert not (Path(result.deployment_dir) / "deployment-archive").exists()
    for path in must_not_exist:
        assert not os.path.lexists(path), path
    assert host.pointer("most_recent_install") is None


@pytest.mark.parametrize(
    "case",
    ["traversal", "absolute", "symlink-then-file", "absolute-symlink", "hardlink", "device", "fifo"],
)
@pytest.mark.parametrize("compression", ["w", "w:gz"])
@pytest.mark.parametrize("safe", [False, True])
def test_unsafe_tar_members_are_refused_in_every_mode(host, outside, case, compression, safe):
    evil = marker()
    members, named, must_not_exist = attack_tar(case, outside, evil)
    bundle = tar_members(
        host.tmp / ("bad.tar" if compression == "w" else "bad.tgz"), members, mode=compression
    )
    result = host.deploy(bundle, safe=safe)
    assert_refused_before_anything(host, result, named, must_not_exist)
    assert (outside / "target").read_text() == "precious"
    assert sorted(p.name for p in outside.iterdir()) == ["target"]


def zip_with(target: Path, entries, prefix: str = "") -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr(prefix + "appspec.yml", APPSPEC)
        for name, data, mode in entries:
            info = zipfile.ZipInfo(prefix + name)
            info.create_system = 3
            info.external_attr = mode << 16
            archive.writestr(info, data)
    return target


@pytest.mark.parametrize("case", ["traversal", "backslashes", "absolute"])
def test_unsafe_zip_members_are_refused(host, outside, case):
    evil = marker()
    entries, named, must_not_exist = {
        "traversal": (
            [(f"{ESCAPE}{evil}", b"x", stat.S_IFREG | 0o644)],
            f"{ESCAPE}{evil}",
            [outside.parent / evil],
        ),
        "backslashes": (
            [(f"..\\..\\..\\..\\{evil}", b"x", stat.S_IFREG | 0o644)],
            evil,
            [outside.parent / evil],
        ),
        "absolute": ([(f"/tmp/{evil}", b"x", stat.S_IFREG | 0o644)], f"/tmp/{evil}", [Path("/tmp") / evil]),
    }[case]
    result = host.deploy(zip_with(host.tmp / "bad.zip", entries))
    assert_refused_before_anything(host, result, named, must_not_exist)


# What the agent unpacks and we keep as it does --------------------------------------------------------------


def _archive(host, kind: str, entries, prefix: str = "") -> Path:
    """A zip or tgz of (name, data, mode) entries beside an appspec.yml, under `prefix` if given (which
    sends the unpack through Python instead of tar/unzip)."""
    if kind == "zip":
        return zip_with(host.tmp / "rev.zip", entries, prefix)
    members = [(tar_info(prefix + "appspec.yml"), APPSPEC)]
    for name, data, mode in entries:
        if stat.S_ISLNK(mode):
            members.append((tar_info(prefix + name, tarfile.SYMTYPE, link=data.decode()), b""))
        else:
            members.append((tar_info(prefix + name, mode=stat.S_IMODE(mode)), data))
    return tar_members(host.tmp / "rev.tgz", members, mode="w:gz")


@pytest.mark.parametrize("kind", ["zip", "tgz"])
@pytest.mark.parametrize("prefix", ["", "myapp/"])
@pytest.mark.parametrize("safe", [False, True])
def test_symlinks_pointing_anywhere_are_kept_as_symlinks_like_the_agent(host, outside, kind, prefix, safe):
    entries = [
        ("passwd", b"../../etc/passwd", stat.S_IFLNK | 0o777),
        ("door", str(outside).encode(), stat.S_IFLNK | 0o777),
    ]
    result = host.deploy(_archive(host, kind, entries, prefix), safe=safe)
    assert result.succeeded, result.message
    archive = Path(result.deployment_dir) / "deployment-archive"
    assert os.readlink(archive / "passwd") == "../../etc/passwd"
    assert os.readlink(archive / "door") == str(outside)
    assert sorted(p.name for p in outside.iterdir()) == ["target"]


@pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")  # the zip is built so on purpose
@pytest.mark.parametrize("kind", ["zip", "tgz"])
@pytest.mark.parametrize("prefix", ["", "myapp/"])
def test_a_member_replacing_a_symlink_of_the_same_name_never_writes_through_it(host, outside, kind, prefix):
    entries = [
        ("door", str(outside / "target").encode(), stat.S_IFLNK | 0o777),
        ("door", b"evil", stat.S_IFREG | 0o644),
    ]
    result = host.deploy(_archive(host, kind, entries, prefix))
    assert (outside / "target").read_text() == "precious"
    assert result.succeeded, result.message
    door = Path(result.deployment_dir) / "deployment-archive" / "door"
    # GNU tar creates an absolute link last, over the file; unzip and Python replace the link by the file
    assert os.readlink(door) == str(outside / "target") if door.is_symlink() else door.read_bytes() == b"evil"


@pytest.mark.parametrize(
    "kind, prefix, kept",
    [("tgz", "", True), ("tgz", "myapp/", True), ("zip", "", False), ("zip", "myapp/", False)],
)
def test_a_setuid_file_is_unpacked_as_the_agent_unpacks_it_and_refused_with_safe(host, kind, prefix, kept):
    """`tar -xp` keeps the setuid bit; `unzip -qo` (no -K) drops it."""
    entries = [("suid", b"#!/bin/sh\n", stat.S_IFREG | 0o4755)]
    result = host.deploy(_archive(host, kind, entries, prefix))
    assert result.succeeded, result.message
    mode = os.stat(Path(result.deployment_dir) / "deployment-archive" / "suid").st_mode
    assert bool(mode & stat.S_ISUID) == kept and stat.S_IMODE(mode) & 0o777 == 0o755, oct(mode)
    refused = host.deploy(_archive(host, kind, entries), safe=True)
    assert refused.events == [] and "entry suid has the setuid bit" in refused.message


def test_a_tar_with_more_than_100000_entries_is_refused(host):
    bundle = host.tmp / "many.tar"
    with tarfile.open(bundle, "w", format=tarfile.GNU_FORMAT) as archive:
        for number in range(100_001):
            archive.addfile(tarfile.TarInfo(f"f/{number}"))
    result = host.deploy(bundle)
    assert result.status == "Failed" and result.events == []
    assert "more than 100,000 entries" in result.message
    assert not (Path(result.deployment_dir) / "deployment-archive").exists()


def test_a_zip_with_more_than_100000_entries_is_refused(host):
    bundle = host.tmp / "many.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        for number in range(100_001):
            archive.writestr(f"f/{number}", b"")
    result = host.deploy(bundle)
    assert result.status == "Failed" and result.events == []
    assert "more than 100,000 entries" in result.message


def test_a_safe_internal_symlink_is_allowed(host):
    rev = typical_revision(host)
    (rev / "app" / "alias.txt").symlink_to("data.txt")
    result = host.deploy(tar_tree(rev, host.tmp / "ok.tgz", mode="w:gz"))
    assert_deployed(host, result)
    assert os.readlink(host.dest / "alias.txt") == "data.txt"


def test_skip_lint_still_refuses_an_unsafe_archive(host, outside):
    evil = marker()
    members, named, must_not_exist = attack_tar("traversal", outside, evil)
    result = host.deploy(tar_members(host.tmp / "bad.tar", members, mode="w"), skip_lint=True)
    assert_refused_before_anything(host, result, named, must_not_exist)
