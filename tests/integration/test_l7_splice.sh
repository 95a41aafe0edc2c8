#!/usr/bin/env bash
# The response splice (issue #16; include/sluice/abi.h "Response splice"):
# a simple response to a request the L7 proxy allowed goes from nginx's
# socket straight into the client's (sk_msg), with the bytes the proxy
# would have sent, and the proxy still logs and counts every exchange.
# Against a real nginx in a sluice pod: small and 1 MiB bodies on one
# keep-alive connection (the body counted over many sends), what must stay
# with the proxy (chunked, HEAD, 204, a server closing), a 403 between
# spliced responses, pipelined requests, a client that goes away mid-body,
# and the access log, observe and the proxy's counters for all of it.
source "$(dirname "$0")/lib.sh"
t_begin

pod default/server app=server
pod default/client app=client

NG=$SL_WORK/nginx
mkdir -p "$NG/www/api"
head -c 1048576 /dev/urandom >"$NG/www/api/big.bin"
python3 -c 'print("x" * 4000)' >"$NG/www/api/text.txt"
nginx_pod default/server "$NG" <<NGINX
	access_log off;
	keepalive_requests 100000;
	server {
		listen 8080;
		listen 8081;
		# dual-stack, as Go, Node.js and Java servers listen by default:
		# IPv4 clients arrive on an AF_INET6 socket (IPv4-mapped)
		listen [::]:8083 ipv6only=off;
		listen [::]:8084 ipv6only=off;
		root $NG/www;
		default_type application/octet-stream;
		sendfile on;
		gzip on;
		gzip_types text/plain;
		gzip_min_length 1;
		types { text/plain txt; }
		location = /api/small { return 200 "ok\n"; }
		location = /api/empty { return 204; }
		location = /api/bye { keepalive_timeout 0; return 200 "bye\n"; }
		location /api/ { }
		location /copy/ { sendfile off; alias $NG/www/api/; }
	}
NGINX

# server_policy [L4PORT]: the server's ingress; with L4PORT also that port
# (L4 only) for the client
server_policy() {
	cat <<YAML
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: server-l7}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}, {port: "8083", protocol: TCP}]
      rules:
        http: [{method: GET, path: "/api/.*"}, {method: GET, path: "/copy/.*"}, {method: HEAD, path: "/api/.*"}]
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts: [{ports: [{port: "8081", protocol: TCP}]}]
YAML
	[ -z "${1:-}" ] || cat <<YAML
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts: [{ports: [{port: "$1", protocol: TCP}]}]
YAML
}
server_policy 8084 | apply_yaml >/dev/null
# egress: the client's own L7 rule on 8081 (connect4 steers it to the
# proxy's listener on loopback in the client pod)
apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: client-l7}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toEndpoints: [{matchLabels: {app: server}}]
    toPorts:
    - ports: [{port: "8081", protocol: TCP}]
      rules:
        http: [{method: GET, path: "/api/.*"}]
  - toEndpoints: [{matchLabels: {app: server}}]
    toPorts: [{ports: [{port: "8080", protocol: TCP}, {port: "8083", protocol: TCP}, {port: "8084", protocol: TCP}]}]
YAML
wait_proxy_ready
URL=http://$IP_server:8080
cx() { sl pod exec default/client -- "$@"; }
# each FORMAT URL...: the client's curl, one connection, bodies discarded
each() {
	local fmt=$1 a=() u
	shift
	for u; do a+=(-o /dev/null "$u"); done
	cx curl -s --http1.1 -m 5 -w "$fmt" "${a[@]}"
}
wait_until 100 0.1 sh -c "[ \"\$($SL_BUILD/cli/sluice --socket $SL_SOCK pod exec default/client -- curl -s -o /dev/null -w '%{http_code}' -m 2 $URL/api/small)\" = 200 ]" ||
	fail "nginx behind the proxy answers (error log: $(cat "$NG/error.log" 2>/dev/null))"
spliced() { proxy_field responses_spliced; }
# the proxy's stats reach the agent about once a second
spliced_at_least() { [ "$(spliced)" -ge "$1" ]; }
settle() { sleep 1.3; }

echo "# small responses on one keep-alive connection"
settle
s0=$(spliced)
out=$(each '%{http_code} %{num_connects} %{size_download}\n' \
	"$URL/api/small" "$URL/api/small" "$URL/api/small" "$URL/api/small" "$URL/api/small")
