#!/usr/bin/env python3
"""rawhttp.py - sends raw bytes over one TCP connection and reports the
status codes of the responses that come back, for hardening tests.

usage: rawhttp.py IP PORT [TIMEOUT] < request-bytes
Prints the status codes in order, space-separated ("403 200"), then
"closed" if the server closed the connection, or "open" if it timed out
waiting for more. Request bytes are read from stdin as is (use printf).
"""
import re
import socket
import sys
import time

ip, port = sys.argv[1], int(sys.argv[2])
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
data = sys.stdin.buffer.read()
s = socket.create_connection((ip, port), timeout=timeout)
s.sendall(data)
buf = b""
state = "open"
deadline = time.monotonic() + timeout
try:
    while time.monotonic() < deadline:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        chunk = s.recv(65536)
        if not chunk:
            state = "closed"
            break
        buf += chunk
except socket.timeout:
    pass
except ConnectionResetError:
    state = "closed"
codes = re.findall(rb"HTTP/1\.[01] (\d{3}) ", buf)
print(" ".join(c.decode() for c in codes), state)
