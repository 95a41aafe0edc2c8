/* SPDX-License-Identifier: Apache-2.0 */
/*
 * access_record.c - see access_record.h.
 */
#include "access_record.h"

#include <string.h>

static void rec_addr16(uint8_t out[16], const union proxy_sockaddr *a)
{
	memset(out, 0, 16);
	if (a->sa.sa_family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &a->in.sin_addr, 4);
	} else if (a->sa.sa_family == AF_INET6) {
		memcpy(out, &a->in6.sin6_addr, 16);
	}
}

static size_t rec_min(size_t a, size_t b)
{
	return a < b ? a : b;
}

size_t proxy_access_record_put(const struct proxy_event *ev, char *buf, size_t cap)
{
	const struct http_exchange *x = ev->x;
	size_t ml = rec_min(x->method ? x->method_len : 0, SLUICE_ACCESS_METHOD_MAX);
	size_t hl = rec_min(x->host ? x->host_len : 0, SLUICE_ACCESS_HOST_MAX);
	size_t pl = rec_min(x->path ? x->path_len : 0, SLUICE_ACCESS_PATH_MAX);
	size_t size = sluice_access_rec_size(ml, hl, pl);
	struct sluice_access_rec r = { 0 };
	char *p = buf + sizeof(r);

	if (size > cap)
		return 0;
	r.size = (uint16_t)size;
	r.direction = ev->flow->direction;
	r.verdict = x->verdict == HTTP_VERDICT_ALLOWED  ? SLUICE_ACCESS_ALLOWED
		    : x->verdict == HTTP_VERDICT_DENIED ? SLUICE_ACCESS_DENIED
							: SLUICE_ACCESS_ERROR;
	r.http_minor = x->http_minor;
	r.reason = (uint8_t)x->reason;
	r.status = (uint16_t)(x->status > 0 ? x->status : 0);
	r.ep_id = ev->flow->ep_id;
	r.method_len = (uint16_t)ml;
	r.host_len = (uint16_t)hl;
	r.path_len = (uint16_t)pl;
	r.src_port = proxy_sockaddr_port(&ev->flow->src.addr);
	r.dst_port = proxy_sockaddr_port(&ev->flow->dst.addr);
	r.flags = ev->tls && ev->tls->version ? SLUICE_ACCESS_F_TLS : 0;
	if (ev->refused)
		r.flags |= SLUICE_ACCESS_F_TLS | SLUICE_ACCESS_F_REFUSED;
	r.src_identity = ev->flow->src.identity;
	r.dst_identity = ev->flow->dst.identity;
	rec_addr16(r.src_addr, &ev->flow->src.addr);
	rec_addr16(r.dst_addr, &ev->flow->dst.addr);
	r.time_us = (uint64_t)ev->wall_start_us;
	r.duration_ns = x->end_ns > x->start_ns ? x->end_ns - x->start_ns : 0;
	if (x->upstream_sent_ns && x->upstream_first_ns > x->upstream_sent_ns)
		r.upstream_latency_ns = x->upstream_first_ns - x->upstream_sent_ns;
	r.bytes_in = x->bytes_in;
	r.bytes_out = x->bytes_out;
	memcpy(buf, &r, sizeof(r));
	if (ml)
		memcpy(p, x->method, ml);
	if (hl)
		memcpy(p + ml, x->host, hl);
	if (pl)
		memcpy(p + ml + hl, x->path, pl);
	memset(p + ml + hl + pl, 0, size - sizeof(r) - ml - hl - pl);
	return size;
}
