#!/usr/bin/env bash
# The article's scenario at L3/L4: backend accepts only trusted frontends on
# 8080, the database only the backend on 5432; everything else is dropped in
# the kernel and counted.
source "$(dirname "$0")/lib.sh"
t_begin

pod default/frontend app=frontend,security.level=trusted
pod default/frontend-untrusted app=frontend
pod default/backend app=backend --port http=8080/TCP
pod default/database app=database --port pg=5432/TCP
pod default/malicious app=malicious
serve default/backend tcp:8080
serve default/database tcp:5432

check "before any policy, malicious reaches the database" can default/malicious tcp "$IP_database" 5432

apply_yaml <<'YAML' >/dev/null
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: backend-ingress
spec:
  endpointSelector:
    matchLabels:
      app: backend
  ingress:
  - fromEndpoints:
    - matchLabels:
        app: frontend
        security.level: trusted
    toPorts:
    - ports:
      - port: "8080"
        protocol: TCP
---
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: database-ingress
spec:
  endpointSelector:
    matchLabels:
      app: database
  ingress:
  - fromEndpoints:
    - matchLabels:
        app: backend
    toPorts:
    - ports:
      - port: "5432"
YAML

check "frontend (trusted) -> backend:8080 allowed" can default/frontend tcp "$IP_backend" 8080
[ "$(http default/frontend "http://$IP_backend:8080/api/users/42")" = 200 ] && pass "frontend curl gets 200" || fail "frontend curl gets 200"
check "frontend without security.level -> backend dropped" dropped default/frontend-untrusted tcp "$IP_backend" 8080
check "malicious -> backend dropped" dropped default/malicious tcp "$IP_backend" 8080
check "malicious -> database dropped" dropped default/malicious tcp "$IP_database" 5432
check "backend -> database allowed" can default/backend tcp "$IP_database" 5432
check "frontend -> database dropped" dropped default/frontend tcp "$IP_database" 5432
check "database egress is not restricted (database -> backend:8080 is checked by backend's ingress)" dropped default/database tcp "$IP_backend" 8080
check "the database server saw exactly the two allowed probes" test "$(server_log default/database | grep -c "line probe")" = 2

drops=$(sl status -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["datapath"]["drop_policy_denied"])')
[ "${drops:-0}" -ge 4 ] && pass "drops counted in status ($drops)" || fail "drops counted in status (${drops:-none})"
t_finish
