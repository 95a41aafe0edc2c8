#!/usr/bin/env bash
# test_k8s_client.sh - the k8s client library (k8s/) against a real
# kube-apiserver 1.20, directly and through the fault-injecting relay.
# k8s_watch_tool runs reflectors and requests and keeps each watch's cache in
# a state file ("ns/name resourceVersion" lines); every case ends when that
# file equals what `kubectl get` shows, within a bound.
#
# Cases: LIST+WATCH (streaming lists gated on /version: 1.20 -> LIST+WATCH), field
# selectors, add/modify/delete; 404 then the CRD appears; 403; a watch across
# server-side timeouts with bookmarks moving the resourceVersion; through the
# relay: connections cut mid-stream, every byte in its own TLS record, an
# in-stream 410 with a deletion missed meanwhile (relist, paginated, and a
# synthetic DELETED), 401 after token rotation (kubelet-style symlink swap)
# for watches and for requests, a slow API.
set -u
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
SL_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TOOL=${SL_BUILD:-$SL_ROOT/build}/tests/k8s/k8s_watch_tool
[ -x "$TOOL" ] || { echo "FAIL: $TOOL not built"; exit 1; }

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "  ok   $*"; }
fail() { FAILED=$((FAILED + 1)); echo "  FAIL $*"; }
check() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

WORK=$(mktemp -d /tmp/sluice-k8s-client-XXXXXX)
k8s_at_exit 'rm -rf "$WORK"'
k8s_up "$WORK/api" >"$WORK/up.log" 2>&1 || { echo "FAIL: k8s_up: $(tail -5 "$WORK/up.log")"; exit 1; }

# --- the tool -----------------------------------------------------------------
# tool_start NAME KUBECONFIG WATCH...: runs k8s_watch_tool in the background
# (extra environment from TOOL_ENV), stdin from a FIFO we keep open.
TOOL_ENV=()
declare -A TOOL_FD
tool_start() {
	local name=$1 cfg=$2 w fd
	shift 2
	local d=$WORK/$name args=()
	mkdir -p "$d/state"
	mkfifo "$d/in"
	for w in "$@"; do args+=(--watch "$w"); done
	env SLUICE_K8S_DEBUG=1 "${TOOL_ENV[@]}" "$TOOL" --kubeconfig "$cfg" --state "$d/state" \
		"${args[@]}" <"$d/in" >"$d/out" 2>"$d/err" &
	echo $! >"$d/pid"
	exec {fd}>"$d/in"
	TOOL_FD[$name]=$fd
	k8s_at_exit "tool_stop $name"
}
tool_cmd() { echo "$2" >&"${TOOL_FD[$1]}"; }
# tool_stop NAME: QUIT, and the tool must exit 0 (no handle left on its loop)
tool_stop() {
	local d=$WORK/$1 pid i
	[ -f "$d/pid" ] || return 0
	pid=$(cat "$d/pid")
	rm -f "$d/pid"
	tool_cmd "$1" QUIT 2>/dev/null
	eval "exec ${TOOL_FD[$1]}>&-"
	for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 1
	fi
	wait "$pid"
}
# tool_lines NAME: the tool's complete output lines, from one read of the
# file (a line being written may be seen in part: a RESPONSE longer than
# stdio's buffer takes several writes, and any line can straddle a page)
tool_lines() {
	local s
	s=$(cat "$WORK/$1/out"; printf x)
	s=${s%x}
	case $s in
	*$'\n') ;;
	*$'\n'*) s=${s%$'\n'*}$'\n' ;;
	*) s= ;;
	esac
	printf '%s' "$s"
}
# tool_count NAME PREFIX: how many complete lines start with PREFIX
tool_count() { tool_lines "$1" | grep -c "^$2"; }
# tool_answered NAME PREFIX N: more than N complete PREFIX lines (counted
# anew on each call: k8s_wait runs it until the tool has answered)
tool_answered() { [ "$(tool_count "$1" "$2")" -gt "$3" ]; }
# tool_stats NAME KEY: one counter (asks the tool, waits for the answer)
tool_stats() {
	local n
	n=$(tool_count "$1" STATS)
	tool_cmd "$1" STATS
	k8s_wait 10 tool_answered "$1" STATS "$n" || { echo -1; return; }
	tool_lines "$1" | grep '^STATS' | tail -1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}
