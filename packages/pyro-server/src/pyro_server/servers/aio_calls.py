"""The asyncio server's call path: each INVOKE is read on the loop, then run where it belongs.

The Dispatcher (``pyro_server.dispatch``) runs a call from its message to its
reply in one go, in the thread that read it. Here that is split around the
call itself, so that an ``async def`` method runs on the event loop and a plain
one in a worker thread, while the loop reads on:

- on the loop: the serializer check, decoding, the object (and its instance:
  creating instances on the loop keeps ``session`` instances one per
  connection, however many of its calls run at once), the member;
- the call: a coroutine function (or async generator function) on the loop, in
  a task of its own; anything else in the server's worker pool;
- the reply is framed where the call ended and written by the loop.

The rules of requests are the Dispatcher's: the serializer, the correlation id,
the call's object and arguments (``call_of``), the replies (``reply_frames``),
exception replies, streams and handshakes all come from it.
``current_context`` holds the call's values in its worker thread, and in its
task at each step (the call's own ``CallState`` is swapped in and out of the
loop thread's context around them).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import types
from types import MethodType
from typing import TYPE_CHECKING, Any, Callable, Coroutine, Generator, Optional

from pyro_protocol import serializers
from pyro_protocol.config import config
from pyro_protocol.context import CallState, current_context
from pyro_protocol.errors import ConnectionClosedError
from pyro_protocol.message import FLAGS_BATCH, FLAGS_ONEWAY, Frames, Message

from ..dispatch import format_traceback, request_correlation
from ..exposure import get_attribute, get_exposed_property_value, set_exposed_property_value
from ..streams import VALUE_TYPES, is_streamable

if TYPE_CHECKING:
    from .aio import AioClientConnection, AsyncioServer

__all__ = ["Calls", "in_context", "in_state"]

log = logging.getLogger("pyro.server")

#: Functions whose kind (coroutine function or not) is remembered before the memory starts over.
_KINDS_KEPT = 1024


@types.coroutine
def in_context(coro: Coroutine[Any, Any, Any], state: CallState) -> Generator[Any, Any, Any]:
    """Run ``coro`` with ``current_context`` showing ``state`` at each of its steps.

    The context is per thread and every task on the loop shares the loop's thread: each step
    of the call gets the call's own state, and the loop's is put back after it.
    """
    ctx = current_context
    sent: Any = None
    error: Optional[BaseException] = None
    while True:
        outside, ctx.state = ctx.state, state
        try:
            step = coro.send(sent) if error is None else coro.throw(error)
        except StopIteration as done:
            return done.value
        finally:
            ctx.state = outside
        try:
            sent, error = (yield step), None
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # (cancellation): the coroutine decides what it means
            sent, error = None, exc


def in_state(state: CallState, function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` with ``current_context`` showing ``state`` (the daemon's hooks that it
    runs may look at the context), the loop thread's own put back after."""
    ctx = current_context
    outside, ctx.state = ctx.state, state
    try:
        return function(*args)
    finally:
        ctx.state = outside


class Call(CallState):
    """One INVOKE on its way: the call context it runs with (what ``current_context`` shows
    during the call, and what the call left in it: see in_context), and what its reply needs.
    Its ``client`` is the connection, its ``correlation_bytes`` the id its reply carries."""

    __slots__ = ("msg", "serializer", "oneway", "is_callback", "holds", "task")

    client: AioClientConnection
    correlation_bytes: bytes
    msg: Message
    serializer: Any
    oneway: bool
    is_callback: bool
    holds: bool  # the connection's next requests wait for this one (a oneway call, ONEWAY_THREADED off)
    task: Optional[asyncio.Task[None]]  # an async call's task, while it runs


