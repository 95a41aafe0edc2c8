/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reflector.c - LIST then WATCH of one collection, with a cache (the
 * k8s_watch_* half of client.h).
 *
 * The state machine, per collection:
 *
 *   LIST (resourceVersion=0, from the server's watch cache; pages with
 *   limit/continue when the server paginates) -> diff against our cache ->
 *   synced -> WATCH from the list's resourceVersion -> events ...
 *
 *   - a clean end of the watch (timeoutSeconds reached) re-watches from the
 *     last resourceVersion seen (events and BOOKMARKs move it);
 *   - ERROR 410 in the stream, or HTTP 410, means our resourceVersion left
 *     the server's history: re-LIST, this time a consistent read (no
 *     resourceVersion) so that the answer can never be older than what we
 *     already hold, and diff it against the cache so that deletions that
 *     happened in the gap are delivered as DELETED;
 *   - transport errors, 5xx, 429 and watches that end within a second
 *     without a single event back off exponentially with jitter, and
 *     re-watch (the resourceVersion is still good);
 *   - 403/404 on LIST: the collection is forbidden or not served (a CRD
 *     installed later): `failed`, then list again with a backoff of its
 *     own, exponential from 1 s to a 30 s cap as client-go's reflector
 *     does (test knob SLUICE_K8S_REFUSED_RETRY_MS=BASE,CAP), reset by a
 *     list that succeeds or by k8s_watch_retry_now (the consumer saw
 *     something change: the RBAC or the object that needs the
 *     collection). These answers are counted as refusals (forbidden,
 *     not_found), not as errors: an RBAC gap is not an unhealthy server.
 *
 * Streaming lists (sendInitialEvents=true) replace the LIST when the server
 * has them. Whether it does cannot be learnt from an error alone: servers
 * before 1.27 may ignore the parameters they do not know and start a plain
 * watch. So the client asks /version once, before its first list: only a
 * server from 1.27 on gets a streaming try, and that try counts only once a
 * BOOKMARK carries the k8s.io/initial-events-end annotation; any 4xx, a
 * bookmark without it or a stream that ends first turns streaming lists
 * off for the client for good (LIST+WATCH). A failed /version means
 * LIST+WATCH too.
 *
 * Callbacks may stop the watch (or free the client): after each one we
 * check w->stopped; the memory itself goes in the timer's close callback.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_impl.h"
#include "json_stream.h"
#include "list_diff.h"
#include "util.h"

/* A watch shorter than this with no event counts as a failure. */
#define WATCH_MIN_HEALTHY_NS 1000000000ull
/* Largest error body kept from a refused watch. */
#define WATCH_ERRBODY_MAX 4096

/* Why the stream stopped inside the framer callback. */
enum watch_stream_stop {
	WATCH_STOP_NONE,
	WATCH_STOP_RELIST,   /* ERROR 410 */
	WATCH_STOP_ERROR,    /* another ERROR event: back off */
	WATCH_STOP_FALLBACK, /* streaming list not really supported */
	WATCH_STOP_STOPPED,  /* the consumer stopped the watch */
};

enum watch_next { WATCH_NEXT_LIST, WATCH_NEXT_WATCH };

struct k8s_watch {
	struct k8s_client *c;
	struct k8s_watch *prev, *next;
	char *path, *query;
	struct k8s_watch_ops ops;
	void *ctx;
	bool stopped, synced;

	json_t *cache;     /* key -> object */
	char *rv;          /* resourceVersion to watch from */

	/* LIST */
	struct k8s_call *call;
	json_t *pages;     /* items collected so far */
	char *list_kind, *list_api_version;
	bool consistent;   /* next LIST without resourceVersion */
	bool listed_once;

