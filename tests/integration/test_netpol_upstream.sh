#!/usr/bin/env bash
# The Kubernetes NetworkPolicy end-to-end suite replayed on sluice:
# kubernetes/kubernetes test/e2e/network/netpol/network_policy.go (the
# "Netpol" cases, TCP and UDP) and the cases of network_legacy.go
# ("NetworkPolicyLegacy") whose policies differ from those. The same
# policies, the same expected reachability; each np_check names the
# upstream case ("upstream: <its name>", "upstream legacy: <its name>").
# Upstream cases that test_netpol_basic/ports/dynamic.sh already replay
# exactly are not repeated here; docs/netpol-e2e.md maps every upstream case
# to its check.
#
# Upstream probes one protocol and port per case on a few of the nine pods;
# here every step probes the whole 9-pod matrix on tcp/80, tcp/81, udp/80
# and udp/81, so each expectation below is upstream's carried over to the
# ports it did not probe (a rule without ports allows them all, a rule on
# TCP 81 allows nothing else). Upstream ignores a pod probing itself; so
# does the harness. First the cases with one policy set and one probe (and
# two that extend a case before them), then those that change something
# between probes (a policy added, updated in place or deleted, a pod or
# namespace relabelled, a pod created again; nothing is re-applied after a
# relabel: what is allowed follows at once).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netpol/lib.sh"
t_begin
np_topology || t_finish
# x/b's address, and makeLargeCIDRForIP's /4 around it
NP_XB=${NP_IP[x/b]}
NP_XB_4="$(( ${NP_XB%%.*} & 240 )).0.0.0/4"
NP_XB_24="${NP_XB%.*}.0/24" # the legacy cases' /24

# an egress policy of x/a to one ipBlock
cidr_egress() {
	np_policy "$1" <<YAML
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: $2}]
YAML
}

np_reset
np_policy deny-all x '{}' <<'YAML' | np_apply
  policyTypes: [Ingress, Egress]
  ingress: []
  egress: []
YAML
np_expect '*' 'x/*' '*' deny
np_expect 'x/*' '*' '*' deny
np_check "upstream: should support a 'default-deny-all' policy; and step 1 of: should stop enforcing policies after they are deleted"
# that case's step 2: the same policy deleted
sl policy delete x/deny-all >/dev/null || fail "delete x/deny-all"
np_expect_all .
np_check "upstream: should stop enforcing policies after they are deleted: deleted"

np_reset
{
np_policy deny-all x '{}' <<'YAML'
  policyTypes: [Ingress]
  ingress: []
YAML
np_policy allow-all-to-a <<'YAML'
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {}, namespaceSelector: {}}]
YAML
} | np_apply
np_expect '*' 'x/*' '*' deny
np_expect '*' 'x/a' '*' allow
np_check "upstream: should enforce policy to allow ingress traffic for a target"

np_reset
np_policy allow-from-another-ns <<'YAML' | np_apply
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {}}}]
YAML
np_check "upstream: should enforce policy to allow ingress traffic from pods in all namespaces"

np_reset
np_policy x-a-allows-x-b <<'YAML' | np_apply
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector:
        matchExpressions: [{key: pod, operator: In, values: [b]}]
YAML
np_expect '*' 'x/a' '*' deny
np_expect 'x/b' 'x/a' '*' allow
np_check "upstream: should enforce policy based on PodSelector with MatchExpressions"

np_reset
np_policy allow-ns-y-match-selector <<'YAML' | np_apply
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector:
        matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [y]}]
YAML
np_expect '[xz]/*' 'x/a' '*' deny
np_check "upstream: should enforce policy based on NamespaceSelector with MatchExpressions"

np_reset
np_policy allow-ns-y-match-selector <<'YAML' | np_apply
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector:
        matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [x]}]
    - podSelector: {matchLabels: {pod: b}}
YAML
np_expect 'x/c' 'x/a' '*' deny
np_check "upstream: should enforce policy based on PodSelector or NamespaceSelector"

