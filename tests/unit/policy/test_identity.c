// SPDX-License-Identifier: Apache-2.0
/* test_identity.c - the identity allocator. */
#include "testutil.h"

static struct sluice_labels L(const char *text)
{
	struct sluice_labels l = { 0 };

	assert_int_equal(sluice_labels_parse(&l, text, "k8s", NULL), 0);
	return l;
}

static void test_reserved(void **state)
{
	(void)state;
	struct sluice_identity_table *t = sluice_idt_new();
	static const char *const names[] = { NULL, "host", "world", "unmanaged", "health", "init",
					     "remote-node", "kube-apiserver", "ingress" };

	assert_non_null(t);
	assert_int_equal(sluice_idt_count(t), 8);
	for (uint32_t id = 1; id <= 8; id++) {
		const struct sluice_labels *l = sluice_idt_labels(t, id);

		assert_int_equal(sluice_idt_at(t, id - 1), id);
		/* Cilium's 7: the API server on a node, reserved:kube-apiserver
		 * and reserved:remote-node */
		assert_int_equal(l->n, id == SLUICE_ID_KUBE_APISERVER ? 2 : 1);
		assert_string_equal(l->v[0].source, "reserved");
		assert_string_equal(l->v[0].key, names[id]);
		assert_string_equal(l->v[0].value, "");
	}
	assert_string_equal(sluice_idt_labels(t, SLUICE_ID_KUBE_APISERVER)->v[1].key, "remote-node");
	/* the API server on the host: an identity change (recompile) */
	uint64_t gen = sluice_idt_generation(t);
	assert_false(sluice_idt_apiserver_on_host(t));
	sluice_idt_set_apiserver_on_host(t, true);
	assert_true(sluice_idt_apiserver_on_host(t));
	assert_true(sluice_idt_generation(t) != gen);
	gen = sluice_idt_generation(t);
	sluice_idt_set_apiserver_on_host(t, true);
	assert_int_equal(sluice_idt_generation(t), gen);
	sluice_idt_set_apiserver_on_host(t, false);
	/* acquiring reserved labels gives the reserved id; release keeps it */
	struct sluice_labels w = L("reserved:world");
	assert_int_equal(sluice_idt_acquire(t, &w), SLUICE_ID_WORLD);
	sluice_idt_release(t, SLUICE_ID_WORLD);
	sluice_idt_release(t, SLUICE_ID_WORLD);
	assert_non_null(sluice_idt_labels(t, SLUICE_ID_WORLD));
	assert_null(sluice_idt_labels(t, 9));
	sluice_labels_free(&w);
	sluice_idt_free(t);
}

static void test_acquire_release(void **state)
{
	(void)state;
	struct sluice_identity_table *t = sluice_idt_new();
	struct sluice_labels a = L("app=a,io.kubernetes.pod.namespace=x");
	struct sluice_labels a2 = L("io.kubernetes.pod.namespace=x,app=a");
	struct sluice_labels b = L("app=b");
	struct sluice_labels c = L("app=c");
	uint32_t ia, ib, ic;

	ia = sluice_idt_acquire(t, &a);
	assert_int_equal(ia, 256);
	assert_int_equal(sluice_idt_acquire(t, &a2), ia); /* same labels, same id */
	assert_int_equal(sluice_idt_refcount(t, ia), 2);
	ib = sluice_idt_acquire(t, &b);
	assert_int_equal(ib, 257);
	assert_true(sluice_labels_equal(sluice_idt_labels(t, ia), &a));
	assert_int_equal(sluice_idt_count(t), 10);
	assert_int_equal(sluice_idt_at(t, 8), 256);
	assert_int_equal(sluice_idt_at(t, 9), 257);

	sluice_idt_release(t, ia);
	assert_int_equal(sluice_idt_refcount(t, ia), 1);
	assert_non_null(sluice_idt_labels(t, ia));
	sluice_idt_release(t, ia);
	assert_int_equal(sluice_idt_refcount(t, ia), 0);
	assert_null(sluice_idt_labels(t, ia));
	sluice_idt_release(t, ia); /* unknown: ignored */

	/* a freed number is not given to other labels right away */
	ic = sluice_idt_acquire(t, &c);
	assert_int_equal(ic, 258);
	/* but the same labels coming back get their number again */
	assert_int_equal(sluice_idt_acquire(t, &a), 256);
	sluice_idt_release(t, ic);
	sluice_idt_release(t, 256);
	ia = sluice_idt_acquire(t, &a);
	assert_int_equal(ia, 256);
	assert_int_equal(sluice_idt_acquire(t, &c), 258);

	/* restore: known number, clash detection */
	struct sluice_labels d = L("app=d");
	assert_int_equal(sluice_idt_restore(t, 1000, &d), 0);
	assert_int_equal(sluice_idt_restore(t, 1000, &c), -17);
	assert_int_equal(sluice_idt_restore(t, 1001, &d), -17);
	assert_int_equal(sluice_idt_restore(t, 5, &d), -22);
	assert_int_equal(sluice_idt_refcount(t, 1000), 0);
	assert_int_equal(sluice_idt_acquire(t, &d), 1000);
	assert_int_equal(sluice_idt_refcount(t, 1000), 1);
	assert_int_equal(sluice_idt_at(t, sluice_idt_count(t) - 1), 1000);
	sluice_idt_release(t, 1000);
	assert_null(sluice_idt_labels(t, 1000));
	/* a restored identity nobody acquires is dropped by a release */
	assert_int_equal(sluice_idt_restore(t, 2000, &d), 0);
	sluice_idt_release(t, 2000);
	assert_null(sluice_idt_labels(t, 2000));

	sluice_labels_free(&a);
	sluice_labels_free(&a2);
	sluice_labels_free(&b);
	sluice_labels_free(&c);
	sluice_labels_free(&d);
	sluice_idt_free(t);
}

