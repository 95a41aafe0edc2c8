/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_json.c - see flow_json.h.
 *
 * Written by hand, without printf: at 100k flows/s the client renders each
 * line in about the time vfprintf takes to parse its format string. Every
 * piece is appended with memcpy; numbers are formatted right to left; the
 * date part of the timestamp is formatted once per second. The strings a
 * flow carries are cut where the agent has always cut them (a Host header
 * of 505 bytes, a URL of 4089), so old and new agents print the same line.
 */
#include "flow_json.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sluice/abi.h"
#include "util.h"

/* how much of each string a line keeps (escaped); see the top */
#define CAP_NAME SL_FLOW_CAP_NAME
#define CAP_METHOD SL_FLOW_CAP_METHOD
#define CAP_URL SL_FLOW_CAP_URL
#define CAP_HOST SL_FLOW_CAP_HOST
#define CAP_PROTO SL_FLOW_CAP_PROTO

struct out {
	char *p;
};

static inline void put(struct out *o, const char *s, size_t n)
{
	memcpy(o->p, s, n);
	o->p += n;
}

#define PUT(o, lit) put((o), (lit), sizeof(lit) - 1)

static inline void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_u64(struct out *o, uint64_t v)
{
	char tmp[24], *e = tmp + sizeof(tmp), *b = e;

	do {
		*--b = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(o, b, (size_t)(e - b));
}

/*
 * One step of a JSON string body: how many bytes of s the next character
 * takes (*in) and writes (the return value): '"' and '\' escaped, control
 * characters as \u00XX, valid UTF-8 as it is, and a byte that starts no
 * valid sequence as U+FFFD (as Go's encoding/json, and so Hubble, writes
 * it), so every line is valid UTF-8 whatever a client sent. out may be
 * NULL (counting only).
 */
static size_t json_char(const unsigned char *s, size_t *in, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char c = s[0];
	size_t n;

	if (c == '"' || c == '\\') {
		if (out)
			out[0] = '\\', out[1] = (char)c;
		*in = 1;
		return 2;
	}
	if (c < 0x20) {
		if (out) {
			memcpy(out, "\\u00", 4);
			out[4] = hex[c >> 4];
			out[5] = hex[c & 15];
		}
		*in = 1;
		return 6;
	}
	n = sl_utf8_decode(s, SIZE_MAX, NULL);
	if (!n) {
		if (out)
			memcpy(out, "\\ufffd", 6);
		*in = 1;
		return 6;
	}
	if (out)
		memcpy(out, s, n);
	*in = n;
	return n;
}

/*
 * A JSON string body. Stops where the agent's fixed buffers of cap bytes
 * stopped (room for one more escape and the NUL), never inside a character.
 */
static void put_escaped(struct out *o, const char *s, size_t cap)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = 0, in;

	for (; u && *u && n + 7 < cap; u += in)
		n += json_char(u, &in, o->p + n);
	o->p += n;
}

/* the same walk as put_escaped, counting what it takes of s */
size_t sl_flow_json_kept(const char *s, size_t cap)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = 0, i = 0, in;

	for (; u && u[i] && n + 7 < cap; i += in)
		n += json_char(u + i, &in, NULL);
	return i;
}

static bool is_v4(const uint8_t a[16])
{
	static const uint8_t v4pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return !memcmp(a, v4pfx, 12);
}

static void put_addr(struct out *o, const uint8_t a[16])
{
	char buf[INET6_ADDRSTRLEN];

	if (is_v4(a)) {
		for (int i = 12; i < 16; i++) {
			if (i > 12)
				*o->p++ = '.';
			put_u64(o, a[i]);
		}
		return;
	}
	inet_ntop(AF_INET6, a, buf, sizeof(buf));
	puts_(o, buf);
}

_Static_assert(SL_FLOW_ADDR_MAX == INET6_ADDRSTRLEN, "an address's text");

