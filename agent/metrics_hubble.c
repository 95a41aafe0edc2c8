/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_hubble.c - see metrics_hubble.h. Counters are fixed arrays indexed
 * by the labels' values (the agent counts every flow, up to hundreds of
 * thousands a second: no lookup by string but for HTTP's few series); a
 * series is shown once it has counted something, as Hubble's appear.
 */
#include "metrics_hubble.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/flow_json.h"
#include "../common/util.h"
#include "sluice/abi.h"

enum { T_DROP, T_TRACE, T_POLICY, T_L7, NTYPES };
enum { P_TCP, P_UDP, P_ICMP4, P_ICMP6, P_SCTP, P_HTTP, P_UNKNOWN, NPROTOS };
#define NSUB 16     /* trace observation points (Cilium's 0..13) */
#define NVERDICT 8  /* Hubble's Verdict enum */
#define NMATCH 8    /* Cilium's PolicyMatchType 0..6, then l7/http */
#define MATCH_L7 7
#define NHTTP 1024  /* HTTP series kept (method x protocol x status x reporter) */
#define NHIST 128   /* duration histograms kept (method x reporter) */
#define NBUCKETS 11 /* Prometheus' DefBuckets */
#define NICMP 64    /* ICMP (type, code) series kept */

static const double buckets[NBUCKETS] = { .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10 };
static const char *const type_names[NTYPES] = { "Drop", "Trace", "PolicyVerdict", "L7" };
static const char *const proto_names[NPROTOS] = { "TCP", "UDP", "ICMPv4", "ICMPv6", "SCTP", "HTTP", "Unknown L4" };
/* Hubble's Verdict names (flow.proto), by number */
static const char *const verdict_names[NVERDICT] = { "VERDICT_UNKNOWN", "FORWARDED", "DROPPED", "ERROR",
						     "AUDIT",	       "REDIRECTED", "TRACED",  "TRANSLATED" };
static const char *const reporters[3] = { "client", "server", "unknown" };

struct http_series {
	char method[16], protocol[16];
	unsigned code;
	unsigned reporter;
	uint64_t count;
};

struct duration_hist {
	char method[16];
	unsigned reporter;
	uint64_t counts[NBUCKETS], count;
	double sum;
};

struct metrics_hubble {
	uint64_t flows[NTYPES][NSUB][NPROTOS][NVERDICT];
	uint64_t drops[256][NPROTOS];
	uint64_t tcp[2][4]; /* [IPv4, IPv6][FIN, RST, SYN, SYN-ACK] */
	uint64_t policy[2][NMATCH][NVERDICT]; /* [ingress, egress] */
	uint64_t to_world[NPROTOS][NVERDICT]; /* flows-to-world, Hubble's defaults */
	struct http_series *http;
	size_t nhttp;
	struct duration_hist *hist;
	size_t nhist;
	/* port-distribution: by destination port, TCP, UDP and SCTP (allocated
	 * on their first flow); ICMP has no port ("0") */
	uint64_t *ports[3];
	uint64_t icmp_port0;
	/* icmp: ICMPv4 messages by type and code (the first NICMP pairs seen) */
	struct {
		uint8_t type, code;
		uint64_t count;
	} icmp[NICMP];
	size_t nicmp;
};

struct metrics_hubble *metrics_hubble_new(void)
{
	return sl_xcalloc(1, sizeof(struct metrics_hubble));
}

void metrics_hubble_free(struct metrics_hubble *h)
{
	if (!h)
		return;
	free(h->http);
	free(h->hist);
	for (int i = 0; i < 3; i++)
		free(h->ports[i]);
	free(h);
}

/* Hubble's verdict number of a sluice verdict (abi.h's, or one read from
 * JSON: flow_json.h) */
static unsigned verdict_index(uint8_t v)
{
	switch (v) {
	case SLUICE_VERDICT_FORWARDED: return 1;
	case SLUICE_VERDICT_DROPPED: return 2;
	case SLUICE_VERDICT_REDIRECTED: return 5;
	case SL_FLOW_VERDICT_ERROR: return 3;
	case SL_FLOW_VERDICT_AUDIT: return 4;
	case SL_FLOW_VERDICT_TRACED: return 6;
	case SL_FLOW_VERDICT_TRANSLATED: return 7;
	}
	return 0;
}

/* v1.FlowProtocol: an L7 flow's protocol, else its L4's */
static unsigned proto_index(const struct hubble_flow_facts *f)
{
	if (f->type == 129)
		return P_HTTP;
	switch (f->protocol) {
	case 6: return P_TCP;
	case 17: return P_UDP;
	case 1: return P_ICMP4;
	case 58: return P_ICMP6;
	case 132: return P_SCTP;
	}
	return P_UNKNOWN;
}

