#!/usr/bin/env bash
# run.sh - the L7 path as users pay for it (not in ctest): client pod ->
# server pod through the real path, against the same nginx, in one run.
#
#   sudo tests/bench/l7/run.sh [BUILD_DIR]
#
# Topology: one sluice instance started as the README starts it (agent
# mode: sluiced spawns sluice-proxy; steering by sk_lookup/connect4, the
# sk_msg fast path on; access logs on, on the agent's stdout), its own test
# slot (netns prefix, pod CIDR, metrics port: tests/integration/lib.sh),
# pins, child cgroup. Pods bench/client (wrk) and bench/server (nginx, one
# worker, `return 200`, port 80; HAProxy on port 8080 as a sidecar), both
# entered with `sluice pod exec`, i.e. as sluice pods.
#
# Configurations, interleaved in ROUNDS rounds (medians reported):
#   none      no policy
#   l4        a CiliumNetworkPolicy allowing the client to port 80 (L4 only)
#   l7        the same with an HTTP rule `GET /api/users/.*` (the proxy)
#   haproxy   no sluice policy; HAProxy 2.6 (Debian) in the server pod with
#             the equivalent ACL, one thread, keep-alive to nginx on
#             127.0.0.1:80 (a sidecar; its own access log off)
# Loads (wrk -t1, GET /api/users/42):
#   ka16      16 keep-alive connections, DUR s: req/s
#   c1        one keep-alive connection, DUR s: p50 / p99 latency (wrk)
#   close16   16 connections, `Connection: close`: one connection per request
# CPU per request of the proxy (sluice-proxy, or HAProxy) and of sluiced,
# separately: utime+stime from /proc/PID/stat over the ka16 run / requests;
# and of the whole machine (every process and the kernel: busy ticks of
# /proc/stat), which shows whether a row was bound by CPU or by waiting.
# The response and request splices (proxy/README.md) are on as users run
# them; SLUICE_PROXY_NO_SPLICE=1 in the environment turns both off,
# SLUICE_PROXY_NO_REQ_SPLICE=1 the request splice alone, for a comparison
# (the agent passes them to the proxy).
#
# Then the lossless check (OBSERVE=1, the default): the l7 configuration
# again, keep-alive paced at about 50k requests/s (the rate issue #16 asks
# it at; PACED_CONNS connections, 1 ms between a connection's requests),
# with `sluice observe -o json --follow` attached and
# writing to a file, access logs streamed to the agent's stdout file; the
# requests the proxy counted, the access-log lines, and the L7 request
# flows observe received are compared (they must be equal), plus the
# drop counters (access_dropped, access_log_dropped, flows lost by slow
# observers).
#
# STATIC=1 also runs static.sh (the proxy alone in static mode on loopback,
# against HAProxy and direct): the second table of docs/performance.md.
#
# Environment: DUR (s per wrk run, default 4), ROUNDS (default 3), CONFIGS
# (default "none l4 l7 haproxy"), LOADS (default "ka16 c1 close16"),
# OBSERVE (default 1), STATIC (default 0), OUT (a directory to keep the raw
# results, wrk outputs and agent logs in), PERF=1 (`perf record -a -g` during one
# extra l7 ka16 run, into OUT/perf.data), STRACE=1 (syscalls per request of the
# proxy and the agent during one more l7 run of load STRACE_LOAD, default
# ka16: perf's syscall tracepoints, else strace -c; raw counts in
# OUT/syscalls.*.txt; also the proxy's new upstream connections and pooled
# reuses per request, from its stats).
# Needs: wrk, nginx (nginx-light), haproxy, python3, curl.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
SL_ROOT=$(cd "$HERE/../../.." && pwd)
SL_BUILD=$(cd "${1:-$SL_ROOT/build}" 2>/dev/null && pwd) || { echo "no build dir ${1:-}" >&2; exit 1; }
export SL_BUILD
DUR=${DUR:-4}
ROUNDS=${ROUNDS:-3}
CONFIGS=${CONFIGS:-"none l4 l7 haproxy"}
LOADS=${LOADS:-"ka16 c1 close16"}
OBSERVE=${OBSERVE:-1}
STATIC=${STATIC:-0}

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
for b in "$SL_BUILD/agent/sluiced" "$SL_BUILD/cli/sluice" "$SL_BUILD/proxy/sluice-proxy"; do
	[ -x "$b" ] || { echo "missing $b (cmake --build BUILD --target sluiced sluice sluice-proxy)" >&2; exit 1; }
