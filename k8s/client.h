/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client.h - a small Kubernetes API client on the agent's libuv loop:
 * configuration (kubeconfig or in-cluster), one-shot requests, and
 * reflectors (LIST then WATCH of one collection, with a cache).
 *
 * This header is the contract between the client library (k8s/) and the
 * agent's Kubernetes source (agent/k8s_*.c). HTTPS with OpenSSL, HTTP/1.1
 * with llhttp, JSON with jansson; nothing here ever blocks the loop.
 *
 * Errors follow the project convention: functions return 0 or -errno and
 * fill *err with a malloc'd message for people (sl_fail).
 */
#ifndef SLUICE_K8S_CLIENT_H
#define SLUICE_K8S_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* Where the API server is and who we are. Every string is malloc'd or NULL. */
struct k8s_config {
	char *server;     /* "https://host:port" (http:// allowed for tests) */
	char *ca_file;    /* PEM bundle to verify the server; NULL: system roots */
	char *ca_data;    /* or the PEM itself (kubeconfig certificate-authority-data) */
	char *token_file; /* bearer token re-read at least every minute and on 401 */
	char *token;      /* or a fixed bearer token */
	char *cert_file, *key_file; /* client certificate (PEM files) */
	char *cert_data, *key_data; /* or the PEM itself (kubeconfig *-data) */
	char *namespace;  /* the pod's own namespace in-cluster, else "default" */
	bool insecure;    /* insecure-skip-tls-verify */
};

/* kubeconfig: current-context (or `context` when not NULL), its cluster and
 * user; errors name the file and the field. */
int k8s_config_from_kubeconfig(const char *path, const char *context,
			       struct k8s_config *out, char **err);
/* KUBERNETES_SERVICE_HOST/_PORT and /var/run/secrets/kubernetes.io/
 * serviceaccount/{token,ca.crt,namespace}; `sa_dir` overrides that folder
 * (tests), NULL for the default. */
int k8s_config_in_cluster(const char *sa_dir, struct k8s_config *out, char **err);
void k8s_config_free(struct k8s_config *cfg);
/* Decodes base64 as the API serialises []byte (kubeconfig *-data, Secret
 * data; whitespace allowed, padding optional) into a NUL-terminated
 * malloc'd buffer; NULL when it is not base64. */
char *k8s_b64_decode(const char *in, size_t *len_out);

struct k8s_client;
int k8s_client_new(uv_loop_t *loop, const struct k8s_config *cfg,
		   struct k8s_client **out, char **err);
/* Stops every watch and request of this client (their callbacks are not
 * called any more) and frees it once the loop has closed its handles. */
void k8s_client_free(struct k8s_client *c);

/* One request. `status` is the HTTP status, 0 when no answer came
 * (`errmsg` says why; for a status >= 400 it holds "HTTP 409: <the Status
 * message>"); `body` is the parsed JSON answer or NULL, borrowed for
 * the duration of the callback. The callback never runs before k8s_request
 * returns; a 401 re-reads a token file and retries once. `body_in` may be NULL; content_type NULL
 * means application/json (use "application/merge-patch+json" for PATCH). */
typedef void (*k8s_response_cb)(void *ctx, int status, json_t *body, const char *errmsg);
int k8s_request(struct k8s_client *c, const char *method, const char *path,
		const char *content_type, json_t *body_in, k8s_response_cb cb, void *ctx);

/* Reflector: LIST (resourceVersion=0), then WATCH from the list's
 * resourceVersion with allowWatchBookmarks and a randomised timeoutSeconds;
 * a clean end re-watches from the last resourceVersion; an in-stream ERROR
 * 410 or an HTTP 410 re-LISTs and diffs the list against the cache
 * (synthetic DELETED for what is gone); transport errors back off
 * exponentially with jitter and a cap; a 401 re-reads the token. */
enum k8s_event_type { K8S_ADDED, K8S_MODIFIED, K8S_DELETED };

struct k8s_watch_ops {
	/* obj is borrowed: json_incref it to keep it. For DELETED it is the
	 * last state known. Objects from a LIST get the list's kind and
	 * apiVersion filled in, so they look like watch events' objects. ADDED
	 * means a key the cache did not hold, MODIFIED one it did. */
	void (*event)(void *ctx, enum k8s_event_type type, json_t *obj);
	/* every (re)list has been delivered in full, deletions included: the
	 * cache equals the server's state at that resourceVersion */
	void (*synced)(void *ctx);
	/* optional: the collection is not served (404) or forbidden (403) */
	void (*failed)(void *ctx, int status, const char *msg);
};

struct k8s_watch;
/* path: a collection, e.g. "/api/v1/pods" or "/apis/cilium.io/v2/
 * ciliumnetworkpolicies"; query: extra selectors ("fieldSelector=
 * spec.nodeName%3Dnode1") or NULL. */
int k8s_watch_start(struct k8s_client *c, const char *path, const char *query,
		    const struct k8s_watch_ops *ops, void *ctx,
		    struct k8s_watch **out, char **err);
void k8s_watch_stop(struct k8s_watch *w);
/* The cache: the object ns/name (ns NULL for cluster-scoped) or NULL; borrowed. */
json_t *k8s_watch_get(struct k8s_watch *w, const char *ns, const char *name);
/* Calls fn for every cached object. */
void k8s_watch_foreach(struct k8s_watch *w, void (*fn)(void *ctx, json_t *obj), void *ctx);
bool k8s_watch_synced(const struct k8s_watch *w);
/* A watch waiting to list again after a 403/404: list now, with its
 * refusal backoff reset (the caller saw a change that may have granted
 * access). false when the watch is not waiting for that. */
bool k8s_watch_retry_now(struct k8s_watch *w);
/* consecutive 403/404 answers to its LIST and the delay chosen after the
 * last one (0, 0 once a list succeeded) */
void k8s_watch_refusals(const struct k8s_watch *w, unsigned *refusals, uint64_t *delay_ms);

/* Counters for `sluice status` and metrics.
 * Test knobs, read by k8s_client_new from the environment:
 * SLUICE_K8S_WATCH_TIMEOUT=N (every watch asks timeoutSeconds=N instead of a
 * random 300-600), SLUICE_K8S_PAGE_SIZE=N (LIST limit, default 500),
 * SLUICE_K8S_DEBUG=1 (each request and watch transition on stderr),
 * SLUICE_K8S_TOKEN_MAX_AGE=N (re-read the token file every N s instead of
 * 60 s; a 401 still re-reads it at once), SLUICE_K8S_REFUSED_RETRY_MS=BASE,CAP
 * (the backoff of a collection answered 403/404, default 1000,30000).
 * errors: transport failures, 5xx, 429, 401 and the like; 403 and 404
 * are counted apart (forbidden, not_found): RBAC and absent CRDs or
 * objects, not the server's health. */
struct k8s_client_stats {
	uint64_t requests, errors, relists, rewatches, events;
	uint64_t forbidden, not_found;
	uint64_t token_reloads; /* re-reads of the token file that found a new token */
	uint64_t connections;   /* one-shot requests that opened a connection */
	uint64_t reused;        /* one-shot requests sent on a kept-alive one */
};
void k8s_client_stats(const struct k8s_client *c, struct k8s_client_stats *out);

#endif