static void count_http(struct metrics_hubble *h, const struct hubble_flow_facts *f)
{
	/* httpV2: each response, by the request's method and protocol, its
	 * status and who reports it (the server on ingress, the client on
	 * egress) */
	unsigned reporter = f->direction == SLUICE_DIR_INGRESS ? 1 : f->direction == SLUICE_DIR_EGRESS ? 0 : 2;
	char m[16], p[16];
	size_t i;
	double s = (double)f->latency_ns / 1e9;

	sl_strlcpy(m, f->method ? f->method : "", sizeof(m));
	sl_strlcpy(p, f->http_protocol ? f->http_protocol : "", sizeof(p));
	for (i = 0; i < h->nhttp; i++)
		if (h->http[i].code == f->code && h->http[i].reporter == reporter && !strcmp(h->http[i].method, m) &&
		    !strcmp(h->http[i].protocol, p))
			break;
	if (i == h->nhttp && h->nhttp < NHTTP) {
		h->http = realloc(h->http, (h->nhttp + 1) * sizeof(*h->http));
		if (!h->http)
			abort();
		memset(&h->http[i], 0, sizeof(h->http[i]));
		memcpy(h->http[i].method, m, sizeof(m));
		memcpy(h->http[i].protocol, p, sizeof(p));
		h->http[i].code = f->code;
		h->http[i].reporter = reporter;
		h->nhttp++;
	}
	if (i < h->nhttp)
		h->http[i].count++;
	for (i = 0; i < h->nhist; i++)
		if (h->hist[i].reporter == reporter && !strcmp(h->hist[i].method, m))
			break;
	if (i == h->nhist && h->nhist < NHIST) {
		h->hist = realloc(h->hist, (h->nhist + 1) * sizeof(*h->hist));
		if (!h->hist)
			abort();
		memset(&h->hist[i], 0, sizeof(h->hist[i]));
		memcpy(h->hist[i].method, m, sizeof(m));
		h->hist[i].reporter = reporter;
		h->nhist++;
	}
	if (i < h->nhist) {
		for (int b = 0; b < NBUCKETS; b++)
			if (s <= buckets[b])
				h->hist[i].counts[b]++;
		h->hist[i].count++;
		h->hist[i].sum += s;
	}
}

void metrics_hubble_flow(struct metrics_hubble *h, const struct hubble_flow_facts *f)
{
	unsigned v = verdict_index(f->verdict), p = proto_index(f), sub = 0, t;
	unsigned dir = f->direction == SLUICE_DIR_EGRESS;

	if (!h)
		return;
	switch (f->type) {
	case 1: t = T_DROP; break;
	case 4:
		t = T_TRACE;
		sub = f->sub_type < NSUB ? f->sub_type : NSUB - 1;
		break;
	case 5: t = T_POLICY; break;
	default: t = T_L7; break;
	}
	h->flows[t][sub][p][v]++;
	/* drop: every dropped flow, by its drop reason (an L7 denial has none) */
	if (v == 2)
		h->drops[t == T_L7 ? 0 : f->drop_reason & 0xff][p]++;
	/* tcp: forwarded packets' flags */
	if ((v == 1 || v == 5) && f->protocol == 6 && t != T_L7) {
		unsigned fam = !f->ipv4;

		if (f->tcp_flags & 0x01)
			h->tcp[fam][0]++;
		if (f->tcp_flags & 0x04)
			h->tcp[fam][1]++;
		if (f->tcp_flags & 0x02)
			h->tcp[fam][(f->tcp_flags & 0x10) ? 3 : 2]++;
	}
	/* policy: the policy verdicts (not the host's, nor health's), and a
	 * drop by policy, which Cilium also reports as a DENIED verdict; L7
	 * requests as l7/http */
	if (f->src_identity != 1 && f->src_identity != 4 && f->dst_identity != 4) {
		if (t == T_POLICY)
			h->policy[dir][f->match_kind < MATCH_L7 ? f->match_kind : 0][v]++;
		else if (t == T_DROP &&
			 (f->drop_reason == SLUICE_DROP_POLICY_DENIED || f->drop_reason == SLUICE_DROP_POLICY_DENY))
			h->policy[dir][0][v]++;
		else if (t == T_L7 && !f->response)
			h->policy[dir][MATCH_L7][v]++;
	}
	if (t == T_L7 && f->response)
		count_http(h, f);
	/* flows-to-world with Hubble's default options: flows whose
	 * destination carries reserved:world (the world identity, and a CIDR
	 * identity, whose labels include it) with an L4; of drops only policy
	 * denials (not "any-drop"); no forwarded replies (ephemeral ports) */
	if (p != P_UNKNOWN &&
	    (f->dst_identity == SLUICE_ID_WORLD || f->dst_identity >= SLUICE_ID_LOCAL_MIN) &&
	    (v == 2 ? f->drop_reason == SLUICE_DROP_POLICY_DENIED : !f->reply))
		h->to_world[p][v]++;
	/* port-distribution: forwarded flows that are not replies (a drop's
	 * direction is unknown: not counted either) */
	if ((v == 1 || v == 5) && !f->reply) {
		int pi = f->protocol == 6 ? 0 : f->protocol == 17 ? 1 : f->protocol == 132 ? 2 : -1;

		if (pi >= 0) {
			if (!h->ports[pi])
				h->ports[pi] = sl_xcalloc(65536, sizeof(uint64_t));
			h->ports[pi][f->dport]++;
		} else if (f->protocol == 1) {
			h->icmp_port0++;
		}
	}
	/* icmp: every ICMPv4 flow, by its type and code */
	if (f->protocol == 1 && t != T_L7) {
		size_t i;

		for (i = 0; i < h->nicmp && (h->icmp[i].type != f->icmp_type || h->icmp[i].code != f->icmp_code); i++)
			;
		if (i == h->nicmp && h->nicmp < NICMP) {
			h->icmp[i].type = f->icmp_type;
			h->icmp[i].code = f->icmp_code;
			h->nicmp++;
		}
		if (i < h->nicmp)
			h->icmp[i].count++;
	}
}