np_reset
np_policy allow-ns-y-podselector-and-nsselector <<'YAML' | np_apply
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector:
        matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [x]}]
      podSelector: {matchLabels: {pod: b}}
YAML
np_expect '*' 'x/a' '*' deny
np_expect '[yz]/b' 'x/a' '*' allow
np_check "upstream: should enforce policy based on PodSelector and NamespaceSelector"

np_reset
np_policy allow-ns-y-z-pod-b-c <<'YAML' | np_apply
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector:
        matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [x]}]
      podSelector:
        matchExpressions: [{key: pod, operator: In, values: [b, c]}]
YAML
np_expect 'x/*' 'x/a' '*' deny
np_expect '[yz]/a' 'x/a' '*' deny
np_check "upstream: should enforce policy based on Multiple PodSelectors and NamespaceSelectors"

np_reset
np_policy allow-ns-x-pod-b-c <<'YAML' | np_apply
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {matchLabels: {pod: b}}
    - podSelector: {matchLabels: {pod: c}}
YAML
np_expect '*' 'x/a' '*' deny
np_expect 'x/[bc]' 'x/a' '*' allow
np_check "upstream: should enforce policy based on any PodSelectors"

# Upstream runs this one twice, over TCP and (Netpol [LinuxOnly], "using
# UDP") over UDP; the matrix probes both at once.
np_reset
np_policy allow-ns-y-pod-a-via-namespace-pod-selector <<'YAML' | np_apply
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
      podSelector: {matchLabels: {pod: a}}
YAML
np_expect '*' 'x/a' '*' deny
np_expect 'y/a' 'x/a' '*' allow
np_check "upstream: should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector (TCP and UDP)"

np_reset
np_policy allow-client-a-via-ns-selector <<'YAML' | np_apply
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]
    ports: [{port: 81, protocol: TCP}]
YAML
np_expect '*' 'x/a' '*' deny
np_expect 'y/*' 'x/a' 'tcp/81' allow
np_check "upstream: should enforce policy based on Ports"

np_reset
np_policy allow-ingress-on-port-81-ns-x <<'YAML' | np_apply
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]
    ports: [{port: 81, protocol: UDP}]
YAML
np_expect '*' 'x/a' '*' deny
np_expect 'y/*' 'x/a' 'udp/81' allow
np_check "upstream: should enforce policy based on Ports (using UDP)"

np_reset
np_policy allow-all x '{matchLabels: {}}' <<'YAML' | np_apply
  policyTypes: [Ingress]
  ingress: [{}]
YAML
np_check "upstream: should support allow-all policy"

np_reset
np_policy allow-all x '{matchLabels: {}}' <<'YAML' | np_apply
  policyTypes: [Ingress]
  ingress:
  - ports: [{port: serve-81-tcp}]
YAML
np_expect '*' 'x/*' '*' deny
np_expect '*' 'x/*' 'tcp/81' allow
np_check "upstream: should allow ingress access on one named port"

np_reset
np_policy allow-client-a-via-ns-selector-80 <<'YAML' | np_apply
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]
    ports: [{port: serve-80-tcp, protocol: TCP}]
YAML
np_expect '*' 'x/a' '*' deny
np_expect 'y/*' 'x/a' 'tcp/80' allow
np_check "upstream: should allow ingress access from namespace on one named port"

np_reset
np_policy allow-egress x '{matchLabels: {}}' <<'YAML' | np_apply
  policyTypes: [Egress]
  egress:
  - ports: [{port: serve-80-tcp}]
YAML
np_expect 'x/*' '*' '*' deny
np_expect 'x/*' '*' 'tcp/80' allow
np_check "upstream: should allow egress access on one named port"

np_reset
np_policy deny-empty-policy x '{}' <<'YAML' | np_apply
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {}}}]
YAML
np_expect '[yz]/*' 'x/*' '*' deny
np_check "upstream: should deny ingress from pods on other namespaces"

