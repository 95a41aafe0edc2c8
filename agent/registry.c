/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry.c - namespaces, local and remote pods, and the identities their
 * labels map to. Data only: see registry.h for who changes it and who makes
 * the datapath follow.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "registry.h"

void registry_init(struct agent_registry *r)
{
	memset(r, 0, sizeof(*r));
	r->idt = sluice_idt_new();
	if (!r->idt)
		abort();
	r->next_ep_id = 1;
}

void registry_free(struct agent_registry *r)
{
	size_t i;

	for (i = 0; i < r->npods; i++)
		registry_pod_free(r->pods[i]);
	for (i = 0; i < r->nremotes; i++)
		registry_pod_free(r->remotes[i]);
	for (i = 0; i < r->nnss; i++) {
		free(r->nss[i].name);
		sluice_labels_free(&r->nss[i].labels);
	}
	free(r->pods);
	free(r->remotes);
	free(r->nss);
	sluice_idt_free(r->idt);
	memset(r, 0, sizeof(*r));
}

struct agent_namespace *registry_ns_get(struct agent_registry *r, const char *name, bool create)
{
	struct agent_namespace *ns;
	size_t i;

	for (i = 0; i < r->nnss; i++)
		if (!strcmp(r->nss[i].name, name))
			return &r->nss[i];
	if (!create)
		return NULL;
	r->nss = realloc(r->nss, (r->nnss + 1) * sizeof(*r->nss));
	if (!r->nss)
		abort();
	ns = &r->nss[r->nnss++];
	memset(ns, 0, sizeof(*ns));
	ns->name = sl_xstrdup(name);
	sluice_labels_add(&ns->labels, "k8s", AGENT_NS_NAME_LABEL, name);
	return ns;
}

static struct agent_pod *find_in(struct agent_pod *const *v, size_t n, const char *ns, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(v[i]->ns, ns) && !strcmp(v[i]->name, name))
			return v[i];
	return NULL;
}

struct agent_pod *registry_pod_find(const struct agent_registry *r, const char *ns, const char *name)
{
	return find_in(r->pods, r->npods, ns, name);
}

struct agent_pod *registry_remote_find(const struct agent_registry *r, const char *ns,
				       const char *name)
{
	return find_in(r->remotes, r->nremotes, ns, name);
}

struct agent_pod *registry_pod_by_addr(const struct agent_registry *r, const uint8_t addr[16],
				       bool with_remote)
{
	uint32_t ip;
	size_t i;

	if (!sl_addr_is_ipv4(addr))
		return NULL;
	ip = sl_addr_ipv4(addr);
	for (i = 0; i < r->npods; i++)
		if (r->pods[i]->net.ip == ip)
			return r->pods[i];
	for (i = 0; with_remote && i < r->nremotes; i++)
		if (r->remotes[i]->net.ip == ip)
			return r->remotes[i];
	return NULL;
}

struct agent_pod *registry_at(const struct agent_registry *r, size_t i)
{
	return i < r->npods ? r->pods[i] : r->remotes[i - r->npods];
}

struct agent_pod *registry_pod_new(const char *ns, const char *name, const struct sluice_labels *labels,
				   const struct sluice_named_port *ports, size_t nports)
{
	struct agent_pod *p = sl_xcalloc(1, sizeof(*p));
	size_t i;

	p->ns = sl_xstrdup(ns);
	p->name = sl_xstrdup(name);
	if (labels)
		sluice_labels_copy(&p->labels, labels);
	p->ports = sl_xcalloc(nports + 1, sizeof(*p->ports));
	for (i = 0; i < nports; i++) {
		p->ports[i] = ports[i];
		p->ports[i].name = sl_xstrdup(ports[i].name);
	}
	p->nports = nports;
	p->created_ns = sl_now_ns();
	p->proxy_listener_fd = -1;
	return p;
}

static void cni_attachment_free(struct agent_cni_attachment *c)
{
	if (!c)
		return;
	free(c->container_id);
	free(c->network);
	free(c->ifname);
	free(c->netns_source);
	free(c);
}

