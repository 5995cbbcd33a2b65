"""The asyncio server type: serve() in a running loop, async and plain methods, calls answered
as they finish, bounded work per connection, dead peers, and our aio client on every server type."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
import types

import pytest

from pyro_client import Proxy, aio, getPyroTraceback
from pyro_protocol import message as wire
from pyro_protocol import serializers
from pyro_protocol.config import config
from pyro_protocol.context import current_context
from pyro_protocol.decoder import MessageDecoder
from pyro_protocol.errors import PyroError, TimeoutError
from pyro_server import Daemon, behavior, expose, oneway
from pyro_server.servers.aio import MAX_CALLS_IN_PROGRESS

# every test here runs on asyncio's own event loop and on uvloop's (the root conftest.py)
pytestmark = pytest.mark.usefixtures("event_loop_kind")

SERIALIZERS = ["serpent", "json", "marshal", "msgpack", "pickle"]
#: Every coroutine of a test gets at most this long (a hang fails the test instead of the suite).
DEADLINE = 30.0


def arun(coro):
    return asyncio.run(asyncio.wait_for(coro, DEADLINE))


@pytest.fixture()
def run_daemon(run):
    """``with run_daemon(daemon):`` serves the daemon with requestLoop() in a thread (conftest's ``run``)."""
    return run


class Service:
    def __init__(self):
        self.running = 0
        self.most_running = 0
        self.cancelled = []
        self.release = None  # an asyncio.Event, made on the serving loop
        self.fired = []

    def plain(self, x):
        return [x, threading.current_thread().name]

    async def aadd(self, a, b):
        return a + b

    async def where(self):
        return threading.get_ident()

    async def asleep(self, seconds, value):
        await asyncio.sleep(seconds)
        return value

    def block(self, seconds):
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        time.sleep(seconds)
        self.running -= 1
        return seconds

    async def wait_released(self, tag):
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled.append(tag)
            raise
        finally:
            self.running -= 1
        return tag

    async def context_after_awaits(self, delay):
        ctx = current_context
        before = (str(ctx.correlation_id), dict(ctx.annotations))
        await asyncio.sleep(delay)
        ctx.response_annotations["XTRA"] = before[1].get("USER", b"-")
        await asyncio.sleep(0)
        return [before[0], str(ctx.correlation_id), before[1] == dict(ctx.annotations), ctx.client is not None]

    async def loop_module(self):
        return type(asyncio.get_running_loop()).__module__

    async def current_task_name(self):
        async with asyncio.timeout(5):  # (needs a task of its own)
            return asyncio.current_task() is not None

    async def afail(self, message):
        await asyncio.sleep(0)
        raise ValueError(message)

    def numbers(self, count):
        yield from range(count)

    async def anumbers(self, count):
        for number in range(count):
            await asyncio.sleep(0)
            yield number

    @oneway
    async def afire(self, value):
        await asyncio.sleep(0.05)
        self.fired.append(value)

    @oneway
    def fire(self, value):
        time.sleep(0.05)
        self.fired.append(value)

    def divide(self, a, b):
        return a / b

    def fired_values(self):
        return sorted(self.fired)

    @property
    def answer(self):
        return 42

    def shutdown_daemon(self):
        self._pyroDaemon.shutdown()


@expose
@behavior(instance_mode="session")
class PerConnection:
    created = 0

    def __init__(self):
        PerConnection.created += 1
        self.calls = 0

    async def count(self):
        self.calls += 1
        await asyncio.sleep(0.01)
        return id(self)


@contextlib.asynccontextmanager
async def serving(*objects, daemon_class=Daemon, servertype=None, **settings):
    """A daemon serving ``objects`` on the running loop (its serve() task) for the block."""
    if servertype is not None:
        config.SERVERTYPE = servertype
    for item, value in settings.items():
        setattr(config, item, value)
    daemon = daemon_class(host="127.0.0.1")
    uris = [daemon.register(obj) for obj in objects]
    task = asyncio.create_task(daemon.serve())
    await asyncio.sleep(0)  # (serve() has begun: a shutdown() from now on ends it)
    try:
        yield daemon, uris
    finally:
        daemon.shutdown()
        await asyncio.wait_for(task, 10)
        daemon.close()


def test_serve_in_a_running_loop_with_default_settings():
    """A Daemon made with the default SERVERTYPE serves on the loop: async methods there, plain ones in workers."""
    assert config.SERVERTYPE == "thread"

    async def main():
        service = Service()
        async with serving(service) as (daemon, (uri,)), aio.Proxy(uri) as proxy:
            assert await proxy.where() == threading.get_ident()  # the loop's own thread
            assert daemon.transportServer.name == "asyncio"
            value, worker = await proxy.plain(5)
            assert value == 5 and worker.startswith("Pyro-Worker")
            assert await proxy.current_task_name() is True
            assert await proxy.answer == 42

    arun(main())


def test_shutdown_from_a_loop_callback_and_from_another_thread():
    async def main():
        daemon = Daemon(host="127.0.0.1")
        task = asyncio.create_task(daemon.serve())
        await asyncio.sleep(0.05)
        assert daemon.transportServer.serving
        asyncio.get_running_loop().call_soon(daemon.shutdown)
        await asyncio.wait_for(task, 5)
        task = asyncio.create_task(daemon.serve())  # (it serves again afterwards)
        await asyncio.sleep(0.05)
        started = time.monotonic()
        stopper = threading.Thread(target=daemon.shutdown)
        stopper.start()
        await asyncio.wait_for(task, 5)
        stopper.join(5)
        assert time.monotonic() - started < 3
        daemon.close()

    arun(main())


def test_a_remote_call_can_shut_the_daemon_down():
    async def main():
        async with serving(Service()) as (_daemon, (uri,)), aio.Proxy(uri) as proxy:
            await proxy.shutdown_daemon()

    arun(main())


def test_request_loop_from_plain_code_runs_async_methods_on_its_loop(run_daemon):
    config.SERVERTYPE = "asyncio"
    daemon = Daemon(host="127.0.0.1")
    uri = daemon.register(Service())
    with run_daemon(daemon), Proxy(uri) as proxy:
        assert proxy.aadd(1, 2) == 3
        assert proxy.where() != threading.get_ident()
        assert list(proxy.anumbers(3)) == [0, 1, 2]
        assert proxy.plain("x")[1].startswith("Pyro-Worker")


def test_request_loop_inside_a_running_loop_is_refused():
    async def main():
        config.SERVERTYPE = "asyncio"
        with Daemon(host="127.0.0.1") as daemon:
            with pytest.raises(PyroError, match="await daemon.serve"):
                daemon.requestLoop()

    arun(main())


def test_serve_on_a_daemon_whose_thread_server_has_clients_is_refused():
    daemon = Daemon(host="127.0.0.1")
    uri = daemon.register(Service())
    loop = threading.Thread(target=daemon.requestLoop)
    loop.start()
    try:
        with Proxy(uri) as proxy:
            proxy.plain(1)
            daemon.shutdown()
            loop.join(5)

            async def main():
                with pytest.raises(PyroError, match="SERVERTYPE 'asyncio'"):
                    await daemon.serve()

            arun(main())
    finally:
        daemon.close()


def test_pipelined_calls_are_answered_as_they_finish():
    async def main():
        async with serving(Service()) as (_daemon, (uri,)), aio.Proxy(uri) as proxy:
            await proxy._pyroBind()
            done = []

            async def call(seconds, value):
                done.append(await proxy.asleep(seconds, value))

            started = time.monotonic()
            await asyncio.gather(call(0.4, "slow"), call(0.01, "quick"), *(call(0.2, n) for n in range(20)))
            assert done[0] == "quick" and done[-1] == "slow"
            assert time.monotonic() - started < 2.0  # (one after the other: more than 4 s)

    arun(main())


def test_plain_methods_share_a_bounded_pool_and_the_loop_goes_on():
    async def main():
        service = Service()
        async with serving(service, servertype="asyncio", THREADPOOL_SIZE=3) as (_daemon, (uri,)):
            async with aio.Proxy(uri) as proxy:
                await proxy._pyroBind()
                blocking = asyncio.gather(*(proxy.block(0.3) for _ in range(7)))
                await asyncio.sleep(0.1)
                started = time.monotonic()
                assert await proxy.aadd(2, 2) == 4  # served while every worker is busy
                assert time.monotonic() - started < 0.2
                assert await blocking == [0.3] * 7
                assert service.most_running == 3

    arun(main())


def test_every_async_call_sees_its_own_context():
    async def main():
        async with serving(Service()) as (_daemon, (uri,)), aio.Proxy(uri) as proxy:
            await proxy._pyroBind()

            async def call(number):
                current_context.correlation_id = None
                current_context.annotations = {"USER": str(number).encode()}
                result = await proxy.context_after_awaits(0.01 * (number % 5))
                return result, current_context.response_annotations.get("XTRA")

            results = await asyncio.gather(*(call(n) for n in range(30)))
            for number, (result, extra) in enumerate(results):
                before, after, same_annotations, has_client = result
                assert before == after and same_annotations and has_client
                assert extra == str(number).encode()
            assert len({result[0] for result, _ in results}) == 30  # a correlation id each

    arun(main())


def test_the_server_and_the_client_run_on_the_kind_of_loop_in_use(event_loop_kind, run_daemon):
    """await serve() uses the running loop, requestLoop() makes one by the policy (uvloop's too)."""
    uvloop = event_loop_kind == "uvloop"

    async def on_the_running_loop():
        assert type(asyncio.get_running_loop()).__module__.startswith("uvloop") == uvloop
        async with serving(Service()) as (_daemon, (uri,)), aio.Proxy(uri) as proxy:
            assert (await proxy.loop_module()).startswith("uvloop") == uvloop

    arun(on_the_running_loop())
    config.SERVERTYPE = "asyncio"
    daemon = Daemon(host="127.0.0.1")
    uri = daemon.register(Service())
    with run_daemon(daemon), Proxy(uri) as proxy:
        assert proxy.loop_module().startswith("uvloop") == uvloop


def test_results_of_plain_methods_reach_the_loop_in_runs():
    """The workers hand their results to the loop through a queue: one wake-up of the loop (a
    call_soon_threadsafe, a system call) carries all that came while the loop was busy."""

    async def main():
        loop = asyncio.get_running_loop()
        wakeups = []
        call_soon_threadsafe = loop.call_soon_threadsafe

        def counted(*args, **kwargs):
            wakeups.append(1)
            return call_soon_threadsafe(*args, **kwargs)

        loop.call_soon_threadsafe = counted
        async with serving(Service()) as (_daemon, (uri,)), aio.Proxy(uri) as proxy:
            await proxy._pyroBind()
            wakeups.clear()
            results = await asyncio.gather(*(proxy.plain(n) for n in range(300)))
            assert [result[0] for result in results] == list(range(300))
            assert len(wakeups) < 100  # (one each: 300)

    arun(main())


@types.coroutine
def _go_on(coro, step):
    """The rest of a coroutine whose first step was taken (it yielded ``step``), for a Task."""
    while True:
        try:
            sent = yield step
        except BaseException as exc:
            try:
                step = coro.throw(exc)
            except StopIteration as done:
                return done.value
        else:
            try:
                step = coro.send(sent)
            except StopIteration as done:
                return done.value


def _eager_task_factory(loop, coro, **kwargs):
    """As Python 3.12's asyncio.eager_task_factory: a task's first step runs at once, and a
    coroutine that finishes in it gives a done future without ever being scheduled."""
    try:
        step = coro.send(None)
    except StopIteration as done:
        future = loop.create_future()
        future.set_result(done.value)
        return future
    return asyncio.Task(_go_on(coro, step), loop=loop, **kwargs)


def test_a_loop_whose_task_factory_runs_first_steps_at_once():
    """Calls that finish in their first step leave nothing behind on their connection."""

    async def main():
        async with serving(Service()) as (daemon, (uri,)), aio.Proxy(uri) as proxy:
            await proxy._pyroBind()
            asyncio.get_running_loop().set_task_factory(_eager_task_factory)
            try:
                assert await asyncio.gather(*(proxy.aadd(n, 1) for n in range(50))) == list(range(1, 51))
                assert await proxy.asleep(0.01, "slept") == "slept"  # (one that waits: a task of its own)
            finally:
                asyncio.get_running_loop().set_task_factory(None)
            (conn,) = daemon.transportServer.connections
            assert not conn.tasks and not conn.in_progress

    arun(main())


def test_a_handshake_leaves_the_loop_threads_context_as_it_was():
    """The daemon answers a handshake on the loop: what it sets in the context (the client, a
    correlation id) must not stay there for a client on the same loop to send with its calls."""

    async def main():
        async with serving(Service()) as (_daemon, (uri,)), aio.Proxy(uri) as proxy:
            await proxy._pyroBind()
            assert current_context.client is None and current_context.correlation_bytes is None
            first, second = [await proxy.context_after_awaits(0) for _ in range(2)]
            assert first[0] != second[0]  # no correlation id was set: each call got a new one

    arun(main())


def test_session_instances_stay_one_per_connection_under_pipelined_calls():
    async def main():
        PerConnection.created = 0
        async with serving(PerConnection) as (_daemon, (uri,)):
            async with aio.Proxy(uri) as first, aio.Proxy(uri) as second:
                ids = await asyncio.gather(*(first.count() for _ in range(20)), *(second.count() for _ in range(20)))
            assert len(set(ids[:20])) == 1 and len(set(ids[20:])) == 1 and ids[0] != ids[20]
            assert PerConnection.created == 2

    arun(main())


def test_streams_from_generators_and_async_generators(pyro4, run_daemon):
    async def main():
        async with serving(Service()) as (_daemon, (uri,)), aio.Proxy(uri) as proxy:
            assert [n async for n in await proxy.numbers(4)] == [0, 1, 2, 3]
            assert [n async for n in await proxy.anumbers(4)] == [0, 1, 2, 3]
            items = await proxy.anumbers(10)
            assert await items.__anext__() == 0
            await items.aclose()

    arun(main())
    config.SERVERTYPE = "asyncio"
    daemon = Daemon(host="127.0.0.1")
    uri = str(daemon.register(Service()))
    with run_daemon(daemon), pyro4.Proxy(uri) as proxy:  # (a genuine Pyro4 client)
        assert list(proxy.anumbers(3)) == [0, 1, 2]
        assert list(proxy.numbers(3)) == [0, 1, 2]


def test_oneway_calls_async_and_plain():
    async def main():
        service = Service()
        async with serving(service) as (_daemon, (uri,)), aio.Proxy(uri) as proxy:
            started = time.monotonic()
            for value in range(5):
                assert await proxy.afire(value) is None
                assert await proxy.fire(10 + value) is None
            assert time.monotonic() - started < 0.2
            deadline = time.monotonic() + 5
            while len(service.fired) < 10 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert await proxy.fired_values() == [0, 1, 2, 3, 4, 10, 11, 12, 13, 14]

    arun(main())


def test_exceptions_of_async_methods_carry_the_remote_traceback():
    async def main():
        async with serving(Service()) as (_daemon, (uri,)), aio.Proxy(uri) as proxy:
            with pytest.raises(ValueError, match="no good") as caught:
                await proxy.afail("no good")
            remote = "".join(getPyroTraceback(caught.value))
            assert "Remote traceback" in remote and "in afail" in remote
            assert await proxy.aadd(1, 1) == 2

    arun(main())


def test_batch_with_async_and_plain_methods():
    async def main():
        async with serving(Service()) as (_daemon, (uri,)), aio.Proxy(uri) as proxy:
            batch = aio.batch(proxy)
            batch.aadd(1, 2)
            batch.plain("p")
            batch.afail("stop here")
            batch.aadd(5, 5)
            results = await batch()
            assert next(results) == 3 and next(results)[0] == "p"
            with pytest.raises(ValueError, match="stop here"):
                next(results)

    arun(main())


def _raw_invokes(uri, count, method, args):
    """A raw client: handshake, then ``count`` INVOKEs sent back to back without reading."""
    serpent = serializers.get_serializer("serpent")
    sock = socket.create_connection((uri.host, uri.port), timeout=10)
    body = serpent.dumps({"handshake": "hello", "object": uri.object})
    sock.sendall(b"".join(wire.encode(wire.MSG_CONNECT, body, serpent.serializer_id, 0, 0)))
    decoder = MessageDecoder()
    while not decoder.feed(sock.recv(65536)):
        pass
    calls = b"".join(
        b"".join(wire.encode(wire.MSG_INVOKE, serpent.dumpsCall(uri.object, method, args, {}), 1, 0, seq + 1))
        for seq in range(count)
    )
    sock.sendall(calls)
    return sock, decoder


def test_a_client_pipelining_many_calls_gets_at_most_the_limit_in_progress():
    async def main():
        service = Service()
        service.release = asyncio.Event()
        async with serving(service) as (_daemon, (uri,)):
            count = 3 * MAX_CALLS_IN_PROGRESS
            loop = asyncio.get_running_loop()
            sock, decoder = await loop.run_in_executor(None, _raw_invokes, uri, count, "wait_released", ("x",))
            try:
                deadline = time.monotonic() + 5
                while service.running < MAX_CALLS_IN_PROGRESS and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.2)
                assert service.running == MAX_CALLS_IN_PROGRESS  # the rest wait unread
                service.release.set()

                def replies():
                    seen = []
                    while len(seen) < count:
                        seen.extend(decoder.feed(sock.recv(65536)))
                    return seen

                answered = await loop.run_in_executor(None, replies)
                assert sorted(msg.seq for msg in answered) == list(range(1, count + 1))
                assert service.most_running == MAX_CALLS_IN_PROGRESS
            finally:
                sock.close()

    arun(main())


