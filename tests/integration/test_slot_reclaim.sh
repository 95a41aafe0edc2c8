#!/usr/bin/env bash
# A run killed before its cleanup (a ctest timeout's SIGKILL) leaves its
# slot with a dead owner and its leftovers on the host. The slot's next
# claim removes them: here a slot is given a dead owner and real leftovers
# made by this test (netns with a veth and a process in it, a pin directory
# with a pinned map, a cgroup with a process, blackhole routes of the
# slot's CIDRs, the state directory with the "proxy" the agent started, a
# world index with its netns and host link, recorded processes), then
# claimed again. Decoys that do not carry the slot's names, or a recorded
# PID whose command line no longer matches, must survive.
source "$(dirname "$0")/lib.sh"

WORK=$(mktemp -d /tmp/sluice-it-reclaim-test.XXXXXX)
PIDS=()
DECOY_NS=sreclaim-decoy-$$
DECOY_PIN=/sys/fs/bpf/hyg-decoy-$$
LIVE_PIN=/sys/fs/bpf/sluice-it-reclaim-$$
WORLD=
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	[ -n "${IDX:-}" ] && t_slot_reclaim "$IDX" "$WORK/none" "${DEAD:-x}" >/dev/null 2>&1
	if [ -n "${IDX2:-}" ]; then
		ip netns del "it$IDX2-pod1" 2>/dev/null
		[ "$(cat "/tmp/sluice-it-slot-$IDX2/pid" 2>/dev/null)" = "${DEAD:-x}" ] && rm -rf "/tmp/sluice-it-slot-$IDX2"
	fi
	[ -n "${DEAD:-}" ] && rm -rf "/sys/fs/bpf/sluice-it-reclaim-$DEAD" "/tmp/sluice-it-reclaim-$DEAD" &&
		sl_rm_cgroup "$SL_CGROUP_BASE/sluice-it-reclaim-$DEAD"
	[ -n "${IDX:-}" ] && ip netns del "it$IDX-old" 2>/dev/null
	ip netns pids "$DECOY_NS" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	ip netns del "$DECOY_NS" 2>/dev/null
	rm -rf "$DECOY_PIN" "$LIVE_PIN" "$WORK"
	[ -n "${IDX:-}" ] && rm -rf "/sys/fs/bpf/sluice-k8s-$IDX"
	rmdir "$SL_CGROUP_BASE/sluice-it-reclaim-$$" 2>/dev/null
	if [ -n "$WORLD" ] && [ "$(cat "/tmp/sluice-world-$WORLD/pid" 2>/dev/null)" = "${DEAD:-x}" ]; then
		sl_world_reclaim "/tmp/sluice-world-$WORLD" 2>/dev/null
		rm -rf "/tmp/sluice-world-$WORLD"
	fi
	[ -n "${IDX:-}" ] && [ "$(cat "/tmp/sluice-it-slot-$IDX/pid" 2>/dev/null)" = $$ ] && rm -rf "/tmp/sluice-it-slot-$IDX"
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# a slot of our own, and a PID that is dead (a run that was killed)
IDX=$(t_claim_slot) || { echo "FAIL: no free test slot"; exit 1; }
LOCK=/tmp/sluice-it-slot-$IDX
sh -c 'exit 0' &
DEAD=$!
wait "$DEAD"
kill -0 "$DEAD" 2>/dev/null && { echo "FAIL: pid $DEAD is not dead"; exit 1; }
PFX="it$IDX-"
PIN=/sys/fs/bpf/sluice-it-reclaim-$DEAD
CG=$SL_CGROUP_BASE/sluice-it-reclaim-$DEAD
DWORK=/tmp/sluice-it-reclaim-$DEAD
echo "slot $IDX, dead owner $DEAD"

