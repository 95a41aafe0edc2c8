/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.c - Prometheus metrics (text exposition format 0.0.4) on
 * --metrics ADDR (default 127.0.0.1:9962), path /metrics. Names follow
 * Prometheus conventions: counters end in _total, durations are _seconds.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "k8s.h"
#include "http_local.h"
#include "metrics.h"
#include "services.h"

#define NBUCKETS 12
static const double buckets[NBUCKETS] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
					   0.01,   0.025,   0.05,   0.1,   0.5,    1.0 };

struct histogram {
	uint64_t counts[NBUCKETS];
	uint64_t count;
	double sum;
};

struct http_series {
	char method[16];
	unsigned code;
	bool allowed;
	uint64_t count;
};

/*
 * The proxy's TLS counters (issue #15), from its "stats" messages
 * (proxy/control.c): one row per series, the key it has there. A proxy
 * that restarts counts from zero again: a value lower than the last one
 * adds the last one to the base, so the series never go down.
 */
static const struct tls_series {
	const char *family, *labels, *key;
} tls_series[] = {
	{ "sluice_tls_handshakes_total", "side=\"client\"", "tls_handshakes" },
	{ "sluice_tls_handshakes_total", "side=\"upstream\"", "tls_upstream_handshakes" },
	{ "sluice_tls_sessions_resumed_total", "side=\"client\"", "tls_resumed" },
	{ "sluice_tls_sessions_resumed_total", "side=\"upstream\"", "tls_upstream_resumed" },
	{ "sluice_tls_handshake_failures_total", "side=\"client\",reason=\"timeout\"",
	  "tls_handshake_timeouts" },
	{ "sluice_tls_handshake_failures_total", "side=\"client\",reason=\"server_name\"",
	  "tls_sni_denied" },
	{ "sluice_tls_handshake_failures_total", "side=\"client\",reason=\"untrusted\"",
	  "tls_handshake_untrusted" },
	{ "sluice_tls_handshake_failures_total", "side=\"client\",reason=\"plain_http\"",
	  "tls_handshake_plain_http" },
	{ "sluice_tls_handshake_failures_total", "side=\"client\",reason=\"protocol\"",
	  "tls_handshake_protocol" },
	{ "sluice_tls_handshake_failures_total", "side=\"client\",reason=\"closed\"",
	  "tls_handshake_closed" },
	{ "sluice_tls_handshake_failures_total", "side=\"upstream\",reason=\"verify\"",
	  "tls_upstream_verify_failed" },
	{ "sluice_tls_handshake_failures_total", "side=\"upstream\",reason=\"other\"",
	  NULL /* tls_upstream_errors - tls_upstream_verify_failed */ },
	{ "sluice_tls_handshakes_evicted_total", "", "tls_handshake_evicted" },
};
#define TLS_NSERIES (sizeof(tls_series) / sizeof(tls_series[0]))

#define NCARRIED 7

/* a->metrics: the series only metrics keep (the counters are in
 * a->counters), and the HTTP server (http_local). Freed by metrics_stop. */
struct metrics {
	struct agent *agent;
	struct http_series *http_series;
	size_t nhttp_series;
	struct histogram http_duration, apply_duration;
	struct http_local *http; /* NULL: not served */
	uint64_t tls_base[TLS_NSERIES], tls_last[TLS_NSERIES];
	/* the proxy's drop and upstream counters, carried the same way */
	uint64_t drop_base[NCARRIED], drop_last[NCARRIED];
	uint64_t upstream_idle; /* a gauge: the last stats' value */
	struct metrics_hubble *hubble; /* Hubble's names, the same flows */
};

/* The proxy's drop and upstream-connection counters on /metrics (stats
 * keys), monotonic across proxy restarts like the TLS series. */
static const char *const drop_keys[NCARRIED] = { "access_dropped", "access_log_dropped",
						 "upstream_connects", "upstream_reused",
						 "upstream_retries", "responses_spliced",
						 "requests_spliced" };

/* v is a counter of the current proxy: a value lower than the last one
 * means a new proxy, whose count starts again from zero. */
static void carry(uint64_t *base, uint64_t *last, json_int_t v)
{
	if (v < 0)
		v = 0;
	if ((uint64_t)v < *last)
		*base += *last;
	*last = (uint64_t)v;
}

static void hist_observe(struct histogram *h, double v)
{
	int i;

	for (i = 0; i < NBUCKETS; i++)
		if (v <= buckets[i])
			h->counts[i]++;
	h->count++;
	h->sum += v;
}

