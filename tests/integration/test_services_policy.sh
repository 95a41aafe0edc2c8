#!/usr/bin/env bash
# Services and policy: translation happens in connect(), before the first
# packet, so egress rules are judged on the backend pod's identity; a
# client without the right is denied via the ClusterIP and directly;
# toServices (k8sService, k8sServiceSelector) allows a service's backends;
# L7 rules on the backend port still go through the proxy; observe names
# the backend pod and the service.
source "$(dirname "$0")/lib.sh"
t_begin

pod default/backend-1 app=backend --port http=8080/TCP
pod default/backend-2 app=backend --port http=8080/TCP
pod default/client app=client
pod default/client2 app=client2
pod default/client3 app=client3
pod default/client4 app=client4
pod default/web app=web --port http=8080/TCP
pod default/webclient app=webclient
for p in backend-1 backend-2 web; do serve default/$p tcp:8080; done
CIP=$(sl service create default/api --selector app=backend --port http=80:8080/TCP --labels tier=api)
WIP=$(sl service create default/web --selector app=web --port 80:8080/TCP)

apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: client-to-backend}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toEndpoints: [{matchLabels: {app: backend}}]
    toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: client2-elsewhere}
spec:
  endpointSelector: {matchLabels: {app: client2}}
  egress:
  - toEndpoints: [{matchLabels: {app: web}}]
    toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: client3-to-service}
spec:
  endpointSelector: {matchLabels: {app: client3}}
  egress:
  - toServices:
    - k8sService: {serviceName: api, namespace: default}
    toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: client4-to-tier}
spec:
  endpointSelector: {matchLabels: {app: client4}}
  egress:
  - toServices:
    - k8sServiceSelector: {selector: {matchLabels: {tier: api}}}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: webclient-l7}
spec:
  endpointSelector: {matchLabels: {app: webclient}}
  egress:
  - toEndpoints: [{matchLabels: {app: web}}]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
      rules:
        http: [{method: GET, path: "/ok.*"}]
YAML

echo "== egress toEndpoints app=backend on 8080: judged on the backend"
expect_eq "client reaches the service (ClusterIP:80 -> backend:8080)" 200 "$(http default/client "http://$CIP/x")"
expect_eq "client reaches a backend directly" 200 "$(http default/client "http://$IP_backend_1:8080/x")"
check "client2 (no right to app=backend) is denied via the ClusterIP" dropped default/client2 tcp "$CIP" 80
check "client2 is denied directly too" dropped default/client2 tcp "$IP_backend_2" 8080
expect_eq "client2 still reaches what it may (web via its ClusterIP)" 200 "$(http default/client2 "http://$WIP/x")"

echo "== observe names the backend pod and the service"
wait_until 50 0.1 sh -c "'$SL_BUILD/cli/sluice' --socket '$SL_SOCK' observe --last 500 -o json | grep -q destination_service" ||
	fail "a flow with destination_service appeared"
j=$(sl observe --last 500 -o json --from-pod default/client 2>/dev/null)
check "a flow of client shows a backend pod and destination_service default/api" python3 -c "
import json, sys
for line in sys.argv[1].splitlines():
    f = json.loads(line)['flow']
    d, s = f.get('destination', {}), f.get('destination_service')
    if d.get('pod_name', '').startswith('backend-') and s == {'name': 'api', 'namespace': 'default'} \
       and f['l4']['TCP']['destination_port'] == 8080:
        sys.exit(0)
sys.exit(1)" "$j"
c=$(sl observe --last 500 --from-pod default/client 2>/dev/null)
# (Hubble's compact line names the backend pod; the service is in the JSON)
check "compact: -> default/backend-N:8080" sh -c "echo '$c' | grep -Eq ' -> default/backend-[12]:8080 \(ID:[0-9]+\) '"
c2=$(sl observe --last 500 --from-pod default/client2 --verdict DROPPED 2>/dev/null)
check "client2's drop names the backend" sh -c "echo '$c2' | grep -Eq ' <> default/backend-[12]:8080 \(ID:[0-9]+\) Policy denied DROPPED'"
n=$(sl observe --last 500 --to-service default/api -o json 2>/dev/null | grep -c '"destination_service":{"name":"api","namespace":"default"}')
m=$(sl observe --last 500 --to-service default/api -o json 2>/dev/null | grep -vc '"destination_service":{"name":"api","namespace":"default"}')
k=$(sl observe --last 500 --service api --verdict DROPPED 2>/dev/null | grep -c ' DROPPED ')
z=$(sl observe --last 500 --to-service kube-system/api 2>/dev/null | wc -l)
check "--to-service default/api: $n flows, all through it; --service api (namespace default, as Hubble reads it); another namespace's: none" \
	sh -c "[ $n -ge 1 ] && [ $m = 0 ] && [ $k -ge 1 ] && [ $z = 0 ]"

echo "== toServices"
expect_eq "k8sService {api, default} allows the service's backends" 200 "$(http default/client3 "http://$CIP/x")"
expect_eq "... directly too (the rule stands for the backend pods)" 200 "$(http default/client3 "http://$IP_backend_2:8080/x")"
check "... and nothing else (web)" dropped default/client3 tcp "$WIP" 80
expect_eq "k8sServiceSelector tier=api allows api's backends" 200 "$(http default/client4 "http://$CIP/x")"
check "... not web, whose service lacks the label" dropped default/client4 tcp "$WIP" 80
pod default/backend-3 app=backend --port http=8080/TCP
serve default/backend-3 tcp:8080
expect_eq "a new backend of the named service is allowed at once" 200 "$(http default/client3 "http://$IP_backend_3:8080/x")"
sl service delete default/api >/dev/null
check "service deleted: toServices allows nothing any more" dropped default/client3 tcp "$IP_backend_1" 8080
CIP=$(sl service create default/api --selector app=backend --port http=80:8080/TCP --labels tier=api)
expect_eq "service back: allowed again" 200 "$(http default/client3 "http://$CIP/x")"

echo "== L7 rules on the backend port still go through the proxy"
wait_proxy_ready 15
expect_eq "GET /ok via the ClusterIP is allowed by the proxy" 200 "$(http default/webclient "http://$WIP/ok")"
expect_eq "GET /no via the ClusterIP is denied by the proxy" 403 "$(http default/webclient "http://$WIP/no")"
check "the backend saw the allowed request only" sh -c "grep -q 'GET /ok' '$SL_WORK/server-default_web.log' && ! grep -q 'GET /no' '$SL_WORK/server-default_web.log'"
peer=$(sl pod exec default/webclient -- python3 -c "
import socket; s = socket.create_connection(('$WIP', 80), timeout=2); print('%s:%d' % s.getpeername())")
expect_eq "getpeername() of a proxied service connection is still the ClusterIP" "$WIP:80" "$peer"
l7=$(sl observe --last 500 -o json --type l7 2>/dev/null | grep -c '"destination_service":{"name":"web"')
check "L7 flows through the service name it ($l7)" test "$l7" -ge 1
t_finish
