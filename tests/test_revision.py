"""Revisions (directory, zip, tar, tgz) and the REV cross-checks between an AppSpec and its bundle.

Fixture revisions are folders under tests/fixtures/revisions/; archives are built from them (or from
small trees written here) into tmp_path at test time, never committed.
"""

import io
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appspec_tools.linter import LintOptions, lint_bytes, lint_paths
from appspec_tools.revision import (
    DIR,
    FILE,
    MAX_ENTRIES,
    SETUID,
    SYMLINK,
    SYMLINK_OUT,
    THROUGH_SYMLINK,
    Entry,
    RevisionError,
    clean_name,
    is_archive,
    open_revision,
    unsafe_reason,
)
from appspec_tools.rules.revision_bundle import RULE_IDS, revision_problems

FIXTURES = Path(__file__).parent / "fixtures" / "revisions"
APPSPEC = "version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: scripts/start.sh\n"
SCRIPT = "#!/bin/bash\nsystemctl start shop\n"


def write_tree(root: Path, files: dict) -> Path:
    """name -> text, or (text, mode); text None makes a directory."""
    for name, spec in files.items():
        text, mode = spec if isinstance(spec, tuple) else (spec, 0o755 if name.endswith(".sh") else 0o644)
        path = root / name
        if text is None:
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        path.chmod(mode)
    return root


def make_zip(
    source: Path, target: Path, prefix: str = "", extra: dict = (), method=zipfile.ZIP_DEFLATED
) -> Path:
    """A zip of a folder's contents under `prefix`, modes kept (external_attr), plus raw extra entries."""
    with zipfile.ZipFile(target, "w", method) as archive:
        for path in sorted(source.rglob("*")):
            archive.write(path, prefix + path.relative_to(source).as_posix())
        for name, data in dict(extra).items():
            archive.writestr(name, data)
    return target


def make_tar(source: Path, target: Path, prefix: str = "") -> Path:
    mode = "w:gz" if target.name.endswith(("gz", ".tgz")) else "w"
    with tarfile.open(target, mode) as archive:
        for path in sorted(source.rglob("*")):
            archive.add(path, prefix + path.relative_to(source).as_posix(), recursive=False)
    return target


def lint(path, *disabled) -> list:
    report = lint_paths([str(path)], LintOptions(disabled=frozenset(disabled)))
    assert not report.errors, report.errors
    return [(p.rule_id, p.path, p.line, p.column) for p in report.problems]


def rev_ids(path) -> list:
    return [rule for rule, *_ in lint(path) if rule.startswith("REV")]


def cli(path, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "appspec_tools", "lint", "--no-config", str(path)],
        cwd=cwd, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


# --- the fixture revisions, as directories and as every archive type -------------------------------


@pytest.mark.parametrize("kind", ["dir", "zip", "tar", "tgz", "tar.gz"])
def test_clean_revision_has_no_findings_in_any_form(kind, tmp_path):
    source = FIXTURES / "clean"
    path = (
        source if kind == "dir" else (make_zip if kind == "zip" else make_tar)(source, tmp_path / f"b.{kind}")
    )
    assert lint(path) == []


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing-script", [("REV010", 5, 17)]),
        ("not-executable", [("REV014", 5, 17)]),
        ("crlf-shebang", [("REV012", 5, 17)]),
        ("no-shebang", [("REV013", 5, 17)]),
        ("script-is-directory", [("REV011", 5, 17)]),
        ("missing-source", [("REV016", 4, 13)]),
        ("windows", []),  # no #!, no exec bit and CRLF are fine for PowerShell
    ],
)
@pytest.mark.parametrize("kind", ["dir", "zip", "tgz"])
def test_fixture_revision_findings(case, expected, kind, tmp_path):
    source = FIXTURES / case
    path = (
        source if kind == "dir" else (make_zip if kind == "zip" else make_tar)(source, tmp_path / f"b.{kind}")
    )
    if case == "windows" and kind == "tgz":
        expected = [("REV017", 3, 5)]  # the Windows agent wants zip
    problems = lint_paths([str(path)], LintOptions()).problems
    assert [(p.rule_id, p.line, p.column) for p in problems if p.rule_id.startswith("REV")] == expected


