#!/usr/bin/env bash
# sluice-cni run exactly as a runtime runs a chain: Debian's bridge +
# host-local, then sluice-cni with prevResult, the CNI_* environment and
# stdin of the spec (tests/cni/cnirun.py plays libcni). Everything happens
# in a throwaway "node" netns (bridge with isGateway turns on forwarding):
# the agent runs there too, writes its conflist entry once ready, and
# enforces policy on the pods the chain made. Also: CHECK, DEL twice, GC,
# error codes, ADD while the agent is down (11, then success on retry),
# DEL while it is down (queued, drained on start), STATUS 50 then 0, an
# agent restart adopting the pods, the conflist entry removed on exit.
source "$(dirname "$0")/../integration/lib.sh"
CNI_BIN_DIR=${CNI_BIN_DIR:-/usr/lib/cni}
[ -x "$CNI_BIN_DIR/bridge" ] || { echo "SKIP: containernetworking-plugins not installed (scripts/install-deps.sh)"; exit 0; }

idx=$(t_claim_slot) || { echo "FAIL: no free test slot"; exit 1; }
T_SLOT_LOCK=/tmp/sluice-it-slot-$idx
echo $$ >"$T_SLOT_LOCK/pid"
SL_NSPFX="cn${idx}-"
SL_METRICS_PORT=$((19000 + idx))
SL_WORK=/tmp/sluice-cni-$$
sl_instance_init "cni-$$" "10.244.$idx.0/24"
NODE=${SL_NSPFX}node
NET=sluice-cni-test-$$
SUBNET=10.99.$idx.0/24
BRIDGE=slcbr$idx
CONF=$SL_WORK/net.d
PLUGINS=$SL_WORK/bin
export CNI_PATH=$PLUGINS
export CNIRUN_CACHE=$SL_WORK/results
export CNIRUN_TIMES=$SL_WORK/times
QUEUE=$SL_WORK/cni-delete-queue
CNIRUN=$SL_ROOT/tests/cni/cnirun.py
innode() { nsenter --net=/run/netns/"$NODE" "$@"; }
# Debian's python3, not a version-manager shim that costs a second under load
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

