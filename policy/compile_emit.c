// SPDX-License-Identifier: Apache-2.0
/*
 * compile_emit.c - one direction of one endpoint: every (peer, key)
 * contribution of its rules merged into a map keyed like the trie, then
 * precedence resolved (deny over allow, L7 redirects over plain allows,
 * across the peer's trie and ANY's: the long comment above
 * compile_materialize()) and the trie and L7 entries emitted.
 */
#include "compile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct centry *cmap_get(const struct cmap *m, uint64_t key)
{
	size_t *pos = u64map_get(&m->index, key);

	return pos ? &m->v[*pos] : NULL;
}

struct centry *cmap_upsert(struct cmap *m, uint64_t key)
{
	bool inserted;
	size_t *pos = u64map_upsert(&m->index, key, m->n, &inserted);

	if (!pos)
		return NULL;
	if (!inserted)
		return &m->v[*pos];
	if (m->n == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 64;
		struct centry *v = realloc(m->v, ncap * sizeof(*v));

		if (!v)
			return NULL; /* the index now names a missing entry: fatal anyway */
		m->v = v;
		m->cap = ncap;
	}
	memset(&m->v[m->n], 0, sizeof(m->v[0]));
	m->v[m->n].key = key;
	return &m->v[m->n++];
}

void cmap_free(struct cmap *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].hord.v);
		free(m->v[i].tlsv.v);
	}
	free(m->v);
	u64map_free(&m->index);
	memset(m, 0, sizeof(*m));
}

static void compile_ref(uint32_t *ref, uint32_t r)
{
	if (!*ref || r < *ref)
		*ref = r;
}

/*
 * One contribution: peer id at key k (packed with id 0). open: the rule
 * says enableDefaultDeny: false for this direction. Cilium (since 1.18,
 * cilium/cilium#38676) then adds an allow-all to that rule's L7 rules for
 * its peers: a policy that may never deny must not make the proxy answer
 * 403 either. The port still goes through the proxy (visibility); the
 * peers' requests all pass, as with an L4-only allow of the port.
 */
static int compile_contribute(struct cmap *m, uint32_t id, uint64_t k, bool deny,
			      const struct sluice_port_rule *pr, uint32_t http_base,
			      uint32_t ref, bool open)
{
	struct centry *e = cmap_upsert(m, k | ((uint64_t)id << 32));
	bool tls = sluice_port_rule_has_tls(pr);
	bool l7 = pr && (pr->nhttp || tls);

	if (!e)
		return -ENOMEM;
	if (deny) {
		e->deny = true;
		m->deny_plens |= 1u << (KEY_PLEN(k) - 40);
		compile_ref(&e->deny_ref, ref);
		return 0;
	}
	e->allow = true;
	m->allow_plens |= 1u << (KEY_PLEN(k) - 40);
	compile_ref(&e->allow_ref, ref);
	if (!l7) {
		if (KEY_PLEN(k) >= SLUICE_POLICY_PREFIX_PROTO)
			e->allow_l4 = true;
		return 0;
	}
	e->http = true;
	m->any_http = true;
	if (open)
		e->allow_l4 = true;
	if (tls) {
		/* TLS sends the port to the proxy; without http rules every
		 * request passes (a TLS-aware TCP proxy, as in Cilium) */
		if (!e->tls)
			e->tls = pr;
		if (!pr->nhttp)
			e->allow_l4 = true;
		if (ptrvec_push_unique(&e->tlsv, pr))
			return -ENOMEM;
	}
	for (size_t i = 0; i < pr->nhttp; i++)
		if (u32vec_push(&e->hord, http_base + (uint32_t)i))
			return -ENOMEM;
	return 0;
}

/* Adds one peer rule's contributions, for the peers given, to the map of
 * one direction. */
