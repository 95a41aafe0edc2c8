/* SPDX-License-Identifier: Apache-2.0 */
/*
 * state_codec.h - the agent's state files as pure serialisation: the
 * registry <-> pods.json and the policy sources <-> state.json (the policy
 * texts themselves are files of their own, see state.c). No file, map or
 * netns is touched here; state.c does the I/O and the restore's checks and
 * datapath writes. Round trips are unit-tested (tests/unit/agent/test_state_codec.c).
 */
#ifndef SLUICE_AGENT_STATE_CODEC_H
#define SLUICE_AGENT_STATE_CODEC_H

#include <jansson.h>
#include <stdint.h>

#include "registry.h"

#define STATE_VERSION 1

/* pods.json: namespaces, pods (local and remote) with their identities,
 * the cluster identities (Kubernetes mode) and the counters that number
 * endpoints and addresses. */
json_t *state_registry_json(const struct agent_registry *r);
/*
 * The inverse, into an empty registry: namespaces, the identities restored
 * by number, and every pod record listed with the identity number it was
 * saved with, but no reference taken on it: the caller first drops the
 * pods that are gone, then claims the others' identities
 * (state_registry_claim). -EINVAL with a message when the document is not
 * a pods.json of this version.
 */
int state_registry_parse(json_t *root, struct agent_registry *r, char **err);
/* A reference on each listed pod's identity: a local pod's follows its
 * labels, a remote pod's cluster identity is kept by number. */
void state_registry_claim(struct agent_registry *r);

/* One policy source as state.json names it. */
struct state_policy_ref {
	int kind;
	const char *ns;   /* NULL: clusterwide */
	const char *name;
	const char *file;
	const char *text_file; /* under policies/, NULL: none */
	const char *text;      /* inline text (older state files), or NULL */
};
/* state.json: the policy sources in force and the text file counter. */
json_t *state_policies_json(const struct state_policy_ref *v, size_t n, uint64_t next_text);
/* The inverse: *v (free() it; its strings point into root) and *n,
 * *next_text. -EINVAL with a message when root is not of this version. */
int state_policies_parse(json_t *root, struct state_policy_ref **v, size_t *n, uint64_t *next_text,
			 char **err);

#endif
