"""pyro_client.aio against genuine Pyro4 4.82 daemons and name servers (which answer one
request at a time, in order): every serializer, pipelined calls, timeouts and cancellation,
reconnects, HMAC, TLS, PYRONAME:/PYROMETA: and the name server used from asyncio."""

from __future__ import annotations

import asyncio
import time

import pytest

from pyro_client import (
    CommunicationError,
    ConnectionClosedError,
    NamingError,
    Proxy,
    SerializedBlob,
    TimeoutError,
    aio,
    config,
    current_context,
    getPyroTraceback,
)

# every test here runs on asyncio's own event loop and on uvloop's (the root conftest.py)
pytestmark = pytest.mark.usefixtures("event_loop_kind")

#: Every coroutine of a test gets at most this long (a hang fails the test instead of the suite).
DEADLINE = 30.0
ALL_SERIALIZERS = ["serpent", "json", "marshal", "msgpack", "pickle"]


def arun(coro):
    return asyncio.run(asyncio.wait_for(coro, DEADLINE))


@pytest.mark.parametrize("serializer", ALL_SERIALIZERS)
def test_calls_attributes_and_a_thousand_calls_in_flight(pyro4_server, serializer):
    async def main():
        async with aio.Proxy(pyro4_server.uri("calc")) as calc:
            calc._pyroSerializer = serializer
            assert await calc.add(40, 2) == 42
            assert await calc.echo_args(1, "two", three=3) == [[1, "two"], {"three": 3}]
            results = await asyncio.gather(*(calc.add(n, 1) for n in range(1000)))
            assert results == list(range(1, 1001))
            assert await calc.readonly == "fixed"
            await calc._pyroSetAttr("value", 7)
            assert await calc.value == 7
            await calc._pyroSetAttr("value", 42)
            assert calc._pyroSeq > 1000

    arun(main())


def test_members_follow_the_metadata(pyro4_server):
    async def main():
        async with aio.Proxy(pyro4_server.uri("calc")) as calc:
            with pytest.raises(AttributeError, match="no exposed attribute or method 'nonexisting'"):
                await calc.nonexisting()  # (not connected yet: found out on the call)
            assert calc._pyroConnection is not None and "add" in calc._pyroMethods
            with pytest.raises(AttributeError, match="no exposed attribute or method 'nonexisting'"):
                calc.nonexisting  # noqa: B018 - now the metadata is known
            with pytest.raises(AttributeError, match="is a remote method"):
                await calc.add
            with pytest.raises(AttributeError, match="_pyroSetAttr"):
                calc.value = 1
            with pytest.raises(AttributeError):
                calc.__await__  # noqa: B018 - asyncio's probes are never remote
            assert "add" in dir(calc) and "value" in dir(calc)

    arun(main())


def test_remote_exceptions_carry_their_traceback(pyro4_server):
    async def main():
        async with aio.Proxy(pyro4_server.uri("calc")) as calc:
            with pytest.raises(ZeroDivisionError) as caught:
                await calc.divide(1, 0)
            remote = "".join(getPyroTraceback(caught.value))
            assert "Remote traceback" in remote and "in divide" in remote
            with pytest.raises(NamingError, match="named"):
                await calc.fail_naming("named")
            assert await calc.add(1, 1) == 2  # the connection goes on

    arun(main())


def test_oneway_calls_do_not_wait(pyro4_server):
    async def main():
        async with aio.Proxy(pyro4_server.uri("calc")) as calc:
            await calc._pyroBind()
            before = len(await calc.fired())
            started = time.monotonic()
            assert await calc.fire(1) is None
            assert time.monotonic() - started < 0.15  # (the remote method sleeps 0.2 s)
            deadline = time.monotonic() + 5
            while len(await calc.fired()) == before and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert (await calc.fired())[-1] == 1

    arun(main())


def test_batch(pyro4_server):
    async def main():
        async with aio.Proxy(pyro4_server.uri("calc")) as calc:
            batch = calc._pyroBatch()
            batch.add(1, 2)
            batch.echo("x")
            batch.divide(1, 0)
            batch.add(5, 5)
            results = await batch()
            assert next(results) == 3 and next(results) == "x"
            with pytest.raises(ZeroDivisionError):
                next(results)
            with aio.batch(calc) as again:
                again.add(2, 2)
                assert await again(oneway=True) is None
            assert await calc.add(3, 3) == 6

    arun(main())


