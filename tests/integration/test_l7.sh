#!/usr/bin/env bash
# L7: HTTP rules are enforced by the node-local proxy, only on the ports
# that carry them. The article's scenario with curl, keep-alive, pipelining,
# chunked uploads, a 100 MB streamed response, header and host rules,
# clients in the host and outside the node, egress rules, an L4-only port
# the proxy never sees, and the proxy going away and coming back.
source "$(dirname "$0")/lib.sh"
t_begin --proxy-restart-delay 3000

pod default/frontend app=frontend,security.level=trusted
pod default/frontend-untrusted app=frontend
pod default/backend app=backend --port http=8080/TCP
pod default/malicious app=malicious
pod default/echo app=echo
pod default/egress-client app=egress-client
serve default/backend tcp:8080 tcp:8081
serve default/echo tcp:9090
WORLD_IP=$(sl_world_create ext 2) || { fail "world ext"; t_finish; }
WORLD_NS=${SL_NSPFX}wext
# the world's host-side address must carry the host identity first
wait_host_addr "$(sl_world_host_ip 2)"

apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: secure-api}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: frontend, security.level: trusted}}]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
      rules:
        http:
        - {method: GET, path: "/api/users/.*"}
        - {method: POST, path: "/upload", headers: ["X-Token: 42"]}
        - {method: GET, path: "/big/.*"}
        - {method: GET, path: "/public", host: "api\\.example\\.com"}
        - {method: GET, path: "/flag", headers: ["X-Debug"]}
  - fromEntities: [host]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
      rules:
        http: [{method: GET, path: "/health"}]
  - fromEntities: [world]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
      rules:
        http: [{method: GET, path: "/public"}]
  - fromEndpoints: [{matchLabels: {app: frontend}}]
    toPorts:
    - ports: [{port: "8081", protocol: TCP}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: egress-l7}
spec:
  endpointSelector: {matchLabels: {app: egress-client}}
  egress:
  - toEndpoints: [{matchLabels: {app: echo}}]
    toPorts:
    - ports: [{port: "9090", protocol: TCP}]
      rules:
        http: [{method: GET, path: "/allowed.*"}]
YAML

B=http://$IP_backend:8080
code() { http "$@"; }
proxy_stat() { sl status -o json | python3 -c "import json,sys; print(json.load(sys.stdin)['proxy'].get('$1', 0))"; }
wait_proxy_ready

echo "# the article's scenario"
[ "$(code default/frontend "$B/api/users/42")" = 200 ] && pass "frontend GET /api/users/42 -> 200" || fail "frontend GET /api/users/42 -> 200"
check "the backend answered it" sh -c "grep -q 'GET /api/users/42' $SL_WORK/server-default_backend.log"
[ "$(code default/frontend "$B/api/users" -X POST -d x)" = 403 ] && pass "POST /api/users -> 403" || fail "POST /api/users -> 403"
[ "$(code default/frontend "$B/api/users/1" -X DELETE)" = 403 ] && pass "DELETE /api/users/1 -> 403" || fail "DELETE /api/users/1 -> 403"
[ "$(code default/frontend "$B/admin")" = 403 ] && pass "GET /admin -> 403" || fail "GET /admin -> 403"
body=$(sl pod exec default/frontend -- curl -s -m 3 "$B/admin")
[ "$body" = "$(printf 'Access denied\r\n')" ] && pass "403 body is 'Access denied\\r\\n'" || fail "403 body is 'Access denied\\r\\n' (got '$body')"
check_not "the backend never saw the denied requests" sh -c "grep -qE 'POST /api/users|DELETE|/admin' $SL_WORK/server-default_backend.log"
sleep 0.3 # the proxy's counters reach the agent a few ms after each change
before=$(proxy_stat connections_total)
[ "$(code default/frontend-untrusted "$B/api/users/42")" = 000 ] && pass "frontend without security.level: dropped at L4" || fail "frontend without security.level: dropped at L4"
[ "$(code default/malicious "$B/api/users/42")" = 000 ] && pass "malicious: dropped at L4" || fail "malicious: dropped at L4"
sleep 0.3
[ "$(proxy_stat connections_total)" = "$before" ] && pass "L4 drops never reached the proxy ($before connections)" || fail "L4 drops never reached the proxy ($before -> $(proxy_stat connections_total))"

