#!/usr/bin/env bash
# TLS policies in Kubernetes mode: the Secrets they name come from the API.
# The agent runs as deploy's ServiceAccount with RBAC enforced: the
# ClusterRole grants no Secret; deploy/kubernetes/rbac-secrets.yaml (the
# chart's tls.secretsNamespaces) grants get/list/watch in one namespace.
#  - `kubectl create secret tls` + a CNP with terminatingTLS applied with
#    kubectl: HTTPS through the proxy from a client pod (curl --cacert, a CA
#    made now by certs/), 200 or 403 by rule, the proxy's certificate is the
#    Secret's;
#  - the Secret rotated (kubectl apply): a new connection presents the new
#    certificate (SHA-256 fingerprints);
#  - a version of the policy naming a Secret in a namespace without the Role:
#    load error (policy list, metric, Event), the previous version stays;
#    the Role granted later: the new version loads;
#  - a policy naming a Secret that does not exist yet: load error, then the
#    Secret is created and the policy loads;
#  - a Secret deleted while its policy is in force: the policy stays, its
#    new TLS connections are refused (fail closed), and it says so (policy
#    list, sluice status, metrics, a TLSSecretMissing Event); the Secret
#    created again: served again, status clear, a TLSSecretRestored Event;
#  - a forbidden Secret: listed again with an exponential backoff and a cap
#    (SLUICE_K8S_REFUSED_RETRY_MS=500,4000 here; 1 s to 30 s by default),
#    counted as forbidden and not as an API error; a new version of the
#    policy lists it again at once;
#  - the agent restarted while the Secrets' lists are held (fault relay):
#    /readyz and `sluice status` say it waits for the TLS Secrets, TLS
#    connections are refused meanwhile, served once the lists are in;
#  - deleting the policies stops their Secrets' watches;
#  - headerMatches (the Cilium CLI's set-header test): a Secret's value
#    replaces the request's Authorization, the Secret rotated reaches the
#    next request, deleted fails the rule closed (403, reported missing).
source "$(dirname "$0")/agents.sh"
ka_begin a
ROOT=$KA_ROOT
kc create namespace tls-secrets >/dev/null
kc create namespace no-role >/dev/null
sed 's/namespace: sluice-secrets/namespace: tls-secrets/' "$ROOT/deploy/kubernetes/rbac-secrets.yaml" | kc apply -f - >/dev/null ||
	fail "apply deploy/kubernetes/rbac-secrets.yaml for tls-secrets"
SA=system:serviceaccount:kube-system:sluice
check "RBAC: the agent may watch Secrets in tls-secrets (the Role)" \
	bash -c "[ \"\$(kc auth can-i watch secrets -n tls-secrets --as=$SA)\" = yes ]"
check "RBAC: and nowhere else (the ClusterRole has no Secret)" \
	bash -c "[ \"\$(kc auth can-i list secrets -n no-role --as=$SA)\" = no ]"

# the refused-Secret backoff, shortened: 0.5 s doubling to a 4 s cap
export SLUICE_K8S_REFUSED_RETRY_MS=500,4000
ka_start a || { fail "agent starts in Kubernetes mode and syncs"; t_finish; }

C=$KA_WORK/certs
mkdir -p "$C"
"$ROOT/certs/make-ca.sh" "$C/ca" --name "k8s tls test CA" >/dev/null || fail "make CA"
"$ROOT/certs/make-leaf.sh" "$C/ca" "$C/front" server.test >/dev/null || fail "proxy certificate"
"$ROOT/certs/make-leaf.sh" "$C/ca" "$C/front2" server.test >/dev/null || fail "rotated proxy certificate"
kpod a default/server app=server https=8443/TCP
kpod a default/client app=client
"$ROOT/certs/make-leaf.sh" "$C/ca" "$C/server" server.test "$IP_server" >/dev/null || fail "server certificate"
kserve a default/server "tls:8443:$C/server"

