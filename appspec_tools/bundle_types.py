"""Which bundle type a path is (zip, tar, tgz), by its suffix or its magic bytes.

Apart from appspec_tools.revision, which reads bundles, so that `appspec lint FILE` can tell an AppSpec
from a bundle without importing the archive readers.
"""

from __future__ import annotations

import os
from typing import Optional

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tgz", ".tar.gz")
COMPRESSED_TAR_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")  # gzip, bzip2, xz


def is_archive(path: str) -> bool:
    """A zip, tar or tgz bundle, by suffix or, for an existing file, by its magic bytes."""
    return path.lower().endswith(ARCHIVE_SUFFIXES) or (
        os.path.isfile(path) and sniff_archive(path) is not None
    )


def sniff_archive(path: str) -> Optional[str]:
    """The bundle type by magic bytes: "zip", "tgz" (gzip), "tar" (plain, bzip2 or xz), or None."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(262)
    except OSError:
        return None
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "tgz"
    return "tar" if head.startswith(COMPRESSED_TAR_MAGIC) or head[257:262] == b"ustar" else None