	/* WATCH */
	struct k8s_http *http;
	int http_status;
	bool streaming;    /* this watch carries sendInitialEvents */
	bool initial;      /* ... and is still in its initial events */
	json_t *initial_items; /* key -> object during the initial events */
	struct k8s_json_stream stream;
	uint64_t started_ns;
	uint64_t events;   /* events of the current watch */
	bool retried_401;
	bool watched_once;
	bool awaiting_version; /* its first list waits for /version */
	char *errbody;
	size_t errbody_len;
	char stop_msg[256];

	uv_timer_t timer;
	enum watch_next next_action;
	struct k8s_backoff backoff;
	/* 403/404 on LIST: consecutive refusals, their own backoff, the
	 * last delay chosen (status) and whether the timer waits for one */
	struct k8s_backoff refused_backoff;
	unsigned refusals;
	uint64_t refused_delay_ms;
	bool refused_wait;
};

static void watch_list(struct k8s_watch *w);
static void watch_watch(struct k8s_watch *w);

/* --- helpers ------------------------------------------------------------- */

static void watch_set_rv(struct k8s_watch *w, const char *rv)
{
	if (!rv || !*rv || (w->rv && strcmp(w->rv, rv) == 0))
		return;
	free(w->rv);
	w->rv = sl_xstrdup(rv);
}

static void watch_emit(struct k8s_watch *w, enum k8s_event_type type, json_t *obj)
{
	if (w->stopped)
		return;
	w->c->stats.events++;
	w->ops.event(w->ctx, type, obj);
}

static void watch_diff_emit(void *ctx, enum k8s_event_type type, json_t *obj)
{
	watch_emit(ctx, type, obj);
}

static void watch_on_timer(uv_timer_t *t)
{
	struct k8s_watch *w = t->data;
	if (w->stopped)
		return;
	w->refused_wait = false; /* the list goes now: nothing to hurry */
	if (w->next_action == WATCH_NEXT_LIST)
		watch_list(w);
	else
		watch_watch(w);
}

static void watch_schedule(struct k8s_watch *w, enum watch_next next, uint64_t delay_ms)
{
	if (w->stopped)
		return;
	w->next_action = next;
	w->refused_wait = false;
	k8s_client_debug(w->c, "%s: %s in %llu ms", w->path,
			 next == WATCH_NEXT_LIST ? "list" : "watch", (unsigned long long)delay_ms);
	uv_timer_start(&w->timer, watch_on_timer, delay_ms, 0);
}

/* A failure (counted where it was seen): try again after the next backoff
 * step. */
static void watch_retry_later(struct k8s_watch *w, enum watch_next next, const char *why)
{
	k8s_client_debug(w->c, "%s: %s", w->path, why);
	/* without a resourceVersion there is nothing to watch from */
	if (!w->rv)
		next = WATCH_NEXT_LIST;
	watch_schedule(w, next, k8s_backoff_next(&w->backoff));
}

/* "path?query&" ready for more parameters. */
static char *watch_url(struct k8s_watch *w, const char *params)
{
	if (w->query && *w->query)
		return sl_strdupf("%s?%s&%s", w->path, w->query, params);
	return sl_strdupf("%s?%s", w->path, params);
}

/* Continue tokens and resourceVersions are opaque and may hold characters
 * that are not safe in a query. */
static char *watch_escape(const char *s)
{
	size_t n = strlen(s);
	char *out = sl_xcalloc(3 * n + 1, 1), *o = out;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '_' || ch == '.' || ch == '~')
			*o++ = (char)ch;
		else
			o += sprintf(o, "%%%02X", ch);
	}
	return out;
}

/* --- LIST ---------------------------------------------------------------- */

/* List items carry no kind/apiVersion (only the list does): fill them in so
 * that consumers see the same shape as in watch events. */
static void watch_fill_kind(struct k8s_watch *w, json_t *items)
{
	size_t i;
	json_t *item;
	json_array_foreach(items, i, item) {
		if (!json_is_object(item))
			continue;
		if (w->list_kind && !json_object_get(item, "kind"))
			json_object_set_new(item, "kind", json_string(w->list_kind));
		if (w->list_api_version && !json_object_get(item, "apiVersion"))
			json_object_set_new(item, "apiVersion", json_string(w->list_api_version));
	}
}