kc -n tls-secrets create secret tls front --cert "$C/front/tls.crt" --key "$C/front/tls.key" >/dev/null
kc -n tls-secrets create secret generic upstream-ca --from-file=ca.crt="$C/ca/ca.crt" >/dev/null
# cnp NAME SECRET-NS METHODS: terminatingTLS with SECRET-NS/front
cnp() {
	kapply <<EOF
{"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
 "metadata": {"name": "$1", "namespace": "default"},
 "spec": {"endpointSelector": {"matchLabels": {"app": "server"}},
  "ingress": [{"fromEndpoints": [{"matchLabels": {"app": "client"}}],
   "toPorts": [{"ports": [{"port": "8443", "protocol": "TCP"}],
     "terminatingTLS": {"secret": {"namespace": "$2", "name": "front"}},
     "originatingTLS": {"secret": {"namespace": "tls-secrets", "name": "upstream-ca"}},
     "rules": {"http": [$3]}}]}]}}
EOF
}
cnp server-https tls-secrets '{"method": "GET", "path": "/api/.*"}'
loaded() { ka a policy list | grep "$1" | grep -v -qiE 'error|not found|forbidden|fail'; }
listed() { ka a policy list | grep -q "$1"; }
export -f loaded listed
check "the TLS policy loads once its Secrets are read from the API" \
	kwait 30 bash -c "listed server-https && loaded server-https"

# https PATH [curl args]: the status code (000 when TLS failed)
https() {
	local path=$1
	shift
	kexec a default/client curl -s -o /dev/null -w '%{http_code}' -m 5 --cacert "$C/ca/ca.crt" \
		--resolve "server.test:8443:$IP_server" "$@" "https://server.test:8443$path"
}
# the SHA-256 fingerprint of the certificate a new connection is shown
presented() {
	kexec a default/client sh -c "timeout 5 openssl s_client -connect $IP_server:8443 -servername server.test </dev/null 2>/dev/null" |
		openssl x509 -noout -fingerprint -sha256 2>/dev/null
}
fp() { openssl x509 -noout -fingerprint -sha256 -in "$1"; }
ok=0
for _ in $(seq 1 50); do [ "$(https /api/x)" = 200 ] && { ok=1; break; }; sleep 0.2; done
expect_eq "client GET /api/x over TLS through the proxy -> 200" 1 "$ok"
expect_eq "client DELETE /api/x -> 403 (by rule)" 403 "$(https /api/x -X DELETE)"
check "the server saw the allowed request over TLS (re-originated)" \
	grep -q 'tls:8443 TLSv1.3 sni=server.test .*GET /api/x' "$KA_WORK/server-default-server.log"
