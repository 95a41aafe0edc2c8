/* SPDX-License-Identifier: Apache-2.0 */
/*
 * identity.h - labels and the identity allocator.
 *
 * One numeric identity per distinct set of identity-relevant labels.
 * Reserved identities 1..8 exist from the start with labels
 * "reserved:host", "reserved:world", ... Pod identities are allocated from
 * SLUICE_ID_CLUSTER_MIN up, reference counted, and the same label set always
 * maps to the same identity while it is referenced. A released identity
 * number is not reused before all higher numbers have been tried, so a
 * stale flow record never names a newer, different identity by accident;
 * the same label set acquired again gets its old number back while that
 * number is still free (a recreated pod keeps its identity).
 *
 * Label sets with a "cidr:" label are CIDR identities, numbered from
 * SLUICE_ID_LOCAL_MIN; sluice_policy_compile() keeps exactly the ones the
 * policy set names. sluice_idt_restore() takes either range by labels.
 */
#ifndef SLUICE_IDENTITY_H
#define SLUICE_IDENTITY_H

#include "sluice/policy.h"

/* labels.c */
int sluice_labels_add(struct sluice_labels *l, const char *source,
		      const char *key, const char *value); /* keeps sorted; replaces */
int sluice_labels_remove(struct sluice_labels *l, const char *source,
			 const char *key);
const struct sluice_label *sluice_labels_find(const struct sluice_labels *l,
					      const char *source, const char *key);
int sluice_labels_copy(struct sluice_labels *dst, const struct sluice_labels *src);
int sluice_labels_equal(const struct sluice_labels *a, const struct sluice_labels *b);
void sluice_labels_free(struct sluice_labels *l);
/* "k8s:app=frontend,k8s:io.kubernetes.pod.namespace=default" (sorted) */
char *sluice_labels_format(const struct sluice_labels *l);
/* Parses "k=v,k2=v2" (source defaults to default_source). Returns 0 or -EINVAL. */
int sluice_labels_parse(struct sluice_labels *out, const char *text,
			const char *default_source, char **err);

/*
 * Builds the identity-relevant labels of a pod, as Cilium does: the pod's
 * labels (source k8s), k8s:io.kubernetes.pod.namespace=NS,
 * k8s:io.cilium.k8s.policy.cluster=default, and one
 * k8s:io.cilium.k8s.namespace.labels.K=V per namespace label.
 */
int sluice_pod_identity_labels(struct sluice_labels *out, const char *ns,
			       const struct sluice_labels *pod_labels,
			       const struct sluice_labels *ns_labels);

/* identity.c */
struct sluice_identity_table;

struct sluice_identity_table *sluice_idt_new(void);
void sluice_idt_free(struct sluice_identity_table *t);
/* Returns the identity for labels, allocating it or taking a reference. 0 on error. */
uint32_t sluice_idt_acquire(struct sluice_identity_table *t,
			    const struct sluice_labels *labels);
/* Drops one reference; a pod identity without references is freed. */
void sluice_idt_release(struct sluice_identity_table *t, uint32_t id);
/* Labels of an identity, or NULL when unknown. */
const struct sluice_labels *sluice_idt_labels(const struct sluice_identity_table *t,
					      uint32_t id);
uint32_t sluice_idt_refcount(const struct sluice_identity_table *t, uint32_t id);
/* Iterates identities in ascending numeric order, reserved ones included. */
size_t sluice_idt_count(const struct sluice_identity_table *t);
uint32_t sluice_idt_at(const struct sluice_identity_table *t, size_t i);
/* The labels of the i-th identity as sluice_labels_format() writes them
 * (kept by the table: not formatted again), or NULL past the end. */
const char *sluice_idt_text_at(const struct sluice_identity_table *t, size_t i);
/* Changes whenever an identity is allocated or freed. */
uint64_t sluice_idt_generation(const struct sluice_identity_table *t);
/*
 * Kubernetes mode: the API server's addresses that are neither this node's
 * nor another node's (an API server outside the cluster: a managed control
 * plane). The compiler gives each a CIDR identity of its own labelled
 * reserved:kube-apiserver, which the kube-apiserver entity selects, as
 * Cilium does. ips: IPv4 in host order; a change bumps the generation.
 */
int sluice_idt_set_apiservers_external(struct sluice_identity_table *t, const uint32_t *ips, size_t n);
const uint32_t *sluice_idt_apiservers_external(const struct sluice_identity_table *t, size_t *n);
/*
 * Kubernetes mode: the API server listens on one of this node's addresses.
 * The host identity then also carries reserved:kube-apiserver, as in
 * Cilium, so the kube-apiserver entity names the host too. (On another
 * node it is identity 7, whose labels are reserved:kube-apiserver and
 * reserved:remote-node.) A change counts as an identity change.
 */
void sluice_idt_set_apiserver_on_host(struct sluice_identity_table *t, bool on);
bool sluice_idt_apiserver_on_host(const struct sluice_identity_table *t);
/* Restores an identity with a known number (agent restart). -EEXIST on clash.
 * It holds no reference: acquiring its labels takes the first one, and a
 * release of an identity without references frees it. */
int sluice_idt_restore(struct sluice_identity_table *t, uint32_t id,
		       const struct sluice_labels *labels);

/* Kubernetes mode: labels the table holds under another number get id
 * (two nodes allocated them at once; the cluster's oldest object won).
 * Later acquires of the labels return id; the old number keeps its
 * references until they are released. -EEXIST if id is taken. */
int sluice_idt_rebind(struct sluice_identity_table *t, uint32_t id,
		      const struct sluice_labels *labels);

/* selector.c */
bool sluice_selector_matches(const struct sluice_selector *s,
			     const struct sluice_labels *labels);
bool sluice_selector_is_wildcard(const struct sluice_selector *s);

#endif /* SLUICE_IDENTITY_H */