done
for t in wrk nginx haproxy python3 curl; do
	command -v "$t" >/dev/null || { echo "missing $t (apt-get install -y wrk nginx-light haproxy curl)" >&2; exit 1; }
done
for v in "$DUR" "$ROUNDS"; do
	case "$v" in '' | *[!0-9]*) echo "DUR and ROUNDS are whole numbers" >&2; exit 1 ;; esac
done
if [ "$DUR" -lt 1 ] || [ "$DUR" -gt 60 ] || [ "$ROUNDS" -lt 1 ] || [ "$ROUNDS" -gt 20 ]; then
	echo "DUR 1..60, ROUNDS 1..20" >&2
	exit 1
fi
ulimit -n 65536 2>/dev/null || true

# a test slot, as the integration tests take one (tests/integration/lib.sh)
# shellcheck source=../../integration/lib.sh
source "$SL_ROOT/tests/integration/lib.sh"
IDX=$(t_claim_slot) || { echo "no free test slot" >&2; exit 1; }
T_SLOT_LOCK=/tmp/sluice-it-slot-$IDX
echo $$ >"$T_SLOT_LOCK/pid"
# shellcheck disable=SC2034 # read by standalone.sh
SL_NSPFX="bl${IDX}-"
SL_METRICS_PORT=$((19000 + IDX))
SL_WORK=/tmp/sluice-bench-l7-$$
sl_instance_init "bench-l7-$$" "10.244.$IDX.0/24"

NGINX_PID=
HAP_PID=
bench_cleanup() {
	if [ -n "${OUT:-}" ]; then
		mkdir -p "$OUT"
		cp "$SL_WORK"/results "$SL_WORK"/wrk.log "$SL_AGENT_LOG" "$SL_WORK"/observe.* "$SL_WORK"/haproxy.log "$SL_WORK"/nginx/error.log "$OUT"/ 2>/dev/null
	fi
	for p in $NGINX_PID $HAP_PID; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	sl_cleanup
	rm -rf "$SL_WORK"
	rm -rf "$T_SLOT_LOCK"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

sl_agent_start || exit 1

SERVER_IP=$(sl pod create bench/server --labels app=bench-server --port http=80/TCP) || exit 1
CLIENT_IP=$(sl pod create bench/client --labels app=bench-client) || exit 1
in_pod() { local p=$1; shift; "$SL_BUILD/cli/sluice" --socket "$SL_SOCK" pod exec "bench/$p" -- "$@"; }

# ---- servers ----------------------------------------------------------------

# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
bench_nginx_conf "$SL_WORK/nginx" 80
# HAProxy as a sidecar: on the pod's address, port 8080, to nginx on loopback
bench_haproxy_acl "$SERVER_IP:8080" 127.0.0.1:80 >"$SL_WORK/haproxy.cfg"

code_of() { # URL -> HTTP status seen from the client pod (000: none)
	in_pod client curl -s -o /dev/null -w '%{http_code}' --connect-timeout 1 -m 3 "$1"
}
# `sluice pod exec` execs its command: HAP_PID is HAProxy itself (its CPU time)
"$SL_BUILD/cli/sluice" --socket "$SL_SOCK" pod exec bench/server -- \
	nginx -e "$SL_WORK/nginx/error.log" -p "$SL_WORK/nginx" -c "$SL_WORK/nginx/nginx.conf" &
NGINX_PID=$!
"$SL_BUILD/cli/sluice" --socket "$SL_SOCK" pod exec bench/server -- \
	haproxy -db -f "$SL_WORK/haproxy.cfg" >"$SL_WORK/haproxy.log" 2>&1 &
HAP_PID=$!
up=
for _ in $(seq 1 100); do
	[ "$(code_of "http://$SERVER_IP/api/users/42")" = 200 ] &&
		[ "$(code_of "http://$SERVER_IP:8080/api/users/42")" = 200 ] && { up=1; break; }
	sleep 0.1
done
[ -n "$up" ] || { echo "nginx or haproxy in bench/server does not answer:" >&2; cat "$SL_WORK/haproxy.log" "$SL_WORK/nginx/error.log" >&2; exit 1; }
HAP_PROC=$HAP_PID
# (a build from before pod exec exec'd: HAProxy is its child)
[ "$(cat "/proc/$HAP_PROC/comm" 2>/dev/null)" = haproxy ] || HAP_PROC=$(pgrep -P "$HAP_PID" haproxy | head -1)
[ -n "$HAP_PROC" ] || { echo "no haproxy process at or under $HAP_PID" >&2; exit 1; }

# ---- policies -----------------------------------------------------------------

policy_yaml() { # l4|l7
	cat <<EOF
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: bench, namespace: bench}
spec:
  endpointSelector: {matchLabels: {app: bench-server}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: bench-client}}]
    toPorts:
    - ports: [{port: "80", protocol: TCP}, {port: "8080", protocol: TCP}]
EOF
	[ "$1" = l7 ] && cat <<'EOF'
      rules:
        http:
        - {method: GET, path: "/api/users/.*"}
EOF
	return 0
}

