#!/usr/bin/env bash
# tests/deploy/test_cluster.sh - sluice installed the way users install it, on
# a real single-node cluster (tests/k8s/cluster.sh: etcd, kube-apiserver,
# kubelet, scheduler, controller-manager, containerd + runc, Debian's bridge
# CNI, all inside a throwaway node netns and mount namespace):
#   1. the image from deploy/image/build.sh imported into the node's containerd;
#   2. `helm install` of deploy/helm/sluice with the chart's own bpffs
#      settings (/sys/fs/bpf, mount-bpf-fs Bidirectional, the agent
#      HostToContainer); the init container installs sluice-cni, the agent
#      runs in its container, chains sluice-cni after the node's bridge,
#      removes the node's sluice.io/agent-not-ready taint and becomes Ready;
#   3. pods created afterwards are attached by sluice-cni, get identities
#      (SluiceEndpoints) and are enforced: the article's scenario with a
#      CiliumNetworkPolicy applied with kubectl: curl from the client pod gets
#      200 for GET /public, 403 for /private, the intruder pod is dropped in
#      the kernel;
#      A pod with an egress L7 policy gets 200/403 from the proxy its
#      connections are steered to (connect4 on the pods' cgroup v2);
#   3b. Services from the API through sluice alone (no kube-proxy on the
#      node): a Service over server and server2, curl to its ClusterIP gets
#      200/403 from both backends, the intruder is dropped, observe names it;
#   4. `kubectl exec ds/sluice -- sluice observe` shows the flows (the drop,
#      the L7 requests; a Deployment's pod with its workload, selected by
#      --from-workload), `kubectl logs` the access log (ingress and egress);
#   5. `kubectl rollout restart ds/sluice` under traffic: an established L4
#      connection carries every line across the restart, an established
#      keep-alive L7 connection (one TCP connection through the proxy, many
#      requests) keeps getting 200/403 with no reset: the proxy is its own
#      DaemonSet (sluice-proxy, the chart's default) and its pod and process
#      are unchanged, the new agent adopts it; no request ever gets a
#      verdict it should not (/private never 200, the intruder never
#      answered), and enforcement holds after it;
#   6. `helm upgrade --set cni.uninstall=true,privileged=true,proxy.mode=embedded`
#      (the sluice-proxy DaemonSet goes, the agent adopts the pins, starts
#      its own proxy and enforces as before, L7 included), then `helm uninstall`: the
#      conflist no longer has sluice-cni, an old pod is deleted, and a pod
#      created afterwards starts and serves.
# The node's pods run in cgroup v1 hierarchies (cgroupfs driver) that runc
# mirrors into the host's cgroup v2 hierarchy (hybrid host): the agent's
# cgroup root is the cluster's own v2 cgroup and --pods-cgroup the kubelet's
# kubepods under it.
# Pins live under /sys/fs/bpf/sluice-k8s-test-<pid>; everything is removed at
# exit.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${SL_BUILD:-$ROOT/build}
# shellcheck source=../k8s/lib.sh
source "$ROOT/tests/k8s/lib.sh"
TOOLS=$(bash "$HERE/tools.sh") || { echo "FAIL: tests/deploy/tools.sh"; exit 1; }
HELM=$TOOLS/bin/helm
WORK=$(mktemp -d /tmp/sluice-deploy-cluster.XXXXXX)
PIN_DIR=sluice-k8s-test-$$
RUN=$WORK/run
T_START=$SECONDS
pass=0
fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
finish() {
	echo "$pass passed, $fail failed ($((SECONDS - T_START)) s)"
	[ "$fail" = 0 ]
	exit $?
}

# After k8s_down (lib.sh's EXIT trap runs this one last): what the agent
# pinned on the host's bpffs. The node's netns, veths and cgroups are gone:
# removing the pins releases the programs and maps.
final_cleanup() {
	[ -n "${LOAD_PID:-}" ] && kill "$LOAD_PID" 2>/dev/null
	[ -n "${CONN_PID:-}" ] && kill "$CONN_PID" 2>/dev/null
	[ -n "${KA_PID:-}" ] && kill "$KA_PID" 2>/dev/null
	rm -rf "/sys/fs/bpf/$PIN_DIR"
	rm -rf "$WORK"
}
trap final_cleanup EXIT
# Before k8s_down: what a failure needs to be understood.
diagnostics() {
	[ "$fail" = 0 ] && return 0
	echo "--- agent log (last 40 lines) ---"
	kc -n kube-system logs ds/sluice -c agent --tail=40 2>/dev/null
	echo "--- proxy log (last 20 lines) ---"
	kc -n kube-system logs ds/sluice-proxy --tail=20 2>/dev/null
	kc get pods -A -o wide 2>/dev/null
	kc get events -A 2>/dev/null | tail -20
}