# tool_request NAME LINE: one request; prints "STATUS BODY-OR-MESSAGE"
tool_request() {
	local n
	n=$(tool_count "$1" RESPONSE)
	tool_cmd "$1" "$2"
	n=$((n + 1))
	k8s_wait 60 tool_answered "$1" "RESPONSE $n " 0 || { echo "0 no answer"; return; }
	tool_lines "$1" | grep "^RESPONSE $n " | cut -d' ' -f3-
}

# expected STATE-KUBECTL-ARGS...: what kubectl shows, as the tool writes it
expected() {
	kc get "$@" -o jsonpath='{range .items[*]}{.metadata.namespace}{"/"}{.metadata.name}{" "}{.metadata.resourceVersion}{"\n"}{end}' |
		sed 's#^/##' | sort
}
# converged NAME IDX KUBECTL-ARGS...: the tool's cache equals kubectl's view
converged() {
	local f=$WORK/$1/state/$2
	shift 2
	[ -f "$f" ] && [ "$(cat "$f")" = "$(expected "$@")" ]
}
wait_converged() {
	local name=$1 idx=$2 what=$3
	shift 3
	if k8s_wait 60 converged "$name" "$idx" "$@"; then
		pass "$what"
	else
		fail "$what"
		echo "    tool:    $(tr '\n' ',' <"$WORK/$name/state/$idx" 2>/dev/null)"
		echo "    kubectl: $(expected "$@" | tr '\n' ',')"
		tail -5 "$WORK/$name/err" | sed 's/^/    /'
	fi
}
cm() { kc -n "$1" create configmap "$2" --from-literal=v="${3:-1}" >/dev/null; }
cm_set() { kc -n "$1" patch configmap "$2" --type merge -p "{\"data\":{\"v\":\"$3\"}}" >/dev/null; }
cm_del() { kc -n "$1" delete configmap "$2" >/dev/null; }
synced_count() { cat "$WORK/$1/state/$2.synced" 2>/dev/null || echo 0; }

for ns in kct kct-b kct-bm kct-relay kct-tok; do kc create namespace $ns >/dev/null; done

# --- 1. LIST+WATCH, field selector, events, streaming-list fallback ------------
echo "== direct: LIST+WATCH"
cm kct a
cm kct b
kc apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Pod, metadata: {name: p1, namespace: kct}, spec: {nodeName: node-a, containers: [{name: c, image: busybox}]}}
- {apiVersion: v1, kind: Pod, metadata: {name: p2, namespace: kct-b}, spec: {nodeName: node-a, containers: [{name: c, image: busybox}]}}
- {apiVersion: v1, kind: Pod, metadata: {name: p3, namespace: kct}, spec: {nodeName: node-b, containers: [{name: c, image: busybox}]}}
YAML
tool_start direct "$K8S_KUBECONFIG" /api/v1/namespaces/kct/configmaps \
	'/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a' /apis/example.sluice.io/v1/widgets
k8s_wait 30 grep -q '^SYNCED 0' "$WORK/direct/out"
wait_converged direct 0 "initial LIST: configmaps as kubectl shows them" configmaps -n kct
wait_converged direct 1 "pods of node-a only (fieldSelector)" pods -A --field-selector spec.nodeName=node-a
# 1.20 has no streaming lists, and a server before 1.27 may ignore the
# parameters rather than refuse them: the client asks /version first
check "streaming lists gated on /version: 1.20 gets LIST+WATCH" \
	grep -q 'no streaming lists (server v1.20, before 1.27): LIST+WATCH' "$WORK/direct/err"
check "  no watch carried sendInitialEvents" bash -c "! grep -q sendInitialEvents '$WORK/direct/err'"
check "  the debug log does show the requests (the check above can fail)" grep -q 'watch=1' "$WORK/direct/err"
cm kct c
cm_set kct a 2
cm_del kct b
wait_converged direct 0 "watch: add, modify, delete" configmaps -n kct
check "events arrived as ADDED/MODIFIED/DELETED" \
	bash -c "grep -q '^EVENT 0 ADDED kct/c ' '$WORK/direct/out' && grep -q '^EVENT 0 MODIFIED kct/a ' '$WORK/direct/out' && grep -q '^EVENT 0 DELETED kct/b ' '$WORK/direct/out'"
kc -n kct delete pod p1 --grace-period=0 --force >/dev/null 2>&1
k8s_set_pod_ip kct-b p2 10.244.0.7
wait_converged direct 1 "pod deleted / pod status patched" pods -A --field-selector spec.nodeName=node-a
check "list items carry the list's kind (ConfigMap, Pod)" \
	bash -c "grep -q '^EVENT 0 ADDED kct/a [0-9]* ConfigMap$' '$WORK/direct/out' && grep -q '^EVENT 1 ADDED kct-b/p2 [0-9]* Pod$' '$WORK/direct/out'"

