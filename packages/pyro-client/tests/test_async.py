"""Asynchronous proxies (against a genuine Pyro4 daemon), FutureResult and Future."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from pyro_client import AsyncResult, Future, FutureResult, current_context
from pyro_protocol.errors import ExceptionWrapper


@pytest.fixture
def async_calc(pyro4_server, proxies):
    calc = proxies(pyro4_server.uri("calc"))
    calc._pyroAsync()
    return calc


def test_calls_return_at_once_and_run_in_parallel(async_calc):
    start = time.perf_counter()
    results = [async_calc.sleep(0.5) for _ in range(3)]
    assert time.perf_counter() - start < 0.3
    assert not results[0].ready
    assert not results[0].wait(0.05)
    assert [result.value for result in results] == [0.5, 0.5, 0.5]
    assert time.perf_counter() - start < 1.4  # three 0.5 s calls, side by side
    assert all(result.ready and result.wait(0) for result in results)


def test_then_chains_on_the_value(async_calc):
    result = async_calc.add(1, 2).then(lambda value: value * 10).then(lambda value, extra: value + extra, 5)
    assert result.value == 35


def test_then_after_the_value_arrived(async_calc):
    result = async_calc.add(2, 2)
    assert result.wait(10)
    result.then(lambda value: value + 1)
    assert result.value == 5


def test_remote_exception_is_raised_by_value_and_given_to_iferror(async_calc):
    seen = []
    result = async_calc.divide(1, 0).iferror(seen.append).then(lambda value: pytest.fail("not called"))
    with pytest.raises(ZeroDivisionError):
        result.get_value()
    assert len(seen) == 1 and isinstance(seen[0], ZeroDivisionError)


def test_iferror_after_the_failure_arrived(async_calc):
    result = async_calc.fail("late")
    assert result.wait(10)
    seen = []
    result.iferror(seen.append)
    assert [str(error) for error in seen] == ["late"]


def test_failing_chained_call_becomes_the_error(async_calc):
    result = async_calc.add(1, 1).then(lambda value: value / 0)
    with pytest.raises(ZeroDivisionError):
        result.get_value()


def test_oneway_method_in_asynchronous_mode(async_calc, wait, proxies, pyro4_server):
    result = async_calc.fire(555)
    assert result.wait(10) and result.value is None
    checker = proxies(pyro4_server.uri("calc"))
    assert wait(lambda: 555 in checker.fired())


def test_correlation_id_goes_along_to_the_worker(async_calc):
    correlation = uuid.uuid4()
    current_context.correlation_id = correlation
    assert async_calc.context_info().value["correlation_id"] == str(correlation)


def test_async_calls_use_their_own_connections(async_calc):
    async_calc._pyroBind()  # the metadata comes over the proxy's own connection
    seq = async_calc._pyroSeq
    assert async_calc.add(1, 2).value == 3
    assert async_calc._pyroSeq == seq  # the call went over a short-lived copy


def test_async_result_alias():
    assert AsyncResult is FutureResult


def test_future_runs_a_local_callable():
    future = Future(lambda a, b: a + b).then(lambda value: value * 2)
    result = future(3, 4)
    assert result.value == 14
    with pytest.raises(RuntimeError, match="already been evaluated"):
        future(1, 1)
    with pytest.raises(RuntimeError, match="already been evaluated"):
        future.then(print)


def test_future_error_handler():
    seen = []

    def broken():
        raise KeyError("nope")

    result = Future(broken).iferror(seen.append)()
    with pytest.raises(KeyError):
        result.get_value()
    assert isinstance(seen[0], KeyError)


def test_future_delay_and_cancel():
    started = threading.Event()
    future = Future(started.set)
    assert future.delay(0.3)
    begin = time.perf_counter()
    result = future()
    assert not started.wait(0.1)
    assert result.wait(5)
    assert time.perf_counter() - begin >= 0.29
    assert not future.cancel()  # it already ran
    assert not future.delay(1)

    cancelled = Future(pytest.fail)
    cancelled.delay(5)
    result = cancelled()
    assert cancelled.cancel()
    assert result.wait(2)
    with pytest.raises(RuntimeError, match="cancelled"):
        result.get_value()


def test_cancelled_future_cannot_start():
    future = Future(pytest.fail)
    assert future.cancel()
    with pytest.raises(RuntimeError, match="cancelled"):
        future()


def test_future_result_set_by_hand():
    result = FutureResult()
    result.then(str.upper)
    threading.Timer(0.05, setattr, (result, "value", "late")).start()
    assert result.value == "LATE"
    failed = FutureResult()
    failed.value = ExceptionWrapper(ValueError("wrapped"))
    with pytest.raises(ValueError, match="wrapped"):
        failed.get_value()


def test_many_futures_all_finish():
    results = [Future(lambda n=n: n * n)() for n in range(100)]
    assert [result.value for result in results] == [n * n for n in range(100)]
