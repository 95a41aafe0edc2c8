#!/usr/bin/env bash
# TLS interception (issue #15) with real pods, both directions.
#
# Fresh keys every run (certs/ scripts): a CA the clients trust, a CA
# nobody trusts, the proxy's certificate for server.test (terminatingTLS),
# HTTPS servers in pods (their own certificates; podserver.py logs each TLS
# session as the server saw it). Then:
#  - ingress: client -> https://server.test:8443 (TLS terminated for the
#    server pod, re-originated to it): GET allowed over TLS on both legs,
#    DELETE 403 over TLS, an untrusting client fails the handshake;
#  - egress: eclient -> server.test:9443 (the client pod calling out):
#    the same, and an upstream with another CA's certificate gives 502;
#  - serverNames without interception (egress 7443): allowed SNI passes to
#    the server's own certificate, another and a missing SNI are closed,
#    wildcards;
#  - a policy naming a missing secret is a load error naming file, line
#    and field; a changed secret reaches the next connection;
#  - bad input on the TLS port: garbage, truncated ClientHello, plain HTTP,
#    1,000 half-open handshakes: bounded, and the proxy keeps serving;
#  - observe shows https://server.test/... and the access log the TLS
#    version, SNI and upstream verification; a serverNames refusal is a
#    denied access-log record (with the SNI seen) and a DROPPED flow;
#  - /metrics: TLS handshakes, resumptions, failures by reason, evictions
#    at the concurrent-handshake cap, upstream verification failures.
source "$(dirname "$0")/lib.sh"
t_begin

C=$SL_WORK/certs
mkdir -p "$C"
"$SL_ROOT/certs/make-ca.sh" "$C/ca" --name "test interception CA" >/dev/null || fail "make CA"
"$SL_ROOT/certs/make-ca.sh" "$C/ca2" --name "untrusted CA" >/dev/null || fail "make CA 2"
"$SL_ROOT/certs/make-leaf.sh" "$C/ca" "$C/front" server.test >/dev/null || fail "proxy certificate"

pod default/server app=server
pod default/evil app=evil
pod default/client app=client
pod default/eclient app=eclient
pod default/stranger app=stranger
"$SL_ROOT/certs/make-leaf.sh" "$C/ca" "$C/server" server.test '*.wild.test' "$IP_server" >/dev/null
"$SL_ROOT/certs/make-leaf.sh" "$C/ca2" "$C/evil" server.test "$IP_evil" >/dev/null
serve default/server "tls:8443:$C/server" "tls:9443:$C/server" "tls:7443:$C/server" "tls:6443:$C/server"
serve default/evil "tls:8443:$C/evil"

echo "# secrets"
check "secret create tls" sl secret create tls default/front --cert "$C/front/tls.crt" --key "$C/front/tls.key"
check "secret create generic (CA bundle)" sl secret create generic default/upstream-ca --from-file=ca.crt="$C/ca/ca.crt"
check_exit 1 "secret create tls with a key of another certificate" \
	sl secret create tls default/mismatch --cert "$C/front/tls.crt" --key "$C/server/tls.key"
check_said "does not belong"
check_exit 1 "secret create twice" sl secret create tls default/front --cert "$C/front/tls.crt" --key "$C/front/tls.key"
check_said "already exists"
out=$(sl secret list)
echo "$out" | grep -qE '^default +front +kubernetes.io/tls +2 ' && pass "secret list: NAMESPACE NAME TYPE DATA AGE" || fail "secret list: $out"
out=$(sl secret get default/front -o yaml)
if echo "$out" | grep -q "tls.crt:" && ! echo "$out" | grep -q "PRIVATE" && ! echo "$out" | grep -q "^  tls.key:" &&
	! echo "$out" | grep -q "$(base64 -w0 "$C/front/tls.key" | head -c 40)"; then
	pass "secret get -o yaml shows the certificate, never the private key"
else
	fail "secret get -o yaml: $out"
fi
mode=$(find "$SL_STATE/secrets" -name 'front.json' -printf '%m' 2>/dev/null)
expect_eq "the secret file is 0600" 600 "$mode"

echo "# a missing secret is a load error"
cat >"$SL_WORK/missing.yaml" <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: missing-secret}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - toPorts:
    - ports: [{port: "8443", protocol: TCP}]
      terminatingTLS:
        secret: {name: nope}
