/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json_stream.h - frames a byte stream of concatenated JSON objects (a
 * Kubernetes watch body) into whole objects, whatever the chunking.
 */
#ifndef SLUICE_K8S_JSON_STREAM_H
#define SLUICE_K8S_JSON_STREAM_H

#include <jansson.h>
#include <stddef.h>

struct k8s_json_stream {
	char *buf;          /* bytes of the object being framed */
	size_t len, cap;
	size_t max;         /* largest object accepted (bytes) */
	unsigned depth;     /* { and [ open, outside strings */
	unsigned char in_string, escaped;
	size_t offset;      /* stream offset of buf[0], for messages */
};

/* max 0: 64 MiB. */
void k8s_json_stream_init(struct k8s_json_stream *s, size_t max);
void k8s_json_stream_reset(struct k8s_json_stream *s);
void k8s_json_stream_free(struct k8s_json_stream *s);

/* Called once per complete object; `obj` is borrowed. A non-zero return
 * stops the feed and is returned by k8s_json_stream_feed. */
typedef int (*k8s_json_object_cb)(void *ctx, json_t *obj);

/* Feeds the next bytes. Returns 0, the callback's non-zero value, or
 * -EBADMSG (not a stream of objects: *err says where and why) / -EMSGSIZE. */
int k8s_json_stream_feed(struct k8s_json_stream *s, const char *data, size_t len,
			 k8s_json_object_cb cb, void *ctx, char **err);
/* True when bytes of an unfinished object are buffered (a stream that ends
 * here was cut mid-object). */
int k8s_json_stream_pending(const struct k8s_json_stream *s);

#endif
