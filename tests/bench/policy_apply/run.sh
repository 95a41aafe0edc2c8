#!/usr/bin/env bash
# run.sh - how long it takes to put N L4 rules in force, and to change one
# of 25k: sluice (`sluice policy apply`) against iptables-restore, one
# iptables command per rule, `nft -f` (a chain, and a set) and ipset.
#
#   sudo tests/bench/policy_apply/run.sh [BUILD_DIR]
#
# Environment: RULES (default "1000 10000 25000"; the one-rule change is
# made at the largest), IDS (pod identities of the sluice-only part, default
# 5000), REPEAT (runs per measurement, the median is shown,
# default 3), CMD_LIMIT (seconds one "command per rule" series may take
# before it is stopped and reported as "> CMD_LIMIT s", default 60), OUT (a
# directory to keep the raw results in).
#
# The rules are the l4_scaling bench's (../l4_scaling/gen_rules.py): N allow
# rules (source /32, destination port) plus one for the client, default
# deny. sluice applies them as one CiliumNetworkPolicy to a local pod of its
# own instance (pins, child cgroup, netns prefix bnp-, pod CIDR
# 10.244.243.0/24); the others load them into a scratch network namespace
# created here (bnp-scratch), never into the host's tables. Every time is
# wall clock around the whole command, process start included; for sluice
# the agent's own figure (`sluice status -o json` last_policy_apply_us:
# compile, map writes, state save) is shown too. sluice's one-rule change
# is measured twice: applying the changed copy of the file (as the table
# shows it), and the file edited in place and applied again under its name
# (a line after the tables), as a user edits and re-applies a policy.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
SL_ROOT=$(cd "$HERE/../../.." && pwd)
SL_BUILD=$(cd "${1:-$SL_ROOT/build}" 2>/dev/null && pwd) || { echo "no build dir ${1:-}" >&2; exit 1; }
RULES=${RULES:-"1000 10000 25000"}
REPEAT=${REPEAT:-3}
IDS=${IDS:-5000}
CMD_LIMIT=${CMD_LIMIT:-60}
GEN=$SL_ROOT/tests/bench/l4_scaling/gen_rules.py

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
for b in "$SL_BUILD/agent/sluiced" "$SL_BUILD/cli/sluice"; do
	[ -x "$b" ] || { echo "missing $b (build sluiced and sluice first)" >&2; exit 1; }
done
for t in iptables-legacy iptables-legacy-restore iptables-nft iptables-nft-restore ipset nft python3; do
	command -v "$t" >/dev/null || { echo "missing $t (apt-get install -y iptables ipset nftables)" >&2; exit 1; }
done
for v in "$REPEAT" "$CMD_LIMIT"; do
	case "$v" in '' | *[!0-9]*) echo "REPEAT and CMD_LIMIT are whole numbers" >&2; exit 1 ;; esac
done
if [ "$REPEAT" -lt 1 ] || [ "$REPEAT" -gt 20 ] || [ "$CMD_LIMIT" -lt 1 ] || [ "$CMD_LIMIT" -gt 600 ]; then
	echo "REPEAT 1..20, CMD_LIMIT 1..600" >&2
	exit 1
fi

# shellcheck source=../../../scripts/standalone.sh
source "$SL_ROOT/scripts/standalone.sh"
# shellcheck disable=SC2034 # read by standalone.sh
SL_NSPFX=bnp- SL_METRICS_PORT=19243
SL_WORK=/tmp/sluice-bench-apply-$$
sl_instance_init bench-apply 10.244.243.0/24
SCRATCH=bnp-scratch

