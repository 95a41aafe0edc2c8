#!/usr/bin/env bash
# tests/deploy/test_cluster.sh - sluice installed the way users install it, on
# a real single-node cluster (tests/k8s/cluster.sh: etcd, kube-apiserver,
# kubelet, scheduler, controller-manager, containerd + runc, Debian's bridge
# CNI, all inside a throwaway node netns):
#   1. the image from deploy/image/build.sh imported into the node's containerd;
#   2. `helm install` of deploy/helm/sluice; the agent runs in its container,
#      chains sluice-cni after the node's bridge, removes the node's
#      sluice.io/agent-not-ready taint and becomes Ready;
#   3. pods created afterwards are attached by sluice-cni and enforced: the
#      article's scenario with CiliumNetworkPolicies applied with kubectl:
#      curl from the client pod gets 200 for GET /public, 403 for /private,
#      and a pod the policy does not allow is dropped in the kernel;
#   4. `kubectl exec ds/sluice -- sluice observe` shows the flows, `kubectl
#      logs` the access log;
#   5. `kubectl rollout restart ds/sluice` under traffic: every request during
#      the restart still gets its verdict (enforcement never stops);
#   6. `helm uninstall` (cni.uninstall=true): the conflist no longer has
#      sluice-cni and a new pod still starts and serves (the node works).
# Pins live under /sys/fs/bpf/sluice-k8s-test-<pid>, the agent's cgroup
# under the cluster's own cgroup; everything is removed at exit.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${SL_BUILD:-$ROOT/build}
if [ ! -f "$ROOT/tests/k8s/lib.sh" ] || [ ! -f "$ROOT/tests/k8s/cluster.sh" ]; then
	echo "FAIL: tests/k8s/cluster.sh is not in this checkout"
	exit 1
fi
# shellcheck source=../k8s/lib.sh
source "$ROOT/tests/k8s/lib.sh"
TOOLS=$(bash "$HERE/tools.sh")
HELM=$TOOLS/bin/helm
WORK=$(mktemp -d /tmp/sluice-deploy-cluster.XXXXXX)
PIN_DIR=sluice-k8s-test-$$
RUN=$WORK/run
pass=0
fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" = 0 ]
	exit $?
}

