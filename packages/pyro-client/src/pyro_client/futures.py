"""Asynchronous calls: ``Future`` for local callables, ``FutureResult`` for results
that arrive later, and the shared bounded pool of worker threads running them."""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from typing import Any, Callable, Optional

from pyro_protocol.config import config
from pyro_protocol.context import current_context
from pyro_protocol.errors import (
    CommunicationError,
    ConnectionClosedError,
    ExceptionWrapper,
    TimeoutError,
)

__all__ = ["Future", "FutureResult", "AsyncResult", "AsyncRemoteMethod", "asyncproxy", "submit", "WorkerPool"]

log = logging.getLogger("pyro.client.futures")

#: Most worker threads for asynchronous calls and futures in this process. Work
#: beyond this waits in a queue. Generous, because a callback that waits for
#: another asynchronous result occupies a worker meanwhile.
MAX_WORKERS = 32
#: Connecting for an asynchronous call retries "no free workers" refusals of a
#: Pyro4 thread-pool daemon this many times, with growing pauses.
NO_FREE_WORKERS_RETRIES = 10


class WorkerPool:
    """Daemon threads (they never keep the process alive), started on demand up to a limit.

    Used for asynchronous calls here and for the daemon's oneway calls (pyro_server).
    """

    def __init__(self, max_workers: int, name: str = "pyro-async") -> None:
        self.max_workers = max_workers
        self.name = name
        self._tasks: queue.SimpleQueue[Optional[tuple[Callable[..., Any], tuple[Any, ...]]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._workers = 0
        self._idle = 0  # waiting workers not yet promised to a submitted task
        self._backlog = 0  # tasks submitted when no worker could be promised

    def submit(self, function: Callable[..., Any], *args: Any) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1
            elif self._workers < self.max_workers:
                self._workers += 1
                threading.Thread(target=self._work, name=self.name, daemon=True).start()
            else:
                self._backlog += 1
        self._tasks.put((function, args))

    def shutdown(self) -> None:
        """Let every worker end once the tasks already submitted are done (it does not wait)."""
        with self._lock:
            workers, self._workers = self._workers, 0
        for _ in range(workers):
            self._tasks.put(None)

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            function, args = task
            try:
                function(*args)
            except BaseException:  # a task must never kill its worker
                log.exception("error in a task of %s", self.name)
            with self._lock:
                if self._backlog:
                    self._backlog -= 1
                else:
                    self._idle += 1


_pool = WorkerPool(MAX_WORKERS)


def submit(function: Callable[..., Any], *args: Any) -> None:
    """Run ``function(*args)`` on the shared worker pool."""
    _pool.submit(function, *args)


class FutureResult:
    """The result of an asynchronous call, available later.

    ``value`` blocks until it is there (and raises the call's exception, if it
    failed); ``wait(timeout)`` and ``ready`` tell whether it is; ``then(f, ...)``
    chains ``f(value, ...)`` and ``iferror(handler)`` is called with the exception.
    """

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._value: Any = None
        self.callchain: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []
        self.valueLock = threading.Lock()
        self.exceptionhandler: Optional[Callable[[BaseException], Any]] = None

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Wait until the result is there; False if it still is not after ``timeout`` seconds."""
        return self._ready.wait(timeout)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def get_value(self) -> Any:
        self._ready.wait()
        value = self._value
        if isinstance(value, ExceptionWrapper):
            value.raiseIt()
        return value

    def set_value(self, value: Any) -> None:
        with self.valueLock:
            if not isinstance(value, ExceptionWrapper):
                for call, args, kwargs in self.callchain:
                    value = _apply(call, value, args, kwargs)
                    if isinstance(value, ExceptionWrapper):
                        break
            self.callchain = []
            self._value = value
            self._ready.set()
        if isinstance(value, ExceptionWrapper):
            self._report(value.exception)

    value = property(
        get_value,
        set_value,
        None,
        "The result; reading it waits for it, and raises if the call failed.",
    )

    def set_cancelled(self) -> None:
        self.set_value(ExceptionWrapper(RuntimeError("future has been cancelled")))

    def then(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> FutureResult:
        """Chain ``call(result, *args, **kwargs)``; its return value becomes the new result."""
        with self.valueLock:
            if not self._ready.is_set():
                self.callchain.append((call, args, kwargs))
                return self
            if isinstance(self._value, ExceptionWrapper):
                return self
            self._value = _apply(call, self._value, args, kwargs)
            failed = self._value if isinstance(self._value, ExceptionWrapper) else None
        if failed is not None:
            self._report(failed.exception)
        return self

    def iferror(self, exceptionhandler: Callable[[BaseException], Any]) -> FutureResult:
        """Have ``exceptionhandler(exception)`` called if the call (or a chained call) fails."""
        self.exceptionhandler = exceptionhandler
        with self.valueLock:
            failed = self._value if self._ready.is_set() and isinstance(self._value, ExceptionWrapper) else None
        if failed is not None:
            self._report(failed.exception)
        return self

    def _report(self, exception: BaseException) -> None:
        handler = self.exceptionhandler
        if handler is not None:
            try:
                handler(exception)
            except Exception:
                log.exception("error in the exception handler of an asynchronous result")


AsyncResult = FutureResult


def _apply(call: Callable[..., Any], value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        return call(value, *args, **kwargs)
    except Exception as exc:
        return ExceptionWrapper(exc)


class Future:
    """Runs a local callable asynchronously: ``Future(f)(args)`` returns a FutureResult.

    Before it is called: ``then(g, ...)`` chains ``g(result, ...)``, ``iferror(h)``
    sets an error handler, ``delay(seconds)`` postpones the start and ``cancel()``
    prevents it.
    """

    def __init__(self, somecallable: Callable[..., Any]) -> None:
        self.callable = somecallable
        self.chain: Optional[list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]] = []
        self.exceptionhandler: Optional[Callable[[BaseException], Any]] = None
        self.call_delay = 0.0
        self.cancelled = False
        self.completed = False
        self._wakeup = threading.Event()

    def __call__(self, *args: Any, **kwargs: Any) -> FutureResult:
        if self.completed or self.chain is None:
            raise RuntimeError("the future has already been evaluated")
        if self.cancelled:
            raise RuntimeError("the future has been cancelled")
        chain, self.chain = self.chain, None  # no more chaining once started
        result = FutureResult()
        submit(self._run, result, chain, args, kwargs)
        return result

    def _run(
        self,
        result: FutureResult,
        chain: list[Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        deadline = time.monotonic() + self.call_delay
        while not self.cancelled and time.monotonic() < deadline:
            self._wakeup.wait(deadline - time.monotonic())
        self.completed = True
        if self.cancelled:
            result.set_cancelled()
            return
        try:
            value = self.callable(*args, **kwargs)
            for call, call_args, call_kwargs in chain:
                value = call(value, *call_args, **call_kwargs)
        except Exception as exc:
            if self.exceptionhandler is not None:
                self.exceptionhandler(exc)
            result.value = ExceptionWrapper(exc)
            return
        result.value = value

    def delay(self, seconds: float) -> bool:
        """Start the call ``seconds`` later; False if it has already run."""
        if self.completed:
            return False
        self.call_delay = seconds
        return True

    def cancel(self) -> bool:
        """Prevent the call; False if it has already started."""
        if self.completed:
            return False
        self.cancelled = True
        self._wakeup.set()
        return True

    def then(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        """Chain ``call(result, *args, **kwargs)``; its return value becomes the new result."""
        if self.chain is None:
            raise RuntimeError("the future has already been evaluated")
        self.chain.append((call, args, kwargs))
        return self

    def iferror(self, exceptionhandler: Callable[[BaseException], Any]) -> Future:
        """Have ``exceptionhandler(exception)`` called if the call fails."""
        self.exceptionhandler = exceptionhandler
        return self


def asyncproxy(proxy: Any, asynchronous: bool = True) -> None:
    """Switch ``proxy`` to asynchronous calls (each returns a FutureResult at once), or back (Pyro4's name)."""
    proxy._pyroAsync(asynchronous)


class AsyncRemoteMethod:
    """A method of a proxy in asynchronous mode: calling it returns a FutureResult at once.

    The call runs on a worker thread over a copy of the proxy (its own connection),
    so several asynchronous calls on one proxy run in parallel.
    """

    __slots__ = ("_proxy", "_name")

    def __init__(self, proxy: Any, name: str) -> None:
        self._proxy = proxy
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> FutureResult:
        result = FutureResult()
        context = (current_context.correlation_bytes, dict(current_context.annotations))
        submit(_run_remote_call, self._proxy, self._name, args, kwargs, result, context)
        return result


def _run_remote_call(
    proxy: Any,
    name: str,
    args: Any,
    kwargs: Any,
    result: FutureResult,
    context: tuple[Any, dict[str, bytes]],
) -> None:
    correlation, current_context.annotations = context
    current_context.set_correlation_bytes(correlation)
    retries = proxy._pyroMaxRetries if name not in proxy._pyroOneway else 0
    for attempt in range(retries + 1):
        try:
            value = _call_on_copy(proxy, name, args, kwargs)
        except (ConnectionClosedError, TimeoutError) as exc:
            if attempt < retries:
                continue
            result.value = ExceptionWrapper(exc)
        except Exception as exc:
            result.value = ExceptionWrapper(exc)
        else:
            result.value = value
        return


def _call_on_copy(proxy: Any, name: str, args: Any, kwargs: Any) -> Any:
    from .streams import StreamResultIterator

    worker = proxy.__copy__()
    worker._pyroAsync(False)
    try:
        _bind_patiently(worker)
        value = worker._pyroInvoke(name, args, kwargs)
    except BaseException:
        worker._pyroRelease()
        raise
    if isinstance(value, StreamResultIterator):
        value.owns_proxy = True  # the stream needs the connection; it releases it when done
    else:
        worker._pyroRelease()
    return value


def _bind_patiently(proxy: Any) -> None:
    """Connect; a Pyro4 thread-pool daemon may refuse while all its workers are busy."""
    pause = 0.1 + random.random() / 5
    for attempt in range(NO_FREE_WORKERS_RETRIES + 1):
        try:
            proxy._pyroBind()
            return
        except CommunicationError as exc:
            if "no free workers" not in str(exc) or attempt == NO_FREE_WORKERS_RETRIES:
                raise
            if 0 < config.COMMTIMEOUT / 2 < pause:
                raise
        time.sleep(pause)
        pause += 0.4 + random.random() / 2
