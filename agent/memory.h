/* SPDX-License-Identifier: Apache-2.0 */
/*
 * memory.h - when the agent gives freed heap back to the kernel (memory.c).
 */
#ifndef SLUICED_MEMORY_H
#define SLUICED_MEMORY_H

struct agent;

/* Before anything large is allocated: large blocks from the heap, no trim
 * on free (process-wide malloc settings). */
void agent_memory_setup(void);
/* The release timer on the agent's loop; stopped by agent_memory_stop. */
void agent_memory_start(struct agent *a);
void agent_memory_stop(struct agent *a);
/* Much was freed (a large request, a delete): give the free heap back once
 * the agent has been quiet for a while. Before start, or after stop, at once. */
void agent_memory_release_soon(struct agent *a);

#endif /* SLUICED_MEMORY_H */