cleanup() {
	local rc=$?
	if [ "$FAILED" -gt 0 ] || [ $rc -ne 0 ]; then
		echo "--- agent log (last 40 lines) ---"
		tail -40 "$SL_AGENT_LOG" 2>/dev/null
	fi
	# the agent's own cleanup runs where the agent ran (SL_AGENT_PREFIX);
	# then every netns of the prefix goes: pods, handles, the node
	[ -e /run/netns/"$NODE" ] || SL_AGENT_PREFIX=true
	sl_cleanup
	rm -rf "$SL_WORK" "$T_SLOT_LOCK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# the node: its own netns, loopback up; nothing routes out of it
ip netns add "$NODE"
ip -n "$NODE" link set lo up
mkdir -p "$CONF" "$PLUGINS" "$CNIRUN_CACHE"
# a runtime's CNI_PATH: the Debian plugins and ours
ln -s "$CNI_BIN_DIR/bridge" "$CNI_BIN_DIR/host-local" "$PLUGINS/"
ln -s "$SL_BUILD/cni/sluice-cni" "$PLUGINS/sluice-cni"

# the node's primary network, a single-plugin .conf as many installers
# write it; a decoy sorts after it
cat >"$CONF/10-$NET.conf" <<EOF
{"cniVersion": "1.0.0", "name": "$NET", "type": "bridge", "bridge": "$BRIDGE",
 "isGateway": true, "ipMasq": false,
 "ipam": {"type": "host-local", "ranges": [[{"subnet": "$SUBNET"}]], "dataDir": "$SL_WORK/ipam"}}
EOF
echo '{"cniVersion": "1.0.0", "name": "decoy", "plugins": [{"type": "loopback"}]}' >"$CONF/20-decoy.conflist"
cp "$CONF/20-decoy.conflist" "$SL_WORK/decoy.orig"

SL_AGENT_PREFIX="nsenter --net=/run/netns/$NODE"
# the runtime's cgroups, as kubelet's kubepods: egress L7 steering attaches there
KUBEPODS=$SL_CG/kubepods
mkdir -p "$KUBEPODS"
agent_start() { sl_agent_start --cni-conf-dir "$CONF" --cni-remove-on-exit --pods-cgroup "$KUBEPODS"; }

LIST=$CONF/10-$NET.conflist
wait_conflist() {
	local i
	for i in $(seq 1 100); do
		[ -f "$LIST" ] && "$PY" -c 'import json,sys; p=json.load(open(sys.argv[1]))["plugins"]; sys.exit(0 if p[-1]["type"]=="sluice-cni" else 1)' "$LIST" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# runtime ops: a pod is a netns the runtime made, then the chain
pod_ns() { echo "${SL_NSPFX}p$1"; }
cni() { # cni ADD|CHECK|DEL NAME: runs the chain for pod default/NAME
	local cmd=$1 name=$2
	innode "$PY" "$CNIRUN" "$cmd" "$LIST" "cid${idx}x$name" "/run/netns/$(pod_ns "$name")" eth0 \
		"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$name;K8S_POD_INFRA_CONTAINER_ID=cid${idx}x$name"
}
new_pod() { ip netns add "$(pod_ns "$1")" && ip -n "$(pod_ns "$1")" link set lo up; }
pod_ip() { ip -n "$(pod_ns "$1")" -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1; }
inpod() { local n=$1; shift; ip netns exec "$(pod_ns "$n")" "$@"; }
# runs sluice-cni alone with a config (GC, STATUS, error codes)
plugin() { # plugin COMMAND CONFIG_JSON [VAR=VALUE...]
	local cmd=$1 conf=$2
	shift 2
	echo "$conf" | innode env CNI_COMMAND="$cmd" CNI_PATH="$PLUGINS" "$@" "$PLUGINS/sluice-cni"
}
# pod_field NAME FIELD: a field of pod default/NAME from `sluice pod list -o json`
pod_field() {
	"$SL_BUILD/cli/sluice" --socket "$SL_SOCK" pod list -o json 2>/dev/null | "$PY" -c '
import json,sys
for p in json.load(sys.stdin)["items"]:
    if p["namespace"] == "default" and p["name"] == sys.argv[1]:
        print(p.get(sys.argv[2], "")); sys.exit(0)
sys.exit(1)' "$1" "$2"
}
has_pod() { pod_field "$1" name >/dev/null; }
code_of() { "$PY" -c 'import json,sys; print(json.loads(sys.stdin.read())["code"])' 2>/dev/null; }
SOCKCONF="\"socket\": \"$SL_SOCK\""

echo "== agent in the node netns, conflist entry once ready"
agent_start || { fail "agent did not start in the node netns"; exit 1; }
check "the conflist chains sluice-cni last (the .conf became a .conflist)" wait_conflist
check "the original .conf is kept aside, not loaded by runtimes" test -f "$CONF/10-$NET.conf.sluice_bak" -a ! -f "$CONF/10-$NET.conf"
check "the socket is in the plugin's entry" grep -q "$SL_SOCK" "$LIST"
check "the decoy conflist is untouched" cmp -s "$CONF/20-decoy.conflist" "$SL_WORK/decoy.orig"
check "no temp files left in the conf dir" test -z "$(ls -A "$CONF" | grep -v -e '\.conflist$' -e '\.sluice_bak$')"

echo "== ADD through the chain"
for p in server client1 client2; do
	new_pod "$p"
	t0=$(date +%s%N)
	if out=$(cni ADD "$p"); then
		pass "ADD $p: bridge + host-local + sluice-cni ($(( ($(date +%s%N) - t0) / 1000000 )) ms for the chain)"
	else
		fail "ADD $p: $out"
	fi
done
echo "$out" >"$SL_WORK/add-result.json"
check "ADD prints prevResult in the config's version (1.0.0, no ips[].version)" "$PY" -c '
import json,sys; r=json.load(open(sys.argv[1])); assert r["cniVersion"]=="1.0.0"
assert any(i.get("sandbox") for i in r["interfaces"]) and all("version" not in x for x in r["ips"])' "$SL_WORK/add-result.json"
IP_server=$(pod_ip server)
IP_client1=$(pod_ip client1)
IP_client2=$(pod_ip client2)
check "pods got addresses from host-local in $SUBNET" test -n "$IP_server" -a -n "$IP_client1" -a -n "$IP_client2"
sl pod list >"$SL_WORK/pods.txt" 2>&1
check "sluice pod list shows the CNI pods with their container" grep -q "default/server .*cid${idx}xserv" "$SL_WORK/pods.txt"
check "pod list -o json has the container id" test "$(pod_field server container_id)" = "cid${idx}xserver"
HOSTIF=$(pod_field server interface)
check "the agent attached to the veth bridge made (a port of $BRIDGE)" sh -c "ip -n '$NODE' -o link show '$HOSTIF' | grep -q 'master $BRIDGE'"
check "tc programs on that veth" sh -c "ip netns exec '$NODE' tc filter show dev '$HOSTIF' ingress | grep -q bpf"
check "the agent sees the bridge address as a host address" sh -c "ip -n '$NODE' -4 -o addr show dev '$BRIDGE' | grep -q inet"
check "the pod CIDR blackhole route is in the node netns" sh -c "ip -n '$NODE' route | grep -q 'blackhole 10.244.$idx.0/24'"
check "CHECK passes" cni CHECK server

cni_status() { sl status -o json 2>/dev/null | "$PY" -c 'import json,sys; c=json.load(sys.stdin)["cni"]; print(c["ready"], c["attachments"], c["chained"])'; }
check "sluice status: CNI ready, 3 attachments, conflist chained" test "$(cni_status)" = "True 3 True"
check_not "sluice pod delete refuses a pod of the runtime" sl pod delete default/server
check "... which stays attached" has_pod server

echo "== concurrent ADDs and DELs of different containers"
pids=()
for p in c1 c2 c3 c4; do
	new_pod "$p"
	cni ADD "$p" >"$SL_WORK/add-$p.out" 2>&1 &
	pids+=($!)
done
ok=0
for pid in "${pids[@]}"; do wait "$pid" && ok=$((ok + 1)); done
check "4 concurrent ADDs succeed" test "$ok" = 4
ips=$(for p in c1 c2 c3 c4; do pod_field "$p" ip; done | sort -u | wc -l)
check "... each attached with its own address" test "$ips" = 4
pids=()
for p in c1 c2 c3 c4; do
	cni DEL "$p" >/dev/null 2>&1 &
	pids+=($!)
done
ok=0
for pid in "${pids[@]}"; do wait "$pid" && ok=$((ok + 1)); done
check "4 concurrent DELs succeed" test "$ok" = 4
check_not "... and detach them" has_pod c2

echo "== policy on pods made by the chain"
sl pod label default/server app=server >/dev/null
sl pod label default/client1 app=client >/dev/null
sl pod label default/client2 app=other >/dev/null
rm -f "$SL_WORK/server.log.ready"
ip netns exec "$(pod_ns server)" "$PY" "$TOOLS/podserver.py" server "$SL_WORK/server.log" tcp:8080 tcp:9000 tcp:9090 &
SL_PIDS+=($!)
for i in $(seq 1 100); do [ -e "$SL_WORK/server.log.ready" ] && break; sleep 0.05; done
check "before policy client2 connects" inpod client2 "$PY" "$TOOLS/probe.py" tcp "$IP_server" 9000 1.0
apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: cni-server}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "9000", protocol: TCP}, {port: "9090", protocol: TCP}]
    - ports: [{port: "8080", protocol: TCP}]
      rules:
        http: [{method: GET, path: "/public/.*"}]