# config_set NAME : puts the configuration in force and checks that it is
# the one enforcing (the ACL answers 200/403 where it should)
config_set() {
	local want_admin=200 url_base="http://$SERVER_IP"
	case $1 in
	none | haproxy) sl policy delete bench/bench >/dev/null 2>&1 ;;
	l4) policy_yaml l4 | sl policy apply -f - >/dev/null || return 1 ;;
	l7) policy_yaml l7 | sl policy apply -f - >/dev/null || return 1; want_admin=403 ;;
	esac
	[ "$1" = haproxy ] && { url_base="http://$SERVER_IP:8080"; want_admin=403; }
	URL="$url_base/api/users/42"
	local a d
	for _ in $(seq 1 50); do
		a=$(code_of "$URL")
		d=$(code_of "$url_base/admin")
		[ "$a $d" = "200 $want_admin" ] && return 0
		sleep 0.1
	done
	echo "config $1: GET /api/users/42 -> $a, /admin -> $d (want 200 $want_admin)" >&2
	return 1
}

proxy_pid() { sl status -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["proxy"].get("pid",0))'; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# the whole machine's busy ticks (all CPUs, everything but idle and iowait)
busy() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
HZ=$(getconf CLK_TCK)

# wrk_run LOAD : prints "requests req_per_s p50_us p99_us errors"
wrk_run() {
	local args out
	case $1 in
	ka16) args=(-c16) ;;
	c1) args=(-c1) ;;
	close16) args=(-c16 -H "Connection: close") ;;
	# about 50k requests/s, the rate the lossless check is asked at: each
	# connection waits 1 ms between its requests (wrk's delay())
	paced)
		echo 'function delay() return 1 end' >"$SL_WORK/paced.lua"
		args=(-c"${PACED_CONNS:-104}" -s "$SL_WORK/paced.lua") ;;
	esac
	out=$(timeout $((DUR + 20)) "$SL_BUILD/cli/sluice" --socket "$SL_SOCK" pod exec bench/client -- \
		wrk -t1 "${args[@]}" -d"${DUR}s" --timeout 2s --latency "$URL" 2>&1)
	printf '== %s %s\n%s\n' "$CONF" "$1" "$out" >>"$SL_WORK/wrk.log"
	python3 - "$out" <<'PY'
import re, sys
t = sys.argv[1]
def lat(p):
    m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % p, t, re.M)
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)] if m else -1
m = re.search(r"(\d+) requests in", t)
r = re.search(r"Requests/sec:\s+([\d.]+)", t)
e = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
s = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
errs = (int(e.group(1)) if e else 0) + (sum(int(x) for x in s.groups()) if s else 0)
print(m.group(1) if m else 0, r.group(1) if r else 0, lat(50), lat(99), errs)
PY
}

