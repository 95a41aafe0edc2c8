/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_bpf_proxy.c - the L7 steering and the sk_msg fast path, with real
 * sockets in real network namespaces.
 *
 * Stories:
 *   ingress  a client pod connects to podB:8080 whose ingress has HTTP
 *            rules: the proxy's listener inside B accepts it, with podB:8080
 *            as its local address; an L4-only rule reaches the real server;
 *            no proxy (down, or no listener) means no connection; the
 *            proxy's own connect to podB:8080 from inside B reaches the
 *            real server.
 *   egress   a process in a pod's cgroup connects to 192.0.2.80:80 with an
 *            HTTP egress rule: it lands on the proxy's in-pod listener and
 *            the proxy library tells the original destination; the proxy's
 *            registered upstream leg passes tc, an unregistered one does
 *            not; proxy down: connect() fails with EPERM.
 *   skmsg    two netns using the same 127.0.0.1 tuple do not cross-talk and
 *            bytes arrive intact; between two pods over a veth, tc sees the
 *            handshake only. Response splice: with the proxy upstream's
 *            slot armed, a simple response from the server lands in the
 *            client socket (keep-alive lines dropped, body counted over
 *            sends); anything else, or a slot not armed, goes to the proxy.
 *   links    an agent restart moves the pinned links to its new programs.
 *
 * Isolation: the process moves into a private netns (the "host"; its veths
 * die with it), pods are child processes in their own netns (killed in
 * teardown; PDEATHSIG if we die), pins live in /sys/fs/bpf/slbt-proxy-<pid>,
 * cgroups in <cgroup2>/slbt-<pid>; the test process itself runs in
 * slbt-<pid>/system (the proxy's place) and moves back at the end. A
 * watchdog alarm cleans up and exits if a test hangs.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/magic.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sluice/datapath.h"
#include "sluice/dp_proxy.h"

#define CGROUP2_ROOT "/sys/fs/cgroup/unified"
#define WATCHDOG_S 150

#define ID_A 1001
#define ID_B 1002
#define WORLD_IP "192.0.2.80"

static char g_base[128];     /* bpffs dir of this run */
static char g_cg[256];       /* <cgroup2>/slbt-<pid> */
static char g_cg_orig[600];  /* where this process was */
static int g_host_ns = -1;
static int g_counter;

struct pod {
	pid_t pid;
	int nsfd;
	int ifindex;         /* host side */
	uint32_t ep_id;
	uint64_t cookie;
	char ip[16];
	char gw[16];
	char netns_path[64];
};

#define PODS_MAX 3

struct fx {
	struct sluice_datapath *dp;
	char root[192];
	struct pod pods[PODS_MAX];
	int npods;
	int fds[16];
	int nfds;
};

static struct fx *g_fx; /* for the watchdog */

/* helpers */

static int sys(const char *cmd)
{
	int r = system(cmd);

	if (r != 0)
		fprintf(stderr, "failed: %s\n", cmd);
	return r;
}

static void addr_v4(uint8_t out[16], const char *ip)
{
	memset(out, 0, 16);
	out[10] = 0xff;
	out[11] = 0xff;
	assert_int_equal(inet_pton(AF_INET, ip, out + 12), 1);
}

static uint32_t ip_be(const char *ip)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, ip, &a), 1);
	return a.s_addr;
}

static int keep_fd(struct fx *f, int fd)
{
	if (fd >= 0 && f->nfds < 16)
		f->fds[f->nfds++] = fd;
	return fd;
}

/* Closes a kept fd now (teardown must not close it again). */
static void drop_fd(struct fx *f, int fd)
{
	int i;

	for (i = 0; i < f->nfds; i++)
		if (f->fds[i] == fd)
			f->fds[i] = -1;
	close(fd);
}

static void enter_ns(int nsfd)
{
	if (setns(nsfd, CLONE_NEWNET) != 0) {
		perror("setns");
		abort();
	}
}

static void leave_ns(void)
{
	enter_ns(g_host_ns);
}

static int ns_system(int nsfd, const char *cmd)
{
	int r;

	enter_ns(nsfd);
	r = sys(cmd);
	leave_ns();
	return r;
}

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r = -1;

	if (fd >= 0) {
		r = write(fd, val, strlen(val)) == (ssize_t)strlen(val) ? 0 : -1;
		close(fd);
	}
	return r;
}

static int join_cgroup(const char *dir)
{
	char path[600], pid[32];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	return write_file(path, pid);
}

/* A TCP listener on ip:port in the netns behind nsfd (host when nsfd < 0). */
static int listen_in(int nsfd, const char *ip, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = ip_be(ip) };
	int fd, one = 1;

	if (nsfd >= 0)
		enter_ns(nsfd);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (nsfd >= 0)
		leave_ns();
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0) {
		perror("listen_in");
		close(fd);
		return -1;
	}
	return fd;
}

static int wait_fd(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, ms) == 1 && (p.revents & events);
}

static int accept_within(int lfd, int ms)
{
	if (!wait_fd(lfd, POLLIN, ms))
		return -1;
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

/* Finishes a non-blocking connect: 0 or an errno (ETIMEDOUT after ms). */
static int connect_finish(int fd, int ms)
{
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	if (!wait_fd(fd, POLLOUT, ms))
		return ETIMEDOUT;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
	return soerr;
}

/*
 * Connects from the netns nsfd (host when < 0), optionally bound to src.
 * Returns the socket (blocking mode restored) or -errno; ms bounds it.
 */
static int connect_from(int nsfd, const char *src, uint16_t sport, const char *dst,
			uint16_t dport, int ms)
{
	struct sockaddr_in da = { .sin_family = AF_INET, .sin_port = htons(dport),
				  .sin_addr.s_addr = ip_be(dst) };
	int fd, r, one = 1;

	if (nsfd >= 0)
		enter_ns(nsfd);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (nsfd >= 0)
		leave_ns();
	if (src) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(sport),
					  .sin_addr.s_addr = ip_be(src) };

		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
			r = errno;
			close(fd);
			return -r;
		}
	}
	if (connect(fd, (struct sockaddr *)&da, sizeof(da)) != 0 && errno != EINPROGRESS)
		r = errno;
	else
		r = connect_finish(fd, ms);
	if (r) {
		close(fd);
		return -r;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

static void sock_name(int fd, int peer, char ip[16], uint16_t *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	assert_int_equal(peer ? getpeername(fd, (struct sockaddr *)&sa, &len)
			      : getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	inet_ntop(AF_INET, &sa.sin_addr, ip, 16);
	*port = ntohs(sa.sin_port);
}

/*
 * A connect() made by a child process in cgroup cg and netns nsfd, as a pod
 * process would. Returns 0 or the errno; *lport = its local port. The child
 * keeps the connection open until *hold is closed (then exits).
 */
struct child_conn {
	pid_t pid;
	int hold; /* write end: closing it ends the child */
};

static int child_connect_from(const char *cg, int nsfd, const char *src, uint16_t sport,
			      const char *dst, uint16_t dport, uint16_t *lport,
			      struct child_conn *cc)
{
	int res[2], hold[2], out[2] = { -1, 0 };
	pid_t pid;

	assert_int_equal(pipe2(res, O_CLOEXEC), 0);
	assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_in da = { .sin_family = AF_INET, .sin_port = htons(dport),
					  .sin_addr.s_addr = ip_be(dst) };
		struct timeval tv = { .tv_sec = 2 };
		char c;
		int fd;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(10);
		close(res[0]);
		close(hold[1]);
		if (join_cgroup(cg) != 0 || setns(nsfd, CLONE_NEWNET) != 0)
			_exit(2);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (src) {
			struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(sport),
						  .sin_addr.s_addr = ip_be(src) };

			if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
				_exit(5);
		}
		out[0] = connect(fd, (struct sockaddr *)&da, sizeof(da)) == 0 ? 0 : errno;
		if (out[0] == 0) {
			struct sockaddr_in sa;
			socklen_t len = sizeof(sa);

			getsockname(fd, (struct sockaddr *)&sa, &len);
			out[1] = ntohs(sa.sin_port);
		}
		if (write(res[1], out, sizeof(out)) != sizeof(out))
			_exit(3);
		if (read(hold[0], &c, 1) < 0)
			_exit(4);
		_exit(0);
	}
	close(res[1]);
	close(hold[0]);
	assert_int_equal(read(res[0], out, sizeof(out)), sizeof(out));
	close(res[0]);
	cc->pid = pid;
	cc->hold = hold[1];
	*lport = (uint16_t)out[1];
	return out[0];
}

