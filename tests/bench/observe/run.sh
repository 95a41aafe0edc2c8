#!/usr/bin/env bash
# tests/bench/observe/run.sh [BUILD_DIR] - how many flow events per second
# the pipeline carries from the kernel to `sluice observe -o json` without
# loss, and the agent's CPU per 10k events.
#
# A pod sends UDP datagrams to a pod whose policy denies them, each to a new
# port (a new flow, so a new drop event: drops are aggregated per flow). We
# count what the datapath dropped, what the ring buffer lost, what the agent
# received and what `observe -o json` printed, in the same run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
SL_BUILD=${1:-$ROOT/build}
SL_NSPFX=bo-
SL_WORK=/tmp/sluice-bench-observe
SL_METRICS_PORT=19901
source "$ROOT/scripts/standalone.sh"
sl_instance_init bench-observe 10.244.241.0/24
trap 'sl_cleanup; rm -rf "$SL_WORK"' EXIT
sl_agent_start --flows 4096

SENDERS=${SENDERS:-4}

sl pod create default/src --labels app=src >/dev/null
DST=$(sl pod create default/dst --labels app=dst)
# the source's egress denies everything: one drop event per new flow
printf 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: deny}\nspec:\n  endpointSelector: {matchLabels: {app: src}}\n  egress:\n  - toEndpoints: [{matchLabels: {app: nobody}}]\n' | sl policy apply -f - >/dev/null

stat_json() { sl status -o json; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }
cpu_ticks() { awk '{print $14 + $15}' /proc/"$SL_AGENT_PID"/stat; }

# step RATE SECS: offers RATE denied flows/s for SECS seconds and prints one row
step() {
	local rate=$1 secs=$2 n obs before after cpu0 t0 t1 per i
	local pids=()
	n=$(python3 -c "print(int($rate * $secs))")
	"$SL_BUILD/cli/sluice" --socket "$SL_SOCK" observe --follow -o json --verdict DROPPED >"$SL_WORK/observe.json" &
	obs=$!
	sleep 0.5
	before=$(stat_json)
	cpu0=$(cpu_ticks)
	t0=$(date +%s.%N)
	per=$((n / SENDERS))
	for i in $(seq 1 "$SENDERS"); do
		sl pod exec default/src -- python3 "$ROOT/tests/tools/flood.py" udp "$DST" "$per" 60 "$((rate / SENDERS))" >/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}" 2>/dev/null || true
	t1=$(date +%s.%N)
	sleep 1
	after=$(stat_json)
	kill "$obs" 2>/dev/null
	wait "$obs" 2>/dev/null || true
	python3 "$ROOT/tests/bench/observe/row.py" "$before" "$after" "$(grep -c '"DROPPED"' "$SL_WORK/observe.json")" \
		"$(($(cpu_ticks) - cpu0))" "$t0" "$t1" "$rate"
}

echo "machine: $(nproc) vCPU, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r)"
echo "  offered  achieved  dropped  rb-lost  agent-rx slow-obs   printed ms-CPU/10k"
for rate in ${RATES:-25000 50000 100000 150000 200000}; do
	step "$rate" "${SECS:-2}"
done
echo "offered/achieved: denied flows per second offered and seen by the datapath;"
echo "rb-lost: events lost in the kernel ring buffer; slow-obs: flows not sent to a"
echo "slow observe client; printed: lines printed by 'sluice observe -o json';"
echo "lossless: every dropped packet was printed."
