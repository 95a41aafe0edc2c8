/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy_maps.c - the proxy's side of the pinned datapath maps (dp_proxy.h).
 *
 * The proxy loads no programs: it opens the maps the agent pinned, by path,
 * checks their layout against this build's abi.h (a mismatch means agent and
 * proxy come from different builds), and reads or writes single entries.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "../common/util.h"
#include "sluice/dp_proxy.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

struct sluice_dp_proxy {
	int ipcache_fd;
	int orig_dst_fd;
	int flows_fd;
	int listeners_fd;
	int socks_fd;      /* the sk_msg SOCKHASH; -1 when the agent has none */
	int splice_fd;     /* the response splice (abi.h); -1: none */
	int slots_fd;
	struct sluice_splice_slot *slots; /* mmap'd, SLUICE_SPLICE_SLOTS of them */
	int rqv_fd;        /* the request splice (abi.h); -1: none */
	struct sluice_rq_ring *rings;     /* mmap'd, SLUICE_RQ_RINGS */
	struct sluice_rq_rec *recs;       /* mmap'd, SLUICE_RQ_RINGS * SLUICE_RQ_RING_LEN */
	char *bpf_root;
};

static int dpp_map_open(const char *root, const char *name, uint32_t key_size,
			uint32_t value_size, char **err)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	char path[4096];
	int fd, e;

	if (snprintf(path, sizeof(path), "%s/%s", root, name) >= (int)sizeof(path)) {
		sl_fail(err, 0, "bpf root %s: path too long", root);
		return -ENAMETOOLONG;
	}
	fd = bpf_obj_get(path);
	if (fd < 0) {
		e = -errno;
		sl_fail(err, 0, "opening %s: %s (is the agent running with this --bpf-root?)", path,
			strerror(-e));
		return e;
	}
	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0 || info.key_size != key_size ||
	    info.value_size != value_size) {
		sl_fail(err, 0, "%s: key/value size %u/%u, this build expects %u/%u (agent and proxy "
			"from different builds?)", path, info.key_size, info.value_size, key_size,
			value_size);
		close(fd);
		return -EPROTO;
	}
	return fd;
}

/* Optional too: an agent without the response splice (an older build)
 * leaves every response to the proxy. */
static void dpp_splice_open(struct sluice_dp_proxy *p, const char *bpf_root)
{
	char *err = NULL;
	void *m;

	if (p->slots)
		return;

	p->splice_fd = dpp_map_open(bpf_root, SLUICE_MAP_SPLICE, sizeof(struct sluice_sock_key),
				    sizeof(struct sluice_splice_ref), &err);
	if (p->splice_fd >= 0)
		p->slots_fd = dpp_map_open(bpf_root, SLUICE_MAP_SPLICE_SLOTS, sizeof(uint32_t),
					   sizeof(struct sluice_splice_slot), &err);
	free(err);
	if (p->slots_fd < 0)
		goto none;
	m = mmap(NULL, (size_t)SLUICE_SPLICE_SLOTS * sizeof(struct sluice_splice_slot),
		 PROT_READ | PROT_WRITE, MAP_SHARED, p->slots_fd, 0);
	if (m == MAP_FAILED)
		goto none;
	p->slots = m;
	return;
none:
	if (p->splice_fd >= 0)
		close(p->splice_fd);
	if (p->slots_fd >= 0)
		close(p->slots_fd);
	p->splice_fd = p->slots_fd = -1;
}

#define DPP_RINGS_BYTES ((size_t)SLUICE_RQ_RINGS * sizeof(struct sluice_rq_ring))
#define DPP_RECS_BYTES  ((size_t)SLUICE_RQ_RINGS * SLUICE_RQ_RING_LEN * sizeof(struct sluice_rq_rec))

