"""Reading a request's arguments: the query string and a POSTed body.

Pyro4's gateway read them with ``cgi.parse`` (gone in Python 3.13); this reads
the same forms with ``urllib.parse`` and ``email``:

- the query string (``?name=value&...``), for GET and POST;
- a POST body as ``application/x-www-form-urlencoded`` (a plain HTML form; also
  when there is no Content-Type, as cgi did), ``multipart/form-data`` (a form
  with that encoding, or a script's ``FormData``), or ``application/json``: an
  object whose members are the arguments, with JSON's types (numbers, lists,
  ...) instead of strings.

Form values are strings, a name given more than once a list of them. Blank
values are left out, as cgi did (``?a=`` passes no ``a``).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
from typing import Any, Union
from urllib.parse import parse_qsl

from pyro_protocol.errors import MessageTooLargeError, ProtocolError

__all__ = ["HttpError", "read_parameters", "singlyfy_parameters", "MAX_BODY_SIZE"]

#: Largest request body read (bytes); larger ones get 413. Form posts of call arguments
#: are small; this bounds the memory one request can take.
MAX_BODY_SIZE = 1024 * 1024
#: A refused body up to this size is still read (and dropped) before answering 413: a
#: server that closes a connection with unread data makes the client's TCP stack reset
#: it, and the client may then see "connection reset" instead of the 413.
_DRAIN_LIMIT = 16 * 1024 * 1024
_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"
_JSON = "application/json"


class HttpError(Exception):
    """A request the gateway answers with ``status`` and ``error`` (an exception, sent as JSON)."""

    def __init__(self, status: str, error: BaseException, headers: Union[list[tuple[str, str]], None] = None) -> None:
        super().__init__(status, error)
        self.status = status
        self.error = error
        self.headers = headers or []


def _bad_request(message: str) -> HttpError:
    return HttpError("400 Bad Request", ProtocolError(message))


def _parse_pairs(text: str, where: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(text, keep_blank_values=False, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad_request(f"malformed {where}: {exc}") from None


def _collect(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Name -> value; a name given more than once -> the list of its values."""
    values: dict[str, list[Any]] = {}
    for name, value in pairs:
        values.setdefault(name, []).append(value)
    return {name: given[0] if len(given) == 1 else given for name, given in values.items()}


def singlyfy_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """Pyro4's helper: list values that hold a single item become that item (in place)."""
    for name, value in parameters.items():
        if isinstance(value, (list, tuple)) and len(value) == 1:
            parameters[name] = value[0]
    return parameters


def _content_length(environ: dict[str, Any]) -> int:
    text = environ.get("CONTENT_LENGTH") or "0"
    try:
        length = int(text)
    except ValueError:
        raise _bad_request(f"invalid Content-Length: {text!r}") from None
    if length < 0:
        raise _bad_request(f"invalid Content-Length: {text!r}")
    return length


def _read_body(environ: dict[str, Any], max_body: int) -> bytes:
    length = _content_length(environ)
    stream = environ["wsgi.input"]
    if length > max_body:
        if length <= _DRAIN_LIMIT:
            while length > 0:
                chunk = stream.read(min(length, 65536))
                if not chunk:
                    break
                length -= len(chunk)
        raise HttpError(
            "413 Payload Too Large",
            MessageTooLargeError(f"request body of {_content_length(environ)} bytes exceeds the limit of {max_body}"),
        )
    body = stream.read(length) if length else b""
    if len(body) < length:
        raise _bad_request(f"request body ended after {len(body)} of {length} bytes")
    return bytes(body)


def _json_arguments(body: bytes) -> list[tuple[str, Any]]:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad_request(f"malformed JSON body: {exc}") from None
    if not isinstance(value, dict):
        raise _bad_request(f"a JSON body must be an object of named arguments, not {type(value).__name__}")
    return list(value.items())


def _multipart_arguments(content_type: str, body: bytes) -> list[tuple[str, Any]]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message: Any = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise _bad_request("malformed multipart/form-data body (no boundary or no parts)")
    pairs: list[tuple[str, Any]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            raise _bad_request("multipart/form-data part without a name")
        data = part.get_payload(decode=True) or b""
        try:
            value = data.decode(part.get_content_charset() or "utf-8")
        except (UnicodeDecodeError, LookupError):
            raise _bad_request(f"multipart/form-data part {name!r} is not text") from None
        if value:
            pairs.append((name, value))
    return pairs


def read_parameters(environ: dict[str, Any], max_body: int = MAX_BODY_SIZE) -> dict[str, Any]:
    """The call's named arguments from the query string and (for POST) the body."""
    pairs: list[tuple[str, Any]] = _parse_pairs(environ.get("QUERY_STRING", ""), "query string")
    if environ.get("REQUEST_METHOD") == "POST":
        body = _read_body(environ, max_body)
        content_type = environ.get("CONTENT_TYPE", "")
        kind = content_type.split(";", 1)[0].strip().lower()
        if kind in ("", _FORM):
            try:
                text = body.decode("ascii")
            except UnicodeDecodeError:
                raise _bad_request("a form body must be percent-encoded ASCII") from None
            body_pairs: list[tuple[str, Any]] = _parse_pairs(text, "form body")
        elif kind == _JSON:
            body_pairs = _json_arguments(body) if body else []
        elif kind == _MULTIPART:
            body_pairs = _multipart_arguments(content_type, body)
        else:
            raise HttpError(
                "415 Unsupported Media Type",
                ProtocolError(f"cannot read a {kind} body; send {_FORM}, {_MULTIPART} or {_JSON}"),
            )
        pairs = body_pairs + pairs  # body first, as cgi.parse did
    return _collect(pairs)
