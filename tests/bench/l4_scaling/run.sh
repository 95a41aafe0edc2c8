#!/usr/bin/env bash
# run.sh - pod-to-pod HTTP request rate and latency as the number of L4 rules
# protecting the server grows: sluice against iptables-legacy, iptables-nft,
# ipset and an nft set, all in one run and one pod topology.
#
#   sudo tests/bench/l4_scaling/run.sh [BUILD_DIR]
#
# Environment: DUR (seconds per wrk run, default 3), RULES (default
# "1000 10000 25000"), KINDS (default "sluice iptables-legacy iptables-nft
# ipset nft-set"), CPU_CLIENT / CPU_SERVER (vCPUs wrk and nginx are
# pinned to, default 0 and 1; "" to not pin).
#
# Topology: one sluice instance (its own pins, child cgroup, netns prefix
# bn-, pod CIDR 10.244.240.0/24), pods bench/server (nginx, port 80),
# bench/client (wrk) and bench/other (must always be refused: proves each
# ruleset is really enforcing). Every ruleset protects the server's ingress:
#   none          no policy, no rules (sluice's programs are attached, but
#                 nothing selects the server)
#   sluice        a CiliumNetworkPolicy with N fromCIDR/32+port rules and the
#                 client allowed by identity (gen_rules.py sluice)
#   iptables-*    N `-A INPUT -s IP -p tcp --dport P -j ACCEPT`, the client's
#                 ACCEPT, DROP, in the server pod's netns, every packet walks
#                 the chain (no ESTABLISHED shortcut, as most generated rule
#                 sets that are per-source)
#   ipset         one hash:ip,port set of N+1 entries and one iptables rule
#   nft-set       one ipv4_addr . inet_service set of N+1 elements
# Each is measured three ways with wrk (1 thread): one keep-alive connection
# (rate and unloaded latency), 16 keep-alive connections, and 16 connections
# with "Connection: close" (a new flow, hence a policy decision, per request).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
SL_ROOT=$(cd "$HERE/../../.." && pwd)
SL_BUILD=$(cd "${1:-$SL_ROOT/build}" 2>/dev/null && pwd) || { echo "no build dir ${1:-}" >&2; exit 1; }
DUR=${DUR:-3}
RULES=${RULES:-"1000 10000 25000"}
KINDS=${KINDS:-"sluice iptables-legacy iptables-nft ipset nft-set"}
CPU_CLIENT=${CPU_CLIENT-0}
CPU_SERVER=${CPU_SERVER-1}
GEN=$HERE/gen_rules.py

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
for b in "$SL_BUILD/agent/sluiced" "$SL_BUILD/cli/sluice"; do
	[ -x "$b" ] || { echo "missing $b (build sluiced and sluice first)" >&2; exit 1; }
done
for t in wrk nginx iptables-legacy iptables-legacy-restore iptables-nft iptables-nft-restore ipset nft python3 curl; do
	command -v "$t" >/dev/null || { echo "missing $t (apt-get install -y wrk nginx-light iptables ipset nftables)" >&2; exit 1; }
done
case "$DUR" in '' | *[!0-9]*) echo "DUR must be whole seconds" >&2; exit 1 ;; esac
[ "$DUR" -ge 1 ] && [ "$DUR" -le 30 ] || { echo "DUR must be 1..30" >&2; exit 1; }

# shellcheck source=../../../scripts/standalone.sh
source "$SL_ROOT/scripts/standalone.sh"
SL_NSPFX=bn-
SL_METRICS_PORT=19240
SL_WORK=/tmp/sluice-bench-l4-$$
sl_instance_init bench-l4 10.244.240.0/24

SERVER_NS=
bench_cleanup() {
	if [ -n "$SERVER_NS" ] && ip netns list | grep -qw "$SERVER_NS"; then
		rules_clear
	fi
	sl_cleanup
	rm -rf "$SL_WORK"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

sl_agent_start || exit 1

# pin_args CPU : the command prefix that pins to that vCPU (nothing when unset)
pin_args() { [ -n "$1" ] && echo taskset -c "$1"; }

SERVER_IP=$(sl pod create bench/server --labels app=bench-server --port http=80/TCP) || exit 1
CLIENT_IP=$(sl pod create bench/client --labels app=bench-client) || exit 1
OTHER_IP=$(sl pod create bench/other --labels app=bench-other) || exit 1
SERVER_NS=$(sl pod get bench/server | python3 -c 'import json,sys; print(json.load(sys.stdin)["netns"])')
[ -n "$SERVER_NS" ] || { echo "no netns for bench/server" >&2; exit 1; }
nsx() { ip netns exec "$SERVER_NS" "$@"; }

mkdir -p "$SL_WORK/nginx/tmp"
cat >"$SL_WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
master_process off;
daemon off;
pid $SL_WORK/nginx/nginx.pid;
error_log $SL_WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 100000000;
	keepalive_timeout 300s;
	client_body_temp_path $SL_WORK/nginx/tmp;
	proxy_temp_path $SL_WORK/nginx/tmp;
	fastcgi_temp_path $SL_WORK/nginx/tmp;
	uwsgi_temp_path $SL_WORK/nginx/tmp;
	scgi_temp_path $SL_WORK/nginx/tmp;
	server {
		listen $SERVER_IP:80 backlog=4096;
		default_type text/plain;
		location / { return 200 "ok\n"; }
	}
}
EOF
# shellcheck disable=SC2046
sl_bg $(pin_args "$CPU_SERVER") "$SL_BUILD/cli/sluice" --socket "$SL_SOCK" pod exec bench/server -- \
	nginx -e "$SL_WORK/nginx/error.log" -p "$SL_WORK/nginx" -c "$SL_WORK/nginx/nginx.conf"
