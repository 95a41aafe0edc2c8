#!/usr/bin/env python3
"""icmp.py - one bounded ICMP query, for reachability tests (no ping here).

usage: icmp.py IP [TYPE] [TIMEOUT_SECONDS]
Sends one ICMPv4 query (TYPE 8, echo, by default; 13 = timestamp) with a
random identifier and waits for its reply (type 0 or 14, same identifier).
exit 0: answered; 2: timed out (dropped); 1: an error.
"""
import os
import select
import socket
import struct
import sys
import time

ip = sys.argv[1]
qtype = int(sys.argv[2]) if len(sys.argv) > 2 else 8
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
reply = {8: 0, 13: 14}[qtype]


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


ident = int.from_bytes(os.urandom(2), "big")
body = b"sluice-probe" if qtype == 8 else struct.pack("!III", 0, 0, 0)
hdr = struct.pack("!BBHHH", qtype, 0, 0, ident, 1)
pkt = struct.pack("!BBHHH", qtype, 0, checksum(hdr + body), ident, 1) + body
try:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.sendto(pkt, (ip, 0))
    end = time.time() + timeout
    while True:
        left = end - time.time()
        if left <= 0 or not select.select([s], [], [], left)[0]:
            sys.exit(2)
        data, addr = s.recvfrom(2048)
        ihl = (data[0] & 0x0F) * 4
        t, _, _, rid = struct.unpack("!BBHH", data[ihl:ihl + 6])
        if addr[0] == ip and t == reply and rid == ident:
            sys.exit(0)
except OSError as e:
    print("icmp.py: %s" % e, file=sys.stderr)
    sys.exit(1)
