"""A genuine Pyro4 4.82 daemon with test objects, run as a subprocess by the tests.

Prints ``URI <name> <uri>`` for every registered object, then ``READY``, and
serves until killed (or until a test makes it crash on purpose).

    python pyro4_server.py [--port N] [--hmac KEY] [--ssl CERT KEY] [--no-streaming] [--connected-fd FD]
"""

import argparse
import os
import socket
import sys
import threading
import time

import Pyro4
import Pyro4.core
from Pyro4 import current_context, errors

Pyro4.config.SERIALIZERS_ACCEPTED = {"serpent", "json", "marshal", "msgpack", "pickle"}


@Pyro4.expose
class Thing:
    """Returned by Calc.make_thing(): registered, so it travels as an autoproxy."""

    def __init__(self, name):
        self._name = name

    def get_name(self):
        return self._name


@Pyro4.expose
class Counter:
    """An iterator object: its __iter__ returns itself (as an autoproxy)."""

    def __init__(self):
        self._count = 0

    def reset(self, limit):
        self._count = 0
        self._limit = limit

    def __iter__(self):
        return self

    def __next__(self):
        if self._count >= self._limit:
            raise StopIteration
        self._count += 1
        return self._count


@Pyro4.expose
class Container:
    """Exposes container dunders."""

    def __init__(self):
        self.reset()

    def reset(self):
        self._items = ["a", "b", "c"]

    def __len__(self):
        return len(self._items)

    def __getitem__(self, index):
        return self._items[index]

    def __setitem__(self, index, value):
        self._items[index] = value

    def __delitem__(self, index):
        del self._items[index]

    def __contains__(self, item):
        return item in self._items

    def __iter__(self):
        return iter(list(self._items))

    def __sizeof_items__(self):
        """A dunder of its own (the Proxy class has no method of that name)."""
        return len(self._items)


class Calc:
    def __init__(self, daemon):
        self._daemon = daemon
        self._value = 42
        self._fired = []
        self._fired_event = threading.Event()
        self._things = {}

    @Pyro4.expose
    def add(self, a, b):
        return a + b

    @Pyro4.expose
    def divide(self, a, b):
        return a / b

    @Pyro4.expose
    def echo(self, value):
        return value

    @Pyro4.expose
    def echo_args(self, *args, **kwargs):
        return [list(args), kwargs]

    @Pyro4.expose
    def text(self, size):
        return "x" * size

    @Pyro4.expose
    def sleep(self, seconds):
        time.sleep(seconds)
        return seconds

    @Pyro4.expose
    @Pyro4.oneway
    def fire(self, number):
        time.sleep(0.2)  # a oneway caller must not wait for this
        self._fired.append(number)

    @Pyro4.expose
    def fired(self):
        return list(self._fired)

    @Pyro4.expose
    def generator(self, count):
        for number in range(count):
            yield number

    @Pyro4.expose
    def failing_generator(self):
        yield 1
        raise ValueError("generator broke")

    @Pyro4.expose
    def fail(self, message):
        raise ValueError(message)

    @Pyro4.expose
    def fail_naming(self, message):
        raise errors.NamingError(message)

    @Pyro4.expose
    def make_thing(self, name):
        thing = self._things.get(name)
        if thing is None:
            thing = self._things[name] = Thing(name)
            self._daemon.register(thing)
        return thing

    @Pyro4.expose
    def get_counter(self, limit):
        counter = self._daemon.counter
        counter.reset(limit)
        return counter

    @Pyro4.expose
    def context_info(self):
        corr = current_context.correlation_id
        current_context.response_annotations["XTRA"] = b"extra"
        annotations = {key: value.decode("latin-1") for key, value in current_context.annotations.items()}
        return {
            "correlation_id": str(corr) if corr else None,
            "annotations": annotations,
        }

    @Pyro4.expose
    def process_blob(self, blob):
        return [type(blob).__name__, blob.info, blob.deserialized()]

    @Pyro4.expose
    def crash(self):
        os._exit(3)

    @Pyro4.expose
    def pid(self):
        return os.getpid()

    @Pyro4.expose
    @property
    def value(self):
        return self._value

    @value.setter
    def value(self, new_value):
        self._value = new_value

    @Pyro4.expose
    @property
    def readonly(self):
        return "fixed"


class Hidden:
    """Exposes nothing: connecting to it fails (Pyro4 refuses such proxies)."""

    def secret(self):
        return 1


def serve_connected_socket(fd):
    sock = socket.socket(fileno=fd)
    daemon = Pyro4.Daemon(connected_socket=sock)
    daemon.register(Calc(daemon), "calc")
    print("READY", flush=True)
    daemon.requestLoop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--hmac")
    parser.add_argument("--ssl", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--no-streaming", action="store_true")
    parser.add_argument("--connected-fd", type=int, help="serve one inherited, connected socket")
    args = parser.parse_args()
    if args.connected_fd is not None:
        return serve_connected_socket(args.connected_fd)
    if args.no_streaming:
        Pyro4.config.ITER_STREAMING = False
    if args.ssl:
        Pyro4.config.SSL = True
        Pyro4.config.SSL_SERVERCERT, Pyro4.config.SSL_SERVERKEY = args.ssl
    daemon = Pyro4.Daemon(host="127.0.0.1", port=args.port)
    if args.hmac:
        daemon._pyroHmacKey = args.hmac.encode()
    calc = Calc(daemon)
    daemon.counter = Counter()
    uris = {
        "calc": daemon.register(calc, "calc"),
        "counter": daemon.register(daemon.counter, "counter"),
        "container": daemon.register(Container(), "container"),
        "hidden": daemon.register(Hidden(), "hidden"),
    }
    for name, uri in uris.items():
        print("URI", name, uri)
    print("READY", flush=True)
    daemon.requestLoop()


if __name__ == "__main__":
    sys.exit(main())
