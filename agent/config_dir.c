/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_dir.c - sluiced --config-dir: a directory of option files turned
 * into command-line options (see config_dir.h). A ConfigMap volume holds each
 * key as a symlink to ..data/KEY, so entries are stat()ed through links and
 * the hidden ..data and ..<timestamp> entries are skipped.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/util.h"
#include "config_dir.h"

#define CONFIG_VALUE_MAX 4096

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p)
		abort();
	return p;
}

static bool option_name_ok(const char *s)
{
	if (*s < 'a' || *s > 'z')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void push(struct config_argv *c, char *s, bool owned)
{
	c->argv = xrealloc(c->argv, (size_t)(c->argc + 2) * sizeof(*c->argv));
	c->argv[c->argc++] = s;
	c->argv[c->argc] = NULL;
	if (owned) {
		c->owned = xrealloc(c->owned, (size_t)(c->nowned + 1) * sizeof(*c->owned));
		c->owned[c->nowned++] = s;
	}
}

/* the one-line value of DIR/NAME, trailing newline and blanks removed */
static int read_value(const char *dir, const char *name, char **out, char **err)
{
	char path[4096], *buf;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return sl_fail(err, errno, "--config-dir: %s: %s", path, strerror(errno));
	buf = sl_xcalloc(1, CONFIG_VALUE_MAX + 1);
	n = fread(buf, 1, CONFIG_VALUE_MAX + 1, f);
	fclose(f);
	if (n > CONFIG_VALUE_MAX) {
		free(buf);
		return sl_fail(err, EINVAL, "--config-dir: %s: value longer than %d bytes", path,
			       CONFIG_VALUE_MAX);
	}
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\t' || buf[n - 1] == '\r'))
		buf[--n] = 0;
	if (memchr(buf, '\n', n) || memchr(buf, 0, n)) {
		free(buf);
		return sl_fail(err, EINVAL, "--config-dir: %s: the value must be one line", path);
	}
	*out = buf;
	return 0;
}

static int expand_dir(struct config_argv *c, const char *dir, char **err)
{
	struct dirent *de;
	char **names = NULL;
	size_t nnames = 0, i;
	int rc = 0;
	DIR *d = opendir(dir);

	if (!d)
		return sl_fail(err, errno, "--config-dir %s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		char path[4096];
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		if (!option_name_ok(de->d_name)) {
			rc = sl_fail(err, EINVAL, "--config-dir: %s: not an option name (want [a-z][a-z0-9-]*)",
				     path);
			break;
		}
		if (!strcmp(de->d_name, "config-dir")) {
			rc = sl_fail(err, EINVAL, "--config-dir: %s: config-dir cannot be set from a config dir",
				     path);
			break;
		}
		names = xrealloc(names, (nnames + 1) * sizeof(*names));
		names[nnames++] = sl_xstrdup(de->d_name);
	}
	closedir(d);
	if (!rc)
		qsort(names, nnames, sizeof(*names), cmp_str);
	for (i = 0; i < nnames && !rc; i++) {
		char *v = NULL;

		rc = read_value(dir, names[i], &v, err);
		if (rc)
			break;
		if (!strcmp(v, "true"))
			push(c, sl_strdupf("--%s", names[i]), true);
		else if (*v && strcmp(v, "false"))
			push(c, sl_strdupf("--%s=%s", names[i], v), true);
		free(v);
	}
	for (i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	return rc;
}

int config_dir_expand(int argc, char **argv, struct config_argv *out, char **err)
{
	int i, rc;

	memset(out, 0, sizeof(*out));
	push(out, argv[0], false);
	/* the directories' options first ... */
	for (i = 1; i < argc; i++) {
		const char *dir = NULL;

		if (!strcmp(argv[i], "--"))
			break;
		if (!strncmp(argv[i], "--config-dir=", 13))
			dir = argv[i] + 13;
		else if (!strcmp(argv[i], "--config-dir")) {
			if (i + 1 >= argc) {
				config_argv_free(out);
				return sl_fail(err, EINVAL, "--config-dir needs a directory");
			}
			dir = argv[++i];
		}
		if (dir && (rc = expand_dir(out, dir, err))) {
			config_argv_free(out);
			return rc;
		}
	}
	/* ... then the command line, without --config-dir */
	for (i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--config-dir=", 13))
			continue;
		if (!strcmp(argv[i], "--config-dir")) {
			i++;
			continue;
		}
		push(out, argv[i], false);
	}
	return 0;
}

void config_argv_free(struct config_argv *c)
{
	int i;

	for (i = 0; i < c->nowned; i++)
		free(c->owned[i]);
	free(c->owned);
	free(c->argv);
	memset(c, 0, sizeof(*c));
}
