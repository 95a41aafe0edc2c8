/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_print.c - see flow_print.h.
 *
 * Every string a flow carries is shown as the JSON line keeps it: cut at the
 * line's cap (sl_flow_json_kept); the text is then escaped for the
 * terminal as Hubble's writer escapes it (hubble_escape).
 */
#include "flow_print.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/names.h"
#include "../common/util.h"
#include "sluice/abi.h"

/* the part of s the JSON line keeps, copied into buf (the line is escaped
 * for the terminal as a whole, as Hubble's writer does: hubble_escape) */
static const char *shown(const char *s, size_t cap, char *buf, size_t len)
{
	size_t n = s ? sl_flow_json_kept(s, cap) : 0;

	if (n >= len)
		n = len - 1;
	if (n)
		memcpy(buf, s, n);
	buf[n] = 0;
	return buf;
}

/* a copy of s into buf, cut to fit */
static const char *copied(const char *s, char *buf, size_t len)
{
	snprintf(buf, len, "%s", s ? s : "");
	return buf;
}

/*
 * Hubble's terminal escaper (hubble/pkg/printer/terminal.go), over the
 * whole text it writes: ESC becomes "^[" and CR "\r", all else is as it
 * came; with colours on, the printer's own colour sequences pass (in the
 * flow's strings too, as in Hubble).
 */
static bool colour_at(const char *s)
{
	static const char *const seqs[] = { "\033[31m", "\033[32m", "\033[33m", "\033[34m",
					    "\033[35m", "\033[36m", "\033[0m" };

	for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++)
		if (!strncmp(s, seqs[i], strlen(seqs[i])))
			return true;
	return false;
}

static char *hubble_escape(const struct flow_printer *p, const char *s)
{
	bool colours = p->color && p->form != FLOW_PRINT_TABLE;
	size_t n = strlen(s), o = 0;
	char *out = malloc(2 * n + 1);

	if (!out)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\033' && colours && colour_at(s + i)) {
			size_t l = strchr(s + i, 'm') - (s + i) + 1;

			memcpy(out + o, s + i, l);
			o += l;
			i += l - 1;
		} else if (s[i] == '\033') {
			out[o++] = '^';
			out[o++] = '[';
		} else if (s[i] == '\r') {
			out[o++] = '\\';
			out[o++] = 'r';
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = 0;
	return out;
}

/* text (malloc'd, taken) written to out as Hubble's writer writes it */
static void emit(const struct flow_printer *p, FILE *out, char *text)
{
	char *esc = hubble_escape(p, text);

	fputs(esc, out);
	free(esc);
	free(text);
}

