/* SPDX-License-Identifier: Apache-2.0 */
/*
 * instance.c - see instance.h.
 *
 * Why two locks: the state directory and the pin directory are the two
 * things a second agent would take over (it restores the state, adopts the
 * pins, then fails on the metrics port and takes the API socket down with
 * it). Either one shared with a running agent is refused before the socket,
 * the pins or the maps are touched. bpffs holds no regular files, so the
 * pin directory itself is what is locked (flock works on any inode).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../common/util.h"
#include "instance.h"
#include "pod_net.h"
#include "proxy_ctl.h"
#include "services.h"

#define INSTANCE_FILE "instance.json"
#define LOCK_FILE "sluiced.lock"

char *instance_default_state_dir(const char *bpf_root)
{
	char buf[PATH_MAX];
	size_t n;
	const char *base;

	snprintf(buf, sizeof(buf), "%s", bpf_root);
	n = strlen(buf);
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = 0;
	base = strrchr(buf, '/');
	base = base ? base + 1 : buf;
	return sl_strdupf("/run/sluice/%s", *base ? base : "sluice");
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	char *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

int instance_check_options(struct agent *a, char **err)
{
	struct statfs sf;
	struct stat st;
	const char *cg = a->cfg.cgroup_root;

	if (statfs(cg, &sf) || stat(cg, &st)) {
		if (errno == ENOENT)
			return sl_fail(err, ENOENT,
				       "--cgroup-root %s does not exist: create it (mkdir %s) or name an existing cgroup v2 directory",
				       cg, cg);
		return sl_fail(err, errno, "--cgroup-root %s: %s", cg, strerror(errno));
	}
	if (sf.f_type != CGROUP2_SUPER_MAGIC || !S_ISDIR(st.st_mode))
		return sl_fail(err, EINVAL, "--cgroup-root %s is not a cgroup v2 directory", cg);
	if (!a->cfg.state_dir[0] || !a->cfg.bpf_root[0] || !a->cfg.socket_path[0])
		return sl_fail(err, EINVAL, "--state-dir, --bpf-root and --socket must not be empty");
	return 0;
}

/* The PID holding a flock on fd's inode, from /proc/locks; 0 if unknown. */
static pid_t lock_holder(int fd)
{
	struct stat st;
	char line[256];
	FILE *f;
	pid_t found = 0;

	if (fstat(fd, &st))
		return 0;
	f = fopen("/proc/locks", "re");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		char type[16];
		unsigned maj, min;
		unsigned long ino;
		int pid;

		if (sscanf(line, "%*d: %15s %*s %*s %d %x:%x:%lu", type, &pid, &maj, &min, &ino) == 5 &&
		    !strcmp(type, "FLOCK") && ino == st.st_ino && maj == major(st.st_dev) &&
		    min == minor(st.st_dev))
			found = pid;
	}
	fclose(f);
	return found;
}

static int lock_one(const char *path, bool dir, char **err)
{
	int fd = dir ? open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
		     : open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return sl_fail(err, errno, "cannot open %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int e = errno;
		pid_t pid = lock_holder(fd);

		if (!pid && !dir) {
			char buf[32] = "";
			ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

			pid = n > 0 ? (pid_t)atoi(buf) : 0;
		}
		close(fd);
		if (e != EWOULDBLOCK)
			return sl_fail(err, e, "cannot lock %s: %s", path, strerror(e));
		if (pid > 0)
			return sl_fail(err, EBUSY,
				       "another sluiced (pid %d) runs this instance: it holds the lock on %s",
				       (int)pid, path);
		return sl_fail(err, EBUSY, "another sluiced runs this instance: %s is locked", path);
	}
	if (!dir) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());

		if (ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)n, 0) != n)
			fprintf(stderr, "sluiced: %s: cannot record our pid\n", path);
	}
	/* held (and the fd kept, close-on-exec) until the process exits */
	return 0;
}

static void strip_slashes(char *s)
{
	size_t n = strlen(s);

	while (n > 1 && s[n - 1] == '/')
		s[--n] = 0;
}

/* Which instance a state directory belongs to: recorded once, then checked. */
static int check_owner(struct agent *a, bool record, char **err)
{
	char *path = sl_strdupf("%s/%s", a->cfg.state_dir, INSTANCE_FILE);
	char bpf[PATH_MAX], cg[PATH_MAX];
	json_t *rec = json_load_file(path, 0, NULL);
	int rc = 0;

	snprintf(bpf, sizeof(bpf), "%s", a->cfg.bpf_root);
	snprintf(cg, sizeof(cg), "%s", a->cfg.cgroup_root);
	strip_slashes(bpf);
	strip_slashes(cg);
	if (rec) {
		const char *rb = json_string_value(json_object_get(rec, "bpf_root")) ?: "";
		const char *rc_ = json_string_value(json_object_get(rec, "cgroup_root")) ?: "";

		if (strcmp(rb, bpf) || strcmp(rc_, cg))
			rc = sl_fail(err, EEXIST,
				     "state directory %s belongs to the instance with --bpf-root %s --cgroup-root %s, not to this one (--bpf-root %s --cgroup-root %s): give this instance its own --state-dir",
				     a->cfg.state_dir, rb, rc_, bpf, cg);
		json_decref(rec);
	} else if (record) {
		rec = json_pack("{s:s,s:s}", "bpf_root", bpf, "cgroup_root", cg);
		if (json_dump_file(rec, path, JSON_COMPACT))
			rc = sl_fail(err, EIO, "cannot write %s", path);
		json_decref(rec);
	}
	free(path);
	return rc;
}