np_reset
np_policy deny-egress-pod-a <<'YAML' | np_apply
  policyTypes: [Egress]
  egress: []
YAML
np_expect 'x/a' '*' '*' deny
np_check "upstream: should deny egress from pods based on PodSelector"

# The egress rule allows port 80 (TCP) anywhere; ingress only from x/b,
# on every port (x/b's own egress is not restricted).
np_reset
np_policy allow-client-a-via-pod-selector <<'YAML' | np_apply
  policyTypes: [Egress, Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {pod: b}}}]
  egress:
  - ports: [{port: 80}]
YAML
np_expect '*' 'x/a' '*' deny
np_expect 'x/b' 'x/a' '*' allow
np_expect 'x/a' '*' '*' deny
np_expect 'x/a' '*' 'tcp/80' allow
np_check "upstream: should work with Ingress, Egress specified together"

np_reset
np_policy allow-to-ns-y-pod-a <<'YAML' | np_apply
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
      podSelector: {matchLabels: {pod: a}}
YAML
np_expect 'x/a' '*' '*' deny
np_expect 'x/a' 'y/a' '*' allow
np_check "upstream: should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector"

# The same egress policy, and y/a and y/b admitting x/a: x/a's own egress
# policy still keeps it from y/b.
for p in a b; do
	np_policy "allow-from-xa-on-y$p-match-selector" y "{matchLabels: {pod: $p}}" <<'YAML'
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: x}}
      podSelector: {matchLabels: {pod: a}}
YAML
done | np_apply
np_expect '*' 'y/a' '*' deny
np_expect 'x/a' 'y/a' '*' allow
np_expect '*' 'y/b' '*' deny
np_check "upstream: should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)"

np_reset
np_policy allow-ingress-by-proto <<'YAML' | np_apply
  policyTypes: [Ingress]
  ingress:
  - ports: [{protocol: TCP}]
YAML
np_expect '*' 'x/a' 'udp/*' deny
np_check "upstream: should enforce ingress policy allowing any port traffic to a server on a specific protocol"

np_reset
cidr_egress allow-client-a-via-cidr-egress-rule "{cidr: ${NP_IP[y/b]}/32}" | np_apply
np_expect 'x/a' '*' '*' deny
np_expect 'x/a' 'y/b' '*' allow
np_check "upstream: should allow egress access to server in CIDR block"

np_reset
cidr_egress allow-client-a-via-cidr-egress-rule "{cidr: $NP_XB_4, except: [$NP_XB/32]}" | np_apply
np_expect 'x/a' 'x/b' '*' deny
np_check "upstream: should enforce except clause while egress access to server in CIDR block"

np_reset
{
np_policy deny-ingress x '{}' <<'YAML'
  policyTypes: [Ingress]
  ingress: []
YAML
np_policy allow-only-sctp-ingress-on-port-81 <<'YAML'
  policyTypes: [Ingress]
  ingress:
  - ports: [{port: 81, protocol: SCTP}]
YAML
} | np_apply
np_expect '*' 'x/*' '*' deny
np_check "upstream: should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP', even if the plugin doesn't support SCTP"

np_reset
np_policy allow-only-udp-ingress-on-port-81 <<'YAML' | np_apply
  policyTypes: [Ingress]
  ingress:
  - ports: [{port: 81, protocol: UDP}]
YAML
np_expect '*' 'x/a' '*' deny
np_expect '*' 'x/a' 'udp/81' allow
np_check "upstream: should not allow access by TCP when a policy specifies only UDP"

np_reset
np_policy allow-ns-y-match-selector-for-immutable-ns-label <<'YAML' | np_apply
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector:
        matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [y]}]
YAML
np_expect 'x/a' 'y/*' '*' deny
np_check "upstream: should enforce policy based on NamespaceSelector with MatchExpressions using default ns label"

