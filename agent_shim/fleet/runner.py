"""The host runner: the one-host shim as a self-contained zipapp that needs only python3 on the host.

It holds `appspec_tools`, the host side of `agent_shim` (not `agent_shim.fleet`) and the pure-Python part
of PyYAML, so a bare host needs no pip. Entries are sorted and carry a fixed timestamp and mode, so the
same sources give the same bytes and the same sha256: the controller uploads it once per host and skips
the upload when that checksum is already there.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import marshal
import os
import zipfile
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

from appspec_tools.fileio import write_atomically

SHEBANG = b"#!/usr/bin/env python3\n"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the zip format's earliest date
MAIN = (
    '"""appspec host runner: `python3 runner.pyz deploy ... --format jsonl`."""\n'
    "import sys\n\n"
    "from appspec_tools.cli import main\n\n"
    "sys.exit(main())\n"
)
EXCLUDED = ("agent_shim/fleet/",)  # the controller side stays on the controller


@dataclass(frozen=True)
class RunnerZipapp:
    path: str
    checksum: str  # sha256 of the file, hex
    size: int


def _package_dir(name: str) -> str:
    module = __import__(name)
    return os.path.dirname(os.path.abspath(str(module.__file__)))


def _python_files(package: str) -> Iterator[Tuple[str, str]]:
    """(archive name, file path) of every .py file of an installed package, without bytecode."""
    top = _package_dir(package)
    base = os.path.dirname(top)
    for directory, subdirs, files in os.walk(top):
        subdirs[:] = sorted(d for d in subdirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                arcname = os.path.relpath(path, base).replace(os.sep, "/")
                if not arcname.startswith(EXCLUDED):
                    yield arcname, path


def runner_files() -> List[Tuple[str, bytes]]:
    """The zipapp's entries, sorted: `__main__.py`, appspec_tools, agent_shim (host side), yaml."""
    entries = {"__main__.py": MAIN.encode()}
    for package in ("appspec_tools", "agent_shim", "yaml"):
        for arcname, path in _python_files(package):
            with open(path, "rb") as handle:
                entries[arcname] = handle.read()
    return sorted(entries.items())


def compiled(arcname: str, source: bytes) -> bytes:
    """An unchecked hash-based .pyc (PEP 552) that zipimport loads instead of compiling the source on
    every run; a host whose python3 has another bytecode magic number ignores it and uses the .py."""
    code = compile(source, arcname, "exec", dont_inherit=True)
    header = importlib.util.MAGIC_NUMBER + (0b01).to_bytes(4, "little") + importlib.util.source_hash(source)
    return header + marshal.dumps(code, 2)  # version 2 has no refcount-dependent back-references


def build_runner_bytes() -> bytes:
    entries = runner_files()
    entries += [(name + "c", compiled(name, data)) for name, data in entries if name != "__main__.py"]
    buffer = io.BytesIO()
    buffer.write(SHEBANG)
    with zipfile.ZipFile(buffer, "w") as archive:
        for arcname, data in sorted(entries):
            info = zipfile.ZipInfo(arcname, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3  # unix, whatever the building machine
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return buffer.getvalue()


def default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "appspec-tools")


def build_runner(cache_dir: Optional[str] = None) -> RunnerZipapp:
    """The runner zipapp for the installed sources, written once per content as `runner-<sha>.pyz`."""
    data = build_runner_bytes()
    checksum = hashlib.sha256(data).hexdigest()
    directory = cache_dir or default_cache_dir()
    path = os.path.join(directory, f"runner-{checksum[:16]}.pyz")
    if not _has_checksum(path, checksum):
        write_atomically(path, data, mode=0o755)  # a concurrent build never sees half a file
    return RunnerZipapp(path, checksum, len(data))


def file_checksum(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _has_checksum(path: str, checksum: str) -> bool:
    try:
        return file_checksum(path) == checksum
    except OSError:
        return False
