#!/usr/bin/env bash
# The request splice (issue #16; include/sluice/abi.h "Request splice"): on
# a keep-alive connection the proxy paired with its upstream connection, a
# request the proxy allowed before (same rules context, method, target and
# Host) goes from the client's socket straight to nginx's, and its simple
# response straight back; the proxy logs it from the kernel's record.
# Against a real nginx in a sluice pod: repeated and new paths, a 403 in
# between, a policy change on an open connection (the old verdicts must
# not hold), a response the proxy has to frame (adopted from the record),
# pipelining in one send and across a carried exchange, and the access
# log, observe and counters for all of it.
source "$(dirname "$0")/lib.sh"
t_begin

pod default/server app=server
pod default/client app=client

NG=$SL_WORK/nginx
mkdir -p "$NG/www/api"
python3 -c 'print("x" * 4000)' >"$NG/www/api/text.txt"
nginx_pod default/server "$NG" <<NGINX
	access_log off;
	keepalive_requests 100000;
	server {
		listen 8080;
		listen [::]:8081 ipv6only=off;
		root $NG/www;
		gzip on;
		gzip_types text/plain;
		gzip_min_length 1;
		types { text/plain txt; }
		location = /api/small { return 200 "ok\n"; }
		location = /api/two { return 200 "two\n"; }
		location = /other { return 200 "other\n"; }
		location /api/ { }
	}
NGINX

# policy PATHREGEX: GET on it from the client on 8080, L4 on 8081 (the
# client's own egress rule judges that one)
policy() {
	apply_yaml <<YAML
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: server-l7}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
      rules:
        http: [{method: GET, path: "$1"}]
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts: [{ports: [{port: "8081", protocol: TCP}]}]
YAML
}
policy "/api/.*" >/dev/null
# egress: the client pod's own rule on 8081 (connect4 steers it to the
# proxy's listener on loopback in the client pod); nginx's socket there is
# a dual-stack one
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
    toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
YAML
wait_proxy_ready
URL=http://$IP_server:8080
cx() { sl pod exec default/client -- "$@"; }
ka() { cx python3 "$TOOLS/kaclient.py" "$IP_server" 8080 "$@"; }
wait_until 100 0.1 sh -c "[ \"\$($SL_BUILD/cli/sluice --socket $SL_SOCK pod exec default/client -- curl -s -o /dev/null -w '%{http_code}' -m 2 $URL/api/small)\" = 200 ]" ||
	fail "nginx behind the proxy answers (error log: $(cat "$NG/error.log" 2>/dev/null))"
taken() { proxy_field requests_spliced; }
# the proxy's stats reach the agent about once a second
settle() { sleep 1.3; }
# lines N: N lines "200 3"
oks() { for _ in $(seq "$1"); do echo "200 3"; done; }

echo "# one path again and again on one connection"
settle
t0=$(taken)
out=$(ka "get:/api/small?a=1:20")
expect_eq "20 requests: each 200 with nginx's 3 bytes" "$(oks 20)" "$out"
settle
t1=$(taken)
# the first request goes through the proxy (which allows it and pairs the
# connection once its response was spliced); the rest may go the kernel's way
check "... the kernel sent at least 17 of them on by itself ($t0 -> $t1)" test $((t1 - t0)) -ge 17
check "/metrics: sluice_proxy_requests_spliced_total counts them" sh -c \
	"curl -s http://127.0.0.1:$SL_METRICS_PORT/metrics | awk '/^sluice_proxy_requests_spliced_total / {n = \$2} END {exit !(n >= $t1)}'"

echo "# egress, to a dual-stack server socket"
settle
t0=$(taken)
out=$(cx python3 "$TOOLS/kaclient.py" "$IP_server" 8081 "get:/api/small?e=1:20" get:/other)
expect_eq "20 x 200, then 403 for /other" "$(oks 20; echo '403 15')" "$out"
settle
t1=$(taken)
check "... the kernel sent at least 17 of them on by itself ($t0 -> $t1)" test $((t1 - t0)) -ge 17

echo "# new paths, a 403 between: the proxy decides what the kernel has not seen"
settle
t0=$(taken)
out=$(ka get:/api/small:3 get:/other get:/api/small:3 get:/api/two:3 get:/other get:/api/small)
expect_eq "200s, 403 for /other every time, 200s" \
	"$(oks 3; echo '403 15'; oks 3; printf '200 4\n200 4\n200 4\n'; echo '403 15'; oks 1)" "$out"
settle
t1=$(taken)
# (after a 403 the next request may reach the proxy before it offers it)
check "... the kernel carried repeats (at least 4: $t0 -> $t1), never a 403" test $((t1 - t0)) -ge 4

echo "# a policy change on an open connection: what the old rules allowed does not hold"
settle
rm -f "$SL_WORK/changed"
ka get:/api/small:5 wait:"$SL_WORK/changed" get:/api/small:2 get:/other get:/api/two >"$SL_WORK/change.out" &
kapid=$!
wait_until 100 0.1 sh -c "[ \$(wc -l <'$SL_WORK/change.out') -ge 5 ]"
policy "/api/two" >/dev/null
wait_proxy_rules
touch "$SL_WORK/changed"
wait "$kapid"
expect_eq "5 x 200 before; after: /api/small 403 twice, /other 403, /api/two 200" \
	"$(oks 5; printf '403 15\n403 15\n403 15\n200 4\n')" "$(cat "$SL_WORK/change.out")"
