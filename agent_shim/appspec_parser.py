"""The agent's AppSpec parser as it runs at an event: `ApplicationSpecification.parse` (EC2/On-Premises,
Psych 4 as on Ruby 3.1+), giving the first error the agent raises, in its order and with its words.

Whether an event fails on its AppSpec, and with which message, is decided here and not by the lint rules:
they also report what the agent accepts and what fails only later (at Install), and they word things
their own way (their findings are printed before the first event). The order and the messages are the
agent's (`application_specification.rb` and its `*_info.rb` helpers; AGENT-FACTS §9). Where the agent
crashes (a Ruby NoMethodError or TypeError on a value of the wrong shape) the message is the first line of
Ruby 3.1's, without the did-you-mean and error-highlight lines that follow it there.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

from appspec_tools.agent_names import FILE_EXISTS_BEHAVIORS
from appspec_tools.nodes import Mapping, Node, Scalar
from appspec_tools.nodes import Sequence as NodeList
from appspec_tools.reading import RangeError, is_null, ruby_to_i, ruby_to_s, ruby_truthy, selinux_range
from appspec_tools.rules.ec2_permission_acls import ace_bad_character, ace_structure
from appspec_tools.source import Source

_FIX_PERMISSIONS = "Update the permissions section of the AppSpec file, and then try again."


class Rejected(Exception):
    """The agent's exception at parse time; the message is the agent's."""


def agent_error(source: Source, raw: bytes, host_os: str = "linux") -> Optional[str]:
    """The message the agent fails the event with, or None when it parses the document. ``source`` is
    ``raw`` as our reader read it (as YAML, whatever the file's name: the agent YAML-loads any name)."""
    if source.root is None:
        return _load_error(raw)
    alias = _first_alias(source.text) if source.alias_lines else None
    if alias is not None:
        return f"Unknown alias: {alias}"  # Psych 4's YAML.load is safe_load without aliases
    try:
        _application_specification(_as_psych_reads(source), host_os)
    except Rejected as exc:
        return str(exc)
    return None


def _as_psych_reads(source: Source) -> Node:
    """A byte-order mark before the first key: libyaml under Psych sees that key one column in, and the
    next top-level key ends the document, silently: only the first key is left (AGENT-FACTS §9)."""
    root = source.root
    assert root is not None
    if isinstance(root, Mapping) and any(finding.rule_id == "SYN005" for finding in source.findings):
        return Mapping(root.pairs[:1], root.line, root.column)
    return root


# -- YAML.load ------------------------------------------------------------------------------------------


def _load_error(raw: bytes) -> Optional[str]:
    """Psych's message for bytes that do not load, or the agent's for a document that loads as nothing.
    None when Psych would load what our reader could not (the lint finding then stands in)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        node = yaml.compose(raw, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.context_mark or exc.problem_mark
        words = " ".join(part for part in (exc.problem, exc.context) if part)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        return f"(<unknown>): {words}{where}"
    except yaml.reader.ReaderError as exc:  # bytes that are not UTF-8: libyaml's reader, no position
        return f"(<unknown>): {exc.reason} at line 1 column 1"
    except yaml.YAMLError:
        return None
    alias = _first_alias(raw)
    if alias is not None:  # a document our reader refused for its size once expanded
        return f"Unknown alias: {alias}"
    if node is None or (isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null", "false")):
        return _EMPTY
    return None


def _first_alias(text: Any) -> Optional[str]:
    import yaml

    for event in yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        if isinstance(event, yaml.AliasEvent):
            return str(event.anchor)
    return None


_EMPTY = (
    "The deployment failed because the application specification file was empty. Make sure your AppSpec "
    "file defines at minimum the 'version' and 'os' properties."
)


# -- Ruby's view of a value -------------------------------------------------------------------------------


def inspect(node: Optional[Node]) -> str:
    """Ruby's `inspect` of the value the node loads as (Ruby 3.1: `{"a"=>1}`)."""
    if node is None or is_null(node):
        return "nil"
    if isinstance(node, NodeList):
        return "[" + ", ".join(inspect(item) for item in node.items) + "]"
    if isinstance(node, Mapping):
        return (
            "{" + ", ".join(f"{_inspect_key(key)}=>{inspect(value)}" for key, _, value in node.items()) + "}"
        )
    assert isinstance(node, Scalar)
    if isinstance(node.value, str):
        return _inspect_string(node.value)
    return ruby_to_s(node.value)


def _inspect_key(key: Any) -> str:
    return _inspect_string(key) if isinstance(key, str) else "nil" if key is None else ruby_to_s(key)


def _inspect_string(text: str) -> str:
    out = []
    for index, char in enumerate(text):
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char == "#" and text[index + 1 : index + 2] in ("{", "$", "@"):
            out.append("\\#")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\x1b": "\\e"}
_ESCAPES.update({"\a": "\\a", "\b": "\\b", "\v": "\\v", "\f": "\\f"})


def to_s(node: Optional[Node]) -> str:
    """Ruby's `to_s` (what `#{value}` puts in a message): a list or a mapping is its inspect."""
    if node is None or is_null(node):
        return ""
    if isinstance(node, Scalar):
        return ruby_to_s(node.value)
    return inspect(node)


def _class(node: Optional[Node]) -> str:
    """The Ruby class of the value the node loads as, as a NoMethodError names it."""
    if node is None or is_null(node):
        return "NilClass"
    if not isinstance(node, Scalar):
        return "Array" if isinstance(node, NodeList) else "Hash"
    if isinstance(node.value, bool):
        return "TrueClass" if node.value else "FalseClass"
    return {int: "Integer", float: "Float"}.get(type(node.value), "String")


def _no_method(name: str, node: Optional[Node]) -> Rejected:
    return Rejected(f"undefined method `{name}' for {inspect(node)}:{_class(node)}")


def _pairs(node: Mapping) -> List[NodeList]:
    """What `Hash#each` yields: each [key, value] pair as a two-item array."""
    return [
        NodeList([key_node, value], key_node.line, key_node.column) for _, key_node, value in node.items()
    ]


def _each(node: Optional[Node], *, nil_is_empty: bool = True) -> Sequence[Node]:
    """`value.each` (after `value || []` when `nil_is_empty`): a list's items, a mapping's pairs."""
    if nil_is_empty and not ruby_truthy(node):
        return []
    if isinstance(node, NodeList):
        return node.items
    if isinstance(node, Mapping):
        return _pairs(node)
    raise _no_method("each", node)


def _lookup(node: Optional[Node], key: str) -> Optional[Node]:
    """`value[key]` with a string key: a mapping's value, a string's substring, a crash otherwise."""
    if isinstance(node, Mapping):
        return node.get(key)
    if isinstance(node, Scalar) and isinstance(node.value, str) and not is_null(node):
        return Scalar(key, "str", node.line, node.column) if key in node.value else None
    if isinstance(node, NodeList) or (isinstance(node, Scalar) and type(node.value) is int):
        raise Rejected("no implicit conversion of String into Integer")
    raise _no_method("[]", node)


def _has_key(node: Optional[Node], key: str) -> bool:
    if not isinstance(node, Mapping):
        raise _no_method("has_key?", node)
    return key in node


# -- ApplicationSpecification.new -------------------------------------------------------------------------


def _application_specification(doc: Node, host_os: str) -> None:
    if not ruby_truthy(doc):
        raise Rejected(_EMPTY)
    _version(_lookup(doc, "version"))
    os_name = _lookup(doc, "os")
    if not (isinstance(os_name, Scalar) and os_name.value == host_os):
        raise Rejected(
            "The deployment failed because the application specification file specifies an unsupported "
            f'operating system ({to_s(os_name)}). Specify either "linux" or "windows" in the os section of the '
            "AppSpec file, and then try again."
        )
    _hooks(_lookup(doc, "hooks"))
    for mapping in _each(_lookup(doc, "files")):
        source, destination = _lookup(mapping, "source"), _lookup(mapping, "destination")
        if is_null(source):
            raise Rejected(
                "The deployment failed because the application specification file specifies a destination file, "
                "but no source file. Update the files section of the AppSpec file, and then try again."
            )
        if is_null(destination):
            raise Rejected(
                "The deployment failed because the application specification file specifies only a source file "
                f"({to_s(source)}). Add the name of the destination file to the files section of the AppSpec file, "
                "and then try again."
            )
    for permission in _each(_lookup(doc, "permissions")):
        _permission(permission)
    behavior = _lookup(doc, "file_exists_behavior")
    if not is_null(behavior) and not (
        isinstance(behavior, Scalar) and behavior.value in FILE_EXISTS_BEHAVIORS
    ):
        raise Rejected(
            "The deployment failed because an invalid file_exists_behavior value "
            f"({to_s(behavior)}) was entered in the application specification file. Make sure your AppSpec file "
            f"specifies one of {','.join(FILE_EXISTS_BEHAVIORS)} as the file_exists_behavior, and then try again."
        )


def _version(node: Optional[Node]) -> None:
    """`[0.0].include?(version)`: Ruby's `==`, so the integer 0 is 0.0 too, and the string "0.0" is not."""
    value = node.value if isinstance(node, Scalar) else None
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0):
        raise Rejected(
            f"The deployment failed because an invalid version value ({to_s(node)}) was entered in the application "
            'specification file. Make sure your AppSpec file specifies "0.0" as the version, and then try again.'
        )


