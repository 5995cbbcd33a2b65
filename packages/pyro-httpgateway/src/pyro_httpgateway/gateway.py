"""The WSGI application: ``GET/POST /pyro/<name>/<method>?args`` becomes a Pyro call.

URLs (as Pyro4 4.82's gateway):

- ``/`` redirects to ``/pyro/``, the page listing the exposed objects;
- ``/pyro/<name>/<method>`` calls ``method`` of the object registered in the
  name server as ``name``, with the request's arguments as keyword arguments,
  and answers with the result in Pyro's JSON format;
- ``/pyro/<name>/<attribute>`` reads an exposed attribute;
- ``/pyro/<name>/$meta`` gives the object's methods and attributes.

Status codes: 200 result (an empty body for a oneway call); 400 malformed
request; 401 missing or wrong gateway key; 403 name not exposed; 404 unknown
name or member; 405 not GET or POST; 413 body too large; 415 body of an
unknown type; 500 the object raised (body: the exception as Pyro's JSON
exception object); 502 name server or object unreachable; 504 timed out.
Every error body is such a JSON exception object.
"""

from __future__ import annotations

import hmac as _hmac
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Iterable
from typing import Any, Callable, Optional, Union

from pyro_client import (
    CommunicationError,
    NamingError,
    PyroError,
    SecurityError,
    StreamResultIterator,
    TimeoutError,
    current_context,
    locateNS,
)
from pyro_protocol.config import config
from pyro_protocol.errors import ProtocolError
from pyro_protocol.message import FLAGS_ONEWAY
from pyro_protocol.serializers import exception_class_name

from . import page
from .links import Links, RawReply
from .request import MAX_BODY_SIZE, HttpError, read_parameters

__all__ = [
    "Gateway",
    "DEFAULT_EXPOSE",
    "pyro_app",
    "app",
    "get_nameserver",
    "process_pyro_request",
    "return_homepage",
    "invalid_request",
    "not_found",
    "redirect",
]

log = logging.getLogger("pyro.httpgateway")

#: Names exposed by default (Pyro4 4.82's default): only ``http.`` names, so that nothing
#: registered for internal use (the name server itself included) is reachable by accident.
DEFAULT_EXPOSE = r"http\."
#: The environment variables the keys are read from (Pyro4's names).
GATEWAY_KEY_VARIABLE = "PYRO_HTTPGATEWAY_KEY"
HMAC_KEY_VARIABLE = "PYRO_HMAC_KEY"

StartResponse = Callable[..., Any]
_Response = tuple[str, list[tuple[str, str]], bytes]
_JSON_TYPE = ("Content-Type", "application/json; charset=utf-8")
_META = "$meta"
_PREFIX = "/pyro/"


def _as_bytes(value: Union[str, bytes, None]) -> Optional[bytes]:
    if not value:
        return None
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def error_body(error: BaseException) -> bytes:
    """An exception as Pyro's JSON exception object (its class and message only: no traceback)."""
    data = {
        "__class__": exception_class_name(type(error)),
        "__exception__": True,
        "args": [arg if isinstance(arg, (str, int, float, bool, type(None))) else str(arg) for arg in error.args],
        "attributes": {},
    }
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def _status_of(error: PyroError) -> str:
    """The status for a failure on the Pyro side of the gateway."""
    if isinstance(error, TimeoutError):
        return "504 Gateway Timeout"
    if isinstance(error, CommunicationError):
        return "502 Bad Gateway"
    if isinstance(error, NamingError):
        return "404 Not Found"
    return "500 Internal Server Error"