/* Optional as the response splice is. */
static void dpp_req_open(struct sluice_dp_proxy *p, const char *bpf_root)
{
	int rings_fd = -1, recs_fd = -1;
	char *err = NULL;
	void *r = MAP_FAILED, *l = MAP_FAILED;

	if (p->rings)
		return;
	p->rqv_fd = dpp_map_open(bpf_root, SLUICE_MAP_REQ_VERDICTS, sizeof(struct sluice_rq_key),
				 sizeof(uint32_t), &err);
	if (p->rqv_fd >= 0)
		rings_fd = dpp_map_open(bpf_root, SLUICE_MAP_REQ_RINGS, sizeof(uint32_t),
					sizeof(struct sluice_rq_ring), &err);
	if (rings_fd >= 0)
		recs_fd = dpp_map_open(bpf_root, SLUICE_MAP_REQ_RECORDS, sizeof(uint32_t),
				       sizeof(struct sluice_rq_rec), &err);
	free(err);
	if (recs_fd >= 0) {
		r = mmap(NULL, DPP_RINGS_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, rings_fd, 0);
		l = mmap(NULL, DPP_RECS_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, recs_fd, 0);
	}
	/* the mappings hold the maps */
	if (rings_fd >= 0)
		close(rings_fd);
	if (recs_fd >= 0)
		close(recs_fd);
	if (r != MAP_FAILED && l != MAP_FAILED) {
		p->rings = r;
		p->recs = l;
		return;
	}
	if (r != MAP_FAILED)
		munmap(r, DPP_RINGS_BYTES);
	if (l != MAP_FAILED)
		munmap(l, DPP_RECS_BYTES);
	if (p->rqv_fd >= 0)
		close(p->rqv_fd);
	p->rqv_fd = -1;
}

bool sluice_dp_proxy_req_maps(struct sluice_dp_proxy *p, struct sluice_rq_ring **rings,
			      struct sluice_rq_rec **recs)
{
	if (!p->rings && p->socks_fd >= 0 && p->bpf_root)
		dpp_req_open(p, p->bpf_root);
	*rings = p->rings;
	*recs = p->recs;
	return p->rings != NULL;
}

int sluice_dp_proxy_req_allow(struct sluice_dp_proxy *p, const struct sluice_rq_key *k)
{
	uint32_t allow = SLUICE_RQ_ALLOW;

	if (p->rqv_fd < 0)
		return -EOPNOTSUPP;
	return bpf_map_update_elem(p->rqv_fd, k, &allow, BPF_ANY) ? -errno : 0;
}

int sluice_dp_proxy_open(struct sluice_dp_proxy **out, const char *bpf_root, char **err)
{
	struct sluice_dp_proxy *p = calloc(1, sizeof(*p));
	int e;

	*out = NULL;
	if (err)
		*err = NULL;
	if (!p)
		return -ENOMEM;
	p->ipcache_fd = p->orig_dst_fd = p->flows_fd = p->listeners_fd = p->socks_fd = -1;
	p->splice_fd = p->slots_fd = p->rqv_fd = -1;
	p->ipcache_fd = dpp_map_open(bpf_root, SLUICE_MAP_IPCACHE, sizeof(struct sluice_ipcache_key),
				     sizeof(struct sluice_ipcache_value), err);
	if (p->ipcache_fd < 0) {
		e = p->ipcache_fd;
		goto fail;
	}
	p->orig_dst_fd = dpp_map_open(bpf_root, SLUICE_MAP_ORIG_DST,
				      sizeof(struct sluice_orig_dst_key),
				      sizeof(struct sluice_orig_dst), err);
	if (p->orig_dst_fd < 0) {
		e = p->orig_dst_fd;
		goto fail;
	}
	p->flows_fd = dpp_map_open(bpf_root, SLUICE_MAP_PROXY_FLOWS,
				   sizeof(struct sluice_proxy_flow_key), sizeof(uint8_t), err);
	if (p->flows_fd < 0) {
		e = p->flows_fd;
		goto fail;
	}
	p->listeners_fd = dpp_map_open(bpf_root, SLUICE_MAP_PROXY_LISTENERS, sizeof(uint32_t),
				       sizeof(uint64_t), err);
	if (p->listeners_fd < 0) {
		e = p->listeners_fd;
		goto fail;
	}
	{
		/* optional: without the fast path there is nothing to leave */
		char path[4096];
		struct bpf_map_info info = {};
		uint32_t len = sizeof(info);

		snprintf(path, sizeof(path), "%s/%s", bpf_root, SLUICE_MAP_SOCKS);
		p->socks_fd = bpf_obj_get(path);
		if (p->socks_fd >= 0 && (bpf_obj_get_info_by_fd(p->socks_fd, &info, &len) < 0 ||
					 info.key_size != sizeof(struct sluice_sock_key))) {
			close(p->socks_fd);
			p->socks_fd = -1;
		}
	}
	if (p->socks_fd >= 0)
		dpp_splice_open(p, bpf_root);
	p->bpf_root = strdup(bpf_root);
	*out = p;
	return 0;
fail:
	sluice_dp_proxy_close(p);
	return e;
}