expect_eq "5 requests, one connection: each 200, 3 bytes" \
	"$(printf '200 1 3\n200 0 3\n200 0 3\n200 0 3\n200 0 3')" "$out"
check "... all 5 spliced by the kernel (responses_spliced $s0 -> +5)" wait_until 30 0.1 spliced_at_least $((s0 + 5))
check "/metrics: sluice_proxy_responses_spliced_total counts them" sh -c \
	"curl -s http://127.0.0.1:$SL_METRICS_PORT/metrics | awk '/^sluice_proxy_responses_spliced_total / {n = \$2} END {exit !(n >= $((s0 + 5)))}'"
hdr=$(cx curl -s --http1.1 -m 5 -D - -o /dev/null "$URL/api/small" | tr -d '\r')
check "the spliced head: nginx's, its Connection line dropped as the proxy drops it" \
	sh -c "echo '$hdr' | grep -q '^HTTP/1.1 200 OK$' && echo '$hdr' | grep -q '^Content-Length: 3$' &&
	       echo '$hdr' | grep -q '^Server: nginx' && ! echo '$hdr' | grep -qi '^connection:'"

echo "# egress: the client pod's own L7 rule"
settle
s0=$(spliced)
out=$(each '%{http_code} %{num_connects} %{size_download}\n' \
	"http://$IP_server:8081/api/small" "http://$IP_server:8081/api/small" "http://$IP_server:8081/nope")
expect_eq "egress, one connection: 200, 200, then 403 (the client's own rule)" \
	"$(printf '200 1 3\n200 0 3\n403 0 15')" "$out"
got=$(cx sh -c "curl -s --http1.1 -m 10 http://$IP_server:8081/api/big.bin | sha256sum | cut -d' ' -f1")
expect_eq "... a 1 MiB body whole" "$(sha256sum <"$NG/www/api/big.bin" | cut -d' ' -f1)" "$got"
check "... the three 200s spliced" wait_until 30 0.1 spliced_at_least $((s0 + 3))

echo "# a dual-stack server (one AF_INET6 socket on [::] for IPv4 clients too)"
settle
s0=$(spliced)
out=$(each '%{http_code} %{num_connects} %{size_download}\n' \
	"http://$IP_server:8083/api/small" "http://$IP_server:8083/api/small" "http://$IP_server:8083/api/small")
expect_eq "three requests on one connection: 200s" "$(printf '200 1 3\n200 0 3\n200 0 3')" "$out"
check "... spliced: its IPv4-mapped socket is on the fast path" wait_until 30 0.1 spliced_at_least $((s0 + 3))

echo "# revocation cuts a dual-stack server's connection on the fast path"
rm -f "$SL_WORK/stop" "$SL_WORK/rv.json"
sl_bg sl pod exec default/client -- python3 "$TOOLS/loop.py" "$IP_server" 8084 /api/small 30 "$SL_WORK/rv.json" keepalive "$SL_WORK/stop"
wait_loops_started "$SL_WORK/rv.json"
sleep 1
server_policy | apply_yaml >/dev/null
read -r _ t_cut < <(cut_barrier)
sleep 2
touch "$SL_WORK/stop"
wait_until 100 0.1 test -s "$SL_WORK/rv.json"
rv() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$SL_WORK/rv.json" "$1"; }
[ "$(rv ok)" -gt 10 ] && [ "$(rv first_fail_start)" != None ] && time_before "$(rv last_ok_start)" "$t_cut" &&
	pass "the revoked keep-alive connection ($(rv ok) answers before) was cut: no request after the cut succeeded" ||
	fail "revocation of a dual-stack server's connection: ok $(rv ok), first failure $(rv first_fail_start), last ok $(rv last_ok_start), cut $t_cut"

