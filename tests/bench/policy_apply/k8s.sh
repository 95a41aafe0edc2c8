#!/usr/bin/env bash
# k8s.sh - one rule of a CiliumNetworkPolicy changed through the Kubernetes
# API, at many rules: what the agent in Kubernetes mode pays for it.
#
#   sudo tests/bench/policy_apply/k8s.sh [BUILD_DIR]
#
# Environment: POLICIES (CiliumNetworkPolicy objects, default 25), RULES
# (ingress rules per object, default 1000: 25 x 1000 = 25,000 rules; one
# object of 25,000 rules would pass etcd's 1.5 MiB request limit), REPEAT
# (changes per row, the median is shown, default 5).
#
# A real kube-apiserver on loopback and an agent in Kubernetes mode
# (tests/k8s/agents.sh: its own slot, pins, cgroup, netns prefix), one
# local pod that every object selects; each rule is the l4_scaling bench's
# shape (a source /32 and a port). Then, side by side in one run, on the
# same object:
#   one rule changed     `kubectl apply` of the object with one port
#                        changed: the agent parses and compiles that item
#                        alone (policy/edit.c on the object's JSON text)
#   two rules changed    the same with two ports changed: no one-item edit,
#                        so the object is parsed whole and every rule of
#                        every object compiled (what any change cost before)
# For each: the agent's own figure (`sluice status -o json`
# last_policy_apply_us, phases in last_policy_apply_phases_us) and the wall
# clock from `kubectl apply` to the agent having applied it (the watch
# event's trip included; polled every 10 ms, so +-10 ms).
set -u
BENCH_BUILD=$(cd "${1:-build}" && pwd)
export SL_BUILD=$BENCH_BUILD
POLICIES=${POLICIES:-25}
RULES=${RULES:-1000}
REPEAT=${REPEAT:-5}
source "$(dirname "$0")/../../k8s/agents.sh"

ka_begin a
ka_start a || { echo "k8s.sh: the agent did not start in Kubernetes mode" >&2; exit 1; }
kpod a default/server app=server

# object P's YAML, rule R's port being PORT(P, R) unless changed
gen() { # FILE POLICY [R=PORT ...]
	python3 - "$@" <<'PY'
import sys
path, p = sys.argv[1], int(sys.argv[2])
over = {int(k): v for k, v in (a.split("=") for a in sys.argv[3:])}
rules = int(__import__("os").environ["RULES"])
out = [f"apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: bench-{p}\n"
       "spec:\n  endpointSelector:\n    matchLabels:\n      app: server\n  ingress:\n"]
for r in range(rules):
    n = p * rules + r
    port = over.get(r, str(10000 + r % 50000))
    out.append(f"  - fromCIDR:\n    - 10.{100 + n // 65536}.{n // 256 % 256}.{n % 256}/32\n"
               f"    toPorts:\n    - ports:\n      - port: \"{port}\"\n        protocol: TCP\n")
open(path, "w").write("".join(out))
PY
}
export RULES
stat_field() { ka a status -o json | python3 -c "import json,sys; s=json.load(sys.stdin); print(s[sys.argv[1]])" "$1"; }

t0=$(date +%s%N)
for ((p = 0; p < POLICIES; p++)); do
	gen "$KA_WORK/p$p.yaml" "$p"
	kc apply -f "$KA_WORK/p$p.yaml" >/dev/null || { echo "k8s.sh: kubectl apply failed" >&2; exit 1; }
done
kwait 300 bash -c "[ \"\$(ka a policy list | grep -c 'k8s:ciliumnetworkpolicies/default/bench-')\" = $POLICIES ]" ||
	{ echo "k8s.sh: the agent did not load the $POLICIES objects" >&2; exit 1; }
echo "$POLICIES objects x $RULES rules in force ($(( (POLICIES * RULES) )) rules) after $(( ($(date +%s%N) - t0) / 1000000 )) ms (kubectl included)"

# one change: kubectl apply of FILE, wait until COUNTER moved; prints
# "agent_us wall_ms"
change() { # FILE COUNTER
	local before after t1 t2
	before=$(stat_field "$2")
	t1=$(date +%s%N)
	kc apply -f "$1" >/dev/null
	for ((i = 0; i < 3000; i++)); do
		after=$(stat_field "$2")
		[ "$after" != "$before" ] && break
		sleep 0.01
	done
	t2=$(date +%s%N)
	[ "$after" != "$before" ] || { echo "k8s.sh: $2 did not move" >&2; exit 1; }
	echo "$(stat_field last_policy_apply_us) $(( (t2 - t1) / 1000000 ))"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

: >"$KA_WORK/one" && : >"$KA_WORK/two"
last=$((RULES - 1))
last_port=$((10000 + last % 50000))
for ((r = 0; r < REPEAT; r++)); do
	# rule 7 only (the last rule keeps the port the previous change gave it)
	gen "$KA_WORK/e.yaml" 0 "7=$((20000 + r))" "$last=$last_port"
	change "$KA_WORK/e.yaml" policy_item_edits >>"$KA_WORK/one"
	last_port=$((40000 + r))
	gen "$KA_WORK/e.yaml" 0 "7=$((30000 + r))" "$last=$last_port"
	change "$KA_WORK/e.yaml" regenerations >>"$KA_WORK/two"
done
one_us=$(cut -d' ' -f1 "$KA_WORK/one" | median)
one_ms=$(cut -d' ' -f2 "$KA_WORK/one" | median)
two_us=$(cut -d' ' -f1 "$KA_WORK/two" | median)
two_ms=$(cut -d' ' -f2 "$KA_WORK/two" | median)
phases=$(ka a status -o json | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["last_policy_apply_phases_us"]))')
echo
echo "| change of bench-0 (of $((POLICIES * RULES)) rules) | agent (last_policy_apply_us) | kubectl apply to applied |"
echo "|---|---:|---:|"
printf '| one rule changed (one-item edit) | %.2f ms | %s ms |\n' "$(echo "$one_us / 1000" | bc -l)" "$one_ms"
printf '| two rules changed (whole object, every rule compiled) | %.2f ms | %s ms |\n' "$(echo "$two_us / 1000" | bc -l)" "$two_ms"
printf 'one rule vs two: %.1fx less agent time\n' "$(echo "$two_us / $one_us" | bc -l)"
echo "last (two rules) phases: $phases"
echo "edits counted: $(stat_field policy_item_edits) (the one-rule changes must all be edits)"
t_finish
