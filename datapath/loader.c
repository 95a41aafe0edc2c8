/* SPDX-License-Identifier: Apache-2.0 */
/*
 * loader.c - opens the datapath (datapath.h): loads the BPF programs
 * through their skeletons, creates or adopts the maps pinned under
 * --bpf-root (replacing pins whose layout or ABI version changed), and
 * closes or removes it all again.
 *
 * What outlives the agent: pinned maps, tc filters (filters are not bpf
 * links, they hold their program until removed), the bpf links of the L7
 * steering, pinned under <bpf-root>/links/, and the sk_msg program attached
 * to the socks map. A restarted agent opens the same pins, so conntrack,
 * policy and counters carry over; re-attaching an endpoint replaces the old
 * filter in place, and open() moves every pinned link to the new programs
 * (bpf_link_update: the hook is never empty; attach.c).
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../common/util.h"
#include "internal.h"
#include "bpf_lxc.skel.h"
#include "bpf_sklookup.skel.h"
#include "bpf_connect.skel.h"
#include "bpf_sockops.skel.h"
#include "bpf_skmsg.skel.h"
#include "bpf_sock_svc.skel.h"

/* Appends one formatted warning line to a malloc'd list of lines (*msg may
 * be NULL). Errors never go through here: they replace *err (sl_fail). */
__attribute__((format(printf, 2, 3)))
void dp_warn(char **msg, const char *fmt, ...)
{
	char line[512], *joined;
	size_t have, len;
	va_list ap;

	if (!msg)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	have = *msg ? strlen(*msg) : 0;
	len = strlen(line);
	joined = realloc(*msg, have + len + 2);
	if (!joined)
		return;
	if (have)
		joined[have++] = '\n';
	memcpy(joined + have, line, len + 1);
	*msg = joined;
}

static int dp_root_prepare(const char *root, char **err)
{
	char path[4096];
	struct statfs fs;
	size_t i, len = strlen(root);

	if (len == 0 || len >= sizeof(path)) {
		return sl_fail(err, EINVAL, "bpf root '%s': bad path", root);
	}
	memcpy(path, root, len + 1);
	for (i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			int e = errno;

			return sl_fail(err, e, "creating %s: %s", path, strerror(e));
		}
		path[i] = root[i];
	}
	if (statfs(root, &fs) < 0) {
		int e = errno;

		return sl_fail(err, e, "bpf root %s: %s", root, strerror(e));
	}
	if ((unsigned long)fs.f_type != (unsigned long)BPF_FS_MAGIC) {
		return sl_fail(err, EINVAL,
			       "bpf root %s is not on a bpf filesystem (mount -t bpf bpf /sys/fs/bpf)",
			       root);
	}
	return 0;
}

/* Describes the first difference between a pinned map and what we expect. */
static int dp_layout_diff(const struct bpf_map_info *have, uint32_t type, uint32_t key_size,
			  uint32_t value_size, uint32_t max_entries, uint32_t flags,
			  char *buf, size_t n)
{
	if (have->type != type)
		snprintf(buf, n, "type %u != %u", have->type, type);
	else if (have->key_size != key_size)
		snprintf(buf, n, "key size %u != %u", have->key_size, key_size);
	else if (have->value_size != value_size)
		snprintf(buf, n, "value size %u != %u", have->value_size, value_size);
	else if (have->max_entries != max_entries)
		snprintf(buf, n, "max entries %u != %u", have->max_entries, max_entries);
	else if (have->map_flags != flags)
		snprintf(buf, n, "flags 0x%x != 0x%x", have->map_flags, flags);
	else
		return 0;
	return 1;
}

/*
 * The outer policy map's layout says nothing about its inner maps, and the
 * kernel would refuse our new inner maps if the template changed: compare
 * one inner map that is in it, if any.
 */
