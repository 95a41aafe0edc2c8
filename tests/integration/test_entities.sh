#!/usr/bin/env bash
# fromEntities / toEntities: host, world (a namespace that is not a pod),
# cluster and all.
source "$(dirname "$0")/lib.sh"
t_begin

pod default/server app=server
pod default/client app=client
serve default/server tcp:80
WORLD_IP=$(sl_world_create ext 1) || { fail "world ext"; t_finish; }
WORLD_NS=${SL_NSPFX}wext
from_world() { ip netns exec "$WORLD_NS" python3 "$TOOLS/probe.py" tcp "$1" "$2" "${3:-1.0}"; }
from_host() { python3 "$TOOLS/probe.py" tcp "$1" "$2" "${3:-1.0}"; }
# the world's host-side address must carry the host identity first
wait_host_addr "$(sl_world_host_ip 1)"

check "no policy: world reaches the pod" from_world "$IP_server" 80
check "no policy: host reaches the pod" from_host "$IP_server" 80

apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: host-only}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEntities: [host]
YAML
check "fromEntities host: host allowed" from_host "$IP_server" 80
check_not "fromEntities host: world dropped" from_world "$IP_server" 80 0.7
check "fromEntities host: pod client dropped" dropped default/client tcp "$IP_server" 80

apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: host-only}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEntities: [world]
YAML
check "fromEntities world: world allowed" from_world "$IP_server" 80
check "fromEntities world: pod client dropped" dropped default/client tcp "$IP_server" 80
check_not "fromEntities world: host dropped" from_host "$IP_server" 80 0.7

apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: host-only}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEntities: [cluster]
YAML
check "fromEntities cluster: pod client allowed" can default/client tcp "$IP_server" 80
check "fromEntities cluster: host allowed" from_host "$IP_server" 80
check_not "fromEntities cluster: world dropped" from_world "$IP_server" 80 0.7

apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: host-only}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEntities: [all]
YAML
check "fromEntities all: world allowed" from_world "$IP_server" 80
check "fromEntities all: pod allowed" can default/client tcp "$IP_server" 80

apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: client-egress}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toEntities: [world]
YAML
WORLD_SRV=$SL_WORK/world.log
sl_bg ip netns exec "$WORLD_NS" python3 "$TOOLS/podserver.py" world "$WORLD_SRV" tcp:8000
for i in $(seq 1 60); do [ -e "$WORLD_SRV.ready" ] && break; sleep 0.05; done
check "toEntities world: client reaches the world" can default/client tcp "$WORLD_IP" 8000
check "toEntities world: client cannot reach a pod" dropped default/client tcp "$IP_server" 80

# --allow-localhost (Cilium's allow-localhost): standalone's default is
# "policy" (the host needs a rule), "always" lets the node reach local pods
# through an enforced ingress (Kubernetes wants kubelet's probes through)
# unless a deny names the host; Kubernetes mode defaults to always
apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: host-only}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
YAML
check_not "allow-localhost policy (standalone default): host dropped" from_host "$IP_server" 80 0.7
out=$("$SL_BUILD/agent/sluiced" $(sl_agent_args) --allow-localhost sometimes 2>&1)
[ $? -ne 0 ] && echo "$out" | grep -q -- "--allow-localhost sometimes: want auto, always or policy" &&
	pass "--allow-localhost sometimes is refused, naming the flag" || fail "--allow-localhost sometimes: $out"
sl_agent_kill KILL
sl_agent_start --allow-localhost always || fail "agent restarts with --allow-localhost always"
check "allow-localhost always: host reaches the pod through its enforced ingress" from_host "$IP_server" 80
check_not "allow-localhost always: world still dropped" from_world "$IP_server" 80 0.7
apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: no-host}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingressDeny:
  - fromEntities: [host]
YAML
check_not "allow-localhost always: a deny of the host still drops it" from_host "$IP_server" 80 0.7
# ... and at L7: an http rule for every peer sends the host to the proxy,
# which lets all its requests through (Cilium's distillery case 12: "from
# host should go to proxy allow all"), so kubelet's probes are never 403
sl policy delete default/no-host >/dev/null
sl policy delete default/host-only >/dev/null
apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: server-l7}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules: {http: [{method: GET, path: "/api/.*"}]}
YAML
wait_proxy_ready
from_curl() { curl -s -o /dev/null -w '%{http_code}' --connect-timeout 1 -m 3 "$@"; }
expect_eq "allow-localhost always: the host's GET /healthz passes the proxy" 200 "$(from_curl "http://$IP_server/healthz")"
expect_eq "the world's GET /healthz: 403" 403 "$(ip netns exec "$WORLD_NS" curl -s -o /dev/null -w '%{http_code}' --connect-timeout 1 -m 3 "http://$IP_server/healthz")"
expect_eq "the world's GET /api/x: 200" 200 "$(ip netns exec "$WORLD_NS" curl -s -o /dev/null -w '%{http_code}' --connect-timeout 1 -m 3 "http://$IP_server/api/x")"
t_finish
