#!/usr/bin/env bash
# The article's scenario entirely through the Kubernetes API: Pods,
# Namespaces and CiliumNetworkPolicy objects applied with kubectl against a
# real kube-apiserver (RBAC on; the agent runs as deploy's ServiceAccount),
# then a relabel with `kubectl label`, a policy version that does not load
# (the previous one stays, the failure shows in `sluice policy list`, the
# metric and an Event), the policy's deletion, and a NetworkPolicy from the
# upstream e2e suite (namespaceSelector) with a namespace relabelled.
# Also: the agent-not-ready taint goes only once sluice-cni is chained in
# the CNI config (a directory with no primary network first), and `sluice
# status` shows the Node's podCIDRs, not --pod-cidr.
source "$(dirname "$0")/agents.sh"
ka_begin a
# the node registered with the agent-not-ready taint (no kubelet here), and
# the pod ranges a controller-manager would have given it
kapply <<EOF
{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "${KA_NAME[a]}"},
 "spec": {"podCIDR": "10.244.${KA_IDX[a]}.0/24", "podCIDRs": ["10.244.${KA_IDX[a]}.0/24"],
          "taints": [{"key": "sluice.io/agent-not-ready", "value": "true", "effect": "NoSchedule"},
                     {"key": "example.com/other", "value": "x", "effect": "NoSchedule"}]}}
EOF
# a CNI config directory with no primary network yet: the agent syncs but
# cannot chain sluice-cni, and the taint must stay until it has
CNI_DIR=$KA_WORK/net.d
mkdir -p "$CNI_DIR"
ka_start a --cni-conf-dir "$CNI_DIR" || { fail "agent starts in Kubernetes mode and syncs"; t_finish; }
pass "agent starts with --kubeconfig (ServiceAccount token, RBAC enforced) and syncs"
taints() { kc get node "$1" -o jsonpath='{.spec.taints[*].key}'; }
export -f taints
sleep 4.5 # synced, and two tries of the conflist writer (every 2 s) that found no network
check "synced but sluice-cni not chained (no primary network): the taint stays" \
	bash -c "taints ${KA_NAME[a]} | grep -q agent-not-ready"
cat >"$CNI_DIR/10-bridge.conflist" <<'JSON'
{"cniVersion": "1.0.0", "name": "cbr0", "plugins": [{"type": "bridge", "bridge": "cni0", "ipam": {"type": "host-local", "subnet": "10.99.0.0/24"}}]}
JSON
check "the primary network appears: the agent chains sluice-cni, then removes its node's agent-not-ready taint" \
	kwait 20 bash -c "! taints ${KA_NAME[a]} | grep -q agent-not-ready"
check "  and keeps the node's other taints" bash -c "taints ${KA_NAME[a]} | grep -q example.com/other"
expect_eq "  the conflist's last plugin is sluice-cni" sluice-cni \
	"$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["plugins"][-1]["type"])' "$CNI_DIR/10-bridge.conflist")"
chained=$(grep -n 'sluice-cni chained in' "$KA_WORK/a/agent.log" | head -1 | cut -d: -f1)
untainted=$(grep -n 'removed taint sluice.io/agent-not-ready' "$KA_WORK/a/agent.log" | head -1 | cut -d: -f1)
check "  in that order: the conflist written (log line ${chained:-none}) before the taint went (line ${untainted:-none})" \
	test "${chained:-0}" -gt 0 -a "${untainted:-0}" -gt "${chained:-0}"

# in Kubernetes mode the primary CNI gives the addresses: status shows the
# Node's podCIDRs, not the agent's unused --pod-cidr
expect_eq "status -o json: no pod_cidr, pod addresses from the primary CNI, the Node's podCIDRs" \
	"None primary CNI ['10.244.${KA_IDX[a]}.0/24']" \
	"$(ka a status -o json | jq_py 'd.get("pod_cidr"), d.get("pod_addresses"), d.get("node_pod_cidrs")' | tr -d ',()')"
check "  sluice status: 'Pod addresses: from the primary CNI (Node podCIDRs 10.244.${KA_IDX[a]}.0/24)'" bash -c \
	"ka a status | grep -qx 'Pod addresses: from the primary CNI (Node podCIDRs 10.244.${KA_IDX[a]}.0/24)'"
check_not "  and no 'Pod CIDR:' line" bash -c "ka a status | grep -q '^Pod CIDR:'"