# 1. the image and the cluster
t0=$SECONDS
if ! out=$(bash "$ROOT/deploy/image/build.sh" -b "$BUILD" -o "$WORK/image" 2>"$WORK/image.log"); then
	tail -20 "$WORK/image.log"
	bad "deploy/image/build.sh"
	finish
fi
IMAGE=${out%% *}
TAR=${out##* }
ok "image $IMAGE built ($((SECONDS - t0)) s)"
t0=$SECONDS
if ! K8S_NODE_TAINTS="sluice.io/agent-not-ready=:NoExecute" k8s_cluster_up; then
	bad "cluster up"
	finish
fi
k8s_at_exit diagnostics
ok "cluster up in $((SECONDS - t0)) s (node $K8S_NODE_NAME registered with the taint sluice.io/agent-not-ready)"
k8s_import "$TAR" 2>/dev/null && ok "image imported into the node's containerd" || bad "import"
# cgroup v2: the cluster's own cgroup in the unified hierarchy (runc puts
# every container there too on this hybrid host), pods under kubepods.
CG=$K8S_CGROUP2_ROOT
[ -n "$CG" ] && [ -d "$CG/kubepods" ] && ok "the kubelet's pods cgroup in cgroup v2: $CG/kubepods" ||
	bad "no $CG/kubepods: egress L7 steering has no pods cgroup"
APIPORT=$(sed -n 's#.*server: https://[^:]*:\([0-9]*\).*#\1#p' "$K8S_KUBECONFIG" | head -1)
# containerd keeps the pods' netns files under its state dir here
# (netns_mounts_under_state_dir): the agent opens the paths sluice-cni hands it.
NETNS_DIR=$K8S_CLUSTER_DIR/containerd/state

# 2. helm install
t0=$SECONDS
if k8s_nsx "$HELM" --kubeconfig "$K8S_KUBECONFIG" install sluice "$ROOT/deploy/helm/sluice" \
	--namespace kube-system --wait=false \
	--set image.repository="${IMAGE%:*}" --set image.tag="${IMAGE##*:}" --set image.pullPolicy=Never \
	--set cgroup.root="$CG" --set cgroup.pods=kubepods --set bpf.pinDir="$PIN_DIR" --set runPath="$RUN" \
	--set "netnsPaths={$NETNS_DIR}" \
	--set cni.confPath="$K8S_CNI_CONF_DIR" --set cni.binPath="$K8S_CNI_BIN_DIR" \
	--set k8sServiceHost=127.0.0.1 --set k8sServicePort="$APIPORT" \
	>"$WORK/helm.log" 2>&1; then
	ok "helm install"
else
	bad "helm install: $(tail -5 "$WORK/helm.log")"
	finish
fi
if kc -n kube-system rollout status ds/sluice --timeout=240s >/dev/null 2>&1; then
	ok "DaemonSet rolled out, agent Ready in $((SECONDS - t0)) s"
else
	bad "the agent did not become Ready"
	kc -n kube-system describe pods -l k8s-app=sluice | tail -40
	kc -n kube-system describe pods -l k8s-app=sluice-proxy | tail -30
	finish
fi
if kc -n kube-system rollout status ds/sluice-proxy --timeout=120s >/dev/null 2>&1; then
	ok "DaemonSet sluice-proxy rolled out (the L7 proxy in its own pod, Ready)"
else
	bad "sluice-proxy did not become Ready"
	kc -n kube-system describe pods -l k8s-app=sluice-proxy | tail -30
fi
# it waited for the agent's pins instead of failing on a missing one
r=$(kc -n kube-system get pods -l k8s-app=sluice-proxy -o jsonpath='{.items[0].status.containerStatuses[0].restartCount}')
[ "$r" = 0 ] && ok "the proxy pod started once (no restart while the agent made its pins)" ||
	bad "the proxy container restarted $r time(s): $(kc -n kube-system logs ds/sluice-proxy --previous 2>&1 | tail -2)"

POD=$(kc -n kube-system get pods -l k8s-app=sluice -o jsonpath='{.items[0].metadata.name}')
st=$(kc -n kube-system exec "$POD" -c agent -- sluice status 2>&1)
grep -qi kubernetes <<<"$st" && ok "sluice status in the agent's container answers" ||
	bad "sluice status: $(echo "$st" | head -5)"
pst=$(kc -n kube-system exec "$POD" -c agent -- sluice status -o json 2>/dev/null |
	python3 -c 'import json,sys; p=json.load(sys.stdin)["proxy"]; print(p.get("state"), p.get("mode"), p.get("control"))' 2>/dev/null)
[ "$pst" = "ready external $RUN/sluice-proxy.sock" ] && ok "the agent adopted the sluice-proxy pod's proxy ($pst)" ||
	bad "agent's proxy: $pst"
# the start line says what Kubernetes mode uses, not the standalone pod CIDR
sl=$(kc -n kube-system logs "$POD" -c agent 2>/dev/null | grep 'sluiced: ready on' | tail -1)
case $sl in
*"(kubernetes, node $K8S_NODE_NAME;"*"pods cgroup $CG/kubepods, pod addresses from the primary CNI)"*)
	grep -q '10\.244\.0\.0/16' <<<"$sl" && bad "start line names the unused pod CIDR: $sl" ||
		ok "the start line says what it uses: ${sl#*sluiced: }" ;;
