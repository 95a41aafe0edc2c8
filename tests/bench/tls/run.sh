#!/usr/bin/env bash
# tests/bench/tls/run.sh BUILD_DIR [SECONDS] - sluice-proxy vs HAProxy, both
# terminating TLS (ECDSA P-256 certificate from certs/), applying one HTTP
# rule (GET /api/.*, anything else 403) and re-originating TLS to an nginx
# upstream they verify against the test CA. On loopback, one process and
# one thread each (HAProxy nbthread 1; sluice-proxy is one libuv loop).
#
# Measures, with wrk (2 threads, 32 connections):
#   keep-alive HTTPS requests/s, and CPU per request (the proxy's own
#   utime+stime from /proc over the run, divided by the requests served);
#   handshakes/s: every request on a new connection (Connection: close),
#   so each one is a full ECDSA P-256 handshake with the client.
# Prints a table and the sluice/HAProxy ratios. Keys are made fresh in a
# temporary folder and removed on exit; every process is killed by PID.
set -euo pipefail
BUILD=${1:?usage: run.sh BUILD_DIR [SECONDS]}
SECS=${2:-10}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
PROXY=$BUILD/proxy/sluice-proxy
for b in wrk haproxy nginx openssl "$PROXY"; do
	command -v "$b" >/dev/null || { echo "missing: $b (scripts/install-deps.sh)" >&2; exit 1; }
done
W=$(mktemp -d /tmp/sluice-bench-tls-XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$W"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

"$ROOT/certs/make-ca.sh" "$W/ca" >/dev/null
"$ROOT/certs/make-leaf.sh" "$W/ca" "$W/front" bench.test 127.0.0.1 >/dev/null
"$ROOT/certs/make-leaf.sh" "$W/ca" "$W/up" 127.0.0.1 >/dev/null
cat "$W/front/tls.crt" "$W/front/tls.key" >"$W/front.pem"

UP=$(free_port)
cat >"$W/nginx.conf" <<NGX
worker_processes 1;
pid $W/nginx.pid;
error_log $W/nginx.err;
events { worker_connections 4096; }
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
nginx -c "$W/nginx.conf" -g 'daemon off;' &
PIDS+=($!)

SL=$(free_port)
cat >"$W/rules.json" <<JSON
{"rules": [{"method": "GET", "path": "/api/.*"}],
 "tls": {"terminating": {"secret": "bench/front"}, "originating": {"secret": "bench/ca"}}}
JSON
"$PROXY" --listen "127.0.0.1:$SL" --upstream "127.0.0.1:$UP" --rules "$W/rules.json" \
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
haproxy -f "$W/haproxy.cfg" -db >"$W/haproxy.out" 2>&1 &
HA_PID=$!
PIDS+=($HA_PID)
for p in "$UP" "$SL" "$HA"; do wait_port "$p" || { echo "a server did not start" >&2; cat "$W"/*.err "$W/haproxy.out" >&2; exit 1; }; done

# sanity: the rule holds on both, and both verify the upstream
for p in "$SL" "$HA"; do
	[ "$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$p/api/x")" = 200 ] || { echo "port $p: GET /api/x is not 200" >&2; exit 1; }
	[ "$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$p/admin")" = 403 ] || { echo "port $p: GET /admin is not 403" >&2; exit 1; }
done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
# run NAME PID PORT [wrk args]: prints "requests req_per_s cpu_us_per_req"
run() {
	local pid=$1 port=$2 t0 t1 out reqs rps
	shift 2
	t0=$(ticks "$pid")
	out=$(wrk -t2 -c32 -d"${SECS}s" "$@" "https://127.0.0.1:$port/api/x" 2>&1)
	t1=$(ticks "$pid")
	reqs=$(echo "$out" | awk '/requests in/ {print $1}')
	rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
	echo "$reqs $rps $(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="$reqs" 'BEGIN { printf "%.1f", n ? d * 1e6 / hz / n : 0 }')"
}
echo "warming up..." >&2
wrk -t1 -c4 -d2s "https://127.0.0.1:$SL/api/x" >/dev/null
wrk -t1 -c4 -d2s "https://127.0.0.1:$HA/api/x" >/dev/null
read -r _ sl_rps sl_cpu <<<"$(run "$SL_PID" "$SL")"
read -r _ ha_rps ha_cpu <<<"$(run "$HA_PID" "$HA")"
read -r _ sl_hs sl_hs_cpu <<<"$(run "$SL_PID" "$SL" -H 'Connection: close')"
read -r _ ha_hs ha_hs_cpu <<<"$(run "$HA_PID" "$HA" -H 'Connection: close')"

printf '\n%-34s %14s %14s %8s\n' "TLS on both legs, ECDSA P-256" "sluice-proxy" "HAProxy 2.6" "ratio"
printf '%-34s %14s %14s %8s\n' "keep-alive HTTPS requests/s" "$sl_rps" "$ha_rps" "$(awk -v a="$sl_rps" -v b="$ha_rps" 'BEGIN{printf "%.2f", a/b}')"
printf '%-34s %14s %14s %8s\n' "CPU per request (us)" "$sl_cpu" "$ha_cpu" "$(awk -v a="$sl_cpu" -v b="$ha_cpu" 'BEGIN{printf "%.2f", b ? a/b : 0}')"
printf '%-34s %14s %14s %8s\n' "new connection per request/s" "$sl_hs" "$ha_hs" "$(awk -v a="$sl_hs" -v b="$ha_hs" 'BEGIN{printf "%.2f", a/b}')"
printf '%-34s %14s %14s %8s\n' "  CPU per handshake+request (us)" "$sl_hs_cpu" "$ha_hs_cpu" "$(awk -v a="$sl_hs_cpu" -v b="$ha_hs_cpu" 'BEGIN{printf "%.2f", b ? a/b : 0}')"
echo
echo "(ratio: sluice / HAProxy; wrk -t2 -c32 -d${SECS}s on $(nproc) cores, $(date -u +%F))"
