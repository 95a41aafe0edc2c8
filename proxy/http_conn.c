/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_conn.c - per-connection HTTP/1.x state machine (see http_conn.h).
 *
 * Every request goes through a strict byte scanner of our own that also
 * copies the header section, then llhttp on the complete copy. Where the two
 * could disagree (bare LF, obs-fold, "Host :", junk in the request line) the
 * scanner has already said no, so llhttp's own leniencies never decide what
 * a request means. llhttp's part is the method, the body framing, keep-alive
 * and upgrades; for a head without the fields those come from and with a
 * method from a short list, its answer is known and it is not asked
 * (http_head_plain(): a second parse of the most common request was a
 * tenth of the proxy's instructions). A response is llhttp's too, unless it
 * is simple enough to frame by its one Content-Length (http_resp_simple():
 * llhttp on every response was a quarter of the instructions, and the head
 * rewrite scanned the head twice more). The unit tests and the fuzzer run
 * every case both ways (http_conn_set_full_parse()).
 */
#include "http_conn.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "path.h"

struct http_field {
	uint32_t name_off;
	uint32_t val_off;
	uint16_t name_len;
	uint16_t val_len;
};

/* One request's header section and what we learnt from it. */
struct http_head {
	char *raw;
	uint32_t len, cap;
	/* scanner bookkeeping (offsets into raw) */
	uint32_t method_off, target_off, rl_end;
	uint32_t tok_off;        /* start of the field name being scanned */
	uint32_t val_start, val_end;
	uint16_t method_len;
	uint32_t target_len;
	uint16_t name_len;
	uint16_t nfields;
	uint8_t minor;
	bool val_started;
	bool hdr_seen;           /* llhttp called on_headers_complete */
	bool chunked;
	bool llhttp_fields;      /* a field llhttp interprets (http_head_plain()) */
	bool hop;                /* has hop-by-hop fields to drop (http_forward_head) */
	bool has_body;           /* Content-Length > 0 or chunked */
	bool retried;            /* sent again once (http_conn_retry) */
	bool upgrade;            /* llhttp: an upgrade request (not CONNECT's) */
	uint8_t method;          /* llhttp method */
	/* canonical target, stored in raw after the header section */
	uint32_t canon_off, canon_len, path_len;
	/* the head as it goes upstream when headerMatches edited its fields
	 * (built once: a retry sends it again; malloc'd, NULL: none) */
	char *edited;
	uint32_t edited_len;
	struct http_exchange x;
	struct http_field f[HTTP_MAX_FIELDS];
	char inl[];              /* raw's first HTTP_HEAD_INLINE bytes, same block */
};

/* Most header sections fit: one allocation per request, not two. */
#define HTTP_HEAD_INLINE 1024u

enum scan_state {
	SC_START, SC_START_LF, SC_METHOD, SC_TARGET, SC_VERSION, SC_RL_LF,
	SC_LINE_START, SC_NAME, SC_VALUE, SC_VALUE_LF, SC_END_LF,
};

static const char *const http_reason_names[HTTP_R_COUNT] = {
	[HTTP_R_NONE] = "",
	[HTTP_R_POLICY_ALLOWED] = "policy_allowed",
	[HTTP_R_POLICY_DENIED] = "policy_denied",
	[HTTP_R_NO_POLICY] = "no_policy",
	[HTTP_R_POLICY_INVALID] = "policy_invalid",
	[HTTP_R_REGEX_LIMIT] = "regex_match_limit",
	[HTTP_R_REQUEST_LINE] = "bad_request_line",
	[HTTP_R_BARE_CR] = "bare_cr",
	[HTTP_R_BARE_LF] = "bare_lf",
	[HTTP_R_OBS_FOLD] = "obs_fold",
	[HTTP_R_HEADER_NAME] = "bad_header_name",
	[HTTP_R_HEADER_WHITESPACE] = "header_whitespace",
	[HTTP_R_HEADER_CTL] = "header_control_byte",
	[HTTP_R_VERSION] = "bad_version",
	[HTTP_R_HOST] = "bad_host",
	[HTTP_R_CL_TE] = "content_length_with_transfer_encoding",
	[HTTP_R_TRANSFER_ENCODING] = "bad_transfer_encoding",
	[HTTP_R_CONTENT_LENGTH] = "bad_content_length",
	[HTTP_R_TARGET_FORM] = "bad_target_form",
	[HTTP_R_FRAGMENT] = "fragment_in_target",
	[HTTP_R_PATH] = "bad_path",
	[HTTP_R_CHUNK] = "bad_chunk",
	[HTTP_R_PARSER] = "parse_error",
	[HTTP_R_UPGRADE_H2C] = "h2c_upgrade",
	[HTTP_R_HEADERS_TOO_LARGE] = "headers_too_large",
	[HTTP_R_TOO_MANY_FIELDS] = "too_many_headers",
	[HTTP_R_HEADER_TIMEOUT] = "header_timeout",
	[HTTP_R_DRAIN_LIMIT] = "drain_limit",
	[HTTP_R_UPSTREAM_CONNECT] = "upstream_connect_error",
	[HTTP_R_UPSTREAM_RESET] = "upstream_reset",
	[HTTP_R_BAD_RESPONSE] = "bad_upstream_response",
	[HTTP_R_CLIENT_CLOSED] = "client_closed",
	[HTTP_R_TIMEOUT] = "timeout",
	[HTTP_R_UPSTREAM_TLS] = "upstream_tls",
	[HTTP_R_TLS_SERVER_NAME] = "tls_server_name",
};

const char *http_reason_name(enum http_reason r)
{
	if ((unsigned)r >= HTTP_R_COUNT || !http_reason_names[r])
		return "unknown";
	return http_reason_names[r];
}

static uint64_t http_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* RFC 9110 tchar: ALPHA DIGIT and "!#$%&'*+-.^_`|~" */
static const bool http_tchar_tab[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1,
	['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,
	['~'] = 1, ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
};

static inline bool http_tchar(unsigned char c)
{
	return http_tchar_tab[c];
}

/* A byte of a request target or a field value that needs no decision:
 * visible ASCII or obs-text (not SP, HTAB, controls or DEL). */
static inline bool http_vchar(unsigned char c)
{
	return c > 0x20 && c != 0x7f;
}

/* ---- local responses ---------------------------------------------------- */

/* Local answers. A HEAD request gets the same header section, without the
 * body, or the client would read the body as the next response. */
static void http_reply(struct http_conn *c, int status, bool close)
{
	const char *phrase, *body;
	char buf[256];
	bool head_req = c->head && c->head->method_len == 4 &&
			!memcmp(c->head->raw + c->head->method_off, "HEAD", 4);
	int n;

	switch (status) {
	case 403: phrase = "Forbidden"; body = "Access denied\r\n"; break;
	case 400: phrase = "Bad Request"; body = "Bad Request\r\n"; break;
	case 408: phrase = "Request Timeout"; body = "Request Timeout\r\n"; break;
	case 431: phrase = "Request Header Fields Too Large"; body = "Request Header Fields Too Large\r\n"; break;
	case 502: phrase = "Bad Gateway";
		body = c->head && c->head->x.reason == HTTP_R_UPSTREAM_TLS ?
		       "upstream TLS error\r\n" : "upstream reset\r\n";
		break;
	case 503: phrase = "Service Unavailable"; body = "upstream connect error\r\n"; break;
	case 504: phrase = "Gateway Timeout"; body = "upstream timeout\r\n"; break;
	default: phrase = "Error"; body = "Error\r\n"; break;
	}
	n = snprintf(buf, sizeof(buf),
		     "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nContent-Type: text/plain\r\n"
		     "%s\r\n%s", status, phrase, strlen(body),
		     close ? "Connection: close\r\n" : "", head_req ? "" : body);
	c->ops->to_client(c->ctx, buf, (size_t)n);
	c->resp_started = true;
	if (c->head) {
		c->head->x.status = status;
		c->head->x.bytes_out += (uint64_t)n;
	}
}

/* ---- exchange lifecycle -------------------------------------------------- */

void http_head_cache_clear(struct http_head_cache *hc)
{
	while (hc->n)
		free(hc->v[--hc->n]);
}

static bool http_head_start(struct http_conn *c)
{
	struct http_head *h = c->heads && c->heads->n ? c->heads->v[--c->heads->n] :
			      malloc(sizeof(*h) + HTTP_HEAD_INLINE);

	if (!h)
		return false;
	/* only the fixed part needs clearing; fields are written before use */
	memset(h, 0, offsetof(struct http_head, f));
	h->cap = HTTP_HEAD_INLINE;
	h->raw = h->inl;
	h->x.start_ns = http_now_ns();
	h->x.http_minor = 1;
	c->head = h;
	c->nreq++;
	c->scan_state = SC_START;
	c->scan_ver = 0;
	c->allowed = false;
	c->req_done = false;
	c->resp_started = false;
	c->resp_done = false;
	c->resp_left = 0;
	c->req_upgrade = false;
	c->up_reusable = false;
	c->last_chunk = false;
	c->drained = 0;
	c->chunk_ext = 0;
	/* continue the parser after the previous message */
	switch (llhttp_get_errno(&c->req)) {
	case HPE_PAUSED:
		llhttp_resume(&c->req);
		break;
	case HPE_PAUSED_UPGRADE:
		llhttp_resume_after_upgrade(&c->req);
		break;
	default:
		break;
	}
	return true;
}

static void http_head_free(struct http_conn *c)
{
	if (!c->head)
		return;
	if (c->head->raw != c->head->inl)
		free(c->head->raw); /* grown: only the inline part is kept */
	if (c->head->edited) { /* may hold a secret's value: see http_head_edit */
		explicit_bzero(c->head->edited, c->head->edited_len);
		free(c->head->edited);
	}
	if (c->heads && c->heads->n < HTTP_HEAD_CACHE_MAX)
		c->heads->v[c->heads->n++] = c->head;
	else
		free(c->head);
	c->head = NULL;
}

/* Reports the exchange and moves on: next request or closing. */
static void http_exchange_end(struct http_conn *c, bool close)
{
	struct http_head *h = c->head;

	if (h) {
		h->x.end_ns = c->end_ns ? c->end_ns : http_now_ns();
		c->end_ns = 0;
		if (c->ops->done)
			c->ops->done(c->ctx, &h->x);
		http_head_free(c);
	}
	if (close || c->client_eof || !c->keep_alive || c->draining)
		c->phase = HTTP_PH_CLOSING;
	else
		c->phase = HTTP_PH_IDLE;
}

/* Answers a request that failed a check, then closes. */
static void http_reject(struct http_conn *c, int status, enum http_reason why)
{
	if (c->head) {
		c->head->x.verdict = HTTP_VERDICT_ERROR;
		c->head->x.reason = why;
	}
	if (!c->resp_started)
		http_reply(c, status, true);
	http_exchange_end(c, true);
}

/* ---- llhttp callbacks ---------------------------------------------------- */

static int http_req_on_headers_complete(llhttp_t *p)
{
	struct http_conn *c = p->data;

	if (c->head)
		c->head->hdr_seen = true;
	return 0;
}

static int http_req_on_body(llhttp_t *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;

	if (c->allowed) {
		c->ops->to_upstream(c->ctx, at, len);
		return 0;
	}
	c->drained += len;
	if (c->drained > HTTP_DRAIN_MAX) {
		llhttp_set_error_reason(p, "drain limit");
		return HPE_USER;
	}
	return 0;
}

static int http_req_on_chunk_header(llhttp_t *p)
{
	struct http_conn *c = p->data;
	char line[32];
	int n;

	c->chunk_ext = 0;
	if (p->content_length == 0) {
		c->last_chunk = true;
		return 0;
	}
	if (c->allowed) {
		n = snprintf(line, sizeof(line), "%llx\r\n", (unsigned long long)p->content_length);
		c->ops->to_upstream(c->ctx, line, (size_t)n);
	}
	return 0;
}

static int http_req_on_chunk_ext(llhttp_t *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;

	(void)at;
	c->chunk_ext += (uint32_t)len;
	if (c->chunk_ext > HTTP_MAX_CHUNK_EXT) {
		llhttp_set_error_reason(p, "chunk extensions too long");
		return HPE_USER;
	}
	return 0;
}

static int http_req_on_chunk_complete(llhttp_t *p)
{
	struct http_conn *c = p->data;

	if (c->allowed && !c->last_chunk)
		c->ops->to_upstream(c->ctx, "\r\n", 2);
	return 0;
}

static int http_req_on_message_complete(llhttp_t *p)
{
	struct http_conn *c = p->data;

	if (c->allowed && c->head && c->head->chunked)
		c->ops->to_upstream(c->ctx, "0\r\n\r\n", 5); /* trailers dropped */
	/* an upgrade pauses by itself (HPE_PAUSED_UPGRADE) */
	return p->upgrade ? 0 : HPE_PAUSED;
}

static int http_resp_on_headers_complete(llhttp_t *p)
{
	struct http_conn *c = p->data;
	int status = p->status_code;

	if (status >= 100 && status < 200 && status != 101)
		return 0; /* interim: no body, another response follows */
	if (c->head) {
		c->head->x.status = status;
		if (c->head->method == HTTP_HEAD || status == 204 || status == 304)
			return 1; /* no body, whatever the headers say */
		if (c->head->method == HTTP_CONNECT && status >= 200 && status < 300)
			return 2; /* tunnel */
	}
	return 0;
}

static int http_resp_on_message_complete(llhttp_t *p)
{
	int status = p->status_code;

	if (status >= 100 && status < 200 && status != 101)
		return 0;
	if (p->upgrade)
		return 0;
	return HPE_PAUSED;
}

static const llhttp_settings_t http_req_settings = {
	.on_headers_complete = http_req_on_headers_complete,
	.on_body = http_req_on_body,
	.on_chunk_header = http_req_on_chunk_header,
	.on_chunk_extension_name = http_req_on_chunk_ext,
	.on_chunk_extension_value = http_req_on_chunk_ext,
	.on_chunk_complete = http_req_on_chunk_complete,
	.on_message_complete = http_req_on_message_complete,
};

static const llhttp_settings_t http_resp_settings = {
	.on_headers_complete = http_resp_on_headers_complete,
	.on_message_complete = http_resp_on_message_complete,
};

void http_conn_init(struct http_conn *c, const struct http_conn_ops *ops, void *ctx)
{
	memset(c, 0, sizeof(*c));
	c->ops = ops;
	c->ctx = ctx;
	c->phase = HTTP_PH_IDLE;
	c->keep_alive = true;
	llhttp_init(&c->req, HTTP_REQUEST, &http_req_settings);
	llhttp_init(&c->resp, HTTP_RESPONSE, &http_resp_settings);
	c->req.data = c;
	c->resp.data = c;
}

void http_conn_release(struct http_conn *c, enum http_reason why)
{
	struct http_head *h = c->head;

	if (h && (h->nfields || h->method_len) && c->phase != HTTP_PH_HEAD) {
		/* an exchange that started but never finished */
		if (h->x.verdict == HTTP_VERDICT_ALLOWED && !c->resp_done) {
			h->x.verdict = HTTP_VERDICT_ERROR;
			h->x.reason = why;
		}
		h->x.end_ns = http_now_ns();
		if (c->ops->done)
			c->ops->done(c->ctx, &h->x);
	}
	http_head_free(c);
	free(c->rh_buf);
	c->rh_buf = NULL;
	c->rh_len = c->rh_cap = 0;
	c->phase = HTTP_PH_CLOSING;
}

/* ---- the header scanner ------------------------------------------------- */

/* raw to ncap bytes (out of the inline part the first time); keeps len */
static bool http_raw_grow(struct http_head *h, uint32_t ncap)
{
	char *n;

	if (h->raw == h->inl) {
		n = malloc(ncap);
		if (n)
			memcpy(n, h->raw, h->len);
	} else {
		n = realloc(h->raw, ncap);
	}
	if (!n)
		return false;
	h->raw = n;
	h->cap = ncap;
	return true;
}

/*
 * Scans [p, p+n) as the continuation of the header section. Returns 1 when
 * the section ended (*used = bytes up to and including its final LF), 0 when
 * more is needed (*used = n), or a negative enum http_reason.
 */
static int http_head_scan(struct http_conn *c, const char *p, size_t n, size_t *used)
{
	struct http_head *h = c->head;
	uint32_t base = h->len;
	size_t i;
	int ret = 0;
	uint8_t st = c->scan_state;

	/* no byte at or past HTTP_MAX_HEADER_BYTES is looked at */
	size_t end = base >= HTTP_MAX_HEADER_BYTES ? 0 :
		     n < HTTP_MAX_HEADER_BYTES - base ? n : HTTP_MAX_HEADER_BYTES - base;

	/* The runs inside a method, target, field name or value take inner
	 * loops (nothing to decide per byte there); every other byte goes
	 * through the switch. */
	for (i = 0; i < end; i++) {
		unsigned char ch = (unsigned char)p[i];
		uint32_t off = base + (uint32_t)i;

		switch (st) {
		case SC_START:
			if (ch == '\r') {
				st = SC_START_LF;
			} else if (http_tchar(ch)) {
				h->method_off = off;
				st = SC_METHOD;
			} else {
				ret = -HTTP_R_REQUEST_LINE;
			}
			break;
		case SC_START_LF:
			if (ch == '\n')
				st = SC_START;
			else
				ret = -HTTP_R_BARE_CR;
			break;
		case SC_METHOD:
			if (ch == ' ') {
				h->method_len = (uint16_t)(off - h->method_off);
				h->target_off = off + 1;
				st = SC_TARGET;
			} else if (!http_tchar(ch)) {
				ret = -HTTP_R_REQUEST_LINE;
			} else {
				while (i + 1 < end && http_tchar((unsigned char)p[i + 1]))
					i++;
			}
			break;
		case SC_TARGET:
			if (http_vchar(ch)) {
				while (i + 1 < end && http_vchar((unsigned char)p[i + 1]))
					i++;
			} else if (ch == ' ') {
				h->target_len = off - h->target_off;
				if (!h->target_len)
					ret = -HTTP_R_REQUEST_LINE;
				c->scan_ver = 0;
				st = SC_VERSION;
			} else if (ch <= 0x20 || ch == 0x7f) {
				ret = -HTTP_R_REQUEST_LINE;
			}
			break;
		case SC_VERSION: {
			uint8_t k = c->scan_ver++;
			if (k < 5) {
				if (ch != (unsigned char)"HTTP/"[k])
					ret = -HTTP_R_REQUEST_LINE;
			} else if (k == 5) {
				if (ch != '1')
					ret = -HTTP_R_VERSION;
			} else if (k == 6) {
				if (ch != '.')
					ret = -HTTP_R_VERSION;
			} else if (k == 7) {
				if (ch != '0' && ch != '1')
					ret = -HTTP_R_VERSION;
				h->minor = (uint8_t)(ch - '0');
			} else if (ch == '\r') {
				st = SC_RL_LF;
			} else {
				ret = -HTTP_R_REQUEST_LINE;
			}
			break;
		}
		case SC_RL_LF:
			if (ch == '\n') {
				h->rl_end = off + 1;
				st = SC_LINE_START;
			} else {
				ret = -HTTP_R_BARE_CR;
			}
			break;
		case SC_LINE_START:
			if (ch == '\r') {
				st = SC_END_LF;
			} else if (ch == '\n') {
				ret = -HTTP_R_BARE_LF;
			} else if (ch == ' ' || ch == '\t') {
				ret = h->nfields ? -HTTP_R_OBS_FOLD : -HTTP_R_HEADER_WHITESPACE;
			} else if (http_tchar(ch)) {
				if (h->nfields >= HTTP_MAX_FIELDS) {
					ret = -HTTP_R_TOO_MANY_FIELDS;
					break;
				}
				h->tok_off = off;
				st = SC_NAME;
			} else {
				ret = -HTTP_R_HEADER_NAME;
			}
			break;
		case SC_NAME:
			if (ch == ':') {
				h->name_len = (uint16_t)(off - h->tok_off);
				h->val_started = false;
				h->val_start = h->val_end = off + 1;
				st = SC_VALUE;
			} else if (ch == ' ' || ch == '\t') {
				ret = -HTTP_R_HEADER_WHITESPACE;
			} else if (ch == '\n') {
				ret = -HTTP_R_BARE_LF;
			} else if (!http_tchar(ch)) {
				ret = -HTTP_R_HEADER_NAME;
			} else {
				while (i + 1 < end && http_tchar((unsigned char)p[i + 1]))
					i++;
			}
			break;
		case SC_VALUE:
			if (ch == '\r') {
				st = SC_VALUE_LF;
			} else if (ch == '\n') {
				ret = -HTTP_R_BARE_LF;
			} else if (ch == ' ' || ch == '\t') {
				/* optional whitespace: trimmed at either end */
			} else if (ch < 0x20 || ch == 0x7f) {
				ret = -HTTP_R_HEADER_CTL;
			} else {
				if (!h->val_started) {
					h->val_started = true;
					h->val_start = off;
				}
				while (i + 1 < end && http_vchar((unsigned char)p[i + 1]))
					i++;
				h->val_end = base + (uint32_t)i + 1;
			}
			break;
		case SC_VALUE_LF:
			if (ch == '\n') {
				struct http_field *f = &h->f[h->nfields++];
				f->name_off = h->tok_off;
				f->name_len = h->name_len;
				f->val_off = h->val_start;
				f->val_len = (uint16_t)(h->val_end - h->val_start);
				st = SC_LINE_START;
			} else {
				ret = -HTTP_R_BARE_CR;
			}
			break;
		case SC_END_LF:
			if (ch == '\n')
				ret = 1;
			else
				ret = -HTTP_R_BARE_CR;
			break;
		}
		if (ret)
			break;
	}
	if (!ret && end < n)
		ret = -HTTP_R_HEADERS_TOO_LARGE;
	c->scan_state = st;
	if (ret < 0)
		return ret;
	*used = ret ? i + 1 : n;
	/* keep a copy; the canonical target will need up to target_len more */
	if (h->len + *used > h->cap) {
		uint32_t ncap = h->cap;
		while (ncap < h->len + *used)
			ncap *= 2;
		if (!http_raw_grow(h, ncap))
			return -HTTP_R_HEADERS_TOO_LARGE;
	}
	memcpy(h->raw + h->len, p, *used);
	h->len += (uint32_t)*used;
	return ret;
}

/* ---- semantic checks ---------------------------------------------------- */

static bool http_name_is(const struct http_head *h, const struct http_field *f,
			 const char *name, size_t len)
{
	return f->name_len == len && !strncasecmp(h->raw + f->name_off, name, len);
}

/* host = IP-literal / reg-name, optional ":" port (RFC 3986) */
static bool http_authority_valid(const char *s, size_t n, bool need_port)
{
	size_t i = 0;

	if (!n)
		return false;
	if (s[0] == '[') {
		for (i = 1; i < n && s[i] != ']'; i++)
			if (!(isxdigit((unsigned char)s[i]) || s[i] == ':' || s[i] == '.'))
				return false;
		if (i >= n || i == 1)
			return false;
		i++;
	} else {
		/* reg-name: ALPHA DIGIT "-._~!$&'()*+,;=%" */
		static const bool ok[256] = {
			['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1, ['!'] = 1, ['$'] = 1,
			['&'] = 1, ['\''] = 1, ['('] = 1, [')'] = 1, ['*'] = 1, ['+'] = 1,
			[','] = 1, [';'] = 1, ['='] = 1, ['%'] = 1, ['0' ... '9'] = 1,
			['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
		};
		for (; i < n && s[i] != ':'; i++)
			if (!ok[(unsigned char)s[i]])
				return false;
		if (i == 0)
			return false;
	}
	if (i == n)
		return !need_port;
	if (s[i] != ':' || i + 1 == n || n - i - 1 > 5)
		return false;
	for (i++; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static bool http_token_list_has(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok);

	for (size_t i = 0; i + tl <= n; i++)
		if (!strncasecmp(v + i, tok, tl))
			return true;
	return false;
}

/* ---- hop-by-hop fields (RFC 9110 7.6.1) ---------------------------------- */

/*
 * The client's connection is not the upstream's: an upstream connection
 * outlives the client connection that opened it and carries other clients'
 * requests (proxy.c's pool), so the fields that describe one connection are
 * not passed on: Connection and the fields it names, Keep-Alive,
 * Proxy-Connection, TE (but "TE: trailers", which says something end to
 * end), Trailer (trailers of requests are dropped when re-chunking), and
 * Upgrade unless this request is an upgrade being proxied (then Connection
 * and Upgrade go through as they are, and the connection becomes a tunnel
 * that is never reused). Host, Content-Length and Transfer-Encoding are the
 * framing this proxy itself relies on: never dropped, even when Connection
 * names them. The client's own "Connection: close" still closes the client
 * connection after its response (c->keep_alive, from llhttp).
 */
static bool http_hop_fixed(const struct http_head *h, const struct http_field *f)
{
	switch (f->name_len) {
	case 2:
		/* TE: "trailers" alone is end to end */
		return http_name_is(h, f, "te", 2) &&
		       !(f->val_len == 8 && !strncasecmp(h->raw + f->val_off, "trailers", 8));
	case 7:
		return http_name_is(h, f, "trailer", 7);
	case 10:
		return http_name_is(h, f, "connection", 10) || http_name_is(h, f, "keep-alive", 10);
	case 16:
		return http_name_is(h, f, "proxy-connection", 16);
	default:
		return false;
	}
}

/* Does the Connection value [v, end) list the token name (any case)? */
static bool http_token_listed(const char *v, const char *end, const char *name, size_t len)
{
	while (v < end) {
		const char *t;

		while (v < end && (*v == ',' || *v == ' ' || *v == '\t'))
			v++;
		t = v;
		while (v < end && *v != ',' && *v != ' ' && *v != '\t')
			v++;
		if ((size_t)(v - t) == len && len && !strncasecmp(t, name, len))
			return true;
	}
	return false;
}

/* Is field f's name one of the tokens of a Connection field? */
static bool http_named_by_connection(const struct http_head *h, const struct http_field *f)
{
	for (unsigned i = 0; i < h->nfields; i++) {
		const struct http_field *cf = &h->f[i];
		const char *v = h->raw + cf->val_off;

		if (http_name_is(h, cf, "connection", 10) &&
		    http_token_listed(v, v + cf->val_len, h->raw + f->name_off, f->name_len))
			return true;
	}
	return false;
}

/* Whether field i stays in the request sent upstream. */
static bool http_field_forwarded(const struct http_conn *c, unsigned i)
{
	const struct http_head *h = c->head;
	const struct http_field *f = &h->f[i];
	bool upgrade = h->upgrade && h->method != HTTP_CONNECT;

	if (http_name_is(h, f, "host", 4) || http_name_is(h, f, "content-length", 14) ||
	    http_name_is(h, f, "transfer-encoding", 17))
		return true; /* our own framing: see above */
	if (upgrade && (http_name_is(h, f, "connection", 10) || http_name_is(h, f, "upgrade", 7)))
		return true;
	if (http_name_is(h, f, "upgrade", 7))
		return false;
	return !http_hop_fixed(h, f) && !http_named_by_connection(h, f);
}

/*
 * The request head as it goes upstream: the canonical target, then the
 * header section without its hop-by-hop fields (runs of kept lines are
 * passed as they are). Also what a retry sends again.
 */
static void http_forward_head(struct http_conn *c)
{
	static const char v10[] = " HTTP/1.0\r\n", v11[] = " HTTP/1.1\r\n";
	struct http_head *h = c->head;
	uint32_t run = h->rl_end; /* start of the lines not yet sent */

	c->rh_pending = true; /* the response's head is rewritten (http_resp_out) */
	c->rh_len = 0;
	if (c->adopting)
		return; /* the kernel sent it (http_conn_adopt()) */

	if (h->edited) {
		c->ops->to_upstream(c->ctx, h->edited, h->edited_len);
		return;
	}
	if (!h->hop && h->method_off == 0 && h->canon_len == h->target_len &&
	    !memcmp(h->raw + h->canon_off, h->raw + h->target_off, h->target_len)) {
		/* nothing to drop and the target is canonical already: the
		 * scanner's copy is what would be rebuilt, byte for byte */
		c->ops->to_upstream(c->ctx, h->raw, h->len);
		return;
	}
	c->ops->to_upstream(c->ctx, h->x.method, h->method_len + 1u);
	c->ops->to_upstream(c->ctx, h->raw + h->canon_off, h->canon_len);
	c->ops->to_upstream(c->ctx, h->minor ? v11 : v10, sizeof(v11) - 1);
	if (h->hop) {
		for (unsigned i = 0; i < h->nfields; i++) {
			uint32_t start = h->f[i].name_off;
			uint32_t end = i + 1 < h->nfields ? h->f[i + 1].name_off : h->len - 2;

			if (http_field_forwarded(c, i))
				continue;
			if (start > run)
				c->ops->to_upstream(c->ctx, h->raw + run, start - run);
			run = end;
		}
	}
	if (h->minor == 0 && c->keep_alive && h->hop) {
		/* an HTTP/1.0 client's keep-alive, dropped above, is also what
		 * the upstream must see to keep its connection open */
		static const char ka[] = "Connection: keep-alive\r\n\r\n";
		c->ops->to_upstream(c->ctx, h->raw + run, h->len - 2 - run);
		c->ops->to_upstream(c->ctx, ka, sizeof(ka) - 1);
		return;
	}
	c->ops->to_upstream(c->ctx, h->raw + run, h->len - run);
}

struct http_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void http_buf_add(struct http_buf *b, const char *p, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t ncap = (b->len + n) * 2;
		char *np = malloc(ncap);

		if (!np) {
			b->oom = true;
			return;
		}
		if (b->len)
			memcpy(np, b->p, b->len);
		if (b->p)
			explicit_bzero(b->p, b->len);
		free(b->p);
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

/*
 * The head with headerMatches' edits (rules.h): the request line and the
 * fields http_forward_head would send, less the fields an edit removed,
 * then the fields the edits added that no later edit removed, in order.
 * The edits' strings belong to the rules table, which a swap may free
 * before a retry: the head is built here, once. Its bytes may include a
 * secret's value (a REPLACE from a secret), so the buffer is wiped before
 * it is freed, when it grows and in http_head_free. false: no memory.
 */
static bool http_head_edit(struct http_conn *c, const struct proxy_header_edits *ed)
{
	static const char v10[] = " HTTP/1.0\r\n", v11[] = " HTTP/1.1\r\n";
	struct http_head *h = c->head;
	struct http_buf b = { 0 };

	http_buf_add(&b, h->x.method, h->method_len + 1u);
	http_buf_add(&b, h->raw + h->canon_off, h->canon_len);
	http_buf_add(&b, h->minor ? v11 : v10, sizeof(v11) - 1);
	for (unsigned i = 0; i < h->nfields; i++) {
		const struct http_field *f = &h->f[i];
		uint32_t end = i + 1 < h->nfields ? h->f[i + 1].name_off : h->len - 2;

		if ((h->hop && !http_field_forwarded(c, i)) ||
		    proxy_header_edits_remove(ed, 0, h->raw + f->name_off, f->name_len))
			continue;
		http_buf_add(&b, h->raw + f->name_off, end - f->name_off);
	}
	for (size_t k = 0; k < ed->n; k++) {
		const struct proxy_header_edit *e = &ed->v[k];

		if (!e->value || proxy_header_edits_remove(ed, k + 1, e->name, e->name_len))
			continue;
		http_buf_add(&b, e->name, e->name_len);
		http_buf_add(&b, ": ", 2);
		http_buf_add(&b, e->value, e->value_len);
		http_buf_add(&b, "\r\n", 2);
	}
	if (h->minor == 0 && c->keep_alive && h->hop) {
		static const char ka[] = "Connection: keep-alive\r\n";
		http_buf_add(&b, ka, sizeof(ka) - 1);
	}
	http_buf_add(&b, "\r\n", 2);
	if (b.oom || b.len > UINT32_MAX) {
		if (b.p)
			explicit_bzero(b.p, b.len);
		free(b.p);
		return false;
	}
	h->edited = b.p;
	h->edited_len = (uint32_t)b.len;
	return true;
}

/* Returns 0 or a negative enum http_reason. Sets host/canonical target. */
static int http_head_check(struct http_conn *c)
{
	struct http_head *h = c->head;
	const struct http_field *host = NULL, *cl = NULL, *te = NULL;
	unsigned nhost = 0, ncl = 0, nte = 0;
	const char *target = h->raw + h->target_off;

	h->x.http_minor = h->minor;
	h->x.method = h->raw + h->method_off;
	h->x.method_len = h->method_len;
	for (unsigned i = 0; i < h->nfields; i++) {
		const struct http_field *f = &h->f[i];
		if (http_name_is(h, f, "host", 4)) {
			host = f;
			nhost++;
		} else if (http_name_is(h, f, "content-length", 14)) {
			cl = f;
			ncl++;
			h->llhttp_fields = true;
		} else if (http_name_is(h, f, "transfer-encoding", 17)) {
			te = f;
			nte++;
			h->llhttp_fields = true;
		} else if (http_name_is(h, f, "upgrade", 7)) {
			if (http_token_list_has(h->raw + f->val_off, f->val_len, "h2c"))
				return -HTTP_R_UPGRADE_H2C;
			h->hop = true;
			h->llhttp_fields = true;
		} else if (http_name_is(h, f, "http2-settings", 14)) {
			return -HTTP_R_UPGRADE_H2C;
		} else if (http_hop_fixed(h, f)) {
			h->hop = true;
			if (f->name_len >= 10 && (http_name_is(h, f, "connection", 10) ||
						  http_name_is(h, f, "proxy-connection", 16)))
				h->llhttp_fields = true;
		}
	}
	if (nhost > 1 || (h->minor == 1 && nhost == 0))
		return -HTTP_R_HOST;
	if (host) {
		if (!http_authority_valid(h->raw + host->val_off, host->val_len, false))
			return -HTTP_R_HOST;
		h->x.host = h->raw + host->val_off;
		h->x.host_len = host->val_len;
	} else {
		h->x.host = "";
	}
	if (ncl && nte)
		return -HTTP_R_CL_TE;
	if (ncl > 1)
		return -HTTP_R_CONTENT_LENGTH;
	if (cl) {
		if (!cl->val_len || cl->val_len > 18)
			return -HTTP_R_CONTENT_LENGTH;
		for (unsigned i = 0; i < cl->val_len; i++)
			if (!isdigit((unsigned char)h->raw[cl->val_off + i]))
				return -HTTP_R_CONTENT_LENGTH;
	}
	if (nte > 1 || (te && h->minor == 0))
		return -HTTP_R_TRANSFER_ENCODING;
	if (te) {
		if (te->val_len != 7 || strncasecmp(h->raw + te->val_off, "chunked", 7))
			return -HTTP_R_TRANSFER_ENCODING;
		h->chunked = true;
	}
	if (memchr(target, '#', h->target_len))
		return -HTTP_R_FRAGMENT;

	/* the canonical target goes after the header section in raw */
	if (h->cap < h->len + h->target_len) {
		if (!http_raw_grow(h, h->len + h->target_len))
			return -HTTP_R_HEADERS_TOO_LARGE;
		target = h->raw + h->target_off;
		h->x.method = h->raw + h->method_off;
		if (host)
			h->x.host = h->raw + host->val_off;
	}
	h->canon_off = h->len;
	if (h->method_len == 7 && !memcmp(h->x.method, "CONNECT", 7)) {
		if (!http_authority_valid(target, h->target_len, true))
			return -HTTP_R_TARGET_FORM;
		memcpy(h->raw + h->canon_off, target, h->target_len);
		h->canon_len = h->target_len;
		h->path_len = 0; /* rules see an empty path for CONNECT */
	} else if (h->target_len == 1 && target[0] == '*') {
		if (!(h->method_len == 7 && !memcmp(h->x.method, "OPTIONS", 7)))
			return -HTTP_R_TARGET_FORM;
		h->raw[h->canon_off] = '*';
		h->canon_len = h->path_len = 1;
	} else if (target[0] != '/') {
		return -HTTP_R_TARGET_FORM; /* absolute-form, authority-form, junk */
	} else {
		size_t plen, tlen;
		int rc = proxy_path_canon(target, h->target_len, h->raw + h->canon_off,
					  h->target_len, &plen, &tlen);
		if (rc == PROXY_PATH_ERR_FRAGMENT)
			return -HTTP_R_FRAGMENT;
		if (rc)
			return -HTTP_R_PATH;
		/* rules, access logs and flows see the canonical path WITH its
		 * query, as Envoy's ":path" has it (Cilium S3): a rule "/public"
		 * does not allow "/public?x=1" */
		h->canon_len = h->path_len = (uint32_t)tlen;
		(void)plen;
	}
	h->x.path = h->raw + h->canon_off;
	h->x.path_len = h->path_len;
	return 0;
}

/*
 * The llhttp method of a checked head whose outcome in llhttp is known, or
 * -1 (ask llhttp). Known: a method llhttp accepts from this list, and none
 * of the fields llhttp reads meaning from (Connection, Proxy-Connection,
 * Content-Length, Transfer-Encoding, Upgrade): llhttp then sees a complete
 * message without a body, no upgrade, kept alive for HTTP/1.1 and not for
 * HTTP/1.0, and has nothing to refuse that the scanner and the checks let
 * through (token names, values without controls, an origin-form or "*"
 * target of visible bytes, HTTP/1.0 or 1.1: the unit tests compare every
 * case and every byte both ways).
 */
static int http_head_plain(const struct http_conn *c)
{
	static const struct { char name[8]; uint8_t len, method; } known[] = {
		{ "GET", 3, HTTP_GET }, { "HEAD", 4, HTTP_HEAD }, { "POST", 4, HTTP_POST },
		{ "PUT", 3, HTTP_PUT }, { "DELETE", 6, HTTP_DELETE },
		{ "OPTIONS", 7, HTTP_OPTIONS }, { "PATCH", 5, HTTP_PATCH },
	};
	const struct http_head *h = c->head;

	if (c->full_parse || h->llhttp_fields)
		return -1;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (h->method_len == known[i].len &&
		    !memcmp(h->raw + h->method_off, known[i].name, known[i].len))
			return known[i].method;
	return -1;
}

static int http_reason_status(enum http_reason r)
{
	switch (r) {
	case HTTP_R_HEADERS_TOO_LARGE:
	case HTTP_R_TOO_MANY_FIELDS:
		return 431;
	default:
		return 400;
	}
}

static enum http_reason http_llhttp_reason(llhttp_errno_t e)
{
	switch (e) {
	case HPE_UNEXPECTED_CONTENT_LENGTH: return HTTP_R_CL_TE;
	case HPE_INVALID_CONTENT_LENGTH: return HTTP_R_CONTENT_LENGTH;
	case HPE_INVALID_TRANSFER_ENCODING: return HTTP_R_TRANSFER_ENCODING;
	case HPE_INVALID_CHUNK_SIZE: return HTTP_R_CHUNK;
	case HPE_STRICT: return HTTP_R_CHUNK;
	case HPE_USER: return HTTP_R_CHUNK;
	default: return HTTP_R_PARSER;
	}
}

static void http_request_complete(struct http_conn *c, llhttp_errno_t e)
{
	c->req_done = true;
	c->req_upgrade = (e == HPE_PAUSED_UPGRADE);
	if (!c->allowed) {
		/* denied: the 403 is out; a denied CONNECT cannot continue */
		http_exchange_end(c, c->req_upgrade && c->head &&
				  c->head->method == HTTP_CONNECT);
		return;
	}
	if (c->resp_done)
		http_exchange_end(c, true); /* the upstream answered before the body ended */
	else
		c->phase = HTTP_PH_WAIT;
}

/* The header section is complete: check, decide, forward or answer. */
static void http_head_complete(struct http_conn *c)
{
	struct http_head *h = c->head;
	struct proxy_header hv[HTTP_MAX_FIELDS];
	struct proxy_header_edits ed;
	struct proxy_request_view view;
	enum proxy_match m;
	llhttp_errno_t e;
	uint64_t content_length = 0;
	int rc, plain;

	rc = http_head_check(c);
	if (rc) {
		http_reject(c, http_reason_status((enum http_reason)-rc), (enum http_reason)-rc);
		return;
	}
	plain = http_head_plain(c);
	if (plain >= 0) {
		/* what llhttp would say: complete, no body (see above) */
		e = HPE_PAUSED;
		h->method = (uint8_t)plain;
		c->keep_alive = h->minor == 1;
	} else {
		e = llhttp_execute(&c->req, h->raw, h->len);
		if ((e != HPE_OK && e != HPE_PAUSED && e != HPE_PAUSED_UPGRADE) || !h->hdr_seen ||
		    (e != HPE_OK && llhttp_get_error_pos(&c->req) != h->raw + h->len)) {
			http_reject(c, 400, e == HPE_OK || e == HPE_PAUSED ||
				    e == HPE_PAUSED_UPGRADE ? HTTP_R_PARSER : http_llhttp_reason(e));
			return;
		}
		h->method = llhttp_get_method(&c->req);
		c->keep_alive = llhttp_should_keep_alive(&c->req);
		content_length = c->req.content_length;
		h->upgrade = c->req.upgrade;
	}
	h->has_body = h->chunked || content_length > 0;

	for (unsigned i = 0; i < h->nfields; i++) {
		hv[i].name = h->raw + h->f[i].name_off;
		hv[i].name_len = h->f[i].name_len;
		hv[i].value = h->raw + h->f[i].val_off;
		hv[i].value_len = h->f[i].val_len;
	}
	view = (struct proxy_request_view){
		.method = h->x.method, .method_len = h->x.method_len,
		.path = h->x.path, .path_len = h->x.path_len,
		.host = h->x.host, .host_len = h->x.host_len,
		.headers = hv, .nheaders = h->nfields, .edits = &ed,
	};
	ed.n = 0;
	m = c->adopting ? PROXY_MATCH_ALLOW : c->ops->decide(c->ctx, &view);
	if (m == PROXY_MATCH_ALLOW && ed.n && !http_head_edit(c, &ed)) {
		http_reject(c, 500, HTTP_R_NONE);
		return;
	}
	if (m == PROXY_MATCH_ALLOW) {
		c->allowed = true;
		h->x.verdict = HTTP_VERDICT_ALLOWED;
		h->x.reason = HTTP_R_POLICY_ALLOWED;
		http_forward_head(c);
		h->x.upstream_sent_ns = http_now_ns();
	} else {
		bool has_body = h->has_body;
		bool close = !c->keep_alive || h->method == HTTP_CONNECT ||
			(has_body && !h->chunked && content_length > HTTP_DRAIN_MAX);
		for (unsigned i = 0; i < h->nfields && has_body && !close; i++)
			if (http_name_is(h, &h->f[i], "expect", 6))
				close = true; /* the client may never send the body */
		h->x.verdict = HTTP_VERDICT_DENIED;
		h->x.reason = m == PROXY_MATCH_NO_POLICY ? HTTP_R_NO_POLICY :
			      m == PROXY_MATCH_INVALID ? HTTP_R_POLICY_INVALID :
			      m == PROXY_MATCH_REGEX_LIMIT ? HTTP_R_REGEX_LIMIT :
			      HTTP_R_POLICY_DENIED;
		http_reply(c, 403, close);
		if (close) {
			http_exchange_end(c, true);
			return;
		}
	}
	if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE)
		http_request_complete(c, e);
	else
		c->phase = HTTP_PH_BODY;
}

/* ---- feeding ------------------------------------------------------------ */

size_t http_conn_feed_request(struct http_conn *c, const char *p, size_t n)
{
	size_t off = 0;

	while (off < n) {
		switch (c->phase) {
		case HTTP_PH_IDLE:
			if (!http_head_start(c)) {
				c->phase = HTTP_PH_CLOSING;
				return n;
			}
			c->phase = HTTP_PH_HEAD;
			/* fall through */
		case HTTP_PH_HEAD: {
			size_t used = 0;
			int rc = http_head_scan(c, p + off, n - off, &used);
			if (rc < 0) {
				c->head->x.bytes_in += n - off;
				http_reject(c, http_reason_status((enum http_reason)-rc),
					    (enum http_reason)-rc);
				return n;
			}
			c->head->x.bytes_in += used;
			off += used;
			if (rc == 1)
				http_head_complete(c);
			break;
		}
		case HTTP_PH_BODY: {
			llhttp_errno_t e = llhttp_execute(&c->req, p + off, n - off);
			size_t used = n - off;

			if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE)
				used = (size_t)(llhttp_get_error_pos(&c->req) - (p + off));
			if (c->head)
				c->head->x.bytes_in += used;
			if (e != HPE_OK && e != HPE_PAUSED && e != HPE_PAUSED_UPGRADE) {
				enum http_reason r = c->allowed ? http_llhttp_reason(e) :
					c->drained > HTTP_DRAIN_MAX ? HTTP_R_DRAIN_LIMIT :
					http_llhttp_reason(e);
				if (c->allowed || !c->head) {
					http_reject(c, 400, r);
				} else {
					/* denied and already answered: just close */
					http_exchange_end(c, true);
				}
				return n;
			}
			off += used;
			if (e != HPE_OK)
				http_request_complete(c, e);
			break;
		}
		case HTTP_PH_WAIT:
			return off;
		case HTTP_PH_TUNNEL:
			c->ops->to_upstream(c->ctx, p + off, n - off);
			return n;
		case HTTP_PH_CLOSING:
		default:
			return n;
		}
	}
	return off;
}

bool http_conn_adopt(struct http_conn *c, const char *head, size_t n, uint64_t start_ns,
		     uint64_t bytes_in)
{
	size_t used;

	if (c->phase != HTTP_PH_IDLE)
		return false;
	c->adopting = true;
	used = http_conn_feed_request(c, head, n);
	c->adopting = false;
	if (used != n || !c->head || !c->allowed || !c->req_done || c->phase != HTTP_PH_WAIT)
		return false;
	c->head->x.start_ns = start_ns;
	c->head->x.upstream_sent_ns = start_ns;
	c->head->x.bytes_in = bytes_in;
	return true;
}

/* ---- response heads: hop-by-hop fields ---------------------------------- */

/* Is the line [l, l+n) (a field line) the field name? */
static bool http_line_is(const char *l, size_t n, const char *name, size_t len)
{
	return n > len && l[len] == ':' && !strncasecmp(l, name, len);
}

/* Whether a response field line names a field a Connection value lists. */
static bool http_line_named(const char *l, size_t n, const char *const *cv, const size_t *cvn,
			    unsigned ncv)
{
	const char *colon = memchr(l, ':', n);
	size_t len = colon ? (size_t)(colon - l) : 0;

	for (unsigned i = 0; i < ncv && len; i++)
		if (http_token_listed(cv[i], cv[i] + cvn[i], l, len))
			return true;
	return false;
}

/*
 * One complete response head (status line to the empty line) on its way to
 * the client. The server's hop-by-hop fields describe its connection to us,
 * not ours to the client: Connection and what it names, Keep-Alive and
 * Proxy-Connection are dropped (never Content-Length or Transfer-Encoding:
 * the client frames the body by them), and the client is told what its own
 * connection does: "Connection: close" when it closes after this response
 * (the client asked, the server closed, a close-delimited body, a drain),
 * "Connection: keep-alive" to an HTTP/1.0 client that keeps it. Interim
 * (1xx), 101 and CONNECT heads pass as they are. Returns the bytes sent.
 */
static size_t http_resp_head_out(struct http_conn *c, const char *h, size_t len)
{
	const char *cv[8];
	size_t cvn[8], out = 0;
	unsigned ncv = 0;
	int status = len >= 12 ? (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0') : 0;
	const char *line, *end = h + len - 2, *run, *eol;
	bool close, hop = false;

	if (status >= 100 && status < 200 && status != 101) {
		c->rh_pending = true; /* the final response's head follows */
		c->ops->to_client(c->ctx, h, len);
		return len;
	}
	c->rh_pending = false;
	if (status == 101 || (c->head && c->head->method == HTTP_CONNECT)) {
		c->ops->to_client(c->ctx, h, len);
		return len;
	}
	close = !c->keep_alive || c->client_eof || c->draining || !c->req_done ||
		!llhttp_should_keep_alive(&c->resp);
	line = memchr(h, '\n', len);
	line = line ? line + 1 : end;
	for (const char *l = line; l < end; l = eol + 1) {
		eol = memchr(l, '\n', (size_t)(end - l));
		if (!eol)
			break;
		if (http_line_is(l, (size_t)(eol - l), "connection", 10)) {
			const char *v = l + 11, *ve = eol - 1; /* before the CR */
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			if (ncv < 8) {
				cv[ncv] = v;
				cvn[ncv++] = (size_t)(ve - v);
			}
			hop = true;
		} else if (http_line_is(l, (size_t)(eol - l), "keep-alive", 10) ||
			   http_line_is(l, (size_t)(eol - l), "proxy-connection", 16)) {
			hop = true;
		}
	}
	if (!hop && !close && !(c->head && c->head->minor == 0)) {
		c->ops->to_client(c->ctx, h, len); /* the common case: as it is */
		return len;
	}
	run = h;
	for (const char *l = line; l < end; l = eol + 1) {
		size_t n;

		eol = memchr(l, '\n', (size_t)(end - l));
		if (!eol)
			break;
		n = (size_t)(eol - l);
		if (http_line_is(l, n, "content-length", 14) || http_line_is(l, n, "transfer-encoding", 17))
			continue;
		if (!http_line_is(l, n, "connection", 10) && !http_line_is(l, n, "keep-alive", 10) &&
		    !http_line_is(l, n, "proxy-connection", 16) && !http_line_named(l, n, cv, cvn, ncv))
			continue;
		if (l > run) {
			c->ops->to_client(c->ctx, run, (size_t)(l - run));
			out += (size_t)(l - run);
		}
		run = eol + 1;
	}
	if (end > run) {
		c->ops->to_client(c->ctx, run, (size_t)(end - run));
		out += (size_t)(end - run);
	}
	if (close) {
		c->ops->to_client(c->ctx, "Connection: close\r\n\r\n", 21);
		out += 21;
	} else if (c->head && c->head->minor == 0) {
		c->ops->to_client(c->ctx, "Connection: keep-alive\r\n\r\n", 26);
		out += 26;
	} else {
		c->ops->to_client(c->ctx, "\r\n", 2);
		out += 2;
	}
	return out;
}

/* Response bytes (already parsed by llhttp) to the client, heads through
 * http_resp_head_out(); a head split across reads waits in rh_buf.
 * Returns the bytes sent. */
static size_t http_resp_out(struct http_conn *c, const char *p, size_t n)
{
	size_t out = 0;

	while (n) {
		const char *e;
		size_t used;

		if (!c->rh_pending) {
			c->ops->to_client(c->ctx, p, n);
			return out + n;
		}
		if (!c->rh_len && (e = memmem(p, n, "\r\n\r\n", 4))) {
			used = (size_t)(e - p) + 4;
			out += http_resp_head_out(c, p, used);
		} else {
			uint32_t old = c->rh_len;
			size_t need = old + n;

			if (need > HTTP_MAX_HEADER_BYTES) {
				/* llhttp took it, we cannot hold it: as it is */
				if (old)
					c->ops->to_client(c->ctx, c->rh_buf, old);
				c->ops->to_client(c->ctx, p, n);
				c->rh_len = 0;
				c->rh_pending = false;
				return out + old + n;
			}
			if (need > c->rh_cap) {
				char *nb = realloc(c->rh_buf, need);
				if (!nb) {
					/* out of memory: the head as it is */
					if (old)
						c->ops->to_client(c->ctx, c->rh_buf, old);
					out += old;
					c->rh_len = 0;
					c->rh_pending = false;
					continue;
				}
				c->rh_buf = nb;
				c->rh_cap = (uint32_t)need;
			}
			memcpy(c->rh_buf + old, p, n);
			c->rh_len = (uint32_t)need;
			e = memmem(c->rh_buf + (old >= 3 ? old - 3 : 0), need - (old >= 3 ? old - 3 : 0),
				   "\r\n\r\n", 4);
			if (!e)
				return out;
			used = (size_t)(e - c->rh_buf) + 4 - old; /* of p */
			c->rh_len = 0;
			out += http_resp_head_out(c, c->rh_buf, (size_t)(e - c->rh_buf) + 4);
		}
		p += used;
		n -= used;
	}
	return out;
}

/* ---- simple responses: one parse ----------------------------------------- */

#define HTTP_RESP_DROP_MAX 4u

/* A response head http_resp_simple() took, and where its hop-by-hop lines
 * are (offsets into the head). */
struct http_resp_simple {
	uint32_t head_len;
	unsigned ndrop;
	uint32_t drop_off[HTTP_RESP_DROP_MAX], drop_end[HTTP_RESP_DROP_MAX];
	uint64_t content_length;
	int status;
};

/* Eight bytes at a time */
#define HTTP_W1 0x0101010101010101ull
#define HTTP_W80 0x8080808080808080ull

static inline uint64_t http_word(const unsigned char *s)
{
	uint64_t w;

	memcpy(&w, s, 8);
	return w;
}

/* Is [s, s+len) the name (lowercase letters and '-') in any case? Exact
 * for tchar and http_resp_text() bytes: b | 0x20 is a lowercase letter only
 * for that letter in either case, and '-' only for '-' or CR. */
static inline bool http_lower_is(const unsigned char *s, const char *name, size_t len)
{
	const unsigned char *n = (const unsigned char *)name;
	uint64_t d = 0;
	size_t i;

	if (len < 8) {
		for (i = 0; i < len; i++)
			if ((s[i] | 0x20) != n[i])
				return false;
		return true;
	}
	for (i = 0; i + 8 < len; i += 8)
		d |= (http_word(s + i) | 0x20 * HTTP_W1) ^ http_word(n + i);
	d |= (http_word(s + len - 8) | 0x20 * HTTP_W1) ^ http_word(n + len - 8);
	return !d;
}

/* SP, HTAB and visible ASCII: a reason phrase or field value byte whose
 * meaning to llhttp needs no thought (no controls, DEL or obs-text) */
static inline bool http_resp_text(unsigned char c)
{
	return (unsigned char)(c - 0x20) < 0x5f || c == '\t';
}

/*
 * Bit 7 of each byte of w that is not SP or visible ASCII (not text), or
 * not an ASCII letter or '-' (not name): each test looks at one byte alone,
 * its low seven bits with bit 7 forced on (subtracting a constant below
 * 0x80 then never borrows from the next byte), and ~w rules out obs-text.
 */
static inline uint64_t http_word_not_text(uint64_t w)
{
	uint64_t x = (w & ~HTTP_W80) | HTTP_W80;
	uint64_t text = (x - 0x20 * HTTP_W1) & ~(x - 0x7f * HTTP_W1) & ~w;

	return ~text & HTTP_W80;
}

static inline uint64_t http_word_not_name(uint64_t w)
{
	uint64_t l = w | 0x20 * HTTP_W1 | HTTP_W80;  /* letters in lowercase */
	uint64_t e = (w ^ 0x2d * HTTP_W1) | HTTP_W80; /* 0x80 where '-' was */
	uint64_t letter = (l - 0x61 * HTTP_W1) & ~(l - 0x7b * HTTP_W1);
	uint64_t dash = ~(e - HTTP_W1);

	return ~((letter | dash) & ~w) & HTTP_W80;
}

/* The place in memory of the first byte a http_word_not_*() mask marks. */
static inline unsigned http_word_first(uint64_t m)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (unsigned)__builtin_ctzll(m) >> 3;
#else
	return (unsigned)__builtin_clzll(m) >> 3;
#endif
}

/* The end of a run of tchars (names) or of text bytes (values) from q:
 * eight bytes at a time up to the first byte that is not a letter or '-'
 * (not SP or visible ASCII), then byte by byte (digits and other tchars in
 * names, HTAB in values, or the end). */
static inline const unsigned char *http_name_span(const unsigned char *q, const unsigned char *end)
{
	while (end - q >= 8) {
		uint64_t m = http_word_not_name(http_word(q));

		if (m) {
			q += http_word_first(m);
			break;
		}
		q += 8;
	}
	while (q < end && http_tchar(*q))
		q++;
	return q;
}

static inline const unsigned char *http_text_span(const unsigned char *q, const unsigned char *end)
{
	while (end - q >= 8) {
		uint64_t m = http_word_not_text(http_word(q));

		if (m) {
			q += http_word_first(m);
			break;
		}
		q += 8;
	}
	while (q < end && http_resp_text(*q))
		q++;
	return q;
}

/*
 * Is p[0, n) the start of a response whose framing and keep-alive llhttp
 * would agree on without being asked? Takes: "HTTP/1.1 NNN reason" with a
 * status of 200-599 but 204 and 304, a reason phrase of SP, HTAB and visible
 * ASCII; field lines "token:" OWS value CRLF whose values are SP, HTAB and
 * visible ASCII (no obs-fold, bare CR or LF, obs-text); exactly one
 * Content-Length of 1-18 digits (leading zeros allowed, nothing after
 * them); no Transfer-Encoding, Upgrade or Proxy-Connection; at most one
 * Connection, whose value is "keep-alive"; all of it, up to the empty line,
 * inside p[0, n). Everything else is llhttp's (a simpler parser that says
 * no too often only costs time; one that says yes once too often would
 * frame a pooled upstream connection wrongly). The unit tests and the
 * fuzzer compare both ways, byte for byte.
 */
static bool http_resp_simple(const char *p, size_t n, struct http_resp_simple *s)
{
	const unsigned char *b = (const unsigned char *)p, *q, *end = b + n;
	bool has_cl = false, has_conn = false;

	if (n < 19 || memcmp(b, "HTTP/1.1 ", 9) || (unsigned char)(b[9] - '0') > 9 ||
	    (unsigned char)(b[10] - '0') > 9 || (unsigned char)(b[11] - '0') > 9 || b[12] != ' ')
		return false;
	s->status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
	if (s->status < 200 || s->status > 599 || s->status == 204 || s->status == 304)
		return false;
	s->ndrop = 0;
	q = http_text_span(b + 13, end);
	if (end - q < 2 || q[0] != '\r' || q[1] != '\n')
		return false;
	q += 2;
	for (;;) {
		const unsigned char *line = q, *v;
		size_t nlen, vlen;

		if (end - q < 2)
			return false;
		if (q[0] == '\r') {
			if (q[1] != '\n')
				return false;
			q += 2;
			break;
		}
		q = http_name_span(q, end);
		nlen = (size_t)(q - line);
		if (!nlen || q == end || *q != ':')
			return false;
		q++;
		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
		v = q;
		q = http_text_span(q, end);
		if (end - q < 2 || q[0] != '\r' || q[1] != '\n')
			return false;
		vlen = (size_t)(q - v);
		q += 2;
		switch (line[0] | 0x20) {
		case 'c':
			if (nlen == 14 && http_lower_is(line, "content-length", 14)) {
				uint64_t cl = 0;

				if (has_cl || !vlen || vlen > 18)
					return false;
				for (size_t i = 0; i < vlen; i++) {
					if ((unsigned char)(v[i] - '0') > 9)
						return false;
					cl = cl * 10 + (uint64_t)(v[i] - '0');
				}
				has_cl = true;
				s->content_length = cl;
			} else if (nlen == 10 && http_lower_is(line, "connection", 10)) {
				if (has_conn || vlen != 10 || !http_lower_is(v, "keep-alive", 10))
					return false;
				has_conn = true;
				goto drop;
			}
			break;
		case 'k':
			if (nlen == 10 && http_lower_is(line, "keep-alive", 10))
				goto drop;
			break;
		case 'p':
			if (nlen == 16 && http_lower_is(line, "proxy-connection", 16))
				return false;
			break;
		case 't':
			if (nlen == 17 && http_lower_is(line, "transfer-encoding", 17))
				return false;
			break;
		case 'u':
			if (nlen == 7 && http_lower_is(line, "upgrade", 7))
				return false;
			break;
		default:
			break;
		}
		continue;
drop:
		/* a line http_resp_head_out() drops: Connection, and
		 * Keep-Alive (also what "Connection: keep-alive" names) */
		if (s->ndrop == HTTP_RESP_DROP_MAX)
			return false;
		s->drop_off[s->ndrop] = (uint32_t)(line - b);
		s->drop_end[s->ndrop++] = (uint32_t)(q - b);
	}
	if (!has_cl || (size_t)(q - b) > UINT32_MAX)
		return false;
	s->head_len = (uint32_t)(q - b);
	return true;
}

/* http_resp_head_out() for a head http_resp_simple() took (final, not 101,
 * not to CONNECT, kept alive by the server), from its drop list instead of
 * a second scan: the same bytes to the client; then the body bytes that
 * follow it in h (in the same piece when the head ends as the server's
 * did). Returns the bytes sent. */
static size_t http_resp_simple_out(struct http_conn *c, const char *h,
				   const struct http_resp_simple *s, size_t body)
{
	bool close = !c->keep_alive || c->client_eof || c->draining || !c->req_done;
	bool minor0 = c->head->minor == 0;
	size_t run = 0, end = s->head_len - 2, out = 0;

	c->rh_pending = false;
	for (unsigned i = 0; i < s->ndrop; i++) {
		if (s->drop_off[i] > run) {
			c->ops->to_client(c->ctx, h + run, s->drop_off[i] - run);
			out += s->drop_off[i] - run;
		}
		run = s->drop_end[i];
	}
	if (!close && !minor0) {
		/* the empty line that ends it is the server's own */
		c->ops->to_client(c->ctx, h + run, s->head_len + body - run);
		return out + s->head_len + body - run;
	}
	if (end > run) {
		c->ops->to_client(c->ctx, h + run, end - run);
		out += end - run;
	}
	if (close) {
		c->ops->to_client(c->ctx, "Connection: close\r\n\r\n", 21);
		out += 21;
	} else {
		c->ops->to_client(c->ctx, "Connection: keep-alive\r\n\r\n", 26);
		out += 26;
	}
	if (body)
		c->ops->to_client(c->ctx, h + s->head_len, body);
	return out + body;
}

/* The final response is over: fwd of the n bytes at hand were its last
 * (keep: the server keeps its connection open). */
static void http_resp_complete(struct http_conn *c, bool keep, size_t fwd, size_t n)
{
	c->resp_done = true;
	c->resp_left = 0;
	/* the upstream connection may serve another request (of any client):
	 * framed response (not close-delimited), no close from the server,
	 * nothing beyond it, and the whole request was sent */
	c->up_reusable = keep && fwd == n && c->req_done;
	if (!keep)
		c->keep_alive = false;
	if (fwd < n)
		c->keep_alive = false; /* bytes beyond the response: do not reuse */
	http_exchange_end(c, !c->req_done);
}

/*
 * The first bytes of a response: when they hold a simple response's whole
 * head (http_resp_simple()), the head goes out rewritten and the body is
 * framed by counting its Content-Length (c->resp_left), llhttp never sees
 * them and stays where the previous response left it, at the start of a
 * message. Returns false, having changed nothing, for llhttp to parse them.
 */
static bool http_resp_fast(struct http_conn *c, const char *p, size_t n)
{
	struct http_head *h = c->head;
	struct http_resp_simple s;
	size_t out, body;

	if (c->full_parse || c->req_upgrade || h->method == HTTP_HEAD ||
	    h->method == HTTP_CONNECT || !c->rh_pending || c->rh_len || c->resp_started ||
	    !http_resp_simple(p, n, &s))
		return false;
	h->x.status = s.status;
	body = n - s.head_len < s.content_length ? n - s.head_len : (size_t)s.content_length;
	out = http_resp_simple_out(c, p, &s, body);
	c->resp_started = true;
	h->x.bytes_out += out;
	c->resp_left = s.content_length - body;
	if (!c->resp_left)
		http_resp_complete(c, true, s.head_len + body, n);
	return true;
}

/* More of a body http_resp_fast() frames. */
static void http_resp_fast_body(struct http_conn *c, const char *p, size_t n)
{
	size_t k = n < c->resp_left ? n : (size_t)c->resp_left;

	c->ops->to_client(c->ctx, p, k);
	c->head->x.bytes_out += k;
	c->resp_left -= k;
	if (!c->resp_left)
		http_resp_complete(c, true, k, n);
}

/* ---- spliced responses (include/sluice/abi.h, "Response splice") -------- */

bool http_conn_splice_ok(const struct http_conn *c)
{
	const struct http_head *h = c->head;

	/* http_resp_fast()'s conditions, and http_resp_simple_out()'s for
	 * passing the head on as the server sent it but for the dropped lines
	 * (kept alive, HTTP/1.1, the whole request sent); no body, so that the
	 * request is complete when it is written */
	return h && c->allowed && c->req_done && !h->has_body && !c->full_parse &&
	       !c->req_upgrade && h->method != HTTP_HEAD && h->method != HTTP_CONNECT &&
	       c->rh_pending && !c->rh_len && !c->resp_started && !c->resp_done &&
	       !h->x.upstream_first_ns && h->minor == 1 && c->keep_alive && !c->client_eof &&
	       !c->draining && c->phase != HTTP_PH_TUNNEL && c->phase != HTTP_PH_CLOSING;
}

void http_conn_spliced_head(struct http_conn *c, int status, uint64_t first_ns)
{
	if (!http_conn_request_pending(c) || c->resp_started)
		return;
	c->head->x.status = status;
	c->head->x.upstream_first_ns = first_ns;
	c->rh_pending = false;
	c->resp_started = true;
}

void http_conn_spliced_done(struct http_conn *c, uint64_t bytes, uint64_t last_ns)
{
	if (!http_conn_request_pending(c) || !c->resp_started)
		return;
	c->head->x.bytes_out += bytes;
	c->end_ns = last_ns;
	http_resp_complete(c, true, 0, 0);
}

void http_conn_feed_response(struct http_conn *c, const char *p, size_t n)
{
	llhttp_errno_t e;
	size_t fwd;
	bool keep;

	if (c->phase == HTTP_PH_TUNNEL) {
		c->ops->to_client(c->ctx, p, n);
		return;
	}
	if (c->phase == HTTP_PH_CLOSING || !n)
		return;
	if (!c->head || !c->allowed || c->resp_done) {
		/* nobody asked: an upstream talking out of turn */
		c->phase = HTTP_PH_CLOSING;
		return;
	}
	if (c->resp_left) {
		http_resp_fast_body(c, p, n);
		return;
	}
	if (!c->head->x.upstream_first_ns) {
		c->head->x.upstream_first_ns = http_now_ns();
		if (http_resp_fast(c, p, n))
			return;
	}
	e = llhttp_execute(&c->resp, p, n);
	if (e != HPE_OK && e != HPE_PAUSED && e != HPE_PAUSED_UPGRADE) {
		if (!c->resp_started) {
			c->head->x.status = 0;
			http_reject(c, 502, HTTP_R_BAD_RESPONSE);
		} else {
			c->head->x.verdict = HTTP_VERDICT_ERROR;
			c->head->x.reason = HTTP_R_BAD_RESPONSE;
			http_exchange_end(c, true);
		}
		return;
	}
	fwd = e == HPE_OK ? n : (size_t)(llhttp_get_error_pos(&c->resp) - p);
	if (fwd) {
		size_t out = http_resp_out(c, p, fwd);

		if (out)
			c->resp_started = true;
		c->head->x.bytes_out += out;
	}
	if (e == HPE_OK)
		return;
	if (e == HPE_PAUSED_UPGRADE) {
		int st = c->resp.status_code;
		bool ok = c->req_upgrade &&
			  (st == 101 || (c->head->method == HTTP_CONNECT && st >= 200 && st < 300));
		if (!ok) {
			c->head->x.verdict = HTTP_VERDICT_ERROR;
			c->head->x.reason = HTTP_R_BAD_RESPONSE;
			http_exchange_end(c, true);
			return;
		}
		c->resp_done = true;
		http_exchange_end(c, false);
		c->phase = HTTP_PH_TUNNEL;
		if (fwd < n)
			c->ops->to_client(c->ctx, p + fwd, n - fwd);
		return;
	}
	/* HPE_PAUSED: the final response is complete */
	keep = llhttp_should_keep_alive(&c->resp);
	llhttp_resume(&c->resp);
	http_resp_complete(c, keep, fwd, n);
}

bool http_conn_accepts_request_bytes(const struct http_conn *c)
{
	return c->phase != HTTP_PH_WAIT;
}

bool http_conn_request_pending(const struct http_conn *c)
{
	return c->head && c->allowed && !c->resp_done;
}

void http_conn_client_eof(struct http_conn *c)
{
	c->client_eof = true;
	switch (c->phase) {
	case HTTP_PH_IDLE:
		c->phase = HTTP_PH_CLOSING;
		break;
	case HTTP_PH_HEAD:
		/* a partial request: nothing to report */
		http_head_free(c);
		c->phase = HTTP_PH_CLOSING;
		break;
	case HTTP_PH_BODY:
		if (c->head) {
			if (c->allowed) {
				c->head->x.verdict = HTTP_VERDICT_ERROR;
				c->head->x.reason = HTTP_R_CLIENT_CLOSED;
			}
		}
		http_exchange_end(c, true);
		break;
	case HTTP_PH_WAIT:
		break; /* finish the response, then close */
	default:
		c->phase = HTTP_PH_CLOSING;
		break;
	}
}

void http_conn_upstream_eof(struct http_conn *c)
{
	if (c->phase == HTTP_PH_TUNNEL || !http_conn_request_pending(c)) {
		c->phase = HTTP_PH_CLOSING;
		return;
	}
	/* a body framed by its Content-Length (c->resp_left) never ends at EOF */
	if (c->resp_started && !c->resp_left && llhttp_message_needs_eof(&c->resp)) {
		llhttp_errno_t e = llhttp_finish(&c->resp);
		if (e == HPE_OK || e == HPE_PAUSED) {
			c->resp_done = true;
			http_exchange_end(c, true);
			return;
		}
	}
	http_conn_upstream_error(c, HTTP_R_UPSTREAM_RESET);
}

void http_conn_upstream_error(struct http_conn *c, enum http_reason why)
{
	if (!http_conn_request_pending(c)) {
		c->phase = HTTP_PH_CLOSING;
		return;
	}
	if (!c->resp_started) {
		c->head->x.status = 0;
		http_reject(c, why == HTTP_R_UPSTREAM_CONNECT ? 503 :
			       why == HTTP_R_TIMEOUT ? 504 : 502, why);
		return;
	}
	c->head->x.verdict = HTTP_VERDICT_ERROR;
	c->head->x.reason = why;
	http_exchange_end(c, true);
}

void http_conn_timeout(struct http_conn *c)
{
	switch (c->phase) {
	case HTTP_PH_HEAD:
		http_reject(c, 408, HTTP_R_HEADER_TIMEOUT);
		break;
	case HTTP_PH_BODY:
	case HTTP_PH_WAIT:
		if (http_conn_request_pending(c)) {
			http_conn_upstream_error(c, HTTP_R_TIMEOUT);
			break;
		}
		if (c->head) {
			c->head->x.verdict = HTTP_VERDICT_ERROR;
			c->head->x.reason = HTTP_R_TIMEOUT;
		}
		http_exchange_end(c, true);
		break;
	default:
		c->phase = HTTP_PH_CLOSING;
		break;
	}
}

/*
 * A reused upstream connection failed before the first byte of the response
 * (the server closed it as the request went out: keep-alive races are
 * normal). Sending the request again on a fresh connection is safe only when
 * the method is idempotent (RFC 9110 9.2.2) and it had no body (nothing of
 * it is held any more); once per request.
 */
bool http_conn_retry(struct http_conn *c)
{
	struct http_head *h = c->head;

	if (!h || !c->allowed || !c->req_done || c->resp_started || c->resp_done ||
	    h->x.upstream_first_ns || h->has_body || h->retried || c->req_upgrade)
		return false;
	switch (h->method) {
	case HTTP_GET: case HTTP_HEAD: case HTTP_OPTIONS: case HTTP_TRACE:
	case HTTP_PUT: case HTTP_DELETE:
		break;
	default:
		return false;
	}
	h->retried = true;
	http_forward_head(c);
	h->x.upstream_sent_ns = http_now_ns();
	return true;
}

void http_conn_tunnel(struct http_conn *c)
{
	if (c->phase == HTTP_PH_IDLE && !c->head)
		c->phase = HTTP_PH_TUNNEL;
}

void http_conn_drain(struct http_conn *c)
{
	c->draining = true;
	/* A connection that has not carried a request yet was accepted just
	 * before the drain: its client is about to send one, so it is served
	 * (and closed after the response) rather than closed under it. An idle
	 * keep-alive connection is closed now; clients retry a request that
	 * meets a connection closed between requests. */
	if (c->phase == HTTP_PH_IDLE && c->nreq > 0)
		c->phase = HTTP_PH_CLOSING;
}
