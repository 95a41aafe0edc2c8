// SPDX-License-Identifier: Apache-2.0
/*
 * compile_ports.c - port keys: a port rule (numbers, ranges, named ports
 * resolved on an endpoint, protocol ANY) as the prefix keys of the policy
 * trie (abi.h: protocol at prefix length 48, port bits after it). Ranges
 * become aligned power-of-two blocks. Pure: tested alone in
 * tests/unit/policy/test_port_keys.c.
 */
#include "compile_ports.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* port with only the first (plen - 48) bits kept */
uint16_t compile_port_mask(uint16_t port, unsigned int plen)
{
	unsigned int bits = plen > 48 ? plen - 48 : 0;

	return bits >= 16 ? port : (uint16_t)(bits ? port & (0xffffu << (16 - bits)) : 0);
}

/* last port of the block of key k */
uint16_t compile_block_end(uint64_t k)
{
	unsigned int plen = KEY_PLEN(k);

	if (plen <= 48)
		return 65535;
	return (uint16_t)(KEY_PORT(k) | (0xffffu >> (plen - 48)));
}

int compile_keys_push(struct compile_keys *k, uint8_t proto, uint8_t plen, uint16_t port)
{
	if (k->n == k->cap) {
		size_t ncap = k->cap ? k->cap * 2 : 16;
		uint64_t *v = realloc(k->v, ncap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		k->v = v;
		k->cap = ncap;
	}
	k->v[k->n++] = KEY_PACK(0, proto, plen, port);
	return 0;
}

/* [lo, hi] as aligned power-of-two blocks, from lo up, each the largest
 * aligned block that starts there and fits */
int compile_range_keys(struct compile_keys *k, uint8_t proto, uint32_t lo, uint32_t hi)
{
	int rc = 0;

	while (lo <= hi && !rc) {
		unsigned int bits = 0;

		while (bits < 16 && !(lo & ((1u << (bits + 1)) - 1)) &&
		       lo + (1u << (bits + 1)) - 1 <= hi)
			bits++;
		rc = compile_keys_push(k, proto, (uint8_t)(64 - bits), (uint16_t)lo);
		lo += 1u << bits;
	}
	return rc;
}

/*
 * Keys for one port (number, range or resolved name) and protocol. ANY is
 * TCP, UDP and SCTP, except with L7 rules: HTTP only runs over TCP.
 */
int compile_port_keys(struct compile_keys *k, uint8_t protocol, uint16_t port,
		      uint16_t end, bool l7)
{
	static const uint8_t any[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP };
	int rc = 0;

	if (protocol == 0 && port == 0 && !l7)
		return compile_keys_push(k, 0, SLUICE_POLICY_PREFIX_L3, 0);
	for (size_t i = 0; i < 3 && !rc; i++) {
		uint8_t proto = protocol ? protocol : any[i];

		if (protocol && i > 0)
			break;
		if (l7 && proto != IPPROTO_TCP)
			continue;
		if (port == 0)
			rc = compile_keys_push(k, proto, SLUICE_POLICY_PREFIX_PROTO, 0);
		else if (end > port)
			rc = compile_range_keys(k, proto, port, end);
		else
			rc = compile_keys_push(k, proto, SLUICE_POLICY_PREFIX_FULL, port);
	}
	return rc;
}

static const struct sluice_named_port *
compile_find_named(const struct sluice_compile_endpoint *ep, const char *name)
{
	for (size_t i = 0; i < ep->nnamed_ports; i++)
		if (ep->named_ports[i].name && !strcmp(ep->named_ports[i].name, name))
			return &ep->named_ports[i];
	return NULL;
}

/* Keys of one port rule; named ports are resolved on named_from (the
 * endpoint itself for ingress, the destination pod for egress) and skipped
 * without it; with named_only, numeric ports are skipped. */
int compile_rule_keys(const struct sluice_port_rule *pr,
		      const struct sluice_compile_endpoint *named_from, bool named_only,
		      struct compile_keys *k)
{
	bool l7 = pr && (pr->nhttp || sluice_port_rule_has_tls(pr));
	int rc = 0;

	if (pr && pr->no_ports)
		return 0;
	if (!pr || !pr->nports)
		return compile_port_keys(k, 0, 0, 0, l7);
	for (size_t i = 0; i < pr->nports && !rc; i++) {
		const struct sluice_port *p = &pr->ports[i];

		if (p->name) {
			const struct sluice_named_port *np =
				named_from ? compile_find_named(named_from, p->name) : NULL;

			if (!np || (p->protocol && np->protocol && p->protocol != np->protocol))
				continue;
			rc = compile_port_keys(k, p->protocol ? p->protocol : np->protocol,
					       np->port, 0, l7);
		} else if (!named_only) {
			rc = compile_port_keys(k, p->protocol, p->port, p->end_port, l7);
		}
	}
	return rc;
}

bool compile_rule_has_named(const struct sluice_port_rule *pr)
{
	for (size_t i = 0; pr && i < pr->nports; i++)
		if (pr->ports[i].name)
			return true;
	return false;
}