expect_eq "the proxy presents the Secret's certificate" "$(fp "$C/front/tls.crt")" "$(presented)"
sec() { ka a status -o json | python3 -c '
import json, sys
for s in json.load(sys.stdin)["kubernetes"]["secrets"]:
    print("%s/%s present=%s" % (s["namespace"], s["name"], s["present"]))' | sort | tr '\n' ' '; }
export -f sec
store_has() { local out; out=$(ka a secret list -A) || return 2; grep -qE "$1" <<<"$out"; }
export -f store_has
check "the API's Secrets are in the agent's store (sluice secret list)" store_has '^tls-secrets +front +kubernetes.io/tls'
expect_eq "the agent watches exactly the Secrets the policy names" \
	"tls-secrets/front present=True tls-secrets/upstream-ca present=True " "$(sec)"

echo "# rotation"
kc -n tls-secrets create secret tls front --cert "$C/front2/tls.crt" --key "$C/front2/tls.key" \
	--dry-run=client -o yaml | kc apply -f - >/dev/null
presents() { [ "$(presented)" = "$1" ]; }
check "a new connection presents the rotated certificate" kwait 30 presents "$(fp "$C/front2/tls.crt")"
check_not "  not the old one" presents "$(fp "$C/front/tls.crt")"
expect_eq "GET /api/x after rotation -> 200" 200 "$(https /api/x)"

echo "# a Secret in a namespace without the Role"
kc -n no-role create secret tls front --cert "$C/front/tls.crt" --key "$C/front/tls.key" >/dev/null
fails0=$(curl -s "http://127.0.0.1:$((19000 + KA_IDX[a]))/metrics" | awk '$1 == "sluice_k8s_policy_load_failures_total" {print $2}')
cnp server-https no-role '{"method": "GET"}, {"method": "DELETE"}'
check "load error in sluice policy list (the Secret may not be read)" \
	kwait 30 bash -c "ka a policy list | grep server-https | grep -qi forbidden"
ka a policy list | grep server-https | sed 's/^/    /'
check "  counted (sluice_k8s_policy_load_failures_total $fails0 -> more, sluice_k8s_policies_failing 1)" bash -c \
	"curl -s http://127.0.0.1:$((19000 + KA_IDX[a]))/metrics | awk '(\$1 == \"sluice_k8s_policy_load_failures_total\" && \$2 > $fails0) {f++} (\$1 == \"sluice_k8s_policies_failing\" && \$2 == 1) {f++} END {exit f != 2}'"
check "  an Event on the object" kwait 20 bash -c \
	"kc get events -n default --field-selector involvedObject.name=server-https,reason=PolicyLoadFailed -o jsonpath='{.items[*].message}' | grep -qi forbidden"
expect_eq "the previous version stays: DELETE still 403" 403 "$(https /api/x -X DELETE)"
expect_eq "  GET still 200, with the tls-secrets certificate" 200 "$(https /api/x)"
expect_eq "  which is still the rotated one" "$(fp "$C/front2/tls.crt")" "$(presented)"
sed 's/namespace: sluice-secrets/namespace: no-role/' "$ROOT/deploy/kubernetes/rbac-secrets.yaml" | kc apply -f - >/dev/null ||
	fail "apply deploy/kubernetes/rbac-secrets.yaml for no-role"
check "the Role granted later: the new version loads (the agent lists again)" \
	kwait 60 bash -c "listed server-https && loaded server-https"
expect_eq "  DELETE now 200 (the new version allows it)" 200 "$(https /api/x -X DELETE)"
expect_eq "  with no-role/front's certificate" "$(fp "$C/front/tls.crt")" "$(presented)"

echo "# a Secret created after the policy"
kapply <<'EOF'
{"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
 "metadata": {"name": "late", "namespace": "default"},
 "spec": {"endpointSelector": {"matchLabels": {"app": "nobody"}},
  "ingress": [{"toPorts": [{"ports": [{"port": "9443", "protocol": "TCP"}],
     "terminatingTLS": {"secret": {"namespace": "tls-secrets", "name": "late"}}}]}]}}
EOF
check "a policy naming a missing Secret: load error (not found)" \
	kwait 30 bash -c "ka a policy list | grep late | grep -q 'not found'"
kc -n tls-secrets create secret tls late --cert "$C/front/tls.crt" --key "$C/front/tls.key" >/dev/null
check "the Secret created: the policy loads" kwait 30 bash -c "listed late && loaded late"

MPORT=$((19000 + KA_IDX[a]))
metric() { curl -s "http://127.0.0.1:$MPORT/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
export -f metric
export MPORT

echo "# a Secret deleted while its policy is in force"
# server-https's version in force terminates with no-role/front
kc -n no-role delete secret front >/dev/null
check "policy list: the policy in force names the missing Secret" \
	kwait 20 bash -c "ka a policy list | grep server-https | grep -q 'TLS Secret no-role/front is missing'"
ka a policy list | grep server-https | sed 's/^/    /'
check "  sluice status names the Secret and the policy it leaves without TLS" bash -c \
	"ka a status | grep -q 'TLS Secret no-role/front missing: .*CiliumNetworkPolicy default/server-https'"
check "  metrics: sluice_k8s_policies_secret_missing 1, sluice_k8s_secrets_missing 1" bash -c \
	'[ "$(metric sluice_k8s_policies_secret_missing)" = 1 ] && [ "$(metric sluice_k8s_secrets_missing)" = 1 ]'
check "  a TLSSecretMissing Warning Event on the policy" kwait 20 bash -c \
	"kc get events -n default --field-selector involvedObject.name=server-https,reason=TLSSecretMissing,type=Warning -o jsonpath='{.items[*].message}' | grep -q no-role/front"
check "  the policy stays in force (not removed, not failed)" bash -c "ka a policy list | grep -q '^CiliumNetworkPolicy  *default/server-https '"
expect_eq "  a new TLS connection fails closed (no certificate to present)" 000 "$(https /api/x)"
kc -n no-role create secret tls front --cert "$C/front2/tls.crt" --key "$C/front2/tls.key" >/dev/null
ok=0
for _ in $(seq 1 100); do [ "$(https /api/x)" = 200 ] && { ok=1; break; }; sleep 0.3; done
expect_eq "the Secret created again: GET /api/x -> 200 again" 1 "$ok"
expect_eq "  with the new Secret's certificate" "$(fp "$C/front2/tls.crt")" "$(presented)"
check "  policy list: ok again" bash -c "loaded server-https"
check "  metrics back to 0" bash -c \
	'[ "$(metric sluice_k8s_policies_secret_missing)" = 0 ] && [ "$(metric sluice_k8s_secrets_missing)" = 0 ]'
check "  a TLSSecretRestored Normal Event" kwait 20 bash -c \
	"[ -n \"\$(kc get events -n default --field-selector involvedObject.name=server-https,reason=TLSSecretRestored,type=Normal -o name)\" ]"

echo "# a forbidden Secret: backoff, accounted apart from API errors"
kc create namespace no-role2 >/dev/null
# fb VALUE: a policy (no pod selected) naming two Secrets of no-role2
fb() {
	kapply <<EOF
{"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
 "metadata": {"name": "rbac-gap", "namespace": "default", "labels": {"try": "t$1"}},
 "spec": {"endpointSelector": {"matchLabels": {"app": "nobody"}},
  "ingress": [{"toPorts": [{"ports": [{"port": "9443", "protocol": "TCP"}],
     "terminatingTLS": {"secret": {"namespace": "no-role2", "name": "front"}},
     "originatingTLS": {"secret": {"namespace": "no-role2", "name": "ca"}}}]}]}}
EOF
}
# refusals NAME: consecutive refused lists of no-role2/NAME (status), and
# the delay chosen after the last one
refusals() { ka a status -o json | python3 -c '
import json, sys
for s in json.load(sys.stdin)["kubernetes"]["secrets"]:
    if s["namespace"] == "no-role2" and s["name"] == sys.argv[1]:
        print(s["refusals"], s["retry_delay_ms"])' "$1"; }
errs0=$(metric sluice_k8s_api_errors_total)
forb0=$(metric 'sluice_k8s_api_refusals_total{reason="forbidden"}')
fb 0
check "the policy does not load: forbidden" kwait 30 bash -c "ka a policy list | grep rbac-gap | grep -qi forbidden"
read -r r0 _ <<<"$(refusals front)"
sleep 16
read -r r1 d1 <<<"$(refusals front)"
errs1=$(metric sluice_k8s_api_errors_total)
forb1=$(metric 'sluice_k8s_api_refusals_total{reason="forbidden"}')
# 0.25-0.5, 0.5-1, 1-2, 2-4 s, then 2-4 s apart: 6 to 10 tries in 16 s, no
# backoff at 0.5 s more than 30; a loaded machine only makes fewer, so the
# count bounds the rate from above only
check "  listed again with backoff: $((r1 - r0)) more refusals in 16 s (at most 20)" \
	test $((r1 - r0)) -le 20
# from below by the delay the agent chose, not by a count in a time: five
# refusals on it is at the cap (the old fixed 5-10 s never is)
five_more() { local r; read -r r _ <<<"$(refusals front)"; [ "${r:-0}" -ge $((r0 + 5)) ]; }
kwait 90 five_more
read -r r2 d2 <<<"$(refusals front)"
check "  the backoff reached its cap: after $((r2 - r0)) more refusals the delay ${d2:-?} ms is within 2000-4000" \
	test "$((r2 - r0))" -ge 5 -a "${d2:-0}" -ge 2000 -a "${d2:-0}" -le 4000
check "  counted as forbidden (sluice_k8s_api_refusals_total{reason=\"forbidden\"} $forb0 -> $forb1)" \
	test "$((forb1 - forb0))" -ge "$((r1 - r0))"
expect_eq "  and not as API errors (sluice_k8s_api_errors_total)" "$errs0" "$errs1"
check "  sluice status counts them apart" bash -c "ka a status | grep -q 'errors $errs1, forbidden [1-9]'"
# a new version of the policy: the agent lists its Secrets again at once
# (tried a few times: a list already on the wire at that instant is not
# hurried)
n=0
relisted() {
	n=$((n + 1))
	fb "$n"
	sleep 1
	grep -q 'Secret no-role2/front: a policy naming it changed, listing it again now' "$KA_WORK/a/agent.log"
}
check "a new version of the policy lists the refused Secret again at once" kwait 15 relisted
sed 's/namespace: sluice-secrets/namespace: no-role2/' "$ROOT/deploy/kubernetes/rbac-secrets.yaml" | kc apply -f - >/dev/null ||
	fail "apply deploy/kubernetes/rbac-secrets.yaml for no-role2"
check "the Role granted, the Secrets not made yet: the status says not found, no stale forbidden" \
	kwait 30 bash -c "ka a policy list | grep rbac-gap | grep -q 'not found' && ! ka a policy list | grep rbac-gap | grep -qi forbidden"
kc -n no-role2 create secret tls front --cert "$C/front/tls.crt" --key "$C/front/tls.key" >/dev/null
kc -n no-role2 create secret generic ca --from-file=ca.crt="$C/ca/ca.crt" >/dev/null
check "the Secrets made: the policy loads" \
	kwait 30 bash -c "listed rbac-gap && loaded rbac-gap"
read -r r2 d2 <<<"$(refusals front)"
expect_eq "  the refusals reset once listed" "0 0" "$r2 $d2"
kc delete cnp rbac-gap >/dev/null

echo "# after a restart, TLS waits for the Secrets (not on disk)"
ka_kill a
k8s_relay_start sec --hold /secrets || fail "relay"
HPORT=$((19100 + KA_IDX[a]))
SLUICE_K8S_TOKEN_MAX_AGE=3600 K8S_SERVER=$K8S_RELAY_URL KA_IN_CLUSTER=1 ka_start a --health "127.0.0.1:$HPORT" ||
	fail "agent restarts through the relay and syncs"
readyz() { curl -s --max-time 5 "http://127.0.0.1:$HPORT/readyz"; }
export -f readyz
export HPORT
# three: no-role/front, tls-secrets/upstream-ca (server-https), tls-secrets/late
check "/readyz says it waits for the TLS Secrets (their lists held)" kwait 20 bash -c \
	"readyz | grep -q 'kubernetes: waiting for 3 Secrets to be listed'"
readyz | sed 's/^/    /'
check "  sluice status too" bash -c "ka a status | grep -q 'waiting for 3 Secrets to be listed'"
check "  metric sluice_k8s_secrets_waiting 3" bash -c '[ "$(metric sluice_k8s_secrets_waiting)" = 3 ]'
expect_eq "  meanwhile a TLS connection fails closed" 000 "$(https /api/x)"
k8s_relay_set sec '{"hold": ""}'
check "the lists released: /readyz no longer waits for Secrets" kwait 30 bash -c "! readyz | grep -q 'Secrets\\? to be listed'"
ok=0
for _ in $(seq 1 100); do [ "$(https /api/x)" = 200 ] && { ok=1; break; }; sleep 0.3; done
expect_eq "  GET /api/x -> 200 again" 1 "$ok"

echo "# deleting the policies stops the watches"
kc delete cnp late >/dev/null
check "late deleted: its Secret's watch stops" kwait 20 bash -c "! sec | grep -q tls-secrets/late"
expect_eq "  the others stay (tls-secrets/front went with the version that named it)" \
	"no-role/front present=True tls-secrets/upstream-ca present=True " "$(sec)"
kc delete cnp server-https >/dev/null
nsec() { ka a status -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["kubernetes"]["secrets"]))'; }
nsec_is() { [ "$(nsec)" = "$1" ]; }
check "server-https deleted: no Secret is watched" kwait 20 nsec_is 0
check "  (metric sluice_k8s_secret_watches 0)" bash -c \
	"curl -s http://127.0.0.1:$((19000 + KA_IDX[a]))/metrics | grep -qx 'sluice_k8s_secret_watches 0'"
check "  and the API's Secrets left the agent's store" bash -c "store_has 'tls-secrets|no-role'; [ \$? = 1 ]"

echo "# headerMatches: a Secret's value injected (the Cilium CLI's client-egress-l7-set-header)"
kpod a default/echo app=echo http=8080/TCP
kserve a default/echo tcp:8080
kc -n tls-secrets create secret generic header-match --save-config --from-literal=value='Bearer 123456' >/dev/null
kapply <<'EOF'
{"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
 "metadata": {"name": "client-egress-l7-http-matchheader-secret", "namespace": "default"},
 "spec": {"endpointSelector": {"matchLabels": {"app": "client"}},
  "egress": [{"toEndpoints": [{"matchLabels": {"app": "echo"}}],
   "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}],
     "rules": {"http": [{"method": "POST", "path": "/auth-header-required$",
       "headerMatches": [{"name": "Authorization", "mismatch": "REPLACE",
         "secret": {"namespace": "tls-secrets", "name": "header-match"}}]}]}}]}]}}
