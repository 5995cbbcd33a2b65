"""A fast path for serpent's common cases, byte-identical to serpent 1.43.

serpent writes Python literal expressions and reads them back with
``ast.literal_eval``: correct, but a tiny call costs tens of microseconds, most
of it in the compiler. This module encodes and decodes the everyday shapes
(None, bool, int, float, str, bytes, and tuples, lists, dicts and sets of them)
directly. Anything else raises :class:`Unsupported`, and the caller falls back
to serpent itself, so the bytes on the wire and the values read never differ
from serpent's: the encoder writes exactly what serpent writes for these types
(insertion order, no spaces, serpent's float and bytes forms), and the decoder
accepts only a strict subset of Python literal syntax, where it returns what
``ast.literal_eval`` returns, and refuses (Unsupported) everything else.
"""

from __future__ import annotations

import ast
import base64
import re
from collections.abc import Callable
from typing import Any, Optional

__all__ = ["HEADER", "Unsupported", "dumps", "loads"]

HEADER = "# serpent utf-8 python3.2\n"
_HEADER_BYTES = HEADER.encode("ascii")
_HEADER_LEN = len(_HEADER_BYTES)
#: Deeper data goes to serpent, which has its own nesting limit and circular-reference check.
MAX_DEPTH = 64
#: Longer int literals go to serpent: Python limits int/str conversion to 4300 digits.
_MAX_INT_DIGITS = 4000

_INF = float("inf")
_NAN_TEXT = "{'__class__':'float','value':'nan'}"
_NoneType = type(None)
_REPR_TYPES = frozenset({str, int, bool, _NoneType})
#: Dict keys and set elements serpent accepts without complaint, when their type is exactly one of these.
_KEY_TYPES = frozenset({str, int, float, bool, tuple})


class Unsupported(Exception):
    """The value or text is outside the fast path: use serpent."""


#: For other types: a function giving the value serpent's class registry writes in the
#: object's place (see serializers), or raising Unsupported. None: all go to serpent.
class_hook: Callable[[Any], Any] | None = None


# -- encoding --------------------------------------------------------------------------------


def dumps(obj: Any) -> bytes:
    """serpent.dumps(obj) for the common types; Unsupported for anything else."""
    kind = type(obj)
    if kind in _REPR_TYPES:
        return (HEADER + repr(obj)).encode("utf-8")
    out = [HEADER]
    _encode(obj, kind, out, 0)
    return "".join(out).encode("utf-8")


def _float_text(value: float) -> str:
    if value != value:  # noqa: PLR0124 - nan is the only float unequal to itself
        return _NAN_TEXT
    if value == _INF:
        return "1e30000"
    if value == -_INF:
        return "-1e30000"
    return repr(value)


def _b64_text(data: Any) -> str:
    return "{'data': '" + base64.b64encode(data).decode("ascii") + "', 'encoding': 'base64'}"


def _encode(obj: Any, kind: type, out: list[str], level: int) -> None:
    if kind in _REPR_TYPES:
        out.append(repr(obj))
    elif kind is float:
        out.append(_float_text(obj))
    elif kind is tuple or kind is list:
        if level > MAX_DEPTH:
            raise Unsupported("nested too deeply")
        append = out.append
        append("(" if kind is tuple else "[")
        for item in obj:
            item_kind = type(item)
            if item_kind in _REPR_TYPES:
                append(repr(item))
            else:
                _encode(item, item_kind, out, level + 1)
            append(",")
        if len(obj) > 1 or (kind is list and obj):
            out.pop()  # the last comma; a one-element tuple keeps it
        append(")" if kind is tuple else "]")
    elif kind is dict:
        _encode_dict(obj, out, level)
    elif kind is bytes or kind is bytearray:
        out.append(_b64_text(obj))
    elif kind is set or kind is frozenset:
        _encode_set(obj, out, level)
    else:
        hook = class_hook
        if hook is None:
            raise Unsupported(kind.__name__)
        if level > MAX_DEPTH:
            raise Unsupported("nested too deeply")
        value = hook(obj)  # what serpent's class registry would write for it (or Unsupported)
        _encode(value, type(value), out, level + 1)


