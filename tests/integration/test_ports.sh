#!/usr/bin/env bash
# toPorts: single ports, endPort ranges, TCP vs UDP vs ANY.
source "$(dirname "$0")/lib.sh"
t_begin

pod default/server app=server
pod default/client app=client
serve default/server tcp:80 tcp:8000 tcp:8100 tcp:8191 tcp:8192 udp:53 udp:8100

apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ports}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports:
      - {port: "8000", endPort: 8191, protocol: TCP}
      - {port: "53", protocol: UDP}
YAML
check "TCP 8000 (range start) allowed" can default/client tcp "$IP_server" 8000
check "TCP 8100 (inside range) allowed" can default/client tcp "$IP_server" 8100
check "TCP 8191 (range end) allowed" can default/client tcp "$IP_server" 8191
check "TCP 8192 (past range) dropped" dropped default/client tcp "$IP_server" 8192
check "TCP 80 dropped" dropped default/client tcp "$IP_server" 80
check "UDP 53 allowed" can default/client udp "$IP_server" 53
check "UDP 8100 dropped (range is TCP only)" dropped default/client udp "$IP_server" 8100

apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ports}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports:
      - {port: "8100"}
YAML
check "protocol ANY: TCP 8100 allowed" can default/client tcp "$IP_server" 8100
check "protocol ANY: UDP 8100 allowed" can default/client udp "$IP_server" 8100
check "protocol ANY: UDP 53 now dropped" dropped default/client udp "$IP_server" 53
t_finish
