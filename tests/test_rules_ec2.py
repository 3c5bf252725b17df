"""EC2/On-Premises `files`, `permissions` and `hooks` rules, each pinned to what the agent does."""

from __future__ import annotations

import pytest
from support import assert_problems, lint_text

from appspec_tools.rules.ec2_hooks import read_timeout
from appspec_tools.rules.ec2_permission_acls import parse_ace
from appspec_tools.rules.ec2_permission_selinux import range_problem
from appspec_tools.source import read_source

LINUX = "version: 0.0\nos: linux\n"
WINDOWS = "version: 0.0\nos: windows\n"


def problems(text: str, prefix: str):
    return [(p.rule_id, p.line, p.column) for p in lint_text(text) if p.rule_id.startswith(prefix)]


def messages(text: str, rule_id: str):
    return [p.message for p in lint_text(text) if p.rule_id == rule_id]


# files -----------------------------------------------------------------------------------------------


def test_files_written_as_a_mapping_crashes_the_agent():
    assert_problems(LINUX + "files:\n  source: /\n  destination: /opt/app\n", [("FILE001", 4, 3)], "FILE")


def test_empty_files_section_is_fine():
    assert_problems(LINUX + "files:\n", [], "FILE")
    assert_problems(LINUX + "files: []\n", [], "FILE")


def test_scalar_files_entry_gives_the_agents_misleading_message():
    assert_problems(LINUX + "files:\n  - /opt/app\n", [("FILE002", 4, 5)], "FILE")
    assert "no source file" in messages(LINUX + "files:\n  - /opt/app\n", "FILE002")[0]


def test_entry_without_destination_is_rejected_like_the_agent():
    text = LINUX + "files:\n  - source: app.jar\n"
    assert_problems(text, [("FILE004", 4, 5)], "FILE")
    assert messages(text, "FILE004") == ["files entry specifies only a source (app.jar), no destination"]


def test_entry_without_source_is_rejected_like_the_agent():
    text = LINUX + "files:\n  - destination: /opt/app\n"
    assert_problems(text, [("FILE003", 4, 5)], "FILE")
    assert messages(text, "FILE003") == ["files entry specifies a destination but no source"]


def test_unquoted_numeric_source_is_not_a_path():
    assert_problems(
        LINUX + "files:\n  - source: 2024\n    destination: /opt/a\n", [("FILE003", 4, 13)], "FILE"
    )
    assert_problems(LINUX + 'files:\n  - source: "2024"\n    destination: /opt/a\n', [], "FILE")


def test_relative_destination_is_resolved_against_the_agents_directory():
    assert_problems(
        LINUX + "files:\n  - source: app\n    destination: opt/app\n", [("FILE005", 5, 18)], "FILE"
    )


def test_drive_path_with_os_linux_is_not_absolute():
    assert_problems(
        LINUX + "files:\n  - source: app\n    destination: C:\\app\n", [("FILE005", 5, 18)], "FILE"
    )


@pytest.mark.parametrize("destination", ["C:\\app", "c:/app", "D:\\inetpub\\site", "\\\\server\\share"])
def test_windows_destinations_need_a_drive(destination):
    assert_problems(WINDOWS + f"files:\n  - source: app\n    destination: '{destination}'\n", [], "FILE")


def test_linux_path_with_os_windows_is_flagged():
    assert_problems(
        WINDOWS + "files:\n  - source: app\n    destination: /opt/app\n", [("FILE005", 5, 18)], "FILE"
    )


def test_unknown_files_key_suggests_the_real_one():
    text = LINUX + "files:\n  - source: app\n    dest: /opt/app\n"
    assert ("FILE006", 5, 5) in problems(text, "FILE")
    assert "did you mean 'destination'?" in messages(text, "FILE006")[0]


def test_overwrite_in_a_files_entry_points_to_file_exists_behavior():
    text = LINUX + "files:\n  - source: app\n    destination: /opt/app\n    overwrite: yes\n"
    assert "file_exists_behavior: OVERWRITE" in messages(text, "FILE006")[0]


