#!/usr/bin/env bash
# The agent killed while changes are made through the API, then restarted:
# the pinned datapath keeps enforcing meanwhile and while the agent catches
# up (its first lists are slowed down by the fault relay), then the state
# converges: a policy deleted while it was down is gone, one created is in
# force, a pod deleted from the API is gone from the datapath, an identity
# object deleted while it was down but still used is created again.
source "$(dirname "$0")/agents.sh"
ka_begin a
ka_start a || { fail "agent syncs"; t_finish; }

kpod a default/client app=client
kpod a default/other app=other
kpod a default/server app=server http=8080/TCP
kpod a default/doomed app=doomed
kserve a default/server tcp:8080
kapply <<'YAML'
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: server-ingress
spec:
  endpointSelector:
    matchLabels:
      app: server
  ingress:
  - fromEndpoints:
    - matchLabels:
        app: client
---
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: doomed-ingress
spec:
  endpointSelector:
    matchLabels:
      app: doomed
  ingress:
  - fromEndpoints:
    - matchLabels:
        app: nobody
YAML
check "policies in force" kwait 20 bash -c "ka a policy list | grep -q doomed-ingress && ka a policy list | grep -q server-ingress"
check "client -> server allowed" kcan a default/client tcp "$IP_server" 8080
check "other -> server dropped" kdropped a default/other tcp "$IP_server" 8080
server_id=$(kident a default/server)
doomed_ep=$(ka a pod list -o json | python3 -c 'import json,sys; print([p["interface"] for p in json.load(sys.stdin)["items"] if p["name"]=="doomed"][0])')

ka_kill a KILL
pass "agent killed (SIGKILL)"
# changes while it is down
kc delete cnp server-ingress >/dev/null
kapply <<'YAML'
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: server-ingress-v2
spec:
  endpointSelector:
    matchLabels:
      app: server
  ingress:
  - fromEndpoints:
    - matchLabels:
        app: other
YAML
# two more that the relist brings with it, one of them not loading: the
# batch fails, and only that one is refused
kapply <<'YAML'
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: restart-extra
spec:
  endpointSelector:
    matchLabels:
      app: server
  ingress:
  - fromEndpoints:
    - matchLabels:
        app: client
    toPorts:
    - ports:
      - port: "9999"
        protocol: TCP
---
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: restart-bad
spec:
  endpointSelector:
    matchLabels:
      app: server
  ingress:
  - fromEndpoints:
    - matchLabels:
        app: client
    toPorts:
    - ports:
      - port: "80_a"
        protocol: TCP
YAML
kc delete pod doomed --grace-period=0 --force >/dev/null 2>&1
kc delete sluiceidentity "$server_id" >/dev/null
check "agent down: the pinned datapath still enforces (other -> server dropped)" \
	kdropped a default/other tcp "$IP_server" 8080
check "agent down: client -> server still allowed" kcan a default/client tcp "$IP_server" 8080

# restart through a slow API that holds the policy lists back: enforcement
# holds while the agent catches up (pods, identities and endpoints listed,
# policies not yet)
k8s_relay_start slow
k8s_relay_set slow '{"latency_ms": 500, "hold": "ciliumnetworkpolicies"}'
sed "s#server: .*#server: $K8S_RELAY_URL#" "$KA_WORK/agent.kubeconfig" >"$KA_WORK/relay.kubeconfig"
ka_use a
# shellcheck disable=SC2046
"$SL_BUILD/agent/sluiced" $(sl_agent_args) --node-name "${KA_NAME[a]}" \
	--kubeconfig "$KA_WORK/relay.kubeconfig" --k8s-endpoint-throttle 100 \
	>>"$SL_AGENT_OUT" 2>>"$SL_AGENT_LOG" &
KA_PID[a]=$!
kwait 10 ka a status >/dev/null
synced() { ka a status -o json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["kubernetes"]["synced"] else 1)'; }
coll_synced() { ka a status -o json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["kubernetes"]["collections"][sys.argv[1]]["synced"] else 1)' "$1"; }
export -f synced coll_synced
check "catching up: pods listed" kwait 30 coll_synced pods
if ! synced && ! coll_synced ciliumnetworkpolicies; then
	check "catching up: other -> server still dropped (nothing cleared before the policies are listed)" \
		kdropped a default/other tcp "$IP_server" 8080
	check "catching up: client -> server still allowed" kcan a default/client tcp "$IP_server" 8080
	check "catching up: the policy deleted while down is still in force" \
		bash -c "ka a policy list | grep -q 'server-ingress '"
else
	fail "the agent listed the held policies"
fi
k8s_relay_set slow '{}'
check "restarted agent syncs" kwait 60 synced
check "policy deleted while down is gone" kwait 20 bash -c "! ka a policy list | grep -q 'server-ingress '"
check "policy created while down is in force" kwait 20 bash -c "ka a policy list | grep -q server-ingress-v2"
check "listed with the others, a policy that does not load is refused alone" \
	kwait 20 bash -c "ka a policy list | grep restart-bad | grep -q 'invalid port'"
check "  and the others listed with it are in force" \
	bash -c "ka a policy list | grep restart-extra | grep -vq 'invalid port'"
check "converged: other -> server allowed (v2)" kwait 10 kcan a default/other tcp "$IP_server" 8080
check "converged: client -> server dropped (v2)" kdropped a default/client tcp "$IP_server" 8080
check "pod deleted while down is gone from the agent" kwait 20 bash -c "! ka a pod list | grep -q default/doomed"
check "  and from the datapath (no programs on its veth)" bash -c "! tc filter show dev $doomed_ep ingress 2>/dev/null | grep -q bpf"
check "identity deleted while down but still used is created again" kwait 20 kc get sluiceidentity "$server_id"
check "the pod keeps its identity number" kwait 10 bash -c "[ \"\$(kident a default/server)\" = '$server_id' ]"
t_finish
