/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_registry.c - the agent's registry (agent/registry.c): namespaces
 * made on demand with their name label, pods listed and unlisted, lookups
 * by name and address, identities that follow pod and namespace labels and
 * are shared by equal label sets, cluster identities kept by number, the
 * next-fit address allocator, label edits.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "registry.h"

static struct sluice_labels labels1(const char *key, const char *value)
{
	struct sluice_labels l = { 0 };

	assert_int_equal(sluice_labels_add(&l, "k8s", key, value), 0);
	return l;
}

static struct agent_pod *add_pod(struct agent_registry *r, const char *ns, const char *name,
				 const char *app, uint32_t ip, bool remote)
{
	struct sluice_labels l = labels1("app", app);
	struct agent_pod *p = registry_pod_new(ns, name, &l, NULL, 0);

	sluice_labels_free(&l);
	p->remote = remote;
	p->net.ip = ip;
	p->identity = registry_identity(r, ns, &p->labels);
	assert_true(p->identity != 0);
	registry_pod_add(r, p);
	return p;
}

static void test_namespaces(void **state)
{
	struct agent_registry r;
	struct agent_namespace *ns;

	(void)state;
	registry_init(&r);
	assert_null(registry_ns_get(&r, "prod", false));
	ns = registry_ns_get(&r, "prod", true);
	assert_non_null(ns);
	assert_string_equal(ns->name, "prod");
	assert_non_null(sluice_labels_find(&ns->labels, "k8s", AGENT_NS_NAME_LABEL));
	assert_string_equal(sluice_labels_find(&ns->labels, "k8s", AGENT_NS_NAME_LABEL)->value, "prod");
	assert_ptr_equal(registry_ns_get(&r, "prod", false), ns);
	assert_int_equal(r.nnss, 1);
	registry_free(&r);
}

static void test_pods_find_remove(void **state)
{
	struct agent_registry r;
	struct agent_pod *web, *db, *far;
	uint8_t addr[16] = { 0 };

	(void)state;
	registry_init(&r);
	web = add_pod(&r, "default", "web", "web", 0x0a000002, false);
	db = add_pod(&r, "default", "db", "db", 0x0a000003, false);
	far = add_pod(&r, "default", "far", "web", 0x0a010002, true);
	assert_int_equal(r.npods, 2);
	assert_int_equal(r.nremotes, 1);
	assert_ptr_equal(registry_pod_find(&r, "default", "web"), web);
	assert_null(registry_pod_find(&r, "other", "web"));
	/* a remote pod is found as remote only */
	assert_null(registry_pod_find(&r, "default", "far"));
	assert_ptr_equal(registry_remote_find(&r, "default", "far"), far);
	assert_ptr_equal(registry_at(&r, 0), web);
	assert_ptr_equal(registry_at(&r, 2), far);

	addr[10] = addr[11] = 0xff; /* ::ffff:10.1.0.2 */
	addr[12] = 10, addr[13] = 1, addr[14] = 0, addr[15] = 2;
	assert_null(registry_pod_by_addr(&r, addr, false));
	assert_ptr_equal(registry_pod_by_addr(&r, addr, true), far);
	addr[13] = 0, addr[15] = 3;
	assert_ptr_equal(registry_pod_by_addr(&r, addr, false), db);

	/* same labels, same namespace: one identity, two references */
	assert_int_equal(web->identity, far->identity);
	assert_int_equal(sluice_idt_refcount(r.idt, web->identity), 2);
	assert_true(db->identity != web->identity);

	assert_true(registry_pod_remove(&r, web));
	assert_false(registry_pod_remove(&r, web));
	assert_int_equal(r.npods, 1);
	assert_ptr_equal(r.pods[0], db);
	registry_identity_release(&r, web->identity);
	assert_int_equal(sluice_idt_refcount(r.idt, far->identity), 1);
	registry_pod_free(web);
	registry_free(&r);
}

