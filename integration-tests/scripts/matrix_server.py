"""The interop matrix's server: `matrix_server.py ours|pyro4`. Publishes the scenario
objects on 127.0.0.1 and prints `location= host:port` when ready."""

import sys
import threading

KIND = sys.argv[1]
if KIND == "ours":
    import pyro_server as pyro

    pyro.config.SERIALIZERS_ACCEPTED = {"serpent", "json", "marshal", "msgpack", "pickle"}
else:
    import Pyro4 as pyro

    pyro.config.REQUIRE_EXPOSE = False
    pyro.config.SERIALIZERS_ACCEPTED = {"serpent", "json", "marshal", "msgpack", "pickle"}
pyro.config.DETAILED_TRACEBACK = False


class Calc:
    def __init__(self):
        self.fired = threading.Event()
        self._value = 1

    def add(self, a, b):
        return a + b

    def kw(self, a, b=2, *, c=3):
        return [a, b, c]

    def divide(self, a, b):
        return a / b

    @pyro.oneway
    def fire(self):
        self.fired.set()

    def was_fired(self):
        return self.fired.wait(5)

    @property
    def value(self):
        return self._value

    @value.setter
    def value(self, new):
        self._value = new

    def gen(self, n):
        yield from range(n)

    def echo(self, data):
        return data

    def make_thing(self, name):
        thing = Thing(name)
        self._pyroDaemon.register(thing)
        return thing


class Thing:
    def __init__(self, name):
        self.name = name

    def whoami(self):
        return self.name


class Identity:
    def me(self):
        return id(self)


Session = pyro.behavior(instance_mode="session")(type("Session", (Identity,), {}))
Single = pyro.behavior(instance_mode="single")(type("Single", (Identity,), {}))
Percall = pyro.behavior(instance_mode="percall")(type("Percall", (Identity,), {}))

daemon = pyro.Daemon(host="127.0.0.1")
daemon.register(Calc(), "calc")
for cls in (Session, Single, Percall):
    daemon.register(cls, cls.__name__.lower())
print("location=", daemon.locationStr, flush=True)
daemon.requestLoop()
