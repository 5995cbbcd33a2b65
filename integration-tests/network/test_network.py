"""Name servers and calls on a real network of namespaces (see conftest.py): UDP broadcast
discovery across a bridge with no default route, failover when a name server's host is cut
off, and a soak over a link with latency and loss. Each prints its numbers (``pytest -s``)."""

from __future__ import annotations

import json
import signal
import statistics
import time

from pyro_client import naming

#: What a name server prints when it serves, then its uri.
NS_READY = "URI = "
#: Seconds each attempt of the failover client gets (PYRO_COMMTIMEOUT), and so the bound
#: of one lookup that finds its first name server gone.
ATTEMPT = 0.5


def start_nameserver(lab, host, *options):
    """pyro-ns on ``host`` (a random port; the broadcast responder on the default 9091, which
    is what a client without configuration asks: the namespace is private, nothing collides)."""
    process = lab.start(host, ["-m", "pyro_naming", "-n", host.address, "-p", "0", *options])
    uri = process.wait_for(NS_READY).split(NS_READY, 1)[1]
    return process, uri


def run(lab, host, args, env=None, timeout=30.0):
    """Run ``python ARGS`` on ``host`` to its end; its output."""
    process = lab.start(host, args, env)
    deadline = time.monotonic() + timeout
    while process.popen.poll() is None:
        assert time.monotonic() < deadline, f"{args} did not finish in {timeout} s:\n{process.text}"
        time.sleep(0.02)
    process.reader.join(5)
    return process.popen.returncode, process.text


def test_broadcast_finds_the_name_server_across_the_bridge_without_a_route(lab, numbers):
    server, client = lab.add_host("ns"), lab.add_host("client")
    assert "default" not in lab.ip("-n", client.netns, "route")  # no default route: 255.255.255.255 fails
    nameserver, uri = start_nameserver(lab, server)
    code, output = run(lab, client, ["integration-tests/scripts/ns_locate.py"])
    assert code == 0, output
    _, seconds, located = output.split()
    assert located == uri
    assert float(seconds) < 0.5  # the first round's answer, not a later round or a fallback
    numbers(f"broadcast discovery across the bridge: {float(seconds) * 1000:.1f} ms")

    nameserver.stop()
    code, output = run(lab, client, ["integration-tests/scripts/ns_locate.py"])
    assert code == 1
    assert "sending to <broadcast> failed: Network is unreachable" in output
    assert f"broadcast to <broadcast>, 0.0.0.0, {server.address.rsplit('.', 1)[0]}.255 port 9091" in output
    assert 2.1 <= float(output.split()[1]) < 5  # three rounds of 0.7 s, then the direct try


def test_interface_broadcast_addresses(lab):
    host = lab.add_host("host")
    # a second interface whose address has no broadcast address set: address | ~netmask
    lab.ip("-n", host.netns, "link", "add", "extra", "type", "veth", "peer", "name", "extrapeer")
    lab.ip("-n", host.netns, "addr", "add", "192.0.2.1/25", "dev", "extra")
    lab.ip("-n", host.netns, "link", "set", "extra", "up")
    code, output = run(
        lab, host, ["-c", "from pyro_client import naming; print(naming._interface_broadcast_addresses())"]
    )
    assert code == 0, output
    assert output.strip() == "['10.77.0.255', '192.0.2.127']"  # lo cannot broadcast; extrapeer is down


