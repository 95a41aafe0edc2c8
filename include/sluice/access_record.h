/* SPDX-License-Identifier: Apache-2.0 */
/*
 * access_record.h - the proxy -> agent access records in their compact
 * binary form (docs/proxy-control.md, "Access records").
 *
 * Why binary and batched: at tens of thousands of requests per second, one
 * JSON datagram per request cost the agent more CPU per request than the
 * proxy spent serving it (a recvmsg and a wake-up, a JSON parse, a JSON
 * render, a write, per request). The proxy now appends each record to a
 * batch and sends the batch once per loop iteration (one datagram, at most
 * SLUICE_ACCESS_BATCH_MAX bytes); the agent walks it without parsing text.
 * Names are not in the record: the agent knows every local pod, and the
 * access log line (which does carry names) is written by the proxy itself.
 *
 * Both ends come from one build (the agent starts the proxy next to it),
 * so the layout is host byte order and is versioned by the magic alone.
 *
 * A batch: struct sluice_access_batch, then `count` records; each record is
 * struct sluice_access_rec followed by its strings (method, path, host, not
 * NUL-terminated), padded to 8 bytes; rec.size is the padded total.
 */
#ifndef SLUICE_ACCESS_RECORD_H
#define SLUICE_ACCESS_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* "SLA1": never the first bytes of a JSON message, which start with '{' */
#define SLUICE_ACCESS_MAGIC 0x31414c53u
#define SLUICE_ACCESS_BATCH_MAX (60u * 1024u)
/* longer strings are cut (the access log line is cut at 4 KiB anyway) */
#define SLUICE_ACCESS_METHOD_MAX 64u
#define SLUICE_ACCESS_HOST_MAX 512u
#define SLUICE_ACCESS_PATH_MAX 4096u

struct sluice_access_batch {
	uint32_t magic;           /* SLUICE_ACCESS_MAGIC */
	uint32_t count;           /* records that follow */
};

enum sluice_access_verdict {
	SLUICE_ACCESS_ALLOWED = 0,
	SLUICE_ACCESS_DENIED = 1,
	SLUICE_ACCESS_ERROR = 2,
};

/* the client spoke TLS to the proxy (flows show https://) */
#define SLUICE_ACCESS_F_TLS 0x1u
/* no request: the connection was closed at its TLS handshake (serverNames);
 * one denied flow, no response */
#define SLUICE_ACCESS_F_REFUSED 0x2u

struct sluice_access_rec {
	uint16_t size;            /* this record with its strings, multiple of 8 */
	uint8_t direction;        /* SLUICE_DIR_* of the enforcing endpoint */
	uint8_t verdict;          /* enum sluice_access_verdict */
	uint8_t http_minor;       /* HTTP/1.x */
	uint8_t reason;           /* the proxy's enum http_reason */
	uint16_t status;          /* sent to the client, 0 = none */
	uint32_t ep_id;
	uint16_t method_len, host_len, path_len;
	uint16_t src_port, dst_port;
	uint16_t flags;           /* SLUICE_ACCESS_F_* */
	uint32_t src_identity, dst_identity;
	uint8_t src_addr[16], dst_addr[16]; /* IPv4-mapped IPv6 for IPv4 */
	uint64_t time_us;         /* CLOCK_REALTIME of the request's first byte */
	uint64_t duration_ns;     /* first request byte -> last response byte (or verdict) */
	uint64_t upstream_latency_ns; /* request sent -> first response byte; 0 = never sent */
	uint64_t bytes_in, bytes_out;
	/* char method[method_len], host[host_len], path[path_len]; padding */
};

static inline size_t sluice_access_rec_size(size_t method_len, size_t host_len, size_t path_len)
{
	return (sizeof(struct sluice_access_rec) + method_len + host_len + path_len + 7) & ~(size_t)7;
}

/*
 * The record at *off of a batch body (after the batch header), or NULL at
 * the end or on a malformed record; advances *off. The strings follow it:
 * method at (char *)(rec + 1), then host, then path.
 */
static inline const struct sluice_access_rec *sluice_access_next(const void *body, size_t len,
								 size_t *off)
{
	const struct sluice_access_rec *r;

	if (*off + sizeof(*r) > len)
		return NULL;
	r = (const struct sluice_access_rec *)((const char *)body + *off);
	if (r->size < sizeof(*r) || r->size % 8 || *off + r->size > len ||
	    sluice_access_rec_size(r->method_len, r->host_len, r->path_len) != r->size)
		return NULL;
	*off += r->size;
	return r;
}

#endif /* SLUICE_ACCESS_RECORD_H */
