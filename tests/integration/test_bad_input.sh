#!/usr/bin/env bash
# Bad policies are rejected with file:line: field: reason, whole, and the
# policy in force stays.
source "$(dirname "$0")/lib.sh"
t_begin

pod default/server app=server
pod default/client app=client
pod default/other app=other
serve default/server tcp:80

cat >"$SL_WORK/good.yaml" <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: clients}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
YAML
apply "$SL_WORK/good.yaml"

expect_error() { # FILE EXPECTED-SUBSTRING
	local out
	if out=$(sl policy apply -f "$1" 2>&1); then
		fail "$(basename "$1") accepted"
		return
	fi
	if grep -qF -- "$2" <<<"$out"; then pass "$(basename "$1"): $2"; else fail "$(basename "$1"): want '$2', got: $out"; fi
}

cat >"$SL_WORK/unknown.yaml" <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: clients}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingres:
  - fromEndpoints: [{matchLabels: {app: other}}]
YAML
expect_error "$SL_WORK/unknown.yaml" "unknown.yaml:6: spec.ingres"
cat >"$SL_WORK/port.yaml" <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: clients}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: other}}]
    toPorts:
    - ports:
      - port: "99999"
YAML
expect_error "$SL_WORK/port.yaml" "port.yaml:10: spec.ingress[0].toPorts[0].ports[0].port"
cat >"$SL_WORK/op.yaml" <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: clients}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints:
    - matchExpressions:
      - {key: app, operator: Equals, values: [other]}
YAML
expect_error "$SL_WORK/op.yaml" "op.yaml:9: spec.ingress[0].fromEndpoints[0].matchExpressions[0].operator"
cat >"$SL_WORK/regex.yaml" <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: clients}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: other}}]
    toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules:
        http:
        - method: GET
          path: "/api/(users"
YAML
expect_error "$SL_WORK/regex.yaml" "regex.yaml:13: spec.ingress[0].toPorts[0].rules.http[0].path"
cat >"$SL_WORK/type.yaml" <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: clients}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
    fromEndpoints: [{matchLabels: {app: other}}]
YAML
expect_error "$SL_WORK/type.yaml" "type.yaml:7: spec.ingress"
printf 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x\n' >"$SL_WORK/syntax.yaml"
expect_error "$SL_WORK/syntax.yaml" "syntax.yaml:"
cat >"$SL_WORK/dup.yaml" <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: same}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress: [{}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: same}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress: [{}]
YAML
expect_error "$SL_WORK/dup.yaml" "dup.yaml:"
# a file goes to the agent unread (sendfile); a NUL in it is still refused,
# naming the file, and so is one read from standard input
printf 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: nul}\n\0spec: {}\n' >"$SL_WORK/nul.yaml"
expect_error "$SL_WORK/nul.yaml" "nul.yaml: contains a NUL byte, not a YAML file"
out=$(sl policy apply -f - <"$SL_WORK/nul.yaml" 2>&1) && fail "a NUL from stdin accepted" ||
	{ grep -qF -- "-: contains a NUL byte" <<<"$out" && pass "stdin with a NUL refused" || fail "stdin NUL: $out"; }

# all-or-nothing: a good and a bad file together change nothing
cat >"$SL_WORK/open.yaml" <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: clients}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: other}}]
YAML
check_not "good + bad file together are rejected" sl policy apply -f "$SL_WORK/open.yaml" -f "$SL_WORK/port.yaml"
check "the policy in force stays: client allowed" can default/client tcp "$IP_server" 80
check "the policy in force stays: other dropped" dropped default/other tcp "$IP_server" 80
[ "$(sl policy get default/clients -o yaml | grep -c 'app: client')" = 1 ] && pass "policy get shows the policy in force" || fail "policy get shows the policy in force"
check "dry run of a good file succeeds" sl policy apply --dry-run -f "$SL_WORK/open.yaml"
check "dry run changed nothing" dropped default/other tcp "$IP_server" 80
# kubectl's habits: --dry-run=client|server, -f=FILE, delete -n NS NAME,
# --ignore-not-found
check "--dry-run=server of a good file succeeds" sl policy apply --dry-run=server -f "$SL_WORK/open.yaml"
check "--dry-run=client -f=FILE succeeds" sl policy apply --dry-run=client -f="$SL_WORK/open.yaml"
check "--dry-run=server changed nothing" dropped default/other tcp "$IP_server" 80
out=$(sl policy apply --dry-run=maybe -f "$SL_WORK/open.yaml" 2>&1)
[ $? = 2 ] && echo "$out" | grep -q 'invalid --dry-run value "maybe"' && pass "--dry-run=maybe is a usage error" ||
	fail "--dry-run=maybe is a usage error: $out"
check_not "delete of a missing policy fails" sl policy delete -n default nothere
check "delete --ignore-not-found of a missing policy succeeds" sl policy delete -n default nothere --ignore-not-found
out=$(sl policy delete -n default default/clients 2>&1)
[ $? = 2 ] && pass "-n with NS/NAME is a usage error" || fail "-n with NS/NAME is a usage error: $out"
check "delete -n default clients" sl policy delete -n default clients
check_not "the policy is gone" sl policy get default/clients
# delete -f FILE: every object of the file, by kind and name
printf '%s\n' '{"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy", "metadata": {"name": "two-a"},' \
	' "spec": {"endpointSelector": {"matchLabels": {"app": "server"}}, "ingress": [{"fromEndpoints": [{"matchLabels": {"app": "client"}}]}]}}' \
	'---' '{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "two-b", "namespace": "default"},' \
	' "spec": {"podSelector": {"matchLabels": {"app": "server"}}}}' >"$SL_WORK/two.yaml"
check "apply two.yaml" sl policy apply -f "$SL_WORK/two.yaml"
check "the CNP is in force: other dropped" dropped default/other tcp "$IP_server" 80
out=$(sl policy delete -f "$SL_WORK/two.yaml" 2>&1)
[ $? = 0 ] && echo "$out" | grep -q 'policy default/two-a deleted' && echo "$out" | grep -q 'policy default/two-b deleted' &&
	pass "delete -f deletes both objects of the file" || fail "delete -f deletes both objects of the file: $out"
check_not "delete -f again: they are gone (exit 1)" sl policy delete -f "$SL_WORK/two.yaml"
check "delete -f --ignore-not-found of deleted objects" sl policy delete -f "$SL_WORK/two.yaml" --ignore-not-found
check "nothing selects server now: other reaches it" can default/other tcp "$IP_server" 80
out=$(sl policy delete -f "$SL_WORK/two.yaml" -n default 2>&1)
[ $? = 2 ] && pass "delete -f with -n is a usage error" || fail "delete -f with -n is a usage error: $out"
check "lint without an agent finds the error" sh -c "! $SL_BUILD/cli/sluice --socket /nonexistent policy lint $SL_WORK/port.yaml"
t_finish
