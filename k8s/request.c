/* SPDX-License-Identifier: Apache-2.0 */
/*
 * request.c - one-shot API calls (k8s_request, and the reflector's LIST
 * pages): send, buffer the whole answer, parse it as JSON, report once.
 *
 * A 401 with a token file means the token probably rotated under us (bound
 * ServiceAccount tokens expire): re-read the file and send the same request
 * once more. A second 401 is the answer.
 */
#include "client_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct k8s_call {
	struct k8s_client *c;
	struct k8s_call *prev, *next;
	char *method, *path, *content_type, *body;
	size_t body_len;
	k8s_response_cb cb;
	void *ctx;
	struct k8s_http *http;
	bool retried_401;
	int status;
	char *resp;
	size_t resp_len, resp_cap;
	bool too_big;
};

static void call_unlink_free(struct k8s_call *call)
{
	struct k8s_client *c = call->c;
	if (call->prev)
		call->prev->next = call->next;
	else
		c->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	free(call->method);
	free(call->path);
	free(call->content_type);
	free(call->body);
	free(call->resp);
	free(call);
	k8s_client_unref(c);
}

void k8s_call_cancel(struct k8s_call *call)
{
	if (!call)
		return;
	k8s_http_cancel(call->http);
	call_unlink_free(call);
}

static int call_on_head(void *ctx, int status)
{
	struct k8s_call *call = ctx;
	call->status = status;
	call->resp_len = 0;
	return 0;
}

static int call_on_body(void *ctx, const char *data, size_t len)
{
	struct k8s_call *call = ctx;
	if (call->too_big)
		return 0;
	if (call->resp_len + len + 1 > K8S_MAX_BODY) {
		call->too_big = true;
		return 0;
	}
	if (call->resp_len + len + 1 > call->resp_cap) {
		size_t cap = call->resp_cap ? call->resp_cap : 16384;
		while (cap < call->resp_len + len + 1)
			cap *= 2;
		char *nb = realloc(call->resp, cap);
		if (!nb)
			abort();
		call->resp = nb;
		call->resp_cap = cap;
	}
	memcpy(call->resp + call->resp_len, data, len);
	call->resp_len += len;
	return 0;
}

static int call_send(struct k8s_call *call, char **err);

/* Reports and frees the call. */
static void call_report(struct k8s_call *call, int status, json_t *body, const char *errmsg)
{
	struct k8s_client *c = call->c;
	if (status == 0 || status >= 400)
		k8s_client_count_status(c, status);
	call->http = NULL;
	k8s_response_cb cb = call->cb;
	void *ctx = call->ctx;
	/* unlink first: the callback may free the client */
	k8s_client_ref(c);
	call_unlink_free(call);
	cb(ctx, status, body, errmsg);
	k8s_client_unref(c);
}

static void call_on_done(void *ctx, int status, const char *errmsg)
{
	struct k8s_call *call = ctx;
	struct k8s_client *c = call->c;
	char *err = NULL;

	call->http = NULL;
	if (errmsg) {
		call_report(call, 0, NULL, errmsg);
		return;
	}
	if (status == 401 && !call->retried_401 && k8s_token_reload(&c->token)) {
		call->retried_401 = true;
		if (call_send(call, &err) == 0)
			return;
		call_report(call, 0, NULL, err);
		free(err);
		return;
	}
	if (call->too_big) {
		char msg[128];
		snprintf(msg, sizeof(msg), "HTTP %d: response larger than %zu bytes", status,
			 K8S_MAX_BODY);
		call_report(call, 0, NULL, msg);
		return;
	}
	json_t *body = NULL;
	json_error_t jerr;
	char msg[512];
	const char *why = NULL;
	if (call->resp_len) {
		body = json_loadb(call->resp, call->resp_len, 0, &jerr);
		if (!body && status >= 200 && status < 300) {
			snprintf(msg, sizeof(msg), "HTTP %d: response is not JSON: %s", status,
				 jerr.text);
			call_report(call, 0, NULL, msg);
			return;
		}
	}
	if (status >= 400) {
		/* an error answer: say what the server said */
		const char *m = k8s_status_message(body);
		if (m)
			snprintf(msg, sizeof(msg), "HTTP %d: %s", status, m);
		else
			snprintf(msg, sizeof(msg), "HTTP %d: %.*s", status,
				 (int)(call->resp_len > 200 ? 200 : call->resp_len),
				 call->resp ? call->resp : "");
		why = msg;
	}
	call_report(call, status, body, why);
	json_decref(body);
}

static const struct k8s_http_ops call_ops = {
	.on_head = call_on_head,
	.on_body = call_on_body,
	.on_done = call_on_done,
};

static int call_send(struct k8s_call *call, char **err)
{
	call->status = 0;
	call->resp_len = 0;
	call->too_big = false;
	return k8s_client_http(call->c, call->method, call->path, call->content_type, call->body,
			       call->body_len, true, K8S_REQUEST_IDLE_MS, &call_ops, call,
			       &call->http, err);
}

struct k8s_call *k8s_call_start(struct k8s_client *c, const char *method, const char *path,
				const char *content_type, json_t *body, k8s_response_cb cb,
				void *ctx)
{
	struct k8s_call *call = sl_xcalloc(1, sizeof(*call));
	char *err = NULL;

	call->c = c;
	k8s_client_ref(c);
	call->next = c->calls;
	if (c->calls)
		c->calls->prev = call;
	c->calls = call;
	call->method = sl_xstrdup(method);
	call->path = sl_xstrdup(path);
	call->content_type = content_type ? sl_xstrdup(content_type) : NULL;
	if (body) {
		call->body = json_dumps(body, JSON_COMPACT);
		if (!call->body)
			abort();
		call->body_len = strlen(call->body);
	}
	call->cb = cb;
	call->ctx = ctx;
	if (call_send(call, &err)) {
		free(err);
		call_unlink_free(call);
		return NULL;
	}
	return call;
}

int k8s_request(struct k8s_client *c, const char *method, const char *path,
		const char *content_type, json_t *body_in, k8s_response_cb cb, void *ctx)
{
	if (!c || c->freed || !method || !path || path[0] != '/' || !cb)
		return -EINVAL;
	return k8s_call_start(c, method, path, content_type, body_in, cb, ctx) ? 0 : -EIO;
}
