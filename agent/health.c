/* SPDX-License-Identifier: Apache-2.0 */
/*
 * health.c - /healthz and /readyz (see health.h). Readiness is computed on
 * each request from the agent's state, so a probe never sees a stale answer:
 * the datapath handle, the agent's own "serving and every source synced"
 * (agent_not_ready, the same test CNI ADD and the conflist writer use),
 * the conflist entry (written only once that test passes; ready means the
 * chain is installed, so Ready never comes before it), the proxy's state
 * (proxy_ctl_status) and, in Kubernetes mode, the TLS Secrets not listed
 * yet (agent_k8s_not_ready).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "cni.h"
#include "health.h"
#include "k8s.h"
#include "proxy_ctl.h"

struct health {
	struct http_local *srv;
};

static void add_reason(char **why, const char *name, const char *reason)
{
	char *s = sl_strdupf("%s%s%s: %s", *why ? *why : "", *why ? "; " : "", name, reason);

	free(*why);
	*why = s;
}

static int proxy_check(struct agent *a, char **why)
{
	json_t *st = proxy_ctl_status(a);
	const char *state = json_string_value(json_object_get(st, "state"));
	int rc = 0;

	if (!state || (strcmp(state, "ready") && strcmp(state, "disabled"))) {
		*why = sl_strdupf("L7 proxy %s", state ? state : "unknown");
		rc = -EAGAIN;
	}
	json_decref(st);
	return rc;
}

bool health_ready(struct agent *a, char **why)
{
	const char *starting = agent_not_ready(a); /* serving, sources synced (cni.c) */
	char *r = NULL;

	*why = NULL;
	if (!a->dp)
		add_reason(why, "datapath", "not loaded");
	if (starting)
		add_reason(why, "agent", starting);
	else if ((starting = agent_cni_conf_pending(a)))
		add_reason(why, "cni", starting);
	if (a->k8s && (r = agent_k8s_not_ready(a))) {
		add_reason(why, "kubernetes", r);
		free(r);
		r = NULL;
	}
	if (proxy_check(a, &r)) {
		add_reason(why, "proxy", r ? r : "not ready");
		free(r);
	}
	return *why == NULL;
}

int health_route(void *agent, const char *method, const char *path, struct http_reply *r)
{
	struct agent *a = agent;
	char *why = NULL;

	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return -ENOENT;
	r->ctype = "text/plain";
	if (!strcmp(path, "/healthz")) {
		r->status = "200 OK";
		r->body = sl_xstrdup("ok\n");
		return 0;
	}
	if (!strcmp(path, "/readyz")) {
		if (health_ready(a, &why)) {
			r->status = "200 OK";
			r->body = sl_xstrdup("ready\n");
		} else {
			r->status = "503 Service Unavailable";
			r->body = sl_strdupf("not ready: %s\n", why);
			free(why);
		}
		return 0;
	}
	return -ENOENT;
}

int health_start(struct agent *a, char **err)
{
	const char *addr = a->cfg.health_addr;
	int rc;

	if (!addr || !*addr || !strcmp(addr, "off"))
		return 0;
	a->health = sl_xcalloc(1, sizeof(*a->health));
	rc = http_local_start(a->loop, addr, "--health", health_route, a, &a->health->srv, err);
	if (rc) {
		free(a->health);
		a->health = NULL;
	}
	return rc;
}

void health_stop(struct agent *a)
{
	struct health *h = a->health;

	if (!h)
		return;
	http_local_stop(h->srv);
	free(h);
	a->health = NULL;
}
