# shellcheck shell=bash
# agents.sh - sluice agents in Kubernetes mode against the real API server
# (tests/k8s/test_k8s_*.sh). Source it after nothing else:
#
#   ka_begin [NODES...]   start the API server (lib.sh k8s_up), install the
#                         CRDs and the RBAC of deploy/kubernetes, claim one
#                         test slot per node (pins, cgroup, pod CIDR, netns
#                         prefix) and register the cleanup
#   ka_start NODE [ARGS]  start NODE's agent with --kubeconfig (a
#                         ServiceAccount token bound to deploy's ClusterRole),
#                         wait until every collection is synced
#   ka_kill NODE [SIG]    stop NODE's agent (pinned state keeps enforcing)
#   ka NODE ARGS...       the sluice CLI of NODE's agent
#   kpod NODE NS/NAME LABELS [PORTS]  a Pod through the API (spec.nodeName,
#                         named ports "name=port/TCP,..."), its IP set via the
#                         status subresource, its netns and veth made as a
#                         primary CNI plugin would, then sluice-cni ADD;
#                         sets IP_<name>
#   kpod_del NODE NS/NAME  sluice-cni DEL, the netns goes, the Pod is deleted
#   kserve NODE NS/NAME tcp:PORT...   a server in the pod
#   kcan NODE NS/NAME tcp IP PORT / kdropped ...   probes from a pod
#   kcan_cg ...           kcan from the pods' cgroup too (socket programs)
#   kapply            kubectl apply -f - (stdin)
#   pass/fail/check/check_not/t_finish as in tests/integration/lib.sh
set -u

KA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SL_BUILD=${SL_BUILD:-$KA_ROOT/build}
# shellcheck source=../integration/lib.sh
source "$KA_ROOT/tests/integration/lib.sh"
# shellcheck source=lib.sh
source "$KA_ROOT/tests/k8s/lib.sh"

KA_NODES=()
declare -A KA_IDX KA_PID KA_NAME
KA_ARGS=()
KA_ROUTE_METRIC=4077

# the standalone.sh globals of one node's instance
ka_use() {
	local n=$1 idx=${KA_IDX[$1]}
	SL_ID="k8s$idx"
	SL_CIDR="10.244.$idx.0/24"
	SL_PIN=/sys/fs/bpf/sluice-k8s-$idx
	SL_CG=$SL_CGROUP_BASE/sluice-k8s-$idx
	SL_WORK=$KA_WORK/$n
	SL_SOCK=$SL_WORK/sluice.sock
	SL_STATE=$SL_WORK/state
	SL_NSPFX="k${idx}-"
	SL_AGENT_LOG=$SL_WORK/agent.log
	SL_AGENT_OUT=$SL_WORK/agent.stdout
	SL_METRICS_PORT=$((19000 + idx))
	SL_AGENT_PID=${KA_PID[$n]:-}
	mkdir -p "$SL_WORK" "$SL_CG"
}

ka() {
	local n=$1
	shift
	"$SL_BUILD/cli/sluice" --socket "$KA_WORK/$n/sluice.sock" "$@"
}

ka_begin() {
	local n idx
	export KA_WORK=/tmp/sluice-k8s-$T_NAME-$$
	mkdir -p "$KA_WORK"
	# its own folder (k8s_down removes it after ka_cleanup ran)
	k8s_up || { echo "FAIL: API server did not start"; exit 1; }
	k8s_at_exit ka_cleanup
	for n in "$@"; do
		idx=$(t_claim_slot) || { echo "FAIL: no free test slot"; exit 1; }
		echo $$ >"/tmp/sluice-it-slot-$idx/pid"
		# what the slot's next owner removes should this run be killed
		# before ka_cleanup (t_slot_reclaim in tests/integration/lib.sh)
		printf 'nspfx k%s-\npin /sys/fs/bpf/sluice-k8s-%s\ncgroup %s/sluice-k8s-%s\nwork %s\n' \
			"$idx" "$idx" "$SL_CGROUP_BASE" "$idx" "$KA_WORK" >"/tmp/sluice-it-slot-$idx/owns"
		KA_IDX[$n]=$idx
		KA_NAME[$n]=node-$n-$idx
		KA_NODES+=("$n")
		# the safety net of every test CIDR (the agent adds none in
		# Kubernetes mode: routing is the CNI's and the node's); a
		# metric of its own tells it apart
		ip route replace blackhole "10.244.$idx.0/24" metric "$KA_ROUTE_METRIC"
	done
	kc apply -f "$KA_ROOT/deploy/kubernetes/crds/" >/dev/null || { echo "FAIL: CRDs"; exit 1; }
	k8s_wait 30 kc get sluiceidentities || { echo "FAIL: CRDs not served"; exit 1; }
	k8s_wait 30 kc get ciliumnetworkpolicies || { echo "FAIL: CRDs not served"; exit 1; }
	# the agent's identity: deploy's ServiceAccount and ClusterRole, RBAC on
	k8s_sa_kubeconfig kube-system sluice "$KA_ROOT/deploy/kubernetes/rbac.yaml" \
		"$KA_WORK/agent.kubeconfig" || { echo "FAIL: ServiceAccount kubeconfig"; exit 1; }
}