def test_missing_script_names_the_agent_message_and_suggests_the_real_file():
    (problem,) = lint_paths([str(FIXTURES / "missing-script")], LintOptions()).problems
    assert problem.path.endswith("missing-script/appspec.yml")
    assert problem.message.startswith("Script does not exist at specified location: scripts/start.sh")
    assert "did you mean 'scripts/start_server.sh'" in problem.message


def test_missing_source_is_named_and_an_existing_file_source_passes():
    problems = lint_paths([str(FIXTURES / "missing-source")], LintOptions()).problems
    messages = [p.message for p in problems if p.rule_id == "REV016"]
    assert messages == [f"files source dist does not exist in {FIXTURES / 'missing-source'}: Install fails"]


def test_windows_revision_in_a_tgz_is_warned(tmp_path):
    assert rev_ids(make_tar(FIXTURES / "windows", tmp_path / "b.tgz")) == ["REV017"]


def test_exec_bits_come_from_zip_external_attr_and_tar_mode(tmp_path):
    zipped = make_zip(FIXTURES / "clean", tmp_path / "b.zip")
    tarred = make_tar(FIXTURES / "clean", tmp_path / "b.tar")
    for path in (zipped, tarred):
        with open_revision(str(path)) as rev:
            assert rev.mode("scripts/start_server.sh") == 0o755
            assert rev.mode("VERSION") == 0o644


def test_zip_without_unix_modes_unpacks_scripts_without_exec_bit(tmp_path):
    path = tmp_path / "windows-made.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in (("appspec.yml", APPSPEC), ("scripts/start.sh", SCRIPT)):
            info = zipfile.ZipInfo(name)
            info.create_system = 0  # MS-DOS: no Unix mode stored
            archive.writestr(info, text)
    with open_revision(str(path)) as rev:
        assert rev.mode("scripts/start.sh") is None
    (problem,) = lint_paths([str(path)], LintOptions()).problems
    assert problem.rule_id == "REV014" and "no Unix mode" in problem.message


# --- script content checks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (SCRIPT, []),
        ("#!/bin/bash\r\necho hi\r\n", ["REV012"]),
        ("#!/bin/bash\necho hi\r\nexit 0\r\n", ["REV012"]),  # CRLF in a shell script's body
        ("#!/usr/bin/env python3\nprint('hi')\r\n", []),  # python reads CRLF fine after the #! line
        ("echo hi\r\n", ["REV012", "REV013"]),  # no #!: /bin/sh runs it
        ("\ufeff#!/bin/bash\necho hi\n", ["REV013"]),
        ("", ["REV013"]),
        (b"\x7fELF\x02\x01\x01" + bytes(64), []),
        ("#!/usr/bin/env python\nprint('hi')\n", ["REV015"]),
        ("#!/usr/bin/python2\nprint 'hi'\n", ["REV015"]),
        ("#!/usr/bin/env -S python3 -u\nprint('hi')\n", []),
    ],
)
def test_script_content(script, expected, tmp_path):
    write_tree(tmp_path, {"appspec.yml": APPSPEC, "scripts/start.sh": script})
    assert sorted(rev_ids(tmp_path)) == expected


def test_crlf_shebang_message_shows_the_interpreter(tmp_path):
    write_tree(tmp_path, {"appspec.yml": APPSPEC, "scripts/start.sh": "#!/bin/bash\r\necho\r\n"})
    (problem,) = lint_paths([str(tmp_path)], LintOptions()).problems
    assert "'/bin/bash\\r'" in problem.message and "bad interpreter" in problem.message


def test_leading_slash_location_resolves_inside_the_revision(tmp_path):
    write_tree(
        tmp_path, {"appspec.yml": APPSPEC.replace("scripts/", "/scripts/"), "scripts/start.sh": SCRIPT}
    )
    assert rev_ids(tmp_path) == []


def test_symlinked_script_inside_the_revision_is_followed(tmp_path):
    write_tree(tmp_path, {"appspec.yml": APPSPEC, "bin/start.sh": SCRIPT, "scripts": None})
    os.symlink("../bin/start.sh", tmp_path / "scripts" / "start.sh")
    assert rev_ids(tmp_path) == []
    os.symlink("loop", tmp_path / "scripts" / "loop")
    write_tree(tmp_path, {"appspec.yml": APPSPEC.replace("start.sh", "loop")})
    (problem,) = lint_paths([str(tmp_path)], LintOptions()).problems
    assert problem.rule_id == "REV010" and "symlink loop" in problem.message


