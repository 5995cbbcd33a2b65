"""Tracebacks of remote exceptions: a remote exception carries the server's
traceback lines in its ``_pyroTraceback`` attribute; these helpers show them
after the local traceback (protocol 2.10)."""

from __future__ import annotations

import linecache
import sys
import traceback
from types import TracebackType
from typing import Any, Optional

from pyro_protocol.config import config

__all__ = ["getPyroTraceback", "formatTraceback", "excepthook"]

REMOTE_HEADER = " +--- This exception occured remotely (Pyro) - Remote traceback:"
REMOTE_FOOTER = " +--- End of remote traceback"
_REMOTE_PREFIX = " | "
_RULE = "-" * 52 + "\n"

ExcInfo = tuple[Optional[type], Optional[BaseException], Optional[TracebackType]]


def _exc_info(ex_type: Any, ex_value: Any, ex_tb: Any) -> ExcInfo:
    """Fill in from sys.exc_info() when nothing was given; accept a lone exception object."""
    if isinstance(ex_type, BaseException) and ex_value is None and ex_tb is None:
        return type(ex_type), ex_type, ex_type.__traceback__
    if ex_type is not None and ex_value is None and ex_tb is None and not isinstance(ex_type, type):
        raise TypeError("invalid argument: ex_type should be an exception type, or just supply no arguments at all")
    if ex_type is None and ex_tb is None:
        return sys.exc_info()
    return ex_type, ex_value, ex_tb


def getPyroTraceback(ex_type: Any = None, ex_value: Any = None, ex_tb: Any = None) -> list[str]:  # noqa: N802
    """The traceback lines of an exception, followed by its remote traceback if it has one.

    Without arguments it formats the exception being handled (``sys.exc_info()``).
    """
    ex_type, ex_value, ex_tb = _exc_info(ex_type, ex_value, ex_tb)
    local = formatTraceback(ex_type, ex_value, ex_tb, config.DETAILED_TRACEBACK)
    remote = getattr(ex_value, "_pyroTraceback", None)
    if not remote:
        return local
    return local + _format_remote(remote)


def _format_remote(remote: Any) -> list[str]:
    if isinstance(remote, str):
        remote = [remote]
    lines = [REMOTE_HEADER + "\n"]
    for chunk in remote:
        text = str(chunk)
        if text.endswith("\n"):
            text = text[:-1]
        lines.extend(_REMOTE_PREFIX + line + "\n" for line in text.split("\n"))
    lines.append(REMOTE_FOOTER + "\n")
    return lines


def formatTraceback(  # noqa: N802 - Pyro4's name
    ex_type: Any = None, ex_value: Any = None, ex_tb: Any = None, detailed: bool = False
) -> list[str]:
    """Traceback lines of an exception (``sys.exc_info()`` when not given).

    ``detailed`` adds each frame's source line and local variables.
    """
    ex_type, ex_value, ex_tb = _exc_info(ex_type, ex_value, ex_tb)
    if not detailed:
        return traceback.format_exception(ex_type, ex_value, ex_tb)
    try:
        return _detailed(ex_type, ex_value, ex_tb)
    except Exception:
        # the detailed form calls repr() of arbitrary objects; never lose the plain traceback over it
        return traceback.format_exception(ex_type, ex_value, ex_tb)


def _detailed(ex_type: Any, ex_value: Any, ex_tb: Optional[TracebackType]) -> list[str]:
    title = f" EXCEPTION {ex_type}: {ex_value}\n"
    lines = [_RULE, title, " Extended stacktrace follows (most recent call last)\n"]
    first = True
    while ex_tb is not None:
        frame = ex_tb.tb_frame
        code = frame.f_code
        owner = frame.f_locals.get("self")
        where = f"{type(owner).__name__}.{code.co_name}" if owner is not None else code.co_name
        lines += [
            _RULE,
            f'File "{code.co_filename}", line {ex_tb.tb_lineno}, in {where}\n',
            "Source code:\n",
            "    " + linecache.getline(code.co_filename, ex_tb.tb_lineno).strip() + "\n",
        ]
        if not first:  # the outermost frame's locals are the caller's business
            lines += _local_values(frame)
        first = False
        ex_tb = ex_tb.tb_next
    return lines + [_RULE, title, _RULE]


def _local_values(frame: Any) -> list[str]:
    lines = ["Local values:\n"]
    for name, value in sorted(frame.f_locals.items()):
        lines.append(f"    {name} = {_safe_repr(value)}\n")
        if name == "self":
            for attribute, attribute_value in vars(value).items() if hasattr(value, "__dict__") else ():
                lines.append(f"        self.{attribute} = {_safe_repr(attribute_value)}\n")
    return lines


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:
        try:
            return str(value)
        except Exception:
            return "<ERROR>"


def excepthook(ex_type: Any, ex_value: Any, ex_tb: Any) -> None:
    """For ``sys.excepthook``: print the traceback and the remote traceback to stderr."""
    sys.stderr.write("".join(getPyroTraceback(ex_type, ex_value, ex_tb)))
