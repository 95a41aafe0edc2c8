# shellcheck shell=bash
# lib.sh - helpers for integration scenarios: one agent per test with its
# own pins, cgroup, namespaces and CIDR, real pods, real connections, and a
# cleanup that runs on success, failure and interruption.
set -u

# Debian's python3 (and tools) before anything a user put first: a pyenv
# shim forks about ten scripts per call (1.6 s under load against 0.23 s),
# and a scenario calls python3 hundreds of times (probe.py per check)
case ":$PATH:" in
:/usr/bin:*) ;;
*) PATH=/usr/bin:/bin:/usr/sbin:/sbin:$PATH ;;
esac

SL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SL_BUILD=${SL_BUILD:-$SL_ROOT/build}
# shellcheck source=../../scripts/standalone.sh
source "$SL_ROOT/scripts/standalone.sh"
TOOLS=$SL_ROOT/tests/tools

PASSED=0
FAILED=0
T_NAME=$(basename "$0" .sh)

# Picks a free slot (netns prefix, pod CIDR, metrics port) for this test, so
# scenarios running at the same time on one kernel never collide; a slot
# whose owner died is taken over, and what the dead run left (a run killed
# by a ctest timeout never reaches its cleanup) is removed first
# (t_slot_reclaim). The check-and-take runs under one lock, so two claimers
# never reclaim, or take, the same slot. t_claim_slot IDX tries only IDX
# (tests/integration/test_slot_reclaim.sh).
T_SLOTS_LOCK=/tmp/sluice-it-slots.lock
t_claim_slot() {
	local try idx lock owner fd tries=400
	[ -n "${1:-}" ] && tries=1
	exec {fd}>>"$T_SLOTS_LOCK"
	for try in $(seq 1 "$tries"); do
		idx=${1:-$(( (RANDOM % 200) + 20 ))}
		lock=/tmp/sluice-it-slot-$idx
		flock -w 60 "$fd" || continue
		if mkdir "$lock" 2>/dev/null; then
			t_slot_owner "$lock"
			# a free index may still have a dead run's netns and routes:
			# an older checkout's claimer removes a dead owner's lock
			# without its leftovers (what carries the index is ours now)
			t_slot_reclaim "$idx" "$lock/owns.none" 0 >&2
			flock -u "$fd"
			exec {fd}>&-
			echo "$idx"
			return 0
		fi
		owner=$(cat "$lock/pid" 2>/dev/null)
		if [ -n "$owner" ] && ! t_owner_alive "$lock"; then
			# ours now: the pid first (a claimer that does not take the
			# lock, an older checkout's, sees a live owner), then the
			# dead run's leftovers
			mv -f "$lock/owns" "$lock/owns.dead" 2>/dev/null
			t_slot_owner "$lock"
			t_slot_reclaim "$idx" "$lock/owns.dead" "$owner" >&2
			rm -f "$lock/owns.dead"
			flock -u "$fd"
			exec {fd}>&-
			echo "$idx"
			return 0
		fi
		flock -u "$fd"
	done
	exec {fd}>&-
	return 1
}