/* The whole list is in: make the cache equal to it and tell. */
static void watch_list_complete(struct k8s_watch *w, json_t *items, const char *rv)
{
	watch_set_rv(w, rv);
	k8s_list_diff(w->cache, items, watch_diff_emit, w);
	if (w->stopped)
		return;
	w->synced = true;
	w->consistent = false;
	k8s_client_debug(w->c, "%s: synced at %s (%zu objects)", w->path, w->rv ? w->rv : "?",
			 json_object_size(w->cache));
	if (w->ops.synced)
		w->ops.synced(w->ctx);
}

static void watch_list_page(struct k8s_watch *w, const char *cont);

static void watch_on_list(void *ctx, int status, json_t *body, const char *errmsg)
{
	struct k8s_watch *w = ctx;
	char why[600];

	w->call = NULL;
	if (w->stopped)
		return;
	if (status == 0) {
		snprintf(why, sizeof(why), "list: %s", errmsg ? errmsg : "no answer");
		watch_retry_later(w, WATCH_NEXT_LIST, why);
		return;
	}
	if (status == 410) {
		/* a continue token (or the resourceVersion) expired: start over
		 * with a consistent read */
		w->consistent = true;
		w->listed_once = true;
		watch_list(w);
		return;
	}
	if (status == 403 || status == 404) {
		w->refusals++;
		/* chosen before `failed`, which may ask for a retry now */
		w->refused_delay_ms = k8s_backoff_next(&w->refused_backoff);
		watch_schedule(w, WATCH_NEXT_LIST, w->refused_delay_ms);
		w->refused_wait = true;
		if (w->ops.failed)
			w->ops.failed(w->ctx, status, errmsg ? errmsg : "");
		return;
	}
	if (status < 200 || status >= 300) {
		snprintf(why, sizeof(why), "list: %s", errmsg ? errmsg : "error");
		watch_retry_later(w, WATCH_NEXT_LIST, why);
		return;
	}
	json_t *items = json_object_get(body, "items");
	json_t *md = json_object_get(body, "metadata");
	if (!json_is_object(body) || !(json_is_array(items) || json_is_null(items) || !items)) {
		w->c->stats.errors++;
		watch_retry_later(w, WATCH_NEXT_LIST, "list: the answer is not a List");
		return;
	}
	const char *kind = json_string_value(json_object_get(body, "kind"));
	const char *apiv = json_string_value(json_object_get(body, "apiVersion"));
	free(w->list_kind);
	free(w->list_api_version);
	w->list_kind = NULL;
	size_t kl = kind ? strlen(kind) : 0;
	if (kl > 4 && strcmp(kind + kl - 4, "List") == 0)
		w->list_kind = sl_strdupf("%.*s", (int)(kl - 4), kind);
	w->list_api_version = apiv ? sl_xstrdup(apiv) : NULL;
	if (json_is_array(items))
		json_array_extend(w->pages, items);
	const char *cont = json_string_value(json_object_get(md, "continue"));
	if (cont && *cont) {
		watch_list_page(w, cont);
		return;
	}
	const char *list_rv = json_string_value(json_object_get(md, "resourceVersion"));
	if (!list_rv || !*list_rv) {
		/* nothing to watch from: a loop of LISTs unless we wait */
		w->c->stats.errors++;
		json_array_clear(w->pages);
		watch_retry_later(w, WATCH_NEXT_LIST, "list: no metadata.resourceVersion");
		return;
	}
	json_t *all = w->pages;
	w->pages = json_array();
	watch_fill_kind(w, all);
	w->refusals = 0;
	w->refused_delay_ms = 0;
	k8s_backoff_reset(&w->refused_backoff);
	watch_list_complete(w, all, list_rv);
	json_decref(all);
	if (w->stopped)
		return;
	k8s_backoff_reset(&w->backoff);
	watch_watch(w);
}