void sluice_dp_proxy_close(struct sluice_dp_proxy *p)
{
	if (!p)
		return;
	if (p->ipcache_fd >= 0)
		close(p->ipcache_fd);
	if (p->orig_dst_fd >= 0)
		close(p->orig_dst_fd);
	if (p->flows_fd >= 0)
		close(p->flows_fd);
	if (p->listeners_fd >= 0)
		close(p->listeners_fd);
	if (p->socks_fd >= 0)
		close(p->socks_fd);
	if (p->slots)
		munmap(p->slots, (size_t)SLUICE_SPLICE_SLOTS * sizeof(struct sluice_splice_slot));
	if (p->splice_fd >= 0)
		close(p->splice_fd);
	if (p->slots_fd >= 0)
		close(p->slots_fd);
	if (p->rings)
		munmap(p->rings, DPP_RINGS_BYTES);
	if (p->recs)
		munmap(p->recs, DPP_RECS_BYTES);
	if (p->rqv_fd >= 0)
		close(p->rqv_fd);
	free(p->bpf_root);
	free(p);
}

struct sluice_splice_slot *sluice_dp_proxy_splice_slots(struct sluice_dp_proxy *p)
{
	if (!p->slots && p->socks_fd >= 0 && p->bpf_root)
		dpp_splice_open(p, p->bpf_root);
	return p->slots;
}

int sluice_dp_proxy_splice_bind(struct sluice_dp_proxy *p, const struct sluice_sock_key *up,
				uint32_t slot, uint32_t gen)
{
	struct sluice_splice_ref ref = { .slot = slot, .gen = gen };

	if (p->splice_fd < 0)
		return -EOPNOTSUPP;
	return bpf_map_update_elem(p->splice_fd, up, &ref, BPF_ANY) ? -errno : 0;
}

int sluice_dp_proxy_splice_unbind(struct sluice_dp_proxy *p, const struct sluice_sock_key *up)
{
	if (p->splice_fd < 0)
		return -EOPNOTSUPP;
	if (bpf_map_delete_elem(p->splice_fd, up) && errno != ENOENT)
		return -errno;
	return 0;
}

int sluice_dp_proxy_sock_forget(struct sluice_dp_proxy *p, int fd)
{
	struct sockaddr_in local, remote;
	socklen_t ll = sizeof(local), rl = sizeof(remote);
	struct sluice_sock_key key;
	uint64_t cookie = 0;
	socklen_t cl = sizeof(cookie);

	if (p->socks_fd < 0)
		return 0;
	if (getsockname(fd, (struct sockaddr *)&local, &ll) || getpeername(fd, (struct sockaddr *)&remote, &rl))
		return -errno;
	if (local.sin_family != AF_INET || remote.sin_family != AF_INET)
		return 0; /* the fast path is IPv4 only */
	/* as bpf/lib/socks.h: the netns cookie only for loopback tuples */
	if ((sl_ipv4_loopback(ntohl(local.sin_addr.s_addr)) ||
	     sl_ipv4_loopback(ntohl(remote.sin_addr.s_addr))) &&
	    getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &cl))
		return -errno;
	sl_sock_key_v4(&key, ntohl(local.sin_addr.s_addr), ntohs(local.sin_port),
		       ntohl(remote.sin_addr.s_addr), ntohs(remote.sin_port), cookie);
	if (bpf_map_delete_elem(p->socks_fd, &key) && errno != ENOENT)
		return -errno;
	return 0;
}