def test_remote_iterators_are_async_iterators(pyro4_server):
    async def main():
        async with aio.Proxy(pyro4_server.uri("calc")) as calc:
            assert [n async for n in await calc.generator(5)] == [0, 1, 2, 3, 4]
            items = await calc.failing_generator()
            assert await items.__anext__() == 1
            with pytest.raises(ValueError, match="generator broke"):
                await items.__anext__()
            with pytest.raises(StopAsyncIteration):
                await items.__anext__()
            early = await calc.generator(100)
            assert await early.__anext__() == 0
            await early.aclose()
            assert await calc.add(1, 2) == 3

    arun(main())


def test_a_timed_out_call_is_dropped_and_the_connection_goes_on(pyro4_server):
    """Pyro4 answers in order: the late reply comes before the next one, and is dropped."""

    async def main():
        async with aio.Proxy(pyro4_server.uri("calc")) as calc:
            await calc._pyroBind()
            connection = calc._pyroConnection
            calc._pyroTimeout = 0.2
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                await calc.sleep(0.6)
            assert time.monotonic() - started < 0.5
            calc._pyroTimeout = 5
            assert await calc.add(2, 3) == 5
            assert calc._pyroConnection is connection

    arun(main())


def test_a_cancelled_call_is_dropped_and_the_connection_goes_on(pyro4_server):
    async def main():
        async with aio.Proxy(pyro4_server.uri("calc")) as calc:
            await calc._pyroBind()
            slow = asyncio.ensure_future(calc.sleep(0.4))
            await asyncio.sleep(0.1)
            slow.cancel()
            with pytest.raises(asyncio.CancelledError):
                await slow
            assert await asyncio.gather(calc.add(1, 1), calc.echo("after")) == [2, "after"]

    arun(main())


def test_context_annotations_and_correlation_id(pyro4_server):
    async def main():
        class Annotating(aio.Proxy):
            def _pyroAnnotations(self):
                return {"HOOK": b"hooked"}

        async with Annotating(pyro4_server.uri("calc")) as calc:
            current_context.annotations = {"USER": b"mine"}
            import uuid

            current_context.correlation_id = uuid.uuid4()
            info = await calc.context_info()
            assert info["correlation_id"] == str(current_context.correlation_id)
            assert info["annotations"]["USER"] == "mine" and info["annotations"]["HOOK"] == "hooked"
            assert current_context.response_annotations["XTRA"] == b"extra"
            current_context.correlation_id = None

    arun(main())


def test_autoproxy_results_become_aio_proxies(pyro4_server):
    async def main():
        async with aio.Proxy(pyro4_server.uri("calc")) as calc:
            thing = await calc.make_thing("thing one")
            assert isinstance(thing, Proxy)  # what the serializer rebuilds
            async with aio.Proxy(thing) as athing:
                assert await athing.get_name() == "thing one"
            thing._pyroRelease()
            assert await calc.echo(aio.Proxy(pyro4_server.uri("counter"))) == Proxy(pyro4_server.uri("counter"))

    arun(main())


def test_serialized_blob(pyro4_server):
    async def main():
        async with aio.Proxy(pyro4_server.uri("calc")) as calc:
            assert await calc.process_blob(SerializedBlob("info", [1, 2])) == ["SerializedBlob", "info", [1, 2]]

    arun(main())


def test_reconnect_after_the_daemon_restarts(start_server):
    server = start_server()
    port = server.port

    async def main():
        nonlocal server
        async with aio.Proxy(server.uri("calc")) as calc:
            first = await calc.pid()
            server.stop()
            with pytest.raises(ConnectionClosedError):
                await calc.pid()
            server = start_server("--port", str(port))
            await calc._pyroReconnect()
            assert await calc.pid() != first
            server.stop()
            server = start_server("--port", str(port))
            calc._pyroMaxRetries = 2  # a lost connection: the call is sent again
            assert await calc.add(1, 2) == 3

    arun(main())


def test_hmac(start_server):
    server = start_server("--hmac", "secret")

    async def main():
        async with aio.Proxy(server.uri("calc")) as calc:
            calc._pyroHmacKey = "secret"
            assert await calc.add(1, 2) == 3
        async with aio.Proxy(server.uri("calc")) as calc:
            with pytest.raises(CommunicationError):
                await calc.add(1, 2)  # no key: the daemon refuses

    arun(main())


