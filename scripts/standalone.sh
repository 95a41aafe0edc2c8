# shellcheck shell=bash
# standalone.sh - run a sluiced instance with its own pin directory, child
# cgroup, socket, state directory, netns prefix and pod CIDR, and remove all
# of it again. Sourced by the demo and by the integration tests.
#
#   sl_instance_init NAME CIDR   choose paths for an instance
#   sl_agent_start [ARGS...]     start sluiced in the background, wait until ready
#   sl_agent_kill [SIGNAL]       stop the agent (pinned state keeps enforcing)
#   sl_cleanup                   remove pods, programs, pins, cgroups, routes
#   sl ARGS...                   the CLI, talking to this instance
#
# SL_AGENT_PREFIX, if set, is a command the agent runs under, e.g.
# "nsenter --net=/run/netns/NODE" for an agent in a throwaway node netns
# (tests/cni); it must exec the agent (nsenter without --fork does).

SL_ROOT=${SL_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
SL_BUILD=${SL_BUILD:-$SL_ROOT/build}
SL_CGROUP_BASE=${SL_CGROUP_BASE:-/sys/fs/cgroup/unified}
SL_PIDS=()

sl_instance_init() {
	local name=$1
	SL_ID="$name"
	SL_CIDR=$2
	SL_PIN=/sys/fs/bpf/sluice-$name
	SL_CG=$SL_CGROUP_BASE/sluice-$name
	SL_WORK=${SL_WORK:-/tmp/sluice-$name}
	SL_SOCK=$SL_WORK/sluice.sock
	SL_STATE=$SL_WORK/state
	SL_NSPFX=${SL_NSPFX:-s${name:0:8}-}
	SL_AGENT_LOG=$SL_WORK/agent.log
	SL_AGENT_OUT=$SL_WORK/agent.stdout
	mkdir -p "$SL_WORK"
	if ! mount | grep -q ' /sys/fs/bpf type bpf'; then
		mkdir -p /sys/fs/bpf && mount -t bpf bpf /sys/fs/bpf
	fi
	mkdir -p "$SL_CG"
	# a test's slot records what this run makes (tests/integration/lib.sh:
	# a run killed before its cleanup is cleaned up by the slot's next owner)
	if declare -F t_slot_own >/dev/null; then
		t_slot_own nspfx "$SL_NSPFX"
		t_slot_own pin "$SL_PIN"
		t_slot_own cgroup "$SL_CG"
		t_slot_own work "$SL_WORK"
		t_slot_own route "$SL_CIDR"
		[ -n "${SL_SERVICE_CIDR:-}" ] && t_slot_own route "$SL_SERVICE_CIDR"
	fi
	return 0
}

# sl_own_proc PID CMDLINE-PART: a process of this run, for the slot's record
sl_own_proc() {
	declare -F t_slot_own >/dev/null && t_slot_own proc "$1" "$2"
	return 0
}

sl_agent_args() {
	echo --bpf-root "$SL_PIN" --cgroup-root "$SL_CG" --socket "$SL_SOCK" \
		--state-dir "$SL_STATE" --pod-cidr "$SL_CIDR" --netns-prefix "$SL_NSPFX" \
		--node-name "sluice-$SL_ID" --metrics "127.0.0.1:${SL_METRICS_PORT:-9962}" \
		${SL_SERVICE_CIDR:+--service-cidr "$SL_SERVICE_CIDR"}
}

sl() { "$SL_BUILD/cli/sluice" --socket "$SL_SOCK" "$@"; }

sl_agent_start() {
	# shellcheck disable=SC2046
	${SL_AGENT_PREFIX:-} "$SL_BUILD/agent/sluiced" $(sl_agent_args) "$@" >>"$SL_AGENT_OUT" 2>>"$SL_AGENT_LOG" &
	SL_AGENT_PID=$!
	SL_PIDS+=("$SL_AGENT_PID")
	sl_own_proc "$SL_AGENT_PID" "--socket $SL_SOCK"
	local i
	for i in $(seq 1 100); do
		if sl status >/dev/null 2>&1; then return 0; fi
		if ! kill -0 "$SL_AGENT_PID" 2>/dev/null; then
			echo "sluiced exited during startup:" >&2
			tail -5 "$SL_AGENT_LOG" >&2
			return 1
		fi
		sleep 0.05
	done
	echo "sluiced did not become ready in 5s" >&2
	return 1
}

sl_agent_kill() {
	local sig=${1:-TERM}
	if [ -n "${SL_AGENT_PID:-}" ] && kill -0 "$SL_AGENT_PID" 2>/dev/null; then
		kill -s "$sig" "$SL_AGENT_PID" 2>/dev/null
		local i
		for i in $(seq 1 100); do
			kill -0 "$SL_AGENT_PID" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$SL_AGENT_PID" 2>/dev/null || true
		wait "$SL_AGENT_PID" 2>/dev/null || true
	fi
	SL_AGENT_PID=
}

# Runs a background command and remembers its PID for cleanup. `sl_bg sl ...`
# runs the CLI binary itself (not the shell function), so the PID is the
# process to kill.
sl_bg() {
	if [ "$1" = sl ]; then
		shift
		"$SL_BUILD/cli/sluice" --socket "$SL_SOCK" "$@" &
		sl_own_proc $! "--socket $SL_SOCK"
	else
		"$@" &
		sl_own_proc $! "$*"
	fi
	SL_PIDS+=($!)
}

# Removes a cgroup and every cgroup below it, killing what runs there.
sl_rm_cgroup() {
	local cg=$1 d
	[ -d "$cg" ] || return 0
	for d in $(find "$cg" -mindepth 1 -maxdepth 1 -type d 2>/dev/null); do
		sl_rm_cgroup "$d"
	done
	[ -e "$cg/cgroup.kill" ] && echo 1 >"$cg/cgroup.kill" 2>/dev/null
	local i
	for i in $(seq 1 50); do
		rmdir "$cg" 2>/dev/null && return 0
		sleep 0.02
	done
}

sl_cleanup() {
	local p ns
	sl_agent_kill TERM
	for p in "${SL_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	for p in "${SL_PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	SL_PIDS=()
	if [ -x "$SL_BUILD/agent/sluiced" ] && [ -n "${SL_PIN:-}" ]; then
		# shellcheck disable=SC2046
		timeout 30 ${SL_AGENT_PREFIX:-} "$SL_BUILD/agent/sluiced" $(sl_agent_args) --cleanup >>"$SL_AGENT_LOG" 2>&1 || true
	fi
	# whatever the agent could not remove
	if [ -f "$SL_STATE/proxy.json" ]; then
		p=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$SL_STATE/proxy.json" 2>/dev/null)
		{ [ -n "$p" ] && [ "$p" -gt 1 ] && kill -KILL "$p" 2>/dev/null; } || true
	fi
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${SL_NSPFX}" || true); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
	sl_world_release # after the netns: the worlds' links went with them
	[ -n "${SL_CG:-}" ] && sl_rm_cgroup "$SL_CG"
	[ -n "${SL_PIN:-}" ] && rm -rf "$SL_PIN"
	# (|| true: under set -e, as the benches run, a route the agent's
	# --cleanup already removed must not end the cleanup with status 2)
	[ -n "${SL_CIDR:-}" ] && { ip route del blackhole "$SL_CIDR" 2>/dev/null || true; }
	[ -n "${SL_SERVICE_CIDR:-}" ] && { ip route del blackhole "$SL_SERVICE_CIDR" 2>/dev/null || true; }
	return 0
}

# A network namespace that is not a pod: "the world" or "another node",
# connected to the host by a veth in 198.51.100.0/24 (TEST-NET-2, never routed; TEST-NET-1 is some machines' uplink).
# sl_world_create NAME INDEX -> prints its IP
#
# A world's addresses are fixed by its INDEX (scenarios name them in
# policies), so two runs of one scenario at the same time (two sessions, or a
# session and CI, on one kernel) would put the same /30 on two host links:
# the host then routes the pods' replies into the other run's world, and the
# later run's world traffic times out. A run therefore owns the indexes it
# uses: /tmp/sluice-world-INDEX holds the owner's pid (taken over when that
# pid is gone, released by sl_cleanup), and a second run waits for it,
# bounded by SL_WORLD_WAIT seconds (default 400: one scenario's length).
sl_world_claim() {
	local idx=$1 lock=/tmp/sluice-world-$1 owner i dev stale=false
	local tries=$(( ${SL_WORLD_WAIT:-400} * 5 )) host_ip
	host_ip=$(sl_world_host_ip "$idx")
	for ((i = 0; i < tries; i++)); do
		if mkdir "$lock" 2>/dev/null; then
			echo $$ >"$lock/pid"
		fi
		owner=$(cat "$lock/pid" 2>/dev/null)
		if [ "$owner" = $$ ]; then
			# the /30 must be free on the host too: a run that died before
			# its cleanup leaves its world (netns and link); a run of an
			# older checkout holds it without the lock, until it ends
			$stale || [ -z "$(ip -4 -o addr show to "$host_ip")" ] && break
		elif [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then
			sl_world_reclaim "$lock"
			rm -rf "$lock"
			stale=true
			continue
		fi
		if [ "$i" = 0 ]; then
			if [ "$owner" = $$ ]; then
				echo "sl_world_create: $host_ip is on a host link already (a run of an older checkout?); waiting" >&2
			else
				echo "sl_world_create: world $idx ($host_ip) is in use by pid ${owner:-?} (another run of this scenario); waiting" >&2
			fi
		fi
		sleep 0.2
	done
	if [ "$(cat "$lock/pid" 2>/dev/null)" != $$ ] || { ! $stale && [ -n "$(ip -4 -o addr show to "$host_ip")" ]; }; then
		echo "sl_world_create: world $idx ($host_ip) still in use after ${SL_WORLD_WAIT:-400} s" >&2
		return 1
	fi
	# taken over from a dead owner: its world's link is ours to remove
	for dev in $(ip -4 -o addr show to "$host_ip" | awk '{print $2}'); do
		case $dev in slw*) ip link del dev "$dev" 2>/dev/null ;; esac
	done
	return 0
}

# sl_world_reclaim LOCK: removes the world a dead owner of LOCK recorded in
# LOCK/owns (its netns, with what runs there, and its host link), when the
# names are a world's (<prefix>w<name>, slw<digits>)
sl_world_reclaim() {
	local key a
	[ -f "$1/owns" ] || return 0
	while read -r key a; do
		case $key in
		netns)
			[[ $a =~ ^[a-z]+[0-9]*-w[A-Za-z0-9_-]*$ ]] && [ -e "/run/netns/$a" ] || continue
			echo "reclaimed world $(basename "$1"): netns $a" >&2
			ip netns pids "$a" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
			ip netns del "$a" 2>/dev/null ;;
		link)
			[[ $a =~ ^slw[0-9]+$ ]] && ip link del dev "$a" 2>/dev/null ;;
		esac
	done <"$1/owns"
	return 0
}

