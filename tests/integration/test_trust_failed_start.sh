#!/usr/bin/env bash
# A failed start undoes what it did, and --cleanup removes whatever of an
# instance exists (#10 item 4).
source "$(dirname "$0")/lib.sh"
t_begin

blackhole() { ip route show type blackhole "$1" | grep -q .; }
# stop the instance lib.sh started: this test drives its own agents
pod default/server app=server
sl_agent_kill KILL
# shellcheck disable=SC2046
timeout 60 "$SL_BUILD/agent/sluiced" $(sl_agent_args) --cleanup >/dev/null 2>&1

PIN=/sys/fs/bpf/sluice-it-fs-$$
CIDR=10.243.$((RANDOM % 200)).0/24
STATE=$SL_WORK/state-fs
args() { echo --bpf-root "$PIN" --socket "$SL_WORK/fs.sock" --state-dir "$STATE" --pod-cidr "$CIDR" --netns-prefix "${SL_NSPFX}f-" --metrics "127.0.0.1:$((SL_METRICS_PORT + 1000))"; }
trap 'rc=$?; "$SL_BUILD/agent/sluiced" $(args) --cgroup-root "$SL_CG" --cleanup >/dev/null 2>&1; rm -rf "$PIN"; ip route del blackhole "$CIDR" 2>/dev/null; (exit $rc); t_end_trap' EXIT

echo "# --cgroup-root that does not exist"
# shellcheck disable=SC2046
timeout 30 "$SL_BUILD/agent/sluiced" $(args) --cgroup-root "$SL_CG/missing" >"$SL_WORK/a.out" 2>"$SL_WORK/a.err"
rc=$?
echo "  exit $rc: $(head -1 "$SL_WORK/a.err")"
check "exit 1" test "$rc" = 1
check "the message names the directory" grep -q "$SL_CG/missing" "$SL_WORK/a.err"
n=$(ls "$PIN" 2>/dev/null | wc -l)
check "no pinned maps left ($n)" test "$n" = 0
check_not "no blackhole route left" blackhole "$CIDR"
check_not "no API socket left" test -e "$SL_WORK/fs.sock"

echo "# a failure after the datapath was made (the metrics port is taken)"
python3 -c 'import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); open(sys.argv[2],"w").close(); time.sleep(60)' $((SL_METRICS_PORT + 1000)) "$SL_WORK/port.ready" &
SL_PIDS+=($!)
for i in $(seq 1 50); do [ -e "$SL_WORK/port.ready" ] && break; sleep 0.1; done
# shellcheck disable=SC2046
timeout 30 "$SL_BUILD/agent/sluiced" $(args) --cgroup-root "$SL_CG" >"$SL_WORK/b.out" 2>"$SL_WORK/b.err"
rc=$?
echo "  exit $rc: $(grep -v '^sluice-proxy' "$SL_WORK/b.err" | head -1)"
check "exit 1" test "$rc" = 1
n=$(ls "$PIN" 2>/dev/null | wc -l)
check "no pinned maps left ($n)" test "$n" = 0
check_not "no blackhole route left" blackhole "$CIDR"
check_not "no API socket left" test -e "$SL_WORK/fs.sock"
check_not "no system cgroup left" test -d "$SL_CG/${SL_NSPFX}f-system"
kill -KILL "${SL_PIDS[-1]}" 2>/dev/null; wait "${SL_PIDS[-1]}" 2>/dev/null

echo "# --cleanup of a whole instance, with parts missing"
# shellcheck disable=SC2046
"$SL_BUILD/agent/sluiced" $(args) --cgroup-root "$SL_CG" >>"$SL_WORK/c.out" 2>>"$SL_WORK/c.err" &
A=$!
SL_PIDS+=("$A")
S() { "$SL_BUILD/cli/sluice" --socket "$SL_WORK/fs.sock" "$@"; }
for i in $(seq 1 100); do S status >/dev/null 2>&1 && break; sleep 0.1; done
check "an agent runs" S status
S pod create default/a --labels app=a >/dev/null
S pod create default/b --labels app=b >/dev/null
for i in $(seq 1 100); do [ "$(S status -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["proxy"]["state"])')" = ready ] && break; sleep 0.1; done
PROXY=$(S status -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["proxy"]["pid"])')
kill -KILL "$A"; wait "$A" 2>/dev/null
# parts go missing: the pod record, some pins
rm -f "$STATE/pods.json"
find "$PIN" -maxdepth 1 -type f | head -3 | xargs -r rm -f
touch "$STATE/proxy.99.sock"
# shellcheck disable=SC2046
timeout 60 "$SL_BUILD/agent/sluiced" $(args) --cgroup-root "$SL_CG" --cleanup >"$SL_WORK/d.out" 2>"$SL_WORK/d.err"
rc=$?
sed 's/^/  | /' "$SL_WORK/d.out"
check "--cleanup exits 0" test "$rc" = 0
check "it reports what it removed" grep -q "removed: $PIN" "$SL_WORK/d.out"
check "the pins are gone" test ! -e "$PIN"
check_not "the route is gone" blackhole "$CIDR"
n=$(ip netns list | awk '{print $1}' | grep -c "^${SL_NSPFX}f-")
check "the pods' namespaces are gone ($n left)" test "$n" = 0
gone() { for i in $(seq 1 50); do [ -d "/proc/$1" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ] || return 0; sleep 0.1; done; return 1; }
check "the proxy ($PROXY) is gone" gone "$PROXY"
n=$(ls "$STATE"/proxy.*.sock 2>/dev/null | wc -l)
check "no proxy.N.sock left ($n)" test "$n" = 0
check "the cgroups are gone" test ! -d "$SL_CG/${SL_NSPFX}f-pods" -a ! -d "$SL_CG/${SL_NSPFX}f-system"
# shellcheck disable=SC2046
timeout 60 "$SL_BUILD/agent/sluiced" $(args) --cgroup-root "$SL_CG/missing" --cleanup >"$SL_WORK/e.out" 2>"$SL_WORK/e.err"
rc=$?
check "--cleanup again (and with a missing cgroup root) exits 0 ($rc)" test "$rc" = 0
check "and says nothing was left" grep -q "nothing of this instance was left" "$SL_WORK/e.out"
t_finish
