"""Remote tracebacks: getPyroTraceback, formatTraceback, excepthook."""

from __future__ import annotations

import sys

import pytest

import pyro_client
from pyro_client import config, excepthook, formatTraceback, getPyroTraceback, util


def remote_error(calc):
    try:
        calc.divide(1, 0)
    except ZeroDivisionError:
        return sys.exc_info()
    raise AssertionError("no exception")


def test_remote_traceback_follows_the_local_one(pyro4_server, proxies):
    calc = proxies(pyro4_server.uri("calc"))
    ex_type, ex_value, ex_tb = remote_error(calc)
    lines = getPyroTraceback(ex_type, ex_value, ex_tb)
    text = "".join(lines)
    local_end = text.index("ZeroDivisionError: division by zero\n")
    header = text.index(" +--- This exception occured remotely (Pyro) - Remote traceback:\n")
    assert local_end < header
    remote = text[header:].splitlines()
    assert remote[1] == " | Traceback (most recent call last):"
    assert all(line.startswith(" | ") for line in remote[1:-1])
    assert any("in divide" in line for line in remote)
    assert remote[-1] == " +--- End of remote traceback"
    assert "in remote_error" in text[:header]  # the local part


def test_without_arguments_inside_an_except_block(pyro4_server, proxies):
    calc = proxies(pyro4_server.uri("calc"))
    try:
        calc.fail("from the server")
    except ValueError:
        text = "".join(getPyroTraceback())
    assert "ValueError: from the server" in text and "Remote traceback" in text


def test_local_exception_has_only_the_local_traceback():
    try:
        {}["missing"]
    except KeyError:
        lines = getPyroTraceback()
    assert "Remote traceback" not in "".join(lines)
    assert lines[-1] == "KeyError: 'missing'\n"


def test_exception_object_alone():
    error = ValueError("just me")
    error._pyroTraceback = [
        "Traceback (most recent call last):\n",
        "  File 'x'\nValueError: just me\n",
    ]
    text = "".join(getPyroTraceback(error))
    assert " | Traceback (most recent call last):\n |   File 'x'\n | ValueError: just me\n" in text
    with pytest.raises(TypeError):
        formatTraceback("not an exception type")


def test_detailed_traceback_lists_local_values():
    def inner(number):
        helper = number * 2
        return helper / 0

    try:
        inner(21)
    except ZeroDivisionError:
        lines = formatTraceback(detailed=True)
    text = "".join(lines)
    assert " EXCEPTION <class 'ZeroDivisionError'>: division by zero\n" in text
    assert "Source code:\n    return helper / 0\n" in text
    assert "    helper = 42\n" in text and "    number = 21\n" in text
    config.DETAILED_TRACEBACK = True
    try:
        inner(1)
    except ZeroDivisionError:
        assert "Local values:" in "".join(getPyroTraceback())


def test_excepthook_prints_both_tracebacks(pyro4_server, proxies, capsys):
    calc = proxies(pyro4_server.uri("calc"))
    excepthook(*remote_error(calc))
    err = capsys.readouterr().err
    assert "ZeroDivisionError: division by zero" in err
    assert " +--- End of remote traceback\n" in err


def test_util_names_are_reexported():
    assert pyro_client.getPyroTraceback is util.getPyroTraceback
    assert pyro_client.excepthook is util.excepthook
    assert set(pyro_client.__all__) >= {
        "Proxy",
        "BatchProxy",
        "batch",
        "Future",
        "FutureResult",
        "locateNS",
    }
