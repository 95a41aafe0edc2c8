/* SPDX-License-Identifier: Apache-2.0 */
/*
 * endpoints.c - the endpoint lifecycle: what a pod's creation, deletion or
 * relabelling does to the registry (registry.c, data only) and then, in the
 * order that keeps traffic correct, to the datapath. A pod's identity
 * follows its labels (and its namespace's labels); its address only tells
 * the datapath which identity a packet carries, through the ipcache map.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "agent.h"
#include "proxy_ctl.h"

static void pod_detach_steering(struct agent *a, struct agent_pod *p);
static void relabel_forget(struct agent *a, const struct agent_pod *p);

static void endpoint_record(const struct agent_pod *p, uint32_t flags, struct sluice_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	ep->ep_id = p->ep_id;
	ep->identity = p->identity;
	ep->flags = flags;
	sl_addr_from_ipv4(ep->addr, p->net.ip);
}

int agent_pod_create(struct agent *a, const char *ns, const char *name,
		     const struct sluice_labels *labels, const struct sluice_named_port *ports,
		     size_t nports, struct agent_pod **out, char **err)
{
	struct agent_pod *p;
	uint32_t ip;
	int rc;

	if (registry_pod_find(&a->reg, ns, name))
		return sl_fail(err, EEXIST, "pod %s/%s already exists", ns, name);
	rc = registry_ipam_next(&a->reg, a->podcfg.cidr_net, a->podcfg.cidr_prefixlen, &ip);
	if (rc)
		return sl_fail(err, rc, "no free address left in pod CIDR %s", a->cfg.pod_cidr);
	p = registry_pod_new(ns, name, labels, ports, nports);
	p->ep_id = a->reg.next_ep_id++;
	rc = pod_net_create(&a->podcfg, p->ep_id, ip, &p->net, err);
	if (rc) {
		registry_pod_free(p);
		return rc;
	}
	rc = agent_pod_enroll(a, p, err);
	if (!rc)
		*out = p;
	return rc;
}

int agent_pod_enroll(struct agent *a, struct agent_pod *p, char **err)
{
	struct sluice_endpoint ep;
	uint8_t addr[16];
	int rc;

	p->identity = registry_identity(&a->reg, p->ns, &p->labels);
	if (!p->identity) {
		rc = sl_fail(err, ENOSPC, "cannot allocate an identity");
		pod_net_delete(&p->net);
		registry_pod_free(p);
		return rc;
	}
	registry_pod_add(&a->reg, p);

	sl_addr_from_ipv4(addr, p->net.ip);
	rc = sluice_dp_ipcache_update(a->dp, addr, 128, p->identity, SLUICE_IPC_F_LOCAL_POD);
	if (rc) {
		sl_fail(err, rc, "ipcache update failed: %s", strerror(-rc));
		goto fail_unlist;
	}
	/* Policy and endpoint record first, then the programs: the pod is never
	 * attached without its policy in place. */
	rc = agent_regenerate(a, err);
	if (rc)
		goto fail_unlist;
	if (!p->written_valid) {
		endpoint_record(p, 0, &ep);
		sluice_dp_endpoint_update(a->dp, p->net.host_ifindex, &ep);
	}
	rc = sluice_dp_attach_endpoint(a->dp, p->net.host_ifindex, err);
	if (!rc)
		rc = agent_pod_attach_steering(a, p, err);
	if (rc)
		goto fail_unlist;
	agent_commit(a, AGENT_COMMIT_SAVE_REGISTRY, "pod create", NULL);
	return 0;

fail_unlist:
	registry_pod_remove(&a->reg, p);
	pod_detach_steering(a, p);
	if (p->net.host_ifindex > 0) {
		sluice_dp_detach_endpoint(a->dp, p->net.host_ifindex);
		sluice_dp_endpoint_delete(a->dp, p->net.host_ifindex);
	}
	sluice_dp_ipcache_delete(a->dp, addr, 128);
	sluice_dp_policy_delete(a->dp, p->ep_id);
	pod_net_delete(&p->net);
	registry_identity_release(&a->reg, p->identity);
	registry_pod_free(p);
	/* other pods' maps may have learnt its identity */
	agent_regenerate_after(a, "pod create", true);
	return rc;
}

