"""A daemon inside your own select() loop, using daemon.sockets and daemon.events()."""

import select

import pyro_server


class Counter:
    def __init__(self):
        self.count = 0

    def increment(self):
        self.count += 1
        return self.count

    def stop(self):
        global running
        running = False


daemon = pyro_server.Daemon()
print("uri=", daemon.register(Counter(), "example.counter"), flush=True)
running = True
while running:
    readable, _, _ = select.select(daemon.sockets, [], [], 0.5)
    if readable:
        daemon.events(readable)
    # ... here your own program does its other work ...
daemon.close()
print("event loop ended", flush=True)
