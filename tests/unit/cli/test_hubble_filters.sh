#!/usr/bin/env bash
# test_hubble_filters.sh - Hubble's own filter unit tests
# (cilium/cilium pkg/hubble/filters/*_test.go) replayed against
# `sluice observe --input-file FILE -o json --allowlist/--denylist JSON`.
#
# Each case is one Go test case: the flow as protojson (Hubble's JSON names,
# enums by name, zero values left out, wrapped as a GetFlowsResponse
# {"flow": ...}), the FlowFilter(s) as JSON, and what Hubble expects:
# true (the flow is printed), false (it is not) or error (the filter is
# refused: exit 2). A filter argument starting with "!" goes to --denylist
# (Hubble's MatchNone / blacklist), the others to --allowlist (MatchOne).
#
#   usage: test_hubble_filters.sh SLUICE   (the sluice CLI binary)
#
# No agent, no root: ctest's cli_hubble_filters (label unit).
#
# Translation notes
#   - Subtests with several events become one case per event, "#i" being
#     the event's index in the Go test's list.
#   - nodename_test: Hubble's events are access-log flows
#     (event_type {type: 129}) with no L7 record; sluice derives the event
#     type from the flow's l7 object (see event_type_test below), so those
#     flows get "l7":{"http":{}} to stay access-log flows for sluice too.
#   - Cases marked "(realistic flow)" or "(5+ only)" are not Go cases: they
#     repeat a Go case with the fields a real Hubble flow carries as well
#     (addresses next to IP.ipVersion, drop_reason next to
#     drop_reason_desc), or with the part of the filter sluice accepts, to
#     tell "sluice reads another field" from "sluice matches differently".
#
# Skipped Hubble test cases, and why
#   - Every event that is not a Flow: nil events, v1.Event{} without a
#     flow, AgentEvent, LostEvent, DebugEvent (event_type_test,
#     ip_test TestIPVersionFilter "test with non-flow event*", the nil cases
#     of identity/uuid/traffic_direction/workload/reply/k8s/ip/cluster_name
#     tests): --input-file reads flows only and skips other responses.
#   - fqdn_test TestFQDNFilter (all match cases) and Test_filterByDNSQuery:
#     need source_names / destination_names / l7.dns, which sluice never
#     has (no DNS proxy; its source_fqdn/destination_fqdn never match and it
#     has no dns_query). Only the two filter-validation cases are kept.
#   - cel_expression_test (CEL), encrypted_test (IP.encrypted),
#     network_interface_test (interface), ip_trace_id_test, ip_tracing_test,
#     tracing_test (ip_trace_id / trace_id), httpheader_test (l7.http
#     headers, not kept by sluice's flow view): fields sluice never has.
#   - labels_test Test_parseSelector "simple labels" / "complex labels":
#     they check the parsed selector's text, not a match.
#   - labelparser_test, patterns_test: unit tests of parsers (node name
#     patterns are covered through nodename_test).
#   - node_test.go (relay's NewNodeNameFilter include/exclude lists, an API
#     that is not a FlowFilter) and identitty_test.go (an old copy of
#     identity_test.go).
#   - filters_test TestMatch / TestOnBuildFilter: synthetic filter
#     functions with no FlowFilter. TestApply is kept, with
#     {"verdict":["FORWARDED"]} as "yes" and {"verdict":["DROPPED"]} as
#     "no" on a FORWARDED flow.
set -u

SLUICE=${1:?usage: test_hubble_filters.sh SLUICE}
TMP=$(mktemp -d /tmp/sluice-hubble-filters.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
PASS=0
FAIL=0
N=0

# case_ NAME WANT FLOW FILTER...: WANT true, false or error
case_() {
	local name=$1 want=$2 flow=$3 f got out rc args=()
	shift 3
	for f in "$@"; do
		if [ "${f:0:1}" = '!' ]; then args+=(--denylist "${f:1}"); else args+=(--allowlist "$f"); fi
	done
	N=$((N + 1))
	printf '{"flow":%s}\n' "$flow" >"$TMP/$N.json"
	out=$("$SLUICE" observe --input-file "$TMP/$N.json" -o json "${args[@]}" 2>"$TMP/$N.err")
	rc=$?
	case $rc in
	0) if [ -n "$out" ]; then got=true; else got=false; fi ;;
	2) got=error ;;
	*) got="exit-$rc" ;;
	esac
	if [ "$got" = "$want" ]; then
		PASS=$((PASS + 1))
		echo "ok   $name"
	else
		FAIL=$((FAIL + 1))
		echo "FAIL $name: want match=$want got match=$got"
		echo "     flow:   $flow"
		echo "     filter: $*"
		[ -s "$TMP/$N.err" ] && echo "     stderr: $(head -c 300 "$TMP/$N.err")"
	fi
}

# ---- verdict_test.go ------------------------------------------------------
T="verdict_test: TestVerdictFilter"
case_ "$T/FORWARDED" true '{"verdict":"FORWARDED"}' '{"verdict":["FORWARDED"]}'
case_ "$T/DROPPED" false '{"verdict":"FORWARDED"}' '{"verdict":["DROPPED"]}'
case_ "$T/REDIRECTED" false '{"verdict":"FORWARDED"}' '{"verdict":["REDIRECTED"]}'