static int child_connect(const char *cg, int nsfd, const char *dst, uint16_t dport,
			 uint16_t *lport, struct child_conn *cc)
{
	return child_connect_from(cg, nsfd, NULL, 0, dst, dport, lport, cc);
}

static void child_done(struct child_conn *cc)
{
	close(cc->hold);
	waitpid(cc->pid, NULL, 0);
}

/* pods */

/*
 * A pod: a child process sleeping in its own netns, a veth slbt-h<n>
 * (host, gw/24) <-> eth0 (pod, ip/24, default route via gw), the endpoint
 * written and tc attached, ep_addr and netns_ep filled, sk_lookup attached.
 * with_veth = 0: lo only (no endpoint).
 */
static struct pod *pod_add(struct fx *f, uint32_t ep_id, uint32_t identity, const char *net,
			   uint32_t ep_flags, int with_veth)
{
	struct pod *p = &f->pods[f->npods++];
	char cmd[256], host_if[16], ok;
	int sync[2], r;
	char *err = NULL;

	assert_true(f->npods <= PODS_MAX);
	memset(p, 0, sizeof(*p));
	p->ep_id = ep_id;
	snprintf(p->ip, sizeof(p->ip), "%s.2", net);
	snprintf(p->gw, sizeof(p->gw), "%s.1", net);
	assert_int_equal(pipe2(sync, O_CLOEXEC), 0);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sync[0]);
		if (unshare(CLONE_NEWNET) != 0 || write(sync[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(sync[1]);
	assert_int_equal(read(sync[0], &ok, 1), 1);
	close(sync[0]);
	snprintf(p->netns_path, sizeof(p->netns_path), "/proc/%d/ns/net", (int)p->pid);
	p->nsfd = open(p->netns_path, O_RDONLY | O_CLOEXEC);
	assert_true(p->nsfd >= 0);
	assert_int_equal(ns_system(p->nsfd, "ip link set lo up"), 0);
	assert_int_equal(sluice_dp_netns_cookie(p->nsfd, &p->cookie), 0);
	assert_true(p->cookie != 0);
	if (!with_veth)
		return p;

	snprintf(host_if, sizeof(host_if), "slbt-h%d", g_counter * 10 + f->npods);
	snprintf(cmd, sizeof(cmd), "ip link add %s type veth peer name eth0 netns %d && "
		 "ip addr add %s/24 dev %s && ip link set %s up", host_if, (int)p->pid, p->gw,
		 host_if, host_if);
	assert_int_equal(sys(cmd), 0);
	snprintf(cmd, sizeof(cmd), "ip addr add %s/24 dev eth0 && ip link set eth0 up && "
		 "ip route add default via %s", p->ip, p->gw);
	assert_int_equal(ns_system(p->nsfd, cmd), 0);
	p->ifindex = (int)if_nametoindex(host_if);
	assert_true(p->ifindex > 0);

	struct sluice_endpoint ep = { .ep_id = ep_id, .identity = identity, .flags = ep_flags };
	uint8_t a[16];

	addr_v4(ep.addr, p->ip);
	addr_v4(a, p->ip);
	assert_int_equal(sluice_dp_endpoint_update(f->dp, p->ifindex, &ep), 0);
	assert_int_equal(sluice_dp_ipcache_update(f->dp, a, 128, identity, SLUICE_IPC_F_LOCAL_POD),
			 0);
	assert_int_equal(sluice_dp_attach_endpoint(f->dp, p->ifindex, &err), 0);
	assert_int_equal(sluice_dp_ep_addr_update(f->dp, a, ep_id), 0);
	assert_int_equal(sluice_dp_netns_ep_update(f->dp, p->cookie, ep_id), 0);
	r = sluice_dp_attach_netns(f->dp, ep_id, p->netns_path, &err);
	if (r)
		fprintf(stderr, "attach_netns: %s\n", err ? err : "?");
	free(err);
	assert_int_equal(r, 0);
	return p;
}

static struct sluice_policy_map_entry pe(uint32_t identity, uint8_t dir, uint16_t dport,
					 uint8_t flags)
{
	struct sluice_policy_map_entry e = {
		.key = { .prefixlen = SLUICE_POLICY_PREFIX_FULL, .identity_be = htonl(identity),
			 .direction = dir, .protocol = IPPROTO_TCP, .dport_be = htons(dport) },
		.value = { .flags = flags, .match_kind = SLUICE_MATCH_L3_L4,
			   .proxy_port = (flags & SLUICE_POL_F_REDIRECT) ? SLUICE_PROXY_PORT : 0 },
	};
	return e;
}

static void pol_set(struct fx *f, uint32_t ep_id, const struct sluice_policy_map_entry *e,
		    size_t n)
{
	char *err = NULL;
	int r = sluice_dp_policy_replace(f->dp, ep_id, e, n, &err);

	if (r)
		fprintf(stderr, "policy_replace: %s\n", err ? err : "?");
	free(err);
	assert_int_equal(r, 0);
}

static uint64_t stat_get(struct fx *f, int idx)
{
	uint64_t st[SLUICE_STAT_MAX];

	assert_int_equal(sluice_dp_stats(f->dp, st), 0);
	return st[idx];
}

struct ev_count {
	int n;
	uint32_t want_type, want_ep;
	uint8_t want_verdict;
	uint16_t want_reason;
};

static void on_event(void *ctx, const struct sluice_flow_event *ev)
{
	struct ev_count *c = ctx;

	if (ev->type == c->want_type && ev->ep_id == c->want_ep && ev->verdict == c->want_verdict &&
	    ev->drop_reason == c->want_reason)
		c->n++;
}

static int events_count(struct fx *f, uint32_t type, uint32_t ep, uint8_t verdict, uint16_t reason)
{
	struct ev_count c = { 0, type, ep, verdict, reason };

	sluice_dp_events_drain(f->dp, on_event, &c);
	return c.n;
}

static void cgroups_attach(struct fx *f)
{
	char pods[300], *err = NULL;
	int r;

	snprintf(pods, sizeof(pods), "%s/pods", g_cg);
	r = sluice_dp_attach_cgroups(f->dp, pods, g_cg, &err);
	if (r)
		fprintf(stderr, "attach_cgroups: %s\n", err ? err : "?");
	free(err);
	assert_int_equal(r, 0);
}

/* fixture */

static void fx_cleanup(struct fx *f)
{
	int i;

	for (i = 0; i < f->nfds; i++)
		if (f->fds[i] >= 0)
			close(f->fds[i]);
	f->nfds = 0;
	for (i = 0; i < f->npods; i++) {
		if (f->pods[i].nsfd > 0)
			close(f->pods[i].nsfd);
		if (f->pods[i].pid > 0) {
			kill(f->pods[i].pid, SIGKILL);
			waitpid(f->pods[i].pid, NULL, 0);
		}
	}
	f->npods = 0;
	sluice_dp_close(f->dp);
	f->dp = NULL;
	sluice_dp_unpin_all(f->root);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *err = NULL;
	int e;

	assert_non_null(f);
	snprintf(f->root, sizeof(f->root), "%s/t%d", g_base, ++g_counter);
	e = sluice_dp_open(&f->dp, f->root, NULL, NULL, &err);
	if (e)
		fprintf(stderr, "sluice_dp_open: %s\n", err ? err : "?");
	assert_int_equal(e, 0);
	free(err);
	g_fx = f;
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	if (!f)
		return 0;
	g_fx = NULL;
	fx_cleanup(f);
	free(f);
	return 0;
}

/* ingress */

static void test_ingress_steering(void **state)
{
	struct fx *f = *state;
	struct pod *a, *b;
	struct sluice_policy_map_entry redirect[] = {
		pe(ID_A, SLUICE_DIR_INGRESS, 8080, SLUICE_POL_F_REDIRECT),
	};
	struct sluice_policy_map_entry l4[] = { pe(ID_A, SLUICE_DIR_INGRESS, 8080, 0) };
	int server, proxy, c, s;
	char ip[16];
	uint16_t port, cport;

	a = pod_add(f, 21, ID_A, "10.201.1", 0, 1);
	b = pod_add(f, 22, ID_B, "10.201.2", SLUICE_EP_F_ENFORCE_INGRESS, 1);
	pol_set(f, b->ep_id, redirect, 1);
	server = keep_fd(f, listen_in(b->nsfd, b->ip, 8080));
	assert_true(server >= 0);
	assert_int_equal(sluice_dp_proxy_listen_in_netns(b->nsfd, SLUICE_PROXY_PORT, &proxy), 0);
	keep_fd(f, proxy);
	assert_int_equal(sluice_dp_proxy_listener_set(f->dp, b->ep_id, proxy), 0);
	assert_int_equal(sluice_dp_proxy_set_up(f->dp, true), 0);

	/* HTTP rules on B:8080: the proxy's in-pod listener gets it, no NAT */
	c = keep_fd(f, connect_from(a->nsfd, NULL, 0, b->ip, 8080, 2000));
	assert_true(c >= 0);
	sock_name(c, 0, ip, &cport);
	s = keep_fd(f, accept_within(proxy, 2000));
	assert_true(s >= 0);
	sock_name(s, 0, ip, &port);
	assert_string_equal(ip, b->ip);
	assert_int_equal(port, 8080);
	sock_name(s, 1, ip, &port);
	assert_string_equal(ip, a->ip);
	assert_int_equal(port, cport);
	assert_true(accept_within(server, 100) < 0);
	assert_int_equal(events_count(f, SLUICE_EVENT_POLICY_VERDICT, b->ep_id,
				      SLUICE_VERDICT_REDIRECTED, SLUICE_DROP_NONE), 1);
	/* bytes flow both ways through the steered connection */
	assert_int_equal(write(c, "ping", 4), 4);
	assert_true(wait_fd(s, POLLIN, 2000));
	assert_int_equal(read(s, ip, sizeof(ip)), 4);

	/* the proxy's upstream leg, from inside B to B:8080: the real server */
	c = keep_fd(f, connect_from(b->nsfd, NULL, 0, b->ip, 8080, 2000));
	assert_true(c >= 0);
	assert_true(keep_fd(f, accept_within(server, 2000)) >= 0);
	assert_true(accept_within(proxy, 100) < 0);

	/* proxy down: fail closed, the SYN is dropped at tc */
	assert_int_equal(sluice_dp_proxy_set_up(f->dp, false), 0);
	assert_int_equal(connect_from(a->nsfd, NULL, 0, b->ip, 8080, 700), -ETIMEDOUT);
	assert_true(accept_within(server, 50) < 0);
	assert_true(stat_get(f, SLUICE_STAT_DROP_PROXY_UNAVAILABLE) >= 1);
	assert_true(events_count(f, SLUICE_EVENT_DROP, b->ep_id, SLUICE_VERDICT_DROPPED,
				 SLUICE_DROP_PROXY_UNAVAILABLE) >= 1);

	/* up, but no listener in the pod: also closed */
	assert_int_equal(sluice_dp_proxy_set_up(f->dp, true), 0);
	assert_int_equal(sluice_dp_proxy_listener_delete(f->dp, b->ep_id), 0);
	assert_int_equal(connect_from(a->nsfd, NULL, 0, b->ip, 8080, 700), -ETIMEDOUT);
	assert_true(accept_within(server, 50) < 0);

	/* an L4-only rule: the real server */
	assert_int_equal(sluice_dp_proxy_listener_set(f->dp, b->ep_id, proxy), 0);
	pol_set(f, b->ep_id, l4, 1);
	c = keep_fd(f, connect_from(a->nsfd, NULL, 0, b->ip, 8080, 2000));
	assert_true(c >= 0);
	assert_true(keep_fd(f, accept_within(server, 2000)) >= 0);
	assert_true(accept_within(proxy, 100) < 0);
}

/*
 * sk_lookup does not trust tc alone: a connection that crossed tc but whose
 * CT entry is gone (LRU eviction) is judged by policy again, and one that
 * needs the proxy while none serves is dropped there too.
 */
static void test_sklookup_rejudges_without_ct(void **state)
{
	struct fx *f = *state;
	struct pod *a, *b;
	struct sluice_policy_map_entry redirect[] = {
		pe(ID_A, SLUICE_DIR_INGRESS, 8080, SLUICE_POL_F_REDIRECT),
	};
	int server, proxy, c;

	a = pod_add(f, 31, ID_A, "10.202.1", 0, 1);
	b = pod_add(f, 32, ID_B, "10.202.2", 0, 1);
	pol_set(f, b->ep_id, redirect, 1);
	server = keep_fd(f, listen_in(b->nsfd, b->ip, 8080));
	assert_int_equal(sluice_dp_proxy_listen_in_netns(b->nsfd, SLUICE_PROXY_PORT, &proxy), 0);
	keep_fd(f, proxy);
	assert_int_equal(sluice_dp_proxy_listener_set(f->dp, b->ep_id, proxy), 0);
	assert_int_equal(sluice_dp_proxy_set_up(f->dp, true), 0);

	/* tc off on B: no CT entry is made, sk_lookup alone decides */
	assert_int_equal(sluice_dp_detach_endpoint(f->dp, b->ifindex), 0);
	c = keep_fd(f, connect_from(a->nsfd, NULL, 0, b->ip, 8080, 2000));
	assert_true(c >= 0);
	assert_true(keep_fd(f, accept_within(proxy, 2000)) >= 0);
	assert_true(accept_within(server, 100) < 0);

	assert_int_equal(sluice_dp_proxy_set_up(f->dp, false), 0);
	assert_true(connect_from(a->nsfd, NULL, 0, b->ip, 8080, 700) < 0);
	assert_true(accept_within(server, 50) < 0);
}

/* egress */

static void test_egress_steering(void **state)
{
	struct fx *f = *state;
	struct sluice_dp_proxy *dpp = NULL;
	struct sluice_policy_map_entry redirect[] = {
		pe(SLUICE_ID_ANY, SLUICE_DIR_EGRESS, 80, SLUICE_POL_F_REDIRECT),
	};
	struct sluice_proxy_flow_key key;
	struct sluice_orig_dst od;
	struct child_conn cc;
	struct pod *a;
	char cg[320], ip[16], *err = NULL;
	uint8_t client[16], want[16];
	uint64_t cookie = 0;
	uint16_t lport, port;
	int proxy, s, up, host80, host81, r;

	snprintf(cg, sizeof(cg), "%s/pods/a", g_cg);
	a = pod_add(f, 41, ID_A, "10.203.1", 0, 1);
	pol_set(f, a->ep_id, redirect, 1);
	cgroups_attach(f);
	assert_int_equal(sluice_dp_proxy_listen_in_netns(a->nsfd, SLUICE_PROXY_PORT, &proxy), 0);
	keep_fd(f, proxy);
	assert_int_equal(sluice_dp_proxy_listener_set(f->dp, a->ep_id, proxy), 0);
	assert_int_equal(sluice_dp_proxy_set_up(f->dp, true), 0);
	host80 = keep_fd(f, listen_in(-1, a->gw, 80));
	host81 = keep_fd(f, listen_in(-1, a->gw, 81));
	assert_true(host80 >= 0 && host81 >= 0);
	r = sluice_dp_proxy_open(&dpp, f->root, &err);
	if (r)
		fprintf(stderr, "dp_proxy_open: %s\n", err ? err : "?");
	assert_int_equal(r, 0);

	/* a pod process connects to world:80, lands on the proxy in its netns */
	assert_int_equal(child_connect(cg, a->nsfd, WORLD_IP, 80, &lport, &cc), 0);
	s = accept_within(proxy, 2000);
	assert_true(s >= 0);
	sock_name(s, 1, ip, &port);
	assert_string_equal(ip, "127.0.0.1");
	assert_int_equal(port, lport);
	assert_int_equal(sluice_dp_proxy_sock_netns_cookie(proxy, &cookie), 0);
	assert_true(cookie == a->cookie);
	addr_v4(client, "127.0.0.1");
	assert_int_equal(sluice_dp_proxy_orig_dst(dpp, client, port, cookie, &od), 0);
	addr_v4(want, WORLD_IP);
	assert_memory_equal(od.addr, want, 16);
	assert_int_equal(od.port, 80);
	assert_int_equal(od.ep_id, a->ep_id);
	assert_int_equal(od.peer_identity, SLUICE_ID_WORLD);
	assert_int_equal(sluice_dp_proxy_orig_dst(dpp, client, port, cookie + 1, &od), -ENOENT);
	addr_v4(want, a->ip);
	assert_int_equal(sluice_dp_proxy_identity(dpp, want), ID_A);
	assert_int_equal(sluice_dp_proxy_identity(dpp, od.addr), SLUICE_ID_WORLD);
	close(s);
	child_done(&cc);

	/* no HTTP rule on port 81: untouched, tc lets it reach the host */
	assert_int_equal(child_connect(cg, a->nsfd, a->gw, 81, &lport, &cc), 0);
	assert_true(keep_fd(f, accept_within(host81, 2000)) >= 0);
	assert_true(accept_within(proxy, 50) < 0);
	child_done(&cc);

	/* the proxy's upstream leg from A's netns, registered: passes tc */
	assert_int_equal(sluice_dp_proxy_upstream_socket(dpp, a->nsfd, ip_be(a->ip), ip_be(a->gw),
							 80, &up, &key), 0);
	keep_fd(f, up);
	assert_int_equal(connect_finish(up, 2000), 0);
	assert_true(keep_fd(f, accept_within(host80, 2000)) >= 0);
	assert_int_equal(events_count(f, SLUICE_EVENT_POLICY_VERDICT, a->ep_id,
				      SLUICE_VERDICT_REDIRECTED, SLUICE_DROP_NONE), 1);
	assert_int_equal(sluice_dp_proxy_flow_del(dpp, &key), 0);
	assert_int_equal(sluice_dp_proxy_flow_del(dpp, &key), 0);

	/* the same from a socket nobody registered (skipped connect4): dropped */
	assert_int_equal(connect_from(a->nsfd, a->ip, 0, a->gw, 80, 700), -ETIMEDOUT);
	assert_true(events_count(f, SLUICE_EVENT_DROP, a->ep_id, SLUICE_VERDICT_DROPPED,
				 SLUICE_DROP_PROXY_UNAVAILABLE) >= 1);

	/* proxy down: the pod's connect() is refused right away */
	assert_int_equal(sluice_dp_proxy_set_up(f->dp, false), 0);
	assert_int_equal(child_connect(cg, a->nsfd, WORLD_IP, 80, &lport, &cc), EPERM);
	child_done(&cc);
	assert_int_equal(sluice_dp_proxy_set_up(f->dp, true), 0);
	/* the listener gone: refused as well */
	assert_int_equal(sluice_dp_proxy_listener_delete(f->dp, a->ep_id), 0);
	assert_int_equal(child_connect(cg, a->nsfd, WORLD_IP, 80, &lport, &cc), EPERM);
	child_done(&cc);

	/* a proxy that owns its listener: served, then gone with the socket */
	drop_fd(f, proxy);
	assert_int_equal(sluice_dp_proxy_listener_add(dpp, a->ep_id, a->nsfd, &proxy), 0);
	assert_int_equal(child_connect(cg, a->nsfd, WORLD_IP, 80, &lport, &cc), 0);
	s = accept_within(proxy, 2000);
	assert_true(s >= 0);
	close(s);
	child_done(&cc);
	close(proxy);
	assert_int_equal(child_connect(cg, a->nsfd, WORLD_IP, 80, &lport, &cc), EPERM);
	child_done(&cc);
	assert_int_equal(sluice_dp_proxy_listener_del(dpp, a->ep_id), 0);

	sluice_dp_proxy_close(dpp);
	assert_int_equal(sluice_dp_detach_cgroups(f->dp), 0);
	assert_int_equal(sluice_dp_detach_cgroups(f->dp), 0);
}

/* sk_msg */

struct msg {
	char tag;
	uint32_t seq;
	char fill[59];
} __attribute__((packed));

static int read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r;

		if (!wait_fd(fd, POLLIN, 2000))
			return -1;
		r = read(fd, (char *)buf + got, n - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* n request/response rounds of 64 bytes between c and s, checked */
static void ping_pong(int c, int s, char tag, int n)
{
	struct msg m, r;
	int i;

	for (i = 0; i < n; i++) {
		memset(&m, tag, sizeof(m));
		m.seq = (uint32_t)i;
		assert_int_equal(write(c, &m, sizeof(m)), sizeof(m));
		assert_int_equal(read_full(s, &r, sizeof(r)), 0);
		assert_memory_equal(&m, &r, sizeof(m));
		r.tag = (char)(tag + 1);
		assert_int_equal(write(s, &r, sizeof(r)), sizeof(r));
		assert_int_equal(read_full(c, &m, sizeof(m)), 0);
		assert_int_equal(m.tag, tag + 1);
		assert_int_equal(m.seq, (uint32_t)i);
	}
}

static int socks_has(struct fx *f, const char *lip, uint16_t lport, const char *rip,
		     uint16_t rport, uint64_t cookie)
{
	struct sluice_sock_key k = { .local_port = lport, .remote_port = rport,
				     .netns_cookie = cookie };
	uint64_t v;

	addr_v4(k.local_addr, lip);
	addr_v4(k.remote_addr, rip);
	return bpf_map_lookup_elem(sluice_dp_map_fd(f->dp, SLUICE_MAP_SOCKS), &k, &v) == 0;
}

/*
 * Three pods, the very same tuple 127.0.0.1:40000 -> 127.0.0.1:7000. In the
 * third, only the server side is registered (its client runs outside the
 * instance's cgroup): with a key without the netns cookie it would evict a
 * first pod's server socket and receive that pod's bytes.
 */
static void test_skmsg_loopback_isolation(void **state)
{
	struct fx *f = *state;
	struct child_conn cc;
	struct pod *p[3];
	int l[3], c[3], s[3], i, j;
	uint32_t ids[4], cnt = 4;
	uint16_t lport;

	cgroups_attach(f);
	assert_int_equal(bpf_prog_query(sluice_dp_map_fd(f->dp, SLUICE_MAP_SOCKS),
					BPF_SK_MSG_VERDICT, 0, NULL, ids, &cnt), 0);
	assert_int_equal(cnt, 1);
	for (i = 0; i < 3; i++) {
		p[i] = pod_add(f, 51 + i, ID_A, "10.204.1", 0, 0);
		l[i] = keep_fd(f, listen_in(p[i]->nsfd, "127.0.0.1", 7000));
		if (i == 2) {
			assert_int_equal(child_connect_from(g_cg_orig, p[i]->nsfd, "127.0.0.1", 40000,
							    "127.0.0.1", 7000, &lport, &cc), 0);
			c[i] = -1;
		} else {
			c[i] = keep_fd(f, connect_from(p[i]->nsfd, "127.0.0.1", 40000, "127.0.0.1",
						       7000, 2000));
			assert_true(c[i] >= 0);
		}
		s[i] = keep_fd(f, accept_within(l[i], 2000));
		assert_true(s[i] >= 0);
		fcntl(s[i], F_SETFL, fcntl(s[i], F_GETFL) & ~O_NONBLOCK);
	}
	for (i = 0; i < 2; i++) {
		assert_true(socks_has(f, "127.0.0.1", 40000, "127.0.0.1", 7000, p[i]->cookie));
		assert_true(socks_has(f, "127.0.0.1", 7000, "127.0.0.1", 40000, p[i]->cookie));
	}
	assert_false(socks_has(f, "127.0.0.1", 40000, "127.0.0.1", 7000, p[2]->cookie));
	assert_true(socks_has(f, "127.0.0.1", 7000, "127.0.0.1", 40000, p[2]->cookie));
	/* interleaved: each server only ever sees its own client's bytes */
	for (j = 0; j < 20; j++)
		for (i = 0; i < 2; i++)
			ping_pong(c[i], s[i], i ? 'D' : 'B', 250);
	child_done(&cc);
}

static void test_skmsg_pod_to_pod(void **state)
{
	struct fx *f = *state;
	struct sluice_policy_map_entry allow[] = { pe(ID_A, SLUICE_DIR_INGRESS, 9000, 0) };
	struct sluice_ct_key k = { .protocol = IPPROTO_TCP, .direction = SLUICE_DIR_INGRESS };
	struct sluice_ct_entry e;
	struct pod *a, *b;
	int l, c, s;
	char ip[16];
	uint16_t cport;

	cgroups_attach(f);
	a = pod_add(f, 61, ID_A, "10.205.1", 0, 1);
	b = pod_add(f, 62, ID_B, "10.205.2", SLUICE_EP_F_ENFORCE_INGRESS, 1);
	pol_set(f, b->ep_id, allow, 1);
	l = keep_fd(f, listen_in(b->nsfd, b->ip, 9000));
	c = keep_fd(f, connect_from(a->nsfd, NULL, 0, b->ip, 9000, 2000));
	assert_true(c >= 0);
	s = keep_fd(f, accept_within(l, 2000));
	assert_true(s >= 0);
	fcntl(s, F_SETFL, fcntl(s, F_GETFL) & ~O_NONBLOCK);
	sock_name(c, 0, ip, &cport);
	assert_true(socks_has(f, a->ip, cport, b->ip, 9000, 0));
	assert_true(socks_has(f, b->ip, 9000, a->ip, cport, 0));

	ping_pong(c, s, 'A', 2000);

	/* 4000 messages crossed; B's veth saw the handshake and little else */
	addr_v4(k.saddr, a->ip);
	addr_v4(k.daddr, b->ip);
	k.sport = cport;
	k.dport = 9000;
	k.ep_id = b->ep_id;
	assert_int_equal(bpf_map_lookup_elem(sluice_dp_map_fd(f->dp, SLUICE_MAP_CT), &k, &e), 0);
	fprintf(stderr, "tc saw %llu + %llu packets for 4000 messages\n",
		(unsigned long long)e.packets_fwd, (unsigned long long)e.packets_rev);
	assert_true(e.packets_fwd + e.packets_rev < 40);
}

/*
 * Response splice (include/sluice/abi.h): two connections between pods A
 * and B, as the proxy would hold them: C -> P1 (the client's, P1 the
 * proxy's accepted socket) and P2 -> N (the proxy's upstream P2, the server
 * N). With splice[P2] armed for C, N's response goes into C's receive
 * queue when it is simple, to P2 otherwise.
 */
#define SPLICE_SLOT 7
#define SPLICE_GEN 3

struct splice_fx {
	struct pod *a, *b;
	int c, p1, p2, n;
	struct sluice_sock_key ckey, p2key;
	int splc, spls, socks;
};

/* a socket's own key, as bpf/lib/socks.h sock_key_fill() makes it */
static struct sluice_sock_key sock_key_of(int fd)
{
	struct sluice_sock_key k;
	char ip[16];
	uint16_t port;

	memset(&k, 0, sizeof(k));
	sock_name(fd, 0, ip, &port);
	addr_v4(k.local_addr, ip);
	k.local_port = port;
	assert_int_not_equal(strncmp(ip, "127.", 4), 0); /* cookie 0: not loopback */
	sock_name(fd, 1, ip, &port);
	addr_v4(k.remote_addr, ip);
	k.remote_port = port;
	return k;
}

static void splice_setup(struct fx *f, struct splice_fx *x, int net)
{
	char na[16], nb[16];
	uint64_t v;
	int l1, l2;

	memset(x, 0, sizeof(*x));
	snprintf(na, sizeof(na), "10.%d.1", net);
	snprintf(nb, sizeof(nb), "10.%d.2", net);
	cgroups_attach(f);
	x->a = pod_add(f, (uint32_t)net * 2, ID_A, na, 0, 1);
	x->b = pod_add(f, (uint32_t)net * 2 + 1, ID_B, nb, 0, 1);
	l1 = keep_fd(f, listen_in(x->b->nsfd, x->b->ip, 9000));
	l2 = keep_fd(f, listen_in(x->b->nsfd, x->b->ip, 9001));
	assert_true(l1 >= 0 && l2 >= 0);
	x->c = keep_fd(f, connect_from(x->a->nsfd, NULL, 0, x->b->ip, 9000, 2000));
	assert_true(x->c >= 0);
	x->p1 = keep_fd(f, accept_within(l1, 2000));
	assert_true(x->p1 >= 0);
	x->p2 = keep_fd(f, connect_from(x->a->nsfd, NULL, 0, x->b->ip, 9001, 2000));
	assert_true(x->p2 >= 0);
	x->n = keep_fd(f, accept_within(l2, 2000));
	assert_true(x->n >= 0);
	fcntl(x->p1, F_SETFL, fcntl(x->p1, F_GETFL) & ~O_NONBLOCK);
	fcntl(x->n, F_SETFL, fcntl(x->n, F_GETFL) & ~O_NONBLOCK);
	x->ckey = sock_key_of(x->c);
	x->p2key = sock_key_of(x->p2);
	x->splc = sluice_dp_map_fd(f->dp, SLUICE_MAP_SPLICE);
	x->spls = sluice_dp_map_fd(f->dp, SLUICE_MAP_SPLICE_SLOTS);
	x->socks = sluice_dp_map_fd(f->dp, SLUICE_MAP_SOCKS);
	assert_true(x->splc >= 0 && x->spls >= 0 && x->socks >= 0);
	/* all four sockets are in socks */
	assert_int_equal(bpf_map_lookup_elem(x->socks, &x->ckey, &v), 0);
	assert_int_equal(bpf_map_lookup_elem(x->socks, &x->p2key, &v), 0);
	{
		struct sluice_sock_key kp1 = sock_key_of(x->p1), kn = sock_key_of(x->n);

		assert_int_equal(bpf_map_lookup_elem(x->socks, &kp1, &v), 0);
		assert_int_equal(bpf_map_lookup_elem(x->socks, &kn, &v), 0);
	}
}

static void splice_ref_set(struct splice_fx *x, uint32_t slot, uint32_t gen)
{
	struct sluice_splice_ref r = { .slot = slot, .gen = gen };

	assert_int_equal(bpf_map_update_elem(x->splc, &x->p2key, &r, BPF_ANY), 0);
}

static struct sluice_splice_slot splice_slot_get(struct splice_fx *x, uint32_t slot)
{
	struct sluice_splice_slot s;

	assert_int_equal(bpf_map_lookup_elem(x->spls, &slot, &s), 0);
	return s;
}

/* (re)arms a slot for C the way the proxy does: client, gen, state; the
 * counters (spliced) stay */
static void splice_slot_set(struct splice_fx *x, uint32_t slot, uint32_t gen,
			    const struct sluice_sock_key *client, uint64_t state)
{
	struct sluice_splice_slot s = splice_slot_get(x, slot);

	s.gen = gen;
	s.client = *client;
	s.state = state;
	s.status = 0;
	s.body_left = 0;
	s.bytes = 0;
	assert_int_equal(bpf_map_update_elem(x->spls, &slot, &s, BPF_ANY), 0);
}

static void splice_arm(struct splice_fx *x)
{
	splice_slot_set(x, SPLICE_SLOT, SPLICE_GEN, &x->ckey, SLUICE_SPLICE_ARMED);
}

static void send_str(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* Everything that arrives on fd: the first byte within first_ms, then until
 * quiet for 100 ms (or EOF). */
static size_t drain(int fd, char *buf, size_t cap, int first_ms)
{
	size_t got = 0;
	int ms = first_ms;

	while (got < cap && wait_fd(fd, POLLIN, ms)) {
		ssize_t r = recv(fd, buf + got, cap - got, MSG_DONTWAIT);

		if (r <= 0)
			break;
		got += (size_t)r;
		ms = 100;
	}
	return got;
}

static void dump_bytes(const char *what, const char *b, size_t n)
{
	size_t i;

	fprintf(stderr, "%s (%zu bytes): \"", what, n);
	for (i = 0; i < n; i++) {
		if (b[i] == '\r')
			fputs("\\r", stderr);
		else if (b[i] == '\n')
			fputs("\\n", stderr);
		else if (b[i] >= 0x20 && b[i] < 0x7f)
			fputc(b[i], stderr);
		else
			fprintf(stderr, "\\x%02x", (unsigned char)b[i]);
	}
	fputs("\"\n", stderr);
}

/* fd gets exactly want (NULL or "": nothing within 200 ms) */
static void expect_bytes(int fd, const char *name, const char *want)
{
	char buf[2048];
	size_t wl = want ? strlen(want) : 0;
	size_t got = drain(fd, buf, sizeof(buf), wl ? 2000 : 200);

	if (got != wl || memcmp(buf, want ? want : "", wl) != 0) {
		char what[64];

		snprintf(what, sizeof(what), "%s got", name);
		dump_bytes(what, buf, got);
		snprintf(what, sizeof(what), "%s wanted", name);
		dump_bytes(what, want ? want : "", wl);
	}
	assert_int_equal(got, wl);
	assert_memory_equal(buf, want ? want : "", wl);
}

static void slot_dump(const char *why, const struct sluice_splice_slot *s)
{
	fprintf(stderr, "%s: slot state %llu gen %u status %u body_left %llu bytes %llu "
		"spliced %llu first_ns %llu last_ns %llu\n", why, (unsigned long long)s->state,
		s->gen, s->status, (unsigned long long)s->body_left, (unsigned long long)s->bytes,
		(unsigned long long)s->spliced, (unsigned long long)s->first_ns,
		(unsigned long long)s->last_ns);
}

static void expect_state(struct splice_fx *x, uint32_t slot, uint64_t state)
{
	struct sluice_splice_slot s = splice_slot_get(x, slot);

	if (s.state != state)
		slot_dump("unexpected state", &s);
	assert_int_equal(s.state, state);
}

/* 1: a simple response goes to C with the keep-alive line dropped */
static void test_splice_simple(void **state)
{
	struct fx *f = *state;
	struct splice_fx x;
	struct sluice_splice_slot s, *m;
	const char *want = "HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 5\r\n\r\nhello";
	size_t len = (size_t)SLUICE_SPLICE_SLOTS * sizeof(s);
	uint32_t slot = SPLICE_SLOT;

	splice_setup(f, &x, 210);
	splice_ref_set(&x, SPLICE_SLOT, SPLICE_GEN);
	memset(&s, 0, sizeof(s));
	s.gen = SPLICE_GEN;
	s.client = x.ckey;
	s.state = SLUICE_SPLICE_ARMED;
	assert_int_equal(bpf_map_update_elem(x.spls, &slot, &s, BPF_ANY), 0);

	send_str(x.n, "HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 5\r\n"
		 "Connection: keep-alive\r\n\r\nhello");
	expect_bytes(x.c, "C", want);
	expect_bytes(x.p2, "P2", NULL);
	expect_bytes(x.p1, "P1", NULL);

	/* the proxy reads the slot through its mmap */
	m = mmap(NULL, len, PROT_READ, MAP_SHARED, x.spls, 0);
	assert_true(m != MAP_FAILED);
	s = m[SPLICE_SLOT];
	munmap(m, len);
	slot_dump("after simple", &s);
	assert_int_equal(s.state, SLUICE_SPLICE_DONE);
	assert_int_equal(s.gen, SPLICE_GEN);
	assert_int_equal(s.status, 200);
	assert_int_equal(s.bytes, strlen(want));
	assert_int_equal(s.body_left, 0);
	assert_int_equal(s.spliced, 1);
	assert_true(s.first_ns != 0);
	assert_true(s.last_ns >= s.first_ns);

	/* DONE: the connection is back to normal, both ways */
	send_str(x.n, "late");
	expect_bytes(x.p2, "P2", "late");
	expect_bytes(x.c, "C", NULL);
	send_str(x.p2, "GET / HTTP/1.1\r\n\r\n");
	expect_bytes(x.n, "N", "GET / HTTP/1.1\r\n\r\n");
	expect_state(&x, SPLICE_SLOT, SLUICE_SPLICE_DONE);
}

/* 2: a body over several sends; bytes after the body go to P2 */
static void test_splice_body(void **state)
{
	struct fx *f = *state;
	struct splice_fx x;
	struct sluice_splice_slot s;
	const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nKeep-Alive: timeout=5\r\n"
			   "Connection: keep-alive\r\n\r\n";
	const char *head_out = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
	char buf[256];

	splice_setup(f, &x, 211);
	splice_ref_set(&x, SPLICE_SLOT, SPLICE_GEN);
	splice_arm(&x);

	snprintf(buf, sizeof(buf), "%s012", head);
	send_str(x.n, buf);
	snprintf(buf, sizeof(buf), "%s012", head_out);
	expect_bytes(x.c, "C", buf);
	s = splice_slot_get(&x, SPLICE_SLOT);
	slot_dump("after head", &s);
	assert_int_equal(s.state, SLUICE_SPLICE_BODY);
	assert_int_equal(s.body_left, 7);
	assert_int_equal(s.bytes, strlen(buf));
	assert_int_equal(s.spliced, 0);
	assert_int_equal(s.status, 200);

	send_str(x.n, "3456789");
	expect_bytes(x.c, "C", "3456789");
	expect_bytes(x.p2, "P2", NULL);
	s = splice_slot_get(&x, SPLICE_SLOT);
	slot_dump("after body", &s);
	assert_int_equal(s.state, SLUICE_SPLICE_DONE);
	assert_int_equal(s.body_left, 0);
	assert_int_equal(s.bytes, strlen(head_out) + 10);
	assert_int_equal(s.spliced, 1);
	assert_true(s.last_ns >= s.first_ns);

	send_str(x.n, "EXTRA");
	expect_bytes(x.p2, "P2", "EXTRA");
	expect_bytes(x.c, "C", NULL);
	expect_state(&x, SPLICE_SLOT, SLUICE_SPLICE_DONE);

	/* the last body bytes and more in one send: split at the body's end */
	splice_arm(&x);
	snprintf(buf, sizeof(buf), "%sabcdef", head);
	send_str(x.n, buf);
	snprintf(buf, sizeof(buf), "%sabcdef", head_out);
	expect_bytes(x.c, "C", buf);
	expect_state(&x, SPLICE_SLOT, SLUICE_SPLICE_BODY);
	send_str(x.n, "ghijEXTRA2");
	expect_bytes(x.c, "C", "ghij");
	expect_bytes(x.p2, "P2", "EXTRA2");
	s = splice_slot_get(&x, SPLICE_SLOT);
	slot_dump("after split", &s);
	assert_int_equal(s.state, SLUICE_SPLICE_DONE);
	assert_int_equal(s.body_left, 0);
	assert_int_equal(s.bytes, strlen(head_out) + 10);
	assert_int_equal(s.spliced, 2);
}

/* 3: anything not simple goes to P2 unchanged, state PASSED */
static void test_splice_not_simple(void **state)
{
	static const char *const cases[] = {
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive, x\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n"
		"Connection: keep-alive\r\n\r\nhello",
		"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nServer: x\r\n\r\n",                   /* no Content-Length */
		"HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nUpgrade: h2c\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nProxy-Connection: keep-alive\r\n\r\nhello",
		"HTTP/1.1 101 Switching Protocols\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA", /* more than the body */
		"HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello",     /* bad name */
	};
	struct fx *f = *state;
	struct splice_fx x;
	struct sluice_splice_slot s;
	char big[1024];
	size_t i;

	splice_setup(f, &x, 212);
	splice_ref_set(&x, SPLICE_SLOT, SPLICE_GEN);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]) + 1; i++) {
		const char *r = cases[i < sizeof(cases) / sizeof(cases[0]) ? i : 0];

		if (i == sizeof(cases) / sizeof(cases[0])) {
			/* a head beyond SLUICE_SPLICE_HEAD_MAX */
			snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nX-Pad: %0500d\r\n"
				 "Content-Length: 5\r\n\r\nhello", 0);
			r = big;
		}
		fprintf(stderr, "case %zu\n", i);
		splice_arm(&x);
		send_str(x.n, r);
		expect_bytes(x.p2, "P2", r);
		expect_bytes(x.c, "C", NULL);
		s = splice_slot_get(&x, SPLICE_SLOT);
		if (s.state != SLUICE_SPLICE_PASSED)
			slot_dump("not passed", &s);
		assert_int_equal(s.state, SLUICE_SPLICE_PASSED);
		assert_int_equal(s.spliced, 0);
		assert_int_equal(s.bytes, 0);
	}
}

