#!/usr/bin/env bash
# One agent per instance (#10 item 2): a second sluiced with the same flags
# refuses before it touches the socket, the pins or the maps, names the PID
# holding the lock and exits 1; the first keeps serving and enforcing.
source "$(dirname "$0")/lib.sh"
t_begin

pod default/client app=client
pod default/server app=server
serve default/server tcp:8080 tcp:8081
apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: server}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
YAML
check "before: 8080 allowed" can default/client tcp "$IP_server" 8080
check "before: 8081 dropped" dropped default/client tcp "$IP_server" 8081
pins_before=$(ls "$SL_PIN" | sort | md5sum)
sock_before=$(stat -c %i "$SL_SOCK")

# shellcheck disable=SC2046
timeout 30 "$SL_BUILD/agent/sluiced" $(sl_agent_args) >"$SL_WORK/second.out" 2>"$SL_WORK/second.err"
rc=$?
echo "  second agent: exit $rc: $(head -1 "$SL_WORK/second.err")"
check "the second agent exits 1" test "$rc" = 1
check "its message names the PID holding the lock ($SL_AGENT_PID)" grep -q "pid $SL_AGENT_PID" "$SL_WORK/second.err"
check_not "it did not get as far as the datapath" grep -qi "adopted\|ready on" "$SL_WORK/second.err"
check "the API socket is the first agent's, untouched" test "$(stat -c %i "$SL_SOCK")" = "$sock_before"
check "the pins are untouched" test "$(ls "$SL_PIN" | sort | md5sum)" = "$pins_before"
check "the first agent still answers" sl status
check "the first agent is alive" kill -0 "$SL_AGENT_PID"
check "after: 8080 still allowed" can default/client tcp "$IP_server" 8080
check "after: 8081 still dropped" dropped default/client tcp "$IP_server" 8081
check "the policy is still there" sl policy get default/server

# --cleanup with a running agent would pull its datapath away: refused too
# shellcheck disable=SC2046
timeout 30 "$SL_BUILD/agent/sluiced" $(sl_agent_args) --cleanup >"$SL_WORK/cleanup.out" 2>"$SL_WORK/cleanup.err"
rc=$?
check "--cleanup while the agent runs is refused (exit $rc)" test "$rc" = 1
check "and names the PID" grep -q "pid $SL_AGENT_PID" "$SL_WORK/cleanup.err"
check "the first agent still answers after that" sl status
check "8081 still dropped after that" dropped default/client tcp "$IP_server" 8081

echo "# once the first agent is gone, the lock is free"
sl_agent_kill KILL
check "a new agent starts with the same flags" sl_agent_start
check "it adopted the policy" sl policy get default/server
t_finish
