#!/usr/bin/env bash
# toServices with a Service that has no selector, Cilium's original case:
# the Service's endpoints are whatever its EndpointSlices name (here an
# address outside the cluster, a "world" netns), and an egress rule
# `toServices: k8sService` allows exactly those addresses, following the
# slices as they change. The ClusterIP is translated at connect() to the
# same address, so the rule holds through the Service and directly.
source "$(dirname "$0")/agents.sh"
# EndpointSlice's serving and terminating conditions are alpha in 1.20 (the
# API server drops them without the gate): the terminating fallback below
export K8S_APISERVER_ARGS="${K8S_APISERVER_ARGS:-} --feature-gates=EndpointSliceTerminatingCondition=true"
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

# kslice NAME SERVICE PORTS ENDPOINTS: an EndpointSlice of SERVICE in
# default (PORTS and ENDPOINTS: YAML flow lists), as the controller writes it
kslice() {
	kapply <<YAML
apiVersion: discovery.k8s.io/v1beta1
kind: EndpointSlice
metadata:
  name: $1
  namespace: default
  labels: {kubernetes.io/service-name: $2}
addressType: IPv4
ports: $3
endpoints: $4
YAML
}
HTTP_8080='[{name: http, port: 8080, protocol: TCP}]'
slice() { # ADDRESS: the one EndpointSlice of Service ext
	kslice ext-1 ext "$HTTP_8080" "[{addresses: [\"$1\"], conditions: {ready: true}}]"
}
# selectorless NAME: a Service without a selector, http 80 -> 8080 (its
# endpoints are what its slices name)
selectorless() {
	kapply <<YAML
apiVersion: v1
kind: Service
metadata: {name: $1, namespace: default}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
YAML
}
selectorless ext
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

echo "== upstream Services e2e cases in Kubernetes mode (docs/services-e2e.md)"
kc delete ciliumnetworkpolicy client-egress-to-cidrgroup-deny >/dev/null
kpod a default/web-1 app=web "http=8080/TCP"
kserve a default/web-1 tcp:8080
# svc_field NAME EXPR: a Python expression over `service get -o json` (d)
svc_field() { ka a service get "default/$1" -o json 2>/dev/null | python3 -c '
import json,sys
d=json.load(sys.stdin)
d=d.get("service",d)
print(eval(sys.argv[1]))' "$2"; }
export -f svc_field
kapply <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: other-proxy, namespace: default, labels: {service.kubernetes.io/service-proxy-name: foo-bar}}
spec: {selector: {app: web}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: headless-label, namespace: default, labels: {service.kubernetes.io/headless: ""}}
spec: {selector: {app: web}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: ext-name, namespace: default}
spec: {type: ExternalName, externalName: example.com}
---
apiVersion: v1
kind: Service
metadata: {name: sctp-only, namespace: default}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080, protocol: SCTP}]}
---
apiVersion: v1
kind: Service
metadata: {name: np, namespace: default}
spec:
  type: NodePort
  sessionAffinity: ClientIP
  selector: {app: web}
  ports:
  - {name: tcp, port: 80, targetPort: 8080, protocol: TCP}
  - {name: sctp, port: 80, targetPort: 8080, protocol: SCTP}
YAML
check "a NodePort Service with TCP/80 and SCTP/80: its ClusterIP is served, TCP/80 only" \
	kwait 20 bash -c "[ \"\$(svc_field np '\" \".join(\"%d/%s\" % (p[\"port\"], p[\"protocol\"]) for p in d[\"ports\"])')\" = 80/TCP ]"
nots=$(svc_field np 'd.get("not_served", "")')
check "... and says what it does not serve: the node port, SCTP ($nots)" \
	sh -c "echo '$nots' | grep -q 'type NodePort' && echo '$nots' | grep -q '80/SCTP' && ! echo '$nots' | grep -q 'sessionAffinity'"
expect_eq "... its sessionAffinity ClientIP is served, with the API server's default timeout" "ClientIP 10800" \
	"$(svc_field np 'd["session_affinity"], d.get("session_affinity_timeout_seconds")' | tr -d "(),'")"
np_ip=$(kc get service np -o jsonpath='{.spec.clusterIP}')
# (no controller-manager here: the slice the EndpointSlice controller would write)
kslice np-1 np '[{name: tcp, port: 8080, protocol: TCP}, {name: sctp, port: 8080, protocol: SCTP}]' \
	"[{addresses: [\"$IP_web_1\"], conditions: {ready: true}}]"