int instance_lock(struct agent *a, bool cleanup, char **err)
{
	char *path;
	int rc;

	/* --cleanup creates nothing: what does not exist has no agent either */
	if (cleanup && access(a->cfg.state_dir, F_OK))
		goto pins;
	rc = mkdir_p(a->cfg.state_dir, 0700);
	if (rc)
		return sl_fail(err, rc, "cannot create --state-dir %s: %s", a->cfg.state_dir, strerror(-rc));
	path = sl_strdupf("%s/%s", a->cfg.state_dir, LOCK_FILE);
	rc = lock_one(path, false, err);
	free(path);
	if (rc)
		return rc;
pins:
	if (cleanup && access(a->cfg.bpf_root, F_OK))
		return check_owner(a, false, err);
	if (mkdir(a->cfg.bpf_root, 0700) && errno != EEXIST)
		return sl_fail(err, errno, "cannot create --bpf-root %s: %s", a->cfg.bpf_root, strerror(errno));
	rc = lock_one(a->cfg.bpf_root, true, err);
	if (rc)
		return rc;
	return check_owner(a, !cleanup, err);
}

/* Moves this process back to the cgroup root, so that its own cgroup can go. */
static void leave_system_cgroup(struct agent *a)
{
	char path[PATH_MAX + 32], pid[32];

	snprintf(path, sizeof(path), "%s/cgroup.procs", a->cfg.cgroup_root);
	snprintf(pid, sizeof(pid), "%d", getpid());
	sl_write_file(path, pid);
}

static bool route_exists(const struct agent *a)
{
	char cmd[128], net[32];
	uint32_t n = a->podcfg.cidr_net;
	FILE *f;
	bool found = false;
	char line[256];

	if (!a->podcfg.node_routing)
		return false; /* Kubernetes mode: never ours */
	snprintf(net, sizeof(net), "%u.%u.%u.%u", n >> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255);
	snprintf(cmd, sizeof(cmd), "ip route show type blackhole %s/%u 2>/dev/null", net,
		 a->podcfg.cidr_prefixlen);
	f = popen(cmd, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		found = true;
	pclose(f);
	return found;
}

static int count_pins(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static bool rm_cgroup(const char *cg)
{
	char path[PATH_MAX + 32];
	DIR *d;
	struct dirent *e;
	int i;

	d = opendir(cg);
	if (!d)
		return false;
	while ((e = readdir(d))) {
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", cg, e->d_name);
		if (!stat(path, &st) && S_ISDIR(st.st_mode))
			rm_cgroup(path);
	}
	closedir(d);
	snprintf(path, sizeof(path), "%s/cgroup.kill", cg);
	sl_write_file(path, "1");
	for (i = 0; i < 100; i++) {
		if (!rmdir(cg))
			return true;
		if (errno == ENOENT)
			return false;
		usleep(10000);
	}
	fprintf(stderr, "sluiced: cannot remove cgroup %s: %s\n", cg, strerror(errno));
	return false;
}

void instance_undo_start(struct agent *a)
{
	if (a->dp && a->adopted)
		return; /* the running instance's datapath keeps enforcing */
	if (a->dp) {
		sluice_dp_detach_cgroups(a->dp);
		sluice_dp_close(a->dp);
		a->dp = NULL;
	}
	if (count_pins(a->cfg.bpf_root) > 0 || !access(a->cfg.bpf_root, F_OK))
		sluice_dp_unpin_all(a->cfg.bpf_root);
	if (!a->adopted)
		agent_services_node_teardown(a, false);
	if (a->podcfg.cidr_prefixlen && route_exists(a))
		pod_net_node_teardown(&a->podcfg);
	else if (a->pod_cgroup_dir[0])
		rmdir(a->pod_cgroup_dir);
	leave_system_cgroup(a);
	if (a->cgroup_system[0])
		rmdir(a->cgroup_system);
	fprintf(stderr, "sluiced: start failed: removed the pins, routes and cgroups it had created\n");
}

/* Pods recorded in pods.json: their netns, host interface and cgroup. */
static int cleanup_recorded_pods(struct agent *a)
{
	char *path = sl_strdupf("%s/pods.json", a->cfg.state_dir);
	json_t *root = json_load_file(path, 0, NULL), *v;
	size_t i;
	int n = 0;

	free(path);
	json_array_foreach(json_object_get(root, "pods"), i, v) {
		struct pod_net p = { 0 };
		char nspath[160];

		snprintf(p.netns, sizeof(p.netns), "%s", json_string_value(json_object_get(v, "netns")) ?: "");
		snprintf(p.host_ifname, sizeof(p.host_ifname), "%s",
			 json_string_value(json_object_get(v, "interface")) ?: "");
		snprintf(p.cgroup, sizeof(p.cgroup), "%s", json_string_value(json_object_get(v, "cgroup")) ?: "");
		snprintf(nspath, sizeof(nspath), "/run/netns/%s", p.netns);
		if (p.netns[0] && !access(nspath, F_OK)) {
			printf("removed: pod %s/%s (netns %s)\n",
			       json_string_value(json_object_get(v, "namespace")) ?: "?",
			       json_string_value(json_object_get(v, "name")) ?: "?", p.netns);
			n++;
		}
		pod_net_delete(&p);
	}
	json_decref(root);
	return n;
}

/* Pod namespaces the record does not name (it may be gone): <prefix><digits>. */
static int cleanup_stray_netns(struct agent *a)
{
	const char *pfx = a->cfg.netns_prefix;
	DIR *d = opendir("/run/netns");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d))) {
		const char *rest = e->d_name + strlen(pfx);
		struct pod_net p = { 0 };

		if (strncmp(e->d_name, pfx, strlen(pfx)) || !*rest ||
		    strspn(rest, "0123456789") != strlen(rest) || strlen(e->d_name) >= sizeof(p.netns) ||
		    strlen(a->pod_cgroup_dir) + strlen(e->d_name) + 2 > sizeof(p.cgroup))
			continue;
		memcpy(p.netns, e->d_name, strlen(e->d_name) + 1);
		memcpy(p.cgroup, a->pod_cgroup_dir, strlen(a->pod_cgroup_dir));
		p.cgroup[strlen(a->pod_cgroup_dir)] = '/';
		memcpy(p.cgroup + strlen(a->pod_cgroup_dir) + 1, e->d_name, strlen(e->d_name) + 1);
		pod_net_delete(&p);
		printf("removed: pod netns %s\n", e->d_name);
		n++;
	}
	if (d)
		closedir(d);
	return n;
}