# ---- filters_test.go (Apply: allowlist MatchOne && denylist MatchNone) ----
T="filters_test: TestApply"
Y='{"verdict":["FORWARDED"]}' NO='{"verdict":["DROPPED"]}' F='{"verdict":"FORWARDED"}'
case_ "$T/#0 whitelist yes" true "$F" "$Y"
case_ "$T/#1 whitelist no" false "$F" "$NO"
case_ "$T/#2 blacklist no" true "$F" "!$NO"
case_ "$T/#3 blacklist yes" false "$F" "!$Y"
case_ "$T/#4 whitelist yes, blacklist yes" false "$F" "$Y" "!$Y"
case_ "$T/#5 whitelist yes, blacklist no" true "$F" "$Y" "!$NO"
case_ "$T/#6 whitelist no, blacklist yes" false "$F" "$NO" "!$Y"
case_ "$T/#7 whitelist no, blacklist no" false "$F" "$NO" "!$NO"
case_ "$T/#8 none" true "$F"

# ---- reply_test.go ----------------------------------------------------------
T="reply_test: Test_filterByReplyField"
case_ "$T/empty-param" true '{"is_reply":true}' '{"reply":[]}'
case_ "$T/empty-param-2" true '{"is_reply":false}' '{"reply":[]}'
case_ "$T/no-reply" true '{"is_reply":false}' '{"reply":[false]}'
case_ "$T/trace-event-from-endpoint" false '{"event_type":{"type":4,"sub_type":5}}' '{"reply":[false]}'
case_ "$T/trace-event-to-endpoint" true '{"event_type":{"type":4},"is_reply":false}' '{"reply":[false]}'
case_ "$T/reply" true '{"is_reply":true}' '{"reply":[true]}'
case_ "$T/drop implies reply=false" true '{"verdict":"DROPPED"}' '{"reply":[false]}'
case_ "$T/no-match" false '{"is_reply":false}' '{"reply":[true]}'
case_ "$T/no-match-2" false '{"is_reply":true}' '{"reply":[false]}'

# ---- ip_test.go ---------------------------------------------------------------
T="ip_test: TestIPFilter"
A='{"IP":{"source":"1.1.1.1","destination":"10.0.0.2"}}'
B='{"IP":{"source":"10.0.0.2","destination":"1.1.1.1"}}'
C='{"IP":{"source":"f00d::a10:0:0:9195","destination":"ff02::1:ff00:b3e5"}}'
D='{"IP":{"source":"ff02::1:ff00:b3e5","destination":"f00d::a10:0:0:9195"}}'
FL='{"source_ip":["1.1.1.1","f00d::a10:0:0:9195"]}'
case_ "$T/source ip #0" true "$A" "$FL"
case_ "$T/source ip #1" false "$B" "$FL"
case_ "$T/source ip #2" true "$C" "$FL"
case_ "$T/source ip #3" false "$D" "$FL"
FL='{"destination_ip":["1.1.1.1","f00d::a10:0:0:9195"]}'
case_ "$T/destination ip #0" false "$A" "$FL"
case_ "$T/destination ip #1" true "$B" "$FL"
case_ "$T/destination ip #2" false "$C" "$FL"
case_ "$T/destination ip #3" true "$D" "$FL"
FL='{"source_ip":["1.1.1.1","f00d::a10:0:0:9195"],"destination_ip":["10.0.0.2","ff02::1:ff00:b3e5"]}'
case_ "$T/source and destination ip #0" true "$A" "$FL"
case_ "$T/source and destination ip #1" false "$B" "$FL"
case_ "$T/source and destination ip #2" true "$C" "$FL"
case_ "$T/source and destination ip #3" false "$D" "$FL"
F1='{"source_ip":["1.1.1.1"]}' F2='{"destination_ip":["10.0.0.2"]}'
case_ "$T/source or destination ip #0" true "$A" "$F1" "$F2"
case_ "$T/source or destination ip #1" false "$B" "$F1" "$F2"
case_ "$T/source or destination ip #2" true '{"IP":{"source":"1.1.1.1","destination":"1.1.1.1"}}' "$F1" "$F2"
case_ "$T/source or destination ip #3" true '{"IP":{"source":"10.0.0.2","destination":"10.0.0.2"}}' "$F1" "$F2"
case_ "$T/invalid data #2" false '{}' '{"source_ip":["1.1.1.1"]}'
case_ "$T/invalid data #3" false '{"IP":{}}' '{"source_ip":["1.1.1.1"]}'
case_ "$T/invalid source ip filter" error '{}' '{"source_ip":["320.320.320.320"]}'
case_ "$T/invalid destination ip filter" error '{}' '{"destination_ip":[""]}'
FL='{"source_ip":["1.1.1.0/24","f00d::/16"]}'
case_ "$T/source cidr #0" true "$A" "$FL"
case_ "$T/source cidr #1" false "$B" "$FL"
case_ "$T/source cidr #2" true "$C" "$FL"
case_ "$T/source cidr #3" false "$D" "$FL"
FL='{"destination_ip":["1.1.1.0/24","f00d::/16"]}'
case_ "$T/destination cidr #0" true "$B" "$FL"
case_ "$T/destination cidr #1" false "$A" "$FL"
case_ "$T/destination cidr #2" true "$D" "$FL"
case_ "$T/destination cidr #3" false "$C" "$FL"
case_ "$T/invalid source cidr filter" error '{}' '{"source_ip":["1.1.1.1/1234"]}' '{"source_ip":["2001::/1234"]}'
case_ "$T/invalid destination cidr filter" error '{}' '{"destination_ip":["1.1.1.1/1234"]}' '{"destination_ip":["2001::/1234"]}'

