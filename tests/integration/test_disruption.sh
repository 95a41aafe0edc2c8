#!/usr/bin/env bash
# Zero downtime: client loops at full speed over an L4 port and an L7 port
# keep working while 200 unrelated policy updates land, while the agent is
# SIGKILLed and restarted, while the proxy restarts, and while a broken
# policy is rejected; a revocation of the client's own right cuts it before
# the agent answers its next call (the time it took is printed); a watched
# policy directory applies changes within a second.
source "$(dirname "$0")/lib.sh"
POLDIR=$(mktemp -d /tmp/sluice-poldir-XXXXXX)
t_begin --policy-dir "$POLDIR"
trap 't_end_trap; rm -rf "$POLDIR"' EXIT

pod default/client app=client
pod default/server app=server
for i in 1 2 3; do pod default/other$i app=other$i; done
serve default/server tcp:8080 tcp:8081
cat >"$POLDIR/server.yaml" <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: server}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "8081", protocol: TCP}]
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
      rules:
        http: [{method: GET, path: "/.*"}]
YAML
for i in $(seq 1 100); do sl policy get default/server >/dev/null 2>&1 && break; sleep 0.1; done
check "policy directory applied (waited up to 10 s; the agent polls each second)" sl policy get default/server
wait_proxy_ready

# loops KIND PORT SECONDS: runs a keep-alive and a connection-per-request loop
loop_start() {
	local name=$1 port=$2 secs=$3 mode=$4
	rm -f "$SL_WORK/$name.json" "$SL_WORK/$name.json.started"
	sl_bg sl pod exec default/client -- python3 "$TOOLS/loop.py" "$IP_server" "$port" /x "$secs" "$SL_WORK/$name.json" "$mode" "$SL_WORK/stop"
}
loop_wait() {
	local i
	for i in $(seq 1 200); do [ -s "$SL_WORK/$1.json" ] && return 0; sleep 0.05; done
	return 1
}
loop_field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$SL_WORK/$1.json" "$2"; }
loops_check() { # WHAT
	local n
	for n in l4ka l4cl l7ka l7cl; do
		if ! loop_wait $n; then fail "$1: loop $n did not finish"; continue; fi
		if [ "$(loop_field $n fail)" = 0 ] && [ "$(loop_field $n ok)" -gt 0 ]; then
			pass "$1: $n $(loop_field $n ok) requests, 0 failed"
		else
			fail "$1: $n $(loop_field $n ok) ok, $(loop_field $n fail) failed: $(loop_field $n errors)"
		fi
	done
}
all_loops() { # SECONDS
	rm -f "$SL_WORK/stop"
	loop_start l4ka 8081 "$1" keepalive
	loop_start l4cl 8081 "$1" close
	loop_start l7ka 8080 "$1" keepalive
	loop_start l7cl 8080 "$1" close
	wait_loops_started "$SL_WORK"/{l4ka,l4cl,l7ka,l7cl}.json
	sleep 0.5
}

echo "# 200 policy updates touching other pods"
all_loops 60
for i in $(seq 1 200); do
	printf 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: churn}\nspec:\n  endpointSelector: {matchLabels: {app: other%d}}\n  ingress:\n  - fromEndpoints: [{matchLabels: {app: other%d}}]\n    toPorts: [{ports: [{port: "%d", protocol: TCP}]}]\n' \
		$((i % 3 + 1)) $(((i + 1) % 3 + 1)) $((1000 + i)) | sl policy apply -f - >/dev/null || fail "update $i rejected"
done
touch "$SL_WORK/stop"
loops_check "200 updates"

echo "# a broken policy during the loop"
all_loops 30
printf 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: server}\nspec:\n  endpointSelector: {matchLabels: {app: server}}\n  ingress:\n  - fromEndpoints: [{matchLabels: {app: nobody}}]\n    toPorts: [{ports: [{port: "99999"}]}]\n' >"$SL_WORK/broken.yaml"
check_not "broken policy rejected" sl policy apply -f "$SL_WORK/broken.yaml"
sleep 1
touch "$SL_WORK/stop"
loops_check "broken policy"

echo "# the agent is SIGKILLed and restarted"
all_loops 30
sl_agent_kill KILL
sleep 1
sl_agent_start --policy-dir "$POLDIR"
sleep 1
touch "$SL_WORK/stop"
loops_check "agent SIGKILL + restart"

echo "# the proxy restarts"
all_loops 30
check "proxy restart requested" sl proxy restart
wait_proxy_ready
sleep 1
touch "$SL_WORK/stop"
loops_check "proxy restart"

echo "# a revocation cuts the client by the agent's next answer"
# The keep-alive connection alone (a long-lived flow on the sk_msg fast
# path), then connection-per-request clients. Judged by order, not by a time
# limit: the call after the apply is answered once the agent has cut what the
# change revoked (cut_barrier), so no request sent after that call came back
# may succeed. How long after the apply the first failed request was sent is
# printed, for information.
revoke() { # PORT-FROM PORT-TO LOOP MODE
	local cut0 cut1 t_cut ffs los ms
	rm -f "$SL_WORK/stop"
	loop_start "$3" "$1" 20 "$4"
	wait_loops_started "$SL_WORK/$3.json"
	sleep 1
	read -r cut0 _ < <(cut_barrier)
	sed -i "s/port: \"$1\"/port: \"$2\"/" "$POLDIR/server.yaml"
	t0=$(date +%s.%N)
	sl policy apply -f "$POLDIR/server.yaml" >/dev/null
	read -r cut1 t_cut < <(cut_barrier)
	sleep 2.5
	touch "$SL_WORK/stop"
	loop_wait "$3"
	ffs=$(loop_field "$3" first_fail_start)
	los=$(loop_field "$3" last_ok_start)
	if [ "$ffs" = None ]; then
		fail "$3: the revoked client kept working ($(loop_field "$3" ok) requests)"
		return
	fi
	ms=$(python3 -c "print(max(0, int(($ffs - $t0) * 1000)))")
	echo "  $3: the first request that failed was sent $ms ms after the apply ($(loop_field "$3" errors | cut -c1-60))"
	time_before "$los" "$t_cut" &&
		pass "$3: no request sent after the call that followed the apply succeeded" ||
		fail "$3: a request sent $(python3 -c "print(int(($los - $t_cut) * 1000))") ms after the call that followed the apply still succeeded"
	if [ "$4" = keepalive ]; then
		[ "$cut1" -gt "$cut0" ] 2>/dev/null &&
			pass "$3: that call found the connection cut (connections_cut $cut0 -> $cut1)" ||
			fail "$3: that call found no cut (connections_cut $cut0 -> $cut1)"
	fi
}
# The keep-alive client reconnects the moment its connection is cut; after
# the loops above its new source port can be one that a closed connection to
# 8081 used seconds ago (#5): that reconnect must be judged like any new
# connection, not ride on the closed flow's conntrack entry.
revoke 8081 8082 l4ka keepalive
revoke 8082 8081 l4cl close
sed -i 's/port: "8081"/port: "8083"/' "$POLDIR/server.yaml"
sl policy apply -f "$POLDIR/server.yaml" >/dev/null
check "new connections to 8081 are dropped" dropped default/client tcp "$IP_server" 8081

echo "# policy directory: a removed file deletes its policies"
rm -f "$POLDIR/server.yaml"
for i in $(seq 1 100); do sl policy get default/server >/dev/null 2>&1 || break; sleep 0.1; done
check_not "policy gone after its file (waited up to 10 s)" sl policy get default/server
check "and the default (allow) is back" can default/client tcp "$IP_server" 8081
t_finish