def _hooks(node: Optional[Node]) -> None:
    if not ruby_truthy(node):
        return
    if not isinstance(node, Mapping):
        raise _no_method("each_pair", node)
    for _, _, scripts in node.items():
        if not ruby_truthy(scripts):
            continue  # an event with no value is ignored
        for script in _each(scripts, nil_is_empty=False):
            if not (_has_key(script, "location") and not is_null(_lookup(script, "location"))):
                raise Rejected(_NO_LOCATION)
            if not to_s(_lookup(script, "location")).strip():
                raise Rejected(_NO_LOCATION)
            timeout = _lookup(script, "timeout")
            seconds = ruby_to_i(timeout, 3600).value
            if seconds is None:
                raise _no_method("to_i", timeout)
            if seconds <= 0:
                raise Rejected(
                    "The deployment failed because an invalid timeout value was provided for a script in the "
                    "application specification file. Make corrections in the hooks section of the AppSpec file, "
                    "and then try again."
                )


_NO_LOCATION = (
    "The deployment failed because the application specification file specifies a script with no location "
    "value. Specify the location in the hooks section of the AppSpec file, and then try again."
)


def _permission(permission: Node) -> None:
    """`parse_permissions` for a Linux host: the option values are built in the order Ruby evaluates the
    hash literal (pattern, except, type, owner, group, mode, acls, context), then the object is checked."""
    if not _has_key(permission, "object") or is_null(_lookup(permission, "object")):
        raise Rejected(_NO_OBJECT)
    _each(_lookup(permission, "except"))
    types = _lookup(permission, "type")
    for kind in _each(types):
        if not (isinstance(kind, Scalar) and kind.value in ("file", "directory")):
            raise Rejected(
                "The deployment failed because the application specification filespecifies a permission for an "
                f"object type not supported for permissions ({to_s(kind)}). {_FIX_PERMISSIONS}"
            )
    mode = _lookup(permission, "mode")
    if not is_null(mode):
        _mode(to_s(mode))
    acls = _lookup(permission, "acls")
    if not is_null(acls):
        for ace in _each(acls, nil_is_empty=False):
            if not (isinstance(ace, Scalar) and isinstance(ace.value, str)):
                raise _no_method("split", ace)
            _ace(ace.value)
    context = _lookup(permission, "context")
    if context is not None and not is_null(context):
        _context(context)
    if not to_s(_lookup(permission, "object")).strip():
        raise Rejected(_NO_OBJECT)