int compile_peer_rule_for(struct compile_state *st, struct cmap *m, size_t ep_index,
			  const struct sluice_peer_rule *prl, bool ingress, bool deny,
			  uint32_t ref, const struct u32vec *peers, struct compile_keys *keys)
{
	const struct sluice_compile_endpoint *ep = &st->eps[ep_index];
	size_t nrules = prl->nto_ports ? prl->nto_ports : 1;
	int rc = 0;

	for (size_t r = 0; r < nrules && !rc; r++) {
		const struct sluice_port_rule *pr = prl->nto_ports ? &prl->to_ports[r] : NULL;
		size_t *base;
		uint32_t hb;

		if (pr && pr->nhttp && !st->http_done) {
			rc = compile_http_ordinals(st);
			st->http_done = true;
			if (rc)
				break;
		}
		base = pr ? u64map_get(&st->http_base, (uint64_t)(uintptr_t)pr) : NULL;
		hb = base ? (uint32_t)*base : 0;

		if (!ingress && compile_rule_has_named(pr)) {
			/*
			 * egress: numeric ports apply to the peers as given; a
			 * named port is each destination pod's own port of that
			 * name. Without a peer restriction (ANY) that is every
			 * pod that declares the name, at its port (upstream e2e
			 * "should allow egress access on one named port").
			 */
			keys->n = 0;
			rc = compile_rule_keys(pr, NULL, false, keys);
			for (size_t i = 0; i < peers->n && !rc; i++)
				for (size_t k = 0; k < keys->n && !rc; k++)
					rc = compile_contribute(m, peers->v[i], keys->v[k], deny, pr,
								hb, ref, st->l7_open);
			for (size_t i = 0; i < peers->n && !rc; i++) {
				bool any = peers->v[i] == SLUICE_ID_ANY;
				size_t *first = any ? NULL : u64map_get(&st->ep_by_identity, peers->v[i]);
				size_t e = any ? 0 : first ? *first : SIZE_MAX;

				for (; !rc && (any ? e < st->neps : e != SIZE_MAX);
				     e = any ? e + 1 : st->ep_next[e]) {
					keys->n = 0;
					rc = compile_rule_keys(pr, &st->eps[e], true, keys);
					for (size_t k = 0; k < keys->n && !rc; k++)
						rc = compile_contribute(m, st->eps[e].identity,
									keys->v[k], deny, pr, hb, ref,
									st->l7_open);
				}
			}
			continue;
		}
		keys->n = 0;
		rc = compile_rule_keys(pr, ingress ? ep : NULL, false, keys);
		for (size_t i = 0; i < peers->n && !rc; i++)
			for (size_t k = 0; k < keys->n && !rc; k++)
				rc = compile_contribute(m, peers->v[i], keys->v[k], deny, pr, hb, ref,
						       st->l7_open);
	}
	return rc;
}

/* Adds one peer rule's contributions to the map of one direction. */
int compile_peer_rule(struct compile_state *st, struct cmap *m, size_t ep_index,
		      const struct sluice_peer_rule *prl, bool ingress, bool deny,
		      uint32_t ref, struct u32vec *peers, struct compile_keys *keys)
{
	int rc = compile_peer_ids(st, prl, &st->eps[ep_index], peers);

	return rc ? rc : compile_peer_rule_for(st, m, ep_index, prl, ingress, deny, ref, peers, keys);
}

/* ---- precedence --------------------------------------------------------- */

/*
 * Iterates the keys of identity id that cover k (k itself included), from
 * the least specific, starting at *plen and only at the prefix lengths in
 * mask; NULL at the end.
 */
static struct centry *compile_cover_next(const struct cmap *m, uint64_t k, uint32_t id,
					 unsigned int *plen, uint32_t mask)
{
	uint8_t proto = KEY_PROTO(k);
	uint16_t port = KEY_PORT(k);
	unsigned int max = KEY_PLEN(k);

	for (; *plen <= max; (*plen)++) {
		unsigned int p = *plen;
		struct centry *e;

		if (!(mask & (1u << (p - 40))) || (p > 40 && p < 48))
			continue;
		e = cmap_get(m, p == 40 ? KEY_PACK(id, 0, 40, 0)
				       : KEY_PACK(id, proto, p, compile_port_mask(port, p)));
		if (e) {
			(*plen)++;
			return e;
		}
	}
	return NULL;
}