static void lower(char *out, size_t len, const char *s)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < len; i++)
		out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
	out[i] = 0;
}

/* a label value as Prometheus' text format escapes it */
static void put_label(FILE *o, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', o);
		if (*s == '\n')
			fputs("\\n", o);
		else
			fputc(*s, o);
	}
}

char *metrics_hubble_render(const struct metrics_hubble *h)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *o = open_memstream(&buf, &len);

	if (!o)
		abort();
	fputs("# HELP hubble_flows_processed_total Total number of flows processed\n"
	      "# TYPE hubble_flows_processed_total counter\n", o);
	for (unsigned t = 0; t < NTYPES; t++)
		for (unsigned s = 0; s < NSUB; s++)
			for (unsigned p = 0; p < NPROTOS; p++)
				for (unsigned v = 0; v < NVERDICT; v++)
					if (h->flows[t][s][p][v])
						fprintf(o, "hubble_flows_processed_total{protocol=\"%s\",subtype=\"%s\","
							   "type=\"%s\",verdict=\"%s\"} %llu\n",
							proto_names[p],
							t == T_TRACE ? (sl_cilium_trace_point(s) ?: "")
							: t == T_L7  ? "HTTP"
								     : "",
							type_names[t], verdict_names[v],
							(unsigned long long)h->flows[t][s][p][v]);
	fputs("# HELP hubble_drop_total Number of drops\n# TYPE hubble_drop_total counter\n", o);
	for (unsigned r = 0; r < 256; r++)
		for (unsigned p = 0; p < NPROTOS; p++)
			if (h->drops[r][p])
				fprintf(o, "hubble_drop_total{protocol=\"%s\",reason=\"%s\"} %llu\n", proto_names[p],
					r ? sl_flow_drop_reason_name((uint16_t)r) : "DROP_REASON_UNKNOWN",
					(unsigned long long)h->drops[r][p]);
	fputs("# HELP hubble_tcp_flags_total TCP flag occurrences\n# TYPE hubble_tcp_flags_total counter\n", o);
	for (unsigned fam = 0; fam < 2; fam++)
		for (unsigned fl = 0; fl < 4; fl++) {
			static const char *const flags[4] = { "FIN", "RST", "SYN", "SYN-ACK" };

			if (h->tcp[fam][fl])
				fprintf(o, "hubble_tcp_flags_total{family=\"%s\",flag=\"%s\"} %llu\n",
					fam ? "IPv6" : "IPv4", flags[fl], (unsigned long long)h->tcp[fam][fl]);
		}
	fputs("# HELP hubble_policy_verdicts_total Total number of Cilium network policy verdicts\n"
	      "# TYPE hubble_policy_verdicts_total counter\n", o);
	for (unsigned d = 0; d < 2; d++)
		for (unsigned m = 0; m < NMATCH; m++)
			for (unsigned v = 0; v < NVERDICT; v++)
				if (h->policy[d][m][v]) {
					char action[16], match[16];

					/* Hubble's: the verdict's and the match type's names,
					 * lowercase (an HTTP request's match is l7/http) */
					lower(action, sizeof(action), verdict_names[v]);
					lower(match, sizeof(match), m == MATCH_L7 ? "l7/http" : sl_cilium_match_type(m));
					fprintf(o, "hubble_policy_verdicts_total{action=\"%s\",direction=\"%s\","
						   "match=\"%s\"} %llu\n",
						action, d ? "egress" : "ingress", match, (unsigned long long)h->policy[d][m][v]);
				}
	fputs("# HELP hubble_flows_to_world_total Total number of flows to reserved:world\n"
	      "# TYPE hubble_flows_to_world_total counter\n", o);
	for (unsigned p = 0; p < NPROTOS; p++)
		for (unsigned v = 0; v < NVERDICT; v++)
			if (h->to_world[p][v])
				fprintf(o, "hubble_flows_to_world_total{protocol=\"%s\",verdict=\"%s\"} %llu\n",
					proto_names[p], verdict_names[v], (unsigned long long)h->to_world[p][v]);
	fputs("# HELP hubble_port_distribution_total Numbers of packets distributed by destination port\n"
	      "# TYPE hubble_port_distribution_total counter\n", o);
	for (int pi = 0; pi < 3; pi++) {
		static const char *const protos[3] = { "TCP", "UDP", "SCTP" };

		for (unsigned port = 0; h->ports[pi] && port < 65536; port++)
			if (h->ports[pi][port])
				fprintf(o, "hubble_port_distribution_total{port=\"%u\",protocol=\"%s\"} %llu\n", port,
					protos[pi], (unsigned long long)h->ports[pi][port]);
	}
	if (h->icmp_port0)
		fprintf(o, "hubble_port_distribution_total{port=\"0\",protocol=\"ICMPv4\"} %llu\n",
			(unsigned long long)h->icmp_port0);
	fputs("# HELP hubble_icmp_total Number of ICMP messages\n# TYPE hubble_icmp_total counter\n", o);
	for (size_t i = 0; i < h->nicmp; i++) {
		char name[SL_FLOW_ICMP_TEXT_MAX];

		/* gopacket's ICMPv4TypeCode names, as in Hubble's Summary */
		fprintf(o, "hubble_icmp_total{family=\"IPv4\",type=\"");
		put_label(o, sl_flow_icmp_text(h->icmp[i].type, h->icmp[i].code, name));
		fprintf(o, "\"} %llu\n", (unsigned long long)h->icmp[i].count);
	}
	fputs("# HELP hubble_http_requests_total Count of HTTP requests\n"
	      "# TYPE hubble_http_requests_total counter\n", o);
	for (size_t i = 0; i < h->nhttp; i++) {
		fputs("hubble_http_requests_total{method=\"", o);
		put_label(o, h->http[i].method);
		fputs("\",protocol=\"", o);
		put_label(o, h->http[i].protocol);
		fprintf(o, "\",reporter=\"%s\",status=\"%u\"} %llu\n", reporters[h->http[i].reporter], h->http[i].code,
			(unsigned long long)h->http[i].count);
	}
	fputs("# HELP hubble_http_request_duration_seconds Quantiles of HTTP request duration in seconds\n"
	      "# TYPE hubble_http_request_duration_seconds histogram\n", o);
	for (size_t i = 0; i < h->nhist; i++) {
		const struct duration_hist *hh = &h->hist[i];
		char lbl[96];

		snprintf(lbl, sizeof(lbl), "reporter=\"%s\"", reporters[hh->reporter]);
		for (int b = 0; b <= NBUCKETS; b++) {
			fputs("hubble_http_request_duration_seconds_bucket{le=\"", o);
			if (b < NBUCKETS)
				fprintf(o, "%g", buckets[b]);
			else
				fputs("+Inf", o);
			fputs("\",method=\"", o);
			put_label(o, hh->method);
			fprintf(o, "\",%s} %llu\n", lbl, (unsigned long long)(b < NBUCKETS ? hh->counts[b] : hh->count));
		}
		fputs("hubble_http_request_duration_seconds_sum{method=\"", o);
		put_label(o, hh->method);
		fprintf(o, "\",%s} %.9f\n", lbl, hh->sum);
		fputs("hubble_http_request_duration_seconds_count{method=\"", o);
		put_label(o, hh->method);
		fprintf(o, "\",%s} %llu\n", lbl, (unsigned long long)hh->count);
	}
	fclose(o);
	return buf;
}
