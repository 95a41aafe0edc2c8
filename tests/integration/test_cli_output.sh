#!/usr/bin/env bash
# CLI habits (issue #10, items 8 and 11): every get and list prints a
# table, -o json or -o yaml (kubectl's List for lists, no API envelope),
# -o wide on every get and list, and an unknown -o exits 2; `policy get -o yaml` is the
# stored object as kubectl prints it; empty policy files are named, by
# apply and by lint.
source "$(dirname "$0")/lib.sh"
t_begin

SLB=$SL_BUILD/cli/sluice
sl pod create default/web --labels app=web >/dev/null
sl pod create default/web.v1 --labels app=web >/dev/null
sl pod create default/long --labels app=long >/dev/null
# ---- item 8: output formats ---------------------------------------------
sl namespace label default team=blue >/dev/null
apply "$SL_ROOT/demo/policies.yaml"
WEB_ID=$(sl pod get default/web -o json | jq -r .identity)
isjson() { "$@" 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); assert "ok" not in d, "API envelope"; print(json.dumps(d))' >/dev/null; }
isyaml() { "$@" 2>/dev/null | python3 -c 'import yaml,sys; d=yaml.safe_load(sys.stdin); assert isinstance(d, dict) and "ok" not in d' ; }
islist() { "$@" 2>/dev/null | python3 -c '
import json, sys, yaml
t = sys.stdin.read()
d = yaml.safe_load(t)
assert d["kind"] == "List" and d["apiVersion"] == "v1" and isinstance(d["items"], list) and len(d["items"]) >= 1, d
'; }
for fmt in json yaml; do
	for cmd in "pod list" "policy list" "identity list" "namespace list"; do
		# shellcheck disable=SC2086
		check "$cmd -o $fmt is a kubectl List" islist sl $cmd -o $fmt
	done
	# shellcheck disable=SC2086
	for cmd in "pod get default/web" "policy get default/secure-api" "identity get $WEB_ID" "namespace get default" "status"; do
		if [ $fmt = json ]; then check "$cmd -o json: an object, no \"ok\" envelope" isjson sl $cmd -o json
		else check "$cmd -o yaml parses" isyaml sl $cmd -o yaml; fi
	done
done
for cmd in "pod list" "pod get default/web" "policy list" "policy get default/secure-api" "identity list" "identity get $WEB_ID" "namespace list" "namespace get default" "status"; do
	# shellcheck disable=SC2086
	check_exit 2 "$cmd -o bogus" sl $cmd -o bogus; check_said 'output format "bogus"'
	# shellcheck disable=SC2086
	check_exit 0 "$cmd (table)" sl $cmd
	# as in kubectl, every get and list takes -o wide (status is no get)
	# shellcheck disable=SC2086
	[ "$cmd" != status ] && check_exit 0 "$cmd -o wide" sl $cmd -o wide
done
check "identity list -o wide adds the references" sh -c "$SLB --socket $SL_SOCK identity list -o wide | head -1 | grep -q 'ID *REFS *LABELS'"
check_exit 2 "status -o wide is not a format status has" sl status -o wide
# -o name, as kubectl get prints it: RESOURCE/NAME, the kind and API group
# for objects that have them
sl service create default/websvc --selector app=web --port 80:80/TCP >/dev/null
"$SL_ROOT/certs/make-ca.sh" "$SL_WORK/ca" --name "cli test CA" >/dev/null
"$SL_ROOT/certs/make-leaf.sh" "$SL_WORK/ca" "$SL_WORK/leaf" web.test >/dev/null
sl secret create tls default/web-tls --cert "$SL_WORK/leaf/tls.crt" --key "$SL_WORK/leaf/tls.key" >/dev/null
names() { sl "$@" -o name 2>&1 | sort | tr '\n' ' '; }
expect_eq "pod list -o name" "pod/long pod/web pod/web.v1 " "$(names pod list)"
expect_eq "pod get -o name" "pod/web " "$(names pod get default/web)"
expect_eq "policy list -o name" "ciliumnetworkpolicy.cilium.io/database-from-backend ciliumnetworkpolicy.cilium.io/secure-api " "$(names policy list)"
expect_eq "policy get -o name" "ciliumnetworkpolicy.cilium.io/secure-api " "$(names policy get default/secure-api)"
expect_eq "identity get -o name" "identity/$WEB_ID " "$(names identity get "$WEB_ID")"
check "identity list -o name: one line per identity" sh -c "[ \$($SLB --socket $SL_SOCK identity list -o name | grep -c '^identity/[0-9]*\$') = \$($SLB --socket $SL_SOCK identity list -o json | jq '.items | length') ]"
expect_eq "namespace list -o name" "namespace/default " "$(names namespace list)"
expect_eq "namespace get -o name" "namespace/default " "$(names namespace get default)"
expect_eq "service list -o name" "service/websvc " "$(names service list)"
expect_eq "service get -o name" "service/websvc " "$(names service get default/websvc)"
expect_eq "secret list -o name" "secret/web-tls " "$(names secret list)"
expect_eq "secret get -o name" "secret/web-tls " "$(names secret get default/web-tls)"
# secrets take -o wide like every other get and list (kubectl: the same columns)
check "secret list -o wide is the table" sh -c "[ \"\$($SLB --socket $SL_SOCK secret list -o wide)\" = \"\$($SLB --socket $SL_SOCK secret list)\" ] && $SLB --socket $SL_SOCK secret list -o wide | grep -q web-tls"
check_exit 0 "secret get -o wide" sl secret get default/web-tls -o wide
check_exit 1 "secret get -o name of a missing secret" sl secret get default/nope -o name
check_exit 2 "status -o name is not a format status has" sl status -o name
# lists of namespaced objects take -n NS / -A, as kubectl get does (all
# namespaces when neither is given)
sl pod create other/x --labels app=x >/dev/null
expect_eq "pod list -n other" "pod/x " "$(names pod list -n other)"
expect_eq "pod list --namespace=default" "pod/long pod/web pod/web.v1 " "$(names pod list --namespace=default)"
expect_eq "pod list -A" "pod/long pod/web pod/web.v1 pod/x " "$(names pod list -A)"
check "pod list -n other (table): its row only" sh -c "[ \"\$($SLB --socket $SL_SOCK pod list -n other | tail -n +2 | awk '{print \$1}')\" = other/x ]"
expect_eq "policy list -n default" "ciliumnetworkpolicy.cilium.io/database-from-backend ciliumnetworkpolicy.cilium.io/secure-api " "$(names policy list -n default)"
expect_eq "policy list -n other: none" "" "$(names policy list -n other)"
expect_eq "service list -n other: none" "" "$(names service list -n other)"
expect_eq "secret list -n default" "secret/web-tls " "$(names secret list -n default)"
check "pod list -n other -o json: a List of its pods" sh -c "$SLB --socket $SL_SOCK pod list -n other -o json | jq -e '[.items[].namespace] == [\"other\"]'"
check_exit 2 "-n without a namespace" sl pod list -n
sl pod delete other/x >/dev/null
# version: -o json|yaml as kubectl version has them, anything else refused
check "version -o json: clientVersion" sh -c "$SLB version -o json | jq -e '.clientVersion.version and .clientVersion.datapathABI >= 1'"
check "version -o yaml parses" sh -c "$SLB version -o yaml | python3 -c 'import yaml,sys; assert yaml.safe_load(sys.stdin)[\"clientVersion\"][\"version\"]'"
check "version (text)" sh -c "$SLB version | grep -q '^sluice [0-9.]* (datapath ABI [0-9]*)\$'"
check_exit 2 "version with an argument" sl version extra
check_exit 2 "version -o wide" sl version -o wide
check_exit 2 "-o without a value" sl pod list -o
check_exit 0 "--output=json form" sl pod list --output=json
check_exit 0 "-ojson form" sl pod list -ojson
check "pod list -o wide adds columns" sh -c "$SLB --socket $SL_SOCK pod list -o wide | head -1 | grep -q 'ENDPOINT.*INTERFACE.*PORTS'"
check "pod list (table) has no wide columns" sh -c "! $SLB --socket $SL_SOCK pod list | head -1 | grep -q ENDPOINT"
check "pod list -o wide: a row per pod" sh -c "[ \$($SLB --socket $SL_SOCK pod list -o wide | grep -c '^default/') = 3 ]"
check "pod list -o json items carry identities" sh -c "$SLB --socket $SL_SOCK pod list -o json | jq -e '[.items[] | select(.name == \"web\")][0].identity == $WEB_ID'"
check "json == yaml for pod list" bash -c "diff <($SLB --socket $SL_SOCK pod list -o json | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), sort_keys=True))') <($SLB --socket $SL_SOCK pod list -o yaml | python3 -c 'import yaml,json,sys; print(json.dumps(yaml.safe_load(sys.stdin), sort_keys=True))')"
check "policy get -o yaml is the stored object (as kubectl prints it)" python3 - "$SLB" "$SL_SOCK" "$SL_ROOT/demo/policies.yaml" <<'PY'
import subprocess, sys, yaml
out = subprocess.run([sys.argv[1], "--socket", sys.argv[2], "policy", "get", "default/secure-api", "-o", "yaml"],
                     capture_output=True, text=True, check=True).stdout
got = yaml.safe_load(out)
want = [d for d in yaml.safe_load_all(open(sys.argv[3])) if d["metadata"]["name"] == "secure-api"][0]
assert got == want, (got, want)
assert out.startswith("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n"), out[:80]
PY
check "policy get -o json equals -o yaml" bash -c "diff <($SLB --socket $SL_SOCK policy get default/secure-api -o json | jq -S .) <($SLB --socket $SL_SOCK policy get default/secure-api -o yaml | python3 -c 'import yaml,json,sys; print(json.dumps(yaml.safe_load(sys.stdin), sort_keys=True, indent=2))' | jq -S .)"
check "policy list -o json: items are the stored objects" sh -c "$SLB --socket $SL_SOCK policy list -o json | jq -e '[.items[].metadata.name] | sort == [\"database-from-backend\", \"secure-api\"]'"
# the text form has the proxy's TLS counters too (none here: no TLS policy)
wait_proxy_ready 20
wait_until 50 0.1 sh -c "$SLB --socket $SL_SOCK status -o json | jq -e '.proxy.tls_handshakes == 0'" || fail "the proxy's counters reached the agent"
check "status (text): the proxy's mode (the agent's own child here)" sh -c "$SLB --socket $SL_SOCK status | grep -qx '  mode         embedded'"
check_not "status (text): no dropped line while nothing was dropped" sh -c "$SLB --socket $SL_SOCK status | grep -q '^  dropped '"
check "status (text): TLS counters of both sides, like the other proxy counters" sh -c "$SLB --socket $SL_SOCK status | grep -qx '  tls clients  0 handshakes (0 resumed), 0 failed' && $SLB --socket $SL_SOCK status | grep -qx '  tls upstream 0 handshakes (0 resumed), 0 failed'"
check "status -o json: proxy, memory, version" sh -c "$SLB --socket $SL_SOCK status -o json | jq -e '.proxy.state and .memory.rss_bytes > 0 and .version and .datapath_abi >= 1'"
check_exit 1 "policy get of a missing policy" sl policy get default/nope -o yaml
check_exit 1 "pod get of a missing pod" sl pod get default/nope -o json
check_exit 1 "identity get of a missing identity" sl identity get 99999 -o json
check_exit 2 "identity get of a non-number" sl identity get abc

# ---- item 11: empty input -----------------------------------------------
: >"$SL_WORK/empty.yaml"
printf -- '---\n' >"$SL_WORK/dashes.yaml"
printf -- '# only a comment\n---\n---\n' >"$SL_WORK/comment.yaml"
for f in empty dashes comment; do
	check_exit 1 "apply of $f.yaml" sl policy apply -f "$SL_WORK/$f.yaml"; check_said "$SL_WORK/$f.yaml: no policy found"
	check_not "  ... never the malformed-request message" sh -c "printf '%s' \"$ERR_OUT\" | grep -q malformed"
	check_exit 1 "lint of $f.yaml" bash -c "$SLB policy lint $SL_WORK/$f.yaml 2>&1 | grep -F '$SL_WORK/$f.yaml: no policy found' >&2; exit \${PIPESTATUS[0]}"
done
check_exit 1 "apply from an empty stdin" sh -c "$SLB --socket $SL_SOCK policy apply -f - </dev/null"; check_said "<stdin>: no policy found"
check "policies in force are unchanged" sh -c "[ \$($SLB --socket $SL_SOCK policy list | tail -n +2 | wc -l) = 2 ]"

t_finish
