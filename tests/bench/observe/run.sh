#!/usr/bin/env bash
# tests/bench/observe/run.sh [BUILD_DIR] - how many flow events per second
# the pipeline carries from the kernel to `sluice observe -o json --follow`
# without loss, and what each part costs per 10k events (OUTPUT=compact,
# dict or table: the client's text printers instead of its JSON).
#
# A pod sends UDP datagrams to a pod whose policy denies them, each a new
# flow (its own source port and destination port: drops are aggregated per
# flow, so each datagram is one drop event), from flood_udp (C, sendmmsg;
# the load generator shares the 2 vCPUs with the agent and the client).
# For each offered rate one row, all counted in the same run:
#   sent      datagrams the sender handed to the kernel, and its rate
#   dropped   packets the datapath dropped (its per-CPU counters)
#   rb-lost   events the kernel ring buffer had no room for
#   agent-rx  flows the agent read and enriched (flows_seen)
#   slow-obs  flows not sent to an observe client that fell behind
#   printed   flows `sluice observe -o $OUTPUT --follow` wrote to its stdout
#   agent, cli  CPU (utime+stime) per 10k events of sluiced and of sluice
#   sender    the load generator's CPU per 10k datagrams (the datapath's
#             per-packet work, the tc program included, runs in its context)
# "lossless" when every dropped packet was printed, and nothing was lost.
#
# Env: RATES (offered flows/s, default 25k 50k 100k 150k 200k), SECS (per
# rate, default 2), OUTPUT (the client's -o, default json), PERF=1 with
# OUT=DIR: perf record -g of the agent and the client during each step
# (OUT/perf-agent-RATE.data, perf-cli-RATE.data).
set -euo pipefail
OUTPUT=${OUTPUT:-json}
# a printed flow, as a line of each output matches it (only drops are asked for)
case $OUTPUT in
json) PRINTED_RE='"DROPPED"' ;;
compact) PRINTED_RE=' DROPPED ' ;;
dict) PRINTED_RE='VERDICT: DROPPED' ;;
table) PRINTED_RE=' DROPPED ' ;;
*) echo "OUTPUT: json, compact, dict or table" >&2; exit 2 ;;
esac
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
SL_BUILD=${1:-$ROOT/build}
SL_NSPFX=bo-
SL_WORK=/tmp/sluice-bench-observe
SL_METRICS_PORT=19901
FLOOD=$SL_BUILD/tests/bench/observe/flood_udp
[ -x "$FLOOD" ] || cmake --build "$SL_BUILD" --target flood_udp >/dev/null
source "$ROOT/scripts/standalone.sh"
sl_instance_init bench-observe 10.244.241.0/24
trap 'sl_cleanup; rm -rf "$SL_WORK"' EXIT
sl_agent_start --flows 4096

sl pod create default/src --labels app=src >/dev/null
DST=$(sl pod create default/dst --labels app=dst)
# the source's egress denies everything: one drop event per new flow
printf 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: deny}\nspec:\n  endpointSelector: {matchLabels: {app: src}}\n  egress:\n  - toEndpoints: [{matchLabels: {app: nobody}}]\n' | sl policy apply -f - >/dev/null

cpu_ticks() { awk '{print $14 + $15}' /proc/"$1"/stat 2>/dev/null || echo 0; }
# flows the agent read minus those it did not send to a slow client
delivered() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["flows_seen"] - d["flows_lost_by_slow_observers"])' "$1"; }

# step RATE SECS: offers RATE denied flows/s for SECS seconds and prints one row
step() {
	local rate=$1 secs=$2 n obs before after a0 c0 a1 c1 flood_out i base want got last perfs=()
	n=$((rate * secs))
	"$SL_BUILD/cli/sluice" --socket "$SL_SOCK" observe --follow -o "$OUTPUT" --verdict DROPPED >"$SL_WORK/observe.out" &
	obs=$!
	SL_PIDS+=("$obs")
	sleep 0.5
	before=$(sl status -o json)
	a0=$(cpu_ticks "$SL_AGENT_PID")
	c0=$(cpu_ticks "$obs")
	if [ "${PERF:-0}" = 1 ]; then
		perf record -q -g -p "$SL_AGENT_PID" -o "$OUT/perf-agent-$rate.data" -- sleep "$secs" 2>/dev/null &
		perfs+=($!)
		perf record -q -g -p "$obs" -o "$OUT/perf-cli-$rate.data" -- sleep "$secs" 2>/dev/null &
		perfs+=($!)
	fi
	flood_out=$(sl pod exec default/src -- "$FLOOD" "$DST" "$n" "$rate" $((secs * 5)))
	# everything the agent read reaches the file or is counted lost: wait
	# (bounded) until the client has printed it all or stops making progress
	base=$(delivered "$before")
	last=-1
	for i in $(seq 1 100); do
		sleep 0.25
		want=$(($(delivered "$(sl status -o json)") - base))
		got=$(grep -c "$PRINTED_RE" "$SL_WORK/observe.out" || true)
		[ "$got" -ge "$want" ] && [ "$i" -gt 2 ] && break
		[ "$got" = "$last" ] && [ "$i" -gt 4 ] && break
		last=$got
	done
	after=$(sl status -o json)
	a1=$(cpu_ticks "$SL_AGENT_PID")
	c1=$(cpu_ticks "$obs")
	kill "$obs" 2>/dev/null
	wait "$obs" 2>/dev/null || true
	[ ${#perfs[@]} -gt 0 ] && wait "${perfs[@]}" 2>/dev/null || true
	python3 "$ROOT/tests/bench/observe/row.py" "$before" "$after" "$(grep -c "$PRINTED_RE" "$SL_WORK/observe.out" || true)" \
		"$((a1 - a0))" "$((c1 - c0))" "$flood_out" "$rate"
	rm -f "$SL_WORK/observe.out"
}

[ "${PERF:-0}" = 1 ] && mkdir -p "${OUT:?PERF=1 needs OUT=DIR}"
echo "output: -o $OUTPUT"
echo "machine: $(nproc) vCPU, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "                                                                    CPU ms per 10k events"
echo "  offered   sent/s    dropped  rb-lost  agent-rx slow-obs   printed     agent    cli    sender"
for rate in ${RATES:-25000 50000 100000 150000 200000}; do
	step "$rate" "${SECS:-2}"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "offered: flows/s asked of the sender; sent/s: what it achieved (it shares the"
echo "CPUs); dropped: packets the datapath dropped; rb-lost: events lost in the"
echo "kernel ring buffer; agent-rx: flows the agent read; slow-obs: flows not sent"
echo "to a slow observe client; printed: flows 'sluice observe -o $OUTPUT' printed;"
echo "CPU: utime+stime of sluiced, of the observe client and of the sender;"
echo "lossless: every dropped packet was printed and nothing was counted lost."
