#!/usr/bin/env bash
# Large policies swapped whole. An endpoint's new policy trie of thousands
# of entries is filled on a second thread while the ipcache takes the new
# prefixes, and swapped in after (agent/regenerate.c, "swaps prepared
# aside"). After each apply exactly the new set is in force, and a set the
# ipcache cannot hold is refused whole: the set in force stays, and the
# trie filled for it is dropped (no map or fd is left behind).
source "$(dirname "$0")/lib.sh"
t_begin

pod default/server app=server
pod default/client app=client
serve default/server tcp:80
W1=$(sl_world_create lg1 23) || { fail "world lg1"; t_finish; } # 198.51.100.94
W2=$(sl_world_create lg2 24) || { fail "world lg2"; t_finish; } # 198.51.100.98
from_w() { ip netns exec "${SL_NSPFX}w$1" python3 "$TOOLS/probe.py" tcp "$IP_server" 80 "${2:-1.0}"; }
wait_host_addr "$(sl_world_host_ip 23)"
wait_host_addr "$(sl_world_host_ip 24)"

# gen FILE NSERVER ALLOWED SECOND_OCTET [NCLIENT]: the policy "large": NSERVER
# fromCIDR /32 rules to the server's port 80 (10.SECOND_OCTET.x.y, never
# routed: no packet goes there), ALLOWED/32 in the middle of them (none
# when NSERVER is 0); with NCLIENT, the policy "large-client" gives the
# client as many toCIDR rules of 10.(SECOND_OCTET+1).x.y
gen() {
	python3 - "$@" <<'PY'
import sys
path, nserver, allowed, octet = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
nclient = int(sys.argv[5]) if len(sys.argv) > 5 else 0
with open(path, "w") as f:
    if nserver:
        f.write("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: large\n  namespace: default\n"
                "spec:\n  endpointSelector:\n    matchLabels:\n      app: server\n  ingress:\n")
    for i in range(nserver):
        cidr = allowed if i == nserver // 2 else f"10.{octet}.{i >> 8}.{i & 255}"
        f.write(f"  - fromCIDR:\n    - {cidr}/32\n    toPorts:\n    - ports:\n      - port: \"80\"\n        protocol: TCP\n")
    if nclient:
        f.write("---\n" if nserver else "")
        f.write("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: large-client\n"
                "  namespace: default\nspec:\n  endpointSelector:\n    matchLabels:\n      app: client\n  egress:\n")
        for i in range(nclient):
            f.write(f"  - toCIDR:\n    - 10.{octet + 1}.{i >> 8}.{i & 255}/32\n    toPorts:\n    - ports:\n"
                    f"      - port: \"{1 + i % 60000}\"\n        protocol: TCP\n")
PY
}
swaps() { status_field policy_map_swaps_prepared; }
# cidr_entries: this run's ipcache entries of CIDR identities (from 1 << 24).
# Not the map's whole count: the host's addresses are in every agent's
# ipcache, and scenarios running beside this one add and remove some.
cidr_entries() {
	bpftool map dump pinned "$SL_PIN/sluice_ipc_v1" -j 2>/dev/null | python3 -c '
import json, sys
print(sum(1 for e in json.load(sys.stdin)
          if int.from_bytes(bytes(int(b, 16) for b in e["value"][:4]), "little") >= 1 << 24))'
}

gen "$SL_WORK/a.yaml" 6000 "$W1" 252
gen "$SL_WORK/b.yaml" 6000 "$W2" 253
gen "$SL_WORK/c.yaml" 40000 "$W1" 250 30000

s0=$(swaps)
apply "$SL_WORK/a.yaml"
s1=$(swaps)
[ "$s1" -gt "$s0" ] && pass "6,001 entries: the server's trie was filled aside ($s0 -> $s1)" ||
	fail "the server's trie should have been filled aside (swaps prepared $s0 -> $s1)"
check "set A: $W1 (rule 3000 of 6000) allowed" from_w lg1
check_not "set A: $W2 dropped" from_w lg2 0.7
check "set A: pod client dropped (fromCIDR never selects a pod)" dropped default/client tcp "$IP_server" 80

apply "$SL_WORK/b.yaml"
s2=$(swaps)
[ "$s2" -gt "$s1" ] && pass "set B: swapped aside again ($s1 -> $s2)" || fail "set B: swaps prepared $s1 -> $s2"
check "set B (6000 other prefixes): $W2 allowed" from_w lg2
check_not "set B: $W1 dropped" from_w lg1 0.7
ipc_b=$(cidr_entries)
expect_eq "set B: its 6,000 prefixes in the ipcache" 6000 "$ipc_b"

