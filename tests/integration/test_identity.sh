#!/usr/bin/env bash
# Identity, not IP: a pod recreated with the same labels gets the same
# identity and a new IP and keeps its rights; relabelling moves a pod to
# another identity and its traffic follows the new policy at once.
source "$(dirname "$0")/lib.sh"
t_begin

pod default/server app=server
pod default/client app=client
serve default/server tcp:80

apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: clients}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
YAML
id_of() { sl pod get "$1" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["identity"])'; }
ID1=$(id_of default/client)
OLD_IP=$IP_client
check "client allowed" can default/client tcp "$IP_server" 80
[ "$ID1" -ge 256 ] && pass "pod identity allocated from 256 ($ID1)" || fail "pod identity allocated from 256 ($ID1)"

sl pod delete default/client >/dev/null
pod default/client app=client
ID2=$(id_of default/client)
[ "$ID1" = "$ID2" ] && pass "recreated pod keeps identity $ID1" || fail "recreated pod keeps identity ($ID1 vs $ID2)"
[ "$OLD_IP" != "$IP_client" ] && pass "recreated pod has a new IP ($OLD_IP -> $IP_client)" || fail "recreated pod has a new IP"
check "recreated pod still allowed" can default/client tcp "$IP_server" 80

sl pod label default/client app=other >/dev/null
ID3=$(id_of default/client)
[ "$ID3" != "$ID1" ] && pass "relabel moves to a new identity ($ID3)" || fail "relabel moves to a new identity"
check "relabelled pod dropped at once" dropped default/client tcp "$IP_server" 80
sl pod label default/client app=client >/dev/null
check "labelled back: allowed again" can default/client tcp "$IP_server" 80
[ "$(id_of default/client)" = "$ID1" ] && pass "labelled back: identity $ID1 again" || fail "labelled back: identity $ID1 again"

# a second pod with the same labels shares the identity
pod default/client2 app=client
[ "$(id_of default/client2)" = "$ID1" ] && pass "same labels, same identity" || fail "same labels, same identity"
check "identity list shows reserved:host as 1" sh -c "$SL_BUILD/cli/sluice --socket $SL_SOCK identity list | grep -q '^1 .*reserved:host'"
check "identity list shows reserved:world as 2" sh -c "$SL_BUILD/cli/sluice --socket $SL_SOCK identity list | grep -q '^2 .*reserved:world'"
t_finish
