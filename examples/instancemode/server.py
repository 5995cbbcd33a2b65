"""The three instance modes of servers.rst, and an instance_creator."""

import pyro_server


@pyro_server.expose(instance_mode="session")
class SessionThing:
    def whoami(self):
        return id(self)


@pyro_server.expose(instance_mode="single")
class SingleThing:
    def whoami(self):
        return id(self)


@pyro_server.expose(instance_mode="percall")
class PercallThing:
    def whoami(self):
        return id(self)


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