def _encode_dict(obj: dict[Any, Any], out: list[str], level: int) -> None:
    if level > MAX_DEPTH:
        raise Unsupported("nested too deeply")
    append = out.append
    append("{")
    for key, value in obj.items():
        key_kind = type(key)
        if key_kind not in _KEY_TYPES:
            raise Unsupported("dict key type")
        if key_kind in _REPR_TYPES:
            append(repr(key))
        else:
            _encode(key, key_kind, out, level + 1)
        append(":")
        value_kind = type(value)
        if value_kind in _REPR_TYPES:
            append(repr(value))
        else:
            _encode(value, value_kind, out, level + 1)
        append(",")
    if obj:
        out.pop()
    append("}")


def _encode_set(obj: Any, out: list[str], level: int) -> None:
    if not obj:
        out.append("()")  # serpent's stand-in: there is no empty set literal
        return
    if level > MAX_DEPTH:
        raise Unsupported("nested too deeply")
    append = out.append
    append("{")
    for item in obj:
        item_kind = type(item)
        if item_kind not in _KEY_TYPES:
            raise Unsupported("set element type")
        _encode(item, item_kind, out, level + 1)
        append(",")
    out.pop()
    append("}")


# -- decoding --------------------------------------------------------------------------------

# (NUL is in none of these: Python's parser, so serpent, refuses text that holds one.)
_STR1 = r"'([^'\\\n\r\x00]*)'"
_STR2 = r'"([^"\\\n\r\x00]*)"'
_INT = r"(-?(?:0|[1-9][0-9]*))"
_FLOAT = r"(-?(?:(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+))"
_CONST = r"(None|True|False)"
_ESCAPED = r"""('(?:[^'\\\n\r\x00]|\\[^\n\r\x00])*'|"(?:[^"\\\n\r\x00]|\\[^\n\r\x00])*")"""
_BLANK = r"[ \t\n\f]*"
_SEPARATOR = _BLANK + r"([,:)\]}])"
#: A lone scalar (the whole text): group numbers say which kind.
_SCALAR = re.compile(
    "|".join(
        [
            _STR1,
            _STR2,
            _INT + r"(?![0-9A-Za-z_.])",
            _FLOAT + r"(?![0-9A-Za-z_.])",
            _CONST + r"(?![0-9A-Za-z_])",
            _ESCAPED,
        ]
    ),
    re.ASCII,
)
#: One element inside a container: an opener (1), a closer (2), or a scalar with the
#: separator that must follow it, so one match reads both. The separator's group number
#: (m.lastindex) tells the scalar's kind; its value is the group before it.
_ELEMENT = re.compile(
    _BLANK
    + "(?:"
    + "|".join(
        [r"([(\[{])", r"([)\]}])"] + [kind + _SEPARATOR for kind in (_STR1, _STR2, _INT, _FLOAT, _CONST, _ESCAPED)]
    )
    + ")",
    re.ASCII,
)
_AFTER_CONTAINER = re.compile(_SEPARATOR)
_STR_SEPS, _INT_SEP, _FLOAT_SEP, _CONST_SEP, _ESCAPED_SEP = {4, 6}, 8, 10, 12, 14
_CLOSERS = {"(": ")", "[": "]", "{": "}"}
_OPENERS = frozenset("([{")
_SEPARATORS = frozenset(",:)]}")
_NEEDS_REGEX = re.compile(r"[\\\n\r\x00]").search  # a backslash, line break or NUL: the regex decides
_MISSING = object()
_CLOSED = object()  # (what _element gives for a closer)
_CONSTANTS = {"None": None, "True": True, "False": False}
_BLANKS = frozenset(" \t\n\f\r\v")
_TAIL = re.compile(r"[ \t\n\f]*\Z")


def loads(data: bytes) -> Any:
    """serpent.loads(data) for data in the fast subset; Unsupported for anything else."""
    if data[:_HEADER_LEN] != _HEADER_BYTES:
        raise Unsupported("no serpent header")
    tail = data[_HEADER_LEN:]
    if tail.isdigit() and (tail[:1] != b"0" or len(tail) == 1) and len(tail) <= _MAX_INT_DIGITS:
        return int(tail)  # the reply of many calls (bytes.isdigit: ASCII digits only)
    try:
        text = tail.decode("utf-8")
    except UnicodeDecodeError:
        raise Unsupported("not UTF-8") from None
    constant = _CONSTANTS.get(text, _MISSING)
    if constant is not _MISSING:
        return constant
    first = text[:1]
    if first in _CLOSERS:
        value, pos = _container(text, first, 1, 0)
    else:
        if first in _BLANKS:
            raise Unsupported("indented")  # Python reads an indented first line as an error
        m = _SCALAR.match(text)
        if m is None:
            raise Unsupported("token")
        kind: int = m.lastindex  # type: ignore[assignment]  # every alternative is a group
        token = m.group(kind)
        if kind <= 2:
            value = token
        elif kind == 3:
            value = _int(token)
        elif kind == 4:
            value = float(token)
        elif kind == 5:
            value = _CONSTANTS[token]
        else:
            value = ast.literal_eval(token)  # escapes: let Python read them
        pos = m.end()
    if not _TAIL.match(text, pos):
        raise Unsupported("trailing text")
    return value


