/* SPDX-License-Identifier: Apache-2.0 */
/*
 * maps.c - the map table: every map of every BPF object with the name
 * abi.h gives it (the loader checks pins against it, `sluice status`
 * counts its entries, tests find maps in it by name), and the generic
 * helpers the writers and readers share (batch update, batch dump).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "bpf_lxc.skel.h"
#include "bpf_sklookup.skel.h"
#include "bpf_connect.skel.h"
#include "bpf_sockops.skel.h"
#include "bpf_skmsg.skel.h"
#include "bpf_sock_svc.skel.h"

/*
 * The map table: every map of every object, once, with the name abi.h
 * promises. The loader checks pins against it (and that no object has a
 * map missing here), sluice_dp_map_fd() finds maps in it by name, and
 * sluice_dp_map_fill() reports the fill level of those marked `fill` (the
 * others have a fixed content: the ring buffer, the per-CPU counters, the
 * ABI word, the proxy flag, the socket sides). Adding a map: one line here.
 */
size_t dp_maps(struct sluice_datapath *dp, struct dp_map_ref *out, size_t n)
{
	const struct dp_map_ref all[] = {
		{ SLUICE_MAP_ENDPOINTS, dp->lxc->maps.sluice_ep_v1, true },
		{ SLUICE_MAP_IPCACHE, dp->lxc->maps.sluice_ipc_v1, true },
		{ SLUICE_MAP_POLICY, dp->lxc->maps.sluice_pol_v1, true },
		{ SLUICE_MAP_CT, dp->lxc->maps.sluice_ct_v1, true },
		{ SLUICE_MAP_EVENTS, dp->lxc->maps.sluice_ev_v1, false },
		{ SLUICE_MAP_STATS, dp->lxc->maps.sluice_stat_v1, false },
		{ SLUICE_MAP_DROPAGG, dp->lxc->maps.sluice_dagg_v1, true },
		{ SLUICE_MAP_ABI, dp->lxc->maps.sluice_abi, false },
		{ SLUICE_MAP_EP_ADDR, dp->lxc->maps.sluice_epip_v1, true },
		{ SLUICE_MAP_NETNS_EP, dp->lxc->maps.sluice_nsep_v1, true },
		{ SLUICE_MAP_PROXY_LISTENERS, dp->lxc->maps.sluice_plsn_v1, true },
		{ SLUICE_MAP_PROXY_STATE, dp->lxc->maps.sluice_pst_v1, false },
		{ SLUICE_MAP_ORIG_DST_SK, dp->lxc->maps.sluice_odsk_v1, true },
		{ SLUICE_MAP_ORIG_DST, dp->lxc->maps.sluice_odst_v1, true },
		{ SLUICE_MAP_PROXY_FLOWS, dp->lxc->maps.sluice_pflw_v1, true },
		{ SLUICE_MAP_SOCKS, dp->sockops->maps.sluice_sock_v1, true },
		{ SLUICE_MAP_SOCK_SIDE, dp->sockops->maps.sluice_sdir_v1, false },
		{ SLUICE_MAP_SPLICE, dp->skmsg->maps.sluice_splc_v1, false },
		{ SLUICE_MAP_SPLICE_SLOTS, dp->skmsg->maps.sluice_spls_v2, false },
		{ SLUICE_MAP_SPLICE_SCRATCH, dp->skmsg->maps.sluice_splh_v1, false },
		{ SLUICE_MAP_REQ_VERDICTS, dp->skmsg->maps.sluice_rqv_v1, false },
		{ SLUICE_MAP_REQ_RINGS, dp->skmsg->maps.sluice_rqr_v1, false },
		{ SLUICE_MAP_REQ_RECORDS, dp->skmsg->maps.sluice_rql_v1, false },
		{ SLUICE_MAP_REQ_SCRATCH, dp->skmsg->maps.sluice_rqh_v1, false },
		/* the Services maps (their fill levels are not in the status yet:
		 * tests/bpf pins the count of reported maps at 12) */
		{ SLUICE_MAP_SERVICES, dp->connect->maps.sluice_svc_v1, false },
		{ SLUICE_MAP_BACKENDS, dp->connect->maps.sluice_be_v1, false },
		{ SLUICE_MAP_SVC_REVNAT, dp->connect->maps.sluice_srev_v1, false },
		{ SLUICE_MAP_SVC_FLOWS, dp->connect->maps.sluice_sflw_v1, false },
		{ SLUICE_MAP_SVC_AFFINITY, dp->connect->maps.sluice_saff_v1, false },
		{ SLUICE_MAP_SVC_AFF_MATCH, dp->connect->maps.sluice_safm_v1, false },
	};
	size_t i, count = sizeof(all) / sizeof(all[0]);

	_Static_assert(sizeof(all) / sizeof(all[0]) <= DP_MAPS_MAX, "raise DP_MAPS_MAX");

	for (i = 0; i < count && i < n; i++)
		out[i] = all[i];
	return count;
}