/* The text of a drop reason, from abi.h's one list. */
static const char *drop_text(uint16_t reason, char num[8])
{
#define DROP_TEXT_(name, num, hubble, metric, text) case num: return text;
	switch (reason) {
	SLUICE_DROP_REASONS(DROP_TEXT_)
	}
#undef DROP_TEXT_
	/* Cilium's DropReason(): the number of one it does not name */
	snprintf(num, 8, "%u", reason);
	return num;
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

/* ---- Hubble's printer ------------------------------------------------------ */

/*
 * One flow as Hubble's printer (hubble/pkg/printer) lays it out, the same
 * fields whether they come from the decoded flow or from a flow's JSON:
 * "TIME [NODE]: SRC (ID) -> DST (ID) TYPE VERDICT (SUMMARY)" for compact,
 * and dict's and table's rows of the same cells. Colours are Hubble's
 * (fatih/color): host cyan, port yellow, identity magenta, the verdict
 * green, red or yellow.
 */
#define COL_RED "\033[31m"
#define COL_GREEN "\033[32m"
#define COL_YELLOW "\033[33m"
#define COL_MAGENTA "\033[35m"
#define COL_CYAN "\033[36m"
#define COL_RESET "\033[0m"

#define SUMMARY_MAX 24576

struct flow_text {
	char when[64];
	char src[1400], dst[1400];
	char sid[48], did[48];
	int reply; /* Hubble's is_reply: -1 unknown ("<>"), 0 or 1 */
	char type[200];
	char verdict[4400];
	char summary[SUMMARY_MAX];
};

struct sbuf {
	char *p;
	size_t n, cap;
};

static void sb_put(struct sbuf *b, const char *s)
{
	size_t l = strlen(s);

	if (b->n + l >= b->cap)
		l = b->cap - 1 - b->n;
	memcpy(b->p + b->n, s, l);
	b->n += l;
	b->p[b->n] = 0;
}

/* a colour, when on; Hubble never colours a table (its tabwriter would
 * count the escapes as text) */
static const char *col(const struct flow_printer *p, const char *c)
{
	return p->color && p->form != FLOW_PRINT_TABLE ? c : "";
}

/* Hubble's Hostname(): ns/pod, else ns/service, else the DNS names, else
 * the address (always the address with --numeric); then ":port" (IPv6 in
 * brackets) unless there is no port or it is 0. */
static void hostname(const struct flow_printer *p, char *out, size_t len, const char *ip, unsigned port, bool has_port,
		     const char *ns, const char *pod, const char *svc, const char *names)
{
	struct sbuf b = { out, 0, len };
	char host[1100];
	const char *name = pod && *pod ? pod : svc && *svc ? svc : NULL;

	out[0] = 0;
	if (p->numeric)
		snprintf(host, sizeof(host), "%s", ip);
	else if (name && ns && *ns) /* path.Join: no slash for an empty namespace */
		snprintf(host, sizeof(host), "%.500s/%.500s", ns, name);
	else if (name)
		snprintf(host, sizeof(host), "%s", name);
	else if (names && *names)
		snprintf(host, sizeof(host), "%s", names);
	else
		snprintf(host, sizeof(host), "%s", ip);
	sb_put(&b, col(p, COL_CYAN));
	if (has_port && port) {
		char pt[40];

		sb_put(&b, strchr(host, ':') ? "[" : "");
		sb_put(&b, host);
		sb_put(&b, strchr(host, ':') ? "]:" : ":");
		snprintf(pt, sizeof(pt), "%s%u%s", col(p, COL_YELLOW), port, col(p, COL_RESET));
		sb_put(&b, pt);
	} else {
		sb_put(&b, host);
	}
	sb_put(&b, col(p, COL_RESET));
}

/* "(ID:1234)", or a reserved identity's "(world)" (Hubble's fmtIdentity) */
static void identity_text(const struct flow_printer *p, uint32_t id, char *out, size_t len)
{
	const char *name = sl_cilium_reserved_identity(id);

	if (name)
		snprintf(out, len, "%s(%s)%s", col(p, COL_MAGENTA), name, col(p, COL_RESET));
	else
		snprintf(out, len, "%s(ID:%u)%s", col(p, COL_MAGENTA), id, col(p, COL_RESET));
}

/* Cilium's TraceObservationPoint name of a trace sub_type, or its number */
static void trace_point_text(unsigned sub, char *out, size_t len)
{
	const char *name = sl_cilium_trace_point(sub);

	if (name)
		snprintf(out, len, "%s", name);
	else
		snprintf(out, len, "%u", sub);
}

/* Hubble's verdict: a policy verdict event's FORWARDED is ALLOWED (DROPPED
 * DENIED, AUDIT AUDITED), with --print-policy-names " BY name (kind), ..."
 * of the policies that decided; coloured by kind */
static void verdict_text(const struct flow_printer *p, const char *name, bool policy_event, const char *by, char *out,
			 size_t len)
{
	const char *c = "", *msg = name;

	if (!strcmp(name, "FORWARDED") || !strcmp(name, "REDIRECTED")) {
		c = COL_GREEN;
		msg = policy_event ? "ALLOWED" : name;
	} else if (!strcmp(name, "DROPPED") || !strcmp(name, "ERROR")) {
		c = COL_RED;
		msg = policy_event ? "DENIED" : name;
	} else if (!strcmp(name, "AUDIT")) {
		c = COL_YELLOW;
		msg = policy_event ? "AUDITED" : name;
	} else if (!strcmp(name, "TRACED") || !strcmp(name, "TRANSLATED")) {
		c = COL_YELLOW;
	}
	if (!*c) {
		snprintf(out, len, "%s", msg);
		return;
	}
	snprintf(out, len, "%s%s%s%.4000s%s", col(p, c), msg, policy_event && by && *by ? " BY " : "",
		 policy_event && by ? by : "", col(p, COL_RESET));
}

/* the cells of a table row (no colour): TIME, [NODE,] SRC, DST, TYPE,
 * VERDICT and SUMMARY, tab-separated, kept for flow_print_flush */
static void table_row(struct flow_printer *p, const char *node, const struct flow_text *t)
{
	char *row;

	if (p->nrows == p->rows_cap) {
		p->rows_cap = p->rows_cap ? p->rows_cap * 2 : 64;
		p->rows = realloc(p->rows, p->rows_cap * sizeof(*p->rows));
		if (!p->rows)
			abort();
	}
	if (!p->nrows) /* Hubble's header, the first row */
		p->rows[p->nrows++] = sl_xstrdup(node ? "TIMESTAMP\tNODE\tSOURCE\tDESTINATION\tTYPE\tVERDICT\tSUMMARY"
						      : "TIMESTAMP\tSOURCE\tDESTINATION\tTYPE\tVERDICT\tSUMMARY");
	if (asprintf(&row, "%s\t%s%s%s\t%s\t%s\t%s\t%s", t->when, node ? node : "", node ? "\t" : "", t->src, t->dst,
		     t->type, t->verdict, t->summary) < 0)
		abort();
	p->rows[p->nrows++] = hubble_escape(p, row);
	free(row);
}

static void text_out(struct flow_printer *p, FILE *out, const char *node, struct flow_text *t)
{
	const char *src = t->src, *dst = t->dst, *sid = t->sid, *did = t->did, *arrow = "->";
	char *text = NULL;
	int n = 0;

	switch (p->form) {
	case FLOW_PRINT_TABLE:
		table_row(p, node, t);
		break;
	case FLOW_PRINT_DICT:
		n = asprintf(&text, "%s  TIMESTAMP: %s\n%s%s%s     SOURCE: %s\nDESTINATION: %s\n       TYPE: %s\n"
				    "    VERDICT: %s\n    SUMMARY: %s\n",
			     p->count ? "------------\n" : "", t->when, node ? "       NODE: " : "", node ? node : "",
			     node ? "\n" : "", t->src, t->dst, t->type, t->verdict, t->summary);
		break;
	case FLOW_PRINT_COMPACT:
		if (t->reply < 0) {
			arrow = "<>";
		} else if (t->reply) { /* a reply: the client first, "<-" */
			src = t->dst;
			dst = t->src;
			sid = t->did;
			did = t->sid;
			arrow = "<-";
		}
		n = asprintf(&text, "%s%s%s%s: %s %s %s %s %s %s %s (%s)\n", t->when, node ? " [" : "", node ? node : "",
			     node ? "]" : "", src, sid, arrow, dst, did, t->type, t->verdict, t->summary);
		break;
	}
	if (n < 0)
		abort();
	if (text)
		emit(p, out, text);
	p->count++;
}

/* Go's tabwriter as Hubble sets it up (minwidth 2, padding 3, spaces): a
 * column as wide as its widest cell, in characters, plus 3 */
void flow_print_flush(struct flow_printer *p, FILE *out)
{
	size_t width[8] = { 0 }, cols = 0;

	for (size_t r = 0; r < p->nrows; r++) {
		const char *s = p->rows[r];
		size_t c = 0, w = 0;

		for (; *s; s++) {
			if (*s == '\t') {
				if (c < 8 && w > width[c])
					width[c] = w;
				c++;
				w = 0;
			} else if (((unsigned char)*s & 0xc0) != 0x80) {
				w++;
			}
		}
		if (c > cols)
			cols = c;
	}
	for (size_t r = 0; r < p->nrows; r++) {
		const char *s = p->rows[r];
		size_t c = 0, w = 0;

		for (; *s; s++) {
			if (*s == '\t' && c < 8) {
				size_t want = width[c] + 3 < 2 ? 2 : width[c] + 3;

				for (; w < want; w++)
					fputc(' ', out);
				c++;
				w = 0;
				continue;
			}
			fputc(*s, out);
			if (((unsigned char)*s & 0xc0) != 0x80)
				w++;
		}
		fputc('\n', out);
		free(p->rows[r]);
	}
	(void)cols;
	p->nrows = 0;
}

void flow_printer_free(struct flow_printer *p)
{
	for (size_t r = 0; r < p->nrows; r++)
		free(p->rows[r]);
	free(p->rows);
	free(p->scratch);
	p->rows = NULL;
	p->scratch = NULL;
	p->nrows = p->rows_cap = 0;
}

static struct flow_text *scratch(struct flow_printer *p)
{
	if (!p->scratch) {
		p->scratch = malloc(sizeof(*p->scratch));
		if (!p->scratch)
			abort();
	}
	return p->scratch;
}

/* The absolute URL as the JSON line has it (scheme://host, the server's
 * address without a Host, then the URL), appended to b */
static void put_url_text(struct sbuf *b, const struct sl_flow_view *f)
{
	char addr[SL_FLOW_ADDR_MAX], hb[SL_FLOW_CAP_HOST * 4 + 8];
	char *ub = malloc(SL_FLOW_CAP_URL * 4 + 8);

	if (!ub)
		abort();
	sb_put(b, f->https ? "https://" : "http://");
	if (sl_flow_json_kept(f->host, SL_FLOW_CAP_HOST))
		sb_put(b, shown(f->host, SL_FLOW_CAP_HOST, hb, sizeof(hb)));
	else
		sb_put(b, sl_flow_addr(f->kind == SL_FLOW_L7_RESPONSE ? f->saddr : f->daddr, addr));
	sb_put(b, shown(f->url, SL_FLOW_CAP_URL, ub, SL_FLOW_CAP_URL * 4 + 8));
	free(ub);
}

/* the JSON line's Summary: the text common/flow_json.c writes there (the
 * two are held equal by test_flow_print's test_json_line) */
static void summary_of_view(const struct sl_flow_view *f, char *out, size_t len)
{
	struct sbuf b = { out, 0, len };
	char tmp[300];

	out[0] = 0;
	if (sl_flow_kind_is_l7(f->kind)) {
		bool resp = f->kind == SL_FLOW_L7_RESPONSE;

		sb_put(&b, f->http_protocol && *f->http_protocol ? shown(f->http_protocol, SL_FLOW_CAP_PROTO, tmp, sizeof(tmp))
								 : "HTTP/1.1");
		sb_put(&b, " ");
		if (resp) {
			snprintf(tmp, sizeof(tmp), "%u %llums (", f->code, (unsigned long long)(f->latency_ns / 1000000));
			sb_put(&b, tmp);
		}
		sb_put(&b, shown(f->method, SL_FLOW_CAP_METHOD, tmp, sizeof(tmp)));
		sb_put(&b, " ");
		put_url_text(&b, f);
		if (resp)
			sb_put(&b, ")");
	} else if (f->protocol == 6) {
		char fl[SL_FLOW_TCP_FLAGS_TEXT_MAX];

		sb_put(&b, "TCP Flags: ");
		sb_put(&b, sl_flow_tcp_flags_text(f->tcp_flags, fl));
	} else if (f->protocol == 1) {
		char ic[SL_FLOW_ICMP_TEXT_MAX];

		sb_put(&b, "ICMPv4 ");
		sb_put(&b, sl_flow_icmp_text((uint8_t)f->sport, (uint8_t)f->dport, ic));
	} else {
		sb_put(&b, sl_flow_proto_name(f->protocol));
	}
}

void flow_print(struct flow_printer *p, FILE *out, const struct sl_flow_view *f)
{
	struct flow_text *t = scratch(p);
	bool ports = f->protocol == 6 || f->protocol == 17 || f->protocol == 132;
	bool l7 = sl_flow_kind_is_l7(f->kind), policy_event = false;
	char sa[SL_FLOW_ADDR_MAX], da[SL_FLOW_ADDR_MAX], by[700] = "";
	char sns[1300], spod[1300], dns_[1300], dpod[1300], svc[1300];
	unsigned type, sub;

	when_text(p, f->time_ns, t->when);
	shown(f->src.ns, SL_FLOW_CAP_NAME, sns, sizeof(sns));
	shown(f->src.pod, SL_FLOW_CAP_NAME, spod, sizeof(spod));
	/* Hubble takes the namespace of the destination's service, if any */
	shown(f->svc_name ? f->svc_ns : f->dst.ns, SL_FLOW_CAP_NAME, dns_, sizeof(dns_));
	shown(f->dst.pod, SL_FLOW_CAP_NAME, dpod, sizeof(dpod));
	shown(f->svc_name, SL_FLOW_CAP_NAME, svc, sizeof(svc));
	hostname(p, t->src, sizeof(t->src), sl_flow_addr(f->saddr, sa), f->sport, ports, sns, spod, NULL, NULL);
	hostname(p, t->dst, sizeof(t->dst), sl_flow_addr(f->daddr, da), f->dport, ports, dns_, dpod, svc, NULL);
	identity_text(p, f->src.identity, t->sid, sizeof(t->sid));
	identity_text(p, f->dst.identity, t->did, sizeof(t->did));
	sl_flow_event_type(f->kind, f->verdict, f->trace_point, f->drop_reason, &type, &sub);
	if (l7) {
		snprintf(t->type, sizeof(t->type), "http-%s", f->kind == SL_FLOW_L7_RESPONSE ? "response" : "request");
		t->reply = f->kind == SL_FLOW_L7_RESPONSE;
	} else if (type == 4) {
		trace_point_text(sub, t->type, sizeof(t->type));
		t->reply = f->is_reply;
	} else if (type == 1) {
		char num[8];

		snprintf(t->type, sizeof(t->type), "%s", drop_text(f->drop_reason, num));
		t->reply = -1;
	} else {
		snprintf(t->type, sizeof(t->type), "policy-verdict:%s %s", sl_cilium_match_type(f->match_kind),
			 f->direction == SLUICE_DIR_INGRESS ? "INGRESS" : "EGRESS");
		t->reply = 0;
		policy_event = true;
	}
	if (policy_event && p->policy_names && f->pol_kind && !f->pol_denied) {
		char nb[1300], kb[1300];

		snprintf(by, sizeof(by), "%.300s (%.300s)", shown(f->pol_name, SL_FLOW_CAP_NAME, nb, sizeof(nb)),
			 shown(f->pol_kind, SL_FLOW_CAP_NAME, kb, sizeof(kb)));
	}
	verdict_text(p, sl_flow_verdict_name(f->verdict), policy_event, by, t->verdict, sizeof(t->verdict));
	summary_of_view(f, t->summary, sizeof(t->summary));
	text_out(p, out, p->node, t);
}

/* ---- a Flow object (JSON), as Hubble prints any ---------------------------- */

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* a copy of a JSON string field into buf */
static const char *jesc(json_t *o, const char *key, char *buf, size_t len)
{
	return copied(jstr(o, key), buf, len);
}

/* "name (kind), ..." of a policy list (what follows " BY ") */
static void policies_text(json_t *list, char *out, size_t len)
{
	struct sbuf b = { out, 0, len };
	size_t i;
	json_t *pol;

	out[0] = 0;
	json_array_foreach(list, i, pol) {
		char nb[1300], kb[1300];

		/* Hubble's: a policy without a kind or a name is left out */
		if (!*jstr(pol, "kind") || !*jstr(pol, "name"))
			continue;
		if (b.n)
			sb_put(&b, ", ");
		sb_put(&b, jesc(pol, "name", nb, sizeof(nb)));
		sb_put(&b, " (");
		sb_put(&b, jesc(pol, "kind", kb, sizeof(kb)));
		sb_put(&b, ")");
	}
}

/* Hubble's GetFlowType */
static void type_of_json(json_t *flow, char *out, size_t len)
{
	json_t *l7 = json_object_get(flow, "l7"), *et = json_object_get(flow, "event_type");
	long long type = json_integer_value(json_object_get(et, "type"));
	unsigned sub = (unsigned)json_integer_value(json_object_get(et, "sub_type"));

	if (json_is_object(l7)) {
		const char *proto = json_object_get(l7, "http") ? "http" : json_object_get(l7, "dns") ? "dns"
				    : json_object_get(l7, "kafka") ? "kafka" : "l7";
		char lt[64];
		size_t i;

		snprintf(lt, sizeof(lt), "%s", *jstr(l7, "type") ? jstr(l7, "type") : "UNKNOWN_L7_TYPE");
		for (i = 0; lt[i]; i++)
			lt[i] = (char)(lt[i] >= 'A' && lt[i] <= 'Z' ? lt[i] + 32 : lt[i]);
		if (!strcmp(proto, "dns")) {
			char ob[128];

			snprintf(out, len, "dns-%s %s", lt,
				 jesc(json_object_get(l7, "dns"), "observation_source", ob, sizeof(ob)));
		} else {
			snprintf(out, len, "%s-%s", proto, lt);
		}
		return;
	}
	switch (type) {
	case 4:
		trace_point_text(sub, out, len);
		return;
	case 1: {
		char num[8];

		snprintf(out, len, "%s", drop_text((uint16_t)sub, num));
		return;
	}
	case 5: {
		const char *dir = jstr(flow, "traffic_direction");

		snprintf(out, len, "policy-verdict:%s %s",
			 sl_cilium_match_type((unsigned)json_integer_value(json_object_get(flow, "policy_match_type"))),
			 *dir ? dir : "TRAFFIC_DIRECTION_UNKNOWN");
		return;
	}
	case 3: { /* Cilium's capture */
		char cb[128];

		snprintf(out, len, "%s", *jstr(flow, "debug_capture_point") ?
			 jesc(flow, "debug_capture_point", cb, sizeof(cb)) : "DBG_CAPTURE_POINT_UNKNOWN");
		return;
	}
	case 7: { /* Cilium's socket trace: its translation point (SocketTranslationPoint,
		   by name, or by number as the event's sub_type) */
		static const struct {
			const char *name, *text;
		} xl[] = { { "SOCK_XLATE_POINT_UNKNOWN", NULL },
			   { "SOCK_XLATE_POINT_PRE_DIRECTION_FWD", "pre-xlate-fwd" },
			   { "SOCK_XLATE_POINT_POST_DIRECTION_FWD", "post-xlate-fwd" },
			   { "SOCK_XLATE_POINT_PRE_DIRECTION_REV", "pre-xlate-rev" },
			   { "SOCK_XLATE_POINT_POST_DIRECTION_REV", "post-xlate-rev" } };
		const char *pt = jstr(flow, "sock_xlate_point");
		size_t i = *pt ? 0 : sub;
		char pb[128];

		for (; *pt && i < sizeof(xl) / sizeof(xl[0]) && strcmp(pt, xl[i].name); i++)
			;
		if (i < sizeof(xl) / sizeof(xl[0]) && xl[i].text)
			snprintf(out, len, "%s", xl[i].text);
		else if (i < sizeof(xl) / sizeof(xl[0]) || !*pt)
			snprintf(out, len, "SOCK_XLATE_POINT_UNKNOWN");
		else
			snprintf(out, len, "%s", copied(pt, pb, sizeof(pb)));
		return;
	}
	}
	snprintf(out, len, "UNKNOWN");
}

/* a flow's ports, from l4.TCP, l4.UDP or l4.SCTP */
static bool json_ports(json_t *flow, unsigned *sport, unsigned *dport)
{
	static const char *const protos[] = { "TCP", "UDP", "SCTP" };
	json_t *l4 = json_object_get(flow, "l4");

	for (size_t i = 0; i < 3; i++) {
		json_t *o = json_object_get(l4, protos[i]);

		if (json_is_object(o)) {
			*sport = (unsigned)json_integer_value(json_object_get(o, "source_port"));
			*dport = (unsigned)json_integer_value(json_object_get(o, "destination_port"));
			return true;
		}
	}
	*sport = *dport = 0;
	return false;
}

/* source_names / destination_names, joined with "," */
static void names_text(json_t *list, char *out, size_t len)
{
	struct sbuf b = { out, 0, len };
	size_t i;
	json_t *n;

	out[0] = 0;
	json_array_foreach(list, i, n) {
		char nb[600];

		if (i)
			sb_put(&b, ",");
		sb_put(&b, copied(json_string_value(n), nb, sizeof(nb)));
	}
}

/* Hubble's GetHostNames for one end */
static void json_host(const struct flow_printer *p, json_t *flow, bool src, char *out, size_t len)
{
	json_t *ip = json_object_get(flow, "IP"), *end = json_object_get(flow, src ? "source" : "destination");
	json_t *svc = json_object_get(flow, src ? "source_service" : "destination_service");
	char addr[200], ns[1300], pod[1300], sname[1300], names[1300];
	unsigned sport, dport;
	bool ports = json_ports(flow, &sport, &dport);

	if (!json_is_object(ip)) { /* Hubble: the Ethernet addresses, else nothing */
		json_t *eth = json_object_get(flow, "ethernet");

		snprintf(out, len, "%s%s%s", json_is_object(eth) ? col(p, COL_CYAN) : "",
			 jesc(eth, src ? "source" : "destination", addr, sizeof(addr)),
			 json_is_object(eth) ? col(p, COL_RESET) : "");
		return;
	}
	jesc(ip, src ? "source" : "destination", addr, sizeof(addr));
	jesc(end, "namespace", ns, sizeof(ns));
	jesc(end, "pod_name", pod, sizeof(pod));
	sname[0] = 0;
	if (json_is_object(svc)) {
		jesc(svc, "namespace", ns, sizeof(ns));
		jesc(svc, "name", sname, sizeof(sname));
	}
	names_text(json_object_get(flow, src ? "source_names" : "destination_names"), names, sizeof(names));
	hostname(p, out, len, addr, src ? sport : dport, ports, ns, pod, sname, names);
}

/* Hubble's getSummary: the trace id, the Summary, the auth type */
static void json_summary(const struct flow_printer *p, json_t *flow, char *out, size_t len)
{
	struct sbuf b = { out, 0, len };
	json_t *tid = json_object_get(json_object_get(flow, "ip_trace_id"), "trace_id");
	const char *auth = jstr(flow, "auth_type");
	char *esc = malloc(SUMMARY_MAX);
	unsigned long long id = json_is_string(tid) ? strtoull(json_string_value(tid), NULL, 10)
						    : (unsigned long long)json_integer_value(tid);

	if (!esc)
		abort();
	out[0] = 0;
	if (id) {
		char t[64];

		snprintf(t, sizeof(t), "IP Trace ID: %llu; ", id);
		sb_put(&b, t);
	}
	sb_put(&b, jesc(flow, "Summary", esc, SUMMARY_MAX));
	if (*auth && strcmp(auth, "DISABLED")) {
		char ab[128];

		sb_put(&b, "; ");
		sb_put(&b, col(p, strcmp(auth, "TEST_ALWAYS_FAIL") ? COL_GREEN : COL_RED));
		sb_put(&b, copied(auth, ab, sizeof(ab)));
		sb_put(&b, col(p, COL_RESET));
	}
	free(esc);
}

void flow_print_json(struct flow_printer *p, FILE *out, json_t *flow)
{
	struct flow_text *t = scratch(p);
	json_t *reply = json_object_get(flow, "is_reply");
	bool policy_event = json_integer_value(json_object_get(json_object_get(flow, "event_type"), "type")) == 5;
	const char *verdict = jstr(flow, "verdict"), *dir = jstr(flow, "traffic_direction");
	char by[4200] = "";
	uint64_t ns;

	if (sl_parse_rfc3339(json_string_value(json_object_get(flow, "time")), &ns))
		snprintf(t->when, sizeof(t->when), "N/A");
	else
		when_text(p, ns, t->when);
	json_host(p, flow, true, t->src, sizeof(t->src));
	json_host(p, flow, false, t->dst, sizeof(t->dst));
	identity_text(p, (uint32_t)json_integer_value(json_object_get(json_object_get(flow, "source"), "identity")),
		      t->sid, sizeof(t->sid));
	identity_text(p,
		      (uint32_t)json_integer_value(json_object_get(json_object_get(flow, "destination"), "identity")),
		      t->did, sizeof(t->did));
	t->reply = json_is_boolean(reply) ? json_is_true(reply) : -1;
	type_of_json(flow, t->type, sizeof(t->type));
	if (policy_event && p->policy_names && (!strcmp(dir, "INGRESS") || !strcmp(dir, "EGRESS"))) {
		bool allowed = !strcmp(verdict, "FORWARDED") || !strcmp(verdict, "REDIRECTED");
		char key[32];

		snprintf(key, sizeof(key), "%s_%s_by", !strcmp(dir, "INGRESS") ? "ingress" : "egress",
			 allowed ? "allowed" : "denied");
		policies_text(json_object_get(flow, key), by, sizeof(by));
	}
	verdict_text(p, *verdict ? verdict : "VERDICT_UNKNOWN", policy_event, by, t->verdict, sizeof(t->verdict));
	json_summary(p, flow, t->summary, sizeof(t->summary));
	text_out(p, out, p->node, t);
}

void flow_print_lost(struct flow_printer *p, FILE *out, json_t *msg)
{
	json_t *le = json_object_get(msg, "lost_events"), *num = json_object_get(le, "num_events_lost");
	const char *src = *jstr(le, "source") ? jstr(le, "source") : "UNKNOWN_LOST_EVENTS_SOURCE";
	unsigned long long n = json_is_string(num) ? strtoull(json_string_value(num), NULL, 10)
						   : (unsigned long long)json_integer_value(num);
	long long cpu = json_integer_value(json_object_get(le, "cpu"));
	char when[64], first[64] = "", last[64] = "", span[160] = "", *text = NULL;
	uint64_t ns;
	int r = 0;

	if (sl_parse_rfc3339(json_string_value(json_object_get(msg, "time")), &ns))
		snprintf(when, sizeof(when), "N/A");
	else
		when_text(p, ns, when);
	/* the newest Hubble says when the losses began and ended */
	if (!sl_parse_rfc3339(json_string_value(json_object_get(le, "first")), &ns))
		when_text(p, ns, first);
	if (!sl_parse_rfc3339(json_string_value(json_object_get(le, "last")), &ns))
		when_text(p, ns, last);
	if (*first && *last)
		snprintf(span, sizeof(span), " (first: %s, last: %s)", first, last);
	switch (p->form) {
	case FLOW_PRINT_TABLE: {
		struct flow_text *t = scratch(p);

		snprintf(t->when, sizeof(t->when), "%s", when);
		snprintf(t->src, sizeof(t->src), "%.300s", src);
		snprintf(t->dst, sizeof(t->dst), "-");
		snprintf(t->type, sizeof(t->type), "EVENTS LOST");
		snprintf(t->verdict, sizeof(t->verdict), "-");
		snprintf(t->summary, sizeof(t->summary), "CPU(%lld) - %llu%s", cpu, n, span);
		table_row(p, p->node, t);
		return;
	}
	case FLOW_PRINT_DICT:
		r = asprintf(&text, "%s  TIMESTAMP: %s\n%s%.300s%s     SOURCE: %.300s\n       TYPE: EVENTS LOST\n"
				    "    VERDICT: -\n    SUMMARY: CPU(%lld) - %llu%s\n",
			     p->count ? "------------\n" : "", when, p->node ? "       NODE: " : "",
			     p->node ? p->node : "", p->node ? "\n" : "", src, cpu, n, span);
		break;
	case FLOW_PRINT_COMPACT:
		r = asprintf(&text, "%s EVENTS LOST: %.300s CPU(%lld) %llu%s\n", when, src, cpu, n, span);
		break;
	}
	if (r < 0)
		abort();
	emit(p, out, text);
	p->count++;
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
	for (n = SLUICE_VERDICT_FORWARDED; n <= SL_FLOW_VERDICT_TRANSLATED; n++)
		if (verdict && !strcmp(verdict, sl_flow_verdict_name(n)))
			f->verdict = n;
	json_object_foreach(json_object_get(flow, "l4"), k, l4) {
		static const uint8_t protos[] = { 6, 17, 132, 1, 58 };

		for (size_t i = 0; i < sizeof(protos); i++)
			if (!strcmp(k, sl_flow_proto_name(protos[i])))
				f->protocol = protos[i];
		f->sport = (uint16_t)json_integer_value(json_object_get(l4, "source_port"));
		f->dport = (uint16_t)json_integer_value(json_object_get(l4, "destination_port"));
		if (f->protocol == 1 || f->protocol == 58) { /* the flow's sport and dport: type and code */
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
	/* what the filters read as Hubble's do: the Flow's own fields */
	{
		json_t *reply = json_object_get(flow, "is_reply"), *et = json_object_get(flow, "event_type");
		json_t *ip = json_object_get(flow, "IP"), *ssvc = json_object_get(flow, "source_service");
		const char *ipv = json_string_value(json_object_get(ip, "ipVersion"));

		f->jx.set = true;
		f->jx.reply = json_is_boolean(reply) ? json_is_true(reply) : -1;
		f->jx.ip_version = ipv && !strcmp(ipv, "IPv4") ? 1 : ipv && !strcmp(ipv, "IPv6") ? 2 : 0;
		f->jx.has_event = json_is_object(et);
		f->jx.type = (int32_t)json_integer_value(json_object_get(et, "type"));
		f->jx.sub_type = (int32_t)json_integer_value(json_object_get(et, "sub_type"));
		f->jx.dir_unknown = !dir || (strcmp(dir, "INGRESS") && strcmp(dir, "EGRESS"));
		f->jx.drop_desc = json_string_value(json_object_get(flow, "drop_reason_desc"));
		if (json_is_object(ssvc)) {
			f->jx.src_svc_ns = json_string_value(json_object_get(ssvc, "namespace")) ?: "";
			f->jx.src_svc_name = json_string_value(json_object_get(ssvc, "name")) ?: "";
		}
	}
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
	/* SCHEME://HOST/PATH: back into the scheme, the host and the rest; as
	 * Go's ParseRequestURI, a URL that is neither absolute nor a path has
	 * no path to match */
	url = url ? url : "";
	{
		size_t sch = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");

		f->jx.bad_uri = *url && *url != '/' && !(sch && isalpha((unsigned char)*url) && url[sch] == ':');
	}
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