echo "# one connection, many requests"
out=$(sl pod exec default/frontend -- curl -s -w '%{http_code} ' -m 5 -o /dev/null "$B/api/users/1" -o /dev/null "$B/admin" -o /dev/null "$B/api/users/2" -o /dev/null "$B/secret" -o /dev/null "$B/api/users/3")
[ "$out" = "200 403 200 403 200 " ] && pass "keep-alive mixing allowed and denied: $out" || fail "keep-alive mixing allowed and denied: $out"
raw() { sl pod exec "$1" -- python3 "$TOOLS/rawhttp.py" "$2" "$3" "${4:-1.5}"; }
out=$(printf 'GET /api/users/1 HTTP/1.1\r\nHost: b\r\n\r\nGET /admin HTTP/1.1\r\nHost: b\r\n\r\nGET /api/users/2 HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n' | raw default/frontend "$IP_backend" 8080)
[ "$out" = "200 403 200 closed" ] && pass "pipelined requests answered in order: $out" || fail "pipelined requests: $out"
out=$(sl pod exec default/frontend -- sh -c "head -c 300000 /dev/zero | curl -s -m 5 -H 'X-Token: 42' -H 'Transfer-Encoding: chunked' --data-binary @- $B/upload")
[ "$out" = "backend POST /upload 300000" ] && pass "chunked upload of 300000 bytes streamed to the backend" || fail "chunked upload: '$out'"
[ "$(code default/frontend "$B/upload" -X POST -d x)" = 403 ] && pass "POST /upload without X-Token -> 403 (header rule)" || fail "header rule"
[ "$(code default/frontend "$B/upload" -X POST -H 'X-Token: 43' -d x)" = 403 ] && pass "X-Token: 43 -> 403 (exact value)" || fail "header exact value"
[ "$(code default/frontend "$B/flag" -H 'X-Debug: anything')" = 200 ] && pass "header presence rule allows" || fail "header presence rule allows"
[ "$(code default/frontend "$B/public" -H 'Host: api.example.com')" = 200 ] && pass "host rule: api.example.com -> 200" || fail "host rule allows"
[ "$(code default/frontend "$B/public" -H 'Host: evil.example.com')" = 403 ] && pass "host rule: evil.example.com -> 403" || fail "host rule denies"

echo "# a 100 MB response, streamed"
PROXY_PID=$(proxy_stat pid)
rss_before=$(awk '/VmRSS/ {print $2}' /proc/"$PROXY_PID"/status)
sl_bg sh -c "while kill -0 $PROXY_PID 2>/dev/null; do awk '/VmRSS/ {print \$2}' /proc/$PROXY_PID/status; sleep 0.05; done > $SL_WORK/rss.log"
RSS_PID=${SL_PIDS[-1]}
size=$(sl pod exec default/frontend -- curl -s -m 30 -o /dev/null -w '%{size_download}' "$B/big/104857600")
kill "$RSS_PID" 2>/dev/null
rss_max=$(sort -n "$SL_WORK/rss.log" | tail -1)
echo "  proxy RSS: ${rss_before} kB before, ${rss_max} kB peak while streaming 100 MB"
[ "$size" = 104857600 ] && pass "100 MB response arrived whole" || fail "100 MB response arrived whole ($size)"
[ "${rss_max:-999999}" -lt $((rss_before + 16384)) ] && pass "proxy memory bounded (+$((rss_max - rss_before)) kB)" || fail "proxy memory bounded (${rss_before} -> ${rss_max} kB)"

echo "# clients outside the pods"
[ "$(curl -s -o /dev/null -w '%{http_code}' -m 3 "$B/health")" = 200 ] && pass "host GET /health -> 200" || fail "host GET /health -> 200"
[ "$(curl -s -o /dev/null -w '%{http_code}' -m 3 "$B/api/users/1")" = 403 ] && pass "host GET /api/users/1 -> 403" || fail "host GET /api/users/1 -> 403"
[ "$(ip netns exec "$WORLD_NS" curl -s -o /dev/null -w '%{http_code}' -m 3 "$B/public")" = 200 ] && pass "outside the node GET /public -> 200" || fail "outside the node GET /public -> 200"
[ "$(ip netns exec "$WORLD_NS" curl -s -o /dev/null -w '%{http_code}' -m 3 "$B/health")" = 403 ] && pass "outside the node GET /health -> 403" || fail "outside the node GET /health -> 403"

echo "# egress rules"
E=http://$IP_echo:9090
[ "$(code default/egress-client "$E/allowed/x")" = 200 ] && pass "egress GET /allowed/x -> 200" || fail "egress GET /allowed/x -> 200"
[ "$(code default/egress-client "$E/other")" = 403 ] && pass "egress GET /other -> 403" || fail "egress GET /other -> 403"
check_not "echo never saw /other" sh -c "grep -q /other $SL_WORK/server-default_echo.log"
check "egress elsewhere is dropped" dropped default/egress-client tcp "$IP_backend" 8081