/* 4: a slot not armed, of another generation, or no entry: P2, slot as it was */
static void test_splice_not_armed(void **state)
{
	const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
	struct fx *f = *state;
	struct splice_fx x;
	struct sluice_splice_slot s;

	splice_setup(f, &x, 213);
	splice_ref_set(&x, SPLICE_SLOT, SPLICE_GEN);

	splice_slot_set(&x, SPLICE_SLOT, SPLICE_GEN, &x.ckey, SLUICE_SPLICE_IDLE);
	send_str(x.n, r);
	expect_bytes(x.p2, "P2", r);
	expect_bytes(x.c, "C", NULL);
	expect_state(&x, SPLICE_SLOT, SLUICE_SPLICE_IDLE);

	/* the slot belongs to another generation now */
	splice_slot_set(&x, SPLICE_SLOT, SPLICE_GEN + 1, &x.ckey, SLUICE_SPLICE_ARMED);
	send_str(x.n, r);
	expect_bytes(x.p2, "P2", r);
	expect_bytes(x.c, "C", NULL);
	expect_state(&x, SPLICE_SLOT, SLUICE_SPLICE_ARMED);

	/* armed, but P2 has no entry */
	splice_arm(&x);
	assert_int_equal(bpf_map_delete_elem(x.splc, &x.p2key), 0);
	send_str(x.n, r);
	expect_bytes(x.p2, "P2", r);
	expect_bytes(x.c, "C", NULL);
	expect_state(&x, SPLICE_SLOT, SLUICE_SPLICE_ARMED);

	/* an entry naming a slot beyond the array */
	splice_ref_set(&x, SLUICE_SPLICE_SLOTS, SPLICE_GEN);
	send_str(x.n, r);
	expect_bytes(x.p2, "P2", r);
	expect_bytes(x.c, "C", NULL);
	s = splice_slot_get(&x, SPLICE_SLOT);
	assert_int_equal(s.state, SLUICE_SPLICE_ARMED);
	assert_int_equal(s.spliced, 0);
}

