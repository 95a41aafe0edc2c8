#!/usr/bin/env bash
# CLI habits (issue #10, items 6 and 12): names and labels follow
# Kubernetes' rules in the CLI and in the agent's API (exit 1, a message
# naming what is wrong; tables never print raw control characters); every
# command and subcommand has its own --help (exit 0) and the three programs
# print their version and the datapath ABI version.
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