echo "# an L4-only port never touches the proxy"
sleep 0.3
before=$(proxy_stat connections_total)
check "frontend -> backend:8081 (L4 only) works" can default/frontend tcp "$IP_backend" 8081
[ "$(code default/frontend "http://$IP_backend:8081/admin")" = 200 ] && pass "L4-only port: /admin passes (no HTTP rules)" || fail "L4-only port: /admin"
sleep 0.3
[ "$(proxy_stat connections_total)" = "$before" ] && pass "proxy connection count unchanged ($before)" || fail "proxy connection count changed ($before -> $(proxy_stat connections_total))"

echo "# access log"
check "access log line for the denied DELETE" python3 - "$SL_AGENT_OUT" "$IP_frontend" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
d = [r for r in recs if r.get("method") == "DELETE"]
assert d, "no DELETE record"
r = d[0]
assert r["status"] == 403 and r["verdict"] == "denied", r
assert r["source"]["ip"] == sys.argv[2] and r["source"]["pod"] == "frontend", r
assert r["destination"]["pod"] == "backend" and r["destination"]["port"] == 8080, r
for k in ("time", "path", "host", "protocol", "bytes_in", "bytes_out", "duration_us", "upstream_latency_us"):
    assert k in r, k
PY

echo "# the proxy goes away"
# /metrics' proxy drop counters are the agent's sums over the proxies it
# ran: a new proxy counts from zero again, the series never go down. Some
# drops first: with the agent stopped, the proxy's queue of access records
# for it (8 MB) overflows within ~2000 denied requests of 4.5 kB records.
kill -STOP "$SL_AGENT_PID"
flood=$(/usr/bin/python3 - "$IP_backend" <<'PY' 2>&1
import socket, sys, time
s = socket.create_connection((sys.argv[1], 8080), timeout=10)
f = s.makefile("rb")
req = ("GET /flood/" + "x" * 4000 + " HTTP/1.1\r\nHost: " + "h" * 500 + "\r\n\r\n").encode()
n, end = 0, time.time() + 60
while n < 3000 and time.time() < end:
    s.sendall(req * 20) # 20 pipelined, then their 20 answers
    for _ in range(20):
        assert f.readline().startswith(b"HTTP/1.1 403"), "not a 403"
        length = 0
        while True:
            h = f.readline()
            if h in (b"\r\n", b""):
                break
            if h.lower().startswith(b"content-length:"):
                length = int(h.split(b":")[1])
        f.read(length)
        n += 1
print(n)
PY
)
kill -CONT "$SL_AGENT_PID"
echo "  $flood denied requests while the agent was stopped"
access_dropped_seen() { [ "$(proxy_stat access_dropped)" -gt 0 ]; }
check "the proxy dropped access records while the agent was stopped" wait_until 100 0.1 access_dropped_seen
metric() { curl -s -m 3 "http://127.0.0.1:$SL_METRICS_PORT/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
DROPS="sluice_proxy_access_records_dropped_total:access_dropped sluice_proxy_access_log_dropped_total:access_log_dropped"
declare -A drops_before
for d in $DROPS; do drops_before[${d%%:*}]=$(metric "${d%%:*}"); done
[ "${drops_before[sluice_proxy_access_records_dropped_total]:-0}" -gt 0 ] && pass "metrics show the drops (${drops_before[sluice_proxy_access_records_dropped_total]})" || fail "metrics show the drops ('${drops_before[sluice_proxy_access_records_dropped_total]}')"
# Hubble's flows-to-world: the frontend (no egress policy) connects to
# an address of the world; its SYN is a forwarded, non-reply flow to
# reserved:world (a closed port: the RST that answers is a reply)
wbefore=$(metric 'hubble_flows_to_world_total{protocol="TCP",verdict="FORWARDED"}')
sl pod exec default/frontend -- python3 "$TOOLS/probe.py" tcp "$WORLD_IP" 9 0.5 >/dev/null
sleep 0.5
wafter=$(metric 'hubble_flows_to_world_total{protocol="TCP",verdict="FORWARDED"}')
[ "$(( ${wafter:-0} - ${wbefore:-0} ))" -ge 1 ] &&
	pass "hubble_flows_to_world_total{protocol=TCP,verdict=FORWARDED}: ${wbefore:-0} -> $wafter" ||
	fail "hubble_flows_to_world_total{protocol=TCP,verdict=FORWARDED}: ${wbefore:-0} -> ${wafter:-none}"
check "hubble_lost_events_total is declared" sh -c "curl -s -m 3 http://127.0.0.1:$SL_METRICS_PORT/metrics | grep -q '^# TYPE hubble_lost_events_total counter'"
kill -KILL "$(proxy_stat pid)"
sleep 0.3
[ "$(code default/frontend "$B/api/users/1")" = 000 ] && pass "proxy down: L7 port refuses (fails closed)" || fail "proxy down: L7 port refuses"
check "proxy down: L4 port still works" can default/frontend tcp "$IP_backend" 8081
wait_proxy_ready 8
[ "$(code default/frontend "$B/api/users/1")" = 200 ] && pass "proxy back: L7 works again" || fail "proxy back: L7 works again"
[ "$(code default/frontend "$B/admin")" = 403 ] && pass "proxy back: still enforcing" || fail "proxy back: still enforcing"
sleep 0.3 # the new proxy's stats reach the agent a few ms after a change
for d in $DROPS; do
	k=${d%%:*} b=${drops_before[${d%%:*}]} now=$(metric "${d%%:*}") new=$(proxy_stat "${d#*:}")
	# (>=: the agent may have read the old proxy's last stats after "before")
	[ -n "$b" ] && [ -n "$now" ] && [ "$now" -ge $((b + new)) ] &&
		pass "proxy back: $k = $now (>= $b before + $new of the new proxy)" ||
		fail "proxy back: $k '$now' (want >= ${b:-?} before + ${new:-?} of the new proxy)"
done
t_finish
