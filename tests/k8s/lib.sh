# shellcheck shell=bash
# lib.sh - helpers for tests that need a real kube-apiserver (and, through
# cluster.sh, a real node). Source it, then:
#
#   k8s_up [DIR]          build if needed (cached), start etcd + kube-apiserver,
#                         export K8S_* (see apiserver.sh: K8S_SERVER, K8S_CA,
#                         K8S_TOKEN, K8S_KUBECONFIG, ...) and register k8s_down
#                         to run at exit (success, failure or signal)
#   k8s_down              stop it (only the PIDs it started) and remove DIR
#   kc ARGS...            kubectl 1.20 (Debian's, matching the server) as admin
#   kc_as KUBECONFIG ARGS... kubectl with another identity
#   k8s_api METHOD PATH [BODY [CONTENT-TYPE]]  raw request as admin; prints the
#                         body, returns non-zero on HTTP >= 400 (K8S_HTTP_CODE
#                         holds the status)
#   k8s_sa_kubeconfig NS SA RBAC_FILE OUT [TTL]
#                         ServiceAccount NS/SA bound to every ClusterRole in
#                         RBAC_FILE (applied as is), a bound token from
#                         TokenRequest, and a kubeconfig OUT using it (the token
#                         also in OUT.token); RBAC is enforced by the server
#   k8s_sa_token NS SA [TTL]  print a fresh bound token (TokenRequest)
#   k8s_set_pod_ip NS NAME IP [IP...]  PATCH pods/NAME/status: podIP, podIPs,
#                         phase Running, Ready (there is no kubelet to do it)
#   k8s_wait SECONDS CMD...  retry CMD every 0.2 s until it succeeds (bounded)
#   k8s_at_exit CMD...    run CMD at exit, before k8s_down (reverse order)
#   k8s_cluster_up [DIR]  a whole node instead (cluster.sh): kc/k8s_api/k8s_nsx
#                         then run in its node netns; k8s_import TAR... loads
#                         images into its containerd
#
# If the test sets its own EXIT trap after k8s_up, call k8s_cleanup from it.
set -u

K8S_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
K8S_APISERVER_SH=$K8S_LIB_DIR/apiserver.sh
K8S_CLUSTER_SH=$K8S_LIB_DIR/cluster.sh
_K8S_EXIT_CMDS=()
_K8S_PREV_TRAP=
_K8S_TRAPPED=0

k8s_log() { echo "[k8s] $*" >&2; }

k8s_at_exit() { _K8S_EXIT_CMDS+=("$*"); _k8s_install_trap; }

_k8s_install_trap() {
	[ "$_K8S_TRAPPED" = 1 ] && return 0
	# Keep a trap the test set before us: it runs after ours.
	_K8S_PREV_TRAP=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")
	trap '_k8s_exit_trap' EXIT
	trap 'exit 130' INT TERM
	_K8S_TRAPPED=1
}

