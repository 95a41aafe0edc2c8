/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policies.c - applying, deleting and listing policies.
 *
 * An apply is all-or-nothing: every file is parsed and validated first; then
 * the new set is compiled for every endpoint and checked against the map
 * sizes before anything is written. If any step fails, the set in force is
 * restored and the datapath is not touched.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "agent.h"
#include "memory.h"
#include "k8s.h"
#include "metrics.h"
#include "secrets.h"

static char *policy_ref(int kind, const char *ns, const char *name)
{
	return ns ? sl_strdupf("%s %s/%s", sluice_policy_kind_name(kind), ns, name)
		  : sl_strdupf("%s %s", sluice_policy_kind_name(kind), name);
}

static bool same_key(int k1, const char *ns1, const char *n1, int k2, const char *ns2, const char *n2)
{
	if (k1 != k2 || strcmp(n1, n2))
		return false;
	if (!ns1 || !ns2)
		return !ns1 && !ns2;
	return !strcmp(ns1, ns2);
}

static struct agent_policy_src *src_find(struct agent *a, int kind, const char *ns, const char *name)
{
	size_t i;

	for (i = 0; i < a->nsrcs; i++)
		if (same_key(a->srcs[i].kind, a->srcs[i].ns, a->srcs[i].name, kind, ns, name))
			return &a->srcs[i];
	return NULL;
}

static void src_free(struct agent *a, struct agent_policy_src *s)
{
	agent_state_forget_text(a, s);
	free(s->ns);
	free(s->name);
	free(s->file);
	free(s->text);
}

/* The text of the YAML document of a file that holds line `line`. */
static char *document_text(const char *text, int line)
{
	const char *p = text, *start = text, *end = NULL;
	int cur = 1;

	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		bool sep = len >= 3 && !strncmp(p, "---", 3) &&
			   (len == 3 || p[3] == ' ' || p[3] == '\r' || p[3] == '\t');

		if (sep) {
			if (cur > line && start != p) {
				end = p;
				break;
			}
			if (cur <= line)
				start = eol ? eol + 1 : p + len;
		}
		if (!eol)
			break;
		p = eol + 1;
		cur++;
	}
	if (!end)
		end = text + strlen(text);
	if (end < start)
		end = start;
	return strndup(start, end - start);
}

static void diags_to_json(json_t *arr, const struct sluice_diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		json_array_append_new(arr, json_string(d->v[i].msg));
}

static void src_set(struct agent *a, const struct sluice_policy *p, const char *text, bool whole)
{
	struct agent_policy_src *s = src_find(a, p->kind, p->namespace, p->name);

	if (!s) {
		a->srcs = realloc(a->srcs, (a->nsrcs + 1) * sizeof(*a->srcs));
		if (!a->srcs)
			abort();
		s = &a->srcs[a->nsrcs++];
		memset(s, 0, sizeof(*s));
		s->kind = p->kind;
		s->ns = p->namespace ? sl_xstrdup(p->namespace) : NULL;
		s->name = sl_xstrdup(p->name);
	}
	if (!s->text || strcmp(s->text, text))
		agent_state_forget_text(a, s); /* the new text gets a file of its own */
	free(s->file);
	free(s->text);
	s->file = sl_xstrdup(p->file);
	s->text = sl_xstrdup(text);
	s->text_len = strlen(text);
	s->whole_file = whole;
}

static const char *file_content(json_t *files, const char *name)
{
	json_t *f;
	size_t i;

	json_array_foreach(files, i, f) {
		const char *n = json_string_value(json_object_get(f, "name"));

		if (n && !strcmp(n, name))
			return json_string_value(json_object_get(f, "content"));
	}
	return "";
}

static struct sluice_policy *policy_of(struct agent *a, const struct agent_policy_src *s)
{
	size_t i;

	for (i = 0; i < a->policies.n; i++) {
		struct sluice_policy *p = &a->policies.v[i];

		if (same_key((int)p->kind, p->namespace, p->name, s->kind, s->ns, s->name))
			return p;
	}
	return NULL;
}

