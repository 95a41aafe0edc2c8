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
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --test-dir build-asan --output-on-failure -j"$JOBS" -E '^(it_|bpf_)' || status=1
fi
exit $status