check "its EndpointSlice's SCTP port is not read as TCP: one backend, $IP_web_1:8080/TCP" \
	kwait 20 bash -c "[ \"\$(svc_field np '\" \".join(\"%s:%d/%s\" % (b[\"ip\"], b[\"port\"], b[\"protocol\"]) for b in d[\"backends\"])')\" = $IP_web_1:8080/TCP ]"
check "should serve endpoints on same port and different protocols: TCP via the ClusterIP" kwait 20 kcan_cg a default/client tcp "$np_ip" 80
# "should be able to create a functioning NodePort service": the exec pod
# reaches nodeIP:nodePort of every node (Cilium's socket LB for pods)
np_port=$(kc get service np -o jsonpath='{.spec.ports[?(@.protocol=="TCP")].nodePort}')
expect_eq "the node port the API server allocated is served" "$np_port" \
	"$(svc_field np '" ".join(str(p.get("node_port", "")) for p in d["ports"])')"
HOST_NODE_IP=$(sl_world_host_ip 12) # one of this host's addresses
wait_host_addr "$HOST_NODE_IP"
kapply <<'YAML'
{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "np-node-b"},
 "status": {"addresses": [{"type": "InternalIP", "address": "203.0.113.61"}]}}
YAML
check "client -> this node's address $HOST_NODE_IP:$np_port reaches the NodePort's backend" \
	kwait 20 kcan_cg a default/client tcp "$HOST_NODE_IP" "$np_port"
check "client -> another node's address 203.0.113.61:$np_port (a Node object) too" \
	kwait 20 kcan_cg a default/client tcp 203.0.113.61 "$np_port"
check "... the backend web-1 logged them" kwait 20 bash -c "[ \$(grep -c 'line probe' '$KA_WORK/server-default-web-1.log') -ge 3 ]"
check_not "an address that is no node's ($W2:$np_port) is not translated" kcan_cg a default/client tcp "$W2" "$np_port"
# the API server is the source of truth: the CLI does not change its services
check_exit 1 "sluice service update of an API Service is refused" ka a service update default/np \
	--selector app=web --port tcp=80:8080/TCP
check_said "change them with kubectl"
check_exit 1 "... so are create and delete" ka a service delete default/np
check_said "in Kubernetes mode services come from the API server"
expect_eq "... and np is as the API says (its node port still there)" "$np_port" \
	"$(svc_field np '" ".join(str(p.get("node_port", "")) for p in d["ports"])')"
check_not "nor the pod's own loopback (127.0.0.1:$np_port)" kcan_cg a default/client tcp 127.0.0.1 "$np_port"
check "the agent logged the note once (not at every resync)" \
	test "$(grep -c 'sluiced: service default/np: .*type NodePort' "$KA_WORK/a/agent.log")" = 1
check_not "should implement service.kubernetes.io/service-proxy-name: another proxy's Service is not served" \
	bash -c "ka a service get default/other-proxy"
check_not "should implement service.kubernetes.io/headless: a Service so labelled is not served" \
	bash -c "ka a service get default/headless-label"
check_not "an ExternalName Service has nothing to translate" bash -c "ka a service get default/ext-name"
check_not "nor has a Service of SCTP ports only" bash -c "ka a service get default/sctp-only"
check_not "... and neither is an error of the agent's" grep -q "service default/sctp-only" "$KA_WORK/a/agent.log"
kc label service other-proxy service.kubernetes.io/service-proxy-name- >/dev/null
check "the label removed: other-proxy is served" kwait 20 bash -c "ka a service get default/other-proxy"

# session affinity (service.go "should have session affinity work / be able
# to switch session affinity for service with type clusterIP"): two
# backends, one client pod
kpod a default/sticky-1 app=sticky "http=8080/TCP"
kpod a default/sticky-2 app=sticky "http=8080/TCP"
kserve a default/sticky-1 tcp:8080
kserve a default/sticky-2 tcp:8080
kapply <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: sticky, namespace: default}
spec:
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}
  selector: {app: sticky}
  ports: [{name: http, port: 80, targetPort: 8080}]
YAML
kslice sticky-1 sticky "$HTTP_8080" \
	"[{addresses: [\"$IP_sticky_1\"], conditions: {ready: true}}, {addresses: [\"$IP_sticky_2\"], conditions: {ready: true}}]"