YAML
check "client1 (allowed) connects to the server" inpod client1 "$PY" "$TOOLS/probe.py" tcp "$IP_server" 9000 1.0
inpod client2 "$PY" "$TOOLS/probe.py" tcp "$IP_server" 9000 0.7
check "client2 (not allowed) is dropped in the kernel" test $? -eq 2
code=$(inpod client1 curl -s -o /dev/null -w '%{http_code}' --connect-timeout 1 -m 3 "http://$IP_server:8080/public/x")
check "L7: GET /public/x is allowed (200, through the proxy)" test "$code" = 200
code=$(sl pod exec default/client1 -- curl -s -o /dev/null -w '%{http_code}' --connect-timeout 1 -m 3 "http://$IP_server:8080/admin")
check "L7: GET /admin gets 403 (sk_lookup steering works in the node netns; via sluice pod exec)" test "$code" = 403
# egress L7 from a CNI pod: its processes must be where connect4 runs (the
# runtime's pod cgroup, under --pods-cgroup)
apply_yaml <<'YAML' >/dev/null
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: cni-client-egress}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toEndpoints: [{matchLabels: {app: server}}]
    toPorts:
    - ports: [{port: "9000", protocol: TCP}, {port: "8080", protocol: TCP}]
    - ports: [{port: "9090", protocol: TCP}]
      rules:
        http: [{method: GET, path: "/ok/.*"}]
