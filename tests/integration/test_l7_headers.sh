#!/usr/bin/env bash
# headerMatches (Cilium's HeaderMatch) through the real path: pods, the
# agent, the proxy, secrets.
#  - the Cilium CLI's client-egress-l7-set-header: client2's POST
#    /auth-header-required gets "Authorization: Bearer 123456" from a
#    secret (mismatch: REPLACE) and the echo server answers 200; client,
#    which no L7 policy selects, reaches it without the header: 401;
#  - a wrong value is replaced, not duplicated; DELETE removes a wrong
#    value and keeps the right one; ADD adds a missing field; LOG lets the
#    request through untouched; a match without an action denies on
#    mismatch (403);
#  - a secret that is missing fails its rule closed (403), then its
#    creation, rotation (--overwrite) and deletion reach the next request;
#    a secret of two items is no value (403);
#  - the secret's value is never in the agent's output (access log, logs);
#  - bad input: an unknown action, an edit of a framing field: refused
#    with file, line and field, and the policy in force stays.
source "$(dirname "$0")/lib.sh"
t_begin

pod default/client2 kind=client,other=client
pod default/client kind=client
pod default/echo kind=echo --port http-8080=8080/TCP
serve default/echo tcp:8080

check "secret create generic --from-literal" \
	sl secret create generic default/header-match --from-literal=value='Bearer 123456'
out=$(sl secret list)
echo "$out" | grep -qE '^default +header-match +Opaque +1 ' && pass "secret list: one key" || fail "secret list: $out"
check_exit 2 "--from-literal without =" sl secret create generic default/x --from-literal=novalue

apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: client-egress-l7-http-matchheader-secret}
spec:
  endpointSelector: {matchLabels: {other: client}}
  egress:
  - toEndpoints: [{matchLabels: {kind: echo}}]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
      rules:
        http:
        - method: "POST"
          path: "/auth-header-required$"
          headerMatches:
          - name: Authorization
            mismatch: REPLACE
            secret:
              name: header-match
        - method: GET
          path: "/headers"
          headerMatches:
          - {name: X-Drop, value: ok, mismatch: DELETE}
          - {name: X-Add, value: "1", mismatch: ADD}
          - {name: X-Log, value: "1", mismatch: LOG}
        - method: GET
          path: "/need"
          headerMatches: [{name: X-Token, value: "42"}]
        - method: GET
          path: "/rotate-headers"
          headerMatches: [{name: X-S, mismatch: REPLACE, secret: {name: later}}]
        - method: GET
          path: "/two"
          headerMatches: [{name: X-S, mismatch: LOG, secret: {name: two-items}}]
YAML
wait_proxy_ready
E=http://$IP_echo:8080
body() { sl pod exec "$1" -- curl -s --connect-timeout 1 -m 3 "${@:3}" "$E$2"; }

echo "# the CLI's client-egress-l7-set-header"
[ "$(http default/client2 "$E/auth-header-required" -X POST)" = 200 ] &&
	pass "client2 POST /auth-header-required -> 200 (header injected)" || fail "client2 POST -> 200"
[ "$(http default/client "$E/auth-header-required" -X POST)" = 401 ] &&
	pass "client (no L7 policy) POST -> 401 from the server (no header)" || fail "client POST -> 401"
b=$(body default/client2 /auth-header-required -X POST -H 'Authorization: Basic d3Jvbmc=')
echo "$b" | grep -q '^Authorization: Bearer 123456' && pass "a wrong Authorization is replaced" || fail "replaced: $b"
[ "$(echo "$b" | grep -ci '^authorization:')" = 1 ] && pass "... not duplicated" || fail "one Authorization: $b"
[ "$(http default/client2 "$E/auth-header-required" -X GET)" = 403 ] && pass "GET (method not in the rule) -> 403" || fail "GET -> 403"

echo "# DELETE, ADD, LOG"
b=$(body default/client2 /headers -H 'X-Drop: bad' -H 'X-Log: 0' -H 'X-Keep: 1')
echo "$b" | grep -qi '^x-drop' && fail "a wrong X-Drop is deleted: $b" || pass "a wrong X-Drop is deleted"
echo "$b" | grep -q '^X-Add: 1' && pass "a missing X-Add is added" || fail "X-Add added: $b"
echo "$b" | grep -q '^X-Log: 0' && pass "LOG leaves X-Log as sent" || fail "X-Log kept: $b"
echo "$b" | grep -q '^X-Keep: 1' && pass "other fields pass" || fail "X-Keep: $b"
b=$(body default/client2 /headers -H 'X-Drop: ok' -H 'X-Add: 1')
echo "$b" | grep -q '^X-Drop: ok' && pass "the right X-Drop stays" || fail "X-Drop kept: $b"
[ "$(echo "$b" | grep -c '^X-Add')" = 1 ] && pass "a present X-Add is not added again" || fail "one X-Add: $b"