static void test_many(void **state)
{
	(void)state;
	struct sluice_identity_table *t = sluice_idt_new();
	uint32_t ids[3000];

	for (int i = 0; i < 3000; i++) {
		char buf[64];
		struct sluice_labels l;

		snprintf(buf, sizeof(buf), "app=a%d", i);
		l = L(buf);
		ids[i] = sluice_idt_acquire(t, &l);
		assert_int_equal(ids[i], 256 + (uint32_t)i);
		sluice_labels_free(&l);
	}
	for (int i = 0; i < 3000; i += 2)
		sluice_idt_release(t, ids[i]);
	assert_int_equal(sluice_idt_count(t), 8 + 1500);
	for (size_t i = 1; i < sluice_idt_count(t); i++)
		assert_true(sluice_idt_at(t, i - 1) < sluice_idt_at(t, i));
	struct sluice_labels l = L("app=new");
	assert_int_equal(sluice_idt_acquire(t, &l), 256 + 3000);
	sluice_labels_free(&l);
	sluice_idt_free(t);
}

/* Kubernetes mode: the cluster's number for labels the table holds under
 * another one (two nodes raced); pods move one by one. */
static void test_rebind(void **state)
{
	(void)state;
	struct sluice_identity_table *t = sluice_idt_new();
	struct sluice_labels a = L("app=a"), b = L("app=b");
	uint32_t old = sluice_idt_acquire(t, &a);

	assert_int_equal(sluice_idt_acquire(t, &a), old); /* two pods */
	assert_int_equal(sluice_idt_rebind(t, old, &a), -17);
	assert_int_equal(sluice_idt_rebind(t, 5, &a), -22);
	assert_int_equal(sluice_idt_rebind(t, 4000, &a), 0);
	assert_int_equal(sluice_idt_refcount(t, 4000), 0);
	/* new acquires get the winner; the old number keeps its references */
	assert_int_equal(sluice_idt_acquire(t, &a), 4000);
	assert_int_equal(sluice_idt_refcount(t, old), 2);
	sluice_idt_release(t, old);
	sluice_idt_release(t, old);
	assert_null(sluice_idt_labels(t, old));
	/* releasing the old number did not unmap the winner */
	assert_int_equal(sluice_idt_acquire(t, &a), 4000);
	assert_int_equal(sluice_idt_refcount(t, 4000), 2);
	/* labels the table does not hold: a plain restore */
	assert_int_equal(sluice_idt_rebind(t, 4001, &b), 0);
	assert_int_equal(sluice_idt_acquire(t, &b), 4001);
	sluice_labels_free(&a);
	sluice_labels_free(&b);
	sluice_idt_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reserved),
		cmocka_unit_test(test_acquire_release),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_rebind),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