def test_same_source_and_destination_twice_fails_install():
    text = (
        LINUX
        + "files:\n  - source: app\n    destination: /opt/app\n  - source: ./app/\n    destination: /opt/app/\n"
    )
    assert_problems(text, [("FILE007", 6, 13)], "FILE")


def test_two_files_of_the_same_name_into_one_destination_clash():
    text = (
        LINUX
        + "files:\n  - source: a/app.conf\n    destination: /etc/x\n  - source: b/app.conf\n    destination: /etc/x\n"
    )
    assert_problems(text, [("FILE008", 6, 13)], "FILE")


def test_file_already_copied_by_the_whole_revision_clashes():
    text = (
        LINUX
        + "files:\n  - source: /\n    destination: /opt/app\n  - source: conf/app.conf\n    destination: /opt/app/conf\n"
    )
    assert_problems(text, [("FILE008", 6, 13)], "FILE")


def test_directories_of_the_same_name_are_merged_not_reported():
    text = (
        LINUX
        + "files:\n  - source: a/public\n    destination: /srv\n  - source: b/public\n    destination: /srv\n"
    )
    assert_problems(text, [], "FILE")


def test_whole_revision_into_a_web_root_publishes_the_appspec():
    assert_problems(
        LINUX + "files:\n  - source: /\n    destination: /var/www/html\n", [("FILE009", 4, 13)], "FILE"
    )
    assert_problems(LINUX + "files:\n  - source: /\n    destination: /opt/app\n", [], "FILE")


def test_whole_revision_into_iis_wwwroot_on_windows():
    text = WINDOWS + "files:\n  - source: \\\n    destination: C:\\inetpub\\wwwroot\n"
    assert_problems(text, [("FILE009", 4, 13)], "FILE")


# permissions -----------------------------------------------------------------------------------------


def test_permissions_with_os_windows_are_rejected():
    assert_problems(
        WINDOWS + "permissions:\n  - object: C:\\app\n    mode: 644\n", [("PERM001", 3, 1)], "PERM"
    )
    assert_problems(WINDOWS + "permissions: []\n", [], "PERM")


def test_permissions_mapping_and_scalar_entries_crash_the_agent():
    assert_problems(LINUX + "permissions:\n  object: /opt/app\n", [("PERM002", 4, 3)], "PERM")
    assert_problems(LINUX + "permissions:\n  - /opt/app\n", [("PERM003", 4, 5)], "PERM")


def test_permission_without_object_has_no_object_value():
    assert_problems(LINUX + "permissions:\n  - owner: app\n", [("PERM004", 4, 5)], "PERM")
    assert_problems(LINUX + "permissions:\n  - object: '  '\n", [("PERM004", 4, 13)], "PERM")


def test_relative_object_matches_no_installed_file():
    assert_problems(
        LINUX + "permissions:\n  - object: opt/app\n    owner: app\n", [("PERM005", 4, 13)], "PERM"
    )


def test_user_instead_of_owner_is_ignored():
    text = LINUX + "permissions:\n  - object: /opt/app\n    user: app\n"
    assert_problems(text, [("PERM006", 5, 5)], "PERM")
    assert "did you mean 'owner'?" in messages(text, "PERM006")[0]


def test_numeric_owner_is_looked_up_as_a_name():
    assert_problems(
        LINUX + "permissions:\n  - object: /opt/app\n    owner: 1000\n", [("PERM007", 5, 12)], "PERM"
    )


def test_type_file_as_a_string_crashes_the_agent():
    text = LINUX + "permissions:\n  - object: /opt/app\n    mode: 644\n    type: file\n"
    assert_problems(text, [("PERM008", 6, 11)], "PERM")
    assert messages(text, "PERM008") == ["type is a string (file), not a list: write type: [file]"]


