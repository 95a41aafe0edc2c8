#!/usr/bin/env bash
# Revocation: when a policy change removes a right that established
# connections rely on, they are cut (both ends), new ones are dropped, and
# connections that stay allowed are untouched. "Cut" is judged by order, not
# by a time limit: once the agent has answered the call after the apply, the
# cut is made (cut_barrier), so no request sent later may succeed.
source "$(dirname "$0")/lib.sh"
t_begin

pod default/client app=client
pod default/other app=other
pod default/server app=server
serve default/server tcp:8080 tcp:8081
cat >"$SL_WORK/p.yaml" <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: server}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts: [{ports: [{port: "8081", protocol: TCP}]}]
  - fromEndpoints: [{matchLabels: {app: other}}]
    toPorts: [{ports: [{port: "8081", protocol: TCP}]}]
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
      rules: {http: [{method: GET, path: "/.*"}]}
YAML
sl policy apply -f "$SL_WORK/p.yaml" >/dev/null
wait_proxy_ready

start_loop() { # FROM NAME PORT MODE
	rm -f "$SL_WORK/$2.json" "$SL_WORK/$2.json.started"
	sl_bg sl pod exec "$1" -- python3 "$TOOLS/loop.py" "$IP_server" "$3" /x 20 "$SL_WORK/$2.json" "$4" "$SL_WORK/stop"
}
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$SL_WORK/$1.json" "$2"; }
wait_json() { for i in $(seq 1 200); do [ -s "$SL_WORK/$1.json" ] && return 0; sleep 0.05; done; return 1; }

for round in 1 2 3; do
	rm -f "$SL_WORK/stop"
	sed -i 's/port: "808[19]"/port: "8081"/; 0,/port: "8081"/s//port: "8081"/' "$SL_WORK/p.yaml"
	sl policy apply -f "$SL_WORK/p.yaml" >/dev/null
	start_loop default/client ka 8081 keepalive
	start_loop default/other keep 8081 keepalive
	start_loop default/client l7 8080 keepalive
	wait_loops_started "$SL_WORK"/{ka,keep,l7}.json
	sleep 1
	# the client loses 8081; "other" keeps it; the client keeps its L7 port
	python3 - "$SL_WORK/p.yaml" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
s = s.replace('port: "8081"', 'port: "8089"', 1)
open(p, "w").write(s)
PY
	read -r cut0 _ < <(cut_barrier)
	t0=$(date +%s.%N)
	sl policy apply -f "$SL_WORK/p.yaml" >/dev/null
	t_applied=$(date +%s.%N)
	# the next call is answered after the agent's walk of this change
	read -r cut1 t_cut < <(cut_barrier)
	sleep 2.5
	touch "$SL_WORK/stop"
	wait_json ka; wait_json keep; wait_json l7
	[ "$cut1" -gt "$cut0" ] 2>/dev/null &&
		pass "round $round: the call after the apply found the cut made (connections_cut $cut0 -> $cut1)" ||
		fail "round $round: the call after the apply found no cut (connections_cut $cut0 -> $cut1)"
	ffs=$(field ka first_fail_start)
	los=$(field ka last_ok_start)
	if [ "$ffs" = None ]; then
		fail "round $round: the revoked keep-alive connection kept working"
	elif time_before "$los" "$t_cut"; then
		# information only: how long it took on this machine, now
		ms=$(python3 -c "print(max(0, int(($ffs - $t0) * 1000)))")
		gap=$(python3 -c "print(int(($t_cut - $t_applied) * 1000))")
		pass "round $round: revoked keep-alive connection cut: no request sent after that call succeeded (the first failed one was sent $ms ms after the apply began; the call came back $gap ms after the apply)"
	else
		fail "round $round: a request sent $(python3 -c "print(int(($los - $t_cut) * 1000))") ms after the call that must find the connection cut still succeeded"
	fi
	[ "$(field keep fail)" = 0 ] && pass "round $round: the connection that stays allowed was untouched ($(field keep ok) requests)" || fail "round $round: the allowed connection failed: $(field keep errors)"
	[ "$(field l7 fail)" = 0 ] && pass "round $round: the client's L7 connection was untouched ($(field l7 ok) requests)" || fail "round $round: the L7 connection failed: $(field l7 errors)"
	check "round $round: new connections on the revoked port are dropped" dropped default/client tcp "$IP_server" 8081
	sed -i 's/port: "8089"/port: "8081"/' "$SL_WORK/p.yaml"
done
# each change of one item was parsed alone and patched into the live trie
fast=$(sl status -o json | python3 -c 'import json,sys; s = json.load(sys.stdin); print(s["policy_item_edits"], s["policy_map_patches"], s["policy_map_swaps"])')
read -r edits patches swaps <<<"$fast"
[ "$edits" -ge 5 ] && [ "$patches" -ge 5 ] && pass "one-item changes took the fast paths: $edits item parses, $patches in-place trie patches ($swaps whole swaps)" || fail "fast paths not taken: $edits item parses, $patches patches, $swaps swaps"
check "cuts are counted" sh -c "$SL_BUILD/cli/sluice --socket $SL_SOCK status -o json | python3 -c 'import json,sys; assert json.load(sys.stdin)[\"connections_cut\"] >= 3'"
t_finish