echo "# a 1 MiB body counted over many sends, twice on one connection"
settle
s0=$(spliced)
want=$(sha256sum <"$NG/www/api/big.bin" | cut -d' ' -f1)
got=$(cx sh -c "curl -s --http1.1 -m 10 $URL/api/big.bin $URL/api/big.bin | sha256sum | cut -d' ' -f1")
want2=$(cat "$NG/www/api/big.bin" "$NG/www/api/big.bin" | sha256sum | cut -d' ' -f1)
expect_eq "both bodies arrive whole (sha256 of the two; nginx's sendfile)" "$want2" "$got"
got=$(cx sh -c "curl -s --http1.1 -m 10 $URL/copy/big.bin | sha256sum | cut -d' ' -f1")
expect_eq "... and once more written from user space (sendfile off)" "$want" "$got"
# a client reading slower than nginx writes: the kernel's queue for it
# fills, nginx waits (backpressure), nothing is lost or reordered
got=$(cx sh -c "curl -s --http1.1 -m 20 --limit-rate 400K $URL/api/big.bin | sha256sum | cut -d' ' -f1")
expect_eq "... and to a client reading at 400 KB/s" "$want" "$got"
check "... all four spliced" wait_until 30 0.1 spliced_at_least $((s0 + 4))

echo "# what stays with the proxy"
settle
s0=$(spliced)
gz=$(cx sh -c "curl -s --http1.1 -m 5 --compressed -D $SL_WORK/gz.h $URL/api/text.txt | wc -c")
expect_eq "chunked (gzip on the fly): the whole text, decompressed" 4001 "$gz"
check "... chunked indeed" grep -qi '^transfer-encoding: chunked' "$SL_WORK/gz.h"
out=$(cx curl -s --http1.1 -m 5 -I -w '%{http_code} %{size_download}\n' -o /dev/null "$URL/api/big.bin")
expect_eq "HEAD: 200, no body" "200 0" "$out"
out=$(each '%{http_code} %{num_connects}\n' "$URL/api/empty" "$URL/api/bye" "$URL/api/small")
expect_eq "204, then a response with Connection: close, then a new connection" \
	"$(printf '204 1\n200 0\n200 1')" "$out"
settle
expect_eq "... of those only the last was spliced" $((s0 + 1)) "$(spliced)"

echo "# a denied request between spliced ones"
out=$(each '%{http_code} ' "$URL/api/small" "$URL/private" "$URL/api/small")
expect_eq "200, 403, 200 in order" "200 403 200 " "$out"
body=$(cx curl -s --http1.1 -m 5 "$URL/api/small" "$URL/private" "$URL/api/small")
expect_eq "... and the bodies in order" "$(printf 'ok\nAccess denied\r\nok')" "$(printf '%s' "$body" | tr -d '\r' | sed 's/Access denied/Access denied\r/')"

echo "# pipelined requests (the second waits in the proxy until the first is over)"
out=$(printf 'GET /api/small HTTP/1.1\r\nHost: s\r\n\r\nGET /api/text.txt HTTP/1.1\r\nHost: s\r\n\r\nGET /api/small HTTP/1.1\r\nHost: s\r\n\r\n' |
	cx python3 "$TOOLS/rawhttp.py" "$IP_server" 8080 2)
expect_eq "three pipelined requests: three 200s in order, the connection kept" "200 200 200 open" "$out"
raw=$(printf 'GET /api/small HTTP/1.1\r\nHost: s\r\n\r\nGET /api/small HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n' |
	cx python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 8080), timeout=3)
s.sendall(sys.stdin.buffer.read())
b = b""
while True:
    c = s.recv(65536)
    if not c: break
    b += c
sys.stdout.write(b.decode())' "$IP_server" | tr -d '\r')
expect_eq "... the bytes exactly: two heads and bodies, the last with Connection: close" \
	"2 2 1" "$(echo "$raw" | grep -c '^HTTP/1.1 200 OK$') $(echo "$raw" | grep -c '^ok$') $(echo "$raw" | grep -c '^Connection: close$')"

echo "# the client goes away mid-body"
cx sh -c "curl -s --http1.1 -m 5 $URL/api/big.bin | head -c 1000 >/dev/null" || true
cx sh -c "curl -s --http1.1 -m 5 $URL/api/big.bin | head -c 1000 >/dev/null" || true
got=$(cx sh -c "curl -s --http1.1 -m 10 $URL/api/big.bin | sha256sum | cut -d' ' -f1")
expect_eq "the next client gets its whole body" "$want" "$got"
out=$(each '%{http_code} ' "$URL/api/small" "$URL/api/small")
expect_eq "... and small ones still work" "200 200 " "$out"
# (but for the revoked connection on 8084, which the agent destroyed:
# ECONNABORTED in recv() or writev(), what shows its dual-stack socket,
# the only one an IPv4-mapped client address is logged for that is cut,
# was found)
errs=$(grep '\[error\]\|\[crit\]\|\[alert\]' "$NG/error.log" | grep -v '(103: Software caused connection abort).*client: ::ffff:')
[ -z "$errs" ] && pass "nginx logged no errors" || fail "nginx logged errors: $(echo "$errs" | head -3)"

