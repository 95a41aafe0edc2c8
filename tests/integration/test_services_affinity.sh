#!/usr/bin/env bash
# Services, ClientIP session affinity: the Kubernetes e2e suite's session
# affinity cases for a ClusterIP (test/e2e/network/service.go: "should have
# session affinity work", "... timeout work", "should be able to switch
# session affinity for service with type clusterIP", networking.go "should
# function for client IP based session affinity: http / udp"), replayed
# against the standalone agent, plus what Cilium's socket LB keeps: the
# client is the pod (its network namespace), a backend that leaves is never
# reached through an old affinity, one that stays keeps its clients.
#
# Nothing is timed: "within the timeout" is 12 connections made back to
# back against a 10 800 s or 3 s timeout; "after the timeout" waits 4 s
# (longer than 3 s) between connections, bounded to 12 rounds (a random
# pick repeats the old backend with p = 1/3: (1/3)^12 for a false failure).
source "$(dirname "$0")/lib.sh"
t_begin

# answered FROM N URL: how many of N new connections each pod answered
answered() {
	sl pod exec "$1" -- bash -c "for i in \$(seq 1 $2); do curl -s --connect-timeout 1 -m 3 '$3'; echo; done" |
		awk 'NF {print $1}' | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ' | sed 's/ $//'
}
# distinct "a=N b=M": how many backends answered
distinct() { echo "$1" | wc -w; }
# udp_answered FROM N IP PORT: N datagrams, each from a new socket
udp_answered() {
	sl pod exec "$1" -- python3 -c "
import socket
for i in range($2):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
    try:
        s.sendto(b'q%d' % i, ('$3', $4)); print(s.recv(100).decode().split()[0])
    except OSError as e:
        print('error')
    s.close()" | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ' | sed 's/ $//'
}
svc_field() {
	sl service get "$1" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$2"
}

pod default/client app=client
pod default/client2 app=client
for i in 1 2 3; do
	pod "default/aff-$i" app=aff --port http=8080/TCP --port dns=5353/UDP
	serve "default/aff-$i" tcp:8080 udp:5353
done

echo "== [sig-network] Services should have session affinity work for service with type clusterIP"
AIP=$(sl service create default/affinity-clusterip --selector app=aff --port 80:http/TCP \
	--session-affinity ClientIP)
expect_eq "service get: sessionAffinity ClientIP, the default timeout (10800 s)" "ClientIP 10800" \
	"$(svc_field default/affinity-clusterip session_affinity) $(svc_field default/affinity-clusterip session_affinity_timeout_seconds)"
out=$(answered default/client 12 "http://$AIP/affinity")
check "12 connections from one pod all reach one backend ($out)" \
	sh -c "[ $(distinct "$out") = 1 ] && echo '$out' | grep -Eq '^aff-[123]=12$'"
first=${out%%=*}
out2=$(answered default/client 12 "http://$AIP/again")
expect_eq "... and again, every socket of the pod: the same backend" "$first=12" "$out2"
out3=$(answered default/client2 12 "http://$AIP/other")
check "another client pod is pinned too, on its own ($out3)" sh -c "[ $(distinct "$out3") = 1 ] && echo '$out3' | grep -Eq '=12$'"
check "the pinned backend served them (its server log)" grep -q 'GET /again' "$SL_WORK/server-default_$first.log"

echo "== [sig-network] Networking should function for client IP based session affinity: udp"
UIP=$(sl service create default/affinity-udp --selector app=aff --port 53:dns/UDP \
	--session-affinity ClientIP)
out=$(udp_answered default/client 12 "$UIP" 53)
check "12 datagrams from 12 sockets of one pod all reach one backend ($out)" \
	sh -c "[ $(distinct "$out") = 1 ] && echo '$out' | grep -Eq '^aff-[123]=12$'"

echo "== [sig-network] Services should be able to switch session affinity for service with type clusterIP"
SIP=$(sl service create default/affinity-switch --selector app=aff --port 80:http/TCP)
expect_eq "created without affinity: sessionAffinity None" None "$(svc_field default/affinity-switch session_affinity)"
out=$(answered default/client 30 "http://$SIP/none")
check "None: 30 connections reach more than one backend ($out)" test "$(distinct "$out")" -gt 1
expect_eq "update --session-affinity ClientIP keeps the ClusterIP" "$SIP" \
	"$(sl service update default/affinity-switch --selector app=aff --port 80:http/TCP --session-affinity ClientIP)"
out=$(answered default/client 12 "http://$SIP/clientip")
check "ClientIP: 12 connections, one backend ($out)" sh -c "[ $(distinct "$out") = 1 ] && echo '$out' | grep -Eq '=12$'"
sl service update default/affinity-switch --selector app=aff --port 80:http/TCP >/dev/null
expect_eq "update without the option: back to None (the spec is replaced)" None \
	"$(svc_field default/affinity-switch session_affinity)"
