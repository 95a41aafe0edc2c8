#!/usr/bin/env bash
# Identity garbage collection: the agent holding the Lease marks an
# identity no SluiceEndpoint uses and deletes it after the grace period
# (resourceVersion precondition); an identity that a starting pod claims
# while it is marked is unmarked by that pod's agent and survives.
# The grace period (GC_GRACE) must outlast what a pod start takes on a busy
# machine (kubectl, status, netns, CNI ADD): the claim races the deletion.
source "$(dirname "$0")/agents.sh"
GC_GRACE=20
ka_begin a b
ka_start a --identity-gc-interval 1 --identity-gc-grace "$GC_GRACE" || { fail "agent a syncs"; t_finish; }
# node b as in a DaemonSet: --kubernetes, in-cluster config, $K8S_NODE_NAME
KA_IN_CLUSTER=1 ka_start b --identity-gc-interval 1 --identity-gc-grace "$GC_GRACE" ||
	{ fail "agent b syncs (in-cluster config)"; t_finish; }
check "in-cluster agent named after \$K8S_NODE_NAME" bash -c "ka b status | grep -q 'node ${KA_NAME[b]}'"

leaders() {
	local n c=0
	for n in a b; do
		ka "$n" status -o json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["kubernetes"]["identity_gc"]["leader"] else 1)' && c=$((c + 1))
	done
	echo "$c"
}
export -f leaders
check "exactly one agent holds the GC lease" kwait 30 bash -c '[ "$(leaders)" = 1 ]'
check "the Lease names it" bash -c "kc -n kube-system get lease sluice-identity-gc -o jsonpath='{.spec.holderIdentity}' | grep -q '^node-'"

# an identity nobody uses
kapply <<'YAML'
apiVersion: sluice.io/v1alpha1
kind: SluiceIdentity
metadata:
  name: "4242"
security-labels:
  "k8s:app": ghost
  "k8s:io.kubernetes.pod.namespace": default
YAML
check "unused identity gets the GC mark" kwait $((GC_GRACE + 40)) bash -c \
	"kc get sluiceidentity 4242 -o jsonpath='{.metadata.annotations}' | grep -q sluice.io/heartbeat"
check "  not deleted at once: the grace period runs" kc get sluiceidentity 4242
check "unused identity is deleted after the grace period" kwait $((GC_GRACE + 40)) bash -c "! kc get sluiceidentity 4242 2>/dev/null"

# an identity in use is never marked
kpod a default/keeper app=keeper
keeper_id=$(kident a default/keeper)
sleep 8
check "an identity a pod uses is not marked nor deleted" bash -c \
	"kc get sluiceidentity $keeper_id >/dev/null && ! kc get sluiceidentity $keeper_id -o jsonpath='{.metadata.annotations}' | grep -q heartbeat"

# a pod gone: its identity becomes unused and is marked; a new pod with the
# same labels claims it while it is marked: it stays
kpod a default/late-1 app=late
late_id=$(kident a default/late-1)
kpod_del a default/late-1
check "the unused identity of a deleted pod gets the GC mark" kwait $((GC_GRACE + 40)) bash -c \
	"kc get sluiceidentity $late_id -o jsonpath='{.metadata.annotations}' | grep -q sluice.io/heartbeat"
kpod b default/late-2 app=late
check "a starting pod (on the other node) claims the marked identity" \
	bash -c "[ \"\$(kident b default/late-2)\" = '$late_id' ]"
check "  the claim took the mark off" bash -c \
	"! kc get sluiceidentity $late_id -o jsonpath='{.metadata.annotations}' | grep -q heartbeat"
sleep $((GC_GRACE + 5))
check "  and the identity survives the grace period" kc get sluiceidentity "$late_id"
check "  the pod still carries it on both nodes" \
	bash -c "[ \"\$(kident b default/late-2)\" = '$late_id' ] && [ \"\$(kident a default/late-2)\" = '$late_id' ]"
t_finish