class Gateway:
    """The gateway as a WSGI application (``pyro_app`` is one with the default settings).

    Attributes with Pyro4's names, changeable at any time: ``ns_regex`` (exposed names;
    empty: all), ``gateway_key`` (required from clients when set), ``hmac_key`` (for
    Pyro connections), ``comm_timeout`` (seconds per Pyro call; 0: none); and
    ``ns_host``/``ns_port`` (where the name server is; None: found as ``locateNS``
    finds it), ``max_body_size`` (bytes; larger bodies get 413).
    """

    def __init__(
        self,
        ns_regex: str = DEFAULT_EXPOSE,
        gateway_key: Union[str, bytes, None] = None,
        hmac_key: Union[str, bytes, None] = None,
        comm_timeout: Optional[float] = None,
        ns_host: Optional[str] = None,
        ns_port: Optional[int] = None,
        max_body_size: int = MAX_BODY_SIZE,
    ) -> None:
        re.compile(ns_regex)  # a bad pattern fails here, not at every request
        self.ns_regex = ns_regex
        self.gateway_key: Union[str, bytes, None] = _as_bytes(
            gateway_key if gateway_key is not None else os.environ.get(GATEWAY_KEY_VARIABLE)
        )
        self.hmac_key: Union[str, bytes, None] = _as_bytes(
            hmac_key if hmac_key is not None else os.environ.get(HMAC_KEY_VARIABLE)
        )
        self.comm_timeout = config.COMMTIMEOUT if comm_timeout is None else comm_timeout
        self.ns_host = ns_host
        self.ns_port = ns_port
        self.max_body_size = max_body_size
        self._links: Optional[Links] = None
        self._links_lock = threading.Lock()

    # -- WSGI ------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        return self._answer(environ, start_response, lambda: self._respond(environ))

    def _answer(
        self, environ: dict[str, Any], start_response: StartResponse, respond: Callable[[], _Response]
    ) -> Iterable[bytes]:
        """Run ``respond`` with the request's correlation id in the call context; answer what it gives."""
        correlation: Optional[uuid.UUID] = None
        try:
            correlation = _correlation_id(environ)
            current_context.correlation_id = correlation
            status, headers, body = respond()
        except HttpError as exc:
            status, headers, body = exc.status, [_JSON_TYPE, *exc.headers], error_body(exc.error)
        except Exception as exc:  # a gateway bug: still a JSON answer, and a log entry
            log.exception("error handling %s", environ.get("PATH_INFO"))
            status, headers, body = "500 Internal Server Error", [_JSON_TYPE], error_body(exc)
        finally:
            current_context.correlation_id = None  # request threads are reused
        if correlation is not None:
            headers.append(("X-Pyro-Correlation-Id", str(correlation)))
        start_response(status, headers)
        return [body]

    def _respond(self, environ: dict[str, Any]) -> _Response:
        path = _path(environ)
        if path in ("", "/", _PREFIX.rstrip("/")):
            return redirect_response(environ.get("SCRIPT_NAME", "") + _PREFIX)
        if not path.startswith(_PREFIX):
            raise HttpError("404 Not Found", NamingError(f"no such page: {path} (the gateway serves {_PREFIX})"))
        if environ.get("REQUEST_METHOD") not in ("GET", "POST"):
            raise HttpError(
                "405 Method Not Allowed",
                ProtocolError(f"method {environ.get('REQUEST_METHOD')} not allowed; use GET or POST"),
                [("Allow", "GET, POST")],
            )
        parameters = read_parameters(environ, self.max_body_size)
        return self._pyro_request(environ, path[len(_PREFIX) :], parameters)

    def _pyro_request(self, environ: dict[str, Any], rest: str, parameters: dict[str, Any]) -> _Response:
        """``rest`` is the path after /pyro/: empty for the page, else ``<name>/<member>``."""
        query_key = parameters.pop("$key", "")  # never an argument of the call
        self._check_key(environ.get("HTTP_X_PYRO_GATEWAY_KEY") or query_key)
        if not rest:
            status, html = page.render(self, self.links())
            return status, [("Content-Type", "text/html; charset=utf-8")], html
        name, _, member = rest.rpartition("/")
        if not name or not member:
            raise HttpError("404 Not Found", NamingError(f"expected /pyro/<name>/<method>, not /pyro/{rest}"))
        if self.ns_regex and not re.match(self.ns_regex, name):
            raise HttpError("403 Forbidden", SecurityError(f"access to the object {name!r} is not allowed"))
        options = {option.strip().lower() for option in environ.get("HTTP_X_PYRO_OPTIONS", "").split(",")}
        status, body = self._invoke(name, member, parameters, "oneway" in options)
        return status, [_JSON_TYPE], body

    def _check_key(self, given: Any) -> None:
        wanted = _as_bytes(self.gateway_key)
        if not wanted:
            return
        if not isinstance(given, str) or not _hmac.compare_digest(given.encode("utf-8"), wanted):
            raise HttpError(
                "401 Unauthorized",
                SecurityError("missing or incorrect gateway key (X-Pyro-Gateway-Key header or $key parameter)"),
                [("WWW-Authenticate", "X-Pyro-Gateway-Key")],
            )

    # -- calls -------------------------------------------------------------------------------

    def links(self) -> Links:
        """The lookups and pooled proxies for the current settings (made anew when they change)."""
        settings = (self.ns_host, self.ns_port, _as_bytes(self.hmac_key), float(self.comm_timeout or 0.0))
        links = self._links
        if links is None or (links.ns_host, links.ns_port, links.hmac_key, links.timeout) != settings:
            with self._links_lock:
                old, links = self._links, Links(*settings)
                self._links = links
            if old is not None:
                old.close()
        return links

    def _invoke(self, name: str, member: str, parameters: dict[str, Any], oneway: bool) -> tuple[str, bytes]:
        try:
            with self.links().object_proxy(name) as proxy:
                reply = _call(proxy, member, parameters, oneway)
        except RawReply as exc:  # the object raised: its exception as its daemon sent it
            return "500 Internal Server Error", exc.data
        except PyroError as exc:
            status = _status_of(exc)
            if status[0] == "5":
                log.warning("%s/%s: %s: %s", name, member, type(exc).__name__, exc)
            raise HttpError(status, exc) from None
        if reply is None:  # oneway
            return "200 OK", b""
        return "200 OK", reply

    def close(self) -> None:
        """Close the pooled Pyro connections (the gateway opens new ones if used again)."""
        with self._links_lock:
            links, self._links = self._links, None
        if links is not None:
            links.close()


