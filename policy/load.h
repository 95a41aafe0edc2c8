/* SPDX-License-Identifier: Apache-2.0 */
/*
 * load.h - the pieces of the loader shared by the Cilium (load_cilium.c)
 * and Kubernetes (load_k8s.c) decoders. Internal to the policy library.
 *
 * Decoders write into a zeroed struct sluice_policy and report every problem
 * through y_error(); arrays are allocated with their final length first so
 * that sluice_policy_free() can release a half-decoded policy.
 */
#ifndef SLUICE_POLICY_LOAD_H
#define SLUICE_POLICY_LOAD_H

#include "yaml.h"

/* load_cilium.c */
void cilium_load_document(struct yctx *c, y_node_t *root, struct sluice_policy *p);
/* matchLabels / matchExpressions, keys with an optional "source:" prefix */
void load_selector(struct yctx *c, y_node_t *n, struct sluice_selector *out);
/* "10.0.0.0/8", "2001:db8::/32" or a bare address; false after an error */
bool load_cidr(struct yctx *c, y_node_t *n, struct sluice_cidr *out);
/* load_cidr() of a prefix only ("10.0.0.1" refused): CIDR sets, ipBlock */
bool load_prefix(struct yctx *c, y_node_t *n, struct sluice_cidr *out);
/* inner lies inside outer (equal counts) */
bool load_cidr_contains(const struct sluice_cidr *outer, const struct sluice_cidr *inner);
/* Cilium's namespace scoping of a peer selector (see load_cilium.c). */
int load_scope_peer_selector(struct sluice_selector *s, const char *ns);

/* One item of a rule's ingress, egress, ingressDeny or egressDeny list,
 * its text span recorded. */
void cilium_peer_item(struct yctx *c, y_node_t *n, enum sluice_section section, const char *ns,
		      struct sluice_peer_rule *out);
/* the warning for http rules an L4 allow of the same list makes useless,
 * or (open: the rule says enableDefaultDeny: false for the list's
 * direction) that every http rule of the list is */
void cilium_lint_shadowed(struct yctx *c, const char *section,
			  const struct sluice_peer_rule *v, size_t n, bool open);
bool cilium_item_has_http(const struct sluice_peer_rule *it);

/* cidr_group.c */
void cilium_load_cidr_group(struct yctx *c, y_node_t *root, struct sluice_policy *p);

/* load_k8s.c */
void k8s_load_document(struct yctx *c, y_node_t *root, struct sluice_policy *p);

/* load.c */
/* metadata.name / .namespace; namespaced policies default to "default" */
void load_metadata(struct yctx *c, y_node_t *root, struct sluice_policy *p,
		   bool namespaced);
bool load_is_dns1123_label(const char *s);
bool load_is_dns1123_subdomain(const char *s);
bool load_is_iana_svc_name(const char *s);
/* why a label key (source prefix taken off) or value is not Kubernetes'
 * (IsQualifiedName, IsValidLabelValue), or NULL when it is */
const char *load_label_key_problem(const char *key);
const char *load_label_value_problem(const char *value);
/* "0".."65535" (or an int scalar) -> 0 and *port; else -1 */
int load_parse_uint16(const char *s, uint16_t *port);

#endif /* SLUICE_POLICY_LOAD_H */