static void watch_list_page(struct k8s_watch *w, const char *cont)
{
	char params[160];
	char *url;
	if (cont) {
		/* continuation pages carry no resourceVersion: the token pins it */
		char *esc = watch_escape(cont);
		char *p = sl_strdupf("limit=%u&continue=%s", w->c->page_size, esc);
		url = watch_url(w, p);
		free(p);
		free(esc);
	} else {
		if (w->consistent)
			snprintf(params, sizeof(params), "limit=%u", w->c->page_size);
		else
			snprintf(params, sizeof(params), "resourceVersion=0&limit=%u",
				 w->c->page_size);
		url = watch_url(w, params);
	}
	k8s_client_debug(w->c, "GET %s", url);
	w->call = k8s_call_start(w->c, "GET", url, NULL, NULL, watch_on_list, w);
	free(url);
	if (!w->call) {
		w->c->stats.errors++;
		watch_retry_later(w, WATCH_NEXT_LIST, "list: cannot start the request");
	}
}

/* "1", "27+" -> 1.27; false when the server does not say */
static bool version_parse(json_t *body, unsigned *major, unsigned *minor)
{
	const char *ma = json_string_value(json_object_get(body, "major"));
	const char *mi = json_string_value(json_object_get(body, "minor"));
	char *end;

	if (!ma || !mi)
		return false;
	*major = (unsigned)strtoul(ma, &end, 10);
	if (end == ma)
		return false;
	*minor = (unsigned)strtoul(mi, &end, 10);
	return end != mi;
}

static void on_version(void *ctx, int status, json_t *body, const char *errmsg)
{
	struct k8s_client *c = ctx;
	unsigned major = 0, minor = 0;
	bool known = status == 200 && version_parse(body, &major, &minor);

	if (known && (major > 1 || (major == 1 && minor >= 27))) {
		c->watchlist = K8S_WATCHLIST_TRY;
		k8s_client_debug(c, "server v%u.%u: trying streaming lists", major, minor);
	} else {
		c->watchlist = K8S_WATCHLIST_NO;
		if (known)
			k8s_client_debug(c, "no streaming lists (server v%u.%u, before 1.27): LIST+WATCH",
					 major, minor);
		else
			k8s_client_debug(c, "no streaming lists (/version: HTTP %d %s): LIST+WATCH", status,
					 errmsg ? errmsg : "");
	}
	/* the watches that waited list now (a callback may stop the next) */
	for (struct k8s_watch *w = c->watches, *next; w; w = next) {
		next = w->next;
		if (w->awaiting_version) {
			w->awaiting_version = false;
			watch_list(w);
		}
	}
}

static void watch_list(struct k8s_watch *w)
{
	if (w->stopped)
		return;
	if (!w->listed_once && (w->c->watchlist == K8S_WATCHLIST_UNKNOWN ||
				w->c->watchlist == K8S_WATCHLIST_ASKING)) {
		w->awaiting_version = true;
		if (w->c->watchlist == K8S_WATCHLIST_ASKING)
			return;
		w->c->watchlist = K8S_WATCHLIST_ASKING;
		if (k8s_request(w->c, "GET", "/version", NULL, NULL, on_version, w->c) == 0)
			return;
		/* cannot even ask: LIST+WATCH */
		w->c->watchlist = K8S_WATCHLIST_NO;
		w->awaiting_version = false;
	}
	if ((w->c->watchlist == K8S_WATCHLIST_TRY || w->c->watchlist == K8S_WATCHLIST_YES) &&
	    !w->listed_once) {
		/* try a streaming list first */
		w->streaming = true;
		watch_watch(w);
		return;
	}
	/* a LIST after the cache was complete once is a relist */
	if (w->synced)
		w->c->stats.relists++;
	w->listed_once = true;
	json_array_clear(w->pages);
	watch_list_page(w, NULL);
}

