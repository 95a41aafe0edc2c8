/* SPDX-License-Identifier: Apache-2.0 */
/*
 * query.c - reading the datapath: counters, the programs, and the
 * questions revalidation asks the same way the kernel does (the identity
 * of an address, the verdict for a new flow, the conntrack and fast-path
 * socket walks).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "sluice/verdict.h"
#include "bpf_lxc.skel.h"
#include "bpf_sklookup.skel.h"
#include "bpf_connect.skel.h"
#include "bpf_sockops.skel.h"
#include "bpf_skmsg.skel.h"
#include "bpf_sock_svc.skel.h"

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
		{ dp->socksvc->progs.sock_sendmsg4, "cgroup/sendmsg4 of the pods cgroup" },
		{ dp->socksvc->progs.sock_recvmsg4, "cgroup/recvmsg4 of the pods cgroup" },
		{ dp->socksvc->progs.sock_getpeername4, "cgroup/getpeername4 of the pods cgroup" },
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

int sluice_dp_ct_foreach(struct sluice_datapath *dp, sluice_dp_ct_cb cb, void *ctx)
{
	int fd = bpf_map__fd(dp->lxc->maps.sluice_ct_v1);
	struct sluice_ct_key *keys;
	struct sluice_ct_entry *vals;
	size_t n, i, ndel = 0;
	int e = dp_dump(fd, sizeof(*keys), sizeof(*vals), SLUICE_CT_MAX, (void **)&keys, (void **)&vals, &n);

	if (e)
		return e;
	/* the callback may delete: done after the dump, never during it, and
	 * in batches (the keys to delete are gathered at the array's front) */
	for (i = 0; i < n; i++)
		if (cb(ctx, &keys[i], &vals[i]))
			keys[ndel++] = keys[i];
	dp_delete_many(fd, keys, sizeof(*keys), ndel);
	free(keys);
	free(vals);
	return 0;
}

int sluice_dp_sock_sides_foreach(struct sluice_datapath *dp, sluice_dp_sock_cb cb, void *ctx)
{
	int fd = bpf_map__fd(dp->sockops->maps.sluice_sdir_v1);
	struct sluice_sock_key *keys;
	uint8_t *sides;
	size_t n, i, ndel = 0;
	int e = dp_dump(fd, sizeof(*keys), sizeof(*sides), SLUICE_SOCKS_MAX, (void **)&keys, (void **)&sides,
			&n);

	if (e)
		return e;
	for (i = 0; i < n; i++)
		if (cb(ctx, &keys[i], sides[i]))
			keys[ndel++] = keys[i];
	dp_delete_many(fd, keys, sizeof(*keys), ndel);
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
