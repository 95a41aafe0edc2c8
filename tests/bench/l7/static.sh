#!/usr/bin/env bash
# L7 proxy alone (not in ctest; run.sh measures the real path): sluice-proxy (static mode) against
# HAProxy 2.6 with the same ACL (GET on /api/users/.* allowed, 403
# otherwise) and against no proxy at all, on loopback, in one run.
#
#   tests/bench/l7/static.sh [BUILD_DIR] [--seconds N] [--idle-conns N]
#
# The origin is a second HAProxy answering 200 "ok" by itself (C, one
# thread): the same for all three. Both proxies run one thread, no access
# log, keep-alive on both sides. Per target it prints:
#   req/s        wrk -c16 -t2, keep-alive, GET /api/users/42
#   cpu us/req   (utime+stime of the proxy process over the loaded run) / requests
#   p50 us       wrk -c1 -t1 (unloaded), median latency
#   anon kB      anonymous memory of the proxy process (smaps_rollup),
#                idle, right after start
#   B/idle conn  its growth with N idle keep-alive connections (each has
#                made one request), divided by N
# Needs: wrk, haproxy (Debian package `haproxy`), python3.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$here/../../../build
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
	build=$1
	shift
fi
secs=8
idle=4000
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) secs=$2; shift 2 ;;
	--idle-conns) idle=$2; shift 2 ;;
	*) echo "usage: $0 [BUILD_DIR] [--seconds N] [--idle-conns N]" >&2; exit 2 ;;
	esac
done
proxy=$build/proxy/sluice-proxy
[ -x "$proxy" ] || cmake --build "$build" --target sluice-proxy
for t in wrk haproxy python3; do
	command -v $t >/dev/null || { echo "$0: $t not found (apt-get install $t)" >&2; exit 1; }
done
ulimit -n 20000 2>/dev/null || true

# shellcheck source=../lib.sh
source "$here/../lib.sh"
bench_workdir sluice-bench-l7

ORIGIN=$(bench_free_port)
HAP=$(bench_free_port)
SLP=$(bench_free_port)

cat >"$work/origin.cfg" <<EOF
global
  nbthread 1
  maxconn 8000
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
frontend origin
  bind 127.0.0.1:$ORIGIN
  http-request return status 200 content-type text/plain string "ok"
EOF

bench_haproxy_acl 127.0.0.1:$HAP 127.0.0.1:$ORIGIN >"$work/haproxy.cfg"

cat >"$work/rules.json" <<'EOF'
{"rules": [{"method": "GET", "path": "/api/users/.*"}]}
EOF

haproxy -db -f "$work/origin.cfg" >"$work/origin.log" 2>&1 &
pids+=($!)
haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
HAP_PID=$!
pids+=($HAP_PID)
"$proxy" --listen 127.0.0.1:$SLP --upstream 127.0.0.1:$ORIGIN --rules "$work/rules.json" \
	--access-log off >"$work/sluice.log" 2>&1 &
SL_PID=$!
pids+=($SL_PID)
bench_wait_port $ORIGIN
bench_wait_port $HAP
bench_wait_port $SLP
sleep 0.3

# idle memory first, before any load touched the proxies
anon_kb() { awk '/^Anonymous:/ {print $2}' /proc/"$1"/smaps_rollup; }
rss_kb() { awk '/^VmRSS/ {print $2}' /proc/"$1"/status; }
declare -A ANON RSS
ANON[haproxy]=$(anon_kb $HAP_PID); RSS[haproxy]=$(rss_kb $HAP_PID)
ANON[sluice]=$(anon_kb $SL_PID); RSS[sluice]=$(rss_kb $SL_PID)

# sanity: the ACL is the same on both
for p in $HAP $SLP; do
	a=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$p/api/users/42)
	d=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$p/admin)
	x=$(curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:$p/api/users/42)
	if [ "$a $d $x" != "200 403 403" ]; then
		echo "$0: port $p answers '$a $d $x', want '200 403 403'" >&2
		exit 1
	fi
done

cpu_ticks() { awk '{print $14 + $15}' /proc/"$1"/stat; }
hz=$(getconf CLK_TCK)