/* 5: field names and the keep-alive token in any case */
static void test_splice_mixed_case(void **state)
{
	struct fx *f = *state;
	struct splice_fx x;
	struct sluice_splice_slot s;
	const char *want = "HTTP/1.1 201 Created\r\nCONTENT-LENGTH: 3\r\nX-A: b\r\n\r\nabc";

	splice_setup(f, &x, 214);
	splice_ref_set(&x, SPLICE_SLOT, SPLICE_GEN);
	splice_arm(&x);
	send_str(x.n, "HTTP/1.1 201 Created\r\nCONTENT-LENGTH: 3\r\nconnection: Keep-Alive\r\n"
		 "X-A: b\r\nKEEP-ALIVE: timeout=5, max=100\r\n\r\nabc");
	expect_bytes(x.c, "C", want);
	expect_bytes(x.p2, "P2", NULL);
	s = splice_slot_get(&x, SPLICE_SLOT);
	slot_dump("after mixed case", &s);
	assert_int_equal(s.state, SLUICE_SPLICE_DONE);
	assert_int_equal(s.status, 201);
	assert_int_equal(s.bytes, strlen(want));
	assert_int_equal(s.spliced, 1);
}

/* 6: the client socket is not in socks: PASSED at the head, BROKEN mid-body */
static void test_splice_client_gone(void **state)
{
	const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
	struct fx *f = *state;
	struct splice_fx x;
	struct sluice_sock_key ghost;
	uint64_t v;
	int i;

	splice_setup(f, &x, 215);
	splice_ref_set(&x, SPLICE_SLOT, SPLICE_GEN);
	ghost = x.ckey;
	ghost.local_port ^= 1;
	assert_int_not_equal(bpf_map_lookup_elem(x.socks, &ghost, &v), 0);
	splice_slot_set(&x, SPLICE_SLOT, SPLICE_GEN, &ghost, SLUICE_SPLICE_ARMED);
	send_str(x.n, r);
	expect_bytes(x.p2, "P2", r);
	expect_bytes(x.c, "C", NULL);
	expect_state(&x, SPLICE_SLOT, SLUICE_SPLICE_PASSED);

	/* mid-body: C closes after the head */
	splice_arm(&x);
	send_str(x.n, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n012");
	expect_bytes(x.c, "C", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n012");
	expect_state(&x, SPLICE_SLOT, SLUICE_SPLICE_BODY);
	drop_fd(f, x.c);
	for (i = 0; i < 50 && bpf_map_lookup_elem(x.socks, &x.ckey, &v) == 0; i++)
		usleep(10 * 1000);
	assert_int_not_equal(bpf_map_lookup_elem(x.socks, &x.ckey, &v), 0);
	send_str(x.n, "3456789");
	expect_bytes(x.p2, "P2", "3456789");
	expect_state(&x, SPLICE_SLOT, SLUICE_SPLICE_BROKEN);
}

/* restart */

static uint32_t link_prog_id(const char *path)
{
	struct bpf_link_info info = {};
	uint32_t len = sizeof(info);
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
		info.prog_id = 0;
	close(fd);
	return info.prog_id;
}

static uint32_t prog_id(int fd)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);

	assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	return info.id;
}