static void test_identity_follows_namespace(void **state)
{
	struct agent_registry r;
	struct sluice_labels app = labels1("app", "web"), team = labels1("team", "a");
	uint32_t in_default, in_prod, again, after;

	(void)state;
	registry_init(&r);
	in_default = registry_identity(&r, "default", &app);
	in_prod = registry_identity(&r, "prod", &app);
	again = registry_identity(&r, "prod", &app);
	assert_true(in_default && in_prod);
	assert_true(in_default != in_prod); /* the namespace is part of the identity */
	assert_int_equal(again, in_prod);
	/* namespace labels are part of it too */
	assert_int_equal(registry_ns_labels_edit(&r, "prod", &team, NULL, 0, NULL), 0);
	after = registry_identity(&r, "prod", &app);
	assert_true(after != in_prod);
	/* a cluster identity the table knows is kept by number */
	{
		struct agent_pod *p = registry_pod_new("prod", "x", &team, NULL, 0);

		assert_int_equal(registry_identity_of(&r, p, in_default), in_default);
		assert_int_equal(sluice_idt_refcount(r.idt, in_default), 2);
		/* an unknown one: from the labels */
		assert_int_equal(registry_identity_of(&r, p, 999999),
				 registry_identity(&r, "prod", &team));
		registry_pod_free(p);
	}
	sluice_labels_free(&app);
	sluice_labels_free(&team);
	registry_free(&r);
}

static void test_ns_labels_edit(void **state)
{
	struct agent_registry r;
	struct sluice_labels bad = labels1(AGENT_NS_NAME_LABEL, "other"), team = labels1("team", "a");
	char *remove[] = { "team", AGENT_NS_NAME_LABEL };
	const struct agent_namespace *ns;
	char *err = NULL;

	(void)state;
	registry_init(&r);
	assert_int_equal(registry_ns_labels_edit(&r, "prod", &bad, NULL, 0, &err), -EINVAL);
	assert_non_null(err);
	assert_non_null(strstr(err, AGENT_NS_NAME_LABEL));
	free(err);
	ns = registry_ns_get(&r, "prod", false);
	assert_string_equal(sluice_labels_find(&ns->labels, "k8s", AGENT_NS_NAME_LABEL)->value, "prod");
	assert_int_equal(registry_ns_labels_edit(&r, "prod", &team, NULL, 0, NULL), 0);
	assert_int_equal(ns->labels.n, 2);
	/* the name label cannot be removed either */
	assert_int_equal(registry_ns_labels_edit(&r, "prod", NULL, remove, 2, NULL), 0);
	assert_int_equal(ns->labels.n, 1);
	assert_non_null(sluice_labels_find(&ns->labels, "k8s", AGENT_NS_NAME_LABEL));
	sluice_labels_free(&bad);
	sluice_labels_free(&team);
	registry_free(&r);
}

static void test_labels_edit(void **state)
{
	struct sluice_labels l = labels1("app", "web"), set = labels1("tier", "front");
	char *remove[] = { "app" };

	(void)state;
	registry_labels_edit(&l, &set, remove, 1);
	assert_int_equal(l.n, 1);
	assert_string_equal(sluice_labels_find(&l, "k8s", "tier")->value, "front");
	sluice_labels_free(&l);
	sluice_labels_free(&set);
}

static void test_ipam(void **state)
{
	struct agent_registry r;
	uint32_t net = 0x0a000000, ip, seen[16];
	size_t n = 0;

	(void)state;
	registry_init(&r);
	r.next_ip_offset = 2;
	/* a /28: .2 .. .14 (network, .1 and broadcast are never handed out) */
	while (registry_ipam_next(&r, net, 28, &ip) == 0 && n < 16) {
		struct agent_pod *p = registry_pod_new("d", "p", NULL, NULL, 0);

		assert_true(ip >= net + 2 && ip <= net + 14);
		p->net.ip = ip;
		p->name[0] = (char)('a' + n);
		registry_pod_add(&r, p);
		seen[n++] = ip;
	}
	assert_int_equal(n, 13);
	assert_int_equal(registry_ipam_next(&r, net, 28, &ip), -ENOSPC);
	/* next-fit: a freed address is found again only once the cursor
	 * comes round to it */
	{
		struct agent_pod *p = r.pods[4];

		assert_true(registry_pod_remove(&r, p));
		registry_pod_free(p);
	}
	assert_int_equal(registry_ipam_next(&r, net, 28, &ip), 0);
	assert_int_equal(ip, seen[4]);
	/* no room in a /31 */
	assert_int_equal(registry_ipam_next(&r, net, 31, &ip), -ENOSPC);
	registry_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_namespaces),
		cmocka_unit_test(test_pods_find_remove),
		cmocka_unit_test(test_identity_follows_namespace),
		cmocka_unit_test(test_ns_labels_edit),
		cmocka_unit_test(test_labels_edit),
		cmocka_unit_test(test_ipam),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
