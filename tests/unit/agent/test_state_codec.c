/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_state_codec.c - the state files as pure serialisation
 * (agent/state_codec.c): a registry (namespaces with labels, local pods
 * with ports and a CNI attachment, remote pods with a cluster identity)
 * serialised, parsed into a new registry and claimed comes back equal, with
 * the same identity numbers and reference counts; the parse takes no
 * reference until the claim; the policy index round-trips; another
 * version is refused.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "state_codec.h"

static struct sluice_labels labels(const char *k1, const char *v1, const char *k2, const char *v2)
{
	struct sluice_labels l = { 0 };

	sluice_labels_add(&l, "k8s", k1, v1);
	if (k2)
		sluice_labels_add(&l, "k8s", k2, v2);
	return l;
}

/* A registry as the agent keeps one: what a restart must find again. */
static void fill(struct agent_registry *r)
{
	struct sluice_labels team = labels("team", "a", NULL, NULL), web = labels("app", "web", "tier", "front");
	struct sluice_labels db = labels("app", "db", NULL, NULL), far = labels("app", "far", NULL, NULL);
	struct sluice_named_port ports[2] = { { .name = "http", .port = 8080, .protocol = 6 },
					      { .name = "dns", .port = 53, .protocol = 17 } };
	struct agent_pod *p;

	assert_int_equal(registry_ns_labels_edit(r, "prod", &team, NULL, 0, NULL), 0);
	p = registry_pod_new("prod", "web", &web, ports, 2);
	p->ep_id = 7;
	p->net.ip = 0x0af40002;
	p->created_ns = 1234567890123ull;
	snprintf(p->net.netns, sizeof(p->net.netns), "sl-7");
	snprintf(p->net.host_ifname, sizeof(p->net.host_ifname), "lxc7");
	snprintf(p->net.cgroup, sizeof(p->net.cgroup), "/sys/fs/cgroup/x/pod7");
	p->identity = registry_identity(r, p->ns, &p->labels);
	registry_pod_add(r, p);

	p = registry_pod_new("default", "db", &db, NULL, 0);
	p->ep_id = 9;
	p->net.ip = 0x0af40003;
	p->net.foreign = true;
	p->cni = calloc(1, sizeof(*p->cni));
	p->cni->container_id = strdup("0123456789abcdef");
	p->cni->network = strdup("kindnet");
	p->cni->ifname = strdup("eth0");
	p->cni->netns_source = strdup("/proc/42/ns/net");
	p->workload.kind = strdup("StatefulSet");
	p->workload.name = strdup("db");
	p->identity = registry_identity(r, p->ns, &p->labels);
	registry_pod_add(r, p);

	/* a pod of another node with a cluster identity (Kubernetes mode) */
	assert_int_equal(sluice_idt_restore(r->idt, 70000, &far), 0);
	p = registry_pod_new("prod", "far", &far, NULL, 0);
	p->remote = true;
	p->net.ip = 0x0af50002;
	p->identity = registry_identity_of(r, p, 70000);
	assert_int_equal(p->identity, 70000);
	registry_pod_add(r, p);

	r->next_ep_id = 10;
	r->next_ip_offset = 4;
	sluice_labels_free(&team);
	sluice_labels_free(&web);
	sluice_labels_free(&db);
	sluice_labels_free(&far);
}

static void assert_pod_equal(const struct agent_registry *ra, const struct agent_pod *a,
			     const struct agent_registry *rb, const struct agent_pod *b)
{
	size_t i;

	assert_string_equal(a->ns, b->ns);
	assert_string_equal(a->name, b->name);
	assert_true(sluice_labels_equal(&a->labels, &b->labels));
	assert_int_equal(a->remote, b->remote);
	assert_int_equal(a->net.ip, b->net.ip);
	assert_int_equal(a->identity, b->identity);
	assert_int_equal(sluice_idt_refcount(ra->idt, a->identity), sluice_idt_refcount(rb->idt, b->identity));
	if (a->remote)
		return;
	assert_int_equal(a->ep_id, b->ep_id);
	assert_int_equal(a->created_ns, b->created_ns);
	assert_string_equal(a->net.netns, b->net.netns);
	assert_string_equal(a->net.host_ifname, b->net.host_ifname);
	assert_string_equal(a->net.cgroup, b->net.cgroup);
	assert_int_equal(a->net.foreign, b->net.foreign);
	assert_int_equal(a->nports, b->nports);
	for (i = 0; i < a->nports; i++) {
		assert_string_equal(a->ports[i].name, b->ports[i].name);
		assert_int_equal(a->ports[i].port, b->ports[i].port);
		assert_int_equal(a->ports[i].protocol, b->ports[i].protocol);
	}
	assert_int_equal(!a->cni, !b->cni);
	if (a->cni) {
		assert_string_equal(a->cni->container_id, b->cni->container_id);
		assert_string_equal(a->cni->network, b->cni->network);
		assert_string_equal(a->cni->ifname, b->cni->ifname);
		assert_string_equal(a->cni->netns_source, b->cni->netns_source);
	}
	assert_true(agent_workload_equal(&a->workload, &b->workload));
}