policy "/api/.*" >/dev/null
wait_proxy_rules

echo "# a response the proxy must frame (chunked) to a request the kernel sent"
settle
t0=$(taken)
# pauses: the proxy is idle (and offers the next request) before each
out=$(ka get:/api/small:2 sleep:100 gz:/api/text.txt sleep:100 gz:/api/text.txt sleep:100 \
	gz:/api/text.txt sleep:100 gz:/api/text.txt)
expect_eq "200s; the gzip'd text chunked each time" \
	"$(oks 2; for _ in 1 2 3 4; do echo "200 N chunked"; done)" \
	"$(echo "$out" | sed -E 's/^200 [0-9]+ chunked$/200 N chunked/')"
check "... each chunked body as long as nginx made it (same length 4 times)" sh -c \
	"[ \$(echo '$out' | grep chunked | awk '{print \$2}' | sort -u | wc -l) = 1 ] && [ \$(echo '$out' | grep -c chunked) = 4 ]"
settle
t1=$(taken)
# the first gzip'd request goes through the proxy (which remembers it);
# the kernel sends the other three on, and their responses come to the
# proxy (chunked), which takes each exchange over from its record
check "... the kernel sent the last three gzip'd requests on ($t0 -> $t1)" test $((t1 - t0)) -ge 3

echo "# pipelining: in one send, and a request sent while the kernel carries one"
out=$(ka get:/api/small:3 pipe:/api/two,/api/small,/other,/api/two overlap:/api/small,/api/two \
	overlap:/api/two,/api/small get:/api/small:2)
expect_eq "every response, in order" \
	"$(oks 3; printf '200 4\n200 3\n403 15\n200 4\n200 3\n200 4\n200 4\n200 3\n'; oks 2)" "$out"

echo "# past the end of the ring: the proxy's own records and the kernel's share it"
settle
# new paths (the proxy's, each recorded by the kernel when its response
# ends), then more repeats than the ring holds: each record is read as
# what it is now, not what its place held before
out=$(ka uniq:/api/small:40 "get:/api/small?b=1:4200")
expect_eq "4240 responses, all 200" "4240 4240" "$(echo "$out" | wc -l) $(echo "$out" | grep -c '^200 3$')"

echo "# the access log and observe see what the kernel carried"
settle
check "access log: a line for every /api/small request, allowed, 200, bytes both ways" python3 - "$SL_AGENT_OUT" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
# exactly one line per request, whoever carried it
a1 = [r for r in recs if r.get("path") == "/api/small?a=1"]
assert len(a1) == 20 and all(r["status"] == 200 for r in a1), len(a1)
e1 = [r for r in recs if r.get("path") == "/api/small?e=1"]
assert len(e1) == 20 and all(r["status"] == 200 and r["direction"] == "egress" for r in e1), e1[:2]
b1 = [r for r in recs if r.get("path") == "/api/small?b=1"]
assert len(b1) == 4200 and all(r["status"] == 200 for r in b1), len(b1)
u = [r for r in recs if r.get("path", "").startswith("/api/small?u=")]
assert len(u) == 40, len(u)
small = [r for r in recs if r.get("path") == "/api/small" and r.get("method") == "GET"]
ok = [r for r in small if r.get("status") == 200]
# curl (at least once) + 7 + 5 + 2 + 8; denied twice after the change
assert len(ok) >= 23, len(ok)
assert len(small) == len(ok) + 2, (len(small), len(ok))
for r in ok:
    assert r["verdict"] == "allowed" and r["bytes_out"] > 3 and r["bytes_in"] > 20, r
    assert r["duration_us"] >= r["upstream_latency_us"] >= 0, r
    assert r.get("source", {}).get("pod") == "client", r
den = [r for r in small if r.get("status") == 403]
assert len(den) == 2, len(den)
# the adopted exchanges: once each, whole
gz = [r for r in recs if r.get("path") == "/api/text.txt"]
assert len(gz) == 4 and all(r["status"] == 200 and r["bytes_out"] > 100 for r in gz), gz
PY
obs=$(sl observe -o json --last 1000 --type l7 2>/dev/null)
check "observe: REQUEST and RESPONSE flows for /api/small" python3 -c '
import json, sys
req = resp = 0
for l in sys.stdin:
    if not l.startswith("{"): continue
    f = json.loads(l).get("flow", json.loads(l))
    l7 = f.get("l7") or {}
    h = l7.get("http") or {}
    if "/api/small" not in h.get("url", ""): continue
    if l7.get("type") == "REQUEST": req += 1
    if l7.get("type") == "RESPONSE" and h.get("code") == 200: resp += 1
assert req >= 40 and resp >= 40, (req, resp)' <<<"$obs"
t_finish
