"""Waiting for a peer's next message: a short busy poll before the blocking read.

A reply to a small call, or a busy client's next request, usually comes within
tens of microseconds. Blocking in the kernel for it costs a sleep and a wake-up
(on a virtual machine an interrupt into a halted CPU), and the CPU's caches go
cold meanwhile: with Python's large working set that doubles the time of the
next step. Polling the socket for a moment instead costs some CPU and answers
sooner, when the peer runs on another CPU (or machine) meanwhile.

The polling stops after ``SPIN_TIME``. When it ends without data (a slow peer,
or one that needs this very CPU to answer) the connection skips polling for
its next waits, twice as many after every further miss (up to 1024), so a
connection that polling does not help soon costs next to nothing. A thread
only polls while no other thread of the process waits for a connection too:
their data may come in while we poll, and a polling thread holds on to the GIL
they then need (a client with many threads, a server with many busy clients).
``PYRO_SPIN_TIME`` (microseconds, read at import) sets the time; 0 turns
polling off. A machine with one CPU never polls.
"""

from __future__ import annotations

import os
import select
import threading
import time
from typing import Any, Optional

__all__ = ["SPIN_TIME", "SpinWait"]


def _spin_time_from_env() -> float:
    text = os.environ.get("PYRO_SPIN_TIME", "").strip()
    if not text:
        return 100e-6
    try:
        micros = float(text)
    except ValueError:
        raise ValueError(f"invalid float value: PYRO_SPIN_TIME={text!r} (microseconds)") from None
    return max(micros, 0.0) * 1e-6


#: How long (seconds) a wait polls before it blocks.
SPIN_TIME = _spin_time_from_env()

_clock = time.perf_counter
_MAX_MISSES = 11  # (skips 1024 waits)
_POLLIN = getattr(select, "POLLIN", 1)
_CPUS = os.cpu_count() or 1
_get_ident = threading.get_ident
#: The threads waiting in a read that polls (set operations are atomic: no lock).
_waiting: set[int] = set()


class SpinWait:
    """The polling state of one connection: call ``before_read(sock)`` before a blocking read."""

    __slots__ = ("_poller", "_fd", "_skip", "_misses")

    def __init__(self) -> None:
        self._poller: Any = None
        self._fd = -1
        self._skip = 0  # waits left that do not poll
        self._misses = 0  # polls in a row that ended without data

    @staticmethod
    def for_this_process() -> Optional[SpinWait]:
        """A SpinWait if polling can help here, else None."""
        if SPIN_TIME <= 0 or not hasattr(select, "poll") or _CPUS < 2:
            return None
        return SpinWait()

    def before_read(self, sock: Any) -> None:
        """Return once ``sock`` has data, or when polling ends (the read then blocks).

        Call :meth:`after_read` when the read is over (also when it failed).
        """
        waiting = _waiting
        waiting.add(_get_ident())
        if self._skip:
            self._skip -= 1
            return
        if len(waiting) > 1:
            return  # others wait too
        fd = sock.fileno()
        if fd != self._fd:
            self._poller = select.poll()
            self._poller.register(fd, _POLLIN)
            self._fd = fd
        poll = self._poller.poll
        if poll(0):
            self._misses = 0
            return
        deadline = _clock() + SPIN_TIME
        while not poll(0):
            if len(waiting) > 1:
                return  # another thread started waiting: it may soon need the GIL
            if _clock() > deadline:
                self._misses = misses = min(self._misses + 1, _MAX_MISSES)
                self._skip = 1 << (misses - 1)
                return
        self._misses = 0

    @staticmethod
    def after_read() -> None:
        _waiting.discard(_get_ident())
