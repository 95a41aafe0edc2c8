/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s_endpoints.c - pods of other nodes, by identity.
 *
 * Each agent publishes one SluiceEndpoint per local pod (namespaced, named
 * like the pod): its addresses, identity number, node and named ports.
 * Writes are throttled (at most one pass per --k8s-endpoint-throttle ms)
 * and skipped when nothing changed; the object goes when the pod goes.
 * Every agent watches all of them and puts the pods of other nodes into
 * its ipcache under their identity, so policy on node A selects a pod on
 * node B by labels. A remote pod whose identity object is not in the cache
 * yet waits for it: its address is never mapped to a number this node
 * cannot name.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "../k8s/client.h"
#include "agent.h"
#include "k8s.h"

#define EP_API "/apis/sluice.io/v1alpha1"

static const char *ep_node(json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(obj, "spec"), "node"));
}

void k8s_endpoints_event(struct agent_k8s *k, int type, json_t *obj)
{
	(void)type;
	(void)obj;
	k->remotes_dirty = true;
}

/* ---- remote pods ------------------------------------------------------------- */

static bool ep_address(json_t *obj, uint32_t *ip)
{
	json_t *addrs = json_object_get(json_object_get(obj, "spec"), "addresses"), *v;
	size_t i;

	json_array_foreach(addrs, i, v) {
		struct in_addr in;

		if (json_is_string(v) && inet_pton(AF_INET, json_string_value(v), &in) == 1) {
			*ip = ntohl(in.s_addr);
			return true;
		}
	}
	return false;
}

/* the pod's own labels, for display: the identity's k8s labels without
 * the ones sluice derives from the namespace and cluster */
static void display_labels(const struct sluice_labels *idl, struct sluice_labels *out)
{
	size_t i;

	for (i = 0; i < idl->n; i++) {
		const struct sluice_label *l = &idl->v[i];

		if (strcmp(l->source, "k8s") || !strncmp(l->key, "io.cilium.k8s.", 14) ||
		    !strcmp(l->key, SLUICE_LABEL_NAMESPACE))
			continue;
		sluice_labels_add(out, "k8s", l->key, l->value);
	}
}

struct remote_ctx {
	struct agent_k8s *k;
	struct agent_remote_spec *specs;
	struct sluice_labels *labels;
	char **names;
	size_t n;
};

static void remote_want(void *ctx, json_t *obj)
{
	struct remote_ctx *rc = ctx;
	struct agent_k8s *k = rc->k;
	struct agent *a = k->a;
	const char *ns = k8s_meta(obj, "namespace"), *name = k8s_meta(obj, "name");
	const char *node = ep_node(obj);
	json_int_t id = json_integer_value(json_object_get(json_object_get(obj, "spec"), "identity"));
	const struct sluice_labels *idl;
	struct agent_pod *p;
	uint32_t ip;
	char *err = NULL;

	if (!ns || !name || !node || !strcmp(node, k->node) || !ep_address(obj, &ip) || id <= 0 ||
	    id >= SLUICE_ID_LOCAL_MIN)
		return;
	p = registry_remote_find(&a->reg, ns, name);
	if (p && p->net.ip == ip && p->identity == (uint32_t)id)
		return;
	idl = k8s_identity_labels(k, (uint32_t)id);
	if (!idl)
		return; /* its identity object is not here yet: the event for it comes back */
	if (p && agent_pod_delete(a, ns, name, &err)) {
		k8s_note_error(k, "remote pod %s/%s: %s", ns, name, err);
		free(err);
		return;
	}
	if (registry_pod_find(&a->reg, ns, name))
		return; /* a local pod of that name: the API is mid-move */
	rc->specs = realloc(rc->specs, (rc->n + 1) * sizeof(*rc->specs));
	rc->labels = realloc(rc->labels, (rc->n + 1) * sizeof(*rc->labels));
	if (!rc->specs || !rc->labels)
		abort();
	memset(&rc->labels[rc->n], 0, sizeof(rc->labels[rc->n]));
	display_labels(idl, &rc->labels[rc->n]);
	rc->specs[rc->n] = (struct agent_remote_spec){
		.ns = ns, .name = name, .ip = ip, .identity = (uint32_t)id,
	};
	rc->n++;
}