# sl_world_release: gives back the world indexes this run owns
sl_world_release() {
	local lock
	for lock in /tmp/sluice-world-*; do
		[ -d "$lock" ] && [ "$(cat "$lock/pid" 2>/dev/null)" = $$ ] && rm -rf "$lock"
	done
	return 0
}
# sl_world_host_ip INDEX     -> the host's side of world INDEX
sl_world_host_ip() { echo "198.51.100.$(($1 * 4 + 1))"; }
sl_world_create() {
	local name=${SL_NSPFX}w$1 idx=$2
	local host_ip world_ip=198.51.100.$((idx * 4 + 2))
	# the host-side link: unique per run (two runs of one scenario share
	# SL_ID's first letters, and an `ip link add` that fails leaves the
	# world without its eth0)
	# (cksum's first field only: a checksum of fewer than 8 digits would
	# bring its separator into the name)
	local hif="slw$(printf '%s' "$SL_ID" | cksum | awk '{print substr($1, 1, 8)}')$idx"
	host_ip=$(sl_world_host_ip "$idx")
	sl_world_claim "$idx" || return 1
	# what the next owner removes should this run die before its cleanup
	printf 'netns %s\nlink %s\n' "$name" "$hif" >"/tmp/sluice-world-$idx/owns"
	# A blackhole for the rest of the range, unless the range is already
	# routed: `replace` would swap a host interface's connected route
	# (some machines have their uplink in a TEST-NET) for the blackhole
	# and cut the machine off. The worlds' /30s are more specific anyway.
	if ip -4 route show exact 198.51.100.0/24 | grep -qv '^blackhole'; then
		echo "sl_world_create: 198.51.100.0/24 is routed on this machine; refusing to put test worlds there" >&2
		return 1
	fi
	ip route add blackhole 198.51.100.0/24 2>/dev/null || true
	{ ip netns add "$name" &&
		ip link add "$hif" type veth peer name eth0 netns "$name" &&
		ip addr add "$host_ip/30" dev "$hif" &&
		ip link set "$hif" up &&
		ip -n "$name" link set lo up &&
		ip -n "$name" addr add "$world_ip/30" dev eth0 &&
		ip -n "$name" link set eth0 up &&
		ip -n "$name" route add default via "$host_ip"; } ||
		{ echo "sl_world_create: cannot set up world $1 ($world_ip)" >&2; return 1; }
	echo 0 >/proc/sys/net/ipv4/conf/"$hif"/rp_filter 2>/dev/null || true
	echo "$world_ip"
}