YAML
mkdir -p "$KUBEPODS/client1"
incg() { # incg POD CMD...: like the runtime, the pod's processes in its cgroup
	local n=$1; shift
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$KUBEPODS/$n" ip netns exec "$(pod_ns "$n")" "$@"
}
code=$(incg client1 curl -s -o /dev/null -w '%{http_code}' --connect-timeout 1 -m 3 "http://$IP_server:9090/ok/1")
check "egress L7 from a CNI pod: GET /ok/1 allowed (200)" test "$code" = 200
code=$(incg client1 curl -s -o /dev/null -w '%{http_code}' --connect-timeout 1 -m 3 "http://$IP_server:9090/secret")
check "egress L7 from a CNI pod: GET /secret gets 403 from the proxy" test "$code" = 403
code=$(inpod client1 curl -s -o /dev/null -w '%{http_code}' --connect-timeout 1 -m 3 "http://$IP_server:9090/ok/1")
check "egress L7 from outside the pods cgroup fails closed (never unfiltered)" test "$code" != 200
check "egress policy keeps client1's L4 port" inpod client1 "$PY" "$TOOLS/probe.py" tcp "$IP_server" 9000 1.0
check "the drop is visible in sluice observe" sh -c "'$SL_BUILD/cli/sluice' --socket '$SL_SOCK' observe --last 200 --verdict DROPPED 2>/dev/null | grep -q client2"

echo "== agent restart adopts the pods"
sl_agent_kill TERM
check "stopping the agent took the conflist entry out (the .conf is back)" test -f "$CONF/10-$NET.conf" -a ! -f "$LIST"
inpod client2 "$PY" "$TOOLS/probe.py" tcp "$IP_server" 9000 0.7
check "while the agent is down, enforcement holds" test $? -eq 2
out=$(plugin STATUS "{\"cniVersion\": \"1.1.0\", \"name\": \"$NET\", \"type\": \"sluice-cni\", $SOCKCONF}")
check "STATUS with the agent down: code 50" test "$(echo "$out" | code_of)" = 50
# ADD while down: a runtime runs the chain from its conflist, still in place
# on a node where the agent was killed; here: the one the agent wrote
cat >"$SL_WORK/chain.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "$NET", "plugins": [
 {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false,
  "ipam": {"type": "host-local", "ranges": [[{"subnet": "$SUBNET"}]], "dataDir": "$SL_WORK/ipam"}},
 {"type": "sluice-cni", $SOCKCONF}]}
EOF
LIST_SAVED=$LIST
LIST=$SL_WORK/chain.conflist
new_pod late
out=$(cni ADD late)
check "ADD with the agent down fails with code 11 (try again later)" test "$(echo "$out" | code_of)" = 11
cni DEL late >/dev/null # the runtime tears the failed sandbox down
out=$(cni DEL client2)
check "DEL with the agent down succeeds" test $? -eq 0
check "... and is queued for the agent" test -f "$QUEUE/cid${idx}xclient2.eth0.delete"
LONGID=$(printf 'a%.0s' $(seq 1 250))
plugin DEL "{\"cniVersion\": \"1.0.0\", \"name\": \"$NET\", \"type\": \"sluice-cni\", $SOCKCONF}" \
	CNI_CONTAINERID="$LONGID" CNI_IFNAME=eth0 >/dev/null