size_t dp_objects(struct sluice_datapath *dp, struct bpf_object **out)
{
	out[0] = dp->lxc->obj;
	out[1] = dp->sklookup->obj;
	out[2] = dp->connect->obj;
	out[3] = dp->sockops->obj;
	out[4] = dp->skmsg->obj;
	out[5] = dp->socksvc->obj;
	return 6;
}

/*
 * n keys and values (arrays of ksize and vsize bytes each) into a map: one
 * batch call where the kernel allows it (LPM tries too), else, and from
 * where a batch stopped, one call per entry.
 */
int dp_update_many(int fd, const void *keys, size_t ksize, const void *values, size_t vsize,
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

/*
 * Deletes n keys in as few calls as the kernel allows: one batch call stops
 * at the first key it cannot delete (a key the datapath removed meanwhile:
 * ENOENT), so that key is skipped and the batch goes on after it.
 */
int dp_delete_many(int fd, const void *keys, size_t ksize, size_t n)
{
	size_t done = 0;

	while (done < n) {
		uint32_t count = (uint32_t)(n - done);

		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		if (bpf_map_delete_batch(fd, (const char *)keys + done * ksize, &count, &opts) == 0) {
			done += count;
			continue;
		}
		if (errno != ENOENT) {
			/* not a vanished key (a map without batches): one by one */
			for (; done < n; done++)
				dp_delete(fd, (const char *)keys + done * ksize);
			return 0;
		}
		done += count + 1; /* the deleted ones, and the one that was gone */
	}
	return 0;
}

/* one key at a time: for map types without batch lookups */
static uint32_t dp_count_keys_slow(int fd, uint32_t max, uint32_t key_size)
{
	char key[64], next[64];
	uint32_t n = 0;
	void *prev = NULL;

	if (key_size > sizeof(key))
		return 0;
	while (n <= max && bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, sizeof(key));
		prev = key;
		n++;
	}
	return n;
}

/*
 * Entries in a map, for `sluice status`. By batch lookups of DP_COUNT_BATCH
 * entries: one get_next_key call per entry made a status of an agent with
 * 25,000 rules take 60 ms (two maps of 25,000 entries, a syscall each).
 * The batch token is a bucket number for hash maps and a key for the
 * others (LPM tries), so it gets a key's size.
 */
#define DP_COUNT_BATCH 1024u
static uint32_t dp_count_keys(struct bpf_map *map)
{
	uint32_t max = bpf_map__max_entries(map), n = 0;
	uint32_t key_size = bpf_map__key_size(map), value_size = bpf_map__value_size(map);
	enum bpf_map_type type = bpf_map__type(map);
	size_t tok = key_size > 8 ? key_size : 8;
	char *keys, *vals, *in, *out;
	int fd = bpf_map__fd(map);
	bool first = true;

	/* a per-CPU map's batch gives each value once per possible CPU */
	if (type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
	    type == BPF_MAP_TYPE_LRU_PERCPU_HASH) {
		int ncpus = libbpf_num_possible_cpus();

		if (ncpus <= 0)
			return dp_count_keys_slow(fd, max, key_size);
		value_size = (value_size + 7) / 8 * 8 * (uint32_t)ncpus;
	}
	keys = malloc((size_t)DP_COUNT_BATCH * key_size);
	vals = malloc((size_t)DP_COUNT_BATCH * value_size);
	in = calloc(1, tok);
	out = calloc(1, tok);

	for (;;) {
		__u32 count = DP_COUNT_BATCH;
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		int rc;

		if (!keys || !vals || !in || !out) {
			n = dp_count_keys_slow(fd, max, key_size);
			break;
		}
		rc = bpf_map_lookup_batch(fd, first ? NULL : in, out, keys, vals, &count, &opts);
		if (rc && errno != ENOENT) {
			/* no batch ops for this map type (or it changed under
			 * us): count again, one key at a time */
			n = dp_count_keys_slow(fd, max, key_size);
			break;
		}
		n += count;
		first = false;
		memcpy(in, out, tok);
		if (rc || n > max) /* ENOENT: that was the last of them */
			break;
	}
	free(keys);
	free(vals);
	free(in);
	free(out);
	return n;
}

int sluice_dp_map_fill(struct sluice_datapath *dp, struct sluice_dp_map_fill *out, size_t n)
{
	struct dp_map_ref maps[DP_MAPS_MAX];
	size_t i, count = 0, nmaps = dp_maps(dp, maps, DP_MAPS_MAX);

	for (i = 0; i < nmaps; i++) {
		if (!maps[i].fill)
			continue;
		if (count < n) {
			out[count].name = maps[i].name;
			out[count].entries = dp_count_keys(maps[i].map);
			out[count].max_entries = bpf_map__max_entries(maps[i].map);
		}
		count++;
	}
	return (int)count;
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

/*
 * Reads every key and value of a hash map with BPF_MAP_LOOKUP_BATCH, which
 * walks the buckets by index. A get_next_key walk restarts from the first
 * key whenever the previous key vanished, which on a busy LRU map (flows
 * come and go while we read) can keep it from ever reaching the end.
 */
int dp_dump(int fd, size_t key_size, size_t value_size, size_t max, void **keys_out,
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