T="ip_test: TestIPVersionFilter"
V4='{"IP":{"ipVersion":"IPv4"}}' V6='{"IP":{"ipVersion":"IPv6"}}' V0='{"IP":{}}'
F4='{"ip_version":["IPv4"]}' F6='{"ip_version":["IPv6"]}' F0='{"ip_version":["IP_NOT_USED"]}'
case_ "$T/ipv4 test #0" true "$V4" "$F4"
case_ "$T/ipv4 test #1" false "$V6" "$F4"
case_ "$T/ipv4 test #2" false "$V0" "$F4"
case_ "$T/ipv6 test #0" false "$V4" "$F6"
case_ "$T/ipv6 test #1" true "$V6" "$F6"
case_ "$T/ipv6 test #2" false "$V0" "$F6"
case_ "$T/unknown network protocol test #0" false "$V4" "$F0"
case_ "$T/unknown network protocol test #1" false "$V6" "$F0"
case_ "$T/unknown network protocol test #2" true "$V0" "$F0"
case_ "$T/both ipv4 and ipv6 allow test #0" true "$V4" "$F4" "$F6"
case_ "$T/both ipv4 and ipv6 allow test #1" true "$V6" "$F4" "$F6"
case_ "$T/both ipv4 and ipv6 allow test #2" false "$V0" "$F4" "$F6"
case_ "$T/all ipv4,ipv6,unknown allow test #0" true "$V4" "$F4" "$F6" "$F0"
case_ "$T/all ipv4,ipv6,unknown allow test #1" true "$V6" "$F4" "$F6" "$F0"
case_ "$T/all ipv4,ipv6,unknown allow test #2" true "$V0" "$F4" "$F6" "$F0"
R4='{"IP":{"source":"10.0.0.1","destination":"10.0.0.2","ipVersion":"IPv4"}}'
R6='{"IP":{"source":"f00d::1","destination":"f00d::2","ipVersion":"IPv6"}}'
R0='{"verdict":"FORWARDED"}'
case_ "$T/ipv4 test #0 (realistic flow)" true "$R4" "$F4"
case_ "$T/ipv4 test #1 (realistic flow)" false "$R6" "$F4"
case_ "$T/ipv4 test #2 (realistic flow)" false "$R0" "$F4"
case_ "$T/ipv6 test #0 (realistic flow)" false "$R4" "$F6"
case_ "$T/ipv6 test #1 (realistic flow)" true "$R6" "$F6"
case_ "$T/ipv6 test #2 (realistic flow)" false "$R0" "$F6"
case_ "$T/unknown network protocol test #2 (realistic flow)" true "$R0" "$F0"

# ---- port_test.go -----------------------------------------------------------------
T="port_test: TestPortFilter"
case_ "$T/udp" true '{"l4":{"UDP":{"source_port":12345,"destination_port":53}}}' '{"source_port":["12345"],"destination_port":["53"]}'
case_ "$T/tcp" true '{"l4":{"TCP":{"source_port":32320,"destination_port":80}}}' '{"source_port":["32320"],"destination_port":["80"]}'
case_ "$T/wrong direction" false '{"l4":{"TCP":{"source_port":80,"destination_port":32320}}}' '{"destination_port":["80"]}'
case_ "$T/no port" false '{"l4":{"ICMPv4":{}}}' '{"destination_port":["0"]}'
case_ "$T/invalid port" error '{}' '{"source_port":["999999"]}'

# ---- protocol_test.go ---------------------------------------------------------------
T="protocol_test: TestFlowProtocolFilter"
case_ "$T/udp" true '{"l4":{"UDP":{}}}' '{"protocol":["udp"]}'
case_ "$T/http" true '{"l4":{"TCP":{}},"l7":{"http":{}}}' '{"protocol":["http"]}'
case_ "$T/icmp (v4)" true '{"l4":{"ICMPv4":{}}}' '{"protocol":["icmp"]}'
case_ "$T/icmp (v6)" true '{"l4":{"ICMPv6":{}}}' '{"protocol":["icmp"]}'
case_ "$T/multiple protocols" true '{"l4":{"TCP":{}}}' '{"protocol":["tcp","kafka"]}'
case_ "$T/invalid protocols" error '{}' '{"protocol":["not a protocol"]}'