ka_cleanup() {
	local n idx
	for n in "${KA_NODES[@]}"; do
		ka_use "$n"
		if [ "${FAILED:-0}" -gt 0 ]; then
			echo "--- agent $n log (last 40 lines) ---"
			tail -40 "$SL_AGENT_LOG" 2>/dev/null
		fi
		KA_ARGS=(--kubeconfig "$KA_WORK/agent.kubeconfig" --node-name "${KA_NAME[$n]}")
		SL_PIDS=()
		[ -n "${KA_PID[$n]:-}" ] && SL_PIDS=("${KA_PID[$n]}")
		sl_cleanup
		idx=${KA_IDX[$n]}
		ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' |
			grep "^k${idx}h" | xargs -r -n1 ip link del 2>/dev/null || true
		ip route del blackhole "10.244.$idx.0/24" metric "$KA_ROUTE_METRIC" 2>/dev/null
		rm -rf "/tmp/sluice-it-slot-$idx"
	done
	for p in "${KA_BG[@]:-}"; do
		[ -n "$p" ] && kill -KILL "$p" 2>/dev/null
	done
	rm -rf "$KA_WORK"
}

# sl_agent_args (standalone.sh) plus what this node needs; KA_IN_CLUSTER=1:
# --kubernetes with the service account files of a pod (--k8s-sa-dir) and
# KUBERNETES_SERVICE_HOST/PORT, as in a DaemonSet
ka_start() {
	local n=$1 i hostport
	shift
	ka_use "$n"
	if [ "${KA_IN_CLUSTER:-0}" = 1 ]; then
		mkdir -p "$KA_WORK/sa"
		cp "$KA_WORK/agent.kubeconfig.token" "$KA_WORK/sa/token"
		cp "$K8S_CA" "$KA_WORK/sa/ca.crt"
		echo kube-system >"$KA_WORK/sa/namespace"
		hostport=${K8S_SERVER#https://}
		# shellcheck disable=SC2046
		KUBERNETES_SERVICE_HOST=${hostport%:*} KUBERNETES_SERVICE_PORT=${hostport##*:} \
			K8S_NODE_NAME=${KA_NAME[$n]} "$SL_BUILD/agent/sluiced" $(sl_agent_args | sed 's/--node-name [^ ]*//') \
			--kubernetes --k8s-sa-dir "$KA_WORK/sa" --k8s-endpoint-throttle 100 "$@" \
			>>"$SL_AGENT_OUT" 2>>"$SL_AGENT_LOG" &
	else
		# shellcheck disable=SC2046
		${KA_WRAP:-} "$SL_BUILD/agent/sluiced" $(sl_agent_args) --node-name "${KA_NAME[$n]}" \
			--kubeconfig "$KA_WORK/agent.kubeconfig" --k8s-endpoint-throttle 100 "$@" \
			>>"$SL_AGENT_OUT" 2>>"$SL_AGENT_LOG" &
	fi
	KA_PID[$n]=$!
	for i in $(seq 1 300); do
		if ka "$n" status -o json 2>/dev/null | python3 -c \
			'import json,sys; sys.exit(0 if json.load(sys.stdin)["kubernetes"]["synced"] else 1)' 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "${KA_PID[$n]}" 2>/dev/null; then
			echo "sluiced ($n) exited during startup:" >&2
			tail -20 "$SL_AGENT_LOG" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "sluiced ($n) did not sync with the API server in 30 s" >&2
	tail -20 "$SL_AGENT_LOG" >&2
	return 1
}

ka_kill() {
	local n=$1 sig=${2:-TERM}
	ka_use "$n"
	sl_agent_kill "$sig"
	KA_PID[$n]=
}

ka_status() { ka "$1" status -o json; }

# NODE's agent added no route for its pod CIDR (only the test's own is there)
ka_no_agent_route() {
	! ip -o route show type blackhole "10.244.${KA_IDX[$1]}.0/24" | grep -vq "metric $KA_ROUTE_METRIC"
}

# json FIELD.PATH from stdin (python expression on d)
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

kapply() { kc apply -f - >/dev/null; }

# the pod's netns and veth, as a primary plugin (ptp/bridge) makes them
_ka_netns() {
	local netns=$1 hif=$2 ip=$3
	ip netns add "$netns" || return 1
	ip link add "$hif" type veth peer name eth0 netns "$netns" || return 1
	ip -n "$netns" link set lo up
	ip -n "$netns" addr add "$ip/32" dev eth0
	ip -n "$netns" link set eth0 up
	ip -n "$netns" route add 169.254.1.1 dev eth0 scope link
	ip -n "$netns" route add default via 169.254.1.1 dev eth0
	ip -n "$netns" neigh replace 169.254.1.1 lladdr "$(cat /sys/class/net/"$hif"/address)" dev eth0 nud permanent
	ip link set "$hif" up
	ip route replace "$ip/32" dev "$hif" scope link
	echo 0 >"/proc/sys/net/ipv4/conf/$hif/rp_filter" 2>/dev/null || true
	echo 1 >"/proc/sys/net/ipv4/conf/$hif/proxy_arp" 2>/dev/null || true
}

# sluice-cni ADD|DEL for a pod
_ka_cni() {
	local n=$1 cmd=$2 ns=$3 name=$4 netns=$5 hif=$6 ip=$7 cid=$8
	local conf
	conf=$(printf '{"cniVersion":"1.0.0","name":"k8s-pod-network","type":"sluice-cni","socket":"%s","prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"%s"},{"name":"eth0","sandbox":"/run/netns/%s"}],"ips":[{"address":"%s/32","interface":1}]}}' \
		"$KA_WORK/$n/sluice.sock" "$hif" "$netns" "$ip")
	CNI_COMMAND=$cmd CNI_CONTAINERID=$cid CNI_NETNS=/run/netns/$netns CNI_IFNAME=eth0 \
		CNI_PATH=$SL_BUILD/cni \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=$ns;K8S_POD_NAME=$name;K8S_POD_INFRA_CONTAINER_ID=$cid" \
		"$SL_BUILD/cni/sluice-cni" <<<"$conf"
}

# kpod NODE NS/NAME LABELS [PORTS] (KPOD_SA=NAME: its service account;
# KPOD_OWNER=KIND/NAME: a controlling owner and a generateName, as a
# controller makes them)
kpod() {
	local n=$1 ref=$2 labels=$3 ports=${4:-} ns=${2%%/*} name=${2#*/}
	local idx=${KA_IDX[$1]} k ip netns hif cid lbl='' prt='' kv p
	# a counter file: kpod may run in parallel subshells
	k=$(flock "$KA_WORK/$n.lock" bash -c 'c=$(cat "$1" 2>/dev/null); c=${c:-2}; echo $((c + 1)) >"$1"; echo "$c"' _ "$KA_WORK/$n.count")
	ip=10.244.$idx.$k
	netns=k${idx}-p$k
	hif=k${idx}h$k
	cid=cid$idx$k$$
	IFS=, read -ra kv <<<"$labels"
	for p in "${kv[@]}"; do lbl+="${lbl:+, }\"${p%%=*}\": \"${p#*=}\""; done
	if [ -n "$ports" ]; then
		IFS=, read -ra kv <<<"$ports"
		for p in "${kv[@]}"; do
			prt+="${prt:+, }{\"name\": \"${p%%=*}\", \"containerPort\": $(echo "${p#*=}" | cut -d/ -f1), \"protocol\": \"$(echo "${p#*=}/TCP" | cut -d/ -f2)\"}"
		done
	fi
	# KPOD_SA=NAME: the pod's spec.serviceAccountName
	local sa=${KPOD_SA:+"\"serviceAccountName\": \"$KPOD_SA\","} owner=''
	[ -n "${KPOD_OWNER:-}" ] &&
		owner="\"generateName\": \"${KPOD_OWNER#*/}-\", \"ownerReferences\": [{\"apiVersion\": \"apps/v1\", \"kind\": \"${KPOD_OWNER%%/*}\", \"name\": \"${KPOD_OWNER#*/}\", \"uid\": \"00000000-0000-0000-0000-00000000000$idx\", \"controller\": true}],"
	kc get namespace "$ns" >/dev/null 2>&1 || kc create namespace "$ns" >/dev/null
	kc apply -f - >/dev/null <<EOF || { fail "create pod $ref"; return 1; }
{"apiVersion": "v1", "kind": "Pod",
 "metadata": {"name": "$name", "namespace": "$ns", $owner "labels": {$lbl}},
 "spec": {"nodeName": "${KA_NAME[$n]}", $sa
   "containers": [{"name": "c", "image": "busybox", "ports": [$prt]}]}}
EOF
	k8s_set_pod_ip "$ns" "$name" "$ip" || { fail "pod $ref status"; return 1; }
	_ka_netns "$netns" "$hif" "$ip" || { fail "pod $ref network"; return 1; }
	echo "$n $ns $name $netns $hif $ip $cid" >>"$KA_WORK/pods"
	if ! _ka_cni "$n" ADD "$ns" "$name" "$netns" "$hif" "$ip" "$cid" >"$KA_WORK/cni.out" 2>&1; then
		fail "sluice-cni ADD $ref: $(cat "$KA_WORK/cni.out")"
		return 1
	fi
	printf -v "IP_$(echo "$name" | tr -c 'a-zA-Z0-9\n' '_')" '%s' "$ip"
}

_ka_pod_line() { awk -v n="$1" -v ns="$2" -v name="$3" '$1 == n && $2 == ns && $3 == name' "$KA_WORK/pods" | tail -1; }

kpod_del() {
	local n=$1 ns=${2%%/*} name=${2#*/} line
	line=$(_ka_pod_line "$n" "$ns" "$name")
	# shellcheck disable=SC2086
	set -- $line
	[ -n "$line" ] && _ka_cni "$1" DEL "$2" "$3" "$4" "$5" "$6" "$7" >/dev/null 2>&1
	[ -n "$line" ] && ip netns del "$4" 2>/dev/null
	kc -n "$ns" delete pod "$name" --grace-period=0 --force >/dev/null 2>&1
}

# the pod's netns name, for exec
_ka_netns_of() { _ka_pod_line "$1" "$2" "$3" | awk '{print $4}'; }

KA_BG=()
kserve() {
	local n=$1 ref=$2 ns=${2%%/*} name=${2#*/} netns log
	shift 2
	netns=$(_ka_netns_of "$n" "$ns" "$name")
	log="$KA_WORK/server-$ns-$name.log"
	rm -f "$log.ready"
	ip netns exec "$netns" python3 "$TOOLS/podserver.py" "$name" "$log" "$@" >/dev/null 2>&1 &
	KA_BG+=($!)
	for _ in $(seq 1 100); do
		[ -e "$log.ready" ] && return 0
		sleep 0.05
	done
	fail "server in $ref did not start"
}

kexec() {
	local n=$1 ns=${2%%/*} name=${2#*/}
	shift 2
	ip netns exec "$(_ka_netns_of "$n" "$ns" "$name")" "$@"
}
kcan() { kexec "$1" "$2" python3 "$TOOLS/probe.py" "$3" "$4" "$5" 1.0; }
# kexec from the pods' cgroup as well as the pod's netns, where a container
# runs: the agent's socket programs (ClusterIP translation, a pod's own L7
# connects steered to the proxy) see it there
kexec_cg() {
	local n=$1 ns=${2%%/*} name=${2#*/} idx=${KA_IDX[$1]}
	shift 2
	bash -c 'echo $$ >"$1/cgroup.procs" || exit 3; shift; exec ip netns exec "$@"' _ \
		"$SL_CGROUP_BASE/sluice-k8s-$idx/k$idx-pods" "$(_ka_netns_of "$n" "$ns" "$name")" "$@"
}
kcan_cg() { kexec_cg "$1" "$2" python3 "$TOOLS/probe.py" "$3" "$4" "$5" 1.0; }
kdropped() {
	kexec "$1" "$2" python3 "$TOOLS/probe.py" "$3" "$4" "$5" 0.7
	[ $? -eq 2 ]
}

# the identity number of a pod as NODE's agent sees it (local or remote)
kident() { ka "$1" pod list -o json 2>/dev/null | python3 -c '
import json,sys
ns,name=sys.argv[1].split("/")
d=json.load(sys.stdin)
pods=d if isinstance(d,list) else d.get("items",d.get("pods",[]))
for p in pods:
    if p["namespace"]==ns and p["name"]==name: print(p["identity"]); break' "$2"; }

# waits until CMD succeeds, bounded (seconds)
kwait() { k8s_wait "$@"; }

# for `bash -c` in checks and waits: every helper (kc needs lib.sh's)
# shellcheck disable=SC2046
export -f $(compgen -A function)
export SL_BUILD TOOLS
