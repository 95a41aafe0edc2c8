/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s_services.c - Services and EndpointSlices: the watches, and which
 * EndpointSlice API the server serves.
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
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "../k8s/client.h"
#include "agent.h"
#include "k8s.h"

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
