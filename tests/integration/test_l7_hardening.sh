#!/usr/bin/env bash
# The proxy's hardening, one raw request per rule (sent over a plain socket,
# not curl): each gets the expected status, and the backend never receives
# a request that policy denies or that the proxy could not frame exactly.
source "$(dirname "$0")/lib.sh"
t_begin

pod default/client app=client
pod default/backend app=backend
serve default/backend tcp:8080
apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: l7}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
      rules:
        http:
        - {method: GET, path: "/api/users/.*"}
        - {method: POST, path: "/api/upload(\\?.*)?"}
        - {method: GET, path: "/api/status"}
YAML
wait_proxy_ready
LOG=$SL_WORK/server-default_backend.log

# case NAME EXPECTED MARKER BYTES...: sends the bytes, expects "EXPECTED"
# (status codes then open/closed); MARKER must never reach the backend.
case_() {
	local name=$1 want=$2 marker=$3 bytes=$4 got
	got=$(printf '%b' "$bytes" | sl pod exec default/client -- python3 "$TOOLS/rawhttp.py" "$IP_backend" 8080 1.0)
	if [ "$got" != "$want" ]; then
		fail "$name: want '$want', got '$got'"
	elif [ -n "$marker" ] && grep -q -- "$marker" "$LOG" 2>/dev/null; then
		fail "$name: the backend received $marker"
	else
		pass "$name -> $got"
	fi
}
H='Host: b\r\n'
case_ "allowed request reaches the backend" "200 closed" "" "GET /api/users/ok0 HTTP/1.1\r\n${H}Connection: close\r\n\r\n"
check "backend saw /api/users/ok0" grep -q /api/users/ok0 "$LOG"

echo "# framing"
case_ "Content-Length with Transfer-Encoding" "400 closed" h1 "GET /api/users/h1 HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
case_ "Transfer-Encoding: gzip, chunked" "400 closed" h2 "POST /api/upload?h2 HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"
case_ "Transfer-Encoding: identity" "400 closed" h3 "POST /api/upload?h3 HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\n\r\n"
case_ "two Transfer-Encoding: chunked headers" "400 closed" h4 "POST /api/upload?h4 HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
case_ "duplicate Content-Length" "400 closed" h5 "POST /api/upload?h5 HTTP/1.1\r\n${H}Content-Length: 1\r\nContent-Length: 1\r\n\r\nx"
case_ "Content-Length: +1" "400 closed" h6 "POST /api/upload?h6 HTTP/1.1\r\n${H}Content-Length: +1\r\n\r\nx"
case_ "Content-Length: 1,1" "400 closed" h7 "POST /api/upload?h7 HTTP/1.1\r\n${H}Content-Length: 1,1\r\n\r\nx"
case_ "Content-Length overflow" "400 closed" h8 "POST /api/upload?h8 HTTP/1.1\r\n${H}Content-Length: 99999999999999999999999\r\n\r\nx"
case_ "bare LF line ends" "400 closed" h9 "GET /api/users/h9 HTTP/1.1\nHost: b\n\n"
case_ "bare CR in a header" "400 closed" h10 "GET /api/users/h10 HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n"
case_ "obs-fold" "400 closed" h11 "GET /api/users/h11 HTTP/1.1\r\n${H}X-A: a\r\n b\r\n\r\n"
case_ "whitespace before the colon" "400 closed" h12 "GET /api/users/h12 HTTP/1.1\r\nHost : b\r\n\r\n"
case_ "control byte in a value" "400 closed" h13 "GET /api/users/h13 HTTP/1.1\r\n${H}X-A: a\001b\r\n\r\n"
case_ "invalid chunk size" "400 closed" h14 "POST /api/upload?h14 HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\nx\r\n0\r\n\r\n"
case_ "smuggled request in a body stays a body" "200 closed" "GET /admin " "POST /api/upload HTTP/1.1\r\n${H}Content-Length: 32\r\nConnection: close\r\n\r\nGET /admin HTTP/1.1\r\nHost: b\r\n\r\n"

