"""Shared fixtures of the pyro_protocol tests."""

from __future__ import annotations

import os
import time

import pytest

from pyro_protocol import config


@pytest.fixture
def fresh_config():
    """The global config, restored to its previous values after the test."""
    saved = config.asDict()
    yield config
    for item, value in saved.items():
        setattr(config, item, value)


@pytest.fixture
def utc_timezone():
    """Run with TZ=UTC (msgpack datetimes are local-time timestamps)."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if saved is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = saved
    time.tzset()
