"""The `appspec deploy` arguments, defined here so that building the parser never imports agent_shim."""

from __future__ import annotations

import argparse


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bundle",
        required=True,
        metavar="PATH_OR_URL",
        help="revision: a folder, .zip, .tar, .tgz, or s3://bucket/key[?versionId=...]",
    )