/*
 * Why the entries look the way they do.
 *
 * The datapath makes two LPM lookups for a packet: one in the trie of the
 * peer's identity and one in the trie of SLUICE_ID_ANY, and combines them:
 * deny wins, then redirect, then allow; nothing found means default deny
 * (when the direction is enforced). The verdict we want for (peer X,
 * protocol, port) is Cilium's:
 *
 *   - denied if any deny rule covers it, for X or for any peer, however
 *     wide the deny and however narrow the allow;
 *   - otherwise allowed if an allow covers it, and redirected to the proxy
 *     if one of the allows covering it at port level carries http rules.
 *     The proxy then applies the union of the http rules of every allow
 *     covering the port for X or for any peer; an allow without http rules
 *     that names the port (a port, a range containing it or "all ports of
 *     TCP") makes it allow_all. An L3-only allow (no port) does not widen
 *     L7 rules: that was CVE-2023-30851, where an allow-all rule for one
 *     peer appended a wildcard http rule for every peer of the L7 rule.
 *
 * LPM only returns the most specific key, so the compiler writes each key
 * with the verdict it must have after considering the keys that cover it:
 *
 *   1. Inside one trie, a key covered by a less specific DENY is written as
 *      DENY (otherwise the more specific allow would hide the deny). Across
 *      the two tries the datapath's "deny wins" does this for us.
 *   2. A key covered (in its own trie or in ANY's) by a port-level key with
 *      http rules is written as REDIRECT, even if its own rules are plain
 *      L4 allows: otherwise LPM would pick the more specific plain allow
 *      and the flow would skip the proxy. Its L7 entry gets allow_all.
 *   3. A REDIRECT key gets the union of the http rules of every port-level
 *      allow covering it, in its own trie and in ANY's, and allow_all when
 *      one of those is a plain L4 allow.
 *   4. Cross-trie materialization: when X and ANY have overlapping
 *      port-level keys and one of them has http rules, X gets a key at the
 *      more specific of the two (if it is not already there), so that the
 *      most specific X key seen by the proxy carries the union of both.
 *      Example: ANY redirects port 80 with GET /, X allows ports 0-1023:
 *      the X trie gets (X, TCP, 80) REDIRECT with allow_all, and the proxy
 *      finds that entry for X instead of ANY's GET-only one.
 *
 * The proxy looks up the L7 entry of (endpoint, direction, protocol, port,
 * peer) with the most specific block containing the port, and falls back
 * to the one of SLUICE_ID_ANY. X keys that are L3-only (no port) never get
 * an L7 entry: for them ANY's entry applies, unwidened.
 */
static int compile_materialize(struct cmap *m)
{
	struct u32vec anyp = { 0 }; /* positions of ANY's port-level keys */
	size_t n = m->n;
	int rc = 0;

	if (!m->any_http)
		return 0;
	for (size_t i = 0; i < n && !rc; i++) {
		const struct centry *e = &m->v[i];

		if (KEY_ID(e->key) == SLUICE_ID_ANY && KEY_PLEN(e->key) >= 48 && e->allow)
			rc = u32vec_push(&anyp, (uint32_t)i);
	}
	for (size_t i = 0; i < n && anyp.n && !rc; i++) {
		uint64_t k = m->v[i].key;
		uint32_t id = KEY_ID(k);

		if (id == SLUICE_ID_ANY || KEY_PLEN(k) < 48 || !m->v[i].allow)
			continue;
		for (size_t j = 0; j < anyp.n && !rc; j++) {
			const struct centry *a = &m->v[anyp.v[j]];
			uint64_t ak = a->key;
			unsigned int small;

			if (KEY_PROTO(ak) != KEY_PROTO(k) || !(a->http || m->v[i].http))
				continue;
			/* aligned blocks overlap only when one contains the other */
			small = KEY_PLEN(ak) < KEY_PLEN(k) ? KEY_PLEN(ak) : KEY_PLEN(k);
			if (compile_port_mask(KEY_PORT(ak), small) != compile_port_mask(KEY_PORT(k), small))
				continue;
			if (KEY_PLEN(ak) > KEY_PLEN(k)) {
				uint64_t nk = KEY_PACK(id, KEY_PROTO(ak), KEY_PLEN(ak), KEY_PORT(ak));

				if (!cmap_upsert(m, nk))
					rc = -ENOMEM;
			}
		}
	}
	free(anyp.v);
	return rc;
}

static uint8_t compile_match_kind(uint64_t k)
{
	bool any = KEY_ID(k) == SLUICE_ID_ANY, l3 = KEY_PLEN(k) == SLUICE_POLICY_PREFIX_L3;

	if (any)
		return l3 ? SLUICE_MATCH_ALL : SLUICE_MATCH_L4_ONLY;
	return l3 ? SLUICE_MATCH_L3_ONLY : SLUICE_MATCH_L3_L4;
}

/* a server name once in names (names differ in content, not only address) */
static int compile_name_add(struct ptrvec *names, const char *name)
{
	for (size_t i = 0; i < names->n; i++)
		if (!strcmp(names->v[i], name))
			return 0;
	return ptrvec_push_unique(names, name);
}

