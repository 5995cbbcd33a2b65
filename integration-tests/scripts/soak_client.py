"""Calls the soak server's Counter: `soak_client.py URI THREADS CALLS`: THREADS threads,
each with its own proxy, make CALLS calls of record(call_id) each, with the COMMTIMEOUT and
MAX_RETRIES of the environment; every result is checked. Then the server's own count of each
call is compared with what was sent. Prints one line `soak {json}` with the counts:
calls, ok, wrong, failed, retries (the proxy's re-sends), lost (calls the server never got),
duplicated (calls it got more than once), seconds, and the per-call p50/p99 latency."""

import json
import logging
import statistics
import sys
import threading
import time

import pyro_client


class RetryCounter(logging.Handler):
    """Counts the proxy's "retrying call" log records: each is one re-sent call."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record):
        if record.msg.startswith("retrying call"):
            self.count += 1


def caller(uri, thread, calls, results, latencies):
    with pyro_client.Proxy(uri) as proxy:
        for number in range(calls):
            call_id = f"{thread}-{number}"
            start = time.perf_counter()
            try:
                answer = proxy.record(call_id)
                results[call_id] = "ok" if answer == call_id[::-1] else "wrong"
            except pyro_client.errors.PyroError as exc:
                results[call_id] = f"failed: {exc!r}"
            latencies.append(time.perf_counter() - start)


def main():
    uri, threads, calls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    retries = RetryCounter()
    logger = logging.getLogger("pyro.client")
    logger.addHandler(retries)
    logger.setLevel(logging.DEBUG)
    results, latencies = {}, []
    start = time.monotonic()
    workers = [
        threading.Thread(target=caller, args=(uri, thread, calls, results, latencies)) for thread in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.monotonic() - start
    with pyro_client.Proxy(uri) as proxy:
        delivered = proxy.deliveries()
    sent = [f"{thread}-{number}" for thread in range(threads) for number in range(calls)]
    outcomes = [results.get(call_id, "missing") for call_id in sent]
    summary = {
        "calls": len(sent),
        "ok": outcomes.count("ok"),
        "wrong": outcomes.count("wrong"),
        "failed": [o for o in outcomes if o not in ("ok", "wrong")],
        "retries": retries.count,
        "lost": sum(1 for call_id in sent if delivered.get(call_id, 0) == 0),
        "duplicated": sum(1 for count in delivered.values() if count > 1),
        "unknown": sorted(set(delivered) - set(sent)),
        "seconds": round(seconds, 3),
        "p50": round(statistics.median(latencies), 4),
        "p99": round(statistics.quantiles(latencies, n=100, method="inclusive")[98], 4),
    }
    print("soak", json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