echo "# proxies replaced while a keep-alive client keeps asking"
# a replaced proxy drains while the new one serves: both splice, each on
# slots it claimed (owner = its pid); a proxy killed outright leaves its
# slots to be claimed again
owners() {
	bpftool map dump pinned "$SL_PIN/sluice_spls_v2" -j 2>/dev/null | python3 -c '
import json, sys
print(" ".join(sorted({str(e["formatted"]["value"]["owner"]) for e in json.load(sys.stdin)} - {"0"})))'
}
P1=$(proxy_wait_ready 0) || fail "proxy ready"
rm -f "$SL_WORK/stop" "$SL_WORK/ka.json"
sl_bg sl pod exec default/client -- python3 "$TOOLS/loop.py" "$IP_server" 8080 /api/small 30 "$SL_WORK/ka.json" keepalive "$SL_WORK/stop"
wait_loops_started "$SL_WORK/ka.json"
expect_eq "slots owned by the running proxy only" "$P1" "$(owners)"
check "proxy restart requested" sl proxy restart
P2=$(proxy_wait_ready "$P1") || fail "new proxy ready"
out=$(each '%{http_code} ' "$URL/api/small" "$URL/api/small" "$URL/api/small")
expect_eq "new connections through the new proxy" "200 200 200 " "$out"
check "... spliced by it" wait_until 30 0.1 spliced_at_least 3
o=$(owners)
case " $o " in *" $P2 "*) pass "the new proxy claimed slots of its own ($o)" ;; *) fail "the new proxy owns no slot ($o, new $P2)" ;; esac
check "the old proxy drained and exited" pid_gone "$P1" 15
touch "$SL_WORK/stop"
wait_until 100 0.1 test -s "$SL_WORK/ka.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["fail"] == 0 and d["ok"] > 50 else 1)' "$SL_WORK/ka.json" &&
	pass "the keep-alive client through both proxies: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ok"])' "$SL_WORK/ka.json") answers, none failed" ||
	fail "the keep-alive client failed: $(cat "$SL_WORK/ka.json")"
kill -KILL "$P2"
P3=$(proxy_wait_ready "$P2") || fail "proxy after kill -9 ready"
out=$(each '%{http_code} ' "$URL/api/small" "$URL/api/small")
expect_eq "after kill -9 of the proxy: answers through the next one" "200 200 " "$out"
check "... spliced" wait_until 30 0.1 spliced_at_least 2
check "no slot is owned by the drained proxy any more" sh -c "! echo ' $(owners) ' | grep -q ' $P1 '"

echo "# the access log and observe see spliced exchanges as before"
settle
check "access log: a 200 line for each big.bin GET, bytes_out its size plus the head" python3 - "$SL_AGENT_OUT" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
big = [r for r in recs if r.get("path") == "/api/big.bin" and r.get("method") == "GET" and r.get("status") == 200]
assert len(big) >= 3, len(big)
whole = [r for r in big if r["bytes_out"] > 1048576]
assert len(whole) >= 3, [r["bytes_out"] for r in big]
for r in whole:
    assert 1048576 < r["bytes_out"] < 1048576 + 400, r
    assert r["verdict"] == "allowed" and r["duration_us"] >= r["upstream_latency_us"] >= 0, r
small = [r for r in recs if r.get("path") == "/api/small" and r.get("status") == 200]
assert len(small) >= 15, len(small)
for r in small:
    assert r["bytes_out"] > 3, r
PY
obs=$(sl observe -o json --last 400 --type l7 2>/dev/null)
check "observe: RESPONSE flows with status 200 for /api/small" python3 -c '
import json, sys
n = 0
for l in sys.stdin:
    if not l.startswith("{"): continue
    f = json.loads(l).get("flow", json.loads(l))
    l7 = f.get("l7") or {}
    h = l7.get("http") or {}
    if l7.get("type") == "RESPONSE" and h.get("code") == 200 and "/api/small" in h.get("url", ""):
        n += 1
assert n >= 10, n' <<<"$obs"
t_finish