const char *sl_flow_addr(const uint8_t a[16], char buf[SL_FLOW_ADDR_MAX])
{
	struct out o = { buf };

	put_addr(&o, a);
	*o.p = 0;
	return buf;
}

/* "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ"; the part up to the seconds is kept for
 * the next flow of the same second (a memo, not state) */
static void put_time(struct out *o, uint64_t ns)
{
	static _Thread_local struct {
		uint64_t sec;
		bool valid;
		char text[32];
		size_t len;
	} memo;
	uint64_t sec = ns / 1000000000ull, frac = ns % 1000000000ull;
	int digits;
	char *p;

	if (!memo.valid || memo.sec != sec) {
		time_t s = (time_t)sec;
		struct tm tm;

		gmtime_r(&s, &tm);
		memo.len = (size_t)snprintf(memo.text, sizeof(memo.text), "%04d-%02d-%02dT%02d:%02d:%02d.",
					    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
					    tm.tm_sec);
		memo.sec = sec;
		memo.valid = true;
	}
	put(o, memo.text, memo.len);
	/* protojson's Timestamp: 0, 3, 6 or 9 digits, as few as the value
	 * needs ("...:00Z", "...:00.120Z", "...:00.123456789Z") */
	if (!frac) {
		o->p[-1] = 'Z'; /* over the '.' */
		return;
	}
	digits = frac % 1000000 == 0 ? 3 : frac % 1000 == 0 ? 6 : 9;
	for (int i = digits; i < 9; i += 3)
		frac /= 1000;
	p = o->p + digits;
	for (int i = 0; i < digits; i++) {
		*--p = (char)('0' + frac % 10);
		frac /= 10;
	}
	o->p += digits;
	*o->p++ = 'Z';
}

const char *sl_flow_verdict_name(uint8_t v)
{
	switch (v) {
	case SLUICE_VERDICT_FORWARDED: return "FORWARDED";
	case SLUICE_VERDICT_DROPPED: return "DROPPED";
	case SLUICE_VERDICT_REDIRECTED: return "REDIRECTED";
	case SL_FLOW_VERDICT_ERROR: return "ERROR";
	case SL_FLOW_VERDICT_AUDIT: return "AUDIT";
	case SL_FLOW_VERDICT_TRACED: return "TRACED";
	case SL_FLOW_VERDICT_TRANSLATED: return "TRANSLATED";
	}
	return "UNKNOWN";
}

/* ICMPv4 types and codes as gopacket's ICMPv4TypeCode.String() names them
 * (Hubble's Summary): "EchoRequest", "DestinationUnreachable(Port)",
 * "Redirect(Code: 9)", "42(0)" for a type it does not know. */
static const char *const icmp_unreach[] = {
	"Net", "Host", "Protocol", "Port", "FragmentationNeeded", "SourceRoutingFailed",
	"NetUnknown", "HostUnknown", "SourceIsolated", "NetAdminProhibited",
	"HostAdminProhibited", "NetTOS", "HostTOS", "CommAdminProhibited", "HostPrecedence",
	"PrecedenceCutoff",
};
static const char *const icmp_redirect[] = { "Network", "Host", "TOS+Network", "TOS+Host" };
static const char *const icmp_time[] = { "TTLExceeded", "FragmentReassemblyTimeExceeded" };
static const char *const icmp_param[] = { "PointerIndicatesError", "MissingOption", "BadLength" };

static const struct {
	const char *name;
	const char *const *codes;
	size_t ncodes;
} icmp_types[19] = {
	[0] = { "EchoReply", NULL, 0 },
	[3] = { "DestinationUnreachable", icmp_unreach, 16 },
	[4] = { "SourceQuench", NULL, 0 },
	[5] = { "Redirect", icmp_redirect, 4 },
	[8] = { "EchoRequest", NULL, 0 },
	[9] = { "RouterAdvertisement", NULL, 0 },
	[10] = { "RouterSolicitation", NULL, 0 },
	[11] = { "TimeExceeded", icmp_time, 2 },
	[12] = { "ParameterProblem", icmp_param, 3 },
	[13] = { "TimestampRequest", NULL, 0 },
	[14] = { "TimestampReply", NULL, 0 },
	[15] = { "InfoRequest", NULL, 0 },
	[16] = { "InfoReply", NULL, 0 },
	[17] = { "AddressMaskRequest", NULL, 0 },
	[18] = { "AddressMaskReply", NULL, 0 },
};

