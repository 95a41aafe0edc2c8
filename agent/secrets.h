/* SPDX-License-Identifier: Apache-2.0 */
/*
 * secrets.h - the agent's secrets: what terminatingTLS / originatingTLS
 * name. One store, fed by its sources (standalone: `sluice secret ...`
 * through the local API; Kubernetes: the API server's secrets), read by the
 * policy checks at apply and by the proxy feed.
 *
 * A secret is Kubernetes-shaped: namespace, name, type ("kubernetes.io/tls"
 * or "Opaque"), and data items (key -> bytes). Standalone secrets persist
 * in <state-dir>/secrets/<namespace>/<name>.json, mode 0600 in a 0700
 * folder; private keys never leave the agent except to the proxy (over its
 * 0600 control socket), never through `get` or `list`.
 */
#ifndef SLUICE_AGENT_SECRETS_H
#define SLUICE_AGENT_SECRETS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/policy.h"

struct agent;
struct api_client;
struct sluice_compiled;
struct sluice_l7_policy;

#define AGENT_SECRET_TLS "kubernetes.io/tls"
#define AGENT_SECRET_OPAQUE "Opaque"

struct agent_secret_item {
	char *key;
	unsigned char *data;
	size_t len;
};

struct agent_secret {
	char *ns, *name, *type;
	struct agent_secret_item *items;
	size_t n;
	int64_t created;   /* unix seconds */
};

/* Loads the persisted secrets (start-up); a broken file is skipped and named. */
int agent_secrets_load(struct agent *a, char **err);
void agent_secrets_free(struct agent *a);

const struct agent_secret *agent_secret_find(struct agent *a, const char *ns, const char *name);
/*
 * Adds (or, with overwrite, replaces) a secret after checking it: names,
 * key names, and for kubernetes.io/tls a PEM certificate and a private key
 * that belong together. persist: write it to the state dir (standalone).
 * The proxy gets the new data for its next connections.
 */
int agent_secret_set(struct agent *a, const char *ns, const char *name, const char *type,
		     const struct agent_secret_item *items, size_t n, bool overwrite, bool persist,
		     char **err);
int agent_secret_delete(struct agent *a, const char *ns, const char *name, char **err);

/*
 * Every TLS context of the set must name an existing secret holding the
 * keys its role needs (terminating: certificate and key; originating: the
 * CA): one message per problem, "file:line: field: reason". Returns the
 * number of problems. A headerMatches secret is not checked: as in Cilium,
 * a missing one fails its rule's match in the proxy (fail closed).
 */
size_t agent_secrets_check(struct agent *a, const struct sluice_policy_set *set,
			   struct sluice_diags *errors);
size_t agent_secrets_check_item(struct agent *a, const struct sluice_peer_rule *item,
				struct sluice_diags *errors);

/* What a policy names a secret for. */
enum agent_secret_use {
	AGENT_SECRET_TERMINATING, /* terminatingTLS: certificate and key */
	AGENT_SECRET_ORIGINATING, /* originatingTLS: the CA */
	AGENT_SECRET_HEADER,      /* headerMatches: one item, the value */
};

/* Calls fn for both TLS contexts (terminating, originating; either may be
 * NULL) of every port of every allow rule of p, and for the secret of each
 * of their HTTP rules' headerMatches that names one: the one walk of
 * "which secrets does this policy name". */
typedef void (*agent_secret_ref_fn)(void *ctx, const struct sluice_tls_context *t,
				    enum agent_secret_use use);
void agent_secrets_walk(const struct sluice_policy *p, agent_secret_ref_fn fn, void *ctx);

/* The proxy feed: "tls" of one L7 entry (NULL when it has none), and the
 * "secrets" object with every secret the compiled table names. */
json_t *agent_secrets_tls_json(const struct sluice_l7_policy *l);
json_t *agent_secrets_proxy_json(struct agent *a, const struct sluice_compiled *c);

/* API commands: secret.create, secret.list, secret.get, secret.delete */
json_t *agent_secrets_cmd(struct agent *a, struct api_client *c, json_t *req, char **err);

#endif /* SLUICE_AGENT_SECRETS_H */