/*
 * The L7 steering state of a pod: its address and netns tell sk_lookup and
 * connect4 which endpoint they run for, the sk_lookup link hands steered
 * connections to the in-pod proxy listener (proxy_ctl.c makes it).
 */
int agent_pod_attach_steering(struct agent *a, struct agent_pod *p, char **err)
{
	char path[128];
	uint8_t addr[16];
	int nsfd, rc;

	sl_addr_from_ipv4(addr, p->net.ip);
	snprintf(path, sizeof(path), "/run/netns/%s", p->net.netns);
	rc = sluice_dp_ep_addr_update(a->dp, addr, p->ep_id);
	if (rc)
		return sl_fail(err, rc, "endpoint address map: %s", strerror(-rc));
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return sl_fail(err, errno, "cannot open %s: %s", path, strerror(errno));
	rc = sluice_dp_netns_cookie(nsfd, &p->netns_cookie);
	close(nsfd);
	if (rc)
		return sl_fail(err, rc, "netns cookie of %s: %s", path, strerror(-rc));
	rc = sluice_dp_netns_ep_update(a->dp, p->netns_cookie, p->ep_id);
	if (rc)
		return sl_fail(err, rc, "netns map: %s", strerror(-rc));
	rc = sluice_dp_attach_netns(a->dp, p->ep_id, path, err);
	if (rc)
		return rc;
	if (!a->cfg.no_proxy && p->proxy_listener_fd < 0 && a->proxy)
		return proxy_ctl_pod_added(a, p, err);
	return 0;
}

static void pod_detach_steering(struct agent *a, struct agent_pod *p)
{
	uint8_t addr[16];

	sl_addr_from_ipv4(addr, p->net.ip);
	sluice_dp_detach_netns(a->dp, p->ep_id);
	if (p->netns_cookie)
		sluice_dp_netns_ep_delete(a->dp, p->netns_cookie);
	sluice_dp_ep_addr_delete(a->dp, addr);
	proxy_ctl_pod_removed(a, p);
}

static void pod_teardown(struct agent *a, struct agent_pod *p)
{
	uint8_t addr[16];

	pod_detach_steering(a, p);
	sl_addr_from_ipv4(addr, p->net.ip);
	if (p->net.host_ifindex > 0) {
		sluice_dp_detach_endpoint(a->dp, p->net.host_ifindex);
		sluice_dp_endpoint_delete(a->dp, p->net.host_ifindex);
	}
	sluice_dp_ipcache_delete(a->dp, addr, 128);
	sluice_dp_policy_delete(a->dp, p->ep_id);
	sluice_dp_ct_flush(a->dp, p->ep_id);
	pod_net_delete(&p->net);
	registry_identity_release(&a->reg, p->identity);
}

/*
 * A pod on another node (standalone mode's stand-in for what a cluster
 * agent learns from the API server): its identity and address go into the
 * ipcache, so local policy can select it; nothing is enforced for it here.
 */
int agent_remote_create(struct agent *a, const char *ns, const char *name,
			const struct sluice_labels *labels, uint32_t ip, struct agent_pod **out,
			char **err)
{
	struct agent_remote_spec spec = { .ns = ns, .name = name, .labels = labels, .ip = ip };
	int rc = agent_remotes_create(a, &spec, 1, err);

	if (!rc)
		*out = a->reg.remotes[a->reg.nremotes - 1];
	return rc;
}

/*
 * Pods of other nodes, all or none: each is checked (name and address
 * free, also among the others given), gets its identity, then the policy is
 * regenerated once (maps learn the identities before addresses carry them),
 * the addresses go into the ipcache in one batch and the state is saved
 * once: registering thousands costs one regeneration, not one each.
 */