check "a ClientIP Service with timeoutSeconds 60 and two endpoints" \
	kwait 20 bash -c "[ \"\$(svc_field sticky 'd[\"session_affinity\"], d.get(\"session_affinity_timeout_seconds\"), len(d[\"backends\"])' | tr -d \"(),'\")\" = 'ClientIP 60 2' ]"
sticky_ip=$(kc get service sticky -o jsonpath='{.spec.clusterIP}')
# answered N: which backends answered N connections of the client pod
answered() {
	kexec_cg a default/client bash -c "for i in \$(seq 1 $1); do curl -s --connect-timeout 1 -m 3 http://$sticky_ip/; echo; done" |
		awk 'NF {print $1}' | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ' | sed 's/ $//'
}
out=$(answered 10)
check "should have session affinity work for service with type clusterIP: 10 connections, one backend ($out)" \
	sh -c "echo '$out' | grep -Eqx 'sticky-[12]=10'"
kc patch service sticky -p '{"spec": {"sessionAffinity": "None", "sessionAffinityConfig": null}}' >/dev/null
check "switched to None in the API: the agent follows" kwait 20 bash -c "[ \"\$(svc_field sticky 'd[\"session_affinity\"]')\" = None ]"
out=$(answered 20)
check "should be able to switch session affinity: None, 20 connections reach both ($out)" \
	sh -c "echo '$out' | grep -q 'sticky-1=' && echo '$out' | grep -q 'sticky-2='"
kc patch service sticky -p '{"spec": {"sessionAffinity": "ClientIP"}}' >/dev/null
check "... and back to ClientIP (the API server's default timeout again)" \
	kwait 20 bash -c "[ \"\$(svc_field sticky 'd[\"session_affinity\"], d.get(\"session_affinity_timeout_seconds\")' | tr -d \"(),'\")\" = 'ClientIP 10800' ]"
out=$(answered 10)
check "ClientIP again: 10 connections, one backend ($out)" sh -c "echo '$out' | grep -Eqx 'sticky-[12]=10'"

# a selector-less Service whose only endpoint is terminating but serving
selectorless term
term_slice() { kslice term-1 term "$HTTP_8080" "$1"; } # ENDPOINTS
term_slice "[{addresses: [\"$IP_web_1\"], conditions: {ready: false, serving: true, terminating: true}}]"
check "the API server keeps the serving condition (gate on)" \
	kwait 10 bash -c "[ \"\$(kc get endpointslices.discovery.k8s.io term-1 -o jsonpath='{.endpoints[0].conditions.serving}')\" = true ]"
check "should fallback to terminating endpoints when there are no ready endpoints: the serving terminating one is the backend" \
	kwait 20 bash -c "[ \"\$(svc_field term '\" \".join(b[\"ip\"] for b in d[\"backends\"])')\" = $IP_web_1 ]"
term_ip=$(kc get service term -o jsonpath='{.spec.clusterIP}')
check "... and answers through the ClusterIP" kcan_cg a default/client tcp "$term_ip" 80
term_slice "[{addresses: [\"$IP_web_1\"], conditions: {ready: false, serving: true, terminating: true}}, {addresses: [\"$IP_other\"], conditions: {ready: true}}]"
check "a ready endpoint besides: only the ready one" \
	kwait 20 bash -c "[ \"\$(svc_field term '\" \".join(b[\"ip\"] for b in d[\"backends\"])')\" = $IP_other ]"
term_slice "[{addresses: [\"$IP_web_1\"], conditions: {ready: false, serving: false, terminating: true}}]"
check "should not be able to connect to terminating and unready endpoints: none serving, no backend" \
	kwait 20 bash -c "[ \"\$(svc_field term 'len(d[\"backends\"])')\" = 0 ]"
check_not "... the ClusterIP refuses" kcan_cg a default/client tcp "$term_ip" 80
# endpointslice.go: one Service, its endpoints in two slices
term_slice "[{addresses: [\"$IP_web_1\"], conditions: {ready: true}}]"
kslice term-2 term "$HTTP_8080" "[{addresses: [\"$IP_other\"]}]"
check "should support a Service with multiple endpoint IPs specified in multiple EndpointSlices" \
	kwait 20 bash -c "[ \"\$(svc_field term '\" \".join(sorted(b[\"ip\"] for b in d[\"backends\"]))')\" = \"\$(printf '%s\n' $IP_web_1 $IP_other | LC_ALL=C sort | tr '\n' ' ' | sed 's/ \$//')\" ]"
t_finish
