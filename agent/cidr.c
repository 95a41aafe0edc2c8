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
 * Pods (of this node and others) and the host have /32 entries of their own: LPM prefers them over
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

static bool cidr_is_node_address(const struct agent *a, const struct sluice_cidr_ident *c)
{
	size_t i;

	if (c->prefixlen != 128)
		return false;
	if (agent_pod_by_addr(a, c->addr, true))
		return true;
	for (i = 0; i < a->nhost_addrs; i++)
		if (!memcmp(a->host_addrs[i], c->addr, 16))
			return true;
	return false;
}

static int cidr_cmp(const void *a, const void *b)
{
	const struct sluice_cidr_ident *x = a, *y = b;
	int c = memcmp(x->addr, y->addr, 16);

	return c ? c : x->prefixlen < y->prefixlen ? -1 : x->prefixlen > y->prefixlen;
}

/* v is sorted as the compiler sorts it (address, then prefix length) */
static const struct sluice_cidr_ident *cidr_find(const struct sluice_cidr_ident *v, size_t n,
						 const uint8_t *addr, unsigned prefixlen)
{
	struct sluice_cidr_ident key = { .prefixlen = (uint8_t)prefixlen };

	if (!n || prefixlen > 128)
		return NULL;
	memcpy(key.addr, addr, 16);
	return bsearch(&key, v, n, sizeof(*v), cidr_cmp);
}

/*
 * Once per agent run: CIDR entries that a previous agent left in a pinned
 * ipcache and that the current policy set does not name. They are the only
 * entries with identities from SLUICE_ID_LOCAL_MIN up.
 */
static void cidr_remove_leftovers(struct agent *a, const struct sluice_compiled *c)
{
	struct sluice_ipcache_key key, next, *prev = NULL;
	struct sluice_ipcache_value val;
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", a->cfg.bpf_root, SLUICE_MAP_IPCACHE);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &val) || val.identity < SLUICE_ID_LOCAL_MIN ||
		    cidr_find(c->cidrs, c->ncidrs, key.addr, key.prefixlen))
			continue;
		sluice_dp_ipcache_delete(a->dp, key.addr, key.prefixlen);
		prev = NULL; /* the walk restarts: the deleted key is gone */
	}
	close(fd);
}

int agent_cidrs_sync(struct agent *a, const struct sluice_compiled *c, char **err)
{
	size_t i;
	int rc;

	if (!a->cidrs_checked) {
		cidr_remove_leftovers(a, c);
		a->cidrs_checked = true;
	}
	for (i = 0; i < c->ncidrs; i++) {
		const struct sluice_cidr_ident *old = cidr_find(a->cidrs, a->ncidrs, c->cidrs[i].addr,
								c->cidrs[i].prefixlen);

		/* unchanged entries stay; a /32 may have been a pod's meanwhile,
		 * so after a pod left, host-length entries are written again */
		if (old && old->identity == c->cidrs[i].identity &&
		    (c->cidrs[i].prefixlen != 128 || !a->cidr_pods_changed))
			continue;
		if (cidr_is_node_address(a, &c->cidrs[i]))
			continue;
		rc = sluice_dp_ipcache_update(a->dp, c->cidrs[i].addr, c->cidrs[i].prefixlen,
					      c->cidrs[i].identity, 0);
		if (rc)
			return sl_fail(err, rc, "ipcache update for a CIDR failed: %s", strerror(-rc));
	}
	for (i = 0; i < a->ncidrs; i++) {
		const struct sluice_cidr_ident *old = &a->cidrs[i];

		if (!cidr_find(c->cidrs, c->ncidrs, old->addr, old->prefixlen) &&
		    !cidr_is_node_address(a, old))
			sluice_dp_ipcache_delete(a->dp, old->addr, old->prefixlen);
	}
	a->cidr_pods_changed = false;
	free(a->cidrs);
	a->cidrs = sl_xcalloc(c->ncidrs, sizeof(*a->cidrs));
	if (c->ncidrs)
		memcpy(a->cidrs, c->cidrs, c->ncidrs * sizeof(*a->cidrs));
	a->ncidrs = c->ncidrs;
	return 0;
}
