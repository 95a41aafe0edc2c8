/* SPDX-License-Identifier: Apache-2.0 */
/*
 * events.c - the flow events ring buffer: an fd to poll and a drain that
 * hands each record to the caller's callback.
 */
#include <bpf/libbpf.h>

#include "internal.h"

int dp_on_event(void *ctx, void *data, size_t size)
{
	struct sluice_datapath *dp = ctx;

	if (size < sizeof(struct sluice_flow_event) || !dp->event_cb)
		return 0;
	dp->event_cb(dp->event_ctx, data);
	return 0;
}

/* events */

int sluice_dp_events_fd(struct sluice_datapath *dp)
{
	return ring_buffer__epoll_fd(dp->events);
}

int sluice_dp_events_drain(struct sluice_datapath *dp, sluice_dp_event_cb cb, void *ctx)
{
	int n;

	dp->event_cb = cb;
	dp->event_ctx = ctx;
	n = ring_buffer__consume(dp->events);
	dp->event_cb = NULL;
	dp->event_ctx = NULL;
	return n;
}
