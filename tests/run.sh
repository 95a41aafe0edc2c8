#!/usr/bin/env bash
# tests/run.sh - runs the tests on this machine: installs what is missing,
# builds, runs ctest, the unit tests again under ASan/UBSan, and the libFuzzer
# targets for a bounded time. Needs root: the BPF and integration tests load
# real programs into the running kernel.
#
#   tests/run.sh        the quick tier: labels unit, bpf, integration, cni,
#                       the ASan/UBSan unit pass and the fuzzers (< 6 min
#                       on a quiet 2-core machine)
#   tests/run.sh --all  everything (what .ci/run and the README run): adds the
#                       k8s label (a real kube-apiserver per scenario, a
#                       whole single-node cluster) and the deploy label (the
#                       image build, the chart, the DaemonSet on that cluster)
#
# Where the time goes, and why it is laid out so: the build is CPU-bound, the
# integration scenarios mostly wait (probes that must time out, agents and
# proxies starting, pods being made), so after the first build ctest runs
# them several at a time (each in its own lib.sh slot) while the ASan build,
# its unit pass, the fuzz build and the fuzzers run beside them at a lower
# CPU priority. The longest tests start first (COST in the CMakeLists).
# Environment: SLUICE_SKIP_ASAN=1, SLUICE_SKIP_FUZZ=1, FUZZ_SECONDS (default
# 30 each, the five at once), SLUICE_TEST_JOBS (ctest -j, default twice the
# CPUs; the CPU-heavy scenarios have PROCESSORS 2, so two of them at most run
# at once).
set -euo pipefail
# Debian's tools first (python3 above all: a pyenv shim costs ~10 forked
# scripts per call, and the tests call python3 hundreds of times)
export PATH=/usr/bin:/bin:/usr/sbin:/sbin:$PATH
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
JOBS=$(nproc)
ALL=0
for arg in "$@"; do
	case $arg in
	--all) ALL=1 ;;
	-h | --help)
		awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
		exit 0
		;;
	*)
		echo "tests/run.sh: unknown argument '$arg' (try --help)" >&2
		exit 2
		;;
	esac
done
TEST_JOBS=${SLUICE_TEST_JOBS:-$((JOBS * 2))}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
T0=$(date +%s)
since() { echo "$(($(date +%s) - T0)) s"; }

bash scripts/install-deps.sh

echo "== build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_TESTS=ON >/dev/null
cmake --build build -j"$JOBS"
echo "== built ($(since))"