# t_reclaim_dead_slots: every slot whose owner died is reclaimed and given
# back (tests/run.sh after ctest: a scenario killed by ctest's timeout
# leaves its slot until that index is drawn again, which may be never).
# Prints what it removed.
t_reclaim_dead_slots() {
	local lock idx owner fd
	exec {fd}>>"$T_SLOTS_LOCK"
	for lock in /tmp/sluice-it-slot-*; do
		idx=${lock#/tmp/sluice-it-slot-}
		[[ $idx =~ ^[0-9]+$ ]] && [ -d "$lock" ] || continue
		flock -w 60 "$fd" || continue
		owner=$(cat "$lock/pid" 2>/dev/null)
		if [ -n "$owner" ] && ! t_owner_alive "$lock"; then
			t_slot_reclaim "$idx" "$lock/owns" "$owner"
			rm -rf "$lock"
		fi
		flock -u "$fd"
	done
	exec {fd}>&-
	return 0
}

# The owner of a slot or world lock DIR: DIR/pid (only the PID: older
# checkouts read it so), and DIR/start, the process's start time in clock
# ticks (/proc/PID/stat field 22), so that a PID used again by another
# process does not keep a dead run's lock alive. Older locks have no start.
t_slot_owner() {
	rm -f "$1/start"
	echo $$ >"$1/pid"
	t_pid_start $$ >"$1/start"
}
t_pid_start() { awk '{sub(/^.*\) /, ""); print $20}' "/proc/$1/stat" 2>/dev/null; }
t_owner_alive() {
	local pid start
	pid=$(cat "$1/pid" 2>/dev/null)
	start=$(cat "$1/start" 2>/dev/null)
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
	[ -z "$start" ] || [ "$(t_pid_start "$pid")" = "$start" ]
}

# t_slot_own KEY VALUE...: records in this run's slot what it made, for
# t_slot_reclaim should the run die before its cleanup: nspfx PREFIX,
# pin DIR, cgroup DIR, work DIR, route CIDR, proc PID CMDLINE-PART.
t_slot_own() {
	[ -n "${T_SLOT_LOCK:-}" ] && [ -d "$T_SLOT_LOCK" ] || return 0
	[ "$(cat "$T_SLOT_LOCK/pid" 2>/dev/null)" = $$ ] || return 0
	echo "$*" >>"$T_SLOT_LOCK/owns"
}

# pid_cmdline PID: the process's arguments, separated by spaces
pid_cmdline() { tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline"; }

# kill_recorded PID CMDLINE-PART: SIGKILL to PID only while its command line
# still has CMDLINE-PART (the PID may be another process's by now)
kill_recorded() {
	[[ $1 =~ ^[0-9]+$ ]] && [ "$1" -gt 1 ] && [ -n "$2" ] || return 0
	case "$(pid_cmdline "$1")" in *"$2"*) kill -KILL "$1" 2>/dev/null ;; esac
	return 0
}

# t_slot_reclaim IDX OWNS DEAD_PID: removes what the dead run that held slot
# IDX recorded in OWNS (t_slot_own), and only what carries that slot's own
# names: netns under its prefix (which ends in IDX-), pin and cgroup
# directories named after the dead PID or IDX, work directories after the
# dead PID, blackhole routes of 10.244.IDX and
# 10.96.IDX, processes by recorded PID whose command line still matches, and
# the world indexes (sl_world_claim) the dead PID held. A slot of an older
# checkout has no OWNS: its prefix it<IDX>- and its routes are still known.
t_slot_reclaim() {
	local idx=$1 owns=$2 dead=$3 key a rest ns p cidr i lock
	local pfx=() pins=() cgs=() works=() routes=("10.244.$idx.0/24" "10.96.$idx.0/24")
	[[ $dead =~ ^[0-9]+$ ]] || return 0
	if [ -f "$owns" ]; then
		while read -r key a rest; do
			case $key in
			nspfx) [[ $a =~ ^[a-z]+$idx-$ ]] && pfx+=("$a") ;;
			pin) [[ $a =~ ^/sys/fs/bpf/sluice-[A-Za-z0-9._-]+-($dead|$idx)$ ]] && pins+=("$a") ;;
			cgroup) [[ $a =~ ^/sys/fs/cgroup(/unified)?/sluice-[A-Za-z0-9._-]+-($dead|$idx)$ ]] && cgs+=("$a") ;;
			work) [[ $a =~ ^/tmp/sluice-[A-Za-z0-9._-]+-$dead$ ]] && works+=("$a") ;;
			route) [[ $a =~ ^10\.(244|96)\.$idx\.0/[0-9]+$ ]] && routes+=("$a") ;;
			proc) kill_recorded "$a" "$rest" ;;
			esac
		done <"$owns"
	else
		pfx=("it$idx-")
	fi
	# the L7 proxy the dead agent started (its pid in the state directory;
	# its command line names the run's pin directory)
	for a in "${works[@]}"; do
		p=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$a/state/proxy.json" 2>/dev/null)
		for i in "${pins[@]}"; do kill_recorded "$p" "$i"; done
	done
	for lock in /tmp/sluice-world-*; do
		[ -d "$lock" ] && [ "$(cat "$lock/pid" 2>/dev/null)" = "$dead" ] || continue
		sl_world_reclaim "$lock"
		rm -rf "$lock"
	done
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		for a in "${pfx[@]}"; do
			case $ns in "$a"*)
				echo "reclaimed slot $idx: netns $ns"
				ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
				ip netns del "$ns" 2>/dev/null ;;
			esac
		done
	done
	for a in "${cgs[@]}"; do
		[ -d "$a" ] && echo "reclaimed slot $idx: cgroup $a" && sl_rm_cgroup "$a"
	done
	for a in "${pins[@]}"; do
		[ -d "$a" ] && echo "reclaimed slot $idx: pins $a" && rm -rf "$a"
	done
	for cidr in "${routes[@]}"; do
		# every metric (tests/k8s adds its own)
		for i in 1 2 3 4; do
			ip -4 route show type blackhole "$cidr" 2>/dev/null | grep -q . || break
			echo "reclaimed slot $idx: blackhole $cidr"
			ip route del blackhole "$cidr" $(ip -4 route show type blackhole "$cidr" | sed -n '1s/.*\(metric [0-9]*\).*/\1/p') 2>/dev/null || break
		done
	done
	for a in "${works[@]}"; do
		[ -d "$a" ] && echo "reclaimed slot $idx: $a" && rm -rf "$a"
	done
	return 0
}

