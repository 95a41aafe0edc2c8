/* SPDX-License-Identifier: Apache-2.0 */
/*
 * internal.h - what the files of the datapath library share and the
 * public API (include/sluice/datapath.h) does not show: the handle, the
 * pin and link names, the map table and the small map helpers.
 *
 * The library, one concept per file:
 *   loader.c  open (load the skeletons, adopt or replace pins), close, unpin
 *   maps.c    the map table (every map with its abi.h name) and the generic
 *             map helpers (batch update, batch dump, key count)
 *   attach.c  tc filters on pod veths, pinned links (cgroups, netns), sk_msg
 *   writes.c  endpoint, ipcache, policy, conntrack and L7 steering entries
 *   query.c   counters, programs, and the questions revalidation asks
 *   events.c  the ring buffer of flow events
 *   netns.c   sockets made inside a pod's netns
 *   proxy_maps.c  the proxy process's view of the pins (dp_proxy.h)
 */
#ifndef SLUICE_DATAPATH_INTERNAL_H
#define SLUICE_DATAPATH_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sluice/datapath.h"

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
/* Services (bpf_sock_svc.c), on the pods cgroup beside connect4 */
#define DP_LINK_SENDMSG4    "sendmsg4"
#define DP_LINK_RECVMSG4    "recvmsg4"
#define DP_LINK_GETPEERNAME4 "getpeername4"

#define DP_ROOT_CGROUP_ID 1 /* inode of a cgroup2 root: never attach connect4 there */

struct bpf_lxc;
struct bpf_sklookup;
struct bpf_connect;
struct bpf_sockops;
struct bpf_skmsg;
struct bpf_sock_svc;

struct sluice_datapath {
	/* one object per hook; they share maps through their pins */
	struct bpf_lxc *lxc;
	struct bpf_sklookup *sklookup;
	struct bpf_connect *connect;
	struct bpf_sockops *sockops;
	struct bpf_skmsg *skmsg;
	struct bpf_sock_svc *socksvc;
	char *bpf_root;
	struct ring_buffer *events;
	sluice_dp_event_cb event_cb; /* set only while draining */
	void *event_ctx;
};

/* Appends one formatted warning line to a malloc'd list of lines (*msg may
 * be NULL: the warning is dropped). Errors use sl_fail (common/util.h). */
__attribute__((format(printf, 2, 3)))
void dp_warn(char **msg, const char *fmt, ...);

/* maps.c: the maps of all objects, with the names abi.h promises */
struct dp_map_ref {
	const char *name;
	struct bpf_map *map;
	bool fill; /* sluice_dp_map_fill() reports its fill level */
};
#define DP_MAPS_MAX SLUICE_DP_MAPS_MAX
size_t dp_maps(struct sluice_datapath *dp, struct dp_map_ref *out, size_t n);
#define DP_OBJECTS_MAX 6
size_t dp_objects(struct sluice_datapath *dp, struct bpf_object **out);
int dp_update_many(int fd, const void *keys, size_t ksize, const void *values, size_t vsize,
		   size_t n);
int dp_delete_many(int fd, const void *keys, size_t ksize, size_t n);
int dp_dump(int fd, size_t key_size, size_t value_size, size_t max, void **keys_out,
	    void **vals_out, size_t *n_out);

static inline int dp_errno(int ret)
{
	return ret < 0 ? -errno : 0;
}

static inline int dp_delete(int fd, const void *key)
{
	if (bpf_map_delete_elem(fd, key) < 0)
		return errno == ENOENT ? 0 : -errno;
	return 0;
}

/* attach.c: what open and unpin need of the links and of sk_msg */
int dp_skmsg_attach(struct sluice_datapath *dp, char **err);
int dp_skmsg_detach_all(const char *bpf_root);
int dp_links_adopt(struct sluice_datapath *dp, char **warn);
int dp_links_remove_all(const char *bpf_root);

/* events.c: the ring buffer's callback */
int dp_on_event(void *ctx, void *data, size_t size);

#endif /* SLUICE_DATAPATH_INTERNAL_H */
