/* SPDX-License-Identifier: Apache-2.0 */
/*
 * access_log.h - one JSON line per request:
 *
 * {"time":"2026-11-25T14:02:03.123456Z",
 *  "source":{"pod":"client2","namespace":"ns","identity":4097,"ip":"10.0.0.5","port":41234},
 *  "destination":{"pod":"echo","namespace":"ns","identity":4098,"ip":"10.0.0.9","port":8080},
 *  "method":"GET","path":"/public","host":"echo:8080","protocol":"HTTP/1.1",
 *  "status":403,"verdict":"denied","reason":"policy_denied",
 *  "bytes_in":78,"bytes_out":98,"duration_us":41,"upstream_latency_us":0}
 *
 * pod/namespace are null when unknown; status 0 = no response was sent.
 * upstream_latency_us: request head sent -> first response byte (0 if the
 * request never went upstream).
 * TLS connections add, after "host":
 *  "tls":{"version":"TLSv1.3","sni":"api.example.com",
 *         "upstream":{"version":"TLSv1.3","sni":"api.example.com","verify":"ok"}}
 * (the client's session, then the upstream's or null when it is plaintext;
 * verify is "ok" or why verification failed).
 */
#ifndef SLUICE_PROXY_ACCESS_LOG_H
#define SLUICE_PROXY_ACCESS_LOG_H

#include <stddef.h>

#include "proxy.h"

/* Formats one line (with '\n'); returns its length, truncated to cap - 1. */
size_t proxy_access_log_format(const struct proxy_event *ev, char *buf, size_t cap);

/* The flow's two ends as a line shows them, '"source":{...},"destination":
 * {...}': the same for every request of a connection, so a caller may
 * render them once and pass them in proxy_event.ends. 0 unless cap is at
 * least their length + 2. */
size_t proxy_access_log_ends(const struct proxy_flow *flow, char *buf, size_t cap);

/* The line the agent's access log carries: the same object with the
 * control channel's "ep_id", "direction" and "latency_ns" first. */
size_t proxy_access_log_format_agent(const struct proxy_event *ev, char *buf, size_t cap);

#endif /* SLUICE_PROXY_ACCESS_LOG_H */