int instance_cleanup(struct agent *a)
{
	static const char *const state_files[] = { "state.json", "pods.json", "cidr-identities",
						   INSTANCE_FILE };
	int n = 0, pins;
	size_t i;

	n += proxy_ctl_kill_stale(a);
	n += cleanup_recorded_pods(a);
	n += cleanup_stray_netns(a);
	pins = count_pins(a->cfg.bpf_root);
	if (!access(a->cfg.bpf_root, F_OK)) {
		int rc = sluice_dp_unpin_all(a->cfg.bpf_root);

		printf("removed: %s (%d pins)%s%s\n", a->cfg.bpf_root, pins, rc ? ": " : "",
		       rc ? strerror(-rc) : "");
		n++;
	}
	if (route_exists(a)) {
		pod_net_node_teardown(&a->podcfg);
		printf("removed: blackhole route %s\n", a->cfg.pod_cidr);
		n++;
	}
	agent_services_node_teardown(a, true);
	if (rm_cgroup(a->pod_cgroup_dir)) {
		printf("removed: cgroup %s\n", a->pod_cgroup_dir);
		n++;
	}
	if (rm_cgroup(a->cgroup_system)) {
		printf("removed: cgroup %s\n", a->cgroup_system);
		n++;
	}
	{
		bool any = false;

		for (i = 0; i < sizeof(state_files) / sizeof(state_files[0]); i++) {
			char *p = sl_strdupf("%s/%s", a->cfg.state_dir, state_files[i]);

			any |= unlink(p) == 0;
			free(p);
		}
		{
			char *pol = sl_strdupf("%s/policies", a->cfg.state_dir);

			any |= !access(pol, F_OK);
			free(pol);
		}
		agent_state_remove(a);
		{
			char *lock = sl_strdupf("%s/%s", a->cfg.state_dir, LOCK_FILE);

			unlink(lock);
			free(lock);
		}
		if (!rmdir(a->cfg.state_dir) && any) {
			printf("removed: state in %s\n", a->cfg.state_dir);
			n++;
		}
	}
	if (unlink(a->cfg.socket_path) == 0) {
		printf("removed: %s\n", a->cfg.socket_path);
		n++;
	}
	if (!n)
		printf("nothing of this instance was left\n");
	fprintf(stderr, "sluiced: cleaned up pods, programs, pins and state\n");
	return 0;
}