def test_except_and_acls_as_strings_crash_the_agent():
    text = LINUX + "permissions:\n  - object: /opt/app\n    except: '*.log'\n    acls: u:app:rw\n"
    assert_problems(text, [("PERM008", 5, 13), ("PERM008", 6, 11)], "PERM")


def test_pattern_or_except_with_a_slash_never_matches():
    text = (
        LINUX + "permissions:\n  - object: /opt/app\n    pattern: 'bin/*.sh'\n    except: ['a/b', '*.log']\n"
    )
    assert_problems(text, [("PERM009", 5, 14), ("PERM009", 6, 14)], "PERM")


def test_unquoted_mode_0755_is_octal_493_and_rejected():
    text = LINUX + "permissions:\n  - object: /opt/app\n    mode: 0755\n"
    assert_problems(text, [("PERM010", 5, 11)], "PERM")
    assert "(9)" in messages(text, "PERM010")[0] and "493" in messages(text, "PERM010")[0]


def test_unquoted_mode_0644_is_applied_as_420():
    text = LINUX + "permissions:\n  - object: /opt/app\n    mode: 0644\n"
    assert_problems(text, [("PERM011", 5, 11)], "PERM")
    assert messages(text, "PERM011") == [
        "mode 0644 is read by YAML 1.1 as the number 420 and applied as mode 420, not 0644"
    ]


@pytest.mark.parametrize("mode", ['"0644"', "644", "0000", "'0755'", "7", "12", "4755", "null"])
def test_modes_the_agent_applies_as_written_are_clean(mode):
    assert_problems(LINUX + f"permissions:\n  - object: /opt/app\n    mode: {mode}\n", [], "PERM")


@pytest.mark.parametrize("mode", ["u+x", "rwxr-xr-x", "888", "12345", "6.44", "yes", "[7]"])
def test_modes_the_agent_rejects(mode):
    assert [p[0] for p in problems(LINUX + f"permissions:\n  - object: /o\n    mode: {mode}\n", "PERM")] == [
        "PERM010"
    ]


def test_acl_base_entries_must_be_set_with_mode():
    text = (
        LINUX + "permissions:\n  - object: /opt/app\n    acls:\n      - u::rw\n      - g::r\n      - o::r\n"
    )
    assert_problems(text, [("PERM013", 6, 9), ("PERM013", 7, 9), ("PERM013", 8, 9)], "PERM")
    assert messages(text, "PERM013")[0] == "use mode to set the base acl entry (u::rw)"


def test_malformed_acl_entries_are_rejected():
    text = (
        LINUX
        + "permissions:\n  - object: /o\n    type: [directory]\n    acls: [user:bob:read, 'x:bob:r', 'm:bob:r', 7]\n"
    )
    assert [p[0] for p in problems(text, "PERM")] == ["PERM012"] * 4


def test_default_acl_entries_need_type_directory():
    acl = "    acls:\n      - d:u:app:rwx\n"
    assert_problems(LINUX + "permissions:\n  - object: /srv\n" + acl, [("PERM014", 6, 9)], "PERM")
    assert_problems(LINUX + "permissions:\n  - object: /srv\n" + acl + "    type: [directory]\n", [], "PERM")


@pytest.mark.parametrize(
    "ace, ok",
    [
        ("u:bob:rw", True),
        ("user:bob:7", True),
        ("d:u::rwx", True),
        ("default:group::r-x", True),
        ("m::7", True),
        ("mask::rw", True),
        ("g:staff:", True),
        ("u::rw", True),  # parses; PERM013 rejects it as a base entry
        ("d:d:u:rw", False),
        ("x:bob:rw", False),
        ("o:bob:r", False),
        ("bob", False),
        ("a:b:c:d:e", False),
        ("u:bob:rwz", False),
        ("u:bob:8", False),
    ],
)
def test_acl_entries_parse_like_ace_info_rb(ace, ok):
    parsed, problem = parse_ace(ace)
    assert (parsed is not None) == ok, problem


