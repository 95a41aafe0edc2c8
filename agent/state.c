/* SPDX-License-Identifier: Apache-2.0 */
/*
 * state.c - the agent's declared state on disk (--state-dir), so that a
 * restarted agent adopts the pods, identities and policies it left without
 * flushing the pinned maps that kept enforcing them meanwhile.
 *
 * state.json is rewritten whole (write to a temporary file, then rename)
 * after every change, so a crash leaves either the old or the new state.
 * What is big stays out of it and is written only when it changes: each
 * policy text is a file of its own under policies/ (written once, named by
 * a counter, removed after the save that no longer names it; a one-item
 * edit is appended to its journal, NAME.edits, replayed on restore), and the
 * CIDR identities (as many as the prefixes policies name) are lines of
 * cidr-identities, rewritten when the identity table changed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"
#include "agent.h"
#include "cni.h"
#include "journal.h"
#include "state_codec.h"

static char *state_path(struct agent *a, const char *suffix)
{
	return sl_strdupf("%s/state.json%s", a->cfg.state_dir, suffix);
}

/* Writes a whole file under a temporary name, then renames it. */
static int state_write(const char *path, const char *data, size_t len)
{
	char *tmp = sl_strdupf("%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = 0;

	if (fd < 0) {
		rc = -errno;
		free(tmp);
		return rc;
	}
	while (len && !rc) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno != EINTR)
			rc = -errno;
		else if (n > 0) {
			data += n;
			len -= (size_t)n;
		}
	}
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	free(tmp);
	return rc;
}

static char *text_path(struct agent *a, const char *name)
{
	return sl_strdupf("%s/policies/%s", a->cfg.state_dir, name);
}

void agent_state_forget_text(struct agent *a, struct agent_policy_src *s)
{
	if (!s->text_file)
		return;
	a->stale_texts = realloc(a->stale_texts, (a->nstale_texts + 1) * sizeof(*a->stale_texts));
	if (!a->stale_texts)
		abort();
	a->stale_texts[a->nstale_texts++] = s->text_file;
	s->text_file = NULL;
	s->journal_bytes = 0;
}

/* The journal: "EDIT AT OLDLEN LEN\n" and LEN bytes per edit. */
static void state_journal_append(struct agent *a, struct agent_policy_src *s, size_t at,
				 size_t old_len, const char *repl, size_t len)
{
	char head[96], *path;
	int fd, n;
	bool ok;

	if (!s->text_file || s->journal_bytes + len + sizeof(head) > s->text_len / 4 + 4096) {
		agent_state_forget_text(a, s); /* the whole text again, journal gone */
		return;
	}
	path = sl_strdupf("%s/policies/%s.edits", a->cfg.state_dir, s->text_file);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	free(path);
	n = journal_record_head(head, sizeof(head), at, old_len, len);
	ok = fd >= 0 && write(fd, head, (size_t)n) == n && write(fd, repl, len) == (ssize_t)len;
	if (fd >= 0 && close(fd))
		ok = false;
	if (!ok) {
		agent_state_forget_text(a, s);
		return;
	}
	s->journal_bytes += len + (size_t)n;
}

void agent_state_edit_text(struct agent *a, struct agent_policy_src *s, size_t at, size_t old_len,
			   const char *repl, size_t len)
{
	state_journal_append(a, s, at, old_len, repl, len);
	s->text = journal_splice(s->text, s->text_len, at, old_len, repl, len);
	s->text_len = s->text_len - old_len + len;
}

/* Replays NAME.edits over text (malloc'd, replaced); a torn last record is
 * ignored, a record that does not fit stops the replay. */
static char *state_replay_journal(struct agent *a, const char *name, char *text, size_t *journal)
{
	char *path = sl_strdupf("%s/policies/%s.edits", a->cfg.state_dir, name), *j = NULL;
	size_t jlen = 0;

	*journal = 0;
	if (sl_read_file(path, 1u << 30, &j, &jlen)) {
		free(path);
		return text;
	}
	free(path);
	text = journal_replay(text, j, jlen, journal);
	free(j);
	return text;
}

