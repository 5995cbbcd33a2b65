"""The asyncio Proxy: ``await proxy.method(...)``, many calls in flight on one connection.

It has the sync Proxy's names (``_pyroUri``, ``_pyroTimeout``, ``_pyroOneway``,
``_pyroBind()``, the hooks...); what does I/O is a coroutine. Calls made from
several tasks go out at once, each waits for its own reply (matched by sequence
number), so a daemon that answers out of order (our asyncio server) serves them
concurrently and one that answers in order (Pyro4's) still answers each.

``proxy.name`` is a remote member: call it for a remote method, await it for a
remote attribute (``await proxy.name``); ``await proxy._pyroSetAttr(name, value)``
sets one. A member the metadata does not list raises AttributeError (at the
lookup when the metadata is known, else when it is awaited).

What does no I/O is the sync proxy's own code, borrowed (the two keep their state under
the same names): the state, its pickling, metadata, serializer and annotation rules.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any, Coroutine, Generator, Optional, Union, cast

from pyro_protocol import constants, serializers
from pyro_protocol.config import config
from pyro_protocol.context import current_context
from pyro_protocol.errors import (
    CommunicationError,
    ConnectionClosedError,
    TimeoutError,
)
from pyro_protocol.message import (
    FLAGS_BATCH,
    FLAGS_EXCEPTION,
    FLAGS_ITEMSTREAMRESULT,
    FLAGS_KEEPSERIALIZED,
    FLAGS_META_ON_CONNECT,
    FLAGS_ONEWAY,
    MSG_CONNECTFAIL,
    Message,
)
from pyro_protocol.names import LOCAL_PROBES, is_dunder
from pyro_protocol.session import ClientSession
from pyro_protocol.socketutil import family_str
from pyro_protocol.uri import URI

from .. import proxy as sync_proxy
from ..blob import SerializedBlob
from ..remote import CachedRemoteMethod, RemoteMethod
from .connection import AioConnection, open_connection

__all__ = ["Proxy", "RECONNECT_PAUSE"]

log = logging.getLogger("pyro.client.aio")

#: Pause between connection attempts of ``_pyroReconnect`` (as the sync proxy's).
RECONNECT_PAUSE = sync_proxy.RECONNECT_PAUSE
#: ``_pyroRelease`` waits at most this many seconds for the transport to be gone (TLS closes in steps)
RELEASE_WAIT = 2.0
#: Dunder names asyncio and its tools look up on objects: answered locally, never remoted.
ASYNC_PROBES = frozenset(["__await__", "__aiter__", "__anext__", "__aenter__", "__aexit__", "__iter__", "__next__"])
_SPECIAL_REPLY = FLAGS_ITEMSTREAMRESULT | FLAGS_EXCEPTION


class _RemoteMember(RemoteMethod):
    """``proxy.name``: call it to invoke the remote method, await it to get the remote attribute."""

    __slots__ = ()

    def __call__(self, *args: Any, **kwargs: Any) -> Coroutine[Any, Any, Any]:
        proxy = self._proxy
        if not (proxy._pyroMethods or proxy._pyroAttrs) and config.METADATA:
            return proxy._pyro_first_call(self._name, args, kwargs)  # type: ignore[no-any-return]
        return super().__call__(*args, **kwargs)  # type: ignore[no-any-return]

    def __await__(self) -> Generator[Any, None, Any]:
        return self._proxy._pyroGetAttr(self._name).__await__()  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"<remote member {self._name!r} of {self._proxy!r}>"


class Proxy:
    """Asyncio proxy for a remote object: ``Proxy("PYRO:objectid@host:port")``, a ``PYRONAME:`` or
    ``PYROMETA:`` uri (resolved through the name server on connect), or another proxy (sync or
    aio: its uri and settings are copied, its connection is not). Use it on one event loop.
    """

    _pyro_has_annotation_hook = False
    _pyro_has_response_hook = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._pyro_has_annotation_hook = cls._pyroAnnotations is not Proxy._pyroAnnotations
        cls._pyro_has_response_hook = cls._pyroResponseAnnotations is not Proxy._pyroResponseAnnotations
        serializers.register_type_replacement(cls, Proxy._pyro_sync_twin)

    def __init__(self, uri: Union[str, URI, Proxy, sync_proxy.Proxy]) -> None:
        if isinstance(uri, (Proxy, sync_proxy.Proxy)):
            state = uri.__getstate__()
            self.__setstate__((URI(state[0]), *state[1:]))
            self.__dict__.update(_pyro_timeout=uri._pyroTimeout, _pyroMaxRetries=uri._pyroMaxRetries)
            return
        if isinstance(uri, str):
            uri = URI(uri)
        elif not isinstance(uri, URI):
            raise TypeError("expected Pyro URI")
        serializers.get_serializer(config.SERIALIZER)  # fail now if the serializer is unavailable
        self._pyro_init_state(uri, set(), set(), set(), None, "hello", None)

    # (the sync proxy's own code, as the aio proxy's: the state, its properties and pickling, metadata, serializer, annotations)
    _pyro_init_state: Any = sync_proxy.Proxy._pyro_init_state
    _pyroSeq: Any = sync_proxy.Proxy._pyroSeq
    _pyroHmacKey: Any = sync_proxy.Proxy._pyroHmacKey
    __getstate__: Any = sync_proxy.Proxy.__getstate__
    __setstate__: Any = sync_proxy.Proxy.__setstate__
    __ne__: Any = sync_proxy.Proxy.__ne__
    __hash__: Any = sync_proxy.Proxy.__hash__
    __dir__: Any = sync_proxy.Proxy.__dir__
    _pyro_forget_methods: Any = sync_proxy.Proxy._pyro_forget_methods
    _pyro_process_metadata: Any = sync_proxy.Proxy._pyro_process_metadata
    _pyro_serializer: Any = sync_proxy.Proxy._pyro_serializer
    _pyro_request_annotations: Any = sync_proxy.Proxy._pyro_request_annotations
    _pyroAnnotations: Any = sync_proxy.Proxy._pyroAnnotations
    _pyroResponseAnnotations: Any = sync_proxy.Proxy._pyroResponseAnnotations

    # -- settable properties (the sync proxy's names) ----------------------------------------

    @property
    def _pyroTimeout(self) -> Optional[float]:  # noqa: N802 - Pyro4's name
        """Seconds a connect or a call may take (None or 0: no limit); a late reply is then dropped."""
        return self._pyro_timeout  # type: ignore[no-any-return]

    @_pyroTimeout.setter
    def _pyroTimeout(self, timeout: Optional[float]) -> None:  # noqa: N802
        self.__dict__["_pyro_timeout"] = timeout

    @property
    def _pyroConnection(self) -> Optional[AioConnection]:  # noqa: N802 - Pyro4's name
        """The open connection (its ``transport``, ``session``), or None."""
        conn = self._pyro_conn
        return conn if conn is not None and conn.is_open else None

    # -- members: remote methods and attributes --------------------------------------------

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup failed; never connects (it cannot await).
        if name[:1] == "_":
            if name.startswith("_pyro") or name in LOCAL_PROBES or name in ASYNC_PROBES:
                raise AttributeError(name)
            if not is_dunder(name) and config.METADATA:  # private: never exposed, so no need to ask
                raise AttributeError(f"remote object '{self._pyroUri}' has no exposed attribute or method '{name}'")
            if is_dunder(name) and config.METADATA and name not in self._pyroMethods:
                # (dunders are probed by tools: only the ones the metadata lists are remote)
                raise AttributeError(f"remote object '{self._pyroUri}' has no exposed method '{name}'")
            return _RemoteMember(self, name)
        known = self._pyroMethods or self._pyroAttrs
        if config.METADATA and known and name not in self._pyroMethods and name not in self._pyroAttrs:
            raise AttributeError(f"remote object '{self._pyroUri}' has no exposed attribute or method '{name}'")
        if known and name in self._pyroMethods:
            self.__dict__[name] = CachedRemoteMethod(self, name)  # (its calls give coroutines here)
            self._pyro_cached.add(name)
        return _RemoteMember(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name[:1] == "_":
            object.__setattr__(self, name, value)
            return
        raise AttributeError(
            f"set remote attribute '{name}' with 'await proxy._pyroSetAttr({name!r}, value)' (assignment cannot be awaited)"
        )

    async def _pyroGetAttr(self, name: str) -> Any:  # noqa: N802
        """The value of remote attribute ``name`` (``await proxy.name`` does the same)."""
        await self._pyro_ensure_metadata()
        if name in self._pyroMethods and name not in self._pyroAttrs:
            raise AttributeError(f"'{name}' of '{self._pyroUri}' is a remote method: call it (await proxy.{name}(...))")
        if config.METADATA and name not in self._pyroAttrs:
            raise AttributeError(f"remote object '{self._pyroUri}' has no exposed attribute '{name}'")
        return await self._pyroInvoke("__getattr__", (name,), None)

    async def _pyroSetAttr(self, name: str, value: Any) -> None:  # noqa: N802
        """Set remote attribute ``name`` to ``value``."""
        await self._pyro_ensure_metadata()
        if config.METADATA and name not in self._pyroAttrs:
            raise AttributeError(f"remote object '{self._pyroUri}' has no exposed attribute '{name}'")
        await self._pyroInvoke("__setattr__", (name, value), None)

    async def _pyro_ensure_metadata(self) -> None:
        if config.METADATA and not self._pyroMethods and not self._pyroAttrs:
            await self._pyroGetMetadata()

    # -- identity, copying, pickling -------------------------------------------------------

    def __repr__(self) -> str:
        conn = self.__dict__.get("_pyro_conn")
        sock = conn.transport.get_extra_info("socket") if conn is not None and conn.is_open else None
        state = "not connected" if sock is None else "connected " + family_str(sock)
        return f"<{type(self).__module__}.{type(self).__name__} at 0x{id(self):x}; {state}; for {self._pyroUri}>"

    def __eq__(self, other: object) -> bool:
        return other is self or (isinstance(other, Proxy) and other._pyroUri == self._pyroUri)

    async def __aenter__(self) -> Proxy:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._pyroRelease()

    def __del__(self) -> None:
        conn = self.__dict__.get("_pyro_conn")
        if conn is not None:
            try:
                conn.loop.call_soon_threadsafe(conn.close)
            except RuntimeError:  # its loop is closed: so is the transport, or it never will be
                pass

    def __copy__(self) -> Proxy:
        """An independent, unconnected proxy with the same uri and settings."""
        return type(self)(self)

    def _pyro_sync_twin(self) -> sync_proxy.Proxy:
        """A sync proxy with this one's uri and settings: how an aio proxy travels in a call."""
        twin = sync_proxy.Proxy.__new__(sync_proxy.Proxy)
        twin.__setstate__(self.__getstate__())
        return twin

    # -- connection management -------------------------------------------------------------

    async def _pyroRelease(self) -> None:  # noqa: N802 - Pyro4's name
        """Close the connection. The proxy stays usable: the next call reconnects."""
        conn = self._pyro_conn
        self._pyro_close()
        if conn is not None:
            await conn.wait_lost(RELEASE_WAIT)

    def _pyro_close(self) -> None:
        conn = self._pyro_conn
        if conn is not None:
            self.__dict__.update(_pyro_conn=None, _pyro_seq=conn.session.seq)
            conn.close()
            log.debug("connection released: %s", self._pyroUri)

    async def _pyroBind(self) -> bool:  # noqa: N802 - Pyro4's name
        """Connect now; a PYRONAME/PYROMETA uri is replaced by the PYRO uri it resolved to.

        Returns True if a new connection was made, False if already connected.
        """
        return await self._pyro_connect(replace_uri=True)

    async def _pyroReconnect(self, tries: int = 100000000) -> None:  # noqa: N802 - Pyro4's name
        """Drop the connection and connect again, trying ``tries`` times (RECONNECT_PAUSE apart)."""
        self._pyro_close()
        while tries:
            try:
                await self._pyro_connect()
                return
            except CommunicationError:
                tries -= 1
                if tries:
                    await asyncio.sleep(RECONNECT_PAUSE)
        raise ConnectionClosedError("failed to reconnect")

    def _pyro_connected(self) -> Optional[AioConnection]:
        """The open connection, if it belongs to the running loop (the call path checks this inline)."""
        conn = self._pyro_conn
        if conn is not None and conn.error is None and conn.loop is asyncio.get_running_loop():
            return conn  # type: ignore[no-any-return]
        return None

    async def _pyro_connect(self, replace_uri: bool = False) -> bool:
        """Connect and handshake unless connected (one task connects, the others wait for it)."""
        loop = asyncio.get_running_loop()
        lock = self.__dict__.get("_pyro_aio_lock")  # (for connecting, made on the loop that uses it)
        if lock is None or lock[0] is not loop:
            lock = self.__dict__["_pyro_aio_lock"] = (loop, asyncio.Lock())
        async with lock[1]:
            if self._pyro_connected() is not None:
                return False
            self._pyro_close()  # (a broken connection, or one of another loop)
            from .naming import resolve  # late: naming builds proxies itself

            uri = await resolve(self._pyroUri, self._pyro_hmac)
            await self._pyro_handshake(uri)
            self.__dict__["_pyro_target"] = uri.object
            if replace_uri:
                self.__dict__["_pyroUri"] = uri
            log.debug("connected to %s", uri)
            if config.METADATA and not self._pyroMethods and not self._pyroAttrs:
                try:
                    await self._pyro_fetch_metadata(uri.object)
                except BaseException:
                    self._pyro_close()
                    raise
            return True

    async def _pyro_handshake(self, uri: URI) -> None:
        """Open a connection to ``uri``, do the CONNECT exchange and keep it (as the sync proxy does)."""
        session = ClientSession(self._pyro_serializer(), hmac_key=self._pyro_hmac, seq=self._pyro_seq)
        conn, msg, response = await open_connection(
            uri,
            session,
            self._pyroHandshake,
            bool(config.METADATA),
            self._pyro_request_annotations(clear=False),
            self._pyro_timeout,
        )
        if msg.type == MSG_CONNECTFAIL:
            self.__dict__["_pyro_seq"] = session.seq
            raise CommunicationError(f"connection to {uri.location} rejected: {response}")
        self.__dict__["_pyro_conn"] = conn
        try:
            if msg.flags & FLAGS_META_ON_CONNECT:
                self._pyro_process_metadata(response["meta"])
                response = response["handshake"]
            checked = self._pyroValidateHandshake(response)
            if inspect.isawaitable(checked):
                await checked
            if msg.annotations:
                self._pyroResponseAnnotations(msg.annotations, msg.type)
        except BaseException:
            self._pyro_close()
            raise

    # -- metadata --------------------------------------------------------------------------

    async def _pyroGetMetadata(self, objectId: Optional[str] = None, known_metadata: Any = None) -> None:  # noqa: N802,N803
        """Get the remote object's methods, oneway methods and attributes (normally from the handshake)."""
        if known_metadata:
            self._pyro_process_metadata(known_metadata)
            return
        if self._pyro_connected() is None:
            await self._pyro_connect()
            if self._pyroMethods or self._pyroAttrs:
                return  # the handshake brought them
        await self._pyro_fetch_metadata(objectId or self._pyro_target)

    async def _pyro_fetch_metadata(self, object_id: str) -> None:
        result = await self._pyroInvoke("get_metadata", [object_id], {}, objectId=constants.DAEMON_NAME)
        self._pyro_process_metadata(result)

    # -- calls -----------------------------------------------------------------------------

    async def _pyroInvoke(  # noqa: N802 - Pyro4's name
        self,
        methodname: str,
        vargs: Any,
        kwargs: Optional[dict[str, Any]],
        flags: int = 0,
        objectId: Optional[str] = None,  # noqa: N803
        *,
        raw: bool = False,
    ) -> Any:
        """Send one call and (unless oneway) wait for its result; the hot path, keep it flat.

        ``raw``: return the reply as received, ``(message, value)``, an exception reply too
        ((None, None) for a oneway call).
        """
        state = current_context.state  # (the context's values: reached once, set as plain attributes)
        state.response_annotations = {}
        conn = self._pyro_conn
        if conn is None or conn.error is not None or conn.loop is not asyncio.get_running_loop():
            await self._pyro_connect()
            conn = self._pyro_conn
            assert conn is not None
        serializer = self._pyro_ser
        if serializer.name != (self._pyroSerializer or config.SERIALIZER):
            serializer = self._pyro_serializer()
        target = objectId or self._pyro_target
        if vargs and isinstance(vargs[0], SerializedBlob):
            serializer, payload = sync_proxy._blob_payload(
                current_context, serializer, target, methodname, vargs, kwargs
            )
            flags |= FLAGS_KEEPSERIALIZED
        else:
            payload = serializer.call_payload(target, methodname, vargs, kwargs)
        if methodname in self._pyroOneway:
            flags |= FLAGS_ONEWAY
        annotations = None
        if state.annotations or state.correlation_bytes is not None or self._pyro_has_annotation_hook:
            annotations = self._pyro_request_annotations(clear=True)
        if not conn.can_write:
            await conn.writable()
        oneway = flags & FLAGS_ONEWAY
        session = conn.session
        if ((session.seq + 1) & 0xFFFF) in session.in_flight:
            conn.skip_busy_seq()  # (more calls waiting than the 16 bits number)
        seq, frames = session.invoke(payload, flags, annotations, serializer, not oneway)
        if oneway:
            conn.send(frames)
            return (None, None) if raw else None
        future = conn.expect(seq)
        timer = conn.loop.call_later(self._pyro_timeout, conn.time_out, seq) if self._pyro_timeout else None
        try:
            conn.send(frames)
            msg, result = await future
        except BaseException:
            conn.abandon(seq)  # cancelled (or the send failed): the connection stays, a late reply is dropped
            raise
        finally:
            if timer is not None:
                timer.cancel()
        if msg.annotations:
            state.response_annotations = msg.annotations
            if self._pyro_has_response_hook:
                self._pyroResponseAnnotations(msg.annotations, msg.type)
        if raw:
            return msg, result
        if msg.flags & _SPECIAL_REPLY:
            try:
                return self._pyro_special_result(msg, result)
            finally:
                result = None  # no cycle exception -> traceback -> this frame -> exception
        return result

    def _pyro_special_result(self, msg: Message, result: Any) -> Any:
        if msg.flags & FLAGS_ITEMSTREAMRESULT and msg.annotations.get("STRM"):
            from .streams import AsyncStreamResultIterator

            return AsyncStreamResultIterator(msg.annotations["STRM"].decode("ascii", "replace"), self)
        # (an exception, or a stream the daemon does not serve: as the sync proxy does)
        return sync_proxy.Proxy._pyro_special_result(cast(Any, self), msg, result)

    async def _pyro_first_call(self, name: str, args: Any, kwargs: Any) -> Any:
        """A call before the metadata is known: get it, then check the name as the sync proxy's lookup does."""
        await self._pyro_ensure_metadata()
        if config.METADATA and name not in self._pyroMethods:
            raise AttributeError(f"remote object '{self._pyroUri}' has no exposed attribute or method '{name}'")
        if self._pyroMaxRetries:
            return await self._pyro_call_retrying(name, args, kwargs)
        return await self._pyroInvoke(name, args, kwargs)

    async def _pyro_call_retrying(self, name: str, args: Any, kwargs: Any) -> Any:
        """A call re-sent up to ``_pyroMaxRetries`` times after a lost connection or a timeout."""
        attempts = 1 if name in self._pyroOneway else self._pyroMaxRetries + 1  # (a oneway call may have run)
        for attempt in range(attempts):
            try:
                return await self._pyroInvoke(name, args, kwargs)
            except (ConnectionClosedError, TimeoutError):
                if attempt + 1 >= attempts:
                    raise
                log.debug("retrying call %s after a communication error", name)
        raise AssertionError("unreachable")

    async def _pyroInvokeBatch(self, calls: list[tuple[str, Any, Any]], oneway: bool = False) -> Any:  # noqa: N802
        return await self._pyroInvoke("<batch>", calls, None, FLAGS_BATCH | FLAGS_ONEWAY if oneway else FLAGS_BATCH)

    def _pyroBatch(self) -> Any:  # noqa: N802 - Pyro4's name
        """A BatchProxy that queues calls and sends them as one message (``await batch()``)."""
        from .batch import BatchProxy

        return BatchProxy(self)

    # -- hooks for subclasses (the sync proxy's) ---------------------------------------------

    def _pyroValidateHandshake(self, response: Any) -> Any:  # noqa: N802 - Pyro4's name
        """Override to check the daemon's handshake response; raise to refuse it (it may be a coroutine)."""


# An aio proxy passed in a call travels as Pyro4's proxy (its sync twin, in every serializer).
serializers.register_type_replacement(Proxy, Proxy._pyro_sync_twin)
