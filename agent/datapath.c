/* SPDX-License-Identifier: Apache-2.0 */
/*
 * datapath.c - the user-space half of the kernel datapath (datapath.h):
 * loads the BPF programs through their skeletons, creates or adopts the
 * maps pinned under --bpf-root, attaches the programs to pod veths as tc
 * filters, and writes endpoints, ipcache entries and policies into the maps.
 *
 * What outlives the agent: pinned maps, tc filters (filters are not bpf
 * links, they hold their program until removed), the bpf links of the L7
 * steering, pinned under <bpf-root>/links/, and the sk_msg program attached
 * to the socks map. A restarted agent opens the same pins, so conntrack,
 * policy and counters carry over; re-attaching an endpoint replaces the old
 * filter in place, and open() moves every pinned link to the new programs
 * (bpf_link_update: the hook is never empty).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../common/util.h"
#include "sluice/datapath.h"
#include "sluice/verdict.h"
#include "bpf_lxc.skel.h"
#include "bpf_sklookup.skel.h"
#include "bpf_connect.skel.h"
#include "bpf_sockops.skel.h"
#include "bpf_skmsg.skel.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/*
 * Our tc filter's identity on a hook. Priority 1 so that we run before any
 * filter a CNI may have put there (a filter returning TC_ACT_OK before ours
 * would bypass policy); ours returns TC_ACT_UNSPEC to let theirs run after.
 */
#define DP_TC_HANDLE   0x51u
#define DP_TC_PRIORITY 1

#define DP_PIN_PREFIX "sluice_"

/* Pinned links under <bpf-root>/DP_LINKS_DIR: connect4, sock_ops, sk_lookup_<ep_id>. */
#define DP_LINKS_DIR        "links"
#define DP_LINK_CONNECT4    "connect4"
#define DP_LINK_SOCK_OPS    "sock_ops"
#define DP_LINK_SK_LOOKUP   "sk_lookup_"

#define DP_ROOT_CGROUP_ID 1 /* inode of a cgroup2 root: never attach connect4 there */

struct sluice_datapath {
	/* one object per hook; they share maps through their pins */
	struct bpf_lxc *lxc;
	struct bpf_sklookup *sklookup;
	struct bpf_connect *connect;
	struct bpf_sockops *sockops;
	struct bpf_skmsg *skmsg;
	char *bpf_root;
	struct ring_buffer *events;
	sluice_dp_event_cb event_cb; /* set only while draining */
	void *event_ctx;
};

/* Appends one formatted line to a malloc'd message (*msg may be NULL). */
__attribute__((format(printf, 2, 3)))
static void dp_msg_add(char **msg, const char *fmt, ...)
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

/* The maps of all objects, with the names abi.h promises. */
struct dp_map_ref {
	const char *name;
	struct bpf_map *map;
};

static size_t dp_maps(struct sluice_datapath *dp, struct dp_map_ref *out, size_t n)
{
	const struct dp_map_ref all[] = {
		{ SLUICE_MAP_ENDPOINTS, dp->lxc->maps.sluice_ep_v1 },
		{ SLUICE_MAP_IPCACHE, dp->lxc->maps.sluice_ipc_v1 },
		{ SLUICE_MAP_POLICY, dp->lxc->maps.sluice_pol_v1 },
		{ SLUICE_MAP_CT, dp->lxc->maps.sluice_ct_v1 },
		{ SLUICE_MAP_EVENTS, dp->lxc->maps.sluice_ev_v1 },
		{ SLUICE_MAP_STATS, dp->lxc->maps.sluice_stat_v1 },
		{ SLUICE_MAP_DROPAGG, dp->lxc->maps.sluice_dagg_v1 },
		{ SLUICE_MAP_ABI, dp->lxc->maps.sluice_abi },
		{ SLUICE_MAP_EP_ADDR, dp->lxc->maps.sluice_epip_v1 },
		{ SLUICE_MAP_NETNS_EP, dp->lxc->maps.sluice_nsep_v1 },
		{ SLUICE_MAP_PROXY_LISTENERS, dp->lxc->maps.sluice_plsn_v1 },
		{ SLUICE_MAP_PROXY_STATE, dp->lxc->maps.sluice_pst_v1 },
		{ SLUICE_MAP_ORIG_DST_SK, dp->lxc->maps.sluice_odsk_v1 },
		{ SLUICE_MAP_ORIG_DST, dp->lxc->maps.sluice_odst_v1 },
		{ SLUICE_MAP_PROXY_FLOWS, dp->lxc->maps.sluice_pflw_v1 },
		{ SLUICE_MAP_SOCKS, dp->sockops->maps.sluice_sock_v1 },
		{ SLUICE_MAP_SOCK_SIDE, dp->sockops->maps.sluice_sdir_v1 },
	};
	size_t i, count = sizeof(all) / sizeof(all[0]);

	for (i = 0; i < count && i < n; i++)
		out[i] = all[i];
	return count;
}

#define DP_MAPS_MAX 24

static int dp_root_prepare(const char *root, char **err)
{
	char path[4096];
	struct statfs fs;
	size_t i, len = strlen(root);

	if (len == 0 || len >= sizeof(path)) {
		dp_msg_add(err, "bpf root '%s': bad path", root);
		return -EINVAL;
	}
	memcpy(path, root, len + 1);
	for (i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			int e = -errno;

			dp_msg_add(err, "creating %s: %s", path, strerror(-e));
			return e;
		}
		path[i] = root[i];
	}
	if (statfs(root, &fs) < 0) {
		int e = -errno;

		dp_msg_add(err, "bpf root %s: %s", root, strerror(-e));
		return e;
	}
	if ((unsigned long)fs.f_type != (unsigned long)BPF_FS_MAGIC) {
		dp_msg_add(err, "bpf root %s is not on a bpf filesystem (mount -t bpf bpf /sys/fs/bpf)",
			   root);
		return -EINVAL;
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

static int dp_skmsg_detach_all(const char *bpf_root);

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
		dp_msg_add(warn, "replaced incompatible pinned map %s (%s)", maps[i].name, what);
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
	dp_msg_add(warn, "pinned maps have ABI version %u, this build %u: replaced all of them",
		   version, SLUICE_ABI_VERSION);
	return 0;
}

