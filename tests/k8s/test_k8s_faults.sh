#!/usr/bin/env bash
# Agent-level watch faults through the relay (the client library's own
# cases are in tests/unit/k8s and k8sclient's tests): while policies are
# created and deleted through the API, the agent's watches are cut
# mid-stream, expire with an in-stream 410, get an HTTP 410, get every byte
# in its own TLS record, go through a slow API, and get 401s after their
# ServiceAccount token rotated; every case converges: the policies
# `sluice policy list` shows are the ones `kubectl get` shows, deletions
# missed meanwhile included. The agent runs as in a DaemonSet (in-cluster
# config, token file), its API server address being the relay's.
source "$(dirname "$0")/agents.sh"
ka_begin a
k8s_relay_start faults
# SLUICE_K8S_TOKEN_MAX_AGE: no periodic token re-read during the test, so
# that the rotation round meets the 401 path whatever the timing
SLUICE_K8S_TOKEN_MAX_AGE=3600 SLUICE_K8S_WATCH_TIMEOUT=5 K8S_SERVER=$K8S_RELAY_URL KA_IN_CLUSTER=1 ka_start a ||
	{ fail "agent syncs through the relay"; t_finish; }

cnp() { # NAME APP
	kapply <<EOF
{"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
 "metadata": {"name": "$1", "namespace": "default"},
 "spec": {"endpointSelector": {"matchLabels": {"app": "$2"}},
          "ingress": [{"fromEndpoints": [{"matchLabels": {"app": "x$2"}}]}]}}
EOF
}
same() { # the agent's CNPs == the API's
	diff <(ka a policy list | awk '$1 == "CiliumNetworkPolicy" {print $2}' | sort) \
		<(kc get cnp -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}' | sort) >/dev/null
}
export -f same

fired() { test "$(k8s_relay_stat faults "$1")" -gt "$2"; }
# wait_fired STAT BEFORE NAME: the fault of this round must have fired
# before convergence is judged. Some faults need a new watch request (410s:
# the agent re-watches every 5 s here) and then an event on it, so a new CNP
# is made every second until the relay's counter moved (bounded).
wait_fired() {
	local i
	for i in $(seq 1 40); do
		fired "$1" "$2" && return 0
		cnp "$3-w$i" "$3w$i"
		sleep 1
	done
	fired "$1" "$2"
}
round() { # NAME STAT FAULT-JSON: STAT is the relay's counter that shows the fault
	local name=$1 stat=$2 before i
	before=$(k8s_relay_stat faults "$stat")
	k8s_relay_set faults "$3"
	for i in 1 2 3 4; do cnp "$name-$i" "$name$i"; done
	kc delete cnp "$name-2" >/dev/null
	wait_fired "$stat" "$before" "$name" >/dev/null 2>&1
	check "$name: the relay's fault fired ($stat: $before -> $(k8s_relay_stat faults "$stat"))" \
		fired "$stat" "$before"
	kc delete cnp "$name-3" >/dev/null
	cnp "$name-5" "$name"5
	check "$name: converges to the API's policies" kwait 60 same
	k8s_relay_set faults '{}'
}
round cut cuts '{"cut_after_events": 1, "fault_times": 6, "match": "ciliumnetworkpolicies"}'
round expire expired '{"expire_after_events": 1, "fault_times": 4, "match": "ciliumnetworkpolicies"}'
round gone gone '{"gone_watch": true, "fault_times": 3, "match": "ciliumnetworkpolicies"}'
# split and slow have no counter of their own: events relayed while they hold
round split events '{"split": true}'
round slow events '{"latency_ms": 1000, "chunk_latency_ms": 200}'
# the kubelet writes a new token; the relay refuses the old one, as the
# server does once it expired; the CNP watch is cut so that it asks again
# with the token it holds (the old one), gets a 401 and re-reads the file
old=$(cat "$KA_WORK/sa/token")
k8s_sa_token kube-system sluice >"$KA_WORK/sa/token.new" && mv "$KA_WORK/sa/token.new" "$KA_WORK/sa/token"
round rotated rejected "{\"reject_tokens\": [\"$old\"], \"cut_after_events\": 1, \"fault_times\": 2, \"match\": \"ciliumnetworkpolicies\"}"
check "the agent re-read its token file (sluice status: token_reloads)" bash -c \
	"ka a status -o json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)[\"kubernetes\"][\"client\"][\"token_reloads\"] >= 1 else 1)'"
check "  and counted it (metric sluice_k8s_token_reloads_total)" bash -c \
	"curl -s http://127.0.0.1:$((19000 + KA_IDX[a]))/metrics | awk '\$1 == \"sluice_k8s_token_reloads_total\" && \$2 >= 1 {f = 1} END {exit !f}'"
check "the agent relisted (sluice status)" bash -c \
	"ka a status -o json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)[\"kubernetes\"][\"client\"][\"relists\"] > 0 else 1)'"
t_finish