def test_context_needs_a_type():
    text = LINUX + "permissions:\n  - object: /var/www\n    context:\n      name: system_u\n"
    assert_problems(text, [("PERM015", 6, 7)], "PERM")
    assert_problems(
        LINUX + "permissions:\n  - object: /var/www\n    context: httpd_t\n", [("PERM015", 5, 14)], "PERM"
    )


def test_context_user_is_ignored_the_agent_reads_name():
    text = LINUX + "permissions:\n  - object: /var/www\n    context:\n      user: system_u\n      type: t\n"
    assert_problems(text, [("PERM016", 6, 7)], "PERM")


def test_invalid_selinux_range_is_rejected():
    text = LINUX + "permissions:\n  - object: /v\n    context:\n      type: t\n      range: s1-s0\n"
    assert_problems(text, [("PERM017", 7, 14)], "PERM")


@pytest.mark.parametrize(
    "text, problem",
    [
        ("s0", None),
        ("s0-s3", None),
        ("s0:c0.c5,c7", None),
        ("s0-s0:c0.c1023", None),
        ("s0:c1,", None),  # Ruby's split drops the trailing empty field
        ("s1-s0", "high sensitivity"),
        ("s0:c1024", "invalid category c1024"),
        ("s0:c3.c1", "invalid category range c3.c1"),
        ("s0:c1,c0.c2", "duplicate categories"),
        ("t0", "invalid sensitivity t0"),
        ("s0-", "invalid range part s0-"),
        ("", "invalid range part"),
    ],
)
def test_selinux_ranges_parse_like_range_info_rb(text, problem):
    result = range_problem(text)
    assert (result is None) if problem is None else (problem in (result or ""))


def test_unknown_type_value_suggests_file_or_directory():
    text = LINUX + "permissions:\n  - object: /o\n    type: [files, dir]\n"
    assert_problems(text, [("PERM018", 5, 12), ("PERM018", 5, 19)], "PERM")
    assert "did you mean directory?" in messages(text, "PERM018")[1]


def test_two_entries_for_the_same_paths_fail_install():
    text = (
        LINUX
        + "permissions:\n  - object: /opt/app\n    owner: app\n  - object: /opt/app/bin\n    mode: 755\n"
    )
    assert_problems(text, [("PERM019", 6, 13)], "PERM")


def test_splitting_one_object_by_type_is_fine():
    text = (
        LINUX + "permissions:\n  - object: /opt/app\n    mode: 755\n    type: [directory]\n"
        "  - object: /opt/app\n    mode: 644\n    type: [file]\n"
    )
    assert_problems(text, [], "PERM")


def test_different_patterns_on_one_object_are_not_reported():
    text = LINUX + "permissions:\n  - object: /o\n    pattern: '*.sh'\n  - object: /o\n    pattern: '*.py'\n"
    assert_problems(text, [], "PERM")


# hooks -----------------------------------------------------------------------------------------------


def test_hooks_written_as_a_list_crash_the_agent():
    assert_problems(
        LINUX + "hooks:\n  - AfterInstall:\n      - location: a.sh\n", [("HOOK001", 4, 3)], "HOOK"
    )


def test_event_mapped_to_a_single_script_or_a_string_crashes_the_agent():
    assert_problems(LINUX + "hooks:\n  AfterInstall:\n    location: a.sh\n", [("HOOK002", 5, 5)], "HOOK")
    assert_problems(LINUX + "hooks:\n  AfterInstall: a.sh\n", [("HOOK002", 4, 17)], "HOOK")


def test_null_and_empty_events_are_fine():
    assert_problems(LINUX + "hooks:\n  AfterInstall:\n  ApplicationStart: []\n", [], "HOOK")


def test_list_of_strings_crashes_the_agent():
    assert_problems(LINUX + "hooks:\n  AfterInstall:\n    - a.sh\n", [("HOOK003", 5, 7)], "HOOK")


