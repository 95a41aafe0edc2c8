#!/usr/bin/env bash
# tests/bench/tls/run.sh BUILD_DIR [SECONDS] - sluice-proxy vs HAProxy, both
# terminating TLS (ECDSA P-256 certificate from certs/), applying one HTTP
# rule (GET /api/.*, anything else 403) and re-originating TLS to an nginx
# upstream they verify against the test CA. On loopback, one process and
# one thread each (HAProxy nbthread 1; sluice-proxy is one libuv loop).
#
# So that the proxy, not the load tool, is what is measured:
#   - the proxy under test is pinned to CPU_PROXY (default 0) and held to
#     PROXY_QUOTA percent of that core (default 50, a cgroup cpu quota; 0 =
#     no quota); wrk, the handshake clients and nginx are pinned to
#     CPU_LOAD (default 1). On a 2-vCPU machine the clients and the
#     upstream cost about as much CPU per request or handshake as the
#     proxy, so without the quota the rate is the clients' (both proxies
#     came out equal); with it, each proxy's rate is what it does with the
#     same CPU budget. Each cell prints how busy the proxy was (% of one
#     core): at the quota, the proxy was the limit.
#   - keep-alive: wrk -t1 -c32, HTTPS requests/s and the proxy's CPU per
#     request (its utime+stime from /proc over the run / requests served);
#   - handshakes: NCLIENT (default 4) parallel `openssl s_time -new`
#     processes, each connecting again and again with resumption off: a
#     full TLS 1.3 handshake with the ECDSA P-256 certificate per
#     connection, no request (handshakes/s, CPU per handshake);
#   - new connection + request: the same with `-www /api/x` (full handshake,
#     one HTTP/1.0 request, the upstream connection, close).
# Prints a table and the sluice/HAProxy ratios. Keys are made fresh in a
# temporary folder and removed on exit; every process is killed by PID and
# the cgroups removed.
set -euo pipefail
BUILD=${1:?usage: run.sh BUILD_DIR [SECONDS]}
SECS=${2:-10}
CPU_PROXY=${CPU_PROXY-0}
CPU_LOAD=${CPU_LOAD-1}
PROXY_QUOTA=${PROXY_QUOTA-50}
NCLIENT=${NCLIENT-4}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
PROXY=$(cd "$BUILD" && pwd)/proxy/sluice-proxy
for b in wrk haproxy nginx openssl curl taskset python3 "$PROXY"; do
	command -v "$b" >/dev/null || { echo "missing: $b (scripts/install-deps.sh)" >&2; exit 1; }
done
W=$(mktemp -d /tmp/sluice-bench-tls-XXXXXX)
PIDS=()
CGROUPS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	for p in "${CGROUPS[@]}"; do rmdir "$p" 2>/dev/null || true; done
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
# taskset execs the command: $! of `taskset -c N cmd &` is cmd's own PID
# (what /proc ticks, the cgroup and the cleanup need)

# quota NAME PID: holds PID to PROXY_QUOTA % of one core (cgroup v2 cpu.max
# or v1 cpu.cfs_quota_us, in a child cgroup of our own)
CG_MODE=none
if [ "$PROXY_QUOTA" -gt 0 ]; then
	if grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
		CG_MODE=v2 CG_ROOT=/sys/fs/cgroup
	elif [ -w /sys/fs/cgroup/cpu/cpu.cfs_quota_us ] || [ -d /sys/fs/cgroup/cpu ]; then
		CG_MODE=v1 CG_ROOT=/sys/fs/cgroup/cpu
	else
		echo "no cgroup cpu controller: running without a CPU quota (the clients may be the limit)" >&2
		PROXY_QUOTA=0
	fi
fi
quota() {
	local cg
	[ "$CG_MODE" = none ] && return 0
	cg=$CG_ROOT/sluice-bench-tls-$$-$1
	if ! mkdir "$cg" 2>/dev/null; then
		echo "cannot make $cg: running without a CPU quota (the clients may be the limit)" >&2
		CG_MODE=none PROXY_QUOTA=0
		return 0
	fi
	CGROUPS+=("$cg")
	if [ "$CG_MODE" = v2 ]; then
		echo "$((PROXY_QUOTA * 1000)) 100000" >"$cg/cpu.max"
	else
		echo 100000 >"$cg/cpu.cfs_period_us"
		echo "$((PROXY_QUOTA * 1000))" >"$cg/cpu.cfs_quota_us"
	fi
	echo "$2" >"$cg/cgroup.procs"
}