/* policy texts not written yet get their file */
static int state_write_texts(struct agent *a)
{
	char *dir = sl_strdupf("%s/policies", a->cfg.state_dir);
	size_t i;
	int rc = 0;

	mkdir(dir, 0700);
	free(dir);
	for (i = 0; i < a->nsrcs && !rc; i++) {
		struct agent_policy_src *s = &a->srcs[i];
		char *name, *path;

		if (s->text_file)
			continue;
		name = sl_strdupf("%" PRIu64 ".yaml", a->next_text_id++);
		path = text_path(a, name);
		rc = state_write(path, s->text, s->text_len);
		free(path);
		if (rc)
			free(name);
		else
			s->text_file = name;
	}
	return rc;
}

/* after a save: the texts it no longer names */
static void state_remove_stale(struct agent *a)
{
	size_t i;

	for (i = 0; i < a->nstale_texts; i++) {
		char *path = text_path(a, a->stale_texts[i]), *journal = sl_strdupf("%s.edits", path);

		unlink(path);
		unlink(journal);
		free(path);
		free(journal);
		free(a->stale_texts[i]);
	}
	free(a->stale_texts);
	a->stale_texts = NULL;
	a->nstale_texts = 0;
}

/* "ID LABELS\n" per CIDR identity, LABELS as sluice_labels_format() writes them */
static int state_write_cidr_ids(struct agent *a)
{
	uint64_t gen = sluice_idt_generation(a->reg.idt);
	size_t i, n = sluice_idt_count(a->reg.idt), len = 0, cap = 4096;
	char *buf, *path;
	int rc;

	if (a->saved_idt_valid && a->saved_idt_generation == gen)
		return 0;
	buf = sl_xcalloc(1, cap);
	/* "ID LABELS\n" per CIDR identity (25,000 of them for as many
	 * prefixes): the table's own text, the number written by hand */
	for (i = 0; i < n; i++) {
		uint32_t id = sluice_idt_at(a->reg.idt, i);
		const char *text;
		char num[12], *p = num + sizeof(num);
		size_t need, tlen;

		if (id < SLUICE_ID_LOCAL_MIN)
			continue;
		text = sluice_idt_text_at(a->reg.idt, i);
		tlen = strlen(text);
		need = tlen + sizeof(num) + 2;
		if (len + need >= cap) {
			cap = (len + need) * 2;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		do
			*--p = (char)('0' + id % 10);
		while (id /= 10);
		memcpy(buf + len, p, (size_t)(num + sizeof(num) - p));
		len += (size_t)(num + sizeof(num) - p);
		buf[len++] = ' ';
		memcpy(buf + len, text, tlen);
		len += tlen;
		buf[len++] = '\n';
	}
	path = sl_strdupf("%s/cidr-identities", a->cfg.state_dir);
	rc = state_write(path, buf, len);
	free(path);
	free(buf);
	if (!rc) {
		a->saved_idt_generation = gen;
		a->saved_idt_valid = true;
	}
	return rc;
}

/* the inverse of state_write_cidr_ids() */
static void state_restore_cidr_ids(struct agent *a)
{
	char *path = sl_strdupf("%s/cidr-identities", a->cfg.state_dir), *text = NULL, *line, *save;
	size_t len;

	if (sl_read_file(path, 1u << 30, &text, &len)) {
		free(path);
		return;
	}
	free(path);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct sluice_labels l = { 0 };
		char *sp = strchr(line, ' '), *item, *save2;
		unsigned long id = strtoul(line, NULL, 10);

		if (!sp || id < SLUICE_ID_LOCAL_MIN)
			continue;
		for (item = strtok_r(sp + 1, ",", &save2); item; item = strtok_r(NULL, ",", &save2)) {
			char *colon = strchr(item, ':'), *eq;

			if (!colon)
				continue;
			*colon = '\0';
			eq = strchr(colon + 1, '=');
			if (eq)
				*eq = '\0';
			sluice_labels_add(&l, item, colon + 1, eq ? eq + 1 : "");
		}
		sluice_idt_restore(a->reg.idt, (uint32_t)id, &l);
		sluice_labels_free(&l);
	}
	free(text);
}

/* pods.json: the registry (state_codec.c); written when it changed */
static int state_save_pods(struct agent *a)
{
	json_t *root = state_registry_json(&a->reg);
	char *tmp = sl_strdupf("%s/pods.json.tmp", a->cfg.state_dir);
	char *final = sl_strdupf("%s/pods.json", a->cfg.state_dir);
	int rc = 0;

	if (json_dump_file(root, tmp, JSON_COMPACT) || rename(tmp, final))
		rc = -errno ? -errno : -EIO;
	else
		a->pods_saved = true;
	json_decref(root);
	free(tmp);
	free(final);
	return rc;
}