static void test_registry_round_trip(void **state)
{
	struct agent_registry a, b;
	json_t *doc, *again;
	char *text, *text2;
	size_t i;

	(void)state;
	registry_init(&a);
	registry_init(&b);
	fill(&a);
	doc = state_registry_json(&a);
	/* through text, as the file holds it */
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	doc = json_loads(text, 0, NULL);
	assert_non_null(doc);
	assert_int_equal(state_registry_parse(doc, &b, NULL), 0);
	/* parsed, not claimed: the records say their identity, nobody holds it */
	assert_int_equal(b.npods, 2);
	assert_int_equal(sluice_idt_refcount(b.idt, b.remotes[0]->identity), 0);
	state_registry_claim(&b);

	assert_int_equal(b.next_ep_id, a.next_ep_id);
	assert_int_equal(b.next_ip_offset, a.next_ip_offset);
	assert_int_equal(b.nnss, a.nnss);
	for (i = 0; i < a.nnss; i++) {
		struct agent_namespace *ns = registry_ns_get(&b, a.nss[i].name, false);

		assert_non_null(ns);
		assert_true(sluice_labels_equal(&ns->labels, &a.nss[i].labels));
	}
	assert_int_equal(b.npods, a.npods);
	assert_int_equal(b.nremotes, a.nremotes);
	for (i = 0; i < a.npods + a.nremotes; i++)
		assert_pod_equal(&a, registry_at(&a, i), &b, registry_at(&b, i));
	/* and serialises to the same document */
	again = state_registry_json(&b);
	text2 = json_dumps(again, JSON_COMPACT);
	assert_string_equal(text, text2);
	free(text);
	free(text2);
	json_decref(doc);
	json_decref(again);
	registry_free(&a);
	registry_free(&b);
}

static void test_registry_parse_lenient(void **state)
{
	struct agent_registry r;
	json_t *doc = json_loads("{\"version\":1,\"pods\":[{\"name\":\"x\"}]}", 0, NULL);
	char *err = NULL;

	(void)state;
	registry_init(&r);
	assert_int_equal(state_registry_parse(doc, &r, NULL), 0);
	/* a pod without namespace lands in default; endpoints count from 1 */
	assert_int_equal(r.npods, 1);
	assert_string_equal(r.pods[0]->ns, "default");
	assert_int_equal(r.next_ep_id, 1);
	json_decref(doc);
	doc = json_array();
	assert_int_equal(state_registry_parse(doc, &r, &err), -EINVAL);
	assert_non_null(err);
	free(err);
	json_decref(doc);
	registry_free(&r);
}

static void test_policies_round_trip(void **state)
{
	struct state_policy_ref in[2] = {
		{ .kind = 1, .ns = "prod", .name = "web", .file = "web.yaml", .text_file = "3.yaml" },
		{ .kind = 2, .ns = NULL, .name = "world", .file = "cw.yaml", .text_file = NULL },
	};
	struct state_policy_ref *out = NULL;
	json_t *doc = state_policies_json(in, 2, 17), *bad;
	uint64_t next = 0;
	size_t n = 0, i;
	char *err = NULL;

	(void)state;
	assert_int_equal(state_policies_parse(doc, &out, &n, &next, NULL), 0);
	assert_int_equal(n, 2);
	assert_int_equal(next, 17);
	for (i = 0; i < n; i++) {
		assert_int_equal(out[i].kind, in[i].kind);
		assert_string_equal(out[i].name, in[i].name);
		assert_string_equal(out[i].file, in[i].file);
		assert_null(out[i].text);
	}
	assert_string_equal(out[0].ns, "prod");
	assert_null(out[1].ns); /* clusterwide */
	assert_string_equal(out[0].text_file, "3.yaml");
	assert_null(out[1].text_file);
	free(out);
	/* another version: refused, nothing returned */
	bad = json_pack("{s:i,s:[]}", "version", STATE_VERSION + 1, "policies");
	assert_int_equal(state_policies_parse(bad, &out, &n, &next, &err), -EINVAL);
	assert_null(out);
	assert_int_equal(n, 0);
	assert_non_null(err);
	free(err);
	json_decref(bad);
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry_round_trip),
		cmocka_unit_test(test_registry_parse_lenient),
		cmocka_unit_test(test_policies_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