uint32_t sluice_dp_proxy_identity(struct sluice_dp_proxy *p, const uint8_t addr[16])
{
	struct sluice_ipcache_key key = { .prefixlen = 128 };
	struct sluice_ipcache_value v;

	memcpy(key.addr, addr, 16);
	if (bpf_map_lookup_elem(p->ipcache_fd, &key, &v) < 0)
		return SLUICE_ID_WORLD;
	return v.identity;
}

int sluice_dp_proxy_orig_dst(struct sluice_dp_proxy *p, const uint8_t client_addr[16],
			     uint16_t client_port, uint64_t netns_cookie,
			     struct sluice_orig_dst *out)
{
	struct sluice_orig_dst_key key = { .netns_cookie = netns_cookie, .port = client_port };

	memcpy(key.addr, client_addr, 16);
	if (bpf_map_lookup_elem(p->orig_dst_fd, &key, out) < 0)
		return -errno;
	return 0;
}

int sluice_dp_proxy_flow_add(struct sluice_dp_proxy *p, const struct sluice_proxy_flow_key *k)
{
	uint8_t one = 1;

	return bpf_map_update_elem(p->flows_fd, k, &one, BPF_ANY) < 0 ? -errno : 0;
}

int sluice_dp_proxy_flow_del(struct sluice_dp_proxy *p, const struct sluice_proxy_flow_key *k)
{
	if (bpf_map_delete_elem(p->flows_fd, k) < 0)
		return errno == ENOENT ? 0 : -errno;
	return 0;
}

int sluice_dp_proxy_sock_netns_cookie(int fd, uint64_t *out)
{
	socklen_t len = sizeof(*out);

	return getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, out, &len) < 0 ? -errno : 0;
}

int sluice_dp_proxy_listener_add(struct sluice_dp_proxy *p, uint32_t ep_id, int netns_fd,
				 int *fd_out)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(SLUICE_PROXY_PORT),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = sl_socket_in_netns(netns_fd, -1, AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1, e = 0;
	uint64_t value;

	if (fd < 0)
		return fd;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1024) < 0) {
		e = -errno;
		goto fail;
	}
	value = (uint64_t)fd;
	if (bpf_map_update_elem(p->listeners_fd, &ep_id, &value, BPF_ANY) < 0) {
		e = -errno;
		goto fail;
	}
	*fd_out = fd;
	return 0;
fail:
	close(fd);
	return e;
}

int sluice_dp_proxy_listener_del(struct sluice_dp_proxy *p, uint32_t ep_id)
{
	if (bpf_map_delete_elem(p->listeners_fd, &ep_id) < 0)
		return errno == ENOENT ? 0 : -errno;
	return 0;
}

static void dpp_addr_v4(uint8_t out[16], uint32_t ip_be)
{
	memset(out, 0, 16);
	out[10] = 0xff;
	out[11] = 0xff;
	memcpy(out + 12, &ip_be, 4);
}

int sluice_dp_proxy_upstream_socket(struct sluice_dp_proxy *p, int netns_fd, uint32_t src_v4,
				    uint32_t dst_v4, uint16_t dport, int *fd_out,
				    struct sluice_proxy_flow_key *key_out)
{
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_addr.s_addr = src_v4 };
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_addr.s_addr = dst_v4,
				   .sin_port = htons(dport) };
	struct sluice_proxy_flow_key key = { .protocol = IPPROTO_TCP, .dport = dport };
	socklen_t len = sizeof(src);
	int fd = sl_socket_in_netns(netns_fd, -1, AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), e = 0;

	if (fd < 0)
		return fd;

	/* the port must be known before the SYN leaves: bind, then read it */
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&src, &len) < 0) {
		e = -errno;
		goto fail;
	}
	dpp_addr_v4(key.saddr, src_v4);
	dpp_addr_v4(key.daddr, dst_v4);
	key.sport = ntohs(src.sin_port);
	e = sluice_dp_proxy_flow_add(p, &key);
	if (e)
		goto fail;
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 && errno != EINPROGRESS) {
		e = -errno;
		sluice_dp_proxy_flow_del(p, &key);
		goto fail;
	}
	*fd_out = fd;
	*key_out = key;
	return 0;
fail:
	close(fd);
	return e;
}
