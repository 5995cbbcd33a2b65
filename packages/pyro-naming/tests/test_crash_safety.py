"""A name server killed with SIGKILL while clients register from several threads keeps every
registration it acknowledged: after a restart on the same storage (SQLite, dbm, PostgreSQL)
each one is there, with its uri and metadata."""

import signal
import threading

import pytest

from pyro_client import Proxy

CLIENTS = 4
#: Kill rounds: each restart must also open what the previous kill left behind.
ROUNDS = 2
#: The kill comes once the clients together have this many acknowledgements (so registrations
#: are in flight at that moment); each client stops after MAX_PER_CLIENT whatever happens.
KILL_AFTER = 40
MAX_PER_CLIENT = 2000
WAIT = 20.0


def register_until_killed(uri, round_number, acknowledged, lock, enough):
    """CLIENTS threads, each with its own proxy, registering until the name server dies."""

    def client(number):
        with Proxy(uri) as ns:
            ns._pyroTimeout = WAIT
            for i in range(MAX_PER_CLIENT):
                name = f"r{round_number}.c{number}.{i}"
                target = f"PYRO:obj{i}@127.0.0.1:{6000 + number}"
                lease = 3600 if i % 3 == 0 else None  # some leased, some not: both kinds must survive
                try:
                    ns.register(name, target, metadata={f"client{number}", f"n{i}"}, lease=lease)
                except Exception:  # the kill: the connection is gone
                    return
                with lock:
                    acknowledged[name] = (target, sorted({f"client{number}", f"n{i}"}))
                    if len(acknowledged) >= KILL_AFTER * (round_number + 1):
                        enough.set()

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    return threads


@pytest.mark.parametrize("kind", ["sql", "dbm", "postgresql"])
def test_acknowledged_registrations_survive_sigkill(ns_process, spec_of, kind):
    spec = spec_of(kind)
    acknowledged: dict[str, tuple[str, list[str]]] = {}
    lock = threading.Lock()
    for round_number in range(ROUNDS):
        process = ns_process("-n", "127.0.0.1", "-p", "0", "-x", "-s", spec)
        enough = threading.Event()
        threads = register_until_killed(process.uri, round_number, acknowledged, lock, enough)
        assert enough.wait(WAIT), f"too few registrations before the kill: {len(acknowledged)}"
        assert process.stop(signal.SIGKILL) == -signal.SIGKILL
        for thread in threads:
            thread.join(timeout=WAIT)
        assert not any(thread.is_alive() for thread in threads)

    survivor = ns_process("-n", "127.0.0.1", "-p", "0", "-x", "-s", spec)
    with Proxy(survivor.uri) as ns:
        listed = ns.list(prefix="r", return_metadata=True)
    with lock:
        missing = {name for name in acknowledged if name not in listed}
        assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged registrations lost"
        for name, (uri, metadata) in acknowledged.items():
            assert tuple(listed[name]) == (uri, metadata)
    assert survivor.stop() == 0
