#!/usr/bin/env bash
# Cilium's policy resolution (pkg/policy distillery / l4_filter / rule
# tests) end to end, where only the proxy's answer shows it: L7 rules of
# several rules on one port merged per peer, an L4-only allow widening its
# peer's http rules (and no other peer's), a deny beating an L7 allow, and
# a rule with enableDefaultDeny: false never answering 403 (Cilium 1.18,
# cilium/cilium#38676). The compiler's side of each is in
# tests/unit/policy/test_cilium_resolution.c.
source "$(dirname "$0")/lib.sh"
t_begin

pod default/server app=server
pod default/a app=client,name=a
pod default/b app=client,name=b
pod default/c app=other
serve default/server tcp:8080
S=http://$IP_server:8080
wait_proxy_ready

# server_cnp NAME: applies a CNP selecting the server, its spec (after the
# endpointSelector, indented by 2) from stdin
# (apply_yaml reads a process substitution: it must run in this shell, where
# its fail() counts)
server_cnp() {
	apply_yaml >/dev/null < <(printf 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: %s}\nspec:\n' "$1"
		printf '  endpointSelector: {matchLabels: {app: server}}\n'; cat)
}
# status FROM PATH WANT "what"
status() { expect_eq "$4" "$3" "$(http "$1" "$S$2")"; }

echo "# L7 for a, L4 only for b, one port (l4_filter_test.go, 'L7 A + L4 B')"
server_cnp merge <<'YAML'
  ingress:
  - fromEndpoints: [{matchLabels: {name: a}}]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
      rules: {http: [{method: GET, path: "/public"}]}
  - fromEndpoints: [{matchLabels: {name: b}}]
    toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
YAML
wait_proxy_rules
status default/a /public 200 "a GET /public -> 200"
status default/a /private 403 "a GET /private -> 403 (a's http rules)"
status default/b /private 200 "b GET /private -> 200 (b is allowed at L4: its requests are not filtered)"
check "c is dropped at L3/L4" dropped default/c tcp "$IP_server" 8080

echo "# an L4-only allow of a on the same port: a's requests are all allowed (case 7A)"
server_cnp a-l4 <<'YAML'
  ingress:
  - fromEndpoints: [{matchLabels: {name: a}}]
    toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
YAML
wait_proxy_rules
status default/a /private 200 "a GET /private -> 200 (the L4 allow makes a's http unrestricted)"
check "delete a-l4" sl policy delete -n default a-l4
wait_proxy_rules
status default/a /private 403 "a-l4 deleted: a GET /private -> 403 again"

echo "# an L3-only allow of a does not widen a's http rules (CVE-2023-30851)"
server_cnp a-l3 <<'YAML'
  ingress:
  - fromEndpoints: [{matchLabels: {name: a}}]
YAML
wait_proxy_rules
status default/a /private 403 "a GET /private -> 403 (the L3-only allow leaves the port's L7 rules)"
status default/a /public 200 "a GET /public -> 200"
check "delete a-l3" sl policy delete -n default a-l3

echo "# a deny of the port for b beats every allow (deny over L7 and L4)"
server_cnp deny-b <<'YAML'
  ingressDeny:
  - fromEndpoints: [{matchLabels: {name: b}}]
    toPorts: [{ports: [{port: "8080", protocol: ANY}]}]
YAML
wait_proxy_rules
check "b is dropped" dropped default/b tcp "$IP_server" 8080
status default/a /public 200 "a still GET /public -> 200"
check "delete deny-b" sl policy delete -n default deny-b
check "delete merge" sl policy delete -n default merge

echo "# enableDefaultDeny: false with http rules: visibility, never a 403 (l4_filter_test.go case 15)"
server_cnp visibility <<'YAML'
  enableDefaultDeny: {ingress: false}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
      rules: {http: [{method: GET, path: "/public"}]}
YAML
wait_proxy_rules
status default/a /public 200 "a GET /public -> 200"
status default/a /private 200 "a GET /private -> 200 (the rule may not deny)"
status default/c /private 200 "c GET /private -> 200 (the added allow-all)"
sleep 0.3 # the access records reach the agent a little after the answer
# observed PATTERN: an L7 flow line of observe matches it
observed() { sl observe --last 1000 --type l7 | grep -q "$1"; }
check "a's requests went through the proxy (observe: http-request FORWARDED /private)" observed \
	'default/a:[0-9]* (ID:[0-9]*) -> default/server:8080 (ID:[0-9]*) http-request FORWARDED (HTTP/1.1 GET http://[^ ]*/private)'

echo "#   beside a default-deny policy with its own http rules for b"
server_cnp strict <<'YAML'
  ingress:
  - fromEndpoints: [{matchLabels: {name: b}}]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
      rules: {http: [{method: GET, path: "/public"}]}
YAML
wait_proxy_rules
status default/a /private 200 "a GET /private -> 200 (a is a peer of the default-allow rule)"
status default/b /private 200 "b GET /private -> 200 (b too: the default-allow rule names app=client)"
status default/c /private 000 "c is now dropped (the strict policy turns default deny on)"
t_finish
