#!/usr/bin/env python3
"""podserver.py - a small server for test pods.

Listens on the given TCP ports (answers HTTP: 200 with a body naming the pod
and echoing method and path; a non-HTTP line is echoed back) and UDP ports
(echoes each datagram prefixed with the pod name). Every request it receives
is appended to a log file, so tests can assert what reached the backend.
Two kinds of path answer differently: a target with "headers" in it (and
/auth-header-required...) gets the request's header lines, as they arrived,
added to the body; /auth-header-required... answers 401 without an
Authorization field (as the Cilium CLI's echo server does).

A tls:PORT:CERTDIR spec serves the same HTTP over TLS with CERTDIR/tls.crt
and tls.key; its log lines start with "tls:PORT <version> sni=<name>
reused=0|1" (the server's own record of the TLS session, SNI "-" when none
was sent, reused=1 for a resumed session).

usage: podserver.py NAME LOGFILE tcp:PORT|udp:PORT|tls:PORT:CERTDIR ...
"""
import os
import socket
import sys
import threading

NAME, LOG = sys.argv[1], sys.argv[2]
lock = threading.Lock()


def log(line):
    with lock:
        with open(LOG, "a") as f:
            f.write(line + "\n")


def read_chunked(conn, buf):
    """Decodes a chunked body; returns (data, rest) or (None, None) on EOF."""
    out = b""
    while True:
        while b"\r\n" not in buf:
            data = conn.recv(65536)
            if not data:
                return None, None
            buf += data
        line, _, buf = buf.partition(b"\r\n")
        size = int(line.split(b";")[0], 16)
        while len(buf) < size + 2:
            data = conn.recv(65536)
            if not data:
                return None, None
            buf += data
        out += buf[:size]
        buf = buf[size + 2:]
        if size == 0:
            return out, buf


def serve_conn(conn, port, tag=None):
    conn.settimeout(30)
    buf = b""
    if tag is None:
        tag = "tcp:%d" % port
    try:
        if hasattr(conn, "do_handshake"):
            conn.do_handshake()
            tag = "tls:%d %s sni=%s reused=%d" % (port, conn.version(), getattr(conn, "sni", None) or "-",
                                                 conn.session_reused)
        while True:
            while b"\n" not in buf:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
            line, _, rest = buf.partition(b"\n")
            words = line.decode("latin-1").strip().split(" ")
            if len(words) == 3 and words[2].startswith("HTTP/"):
                head, sep, rest2 = buf.partition(b"\r\n\r\n")
                while not sep:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                    head, sep, rest2 = buf.partition(b"\r\n\r\n")
                headers = {}
                for h in head.decode("latin-1").split("\r\n")[1:]:
                    k, _, v = h.partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = rest2
                if headers.get("transfer-encoding", "").lower() == "chunked":
                    data_out, body = read_chunked(conn, body)
                    if data_out is None:
                        return
                    got = len(data_out)
                    buf = body
                else:
                    n = int(headers.get("content-length", "0") or 0)
                    while len(body) < n:
                        data = conn.recv(65536)
                        if not data:
                            return
                        body += data
                    got = n
                    buf = body[n:]
                log("%s %s %s %s" % (tag, words[0], words[1], headers.get("host", "")))
                close = headers.get("connection", "").lower() == "close" or words[2] == "HTTP/1.0"
                if words[1].startswith("/big/"):
                    size = int(words[1][5:])
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n%s\r\n"
                                 % (size, b"Connection: close\r\n" if close else b""))
                    block = b"x" * 65536
                    left = size
                    while left > 0:
                        chunk = block if left >= len(block) else block[:left]
                        conn.sendall(chunk)
                        left -= len(chunk)
                else:
                    payload = ("%s %s %s %d\n" % (NAME, words[0], words[1], got)).encode()
                    status = b"200 OK"
                    if "headers" in words[1] or words[1].startswith("/auth-header-required"):
                        # the header lines as they arrived, in order
                        payload += head.split(b"\r\n", 1)[1] + b"\n" if b"\r\n" in head else b""
                    if words[1].startswith("/auth-header-required") and "authorization" not in headers:
                        status = b"401 Unauthorized"  # as the CLI's json-mock echo server
                    conn.sendall(b"HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n%s"
                                 % (status, len(payload), b"Connection: close\r\n" if close else b"", payload))
                if close:
                    return
            else:
                buf = rest
                log("%s line %s" % (tag, line.decode("latin-1").strip()))
                conn.sendall(("%s %s\n" % (NAME, line.decode("latin-1").strip())).encode())
    except (OSError, ValueError):
        pass
    finally:
        conn.close()


def listener(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(512)
    return s


def tcp_server(port):
    s = listener(port)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve_conn, args=(c, port), daemon=True).start()


def tls_server(port, certdir):
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(certdir, "tls.crt"), os.path.join(certdir, "tls.key"))
    ctx.set_alpn_protocols(["http/1.1"])

    def on_sni(sock, name, _ctx):
        sock.sni = name
    ctx.sni_callback = on_sni
    s = listener(port)
    while True:
        c, _ = s.accept()
        t = ctx.wrap_socket(c, server_side=True, do_handshake_on_connect=False)
        threading.Thread(target=serve_conn, args=(t, port), daemon=True).start()


def udp_server(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    while True:
        data, addr = s.recvfrom(65536)
        log("udp:%d %s" % (port, data.decode("latin-1").strip()))
        s.sendto(("%s %s" % (NAME, data.decode("latin-1").strip())).encode(), addr)


threads = []
for spec in sys.argv[3:]:
    proto, _, port = spec.partition(":")
    if proto == "tls":
        port, _, certdir = port.partition(":")
        t = threading.Thread(target=tls_server, args=(int(port), certdir), daemon=True)
    else:
        fn = tcp_server if proto == "tcp" else udp_server
        t = threading.Thread(target=fn, args=(int(port),), daemon=True)
    t.start()
    threads.append(t)
open(LOG + ".ready", "w").close()
for t in threads:
    t.join()
