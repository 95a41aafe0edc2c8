#!/usr/bin/env bash
# ingressDeny / egressDeny win over any allow, and a deny-only policy turns
# on default deny for its direction, as in Cilium.
source "$(dirname "$0")/lib.sh"
t_begin

pod default/server app=server
pod default/good app=client,team=a
pod default/evil app=client,team=b
serve default/server tcp:80 tcp:81

apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: allow-clients}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: deny-team-b}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingressDeny:
  - fromEndpoints: [{matchLabels: {team: b}}]
    toPorts: [{ports: [{port: "80", protocol: TCP}]}]
YAML
check "team a allowed on 80" can default/good tcp "$IP_server" 80
check "team b denied on 80 (deny beats the L3 allow)" dropped default/evil tcp "$IP_server" 80
check "team b still allowed on 81 (deny is for port 80 only)" can default/evil tcp "$IP_server" 81
# observe -o json names the policy that decided, as Hubble's
# ingress_allowed_by / ingress_denied_by (kind, namespace, name, labels)
sleep 0.3
# by_policy POD PORT FIELD: kind/namespace/name of FIELD's policy on that pod's flows to the port
by_policy() {
	sl observe --last 500 -o json --from-pod "$1" --to-port "$2" 2>/dev/null | python3 -c '
import json, sys
seen = set()
for line in sys.stdin:
    for p in json.loads(line)["flow"].get(sys.argv[1], []):
        want = ["k8s:io.cilium.k8s.policy.derived-from=" + p["kind"], "k8s:io.cilium.k8s.policy.name=" + p["name"],
                "k8s:io.cilium.k8s.policy.namespace=" + p["namespace"]]
        seen.add(p["kind"] + "/" + p["namespace"] + "/" + p["name"] + ("" if p["labels"] == want else " (labels wrong)"))
print(" ".join(sorted(seen)) or "none")' "$3"
}
expect_eq "observe: team a's flow to 80 says ingress_allowed_by allow-clients" \
	CiliumNetworkPolicy/default/allow-clients "$(by_policy default/good 80 ingress_allowed_by)"
expect_eq "observe: team b's drop on 80 says ingress_denied_by deny-team-b" \
	CiliumNetworkPolicy/default/deny-team-b "$(by_policy default/evil 80 ingress_denied_by)"
expect_eq "  and no policy allowed it" none "$(by_policy default/evil 80 ingress_allowed_by)"

apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: deny-team-b}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingressDeny:
  - fromEndpoints: [{matchLabels: {team: b}}]
YAML
check "L3 deny: team b dropped on 81 too" dropped default/evil tcp "$IP_server" 81
check "L3 deny: team a unaffected" can default/good tcp "$IP_server" 81

# egressDeny on the client side, with an allow-all egress
apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: good-egress}
spec:
  endpointSelector: {matchLabels: {team: a}}
  egress:
  - toEntities: [all]
  egressDeny:
  - toPorts: [{ports: [{port: "81", protocol: TCP}]}]
YAML
check "egressDeny port 81 wins over toEntities all" dropped default/good tcp "$IP_server" 81
check "egress to port 80 still allowed" can default/good tcp "$IP_server" 80

sl policy delete default/deny-team-b >/dev/null
sl policy delete default/good-egress >/dev/null
check "after deleting the deny, team b is allowed again" can default/evil tcp "$IP_server" 80

# a deny-only policy enables default deny (and enableDefaultDeny: false turns it off)
sl policy delete default/allow-clients >/dev/null
apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: deny-only}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingressDeny:
  - fromEndpoints: [{matchLabels: {team: b}}]
YAML
check "deny-only policy: team a dropped by default deny" dropped default/good tcp "$IP_server" 80
apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: deny-only}
spec:
  endpointSelector: {matchLabels: {app: server}}
  enableDefaultDeny: {ingress: false}
  ingressDeny:
  - fromEndpoints: [{matchLabels: {team: b}}]
YAML
check "enableDefaultDeny false: team a allowed" can default/good tcp "$IP_server" 80
check "enableDefaultDeny false: team b still denied" dropped default/evil tcp "$IP_server" 80
t_finish