# ---- labels_test.go ---------------------------------------------------------------------
T="labels_test: TestLabelSelectorFilter"
src() { printf '{"source":{"labels":%s}}' "$1"; }
FL='{"source_label":["label1","label2"]}'
case_ "$T/label filter without value #0" true "$(src '["label1"]')" "$FL"
case_ "$T/label filter without value #1" true "$(src '["label1=val1"]')" "$FL"
case_ "$T/label filter without value #2" true "$(src '["label2","label3","label4=val4"]')" "$FL"
case_ "$T/label filter without value #3" false "$(src '["label3"]')" "$FL"
FL='{"source_label":["label1=val1","label2=val2"]}'
case_ "$T/label filter with value #0" false "$(src '["label1"]')" "$FL"
case_ "$T/label filter with value #1" true "$(src '["label1=val1"]')" "$FL"
case_ "$T/label filter with value #2" false "$(src '["label1=val2","label2=val1","label3"]')" "$FL"
case_ "$T/label filter with value #3" true "$(src '["label2=val2","label3"]')" "$FL"
case_ "$T/label filter with value #4" false "$(src '["label3=val1"]')" "$FL"
case_ "$T/label filter with value #5" false "$(src '[""]')" "$FL"
case_ "$T/label filter with value #6" false '{"source":{}}' "$FL"
case_ "$T/label filter with value #7" false "$(src '["label1=val1=toomuch"]')" "$FL"
FL='{"source_label":["label1 in (val1, val2), label3 notin ()"]}'
case_ "$T/complex label label filter #0" false "$(src '["label1"]')" "$FL"
case_ "$T/complex label label filter #1" true "$(src '["label1=val1"]')" "$FL"
case_ "$T/complex label label filter #2" true "$(src '["label1=val2","label2=val1","label3=val3"]')" "$FL"
case_ "$T/complex label label filter #3" false "$(src '["label2=val2","label3"]')" "$FL"
case_ "$T/complex label label filter #4" true "$(src '["label1=val1","label3=val3"]')" "$FL"
FL='{"source_label":["src1, src2=val2"],"destination_label":["dst1, dst2=val2"]}'
case_ "$T/source and destination label filter #0" true '{"source":{"labels":["src1","src2=val2"]},"destination":{"labels":["dst1","dst2=val2"]}}' "$FL"
case_ "$T/source and destination label filter #1" false "$(src '["label1=val1"]')" "$FL"
case_ "$T/source and destination label filter #2" false '{"destination":{"labels":["dst1","dst2=val2"]}}' "$FL"
case_ "$T/source and destination label filter #3" false '{"source":{"labels":["dst1","dst2=val2"]},"destination":{"labels":["src1","src2=val2"]}}' "$FL"
case_ "$T/source and destination label filter #4" false '{"source":{"labels":["src1"]},"destination":{"labels":["dst1"]}}' "$FL"
FL='{"source_label":[""]}'
case_ "$T/matchall filter #0" true "$(src '["src1","src2=val2"]')" "$FL"
case_ "$T/matchall filter #1" true '{"source":{}}' "$FL"
case_ "$T/matchall filter #2" true "$(src '[""]')" "$FL"
FL='{"source_label":["k8s:app=bar","foo","reserved:host"]}'
case_ "$T/cilium fixed prefix filters #0" true "$(src '["k8s:app=bar"]')" "$FL"
case_ "$T/cilium fixed prefix filters #1" true "$(src '["k8s:foo=baz"]')" "$FL"
case_ "$T/cilium fixed prefix filters #2" false "$(src '["k8s.app=bar"]')" "$FL"
case_ "$T/cilium fixed prefix filters #3" true "$(src '["container:foo=bar","reserved:host"]')" "$FL"
FL='{"source_label":["any:key"]}'
case_ "$T/cilium any prefix filters #0" true "$(src '["key"]')" "$FL"
case_ "$T/cilium any prefix filters #1" true "$(src '["reserved:key"]')" "$FL"
case_ "$T/cilium any prefix filters #2" false "$(src '["any.key"]')" "$FL"
case_ "$T/invalid source filter" error '{}' '{"source_label":["()"]}'
case_ "$T/invalid destination filter" error '{}' '{"destination_label":["="]}'
case_ "labels_test: Test_parseSelector/too many colons" error '{}' '{"source_label":["any:k8s:bla"]}'

# ---- k8s_test.go ----------------------------------------------------------------------------
T="k8s_test: TestPodFilter"
ep() { printf '{"namespace":"%s","pod_name":"%s"}' "${1%%/*}" "${1#*/}"; }
s() { printf '{"source":%s}' "$(ep "$1")"; }
d() { printf '{"destination":%s}' "$(ep "$1")"; }
sd() { printf '{"source":%s,"destination":%s}' "$(ep "$1")" "$(ep "$2")"; }
FL='{"source_pod":["xwing","default/tiefighter"]}'
case_ "$T/source pod #0" true "$(s default/xwing)" "$FL"
case_ "$T/source pod #1" true "$(s default/tiefighter)" "$FL"
case_ "$T/source pod #2" false "$(s kube-system/xwing)" "$FL"
case_ "$T/source pod #3" false "$(d default/xwing)" "$FL"
FL='{"destination_pod":["xwing","default/tiefighter"]}'
case_ "$T/destination pod #0" true "$(d default/xwing)" "$FL"
case_ "$T/destination pod #1" true "$(d default/tiefighter)" "$FL"
case_ "$T/destination pod #2" false "$(d kube-system/xwing)" "$FL"
case_ "$T/destination pod #3" false "$(s default/xwing)" "$FL"
FL='{"source_pod":["xwing","tiefighter"],"destination_pod":["deathstar"]}'
case_ "$T/source and destination pod #0" true "$(sd default/xwing default/deathstar)" "$FL"
case_ "$T/source and destination pod #1" true "$(sd default/tiefighter default/deathstar)" "$FL"
case_ "$T/source and destination pod #2" false "$(sd default/deathstar default/xwing)" "$FL"
case_ "$T/source and destination pod #3" false "$(sd default/tiefighter default/xwing)" "$FL"
F1='{"source_pod":["xwing"]}' F2='{"destination_pod":["deathstar"]}'
case_ "$T/source or destination pod #0" true "$(sd default/xwing default/deathstar)" "$F1" "$F2"
case_ "$T/source or destination pod #1" true "$(sd default/tiefighter default/deathstar)" "$F1" "$F2"
case_ "$T/source or destination pod #2" false "$(sd default/deathstar default/xwing)" "$F1" "$F2"
case_ "$T/source or destination pod #3" false "$(sd default/tiefighter default/xwing)" "$F1" "$F2"
F1='{"source_pod":["kube-system/"]}' F2='{"destination_pod":["kube-system/"]}'
case_ "$T/namespace filter #0" true "$(sd kube-system/coredns kube-system/kube-proxy)" "$F1" "$F2"
case_ "$T/namespace filter #1" true "$(sd default/tiefighter kube-system/coredns)" "$F1" "$F2"
case_ "$T/namespace filter #2" true "$(sd kube-system/coredns default/xwing)" "$F1" "$F2"
case_ "$T/namespace filter #3" false "$(sd default/tiefighter default/xwing)" "$F1" "$F2"
FL='{"source_pod":["xwing","kube-system/coredns-"]}'
case_ "$T/prefix filter #0" true "$(s default/xwing)" "$FL"
case_ "$T/prefix filter #1" true "$(s default/xwing-t-65b)" "$FL"
case_ "$T/prefix filter #2" true "$(s kube-system/coredns-12345)" "$FL"
case_ "$T/prefix filter #3" false "$(s kube-system/-coredns-12345)" "$FL"
case_ "$T/prefix filter #4" false "$(s default/tiefighter)" "$FL"
case_ "$T/invalid data #2" false '{}' '{"source_pod":["xwing"]}'
case_ "$T/invalid data #3" false '{"source":{"pod_name":"xwing"}}' '{"source_pod":["xwing"]}'
case_ "$T/invalid source pod filter" error '{}' '{"source_pod":[""]}'
case_ "$T/invalid destination pod filter" error '{}' '{"destination_pod":[""]}'

