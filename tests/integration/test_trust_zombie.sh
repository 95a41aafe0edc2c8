#!/usr/bin/env bash
# A drained proxy is reaped (#10 item 5): after `sluice proxy restart` (and
# after a proxy crash) no `<defunct>` child stays under the agent.
source "$(dirname "$0")/lib.sh"
t_begin --proxy-restart-delay 200

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

pod default/server app=server
P=$(proxy_wait_ready 0) || fail "proxy ready"
for round in 1 2 3; do
	check "proxy restart $round requested" sl proxy restart
	NEW=$(proxy_wait_ready "$P") || fail "new proxy ready after restart $round"
	check "the drained proxy $P exited" pid_gone "$P" 15
	check "and was reaped: no <defunct> child of the agent ($(zombies | tr '\n' ' '))" no_zombies 5
	check "the drained proxy's pid is gone from /proc" test ! -d "/proc/$P"
	P=$NEW
done
echo "# a proxy crash"
kill -KILL "$P"
NEW=$(proxy_wait_ready "$P") || fail "proxy back after the crash"
check "the crashed proxy was reaped" no_zombies 5
check "a new proxy serves ($NEW)" test -n "$NEW"
t_finish
