""".appspecignore follows git's rules (pathspec): each case lists the ignore lines, a tree of files and
the files a bundle keeps; where git is installed, git itself is asked the same question about the same
tree (`git ls-files --others --exclude-from`), so the table cannot drift from git."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from appspec_tools.bundler import FILE, IgnoreRules, build_bundle, collect

CASES = {
    "negation re-includes": (
        ["*.log", "!keep.log"],
        ["a.log", "keep.log", "sub/b.log", "sub/keep.log", "x.txt"],
        ["keep.log", "sub/keep.log", "x.txt"],
    ),
    "nothing comes back from an excluded directory": (
        ["logs/", "!logs/keep.log"],
        ["logs/a.log", "logs/keep.log", "x.txt"],
        ["x.txt"],
    ),
    "dir/** is what is inside, so a negation reaches in": (
        ["foo/**", "!foo/keep"],
        ["foo/keep", "foo/x", "foo/sub/y"],
        ["foo/keep"],
    ),
    "leading **/ matches at any depth": (
        ["**/cache"],
        ["cache/a", "a/b/cache/c", "a/cache.txt"],
        ["a/cache.txt"],
    ),
    "a/**/b matches zero or more folders between": (
        ["a/**/b"],
        ["a/b", "a/x/b", "a/x/y/b", "b", "c/a/b"],
        ["b", "c/a/b"],
    ),
    "a trailing slash matches directories only": (
        ["build/"],
        ["build/x", "src/build/y", "a/build"],
        ["a/build"],
    ),
    "a/**/ is every directory below a, not a itself": (
        ["a/**/"],
        ["a/f", "a/b/c"],
        ["a/f"],
    ),
    "escaped # and ! are literal": (
        ["\\#notes", "\\!important", "#comment", ""],
        ["#notes", "!important", "comment", "#comment"],
        ["#comment", "comment"],
    ),
    "a leading slash anchors at the root": (
        ["/top.txt"],
        ["top.txt", "sub/top.txt"],
        ["sub/top.txt"],
    ),
    "a middle slash anchors too": (
        ["docs/*.md"],
        ["docs/a.md", "docs/sub/b.md", "x/docs/c.md", "a.md"],
        ["a.md", "docs/sub/b.md", "x/docs/c.md"],
    ),
    "a directory re-included from an excluded parent's glob": (
        ["docs/*", "!docs/api/"],
        ["docs/a.md", "docs/api/x.md", "docs/guide/y.md"],
        ["docs/api/x.md"],
    ),
    "everything but Python files, at any depth": (
        ["*", "!*/", "!*.py"],
        ["a.py", "b.txt", "src/c.py", "src/d.txt"],
        ["a.py", "src/c.py"],
    ),
    "trailing spaces are dropped unless escaped": (
        ["notes.txt   ", "space\\ "],
        ["notes.txt", "space ", "space"],
        ["space"],
    ),
    "? and [] match one character, never a slash": (
        ["file[0-9].txt", "log?", "[!a]x"],
        ["file1.txt", "filex.txt", "log1", "log12", "ax", "bx"],
        ["ax", "filex.txt", "log12"],
    ),
}


def write_tree(root, files):
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name + "\n")


def kept_files(root, lines):
    members, _ = collect(str(root), IgnoreRules(lines))
    return sorted(member.name for member in members if member.kind == FILE)


@pytest.mark.parametrize("case", sorted(CASES))
def test_ignore_lines_keep_what_git_keeps(tmp_path, case):
    lines, files, kept = CASES[case]
    write_tree(tmp_path, files)
    assert kept_files(tmp_path, lines) == sorted(kept)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize("case", sorted(CASES))
def test_the_table_is_what_git_itself_says(tmp_path, case):
    lines, files, kept = CASES[case]
    tree, ignore_file = tmp_path / "tree", tmp_path / "ignore"
    tree.mkdir()
    write_tree(tree, files)
    ignore_file.write_text("".join(line + "\n" for line in lines))
    subprocess.run(["git", "init", "-q", str(tree)], check=True)
    listing = subprocess.run(
        ["git", "ls-files", "--others", "-z", f"--exclude-from={ignore_file}"],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert sorted(name for name in listing.split("\0") if name) == sorted(kept)


def test_an_excluded_directory_leaves_no_entry_and_a_kept_one_does(tmp_path):
    write_tree(tmp_path, ["foo/keep", "logs/a.log"])
    members, _ = collect(str(tmp_path), IgnoreRules(["logs/", "foo/**", "!foo/keep"]))
    assert [(member.name, member.kind) for member in members] == [("foo", "dir"), ("foo/keep", "file")]


def test_the_bundle_reads_the_ignore_file_from_the_revision(tmp_path):
    revision = tmp_path / "rev"
    write_tree(revision, ["notes/todo.txt", "app/index.html"])
    (revision / "appspec.yml").write_text("version: 0.0\nos: linux\n")
    (revision / ".appspecignore").write_text("notes/\n")
    bundle = build_bundle(str(revision), str(tmp_path / "rev.zip"), lint=False)
    assert bundle.entries == 3  # appspec.yml, app/, app/index.html