def test_script_without_location_is_rejected():
    assert_problems(LINUX + "hooks:\n  AfterInstall:\n    - timeout: 30\n", [("HOOK004", 5, 7)], "HOOK")
    assert_problems(LINUX + "hooks:\n  AfterInstall:\n    - location: ' '\n", [("HOOK004", 5, 17)], "HOOK")


@pytest.mark.parametrize("name", ["AfterInstal", "afterinstall", "Validate_Service"])
def test_misspelled_event_silently_never_runs(name):
    text = LINUX + f"hooks:\n  {name}:\n    - location: a.sh\n"
    assert_problems(text, [("HOOK005", 4, 3)], "HOOK")
    assert "did you mean" in messages(text, "HOOK005")[0]


def test_ecs_event_in_an_ec2_appspec_never_runs():
    text = LINUX + "hooks:\n  AfterAllowTestTraffic:\n    - location: a.sh\n"
    assert_problems(text, [("HOOK005", 4, 3)], "HOOK")
    assert "ECS/Lambda" in messages(text, "HOOK005")[0]


def test_install_hook_is_reserved_and_never_runs():
    text = LINUX + "hooks:\n  Install:\n    - location: a.sh\n"
    assert_problems(text, [("HOOK006", 4, 3)], "HOOK")
    assert "use BeforeInstall or AfterInstall" in messages(text, "HOOK006")[0]


def test_unknown_script_keys_suggest_the_real_ones():
    text = (
        LINUX
        + "hooks:\n  AfterInstall:\n    - location: a.sh\n      timout: 30\n      run_as: app\n      path: b\n"
    )
    assert_problems(text, [("HOOK007", 6, 7), ("HOOK007", 7, 7), ("HOOK007", 8, 7)], "HOOK")
    assert [m.split("; ")[-1] for m in messages(text, "HOOK007")] == [
        "did you mean 'timeout'?",
        "did you mean 'runas'?",
        "did you mean 'location'?",
    ]


def test_absolute_location_is_resolved_inside_the_revision():
    text = LINUX + "hooks:\n  ApplicationStart:\n    - location: /opt/app/scripts/start.sh\n"
    assert_problems(text, [("HOOK008", 5, 17)], "HOOK")


@pytest.mark.parametrize("value", ["0", "-5", "foo", "yes", "[30]", ".inf"])
def test_invalid_timeouts_are_rejected(value):
    text = LINUX + f"hooks:\n  AfterInstall:\n    - location: a.sh\n      timeout: {value}\n"
    assert_problems(text, [("HOOK009", 6, 16)], "HOOK")


@pytest.mark.parametrize("value", ['"30"', "30", "3600", "null", "no"])
def test_timeouts_the_agent_uses_as_written_are_clean(value):
    assert_problems(
        LINUX + f"hooks:\n  AfterInstall:\n    - location: a.sh\n      timeout: {value}\n", [], "HOOK"
    )


def test_timeout_5m_is_five_seconds():
    text = LINUX + "hooks:\n  AfterInstall:\n    - location: a.sh\n      timeout: 5m\n"
    assert_problems(text, [("HOOK010", 6, 16)], "HOOK")
    assert messages(text, "HOOK010") == ["timeout 5m is read as 5 seconds"]


def test_fractional_timeout_is_truncated():
    assert_problems(
        LINUX + "hooks:\n  AfterInstall:\n    - location: a.sh\n      timeout: 30.9\n",
        [("HOOK011", 6, 16)],
        "HOOK",
    )


def test_single_timeout_over_3600_is_flagged():
    text = LINUX + "hooks:\n  AfterInstall:\n    - location: a.sh\n      timeout: 7200\n"
    assert_problems(text, [("HOOK012", 6, 16)], "HOOK")


def test_event_timeouts_adding_up_over_3600_are_flagged():
    scripts = "    - location: a.sh\n      timeout: 1800\n    - location: b.sh\n      timeout: 2400\n"
    assert_problems(LINUX + "hooks:\n  AfterInstall:\n" + scripts, [("HOOK013", 4, 3)], "HOOK")