def _int(token: str | bytes) -> int:
    if len(token) > _MAX_INT_DIGITS:
        raise Unsupported("long int")
    return int(token)


def _container(text: str, opener: str, pos: int, level: int) -> tuple[Any, int]:
    """Parse a container from just after its ``opener``; returns (value, position after its closer)."""
    if level > MAX_DEPTH:
        raise Unsupported("nested too deeply")
    closer = _CLOSERS[opener]
    find = text.find
    items: list[Any] = []
    values: list[Any] = []
    is_dict: Any = None  # "{...}": a dict or a set, told by the first separator
    want_value = False
    trailing_comma = False
    while True:
        item: Any = _MISSING
        if (
            text[pos : pos + 1] == "'"
        ):  # the commonest element, an unescaped 'string' and its separator, without a regex
            end = find("'", pos + 1)
            separator = text[end + 1 : end + 2]
            if end > 0 and separator in _SEPARATORS:
                candidate = text[pos + 1 : end]
                if not _NEEDS_REGEX(candidate):
                    item = candidate
                    pos = end + 2
        if item is _MISSING:
            item, separator, pos = _element(text, pos, level)
            if item is _CLOSED:
                if separator != closer or want_value or (items and not trailing_comma):
                    raise Unsupported("structure")
                break
        if want_value:
            values.append(item)
            want_value = False
            if separator == ":":
                raise Unsupported("structure")
        else:
            items.append(item)
            if separator == ":":
                if opener != "{" or is_dict is False:
                    raise Unsupported("structure")
                is_dict = want_value = True
                continue
            if is_dict:
                raise Unsupported("structure")  # a key without a value
            if opener == "{":
                is_dict = False
        if separator == ",":
            trailing_comma = True
            continue
        if separator != closer:
            raise Unsupported("structure")
        trailing_comma = False
        break
    return _built(opener, items, values, is_dict, trailing_comma), pos


def _element(text: str, pos: int, level: int) -> tuple[Any, str, int]:
    """The element at ``pos`` and the separator after it: (value, separator, the position after
    that); for a closer there: (_CLOSED, the closer, the position after it)."""
    if text[pos : pos + 1] in _OPENERS:
        return _after_container(text, *_container(text, text[pos], pos + 1, level + 1))
    m = _ELEMENT.match(text, pos)
    if m is None:
        raise Unsupported("token")
    group: int = m.lastindex  # type: ignore[assignment]  # every alternative is a group
    if group in _STR_SEPS:
        item: Any = m.group(group - 1)
    elif group == 1:
        return _after_container(text, *_container(text, m.group(1), m.end(), level + 1))
    elif group == 2:
        return _CLOSED, m.group(2), m.end()
    elif group == _INT_SEP:
        item = _int(m.group(group - 1))
    elif group == _FLOAT_SEP:
        item = float(m.group(group - 1))
    elif group == _CONST_SEP:
        item = _CONSTANTS[m.group(group - 1)]
    else:
        item = ast.literal_eval(m.group(group - 1))  # escapes: let Python read them
    return item, m.group(group), m.end()


def _after_container(text: str, value: Any, pos: int) -> tuple[Any, str, int]:
    m = _AFTER_CONTAINER.match(text, pos)
    if m is None:
        raise Unsupported("token")
    return value, m.group(1), m.end()


def _built(opener: str, items: list[Any], values: list[Any], is_dict: Any, trailing_comma: bool) -> Any:
    """The value of a container read as ``items`` (and ``values``, for a dict)."""
    if opener == "(":
        if len(items) == 1 and not trailing_comma:
            return items[0]  # "(x)" is just x
        return tuple(items)
    if opener == "[":
        return items
    try:
        if is_dict or not items:
            return dict(zip(items, values))
        return set(items)
    except TypeError:
        raise Unsupported("unhashable key") from None