*) bad "start line: $sl" ;;
esac
# the agent's pins are on the host's bpffs (the mount propagated into the
# container): they outlive the container
[ -d "/sys/fs/bpf/$PIN_DIR" ] && [ -n "$(ls "/sys/fs/bpf/$PIN_DIR")" ] &&
	ok "pins on the host's bpffs: /sys/fs/bpf/$PIN_DIR ($(find "/sys/fs/bpf/$PIN_DIR" -type f | wc -l) files)" ||
	bad "no pins under the host's /sys/fs/bpf/$PIN_DIR"
taints=
for _ in $(seq 1 30); do
	taints=$(kc get node "$K8S_NODE_NAME" -o jsonpath='{.spec.taints}')
	grep -q agent-not-ready <<<"$taints" || break
	sleep 1
done
grep -q agent-not-ready <<<"$taints" && bad "taint still there: $taints" ||
	ok "the agent removed sluice.io/agent-not-ready from its node"
chain_of() {
	python3 -c '
import glob, json, sys
for f in sorted(glob.glob(sys.argv[1] + "/*.conflist")):
    print(f.rsplit("/", 1)[1] + ":", " -> ".join(p["type"] for p in json.load(open(f))["plugins"]))' "$K8S_CNI_CONF_DIR"
}
for _ in $(seq 1 20); do
	chain=$(chain_of)
	case $chain in *"bridge -> sluice-cni") break ;; esac
	sleep 0.5
done
case $chain in
*"bridge -> sluice-cni") ok "sluice-cni chained after the node's bridge: $chain" ;;
*) bad "conflist: $chain" ;;
esac
if [ -f "$K8S_CNI_BIN_DIR/sluice-cni" ] && [ ! -L "$K8S_CNI_BIN_DIR/sluice-cni" ] &&
	echo '{"cniVersion":"1.0.0"}' | CNI_COMMAND=VERSION "$K8S_CNI_BIN_DIR/sluice-cni" | grep -q supportedVersions; then
	ok "the init container installed sluice-cni ($(kc -n kube-system logs "$POD" -c install-cni-plugin 2>&1 | tail -1))"
else
	bad "no working sluice-cni in $K8S_CNI_BIN_DIR"
fi
ls -A "$K8S_CNI_BIN_DIR" | grep -q '^\.sluice-cni' && bad "a temporary sluice-cni file was left in $K8S_CNI_BIN_DIR"

# 3. the article's scenario, pods created after the agent
kc create namespace demo >/dev/null
cat >"$WORK/pods.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: demo, labels: {app: server}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
    - {name: http, image: sluice-test/http:1, imagePullPolicy: Never, ports: [{name: http, containerPort: 8080}]}
    # an echo service for a long-lived L4 connection
    - {name: echo, image: sluice-test/http:1, imagePullPolicy: Never, command: [/bin/nc, -ll, -p, "9000", -e, /bin/cat]}
    # a keep-alive HTTP server (busybox httpd closes every connection): each
    # connection answers request after request with 200 "ok"
    - name: keepalive
      image: sluice-test/http:1
      imagePullPolicy: Never
      command:
        - /bin/nc
        - -ll
        - -p
        - "8081"
        - -e
        - /bin/sh
        - -c
        - |
          CR=\$(printf '\\r')
          while read -r l; do
            while read -r h; do [ "\$h" = "\$CR" ] || [ -z "\$h" ] && break; done
            printf 'HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: 3\\r\\n\\r\\nok\\n'
          done
---
# a second backend of the Service (3b); the server's policy selects it too
apiVersion: v1
kind: Pod
metadata: {name: server2, namespace: demo, labels: {app: server}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
    - {name: http, image: sluice-test/http:1, imagePullPolicy: Never, ports: [{name: http, containerPort: 8080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: demo, labels: {app: client}}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{name: curl, image: sluice-test/curl:1, imagePullPolicy: Never}]
---
apiVersion: v1
kind: Pod
metadata: {name: egress, namespace: demo, labels: {app: egress}}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{name: curl, image: sluice-test/curl:1, imagePullPolicy: Never}]
---
apiVersion: v1
kind: Pod
metadata: {name: intruder, namespace: demo, labels: {app: intruder}}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{name: curl, image: sluice-test/curl:1, imagePullPolicy: Never}]
EOF
t0=$SECONDS
kc apply -f "$WORK/pods.yaml" >/dev/null
if kc -n demo wait --for=condition=Ready pod --all --timeout=120s >/dev/null 2>&1; then
	ok "pods created after the agent are Ready ($((SECONDS - t0)) s)"
