"""The Pyro exception hierarchy, with Pyro4's names (they travel on the wire)."""

from __future__ import annotations

from typing import Any

__all__ = [
    "PyroError",
    "CommunicationError",
    "ConnectionClosedError",
    "TimeoutError",
    "ProtocolError",
    "MessageTooLargeError",
    "SerializeError",
    "NamingError",
    "DaemonError",
    "SecurityError",
    "ExceptionWrapper",
    "PYRO_ERRORS",
    "name_errors_module",
]


class PyroError(Exception):
    """Generic base of all Pyro-specific errors."""


class CommunicationError(PyroError):
    """Base for the errors related to network communication problems."""


class ConnectionClosedError(CommunicationError):
    """The connection was unexpectedly closed."""

    #: Set when the peer closed in the middle of a read: the bytes that did arrive (as in Pyro4).
    partialData: bytes


class TimeoutError(CommunicationError):  # noqa: A001 - Pyro4's name, visible on the wire
    """A call could not be completed within the timeout period."""


class ProtocolError(CommunicationError):
    """Pyro received a message that did not follow the protocol."""


class MessageTooLargeError(ProtocolError):
    """A message exceeded the configured maximum size."""


class SerializeError(ProtocolError):
    """Something went wrong while (de)serializing data."""


class NamingError(PyroError):
    """A problem with the name server, or with a name."""


class DaemonError(PyroError):
    """The daemon met a problem it cannot handle (an unknown object, say)."""


class SecurityError(PyroError):
    """A security related error occurred."""


#: name -> class, for recreating Pyro errors received as ``Pyro4.errors.<name>``.
PYRO_ERRORS: dict[str, type[PyroError]] = {
    cls.__name__: cls
    for cls in (
        PyroError,
        CommunicationError,
        ConnectionClosedError,
        TimeoutError,
        ProtocolError,
        MessageTooLargeError,
        SerializeError,
        NamingError,
        DaemonError,
        SecurityError,
    )
}


def name_errors_module(module: str) -> None:
    """Show Pyro's error classes as classes of ``module`` (their ``__module__``).

    Tracebacks and reprs name a class by its ``__module__``: the Pyro4 compatibility
    distribution sets ``"Pyro4.errors"``, so that its programs print
    ``Pyro4.errors.NamingError: ...`` as under Pyro4. (What travels on the wire
    does not depend on this: it always names them ``Pyro4.errors.<name>``.)
    """
    for cls in PYRO_ERRORS.values():
        cls.__module__ = module


class ExceptionWrapper:
    """Carries an exception inside a batch result list (``Pyro4.futures._ExceptionWrapper``)."""

    __slots__ = ("exception",)

    def __init__(self, exception: BaseException) -> None:
        self.exception = exception

    def raiseIt(self) -> None:  # noqa: N802 - Pyro4's name
        raise self.exception

    def __getstate__(self) -> dict[str, Any]:
        return {"exception": self.exception}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.exception = state["exception"]

    def __repr__(self) -> str:
        return f"<ExceptionWrapper {self.exception!r}>"