# NetworkPolicyLegacy (network_legacy.go) cases whose policy differs from
# every case above: a port without protocol and without from; two policies
# on one pod, one port each; no podSelector at all (every pod of the
# namespace), ingress and egress both limited to one namespace on port 80;
# an allowed /24 with the server's /32 excepted.
np_reset
np_policy allow-ingress-on-port-81 <<'YAML' | np_apply
  ingress:
  - ports: [{port: 81}]
YAML
np_expect '*' 'x/a' '*' deny
np_expect '*' 'x/a' 'tcp/81' allow
np_check "upstream legacy: should enforce policy based on Ports"

np_reset
{
np_policy allow-ingress-on-port-80 <<'YAML'
  ingress:
  - ports: [{port: 80}]
YAML
np_policy allow-ingress-on-port-81 <<'YAML'
  ingress:
  - ports: [{port: 81}]
YAML
} | np_apply
np_expect '*' 'x/a' 'udp/*' deny
np_check "upstream legacy: should enforce multiple, stacked policies with overlapping podSelectors"

np_reset
np_apply <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ingress-egress-rule, namespace: x}
spec:
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]
    ports: [{port: 80}]
  egress:
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]
    ports: [{port: 80}]
YAML
np_expect '*' 'x/*' '*' deny
np_expect 'x/*' '*' '*' deny
np_expect 'y/*' 'x/*' 'tcp/80' allow
np_expect 'x/*' 'y/*' 'tcp/80' allow
np_check "upstream legacy: should work with Ingress,Egress specified together (no podSelector: every pod of x)"

np_reset
cidr_egress deny-client-a-via-except-cidr-egress-rule "{cidr: $NP_XB_24, except: [$NP_XB/32]}" | np_apply
np_expect 'x/a' 'x/b' '*' deny
np_check "upstream legacy: should enforce except clause while egress access to server in CIDR block (/24)"

# --- cases that change something between two probes ---

# an ingress policy on x/a from namespace y, on one TCP port
from_y_on() {
	np_policy "$1" <<YAML
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]
    ports: [{port: $2, protocol: TCP}]
YAML
}

T="upstream: should enforce multiple, stacked policies with overlapping podSelectors"
np_reset
from_y_on allow-client-a-via-ns-selector 81 | np_apply
np_expect '*' 'x/a' '*' deny
np_expect 'y/*' 'x/a' 'tcp/81' allow
np_check "$T: y reaches x/a on tcp/81 only"
from_y_on allow-client-a-via-ns-selector-80 80 | np_apply
np_expect 'y/*' 'x/a' 'tcp/80' allow
np_check "$T: a second policy unblocks tcp/80 for y"

allow_all_ingress() {
	np_policy "$1" x '{matchLabels: {}}' <<YAML
  policyTypes: [Ingress]
  ingress: $2
YAML
}

T="upstream: should enforce updated policy"
np_reset
allow_all_ingress allow-all-mutate-to-deny-all '[{}]' | np_apply
np_check "$T: allow all"
allow_all_ingress allow-all-mutate-to-deny-all '[]' | np_apply
np_expect '*' 'x/*' '*' deny
np_check "$T: updated in place to deny all"

T="upstream: should allow ingress access from updated namespace"
np_reset
np_policy allow-client-a-via-ns-selector <<'YAML' | np_apply
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns2: updated}}}]
YAML
np_expect '*' 'x/a' '*' deny
np_check "$T: no namespace has ns2=updated"
sl namespace label y ns2=updated >/dev/null || fail "label namespace y"
np_expect 'y/*' 'x/a' '*' allow
np_check "$T: namespace y labelled ns2=updated"
sl namespace label y ns2- >/dev/null || fail "unlabel namespace y"

T="upstream: should allow ingress access from updated pod"
np_reset
np_policy allow-client-a-via-pod-selector <<'YAML' | np_apply
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {pod: b, pod2: updated}}}]
YAML
np_expect '*' 'x/a' '*' deny
np_check "$T: no pod has pod2=updated"
sl pod label x/b pod2=updated >/dev/null || fail "label x/b"
np_expect 'x/b' 'x/a' '*' allow
np_check "$T: x/b labelled pod2=updated"
sl pod label x/b pod2- >/dev/null || fail "unlabel x/b"