static int dp_inner_diff(int outer_fd, char *buf, size_t n)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info), key, inner_id;
	int fd, diff = 0;

	if (bpf_map_get_next_key(outer_fd, NULL, &key) < 0)
		return 0;
	if (bpf_map_lookup_elem(outer_fd, &key, &inner_id) < 0)
		return 0;
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) {
		char what[128];

		diff = dp_layout_diff(&info, BPF_MAP_TYPE_LPM_TRIE, sizeof(struct sluice_policy_key),
				      sizeof(struct sluice_policy_entry), SLUICE_POLICY_INNER_MAX,
				      BPF_F_NO_PREALLOC, what, sizeof(what));
		if (diff)
			snprintf(buf, n, "inner map %s", what);
	}
	close(fd);
	return diff;
}

/*
 * Unpins a map we will not adopt. The socks map and the sk_msg program
 * attached to it hold each other: detach first, or both live forever.
 */
static int dp_unpin_map(struct sluice_datapath *dp, const char *name, const char *path)
{
	if (strcmp(name, SLUICE_MAP_SOCKS) == 0)
		dp_skmsg_detach_all(dp->bpf_root);
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/*
 * Before load: drops pins that libbpf could not reuse (it would fail the
 * whole load), so a layout change without a name change costs that map's
 * state instead of the agent. *kept counts pins that will be adopted.
 */
static int dp_check_pins(struct sluice_datapath *dp, char **warn, int *kept)
{
	struct dp_map_ref maps[DP_MAPS_MAX];
	size_t i, n = dp_maps(dp, maps, DP_MAPS_MAX);

	*kept = 0;
	for (i = 0; i < n; i++) {
		struct bpf_map *map = maps[i].map;
		const char *path = bpf_map__pin_path(map);
		struct bpf_map_info info = {};
		uint32_t len = sizeof(info);
		char what[160];
		int fd, diff, e;

		if (!path)
			continue;
		fd = bpf_obj_get(path);
		if (fd < 0) {
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0) {
			int e = -errno;

			close(fd);
			return e;
		}
		diff = dp_layout_diff(&info, bpf_map__type(map), bpf_map__key_size(map),
				      bpf_map__value_size(map), bpf_map__max_entries(map),
				      bpf_map__map_flags(map), what, sizeof(what));
		if (!diff && bpf_map__type(map) == BPF_MAP_TYPE_HASH_OF_MAPS)
			diff = dp_inner_diff(fd, what, sizeof(what));
		close(fd);
		if (!diff) {
			(*kept)++;
			continue;
		}
		e = dp_unpin_map(dp, maps[i].name, path);
		if (e)
			return e;
		dp_warn(warn, "replaced incompatible pinned map %s (%s)", maps[i].name, what);
	}
	return 0;
}

/*
 * The pinned ABI version differs from ours: the maps may mean something else
 * even where their layout matches. Start from fresh maps, all of them.
 */
static int dp_check_abi_version(struct sluice_datapath *dp, char **warn)
{
	struct dp_map_ref maps[DP_MAPS_MAX];
	const char *path = bpf_map__pin_path(dp->lxc->maps.sluice_abi);
	uint32_t key = 0, version = 0;
	size_t i, n;
	int fd, e;

	if (!path)
		return 0;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	e = bpf_map_lookup_elem(fd, &key, &version);
	close(fd);
	if (e < 0 || version == 0 || version == SLUICE_ABI_VERSION)
		return 0;

	n = dp_maps(dp, maps, DP_MAPS_MAX);
	for (i = 0; i < n; i++) {
		const char *p = bpf_map__pin_path(maps[i].map);

		e = p ? dp_unpin_map(dp, maps[i].name, p) : 0;
		if (e)
			return e;
	}
	dp_warn(warn, "pinned maps have ABI version %u, this build %u: replaced all of them",
		   version, SLUICE_ABI_VERSION);
	return 0;
}

/*
 * The BPF side names its maps by C identifier, abi.h by string: keep them
 * equal, and make sure every object's maps are in the list (the pin checks
 * below only look at the list; a map missing there would escape them).
 */
static int dp_check_names(struct sluice_datapath *dp, char **err)
{
	struct dp_map_ref maps[DP_MAPS_MAX];
	struct bpf_object *objs[DP_OBJECTS_MAX];
	size_t i, j, n = dp_maps(dp, maps, DP_MAPS_MAX), nobj = dp_objects(dp, objs);
	struct bpf_map *map;

	for (i = 0; i < n; i++) {
		if (strcmp(bpf_map__name(maps[i].map), maps[i].name) != 0) {
			return sl_fail(err, EINVAL, "build mismatch: BPF map %s is %s in abi.h",
				       bpf_map__name(maps[i].map), maps[i].name);
		}
	}
	for (j = 0; j < nobj; j++) {
		bpf_object__for_each_map(map, objs[j]) {
			for (i = 0; i < n; i++)
				if (strcmp(bpf_map__name(map), maps[i].name) == 0)
					break;
			if (i == n && !bpf_map__is_internal(map)) {
				return sl_fail(err, EINVAL, "build mismatch: BPF map %s of %s is not in abi.h",
					       bpf_map__name(map), bpf_object__name(objs[j]));
			}
		}
	}
	return 0;
}

/*
 * The sizes the agent chose for the service and backend maps, before load:
 * both objects that declare them must agree (libbpf reuses a pin only when
 * its size matches), and a pin of another size is replaced by the pin check.
 */
static int dp_set_limits(struct sluice_datapath *dp, const struct sluice_dp_options *o, char **err)
{
	struct bpf_map *svc[] = { dp->connect->maps.sluice_svc_v1, dp->socksvc->maps.sluice_svc_v1 };
	struct bpf_map *be[] = { dp->connect->maps.sluice_be_v1, dp->socksvc->maps.sluice_be_v1 };
	/* an affinity frontend's match entries are at most its slots */
	struct bpf_map *match[] = { dp->connect->maps.sluice_safm_v1,
				    dp->socksvc->maps.sluice_safm_v1 };
	size_t i;

	for (i = 0; o && i < 2; i++) {
		if ((o->service_max_entries && bpf_map__set_max_entries(svc[i], o->service_max_entries)) ||
		    (o->service_max_entries &&
		     bpf_map__set_max_entries(match[i], o->service_max_entries)) ||
		    (o->backend_max_entries && bpf_map__set_max_entries(be[i], o->backend_max_entries))) {
			return sl_fail(err, EINVAL, "sizing the service maps: %s", strerror(errno));
		}
	}
	return 0;
}

int sluice_dp_open(struct sluice_datapath **out, const char *bpf_root, bool *adopted,
		   char **warnings, char **err)
{
	return sluice_dp_open_opts(out, bpf_root, NULL, adopted, warnings, err);
}

int sluice_dp_open_opts(struct sluice_datapath **out, const char *bpf_root,
			const struct sluice_dp_options *o, bool *adopted, char **warnings,
			char **err)
{
	struct sluice_datapath *dp = NULL;
	char *warn = NULL;
	uint32_t key = 0, version = SLUICE_ABI_VERSION;
	int e, kept = 0;

	*out = NULL;
	if (adopted)
		*adopted = false;
	if (warnings)
		*warnings = NULL;

	e = dp_root_prepare(bpf_root, err);
	if (e)
		return e;

	dp = calloc(1, sizeof(*dp));
	if (!dp || !(dp->bpf_root = strdup(bpf_root))) {
		e = -ENOMEM;
		sl_fail(err, ENOMEM, "out of memory");
		goto fail;
	}

	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = bpf_root);
	dp->lxc = bpf_lxc__open_opts(&opts);
	dp->sklookup = dp->lxc ? bpf_sklookup__open_opts(&opts) : NULL;
	dp->connect = dp->sklookup ? bpf_connect__open_opts(&opts) : NULL;
	dp->sockops = dp->connect ? bpf_sockops__open_opts(&opts) : NULL;
	dp->skmsg = dp->sockops ? bpf_skmsg__open_opts(&opts) : NULL;
	dp->socksvc = dp->skmsg ? bpf_sock_svc__open_opts(&opts) : NULL;
	if (!dp->socksvc) {
		e = -errno;
		sl_fail(err, e, "opening BPF objects: %s", strerror(-e));
		goto fail;
	}

	e = dp_check_names(dp, err);
	if (!e)
		e = dp_set_limits(dp, o, err);
	if (e)
		goto fail;
	e = dp_check_abi_version(dp, &warn);
	if (!e)
		e = dp_check_pins(dp, &warn, &kept);
	if (e) {
		sl_fail(err, e, "checking pinned maps under %s: %s", bpf_root, strerror(-e));
		goto fail;
	}

	/* bpf_lxc first: it creates (or adopts) the pins the others reuse */
	e = bpf_lxc__load(dp->lxc);
	if (e) {
		sl_fail(err, e, "loading BPF object bpf_lxc: %s (verifier log on stderr)",
			strerror(-e));
		goto fail;
	}
	e = bpf_sklookup__load(dp->sklookup);
	if (!e)
		e = bpf_connect__load(dp->connect);
	if (!e)
		e = bpf_sockops__load(dp->sockops);
	if (!e)
		e = bpf_skmsg__load(dp->skmsg);
	if (!e)
		e = bpf_sock_svc__load(dp->socksvc);
	if (e) {
		sl_fail(err, e, "loading the L7 steering BPF objects: %s (verifier log on stderr)",
			strerror(-e));
		goto fail;
	}

	e = bpf_map_update_elem(bpf_map__fd(dp->lxc->maps.sluice_abi), &key, &version, BPF_ANY);
	if (e) {
		e = -errno;
		sl_fail(err, e, "writing %s: %s", SLUICE_MAP_ABI, strerror(-e));
		goto fail;
	}

	e = dp_skmsg_attach(dp, err);
	if (e)
		goto fail;
	e = dp_links_adopt(dp, &warn);
	if (e) {
		sl_fail(err, e, "adopting pinned links under %s: %s", bpf_root, strerror(-e));
		goto fail;
	}

	dp->events = ring_buffer__new(bpf_map__fd(dp->lxc->maps.sluice_ev_v1), dp_on_event, dp,
				      NULL);
	if (!dp->events) {
		e = -errno;
		sl_fail(err, e, "opening ring buffer %s: %s", SLUICE_MAP_EVENTS, strerror(-e));
		goto fail;
	}

	if (adopted)
		*adopted = kept > 0;
	if (warnings)
		*warnings = warn;
	else
		free(warn);
	*out = dp;
	return 0;

fail:
	free(warn);
	sluice_dp_close(dp);
	return e;
}