int agent_remotes_create(struct agent *a, const struct agent_remote_spec *v, size_t n, char **err)
{
	size_t base = a->reg.nremotes, i, j;
	uint8_t (*addrs)[16] = sl_xcalloc(n + 1, sizeof(*addrs));
	uint8_t *plens = sl_xcalloc(n + 1, 1);
	uint32_t *ids = sl_xcalloc(n + 1, sizeof(*ids));
	int rc = 0;

	for (i = 0; i < n && !rc; i++) {
		struct agent_pod *p, *holder;

		if (registry_pod_find(&a->reg, v[i].ns, v[i].name) || registry_remote_find(&a->reg, v[i].ns, v[i].name)) {
			rc = sl_fail(err, EEXIST, "pod %s/%s already exists", v[i].ns, v[i].name);
			break;
		}
		sl_addr_from_ipv4(addrs[i], v[i].ip);
		holder = registry_pod_by_addr(&a->reg, addrs[i], true);
		if (holder) {
			rc = sl_fail(err, EEXIST, "%s/%s: address in use by pod %s/%s", v[i].ns, v[i].name,
				     holder->ns, holder->name);
			break;
		}
		p = registry_pod_new(v[i].ns, v[i].name, v[i].labels, NULL, 0);
		p->remote = true;
		p->net.ip = v[i].ip;
		p->identity = registry_identity_of(&a->reg, p, v[i].identity);
		if (!p->identity) {
			registry_pod_free(p);
			rc = sl_fail(err, ENOSPC, "cannot allocate an identity");
			break;
		}
		/* registered now, so the next ones see its name and address */
		registry_pod_add(&a->reg, p);
		plens[i] = 128;
		ids[i] = p->identity;
	}
	/* maps first learn the identities, then the addresses carry them */
	if (!rc)
		rc = agent_regenerate(a, err);
	if (!rc) {
		rc = sluice_dp_ipcache_update_many(a->dp, (const uint8_t (*)[16])addrs, plens, ids, n);
		if (rc)
			sl_fail(err, rc, "ipcache update failed: %s", strerror(-rc));
	}
	if (rc) {
		for (j = base; j < a->reg.nremotes; j++) {
			uint8_t addr[16];

			sl_addr_from_ipv4(addr, a->reg.remotes[j]->net.ip);
			sluice_dp_ipcache_delete(a->dp, addr, 128);
			registry_identity_release(&a->reg, a->reg.remotes[j]->identity);
			registry_pod_free(a->reg.remotes[j]);
		}
		a->reg.nremotes = base;
		a->cidr_pods_changed = true; /* a CIDR /32 may have been one of them */
		agent_regenerate_after(a, "pod import", true);
	} else {
		agent_commit(a, AGENT_COMMIT_SAVE_REGISTRY, "pod import", NULL);
	}
	free(addrs);
	free(plens);
	free(ids);
	return rc;
}

int agent_pod_delete(struct agent *a, const char *ns, const char *name, char **err)
{
	size_t i;

	for (i = 0; i < a->reg.nremotes; i++) {
		struct agent_pod *p = a->reg.remotes[i];
		uint8_t addr[16];

		if (strcmp(p->ns, ns) || strcmp(p->name, name))
			continue;
		sl_addr_from_ipv4(addr, p->net.ip);
		sluice_dp_ipcache_delete(a->dp, addr, 128);
		a->cidr_pods_changed = true;
		relabel_forget(a, p);
		registry_identity_release(&a->reg, p->identity);
		registry_pod_remove(&a->reg, p);
		registry_pod_free(p);
		agent_commit(a, AGENT_COMMIT_REGENERATE | AGENT_COMMIT_SAVE_REGISTRY, "remote pod delete", NULL);
		return 0;
	}

	for (i = 0; i < a->reg.npods; i++) {
		struct agent_pod *p = a->reg.pods[i];

		if (strcmp(p->ns, ns) || strcmp(p->name, name))
			continue;
		relabel_forget(a, p);
		pod_teardown(a, p);
		a->cidr_pods_changed = true;
		registry_pod_remove(&a->reg, p);
		registry_pod_free(p);
		agent_commit(a, AGENT_COMMIT_REGENERATE | AGENT_COMMIT_SAVE_REGISTRY, "pod delete", NULL);
		return 0;
	}
	return sl_fail(err, ENOENT, "pod %s/%s not found", ns, name);
}