# -- the call tuple: ('object', 'method', (scalar, args), {}) in one regex ---------------------

_NAME = rb"'([^'\\\n\r\x00]*)'"
_WHOLE = rb"(?:0|[1-9][0-9]{0,%d})" % (_MAX_INT_DIGITS - 1)
#: The common call, from the header on. Its arguments: one to three whole numbers in groups 3-5
#: (one alone with its comma), more in group 6, or other scalars in group 7.
_CALL = re.compile(
    re.escape(_HEADER_BYTES)
    + rb"\("
    + _NAME
    + b","
    + _NAME
    + rb",\((?:(%s),(?:(%s)(?:,(%s))?,?)?|(%s(?:,%s){3,}),?|((?:[^()\[\]{}'\"\\\n\r\x00]|'[^'\\\n\r\x00]*')*))\),\{\}\)[ \t\n\f]*\Z"
    % ((_WHOLE,) * 5)
).match
#: One argument and the comma after it (or the end): the separator's group number tells the kind.
_ARGUMENT = re.compile(
    "|".join(kind + r"(,|\Z)" for kind in (_STR1, _INT, _FLOAT, _CONST)).encode("ascii"), re.ASCII
).finditer
_CONSTANTS_BYTES = {b"None": None, b"True": True, b"False": False}


def loads_call(data: bytes) -> Any:
    """:func:`loads` for a call tuple; the common shape (scalar args, no keyword args) in one pass."""
    call = scalar_call(data)
    return loads(data) if call is None else call


def scalar_call(data: bytes) -> Optional[tuple[str, str, tuple[Any, ...], dict[str, Any]]]:
    """The call tuple when it has the common shape (scalar args, no keyword args); else None."""
    m = _CALL(data)
    if m is None:
        return None
    obj, method, first, second, third, numbers, others = m.groups()
    try:
        obj, method = obj.decode(), method.decode()
    except UnicodeDecodeError:
        return None
    if first is not None:
        if second is None:
            return obj, method, (int(first),), {}
        if third is None:
            return obj, method, (int(first), int(second)), {}
        return obj, method, (int(first), int(second), int(third)), {}
    if numbers is not None:
        return obj, method, tuple(map(int, numbers.split(b","))), {}
    if not others:
        return obj, method, (), {}
    values = _scalar_arguments(others)
    return None if values is None else (obj, method, values, {})


def _scalar_arguments(arguments: bytes) -> Optional[tuple[Any, ...]]:
    """``'a',1.5,None`` (a tuple's items: strings without escapes, numbers, constants) as values; None
    for anything else."""
    values = []
    pos = 0
    for a in _ARGUMENT(arguments):
        if a.start() != pos:
            return None  # something else between the arguments: the general parser decides
        separator: int = a.lastindex  # type: ignore[assignment]  # always set: a group matched
        token = a.group(separator - 1)
        if separator == 2:
            try:
                values.append(token.decode())
            except UnicodeDecodeError:
                return None
        elif separator == 4:
            values.append(_int(token))
        elif separator == 6:
            values.append(float(token))
        else:
            values.append(_CONSTANTS_BYTES[token])
        pos = a.end()
    if pos == len(arguments) and (len(values) > 1 or arguments[-1:] == b","):
        return tuple(values)
    return None  # "(x)" is just x, not a tuple


#: The text of a call with n scalar arguments (index n), and {} or None as keyword arguments: one %
#: formatting writes it (%r is repr, as serpent writes these types).
_CALL_TEXTS = {
    tail: [f"{HEADER}(%r,%r,({','.join(['%r'] * n)}{',' if n == 1 else ''}),{tail})" for n in range(9)]
    for tail in ("{}", "None")
}


def dumps_call(obj: str, method: str, vargs: Any, kwargs: Any) -> bytes:
    """``dumps((obj, method, vargs, kwargs))``: a call with up to 8 scalar arguments written in one go."""
    if type(vargs) is tuple and type(obj) is str and type(method) is str and not kwargs and len(vargs) < 9:
        for arg in vargs:
            if type(arg) not in _REPR_TYPES:
                break
        else:
            if kwargs is None:
                return (_CALL_TEXTS["None"][len(vargs)] % (obj, method, *vargs)).encode()
            if type(kwargs) is dict:
                return (_CALL_TEXTS["{}"][len(vargs)] % (obj, method, *vargs)).encode()
    return dumps((obj, method, vargs, kwargs))
