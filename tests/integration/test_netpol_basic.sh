#!/usr/bin/env bash
# Kubernetes NetworkPolicy, the basics, as the API reference defines them:
# which pods a policy isolates (podSelector, policyTypes and its default),
# default deny, allow all, and the peers podSelector and namespaceSelector
# alone, together in one peer (AND) and as two peers (OR); several
# policies add up. Every case probes the full 9-pod matrix.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netpol/lib.sh"
t_begin
np_topology || t_finish

np_reset
np_check "no policy: every pod reaches every pod on every port"

# "podSelector: {}" selects every pod of the policy's namespace; a policy
# with policyTypes [Ingress] and no ingress rule allows no ingress.
np_reset
np_apply <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-ingress, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Ingress]
YAML
np_expect '*' 'x/*' '*' deny
np_check "default deny ingress in x: nothing reaches x, x reaches everyone else"

np_reset
np_apply <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-egress, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
YAML
np_expect 'x/*' '*' '*' deny
np_check "default deny egress in x: x reaches nothing, everyone reaches x"

# "ingress: [{}]": one rule with no from and no ports matches everything;
# it adds up with a default deny on the same pods.
np_reset
np_apply <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-all, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: x}
spec:
  podSelector: {}
  ingress: [{}]
  egress: [{}]
  policyTypes: [Ingress, Egress]
YAML
np_check "default deny all + allow all ingress and egress ([{}]): everything allowed"

# "ingress: []" (present but empty, no policyTypes): Ingress is isolated
# and nothing is allowed; egress is not touched.
np_reset
np_apply <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: empty-ingress, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: []
YAML
np_expect '*' 'x/a' '*' deny
np_check "ingress: [] on x/a denies all ingress to x/a only"

# A podSelector peer selects pods of the policy's own namespace.
np_reset
np_apply <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-b, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - podSelector: {matchLabels: {pod: b}}
YAML
np_expect '*' 'x/a' '*' deny
np_expect 'x/b' 'x/a' '*' allow
np_check "podSelector peer: only x/b reaches x/a (y/b and z/b do not)"

# namespaceSelector alone: every pod of the matching namespaces, here by
# the kubernetes.io/metadata.name label every namespace carries.
np_reset
np_apply <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-ns-y, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
YAML
np_expect '*' 'x/a' '*' deny
np_expect 'y/*' 'x/a' '*' allow
np_check "namespaceSelector on kubernetes.io/metadata.name: all of y reaches x/a"

# podSelector and namespaceSelector in ONE peer: both must match.
np_reset
np_apply <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: and, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
      podSelector: {matchLabels: {pod: b}}
YAML
np_expect '*' 'x/a' '*' deny
np_expect 'y/b' 'x/a' '*' allow
np_check "namespaceSelector AND podSelector in one peer: only y/b reaches x/a"

# The same selectors as TWO peers: either may match.
np_reset
np_apply <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: or, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
    - podSelector: {matchLabels: {pod: b}}
YAML
np_expect '*' 'x/a' '*' deny
np_expect 'y/*' 'x/a' '*' allow
np_expect 'x/b' 'x/a' '*' allow
np_check "namespaceSelector OR podSelector (two peers): y/* and x/b reach x/a"

# namespaceSelector {} selects every namespace; with a podSelector, the
# matching pods of every namespace. matchExpressions work on both.
np_reset
np_apply <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: c-anywhere, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - namespaceSelector: {}
      podSelector: {matchLabels: {pod: c}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: not-x-not-c, namespace: y}
spec:
  podSelector:
    matchExpressions: [{key: pod, operator: In, values: [a, b]}]
  ingress:
  - from:
    - namespaceSelector:
        matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [x]}]
YAML
np_expect '*' 'x/a' '*' deny
np_expect '*/c' 'x/a' '*' allow
np_expect '*' 'y/[ab]' '*' deny
np_expect '[yz]/*' 'y/[ab]' '*' allow
np_check "namespaceSelector {} + podSelector: every c reaches x/a; NotIn [x]: y and z reach y/a, y/b"

# policyTypes [Egress] only: ingress rules in the same policy are ignored,
# ingress stays open.
np_reset
np_apply <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-only, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  ingress:
  - from: [{podSelector: {matchLabels: {pod: b}}}]
  egress:
  - to: [{podSelector: {matchLabels: {pod: c}}}]
YAML
np_expect 'x/a' '*' '*' deny
np_expect 'x/a' 'x/c' '*' allow
np_check "policyTypes [Egress]: x/a reaches only x/c, ingress to x/a untouched"

# Without policyTypes: Ingress always, Egress because there are egress
# rules. So this policy also isolates x/a's ingress (with no rule: deny).
np_reset
np_apply <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-types, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  egress:
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: z}}}]
YAML
np_expect 'x/a' '*' '*' deny
np_expect 'x/a' 'z/*' '*' allow
np_expect '*' 'x/a' '*' deny
np_check "policyTypes defaulted (egress rules present): x/a isolated both ways, egress to z only"

# Several policies on one pod add up, whatever their order or kind of peer.
np_reset
np_apply <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: one, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{podSelector: {matchLabels: {pod: b}}}]
    ports: [{port: 80}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: two, namespace: x}
spec:
  podSelector: {}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: z}}}]
    ports: [{port: 81, protocol: UDP}]
YAML
np_expect '*' 'x/*' '*' deny
np_expect 'x/b' 'x/a' 'tcp/80' allow
np_expect 'z/*' 'x/*' 'udp/81' allow
np_check "two policies add up: x/b->x/a tcp/80, z->x udp/81"

# Replies of allowed connections always pass: x/a may only send to y/b,
# y/b may only receive from x/a; the connection and its replies work.
np_reset
np_apply <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-to-yb, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress, Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
      podSelector: {matchLabels: {pod: b}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: yb-from-xa, namespace: y}
spec:
  podSelector: {matchLabels: {pod: b}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: x}}
      podSelector: {matchLabels: {pod: a}}
YAML
np_expect 'x/a' '*' '*' deny
np_expect '*' 'x/a' '*' deny
np_expect 'y/b' '*' '*' deny
np_expect '*' 'y/b' '*' deny
np_expect 'x/a' 'y/b' '*' allow
np_check "both ends isolated both ways: x/a -> y/b works (replies pass), nothing else touches them"

np_reset
t_finish
