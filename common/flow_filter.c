/* SPDX-License-Identifier: Apache-2.0 */
/* flow_filter.c - see flow_filter.h. */
#include "flow_filter.h"

#include <stdbool.h>
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

const char *sl_flow_filter_check(const char *field, const char *v)
{
	static const char *const verdicts[] = { "FORWARDED", "DROPPED", "REDIRECTED", "ERROR", "AUDIT",
						"ALLOWED", "DENIED", NULL };
	static const char *const types[] = { "l3-l4", "l3_l4", "l7", "policy-verdict", "drop", NULL };
	static const char *const protocols[] = { "tcp", "udp", "sctp", "icmp", "icmpv4", "http", NULL };

	if (!field || !v)
		return "missing";
	if (!strcmp(field, "verdict") && !one_of(v, verdicts))
		return "want FORWARDED, DROPPED, REDIRECTED, ERROR, AUDIT, ALLOWED or DENIED";
	if (!strcmp(field, "type") && !one_of(v, types))
		return "want l3-l4, l7, policy-verdict or drop (sluice has no trace, capture or debug events)";
	if (!strcmp(field, "protocol") && !one_of(v, protocols))
		return "want tcp, udp, sctp, icmp or http";
	if (!strcmp(field, "identity") && (!digits(v, 10) || strtoull(v, NULL, 10) > UINT32_MAX))
		return "want a numeric identity";
	if (!strcmp(field, "port") && (!digits(v, 5) || strtoul(v, NULL, 10) > 65535))
		return "want a port number 0-65535";
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
