#!/usr/bin/env bash
# tests/run.sh - the one command that runs every test on this machine:
# installs what is missing, builds, then runs unit, BPF and integration tests
# (ctest), and the unit tests again under ASan/UBSan. Needs root: the BPF and
# integration tests load real programs into the running kernel.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
JOBS=$(nproc)

bash scripts/install-deps.sh

echo "== build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_TESTS=ON >/dev/null
cmake --build build -j"$JOBS"

status=0
echo "== unit, BPF and integration tests"
ctest --test-dir build --output-on-failure -j"$JOBS" || status=1

if [ "${SLUICE_SKIP_ASAN:-0}" != 1 ]; then
	echo "== unit tests under ASan/UBSan"
	cmake -S . -B build-asan -DSLUICE_SANITIZE=ON -DSLUICE_TESTS=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build build-asan -j"$JOBS"
	# the unit level only; the agent's shape checks ran on the first build
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --test-dir build-asan --output-on-failure -j"$JOBS" -L unit -LE '^k8s$' -E '^check_' || status=1
fi
if [ "${SLUICE_SKIP_FUZZ:-0}" != 1 ] && command -v clang >/dev/null; then
	# the libFuzzer targets build, and a bounded run from the seeds in
	# tests/fuzz finds nothing (FUZZ_SECONDS each, default 30)
	echo "== fuzz targets (libFuzzer, ${FUZZ_SECONDS:-30} s each)"
	CC=clang cmake -S . -B build-fuzz -DSLUICE_FUZZ=ON -DSLUICE_TESTS=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build build-fuzz -j"$JOBS" --target fuzz_policy_edit fuzz_http_request fuzz_watch_stream fuzz_tls_client_hello
	# the targets at once, each from a copy of its seeds
	fuzz_one() { # BIN:SEEDS
		local t=$1 bin work
		bin=build-fuzz/${t%%:*}
		work=$(mktemp -d)
		cp tests/fuzz/"${t##*:}"/* "$work"/
		if ! (cd "$work" && timeout $((${FUZZ_SECONDS:-30} + 60)) "$ROOT/$bin" -max_total_time="${FUZZ_SECONDS:-30}" \
			-max_len=4096 "$work" >"$work.log" 2>&1); then
			echo "fuzz ${t%%:*}: failed"
			tail -30 "$work.log"
			ls "$work"/crash-* 2>/dev/null
			rm -rf "$work" "$work.log"
			return 1
		fi
		echo "fuzz ${t%%:*}: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$work.log")"
		rm -rf "$work" "$work.log"
	}
	pids=()
	for t in policy/fuzz_policy_edit:policy_edit proxy/fuzz_http_request:http_request \
		k8s/fuzz_watch_stream:watch_stream proxy/fuzz_tls_client_hello:tls_client_hello; do
		fuzz_one "$t" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p" || status=1
	done
fi
exit $status