def test_scripts_without_timeouts_are_not_summed_as_3600_each():
    text = LINUX + "hooks:\n  AfterInstall:\n    - location: a.sh\n    - location: b.sh\n"
    assert_problems(text, [], "HOOK")


def test_runas_and_sudo_are_ignored_on_windows():
    text = (
        WINDOWS
        + "hooks:\n  AfterInstall:\n    - location: a.ps1\n      runas: Administrator\n      sudo: true\n"
    )
    assert_problems(text, [("HOOK014", 6, 7), ("HOOK014", 7, 7)], "HOOK")


def test_numeric_runas_is_not_a_user_name():
    text = LINUX + "hooks:\n  AfterInstall:\n    - location: a.sh\n      runas: 1000\n"
    assert_problems(text, [("HOOK015", 6, 14)], "HOOK")


def test_sudo_string_no_still_means_sudo():
    text = LINUX + 'hooks:\n  AfterInstall:\n    - location: a.sh\n      sudo: "no"\n'
    assert_problems(text, [("HOOK016", 6, 13)], "HOOK")
    assert_problems(LINUX + "hooks:\n  AfterInstall:\n    - location: a.sh\n      sudo: no\n", [], "HOOK")


def test_traffic_hooks_note_the_load_balancer_once():
    text = (
        LINUX
        + "hooks:\n  BeforeAllowTraffic:\n    - location: a.sh\n  AfterAllowTraffic:\n    - location: b.sh\n"
    )
    assert_problems(text, [("HOOK017", 4, 3)], "HOOK")


def test_application_stop_reminder_fires_only_when_enabled_and_it_has_scripts():
    text = LINUX + "hooks:\n  ApplicationStop:\n    - location: stop.sh\n"
    assert_problems(text, [], "HOOK")
    assert_problems(text, [("HOOK018", 4, 3)], "HOOK", enabled={"HOOK018"})
    assert_problems(LINUX + "hooks:\n  ApplicationStop: []\n", [], "HOOK", enabled={"HOOK018"})


@pytest.mark.parametrize(
    "text, seconds, why",
    [
        ("30", 30, "int"),
        ('"30"', 30, "int"),
        ("30.9", 30, "fraction"),
        ("5m", 5, "text"),
        ("foo", 0, "text"),
        ("null", 3600, "default"),
        ("false", 3600, "default"),
        ("true", None, "a boolean has no integer value"),
    ],
)
def test_timeouts_read_like_ruby_to_i(text, seconds, why):
    node = read_source(f"t: {text}\n".encode(), "a.yml").root.get("t")
    assert read_timeout(node) == (seconds, why)


def test_rules_survive_any_shape():
    text = LINUX + (
        "files: [[1], {source: [a], destination: {b: c}}, null]\n"
        "permissions: [{object: [x], mode: {}, acls: [[]], context: {type: t, range: [s0]}, type: [[]]}]\n"
        "hooks: {? [a] : [{location: {}}], null: [null], AfterInstall: [{location: a, timeout: {}}]}\n"
    )
    assert lint_text(text)  # findings, no exception


def ec2_rules():
    from appspec_tools.rules import all_rules

    return [r for r in all_rules().values() if r.area in ("FILE", "PERM", "HOOK")]


@pytest.mark.parametrize("rule", ec2_rules(), ids=lambda r: r.id)
def test_each_rules_bad_example_triggers_it_and_its_good_example_does_not(rule):
    assert rule.id in [p.rule_id for p in lint_text(rule.bad, enabled={rule.id})], rule.bad
    assert rule.id not in [p.rule_id for p in lint_text(rule.good, enabled={rule.id})], rule.good
    assert all(p.severity.label != "error" for p in lint_text(rule.good)), rule.good


def test_object_given_as_a_list_is_not_a_path():
    assert_problems(LINUX + "permissions:\n  - object: [/opt/app]\n", [("PERM005", 4, 13)], "PERM")