def test_a_dead_peer_cancels_only_its_own_calls():
    async def main():
        service = Service()
        service.release = asyncio.Event()
        async with serving(service) as (_daemon, (uri,)):
            loop = asyncio.get_running_loop()
            sock, _decoder = await loop.run_in_executor(None, _raw_invokes, uri, 3, "wait_released", ("dead",))
            async with aio.Proxy(uri) as proxy:
                alive = asyncio.ensure_future(proxy.wait_released("alive"))
                deadline = time.monotonic() + 5
                while service.running < 4 and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
                sock.close()  # the raw client is gone
                while len(service.cancelled) < 3 and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
                assert service.cancelled == ["dead"] * 3
                service.release.set()
                assert await alive == "alive"

    arun(main())


def test_a_cancelled_or_timed_out_call_leaves_the_connection_usable():
    async def main():
        async with serving(Service()) as (_daemon, (uri,)), aio.Proxy(uri) as proxy:
            slow = asyncio.ensure_future(proxy.asleep(0.3, "late"))
            await asyncio.sleep(0.05)
            slow.cancel()
            with pytest.raises(asyncio.CancelledError):
                await slow
            proxy._pyroTimeout = 0.1
            with pytest.raises(TimeoutError):
                await proxy.asleep(0.3, "later")
            proxy._pyroTimeout = None
            connection = proxy._pyroConnection
            await asyncio.sleep(0.4)  # both late replies arrive now, and are dropped
            assert await asyncio.gather(*(proxy.aadd(n, 1) for n in range(50))) == list(range(1, 51))
            assert proxy._pyroConnection is connection

    arun(main())


