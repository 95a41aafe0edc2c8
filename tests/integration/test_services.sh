#!/usr/bin/env bash
# Services: a ClusterIP is translated at the socket (connect4, sendmsg4,
# recvmsg4, getpeername4 on the pods' cgroup) to a backend pod chosen at
# random; backends follow pod create, delete and relabel at once; UDP
# replies come from the ClusterIP (dig accepts them); a service without
# backends refuses at once.
source "$(dirname "$0")/lib.sh"
t_begin

echo "== given two backends, a pod not selected, a client"
pod default/backend-1 app=backend --port http=8080/TCP
pod default/backend-2 app=backend --port http=8080/TCP
pod default/other app=other --port http=8080/TCP
pod default/client app=client
for p in backend-1 backend-2 other; do serve default/$p tcp:8080 udp:5353; done

CIP=$(sl service create default/api --selector app=backend --port http=80:http/TCP --port echo=53:5353/UDP)
check "service create prints a ClusterIP in the slot's range" test "${CIP%.*}" = "${SL_SERVICE_CIDR%.*}"
expect_eq "service get shows two backends per port" "backend-1 backend-2" \
	"$(sl service get default/api -o json | python3 -c 'import json,sys; print(" ".join(sorted(b["pod"].split("/")[1] for b in json.load(sys.stdin)["backends"] if b["port_name"] == "http")))')"
check "service list shows it" sh -c "$(declare -f sl); SL_BUILD='$SL_BUILD' SL_SOCK='$SL_SOCK'; sl service list | grep -q 'default/api .*$CIP .*80/TCP,53/UDP '"

# requests N: N new connections through the ClusterIP, one per request;
# prints how many each pod answered ("backend-1 97" ...)
requests() {
	sl pod exec default/client -- bash -c "for i in \$(seq 1 $1); do curl -s --connect-timeout 1 -m 3 http://$CIP/r; echo; done" |
		awk 'NF {print $1}' | sort | uniq -c | awk '{print $2, $1}'
}

echo "== 200 requests through the ClusterIP reach both backends, never the other pod"
out=$(requests 200)
echo "$out" | sed 's/^/     /'
n1=$(echo "$out" | awk '$1 == "backend-1" {print $2}')
n2=$(echo "$out" | awk '$1 == "backend-2" {print $2}')
check "backend-1 answered some (${n1:-0})" test "${n1:-0}" -gt 20
check "backend-2 answered some (${n2:-0})" test "${n2:-0}" -gt 20
expect_eq "all 200 answered by a backend" 200 $(( ${n1:-0} + ${n2:-0} ))
check_not "the pod not selected got nothing" sh -c "cat '$SL_WORK/server-default_other.log' 2>/dev/null | grep -q tcp:8080"