const char *sl_flow_icmp_text(uint8_t type, uint8_t code, char out[SL_FLOW_ICMP_TEXT_MAX])
{
	const char *name = type < 19 ? icmp_types[type].name : NULL;

	if (!name)
		snprintf(out, SL_FLOW_ICMP_TEXT_MAX, "%u(%u)", type, code);
	else if (!icmp_types[type].codes && !code)
		snprintf(out, SL_FLOW_ICMP_TEXT_MAX, "%s", name);
	else if (code < icmp_types[type].ncodes)
		snprintf(out, SL_FLOW_ICMP_TEXT_MAX, "%s(%s)", name, icmp_types[type].codes[code]);
	else
		snprintf(out, SL_FLOW_ICMP_TEXT_MAX, "%s(Code: %u)", name, code);
	return out;
}

const char *sl_flow_proto_name(uint8_t p)
{
	switch (p) {
	case 6: return "TCP";
	case 17: return "UDP";
	case 1: return "ICMPv4";
	case 132: return "SCTP";
	case 58: return "ICMPv6"; /* only in flows read from JSON */
	}
	return "UNKNOWN";
}

const char *sl_flow_drop_reason_name(uint16_t r)
{
#define DROP_NAME_(name, num, hubble, metric, text) case num: return hubble;
	switch (r) {
	SLUICE_DROP_REASONS(DROP_NAME_)
	}
#undef DROP_NAME_
	return "DROP_REASON_UNKNOWN";
}

const char *sl_flow_trace_point_name(uint8_t point)
{
	switch (point) {
	case SLUICE_TRACE_TO_ENDPOINT: return "TO_ENDPOINT";
	case SLUICE_TRACE_TO_PROXY: return "TO_PROXY";
	case SLUICE_TRACE_TO_STACK: return "TO_STACK";
	}
	return "UNKNOWN_POINT";
}

const char *sl_flow_trace_point_text(uint8_t point)
{
	switch (point) {
	case SLUICE_TRACE_TO_ENDPOINT: return "to-endpoint";
	case SLUICE_TRACE_TO_PROXY: return "to-proxy";
	case SLUICE_TRACE_TO_STACK: return "to-stack";
	}
	return "trace";
}

const char *sl_cilium_trace_point(unsigned sub)
{
	static const char *const names[] = { "to-endpoint", "to-proxy",	     "to-host",	     "to-stack",
					     "to-overlay",  "from-endpoint", "from-proxy",   "from-host",
					     "from-stack",  "from-overlay",  "from-network", "to-network",
					     "from-crypto", "to-crypto" };

	return sub < sizeof(names) / sizeof(names[0]) ? names[sub] : NULL;
}

const char *sl_cilium_reserved_identity(uint32_t id)
{
	static const char *const names[] = { "unknown", "host",	      "world",		"unmanaged",
					     "health",	"init",	      "remote-node",	"kube-apiserver",
					     "ingress", "world-ipv4", "world-ipv6" };

	return id < sizeof(names) / sizeof(names[0]) ? names[id] : NULL;
}

const char *sl_cilium_match_type(unsigned m)
{
	static const char *const names[] = { "none", "L3-Only", "L3-L4", "L4-Only", "all", "L3-Proto", "Proto-Only" };

	return m < sizeof(names) / sizeof(names[0]) ? names[m] : "unknown";
}

/* Cilium's trace sub_type (monitor TraceToLxc 0, TraceToProxy 1, TraceToStack 3) */
static unsigned trace_sub_type(uint8_t point)
{
	return point == SLUICE_TRACE_TO_PROXY ? 1 : point == SLUICE_TRACE_TO_STACK ? 3 : 0;
}