static void test_links_adopted_on_reopen(void **state)
{
	struct fx *f = *state;
	char path[3][300], *err = NULL;
	uint32_t before[3], ids[4], cnt = 4;
	struct pod *a;
	int i;

	a = pod_add(f, 71, ID_A, "10.206.1", 0, 1);
	cgroups_attach(f);
	cgroups_attach(f); /* idempotent */
	snprintf(path[0], sizeof(path[0]), "%s/links/connect4", f->root);
	snprintf(path[1], sizeof(path[1]), "%s/links/sock_ops", f->root);
	snprintf(path[2], sizeof(path[2]), "%s/links/sk_lookup_%u", f->root, a->ep_id);
	for (i = 0; i < 3; i++) {
		before[i] = link_prog_id(path[i]);
		assert_true(before[i] != 0);
	}
	assert_int_equal(before[0], prog_id(sluice_dp_program_fd(f->dp, "sock_connect4")));

	/* a new agent: same links, new programs, no detach in between */
	sluice_dp_close(f->dp);
	assert_int_equal(sluice_dp_open(&f->dp, f->root, NULL, NULL, &err), 0);
	assert_int_equal(link_prog_id(path[0]),
			 prog_id(sluice_dp_program_fd(f->dp, "sock_connect4")));
	assert_int_equal(link_prog_id(path[1]),
			 prog_id(sluice_dp_program_fd(f->dp, "sock_ops_established")));
	assert_int_equal(link_prog_id(path[2]), prog_id(sluice_dp_program_fd(f->dp, "sk_lookup_proxy")));
	for (i = 0; i < 3; i++)
		assert_int_not_equal(link_prog_id(path[i]), before[i]);
	assert_int_equal(bpf_prog_query(sluice_dp_map_fd(f->dp, SLUICE_MAP_SOCKS),
					BPF_SK_MSG_VERDICT, 0, NULL, ids, &cnt), 0);
	assert_int_equal(cnt, 1);
	assert_int_equal(ids[0], prog_id(sluice_dp_program_fd(f->dp, "sk_msg_redirect")));

	/* attaching again after the restart keeps the same link */
	assert_int_equal(sluice_dp_attach_netns(f->dp, a->ep_id, a->netns_path, &err), 0);
	assert_int_equal(sluice_dp_detach_netns(f->dp, a->ep_id), 0);
	assert_int_equal(link_prog_id(path[2]), 0);
	assert_int_equal(sluice_dp_detach_netns(f->dp, a->ep_id), 0);

	/* the root cgroup is refused for connect4 */
	assert_int_equal(sluice_dp_attach_cgroups(f->dp, CGROUP2_ROOT, g_cg, &err), -EINVAL);
	assert_non_null(err);
	free(err);
}

