"""A daemon for fault tests: `fault_daemon.py [NOFILE_LIMIT]`. Prints `uri= ...` when ready."""

import logging
import resource
import sys
import time

import pyro_server

if len(sys.argv) > 1:
    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
logging.basicConfig(level=logging.ERROR, stream=sys.stdout, format="log: %(message)s")


class Service:
    def echo(self, value):
        return value

    def slow(self, seconds):
        time.sleep(seconds)
        return "finished"

    def big(self, size):
        return b"x" * size


daemon = pyro_server.Daemon(host="127.0.0.1")
print("uri=", daemon.register(Service(), "service"), flush=True)
daemon.requestLoop()
