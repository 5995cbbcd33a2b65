"""The demo's server: publishes a few objects that show what Pyro does, via the name server."""

import threading

import pyro_server
from pyro_server import behavior, expose, oneway


class Thing:
    """The Thing of the servers chapter (docs/servers.md)."""

    def method(self, arg):
        return arg * 2


class Worker:
    def __init__(self):
        self.jobs_done = 0
        self.finished = threading.Event()

    @oneway
    def start_job(self, seconds):
        self.finished.wait(seconds)  # the caller does not wait for this
        self.jobs_done += 1

    def done(self):
        return self.jobs_done


@behavior(instance_mode="session")
class SessionCounter:
    def __init__(self):
        self.count = 0

    def increment(self):
        self.count += 1
        return self.count


@expose(instance_mode="single")
class SingleCounter(SessionCounter):
    def increment(self):
        self.count += 1
        return self.count


@expose(instance_mode="percall")
class PercallCounter(SessionCounter):
    def increment(self):
        self.count += 1
        return self.count


class Shop:
    """Hands out a registered basket per call: clients get it as a proxy (autoproxy)."""

    def new_basket(self, owner):
        basket = Basket(owner)
        self._pyroDaemon.register(basket)
        return basket

    def countdown(self, start):
        """A generator: the client receives a remote iterator."""
        yield from range(start, 0, -1)

    def divide(self, a, b):
        return a / b


class Basket:
    def __init__(self, owner):
        self.owner = owner
        self.items = []

    def add(self, item):
        self.items.append(item)
        return f"{self.owner}'s basket: {', '.join(self.items)}"


pyro_server.Daemon.serveSimple(
    {
        Thing(): "demo.thing",
        Worker(): "demo.worker",
        SessionCounter: "demo.counter.session",
        SingleCounter: "demo.counter.single",
        PercallCounter: "demo.counter.percall",
        Shop(): "demo.shop",
    },
    host="127.0.0.1",
    ns=True,
    verbose=False,
)