cleanup() {
	if [ "$fail" != 0 ] && [ -n "${K8S_KUBECONFIG:-}" ]; then
		echo "--- agent log (last 40 lines) ---"
		kc -n kube-system logs ds/sluice -c agent --tail=40 2>/dev/null
		kc get pods -A -o wide 2>/dev/null
	fi
	[ -n "${LOAD_PID:-}" ] && kill "$LOAD_PID" 2>/dev/null
	k8s_down 2>/dev/null
	# what the agent pinned on the host's bpffs and left in /run
	# (the node's netns, veths and cgroups are gone: removing the pins
	# releases the programs and maps)
	rm -rf "/sys/fs/bpf/$PIN_DIR"
	if [ -d "/sys/fs/cgroup/unified/sluice-deploy-test-$$" ]; then
		find "/sys/fs/cgroup/unified/sluice-deploy-test-$$" -depth -type d -exec rmdir {} + 2>/dev/null
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. the image and the cluster
if ! out=$(bash "$ROOT/deploy/image/build.sh" -b "$BUILD" -o "$WORK/image" 2>"$WORK/image.log"); then
	tail -20 "$WORK/image.log"
	bad "deploy/image/build.sh"
	finish
fi
IMAGE=${out%% *}
TAR=${out##* }
ok "image $IMAGE built"
t0=$SECONDS
if ! K8S_NODE_TAINTS="sluice.io/agent-not-ready=:NoExecute" k8s_cluster_up; then
	bad "cluster up"
	finish
fi
ok "cluster up in $((SECONDS - t0)) s (node $K8S_NODE_NAME, taint sluice.io/agent-not-ready)"
k8s_import "$TAR" >/dev/null && ok "image imported into the node's containerd" || bad "import"
# the agent's cgroup v2 root: a child of the host's unified hierarchy made
# for this test (on this hybrid host the kubelet's cgroups are v1 only)
CG=/sys/fs/cgroup/unified/sluice-deploy-test-$$
mkdir -p "$CG/pods"
APIPORT=$(sed -n 's#.*server: https://[^:]*:\([0-9]*\).*#\1#p' "$K8S_KUBECONFIG" | head -1)

# 2. helm install
t0=$SECONDS
if k8s_nsx "$HELM" --kubeconfig "$K8S_KUBECONFIG" install sluice "$ROOT/deploy/helm/sluice" \
	--namespace kube-system --wait=false \
	--set image.repository="${IMAGE%:*}" --set image.tag="${IMAGE##*:}" --set image.pullPolicy=Never \
	--set cgroup.root="$CG" --set cgroup.pods=pods --set bpf.pinDir="$PIN_DIR" --set runPath="$RUN" \
	--set "netnsPaths={$K8S_CLUSTER_DIR/containerd/state}" \
	--set cni.confPath="$K8S_CNI_CONF_DIR" --set cni.binPath="$K8S_CNI_BIN_DIR" \
	--set cni.uninstall=true \
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
	kc -n kube-system describe pods -l k8s-app=sluice | tail -30
	finish
fi
taints=$(kc get node "$K8S_NODE_NAME" -o jsonpath='{.spec.taints}')
for _ in $(seq 1 30); do
	echo "$taints" | grep -q agent-not-ready || break
	sleep 1
	taints=$(kc get node "$K8S_NODE_NAME" -o jsonpath='{.spec.taints}')
done
echo "$taints" | grep -q agent-not-ready && bad "taint still there: $taints" ||
	ok "the agent removed sluice.io/agent-not-ready from its node"
if grep -l '"sluice-cni"' "$K8S_CNI_CONF_DIR"/*.conflist >/dev/null 2>&1; then
	ok "sluice-cni chained in $(grep -l '"sluice-cni"' "$K8S_CNI_CONF_DIR"/*.conflist | xargs -n1 basename)"
else
	bad "sluice-cni not in the node's conflist"
fi
[ -x "$K8S_CNI_BIN_DIR/sluice-cni" ] && ok "sluice-cni installed in the CNI bin dir" || bad "no sluice-cni binary"

# 3. the article's scenario
kc create namespace demo >/dev/null
cat >"$WORK/pods.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: demo, labels: {app: server}}
spec:
  containers: [{name: http, image: sluice-test/http:1, imagePullPolicy: Never, ports: [{name: http, containerPort: 8080}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: demo, labels: {app: client}}
spec:
  containers: [{name: curl, image: sluice-test/curl:1, imagePullPolicy: Never}]
---
apiVersion: v1
kind: Pod
metadata: {name: intruder, namespace: demo, labels: {app: intruder}}
spec:
  containers: [{name: curl, image: sluice-test/curl:1, imagePullPolicy: Never}]
EOF
kc apply -f "$WORK/pods.yaml" >/dev/null
if kc -n demo wait --for=condition=Ready pod --all --timeout=120s >/dev/null 2>&1; then
	ok "pods created after the agent are Ready"
else
	bad "pods not Ready"
	kc -n demo describe pods | grep -A5 Events
	finish
fi
SERVER_IP=$(kc -n demo get pod server -o jsonpath='{.status.podIP}')
attached=$(kc -n kube-system exec ds/sluice -c agent -- sluice pod list 2>&1)
if echo "$attached" | grep -q client && echo "$attached" | grep -q server; then
	ok "sluice-cni attached the pods: $(echo "$attached" | grep -c demo) in sluice pod list"
else
	bad "pods not attached: $attached"
fi
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
EOF
kc apply -f "$WORK/cnp.yaml" >/dev/null && ok "kubectl apply CiliumNetworkPolicy" || bad "apply CNP"
code() { # POD PATH -> HTTP code, 000 when no answer
	kc -n demo exec "$1" -- curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$SERVER_IP:8080$2" 2>/dev/null
}
got=
for _ in $(seq 1 20); do
	got=$(code client /public)
	[ "$got" = 200 ] && [ "$(code client /private)" = 403 ] && break
	sleep 0.5
done
[ "$(code client /public)" = 200 ] && ok "client GET /public: 200" || bad "client /public: $(code client /public)"
[ "$(code client /private)" = 403 ] && ok "client GET /private: 403 Access denied" || bad "client /private: $(code client /private)"
[ "$(code intruder /public)" = 000 ] && ok "intruder: no answer (dropped in the kernel)" || bad "intruder got $(code intruder /public)"

# 4. observe and logs
obs=$(kc -n kube-system exec ds/sluice -c agent -- sluice observe --last 200 2>&1)
echo "$obs" | grep -q DROPPED && ok "sluice observe shows the drop: $(echo "$obs" | grep DROPPED | tail -1)" ||
	bad "no DROPPED flow in sluice observe"
echo "$obs" | grep -q '/private' && ok "sluice observe shows the L7 flows" || bad "no L7 flow in observe"
logs=$(kc -n kube-system logs ds/sluice -c agent 2>&1)
echo "$logs" | grep '"/private"' | grep -q 403 && ok "kubectl logs: access log line for GET /private 403" ||
	bad "no access log line in kubectl logs"

# 5. rollout restart under traffic
kc -n demo exec client -- sh -c "i=0; while [ \$i -lt 150 ]; do curl -s -o /dev/null -w '%{http_code}\n' --max-time 2 http://$SERVER_IP:8080/public; curl -s -o /dev/null -w '%{http_code}\n' --max-time 2 http://$SERVER_IP:8080/private; i=\$((i+1)); sleep 0.1; done" \
	>"$WORK/load.log" 2>&1 &
LOAD_PID=$!
sleep 2
kc -n kube-system rollout restart ds/sluice >/dev/null
kc -n kube-system rollout status ds/sluice --timeout=240s >/dev/null 2>&1 && ok "rollout restart done" ||
	bad "rollout restart did not finish"
wait "$LOAD_PID"
LOAD_PID=
n200=$(grep -c '^200' "$WORK/load.log")
n403=$(grep -c '^403' "$WORK/load.log")
other=$(grep -vc '^200$\|^403$' "$WORK/load.log")
if [ "$other" = 0 ] && [ "$n200" -gt 0 ] && [ "$n403" -gt 0 ]; then
	ok "under the restart: $n200 x 200 for /public, $n403 x 403 for /private, nothing else"
else
	bad "under the restart: $n200 x 200, $n403 x 403, $other other ($(grep -v '^200$\|^403$' "$WORK/load.log" | sort | uniq -c | tr '\n' ' '))"
fi
[ "$(code intruder /public)" = 000 ] && ok "after the restart the intruder is still dropped" || bad "intruder after restart"

# 6. helm uninstall: CNI config removed, the node still works
k8s_nsx "$HELM" --kubeconfig "$K8S_KUBECONFIG" uninstall sluice -n kube-system >/dev/null 2>&1 && ok "helm uninstall" ||
	bad "helm uninstall"
for _ in $(seq 1 30); do
	kc -n kube-system get pods -l k8s-app=sluice -o name 2>/dev/null | grep -q . || break
	sleep 1
done
if grep -l '"sluice-cni"' "$K8S_CNI_CONF_DIR"/* >/dev/null 2>&1; then
	bad "sluice-cni still in the conflist after uninstall (cni.uninstall=true)"
else
	ok "conflist without sluice-cni after uninstall"
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