# measure CONF LOAD : one wrk run, with CPU of the proxy and the agent
measure() {
	local conf=$1 load=$2 ppid a0 a1 p0 p1 out
	CONF=$conf
	if [ "$conf" = haproxy ]; then ppid=$HAP_PROC; else ppid=$(proxy_pid); fi
	a0=$(ticks "$SL_AGENT_PID")
	p0=$(ticks "$ppid")
	m0=$(busy)
	out=$(wrk_run "$load")
	m1=$(busy)
	a1=$(ticks "$SL_AGENT_PID")
	p1=$(ticks "$ppid")
	# conf load round requests rps p50 p99 errors proxy_ticks agent_ticks machine_ticks
	echo "$conf $load $ROUND $out $((p1 - p0)) $((a1 - a0)) $((m1 - m0))" >>"$SL_WORK/results"
}

echo "sluice L7 bench: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), DUR=${DUR}s, ROUNDS=$ROUNDS, $(date -u +%FT%TZ)"
echo "server pod $SERVER_IP (nginx $(nginx -v 2>&1 | sed 's/.*\///'), haproxy $(haproxy -v | head -1 | awk '{print $3}')), client pod $CLIENT_IP"
: >"$SL_WORK/results"
for ROUND in $(seq 1 "$ROUNDS"); do
	for conf in $CONFIGS; do
		config_set "$conf" || exit 1
		# warm-up, not counted
		CONF=$conf wrk_run ka16 >/dev/null
		for load in $LOADS; do
			measure "$conf" "$load"
		done
	done
	echo "round $ROUND done (load $(cut -d' ' -f1 /proc/loadavg))"
done

if [ "${PERF:-0}" = 1 ] && [ -n "${OUT:-}" ] && command -v perf >/dev/null; then
	mkdir -p "$OUT"
	config_set l7 || exit 1
	CONF=l7
	# the whole machine (kernel work lands on the process it is done for);
	# read with: perf report -i OUT/perf.data --comm sluice-proxy (or sluiced)
	# (it covers the wrk run with a margin: perf takes a while to start
	# on a loaded machine)
	perf record -a -g -o "$OUT/perf.data" -- sleep $((DUR + 6)) >/dev/null 2>&1 &
	pp=$!
	sleep 3
	wrk_run ka16 >/dev/null
	wait $pp
fi

if [ "${STRACE:-0}" = 1 ] && [ -n "${OUT:-}" ]; then
	# Syscalls per request of the proxy and the agent during one l7 ka16
	# run: counted by the kernel's syscall tracepoints (perf stat -p: exact,
	# and without ptrace's slowdown, which changes how much each epoll
	# wake-up batches), else by strace -c -f.
	mkdir -p "$OUT"
	config_set l7 || exit 1
	CONF=l7
	# per request = calls / the requests wrk made. The counters run for a
	# fixed time that covers the whole wrk run with a margin each side (a
	# backgrounded tracer is not stopped reliably by SIGINT from a script,
	# and perf can take seconds to set up on a loaded machine); the idle
	# proxy and agent make a few calls a second, against thousands.
	if command -v perf >/dev/null && perf stat -e raw_syscalls:sys_enter -- true >/dev/null 2>&1; then
		how="perf stat, syscall tracepoints"
		ev=raw_syscalls:sys_enter
		for sc in read write readv writev epoll_wait epoll_ctl sendmsg recvmsg sendto recvfrom bpf connect accept4 close shutdown setsockopt socket setns; do
			ev=$ev,syscalls:sys_enter_$sc
		done
		perf stat -x, -e "$ev" -o "$OUT/syscalls.proxy.txt" -p "$(proxy_pid)" -- sleep $((DUR + 8)) &
		sp=$!
		perf stat -x, -e "$ev" -o "$OUT/syscalls.agent.txt" -p "$SL_AGENT_PID" -- sleep $((DUR + 8)) &
		sa=$!
	else
		how="strace -c -f"
		timeout -s INT $((DUR + 8)) strace -f -c -o "$OUT/syscalls.proxy.txt" -p "$(proxy_pid)" &
		sp=$!
		timeout -s INT $((DUR + 8)) strace -f -c -o "$OUT/syscalls.agent.txt" -p "$SL_AGENT_PID" &
		sa=$!
	fi
	up_stats() { sl status -o json | python3 -c 'import json,sys; p=json.load(sys.stdin)["proxy"]; print(p.get("upstream_connects",0), p.get("upstream_reused",0))'; }
	read -r uc0 ur0 <<<"$(up_stats)"
	sleep 4
	out=$(wrk_run "${STRACE_LOAD:-ka16}")
	wait $sp $sa
	read -r uc1 ur1 <<<"$(up_stats)"
	echo "upstream connections during l7 ${STRACE_LOAD:-ka16}: $((uc1 - uc0)) new, $((ur1 - ur0)) pooled reuses (wrk made ${out%% *} requests)"
	echo "syscalls during l7 ${STRACE_LOAD:-ka16} ($how; wrk made ${out%% *} requests), per request:"
	for w in proxy agent; do
		python3 - "$OUT/syscalls.$w.txt" "${out%% *}" "$w" <<'PY'
