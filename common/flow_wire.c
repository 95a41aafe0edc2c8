/* SPDX-License-Identifier: Apache-2.0 */
/* flow_wire.c - see flow_wire.h. */
#include "flow_wire.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/abi.h"
#include "util.h"

#define STR_NULL 0xffff
/* what a string may carry on the wire (longer ones are cut; the JSON line
 * keeps less than this of any of them) */
#define STR_MAX 0xfff0

enum {
	F_HTTPS = 1,
	F_SVC = 2,
	F_L7 = 4,
	F_POLICY = 8,        /* the deciding policy follows */
	F_POLICY_DENIED = 16, /* ... a deny rule */
};

/* ---- encoding ------------------------------------------------------------ */

static uint8_t *put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	return p + 2;
}

static uint8_t *put_u32(uint8_t *p, uint32_t v)
{
	p = put_u16(p, (uint16_t)v);
	return put_u16(p, (uint16_t)(v >> 16));
}

static uint8_t *put_u64(uint8_t *p, uint64_t v)
{
	p = put_u32(p, (uint32_t)v);
	return put_u32(p, (uint32_t)(v >> 32));
}

static size_t str_size(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return 2 + (n > STR_MAX ? STR_MAX : n) + 1;
}

static uint8_t *put_str(uint8_t *p, const char *s)
{
	size_t n;

	if (!s) {
		p = put_u16(p, STR_NULL);
		*p++ = 0;
		return p;
	}
	n = strlen(s);
	if (n > STR_MAX)
		n = STR_MAX;
	p = put_u16(p, (uint16_t)n);
	memcpy(p, s, n);
	p[n] = 0;
	return p + n + 1;
}

static size_t peer_size(const struct sl_flow_end *e)
{
	return 1 + 8 + 4 + str_size(e->ns) + str_size(e->pod) + str_size(e->labels) + 4 + str_size(e->cluster) +
	       str_size(e->wl_kind) + str_size(e->wl_name);
}

static uint8_t *put_peer(struct sl_wire_enc *e, uint8_t *p, const struct sl_flow_end *end, uint64_t id)
{
	uint64_t *slot = &e->sent[id % SL_WIRE_PEERS];

	if (*slot == id)
		return p;
	*slot = id;
	*p++ = 'P';
	p = put_u64(p, id);
	p = put_u32(p, end->identity);
	p = put_str(p, end->ns);
	p = put_str(p, end->pod);
	p = put_str(p, end->labels);
	p = put_u32(p, end->ep_id);
	p = put_str(p, end->cluster);
	p = put_str(p, end->wl_kind);
	return put_str(p, end->wl_name);
}

size_t sl_wire_flow_max(const struct sl_flow_view *f)
{
	size_t n = 1 + 8 + 8 + 7 + 2 + 32 + 4 + 16 + peer_size(&f->src) + peer_size(&f->dst);

	if (f->svc_name)
		n += str_size(f->svc_ns) + str_size(f->svc_name) + 2;
	if (f->kind == SL_FLOW_TRACE)
		n += 1;
	if (sl_flow_kind_is_l7(f->kind))
		n += str_size(f->method) + str_size(f->url) + str_size(f->host) + str_size(f->http_protocol) + 2 + 8;
	if (f->pol_kind)
		n += str_size(f->pol_kind) + str_size(f->pol_ns) + str_size(f->pol_name);
	return n;
}

size_t sl_wire_put_flow(struct sl_wire_enc *e, uint8_t *out, const struct sl_flow_view *f, uint64_t src_id,
			uint64_t dst_id)
{
	uint8_t *p = out;
	uint8_t flags = (f->https ? F_HTTPS : 0) | (f->svc_name ? F_SVC : 0) | (sl_flow_kind_is_l7(f->kind) ? F_L7 : 0) |
			(f->pol_kind ? F_POLICY : 0) | (f->pol_kind && f->pol_denied ? F_POLICY_DENIED : 0);

	p = put_peer(e, p, &f->src, src_id);
	p = put_peer(e, p, &f->dst, dst_id);
	*p++ = 'F';
	p = put_u64(p, f->time_ns);
	p = put_u64(p, f->uuid_seq);
	*p++ = f->kind;
	*p++ = f->verdict;
	*p++ = f->direction;
	*p++ = f->protocol;
	*p++ = f->match_kind;
	*p++ = f->tcp_flags;
	*p++ = flags;
	p = put_u16(p, f->drop_reason);
	memcpy(p, f->saddr, 16);
	memcpy(p + 16, f->daddr, 16);
	p += 32;
	p = put_u16(p, f->sport);
	p = put_u16(p, f->dport);
	p = put_u64(p, src_id);
	p = put_u64(p, dst_id);
	if (flags & F_SVC) {
		p = put_str(p, f->svc_ns);
		p = put_str(p, f->svc_name);
		p = put_u16(p, f->svc_port);
	}
	if (flags & F_L7) {
		p = put_str(p, f->method);
		p = put_str(p, f->url);
		p = put_str(p, f->host);
		p = put_str(p, f->http_protocol);
		p = put_u16(p, f->code);
		p = put_u64(p, f->latency_ns);
	}
	if (f->kind == SL_FLOW_TRACE)
		*p++ = (uint8_t)((f->trace_point & SLUICE_TRACE_POINT_MASK) | (f->is_reply ? SLUICE_TRACE_REPLY : 0));
	if (flags & F_POLICY) {
		p = put_str(p, f->pol_kind);
		p = put_str(p, f->pol_ns);
		p = put_str(p, f->pol_name);
	}
	return (size_t)(p - out);
}