static size_t dp_objects(struct sluice_datapath *dp, struct bpf_object **out)
{
	out[0] = dp->lxc->obj;
	out[1] = dp->sklookup->obj;
	out[2] = dp->connect->obj;
	out[3] = dp->sockops->obj;
	out[4] = dp->skmsg->obj;
	return 5;
}
#define DP_OBJECTS_MAX 5

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
			dp_msg_add(err, "build mismatch: BPF map %s is %s in abi.h",
				   bpf_map__name(maps[i].map), maps[i].name);
			return -EINVAL;
		}
	}
	for (j = 0; j < nobj; j++) {
		bpf_object__for_each_map(map, objs[j]) {
			for (i = 0; i < n; i++)
				if (strcmp(bpf_map__name(map), maps[i].name) == 0)
					break;
			if (i == n && !bpf_map__is_internal(map)) {
				dp_msg_add(err, "build mismatch: BPF map %s of %s is not in abi.h",
					   bpf_map__name(map), bpf_object__name(objs[j]));
				return -EINVAL;
			}
		}
	}
	return 0;
}

static int dp_on_event(void *ctx, void *data, size_t size)
{
	struct sluice_datapath *dp = ctx;

	if (size < sizeof(struct sluice_flow_event) || !dp->event_cb)
		return 0;
	dp->event_cb(dp->event_ctx, data);
	return 0;
}

/*
 * sk_msg programs attach to the map, not through a link (libbpf 1.1), and
 * stay attached while the map lives. Attaching replaces the previous
 * program atomically, so a restarted agent takes over without a gap.
 */
static int dp_skmsg_attach(struct sluice_datapath *dp, char **err)
{
	int e = bpf_prog_attach(bpf_program__fd(dp->skmsg->progs.sk_msg_redirect),
				bpf_map__fd(dp->sockops->maps.sluice_sock_v1),
				BPF_SK_MSG_VERDICT, 0);

	if (e < 0) {
		e = -errno;
		dp_msg_add(err, "attaching sk_msg_redirect to %s: %s", SLUICE_MAP_SOCKS,
			   strerror(-e));
	}
	return e;
}

static int dp_links_dir(const char *bpf_root, char *buf, size_t n)
{
	if (snprintf(buf, n, "%s/%s", bpf_root, DP_LINKS_DIR) >= (int)n)
		return -ENAMETOOLONG;
	return 0;
}

static int dp_link_path(struct sluice_datapath *dp, const char *name, char *buf, size_t n)
{
	if (snprintf(buf, n, "%s/%s/%s", dp->bpf_root, DP_LINKS_DIR, name) >= (int)n)
		return -ENAMETOOLONG;
	return 0;
}

/* The program a pinned link of this name must run, or NULL if unknown. */
static struct bpf_program *dp_link_program(struct sluice_datapath *dp, const char *name)
{
	if (strcmp(name, DP_LINK_CONNECT4) == 0)
		return dp->connect->progs.sock_connect4;
	if (strcmp(name, DP_LINK_SOCK_OPS) == 0)
		return dp->sockops->progs.sock_ops_established;
	if (strncmp(name, DP_LINK_SK_LOOKUP, strlen(DP_LINK_SK_LOOKUP)) == 0)
		return dp->sklookup->progs.sk_lookup_proxy;
	return NULL;
}

/*
 * After an agent restart: every pinned link still runs the previous agent's
 * program (enforcing, with the same maps). Move each to this build's program
 * in place. A link whose cgroup or netns is gone cannot be updated: its pin
 * is removed.
 */
static int dp_links_adopt(struct sluice_datapath *dp, char **warn)
{
	char dir[4096], path[4096];
	struct dirent *de;
	DIR *d;

	if (dp_links_dir(dp->bpf_root, dir, sizeof(dir)))
		return -ENAMETOOLONG;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) != NULL) {
		struct bpf_program *prog;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		prog = dp_link_program(dp, de->d_name);
		if (!prog) {
			dp_msg_add(warn, "unknown pinned link %s left alone", path);
			continue;
		}
		fd = bpf_obj_get(path);
		if (fd < 0) {
			dp_msg_add(warn, "opening pinned link %s: %s", path, strerror(errno));
			continue;
		}
		if (bpf_link_update(fd, bpf_program__fd(prog), NULL) < 0) {
			int u = errno;

			/* ENOLINK: the cgroup or netns died with the link */
			dp_msg_add(warn, "pinned link %s: update failed (%s): removed", path,
				   strerror(u));
			bpf_link_detach(fd);
			unlink(path);
		}
		close(fd);
	}
	closedir(d);
	return 0;
}