void metrics_http_observe(struct agent *a, const char *method, unsigned code, bool allowed,
			  double seconds)
{
	struct metrics *mx = a->metrics;
	size_t i;
	char m[16];

	if (!mx)
		return;
	sl_strlcpy(m, method && *method ? method : "UNKNOWN", sizeof(m));
	for (i = 0; i < mx->nhttp_series; i++) {
		if (!strcmp(mx->http_series[i].method, m) && mx->http_series[i].code == code &&
		    mx->http_series[i].allowed == allowed) {
			mx->http_series[i].count++;
			goto hist;
		}
	}
	if (mx->nhttp_series < 4096) {
		mx->http_series = realloc(mx->http_series, (mx->nhttp_series + 1) * sizeof(*mx->http_series));
		if (!mx->http_series)
			abort();
		memset(&mx->http_series[mx->nhttp_series], 0, sizeof(*mx->http_series));
		sl_strlcpy(mx->http_series[mx->nhttp_series].method, m, sizeof(m));
		mx->http_series[mx->nhttp_series].code = code;
		mx->http_series[mx->nhttp_series].allowed = allowed;
		mx->http_series[mx->nhttp_series].count = 1;
		mx->nhttp_series++;
	}
hist:
	hist_observe(&mx->http_duration, seconds);
}

void metrics_flow(struct agent *a, const struct hubble_flow_facts *f)
{
	if (a->metrics)
		metrics_hubble_flow(a->metrics->hubble, f);
}

void metrics_apply_observe(struct agent *a, double seconds)
{
	if (a->metrics)
		hist_observe(&a->metrics->apply_duration, seconds);
}

void metrics_proxy_stats(struct agent *a, json_t *stats)
{
	struct metrics *mx = a->metrics;

	if (!mx)
		return;
	for (size_t i = 0; i < TLS_NSERIES; i++) {
		const char *key = tls_series[i].key;
		json_int_t v;

		if (key) {
			v = json_integer_value(json_object_get(stats, key));
		} else {
			v = json_integer_value(json_object_get(stats, "tls_upstream_errors")) -
			    json_integer_value(json_object_get(stats, "tls_upstream_verify_failed"));
		}
		carry(&mx->tls_base[i], &mx->tls_last[i], v);
	}
	for (size_t i = 0; i < NCARRIED; i++)
		carry(&mx->drop_base[i], &mx->drop_last[i],
		      json_integer_value(json_object_get(stats, drop_keys[i])));
	mx->upstream_idle = (uint64_t)json_integer_value(json_object_get(stats, "upstream_idle"));
}

struct out {
	char *buf;
	size_t len, cap;
};

static void outf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		o->cap = o->cap ? o->cap * 2 : 16384;
		o->buf = realloc(o->buf, o->cap);
		if (!o->buf)
			abort();
	}
}

