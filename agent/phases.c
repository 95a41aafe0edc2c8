/* SPDX-License-Identifier: Apache-2.0 */
/*
 * phases.c - where the time of a policy apply goes: parse, compile, map
 * writes, state save. Marks accumulate per phase name (a rollback runs a
 * phase twice); `sluice status -o json` shows the last apply's figures as
 * last_policy_apply_phases_us.
 */
#include <string.h>

#include "../common/util.h"
#include "agent.h"

void agent_phase_start(struct agent *a)
{
	memset(&a->phases, 0, sizeof(a->phases));
	a->phases.mark = sl_mono_ns();
}

void agent_phase(struct agent *a, const char *name)
{
	struct agent_phases *ph = &a->phases;
	uint64_t now = sl_mono_ns();
	size_t i;

	for (i = 0; i < ph->n && strcmp(ph->name[i], name); i++)
		;
	if (i == ph->n) {
		if (ph->n == AGENT_PHASES)
			return;
		ph->name[ph->n++] = name;
	}
	ph->ns[i] += now - ph->mark;
	ph->mark = now;
}

json_t *agent_phases_json(const struct agent_phases *ph)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; i < ph->n; i++)
		json_object_set_new(o, ph->name[i], json_integer((json_int_t)(ph->ns[i] / 1000)));
	return o;
}
