"""A genuine Pyro4 4.82 name server on 127.0.0.1 (random port), plus Pyro4's
broadcast responder on a random UDP port of 127.0.0.1, run as a subprocess.

Prints ``NSURI <uri>`` and ``BCPORT <port>``, then ``READY``; serves until killed.
"""

import sys

import Pyro4
import Pyro4.naming


def main():
    Pyro4.config.SERIALIZERS_ACCEPTED = {
        "serpent",
        "json",
        "marshal",
        "msgpack",
        "pickle",
    }
    uri, daemon, _ = Pyro4.naming.startNS(host="127.0.0.1", port=0, enableBroadcast=False)
    # startNS never starts a responder on a loopback address; start one ourselves.
    responder = Pyro4.naming.BroadcastServer(uri, bchost="127.0.0.1", bcport=0)
    responder.runInThread()
    print("NSURI", uri)
    print("BCPORT", responder.sock.getsockname()[1])
    print("READY", flush=True)
    try:
        daemon.requestLoop()
    finally:
        responder.close()
        daemon.close()


if __name__ == "__main__":
    sys.exit(main())