def _call(proxy: Any, member: str, parameters: dict[str, Any], oneway: bool) -> Optional[bytes]:
    """One request's Pyro call on a pass-through proxy: the reply's JSON, or None for oneway."""
    if member == _META:
        meta = {
            "methods": sorted(proxy._pyroMethods),
            "attributes": sorted(proxy._pyroAttrs),
            "oneway": sorted(proxy._pyroOneway),
        }
        return json.dumps(meta).encode("utf-8")
    if member in proxy._pyroAttrs:
        if parameters:
            raise HttpError("400 Bad Request", ProtocolError(f"reading the attribute {member!r} takes no arguments"))
        reply = proxy._pyroInvoke("__getattr__", (member,), None)
    elif member in proxy._pyroMethods:
        reply = proxy._pyroInvoke(member, (), parameters, FLAGS_ONEWAY if oneway else 0)
    else:
        raise HttpError("404 Not Found", AttributeError(f"the object has no exposed method or attribute {member!r}"))
    if reply is None or isinstance(reply, RawReply):
        return None if reply is None else reply.data
    if isinstance(reply, StreamResultIterator):
        reply.close()
        raise HttpError(
            "500 Internal Server Error",
            PyroError(f"{member} returned an iterator; the HTTP gateway passes only whole results (return a list)"),
        )
    raise ProtocolError(f"unexpected reply {type(reply).__name__}")


def _path(environ: dict[str, Any]) -> str:
    """PATH_INFO as text: WSGI hands it over as latin-1 decoded bytes; URLs are UTF-8."""
    raw = environ.get("PATH_INFO", "")
    try:
        return str(raw.encode("latin-1").decode("utf-8"))
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise HttpError("400 Bad Request", ProtocolError("the URL path is not valid UTF-8")) from None


def _correlation_id(environ: dict[str, Any]) -> uuid.UUID:
    """The request's correlation id (X-Pyro-Correlation-Id), or a new one."""
    text = environ.get("HTTP_X_PYRO_CORRELATION_ID", "").strip()
    if not text:
        return uuid.uuid4()
    try:
        return uuid.UUID(text)
    except ValueError:
        raise HttpError(
            "400 Bad Request", ProtocolError(f"X-Pyro-Correlation-Id is not a UUID: {text[:40]!r}")
        ) from None


def redirect_response(target: str) -> _Response:
    return "302 Found", [("Location", target), ("Content-Type", "text/plain; charset=utf-8")], b""


# -- Pyro4 4.82's module-level names, for code written against Pyro4.utils.httpgateway --------

#: The gateway with the default settings; ``main`` configures and serves this one.
pyro_app = Gateway()


def app(**settings: Any) -> Gateway:
    """A new gateway for a WSGI server's factory syntax, e.g.
    ``gunicorn 'pyro_httpgateway:app(ns_regex="http\\\\.", ns_host="10.0.0.5")'``
    or ``waitress-serve --call pyro_httpgateway:app``. Keywords: those of :class:`Gateway`."""
    return Gateway(**settings)


def get_nameserver(hmac: Union[str, bytes, None] = None) -> Any:
    """A proxy for the name server ``pyro_app`` uses (the caller closes it)."""
    return locateNS(pyro_app.ns_host, pyro_app.ns_port, hmac_key=hmac or pyro_app.hmac_key)


def process_pyro_request(
    environ: dict[str, Any], path: str, parameters: dict[str, Any], start_response: StartResponse
) -> Iterable[bytes]:
    """Answer a request for ``path`` (after ``/pyro/``: ``<name>/<method>``, or empty for the
    page) with these arguments, as ``pyro_app`` does."""
    return pyro_app._answer(environ, start_response, lambda: pyro_app._pyro_request(environ, path, dict(parameters)))


def return_homepage(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Answer with the page listing the exposed objects."""
    return process_pyro_request(environ, "", {}, start_response)


def invalid_request(start_response: StartResponse) -> list[bytes]:
    """Answer 405 (Pyro4's helper)."""
    start_response("405 Method Not Allowed", [_JSON_TYPE, ("Allow", "GET, POST")])
    return [error_body(ProtocolError("method not allowed; use GET or POST"))]


def not_found(start_response: StartResponse) -> list[bytes]:
    """Answer 404 (Pyro4's helper)."""
    start_response("404 Not Found", [_JSON_TYPE])
    return [error_body(NamingError("not found"))]


def redirect(start_response: StartResponse, target: str) -> list[bytes]:
    """Answer 302 to ``target`` (Pyro4's helper)."""
    status, headers, body = redirect_response(target)
    start_response(status, headers)
    return [body]
