"""Remote iterators (protocol 2.11): a call that returned an iterator or generator on
the server gives a local iterator that fetches the items one by one."""

from __future__ import annotations

from typing import Any, Optional

from pyro_protocol import constants
from pyro_protocol.errors import CommunicationError, ConnectionClosedError, PyroError
from pyro_protocol.message import FLAGS_ONEWAY

__all__ = ["StreamResultIterator"]


class StreamResultIterator:
    """Iterates over a stream held by the daemon, over the proxy's own connection.

    Each ``next()`` calls ``Pyro.Daemon.get_next_stream_item``; the stream ends with
    the remote StopIteration. Closing it early (``close()``, or dropping it) sends a
    oneway ``close_stream`` so the daemon can free the iterator.
    """

    def __init__(self, stream_id: str, proxy: Any) -> None:
        self.streamId = stream_id
        self.proxy: Optional[Any] = proxy
        #: set when the iterator is the only user of its proxy (async calls), so it releases it
        self.owns_proxy = False

    def __iter__(self) -> StreamResultIterator:
        return self

    def __next__(self) -> Any:
        proxy = self.proxy
        if proxy is None:
            raise StopIteration
        if proxy._pyroConnection is None:
            raise ConnectionClosedError("the proxy for this stream result has been closed")
        try:
            return proxy._pyroInvoke(
                "get_next_stream_item",
                [self.streamId],
                {},
                objectId=constants.DAEMON_NAME,
            )
        except CommunicationError:
            raise  # the connection is gone; the daemon keeps the stream only for a while
        except BaseException:
            # StopIteration, or an error raised by the remote iterator: the daemon has
            # dropped the stream already, so no close_stream is needed.
            self._detach()
            raise

    def _detach(self) -> None:
        proxy, self.proxy = self.proxy, None
        if proxy is not None and self.owns_proxy:
            proxy._pyroRelease()

    def close(self) -> None:
        """Tell the daemon we are done with the stream (oneway); harmless when already ended."""
        proxy = self.proxy
        if proxy is None:
            return
        try:
            if proxy._pyroConnection is not None:
                _send_close_stream(proxy, self.streamId)
        except PyroError:
            pass  # the daemon drops streams of closed connections by itself
        finally:
            self._detach()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: S110 - nothing sensible to do while being collected
            pass


def _send_close_stream(proxy: Any, stream_id: str) -> None:
    lock = proxy._pyro_lock
    # When this runs from the garbage collector in the middle of a call on the same
    # proxy (same thread: the lock is ours) or while another thread is calling, the
    # connection cannot be used now; a short-lived copy of the proxy does it instead.
    if not lock._is_owned() and lock.acquire(blocking=False):
        try:
            if proxy._pyroConnection is not None:
                _invoke_close(proxy, stream_id)
            return
        finally:
            lock.release()
    with proxy.__copy__() as closer:
        _invoke_close(closer, stream_id)


def _invoke_close(proxy: Any, stream_id: str) -> None:
    proxy._pyroInvoke(
        "close_stream",
        [stream_id],
        {},
        flags=FLAGS_ONEWAY,
        objectId=constants.DAEMON_NAME,
    )
