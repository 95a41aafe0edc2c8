/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cni_conf.c - chains sluice-cni after the node's primary network: the
 * plugin becomes the last entry of the primary conflist, which is what
 * the runtime (containerd, CRI-O: the lexically first config file in
 * /etc/cni/net.d) runs for every pod. See cni.h for the contract.
 *
 * Every write is a temp file in the same directory, whose name no runtime
 * loads (dot first, no config extension), renamed over the target: a
 * runtime reading the directory meanwhile sees the old or the new file,
 * never half of one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"
#include "cni.h"

#define PLUGIN_TYPE "sluice-cni"
#define BACKUP_SUFFIX ".sluice_bak"

static bool has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n >= m && !strcmp(s + n - m, suf);
}

/* The config files a runtime loads (libcni: .conf, .conflist, .json), in
 * the order it considers them. */
static int cmp_names(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static int list_confs(const char *dir, char ***out, size_t *n, char **err)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	*out = NULL;
	*n = 0;
	if (!d)
		return sl_fail(err, errno, "cannot read %s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (!has_suffix(de->d_name, ".conf") && !has_suffix(de->d_name, ".conflist") &&
		    !has_suffix(de->d_name, ".json"))
			continue;
		*out = realloc(*out, (*n + 1) * sizeof(**out));
		if (!*out)
			abort();
		(*out)[(*n)++] = sl_xstrdup(de->d_name);
	}
	closedir(d);
	if (*n)
		qsort(*out, *n, sizeof(**out), cmp_names);
	return 0;
}

static void free_names(char **v, size_t n)
{
	while (n)
		free(v[--n]);
	free(v);
}

static json_t *load_conf(const char *dir, const char *name, char **err)
{
	char *path = sl_strdupf("%s/%s", dir, name);
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);

	if (!j)
		sl_fail(err, EINVAL, "%s: line %d: %s", path, je.line, je.text);
	else if (!json_is_object(j)) {
		sl_fail(err, EINVAL, "%s: not a JSON object", path);
		json_decref(j);
		j = NULL;
	}
	free(path);
	return j;
}

static int write_atomic(const char *dir, const char *name, json_t *j, char **err)
{
	char *tmp = sl_strdupf("%s/.%s.sluice-tmp", dir, name);
	char *path = sl_strdupf("%s/%s", dir, name);
	char *text = json_dumps(j, JSON_INDENT(2));
	size_t len = text ? strlen(text) : 0;
	int fd, rc = 0;

	fd = text ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    fsync(fd) || close(fd) || rename(tmp, path)) {
		rc = sl_fail(err, errno ?: EIO, "cannot write %s: %s", path, strerror(errno ?: EIO));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
	}
	free(text);
	free(tmp);
	free(path);
	return rc;
}

static bool is_ours(json_t *plugin)
{
	const char *t = json_string_value(json_object_get(plugin, "type"));

	return t && !strcmp(t, PLUGIN_TYPE);
}

static json_t *our_entry(const char *socket)
{
	json_t *e = json_pack("{s:s}", "type", PLUGIN_TYPE);

	if (socket && strcmp(socket, SLUICE_CNI_DEFAULT_SOCKET))
		json_object_set_new(e, "socket", json_string(socket));
	return e;
}

/* Versions before 0.3.0 have no chaining (no prevResult); sluice-cni
 * supports 0.3.0 to 1.1.0. A list without cniVersion (1.1.0's cniVersions
 * only) is left to the runtime. */
static bool version_chainable(const char *v)
{
	static const char *const ok[] = { SLUICE_CNI_VERSIONS };
	size_t i;

	if (!v)
		return true;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strcmp(v, ok[i]))
			return true;
	return false;
}

/* the file the runtime uses for the primary network */
static int pick_target(const char *dir, const char *target, char **names, size_t n, size_t *at,
		       char **err)
{
	size_t i;

	if (!n)
		return sl_fail(err, ENOENT, "no CNI network configuration in %s yet", dir);
	if (!target || !*target || !strcmp(target, "auto")) {
		*at = 0;
		return 0;
	}
	for (i = 0; i < n; i++) {
		json_t *j;
		const char *nm;
		bool hit = !strcmp(names[i], target);

		if (!hit && (j = load_conf(dir, names[i], NULL))) {
			nm = json_string_value(json_object_get(j, "name"));
			hit = nm && !strcmp(nm, target);
			json_decref(j);
		}
		if (hit) {
			*at = i;
			return 0;
		}
	}
	return sl_fail(err, ENOENT, "no CNI network configuration named %s in %s", target, dir);
}