def test_sequence_numbers_still_waiting_for_a_reply_are_skipped():
    async def main():
        async with serving(Service()) as (_daemon, (uri,)), aio.Proxy(uri) as proxy:
            await proxy._pyroBind()
            slow = asyncio.ensure_future(proxy.asleep(0.3, "slow"))
            await asyncio.sleep(0.05)
            busy = proxy._pyroSeq
            proxy._pyroSeq = busy - 1  # the next call would take the slow call's number
            assert await proxy.aadd(1, 1) == 2
            assert proxy._pyroSeq == busy + 1
            assert await slow == "slow"

    arun(main())


@pytest.mark.parametrize("servertype", ["thread", "multiplex", "asyncio"])
@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_aio_client_with_a_thousand_calls_on_each_server_type(run_daemon, servertype, serializer):
    config.SERVERTYPE = servertype
    config.SERIALIZERS_ACCEPTED = set(SERIALIZERS)
    daemon = Daemon(host="127.0.0.1")
    uri = daemon.register(Service())

    async def main():
        async with aio.Proxy(uri) as proxy:
            proxy._pyroSerializer = serializer
            results = await asyncio.gather(*(proxy.plain(n) for n in range(1000)))
            assert [value for value, _ in results] == list(range(1000))
            with pytest.raises(ZeroDivisionError):
                await proxy.divide(1, 0)
            assert await proxy.answer == 42
            if servertype == "asyncio":  # (async def methods need the asyncio server)
                assert await asyncio.gather(*(proxy.aadd(n, n) for n in range(1000))) == list(range(0, 2000, 2))

    with run_daemon(daemon):
        arun(main())


