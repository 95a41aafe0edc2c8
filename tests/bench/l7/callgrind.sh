#!/usr/bin/env bash
# callgrind.sh - user-space instructions per proxied request (not in ctest):
# sluice-proxy in static mode under valgrind's callgrind, nginx (`return
# 200`) upstream on loopback, the access log on (to a file), wrk keep-alive.
#
#   tests/bench/l7/callgrind.sh [BUILD_DIR] [--seconds N] [--conns N] [--out DIR]
#
# Instruction counts do not depend on the machine's load (unlike time), so
# this is the measurement to compare builds with on a shared machine. The
# counters are zeroed after a warm-up (callgrind_control -z) and dumped
# after the measured run; requests = access-log lines written in between.
# Prints the instructions per request in all and by group (llhttp, the
# scanner and checks in http_conn.c, path canonicalisation, rule matching
# and PCRE2, access-log formatting, memcpy/memmove, malloc/free, libuv,
# syscall wrappers and the rest of libc, the rest of the proxy). --out
# keeps callgrind.out and the per-function table (callgrind_annotate).
# Needs: valgrind, wrk, nginx (nginx-light), python3.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$here/../../../build
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
	build=$1
	shift
fi
secs=6
conns=16
out=
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) secs=$2; shift 2 ;;
	--conns) conns=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	*) echo "usage: $0 [BUILD_DIR] [--seconds N] [--conns N] [--out DIR]" >&2; exit 2 ;;
	esac
done
proxy=$build/proxy/sluice-proxy
[ -x "$proxy" ] || { echo "$0: no $proxy" >&2; exit 1; }
for t in valgrind callgrind_control callgrind_annotate wrk nginx python3; do
	command -v $t >/dev/null || { echo "$0: $t not found" >&2; exit 1; }
done

# shellcheck source=../lib.sh
source "$here/../lib.sh"
bench_workdir sluice-bench-cg

ORIGIN=$(bench_free_port)
SLP=$(bench_free_port)
bench_nginx_conf "$work/nginx" "127.0.0.1:$ORIGIN"
cat >"$work/rules.json" <<'EOF'
{"rules": [{"method": "GET", "path": "/api/users/.*"}]}
EOF

nginx -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" >/dev/null 2>&1 &
pids+=($!)
valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
	"$proxy" --listen 127.0.0.1:$SLP --upstream 127.0.0.1:$ORIGIN --rules "$work/rules.json" \
	--access-log "$work/access.log" >"$work/proxy.log" 2>&1 &
VG=$!
pids+=($VG)
bench_wait_port $ORIGIN
bench_wait_port $SLP 1200
lines() { wc -l <"$work/access.log"; }

url="http://127.0.0.1:$SLP/api/users/42"
wrk -c"$conns" -t1 -d2s "$url" >/dev/null 2>&1 # warm-up
sleep 0.5
callgrind_control -z $VG >/dev/null
n0=$(lines)
wrk -c"$conns" -t1 -d"${secs}s" "$url" >"$work/wrk.out" 2>&1
sleep 0.5
callgrind_control -d $VG >/dev/null
n1=$(lines)
sleep 0.5
reqs=$((n1 - n0))
dump=$(ls "$work"/cg.out.* 2>/dev/null | sort | tail -1)
[ -n "$dump" ] || { echo "$0: no callgrind dump" >&2; exit 1; }
[ "$reqs" -gt 0 ] || { echo "$0: no requests" >&2; exit 1; }
callgrind_annotate --threshold=100 "$dump" >"$work/annotate.txt"
if [ -n "$out" ]; then
	mkdir -p "$out"
	cp "$dump" "$out/callgrind.out"
	cp "$work/annotate.txt" "$out/annotate.txt"
fi
grep -q "Non-2xx" "$work/wrk.out" && { echo "$0: wrk saw errors:" >&2; cat "$work/wrk.out" >&2; exit 1; }
python3 - "$work/annotate.txt" "$reqs" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
reqs = int(sys.argv[2])
# the function table: after the "file:function" header, up to a blank line
i = next(k for k, l in enumerate(lines) if l.rstrip().endswith("file:function")) + 2
rows = []
for l in lines[i:]:
    m = re.match(r"\s*([\d,]+) \([^)]*\)\s+(.*?):(\S.*?)(?: \[(.*)\])?\s*$", l)
    if not m:
        break
    rows.append((int(m.group(1).replace(",", "")), m.group(2), m.group(3), m.group(4) or ""))
total = next(int(l.split()[0].replace(",", "")) for l in lines if "PROGRAM TOTALS" in l)
# frames on the stack when the counters were zeroed (main, uv_run's
# callers) show their inclusive cost: leave them out
rows = [r for r in rows if r[0] < 0.9 * total]
groups = [
    ("llhttp", lambda f, fn, o: "llhttp" in f),
    ("http_conn.c (scanner, checks, glue)", lambda f, fn, o: f.endswith("http_conn.c")),
    ("path canonicalisation", lambda f, fn, o: f.endswith("path.c")),
    ("rules + PCRE2 (JIT code incl.)", lambda f, fn, o: f.endswith("rules.c") or "pcre2" in o or o == "???"),
    ("access-log line", lambda f, fn, o: f.endswith("access_log.c")),
    ("log sink", lambda f, fn, o: f.endswith("log_sink.c")),
    ("memcpy/memmove/memset/memchr", lambda f, fn, o: re.search(r"mem(cpy|move|set|chr|rchr|cmp)", fn) is not None),
    ("malloc/free", lambda f, fn, o: re.search(r"malloc|free|realloc|calloc|_int_|tcache", fn) is not None),
    ("libuv", lambda f, fn, o: "libuv" in o),
    ("proxy.c", lambda f, fn, o: f.endswith("proxy.c")),
    ("libc other (syscall wrappers, clock, str*)", lambda f, fn, o: "libc.so" in o),
]
tot = {}
other = []
for ir, f, fn, o in rows:
    for name, pred in groups:
        if pred(f, fn, o):
            tot[name] = tot.get(name, 0) + ir
            break
    else:
        tot["other"] = tot.get("other", 0) + ir
        other.append((ir, f, fn, o))
print("requests measured: %d" % reqs)
print("user-space instructions per request: %.0f" % (total / reqs))
for name, _ in groups + [("other", None)]:
    v = tot.get(name, 0)
    print("  %-44s %7.0f  %4.1f %%" % (name, v / reqs, 100.0 * v / total))
other.sort(reverse=True)
for ir, f, fn, o in other[:5]:
    print("    other: %7.0f  %s:%s [%s]" % (ir / reqs, f, fn, o))
PY
