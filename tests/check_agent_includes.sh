#!/usr/bin/env bash
# check_agent_includes.sh [SRC_DIR] - the agent's modules depend on each
# other in one direction: the graph "module X includes Y.h" between agent
# files (a module is a .c and its .h; agent.h, the shared state every module
# sees, is left out) must have no cycle. tsort(1) finds cycles.
set -euo pipefail
SRC=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$SRC/agent"
# a module: X.c with X.h; X_Y.c without X_Y.h belongs to X (k8s_pods.c
# implements k8s.h)
module() {
	local m=${1%.*}
	if [ ! -e "$m.h" ] && [ "${m%%_*}" != "$m" ] && [ -e "${m%%_*}.h" ]; then
		m=${m%%_*}
	fi
	echo "$m"
}
edges=$(for f in *.c *.h; do
	from=$(module "$f")
	sed -n 's/^#include "\([a-z_0-9]*\)\.h".*/\1/p' "$f" | while read -r to; do
		[ "$to" = agent ] || [ "$from" = agent ] || [ "$to" = "$from" ] && continue
		[ -e "$to.h" ] || continue # not an agent header
		echo "$from $to"
	done
done | sort -u)
if ! out=$(echo "$edges" | tsort 2>&1 >/dev/null) || [ -n "$out" ]; then
	echo "check_agent_includes: the agent's include graph has a cycle:"
	echo "$out"
	exit 1
fi
echo "check_agent_includes: $(echo "$edges" | wc -l) include edges between agent modules, no cycle (agent.h aside)"
