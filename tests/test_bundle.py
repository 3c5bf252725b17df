"""`appspec bundle`: lint first, reproducible bytes, exec bits kept, VCS and macOS litter left out."""

import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from appspec_tools.bundler import IgnoreRules
from appspec_tools.cli import main

REPO = Path(__file__).resolve().parent.parent
CLEAN = REPO / "tests" / "fixtures" / "revisions" / "clean"
MISSING_SCRIPT = REPO / "tests" / "fixtures" / "revisions" / "missing-script"
SAMPLE_APP = REPO / "sample_app"


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(map(str, argv)), out, err)
    return code, out.getvalue(), err.getvalue()


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def names(archive) -> list:
    archive = str(archive)
    if archive.endswith(".zip"):
        with zipfile.ZipFile(archive) as opened:
            return [info.filename.rstrip("/") for info in opened.infolist()]
    with tarfile.open(archive) as opened:
        return opened.getnames()


def copy_tree(source, target, umask, mtime):
    """A checkout of `source` as another machine would have it: another umask, other times."""
    old = os.umask(umask)
    try:
        shutil.copytree(source, target, copy_function=shutil.copy)
        for folder, dirs, files in os.walk(target):
            for name in dirs + files:
                path = os.path.join(folder, name)
                executable = os.stat(path).st_mode & 0o100
                os.chmod(path, (0o777 if executable or name in dirs else 0o666) & ~umask)
                os.utime(path, (mtime, mtime))
    finally:
        os.umask(old)
    return target


@pytest.mark.parametrize("suffix", [".zip", ".tar", ".tgz"])
def test_same_tree_gives_same_bytes_whatever_the_times_umask_and_output_name(tmp_path, suffix):
    first = copy_tree(CLEAN, tmp_path / "a" / "rev", umask=0o022, mtime=1_000_000_000)
    second = copy_tree(CLEAN, tmp_path / "b" / "rev", umask=0o002, mtime=1_700_000_000)
    assert run("bundle", first, "-o", tmp_path / f"one{suffix}")[0] == 0
    assert run("bundle", second, "-o", tmp_path / f"two{suffix}")[0] == 0
    assert sha256(tmp_path / f"one{suffix}") == sha256(tmp_path / f"two{suffix}")


def test_prints_the_size_and_checksum_of_what_it_wrote(tmp_path):
    output = tmp_path / "revision.zip"
    code, out, err = run("bundle", CLEAN, "-o", output)
    assert (code, err) == (0, "")
    assert f"wrote {output} (zip, 10 entries, " in out
    assert f"sha256 {sha256(output)}" in out


def test_json_output_describes_the_bundle(tmp_path):
    output = tmp_path / "revision.tgz"
    code, out, _ = run("bundle", CLEAN, "-o", output, "--format", "json")
    assert code == 0
    assert json.loads(out) == {
        "path": str(output),
        "bundleType": "tgz",
        "size": output.stat().st_size,
        "sha256": sha256(output),
        "entries": 10,
        "warnings": [],
    }


def test_exec_bits_are_kept_in_zip_external_attributes(tmp_path):
    output = tmp_path / "revision.zip"
    assert run("bundle", CLEAN, "-o", output)[0] == 0
    with zipfile.ZipFile(output) as archive:
        modes = {info.filename: (info.create_system, info.external_attr >> 16) for info in archive.infolist()}
    assert modes["scripts/start_server.sh"] == (3, stat.S_IFREG | 0o755)
    assert modes["appspec.yml"] == (3, stat.S_IFREG | 0o644)
    assert modes["app/"] == (3, stat.S_IFDIR | 0o755)


@pytest.mark.parametrize("suffix", [".tar", ".tgz"])
def test_exec_bits_and_owner_are_fixed_in_tar_headers(tmp_path, suffix):
    output = tmp_path / f"revision{suffix}"
    assert run("bundle", CLEAN, "-o", output)[0] == 0
    with tarfile.open(output) as archive:
        members = {member.name: member for member in archive.getmembers()}
    assert members["scripts/validate_service.py"].mode == 0o755
    assert members["app/index.html"].mode == 0o644
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in members.values()} == {
        (0, 0, "", "", 315532800)
    }


def test_gzip_header_has_no_name_and_no_time(tmp_path):
    output = tmp_path / "revision.tgz"
    assert run("bundle", CLEAN, "-o", output)[0] == 0
    header = output.read_bytes()[:10]
    assert header[3] & 0x08 == 0  # FNAME flag: no file name stored
    assert header[4:8] == b"\0\0\0\0"  # MTIME


