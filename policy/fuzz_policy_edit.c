/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_policy_edit.c - libFuzzer target for the loader and the one-item
 * edit path (built with -DSLUICE_FUZZ=ON, clang).
 *
 * The input is a new text for a fixed policy that is in force (its items
 * block mappings, and one flow mapping, as JSON has them). Properties
 * checked besides memory safety:
 *  - when sluice_policy_edit_prepare() takes the text as a one-item edit,
 *    a whole load of it succeeds too, and compiling incrementally
 *    (sluice_policy_compile_edit) gives exactly the whole compile's result;
 *  - when it rejects the edit, a whole load rejects the text with the same
 *    messages.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/identity.h"
#include "sluice/policy_api.h"

static const char base[] =
	"apiVersion: cilium.io/v2\n"
	"kind: CiliumNetworkPolicy\n"
	"metadata: {name: web, namespace: default}\n"
	"spec:\n"
	"  endpointSelector: {matchLabels: {app: web}}\n"
	"  ingress:\n"
	"  - fromCIDR: [10.1.0.0/16]\n"
	"    toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n"
	"  - fromCIDR:\n"
	"    - 10.1.2.3/32\n"
	"    toPorts:\n"
	"    - ports:\n"
	"      - port: \"81\"\n"
	"        protocol: TCP\n"
	"  - fromEndpoints: [{matchLabels: {app: db}}]\n"
	"    toPorts: [{ports: [{port: \"82\", protocol: TCP}]}]\n"
	"  - {fromCIDR: [10.4.0.0/16],\n"
	"     toPorts: [{ports: [{port: \"83\", protocol: TCP}]}]}\n"
	"  - toPorts:\n"
	"    - ports: [{port: \"8080\", protocol: TCP}]\n"
	"      rules: {http: [{method: GET}]}\n"
	"  ingressDeny:\n"
	"  - fromCIDR: [10.3.0.0/24]\n"
	"  egress:\n"
	"  - toEntities: [world]\n"
	"    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n"
	"  - toCIDR: [192.168.0.1/32]\n";

static uint32_t fz_pod(struct sluice_identity_table *t, const char *app)
{
	struct sluice_labels l = { 0 }, id = { 0 };
	uint32_t r;

	sluice_labels_add(&l, "k8s", "app", app);
	sluice_pod_identity_labels(&id, "default", &l, NULL);
	r = sluice_idt_acquire(t, &id);
	sluice_labels_free(&l);
	sluice_labels_free(&id);
	return r;
}

static void fz_same(const struct sluice_compiled *a, const struct sluice_compiled *b)
{
	if (a->neps != b->neps || a->ncidrs != b->ncidrs ||
	    (a->ncidrs && memcmp(a->cidrs, b->cidrs, a->ncidrs * sizeof(*a->cidrs))))
		abort();
	for (size_t i = 0; i < a->neps; i++) {
		const struct sluice_ep_compiled *x = &a->eps[i], *y = &b->eps[i];

		if (x->flags != y->flags || x->nentries != y->nentries || x->nl7 != y->nl7 ||
		    (x->nentries && memcmp(x->entries, y->entries, x->nentries * sizeof(*x->entries))))
			abort();
		for (size_t j = 0; j < x->nl7; j++) {
			if (x->l7[j].port != y->l7[j].port || x->l7[j].peer_identity != y->l7[j].peer_identity ||
			    x->l7[j].allow_all != y->l7[j].allow_all || x->l7[j].nrules != y->l7[j].nrules ||
			    x->l7[j].nserver_names != y->l7[j].nserver_names)
				abort();
			for (size_t s = 0; s < x->l7[j].nserver_names; s++)
				if (strcmp(x->l7[j].server_names[s], y->l7[j].server_names[s]))
					abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sluice_identity_table *idt = sluice_idt_new();
	struct sluice_policy_set set = { 0 }, whole = { 0 };
	struct sluice_diags e = { 0 }, w = { 0 }, we = { 0 }, ww = { 0 };
	struct sluice_compiled prev = { 0 }, inc = { 0 }, full = { 0 };
	struct sluice_compile_endpoint eps[2];
	struct sluice_policy_edit ed;
	char *text = malloc(size + 1);
	int rc, wrc;

	if (!idt || !text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	eps[0] = (struct sluice_compile_endpoint){ .ep_id = 1, .identity = fz_pod(idt, "web"),
						   .namespace = "default" };
	eps[1] = (struct sluice_compile_endpoint){ .ep_id = 2, .identity = fz_pod(idt, "db"),
						   .namespace = "default" };
	if (sluice_policy_load("p.yaml", base, strlen(base), &set, &e, &w) ||
	    sluice_policy_compile(&set, idt, eps, 2, &prev, &e))
		abort();
	rc = sluice_policy_edit_prepare(&set.v[0], "p.yaml", base, strlen(base), text, strlen(text), &ed,
					&e, &w);
	wrc = sluice_policy_load("p.yaml", text, strlen(text), &whole, &we, &ww);
	if (rc < 0) {
		/* rejected: a whole load rejects it with the same messages */
		if (!wrc || e.n != we.n)
			abort();
		for (size_t i = 0; i < e.n; i++)
			if (strcmp(e.v[i].msg, we.v[i].msg))
				abort();
	} else if (rc == 1 && !ed.unchanged) {
		if (wrc || whole.n != 1)
			abort();
		sluice_policy_edit_swap(&set.v[0], &ed);
		bool handled = false;

		if (sluice_policy_compile_edit(&set, idt, eps, 2, &prev, 0, ed.rule, ed.section, ed.index,
					       &ed.item, &inc, &handled, &e) == 0 &&
		    handled) {
			if (sluice_policy_compile(&whole, idt, eps, 2, &full, &we))
				abort();
			fz_same(&inc, &full);
		}
	}
	if (rc == 1)
		sluice_policy_edit_free(&ed);
	sluice_compiled_free(&prev);
	sluice_compiled_free(&inc);
	sluice_compiled_free(&full);
	sluice_policy_set_free(&set);
	sluice_policy_set_free(&whole);
	sluice_diags_free(&e);
	sluice_diags_free(&w);
	sluice_diags_free(&we);
	sluice_diags_free(&ww);
	sluice_idt_free(idt);
	free(text);
	return 0;
}