check "DEL of a 250-character container id is queued too (file name within NAME_MAX)" test "$(ls "$QUEUE" | grep -c '^aaaa.*\.delete$')" = 1
agent_start || fail "agent restart"
check "the restarted agent drained the queue" test -z "$(ls "$QUEUE" | grep '\.delete$')"
check_not "client2's deletion was applied on start" has_pod client2
check "server adopted after restart" has_pod server
check "the conflist entry is back once ready" wait_conflist
out=$(plugin STATUS "{\"cniVersion\": \"1.1.0\", \"name\": \"$NET\", \"type\": \"sluice-cni\", $SOCKCONF}")
check "STATUS with the agent up: exit 0, no output" test $? -eq 0 -a -z "$out"
check "ADD retried once the agent is up succeeds" cni ADD late
check "CHECK after restart passes" cni CHECK server
check "client1 still allowed after restart" inpod client1 "$PY" "$TOOLS/probe.py" tcp "$IP_server" 9000 1.0
code=$(inpod client1 curl -s -o /dev/null -w '%{http_code}' --connect-timeout 1 -m 3 "http://$IP_server:8080/admin")
check "L7 403 after restart" test "$code" = 403

# how long each plugin took (cnirun.py records every run)
"$PY" - "$CNIRUN_TIMES" <<'PYEOF'
import sys, collections
t = collections.defaultdict(list)
for line in open(sys.argv[1]):
    cmd, plugin, ms = line.split()
    t[(cmd, plugin)].append(float(ms))