int sluice_dp_open(struct sluice_datapath **out, const char *bpf_root, bool *adopted, char **err)
{
	struct sluice_datapath *dp = NULL;
	char *warn = NULL;
	uint32_t key = 0, version = SLUICE_ABI_VERSION;
	int e, kept = 0;

	*out = NULL;
	if (adopted)
		*adopted = false;
	if (err)
		*err = NULL;

	e = dp_root_prepare(bpf_root, err);
	if (e)
		return e;

	dp = calloc(1, sizeof(*dp));
	if (!dp || !(dp->bpf_root = strdup(bpf_root))) {
		e = -ENOMEM;
		dp_msg_add(err, "out of memory");
		goto fail;
	}

	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = bpf_root);
	dp->lxc = bpf_lxc__open_opts(&opts);
	dp->sklookup = dp->lxc ? bpf_sklookup__open_opts(&opts) : NULL;
	dp->connect = dp->sklookup ? bpf_connect__open_opts(&opts) : NULL;
	dp->sockops = dp->connect ? bpf_sockops__open_opts(&opts) : NULL;
	dp->skmsg = dp->sockops ? bpf_skmsg__open_opts(&opts) : NULL;
	if (!dp->skmsg) {
		e = -errno;
		dp_msg_add(err, "opening BPF objects: %s", strerror(-e));
		goto fail;
	}

	e = dp_check_names(dp, err);
	if (e)
		goto fail;
	e = dp_check_abi_version(dp, &warn);
	if (!e)
		e = dp_check_pins(dp, &warn, &kept);
	if (e) {
		dp_msg_add(err, "checking pinned maps under %s: %s", bpf_root, strerror(-e));
		goto fail;
	}

	/* bpf_lxc first: it creates (or adopts) the pins the others reuse */
	e = bpf_lxc__load(dp->lxc);
	if (e) {
		dp_msg_add(err, "loading BPF object bpf_lxc: %s (verifier log on stderr)",
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
	if (e) {
		dp_msg_add(err, "loading the L7 steering BPF objects: %s (verifier log on stderr)",
			   strerror(-e));
		goto fail;
	}

	e = bpf_map_update_elem(bpf_map__fd(dp->lxc->maps.sluice_abi), &key, &version, BPF_ANY);
	if (e) {
		e = -errno;
		dp_msg_add(err, "writing %s: %s", SLUICE_MAP_ABI, strerror(-e));
		goto fail;
	}

	e = dp_skmsg_attach(dp, err);
	if (e)
		goto fail;
	e = dp_links_adopt(dp, &warn);
	if (e) {
		dp_msg_add(err, "adopting pinned links under %s: %s", bpf_root, strerror(-e));
		goto fail;
	}

	dp->events = ring_buffer__new(bpf_map__fd(dp->lxc->maps.sluice_ev_v1), dp_on_event, dp,
				      NULL);
	if (!dp->events) {
		e = -errno;
		dp_msg_add(err, "opening ring buffer %s: %s", SLUICE_MAP_EVENTS, strerror(-e));
		goto fail;
	}

	if (adopted)
		*adopted = kept > 0;
	if (err)
		*err = warn;
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
	bpf_skmsg__destroy(dp->skmsg);
	bpf_sockops__destroy(dp->sockops);
	bpf_connect__destroy(dp->connect);
	bpf_sklookup__destroy(dp->sklookup);
	bpf_lxc__destroy(dp->lxc);
	free(dp->bpf_root);
	free(dp);
}

/* Detaches every program attached to the socks map (it references the map,
 * the map holds it: neither would ever be freed). */
static int dp_skmsg_detach_all(const char *bpf_root)
{
	char path[4096];
	uint32_t ids[8], cnt = 8, i;
	int map_fd, e = 0;

	if (snprintf(path, sizeof(path), "%s/%s", bpf_root, SLUICE_MAP_SOCKS) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	map_fd = bpf_obj_get(path);
	if (map_fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (bpf_prog_query(map_fd, BPF_SK_MSG_VERDICT, 0, NULL, ids, &cnt) < 0) {
		e = -errno;
		goto out;
	}
	for (i = 0; i < cnt && i < 8; i++) {
		int prog_fd = bpf_prog_get_fd_by_id(ids[i]);

		if (prog_fd < 0)
			continue;
		if (bpf_prog_detach2(prog_fd, map_fd, BPF_SK_MSG_VERDICT) < 0 && !e)
			e = -errno;
		close(prog_fd);
	}
out:
	close(map_fd);
	return e;
}

/* Detaches and unpins every pinned link (the hooks go empty right away,
 * even if some process still holds a link fd). */
static int dp_links_remove_all(const char *bpf_root)
{
	char dir[4096], path[4096];
	struct dirent *de;
	DIR *d;
	int e = 0;

	if (dp_links_dir(bpf_root, dir, sizeof(dir)))
		return -ENAMETOOLONG;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) != NULL) {
		int fd;

		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			bpf_link_detach(fd);
			close(fd);
		}
		if (unlink(path) < 0 && errno != ENOENT && !e)
			e = -errno;
	}
	closedir(d);
	if (rmdir(dir) < 0 && errno != ENOENT && !e)
		e = -errno;
	return e;
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

/* tc */

/*
 * libbpf prints the kernel's netlink message for every failed request, also
 * for the ones we expect (clsact already there: "Exclusivity flag on", our
 * filter already gone). Those calls run with libbpf quiet; their errors
 * still come back as return codes and are reported through *err.
 */
static int dp_libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static int dp_tc_attach_one(int ifindex, enum bpf_tc_attach_point point, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = DP_TC_HANDLE, .priority = DP_TC_PRIORITY,
		    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	libbpf_print_fn_t print;
	int e;

	/* creates the clsact qdisc if missing; EEXIST is the normal case */
	print = libbpf_set_print(dp_libbpf_quiet);
	e = bpf_tc_hook_create(&hook);
	libbpf_set_print(print);
	if (e && e != -EEXIST)
		return e;
	return bpf_tc_attach(&hook, &opts);
}

int sluice_dp_attach_endpoint(struct sluice_datapath *dp, int ifindex, char **err)
{
	int e;

	if (err)
		*err = NULL;
	e = dp_tc_attach_one(ifindex, BPF_TC_INGRESS, bpf_program__fd(dp->lxc->progs.from_container));
	if (e) {
		dp_msg_add(err, "attaching from_container to tc ingress of ifindex %d: %s", ifindex,
			   strerror(-e));
		return e;
	}
	e = dp_tc_attach_one(ifindex, BPF_TC_EGRESS, bpf_program__fd(dp->lxc->progs.to_container));
	if (e) {
		/* from_container stays: half the enforcement beats none; retry */
		dp_msg_add(err, "attaching to_container to tc egress of ifindex %d: %s", ifindex,
			   strerror(-e));
		return e;
	}
	return 0;
}

/*
 * Removes our filter only, never the clsact qdisc (bpf_tc_hook_destroy would
 * take every other filter on the device with it). Idempotent: a filter or a
 * device that is already gone is not an error.
 */
static int dp_tc_detach_one(int ifindex, enum bpf_tc_attach_point point)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = DP_TC_HANDLE, .priority = DP_TC_PRIORITY);
	libbpf_print_fn_t print;
	int e;

	print = libbpf_set_print(dp_libbpf_quiet);
	e = bpf_tc_detach(&hook, &opts);
	libbpf_set_print(print);
	if (e == -ENOENT || e == -ENODEV || e == -EINVAL)
		return 0;
	return e;
}

int sluice_dp_detach_endpoint(struct sluice_datapath *dp, int ifindex)
{
	int e1, e2;

	(void)dp;
	e1 = dp_tc_detach_one(ifindex, BPF_TC_INGRESS);
	e2 = dp_tc_detach_one(ifindex, BPF_TC_EGRESS);
	return e1 ? e1 : e2;
}

/* 1 when our filter on ifindex runs the program prog_fd, else 0 */
static int dp_tc_runs(int ifindex, enum bpf_tc_attach_point point, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = DP_TC_HANDLE, .priority = DP_TC_PRIORITY);
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);
	libbpf_print_fn_t print;
	int e;

	print = libbpf_set_print(dp_libbpf_quiet);
	e = bpf_tc_query(&hook, &opts);
	libbpf_set_print(print);
	if (e)
		return 0;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	return opts.prog_id == info.id;
}