YAML
check_exit 1 "a policy naming a missing secret is rejected" sl policy apply -f "$SL_WORK/missing.yaml"
check_said "missing.yaml:10: spec.ingress[0].toPorts[0].terminatingTLS.secret: secret default/nope not found"
check_not "and nothing of it was applied" sh -c "sl policy list | grep -q missing-secret"

apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: server-https}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}, {matchLabels: {app: stranger}}]
    toPorts:
    - ports: [{port: "8443", protocol: TCP}]
      terminatingTLS: {secret: {name: front}}
      originatingTLS: {secret: {name: upstream-ca}}
      rules:
        http: [{method: GET, path: "/api/users/.*"}]
  - fromEndpoints: [{matchLabels: {app: eclient}}]
    toPorts:
    - ports: [{port: "9443", protocol: TCP}, {port: "7443", protocol: TCP}, {port: "6443", protocol: TCP}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: eclient-https}
spec:
  endpointSelector: {matchLabels: {app: eclient}}
  egress:
  - toEndpoints: [{matchLabels: {app: server}}, {matchLabels: {app: evil}}]
    toPorts:
    - ports: [{port: "9443", protocol: TCP}, {port: "8443", protocol: TCP}]
      terminatingTLS: {secret: {namespace: default, name: front}}
      originatingTLS: {secret: {namespace: default, name: upstream-ca}}
      rules:
        http: [{method: GET, path: "/api/.*"}]
  - toEndpoints: [{matchLabels: {app: server}}]
    toPorts:
    - ports: [{port: "7443", protocol: TCP}]
      serverNames: ["server.test", "*.wild.test"]
  - toEndpoints: [{matchLabels: {app: server}}]
    toPorts:
    - ports: [{port: "7443", protocol: TCP}]
      serverNames: ["merged.test"]
  - toEndpoints: [{matchLabels: {app: server}}]
    toPorts:
    - ports: [{port: "6443", protocol: TCP}]
      terminatingTLS: {secret: {name: front}}
      originatingTLS: {secret: {name: upstream-ca}}
YAML
wait_proxy_ready

# https FROM PORT PATH [curl args]: status code (000 when TLS failed)
https() {
	local from=$1 ip=$2 port=$3 path=$4
	shift 4
	sl pod exec "$from" -- curl -s -o /dev/null -w '%{http_code}' -m 5 --cacert "$C/ca/ca.crt" \
		--resolve "server.test:$port:$ip" "$@" "https://server.test:$port$path"
}

echo "# ingress: TLS terminated for the server pod"
expect_eq "client GET /api/users/42 over TLS -> 200" 200 "$(https default/client "$IP_server" 8443 /api/users/42)"
check "the server's own log: TLS session, SNI from Host" \
	sh -c "grep -q 'tls:8443 TLSv1.3 sni=server.test reused=[01] GET /api/users/42' $SL_WORK/server-default_server.log"
