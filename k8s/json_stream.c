/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json_stream.c - the watch body framer (see json_stream.h).
 *
 * The API server writes one JSON object per event, followed by "\n", but
 * HTTP chunks and TCP reads cut that stream anywhere: an event may span many
 * reads and one read may hold many events. We never trust the newline (a
 * pretty-printing proxy or a future server may drop it); instead a tiny
 * scanner tracks string/escape state and bracket depth, and every time the
 * depth returns to zero the bytes since the opening brace are one complete
 * object, handed to jansson. Only whitespace may separate objects.
 */
#include "json_stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define JSON_STREAM_DEFAULT_MAX (64u << 20)

void k8s_json_stream_init(struct k8s_json_stream *s, size_t max)
{
	memset(s, 0, sizeof(*s));
	s->max = max ? max : JSON_STREAM_DEFAULT_MAX;
}

void k8s_json_stream_reset(struct k8s_json_stream *s)
{
	s->len = 0;
	s->depth = 0;
	s->in_string = s->escaped = 0;
	s->offset = 0;
}

void k8s_json_stream_free(struct k8s_json_stream *s)
{
	free(s->buf);
	s->buf = NULL;
	s->len = s->cap = 0;
}

int k8s_json_stream_pending(const struct k8s_json_stream *s)
{
	return s->len > 0;
}

static int json_stream_append(struct k8s_json_stream *s, const char *data, size_t n, char **err)
{
	if (s->len + n > s->max)
		return sl_fail(err, EMSGSIZE, "watch stream: object at byte %zu is larger than %zu bytes",
			       s->offset, s->max);
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < s->len + n)
			cap *= 2;
		char *nb = realloc(s->buf, cap);
		if (!nb)
			return sl_fail(err, ENOMEM, "watch stream: out of memory");
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	return 0;
}

/* The object in buf[0..len) is complete: parse it and hand it over. */
static int json_stream_emit(struct k8s_json_stream *s, k8s_json_object_cb cb, void *ctx, char **err)
{
	json_error_t jerr;
	json_t *obj = json_loadb(s->buf, s->len, JSON_DISABLE_EOF_CHECK, &jerr);
	size_t at = s->offset;
	s->offset += s->len;
	s->len = 0;
	if (!obj)
		return sl_fail(err, EBADMSG, "watch stream: bad JSON object at byte %zu: %s (position %d)",
			       at, jerr.text, jerr.position);
	int r = cb(ctx, obj);
	json_decref(obj);
	return r;
}

int k8s_json_stream_feed(struct k8s_json_stream *s, const char *data, size_t len,
			 k8s_json_object_cb cb, void *ctx, char **err)
{
	size_t i = 0;
	while (i < len) {
		if (s->depth == 0) {
			/* between objects: whitespace, then '{' opens the next one */
			char ch = data[i];
			if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t') {
				i++;
				s->offset++;
				continue;
			}
			if (ch != '{')
				return sl_fail(err, EBADMSG,
					       "watch stream: expected '{' at byte %zu, got 0x%02x",
					       s->offset, (unsigned char)ch);
			s->depth = 1;
			s->in_string = s->escaped = 0;
			size_t start = i++;
			/* fall through to the scan below with the brace kept */
			int r = json_stream_append(s, data + start, 1, err);
			if (r)
				return r;
			continue;
		}
		/* inside an object: scan as far as this read goes, or to its end */
		size_t start = i;
		int done = 0;
		for (; i < len; i++) {
			char ch = data[i];
			if (s->in_string) {
				if (s->escaped)
					s->escaped = 0;
				else if (ch == '\\')
					s->escaped = 1;
				else if (ch == '"')
					s->in_string = 0;
				continue;
			}
			if (ch == '"') {
				s->in_string = 1;
			} else if (ch == '{' || ch == '[') {
				/* a depth this large is not an API object; it is
				 * also what keeps the counter from wrapping */
				if (++s->depth > 1000)
					return sl_fail(err, EBADMSG,
						       "watch stream: nesting deeper than 1000 at byte %zu",
						       s->offset + s->len + (i - start));
			} else if (ch == '}' || ch == ']') {
				if (--s->depth == 0) {
					i++;
					done = 1;
					break;
				}
			}
		}
		int r = json_stream_append(s, data + start, i - start, err);
		if (r)
			return r;
		if (done) {
			r = json_stream_emit(s, cb, ctx, err);
			if (r)
				return r;
		}
	}
	return 0;
}
