#!/usr/bin/env bash
# A state directory belongs to one instance (#10 item 3). The directory
# records the --bpf-root and --cgroup-root it belongs to: an agent with
# another pin directory refuses it with a clear message instead of
# restoring another instance's policies; without --state-dir each pin
# directory gets its own default (/run/sluice/<pin dir name>).
source "$(dirname "$0")/lib.sh"
t_begin

pod default/server app=server
apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: first-instance}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress: [{fromEndpoints: [{matchLabels: {app: client}}]}]
YAML
check "the first instance has its policy" sl policy get default/first-instance
sl_agent_kill TERM

PIN2=/sys/fs/bpf/sluice-it2-$$
CG2=$SL_CG/second
SOCK2=$SL_WORK/second.sock
mkdir -p "$CG2"
CIDR2=10.243.$((RANDOM % 200)).0/24
second() { # extra args...
	"$SL_BUILD/agent/sluiced" --bpf-root "$PIN2" --cgroup-root "$CG2" --socket "$SOCK2" \
		--pod-cidr "$CIDR2" --netns-prefix "${SL_NSPFX}b-" \
		--metrics off --no-proxy "$@"
}
cleanup2() {
	second "$@" --cleanup >/dev/null 2>&1
	rm -rf "$PIN2"
	rmdir "$CG2" 2>/dev/null
}
trap 'rc=$?; cleanup2; rm -rf "$STATE2"; ip route del blackhole "$CIDR2" 2>/dev/null; (exit $rc); t_end_trap' EXIT
STATE2=/run/sluice/sluice-it2-$$

echo "# another pin directory, the same --state-dir"
timeout 30 bash -c "$(declare -f second); SL_BUILD=$SL_BUILD PIN2=$PIN2 CG2=$CG2 SOCK2=$SOCK2 CIDR2=$CIDR2 SL_NSPFX=$SL_NSPFX second --state-dir '$SL_STATE'" >"$SL_WORK/b.out" 2>"$SL_WORK/b.err"
rc=$?
echo "  second instance: exit $rc: $(head -1 "$SL_WORK/b.err")"
check "refused with exit 1" test "$rc" = 1
check "the message says whose state directory it is" grep -q "belongs to the instance with --bpf-root $SL_PIN" "$SL_WORK/b.err"
check "no pins were made for the second instance" test -z "$(ls "$PIN2" 2>/dev/null)"
check_not "no API socket for the second instance" test -e "$SOCK2"

echo "# another pin directory, no --state-dir: a state directory of its own"
second >"$SL_WORK/c.out" 2>"$SL_WORK/c.err" &
B=$!
SL_PIDS+=("$B")
for i in $(seq 1 100); do "$SL_BUILD/cli/sluice" --socket "$SOCK2" status >/dev/null 2>&1 && break; sleep 0.1; done
check "the second instance runs" "$SL_BUILD/cli/sluice" --socket "$SOCK2" status
check "its state directory is derived from its pin directory ($STATE2)" test -f "$STATE2/instance.json"
check_not "it did not restore the first instance's policy" "$SL_BUILD/cli/sluice" --socket "$SOCK2" policy get default/first-instance
n=$("$SL_BUILD/cli/sluice" --socket "$SOCK2" policy list 2>/dev/null | grep -c first-instance)
check "its policy list has none of the first's ($n)" test "$n" = 0
kill -TERM "$B"; wait "$B" 2>/dev/null

echo "# the first instance, started again, still has its own"
check "the first agent starts again" sl_agent_start
check "with its policy" sl policy get default/first-instance
t_finish
