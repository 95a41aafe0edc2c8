/* SPDX-License-Identifier: Apache-2.0 */
/* flow_filter.c - see flow_filter.h. */
#include "flow_filter.h"
#include "flow_json.h"

#include <arpa/inet.h>
#include <fnmatch.h>
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
	if (!strcmp(field, "http-status")) {
		bool code = digits(v, 3) && strlen(v) == 3;
		bool cls = strlen(v) >= 2 && v[0] >= '1' && v[0] <= '5' &&
			   (!strcmp(v + 1, "+") || !strcasecmp(v + 1, "xx"));

		if (!code && !cls)
			return "want a status code (403) or a class (4xx, 4+)";
	}
	if (!*v)
		return "must not be empty";
	return NULL;
}

bool sl_flow_node_matches(const char *pattern, const char *node)
{
	char full[512];

	if (!pattern || !node)
		return false;
	if (!strchr(pattern, '/'))
		return !fnmatch(pattern, node, 0);
	/* "cluster/node": the one cluster here is Cilium's default */
	snprintf(full, sizeof(full), "default/%s", node);
	return !fnmatch(pattern, full, 0);
}