import sys
path, n, who = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = []
for l in open(path):
    f = l.split(",")
    if len(f) > 2 and f[0].strip().isdigit():  # perf stat -x,
        name = f[2].split(":")[-1].replace("sys_enter_", "").replace("sys_enter", "all syscalls")
        rows.append((name, int(f[0])))
    else:  # strace -c
        g = l.split()
        if len(g) >= 5 and g[3].isdigit() and g[-1] != "total":
            rows.append((g[-1], int(g[3])))
        elif len(g) >= 4 and g[-1] == "total":
            rows.append(("all syscalls", int(g[-2] if not g[-2].isdigit() or len(g) == 4 else g[3])))
for name, k in rows:
    if k:
        print("  %s %-14s %.3f" % (who, name, k / n if n else float("nan")))
PY
	done
fi

python3 - "$SL_WORK/results" "$HZ" "$CONFIGS" "$LOADS" <<'PY'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
hz = float(sys.argv[2]); confs = sys.argv[3].split(); loads = sys.argv[4].split()
def med(xs): return st.median(xs) if xs else float("nan")
R = {}
for c, load, rnd, n, rps, p50, p99, errs, pt, at, mt in rows:
    R.setdefault((c, load), []).append(dict(n=int(n), rps=float(rps), p50=float(p50), p99=float(p99),
                                            errs=int(errs), pt=int(pt), at=int(at), mt=int(mt)))
def cell(c, load, k):
    return med([r[k] for r in R.get((c, load), [])])
def cpu(c, which):
    # µs of CPU per request over the keep-alive c16 runs (sum of ticks / sum of requests)
    rs = R.get((c, "ka16"), [])
    n = sum(r["n"] for r in rs)
    return sum(r[which] for r in rs) * 1e6 / hz / n if n else float("nan")
names = {"none": "no policy", "l4": "L4 policy only", "l7": "L7 rule GET /api/users/.* (sluice proxy)",
         "haproxy": "HAProxy sidecar in the server pod, same ACL"}