print("  plugin times (median ms): " + ", ".join(
    "%s %s %.0f (n=%d)" % (c, p, sorted(v)[len(v) // 2], len(v)) for (c, p), v in sorted(t.items())))
PYEOF

echo "== GC, DEL, DEL again"
out=$(plugin GC "{\"cniVersion\": \"1.1.0\", \"name\": \"$NET\", \"type\": \"sluice-cni\", $SOCKCONF,
  \"cni.dev/valid-attachments\": [{\"containerID\": \"cid${idx}xserver\", \"ifname\": \"eth0\"},
                                  {\"containerID\": \"cid${idx}xclient1\", \"ifname\": \"eth0\"}]}")
check "GC exits 0 and prints nothing" test $? -eq 0 -a -z "$out"
check_not "GC removed the attachment not listed (late)" has_pod late
check "GC kept the listed ones" has_pod client1
check "GC left the runtime's netns alone" test -e "/run/netns/$(pod_ns late)"
out=$(plugin GC "{\"cniVersion\": \"1.1.0\", \"name\": \"$NET\", \"type\": \"sluice-cni\", $SOCKCONF,
  \"cni.dev/attachments\": [{\"containerID\": \"cid${idx}xserver\", \"ifname\": \"eth0\"}]}")
check_not "GC with the older key cni.dev/attachments works too" has_pod client1
check "DEL passes" cni DEL server
check_not "DEL removed the attachment" has_pod server
out=$(echo '{"cniVersion": "1.0.0", "name": "'$NET'", "type": "sluice-cni", '"$SOCKCONF"'}' | innode env CNI_COMMAND=DEL \
	CNI_CONTAINERID="cid${idx}xserver" CNI_IFNAME=eth0 "$PLUGINS/sluice-cni")
check "DEL again passes" test $? -eq 0
out=$(echo '{"cniVersion": "1.0.0", "name": "'$NET'", "type": "sluice-cni", '"$SOCKCONF"', "prevResult": '"$(cat "$SL_WORK/add-result.json")"'}' |
	innode env CNI_COMMAND=CHECK CNI_CONTAINERID="cid${idx}xserver" CNI_NETNS=/run/netns/"$(pod_ns server)" CNI_IFNAME=eth0 "$PLUGINS/sluice-cni")
check "CHECK after DEL fails (the attachment is gone)" test "$(echo "$out" | code_of)" = 102

echo "== error codes"
E="CNI_CONTAINERID=x1 CNI_NETNS=/run/netns/$(pod_ns server) CNI_IFNAME=eth0"
# shellcheck disable=SC2086
out=$(plugin ADD '{"cniVersion": "1.0.0", "name": ' $E)
check "malformed JSON: code 6" test "$(echo "$out" | code_of)" = 6
# shellcheck disable=SC2086
out=$(plugin ADD '{"name": "n", "type": "sluice-cni"}' $E)
check "no cniVersion: code 7" test "$(echo "$out" | code_of)" = 7
# shellcheck disable=SC2086
out=$(plugin ADD '{"cniVersion": "1.0.0", "name": "n", "type": "sluice-cni", "socket": 5}' $E)
check "invalid socket field: code 7" test "$(echo "$out" | code_of)" = 7
# shellcheck disable=SC2086
out=$(plugin ADD '{"cniVersion": "7.3.0", "name": "n", "type": "sluice-cni"}' $E)
check "unknown cniVersion: code 1" test "$(echo "$out" | code_of)" = 1
out=$(plugin ADD '{"cniVersion": "1.0.0", "name": "n", "type": "sluice-cni"}' CNI_IFNAME=eth0)
code4_names() { [ "$(echo "$out" | code_of)" = 4 ] && echo "$out" | grep -q "CNI_CONTAINERID CNI_NETNS"; }
check "missing CNI_CONTAINERID and CNI_NETNS: code 4 naming them" code4_names
# shellcheck disable=SC2086
out=$(plugin ADD '{"cniVersion": "1.0.0", "name": "n", "type": "sluice-cni"}' $E)
check "ADD without prevResult: code 7" test "$(echo "$out" | code_of)" = 7
out=$(plugin STATUS '{"cniVersion": "1.0.0", "name": "n", "type": "sluice-cni"}')
check "STATUS in a 1.0.0 config: code 1 (STATUS came with 1.1.0)" test "$(echo "$out" | code_of)" = 1
out=$(plugin VERSION '{"cniVersion": "1.0.0"}')
check "VERSION lists 0.3.1 0.4.0 1.0.0 1.1.0" "$PY" -c '
import json,sys; v=json.loads(sys.argv[1]); assert v["cniVersion"]=="1.0.0"
assert {"0.3.1","0.4.0","1.0.0","1.1.0"} <= set(v["supportedVersions"])' "$out"

echo "== a 0.4.0 chain (prevResult with ips[].version)"
LIST=$SL_WORK/chain040.conflist
sed 's/"cniVersion": "1.0.0"/"cniVersion": "0.4.0"/' "$SL_WORK/chain.conflist" >"$LIST"
new_pod old
out=$(cni ADD old)
check "ADD in a 0.4.0 chain" "$PY" -c '
import json,sys; r=json.loads(sys.argv[1]); assert r["cniVersion"]=="0.4.0" and all(x["version"]=="4" for x in r["ips"])' "$out"
check "CHECK in a 0.4.0 chain" cni CHECK old
check "DEL in a 0.4.0 chain" cni DEL old
LIST=$LIST_SAVED

echo "== the conflist entry is kept, and removed"
# a primary CNI that rewrites its config (Calico, flannel) drops our entry
"$PY" -c '
import json,sys; j=json.load(open(sys.argv[1])); j["plugins"]=[p for p in j["plugins"] if p["type"]!="sluice-cni"]
open(sys.argv[1]+".tmp","w").write(json.dumps(j))' "$LIST" && mv "$LIST.tmp" "$LIST"
check "a primary CNI's rewrite loses the entry; the agent puts it back" wait_conflist
# preStop: sluiced --cni-uninstall while the agent runs
innode "$SL_BUILD/agent/sluiced" --socket "$SL_SOCK" --cni-conf-dir "$CONF" --cni-uninstall
check "--cni-uninstall (agent running) exits 0" test $? -eq 0
check "... the .conf is back, the conflist gone" test -f "$CONF/10-$NET.conf" -a ! -f "$LIST"
sleep 2.5
check "... and the running agent does not put it back" test ! -f "$LIST"
sl_agent_kill TERM
check "on exit nothing is left of sluice in the conf dir" test -f "$CONF/10-$NET.conf" -a ! -f "$LIST" -a ! -f "$CONF/10-$NET.conf.sluice_bak"
agent_start || fail "agent start"
check "a new agent chains it again" wait_conflist
sl_agent_kill TERM
check "on exit (--cni-remove-on-exit) the .conf is restored as it was" test -f "$CONF/10-$NET.conf" -a ! -f "$LIST" -a ! -f "$CONF/10-$NET.conf.sluice_bak"
innode "$SL_BUILD/agent/sluiced" --cni-conf-dir "$CONF" --cni-uninstall
check "--cni-uninstall with nothing to remove succeeds" test $? -eq 0
t_finish
