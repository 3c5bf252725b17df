"""The AppSpec as the agent parses it at an event (agent_shim/appspec_parser.py): the first problem in the
agent's order fails the event with the agent's words. The expected messages are the ones the agent's own
`ApplicationSpecification.parse` (aws-codedeploy-agent 1.8.1 under Ruby 3.1, Psych 4) printed for these
documents, side by side with ours; for Ruby's crashes, the first line of its message."""

from __future__ import annotations

import pytest

from agent_shim.appspec_parser import agent_error
from agent_shim.layout import LOCAL_GROUP_ID
from appspec_tools.reading import selinux_range
from appspec_tools.source import read_source

HEAD = "version: 0.0\nos: linux\n"
FIX_PERMISSIONS = "Update the permissions section of the AppSpec file, and then try again."
MODE_CHAR = (
    "The deployment failed because the permissions mode ({}) in the application specification file contains an "
    "invalid character ({}). " + FIX_PERMISSIONS
)
NO_LOCATION = (
    "The deployment failed because the application specification file specifies a script with no location "
    "value. Specify the location in the hooks section of the AppSpec file, and then try again."
)
NO_OBJECT = (
    "The deployment failed because a permission listed in the application specification file has no object "
    "value. " + FIX_PERMISSIONS
)
BAD_TIMEOUT = (
    "The deployment failed because an invalid timeout value was provided for a script in the application "
    "specification file. Make corrections in the hooks section of the AppSpec file, and then try again."
)
EMPTY = (
    "The deployment failed because the application specification file was empty. Make sure your AppSpec file "
    "defines at minimum the 'version' and 'os' properties."
)


def version_message(shown: str) -> str:
    return (
        f"The deployment failed because an invalid version value ({shown}) was entered in the application "
        'specification file. Make sure your AppSpec file specifies "0.0" as the version, and then try again.'
    )


def os_message(shown: str) -> str:
    return (
        "The deployment failed because the application specification file specifies an unsupported operating "
        f'system ({shown}). Specify either "linux" or "windows" in the os section of the AppSpec file, and then '
        "try again."
    )


def parsed(text) -> object:
    raw = text if isinstance(text, bytes) else text.encode()
    return agent_error(read_source(raw, "appspec.yml", "yaml"), raw)