# 1,000 prefixes with 70 ports each (two toPorts of 35): 70,000 entries for the server, more
# than its trie holds: refused before anything is written
python3 - "$SL_WORK/full.yaml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: large\n  namespace: default\n"
            "spec:\n  endpointSelector:\n    matchLabels:\n      app: server\n  ingress:\n")
    for i in range(1000):
        f.write(f"  - fromCIDR: [10.254.{i >> 8}.{i & 255}/32]\n    toPorts:\n")
        for p in range(70):  # at most 40 ports per toPorts entry (Cilium's limit)
            f.write("    - ports:\n" if p % 35 == 0 else "")
            f.write(f"      - {{port: \"{1000 + p}\", protocol: TCP}}\n")
PY
check_exit 1 "70,000 entries for one endpoint: the apply is refused" sl policy apply -f "$SL_WORK/full.yaml"
check_said "policy map full: endpoint default/server would need 70000 entries, the map holds 65536"
check "after the refusal set B is in force: $W2 allowed" from_w lg2
check_not "after the refusal: $W1 dropped" from_w lg1 0.7
expect_eq "the ipcache holds set B's prefixes only" "$ipc_b" "$(cidr_entries)"

# 40,000 prefixes for the server and 30,000 for the client: each trie fits
# (65,536 entries), the ipcache does not. The server's trie is filled
# aside while the ipcache write fails.
fds_before=$(ls "/proc/$SL_AGENT_PID/fd" | wc -l)
check_exit 1 "70,000 prefixes: the apply is refused" sl policy apply -f "$SL_WORK/c.yaml"
check_said "ipcache full: the policy set names 70000 CIDR prefixes"
check "after the refusal set B is in force: $W2 allowed" from_w lg2
check_not "after the refusal: $W1 dropped" from_w lg1 0.7
[ "$(swaps)" = "$s2" ] && pass "no trie of the refused set was swapped in" || fail "swaps prepared moved: $s2 -> $(swaps)"
expect_eq "the ipcache holds set B's prefixes again" "$ipc_b" "$(cidr_entries)"
fds_after=$fds_before
for _ in $(seq 1 20); do
	fds_after=$(ls "/proc/$SL_AGENT_PID/fd" | wc -l)
	[ "$fds_after" -le "$fds_before" ] && break
	sleep 0.1
done
[ "$fds_after" -le "$fds_before" ] && pass "the agent holds no fd of the dropped trie ($fds_before -> $fds_after)" ||
	fail "the agent's fds grew: $fds_before -> $fds_after"

# A policy deleted while the agent was down (its prefixes still in the
# pinned ipcache): the restarted agent takes them out. 20,000 of them,
# found after the 20,000 the agent keeps (the pinned trie walks 10.200
# before 10.201); the prune used to walk from the first key again after
# every delete, 20,000 walks of 20,000 keys.
gen "$SL_WORK/keep.yaml" 20000 "$W2" 200
gen "$SL_WORK/gone.yaml" 0 "$W2" 200 20000
apply "$SL_WORK/keep.yaml"
apply "$SL_WORK/gone.yaml"
ipc_both=$(cidr_entries)
expect_eq "both sets: 40,000 prefixes in the ipcache" 40000 "$ipc_both"
check "20,000 prefixes kept: $W2 allowed" from_w lg2
sl_agent_kill KILL
python3 - "$SL_STATE/state.json" <<'PY'
import json, sys
p = sys.argv[1]
s = json.load(open(p))
s["policies"] = [x for x in s["policies"] if x["name"] != "large-client"]
json.dump(s, open(p, "w"))
PY
t0=$(date +%s%N)
sl_agent_start || fail "the agent restarts"
pruned() { [ "$(cidr_entries)" = $((ipc_both - 20000)) ]; }
wait_until 240 0.5 pruned
echo "  (restart and prune: $(( ($(date +%s%N) - t0) / 1000000 )) ms)"
expect_eq "restarted: the deleted policy's 20,000 prefixes are gone, the kept ones stay" \
	$((ipc_both - 20000)) "$(cidr_entries)"
check_not "restarted: large-client is not in force" sh -c "'$SL_BUILD/cli/sluice' --socket '$SL_SOCK' policy list | grep -q large-client"
check "restarted: $W2 allowed" from_w lg2
check_not "restarted: $W1 dropped" from_w lg1 0.7

sl policy delete default/large >/dev/null
check "deleted: $W1 reaches the server" from_w lg1
check "deleted: $W2 reaches the server" from_w lg2

t_finish
