"""A service with a oneway method: the caller does not wait for it."""

import threading
import time

import pyro_server


class PyroService:
    def __init__(self):
        self.done = threading.Event()

    def normal_method(self, args):
        return args * 2

    @pyro_server.oneway
    def oneway_method(self, seconds):
        time.sleep(seconds)  # the client is not waiting for this
        self.done.set()

    def oneway_finished(self):
        return self.done.wait(10)


daemon = pyro_server.Daemon()
print("uri=", daemon.register(PyroService(), "example.oneway"), flush=True)
daemon.requestLoop()