T="upstream: should deny ingress access to updated pod"
np_reset
np_policy deny-ingress-via-label-selector x '{matchLabels: {target: isolated}}' <<'YAML' | np_apply
  policyTypes: [Ingress]
  ingress: []
YAML
np_check "$T: no pod is target=isolated"
sl pod label x/a target=isolated >/dev/null || fail "label x/a"
np_expect '*' 'x/a' '*' deny
np_check "$T: x/a labelled target=isolated"
sl pod label x/a target- >/dev/null || fail "unlabel x/a"

T="upstream: should enforce multiple ingress policies with ingress allow-all policy taking precedence"
np_reset
np_policy allow-ingress-port-80 x '{matchLabels: {}}' <<'YAML' | np_apply
  policyTypes: [Ingress]
  ingress:
  - ports: [{port: 80}]
YAML
np_expect '*' 'x/*' '*' deny
np_expect '*' 'x/*' 'tcp/80' allow
np_check "$T: port 80 only"
allow_all_ingress allow-ingress '[{}]' | np_apply
np_expect_all .
np_check "$T: allow-all added"

T="upstream: should enforce multiple egress policies with egress allow-all policy taking precedence"
np_reset
np_policy allow-egress-port-80 x '{matchLabels: {}}' <<'YAML' | np_apply
  policyTypes: [Egress]
  egress:
  - ports: [{port: 80}]
YAML
np_expect 'x/*' '*' '*' deny
np_expect 'x/*' '*' 'tcp/80' allow
np_check "$T: port 80 only"
np_policy allow-egress x '{matchLabels: {}}' <<'YAML' | np_apply
  policyTypes: [Egress]
  egress: [{}]
YAML
np_expect_all .
np_check "$T: allow-all added"


T="upstream: should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed"
np_reset
cidr_egress allow-client-a-via-cidr-egress-rule "{cidr: $NP_XB_4, except: [$NP_XB/32]}" | np_apply
np_expect 'x/a' 'x/b' '*' deny
np_check "$T: the /4 except x/b"
cidr_egress allow-client-a-via-cidr-egress-rule "{cidr: $NP_XB/32}" | np_apply
np_expect 'x/a' '*' '*' deny
np_expect 'x/a' 'x/b' '*' allow
np_check "$T: updated to x/b's /32"

T="upstream: should enforce policies to check ingress and egress policies can be controlled independently based on PodSelector"
np_reset
np_policy allow-egress-for-target <<'YAML' | np_apply
  policyTypes: [Egress]
  egress: [{}]
YAML
np_check "$T: egress of x/a allowed to all"
np_policy deny-ingress-via-label-selector <<'YAML' | np_apply
  policyTypes: [Ingress]
  ingress: []
YAML
np_expect '*' 'x/a' '*' deny
np_check "$T: ingress of x/a denied, its egress still open"

# NetworkPolicyLegacy (network_legacy.go): the dynamic cases whose steps
# differ from the ones above.
ingress_from_pod_on() {
	np_policy allow-ingress <<YAML
  ingress:
  - from: [{podSelector: {matchLabels: {pod: $1}}}]
    ports: [{port: $2}]
YAML
}

T="upstream legacy: should enforce updated policy"
np_reset
ingress_from_pod_on b 80 | np_apply
np_expect '*' 'x/a' '*' deny
np_expect 'x/b' 'x/a' 'tcp/80' allow
np_check "$T: from x/b on 80"
ingress_from_pod_on c 81 | np_apply
np_expect '*' 'x/a' '*' deny
np_expect 'x/c' 'x/a' 'tcp/81' allow
np_check "$T: updated in place to from x/c on 81"

