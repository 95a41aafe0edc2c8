/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cidr.c - CIDR identities in the ipcache.
 *
 * The compiler gives every prefix that a policy names (toCIDR, fromCIDRSet,
 * ipBlock and their excepts) an identity; here each one becomes an LPM
 * entry of the ipcache, so that a packet to or from an address in the
 * prefix carries that identity, and entries for prefixes no policy names
 * any more are removed. Called by agent_regenerate() before the policy
 * maps are written.
 *
 * Pods (of this node and others), the host and the other nodes
 * (remote_nodes.c) have /32 entries of their own: LPM prefers them over
 * any shorter prefix, and a prefix that is exactly a pod's or the host's
 * address is not written at all (it would replace that entry). A sync
 * writes the entries that are new or changed, and every /32 again: a pod
 * deleted from under a /32 prefix took the entry with it, and the next
 * sync (the pod's deletion runs one) puts the prefix back.
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/util.h"
#include "agent.h"

/* The IPv4 addresses of pods (of this node and others), sorted: a sync
 * asks about every /32 a policy names, and there may be thousands of each. */
struct node_addrs {
	uint32_t *v;
	size_t n;
};

static void node_addrs_build(const struct agent *a, struct node_addrs *na)
{
	size_t i;

	na->v = sl_xcalloc(a->reg.npods + a->reg.nremotes + 1, sizeof(*na->v));
	na->n = 0;
	for (i = 0; i < a->reg.npods; i++)
		na->v[na->n++] = a->reg.pods[i]->net.ip;
	for (i = 0; i < a->reg.nremotes; i++)
		na->v[na->n++] = a->reg.remotes[i]->net.ip;
	qsort(na->v, na->n, sizeof(*na->v), sl_u32_cmp);
}

static bool cidr_is_node_address(const struct agent *a, const struct node_addrs *na,
				 const struct sluice_cidr_ident *c)
{
	size_t i;

	if (c->prefixlen != 128)
		return false;
	if (sl_addr_is_ipv4(c->addr)) {
		uint32_t ip = sl_addr_ipv4(c->addr);

		if (bsearch(&ip, na->v, na->n, sizeof(*na->v), sl_u32_cmp) ||
		    agent_is_remote_node(a, ip))
			return true;
	}
	for (i = 0; i < a->nhost_addrs; i++)
		if (!memcmp(a->host_addrs[i], c->addr, 16))
			return true;
	return false;
}

/* v is sorted as the compiler sorts it (address, then prefix length) */
static const struct sluice_cidr_ident *cidr_find(const struct sluice_cidr_ident *v, size_t n,
						 const uint8_t *addr, unsigned prefixlen)
{
	struct sluice_cidr_ident key = { .prefixlen = (uint8_t)prefixlen };

	if (!n || prefixlen > 128)
		return NULL;
	memcpy(key.addr, addr, 16);
	return bsearch(&key, v, n, sizeof(*v), sluice_cidr_ident_cmp);
}

void agent_ipcache_prune(struct agent *a,
			 bool (*gone)(const void *ctx, const struct sluice_ipcache_key *k,
				      const struct sluice_ipcache_value *v),
			 const void *ctx)
{
	struct sluice_ipcache_key key, next, *prev = NULL;
	struct sluice_ipcache_value val;
	uint8_t (*addrs)[16] = NULL;
	uint8_t *plens = NULL;
	size_t n = 0, cap = 0, steps = 0;
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", a->cfg.bpf_root, SLUICE_MAP_IPCACHE);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	/* The leftovers are gathered first and deleted after, in one batch:
	 * a walk that deletes as it goes must start again from the first key
	 * after each delete (the deleted key has no successor), and with tens
	 * of thousands of entries kept before them that was tens of thousands
	 * of walks. The walk is bounded by the map's size. */
	while (steps++ <= SLUICE_IPCACHE_MAX && !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &val) || !gone(ctx, &key, &val))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			addrs = realloc(addrs, cap * sizeof(*addrs));
			plens = realloc(plens, cap);
			if (!addrs || !plens)
				abort(); /* as sl_xmalloc() */
		}
		memcpy(addrs[n], key.addr, 16);
		plens[n++] = (uint8_t)key.prefixlen;
	}
	close(fd);
	if (n)
		sluice_dp_ipcache_delete_many(a->dp, (const uint8_t (*)[16])addrs, plens, n);
	free(addrs);
	free(plens);
}

