/* SPDX-License-Identifier: Apache-2.0 */
/*
 * datapath.c - the user-space half of the kernel datapath (datapath.h):
 * loads the BPF programs through their skeletons, creates or adopts the
 * maps pinned under --bpf-root, attaches the programs to pod veths as tc
 * filters, and writes endpoints, ipcache entries and policies into the maps.
 *
 * What outlives the agent: pinned maps and tc filters (filters are not bpf
 * links, they hold their program until removed). A restarted agent opens
 * the same pins, so conntrack, policy and counters carry over, and
 * re-attaching an endpoint replaces the old filter in place.
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

#include "sluice/datapath.h"
#include "bpf_lxc.skel.h"

/*
 * Our tc filter's identity on a hook. Priority 1 so that we run before any
 * filter a CNI may have put there (a filter returning TC_ACT_OK before ours
 * would bypass policy); ours returns TC_ACT_UNSPEC to let theirs run after.
 */
#define DP_TC_HANDLE   0x51u
#define DP_TC_PRIORITY 1

#define DP_PIN_PREFIX "sluice_"

struct sluice_datapath {
	struct bpf_lxc *lxc;
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
	};
	size_t i, count = sizeof(all) / sizeof(all[0]);

	for (i = 0; i < count && i < n; i++)
		out[i] = all[i];
	return count;
}

#define DP_MAPS_MAX 16

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
		int fd, diff;

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
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
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

		if (p && unlink(p) < 0 && errno != ENOENT)
			return -errno;
	}
	dp_msg_add(warn, "pinned maps have ABI version %u, this build %u: replaced all of them",
		   version, SLUICE_ABI_VERSION);
	return 0;
}

/* The BPF side names its maps by C identifier, abi.h by string: keep them equal. */
static int dp_check_names(struct sluice_datapath *dp, char **err)
{
	struct dp_map_ref maps[DP_MAPS_MAX];
	size_t i, n = dp_maps(dp, maps, DP_MAPS_MAX);

	for (i = 0; i < n; i++) {
		if (strcmp(bpf_map__name(maps[i].map), maps[i].name) != 0) {
			dp_msg_add(err, "build mismatch: BPF map %s is %s in abi.h",
				   bpf_map__name(maps[i].map), maps[i].name);
			return -EINVAL;
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
	if (!dp->lxc) {
		e = -errno;
		dp_msg_add(err, "opening BPF object bpf_lxc: %s", strerror(-e));
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

	e = bpf_lxc__load(dp->lxc);
	if (e) {
		dp_msg_add(err, "loading BPF object bpf_lxc: %s (verifier log on stderr)",
			   strerror(-e));
		goto fail;
	}

	e = bpf_map_update_elem(bpf_map__fd(dp->lxc->maps.sluice_abi), &key, &version, BPF_ANY);
	if (e) {
		e = -errno;
		dp_msg_add(err, "writing %s: %s", SLUICE_MAP_ABI, strerror(-e));
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
	bpf_lxc__destroy(dp->lxc);
	free(dp->bpf_root);
	free(dp);
}

int sluice_dp_unpin_all(const char *bpf_root)
{
	char path[4096];
	struct dirent *de;
	DIR *dir;
	int e = 0;

	dir = opendir(bpf_root);
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
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

int sluice_dp_ipcache_delete(struct sluice_datapath *dp, const uint8_t addr[16],
			     unsigned prefixlen)
{
	struct sluice_ipcache_key key;
	int e = dp_ipcache_key(&key, addr, prefixlen);

	if (e)
		return e;
	return dp_delete(bpf_map__fd(dp->lxc->maps.sluice_ipc_v1), &key);
}

/* Writes entries into a fresh inner map: one batch call when the kernel
 * supports batches for LPM tries, else one call per entry. */
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

	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
	uint32_t count = (uint32_t)n;

	if (bpf_map_update_batch(fd, keys, values, &count, &opts) == 0 && count == n)
		goto out;
	for (i = 0; i < n; i++) {
		if (bpf_map_update_elem(fd, &keys[i], &values[i], BPF_ANY) < 0) {
			e = -errno;
			goto out;
		}
	}
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
	struct bpf_program *prog = bpf_object__find_program_by_name(dp->lxc->obj, name);

	return prog ? bpf_program__fd(prog) : -ENOENT;
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