# DoesNotExist: every pod has a pod label, so none matches until x/b
# loses its own.
T="upstream legacy: should allow ingress access from updated pod"
np_reset
np_policy allow-pod-b-via-pod-selector <<'YAML' | np_apply
  ingress:
  - from:
    - podSelector:
        matchExpressions: [{key: pod, operator: DoesNotExist}]
YAML
np_expect '*' 'x/a' '*' deny
np_check "$T: every pod has the key pod"
sl pod label x/b pod- >/dev/null || fail "unlabel x/b"
np_expect 'x/b' 'x/a' '*' allow
np_check "$T: x/b's labels removed"
sl pod label x/b pod=b >/dev/null || fail "relabel x/b"

# Exists with matchLabels; the label is added with an empty value.
T="upstream legacy: should deny ingress access to updated pod"
np_reset
np_policy deny-ingress-via-isolated-label-selector x \
	'{matchLabels: {pod: a}, matchExpressions: [{key: isolated, operator: Exists}]}' <<'YAML' | np_apply
  policyTypes: [Ingress]
  ingress: []
YAML
np_check "$T: x/a not yet isolated"
sl pod label x/a isolated= >/dev/null || fail "label x/a isolated="
np_expect '*' 'x/a' '*' deny
np_check "$T: x/a labelled isolated (empty value)"
sl pod label x/a isolated- >/dev/null || fail "unlabel x/a"

T="upstream legacy: should stop enforcing policies after they are deleted"
np_reset
np_policy deny-all x '{}' <<'YAML' | np_apply
  policyTypes: [Ingress]
  ingress: []
YAML
np_expect '*' 'x/*' '*' deny
np_check "$T: deny all ingress to x"
np_policy allow-from-client-a-pod-selector <<'YAML' | np_apply
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {pod: b}}}]
YAML
np_expect 'x/b' 'x/a' '*' allow
np_check "$T: plus x/b -> x/a"
sl policy delete x/allow-from-client-a-pod-selector >/dev/null || fail "delete the allow policy"
np_expect 'x/b' 'x/a' '*' deny
np_check "$T: the allow policy deleted"
sl policy delete x/deny-all >/dev/null || fail "delete x/deny-all"
np_expect_all .
np_check "$T: the deny policy deleted"

T="upstream legacy: should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed"
np_reset
cidr_egress deny-client-a-via-except-cidr-egress-rule "{cidr: $NP_XB_24, except: [$NP_XB/32]}" | np_apply
np_expect 'x/a' 'x/b' '*' deny
np_check "$T: the /24 except x/b"
cidr_egress allow-client-a-via-cidr-egress-rule "{cidr: $NP_XB/32}" | np_apply
np_expect 'x/a' 'x/b' '*' allow
np_check "$T: plus x/b's /32"
sl policy delete x/deny-client-a-via-except-cidr-egress-rule >/dev/null || fail "delete the except policy"
np_expect 'x/a' '*' '*' deny
np_expect 'x/a' 'x/b' '*' allow
np_check "$T: the except policy deleted"
cidr_egress deny-client-a-via-except-cidr-egress-rule "{cidr: $NP_XB_24, except: [$NP_XB/32]}" | np_apply
np_expect 'x/a' '*' '*' allow
np_check "$T: the except policy created again"

T="upstream legacy: should enforce policies to check ingress and egress policies can be controlled independently based on PodSelector"
np_reset
{
np_policy allow-pod-a-to-pod-b-using-pod-selector <<'YAML'
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {pod: b}}}]
YAML
np_policy deny-pod-b-to-pod-a-pod-selector <<'YAML'
  policyTypes: [Ingress]
  ingress: []
YAML
} | np_apply
np_expect 'x/a' '*' '*' deny
np_expect 'x/a' 'x/b' '*' allow
np_expect '*' 'x/a' '*' deny
np_check "$T: x/a -> x/b only, nothing reaches x/a"
sl pod delete x/a >/dev/null || fail "delete x/a"
np_pod_create x/a pod=a
np_wait_servers x/a
np_check "$T: x/a created again: the same"

np_reset
t_finish