# --- 2. 404 until the CRD exists; 403 -----------------------------------------
echo "== a collection not served yet, a forbidden one"
check "404 on LIST -> failed" k8s_wait 30 grep -q '^FAILED 2 404 ' "$WORK/direct/out"
kc apply -f - >/dev/null <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.sluice.io}
spec:
  group: example.sluice.io
  names: {kind: Widget, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
YAML
k8s_wait 30 kc get --raw /apis/example.sluice.io/v1/widgets
kc apply -f - >/dev/null <<'YAML'
{"apiVersion": "example.sluice.io/v1", "kind": "Widget", "metadata": {"name": "w1", "namespace": "kct"}, "spec": {"size": 3}}
YAML
wait_converged direct 2 "the CRD installed later: the watch syncs and sees its objects" widgets.example.sluice.io -A
check "the widget arrived with its kind" bash -c "grep -q '^EVENT 2 ADDED kct/w1 ' '$WORK/direct/out'"
r=$(tool_request direct "GET /api/v1/namespaces/kct/configmaps/a")
check "k8s_request GET: 200 with the object" bash -c "[[ '$r' == 200*'\"name\":\"a\"'* ]]"
r=$(tool_request direct "POST /api/v1/namespaces/kct/configmaps {\"metadata\":{\"name\":\"posted\"},\"data\":{\"k\":\"v\"}}")
check "k8s_request POST: 201" bash -c "[[ '$r' == 201* ]]"
r=$(tool_request direct "POST /api/v1/namespaces/kct/configmaps {\"metadata\":{\"name\":\"posted\"}}")
check "k8s_request POST again: 409 with the server's message" bash -c "[[ '$r' == '409 HTTP 409: configmaps \"posted\" already exists' ]]"
r=$(tool_request direct "PATCH /api/v1/namespaces/kct/configmaps/posted {\"data\":{\"k\":\"w\"}}")
check "k8s_request PATCH (merge patch): 200" bash -c "[[ '$r' == 200*'\"k\":\"w\"'* ]]"
r=$(tool_request direct "DELETE /api/v1/namespaces/kct/configmaps/posted")
check "k8s_request DELETE: 200" bash -c "[[ '$r' == 200* ]]"
wait_converged direct 0 "requests' changes seen by the watch" configmaps -n kct
TOOL_ENV=(SLUICE_K8S_REFUSED_RETRY_MS=200,1000)
tool_start nobody "$K8S_DIR/nobody.kubeconfig" /api/v1/namespaces/kct/configmaps
TOOL_ENV=()
check "403 on LIST -> failed, with the server's message" \
	k8s_wait 30 grep -q '^FAILED 0 403 HTTP 403: configmaps is forbidden' "$WORK/nobody/out"
# an RBAC gap is not an unhealthy server: 403 counted apart, and listed
# again with a backoff (here 200 ms doubling to a 1 s cap)
refused_apart() { [ "$(tool_stats nobody forbidden)" -ge 2 ] && [ "$(tool_stats nobody errors)" = 0 ]; }
check "  a 403 is counted as forbidden, not as an error" k8s_wait 10 refused_apart
# judged by the delays the client chose after each refusal (its debug log),
# not by how many refusals fit in a time: 0.1-0.2, 0.2-0.4, 0.4-0.8 s, then
# 0.5-1 s at the cap. No backoff, a fixed delay (the old 5-10 s), or a cap
# without its floor gives other delays.
# (the first list, at once, is "list in 0 ms")
refusal_delays() { sed -n 's#^k8s: /api/v1/namespaces/kct/configmaps: list in \([1-9][0-9]*\) ms$#\1#p' "$WORK/nobody/err"; }
six_delays() { [ "$(refusal_delays | wc -l)" -ge 6 ]; }
k8s_wait 60 six_delays
delays=$(refusal_delays | head -6 | tr '\n' ' ')
check "  listed again with backoff and a cap (delays ${delays:-none} ms)" awk -v d="$delays" 'BEGIN {
	split("100 200 400 500 500 500", lo); split("200 400 800 1000 1000 1000", hi)
	if (split(d, v, " ") < 6) exit 1
	for (i = 1; i <= 6; i++) if (v[i] < lo[i] || v[i] > hi[i]) exit 1
}'
echo "  ($(grep -c '^FAILED 0 403' "$WORK/nobody/out") refusals so far)"
check "tool exits cleanly (no handle left)" tool_stop nobody