# ---- the dead run's leftovers ---------------------------------------------
ip netns add "${PFX}pod1"
ip link add "slr${IDX}h" type veth peer name eth0 netns "${PFX}pod1"
ip netns exec "${PFX}pod1" sleep 600 &
PIDS+=($!)
NS_PROC=$!
mkdir -p "$PIN"
bpftool map create "$PIN/sluice_test_v1" type array key 4 value 4 entries 1 name sl_reclaim
mkdir -p "$CG/child" "/sys/fs/bpf/sluice-k8s-$IDX" # tests/k8s names pins after the slot
sleep 601 &
PIDS+=($!)
CG_PROC=$!
echo "$CG_PROC" >"$CG/child/cgroup.procs"
ip route add blackhole "10.244.$IDX.0/24"
ip route add blackhole "10.96.$IDX.0/24"
# the agent (recorded) and the proxy it started (in its state directory)
mkdir -p "$DWORK/state"
python3 -c 'import time; time.sleep(600)' --socket "$DWORK/sluice.sock" &
PIDS+=($!)
AGENT=$!
python3 -c 'import time; time.sleep(600)' --bpf-root "$PIN" &
PIDS+=($!)
PROXY=$!
echo "{\"pid\": $PROXY}" >"$DWORK/state/proxy.json"
# a world index the dead run held
for w in $(seq 60 63); do
	if mkdir "/tmp/sluice-world-$w" 2>/dev/null; then WORLD=$w; break; fi
done
[ -n "$WORLD" ] || { echo "FAIL: no free world index"; exit 1; }
echo "$DEAD" >"/tmp/sluice-world-$WORLD/pid"
WNS="${PFX}w$WORLD"
WLINK="slw9$IDX$WORLD"
ip netns add "$WNS"
ip link add "$WLINK" type veth peer name eth0 netns "$WNS"
printf 'netns %s\nlink %s\n' "$WNS" "$WLINK" >"/tmp/sluice-world-$WORLD/owns"

# ---- decoys: not the slot's, or no longer the recorded process -------------
ip netns add "$DECOY_NS"
mkdir -p "$DECOY_PIN" "$LIVE_PIN"
sleep 602 &
PIDS+=($!)
REUSED=$! # a recorded PID that is another program now

# the dead owner's slot, as t_slot_own recorded it
echo "$DEAD" >"$LOCK/pid"
rm -f "$LOCK/start"
cat >"$LOCK/owns" <<EOF
nspfx $PFX
pin $PIN
pin /sys/fs/bpf/sluice-k8s-$IDX
cgroup $CG
work $DWORK
route 10.244.$IDX.0/24
route 10.96.$IDX.0/24
proc $AGENT --socket $DWORK/sluice.sock
proc $REUSED --socket $DWORK/sluice.sock
pin $DECOY_PIN
pin $LIVE_PIN
nspfx sreclaim-
work /tmp
EOF

check "the leftovers are there before the claim" sh -c "
	ip netns list | grep -q '^${PFX}pod1' && ip link show slr${IDX}h >/dev/null && [ -d $PIN ] && [ -d $CG/child ] &&
	ip route show type blackhole 10.96.$IDX.0/24 | grep -q . && kill -0 $NS_PROC $CG_PROC $AGENT $PROXY"

# ---- the claim --------------------------------------------------------------
got=$(t_claim_slot "$IDX" 2>"$WORK/reclaim.log")
expect_eq "the dead owner's slot is taken over" "$IDX" "$got"
expect_eq "  ... and is ours" "$$" "$(cat "$LOCK/pid")"
cat "$WORK/reclaim.log"
check_not "its netns is gone" sh -c "ip netns list | grep -q '^${PFX}'"
check_not "  ... with the veth's host side" ip link show "slr${IDX}h"
check "  ... and the process in it" pid_gone "$NS_PROC" 5
check_not "the pin directory is gone" test -e "$PIN"
check_not "  ... and one named after the slot (tests/k8s)" test -e "/sys/fs/bpf/sluice-k8s-$IDX"
check_not "the cgroup is gone" test -e "$CG"
check "  ... and the process in it" pid_gone "$CG_PROC" 5
check_not "the pod CIDR's blackhole route is gone" sh -c "ip route show type blackhole 10.244.$IDX.0/24 | grep -q ."
check_not "the service CIDR's blackhole route is gone" sh -c "ip route show type blackhole 10.96.$IDX.0/24 | grep -q ."
check "the recorded agent is killed" pid_gone "$AGENT" 5
check "the proxy of its state directory is killed" pid_gone "$PROXY" 5
check_not "the state directory is gone" test -e "$DWORK"
check_not "the world index is released" test -e "/tmp/sluice-world-$WORLD"
check_not "  ... with its netns" test -e "/run/netns/$WNS"
check_not "  ... and its host link" ip link show "$WLINK"
check "a recorded PID whose command line differs now lives on" kill -0 "$REUSED"
check "a netns without the slot's prefix stays (even if recorded)" test -e "/run/netns/$DECOY_NS"
check "a pin directory not named after the dead run stays" test -d "$DECOY_PIN"
check "  ... nor one of a live run" test -d "$LIVE_PIN"
check "/tmp stays" test -d /tmp
check_not "the dead run's record is gone" test -e "$LOCK/owns.dead"