/*
 * A file applied again that changes one list item of the one policy it
 * holds: only that item is parsed, compiled with the rest and written
 * (policy/edit.c). True when it handled the apply (its result in *rc),
 * false when the whole apply must run.
 */
static bool apply_edit(struct agent *a, json_t *f, bool dry_run, json_t *jerr, json_t *jwarn,
		      json_t *japplied, char **err, int *rc)
{
	const char *name = json_string_value(json_object_get(f, "name"));
	const char *text = json_string_value(json_object_get(f, "content"));
	size_t text_len = json_string_length(json_object_get(f, "content"));
	struct sluice_diags errors = { 0 }, warnings = { 0 };
	struct agent_policy_src *s = NULL;
	struct sluice_policy_edit e = { 0 };
	struct sluice_policy *p = NULL;
	char *ref, *line;
	const char *how;
	size_t i;
	int r;

	/* no NUL inside: jansson refuses \u0000, attachments are checked */
	if (!name || !text)
		return false;
	/* the policy whose stored text the new one edits: the file name does
	 * not matter (an edited copy is the same policy), the texts decide */
	r = 0;
	for (i = 0; i < a->nsrcs && !r; i++) {
		s = &a->srcs[i];
		if (!s->whole_file || strncmp(s->text, text, 64) || !(p = policy_of(a, s)))
			continue;
		r = sluice_policy_edit_prepare(p, name, s->text, s->text_len, text, text_len, &e,
					       &errors, &warnings);
	}
	if (r == 0) {
		sluice_diags_free(&errors);
		sluice_diags_free(&warnings);
		return false;
	}
	if (r > 0 && !e.unchanged && agent_secrets_check_item(a, &e.item, &errors))
		r = -1;
	diags_to_json(jwarn, &warnings);
	agent_phase(a, "parse");
	if (r < 0) {
		diags_to_json(jerr, &errors);
		*rc = sl_fail(err, EINVAL, "%s", errors.n ? errors.v[0].msg : "policy rejected");
		goto out;
	}
	*rc = 0;
	how = e.unchanged ? "unchanged" : dry_run ? "configured (dry run)" : "configured";
	if (!e.unchanged && !dry_run) {
		struct agent_edit_hint hint = {
			.pi = (size_t)(p - a->policies.v), .ri = e.rule, .section = e.section,
			.index = e.index, .old_item = &e.item,
		};

		sluice_policy_edit_swap(p, &e);
		*rc = agent_regenerate_edit(a, &hint, err);
		if (*rc) {
			/* roll back: the policy in force stays */
			sluice_policy_edit_swap(p, &e);
			json_array_append_new(jerr, json_string(*err));
			agent_regenerate_after(a, "policy edit", true);
			goto out;
		}
		agent_state_edit_text(a, s, e.text_at, e.text_old_len, text + e.text_at, e.text_new_len);
		agent_phase(a, "stored_text");
		free(s->file);
		s->file = sl_xstrdup(name);
		free(p->file);
		p->file = sl_xstrdup(name);
		a->counters.policy_edits++;
		agent_commit(a, AGENT_COMMIT_SAVE_POLICIES, "policy change", NULL);
		agent_phase(a, "state_save");
	}
	ref = policy_ref(p->kind, p->namespace, p->name);
	line = sl_strdupf("%s %s", ref, how);
	json_array_append_new(japplied, json_string(line));
	free(line);
	free(ref);
out:
	sluice_policy_edit_free(&e);
	sluice_diags_free(&errors);
	sluice_diags_free(&warnings);
	return true;
}

/*
 * Gives freed heap back to the kernel (memory.c). A large apply (or one that
 * failed or was a dry run, whose parse is all garbage now) and every delete
 * leave megabytes of free chunks, so an agent that applied and deleted a 10
 * MB set would stay at twice its size. Small applies, and one-rule edits of
 * a large file, skip it: they free little.
 */
