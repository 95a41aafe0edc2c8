#!/usr/bin/env bash
# Observe loses flows only visibly: an `observe --follow -o json` client
# that stops reading (SIGSTOP) while a pod floods denied datagrams falls
# behind the agent's bound (--observer-queue, small here); the agent counts
# what it did not send (flows_lost_by_slow_observers), and once the client
# reads again it says on stderr how many it lost. Nothing goes unaccounted:
# lines printed + flows it was told it lost = flows the agent saw, and what
# it was told = what the agent counted. No timing is asserted: every wait
# is bounded and the counts are exact.
source "$(dirname "$0")/lib.sh"
t_begin --observer-queue 65536

pod default/src app=src
pod default/dst app=dst
apply_deny() {
	printf 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: deny}\nspec:\n  endpointSelector: {matchLabels: {app: src}}\n  egress:\n  - toEndpoints: [{matchLabels: {app: nobody}}]\n' | sl policy apply -f - >/dev/null
}
check "deny policy for src's egress" apply_deny

OUT=$SL_WORK/observe.json
ERR=$SL_WORK/observe.err
"$SL_BUILD/cli/sluice" --socket "$SL_SOCK" observe --follow -o json >"$OUT" 2>"$ERR" &
OBS=$!
SL_PIDS+=("$OBS")

status_field() { sl status -o json | python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }
lines() { wc -l <"$OUT"; }
has_lines() { [ "$(lines)" -ge "$1" ]; }

# the subscription is in place once a denied datagram shows up
marker() { dropped default/src udp "$IP_dst" 9 >/dev/null; has_lines "$1"; }
check "the client sees a first denied flow" wait_until 20 0.2 marker 1

seen0=$(status_field flows_seen)
lost0=$(status_field flows_lost_by_slow_observers)
lines0=$(lines)

kill -STOP "$OBS"
sent=$(sl pod exec default/src -- python3 "$TOOLS/flood.py" udp "$IP_dst" 30000 60)
[ "${sent:-0}" -ge 10000 ] && pass "flood sent $sent denied datagrams" || fail "flood sent ${sent:-0} denied datagrams"
# the agent has read them all (bounded wait)
all_read() { [ "$(($(status_field flows_seen) - seen0))" -ge "$sent" ]; }
check "the agent read every flood event" wait_until 100 0.1 all_read
lost1=$(($(status_field flows_lost_by_slow_observers) - lost0))
[ "$lost1" -gt 0 ] && pass "the stopped client lost flows, counted ($lost1)" || fail "the stopped client lost no flow (queue bound not reached?)"

kill -CONT "$OBS"
# the client catches up with what was queued for it, then the next flow
# carries the news of the loss
stable() { local a; a=$(lines); sleep 0.5; [ "$a" = "$(lines)" ]; }
check "the client caught up" wait_until 60 0.1 stable
before=$(lines)
check "a flow after the loss reaches the client" wait_until 20 0.2 marker $((before + 1))
check "the client said it lost flows" wait_until 20 0.2 grep -q "flows lost: this client fell behind the agent" "$ERR"

seen=$(($(status_field flows_seen) - seen0))
lost=$(($(status_field flows_lost_by_slow_observers) - lost0))
printed=$(($(lines) - lines0))
told=$(grep -o '^sluice: [0-9]* flows lost' "$ERR" | awk '{s += $2} END {print s + 0}')
echo "  (agent saw $seen flows; client printed $printed, was told it lost $told; agent counted $lost lost)"
[ "$told" = "$lost" ] && pass "the client was told exactly what the agent counted ($told)" || fail "told $told, counted $lost"
[ "$((printed + told))" = "$seen" ] && pass "printed + lost = seen ($printed + $told = $seen)" || fail "printed $printed + lost $told != seen $seen"
# Hubble's name for the same count (a reader falling behind Hubble's ring)
hl=$(curl -s -m 3 "http://127.0.0.1:$SL_METRICS_PORT/metrics" | awk '$1 == "hubble_lost_events_total{source=\"hubble_ring_buffer\"}" {print $2}')
[ "${hl:-0}" = "$(status_field flows_lost_by_slow_observers)" ] &&
	pass "hubble_lost_events_total{source=hubble_ring_buffer} = flows lost by slow observers ($hl)" ||
	fail "hubble_lost_events_total{source=hubble_ring_buffer} '${hl:-}' != $(status_field flows_lost_by_slow_observers)"
# every line is a whole flow (nothing torn by the loss)
check "every printed line is a flow" python3 -c '
import json, sys
for l in open(sys.argv[1]):
    assert "flow" in json.loads(l), l
' "$OUT"
t_finish
