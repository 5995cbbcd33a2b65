"""A network cable with latency and loss, in user space: netem's ``delay`` and ``loss`` for kernels
without sch_netem (this machine's has none).

Usage: lossy_wire.py HOST_TAP SWITCH_TAP DELAY_S LOSS SEED LIFETIME_S

Creates two TAP devices in the current network namespace and copies every Ethernet frame
from one to the other, each way held back DELAY_S seconds and dropped with probability LOSS
(as ``tc qdisc add dev X root netem delay ... loss ...`` on both ends of the cable would).
The test then moves HOST_TAP into a host's namespace and puts SWITCH_TAP on the bridge.
Prints ``ready`` once both devices exist, and on SIGTERM (or after LIFETIME_S) the frame
counts: ``passed=N dropped=M``. The kernels on both ends run their real TCP over it.
"""

import collections
import fcntl
import os
import random
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA  # <linux/if_tun.h>
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
#: Larger than any frame a TAP device without offloads hands out (MTU 1500 plus headers).
FRAME_READ_SIZE = 65536


def open_tap(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def main():
    host_name, switch_name, delay, loss, seed, lifetime = sys.argv[1:7]
    delay, loss, lifetime = float(delay), float(loss), float(lifetime)
    rng = random.Random(int(seed))
    host, switch = open_tap(host_name), open_tap(switch_name)
    peer = {host: switch, switch: host}
    # one queue per direction; the delay is constant, so each stays in time order
    queues = {host: collections.deque(), switch: collections.deque()}
    counts = {"passed": 0, "dropped": 0}
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    print("ready", flush=True)
    end = time.monotonic() + lifetime
    while not stopping and time.monotonic() < end:
        now = time.monotonic()
        due = [queue[0][0] for queue in queues.values() if queue]
        wait = min([end - now, 0.5] + [max(0.0, at - now) for at in due])
        try:
            readable, _, _ = select.select([host, switch], [], [], wait)
        except InterruptedError:
            continue
        now = time.monotonic()
        for fd in readable:
            while True:
                try:
                    frame = os.read(fd, FRAME_READ_SIZE)
                except (BlockingIOError, OSError):
                    break
                if rng.random() < loss:
                    counts["dropped"] += 1
                else:
                    queues[peer[fd]].append((now + delay, frame))
        for fd, queue in queues.items():
            while queue and queue[0][0] <= now:
                _, frame = queue.popleft()
                try:
                    os.write(fd, frame)
                    counts["passed"] += 1
                except OSError:  # that end is down: the frame is lost, as on a cut cable
                    counts["dropped"] += 1
    print(f"passed={counts['passed']} dropped={counts['dropped']}", flush=True)


if __name__ == "__main__":
    main()
