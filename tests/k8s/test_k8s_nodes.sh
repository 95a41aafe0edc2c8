#!/usr/bin/env bash
# Two nodes on one kernel: two agents (own pins, cgroup roots, state, pod
# CIDRs, node names) watch the same API server. A pod on node A reaching a
# pod on node B is judged by identity on both sides (B's ingress policy
# knows A's pods through their SluiceEndpoints, A's egress policy knows B's);
# both agents use the same numbers; 20 pods created at once with new label
# sets on both nodes (each set on both) never give two numbers for one set
# nor one number for two.
source "$(dirname "$0")/agents.sh"
ka_begin a b
ka_start a || { fail "agent a syncs"; t_finish; }
ka_start b || { fail "agent b syncs"; t_finish; }
pass "two agents in Kubernetes mode, one API server"
check "Kubernetes mode: no pod-CIDR blackhole route from the agents (the CNI's and node's job)" \
	bash -c "ka_no_agent_route a && ka_no_agent_route b"

kpod a default/client-a app=client
kpod a default/other-a app=other
kpod b default/server-b app=server http=8080/TCP
kserve b default/server-b tcp:8080

remote_known() { # NODE NS/NAME: the agent has the pod of the other node
	ka "$1" pod list -o json | python3 -c '
import json,sys
ns,name=sys.argv[1].split("/")
sys.exit(0 if any(p["namespace"]==ns and p["name"]==name and p["remote"] and p["identity"]>0 for p in json.load(sys.stdin)["items"]) else 1)' "$2"
}
export -f remote_known
check "node a knows server-b (remote, by identity)" kwait 20 remote_known a default/server-b
check "node b knows client-a and other-a (remote, by identity)" \
	kwait 20 bash -c "remote_known b default/client-a && remote_known b default/other-a"
for p in default/client-a default/other-a default/server-b; do
	check "same identity for $p on both nodes" \
		bash -c "[ -n \"\$(kident a $p)\" ] && [ \"\$(kident a $p)\" = \"\$(kident b $p)\" ]"
done
check "SluiceEndpoint objects published for the pods of both nodes" \
	bash -c "[ \$(kc get sluiceendpoints -n default -o name | wc -l) -ge 3 ]"
# Services and EndpointSlices: the API version is discovered (1.20 serves
# only discovery.k8s.io/v1beta1); both agents watch them
svc_view() { ka "$1" status -o json | python3 -c 'import json,sys; s=json.load(sys.stdin)["kubernetes"]["services"]; print(s["endpointslice_api"], s["services"], s["endpointslices"], s["ready_addresses"])'; }
export -f svc_view
check "EndpointSlice API discovered: discovery.k8s.io/v1beta1 on Kubernetes 1.20" \
	bash -c "svc_view a | grep -q '^discovery.k8s.io/v1beta1 ' && svc_view b | grep -q '^discovery.k8s.io/v1beta1 '"
# the API server's own "kubernetes" Service (and its slice) are there too
read -r _ svc0 sl0 rd0 <<<"$(svc_view a)"
kapply <<YAML
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  ports: [{name: http, port: 80, targetPort: http}]
  selector: {app: server}
---
apiVersion: discovery.k8s.io/v1beta1
kind: EndpointSlice
metadata:
  name: web-1
  namespace: default
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
- addresses: ["$IP_server_b"]
  conditions: {ready: true}
- addresses: ["10.244.${KA_IDX[b]}.250"]
  conditions: {ready: false}
YAML
check "both agents see the Service and its EndpointSlice (1 ready address of 2)" \
	kwait 20 bash -c "[ \"\$(svc_view a | cut -d' ' -f2-)\" = '$((svc0 + 1)) $((sl0 + 1)) $((rd0 + 1))' ] && [ \"\$(svc_view b | cut -d' ' -f2-)\" = '$((svc0 + 1)) $((sl0 + 1)) $((rd0 + 1))' ]"