# frontend as a Deployment's pod: its ReplicaSet owns it (Hubble's workloads)
KPOD_OWNER=ReplicaSet/frontend-6c9f7b8d4 kpod a default/frontend app=frontend,security.level=trusted,pod-template-hash=6c9f7b8d4
kpod a default/frontend-untrusted app=frontend
kpod a default/backend app=backend http=8080/TCP
kpod a default/database app=database pg=5432/TCP
kpod a default/malicious app=malicious
kserve a default/backend tcp:8080
kserve a default/database tcp:5432
check "five pods attached with their API labels" \
	bash -c "[ \$(ka a pod list -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"items\"]))') = 5 ]"
check "the pod's labels come from the API" bash -c "ka a pod list | grep default/frontend-untrusted | grep -q app=frontend"
check "before any policy, malicious reaches the database" kcan a default/malicious tcp "$IP_database" 5432

kapply <<'YAML'
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: backend-ingress
spec:
  endpointSelector:
    matchLabels:
      app: backend
  ingress:
  - fromEndpoints:
    - matchLabels:
        app: frontend
        security.level: trusted
    toPorts:
    - ports:
      - port: "8080"
        protocol: TCP
---
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: database-ingress
spec:
  endpointSelector:
    matchLabels:
      app: database
  ingress:
  - fromEndpoints:
    - matchLabels:
        app: backend
    toPorts:
    - ports:
      - port: pg
YAML
check "both policies in force from the API" kwait 20 bash -c "ka a policy list | grep -c 'k8s:ciliumnetworkpolicies/default' | grep -qx 2"
check "frontend (trusted) -> backend:8080 allowed" kcan a default/frontend tcp "$IP_backend" 8080

# flows name their ends as Hubble does: the endpoint ID, the cluster and
# the workload (Deployment frontend, from the ReplicaSet frontend-6c9f7b8d4
# and the pod's pod-template-hash); the workload filters select by it
ep_of() { ka a pod list -o json | jq_py "[p['endpoint'] for p in d['items'] if p['name'] == '$1'][0]"; }
# flows_check EXPECT_SRC_WORKLOAD [observe filters...]: "N ok" when every
# flow's source is frontend as above and its destination backend, with
# no workload
flows_check() {
	ka a observe --last 2000 -o json "$@" 2>/dev/null | EP_F=$(ep_of frontend) EP_B=$(ep_of backend) python3 -c '
import json, os, sys
n, bad = 0, []
for line in sys.stdin:
    f = json.loads(line)["flow"]
    s, d = f["source"], f["destination"]
    n += 1
    want_s = {"ID": int(os.environ["EP_F"]), "cluster_name": "default", "pod_name": "frontend",
              "workloads": [{"name": "frontend", "kind": "Deployment"}]}
    want_d = {"ID": int(os.environ["EP_B"]), "cluster_name": "default", "pod_name": "backend"}
    if any(s.get(k) != v for k, v in want_s.items()) or any(d.get(k) != v for k, v in want_d.items()) \
            or "workloads" in d:
        bad.append((s, d))
print(f"{n} ok" if n and not bad else f"{n} flows, wrong: {bad[:2]}")'
}
for wf in --from-workload=Deployment/frontend --from-workload=frontend; do
	expect_eq "observe -o json $wf --to-port 8080: frontend's flows carry ID, cluster_name default, workloads Deployment/frontend" \
		ok "$(flows_check "$wf" --to-port 8080 | awk '{print $2}')"
done
expect_eq "  --from-workload StatefulSet/frontend (another kind) matches none" 0 \
	"$(ka a observe --last 2000 -o json --from-workload StatefulSet/frontend 2>/dev/null | wc -l)"
expect_eq "  --from-workload backend (a pod with no owner) matches none" 0 \
	"$(ka a observe --last 2000 -o json --from-workload backend 2>/dev/null | wc -l)"
expect_eq "  the policy verdict names the policy that allowed it (ingress_allowed_by)" \
	"CiliumNetworkPolicy default backend-ingress" \
	"$(ka a observe --last 2000 -o json --from-pod default/frontend --to-port 8080 --type policy-verdict 2>/dev/null |
		python3 -c 'import json, sys
print(" ".join(sorted({" ".join((p["kind"], p["namespace"], p["name"])) for l in sys.stdin
                       for p in json.loads(l)["flow"].get("ingress_allowed_by", [])})))')"
notwl=$(ka a observe --last 2000 -o json --not --workload frontend 2>/dev/null)
expect_eq "  --not --workload frontend: other pods' flows, none of frontend's" "yes 0" \
	"$([ "$(echo "$notwl" | grep -c '"pod_name":"database"')" -gt 0 ] && echo yes || echo no) $(echo "$notwl" | grep -c '"pod_name":"frontend"')"