const char *sl_flow_uuid_text(uint64_t boot, uint64_t seq, char out[SL_FLOW_UUID_TEXT])
{
	uint8_t b[16];

	if (!seq) {
		out[0] = 0;
		return out;
	}
	for (int i = 0; i < 8; i++) {
		b[i] = (uint8_t)(boot >> (56 - 8 * i));
		b[8 + i] = (uint8_t)(seq >> (56 - 8 * i));
	}
	/* the form of a random (version 4, RFC 4122 variant) UUID: unique per
	 * agent start (the boot id) and flow (the number) */
	b[6] = (uint8_t)(0x40 | (b[6] & 0x0f));
	b[8] = (uint8_t)(0x80 | (b[8] & 0x3f));
	snprintf(out, SL_FLOW_UUID_TEXT,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
		 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return out;
}

void sl_flow_event_type(uint8_t kind, uint8_t verdict, uint8_t trace_point, uint16_t drop_reason,
			unsigned *type, unsigned *sub_type)
{
	if (kind == SL_FLOW_TRACE) {
		*type = 4;
		*sub_type = trace_sub_type(trace_point);
	} else if (sl_flow_kind_is_l7(kind)) {
		*type = 129;
		*sub_type = 0;
	} else if (verdict == SLUICE_VERDICT_DROPPED) {
		*type = 1;
		*sub_type = drop_reason;
	} else {
		*type = 5;
		*sub_type = 0;
	}
}

const char *sl_flow_tcp_flags_text(uint8_t flags, char out[SL_FLOW_TCP_FLAGS_TEXT_MAX])
{
	/* Hubble's order (its printer and Summary): SYN, ACK, RST, FIN, PSH, URG, ECE, CWR */
	static const struct {
		uint8_t bit;
		const char *name;
	} order[] = { { 0x02, "SYN" }, { 0x10, "ACK" }, { 0x04, "RST" }, { 0x01, "FIN" },
		      { 0x08, "PSH" }, { 0x20, "URG" }, { 0x40, "ECE" }, { 0x80, "CWR" } };
	size_t n = 0;

	out[0] = 0;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!(flags & order[i].bit))
			continue;
		n += (size_t)snprintf(out + n, SL_FLOW_TCP_FLAGS_TEXT_MAX - n, "%s%s", n ? ", " : "", order[i].name);
	}
	return out;
}

const char *const sl_flow_tcp_flag_names[8] = { "FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR" };

/* l4.TCP.flags as protojson prints Hubble's TCPFlags: set flags only, in
 * field order, which is the bit order */
static void put_tcp_flags(struct out *o, uint8_t flags)
{
	bool first = true;

	PUT(o, ",\"flags\":{");
	for (int i = 0; i < 8; i++) {
		if (!(flags & (1u << i)))
			continue;
		if (!first)
			PUT(o, ",");
		PUT(o, "\"");
		puts_(o, sl_flow_tcp_flag_names[i]);
		PUT(o, "\":true");
		first = false;
	}
	PUT(o, "}");
}

/* ",\"sub_type\":N" unless N is 0, which protojson leaves out */
static void put_sub_type(struct out *o, unsigned sub_type)
{
	if (sub_type) {
		PUT(o, ",\"sub_type\":");
		put_u64(o, sub_type);
	}
}

/* One string field of an object ("key":"value"), left out when empty. */
static void put_str_field(struct out *o, bool *first, const char *key, const char *v)
{
	if (!v || !*v)
		return;
	if (!*first)
		PUT(o, ",");
	*first = false;
	PUT(o, "\"");
	puts_(o, key);
	PUT(o, "\":\"");
	put_escaped(o, v, CAP_NAME);
	PUT(o, "\"");
}

/* Hubble's Endpoint, its fields in flow.proto's order; empty ones (an ID
 * or identity of 0, an empty string or list) left out, as protojson
 * leaves them out: the world is {"identity":2,"labels":["reserved:world"]} */
