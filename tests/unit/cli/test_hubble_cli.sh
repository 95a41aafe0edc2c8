#!/usr/bin/env bash
# test_hubble_cli.sh - Hubble's own CLI tests (cilium/cilium
# hubble/cmd/observe/*_test.go, hubble/pkg/printer/*_test.go,
# hubble/pkg/time/time_test.go) replayed against the sluice CLI binary:
#
#   - flags -> `sluice observe FLAGS --print-raw-filters`: the YAML Hubble's
#     getFlowFiltersYAML prints (protojson of each FlowFilter, proto field
#     declaration order, zero values left out, yaml.v3 single-quoted), or an
#     error (exit 2, with a message where the Go test asserts one);
#   - GetFlowsResponse JSON lines -> `sluice observe --input-file FILE FLAGS`:
#     the text Hubble's printer writes (compared with the whitespace at both
#     ends trimmed, as the Go tests do).
#
#   usage: test_hubble_cli.sh SLUICE   (the sluice CLI binary)
#
# No agent, no root: ctest's cli_hubble_cli (label unit).
#
# Case names are the Go test / subtest names (Go's "#01" suffix for repeated
# subtest names). Cases overlap tests/unit/cli/test_observe_filter.c on
# purpose: that test calls the flag parser; this one goes through the whole
# CLI (getopt, short options, YAML, exit codes, --input-file reader, printer).
#
# Translation notes
#   - TestConflicts_Table: the Go test passes "foo"/"bar" as values and only
#     requires an error. Hubble checks conflicts before it looks at a value
#     (flowFilter.set: f.add(name); checkConflict(f); then the switch), sluice
#     validates values first, so "foo" for --ip/--port would give a spurious
#     pass. The values are therefore valid ones (10.0.0.x for IP flags, "1"/
#     "2" otherwise, none for the boolean *-all-namespaces flags) and Hubble's
#     message "cannot be combined" is required. The pairs with a typo in the Go
#     table (--namepace, --all-namepaces, ...) stay as they are and only need
#     an error (pflag: unknown flag).
#   - TestTcpFlags: the Go test only requires NoError; the YAML checked here is
#     what flowFilter.set/parseTCPFlags build (TCPFlags fields FIN..NS in
#     declaration order).
#   - TestConflicts "...ok" cases, TestParseWorkload, TestEventTypes: the YAML
#     is what Hubble's flowFilter builds (read from flows_filter.go /
#     workload.go), the Go tests assert NoError or the Workload struct only.
#   - TestParseWorkload goes through --from-workload (one FlowFilter).
#   - printer_test unit functions (Test_getHostNames, Test_getFlowType,
#     TestHostname, Test_fmtTimestamp, TestFormatPolicyNames,
#     TestTerminalEscaperWriter, TestColorersSequences) are checked on the
#     matching line(s) of `-o dict` (SOURCE/DESTINATION, TYPE, TIMESTAMP,
#     VERDICT, SUMMARY). TestHostname's `New()` (no IP translation) is
#     --numeric. Escaping tests put the string in the flow's Summary.
#   - printer_test exists in several versions: TestPrinter_WriteProtoFlow and
#     TestPrinter_WriteLostEventsResponse follow the newest stored one
#     (policy names, IP trace ID, lost-event first/last); the "*-terminal-
#     escaped*" subtests and Test_getFlowType/Kafka come from the version with
#     the Kafka flow; Test_getFlowType "SockLB" is checked in both forms (old:
#     sock_xlate_point field, new: event_type.sub_type).
#   - io_reader_observer_test: GetFlowsRequest.Since/Until/Number/First/
#     Whitelist are --since/--until/--last/--first/--verdict, the responses
#     are printed with -o jsonpb (the GetFlowsResponse the Go test compares).
#   - time_test TestFromString: each input is given as both --since and
#     --until over flows at T-1s, T, T+1s (T = the expected instant); only
#     the flow at T may be printed. Relative inputs (10s, 5m, 20h) use flows
#     before and after now-d (Go hijacks Now; here the clock is real).
#   - Test_getFlowsRequest*/Test_getFlowsRequestWithInputFile: the request is
#     not printable; checked through what --input-file returns for that
#     request (window bounds inclusive, no default --last 20 with a file).
#
# Skipped Go cases, and why
#   - flows_filter_test TestCELExpression: CEL (experimental).
#   - flows_test Test_getFlowsRequest_FieldMask_valid/_invalid,
#     Test_getFlowsRequest_UseDefaultFieldMask,
#     Test_getFlowsRequest_FieldMask_non_json_output: field masks.
#   - printer_test TestPrinter_AllFieldsInMask: field masks.
#   - printer_test TestPrinter_WriteProtoFlow/json: JSONLegacy() is only
#     chosen through the config file's compat option (config.Compat).
#   - printer_test Test_getHostNames/"nil flow", Test_getFlowType/"nil flow":
#     a response without a flow is never printed as a flow.
#   - printer_test Test_fmtTimestamp/"invalid" (nanos -1): not expressible in
#     a JSON timestamp.
#   - printer_test TestPrinter_AgentEventDetails, TestPrinter_WriteProtoDebugEvent,
#     agent_events_test, debug_events_test: agent / debug events.
#   - printer_test TestPrinter_WriteServerStatusResponse, formatter_test
#     TestUint64Grouping, TestFormatDurationNS: server status (`hubble
#     status`), no observe output uses them.
#   - No printer test named TestJSONOutput, and none for node status events
#     (WriteProtoNodeStatusEvent), exists in the stored cilium versions; the
#     JSON forms are TestPrinter_WriteProtoFlow/jsonpb* and the lost-event
#     json/jsonpb subtests.
#
# Cases that pass without testing much: "error"-only cases whose flag sluice
# does not have at all pass on getopt's "unrecognized option" (TestHTTPHeader/
# invalid value, TestIpTraceId/error, TestIpTraceOption/error, the typo pairs
# of TestConflicts_Table), as they do in Hubble's own table.
set -u