check "frontend without security.level -> backend dropped" kdropped a default/frontend-untrusted tcp "$IP_backend" 8080
check "malicious -> backend dropped" kdropped a default/malicious tcp "$IP_backend" 8080
check "malicious -> database dropped" kdropped a default/malicious tcp "$IP_database" 5432
check "backend -> database allowed (named port from the Pod spec)" kcan a default/backend tcp "$IP_database" 5432
check "frontend -> database dropped" kdropped a default/frontend tcp "$IP_database" 5432

# relabel through the API: access follows
before=$(kident a default/frontend-untrusted)
kc label pod frontend-untrusted security.level=trusted >/dev/null
check "kubectl label: frontend-untrusted moves to a new identity" \
	kwait 20 bash -c "[ \"\$(kident a default/frontend-untrusted)\" != '$before' ]"
check "kubectl label: frontend-untrusted -> backend now allowed" kcan a default/frontend-untrusted tcp "$IP_backend" 8080
kc label pod frontend security.level- >/dev/null
check "kubectl label (remove): frontend -> backend now dropped" \
	kwait 20 kdropped a default/frontend tcp "$IP_backend" 8080
check "identity numbers are cluster objects (SluiceIdentity)" \
	kc get sluiceidentity "$(kident a default/frontend-untrusted)"

# a version that does not load: the previous one stays in force
kapply <<'YAML'
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: backend-ingress
spec:
  endpointSelector:
    matchLabels:
      app: backend
  ingress:
  - fromEndpoints:
    - matchLabels:
        app: malicious
    toPorts:
    - ports:
      - port: "80_a"
        protocol: TCP
YAML
check "the failure shows in sluice policy list" kwait 20 bash -c "ka a policy list | grep backend-ingress | grep -q 'invalid port'"
check "the previous version stays: trusted frontend -> backend allowed" kcan a default/frontend-untrusted tcp "$IP_backend" 8080
check "the previous version stays: malicious -> backend dropped" kdropped a default/malicious tcp "$IP_backend" 8080
check "the failure is counted in a metric" bash -c \
	"curl -s http://127.0.0.1:$((19000 + KA_IDX[a]))/metrics | grep -Eq '^sluice_k8s_policy_load_failures_total [1-9]'"
check "the failure is an Event on the object" kwait 20 bash -c \
	"kc get events -n default --field-selector involvedObject.name=backend-ingress,reason=PolicyLoadFailed -o name | grep -q ."
valid() { kc get cnp backend-ingress -o jsonpath='{.status.conditions[?(@.type=="Valid")].status}|{.status.conditions[?(@.type=="Valid")].message}'; }
export -f valid
check "the object's Valid condition is False, with the loader's line and field (as Cilium's validator)" kwait 20 bash -c \
	"valid | grep -q '^False|k8s:ciliumnetworkpolicies/default/backend-ingress:[0-9]*: spec.ingress\[0\].toPorts\[0\].ports\[0\].port: invalid port'"
check "kubectl get cnp shows it in the VALID column" bash -c "kc get cnp backend-ingress | grep -Eq '^NAME +AGE +VALID' && kc get cnp backend-ingress | grep -Eq '^backend-ingress +[0-9a-z]+ +False'"
# fixed again: loads
kapply <<'YAML'
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: backend-ingress
spec:
  endpointSelector:
    matchLabels:
      app: backend
  ingress:
  - fromEndpoints:
    - matchLabels:
        app: frontend
    toPorts:
    - ports:
      - port: "8080"
        protocol: TCP
YAML
check "a good version loads again (status ok)" kwait 20 bash -c "ka a policy list | grep backend-ingress | grep -q ' ok$'"
check "  and its Valid condition is True again" kwait 20 bash -c "valid | grep -qx 'True|Policy validation succeeded'"
check "  and is in force: frontend (any) -> backend allowed" kwait 10 kcan a default/frontend tcp "$IP_backend" 8080

# deleting the policy restores access
kc delete cnp backend-ingress >/dev/null
check "kubectl delete cnp: the policy is gone from the agent" kwait 20 bash -c "! ka a policy list | grep -q backend-ingress"
check "kubectl delete cnp: malicious -> backend allowed again" kcan a default/malicious tcp "$IP_backend" 8080

# one rule of a CiliumNetworkPolicy changed through the API: the agent
# parses and compiles that item alone (policy/edit.c reads the object's
# JSON as it reads a file applied again), all or nothing as before
kedits() { ka a status -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["policy_item_edits"])'; }
export -f kedits
cnp_database_extra() {
	kapply <<YAML
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: database-extra
spec:
  endpointSelector:
    matchLabels:
      app: database
  ingress:
  - fromEndpoints:
    - matchLabels:
        app: frontend
    toPorts:
    - ports:
      - port: "5499"
        protocol: TCP
  - fromEndpoints:
    - matchLabels:
        app: malicious
    toPorts:
    - ports:
      - port: "$1"
        protocol: TCP
YAML
}
cnp_database_extra 5498
check "database-extra in force from the API" kwait 20 bash -c "ka a policy list | grep -q database-extra"
edits0=$(kedits)
cnp_database_extra 5432
check "kubectl apply of one changed rule: a one-item edit ($edits0 -> $((edits0 + 1)))" \
	kwait 20 bash -c "[ \"\$(kedits)\" = $((edits0 + 1)) ]"