static int compile_name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int compile_emit(struct compile_state *st, const struct sluice_compile_endpoint *ep,
		 uint8_t dir, struct cmap *m, struct compile_out *out)
{
	struct u32vec hord = { 0 };
	struct ptrvec names = { 0 };
	int rc = compile_materialize(m);

	for (size_t i = 0; i < m->n && !rc; i++) {
		const struct centry *e = &m->v[i];
		uint64_t k = e->key;
		uint32_t id = KEY_ID(k);
		bool deny = e->deny, redirect = false, allow_all = false;
		const struct sluice_port_rule *tls = NULL, *tls_ctx = NULL;
		uint32_t ref = e->deny ? e->deny_ref : e->allow_ref;
		struct sluice_policy_map_entry *me;
		const struct centry *c;
		unsigned int plen;

		/* 1: a less specific deny in the same trie */
		for (plen = 40; !deny && (c = compile_cover_next(m, k, id, &plen, m->deny_plens));) {
			if (c != e && c->deny) {
				deny = true;
				ref = c->deny_ref;
			}
		}
		hord.n = 0;
		names.n = 0;
		if (!deny) {
			/* 2 and 3: port-level allows covering k, here and in ANY */
			for (int pass = 0; m->any_http && pass < (id == SLUICE_ID_ANY ? 1 : 2); pass++) {
				uint32_t cid = pass ? SLUICE_ID_ANY : id;

				for (plen = 48; (c = compile_cover_next(m, k, cid, &plen, m->allow_plens));) {
					if (!c->allow)
						continue;
					if (!ref)
						ref = c->allow_ref;
					redirect |= c->http;
					allow_all |= c->allow_l4;
					if (!tls)
						tls = c->tls;
					/* serverNames of every rule here are merged,
					 * as Cilium merges them for one peer and port */
					for (size_t t = 0; t < c->tlsv.n && !rc; t++) {
						const struct sluice_port_rule *pr = c->tlsv.v[t];

						/* the TLS contexts: the first rule that
						 * has some (a rule of serverNames alone
						 * has none to give) */
						if (!tls_ctx && (pr->terminating_tls || pr->originating_tls))
							tls_ctx = pr;
						for (size_t s = 0; s < pr->nserver_names && !rc; s++)
							rc = compile_name_add(&names, pr->server_names[s]);
					}
					for (size_t h = 0; h < c->hord.n && !rc; h++)
						rc = u32vec_push(&hord, c->hord.v[h]);
				}
			}
			if (!e->allow && !redirect)
				continue; /* materialized, nothing to add */
		}
		if (out->nentries == out->capentries) {
			size_t ncap = out->capentries ? out->capentries * 2 : 64;
			void *v = realloc(out->entries, ncap * sizeof(*out->entries));

			if (!v) {
				rc = -ENOMEM;
				break;
			}
			out->entries = v;
			out->capentries = ncap;
		}
		me = &out->entries[out->nentries++];
		memset(me, 0, sizeof(*me));
		me->key.prefixlen = KEY_PLEN(k);
		me->key.identity_be = htonl(id);
		me->key.direction = dir;
		me->key.protocol = KEY_PROTO(k);
		me->key.dport_be = htons(KEY_PORT(k));
		me->value.flags = deny ? SLUICE_POL_F_DENY : redirect ? SLUICE_POL_F_REDIRECT : 0;
		me->value.match_kind = compile_match_kind(k);
		me->value.rule_ref = ref;
		if (deny || !redirect)
			continue;

		struct sluice_l7_policy *l7;

		if (out->nl7 == out->capl7) {
			size_t ncap = out->capl7 ? out->capl7 * 2 : 16;
			void *v = realloc(out->l7, ncap * sizeof(*out->l7));

			if (!v) {
				rc = -ENOMEM;
				break;
			}
			out->l7 = v;
			out->capl7 = ncap;
		}
		l7 = &out->l7[out->nl7++];
		memset(l7, 0, sizeof(*l7));
		l7->ep_id = ep->ep_id;
		l7->direction = dir;
		l7->protocol = KEY_PROTO(k);
		l7->port = KEY_PORT(k);
		l7->end_port = KEY_PLEN(k) == 64 ? KEY_PORT(k) : compile_block_end(k);
		l7->peer_identity = id;
		l7->allow_all = allow_all;
		l7->tls = tls_ctx ? tls_ctx : tls;
		if (names.n) {
			/* sorted: the whole compile and the edit path agree */
			qsort(names.v, names.n, sizeof(*names.v), compile_name_cmp);
			l7->server_names = calloc(names.n, sizeof(*l7->server_names));
			if (!l7->server_names) {
				rc = -ENOMEM;
				break;
			}
			memcpy(l7->server_names, names.v, names.n * sizeof(*names.v));
			l7->nserver_names = names.n;
		}
		u32vec_sort_unique(&hord);
		if (hord.n) {
			l7->rules = calloc(hord.n, sizeof(*l7->rules));
			if (!l7->rules) {
				rc = -ENOMEM;
				break;
			}
			for (size_t h = 0; h < hord.n; h++)
				l7->rules[h] = st->http[hord.v[h]];
			l7->nrules = hord.n;
		}
	}
	free(hord.v);
	free(names.v);
	return rc;
}