def test_unknown_events_and_odd_shapes_are_left_to_the_hook_rules(tmp_path):
    text = (
        "version: 0.0\nos: linux\nfiles: /\nhooks:\n  AfterInstal:\n    - location: nope.sh\n"
        "  ApplicationStart: nope.sh\n  ValidateService:\n    - location: 12\n    - [a]\n    - location:\n"
    )
    write_tree(tmp_path, {"appspec.yml": text})
    assert rev_ids(tmp_path) == []


def test_source_slash_and_dot_mean_the_whole_revision(tmp_path):
    text = "version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: /opt/a\n  - source: ./\n    destination: /opt/b\n"
    write_tree(tmp_path, {"appspec.yml": text})
    assert rev_ids(tmp_path) == []


def test_rev_rules_can_be_disabled(tmp_path):
    assert lint(FIXTURES / "missing-script", "REV010") == []
    path = make_zip(FIXTURES / "clean", tmp_path / "b.zip", "outer/app/")
    assert lint(path, "REV002") == []


# --- where the agent finds the AppSpec: the top-level folder strip ---------------------------------


def test_zip_of_the_folder_is_stripped_like_the_agent(tmp_path):
    path = make_zip(FIXTURES / "clean", tmp_path / "b.zip", "shop/")
    with open_revision(str(path)) as rev:
        assert (rev.prefix, rev.appspec_member) == ("shop/", "appspec.yml")
        assert rev.display("appspec.yml") == f"{path}/shop/appspec.yml"
    assert lint(path) == []


def test_two_folders_down_the_appspec_is_not_found(tmp_path):
    path = make_zip(FIXTURES / "clean", tmp_path / "b.zip", "build/shop/")
    problems = lint_paths([str(path)], LintOptions()).problems
    assert [(p.rule_id, p.path, p.line, p.column) for p in problems] == [("REV002", str(path), 1, 1)]
    assert "build/shop/appspec.yml, 2 folders down" in problems[0].message


def test_macosx_beside_the_top_folder_prevents_the_strip(tmp_path):
    path = make_zip(
        FIXTURES / "clean", tmp_path / "b.zip", "shop/", extra={"__MACOSX/shop/._appspec.yml": "x"}
    )
    with open_revision(str(path)) as rev:
        assert rev.prefix == "" and rev.appspec_member is None
    problems = lint_paths([str(path)], LintOptions()).problems
    assert [p.rule_id for p in problems] == ["REV002", "REV007"]
    assert "__MACOSX is beside it" in problems[0].message


def test_a_dotfile_beside_the_top_folder_prevents_the_strip(tmp_path):
    path = make_zip(FIXTURES / "clean", tmp_path / "b.zip", "shop/", extra={".gitignore": "*.pyc\n"})
    assert rev_ids(path) == ["REV002"]


def test_strip_needs_a_name_matching_appspec_directly_in_the_top_folder(tmp_path):
    path = make_zip(
        FIXTURES / "clean", tmp_path / "b.zip", "shop/src/", extra={"shop/APPSPEC-notes.txt": "x"}
    )
    with open_revision(str(path)) as rev:
        assert rev.prefix == "shop/"  # stripped, then no AppSpec at the new root
    assert rev_ids(path) == ["REV002"]


def test_no_appspec_anywhere_and_wrong_case(tmp_path):
    assert rev_ids(make_zip(write_tree(tmp_path / "a", {"index.html": "x"}), tmp_path / "a.zip")) == [
        "REV001"
    ]
    write_tree(tmp_path / "b", {"AppSpec.yml": APPSPEC})
    problems = lint_paths([str(make_zip(tmp_path / "b", tmp_path / "b.zip"))], LintOptions()).problems
    assert [p.rule_id for p in problems] == ["REV001"] and "case-sensitive" in problems[0].message


def test_two_appspec_variants_are_warned_and_yml_is_linted(tmp_path):
    write_tree(tmp_path, {"appspec.yml": APPSPEC, "appspec.yaml": "broken: [", "scripts/start.sh": SCRIPT})
    assert rev_ids(tmp_path) == ["REV009"]


