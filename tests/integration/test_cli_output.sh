#!/usr/bin/env bash
# CLI habits (issue #10, items 6, 8, 11, 12): names and labels follow
# Kubernetes' rules in the CLI and in the agent's API (exit 1, a message
# naming what is wrong); every get and list prints a table, -o json or
# -o yaml (kubectl's List for lists, no API envelope), -o wide on pods, and
# an unknown -o exits 2; `policy get -o yaml` is the stored object; empty
# policy files are named; every subcommand has --help; versions print.
source "$(dirname "$0")/lib.sh"
t_begin

SLB=$SL_BUILD/cli/sluice

# ---- item 6: names and labels ------------------------------------------
long64=$(printf 'a%.0s' $(seq 1 64))
long63=$(printf 'b%.0s' $(seq 1 63))
name253="$long63.$long63.$long63.$(printf 'c%.0s' $(seq 1 61))"
check_exit 1 "uppercase namespace refused" sl pod create Default/web --labels app=web; check_said '"Default"'
check_exit 1 "64-character namespace refused" sl pod create "$long64/web" --labels app=web; check_said "no more than 63"
check_exit 1 "namespace with a dot refused" sl pod create a.b/web --labels app=web; check_said '"a.b"'
check_exit 1 "uppercase pod name refused" sl pod create default/Web --labels app=web; check_said '"Web"'
check_exit 1 "254-character pod name refused" sl pod create "default/${name253}x" --labels app=web; check_said "no more than 253"
check_exit 1 "pod name with underscore refused" sl pod create default/we_b --labels app=web
check_exit 1 "label key with \$ refused" sl pod create default/web --labels 'a$=1'; check_said 'a$'
check_exit 1 "label key with a space refused" sl pod create default/web --labels 'a b=1'; check_said '"a b"'
check_exit 1 "label key with ü refused" sl pod create default/web --labels 'ü=1'
check_exit 1 "70-character label key refused" sl pod create default/web --labels "$(printf 'k%.0s' $(seq 1 70))=1"; check_said "63"
check_exit 1 "reserved:host=x refused" sl pod create default/web --labels 'reserved:host=x'; check_said "reserved:"
check_exit 1 "k8s:app=x refused" sl pod create default/web --labels 'k8s:app=x'
check_exit 1 "label value with = refused" sl pod create default/web --labels 'app=a=b'; check_said '"a=b"'
check_exit 1 "label value with a space refused" sl pod create default/web --labels 'app=a b'
check_exit 1 "64-character label value refused" sl pod create default/web --labels "app=$long64"
check_exit 1 "label value with a newline refused" sl pod create default/web --labels "app=x
evil 1.2.3.4 999"; check_said 'x\nevil'
check_exit 1 "bad prefix refused" sl pod create default/web --labels 'Example.com/app=x'
check_not "no pod was created by any of these" sh -c "$SLB --socket $SL_SOCK pod list | grep -q web"
check_exit 0 "valid: prefixed key, empty value, 63-character value" sl pod create default/web --labels "example.com/app_1.x=ok,empty=,long=$long63"
check_exit 0 "valid: 253-character pod name" sl pod create "default/$name253" --labels app=long
check_exit 0 "valid: dotted pod name" sl pod create default/web.v1 --labels app=web
check_exit 1 "pod label: bad value refused" sl pod label default/web 'app=no good'; check_said '"no good"'
check_exit 1 "pod label: reserved key refused" sl pod label default/web 'reserved:world=1'
check_exit 1 "namespace label: bad namespace refused" sl namespace label Prod team=x
check_exit 1 "namespace label: bad value refused" sl namespace label default 'team=$x'
check_exit 1 "pod import: bad name refused" sh -c "echo 'Remote/x 10.9.0.1 app=a' | $SLB --socket $SL_SOCK pod import -"

# the agent enforces the same rules when the CLI is bypassed (the API is the trust boundary)
api() { python3 - "$SL_SOCK" "$1" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
buf = b""
while not buf.endswith(b"\n"):
    d = s.recv(65536)
    if not d: break
    buf += d
r = json.loads(buf)
print(r.get("error", "accepted"))
sys.exit(0 if r.get("ok") else 1)
PY
}
apirc() { local want=$1 what=$2 out; out=$(api "$3"); [ $? = "$want" ] && pass "API: $what ($out)" || fail "API: $what: $out"; }
apirc 1 "uppercase pod name" '{"cmd":"pod.create","namespace":"default","name":"Evil","labels":{}}'
apirc 1 "300-character name" "{\"cmd\":\"pod.create\",\"namespace\":\"default\",\"name\":\"$(printf 'e%.0s' $(seq 1 300))\",\"labels\":{}}"
apirc 1 "label value with newline" '{"cmd":"pod.create","namespace":"default","name":"evil","labels":{"app":"x\nforged 1.1.1.1"}}'
apirc 1 "reserved: label" '{"cmd":"pod.create","namespace":"default","name":"evil","labels":{"reserved:host":""}}'
apirc 1 "relabel with a control character" '{"cmd":"pod.label","namespace":"default","name":"web","set":{"app":"a\u001b[31m"}}'
apirc 1 "namespace label key with =" '{"cmd":"namespace.label","namespace":"default","set":{"a=b":"c"}}'
apirc 1 "remote pod import with bad namespace" '{"cmd":"pod.import","pods":[{"namespace":"NS","name":"a","ip":"10.9.0.2","labels":{}}]}'
check_not "the table never shows a raw control character" sh -c "$SLB --socket $SL_SOCK pod list | grep -q \$(printf '\\033')"

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
done
check_exit 2 "status -o wide is not a format status has" sl status -o wide
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

# ---- item 12: --help and --version everywhere -----------------------------
helps=("pod" "pod create" "pod import" "pod exec" "pod delete" "pod list" "pod get" "pod label"
	"namespace" "namespace label" "namespace list" "namespace get" "identity" "identity list" "identity get"
	"policy" "policy apply" "policy delete" "policy list" "policy get" "policy lint"
	"observe" "status" "proxy" "proxy restart" "version")
for c in "${helps[@]}"; do
	# shellcheck disable=SC2086
	out=$($SLB $c --help 2>&1); r=$?
	first=$(printf '%s\n' "$out" | head -1)
	if [ $r = 0 ] && printf '%s' "$first" | grep -q "^Usage: sluice $c"; then pass "sluice $c --help"; else fail "sluice $c --help: exit $r: $first"; fi
done
out=$($SLB pod exec default/web --help 2>&1); [ $? = 0 ] && pass "sluice pod exec NS/NAME --help exits 0" || fail "pod exec NS/NAME --help: $out"
check_exit 0 "sluice pod exec NS/NAME -- cmd --help runs the command's --help" sl pod exec default/web -- true --help
check_exit 2 "unknown subcommand exits 2" sl pod frobnicate
check_exit 2 "no subcommand exits 2" sl pod
for bin in "$SLB" "$SL_BUILD/agent/sluiced" "$SL_BUILD/proxy/sluice-proxy"; do
	v=$("$bin" --version); r=$?
	[ $r = 0 ] && printf '%s' "$v" | grep -qE "^$(basename "$bin") [0-9]+\.[0-9]+\.[0-9]+ \(datapath ABI [0-9]+\)$" \
		&& pass "$(basename "$bin") --version: $v" || fail "$(basename "$bin") --version: exit $r: $v"
done
check "sluiced --help mentions --version" sh -c "$SL_BUILD/agent/sluiced --help | grep -q -- --version"
check "status text shows the version" sh -c "$SLB --socket $SL_SOCK status | grep -q '^Version: .*datapath ABI'"

t_finish
