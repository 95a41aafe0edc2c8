#!/usr/bin/env bash
# CiliumCIDRGroup: CIDR sets that name groups (cidrGroupRef,
# cidrGroupSelector) against real addresses outside the cluster (two
# "world" namespaces in 198.51.100.0/24): cilium-cli's
# client-egress-to-cidrgroup-deny and its by-label variant, a group created
# after the policy that names it, changed and deleted live, bad input, and
# an agent restart.
source "$(dirname "$0")/lib.sh"
t_begin

pod default/server app=server
pod default/client app=client
serve default/server tcp:80
W1=$(sl_world_create one 14) || { fail "world one"; t_finish; } # 198.51.100.58, in 198.51.100.56/30
W2=$(sl_world_create two 15) || { fail "world two"; t_finish; } # 198.51.100.62, in 198.51.100.60/30
for w in one two; do
	sl_bg ip netns exec "${SL_NSPFX}w$w" python3 "$TOOLS/podserver.py" "$w" "$SL_WORK/w$w.log" tcp:8000
done
from_w() { ip netns exec "${SL_NSPFX}w$1" python3 "$TOOLS/probe.py" tcp "$IP_server" 80 "${2:-1.0}"; }
wait_host_addr "$(sl_world_host_ip 14)"
wait_host_addr "$(sl_world_host_ip 15)"
sleep 0.3
check "no policy: client reaches $W1:8000" can default/client tcp "$W1" 8000
check "no policy: client reaches $W2:8000" can default/client tcp "$W2" 8000

# client-egress-to-cidrgroup-deny: the group holds both worlds, the deny
# excepts W1; toEntities world allows the rest
apply_yaml >/dev/null <<YAML
apiVersion: cilium.io/v2alpha1
kind: CiliumCIDRGroup
metadata:
  name: test-external-cidr
  labels: {destination: external}
spec:
  externalCIDRs: ["198.51.100.56/29"]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: client-egress-to-cidrgroup-deny}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toEntities: [world]
  egressDeny:
  - toCIDRSet:
    - cidrGroupRef: test-external-cidr
      except: ["$W1/32"]
YAML
check "cidrGroupRef deny except $W1/32: client reaches $W1:8000" can default/client tcp "$W1" 8000
check "cidrGroupRef deny except $W1/32: client dropped to $W2:8000" dropped default/client tcp "$W2" 8000
check "the group's prefix has a CIDR identity" sh -c "'$SL_BUILD/cli/sluice' --socket '$SL_SOCK' identity list | grep -q 'cidr:198.51.100.56/29'"
check "policy list shows the group" sh -c "'$SL_BUILD/cli/sluice' --socket '$SL_SOCK' policy list | grep -q '^CiliumCIDRGroup  *test-external-cidr '"
check "policy get -o yaml prints the group as stored" sh -c "'$SL_BUILD/cli/sluice' --socket '$SL_SOCK' policy get test-external-cidr -o yaml | grep -q '198.51.100.56/29'"

# the -by-label variant: cidrGroupSelector
apply_yaml >/dev/null <<YAML
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: client-egress-to-cidrgroup-deny}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toEntities: [world]
  egressDeny:
  - toCIDRSet:
    - cidrGroupSelector: {matchLabels: {destination: external}}
      except: ["$W2/32"]
YAML
check "cidrGroupSelector deny except $W2/32: client dropped to $W1:8000" dropped default/client tcp "$W1" 8000
check "cidrGroupSelector deny except $W2/32: client reaches $W2:8000" can default/client tcp "$W2" 8000
# the group loses the label: the selector names nothing, nothing is denied
apply_yaml >/dev/null <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumCIDRGroup
metadata: {name: test-external-cidr, labels: {destination: internal}}
spec: {externalCIDRs: ["198.51.100.56/29"]}
YAML
check "group relabelled: the selector names it no more, client reaches $W1:8000" can default/client tcp "$W1" 8000
sl policy delete default/client-egress-to-cidrgroup-deny >/dev/null
sl policy delete test-external-cidr >/dev/null

# ingress from a group created after the policy, changed and deleted live
apply_yaml >/dev/null <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: server}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromCIDRSet: [{cidrGroupRef: partners}]
    toPorts: [{ports: [{port: "80", protocol: TCP}]}]
YAML
check_not "group not created yet: $W1 dropped (the rule is no L4 rule for any peer)" from_w one 0.7
check "group not created yet: pod client dropped" dropped default/client tcp "$IP_server" 80
apply_yaml >/dev/null <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumCIDRGroup
metadata: {name: partners}
spec: {externalCIDRs: ["198.51.100.56/30"]}
YAML
check "group created with $W1's /30: $W1 allowed" from_w one
check_not "group created with $W1's /30: $W2 dropped" from_w two 0.7
apply_yaml >/dev/null <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumCIDRGroup
metadata: {name: partners}
spec: {externalCIDRs: ["198.51.100.60/30"]}
YAML
check "group changed to $W2's /30: $W2 allowed" from_w two
check_not "group changed to $W2's /30: $W1 dropped" from_w one 0.7

# bad input: file, line and field; nothing applied
cat >"$SL_WORK/bad-group.yaml" <<'YAML'
apiVersion: cilium.io/v2alpha1
kind: CiliumCIDRGroup
metadata: {name: partners}
spec:
  externalCIDRs:
  - 198.51.100.56/30
  - 198.51.100.300/30
YAML
out=$(sl policy apply -f "$SL_WORK/bad-group.yaml" 2>&1)
[[ $out == *"bad-group.yaml:7: spec.externalCIDRs[1]: invalid CIDR \"198.51.100.300/30\""* ]] &&
	pass "a bad CIDR in a group is refused with file, line and field" ||
	fail "a bad CIDR in a group is refused with file, line and field (got: $out)"
check "... and the group in force is unchanged: $W2 allowed" from_w two
out=$(printf 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: server}\nspec:\n  endpointSelector: {}\n  ingress: [{fromCIDRSet: [{cidr: 10.0.0.0/8, cidrGroupRef: partners}]}]\n' |
	sl policy apply -f - 2>&1)
[[ $out == *"6: spec.ingress[0].fromCIDRSet[0]: cidr, cidrGroupRef and cidrGroupSelector are exclusive"* ]] &&
	pass "cidr and cidrGroupRef together are refused with the line" ||
	fail "cidr and cidrGroupRef together are refused with the line (got: $out)"

# the group and the policy survive an agent restart
sl_agent_kill KILL
sl_agent_start
check "after restart: $W2 allowed by the group" from_w two
check_not "after restart: $W1 still dropped" from_w one 0.7

# a clusterwide policy of the same name: --kind says which one goes
apply_yaml >/dev/null <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: partners}
spec:
  endpointSelector: {matchLabels: {app: nobody}}
  ingress: [{fromEntities: [world]}]
YAML
check_exit 1 "policy delete --kind bogus is refused" sl policy delete --kind bogus partners
sl policy delete --kind ccg partners >/dev/null
check_not "group deleted (--kind ccg): $W2 dropped" from_w two 0.7
check "... and the clusterwide policy of the same name stays" sh -c "'$SL_BUILD/cli/sluice' --socket '$SL_SOCK' policy list | grep -q '^CiliumClusterwideNetworkPolicy  *partners '"
sl policy delete --kind CiliumClusterwideNetworkPolicy partners >/dev/null
sl policy delete default/server >/dev/null
check "policy deleted: $W1 reaches the server" from_w one
t_finish