int cni_conf_install(const char *dir, const char *target, const char *socket, bool *changed,
		     char **path_out, char **err)
{
	char **names = NULL, *file = NULL, *backup = NULL;
	size_t n = 0, at = 0, i, ours = 0;
	json_t *j = NULL, *plugins, *want = our_entry(socket), *last;
	int rc;

	*changed = false;
	rc = list_confs(dir, &names, &n, err);
	if (!rc)
		rc = pick_target(dir, target, names, n, &at, err);
	if (rc)
		goto out;
	j = load_conf(dir, names[at], err);
	if (!j) {
		rc = -EINVAL;
		goto out;
	}
	file = sl_xstrdup(names[at]);
	plugins = json_object_get(j, "plugins");
	if (!plugins) {
		/* a single-plugin .conf: the same network as a conflist */
		json_t *list, *plugin = json_deep_copy(j);
		char *base = sl_xstrdup(names[at]);

		if (!json_string_value(json_object_get(j, "type"))) {
			rc = sl_fail(err, EINVAL, "%s/%s: neither \"plugins\" nor \"type\"", dir, names[at]);
			json_decref(plugin);
			free(base);
			goto out;
		}
		*strrchr(base, '.') = 0;
		json_object_del(plugin, "cniVersion");
		json_object_del(plugin, "name");
		list = json_pack("{s:O*,s:O*,s:[o]}", "cniVersion", json_object_get(j, "cniVersion"),
				 "name", json_object_get(j, "name"), "plugins", plugin);
		json_decref(j);
		j = list;
		free(file);
		file = sl_strdupf("%s.conflist", base);
		backup = sl_strdupf("%s/%s" BACKUP_SUFFIX, dir, names[at]);
		free(base);
		plugins = json_object_get(j, "plugins");
	}
	if (!json_is_array(plugins)) {
		rc = sl_fail(err, EINVAL, "%s/%s: \"plugins\" is not a list", dir, names[at]);
		goto out;
	}
	if (!version_chainable(json_string_value(json_object_get(j, "cniVersion")))) {
		/* every pod would fail with "incompatible CNI versions" */
		rc = sl_fail(err, ENOTSUP, "%s/%s: cniVersion %s cannot chain sluice-cni (0.3.0 and later can)",
			     dir, names[at], json_string_value(json_object_get(j, "cniVersion")) ?: "(none)");
		goto out;
	}
	last = json_array_get(plugins, json_array_size(plugins) - 1);
	for (i = 0; i < json_array_size(plugins); i++)
		ours += is_ours(json_array_get(plugins, i));
	if (!backup && ours == 1 && last && json_equal(last, want))
		goto done; /* already the last plugin, once */
	for (i = 0; i < json_array_size(plugins);) {
		if (is_ours(json_array_get(plugins, i)))
			json_array_remove(plugins, i);
		else
			i++;
	}
	json_array_append(plugins, want);
	rc = write_atomic(dir, file, j, err);
	if (rc)
		goto out;
	if (backup) {
		char *orig = sl_strdupf("%s/%s", dir, names[at]);

		if (rename(orig, backup))
			rc = sl_fail(err, errno, "cannot move %s aside: %s", orig, strerror(errno));
		free(orig);
		if (rc)
			goto out;
	}
	*changed = true;
done:
	if (path_out)
		*path_out = sl_strdupf("%s/%s", dir, file);
out:
	json_decref(want);
	json_decref(j);
	free(file);
	free(backup);
	free_names(names, n);
	return rc;
}

int cni_conf_uninstall(const char *dir, char **err)
{
	char **names = NULL;
	size_t n = 0, i, k;
	int rc = list_confs(dir, &names, &n, err);

	for (i = 0; !rc && i < n; i++) {
		json_t *j = load_conf(dir, names[i], NULL), *plugins = json_object_get(j, "plugins");
		char base[1024], backup[2100], path[2100];
		bool found = false;
		static const char *const exts[] = { ".conf", ".json" };

		for (k = 0; k < json_array_size(plugins);) {
			if (is_ours(json_array_get(plugins, k))) {
				json_array_remove(plugins, k);
				found = true;
			} else {
				k++;
			}
		}
		if (!found) {
			json_decref(j);
			continue;
		}
		snprintf(base, sizeof(base), "%s", names[i]);
		if (strrchr(base, '.'))
			*strrchr(base, '.') = 0;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		backup[0] = 0;
		for (k = 0; k < 2 && has_suffix(names[i], ".conflist"); k++) {
			snprintf(backup, sizeof(backup), "%s/%s%s" BACKUP_SUFFIX, dir, base, exts[k]);
			if (!access(backup, F_OK))
				break;
			backup[0] = 0;
		}
		if (backup[0]) {
			/* it was a .conf that we made a conflist: the .conf again */
			char orig[2100];

			snprintf(orig, sizeof(orig), "%.*s", (int)(strlen(backup) - strlen(BACKUP_SUFFIX)),
				 backup);
			if (rename(backup, orig) || unlink(path))
				rc = sl_fail(err, errno, "cannot restore %s: %s", orig, strerror(errno));
		} else {
			rc = write_atomic(dir, names[i], j, err);
		}
		json_decref(j);
	}
	free_names(names, n);
	return rc;
}