base = lambda load: cell("none", load, "rps")
print()
print("| path | ka c16 req/s | vs no policy | close c16 req/s | vs no policy | c1 p50 / p99 (us) | proxy CPU us/req | agent CPU us/req | machine CPU us/req | errors |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for c in confs:
    ka, cl = cell(c, "ka16", "rps"), cell(c, "close16", "rps")
    errs = sum(r["errs"] for k, v in R.items() if k[0] == c for r in v)
    pc = cpu(c, "pt") if c in ("l7", "haproxy") else float("nan")
    ac = cpu(c, "at")
    print("| %s | %.0f | %.2f | %.0f | %.2f | %.0f / %.0f | %s | %.2f | %.2f | %d |" % (
        names.get(c, c), ka, ka / base("ka16") if "ka16" in loads else float("nan"),
        cl, cl / base("close16") if "close16" in loads else float("nan"),
        cell(c, "c1", "p50"), cell(c, "c1", "p99"),
        "-" if pc != pc else "%.2f" % pc, ac, cpu(c, "mt"), errs))
print()
if "l7" in confs and "none" in confs:
    l7, no = cell("l7", "ka16", "rps"), cell("none", "ka16", "rps")
    print("targets: L7 ka c16 >= 0.75x no policy: %.2fx" % (l7 / no))
    if "haproxy" in confs:
        print("         L7 vs HAProxy sidecar (ka c16): %.2fx (>= 1.5x wanted)" % (l7 / cell("haproxy", "ka16", "rps")))
    print("         proxy + agent CPU per L7 request: %.2f us (<= 8 wanted)" % (cpu("l7", "pt") + cpu("l7", "at")))
    print("         unloaded p50 over no policy: %+.0f us (<= +10 wanted)" % (cell("l7", "c1", "p50") - cell("none", "c1", "p50")))
PY

# ---- nothing lost: access log, observe and the proxy's counters -------------------
if [ "$OBSERVE" = 1 ]; then
	config_set l7 || exit 1
	CONF=l7
	sleep 1.2 # the proxy's stats are at most 1 s old
	px0=$(sl status -o json | python3 -c 'import json,sys; p=json.load(sys.stdin)["proxy"]; print(p.get("requests_allowed",0)+p.get("requests_denied",0)+p.get("requests_error",0), p.get("responses_spliced",0))')
	log0=$(grep -c '"method"' "$SL_AGENT_OUT")
	"$SL_BUILD/cli/sluice" --socket "$SL_SOCK" observe -o json --follow --type l7 >"$SL_WORK/observe.json" 2>"$SL_WORK/observe.err" &
	OBS_PID=$!
	SL_PIDS+=("$OBS_PID")
	sleep 0.5
	out=$(wrk_run paced)
	sleep 2 # let the stats, the log and the stream settle
	st=$(sl status -o json)
	kill -TERM "$OBS_PID" 2>/dev/null
	wait "$OBS_PID" 2>/dev/null
	python3 - "$st" "$px0" "$log0" "$SL_AGENT_OUT" "$SL_WORK/observe.json" "$out" "$DUR" <<'PY'
import json, sys
st = json.loads(sys.argv[1]); px0, spl0 = map(int, sys.argv[2].split()); log0 = int(sys.argv[3])
p = st["proxy"]
proxy_n = p.get("requests_allowed", 0) + p.get("requests_denied", 0) + p.get("requests_error", 0) - px0
log_n = sum(1 for l in open(sys.argv[4]) if '"method"' in l) - log0
req = resp = bad = 0
for l in open(sys.argv[5]):
    try:
        f = json.loads(l)["flow"]
    except Exception:
        bad += 1
        continue
    t = f.get("l7", {}).get("type")
    req += t == "REQUEST"
    resp += t == "RESPONSE"
wrk_n, rps = int(sys.argv[6].split()[0]), float(sys.argv[6].split()[1])
print()
print("lossless check (L7 rule, keep-alive paced at about 50k req/s, observe -o json --follow attached, %s s):" % sys.argv[7])
print("  wrk completed %d requests (%.0f req/s)" % (wrk_n, rps))
print("  proxy counted %d, access log lines %d, observe REQUEST flows %d, RESPONSE flows %d%s" % (
    proxy_n, log_n, req, resp, ", %d unreadable lines" % bad if bad else ""))
print("  of them, responses the kernel sent straight to the client (the response splice): %d" % (
    p.get("responses_spliced", 0) - spl0))
print("  access_dropped %s, access_log_dropped %s, flows lost by slow observers %s, datapath events lost %s" % (
    p.get("access_dropped"), p.get("access_log_dropped"), st.get("flows_lost_by_slow_observers"),
    st.get("events_lost")))
ok = proxy_n == log_n == req == resp and proxy_n >= wrk_n and not p.get("access_dropped") \
    and not p.get("access_log_dropped") \
    and not st.get("flows_lost_by_slow_observers") and not bad
print("  " + ("nothing lost" if ok else "RECORDS LOST OR MISCOUNTED"))
sys.exit(0 if ok else 3)
PY
	LOSSLESS=$?
fi

if [ "$STATIC" = 1 ]; then
	echo
	echo "static mode (the proxy alone, loopback):"
	"$HERE/static.sh" "$SL_BUILD" --seconds "$DUR"
fi
exit "${LOSSLESS:-0}"