SLUICE=${1:?usage: test_hubble_cli.sh SLUICE}
TMP=$(mktemp -d /tmp/sluice-hubble-cli.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
PASS=0
FAIL=0
N=0

trim() { # the whitespace at both ends cut, as strings.TrimSpace
	local s=$1
	s="${s#"${s%%[![:space:]]*}"}"
	printf '%s' "${s%"${s##*[![:space:]]}"}"
}

ok_() {
	PASS=$((PASS + 1))
	echo "ok   $1"
}

fail_() { # NAME CMD WANT GOT
	FAIL=$((FAIL + 1))
	printf 'FAIL %s: want\n%s\n     got\n%s\n     cmd: %s\n' "$1" "$3" "$4" "$2"
}

# Y FILTER... : the YAML Hubble prints for these FlowFilters (a "!" prefix:
# denylist), as getFlowFiltersYAML / yaml.v3 write it
Y() {
	local f a=() d=()
	for f in "$@"; do
		if [ "${f:0:1}" = '!' ]; then d+=("${f:1}"); else a+=("$f"); fi
	done
	if [ ${#a[@]} -eq 0 ] && [ ${#d[@]} -eq 0 ]; then
		printf '{}'
		return
	fi
	if [ ${#a[@]} -gt 0 ]; then
		printf 'allowlist:\n'
		for f in "${a[@]}"; do printf "    - '%s'\n" "${f//\'/\'\'}"; done
	fi
	if [ ${#d[@]} -gt 0 ]; then
		printf 'denylist:\n'
		for f in "${d[@]}"; do printf "    - '%s'\n" "${f//\'/\'\'}"; done
	fi
}

# filters_ NAME 'FLAGS' WANT: WANT is the YAML (from Y), "error" (exit 2)
# or "error:TEXT" (exit 2, TEXT in the message). FLAGS is shell words.
filters_() {
	local name=$1 flags=$2 want=$3 got out rc cmd
	N=$((N + 1))
	cmd="sluice observe $flags --print-raw-filters"
	out=$(eval "\"\$SLUICE\" observe $flags --print-raw-filters" 2>"$TMP/$N.err")
	rc=$?
	case $want in
	error*)
		if [ $rc -eq 2 ] && { [ "$want" = error ] || grep -qF -- "${want#error:}" "$TMP/$N.err"; }; then
			ok_ "$name"
			return
		fi
		got="exit $rc; stdout: $out; stderr: $(head -n 1 "$TMP/$N.err" | head -c 300)"
		;;
	*)
		got=$(trim "$out")
		if [ $rc -eq 0 ] && [ "$got" = "$(trim "$want")" ]; then
			ok_ "$name"
			return
		fi
		[ $rc -ne 0 ] && got="exit $rc; stdout: $out; stderr: $(head -n 1 "$TMP/$N.err" | head -c 300)"
		;;
	esac
	fail_ "$name" "$cmd" "$want" "$got"
}

# prints_ NAME 'RESPONSE_LINES' 'FLAGS' 'WANT': the lines in a file read by
# --input-file, the output trimmed must be WANT (--color never unless FLAGS
# says otherwise)
prints_() {
	local name=$1 lines=$2 flags=$3 want=$4 got out rc
	N=$((N + 1))
	printf '%s\n' "${lines%$'\n'}" >"$TMP/$N.json"
	case " $flags " in *" --color "*) ;; *) flags="${flags:+$flags }--color never" ;; esac
	out=$(eval "\"\$SLUICE\" observe --input-file \"\$TMP/\$N.json\" $flags" 2>"$TMP/$N.err")
	rc=$?
	got=$(trim "$out")
	if [ $rc -eq 0 ] && [ "$got" = "$(trim "$want")" ]; then
		ok_ "$name"
		return
	fi
	[ $rc -ne 0 ] && got="exit $rc; stdout: $out; stderr: $(head -n 1 "$TMP/$N.err" | head -c 300)"
	fail_ "$name" "sluice observe --input-file FILE $flags   # FILE: $lines" "$(trim "$want")" "$got"
}

# dict_ NAME 'FLOW' 'FLAGS' 'WANT_LINES': the flow printed with -o dict; the
# dict lines with the keys of WANT_LINES must be WANT_LINES
dict_() {
	local name=$1 flow=$2 flags=$3 want=$4 got= out rc line key
	N=$((N + 1))
	printf '{"flow":%s}\n' "$flow" >"$TMP/$N.json"
	case " $flags " in *" --color "*) ;; *) flags="${flags:+$flags }--color never" ;; esac
	out=$(eval "\"\$SLUICE\" observe --input-file \"\$TMP/\$N.json\" -o dict $flags" 2>"$TMP/$N.err")
	rc=$?
	while IFS= read -r line; do
		key=${line%%: *}
		got+=$(printf '%s' "$out" | grep -m1 -F -- "$key: " || printf '%s: <missing>' "$key")$'\n'
	done <<<"$want"
	got=${got%$'\n'}
	if [ $rc -eq 0 ] && [ "$got" = "$want" ]; then
		ok_ "$name"
		return
	fi
	[ $rc -ne 0 ] && got="exit $rc; stdout: $out; stderr: $(head -n 1 "$TMP/$N.err" | head -c 300)"
	fail_ "$name" "sluice observe --input-file FILE -o dict $flags   # FILE: {\"flow\":$flow}" "$want" "$got"
}

##############################################################################
# hubble/cmd/observe/flows_filter_test.go
##############################################################################

filters_ "TestNoBlacklist" '--from-ip 1.2.3.4' "$(Y '{"source_ip":["1.2.3.4"]}')"
filters_ "TestDefaultFilter" '' "$(Y)"

T=TestConflicts
filters_ "$T/ip fqdn conflict" '--from-ip 1.2.3.4 --from-fqdn doesnt.work' \
	'error:filters --from-fqdn and --from-ip cannot be combined'
filters_ "$T/svc from-svc conflict" '--from-service foo --service bar' \
	'error:filters --service and --from-service cannot be combined'
filters_ "$T/from-svc to-svc ok" '--to-service foo --from-service bar' \
	"$(Y '{"source_service":["bar"],"destination_service":["foo"]}')"
filters_ "$T/complex ok" '--to-service foo --from-service bar --from-identity world --to-identity world --to-ip 1.2.3.4 --from-pod blib --from-port 1172 --to-port 11245 --workload buzz' \
	"$(Y '{"source_pod":["blib"],"source_service":["bar"],"source_workload":[{"name":"buzz"}],"destination_ip":["1.2.3.4"],"destination_service":["foo"],"source_port":["1172"],"destination_port":["11245"],"source_identity":[2],"destination_identity":[2]}' \
		'{"source_pod":["blib"],"source_service":["bar"],"destination_ip":["1.2.3.4"],"destination_service":["foo"],"destination_workload":[{"name":"buzz"}],"source_port":["1172"],"destination_port":["11245"],"source_identity":[2],"destination_identity":[2]}')"
filters_ "$T/complex fqdn ok" '--to-service foo --from-service bar --from-identity world --to-identity world --to-ip 1.2.3.4 --from-fqdn blib.example.com --from-port 1172 --to-port 11245 --workload buzz' \
	"$(Y '{"source_fqdn":["blib.example.com"],"source_service":["bar"],"source_workload":[{"name":"buzz"}],"destination_ip":["1.2.3.4"],"destination_service":["foo"],"source_port":["1172"],"destination_port":["11245"],"source_identity":[2],"destination_identity":[2]}' \
		'{"source_fqdn":["blib.example.com"],"source_service":["bar"],"destination_ip":["1.2.3.4"],"destination_service":["foo"],"destination_workload":[{"name":"buzz"}],"source_port":["1172"],"destination_port":["11245"],"source_identity":[2],"destination_identity":[2]}')"
filters_ "$T/complex with namespace ok" '--to-service foo --from-service bar --from-identity world --to-identity world --to-fqdn example.com --from-pod blib --from-namespace test --from-port 1172 --to-port 11245 --workload buzz' \
	"$(Y '{"source_pod":["test/blib"],"source_service":["test/bar"],"source_workload":[{"name":"buzz"}],"destination_fqdn":["example.com"],"destination_service":["foo"],"source_port":["1172"],"destination_port":["11245"],"source_identity":[2],"destination_identity":[2]}' \
		'{"source_pod":["test/blib"],"source_service":["test/bar"],"destination_fqdn":["example.com"],"destination_service":["foo"],"destination_workload":[{"name":"buzz"}],"source_port":["1172"],"destination_port":["11245"],"source_identity":[2],"destination_identity":[2]}')"
filters_ "$T/complex with namespace and service ok" '--service bar --from-identity world --to-identity world --pod blib --namespace test --from-port 1172 --to-port 11245 --workload buzz' \
	"$(Y '{"source_pod":["test/blib"],"source_service":["test/bar"],"source_workload":[{"name":"buzz"}],"source_port":["1172"],"destination_port":["11245"],"source_identity":[2],"destination_identity":[2]}' \
		'{"destination_pod":["test/blib"],"destination_service":["test/bar"],"destination_workload":[{"name":"buzz"}],"source_port":["1172"],"destination_port":["11245"],"source_identity":[2],"destination_identity":[2]}')"

T=TestConflicts_Table
conflict_() { # FLAG1 FLAG2
	local a=$1 b=$2 va vb want='error:cannot be combined'
	case $a in *-ip) va=10.0.0.1 ;; *all-namespaces) va= ;; *) va=1 ;; esac
	case $b in *-ip) vb=10.0.0.2 ;; *all-namespaces) vb= ;; *) vb=2 ;; esac
	case "$a $b" in *namepace*) want=error va=foo vb=bar ;; esac
	filters_ "$T/conflict $a - $b" "$a${va:+ $va} $b${vb:+ $vb}" "$want"
}
while read -r a b; do conflict_ "$a" "$b"; done <<'EOF'
--port --to-port
--port --from-port
--identity --to-identity
--identity --from-identity
--workload --to-workload
--workload --from-workload
--fqdn --from-fqdn
--fqdn --to-fqdn
--ip --from-ip
--ip --to-ip
--label --from-label
--label --to-label
--service --from-service
--service --to-service
--pod --from-pod
--pod --to-pod
--namespace --from-namespace
--namespace --to-namespace
--all-namespaces --from-all-namespaces
--all-namespaces --to-all-namespaces
--ip --fqdn
--ip --from-fqdn
--ip --to-fqdn
--from-ip --from-fqdn
--from-ip --fqdn
--to-ip --fqdn
--to-ip --to-fqdn
--ip --pod
--ip --from-pod
--ip --to-pod
--from-ip --from-pod
--from-ip --pod
--to-ip --pod
--to-ip --to-pod
--ip --namespace
--ip --all-namespaces
--ip --from-namespace
--ip --from-all-namespaces
--ip --to-namespace
--ip --to-all-namespaces
--from-ip --from-namespace
--from-ip --from-all-namespaces
--from-ip --namespace
--from-ip --all-namespaces
--to-ip --namespace
--to-ip --all-namespaces
--to-ip --to-namespace
--to-ip --to-all-namespaces
--pod --fqdn
--pod --from-fqdn
--pod --to-fqdn
--from-pod --from-fqdn
--from-pod --fqdn
--from-pod --namepace
--from-pod --all-namepaces
--to-pod --fqdn
--to-pod --to-fqdn
--to-pod --namepace
--to-pod --all-namepaces
--namespace --fqdn
--namespace --from-fqdn
--namespace --to-fqdn
--namespace --from-service
--namespace --to-service
--namespace --all-namepaces
--namespace --from-all-namepaces
--namespace --to-all-namepaces
--from-namespace --from-fqdn
--from-namespace --fqdn
--from-namespace --from-all-namespaces
--from-namespace --all-namespaces
--to-namespace --fqdn
--to-namespace --to-fqdn
--to-namespace --to-all-namespaces
--to-namespace --all-namespaces
--all-namespaces --fqdn
--all-namespaces --from-fqdn
--all-namespaces --to-fqdn
--all-namespaces --from-service
--all-namespaces --to-service
--from-all-namespaces --from-fqdn
--from-all-namespaces --fqdn
--to-all-namespaces --fqdn
--to-all-namespaces --to-fqdn
EOF

