#!/usr/bin/env bash
# L7 upstream connections outlive client connections (issue #16), against a
# real nginx whose access log names the connection ($connection) and the
# source each request came from: one connection per request from the
# client (Connection: close) rides one upstream connection; the client's
# connection is still closed after its response; egress flows of two client
# pods never share a connection and each is seen from its own address; a
# pooled connection the server closes does not fail the next request; a
# revoked client is cut while the other keeps the shared connection.
source "$(dirname "$0")/lib.sh"
t_begin

pod default/server app=server
pod default/client1 app=client,n=1
pod default/client2 app=client,n=2

NG=$SL_WORK/nginx
nginx_pod default/server "$NG" <<NGINX
	log_format pool '\$msec \$connection \$remote_addr "\$request" conn="\$http_connection" ka="\$http_keep_alive"';
	access_log $NG/access.log pool;
	server {
		listen 8080;
		listen 8090;
		default_type text/plain;
		location / { return 200 "ok\n"; }
	}
	server {
		listen 8092;
		keepalive_timeout 1s;
		default_type text/plain;
		location / { return 200 "ok\n"; }
	}
NGINX

# server_policy LABELS: the server's ingress, L7 on 8080 and 8092 for the
# clients LABELS selects (the revocation below narrows it to client2)
server_policy() {
	cat <<YAML
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: server-l7}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints: [{matchLabels: {$1}}]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}, {port: "8092", protocol: TCP}]
      rules:
        http: [{method: GET, path: "/api/.*"}]
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts: [{ports: [{port: "8090", protocol: TCP}]}]
YAML
}
server_policy "app: client" | apply_yaml >/dev/null
apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: client-egress}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toEndpoints: [{matchLabels: {app: server}}]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}, {port: "8092", protocol: TCP}]
  - toEndpoints: [{matchLabels: {app: server}}]
    toPorts:
    - ports: [{port: "8090", protocol: TCP}]
      rules:
        http: [{method: GET, path: "/e/.*"}]
YAML
wait_proxy_ready
wait_until 100 0.1 sh -c "[ \"\$($SL_BUILD/cli/sluice --socket $SL_SOCK pod exec default/client1 -- curl -s -o /dev/null -w '%{http_code}' -m 2 http://$IP_server:8080/api/up)\" = 200 ]" ||
	fail "nginx behind the proxy answers (error log: $(cat "$NG/error.log" 2>/dev/null))"

LOG=$NG/access.log
# closes FROM PORT PATH N: N sequential connections, each one request with
# Connection: close; prints what rawhttp.py saw of each ("200 closed")
closes() {
	sl pod exec "$1" -- sh -c "for i in \$(seq 1 $4); do printf 'GET $3\$i HTTP/1.1\r\nHost: s\r\nConnection: close\r\nKeep-Alive: timeout=30\r\n\r\n' | python3 $TOOLS/rawhttp.py $IP_server $2 2; done"
}
conns_of() { grep -F "\"GET $1" "$LOG" | awk '{print $2}' | sort -u | wc -l; }
srcs_of() { grep -F "\"GET $1" "$LOG" | awk '{print $3}' | sort -u | tr '\n' ' '; }

# ---- one upstream connection for many client connections ---------------------
c0=$(proxy_field upstream_connects)
r0=$(proxy_field upstream_reused)
out=$(closes default/client1 8080 /api/seq 8)
expect_eq "8 client connections with Connection: close: each answered 200, then closed by the proxy" \
	"$(printf '200 closed\n%.0s' 1 2 3 4 5 6 7 8)" "$out"
expect_eq "nginx saw the 8 requests" 8 "$(grep -cF '"GET /api/seq' "$LOG")"
expect_eq "... on one upstream connection (\$connection)" 1 "$(conns_of /api/seq)"
check_not "... and never the client's Connection or Keep-Alive" grep -E 'api/seq.*(conn="close"|ka="timeout)' "$LOG"
c1=$(proxy_field upstream_connects)
r1=$(proxy_field upstream_reused)
[ $((c1 - c0)) -le 1 ] && [ $((r1 - r0)) -ge 7 ] &&
	pass "sluice status: $((c1 - c0)) upstream connect(s), $((r1 - r0)) reuses for 8 requests" ||
	fail "sluice status: $((c1 - c0)) upstream connects, $((r1 - r0)) reuses for 8 requests"
check "/metrics: sluice_proxy_upstream_reused_total and _connections_total" sh -c \
	"curl -s http://127.0.0.1:$SL_METRICS_PORT/metrics | grep -qE '^sluice_proxy_upstream_reused_total [1-9]' &&
	 curl -s http://127.0.0.1:$SL_METRICS_PORT/metrics | grep -qE '^sluice_proxy_upstream_connections_total [1-9]'"

# ingress: every upstream leg is made in the server pod (nginx sees the pod's
# own address whoever the client is), so another client pod shares it
before=$(srcs_of /api/seq)
closes default/client2 8080 /api/two 3 >/dev/null
expect_eq "ingress, a second client pod: the same idle upstream connection" 1 \
	"$(grep -F -e '"GET /api/seq' -e '"GET /api/two' "$LOG" | awk '{print $2}' | sort -u | wc -l)"