# --- 2b. TLS: names, client certificates ------------------------------------
echo "== TLS: server name and address checks, client certificate"
tls_get() { # KUBECONFIG -> the answer line of one GET through a fresh tool
	local name=tls$RANDOM
	tool_start "$name" "$1"
	tool_request "$name" "GET /api/v1/namespaces/kct"
	tool_stop "$name" || echo "(tool did not exit cleanly)"
}
sed "s#server: .*#server: https://localhost:$K8S_PORT#" "$K8S_KUBECONFIG" >"$WORK/localhost.kubeconfig"
r=$(tls_get "$WORK/localhost.kubeconfig")
check "https://localhost: SNI sent, the DNS name verified" \
	bash -c "[[ '$r' == 200* ]]"
r=$(tls_get "$K8S_DIR/admin-cert.kubeconfig")
check "client certificate authentication" bash -c "[[ '$r' == 200* ]]"
# the same server at an address its certificate does not name
socat TCP-LISTEN:0,bind=127.0.0.2,reuseaddr,fork TCP:127.0.0.1:"$K8S_PORT" 2>/dev/null &
socat_pid=$!
k8s_at_exit "kill $socat_pid 2>/dev/null"
sport=
for i in $(seq 1 50); do
	sport=$(ss -Hltnp 2>/dev/null | grep "pid=$socat_pid," | awk '{print $4}' | sed 's/.*://' | head -1)
	[ -n "$sport" ] && break
	sleep 0.1
done
sed "s#server: .*#server: https://127.0.0.2:$sport#" "$K8S_KUBECONFIG" >"$WORK/wrongip.kubeconfig"
r=$(tls_get "$WORK/wrongip.kubeconfig")
check "an address the certificate does not name is refused ($r)" \
	bash -c "[[ '$r' == '0 '*'not trusted'*'IP address mismatch'* ]]"
kill $socat_pid 2>/dev/null

# --- 3. server-side timeouts and bookmarks ------------------------------------
echo "== a watch across server-side timeouts (timeoutSeconds=5), bookmarks"
TOOL_ENV=(SLUICE_K8S_WATCH_TIMEOUT=5)
cm kct-bm one
tool_start timeout "$K8S_KUBECONFIG" /api/v1/namespaces/kct-bm/configmaps
k8s_wait 30 grep -q '^SYNCED 0' "$WORK/timeout/out"
# other namespaces move the server's resourceVersion meanwhile
for i in $(seq 1 7); do cm kct-b "tick$i"; sleep 2; done
cm kct-bm two
wait_converged timeout 0 "changes after two timeouts still arrive" configmaps -n kct-bm
rw=$(tool_stats timeout rewatches)
rl=$(tool_stats timeout relists)
check "the watch was resumed after each timeout ($rw re-watches), never re-listed ($rl)" \
	test "$rw" -ge 2 -a "$rl" = 0
check "timeoutSeconds=5 was asked for" grep -q 'timeoutSeconds=5$' "$WORK/timeout/err"
bms=$(sed -n 's/.*: bookmark \([0-9]*\)$/\1/p' "$WORK/timeout/err")
check "bookmarks arrived ($(echo $bms))" test -n "$bms"
# a bookmark's resourceVersion that no event of this watch carried, used to
# resume: only the bookmark can have moved it there
from_bookmark() {
	local rv
	for rv in $bms; do
		grep -q "^EVENT 0 [A-Z]* [^ ]* $rv " "$WORK/timeout/out" && continue
		grep -q "watch=1&resourceVersion=$rv&" "$WORK/timeout/err" && return 0
	done
	return 1
}
check "a re-watch resumed from a bookmark's resourceVersion" from_bookmark
check "tool exits cleanly" tool_stop timeout
TOOL_ENV=()