filters_ "TestTrailingNot" '--from-ip 1.2.3.4 --not' 'error:trailing --not'
filters_ "TestFilterDispatch" '--from-ip 1.2.3.4 --from-ip 5.6.7.8 --not --to-ip 5.5.5.5 --verdict DROPPED -t l7' \
	"$(Y '{"source_ip":["1.2.3.4","5.6.7.8"],"verdict":["DROPPED"],"event_type":[{"type":129}]}' '!{"destination_ip":["5.5.5.5"]}')"
filters_ "TestFilterLeftRight" '--ip 1.2.3.4 --ip 5.6.7.8 --verdict DROPPED --not --pod deathstar --not --http-status 200 --http-method get --http-path "/page/\\d+" --node-name "k8s*"' \
	"$(Y '{"source_ip":["1.2.3.4","5.6.7.8"],"verdict":["DROPPED"],"http_method":["get"],"http_path":["/page/\\d+"],"node_name":["k8s*"]}' \
		'{"destination_ip":["1.2.3.4","5.6.7.8"],"verdict":["DROPPED"],"http_method":["get"],"http_path":["/page/\\d+"],"node_name":["k8s*"]}' \
		'!{"source_pod":["deathstar"],"http_status_code":["200"]}' '!{"destination_pod":["deathstar"],"http_status_code":["200"]}')"

T=TestFilterType
filters_ "$T/some-invalid-type" '-t some-invalid-type' error
filters_ "$T/trace:some-invalid-sub-type" '-t trace:some-invalid-sub-type' error
filters_ "$T/agent:Policy updated" "-t 'agent:Policy updated'" error
filters_ "$T/valid" '-t 254 -t 255:127 -t trace:to-endpoint -t trace:from-endpoint -t 4:2 -t agent -t agent:3 -t agent:policy-updated' \
	"$(Y '{"event_type":[{"type":254},{"type":255,"match_sub_type":true,"sub_type":127},{"type":4,"match_sub_type":true},{"type":4,"match_sub_type":true,"sub_type":5},{"type":4,"match_sub_type":true,"sub_type":2},{"type":130},{"type":130,"match_sub_type":true,"sub_type":3},{"type":130,"match_sub_type":true,"sub_type":5}]}')"

filters_ "TestLabels" '--label k1=v1,k2=v2 -l k3 --node-label io.cilium.egress-gateway' \
	"$(Y '{"source_label":["k1=v1,k2=v2","k3"],"node_labels":["io.cilium.egress-gateway"]}' '{"destination_label":["k1=v1,k2=v2","k3"],"node_labels":["io.cilium.egress-gateway"]}')"
filters_ "TestLabels (without --node-label)" '--label k1=v1,k2=v2 -l k3' \
	"$(Y '{"source_label":["k1=v1,k2=v2","k3"]}' '{"destination_label":["k1=v1,k2=v2","k3"]}')"

T=TestFromToWorkloadCombined
filters_ "$T/single filter" '--from-pod cilium --to-workload app' \
	"$(Y '{"source_pod":["cilium"],"destination_workload":[{"name":"app"}]}')"
filters_ "$T/two filters" '--pod cilium --to-workload app' \
	"$(Y '{"source_pod":["cilium"],"destination_workload":[{"name":"app"}]}' '{"destination_pod":["cilium"],"destination_workload":[{"name":"app"}]}')"

RESERVED='host:1 world:2 unmanaged:3 health:4 init:5 remote-node:6 kube-apiserver:7 ingress:8 world-ipv4:9 world-ipv6:10'
filters_ "TestIdentity" '--identity 1 --identity 2' "$(Y '{"source_identity":[1,2]}' '{"destination_identity":[1,2]}')"
for r in $RESERVED; do
	filters_ "TestIdentity/${r%:*}" "--identity ${r%:*}" \
		"$(Y "{\"source_identity\":[${r#*:}]}" "{\"destination_identity\":[${r#*:}]}")"
done
filters_ "TestFromIdentity" '--from-identity 1 --from-identity 2' "$(Y '{"source_identity":[1,2]}')"
for r in $RESERVED; do
	filters_ "TestFromIdentity/${r%:*}" "--from-identity ${r%:*}" "$(Y "{\"source_identity\":[${r#*:}]}")"
done
filters_ "TestToIdentity" '--to-identity 1 --to-identity 2' "$(Y '{"destination_identity":[1,2]}')"
for r in $RESERVED; do
	filters_ "TestToIdentity/${r%:*}" "--to-identity ${r%:*}" "$(Y "{\"destination_identity\":[${r#*:}]}")"
done

T=TestFromToIdentityCombined
filters_ "$T/single filter" '--from-pod cilium --to-identity 42' \
	"$(Y '{"source_pod":["cilium"],"destination_identity":[42]}')"
filters_ "$T/two filters" '--pod cilium --to-identity 42' \
	"$(Y '{"source_pod":["cilium"],"destination_identity":[42]}' '{"destination_pod":["cilium"],"destination_identity":[42]}')"

filters_ "TestInvalidIdentity/--from-identity bad" '--from-identity bad' error
filters_ "TestInvalidIdentity/--to-identity bad" '--to-identity bad' error
filters_ "TestInvalidIdentity/--identity bad" '--identity bad' error

