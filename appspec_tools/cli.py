"""The `appspec` command: argument parsing and turning errors into one-line messages and exit codes.

Three programs own their verbs and flags: `appspec deploy` (this host, like the agent), `appspec fleet`
(a deployment group over SSH) and `appspec aws` (the CodeDeploy service). Exit codes: EXIT_CODES below,
the same for every command.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Dict, List, NoReturn, Optional, TextIO, Tuple

from appspec_tools import __version__
from appspec_tools.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CommandError, UsageError
from appspec_tools.lifecycle import PLATFORMS

EXIT_FINDINGS = 1
EXIT_CODES = (
    (EXIT_OK, "success: the files are clean, the deployment succeeded"),
    (EXIT_FINDINGS, "findings at or above the failing level, or a deployment failed, stopped or was refused"),
    (
        EXIT_USAGE,
        "usage, configuration or input errors (a file that cannot be read, a group file, a preflight)",
    ),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C)"),
)
EPILOG = "exit codes:\n" + "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, like every other usage error
        raise UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def _use_colour(stream: TextIO, choice: str) -> bool:
    """An explicit --color always|never wins; `auto` follows NO_COLOR, then whether it is a terminal."""
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR"):
        return False
    return hasattr(stream, "isatty") and stream.isatty()


def _configure_lint(lint: argparse.ArgumentParser) -> None:
    lint.add_argument(
        "paths", nargs="*", metavar="PATH", help="AppSpec file, revision folder, archive, or - for stdin"
    )
    lint.add_argument("-f", "--format", default="text", choices=["text", "json", "sarif", "github"])
    lint.add_argument("--platform", choices=PLATFORMS, help="skip detection: ec2, ecs or lambda")
    lint.add_argument("--strict", action="store_true", default=None, help="warnings fail too (exit 1)")
    lint.add_argument(
        "--disable",
        action="append",
        default=[],
        metavar="RULE",
        help="turn a rule off (repeatable, or comma-separated)",
    )
    lint.add_argument(
        "--enable",
        action="append",
        default=[],
        metavar="RULE",
        help="turn on a rule that is off by default (repeatable, or comma-separated)",
    )
    lint.add_argument(
        "--config",
        metavar="FILE",
        help="lint configuration (default: .appspec-lint.yml or setup.cfg found upwards)",
    )
    lint.add_argument("--no-config", action="store_true", help="ignore configuration files")
    lint.add_argument(
        "--max-file-size", type=int, metavar="BYTES", help="largest AppSpec read (default 1 MiB)"
    )
    lint.add_argument(
        "--color",
        default="auto",
        choices=["auto", "always", "never"],
        help="colour the text format: auto (a terminal, unless NO_COLOR is set), always or never",
    )
    lint.add_argument(
        "-q", "--quiet", action="store_true", help="text format: the problems only, no summary line"
    )
    lint.add_argument(
        "--changed",
        action="store_true",
        help="PATHs are changed files (a pre-commit hook's): lint once each revision holding one, "
        "the nearest folder upwards with an appspec.yml, .yaml or .json (under pre-commit, the files it "
        "deletes count too)",
    )


def _configure_rules(rules: argparse.ArgumentParser) -> None:
    rules.add_argument("--markdown", action="store_true", help="print docs/rules.md")


def _configure_schema(schema: argparse.ArgumentParser) -> None:
    schema.add_argument("--platform", choices=("all",) + PLATFORMS, default="all")


def _configure_init(parser: argparse.ArgumentParser) -> None:
    from appspec_tools import scaffold

    scaffold.configure_parser(parser)


def _configure_deploy(parser: argparse.ArgumentParser) -> None:
    from appspec_tools import deploy_options

    deploy_options.configure_parser(parser)


def _configure_fleet(parser: argparse.ArgumentParser) -> None:
    from appspec_tools import fleet_options

    fleet_options.configure_parser(parser)


def _configure_aws(parser: argparse.ArgumentParser) -> None:
    from appspec_tools import service_options

    service_options.configure_parser(parser)


def _configure_demo(demo: argparse.ArgumentParser) -> None:
    demo.add_argument(
        "--port", type=int, default=8080, help="port for the sample app (default 8080, or a free one)"
    )
    demo.add_argument(
        "--dir",
        metavar="DIR",
        help="folder for the deployment and the install (default: a new temporary one)",
    )
    demo.add_argument("--stop", metavar="DIR", help="stop the demo deployed in DIR and remove DIR")


def _configure_bundle(parser: argparse.ArgumentParser) -> None:
    from appspec_tools import bundle_options

    bundle_options.configure_bundle_parser(parser)


def _configure_push(parser: argparse.ArgumentParser) -> None:
    from appspec_tools import bundle_options

    bundle_options.configure_push_parser(parser)


def _configure_completion(completion: argparse.ArgumentParser) -> None:
    completion.add_argument("shell", choices=("bash", "zsh", "tcsh"))


# command -> (its line in `appspec --help`, what adds its options)
SUBCOMMANDS: Dict[str, Tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "lint": ("check AppSpec files, revision folders and bundles", _configure_lint),
    "rules": ("list the lint rules", _configure_rules),
    "schema": ("print a JSON Schema of the AppSpec for editors", _configure_schema),
    "init": ("write an appspec.yml and hook scripts into a repository", _configure_init),
    "deploy": ("run a deployment on this host, like the CodeDeploy agent", _configure_deploy),
    "fleet": ("deploy to a group of hosts over SSH, like the CodeDeploy service", _configure_fleet),
    "aws": ("deployments by the AWS CodeDeploy service", _configure_aws),
    "demo": ("deploy the sample app on this host and check it over HTTP", _configure_demo),
    "bundle": ("write a reproducible revision archive", _configure_bundle),
    "push": ("bundle, upload to S3 and register the revision", _configure_push),
    "completion": ("print a shell completion script (bash, zsh or tcsh)", _configure_completion),
}


def build_parser(only: Optional[str] = None) -> argparse.ArgumentParser:
    """The whole parser, or with `only` the one command's options (every command is still listed):
    a run configures just the command it runs, so `appspec lint` never builds the deploy options."""
    parser = _Parser(
        prog="appspec",
        description="Lint, generate and rehearse AWS CodeDeploy AppSpec revisions.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"appspec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (summary, configure) in SUBCOMMANDS.items():
        command = sub.add_parser(name, help=summary)
        if only is None or only == name:
            configure(command)
    _name_every_parser(parser)
    return parser


def _name_every_parser(parser: argparse.ArgumentParser) -> None:
    """Each (sub)command's parser records its prog, so a stray flag is reported by the command it was given to."""
    parser.set_defaults(_prog=parser.prog)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _name_every_parser(child)


