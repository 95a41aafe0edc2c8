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

struct dir_file {
	char *path;
	char *content;
	char **refs; /* "ns/name" or "name" of the policies it holds */
	size_t nrefs;
	bool seen;
};

static struct dir_file *files;
static size_t nfiles;
static uv_fs_event_t watcher;
static uv_timer_t debounce, rescan;
static struct agent *dir_agent;

static void free_refs(struct dir_file *f)
{
	size_t i;

	for (i = 0; i < f->nrefs; i++)
		free(f->refs[i]);
	free(f->refs);
	f->refs = NULL;
	f->nrefs = 0;
}

static void refs_of(const char *path, const char *text, char ***refs, size_t *n)
{
	struct sluice_policy_set set = { 0 };
	struct sluice_diags e = { 0 }, w = { 0 };
	size_t i;

	*refs = NULL;
	*n = 0;
	if (sluice_policy_load(path, text, strlen(text), &set, &e, &w) == 0) {
		*refs = sl_xcalloc(set.n, sizeof(char *));
		for (i = 0; i < set.n; i++)
			(*refs)[(*n)++] = set.v[i].namespace
				? sl_strdupf("%s/%s", set.v[i].namespace, set.v[i].name)
				: sl_xstrdup(set.v[i].name);
	}
	sluice_policy_set_free(&set);
	sluice_diags_free(&e);
	sluice_diags_free(&w);
}

static bool has_ref(char **refs, size_t n, const char *ref)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(refs[i], ref))
			return true;
	return false;
}

static void delete_refs(struct agent *a, char **refs, size_t n, char **keep, size_t nkeep)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char *err = NULL;

		if (has_ref(keep, nkeep, refs[i]))
			continue;
		if (agent_policy_delete(a, refs[i], &err) == 0)
			fprintf(stderr, "sluiced: policy-dir: deleted policy %s\n", refs[i]);
		free(err);
	}
}

/* Reads the directory and applies what changed since the last scan. */
static void scan(struct agent *a)
{
	DIR *d = opendir(a->cfg.policy_dir);
	struct dirent *de;
	size_t i;

	if (!d)
		return;
	for (i = 0; i < nfiles; i++)
		files[i].seen = false;
	while ((de = readdir(d))) {
		char *path, *text = NULL;
		struct dir_file *f = NULL;

		if (!sl_is_policy_file(de->d_name))
			continue;
		path = sl_strdupf("%s/%s", a->cfg.policy_dir, de->d_name);
		for (i = 0; i < nfiles; i++)
			if (!strcmp(files[i].path, path))
				f = &files[i];
		if (sl_read_file(path, 32u << 20, &text, NULL)) {
			free(path);
			continue;
		}
		if (!f) {
			files = realloc(files, (nfiles + 1) * sizeof(*files));
			if (!files)
				abort();
			f = &files[nfiles++];
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
			char *err = NULL, **refs;
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
				delete_refs(a, f->refs, f->nrefs, refs, nrefs);
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
	for (i = 0; i < nfiles;) {
		if (files[i].seen) {
			i++;
			continue;
		}
		fprintf(stderr, "sluiced: policy-dir: %s removed\n", files[i].path);
		delete_refs(a, files[i].refs, files[i].nrefs, NULL, 0);
		free_refs(&files[i]);
		free(files[i].path);
		free(files[i].content);
		memmove(&files[i], &files[i + 1], (nfiles - i - 1) * sizeof(*files));
		nfiles--;
	}
}

static void on_debounce(uv_timer_t *t)
{
	scan(t->data);
}

static void on_event(uv_fs_event_t *h, const char *name, int events, int status)
{
	(void)name;
	(void)events;
	(void)status;
	/* editors write in bursts: apply once the burst is over */
	uv_timer_start(&debounce, on_debounce, 100, 0);
	(void)h;
}

int policy_dir_start(struct agent *a, char **err)
{
	int rc;

	if (!a->cfg.policy_dir)
		return 0;
	dir_agent = a;
	uv_timer_init(a->loop, &debounce);
	debounce.data = a;
	uv_timer_init(a->loop, &rescan);
	rescan.data = a;
	uv_fs_event_init(a->loop, &watcher);
	rc = uv_fs_event_start(&watcher, on_event, a->cfg.policy_dir, 0);
	if (rc)
		return sl_fail(err, rc, "--policy-dir %s: %s", a->cfg.policy_dir, uv_strerror(rc));
	scan(a);
	uv_timer_start(&rescan, on_debounce, 1000, 1000);
	return 0;
}

void policy_dir_stop(struct agent *a)
{
	size_t i;

	if (!a->cfg.policy_dir || !dir_agent)
		return;
	uv_fs_event_stop(&watcher);
	uv_close((uv_handle_t *)&watcher, NULL);
	uv_timer_stop(&debounce);
	uv_close((uv_handle_t *)&debounce, NULL);
	uv_timer_stop(&rescan);
	uv_close((uv_handle_t *)&rescan, NULL);
	for (i = 0; i < nfiles; i++) {
		free_refs(&files[i]);
		free(files[i].path);
		free(files[i].content);
	}
	free(files);
	files = NULL;
	nfiles = 0;
}