out=$(answered default/client 30 "http://$SIP/none-again")
check "None again: 30 connections reach more than one backend ($out)" test "$(distinct "$out")" -gt 1

echo "== [sig-network] Services should have session affinity timeout work for service with type clusterIP"
TIP=$(sl service create default/affinity-timeout --selector app=aff --port 80:http/TCP \
	--session-affinity ClientIP --session-affinity-timeout 3)
expect_eq "service get: the timeout given" 3 "$(svc_field default/affinity-timeout session_affinity_timeout_seconds)"
out=$(answered default/client 12 "http://$TIP/within")
check "within the timeout: 12 connections, one backend ($out)" sh -c "[ $(distinct "$out") = 1 ] && echo '$out' | grep -Eq '=12$'"
pinned=${out%%=*}
moved=""
for round in $(seq 1 12); do
	sleep 4
	now=$(answered default/client 1 "http://$TIP/after")
	now=${now%%=*}
	if [ -n "$now" ] && [ "$now" != "$pinned" ]; then
		moved="$now after $round rounds"
		break
	fi
	pinned=${now:-$pinned}
done
check "after the timeout the pod is free: a different backend answers (${moved:-never in 12 rounds})" test -n "$moved"

echo "== Cilium socket LB: a backend that leaves is not reached through an old affinity; the others keep theirs"
KIP=$(sl service create default/affinity-keep --selector app=aff --port 80:http/TCP --session-affinity ClientIP)
out=$(answered default/client 6 "http://$KIP/keep")
p1=${out%%=*}
out=$(answered default/client2 6 "http://$KIP/keep")
p2=${out%%=*}
echo "  (client is pinned to $p1, client2 to $p2)"
sl pod label "default/$p1" app=retired >/dev/null
out=$(answered default/client 12 "http://$KIP/after-leave")
check "client's backend $p1 relabelled out: 12 connections all answered, by one other backend ($out)" \
	sh -c "[ $(distinct "$out") = 1 ] && echo '$out' | grep -Eq '=12$' && ! echo '$out' | grep -q '^$p1='"
if [ "$p1" != "$p2" ]; then
	expect_eq "client2's backend $p2 stayed: client2 still reaches it" "$p2=12" \
		"$(answered default/client2 12 "http://$KIP/stays")"
else
	echo "  (both clients were pinned to $p1: the 'others keep theirs' half is not shown this run)"
fi
sl pod label "default/$p1" app=aff >/dev/null

echo "== affinity survives an agent restart (the spec is in the state dir)"
out=$(answered default/client 6 "http://$AIP/before-restart")
before=${out%%=*}
# a NodePort service with affinity: its node port and its type are state too
sl service create default/affinity-np --selector app=aff --port 80:http/TCP --type NodePort \
	--session-affinity ClientIP >/dev/null
np_of() { sl service get default/affinity-np -o json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["type"], d["ports"][0].get("node_port"))'; }
np_before=$(np_of)
sl_agent_kill TERM
sl_agent_start || fail "agent restarted"
expect_eq "after the restart: sessionAffinity ClientIP, timeout 10800" "ClientIP 10800" \
	"$(svc_field default/affinity-clusterip session_affinity) $(svc_field default/affinity-clusterip session_affinity_timeout_seconds)"
expect_eq "the pod still reaches the backend it had, $before (affinities outlive the agent, as kube-proxy's do)" \
	"$before=12" "$(answered default/client 12 "http://$AIP/after-restart")"
expect_eq "a NodePort service keeps its type and node port ($np_before)" "$np_before" "$(np_of)"
NODE_IP=$(sl status -o json | python3 -c 'import json,sys; print([a for a in json.load(sys.stdin)["host_addresses"] if not a.startswith("127.")][0])')
out=$(answered default/client 12 "http://$NODE_IP:${np_before#* }/np")
check "... and its node port answers, with affinity: one backend ($out)" \
	sh -c "[ $(distinct "$out") = 1 ] && echo '$out' | grep -Eq '^aff-[123]=12$'"

echo "== bad input"
check_exit 2 "an unknown --session-affinity value" sl service create default/x --selector app=aff \
	--port 80:http/TCP --session-affinity Sticky
check_said "want ClientIP or None"
check_exit 2 "a timeout of 0" sl service create default/x --selector app=aff --port 80:http/TCP \
	--session-affinity ClientIP --session-affinity-timeout 0
check_said "1-86400"
check_exit 2 "a timeout over 86400" sl service create default/x --selector app=aff --port 80:http/TCP \
	--session-affinity ClientIP --session-affinity-timeout 86401
check_said "1-86400"
check_exit 1 "a timeout without ClientIP (the API server's rule)" sl service create default/x \
	--selector app=aff --port 80:http/TCP --session-affinity-timeout 60
check_said "must not be set when sessionAffinity is None"
check_not "and nothing was created" sl service get default/x
t_finish