k8s_cleanup() {
	local i
	for ((i = ${#_K8S_EXIT_CMDS[@]} - 1; i >= 0; i--)); do
		eval "${_K8S_EXIT_CMDS[$i]}" || true
	done
	_K8S_EXIT_CMDS=()
	k8s_down
}

_k8s_exit_trap() {
	local rc=$?
	k8s_cleanup
	if [ -n "$_K8S_PREV_TRAP" ]; then eval "$_K8S_PREV_TRAP"; fi
	exit $rc
}

# k8s_build [apiserver]: everything (cluster), or only what k8s_up needs.
k8s_build() { bash "$K8S_APISERVER_SH" build "$@"; }

k8s_up() {
	local dir=${1:-}
	k8s_build apiserver || return 1
	if [ -z "$dir" ]; then
		dir=$(mktemp -d /tmp/sluice-k8s-XXXXXX) || return 1
	fi
	_k8s_install_trap
	K8S_DIR=$dir
	bash "$K8S_APISERVER_SH" up "$dir" || return 1
	k8s_load_env "$dir"
}

# Exports the K8S_* variables of the instance in DIR.
k8s_load_env() {
	local line
	while IFS= read -r line; do
		[ -n "$line" ] && export "${line?}"
	done < <(bash "$K8S_APISERVER_SH" env "$1")
}

k8s_down() {
	if [ -n "${K8S_CLUSTER_DIR:-}" ]; then
		bash "$K8S_CLUSTER_SH" down "$K8S_CLUSTER_DIR" || true
		K8S_CLUSTER_DIR= K8S_DIR= K8S_NODE_NETNS=
		return 0
	fi
	[ -n "${K8S_DIR:-}" ] || return 0
	if [ -d "$K8S_DIR" ]; then
		bash "$K8S_APISERVER_SH" down "$K8S_DIR" || true
	else
		# An exit command removed the folder (and its env) first: stop the
		# PIDs k8s_load_env exported, if they still run what we started.
		local p
		for p in ${K8S_APISERVER_PID:-} ${K8S_ETCD_PID:-}; do
			case "$(cat "/proc/$p/comm" 2>/dev/null)" in
			kube-apiserver | etcd) kill -KILL "$p" 2>/dev/null || true ;;
			esac
		done
	fi
	K8S_DIR=
}

# k8s_cluster_up [DIR]: a whole single-node cluster (cluster.sh) instead of a
# bare API server; exports its K8S_* (K8S_NODE_NETNS, K8S_CNI_CONF_DIR, ...).
# kc, k8s_api and k8s_nsx then run inside the node netns. k8s_down (at exit)
# tears it down.
k8s_cluster_up() {
	local dir=${1:-}
	k8s_build || return 1
	[ -n "$dir" ] || dir=$(mktemp -d /tmp/sluice-k8s-cluster-XXXXXX) || return 1
	_k8s_install_trap
	K8S_CLUSTER_DIR=$dir
	bash "$K8S_CLUSTER_SH" up "$dir" || return 1
	local line
	while IFS= read -r line; do
		[ -n "$line" ] && export "${line?}"
	done < <(bash "$K8S_CLUSTER_SH" env "$dir")
}

# k8s_import TAR...: load docker-archive/OCI images into the cluster's containerd.
k8s_import() { bash "$K8S_CLUSTER_SH" import "$K8S_CLUSTER_DIR" "$@"; }

# Runs a command where the API server is reachable: the host, or the node
# netns of a cluster (cluster.sh puts the whole node there).
k8s_nsx() {
	if [ -n "${K8S_NODE_NETNS:-}" ]; then
		nsenter "--net=/run/netns/$K8S_NODE_NETNS" "$@"
	else
		"$@"
	fi
}

kc() { k8s_nsx "$K8S_KUBECTL" --kubeconfig "$K8S_KUBECONFIG" "$@"; }
kc_as() {
	local kcfg=$1
	shift
	k8s_nsx "$K8S_KUBECTL" --kubeconfig "$kcfg" "$@"
}

K8S_HTTP_CODE=
k8s_api() {
	local method=$1 path=$2 body=${3:-} ctype=${4:-application/json} out rc
	local args=(-sS -m 30 --cacert "$K8S_CA" -H "Authorization: Bearer $K8S_TOKEN" -X "$method")
	[ -z "$body" ] || args+=(-H "Content-Type: $ctype" --data-binary "$body")
	out=$(k8s_nsx curl "${args[@]}" -w '\n%{http_code}' "$K8S_SERVER$path") || return 1
	K8S_HTTP_CODE=${out##*$'\n'}
	printf '%s\n' "${out%$'\n'*}"
	[ "$K8S_HTTP_CODE" -lt 400 ]
}

k8s_wait() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 5; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

k8s_sa_token() {
	local ns=$1 sa=$2 ttl=${3:-3600} out
	out=$(k8s_api POST "/api/v1/namespaces/$ns/serviceaccounts/$sa/token" \
		"{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\",\"spec\":{\"expirationSeconds\":$ttl}}") || {
		k8s_log "TokenRequest for $ns/$sa failed ($K8S_HTTP_CODE): $out"
		return 1
	}
	python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["token"])' <<<"$out"
}

k8s_sa_kubeconfig() {
	local ns=$1 sa=$2 rbac=$3 out=$4 ttl=${5:-3600} role token
	kc get namespace "$ns" >/dev/null 2>&1 || kc create namespace "$ns" >/dev/null || return 1
	kc -n "$ns" get serviceaccount "$sa" >/dev/null 2>&1 ||
		kc -n "$ns" create serviceaccount "$sa" >/dev/null || return 1
	kc apply -f "$rbac" >/dev/null || { k8s_log "kubectl apply -f $rbac failed"; return 1; }
	local roles
	roles=$(kc create --dry-run=client -o name -f "$rbac" | sed -n 's#^clusterrole\.rbac\.authorization\.k8s\.io/##p')
	[ -n "$roles" ] || { k8s_log "$rbac has no ClusterRole"; return 1; }
	for role in $roles; do
		kc get clusterrolebinding "test-$ns-$sa-$role" >/dev/null 2>&1 ||
			kc create clusterrolebinding "test-$ns-$sa-$role" --clusterrole="$role" \
				--serviceaccount="$ns:$sa" >/dev/null || return 1
	done
	token=$(k8s_sa_token "$ns" "$sa" "$ttl") || return 1
	printf '%s' "$token" >"$out.token"
	{
		printf 'apiVersion: v1\nkind: Config\nclusters:\n- name: sluice-test\n  cluster:\n'
		printf '    server: %s\n    certificate-authority: %s\n' "$K8S_SERVER" "$K8S_CA"
		printf 'users:\n- name: %s\n  user:\n    token: %s\n' "$ns-$sa" "$token"
		printf 'contexts:\n- name: sluice-test\n  context:\n    cluster: sluice-test\n'
		printf '    namespace: %s\n    user: %s\n' "$ns" "$ns-$sa"
		printf 'current-context: sluice-test\n'
	} >"$out"
}

k8s_set_pod_ip() {
	local ns=$1 name=$2 ip ips='' now
	shift 2
	for ip in "$@"; do ips+="${ips:+,}{\"ip\":\"$ip\"}"; done
	now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	k8s_api PATCH "/api/v1/namespaces/$ns/pods/$name/status" \
		"{\"status\":{\"phase\":\"Running\",\"podIP\":\"$1\",\"podIPs\":[$ips],\"startTime\":\"$now\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"$now\"}]}}" \
		application/merge-patch+json >/dev/null
}

# k8s_relay_start NAME [relay.py flags...]: a fault-injecting relay (relay.py)
# in front of the instance, serving with the instance's certificate (so the
# client keeps K8S_CA). Files in $K8S_DIR/relay-NAME/: port, control.json
# (write faults there), stats.json, relay.kubeconfig (admin token), log.
# Exports K8S_RELAY_URL, K8S_RELAY_DIR, K8S_RELAY_PID, K8S_RELAY_KUBECONFIG,
# K8S_RELAY_CONTROL, K8S_RELAY_STATS (of the last relay started); stopped at
# exit or by k8s_relay_stop NAME.
k8s_relay_start() {
	local name=$1 d i
	shift
	d=$K8S_DIR/relay-$name
	mkdir -p "$d" || return 1
	: >"$d/control.json"
	setsid python3 "$K8S_LIB_DIR/relay.py" --upstream "$K8S_SERVER" --upstream-ca "$K8S_CA" \
		--cert "$K8S_DIR/pki/server.crt" --key "$K8S_DIR/pki/server.key" \
		--port-file "$d/port" --control "$d/control.json" --stats "$d/stats.json" "$@" \
		>"$d/log" 2>&1 </dev/null &
	echo $! >"$d/pid"
	k8s_at_exit "k8s_relay_stop $name"
	for i in $(seq 1 100); do
		[ -s "$d/port" ] && break
		kill -0 "$(cat "$d/pid")" 2>/dev/null || { k8s_log "relay $name died: $(cat "$d/log")"; return 1; }
		sleep 0.1
	done
	[ -s "$d/port" ] || { k8s_log "relay $name did not start"; return 1; }
	export K8S_RELAY_DIR=$d K8S_RELAY_PID
	K8S_RELAY_PID=$(cat "$d/pid")
	export K8S_RELAY_URL="https://127.0.0.1:$(cat "$d/port")"
	export K8S_RELAY_CONTROL=$d/control.json K8S_RELAY_STATS=$d/stats.json
	export K8S_RELAY_KUBECONFIG=$d/relay.kubeconfig
	sed "s#server: .*#server: $K8S_RELAY_URL#" "$K8S_KUBECONFIG" >"$K8S_RELAY_KUBECONFIG"
}

# k8s_relay_set NAME JSON: replace the relay's faults (see relay.py).
k8s_relay_set() {
	local f=$K8S_DIR/relay-$1/control.json
	printf '%s\n' "$2" >"$f.tmp" && mv "$f.tmp" "$f"
}

# k8s_relay_stat NAME KEY: one counter of the relay's stats.
k8s_relay_stat() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], 0))' \
		"$K8S_DIR/relay-$1/stats.json" "$2" 2>/dev/null || echo 0
}

k8s_relay_stop() {
	local d=${K8S_DIR:-}/relay-$1 pid
	[ -f "$d/pid" ] || return 0
	pid=$(cat "$d/pid")
	# Only our relay: the PID must still run relay.py.
	if grep -q 'relay.py' "/proc/$pid/cmdline" 2>/dev/null; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -f "$d/pid"
}