def test_connect_errors(unused_port):
    async def main():
        async with aio.Proxy(f"PYRO:calc@127.0.0.1:{unused_port}") as calc:
            with pytest.raises(CommunicationError, match="cannot connect to 127.0.0.1"):
                await calc.add(1, 2)
        async with aio.Proxy("PYRO:calc@./u:/nonexisting/pyro.sock") as calc:
            with pytest.raises(CommunicationError, match="unix socket"):
                await calc.add(1, 2)

    arun(main())


def test_the_name_server_from_asyncio(pyro4_nameserver, pyro4_server):
    ns_uri = pyro4_nameserver.value("NSURI")
    host, port = ns_uri.split("@")[1].split(":")
    config.NS_HOST, config.NS_PORT = host, int(port)

    async def main():
        async with await aio.locateNS() as ns:
            assert isinstance(ns, aio.Proxy)
            await ns.register("aio.calc", pyro4_server.uri("calc"), metadata={"aio:calc"})
            assert str(await ns.lookup("aio.calc")) == pyro4_server.uri("calc")
            assert "aio.calc" in await ns.list(prefix="aio.")
        assert str(await aio.resolve("PYRONAME:aio.calc")) == pyro4_server.uri("calc")
        async with aio.Proxy("PYRONAME:aio.calc") as calc:
            assert await calc.add(1, 2) == 3
            assert calc._pyroUri.protocol == "PYRONAME"
        async with aio.Proxy("PYRONAME:aio.calc") as calc:
            assert await calc._pyroBind() is True
            assert str(calc._pyroUri) == pyro4_server.uri("calc")  # (bind replaces the uri it resolved)
        async with aio.Proxy("PYROMETA:aio:calc") as calc:
            assert await calc.add(2, 2) == 4
        with pytest.raises(NamingError):
            await aio.resolve("PYRONAME:aio.nothing")

    arun(main())


trustme = pytest.importorskip("trustme")


def test_tls(start_server, tmp_path):
    authority = trustme.CA()
    server_cert = authority.issue_cert("127.0.0.1", "localhost")
    ca_file, server_file = tmp_path / "ca.pem", tmp_path / "server.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    server_cert.private_key_and_cert_chain_pem.write_to_path(str(server_file))
    server = start_server("--ssl", str(server_file), str(server_file))
    seen = {}

    class Checking(aio.Proxy):
        async def _pyroValidateHandshake(self, response):  # (a hook may be a coroutine)
            seen["cert"] = self._pyroConnection.transport.get_extra_info("peercert")

    async def main():
        config.SSL = True
        config.SSL_CACERTS = str(ca_file)
        async with Checking(server.uri("calc")) as calc:
            assert await calc.add(40, 2) == 42
            assert [n async for n in await calc.generator(3)] == [0, 1, 2]
        assert ("DNS", "localhost") in seen["cert"]["subjectAltName"]
        config.SSL = False
        async with aio.Proxy(server.uri("calc")) as calc:
            calc._pyroTimeout = 3
            with pytest.raises(CommunicationError, match="TLS"):
                await calc.add(1, 2)

    arun(main())


def test_a_proxy_is_bound_to_its_event_loop_and_moves_on_with_a_new_one(pyro4_server):
    proxy = aio.Proxy(pyro4_server.uri("calc"))

    async def call():
        try:
            return await proxy.add(1, 2), proxy._pyroConnection.loop is asyncio.get_running_loop()
        finally:
            await proxy._pyroRelease()  # (a transport belongs to its loop: release it there)

    assert arun(call()) == (3, True)
    assert arun(call()) == (3, True)  # (a new loop: a new connection)


def test_pickled_and_copied_aio_proxies_keep_their_settings(pyro4_server):
    import copy
    import pickle

    proxy = aio.Proxy(pyro4_server.uri("calc"))
    proxy._pyroTimeout = 3
    proxy._pyroHmacKey = b"k"
    clone = copy.copy(proxy)
    assert clone == proxy and clone._pyroTimeout == 3 and clone._pyroHmacKey == b"k"
    again = pickle.loads(pickle.dumps(proxy))
    assert isinstance(again, aio.Proxy) and again._pyroUri == proxy._pyroUri
    with pytest.raises(TypeError):
        aio.Proxy(42)  # type: ignore[arg-type]
