#!/usr/bin/env bash
# test_proxy_external.sh - the L7 proxy in its own process tree, as the
# chart's sluice-proxy DaemonSet runs it (sluiced --proxy-control PATH;
# sluice-proxy --control PATH --cgroup DIR --health ADDR), issue #13:
#   - with no proxy at PATH the agent waits for one (never starts one) and L7
#     ports fail closed; /readyz of the proxy is 503 until an agent configured it;
#   - the agent adopts the external proxy: 200/403 by the L7 policy;
#   - the agent is SIGKILLed and started again while one keep-alive
#     connection sends requests: every request on that one connection gets
#     its verdict (no reset, no reconnect), and the proxy is the same process;
#   - `sluice proxy restart` is refused (the proxy is not the agent's);
#   - the proxy dies: L7 fails closed at once; a new proxy at PATH is adopted;
#   - the agent goes for good: the proxy fails closed after its orphan grace;
#   - an in-pod listener the agent cannot make (the port still held) is
#     retried every second; the pod's L7 port fails closed until then.
source "$(dirname "$0")/lib.sh"
GRACE_MS=8000
CTL=/tmp/sluice-it-${T_NAME#test_}-$$/proxy-ext.sock
t_begin --proxy-control "$CTL"
HP=$((SL_METRICS_PORT + 3000))

pod default/client app=client
pod default/server app=server --port http=8080/TCP
serve default/server tcp:8080
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
        http: [{method: GET, path: "/public"}]
YAML
CLIENT_NS=$(pod_netns "$IP_client")
nscurl() { ip netns exec "$CLIENT_NS" curl -s -o /dev/null -w '%{http_code}' --connect-timeout 1 -m 3 "http://$IP_server:8080$1"; }
hget() { curl -s -o "$SL_WORK/hbody" -w '%{http_code}' -m 3 "http://127.0.0.1:$HP$1"; }
start_proxy() {
	sl_bg "$SL_BUILD/proxy/sluice-proxy" --control "$CTL" --bpf-root "$SL_PIN" \
		--cgroup "$SL_CG/${SL_NSPFX}system" --health "127.0.0.1:$HP" --orphan-grace-ms "$GRACE_MS"
	PROXY_PID=${SL_PIDS[-1]}
}

echo "# no proxy at $CTL yet"
sleep 1
check "the agent waits for the external proxy (state starting, mode external)" \
	test "$(proxy_field state) $(proxy_field mode)" = "starting external"
check "L7 port fails closed while no proxy answers" test "$(nscurl /public)" = 000
check "the agent says it waits" grep -q "waiting for the L7 proxy at $CTL" "$SL_AGENT_LOG"
n=$(pgrep -x sluice-proxy | while read -r p; do tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- "$SL_STATE" && echo "$p"; done | wc -l)
check "the agent started no proxy of its own" test "$n" = 0

echo "# the external proxy starts"
start_proxy
P=$(proxy_wait_ready 0) || fail "external proxy ready"
check "the agent adopted the external proxy (pid $P = $PROXY_PID)" test "$P" = "$PROXY_PID"
check "status (text) says the proxy is external, and its control socket" \
	sh -c "$SL_BUILD/cli/sluice --socket $SL_SOCK status | grep -qxF '  mode         external (control $CTL)'"
cg=$(awk -F: '$1 == 0 {print $3}' "/proc/$PROXY_PID/cgroup")
check "the proxy joined the agent's system cgroup ($cg)" test "/sys/fs/cgroup/unified$cg" = "$SL_CG/${SL_NSPFX}system"
check "GET /public: 200 through the external proxy" test "$(nscurl /public)" = 200
check "GET /private: 403" test "$(nscurl /private)" = 403
check "proxy /healthz 200" test "$(hget /healthz)" = 200
for _ in $(seq 1 50); do [ "$(hget /readyz)" = 200 ] && break; sleep 0.1; done
check "proxy /readyz 200 once configured by a connected agent" test "$(hget /readyz)" = 200

echo "# one keep-alive connection across an agent kill -9 and restart"
N=200
urls=()
for i in $(seq 1 $((N / 2))); do
	urls+=(-o /dev/null "http://$IP_server:8080/public" -o /dev/null "http://$IP_server:8080/private")
done
ip netns exec "$CLIENT_NS" curl -s --rate 10/s -w '%{http_code} %{num_connects}\n' \
	-m 90 "${urls[@]}" >"$SL_WORK/ka.log" 2>&1 &
KA=$!
SL_PIDS+=("$KA")
sleep 1.5
sl_agent_kill KILL
sleep 0.5
code=$(hget /readyz)
check "proxy /readyz 503 while no agent is connected ($(cat "$SL_WORK/hbody" 2>/dev/null | head -1))" test "$code" = 503
sl_agent_start --proxy-control "$CTL" || fail "agent restarted"
P2=$(proxy_wait_ready 0) || fail "proxy ready after the agent restart"
check "the restarted agent adopted the same proxy process ($P2 = $PROXY_PID)" test "$P2" = "$PROXY_PID"
check "the proxy process never restarted" kill -0 "$PROXY_PID"
check "the keep-alive client was still sending when the agent was back (the restart fell inside it)" kill -0 "$KA"
wait "$KA"
karc=$?
lines=$(grep -c . "$SL_WORK/ka.log")
bad=$(awk -v n="$N" 'NR % 2 == 1 && $1 != 200 {b++} NR % 2 == 0 && $1 != 403 {b++} END {print b + 0}' "$SL_WORK/ka.log")
conns=$(awk '{s += $2} END {print s + 0}' "$SL_WORK/ka.log")
echo "  keep-alive: $lines responses, $bad wrong verdicts, $conns TCP connections, curl exit $karc"
check "every request on the keep-alive connection got its verdict across the restart ($lines of $N: 200 /public, 403 /private)" \
	test "$lines $bad $karc" = "$N 0 0"
check "one TCP connection carried them all (no reset, no reconnect)" test "$conns" = 1
out=$(sl proxy restart 2>&1)
if echo "$out" | grep -q 'runs on its own'; then pass "sluice proxy restart refused for an external proxy: $out"
else fail "sluice proxy restart with an external proxy: $out"; fi

echo "# the proxy dies: fail closed, then a new proxy at the same path is adopted"
kill -KILL "$PROXY_PID"
wait "$PROXY_PID" 2>/dev/null
sleep 0.5
check "L7 fails closed once the external proxy is gone" test "$(nscurl /public)" = 000
check "the agent is not ready without its proxy" test "$(proxy_field state)" = starting
start_proxy
P3=$(proxy_wait_ready "$P") || fail "new external proxy adopted"
check "the new proxy ($P3) is adopted" test "$P3" = "$PROXY_PID"
check "GET /public: 200 again" test "$(nscurl /public)" = 200
check "GET /private: 403 again" test "$(nscurl /private)" = 403

echo "# the agent goes for good: the proxy fails closed after its grace period"
sl_agent_kill KILL
check "within the grace period the proxy still serves" test "$(nscurl /public)" = 200
check "after the grace period ($GRACE_MS ms) the proxy exits" pid_gone "$PROXY_PID" 20
check "with no agent and no proxy the L7 port fails closed" test "$(nscurl /public)" = 000

echo "# an in-pod listener that cannot be made is retried; its L7 port fails closed meanwhile"
SERVER_NS=$(pod_netns "$IP_server")
# something else holds the proxy port inside the server's netns (as a proxy
# that is still draining would)
ip netns exec "$SERVER_NS" /usr/bin/python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 15001)); s.listen(); time.sleep(60)' &
HOLD=$!
SL_PIDS+=("$HOLD")
sleep 0.5
sl_agent_start --proxy-control "$CTL" || fail "agent restarted"
start_proxy
proxy_wait_ready 0 >/dev/null || fail "proxy ready"
check "the agent says it cannot make the server's listener" grep -q "proxy listener for default/server: cannot listen" "$SL_AGENT_LOG"
check "meanwhile the server's L7 port fails closed" test "$(nscurl /public)" = 000
kill "$HOLD"
wait "$HOLD" 2>/dev/null
code=
for _ in $(seq 1 50); do
	code=$(nscurl /public)
	[ "$code" = 200 ] && break
	sleep 0.2
done
check "once the port is free the listener is made on retry: GET /public 200" test "$code" = 200
check "  GET /private 403" test "$(nscurl /private)" = 403
check "  and the agent says so" grep -q "proxy listener for default/server made on retry" "$SL_AGENT_LOG"
t_finish