# http_code FROM : status of one GET from that pod (000 when refused or dropped)
http_code() {
	sl pod exec "$1" -- curl -s -o /dev/null -w '%{http_code}' --connect-timeout 0.5 -m 2 "http://$SERVER_IP/"
}
for _ in $(seq 1 100); do
	[ "$(http_code bench/client)" = 200 ] && break
	sleep 0.05
done
[ "$(http_code bench/client)" = 200 ] || { echo "nginx in bench/server does not answer" >&2; cat "$SL_WORK/nginx/error.log" >&2; exit 1; }

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

# wrk_run MODE : prints "req_per_s avg_us p99_us errors"
wrk_run() {
	local mode=$1 args out
	case $mode in
	ka1) args=(-c1) ;;
	ka16) args=(-c16) ;;
	close16) args=(-c16 -H "Connection: close") ;;
	esac
	# shellcheck disable=SC2046
	out=$(timeout $((DUR + 15)) "$SL_BUILD/cli/sluice" --socket "$SL_SOCK" pod exec bench/client -- \
		$(pin_args "$CPU_CLIENT") wrk -t1 "${args[@]}" -d"${DUR}s" --timeout 2s --latency \
		"http://$SERVER_IP/" 2>&1)
	echo "$out" >>"$SL_WORK/wrk.log"
	python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
def us(v):
    m = re.match(r"([\d.]+)(us|ms|s)$", v)
    if not m:
        return float("nan")
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]
rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
avg = re.search(r"^\s+Latency\s+(\S+)", out, re.M)
p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
errs = 0
m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
if m:
    errs += int(m.group(1)) + int(m.group(3)) + int(m.group(4))
m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
if m:
    errs += int(m.group(1))
print("%s %s %s %d" % (rate.group(1) if rate else "0",
                       "%.0f" % us(avg.group(1)) if avg else "nan",
                       "%.0f" % us(p99.group(1)) if p99 else "nan", errs))
PY
}

RESULTS=$SL_WORK/results
: >"$RESULTS"

# measure KIND N : installs, checks enforcement, runs the three modes
measure() {
	local kind=$1 n=$2 ka1 ka16 cl16 other
	rules_clear
	if ! rules_install "$kind" "$n"; then
		echo "  $kind $n: could not install the ruleset" >&2
		echo "$kind $n FAILED" >>"$RESULTS"
		return
	fi
	if [ "$(http_code bench/client)" != 200 ]; then
		echo "  $kind $n: the client is refused: ruleset broken" >&2
		echo "$kind $n FAILED" >>"$RESULTS"
		return
	fi
	other=$(http_code bench/other)
	if [ "$kind" != none ] && [ "$other" != 000 ]; then
		echo "  $kind $n: bench/other got $other: ruleset not enforcing" >&2
		echo "$kind $n FAILED" >>"$RESULTS"
		return
	fi
	ka1=$(wrk_run ka1)
	ka16=$(wrk_run ka16)
	cl16=$(wrk_run close16)
	echo "$kind $n $ka1 $ka16 $cl16" >>"$RESULTS"
	printf '  %-16s %6s  ka c1 %8.0f/s  ka c16 %8.0f/s  close c16 %8.0f/s\n' "$kind" "$n" \
		"${ka1%% *}" "${ka16%% *}" "${cl16%% *}"
}

echo "sluice L4 scaling bench: server $SERVER_IP (nginx), client $CLIENT_IP (wrk), ${DUR}s per run"
echo "machine: $(nproc) vCPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
measure none 0
for kind in $KINDS; do
	[ "$kind" = sluice ] && measure sluice 0
	for n in $RULES; do measure "$kind" "$n"; done
done
measure none 0
rules_clear

python3 - "$RESULTS" <<'PY'
import math, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
base = [r for r in rows if r[0] == "none" and len(r) > 3]
if not base:
    sys.exit("no baseline measured")
# the baseline is the mean of the first and last no-policy runs (drift check)
b = [sum(float(r[2 + 4 * k]) for r in base) / len(base) for k in range(3)]
def ratio(v, k):
    return float(v) / b[k] if b[k] else float("nan")
print()
print("| ruleset | rules | keep-alive c1 req/s | latency avg / p99 (us) | keep-alive c16 req/s | close c16 req/s | vs none: ka c1 / ka c16 / close c16 |")
print("|---|---:|---:|---:|---:|---:|---|")
for r in rows:
    if len(r) < 14:
        print("| %s | %s | failed | | | | |" % (r[0], r[1]))
        continue
    err = sum(int(r[5 + 4 * k]) for k in range(3))
    print("| %s | %s | %.0f | %s / %s | %.0f | %.0f | %.2fx / %.2fx / %.2fx%s |" % (
        r[0], r[1], float(r[2]), r[3], r[4], float(r[6]), float(r[10]),
        ratio(r[2], 0), ratio(r[6], 1), ratio(r[10], 2),
        "  (%d errors)" % err if err else ""))
if len(base) == 2:
    d = [abs(float(base[0][2 + 4 * k]) - float(base[1][2 + 4 * k])) / b[k] * 100 for k in range(3)]
    print("\nno-policy drift between first and last run: %.1f%% / %.1f%% / %.1f%%" % tuple(d))
sl = {r[1]: r for r in rows if r[0] == "sluice" and len(r) >= 14}
top = max(sl, key=int) if sl else None
if top:
    worst = min(ratio(sl[top][2 + 4 * k], k) for k in range(3))
    print("sluice at %s rules: %.2fx of no policy at worst (target >= 0.97x): %s" % (
        top, worst, "met" if worst >= 0.97 else "NOT met"))
PY