T=TestTcpFlags
for p in SYN:'"SYN":true' syn:'"SYN":true' FIN:'"FIN":true' RST:'"RST":true' PSH:'"PSH":true' \
	ACK:'"ACK":true' URG:'"URG":true' ECE:'"ECE":true' CWR:'"CWR":true' NS:'"NS":true' \
	syn,ack:'"SYN":true,"ACK":true'; do
	fl=${p%%:*} js=${p#*:}
	filters_ "$T/$fl" "--tcp-flags $fl" "$(Y "{\"tcp_flags\":[{$js}]}")"
	filters_ "$T/$fl --tcp-flags syn" "--tcp-flags $fl --tcp-flags syn" "$(Y "{\"tcp_flags\":[{$js},{\"SYN\":true}]}")"
	filters_ "$T/$fl --not --tcp-flags NS" "--tcp-flags $fl --not --tcp-flags NS" \
		"$(Y "{\"tcp_flags\":[{$js}]}" '!{"tcp_flags":[{"NS":true}]}')"
done
for fl in unknown syn,unknown unknown,syn syn, ,syn; do
	filters_ "$T/invalid $fl" "--tcp-flags $fl" error
done

filters_ "TestUuid" '--uuid b9fab269-04ae-495c-9d12-b6c36d41de0d' "$(Y '{"uuid":["b9fab269-04ae-495c-9d12-b6c36d41de0d"]}')"

T=TestTrafficDirection
filters_ "$T/ingress" '--traffic-direction ingress' "$(Y '{"traffic_direction":["INGRESS"]}')"
filters_ "$T/egress" '--traffic-direction egress' "$(Y '{"traffic_direction":["EGRESS"]}')"
filters_ "$T/mixed case" '--traffic-direction INGRESS --traffic-direction EgrEss' "$(Y '{"traffic_direction":["INGRESS","EGRESS"]}')"
filters_ "$T/invalid" "--traffic-direction 'to the moon'" error

filters_ "TestSnatIp/exact match" '--snat-ip 1.1.1.1' "$(Y '{"source_ip_xlated":["1.1.1.1"]}')"
filters_ "TestSnatIp/cidr range match" '--snat-ip 2.2.2.2/16' "$(Y '{"source_ip_xlated":["2.2.2.2/16"]}')"
filters_ "TestInterface/exact match" '--interface eth0' "$(Y '{"interface":[{"name":"eth0"}]}')"

filters_ "TestHTTPURL" "--http-url 'http://.*cilium\\.io/foo' --http-url 'http://www\\.cilium\\.io/bar'" \
	"$(Y '{"http_url":["http://.*cilium\\.io/foo","http://www\\.cilium\\.io/bar"]}')"
filters_ "TestHTTPHeader" '--http-header foo:bar --http-header Foo:coco:bar' \
	"$(Y '{"http_header":[{"key":"foo","value":"bar"},{"key":"Foo","value":"coco:bar"}]}')"
filters_ "TestHTTPHeader/invalid value" '--http-header foobar' error

T=TestNamespace
filters_ "$T/Any request from or to namespace with port" '--namespace cilium --port 443' \
	"$(Y '{"source_pod":["cilium/"],"source_port":["443"]}' '{"destination_pod":["cilium/"],"destination_port":["443"]}')"
filters_ "$T/Any request from namespace with port" '--from-namespace cilium --from-port 443' \
	"$(Y '{"source_pod":["cilium/"],"source_port":["443"]}')"
filters_ "$T/Any request to namespace" '--to-namespace cilium' "$(Y '{"destination_pod":["cilium/"]}')"
filters_ "$T/Any request to namespace with port" '--to-namespace cilium --port 443' \
	"$(Y '{"destination_pod":["cilium/"],"source_port":["443"]}' '{"destination_pod":["cilium/"],"destination_port":["443"]}')"
filters_ "$T/Any request from or to namespace and pod" '--namespace cilium --pod foo-9c76d6c95-tf788' \
	"$(Y '{"source_pod":["cilium/foo-9c76d6c95-tf788"]}' '{"destination_pod":["cilium/foo-9c76d6c95-tf788"]}')"
filters_ "$T/Any request from or to namespace and svc" '--namespace cilium --service foo' \
	"$(Y '{"source_service":["cilium/foo"]}' '{"destination_service":["cilium/foo"]}')"
filters_ "$T/Any request from or to one of namespaces and svcs" '--namespace cilium --namespace kube-system --service foo --service bar' \
	"$(Y '{"source_service":["cilium/foo","kube-system/foo","cilium/bar","kube-system/bar"]}' '{"destination_service":["cilium/foo","kube-system/foo","cilium/bar","kube-system/bar"]}')"
filters_ "$T/Any request to namespace and pod with namespace" '--to-namespace cilium --to-pod cilium/foo-9c76d6c95-tf788' \
	"$(Y '{"destination_pod":["cilium/foo-9c76d6c95-tf788"]}')"
filters_ "$T/Any request from namespace to pod with namespace" '--from-namespace kube-system --to-pod cilium/foo-9c76d6c95-tf788' \
	"$(Y '{"source_pod":["kube-system/"],"destination_pod":["cilium/foo-9c76d6c95-tf788"]}')"
filters_ "$T/conflicting pod and namespace" '--to-namespace kube-system --to-pod cilium/foo-9c76d6c95-tf788' error
filters_ "$T/conflicting svc and namespace" '--from-namespace kube-system --from-service cilium/foo' error
filters_ "$T/conflicting svc and pod" '--from-service cilium/foo --from-pod kube-system/hubble' error
filters_ "$T/Any request to any namespace with port" '--to-all-namespaces --port 443' \
	"$(Y '{"destination_pod":["/"],"source_port":["443"]}' '{"destination_pod":["/"],"destination_port":["443"]}')"
filters_ "$T/Any request to pod foo in any namespace" '--to-all-namespaces --to-pod foo' "$(Y '{"destination_pod":["/foo"]}')"
filters_ "$T/Any request to service bar in any namespace" '--to-all-namespaces --to-service bar' "$(Y '{"destination_service":["/bar"]}')"
filters_ "$T/Any request to and from pod foo in any namespace" '--all-namespaces --pod foo' \
	"$(Y '{"source_pod":["/foo"]}' '{"destination_pod":["/foo"]}')"
filters_ "$T/Any request to and from service bar in any namespace" '--all-namespaces --service bar' \
	"$(Y '{"source_service":["/bar"]}' '{"destination_service":["/bar"]}')"

T=TestCluster
filters_ "$T/Single cluster filter" '--cluster foo' "$(Y '{"source_cluster_name":["foo"]}' '{"destination_cluster_name":["foo"]}')"
filters_ "$T/Multiple cluster filter" '--cluster foo --cluster bar' \
	"$(Y '{"source_cluster_name":["foo","bar"]}' '{"destination_cluster_name":["foo","bar"]}')"
filters_ "$T/Source cluster filter" '--from-cluster foo' "$(Y '{"source_cluster_name":["foo"]}')"
filters_ "$T/Destination cluster filter" '--to-cluster foo' "$(Y '{"destination_cluster_name":["foo"]}')"

filters_ "TestIpTraceId/error" '--ip-trace-id 0' error
filters_ "TestIpTraceId/single" '--ip-trace-id 1' "$(Y '{"ip_trace_id":["1"]}')"
filters_ "TestIpTraceId/multiple" '--ip-trace-id 1 --ip-trace-id 2' "$(Y '{"ip_trace_id":["1","2"]}')"
filters_ "TestIpTraceOption/error" '--ip-trace-option foo' error
filters_ "TestIpTraceOption/single" '--ip-trace-option 100' "$(Y '{"ip_trace_option":[100]}')"
filters_ "TestIpTraceOption/multiple" '--ip-trace-option 100 --ip-trace-option 200' "$(Y '{"ip_trace_option":[100,200]}')"

##############################################################################
# hubble/cmd/observe/workload_test.go (TestParseWorkload, via --from-workload)
##############################################################################

T=TestParseWorkload
filters_ "$T/empty" "--from-workload ''" "$(Y '{"source_workload":[{}]}')"
filters_ "$T/kind and name" '--from-workload Deployment/foo-deploy' "$(Y '{"source_workload":[{"name":"foo-deploy","kind":"Deployment"}]}')"
filters_ "$T/kind only" '--from-workload Deployment/' "$(Y '{"source_workload":[{"kind":"Deployment"}]}')"
filters_ "$T/name only" '--from-workload foo-deploy' "$(Y '{"source_workload":[{"name":"foo-deploy"}]}')"
filters_ "$T/multiple slashes" '--from-workload Deployment/foo/bar/' "$(Y '{"source_workload":[{"name":"foo/bar/","kind":"Deployment"}]}')"

##############################################################################
# hubble/cmd/observe/flows_test.go
##############################################################################

for p in capture:3 drop:1 l7:129 policy-verdict:5 trace:4 trace-sock:7; do
	filters_ "TestEventTypes/${p%:*}" "-t ${p%:*}" "$(Y "{\"event_type\":[{\"type\":${p#*:}}]}")"
done

W1='{"flow":{"verdict":"FORWARDED"},"time":"2021-03-22T23:59:59Z"}'
W2='{"flow":{"verdict":"DROPPED"},"time":"2021-03-23T00:00:00Z"}'
W3='{"flow":{"verdict":"ERROR"},"time":"2021-03-24T00:00:00Z"}'
W4='{"flow":{"verdict":"AUDIT"},"time":"2021-03-24T00:00:01Z"}'
prints_ "Test_getFlowsRequest" "$W1"$'\n'"$W2"$'\n'"$W3"$'\n'"$W4" \
	'-o jsonpb --since 2021-03-23T00:00:00Z --until 2021-03-24T00:00:00Z' "$W2"$'\n'"$W3"
prints_ "Test_getFlowsRequestWithoutSince" "$W1"$'\n'"$W2"$'\n'"$W3"$'\n'"$W4" \
	'-o jsonpb --until 2021-03-24T00:00:00Z' "$W1"$'\n'"$W2"$'\n'"$W3"

filters_ "Test_getFlowsRequestWithRawFilters" \
	"--allowlist '{\"source_label\":[\"k8s:io.kubernetes.pod.namespace=kube-system\",\"reserved:host\"]}' --allowlist '{\"destination_label\":[\"k8s:io.kubernetes.pod.namespace=kube-system\",\"reserved:host\"]}' --denylist '{\"source_label\":[\"k8s:k8s-app=kube-dns\"]}' --denylist '{\"destination_label\":[\"k8s:k8s-app=kube-dns\"]}'" \
	"$(Y '{"source_label":["k8s:io.kubernetes.pod.namespace=kube-system","reserved:host"]}' '{"destination_label":["k8s:io.kubernetes.pod.namespace=kube-system","reserved:host"]}' \
		'!{"source_label":["k8s:k8s-app=kube-dns"]}' '!{"destination_label":["k8s:k8s-app=kube-dns"]}')"
filters_ "Test_getFlowsRequestWithInvalidRawFilters/allowlist" "--allowlist '{\"invalid\":[\"filters\"]}'" \
	"error:invalid --allowlist flag: failed to decode '{\"invalid\":[\"filters\"]}': "
filters_ "Test_getFlowsRequestWithInvalidRawFilters/denylist" "--denylist '{\"invalid\":[\"filters\"]}'" \
	"error:invalid --denylist flag: failed to decode '{\"invalid\":[\"filters\"]}': "
filters_ "Test_getFlowFiltersYAML" "--allowlist '{\"source_ip\":[\"1.2.3.4/16\"]}' --denylist '{\"source_port\":[\"80\"]}'" \
	"$(printf '%s\n' 'allowlist:' "    - '{\"source_ip\":[\"1.2.3.4/16\"]}'" 'denylist:' "    - '{\"source_port\":[\"80\"]}'")"
filters_ "Test_getFlowFiltersYAML (flags)" '--from-ip 1.2.3.4/16 --not --from-port 80' \
	"$(printf '%s\n' 'allowlist:' "    - '{\"source_ip\":[\"1.2.3.4/16\"]}'" 'denylist:' "    - '{\"source_port\":[\"80\"]}'")"

L45= L42=
for i in $(seq 0 44); do
	l=$(printf '{"flow":{"verdict":"FORWARDED","uuid":"u%02d"},"time":"2021-03-23T00:00:%02dZ"}' "$i" "$i")
	L45+=$l$'\n'
	[ "$i" -ge 3 ] && L42+=$l$'\n'
done
prints_ "Test_getFlowsRequestWithInputFile/no --last: every flow" "$L45" '-o jsonpb' "$L45"
prints_ "Test_getFlowsRequestWithInputFile/--last 42" "$L45" '-o jsonpb --last 42' "$L42"

##############################################################################
# hubble/cmd/observe/io_reader_observer_test.go
##############################################################################

R0='{"flow":{"verdict":"FORWARDED"},"time":"1970-01-01T00:00:00Z"}'
R1='{"flow":{"verdict":"DROPPED"},"time":"1970-01-01T00:01:40Z"}'
R2='{"flow":{"verdict":"ERROR"},"time":"1970-01-01T00:03:20Z"}'
RS="$R0"$'\n'"$R1"$'\n'"$R2"
prints_ "Test_getFlowsBasic" $'{}\n{}\n{}' '-o jsonpb' ''
prints_ "Test_getFlowsTimeRange" "$RS" '-o jsonpb --since 1970-01-01T00:00:50Z --until 1970-01-01T00:02:30Z' "$R1"
prints_ "Test_getFlowsLast" "$RS" '-o jsonpb --last 2' "$R1"$'\n'"$R2"
prints_ "Test_getFlowsFirst" "$RS" '-o jsonpb --first 2' "$R0"$'\n'"$R1"
prints_ "Test_getFlowsFilter" "$RS" '-o jsonpb --verdict FORWARDED --verdict ERROR' "$R0"$'\n'"$R2"
# Test_UnknownField (skipped): hubble re-encodes each response it read
# (an unknown field is gone, and said once); sluice prints -o json lines as
# they were read, and every field of a flow it does not know stays in them.

##############################################################################
# hubble/pkg/time/time_test.go (TestFromString, via --since/--until)
##############################################################################

iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
at() { printf '{"flow":{"verdict":"%s"},"time":"%s"}' "$1" "$(iso "$2")"; }
fromstring_abs() { # INPUT EXPECTED
	local t
	t=$(date -u -d "$2" +%s)
	prints_ "TestFromString/$1" "$(at FORWARDED $((t - 1)))"$'\n'"$(at DROPPED "$t")"$'\n'"$(at ERROR $((t + 1)))" \
		"-o jsonpb --since '$1' --until '$1'" "$(at DROPPED "$t")"
}
fromstring_rel() { # INPUT SECONDS
	local now
	now=$(date -u +%s)
	prints_ "TestFromString/$1" "$(at FORWARDED $((now - 2 * $2)))"$'\n'"$(at DROPPED $((now - $2 / 2)))" \
		"-o jsonpb --since $1" "$(at DROPPED $((now - $2 / 2)))"
}
fromstring_rel 10s 10
fromstring_rel 5m 300
fromstring_rel 20h 72000
fromstring_abs 2019-06-30T18:00:00Z 2019-06-30T18:00:00Z
fromstring_abs 2019-06-30 2019-06-30T00:00:00Z
fromstring_abs 2019-06-30T18Z 2019-06-30T18:00:00Z
fromstring_abs 2019-06-30T18:45Z 2019-06-30T18:45:00Z
fromstring_abs 2019-06-30T18+02:00 2019-06-30T16:00:00Z
fromstring_abs 2019-06-30T18:45+02:00 2019-06-30T16:45:00Z

##############################################################################
# hubble/pkg/printer/printer_test.go
##############################################################################

# hf VERDICT REST: printer_test's flow f with that verdict, REST after node_name
hf() {
	printf '{"time":"1970-01-01T00:20:34.567800Z","verdict":"%s","IP":{"source":"1.1.1.1","destination":"2.2.2.2"},"l4":{"TCP":{"source_port":31793,"destination_port":8080}},"source":{"identity":4},"destination":{"identity":12345},"Type":"L3_L4","node_name":"k8s1"%s}' "$1" "$2"
}
F=$(hf DROPPED ',"event_type":{"type":1,"sub_type":133},"is_reply":false,"Summary":"TCP Flags: SYN"')
REPLY=$(hf DROPPED ',"event_type":{"type":1,"sub_type":133},"is_reply":true,"Summary":"TCP Flags: SYN"')
UNKNOWN=$(hf DROPPED ',"event_type":{"type":1,"sub_type":133},"Summary":"TCP Flags: SYN"')
TRACE=$(hf DROPPED ',"event_type":{"type":1,"sub_type":133},"ip_trace_id":{"trace_id":"1234"},"is_reply":false,"Summary":"TCP Flags: SYN"')
TRACE136=$(hf DROPPED ',"event_type":{"type":1,"sub_type":133},"ip_trace_id":{"trace_id":"1234","ip_option_type":136},"is_reply":false,"Summary":"TCP Flags: SYN"')
PDENIED=$(hf DROPPED ',"event_type":{"type":5},"traffic_direction":"EGRESS","egress_denied_by":[{"name":"my-policy","namespace":"my-policy-namespace","kind":"CiliumNetworkPolicy"}],"Summary":"TCP Flags: SYN"')
PALLOWED=$(hf FORWARDED ',"event_type":{"type":5},"traffic_direction":"INGRESS","policy_match_type":1,"ingress_allowed_by":[{"name":"my-policy","namespace":"my-policy-namespace","kind":"CiliumNetworkPolicy"},{"name":"my-policy-2","kind":"CiliumClusterwideNetworkPolicy"}],"Summary":"TCP Flags: SYN"')
PAUDITED=$(hf AUDIT ',"event_type":{"type":5},"traffic_direction":"EGRESS","egress_denied_by":[{"name":"my-policy","namespace":"my-policy-namespace","kind":"CiliumNetworkPolicy"}],"Summary":"TCP Flags: SYN"')
# the Kafka flow of printer_test's terminal-escape subtests
KSUM="Kafka request 1234 correlation id 1 topic 'my-topic[^[30mblack[^[0m[^\\\\r'"
KAFKA='{"time":"1970-01-01T00:20:34.567800Z","verdict":"DROPPED","IP":{"source":"1.1.1.1","destination":"2.2.2.2"},"l4":{"TCP":{"source_port":31793,"destination_port":8080}},"source":{"identity":4},"destination":{"identity":12345},"Type":"L7","node_name":"k8s1","l7":{"type":"REQUEST","latency_ns":"10","kafka":{"api_key":"1234","correlation_id":1,"topic":"my-topic\u001b[30mblack\u001b[0m\u001b\r"}},"event_type":{"type":1,"sub_type":133},"is_reply":false,"Summary":"'$KSUM'"}'
KTEXT="Kafka request 1234 correlation id 1 topic 'my-topic[^[30mblack[^[0m[^\\r'"

T=TestPrinter_WriteProtoFlow
HDR='TIMESTAMP             SOURCE          DESTINATION    TYPE            VERDICT   SUMMARY'
prints_ "$T/tabular" "{\"flow\":$F}" '-o table' "$HDR
Jan  1 00:20:34.567   1.1.1.1:31793   2.2.2.2:8080   Policy denied   DROPPED   TCP Flags: SYN"
prints_ "$T/tabular-with-node" "{\"flow\":$F}" '-o table --print-node-name' \
	'TIMESTAMP             NODE   SOURCE          DESTINATION    TYPE            VERDICT   SUMMARY
Jan  1 00:20:34.567   k8s1   1.1.1.1:31793   2.2.2.2:8080   Policy denied   DROPPED   TCP Flags: SYN'
prints_ "$T/tabular-terminal-escaped" "{\"flow\":$KAFKA}" '-o table' "$HDR
Jan  1 00:20:34.567   1.1.1.1:31793   2.2.2.2:8080   kafka-request   DROPPED   $KTEXT"
prints_ "$T/compact" "{\"flow\":$F}" '-o compact' \
	'Jan  1 00:20:34.567: 1.1.1.1:31793 (health) -> 2.2.2.2:8080 (ID:12345) Policy denied DROPPED (TCP Flags: SYN)'
prints_ "$T/compact-with-node" "{\"flow\":$F}" '-o compact --print-node-name' \
	'Jan  1 00:20:34.567 [k8s1]: 1.1.1.1:31793 (health) -> 2.2.2.2:8080 (ID:12345) Policy denied DROPPED (TCP Flags: SYN)'
prints_ "$T/compact-with-trace-id" "{\"flow\":$TRACE}" '-o compact --print-node-name' \
	'Jan  1 00:20:34.567 [k8s1]: 1.1.1.1:31793 (health) -> 2.2.2.2:8080 (ID:12345) Policy denied DROPPED (IP Trace ID: 1234; TCP Flags: SYN)'
prints_ "$T/compact-reply" "{\"flow\":$REPLY}" '-o compact --print-node-name' \
	'Jan  1 00:20:34.567 [k8s1]: 2.2.2.2:8080 (ID:12345) <- 1.1.1.1:31793 (health) Policy denied DROPPED (TCP Flags: SYN)'
prints_ "$T/compact-policy-verdict-denied" "{\"flow\":$PDENIED}" '-o compact --print-node-name' \
	'Jan  1 00:20:34.567 [k8s1]: 1.1.1.1:31793 (health) <> 2.2.2.2:8080 (ID:12345) policy-verdict:none EGRESS DENIED (TCP Flags: SYN)'
prints_ "$T/compact-policy-verdict-denied-with-policy-name" "{\"flow\":$PDENIED}" '-o compact --print-node-name --print-policy-names' \
	'Jan  1 00:20:34.567 [k8s1]: 1.1.1.1:31793 (health) <> 2.2.2.2:8080 (ID:12345) policy-verdict:none EGRESS DENIED BY my-policy (CiliumNetworkPolicy) (TCP Flags: SYN)'
prints_ "$T/compact-policy-verdict-allowed-with-policy-name" "{\"flow\":$PALLOWED}" '-o compact --print-node-name --print-policy-names' \
	'Jan  1 00:20:34.567 [k8s1]: 1.1.1.1:31793 (health) <> 2.2.2.2:8080 (ID:12345) policy-verdict:L3-Only INGRESS ALLOWED BY my-policy (CiliumNetworkPolicy), my-policy-2 (CiliumClusterwideNetworkPolicy) (TCP Flags: SYN)'
prints_ "$T/compact-policy-verdict-audited-with-policy-name" "{\"flow\":$PAUDITED}" '-o compact --print-node-name --print-policy-names' \
	'Jan  1 00:20:34.567 [k8s1]: 1.1.1.1:31793 (health) <> 2.2.2.2:8080 (ID:12345) policy-verdict:none EGRESS AUDITED BY my-policy (CiliumNetworkPolicy) (TCP Flags: SYN)'
prints_ "$T/compact-direction-unknown" "{\"flow\":$UNKNOWN}" '-o compact --print-node-name' \
	'Jan  1 00:20:34.567 [k8s1]: 1.1.1.1:31793 (health) <> 2.2.2.2:8080 (ID:12345) Policy denied DROPPED (TCP Flags: SYN)'
prints_ "$T/compact-terminal-escaped" "{\"flow\":$KAFKA}" '-o compact' \
	"Jan  1 00:20:34.567: 1.1.1.1:31793 (health) -> 2.2.2.2:8080 (ID:12345) kafka-request DROPPED ($KTEXT)"
prints_ "$T/compact-terminal-escaped-colored" "{\"flow\":$KAFKA}" '-o compact --color always' \
	$'Jan  1 00:20:34.567: \e[36m1.1.1.1:\e[33m31793\e[0m\e[0m \e[35m(health)\e[0m -> \e[36m2.2.2.2:\e[33m8080\e[0m\e[0m \e[35m(ID:12345)\e[0m kafka-request \e[31mDROPPED\e[0m ('"$KTEXT)"
prints_ "$T/jsonpb" "{\"flow\":$F}" '-o jsonpb' "{\"flow\":$F}"
prints_ "$T/jsonpb (-o json)" "{\"flow\":$F}" '-o json' "{\"flow\":$F}"
prints_ "$T/jsonpb_with_trace" "{\"flow\":$TRACE136}" '-o jsonpb' "{\"flow\":$TRACE136}"
prints_ "$T/jsonpb-terminal-escaped" "{\"flow\":$KAFKA}" '-o jsonpb' "{\"flow\":$KAFKA}"
DICT='  TIMESTAMP: Jan  1 00:20:34.567
     SOURCE: 1.1.1.1:31793
DESTINATION: 2.2.2.2:8080
       TYPE: Policy denied
    VERDICT: DROPPED
    SUMMARY: TCP Flags: SYN'
prints_ "$T/dict" "{\"flow\":$F}" '-o dict' "$DICT"
prints_ "$T/dict-with-node" "{\"flow\":$F}" '-o dict --print-node-name' '  TIMESTAMP: Jan  1 00:20:34.567
       NODE: k8s1
     SOURCE: 1.1.1.1:31793
DESTINATION: 2.2.2.2:8080
       TYPE: Policy denied
    VERDICT: DROPPED
    SUMMARY: TCP Flags: SYN'
prints_ "$T/dict-with-policy-name" "{\"flow\":$PDENIED}" '-o dict --print-policy-names' '  TIMESTAMP: Jan  1 00:20:34.567
     SOURCE: 1.1.1.1:31793
DESTINATION: 2.2.2.2:8080
       TYPE: policy-verdict:none EGRESS
    VERDICT: DENIED BY my-policy (CiliumNetworkPolicy)
    SUMMARY: TCP Flags: SYN'
prints_ "$T/dict-terminal-escaped" "{\"flow\":$KAFKA}" '-o dict' "  TIMESTAMP: Jan  1 00:20:34.567
     SOURCE: 1.1.1.1:31793
DESTINATION: 2.2.2.2:8080
       TYPE: kafka-request
    VERDICT: DROPPED
    SUMMARY: $KTEXT"

T=Test_getHostNames
IP12='"IP":{"source":"1.1.1.1","destination":"2.2.2.2"}'
SD='     SOURCE: %s
DESTINATION: %s'
sd() { printf "$SD" "$1" "$2"; }
dict_ "$T/nil ip" '{}' '' "$(sd '' '')"
dict_ "$T/valid ips" "{$IP12}" '' "$(sd 1.1.1.1 2.2.2.2)"
dict_ "$T/valid ips/endpoints" "{$IP12,\"source\":{\"namespace\":\"srcns\",\"pod_name\":\"srcpod\"},\"destination\":{\"namespace\":\"dstns\",\"pod_name\":\"dstpod\"}}" '' \
	"$(sd srcns/srcpod dstns/dstpod)"
dict_ "$T/valid tcp" "{$IP12,\"l4\":{\"TCP\":{\"source_port\":55555,\"destination_port\":80}}}" '' "$(sd 1.1.1.1:55555 2.2.2.2:80)"
dict_ "$T/valid udp" "{$IP12,\"l4\":{\"UDP\":{\"source_port\":55555,\"destination_port\":53}}}" '' "$(sd 1.1.1.1:55555 2.2.2.2:53)"
dict_ "$T/valid sctp" "{$IP12,\"l4\":{\"SCTP\":{\"source_port\":55555,\"destination_port\":5060}}}" '' "$(sd 1.1.1.1:55555 2.2.2.2:5060)"
SVC='"source_service":{"name":"xwing","namespace":"default"},"destination_service":{"name":"tiefighter","namespace":"deathstar"}'
dict_ "$T/valid tcp service" "{$IP12,\"l4\":{\"TCP\":{\"source_port\":55555,\"destination_port\":80}},$SVC}" '' \
	"$(sd default/xwing:55555 deathstar/tiefighter:80)"
dict_ "$T/valid udp service" "{$IP12,\"l4\":{\"UDP\":{\"source_port\":55555,\"destination_port\":53}},$SVC}" '' \
	"$(sd default/xwing:55555 deathstar/tiefighter:53)"
dict_ "$T/dns" "{$IP12,\"l4\":{\"TCP\":{\"source_port\":54321,\"destination_port\":65432}},\"source_names\":[\"a\"],\"destination_names\":[\"b\"]}" '' \
	"$(sd a:54321 b:65432)"
dict_ "$T/ethernet" '{"ethernet":{"source":"00:01:02:03:04:05","destination":"06:07:08:09:0a:0b"}}' '' \
	"$(sd 00:01:02:03:04:05 06:07:08:09:0a:0b)"

T=Test_fmtTimestamp
dict_ "$T/valid" '{"time":"1970-01-01T00:00:00Z"}' '' '  TIMESTAMP: Jan  1 00:00:00.000'
dict_ "$T/valid non-zero" '{"time":"2018-07-07T17:30:00.123Z"}' '' '  TIMESTAMP: Jul  7 17:30:00.123'
dict_ "$T/nil timestamp" '{}' '' '  TIMESTAMP: N/A'

T=Test_getFlowType
ty() { printf '       TYPE: %s' "$1"; }
dict_ "$T/L7" '{"l7":{"type":"REQUEST"},"event_type":{"type":129}}' '' "$(ty l7-request)"
dict_ "$T/HTTP" '{"l7":{"type":"RESPONSE","http":{}},"event_type":{"type":129}}' '' "$(ty http-response)"
dict_ "$T/Kafka" '{"l7":{"type":"REQUEST","kafka":{}},"event_type":{"type":129}}' '' "$(ty kafka-request)"
dict_ "$T/DNS" '{"l7":{"type":"REQUEST","dns":{"observation_source":"proxy"}},"event_type":{"type":129}}' '' "$(ty 'dns-request proxy')"
dict_ "$T/L4" '{"event_type":{"type":4,"sub_type":2}}' '' "$(ty to-host)"
dict_ "$T/L4#01" '{"verdict":"FORWARDED","event_type":{"type":5},"traffic_direction":"INGRESS","policy_match_type":2}' '' "$(ty 'policy-verdict:L3-L4 INGRESS')"
dict_ "$T/L4#02" '{"verdict":"DROPPED","drop_reason":153,"event_type":{"type":5},"traffic_direction":"INGRESS"}' '' "$(ty 'policy-verdict:none INGRESS')"
dict_ "$T/SockLB pre-translate" '{"verdict":"TRACED","event_type":{"type":7,"sub_type":1}}' '' "$(ty pre-xlate-fwd)"
dict_ "$T/SockLB post-translate" '{"verdict":"TRANSLATED","event_type":{"type":7,"sub_type":2}}' '' "$(ty post-xlate-fwd)"
dict_ "$T/SockLB pre-translate (sock_xlate_point)" '{"verdict":"TRACED","event_type":{"type":7},"sock_xlate_point":"SOCK_XLATE_POINT_PRE_DIRECTION_FWD"}' '' "$(ty pre-xlate-fwd)"
dict_ "$T/SockLB post-translate (sock_xlate_point)" '{"verdict":"TRANSLATED","event_type":{"type":7},"sock_xlate_point":"SOCK_XLATE_POINT_POST_DIRECTION_FWD"}' '' "$(ty post-xlate-fwd)"
dict_ "$T/Debug Capture" '{"event_type":{"type":3},"debug_capture_point":"DBG_CAPTURE_FROM_LB"}' '' "$(ty DBG_CAPTURE_FROM_LB)"
dict_ "$T/invalid" '{"event_type":{"type":4,"sub_type":123}}' '' "$(ty 123)"
dict_ "$T/nil type" '{}' '' "$(ty UNKNOWN)"

T=TestHostname
so() { printf '     SOURCE: %s' "$1"; }
POD='"source":{"namespace":"default","pod_name":"pod"}'
PSVC='"source_service":{"name":"service","namespace":"default"}'
dict_ "$T/#0 pod" "{\"IP\":{},$POD}" '' "$(so default/pod)"
dict_ "$T/#1 pod and service" "{\"IP\":{},$POD,$PSVC}" '' "$(so default/pod)"
dict_ "$T/#2 service" "{\"IP\":{},\"source\":{\"namespace\":\"default\"},$PSVC}" '' "$(so default/service)"
dict_ "$T/#3 names" '{"IP":{},"source_names":["a","b"]}' '' "$(so a,b)"
dict_ "$T/#4 no translation, pod" "{\"IP\":{\"source\":\"1.1.1.1\"},\"l4\":{\"TCP\":{\"source_port\":80}},$POD}" '--numeric' "$(so 1.1.1.1:80)"
dict_ "$T/#5 no translation, service" "{\"IP\":{\"source\":\"1.1.1.1\"},\"l4\":{\"TCP\":{\"source_port\":80}},$POD,$PSVC}" '--numeric' "$(so 1.1.1.1:80)"
dict_ "$T/#6 no translation, port 0" "{\"IP\":{\"source\":\"1.1.1.1\"},\"l4\":{\"TCP\":{}},$POD}" '--numeric' "$(so 1.1.1.1)"
dict_ "$T/#7 no translation, port 0, service" "{\"IP\":{\"source\":\"1.1.1.1\"},\"l4\":{\"TCP\":{}},$POD,$PSVC}" '--numeric' "$(so 1.1.1.1)"

T=TestFormatPolicyNames
pa() { # INGRESS_ALLOWED_BY_JSON_LIST
	hf FORWARDED ',"event_type":{"type":5},"traffic_direction":"INGRESS","policy_match_type":1,"ingress_allowed_by":'"$1"',"Summary":"TCP Flags: SYN"'
}
ve() { printf '    VERDICT: ALLOWED%s' "$1"; }
dict_ "$T/No policies" "$(pa '[]')" '--print-policy-names' "$(ve '')"
dict_ "$T/Single policy with kind and name" "$(pa '[{"kind":"CiliumNetworkPolicy","name":"AllowHTTP"}]')" '--print-policy-names' \
	"$(ve ' BY AllowHTTP (CiliumNetworkPolicy)')"
dict_ "$T/Multiple policies with kind and name" "$(pa '[{"kind":"CiliumNetworkPolicy","name":"AllowHTTP"},{"kind":"CiliumClusterwideNetworkPolicy","name":"AllowDNS"}]')" '--print-policy-names' \
	"$(ve ' BY AllowHTTP (CiliumNetworkPolicy), AllowDNS (CiliumClusterwideNetworkPolicy)')"
dict_ "$T/Policy with missing kind" "$(pa '[{"name":"AllowAll"}]')" '--print-policy-names' "$(ve '')"
dict_ "$T/Policy with missing name" "$(pa '[{"kind":"CiliumNetworkPolicy"}]')" '--print-policy-names' "$(ve '')"
dict_ "$T/Mixed valid and invalid policies" "$(pa '[{"kind":"CiliumNetworkPolicy","name":"AllowHTTP"},{"name":"InvalidPolicy"},{"kind":"CiliumClusterwideNetworkPolicy","name":"AllowDNS"}]')" '--print-policy-names' \
	"$(ve ' BY AllowHTTP (CiliumNetworkPolicy), AllowDNS (CiliumClusterwideNetworkPolicy)')"

T=TestPrinter_WriteLostEventsResponse
LE='"lost_events":{"source":"HUBBLE_RING_BUFFER","num_events_lost":"1","cpu":5}'
LET='"lost_events":{"source":"HUBBLE_RING_BUFFER","num_events_lost":"1","cpu":5,"first":"1970-01-01T00:20:30.567800Z","last":"1970-01-01T00:20:38.567800Z"}'
TM='"time":"1970-01-01T00:20:34.567800Z"'
GFR="{$LE,$TM}"
GFRN="{$LE,\"node_name\":\"node-name\",$TM}"
GFRT="{$LET,$TM}"
LHDR='TIMESTAMP             SOURCE               DESTINATION   TYPE          VERDICT   SUMMARY'
prints_ "$T/tabular" "$GFR" '-o table' "$LHDR
Jan  1 00:20:34.567   HUBBLE_RING_BUFFER   -             EVENTS LOST   -         CPU(5) - 1"
prints_ "$T/compact" "$GFR" '-o compact' 'Jan  1 00:20:34.567 EVENTS LOST: HUBBLE_RING_BUFFER CPU(5) 1'
prints_ "$T/json" "$GFR" '-o json' "$GFR"
prints_ "$T/jsonpb" "$GFR" '-o jsonpb' "$GFR"
prints_ "$T/dict" "$GFR" '-o dict' '  TIMESTAMP: Jan  1 00:20:34.567
     SOURCE: HUBBLE_RING_BUFFER
       TYPE: EVENTS LOST
    VERDICT: -
    SUMMARY: CPU(5) - 1'
prints_ "$T/tabular with node" "$GFRN" '-o table --print-node-name' \
	'TIMESTAMP             NODE        SOURCE               DESTINATION   TYPE          VERDICT   SUMMARY
Jan  1 00:20:34.567   node-name   HUBBLE_RING_BUFFER   -             EVENTS LOST   -         CPU(5) - 1'
prints_ "$T/compact with node" "$GFRN" '-o compact --print-node-name' 'Jan  1 00:20:34.567 EVENTS LOST: HUBBLE_RING_BUFFER CPU(5) 1'
prints_ "$T/json with node" "$GFRN" '-o json --print-node-name' "$GFRN"
prints_ "$T/jsonpb with node" "$GFRN" '-o jsonpb --print-node-name' "$GFRN"
prints_ "$T/dict with node" "$GFRN" '-o dict --print-node-name' '  TIMESTAMP: Jan  1 00:20:34.567
       NODE: node-name
     SOURCE: HUBBLE_RING_BUFFER
       TYPE: EVENTS LOST
    VERDICT: -
    SUMMARY: CPU(5) - 1'
prints_ "$T/tabular with timestamps" "$GFRT" '-o table' "$LHDR
Jan  1 00:20:34.567   HUBBLE_RING_BUFFER   -             EVENTS LOST   -         CPU(5) - 1 (first: Jan  1 00:20:30.567, last: Jan  1 00:20:38.567)"
prints_ "$T/compact with timestamps" "$GFRT" '-o compact' \
	'Jan  1 00:20:34.567 EVENTS LOST: HUBBLE_RING_BUFFER CPU(5) 1 (first: Jan  1 00:20:30.567, last: Jan  1 00:20:38.567)'
prints_ "$T/json with timestamps" "$GFRT" '-o json' "$GFRT"
prints_ "$T/jsonpb with timestamps" "$GFRT" '-o jsonpb' "$GFRT"
prints_ "$T/dict with timestamps" "$GFRT" '-o dict' '  TIMESTAMP: Jan  1 00:20:34.567
     SOURCE: HUBBLE_RING_BUFFER
       TYPE: EVENTS LOST
    VERDICT: -
    SUMMARY: CPU(5) - 1 (first: Jan  1 00:20:30.567, last: Jan  1 00:20:38.567)'

##############################################################################
# hubble/pkg/printer/terminal_test.go, color_test.go (through the Summary)
##############################################################################

sm() { printf '{"verdict":"FORWARDED","Summary":"%s"}' "$1"; }
su() { printf '    SUMMARY: %s' "$1"; }
T=TestTerminalEscaperWriter
dict_ "$T/0.control" "$(sm '\u001b')" '' "$(su '^[')"
dict_ "$T/1.control" "$(sm '\u001b')" '' "$(su '^[')"
dict_ "$T/2.carriage return" "$(sm '\r')" '' "$(su '\r')"
dict_ "$T/3.both" "$(sm '\u001b \r')" '' "$(su '^[ \r')"
dict_ "$T/4.formatted args" "$(sm '1\u001b3\r5')" '' "$(su '1^[3\r5')"
dict_ "$T/5.formatted args split sequence" "$(sm '\\x1b')" '' "$(su '\x1b')"
dict_ "$T/6.formatted args split sequence" "$(sm '\\033')" '' "$(su '\033')"
COLORS='\u001b[31mred\u001b[0m\u001b[32mgreen\u001b[0m\u001b[34mblue\u001b[0m\u001b[36mcyan\u001b[0m\u001b[35mmagenta\u001b[0m\u001b[33myellow\u001b[0m'
dict_ "$T/7.allowed colors" "$(sm "$COLORS")" '--color always' \
	"$(su $'\e[31mred\e[0m\e[32mgreen\e[0m\e[34mblue\e[0m\e[36mcyan\e[0m\e[35mmagenta\e[0m\e[33myellow\e[0m')"
T=TestColorersSequences
dict_ "$T/never" "$(sm '\u001b[31mred\u001b[0m')" '--color never' "$(su '^[[31mred^[[0m')"
dict_ "$T/auto" "$(sm '\u001b[31mred\u001b[0m')" '--color auto' "$(su '^[[31mred^[[0m')"
dict_ "$T/always" "$(sm '\u001b[31mred\u001b[0m')" '--color always' "$(su $'\e[31mred\e[0m')"

echo "hubble cli: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
