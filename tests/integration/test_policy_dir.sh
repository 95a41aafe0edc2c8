#!/usr/bin/env bash
# --policy-dir as a source of the agent: the files found at start are
# applied in one scan that commits (saves the state) once, a file removed
# takes its policy with it, and the state directory follows each change.
source "$(dirname "$0")/lib.sh"
POLDIR=$(mktemp -d /tmp/sluice-poldir-XXXXXX)
for n in 1 2 3; do
	cat >"$POLDIR/p$n.yaml" <<YAML
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: p$n, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: s$n}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: c}}]
YAML
done
t_begin --policy-dir "$POLDIR"
trap 't_end_trap; rm -rf "$POLDIR"' EXIT

npolicies() { sl policy list 2>/dev/null | grep -cw 'p[0-9]'; }
# state.json is compact JSON: one "name":"pN" per stored policy
nstored() { grep -o '"name":"p[0-9]"' "$SL_STATE/state.json" | wc -l; }

has_n() { [ "$(npolicies)" = "$1" ]; }
wait_until 60 0.5 has_n 3
expect_eq "the three files are applied" 3 "$(npolicies)"
expect_eq "state.json names the three" 3 "$(nstored)"

# the files were there before the agent: one scan, one commit (a
# commit per file would count three)
expect_eq "one scan of three files commits once" 1 "$(status_field commits)"
expect_eq "no failed state save" 0 "$(status_field state_save_failures)"
expect_eq "no failed rollback" 0 "$(status_field rollbacks_failed)"

rm "$POLDIR/p2.yaml"
wait_until 60 0.5 has_n 2
check_not "a removed file deletes its policy" sh -c "$SL_BUILD/cli/sluice --socket $SL_SOCK policy list | grep -qw p2"
expect_eq "state.json follows (two left)" 2 "$(nstored)"

# a policy is its kind, namespace and name: a file that leaves takes its
# CiliumNetworkPolicy "web", not another file's NetworkPolicy "web"
cat >"$POLDIR/knp.yaml" <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: default}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
YAML
cat >"$POLDIR/cnp.yaml" <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: c}}]
YAML
webkinds() { sl policy list -A -o json 2>/dev/null | python3 -c '
import json, sys
print(" ".join(sorted(p["kind"] for p in json.load(sys.stdin)["items"] if p["metadata"]["name"] == "web")))'; }
has_kinds() { [ "$(webkinds)" = "$1" ]; }
wait_until 60 0.5 has_kinds "CiliumNetworkPolicy NetworkPolicy"
expect_eq "two policies named web, a CiliumNetworkPolicy and a NetworkPolicy" \
	"CiliumNetworkPolicy NetworkPolicy" "$(webkinds)"
rm "$POLDIR/cnp.yaml"
wait_until 60 0.5 has_kinds NetworkPolicy
sleep 1.5 # two more rescans: nothing else leaves
expect_eq "the file of the CiliumNetworkPolicy removed: the NetworkPolicy web stays" NetworkPolicy "$(webkinds)"
# the same policy in two files: one file leaving does not take it
cp "$POLDIR/knp.yaml" "$POLDIR/knp-copy.yaml"
sleep 1.5
rm "$POLDIR/knp.yaml"
sleep 1.5
expect_eq "the same NetworkPolicy in two files, one removed: it stays (the other file holds it)" \
	NetworkPolicy "$(webkinds)"
rm "$POLDIR/knp-copy.yaml"
wait_until 60 0.5 has_kinds ""
expect_eq "  and goes with the last file that holds it" "" "$(webkinds)"

# a restarted agent adopts what the state says and the directory agrees
sl_agent_kill TERM
sl_agent_start --policy-dir "$POLDIR"
wait_until 60 0.5 has_n 2
expect_eq "after restart: two policies" 2 "$(npolicies)"
check_not "after restart: p2 stays deleted" sh -c "$SL_BUILD/cli/sluice --socket $SL_SOCK policy list | grep -qw p2"
t_finish