static void head(struct out *o, const char *name, const char *type, const char *help)
{
	outf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void hist_render(struct out *o, const char *name, const struct histogram *h)
{
	int i;

	for (i = 0; i < NBUCKETS; i++)
		outf(o, "%s_bucket{le=\"%g\"} %llu\n", name, buckets[i], (unsigned long long)h->counts[i]);
	outf(o, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9f\n%s_count %llu\n", name,
	     (unsigned long long)h->count, name, h->sum, name, (unsigned long long)h->count);
}

static const char *reason_label(unsigned r)
{
#define REASON_LABEL_(name, num, hubble, metric, text) case num: return metric;
	switch (r) {
	SLUICE_DROP_REASONS(REASON_LABEL_)
	}
#undef REASON_LABEL_
	return NULL;
}

static void render_tls(struct out *o, const struct metrics *mx)
{
	for (size_t i = 0; i < TLS_NSERIES; i++) {
		const struct tls_series *t = &tls_series[i];
		uint64_t v = mx->tls_base[i] + mx->tls_last[i];

		if (!i || strcmp(t->family, tls_series[i - 1].family)) {
			const char *help =
				!strcmp(t->family, "sluice_tls_handshakes_total") ?
				"TLS handshakes the L7 proxy completed, with clients (terminatingTLS) and upstreams (originatingTLS)." :
				!strcmp(t->family, "sluice_tls_sessions_resumed_total") ?
				"Of those, the ones that resumed a session (ticket) instead of a full handshake." :
				!strcmp(t->family, "sluice_tls_handshake_failures_total") ?
				"TLS handshakes that failed, by side and reason (server_name: SNI missing or not in serverNames; untrusted: the client rejected the certificate; verify: the upstream's certificate failed verification)." :
				"Client TLS handshakes closed at the concurrent-handshake cap (the oldest in progress makes room).";
			head(o, t->family, "counter", help);
		}
		if (t->labels[0])
			outf(o, "%s{%s} %llu\n", t->family, t->labels, (unsigned long long)v);
		else
			outf(o, "%s %llu\n", t->family, (unsigned long long)v);
	}
}

/* HELP text of each datapath counter family (names come from SLUICE_STATS) */
static const char *stat_family_help(const char *family)
{
	if (!strcmp(family, "sluice_datapath_packets_total"))
		return "Packets judged by the datapath, by direction and verdict.";
	if (!strcmp(family, "sluice_datapath_drops_by_reason_total"))
		return "Dropped packets by reason.";
	if (!strcmp(family, "sluice_events_lost_total"))
		return "Datapath events lost because the ring buffer was full.";
	if (!strcmp(family, "sluice_conntrack_created_total"))
		return "Connection-tracking entries created.";
	if (!strcmp(family, "sluice_datapath_redirected_total"))
		return "New flows handed to the L7 proxy.";
	if (!strcmp(family, "sluice_service_translations_total"))
		return "connect()/sendto() to a ClusterIP translated to a backend, by protocol.";
	if (!strcmp(family, "sluice_service_no_backend_total"))
		return "connect()/sendto() to a service without backends, refused, by protocol.";
	return "Datapath counter.";
}

/* Every datapath counter, grouped by family, from the one list in abi.h. */
static void render_stats(struct out *o, const uint64_t st[SLUICE_STAT_MAX])
{
#define STAT_ROW_(name, status, family, labels) { family, labels },
	static const struct {
		const char *family, *labels;
	} rows[SLUICE_STAT_MAX] = { SLUICE_STATS(STAT_ROW_) };
#undef STAT_ROW_
	size_t i;

	for (i = 0; i < SLUICE_STAT_MAX; i++) {
		if (!i || strcmp(rows[i].family, rows[i - 1].family))
			head(o, rows[i].family, "counter", stat_family_help(rows[i].family));
		if (rows[i].labels[0])
			outf(o, "%s{%s} %llu\n", rows[i].family, rows[i].labels, (unsigned long long)st[i]);
		else
			outf(o, "%s %llu\n", rows[i].family, (unsigned long long)st[i]);
	}
}

char *metrics_render(struct agent *a)
{
	const struct agent_counters *fc = &a->counters;
	struct metrics *mx = a->metrics;
	static const char *const kinds[5] = { NULL, "L3_L4", "L7", "L7", "Trace" };
	static const char *const verdicts[4] = { NULL, "FORWARDED", "DROPPED", "REDIRECTED" };
	uint64_t st[SLUICE_STAT_MAX] = { 0 };
	struct sluice_dp_map_fill fill[SLUICE_DP_MAPS_MAX];
	struct out o = { 0 };
	int k, v, nmaps;
	unsigned r;
	size_t i;

	sluice_dp_stats(a->dp, st);

	head(&o, "sluice_flows_processed_total", "counter",
	     "Flows seen by the agent, by type (L3_L4: policy verdicts and drops; L7; Trace) and verdict.");
	for (k = 1; k < 5; k++)
		for (v = 1; v < 4; v++) {
			uint64_t n = fc->flows_by_kind_verdict[k][v] + (k == 2 ? fc->flows_by_kind_verdict[3][v] : 0);

			/* responses count with the L7 requests; a trace is always FORWARDED */
			if (k == 3 || (k == 4 && v != SLUICE_VERDICT_FORWARDED))
				continue;
			outf(&o, "sluice_flows_processed_total{type=\"%s\",verdict=\"%s\"} %llu\n", kinds[k],
			     verdicts[v], (unsigned long long)n);
		}

	head(&o, "sluice_drops_total", "counter",
	     "Dropped flows reported by the datapath, by reason and direction (one per flow and second).");
	for (r = 0; r < 256; r++) {
		const char *name = reason_label(r);

		if (!name)
			continue;
		outf(&o, "sluice_drops_total{reason=\"%s\",direction=\"ingress\"} %llu\n", name,
		     (unsigned long long)fc->drops_by_reason_dir[r][SLUICE_DIR_INGRESS]);
		outf(&o, "sluice_drops_total{reason=\"%s\",direction=\"egress\"} %llu\n", name,
		     (unsigned long long)fc->drops_by_reason_dir[r][SLUICE_DIR_EGRESS]);
	}

	render_stats(&o, st);
	head(&o, "sluice_observer_flows_lost_total", "counter",
	     "Flows not sent to a slow `sluice observe` client.");
	outf(&o, "sluice_observer_flows_lost_total %llu\n", (unsigned long long)fc->observer_flows_lost);

	/* the proxy's own losses (its stats, at most a second old), summed
	 * over the proxies this agent ran (metrics_proxy_stats) */
	head(&o, "sluice_proxy_access_records_dropped_total", "counter",
	     "Access records the proxy could not hand to the agent (queue full).");
	outf(&o, "sluice_proxy_access_records_dropped_total %llu\n",
	     (unsigned long long)(mx->drop_base[0] + mx->drop_last[0]));
	head(&o, "sluice_proxy_access_log_dropped_total", "counter",
	     "Access-log lines the proxy dropped because stdout did not keep up.");
	outf(&o, "sluice_proxy_access_log_dropped_total %llu\n",
	     (unsigned long long)(mx->drop_base[1] + mx->drop_last[1]));
	/* upstream connections: new ones against requests on pooled ones */
	head(&o, "sluice_proxy_upstream_connections_total", "counter",
	     "Upstream connections the proxy opened (connect attempts).");
	outf(&o, "sluice_proxy_upstream_connections_total %llu\n",
	     (unsigned long long)(mx->drop_base[2] + mx->drop_last[2]));
	head(&o, "sluice_proxy_upstream_reused_total", "counter",
	     "Requests the proxy sent on an idle upstream connection from its pool.");
	outf(&o, "sluice_proxy_upstream_reused_total %llu\n",
	     (unsigned long long)(mx->drop_base[3] + mx->drop_last[3]));
	head(&o, "sluice_proxy_upstream_retries_total", "counter",
	     "Requests sent again on a new connection after a reused one failed before answering.");
	outf(&o, "sluice_proxy_upstream_retries_total %llu\n",
	     (unsigned long long)(mx->drop_base[4] + mx->drop_last[4]));
	head(&o, "sluice_proxy_responses_spliced_total", "counter",
	     "Responses the kernel sent from the server straight to the client (the response splice).");
	outf(&o, "sluice_proxy_responses_spliced_total %llu\n",
	     (unsigned long long)(mx->drop_base[5] + mx->drop_last[5]));
	head(&o, "sluice_proxy_requests_spliced_total", "counter",
	     "Requests the kernel sent from the client straight to the server (the request splice).");
	outf(&o, "sluice_proxy_requests_spliced_total %llu\n",
	     (unsigned long long)(mx->drop_base[6] + mx->drop_last[6]));
	head(&o, "sluice_proxy_upstream_idle_connections", "gauge",
	     "Idle upstream connections in the proxy's pool.");
	outf(&o, "sluice_proxy_upstream_idle_connections %llu\n", (unsigned long long)mx->upstream_idle);
	head(&o, "sluice_http_requests_total", "counter",
	     "HTTP requests seen by the proxy, by method, status and verdict.");
	for (i = 0; i < mx->nhttp_series; i++)
		outf(&o, "sluice_http_requests_total{method=\"%s\",status=\"%u\",verdict=\"%s\"} %llu\n",
		     mx->http_series[i].method, mx->http_series[i].code,
		     mx->http_series[i].allowed ? "allowed" : "denied", (unsigned long long)mx->http_series[i].count);
	head(&o, "sluice_http_request_duration_seconds", "histogram",
	     "Time from a request's first byte to its response, at the proxy.");
	hist_render(&o, "sluice_http_request_duration_seconds", &mx->http_duration);
	render_tls(&o, mx);
	{
		char *hub = metrics_hubble_render(mx->hubble);

		outf(&o, "%s", hub);
		free(hub);
	}
	/* Hubble's lost events, by its LostEventSource names: the datapath's
	 * ring buffer full, and flows a slow observer did not get (Hubble's
	 * reader falling behind its ring); a series once it counted one */
	head(&o, "hubble_lost_events_total", "counter", "Number of lost events");
	if (st[SLUICE_STAT_EVENTS_LOST])
		outf(&o, "hubble_lost_events_total{source=\"perf_event_ring_buffer\"} %llu\n",
		     (unsigned long long)st[SLUICE_STAT_EVENTS_LOST]);
	if (fc->observer_flows_lost)
		outf(&o, "hubble_lost_events_total{source=\"hubble_ring_buffer\"} %llu\n",
		     (unsigned long long)fc->observer_flows_lost);

	head(&o, "sluice_endpoints", "gauge", "Local endpoints (pods).");
	outf(&o, "sluice_endpoints %zu\n", a->reg.npods);
	head(&o, "sluice_identities", "gauge", "Security identities known, reserved ones included.");
	outf(&o, "sluice_identities %zu\n", sluice_idt_count(a->reg.idt));
	{
		struct agent_services_counts sc;

		agent_services_counts(a, &sc);
		head(&o, "sluice_services", "gauge", "ClusterIP services.");
		outf(&o, "sluice_services %llu\n", (unsigned long long)sc.services);
		head(&o, "sluice_service_frontends", "gauge",
		     "Service ports (ClusterIP, port, protocol) the datapath translates.");
		outf(&o, "sluice_service_frontends %llu\n", (unsigned long long)sc.frontends);
		head(&o, "sluice_service_backends", "gauge", "Distinct backends (address, port) of services.");
		outf(&o, "sluice_service_backends %llu\n", (unsigned long long)sc.backends);
	}
	head(&o, "sluice_policies", "gauge", "Policies in force.");
	outf(&o, "sluice_policies %zu\n", a->policies.n);

	nmaps = sluice_dp_map_fill(a->dp, fill, SLUICE_DP_MAPS_MAX);
	head(&o, "sluice_bpf_map_entries", "gauge", "Entries in each BPF map.");
	for (k = 0; k < nmaps && k < SLUICE_DP_MAPS_MAX; k++)
		outf(&o, "sluice_bpf_map_entries{map=\"%s\"} %u\n", fill[k].name, fill[k].entries);
	head(&o, "sluice_bpf_map_capacity", "gauge", "Maximum entries of each BPF map.");
	for (k = 0; k < nmaps && k < SLUICE_DP_MAPS_MAX; k++)
		outf(&o, "sluice_bpf_map_capacity{map=\"%s\"} %u\n", fill[k].name, fill[k].max_entries);

	head(&o, "sluice_agent_rollbacks_failed_total", "counter",
	     "Failed changes whose undo failed too: the datapath may not match the declared state.");
	outf(&o, "sluice_agent_rollbacks_failed_total %llu\n", (unsigned long long)fc->rollbacks_failed);
	head(&o, "sluice_agent_state_save_failures_total", "counter",
	     "State directory writes that failed (a restart would adopt older state).");
	outf(&o, "sluice_agent_state_save_failures_total %llu\n", (unsigned long long)fc->state_save_failures);

	head(&o, "sluice_connections_cut_total", "counter",
	     "Established connections cut because a change revoked the right they relied on.");
	outf(&o, "sluice_connections_cut_total %llu\n", (unsigned long long)fc->connections_cut);
	head(&o, "sluice_revalidation_walks_total", "counter",
	     "Walks over conntrack and the fast path's sockets after a change.");
	outf(&o, "sluice_revalidation_walks_total %llu\n", (unsigned long long)fc->reval_walks);

	head(&o, "sluice_policy_apply_duration_seconds", "histogram",
	     "Time to validate, compile and write one policy apply.");
	hist_render(&o, "sluice_policy_apply_duration_seconds", &mx->apply_duration);
	if (a->k8s) {
		char *k8s = agent_k8s_metrics(a);

		outf(&o, "%s", k8s);
		free(k8s);
	}
	return o.buf;
}

/* ---- the HTTP side: agent/http_local.c serves, this routes ---------------- */

static int metrics_route(void *ctx, const char *method, const char *path, struct http_reply *r)
{
	struct agent *a = ctx;

	if (strcmp(method, "GET") || !a->metrics)
		return -ENOENT;
	if (!strcmp(path, "/metrics")) {
		r->status = "200 OK";
		r->ctype = "text/plain; version=0.0.4; charset=utf-8";
		r->body = metrics_render(a);
		return 0;
	}
	if (!strcmp(path, "/")) {
		r->status = "200 OK";
		r->ctype = "text/plain";
		r->body = sl_xstrdup("sluice metrics: /metrics\n");
		return 0;
	}
	return -ENOENT;
}

int metrics_start(struct agent *a, char **err)
{
	struct metrics *mx = sl_xcalloc(1, sizeof(*mx));

	mx->agent = a;
	mx->hubble = metrics_hubble_new();
	a->metrics = mx; /* series are kept even when not served */
	if (!a->cfg.metrics_addr || !strcmp(a->cfg.metrics_addr, "off") || !*a->cfg.metrics_addr)
		return 0;
	return http_local_start(a->loop, a->cfg.metrics_addr, "--metrics", metrics_route, a,
				&mx->http, err);
}

void metrics_stop(struct agent *a)
{
	struct metrics *mx = a->metrics;

	if (!mx)
		return;
	a->metrics = NULL; /* a request still in flight gets a 404 */
	http_local_stop(mx->http);
	free(mx->http_series);
	metrics_hubble_free(mx->hubble);
	free(mx);
}
