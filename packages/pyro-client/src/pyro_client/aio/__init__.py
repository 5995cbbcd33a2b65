"""pyro_client.aio: Pyro proxies for asyncio programs.

::

    from pyro_client import aio

    async with aio.Proxy("PYRONAME:example.calc") as calc:
        print(await calc.add(1, 2))                       # a remote method
        print(await calc.total)                           # a remote attribute
        await calc._pyroSetAttr("total", 0)               # setting one
        results = await asyncio.gather(*(calc.add(i, i) for i in range(1000)))  # 1000 calls in flight

Calls from many tasks on one proxy share its connection and are all in flight at
once; the replies are matched by sequence number. A call that times out
(``_pyroTimeout``) or whose task is cancelled is dropped and the connection goes
on. The names are the sync API's (``pyro_client.Proxy``); what does I/O is awaited.
Not imported by ``import pyro_client``: a thin client does not load asyncio.
"""

from .batch import BatchProxy, batch
from .naming import locateNS, resolve
from .proxy import Proxy
from .streams import AsyncStreamResultIterator

__all__ = ["Proxy", "BatchProxy", "batch", "locateNS", "resolve", "AsyncStreamResultIterator"]