/* process setup */

static void cgroup_rmdir(const char *dir)
{
	int i;

	for (i = 0; i < 50; i++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return;
		usleep(20 * 1000);
	}
	perror(dir);
}

static void cgroups_remove(const char *base)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/pods/a", base);
	cgroup_rmdir(path);
	snprintf(path, sizeof(path), "%s/pods", base);
	cgroup_rmdir(path);
	snprintf(path, sizeof(path), "%s/system", base);
	cgroup_rmdir(path);
	cgroup_rmdir(base);
}

static void base_remove(const char *base)
{
	char path[512];
	struct dirent *de;
	DIR *dir = opendir(base);

	if (dir) {
		while ((de = readdir(dir)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", base, de->d_name);
			sluice_dp_unpin_all(path);
		}
		closedir(dir);
	}
	rmdir(base);
}

static void env_cleanup(void)
{
	if (g_cg_orig[0])
		join_cgroup(g_cg_orig);
	if (g_cg[0])
		cgroups_remove(g_cg);
	if (g_base[0])
		base_remove(g_base);
}

static void on_watchdog(int sig)
{
	(void)sig;
	fprintf(stderr, "watchdog: a test hung, cleaning up\n");
	if (g_fx)
		fx_cleanup(g_fx);
	env_cleanup();
	_exit(1);
}

/* Pins and cgroups of runs that were killed (SIGKILL skips cleanup). */
static void env_remove_stale(void)
{
	char path[600];
	struct dirent *de;
	DIR *dir;
	int pid;

	dir = opendir("/sys/fs/bpf");
	while (dir && (de = readdir(dir)) != NULL) {
		if (sscanf(de->d_name, "slbt-proxy-%d", &pid) != 1 || kill(pid, 0) == 0 ||
		    errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "/sys/fs/bpf/%s", de->d_name);
		base_remove(path);
	}
	if (dir)
		closedir(dir);
	dir = opendir(CGROUP2_ROOT);
	while (dir && (de = readdir(dir)) != NULL) {
		if (sscanf(de->d_name, "slbt-%d", &pid) != 1 || kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), CGROUP2_ROOT "/%s", de->d_name);
		cgroups_remove(path);
	}
	if (dir)
		closedir(dir);
}

