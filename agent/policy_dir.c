/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_dir.c - `sluiced --policy-dir DIR`: every *.yaml, *.yml and *.json
 * file in DIR is applied, and the directory is watched: a file added or
 * changed is applied (all or nothing, as `sluice policy apply`), a file
 * removed deletes the policies it held, a document removed from a file
 * deletes its policy. Changes land within a second (inotify through libuv,
 * plus a one-second rescan in case an event was missed).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "agent.h"
#include "policy_dir.h"

/* A policy a file holds: its kind counts, a NetworkPolicy and a
 * CiliumNetworkPolicy of the same name are two policies. */
struct dir_ref {
	int kind;
	char *ns; /* NULL: cluster-wide */
	char *name;
};

struct dir_file {
	char *path;
	char *content;
	struct dir_ref *refs; /* the policies it holds */
	size_t nrefs;
	bool seen;
};

/* a->policy_dir: the files as last applied, the watcher and its timers.
 * Freed when its three handles have closed. */
struct policy_dir {
	struct agent *agent;
	struct dir_file *files;
	size_t nfiles;
	uv_fs_event_t watcher;
	uv_timer_t debounce, rescan;
	unsigned open_handles;
};

static void free_refs(struct dir_file *f)
{
	size_t i;

	for (i = 0; i < f->nrefs; i++) {
		free(f->refs[i].ns);
		free(f->refs[i].name);
	}
	free(f->refs);
	f->refs = NULL;
	f->nrefs = 0;
}

static void refs_of(const char *path, const char *text, struct dir_ref **refs, size_t *n)
{
	struct sluice_policy_set set = { 0 };
	struct sluice_diags e = { 0 }, w = { 0 };
	size_t i;

	*refs = NULL;
	*n = 0;
	if (sluice_policy_load(path, text, strlen(text), &set, &e, &w) == 0) {
		*refs = sl_xcalloc(set.n + 1, sizeof(**refs));
		for (i = 0; i < set.n; i++)
			(*refs)[(*n)++] = (struct dir_ref){
				.kind = set.v[i].kind,
				.ns = set.v[i].namespace ? sl_xstrdup(set.v[i].namespace) : NULL,
				.name = sl_xstrdup(set.v[i].name),
			};
	}
	sluice_policy_set_free(&set);
	sluice_diags_free(&e);
	sluice_diags_free(&w);
}

static bool ref_equal(const struct dir_ref *x, const struct dir_ref *y)
{
	return x->kind == y->kind && !strcmp(x->name, y->name) &&
	       ((!x->ns && !y->ns) || (x->ns && y->ns && !strcmp(x->ns, y->ns)));
}

static bool has_ref(const struct dir_ref *refs, size_t n, const struct dir_ref *ref)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ref_equal(&refs[i], ref))
			return true;
	return false;
}

/*
 * The policies of refs that keep does not hold leave. One that another
 * file of the directory still holds stays, and that file is applied again
 * (its version, not the one that left, is then in force): in this scan if
 * it has not been read yet, else in the next one, within a second. While
 * the directory is read, every other file counts (one not read yet is read
 * later in this scan); in the pass over removed files (removed), only the
 * files this scan found.
 */
static void delete_refs(struct policy_dir *pd, const struct dir_file *from, const struct dir_ref *refs, size_t n,
			const struct dir_ref *keep, size_t nkeep, bool removed)
{
	struct agent *a = pd->agent;
	size_t i, j;

	for (i = 0; i < n; i++) {
		const struct dir_ref *r = &refs[i];
		bool elsewhere = false;
		char *err = NULL;

		if (has_ref(keep, nkeep, r))
			continue;
		for (j = 0; j < pd->nfiles; j++) {
			struct dir_file *o = &pd->files[j];

			if (o != from && (o->seen || !removed) && has_ref(o->refs, o->nrefs, r)) {
				free(o->content); /* applied again at the next scan */
				o->content = NULL;
				elsewhere = true;
			}
		}
		if (elsewhere) {
			fprintf(stderr, "sluiced: policy-dir: %s%s%s (%s) is still in another file: kept\n",
				r->ns ? r->ns : "", r->ns ? "/" : "", r->name, sluice_policy_kind_name(r->kind));
			continue;
		}
		if (agent_policy_delete_kind(a, r->kind, r->ns, r->name, &err) == 0)
			fprintf(stderr, "sluiced: policy-dir: deleted %s %s%s%s\n", sluice_policy_kind_name(r->kind),
				r->ns ? r->ns : "", r->ns ? "/" : "", r->name);
		free(err);
	}
}

