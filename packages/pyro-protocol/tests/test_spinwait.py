"""The short busy poll before a blocking read: when it polls, when it stops, when it keeps out of the way."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from pyro_protocol import spinwait
from pyro_protocol.spinwait import SpinWait


@pytest.fixture
def pair():
    left, right = socket.socketpair()
    with left, right:
        yield left, right


class NotToBePolled:
    """A socket stand-in for waits that must not poll at all."""

    def fileno(self):
        raise AssertionError("polled a socket during a wait that should skip polling")


def test_returns_at_once_when_data_is_there(pair, monkeypatch):
    monkeypatch.setattr(spinwait, "SPIN_TIME", 5.0)
    left, right = pair
    right.sendall(b"x")
    started = time.monotonic()
    SpinWait().before_read(left, alone=True)
    assert time.monotonic() - started < 1.0


def test_sees_data_that_arrives_while_it_polls(pair, monkeypatch):
    monkeypatch.setattr(spinwait, "SPIN_TIME", 5.0)
    left, right = pair
    sender = threading.Timer(0.01, right.sendall, args=(b"x",))
    started = time.monotonic()
    sender.start()
    try:
        SpinWait().before_read(left, alone=True)
    finally:
        sender.join()
    assert time.monotonic() - started < 2.5
    assert left.recv(1) == b"x"


def test_gives_up_after_the_spin_time(pair, monkeypatch):
    monkeypatch.setattr(spinwait, "SPIN_TIME", 0.02)
    left, _ = pair
    started = time.monotonic()
    SpinWait().before_read(left, alone=True)
    assert 0.02 <= time.monotonic() - started < 2.0


def test_misses_in_a_row_skip_twice_as_many_waits_each_time(pair, monkeypatch):
    monkeypatch.setattr(spinwait, "SPIN_TIME", 0.001)
    left, _ = pair
    wait = SpinWait()
    for skipped in (1, 2, 4, 8):
        wait.before_read(left, alone=True)  # a miss: nothing arrives
        for _ in range(skipped):
            wait.before_read(NotToBePolled(), alone=True)
    wait.before_read(left, alone=True)  # polls again after the skips (another miss)
    with pytest.raises(AssertionError, match="polled a socket"):
        for _ in range(17):
            wait.before_read(NotToBePolled(), alone=True)


def test_skipping_is_bounded(pair, monkeypatch):
    monkeypatch.setattr(spinwait, "SPIN_TIME", 0.0001)
    left, _ = pair
    wait = SpinWait()
    for _ in range(40):  # far more misses than the bound
        wait.before_read(left, alone=True)
        while wait._skip:
            wait.before_read(NotToBePolled(), alone=True)
    wait.before_read(left, alone=True)
    for _ in range(1024):
        wait.before_read(NotToBePolled(), alone=True)
    with pytest.raises(AssertionError, match="polled a socket"):
        wait.before_read(NotToBePolled(), alone=True)


def test_a_hit_starts_the_count_of_misses_over(pair, monkeypatch):
    monkeypatch.setattr(spinwait, "SPIN_TIME", 0.001)
    left, right = pair
    wait = SpinWait()
    for _ in range(3):  # three misses: the third skips 4 waits
        wait.before_read(left, alone=True)
        while wait._skip:
            wait.before_read(NotToBePolled(), alone=True)
    right.sendall(b"x")
    wait.before_read(left, alone=True)  # a hit
    left.recv(1)
    wait.before_read(left, alone=True)  # a miss again: it skips only 1 wait now
    wait.before_read(NotToBePolled(), alone=True)
    with pytest.raises(AssertionError, match="polled a socket"):
        wait.before_read(NotToBePolled(), alone=True)


def test_follows_a_new_socket(monkeypatch):
    monkeypatch.setattr(spinwait, "SPIN_TIME", 5.0)
    wait = SpinWait()
    for _ in range(2):  # a reconnected proxy reads from another socket
        left, right = socket.socketpair()
        with left, right:
            right.sendall(b"x")
            started = time.monotonic()
            wait.before_read(left, alone=True)
            assert time.monotonic() - started < 1.0


def test_a_closed_peer_ends_the_poll(pair, monkeypatch):
    monkeypatch.setattr(spinwait, "SPIN_TIME", 5.0)
    left, right = pair
    right.close()
    started = time.monotonic()
    SpinWait().before_read(left, alone=True)
    assert time.monotonic() - started < 1.0
    assert left.recv(1) == b""


def test_not_used_when_turned_off_or_on_one_cpu(monkeypatch):
    monkeypatch.setattr(spinwait, "SPIN_TIME", 0.0)
    assert SpinWait.for_this_process() is None
    monkeypatch.setattr(spinwait, "SPIN_TIME", 0.0001)
    monkeypatch.setattr(spinwait, "_CPUS", 1)
    assert SpinWait.for_this_process() is None
    monkeypatch.setattr(spinwait, "_CPUS", 2)
    assert isinstance(SpinWait.for_this_process(), SpinWait)


@pytest.mark.parametrize(("text", "seconds"), [("", 100e-6), ("250", 250e-6), ("0", 0.0), (" 12.5 ", 12.5e-6)])
def test_spin_time_from_the_environment(text, seconds, monkeypatch):
    monkeypatch.setenv("PYRO_SPIN_TIME", text)
    assert spinwait._spin_time_from_env() == pytest.approx(seconds)


def test_a_bad_spin_time_names_the_variable(monkeypatch):
    monkeypatch.setenv("PYRO_SPIN_TIME", "fast")
    with pytest.raises(ValueError, match="PYRO_SPIN_TIME='fast'"):
        spinwait._spin_time_from_env()


def test_no_polling_unless_alone(pair, monkeypatch):
    """Other threads of the process may want the GIL: then the read blocks at once."""
    monkeypatch.setattr(spinwait, "SPIN_TIME", 5.0)
    wait = SpinWait()
    started = time.monotonic()
    wait.before_read(NotToBePolled(), alone=False)
    assert time.monotonic() - started < 1.0
    left, right = pair
    right.sendall(b"x")
    wait.before_read(left, alone=True)  # (and it still polls when alone)