bench_cleanup() {
	[ -n "${OUT:-}" ] && mkdir -p "$OUT" && cp "$SL_WORK/results" "$OUT/" 2>/dev/null
	# the scratch netns holds every iptables/nft/ipset rule loaded here:
	# deleting it removes them all (sl_cleanup deletes bnp-* too)
	ip netns del "$SCRATCH" 2>/dev/null
	sl_cleanup
	rm -rf "$SL_WORK"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

if ip netns list | grep -qw "$SCRATCH"; then
	echo "netns $SCRATCH exists: another run of this bench? (ip netns del $SCRATCH)" >&2
	trap - EXIT
	exit 1
fi
sl_agent_start || exit 1
sl pod create bench/server --labels app=bench-server --port http=80/TCP >/dev/null || exit 1
CLIENT_IP=$(sl pod create bench/client --labels app=bench-client) || exit 1
ip netns add "$SCRATCH" || exit 1
nsx() { ip netns exec "$SCRATCH" "$@"; }

now_us() { echo $(($(date +%s%N) / 1000)); }
RESULTS=$SL_WORK/results
: >"$RESULTS"
record() { echo "$*" >>"$RESULTS"; } # record SERIES CASE MICROSECONDS

# ---- the rule files, written before anything is timed ---------------------

F=$SL_WORK/rules
mkdir -p "$F"
NMAX=0
for n in $RULES; do
	[ "$n" -gt "$NMAX" ] && NMAX=$n
	for fmt in sluice iptables iptables-cmds ipset nft-chain nft-set; do
		python3 "$GEN" "$fmt" "$n" "$CLIENT_IP" 80 >"$F/$fmt.$n" || exit 1
	done
done
for fmt in sluice iptables nft-chain nft-set; do
	python3 "$GEN" "$fmt" "$NMAX" "$CLIENT_IP" 80 --change >"$F/$fmt.$NMAX.change" || exit 1
done
# the changed rule, and the command form of the change, for every tool
MID=$((NMAX / 2))
MID_IP=$(printf '10.250.%d.%d' $((MID >> 8)) $((MID & 255)))
MID_OLD=$((10000 + MID))
MID_NEW=9000

rules_clear() {
	nsx iptables-legacy -F INPUT 2>/dev/null
	nsx iptables-legacy -P INPUT ACCEPT 2>/dev/null
	nsx ipset destroy 2>/dev/null
	nsx nft flush ruleset 2>/dev/null
	return 0
}

# timed SERIES CASE CMD... : runs CMD (stdin from the caller) and records
# its wall-clock time; fails when CMD fails
timed() {
	local series=$1 case=$2 t0 t1
	shift 2
	t0=$(now_us)
	"$@" >/dev/null || { echo "  $series $case: failed" >&2; return 1; }
	t1=$(now_us)
	record "$series" "$case" $((t1 - t0))
}

# ---- sluice ----------------------------------------------------------------

sluice_apply() { # sluice_apply FILE CASE [SERIES] : timed apply, plus the agent's figure
	local series=${3:-sluice}
	timed "$series-cli" "$2" sl policy apply -f "$1" || return 1
	record "$series-agent" "$2" "$(sl status -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["last_policy_apply_us"])')"
}

echo "sluice policy apply bench: $(nproc) vCPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
for n in $RULES; do
	for _ in $(seq 1 "$REPEAT"); do
		sl policy delete bench/bench-rules >/dev/null 2>&1
		sluice_apply "$F/sluice.$n" "$n" || exit 1
	done
	echo "  sluice $n rules: done"
done
# one rule changed at NMAX, then changed back: each is a one-rule change
sl policy delete bench/bench-rules >/dev/null 2>&1
sl policy apply -f "$F/sluice.$NMAX" >/dev/null || exit 1
for i in $(seq 1 "$REPEAT"); do
	if [ $((i % 2)) = 1 ]; then f=$F/sluice.$NMAX.change; else f=$F/sluice.$NMAX; fi
	sluice_apply "$f" change || exit 1
done
sl policy delete bench/bench-rules >/dev/null 2>&1
# the same change as a user makes it: the file edited in place and applied
# again under its name (applying another file also rewrites the state
# directory's state.json, which records where each policy came from)
cp "$F/sluice.$NMAX" "$F/sluice.inplace"
sl policy apply -f "$F/sluice.inplace" >/dev/null || exit 1
for i in $(seq 1 "$REPEAT"); do
	if [ $((i % 2)) = 1 ]; then cp "$F/sluice.$NMAX.change" "$F/sluice.inplace"; else cp "$F/sluice.$NMAX" "$F/sluice.inplace"; fi
	sluice_apply "$F/sluice.inplace" inplace || exit 1
done
sl policy delete bench/bench-rules >/dev/null 2>&1
# the same change at 10 rules, for scale
python3 "$GEN" sluice 10 "$CLIENT_IP" 80 >"$F/sluice.10" || exit 1
python3 "$GEN" sluice 10 "$CLIENT_IP" 80 --change >"$F/sluice.10.change" || exit 1
sl policy apply -f "$F/sluice.10" >/dev/null || exit 1
for i in $(seq 1 "$REPEAT"); do
	if [ $((i % 2)) = 1 ]; then f=$F/sluice.10.change; else f=$F/sluice.10; fi
	sluice_apply "$f" change10 || exit 1
done
sl policy delete bench/bench-rules >/dev/null 2>&1
echo "  sluice one-rule change: done"

# ---- sluice with IDS pod identities -----------------------------------------
# IDS pods of other nodes (one identity each), imported in one request; a
# policy of IDS rules naming them by label; then the NMAX CIDR rules on top
# (NMAX + IDS rules, NMAX + IDS + 2 identities), and one rule of each changed.
python3 "$GEN" pods "$IDS" "$CLIENT_IP" 80 >"$F/pods.$IDS" || exit 1
python3 "$GEN" sluice-ids "$IDS" "$CLIENT_IP" 80 >"$F/sluice-ids.$IDS" || exit 1
python3 "$GEN" sluice-ids "$IDS" "$CLIENT_IP" 80 --change >"$F/sluice-ids.$IDS.change" || exit 1
timed sluice-ids-cli import sl pod import "$F/pods.$IDS" || exit 1
for _ in $(seq 1 "$REPEAT"); do
	sl policy delete bench/bench-ids >/dev/null 2>&1
	sluice_apply "$F/sluice-ids.$IDS" ids sluice-ids || exit 1
done
for i in $(seq 1 "$REPEAT"); do
	if [ $((i % 2)) = 1 ]; then f=$F/sluice-ids.$IDS.change; else f=$F/sluice-ids.$IDS; fi
	sluice_apply "$f" ids-change sluice-ids || exit 1
done
sl policy apply -f "$F/sluice-ids.$IDS" >/dev/null || exit 1
for _ in $(seq 1 "$REPEAT"); do
	sl policy delete bench/bench-rules >/dev/null 2>&1
	sluice_apply "$F/sluice.$NMAX" all sluice-ids || exit 1
done
for i in $(seq 1 "$REPEAT"); do
	if [ $((i % 2)) = 1 ]; then f=$F/sluice.$NMAX.change; else f=$F/sluice.$NMAX; fi
	sluice_apply "$f" all-change sluice-ids || exit 1
done
sl policy delete bench/bench-rules >/dev/null 2>&1
sl policy delete bench/bench-ids >/dev/null 2>&1
echo "  sluice with $IDS pod identities: done"

# ---- iptables-restore, nft -f, ipset restore --------------------------------

for tool in iptables-legacy iptables-nft; do
	for n in $RULES; do
		for _ in $(seq 1 "$REPEAT"); do
			rules_clear
			timed "$tool-restore" "$n" nsx "$tool-restore" <"$F/iptables.$n" || exit 1
		done
	done
	# one rule of NMAX: the whole table restored, and one `-R` command
	rules_clear
	nsx "$tool-restore" <"$F/iptables.$NMAX" || exit 1
	for i in $(seq 1 "$REPEAT"); do
		if [ $((i % 2)) = 1 ]; then f=$F/iptables.$NMAX.change; p=$MID_NEW; else f=$F/iptables.$NMAX; p=$MID_OLD; fi
		timed "$tool-restore" change nsx "$tool-restore" <"$f" || exit 1
		timed "$tool-cmd" change nsx "$tool" -R INPUT $((MID + 1)) -s "$MID_IP/32" -p tcp -m tcp \
			--dport "$p" -j ACCEPT || exit 1
	done
	echo "  $tool-restore: done"
done

for n in $RULES; do
	for _ in $(seq 1 "$REPEAT"); do
		rules_clear
		timed nft-chain "$n" nsx nft -f "$F/nft-chain.$n" || exit 1
		rules_clear
		timed nft-set "$n" nsx nft -f "$F/nft-set.$n" || exit 1
		rules_clear
		timed ipset "$n" nsx ipset restore <"$F/ipset.$n" || exit 1
	done
done
# one rule of NMAX, nft chain: the whole file again, and one `replace rule`
rules_clear
nsx nft -f "$F/nft-chain.$NMAX" || exit 1
handle=$(nsx nft -a list chain ip sluice_bench input | awk -v m="ip saddr $MID_IP tcp dport $MID_OLD accept" 'index($0, m) { print $NF }')
[ -n "$handle" ] || { echo "no nft handle for the changed rule" >&2; exit 1; }
for i in $(seq 1 "$REPEAT"); do
	if [ $((i % 2)) = 1 ]; then f=$F/nft-chain.$NMAX.change; p=$MID_NEW; else f=$F/nft-chain.$NMAX; p=$MID_OLD; fi
	timed nft-chain change nsx nft -f "$f" || exit 1
	handle=$(nsx nft -a list chain ip sluice_bench input | awk -v m="ip saddr $MID_IP tcp dport" 'index($0, m) { print $NF }')
	timed nft-chain-cmd change nsx nft replace rule ip sluice_bench input handle "$handle" \
		ip saddr "$MID_IP" tcp dport "$p" accept || exit 1
done
# nft set and ipset: one element out, one in (one transaction / one restore)
rules_clear
nsx nft -f "$F/nft-set.$NMAX" || exit 1
for i in $(seq 1 "$REPEAT"); do
	if [ $((i % 2)) = 1 ]; then o=$MID_OLD; p=$MID_NEW; else o=$MID_NEW; p=$MID_OLD; fi
	printf 'delete element ip sluice_bench allowed { %s . %s }\nadd element ip sluice_bench allowed { %s . %s }\n' \
		"$MID_IP" "$o" "$MID_IP" "$p" >"$SL_WORK/nft-change"
	timed nft-set change nsx nft -f "$SL_WORK/nft-change" || exit 1
done
rules_clear
nsx ipset restore <"$F/ipset.$NMAX" || exit 1
for i in $(seq 1 "$REPEAT"); do
	if [ $((i % 2)) = 1 ]; then o=$MID_OLD; p=$MID_NEW; else o=$MID_NEW; p=$MID_OLD; fi
	printf 'del sluice_bench %s,tcp:%s\nadd sluice_bench %s,tcp:%s\n' "$MID_IP" "$o" "$MID_IP" "$p" >"$SL_WORK/ipset-change"
	timed ipset change nsx ipset restore <"$SL_WORK/ipset-change" || exit 1
done
echo "  nft -f, ipset restore: done"

# ---- one iptables command per rule, bounded by CMD_LIMIT --------------------

# cmd_series TOOL N : appends the N rules one `TOOL -A` process at a time;
# records the time, or "limit DONE" when CMD_LIMIT ran out first
cmd_series() {
	local tool=$1 n=$2 t0 out
	rules_clear
	t0=$(now_us)
	# shellcheck disable=SC2016
	out=$(nsx bash -c '
		tool=$1 limit=$2 done=0 start=$SECONDS
		while read -r line; do
			# shellcheck disable=SC2086
			$tool $line || exit 1
			done=$((done + 1))
			if [ $((SECONDS - start)) -ge "$limit" ]; then echo "limit $done"; exit 0; fi
		done
		echo "all $done"' _ "$tool" "$CMD_LIMIT" <"$F/iptables-cmds.$n") || { echo "  $tool -A: failed" >&2; return 1; }
	case $out in
	all*) record "$tool-cmd" "$n" $(($(now_us) - t0)) ;;
	*) record "$tool-cmd" "$n" "limit:${out#limit }:$(($(now_us) - t0))" ;;
	esac
}
for tool in iptables-legacy iptables-nft; do
	for n in $RULES; do
		cmd_series "$tool" "$n" || exit 1
		echo "  $tool, one command per rule, $n rules: $(tail -1 "$RESULTS" | cut -d' ' -f3)"
		case $(tail -1 "$RESULTS") in *limit:*) break ;; esac
	done