t_begin() {
	local short=${T_NAME#test_}
	local idx
	idx=$(t_claim_slot) || { echo "FAIL: no free test slot"; exit 1; }
	T_SLOT_LOCK=/tmp/sluice-it-slot-$idx
	SL_NSPFX="it${idx}-"
	# (what a run killed before its cleanup left under this prefix went at
	# the claim: t_slot_reclaim)
	SL_METRICS_PORT=$((19000 + idx))
	# ClusterIPs of this slot (a test may ask for a smaller range)
	SL_SERVICE_CIDR="10.96.$idx.0/${SL_SERVICE_PLEN:-24}"
	SL_WORK=/tmp/sluice-it-$short-$$
	sl_instance_init "it-$short-$$" "10.244.$idx.0/24"
	trap 't_end_trap' EXIT
	trap 'exit 130' INT TERM
	sl_agent_start "$@" || { echo "FAIL: agent did not start"; exit 1; }
}

t_end_trap() {
	local rc=$?
	if [ "$FAILED" -gt 0 ] || [ $rc -ne 0 ]; then
		echo "--- agent log (last 30 lines) ---"
		tail -30 "$SL_AGENT_LOG" 2>/dev/null
	fi
	sl_cleanup
	rm -rf "$SL_WORK"
	[ -n "${T_SLOT_LOCK:-}" ] && rm -rf "$T_SLOT_LOCK"
}

t_finish() {
	echo "$T_NAME: $PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
	exit $?
}

pass() { PASSED=$((PASSED + 1)); echo "  ok   $*"; }
fail() { FAILED=$((FAILED + 1)); echo "  FAIL $*"; }

# check "description" command...: passes when the command succeeds
check() {
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then pass "$what"; else fail "$what"; fi
}

check_not() {
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then fail "$what"; else pass "$what"; fi
}

# check_exit WANT "description" command...: passes when the command exits
# with WANT; its stderr is kept in $ERR_OUT for check_said
ERR_OUT=
check_exit() {
	local want=$1 what=$2 got
	shift 2
	ERR_OUT=$("$@" 2>&1 >/dev/null)
	got=$?
	if [ "$got" = "$want" ]; then pass "$what (exit $got)"; else fail "$what: exit $got, want $want: $ERR_OUT"; fi
}

# check_said TEXT: the last check_exit's stderr contains TEXT
check_said() {
	if printf '%s' "$ERR_OUT" | grep -qF -- "$1"; then pass "  ... message names \"${1:0:40}\""
	else fail "  ... message should name \"$1\": $ERR_OUT"; fi
}

# pod NS/NAME LABELS [--port ...] : creates a pod, sets IP_<name> variables
pod() {
	local ref=$1 labels=$2
	shift 2
	local ip
	ip=$(sl pod create "$ref" --labels "$labels" "$@") || { fail "create pod $ref"; return 1; }
	local var="IP_$(echo "${ref#*/}" | tr -c 'a-zA-Z0-9\n' '_')"
	printf -v "$var" '%s' "$ip"
}

# serve NS/NAME tcp:80 udp:53 ... : starts the test server inside the pod
serve() {
	local ref=$1
	shift
	local log="$SL_WORK/server-$(echo "$ref" | tr '/' '_').log"
	rm -f "$log.ready"
	sl_bg sl pod exec "$ref" -- python3 "$TOOLS/podserver.py" "${ref#*/}" "$log" "$@"
	local i
	for i in $(seq 1 100); do
		[ -e "$log.ready" ] && return 0
		sleep 0.05
	done
	fail "server in $ref did not start"
}

server_log() { cat "$SL_WORK/server-$(echo "$1" | tr '/' '_').log" 2>/dev/null; }

# can FROM_REF tcp|udp IP PORT : the connection gets through
can() { sl pod exec "$1" -- python3 "$TOOLS/probe.py" "$2" "$3" "$4" 1.0; }
# dropped FROM_REF tcp|udp IP PORT : the connection times out (packet dropped)
dropped() {
	sl pod exec "$1" -- python3 "$TOOLS/probe.py" "$2" "$3" "$4" 0.7
	[ $? -eq 2 ]
}

# connect_errno FROM_REF IP PORT: "RESULT SYNS" of one TCP connect() from the
# pod: RESULT the errno's name (or "connected"), SYNS how many SYNs the pod
# sent again meanwhile (TCPSynRetrans of its netns). A refusal "at once" is
# one with SYNS 0: judged by what happened, not by a time.
connect_errno() {
	sl pod exec "$1" -- python3 -c "
import errno, socket
def syn_retrans():
    rows = [l.split() for l in open('/proc/net/netstat') if l.startswith('TcpExt:')]
    return int(rows[1][rows[0].index('TCPSynRetrans')])
r0 = syn_retrans()
try:
    socket.create_connection(('$2', $3), timeout=5); print('connected', syn_retrans() - r0)
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno), syn_retrans() - r0)"
}

