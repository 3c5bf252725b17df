"""LocalTransport (`host: local`): the runner reads the revision straight from the controller's revision
store, so nothing is copied to the host and nothing piles up there over many deployments (the store keeps
what the history keeps; the host's deployment root keeps max_revisions)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import List

import pytest
from controller_support import LocalFleet

from agent_shim.fleet.contracts import SUCCEEDED, HostSpec
from agent_shim.fleet.transport_local import LocalTransport

pytestmark = [pytest.mark.fleet, pytest.mark.slow]


def files_under(folder: Path) -> List[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink())


def test_upload_revision_hands_over_the_archive_itself(tmp_path):
    archive = tmp_path / "store" / ("0" * 64 + ".tgz")
    archive.parent.mkdir()
    archive.write_bytes(b"not read")
    before = files_under(tmp_path)
    transport = LocalTransport(HostSpec("a", "local"))
    assert transport.upload_revision(str(archive), "0" * 64) == str(archive)
    assert files_under(tmp_path) == before  # no copy, nothing to prune


def test_many_deployments_leave_no_revision_archives_on_a_local_host(tmp_path):
    fleet = LocalFleet(tmp_path, ("a",), max_revisions=2)
    for number in range(4):
        assert fleet.deploy(f"v{number}").deployment.status == SUCCEEDED
    assert len(fleet.host_deployments("a")) == 2  # the runner's own max_revisions pruning
    with fleet.history() as history:
        store = os.path.realpath(history.revisions_dir)
    host = tmp_path / "hosts" / "a"
    bundles = [p for p in files_under(host) if p.name == "bundle.tar"]
    assert len(bundles) == 2 and all(p.is_symlink() for p in bundles)
    assert {os.path.dirname(os.path.realpath(p)) for p in bundles} == {store}  # the controller's store
    archives = [p for p in files_under(host) if p.suffix in (".tgz", ".tar", ".zip") and not p.is_symlink()]
    assert archives == []