int sluice_dp_endpoint_attached(struct sluice_datapath *dp, int ifindex)
{
	int in = dp_tc_runs(ifindex, BPF_TC_INGRESS, bpf_program__fd(dp->lxc->progs.from_container));
	int eg = dp_tc_runs(ifindex, BPF_TC_EGRESS, bpf_program__fd(dp->lxc->progs.to_container));

	if (in < 0)
		return in;
	if (eg < 0)
		return eg;
	return in && eg;
}

/* map writes */

static int dp_errno(int ret)
{
	return ret < 0 ? -errno : 0;
}

static int dp_delete(int fd, const void *key)
{
	if (bpf_map_delete_elem(fd, key) < 0)
		return errno == ENOENT ? 0 : -errno;
	return 0;
}

int sluice_dp_endpoint_update(struct sluice_datapath *dp, int ifindex,
			      const struct sluice_endpoint *ep)
{
	uint32_t key = (uint32_t)ifindex;

	return dp_errno(bpf_map_update_elem(bpf_map__fd(dp->lxc->maps.sluice_ep_v1), &key, ep,
					    BPF_ANY));
}

int sluice_dp_endpoint_delete(struct sluice_datapath *dp, int ifindex)
{
	uint32_t key = (uint32_t)ifindex;

	return dp_delete(bpf_map__fd(dp->lxc->maps.sluice_ep_v1), &key);
}

static int dp_ipcache_key(struct sluice_ipcache_key *key, const uint8_t addr[16],
			  unsigned prefixlen)
{
	unsigned i;

	if (prefixlen > 128)
		return -EINVAL;
	memset(key, 0, sizeof(*key));
	key->prefixlen = prefixlen;
	/* host bits cleared, so /24 written as 10.0.0.7/24 is 10.0.0.0/24 */
	for (i = 0; i < 16; i++) {
		unsigned bits = prefixlen > i * 8 ? prefixlen - i * 8 : 0;

		key->addr[i] = bits >= 8 ? addr[i] : (uint8_t)(addr[i] & (0xff00u >> bits));
	}
	return 0;
}

int sluice_dp_ipcache_update(struct sluice_datapath *dp, const uint8_t addr[16],
			     unsigned prefixlen, uint32_t identity, uint32_t flags)
{
	struct sluice_ipcache_key key;
	struct sluice_ipcache_value value = { .identity = identity, .flags = flags };
	int e = dp_ipcache_key(&key, addr, prefixlen);

	if (e)
		return e;
	return dp_errno(bpf_map_update_elem(bpf_map__fd(dp->lxc->maps.sluice_ipc_v1), &key, &value,
					    BPF_ANY));
}

/*
 * n keys and values (arrays of ksize and vsize bytes each) into a map: one
 * batch call where the kernel allows it (LPM tries too), else, and from
 * where a batch stopped, one call per entry.
 */
static int dp_update_many(int fd, const void *keys, size_t ksize, const void *values, size_t vsize,
			  size_t n)
{
	uint32_t count = (uint32_t)n;
	size_t i;

	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);

	if (n == 0)
		return 0;
	if (bpf_map_update_batch(fd, keys, values, &count, &opts) == 0 && count == n)
		return 0;
	for (i = count < n ? count : 0; i < n; i++)
		if (bpf_map_update_elem(fd, (const char *)keys + i * ksize,
					(const char *)values + i * vsize, BPF_ANY) < 0)
			return -errno;
	return 0;
}

int sluice_dp_ipcache_update_many(struct sluice_datapath *dp, const uint8_t (*addrs)[16],
				  const uint8_t *prefixlens, const uint32_t *identities, size_t n)
{
	int fd = bpf_map__fd(dp->lxc->maps.sluice_ipc_v1), e = 0;
	struct sluice_ipcache_key *keys;
	struct sluice_ipcache_value *values;
	size_t i;

	if (n == 0)
		return 0;
	keys = calloc(n, sizeof(*keys));
	values = calloc(n, sizeof(*values));
	if (!keys || !values) {
		e = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n && !e; i++) {
		e = dp_ipcache_key(&keys[i], addrs[i], prefixlens[i]);
		values[i].identity = identities[i];
	}
	if (!e)
		e = dp_update_many(fd, keys, sizeof(*keys), values, sizeof(*values), n);
out:
	free(keys);
	free(values);
	return e;
}

int sluice_dp_ipcache_delete(struct sluice_datapath *dp, const uint8_t addr[16],
			     unsigned prefixlen)
{
	struct sluice_ipcache_key key;
	int e = dp_ipcache_key(&key, addr, prefixlen);

	if (e)
		return e;
	return dp_delete(bpf_map__fd(dp->lxc->maps.sluice_ipc_v1), &key);
}

/* Writes entries into a fresh inner map (dp_update_many). */
static int dp_policy_fill(int fd, const struct sluice_policy_map_entry *entries, size_t n)
{
	struct sluice_policy_key *keys = NULL;
	struct sluice_policy_entry *values = NULL;
	size_t i;
	int e = 0;

	if (n == 0)
		return 0;
	keys = calloc(n, sizeof(*keys));
	values = calloc(n, sizeof(*values));
	if (!keys || !values) {
		e = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		keys[i] = entries[i].key;
		values[i] = entries[i].value;
	}
	e = dp_update_many(fd, keys, sizeof(*keys), values, sizeof(*values), n);
out:
	free(keys);
	free(values);
	return e;
}

int sluice_dp_policy_replace(struct sluice_datapath *dp, uint32_t ep_id,
			     const struct sluice_policy_map_entry *entries, size_t n, char **err)
{
	LIBBPF_OPTS(bpf_map_create_opts, copts, .map_flags = BPF_F_NO_PREALLOC);
	size_t i;
	int fd, e;

	if (err)
		*err = NULL;
	if (n > SLUICE_POLICY_INNER_MAX) {
		dp_msg_add(err, "endpoint %u: %zu policy entries, at most %u fit", ep_id, n,
			   SLUICE_POLICY_INNER_MAX);
		return -E2BIG;
	}
	for (i = 0; i < n; i++) {
		if (entries[i].key.prefixlen > SLUICE_POLICY_PREFIX_FULL) {
			dp_msg_add(err, "endpoint %u: policy entry %zu has prefixlen %u > %u", ep_id,
				   i, entries[i].key.prefixlen, SLUICE_POLICY_PREFIX_FULL);
			return -EINVAL;
		}
	}

	fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "sluice_pol_in", sizeof(struct sluice_policy_key),
			    sizeof(struct sluice_policy_entry), SLUICE_POLICY_INNER_MAX, &copts);
	if (fd < 0) {
		e = -errno;
		dp_msg_add(err, "endpoint %u: creating policy map: %s", ep_id, strerror(-e));
		return e;
	}
	e = dp_policy_fill(fd, entries, n);
	if (e) {
		dp_msg_add(err, "endpoint %u: filling policy map: %s", ep_id, strerror(-e));
		goto out;
	}
	/* the swap: from here on new flows see the new trie; the old one is
	 * freed by the kernel once no program holds it */
	if (bpf_map_update_elem(bpf_map__fd(dp->lxc->maps.sluice_pol_v1), &ep_id, &fd, BPF_ANY) < 0) {
		e = -errno;
		dp_msg_add(err, "endpoint %u: installing policy map: %s", ep_id, strerror(-e));
	}