def test_slow_handshake_hooks_run_in_a_worker_and_hold_only_their_connection():
    class SlowGate(Daemon):
        def validateHandshake(self, conn, data):
            if data == "slow":
                time.sleep(0.5)
            return "welcome"

    async def main():
        async with serving(Service(), daemon_class=SlowGate) as (_daemon, (uri,)):
            async with aio.Proxy(uri) as quick, aio.Proxy(uri) as slow:
                await quick._pyroBind()
                slow._pyroHandshake = "slow"
                pending = asyncio.ensure_future(slow.aadd(1, 1))
                await asyncio.sleep(0.1)
                started = time.monotonic()
                assert await quick.aadd(2, 2) == 4
                assert time.monotonic() - started < 0.3
                assert await pending == 2

    arun(main())


def test_an_asyncio_daemon_combined_with_a_thread_daemon(pyro4, run_daemon):
    config.SERVERTYPE = "asyncio"
    master = Daemon(host="127.0.0.1")
    config.SERVERTYPE = "thread"
    other = Daemon(host="127.0.0.1")
    uri_master = str(master.register(Service()))
    uri_other = str(other.register(Service()))
    master.combine(other)
    try:
        with run_daemon(master), pyro4.Proxy(uri_master) as first, pyro4.Proxy(uri_other) as second:
            for number in range(3):
                assert first.aadd(number, 1) == second.plain(number)[0] + 1
    finally:
        other.close()


