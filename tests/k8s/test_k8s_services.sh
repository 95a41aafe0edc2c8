#!/usr/bin/env bash
# toServices with a Service that has no selector, Cilium's original case:
# the Service's endpoints are whatever its EndpointSlices name (here an
# address outside the cluster, a "world" netns), and an egress rule
# `toServices: k8sService` allows exactly those addresses, following the
# slices as they change. The ClusterIP is translated at connect() to the
# same address, so the rule holds through the Service and directly.
source "$(dirname "$0")/agents.sh"
ka_begin a
ka_start a || { fail "agent a syncs"; t_finish; }
pass "agent in Kubernetes mode"
ka_use a

kpod a default/client app=client
kpod a default/other app=other
# two addresses outside the cluster (indexes no other scenario uses)
W1=$(sl_world_create one 12) || { fail "world one"; t_finish; }
W2=$(sl_world_create two 13) || { fail "world two"; t_finish; }
for w in one two; do
	ip netns exec "${SL_NSPFX}w$w" python3 "$TOOLS/podserver.py" "w$w" "$KA_WORK/w$w.log" tcp:8080 >/dev/null 2>&1 &
	KA_BG+=($!)
done
check "world servers answer on $W1:8080 and $W2:8080" \
	kwait 20 bash -c "[ -e '$KA_WORK/wone.log.ready' ] && [ -e '$KA_WORK/wtwo.log.ready' ]"
# traffic to the worlds is routed by the host (as to another node)
[ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || echo 1 >/proc/sys/net/ipv4/ip_forward
check "before policy: client -> $W1:8080 allowed" kwait 10 kcan a default/client tcp "$W1" 8080

slice() { # ADDRESS: the one EndpointSlice of Service ext
	kapply <<YAML
apiVersion: discovery.k8s.io/v1beta1
kind: EndpointSlice
metadata:
  name: ext-1
  namespace: default
  labels: {kubernetes.io/service-name: ext}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
- addresses: ["$1"]
  conditions: {ready: true}
YAML
}
kapply <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: default}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
YAML
slice "$W1"
ext_ip=$(kc get service ext -o jsonpath='{.spec.clusterIP}')
svc_backends() { ka a service get default/ext -o json | python3 -c '
import json,sys
d=json.load(sys.stdin)
d=d.get("service",d)
print(d["cluster_ip"], d["endpoints_source"], " ".join(sorted("%s:%d" % (b["ip"], b["port"]) for b in d["backends"])) or "-")'; }
export -f svc_backends
export W1 W2 ext_ip
check "the selector-less Service ext: ClusterIP $ext_ip, backend $W1:8080 from its EndpointSlice" \
	kwait 20 bash -c "svc_backends | grep -qx \"\$ext_ip endpointslices \$W1:8080\""
ip route replace blackhole "$ext_ip/32" metric "$KA_ROUTE_METRIC"
k8s_at_exit "ip route del blackhole $ext_ip/32 metric $KA_ROUTE_METRIC 2>/dev/null"

kapply <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: client-to-ext, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toServices:
    - k8sService: {serviceName: ext, namespace: default}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: other-egress, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: other}}
  egress:
  - toEndpoints:
    - matchLabels: {app: client}
YAML
check "client -> ClusterIP $ext_ip:80 allowed (translated to $W1:8080, allowed by toServices)" \
	kwait 20 kcan_cg a default/client tcp "$ext_ip" 80
check "client -> $W1:8080 directly allowed (the Service's endpoint address)" kcan a default/client tcp "$W1" 8080
check "client -> $W2:8080 dropped (not an endpoint of ext)" kdropped a default/client tcp "$W2" 8080
check "other -> $W1:8080 dropped (no toServices for it)" kdropped a default/other tcp "$W1" 8080
check_not "other -> ClusterIP $ext_ip:80 refused or dropped" kcan_cg a default/other tcp "$ext_ip" 80

# the slice moves to the second address: the rule follows it
slice "$W2"
check "the EndpointSlice now names $W2: the service follows" \
	kwait 20 bash -c "svc_backends | grep -qx \"\$ext_ip endpointslices \$W2:8080\""
