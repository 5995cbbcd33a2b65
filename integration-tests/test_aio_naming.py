"""The name server looked up and used from asyncio: ours (on the thread and the asyncio server
type, its broadcast responder combined into the loop) and Pyro4 4.82's, found directly and by
broadcast, with an object served by ``await daemon.serve()`` in the same program."""

from __future__ import annotations

import asyncio
import socket

import pytest

from pyro_client import NamingError, aio
from pyro_protocol.config import config
from pyro_server import Daemon

# every test here runs on asyncio's own event loop and on uvloop's (the root conftest.py)
pytestmark = pytest.mark.usefixtures("event_loop_kind")


class Greeter:
    async def greet(self, name):
        await asyncio.sleep(0)
        return f"hello {name}"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(params=["ours-thread", "ours-asyncio", "pyro4"])
def name_server(request, spawn):
    kind, _, servertype = request.param.partition("-")
    bcport = _free_udp_port()
    env = {"PYRO_SERVERTYPE": servertype} if servertype else {}
    ns = spawn(["integration-tests/scripts/ns_server.py", kind, str(bcport)], env=env)
    uri = ns.wait_for("URI =").split("=", 1)[1].strip()
    host, port = uri.split("@", 1)[1].rsplit(":", 1)
    return host, int(port), bcport


def test_name_server_from_asyncio(name_server):
    host, port, bcport = name_server
    config.NS_HOST, config.NS_PORT = host, port

    async def main():
        daemon = Daemon(host="127.0.0.1")
        uri = daemon.register(Greeter())
        serving = asyncio.create_task(daemon.serve())
        try:
            async with await aio.locateNS() as ns:
                await ns.register("aio.greeter", uri, metadata={"role:greeter"})
                assert str(await ns.lookup("aio.greeter")) == str(uri)
            async with aio.Proxy("PYRONAME:aio.greeter") as greeter:
                assert await greeter.greet("name") == "hello name"
            async with aio.Proxy("PYROMETA:role:greeter") as greeter:
                replies = await asyncio.gather(*(greeter.greet(n) for n in range(200)))
                assert replies == [f"hello {n}" for n in range(200)]
            # found by broadcast (NS_HOST names nobody who answers)
            config.NS_HOST, config.NS_BCPORT, config.BROADCAST_ADDRS = "127.0.0.2", bcport, "127.0.0.1"
            async with await aio.locateNS() as ns:
                assert ns._pyroUri.port == port
                await ns.remove("aio.greeter")
            with pytest.raises(NamingError):
                await aio.resolve("PYRONAME:aio.greeter")
        finally:
            daemon.shutdown()
            await serving
            daemon.close()

    try:
        asyncio.run(asyncio.wait_for(main(), 60))
    finally:
        config.reset()
