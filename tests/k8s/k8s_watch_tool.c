// SPDX-License-Identifier: Apache-2.0
/*
 * k8s_watch_tool.c - drives the k8s client library against a real API
 * server for the scenario tests (tests/k8s/test_k8s_client.sh).
 *
 *   k8s_watch_tool (--kubeconfig FILE [--context C] | --in-cluster DIR)
 *                  [--watch PATH[?QUERY]]... [--state DIR]
 *
 * Prints one line per thing that happens, on stdout:
 *   EVENT i ADDED|MODIFIED|DELETED ns/name rv kind   (watch i, from 0)
 *   SYNCED i count ms                        (ms: since the tool started)
 *   FAILED i status message
 *   RESPONSE n status body-or-message          (the n-th command, from 1)
 *   STATS requests=.. errors=.. relists=.. rewatches=.. events=.. token_reloads=..
 *         connections=.. reused=..
 * With --state DIR, DIR/i holds watch i's cache as sorted "ns/name rv"
 * lines (rewritten atomically, at most every 50 ms) and DIR/i.synced the
 * number of times it synced, so scripts can compare it with kubectl.
 * Commands on stdin, one per line: "METHOD PATH [JSON-BODY]", "STATS",
 * "QUIT". EOF on stdin, SIGINT or SIGTERM also end it; the exit status is
 * non-zero when the loop still had handles after everything was freed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

#define MAX_WATCHES 16

struct tool;

struct tool_watch {
	struct tool *t;
	int index;
	struct k8s_watch *w;
	unsigned synced;
	bool dirty;
};

struct tool {
	uv_loop_t *loop;
	struct k8s_client *c;
	struct tool_watch watches[MAX_WATCHES];
	int nwatches;
	const char *state_dir;
	uv_timer_t flush;
	uv_pipe_t in;
	uv_signal_t sigint, sigterm;
	char line[1 << 16];
	size_t line_len;
	int ncommands;
	bool quitting;
	uint64_t start_ms;
};

static void print_obj_line(const char *what, int i, json_t *obj)
{
	json_t *md = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *rv = json_string_value(json_object_get(md, "resourceVersion"));
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	printf("EVENT %d %s %s%s%s %s %s\n", i, what, ns ? ns : "", ns ? "/" : "", name ? name : "?",
	       rv ? rv : "?", kind ? kind : "-");
}

static void on_event(void *ctx, enum k8s_event_type type, json_t *obj)
{
	struct tool_watch *tw = ctx;
	static const char *const names[] = {"ADDED", "MODIFIED", "DELETED"};
	print_obj_line(names[type], tw->index, obj);
	tw->dirty = true;
	fflush(stdout);
}

struct collect {
	char **lines;
	size_t n, cap;
};

static void collect_obj(void *ctx, json_t *obj)
{
	struct collect *c = ctx;
	json_t *md = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *rv = json_string_value(json_object_get(md, "resourceVersion"));
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->lines = realloc(c->lines, c->cap * sizeof(*c->lines));
	}
	size_t len = (ns ? strlen(ns) + 1 : 0) + strlen(name ? name : "?") + strlen(rv ? rv : "?") + 3;
	char *l = malloc(len);
	snprintf(l, len, "%s%s%s %s", ns ? ns : "", ns ? "/" : "", name ? name : "?", rv ? rv : "?");
	c->lines[c->n++] = l;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void write_state(struct tool_watch *tw)
{
	struct tool *t = tw->t;
	char path[4096], tmp[4200];
	struct collect c = {0};
	if (!t->state_dir || !tw->w)
		return;
	k8s_watch_foreach(tw->w, collect_obj, &c);
	if (c.n)
		qsort(c.lines, c.n, sizeof(*c.lines), cmp_str);
	snprintf(path, sizeof(path), "%s/%d", t->state_dir, tw->index);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (f) {
		for (size_t i = 0; i < c.n; i++)
			fprintf(f, "%s\n", c.lines[i]);
		fclose(f);
		rename(tmp, path);
	}
	for (size_t i = 0; i < c.n; i++)
		free(c.lines[i]);
	free(c.lines);
	snprintf(path, sizeof(path), "%s/%d.synced", t->state_dir, tw->index);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f) {
		fprintf(f, "%u\n", tw->synced);
		fclose(f);
		rename(tmp, path);
	}
	tw->dirty = false;
}

static void on_flush(uv_timer_t *timer)
{
	struct tool *t = timer->data;
	for (int i = 0; i < t->nwatches; i++)
		if (t->watches[i].dirty)
			write_state(&t->watches[i]);
}

static void on_synced(void *ctx)
{
	struct tool_watch *tw = ctx;
	size_t n = 0;
	tw->synced++;
	struct collect c = {0};
	k8s_watch_foreach(tw->w, collect_obj, &c);
	n = c.n;
	for (size_t i = 0; i < c.n; i++)
		free(c.lines[i]);
	free(c.lines);
	printf("SYNCED %d %zu %llu\n", tw->index, n,
	       (unsigned long long)(uv_now(tw->t->loop) - tw->t->start_ms));
	fflush(stdout);
	tw->dirty = true;
}

static void on_failed(void *ctx, int status, const char *msg)
{
	struct tool_watch *tw = ctx;
	printf("FAILED %d %d %s\n", tw->index, status, msg);
	fflush(stdout);
}

static const struct k8s_watch_ops watch_ops = {
	.event = on_event,
	.synced = on_synced,
	.failed = on_failed,
};

static void print_stats(struct tool *t)
{
	struct k8s_client_stats s;
	k8s_client_stats(t->c, &s);
	printf("STATS requests=%llu errors=%llu forbidden=%llu not_found=%llu relists=%llu "
	       "rewatches=%llu events=%llu token_reloads=%llu connections=%llu reused=%llu\n",
	       (unsigned long long)s.requests, (unsigned long long)s.errors,
	       (unsigned long long)s.forbidden, (unsigned long long)s.not_found,
	       (unsigned long long)s.relists, (unsigned long long)s.rewatches,
	       (unsigned long long)s.events, (unsigned long long)s.token_reloads,
	       (unsigned long long)s.connections, (unsigned long long)s.reused);
	fflush(stdout);
}

static void on_handle_closed(uv_handle_t *h)
{
	(void)h;
}

static void tool_quit(struct tool *t)
{
	if (t->quitting)
		return;
	t->quitting = true;
	on_flush(&t->flush);
	for (int i = 0; i < t->nwatches; i++) {
		k8s_watch_stop(t->watches[i].w);
		t->watches[i].w = NULL;
	}
	k8s_client_free(t->c);
	t->c = NULL;
	uv_close((uv_handle_t *)&t->flush, on_handle_closed);
	uv_close((uv_handle_t *)&t->in, on_handle_closed);
	uv_close((uv_handle_t *)&t->sigint, on_handle_closed);
	uv_close((uv_handle_t *)&t->sigterm, on_handle_closed);
}

struct tool_req {
	struct tool *t;
	int n;
};

static void on_response(void *ctx, int status, json_t *body, const char *errmsg)
{
	struct tool_req *r = ctx;
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	printf("RESPONSE %d %d %s\n", r->n, status, errmsg ? errmsg : text ? text : "");
	fflush(stdout);
	free(text);
	free(r);
}

static void run_command(struct tool *t, char *line)
{
	char method[16], path[8192];
	int off = 0;
	if (!*line)
		return;
	if (strcmp(line, "QUIT") == 0) {
		tool_quit(t);
		return;
	}
	if (strcmp(line, "STATS") == 0) {
		print_stats(t);
		return;
	}
	int n = ++t->ncommands;
	if (sscanf(line, "%15s %8191s %n", method, path, &off) < 2) {
		printf("RESPONSE %d 0 bad command\n", n);
		fflush(stdout);
		return;
	}
	json_t *body = NULL;
	if (line[off]) {
		json_error_t e;
		body = json_loads(line + off, 0, &e);
		if (!body) {
			printf("RESPONSE %d 0 bad JSON body: %s\n", n, e.text);
			fflush(stdout);
			return;
		}
	}
	struct tool_req *r = calloc(1, sizeof(*r));
	r->t = t;
	r->n = n;
	const char *ctype = strcmp(method, "PATCH") == 0 ? "application/merge-patch+json" : NULL;
	int rc = k8s_request(t->c, method, path, ctype, body, on_response, r);
	json_decref(body);
	if (rc) {
		printf("RESPONSE %d 0 k8s_request: %s\n", n, strerror(-rc));
		free(r);
	}
	fflush(stdout);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct tool *t = h->data;
	(void)suggested;
	*buf = uv_buf_init(t->line + t->line_len, (unsigned)(sizeof(t->line) - 1 - t->line_len));
}

static void on_stdin(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct tool *t = s->data;
	(void)buf;
	if (n < 0) {
		tool_quit(t);
		return;
	}
	t->line_len += (size_t)n;
	t->line[t->line_len] = 0;
	char *nl;
	while (!t->quitting && (nl = memchr(t->line, '\n', t->line_len))) {
		*nl = 0;
		run_command(t, t->line);
		size_t used = (size_t)(nl - t->line) + 1;
		memmove(t->line, nl + 1, t->line_len - used + 1);
		t->line_len -= used;
	}
	if (t->line_len >= sizeof(t->line) - 1)
		t->line_len = 0; /* an absurd line: drop it */
}

