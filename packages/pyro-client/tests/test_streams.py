"""Remote iterators against a genuine Pyro4 daemon: fetching, closing early, dropping."""

from __future__ import annotations

import gc

import pytest

from pyro_client import ConnectionClosedError, PyroError, StreamResultIterator


def stream_is_gone(calc, stream_id):
    """True when the daemon no longer knows the stream (asked over another connection)."""
    try:
        calc._pyroInvoke("get_next_stream_item", [stream_id], {}, objectId="Pyro.Daemon")
    except PyroError as exc:
        return "item stream terminated" in str(exc)
    return False


def wait_until_gone(wait, calc, stream_id):
    # close_stream is a oneway call: the daemon runs it in a thread of its own, a bit later
    return wait(lambda: stream_is_gone(calc, stream_id))


def test_items_come_one_per_call(calc):
    calc._pyroBind()
    items = calc.generator(3)
    seq = calc._pyroSeq
    assert next(items) == 0
    assert calc._pyroSeq == seq + 1
    assert list(items) == [1, 2]
    assert items.proxy is None  # finished: nothing left to close


def test_close_early_frees_the_stream(calc, proxies, pyro4_server, wait):
    items = calc.generator(10)
    assert next(items) == 0
    stream_id = items.streamId
    items.close()
    other = proxies(pyro4_server.uri("calc"))
    assert wait_until_gone(wait, other, stream_id)
    with pytest.raises(StopIteration):
        next(items)
    items.close()  # harmless twice


def test_dropping_the_iterator_closes_the_stream(calc, proxies, pyro4_server, wait):
    items = calc.generator(10)
    next(items)
    stream_id = items.streamId
    del items
    gc.collect()
    other = proxies(pyro4_server.uri("calc"))
    assert wait_until_gone(wait, other, stream_id)


def test_closing_while_the_proxy_is_busy_uses_another_connection(calc, proxies, pyro4_server, wait):
    items = calc.generator(10)
    next(items)
    with calc._pyro_lock:  # as if the garbage collector ran in the middle of a call
        items.close()
    other = proxies(pyro4_server.uri("calc"))
    assert wait_until_gone(wait, other, items.streamId)
    assert calc.add(1, 2) == 3  # the proxy's own connection is still in step


def test_iterator_of_a_released_proxy(calc):
    items = calc.generator(5)
    assert next(items) == 0
    calc._pyroRelease()
    with pytest.raises(ConnectionClosedError, match="has been closed"):
        next(items)
    items.close()  # no error: the proxy has no connection any more


def test_iterator_keeps_a_dropped_proxy_working(pyro4_server):
    from pyro_client import Proxy

    calc = Proxy(pyro4_server.uri("calc"))
    items = calc.generator(4)
    sock = calc._pyroConnection.sock
    del calc
    assert list(items) == [0, 1, 2, 3]
    # finished: the last reference to the proxy went, and with it the connection
    assert sock.fileno() == -1


def test_two_streams_on_one_connection(calc):
    first = calc.generator(3)
    second = calc.generator(2)
    assert [next(first), next(second), next(first), next(second), next(first)] == [
        0,
        0,
        1,
        1,
        2,
    ]
    assert isinstance(first, StreamResultIterator) and first.streamId != second.streamId


def test_asynchronous_call_returning_a_stream(calc):
    calc._pyroAsync()
    result = calc.generator(4)
    assert result.wait(10)
    items = result.value
    assert list(items) == [0, 1, 2, 3]
    assert items.proxy is None
