/* SPDX-License-Identifier: Apache-2.0 */
/*
 * regenerate.c - the one path from declared state to the datapath.
 *
 * Compile the policy set for every local endpoint, then, endpoint by
 * endpoint, write only what changed: a changed rule set replaces the
 * endpoint's inner policy map in one atomic swap (sluice_dp_policy_replace),
 * a changed identity or default-deny flag rewrites its endpoint record. An
 * endpoint whose compiled result did not change is not touched, so adding
 * a pod with an existing identity costs no map writes for the others.
 */
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

int agent_regenerate(struct agent *a, char **err)
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
	rc = sluice_policy_compile(&a->policies, a->idt, eps, i, &out, &diags);
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
			rc = sluice_dp_policy_replace(a->dp, p->ep_id, c->entries, c->nentries, err);
			if (rc)
				goto out;
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
out:
	sluice_compiled_free(&out);
	agent_phase(a, "compile");
	return rc;
}