def test_ds_store_is_reported_once_with_a_count(tmp_path):
    write_tree(
        tmp_path,
        {"appspec.yml": APPSPEC, "scripts/start.sh": SCRIPT, ".DS_Store": "x", "scripts/.DS_Store": "y"},
    )
    (problem,) = lint_paths([str(tmp_path)], LintOptions()).problems
    assert problem.rule_id == "REV008" and "and 1 more" in problem.message


def test_directory_revision_is_never_stripped(tmp_path):
    write_tree(tmp_path, {"shop/appspec.yml": APPSPEC, "shop/scripts/start.sh": SCRIPT})
    with open_revision(str(tmp_path)) as rev:
        assert rev.appspec_member is None
        assert [p.rule_id for p in revision_problems(rev)] == ["REV002"]


def test_lint_dir_finds_revisions_below_it(tmp_path):
    shutil.copytree(FIXTURES / "clean", tmp_path / "shop")
    shutil.copytree(FIXTURES / "missing-script", tmp_path / "api")
    report = lint_paths([str(tmp_path)], LintOptions())
    assert report.files == 2 and [p.rule_id for p in report.problems] == ["REV010"]


def test_archive_detected_by_magic_without_suffix(tmp_path):
    path = make_zip(FIXTURES / "clean", tmp_path / "bundle")
    assert is_archive(str(path)) and not is_archive(str(FIXTURES / "clean" / "appspec.yml"))
    assert is_archive("missing.tar.gz") and is_archive("B.TGZ")
    assert lint(path) == []


def test_read_is_bounded_and_display_names_the_member(tmp_path):
    path = make_tar(FIXTURES / "clean", tmp_path / "b.tgz")
    with open_revision(str(path)) as rev:
        assert rev.read("scripts/start_server.sh", 4) == b"#!/b"
        assert rev.exists("app/config") and not rev.is_regular("app/config") and rev.is_regular("VERSION")
        assert not rev.exists("nope") and rev.display("VERSION") == f"{path}/VERSION"
        assert {e.name: e.kind for e in rev.entries()}["app"] == DIR
        with pytest.raises(RevisionError):
            rev.read("app", 10)
    with open_revision(str(FIXTURES / "clean")) as rev:
        assert rev.display("appspec.yml") == str(FIXTURES / "clean" / "appspec.yml")


def test_zip_without_directory_entries_has_implicit_folders(tmp_path):
    path = tmp_path / "b.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("shop/appspec.yml", APPSPEC)
        archive.writestr(zipfile.ZipInfo("shop/scripts/start.sh"), SCRIPT)
    with open_revision(str(path)) as rev:
        assert rev.prefix == "shop/" and rev.entry("scripts").kind == DIR


# --- unreadable inputs: exit 2 and one line, never a traceback -------------------------------------


