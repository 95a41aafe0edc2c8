#!/usr/bin/env bash
# run.sh - pod-to-pod HTTP request rate and latency as the number of L4 rules
# protecting the server grows: sluice against iptables-legacy, iptables-nft,
# ipset and an nft set, all in one run and one pod topology.
#
#   sudo tests/bench/l4_scaling/run.sh [BUILD_DIR]
#
# Environment: DUR (seconds per wrk run, default 2), REPEAT (wrk runs per
# figure, the fastest is kept: other load on the machine only ever slows a
# run down; default 2), AB (rounds of the no-policy / sluice-at-most-rules
# alternation behind the headline ratio, default 3), RULES (default
# "1000 10000 25000"), KINDS (default "sluice iptables-legacy iptables-nft
# ipset nft-set"), CPU_CLIENT / CPU_SERVER (the vCPU wrk and nginx are
# pinned to, default 1 and 1: one vCPU for both ends, the other one absorbs
# the rest of the machine; "" to not pin), OUT (a directory to keep the raw
# results and wrk outputs in).
#
# Topology: one sluice instance (its own pins, child cgroup, netns prefix
# bn-, pod CIDR 10.244.240.0/24), pods bench/server (nginx, port 80),
# bench/client (wrk) and bench/other (must be refused under every ruleset:
# proves the ruleset is really enforcing). "N rules" is defined once, in
# gen_rules.py: N allow rules (source /32, port) that never match the
# benchmark, one allowing the client, default deny. Rulesets:
#   none          no policy, no rules (sluice's programs stay attached, but
#                 nothing selects the server)
#   sluice        a CiliumNetworkPolicy on the server
#   iptables-*    the rules as a linear INPUT chain in the server pod's netns
#                 (no ESTABLISHED shortcut: every packet walks the chain)
#   ipset         one hash:ip,port set and one iptables rule
#   nft-set       one ipv4_addr . inet_service set in an nft chain
# Two phases, because sluice has two data paths:
#   kernel path   nginx and wrk enter the pods with `ip netns exec` from this
#                 script's cgroup, outside sluice's: every packet crosses the
#                 veth, tc (sluice) and netfilter (the others). All rulesets.
#   sluice pods   nginx and wrk enter the pods with `sluice pod exec` (the
#                 pod's cgroup too): sluice's sock_ops/sk_msg fast path
#                 carries established pod-to-pod bytes socket to socket.
#                 none and sluice only.
# Each configuration is measured three ways with wrk (1 thread): one
# keep-alive connection (rate and unloaded latency), 16 keep-alive
# connections, and 16 connections with "Connection: close" (a new flow,
# hence a policy decision, per request).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
SL_ROOT=$(cd "$HERE/../../.." && pwd)
SL_BUILD=$(cd "${1:-$SL_ROOT/build}" 2>/dev/null && pwd) || { echo "no build dir ${1:-}" >&2; exit 1; }
DUR=${DUR:-2}
REPEAT=${REPEAT:-2}
AB=${AB:-3}
RULES=${RULES:-"1000 10000 25000"}
KINDS=${KINDS:-"sluice iptables-legacy iptables-nft ipset nft-set"}
CPU_CLIENT=${CPU_CLIENT-1}
CPU_SERVER=${CPU_SERVER-1}
GEN=$HERE/gen_rules.py

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
for b in "$SL_BUILD/agent/sluiced" "$SL_BUILD/cli/sluice"; do
	[ -x "$b" ] || { echo "missing $b (build sluiced and sluice first)" >&2; exit 1; }
done
for t in wrk nginx iptables-legacy iptables-legacy-restore iptables-nft iptables-nft-restore ipset nft python3 curl taskset; do
	command -v "$t" >/dev/null || { echo "missing $t (apt-get install -y wrk nginx-light iptables ipset nftables)" >&2; exit 1; }
done
for v in "$DUR" "$REPEAT" "$AB"; do
	case "$v" in '' | *[!0-9]*) echo "DUR and REPEAT are whole numbers" >&2; exit 1 ;; esac
done
if [ "$DUR" -lt 1 ] || [ "$DUR" -gt 30 ] || [ "$REPEAT" -lt 1 ] || [ "$REPEAT" -gt 10 ] || [ "$AB" -gt 10 ]; then
	echo "DUR 1..30, REPEAT 1..10, AB 0..10" >&2
	exit 1
fi

# shellcheck source=../../../scripts/standalone.sh
source "$SL_ROOT/scripts/standalone.sh"
# shellcheck disable=SC2034 # read by standalone.sh
SL_NSPFX=bn- SL_METRICS_PORT=19240
SL_WORK=/tmp/sluice-bench-l4-$$
sl_instance_init bench-l4 10.244.240.0/24