# ... and into each agent's service registry: the API's ClusterIP, the
# slice's ready address as the only backend
svc_reg() { ka "$1" service get default/web -o json | python3 -c '
import json,sys
d=json.load(sys.stdin)
d=d.get("service",d)
print(d["cluster_ip"], " ".join(sorted("%s:%d" % (b["ip"], b["port"]) for b in d["backends"])) or "-")'; }
export -f svc_reg
web_ip=$(kc get service web -o jsonpath='{.spec.clusterIP}')
check "  the service registries: ClusterIP $web_ip, backend $IP_server_b:8080 (ready only)" \
	kwait 20 bash -c "[ \"\$(svc_reg a)\" = '$web_ip $IP_server_b:8080' ] && [ \"\$(svc_reg b)\" = '$web_ip $IP_server_b:8080' ]"
# the ClusterIP itself is routed nowhere (the test's own route): only the
# translation at the socket can reach a backend, nothing leaks to the LAN
ip route replace blackhole "$web_ip/32" metric "$KA_ROUTE_METRIC"
k8s_at_exit "ip route del blackhole $web_ip/32 metric $KA_ROUTE_METRIC 2>/dev/null"
check "  client-a (node a) -> ClusterIP $web_ip:80 reaches server-b (translated at the socket)" \
	kwait 10 kcan_cg a default/client-a tcp "$web_ip" 80
ip route del blackhole "$web_ip/32" metric "$KA_ROUTE_METRIC" 2>/dev/null
kc delete endpointslices.discovery.k8s.io web-1 >/dev/null
check "  the slice deleted: no backend left" \
	kwait 20 bash -c "[ \"\$(svc_reg a)\" = '$web_ip -' ] && [ \"\$(svc_reg b)\" = '$web_ip -' ]"
check "  the slice deleted: gone from both" \
	kwait 20 bash -c "[ \"\$(svc_view a | cut -d' ' -f3)\" = $sl0 ] && [ \"\$(svc_view b | cut -d' ' -f3)\" = $sl0 ]"
kc delete service web >/dev/null
check "  the Service deleted: gone from both registries" \
	kwait 20 bash -c "! ka a service get default/web >/dev/null 2>&1 && ! ka b service get default/web >/dev/null 2>&1"
check "before policy: other-a -> server-b allowed" kcan a default/other-a tcp "$IP_server_b" 8080

# ingress on node B, by the identity of node A's pods
kapply <<'YAML'
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: server-ingress
spec:
  endpointSelector:
    matchLabels:
      app: server
  ingress:
  - fromEndpoints:
    - matchLabels:
        app: client
    toPorts:
    - ports:
      - port: http
YAML
check "both agents have the policy" kwait 20 bash -c "ka a policy list | grep -q server-ingress && ka b policy list | grep -q server-ingress"
check "B's ingress: client-a -> server-b allowed" kwait 10 kcan a default/client-a tcp "$IP_server_b" 8080
check "B's ingress: other-a -> server-b dropped" kdropped a default/other-a tcp "$IP_server_b" 8080
# NODE DIRECTION: flows its datapath denied by policy. Not every drop: the
# pods' IPv6 link-local chatter (router solicitations) is dropped as an
# unsupported protocol on both nodes whatever the policy.
export MPORT_a=$((19000 + KA_IDX[a])) MPORT_b=$((19000 + KA_IDX[b]))
dropped_pkts() {
	local port=MPORT_$1
	curl -s "http://127.0.0.1:${!port}/metrics" |
		awk -v d="$2" '$1 == "sluice_drops_total{reason=\"policy_denied\",direction=\""d"\"}" {print $2}'
}
export -f dropped_pkts
# drops are reported through the flow ring: give the agent a moment
check "  judged on node B: B dropped at ingress" kwait 5 bash -c '[ "$(dropped_pkts b ingress)" -gt 0 ]'
check "  and not on node A (A denied nothing at egress)" bash -c "[ \"$(dropped_pkts a egress)\" = 0 ]"

# egress on node A, by the identity of node B's pod
kapply <<'YAML'
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: server-ingress
spec:
  endpointSelector:
    matchLabels:
      app: server
  ingress:
  - fromEndpoints:
    - matchLabels:
        app: client
    - matchLabels:
        app: other
---
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: client-egress
spec:
  endpointSelector:
    matchLabels:
      app: client
  egress:
  - toEndpoints:
    - matchLabels:
        app: nothing-here
---
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: other-egress
spec:
  endpointSelector:
    matchLabels:
      app: other
  egress:
  - toEndpoints:
    - matchLabels:
        app: server
YAML
check "policies in force on node a" kwait 20 bash -c "ka a policy list | grep -q other-egress && ka a policy list | grep -q client-egress"
check "A's egress (toEndpoints app=server): other-a -> server-b allowed" kwait 10 kcan a default/other-a tcp "$IP_server_b" 8080
b_before=$(dropped_pkts b ingress)
check "A's egress (nothing allowed): client-a -> server-b dropped" kdropped a default/client-a tcp "$IP_server_b" 8080
check "  judged on node A: A dropped at egress" kwait 5 bash -c '[ "$(dropped_pkts a egress)" -gt 0 ]'
check "  the packet never reached node B's pod (B's ingress drops unchanged)" bash -c "[ \"$(dropped_pkts b ingress)\" = '$b_before' ]"

# 20 pods at once, new label sets, each set on both nodes
pids=()
for i in $(seq 1 10); do
	(kpod a default/ca-$i grp=g$i,tier=t$i >/dev/null) &
	pids+=($!)
	(kpod b default/cb-$i grp=g$i,tier=t$i >/dev/null) &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
all_attached() {
	local n
	for n in a b; do
		[ "$(ka $n pod list -o json | python3 -c 'import json,sys; print(sum(1 for p in json.load(sys.stdin)["items"] if p["name"].startswith(("ca-","cb-")) and not p["remote"]))')" = 10 ] || return 1
	done
}
export -f all_attached
check "20 pods attached (10 per node)" kwait 60 all_attached
consistent() {
	python3 - "$(ka a pod list -o json)" "$(ka b pod list -o json)" <<'PY'
import json,sys
seen={}
for d in sys.argv[1:]:
    for p in json.loads(d)["items"]:
        if not p["name"].startswith(("ca-","cb-")): continue
        g=p["name"].split("-")[1]
        seen.setdefault(g,set()).add(p["identity"])
if len(seen)!=10: sys.exit(1)
for g,ids in seen.items():
    if len(ids)!=1 or 0 in ids: sys.exit(2)   # two numbers for one label set
nums=[next(iter(i)) for i in seen.values()]
if len(set(nums))!=10: sys.exit(3)           # one number for two sets
PY
}
export -f consistent
check "one number per label set and one label set per number, on both nodes (local and remote views)" \
	kwait 30 consistent
check "every number is a SluiceIdentity holding its labels" bash -c '
	for id in $(ka a pod list -o json | python3 -c "import json,sys; print(\" \".join(str(p[\"identity\"]) for p in json.load(sys.stdin)[\"items\"] if p[\"name\"].startswith(\"ca-\")))"); do
		kc get sluiceidentity $id -o jsonpath="{.security-labels}" | grep -q grp || exit 1
	done'
t_finish