#define RELEASE_AFTER_BYTES (1u << 20)
static void release_memory(struct agent *a, json_t *files, bool always)
{
	size_t total = 0, i;
	json_t *f;

	json_array_foreach(files, i, f)
		total += json_string_length(json_object_get(f, "content"));
	if (always || total >= RELEASE_AFTER_BYTES)
		agent_memory_release_soon(a);
}

int agent_policy_apply(struct agent *a, json_t *files, bool dry_run, json_t *result, char **err)
{
	struct sluice_policy_set incoming = { 0 }, backup = { 0 };
	struct sluice_diags errors = { 0 }, warnings = { 0 };
	char **texts = NULL, **refs = NULL;
	bool *created = NULL, *whole = NULL;
	size_t n = 0, i;
	bool edited = false;
	json_t *jerr = json_array(), *jwarn = json_array(), *japplied = json_array();
	json_t *f;
	uint64_t t0 = sl_mono_ns();
	int rc = 0;

	agent_phase_start(a);
	json_object_set_new(result, "errors", jerr);
	json_object_set_new(result, "warnings", jwarn);
	json_object_set_new(result, "applied", japplied);

	/* 0. one item of a policy changed: parse and write only that (it
	 * frees little: no trim before the answer; the connection's close
	 * trims after a large request) */
	if (json_array_size(files) == 1 &&
	    apply_edit(a, json_array_get(files, 0), dry_run, jerr, jwarn, japplied, err, &rc)) {
		edited = true;
		goto out;
	}

	/* 1. parse and validate everything */
	json_array_foreach(files, i, f) {
		const char *name = json_string_value(json_object_get(f, "name"));
		const char *text = json_string_value(json_object_get(f, "content"));

		if (!name || !text) {
			rc = sl_fail(err, EINVAL, "malformed request: files need name and content");
			goto out;
		}
		if (strlen(text) != json_string_length(json_object_get(f, "content"))) {
			rc = sl_fail(err, EINVAL, "%s: contains a NUL byte, not a YAML file", name);
			json_array_append_new(jerr, json_string(*err));
			goto out;
		}
		{
			size_t before = incoming.n, nerr = errors.n;

			if (sluice_policy_load(name, text, strlen(text), &incoming, &errors, &warnings))
				rc = -EINVAL;
			/* an empty file (or only "---") is a mistake worth naming */
			else if (incoming.n == before && errors.n == nerr)
				sluice_diags_add(&errors, "%s: no policy found", name);
			if (errors.n > nerr)
				rc = -EINVAL;
		}
	}
	if (!rc && sluice_policy_set_check(&incoming, &errors))
		rc = -EINVAL;
	/* a TLS context naming a missing secret (or key) rejects the apply whole */
	if (!rc && agent_secrets_check(a, &incoming, &errors))
		rc = -EINVAL;
	diags_to_json(jwarn, &warnings);
	agent_phase(a, "parse");
	if (rc) {
		diags_to_json(jerr, &errors);
		sl_fail(err, EINVAL, "%s", errors.n ? errors.v[0].msg : "policy rejected");
		if (!errors.n)
			json_array_append_new(jerr, json_string(*err));
		goto out;
	}
	if (incoming.n == 0) {
		rc = sl_fail(err, EINVAL, "no policy found in the input");
		json_array_append_new(jerr, json_string(*err));
		goto out;
	}

	/* 2. the documents' texts (what they replace is kept aside in step 3) */
	n = incoming.n;
	texts = sl_xcalloc(n, sizeof(*texts));
	refs = sl_xcalloc(n, sizeof(*refs));
	created = sl_xcalloc(n, sizeof(*created));
	whole = sl_xcalloc(n, sizeof(*whole));
	for (i = 0; i < n; i++) {
		struct sluice_policy *p = &incoming.v[i];

		created[i] = !src_find(a, p->kind, p->namespace, p->name);
		texts[i] = document_text(file_content(files, p->file), p->line);
		whole[i] = strlen(texts[i]) == strlen(file_content(files, p->file));
		refs[i] = policy_ref(p->kind, p->namespace, p->name);
	}

	/* 3. stage the new set, compile it and write what changed */
	{
		struct sluice_policy_set staged = incoming;
		struct sluice_policy *keys = sl_xcalloc(n, sizeof(*keys));

		for (i = 0; i < n; i++) {
			keys[i].kind = incoming.v[i].kind;
			keys[i].namespace = incoming.v[i].namespace ? sl_xstrdup(incoming.v[i].namespace) : NULL;
			keys[i].name = sl_xstrdup(incoming.v[i].name);
			keys[i].file = sl_xstrdup(incoming.v[i].file);
			keys[i].line = incoming.v[i].line;
		}
		memset(&incoming, 0, sizeof(incoming));
		/* the policies replaced move to backup, for a rollback */
		if (sluice_policy_set_replace(&a->policies, &staged, &backup))
			abort();
		sluice_policy_set_free(&staged);
		rc = dry_run ? 0 : agent_regenerate(a, err);
		if (dry_run)
			a->compiled_valid = false; /* the set is put back in another order */
		if (rc || dry_run) {
			/* roll back: the set in force stays */
			for (i = 0; i < n; i++)
				sluice_policy_set_remove(&a->policies, keys[i].kind, keys[i].namespace,
							 keys[i].name);
			sluice_policy_set_merge(&a->policies, &backup);
			if (rc) {
				json_array_append_new(jerr, json_string(*err));
				agent_regenerate_after(a, "policy apply", true);
			}
		} else {
			for (i = 0; i < n; i++)
				src_set(a, &keys[i], texts[i], whole[i]);
		}
		if (!rc) {
			for (i = 0; i < n; i++) {
				char *line = sl_strdupf("%s %s%s", refs[i],
							created[i] ? "created" : "configured",
							dry_run ? " (dry run)" : "");

				json_array_append_new(japplied, json_string(line));
				free(line);
			}
		}
		for (i = 0; i < n; i++) {
			free(keys[i].namespace);
			free(keys[i].name);
			free(keys[i].file);
		}
		free(keys);
	}
	if (!rc && !dry_run) {
		agent_commit(a, AGENT_COMMIT_SAVE_POLICIES, "policy change", NULL);
		agent_phase(a, "state_save");
	}
out:
	for (i = 0; i < n; i++) {
		free(texts[i]);
		free(refs[i]);
	}
	free(texts);
	free(refs);
	free(created);
	free(whole);
	sluice_policy_set_free(&incoming);
	sluice_policy_set_free(&backup);
	sluice_diags_free(&errors);
	sluice_diags_free(&warnings);
	if (!dry_run && !rc) {
		a->last_apply_ns = sl_mono_ns() - t0;
		a->last_phases = a->phases;
		metrics_apply_observe(a, (double)a->last_apply_ns / 1e9);
	}
	if (!edited)
		release_memory(a, files, rc || dry_run);
	return rc;
}