static void put_end(struct out *o, const struct sl_flow_end *e)
{
	bool first = true;

	PUT(o, "{");
	if (e->ep_id) {
		PUT(o, "\"ID\":");
		put_u64(o, e->ep_id);
		first = false;
	}
	if (e->identity) {
		puts_(o, first ? "\"identity\":" : ",\"identity\":");
		put_u64(o, e->identity);
		first = false;
	}
	put_str_field(o, &first, "cluster_name", e->cluster);
	put_str_field(o, &first, "namespace", e->ns);
	if (e->labels && strcmp(e->labels, "[]")) {
		puts_(o, first ? "\"labels\":" : ",\"labels\":");
		puts_(o, e->labels);
		first = false;
	}
	put_str_field(o, &first, "pod_name", e->pod);
	if (e->wl_kind) {
		bool named = e->wl_name && *e->wl_name;

		puts_(o, first ? "\"workloads\":[{" : ",\"workloads\":[{");
		if (named) {
			PUT(o, "\"name\":\"");
			put_escaped(o, e->wl_name, CAP_NAME);
			PUT(o, "\"");
		}
		if (*e->wl_kind) {
			puts_(o, named ? ",\"kind\":\"" : "\"kind\":\"");
			put_escaped(o, e->wl_kind, CAP_NAME);
			PUT(o, "\"");
		}
		PUT(o, "}]");
	}
	PUT(o, "}");
}

/*
 * The policy that decided, as Hubble's Policy in {ingress,egress}_
 * {allowed,denied}_by (after Summary in flow.proto): name, namespace, the
 * labels Cilium derives from it, kind; no revision (left out as 0 is).
 */
static void put_policy(struct out *o, const struct sl_flow_view *f)
{
	bool ns = f->pol_ns && *f->pol_ns;

	puts_(o, f->direction == SLUICE_DIR_INGRESS ? ",\"ingress_" : ",\"egress_");
	puts_(o, f->pol_denied ? "denied_by\":[{\"name\":\"" : "allowed_by\":[{\"name\":\"");
	put_escaped(o, f->pol_name, CAP_NAME);
	if (ns) {
		PUT(o, "\",\"namespace\":\"");
		put_escaped(o, f->pol_ns, CAP_NAME);
	}
	PUT(o, "\",\"labels\":[\"k8s:io.cilium.k8s.policy.derived-from=");
	put_escaped(o, f->pol_kind, CAP_NAME);
	PUT(o, "\",\"k8s:io.cilium.k8s.policy.name=");
	put_escaped(o, f->pol_name, CAP_NAME);
	if (ns) {
		PUT(o, "\",\"k8s:io.cilium.k8s.policy.namespace=");
		put_escaped(o, f->pol_ns, CAP_NAME);
	}
	PUT(o, "\"],\"kind\":\"");
	put_escaped(o, f->pol_kind, CAP_NAME);
	PUT(o, "\"}]");
}

/* SCHEME://HOST/PATH as Hubble has it; no Host header: the server's address */
static void put_url(struct out *o, const struct sl_flow_view *f)
{
	char *host;

	puts_(o, f->https ? "https://" : "http://");
	host = o->p;
	put_escaped(o, f->host, CAP_HOST);
	if (o->p == host)
		put_addr(o, f->kind == SL_FLOW_L7_RESPONSE ? f->saddr : f->daddr);
	put_escaped(o, f->url, CAP_URL);
}

size_t sl_flow_json_max(const struct sl_flow_view *f, const char *node)
{
	/* fixed text and numbers, the capped strings (twice: url and Summary),
	 * what is printed as is */
	return 2048 + 10 * CAP_NAME + 2 * CAP_NAME + 6 * CAP_NAME + 2 * (CAP_METHOD + CAP_URL + CAP_HOST + CAP_PROTO) +
	       2 * INET6_ADDRSTRLEN * 2 + (f->src.labels ? strlen(f->src.labels) : 2) +
	       (f->dst.labels ? strlen(f->dst.labels) : 2) + (node ? strlen(node) * 12 : 0);
}

