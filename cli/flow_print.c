/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_print.c - see flow_print.h.
 *
 * Every string a flow carries is shown as the JSON line keeps it: cut at the
 * line's cap (sl_flow_json_kept), then escaped for the terminal
 * (sl_escape_ctl_n), so a cut, and its "...", fall where they always fell.
 */
#include "flow_print.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/names.h"
#include "../common/util.h"
#include "sluice/abi.h"

/* the part of s the JSON line keeps, escaped into buf */
static const char *shown(const char *s, size_t cap, char *buf, size_t len)
{
	return sl_escape_ctl_n(s, sl_flow_json_kept(s, cap), buf, len);
}

static const char *peer_name(const struct sl_flow_end *e, char *buf, size_t len)
{
	size_t pod = sl_flow_json_kept(e->pod, SL_FLOW_CAP_NAME);

	if (pod) {
		char nb[140], pb[280];

		snprintf(buf, len, "%s/%s", shown(e->ns, SL_FLOW_CAP_NAME, nb, sizeof(nb)),
			 sl_escape_ctl_n(e->pod, pod, pb, sizeof(pb)));
	} else if (e->identity == 1)
		snprintf(buf, len, "host");
	else if (e->identity == 2)
		snprintf(buf, len, "world");
	else
		snprintf(buf, len, "identity %u", e->identity);
	return buf;
}

/* The text of a drop reason, from abi.h's one list. */
static const char *drop_text(uint16_t reason)
{
#define DROP_TEXT_(name, num, hubble, metric, text) case num: return text;
	switch (reason) {
	SLUICE_DROP_REASONS(DROP_TEXT_)
	}
#undef DROP_TEXT_
	return sl_flow_drop_reason_name(reason);
}

/* Cilium's policy match types, by number */
static const char *match_text(uint8_t m)
{
	static const char *const names[] = { "no rule", "L3_ONLY", "L3_L4", "L4_ONLY", "ALL" };

	return m <= 4 ? names[m] : "?";
}

int flow_time_format_parse(const char *name)
{
	static const char *const names[] = { "StampMilli",   "YearMonthDay", "YearMonthDayHour",
					     "YearMonthDayHourMinute", "RFC3339", "RFC3339Milli",
					     "RFC3339Micro", "RFC3339Nano", "RFC1123Z" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i]))
			return (int)i;
	return -1;
}

