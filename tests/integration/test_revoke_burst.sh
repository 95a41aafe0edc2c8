#!/usr/bin/env bash
# Revocation at scale: a busy node holds tens of thousands of conntrack
# entries between the same few pods and ports. When a change revokes their
# right, every entry that relied on it goes, and the walk asks the kernel's
# maps one verdict per (endpoint, peer, direction, protocol, port), not one
# per entry. The entries are real conntrack entries of the agent's map:
# one real connection's entries, copied with other source ports (what a
# burst of short connections from one client leaves), next to the entries of
# a port that stays allowed, which must all stay.
source "$(dirname "$0")/lib.sh"
t_begin

N=${REVOKE_BURST_N:-20000}
pod default/client app=client
pod default/server app=server
serve default/server tcp:8081 tcp:8082
cat >"$SL_WORK/p.yaml" <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: server}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts: [{ports: [{port: "8081", protocol: TCP}, {port: "8082", protocol: TCP}]}]
YAML
apply "$SL_WORK/p.yaml"
check "client reaches server:8081" can default/client tcp "$IP_server" 8081
check "client reaches server:8082" can default/client tcp "$IP_server" 8082

# ct_count DPORT: the server's ingress entries to that port in this run's
# conntrack map (bpftool's JSON: key and value as byte arrays; the key is
# struct sluice_ct_key). The client's egress entries of the same flows
# stay: its egress is not enforced.
ct_count() {
	bpftool map dump pinned "$SL_PIN/sluice_ct_v1" -j 2>/dev/null | python3 -c '
import json, sys
port = int(sys.argv[1])
n = 0
for e in json.load(sys.stdin):
    k = bytes(int(b, 16) for b in e["key"])
    if int.from_bytes(k[34:36], "little") == port and k[36] == 6 and k[37] == 0:
        n += 1
print(n)' "$1"
}

# N/2 copies of each port's entries, each with a source port of its own
bpftool map dump pinned "$SL_PIN/sluice_ct_v1" -j | python3 -c '
import json, sys
n, pin, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
seeds = []
for e in json.load(sys.stdin):
    k = bytes(int(b, 16) for b in e["key"])
    if int.from_bytes(k[34:36], "little") in (8081, 8082) and k[36] == 6:
        seeds.append((k, bytes(int(b, 16) for b in e["value"])))
assert seeds, "no conntrack entry for the probes"
hexs = lambda b: " ".join("%02x" % x for x in b)
with open(out, "w") as f:
    for i in range(n // len(seeds) + 1):
        for k, v in seeds:
            # sport (bytes 32..33, host order): 20000 + i, away from the
            # probes ephemeral range
            k2 = k[:32] + (20000 + i).to_bytes(2, "little") + k[34:]
            f.write("map update pinned %s key hex %s value hex %s\n" % (pin, hexs(k2), hexs(v)))
print(len(seeds))' "$N" "$SL_PIN/sluice_ct_v1" "$SL_WORK/ct.batch" >"$SL_WORK/seeds" ||
	fail "could not read the conntrack entries of the probes"
bpftool batch file "$SL_WORK/ct.batch" >/dev/null 2>&1 || fail "bpftool batch: could not write the entries"
before81=$(ct_count 8081)
before82=$(ct_count 8082)
[ "$before81" -ge $((N / 4)) ] && [ "$before82" -ge $((N / 4)) ] &&
	pass "conntrack holds $before81 entries to 8081 and $before82 to 8082 ($(cat "$SL_WORK/seeds") real ones copied)" ||
	fail "conntrack holds $before81 / $before82 entries, want >= $((N / 4)) each"

walks0=$(sl status -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["revalidation"]["walks"])')
sed -i 's/{port: "8081", protocol: TCP}, //' "$SL_WORK/p.yaml"
apply "$SL_WORK/p.yaml"
walked() { [ "$(sl status -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["revalidation"]["walks"])')" -gt "$walks0" ]; }
for i in $(seq 1 200); do walked && break; sleep 0.05; done
check "the change was followed by a conntrack walk" walked
read -r entries lookups us <<<"$(sl status -o json | python3 -c '
import json, sys
r = json.load(sys.stdin)["revalidation"]
print(r["last_entries"], r["last_verdict_lookups"], r["last_us"])')"
after81=$(ct_count 8081)
after82=$(ct_count 8082)
[ "$after81" = 0 ] && pass "every entry to the revoked port is gone ($before81 -> 0)" ||
	fail "$after81 of $before81 entries to the revoked port are left"
[ "$after82" -ge "$before82" ] && pass "the entries to the port that stays allowed stay ($after82)" ||
	fail "entries to the allowed port went: $before82 -> $after82"
[ "$entries" -ge $((before81 + before82)) ] && pass "the walk looked at $entries entries" ||
	fail "the walk looked at $entries entries, fewer than the $((before81 + before82)) there were"
# one per (endpoint, peer, direction, protocol, port): a handful, whatever N
[ "$lookups" -le 16 ] && pass "... and asked the kernel $lookups verdicts for them (walk: $us us)" ||
	fail "the walk asked $lookups verdicts for $entries entries (want <= 16; walk: $us us)"
# the same walk on /metrics
M=http://127.0.0.1:$SL_METRICS_PORT/metrics
metric() { curl -s "$M" | awk -v k="$1" '$1 == k { print $2 }'; }
mw=$(metric sluice_revalidation_walks_total)
[ "${mw:-0}" -gt "$walks0" ] && pass "sluice_revalidation_walks_total counts the walk ($mw)" ||
	fail "sluice_revalidation_walks_total ${mw:-missing}, want > $walks0"
[ -n "$(metric sluice_connections_cut_total)" ] && pass "sluice_connections_cut_total is exported" ||
	fail "sluice_connections_cut_total missing"
check "new connections to the revoked port are dropped" dropped default/client tcp "$IP_server" 8081
check "the allowed port still connects" can default/client tcp "$IP_server" 8082
t_finish