static void on_signal(uv_signal_t *s, int sig)
{
	(void)sig;
	tool_quit(s->data);
}

static int usage(void)
{
	fprintf(stderr, "usage: k8s_watch_tool (--kubeconfig FILE [--context C] | --in-cluster DIR) "
			"[--watch PATH[?QUERY]]... [--state DIR]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *kubeconfig = NULL, *context = NULL, *sa_dir = NULL;
	const char *watch_paths[MAX_WATCHES];
	struct tool t = {0};
	struct k8s_config cfg;
	char *err = NULL;
	int nw = 0;

	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			return usage();
		if (strcmp(argv[i], "--kubeconfig") == 0)
			kubeconfig = argv[++i];
		else if (strcmp(argv[i], "--context") == 0)
			context = argv[++i];
		else if (strcmp(argv[i], "--in-cluster") == 0)
			sa_dir = argv[++i];
		else if (strcmp(argv[i], "--watch") == 0 && nw < MAX_WATCHES)
			watch_paths[nw++] = argv[++i];
		else if (strcmp(argv[i], "--state") == 0)
			t.state_dir = argv[++i];
		else
			return usage();
	}
	if (!kubeconfig == !sa_dir)
		return usage();
	signal(SIGPIPE, SIG_IGN);
	int r = kubeconfig ? k8s_config_from_kubeconfig(kubeconfig, context, &cfg, &err)
			   : k8s_config_in_cluster(sa_dir, &cfg, &err);
	if (r) {
		fprintf(stderr, "k8s_watch_tool: %s\n", err);
		free(err);
		return 1;
	}
	t.loop = uv_default_loop();
	t.start_ms = uv_now(t.loop);
	r = k8s_client_new(t.loop, &cfg, &t.c, &err);
	k8s_config_free(&cfg);
	if (r) {
		fprintf(stderr, "k8s_watch_tool: %s\n", err);
		free(err);
		return 1;
	}
	for (int i = 0; i < nw; i++) {
		struct tool_watch *tw = &t.watches[i];
		char *path = strdup(watch_paths[i]);
		char *q = strchr(path, '?');
		if (q)
			*q++ = 0;
		tw->t = &t;
		tw->index = i;
		if (k8s_watch_start(t.c, path, q, &watch_ops, tw, &tw->w, &err)) {
			fprintf(stderr, "k8s_watch_tool: %s\n", err);
			free(err);
			free(path);
			return 1;
		}
		free(path);
		t.nwatches++;
	}
	uv_timer_init(t.loop, &t.flush);
	t.flush.data = &t;
	uv_timer_start(&t.flush, on_flush, 50, 50);
	uv_pipe_init(t.loop, &t.in, 0);
	t.in.data = &t;
	uv_pipe_open(&t.in, 0);
	uv_read_start((uv_stream_t *)&t.in, on_alloc, on_stdin);
	uv_signal_init(t.loop, &t.sigint);
	uv_signal_init(t.loop, &t.sigterm);
	t.sigint.data = t.sigterm.data = &t;
	uv_signal_start(&t.sigint, on_signal, SIGINT);
	uv_signal_start(&t.sigterm, on_signal, SIGTERM);

	uv_run(t.loop, UV_RUN_DEFAULT);
	r = uv_loop_close(t.loop);
	if (r) {
		fprintf(stderr, "k8s_watch_tool: handles left on the loop: %s\n", uv_strerror(r));
		uv_print_all_handles(t.loop, stderr);
		return 1;
	}
	return 0;
}