done
rules_clear

python3 - "$RESULTS" "$RULES" "$NMAX" "$IDS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
ns = sys.argv[2].split()
nmax = sys.argv[3]
data = {}
for series, case, v in rows:
    data.setdefault((series, case), []).append(v)

def cell(series, case):
    vs = data.get((series, case))
    if not vs:
        return None, ""
    if vs[0].startswith("limit:"):
        _, done, us = vs[0].split(":")
        return None, "> %.0f s (%s rules in %.0f s)" % (float(us) / 1e6, done, float(us) / 1e6)
    us = statistics.median(float(v) for v in vs)
    return us, ("%.2f ms" % (us / 1e3) if us < 10e3 else "%.0f ms" % (us / 1e3))

series = [
    ("sluice-agent", "sluice, agent (last_policy_apply_us)", "policy apply of the changed file"),
    ("sluice-cli", "sluice, `sluice policy apply` end to end", "policy apply of the changed file"),
    ("iptables-legacy-restore", "iptables-legacy-restore", "whole table restored"),
    ("iptables-legacy-cmd", "iptables-legacy, one command per rule", "`iptables -R` (one command)"),
    ("iptables-nft-restore", "iptables-nft-restore", "whole table restored"),
    ("iptables-nft-cmd", "iptables-nft, one command per rule", "`iptables -R` (one command)"),
    ("nft-chain", "nft -f, linear chain", "whole table reloaded"),
    ("nft-chain-cmd", "nft, one command", "`nft replace rule` (one command)"),
    ("nft-set", "nft -f, set", "delete + add element (one nft -f)"),
    ("ipset", "ipset restore", "del + add (one ipset restore)"),
]
print()
print("| | " + " | ".join("%s rules" % n for n in ns) + " | one rule changed at %s | how the change is made |" % nmax)
print("|---|" + "---:|" * len(ns) + "---:|---|")
ref = {}
for key, label, how in series:
    cells = [cell(key, n) for n in ns] + [cell(key, "change")]
    if not any(c[1] for c in cells):
        continue
    if key == "sluice-cli":
        ref = {c: v for c, v in zip(ns + ["change"], [x[0] for x in cells])}
    print("| %s | %s | %s |" % (label, " | ".join(c[1] or "-" for c in cells), how))