static int env_setup(void)
{
	char path[600], line[512];
	struct statfs fs;
	FILE *fp;

	if (statfs("/sys/fs/bpf", &fs) != 0 || (unsigned long)fs.f_type != BPF_FS_MAGIC) {
		mkdir("/sys/fs/bpf", 0700);
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL) != 0) {
			perror("mount bpffs");
			return -1;
		}
	}
	if (statfs(CGROUP2_ROOT, &fs) != 0 || (unsigned long)fs.f_type != CGROUP2_SUPER_MAGIC) {
		fprintf(stderr, "no cgroup v2 at %s\n", CGROUP2_ROOT);
		return -1;
	}
	env_remove_stale();

	fp = fopen("/proc/self/cgroup", "r");
	while (fp && fgets(line, sizeof(line), fp)) {
		if (strncmp(line, "0::", 3) == 0) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(g_cg_orig, sizeof(g_cg_orig), CGROUP2_ROOT "%s", line + 3);
		}
	}
	if (fp)
		fclose(fp);

	snprintf(g_cg, sizeof(g_cg), CGROUP2_ROOT "/slbt-%d", (int)getpid());
	snprintf(path, sizeof(path), "%s/pods/a", g_cg);
	if (mkdir(g_cg, 0755) || snprintf(path, sizeof(path), "%s/pods", g_cg) < 0 ||
	    mkdir(path, 0755) || snprintf(path, sizeof(path), "%s/pods/a", g_cg) < 0 ||
	    mkdir(path, 0755) || snprintf(path, sizeof(path), "%s/system", g_cg) < 0 ||
	    mkdir(path, 0755) || join_cgroup(path)) {
		perror("test cgroups");
		return -1;
	}

	if (unshare(CLONE_NEWNET) != 0) {
		perror("unshare(CLONE_NEWNET)");
		return -1;
	}
	g_host_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (g_host_ns < 0 || sys("ip link set lo up") ||
	    write_file("/proc/sys/net/ipv4/ip_forward", "1"))
		return -1;
	snprintf(g_base, sizeof(g_base), "/sys/fs/bpf/slbt-proxy-%d", (int)getpid());
	if (mkdir(g_base, 0700) != 0) {
		perror(g_base);
		return -1;
	}
	signal(SIGALRM, on_watchdog);
	signal(SIGTERM, on_watchdog);
	alarm(WATCHDOG_S);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest ingress[] = {
		cmocka_unit_test_setup_teardown(test_ingress_steering, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_sklookup_rejudges_without_ct, fx_setup,
						fx_teardown),
	};
	const struct CMUnitTest egress[] = {
		cmocka_unit_test_setup_teardown(test_egress_steering, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_links_adopted_on_reopen, fx_setup, fx_teardown),
	};
	const struct CMUnitTest skmsg[] = {
		cmocka_unit_test_setup_teardown(test_skmsg_loopback_isolation, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_skmsg_pod_to_pod, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_splice_simple, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_splice_body, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_splice_not_simple, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_splice_not_armed, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_splice_mixed_case, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_splice_client_gone, fx_setup, fx_teardown),
	};
	const char *group = argc > 1 ? argv[1] : "all";
	int failed = 0, all = strcmp(group, "all") == 0;

	if (geteuid() != 0) {
		fprintf(stderr, "needs root (BPF, bpffs, netns, cgroups): skipped\n");
		return 77;
	}
	if (env_setup() != 0) {
		env_cleanup();
		return 1;
	}
	if (all || strcmp(group, "ingress") == 0)
		failed += cmocka_run_group_tests_name("bpf_proxy_ingress", ingress, NULL, NULL);
	if (all || strcmp(group, "egress") == 0)
		failed += cmocka_run_group_tests_name("bpf_proxy_egress", egress, NULL, NULL);
	if (all || strcmp(group, "skmsg") == 0)
		failed += cmocka_run_group_tests_name("bpf_skmsg", skmsg, NULL, NULL);
	env_cleanup();
	return failed ? 1 : 0;
}