def test_failover_when_a_name_servers_host_is_cut_off(lab, numbers):
    first, second, client = lab.add_host("ns1"), lab.add_host("ns2"), lab.add_host("client")
    locations = []
    for host in (first, second):
        _, uri = start_nameserver(lab, host, "-x")
        location = uri.split("@", 1)[1]
        locations.append(location)
        ns_host, ns_port = location.split(":")
        # each name server says a different uri: the answer shows which one answered
        code, output = run(
            lab,
            host,
            ["-m", "pyro_naming.nsc", "-n", ns_host, "-p", ns_port, "register", "lab.thing", f"PYRO:thing@{location}"],
        )
        assert code == 0, output
    env = {"PYRO_NS_HOST": ",".join(locations), "PYRO_COMMTIMEOUT": str(ATTEMPT)}
    lookups = lab.start(client, ["integration-tests/scripts/ns_lookups.py", "lab.thing", "10", "50", "1"], env)

    read = 0

    def phase():
        nonlocal read
        lookups.wait_for("done", timeout=60)
        lines = [line.split(" ", 2) for line in lookups.output[read:] if line.startswith("lookup")]
        read = len(lookups.output)
        return [(float(seconds), answer.strip()) for _, seconds, answer in lines]

    assert {answer for _, answer in phase()} == {f"PYRO:thing@{locations[0]}"}

    lab.unplug(first)
    lookups.popen.send_signal(signal.SIGUSR1)
    after_cut = phase()
    assert {answer for _, answer in after_cut} == {f"PYRO:thing@{locations[1]}"}  # every lookup answered
    times = sorted(seconds for seconds, _ in after_cut)
    assert ATTEMPT <= after_cut[0][0] < ATTEMPT + 1  # the first waits out one attempt on the gone host
    assert max(seconds for seconds, _ in after_cut[1:]) < ATTEMPT  # the others go to the one that answered
    p50, p99 = statistics.median(times), statistics.quantiles(times, n=100, method="inclusive")[98]
    numbers(
        f"failover, {len(times)} lookups after the host of the first name server was cut off "
        f"(COMMTIMEOUT {ATTEMPT} s): first {after_cut[0][0] * 1000:.0f} ms, "
        f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms"
    )

    lab.unplug(second)
    lookups.popen.send_signal(signal.SIGUSR1)
    ((seconds, answer),) = phase()
    assert answer.startswith("error: Failed to locate the nameserver; tried ")
    for location in reversed(locations):  # the one that answered last first
        assert f"{location} (connecting to {location} timed out)" in answer
    assert answer.index(locations[1]) < answer.index(locations[0])
    assert "; broadcast to <broadcast>, 0.0.0.0, 10.77.0.255 port 9091 (no answer" in answer  # then asked
    broadcast = naming.BROADCAST_ROUNDS * naming.BROADCAST_TIMEOUT
    assert 2 * ATTEMPT + broadcast <= seconds < 2 * ATTEMPT + broadcast + 1


#: The soak: calls, over THREADS connections, through a link that delays each frame by
#: DELAY s and loses LOSS of them, each way.
SOAK_CALLS, SOAK_THREADS, DELAY, LOSS = 200, 8, 0.1, 0.05
#: A call's timeout and re-sends: longer than TCP takes to get a segment through after a
#: few losses in a row (its retransmission timeout doubles from about 0.3 s), so a call is
#: never re-sent while its first copy is still on its way.
SOAK_ENV = {"PYRO_COMMTIMEOUT": "10", "PYRO_MAX_RETRIES": "2"}


def test_soak_over_latency_and_loss(lab, numbers):
    server = lab.add_host("server", delay=DELAY, loss=LOSS, seed=17)
    client = lab.add_host("client")
    _, ns_uri = start_nameserver(lab, server, "-x")
    ns_port = ns_uri.rsplit(":", 1)[1]
    daemon = lab.start(server, ["integration-tests/scripts/soak_server.py", server.address, server.address, ns_port])
    daemon.wait_for("registered")
    uri = f"PYRONAME:soak.counter@{server.address}:{ns_port}"
    started = time.monotonic()
    code, output = run(
        lab,
        client,
        ["integration-tests/scripts/soak_client.py", uri, str(SOAK_THREADS), str(SOAK_CALLS // SOAK_THREADS)],
        SOAK_ENV,
        timeout=60,
    )
    elapsed = time.monotonic() - started
    assert code == 0, output
    summary = json.loads(output.split("soak ", 1)[1])
    server.wire.stop()
    passed, dropped = (int(part.split("=")[1]) for part in server.wire.text.split()[-2:])
    numbers(
        f"soak over {DELAY * 1000:.0f} ms and {LOSS:.0%} loss each way: {summary['calls']} calls in "
        f"{summary['seconds']} s, {summary['ok']} ok, {summary['retries']} retries, lost {summary['lost']}, "
        f"duplicated {summary['duplicated']}; call p50 {summary['p50'] * 1000:.0f} ms, p99 "
        f"{summary['p99'] * 1000:.0f} ms; frames through the cable {passed}, dropped {dropped}"
    )
    assert summary["calls"] == SOAK_CALLS
    assert summary["ok"] == SOAK_CALLS, summary["failed"]
    assert (summary["wrong"], summary["lost"], summary["duplicated"], summary["unknown"]) == (0, 0, 0, [])
    assert summary["p50"] >= 2 * DELAY  # the delay was real: a call is at least one round trip
    assert dropped > 0  # and so was the loss
    assert elapsed < 60