# a flag of the old single `deploy` command: where it lives now
MOVED_FLAGS = {
    "--group": "a group of hosts is `appspec fleet VERB --group FILE`",
    "--aws": "the AWS CodeDeploy service is `appspec aws deploy`",
}


def _unrecognized(args: argparse.Namespace, extra: List[str]) -> UsageError:
    prog = getattr(args, "_prog", "appspec")
    hints = [hint for flag, hint in MOVED_FLAGS.items() if any(e.split("=")[0] == flag for e in extra)]
    where = f"; {'; '.join(hints)}" if hints and prog.endswith(" deploy") else ""
    return UsageError(f"{prog}: unrecognized arguments: {' '.join(extra)}{where} (see `{prog} --help`)")


def _rule_ids(values: List[str]) -> set:
    return {part.strip().upper() for item in values for part in item.split(",") if part.strip()}


def cmd_lint(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from appspec_tools.config import ConfigError, find_config, load_config
    from appspec_tools.formatters import FORMATTERS
    from appspec_tools.linter import (
        LintOptions,
        LintReport,
        deleted_under_pre_commit,
        failing,
        find_appspecs,
        lint_paths,
        revision_roots,
    )
    from appspec_tools.rules import RETIRED, all_rules

    if args.config and args.no_config:
        raise UsageError("appspec lint: --config and --no-config contradict each other; give one of them")
    try:
        config = load_config(None if args.no_config else (args.config or find_config()))
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    known = all_rules()
    disabled = set(config.disable) | _rule_ids(args.disable)
    enabled = set(config.enable) | _rule_ids(args.enable)
    unknown = sorted(d for d in disabled | enabled if d not in known and d not in RETIRED)
    if unknown:
        raise UsageError(f"unknown rule id {', '.join(unknown)} (list them with `appspec rules`)")
    options = LintOptions(
        platform=args.platform or config.platform,
        disabled=frozenset(disabled),
        enabled=frozenset(enabled),
        max_bytes=args.max_file_size or config.max_file_size or LintOptions().max_bytes,
    )
    if args.changed and args.paths:
        paths = revision_roots([*args.paths, *deleted_under_pre_commit()])
    elif args.changed:  # no file (a commit that only deletes): every revision of the repository
        paths = ["."] if find_appspecs(".") else []
    else:
        paths = args.paths
    if args.changed and not paths:
        report = LintReport()  # no changed file is in a revision: nothing to lint
    else:
        report = lint_paths(paths, options, stdin=sys.stdin.buffer if "-" in paths else None)
    for message in report.errors:
        err.write(f"appspec lint: {message}\n")
    if report.errors and not report.files:
        return EXIT_USAGE  # nothing was read: no report, which would look like a clean run
    colour = _use_colour(out, args.color)
    if args.quiet and args.format == "text":
        from appspec_tools.formatters import text_line

        out.writelines(text_line(problem, colour) + "\n" for problem in report.problems)
    else:
        FORMATTERS[args.format](report.problems, report.files, out, colour)
    strict = args.strict if args.strict is not None else config.strict
    if report.errors:
        return EXIT_USAGE
    return EXIT_FINDINGS if failing(report.problems, strict) else EXIT_OK


def cmd_rules(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from appspec_tools.rules import all_rules
    from appspec_tools.rules.reference import markdown

    if args.markdown:
        out.write(markdown())
        return EXIT_OK
    for rule in sorted(all_rules().values(), key=lambda r: r.id):
        note = "" if rule.enabled else "  (off by default: --enable " + rule.id + ")"
        out.write(f"{rule.id:8} {rule.severity.label:8} {rule.summary}{note}\n")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import json

    from appspec_tools.schema import json_schema

    json.dump(json_schema(args.platform), out, indent=2)
    out.write("\n")
    return EXIT_OK


def cmd_init(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from appspec_tools import scaffold

    return scaffold.run(args, out, err)


def cmd_deploy(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from agent_shim.command import run  # imported only here: lint never loads the shim

    return run(args, out, err)


def cmd_fleet(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from appspec_tools.extras import require

    require("fleet", "appspec fleet")
    from agent_shim.fleet.commands import run

    return run(args, out, err)


def cmd_aws(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from appspec_tools.extras import require

    require("aws", "appspec aws")
    if args.aws_verb == "deploy":
        from appspec_tools.aws import deploy

        return deploy.run(args, out, err)
    from appspec_tools.aws import deployments  # status, list, stop: existing deployments

    return deployments.run(args, out, err)


def cmd_demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from agent_shim.demo import run as run_demo

    return run_demo(args, out, err)


def cmd_bundle(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from appspec_tools import bundler

    return bundler.run(args, out, err)


def cmd_push(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from appspec_tools.extras import require

    require("aws", "appspec push")
    from appspec_tools.aws import push

    return push.run(args, out, err)


def cmd_completion(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import shtab  # a base dependency

    out.write(shtab.complete(build_parser(), shell=args.shell))
    return EXIT_OK


COMMANDS: Dict[str, Callable[[argparse.Namespace, TextIO, TextIO], int]] = {
    "lint": cmd_lint,
    "rules": cmd_rules,
    "schema": cmd_schema,
    "init": cmd_init,
    "deploy": cmd_deploy,
    "fleet": cmd_fleet,
    "aws": cmd_aws,
    "demo": cmd_demo,
    "bundle": cmd_bundle,
    "push": cmd_push,
    "completion": cmd_completion,
}


def main(argv: Optional[List[str]] = None, out: Optional[TextIO] = None, err: Optional[TextIO] = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(only=argv[0] if argv and argv[0] in SUBCOMMANDS else "")
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:
            raise _unrecognized(args, extra)
        if not args.command:
            parser.print_help(out)
            return EXIT_USAGE
        return COMMANDS[args.command](args, out, err)
    except CommandError as exc:  # every command's errors: one line and the table's code
        err.write(f"{exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except ImportError as exc:  # a module of an extra imported deep down (a fleet's ELBv2 needs boto3)
        return _missing_module(exc, argv, err)
    except Exception as exc:  # never a traceback for users; APPSPEC_DEBUG=1 shows it
        return _internal_error(exc, err)


def _missing_module(exc: ImportError, argv: List[str], err: TextIO) -> int:
    from appspec_tools.extras import MissingExtra, extra_for

    extra = extra_for(exc)
    if extra is None:
        return _internal_error(exc, err)
    err.write(f"{MissingExtra('appspec ' + argv[0], extra)}\n")
    return MissingExtra.exit_code


def _internal_error(exc: Exception, err: TextIO) -> int:
    if os.environ.get("APPSPEC_DEBUG"):
        raise exc
    err.write(
        f"appspec: internal error: {type(exc).__name__}: {exc} (please report it; APPSPEC_DEBUG=1 shows details)\n"
    )
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
