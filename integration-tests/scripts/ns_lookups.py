"""Looks NAME up through the name servers that PYRO_NS_HOST lists, in phases:
`ns_lookups.py NAME COUNT [COUNT ...]`. Each phase does COUNT lookups of PYRONAME:NAME,
printing `lookup SECONDS ANSWER` for each (ANSWER is the uri found, or `error: ...`), then
`done`; the next phase starts on SIGUSR1 (the test changes the network in between).
Exits if no SIGUSR1 comes within PHASE_WAIT seconds."""

import signal
import sys
import time

import pyro_client

PHASE_WAIT = 60.0


def main():
    name, *phases = sys.argv[1:]
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})  # queued until waited for
    for number, count in enumerate(phases):
        if number and signal.sigtimedwait({signal.SIGUSR1}, PHASE_WAIT) is None:
            return 1
        for _ in range(int(count)):
            start = time.perf_counter()
            try:
                answer = str(pyro_client.resolve(f"PYRONAME:{name}"))
            except pyro_client.NamingError as exc:
                answer = f"error: {exc}"
            print(f"lookup {time.perf_counter() - start:.6f} {answer}", flush=True)
        print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