else
	bad "pods not Ready"
	kc -n demo describe pods | grep -A8 Events
	finish
fi
SERVER_IP=$(kc -n demo get pod server -o jsonpath='{.status.podIP}')
attached=$(kc -n kube-system exec "$POD" -c agent -- sluice pod list 2>&1)
n=0
for p in server server2 client egress intruder; do grep -q "$p" <<<"$attached" && n=$((n + 1)); done
[ "$n" = 5 ] && ok "sluice-cni attached the 5 pods (sluice pod list)" || bad "pods not attached: $attached"
ids=
for _ in $(seq 1 20); do
	ids=$(kc -n demo get sluiceendpoints -o jsonpath='{range .items[*]}{.metadata.name}={.spec.identity} {end}' 2>/dev/null)
	[ "$(echo "$ids" | wc -w)" = 5 ] && break
	sleep 0.5
done
[ "$(echo "$ids" | wc -w)" = 5 ] && ok "every pod has an identity (SluiceEndpoints: $ids)" || bad "SluiceEndpoints: $ids"
cat >"$WORK/cnp.yaml" <<EOF
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: server-l7, namespace: demo}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: client}}]
      toPorts:
        - ports: [{port: "8080", protocol: TCP}]
          rules:
            http: [{method: GET, path: "/public"}]
        - ports: [{port: "9000", protocol: TCP}]
        - ports: [{port: "8081", protocol: TCP}]
          rules:
            http: [{method: GET, path: "/public"}]
    - fromEndpoints: [{matchLabels: {app: egress}}]
      toPorts:
        - ports: [{port: "8080", protocol: TCP}]
---
# egress L7: the egress pod's own policy, enforced by the proxy its
# connections are steered to (cgroup connect4 on the pods' cgroup)
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: egress-l7, namespace: demo}
spec:
  endpointSelector: {matchLabels: {app: egress}}
  egress:
    - toEndpoints: [{matchLabels: {app: server}}]
      toPorts:
        - ports: [{port: "8080", protocol: TCP}]
          rules:
            http: [{method: GET, path: "/public"}]
