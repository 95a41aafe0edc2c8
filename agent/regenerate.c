/* SPDX-License-Identifier: Apache-2.0 */
/*
 * regenerate.c - the one path from declared state to the datapath.
 *
 * Compile the policy set for every local endpoint, then, endpoint by
 * endpoint, write only what changed: a changed rule set replaces the
 * endpoint's inner policy map in one atomic swap (sluice_dp_policy_replace),
 * or, when only a few keys changed and no packet depends on two of them,
 * is patched in place key by key (regen_patch()); a changed identity or
 * default-deny flag rewrites its endpoint record. An
 * endpoint whose compiled result did not change is not touched, so adding
 * a pod with an existing identity costs no map writes for the others.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "agent.h"
#include "proxy_ctl.h"
#include "revalidate.h"

static bool entries_equal(const struct sluice_policy_map_entry *a, size_t na,
			  const struct sluice_policy_map_entry *b, size_t nb)
{
	return na == nb && (na == 0 || !memcmp(a, b, na * sizeof(*a)));
}

/* at most this many changed keys are patched in place */
#define REGEN_PATCH_MAX 64

static uint32_t key_proto_port(const struct sluice_policy_key *k)
{
	return (uint32_t)k->protocol << 16 | ntohs(k->dport_be);
}

/*
 * Can one packet's verdict depend on both keys? The datapath looks up the
 * peer's identity and SLUICE_ID_ANY, each time for the longest prefix over
 * protocol and port: two keys meet when their directions are equal, their
 * identities equal (or one is ANY) and one's protocol/port block contains
 * the other's.
 */
static bool keys_meet(const struct sluice_policy_key *x, const struct sluice_policy_key *y)
{
	uint32_t ix = ntohl(x->identity_be), iy = ntohl(y->identity_be);
	uint32_t plen = x->prefixlen < y->prefixlen ? x->prefixlen : y->prefixlen;
	uint32_t mask;

	if (plen < SLUICE_POLICY_PREFIX_L3 || plen > SLUICE_POLICY_PREFIX_FULL)
		return true;
	if (x->direction != y->direction)
		return false;
	if (ix != iy && ix != SLUICE_ID_ANY && iy != SLUICE_ID_ANY)
		return false;
	plen -= SLUICE_POLICY_PREFIX_L3; /* bits of protocol (8) and port (16) */
	mask = plen ? (0xffffffu << (24 - plen)) & 0xffffffu : 0;
	return (key_proto_port(x) & mask) == (key_proto_port(y) & mask);
}

static int entry_key_cmp(const struct sluice_policy_map_entry *x, const struct sluice_policy_map_entry *y)
{
	return memcmp(&x->key, &y->key, sizeof(x->key));
}

/*
 * Writes a small change into the live trie instead of swapping in a new
 * one (which costs a new map, every entry written again and an RCU grace
 * period in the kernel). Safe only when every packet sees at most one of
 * the changed keys: each single write is atomic, so such a packet is
 * judged wholly by the old or wholly by the new policy. Returns 1 when
 * patched, 0 when the change is not one for a patch.
 */
static int regen_patch(struct agent *a, struct agent_pod *p, const struct sluice_ep_compiled *c)
{
	struct sluice_policy_key dels[REGEN_PATCH_MAX];
	struct sluice_policy_map_entry sets[REGEN_PATCH_MAX];
	const struct sluice_policy_key *changed[REGEN_PATCH_MAX];
	size_t i = 0, j = 0, nd = 0, ns = 0, nc = 0, x, y;

	if (!p->written_valid)
		return 0;
	while (i < p->nwritten || j < c->nentries) {
		int cmp = i == p->nwritten ? 1 : j == c->nentries ? -1
			  : entry_key_cmp(&p->written[i], &c->entries[j]);

		if (nc == REGEN_PATCH_MAX)
			return 0;
		if (cmp < 0) {
			dels[nd] = p->written[i++].key;
			changed[nc++] = &dels[nd++];
		} else if (cmp > 0) {
			sets[ns] = c->entries[j++];
			changed[nc++] = &sets[ns++].key;
		} else {
			if (memcmp(&p->written[i].value, &c->entries[j].value, sizeof(c->entries[j].value))) {
				sets[ns] = c->entries[j];
				changed[nc++] = &sets[ns++].key;
			}
			i++;
			j++;
		}
	}
	for (x = 0; x < nc; x++)
		for (y = x + 1; y < nc; y++)
			if (keys_meet(changed[x], changed[y]))
				return 0;
	if (sluice_dp_policy_patch(a->dp, p->ep_id, dels, nd, sets, ns, NULL))
		return 0; /* half written: the caller swaps in the whole new trie */
	return 1;
}

int agent_regenerate(struct agent *a, char **err)
{
	return agent_regenerate_edit(a, NULL, err);
}