expect_eq "... seen from the same source as before" "$before" "$(srcs_of /api/two)"

# ---- egress: one pool per pod, each seen from its own address ----------------
for i in 1 2 3; do
	closes default/client1 8090 /e/one$i- 1 >/dev/null
	closes default/client2 8090 /e/two$i- 1 >/dev/null
done
expect_eq "egress from client1: 3 requests seen from client1's address" "$IP_client1 " "$(srcs_of /e/one)"
expect_eq "egress from client2: 3 requests seen from client2's address" "$IP_client2 " "$(srcs_of /e/two)"
expect_eq "... client1's requests on one upstream connection" 1 "$(conns_of /e/one)"
expect_eq "... client2's on one too" 1 "$(conns_of /e/two)"
a=$(grep -F '"GET /e/one' "$LOG" | awk '{print $2}' | head -1)
b=$(grep -F '"GET /e/two' "$LOG" | awk '{print $2}' | head -1)
[ -n "$a" ] && [ "$a" != "$b" ] && pass "... and the two pods never share one ($a, $b)" ||
	fail "client pods share an egress upstream connection ($a, $b)"

# ---- the server closes an idle pooled connection -----------------------------
out1=$(closes default/client1 8092 /api/idle-a 1)
sleep 2 # nginx closes idle connections on 8092 after 1 s
out2=$(closes default/client1 8092 /api/idle-b 1)
expect_eq "nginx closed the pooled connection while idle: the next request still works" \
	"200 closed 200 closed" "$(echo $out1 $out2)"
expect_eq "... on a new upstream connection" 2 \
	"$(grep -F -e '"GET /api/idle-a' -e '"GET /api/idle-b' "$LOG" | awk '{print $2}' | sort -u | wc -l)"

# ---- revocation: client1 loses the port, client2 keeps the shared connection --
start_loop() { # FROM NAME PATH MODE
	rm -f "$SL_WORK/$2.json" "$SL_WORK/$2.json.started"
	sl_bg sl pod exec "$1" -- python3 "$TOOLS/loop.py" "$IP_server" 8080 "$3" 30 "$SL_WORK/$2.json" "$4" "$SL_WORK/stop"
}
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$SL_WORK/$1.json" "$2"; }
wait_json() { wait_until 200 0.05 test -s "$SL_WORK/$1.json"; }
start_loop default/client1 c1ka /api/c1ka keepalive
start_loop default/client1 c1cl /api/c1cl close
start_loop default/client2 c2cl /api/c2cl close
wait_loops_started "$SL_WORK"/{c1ka,c1cl,c2cl}.json
sleep 1
server_policy 'app: client, n: "2"' | apply_yaml >/dev/null
# client1's new connections are dropped from the apply on; on its open one
# the proxy answers 403 once it has the new table, and the agent's walk
# (revalidate.c) drops the flow. A status call that finds the table the apply
# sent answered (rules_pending 0) comes after both, so from then on no request
# of client1 may get through: judged by that order, not by a time.
wait_proxy_rules
t_cut=$(date +%s.%N)
sleep 2.5
touch "$SL_WORK/stop"
wait_json c1ka; wait_json c1cl; wait_json c2cl
[ "$(field c1ka first_fail_start)" != None ] && pass "revoked: client1's keep-alive connection was cut" ||
	fail "revoked: client1's keep-alive connection kept working"
[ "$(field c1cl first_fail_start)" != None ] && pass "revoked: client1's new connections fail" ||
	fail "revoked: client1's new connections still work"
time_before "$(field c1ka last_ok_start)" "$t_cut" && time_before "$(field c1cl last_ok_start)" "$t_cut" &&
	pass "... no request of client1 sent after the proxy had the new table succeeded" ||
	fail "a request of client1 sent after the proxy had the new table succeeded ($(field c1ka last_ok_start) $(field c1cl last_ok_start), table at $t_cut)"
[ "$(field c2cl fail)" = 0 ] && [ "$(field c2cl ok)" -gt 0 ] &&
	pass "client2, one connection per request on the shared upstream: $(field c2cl ok) answered, none failed" ||
	fail "client2 failed: $(field c2cl fail) of $(field c2cl ok): $(field c2cl errors)"
# each of client1's loops had at most one request on its way then: nginx
# may log those two, no more
late=$(awk -v t="$t_cut" '$1 > t && /GET \/api\/c1/' "$LOG" | wc -l)
[ "$late" -le 2 ] && pass "nginx got no request of client1 after that, but those on their way then ($late)" ||
	fail "nginx got $late requests of client1 after the proxy had the new table"
[ "$(awk -v t="$t_cut" '$1 > t && /GET \/api\/c2cl/' "$LOG" | wc -l)" -gt 0 ] &&
	pass "... while client2's kept arriving" || fail "client2's requests stopped reaching nginx"
t_finish
