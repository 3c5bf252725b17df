"""The errors a command can end with, each with its exit code (the table in docs/cli.md and `appspec
--help`). Modules raise their own subclasses; the CLI's edge turns any of them into one line on stderr and
its code, so no command picks codes of its own."""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def one_line(value: object) -> str:
    """An exception or a text as one line: whitespace runs (line breaks too) become one space, an OSError
    reads `FILE: reason`, and an exception without a message is its class name."""
    if isinstance(value, OSError) and value.strerror:
        text = f"{value.filename}: {value.strerror}" if value.filename else value.strerror
    else:
        text = str(value)
    text = " ".join(text.split())
    return text or (type(value).__name__ if isinstance(value, BaseException) else "")


class CommandError(Exception):
    """One line for the user (the place, what is wrong, the fix) and the exit code that goes with it."""

    exit_code = EXIT_USAGE


class UsageError(CommandError):
    """An unknown or misplaced flag or argument, or a configuration that cannot be used."""


class InputError(CommandError):
    """A file, bundle or answer the command needs cannot be read or used."""


class Refused(CommandError):
    """The work was refused or failed on its merits (lint errors, nothing to roll back): a finding."""

    exit_code = EXIT_FAILED