# wrk_run PORT ARGS... -> "REQS RPS P50_US"
wrk_run() {
	local port=$1
	shift
	wrk "$@" --latency "http://127.0.0.1:$port/api/users/42" >"$work/wrk.out" 2>&1
	python3 - "$work/wrk.out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
reqs = int(re.search(r"(\d+) requests in", t).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
m = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", t, re.M)
mult = {"us": 1, "ms": 1000, "s": 1000000}[m.group(2)]
errs = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", t)
if errs:
    sys.stderr.write("wrk: " + errs.group(0) + "\n")
print(reqs, rps, float(m.group(1)) * mult)
PY
}

declare -A RPS CPU P50 PERCONN
measure() { # NAME PORT PID(or -)
	local name=$1 port=$2 pid=$3 c0 c1 out reqs
	wrk -c16 -t2 -d1s "http://127.0.0.1:$port/api/users/42" >/dev/null 2>&1 # warm-up
	[ "$pid" != - ] && c0=$(cpu_ticks "$pid")
	out=$(wrk_run "$port" -c16 -t2 -d"${secs}s")
	[ "$pid" != - ] && c1=$(cpu_ticks "$pid")
	reqs=${out%% *}
	RPS[$name]=$(echo "$out" | awk '{printf "%.0f", $2}')
	if [ "$pid" != - ]; then
		CPU[$name]=$(awk -v d=$((c1 - c0)) -v hz="$hz" -v n="$reqs" 'BEGIN {printf "%.2f", d * 1e6 / hz / n}')
	fi
	out=$(wrk_run "$port" -c1 -t1 -d"$((secs / 2 > 2 ? secs / 2 : 2))s")
	P50[$name]=$(echo "$out" | awk '{printf "%.1f", $3}')
}

# per idle connection: N keep-alive connections, each made one request (one
# at a time: what is measured is what an idle connection keeps, not the
# high-water mark of N requests in flight), then held open. Anonymous memory
# from smaps_rollup (exact; RssAnon is updated lazily).
idle_conn_bytes() { # PORT PID
	python3 - "$1" "$2" "$idle" <<'PY'
import socket, sys, time
port, pid, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
def anon():
    for l in open("/proc/%s/smaps_rollup" % pid):
        if l.startswith("Anonymous:"):
            return int(l.split()[1])
def one(s):
    s.sendall(b"GET /api/users/1 HTTP/1.1\r\nHost: b\r\n\r\n")
    buf = b""
    while not (b"\r\n\r\n" in buf and buf.endswith(b"ok")):
        d = s.recv(4096)
        if not d:
            raise SystemExit("connection closed")
        buf += d
# a first batch warms the allocator up, the second one is measured
warm = [socket.create_connection(("127.0.0.1", port)) for i in range(64)]
for s in warm:
    one(s)
time.sleep(0.2)
before = anon()
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    one(s)
    socks.append(s)
time.sleep(0.5)
after = anon()
print(int((after - before) * 1024 / n))
for s in socks + warm:
    s.close()
PY
}

echo "sluice L7 bench: wrk -c16 -t2 ${secs}s keep-alive, origin = haproxy 'return 200', $(nproc) CPUs"
PERCONN[haproxy]=$(idle_conn_bytes $HAP $HAP_PID)
PERCONN[sluice]=$(idle_conn_bytes $SLP $SL_PID)
sleep 1
measure direct $ORIGIN -
measure haproxy $HAP $HAP_PID
measure sluice $SLP $SL_PID

printf '\n%-8s %10s %12s %10s %10s %10s %14s\n' target req/s "cpu us/req" "p50 us" "anon kB" "rss kB" "B/idle conn"
printf '%-8s %10s %12s %10s %10s %10s %14s\n' direct "${RPS[direct]}" - "${P50[direct]}" - - -
for n in haproxy sluice; do
	printf '%-8s %10s %12s %10s %10s %10s %14s\n' $n "${RPS[$n]}" "${CPU[$n]}" "${P50[$n]}" \
		"${ANON[$n]}" "${RSS[$n]}" "${PERCONN[$n]}"
done
echo
awk -v s="${RPS[sluice]}" -v h="${RPS[haproxy]}" -v d="${RPS[direct]}" \
	-v ps="${P50[sluice]}" -v pd="${P50[direct]}" -v cs="${CPU[sluice]}" \
	-v as="${ANON[sluice]}" -v bs="${PERCONN[sluice]}" 'BEGIN {
	printf "sluice/haproxy req/s: %.2fx (target >= 1.5x)\n", s / h
	printf "sluice/direct  req/s: %.2fx, haproxy/direct: %.2fx\n", s / d, h / d
	printf "sluice cpu/request: %.2f us (target <= 8)\n", cs
	printf "sluice unloaded p50 over direct: %+.1f us (target <= +5)\n", ps - pd
	printf "sluice idle anonymous memory: %d kB (target <= 4096)\n", as
	printf "sluice per idle connection: %d B (target <= 4096)\n", bs
}'
