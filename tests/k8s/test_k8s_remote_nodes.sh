#!/usr/bin/env bash
# The other nodes of the cluster have Cilium's reserved remote-node
# identity: their Node objects' InternalIP/ExternalIP addresses, from a real
# kube-apiserver (the agent lists and watches Nodes with deploy's RBAC).
# toEntities/fromEntities remote-node match them, `world` and a CIDR naming
# one no longer do (Cilium's default policy-cidr-match-mode), this node's
# own Node is the host, and a Node deleted (also while the agent is down)
# takes its addresses back to world. The kube-apiserver entity follows
# default/kubernetes' endpoints: the host when the API server is on this
# node, Cilium's identity 7 (kube-apiserver and remote-node) on another,
# and outside the cluster a CIDR identity labelled kube-apiserver and world.
source "$(dirname "$0")/agents.sh"
ka_begin a
ka_start a || { fail "agent a syncs"; t_finish; }
pass "agent in Kubernetes mode, Nodes listed with deploy's RBAC"
ka_use a

kpod a default/client app=client
kpod a default/worldly app=worldly
kpod a default/cidr app=cidr
kpod a default/server app=server "http=8080/TCP"
kserve a default/server tcp:8080
# two addresses outside the pod network: W1 becomes another node's
W1=$(sl_world_create rn1 20) || { fail "world rn1"; t_finish; }
W2=$(sl_world_create rn2 21) || { fail "world rn2"; t_finish; }
for w in rn1 rn2; do
	ip netns exec "${SL_NSPFX}w$w" python3 "$TOOLS/podserver.py" "w$w" "$KA_WORK/w$w.log" tcp:8080 >/dev/null 2>&1 &
	KA_BG+=($!)
done
check "world servers answer on $W1:8080 and $W2:8080" \
	kwait 20 bash -c "[ -e '$KA_WORK/wrn1.log.ready' ] && [ -e '$KA_WORK/wrn2.log.ready' ]"
[ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || echo 1 >/proc/sys/net/ipv4/ip_forward
# wcan WORLD IP PORT: a probe from a world netns (another node's traffic)
wcan() { ip netns exec "${SL_NSPFX}w$1" python3 "$TOOLS/probe.py" tcp "$2" "$3" 1.0; }
wdropped() { wcan "$@"; [ $? -eq 2 ]; }
export -f wcan wdropped
export SL_NSPFX TOOLS

kapply <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: client-to-nodes, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toEntities: [remote-node]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: worldly-to-world, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: worldly}}
  egress:
  - toEntities: [world]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: server-from-nodes, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEntities: [remote-node]
YAML
kapply <<YAML
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: cidr-to-w1, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: cidr}}
  egress:
  - toCIDR: [$W1/32]
YAML

echo "== no other Node yet: both addresses are world"
check "client (toEntities remote-node) -> $W1:8080 dropped" kwait 20 kdropped a default/client tcp "$W1" 8080
check "worldly (toEntities world) -> $W1:8080 allowed" kwait 20 kcan a default/worldly tcp "$W1" 8080
check "cidr (toCIDR $W1/32) -> $W1:8080 allowed" kwait 20 kcan a default/cidr tcp "$W1" 8080
check "$W1 -> server (fromEntities remote-node) dropped" wdropped rn1 "$IP_server" 8080

echo "== Node node-b appears with InternalIP $W1; this node's own Node names $W2"
kapply <<YAML
{"apiVersion": "v1", "kind": "List", "items": [
 {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-b"},
  "status": {"addresses": [{"type": "InternalIP", "address": "$W1"},
                           {"type": "ExternalIP", "address": "203.0.113.77"},
                           {"type": "Hostname", "address": "node-b"},
                           {"type": "InternalIP", "address": "fd00::b"}]}},
 {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "${KA_NAME[a]}"},
  "status": {"addresses": [{"type": "InternalIP", "address": "$W2"}]}}]}
