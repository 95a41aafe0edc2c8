# shellcheck shell=bash
# netpol/lib.sh - a reachability-matrix harness for Kubernetes NetworkPolicy
# semantics, on the topology of the Kubernetes network policy end-to-end
# tests: namespaces x, y, z; pods a, b, c in each (labels pod=a|b|c); every
# pod serves TCP and UDP on ports 80 and 81, declared as named container
# ports serve-80-tcp, serve-80-udp, serve-81-tcp, serve-81-udp.
#
# A case is: a policy set, the expected matrix, one probe round. The
# expected matrix starts as "all allowed" and a case lists the changes:
#
#   np_reset                           delete every policy, expect all allowed
#   np_apply <<YAML ... YAML           apply policies (several documents ok)
#   np_policy NAME [NS [PODSELECTOR]] <<YAML
#                                      one NetworkPolicy document for
#                                      np_apply: the rest of its spec
#                                      (indented by two) from stdin; in
#                                      namespace x on pod a unless told.
#                                      Documents start with "---", so
#                                      several in { ... } | np_apply add up
#   np_expect FROM TO PORTS allow|deny change the expectation; FROM, TO and
#                                      PORTS are globs: 'x/*', '*', 'y/a',
#                                      'tcp/*', '*/81', 'udp/80'
#   np_check "what this case shows"    probe every ordered pair of distinct
#                                      pods (72) x {tcp,udp} x {80,81}, in
#                                      parallel, and compare
#
# On a mismatch the expected and observed matrices are printed side by
# side: one row per client, one column per server, each cell four marks for
# tcp/80 tcp/81 udp/80 udp/81, "." connected, "X" dropped (timed out),
# "!" refused or error; a "*" after an observed cell marks a difference.
# A round that differs is probed once more before the case fails, so a
# single lost packet does not fail a case.
#
# Source after tests/integration/lib.sh and t_begin.

NP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NP_NAMESPACES=(x y z)
NP_PODS=()
for _ns in x y z; do for _p in a b c; do NP_PODS+=("$_ns/$_p"); done; done
unset _ns _p
NP_PORTS=(tcp/80 tcp/81 udp/80 udp/81)
NP_TIMEOUT=${NP_TIMEOUT:-1.0}
declare -gA NP_IP=() NP_EXP=() NP_OBS=()

_np_since() { awk -v t0="$1" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.1f", t1 - t0 }'; }

_np_log() { echo "$SL_WORK/server-$(echo "$1" | tr '/' '_').log"; }

# np_pod_create NS/NAME LABELS: one pod of the topology, with its server
np_pod_create() {
	local ref=$1 labels=$2 ip
	ip=$(sl pod create "$ref" --labels "$labels" \
		--port serve-80-tcp=80/TCP --port serve-80-udp=80/UDP \
		--port serve-81-tcp=81/TCP --port serve-81-udp=81/UDP) || { fail "create pod $ref"; return 1; }
	NP_IP[$ref]=$ip
	rm -f "$(_np_log "$ref").ready"
	sl_bg sl pod exec "$ref" -- python3 "$TOOLS/podserver.py" "${ref#*/}" "$(_np_log "$ref")" \
		tcp:80 tcp:81 udp:80 udp:81
}

np_wait_servers() {
	local ref i
	for ref in "$@"; do
		for i in $(seq 1 200); do
			[ -e "$(_np_log "$ref").ready" ] && continue 2
			sleep 0.02
		done
		fail "server in $ref did not start"
		return 1
	done
}

# np_topology: the 9 pods with their servers; namespaces get their
# kubernetes.io/metadata.name label from the agent.
np_topology() {
	local t0 ref
	t0=$(date +%s.%N)
	for ref in "${NP_PODS[@]}"; do
		np_pod_create "$ref" "pod=${ref#*/}" || return 1
	done
	np_wait_servers "${NP_PODS[@]}" || return 1
	echo "  topology: 9 pods, 36 servers up in $(_np_since "$t0")s"
}

np_expect_all() {
	local v=$1 from to port
	for from in "${NP_PODS[@]}"; do
		for to in "${NP_PODS[@]}"; do
			[ "$from" = "$to" ] && continue
			for port in "${NP_PORTS[@]}"; do
				NP_EXP["$from>$to>$port"]=$v
			done
		done
	done
}

# np_expect FROM TO PORTS allow|deny
np_expect() {
	local fpat=$1 tpat=$2 ppat=$3 v=$4 from to port n=0
	case $v in allow) v=. ;; deny) v=X ;; *) echo "np_expect: allow or deny, not $v" >&2; return 1 ;; esac
	for from in "${NP_PODS[@]}"; do
		# shellcheck disable=SC2053
		[[ $from == $fpat ]] || continue
		for to in "${NP_PODS[@]}"; do
			[[ $to == $tpat ]] || continue
			[ "$from" = "$to" ] && continue
			for port in "${NP_PORTS[@]}"; do
				[[ $port == $ppat ]] || continue
				NP_EXP["$from>$to>$port"]=$v
				n=$((n + 1))
			done
		done
	done
	[ $n -gt 0 ] || echo "np_expect: '$fpat' '$tpat' '$ppat' matches nothing" >&2
}

