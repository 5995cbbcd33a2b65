"""Fixtures that tests of more than one package use (pytest finds this file above them all)."""

from __future__ import annotations

import asyncio
from typing import Iterator

import pytest

#: The event loops the asyncio front ends are tested on: asyncio's own, and uvloop's (what many
#: asyncio programs run on).
EVENT_LOOPS = ["asyncio", "uvloop"]


@pytest.fixture(params=EVENT_LOOPS)
def event_loop_kind(request: pytest.FixtureRequest) -> Iterator[str]:
    """Runs the test once per kind of event loop: every loop made during it (``asyncio.run``, a
    daemon's ``requestLoop``) is of that kind."""
    if request.param == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        yield request.param
    finally:
        asyncio.set_event_loop_policy(None)