SERVER_NS=
NGINX_PID=
bench_cleanup() {
	[ -n "${OUT:-}" ] && mkdir -p "$OUT" && cp "$SL_WORK"/results "$SL_WORK"/wrk.log "$OUT"/ 2>/dev/null
	server_stop
	[ -n "$SERVER_NS" ] && ip netns list | grep -qw "$SERVER_NS" && rules_clear
	sl_cleanup
	rm -rf "$SL_WORK"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

sl_agent_start || exit 1

pod_netns() { sl pod get "$1" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["netns"])'; }
SERVER_IP=$(sl pod create bench/server --labels app=bench-server --port http=80/TCP) || exit 1
CLIENT_IP=$(sl pod create bench/client --labels app=bench-client) || exit 1
sl pod create bench/other --labels app=bench-other >/dev/null || exit 1
SERVER_NS=$(pod_netns bench/server)
CLIENT_NS=$(pod_netns bench/client)
OTHER_NS=$(pod_netns bench/other)
if [ -z "$SERVER_NS" ] || [ -z "$CLIENT_NS" ] || [ -z "$OTHER_NS" ]; then
	echo "pods without netns" >&2
	exit 1
fi
nsx() { ip netns exec "$SERVER_NS" "$@"; }

PATH_MODE=netns
# pod_cmd server|client|other : sets POD_CMD to the prefix that runs a
# command in that pod the phase's way (it execs: the PID is the command's)
pod_cmd() {
	if [ "$PATH_MODE" = pod ]; then
		POD_CMD=("$SL_BUILD/cli/sluice" --socket "$SL_SOCK" pod exec "bench/$1" --)
	else
		case $1 in
		server) POD_CMD=(ip netns exec "$SERVER_NS") ;;
		client) POD_CMD=(ip netns exec "$CLIENT_NS") ;;
		*) POD_CMD=(ip netns exec "$OTHER_NS") ;;
		esac
	fi
}
in_pod() {
	pod_cmd "$1"
	shift
	"${POD_CMD[@]}" "$@"
}

# pin_args CPU : the command prefix that pins to that vCPU (nothing when unset)
pin_args() { [ -n "$1" ] && echo taskset -c "$1"; }

# http_code FROM : status of one GET from that pod (000 when refused or dropped)
http_code() {
	in_pod "$1" curl -s -o /dev/null -w '%{http_code}' --connect-timeout 0.5 -m 2 "http://$SERVER_IP/"
}

# ---- the server -----------------------------------------------------------

# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
bench_nginx_conf "$SL_WORK/nginx" "$SERVER_IP:80"

server_stop() {
	[ -n "$NGINX_PID" ] || return 0
	kill -TERM "$NGINX_PID" 2>/dev/null
	for _ in $(seq 1 40); do
		kill -0 "$NGINX_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$NGINX_PID" 2>/dev/null
	wait "$NGINX_PID" 2>/dev/null
	NGINX_PID=
}

# server_start : (re)starts nginx in bench/server the phase's way
server_start() {
	server_stop
	# exec: the PID is nginx itself (taskset, ip netns exec and sluice pod
	# exec all exec their command)
	pod_cmd server
	# shellcheck disable=SC2046
	"${POD_CMD[@]}" $(pin_args "$CPU_SERVER") nginx -e "$SL_WORK/nginx/error.log" \
		-p "$SL_WORK/nginx" -c "$SL_WORK/nginx/nginx.conf" &
	NGINX_PID=$!
	for _ in $(seq 1 100); do
		if [ "$(http_code client)" = 200 ]; then
			wrk_run ka16 >/dev/null # warm-up, not counted
			return 0
		fi
		kill -0 "$NGINX_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "nginx in bench/server does not answer" >&2
	cat "$SL_WORK/nginx/error.log" >&2
	return 1
}

# ---- rulesets -------------------------------------------------------------

rules_clear() {
	sl policy delete bench/bench-rules >/dev/null 2>&1
	nsx iptables-legacy -F INPUT 2>/dev/null
	nsx iptables-legacy -P INPUT ACCEPT 2>/dev/null
	nsx ipset destroy 2>/dev/null
	nsx nft flush ruleset 2>/dev/null
	return 0
}

# rules_install KIND N : installs the ruleset; 0 on success
rules_install() {
	local kind=$1 n=$2 f=$SL_WORK/rules
	case $kind in
	none) ;;
	sluice)
		python3 "$GEN" sluice "$n" "$CLIENT_IP" 80 >"$f" &&
			sl policy apply -f "$f" >/dev/null ;;
	iptables-legacy | iptables-nft)
		python3 "$GEN" iptables "$n" "$CLIENT_IP" 80 >"$f" &&
			nsx "$kind-restore" <"$f" ;;
	ipset)
		python3 "$GEN" ipset "$n" "$CLIENT_IP" 80 >"$f" &&
			nsx ipset restore <"$f" &&
			python3 "$GEN" ipset-rules "$n" "$CLIENT_IP" 80 | nsx iptables-legacy-restore ;;
	nft-set)
		python3 "$GEN" nft-set "$n" "$CLIENT_IP" 80 >"$f" &&
			nsx nft -f "$f" ;;
	*) return 1 ;;
	esac
}

