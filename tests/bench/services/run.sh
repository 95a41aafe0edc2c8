#!/usr/bin/env bash
# run.sh - Services: requests through a ClusterIP against straight to the
# pod, with 1, 1,000 and 10,000 services present; sluice (translation in
# connect(), bpf/lib/service.h) against iptables rules of the shape
# kube-proxy writes (KUBE-SERVICES -> KUBE-SVC-* -> KUBE-SEP-*, one chain
# per service and backend) in a scratch pair of netns. One run, ratios
# printed.
#
#   sudo tests/bench/services/run.sh [BUILD_DIR]
#
# Environment: DUR (seconds per wrk run, default 3), REPEAT (ClusterIP and
# direct runs alternate REPEAT times, the best of each is kept: load from
# other work on the machine only ever slows a run down; default 3), COUNTS
# (default "1 1000 10000"), CPU_CLIENT / CPU_SERVER (vCPU for wrk and nginx,
# default 1 and 1; "" to not pin), OUT (keep results and wrk outputs there).
#
# Two measures per configuration, wrk with one thread and 16 connections:
#   new    "Connection: close": one connection (connect(), translation, a
#          new flow, a NAT decision for iptables) per request
#   ka     keep-alive: the connection's cost is paid once
# sluice: pods bench/server (nginx) and bench/client (wrk, run with `sluice
# pod exec`: it is in the pods cgroup, where connect4 translates), N
# services selecting the server (the measured one among them).
# iptables: netns svcb-c (client, wrk) and svcb-s (server, nginx) joined by
# a veth, 198.18.0.0/24; the N services' rules in svcb-c's nat table,
# jumped to from OUTPUT as kube-proxy does, the measured service half way
# down KUBE-SERVICES (kube-proxy writes services in map order). Direct
# connections walk KUBE-SERVICES too (every new connection does).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
SL_ROOT=$(cd "$HERE/../../.." && pwd)
SL_BUILD=$(cd "${1:-$SL_ROOT/build}" 2>/dev/null && pwd) || { echo "no build dir ${1:-}" >&2; exit 1; }
DUR=${DUR:-3}
REPEAT=${REPEAT:-3}
COUNTS=${COUNTS:-"1 1000 10000"}
CPU_CLIENT=${CPU_CLIENT-1}
CPU_SERVER=${CPU_SERVER-1}

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
for t in wrk nginx iptables-legacy-restore python3 curl taskset; do
	command -v "$t" >/dev/null || { echo "missing $t (apt-get install -y wrk nginx-light iptables)" >&2; exit 1; }
done

# shellcheck source=../../../scripts/standalone.sh
source "$SL_ROOT/scripts/standalone.sh"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
# shellcheck disable=SC2034 # read by standalone.sh
SL_NSPFX=svb- SL_METRICS_PORT=19241 SL_SERVICE_CIDR=10.97.0.0/16
SL_WORK=/tmp/sluice-bench-svc-$$
sl_instance_init bench-svc 10.244.241.0/24
IPT_C=svcb-c-$$
IPT_S=svcb-s-$$
IPT_CIP=10.97.255.1
NGINX_PIDS=()