# sendto_errno FROM_REF IP PORT: "sent", or the errno's name when one UDP
# sendto() from the pod fails
sendto_errno() {
	sl pod exec "$1" -- python3 -c "
import errno, socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.sendto(b'x', ('$2', $3)); print('sent')
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))"
}

# pod_netns IP : the netns of this run's pod with that address, found
# without the agent (for probes while it is down or killed)
pod_netns() {
	local ns
	for ns in $(ip netns list | awk '{print $1}' | grep "^$SL_NSPFX"); do
		ip -n "$ns" -4 addr show 2>/dev/null | grep -q "inet $1/" && echo "$ns" && return 0
	done
	return 1
}

# http FROM_REF URL [curl args] : prints the HTTP status (000 on failure)
http() {
	local from=$1 url=$2
	shift 2
	sl pod exec "$from" -- curl -s -o /dev/null -w '%{http_code}' --connect-timeout 1 -m 3 "$@" "$url"
}

# apply FILE... : applies policy files; a rejected apply fails the test
apply() {
	local out
	out=$(sl policy apply -f "$@" 2>&1 >/dev/null) || { fail "apply $*: ${out:-rejected}"; return 1; }
	[ -n "$out" ] && echo "$out" >&2
	return 0
}

# Policy text from stdin, applied as a file of its own. Prints what apply
# prints (stdout and warnings on stderr); a rejected apply fails the test
# (and returns 1), with the agent's error.
apply_yaml() {
	local f="$SL_WORK/policy-$RANDOM.yaml" out rc
	cat >"$f"
	out=$(sl policy apply -f "$f" 2>"$f.err")
	rc=$?
	[ -n "$out" ] && echo "$out"
	cat "$f.err" >&2
	if [ $rc -ne 0 ]; then
		fail "apply_yaml: $(head -c 300 "$f.err")"
		return 1
	fi
	return 0
}

# expect_eq "description" EXPECTED ACTUAL : passes when the two are equal,
# and says both when they are not
expect_eq() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1 (expected '$2', got '$3')"; fi
}

# status_field KEY [SUBKEY]: one field of `sluice status -o json`
status_field() {
	sl status -o json 2>/dev/null | python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1:]:
    v = v.get(k, "") if isinstance(v, dict) else ""
print(v)' "$@"
}

# cut_barrier: "COUNT TIME": the agent's connections_cut counter and the
# wall time its answer came back. The agent cuts the connections a change
# revoked (revalidate.c) on its loop before it reads its next request, so
# after a change this is that cut done: a request sent after TIME on a
# connection the change revoked must fail. (The change's own answer may come
# back just before the cut: that one is no barrier.)
cut_barrier() {
	local out t
	out=$(sl status -o json 2>/dev/null)
	t=$(date +%s.%N)
	echo "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["connections_cut"])' <<<"$out" 2>/dev/null || echo none) $t"
}
# time_before T1 T2: wall time T1 (tests/tools/loop.py's, None when there
# was none) is before T2
time_before() {
	python3 -c 'import sys; sys.exit(not (sys.argv[1] == "None" or float(sys.argv[1]) < float(sys.argv[2])))' "$1" "$2"
}