YAML
check "client -> $W1:8080 (node-b) now allowed by toEntities remote-node" kwait 20 kcan a default/client tcp "$W1" 8080
check "client -> $W2:8080 still dropped (this node's own Node is not a remote node)" kdropped a default/client tcp "$W2" 8080
check "worldly -> $W1:8080 dropped: a node is not world" kwait 20 kdropped a default/worldly tcp "$W1" 8080
check "worldly -> $W2:8080 still allowed" kcan a default/worldly tcp "$W2" 8080
check "cidr -> $W1:8080 dropped: a CIDR rule does not select a node (Cilium's default)" kwait 20 kdropped a default/cidr tcp "$W1" 8080
check "$W1 (node-b) -> server allowed by fromEntities remote-node" kwait 20 wcan rn1 "$IP_server" 8080
check "$W2 -> server dropped" wdropped rn2 "$IP_server" 8080
expect_eq "status: node-b's two IPv4 addresses (InternalIP, ExternalIP) are remote-node" 2 \
	"$(ka a status -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["kubernetes"]["remote_node_addresses"])')"
check "observe: the client's flow to $W1 names reserved:remote-node" bash -c "ka a observe --last 200 -o json | python3 -c '
import json, sys
for line in sys.stdin:
    f = json.loads(line).get(\"flow\", {})
    if f.get(\"IP\", {}).get(\"destination\") == \"$W1\" and \"reserved:remote-node\" in f.get(\"destination\", {}).get(\"labels\", []):
        sys.exit(0)
sys.exit(1)'"

echo "== node-b's address changes, then node-b is deleted"
# (status is a subresource: kubelet PATCHes it; the API server of these
# tests takes a PUT of the whole Node's status)
kc get node node-b -o json | python3 -c "
import json, sys
n = json.load(sys.stdin)
n['status']['addresses'] = [{'type': 'InternalIP', 'address': '$W2'}]
print(json.dumps(n))" >"$KA_WORK/node-b.json"
kc replace --raw /api/v1/nodes/node-b/status -f "$KA_WORK/node-b.json" >/dev/null ||
	fail "node-b's status replaced"
check "node-b now at $W2: client -> $W2:8080 allowed" kwait 20 kcan a default/client tcp "$W2" 8080
check "... and $W1 is world again: client -> $W1:8080 dropped" kwait 20 kdropped a default/client tcp "$W1" 8080
check "... cidr -> $W1:8080 allowed again (its /32 is back)" kwait 20 kcan a default/cidr tcp "$W1" 8080
kc delete node node-b >/dev/null
check "node-b deleted: client -> $W2:8080 dropped" kwait 20 kdropped a default/client tcp "$W2" 8080
check "... worldly -> $W2:8080 allowed (world again)" kwait 20 kcan a default/worldly tcp "$W2" 8080

echo "== a Node deleted while the agent is down"
kapply <<YAML
{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-c"},
 "status": {"addresses": [{"type": "InternalIP", "address": "$W1"}]}}
YAML
check "node-c at $W1: client -> $W1:8080 allowed" kwait 20 kcan a default/client tcp "$W1" 8080
ka_kill a
kc delete node node-c >/dev/null
ka_start a || fail "agent a restarts"
check "after the restart node-c's address is world again: client -> $W1:8080 dropped" \
	kwait 20 kdropped a default/client tcp "$W1" 8080
check "... worldly -> $W1:8080 allowed" kwait 20 kcan a default/worldly tcp "$W1" 8080

echo "== the kube-apiserver entity: the API server on this node, then on another node"
# the API server's address is what default/kubernetes' EndpointSlice names
# (the API servers write it; these tests' API server runs with
# --endpoint-reconciler-type=none, so the test writes it as they would)
apislice() {
	kapply <<YAML
apiVersion: discovery.k8s.io/v1beta1
kind: EndpointSlice
metadata: {name: kubernetes, namespace: default, labels: {kubernetes.io/service-name: kubernetes}}
addressType: IPv4
ports: [{name: https, port: 8080, protocol: TCP}]
endpoints: [{addresses: ["$1"], conditions: {ready: true}}]
YAML
}
kpod a default/apic app=apic
kapply <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: apic-to-apiserver, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: apic}}
  egress:
  - toEntities: [kube-apiserver]
YAML
# host_server IP: a server on one of this host's addresses at 8080
host_server() {
	rm -f "$KA_WORK/host-$1.ready"
	python3 -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('$1', 8080)); s.listen(16); open('$KA_WORK/host-$1.ready', 'w').close()
