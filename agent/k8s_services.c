/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s_services.c - Services and EndpointSlices from the API into the
 * service registry (services.h), and which EndpointSlice API the server
 * serves.
 *
 * A Service with an IPv4 ClusterIP becomes a registry service of the same
 * address and ports (targetPort a number or a container port's name); its
 * backends are the ready IPv4 addresses of the EndpointSlices labelled
 * kubernetes.io/service-name=<name>, as kube-proxy and Cilium read them (no
 * slices: no backends; none ready: the serving terminating ones). Only a
 * server without any EndpointSlice API leaves selector Services to the
 * registry's own pod matching. Headless and ExternalName Services, and those
 * labelled for another proxy, have nothing to translate here; what of a
 * Service is not served (node ports reached from outside the pods, SCTP,
 * external IPs) is said in its "not_served" (service get) and logged when
 * it changes.
 *
 * EndpointSlice moved from discovery.k8s.io/v1beta1 (Kubernetes 1.17-1.24)
 * to discovery.k8s.io/v1 (1.21+). The agent asks the server's discovery
 * document of each group version, v1 first, and watches the first one that
 * lists "endpointslices"; a server that serves neither holds no slices
 * (the collection is then "absent", as a missing CRD is). The fields the
 * agent reads (addressType, endpoints[].addresses and .conditions.ready,
 * ports[], the kubernetes.io/service-name label) mean the same in both.
 * A discovery request that gets no answer is asked again after a pause;
 * until then the collection is not synced.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "../k8s/client.h"
#include "agent.h"
#include "k8s.h"
#include "services.h"

#define DISCOVERY_RETRY_MS 2000

static const char *const slice_versions[] = { "discovery.k8s.io/v1", "discovery.k8s.io/v1beta1" };
#define NVERSIONS (sizeof(slice_versions) / sizeof(slice_versions[0]))

static void discover(struct agent_k8s *k);

static bool lists_endpointslices(json_t *body)
{
	json_t *res;
	size_t i;

	json_array_foreach(json_object_get(body, "resources"), i, res) {
		const char *name = json_string_value(json_object_get(res, "name"));

		if (name && !strcmp(name, "endpointslices"))
			return true;
	}
	return false;
}

static void on_discovery_retry(uv_timer_t *t)
{
	discover(t->data);
}

static void on_discovery(void *ctx, int status, json_t *body, const char *errmsg)
{
	struct agent_k8s *k = ctx;
	struct k8s_coll_state *cs = &k->coll[K8S_C_EPSLICES];
	char *path, *err = NULL;

	if (k->stopping)
		return;
	if (status == 200 && lists_endpointslices(body)) {
		k->slice_version = slice_versions[k->slice_try];
		path = sl_strdupf("/apis/%s/endpointslices", k->slice_version);
		fprintf(stderr, "sluiced: kubernetes: EndpointSlices from %s\n", k->slice_version);
		if (k8s_start_collection(k, cs, path, NULL, &err)) {
			k8s_note_error(k, "endpointslices: %s", err);
			free(err);
			uv_timer_start(&k->slice_timer, on_discovery_retry, DISCOVERY_RETRY_MS, 0);
		}
		free(path);
		return;
	}
	if (status == 200 || status == 404) {
		/* not this version: the next one, or none at all */
		if (++k->slice_try < NVERSIONS) {
			discover(k);
			return;
		}
		fprintf(stderr, "sluiced: kubernetes: the server serves no EndpointSlice API\n");
		k8s_coll_absent(k, cs, "no discovery.k8s.io/v1 nor v1beta1 endpointslices");
		return;
	}
	/* no answer, or one we cannot act on (403, 5xx): ask again later */
	free(cs->last_error);
	cs->last_error = sl_strdupf("discovery of %s: %s", slice_versions[k->slice_try],
				    errmsg ? errmsg : "no answer");
	k8s_note_error(k, "endpointslices: %s", cs->last_error);
	uv_timer_start(&k->slice_timer, on_discovery_retry, DISCOVERY_RETRY_MS, 0);
}

static void discover(struct agent_k8s *k)
{
	char *path;

	if (k->stopping)
		return;
	path = sl_strdupf("/apis/%s", slice_versions[k->slice_try]);
	if (k8s_request(k->client, "GET", path, NULL, NULL, on_discovery, k))
		uv_timer_start(&k->slice_timer, on_discovery_retry, DISCOVERY_RETRY_MS, 0);
	free(path);
}

/* ---- into the service registry ---------------------------------------------- */

/* A port's protocol; 0 for what the datapath does not translate (SCTP),
 * which must not be read as TCP: "SCTP/80" beside "TCP/80" would then be a
 * duplicate port and the whole Service would be refused. */
static uint8_t svc_proto(const char *p)
{
	return !p || !strcmp(p, "TCP") ? IPPROTO_TCP : !strcmp(p, "UDP") ? IPPROTO_UDP : 0;
}

struct slice_collect {
	const char *ns, *name;
	const char *node;  /* non-NULL: internalTrafficPolicy Local, this node's only */
	struct agent_svc_endpoint *eps;
	bool *fallback;    /* eps[i] is serving and terminating, not ready */
	size_t n, cap;
	bool any;        /* some slice names this service */
};

/* The node an endpoint is on: v1's nodeName, v1beta1's topology label. */
static const char *ep_node_name(json_t *ep)
{
	const char *n = json_string_value(json_object_get(ep, "nodeName"));

	return n ? n : json_string_value(json_object_get(json_object_get(ep, "topology"),
							  "kubernetes.io/hostname"));
}

/* A condition of an endpoint: unset is dflt (the API's reading). */
static bool ep_cond(json_t *ep, const char *what, bool dflt)
{
	json_t *v = json_object_get(json_object_get(ep, "conditions"), what);

	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

/*
 * The IPv4 addresses of one slice of the service, for each port: the ready
 * ones, and those serving while terminating as a fallback (kube-proxy's
 * CategorizeEndpoints: a port without any ready endpoint uses the serving
 * terminating ones, so a rolling update's last old pod keeps answering
 * until it stops serving; upstream e2e "should fallback to terminating
 * endpoints when there are no ready endpoints"). serving unset means ready,
 * terminating unset means false, as kube-proxy reads them.
 */
static void collect_slice(void *ctx, json_t *slice)
{
	struct slice_collect *c = ctx;
	json_t *lbl = json_object_get(json_object_get(slice, "metadata"), "labels");
	const char *svc = json_string_value(json_object_get(lbl, "kubernetes.io/service-name"));
	const char *at = json_string_value(json_object_get(slice, "addressType"));
	json_t *ep, *port, *addr;
	size_t i, j, m;

	if (!svc || strcmp(svc, c->name) || strcmp(k8s_meta(slice, "namespace") ?: "", c->ns))
		return;
	c->any = true;
	if (!at || strcmp(at, "IPv4"))
		return; /* the datapath translates IPv4 */
	json_array_foreach(json_object_get(slice, "endpoints"), i, ep) {
		bool ready = ep_cond(ep, "ready", true);
		bool serving = ep_cond(ep, "serving", ready);
		bool terminating = ep_cond(ep, "terminating", false);
		const char *node = ep_node_name(ep);

		if (!ready && !(serving && terminating))
			continue;
		if (c->node && (!node || strcmp(node, c->node)))
			continue; /* internalTrafficPolicy Local: another node's */
		json_array_foreach(json_object_get(ep, "addresses"), j, addr) {
			struct in_addr in;
			const char *text = json_string_value(addr);

			if (!text || inet_pton(AF_INET, text, &in) != 1)
				continue;
			json_array_foreach(json_object_get(slice, "ports"), m, port) {
				json_int_t pn = json_integer_value(json_object_get(port, "port"));
				uint8_t proto = svc_proto(json_string_value(json_object_get(port, "protocol")));

				if (pn <= 0 || pn > 65535 || !proto)
					continue;
				if (c->n == c->cap) {
					c->cap = c->cap ? c->cap * 2 : 16;
					c->eps = realloc(c->eps, c->cap * sizeof(*c->eps));
					c->fallback = realloc(c->fallback, c->cap * sizeof(*c->fallback));
					if (!c->eps || !c->fallback)
						abort();
				}
				c->fallback[c->n] = !ready;
				c->eps[c->n++] = (struct agent_svc_endpoint){
					.ip = ntohl(in.s_addr),
					.port_name = json_string_value(json_object_get(port, "name")) ?: "",
					.port = (uint16_t)pn,
					.protocol = proto,
				};
			}
		}
	}
}

/* Keeps the fallback endpoints of a port only when it has no ready one:
 * first which to drop (the arrays untouched), then the compaction. */
static void slice_pick(struct slice_collect *c)
{
	bool *drop = c->n ? sl_xcalloc(c->n, sizeof(*drop)) : NULL;
	size_t i, j, n = 0;

	for (i = 0; i < c->n; i++)
		for (j = 0; c->fallback[i] && j < c->n && !drop[i]; j++)
			drop[i] = !c->fallback[j] && c->eps[j].protocol == c->eps[i].protocol &&
				  !strcmp(c->eps[j].port_name, c->eps[i].port_name);
	for (i = 0; i < c->n; i++)
		if (!drop[i])
			c->eps[n++] = c->eps[i];
	c->n = n;
	free(drop);
}

/*
 * Services kube-proxy leaves to someone else, and so do we: one labelled
 * service.kubernetes.io/service-proxy-name (another proxy's; Cilium does
 * the same without --k8s-service-proxy-name) and service.kubernetes.io/headless
 * (upstream e2e "should implement service.kubernetes.io/service-proxy-name"
 * and ".../headless"). kube-proxy's informers select on "label does not
 * exist" for both.
 */
static bool svc_not_ours(json_t *svc)
{
	json_t *lbl = json_object_get(json_object_get(svc, "metadata"), "labels");

	return json_object_get(lbl, "service.kubernetes.io/service-proxy-name") ||
	       json_object_get(lbl, "service.kubernetes.io/headless");
}

/* What of a Service is not served here, for `service get` and the log. */
static void note_add(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note_add(char *buf, size_t n, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;

	if (len && len + 2 < n) {
		strcpy(buf + len, "; ");
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(buf + len, n - len, fmt, ap);
	va_end(ap);
}

/* A Service with nothing to translate: out of the registry, if it was in. */
static void svc_forget(struct agent_k8s *k, const char *ns, const char *name)
{
	char *err = NULL;

	if (agent_service_find(k->a, ns, name) && agent_service_delete(k->a, ns, name, &err)) {
		k8s_note_error(k, "service %s/%s: %s", ns, name, err);
		free(err);
	}
}

/* One Service into the registry: its spec, then its slices' ready
 * addresses (when slices name it; else the registry's selector backends). */
static void svc_apply(struct agent_k8s *k, json_t *svc)
{
	struct agent *a = k->a;
	json_t *spec = json_object_get(svc, "spec"), *p;
	const char *ns = k8s_meta(svc, "namespace"), *name = k8s_meta(svc, "name");
	const char *cip = json_string_value(json_object_get(spec, "clusterIP"));
	struct sluice_labels labels = { 0 }, selector = { 0 };
	const char *type = json_string_value(json_object_get(spec, "type"));
	const char *aff = json_string_value(json_object_get(spec, "sessionAffinity"));
	const char *itp = json_string_value(json_object_get(spec, "internalTrafficPolicy"));
	struct agent_svc_port_spec *ports;
	struct slice_collect sc = { .ns = ns, .name = name };
	struct in_addr in;
	size_t i, n = 0;
	char *err = NULL, note[512] = "";
	json_int_t affinity = 0;
	bool node_ports;

	if (!cip || inet_pton(AF_INET, cip, &in) != 1 || (type && !strcmp(type, "ExternalName")) ||
	    svc_not_ours(svc)) {
		/* headless, ExternalName, IPv6, another proxy's: nothing to
		 * translate (a Service that becomes one stops translating) */
		svc_forget(k, ns, name);
		return;
	}
	/* a NodePort (and LoadBalancer) Service's node ports: every node's
	 * address, for this node's pods (connect4, as Cilium's socket LB) */
	node_ports = type && (!strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer"));
	ports = sl_xcalloc(json_array_size(json_object_get(spec, "ports")) + 1, sizeof(*ports));
	json_array_foreach(json_object_get(spec, "ports"), i, p) {
		json_t *tp = json_object_get(p, "targetPort");
		json_int_t port = json_integer_value(json_object_get(p, "port"));
		const char *proto = json_string_value(json_object_get(p, "protocol"));

		if (port <= 0 || port > 65535)
			continue;
		if (!svc_proto(proto)) {
			note_add(note, sizeof(note), "port %lld/%s: not translated (TCP and UDP only)",
				 (long long)port, proto);
			continue;
		}
		json_int_t np = node_ports ? json_integer_value(json_object_get(p, "nodePort")) : 0;

		ports[n] = (struct agent_svc_port_spec){
			.node_port = np > 0 && np <= 65535 ? (uint16_t)np : 0,
			.name = json_string_value(json_object_get(p, "name")) ?: "",
			.port = (uint16_t)port,
			.protocol = svc_proto(proto),
			.target_port = json_is_integer(tp) ? (uint16_t)json_integer_value(tp)
			             : tp ? 0 : (uint16_t)port,
			.target_name = json_string_value(tp),
		};
		n++;
	}
	if (!n) {
		/* only SCTP ports (or none valid): nothing to translate, and no
		 * "at least one port" error at every resync */
		svc_forget(k, ns, name);
		free(ports);
		return;
	}
	/* Out of scope, said rather than half done: a node port reached from
	 * outside this node's pods (another host, the node's own processes)
	 * and a LoadBalancer's addresses are kube-proxy's. */
	if (node_ports)
		note_add(note, sizeof(note), "type %s: node ports are translated for the pods of this "
			 "node only; traffic from outside them is left to kube-proxy", type);
	if (json_array_size(json_object_get(spec, "externalIPs")))
		note_add(note, sizeof(note), "externalIPs: not translated");
	/* ClientIP affinity: the API server defaults the timeout (10800 s) and
	 * checks its range; the registry checks it again */
	if (aff && !strcmp(aff, "ClientIP")) {
		json_t *to = json_object_get(json_object_get(json_object_get(spec,
			"sessionAffinityConfig"), "clientIP"), "timeoutSeconds");

		affinity = json_is_integer(to) ? (json_int_t)json_integer_value(to)
					       : (json_int_t)AGENT_SVC_AFFINITY_DEFAULT_S;
		if (affinity <= 0)
			affinity = AGENT_SVC_AFFINITY_DEFAULT_S;
		if (affinity > (json_int_t)AGENT_SVC_AFFINITY_MAX_S)
			affinity = AGENT_SVC_AFFINITY_MAX_S;
	}
	if (itp && !strcmp(itp, "Local"))
		sc.node = k->node;
	k8s_labels_from_json(json_object_get(json_object_get(svc, "metadata"), "labels"), &labels);
	k8s_labels_from_json(json_object_get(spec, "selector"), &selector);
	struct agent_svc_spec s = {
		.ns = ns, .name = name, .cluster_ip = ntohl(in.s_addr), .labels = &labels,
		.selector = selector.n ? &selector : NULL, .ports = ports, .nports = n,
		.note = note[0] ? note : NULL, .affinity_timeout = (uint32_t)affinity,
		.type = node_ports ? type : NULL, .node_ports_fixed = true,
	};
	if (agent_service_upsert(a, &s, &err)) {
		k8s_note_error(k, "service %s/%s: %s", ns, name, err);
		free(err);
		err = NULL;
	} else if (k->coll[K8S_C_EPSLICES].w) {
		/* the slices are the endpoints, as for kube-proxy: none, none */
		k8s_watch_foreach(k->coll[K8S_C_EPSLICES].w, collect_slice, &sc);
		slice_pick(&sc);
		if (agent_service_set_endpoints(a, ns, name, sc.eps, sc.n, &err)) {
			k8s_note_error(k, "service %s/%s endpoints: %s", ns, name, err);
			free(err);
		}
	}
	free(sc.eps);
	free(sc.fallback);
	free(ports);
	sluice_labels_free(&labels);
	sluice_labels_free(&selector);
}

/* Registry services the API no longer has (deleted while the agent was
 * down included): in Kubernetes mode the API is the source of truth. */
static void svc_reconcile(struct agent_k8s *k)
{
	json_t *list = agent_services_list_json(k->a), *o;
	size_t i;

	json_array_foreach(list, i, o) {
		const char *ns = json_string_value(json_object_get(o, "namespace"));
		const char *name = json_string_value(json_object_get(o, "name"));
		char *err = NULL;

		if (!ns || !name || k8s_watch_get(k->coll[K8S_C_SERVICES].w, ns, name))
			continue;
		if (agent_service_delete(k->a, ns, name, &err)) {
			k8s_note_error(k, "service %s/%s: %s", ns, name, err);
			free(err);
		}
	}
	json_decref(list);
}

static void svc_apply_cb(void *ctx, json_t *svc)
{
	svc_apply(ctx, svc);
}

/* The API server's addresses: the endpoints of default/kubernetes (the
 * API servers write its slice themselves), for the kube-apiserver entity. */
static void apiservers_commit(struct agent_k8s *k)
{
	struct k8s_coll_state *slices = &k->coll[K8S_C_EPSLICES];
	struct slice_collect sc = { .ns = "default", .name = "kubernetes" };
	uint32_t *ips;
	size_t i;

	if (slices->synced && slices->w) {
		k8s_watch_foreach(slices->w, collect_slice, &sc);
		slice_pick(&sc);
	}
	ips = sl_xcalloc(sc.n + 1, sizeof(*ips));
	for (i = 0; i < sc.n; i++)
		ips[i] = sc.eps[i].ip;
	agent_apiservers_set(k->a, ips, sc.n);
	free(ips);
	free(sc.eps);
	free(sc.fallback);
}

void k8s_services_commit(struct agent_k8s *k)
{
	struct k8s_coll_state *svcs = &k->coll[K8S_C_SERVICES], *slices = &k->coll[K8S_C_EPSLICES];

	/* nothing before both first lists: a restart keeps what it restored */
	if (!k->services_dirty || !svcs->synced || !(slices->synced || slices->absent))
		return;
	apiservers_commit(k);
	if (!k->a->services)
		return;
	k->services_dirty = false;
	k8s_watch_foreach(svcs->w, svc_apply_cb, k);
	svc_reconcile(k);
	/* toServices peers follow the backends (one regeneration: the
	 * Kubernetes source commits in a batch) */
	if (agent_services_named_by_policies(k->a))
		agent_commit(k->a, AGENT_COMMIT_REGENERATE, "kubernetes services", NULL);
}

int k8s_services_start(struct agent_k8s *k)
{
	uv_timer_init(k->a->loop, &k->slice_timer);
	k->slice_timer.data = k;
	k->slice_try = 0;
	discover(k);
	return 0;
}

void k8s_services_stop(struct agent_k8s *k)
{
	if (k->slice_timer.loop)
		uv_timer_stop(&k->slice_timer);
}

void k8s_services_event(struct agent_k8s *k, int type, json_t *obj)
{
	(void)type;
	(void)obj;
	/* a commit applies every Service again: a slice names its Service
	 * only by a label, and the registry skips what did not change */
	k->services_dirty = true;
}

static void count_ready(void *ctx, json_t *slice)
{
	size_t *n = ctx, i;
	json_t *ep;

	json_array_foreach(json_object_get(slice, "endpoints"), i, ep) {
		json_t *ready = json_object_get(json_object_get(ep, "conditions"), "ready");

		/* unset means ready (the API's own reading of the field) */
		if (!json_is_false(ready))
			*n += json_array_size(json_object_get(ep, "addresses"));
	}
}

static void count_one(void *ctx, json_t *obj)
{
	(void)obj;
	(*(size_t *)ctx)++;
}

json_t *k8s_services_status(struct agent_k8s *k)
{
	size_t nsvc = 0, nslices = 0, nready = 0;

	if (k->coll[K8S_C_SERVICES].w)
		k8s_watch_foreach(k->coll[K8S_C_SERVICES].w, count_one, &nsvc);
	if (k->coll[K8S_C_EPSLICES].w) {
		k8s_watch_foreach(k->coll[K8S_C_EPSLICES].w, count_one, &nslices);
		k8s_watch_foreach(k->coll[K8S_C_EPSLICES].w, count_ready, &nready);
	}
	return json_pack("{s:s?,s:I,s:I,s:I}", "endpointslice_api", k->slice_version, "services",
			 (json_int_t)nsvc, "endpointslices", (json_int_t)nslices, "ready_addresses",
			 (json_int_t)nready);
}
