#!/usr/bin/env bash
# Memory returns (issue #10, item 15): applying a 10 MB policy set (HTTP
# rules, label selectors: regexes, compile results, stored text, identities)
# and deleting it brings the agent back near its baseline RSS, and `sluice
# status` shows the agent's memory. The agent gives freed memory back once
# requests stop for a second (agent/memory.c), so the checks wait for it,
# at most 5 s.
source "$(dirname "$0")/lib.sh"
t_begin

pod default/target app=target
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$SL_AGENT_PID/status"; }
# rss_within KB: the RSS once it is at most KB, or after 5 s
rss_within() {
	local r i
	for i in $(seq 1 50); do
		r=$(rss)
		[ "$r" -le "$1" ] && break
		sleep 0.1
	done
	echo "$r"
}
python3 - "$SL_WORK/big.yaml" <<'PY'
import sys
n_pol, n_rules = 170, 250
with open(sys.argv[1], "w") as f:
    for p in range(n_pol):
        f.write(f"apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: mem-{p}\n  namespace: default\n"
                "spec:\n  endpointSelector:\n    matchLabels:\n      app: target\n  ingress:\n")
        for r in range(n_rules):
            i = p * n_rules + r
            f.write(f"  - fromEndpoints:\n    - matchLabels:\n        app: client-{i}\n        tier: t{i % 7}\n"
                    f"    toPorts:\n    - ports:\n      - port: \"{8000 + i % 1000}\"\n        protocol: TCP\n"
                    f"      rules:\n        http:\n        - method: GET\n          path: \"/api/v1/items/{i}/.*\"\n")
        f.write("---\n")
PY
size=$(stat -c %s "$SL_WORK/big.yaml")
[ "$size" -ge 10000000 ] && pass "policy set is $((size / 1000000)) MB" || fail "policy set is only $size bytes"
# a small apply and delete first: what every agent has paid once (code pages, first allocations)
printf 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: warm, namespace: default}\nspec:\n  endpointSelector: {matchLabels: {app: target}}\n  ingress: [{fromEndpoints: [{matchLabels: {app: x}}]}]\n' >"$SL_WORK/warm.yaml"
apply "$SL_WORK/warm.yaml" && sl policy delete default/warm >/dev/null
base=$(rss)
t0=$(date +%s%N)
apply "$SL_WORK/big.yaml" && pass "10 MB set applied in $(( ($(date +%s%N) - t0) / 1000000 )) ms" || fail "10 MB set applied"
[ "$(sl policy list | tail -n +2 | wc -l)" = 170 ] && pass "170 policies in force" || fail "policies in force: $(sl policy list | wc -l)"
applied=$(rss)
[ "$applied" -gt $((base * 13 / 10)) ] && pass "the set costs memory: $base kB -> $applied kB" || fail "the set should cost memory: $base kB -> $applied kB"
t0=$(date +%s%N)
for i in $(seq 0 169); do sl policy delete "default/mem-$i" >/dev/null || fail "delete mem-$i"; done
echo "  (170 deletes in $(( ($(date +%s%N) - t0) / 1000000 )) ms)"
[ "$(sl policy list | tail -n +2 | wc -l)" = 0 ] && pass "all deleted" || fail "left: $(sl policy list)"
after=$(rss_within $((base * 13 / 10)))
echo "  RSS: baseline $base kB, applied $applied kB, after delete $after kB"
[ "$after" -le $((base * 13 / 10)) ] && pass "memory returns: $after kB <= 1.3 x $base kB" || fail "memory did not return: $after kB > 1.3 x $base kB (applied $applied kB)"
# a failed apply of the whole set (one bad document at the end) leaves nothing behind either
cp "$SL_WORK/big.yaml" "$SL_WORK/bad.yaml"
printf 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: bad, namespace: default}\nspec: {endpointSelector: {matchLabels: {app: target}}, ingress: [{fromEndpoints: 7}]}\n' >>"$SL_WORK/bad.yaml"
check_not "a set with one bad document is refused whole" sl policy apply -f "$SL_WORK/bad.yaml"
after3=$(rss_within $((base * 13 / 10)))
[ "$after3" -le $((base * 13 / 10)) ] && pass "after a refused 10 MB apply: $after3 kB" || fail "after a refused apply: $after3 kB > 1.3 x $base kB"
st=$(sl status -o json | jq .memory.rss_bytes)
now=$(( $(rss) * 1024 ))
[ "$st" -gt $((now * 8 / 10)) ] && [ "$st" -lt $((now * 12 / 10)) ] && pass "status -o json: memory.rss_bytes ($st) is the agent's RSS" || fail "status rss_bytes $st vs $now"
check "status text shows the memory" sh -c "$SL_BUILD/cli/sluice --socket $SL_SOCK status | grep -qE '^Memory: +[0-9.]+ MiB resident'"

t_finish