/* --- WATCH --------------------------------------------------------------- */

static void watch_drop_http_state(struct k8s_watch *w)
{
	w->http = NULL;
	k8s_json_stream_reset(&w->stream);
	free(w->errbody);
	w->errbody = NULL;
	w->errbody_len = 0;
	json_object_clear(w->initial_items);
	w->initial = false;
}

/* Streaming lists are not really served: LIST+WATCH for good. */
static void watch_fallback_to_list(struct k8s_watch *w, const char *why)
{
	k8s_client_debug(w->c, "%s: no streaming lists (%s): LIST+WATCH", w->path, why);
	w->c->watchlist = K8S_WATCHLIST_NO;
	w->streaming = false;
	watch_list(w);
}

/* Our resourceVersion is gone from the server's history: LIST again (a
 * consistent read) and diff. At once, unless the watch that said so was
 * itself empty and brief: a server (or proxy) answering 410 to every watch
 * must not be met with a relist loop at full speed. */
static void watch_relist(struct k8s_watch *w, const char *why)
{
	bool healthy = w->events > 0 || sl_mono_ns() - w->started_ns >= WATCH_MIN_HEALTHY_NS;
	k8s_client_debug(w->c, "%s: %s: relist", w->path, why);
	w->consistent = true;
	w->listed_once = true; /* a LIST, even after a streaming list */
	if (healthy) {
		k8s_backoff_reset(&w->backoff);
		watch_list(w);
	} else {
		w->c->stats.errors++;
		watch_schedule(w, WATCH_NEXT_LIST, k8s_backoff_next(&w->backoff));
	}
}

static int watch_on_object(void *ctx, json_t *ev)
{
	struct k8s_watch *w = ctx;
	const char *type = json_string_value(json_object_get(ev, "type"));
	json_t *obj = json_object_get(ev, "object");

	if (!type || !json_is_object(obj)) {
		snprintf(w->stop_msg, sizeof(w->stop_msg), "watch: event without type or object");
		return WATCH_STOP_ERROR;
	}
	if (strcmp(type, "ERROR") == 0) {
		json_int_t code = json_integer_value(json_object_get(obj, "code"));
		const char *msg = json_string_value(json_object_get(obj, "message"));
		snprintf(w->stop_msg, sizeof(w->stop_msg), "watch: ERROR %lld: %s", (long long)code,
			 msg ? msg : "");
		return code == 410 ? WATCH_STOP_RELIST : WATCH_STOP_ERROR;
	}
	w->events++;
	json_t *md = json_object_get(obj, "metadata");
	const char *rv = json_string_value(json_object_get(md, "resourceVersion"));
	if (strcmp(type, "BOOKMARK") == 0) {
		if (w->initial) {
			json_t *ann = json_object_get(md, "annotations");
			const char *end = json_string_value(
				json_object_get(ann, "k8s.io/initial-events-end"));
			if (!end || strcmp(end, "true") != 0) {
				/* a server that ignored sendInitialEvents */
				snprintf(w->stop_msg, sizeof(w->stop_msg),
					 "bookmark without initial-events-end");
				return WATCH_STOP_FALLBACK;
			}
			/* the initial state is complete: same diff as a LIST */
			w->c->watchlist = K8S_WATCHLIST_YES;
			w->initial = false;
			json_t *items = json_array();
			const char *k;
			json_t *v;
			json_object_foreach(w->initial_items, k, v)
				json_array_append(items, v);
			json_object_clear(w->initial_items);
			watch_list_complete(w, items, rv);
			json_decref(items);
			k8s_backoff_reset(&w->backoff);
			return w->stopped ? WATCH_STOP_STOPPED : 0;
		}
		k8s_client_debug(w->c, "%s: bookmark %s", w->path, rv ? rv : "?");
		watch_set_rv(w, rv);
		return 0;
	}
	char *key = k8s_object_key(obj);
	if (!key)
		return 0;
	bool deleted = strcmp(type, "DELETED") == 0;
	if (!deleted && strcmp(type, "ADDED") != 0 && strcmp(type, "MODIFIED") != 0) {
		free(key);
		return 0; /* a type from the future: skip it, keep the RV */
	}
	if (w->initial) {
		if (deleted)
			json_object_del(w->initial_items, key);
		else
			json_object_set(w->initial_items, key, obj);
		free(key);
		return 0;
	}
	watch_set_rv(w, rv);
	json_t *old = json_object_get(w->cache, key);
	if (deleted) {
		if (old) {
			json_object_del(w->cache, key);
			watch_emit(w, K8S_DELETED, obj);
		}
	} else {
		/* ADDED for a key we hold (a re-watch overlap) is an update */
		enum k8s_event_type t = old ? K8S_MODIFIED : K8S_ADDED;
		json_object_set(w->cache, key, obj);
		watch_emit(w, t, obj);
	}
	free(key);
	return w->stopped ? WATCH_STOP_STOPPED : 0;
}

