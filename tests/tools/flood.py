#!/usr/bin/env python3
"""flood.py - many short connection attempts, bounded in count and time.

usage: flood.py tcp|udp IP COUNT [SECONDS] [RATE]
TCP: non-blocking connects to ports 1024.. (each a new flow), closed at once.
UDP: one datagram per port. Prints how many were sent.
"""
import socket
import sys
import time

proto, ip, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
limit = float(sys.argv[4]) if len(sys.argv) > 4 else 20.0
rate = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
start = time.monotonic()
deadline = start + limit
sent = 0
if proto == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    while sent < count and time.monotonic() < deadline:
        if rate and sent > rate * (time.monotonic() - start):
            time.sleep(0.0005)
            continue
        try:
            s.sendto(b"x", (ip, 1024 + sent % 60000))
            sent += 1
        except BlockingIOError:
            time.sleep(0.001)
else:
    while sent < count and time.monotonic() < deadline:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        try:
            s.connect((ip, 1024 + sent % 60000))
        except (BlockingIOError, OSError):
            pass
        s.close()
        sent += 1
print(sent)
