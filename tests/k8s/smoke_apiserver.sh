#!/usr/bin/env bash
# smoke_apiserver.sh - the real kube-apiserver harness works: two instances at
# once on different ports, kubectl 1.20 as admin, RBAC really enforced on a
# ServiceAccount's bound token (TokenRequest), a watch sees an event, the
# pod status subresource patch, the fault-injecting relay, and `down` leaves
# no process and no directory behind.
set -u
# pass/fail/check/t_finish as in the integration scenarios.
# shellcheck source=../integration/lib.sh
source "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
T_NAME=k8s_apiserver_smoke

# A PID is gone once it no longer exists or is a zombie waiting for init to
# reap it (orphans of the harness are reparented to PID 1).
procs_gone() {
	local p i
	for i in $(seq 1 50); do
		for p in "$@"; do
			[ -d "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null && break
			p=
		done
		[ -z "$p" ] && return 0
		sleep 0.2
	done
	return 1
}

WORK=$(mktemp -d /tmp/sluice-k8s-smoke-XXXXXX)
k8s_at_exit 'rm -rf "$WORK"'
[ -n "${K8S_SMOKE_B:-}" ] || K8S_SMOKE_B=$WORK/b
k8s_at_exit 'bash "$K8S_APISERVER_SH" down "$K8S_SMOKE_B"'

k8s_build apiserver || { echo "FAIL: build"; exit 1; }

# Two instances starting at the same time must not collide.
t0=$SECONDS
bash "$K8S_APISERVER_SH" up "$K8S_SMOKE_B" >"$WORK/b.log" 2>&1 &
b_pid=$!
k8s_up "$WORK/a" || { echo "FAIL: k8s_up"; exit 1; }
wait $b_pid
b_rc=$?
echo "  (two instances up in $((SECONDS - t0)) s)"
check "instance A is ready" curl -fsS --cacert "$K8S_CA" -H "Authorization: Bearer $K8S_TOKEN" "$K8S_SERVER/readyz"
if [ $b_rc = 0 ]; then
	B_PORT=$(sed -n 's/^K8S_PORT=//p' "$K8S_SMOKE_B/env")
	B_PIDS=$(sed -n 's/^K8S_\(ETCD\|APISERVER\)_PID=//p' "$K8S_SMOKE_B/env")
	pass "instance B started at the same time"
	check "A and B on different ports" test "$B_PORT" != "$K8S_PORT"
	bash "$K8S_APISERVER_SH" down "$K8S_SMOKE_B"
	# shellcheck disable=SC2086
	check "down B: its processes are gone" procs_gone $B_PIDS
	check "down B: its directory is gone" test ! -e "$K8S_SMOKE_B"
	check "down B does not touch A" curl -fsS --cacert "$K8S_CA" -H "Authorization: Bearer $K8S_TOKEN" "$K8S_SERVER/readyz"
else
	fail "instance B started at the same time: $(tail -3 "$WORK/b.log")"
fi

check "server is v1.20.2" bash -c "kc() { \"$K8S_KUBECTL\" --kubeconfig \"$K8S_KUBECONFIG\" \"\$@\"; }; kc version --short | grep -q 'Server Version: v1.20.2'"
check "kubectl create namespace" kc create namespace smoke
check "kubectl get namespace" bash -c "'$K8S_KUBECTL' --kubeconfig '$K8S_KUBECONFIG' get namespace smoke -o jsonpath='{.status.phase}' | grep -qx Active"
check "client-certificate kubeconfig works" kc_as "$K8S_CERT_KUBECONFIG" get namespace smoke
check "a bad token gets 401" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --cacert '$K8S_CA' -H 'Authorization: Bearer nope' '$K8S_SERVER/api/v1/pods')\" = 401 ]"
check "the nobody token is authenticated but forbidden (403)" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --cacert '$K8S_CA' -H 'Authorization: Bearer $K8S_NOBODY_TOKEN' '$K8S_SERVER/api/v1/pods')\" = 403 ]"

# A ServiceAccount that may list pods but not secrets.
cat >"$WORK/role.yaml" <<'EOF'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: smoke-pod-reader
rules:
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
EOF
if k8s_sa_kubeconfig smoke reader "$WORK/role.yaml" "$WORK/reader.kubeconfig" 900; then
	pass "ServiceAccount token from TokenRequest"
	check "the token is a JWT" grep -Eq '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' "$WORK/reader.kubeconfig.token"
	check "SA may list pods" kc_as "$WORK/reader.kubeconfig" get pods --all-namespaces
	if kc_as "$WORK/reader.kubeconfig" get secrets --all-namespaces >"$WORK/sec.out" 2>&1; then
		fail "SA must not list secrets"
	else
		check "SA gets 403 Forbidden on secrets" grep -q 'forbidden' "$WORK/sec.out"
	fi
	tok=$(cat "$WORK/reader.kubeconfig.token")
	check "SA token: HTTP 403 on secrets" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --cacert '$K8S_CA' -H 'Authorization: Bearer $tok' '$K8S_SERVER/api/v1/secrets')\" = 403 ]"
else
	fail "ServiceAccount token from TokenRequest"
fi

