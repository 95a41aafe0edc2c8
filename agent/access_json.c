/* SPDX-License-Identifier: Apache-2.0 */
/*
 * access_json.c - a proxy's JSON access record as an L7 flow (see
 * access_json.h). The binary batches (sluice/access_record.h) carry the
 * same facts as fields and flags; this is the other encoding of them, and
 * must show the same flow: notably https:// for a client that spoke TLS to
 * the proxy, including a connection refused at its handshake (serverNames),
 * whose record has no TLS version because the handshake never finished.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../common/util.h"
#include "access_json.h"

static void addr_of(json_t *peer, uint8_t out[16])
{
	const char *ip = json_string_value(json_object_get(peer, "ip"));
	unsigned b[4];

	memset(out, 0, 16);
	if (ip && sscanf(ip, "%u.%u.%u.%u", &b[0], &b[1], &b[2], &b[3]) == 4)
		sl_addr_from_ipv4(out, b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]);
}

/* The record's "time" (RFC 3339, UTC, microseconds): when the request
 * began; now if it is missing or unreadable. */
static uint64_t record_time_ns(const char *t)
{
	uint64_t ns;

	return sl_parse_rfc3339(t, &ns) ? sl_now_ns() : ns;
}

bool access_json_flow(json_t *m, struct flow_l7 *ev)
{
	json_t *src = json_object_get(m, "source"), *dst = json_object_get(m, "destination");
	json_t *tls = json_object_get(m, "tls");
	const char *verdict = json_string_value(json_object_get(m, "verdict"));
	const char *dir = json_string_value(json_object_get(m, "direction"));
	bool refused;

	ev->time_ns = record_time_ns(json_string_value(json_object_get(m, "time")));
	ev->direction = dir && !strcmp(dir, "egress") ? SLUICE_DIR_EGRESS : SLUICE_DIR_INGRESS;
	ev->allowed = verdict && !strcmp(verdict, "allowed");
	addr_of(src, ev->saddr);
	addr_of(dst, ev->daddr);
	ev->sport = (uint16_t)json_integer_value(json_object_get(src, "port"));
	ev->dport = (uint16_t)json_integer_value(json_object_get(dst, "port"));
	ev->src_identity = (uint32_t)json_integer_value(json_object_get(src, "identity"));
	ev->dst_identity = (uint32_t)json_integer_value(json_object_get(dst, "identity"));
	ev->method = json_string_value(json_object_get(m, "method"));
	ev->url = json_string_value(json_object_get(m, "path"));
	ev->host = json_string_value(json_object_get(m, "host"));
	ev->protocol = json_string_value(json_object_get(m, "protocol"));
	ev->reason = json_string_value(json_object_get(m, "reason"));
	/* refused at the client's handshake: it spoke TLS, as the binary
	 * record's SLUICE_ACCESS_F_REFUSED implies SLUICE_ACCESS_F_TLS */
	refused = ev->reason && !strcmp(ev->reason, "tls_server_name");
	/* the client's side: a TLS upstream (originatingTLS) behind a plain
	 * client is still an http:// URL, as the client asked for it */
	ev->https = refused || json_is_string(json_object_get(tls, "version"));
	ev->code = (uint16_t)json_integer_value(json_object_get(m, "status"));
	ev->latency_ns = (uint64_t)json_integer_value(json_object_get(m, "latency_ns"));
	if (!ev->latency_ns)
		ev->latency_ns = (uint64_t)json_integer_value(json_object_get(m, "duration_us")) * 1000;
	return !refused;
}