# ---- measurement ----------------------------------------------------------

# wrk_best MODE : the fastest of REPEAT wrk_run
wrk_best() {
	local r best=
	for _ in $(seq 1 "$REPEAT"); do
		r=$(wrk_run "$1")
		if [ -z "$best" ] || python3 -c 'import sys; sys.exit(not float(sys.argv[1]) > float(sys.argv[2]))' "${r%% *}" "${best%% *}"; then
			best=$r
		fi
	done
	echo "$best"
}

# wrk_run MODE : prints "req_per_s rtt_us p99_us errors"; rtt is the mean
# time per request of the one-connection run (1 / rate: exact for a closed
# loop), p99 as wrk reports it
wrk_run() {
	local mode=$1 args out
	case $mode in
	ka1) args=(-c1) ;;
	ka16) args=(-c16) ;;
	close16) args=(-c16 -H "Connection: close") ;;
	esac
	pod_cmd client
	# shellcheck disable=SC2046
	out=$(timeout $((DUR + 15)) "${POD_CMD[@]}" $(pin_args "$CPU_CLIENT") wrk -t1 "${args[@]}" \
		-d"${DUR}s" --timeout 2s --latency "http://$SERVER_IP/" 2>&1)
	printf '== %s %s\n%s\n' "$PATH_MODE" "$mode" "$out" >>"$SL_WORK/wrk.log"
	python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
def us(v):
    m = re.match(r"([\d.]+)(us|ms|s)$", v)
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)] if m else float("nan")
rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
errs = 0
m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
if m:  # read errors are the server closing "Connection: close" sockets
    errs += int(m.group(1)) + int(m.group(3)) + int(m.group(4))
m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
if m:
    errs += int(m.group(1))
r = float(rate.group(1)) if rate else 0.0
print("%s %s %s %d" % (rate.group(1) if rate else "0",
                       "%.1f" % (1e6 / r) if r else "nan",
                       "%.0f" % us(p99.group(1)) if p99 else "nan", errs))
PY
}

RESULTS=$SL_WORK/results
: >"$RESULTS"

# measure KIND N : installs, checks enforcement, runs the three modes
measure() {
	local kind=$1 n=$2 ka1 ka16 cl16 other why=
	rules_clear
	if ! rules_install "$kind" "$n"; then
		why="could not install the ruleset"
	elif [ "$(http_code client)" != 200 ]; then
		why="the client is refused: ruleset broken"
	else
		other=$(http_code other)
		[ "$kind" != none ] && [ "$other" != 000 ] && why="bench/other got $other: ruleset not enforcing"
	fi
	if [ -n "$why" ]; then
		echo "  $kind $n: $why" >&2
		echo "$PATH_MODE $kind $n FAILED" >>"$RESULTS"
		return
	fi
	ka1=$(wrk_best ka1)
	ka16=$(wrk_best ka16)
	cl16=$(wrk_best close16)
	echo "$PATH_MODE $kind $n $ka1 $ka16 $cl16" >>"$RESULTS"
	printf '  %-6s %-16s %6s  ka c1 %8.0f/s  ka c16 %8.0f/s  close c16 %8.0f/s\n' "$PATH_MODE" "$kind" "$n" \
		"${ka1%% *}" "${ka16%% *}" "${cl16%% *}"
}

# ab_check : alternates no policy, sluice with the client rule only and
# sluice at the most rules, AB times; the headline ratios compare medians,
# so slow drifts of the machine weigh on every side alike
ab_check() {
	local n=0 kind m r
	for r in $RULES; do [ "$r" -gt "$n" ] && n=$r; done
	for _ in $(seq 1 "$AB"); do
		for kind in none:0 sluice:0 sluice:$n; do
			rules_clear
			rules_install "${kind%:*}" "${kind#*:}" || { echo "  a/b: cannot install $kind" >&2; return 1; }
			[ "$(http_code client)" = 200 ] || { echo "  a/b: client refused under $kind" >&2; return 1; }
			for m in ka1 ka16 close16; do
				echo "ab-$PATH_MODE ${kind%:*} ${kind#*:} $m $(wrk_run $m)" >>"$RESULTS"
			done
		done
	done
	echo "  a/b ($PATH_MODE): $AB rounds of none / sluice 0 / sluice $n done"
}

echo "sluice L4 scaling bench: server $SERVER_IP (nginx), client $CLIENT_IP (wrk), best of $REPEAT ${DUR}s runs," \
	"wrk on vCPU ${CPU_CLIENT:-any}, nginx on vCPU ${CPU_SERVER:-any}"
