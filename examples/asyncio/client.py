"""The asyncio client: many calls at once on one proxy, answered as they are done."""

import asyncio
import sys
import time

from pyro_client import aio


async def main(uri):
    async with aio.Proxy(uri) as kitchen:
        started = time.monotonic()
        orders = [kitchen.cook("pasta", 30), kitchen.cook("toast", 5), kitchen.cook("rice", 20)]
        for done in asyncio.as_completed(orders):  # all three in flight on one connection
            print("ready:", await done)
        print(f"three orders in {time.monotonic() - started:.1f} s, not {0.55:.2f} s one after the other")
        weights = await asyncio.gather(*(kitchen.weigh(grams) for grams in (250, 500, 750)))
        print("weights:", weights)
        print("menu:", [dish async for dish in await kitchen.menu()])
        print("dishes served:", await kitchen.dishes_served)  # a remote attribute
        await kitchen.close_kitchen()


asyncio.run(main(sys.argv[1]))