void agent_pods_delete_all(struct agent *a)
{
	while (a->reg.nremotes) {
		struct agent_pod *p = a->reg.remotes[--a->reg.nremotes];

		registry_identity_release(&a->reg, p->identity);
		registry_pod_free(p);
	}
	while (a->reg.npods) {
		struct agent_pod *p = a->reg.pods[--a->reg.npods];

		pod_teardown(a, p);
		registry_pod_free(p);
	}
}

/*
 * Moves a pod to the identity of its new labels. Order matters for "traffic
 * follows the new policy at once, without drops for what stays allowed":
 * first every map learns about the new identity (regenerate with the new
 * identity in the registry), then the pod's address switches to it in the
 * ipcache, and only then is the old identity released and its entries
 * removed.
 */
static struct agent_relabel *relabel_pending(struct agent *a, const struct agent_pod *p)
{
	for (size_t i = 0; i < a->commit.nrelabels; i++)
		if (a->commit.relabels[i].pod == p)
			return &a->commit.relabels[i];
	return NULL;
}

/* A pod leaves the registry inside a batch: its deferred relabel goes,
 * with the old identity it held (its address leaves the ipcache). */
static void relabel_forget(struct agent *a, const struct agent_pod *p)
{
	struct agent_relabel *r = relabel_pending(a, p);

	if (!r)
		return;
	registry_identity_release(&a->reg, r->old);
	*r = a->commit.relabels[--a->commit.nrelabels];
}

/*
 * Inside a batch the move is deferred (agent_relabels_finish at its end):
 * the pod carries new_id in the registry at once, its address keeps the
 * old identity, held, until then. A pod relabelled twice in one batch keeps
 * its first old identity; the one in between never reached the ipcache.
 */
static void pod_defer_identity(struct agent *a, struct agent_pod *p, uint32_t new_id)
{
	struct agent_relabel *r = relabel_pending(a, p);

	if (r) {
		registry_identity_release(&a->reg, p->identity);
	} else {
		a->commit.relabels = realloc(a->commit.relabels,
					     (a->commit.nrelabels + 1) * sizeof(*a->commit.relabels));
		if (!a->commit.relabels)
			abort();
		a->commit.relabels[a->commit.nrelabels++] = (struct agent_relabel){ p, p->identity };
	}
	p->identity = new_id;
}

int agent_relabels_finish(struct agent *a, char **err)
{
	size_t i, n = a->commit.nrelabels;
	struct agent_relabel *v = a->commit.relabels;
	uint8_t addr[16];
	int rc;

	a->commit.relabels = NULL;
	a->commit.nrelabels = 0;
	/* every map learns the new identities; the old ones are still held */
	rc = agent_regenerate(a, err);
	if (rc) {
		for (i = 0; i < n; i++) {
			registry_identity_release(&a->reg, v[i].pod->identity);
			v[i].pod->identity = v[i].old;
		}
		free(v);
		agent_regenerate_after(a, "pod relabel", true);
		return rc;
	}
	for (i = 0; i < n; i++) {
		struct agent_pod *p = v[i].pod;

		if (p->identity != v[i].old) {
			sl_addr_from_ipv4(addr, p->net.ip);
			sluice_dp_ipcache_update(a->dp, addr, 128, p->identity,
						 p->remote ? 0 : SLUICE_IPC_F_LOCAL_POD);
			a->reval_all = true; /* flows from or to it changed identity */
		}
		registry_identity_release(&a->reg, v[i].old);
	}
	free(v);
	/* the batch's commit regenerates the old identities away, and saves */
	a->commit.pending |= AGENT_COMMIT_REGENERATE | AGENT_COMMIT_SAVE_REGISTRY;
	return 0;
}

static int pod_set_identity(struct agent *a, struct agent_pod *p, uint32_t new_id, char **err)
{
	uint32_t old = p->identity;
	uint8_t addr[16];
	int rc;

	if (new_id == old) {
		registry_identity_release(&a->reg, new_id);
		return 0;
	}
	if (a->commit.depth) {
		pod_defer_identity(a, p, new_id);
		return 0;
	}
	p->identity = new_id;
	rc = agent_regenerate(a, err);
	if (rc) {
		p->identity = old;
		registry_identity_release(&a->reg, new_id);
		agent_regenerate_after(a, "pod relabel", true);
		return rc;
	}
	sl_addr_from_ipv4(addr, p->net.ip);
	sluice_dp_ipcache_update(a->dp, addr, 128, new_id, p->remote ? 0 : SLUICE_IPC_F_LOCAL_POD);
	a->reval_all = true; /* flows from or to this address changed identity */
	registry_identity_release(&a->reg, old);
	return agent_regenerate(a, err);
}