def broken_inputs(tmp_path: Path) -> dict:
    tgz = make_tar(FIXTURES / "clean", tmp_path / "good.tgz").read_bytes()
    zipped = make_zip(FIXTURES / "clean", tmp_path / "good.zip").read_bytes()
    return {
        "corrupt.zip": zipped[:200] + bytes(len(zipped) - 200),
        "truncated.tgz": tgz[: len(tgz) // 2],
        "random.zip": os.urandom(4096),
        "empty.tar.gz": b"",
        "random.tar": os.urandom(2048),
        "truncated.tar": make_tar(FIXTURES / "clean", tmp_path / "good.tar").read_bytes()[:1500],
    }


@pytest.mark.parametrize(
    "name", ["corrupt.zip", "truncated.tgz", "random.zip", "empty.tar.gz", "random.tar", "truncated.tar"]
)
def test_unreadable_archive_is_one_line_and_exit_2(name, tmp_path):
    path = tmp_path / name
    path.write_bytes(broken_inputs(tmp_path)[name])
    result = cli(path, tmp_path)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and name in result.stderr


def test_directory_without_appspec_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "empty").mkdir()
    result = cli(tmp_path / "empty", tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_cli_reports_revision_findings_with_the_member_path(tmp_path):
    make_zip(FIXTURES / "missing-script", tmp_path / "b.zip")
    result = cli("b.zip", tmp_path)
    assert result.returncode == 1 and "b.zip/appspec.yml:5:17:" in result.stdout and "REV010" in result.stdout


def test_corrupt_member_data_is_a_revision_error(tmp_path):
    path = make_zip(FIXTURES / "clean", tmp_path / "b.zip", method=zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    at = data.index(b"#!/bin/bash\nset")  # a stored member: change its bytes so the CRC check fails
    data[at : at + 11] = b"#!/bin/bosh"
    path.write_bytes(bytes(data))
    report = lint_paths([str(path)], LintOptions())
    assert len(report.errors) == 1 and "Bad CRC" in report.errors[0]


# --- the archive attack corpus ---------------------------------------------------------------------


def tar_with(path: Path, *infos) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, text in (("appspec.yml", "version: 0.0\nos: linux\n"),):
            info = tarfile.TarInfo(name)
            info.size = len(text)
            archive.addfile(info, io.BytesIO(text.encode()))
        for info in infos:
            archive.addfile(info, io.BytesIO(b"x" * info.size) if info.isreg() else None)
    return path


def info(name, kind=tarfile.REGTYPE, linkname="", mode=0o644, size=0):
    item = tarfile.TarInfo(name)
    item.type, item.linkname, item.mode, item.size = kind, linkname, mode, size
    return item


@pytest.mark.parametrize(
    ("member", "rule"),
    [
        (info("../x", size=1), "REV003"),
        (info("/etc/x", size=1), "REV003"),
        (info("a/../../x", size=1), "REV003"),
        (info("shadow", tarfile.LNKTYPE, "../../etc/shadow"), "REV004"),
        (info("null", tarfile.CHRTYPE), "REV005"),
        (info("disk", tarfile.BLKTYPE), "REV005"),
        (info("pipe", tarfile.FIFOTYPE), "REV005"),
    ],
    ids=lambda value: value.name if isinstance(value, tarfile.TarInfo) else value,
)
def test_unsafe_tar_entries_are_errors_at_the_archive(member, rule, tmp_path):
    path = tar_with(tmp_path / "evil.tgz", member)
    problems = [p for p in lint_paths([str(path)], LintOptions()).problems if p.rule_id.startswith("REV")]
    assert [(p.rule_id, p.path, p.line, p.column, p.severity.label) for p in problems] == [
        (rule, str(path), 1, 1, "error")
    ]


@pytest.mark.parametrize(
    ("member", "rule"),
    [
        (info("passwd", tarfile.SYMTYPE, "../../etc/passwd"), "REV018"),
        (info("etc", tarfile.SYMTYPE, "/etc"), "REV018"),
        (info("bin/tool", mode=0o4755, size=1), "REV006"),
        (info("bin/grp", mode=0o2755, size=1), "REV006"),
    ],
    ids=lambda value: value.name if isinstance(value, tarfile.TarInfo) else value,
)
def test_entries_the_agent_unpacks_as_they_are_are_warnings(member, rule, tmp_path):
    """The agent deploys a symlink pointing out and a setuid file: a warning, never an error."""
    path = tar_with(tmp_path / "odd.tgz", member)
    problems = [p for p in lint_paths([str(path)], LintOptions()).problems if p.rule_id.startswith("REV")]
    assert [(p.rule_id, p.severity.label) for p in problems] == [(rule, "warning")]


def test_the_reader_states_kinds_and_the_lint_rules_name_them(tmp_path):
    """The bundle reader says why an entry is unsafe; the lint rules name the rule id of each kind."""
    path = tar_with(
        tmp_path / "mixed.tgz",
        info("door", tarfile.SYMTYPE, "/etc"),
        info("door/cron", size=1),
        info("bin/tool", mode=0o4755, size=1),
    )
    with open_revision(str(path)) as revision:
        kinds = [(found.entry.name, found.kind) for found in revision.unsafe_entries()]
        ids = [(found.entry.name, RULE_IDS[found.kind]) for found in revision.unsafe_entries()]
    assert kinds == [("door", SYMLINK_OUT), ("door/cron", THROUGH_SYMLINK), ("bin/tool", SETUID)]
    assert ids == [("door", "REV018"), ("door/cron", "REV004"), ("bin/tool", "REV006")]


def test_an_entry_under_a_symlink_of_the_archive_is_an_error(tmp_path):
    path = tar_with(tmp_path / "door.tgz", info("door", tarfile.SYMTYPE, "/etc"), info("door/cron", size=1))
    problems = [p for p in lint_paths([str(path)], LintOptions()).problems if p.rule_id.startswith("REV")]
    assert sorted((p.rule_id, p.severity.label) for p in problems) == [
        ("REV004", "error"),
        ("REV018", "warning"),
    ]
    (under,) = (p for p in problems if p.rule_id == "REV004")
    assert "entry door/cron would be written through the symlink door" in under.message


def test_safe_links_and_setgid_directories_pass(tmp_path):
    path = tar_with(
        tmp_path / "ok.tgz",
        info("shared", tarfile.DIRTYPE, mode=0o2775),
        info("shared/conf", size=1),
        info("current", tarfile.SYMTYPE, "shared/conf"),
        info("dangling", tarfile.SYMTYPE, "not/there"),
        info("copy", tarfile.LNKTYPE, "shared/conf"),
    )
    assert rev_ids(path) == []
    with open_revision(str(path)) as rev:
        assert rev.is_regular("copy") and rev.read("current", 10) == b"x"


def test_link_escaping_through_another_symlink_is_caught(tmp_path):
    path = tar_with(tmp_path / "e.tgz", info("d", tarfile.SYMTYPE, "."), info("x", tarfile.SYMTYPE, "d/.."))
    assert rev_ids(path) == ["REV018"]


def test_unsafe_zip_entries(tmp_path):
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("appspec.yml", "version: 0.0\nos: linux\n")
        archive.writestr(zipfile.ZipInfo("../../x"), "x")
        archive.writestr(zipfile.ZipInfo("C:\\Windows\\x"), "x")
        link = zipfile.ZipInfo("passwd")
        link.create_system, link.external_attr = 3, (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "../../etc/passwd")
        tool = zipfile.ZipInfo("tool")
        tool.create_system, tool.external_attr = 3, (stat.S_IFREG | 0o4755) << 16
        archive.writestr(tool, "x")
    assert sorted(rev_ids(path)) == ["REV003", "REV003", "REV006", "REV018"]


def test_unsafe_reports_are_capped(tmp_path):
    path = tar_with(tmp_path / "many.tgz", *[info(f"../x{i}", size=1) for i in range(25)])
    messages = [p.message for p in lint_paths([str(path)], LintOptions()).problems if p.rule_id == "REV003"]
    assert len(messages) == 11 and any("15 more entries" in m for m in messages)


def test_safe_member_name_check_for_the_shim():
    assert clean_name("./a//b/") == "a/b" and clean_name("./") == ""
    assert (
        clean_name("../a") is None
        and clean_name("/a") is None
        and clean_name("a\\..\\b", backslashes=True) is None
    )
    assert unsafe_reason(Entry("a", FILE, 0o755, raw="a"), lambda name: None) is None
    assert (
        unsafe_reason(Entry("l", SYMLINK, 0o777, target="/etc", raw="l"), lambda name: None)[0] == SYMLINK_OUT
    )


def test_too_many_tar_entries_are_refused_quickly(tmp_path):
    header = info("f").tobuf(tarfile.GNU_FORMAT)
    path = tmp_path / "many.tar"
    path.write_bytes(header * (MAX_ENTRIES + 1) + bytes(1024))
    start = time.monotonic()
    with pytest.raises(RevisionError, match="more than 100,000 entries"), open_revision(str(path)):
        pass
    assert time.monotonic() - start < 10


def test_too_many_zip_entries_are_refused_before_parsing(tmp_path):
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for number in range(MAX_ENTRIES + 1):
            archive.writestr(zipfile.ZipInfo(f"{number}"), b"")
    start = time.monotonic()
    result = cli(path, tmp_path)
    assert result.returncode == 2 and "more than 100,000 entries" in result.stderr
    assert time.monotonic() - start < 10


def test_missing_path_is_a_revision_error():
    with pytest.raises(RevisionError, match="no such file"), open_revision("does-not-exist.zip"):
        pass


# --- rules never crash, whatever the document -------------------------------------------------------

KEYS = [
    "version",
    "os",
    "files",
    "source",
    "destination",
    "hooks",
    "location",
    "ApplicationStart",
    "AfterInstall",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(["/", "linux", "windows", "scripts", "a\\b", "..", ""]),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(documents)
def test_revision_rules_never_crash(document):
    import json

    with open_revision(str(FIXTURES / "clean")) as rev:
        problems = lint_bytes(json.dumps(document).encode(), "appspec.json", revision=rev, platform="ec2")
    assert all(p.line >= 1 and p.column >= 1 for p in problems)