static void remotes_commit(struct agent_k8s *k)
{
	struct agent *a = k->a;
	struct k8s_coll_state *cs = &k->coll[K8S_C_ENDPOINTS];
	struct remote_ctx rc = { .k = k };
	size_t i;
	char *err = NULL;

	if (!cs->w)
		return;
	k->remotes_dirty = false;
	/* gone from the API (only once the list is complete) */
	for (i = 0; cs->synced && i < a->reg.nremotes;) {
		struct agent_pod *p = a->reg.remotes[i];
		json_t *obj = k8s_watch_get(cs->w, p->ns, p->name);
		const char *node = obj ? ep_node(obj) : NULL;

		if (obj && node && strcmp(node, k->node)) {
			i++;
			continue;
		}
		if (agent_pod_delete(a, p->ns, p->name, &err)) {
			free(err);
			err = NULL;
			i++;
		}
	}
	k8s_watch_foreach(cs->w, remote_want, &rc);
	for (i = 0; i < rc.n; i++)
		rc.specs[i].labels = &rc.labels[i];
	if (rc.n && agent_remotes_create(a, rc.specs, rc.n, &err)) {
		k8s_note_error(k, "remote pods: %s", err);
		free(err);
		err = NULL;
		/* one by one: one bad entry (an address in use) must not hold the others */
		for (i = 0; i < rc.n; i++)
			if (agent_remotes_create(a, &rc.specs[i], 1, &err)) {
				free(err);
				err = NULL;
			}
	}
	for (i = 0; i < rc.n; i++)
		sluice_labels_free(&rc.labels[i]);
	free(rc.labels);
	free(rc.specs);
}

void k8s_endpoints_commit(struct agent_k8s *k)
{
	if (k->remotes_dirty)
		remotes_commit(k);
}

/* ---- publishing local pods -------------------------------------------------- */

static struct k8s_published *pub_find(struct agent_k8s *k, const char *ns, const char *name,
				      bool create)
{
	size_t i;
	struct k8s_published *p;

	for (i = 0; i < k->npubs; i++)
		if (!strcmp(k->pubs[i].ns, ns) && !strcmp(k->pubs[i].name, name))
			return &k->pubs[i];
	if (!create)
		return NULL;
	k->pubs = realloc(k->pubs, (k->npubs + 1) * sizeof(*k->pubs));
	if (!k->pubs)
		abort();
	p = &k->pubs[k->npubs++];
	memset(p, 0, sizeof(*p));
	p->ns = sl_xstrdup(ns);
	p->name = sl_xstrdup(name);
	return p;
}

static const char *proto_name(uint8_t p)
{
	return p == IPPROTO_UDP ? "UDP" : p == IPPROTO_SCTP ? "SCTP" : "TCP";
}

static json_t *endpoint_spec(struct agent_k8s *k, const struct agent_pod *p)
{
	json_t *ports = json_array();
	uint8_t addr[16];
	char ip[64];
	size_t i;

	for (i = 0; i < p->nports; i++)
		json_array_append_new(ports, json_pack("{s:s,s:i,s:s}", "name", p->ports[i].name, "port",
						       (int)p->ports[i].port, "protocol",
						       proto_name(p->ports[i].protocol)));
	sl_addr_from_ipv4(addr, p->net.ip);
	return json_pack("{s:s,s:I,s:[s],s:o}", "node", k->node, "identity", (json_int_t)p->identity,
			 "addresses", sl_addr_str(addr, ip, sizeof(ip)), "namedPorts", ports);
}

struct pub_req {
	struct agent_k8s *k;
	char *ns, *name, *json;
	bool is_delete, was_patch;
};

static void pub_req_free(struct pub_req *r)
{
	free(r->ns);
	free(r->name);
	free(r->json);
	free(r);
}

static void pub_send(struct agent_k8s *k, struct pub_req *r, bool create);

static void on_pub_done(void *ctx, int status, json_t *body, const char *errmsg)
{
	struct pub_req *r = ctx;
	struct agent_k8s *k = r->k;
	struct k8s_published *p;

	(void)body;
	if (k->stopping) {
		pub_req_free(r);
		return;
	}
	p = pub_find(k, r->ns, r->name, false);
	if (r->is_delete) {
		if (p && !p->json)
			p->inflight = false;
		if (status != 200 && status != 202 && status != 404)
			k8s_note_error(k, "deleting SluiceEndpoint %s/%s: HTTP %d %s", r->ns, r->name, status,
				       errmsg ? errmsg : "");
		pub_req_free(r);
		k8s_endpoints_schedule(k);
		return;
	}
	if (r->was_patch && status == 404) {
		pub_send(k, r, true); /* not there (any more): create it */
		return;
	}
	if (!r->was_patch && status == 409) {
		pub_send(k, r, false); /* there already (an earlier agent): update it */
		return;
	}
	if (p) {
		p->inflight = false;
		if (status == 200 || status == 201) {
			free(p->json);
			p->json = sl_xstrdup(r->json);
			k->ep_writes++;
		} else {
			k8s_note_error(k, "writing SluiceEndpoint %s/%s: HTTP %d %s", r->ns, r->name, status,
				       errmsg ? errmsg : "");
		}
	}
	pub_req_free(r);
	k8s_endpoints_schedule(k);
}

