"""A command whose extra is not installed says which one in one line and exits 2, before it reads
anything; so does a module of an extra that is imported deep inside a command."""

from __future__ import annotations

import io

from appspec_tools import cli, extras


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    return cli.main([str(arg) for arg in argv], out, err), out.getvalue(), err.getvalue()


def test_fleet_without_its_extra_names_it_before_reading_the_group(monkeypatch, tmp_path):
    monkeypatch.setitem(extras.EXTRAS, "fleet", ("fabric", "no_such_module_for_this_test"))
    code, out, err = run("fleet", "plan", "--group", tmp_path / "missing.yml")
    assert (code, out, err) == (
        2,
        "",
        "appspec fleet: needs the 'fleet' extra: pip install 'appspec-tools[fleet]'\n",
    )


def test_push_and_aws_without_boto3_name_the_aws_extra(monkeypatch):
    monkeypatch.setitem(extras.EXTRAS, "aws", ("no_such_module_for_this_test",))
    for argv in (("push", ".", "--s3", "s3://b/", "--application", "web"), ("aws", "stop", "d-1")):
        code, _, err = run(*argv)
        assert (code, err) == (
            2,
            f"appspec {argv[0]}: needs the 'aws' extra: pip install 'appspec-tools[aws]'\n",
        )


def test_an_extra_module_imported_deep_down_is_the_same_line(monkeypatch):
    def needs_boto3(args, out, err):
        raise ModuleNotFoundError("No module named 'botocore.config'", name="botocore.config")

    monkeypatch.setitem(cli.COMMANDS, "rules", needs_boto3)
    assert run("rules") == (2, "", "appspec rules: needs the 'aws' extra: pip install 'appspec-tools[aws]'\n")


def test_any_other_missing_module_is_an_internal_error(monkeypatch):
    def broken(args, out, err):
        raise ModuleNotFoundError("No module named 'yaml'", name="yaml")

    monkeypatch.setitem(cli.COMMANDS, "rules", broken)
    code, _, err = run("rules")
    assert code == 2 and err.startswith(
        "appspec: internal error: ModuleNotFoundError: No module named 'yaml'"
    )
