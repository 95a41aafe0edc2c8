#!/usr/bin/env bash
# test_deploy_health.sh - the agent's health endpoint, as the DaemonSet's
# probes use it, with its address given through --config-dir (the ConfigMap
# as the DaemonSet mounts it: keys are symlinks to ..data/KEY):
#   - an agent whose L7 proxy never comes up: /healthz 200, /readyz 503
#     naming the proxy;
#   - the same agent restarted with the real proxy and --cni-conf-dir on a
#     directory with no primary network: /readyz 503 naming cni (readiness
#     waits for the conflist entry); once a primary conflist appears the
#     agent chains sluice-cni, and /readyz turns 200 only after that;
#   - an unknown path or another method is a 404;
#   - --log-format json (also from the config dir): agent log lines are JSON.
source "$(dirname "$0")/lib.sh"

HPORT=
cfg_dir() { # DIR KEY=VALUE...: a ConfigMap-shaped directory
	local d=$1 kv
	shift
	mkdir -p "$d/..2026_01_01_00_00_00.000000000"
	ln -sfn "..2026_01_01_00_00_00.000000000" "$d/..data"
	for kv in "$@"; do
		printf '%s\n' "${kv#*=}" >"$d/..data/${kv%%=*}"
		ln -sfn "..data/${kv%%=*}" "$d/${kv%%=*}"
	done
}
get() { curl -s -o "$SL_WORK/body" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$HPORT$1"; }

# a "proxy" that starts and never connects to the agent
mkdir -p "/tmp/sluice-it-health-$$"
FAKE=/tmp/sluice-it-health-$$/fake-proxy
printf '#!/bin/sh\nexec sleep 120\n' >"$FAKE"
chmod +x "$FAKE"

# slot first (the health port comes from it), then the agent
SL_CFG=/tmp/sluice-it-health-$$/config
t_begin_cfg() {
	local short=${T_NAME#test_} idx
	idx=$(t_claim_slot) || { echo "FAIL: no free test slot"; exit 1; }
	T_SLOT_LOCK=/tmp/sluice-it-slot-$idx
	echo $$ >"$T_SLOT_LOCK/pid"
	SL_NSPFX="it${idx}-"
	SL_METRICS_PORT=$((19000 + idx))
	HPORT=$((20000 + idx))
	SL_WORK=/tmp/sluice-it-$short-$$
	sl_instance_init "it-$short-$$" "10.244.$idx.0/24"
	trap 't_end_trap; rm -rf /tmp/sluice-it-health-$$' EXIT
	trap 'exit 130' INT TERM
}
t_begin_cfg
cfg_dir "$SL_CFG" "health=127.0.0.1:$HPORT" "proxy-restart-delay=60000" "log-format=json"
sl_agent_start --config-dir "$SL_CFG" --proxy-bin "$FAKE" || { echo "FAIL: agent did not start"; exit 1; }

code=$(get /healthz)
[ "$code" = 200 ] && grep -q '^ok' "$SL_WORK/body" && pass "/healthz 200 ok (address from --config-dir)" ||
	fail "/healthz: $code $(cat "$SL_WORK/body")"
code=$(get /readyz)
if [ "$code" = 503 ] && grep -q 'proxy' "$SL_WORK/body"; then
	pass "/readyz 503 while the proxy is not ready: $(cat "$SL_WORK/body")"
else
	fail "/readyz with no proxy: $code $(cat "$SL_WORK/body")"
fi
code=$(get /nope)
[ "$code" = 404 ] && pass "unknown path: 404" || fail "unknown path: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST "http://127.0.0.1:$HPORT/readyz")
[ "$code" = 404 ] && pass "POST /readyz: 404" || fail "POST /readyz: $code"

# the same agent (adopting its pins) with the real proxy and a CNI config
# directory that has no primary network yet: the proxy gets ready, but the
# agent cannot chain sluice-cni, so it is not ready (issue #13: Ready means
# the chain is installed, never before)
CNI_DIR=/tmp/sluice-it-health-$$/net.d
mkdir -p "$CNI_DIR"
sl_agent_kill TERM
sl_agent_start --config-dir "$SL_CFG" --cni-conf-dir "$CNI_DIR" || { echo "FAIL: agent did not restart"; exit 1; }
for _ in $(seq 1 100); do
	[ "$(sl status -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["proxy"]["state"])' 2>/dev/null)" = ready ] && break
	sleep 0.1
done
sleep 2.5 # more than one retry of the conflist writer (2 s)
code=$(get /readyz)
if [ "$code" = 503 ] && grep -q 'cni: ' "$SL_WORK/body" && ! grep -q 'proxy' "$SL_WORK/body"; then
	pass "/readyz 503 while sluice-cni cannot be chained (proxy ready): $(cat "$SL_WORK/body")"
else
	fail "/readyz with no conflist written: $code $(cat "$SL_WORK/body")"
fi
# the node's primary network appears: the agent chains onto it, then is ready
cat >"$CNI_DIR/10-bridge.conflist" <<'JSON'
{"cniVersion": "1.0.0", "name": "cbr0", "plugins": [{"type": "bridge", "bridge": "cni0", "ipam": {"type": "host-local", "subnet": "10.99.0.0/24"}}]}
JSON
ready=
chained_at_ready=
for _ in $(seq 1 100); do
	code=$(get /readyz)
	if [ "$code" = 200 ]; then
		ready=1
		# the conflist as it was when Ready was first answered
		chained_at_ready=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["plugins"][-1]["type"])' \
			"$CNI_DIR/10-bridge.conflist" 2>/dev/null)
		break
	fi
	sleep 0.05
done
if [ -n "$ready" ] && grep -q '^ready' "$SL_WORK/body"; then
	pass "/readyz 200 once the datapath is loaded, the proxy ready and sluice-cni chained"
else
	fail "/readyz with the real proxy and a primary network: $code $(cat "$SL_WORK/body")"
fi
[ "$chained_at_ready" = sluice-cni ] && pass "at the first 200 of /readyz the conflist already ended with sluice-cni" ||
	fail "/readyz answered 200 before the conflist was chained (last plugin: ${chained_at_ready:-none})"
code=$(get /healthz)
[ "$code" = 200 ] && pass "/healthz 200" || fail "/healthz after restart: $code"

# --log-format json (from the config dir): every agent log line is a JSON object
if python3 - "$SL_AGENT_LOG" <<'EOF'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
objs = [json.loads(l) for l in lines]
assert objs and all({"time", "level", "msg"} <= set(o) for o in objs), objs
assert any("ready on" in o["msg"] for o in objs)
EOF
then
	pass "--log-format json: $(wc -l <"$SL_AGENT_LOG") agent log lines, each one JSON object"
else
	fail "--log-format json: $(head -3 "$SL_AGENT_LOG")"
fi
t_finish