out:
	close(fd);
	return e;
}

int sluice_dp_policy_patch(struct sluice_datapath *dp, uint32_t ep_id,
			   const struct sluice_policy_key *dels, size_t ndels,
			   const struct sluice_policy_map_entry *sets, size_t nsets, char **err)
{
	int fd = sluice_dp_policy_inner_fd(dp, ep_id), e = 0;
	size_t i;

	if (err)
		*err = NULL;
	if (fd < 0) {
		dp_msg_add(err, "endpoint %u: no policy map to patch: %s", ep_id, strerror(-fd));
		return fd;
	}
	/* deletions first: the trie never holds more than the new set */
	for (i = 0; i < ndels && !e; i++)
		if (bpf_map_delete_elem(fd, &dels[i]) < 0 && errno != ENOENT)
			e = -errno;
	for (i = 0; i < nsets && !e; i++)
		if (bpf_map_update_elem(fd, &sets[i].key, &sets[i].value, BPF_ANY) < 0)
			e = -errno;
	if (e)
		dp_msg_add(err, "endpoint %u: patching policy map: %s", ep_id, strerror(-e));
	close(fd);
	return e;
}

int sluice_dp_policy_delete(struct sluice_datapath *dp, uint32_t ep_id)
{
	return dp_delete(bpf_map__fd(dp->lxc->maps.sluice_pol_v1), &ep_id);
}

int sluice_dp_ct_flush(struct sluice_datapath *dp, uint32_t ep_id)
{
	int fd = bpf_map__fd(dp->lxc->maps.sluice_ct_v1);
	struct sluice_ct_key key, *doomed = NULL, *grown;
	size_t n = 0, cap = 0, i;
	void *prev = NULL;
	int e = 0;

	/* collect first: deleting while walking a hash restarts the walk */
	while (bpf_map_get_next_key(fd, prev, &key) == 0) {
		prev = &key;
		if (ep_id != 0 && key.ep_id != ep_id)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			grown = realloc(doomed, cap * sizeof(*doomed));
			if (!grown) {
				e = -ENOMEM;
				goto out;
			}
			doomed = grown;
		}
		doomed[n++] = key;
		if (n > SLUICE_CT_MAX)
			break; /* entries churn under us: bounded anyway */
	}
	for (i = 0; i < n; i++) {
		int d = dp_delete(fd, &doomed[i]);

		if (d && !e)
			e = d;
	}
out:
	free(doomed);
	return e;
}

/* L7 steering: links */

/*
 * Makes the pinned link <links>/<name> attach prog to target (a cgroup or a
 * netns, identified by its inode: the cgroup id, the netns inode), idempotent:
 * - pinned and on the same target: its program is replaced in place;
 * - pinned on another target, or absent: a new link is created and pinned
 *   over the old pin with rename(), so the hook is never left empty.
 */
static int dp_link_ensure(struct sluice_datapath *dp, const char *name, struct bpf_program *prog,
			  enum bpf_attach_type type, int target_fd, uint64_t target_ino,
			  char **err)
{
	char dir[4096], path[4096], tmp[4200];
	struct bpf_link_info info = {};
	uint32_t len = sizeof(info);
	int fd, e = 0;

	if (dp_links_dir(dp->bpf_root, dir, sizeof(dir)) || dp_link_path(dp, name, path, sizeof(path)))
		return -ENAMETOOLONG;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		e = -errno;
		dp_msg_add(err, "creating %s: %s", dir, strerror(-e));
		return e;
	}

	fd = bpf_obj_get(path);
	if (fd >= 0) {
		int same = 0;

		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) {
			if (type == BPF_SK_LOOKUP)
				same = info.type == BPF_LINK_TYPE_NETNS &&
				       info.netns.netns_ino == target_ino;
			else
				same = info.type == BPF_LINK_TYPE_CGROUP &&
				       info.cgroup.cgroup_id == target_ino;
		}
		if (same && bpf_link_update(fd, bpf_program__fd(prog), NULL) == 0) {
			close(fd);
			return 0;
		}
		close(fd);
	}

	fd = bpf_link_create(bpf_program__fd(prog), target_fd, type, NULL);
	if (fd < 0) {
		e = -errno;
		dp_msg_add(err, "attaching %s: %s", bpf_program__name(prog), strerror(-e));
		return e;
	}
	snprintf(tmp, sizeof(tmp), "%s_new", path); /* no dots on bpffs */
	unlink(tmp);
	if (bpf_obj_pin(fd, tmp) < 0 || rename(tmp, path) < 0) {
		e = -errno;
		dp_msg_add(err, "pinning link %s: %s", path, strerror(-e));
		unlink(tmp);
		bpf_link_detach(fd);
	}
	close(fd);
	return e;
}

/* Detaches now (whoever else holds the link) and removes the pin. */
static int dp_link_remove(struct sluice_datapath *dp, const char *name)
{
	char path[4096];
	int fd;

	if (dp_link_path(dp, name, path, sizeof(path)))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	bpf_link_detach(fd);
	close(fd);
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static int dp_cgroup_open(const char *path, uint64_t *id, char **err)
{
	struct statfs fs;
	struct stat st;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), e;

	if (fd < 0) {
		e = -errno;
		dp_msg_add(err, "cgroup %s: %s", path, strerror(-e));
		return e;
	}
	if (fstatfs(fd, &fs) < 0 || (unsigned long)fs.f_type != (unsigned long)CGROUP2_SUPER_MAGIC ||
	    fstat(fd, &st) < 0) {
		dp_msg_add(err, "%s is not a cgroup v2 directory", path);
		close(fd);
		return -EINVAL;
	}
	*id = st.st_ino;
	return fd;
}