echo "# host and target"
case_ "no Host (HTTP/1.1)" "400 closed" h20 "GET /api/users/h20 HTTP/1.1\r\n\r\n"
case_ "two Host headers" "400 closed" h21 "GET /api/users/h21 HTTP/1.1\r\n${H}${H}\r\n"
case_ "invalid Host" "400 closed" h22 "GET /api/users/h22 HTTP/1.1\r\nHost: a b\r\n\r\n"
case_ "absolute-form target" "400 closed" h23 "GET http://b/api/users/h23 HTTP/1.1\r\n${H}\r\n"
case_ "fragment in the target" "400 closed" h24 "GET /api/users/h24#x HTTP/1.1\r\n${H}\r\n"
case_ "junk after the version" "400 closed" h25 "GET /api/users/h25 HTTP/1.1 x\r\n${H}\r\n"
case_ "HTTP/1.0 without Host is fine" "200 closed" "" "GET /api/users/h26 HTTP/1.0\r\n\r\n"

echo "# paths are canonicalised before matching"
case_ "dot segments resolve to a denied path" "403 closed" "GET /admin " "GET /api/users/../../admin HTTP/1.1\r\n${H}Connection: close\r\n\r\n"
case_ "encoded dot segments too" "403 closed" "GET /admin " "GET /api/users/%2e%2e/%2E%2E/admin HTTP/1.1\r\n${H}Connection: close\r\n\r\n"
case_ "merged slashes" "200 closed" "" "GET /api//users/h30 HTTP/1.1\r\n${H}Connection: close\r\n\r\n"
check "backend got the canonical /api/users/h30" grep -q "GET /api/users/h30 " "$LOG"
case_ "unreserved escapes decoded" "200 closed" "" "GET /%61pi/users/h31 HTTP/1.1\r\n${H}Connection: close\r\n\r\n"
check "backend got the canonical /api/users/h31" grep -q "GET /api/users/h31 " "$LOG"
case_ "encoded slash" "400 closed" h32 "GET /api/users%2Fh32 HTTP/1.1\r\n${H}\r\n"
case_ "encoded backslash" "400 closed" h33 "GET /api/users/%5Ch33 HTTP/1.1\r\n${H}\r\n"
case_ "encoded NUL" "400 closed" h34 "GET /api/users/h34%00 HTTP/1.1\r\n${H}\r\n"
case_ "double encoding %25" "400 closed" h35 "GET /api/users/%252e%252e/h35 HTTP/1.1\r\n${H}\r\n"
case_ "invalid UTF-8" "400 closed" h36 "GET /api/users/h36\300\257 HTTP/1.1\r\n${H}\r\n"
# the query is part of what rules match, as in Envoy's ":path" (Cilium S3)
case_ "a query matched by the rule's .*" "200 closed" "" "GET /api/users/h37?x=/admin HTTP/1.1\r\n${H}Connection: close\r\n\r\n"
case_ "a query beyond the rule's path: /api/status?h38 under /api/status" "403 closed" h38 "GET /api/status?h38 HTTP/1.1\r\n${H}Connection: close\r\n\r\n"
case_ "the rule's path alone: /api/status" "200 closed" "" "GET /api/status HTTP/1.1\r\n${H}Connection: close\r\n\r\n"

echo "# limits"
big=$(head -c 62000 /dev/zero | tr '\0' a)
case_ "header section over 60 KiB" "431 closed" h40 "GET /api/users/h40 HTTP/1.1\r\n${H}X-Big: ${big}\r\n\r\n"
many=$(for i in $(seq 1 101); do printf 'X-H%d: v\\r\\n' "$i"; done)
case_ "more than 100 header fields" "431 closed" h41 "GET /api/users/h41 HTTP/1.1\r\n${H}${many}\r\n"

echo "# methods, upgrades, CONNECT"
case_ "denied method" "403 closed" h50 "DELETE /api/users/h50 HTTP/1.1\r\n${H}Connection: close\r\n\r\n"
case_ "denied Upgrade" "403 closed" h51 "GET /ws/h51 HTTP/1.1\r\n${H}Connection: Upgrade, close\r\nUpgrade: websocket\r\n\r\n"
case_ "denied CONNECT" "403 closed" h52 "CONNECT h52:443 HTTP/1.1\r\nHost: h52:443\r\nConnection: close\r\n\r\n"
case_ "denied request on keep-alive, next one allowed" "403 200 closed" "GET /admin " "GET /admin HTTP/1.1\r\n${H}\r\nGET /api/users/h53 HTTP/1.1\r\n${H}Connection: close\r\n\r\n"
case_ "XFF spoofing does not change the identity" "403 closed" "GET /admin " "GET /admin HTTP/1.1\r\n${H}X-Forwarded-For: 10.0.0.1\r\nConnection: close\r\n\r\n"
t_finish
