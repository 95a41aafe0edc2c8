/* SPDX-License-Identifier: Apache-2.0 */
/*
 * token.h - the bearer token source: a fixed token, or a token file that is
 * re-read periodically and on demand (401).
 */
#ifndef SLUICE_K8S_TOKEN_H
#define SLUICE_K8S_TOKEN_H

#include <stdbool.h>
#include <stdint.h>

struct k8s_token {
	char *fixed;        /* token from the configuration, or NULL */
	char *path;         /* token file, or NULL */
	char *current;      /* last token read from path */
	uint64_t read_ns;   /* CLOCK_MONOTONIC of that read; 0: never */
	uint64_t max_age_ns;
	uint64_t reloads;   /* successful re-reads that changed the token */
};

/* Reads the file once (an unreadable file is an error naming it). */
int k8s_token_init(struct k8s_token *t, const char *fixed, const char *path, char **err);
void k8s_token_free(struct k8s_token *t);
/* The token to send now (NULL: none). Re-reads the file when the last read
 * is older than max_age (60 s); a failed re-read keeps the last token. */
const char *k8s_token_get(struct k8s_token *t);
/* After a 401: re-read the file now. True when there is a file to re-read
 * (the caller then retries once), whether or not the token changed. */
bool k8s_token_reload(struct k8s_token *t);

#endif