check "the edited rule is in force: malicious -> database:5432 allowed" kcan a default/malicious tcp "$IP_database" 5432
cnp_database_extra 99999
check "a changed rule that does not load is refused (sluice policy list says why)" \
	kwait 20 bash -c "ka a policy list | grep database-extra | grep -q 'invalid port'"
check "... and the version in force stays: malicious -> database:5432 still allowed" kcan a default/malicious tcp "$IP_database" 5432
[ "$(kedits)" = $((edits0 + 1)) ] && pass "the refused version counted no edit" || fail "edits after the refused version: $(kedits)"
cnp_database_extra 5498
check "changed back: a second one-item edit" kwait 20 bash -c "[ \"\$(kedits)\" = $((edits0 + 2)) ]"
check "malicious -> database:5432 dropped again" kdropped a default/malicious tcp "$IP_database" 5432
kc delete cnp database-extra >/dev/null

# a NetworkPolicy from the upstream e2e suite ("should enforce policy to
# allow traffic only from a pod in a different namespace based on its
# namespace label"), with the namespace relabelled through the API
kc create namespace e2e-server >/dev/null
kc create namespace e2e-a >/dev/null
kc create namespace e2e-b >/dev/null
kc label namespace e2e-a ns-name=e2e-a >/dev/null
kc label namespace e2e-b ns-name=e2e-b >/dev/null
kpod a e2e-server/server pod-name=server
kpod a e2e-a/client-a pod-name=client-a
kpod a e2e-b/client-b pod-name=client-b
kserve a e2e-server/server tcp:80
kapply <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-ns-a-via-namespace-selector
  namespace: e2e-server
spec:
  podSelector:
    matchLabels:
      pod-name: server
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          ns-name: e2e-a
YAML
check "NetworkPolicy from the API in force" kwait 20 bash -c "ka a policy list | grep -q allow-ns-a-via-namespace-selector"
check "NetworkPolicy: client in e2e-a -> server allowed" kcan a e2e-a/client-a tcp "$IP_server" 80
check "NetworkPolicy: client in e2e-b -> server dropped" kdropped a e2e-b/client-b tcp "$IP_server" 80
kc label namespace e2e-b ns-name=e2e-a --overwrite >/dev/null
check "namespace relabelled through the API: client in e2e-b -> server allowed" \
	kwait 20 kcan a e2e-b/client-b tcp "$IP_server" 80

echo "# service accounts (the Cilium CLI's client-egress-to-echo-service-account-deny)"
KPOD_SA=client kpod a sa/client kind=client
KPOD_SA=echo-same-node kpod a sa/echo kind=echo
kpod a sa/echo-nosa kind=echo
kserve a sa/echo tcp:8080
kserve a sa/echo-nosa tcp:8080
check "the pod's service account is one of its labels" kwait 20 bash -c \
	"ka a pod list | grep 'sa/echo ' | grep -q 'io.cilium.k8s.policy.serviceaccount=echo-same-node'"
check "  and of its identity's" bash -c \
	"ka a identity list | grep -q 'k8s:io.cilium.k8s.policy.serviceaccount=echo-same-node'"
kapply <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: allow-all-egress, namespace: sa}
spec:
  endpointSelector: {}
  egress:
  - toEntities: [all]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: client-egress-to-echo-service-account-deny
  namespace: sa
spec:
  description: "Deny client to echo endpoint with service account label"
  endpointSelector:
    matchLabels:
      io.cilium.k8s.policy.serviceaccount: client
  egressDeny:
  - toPorts:
    - ports:
      - port: "8080"
        protocol: TCP
    toEndpoints:
    - matchLabels:
        io.cilium.k8s.policy.serviceaccount: echo-same-node
YAML
check "the deny is in force" kwait 20 bash -c "ka a policy list | grep -q client-egress-to-echo-service-account-deny"
check "client (sa client) -> echo (sa echo-same-node):8080 dropped" kwait 10 kdropped a sa/client tcp "$IP_echo" 8080
check "client -> an echo without that service account: allowed" kcan a sa/client tcp "$IP_echo_nosa" 8080

check "sluice status shows the Kubernetes source" bash -c "ka a status | grep -q '^Kubernetes: .*synced'"
t_finish