static int watch_on_head(void *ctx, int status)
{
	struct k8s_watch *w = ctx;
	w->http_status = status;
	/* one 401 retry per failure: an accepted watch re-arms it */
	if (status == 200)
		w->retried_401 = false;
	return 0;
}

static int watch_on_body(void *ctx, const char *data, size_t len)
{
	struct k8s_watch *w = ctx;
	if (w->http_status != 200) {
		/* keep the start of an error answer for the message */
		size_t room = WATCH_ERRBODY_MAX - w->errbody_len;
		size_t n = len < room ? len : room;
		if (!n)
			return 0;
		char *nb = realloc(w->errbody, w->errbody_len + n + 1);
		if (!nb)
			abort();
		memcpy(nb + w->errbody_len, data, n);
		w->errbody = nb;
		w->errbody_len += n;
		nb[w->errbody_len] = 0;
		return 0;
	}
	char *err = NULL;
	int r = k8s_json_stream_feed(&w->stream, data, len, watch_on_object, w, &err);
	if (r == 0)
		return 0;
	/* the stream ends here: returning non-zero cancels the exchange */
	bool was_streaming = w->streaming;
	watch_drop_http_state(w);
	if (w->stopped || r == WATCH_STOP_STOPPED) {
		free(err);
		return 1;
	}
	if (r == WATCH_STOP_RELIST) {
		w->streaming = false;
		watch_relist(w, w->stop_msg);
	} else if (r == WATCH_STOP_FALLBACK && was_streaming) {
		watch_fallback_to_list(w, w->stop_msg);
	} else {
		w->c->stats.errors++;
		watch_retry_later(w, WATCH_NEXT_WATCH, err ? err : w->stop_msg);
	}
	free(err);
	return 1;
}

