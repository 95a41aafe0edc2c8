#!/usr/bin/env bash
# icmps rules (Cilium's ICMPRule), as the Cilium CLI's connectivity tests
# apply them (client-ingress-icmp, client-ingress-from-other-client-icmp-
# deny), with an ICMP echo from pod to pod:
#  - an allow of type 8 from client2: its echo is answered, client's is
#    dropped, TCP from client2 is dropped (only ICMP is allowed), another
#    query type (13, timestamp) from client2 is dropped in the kernel;
#  - the deny variant next to an allow-all: client2's echo dropped, the
#    other direction and TCP allowed;
#  - named types (EchoRequest), observe's l4.ICMPv4 type and Summary;
#  - bad input: icmps with toPorts in one rule, an unknown type name, a
#    type over 255, an unknown family: refused with file, line and field.
source "$(dirname "$0")/lib.sh"
t_begin

pod default/client kind=client,name=client
pod default/client2 kind=client,name=client2,other=client
serve default/client tcp:8080
serve default/client2 tcp:8080
ping_ok() { sl pod exec "$1" -- python3 "$TOOLS/icmp.py" "$2" "${3:-8}" 1.0; }
ping_dropped() {
	sl pod exec "$1" -- python3 "$TOOLS/icmp.py" "$2" "${3:-8}" 0.7
	[ $? -eq 2 ]
}

check "no policy: client2 -> client echo answered" ping_ok default/client2 "$IP_client"
check "no policy: client -> client2 echo answered" ping_ok default/client "$IP_client2"

echo "# client-ingress-icmp"
cat >"$SL_WORK/icmp.yaml" <<'YAML'
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: client-ingress-from-client2-icmp
spec:
  description: "Allow other client to contact another client via ICMP"
  endpointSelector:
    matchLabels:
      kind: client
  ingress:
  - fromEndpoints:
    - matchLabels:
        other: client
      matchExpressions:
      - { key: io.cilium.k8s.policy.cluster, operator: Exists }
    icmps:
    - fields:
      - family: IPv4
        type: 8
      - family: IPv6
        type: 128
YAML
check "apply the CLI's echo-ingress-icmp.yaml" sl policy apply -f "$SL_WORK/icmp.yaml"
check "client2 -> client: echo answered" wait_until 30 0.1 ping_ok default/client2 "$IP_client"
check "client -> client2: echo dropped (default deny)" ping_dropped default/client "$IP_client2"
check "client2 -> client: TCP 8080 dropped (only ICMP allowed)" dropped default/client2 tcp "$IP_client" 8080
check "client2 -> client: timestamp request (type 13) dropped" ping_dropped default/client2 "$IP_client" 13
sl observe --last 100 -o json >"$SL_WORK/flows.json"
python3 - "$SL_WORK/flows.json" "$IP_client" >"$SL_WORK/icmp-flows.txt" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    f = json.loads(line)["flow"]
    l4 = f.get("l4", {})
    if "ICMPv4" in l4 and f["IP"]["destination"] == sys.argv[2] and f.get("traffic_direction") == "INGRESS":
        print(f["verdict"], json.dumps(l4["ICMPv4"], sort_keys=True), f["Summary"], f["event_type"]["type"])
PY
sed 's/^/    /' "$SL_WORK/icmp-flows.txt"
check "observe: the echo FORWARDED, l4.ICMPv4 {type: 8}, Summary ICMPv4 EchoRequest" \
	grep -q '^FORWARDED {"type": 8} ICMPv4 EchoRequest 5$' "$SL_WORK/icmp-flows.txt"
check "observe: the timestamp request DROPPED, {type: 13}" \
	grep -q '^DROPPED {"type": 13} ICMPv4 TimestampRequest 1$' "$SL_WORK/icmp-flows.txt"
sl observe --last 300 -o json --protocol icmp >"$SL_WORK/icmp.json"
check "observe: the echo's reply traced, {} (type 0), ICMPv4 EchoReply" \
	grep -q '"ICMPv4":{}.*"trace_reason":"REPLY".*"Summary":"ICMPv4 EchoReply"' "$SL_WORK/icmp.json"
sl observe --last 300 --protocol icmp >"$SL_WORK/icmp.txt"
check "observe --protocol icmp: the reply's line has no port" grep -qE "default/client2 \(ID:[0-9]+\) <- default/client \(ID:[0-9]+\) to-endpoint FORWARDED \(ICMPv4 EchoReply\)" "$SL_WORK/icmp.txt"
check "policy delete" sl policy delete default/client-ingress-from-client2-icmp

echo "# a named type"
apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: named}
spec:
  endpointSelector: {matchLabels: {kind: client}}
  ingress:
  - fromEndpoints: [{matchLabels: {other: client}}]
    icmps: [{fields: [{type: EchoRequest}]}]
YAML
check "type: EchoRequest allows the echo" wait_until 30 0.1 ping_ok default/client2 "$IP_client"
check "  and only it" ping_dropped default/client2 "$IP_client" 13
check "policy delete" sl policy delete default/named

echo "# client-ingress-from-other-client-icmp-deny"
apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: allow-all-ingress}
spec:
  endpointSelector: {}
  ingress:
  - fromEntities: [all]
---
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: client-ingress-from-other-client-icmp-deny
spec:
  endpointSelector:
    matchLabels:
      kind: client
  ingressDeny:
  - fromEndpoints:
    - matchLabels:
        other: client
      matchExpressions:
      - { key: io.cilium.k8s.policy.cluster, operator: Exists }
    icmps:
    - fields:
      - family: IPv4
        type: 8
      - family: IPv6
        type: 128
YAML
check "client2 -> client: echo dropped (deny)" wait_until 30 0.1 ping_dropped default/client2 "$IP_client"
check "client -> client2: echo answered" ping_ok default/client "$IP_client2"
check "client2 -> client: TCP 8080 allowed" can default/client2 tcp "$IP_client" 8080

echo "# bad input"
cat >"$SL_WORK/bad.yaml" <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: bad}
spec:
  endpointSelector: {}
  ingress:
  - icmps: [{fields: [{type: 8}]}]
    toPorts: [{ports: [{port: "80"}]}]
  - icmps: [{fields: [{type: EchoPlease}, {type: 256}, {type: 8, family: IPv5}]}]
YAML
check_exit 1 "refused" sl policy apply -f "$SL_WORK/bad.yaml"
for want in \
	"bad.yaml:7: spec.ingress\[0\].icmps: the icmps block may only be present without toPorts (define a separate rule to use toPorts)" \
	"bad.yaml:9: spec.ingress\[1\].icmps\[0\].fields\[0\].type: unknown IPv4 ICMP type \"EchoPlease\"" \
	"bad.yaml:9: spec.ingress\[1\].icmps\[0\].fields\[1\].type: invalid ICMP type \"256\" (0-255 or a name)" \
	"bad.yaml:9: spec.ingress\[1\].icmps\[0\].fields\[2\].family: unknown family \"IPv5\" (want IPv4 or IPv6)"; do
	echo "$ERR_OUT" | grep -q "$want" && pass "names: ${want%%:*}..." || fail "message '$want' in: $ERR_OUT"
done
check "the policies in force stay: client2 -> client echo still dropped" ping_dropped default/client2 "$IP_client"
t_finish