int sluice_dp_attach_cgroups(struct sluice_datapath *dp, const char *pods_cgroup,
			     const char *root_cgroup, char **err)
{
	uint64_t pods_id = 0, root_id = 0;
	int pods_fd = -1, root_fd = -1, e;

	if (err)
		*err = NULL;
	pods_fd = dp_cgroup_open(pods_cgroup, &pods_id, err);
	if (pods_fd < 0)
		return pods_fd;
	if (pods_id == DP_ROOT_CGROUP_ID) {
		/* it would redirect every connect() of the host, the proxy's too */
		dp_msg_add(err, "refusing to attach connect4 to the root cgroup %s", pods_cgroup);
		e = -EINVAL;
		goto out;
	}
	root_fd = dp_cgroup_open(root_cgroup, &root_id, err);
	if (root_fd < 0) {
		e = root_fd;
		goto out;
	}
	/* sock_ops first: sockets steered by connect4 need their orig_dst move */
	e = dp_link_ensure(dp, DP_LINK_SOCK_OPS, dp->sockops->progs.sock_ops_established,
			   BPF_CGROUP_SOCK_OPS, root_fd, root_id, err);
	if (!e)
		e = dp_link_ensure(dp, DP_LINK_CONNECT4, dp->connect->progs.sock_connect4,
				   BPF_CGROUP_INET4_CONNECT, pods_fd, pods_id, err);
out:
	if (root_fd >= 0)
		close(root_fd);
	close(pods_fd);
	return e;
}

int sluice_dp_detach_cgroups(struct sluice_datapath *dp)
{
	int e1 = dp_link_remove(dp, DP_LINK_CONNECT4);
	int e2 = dp_link_remove(dp, DP_LINK_SOCK_OPS);

	return e1 ? e1 : e2;
}

int sluice_dp_attach_netns(struct sluice_datapath *dp, uint32_t ep_id, const char *netns_path,
			   char **err)
{
	char name[64];
	struct stat st;
	int fd, e;

	if (err)
		*err = NULL;
	fd = open(netns_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		e = -errno;
		dp_msg_add(err, "endpoint %u: netns %s: %s", ep_id, netns_path, strerror(-e));
		if (fd >= 0)
			close(fd);
		return e;
	}
	snprintf(name, sizeof(name), DP_LINK_SK_LOOKUP "%u", ep_id);
	e = dp_link_ensure(dp, name, dp->sklookup->progs.sk_lookup_proxy, BPF_SK_LOOKUP, fd,
			   st.st_ino, err);
	close(fd);
	return e;
}

int sluice_dp_detach_netns(struct sluice_datapath *dp, uint32_t ep_id)
{
	char name[64];
	int e;

	/* listener first: tc lets redirected flows in only while it is there,
	 * and without sk_lookup they would reach the real server */
	e = sluice_dp_proxy_listener_delete(dp, ep_id);
	snprintf(name, sizeof(name), DP_LINK_SK_LOOKUP "%u", ep_id);
	if (!e)
		e = dp_link_remove(dp, name);
	return e;
}

/* L7 steering: maps */

int sluice_dp_ep_addr_update(struct sluice_datapath *dp, const uint8_t addr[16], uint32_t ep_id)
{
	return dp_errno(bpf_map_update_elem(bpf_map__fd(dp->lxc->maps.sluice_epip_v1), addr,
					    &ep_id, BPF_ANY));
}

int sluice_dp_ep_addr_delete(struct sluice_datapath *dp, const uint8_t addr[16])
{
	return dp_delete(bpf_map__fd(dp->lxc->maps.sluice_epip_v1), addr);
}

int sluice_dp_netns_ep_update(struct sluice_datapath *dp, uint64_t netns_cookie, uint32_t ep_id)
{
	return dp_errno(bpf_map_update_elem(bpf_map__fd(dp->lxc->maps.sluice_nsep_v1),
					    &netns_cookie, &ep_id, BPF_ANY));
}

int sluice_dp_netns_ep_delete(struct sluice_datapath *dp, uint64_t netns_cookie)
{
	return dp_delete(bpf_map__fd(dp->lxc->maps.sluice_nsep_v1), &netns_cookie);
}

int sluice_dp_proxy_listener_set(struct sluice_datapath *dp, uint32_t ep_id, int listen_fd)
{
	uint64_t value = (uint64_t)listen_fd;

	return dp_errno(bpf_map_update_elem(bpf_map__fd(dp->lxc->maps.sluice_plsn_v1), &ep_id,
					    &value, BPF_ANY));
}

int sluice_dp_proxy_listener_delete(struct sluice_datapath *dp, uint32_t ep_id)
{
	return dp_delete(bpf_map__fd(dp->lxc->maps.sluice_plsn_v1), &ep_id);
}

int sluice_dp_proxy_set_up(struct sluice_datapath *dp, bool up)
{
	struct sluice_proxy_state st = { .up = up ? 1 : 0 };
	uint32_t zero = 0;

	return dp_errno(bpf_map_update_elem(bpf_map__fd(dp->lxc->maps.sluice_pst_v1), &zero, &st,
					    BPF_ANY));
}

int sluice_dp_netns_cookie(int netns_fd, uint64_t *out)
{
	socklen_t len = sizeof(*out);
	int fd = sl_socket_in_netns(netns_fd, -1, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), e = 0;

	if (fd < 0)
		return fd;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, out, &len) < 0)
		e = -errno;
	close(fd);
	return e;
}

int sluice_dp_proxy_listen_in_netns(int netns_fd, uint16_t port, int *out_fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = sl_socket_in_netns(netns_fd, -1, AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1, e = 0;

	if (fd < 0)
		return fd;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1024) < 0) {
		e = -errno;
		close(fd);
		return e;
	}
	*out_fd = fd;
	return 0;
}

/* events */

int sluice_dp_events_fd(struct sluice_datapath *dp)
{
	return ring_buffer__epoll_fd(dp->events);
}

int sluice_dp_events_drain(struct sluice_datapath *dp, sluice_dp_event_cb cb, void *ctx)
{
	int n;

	dp->event_cb = cb;
	dp->event_ctx = ctx;
	n = ring_buffer__consume(dp->events);
	dp->event_cb = NULL;
	dp->event_ctx = NULL;
	return n;
}

