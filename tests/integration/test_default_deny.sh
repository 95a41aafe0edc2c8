#!/usr/bin/env bash
# Default deny applies to a direction exactly when a rule selecting the
# endpoint has a section for it; replies of allowed connections pass;
# deleting the policy restores the default (allow).
source "$(dirname "$0")/lib.sh"
t_begin

pod default/a app=a
pod default/b app=b
serve default/a tcp:80
serve default/b tcp:80

apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: deny-all-ingress}
spec:
  endpointSelector: {matchLabels: {app: a}}
  ingress:
  - {}
YAML
check "ingress: [{}] drops all ingress to a" dropped default/b tcp "$IP_a" 80
check "a's egress is untouched (no egress section)" can default/a tcp "$IP_b" 80

apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: a-egress}
spec:
  endpointSelector: {matchLabels: {app: a}}
  egress:
  - toEndpoints: [{matchLabels: {app: b}}]
    toPorts: [{ports: [{port: "80", protocol: TCP}]}]
YAML
check "egress allow to b:80 works, and its replies pass a's ingress default deny" can default/a tcp "$IP_b" 80
check "a's egress elsewhere is now denied" dropped default/a tcp "${SL_CIDR%.0/24}.1" 80

sl policy delete default/deny-all-ingress >/dev/null
sl policy delete default/a-egress >/dev/null
check "policies deleted: b reaches a again" can default/b tcp "$IP_a" 80

cat >"$SL_WORK/no-sections.yaml" <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: deny-all-default}
spec:
  endpointSelector: {}
YAML
check_exit 1 "a rule with no sections is refused, as Cilium refuses it" sl policy apply -f "$SL_WORK/no-sections.yaml"
check_said "rule must have at least one of ingress, ingressDeny, egress or egressDeny"
check "and nothing is enforced" can default/b tcp "$IP_a" 80
t_finish
