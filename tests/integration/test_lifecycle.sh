#!/usr/bin/env bash
# The agent's lifecycle: errors when it is down, enforcement survives a
# SIGKILL, a restarted agent adopts the pinned state, and cleanup leaves
# no namespace, link, cgroup, pin or process behind.
source "$(dirname "$0")/lib.sh"
t_begin

pod default/server app=server
pod default/client app=client
pod default/evil app=evil
serve default/server tcp:80
apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: clients}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
YAML
check "client allowed" can default/client tcp "$IP_server" 80

sl_agent_kill KILL
check_not "CLI fails when the agent is down" sl status
out=$(sl status 2>&1); [ "$(echo "$out" | wc -l)" = 1 ] && pass "one-line reason: $out" || fail "one-line reason: $out"
# pod exec needs the agent, so probe from inside the netns directly
NSC=$(python3 -c 'import json; s=json.load(open("'"$SL_STATE"'/pods.json")); print([p["netns"] for p in s["pods"] if p["name"]=="client"][0])')
NSE=$(python3 -c 'import json; s=json.load(open("'"$SL_STATE"'/pods.json")); print([p["netns"] for p in s["pods"] if p["name"]=="evil"][0])')
check "agent killed: client still allowed" ip netns exec "$NSC" python3 "$TOOLS/probe.py" tcp "$IP_server" 80
check "agent killed: evil still dropped" sh -c "ip netns exec $NSE python3 $TOOLS/probe.py tcp $IP_server 80 0.7; [ \$? -eq 2 ]"

sl_agent_start
check "restarted agent adopted pinned state" sh -c "$SL_BUILD/cli/sluice --socket $SL_SOCK status -o json | grep -q '\"adopted_pinned_state\": true'"
[ "$(sl pod list | grep -c default/)" = 3 ] && pass "restarted agent knows the 3 pods" || fail "restarted agent knows the 3 pods"
check "after restart: client allowed" can default/client tcp "$IP_server" 80
check "after restart: evil dropped" dropped default/evil tcp "$IP_server" 80

# A one-item change is parsed alone and kept as an edit in the stored
# text's journal; a restarted agent replays it and enforces the edited policy.
apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: clients}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: evil}}]
YAML
edits=$(sl status -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["policy_item_edits"])')
[ "$edits" = 1 ] && pass "the change was parsed as one item edit" || fail "item edits: $edits"
check "edit journal written" sh -c "ls $SL_STATE/policies/*.edits"
check "edited: evil allowed" can default/evil tcp "$IP_server" 80
check "edited: client dropped" dropped default/client tcp "$IP_server" 80
sl_agent_kill KILL
sl_agent_start
check "restart after the edit: stored policy is the edited one" sh -c "$SL_BUILD/cli/sluice --socket $SL_SOCK policy get default/clients -o yaml | grep -q 'app: evil'"
check "restart after the edit: evil allowed" can default/evil tcp "$IP_server" 80
check "restart after the edit: client dropped" dropped default/client tcp "$IP_server" 80

sl_cleanup
check_not "no netns left" sh -c "ip netns list | grep -q '^$SL_NSPFX'"
check_not "no pins left" test -e "$SL_PIN"
check_not "no cgroup left" test -e "$SL_CG"
check_not "no agent left" kill -0 "${SL_PIDS[0]:-999999}"
check_not "no blackhole route left" sh -c "ip route show | grep -q 'blackhole ${SL_CIDR}'"
t_finish