echo "machine: $(nproc) vCPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
	"$(free -g | awk '/Mem:/ {print $2}') GB, kernel $(uname -r), $(nginx -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')"
echo "== phase 1: kernel path (ip netns exec: every packet crosses veth, tc, netfilter)"
PATH_MODE=netns
server_start || exit 1
measure none 0
for kind in $KINDS; do
	[ "$kind" = sluice ] && measure sluice 0
	for n in $RULES; do measure "$kind" "$n"; done
done
measure none 0
case " $KINDS " in *" sluice "*) [ "$AB" -gt 0 ] && ab_check ;; esac
case " $KINDS " in
*" sluice "*)
	echo "== phase 2: sluice pods (sluice pod exec: established bytes take the sk_msg fast path)"
	PATH_MODE=pod
	server_start || exit 1
	measure none 0
	measure sluice 0
	for n in $RULES; do measure sluice "$n"; done
	measure none 0
	[ "$AB" -gt 0 ] && ab_check
	;;
esac
rules_clear

python3 - "$RESULTS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
titles = {"netns": "kernel path: every packet through veth, tc and netfilter",
          "pod": "sluice pods: established bytes through sluice's sk_msg fast path"}
for phase in ("netns", "pod"):
    pr = [r[1:] for r in rows if r[0] == phase]
    if not pr:
        continue
    base = [r for r in pr if r[0] == "none" and len(r) > 3]
    if not base:
        print("\n%s: no baseline measured" % phase)
        continue
    # the baseline is the mean of the first and last no-policy runs
    b = [sum(float(r[2 + 4 * k]) for r in base) / len(base) for k in range(3)]
    def ratio(v, k):
        return float(v) / b[k] if b[k] else float("nan")
    print("\n%s\n" % titles[phase])
    print("| ruleset | rules | keep-alive c1 req/s | c1 time per request / p99 (us) | keep-alive c16 req/s | close c16 req/s | vs none: ka c1 / ka c16 / close c16 |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in pr:
        if len(r) < 14:
            print("| %s | %s | failed | | | | |" % (r[0], r[1]))
            continue
        err = sum(int(r[5 + 4 * k]) for k in range(3))
        print("| %s | %s | %.0f | %s / %s | %.0f | %.0f | %.2fx / %.2fx / %.2fx%s |" % (
            r[0], r[1], float(r[2]), r[3], r[4], float(r[6]), float(r[10]),
            ratio(r[2], 0), ratio(r[6], 1), ratio(r[10], 2),
            " (%d errors)" % err if err else ""))
    if len(base) == 2:
        d = [abs(float(base[0][2 + 4 * k]) - float(base[1][2 + 4 * k])) / b[k] * 100 for k in range(3)]
        print("\nno-policy runs, first vs last: %.1f%% / %.1f%% / %.1f%% apart (the noise floor)" % tuple(d))
    sl = {r[1]: r for r in pr if r[0] == "sluice" and len(r) >= 14}
    if sl:
        top = max(sl, key=int)
        rs = [ratio(sl[top][2 + 4 * k], k) for k in range(3)]
        print("sluice at %s rules vs no policy, in this table: %.2fx / %.2fx / %.2fx" % (top, rs[0], rs[1], rs[2]))
    ab = [r[1:] for r in rows if r[0] == "ab-" + phase]
    if ab:
        n = ab[-1][1]
        med = {}
        for kind, rules in (("none", "0"), ("sluice", "0"), ("sluice", n)):
            for m in ("ka1", "ka16", "close16"):
                vs = [float(r[3]) for r in ab if r[0] == kind and r[1] == rules and r[2] == m]
                med[kind, rules, m] = statistics.median(vs) if vs else float("nan")
        rounds = len([r for r in ab if r[0] == "none" and r[2] == "ka1"])
        print("\na/b: %d rounds alternating the three, median req/s:\n" % rounds)
        print("| | keep-alive c1 | keep-alive c16 | close c16 |")
        print("|---|---:|---:|---:|")
        rs = []
        for kind, rules in (("none", "0"), ("sluice", "0"), ("sluice", n)):
            cells = []
            for m in ("ka1", "ka16", "close16"):
                v, b0 = med[kind, rules, m], med["none", "0", m]
                cells.append("%.0f (%.3fx)" % (v, v / b0 if b0 else float("nan")))
                if kind == "sluice" and rules == n:
                    rs.append(v / b0 if b0 else float("nan"))
            print("| %s | %s |" % ("no policy" if kind == "none" else "sluice, %s rules" % rules, " | ".join(cells)))
        print("\nsluice at %s rules >= 0.97x no policy (a/b medians): %s" % (n, "met" if min(rs) >= 0.97 else "NOT met"))
PY