size_t sl_wire_node_max(const char *node)
{
	return 1 + str_size(node) + 8;
}

size_t sl_wire_put_node(uint8_t *out, const char *node, uint64_t boot)
{
	out[0] = 'N';
	return (size_t)(put_u64(put_str(out + 1, node), boot) - out);
}

size_t sl_wire_put_lost(uint8_t *out, uint64_t lost)
{
	out[0] = 'L';
	put_u64(out + 1, lost);
	return SL_WIRE_LOST_SIZE;
}

void sl_wire_frame_header(uint8_t *out, uint32_t len)
{
	out[0] = SL_WIRE_MAGIC;
	put_u32(out + 1, len);
}

/* ---- decoding -------------------------------------------------------------- */

struct reader {
	const uint8_t *p, *end;
	bool bad;
};

static const uint8_t *take(struct reader *r, size_t n)
{
	const uint8_t *p = r->p;

	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		return NULL;
	}
	r->p += n;
	return p;
}

static uint8_t get_u8(struct reader *r)
{
	const uint8_t *p = take(r, 1);

	return p ? p[0] : 0;
}

static uint16_t get_u16(struct reader *r)
{
	const uint8_t *p = take(r, 2);

	return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

static uint32_t get_u32(struct reader *r)
{
	uint32_t lo = get_u16(r);

	return lo | (uint32_t)get_u16(r) << 16;
}

static uint64_t get_u64(struct reader *r)
{
	uint64_t lo = get_u32(r);

	return lo | (uint64_t)get_u32(r) << 32;
}

/* A string inside the frame (NUL-terminated there), or NULL. */
static const char *get_str(struct reader *r)
{
	uint16_t n = get_u16(r);
	const uint8_t *p;

	if (n == STR_NULL) {
		p = take(r, 1);
		if (p && p[0])
			r->bad = true;
		return NULL;
	}
	p = take(r, (size_t)n + 1);
	if (!p || p[n] || memchr(p, 0, n)) {
		r->bad = true;
		return NULL;
	}
	return (const char *)p;
}

/*
 * A peer's labels travel pre-rendered (a JSON array of strings) and are put
 * into every line as they are, so the decoder checks that they are one: a
 * corrupt or hostile frame must not add fields or lines to the output.
 * Accepts ["a","b\"c"] and [], with the escapes JSON allows, no raw
 * control character, valid UTF-8 only and no \u escape of a surrogate
 * (the agent writes neither; a JSON reader would refuse the line).
 */
static bool labels_ok(const char *s)
{
	if (!s)
		return true;
	if (*s++ != '[')
		return false;
	if (*s == ']')
		return !s[1];
	for (;;) {
		if (*s++ != '"')
			return false;
		while (*s != '"') {
			unsigned char ch = (unsigned char)*s++;

			if (ch < 0x20)
				return false; /* also the end of the string */
			if (ch >= 0x80) {
				size_t n = sl_utf8_decode((const unsigned char *)s - 1, SIZE_MAX, NULL);

				if (!n)
					return false;
				s += n - 1;
				continue;
			}
			if (ch != '\\')
				continue;
			ch = (unsigned char)*s++;
			if (ch == 'u') {
				for (int i = 0; i < 4; i++, s++)
					if (!isxdigit((unsigned char)*s))
						return false;
				if ((s[-4] == 'd' || s[-4] == 'D') && strchr("89abcdefABCDEF", s[-3]))
					return false;
			} else if (!ch || !strchr("\"\\/bfnrt", ch)) {
				return false;
			}
		}
		s++;
		if (*s == ']')
			return !s[1];
		if (*s++ != ',')
			return false;
	}
}

static char *dup_or_null(const char *s)
{
	return s ? sl_xstrdup(s) : NULL;
}

static void end_free(struct sl_flow_end *e)
{
	free((char *)e->ns);
	free((char *)e->pod);
	free((char *)e->labels);
	free((char *)e->cluster);
	free((char *)e->wl_kind);
	free((char *)e->wl_name);
	memset(e, 0, sizeof(*e));
}

static const struct sl_flow_end *peer_get(struct sl_wire_dec *d, uint64_t id)
{
	if (!id || d->peers[id % SL_WIRE_PEERS].id != id)
		return NULL;
	return &d->peers[id % SL_WIRE_PEERS].end;
}

int sl_wire_decode(struct sl_wire_dec *d, const uint8_t *payload, size_t len, sl_wire_flow_cb on_flow, void *ctx,
		   char **err)
{
	struct reader r = { payload, payload + len, false };

	while (r.p < r.end) {
		uint8_t type = get_u8(&r);

		if (type == 'N') {
			const char *node = get_str(&r);

			d->boot = get_u64(&r);
			if (r.bad)
				break;
			free(d->node);
			d->node = dup_or_null(node);
		} else if (type == 'P') {
			uint64_t id = get_u64(&r);
			uint32_t identity = get_u32(&r);
			const char *ns = get_str(&r), *pod = get_str(&r), *labels = get_str(&r);
			uint32_t ep_id = get_u32(&r);
			const char *cluster = get_str(&r), *wl_kind = get_str(&r), *wl_name = get_str(&r);

			if (!labels_ok(labels))
				r.bad = true;
			if (r.bad || !id)
				break;
			end_free(&d->peers[id % SL_WIRE_PEERS].end);
			d->peers[id % SL_WIRE_PEERS].id = id;
			d->peers[id % SL_WIRE_PEERS].end = (struct sl_flow_end){
				.identity = identity,
				.ns = dup_or_null(ns),
				.pod = dup_or_null(pod),
				.labels = dup_or_null(labels),
				.ep_id = ep_id,
				.cluster = dup_or_null(cluster),
				.wl_kind = dup_or_null(wl_kind),
				.wl_name = dup_or_null(wl_name),
			};
		} else if (type == 'L') {
			d->lost += get_u64(&r);
		} else if (type == 'F') {
			struct sl_flow_view f = { 0 };
			const struct sl_flow_end *src, *dst;
			const uint8_t *a;
			uint8_t flags;
			int rc;

			f.time_ns = get_u64(&r);
			f.uuid_seq = get_u64(&r);
			f.uuid_boot = d->boot;
			f.kind = get_u8(&r);
			f.verdict = get_u8(&r);
			f.direction = get_u8(&r);
			f.protocol = get_u8(&r);
			f.match_kind = get_u8(&r);
			f.tcp_flags = get_u8(&r);
			flags = get_u8(&r);
			f.https = flags & F_HTTPS;
			f.drop_reason = get_u16(&r);
			a = take(&r, 32);
			if (a) {
				memcpy(f.saddr, a, 16);
				memcpy(f.daddr, a + 16, 16);
			}
			f.sport = get_u16(&r);
			f.dport = get_u16(&r);
			src = peer_get(d, get_u64(&r));
			dst = peer_get(d, get_u64(&r));
			if (flags & F_SVC) {
				f.svc_ns = get_str(&r);
				f.svc_name = get_str(&r);
				f.svc_port = get_u16(&r);
				if (!f.svc_name)
					r.bad = true;
			}
			if (flags & F_L7) {
				f.method = get_str(&r);
				f.url = get_str(&r);
				f.host = get_str(&r);
				f.http_protocol = get_str(&r);
				f.code = get_u16(&r);
				f.latency_ns = get_u64(&r);
			}
			if (f.kind == SL_FLOW_TRACE) {
				uint8_t t = get_u8(&r);

				f.trace_point = t & SLUICE_TRACE_POINT_MASK;
				f.is_reply = (t & SLUICE_TRACE_REPLY) != 0;
				if (t & ~(SLUICE_TRACE_POINT_MASK | SLUICE_TRACE_REPLY))
					r.bad = true;
			}
			if (flags & F_POLICY) {
				f.pol_kind = get_str(&r);
				f.pol_ns = get_str(&r);
				f.pol_name = get_str(&r);
				f.pol_denied = flags & F_POLICY_DENIED;
				if (!f.pol_kind || !f.pol_name)
					r.bad = true;
			}
			if (flags & ~(F_HTTPS | F_SVC | F_L7 | F_POLICY | F_POLICY_DENIED) ||
			    (flags & F_POLICY_DENIED && !(flags & F_POLICY)))
				r.bad = true;
			if (sl_flow_kind_is_l7(f.kind) != !!(flags & F_L7) ||
			    f.kind < SL_FLOW_L3L4 || f.kind > SL_FLOW_TRACE)
				r.bad = true;
			if (r.bad)
				break;
			if (!src || !dst)
				return sl_fail(err, -EPROTO, "observe stream: a flow names a peer it never described");
			f.src = *src;
			f.dst = *dst;
			rc = on_flow(ctx, &f, d->node);
			if (rc)
				return rc;
		} else {
			return sl_fail(err, -EPROTO, "observe stream: unknown record type 0x%02x", type);
		}
	}
	if (r.bad)
		return sl_fail(err, -EPROTO, "observe stream: a record is cut short or malformed");
	return 0;
}

void sl_wire_dec_free(struct sl_wire_dec *d)
{
	/* a slot holds strings only once a peer record filled it (id != 0) */
	for (unsigned i = 0; i < SL_WIRE_PEERS; i++) {
		if (d->peers[i].id)
			end_free(&d->peers[i].end);
		d->peers[i].id = 0;
	}
	free(d->node);
	d->node = NULL;
}
