#!/usr/bin/env bash
# CIDR identities: fromCIDR / fromCIDRSet / ipBlock against real addresses
# outside the cluster (two "world" namespaces in 198.51.100.0/24), excepts,
# world covering CIDRs, deny by CIDR, and the difference between Cilium's
# fromCIDR (never a managed pod) and Kubernetes' ipBlock (pods too).
source "$(dirname "$0")/lib.sh"
t_begin

pod default/server app=server
pod default/client app=client
serve default/server tcp:80
W1=$(sl_world_create one 7) || { fail "world one"; t_finish; } # 198.51.100.30, in 198.51.100.28/30
W2=$(sl_world_create two 8) || { fail "world two"; t_finish; } # 198.51.100.34, in 198.51.100.32/30
from_w() { ip netns exec "${SL_NSPFX}w$1" python3 "$TOOLS/probe.py" tcp "$IP_server" 80 "${2:-1.0}"; }
# the worlds' host-side addresses must carry the host identity first
wait_host_addr "$(sl_world_host_ip 7)"
wait_host_addr "$(sl_world_host_ip 8)"

check "no policy: $W1 reaches the server" from_w one
check "no policy: $W2 reaches the server" from_w two

policy() {
	apply_yaml >/dev/null
}

policy <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: server}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromCIDR: [198.51.100.28/30]
YAML
check "fromCIDR 198.51.100.28/30: $W1 allowed" from_w one
check_not "fromCIDR 198.51.100.28/30: $W2 dropped" from_w two 0.7
check "fromCIDR 198.51.100.28/30: pod client dropped" dropped default/client tcp "$IP_server" 80
check "the prefix has a CIDR identity" sh -c "'$SL_BUILD/cli/sluice' --socket '$SL_SOCK' identity list | grep -q 'cidr:198.51.100.28/30'"

policy <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: server}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromCIDRSet: [{cidr: 198.51.100.0/24, except: [198.51.100.32/30]}]
YAML
check "fromCIDRSet /24 except 198.51.100.32/30: $W1 allowed" from_w one
check_not "fromCIDRSet /24 except 198.51.100.32/30: $W2 dropped" from_w two 0.7
check_not "198.51.100.28/30 is no longer named: its identity is gone" sh -c "'$SL_BUILD/cli/sluice' --socket '$SL_SOCK' identity list | grep -q 'cidr:198.51.100.28/30'"

# world covers CIDR identities even when another policy names the prefix
policy <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: server}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEntities: [world]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: client}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toCIDR: [198.51.100.0/24, 198.51.100.32/30]
YAML
check "fromEntities world while 198.51.100.0/24 is a CIDR identity: $W1 allowed" from_w one
check "fromEntities world while 198.51.100.32/30 is a CIDR identity: $W2 allowed" from_w two

# deny by CIDR wins over an allow of world
policy <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: server}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEntities: [world]
  ingressDeny:
  - fromCIDR: [198.51.100.32/30]
YAML
check "ingressDeny fromCIDR 198.51.100.32/30 + world allowed: $W1 allowed" from_w one
check_not "ingressDeny fromCIDR 198.51.100.32/30: $W2 dropped" from_w two 0.7
sl policy delete default/client >/dev/null

# Kubernetes ipBlock: outside addresses and pod addresses alike
apply_yaml >/dev/null <<YAML
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: server-np}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from:
    - ipBlock: {cidr: 198.51.100.0/24, except: [198.51.100.32/30]}
    - ipBlock: {cidr: $SL_CIDR}
YAML
sl policy delete default/server >/dev/null
check "ipBlock /24 except 198.51.100.32/30: $W1 allowed" from_w one
check_not "ipBlock /24 except 198.51.100.32/30: $W2 dropped" from_w two 0.7
check "ipBlock on the pod CIDR: pod client allowed" can default/client tcp "$IP_server" 80
apply_yaml >/dev/null <<YAML
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: server-cnp}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromCIDR: [$SL_CIDR]
YAML
sl policy delete default/server-np >/dev/null
check "fromCIDR on the pod CIDR: pod client still dropped (Cilium: never a managed pod)" dropped default/client tcp "$IP_server" 80
sl policy delete default/server-cnp >/dev/null
check "policies deleted: $W2 reaches the server again" from_w two

# Egress by CIDR to servers outside the cluster
for w in one two; do
	sl_bg ip netns exec "${SL_NSPFX}w$w" python3 "$TOOLS/podserver.py" "$w" "$SL_WORK/w$w.log" tcp:8000
done
sleep 0.5
check "no policy: client reaches $W2:8000" can default/client tcp "$W2" 8000
policy <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: client}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toCIDRSet: [{cidr: 198.51.100.0/24, except: [198.51.100.32/30]}]
    toPorts: [{ports: [{port: "8000", protocol: TCP}]}]
YAML
check "egress toCIDRSet except: client reaches $W1:8000" can default/client tcp "$W1" 8000
check "egress toCIDRSet except: client dropped to $W2:8000" dropped default/client tcp "$W2" 8000
check "egress toCIDRSet: client dropped to the server pod (not a CIDR peer)" dropped default/client tcp "$IP_server" 80
sl policy delete default/client >/dev/null

