/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_skmsg.c - what the sk_msg fast path buys: 64-byte request/response
 * round trips per second on one TCP connection between two pods (two netns,
 * each behind a veth with sluice's tc programs and an allow policy), first
 * without the fast path, then with it (sock_ops + sk_msg attached), in the
 * same run. Client and server are pinned to one CPU by default, as in
 * KERNEL-NOTES, so the numbers measure per-message cost, not parallelism.
 *
 * Not a test: prints the two rates and their ratio. Needs root and cgroup
 * v2 at /sys/fs/cgroup/unified. Leaves nothing behind: a private netns (the
 * veths die with it), pins in /sys/fs/bpf/slbt-bench-<pid>, cgroups in
 * <cgroup2>/slbt-bench-<pid>, children killed (and PDEATHSIG).
 *
 * usage: bench_skmsg [--seconds N] [--cpu N | --cpu -1 (no pinning)]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sluice/datapath.h"

#define CGROUP2_ROOT "/sys/fs/cgroup/unified"
#define MSG 64
#define PORT 9000

struct pod {
	pid_t pid;
	int nsfd;
	int ifindex;
	char ip[16];
	char gw[16];
};

static char g_root[128], g_cg[128];
static int g_host_ns = -1, g_cpu = 0;
static pid_t g_server = -1;
static struct pod g_pods[2];

static int sh(const char *cmd)
{
	int r = system(cmd);

	if (r != 0)
		fprintf(stderr, "bench: failed: %s\n", cmd);
	return r;
}

static int write_file(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");
	int r;

	if (!f)
		return -1;
	r = fputs(val, f) < 0 ? -1 : 0;
	return fclose(f) == 0 ? r : -1;
}

static void join_cgroup(const char *dir)
{
	char path[256], pid[32];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (write_file(path, pid) != 0)
		perror(path);
}

static void pin_cpu(void)
{
	cpu_set_t set;

	if (g_cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(g_cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		perror("sched_setaffinity");
}

static void setns_or_die(int fd)
{
	if (setns(fd, CLONE_NEWNET) != 0) {
		perror("setns");
		exit(1);
	}
}

static int pod_create(struct sluice_datapath *dp, struct pod *p, int idx, uint32_t ep_id,
		      uint32_t identity, uint32_t flags)
{
	struct sluice_endpoint ep = { .ep_id = ep_id, .identity = identity, .flags = flags };
	char cmd[256], host_if[16], path[64], *err = NULL;
	uint8_t a[16] = { [10] = 0xff, [11] = 0xff };
	int sync[2];

	snprintf(p->ip, sizeof(p->ip), "10.210.%d.2", idx);
	snprintf(p->gw, sizeof(p->gw), "10.210.%d.1", idx);
	if (pipe(sync) != 0)
		return -1;
	p->pid = fork();
	if (p->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(CLONE_NEWNET) != 0 || write(sync[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	if (p->pid < 0 || read(sync[0], cmd, 1) != 1)
		return -1;
	close(sync[0]);
	close(sync[1]);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)p->pid);
	p->nsfd = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(host_if, sizeof(host_if), "slbt-b%d", idx);
	snprintf(cmd, sizeof(cmd), "ip link add %s type veth peer name eth0 netns %d && "
		 "ip addr add %s/24 dev %s && ip link set %s up", host_if, (int)p->pid, p->gw,
		 host_if, host_if);
	if (p->nsfd < 0 || sh(cmd))
		return -1;
	setns_or_die(p->nsfd);
	snprintf(cmd, sizeof(cmd), "ip link set lo up && ip addr add %s/24 dev eth0 && "
		 "ip link set eth0 up && ip route add default via %s", p->ip, p->gw);
	if (sh(cmd))
		return -1;
	setns_or_die(g_host_ns);
	p->ifindex = (int)if_nametoindex(host_if);
	inet_pton(AF_INET, p->ip, a + 12);
	memcpy(ep.addr, a, 16);
	if (sluice_dp_endpoint_update(dp, p->ifindex, &ep) ||
	    sluice_dp_ipcache_update(dp, a, 128, identity, SLUICE_IPC_F_LOCAL_POD) ||
	    sluice_dp_attach_endpoint(dp, p->ifindex, &err)) {
		fprintf(stderr, "bench: endpoint: %s\n", err ? err : "?");
		free(err);
		return -1;
	}
	return 0;
}

/* Echo server in pod B: one connection after another, 64 bytes each way. */
static void server_main(int lfd)
{
	char buf[MSG];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	pin_cpu();
	for (;;) {
		int c = accept(lfd, NULL, NULL), one = 1;

		if (c < 0)
			_exit(1);
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		for (;;) {
			size_t got = 0;

			while (got < MSG) {
				ssize_t r = read(c, buf + got, MSG - got);

				if (r <= 0)
					goto next;
				got += (size_t)r;
			}
			if (write(c, buf, MSG) != MSG)
				break;
		}
next:
		close(c);
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Round trips per second on a fresh connection from pod A to pod B. */
static double measure(const char *dst, double seconds)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	char buf[MSG];
	double t0, t;
	long n = 0;
	int fd, one = 1;

	inet_pton(AF_INET, dst, &sa.sin_addr);
	setns_or_die(g_pods[0].nsfd);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	setns_or_die(g_host_ns);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("bench: connect");
		return -1;
	}
	memset(buf, 'x', sizeof(buf));
	t0 = now_s();
	do {
		for (int i = 0; i < 1000; i++) {
			size_t got = 0;

			if (write(fd, buf, MSG) != MSG)
				goto fail;
			while (got < MSG) {
				ssize_t r = read(fd, buf + got, MSG - got);

				if (r <= 0)
					goto fail;
				got += (size_t)r;
			}
		}
		n += 1000;
		t = now_s();
	} while (t - t0 < seconds);
	close(fd);
	return (double)n / (t - t0);
fail:
	perror("bench: round trip");
	close(fd);
	return -1;
}

static void cleanup(void)
{
	char path[256];
	int i;

	if (g_server > 0) {
		kill(g_server, SIGKILL);
		waitpid(g_server, NULL, 0);
	}
	for (i = 0; i < 2; i++) {
		if (g_pods[i].pid > 0) {
			kill(g_pods[i].pid, SIGKILL);
			waitpid(g_pods[i].pid, NULL, 0);
		}
	}
	if (g_root[0])
		sluice_dp_unpin_all(g_root);
	if (g_cg[0]) {
		join_cgroup(CGROUP2_ROOT);
		snprintf(path, sizeof(path), "%s/system", g_cg);
		rmdir(path);
		snprintf(path, sizeof(path), "%s/pods", g_cg);
		rmdir(path);
		for (i = 0; i < 50 && rmdir(g_cg) != 0 && errno == EBUSY; i++)
			usleep(20000);
	}
}

static void on_signal(int sig)
{
	(void)sig;
	cleanup();
	_exit(1);
}

int main(int argc, char **argv)
{
	struct sluice_policy_map_entry allow = {
		.key = { .prefixlen = SLUICE_POLICY_PREFIX_FULL, .identity_be = htonl(1001),
			 .direction = SLUICE_DIR_INGRESS, .protocol = IPPROTO_TCP,
			 .dport_be = htons(PORT) },
		.value = { .match_kind = SLUICE_MATCH_L3_L4 },
	};
	struct option opts[] = { { "seconds", required_argument, NULL, 's' },
				 { "cpu", required_argument, NULL, 'c' }, { 0 } };
	struct sluice_datapath *dp = NULL;
	char path[256], *err = NULL;
	double seconds = 3, without, with;
	int o, lfd, one = 1, rc = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PORT) };

	while ((o = getopt_long(argc, argv, "s:c:", opts, NULL)) != -1) {
		if (o == 's')
			seconds = atof(optarg);
		else if (o == 'c')
			g_cpu = atoi(optarg);
		else
			return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "bench_skmsg: needs root\n");
		return 77;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGALRM, on_signal);
	alarm((unsigned)(2 * seconds + 60));

	snprintf(g_cg, sizeof(g_cg), CGROUP2_ROOT "/slbt-bench-%d", (int)getpid());
	snprintf(path, sizeof(path), "%s/pods", g_cg);
	if (mkdir(g_cg, 0755) || mkdir(path, 0755)) {
		perror(g_cg);
		g_cg[0] = '\0';
		goto out;
	}
	snprintf(path, sizeof(path), "%s/system", g_cg);
	if (mkdir(path, 0755)) {
		perror(path);
		goto out;
	}
	join_cgroup(path);
	if (unshare(CLONE_NEWNET) != 0) {
		perror("unshare");
		goto out;
	}
	g_host_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (sh("ip link set lo up") || write_file("/proc/sys/net/ipv4/ip_forward", "1"))
		goto out;

	snprintf(g_root, sizeof(g_root), "/sys/fs/bpf/slbt-bench-%d", (int)getpid());
	if (sluice_dp_open(&dp, g_root, NULL, NULL, &err) != 0) {
		fprintf(stderr, "bench: open: %s\n", err ? err : "?");
		goto out;
	}
	free(err);
	err = NULL;
	if (pod_create(dp, &g_pods[0], 1, 1, 1001, 0) ||
	    pod_create(dp, &g_pods[1], 2, 2, 1002, SLUICE_EP_F_ENFORCE_INGRESS) ||
	    sluice_dp_policy_replace(dp, 2, &allow, 1, &err))
		goto out;

	/* the server's listener in pod B; the server process echoes */
	setns_or_die(g_pods[1].nsfd);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setns_or_die(g_host_ns);
	inet_pton(AF_INET, g_pods[1].ip, &sa.sin_addr);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 16)) {
		perror("bench: listen");
		goto out;
	}
	g_server = fork();
	if (g_server == 0)
		server_main(lfd);
	close(lfd);
	pin_cpu();

	without = measure(g_pods[1].ip, seconds);
	snprintf(path, sizeof(path), "%s/pods", g_cg);
	if (sluice_dp_attach_cgroups(dp, path, g_cg, &err) != 0) {
		fprintf(stderr, "bench: attach_cgroups: %s\n", err ? err : "?");
		goto out;
	}
	with = measure(g_pods[1].ip, seconds);
	if (without <= 0 || with <= 0)
		goto out;
	printf("pod->pod 64-byte request/response, one connection, %s, %.1f s each\n",
	       g_cpu < 0 ? "no CPU pinning" : "client and server on one CPU", seconds);
	printf("without sk_msg: %10.0f round trips/s\n", without);
	printf("with sk_msg:    %10.0f round trips/s\n", with);
	printf("ratio:          %10.2fx\n", with / without);
	rc = 0;
out:
	free(err);
	sluice_dp_close(dp);
	cleanup();
	return rc;
}
