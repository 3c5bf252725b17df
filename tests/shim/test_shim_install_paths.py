"""Install where the host or the revision holds something unusual, compared side by side with the agent
(aws-codedeploy-agent 1.8.1 under Ruby 3.1): a folder where a file goes, a file where a folder goes, and
symlinks to folders in the revision, which the agent copies as folders (`File.directory?` follows them)."""

from __future__ import annotations

import os
from pathlib import Path


def app_revision(host, name: str, files: dict, **kwargs):
    content = {f"app/{rel}": text for rel, text in files.items()}
    return host.revision(name, files=[("app", str(host.dest))], content=content, **kwargs)


def test_overwrite_onto_a_folder_puts_the_file_inside_it_as_fileutils_copy_does(host):
    (host.dest / "a" / "inner").mkdir(parents=True)
    result = host.deploy(
        app_revision(host, "r", {"a": "from the revision"}), file_exists_behavior="OVERWRITE"
    )
    assert result.succeeded, result.message
    assert (host.dest / "a" / "a").read_text() == "from the revision"
    assert (host.dest / "a" / "inner").is_dir()
    assert str(host.dest / "a") in host.cleanup_lines(), "the agent lists the destination it was given"


def test_a_file_where_a_folder_goes_fails_install_with_rubys_mkdir_error(host):
    host.dest.mkdir()
    (host.dest / "sub").write_text("a file")
    result = host.deploy(app_revision(host, "r", {"sub/x": "x"}), file_exists_behavior="OVERWRITE")
    event = result.failed_event
    assert (event.event, event.error_code) == ("Install", 5)
    assert event.message == f"File exists @ dir_s_mkdir - {host.dest / 'sub'}"


def test_a_symlink_to_a_folder_in_the_revision_is_installed_as_a_copy_of_that_folder(host):
    rev = app_revision(host, "r", {"releases/v2/index.html": "v2"})
    os.symlink("releases/v2", rev / "app" / "current")
    os.symlink("app/releases", rev / "releases-link")
    rev.joinpath("appspec.yml").write_text(
        rev.joinpath("appspec.yml").read_text()
        + f"  - source: releases-link\n    destination: {host.tmp / 'r2'}\n"
    )
    result = host.deploy(rev)
    assert result.succeeded, result.message
    current = host.dest / "current"
    assert current.is_dir() and not current.is_symlink()
    assert (current / "index.html").read_text() == "v2"
    assert (host.tmp / "r2" / "v2" / "index.html").read_text() == "v2", "a files source that is a folder link"
    assert str(current / "index.html") in host.cleanup_lines()


def test_a_symlink_to_a_folder_outside_the_revision_copies_it_and_safe_refuses_it(host):
    outside = host.tmp / "host-config"
    outside.mkdir()
    (outside / "secret.conf").write_text("host's own")
    rev = app_revision(host, "r", {"index.html": "hi"})
    os.symlink(str(outside), rev / "app" / "config")
    refused = host.deploy(rev, safe=True)
    event = refused.failed_event
    assert (event.event, event.error_code) == ("Install", 5)
    assert event.message.startswith(
        f"the revision's symlink {Path(refused.deployment_dir)}/deployment-archive"
    )
    assert "leads to the folder" in event.message and str(outside) in event.message
    assert not (host.dest / "config").exists()
    result = host.deploy(rev)
    assert result.succeeded, result.message
    assert (host.dest / "config" / "secret.conf").read_text() == "host's own", "copied, as the agent does"
    assert not (host.dest / "config").is_symlink()


def test_a_folder_symlink_that_loops_is_followed_40_levels_like_the_agent_and_safe_refuses_it(host):
    """The agent succeeds: 40 nested copies (the kernel's limit of symlinks in one path), then the link
    itself at the bottom (measured with the agent: depth 40, 41 files)."""
    rev = app_revision(host, "r", {"index.html": "hi"})
    os.symlink(".", rev / "app" / "again")
    result = host.deploy(rev)
    assert result.succeeded, result.message
    assert any("a folder that holds it: the agent copies it into itself" in w for w in result.warnings)
    depth = max(folder.count("/again") for folder, _, _ in os.walk(host.dest))
    files = sum(len(names) for _, _, names in os.walk(host.dest))
    assert (depth, files) == (40, 41)
    assert host.deploy(host.revision("empty")).succeeded, "the next deployment's cleanup removes them all"
    assert not host.dest.exists() or not any(host.dest.iterdir())
    event = host.deploy(rev, safe=True).failed_event
    assert (event.event, event.error_code) == ("Install", 5)
    assert "a folder that holds it" in event.message and "--safe refuses it" in event.message