"$ROOT/certs/make-ca.sh" "$W/ca" >/dev/null
"$ROOT/certs/make-leaf.sh" "$W/ca" "$W/front" bench.test 127.0.0.1 >/dev/null
"$ROOT/certs/make-leaf.sh" "$W/ca" "$W/up" 127.0.0.1 >/dev/null
cat "$W/front/tls.crt" "$W/front/tls.key" >"$W/front.pem"
openssl x509 -in "$W/front/tls.crt" -noout -text | grep -q "ASN1 OID: prime256v1" ||
	{ echo "the front certificate is not ECDSA P-256" >&2; exit 1; }

UP=$(free_port)
cat >"$W/nginx.conf" <<NGX
worker_processes 1;
pid $W/nginx.pid;
error_log $W/nginx.err;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$UP ssl;
    ssl_certificate $W/up/tls.crt;
    ssl_certificate_key $W/up/tls.key;
    location / { return 200 "ok\n"; }
  }
}
NGX
taskset -c "$CPU_LOAD" nginx -c "$W/nginx.conf" -g 'daemon off;' &
PIDS+=($!)

SL=$(free_port)
cat >"$W/rules.json" <<JSON
{"rules": [{"method": "GET", "path": "/api/.*"}],
 "tls": {"terminating": {"secret": "bench/front"}, "originating": {"secret": "bench/ca"}}}
JSON
taskset -c "$CPU_PROXY" "$PROXY" --listen "127.0.0.1:$SL" --upstream "127.0.0.1:$UP" --rules "$W/rules.json" \
	--access-log off --secret "bench/front:tls.crt=$W/front/tls.crt,tls.key=$W/front/tls.key" \
	--secret "bench/ca:ca.crt=$W/ca/ca.crt" 2>"$W/proxy.err" &
SL_PID=$!
PIDS+=($SL_PID)

HA=$(free_port)
cat >"$W/haproxy.cfg" <<CFG
global
  nbthread 1
  maxconn 8000
  tune.ssl.default-dh-param 2048
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:$HA ssl crt $W/front.pem alpn http/1.1
  acl allowed method GET
  acl api path_reg ^/api/.*
  http-request deny deny_status 403 unless allowed api
  default_backend be
backend be
  server up 127.0.0.1:$UP ssl verify required ca-file $W/ca/ca.crt verifyhost 127.0.0.1 alpn http/1.1
