/* SPDX-License-Identifier: Apache-2.0 */
/* flow_filter.c - see flow_filter.h. */
#include "flow_filter.h"
#include "flow_json.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool one_of(const char *v, const char *const *set)
{
	for (; *set; set++)
		if (!strcasecmp(v, *set))
			return true;
	return false;
}

static bool digits(const char *v, size_t max)
{
	size_t n = strspn(v, "0123456789");

	return n && !v[n] && n <= max;
}

int sl_flow_ip_parse(const char *v, uint8_t net[16], unsigned *plen)
{
	char tmp[64], *slash, *end;
	unsigned long p;
	bool v4;

	if (!v || strlen(v) >= sizeof(tmp))
		return -1;
	strcpy(tmp, v);
	slash = strchr(tmp, '/');
	if (slash)
		*slash = 0;
	memset(net, 0, 16);
	v4 = inet_pton(AF_INET, tmp, net + 12) == 1;
	if (v4)
		net[10] = net[11] = 0xff;
	else if (inet_pton(AF_INET6, tmp, net) != 1)
		return -1;
	p = v4 ? 32 : 128;
	if (slash) {
		if (!digits(slash + 1, 3))
			return -1;
		p = strtoul(slash + 1, &end, 10);
		if (p > (v4 ? 32u : 128u))
			return -1;
	}
	*plen = (unsigned)p + (v4 ? 96 : 0);
	return 0;
}

int sl_flow_tcp_flags_parse(const char *v)
{
	const char *const *names = sl_flow_tcp_flag_names;
	int mask = 0;

	while (v && *v) {
		size_t n = strcspn(v, ",");
		int bit = n == 2 && !strncasecmp(v, "NS", 2) ? 8 : -1; /* Hubble's ninth */

		for (int i = 0; i < 8; i++)
			if (strlen(names[i]) == n && !strncasecmp(v, names[i], n))
				bit = i;
		if (bit < 0)
			return -1;
		mask |= 1 << bit;
		v += n;
		if (*v == ',' && !*++v)
			return -1; /* a trailing comma */
	}
	return mask ? mask : -1;
}

bool sl_flow_ip_in(const uint8_t a[16], const uint8_t net[16], unsigned plen)
{
	unsigned full = plen / 8, rest = plen % 8;

	if (memcmp(a, net, full))
		return false;
	return !rest || !((a[full] ^ net[full]) & (uint8_t)(0xff << (8 - rest)));
}

int sl_flow_http_status_kind(const char *v)
{
	size_t n = strlen(v);

	/* Hubble's: a code ^[1-5][0-9]{2}$ or a prefix ^[1-5][0-9]?\+$;
	 * sluice also takes a class such as 4xx */
	if (n == 3 && v[0] >= '1' && v[0] <= '5' && v[1] >= '0' && v[1] <= '9' && v[2] >= '0' && v[2] <= '9')
		return 1;
	if (n >= 2 && v[0] >= '1' && v[0] <= '5' &&
	    (!strcmp(v + 1, "+") || (v[1] >= '0' && v[1] <= '9' && !strcmp(v + 2, "+"))))
		return 2;
	if (n == 3 && v[0] >= '1' && v[0] <= '5' && !strcasecmp(v + 1, "xx"))
		return 3;
	return 0;
}

const char *sl_flow_filter_check(const char *field, const char *v)
{
	static const char *const protocols[] = { "tcp", "udp", "sctp", "icmp", "icmpv4", "icmpv6", "http", "dns", "kafka", NULL };

	if (!field || !v)
		return "missing";
	if (!strcmp(field, "protocol") && !one_of(v, protocols))
		return "want tcp, udp, sctp, icmp, icmpv4, icmpv6, http, dns or kafka";
	if (strstr(field, "port") && (!digits(v, 5) || strtoul(v, NULL, 10) > 65535))
		return "want a port number 0-65535";
	if (!strcmp(field, "ip") || !strcmp(field, "from-ip") || !strcmp(field, "to-ip")) {
		uint8_t net[16];
		unsigned plen;

		if (sl_flow_ip_parse(v, net, &plen))
			return "want an IP address or a CIDR (10.0.0.1, 10.0.0.0/8, fd00::/64)";
	}
	if (!strcmp(field, "http-status") && !sl_flow_http_status_kind(v))
		return "want a status code (403) or a prefix (4+, 40+; also 4xx)";
	if (!strcmp(field, "node-name") && *v) {
		char re[1200];
		const char *why = sl_flow_node_regex(v, re, sizeof(re));

		if (why)
			return why;
	}
	if (!*v)
		return "must not be empty";
	return NULL;
}

