"""`appspec init`: owned by the scaffolding work in progress."""

import argparse


def configure_parser(parser: argparse.ArgumentParser) -> None:
    pass


def run(args, out, err) -> int:
    err.write("appspec init: not available yet\n")
    return 2
