"""`appspec bundle` and `appspec push` arguments, defined apart from the commands so that building the
parser imports neither the archive writers nor boto3. Both commands say `--type` for the bundle type
(as `appspec deploy` does) and `--format` for text or JSON output."""

from __future__ import annotations

import argparse
import re

BUNDLE_TYPES = ("zip", "tar", "tgz")
DEFAULT_MULTIPART_THRESHOLD = 8 * 1024 * 1024  # boto3's own default
MIN_PART_SIZE = 5 * 1024 * 1024  # S3 refuses smaller parts (except the last)
_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)


def byte_size(text: str) -> int:
    """`8388608`, `8MiB`, `8MB` or `8M` (powers of 1024, as boto3's transfer settings are)."""
    match = _SIZE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 8MiB, 512KiB or a number of bytes)")
    unit = (match.group(2) or "b")[0].lower()
    return int(match.group(1)) * {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]


def _packing_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--type",
        dest="bundle_type",
        choices=BUNDLE_TYPES,
        help="bundle type (default: from the name, else zip)",
    )
    parser.add_argument(
        "--ignore-file",
        metavar="FILE",
        help="gitignore-like patterns to leave out (default: DIR/.appspecignore when it exists)",
    )
    parser.add_argument(
        "--no-lint", dest="lint", action="store_false", help="skip `appspec lint` before and after bundling"
    )
    parser.add_argument(
        "--preserve-modes",
        action="store_true",
        help="store permission bits as they are on disk (default: 0755 if executable, else 0644, like git)",
    )
    parser.add_argument("--format", dest="output_format", choices=("text", "json"), default="text")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress line on the terminal, only the result"
    )


def configure_bundle_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Lint a revision folder, then write it as a reproducible zip, tar or tgz: the same tree gives the "
        "same bytes. Leaves out .git, .hg, .svn, .bzr, __MACOSX, .DS_Store and the ignore file's patterns."
    )
    parser.add_argument(
        "directory", nargs="?", default=".", metavar="DIR", help="revision folder (default .)"
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE",
        help="archive to write: NAME.zip, NAME.tar or NAME.tgz",
    )
    _packing_arguments(parser)


def configure_push_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Bundle a revision folder (or take a bundle), upload it to S3 and register it with CodeDeploy, "
        "like `aws deploy push`. Credentials, region and profile are resolved by boto3."
    )
    parser.add_argument(
        "directory",
        nargs="?",
        default=".",
        metavar="DIR",
        help="revision folder or .zip/.tar/.tgz (default .)",
    )
    parser.add_argument(
        "--s3",
        required=True,
        metavar="s3://BUCKET/PREFIX/",
        help="where to upload: a prefix ending in / (the key is APPLICATION-SHA256.zip) or a full key",
    )
    parser.add_argument("--application", required=True, metavar="NAME", help="CodeDeploy application name")
    register = parser.add_mutually_exclusive_group()
    register.add_argument(
        "--register",
        dest="register",
        action="store_true",
        default=True,
        help="register the revision with the application (default)",
    )
    register.add_argument("--no-register", dest="register", action="store_false", help="only upload it")
    parser.add_argument("--description", metavar="TEXT", help="revision description when registering")
    parser.add_argument(
        "--multipart-threshold",
        type=byte_size,
        default=DEFAULT_MULTIPART_THRESHOLD,
        metavar="SIZE",
        help="upload in parts above this size (default 8MiB; parts are at least 5MiB)",
    )
    from appspec_tools.service_options import add_account_options

    add_account_options(parser)
    _packing_arguments(parser)