/* "NS/NAME" names a namespaced policy, "NAME" a clusterwide one. */
static void split_ref(const char *ref, char **ns, char **name)
{
	const char *slash = strchr(ref, '/');

	*ns = slash ? strndup(ref, slash - ref) : NULL;
	*name = sl_xstrdup(slash ? slash + 1 : ref);
}

/* kind -1: every kind; ns NULL: clusterwide */
static bool ref_matches(const struct agent_policy_src *s, int kind, const char *ns, const char *name)
{
	return (kind < 0 || s->kind == kind) && !strcmp(s->name, name) &&
	       ((!ns && !s->ns) || (ns && s->ns && !strcmp(ns, s->ns)));
}

static int policy_delete(struct agent *a, int kind, const char *ns, const char *name,
			 const char *ref, char **err)
{
	size_t i;
	int found = 0, rc = 0;
	struct sluice_policy_set backup = { 0 };
	struct agent_policy_src **gone = sl_xcalloc(a->nsrcs + 1, sizeof(*gone));

	for (i = 0; i < a->nsrcs; i++)
		if (ref_matches(&a->srcs[i], kind, ns, name))
			gone[found++] = &a->srcs[i];
	if (!found) {
		rc = sl_fail(err, ENOENT, "policy %s not found", ref);
		goto out;
	}
	for (i = 0; i < (size_t)found; i++)
		if (sluice_policy_set_take(&a->policies, gone[i]->kind, gone[i]->ns, gone[i]->name,
					   &backup) == -ENOMEM)
			abort();
	rc = agent_regenerate(a, err);
	if (rc) {
		sluice_policy_set_merge(&a->policies, &backup);
		agent_regenerate_after(a, "policy delete", true);
		goto out;
	}
	for (i = 0; i < a->nsrcs;) {
		struct agent_policy_src *s = &a->srcs[i];

		if (ref_matches(s, kind, ns, name)) {
			src_free(a, s);
			memmove(s, s + 1, (a->nsrcs - i - 1) * sizeof(*s));
			a->nsrcs--;
		} else {
			i++;
		}
	}
	agent_commit(a, AGENT_COMMIT_SAVE_POLICIES, "policy change", NULL);
out:
	sluice_policy_set_free(&backup);
	free(gone);
	return rc;
}