/* Reads the directory and applies what changed since the last scan. */
static void scan(struct policy_dir *pd)
{
	struct agent *a = pd->agent;
	DIR *d = opendir(a->cfg.policy_dir);
	struct dirent *de;
	size_t i;

	if (!d)
		return;
	/* one scan, one commit: each file still applies whole or not at all,
	 * the state is saved once at the end */
	agent_commit_begin(a);
	for (i = 0; i < pd->nfiles; i++)
		pd->files[i].seen = false;
	while ((de = readdir(d))) {
		char *path, *text = NULL;
		struct dir_file *f = NULL;

		if (!sl_is_policy_file(de->d_name))
			continue;
		path = sl_strdupf("%s/%s", a->cfg.policy_dir, de->d_name);
		for (i = 0; i < pd->nfiles; i++)
			if (!strcmp(pd->files[i].path, path))
				f = &pd->files[i];
		if (sl_read_file(path, 32u << 20, &text, NULL)) {
			free(path);
			continue;
		}
		if (!f) {
			pd->files = realloc(pd->files, (pd->nfiles + 1) * sizeof(*pd->files));
			if (!pd->files)
				abort();
			f = &pd->files[pd->nfiles++];
			memset(f, 0, sizeof(*f));
			f->path = path;
		} else {
			free(path);
		}
		f->seen = true;
		if (f->content && !strcmp(f->content, text)) {
			free(text);
			continue;
		}
		{
			json_t *req = json_array(), *res = json_object();
			char *err = NULL;
			struct dir_ref *refs;
			size_t nrefs;

			json_array_append_new(req, json_pack("{s:s,s:s}", "name", f->path, "content", text));
			if (agent_policy_apply(a, req, false, res, &err)) {
				json_t *e;
				size_t k;

				fprintf(stderr, "sluiced: policy-dir: %s rejected; the policy in force stays\n", f->path);
				json_array_foreach(json_object_get(res, "errors"), k, e)
					fprintf(stderr, "sluiced:   %s\n", json_string_value(e));
				free(err);
				free(text);
			} else {
				fprintf(stderr, "sluiced: policy-dir: applied %s\n", f->path);
				refs_of(f->path, text, &refs, &nrefs);
				/* documents that left the file take their policy with them */
				delete_refs(pd, f, f->refs, f->nrefs, refs, nrefs, false);
				free_refs(f);
				f->refs = refs;
				f->nrefs = nrefs;
				free(f->content);
				f->content = text;
			}
			json_decref(req);
			json_decref(res);
		}
	}
	closedir(d);
	for (i = 0; i < pd->nfiles;) {
		if (pd->files[i].seen) {
			i++;
			continue;
		}
		fprintf(stderr, "sluiced: policy-dir: %s removed\n", pd->files[i].path);
		delete_refs(pd, &pd->files[i], pd->files[i].refs, pd->files[i].nrefs, NULL, 0, true);
		free_refs(&pd->files[i]);
		free(pd->files[i].path);
		free(pd->files[i].content);
		memmove(&pd->files[i], &pd->files[i + 1], (pd->nfiles - i - 1) * sizeof(*pd->files));
		pd->nfiles--;
	}
	agent_commit_end(a, "policy-dir scan", NULL);
}

static void on_debounce(uv_timer_t *t)
{
	scan(t->data);
}

static void on_event(uv_fs_event_t *h, const char *name, int events, int status)
{
	struct policy_dir *pd = h->data;

	(void)name;
	(void)events;
	(void)status;
	/* editors write in bursts: apply once the burst is over */
	uv_timer_start(&pd->debounce, on_debounce, 100, 0);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct policy_dir *pd = h->data;
	size_t i;

	if (--pd->open_handles)
		return;
	for (i = 0; i < pd->nfiles; i++) {
		free_refs(&pd->files[i]);
		free(pd->files[i].path);
		free(pd->files[i].content);
	}
	free(pd->files);
	free(pd);
}

int policy_dir_start(struct agent *a, char **err)
{
	struct policy_dir *pd;
	int rc;

	if (!a->cfg.policy_dir)
		return 0;
	pd = sl_xcalloc(1, sizeof(*pd));
	pd->agent = a;
	a->policy_dir = pd;
	uv_timer_init(a->loop, &pd->debounce);
	pd->debounce.data = pd;
	uv_timer_init(a->loop, &pd->rescan);
	pd->rescan.data = pd;
	uv_fs_event_init(a->loop, &pd->watcher);
	pd->watcher.data = pd;
	pd->open_handles = 3;
	rc = uv_fs_event_start(&pd->watcher, on_event, a->cfg.policy_dir, 0);
	if (rc)
		return sl_fail(err, rc, "--policy-dir %s: %s", a->cfg.policy_dir, uv_strerror(rc));
	scan(pd);
	uv_timer_start(&pd->rescan, on_debounce, 1000, 1000);
	return 0;
}

void policy_dir_stop(struct agent *a)
{
	struct policy_dir *pd = a->policy_dir;

	if (!pd)
		return;
	a->policy_dir = NULL;
	uv_fs_event_stop(&pd->watcher);
	uv_close((uv_handle_t *)&pd->watcher, on_handle_closed);
	uv_timer_stop(&pd->debounce);
	uv_close((uv_handle_t *)&pd->debounce, on_handle_closed);
	uv_timer_stop(&pd->rescan);
	uv_close((uv_handle_t *)&pd->rescan, on_handle_closed);
}