size_t sl_flow_json(const struct sl_flow_view *f, const char *node, char *out)
{
	struct out o = { out };
	bool trace = f->kind == SL_FLOW_TRACE;
	unsigned type, sub_type;
	bool l7 = sl_flow_kind_is_l7(f->kind), resp = f->kind == SL_FLOW_L7_RESPONSE;

	PUT(&o, "{\"flow\":{\"time\":\"");
	put_time(&o, f->time_ns);
	if (f->uuid_seq) {
		char u[SL_FLOW_UUID_TEXT];

		PUT(&o, "\",\"uuid\":\"");
		puts_(&o, sl_flow_uuid_text(f->uuid_boot, f->uuid_seq, u));
	}
	PUT(&o, "\",\"verdict\":\"");
	puts_(&o, sl_flow_verdict_name(f->verdict));
	PUT(&o, "\",");
	if (f->verdict == SLUICE_VERDICT_DROPPED && !l7) {
		PUT(&o, "\"drop_reason\":");
		put_u64(&o, f->drop_reason);
		PUT(&o, ",\"drop_reason_desc\":\"");
		puts_(&o, sl_flow_drop_reason_name(f->drop_reason));
		PUT(&o, "\",");
	}
	PUT(&o, "\"IP\":{\"source\":\"");
	put_addr(&o, f->saddr);
	PUT(&o, "\",\"destination\":\"");
	put_addr(&o, f->daddr);
	PUT(&o, "\",\"ipVersion\":\"");
	puts_(&o, is_v4(f->saddr) ? "IPv4" : "IPv6");
	PUT(&o, "\"},");
	if (f->protocol == 6 || f->protocol == 17 || f->protocol == 132) {
		PUT(&o, "\"l4\":{\"");
		puts_(&o, sl_flow_proto_name(f->protocol));
		PUT(&o, "\":{\"source_port\":");
		put_u64(&o, f->sport);
		PUT(&o, ",\"destination_port\":");
		put_u64(&o, f->dport);
		if (f->protocol == 6 && !l7)
			put_tcp_flags(&o, f->tcp_flags);
		PUT(&o, "}},");
	} else if (f->protocol == 1) {
		/* protojson leaves zero fields out: an echo reply is {} */
		uint8_t type = (uint8_t)f->sport, code = (uint8_t)f->dport;

		PUT(&o, "\"l4\":{\"ICMPv4\":{");
		if (type) {
			PUT(&o, "\"type\":");
			put_u64(&o, type);
		}
		if (code) {
			puts_(&o, type ? ",\"code\":" : "\"code\":");
			put_u64(&o, code);
		}
		PUT(&o, "}},");
	}
	PUT(&o, "\"source\":");
	put_end(&o, &f->src);
	PUT(&o, ",\"destination\":");
	put_end(&o, &f->dst);
	if (f->svc_name) {
		PUT(&o, ",\"destination_service\":{\"name\":\"");
		put_escaped(&o, f->svc_name, CAP_NAME);
		PUT(&o, "\",\"namespace\":\"");
		put_escaped(&o, f->svc_ns, CAP_NAME);
		PUT(&o, "\"},\"destination_service_port\":");
		put_u64(&o, f->svc_port);
	}
	puts_(&o, l7 ? ",\"Type\":\"L7\",\"node_name\":\"" : ",\"Type\":\"L3_L4\",\"node_name\":\"");
	put_escaped(&o, node, CAP_NAME);
	PUT(&o, "\",");
	sl_flow_event_type(f->kind, f->verdict, f->trace_point, f->drop_reason, &type, &sub_type);
	if (trace) {
		/* Cilium's monitor type 4, trace (sub_type = observation point) */
		PUT(&o, "\"event_type\":{\"type\":4");
		put_sub_type(&o, sub_type);
		PUT(&o, "},\"trace_observation_point\":\"");
		puts_(&o, sl_flow_trace_point_name(f->trace_point));
		puts_(&o, f->is_reply ? "\",\"trace_reason\":\"REPLY\",\"is_reply\":true,"
				      : "\",\"trace_reason\":\"ESTABLISHED\",\"is_reply\":false,");
	} else if (!l7) {
		/* Cilium's monitor types: 1 drop (sub_type = reason), 5 policy verdict */
		PUT(&o, "\"event_type\":{\"type\":");
		put_u64(&o, type);
		put_sub_type(&o, sub_type);
		PUT(&o, "},");
		if (f->match_kind) {
			PUT(&o, "\"policy_match_type\":");
			put_u64(&o, f->match_kind);
			PUT(&o, ",");
		}
		/* a policy verdict is a flow's first packet; of a drop, Cilium
		 * does not know whether it was a reply (is_reply left out) */
		if (f->verdict != SLUICE_VERDICT_DROPPED)
			PUT(&o, "\"is_reply\":false,");
	} else {
		/* a REQUEST carries no code and no latency; its RESPONSE both */
		PUT(&o, "\"event_type\":{\"type\":129},\"l7\":{\"type\":\"");
		puts_(&o, resp ? "RESPONSE\"," : "REQUEST\",");
		if (resp) {
			PUT(&o, "\"latency_ns\":\"");
			put_u64(&o, f->latency_ns);
			PUT(&o, "\",");
		}
		PUT(&o, "\"http\":{");
		if (resp) {
			PUT(&o, "\"code\":");
			put_u64(&o, f->code);
			PUT(&o, ",");
		}
		PUT(&o, "\"method\":\"");
		put_escaped(&o, f->method, CAP_METHOD);
		PUT(&o, "\",\"url\":\"");
		put_url(&o, f);
		PUT(&o, "\",\"protocol\":\"");
		put_escaped(&o, f->http_protocol, CAP_PROTO);
		puts_(&o, resp ? "\"}},\"is_reply\":true," : "\"}},\"is_reply\":false,");
	}
	puts_(&o, f->direction == SLUICE_DIR_INGRESS ? "\"traffic_direction\":\"INGRESS\","
						      : "\"traffic_direction\":\"EGRESS\",");
	/* the summary as Hubble writes it, the URL absolute as in l7.http.url */
	PUT(&o, "\"Summary\":\"");
	if (l7) {
		put_escaped(&o, f->http_protocol && *f->http_protocol ? f->http_protocol : "HTTP/1.1", CAP_PROTO);
		PUT(&o, " ");
		if (resp) {
			put_u64(&o, f->code);
			PUT(&o, " ");
			put_u64(&o, f->latency_ns / 1000000);
			PUT(&o, "ms (");
		}
		put_escaped(&o, f->method, CAP_METHOD);
		PUT(&o, " ");
		put_url(&o, f);
		if (resp)
			PUT(&o, ")");
	} else if (f->protocol == 6) {
		char fl[SL_FLOW_TCP_FLAGS_TEXT_MAX];

		PUT(&o, "TCP Flags: ");
		puts_(&o, sl_flow_tcp_flags_text(f->tcp_flags, fl));
	} else if (f->protocol == 1) {
		char ic[SL_FLOW_ICMP_TEXT_MAX];

		PUT(&o, "ICMPv4 ");
		puts_(&o, sl_flow_icmp_text((uint8_t)f->sport, (uint8_t)f->dport, ic));
	} else {
		puts_(&o, sl_flow_proto_name(f->protocol));
	}
	PUT(&o, "\"");
	if (f->pol_kind)
		put_policy(&o, f);
	/* the rest of Hubble's GetFlowsResponse around the flow */
	PUT(&o, "},\"node_name\":\"");
	put_escaped(&o, node, CAP_NAME);
	PUT(&o, "\",\"time\":\"");
	put_time(&o, f->time_ns);
	PUT(&o, "\"}");
	*o.p = 0;
	return (size_t)(o.p - out);
}