check "client -> $W2:8080 directly now allowed" kwait 20 kcan a default/client tcp "$W2" 8080
check "client -> $W1:8080 now dropped (no longer an endpoint)" kwait 20 kdropped a default/client tcp "$W1" 8080
check "client -> ClusterIP $ext_ip:80 reaches the new endpoint" kcan_cg a default/client tcp "$ext_ip" 80
check "the world server two logged the client's probes" grep -q "line probe" "$KA_WORK/wtwo.log"

# the Service goes: its addresses leave the rule
kc delete service ext >/dev/null
kc delete endpointslices.discovery.k8s.io ext-1 >/dev/null
check "Service ext deleted: client -> $W2:8080 dropped" kwait 20 kdropped a default/client tcp "$W2" 8080
kc delete ciliumnetworkpolicy client-to-ext other-egress >/dev/null

# CiliumCIDRGroup from the API (cilium-cli's client-egress-to-cidrgroup-deny):
# the policy names the group before it exists, then follows kubectl's
# create, edit and delete of it
kapply <<YAML
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: client-egress-to-cidrgroup-deny, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toEntities: [world]
  egressDeny:
  - toCIDRSet:
    - cidrGroupRef: test-external-cidr
      except: ["$W1/32"]
YAML
check "group not created yet: client -> $W2:8080 allowed (nothing denied)" kwait 20 kcan a default/client tcp "$W2" 8080
kapply <<'YAML'
apiVersion: cilium.io/v2alpha1
kind: CiliumCIDRGroup
metadata:
  name: test-external-cidr
  labels: {destination: external}
spec:
  externalCIDRs: ["198.51.100.48/28"]
YAML
check "group created: client -> $W2:8080 denied by the group" kwait 20 kdropped a default/client tcp "$W2" 8080
check "group created: client -> $W1:8080 allowed (the except)" kcan a default/client tcp "$W1" 8080
check "the group is listed with the policies" bash -c "ka a policy list | grep -q '^CiliumCIDRGroup  *test-external-cidr .*k8s:ciliumcidrgroups/test-external-cidr'"
# the -by-label variant, and the group edited through cilium.io/v2
kapply <<YAML
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: client-egress-to-cidrgroup-deny, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toEntities: [world]
  egressDeny:
  - toCIDRSet:
    - cidrGroupSelector: {matchLabels: {destination: external}}
      except: ["$W1/32"]
YAML
kapply <<YAML
apiVersion: cilium.io/v2
kind: CiliumCIDRGroup
metadata:
  name: test-external-cidr
  labels: {destination: external}
spec:
  externalCIDRs: ["$W1/32"]
YAML
check "group edited to $W1/32 only: client -> $W2:8080 allowed again" kwait 20 kcan a default/client tcp "$W2" 8080
check "group edited: client -> $W1:8080 still allowed (the except holds the group's prefix)" kcan a default/client tcp "$W1" 8080
kc patch ciliumcidrgroup test-external-cidr --type=merge -p "{\"spec\":{\"externalCIDRs\":[\"$W2/32\"]}}" >/dev/null
check "group patched to $W2/32: client -> $W2:8080 denied" kwait 20 kdropped a default/client tcp "$W2" 8080
# a bad group is refused whole and reported; the one in force stays
kc patch ciliumcidrgroup test-external-cidr --type=merge -p '{"spec":{"externalCIDRs":["198.51.100.300/32"]}}' >/dev/null
check "a bad CIDR: the group's status in policy list names the field" \
	kwait 20 bash -c "ka a policy list | grep test-external-cidr | grep -q 'spec.externalCIDRs\[0\]: invalid CIDR'"
check "a bad CIDR: the group in force still denies $W2:8080" kdropped a default/client tcp "$W2" 8080
kc delete ciliumcidrgroup test-external-cidr >/dev/null
check "group deleted: client -> $W2:8080 allowed" kwait 20 kcan a default/client tcp "$W2" 8080
check_not "group deleted: no longer listed" bash -c "ka a policy list | grep -q '^CiliumCIDRGroup'"
t_finish