T="k8s_test: TestServiceFilter"
svc() { printf '{"%s":{"namespace":"%s","name":"%s"}}' "$1" "${2%%/*}" "${2#*/}"; }
FL='{"source_service":["deathstar","kube-system/kube-dns"]}'
case_ "$T/source service #0" false "$(svc source_service default/xwing)" "$FL"
case_ "$T/source service #1" true "$(svc source_service default/deathstar)" "$FL"
case_ "$T/source service #2" true "$(svc source_service kube-system/kube-dns)" "$FL"
case_ "$T/source service #3" false "$(svc destination_service kube-system/deathstar)" "$FL"
FL='{"destination_service":["default/","kube-system/kube-"]}'
case_ "$T/destination service #0" true "$(svc destination_service default/xwing)" "$FL"
case_ "$T/destination service #1" true "$(svc destination_service default/deathstar)" "$FL"
case_ "$T/destination service #2" true "$(svc destination_service kube-system/kube-dns)" "$FL"
case_ "$T/destination service #3" false "$(svc source_service kube-system/deathstar)" "$FL"

# ---- identity_test.go ------------------------------------------------------------------------
T="identity_test: TestIdentityFilter"
case_ "$T/source-positive" true '{"source":{"identity":3}}' '{"source_identity":[1,2,3]}'
case_ "$T/source-negative" false '{"source":{"identity":4}}' '{"source_identity":[1,2,3]}'
case_ "$T/destination-negative" false '{"destination":{"identity":5}}' '{"destination_identity":[1,2,3]}'

# ---- event_type_test.go ------------------------------------------------------------------------
T="event_type_test: TestEventTypeFilter"
FL='{"event_type":[{"type":1}]}'
case_ "$T/drop without subtype #0" false '{}' "$FL"
case_ "$T/drop without subtype #1" true '{"event_type":{"type":1}}' "$FL"
case_ "$T/drop without subtype #2" true '{"event_type":{"type":1,"sub_type":2}}' "$FL"
case_ "$T/drop without subtype #3" false '{"event_type":{"type":3}}' "$FL"
case_ "$T/drop without subtype #1 (realistic flow)" true '{"verdict":"DROPPED","drop_reason":133,"drop_reason_desc":"POLICY_DENIED","event_type":{"type":1,"sub_type":133}}' "$FL"
FL='{"event_type":[{"type":1,"match_sub_type":true,"sub_type":2}]}'
case_ "$T/drop with subtype #0" false '{}' "$FL"
case_ "$T/drop with subtype #1" false '{"event_type":{"type":1}}' "$FL"
case_ "$T/drop with subtype #2" true '{"event_type":{"type":1,"sub_type":2}}' "$FL"
case_ "$T/drop with subtype #3" false '{"event_type":{"type":3}}' "$FL"
case_ "$T/drop with subtype #2 (realistic flow)" true '{"verdict":"DROPPED","drop_reason":2,"event_type":{"type":1,"sub_type":2}}' "$FL"
case_ "$T/drop with subtype #1 (realistic flow)" false '{"verdict":"DROPPED","drop_reason":133,"drop_reason_desc":"POLICY_DENIED","event_type":{"type":1,"sub_type":133}}' "$FL"
FL='{"event_type":[{"type":130}]}'
case_ "$T/agent event without subtype #0" false '{}' "$FL"
case_ "$T/agent event without subtype #1" false '{"event_type":{}}' "$FL"
FL='{"event_type":[{"type":130,"match_sub_type":true,"sub_type":7}]}'
case_ "$T/agent event with subtype #0" false '{}' "$FL"
case_ "$T/agent event with subtype #1" false '{"event_type":{}}' "$FL"
case_ "$T/agent event with subtype #2" false '{"event_type":{"type":129}}' "$FL"

