/* SPDX-License-Identifier: Apache-2.0 */
/*
 * internal.h - helpers shared between the policy library's files; not part
 * of the public interface in include/sluice.
 */
#ifndef SLUICE_POLICY_INTERNAL_H
#define SLUICE_POLICY_INTERNAL_H

#include "sluice/policy_api.h"

#include <stdarg.h>

/* labels.c */
/* True when s[0..len) names a label source a selector key may carry
 * ("k8s", "any", "reserved", "cidr", "unspec", "container", "cidrgroup"). */
bool labels_is_known_source(const char *s, size_t len);
/* A label set of n (source, key, value) triples given in the set's order
 * (sorted by source, then key; no two alike): one allocation per label and
 * one for the array, none of sluice_labels_add()'s searching and growing.
 * out must be empty. 0 or -ENOMEM (out left empty). */
int labels_build_sorted(struct sluice_labels *out, const char *const (*triples)[3], size_t n);
/* Splits "src:key" at the first ':' when src is a known source; otherwise
 * the whole text is the key and the source is default_source. */
int labels_split_key(const char *text, const char *default_source,
		     char **source, char **key);

/* selector.c */
void selector_free(struct sluice_selector *s);
int selector_copy(struct sluice_selector *dst, const struct sluice_selector *src);
/* Appends one requirement (copies its strings). */
int selector_add_req(struct sluice_selector *s, const char *source,
		     const char *key, enum sluice_sel_op op,
		     const char *const *values, size_t nvalues);
/* True when some requirement is on key (any source). */
bool selector_has_key(const struct sluice_selector *s, const char *key);
bool selector_has_source(const struct sluice_selector *s, const char *source);

/* identity.c: makes the CIDR identities (labels with a "cidr:" label) of t
 * exactly those of the prefixes want[0..n), each held once, keeping the
 * numbers of those already there; ids[i] is the identity of want[i].
 * labels_of gives the labels of a prefix the table does not know by its
 * prefix yet. Others are released (their numbers are remembered for their
 * labels). */
int idt_cidr_sync(struct sluice_identity_table *t, const struct sluice_cidr_ident *want, size_t n,
		  uint32_t *ids, int (*labels_of)(const struct sluice_cidr_ident *, struct sluice_labels *));
/* One CIDR identity more (0 on failure), or one less (an edit). */
uint32_t idt_cidr_add(struct sluice_identity_table *t, const struct sluice_cidr_ident *want,
		      int (*labels_of)(const struct sluice_cidr_ident *, struct sluice_labels *));
void idt_cidr_drop(struct sluice_identity_table *t, uint32_t id);

/* regex.c */
/* Compiles re as a full-match regex; 0, or -EINVAL with *err set (malloc'd). */
int regex_validate(const char *re, char **err);
/* A warning (malloc'd) for a valid regex of http field "path", "method" or
 * "host" that looks like a glob or can never match; NULL when it looks fine. */
char *regex_lint(const char *field, const char *re);
/* For an invalid regex that starts like a glob ("*", "*.example.com"): a
 * hint to append to the error (malloc'd), else NULL. */
char *regex_glob_hint(const char *field, const char *re);

/* diags.c */
void diags_vadd(struct sluice_diags *d, const char *fmt, va_list ap);

/* load.c: frees the members of one rule (used by load_*.c on error) */
void load_rule_free(struct sluice_rule *r);
void load_peer_rule_free(struct sluice_peer_rule *p);
void load_tls_context_free(struct sluice_tls_context *t);
/* List `section` of r and its length. */
struct sluice_peer_rule *rule_section(const struct sluice_rule *r, enum sluice_section section,
				      size_t *n);

#endif /* SLUICE_POLICY_INTERNAL_H */