void sluice_dp_close(struct sluice_datapath *dp)
{
	if (!dp)
		return;
	ring_buffer__free(dp->events);
	bpf_sock_svc__destroy(dp->socksvc);
	bpf_skmsg__destroy(dp->skmsg);
	bpf_sockops__destroy(dp->sockops);
	bpf_connect__destroy(dp->connect);
	bpf_sklookup__destroy(dp->sklookup);
	bpf_lxc__destroy(dp->lxc);
	free(dp->bpf_root);
	free(dp);
}

int sluice_dp_unpin_all(const char *bpf_root)
{
	char path[4096];
	struct dirent *de;
	DIR *dir;
	int e, e2;

	e = dp_links_remove_all(bpf_root);
	e2 = dp_skmsg_detach_all(bpf_root);
	if (!e)
		e = e2;
	dir = opendir(bpf_root);
	if (!dir)
		return errno == ENOENT ? e : -errno;
	while ((de = readdir(dir)) != NULL) {
		if (strncmp(de->d_name, DP_PIN_PREFIX, strlen(DP_PIN_PREFIX)) != 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", bpf_root, de->d_name) >= (int)sizeof(path))
			continue;
		if (unlink(path) < 0 && errno != ENOENT && !e)
			e = -errno;
	}
	closedir(dir);
	if (rmdir(bpf_root) < 0 && errno != ENOENT && !e)
		e = -errno;
	return e;
}
