#!/bin/sh
# Runs the sk_msg fast path benchmark (root needed): pod->pod 64-byte
# request/response rate without and with sk_msg, and the ratio.
#   tests/bench/skmsg/run.sh [build-dir] [--seconds N] [--cpu N|-1]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../../build}
[ $# -gt 0 ] && shift
bin=$build/tests/bench/skmsg/bench_skmsg
if [ ! -x "$bin" ]; then
	cmake --build "$build" --target bench_skmsg
fi
exec "$bin" "$@"