while True:
    c, a = s.accept(); c.sendall(b'host'); c.close()" >/dev/null 2>&1 &
	KA_BG+=($!)
	kwait 20 test -e "$KA_WORK/host-$1.ready" || fail "the host server on $1 started"
	wait_host_addr "$1"
}
HOSTIP=$(sl_world_host_ip 20) # world rn1's host side
host_server "$HOSTIP"
check "no API server address yet: apic -> $HOSTIP:8080 (the host) dropped" kwait 20 kdropped a default/apic tcp "$HOSTIP" 8080
apislice "$HOSTIP"
check "the API server on this node ($HOSTIP): apic -> $HOSTIP:8080 allowed (the host carries kube-apiserver)" \
	kwait 20 kcan a default/apic tcp "$HOSTIP" 8080
check "... apic -> $W1:8080 dropped" kdropped a default/apic tcp "$W1" 8080
kapply <<YAML
{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-api"},
 "status": {"addresses": [{"type": "InternalIP", "address": "$W1"}]}}
YAML
apislice "$W1"
check "the API server on node-api ($W1): apic -> $W1:8080 allowed" kwait 20 kcan a default/apic tcp "$W1" 8080
check "... the host no longer: apic -> $HOSTIP:8080 dropped" kwait 20 kdropped a default/apic tcp "$HOSTIP" 8080
check "... and node-api is still a remote node: client (toEntities remote-node) -> $W1:8080 allowed" \
	kcan a default/client tcp "$W1" 8080
check "observe: apic's flow to $W1 names reserved:kube-apiserver and reserved:remote-node (Cilium's identity 7)" \
	bash -c "ka a observe --last 300 -o json | python3 -c '
import json, sys
for line in sys.stdin:
    f = json.loads(line).get(\"flow\", {})
    d = f.get(\"destination\", {})
    if f.get(\"IP\", {}).get(\"destination\") == \"$W1\" and d.get(\"identity\") == 7 and \
       {\"reserved:kube-apiserver\", \"reserved:remote-node\"} <= set(d.get(\"labels\", [])):
        sys.exit(0)
sys.exit(1)'"
apislice "$W2"
# Cilium: an API server outside the cluster (a managed control plane) has
# a CIDR identity labelled kube-apiserver and world
check "an API server outside the nodes ($W2): apic -> $W2:8080 allowed (its CIDR identity is kube-apiserver)" \
	kwait 20 bash -c "grep -q \"API server's address $W2 is not a node's: a CIDR identity labelled kube-apiserver\" '$KA_WORK/a/agent.log' && kcan a default/apic tcp '$W2' 8080"
check "... and $W1 is plain remote-node again: apic -> $W1:8080 dropped" kwait 20 kdropped a default/apic tcp "$W1" 8080
check "... $W2 is world too: worldly (toEntities world) -> $W2:8080 allowed" kcan a default/worldly tcp "$W2" 8080
check "... client (remote-node only) -> $W2:8080 dropped" kdropped a default/client tcp "$W2" 8080
check "identity list: $W2's CIDR identity carries reserved:kube-apiserver and reserved:world" \
	bash -c "ka a identity list -o json | python3 -c '
import json, sys
ids = json.load(sys.stdin)
ids = ids.get(\"items\", []) if isinstance(ids, dict) else ids
sys.exit(0 if any({\"cidr:$W2/32\", \"reserved:kube-apiserver\", \"reserved:world\"} <= set(i[\"labels\"])
                  and i[\"identity\"] >= 16777216 for i in ids) else 1)'"
check "observe: apic's flow to $W2 names reserved:kube-apiserver and cidr:$W2/32" \
	bash -c "ka a observe --last 300 -o json | python3 -c '
import json, sys
for line in sys.stdin:
    f = json.loads(line).get(\"flow\", {})
    d = f.get(\"destination\", {})
    if f.get(\"IP\", {}).get(\"destination\") == \"$W2\" and \
       {\"reserved:kube-apiserver\", \"cidr:$W2/32\"} <= set(d.get(\"labels\", [])):
        sys.exit(0)
sys.exit(1)'"

echo "== the API server's address comes to this host after its slice named it"
HOST3=$(sl_world_host_ip 22)
apislice "$HOST3"
sl_world_create rn3 22 >/dev/null || fail "world rn3"
host_server "$HOST3"
check "once the host has $HOST3 (the agent rescans its addresses): apic -> $HOST3:8080 allowed" \
	kwait 20 kcan a default/apic tcp "$HOST3" 8080
t_finish
