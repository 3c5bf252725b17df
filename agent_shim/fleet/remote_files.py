"""The shell lines that check, mark and prune the uploads in a host's runner folder. Each is one remote
command, so checking costs one SSH round trip; every value goes through `shlex.quote`."""

from __future__ import annotations

import shlex
from typing import List, Optional, Sequence, Tuple

ARCHIVE_NAME = r"^[0-9a-f]{64}\.(tar\.gz|tgz|tar|zip)$"  # upload_revision's names, the only ones pruned
KEEP_RUNNERS = 3  # runner zipapps kept, the one in use counted (other controller versions share the folder)
RUNNER_NAME = r"^runner-[0-9a-f]{16}\.pyz$"  # ensure_runner's names
STALE_PART_MINUTES = 60  # a `.part` this old is an upload whose controller died: removed when pruning


CHECK_HOME, CHECK_SUM = "appspec-home ", "appspec-sum "  # line prefixes: a chatty login shell is ignored
CHECK_PYTHON = "appspec-python "


def check_command(files: Sequence[Tuple[str, str]], python: str = "python3") -> str:
    """A shell line: print the login's home directory (the shell's first cwd) and where `python` is (`-`
    when the PATH has none), then each (path, sha256)'s sha256 (`-` when missing), touching each path that
    has its sha256. Every value is quoted."""
    q = shlex.quote
    parts = [
        f'printf "%s%s\\n" {q(CHECK_HOME)} "$(pwd -P)"',
        f'printf "%s%s\\n" {q(CHECK_PYTHON)} "$(command -v {q(python)} || echo -)"',
    ]
    for path, checksum in files:
        parts.append(
            f"f={q(path)}; "
            's=$(sha256sum 2>/dev/null <"$f" || shasum -a 256 2>/dev/null <"$f"); s=${s%% *}; '
            f'printf "%s%s\\n" {q(CHECK_SUM)} "${{s:--}}"; '
            f'if [ "$s" = {q(checksum)} ]; then touch -c -- "$f"; fi'
        )
    return "; ".join(parts) + "; exit 0"


def parse_check(stdout: str) -> Tuple[Optional[str], List[str]]:
    """`check_command`'s output: (home directory, each sha256 or "-")."""
    home, sums = None, []
    for line in stdout.splitlines():
        if line.startswith(CHECK_HOME) and home is None:
            home = line[len(CHECK_HOME) :]
        elif line.startswith(CHECK_SUM):
            sums.append(line[len(CHECK_SUM) :].strip())
    return home, sums


def parse_python(stdout: str) -> Optional[str]:
    """Where `check_command` found python on the host, or None when it did not."""
    for line in stdout.splitlines():
        if line.startswith(CHECK_PYTHON):
            found = line[len(CHECK_PYTHON) :].strip()
            return None if found in ("", "-") else found
    return None


def prune_command(path: str, checksum: str, keep: int, pattern: str = ARCHIVE_NAME) -> str:
    """A shell line: print PATH's sha256 as `check_command` does; when it is CHECKSUM, touch PATH and
    remove the files of its folder named like `pattern` beyond the `keep` most recent (by mtime), PATH
    counted and never removed, and the folder's `.part` files older than STALE_PART_MINUTES (uploads whose
    controller died). Every value is quoted; a failed removal does not fail the line."""
    directory, name = path.rsplit("/", 1)
    q = shlex.quote
    return (
        f"f={q(path)}; d={q(directory)}; "
        'sum=$(sha256sum 2>/dev/null <"$f" || shasum -a 256 2>/dev/null <"$f"); sum=${sum%% *}; '
        f'printf "%s%s\\n" {q(CHECK_SUM)} "${{sum:--}}"; '
        f'[ "$sum" = {q(checksum)} ] || exit 0; '
        'touch -c -- "$f"; '
        f'ls -t -- "$d" | grep -E -e {q(pattern)} | grep -v -x -F -e {q(name)} | tail -n +{int(keep)} | '
        'while IFS= read -r old; do rm -f -- "$d/$old"; done; '
        f'find "$d/." ! -name . -prune -type f -name "*.part" -mmin +{int(STALE_PART_MINUTES)} '
        "-exec rm -f -- {} + 2>/dev/null; exit 0"
    )
