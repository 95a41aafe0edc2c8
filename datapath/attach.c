/* SPDX-License-Identifier: Apache-2.0 */
/*
 * attach.c - where the programs run: tc filters on the pods' host-side
 * veths (from_container, to_container), the pinned bpf links of the L7
 * steering (connect4 and sock_ops on cgroups, sk_lookup per pod netns) and
 * the sk_msg program on the socks map.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
#include "bpf_sock_svc.skel.h"
#include "bpf_sockops.skel.h"
#include "bpf_skmsg.skel.h"

/*
 * sk_msg programs attach to the map, not through a link (libbpf 1.1), and
 * stay attached while the map lives. Attaching replaces the previous
 * program atomically, so a restarted agent takes over without a gap.
 */
int dp_skmsg_attach(struct sluice_datapath *dp, char **err)
{
	int e = bpf_prog_attach(bpf_program__fd(dp->skmsg->progs.sk_msg_redirect),
				bpf_map__fd(dp->sockops->maps.sluice_sock_v1),
				BPF_SK_MSG_VERDICT, 0);

	if (e < 0) {
		e = -errno;
		sl_fail(err, e, "attaching sk_msg_redirect to %s: %s", SLUICE_MAP_SOCKS,
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
	if (strcmp(name, DP_LINK_SENDMSG4) == 0)
		return dp->socksvc->progs.sock_sendmsg4;
	if (strcmp(name, DP_LINK_RECVMSG4) == 0)
		return dp->socksvc->progs.sock_recvmsg4;
	if (strcmp(name, DP_LINK_GETPEERNAME4) == 0)
		return dp->socksvc->progs.sock_getpeername4;
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
int dp_links_adopt(struct sluice_datapath *dp, char **warn)
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
			dp_warn(warn, "unknown pinned link %s left alone", path);
			continue;
		}
		fd = bpf_obj_get(path);
		if (fd < 0) {
			dp_warn(warn, "opening pinned link %s: %s", path, strerror(errno));
			continue;
		}
		if (bpf_link_update(fd, bpf_program__fd(prog), NULL) < 0) {
			int u = errno;

			/* ENOLINK: the cgroup or netns died with the link */
			dp_warn(warn, "pinned link %s: update failed (%s): removed", path,
				   strerror(u));
			bpf_link_detach(fd);
			unlink(path);
		}
		close(fd);
	}
	closedir(d);
	return 0;
}

/* Detaches every program attached to the socks map (it references the map,
 * the map holds it: neither would ever be freed). */
int dp_skmsg_detach_all(const char *bpf_root)
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
int dp_links_remove_all(const char *bpf_root)
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
		return sl_fail(err, e, "attaching from_container to tc ingress of ifindex %d: %s",
			       ifindex, strerror(-e));
	}
	e = dp_tc_attach_one(ifindex, BPF_TC_EGRESS, bpf_program__fd(dp->lxc->progs.to_container));
	if (e) {
		/* from_container stays: half the enforcement beats none; retry */
		return sl_fail(err, e, "attaching to_container to tc egress of ifindex %d: %s",
			       ifindex, strerror(-e));
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
		e = errno;
		return sl_fail(err, e, "creating %s: %s", dir, strerror(e));
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
		e = errno;
		return sl_fail(err, e, "attaching %s: %s", bpf_program__name(prog), strerror(e));
	}
	snprintf(tmp, sizeof(tmp), "%s_new", path); /* no dots on bpffs */
	unlink(tmp);
	if (bpf_obj_pin(fd, tmp) < 0 || rename(tmp, path) < 0) {
		e = -errno;
		sl_fail(err, e, "pinning link %s: %s", path, strerror(-e));
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
		e = errno;
		return sl_fail(err, e, "cgroup %s: %s", path, strerror(e));
	}
	if (fstatfs(fd, &fs) < 0 || (unsigned long)fs.f_type != (unsigned long)CGROUP2_SUPER_MAGIC ||
	    fstat(fd, &st) < 0) {
		close(fd);
		return sl_fail(err, EINVAL, "%s is not a cgroup v2 directory", path);
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
		e = sl_fail(err, EINVAL, "refusing to attach connect4 to the root cgroup %s",
			    pods_cgroup);
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
	/* services: UDP sendto() and what replies and getpeername() show */
	if (!e)
		e = dp_link_ensure(dp, DP_LINK_SENDMSG4, dp->socksvc->progs.sock_sendmsg4,
				   BPF_CGROUP_UDP4_SENDMSG, pods_fd, pods_id, err);
	if (!e)
		e = dp_link_ensure(dp, DP_LINK_RECVMSG4, dp->socksvc->progs.sock_recvmsg4,
				   BPF_CGROUP_UDP4_RECVMSG, pods_fd, pods_id, err);
	if (!e)
		e = dp_link_ensure(dp, DP_LINK_GETPEERNAME4, dp->socksvc->progs.sock_getpeername4,
				   BPF_CGROUP_INET4_GETPEERNAME, pods_fd, pods_id, err);
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

	dp_link_remove(dp, DP_LINK_SENDMSG4);
	dp_link_remove(dp, DP_LINK_RECVMSG4);
	dp_link_remove(dp, DP_LINK_GETPEERNAME4);

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
		sl_fail(err, e, "endpoint %u: netns %s: %s", ep_id, netns_path, strerror(-e));
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