static void pub_send(struct agent_k8s *k, struct pub_req *r, bool create)
{
	json_t *spec = json_loads(r->json, 0, NULL), *body;
	char *path;
	int rc;

	r->was_patch = !create;
	if (create) {
		body = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:o}", "apiVersion", "sluice.io/v1alpha1",
				 "kind", "SluiceEndpoint", "metadata", "name", r->name, "namespace", r->ns,
				 "labels", "sluice.io/node", k->node, "spec", spec);
		path = sl_strdupf(EP_API "/namespaces/%s/sluiceendpoints", r->ns);
		rc = k8s_request(k->client, "POST", path, NULL, body, on_pub_done, r);
	} else {
		body = json_pack("{s:{s:{s:s}},s:o}", "metadata", "labels", "sluice.io/node", k->node, "spec",
				 spec);
		path = sl_strdupf(EP_API "/namespaces/%s/sluiceendpoints/%s", r->ns, r->name);
		rc = k8s_request(k->client, "PATCH", path, "application/merge-patch+json", body,
				 on_pub_done, r);
	}
	json_decref(body);
	free(path);
	if (rc) {
		struct k8s_published *p = pub_find(k, r->ns, r->name, false);

		if (p)
			p->inflight = false;
		pub_req_free(r);
	}
}

static void pub_delete(struct agent_k8s *k, const char *ns, const char *name)
{
	struct pub_req *r = sl_xcalloc(1, sizeof(*r));
	char *path = sl_strdupf(EP_API "/namespaces/%s/sluiceendpoints/%s", ns, name);

	r->k = k;
	r->ns = sl_xstrdup(ns);
	r->name = sl_xstrdup(name);
	r->is_delete = true;
	if (k8s_request(k->client, "DELETE", path, NULL, NULL, on_pub_done, r))
		pub_req_free(r);
	free(path);
}

struct stale_ctx {
	struct agent_k8s *k;
	json_t *gone; /* "ns/name" of our objects without a local pod */
};

static void find_stale(void *ctx, json_t *obj)
{
	struct stale_ctx *sc = ctx;
	const char *node = ep_node(obj);
	const char *ns = k8s_meta(obj, "namespace"), *name = k8s_meta(obj, "name");

	if (!node || strcmp(node, sc->k->node) || !ns || !name)
		return;
	if (!registry_pod_find(&sc->k->a->reg, ns, name))
		json_array_append_new(sc->gone, json_pack("[ss]", ns, name));
}

static void on_ep_timer(uv_timer_t *t)
{
	struct agent_k8s *k = t->data;
	struct agent *a = k->a;
	size_t i;

	k->ep_scheduled = false;
	if (k->stopping)
		return;
	/* local pods: write what changed */
	for (i = 0; i < a->reg.npods; i++) {
		struct agent_pod *p = a->reg.pods[i];
		struct k8s_published *pub = pub_find(k, p->ns, p->name, true);
		json_t *spec = endpoint_spec(k, p);
		char *js = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
		json_t *cached = k8s_watch_get(k->coll[K8S_C_ENDPOINTS].w, p->ns, p->name);
		struct pub_req *r;

		json_decref(spec);
		if (!pub->json && cached) {
			/* after a restart: what the API holds counts as written */
			char *have = json_dumps(json_object_get(cached, "spec"), JSON_COMPACT | JSON_SORT_KEYS);

			if (have && !strcmp(have, js))
				pub->json = have;
			else
				free(have);
		}
		if (pub->inflight || (pub->json && !strcmp(pub->json, js)) || !p->identity) {
			free(js);
			continue;
		}
		pub->inflight = true;
		r = sl_xcalloc(1, sizeof(*r));
		r->k = k;
		r->ns = sl_xstrdup(p->ns);
		r->name = sl_xstrdup(p->name);
		r->json = js;
		pub_send(k, r, !cached && !pub->json);
	}
	/* pods that went: their objects go */
	for (i = 0; i < k->npubs;) {
		struct k8s_published *pub = &k->pubs[i];

		if (registry_pod_find(&a->reg, pub->ns, pub->name) || pub->inflight) {
			i++;
			continue;
		}
		pub_delete(k, pub->ns, pub->name);
		free(pub->ns);
		free(pub->name);
		free(pub->json);
		*pub = k->pubs[--k->npubs];
	}
	/* objects of this node left by an earlier run, for pods gone meanwhile */
	if (k->coll[K8S_C_ENDPOINTS].synced && k->coll[K8S_C_PODS].synced) {
		struct stale_ctx sc = { .k = k, .gone = json_array() };
		json_t *v;

		k8s_watch_foreach(k->coll[K8S_C_ENDPOINTS].w, find_stale, &sc);
		json_array_foreach(sc.gone, i, v)
			pub_delete(k, json_string_value(json_array_get(v, 0)),
				   json_string_value(json_array_get(v, 1)));
		json_decref(sc.gone);
	}
}

void k8s_endpoints_schedule(struct agent_k8s *k)
{
	if (k->ep_scheduled || k->stopping)
		return;
	k->ep_scheduled = true;
	uv_timer_start(&k->ep_timer, on_ep_timer, k->opt.ep_throttle_ms, 0);
}

void k8s_endpoints_free(struct agent_k8s *k)
{
	size_t i;

	for (i = 0; i < k->npubs; i++) {
		free(k->pubs[i].ns);
		free(k->pubs[i].name);
		free(k->pubs[i].json);
	}
	free(k->pubs);
	k->pubs = NULL;
	k->npubs = 0;
}
