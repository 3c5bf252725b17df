"""Writing a file so that no reader ever sees half of it: a temporary file beside the target, renamed over
it when complete, removed when the write fails."""

from __future__ import annotations

import contextlib
import os
from typing import BinaryIO, Iterator, Optional, Union


@contextlib.contextmanager
def replaced(path: str, mode: Optional[int] = None) -> Iterator[BinaryIO]:
    """A binary handle whose contents become `path` (with `mode`, if given) when the block ends without
    an error; the folder is created if missing. Concurrent writers each use their own temporary file."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.part")
    try:
        with open(temporary, "wb") as handle:
            yield handle
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


def write_atomically(path: str, data: Union[bytes, str], mode: Optional[int] = None) -> None:
    """`path` holds `data` (text is written as UTF-8), all of it or, if the write fails, what it held."""
    with replaced(path, mode) as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)