# --- 4. through the relay -----------------------------------------------------
echo "== through the fault relay"
k8s_relay_start r1 >/dev/null || { fail "relay start"; exit 1; }
for i in $(seq 1 7); do cm kct-relay "c$i"; done
# a ServiceAccount and bound tokens, for the rotation case later
kc -n kct-tok create serviceaccount client >/dev/null
kc create clusterrolebinding kct-client --clusterrole=cluster-admin --serviceaccount=kct-tok:client >/dev/null
mkdir -p "$WORK/sa/..v1"
k8s_sa_token kct-tok client >"$WORK/sa/..v1/token"
ln -s ..v1 "$WORK/sa/..data"
ln -s ..data/token "$WORK/sa/token"
{
	printf 'apiVersion: v1\nkind: Config\ncurrent-context: t\n'
	printf 'clusters:\n- name: relay\n  cluster: {server: "%s", certificate-authority: "%s"}\n' "$K8S_RELAY_URL" "$K8S_CA"
	printf 'users:\n- name: sa\n  user: {tokenFile: sa/token}\n'
	printf 'contexts:\n- name: t\n  context: {cluster: relay, user: sa}\n'
} >"$WORK/relay.kubeconfig"
TOOL_ENV=(SLUICE_K8S_PAGE_SIZE=3 SLUICE_K8S_TOKEN_MAX_AGE=3600)
tool_start relay "$WORK/relay.kubeconfig" /api/v1/namespaces/kct-relay/configmaps
k8s_wait 30 grep -q '^SYNCED 0' "$WORK/relay/out"
wait_converged relay 0 "synced through the relay (tokenFile, relative path)" configmaps -n kct-relay

# 4-. keep-alive: one-shot requests share a connection (the watch holds its
# own); a server that closes a kept-alive connection just as a request is
# written on it (no answer at all) gets the request again on a fresh one
c0=$(k8s_relay_stat r1 connections)
u0=$(tool_stats relay reused)
ok=0
for i in $(seq 1 10); do
	r=$(tool_request relay "GET /api/v1/namespaces/kct-relay/configmaps/c1")
	[[ "$r" == 200* ]] && ok=$((ok + 1))
done
c1=$(k8s_relay_stat r1 connections)
u1=$(tool_stats relay reused)
check "10 requests answered" test "$ok" = 10
check "  on kept-alive connections: $((c1 - c0)) new at the relay (at most 1)" test $((c1 - c0)) -le 1
check "  the client counts them reused ($((u1 - u0)))" test $((u1 - u0)) -ge 9
k8s_relay_set r1 '{"drop_reused": true, "fault_times": 1}'
r=$(tool_request relay "GET /api/v1/namespaces/kct-relay/configmaps/c1")
check "a kept-alive connection closed under a request: resent on a fresh one, 200" \
	bash -c "[[ '$r' == 200* ]]"
check "  the relay did drop it unanswered ($(k8s_relay_stat r1 dropped))" test "$(k8s_relay_stat r1 dropped)" = 1
k8s_relay_set r1 '{}'

# 4a. connections cut in the middle of the stream
k8s_relay_set r1 '{"cut_after_events": 1, "fault_times": 3}'
cm kct-relay cut1
sleep 0.5
cm_set kct-relay c1 x
sleep 0.5
cm_del kct-relay c2
cm kct-relay cut2
wait_converged relay 0 "connections cut mid-stream: converges" configmaps -n kct-relay
check "the relay did cut ($(k8s_relay_stat r1 cuts) cuts)" test "$(k8s_relay_stat r1 cuts)" -ge 2
check "cuts re-watch from the last resourceVersion, no relist" test "$(tool_stats relay relists)" = 0

# 4b. every byte of the answers in its own TLS record
k8s_relay_set r1 '{"split": true}'
cm_set kct-relay c3 split
cm kct-relay split1
cm_del kct-relay c4
wait_converged relay 0 "answers split at every byte: converges" configmaps -n kct-relay
r=$(tool_request relay "GET /api/v1/namespaces/kct-relay/configmaps")
check "a LIST split at every byte parses" bash -c "[[ '$r' == 200*'\"kind\":\"ConfigMapList\"'* ]]"

# 4c. an in-stream 410 while a deletion is missed: the rewatch after the
# cut is held 2 s by the relay (latency) and then answered ERROR 410 without
# asking the server; the deletion made meanwhile reaches no watch, only the
# relist (paginated: limit=3) and its diff.
sync_before=$(synced_count relay 0)
k8s_relay_set r1 '{"cut_after_events": 1, "expire_after_events": 0, "latency_ms": 2000, "fault_times": 2}'
cm kct-relay trigger
sleep 0.3
cm_del kct-relay c5
cm_set kct-relay c6 missed
wait_converged relay 0 "in-stream 410: relist converges" configmaps -n kct-relay
check "the relay sent the 410 ($(k8s_relay_stat r1 expired))" test "$(k8s_relay_stat r1 expired)" -ge 1
check "the missed deletion came as a synthetic DELETED" grep -q '^EVENT 0 DELETED kct-relay/c5 ' "$WORK/relay/out"
check "the relist synced again" test "$(synced_count relay 0)" -gt "$sync_before"
check "the relist was paginated (limit=3 with continue tokens)" \
	test "$(grep -c 'configmaps?limit=3&continue=' "$WORK/relay/err")" -ge 2