static void watch_on_done(void *ctx, int status, const char *errmsg)
{
	struct k8s_watch *w = ctx;
	char why[600];
	bool streaming = w->streaming, initial = w->initial;
	uint64_t lasted = sl_mono_ns() - w->started_ns;
	const char *msg = NULL;
	json_t *body = NULL;

	if (w->errbody_len)
		body = json_loadb(w->errbody, w->errbody_len, 0, NULL);
	msg = k8s_status_message(body);
	snprintf(why, sizeof(why), "watch: HTTP %d: %s", status,
		 errmsg ? errmsg : msg ? msg : w->errbody ? w->errbody : "");
	json_decref(body);
	watch_drop_http_state(w);
	if (w->stopped)
		return;
	w->streaming = false;
	if (errmsg)
		w->c->stats.errors++;
	else if (status != 200)
		k8s_client_count_status(w->c, status);

	if (status == 200 && initial && !errmsg) {
		/* ended cleanly before the initial events did: not usable */
		watch_fallback_to_list(w, "stream ended before initial-events-end");
		return;
	}
	if (status == 200 && !errmsg) {
		/* the server's timeoutSeconds: resume from where we are, unless it
		 * ended at once and empty, which is a failure in disguise */
		if (w->events == 0 && lasted < WATCH_MIN_HEALTHY_NS) {
			w->c->stats.errors++;
			watch_retry_later(w, WATCH_NEXT_WATCH, "watch ended at once without events");
			return;
		}
		k8s_backoff_reset(&w->backoff);
		watch_watch(w);
		return;
	}
	if (status == 200) {
		/* cut in the middle: a watch that delivered is healthy */
		if (w->events > 0 || lasted >= WATCH_MIN_HEALTHY_NS)
			k8s_backoff_reset(&w->backoff);
		watch_retry_later(w, WATCH_NEXT_WATCH, why);
		return;
	}
	if (streaming && status >= 400 && status < 500 && status != 401 && status != 429) {
		watch_fallback_to_list(w, why);
		return;
	}
	if (status == 410) {
		watch_relist(w, why);
		return;
	}
	if (status == 401) {
		/* re-read the token on every 401 (it may rotate while we back
		 * off); retry at once only the first time */
		bool have_file = k8s_token_reload(&w->c->token);
		if (have_file && !w->retried_401) {
			w->retried_401 = true;
			watch_watch(w);
			return;
		}
	}
	if (status == 403 || status == 404) {
		/* lost access, or the CRD went away: the LIST path reports it */
		watch_retry_later(w, WATCH_NEXT_LIST, why);
		return;
	}
	watch_retry_later(w, WATCH_NEXT_WATCH, why);
}

static const struct k8s_http_ops watch_http_ops = {
	.on_head = watch_on_head,
	.on_body = watch_on_body,
	.on_done = watch_on_done,
};

static void watch_watch(struct k8s_watch *w)
{
	char params[256];
	unsigned timeout = w->c->watch_timeout_s
				   ? w->c->watch_timeout_s
				   : (unsigned)k8s_backoff_random(&w->c->rng, 300, 600);
	char *err = NULL;

	if (w->stopped)
		return;
	if (w->streaming) {
		/* no resourceVersion: the initial state is a consistent read */
		snprintf(params, sizeof(params),
			 "watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
			 "&allowWatchBookmarks=true&timeoutSeconds=%u",
			 timeout);
		w->initial = true;
		json_object_clear(w->initial_items);
	} else {
		if (!w->rv) {
			watch_list(w);
			return;
		}
		char *rv = watch_escape(w->rv);
		snprintf(params, sizeof(params),
			 "watch=1&resourceVersion=%s&allowWatchBookmarks=true&timeoutSeconds=%u", rv,
			 timeout);
		free(rv);
	}
	if (w->watched_once)
		w->c->stats.rewatches++;
	w->watched_once = true;
	char *url = watch_url(w, params);
	k8s_client_debug(w->c, "GET %s", url);
	w->http_status = 0;
	w->events = 0;
	w->started_ns = sl_mono_ns();
	k8s_json_stream_reset(&w->stream);
	/* the server closes at timeoutSeconds; silence well past that is a
	 * dead connection (bookmarks keep a healthy one talking) */
	int r = k8s_client_http(w->c, "GET", url, NULL, NULL, 0, false, (timeout + 60ull) * 1000,
				&watch_http_ops, w, &w->http, &err);
	free(url);
	if (r) {
		w->http = NULL;
		watch_retry_later(w, WATCH_NEXT_WATCH, err ? err : "watch: cannot start");
		free(err);
	}
}

/* --- the public half ----------------------------------------------------- */