np_reset() {
	local ref
	for ref in $(sl policy list | awk 'NR > 1 { print $2 }' | sort -u); do
		sl policy delete "$ref" >/dev/null || fail "delete policy $ref"
	done
	np_expect_all .
}

# np_apply: policy documents from stdin; a failed apply fails the case
np_apply() {
	local f="$SL_WORK/np-$RANDOM.yaml" out
	cat >"$f"
	if ! out=$(sl policy apply -f "$f" 2>&1); then
		fail "apply failed: $out"
		return 1
	fi
}

np_policy() {
	printf -- '---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n'
	printf 'metadata: {name: %s, namespace: %s}\nspec:\n  podSelector: %s\n' \
		"$1" "${2:-x}" "${3:-"{matchLabels: {pod: a}}"}"
	cat
}

# one round: one prober per client pod, all at once
np_probe_round() {
	local from to pids=() targets out
	for from in "${NP_PODS[@]}"; do
		targets=()
		for to in "${NP_PODS[@]}"; do
			[ "$from" = "$to" ] || targets+=("$to=${NP_IP[$to]}")
		done
		out="$SL_WORK/probe-$(echo "$from" | tr '/' '_').out"
		timeout 20 "$SL_BUILD/cli/sluice" --socket "$SL_SOCK" pod exec "$from" -- \
			python3 "$NP_DIR/prober.py" "$NP_TIMEOUT" "${targets[@]}" >"$out" 2>&1 &
		pids+=($!)
	done
	wait "${pids[@]}" 2>/dev/null
	NP_OBS=()
	for from in "${NP_PODS[@]}"; do
		out="$SL_WORK/probe-$(echo "$from" | tr '/' '_').out"
		local name port r
		while read -r name port r; do
			NP_OBS["$from>$name>$port"]=$r
		done <"$out"
	done
}

# number of differing probes
np_diff() {
	local k n=0
	for k in "${!NP_EXP[@]}"; do
		[ "${NP_OBS[$k]:-!}" = "${NP_EXP[$k]}" ] || n=$((n + 1))
	done
	echo $n
}

np_print() {
	local from to port cell ocell mark
	printf '    %-5s' "" ; for to in "${NP_PODS[@]}"; do printf '%-6s' "$to"; done
	printf '   %-5s' "" ; for to in "${NP_PODS[@]}"; do printf '%-6s' "$to"; done
	echo
	for from in "${NP_PODS[@]}"; do
		local left="" right=""
		for to in "${NP_PODS[@]}"; do
			if [ "$from" = "$to" ]; then
				left+="----  "; right+="----  "; continue
			fi
			cell="" ocell="" mark=" "
			for port in "${NP_PORTS[@]}"; do
				cell+=${NP_EXP["$from>$to>$port"]}
				ocell+=${NP_OBS["$from>$to>$port"]:-!}
			done
			[ "$cell" = "$ocell" ] || mark="*"
			left+="$cell  "; right+="$ocell$mark "
		done
		printf '    %-5s%s   %-5s%s\n' "$from" "$left" "$from" "$right"
	done
}

# what a prober printed besides results (a failed exec, a traceback)
np_print_prober_errors() {
	local from out
	for from in "${NP_PODS[@]}"; do
		out="$SL_WORK/probe-$(echo "$from" | tr '/' '_').out"
		if grep -qvE '^[xyz]/[a-z]+ (tcp|udp)/[0-9]+ [.X!]$' "$out" 2>/dev/null; then
			echo "    prober in $from said:"
			grep -vE '^[xyz]/[a-z]+ (tcp|udp)/[0-9]+ [.X!]$' "$out" | head -5 | sed 's/^/      /'
		fi
	done
}

np_check() {
	local what=$1 t0 t n
	t0=$(date +%s.%N)
	np_probe_round
	t=$(_np_since "$t0")
	n=$(np_diff)
	if [ "$n" -gt 0 ]; then
		echo "  ($what: $n probes differ, probing again)"
		np_probe_round
		n=$(np_diff)
	fi
	if [ "$n" -eq 0 ]; then
		pass "$what  [round ${t}s]"
		return 0
	fi
	fail "$what: $n of ${#NP_EXP[@]} probes differ"
	printf '    %-62s%s\n' "expected (cells: tcp/80 tcp/81 udp/80 udp/81)" "observed (* = differs)"
	np_print
	np_print_prober_errors
	return 1
}