# wait_proxy_rules: waits (bounded, 10 s) until the L7 proxy has answered
# every table the agent sent it (status proxy.rules_pending 0): from then on
# each request it reads meets the rules of every change applied before.
# Fails the test when it never does.
proxy_rules_answered() { [ "$(proxy_field rules_pending)" = 0 ]; }
wait_proxy_rules() {
	wait_until 100 0.1 proxy_rules_answered || { fail "the proxy did not answer the L7 tables sent to it"; return 1; }
}

# wait_until TRIES INTERVAL command... : retries the command until it
# succeeds (bounded); returns 1 when it never did
wait_until() {
	local tries=$1 interval=$2 i
	shift 2
	for i in $(seq 1 "$tries"); do
		"$@" >/dev/null 2>&1 && return 0
		sleep "$interval"
	done
	return 1
}

# wait_loops_started OUTFILE... : waits (bounded, 30 s) until each
# tests/tools/loop.py writing to OUTFILE has sent its first request
wait_loops_started() {
	local f
	for f in "$@"; do
		wait_until 300 0.1 test -e "$f.started" || { fail "loop $(basename "$f") did not start"; return 1; }
	done
}

# wait_proxy_ready [SECONDS]: waits until the agent reports its L7 proxy
# ready (default 10 s); fails the test when it never does
proxy_ready() { [ "$(status_field proxy state)" = ready ]; }
wait_proxy_ready() {
	wait_until $(( ${1:-10} * 10 )) 0.1 proxy_ready && return 0
	fail "L7 proxy ready (state: $(status_field proxy state))"
	return 1
}

# wait_host_addr IP: waits until the agent knows IP as an address of this
# host (it rescans host addresses on its own; the test must not guess when)
host_addr_known() {
	sl status -o json 2>/dev/null | python3 -c '
import json, sys
sys.exit(0 if sys.argv[1] in json.load(sys.stdin).get("host_addresses", []) else 1)' "$1"
}
wait_host_addr() {
	wait_until 100 0.05 host_addr_known "$1" && return 0
	fail "the agent learnt host address $1"
	return 1
}

# proxy_field KEY: a field of `sluice status -o json`'s "proxy" object
# nginx_pod POD DIR: a one-process nginx in POD, its files under DIR
# (nginx.conf, error.log, temp files); the lines of its http block
# (servers, logs, options beyond keep-alive for 60 s) come on stdin.
nginx_pod() {
	local pod=$1 dir=$2
	mkdir -p "$dir/tmp"
	{
		cat <<NGINX
worker_processes 1;
master_process off;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
	keepalive_timeout 60s;
	client_body_temp_path $dir/tmp;
	proxy_temp_path $dir/tmp;
	fastcgi_temp_path $dir/tmp;
	uwsgi_temp_path $dir/tmp;
	scgi_temp_path $dir/tmp;
NGINX
		cat
		echo "}"
	} >"$dir/nginx.conf"
	sl_bg sl pod exec "$pod" -- nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf"
}

proxy_field() { sl status -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["proxy"].get(sys.argv[1], ""))' "$1" 2>/dev/null; }

# proxy_wait_ready OLD_PID: waits (20 s at most) for a ready proxy with
# another pid than OLD_PID (0: any) and prints its pid
proxy_wait_ready() {
	local i pid
	for i in $(seq 1 200); do
		pid=$(proxy_field pid)
		if [ "$(proxy_field state)" = ready ] && [ -n "$pid" ] && [ "$pid" != 0 ] && [ "$pid" != "$1" ]; then
			echo "$pid"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# pid_gone PID SECONDS: the process exits within SECONDS (a zombie has
# exited; whether it is reaped is the caller's question)
pid_gone() {
	local i
	for i in $(seq 1 $(($2 * 10))); do
		[ -d "/proc/$1" ] || return 0
		[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ] && return 0
		sleep 0.1
	done
	return 1
}
