#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""sluice-proxy's TLS in static mode, on loopback only (issue #15).

Fresh keys every run (certs/ scripts into a temporary folder, removed at
exit): a CA the clients trust, a second CA nobody trusts, a certificate for
the name the clients dial (terminating) and HTTPS upstreams (podserver.py
tls:PORT:DIR, which logs its own view of every TLS session). Then:

  - GET allowed by the rule reaches the upstream over TLS on both legs (the
    upstream's log shows TLSv1.3 and the SNI the proxy sent), DELETE gets
    403 over TLS, a client without the CA fails its handshake, an upstream
    certificate from the other CA gives 502 (access log: the reason);
  - serverNames with and without interception: allowed, other and missing
    SNI, wildcards (openssl s_client -servername / -noservername);
  - garbage, a truncated ClientHello, plain HTTP on the TLS port, 1,000
    half-open handshakes: each answered or closed within the bounds while
    a real client keeps being served;
  - resumption on both sides, and a changed secret picked up by the next
    connection without a restart.

Every process started here is killed by PID on exit.
"""
import argparse
import http.client
import json
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CERTS = os.path.join(ROOT, "certs")
PODSERVER = os.path.join(ROOT, "tests", "tools", "podserver.py")
FAILS = []
PROCS = []


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg, flush=True)
    if not cond:
        FAILS.append(msg)


def _die_with_parent():
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def run(*argv, **kw):
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=kw.pop("timeout", 30), **kw)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, deadline=10.0):
    end = time.time() + deadline
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def spawn(argv, out=None, err=None):
    p = subprocess.Popen(argv, stdout=out or subprocess.DEVNULL, stderr=err or subprocess.DEVNULL,
                         preexec_fn=_die_with_parent)
    PROCS.append(p)
    return p


class Env:
    def __init__(self, proxy_bin):
        self.dir = tempfile.mkdtemp(prefix="sluice-tls-")
        self.proxy_bin = proxy_bin
        d = self.dir
        for argv in (
            [CERTS + "/make-ca.sh", d + "/ca", "--name", "test interception CA"],
            [CERTS + "/make-ca.sh", d + "/ca2", "--name", "untrusted CA"],
            [CERTS + "/make-leaf.sh", d + "/ca", d + "/front", "front.test", "*.wild.test"],
            [CERTS + "/make-leaf.sh", d + "/ca", d + "/up", "up.test", "127.0.0.1"],
            [CERTS + "/make-leaf.sh", d + "/ca2", d + "/up2", "up.test", "127.0.0.1"],
        ):
            r = run(*argv)
            if r.returncode:
                raise SystemExit("certs: %s: %s" % (argv, r.stderr))
        self.up_port, self.up2_port = free_port(), free_port()
        self.up_log = d + "/up.log"
        spawn([sys.executable, PODSERVER, "up", self.up_log, "tls:%d:%s/up" % (self.up_port, d)])
        spawn([sys.executable, PODSERVER, "up2", d + "/up2.log", "tls:%d:%s/up2" % (self.up2_port, d)])
        if not (wait_port(self.up_port) and wait_port(self.up2_port)):
            raise SystemExit("upstreams did not start")

    def proxy(self, name, upstream, policy, extra=()):
        rules = os.path.join(self.dir, name + ".json")
        with open(rules, "w") as f:
            json.dump(policy, f)
        port = free_port()
        log = open(os.path.join(self.dir, name + ".access"), "w")
        err = open(os.path.join(self.dir, name + ".err"), "w")
        d = self.dir
        p = spawn([self.proxy_bin, "--listen", "127.0.0.1:%d" % port,
                   "--upstream", "127.0.0.1:%d" % upstream, "--rules", rules,
                   # the terminating secret holds a ca.crt too: it must not
                   # make the proxy ask clients for certificates (cilium#31761)
                   "--secret", "demo/front:tls.crt=%s/front/tls.crt,tls.key=%s/front/tls.key,"
                   "ca.crt=%s/ca/ca.crt" % (d, d, d),
                   "--secret", "demo/ca:ca.crt=%s/ca/ca.crt" % d] + list(extra), out=log, err=err)
        if not wait_port(port):
            raise SystemExit("proxy %s did not start: %s" % (name, open(err.name).read()))
        p.port, p.access, p.errlog = port, log.name, err.name
        return p

    def curl(self, port, path, name="front.test", method="GET", cacert=True, host=None, extra=(),
             max_time=10):
        argv = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--max-time", str(max_time),
                "--connect-to", "%s:%d:127.0.0.1:%d" % (name, port, port), "-X", method]
        if cacert:
            argv += ["--cacert", self.dir + "/ca/ca.crt"]
        if host:
            argv += ["-H", "Host: " + host]
        r = run(*(argv + list(extra) + ["https://%s:%d%s" % (name, port, path)]))
        body, _, code = r.stdout.rpartition("\n")
        return r.returncode, code, body

    def s_client(self, port, sni, extra=(), linger=0.3, stdin="", wait_for=None):
        """openssl s_client; stdin stays open for linger seconds, or until
        its output shows `wait_for` (at most 15 s: TLS 1.3 tickets come
        after the handshake, later still on a loaded machine), then gets
        `stdin` (s_client reads a line "R" as "renegotiate")."""
        argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                "-CAfile", self.dir + "/ca/ca.crt"]
        argv += ["-noservername"] if sni is None else ["-servername", sni]
        p = subprocess.Popen(argv + list(extra), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        early = b""
        if wait_for is None:
            time.sleep(linger)
        else:
            end = time.time() + 15
            while wait_for.encode() not in early and time.time() < end:
                r, _, _ = select.select([p.stdout], [], [], max(0, end - time.time()))
                d = os.read(p.stdout.fileno(), 65536) if r else b""
                if not d:
                    break
                early += d
        try:
            out, _ = p.communicate(stdin.encode(), timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        return (early + out).decode(errors="replace")

    def access(self, p):
        time.sleep(0.2)
        with open(p.access) as f:
            return [json.loads(line) for line in f if line.strip()]


def handshake_ok(out):
    return "Verify return code: 0 (ok)" in out and "Cipher is (NONE)" not in out


def scenario_interception(env):
    pol = {"rules": [{"method": "GET", "path": "/api/users/.*"}],
           "tls": {"terminating": {"secret": "demo/front"}, "originating": {"secret": "demo/ca"}}}
    p = env.proxy("icpt", env.up_port, pol)
    rc, code, body = env.curl(p.port, "/api/users/42", host="up.test")
    check(rc == 0 and code == "200" and "GET /api/users/42" in body,
          "allowed GET over TLS reaches the upstream (%s %s %r)" % (rc, code, body))
    with open(env.up_log) as f:
        lines = f.read()
    check("tls:%d TLSv1.3 sni=up.test reused=0 GET /api/users/42" % env.up_port in lines,
          "the upstream's own log shows the TLS session and the SNI from Host")
    rc, code, body = env.curl(p.port, "/api/users/42", method="DELETE", host="up.test")
    check(code == "403" and body.strip() == "Access denied", "DELETE gets 403 Access denied over TLS")
    with open(env.up_log) as f:
        check("DELETE" not in f.read(), "the denied request never reached the upstream")
    rc, code, _ = env.curl(p.port, "/api/users/42", cacert=False, host="up.test")
    check(rc == 60, "a client that does not trust the CA fails the handshake (curl %d)" % rc)
    rc, code, _ = env.curl(p.port, "/api/users/42", name="up.test")
    check(rc == 60, "the proxy's certificate does not claim names it was not given (curl %d)" % rc)
    recs = env.access(p)
    ok = [r for r in recs if r["status"] == 200]
    check(ok and ok[0].get("tls", {}).get("version") == "TLSv1.3" and ok[0]["tls"]["sni"] == "front.test"
          and ok[0]["tls"]["upstream"]["verify"] == "ok" and ok[0]["tls"]["upstream"]["sni"] == "up.test",
          "access log: TLS version, SNI, upstream verification (%s)" % (ok[0].get("tls") if ok else None))
    # resumption both ways: the client offers its ticket; the proxy offers the upstream's
    sess = env.dir + "/sess.pem"
    out1 = env.s_client(p.port, "front.test", ["-sess_out", sess],
                        wait_for="Post-Handshake New Session Ticket arrived")
    out2 = env.s_client(p.port, "front.test", ["-sess_in", sess])
    check(handshake_ok(out1) and "Reused, TLSv1.3" in out2, "client side: the session is resumed with its ticket")
    for _ in range(2):
        env.curl(p.port, "/api/users/7", host="up.test")
    with open(env.up_log) as f:
        check("sni=up.test reused=1 GET /api/users/7" in f.read(),
              "upstream side: the proxy resumes its session to the upstream")
    # a keep-alive connection idle past the proxy's buffer release (1 s):
    # both sessions give their record buffers back and take them again
    ctx = ssl.create_default_context(cafile=env.dir + "/ca/ca.crt")
    conn = http.client.HTTPSConnection("front.test", p.port, context=ctx, timeout=10)
    conn.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", p.port), 10),
                                server_hostname="front.test")
    codes = []
    for i in range(3):
        conn.request("GET", "/api/users/%d" % (100 + i), headers={"Host": "up.test"})
        r = conn.getresponse()
        codes.append((r.status, r.read().decode().strip()))
        time.sleep(2.2 if i < 2 else 0)
    conn.close()
    check([c for c, _ in codes] == [200, 200, 200] and all("GET /api/users/10" in b for _, b in codes),
          "one keep-alive connection, idle 2.2 s between requests: all served (%s)" % codes)
    # ALPN: only http/1.1, even when a client offers h2 first
    out = env.s_client(p.port, "front.test", ["-alpn", "h2,http/1.1"])
    check("ALPN protocol: http/1.1" in out, "ALPN: http/1.1 is what the proxy selects")
    # no client certificate requested, even though the terminating secret
    # (demo/front) holds a ca.crt
    check("No client certificate CA names sent" in out1 and "Acceptable client certificate" not in out1,
          "no CertificateRequest although the terminating secret has a ca.crt (cilium#31761)")
    # TLS 1.2 and 1.3, nothing older
    out = env.s_client(p.port, "front.test", ["-tls1_2"])
    check(handshake_ok(out) and "Protocol  : TLSv1.2" in out, "a TLS 1.2 client is served")
    # no renegotiation: a TLS 1.2 client that asks for one (s_client's "R")
    # is refused by the proxy's no_renegotiation alert, not served again
    out = env.s_client(p.port, "front.test", ["-tls1_2"], linger=0.5, stdin="R\n")
    check(handshake_ok(out) and "RENEGOTIATING" in out and "no renegotiation" in out,
          "TLS 1.2 renegotiation is refused by the proxy: %s" %
          [l for l in out.splitlines() if "RENEGOTIATING" in l or "error" in l][:2])
    out = env.s_client(p.port, "front.test", ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"])
    # (SECLEVEL=0 lets the client offer TLS 1.1: the refusal must be the proxy's)
    check("CONNECTED" in out and "no protocols available" not in out and
          ("alert protocol version" in out or "unsupported protocol" in out),
          "TLS 1.1 is refused by the proxy: %s" % [l for l in out.splitlines() if "error" in l][:1])
    # a changed secret: new connections get the new certificate, no restart
    serial1 = run("openssl", "x509", "-in", env.dir + "/front/tls.crt", "-noout", "-serial").stdout
    run(CERTS + "/make-leaf.sh", env.dir + "/ca", env.dir + "/front", "front.test", "*.wild.test")
    serial2 = run("openssl", "x509", "-in", env.dir + "/front/tls.crt", "-noout", "-serial").stdout
    p.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    out = env.s_client(p.port, "front.test", ["-showcerts"])
    got = run("openssl", "x509", "-noout", "-serial", input=out).stdout
    check(serial1 != serial2 and got == serial2, "a changed secret is served to the next connection")
    return p


def scenario_upstream_other_ca(env):
    pol = {"allow_all": True,
           "tls": {"terminating": {"secret": "demo/front"}, "originating": {"secret": "demo/ca"}}}
    p = env.proxy("otherca", env.up2_port, pol)
    rc, code, body = env.curl(p.port, "/x", host="up.test")
    check(code == "502", "an upstream certificate from another CA gives 502 (%s %r)" % (code, body))
    recs = env.access(p)
    r = recs[-1] if recs else {}
    check(r.get("reason") == "upstream_tls" and "certificate verify failed" in
          ((r.get("tls") or {}).get("upstream") or {}).get("verify", ""),
          "the access log says why: %s" % ((r.get("tls") or {}).get("upstream")))
    seen = open(env.dir + "/up2.log").read() if os.path.exists(env.dir + "/up2.log") else ""
    check("GET /x" not in seen, "nothing was sent to the unverified upstream")


def scenario_server_names(env):
    pol = {"allow_all": True,
           "tls": {"terminating": {"secret": "demo/front"}, "originating": {"secret": "demo/ca"},
                   "server_names": ["front.test", "*.wild.test", "**.deep.test"]}}
    p = env.proxy("sni", env.up_port, pol)
    for sni, want in (("front.test", True), ("FRONT.test", True), ("a.wild.test", True),
                      ("a.b.wild.test", False), ("x.y.deep.test", True), ("deep.test", False),
                      ("other.test", False), (None, False)):
        out = env.s_client(p.port, sni)
        ok = "Cipher is TLS" in out or "Cipher is ECDHE" in out
        check(ok == want, "serverNames (intercepted): SNI %s %s" % (sni, "passes" if want else "is closed"))
    # each refusal is one denied access-log record with the SNI the client sent
    refused = [(r["tls"]["sni"], r["verdict"], r["status"])
               for r in env.access(p) if r.get("reason") == "tls_server_name"]
    check(sorted(refused, key=str) == sorted([("a.b.wild.test", "denied", 0), ("deep.test", "denied", 0),
                                              ("other.test", "denied", 0), (None, "denied", 0)], key=str),
          "serverNames refusals are in the access log, with the SNI seen: %s" % refused)
    # without interception: the ClientHello is read and passed on as is
    pol = {"allow_all": True, "tls": {"server_names": ["up.test", "*.svc.test"]}}
    q = env.proxy("sniff", env.up_port, pol)
    out = env.s_client(q.port, "up.test", ["-verify_hostname", "up.test"])
    check(handshake_ok(out) and "CN = up.test" in out,
          "serverNames without interception: an allowed SNI reaches the server's own certificate")
    out = env.s_client(q.port, "evil.test")
    check("Cipher is (NONE)" in out or "unrecognized name" in out,
          "serverNames without interception: another SNI is closed")
    out = env.s_client(q.port, None)
    check("Cipher is (NONE)" in out or "unrecognized name" in out,
          "serverNames without interception: a missing SNI is closed")
    refused = [(r["tls"]["sni"], r["host"]) for r in env.access(q) if r.get("reason") == "tls_server_name"]
    check(sorted(refused, key=str) == sorted([("evil.test", "evil.test"), (None, "")], key=str),
          "serverNames without interception: the refusals are in the access log: %s" % refused)


def closed_within(sock, seconds):
    sock.settimeout(seconds)
    end = time.time() + seconds
    got = b""
    try:
        while time.time() < end:
            d = sock.recv(4096)
            if not d:
                return True, got
            got += d
    except socket.timeout:
        return False, got
    except OSError:
        return True, got
    return False, got


def scenario_bad_input(env):
    pol = {"allow_all": True,
           "tls": {"terminating": {"secret": "demo/front"}, "originating": {"secret": "demo/ca"}}}
    p = env.proxy("bad", env.up_port, pol,
                  ["--tls-handshake-timeout-ms", "3000", "--tls-max-handshakes", "200"])
    s = socket.create_connection(("127.0.0.1", p.port))
    s.sendall(os.urandom(600))
    closed, _ = closed_within(s, 5)
    check(closed, "garbage bytes: closed")
    s.close()
    s = socket.create_connection(("127.0.0.1", p.port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    closed, got = closed_within(s, 5)
    check(closed and got.startswith(b"HTTP/1.1 400"), "plain HTTP on the TLS port: 400 and close (%r)" % got[:40])
    s.close()
    s = socket.create_connection(("127.0.0.1", p.port))
    s.sendall(bytes.fromhex("160301020001000200fc0303") + os.urandom(20))
    t0 = time.time()
    closed, _ = closed_within(s, 10)
    check(closed and time.time() - t0 < 6, "a truncated ClientHello is closed at the handshake deadline (%.1fs)"
          % (time.time() - t0))
    s.close()
    # 1,000 half-open handshakes: a ClientHello that never finishes
    half = []
    t_open = time.time()
    for _ in range(1000):
        try:
            c = socket.create_connection(("127.0.0.1", p.port), 2)
            c.sendall(bytes.fromhex("16030100c8010000c40303"))
            half.append(c)
        except OSError:
            break
    check(len(half) == 1000, "1,000 half-open handshakes opened (%d)" % len(half))
    t_curl = time.time()
    # (30 s: on a loaded machine the proxy may still be taking the 1,000
    # from its accept queue; what must not happen is the client evicted)
    rc, code, _ = env.curl(p.port, "/ok", host="up.test", max_time=30)
    check(code == "200", "a real client is served meanwhile (%s, curl rc %d, %.1f s to open, %.1f s to serve)"
          % (code, rc, t_curl - t_open, time.time() - t_curl))
    t0 = time.time()
    open_left = 0
    for c in half:
        closed, _ = closed_within(c, max(0.1, 8 - (time.time() - t0)))
        open_left += not closed
        c.close()
    check(open_left == 0, "every half-open handshake was closed within 8 s (%d left)" % open_left)
    rc, code, _ = env.curl(p.port, "/ok2", host="up.test")
    check(code == "200", "the proxy keeps serving afterwards")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proxy", required=True)
    args = ap.parse_args()
    env = Env(args.proxy)
    try:
        scenario_interception(env)
        scenario_upstream_other_ca(env)
        scenario_server_names(env)
        scenario_bad_input(env)
    finally:
        for p in PROCS:
            if p.poll() is None:
                p.kill()
            p.wait()
        if FAILS:
            for name in os.listdir(env.dir):
                if name.endswith(".err"):
                    print("--- %s ---\n%s" % (name, open(os.path.join(env.dir, name)).read()[-2000:]))
        shutil.rmtree(env.dir, ignore_errors=True)
    print("%d failure(s)" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
