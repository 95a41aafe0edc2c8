#!/usr/bin/env python3
"""probe.py - one bounded connection attempt, for reachability tests.

usage: probe.py tcp|udp IP PORT [TIMEOUT_SECONDS]
exit 0: connected (TCP) or got an answer (UDP); 1: refused or reset;
2: timed out (the packet was dropped).
"""
import socket
import sys

proto, ip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
s = socket.socket(socket.AF_INET, kind)
s.settimeout(timeout)
try:
    if proto == "tcp":
        s.connect((ip, port))
        s.sendall(b"probe\n")
        s.recv(100)
    else:
        s.sendto(b"probe", (ip, port))
        s.recvfrom(100)
    sys.exit(0)
except socket.timeout:
    sys.exit(2)
except OSError:
    sys.exit(1)
