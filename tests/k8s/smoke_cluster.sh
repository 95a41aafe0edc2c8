#!/usr/bin/env bash
# smoke_cluster.sh - the single-node cluster harness works: the node is
# Ready, pods from the local images run with IPs from the bridge, `kubectl
# exec` and `logs` work, pod-to-pod HTTP works, and `down` leaves nothing:
# no process, netns, mount, cgroup, route, changed sysctl or host directory.
set -u
# pass/fail/check/t_finish as in the integration scenarios.
# shellcheck source=../integration/lib.sh
source "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
T_NAME=k8s_cluster_smoke

# (Only what no other session changes: other tests make netns, routes and
# /var/lib/cni entries at the same time.)
SYSCTLS="vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.ip_forward"
host_state() {
	local s d
	for s in $SYSCTLS; do echo "$s=$(sysctl -n "$s")"; done
	for d in /var/log/pods /var/log/containers /var/lib/kubelet; do
		echo "$d: $(ls -A "$d" 2>/dev/null | tr '\n' ' ' || echo absent)"
	done
}
BEFORE=$(host_state)

t0=$SECONDS
k8s_cluster_up || { echo "FAIL: cluster up"; exit 1; }
echo "  (cluster up in $((SECONDS - t0)) s)"
CDIR=$K8S_CLUSTER_DIR
NETNS=$K8S_NODE_NETNS
CGROUP=$K8S_CGROUP_ROOT
PIDS=$(cat "$CDIR"/pids/* 2>/dev/null; echo "$K8S_ETCD_PID $K8S_APISERVER_PID")

check "node $K8S_NODE_NAME is Ready" bash -c "[ \"\$(nsenter --net=/run/netns/$NETNS '$K8S_KUBECTL' --kubeconfig '$K8S_KUBECONFIG' get node '$K8S_NODE_NAME' -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}')\" = True ]"

cat >"$CDIR/pods.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: server
  labels: {app: server}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: http
    image: sluice-test/http:1
    imagePullPolicy: Never
    ports: [{containerPort: 8080, name: http}]
---
apiVersion: v1
kind: Pod
metadata:
  name: client
  labels: {app: client}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: curl
    image: sluice-test/curl:1
    imagePullPolicy: Never
EOF
check "kubectl apply two pods" kc apply -f "$CDIR/pods.yaml"
t1=$SECONDS
if kc wait --for=condition=Ready pod/server pod/client --timeout=120s >/dev/null 2>&1; then
	pass "both pods Running and Ready ($((SECONDS - t1)) s)"
else
	fail "both pods Running and Ready"
	kc get pods -o wide
	kc describe pods | tail -30
fi
SIP=$(kc get pod server -o jsonpath='{.status.podIP}')
CIP=$(kc get pod client -o jsonpath='{.status.podIP}')
check "pod IPs come from the bridge's subnet ($SIP, $CIP)" python3 -c "import ipaddress,sys; n=ipaddress.ip_network('$K8S_POD_CIDR'); sys.exit(not (ipaddress.ip_address('$SIP') in n and ipaddress.ip_address('$CIP') in n and '$SIP' != '$CIP'))"
check "kubectl exec works" bash -c "[ \"\$(nsenter --net=/run/netns/$NETNS '$K8S_KUBECTL' --kubeconfig '$K8S_KUBECONFIG' exec client -- echo hello)\" = hello ]"
check "pod-to-pod HTTP: 200 from the server" bash -c "[ \"\$(nsenter --net=/run/netns/$NETNS '$K8S_KUBECTL' --kubeconfig '$K8S_KUBECONFIG' exec client -- curl -s -m 10 http://$SIP:8080/public)\" = 'sluice-test http: public' ]"
check "pod-to-pod HTTP: 404 for a missing path" bash -c "[ \"\$(nsenter --net=/run/netns/$NETNS '$K8S_KUBECTL' --kubeconfig '$K8S_KUBECONFIG' exec client -- curl -s -o /dev/null -w '%{http_code}' -m 10 http://$SIP:8080/nope)\" = 404 ]"
check "the node reaches a pod" k8s_nsx curl -fs -m 10 "http://$SIP:8080/"
check "kubectl logs works" kc logs server
check "the bridge turned forwarding on in the node netns" bash -c "[ \"\$(nsenter --net=/run/netns/$NETNS cat /proc/sys/net/ipv4/ip_forward)\" = 1 ]"
check "the host cannot reach the pod network" bash -c "! curl -s -m 3 http://$SIP:8080/ >/dev/null 2>&1"

# Importing an image built elsewhere (what the deploy test does with sluice's).
mkdir -p "$CDIR/extra-root" && echo extra >"$CDIR/extra-root/hello"
python3 "$K8S_LIB_DIR/images/mkimage.py" --tag sluice-test/extra:1 --root "$CDIR/extra-root" \
	--cmd '["/hello"]' --out "$CDIR/extra.tar"
check "k8s_import loads an image into the node's containerd" k8s_import "$CDIR/extra.tar"
check "the node lists the imported image" bash -c "bash '$K8S_CLUSTER_SH' images '$CDIR' | grep -qx docker.io/sluice-test/extra:1"

t2=$SECONDS
k8s_down
echo "  (cluster down in $((SECONDS - t2)) s)"
# A killed process may take a moment to be reaped (or stay a zombie of a
# parent that has not waited yet): gone for our purpose. Bounded wait.
still_alive() {
	local p out=''
	for p in $PIDS; do
		[ -d "/proc/$p" ] || continue
		grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null && continue
		out+=" $p"
	done
	echo "$out"
}
alive=$(still_alive)
for _ in $(seq 1 50); do
	[ -z "$alive" ] && break
	sleep 0.1
	alive=$(still_alive)
done
[ -n "$alive" ] && for p in $alive; do echo "  (alive: $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-120))"; done
check "down: no process left${alive:+ (alive:$alive)}" test -z "$alive"
check "down: netns $NETNS gone" test ! -e "/run/netns/$NETNS"
check "down: no mount left under $CDIR" bash -c "! findmnt -rn -o TARGET | grep -qF '$CDIR'"
check "down: cgroups $CGROUP gone" bash -c "! ls -d /sys/fs/cgroup/*$CGROUP 2>/dev/null | grep -q ."
check "down: the cluster directory is gone" test ! -e "$CDIR"
check "down: no blackhole route for $K8S_POD_CIDR left" bash -c "! ip route show type blackhole | grep -q '^blackhole $K8S_POD_CIDR'"
check "down: no CNI cache entry of the node's network left" bash -c "! grep -rlsq sluice-node /var/lib/cni"
AFTER=$(host_state)
if [ "$BEFORE" = "$AFTER" ]; then
	pass "down: sysctls and kubelet host dirs as before"
else
	fail "down: host state differs"
	diff <(echo "$BEFORE") <(echo "$AFTER")
fi

t_finish
