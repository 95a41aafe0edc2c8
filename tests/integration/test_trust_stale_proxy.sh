#!/usr/bin/env bash
# A replaced L7 proxy never serves with old rules (#10 item 1).
#
# The reported sequence: an L7 policy in force; the proxy is SIGKILLed (the
# agent starts a new one); the agent is SIGKILLed and started again with the
# same flags (it adopts the running proxy); `sluice proxy restart`; then a
# policy without GET: all of 50 GETs must get 403. Every proxy the agent
# replaced must be gone within its drain limit, and none may be left
# without a parent that owns it.
#
# Then the rule for a proxy that loses its agent for good: it keeps
# serving for the grace period (an agent restart is no outage) and then
# fails closed: it stops accepting and exits.
source "$(dirname "$0")/lib.sh"
GRACE_MS=3000
t_begin --proxy-restart-delay 200 --proxy-orphan-grace "$GRACE_MS"

pod default/client app=client
pod default/server app=server --port http=8080/TCP
serve default/server tcp:8080

policy() { # METHOD
	apply_yaml <<YAML >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: server}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
      rules:
        http: [{method: $1, path: "/.*"}]
YAML
}

# every sluice-proxy of this instance (by its control socket in our state dir)
instance_proxies() {
	local p
	for p in $(pgrep -x sluice-proxy); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "--control $SL_STATE/" && echo "$p"
	done
}
# get50: 50 GETs, prints "<403 count> <others>"
get50() {
	local i code n403=0 other=""
	for i in $(seq 1 50); do
		code=$(http default/client "http://$IP_server:8080/x$i")
		if [ "$code" = 403 ]; then n403=$((n403 + 1)); else other="$other $code"; fi
	done
	echo "$n403 ${other:- none}"
}

policy GET
P1=$(proxy_wait_ready 0) || fail "first proxy ready"
check "GET allowed under the first policy" test "$(http default/client "http://$IP_server:8080/a")" = 200

echo "# kill -9 the proxy; the agent starts another"
kill -KILL "$P1"
P2=$(proxy_wait_ready "$P1") || fail "second proxy ready"
check "GET allowed through the second proxy" test "$(http default/client "http://$IP_server:8080/b")" = 200

echo "# kill -9 the agent, start it again with the same flags"
sl_agent_kill KILL
sl_agent_start --proxy-restart-delay 200 --proxy-orphan-grace "$GRACE_MS" || fail "agent restarted"
P2b=$(proxy_wait_ready 0) || fail "proxy ready after the agent restart"
check "the restarted agent adopted the running proxy ($P2 = $P2b)" test "$P2" = "$P2b"

echo "# sluice proxy restart, with requests flowing through the old proxy meanwhile"
# (each request makes the old proxy send stats the agent no longer reads:
# closing a channel with unread datagrams resets it, which is how the old
# proxy used to lose its "drain" and serve old rules for ever)
rm -f "$SL_WORK/stop"
( while [ ! -e "$SL_WORK/stop" ]; do http default/client "http://$IP_server:8080/bg" >/dev/null; done ) &
SL_PIDS+=($!)
sleep 1
check "proxy restart requested" sl proxy restart
P3=$(proxy_wait_ready "$P2") || fail "third proxy ready"
sleep 1
touch "$SL_WORK/stop"
wait "${SL_PIDS[-1]}" 2>/dev/null

echo "# a policy without GET"
policy POST
wait_proxy_rules
read -r n403 others <<<"$(get50)"
echo "  50 GETs: $n403 got 403, others:$others"
check "all 50 GETs answered 403 under the new rules" test "$n403" = 50
check "the replaced proxy ($P2) drained and exited within its 10 s limit" pid_gone "$P2" 15
check "the killed proxy ($P1) is gone" pid_gone "$P1" 1
n=$(instance_proxies | wc -l)
check "exactly one proxy of this instance runs (found $n)" test "$n" = 1
check "it is the agent's proxy ($P3)" test "$(instance_proxies)" = "$P3"

echo "# the agent goes away for good: the proxy serves for the grace period, then fails closed"
policy GET
wait_proxy_rules
check "GET allowed again" test "$(http default/client "http://$IP_server:8080/c")" = 200
# without an agent, `sluice pod exec` is gone: curl from the client's netns
CLIENT_NS=$(pod_netns "$IP_client")
nscurl() { ip netns exec "$CLIENT_NS" curl -s -o /dev/null -w '%{http_code}' --connect-timeout 1 -m 3 "$1"; }
# from before the kill: the grace starts when the proxy sees the agent go,
# which is after this, however late the shell gets to run again
t0=$(date +%s%N)
sl_agent_kill KILL
check "within the grace period the orphaned proxy still serves" test "$(nscurl "http://$IP_server:8080/d")" = 200
check "after the grace period the orphaned proxy exits" pid_gone "$P3" 20
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "  the orphaned proxy exited $ms ms after the agent was killed (grace $GRACE_MS ms)"
check "it did not exit before the grace period" test "$ms" -ge $((GRACE_MS - 500))
code=$(nscurl "http://$IP_server:8080/e")
check "with no agent and no proxy, the L7 port fails closed (got $code)" test "$code" = 000
check "the server never saw the request made without a proxy" sh -c "! grep -q ' /e' '$SL_WORK/server-default_server.log'"
t_finish