/* state.json: the policy sources (their texts are files of their own) */
static int state_save_policies(struct agent *a)
{
	struct state_policy_ref *refs = sl_xcalloc(a->nsrcs + 1, sizeof(*refs));
	char *final = state_path(a, "");
	json_t *root;
	char *dump;
	bool same;
	size_t i;
	int rc;

	rc = state_write_texts(a);
	if (!rc)
		rc = state_write_cidr_ids(a);
	for (i = 0; i < a->nsrcs; i++)
		refs[i] = (struct state_policy_ref){ .kind = a->srcs[i].kind, .ns = a->srcs[i].ns,
						     .name = a->srcs[i].name, .file = a->srcs[i].file,
						     .text_file = a->srcs[i].text_file };
	root = state_policies_json(refs, a->nsrcs, a->next_text_id);
	/* serialised once: compared with what was written last, and written */
	dump = json_dumps(root, JSON_COMPACT);
	if (!dump && !rc)
		rc = -ENOMEM;
	same = dump && a->saved_state_json && !strcmp(dump, a->saved_state_json);
	if (!rc && !same)
		rc = state_write(final, dump, strlen(dump));
	if (!rc && !same) {
		free(a->saved_state_json);
		a->saved_state_json = dump;
		dump = NULL;
	}
	if (!rc)
		state_remove_stale(a);
	free(dump);
	json_decref(root);
	free(refs);
	free(final);
	return rc;
}