void registry_pod_free(struct agent_pod *p)
{
	size_t i;

	if (!p)
		return;
	free(p->ns);
	free(p->name);
	sluice_labels_free(&p->labels);
	for (i = 0; i < p->nports; i++)
		free(p->ports[i].name);
	free(p->ports);
	free(p->written);
	cni_attachment_free(p->cni);
	agent_workload_free(&p->workload);
	free(p);
}

void registry_pod_add(struct agent_registry *r, struct agent_pod *p)
{
	struct agent_pod ***v = p->remote ? &r->remotes : &r->pods;
	size_t *n = p->remote ? &r->nremotes : &r->npods;

	*v = realloc(*v, (*n + 1) * sizeof(**v));
	if (!*v)
		abort();
	(*v)[(*n)++] = p;
}

bool registry_pod_remove(struct agent_registry *r, struct agent_pod *p)
{
	struct agent_pod **v = p->remote ? r->remotes : r->pods;
	size_t *n = p->remote ? &r->nremotes : &r->npods;
	size_t i;

	for (i = 0; i < *n; i++) {
		if (v[i] != p)
			continue;
		memmove(&v[i], &v[i + 1], (*n - i - 1) * sizeof(*v));
		(*n)--;
		return true;
	}
	return false;
}

uint32_t registry_identity(struct agent_registry *r, const char *ns, const struct sluice_labels *labels)
{
	struct agent_namespace *n = registry_ns_get(r, ns, true);
	struct sluice_labels idl = { 0 };
	uint32_t id;

	if (sluice_pod_identity_labels(&idl, ns, labels, &n->labels)) {
		sluice_labels_free(&idl);
		return 0;
	}
	id = sluice_idt_acquire(r->idt, &idl);
	sluice_labels_free(&idl);
	return id;
}

void registry_identity_release(struct agent_registry *r, uint32_t id)
{
	sluice_idt_release(r->idt, id);
}

uint32_t registry_identity_of(struct agent_registry *r, const struct agent_pod *p, uint32_t known)
{
	if (known && sluice_idt_labels(r->idt, known))
		/* a cluster identity: its labels take a reference on it */
		return sluice_idt_acquire(r->idt, sluice_idt_labels(r->idt, known));
	return registry_identity(r, p->ns, &p->labels);
}

int registry_ipam_next(struct agent_registry *r, uint32_t cidr_net, unsigned prefixlen, uint32_t *ip)
{
	uint32_t size = prefixlen >= 31 ? 0 : 1u << (32 - prefixlen);
	uint32_t tries;

	for (tries = 0; size > 4 && tries < size; tries++) {
		uint32_t off = r->next_ip_offset;
		uint32_t cand = cidr_net + off;
		size_t i;
		bool used = false;

		r->next_ip_offset = off + 1 >= size - 1 ? 2 : off + 1;
		if (off < 2 || off >= size - 1)
			continue; /* network, .1 (kept for the node) and broadcast */
		for (i = 0; i < r->npods; i++)
			used |= r->pods[i]->net.ip == cand;
		if (!used) {
			*ip = cand;
			return 0;
		}
	}
	return -ENOSPC;
}

void registry_labels_edit(struct sluice_labels *l, const struct sluice_labels *set,
			  char *const *remove, size_t nremove)
{
	size_t i;

	for (i = 0; set && i < set->n; i++)
		sluice_labels_add(l, "k8s", set->v[i].key, set->v[i].value);
	for (i = 0; i < nremove; i++)
		sluice_labels_remove(l, "k8s", remove[i]);
}

int registry_ns_labels_edit(struct agent_registry *r, const char *name, const struct sluice_labels *set,
			    char *const *remove, size_t nremove, char **err)
{
	struct agent_namespace *ns = registry_ns_get(r, name, true);
	size_t i;

	for (i = 0; set && i < set->n; i++)
		if (!strcmp(set->v[i].key, AGENT_NS_NAME_LABEL))
			return sl_fail(err, EINVAL, "label %s is set by sluice", AGENT_NS_NAME_LABEL);
	for (i = 0; set && i < set->n; i++)
		sluice_labels_add(&ns->labels, "k8s", set->v[i].key, set->v[i].value);
	for (i = 0; i < nremove; i++)
		if (strcmp(remove[i], AGENT_NS_NAME_LABEL))
			sluice_labels_remove(&ns->labels, "k8s", remove[i]);
	return 0;
}
