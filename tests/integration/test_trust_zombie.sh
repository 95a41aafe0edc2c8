#!/usr/bin/env bash
# A drained proxy is reaped (#10 item 5): after `sluice proxy restart` (and
# after a proxy crash) no `<defunct>` child stays under the agent.
source "$(dirname "$0")/lib.sh"
t_begin --proxy-restart-delay 200

proxy_field() { sl status -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["proxy"].get(sys.argv[1], ""))' "$1" 2>/dev/null; }
wait_ready_pid() { # OLD_PID: waits for a ready proxy with another pid, prints it
	local i pid
	for i in $(seq 1 200); do
		pid=$(proxy_field pid)
		if [ "$(proxy_field state)" = ready ] && [ -n "$pid" ] && [ "$pid" != 0 ] && [ "$pid" != "$1" ]; then
			echo "$pid"
			return 0
		fi
		sleep 0.1
	done
	return 1
}
# the agent's children in state Z
zombies() {
	local st
	for st in /proc/[0-9]*/stat; do
		awk -v pp="$SL_AGENT_PID" '$4 == pp && $3 == "Z" {print $1}' "$st" 2>/dev/null
	done
}
# no_zombies SECONDS: within that time, the agent has no zombie child
no_zombies() {
	local i
	for i in $(seq 1 $(($1 * 10))); do
		[ -z "$(zombies)" ] && return 0
		sleep 0.1
	done
	return 1
}
gone() { # PID SECONDS: exited (a zombie counts as not exited here)
	local i
	for i in $(seq 1 $(($2 * 10))); do
		[ -d "/proc/$1" ] || return 0
		[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ] && return 0
		sleep 0.1
	done
	return 1
}

pod default/server app=server
P=$(wait_ready_pid 0) || fail "proxy ready"
for round in 1 2 3; do
	check "proxy restart $round requested" sl proxy restart
	NEW=$(wait_ready_pid "$P") || fail "new proxy ready after restart $round"
	check "the drained proxy $P exited" gone "$P" 15
	check "and was reaped: no <defunct> child of the agent ($(zombies | tr '\n' ' '))" no_zombies 5
	check "the drained proxy's pid is gone from /proc" test ! -d "/proc/$P"
	P=$NEW
done
echo "# a proxy crash"
kill -KILL "$P"
NEW=$(wait_ready_pid "$P") || fail "proxy back after the crash"
check "the crashed proxy was reaped" no_zombies 5
check "a new proxy serves ($NEW)" test -n "$NEW"
t_finish