void agent_state_remove(struct agent *a)
{
	static const char *const files[] = { "state.json", "pods.json", "cidr-identities", "services.json" };
	char *dir = sl_strdupf("%s/policies", a->cfg.state_dir);
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t i;

	free(a->saved_state_json); /* gone: the next save writes it */
	a->saved_state_json = NULL;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *path = sl_strdupf("%s/%s", a->cfg.state_dir, files[i]);

		unlink(path);
		free(path);
	}
	while (d && (de = readdir(d))) {
		char *path;

		if (de->d_name[0] == '.')
			continue;
		path = sl_strdupf("%s/%s", dir, de->d_name);
		unlink(path);
		free(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
	free(dir);
}

int agent_state_save(struct agent *a)
{
	int rc;

	mkdir(a->cfg.state_dir, 0700);
	rc = state_save_pods(a);
	return rc ? rc : state_save_policies(a);
}

int agent_state_save_policies(struct agent *a)
{
	mkdir(a->cfg.state_dir, 0700);
	if (!a->pods_saved)
		return agent_state_save(a);
	return state_save_policies(a);
}

/* A restored pod whose netns or veth is gone is dropped (with what is
 * left of its network); true when it is still there. */
static bool state_pod_alive(struct agent_pod *p)
{
	char nspath[128];

	if (p->cni)
		agent_cni_revive(p);
	snprintf(nspath, sizeof(nspath), "/run/netns/%s", p->net.netns);
	p->net.host_ifindex = pod_net_host_ifindex(&p->net);
	if (!access(nspath, F_OK) && p->net.host_ifindex > 0)
		return true;
	fprintf(stderr, "sluiced: pod %s/%s is gone (netns %s), dropping it\n", p->ns, p->name, p->net.netns);
	pod_net_delete(&p->net);
	return false;
}

/* The policy sources of state.json, their texts read back (and their
 * journals replayed), loaded into the policy set. */
static void state_restore_policies(struct agent *a, json_t *root)
{
	struct state_policy_ref *refs = NULL;
	size_t n = 0, i;

	if (state_policies_parse(root, &refs, &n, &a->next_text_id, NULL))
		return;
	for (i = 0; i < n; i++) {
		struct sluice_diags e = { 0 }, w = { 0 };
		const char *file = refs[i].file, *text = refs[i].text, *text_file = refs[i].text_file;
		struct sluice_policy_set set = { 0 };
		char *owned = NULL;
		size_t journal = 0;

		if (!text && text_file && !strchr(text_file, '/')) {
			char *path = text_path(a, text_file);
			size_t len;

			if (sl_read_file(path, 256u << 20, &owned, &len))
				fprintf(stderr, "sluiced: stored policy text %s is missing\n", path);
			else
				owned = state_replay_journal(a, text_file, owned, &journal);
			free(path);
			text = owned;
		}
		if (!text)
			text = "";

		if (sluice_policy_load(file, text, strlen(text), &set, &e, &w) == 0) {
			size_t k;

			for (k = 0; k < set.n; k++) {
				struct agent_policy_src *s;

				a->srcs = realloc(a->srcs, (a->nsrcs + 1) * sizeof(*a->srcs));
				if (!a->srcs)
					abort();
				s = &a->srcs[a->nsrcs++];
				memset(s, 0, sizeof(*s));
				s->kind = set.v[k].kind;
				s->ns = set.v[k].namespace ? sl_xstrdup(set.v[k].namespace) : NULL;
				s->name = sl_xstrdup(set.v[k].name);
				s->file = sl_xstrdup(file);
				s->text = sl_xstrdup(text);
				s->text_len = strlen(text);
				/* the first document keeps the file; others write their own */
				s->text_file = k == 0 && owned ? sl_xstrdup(text_file) : NULL;
				s->whole_file = set.n == 1;
				s->journal_bytes = k == 0 && owned ? journal : 0;
			}
			sluice_policy_set_merge(&a->policies, &set);
		} else {
			fprintf(stderr, "sluiced: stored policy from %s no longer parses: %s\n", file,
				e.n ? e.v[0].msg : "?");
		}
		sluice_policy_set_free(&set);
		sluice_diags_free(&e);
		sluice_diags_free(&w);
		free(owned);
	}
	free(refs);
}

int agent_state_restore(struct agent *a, char **err)
{
	char *path = state_path(a, "");
	json_error_t jerr;
	json_t *root;
	size_t i;
	int rc = 0;

	root = json_load_file(path, 0, &jerr);
	free(path);
	if (!root)
		return 0; /* nothing to adopt */
	{
		/* pods, namespaces and their identities live in pods.json (older
		 * state files held them in state.json) */
		char *ppath = sl_strdupf("%s/pods.json", a->cfg.state_dir);
		json_t *pods = json_load_file(ppath, 0, &jerr);
		const char *key;
		json_t *val;

		free(ppath);
		if (pods && json_integer_value(json_object_get(pods, "version")) == STATE_VERSION)
			json_object_foreach(pods, key, val)
				if (strcmp(key, "version"))
					json_object_set(root, key, val);
		json_decref(pods);
	}
	if (json_integer_value(json_object_get(root, "version")) != STATE_VERSION) {
		json_decref(root);
		fprintf(stderr, "sluiced: ignoring state file of another version\n");
		return 0;
	}
	/* the registry as it was, through the registry: CIDR identities and
	 * the cluster's by number, then the records; pods whose network is gone
	 * are dropped before any identity is claimed for them */
	state_restore_cidr_ids(a);
	state_registry_parse(root, &a->reg, NULL);
	for (i = 0; i < a->reg.npods;) {
		struct agent_pod *p = a->reg.pods[i];

		if (state_pod_alive(p)) {
			i++;
			continue;
		}
		registry_pod_remove(&a->reg, p);
		registry_pod_free(p);
	}
	state_registry_claim(&a->reg);
	state_restore_policies(a, root);
	json_decref(root);
	/* Rewrite maps from the restored state (atomic swaps, same contents),
	 * then re-attach the freshly loaded programs to every pod. */
	rc = agent_regenerate(a, err);
	for (i = 0; !rc && i < a->reg.nremotes; i++) {
		uint8_t addr[16];

		sl_addr_from_ipv4(addr, a->reg.remotes[i]->net.ip);
		sluice_dp_ipcache_update(a->dp, addr, 128, a->reg.remotes[i]->identity, 0);
	}
	for (i = 0; !rc && i < a->reg.npods; i++) {
		uint8_t addr[16];

		sl_addr_from_ipv4(addr, a->reg.pods[i]->net.ip);
		sluice_dp_ipcache_update(a->dp, addr, 128, a->reg.pods[i]->identity, SLUICE_IPC_F_LOCAL_POD);
		rc = sluice_dp_attach_endpoint(a->dp, a->reg.pods[i]->net.host_ifindex, err);
		if (!rc)
			rc = agent_pod_attach_steering(a, a->reg.pods[i], err);
	}
	return rc;
}
