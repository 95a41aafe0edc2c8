// SPDX-License-Identifier: Apache-2.0
/*
 * load_k8s.c - Kubernetes NetworkPolicy (networking.k8s.io/v1) decoding.
 */
#include "load.h"

void k8s_load_document(struct yctx *c, yaml_node_t *root, struct sluice_policy *p)
{
	size_t old = y_push_field(c, "kind");

	(void)p;
	y_error(c, y_line(y_field(c, root, "kind", NULL)),
		"unsupported kind (NetworkPolicy support is coming)");
	y_pop(c, old);
}
