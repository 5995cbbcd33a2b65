"""An asyncio server: ``async def`` methods run on the event loop, plain ones in worker threads.

Run it, then ``client.py`` with the uri it prints. It serves until the client asks it to stop.
"""

import asyncio
import time

import pyro_server


class Kitchen:
    """Orders take a while; the loop serves other calls meanwhile."""

    def __init__(self):
        self.served = 0

    async def cook(self, dish, minutes):
        await asyncio.sleep(minutes / 100)  # (a hundredth of a second per minute)
        self.served += 1
        return f"{dish} after {minutes} minutes"

    def weigh(self, grams):
        time.sleep(0.05)  # a blocking call: it runs in a worker thread, the loop goes on
        return grams / 1000

    async def menu(self):
        for dish in ("soup", "stew", "pie"):
            await asyncio.sleep(0)
            yield dish  # an async generator: the client gets an async iterator

    @property
    def dishes_served(self):
        return self.served

    def close_kitchen(self):
        self._pyroDaemon.shutdown()  # (serve() lets this call answer before it returns)
        return "closing"


async def main():
    daemon = pyro_server.Daemon()  # the default settings: serve() runs it on this loop
    print("uri=", daemon.register(Kitchen(), "example.kitchen"), flush=True)
    await daemon.serve()  # until close_kitchen() calls shutdown()
    daemon.close()
    print("kitchen closed", flush=True)


asyncio.run(main())
