/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compile_ports.h - port keys (compile_ports.c): how the ports of a rule
 * become keys of the per-endpoint policy trie. Pure functions of their
 * arguments, with no compiler state, so that they can be tested alone
 * (tests/unit/policy/test_port_keys.c).
 *
 * The trie's key (abi.h) after the identity is direction, protocol, port:
 * prefix length 40 matches every protocol and port (L3 only), 48 one
 * protocol with every port, 64 one port; between 48 and 64 an aligned
 * power-of-two block of ports.
 */
#ifndef SLUICE_POLICY_COMPILE_PORTS_H
#define SLUICE_POLICY_COMPILE_PORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/abi.h"
#include "sluice/policy_api.h"

/* A key of a direction's map: (peer identity, protocol, prefix length, port)
 * packed in 64 bits, in the trie's order. */
#define KEY_PACK(id, proto, plen, port) \
	(((uint64_t)(id) << 32) | ((uint64_t)(proto) << 24) | ((uint64_t)(plen) << 16) | (uint64_t)(port))
#define KEY_ID(k)    ((uint32_t)((k) >> 32))
#define KEY_PROTO(k) ((uint8_t)((k) >> 24))
#define KEY_PLEN(k)  ((uint8_t)((k) >> 16))
#define KEY_PORT(k)  ((uint16_t)(k))

struct compile_keys {
	uint64_t *v; /* packed with id 0 */
	size_t n, cap;
};

/* port with only the first (plen - 48) bits kept */
uint16_t compile_port_mask(uint16_t port, unsigned int plen);
/* last port of the block of key k */
uint16_t compile_block_end(uint64_t k);
int compile_keys_push(struct compile_keys *k, uint8_t proto, uint8_t plen, uint16_t port);
/* [lo, hi] as aligned power-of-two blocks, from lo up, each the largest
 * aligned block that starts there and fits */
int compile_range_keys(struct compile_keys *k, uint8_t proto, uint32_t lo, uint32_t hi);
/* Keys for one port (number, range or resolved name) and protocol. */
int compile_port_keys(struct compile_keys *k, uint8_t protocol, uint16_t port, uint16_t end,
		      bool l7);
/* Keys of one port rule; named ports are resolved on named_from and skipped
 * without it; with named_only, numeric ports are skipped. */
int compile_rule_keys(const struct sluice_port_rule *pr,
		      const struct sluice_compile_endpoint *named_from, bool named_only,
		      struct compile_keys *k);
bool compile_rule_has_named(const struct sluice_port_rule *pr);

#endif /* SLUICE_POLICY_COMPILE_PORTS_H */