check "relists counted" test "$(tool_stats relay relists)" -ge 1

# 4d. token rotation, in a fixed order: the kubelet swaps the projected
# volume's ..data symlink to a new token first; then the relay refuses the
# old token (as the server does once a bound token expired) and cuts the
# watch. The client still holds the old token (SLUICE_K8S_TOKEN_MAX_AGE: no
# periodic re-read during the test), so its re-watch is refused with a 401,
# and that 401 re-reads the file, finds the new token and retries with it.
# Then the same for a one-shot request.
k8s_relay_set r1 '{}'
rot() {
	mkdir "$WORK/sa/..$1"
	k8s_sa_token kct-tok client >"$WORK/sa/..$1/token"
	ln -s "..$1" "$WORK/sa/..data.tmp"
	mv -T "$WORK/sa/..data.tmp" "$WORK/sa/..data"
}
v1=$(cat "$WORK/sa/..v1/token")
reloads0=$(tool_stats relay token_reloads)
rej0=$(k8s_relay_stat r1 rejected)
cuts0=$(k8s_relay_stat r1 cuts)
rot v2
check "the new token differs from the old one" test "$(cat "$WORK/sa/..v2/token")" != "$v1"
k8s_relay_set r1 "{\"reject_tokens\": [\"$v1\"], \"cut_after_events\": 1, \"fault_times\": 1}"
cm kct-relay after-rotation
stat_gt() { test "$(k8s_relay_stat r1 "$1")" -gt "$2"; }
check "the relay cut the watch after the rotation" k8s_wait 30 stat_gt cuts "$cuts0"
cm kct-relay after-rotation2
wait_converged relay 0 "401 after rotation: the watch re-reads the token and converges" configmaps -n kct-relay
check "  the re-watch with the old token was refused (401: $(k8s_relay_stat r1 rejected) -> was $rej0)" \
	test "$(k8s_relay_stat r1 rejected)" -gt "$rej0"
reloads1=$(tool_stats relay token_reloads)
check "  the client counts one re-read that found a new token ($reloads0 -> $reloads1)" \
	test "$reloads1" -eq $((reloads0 + 1))
v2=$(cat "$WORK/sa/..v2/token")
rej1=$(k8s_relay_stat r1 rejected)
rot v3
k8s_relay_set r1 "{\"reject_tokens\": [\"$v1\", \"$v2\"]}"
r=$(tool_request relay "GET /api/v1/namespaces/kct-relay/configmaps/c1")
check "a request after the second rotation: 401, re-read, retried: 200" \
	bash -c "[[ '$r' == 200* ]]"
check "  the relay refused the old token once more ($rej1 -> $(k8s_relay_stat r1 rejected))" \
	test "$(k8s_relay_stat r1 rejected)" -gt "$rej1"
reloads2=$(tool_stats relay token_reloads)
check "  the client counts the second re-read ($reloads0 -> $reloads2 over two rotations)" \
	test "$reloads2" -eq $((reloads0 + 2))
r=$(tool_request relay "GET /api/v1/namespaces/kct-relay/configmaps/c1")
check "the next request goes straight through" bash -c "[[ '$r' == 200* ]]"

# 4e. a slow API
k8s_relay_set r1 '{"latency_ms": 1500, "chunk_latency_ms": 300, "cut_after_events": 2, "fault_times": 1}'
cm kct-relay slow1
cm_set kct-relay c7 slow
cm_del kct-relay c6
r=$(tool_request relay "GET /api/v1/namespaces/kct-relay/configmaps/c7")
check "a request on the slow API answers" bash -c "[[ '$r' == 200* ]]"
wait_converged relay 0 "slow API: converges" configmaps -n kct-relay
k8s_relay_set r1 '{}'
echo "  (relay: $(cat "$K8S_DIR/relay-r1/stats.json"))"
echo "  (tool: $(tool_stats relay requests) requests, $(tool_stats relay errors) errors)"
check "relay tool exits cleanly" tool_stop relay
check "direct tool exits cleanly" tool_stop direct

echo "k8s client: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