@pytest.mark.parametrize(
    "text, message",
    [
        (HEAD, None),
        ("version: 0\nos: linux\n", None),  # [0.0].include?(0): Ruby's == takes the integer 0
        ("version: '0.0'\nos: linux\n", version_message("0.0")),
        ("version: 1.0\nos: linux\n", version_message("1.0")),
        ("version: [0.0]\nos: linux\n", version_message("[0.0]")),
        ("version: 0.0\nos: windows\n", os_message("windows")),  # this host is Linux
        ("version: 0.0\nos: [linux]\n", os_message('["linux"]')),
        ("version: 1\nos: bsd\n", version_message("1")),  # version first
        ("", EMPTY),
        ("# only a comment\n", EMPTY),
        ("~\n", EMPTY),
        ("just a string\n", version_message("")),  # "just a string"['version'] is nil
        ("- a\n", "no implicit conversion of String into Integer"),
        (HEAD + "hooks:\n  - AfterInstall\n", 'undefined method `each_pair\' for ["AfterInstall"]:Array'),
        (HEAD + "hooks:\n  AfterInstall: s.sh\n", 'undefined method `each\' for "s.sh":String'),
        (
            HEAD + "hooks:\n  AfterInstall:\n    location: s.sh\n",
            'undefined method `has_key?\' for ["location", "s.sh"]:Array',
        ),
        (HEAD + "hooks:\n  AfterInstall:\n    - s.sh\n", 'undefined method `has_key?\' for "s.sh":String'),
        (HEAD + "hooks:\n  AfterInstall:\n    - timeout: 10\n", NO_LOCATION),
        (HEAD + "hooks:\n  AfterInstall:\n    - location: '  '\n", NO_LOCATION),
        (HEAD + "hooks:\n  AfterInstall:\n    - location: [a]\n", None),  # to_s of a list is not blank
        (HEAD + "hooks:\n  AfterInstall:\n    - location: s.sh\n      timeout: abc\n", BAD_TIMEOUT),
        (HEAD + "hooks:\n  AfterInstall:\n    - location: s.sh\n      timeout: -1\n", BAD_TIMEOUT),
        (HEAD + "hooks:\n  AfterInstall:\n    - location: s.sh\n      timeout: '5m'\n", None),  # "5m".to_i
        (
            HEAD + "hooks:\n  AfterInstall:\n    - location: s.sh\n      timeout: true\n",
            "undefined method `to_i' for true:TrueClass",
        ),
        (HEAD + "hooks:\n  AfterInstall:\n", None),  # an event without scripts is ignored
        (
            HEAD + "files:\n  - destination: /srv\n",
            "The deployment failed because the application specification file specifies a destination file, "
            "but no source file. Update the files section of the AppSpec file, and then try again.",
        ),
        (
            HEAD + "files:\n  - source: app\n",
            "The deployment failed because the application specification file specifies only a source file "
            "(app). Add the name of the destination file to the files section of the AppSpec file, and then "
            "try again.",
        ),
        (HEAD + "files: /srv\n", 'undefined method `each\' for "/srv":String'),
        (HEAD + "files:\n  source: a\n  destination: /x\n", "no implicit conversion of String into Integer"),
        (HEAD + "files:\n  -\n", "undefined method `[]' for nil:NilClass"),
        (HEAD + "files:\n  - source: false\n    destination: /x\n", None),  # false is not nil
        (HEAD + "permissions:\n  - mode: 755\n", NO_OBJECT),
        (HEAD + "permissions:\n  - object: '  '\n", NO_OBJECT),
        (HEAD + "permissions:\n  - object: '  '\n    mode: 9\n", MODE_CHAR.format("009", "9")),  # mode first
        (HEAD + "permissions:\n  - /x\n", 'undefined method `has_key?\' for "/x":String'),
        (HEAD + "permissions:\n  - object: /x\n    mode: 7x5\n", MODE_CHAR.format("7x5", "x")),
        (HEAD + "permissions:\n  - object: /x\n    mode: 0644\n", None),  # YAML 1.1 octal: 420
        (
            HEAD + "permissions:\n  - object: /x\n    mode: 12345\n",
            "The deployment failed because the length of a permissions mode (12345) in the application "
            "specification file is invalid. Permissions modes must be between one and four characters long. "
            + FIX_PERMISSIONS,
        ),
        (
            HEAD + "permissions:\n  - object: /x\n    type: [socket]\n",
            "The deployment failed because the application specification filespecifies a permission for an "
            "object type not supported for permissions (socket). " + FIX_PERMISSIONS,
        ),
        (
            HEAD + "permissions:\n  - object: /x\n    type: file\n",
            'undefined method `each\' for "file":String',
        ),
        (
            HEAD + "permissions:\n  - object: /x\n    except: notalist\n",
            'undefined method `each\' for "notalist":String',
        ),
        (
            HEAD + "permissions:\n  - object: /x\n    acls: ['u:root:rwz']\n",
            "The deployment failed because the access control list (ACL) named u:root:rwz in the application "
            "specification file contains an invalid character (z). Correct the ACL in the hooks section of the "
            "AppSpec file, and then try again.",
        ),
        (
            HEAD + "permissions:\n  - object: /x\n    acls: ['u::rwx']\n",
            "The deployment failed because of a problem with the acls permission settings in the application "
            "specification file. Use mode to set the base acl entry (u::rwx). " + FIX_PERMISSIONS,
        ),
        (
            HEAD + "permissions:\n  - object: /x\n    acls: ['o:bob:r']\n",
            "The deployment failed because of a problem with the acls permission settings in the application "
            "specification file. Invalid acl entry (o:bob:r).",
        ),
        (HEAD + "permissions:\n  - object: /x\n    acls: [5]\n", "undefined method `split' for 5:Integer"),
        (
            HEAD + "permissions:\n  - object: /x\n    context: {name: u}\n",
            "The deployment failed because the application specification file specifies an invalid context "
            'type ({"name"=>"u"}). ' + FIX_PERMISSIONS,
        ),
        (
            HEAD + "permissions:\n  - object: /x\n    context: {type: t, range: s0:c1024}\n",
            "invalid category c1024",
        ),
        (HEAD + "permissions:\n  - object: /x\n    context: {type: t}\n", None),  # fails later, at Install
        (
            HEAD + "file_exists_behavior: overwrite\n",
            "The deployment failed because an invalid file_exists_behavior value (overwrite) was entered in the "
            "application specification file. Make sure your AppSpec file specifies one of "
            "DISALLOW,OVERWRITE,RETAIN as the file_exists_behavior, and then try again.",
        ),
        ("a: &x 1\nversion: 0.0\nos: linux\nb: *x\n", "Unknown alias: x"),
        (
            HEAD + "hooks:\n  AfterInstall:\n    - location: s.sh\n   timeout: 5\n",
            "(<unknown>): did not find expected key while parsing a block mapping at line 4 column 3",
        ),
        (
            'version: 0.0\nos: "linux\n',
            "(<unknown>): found unexpected end of stream while scanning a quoted scalar at line 2 column 5",
        ),  # fmt: skip
        (b"version: 0.0\nos: linux\x80\n", "(<unknown>): invalid leading UTF-8 octet at line 1 column 1"),
        (b"\xef\xbb\xbfversion: 0.0\nos: linux\n", os_message("")),  # after a BOM only the first key is read
        (HEAD + "banana: 1\nos: linux\n", None),  # unknown keys ignored, the last duplicate wins
    ],
)
def test_the_first_problem_in_the_agents_order_with_its_words(text, message):
    assert parsed(text) == message