/* CIDR entries are the only ones with identities from SLUICE_ID_LOCAL_MIN up */
static bool cidr_leftover(const void *ctx, const struct sluice_ipcache_key *k,
			  const struct sluice_ipcache_value *v)
{
	const struct sluice_compiled *c = ctx;

	return v->identity >= SLUICE_ID_LOCAL_MIN && !cidr_find(c->cidrs, c->ncidrs, k->addr, k->prefixlen);
}

/*
 * A write of n prefixes failed part way (the ipcache is full): the ones it
 * added go, the ones it changed get their identity back (old_ids[i], 0 for
 * a prefix that was not there), so the ipcache is again what the policy in
 * force names. Best effort: it runs after a failure already reported.
 */
static void cidrs_undo(struct agent *a, uint8_t (*addrs)[16], uint8_t *plens, const uint32_t *old_ids,
		       size_t n)
{
	size_t nnew = 0, nold = 0;
	/* the new ones copied out; the changed ones moved to the front of
	 * addrs and plens (index nold <= i: read before it is overwritten) */
	uint8_t (*naddrs)[16] = sl_xmalloc((n + 1) * sizeof(*naddrs));
	uint8_t *nplens = sl_xmalloc(n + 1);
	uint32_t *oids = sl_xmalloc((n + 1) * sizeof(*oids));

	for (size_t i = 0; i < n; i++) {
		if (!old_ids[i]) {
			memcpy(naddrs[nnew], addrs[i], 16);
			nplens[nnew++] = plens[i];
		} else {
			memmove(addrs[nold], addrs[i], 16);
			plens[nold] = plens[i];
			oids[nold++] = old_ids[i];
		}
	}
	sluice_dp_ipcache_delete_many(a->dp, (const uint8_t (*)[16])naddrs, nplens, nnew);
	sluice_dp_ipcache_update_many(a->dp, (const uint8_t (*)[16])addrs, plens, oids, nold);
	free(naddrs);
	free(nplens);
	free(oids);
}