EOF
check "the policy loads" kwait 30 bash -c "listed client-egress-l7-http-matchheader-secret && loaded client-egress-l7-http-matchheader-secret"
# auth: the body of POST /auth-header-required (the echo server lists the fields it got),
# from the pods' cgroup: an egress L7 connect is steered there
auth() { kexec_cg a default/client curl -s --connect-timeout 1 -m 2 -X POST -w ' %{http_code}' "$@" "http://$IP_echo:8080/auth-header-required"; }
has_auth() { auth -H 'Authorization: wrong' | grep -q "^Authorization: $1"; }
export -f auth has_auth
export IP_echo
check "client's POST carries the Secret's value (REPLACE) -> 200" kwait 30 has_auth 'Bearer 123456'
expect_eq "  status 200" 200 "$(auth | awk 'END {print $NF}')"
expect_eq "  the agent watches the Secret headerMatches names" "tls-secrets/header-match present=True " "$(sec)"
kc -n tls-secrets create secret generic header-match --from-literal=value='Bearer 654321' \
	--dry-run=client -o yaml | kc apply -f - >/dev/null
check "the Secret rotated: the next request carries the new value" kwait 30 has_auth 'Bearer 654321'
kc -n tls-secrets delete secret header-match >/dev/null
denied() { [ "$(auth | awk 'END {print $NF}')" = 403 ]; }
export -f denied
check "the Secret deleted: the rule fails closed (403)" kwait 30 denied
check "  the policy stays in force, reported missing (sluice_k8s_secrets_missing 1)" \
	kwait 20 bash -c '[ "$(metric sluice_k8s_secrets_missing)" = 1 ]'
check "  a Warning Event on the policy says so" kwait 20 bash -c \
	"kc get events -n default --field-selector involvedObject.name=client-egress-l7-http-matchheader-secret -o jsonpath='{.items[*].message}' | grep -q 'headerMatches compare its value'"
check_not "the value is in no agent output (logs, access log)" grep -q 'Bearer 654321' "$KA_WORK/a/agent.log" "$KA_WORK/a/agent.stdout"
t_finish