def fmt_ratio(r):
    return "%.0f" % r if r >= 10 else "%.2f" % r if r >= 0.1 else "%.2g" % r

print()
print("ratios: time of the other tool / time of sluice end to end (above 1: sluice faster)\n")
print("| | " + " | ".join("%s rules" % n for n in ns) + " | one rule changed at %s |" % nmax)
print("|---|" + "---:|" * (len(ns) + 1))
for key, label, how in series:
    if key.startswith("sluice"):
        continue
    out = []
    for c in ns + ["change"]:
        us, text = cell(key, c)
        if us is None and text.startswith(">"):
            lim = float(text.split()[1])
            out.append("> %sx" % fmt_ratio(lim * 1e6 / ref[c]) if ref.get(c) else "-")
        elif us is not None and ref.get(c):
            out.append("%sx" % fmt_ratio(us / ref[c]))
        else:
            out.append("-")
    print("| %s | %s |" % (label, " | ".join(out)))
ids = sys.argv[4]
cases = [("import", "import %s pods (one `sluice pod import`)" % ids),
         ("ids", "%s rules naming them by label" % ids),
         ("ids-change", "one of those rules changed"),
         ("all", "+ %s CIDR rules (%d rules in all)" % (nmax, int(nmax) + int(ids))),
         ("all-change", "one CIDR rule changed (of %d)" % (int(nmax) + int(ids)))]