echo "# deny on mismatch"
[ "$(http default/client2 "$E/need")" = 403 ] && pass "no X-Token -> 403" || fail "no X-Token -> 403"
[ "$(http default/client2 "$E/need" -H 'X-Token: 43')" = 403 ] && pass "X-Token: 43 -> 403" || fail "X-Token 43 -> 403"
[ "$(http default/client2 "$E/need" -H 'X-Token: 42')" = 200 ] && pass "X-Token: 42 -> 200" || fail "X-Token 42 -> 200"

echo "# a secret missing, created, rotated, deleted"
[ "$(http default/client2 "$E/rotate-headers")" = 403 ] && pass "secret missing: the rule fails closed (403)" || fail "missing -> 403"
check "secret create later" sl secret create generic default/later --from-literal=v=one
ok=0
for i in $(seq 1 50); do
	b=$(body default/client2 /rotate-headers -H 'X-S: x')
	echo "$b" | grep -q '^X-S: one' && { ok=1; break; }
	sleep 0.1
done
[ $ok = 1 ] && pass "created: allowed, X-S replaced by the secret's value" || fail "created: $b"
check "secret overwrite" sl secret create generic default/later --from-literal=v=two --overwrite
ok=0
for i in $(seq 1 50); do
	b=$(body default/client2 /rotate-headers -H 'X-S: x')
	echo "$b" | grep -q '^X-S: two' && { ok=1; break; }
	sleep 0.1
done
[ $ok = 1 ] && pass "rotated: the next request carries the new value" || fail "rotated: $b"
[ "$(echo "$b" | grep -c '^X-S:')" = 1 ] && pass "... once" || fail "one X-S: $b"
check "secret delete" sl secret delete default/later
ok=0
for i in $(seq 1 50); do
	[ "$(http default/client2 "$E/rotate-headers")" = 403 ] && { ok=1; break; }
	sleep 0.1
done
[ $ok = 1 ] && pass "deleted: 403 again" || fail "deleted -> 403"
check "secret create two-items" sl secret create generic default/two-items --from-literal=a=1 --from-literal=b=2
sleep 0.5
[ "$(http default/client2 "$E/two" -H 'X-S: 1')" = 403 ] && pass "a secret of two items is no value (403)" || fail "two items -> 403"

echo "# the secret's value stays out of the agent's output"
sl observe --last 200 -o json >"$SL_WORK/flows.json" 2>/dev/null
grep -q '/auth-header-required' "$SL_WORK/flows.json" && pass "observe has the requests" || fail "observe has the requests"
grep -q 'auth-header-required' "$SL_AGENT_OUT" && pass "the access log has the requests" || fail "access log"
check_not "no 'Bearer 123456' in observe, the access log or the agent's log" \
	grep -q 'Bearer 123456' "$SL_WORK/flows.json" "$SL_AGENT_OUT" "$SL_AGENT_LOG"

echo "# bad input"
cat >"$SL_WORK/bad.yaml" <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: client-egress-l7-http-matchheader-secret}
spec:
  endpointSelector: {matchLabels: {other: client}}
  egress:
  - toEndpoints: [{matchLabels: {kind: echo}}]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
      rules:
        http:
        - headerMatches:
          - {name: X, mismatch: DROP}
          - {name: Transfer-Encoding, value: chunked, mismatch: REPLACE}
YAML
check_exit 1 "an unknown action and an edit of a framing field are refused" sl policy apply -f "$SL_WORK/bad.yaml"
echo "$ERR_OUT" | grep -q "bad.yaml:13: spec.egress\[0\].toPorts\[0\].rules.http\[0\].headerMatches\[0\].mismatch: unknown action \"DROP\"" &&
	pass "... naming file, line and field" || fail "message: $ERR_OUT"
echo "$ERR_OUT" | grep -q "bad.yaml:14: spec.egress\[0\].toPorts\[0\].rules.http\[0\].headerMatches\[1\]: REPLACE cannot change Transfer-Encoding" &&
	pass "... both of them" || fail "message: $ERR_OUT"
[ "$(http default/client2 "$E/need" -H 'X-Token: 42')" = 200 ] && pass "the policy in force stays" || fail "still in force"
t_finish