/* status */

int sluice_dp_stats(struct sluice_datapath *dp, uint64_t out[SLUICE_STAT_MAX])
{
	int fd = bpf_map__fd(dp->lxc->maps.sluice_stat_v1);
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *percpu;
	uint32_t idx;
	int cpu, e = 0;

	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	percpu = calloc((size_t)ncpu, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	for (idx = 0; idx < SLUICE_STAT_MAX; idx++) {
		out[idx] = 0;
		if (bpf_map_lookup_elem(fd, &idx, percpu) < 0) {
			e = -errno;
			break;
		}
		for (cpu = 0; cpu < ncpu; cpu++)
			out[idx] += percpu[cpu];
	}
	free(percpu);
	return e;
}

static uint32_t dp_count_keys(struct bpf_map *map)
{
	char key[64], next[64];
	uint32_t n = 0, max = bpf_map__max_entries(map);
	int fd = bpf_map__fd(map);
	void *prev = NULL;

	if (bpf_map__key_size(map) > sizeof(key))
		return 0;
	while (n <= max && bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, sizeof(key));
		prev = key;
		n++;
	}
	return n;
}

int sluice_dp_map_fill(struct sluice_datapath *dp, struct sluice_dp_map_fill *out, size_t n)
{
	const struct dp_map_ref counted[] = {
		{ SLUICE_MAP_ENDPOINTS, dp->lxc->maps.sluice_ep_v1 },
		{ SLUICE_MAP_IPCACHE, dp->lxc->maps.sluice_ipc_v1 },
		{ SLUICE_MAP_POLICY, dp->lxc->maps.sluice_pol_v1 },
		{ SLUICE_MAP_CT, dp->lxc->maps.sluice_ct_v1 },
		{ SLUICE_MAP_DROPAGG, dp->lxc->maps.sluice_dagg_v1 },
		{ SLUICE_MAP_EP_ADDR, dp->lxc->maps.sluice_epip_v1 },
		{ SLUICE_MAP_NETNS_EP, dp->lxc->maps.sluice_nsep_v1 },
		{ SLUICE_MAP_PROXY_LISTENERS, dp->lxc->maps.sluice_plsn_v1 },
		{ SLUICE_MAP_ORIG_DST_SK, dp->lxc->maps.sluice_odsk_v1 },
		{ SLUICE_MAP_ORIG_DST, dp->lxc->maps.sluice_odst_v1 },
		{ SLUICE_MAP_PROXY_FLOWS, dp->lxc->maps.sluice_pflw_v1 },
		{ SLUICE_MAP_SOCKS, dp->sockops->maps.sluice_sock_v1 },
	};
	size_t i, count = sizeof(counted) / sizeof(counted[0]);

	for (i = 0; i < count && i < n; i++) {
		out[i].name = counted[i].name;
		out[i].entries = dp_count_keys(counted[i].map);
		out[i].max_entries = bpf_map__max_entries(counted[i].map);
	}
	return (int)count;
}

int sluice_dp_programs(struct sluice_datapath *dp, char ***names, size_t *n)
{
	const struct {
		struct bpf_program *prog;
		const char *hook;
	} progs[] = {
		{ dp->lxc->progs.from_container, "tc ingress of pod veths" },
		{ dp->lxc->progs.to_container, "tc egress of pod veths" },
		{ dp->sklookup->progs.sk_lookup_proxy, "sk_lookup of pod netns" },
		{ dp->connect->progs.sock_connect4, "cgroup/connect4 of the pods cgroup" },
		{ dp->sockops->progs.sock_ops_established, "sock_ops of the instance cgroup" },
		{ dp->skmsg->progs.sk_msg_redirect, "sk_msg of " SLUICE_MAP_SOCKS },
	};
	size_t i, count = sizeof(progs) / sizeof(progs[0]);
	char **out;

	*names = NULL;
	*n = 0;
	out = calloc(count, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		struct bpf_prog_info info = {};
		uint32_t len = sizeof(info);

		bpf_obj_get_info_by_fd(bpf_program__fd(progs[i].prog), &info, &len);
		if (asprintf(&out[i], "%s (%s, prog id %u)", bpf_program__name(progs[i].prog),
			     progs[i].hook, info.id) < 0) {
			while (i > 0)
				free(out[--i]);
			free(out);
			return -ENOMEM;
		}
	}
	*names = out;
	*n = count;
	return 0;
}

int sluice_dp_program_fd(struct sluice_datapath *dp, const char *name)
{
	struct bpf_object *objs[DP_OBJECTS_MAX];
	size_t i, n = dp_objects(dp, objs);

	for (i = 0; i < n; i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(objs[i], name);

		if (prog)
			return bpf_program__fd(prog);
	}
	return -ENOENT;
}

int sluice_dp_map_fd(struct sluice_datapath *dp, const char *name)
{
	struct dp_map_ref maps[DP_MAPS_MAX];
	size_t i, n = dp_maps(dp, maps, DP_MAPS_MAX);

	for (i = 0; i < n; i++)
		if (strcmp(maps[i].name, name) == 0)
			return bpf_map__fd(maps[i].map);
	return -ENOENT;
}

/* Revalidation: user space asks the same questions the datapath asks */

int sluice_dp_ipcache_lookup(struct sluice_datapath *dp, const uint8_t addr[16], uint32_t *identity)
{
	struct sluice_ipcache_key key = { .prefixlen = 128 };
	struct sluice_ipcache_value val;

	memcpy(key.addr, addr, 16);
	if (bpf_map_lookup_elem(bpf_map__fd(dp->lxc->maps.sluice_ipc_v1), &key, &val))
		*identity = SLUICE_ID_WORLD; /* a miss is the world, as in the datapath */
	else
		*identity = val.identity;
	return 0;
}

/*
 * The verdict the datapath would give a new flow now (policy_decide() in
 * bpf/lib/policy.h, same order: deny, redirect, allow, then the default).
 * Lookups go to the kernel's own tries, so longest-prefix semantics match.
 */
int sluice_dp_policy_inner_fd(struct sluice_datapath *dp, uint32_t ep_id)
{
	uint32_t inner_id;
	int fd;

	if (bpf_map_lookup_elem(bpf_map__fd(dp->lxc->maps.sluice_pol_v1), &ep_id, &inner_id))
		return -ENOENT;
	fd = bpf_map_get_fd_by_id(inner_id);
	return fd < 0 ? -errno : fd;
}

