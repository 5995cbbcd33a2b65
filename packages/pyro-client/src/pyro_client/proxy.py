"""The Proxy: calls methods of a remote object over one Pyro4 4.82 connection.

A proxy connects lazily (on its first call or on ``_pyroBind()``), does the
CONNECT handshake with metadata, and then sends one INVOKE at a time under a
lock, so one proxy can be shared by threads. Any communication error closes
the connection; the next call reconnects with a fresh handshake.

Method objects handed out by ``__getattr__`` are cached in the proxy's own
``__dict__`` so that repeated calls skip ``__getattr__``. The cached ones refer
to the proxy weakly (no reference cycle: a dropped proxy closes its connection
at once, as in Pyro4); the one returned by the first lookup holds it strongly,
so ``Proxy(uri).method(...)`` works.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from typing import Any, Optional, Union

from pyro_protocol import constants, serializers
from pyro_protocol.config import config
from pyro_protocol.context import current_context
from pyro_protocol.errors import (
    CommunicationError,
    ConnectionClosedError,
    ProtocolError,
    PyroError,
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
)
from pyro_protocol.names import LOCAL_PROBES, is_dunder
from pyro_protocol.session import ClientSession
from pyro_protocol.socketutil import SocketConnection, family_str
from pyro_protocol.uri import URI

from .blob import SerializedBlob, blob_call
from .connection import ProxyConnection
from .remote import CachedRemoteMethod, RemoteDunders, RemoteMethod
from .streams import StreamResultIterator

__all__ = ["Proxy"]

log = logging.getLogger("pyro.client")

#: Host part of the pseudo URI of a proxy built on an already connected socket.
CONNECTED_SOCKET_LOCATION = "<<connected-socket>>:0"
#: Pause between connection attempts of ``_pyroReconnect`` (Pyro4's value).
RECONNECT_PAUSE = 2.0
_SPECIAL_REPLY = FLAGS_ITEMSTREAMRESULT | FLAGS_EXCEPTION


class Proxy(RemoteDunders):
    """Proxy for a remote object: ``Proxy("PYRO:objectid@host:port")``, or a
    ``PYRONAME:``/``PYROMETA:`` uri that is resolved through the name server on
    connect. Attribute names follow Pyro4 (``_pyroUri``, ``_pyroTimeout``, ...).
    """

    # Set per class by __init_subclass__: whether the annotation hooks are overridden,
    # so the call path skips calling the no-op defaults.
    _pyro_has_annotation_hook = False
    _pyro_has_response_hook = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._pyro_has_annotation_hook = cls._pyroAnnotations is not Proxy._pyroAnnotations
        cls._pyro_has_response_hook = cls._pyroResponseAnnotations is not Proxy._pyroResponseAnnotations

    def __init__(self, uri: Union[str, URI], connected_socket: Any = None) -> None:
        if connected_socket is not None:
            object_id = uri.object if isinstance(uri, URI) else uri
            uri = URI(f"PYRO:{object_id}@{CONNECTED_SOCKET_LOCATION}")
        elif isinstance(uri, str):
            uri = URI(uri)
        elif not isinstance(uri, URI):
            raise TypeError("expected Pyro URI")
        # fail now, not at the first call, if the configured serializer is unavailable
        serializers.get_serializer(config.SERIALIZER)
        self._pyro_init_state(uri, set(), set(), set(), None, "hello", None)
        if connected_socket is not None:
            self._pyro_adopt_socket(connected_socket)

    def _pyro_init_state(
        self,
        uri: URI,
        oneway: set[str],
        methods: set[str],
        attrs: set[str],
        hmac_key: Optional[bytes],
        handshake: Any,
        serializer: Optional[str],
    ) -> None:
        # Written to __dict__ directly: they are local, never remote attributes.
        self.__dict__.update(
            _pyroUri=uri,
            _pyroConnection=None,  # a socketutil.SocketConnection while connected (Pyro4's)
            _pyro_conn=None,  # the ProxyConnection under it, for the call path
            _pyroOneway=oneway,
            _pyroMethods=methods,
            _pyroAttrs=attrs,
            _pyro_seq=0,  # the last sequence number of a closed connection (the next continues)
            _pyroHandshake=handshake,
            _pyroMaxRetries=config.MAX_RETRIES,
            _pyroSerializer=serializer,
            _pyro_timeout=config.COMMTIMEOUT,
            _pyro_hmac=_as_key(hmac_key),
            _pyro_lock=threading.RLock(),
            _pyro_ser=serializers.get_serializer(serializer or config.SERIALIZER),
            _pyro_target=uri.object,
            _pyro_keep_open=False,
            _pyro_async=False,
            _pyro_cached=set(),
        )

    # -- settable properties -------------------------------------------------------------

    @property
    def _pyroTimeout(self) -> Optional[float]:  # noqa: N802 - Pyro4's name
        """Socket timeout in seconds for this proxy's calls (None or 0: no timeout)."""
        timeout: Optional[float] = self._pyro_timeout
        return timeout

    @_pyroTimeout.setter
    def _pyroTimeout(self, timeout: Optional[float]) -> None:  # noqa: N802
        self.__dict__["_pyro_timeout"] = timeout
        conn = self._pyro_conn
        if conn is not None:
            conn.sock.settimeout(timeout or None)

    @property
    def _pyroSeq(self) -> int:  # noqa: N802 - Pyro4's name
        """The sequence number of the last message sent (it continues over reconnects)."""
        conn = self._pyro_conn
        seq: int = self._pyro_seq if conn is None else conn.session.seq
        return seq

    @_pyroSeq.setter
    def _pyroSeq(self, seq: int) -> None:  # noqa: N802
        self.__dict__["_pyro_seq"] = seq
        conn = self._pyro_conn
        if conn is not None:
            conn.session.seq = seq

    @property
    def _pyroHmacKey(self) -> Optional[bytes]:  # noqa: N802 - Pyro4's name
        """The HMAC key (bytes) signing this proxy's messages; a str is UTF-8 encoded."""
        key: Optional[bytes] = self._pyro_hmac
        return key

    @_pyroHmacKey.setter
    def _pyroHmacKey(self, value: Union[str, bytes, None]) -> None:  # noqa: N802
        key = self.__dict__["_pyro_hmac"] = _as_key(value)
        conn = self._pyro_conn
        if conn is not None:
            conn.session.set_hmac_key(key)

    # -- attribute access: remote methods and attributes --------------------------------

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup failed. Internals and the dunder probes of pickle,
        # copy and introspection tools must never cause network traffic.
        if name[:1] == "_":
            if name.startswith("_pyro") or name in LOCAL_PROBES:
                raise AttributeError(name)
            if not is_dunder(name):
                if config.METADATA:  # private: never exposed, so no need to ask
                    raise AttributeError(f"remote object '{self._pyroUri}' has no exposed attribute or method '{name}'")
                return RemoteMethod(self, name)  # (as Pyro4 without metadata: the daemon refuses the call)
            return self._pyro_dunder_method(name)
        self._pyro_ensure_metadata()
        if name in self._pyroAttrs:
            return self._pyroInvoke("__getattr__", (name,), None)
        if config.METADATA and name not in self._pyroMethods:
            raise AttributeError(f"remote object '{self._pyroUri}' has no exposed attribute or method '{name}'")
        if self._pyro_async:
            from .futures import AsyncRemoteMethod

            return AsyncRemoteMethod(self, name)
        self.__dict__[name] = CachedRemoteMethod(self, name)
        self._pyro_cached.add(name)
        return RemoteMethod(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name[:1] == "_":
            object.__setattr__(self, name, value)
            return
        self._pyro_ensure_metadata()
        if name in self._pyroAttrs:
            self._pyroInvoke("__setattr__", (name, value), None)
            return
        if config.METADATA:
            raise AttributeError(f"remote object '{self._pyroUri}' has no exposed attribute '{name}'")
        object.__setattr__(self, name, value)

    def _pyro_ensure_metadata(self) -> None:
        """Fetch the remote object's metadata when it is used (METADATA) and not known yet."""
        if config.METADATA and not self._pyroMethods and not self._pyroAttrs:
            self._pyroGetMetadata()

    def _pyro_may_call(self, name: str) -> bool:
        """Whether the remote object has method ``name``, as its metadata says (always, without metadata)."""
        self._pyro_ensure_metadata()
        return not config.METADATA or name in self._pyroMethods

    def _pyro_forget_methods(self) -> None:
        """Drop cached method objects (metadata or mode changed)."""
        cached = self._pyro_cached
        while cached:  # pop() one by one: another thread may be adding names meanwhile
            self.__dict__.pop(cached.pop(), None)

    # -- identity, copying, pickling -----------------------------------------------------

    def __repr__(self) -> str:
        conn = self.__dict__.get("_pyro_conn")
        state = "not connected" if conn is None else "connected " + family_str(conn.sock)
        return f"<{type(self).__module__}.{type(self).__name__} at 0x{id(self):x}; {state}; for {self._pyroUri}>"

    def __eq__(self, other: object) -> bool:
        return other is self or (isinstance(other, Proxy) and other._pyroUri == self._pyroUri)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(self._pyroUri)

    def __dir__(self) -> list[str]:
        names = set(dir(type(self))) | set(self.__dict__)
        return sorted(names | self._pyroMethods | self._pyroAttrs)

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._pyroRelease()

    def __del__(self) -> None:
        # No lock here: nothing else can be using a proxy that is being collected.
        conn = self.__dict__.get("_pyro_conn")
        if conn is not None and not self.__dict__.get("_pyro_keep_open"):
            self.__dict__.update(_pyroConnection=None, _pyro_conn=None)
            conn.close()

    def __copy__(self) -> Proxy:
        """An independent, unconnected proxy with the same uri and settings."""
        clone = type(self)(URI(self._pyroUri))
        clone._pyro_init_state(
            URI(self._pyroUri),
            set(self._pyroOneway),
            set(self._pyroMethods),
            set(self._pyroAttrs),
            self._pyro_hmac,
            self._pyroHandshake,
            self._pyroSerializer,
        )
        clone.__dict__.update(
            _pyro_timeout=self._pyro_timeout,
            _pyroMaxRetries=self._pyroMaxRetries,
            _pyro_async=self._pyro_async,
        )
        return clone

    def __getstate__(self) -> tuple[Any, ...]:
        """Pyro4's 9-tuple (protocol 3.7), used by pickle: the uri as a URI object."""
        return (
            self._pyroUri,
            self._pyroOneway,
            self._pyroMethods,
            self._pyroAttrs,
            self._pyro_timeout,
            self._pyro_hmac,
            self._pyroHandshake,
            self._pyroMaxRetries,
            self._pyroSerializer,
        )

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        # Timeout and max retries travel for compatibility only; the local config wins.
        uri, oneway, methods, attrs, _timeout, hmac_key, handshake = state[:7]
        serializer = state[8] if len(state) > 8 else None
        if isinstance(uri, str):
            uri = URI(uri)
        self._pyro_init_state(uri, set(oneway), set(methods), set(attrs), hmac_key, handshake, serializer)

    def _pyro_state_for_dict(self) -> tuple[Any, ...]:
        """The 9-tuple of protocol 3.4.2 for the dict-based serializers (uri as text, hmac as b64)."""
        hmac_text = None
        if self._pyro_hmac is not None:
            hmac_text = "b64:" + base64.b64encode(self._pyro_hmac).decode("ascii")
        return (
            self._pyroUri.asString(),
            tuple(self._pyroOneway),
            tuple(self._pyroMethods),
            tuple(self._pyroAttrs),
            self._pyro_timeout,
            hmac_text,
            self._pyroHandshake,
            self._pyroMaxRetries,
            self._pyroSerializer,
        )

    # -- connection management -------------------------------------------------------------

    def _pyroRelease(self) -> None:  # noqa: N802 - Pyro4's name
        """Close the connection. The proxy stays usable: the next call reconnects."""
        with self._pyro_lock:
            self._pyro_close()

    def _pyro_close(self) -> None:
        conn = self._pyro_conn
        if conn is not None and not self._pyro_keep_open:
            self.__dict__.update(_pyroConnection=None, _pyro_conn=None, _pyro_seq=conn.session.seq)
            conn.close()
            log.debug("connection released: %s", self._pyroUri)

    def _pyroBind(self) -> bool:  # noqa: N802 - Pyro4's name
        """Connect now; a PYRONAME/PYROMETA uri is replaced by the PYRO uri it resolved to.

        Returns True if a new connection was made, False if already connected.
        """
        with self._pyro_lock:
            return self._pyro_connect(replace_uri=True)

    def _pyroReconnect(self, tries: int = 100000000) -> None:  # noqa: N802 - Pyro4's name
        """Drop the connection and connect again, trying ``tries`` times (2 s apart)."""
        self._pyroRelease()
        while tries:
            try:
                with self._pyro_lock:
                    self._pyro_connect()
                return
            except CommunicationError:
                tries -= 1
                if tries:
                    time.sleep(RECONNECT_PAUSE)
        raise ConnectionClosedError("failed to reconnect")

    def _pyro_connect(self, replace_uri: bool = False) -> bool:
        """Connect and handshake unless connected. The caller holds the lock."""
        if self._pyro_conn is not None:
            return False
        if self._pyro_keep_open:
            raise ConnectionClosedError("a proxy on a connected socket cannot reconnect")
        from .naming import resolve  # late: naming builds proxies itself

        uri = resolve(self._pyroUri, self._pyro_hmac)
        self._pyro_handshake(uri)
        self.__dict__["_pyro_target"] = uri.object
        if replace_uri:
            self.__dict__["_pyroUri"] = uri
        log.debug("connected to %s", uri)
        if config.METADATA and not self._pyroMethods and not self._pyroAttrs:
            try:
                self._pyro_fetch_metadata(uri.object)
            except BaseException:
                self._pyro_close()
                raise
        return True

    def _pyro_adopt_socket(self, sock: Any) -> None:
        """Connected-socket mode (protocol 2.14): no handshake, the caller keeps owning the socket."""
        if config.SSL and not _is_ssl_socket(sock):
            raise CommunicationError("SSL configured for Pyro but the connected socket is not an SSL socket")
        conn = ProxyConnection(sock, self._pyro_new_session(handshake_done=True))
        self.__dict__.update(
            _pyroConnection=SocketConnection(sock, self._pyro_target, keep_open=True),
            _pyro_conn=conn,
            _pyro_keep_open=True,
        )
        if config.METADATA:
            self._pyro_fetch_metadata(self._pyro_target)

    def _pyro_new_session(self, handshake_done: bool = False) -> ClientSession:
        return ClientSession(
            self._pyro_serializer(),
            hmac_key=self._pyro_hmac,
            seq=self._pyro_seq,
            handshake_done=handshake_done,
        )

    def _pyro_handshake(self, uri: URI) -> None:
        """Open a connection to ``uri``, do the CONNECT exchange (protocol 2.2) and keep it.

        As in Pyro4, ``_pyroConnection`` is set before ``_pyroValidateHandshake`` runs, so the
        hook can look at it (a server certificate, say); refusing drops it again.
        """
        conn, msg, response = ProxyConnection.open(
            uri,
            self._pyro_new_session(),
            self._pyroHandshake,
            bool(config.METADATA),
            self._pyro_request_annotations(clear=False),
            self._pyro_timeout,
        )
        if msg.type == MSG_CONNECTFAIL:
            self.__dict__["_pyro_seq"] = conn.session.seq
            raise CommunicationError(f"connection to {uri.location} rejected: {response}")
        self.__dict__.update(_pyroConnection=SocketConnection(conn.sock, uri.object), _pyro_conn=conn)
        try:
            if msg.flags & FLAGS_META_ON_CONNECT:
                self._pyro_process_metadata(response["meta"])
                response = response["handshake"]
            self._pyroValidateHandshake(response)
            if msg.annotations:
                self._pyroResponseAnnotations(msg.annotations, msg.type)
        except BaseException:
            self.__dict__.update(_pyroConnection=None, _pyro_conn=None, _pyro_seq=conn.session.seq)
            conn.close()
            raise

    # -- metadata ------------------------------------------------------------------------------

    def _pyroGetMetadata(self, objectId: Optional[str] = None, known_metadata: Any = None) -> None:  # noqa: N802,N803
        """Get the remote object's methods, oneway methods and attributes (normally from the handshake)."""
        with self._pyro_lock:
            if known_metadata:
                self._pyro_process_metadata(known_metadata)
                return
            if self._pyro_conn is None:
                self._pyro_connect()
                if self._pyroMethods or self._pyroAttrs:
                    return  # the handshake brought them
            self._pyro_fetch_metadata(objectId or self._pyro_target)

    def _pyro_fetch_metadata(self, object_id: str) -> None:
        result = self._pyroInvoke("get_metadata", [object_id], {}, objectId=constants.DAEMON_NAME)
        self._pyro_process_metadata(result)

    def _pyro_process_metadata(self, metadata: Any) -> None:
        if not metadata:
            return
        self.__dict__.update(
            _pyroOneway=set(metadata["oneway"]),
            _pyroMethods=set(metadata["methods"]),
            _pyroAttrs=set(metadata["attrs"]),
        )
        self._pyro_forget_methods()
        if not self._pyroMethods and not self._pyroAttrs:
            raise PyroError(
                "remote object doesn't expose any methods or attributes. Did you forget setting @expose on them?"
            )

    # -- calls ---------------------------------------------------------------------------------

    def _pyro_serializer(self) -> serializers.SerializerBase:
        name = self._pyroSerializer or config.SERIALIZER
        serializer: serializers.SerializerBase = self._pyro_ser
        if serializer.name != name:
            serializer = self.__dict__["_pyro_ser"] = serializers.get_serializer(name)
        return serializer

    def _pyro_request_annotations(self, clear: bool) -> Optional[dict[str, bytes]]:
        """User annotations from the call context, then CORR, then the hook's (protocol 1.6)."""
        ctx = current_context
        annotations = dict(ctx.annotations)
        annotations.pop("CORR", None)  # only the context's correlation id goes as CORR
        correlation = ctx.correlation_bytes  # its 16 bytes, without building a UUID
        if correlation is not None:
            annotations["CORR"] = correlation
        if self._pyro_has_annotation_hook:
            annotations.update(self._pyroAnnotations())
        if clear and ctx.annotations:
            ctx.annotations = {}
        return annotations or None

    def _pyroInvoke(  # noqa: N802 - Pyro4's name
        self,
        methodname: str,
        vargs: Any,
        kwargs: Optional[dict[str, Any]],
        flags: int = 0,
        objectId: Optional[str] = None,  # noqa: N803
    ) -> Any:
        """Send one call and (unless oneway) wait for its result. The hot path: keep it flat."""
        ctx = current_context.state
        with self._pyro_lock:
            conn = self._pyro_conn
            if conn is None:
                self._pyro_connect()
                conn = self._pyro_conn
            serializer = self._pyro_ser
            if serializer.name != (self._pyroSerializer or config.SERIALIZER):
                serializer = self._pyro_serializer()
            target = objectId or self._pyro_target
            payload: Any
            if vargs and isinstance(vargs[0], SerializedBlob):
                serializer, payload = _blob_payload(ctx, serializer, target, methodname, vargs, kwargs)
                flags |= FLAGS_KEEPSERIALIZED
            else:
                payload = serializer.call_payload(target, methodname, vargs, kwargs)
            if methodname in self._pyroOneway:
                flags |= FLAGS_ONEWAY
            annotations = None
            if ctx.annotations or ctx.correlation_bytes is not None or self._pyro_has_annotation_hook:
                annotations = self._pyro_request_annotations(clear=True)
            try:
                _seq, frames = conn.session.invoke(payload, flags, annotations, serializer, not flags & FLAGS_ONEWAY)
                conn.send(frames)
                if flags & FLAGS_ONEWAY:
                    ctx.response_annotations = {}
                    return None
                msg, result = conn.receive()
            except BaseException:
                # The stream is in an unknown state: a late reply must never answer a later call.
                ctx.response_annotations = {}
                self._pyro_close()
                raise
            ctx.response_annotations = msg.annotations
            if msg.annotations and self._pyro_has_response_hook:
                self._pyroResponseAnnotations(msg.annotations, msg.type)
            if msg.flags & _SPECIAL_REPLY:
                try:
                    return self._pyro_special_result(msg, result)
                finally:
                    result = None  # no cycle exception -> traceback -> this frame -> exception
            return result

    def _pyro_special_result(self, msg: Any, result: Any) -> Any:
        if msg.flags & FLAGS_ITEMSTREAMRESULT:
            stream_id = msg.annotations.get("STRM", b"").decode("ascii", "replace")
            if not stream_id:
                raise ProtocolError(
                    "result of call is an iterator, but the server is not configured to allow streaming"
                )
            return StreamResultIterator(stream_id, self)
        if not isinstance(result, BaseException):
            self._pyro_close()
            raise ProtocolError(f"exception reply does not hold an exception but a {type(result).__name__}")
        if isinstance(result, CommunicationError):
            self._pyro_close()  # the daemon closes the connection after such a reply
        try:
            raise result
        finally:
            result = None  # no cycle exception -> traceback -> this frame -> exception

    def _pyro_call_retrying(self, name: str, args: Any, kwargs: Any) -> Any:
        """A call that is re-sent up to ``_pyroMaxRetries`` times after a lost connection or timeout."""
        if name in self._pyroOneway:
            # never repeated: it may have run already
            return self._pyroInvoke(name, args, kwargs)
        attempts = self._pyroMaxRetries + 1
        for attempt in range(attempts):
            try:
                return self._pyroInvoke(name, args, kwargs)
            except (ConnectionClosedError, TimeoutError):
                if attempt + 1 >= attempts:
                    raise
                log.debug("retrying call %s after a communication error", name)
        raise AssertionError("unreachable")

    def _pyroInvokeBatch(self, calls: list[tuple[str, Any, Any]], oneway: bool = False) -> Any:  # noqa: N802
        flags = FLAGS_BATCH | FLAGS_ONEWAY if oneway else FLAGS_BATCH
        return self._pyroInvoke("<batch>", calls, None, flags)

    # -- modes ---------------------------------------------------------------------------------

    def _pyroBatch(self) -> Any:  # noqa: N802 - Pyro4's name
        """A BatchProxy that queues calls and sends them as one message."""
        from .batch import BatchProxy

        return BatchProxy(self)

    def _pyroAsync(self, asynchronous: bool = True) -> None:  # noqa: N802 - Pyro4's name
        """Switch this proxy to asynchronous calls (results are FutureResults), or back."""
        self.__dict__["_pyro_async"] = bool(asynchronous)
        self._pyro_forget_methods()

    # -- hooks for subclasses ------------------------------------------------------------------

    def _pyroAnnotations(self) -> dict[str, bytes]:  # noqa: N802 - Pyro4's name
        """Override to add annotations (4-letter keys, bytes values) to every request."""
        return {}

    def _pyroResponseAnnotations(self, annotations: dict[str, bytes], msgtype: int) -> None:  # noqa: N802
        """Override to look at the annotations of every reply (also in current_context.response_annotations)."""

    def _pyroValidateHandshake(self, response: Any) -> None:  # noqa: N802 - Pyro4's name
        """Override to check the daemon's handshake response; raise to refuse the connection."""


def _blob_payload(ctx: Any, serializer: Any, target: str, method: str, vargs: Any, kwargs: Any) -> tuple[Any, bytes]:
    """A call whose first argument is a SerializedBlob: its serializer and payload as they are."""
    serializer, payload, blob_info = blob_call(serializer, target, method, vargs, kwargs)
    # BLBI joins the context's annotations: the call path sends them and clears them
    ctx.annotations = {**ctx.annotations, "BLBI": blob_info}
    return serializer, payload


def _as_key(value: Union[str, bytes, None]) -> Optional[bytes]:
    if not value:
        return None
    if isinstance(value, str):
        return value.encode("utf-8")
    return bytes(value)


def _is_ssl_socket(sock: Any) -> bool:
    import ssl

    return isinstance(sock, ssl.SSLSocket)
