#!/usr/bin/env bash
# Kubernetes NetworkPolicy ports and ipBlock: port numbers and the TCP
# default protocol, UDP-only rules, named container ports (resolved on the
# policy's pods for ingress, on the peer pods for egress, with or without a "to"), endPort ranges,
# and ipBlock with except on pod addresses (egress by pod IP, no DNS).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netpol/lib.sh"
t_begin
np_topology || t_finish

# "port: 80" without protocol is TCP 80.
np_reset
np_apply <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: tcp80, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - ports: [{port: 80}]
YAML
np_expect '*' 'x/a' '*' deny
np_expect '*' 'x/a' 'tcp/80' allow
np_check "ports [{port: 80}] (no from): every pod reaches x/a on tcp/80 only"

# protocol without port: every port of that protocol. And a UDP port.
np_reset
np_apply <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: udp-only, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - ports: [{protocol: UDP}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: udp81, namespace: y}
spec:
  podSelector: {}
  ingress:
  - from: [{namespaceSelector: {}}]
    ports: [{port: 81, protocol: UDP}]
YAML
np_expect '*' 'x/a' 'tcp/*' deny
np_expect '*' 'y/*' '*' deny
np_expect '*' 'y/*' 'udp/81' allow
np_check "UDP-only: x/a takes any UDP port, y takes udp/81 only"

# An SCTP port is not a TCP or UDP port of the same number (this kernel's
# pods need not speak SCTP: only the TCP and UDP probes matter here).
np_reset
np_apply <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: sctp80, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - ports: [{port: 80, protocol: SCTP}]
YAML
np_expect '*' 'x/a' '*' deny
np_check "ports [{port: 80, protocol: SCTP}]: TCP and UDP 80 to x/a are not allowed"

# Named ports: ingress "serve-81-tcp" is the policy pod's own port 81/TCP;
# a name with a protocol that does not match the declared one matches
# nothing.
np_reset
np_apply <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: named, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {}}]
    ports: [{port: serve-81-tcp}, {port: serve-80-udp, protocol: UDP}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: named-wrong-protocol, namespace: x}
spec:
  podSelector: {matchLabels: {pod: b}}
  ingress:
  - ports: [{port: serve-80-tcp, protocol: UDP}]
YAML
np_expect '*' 'x/a' '*' deny
np_expect '*' 'x/a' 'tcp/81' allow
np_expect '*' 'x/a' 'udp/80' allow
np_expect '*' 'x/b' '*' deny
np_check "named ports: x/a on serve-81-tcp and serve-80-udp; serve-80-tcp as UDP matches nothing"

# Egress named ports resolve on each peer pod.
np_reset
np_apply <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-named, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]
    ports: [{port: serve-81-udp, protocol: UDP}]
YAML
np_expect 'x/a' '*' '*' deny
np_expect 'x/a' 'y/*' 'udp/81' allow
np_check "egress named port: x/a reaches y on serve-81-udp only"

# Egress on a named port with no "to" (upstream e2e "should allow egress
# access on one named port"): every pod declares serve-80-tcp=80/TCP, so
# x/a reaches every pod on tcp/80, and nothing else.
np_reset
np_apply <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-named-any, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - ports: [{port: serve-80-tcp}]
YAML
np_expect 'x/a' '*' '*' deny
np_expect 'x/a' '*' 'tcp/80' allow
np_check "egress named port, no to: x/a reaches every pod on serve-80-tcp (tcp/80) only"

# The same as a CiliumNetworkPolicy: toPorts with a named port, no peers.
np_reset
np_apply <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: egress-named-any-cnp, namespace: x}
spec:
  endpointSelector: {matchLabels: {pod: a}}
  egress:
  - toPorts: [{ports: [{port: serve-81-udp, protocol: UDP}]}]
YAML
np_expect 'x/a' '*' '*' deny
np_expect 'x/a' '*' 'udp/81' allow
np_check "CNP egress named port, no peers: x/a reaches every pod on serve-81-udp (udp/81) only"

# endPort: port..endPort inclusive, TCP by default.
np_reset
np_apply <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: range-a, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - ports: [{port: 81, endPort: 90}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: range-b, namespace: x}
spec:
  podSelector: {matchLabels: {pod: b}}
  ingress:
  - ports: [{port: 60, endPort: 80, protocol: UDP}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: range-c, namespace: x}
spec:
  podSelector: {matchLabels: {pod: c}}
  ingress:
  - ports: [{port: 80, endPort: 81, protocol: TCP}, {port: 81, endPort: 81, protocol: UDP}]
YAML
np_expect '*' 'x/*' '*' deny
np_expect '*' 'x/a' 'tcp/81' allow
np_expect '*' 'x/b' 'udp/80' allow
np_expect '*' 'x/c' 'tcp/*' allow
np_expect '*' 'x/c' 'udp/81' allow
np_check "endPort: x/a tcp 81-90, x/b udp 60-80, x/c tcp 80-81 and udp 81-81"

# ipBlock on pod addresses: the pod CIDR except two pods.
np_reset
np_apply <<YAML
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ipblock-except, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - ipBlock:
        cidr: $SL_CIDR
        except: [${NP_IP[y/b]}/32, ${NP_IP[z/c]}/32]
YAML
np_expect 'y/b' 'x/a' '*' deny
np_expect 'z/c' 'x/a' '*' deny
np_check "ingress ipBlock pod CIDR except y/b and z/c: those two cannot reach x/a"

# Egress by pod IP (no DNS): to one pod's /32 on TCP 80, and to the pod
# CIDR except one pod on UDP 81.
np_reset
np_apply <<YAML
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ipblock-egress, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: ${NP_IP[y/a]}/32}}]
    ports: [{port: 80}]
  - to: [{ipBlock: {cidr: $SL_CIDR, except: [${NP_IP[z/b]}/32]}}]
    ports: [{port: 81, protocol: UDP}]
YAML
np_expect 'x/a' '*' '*' deny
np_expect 'x/a' 'y/a' 'tcp/80' allow
np_expect 'x/a' '*' 'udp/81' allow
np_expect 'x/a' 'z/b' 'udp/81' deny
np_check "egress ipBlock by pod IP: x/a -> y/a tcp/80; udp/81 to the CIDR except z/b"

# 0.0.0.0/0 covers every pod too; an except in another block does not
# take away what a second rule allows (rules add up).
np_reset
np_apply <<YAML
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ipblock-world, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{ipBlock: {cidr: 0.0.0.0/0, except: [$SL_CIDR]}}]
  - from: [{ipBlock: {cidr: ${NP_IP[z/a]}/30}}]
    ports: [{port: 80, protocol: UDP}]
  egress:
  - to: [{ipBlock: {cidr: 0.0.0.0/0}}]
YAML
np_expect '*' 'x/*' '*' deny
NP_Z_A=${NP_IP[z/a]}
for ref in "${NP_PODS[@]}"; do
	# the pods whose address shares z/a's /30
	ip=${NP_IP[$ref]}
	if [ $(( ${ip##*.} / 4 )) -eq $(( ${NP_Z_A##*.} / 4 )) ]; then
		np_expect "$ref" 'x/*' 'udp/80' allow
	fi
done
np_check "ipBlock 0.0.0.0/0 except the pod CIDR admits no pod; a /30 around z/a admits it on udp/80; egress 0.0.0.0/0 open"

np_reset
t_finish
