"""The three instance modes of the servers chapter (docs/servers.md), and an instance_creator."""

import itertools

import pyro_server

# Each instance gets the next number: id() would not tell instances apart, because a
# freed instance's address is often reused by the next one (percall mode).
serial_numbers = itertools.count(1)


@pyro_server.expose(instance_mode="session")
class SessionThing:
    def __init__(self):
        self.number = next(serial_numbers)

    def whoami(self):
        return self.number


@pyro_server.expose(instance_mode="single")
class SingleThing:
    def __init__(self):
        self.number = next(serial_numbers)

    def whoami(self):
        return self.number


@pyro_server.expose(instance_mode="percall")
class PercallThing:
    def __init__(self):
        self.number = next(serial_numbers)

    def whoami(self):
        return self.number


class Greeter:
    def __init__(self, greeting):
        self.greeting = greeting

    def greet(self, name):
        return f"{self.greeting}, {name}"


Greeter = pyro_server.behavior(instance_mode="single", instance_creator=lambda cls: cls("Hello"))(Greeter)

daemon = pyro_server.Daemon()
for name, cls in [("session", SessionThing), ("single", SingleThing), ("percall", PercallThing), ("greeter", Greeter)]:
    print(f"{name}=", daemon.register(cls, f"example.{name}"), flush=True)
print("ready", flush=True)
daemon.requestLoop()
