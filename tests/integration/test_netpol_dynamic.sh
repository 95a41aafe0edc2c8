#!/usr/bin/env bash
# Kubernetes NetworkPolicy over time and next to Cilium policies: a policy
# updated in place and deleted; a pod and a namespace relabelled; pods
# deleted and created again (a new address); a CiliumNetworkPolicy allow
# adding to a NetworkPolicy on the same pods, and a CNP ingressDeny
# winning over both. Nothing is re-applied: what is allowed follows at once.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netpol/lib.sh"
t_begin
np_topology || t_finish

from_pod() {
	cat <<YAML
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: x-a, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{podSelector: {matchLabels: {pod: $1}}}]
YAML
}

np_reset
from_pod b | np_apply
np_expect '*' 'x/a' '*' deny
np_expect 'x/b' 'x/a' '*' allow
np_check "policy x-a: x/b reaches x/a"

from_pod c | np_apply
np_expect '*' 'x/a' '*' deny
np_expect 'x/c' 'x/a' '*' allow
np_check "x-a updated in place (from pod=c): x/c reaches x/a, x/b no longer"

sl policy delete x/x-a >/dev/null || fail "delete x/x-a"
np_expect_all .
np_check "x-a deleted: everything allowed again"

# A pod relabelled into and out of a selector.
np_reset
np_apply <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: clients, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {}, podSelector: {matchLabels: {role: client}}}]
YAML
np_expect '*' 'x/a' '*' deny
np_check "from role=client anywhere: nobody has the label, nobody reaches x/a"
sl pod label y/b role=client >/dev/null || fail "label y/b"
np_expect 'y/b' 'x/a' '*' allow
np_check "y/b labelled role=client: reaches x/a at once"
sl pod label y/b role- >/dev/null || fail "unlabel y/b"
np_expect 'y/b' 'x/a' '*' deny
np_check "label removed again: y/b dropped at once"

# The policy's own pod relabelled out of its podSelector: unrestricted.
sl pod label x/a pod=aa >/dev/null || fail "relabel x/a"
np_expect_all .
np_check "x/a relabelled pod=aa: no policy selects it, everything allowed"
sl pod label x/a pod=a >/dev/null || fail "relabel x/a back"
np_expect '*' 'x/a' '*' deny
np_check "x/a labelled pod=a again: isolated again"

# A namespace relabelled into and out of a namespaceSelector.
np_reset
np_apply <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: blue-team, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {team: blue}}}]
YAML
np_expect 'x/*' '*' '*' deny
np_check "egress to namespaces team=blue: none yet, x reaches nothing"
sl namespace label z team=blue >/dev/null || fail "label z"
np_expect 'x/*' 'z/*' '*' allow
np_check "namespace z labelled team=blue: x reaches z at once"
sl namespace label x team=blue >/dev/null || fail "label x"
np_expect 'x/*' 'x/*' '*' allow
np_check "namespace x labelled team=blue too: x reaches x and z"
sl namespace label z team- >/dev/null || fail "unlabel z"
np_expect 'x/*' 'z/*' '*' deny
np_check "label removed from z: x no longer reaches z"
sl namespace label x team- >/dev/null || fail "unlabel x"

# Pods deleted and created again: a selector follows labels (the new pod
# matches), an ipBlock follows addresses (the new pod has a new one).
np_reset
np_apply <<YAML
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: by-label-and-ip, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - podSelector: {matchLabels: {pod: b}}
    - ipBlock: {cidr: ${NP_IP[y/c]}/32}
YAML
np_expect '*' 'x/a' '*' deny
np_expect 'x/b' 'x/a' '*' allow
np_expect 'y/c' 'x/a' '*' allow
np_check "from pod=b and from y/c's address"
old_yc=${NP_IP[y/c]}
sl pod delete x/b >/dev/null || fail "delete x/b"
sl pod delete y/c >/dev/null || fail "delete y/c"
np_pod_create x/b pod=b
np_pod_create y/c pod=c
np_wait_servers x/b y/c
[ "${NP_IP[y/c]}" != "$old_yc" ] || fail "y/c got its old address back"
np_expect 'y/c' 'x/a' '*' deny
np_check "x/b and y/c recreated: the new x/b matches the selector, the new y/c is not at the old address"

# Mixed with Cilium policies on the same pod: allows add up across kinds,
# and a CNP deny wins over both.
np_reset
np_apply <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np-from-b, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{podSelector: {matchLabels: {pod: b}}}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: cnp-from-y, namespace: x}
spec:
  endpointSelector: {matchLabels: {pod: a}}
  ingress:
  - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: y}}]
    toPorts: [{ports: [{port: "80", protocol: TCP}]}]
YAML
np_expect '*' 'x/a' '*' deny
np_expect 'x/b' 'x/a' '*' allow
np_expect 'y/*' 'x/a' 'tcp/80' allow
np_check "NetworkPolicy + CNP on x/a: x/b (NP) and y on tcp/80 (CNP) add up"
np_apply <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: cnp-deny, namespace: x}
spec:
  endpointSelector: {matchLabels: {pod: a}}
  ingressDeny:
  - fromEndpoints: [{matchLabels: {pod: b}}]
    toPorts: [{ports: [{port: "80", protocol: TCP}, {port: "81", protocol: UDP}]}]
  - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: y, pod: c}}]
YAML
np_expect 'x/b' 'x/a' 'tcp/80' deny
np_expect 'x/b' 'x/a' 'udp/81' deny
np_expect 'y/c' 'x/a' '*' deny
np_check "CNP ingressDeny wins: x/b loses tcp/80 and udp/81, y/c loses everything"

np_reset
t_finish
