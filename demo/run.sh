#!/usr/bin/env bash
# demo/run.sh - the standalone demo: the article's scenario on this machine.
# Starts sluiced in its own cgroup and pin directory, creates frontend,
# backend, database and malicious pods, applies the article's policies and
# shows with curl what gets through and what is dropped in the kernel.
# Cleans everything up on exit, also on Ctrl-C.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
if [ "$(id -u)" != 0 ]; then
	echo "demo: needs root (it loads eBPF programs and creates network namespaces)" >&2
	exit 1
fi
bash scripts/install-deps.sh
BUILD=${SLUICE_BUILD_DIR:-$ROOT/build}
if [ ! -x "$BUILD/agent/sluiced" ] || [ "${DEMO_REBUILD:-1}" = 1 ]; then
	echo "demo: building in $BUILD..." >&2
	# a fresh tree without the tests; an existing one keeps its choice
	# (turning them off there would leave `ctest` with no tests)
	if [ -f "$BUILD/CMakeCache.txt" ]; then
		cmake -S . -B "$BUILD" >/dev/null
	else
		cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_TESTS=OFF >/dev/null
	fi
	cmake --build "$BUILD" -j"$(nproc)" --target sluiced sluice sluice-proxy >/dev/null
fi

SL_BUILD=$BUILD
SL_NSPFX=demo-
SL_WORK=/tmp/sluice-demo
source scripts/standalone.sh
sl_instance_init demo 10.244.250.0/24
trap 'echo; echo "demo: cleaning up"; sl_cleanup; rm -rf "$SL_WORK"' EXIT
trap 'exit 130' INT TERM

bold() { if [ -t 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
step() { echo; bold "== $*"; }
# try FROM URL: runs curl inside a pod and prints what happened
try() {
	local from=$1 url=$2 method=${3:-GET} code rc=0
	code=$(sl pod exec "default/$from" -- curl -s -o /dev/null -w '%{http_code}' \
		--connect-timeout 1 -m 2 -X "$method" "$url") || rc=$?
	if [ "$rc" = 0 ]; then
		printf '  %-10s %-6s %-45s -> HTTP %s\n' "$from" "$method" "$url" "$code"
	elif [ "$rc" = 28 ]; then
		printf '  %-10s %-6s %-45s -> no answer: dropped in the kernel\n' "$from" "$method" "$url"
	else
		printf '  %-10s %-6s %-45s -> curl failed (exit %s)\n' "$from" "$method" "$url" "$rc"
	fi
}

step "Starting sluiced (pins $SL_PIN, cgroup $SL_CG, pods $SL_CIDR)"
sl_agent_start

step "Creating pods"
FRONTEND=$(sl pod create default/frontend --labels app=frontend,security.level=trusted)
BACKEND=$(sl pod create default/backend --labels app=backend --port http=8080/TCP)
DATABASE=$(sl pod create default/database --labels app=database --port postgres=5432/TCP)
MALICIOUS=$(sl pod create default/malicious --labels app=malicious)
sl pod list
sl_bg sl pod exec default/backend -- python3 tests/tools/podserver.py backend "$SL_WORK/backend.log" tcp:8080
sl_bg sl pod exec default/database -- python3 tests/tools/podserver.py database "$SL_WORK/database.log" tcp:5432
for i in $(seq 1 100); do
	[ -e "$SL_WORK/backend.log.ready" ] && [ -e "$SL_WORK/database.log.ready" ] && break
	sleep 0.05
done

step "Identities (numeric, from labels; reserved ones first)"
sl identity list

step "Without policy, everyone reaches everyone"
try frontend "http://$BACKEND:8080/api/users/42"
try malicious "http://$BACKEND:8080/api/users/42"
try malicious "http://$DATABASE:5432/"

step "Applying the article's policies (demo/policies.yaml)"
sl policy apply -f demo/policies.yaml

step "With policy"
sl_bg sl observe --follow >"$SL_WORK/observe.txt" 2>/dev/null
sleep 0.3
try frontend "http://$BACKEND:8080/api/users/42"
try frontend "http://$BACKEND:8080/api/users" POST
try frontend "http://$BACKEND:8080/api/users/1" DELETE
try frontend "http://$BACKEND:8080/admin"
try malicious "http://$BACKEND:8080/api/users/42"
try malicious "http://$DATABASE:5432/"
try frontend "http://$DATABASE:5432/"
sleep 0.5

step "What sluice observe --follow showed meanwhile"
grep -E "http-request|DROPPED" "$SL_WORK/observe.txt" | grep -v "(host)" | head -20

step "Access log (the agent's stdout, one JSON line per HTTP request)"
head -2 "$SL_AGENT_OUT"

step "Datapath counters"
sl status | sed -n '/Datapath:/,$p'
echo
bold "Frontend's GET reached the backend; its POST, DELETE and /admin got 403 from the proxy;"
bold "malicious was dropped in the kernel on its first packet and never reached the proxy."
