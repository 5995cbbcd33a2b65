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
connection that polling does not help soon costs next to nothing. The caller
says whether it is alone: a polling thread holds on to the GIL that the
process's other threads need (a client with many threads, a server with many
busy clients), so it polls only when nobody else is likely to run.
``PYRO_SPIN_TIME`` (microseconds, read at import) sets the time; 0 turns
polling off. A machine with one CPU never polls.
"""

from __future__ import annotations

import os
import select
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

    def before_read(self, sock: Any, alone: bool) -> None:
        """Return once ``sock`` has data, or when polling ends (the read then blocks).

        ``alone``: no other thread of this process is likely to want to run meanwhile.
        """
        if not alone:
            return
        if self._skip:
            self._skip -= 1
            return
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
            if _clock() > deadline:
                self._misses = misses = min(self._misses + 1, _MAX_MISSES)
                self._skip = 1 << (misses - 1)
                return
        self._misses = 0