/* The other formats than StampMilli, as Go's layouts print a UTC time. */
static const char *when_layout(enum flow_time_format fmt, uint64_t ns, char *buf, size_t len)
{
	static const char *const day[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)(ns / 1000000000ull);
	unsigned frac = (unsigned)(ns % 1000000000ull), digits;
	char fr[16] = "";
	struct tm tm;

	gmtime_r(&t, &tm);
	switch (fmt) {
	case FLOW_TIME_YMD:
		snprintf(buf, len, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
		return buf;
	case FLOW_TIME_YMDH:
		snprintf(buf, len, "%04d-%02d-%02dT%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour);
		return buf;
	case FLOW_TIME_YMDHM:
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min);
		return buf;
	case FLOW_TIME_RFC1123Z:
		snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d +0000", day[tm.tm_wday], tm.tm_mday,
			 mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
		return buf;
	default:
		break;
	}
	/* RFC 3339 with Go's ".999...": as many digits as asked, trailing
	 * zeros dropped, no dot for a whole second */
	digits = fmt == FLOW_TIME_RFC3339_MILLI ? 3 : fmt == FLOW_TIME_RFC3339_MICRO ? 6
		 : fmt == FLOW_TIME_RFC3339_NANO ? 9 : 0;
	if (digits) {
		size_t n;

		snprintf(fr, sizeof(fr), ".%09u", frac);
		fr[1 + digits] = 0;
		for (n = strlen(fr); n > 1 && fr[n - 1] == '0'; n--)
			fr[n - 1] = 0;
		if (n == 1)
			fr[0] = 0;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, fr);
	return buf;
}

/* "Mon _D HH:MM:SS.mmm" in UTC (Go's StampMilli, as Hubble prints it), or
 * the --time-format asked for */
static const char *when_text(struct flow_printer *p, uint64_t ns, char *buf)
{
	uint64_t sec = ns / 1000000000ull;
	unsigned ms = (unsigned)(ns % 1000000000ull / 1000000);
	size_t n;

	if (p->time_format != FLOW_TIME_STAMP_MILLI)
		return when_layout(p->time_format, ns, buf, 64);
	if (!p->memo_valid || p->memo_sec != sec) {
		static const char *mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
		time_t t = (time_t)sec;
		struct tm tm;

		gmtime_r(&t, &tm);
		snprintf(p->memo, sizeof(p->memo), "%s %2d %02d:%02d:%02d", mon[tm.tm_mon], tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec);
		p->memo_sec = sec;
		p->memo_valid = true;
	}
	n = strlen(p->memo);
	memcpy(buf, p->memo, n);
	buf[n++] = '.';
	buf[n++] = (char)('0' + ms / 100);
	buf[n++] = (char)('0' + ms / 10 % 10);
	buf[n++] = (char)('0' + ms % 10);
	buf[n] = 0;
	return buf;
}

/*
 * The path of the line's absolute URL, SCHEME://HOST then the URL (the
 * server's address when there is no Host), from its first '/' after the
 * scheme; the whole URL when it has none. Escaped into buf (len at most
 * 520): of the path, the escape reads at most len - 5 bytes, and one more to
 * know whether it goes on, so the first bytes copied out are enough.
 */
static const char *url_path(const struct sl_flow_view *f, char *buf, size_t len)
{
	const char *scheme = f->https ? "https://" : "http://";
	char addr[SL_FLOW_ADDR_MAX], raw[600];
	const char *host = f->host, *slash;
	size_t hn = sl_flow_json_kept(f->host, SL_FLOW_CAP_HOST), un = sl_flow_json_kept(f->url, SL_FLOW_CAP_URL);
	struct piece {
		const char *s;
		size_t n;
	} part[3];
	size_t parts = 0, i, n = 0;

	if (!hn) {
		host = sl_flow_addr(f->kind == SL_FLOW_L7_RESPONSE ? f->saddr : f->daddr, addr);
		hn = strlen(host);
	}
	slash = memchr(host, '/', hn);
	if (slash) {
		part[parts++] = (struct piece){ slash, hn - (size_t)(slash - host) };
		part[parts++] = (struct piece){ f->url, un };
	} else if ((slash = memchr(f->url ? f->url : "", '/', un))) {
		part[parts++] = (struct piece){ slash, un - (size_t)(slash - f->url) };
	} else {
		part[parts++] = (struct piece){ scheme, strlen(scheme) };
		part[parts++] = (struct piece){ host, hn };
		part[parts++] = (struct piece){ f->url, un };
	}
	for (i = 0; i < parts && n < sizeof(raw); i++) {
		size_t take = part[i].n;

		if (!take)
			continue;
		if (take > sizeof(raw) - n)
			take = sizeof(raw) - n;
		memcpy(raw + n, part[i].s, take);
		n += take;
	}
	return sl_escape_ctl_n(raw, n, buf, len);
}

void flow_print(struct flow_printer *p, FILE *out, const struct sl_flow_view *f)
{
	bool denied = f->verdict == SLUICE_VERDICT_DROPPED, redirected = f->verdict == SLUICE_VERDICT_REDIRECTED;
	bool trace = f->kind == SL_FLOW_TRACE;
	bool l7 = sl_flow_kind_is_l7(f->kind);
	/* a reply is printed as Hubble prints it: client <- server */
	bool reply = f->kind == SL_FLOW_L7_RESPONSE || (trace && f->is_reply);
	const char *verdict = sl_flow_verdict_name(f->verdict);
	char src[300], dst[400], when[320], detail[600], kind[32];
	const char *proto = "ip";
	unsigned sport = 0, dport = 0;

	/* the line's l4: ports for TCP, UDP and SCTP only */
	switch (f->protocol) {
	case 6:
	case 17:
	case 132:
		proto = sl_flow_proto_name(f->protocol);
		sport = f->sport;
		dport = f->dport;
		break;
	case 1:
		proto = "ICMPv4";
		break;
	}
	when_text(p, f->time_ns, when);
	peer_name(&f->src, src, sizeof(src));
	peer_name(&f->dst, dst, sizeof(dst));
	if (!strncmp(dst, "identity", 8) || !strcmp(dst, "world") || !strcmp(dst, "host")) {
		char tmp[400], addr[SL_FLOW_ADDR_MAX];

		snprintf(tmp, sizeof(tmp), "%.300s(%.64s)", dst, sl_flow_addr(f->daddr, addr));
		snprintf(dst, sizeof(dst), "%s", tmp);
	}
	if (l7) {
		char pathbuf[520], methbuf[64];
		const char *method = shown(f->method, SL_FLOW_CAP_METHOD, methbuf, sizeof(methbuf));
		/* the compact line shows the path; -o json has Hubble's absolute URL */
		const char *path = url_path(f, pathbuf, sizeof(pathbuf));

		snprintf(kind, sizeof(kind), "http-%s", reply ? "response" : "request");
		if (reply)
			snprintf(detail, sizeof(detail), "%s %.500s => %u, %.1f ms", method, path, f->code,
				 (double)f->latency_ns / 1e6);
		else if (!*method)
			/* no request: a connection refused at its TLS handshake
			 * (serverNames), shown by its URL (https://SNI) */
			snprintf(detail, sizeof(detail), "%.500s", path);
		else
			snprintf(detail, sizeof(detail), "%s %.500s", method, path);
	} else if (trace) {
		char fl[SL_FLOW_TCP_FLAGS_TEXT_MAX];

		snprintf(kind, sizeof(kind), "%s", sl_flow_trace_point_text(f->trace_point));
		char ic[SL_FLOW_ICMP_TEXT_MAX];

		if (f->protocol == 6)
			snprintf(detail, sizeof(detail), "TCP Flags: %s", sl_flow_tcp_flags_text(f->tcp_flags, fl));
		else if (f->protocol == 1) /* Hubble's Summary: "ICMPv4 EchoReply" */
			snprintf(detail, sizeof(detail), "ICMPv4 %s",
				 sl_flow_icmp_text((uint8_t)f->sport, (uint8_t)f->dport, ic));
		else /* a UDP flow's first reply */
			snprintf(detail, sizeof(detail), "%s", sl_flow_proto_name(f->protocol));
	} else {
		bool in = f->direction == SLUICE_DIR_INGRESS;
		/* which end decided: the destination on ingress, the source on egress */
		const char *decider = in ? dst : src;

		if (!strcmp(proto, "TCP"))
			snprintf(kind, sizeof(kind), "tcp-connect");
		else if (!strcmp(proto, "UDP"))
			snprintf(kind, sizeof(kind), "udp");
		else if (!strcmp(proto, "ICMPv4"))
			snprintf(kind, sizeof(kind), "icmp");
		else
			snprintf(kind, sizeof(kind), "%s", proto);
		if (denied)
			snprintf(detail, sizeof(detail), "%s", drop_text(f->drop_reason));
		else
			snprintf(detail, sizeof(detail), "%s%s, %s policy of %.300s", redirected ? "to-proxy, " : "",
				 match_text(f->match_kind), in ? "ingress" : "egress", decider);
	}
	{
		/* a judged flow is ALLOWED; what passes on an earlier verdict is FORWARDED */
		const char *word = denied ? "DENIED" : redirected ? "REDIRECTED" : reply || trace ? "FORWARDED" : "ALLOWED";
		const char *col = !p->color ? "" : denied ? "\033[31m" : redirected ? "\033[33m" : "\033[32m";
		const char *reset = p->color ? "\033[0m" : "";
		char port[16] = "", svcbuf[600] = "";

		if (dport)
			snprintf(port, sizeof(port), ":%u", dport);
		if (f->svc_name) {
			char nb[140], sb[280];

			snprintf(svcbuf, sizeof(svcbuf), " (svc %s/%s:%u)",
				 shown(f->svc_ns, SL_FLOW_CAP_NAME, nb, sizeof(nb)),
				 shown(f->svc_name, SL_FLOW_CAP_NAME, sb, sizeof(sb)), f->svc_port);
		}
		if (p->form != FLOW_PRINT_COMPACT) {
			/* Hubble's dict and table: the flow's own source and
			 * destination (a reply's source is the server), with ports */
			char s2[330], d2[1040], sum[700];

			if (sport)
				snprintf(s2, sizeof(s2), "%s:%u", src, sport);
			else
				snprintf(s2, sizeof(s2), "%s", src);
			snprintf(d2, sizeof(d2), "%s%s%s", dst, port, svcbuf);
			snprintf(sum, sizeof(sum), "%s (%s)", word, detail);
			/* --print-node-name: Hubble's NODE line and column */
			if (p->form == FLOW_PRINT_DICT)
				fprintf(out, "%s  TIMESTAMP: %s\n%s%.256s%s     SOURCE: %s\nDESTINATION: %s\n       TYPE: %s\n"
					     "    VERDICT: %s%s%s\n    SUMMARY: %s\n",
					p->count ? "------------\n" : "", when, p->node ? "       NODE: " : "",
					p->node ? p->node : "", p->node ? "\n" : "", s2, d2, kind, col, verdict, reset, sum);
			else if (p->node)
				fprintf(out, "%s%-20s %-20.256s %-40s %-40s %-14s %s%-10s%s %s\n",
					p->count ? "" : "TIMESTAMP            NODE                 SOURCE                                   "
							"DESTINATION                              TYPE           VERDICT    SUMMARY\n",
					when, p->node, s2, d2, kind, col, verdict, reset, sum);
			else
				fprintf(out, "%s%-20s %-40s %-40s %-14s %s%-10s%s %s\n",
					p->count ? "" : "TIMESTAMP            SOURCE                                   "
							"DESTINATION                              TYPE           VERDICT    SUMMARY\n",
					when, s2, d2, kind, col, verdict, reset, sum);
			p->count++;
			return;
		}
		if (p->node) { /* Hubble's compact line: "TIME [NODE]: ..." */
			size_t wl = strlen(when);

			snprintf(when + wl, sizeof(when) - wl, " [%.256s]", p->node);
		}
		if (reply) {
			char sp[16] = "";

			if (sport) /* ports are TCP's, UDP's and SCTP's only */
				snprintf(sp, sizeof(sp), ":%u", sport);
			fprintf(out, "%s  %s ← %s%s%s  %s %s%s%s (%s)\n", when, dst, src, sp, svcbuf, kind, col, word,
				reset, detail);
		}
		else
			fprintf(out, "%s  %s → %s%s%s  %s %s%s%s (%s)\n", when, src, dst, port, svcbuf, kind, col, word,
				reset, detail);
	}
}

/* ---- a flow line's object as a view --------------------------------------- */

/* Hubble's Endpoint; labels: JSON array text, kept in *labels */
static void end_from_json(json_t *o, struct sl_flow_end *e, char **labels)
{
	json_t *l = json_object_get(o, "labels"), *w = json_array_get(json_object_get(o, "workloads"), 0);

	e->identity = (uint32_t)json_integer_value(json_object_get(o, "identity"));
	e->ns = json_string_value(json_object_get(o, "namespace"));
	e->pod = json_string_value(json_object_get(o, "pod_name"));
	e->ep_id = (uint32_t)json_integer_value(json_object_get(o, "ID"));
	e->cluster = json_string_value(json_object_get(o, "cluster_name"));
	if (json_is_object(w)) {
		e->wl_kind = json_string_value(json_object_get(w, "kind")) ?: "";
		e->wl_name = json_string_value(json_object_get(w, "name")) ?: "";
	}
	*labels = json_is_array(l) ? json_dumps(l, JSON_COMPACT) : NULL;
	e->labels = *labels;
}

void flow_json_view_free(struct flow_json_view *v)
{
	free(v->labels[0]);
	free(v->labels[1]);
	v->labels[0] = v->labels[1] = NULL;
}

static void addr_from_json(json_t *v, uint8_t a[16])
{
	const char *s = json_string_value(v);

	if (s && inet_pton(AF_INET, s, a + 12) == 1) {
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
	} else if (!s || inet_pton(AF_INET6, s, a) != 1) {
		memset(a, 0, 16);
	}
}

/* l4.TCP.flags: {"SYN":true,"ACK":true} -> 0x12 */
static uint8_t tcp_flags_from_json(json_t *flags)
{
	uint8_t out = 0;

	for (int i = 0; i < 8; i++)
		if (json_is_true(json_object_get(flags, sl_flow_tcp_flag_names[i])))
			out |= (uint8_t)(1u << i);
	return out;
}

void flow_view_from_json(json_t *flow, struct flow_json_view *v)
{
	struct sl_flow_view *f = &v->f;
	json_t *l7 = json_object_get(flow, "l7"), *http = json_object_get(l7, "http");
	json_t *svc = json_object_get(flow, "destination_service"), *lat = json_object_get(l7, "latency_ns");
	const char *verdict = json_string_value(json_object_get(flow, "verdict"));
	const char *type = json_string_value(json_object_get(l7, "type"));
	const char *dir = json_string_value(json_object_get(flow, "traffic_direction"));
	const char *url = json_string_value(json_object_get(http, "url"));
	const char *k, *slash;
	json_t *l4;
	uint8_t n;

	memset(v, 0, sizeof(*v));
	if (sl_parse_rfc3339(json_string_value(json_object_get(flow, "time")), &f->time_ns))
		f->time_ns = 0;
	for (n = SLUICE_VERDICT_FORWARDED; n <= SLUICE_VERDICT_REDIRECTED; n++)
		if (verdict && !strcmp(verdict, sl_flow_verdict_name(n)))
			f->verdict = n;
	json_object_foreach(json_object_get(flow, "l4"), k, l4) {
		static const uint8_t protos[] = { 6, 17, 132, 1 };

		for (size_t i = 0; i < sizeof(protos); i++)
			if (!strcmp(k, sl_flow_proto_name(protos[i])))
				f->protocol = protos[i];
		f->sport = (uint16_t)json_integer_value(json_object_get(l4, "source_port"));
		f->dport = (uint16_t)json_integer_value(json_object_get(l4, "destination_port"));
		if (f->protocol == 1) { /* the flow's sport and dport: type and code */
			f->sport = (uint16_t)json_integer_value(json_object_get(l4, "type"));
			f->dport = (uint16_t)json_integer_value(json_object_get(l4, "code"));
		}
		f->tcp_flags = tcp_flags_from_json(json_object_get(l4, "flags"));
	}
	addr_from_json(json_object_get(json_object_get(flow, "IP"), "source"), f->saddr);
	addr_from_json(json_object_get(json_object_get(flow, "IP"), "destination"), f->daddr);
	end_from_json(json_object_get(flow, "source"), &f->src, &v->labels[0]);
	end_from_json(json_object_get(flow, "destination"), &f->dst, &v->labels[1]);
	v->uuid = json_string_value(json_object_get(flow, "uuid"));
	/* the policy that decided, as {ingress,egress}_{allowed,denied}_by */
	for (int d = 0; d < 4; d++) {
		static const char *const keys[] = { "ingress_allowed_by", "egress_allowed_by", "ingress_denied_by",
						     "egress_denied_by" };
		json_t *p = json_array_get(json_object_get(flow, keys[d]), 0);

		if (json_is_object(p) && !f->pol_kind) {
			f->pol_kind = json_string_value(json_object_get(p, "kind")) ?: "";
			f->pol_ns = json_string_value(json_object_get(p, "namespace"));
			f->pol_name = json_string_value(json_object_get(p, "name")) ?: "";
			f->pol_denied = d >= 2;
		}
	}
	f->direction = dir && !strcmp(dir, "INGRESS") ? SLUICE_DIR_INGRESS : SLUICE_DIR_EGRESS;
	f->drop_reason = (uint16_t)json_integer_value(json_object_get(flow, "drop_reason"));
	f->match_kind = (uint8_t)json_integer_value(json_object_get(flow, "policy_match_type"));
	if (json_is_object(svc)) {
		f->svc_ns = json_string_value(json_object_get(svc, "namespace"));
		f->svc_name = json_string_value(json_object_get(svc, "name")) ?: "";
		f->svc_port = (uint16_t)json_integer_value(json_object_get(flow, "destination_service_port"));
	}
	f->kind = !l7 ? SL_FLOW_L3L4 : type && !strcmp(type, "RESPONSE") ? SL_FLOW_L7_RESPONSE : SL_FLOW_L7_REQUEST;
	if (json_integer_value(json_object_get(json_object_get(flow, "event_type"), "type")) == 4) {
		const char *point = json_string_value(json_object_get(flow, "trace_observation_point"));

		f->kind = SL_FLOW_TRACE;
		f->is_reply = json_is_true(json_object_get(flow, "is_reply"));
		for (n = SLUICE_TRACE_TO_ENDPOINT; n <= SLUICE_TRACE_TO_STACK; n++)
			if (point && !strcmp(point, sl_flow_trace_point_name(n)))
				f->trace_point = n;
	}
	if (!l7)
		return;
	f->method = json_string_value(json_object_get(http, "method"));
	f->http_protocol = json_string_value(json_object_get(http, "protocol"));
	f->code = (uint16_t)json_integer_value(json_object_get(http, "code"));
	f->latency_ns = json_is_string(lat) ? strtoull(json_string_value(lat), NULL, 10)
					    : (uint64_t)json_integer_value(lat);
	/* SCHEME://HOST/PATH: back into the scheme, the host and the rest */
	url = url ? url : "";
	if (!strncmp(url, "https://", 8)) {
		f->https = true;
		url += 8;
	} else if (!strncmp(url, "http://", 7)) {
		url += 7;
	}
	slash = strchr(url, '/');
	snprintf(v->host, sizeof(v->host), "%.*s", (int)(slash ? slash - url : (long)strlen(url)), url);
	f->host = v->host;
	f->url = slash ? slash : "";
}