int agent_pod_relabel(struct agent *a, struct agent_pod *p, const struct sluice_labels *set,
		      char *const *remove, size_t nremove, char **err)
{
	uint32_t id;
	int rc;

	registry_labels_edit(&p->labels, set, remove, nremove);
	id = registry_identity(&a->reg, p->ns, &p->labels);
	if (!id)
		return sl_fail(err, ENOSPC, "cannot allocate an identity");
	rc = pod_set_identity(a, p, id, err);
	agent_commit(a, AGENT_COMMIT_SAVE_REGISTRY, "pod relabel", NULL);
	return rc;
}

int agent_ns_relabel(struct agent *a, const char *name, const struct sluice_labels *set,
		     char *const *remove, size_t nremove, char **err)
{
	size_t i;
	int rc = registry_ns_labels_edit(&a->reg, name, set, remove, nremove, err), erc;

	if (rc)
		return rc;
	/* one batch: every pod of the namespace moves with two regenerations
	 * in all, not two each */
	agent_commit_begin(a);
	for (i = 0; i < a->reg.npods + a->reg.nremotes && !rc; i++) {
		struct agent_pod *p = registry_at(&a->reg, i);
		uint32_t id;

		if (strcmp(p->ns, name))
			continue;
		id = registry_identity(&a->reg, p->ns, &p->labels);
		if (!id) {
			rc = sl_fail(err, ENOSPC, "cannot allocate an identity");
			break;
		}
		rc = pod_set_identity(a, p, id, err);
	}
	agent_commit(a, AGENT_COMMIT_SAVE_REGISTRY, "namespace relabel", NULL);
	erc = agent_commit_end(a, "namespace relabel", rc ? NULL : err);
	return rc ? rc : erc;
}

/* The host's own addresses carry the reserved "host" identity. */
int agent_refresh_host_addrs(struct agent *a)
{
	struct ifaddrs *ifs = NULL, *it;
	uint8_t (*addrs)[16] = NULL;
	size_t n = 0, i, j;

	if (getifaddrs(&ifs))
		return -errno;
	for (it = ifs; it; it = it->ifa_next) {
		uint32_t ip;

		if (!it->ifa_addr || it->ifa_addr->sa_family != AF_INET)
			continue;
		ip = ntohl(((struct sockaddr_in *)it->ifa_addr)->sin_addr.s_addr);
		addrs = realloc(addrs, (n + 1) * sizeof(*addrs));
		if (!addrs)
			abort();
		sl_addr_from_ipv4(addrs[n++], ip);
	}
	freeifaddrs(ifs);
	for (i = 0; i < a->nhost_addrs; i++) {
		bool keep = false;

		for (j = 0; j < n; j++)
			keep |= !memcmp(a->host_addrs[i], addrs[j], 16);
		if (!keep)
			sluice_dp_ipcache_delete(a->dp, a->host_addrs[i], 128);
	}
	for (j = 0; j < n; j++) {
		bool known = false;

		for (i = 0; i < a->nhost_addrs && !known; i++)
			known = !memcmp(a->host_addrs[i], addrs[j], 16);
		if (!known)
			sluice_dp_ipcache_update(a->dp, addrs[j], 128, SLUICE_ID_HOST, 0);
	}
	{
		bool same = n == a->nhost_addrs && (!n || !memcmp(a->host_addrs, addrs, n * sizeof(*addrs)));

		free(a->host_addrs);
		a->host_addrs = addrs;
		a->nhost_addrs = n;
		/* the API server may listen on an address the host just got
		 * (or lost): the host's kube-apiserver label follows */
		if (!same && a->napiservers)
			agent_apiservers_refresh(a);
	}
	return 0;
}