# ---- http_test.go --------------------------------------------------------------------------------
T="http_test: TestHTTPFilters"
h() { printf '{"event_type":{"type":129},"l7":{"http":%s}}' "$1"; }
L7='"event_type":[{"type":129}]'
FL="{\"http_status_code\":[\"200\",\"302\"],$L7}"
case_ "$T/status code full #0" true "$(h '{"code":200}')" "$FL"
case_ "$T/status code full #1" true "$(h '{"code":302}')" "$FL"
case_ "$T/status code full #2" false "$(h '{"code":404}')" "$FL"
case_ "$T/status code full #3" false "$(h '{"code":500}')" "$FL"
# Go's 004 and 050 are octal literals: 4 and 40
i=0
for want_code in false:302 true:400 true:404 false:410 false:4 true:500 true:501 true:510 false:40; do
	case_ "$T/status code prefix #$i" "${want_code%%:*}" "$(h "{\"code\":${want_code#*:}}")" "{\"http_status_code\":[\"40+\",\"5+\"],$L7}"
	i=$((i + 1))
done
i=0
for want_code in false:302 false:400 false:404 false:410 false:4 true:500 true:501 true:510 false:40; do
	case_ "$T/status code prefix #$i (5+ only)" "${want_code%%:*}" "$(h "{\"code\":${want_code#*:}}")" "{\"http_status_code\":[\"5+\"],$L7}"
	i=$((i + 1))
done
FL="{\"http_status_code\":[\"200\"],$L7}"
case_ "$T/invalid data #0" false '{}' "$FL"
case_ "$T/invalid data #1" false "$(h '{}')" "$FL"
case_ "$T/invalid data #2" false "$(h '{"code":777}')" "$FL"
case_ "$T/invalid empty filter" error '{}' "{\"http_status_code\":[\"\"],$L7}"
case_ "$T/invalid catch-all prefix" error '{}' "{\"http_status_code\":[\"+\"],$L7}"
case_ "$T/invalid status code" error '{}' "{\"http_status_code\":[\"909\"],$L7}"
case_ "$T/invalid status code text" error '{}' "{\"http_status_code\":[\"HTTP 200 OK\"],$L7}"
case_ "$T/invalid status code prefix (3++)" error '{}' "{\"http_status_code\":[\"3++\"],$L7}"
case_ "$T/invalid status code prefix (3+0)" error '{}' "{\"http_status_code\":[\"3+0\"],$L7}"
case_ "$T/empty event type filter" true "$(h '{"code":200}')" '{"http_status_code":["200"],"event_type":[]}'
case_ "$T/compatible event type filter" true "$(h '{"code":200}')" '{"http_status_code":["200"],"event_type":[{"type":129},{"type":4}]}'
case_ "$T/basic http method filter #0" true "$(h '{"method":"gEt"}')" \
	'{"http_method":["GET"],"event_type":[{"type":129},{"type":4}]}' '{"http_method":["POST"],"event_type":[{"type":129},{"type":4}]}'
case_ "$T/http method wrong type (GET, trace only)" error '{}' '{"http_method":["GET"],"event_type":[{"type":4}]}'
case_ "$T/http method wrong type (PUT|POST) #0" false "$(h '{"method":"DELETE"}')" \
	'{"http_method":["PUT"],"event_type":[{"type":129},{"type":4}]}' '{"http_method":["POST"],"event_type":[{"type":129},{"type":4}]}'
FL="{\"http_path\":[\"/docs/[a-z]+\",\"/post/\\\\d+\"],$L7}"
case_ "$T/path full #0" false "$(h '{"url":"/docs/"}')" "$FL"
case_ "$T/path full #1" true "$(h '{"url":"/docs/tutorial/"}')" "$FL"
case_ "$T/path full #2" false "$(h '{"url":"/post/"}')" "$FL"
case_ "$T/path full #3" true "$(h '{"url":"/post/0"}')" "$FL"
case_ "$T/path full #4" false "$(h '{"url":"/post/slug"}')" "$FL"
case_ "$T/path full #5" true "$(h '{"url":"/post/123?key=value"}')" "$FL"
case_ "$T/path full #6" false "$(h '{"url":"/slug"}')" "$FL"
FL="{\"http_path\":[\"/post/\\\\d+\"],$L7}"
case_ "$T/invalid uri #0" true "$(h '{"url":"/post/0"}')" "$FL"
case_ "$T/invalid uri #1" false "$(h '{"url":"?/post/0"}')" "$FL"
case_ "$T/invalid path filter" error '{}' "{\"http_path\":[\"(\"],$L7}"

# ---- tcp_test.go ------------------------------------------------------------------------------------
T="tcp_test: TestFlowTCPFilter"
tcp() { printf '{"l4":{"TCP":{"flags":%s}}}' "$1"; }
case_ "$T/filterSYNACK___eventSYNACK" true "$(tcp '{"SYN":true,"ACK":true}')" '{"tcp_flags":[{"SYN":true,"ACK":true}]}'
case_ "$T/filterSYNACK___eventSYN" false "$(tcp '{"SYN":true}')" '{"tcp_flags":[{"SYN":true,"ACK":true}]}'
case_ "$T/filterSYN_OR_filterACK___eventSYN" true "$(tcp '{"SYN":true}')" '{"tcp_flags":[{"SYN":true},{"ACK":true}]}'
case_ "$T/filterSYN_OR_filterACK___eventSYNACK" true "$(tcp '{"SYN":true,"ACK":true}')" '{"tcp_flags":[{"SYN":true},{"ACK":true}]}'
case_ "$T/filterSYN_OR_filterACK___eventPSHACK" true "$(tcp '{"PSH":true,"ACK":true}')" '{"tcp_flags":[{"SYN":true},{"ACK":true}]}'
case_ "$T/filterSYN___eventSYN" true "$(tcp '{"SYN":true}')" '{"tcp_flags":[{"SYN":true}]}'
case_ "$T/filterSYN___eventSYNACK" true "$(tcp '{"SYN":true,"ACK":true}')" '{"tcp_flags":[{"SYN":true}]}'
case_ "$T/filterFIN___eventRST" false "$(tcp '{"RST":true}')" '{"tcp_flags":[{"FIN":true}]}'
case_ "$T/filterSYN___eventPSH" false "$(tcp '{"PSH":true}')" '{"tcp_flags":[{"SYN":true}]}'
case_ "$T/filterURG___eventPSH" false "$(tcp '{"PSH":true}')" '{"tcp_flags":[{"URG":true}]}'
case_ "$T/filterRST___eventRST" true "$(tcp '{"RST":true}')" '{"tcp_flags":[{"RST":true}]}'
case_ "$T/filterFIN___eventFIN" true "$(tcp '{"FIN":true}')" '{"tcp_flags":[{"FIN":true}]}'
case_ "$T/filterPSH___eventPSHACK" true "$(tcp '{"PSH":true,"ACK":true}')" '{"tcp_flags":[{"PSH":true}]}'
case_ "$T/TCP flow without flags" false '{"l4":{"TCP":{}}}' '{"tcp_flags":[{"SYN":true}]}'

# ---- traffic_direction_test.go ------------------------------------------------------------------------
T="traffic_direction_test: TestTrafficDirectionFilter"
case_ "$T/match" true '{"traffic_direction":"INGRESS"}' '{"traffic_direction":["INGRESS"]}'
case_ "$T/no-match" false '{}' '{"traffic_direction":["INGRESS"]}'

# ---- drop_reason_desc_test.go -----------------------------------------------------------------------------
T="drop_reason_desc_test: TestDropReasonDescFilter"
FL='{"drop_reason_desc":["UNSUPPORTED_L3_PROTOCOL","POLICY_DENIED"]}'
case_ "$T/drop with verdict #0" false '{}' "$FL"
case_ "$T/drop with verdict #1" true '{"verdict":"DROPPED","drop_reason_desc":"UNSUPPORTED_L3_PROTOCOL"}' "$FL"
case_ "$T/drop with verdict #2" false '{"drop_reason_desc":"INVALID_SOURCE_IP"}' "$FL"
case_ "$T/drop with verdict #3" true '{"verdict":"DROPPED","drop_reason_desc":"POLICY_DENIED"}' "$FL"
case_ "$T/drop with verdict #1 (realistic flow)" true '{"verdict":"DROPPED","drop_reason":139,"drop_reason_desc":"UNSUPPORTED_L3_PROTOCOL"}' "$FL"
case_ "$T/drop with verdict #3 (realistic flow)" true '{"verdict":"DROPPED","drop_reason":133,"drop_reason_desc":"POLICY_DENIED"}' "$FL"
FL='{"drop_reason_desc":["UNSUPPORTED_L3_PROTOCOL"]}'
case_ "$T/drop without verdict #0" false '{}' "$FL"
case_ "$T/drop without verdict #1" false '{"drop_reason_desc":"UNSUPPORTED_L3_PROTOCOL"}' "$FL"
case_ "$T/drop without verdict #2" false '{"drop_reason_desc":"INVALID_SOURCE_IP"}' "$FL"

# ---- uuid_test.go -----------------------------------------------------------------------------------------------
T="uuid_test: TestUUIDFilter"
U='{"uuid":"a82c2c32-f410-47fb-9343-7788ea734c79"}'
case_ "$T/match" true "$U" '{"uuid":["43eea867-dd4b-4e5e-b2b8-fe80e0f51b06","4eb4d680-4793-43af-8446-79d72254084c","7ac83829-a655-4a9b-9729-70f8683858a5","a82c2c32-f410-47fb-9343-7788ea734c79","e3549e80-6216-4179-93ed-b00d33b939ff"]}'
case_ "$T/no-match" false "$U" '{"uuid":["43eea867-dd4b-4e5e-b2b8-fe80e0f51b06","4eb4d680-4793-43af-8446-79d72254084c","7ac83829-a655-4a9b-9729-70f8683858a5","e3549e80-6216-4179-93ed-b00d33b939ff"]}'

# ---- nodename_test.go ---------------------------------------------------------------------------------------------
T="nodename_test: TestNodeFilter"
node() { # access-log flow on node $1 ("" = no node_name, as protojson leaves it out)
	if [ -n "$1" ]; then printf '{"event_type":{"type":129},"l7":{"http":{}},"node_name":"%s"}' "$1"
	else printf '{"event_type":{"type":129},"l7":{"http":{}}}'; fi
}
nf() { printf '{"event_type":[{"type":129}],"node_name":%s}' "$1"; }
# nodecase SUBTEST PATTERNS_JSON WANT:NODE...
nodecase() {
	local sub=$1 pats=$2 wn fl
	shift 2
	if [ "$pats" = none ]; then fl='{"event_type":[{"type":129}]}'; else fl=$(nf "$pats"); fi
	for wn in "$@"; do
		case_ "$T/$sub [${wn#*:}]" "${wn%%:*}" "$(node "${wn#*:}")" "$fl"
	done
}
nodecase no_filter none true:default/k8s1 true:k8s1 true:
nodecase everything '["/"]' true:default/k8s1 true:k8s1 false:
nodecase literal_cluster_pattern '["cluster-name/"]' true:cluster-name/k8s1 true:cluster-name/k8s2 false:default/k8s1 false:k8s1
nodecase literal_node_pattern '["k8s1"]' true:default/k8s1 false:default/k8s2 true:k8s1
nodecase literal_node_patterns '["k8s1","runtime1"]' true:default/k8s1 false:default/k8s2 true:default/runtime1 true:k8s1
nodecase node_wildcard_pattern '["k8s*"]' true:default/k8s1 false:default/runtime1 true:k8s1
nodecase cluster_wildcard_pattern '["cluster-*/k8s1"]' true:cluster-1/k8s1 false:cluster-1/k8s2 false:default/k8s1 false:k8s1
nodecase cluster_pattern_and_node_wildcard_pattern '["cluster-name/*.com"]' true:cluster-name/foo.com \
	true:cluster-name/foo.bar.com false:cluster-name/foo.com.org false:default/foo.com false:k8s1
case_ "$T/invalid_empty_pattern" error '{}' "$(nf '[""]')"
case_ "$T/invalid_cluster_pattern" error '{}' "$(nf '["cluster|name/"]')"
case_ "$T/invalid_node_pattern" error '{}' "$(nf '["cluster-name/node|name"]')"
case_ "$T/too_many_slashes" error '{}' "$(nf '["cluster-name/node-name/more"]')"

# ---- workload_test.go -----------------------------------------------------------------------------------------------
W='{"workloads":[{"kind":"Deployment","name":"hubble-relay"}]}'
for side in source destination; do
	T="workload_test: TestWorkloadFilterInclude"
	WF="{\"$side\":$W}" EF="{\"$side\":{}}"
	case_ "$T/$side-filter-nil" true "$WF" '{}'
	case_ "$T/$side-filter-empty" true "$WF" "{\"${side}_workload\":[]}"
	case_ "$T/$side-both-kind-and-name-empty-match" true "$WF" "{\"${side}_workload\":[{}]}"
	case_ "$T/$side-both-kind-and-name-empty-mismatch" false "$EF" "{\"${side}_workload\":[{}]}"
	case_ "$T/$side-kind-match" true "$WF" "{\"${side}_workload\":[{\"kind\":\"Deployment\"}]}"
	case_ "$T/$side-name-match" true "$WF" "{\"${side}_workload\":[{\"name\":\"hubble-relay\"}]}"
	case_ "$T/$side-kind-and-name-match" true "$WF" "{\"${side}_workload\":[{\"kind\":\"Deployment\",\"name\":\"hubble-relay\"}]}"
	case_ "$T/$side-kind-mismatch" false "$WF" "{\"${side}_workload\":[{\"kind\":\"ReplicatSet\",\"name\":\"hubble-relay\"}]}"
	case_ "$T/$side-name-mismatch" false "$WF" "{\"${side}_workload\":[{\"kind\":\"Deployment\",\"name\":\"hubble-relay-78bcd57c9c-c4wsl\"}]}"
	case_ "$T/$side-kind-and-name-mismatch" false "$WF" "{\"${side}_workload\":[{\"kind\":\"ReplicatSet\",\"name\":\"hubble-relay-78bcd57c9c-c4wsl\"}]}"
	T="workload_test: TestWorkloadFilterExclude"
	case_ "$T/$side-both-kind-and-name-empty-match" true "$EF" "!{\"${side}_workload\":[{}]}"
	case_ "$T/$side-both-kind-and-name-empty-mismatch" false "$WF" "!{\"${side}_workload\":[{}]}"
done

# ---- cluster_name_test.go ----------------------------------------------------------------------------------------------
T="cluster_name_test: TestClusterNameFilter"
cl() { printf '{"source":{"cluster_name":"%s"},"destination":{"cluster_name":"%s"}}' "$1" "$2"; }
FL='{"source_cluster_name":["aws-south-1","gke-europe-west1-c"]}'
case_ "$T/source cluster #0" true '{"source":{"cluster_name":"aws-south-1"}}' "$FL"
case_ "$T/source cluster #1" true '{"source":{"cluster_name":"gke-europe-west1-c"}}' "$FL"
case_ "$T/source cluster #2" false '{}' "$FL"
case_ "$T/source cluster #3" false '{"source":{"cluster_name":"aks-eastus2-1"}}' "$FL"
case_ "$T/source cluster #4" false '{"destination":{"cluster_name":"gke-europe-west1-c"}}' "$FL"
FL='{"destination_cluster_name":["aws-south-1","gke-europe-west1-c"]}'
case_ "$T/destination cluster #0" true '{"destination":{"cluster_name":"aws-south-1"}}' "$FL"
case_ "$T/destination cluster #1" true '{"destination":{"cluster_name":"gke-europe-west1-c"}}' "$FL"
case_ "$T/destination cluster #2" false '{}' "$FL"
case_ "$T/destination cluster #3" false '{"destination":{"cluster_name":"aks-eastus2-1"}}' "$FL"
case_ "$T/destination cluster #4" false '{"source":{"cluster_name":"gke-europe-west1-c"}}' "$FL"
FL='{"source_cluster_name":["aws-south-1","gke-europe-west1-c"],"destination_cluster_name":["aks-eastus2-1"]}'
case_ "$T/source and destination cluster #0" true "$(cl aws-south-1 aks-eastus2-1)" "$FL"
case_ "$T/source and destination cluster #1" true "$(cl gke-europe-west1-c aks-eastus2-1)" "$FL"
case_ "$T/source and destination cluster #2" false "$(cl default aks-eastus2-1)" "$FL"
case_ "$T/source and destination cluster #3" false "$(cl aks-eastus2-1 aws-south-1)" "$FL"
case_ "$T/source and destination cluster #4" false "$(cl aks-eastus2-1 gke-europe-west1-c)" "$FL"
case_ "$T/source and destination cluster #5" false '{"destination":{"cluster_name":"default"}}' "$FL"
F1='{"source_cluster_name":["aws-south-1","gke-europe-west1-c"]}' F2='{"destination_cluster_name":["aks-eastus2-1"]}'
case_ "$T/source or destination cluster #0" true "$(cl aws-south-1 default)" "$F1" "$F2"
case_ "$T/source or destination cluster #1" true "$(cl gke-europe-west1-c default)" "$F1" "$F2"
case_ "$T/source or destination cluster #2" true "$(cl default aks-eastus2-1)" "$F1" "$F2"
case_ "$T/source or destination cluster #3" false "$(cl aks-eastus2-1 aws-south-1)" "$F1" "$F2"
case_ "$T/source or destination cluster #4" false "$(cl aks-eastus2-1 gke-europe-west1-c)" "$F1" "$F2"
case_ "$T/source or destination cluster #5" false '{"destination":{"cluster_name":"default"}}' "$F1" "$F2"
case_ "$T/invalid data #2" false '{}' '{"source_cluster_name":["aws-south-1"]}'
case_ "$T/invalid data #3" false '{"source":{}}' '{"source_cluster_name":["aws-south-1"]}'
case_ "$T/invalid source cluster filter" error '{}' '{"source_cluster_name":[""]}'
case_ "$T/invalid destination cluster filter" error '{}' '{"destination_cluster_name":[""]}'

# ---- fqdn_test.go (validation only: no sluice flow carries names) ----------------------------------------------------------
T="fqdn_test: TestFQDNFilter"
case_ "$T/invalid source fqdn filter" error '{}' '{"source_fqdn":[""]}'
case_ "$T/invalid destination fqdn filter" error '{}' '{"destination_fqdn":["."]}'

echo "hubble filters: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