int sluice_dp_policy_verdict_fd(int inner_fd, uint32_t peer_identity, uint8_t direction,
				uint8_t protocol, uint16_t dport, bool enforced, bool *allowed)
{
	struct sluice_policy_key key = {
		.prefixlen = SLUICE_POLICY_PREFIX_FULL,
		.identity_be = htonl(peer_identity),
		.direction = direction,
		.protocol = protocol,
		.dport_be = htons(dport),
	};
	struct sluice_policy_entry by_peer, by_any;
	const struct sluice_policy_entry *deciding;
	bool have_peer, have_any;
	__u8 action;

	*allowed = !enforced;
	if (inner_fd < 0)
		return 0;
	have_peer = bpf_map_lookup_elem(inner_fd, &key, &by_peer) == 0;
	key.identity_be = htonl(SLUICE_ID_ANY);
	have_any = bpf_map_lookup_elem(inner_fd, &key, &by_any) == 0;
	/* the kernel's order (include/sluice/verdict.h); a redirect is allowed */
	action = sluice_policy_order(have_peer ? &by_peer : NULL, have_any ? &by_any : NULL,
				     enforced, &deciding);
	*allowed = action == SLUICE_POLICY_ALLOW || action == SLUICE_POLICY_REDIRECT;
	return 0;
}

int sluice_dp_policy_verdict(struct sluice_datapath *dp, uint32_t ep_id, uint32_t peer_identity,
			     uint8_t direction, uint8_t protocol, uint16_t dport, bool enforced,
			     bool *allowed)
{
	int fd = sluice_dp_policy_inner_fd(dp, ep_id), rc;

	*allowed = !enforced;
	if (fd == -ENOENT)
		return 0; /* no policy map: the endpoint's flag decides */
	if (fd < 0)
		return fd;
	rc = sluice_dp_policy_verdict_fd(fd, peer_identity, direction, protocol, dport, enforced, allowed);
	close(fd);
	return rc;
}

/*
 * Reads every key and value of a hash map with BPF_MAP_LOOKUP_BATCH, which
 * walks the buckets by index. A get_next_key walk restarts from the first
 * key whenever the previous key vanished, which on a busy LRU map (flows
 * come and go while we read) can keep it from ever reaching the end.
 */
static int dp_dump(int fd, size_t key_size, size_t value_size, size_t max, void **keys_out,
		   void **vals_out, size_t *n_out)
{
	size_t cap = 4096, n = 0;
	char *keys = malloc(cap * key_size), *vals = malloc(cap * value_size);
	uint64_t in_batch = 0, out_batch = 0;
	bool first = true;
	int e = 0;

	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	for (;;) {
		__u32 count = 1024;
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		int rc;

		if (cap - n < count) {
			char *k2 = realloc(keys, cap * 2 * key_size), *v2;

			if (!k2) {
				e = -ENOMEM;
				break;
			}
			keys = k2;
			v2 = realloc(vals, cap * 2 * value_size);
			if (!v2) {
				e = -ENOMEM;
				break;
			}
			vals = v2;
			cap *= 2;
		}
		rc = bpf_map_lookup_batch(fd, first ? NULL : &in_batch, &out_batch, keys + n * key_size,
					  vals + n * value_size, &count, &opts);
		if (rc && errno != ENOENT) {
			e = -errno;
			break;
		}
		n += count;
		first = false;
		in_batch = out_batch;
		if (rc || n >= max) /* ENOENT: that was the last bucket */
			break;
	}
	if (e) {
		free(keys);
		free(vals);
		return e;
	}
	*keys_out = keys;
	*vals_out = vals;
	*n_out = n;
	return 0;
}

int sluice_dp_ct_foreach(struct sluice_datapath *dp, sluice_dp_ct_cb cb, void *ctx)
{
	int fd = bpf_map__fd(dp->lxc->maps.sluice_ct_v1);
	struct sluice_ct_key *keys;
	struct sluice_ct_entry *vals;
	size_t n, i;
	int e = dp_dump(fd, sizeof(*keys), sizeof(*vals), SLUICE_CT_MAX, (void **)&keys, (void **)&vals, &n);

	if (e)
		return e;
	/* the callback may delete: done after the dump, never during it */
	for (i = 0; i < n; i++)
		if (cb(ctx, &keys[i], &vals[i]))
			dp_delete(fd, &keys[i]);
	free(keys);
	free(vals);
	return 0;
}

/* Takes an established socket off the sk_msg fast path, so its next bytes
 * go through the veth and tc again (and are judged there). */
int sluice_dp_socks_delete(struct sluice_datapath *dp, const uint8_t local[16], uint16_t lport,
			   const uint8_t remote[16], uint16_t rport)
{
	struct sluice_sock_key k = { 0 };

	memcpy(k.local_addr, local, 16);
	memcpy(k.remote_addr, remote, 16);
	k.local_port = lport;
	k.remote_port = rport;
	return dp_delete(bpf_map__fd(dp->sockops->maps.sluice_sock_v1), &k);
}

int sluice_dp_sock_sides_foreach(struct sluice_datapath *dp, sluice_dp_sock_cb cb, void *ctx)
{
	int fd = bpf_map__fd(dp->sockops->maps.sluice_sdir_v1);
	struct sluice_sock_key *keys;
	uint8_t *sides;
	size_t n, i;
	int e = dp_dump(fd, sizeof(*keys), sizeof(*sides), SLUICE_SOCKS_MAX, (void **)&keys, (void **)&sides,
			&n);

	if (e)
		return e;
	for (i = 0; i < n; i++)
		if (cb(ctx, &keys[i], sides[i]))
			dp_delete(fd, &keys[i]);
	free(keys);
	free(sides);
	return 0;
}

/* The socket cookie of an established fast-path socket (a SOCKHASH lookup
 * from user space returns it), or -ENOENT once the socket is gone. */
int sluice_dp_socks_cookie(struct sluice_datapath *dp, const uint8_t local[16], uint16_t lport,
			   const uint8_t remote[16], uint16_t rport, uint64_t *cookie)
{
	struct sluice_sock_key k = { 0 };

	memcpy(k.local_addr, local, 16);
	memcpy(k.remote_addr, remote, 16);
	k.local_port = lport;
	k.remote_port = rport;
	if (bpf_map_lookup_elem(bpf_map__fd(dp->sockops->maps.sluice_sock_v1), &k, cookie))
		return -errno;
	return 0;
}
