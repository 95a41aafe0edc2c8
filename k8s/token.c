/* SPDX-License-Identifier: Apache-2.0 */
/*
 * token.c - bearer tokens (see token.h).
 *
 * A pod's ServiceAccount token is a bound token that expires (about an hour
 * by default); the kubelet writes a fresh one before that by swapping the
 * `..data` symlink of the projected volume. So the file is opened by path
 * on every read (a kept descriptor would see the old inode forever) and
 * read again at least every minute, as client-go does, plus immediately
 * when the server answers 401. The file is a few hundred bytes on a tmpfs;
 * reading it synchronously on the loop costs microseconds.
 */
#include "token.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define TOKEN_MAX_AGE_NS (60ull * 1000000000ull)

/* Reads and trims the file; NULL when unreadable or empty. */
static char *token_read(const char *path, int *errnum)
{
	char *text = NULL;
	size_t len = 0;
	int r = sl_read_file(path, 1 << 20, &text, &len);
	if (r) {
		*errnum = -r;
		return NULL;
	}
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ' ||
		       text[len - 1] == '\t'))
		text[--len] = 0;
	size_t lead = strspn(text, " \t\r\n");
	if (lead)
		memmove(text, text + lead, len - lead + 1);
	if (!text[0]) {
		free(text);
		*errnum = ENODATA;
		return NULL;
	}
	return text;
}

int k8s_token_init(struct k8s_token *t, const char *fixed, const char *path, char **err)
{
	memset(t, 0, sizeof(*t));
	t->max_age_ns = TOKEN_MAX_AGE_NS;
	if (fixed)
		t->fixed = sl_xstrdup(fixed);
	if (path) {
		int e = 0;
		t->path = sl_xstrdup(path);
		t->current = token_read(path, &e);
		if (!t->current) {
			int r = sl_fail(err, e, "token file %s: %s", path,
					e == ENODATA ? "empty" : strerror(e));
			k8s_token_free(t);
			return r;
		}
		t->read_ns = sl_mono_ns();
	}
	return 0;
}

void k8s_token_free(struct k8s_token *t)
{
	free(t->fixed);
	free(t->path);
	free(t->current);
	memset(t, 0, sizeof(*t));
}

static bool token_reread(struct k8s_token *t)
{
	int e = 0;
	char *fresh = token_read(t->path, &e);
	t->read_ns = sl_mono_ns();
	if (!fresh)
		return false; /* keep the last good token: a swap in progress */
	if (!t->current || strcmp(fresh, t->current) != 0)
		t->reloads++;
	free(t->current);
	t->current = fresh;
	return true;
}

const char *k8s_token_get(struct k8s_token *t)
{
	if (t->path) {
		if (sl_mono_ns() - t->read_ns >= t->max_age_ns)
			token_reread(t);
		if (t->current)
			return t->current;
	}
	return t->fixed;
}

bool k8s_token_reload(struct k8s_token *t)
{
	if (!t->path)
		return false;
	token_reread(t);
	return true;
}