/* One FQDN element of a node-name pattern as a regular expression
 * (Hubble's appendFQDNPatternRegexp): trimmed, one trailing dot dropped,
 * lowercase; '*' any run of [-.0-9a-z]. NULL, or why not. */
static const char *fqdn_regex(const char *pat, size_t n, char *out, size_t len, size_t *used)
{
	char p[256];
	size_t i, o = *used;

	while (n && (*pat == ' ' || *pat == '\t'))
		pat++, n--;
	while (n && (pat[n - 1] == ' ' || pat[n - 1] == '\t'))
		n--;
	if (n && pat[n - 1] == '.')
		n--;
	if (!n)
		return "empty pattern";
	if (n >= sizeof(p))
		return "pattern too long";
	for (i = 0; i < n; i++)
		p[i] = (char)(pat[i] >= 'A' && pat[i] <= 'Z' ? pat[i] + 32 : pat[i]);
	if (p[n - 1] == '.')
		return "multiple trailing dots in pattern";
	for (i = 0; i < n; i++) {
		const char *piece;
		char one[2] = { p[i], 0 };

		if (p[i] == '.')
			piece = "\\.";
		else if (p[i] == '*')
			piece = "[-.0-9a-z]*";
		else if (p[i] == '-' || p[i] == '_' || (p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'z'))
			piece = one;
		else
			return "invalid character in pattern (want a-z, 0-9, '-', '_', '.' or '*')";
		if (o + strlen(piece) >= len)
			return "pattern too long";
		memcpy(out + o, piece, strlen(piece));
		o += strlen(piece);
	}
	out[o] = 0;
	*used = o;
	return NULL;
}

const char *sl_flow_fqdn_check(const char *pattern)
{
	char re[1200];
	size_t o = 0;

	return fqdn_regex(pattern, strlen(pattern), re, sizeof(re), &o);
}

#define FQDN_RE "(?:[-0-9_a-z]+(?:\\.[-0-9_a-z]+)*)"

const char *sl_flow_node_regex(const char *pattern, char *out, size_t len)
{
	const char *slash = strchr(pattern, '/'), *why;
	size_t o = 0;

	if (!*pattern)
		return "empty pattern";
	if (slash && strchr(slash + 1, '/'))
		return "too many slashes in pattern";
	if (len < 2 * sizeof(FQDN_RE) + 16)
		return "pattern too long";
	memcpy(out, "\\A(?:", 5);
	o = 5;
	/* cluster/node; no slash: a node of any cluster; an empty side: any */
	if (!slash || slash == pattern) {
		memcpy(out + o, FQDN_RE, strlen(FQDN_RE));
		o += strlen(FQDN_RE);
	} else if ((why = fqdn_regex(pattern, (size_t)(slash - pattern), out, len - 4, &o))) {
		return why;
	}
	out[o++] = '/';
	if (!slash ? !*pattern : !slash[1]) {
		memcpy(out + o, FQDN_RE, strlen(FQDN_RE));
		o += strlen(FQDN_RE);
	} else if ((why = fqdn_regex(slash ? slash + 1 : pattern, strlen(slash ? slash + 1 : pattern), out, len - 4,
				      &o))) {
		return why;
	}
	memcpy(out + o, ")\\z", 4);
	out[o + 4] = 0;
	return NULL;
}
