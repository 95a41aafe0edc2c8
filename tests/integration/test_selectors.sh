#!/usr/bin/env bash
# matchExpressions operators and namespace scoping.
source "$(dirname "$0")/lib.sh"
t_begin

pod default/server app=server
pod default/c-prod app=client,env=prod
pod default/c-dev app=client,env=dev
pod default/c-none app=client
pod other/c-prod app=client,env=prod
serve default/server tcp:80

policy_expr() {
	apply_yaml <<YAML >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: expr}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints:
    - matchExpressions:
      - $1
YAML
}
policy_expr '{key: env, operator: In, values: [prod, staging]}'
check "In: prod allowed" can default/c-prod tcp "$IP_server" 80
check "In: dev dropped" dropped default/c-dev tcp "$IP_server" 80
check "In: no env dropped" dropped default/c-none tcp "$IP_server" 80
policy_expr '{key: env, operator: NotIn, values: [prod]}'
check "NotIn: dev allowed" can default/c-dev tcp "$IP_server" 80
check "NotIn: no env allowed" can default/c-none tcp "$IP_server" 80
check "NotIn: prod dropped" dropped default/c-prod tcp "$IP_server" 80
policy_expr '{key: env, operator: Exists}'
check "Exists: dev allowed" can default/c-dev tcp "$IP_server" 80
check "Exists: no env dropped" dropped default/c-none tcp "$IP_server" 80
policy_expr '{key: env, operator: DoesNotExist}'
check "DoesNotExist: no env allowed" can default/c-none tcp "$IP_server" 80
check "DoesNotExist: prod dropped" dropped default/c-prod tcp "$IP_server" 80

# namespace scoping: a namespaced policy only selects peers of its namespace
policy_expr '{key: env, operator: In, values: [prod]}'
check "scoped: other/c-prod dropped (other namespace)" dropped other/c-prod tcp "$IP_server" 80
apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: expr}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints:
    - matchLabels: {env: prod, k8s:io.kubernetes.pod.namespace: other}
YAML
check "naming the namespace label: other/c-prod allowed" can other/c-prod tcp "$IP_server" 80
check "naming the namespace label: default/c-prod dropped" dropped default/c-prod tcp "$IP_server" 80

# namespace labels: as in Cilium, a selector that does not name the pod
# namespace key stays scoped to the policy's namespace...
sl namespace label other team=blue >/dev/null
apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: expr}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints:
    - matchLabels: {k8s:io.cilium.k8s.namespace.labels.team: blue}
YAML
check "namespace label selector without the namespace key stays scoped: other/c-prod dropped" dropped other/c-prod tcp "$IP_server" 80
# ...and with an Exists on it, selects across namespaces
apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: expr}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints:
    - matchLabels: {k8s:io.cilium.k8s.namespace.labels.team: blue}
      matchExpressions: [{key: io.kubernetes.pod.namespace, operator: Exists}]
YAML
check "namespace label selector across namespaces: other/c-prod allowed" can other/c-prod tcp "$IP_server" 80
check "namespace label selector across namespaces: default/c-prod dropped" dropped default/c-prod tcp "$IP_server" 80
sl namespace label other team- >/dev/null
check "namespace label removed: other/c-prod dropped at once" dropped other/c-prod tcp "$IP_server" 80

# a clusterwide policy is not scoped
sl policy delete default/expr >/dev/null
apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: ccnp}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints: [{matchLabels: {env: prod}}]
YAML
check "CCNP: default/c-prod allowed" can default/c-prod tcp "$IP_server" 80
check "CCNP: other/c-prod allowed" can other/c-prod tcp "$IP_server" 80
check "CCNP: dev dropped" dropped default/c-dev tcp "$IP_server" 80

# a namespace relabel moves its four pods in one batch: two regenerations
# in all (every map learns the new identities, then the old ones go), not
# two per pod; and the traffic follows
default_ids() { # NAME=IDENTITY of default's pods, from the agent
	sl pod list -o json 2>/dev/null | python3 -c '
import json, sys
v = json.load(sys.stdin)
items = v.get("items", []) if isinstance(v, dict) else v
print(" ".join(sorted("%s=%s" % (p.get("name"), p.get("identity"))
                      for p in items if p.get("namespace") == "default")))'
}
ids_before=$(default_ids)
before=$(status_field regenerations)
sl namespace label default tier=web >/dev/null || fail "label default"
after=$(status_field regenerations)
expect_eq "namespace relabel of 4 pods: 2 regenerations, not 2 per pod" 2 $((after - before))
expect_eq "the 4 pods of default all moved to new identities" 4 "$(python3 -c '
import sys
a = dict(x.split("=") for x in sys.argv[1].split())
b = dict(x.split("=") for x in sys.argv[2].split())
print(sum(1 for k in a if k in b and a[k] != b[k]))' "$ids_before" "$(default_ids)")"
check "after the namespace relabel: default/c-prod allowed" can default/c-prod tcp "$IP_server" 80
check "after the namespace relabel: dev dropped" dropped default/c-dev tcp "$IP_server" 80
check "after the namespace relabel: other/c-prod allowed" can other/c-prod tcp "$IP_server" 80
t_finish
