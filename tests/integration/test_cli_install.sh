#!/usr/bin/env bash
# `cmake --install` (issue #10, item 13): installs sluiced, sluice,
# sluice-proxy and the BPF objects under a prefix; the installed agent
# starts, finds the installed proxy next to it, and serves the installed CLI
# found through PATH; pods, policy and L7 enforcement work as from the build
# tree; `sluice status` shows the proxy (item 14).
BUILD=${SL_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
PREFIX=$(mktemp -d /tmp/sluice-install-XXXXXX)
LAYOUT=$PREFIX/.layout
trap 'rm -rf "$PREFIX"' EXIT
cmake --install "$BUILD" --prefix "$PREFIX" >"$PREFIX.log" 2>&1
inst_rc=$?
# lib.sh runs $SL_BUILD/agent/sluiced and $SL_BUILD/cli/sluice: point both at the installed files
mkdir -p "$LAYOUT/agent" "$LAYOUT/cli" "$LAYOUT/proxy"
ln -s "$PREFIX/bin/sluiced" "$LAYOUT/agent/sluiced"
ln -s "$PREFIX/bin/sluice" "$LAYOUT/cli/sluice"
SL_BUILD=$LAYOUT
source "$(dirname "$0")/lib.sh"
trap 't_end_trap; rm -rf "$PREFIX" "$PREFIX.log"' EXIT

[ "$inst_rc" = 0 ] && pass "cmake --install --prefix $PREFIX" || { fail "cmake --install: $(tail -5 "$PREFIX.log")"; t_finish; }
for f in bin/sluiced bin/sluice bin/sluice-proxy; do
	check "installed $f (executable)" test -x "$PREFIX/$f"
done
for o in bpf_lxc bpf_sklookup bpf_connect bpf_sockops bpf_skmsg; do
	check "installed share/sluice/bpf/$o.bpf.o (an eBPF ELF)" sh -c "file -b '$PREFIX/share/sluice/bpf/$o.bpf.o' 2>/dev/null | grep -q 'eBPF' || od -An -tx1 -j18 -N2 '$PREFIX/share/sluice/bpf/$o.bpf.o' | grep -q 'f7 00'"
done
check "sluice from PATH prints its version" sh -c "PATH='$PREFIX/bin':/usr/bin:/bin sluice --version | grep -q 'datapath ABI'"

t_begin
trap 't_end_trap; rm -rf "$PREFIX" "$PREFIX.log"' EXIT # t_begin set its own
check "the installed agent runs" sh -c "readlink /proc/$SL_AGENT_PID/exe | grep -q '^$PREFIX/bin/sluiced'"
for i in $(seq 1 60); do [ "$(sl status -o json | jq -r .proxy.state)" = ready ] && break; sleep 0.1; done
ppid_=$(sl status -o json | jq -r .proxy.pid)
check "it started the installed sluice-proxy next to it" sh -c "readlink /proc/$ppid_/exe | grep -q '^$PREFIX/bin/sluice-proxy'"
export PATH="$PREFIX/bin:$PATH" SLUICE_SOCKET=$SL_SOCK
check "sluice (from PATH) talks to the installed agent" sh -c "command -v sluice | grep -q '^$PREFIX/bin/sluice' && sluice status | grep -q '^Health: *ok'"
pod default/frontend app=frontend,security.level=trusted
pod default/backend app=backend --port http=8080/TCP
serve default/backend tcp:8080
check "the README's policy applies" sluice policy apply -f "$SL_ROOT/demo/policies.yaml"
[ "$(http default/frontend "http://$IP_backend:8080/api/users/1")" = 200 ] && pass "GET /api/users/1: 200" || fail "GET /api/users/1"
[ "$(http default/frontend "http://$IP_backend:8080/")" = 403 ] && pass "GET / gets 403 (the demo policy allows only GET /api/users/.*)" || fail "GET /"

# item 14: `sluice status` shows the proxy, and restarts survive readiness
proxy_ready() { for i in $(seq 1 100); do [ "$(sluice status -o json | jq -r .proxy.state)" = ready ] && [ "$(sluice status -o json | jq -r .proxy.pid)" != "$1" ] && return 0; sleep 0.1; done; return 1; }
pid0=$(sluice status -o json | jq -r .proxy.pid)
sluice proxy restart >/dev/null
proxy_ready "$pid0" && pass "proxy restart: a new proxy is ready" || fail "proxy restart"
pid1=$(sluice status -o json | jq -r .proxy.pid)
kill -KILL "$pid1"
proxy_ready "$pid1" && pass "a killed proxy is replaced" || fail "killed proxy not replaced"
pid2=$(sluice status -o json | jq -r .proxy.pid)
[ "$(sluice status -o json | jq .proxy.restarts)" = 2 ] && pass "restarts counts both (not reset when the new proxy became ready)" || fail "restarts: $(sluice status -o json | jq .proxy)"
http default/frontend "http://$IP_backend:8080/api/users/2" >/dev/null
http default/frontend "http://$IP_backend:8080/admin" >/dev/null
sleep 1.2 # the proxy reports its counters about once a second
st=$(sluice status)
printf '%s\n' "$st" | grep -qE "^Proxy: +ready \(pid $pid2, restarts 2\)$" && pass "status text: proxy pid, state, restarts" || fail "status text: $(printf '%s\n' "$st" | grep -A2 '^Proxy')"
printf '%s\n' "$st" | grep -qE "^  connections +[0-9]+ active, [1-9][0-9]* total" && pass "status text: proxy connections" || fail "status text connections: $(printf '%s\n' "$st" | grep -A2 '^Proxy')"
printf '%s\n' "$st" | grep -qE "^  requests +[1-9][0-9]* allowed, [1-9][0-9]* denied" && pass "status text: requests allowed and denied" || fail "status text requests: $(printf '%s\n' "$st" | grep -A2 '^Proxy')"

t_finish