int agent_policy_delete(struct agent *a, const char *ref, int kind, char **err)
{
	char *ns, *name;
	int rc;

	split_ref(ref, &ns, &name);
	rc = policy_delete(a, kind, ns, name, ref, err);
	free(ns);
	free(name);
	if (!rc)
		agent_memory_release_soon(a); /* see release_memory() */
	return rc;
}

int agent_policy_delete_kind(struct agent *a, int kind, const char *ns, const char *name, char **err)
{
	char *ref = policy_ref(kind, ns, name);
	int rc = policy_delete(a, kind, ns, name, ref, err);

	free(ref);
	return rc;
}

json_t *agent_policy_list(struct agent *a)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < a->policies.n; i++) {
		struct sluice_policy *p = &a->policies.v[i];
		json_t *o = json_object();

		json_object_set_new(o, "kind", json_string(sluice_policy_kind_name(p->kind)));
		json_object_set_new(o, "namespace", p->namespace ? json_string(p->namespace) : json_null());
		json_object_set_new(o, "name", json_string(p->name));
		json_object_set_new(o, "rules", json_integer((json_int_t)p->nrules));
		json_object_set_new(o, "file", json_string(p->file ? p->file : ""));
		{
			/* a policy from the API whose newer version failed to load */
			const char *e = a->k8s ? k8s_policy_error(a->k8s, p->kind, p->namespace, p->name) : NULL;

			json_object_set_new(o, "status", json_string(e ? e : "ok"));
		}
		json_array_append_new(arr, o);
	}
	if (a->k8s)
		k8s_policies_list_failed(a->k8s, arr);
	return arr;
}

json_t *agent_policy_get(struct agent *a, const char *ref, char **err)
{
	char *ns, *name;
	json_t *arr = json_array();
	size_t i;

	split_ref(ref, &ns, &name);
	for (i = 0; i < a->nsrcs; i++) {
		struct agent_policy_src *s = &a->srcs[i];

		if (!strcmp(s->name, name) && ((!ns && !s->ns) || (ns && s->ns && !strcmp(ns, s->ns)))) {
			json_t *o = json_object();

			json_object_set_new(o, "kind", json_string(sluice_policy_kind_name(s->kind)));
			json_object_set_new(o, "file", json_string(s->file));
			json_object_set_new(o, "yaml", json_string(s->text));
			json_array_append_new(arr, o);
		}
	}
	free(ns);
	free(name);
	if (!json_array_size(arr)) {
		json_decref(arr);
		sl_fail(err, ENOENT, "policy %s not found", ref);
		return NULL;
	}
	return arr;
}