def test_hooks_are_read_before_files_and_permissions_whatever_the_order_in_the_file():
    text = (
        HEAD
        + "permissions:\n  - object: /x\n    mode: 9\nfiles:\n  - source: a\nhooks:\n  A:\n    - timeout: 1\n"
    )
    assert parsed(text) == NO_LOCATION


@pytest.mark.parametrize(
    "written, passed",
    [
        ("s0", "s0"),
        ("s0-s0", "s0"),
        ("s0-s0:c3,c1,c2", "s0:c1.c3"),
        ("s1-s3:c0.c5,c7,c9.c10", "s1-s3:c0.c5,c7,c9.c10"),
        ("s00:c001", "s0:c1"),
        ("s0:c1,", "s0:c1"),
        ("s0:c1.c1", "s0:c1"),
        ("s0:c0.c1023", "s0:c0.c1023"),
    ],
)
def test_a_range_is_passed_to_semanage_as_the_agent_normalises_it(written, passed):
    assert selinux_range(written) == passed


# At an event ---------------------------------------------------------------------------------------------


def test_an_invalid_appspec_fails_the_first_event_that_reads_it_with_the_agents_message(host):
    rev = host.revision("r", appspec="version: 1.0\nos: linux\n")
    result = host.deploy(rev)
    event = result.failed_event
    assert (event.event, event.error_code, event.script_name) == ("BeforeInstall", 5, "")
    assert event.message == version_message("1.0")
    assert any("TOP004" in line for line in result.lint), "our lint finding is printed before the events"


def test_os_windows_fails_on_this_linux_host_where_the_agent_reads_it(host):
    rev = host.revision("r", appspec="version: 0.0\nos: windows\n")
    event = host.deploy(rev).failed_event
    assert (event.event, event.error_code, event.message) == ("BeforeInstall", 5, os_message("windows"))


def test_a_lint_error_the_parser_accepts_fails_where_the_agent_fails_at_install(host):
    """Two entries on the installed AppSpec itself: lint's PERM020 is certain, but the parser accepts it
    and the agent fails at Install ("specified more than once"), after BeforeInstall ran."""
    dest = host.dest
    appspec = (
        f"{HEAD}files:\n  - source: /\n    destination: {dest}\nhooks:\n  BeforeInstall:\n"
        f"    - location: before.sh\npermissions:\n  - object: {dest}/appspec.yml\n    mode: 600\n"
        f"  - object: {dest}\n    pattern: appspec.yml\n    mode: 644\n"
    )
    rev = host.revision("r", appspec=appspec, content={"before.sh": '#!/bin/sh\necho ran > "$OUT/before"\n'})
    (rev / "before.sh").chmod(0o755)
    result = host.deploy(rev)
    event = result.failed_event
    assert any("PERM020" in line for line in result.lint)
    assert (event.event, event.error_code) == ("Install", 5)
    assert event.message == (
        f"The deployment failed because the permissions setting for ({dest}/appspec.yml) is specified more than "
        "once in the application specification file. Update the files section of the AppSpec file, and then try "
        "again."
    )
    assert (host.out / "before").exists()


def test_a_files_source_the_revision_lacks_fails_install_with_rubys_message(host):
    rev = host.revision("r", files=[("nothere", str(host.dest))])
    event = host.deploy(rev).failed_event
    assert (event.event, event.error_code) == ("Install", 5)
    assert event.message == f"No such file or directory @ rb_sysopen - {event_archive(host)}/nothere"


def event_archive(host) -> str:
    (deployment,) = host.deployment_dirs()
    return f"{host.layout.group_dir(LOCAL_GROUP_ID)}/{deployment}/deployment-archive"