bench_cleanup() {
	[ -n "${OUT:-}" ] && mkdir -p "$OUT" && cp "$SL_WORK"/results "$SL_WORK"/wrk.log "$OUT"/ 2>/dev/null
	local p
	for p in "${NGINX_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	ip netns del "$IPT_C" 2>/dev/null
	ip netns del "$IPT_S" 2>/dev/null
	sl_cleanup
	rm -rf "$SL_WORK"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

pin() { [ -n "$1" ] && echo taskset -c "$1"; }

# wrk_rate MODE URL PREFIX...: requests/s of one wrk run (0 on failure)
wrk_rate() {
	local mode=$1 url=$2 out
	shift 2
	local args=(-c16)
	[ "$mode" = new ] && args+=(-H "Connection: close")
	# shellcheck disable=SC2046
	out=$(timeout $((DUR + 15)) "$@" $(pin "$CPU_CLIENT") wrk -t1 "${args[@]}" -d"${DUR}s" \
		--timeout 2s "$url" 2>&1)
	printf '== %s %s\n%s\n' "$mode" "$url" "$out" >>"$SL_WORK/wrk.log"
	python3 -c '
import re, sys
out = sys.argv[1]
r = re.search(r"Requests/sec:\s+([\d.]+)", out)
m = re.search(r"Socket errors: connect (\d+), read \d+, write (\d+), timeout (\d+)", out)
bad = sum(int(x) for x in m.groups()) if m else 0
n = re.search(r"(\d+) requests in", out)
# a run where a tenth of the connections failed measures the failures
print(r.group(1) if r and (not n or bad * 10 < int(n.group(1))) else "0")' "$out"
}

# best_pair MODE URL_A URL_B PREFIX...: alternates A and B REPEAT times and
# prints the best rate of each. The order flips every round (A B, B A, ...):
# a run pays for what the one before it left (its connections in TIME_WAIT,
# to the same backend address after translation, for "new"), so a fixed
# order would favour whichever side always goes first.
best_pair() {
	local mode=$1 a=$2 b=$3 i ra rb besta=0 bestb=0
	shift 3
	for i in $(seq 1 "$REPEAT"); do
		if [ $((i % 2)) = 1 ]; then
			ra=$(wrk_rate "$mode" "$a" "$@")
			rb=$(wrk_rate "$mode" "$b" "$@")
		else
			rb=$(wrk_rate "$mode" "$b" "$@")
			ra=$(wrk_rate "$mode" "$a" "$@")
		fi
		besta=$(python3 -c "print(max($besta, $ra))")
		bestb=$(python3 -c "print(max($bestb, $rb))")
	done
	echo "$besta $bestb"
}

start_nginx() { # DIR LISTEN PREFIX...
	local dir=$1 listen=$2
	shift 2
	bench_nginx_conf "$dir" "$listen"
	# shellcheck disable=SC2046
	"$@" $(pin "$CPU_SERVER") nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" &
	NGINX_PIDS+=($!)
}

# ---- sluice --------------------------------------------------------------

sl_agent_start --service-max-entries 65536 || exit 1
SERVER_IP=$(sl pod create bench/server --labels app=bench-server --port http=80/TCP) || exit 1
sl pod create bench/client --labels app=bench-client >/dev/null || exit 1
start_nginx "$SL_WORK/nginx" "$SERVER_IP:80" "$SL_BUILD/cli/sluice" --socket "$SL_SOCK" pod exec bench/server --
CLIENT=("$SL_BUILD/cli/sluice" --socket "$SL_SOCK" pod exec bench/client --)
CIP=$(sl service create bench/target --selector app=bench-server --port http=80:http/TCP) || exit 1
for _ in $(seq 1 100); do
	[ "$("${CLIENT[@]}" curl -s -m 1 "http://$CIP/")" = ok ] && break
	sleep 0.1
done
[ "$("${CLIENT[@]}" curl -s -m 1 "http://$CIP/")" = ok ] || { echo "ClusterIP $CIP does not answer" >&2; exit 1; }

# services_to N: creates services until N exist, over one API connection
HAVE=1
services_to() {
	python3 - "$SL_SOCK" "$HAVE" "$1" <<'PY' || exit 1
import json, socket, sys
path, have, want = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
f = s.makefile("rwb")
for i in range(have, want):
    req = {"cmd": "service.create", "namespace": "bench", "name": "svc-%d" % i,
           "selector": {"app": "bench-server"},
           "ports": [{"name": "http", "port": 80, "protocol": "TCP", "target_port": "http"}]}
    f.write((json.dumps(req) + "\n").encode())
    f.flush()
    ans = json.loads(f.readline())
    if not ans.get("ok"):
        sys.exit("service %d: %s" % (i, ans.get("error")))
PY
	HAVE=$1
}

# ---- iptables, kube-proxy's shape ----------------------------------------

ip netns add "$IPT_C" && ip netns add "$IPT_S" || exit 1
ip link add svcb-a$$ netns "$IPT_C" type veth peer name svcb-b$$ netns "$IPT_S" || exit 1
ip -n "$IPT_C" addr add 198.18.0.1/24 dev svcb-a$$
ip -n "$IPT_S" addr add 198.18.0.2/24 dev svcb-b$$
for ns in "$IPT_C" "$IPT_S"; do ip -n "$ns" link set lo up; done
ip -n "$IPT_C" link set svcb-a$$ up
ip -n "$IPT_S" link set svcb-b$$ up
# ClusterIPs route to the veth (the DNAT in OUTPUT then reroutes)
ip -n "$IPT_C" route add default via 198.18.0.2
start_nginx "$SL_WORK/nginx-ipt" "198.18.0.2:80" ip netns exec "$IPT_S"
IPTC=(ip netns exec "$IPT_C")
ipt_rules() { # N
	python3 "$HERE/kube_proxy_rules.py" "$1" "$IPT_CIP" $(($1 / 2)) 198.18.0.2 80 198.18.0.0/24 |
		"${IPTC[@]}" iptables-legacy-restore
}

echo "sluice $(git -C "$SL_ROOT" rev-parse --short HEAD 2>/dev/null), $(nproc) vCPU, DUR=${DUR}s REPEAT=$REPEAT, wrk -t1 -c16"
echo "machine load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-9s %-8s %-5s %12s %12s %8s\n' services datapath mode clusterip/s direct/s ratio | tee "$SL_WORK/results"
for n in $COUNTS; do
	t0=$(date +%s.%N)
	services_to "$n"
	t1=$(date +%s.%N)
	ipt_rules "$n" || { echo "iptables-legacy-restore failed" >&2; exit 1; }
	t2=$(date +%s.%N)
	echo "# $n services: created in sluice in $(python3 -c "print('%.1f' % ($t1 - $t0))") s," \
		"iptables rules loaded in $(python3 -c "print('%.2f' % ($t2 - $t1))") s" >>"$SL_WORK/results"
	for mode in new ka; do
		read -r c d < <(best_pair "$mode" "http://$CIP/" "http://$SERVER_IP/" "${CLIENT[@]}")
		printf '%-9s %-8s %-5s %12.0f %12.0f %8.3f\n' "$n" sluice "$mode" "$c" "$d" \
			"$(python3 -c "print($c / $d if $d else 0)")" | tee -a "$SL_WORK/results"
		read -r c d < <(best_pair "$mode" "http://$IPT_CIP/" "http://198.18.0.2/" "${IPTC[@]}")
		printf '%-9s %-8s %-5s %12.0f %12.0f %8.3f\n' "$n" iptables "$mode" "$c" "$d" \
			"$(python3 -c "print($c / $d if $d else 0)")" | tee -a "$SL_WORK/results"
	done
done
grep '^#' "$SL_WORK/results"
python3 - "$SL_WORK/results" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l[0].isdigit()]
def rate(n, dp, mode):
    for r in rows:
        if r[0] == n and r[1] == dp and r[2] == mode:
            return float(r[3])
counts = sorted({r[0] for r in rows}, key=int)
lo, hi = counts[0], counts[-1]
for dp in ("sluice", "iptables"):
    for mode in ("new", "ka"):
        a, b = rate(lo, dp, mode), rate(hi, dp, mode)
        if a and b:
            print("%-8s %-3s ClusterIP rate at %s services vs %s: %+.1f%%" % (dp, mode, hi, lo, (b / a - 1) * 100))
for r in rows:
    if r[0] == hi and r[1] == "sluice":
        ok = float(r[5]) >= 0.97
        print("target: sluice %s ClusterIP >= 0.97 x direct at %s services: %s (%s)" % (r[2], hi, "met" if ok else "NOT met", r[5]))
PY
echo "machine load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
