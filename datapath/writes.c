/* SPDX-License-Identifier: Apache-2.0 */
/*
 * writes.c - the agent's writes into the maps: endpoints, ipcache,
 * per-endpoint policy (swapped whole or patched), conntrack flushes, the
 * L7 steering entries and the fast path's socket entries.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../common/util.h"
#include "internal.h"
#include "bpf_lxc.skel.h"
#include "bpf_sklookup.skel.h"
#include "bpf_connect.skel.h"
#include "bpf_sockops.skel.h"
#include "bpf_skmsg.skel.h"

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

int sluice_dp_ipcache_delete_many(struct sluice_datapath *dp, const uint8_t (*addrs)[16],
				  const uint8_t *prefixlens, size_t n)
{
	struct sluice_ipcache_key *keys;
	size_t i;
	int e = 0;

	if (n == 0)
		return 0;
	keys = calloc(n, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (i = 0; i < n && !e; i++)
		e = dp_ipcache_key(&keys[i], addrs[i], prefixlens[i]);
	if (!e)
		e = dp_delete_many(bpf_map__fd(dp->lxc->maps.sluice_ipc_v1), keys, sizeof(*keys), n);
	free(keys);
	return e;
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

int sluice_dp_policy_prepare(uint32_t ep_id, const struct sluice_policy_map_entry *entries, size_t n,
			     int *fd_out, char **err)
{
	LIBBPF_OPTS(bpf_map_create_opts, copts, .map_flags = BPF_F_NO_PREALLOC);
	size_t i;
	int fd, e;

	*fd_out = -1;
	if (err)
		*err = NULL;
	if (n > SLUICE_POLICY_INNER_MAX) {
		return sl_fail(err, E2BIG, "endpoint %u: %zu policy entries, at most %u fit", ep_id,
			       n, SLUICE_POLICY_INNER_MAX);
	}
	for (i = 0; i < n; i++) {
		if (entries[i].key.prefixlen > SLUICE_POLICY_PREFIX_FULL) {
			return sl_fail(err, EINVAL, "endpoint %u: policy entry %zu has prefixlen %u > %u",
				       ep_id, i, entries[i].key.prefixlen, SLUICE_POLICY_PREFIX_FULL);
		}
	}

	fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "sluice_pol_in", sizeof(struct sluice_policy_key),
			    sizeof(struct sluice_policy_entry), SLUICE_POLICY_INNER_MAX, &copts);
	if (fd < 0) {
		e = errno;
		return sl_fail(err, e, "endpoint %u: creating policy map: %s", ep_id, strerror(e));
	}
	e = dp_policy_fill(fd, entries, n);
	if (e) {
		close(fd);
		return sl_fail(err, e, "endpoint %u: filling policy map: %s", ep_id, strerror(-e));
	}
	*fd_out = fd;
	return 0;
}

int sluice_dp_policy_install_many(struct sluice_datapath *dp, const uint32_t *ep_ids, const int *fds,
				  size_t n, char **err)
{
	int e = 0;

	if (err)
		*err = NULL;
	/* one batch: a map of maps makes the kernel wait for an RCU grace
	 * period after each update call (maybe_wait_bpf_programs(), about
	 * 11 ms on these VMs), once per call, not per element */
	if (n)
		e = dp_update_many(bpf_map__fd(dp->lxc->maps.sluice_pol_v1), ep_ids, sizeof(*ep_ids), fds,
				   sizeof(*fds), n);
	/* the swap: from here on new flows see the new tries; the old ones
	 * are freed by the kernel once no program holds them */
	if (e && n == 1)
		sl_fail(err, e, "endpoint %u: installing policy map: %s", ep_ids[0], strerror(-e));
	else if (e)
		sl_fail(err, e, "installing %zu policy maps: %s", n, strerror(-e));
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
	return e;
}

int sluice_dp_policy_replace(struct sluice_datapath *dp, uint32_t ep_id,
			     const struct sluice_policy_map_entry *entries, size_t n, char **err)
{
	int fd, e = sluice_dp_policy_prepare(ep_id, entries, n, &fd, err);

	return e ? e : sluice_dp_policy_install_many(dp, &ep_id, &fd, 1, err);
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
		return sl_fail(err, fd, "endpoint %u: no policy map to patch: %s", ep_id,
			       strerror(-fd));
	}
	/* deletions first: the trie never holds more than the new set */
	for (i = 0; i < ndels && !e; i++)
		if (bpf_map_delete_elem(fd, &dels[i]) < 0 && errno != ENOENT)
			e = -errno;
	for (i = 0; i < nsets && !e; i++)
		if (bpf_map_update_elem(fd, &sets[i].key, &sets[i].value, BPF_ANY) < 0)
			e = -errno;
	if (e)
		sl_fail(err, e, "endpoint %u: patching policy map: %s", ep_id, strerror(-e));
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