int agent_cidrs_sync(struct agent *a, const struct sluice_compiled *c, char **err)
{
	uint8_t (*addrs)[16];
	uint8_t *plens;
	uint32_t *ids, *old_ids;
	size_t *gone;
	size_t i = 0, j = 0, n = 0, ngone = 0;
	bool same = c->ncidrs == a->ncidrs; /* the list kept is the new one */
	struct node_addrs na;
	int rc;

	/* most one-rule changes name no new prefix (a port, a selector): the
	 * lists are the same bytes, and the merge below would write nothing.
	 * An edit that moved the previous result's list on says so
	 * (cidrs_kept), and that list is the one synced last (a result is kept
	 * only after its regeneration succeeded): not even compared then. */
	if (same && a->cidrs_checked && !a->cidr_pods_changed &&
	    (c->cidrs_kept || !c->ncidrs || !memcmp(c->cidrs, a->cidrs, c->ncidrs * sizeof(*c->cidrs))))
		return 0;
	/* not zeroed: only the first n (ngone) are written and read, and a
	 * one-rule change of a large set writes none */
	addrs = sl_xmalloc((c->ncidrs + 1) * sizeof(*addrs));
	plens = sl_xmalloc(c->ncidrs + 1);
	ids = sl_xmalloc((c->ncidrs + 1) * sizeof(*ids));
	old_ids = sl_xmalloc((c->ncidrs + 1) * sizeof(*old_ids));
	gone = sl_xmalloc((a->ncidrs + 1) * sizeof(*gone));
	node_addrs_build(a, &na);
	if (!a->cidrs_checked) {
		/* what a previous agent left in a pinned ipcache and the
		 * current policy set does not name */
		agent_ipcache_prune(a, cidr_leftover, c);
		a->cidrs_checked = true;
	}
	/* both lists are sorted the same way: one merge finds what is new,
	 * changed or gone */
	while (i < c->ncidrs || j < a->ncidrs) {
		int cmp = i == c->ncidrs ? 1 : j == a->ncidrs ? -1 : sluice_cidr_ident_cmp(&c->cidrs[i], &a->cidrs[j]);

		if (cmp > 0) {
			gone[ngone++] = j++; /* no policy names it any more */
			same = false;
			continue;
		}
		if (cmp < 0 || a->cidrs[j].identity != c->cidrs[i].identity)
			same = false;
		/* unchanged entries stay; a /32 may have been a pod's meanwhile,
		 * so after a pod left, host-length entries are written again */
		if (cmp < 0 || a->cidrs[j].identity != c->cidrs[i].identity ||
		    (c->cidrs[i].prefixlen == 128 && a->cidr_pods_changed)) {
			if (!cidr_is_node_address(a, &na, &c->cidrs[i])) {
				memcpy(addrs[n], c->cidrs[i].addr, 16);
				plens[n] = c->cidrs[i].prefixlen;
				old_ids[n] = cmp == 0 ? a->cidrs[j].identity : 0; /* 0: new */
				ids[n++] = c->cidrs[i].identity;
			}
		}
		if (cmp == 0)
			j++;
		i++;
	}
	rc = sluice_dp_ipcache_update_many(a->dp, (const uint8_t (*)[16])addrs, plens, ids, n);
	if (rc)
		cidrs_undo(a, addrs, plens, old_ids, n);
	/* removed after the new ones are in: an address never lacks a prefix
	 * that both the old and the new policy name (in one batch: a deleted
	 * policy of 25,000 prefixes was 25,000 calls) */
	if (!rc && ngone) {
		uint8_t (*gaddrs)[16] = sl_xmalloc(ngone * sizeof(*gaddrs));
		uint8_t *gplens = sl_xmalloc(ngone);

		for (i = 0, n = 0; i < ngone; i++) {
			if (cidr_is_node_address(a, &na, &a->cidrs[gone[i]]))
				continue;
			memcpy(gaddrs[n], a->cidrs[gone[i]].addr, 16);
			gplens[n++] = a->cidrs[gone[i]].prefixlen;
		}
		sluice_dp_ipcache_delete_many(a->dp, (const uint8_t (*)[16])gaddrs, gplens, n);
		free(gaddrs);
		free(gplens);
	}
	free(addrs);
	free(plens);
	free(ids);
	free(old_ids);
	free(gone);
	free(na.v);
	if (rc == -ENOSPC || rc == -E2BIG)
		return sl_fail(err, ENOSPC,
			       "ipcache full: the policy set names %zu CIDR prefixes, and the ipcache holds at most %u entries, pods' and nodes' addresses included",
			       c->ncidrs, (unsigned)SLUICE_IPCACHE_MAX);
	if (rc)
		return sl_fail(err, rc, "ipcache update for a CIDR failed: %s", strerror(-rc));
	a->cidr_pods_changed = false;
	if (same) /* every prefix and identity as kept: no copy */
		return 0;
	free(a->cidrs);
	a->cidrs = sl_xcalloc(c->ncidrs, sizeof(*a->cidrs));
	if (c->ncidrs)
		memcpy(a->cidrs, c->cidrs, c->ncidrs * sizeof(*a->cidrs));
	a->ncidrs = c->ncidrs;
	return 0;
}