int k8s_watch_start(struct k8s_client *c, const char *path, const char *query,
		    const struct k8s_watch_ops *ops, void *ctx, struct k8s_watch **out, char **err)
{
	if (!c || c->freed || !path || path[0] != '/' || strchr(path, '?') || !ops || !ops->event)
		return sl_fail(err, EINVAL, "watch: bad arguments (path must be a collection)");
	struct k8s_watch *w = sl_xcalloc(1, sizeof(*w));
	w->c = c;
	k8s_client_ref(c);
	w->path = sl_xstrdup(path);
	w->query = query && *query ? sl_xstrdup(query) : NULL;
	w->ops = *ops;
	w->ctx = ctx;
	w->cache = json_object();
	w->pages = json_array();
	w->initial_items = json_object();
	k8s_json_stream_init(&w->stream, 0);
	k8s_backoff_init(&w->backoff, 0, 0, k8s_backoff_random(&c->rng, 1, UINT64_MAX - 1));
	k8s_backoff_init(&w->refused_backoff, c->refused_base_ms, c->refused_cap_ms,
			 k8s_backoff_random(&c->rng, 1, UINT64_MAX - 1));
	uv_timer_init(c->loop, &w->timer);
	w->timer.data = w;
	w->next = c->watches;
	if (c->watches)
		c->watches->prev = w;
	c->watches = w;
	/* start from the loop, so that no callback runs before we return */
	watch_schedule(w, WATCH_NEXT_LIST, 0);
	*out = w;
	return 0;
}

static void watch_on_closed(uv_handle_t *h)
{
	struct k8s_watch *w = h->data;
	struct k8s_client *c = w->c;
	json_decref(w->cache);
	json_decref(w->pages);
	json_decref(w->initial_items);
	k8s_json_stream_free(&w->stream);
	free(w->errbody);
	free(w->rv);
	free(w->path);
	free(w->query);
	free(w->list_kind);
	free(w->list_api_version);
	free(w);
	k8s_client_unref(c);
}

void k8s_watch_stop(struct k8s_watch *w)
{
	if (!w || w->stopped)
		return;
	w->stopped = true;
	struct k8s_client *c = w->c;
	if (w->prev)
		w->prev->next = w->next;
	else
		c->watches = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
	k8s_call_cancel(w->call);
	w->call = NULL;
	k8s_http_cancel(w->http);
	w->http = NULL;
	uv_close((uv_handle_t *)&w->timer, watch_on_closed);
}

void k8s_watch_stop_all(struct k8s_client *c)
{
	while (c->watches)
		k8s_watch_stop(c->watches);
}

json_t *k8s_watch_get(struct k8s_watch *w, const char *ns, const char *name)
{
	if (!w || !name)
		return NULL;
	char *key = ns && *ns ? sl_strdupf("%s/%s", ns, name) : sl_xstrdup(name);
	json_t *obj = json_object_get(w->cache, key);
	free(key);
	return obj;
}

void k8s_watch_foreach(struct k8s_watch *w, void (*fn)(void *ctx, json_t *obj), void *ctx)
{
	const char *key;
	json_t *obj;
	if (!w)
		return;
	json_object_foreach(w->cache, key, obj)
		fn(ctx, obj);
}

bool k8s_watch_synced(const struct k8s_watch *w)
{
	return w && w->synced;
}

bool k8s_watch_retry_now(struct k8s_watch *w)
{
	if (!w || w->stopped || !w->refused_wait)
		return false;
	k8s_client_debug(w->c, "%s: list again now (asked after %u refusals)", w->path, w->refusals);
	k8s_backoff_reset(&w->refused_backoff);
	watch_schedule(w, WATCH_NEXT_LIST, 0);
	return true;
}

void k8s_watch_refusals(const struct k8s_watch *w, unsigned *refusals, uint64_t *delay_ms)
{
	*refusals = w ? w->refusals : 0;
	*delay_ms = w ? w->refused_delay_ms : 0;
}