class Calls:
    """The asyncio server's INVOKE handling (see the module's docstring)."""

    def __init__(self, server: AsyncioServer, handler: Any) -> None:
        self.server = server
        self.dispatcher = handler  # the daemon's Dispatcher: reply annotations, exception replies, streams
        self.daemon = handler.daemon
        self.objects: dict[str, Any] = handler.objects
        #: function -> (whether it is a coroutine or async generator function, whether it is a callback)
        self.kinds: dict[Any, tuple[bool, bool]] = {}

    # -- on the loop ------------------------------------------------------------------------

    def start(self, conn: AioClientConnection, msg: Message) -> bool:
        """Begin an INVOKE; False: close the connection now."""
        serializer = self.dispatcher.request_serializer(conn, msg)
        if serializer is None:
            return False
        call = Call(conn, conn.addr, msg.seq, msg.flags, msg.serializer_id, msg.annotations, request_correlation(msg))
        call.msg, call.serializer, call.oneway = msg, serializer, bool(msg.flags & FLAGS_ONEWAY)
        call.is_callback = call.holds = False
        call.task = None
        try:
            self._start(call)
        except Exception as exc:
            if call.oneway:
                log.warning("oneway call from %s failed: %s: %s", conn.addr, type(exc).__name__, exc)
                return True
            return self._exception_reply(call, exc)[1]
        return True

    def _start(self, call: Call) -> None:
        msg = call.msg
        obj, method, vargs, kwargs = self.dispatcher.call_of(call.client, msg, call.serializer)
        if msg.flags & FLAGS_BATCH:
            self._in_worker(call, self._batch, obj, vargs)
        elif method == "__getattr__":
            self._in_worker(call, get_exposed_property_value, obj, vargs[0])
        elif method == "__setattr__":
            self._in_worker(call, set_exposed_property_value, obj, vargs[0], vargs[1])
        else:
            function = get_attribute(obj, method)
            bare = function.__func__ if type(function) is MethodType else function
            kind = self.kinds.get(bare) or self._kind_of(bare)
            is_async, call.is_callback = kind
            if not is_async:
                self._in_worker(call, function, *vargs, **kwargs)
                return
            work = function(*vargs, **kwargs) if kwargs else function(*vargs)
            self._begin(call)
            if type(work) is types.CoroutineType:
                self._task(call, work)
            else:  # an async generator: nothing to await, the result is a stream
                frames, keep = self._result_reply(call, work)
                self.finish(call, frames, keep)

    def _kind_of(self, function: Any) -> tuple[bool, bool]:
        if len(self.kinds) >= _KINDS_KEPT:
            self.kinds.clear()  # (objects that make functions on the fly must not grow it)
        is_async = inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)
        kind = self.kinds[function] = (is_async, bool(getattr(function, "_pyroCallback", False)))
        return kind

    def _begin(self, call: Call) -> None:
        conn = call.client
        conn.in_progress += 1
        if call.oneway and not config.ONEWAY_THREADED:
            call.holds = conn.held = True  # (as on the other server types: the next request waits for it)

    def _task(self, call: Call, coro: Coroutine[Any, Any, Any]) -> None:
        """An async method's coroutine runs in a task of its own on the loop."""
        task = call.task = self.server.aio_loop.create_task(self._run(call, coro))  # type: ignore[union-attr]
        # (a oneway call goes on when its client is gone; a task factory that runs a task's first
        # step at once, as Python 3.12's eager one, may have finished it already)
        if not call.oneway and not task.done():
            call.client.tasks.add(task)

    async def _run(self, call: Call, coro: Coroutine[Any, Any, Any]) -> None:
        try:
            result = await in_context(coro, call)
        except Exception as exc:
            frames, keep = self._exception_reply(call, exc)
        except (SystemExit, GeneratorExit) as exc:
            frames, keep = self._exit(call, exc)
        else:
            frames, keep = self._result_reply(call, result)
        finally:
            call.client.tasks.discard(call.task)
        self.finish(call, frames, keep)

    def finish(self, call: Call, frames: Optional[Frames], keep: bool) -> None:
        """A call is over (on the loop): write its reply, let the connection's next requests in."""
        conn = call.client
        conn.in_progress -= 1
        if call.holds:
            conn.held = False
        if frames is not None:
            conn.write(frames)
        if not keep:
            self.server.drop(conn)
        elif conn.queue or not conn.reading:  # (else: nothing waits to start, and reading goes on)
            self.server.run(conn)

    # -- in a worker thread -----------------------------------------------------------------

    def _in_worker(self, call: Call, function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self._begin(call)
        self.server.in_worker(self._work, call, function, args, kwargs)

    def _work(self, call: Call, function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        server = self.server
        if call.client.closed and not call.oneway:  # its client is gone: nobody waits for it (a oneway call still runs)
            server.from_thread(self.finish, call, None, False)
            return
        current_context.state = call
        try:
            result = function(*args, **kwargs) if kwargs else function(*args)
            if inspect.iscoroutine(result):  # a plain function that returned a coroutine: it runs on the loop
                server.from_thread(self._task, call, result)
                return
            frames, keep = self._result_reply(call, result)
        except Exception as exc:
            frames, keep = self._exception_reply(call, exc)
        except (SystemExit, GeneratorExit) as exc:
            frames, keep = self._exit(call, exc)
        server.from_thread(self.finish, call, frames, keep)

    def _batch(self, obj: Any, calls: Any) -> list[Any]:
        """A batch's calls in order, until the first that fails (in a worker: coroutines are awaited on the loop)."""
        results: list[Any] = []
        for method, vargs, kwargs in calls:
            try:
                result = get_attribute(obj, method)(*vargs, **(kwargs or {}))
                if inspect.iscoroutine(result):
                    result = self.server.await_from_worker(in_context(result, current_context.state))
            except Exception as exc:
                exc._pyroTraceback = format_traceback(exc, bool(config.DETAILED_TRACEBACK))  # type: ignore[attr-defined]
                results.append(serializers.ExceptionWrapper(exc))
                break
            results.append(result)
        return results

    # -- replies (wherever the call ended) --------------------------------------------------

    def _result_reply(self, call: Call, result: Any) -> tuple[Optional[Frames], bool]:
        msg = call.msg
        if call.oneway:
            return None, True
        if type(result) not in VALUE_TYPES and not msg.flags & FLAGS_BATCH:
            if inspect.isasyncgen(result):
                result = AsyncItems(result, self.server)
            if is_streamable(result):
                return self._stream_reply(call, result), True
        extra = call.response_annotations  # (read after the call: the method may have put a new dict there)
        reply_frames, correlation = self.dispatcher.reply_frames, call.correlation_bytes
        return in_state(call, reply_frames, call.client, msg, call.serializer, result, correlation, extra), True

    def _exception_reply(self, call: Call, exc: Exception) -> tuple[Optional[Frames], bool]:
        """The Dispatcher's exception reply (sent through the connection, which hands it to the loop)."""
        if call.oneway:
            log.warning("oneway call from %s failed: %s: %s", call.client.addr, type(exc).__name__, exc)
            return None, True
        send = self.dispatcher.send_exception
        return None, bool(in_state(call, send, call.client, call.msg, call.serializer, exc, call.is_callback))

    def _stream_reply(self, call: Call, iterator: Any) -> Optional[Frames]:
        in_state(call, self.dispatcher.start_stream, call.client, call.msg, call.serializer, iterator)
        return None

    def _exit(self, call: Call, exc: BaseException) -> tuple[Optional[Frames], bool]:
        # as on the other server types: only this connection ends (sending it back would end the client)
        log.warning("a call from %s raised %s; closing that connection", call.client.addr, type(exc).__name__)
        return None, False


class AsyncItems:
    """A remote iterator over an async generator: each ``next()`` (in a worker, where
    ``get_next_stream_item`` runs) awaits the generator's next item on the server's loop."""

    def __init__(self, agen: Any, server: AsyncioServer) -> None:
        self.agen = agen
        self.server = server

    def __iter__(self) -> AsyncItems:
        return self

    def __next__(self) -> Any:
        try:  # (with the context of the call asking for this item)
            return self.server.await_from_worker(in_context(self.agen.__anext__(), current_context.state))
        except StopAsyncIteration:
            raise StopIteration from None

    def close(self) -> None:
        try:
            self.server.from_thread(_close_later, self.agen)
        except ConnectionClosedError:
            pass


def _close_later(agen: Any) -> None:
    asyncio.get_running_loop().create_task(agen.aclose())


def wait_for(future: concurrent.futures.Future[Any], still_waiting: Callable[[], bool], step: float = 0.5) -> Any:
    """A worker waits for a coroutine on the loop, as long as ``still_waiting()``."""
    while True:
        try:
            return future.result(step)
        except concurrent.futures.TimeoutError:
            if not still_waiting():
                future.cancel()
                raise ConnectionClosedError("the server stopped while a call waited for its event loop") from None
