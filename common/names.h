/* SPDX-License-Identifier: Apache-2.0 */
/*
 * names.h - Kubernetes' rules for object names and labels, checked where a
 * name or label enters sluice (the agent's API, which is the trust
 * boundary, and the CLI, which fails early with the same words).
 *
 *   namespace          DNS-1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, <= 63
 *   pod name           DNS-1123 subdomain: such labels joined by '.', <= 253
 *   label key          [prefix/]name: prefix a DNS-1123 subdomain (<= 253),
 *                      name <= 63 of [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?
 *   label value        empty, or <= 63 of the name alphabet above
 *
 * Keys carrying a label source ("reserved:host", "k8s:app") are refused:
 * sources are sluice's own bookkeeping, never a user's to set.
 * Each check returns 0, or -EINVAL with a message naming the offending text
 * (control characters escaped) and the rule it breaks.
 */
#ifndef SLUICE_NAMES_H
#define SLUICE_NAMES_H

#include <stddef.h>

int sl_check_namespace(const char *ns, char **err);
int sl_check_pod_name(const char *name, char **err);
int sl_check_label_key(const char *key, char **err);
int sl_check_label_value(const char *key, const char *value, char **err);

/*
 * Services (Kubernetes' rules again):
 *   service name       DNS-1035 label: [a-z]([-a-z0-9]*[a-z0-9])?, <= 63
 *   service port name  DNS-1123 label (as above for namespaces)
 *   named target port  IANA_SVC_NAME: <= 15 of [a-z0-9-], at least one
 *                      letter, no leading, trailing or doubled '-'
 */
int sl_check_service_name(const char *name, char **err);
int sl_check_port_name(const char *what, const char *name, char **err);
int sl_check_target_port_name(const char *name, char **err);

/* Copies s into buf (always NUL-terminated) with control characters, DEL
 * and backslash written as C escapes (\n, \t, \x1b, \\), so that a table
 * line can never be split or recoloured by what a user typed. */
const char *sl_escape_ctl(const char *s, char *buf, size_t len);
/* The same for the first slen bytes of s (or up to its NUL). */
const char *sl_escape_ctl_n(const char *s, size_t slen, char *buf, size_t len);

#endif