# A watch sees an event.
rv=$(k8s_api GET /api/v1/namespaces/smoke/configmaps | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')
curl -sS -N -m 20 --cacert "$K8S_CA" -H "Authorization: Bearer $K8S_TOKEN" \
	"$K8S_SERVER/api/v1/namespaces/smoke/configmaps?watch=1&resourceVersion=$rv&allowWatchBookmarks=true" >"$WORK/watch.out" 2>/dev/null &
w_pid=$!
k8s_at_exit "kill $w_pid 2>/dev/null"
sleep 1
kc -n smoke create configmap seen --from-literal=a=b >/dev/null
check "the watch sees ADDED for the new object" k8s_wait 15 grep -q '"type":"ADDED".*"name":"seen"' "$WORK/watch.out"
kill $w_pid 2>/dev/null
wait $w_pid 2>/dev/null

# A pod bound to a node that has no kubelet: the harness sets its IP.
cat >"$WORK/pod.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: p1
  namespace: smoke
  labels: {app: p1}
spec:
  nodeName: node1
  containers:
  - name: c
    image: example.invalid/none
EOF
check "create a pod bound to node1" kc apply -f "$WORK/pod.yaml"
check "k8s_set_pod_ip" k8s_set_pod_ip smoke p1 10.244.7.5
check "status.podIP is what we set" bash -c "[ \"\$('$K8S_KUBECTL' --kubeconfig '$K8S_KUBECONFIG' -n smoke get pod p1 -o jsonpath='{.status.podIP} {.status.phase}')\" = '10.244.7.5 Running' ]"

# The fault-injecting relay: each fault fires and the relay's counters say so.
relay_code() { # URL [TOKEN]: HTTP status through the relay
	curl -s -o "$WORK/relay.body" -w '%{http_code}' -m 20 --cacert "$K8S_CA" \
		-H "Authorization: Bearer ${2:-$K8S_TOKEN}" "$K8S_RELAY_URL$1"
}
if k8s_relay_start smoke --split; then
	pass "relay starts"
	check "split mode: curl through the relay (1-byte writes)" bash -c "[ \"\$(curl -s -m 20 --cacert '$K8S_CA' -H 'Authorization: Bearer $K8S_TOKEN' '$K8S_RELAY_URL/api/v1/namespaces/smoke' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"metadata\"][\"name\"])')\" = smoke ]"
	check "split mode: kubectl through the relay" kc_as "$K8S_RELAY_KUBECONFIG" -n smoke get configmap seen
	k8s_relay_set smoke '{"reject_tokens": ["'"$K8S_TOKEN"'"]}'
	check "reject_tokens: 401 for the rotated-out token" test "$(relay_code /api/v1/namespaces)" = 401
	check "reject_tokens: the 401 is a Kubernetes Status" grep -q '"reason":"Unauthorized"' "$WORK/relay.body"
	k8s_relay_set smoke '{}'
	check "reject_tokens cleared: 200 again" test "$(relay_code /api/v1/namespaces)" = 200
	k8s_relay_set smoke '{"expire_after_events": 0}'
	relay_code "/api/v1/namespaces/smoke/configmaps?watch=1&resourceVersion=$rv" >/dev/null
	check "expire: in-stream ERROR 410 Expired on a watch" grep -q '"type":"ERROR".*"reason":"Expired","code":410' "$WORK/relay.body"
	k8s_relay_set smoke '{"gone_watch": true}'
	check "gone_watch: HTTP 410 on a watch" test "$(relay_code "/api/v1/namespaces/smoke/configmaps?watch=1&resourceVersion=$rv")" = 410
	check "gone_watch: lists still pass" test "$(relay_code /api/v1/namespaces/smoke/configmaps)" = 200
	# The watch starts at $rv, before "seen" was created: that ADDED is its
	# one event. (Creating another object meanwhile made this flaky: when
	# the watch starts late, kube-apiserver sends the queued events in one
	# chunk, and the relay, which cuts at chunk boundaries, let both through.)
	k8s_relay_set smoke '{"cut_after_events": 1, "fault_times": 1}'
	e0=$(k8s_relay_stat smoke events)
	curl -sS -N -m 20 --cacert "$K8S_CA" -H "Authorization: Bearer $K8S_TOKEN" \
		"$K8S_RELAY_URL/api/v1/namespaces/smoke/configmaps?watch=1&resourceVersion=$rv" >"$WORK/cut.out" 2>"$WORK/cut.err" &
	c_pid=$!
	wait $c_pid
	c_rc=$?
	check "cut_after_events: curl sees the stream cut (exit $c_rc)" test $c_rc != 0 -a $c_rc != 28
	# Counted at the relay: the cut is an RST (as a dying server's would be),
	# and an RST makes the client's kernel drop what curl had not read yet,
	# so curl itself may see the event or, on a loaded machine, nothing.
	check "cut_after_events: exactly one event got through" test "$(( $(k8s_relay_stat smoke events) - e0 ))" = 1
	check "cut_after_events: curl saw no more than that" test "$(grep -c '"type"' "$WORK/cut.out")" -le 1
	check "cut_after_events: the relay counted the cut" test "$(k8s_relay_stat smoke cuts)" = 1
	k8s_relay_set smoke '{"latency_ms": 600}'
	t1=$(date +%s%N)
	relay_code /api/v1/namespaces >/dev/null
	t2=$(date +%s%N)
	check "latency_ms: the request took >= 600 ms" test $(((t2 - t1) / 1000000)) -ge 600
	k8s_relay_stop smoke
else
	fail "relay starts"
fi

# Down: nothing left behind.
A_DIR=$K8S_DIR
A_PIDS="$K8S_ETCD_PID $K8S_APISERVER_PID"
k8s_down
# shellcheck disable=SC2086
check "down: etcd and kube-apiserver are gone" procs_gone $A_PIDS
check "down: the instance directory is gone" test ! -e "$A_DIR"
check "down: the port is closed" bash -c "! curl -sk -m 2 https://127.0.0.1:$K8S_PORT/ >/dev/null 2>&1"

t_finish