_NO_OBJECT = (
    "The deployment failed because a permission listed in the application specification file has no object "
    f"value. {_FIX_PERMISSIONS}"
)


def _mode(mode: str) -> None:
    """`mode_info.rb`: padded with zeros to three digits, at most four, each 0-7."""
    mode = mode.rjust(3, "0")
    if len(mode) > 4:
        raise Rejected(
            f"The deployment failed because the length of a permissions mode ({mode}) in the application "
            "specification file is invalid. Permissions modes must be between one and four characters long. "
            f"{_FIX_PERMISSIONS}"
        )
    bad = next((char for char in mode if not "0" <= char <= "7"), None)
    if bad is not None:
        raise Rejected(
            f"The deployment failed because the permissions mode ({mode}) in the application specification file "
            f"contains an invalid character ({bad}). {_FIX_PERMISSIONS}"
        )


def _ace(ace: str) -> None:
    """`ace_info.rb` for an entry of `acls`: its structure, then the base-entry check, then the
    permission characters, in its order."""
    parsed = ace_structure(ace)
    if parsed is None:
        raise Rejected(
            "The deployment failed because of a problem with the acls permission settings in the application "
            f"specification file. Invalid acl entry ({ace})."
        )
    if not parsed.default and parsed.type != "mask" and not parsed.name:
        raise Rejected(
            "The deployment failed because of a problem with the acls permission settings in the application "
            f"specification file. Use mode to set the base acl entry ({ace}). {_FIX_PERMISSIONS}"
        )
    bad = ace_bad_character(ace)
    if bad is not None:
        raise Rejected(
            f"The deployment failed because the access control list (ACL) named {ace} in the application "
            f"specification file contains an invalid character ({bad}). Correct the ACL in the hooks section of "
            "the AppSpec file, and then try again."
        )


def _context(context: Node) -> None:
    """`context_info.rb`, then `range_info.rb` for its range."""
    if is_null(_lookup(context, "type")):
        raise Rejected(
            "The deployment failed because the application specification file specifies an invalid context type "
            f"({inspect(context)}). {_FIX_PERMISSIONS}"
        )
    value = _lookup(context, "range")
    if is_null(value):
        return
    if isinstance(value, (NodeList, Mapping)):
        raise _no_method("split", value)  # Array#include? and Hash#include? exist; #split does not
    if not (isinstance(value, Scalar) and isinstance(value.value, str)):
        raise _no_method("include?", value)
    try:
        selinux_range(value.value)
    except RangeError as exc:
        raise Rejected(str(exc)) from None