# The ASan/UBSan pass: only the unit level runs there, so only what its tests
# run is built: their executables, and whatever build-tree file a test's
# command names (e.g. the sluice-proxy that proxy_e2e drives), read from the
# first build's ctest (ctest names a command only once its file exists), the
# same targets in both trees.
asan_pass() {
	cmake -S . -B build-asan -DSLUICE_SANITIZE=ON -DSLUICE_TESTS=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	local targets
	targets=$(ctest --test-dir build -N -L unit -LE '^k8s$' -E '^check_' --show-only=json-v1 |
		python3 -c '
import json, os, sys
b = os.path.realpath(sys.argv[1])
names = set()
for t in json.load(sys.stdin)["tests"]:
    for arg in t.get("command", []):
        p = os.path.realpath(arg)
        if p.startswith(b + "/"):
            names.add(os.path.basename(p))
print(" ".join(sorted(names)))' build)
	[ -n "$targets" ] || { echo "asan: no unit test targets found"; return 1; }
	# shellcheck disable=SC2086 # a list of target names
	cmake --build build-asan -j"$JOBS" --target $targets
	echo "== asan build done ($(since)); unit tests under ASan/UBSan"
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --test-dir build-asan --output-on-failure -j"$JOBS" -L unit -LE '^k8s$' -E '^check_'
}

# The libFuzzer targets build, and a bounded run of each from its seeds in
# tests/fuzz finds nothing (FUZZ_SECONDS each, the seven at once).
fuzz_one() { # BIN:SEEDS
	local t=$1 bin work
	bin=build-fuzz/${t%%:*}
	work=$(mktemp -d)
	cp tests/fuzz/"${t##*:}"/* "$work"/
	if ! (cd "$work" && timeout $((FUZZ_SECONDS + 60)) "$ROOT/$bin" \
		-max_total_time="$FUZZ_SECONDS" -max_len=4096 "$work" >"$work.log" 2>&1); then
		echo "fuzz ${t%%:*}: failed"
		tail -30 "$work.log"
		ls "$work"/crash-* 2>/dev/null
		rm -rf "$work" "$work.log"
		return 1
	fi
	echo "fuzz ${t%%:*}: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$work.log")"
	rm -rf "$work" "$work.log"
}
fuzz_pass() {
	CC=clang cmake -S . -B build-fuzz -DSLUICE_FUZZ=ON -DSLUICE_TESTS=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build build-fuzz -j"$JOBS" --target fuzz_policy_edit fuzz_http_request \
		fuzz_watch_stream fuzz_tls_client_hello fuzz_flow_wire fuzz_yaml_doc fuzz_splice_head \
		fuzz_req_head
	echo "== fuzz targets (libFuzzer, $FUZZ_SECONDS s each, from $(since))"
	local t pids=() rc=0
	for t in policy/fuzz_policy_edit:policy_edit proxy/fuzz_http_request:http_request \
		k8s/fuzz_watch_stream:watch_stream proxy/fuzz_tls_client_hello:tls_client_hello \
		common/fuzz_flow_wire:flow_wire policy/fuzz_yaml_doc:yaml_doc \
		proxy/fuzz_splice_head:splice_head proxy/fuzz_req_head:req_head; do
		fuzz_one "$t" &
		pids+=($!)
	done
	for t in "${pids[@]}"; do
		wait "$t" || rc=1
	done
	return $rc
}

# the side chain: ASan, then the fuzzers, beside ctest; its output is
# printed after ctest's so the two do not interleave
side_log=$(mktemp)
side_rc=$(mktemp)
side_pid=
# on an interrupted run: the side chain and what it started (builds,
# fuzzers), by PID; the parent first, so it starts nothing new
kill_tree() {
	local c kids
	kids=$(pgrep -P "$1" 2>/dev/null || true)
	kill "$1" 2>/dev/null || true
	for c in $kids; do kill_tree "$c"; done
}
cleanup() {
	[ -n "$side_pid" ] && kill_tree "$side_pid"
	rm -f "$side_log" "$side_rc"
}
trap cleanup EXIT
(
	# below ctest's scenarios in CPU priority: they have timing bounds,
	# the builds and the fuzzers only take longer (children inherit it)
	renice -n 10 -p "$BASHPID" >/dev/null
	rc=0
	if [ "${SLUICE_SKIP_ASAN:-0}" != 1 ]; then
		asan_pass || rc=1
	fi
	if [ "${SLUICE_SKIP_FUZZ:-0}" != 1 ] && command -v clang >/dev/null; then
		fuzz_pass || rc=1
	fi
	echo $rc >"$side_rc"
) >"$side_log" 2>&1 &
side_pid=$!

status=0
if [ $ALL = 1 ]; then
	echo "== ctest: every label (unit, bpf, integration, cni, k8s, deploy), -j$TEST_JOBS"
	ctest --test-dir build --output-on-failure -j"$TEST_JOBS" || status=1
else
	echo "== ctest: unit, bpf, integration, cni (not k8s, deploy: tests/run.sh --all), -j$TEST_JOBS"
	ctest --test-dir build --output-on-failure -j"$TEST_JOBS" -LE '^(k8s|deploy)$' || status=1
fi
echo "== ctest done ($(since))"
# a scenario killed by ctest's timeout (SIGKILL) never ran its cleanup: its
# slot's leftovers (netns, pins, cgroups, routes, processes) go now, and
# only those of slots whose owner is dead (tests/integration/lib.sh)
reclaimed=$(bash -c 'source tests/integration/lib.sh && t_reclaim_dead_slots' 2>&1 || true)
if [ -n "$reclaimed" ]; then
	echo "== leftovers of killed tests removed:"
	echo "$reclaimed"
fi

wait "$side_pid" || true
side_pid=
cat "$side_log"
[ "$(cat "$side_rc" 2>/dev/null)" = 0 ] || status=1
echo "== tests/run.sh$([ $ALL = 1 ] && echo ' --all'): $(since), $([ $status = 0 ] && echo passed || echo FAILED)"
exit $status