# A pod of another node at W1's address: Kubernetes' ipBlock selects it
# (pods by address), Cilium's fromCIDR does not (its /32 carries the pod's
# identity, which no CIDR peer names).
sl pod create remote/elsewhere --labels app=elsewhere --remote "$W1" >/dev/null || fail "remote pod"
apply_yaml >/dev/null <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: server-np}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from: [{ipBlock: {cidr: 198.51.100.28/30}}]
YAML
check "ipBlock holding a remote pod's address: the remote pod ($W1) allowed" from_w one
apply_yaml >/dev/null <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: server-cnp}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromCIDR: [198.51.100.28/30]
YAML
sl policy delete default/server-np >/dev/null
check_not "fromCIDR holding a remote pod's address: the remote pod ($W1) dropped" from_w one 0.7
sl policy delete default/server-cnp >/dev/null
sl pod delete remote/elsewhere >/dev/null

# Pods of other nodes in bulk: `sluice pod import`, all or none.
cat >"$SL_WORK/pods.txt" <<EOF
# namespace/name address labels
remote/imported-a $W2 app=imported,tier=back
remote/imported-b 198.51.100.7 app=imported
EOF
check "pod import registers the pods of a file" sl pod import "$SL_WORK/pods.txt"
[ "$(sl pod list | grep -c 'remote/imported-')" = 2 ] && pass "both imported pods are listed" || fail "imported pods: $(sl pod list | grep remote/)"
apply_yaml >/dev/null <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: from-imported}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: imported, k8s:io.kubernetes.pod.namespace: remote}}]
YAML
check "an imported pod is a peer by its labels ($W2 allowed)" from_w two
check_not "an address that is no imported pod ($W1) dropped" from_w one 0.7
printf 'remote/imported-c 198.51.100.8 app=imported\nremote/imported-a 198.51.100.9 app=imported\n' >"$SL_WORK/dup.txt"
check_not "an import naming an existing pod is rejected" sl pod import "$SL_WORK/dup.txt"
check_not "... whole: its other pod is not registered" sh -c "$SL_BUILD/cli/sluice --socket $SL_SOCK pod list | grep -q imported-c"
printf 'remote/imported-d not-an-address\n' >"$SL_WORK/bad.txt"
out=$(sl pod import "$SL_WORK/bad.txt" 2>&1)
case $out in *bad.txt:1:*) pass "a bad line is reported with its line: $out" ;; *) fail "bad line: $out" ;; esac
sl policy delete default/from-imported >/dev/null
sl pod delete remote/imported-a >/dev/null
sl pod delete remote/imported-b >/dev/null

# Across an agent restart: the CIDR identity keeps its number, and an
# ipcache entry the new agent's policies no longer name is removed.
ipc_has_w2_prefix() {
	bpftool map dump pinned "$SL_PIN/sluice_ipc_v1" | grep -A1 '"prefixlen": 126' | grep -q '255,255,198,51,100,32$'
}
cidr_ident() { sl identity list | awk '/cidr:198.51.100.32\/30/ { print $1 }'; }
policy <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: server}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEntities: [world]
  ingressDeny:
  - fromCIDR: [198.51.100.32/30]
YAML
before=$(cidr_ident)
check "198.51.100.32/30 is in the ipcache" ipc_has_w2_prefix
sl_agent_kill KILL
sl_agent_start
check "after restart: the entry is still in the ipcache" ipc_has_w2_prefix
check "after restart: the deny by CIDR still holds" sh -c "ip netns exec ${SL_NSPFX}wtwo python3 $TOOLS/probe.py tcp $IP_server 80 0.7; [ \$? -eq 2 ]"
[ -n "$before" ] && [ "$(cidr_ident)" = "$before" ] && pass "after restart: same CIDR identity ($before)" ||
	fail "after restart: CIDR identity $before became $(cidr_ident)"
sl_agent_kill KILL
python3 - "$SL_STATE/state.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["policies"] = []
json.dump(s, open(sys.argv[1], "w"))
PY
sl_agent_start
sl pod create default/nudge --labels app=nudge >/dev/null # runs a regeneration
check_not "restart without the policy: the stale CIDR entry is removed" ipc_has_w2_prefix
check "restart without the policy: $W2 reaches the server" from_w two

# A policy of many prefixes and its delete: the prefixes go into the
# ipcache in one batch and leave it in one batch (datapath/maps.c), and
# `sluice status` counts them in batches too.
ipc_count() { sl status | awk '$1 == "sluice_ipc_v1" { print $2 }'; }
base=$(ipc_count)
python3 - >"$SL_WORK/many.yaml" <<'PY'
print("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: many}\nspec:\n"
      "  endpointSelector: {matchLabels: {app: server}}\n  ingress:")
for i in range(3000):
    print(f"  - fromCIDR: [10.251.{i >> 8}.{i & 255}/32]")
PY
apply "$SL_WORK/many.yaml"
expect_eq "3000 prefixes in the ipcache (status counts them)" "$((base + 3000))" "$(ipc_count)"
expect_eq "bpftool sees as many" "$((base + 3000))" "$(bpftool map dump pinned "$SL_PIN/sluice_ipc_v1" | grep -c '"prefixlen"')"
sl policy delete default/many >/dev/null
expect_eq "after the delete: the 3000 prefixes are gone" "$base" "$(ipc_count)"
t_finish