if data.get(("sluice-ids-cli", "ids")):
    print("\nsluice with %s pod identities (pods of other nodes, one identity each):\n" % ids)
    print("| | " + " | ".join(c[1] for c in cases) + " |")
    print("|---|" + "---:|" * len(cases))
    for key, label in (("sluice-ids-agent", "agent (last_policy_apply_us)"),
                       ("sluice-ids-cli", "end to end")):
        print("| %s | %s |" % (label, " | ".join(cell(key, c)[1] or "-" for c, _ in cases)))
t = [cell(k, "change10")[1] for k in ("sluice-agent", "sluice-cli")]
if all(t):
    print("\nsluice, the same one-rule change at 10 rules: agent %s, end to end %s" % tuple(t))
t = [cell(k, "inplace")[1] for k in ("sluice-agent", "sluice-cli")]
if all(t):
    print("sluice, the one-rule change at %s with the file edited in place (applied again under its name): agent %s, end to end %s"
          % ((nmax,) + tuple(t)))
a = data.get(("sluice-agent", nmax))
c = data.get(("sluice-agent", "change"))
ip = data.get(("sluice-agent", "inplace"))
if a and c:
    am = statistics.median(float(v) for v in a) / 1e3
    cm = statistics.median(float(v) for v in c) / 1e3
    print("\nsluice targets: apply of %s rules %.1f ms (target < 50 ms: %s), one-rule change %.2f ms (target < 1 ms: %s)"
          % (nmax, am, "met" if am < 50 else "NOT met", cm, "met" if cm < 1 else "NOT met"), end="")
    if ip:
        im = statistics.median(float(v) for v in ip) / 1e3
        print(", %.2f ms edited in place (%s)" % (im, "met" if im < 1 else "NOT met"))
    else:
        print()
PY