echo "== getpeername() and UDP replies show the ClusterIP"
peer=$(sl pod exec default/client -- python3 -c "
import socket; s = socket.create_connection(('$CIP', 80), timeout=2); print('%s:%d' % s.getpeername())")
expect_eq "getpeername() of a TCP socket is the ClusterIP" "$CIP:80" "$peer"
udp=$(sl pod exec default/client -- python3 -c "
import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.sendto(b'ping', ('$CIP', 53)); d, a = s.recvfrom(100); print('%s:%d %s' % (a[0], a[1], d.decode().split()[0]))")
check "an unconnected UDP reply comes from the ClusterIP ($udp)" sh -c "echo '$udp' | grep -Eq '^$CIP:53 backend-[12]$'"
udp=$(sl pod exec default/client -- python3 -c "
import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.connect(('$CIP', 53)); s.send(b'ping'); d = s.recv(100); print('%s:%d %s' % (s.getpeername() + (d.decode().split()[0],)))")
check "a connected UDP socket: peer is the ClusterIP, reply from a backend ($udp)" sh -c "echo '$udp' | grep -Eq '^$CIP:53 backend-[12]$'"

echo "== dig against a DNS server in a pod, through the service"
pod default/dns app=dns
rm -f "$SL_WORK/dns.log.ready"
sl_bg sl pod exec default/dns -- python3 "$TOOLS/dnsserver.py" 53 backend.test 10.1.2.3 "$SL_WORK/dns.log"
wait_until 100 0.05 test -e "$SL_WORK/dns.log.ready" || fail "DNS server started"
DNSIP=$(sl service create default/dns --selector app=dns --port dns=53:53/UDP)
ans=$(sl pod exec default/client -- dig @"$DNSIP" +short +time=2 +tries=1 backend.test A 2>&1)
expect_eq "dig through the ClusterIP gets the answer" "10.1.2.3" "$ans"
check "the DNS server saw the query from the client pod" grep -q "query backend.test 1 from $IP_client" "$SL_WORK/dns.log"
full=$(sl pod exec default/client -- dig @"$DNSIP" +time=2 +tries=1 backend.test A 2>&1)
check_not "dig did not see a reply from an unexpected source" sh -c "echo '$full' | grep -qi 'unexpected source'"
check "dig names the ClusterIP as its server" sh -c "echo '$full' | grep -q 'SERVER: $DNSIP#53'"

echo "== a service with no backend refuses at once"
EIP=$(sl service create default/empty --selector app=nobody --port t=80:8080/TCP --port u=53:53/UDP)
# "at once" is judged by what happened, not by a time: the pod's netns
# counts the SYNs it sent again (TCPSynRetrans); a refusal that came only
# after a retransmission counts one (the time is printed only)
res=$(sl pod exec default/client -- python3 -c "
import errno, socket, time
def syn_retrans():
    rows = [l.split() for l in open('/proc/net/netstat') if l.startswith('TcpExt:')]
    return int(rows[1][rows[0].index('TCPSynRetrans')])
r0, t = syn_retrans(), time.monotonic()
try:
    socket.create_connection(('$EIP', 80), timeout=5); print('connected')
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno), syn_retrans() - r0, int((time.monotonic() - t) * 1000))")
check "TCP connect() fails with ECONNREFUSED ($res)" sh -c "echo '$res' | grep -q '^ECONNREFUSED'"
check "... at once: the first SYN was refused, none was sent again ($(echo "$res" | awk '{print $2}') retransmitted, $(echo "$res" | awk '{print $3}') ms)" \
	test "$(echo "$res" | awk '{print $2}')" = 0
before=$(status_field datapath service_no_backend_udp)
res=$(sendto_errno default/client "$EIP" 53)
expect_eq "UDP to it is dropped (sendto refused)" ECONNREFUSED "$res"
after=$(status_field datapath service_no_backend_udp)
check "... and counted ($before -> $after)" test "${after:-0}" -gt "${before:-0}"

echo "== backends follow pods: relabel out, create, delete"
sl pod label default/backend-2 app=retired >/dev/null
out=$(requests 40)
expect_eq "relabelled out: the next 40 connections all go to backend-1" "backend-1 40" "$out"
sl pod label default/backend-2 app=backend >/dev/null
pod default/backend-3 app=backend --port http=8080/TCP
serve default/backend-3 tcp:8080
out=$(requests 90)
check "a new backend gets connections at once ($(echo $out))" sh -c "echo '$out' | grep -q '^backend-3 '"
sl pod delete default/backend-1 >/dev/null
out=$(requests 60)
check_not "a deleted backend is never chosen again" sh -c "echo '$out' | grep -q '^backend-1 '"
expect_eq "and no request fails meanwhile" 60 "$(echo "$out" | awk '{s += $2} END {print s}')"

echo "== a named target port follows each pod's own port number"
pod default/backend-9 app=nine --port http=9090/TCP
serve default/backend-9 tcp:9090
NIP=$(sl service create default/nine --selector app=nine --port 80:http/TCP)
check "named port http resolves to 9090 on backend-9" can default/client tcp "$NIP" 80
expect_eq "service get shows the backend port" 9090 \
	"$(sl service get default/nine -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["backends"][0]["port"])')"

echo "== metrics and status"
curl -s "http://127.0.0.1:$SL_METRICS_PORT/metrics" >"$SL_WORK/metrics"
check "metrics count services" grep -Eq '^sluice_services [1-9]' "$SL_WORK/metrics"
check "metrics count backends" grep -Eq '^sluice_service_backends [1-9]' "$SL_WORK/metrics"
check "metrics count translations" grep -Eq '^sluice_service_translations_total\{protocol="TCP"\} [1-9]' "$SL_WORK/metrics"
check "metrics count refusals without backend" grep -Eq '^sluice_service_no_backend_total\{protocol="TCP"\} [1-9]' "$SL_WORK/metrics"
check "status shows the service maps" test "$(status_field services services)" -ge 3

echo "== services survive an agent restart"
sl_agent_kill TERM
sl_agent_start || fail "agent restarted"
expect_eq "the service keeps its ClusterIP" "$CIP" \
	"$(sl service get default/api -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["cluster_ip"])')"
out=$(requests 20)
expect_eq "and still answers" 20 "$(echo "$out" | awk '{s += $2} END {print s}')"

echo "== delete"
check "service delete" sl service delete default/api
res=$(sl pod exec default/client -- python3 "$TOOLS/probe.py" tcp "$CIP" 80 0.5; echo $?)
check_not "a deleted service's address no longer reaches a backend" test "$res" = 0
t_finish