# a live owner's slot is never taken
check_exit 1 "a live owner's slot is not claimed" t_claim_slot "$IDX"
expect_eq "  ... and stays its owner's" "$$" "$(cat "$LOCK/pid")"

# a free index whose lock an older checkout removed without the leftovers:
# what carries the index goes at its claim too
rm -rf "$LOCK"
ip netns add "${PFX}old"
ip route add blackhole "10.96.$IDX.0/24"
got=$(t_claim_slot "$IDX" 2>/dev/null)
expect_eq "a free index is claimed" "$IDX" "$got"
check_not "  ... without the netns left under its prefix" test -e "/run/netns/${PFX}old"
check_not "  ... nor the blackhole route of its service CIDR" sh -c "ip route show type blackhole 10.96.$IDX.0/24 | grep -q ."

# a sweep (tests/run.sh after ctest) reclaims every dead owner's slot, and
# only those: here a second slot, given a dead owner and a netns
IDX2=$(t_claim_slot) || { echo "FAIL: no second test slot"; exit 1; }
ip netns add "it$IDX2-pod1"
echo "$DEAD" >"/tmp/sluice-it-slot-$IDX2/pid"
rm -f "/tmp/sluice-it-slot-$IDX2/start"
echo "nspfx it$IDX2-" >"/tmp/sluice-it-slot-$IDX2/owns"
out=$(t_reclaim_dead_slots 2>&1)
check "the sweep says what it removed" sh -c "echo '$out' | grep -q 'reclaimed slot $IDX2: netns it$IDX2-pod1'"
check_not "  ... the dead slot's netns" test -e "/run/netns/it$IDX2-pod1"
check_not "  ... and gives the slot back" test -e "/tmp/sluice-it-slot-$IDX2"
expect_eq "  ... a live owner's slot stays" "$$" "$(cat "$LOCK/pid" 2>/dev/null)"

# the record a run makes: sl_instance_init, the agent, sl_bg
T_SLOT_LOCK=$LOCK
SL_NSPFX=$PFX SL_SERVICE_CIDR="10.96.$IDX.0/24" SL_WORK=$WORK/inst sl_instance_init "it-reclaim-$$" "10.244.$IDX.0/24"
sl_bg sleep 603
PIDS+=($!)
check "sl_instance_init records the run's names in its slot" sh -c "
	grep -qx 'nspfx $PFX' $LOCK/owns && grep -qx 'pin /sys/fs/bpf/sluice-it-reclaim-$$' $LOCK/owns &&
	grep -qx 'cgroup $SL_CGROUP_BASE/sluice-it-reclaim-$$' $LOCK/owns && grep -qx 'work $WORK/inst' $LOCK/owns &&
	grep -qx 'route 10.244.$IDX.0/24' $LOCK/owns && grep -qx 'route 10.96.$IDX.0/24' $LOCK/owns"
check "sl_bg records its process" grep -qx "proc $! sleep 603" "$LOCK/owns"
rmdir "$SL_CG" 2>/dev/null
t_finish