def test_source_date_epoch_sets_every_timestamp(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    output = tmp_path / "revision.tar"
    assert run("bundle", CLEAN, "-o", output)[0] == 0
    with tarfile.open(output) as archive:
        assert {member.mtime for member in archive.getmembers()} == {1700000000}


def test_preserve_modes_stores_the_bits_on_disk(tmp_path):
    revision = copy_tree(CLEAN, tmp_path / "rev", umask=0o022, mtime=0)
    os.chmod(revision / "app" / "config" / "settings.json", 0o600)
    output = tmp_path / "revision.tar"
    assert run("bundle", revision, "-o", output, "--preserve-modes")[0] == 0
    with tarfile.open(output) as archive:
        assert archive.getmember("app/config/settings.json").mode == 0o600


def make_littered_revision(root: Path) -> Path:
    shutil.copytree(CLEAN, root)
    for name in (".git/config", "app/.svn/entries", ".hg/store", "__MACOSX/._appspec.yml", "app/__MACOSX/x"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("litter\n")
    for name in (".DS_Store", "app/.DS_Store", "debug.log", "app/keep.log", "build/out.bin", "notes.txt"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("data\n")
    (root / "app" / "notes.txt").write_text("kept: the pattern is anchored\n")
    (root / ".appspecignore").write_text("# build output\n*.log\n!keep.log\nbuild/\n/notes.txt\n")
    return root


@pytest.mark.parametrize("suffix", [".zip", ".tgz"])
def test_vcs_folders_macos_litter_and_ignored_patterns_are_left_out(tmp_path, suffix):
    revision = make_littered_revision(tmp_path / "rev")
    output = tmp_path / f"revision{suffix}"
    assert run("bundle", revision, "-o", output)[0] == 0
    assert names(output) == [
        "VERSION", "app", "app/config", "app/config/settings.json", "app/index.html", "app/keep.log",
        "app/notes.txt", "appspec.yml", "scripts", "scripts/install_dependencies.sh", "scripts/start_server.sh",
        "scripts/validate_service.py",
    ]  # fmt: skip


def test_ignore_file_can_live_elsewhere(tmp_path):
    patterns = tmp_path / "bundle-ignore"
    patterns.write_text("app/config/\n/app/index.html\n")
    output = tmp_path / "revision.zip"
    assert run("bundle", CLEAN, "-o", output, "--ignore-file", patterns)[0] == 0
    assert [name for name in names(output) if name.startswith("app")] == ["app", "appspec.yml"]


def test_a_missing_ignore_file_named_on_the_command_line_is_an_error(tmp_path):
    code, _, err = run("bundle", CLEAN, "-o", tmp_path / "r.zip", "--ignore-file", tmp_path / "nope")
    assert (code, err) == (2, f"appspec bundle: {tmp_path / 'nope'}: no such ignore file\n")


def test_ignoring_a_file_the_appspec_installs_is_caught_in_the_archive(tmp_path):
    patterns = tmp_path / "bundle-ignore"
    patterns.write_text("VERSION\n")
    output = tmp_path / "revision.zip"
    code, _, err = run("bundle", CLEAN, "-o", output, "--ignore-file", patterns)
    assert code == 1
    assert f"{output}/appspec.yml:" in err and "VERSION" in err
    assert not output.exists()


def test_an_archive_written_inside_the_revision_is_not_bundled_into_the_next(tmp_path):
    revision = copy_tree(CLEAN, tmp_path / "rev", umask=0o022, mtime=0)
    first = run("bundle", revision, "-o", revision / "revision.zip")
    second = run("bundle", revision, "-o", revision / "revision.zip")
    assert first[0] == second[0] == 0
    assert "revision.zip" not in names(revision / "revision.zip")
    assert first[1] == second[1]


@pytest.mark.parametrize("suffix", [".zip", ".tar"])
def test_symlinks_stay_symlinks(tmp_path, suffix):
    revision = copy_tree(CLEAN, tmp_path / "rev", umask=0o022, mtime=0)
    os.symlink("index.html", revision / "app" / "default.html")
    output = tmp_path / f"revision{suffix}"
    assert run("bundle", revision, "-o", output)[0] == 0
    if suffix == ".zip":
        with zipfile.ZipFile(output) as archive:
            info = archive.getinfo("app/default.html")
            assert stat.S_ISLNK(info.external_attr >> 16)
            assert archive.read(info) == b"index.html"
    else:
        with tarfile.open(output) as archive:
            member = archive.getmember("app/default.html")
            assert member.issym() and member.linkname == "index.html"


def test_refuses_a_revision_with_lint_errors(tmp_path):
    output = tmp_path / "revision.zip"
    code, out, err = run("bundle", MISSING_SCRIPT, "-o", output)
    assert code == 1
    assert "error REV010 Script does not exist at specified location: scripts/start.sh" in err
    assert "lint errors; not bundling (fix them, or pass --no-lint)" in err
    assert out == ""
    assert not output.exists()
    assert not list(tmp_path.iterdir())


def test_no_lint_bundles_it_anyway(tmp_path):
    output = tmp_path / "revision.zip"
    assert run("bundle", MISSING_SCRIPT, "-o", output, "--no-lint")[0] == 0
    assert "appspec.yml" in names(output)


def test_the_appspec_must_be_at_the_root(tmp_path):
    shutil.copytree(CLEAN, tmp_path / "repo" / "deploy")
    code, _, err = run("bundle", tmp_path / "repo", "-o", tmp_path / "revision.zip")
    assert code == 2
    assert err == (
        f"appspec bundle: {tmp_path / 'repo'}: no appspec.yml at the revision root (CodeDeploy looks only there); "
        f"did you mean {tmp_path / 'repo' / 'deploy'}?\n"
    )


def test_warnings_are_shown_but_do_not_block(tmp_path):
    revision = copy_tree(CLEAN, tmp_path / "rev", umask=0o022, mtime=0)
    text = (revision / "appspec.yml").read_text() + "overwrite: yes\n"
    (revision / "appspec.yml").write_text(text)
    code, _, err = run("bundle", revision, "-o", tmp_path / "revision.zip")
    assert code == 0
    assert "warning" in err and "overwrite" in err


@pytest.mark.parametrize("suffix", [".zip", ".tar", ".tgz"])
@pytest.mark.parametrize("source", [CLEAN, SAMPLE_APP], ids=["clean", "sample_app"])
def test_the_archive_lints_clean(tmp_path, source, suffix):
    output = tmp_path / f"revision{suffix}"
    assert run("bundle", source, "-o", output)[0] == 0
    code, out, _ = run("lint", "--no-config", output)
    assert (code, out.strip().splitlines()[-1]) == (0, "1 file checked, no problems")


def write_deployable_revision(root: Path, marker: Path) -> Path:
    (root / "scripts").mkdir(parents=True)
    (root / "site").mkdir()
    (root / "site" / "index.html").write_text("<h1>hello</h1>\n")
    (root / "site" / "run.sh").write_text("#!/bin/sh\necho run\n")
    os.chmod(root / "site" / "run.sh", 0o755)
    (root / "scripts" / "after_install.sh").write_text(f'#!/bin/sh\necho "$LIFECYCLE_EVENT" >> {marker}\n')
    os.chmod(root / "scripts" / "after_install.sh", 0o755)
    (root / "appspec.yml").write_text(
        "version: 0.0\nos: linux\nfiles:\n  - source: site\n    destination: /srv/site\n"
        "hooks:\n  AfterInstall:\n    - location: scripts/after_install.sh\n      timeout: 30\n"
    )
    return root


@pytest.mark.parametrize("suffix", [".zip", ".tgz"])
def test_the_archive_deploys_with_the_local_shim(tmp_path, suffix):
    marker = tmp_path / "hooks-ran"
    revision = write_deployable_revision(tmp_path / "rev", marker)
    output = tmp_path / f"revision{suffix}"
    assert run("bundle", revision, "-o", output)[0] == 0
    code, out, err = run(
        "deploy", "--bundle", output, "--root", tmp_path / "root", "--install-root", tmp_path / "install"
    )
    assert code == 0, out + err
    assert marker.read_text() == "AfterInstall\n"
    installed = tmp_path / "install" / "srv" / "site"
    assert (installed / "index.html").read_text() == "<h1>hello</h1>\n"
    assert os.stat(installed / "run.sh").st_mode & 0o111


@pytest.mark.parametrize(
    "pattern, path, is_dir, excluded",
    [
        ("*.log", "debug.log", False, True),
        ("*.log", "deep/down/debug.log", False, True),
        ("/notes.txt", "notes.txt", False, True),
        ("/notes.txt", "app/notes.txt", False, False),
        ("build/", "build", True, True),
        ("build/", "build", False, False),
        ("docs/*.md", "docs/a.md", False, True),
        ("docs/*.md", "docs/sub/a.md", False, False),
        ("docs/**/*.md", "docs/sub/deeper/a.md", False, True),
        ("**/cache", "a/b/cache", True, True),
        ("file?.txt", "file1.txt", False, True),
        ("file[!0-9].txt", "file1.txt", False, False),
        ("\\#notes", "#notes", False, True),
    ],
)
def test_ignore_patterns_follow_gitignore(pattern, path, is_dir, excluded):
    assert IgnoreRules([pattern]).excludes(path, is_dir) is excluded


def test_the_last_matching_ignore_line_wins():
    rules = IgnoreRules(["*.log", "!keep.log", "# comment", "", "keep.log"])
    assert rules.excludes("keep.log", False)
    assert not IgnoreRules(["*.log", "!keep.log"]).excludes("a/keep.log", False)
