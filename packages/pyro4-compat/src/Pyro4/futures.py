"""Pyro4.futures (pyro_client.futures)."""

from pyro_client.futures import Future, FutureResult
from pyro_protocol.errors import ExceptionWrapper as _ExceptionWrapper

__all__ = ["Future", "FutureResult", "_ExceptionWrapper"]