CFG
taskset -c "$CPU_PROXY" haproxy -f "$W/haproxy.cfg" -db >"$W/haproxy.out" 2>&1 &
HA_PID=$!
PIDS+=($HA_PID)
for p in "$UP" "$SL" "$HA"; do wait_port "$p" || { echo "a server did not start" >&2; cat "$W"/*.err "$W/haproxy.out" >&2; exit 1; }; done
[ "$(cat "/proc/$SL_PID/comm")" = sluice-proxy ] && [ "$(cat "/proc/$HA_PID/comm")" = haproxy ] ||
	{ echo "the measured PIDs are not the proxies" >&2; exit 1; }
quota sluice "$SL_PID"
quota haproxy "$HA_PID"

# sanity: the rule holds on both, both verify the upstream, both speak
# HTTP/1.0 without Host (what s_time -www sends)
for p in "$SL" "$HA"; do
	[ "$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$p/api/x")" = 200 ] || { echo "port $p: GET /api/x is not 200" >&2; exit 1; }
	[ "$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$p/admin")" = 403 ] || { echo "port $p: GET /admin is not 403" >&2; exit 1; }
	printf 'GET /api/x HTTP/1.0\r\n\r\n' | timeout 5 openssl s_client -quiet -connect "127.0.0.1:$p" 2>/dev/null |
		head -1 | grep -q "^HTTP/1.[01] 200" || { echo "port $p: HTTP/1.0 GET /api/x is not 200" >&2; exit 1; }
done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
# cpu PID T0 T1 N: "cpu_us_per_op busy_percent"
cpu() {
	awk -v d=$(($3 - $2)) -v hz="$HZ" -v n="$4" -v s="$SECS" \
		'BEGIN { printf "%.1f %.0f", n ? d * 1e6 / hz / n : 0, d * 100 / hz / s }'
}
# keepalive PID PORT: "req_per_s cpu_us_per_req busy%"
keepalive() {
	local pid=$1 port=$2 t0 t1 out reqs
	t0=$(ticks "$pid")
	out=$(taskset -c "$CPU_LOAD" wrk -t1 -c32 -d"${SECS}s" "https://127.0.0.1:$port/api/x" 2>&1)
	t1=$(ticks "$pid")
	reqs=$(echo "$out" | awk '/requests in/ {print $1}')
	grep -q "Non-2xx" <<<"$out" && { echo "wrk: non-2xx answers on port $port" >&2; exit 1; }
	echo "$(awk -v n="$reqs" -v s="$SECS" 'BEGIN { printf "%.0f", n / s }') $(cpu "$pid" "$t0" "$t1" "$reqs")"
}
# handshakes PID PORT [s_time args]: NCLIENT s_time -new at once; "per_s cpu_us_per_op busy%"
handshakes() {
	local pid=$1 port=$2 t0 t1 i n=0 c
	shift 2
	t0=$(ticks "$pid")
	for i in $(seq 1 "$NCLIENT"); do
		taskset -c "$CPU_LOAD" openssl s_time -connect "127.0.0.1:$port" -new -time "$SECS" "$@" \
			>"$W/stime.$i" 2>&1 &
		PIDS+=($!)
	done
	wait "${PIDS[@]: -$NCLIENT}" || true
	t1=$(ticks "$pid")
	for i in $(seq 1 "$NCLIENT"); do
		c=$(awk '/connections in [0-9.]+s;/ {print $1; exit}' "$W/stime.$i")
		[ -n "$c" ] || { echo "s_time failed on port $port: $(cat "$W/stime.$i")" >&2; exit 1; }
		n=$((n + c))
	done
	echo "$(awk -v n="$n" -v s="$SECS" 'BEGIN { printf "%.0f", n / s }') $(cpu "$pid" "$t0" "$t1" "$n")"
}

echo "warming up..." >&2
taskset -c "$CPU_LOAD" wrk -t1 -c4 -d2s "https://127.0.0.1:$SL/api/x" >/dev/null
taskset -c "$CPU_LOAD" wrk -t1 -c4 -d2s "https://127.0.0.1:$HA/api/x" >/dev/null
# (each cell in a command substitution: set -e stops the run if one fails)
v=$(keepalive "$SL_PID" "$SL"); read -r sl_rps sl_cpu sl_busy <<<"$v"
v=$(keepalive "$HA_PID" "$HA"); read -r ha_rps ha_cpu ha_busy <<<"$v"
v=$(handshakes "$SL_PID" "$SL"); read -r sl_hs sl_hs_cpu sl_hs_busy <<<"$v"
v=$(handshakes "$HA_PID" "$HA"); read -r ha_hs ha_hs_cpu ha_hs_busy <<<"$v"
v=$(handshakes "$SL_PID" "$SL" -www /api/x); read -r sl_nc sl_nc_cpu sl_nc_busy <<<"$v"
v=$(handshakes "$HA_PID" "$HA" -www /api/x); read -r ha_nc ha_nc_cpu ha_nc_busy <<<"$v"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
row() { printf '%-40s %13s %13s %7s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"; }
busy() { printf '%-40s %12s%% %12s%%\n' "  proxy CPU busy (% of one core)" "$1" "$2"; }
quota_txt="no CPU quota"
[ "$PROXY_QUOTA" -gt 0 ] && quota_txt="each proxy held to ${PROXY_QUOTA}% of CPU $CPU_PROXY"
echo
echo "TLS on both legs, ECDSA P-256; $quota_txt; clients and nginx on CPU $CPU_LOAD"
printf '%-40s %13s %13s %7s\n' "" "sluice-proxy" "HAProxy" "ratio"
row "keep-alive HTTPS requests/s" "$sl_rps" "$ha_rps"
row "  CPU per request (us)" "$sl_cpu" "$ha_cpu"
busy "$sl_busy" "$ha_busy"
row "full TLS handshakes/s (no request)" "$sl_hs" "$ha_hs"
row "  CPU per handshake (us)" "$sl_hs_cpu" "$ha_hs_cpu"
busy "$sl_hs_busy" "$ha_hs_busy"
row "new connection + request/s" "$sl_nc" "$ha_nc"
row "  CPU per new connection (us)" "$sl_nc_cpu" "$ha_nc_cpu"
busy "$sl_nc_busy" "$ha_nc_busy"
# a cell where a proxy was well below its CPU budget was limited by the
# clients or the machine, not by the proxy: say so
limit=$([ "$PROXY_QUOTA" -gt 0 ] && echo "$PROXY_QUOTA" || echo 100)
for cell in "keep-alive:$sl_busy:$ha_busy" "handshakes:$sl_hs_busy:$ha_hs_busy" "new connection:$sl_nc_busy:$ha_nc_busy"; do
	IFS=: read -r name a b <<<"$cell"
	if [ "$a" -lt $((limit * 85 / 100)) ] || [ "$b" -lt $((limit * 85 / 100)) ]; then
		echo "NOTE: $name: a proxy was below 85% of its CPU budget ($a% / $b% of ${limit}%): the load, not the proxy, set that rate; compare CPU per operation there"
	fi
done
echo
echo "(ratio: sluice / HAProxy; ${SECS}s per cell, wrk -t1 -c32, $NCLIENT x openssl s_time -new;"
echo " $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ))"