EOF
kc apply -f "$WORK/cnp.yaml" >/dev/null && ok "kubectl apply of the CiliumNetworkPolicies" || bad "apply CNP"
# the agent (it holds the Lease, with the chart's RBAC) writes each one's Valid condition
valid= ncnp=$(kc -n demo get cnp -o name | wc -l)
for _ in $(seq 1 40); do
	valid=$(kc -n demo get cnp -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Valid")].status}{" "}{end}' 2>/dev/null)
	[ "$ncnp" -gt 0 ] && [ "$(grep -o '=True' <<<"$valid" | wc -l)" = "$ncnp" ] && break
	sleep 0.5
done
[ "$ncnp" -gt 0 ] && [ "$(grep -o '=True' <<<"$valid" | wc -l)" = "$ncnp" ] &&
	ok "kubectl get cnp: every policy VALID True (status written by the agent: $valid)" ||
	bad "the policies' Valid conditions: '$valid'; $(kc -n demo get cnp 2>&1 | head -5)"
code() { # POD PATH -> HTTP code, 000 when no answer
	kc -n demo exec "$1" -- curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$SERVER_IP:8080$2" 2>/dev/null
}
for _ in $(seq 1 20); do
	[ "$(code client /public)" = 200 ] && [ "$(code client /private)" = 403 ] && break
	sleep 0.5
done
c=$(code client /public)
[ "$c" = 200 ] && ok "client GET /public: 200" || bad "client /public: $c"
c=$(code client /private)
[ "$c" = 403 ] && ok "client GET /private: 403 Access denied" || bad "client /private: $c"
c=$(code intruder /public)
[ "$c" = 000 ] && ok "intruder: no answer (dropped in the kernel)" || bad "intruder got $c"
c=$(code egress /public)
[ "$c" = 200 ] && ok "egress pod GET /public: 200" || bad "egress pod /public: $c"
c=$(code egress /private)
[ "$c" = 403 ] && ok "egress pod GET /private: 403 (its egress L7 policy)" || bad "egress pod /private: $c"
c=$(kc -n demo exec client -- curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$SERVER_IP:8081/private" 2>/dev/null)
[ "$c" = 403 ] && ok "client GET :8081/private (the keep-alive server): 403" || bad "client :8081/private: $c"

# 3b. Services from the API through sluice alone (issue #14): the node runs
# no kube-proxy; the agent watches Services and EndpointSlices and
# translates the ClusterIP in the client's connect() (cgroup sock_addr on
# the pods' cgroup v2), so the server's policy judges the real client and
# the L7 rules apply as to the pod address.
cat >"$WORK/svc.yaml" <<YAML
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec:
  selector: {app: server}
  ports: [{name: http, port: 80, targetPort: http, protocol: TCP}]
YAML
kc apply -f "$WORK/svc.yaml" >/dev/null && ok "kubectl apply Service demo/web" || bad "apply Service"
CIP=$(kc -n demo get service web -o jsonpath='{.spec.clusterIP}')
svc_code() { # POD PATH
	kc -n demo exec "$1" -- curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$CIP$2" 2>/dev/null
}
c=
for _ in $(seq 1 20); do
	c=$(svc_code client /public)
	[ "$c" = 200 ] && break
	sleep 0.5
done
[ "$c" = 200 ] && ok "client GET http://$CIP/public (ClusterIP, no kube-proxy): 200" || bad "ClusterIP /public: $c"
c=$(svc_code client /private)
[ "$c" = 403 ] && ok "client GET via the ClusterIP /private: 403 (the server's L7 policy)" || bad "ClusterIP /private: $c"
# both backends: busybox httpd -v logs one line per request; only the
# ClusterIP leads to server2, nothing above reached it directly
b1=$(kc -n demo logs server -c http 2>/dev/null | grep -c .)
b2=$(kc -n demo logs server2 -c http 2>/dev/null | grep -c .)
n200=0
for _ in $(seq 1 12); do [ "$(svc_code client /public)" = 200 ] && n200=$((n200 + 1)); done
d1=$(($(kc -n demo logs server -c http 2>/dev/null | grep -c .) - b1))
d2=$(($(kc -n demo logs server2 -c http 2>/dev/null | grep -c .) - b2))
[ "$n200" = 12 ] && [ "$d1" -gt 0 ] && [ "$d2" -gt 0 ] &&
	ok "12 requests via the ClusterIP: all 200, both backends served (log lines: server +$d1, server2 +$d2)" ||
	bad "12 requests via the ClusterIP: $n200 x 200, server +$d1, server2 +$d2 log lines"
c=$(svc_code intruder /public)
[ "$c" = 000 ] && ok "intruder via the ClusterIP: no answer (judged as the server's peer)" || bad "intruder via ClusterIP: $c"
svcflow=$(kc -n kube-system exec ds/sluice -c agent -- sluice observe --last 2000 -o json 2>&1 | grep '"destination_service":{"name":"web","namespace":"demo"}' | tail -1)
[ -n "$svcflow" ] && ok "sluice observe names the service: $svcflow" || bad "no flow naming svc demo/web in observe"

# 4. observe and logs
obs=$(kc -n kube-system exec ds/sluice -c agent -- sluice observe --last 4000 2>&1)
drop=$(echo "$obs" | grep 'demo/intruder' | grep ' DROPPED ' | tail -1)
[ -n "$drop" ] && ok "sluice observe shows the drop: $drop" || bad "no DROPPED flow from demo/intruder in sluice observe"
echo "$obs" | grep -E 'GET http://[^ ]*/private' | grep -q ' 403 ' && ok "sluice observe shows the L7 flows: $(echo "$obs" | grep 'GET http://[^ ]*/private' | tail -1)" ||
	bad "no L7 flow for GET /private in observe"
# a Deployment's pod (the controller-manager makes its ReplicaSet and pod):
# its flows name the workload as Hubble does, and select by it
cat >"$WORK/prober.yaml" <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: prober, namespace: demo}
spec:
  replicas: 1
  selector: {matchLabels: {app: prober}}
  template:
    metadata: {labels: {app: prober}}
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{name: curl, image: sluice-test/curl:1, imagePullPolicy: Never}]
EOF
kc apply -f "$WORK/prober.yaml" >/dev/null
if kc -n demo rollout status deploy/prober --timeout=120s >/dev/null 2>&1; then
	prober=$(kc -n demo get pods -l app=prober -o jsonpath='{.items[0].metadata.name}')
	kc -n demo exec "$prober" -- curl -s -m 2 -o /dev/null "http://$SERVER_IP:8080/public" >/dev/null 2>&1
	wl=$(kc -n kube-system exec ds/sluice -c agent -- sluice observe --last 4000 -o json --from-workload Deployment/prober 2>&1 |
		PROBER=$prober python3 -c '
import json, os, sys
n, bad = 0, []
for line in sys.stdin:
    s = json.loads(line)["flow"]["source"]
    n += 1
    if s.get("pod_name") != os.environ["PROBER"] or s.get("workloads") != [{"name": "prober", "kind": "Deployment"}] \
            or not s.get("ID") or s.get("cluster_name") != "default":
        bad.append(s)
print(n if n and not bad else f"{n} flows, wrong: {bad[:1]}")')
	[[ "$wl" =~ ^[1-9][0-9]*$ ]] &&
		ok "observe -o json --from-workload Deployment/prober: $wl flows from pod $prober, each with workloads [prober, Deployment], its endpoint ID and cluster_name" ||
		bad "observe --from-workload Deployment/prober: $wl"
	kc -n demo delete deployment prober --timeout=60s >/dev/null 2>&1
else
	bad "deployment prober not rolled out"
fi
logs=$(kc -n kube-system logs ds/sluice -c agent 2>&1)
line=$(echo "$logs" | grep '"direction":"ingress"' | grep '"pod":"client"' | grep '/private' | grep 403 | tail -1)
[ -n "$line" ] && ok "kubectl logs: access log line for the client's GET /private 403: ${line:0:140}" ||
	bad "no ingress access log line in kubectl logs"
line=$(echo "$logs" | grep '"direction":"egress"' | grep '"pod":"egress"' | grep '/private' | grep 403 | tail -1)
[ -n "$line" ] && ok "kubectl logs: egress access log line (connect4 steering on the pods' cgroup v2): ${line:0:100}" ||
	bad "no egress access log line for the egress pod"

# 5. rollout restart under traffic
# an established L4 connection, one line every 0.5 s for 40 s, echoed back
kc -n demo exec client -- sh -c "i=0; (while [ \$i -lt 80 ]; do echo line\$i; i=\$((i+1)); sleep 0.5; done; sleep 2) | nc $SERVER_IP 9000" \
	>"$WORK/conn.log" 2>&1 &
CONN_PID=$!
# new connections: /public, /private and the intruder, every ~0.3 s
kc -n demo exec client -- sh -c "i=0; while [ \$i -lt 60 ]; do curl -s -o /dev/null -w 'public %{http_code}\n' --max-time 2 http://$SERVER_IP:8080/public; curl -s -o /dev/null -w 'private %{http_code}\n' --max-time 2 http://$SERVER_IP:8080/private; i=\$((i+1)); sleep 0.2; done" \
	>"$WORK/load.log" 2>&1 &
LOAD_PID=$!
kc -n demo exec intruder -- sh -c "i=0; while [ \$i -lt 40 ]; do curl -s -o /dev/null -w 'intruder %{http_code}\n' --max-time 1 http://$SERVER_IP:8080/public; i=\$((i+1)); sleep 0.3; done" \
	>"$WORK/intruder.log" 2>&1 &
INTR_PID=$!
# an established keep-alive L7 connection through the proxy: one curl, one
# TCP connection, /public and /private in turn, 4 a second for 120 s (a
# rollout restart took up to 83 s on a busy node)
KA_N=480
ka_args=()
for _ in $(seq 1 $((KA_N / 2))); do
	ka_args+=(-o /dev/null "http://$SERVER_IP:8081/public" -o /dev/null "http://$SERVER_IP:8081/private")
done
kc -n demo exec client -- curl -s --rate 4/s -w '%{http_code} %{num_connects}\n' --max-time 200 "${ka_args[@]}" \
	>"$WORK/ka.log" 2>"$WORK/ka.err" &
KA_PID=$!
# the proxy's pod and process before the restart: uid, restarts, start
# time; the process on the node (found by its control socket, unique to
# this run) and its start time in clock ticks since boot
proxy_pod() {
	kc -n kube-system get pods -l k8s-app=sluice-proxy \
		-o jsonpath='{.items[0].metadata.uid} restarts={.items[0].status.containerStatuses[0].restartCount} started={.items[0].status.containerStatuses[0].state.running.startedAt}'
}
proxy_proc() {
	local p
	for p in /proc/[0-9]*; do
		tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q -- "--control=$RUN/sluice-proxy.sock" || continue
		echo "pid ${p#/proc/} start $(awk '{print $22}' "$p/stat" 2>/dev/null)"
	done
}
PX_POD=$(proxy_pod)
PX_PROC=$(proxy_proc)
[ -n "$PX_PROC" ] && [ "$(echo "$PX_PROC" | wc -l)" = 1 ] && ok "the proxy process on the node: $PX_PROC (pod $PX_POD)" ||
	bad "proxy process on the node: '$PX_PROC'"
sleep 3
t0=$SECONDS
kc -n kube-system rollout restart ds/sluice >/dev/null
if kc -n kube-system rollout status ds/sluice --timeout=240s >/dev/null 2>&1; then
	ok "rollout restart done in $((SECONDS - t0)) s"
else
	bad "rollout restart did not finish"
fi
NEWPOD=$(kc -n kube-system get pods -l k8s-app=sluice -o jsonpath='{.items[0].metadata.name}')
[ "$NEWPOD" != "$POD" ] && ok "a new agent pod: $NEWPOD (was $POD)" || bad "the agent pod was not replaced"
kill -0 "$KA_PID" 2>/dev/null && ok "the keep-alive L7 client was still sending when the new agent was Ready" ||
	bad "the keep-alive client ended before the restart was over: it did not span it"
pst=
for _ in $(seq 1 30); do
	pst=$(kc -n kube-system exec "$NEWPOD" -c agent -- sluice status -o json 2>/dev/null |
		python3 -c 'import json,sys; p=json.load(sys.stdin)["proxy"]; print(p.get("state"), p.get("mode"))' 2>/dev/null)
	[ "$pst" = "ready external" ] && break
	sleep 1
done
[ "$pst" = "ready external" ] && ok "the new agent adopted the running proxy ($pst)" || bad "new agent's proxy: $pst"
px_pod=$(proxy_pod)
px_proc=$(proxy_proc)
[ "$px_pod" = "$PX_POD" ] && ok "the proxy pod is unchanged ($px_pod)" || bad "the proxy pod changed: $PX_POD -> $px_pod"
[ "$px_proc" = "$PX_PROC" ] && ok "the proxy process is unchanged ($px_proc)" || bad "the proxy process changed: $PX_PROC -> $px_proc"
wait "$LOAD_PID" "$INTR_PID"
wait "$CONN_PID"
wait "$KA_PID"
ka_rc=$?
LOAD_PID= CONN_PID= KA_PID=
ka_lines=$(grep -c . "$WORK/ka.log")
ka_wrong=$(awk 'NR % 2 == 1 && $1 != 200 {b++} NR % 2 == 0 && $1 != 403 {b++} END {print b + 0}' "$WORK/ka.log")
ka_conns=$(awk '{s += $2} END {print s + 0}' "$WORK/ka.log")
echo "     (keep-alive L7: $ka_lines responses, $ka_wrong wrong, $ka_conns TCP connection(s), curl exit $ka_rc)"
[ "$ka_lines" = "$KA_N" ] && [ "$ka_wrong" = 0 ] && [ "$ka_rc" = 0 ] &&
	ok "the established keep-alive L7 connection got all $KA_N verdicts across the restart (200 /public, 403 /private)" ||
	bad "keep-alive L7 across the restart: $ka_lines of $KA_N, $ka_wrong wrong, curl exit $ka_rc ($(tail -c 200 "$WORK/ka.err"))"
[ "$ka_conns" = 1 ] && ok "one TCP connection carried them all: no reset, no reconnect" ||
	bad "the keep-alive client needed $ka_conns connections (reset across the restart)"
# the 200s of that connection are simple responses (one Content-Length, one
# write): the kernel sends them from the server's socket (busybox nc's, a
# dual-stack one: AF_INET6, IPv4-mapped) straight to the client (the
# response splice), also across the agent's restart
spl=$(kc -n kube-system exec "$NEWPOD" -c agent -- sluice status -o json 2>/dev/null |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["proxy"].get("responses_spliced", 0))' 2>/dev/null)
[ "${spl:-0}" -ge $((KA_N / 4)) ] 2>/dev/null &&
	ok "responses spliced by the kernel on the node: $spl (at least a quarter of the $KA_N above)" ||
	bad "responses spliced by the kernel: '$spl' (the keep-alive connection's $((KA_N / 2)) 200s expected)"
# and its /public requests after the first, allowed before, go from curl's
# socket straight to the server's (the request splice); the /private ones
# (403) are the proxy's every time
rqs=$(kc -n kube-system exec "$NEWPOD" -c agent -- sluice status -o json 2>/dev/null |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["proxy"].get("requests_spliced", 0))' 2>/dev/null)
[ "${rqs:-0}" -ge 1 ] 2>/dev/null && [ "${rqs:-0}" -lt "$KA_N" ] 2>/dev/null &&
	ok "requests sent on by the kernel on the node: $rqs (of the $((KA_N / 2)) allowed ones)" ||
	bad "requests sent on by the kernel: '$rqs' (some of the keep-alive connection's /public ones expected)"
lines=$(grep -c '^line' "$WORK/conn.log")
[ "$lines" = 80 ] && ok "the established L4 connection carried all 80 lines across the restart" ||
	bad "the established connection: $lines of 80 lines ($(tail -2 "$WORK/conn.log" | tr '\n' ' '))"
pub200=$(grep -c '^public 200' "$WORK/load.log")
pubfail=$(grep -c '^public 000' "$WORK/load.log")
priv403=$(grep -c '^private 403' "$WORK/load.log")
privfail=$(grep -c '^private 000' "$WORK/load.log")
wrong=$(grep -v '^public 200$\|^public 000$\|^private 403$\|^private 000$' "$WORK/load.log" | sort | uniq -c | tr '\n' ' ')
echo "     (during the restart: /public $pub200 x 200, $pubfail x no answer; /private $priv403 x 403, $privfail x no answer)"
[ -z "$wrong" ] && [ "$pub200" -gt 0 ] && [ "$priv403" -gt 0 ] &&
	ok "under the restart every L7 request got its verdict or none (fail closed), never a wrong one" ||
	bad "under the restart: wrong answers: $wrong"
iwrong=$(grep -vc '^intruder 000$' "$WORK/intruder.log")
[ "$iwrong" = 0 ] && ok "under the restart the intruder got no answer ($(grep -c . "$WORK/intruder.log") tries)" ||
	bad "the intruder got through during the restart: $(sort "$WORK/intruder.log" | uniq -c | tr '\n' ' ')"
c=$(code intruder /public)
[ "$c" = 000 ] && ok "after the restart the intruder is still dropped" || bad "intruder after restart: $c"
c=$(code client /private)
[ "$c" = 403 ] && ok "after the restart /private is still 403" || bad "/private after restart: $c"
# a pod created after the restart is attached by the new agent
kc -n demo run late --image=sluice-test/curl:1 --image-pull-policy=Never --restart=Never --labels=app=intruder >/dev/null 2>&1
if kc -n demo wait --for=condition=Ready pod/late --timeout=90s >/dev/null 2>&1; then
	c=$(kc -n demo exec late -- curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$SERVER_IP:8080/public" 2>/dev/null)
	[ "$c" = 000 ] && ok "a pod created after the restart is enforced (app=intruder: dropped)" || bad "late pod got $c"
else
	bad "a pod created after the restart does not start"
fi

# 6. helm uninstall: CNI config removed, the node still works. The install
# kept the default cni.uninstall=false (the entry stays over restarts and
# upgrades); to uninstall cleanly, turn it on first (docs/kubernetes.md).
# The same upgrade switches the agent to the chart's privileged variant
# (Bidirectional /sys/fs/bpf) and to proxy.mode=embedded (the sluice-proxy
# DaemonSet goes, the agent starts its own proxy): it adopts the pins and
# keeps enforcing, L7 included.
t0=$SECONDS
if k8s_nsx "$HELM" --kubeconfig "$K8S_KUBECONFIG" upgrade sluice "$ROOT/deploy/helm/sluice" -n kube-system \
	--reuse-values --set cni.uninstall=true --set privileged=true --set proxy.mode=embedded >"$WORK/helm.log" 2>&1 &&
	kc -n kube-system rollout status ds/sluice --timeout=240s >/dev/null 2>&1; then
	ok "helm upgrade --set cni.uninstall=true,privileged=true,proxy.mode=embedded rolled out ($((SECONDS - t0)) s)"
else
	bad "helm upgrade: $(tail -3 "$WORK/helm.log")"
fi
priv=$(kc -n kube-system get pods -l k8s-app=sluice -o jsonpath='{.items[0].spec.containers[0].securityContext.privileged}')
[ "$priv" = true ] && ok "the agent now runs privileged" || bad "agent privileged: $priv"
kc -n kube-system get ds sluice-proxy >/dev/null 2>&1 && bad "proxy.mode=embedded: the sluice-proxy DaemonSet is still there" ||
	ok "proxy.mode=embedded: no sluice-proxy DaemonSet"
pst=
for _ in $(seq 1 30); do
	pst=$(kc -n kube-system exec ds/sluice -c agent -- sluice status -o json 2>/dev/null |
		python3 -c 'import json,sys; p=json.load(sys.stdin)["proxy"]; print(p.get("state"), p.get("mode"))' 2>/dev/null)
	[ "$pst" = "ready embedded" ] && break
	sleep 1
done
[ "$pst" = "ready embedded" ] && ok "the agent runs its own proxy now ($pst)" || bad "embedded proxy: $pst"
c=$(code intruder /public)
c2=$(code client /private)
[ "$c" = 000 ] && [ "$c2" = 403 ] && ok "the privileged agent enforces the same policy (intruder dropped, /private 403 from its embedded proxy)" ||
	bad "after the upgrade: intruder $c, /private $c2"
k8s_nsx "$HELM" --kubeconfig "$K8S_KUBECONFIG" uninstall sluice -n kube-system >/dev/null 2>&1 && ok "helm uninstall" ||
	bad "helm uninstall"
for _ in $(seq 1 60); do
	kc -n kube-system get pods -l k8s-app=sluice -o name 2>/dev/null | grep -q . || break
	sleep 1
done
if grep -l '"sluice-cni"' "$K8S_CNI_CONF_DIR"/* >/dev/null 2>&1; then
	bad "sluice-cni still in the conflist after uninstall (cni.uninstall=true)"
else
	ok "conflist without sluice-cni after uninstall: $(ls "$K8S_CNI_CONF_DIR" | tr '\n' ' ')"
fi
# pods started under sluice are deleted normally (their DEL no longer
# involves sluice-cni)
if kc -n demo delete pod intruder --timeout=60s >/dev/null 2>&1; then
	ok "a pod from before the uninstall is deleted"
else
	bad "deleting a pod after the uninstall"
fi
kc -n demo run after --image=sluice-test/http:1 --image-pull-policy=Never --restart=Never >/dev/null 2>&1
if kc -n demo wait --for=condition=Ready pod/after --timeout=90s >/dev/null 2>&1; then
	ip=$(kc -n demo get pod after -o jsonpath='{.status.podIP}')
	c=$(kc -n demo exec client -- curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$ip:8080/" 2>/dev/null)
	[ "$c" = 200 ] && ok "a pod created after the uninstall starts and serves (200)" || bad "new pod: $c"
else
	bad "a pod created after the uninstall does not start"
fi
finish