int agent_regenerate_edit(struct agent *a, const struct agent_edit_hint *h, char **err)
{
	struct sluice_compile_endpoint *eps = sl_xcalloc(a->npods + a->nremotes, sizeof(*eps));
	struct sluice_compiled out = { 0 };
	struct sluice_diags diags = { 0 };
	size_t i, j;
	int rc;

	for (i = 0; i < a->npods; i++) {
		eps[i].ep_id = a->pods[i]->ep_id;
		eps[i].identity = a->pods[i]->identity;
		eps[i].namespace = a->pods[i]->ns;
		eps[i].named_ports = a->pods[i]->ports;
		eps[i].nnamed_ports = a->pods[i]->nports;
		sl_addr_from_ipv4(eps[i].addr, a->pods[i]->net.ip);
	}
	/* pods of other nodes: peers only (an ipBlock selects them by address) */
	for (j = 0; j < a->nremotes; j++, i++) {
		eps[i].identity = a->remotes[j]->identity;
		eps[i].namespace = a->remotes[j]->ns;
		eps[i].peer_only = true;
		sl_addr_from_ipv4(eps[i].addr, a->remotes[j]->net.ip);
	}
	rc = 0;
	if (h && a->compiled_valid) {
		rc = sluice_policy_compile_edit(&a->policies, a->idt, eps, i, &a->compiled, h->pi, h->ri,
						h->section, h->index, h->old_item, &out, &diags);
		if (rc == 1)
			a->compile_edits++;
	}
	if (rc == 0)
		rc = sluice_policy_compile(&a->policies, a->idt, eps, i, &out, &diags);
	else if (rc == 1)
		rc = 0;
	free(eps);
	agent_phase(a, "compile");
	if (rc) {
		sl_fail(err, rc, "policy compilation failed: %s",
			diags.n ? diags.v[0].msg : strerror(-rc));
		sluice_diags_free(&diags);
		return rc;
	}
	sluice_diags_free(&diags);

	/* Check capacity before writing anything: a policy that does not fit is
	 * rejected whole and the one in force stays. */
	for (j = 0; j < out.neps; j++) {
		if (out.eps[j].nentries > SLUICE_POLICY_INNER_MAX) {
			for (i = 0; i < a->npods && a->pods[i]->ep_id != out.eps[j].ep_id; i++)
				;
			rc = sl_fail(err, ENOSPC,
				     "policy map full: endpoint %s/%s would need %zu entries, the map holds %u",
				     i < a->npods ? a->pods[i]->ns : "?", i < a->npods ? a->pods[i]->name : "?",
				     out.eps[j].nentries, SLUICE_POLICY_INNER_MAX);
			goto out;
		}
	}

	/* addresses learn their CIDR identities before policies name them */
	rc = agent_cidrs_sync(a, &out, err);
	agent_phase(a, "ipcache");
	if (rc)
		goto out;

	for (i = 0; i < a->npods; i++) {
		struct agent_pod *p = a->pods[i];
		struct sluice_ep_compiled *c = NULL;
		static const struct sluice_ep_compiled empty;

		for (j = 0; j < out.neps; j++)
			if (out.eps[j].ep_id == p->ep_id)
				c = &out.eps[j];
		if (!c)
			c = (struct sluice_ep_compiled *)&empty;
		if (!p->written_valid || !entries_equal(p->written, p->nwritten, c->entries, c->nentries)) {
			if (regen_patch(a, p, c) == 1) {
				a->policy_patches++;
			} else {
				rc = sluice_dp_policy_replace(a->dp, p->ep_id, c->entries, c->nentries, err);
				if (rc)
					goto out;
				a->policy_swaps++;
			}
			p->reval_dirty = true;
			free(p->written);
			p->written = sl_xcalloc(c->nentries, sizeof(*p->written));
			if (c->nentries)
				memcpy(p->written, c->entries, c->nentries * sizeof(*p->written));
			p->nwritten = c->nentries;
		}
		if (!p->written_valid || p->written_flags != c->flags ||
		    p->written_identity != p->identity) {
			struct sluice_endpoint ep = {
				.ep_id = p->ep_id,
				.identity = p->identity,
				.flags = c->flags,
			};

			sl_addr_from_ipv4(ep.addr, p->net.ip);
			rc = sluice_dp_endpoint_update(a->dp, p->net.host_ifindex, &ep);
			if (rc) {
				sl_fail(err, rc, "endpoint map update failed: %s", strerror(-rc));
				goto out;
			}
			p->written_flags = c->flags;
			p->written_identity = p->identity;
			p->reval_dirty = true;
		}
		p->written_valid = true;
	}
	agent_phase(a, "policy_maps");
	proxy_ctl_rules(a, &out);
	agent_phase(a, "proxy_rules");
	if (a->loop)
		revalidate_soon(a);
	a->regenerations++;
	rc = 0;
	/* kept for the next one-item edit */
	sluice_compiled_free(&a->compiled);
	a->compiled = out;
	a->compiled_valid = true;
	memset(&out, 0, sizeof(out));
out:
	if (rc)
		a->compiled_valid = false;
	sluice_compiled_free(&out);
	agent_phase(a, "compile");
	return rc;
}