def test_a_select_loop_of_your_own_steps_the_server():
    """daemon.sockets / daemon.events(): async methods that wait, and plain ones, are answered."""
    import select

    config.SERVERTYPE = "asyncio"
    daemon = Daemon(host="127.0.0.1")
    uri = daemon.register(Service())
    stop = threading.Event()

    def pump():
        while not stop.is_set():
            readable, _, _ = select.select(daemon.sockets, [], [], 0.02)
            daemon.events(readable)

    loop = threading.Thread(target=pump)
    loop.start()
    try:
        with Proxy(uri) as proxy:
            assert proxy.aadd(1, 2) == 3
            assert proxy.asleep(0.05, "waited") == "waited"
            assert proxy.plain("p")[0] == "p"
            assert list(proxy.anumbers(3)) == [0, 1, 2]
    finally:
        stop.set()
        loop.join(5)
        daemon.close()


class Gate:
    def __init__(self):
        self.opened = threading.Event()
        self.marked = threading.Event()

    @oneway
    def hold(self):
        self.opened.wait(DEADLINE)

    @oneway
    def mark(self):
        self.marked.set()


def test_a_oneway_call_runs_after_its_client_has_gone(run_daemon):
    """A oneway call still waiting for a worker when its client hangs up runs all the same."""
    config.SERVERTYPE = "asyncio"
    config.THREADPOOL_SIZE = 1
    gate = Gate()
    with run_daemon(Daemon(host="127.0.0.1")) as daemon:
        uri = daemon.register(gate)
        with Proxy(uri) as proxy:
            proxy.hold()  # takes the only worker until the gate opens
            proxy.mark()  # waits for that worker
        deadline = time.monotonic() + DEADLINE
        while daemon.transportServer.connections and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not daemon.transportServer.connections  # the server has seen the client go
        assert not gate.marked.is_set()
        gate.opened.set()
        assert gate.marked.wait(DEADLINE)
