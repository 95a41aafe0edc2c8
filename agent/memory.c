// SPDX-License-Identifier: Apache-2.0
/*
 * memory.c - when the agent gives freed heap back to the kernel.
 *
 * An agent that applied and deleted a 10 MB policy set must shrink back to
 * its size (issue #10), so freed memory goes back to the kernel. Not at
 * once, though. A page the process touches again after returning it is a
 * fresh page: a page fault, which on the VMs sluice runs on exits to the
 * hypervisor and costs about 10 µs (tests/bench/policy_apply: a 25,000
 * rule apply touches 50-80 MB, and returning it after every request made
 * each apply pay 14,000 faults, half its time). So:
 *   - large blocks come from the heap (glibc would mmap each block of 128
 *     KB or more, and unmap it on free), and free() never trims the heap;
 *   - the agent trims once, RELEASE_AFTER_MS after the last request that
 *     freed much (a large apply, refused or not, a delete). A burst of
 *     applies (a CI job, a watch's first list) reuses warm memory, and an
 *     idle agent is back to its size within a second or two, as jemalloc's
 *     decay and Go's scavenger return memory some time after it is freed.
 */
#include <malloc.h>

#include "agent.h"
#include "memory.h"

#define RELEASE_AFTER_MS 1000
/* glibc's ceiling for M_MMAP_THRESHOLD on 64-bit (half its heap size):
 * only a block larger than this, e.g. a 64 MB request, is still mmapped */
#define HEAP_BLOCK_MAX (32u << 20)
#define TRIM_NEVER (1 << 30)

void agent_memory_setup(void)
{
	/* setting either also stops glibc from moving them dynamically */
	mallopt(M_MMAP_THRESHOLD, HEAP_BLOCK_MAX);
	mallopt(M_TRIM_THRESHOLD, TRIM_NEVER);
}

static void on_release(uv_timer_t *t)
{
	(void)t;
	malloc_trim(0);
}

void agent_memory_start(struct agent *a)
{
	uv_timer_init(a->loop, &a->memory_timer);
	a->memory_timer.data = a;
	a->memory_timer_on = true;
}

void agent_memory_stop(struct agent *a)
{
	if (!a->memory_timer_on)
		return;
	a->memory_timer_on = false;
	uv_timer_stop(&a->memory_timer);
	uv_close((uv_handle_t *)&a->memory_timer, NULL);
}

void agent_memory_release_soon(struct agent *a)
{
	if (!a->memory_timer_on) {
		malloc_trim(0);
		return;
	}
	/* restarted: the trim waits for the end of a burst */
	uv_timer_start(&a->memory_timer, on_release, RELEASE_AFTER_MS, 0);
}
