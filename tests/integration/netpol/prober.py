#!/usr/bin/env python3
"""prober.py - one probe round from one pod, every target at once.

usage: prober.py TIMEOUT NAME=IP... [-- SPEC...]
SPEC is PROTO/PORT (default: tcp/80 tcp/81 udp/80 udp/81).

Probes every NAME x SPEC concurrently (one thread each), each bounded by
TIMEOUT seconds, and prints one line per probe: "NAME PROTO/PORT R" where R
is "." (connected and answered), "X" (timed out: dropped) or "!" (refused,
reset or another error: never expected in the matrix tests).
"""
import socket
import sys
import threading
import time

timeout = float(sys.argv[1])
args = sys.argv[2:]
specs = ["tcp/80", "tcp/81", "udp/80", "udp/81"]
if "--" in args:
    i = args.index("--")
    args, specs = args[:i], args[i + 1:]
targets = [a.split("=", 1) for a in args]
results = {}


def probe(name, ip, spec):
    proto, port = spec.split("/")
    port = int(port)
    deadline = time.monotonic() + timeout
    r = "!"
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    try:
        if proto == "tcp":
            s.settimeout(timeout)
            s.connect((ip, port))
            s.settimeout(max(0.05, deadline - time.monotonic()))
            s.sendall(b"probe\n")
            r = "." if s.recv(100) else "!"
        else:
            # two datagrams, so that one lost packet is not read as a drop
            s.sendto(b"probe", (ip, port))
            s.settimeout(min(timeout / 2, 0.4))
            try:
                s.recvfrom(100)
                r = "."
            except socket.timeout:
                s.sendto(b"probe", (ip, port))
                s.settimeout(max(0.05, deadline - time.monotonic()))
                s.recvfrom(100)
                r = "."
    except socket.timeout:
        r = "X"
    except OSError:
        r = "!"
    finally:
        s.close()
    results[(name, spec)] = r


threads = [threading.Thread(target=probe, args=(n, ip, sp)) for n, ip in targets for sp in specs]
for t in threads:
    t.start()
for t in threads:
    t.join()
for n, _ in targets:
    for sp in specs:
        print("%s %s %s" % (n, sp, results.get((n, sp), "!")))