expect_eq "DELETE -> 403 over TLS" 403 "$(https default/client "$IP_server" 8443 /api/users/42 -X DELETE)"
body=$(sl pod exec default/client -- curl -s -m 5 --cacert "$C/ca/ca.crt" --resolve "server.test:8443:$IP_server" https://server.test:8443/admin)
expect_eq "403 body over TLS" "Access denied" "$(printf '%s' "$body" | tr -d '\r\n')"
check_not "the server never saw the denied requests" sh -c "grep -qE 'DELETE|/admin' $SL_WORK/server-default_server.log"
sl pod exec default/client -- curl -s -o /dev/null -m 5 --resolve "server.test:8443:$IP_server" https://server.test:8443/api/users/1
expect_eq "a client that does not trust the CA fails the handshake (curl 60)" 60 "$?"

echo "# egress: a client pod calling out"
expect_eq "eclient GET /api/x over TLS -> 200" 200 "$(https default/eclient "$IP_server" 9443 /api/x)"
check "the server's own log (egress leg)" \
	sh -c "grep -q 'tls:9443 TLSv1.3 sni=server.test reused=[01] GET /api/x' $SL_WORK/server-default_server.log"
expect_eq "egress DELETE -> 403" 403 "$(https default/eclient "$IP_server" 9443 /api/x -X DELETE)"
expect_eq "an upstream certificate from another CA -> 502" 502 "$(https default/eclient "$IP_evil" 8443 /api/x)"
check_not "nothing reached the unverified upstream" sh -c "grep -q 'GET /api/x' $SL_WORK/server-default_evil.log"

echo "# serverNames without interception (egress 7443)"
sni() {
	sl pod exec default/eclient -- sh -c "sleep 0.3 | timeout 5 openssl s_client -connect $IP_server:7443 $1 -CAfile $C/ca/ca.crt 2>&1"
}
out=$(sni "-servername server.test")
echo "$out" | grep -q "Verify return code: 0 (ok)" && echo "$out" | grep -q "CN = server.test" &&
	pass "allowed SNI: the server's own certificate, verified" || fail "allowed SNI: $(echo "$out" | tail -5)"
out=$(sni "-servername a.wild.test")
echo "$out" | grep -qE "Cipher is TLS|New, TLS" && pass "wildcard *.wild.test passes" || fail "wildcard: $(echo "$out" | tail -3)"
out=$(sni "-servername a.b.wild.test")
echo "$out" | grep -qE "Cipher is TLS|New, TLS" && fail "a.b.wild.test must not match *.wild.test" || pass "a.b.wild.test is closed (* is one label)"
out=$(sni "-servername merged.test")
echo "$out" | grep -qE "Cipher is TLS|New, TLS" && pass "another rule's serverNames for the same peer and port are merged: merged.test passes" ||
	fail "merged serverNames: $(echo "$out" | tail -3)"
out=$(sni "-servername other.test")
echo "$out" | grep -qE "Cipher is TLS|New, TLS" && fail "another SNI must be closed" || pass "another SNI is closed"
out=$(sni "-noservername")
echo "$out" | grep -qE "Cipher is TLS|New, TLS" && fail "a missing SNI must be closed" || pass "a missing SNI is closed"

echo "# TLS without http rules: a TLS-aware TCP proxy (egress 6443)"
out=$(sl pod exec default/eclient -- sh -c "(printf 'hello over tls\n'; sleep 1) | timeout 5 openssl s_client -quiet -connect $IP_server:6443 -servername server.test -CAfile $C/ca/ca.crt 2>/dev/null")
echo "$out" | grep -q "^server hello over tls" && pass "a non-HTTP line passes both TLS legs and comes back" || fail "tcp over TLS: '$out'"
check "the server saw it over TLS, with the client's SNI" \
	sh -c "grep -q 'tls:6443 TLSv1.3 sni=server.test reused=[01] line hello over tls' $SL_WORK/server-default_server.log"

echo "# access log and observe"
sleep 1
rec=$(grep '"path":"/api/users/42"' "$SL_AGENT_OUT" | grep '"status":200' | tail -1)
echo "$rec" | grep -q '"tls":{"version":"TLSv1.3","sni":"server.test","upstream":{"version":"TLSv1.3","sni":"server.test","verify":"ok"}}' &&
	pass "access log: TLS version, SNI, upstream verification" || fail "access log: $rec"
rec=$(grep '"status":502' "$SL_AGENT_OUT" | tail -1)
echo "$rec" | grep -q '"verify":"certificate verify failed' && pass "access log: the 502's reason" || fail "502 record: $rec"
obs=$(sl observe --last 200 -o json 2>/dev/null | grep -c '"url":"https://server.test:8443/api/users/42"')
[ "$obs" -ge 1 ] && pass "observe: https://server.test:8443/api/users/42" || fail "observe has no https URL"
# serverNames refusals are denials like any other: one access-log record
# each (the SNI seen, reason tls_server_name) and one DROPPED flow, with no
# response flow (nothing was answered)
rec=$(grep '"reason":"tls_server_name"' "$SL_AGENT_OUT" | grep '"sni":"other.test"' | tail -1)
echo "$rec" | grep -q '"host":"other.test","tls":{"version":null,"sni":"other.test","upstream":null},"protocol":"HTTP/1.1","status":0,"verdict":"denied"' &&
	echo "$rec" | grep -q "\"destination\":{\"pod\":\"server\",\"namespace\":\"default\",[^}]*\"port\":7443}" &&
	pass "access log: another SNI is a denied record with the SNI seen" || fail "SNI refusal record: '$rec'"
rec=$(grep '"reason":"tls_server_name"' "$SL_AGENT_OUT" | grep -c '"host":"","tls":{"version":null,"sni":null')
[ "$rec" -ge 1 ] && pass "access log: a missing SNI is a denied record (sni null)" || fail "no record for the missing SNI"
rec=$(grep '"reason":"tls_server_name"' "$SL_AGENT_OUT" | grep -c '"sni":"a.b.wild.test"')
expect_eq "access log: a.b.wild.test refused once" 1 "$rec"
sl observe --last 500 -o json 2>/dev/null >"$SL_WORK/observe.json"
python3 - "$SL_WORK/observe.json" "$IP_server" <<'PY' && pass "observe: the SNI refusals are DROPPED egress flows (https://other.test, no response)" || fail "observe: SNI refusal flows"
import json, sys
req = resp = nosni = 0
for line in open(sys.argv[1]):
    f = json.loads(line)["flow"]
    http = f.get("l7", {}).get("http", {})
    if http.get("url") == "https://other.test":
        if f["l7"]["type"] == "REQUEST" and f["verdict"] == "DROPPED" and f["traffic_direction"] == "EGRESS" \
                and f["source"]["pod_name"] == "eclient" and f["destination"]["pod_name"] == "server":
            req += 1
        else:
            resp += 1
    if http.get("url") == "https://" + sys.argv[2] and f["verdict"] == "DROPPED" and f["l4"]["TCP"]["destination_port"] == 7443:
        nosni += 1
print("other.test requests %d, other %d, no SNI %d" % (req, resp, nosni))
sys.exit(0 if req == 1 and resp == 0 and nosni >= 1 else 1)
PY
sl observe --last 500 >"$SL_WORK/observe.txt" 2>&1
check "observe (compact): the refusal is shown by its https:// URL" \
	grep -qE 'default/eclient:[0-9]+ \(ID:[0-9]+\) -> default/server:7443 \(ID:[0-9]+\) http-request DROPPED \(HTTP/1.1  https://other.test\)' "$SL_WORK/observe.txt"

echo "# TLS sockets stay out of the sk_msg redirect"
sl_bg sl pod exec default/client -- sh -c "sleep 5 | openssl s_client -connect $IP_server:8443 -servername server.test >/dev/null 2>&1"
sleep 2
socks=$(bpftool map dump pinned "$SL_PIN/sluice_sock_v1" -j 2>/dev/null | python3 -c '
import ipaddress, json, sys
server, client = sys.argv[1], sys.argv[2]
proxy_side = client_side = 0
for e in json.load(sys.stdin):
    k = bytes(int(b, 16) for b in e["key"])
    local, remote = str(ipaddress.ip_address(k[12:16])), str(ipaddress.ip_address(k[28:32]))
    lport, rport = int.from_bytes(k[40:42], "little"), int.from_bytes(k[42:44], "little")
    if local == server and lport == 8443 and remote == client:
        proxy_side += 1
    if local == client and remote == server and rport == 8443:
        client_side += 1
print(proxy_side, client_side)' "$IP_server" "$IP_client")
[ "${socks% *}" = 0 ] && [ "${socks#* }" -ge 1 ] &&
	pass "the proxy's TLS socket is not in the sockhash (the client's own is: ${socks#* })" ||
	fail "sockhash: proxy-side TLS sockets / client sockets = $socks"

echo "# a changed secret reaches the next connection"
"$SL_ROOT/certs/make-leaf.sh" "$C/ca" "$C/front2" server.test >/dev/null
check "secret replaced" sl secret create tls default/front --cert "$C/front2/tls.crt" --key "$C/front2/tls.key" --overwrite
want=$(openssl x509 -in "$C/front2/tls.crt" -noout -serial)
got=$(sl pod exec default/client -- sh -c "sleep 0.3 | timeout 5 openssl s_client -connect $IP_server:8443 -servername server.test 2>/dev/null" | openssl x509 -noout -serial 2>/dev/null)
expect_eq "the proxy presents the new certificate" "$want" "$got"
expect_eq "and requests still pass" 200 "$(https default/client "$IP_server" 8443 /api/users/7)"

echo "# bad input on the TLS port (ingress 8443)"
flood() { sl pod exec default/stranger -- python3 "$TOOLS/tls_flood.py" "$IP_server" 8443 "$@"; }
out=$(flood garbage 1 12)
echo "$out" | grep -q "closed=1 of=1" && pass "garbage: closed" || fail "garbage: $out"
out=$(flood truncated 1 15)
echo "$out" | grep -q "closed=1 of=1" && pass "truncated ClientHello: closed at the deadline" || fail "truncated: $out"
out=$(flood plain 1 12)
echo "$out" | grep -q "closed=1 of=1 first_bytes=$(printf 'HTTP/1.1 400' | od -An -tx1 | tr -d ' \n')" &&
	pass "plain HTTP: 400 and close" || fail "plain HTTP: $out"
flood halfopen 1000 25 >"$SL_WORK/halfopen.out" 2>"$SL_WORK/halfopen.err" &
FLOOD_PID=$!
SL_PIDS+=($FLOOD_PID)
# all 1,000 are open (and waiting) before the real client comes
wait_until 200 0.1 grep -q "opened 1000" "$SL_WORK/halfopen.err" || fail "flood did not open 1,000: $(cat "$SL_WORK/halfopen.err")"
expect_eq "a real client is served during 1,000 half-open handshakes" 200 "$(https default/client "$IP_server" 8443 /api/users/5 -m 10)"
wait "$FLOOD_PID"
out=$(cat "$SL_WORK/halfopen.out")
echo "$out" | grep -q "halfopen closed=1000 of=1000" && pass "every half-open handshake was closed (bounded)" || fail "half-open: $out"
expect_eq "the proxy keeps serving afterwards" 200 "$(https default/client "$IP_server" 8443 /api/users/6)"
sleep 1.2 # stats reach the agent every second
hs=$(status_field proxy tls_handshakes)
herr=$(status_field proxy tls_handshake_errors)
sni_no=$(status_field proxy tls_sni_denied)
uperr=$(status_field proxy tls_upstream_errors)
[ "${hs:-0}" -ge 5 ] && [ "${herr:-0}" -ge 1000 ] && [ "${sni_no:-0}" -ge 3 ] && [ "${uperr:-0}" -ge 1 ] &&
	pass "sluice status: TLS counters (handshakes $hs, errors $herr, SNI denied $sni_no, upstream errors $uperr)" ||
	fail "sluice status TLS counters: handshakes=$hs errors=$herr sni_denied=$sni_no upstream_errors=$uperr"

echo "# TLS counters on /metrics"
# a resumed client session: the ticket of a first handshake, offered again
# (2 s of open stdin: TLS 1.3 tickets come after the handshake, later on a loaded machine)
sl pod exec default/client -- sh -c "sleep 2 | timeout 8 openssl s_client -connect $IP_server:8443 -servername server.test -CAfile $C/ca/ca.crt -sess_out $SL_WORK/client.sess >/dev/null 2>&1"
out=$(sl pod exec default/client -- sh -c "sleep 0.5 | timeout 5 openssl s_client -connect $IP_server:8443 -servername server.test -CAfile $C/ca/ca.crt -sess_in $SL_WORK/client.sess 2>&1")
echo "$out" | grep -q "^Reused, TLSv1.3" && pass "a client resumes its session with the proxy's ticket" ||
	fail "client resumption: $(echo "$out" | grep -E '^(New|Reused)')"
sleep 1.2 # stats reach the agent every second
curl -s "http://127.0.0.1:$SL_METRICS_PORT/metrics" >"$SL_WORK/metrics"
m() { awk -v k="$1" '$1 == k {print $2}' "$SL_WORK/metrics"; }
fails() { m "sluice_tls_handshake_failures_total{side=\"$1\",reason=\"$2\"}"; }
atleast() { # NAME MIN VALUE
	[ -n "$3" ] && [ "$3" -ge "$2" ] && pass "metrics: $1 = $3 (>= $2)" || fail "metrics: $1 = '${3}' (want >= $2)"
}
check "metrics: the TLS families have HELP and TYPE" sh -c "grep -q '^# TYPE sluice_tls_handshake_failures_total counter' $SL_WORK/metrics && grep -q '^# HELP sluice_tls_handshakes_total ' $SL_WORK/metrics"
atleast "handshakes, client side" 8 "$(m 'sluice_tls_handshakes_total{side="client"}')"
atleast "handshakes, upstream side" 3 "$(m 'sluice_tls_handshakes_total{side="upstream"}')"
atleast "sessions resumed, client side" 1 "$(m 'sluice_tls_sessions_resumed_total{side="client"}')"
atleast "failures: no or another SNI (other, missing, a.b.wild)" 3 "$(fails client server_name)"
atleast "failures: the client did not trust the certificate" 1 "$(fails client untrusted)"
atleast "failures: plain HTTP" 1 "$(fails client plain_http)"
atleast "failures: garbage (protocol)" 1 "$(fails client protocol)"
atleast "failures: past the handshake deadline (truncated, half-open)" 1 "$(fails client timeout)"
# 1,000 half-open against a cap of 512 concurrent handshakes
atleast "handshakes evicted at the concurrent-handshake cap" 488 "$(m sluice_tls_handshakes_evicted_total)"
hs_out=$(( $(fails client timeout) + $(m sluice_tls_handshakes_evicted_total) ))
atleast "half-open and truncated handshakes all ended (timeout + evicted)" 1001 "$hs_out"
atleast "failures: upstream verification (the other CA's server)" 1 "$(fails upstream verify)"
sum=0
for r in timeout server_name untrusted plain_http protocol closed; do sum=$((sum + $(fails client "$r"))); done
sum=$((sum + $(m sluice_tls_handshakes_evicted_total)))
expect_eq "metrics: client failures by reason + evictions = the proxy's handshake errors" "$(status_field proxy tls_handshake_errors)" "$sum"

echo "# TLS counters in the text form of sluice status"
# (no TLS traffic since the metrics were read: the counters stand still)
sl status >"$SL_WORK/status.txt" 2>&1
sl status -o json >"$SL_WORK/status.json" 2>&1
python3 - "$SL_WORK/status.txt" "$SL_WORK/status.json" <<'PY' && pass "status (text): the TLS lines say what -o json says, failures by reason" || fail "status (text) TLS lines: $(grep -i tls "$SL_WORK/status.txt")"
import json, re, sys
text = open(sys.argv[1]).read()
px = json.load(open(sys.argv[2]))["proxy"]
def line(side):
    m = re.search(r"^  tls %s +(\d+) handshakes \((\d+) resumed\), (\d+) failed(?: \((.*)\))?$" % side, text, re.M)
    assert m, "no 'tls %s' line in:\n%s" % (side, text)
    why = {}
    for part in (m.group(4) or "").split(", "):
        if part:
            n, r = part.split(" ", 1)
            why[r] = int(n)
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), why
hs, res, failed, why = line("clients")
assert (hs, res, failed) == (px["tls_handshakes"], px["tls_resumed"], px["tls_handshake_errors"]), (hs, res, failed)
want = {"server_name": px["tls_sni_denied"], "untrusted": px["tls_handshake_untrusted"],
        "timeout": px["tls_handshake_timeouts"], "plain_http": px["tls_handshake_plain_http"],
        "protocol": px["tls_handshake_protocol"], "closed": px["tls_handshake_closed"],
        "evicted": px["tls_handshake_evicted"]}
assert why == {k: v for k, v in want.items() if v}, (why, want)
assert sum(why.values()) == failed, (why, failed)
for r in ("server_name", "untrusted", "timeout", "plain_http", "protocol", "evicted"):
    assert why.get(r, 0) >= 1, r
hs, res, failed, why = line("upstream")
assert (hs, res, failed) == (px["tls_upstream_handshakes"], px["tls_upstream_resumed"], px["tls_upstream_errors"])
assert why.get("verify", 0) == px["tls_upstream_verify_failed"] >= 1, why
assert sum(why.values()) == failed, (why, failed)
print("\n".join(l for l in text.splitlines() if l.startswith("  tls ")))
PY

echo "# deleting a secret: its port fails closed"
check "secret delete" sl secret delete default/upstream-ca
code=$(https default/client "$IP_server" 8443 /api/users/8)
[ "$code" != 200 ] && pass "no upstream CA: the request is not passed unverified ($code)" || fail "passed without a CA"
t_finish
