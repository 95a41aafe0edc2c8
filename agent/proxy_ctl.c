/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy_ctl.c - see proxy_ctl.h and docs/proxy-control.md.
 *
 * Lifetimes, the part that matters:
 * - The in-pod listening sockets are made by the agent (setns into the pod,
 *   bind 127.0.0.1:15001) and put in the proxy_listeners sockhash, which is
 *   where sk_lookup and connect4 steer L7 flows. The agent keeps one fd of
 *   each and the proxy another, so a proxy restart never closes a listener:
 *   connections arriving meanwhile wait in its accept queue and are served
 *   by the next proxy instead of being refused.
 * - The proxy runs in its own session and outlives the agent; a restarted
 *   agent reconnects to it and takes copies of the listeners back.
 * - When the control connection breaks because the proxy died, the agent
 *   clears proxy_state.up at once: new L7 flows are then dropped in the
 *   kernel (fail closed) until a new proxy is ready.
 * - Every proxy the agent stops serving through is "retired": it is told to
 *   drain (or killed), its control connection is kept open and read until it
 *   exits (closing it with its datagrams unread resets the connection, and a
 *   proxy once lost the "drain" that way and served old rules for ever), it
 *   is killed if it outlives the drain limit, and reaped if it is our child.
 *   A starting agent drains every proxy of its state directory but the one
 *   it adopts, so no proxy serves outside the agent's knowledge.
 * - A proxy left without an agent fails closed after the orphan grace
 *   period (--proxy-orphan-grace): an agent restart is no outage, an agent
 *   gone for good does not leave stale rules enforced.
 * - External proxy (--proxy-control PATH, the chart's sluice-proxy
 *   DaemonSet): the proxy lives in another container, so that it outlives
 *   the agent's. The agent never starts, signals or reaps it (its pid is in
 *   another PID namespace: a kill() here could hit an unrelated process); it
 *   connects to PATH, adopts it exactly as above (listeners back, full
 *   configuration), and when the connection breaks it fails closed at once
 *   and reconnects to whatever proxy listens on PATH next. The proxy's own
 *   orphan grace and its pod's restart policy do the rest.
 */
#include <dirent.h>
#include <errno.h>
#include <time.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/http_rule_json.h"
#include "../common/util.h"
#include "access_json.h"
#include "flows.h"
#include "metrics.h"
#include "proxy_ctl.h"
#include "secrets.h"
#include "sluice/access_record.h"

#define MSG_MAX 65536
/* the proxy's own drain limit (proxy/main.c), and how long past it we wait */
#define PROXY_DRAIN_MS 10000u
#define PROXY_KILL_MARGIN_MS 3000u

/* A proxy we no longer serve through, followed until it has exited. */
struct retired {
	pid_t pid;
	int pidfd;        /* -1 if pidfd_open failed (then kill(pid, 0)) */
	int fd;           /* its control connection, read until it ends; -1 */
	bool child;       /* ours to reap */
	bool drain_sent;
	bool killed;
	uint64_t deadline_ns; /* killed after this; 0: not draining yet */
};

struct proxy_ctl {
	struct agent *agent;
	int fd;                /* control connection, -1 when none */
	uv_poll_t poll;
	bool poll_active;
	uv_timer_t timer;
	pid_t pid;             /* the proxy we serve through, 0 if unknown */
	unsigned generation;
	char control[4200];
	bool ready;
	char *last_rules;      /* last table sent */
	json_t *stats;
	uint64_t spawned_ns;
	unsigned failures;     /* consecutive, for the backoff; reset when ready */
	unsigned restarts;     /* every replacement since the agent started */
	unsigned rules_pending; /* tables sent on fd not answered yet */
	bool child;            /* pid is our child (we spawned it) */
	bool external;         /* --proxy-control: not ours to start or signal */
	bool waiting_logged;   /* said once that we wait for the external proxy */
	/* replaced proxies: drained once the new one is ready, then followed
	 * until they exit (killed past the drain limit, reaped) */
	struct retired *retired;
	size_t nretired;
	uv_timer_t retire_timer;
	/* pods whose in-pod listener could not be made (e.g. 127.0.0.1:15001
	 * still held by a proxy that is draining) are retried every second:
	 * until then their L7 ports fail closed */
	uv_timer_t listen_timer;
};

static char *state_file(struct agent *a, const char *name)
{
	return sl_strdupf("%s/%s", a->cfg.state_dir, name);
}

static void save_proxy_state(struct proxy_ctl *pc)
{
	struct agent *a = pc->agent;
	char *path = state_file(a, "proxy.json");
	json_t *o = json_pack("{s:i,s:s,s:i}", "pid", (int)pc->pid, "control", pc->control,
			      "generation", (int)pc->generation);

	json_dump_file(o, path, JSON_COMPACT);
	json_decref(o);
	free(path);
}

static int send_msg(int fd, json_t *msg, const int *fds, int nfds)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	char cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov;
	struct msghdr mh = { 0 };
	ssize_t n;

	if (!text)
		return -ENOMEM;
	iov.iov_base = text;
	iov.iov_len = strlen(text);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds > 0) {
		struct cmsghdr *cm;

		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfds);
	}
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	free(text);
	return n < 0 ? -errno : 0;
}

static int open_netns(const struct agent_pod *p)
{
	char path[128];

	snprintf(path, sizeof(path), "/run/netns/%s", p->net.netns);
	return open(path, O_RDONLY | O_CLOEXEC);
}

static void send_endpoint(struct proxy_ctl *pc, int fd, struct agent_pod *p)
{
	char ip[64];
	uint8_t addr[16];
	int fds[2], nsfd;
	json_t *m;

	if (fd < 0 || p->proxy_listener_fd < 0)
		return;
	nsfd = open_netns(p);
	if (nsfd < 0)
		return;
	sl_addr_from_ipv4(addr, p->net.ip);
	m = json_pack("{s:s,s:i,s:s,s:s,s:s,s:i}", "type", "endpoint", "ep_id", (int)p->ep_id,
		      "namespace", p->ns, "pod", p->name, "ip", sl_addr_str(addr, ip, sizeof(ip)),
		      "identity", (int)p->identity);
	fds[0] = p->proxy_listener_fd;
	fds[1] = nsfd;
	send_msg(fd, m, fds, 2);
	json_decref(m);
	close(nsfd);
	(void)pc;
}

static void send_names(struct proxy_ctl *pc, int fd)
{
	struct agent *a = pc->agent;
	json_t *pods = json_array(), *m;
	size_t i;

	for (i = 0; i < a->reg.npods; i++) {
		char ip[64];
		uint8_t addr[16];

		sl_addr_from_ipv4(addr, a->reg.pods[i]->net.ip);
		json_array_append_new(pods, json_pack("{s:s,s:s,s:s}", "ip", sl_addr_str(addr, ip, sizeof(ip)),
						      "namespace", a->reg.pods[i]->ns, "pod", a->reg.pods[i]->name));
	}
	m = json_pack("{s:s,s:o}", "type", "names", "pods", pods);
	send_msg(fd, m, NULL, 0);
	json_decref(m);
}

/* The proxy answers each table (rules_ok or rules_error), in order. */
static void send_rules_text(struct proxy_ctl *pc, const char *text)
{
	size_t len = strlen(text);
	int mfd = memfd_create("sluice-l7-rules", MFD_CLOEXEC);
	json_t *m;

	if (mfd < 0)
		return;
	if (write(mfd, text, len) != (ssize_t)len) {
		close(mfd);
		return;
	}
	lseek(mfd, 0, SEEK_SET);
	m = json_pack("{s:s,s:I}", "type", "rules", "size", (json_int_t)len);
	if (!send_msg(pc->fd, m, &mfd, 1))
		pc->rules_pending++;
	json_decref(m);
	close(mfd);
}

/* ---- access records from the proxy --------------------------------------------- */

static void on_access(struct proxy_ctl *pc, json_t *m)
{
	struct agent *a = pc->agent;
	struct flow_l7 ev = { 0 };
	bool answered;
	char *line;

	/* the access log line: the record without the channel's own keys */
	json_object_del(m, "type");
	line = json_dumps(m, JSON_COMPACT);
	if (line) {
		fputs(line, stdout);
		fputc('\n', stdout);
		free(line);
	}
	answered = access_json_flow(m, &ev);
	/* the request, then its response (the server's, or the proxy's 403/4xx) */
	ev.kind = FLOW_L7_REQUEST;
	flows_add_l7(a, &ev);
	ev.kind = FLOW_L7_RESPONSE;
	if (answered) /* refused: no response */
		flows_add_l7(a, &ev);
	flows_flush(a);
}

/*
 * A batch of binary access records (sluice/access_record.h): what an agent
 * that said "access":"binary" in its hello gets instead of "access"
 * messages. The proxy wrote their access-log lines itself, so here they
 * only become flows (the ring, observers, metrics).
 */
static void on_access_batch(struct proxy_ctl *pc, const void *buf, size_t n)
{
	static const char *const protocols[] = { "HTTP/1.0", "HTTP/1.1" };
	const struct sluice_access_batch *b = buf;
	const struct sluice_access_rec *r;
	size_t off = 0;
	uint32_t seen = 0;

	while ((r = sluice_access_next(b + 1, n - sizeof(*b), &off))) {
		const char *s = (const char *)(r + 1);
		char method[SLUICE_ACCESS_METHOD_MAX + 1], host[SLUICE_ACCESS_HOST_MAX + 1];
		char url[SLUICE_ACCESS_PATH_MAX + 1];
		struct flow_l7 ev = { 0 };

		if (r->method_len > SLUICE_ACCESS_METHOD_MAX || r->host_len > SLUICE_ACCESS_HOST_MAX ||
		    r->path_len > SLUICE_ACCESS_PATH_MAX)
			break;
		memcpy(method, s, r->method_len);
		method[r->method_len] = 0;
		memcpy(host, s + r->method_len, r->host_len);
		host[r->host_len] = 0;
		memcpy(url, s + r->method_len + r->host_len, r->path_len);
		url[r->path_len] = 0;
		ev.time_ns = r->time_us * 1000ull;
		ev.direction = r->direction == SLUICE_DIR_EGRESS ? SLUICE_DIR_EGRESS : SLUICE_DIR_INGRESS;
		ev.allowed = r->verdict == SLUICE_ACCESS_ALLOWED;
		memcpy(ev.saddr, r->src_addr, 16);
		memcpy(ev.daddr, r->dst_addr, 16);
		ev.sport = r->src_port;
		ev.dport = r->dst_port;
		ev.src_identity = r->src_identity;
		ev.dst_identity = r->dst_identity;
		ev.method = method;
		ev.url = url;
		ev.host = host;
		ev.protocol = protocols[r->http_minor ? 1 : 0];
		ev.https = r->flags & SLUICE_ACCESS_F_TLS;
		ev.code = r->status;
		ev.latency_ns = r->duration_ns;
		ev.kind = FLOW_L7_REQUEST;
		flows_add_l7(pc->agent, &ev);
		ev.kind = FLOW_L7_RESPONSE;
		if (!(r->flags & SLUICE_ACCESS_F_REFUSED)) /* nothing answered */
			flows_add_l7(pc->agent, &ev);
		seen++;
	}
	if (seen != b->count)
		fprintf(stderr, "sluiced: malformed access batch from the proxy (%u of %u records read)\n",
			seen, b->count);
	flows_flush(pc->agent);
}

/* An access batch, or NULL-terminated JSON (buf has room for the NUL). */
static bool is_access_batch(const char *buf, size_t n)
{
	uint32_t magic;

	if (n < sizeof(struct sluice_access_batch))
		return false;
	memcpy(&magic, buf, sizeof(magic));
	return magic == SLUICE_ACCESS_MAGIC;
}


/* ---- replaced proxies ----------------------------------------------------------- */

static bool pid_alive(pid_t pid)
{
	return pid > 0 && kill(pid, 0) == 0;
}

/*
 * Whether pid is a sluice-proxy of this instance: its --control socket is in
 * our state directory (the instance lock makes that directory ours alone).
 * Checked before signalling a pid read from a file, which may have been
 * reused by an unrelated process since.
 */
static bool instance_proxy(struct agent *a, pid_t pid)
{
	char path[64], buf[8192], prefix[4200];
	ssize_t n;
	size_t off = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	snprintf(prefix, sizeof(prefix), "%s/proxy.", a->cfg.state_dir);
	while (off < (size_t)n) {
		const char *arg = buf + off;

		off += strlen(arg) + 1;
		if (!strcmp(arg, "--control") && off < (size_t)n)
			return !strncmp(buf + off, prefix, strlen(prefix));
	}
	return false;
}

static void retire_tick(uv_timer_t *t);

static void retire_add(struct proxy_ctl *pc, pid_t pid, int fd, bool child)
{
	struct retired *r;

	if (pid <= 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	pc->retired = realloc(pc->retired, (pc->nretired + 1) * sizeof(*pc->retired));
	r = &pc->retired[pc->nretired++];
	memset(r, 0, sizeof(*r));
	r->pid = pid;
	r->fd = fd;
	r->child = child;
	r->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (!uv_is_active((uv_handle_t *)&pc->retire_timer))
		uv_timer_start(&pc->retire_timer, retire_tick, 100, 100);
}

static void retire_signal(struct retired *r, int sig)
{
	if (r->pidfd >= 0 && syscall(SYS_pidfd_send_signal, r->pidfd, sig, NULL, 0) == 0)
		return;
	if (r->pidfd < 0)
		kill(r->pid, sig);
}

/* Tells a retired proxy to drain: over its channel, or by SIGTERM. */
static void retire_drain(struct retired *r)
{
	if (r->drain_sent)
		return;
	r->drain_sent = true;
	r->deadline_ns = sl_mono_ns() + (uint64_t)(PROXY_DRAIN_MS + PROXY_KILL_MARGIN_MS) * 1000000ull;
	if (r->fd >= 0) {
		json_t *m = json_pack("{s:s}", "type", "drain");
		int rc = send_msg(r->fd, m, NULL, 0);

		json_decref(m);
		if (!rc)
			return;
	}
	retire_signal(r, SIGTERM);
}

static void retire_kill(struct proxy_ctl *pc, pid_t pid, int fd, bool child)
{
	retire_add(pc, pid, fd, child);
	if (pid > 0) {
		struct retired *r = &pc->retired[pc->nretired - 1];

		r->drain_sent = r->killed = true;
		retire_signal(r, SIGKILL);
	}
}

static bool retire_exited(struct retired *r)
{
	if (r->child) {
		pid_t w = waitpid(r->pid, NULL, WNOHANG);

		return w == r->pid || (w < 0 && errno == ECHILD);
	}
	if (r->pidfd >= 0) {
		struct pollfd p = { .fd = r->pidfd, .events = POLLIN };

		return poll(&p, 1, 0) > 0;
	}
	return !pid_alive(r->pid);
}

/* Reads what a retired proxy still says: its last access records count. */
static void retire_read(struct proxy_ctl *pc, struct retired *r)
{
	while (r->fd >= 0) {
		_Alignas(8) char buf[MSG_MAX + 1];
		char cbuf[CMSG_SPACE(sizeof(int) * 8)];
		struct iovec iov = { .iov_base = buf, .iov_len = MSG_MAX };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *cm;
		ssize_t n = recvmsg(r->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		json_t *m;

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			close(r->fd);
			r->fd = -1;
			return;
		}
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
				size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int), i;

				for (i = 0; i < k; i++) {
					int fd;

					memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
					close(fd);
				}
			}
		}
		if (is_access_batch(buf, (size_t)n)) {
			on_access_batch(pc, buf, (size_t)n);
			continue;
		}
		buf[n] = 0;
		m = json_loads(buf, 0, NULL);
		if (m && !strcmp(json_string_value(json_object_get(m, "type")) ?: "", "access"))
			on_access(pc, m);
		json_decref(m);
	}
}

static void retire_tick(uv_timer_t *t)
{
	struct proxy_ctl *pc = t->data;
	uint64_t now = sl_mono_ns();
	size_t i = 0;

	while (i < pc->nretired) {
		struct retired *r = &pc->retired[i];

		retire_read(pc, r);
		if (retire_exited(r)) {
			if (r->fd >= 0)
				close(r->fd);
			if (r->pidfd >= 0)
				close(r->pidfd);
			pc->retired[i] = pc->retired[--pc->nretired];
			continue;
		}
		if (r->deadline_ns && now > r->deadline_ns && !r->killed) {
			fprintf(stderr, "sluiced: replaced proxy %d did not drain within %u ms, killing it\n",
				(int)r->pid, PROXY_DRAIN_MS);
			r->killed = true;
			retire_signal(r, SIGKILL);
		}
		i++;
	}
	if (!pc->nretired)
		uv_timer_stop(t);
}

/*
 * Every proxy of this instance but `keep` is drained: a proxy this agent
 * does not know about must not serve (e.g. one replaced while an earlier
 * agent was being killed).
 */
static void retire_strays(struct proxy_ctl *pc, pid_t keep)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		size_t i;
		bool known = false;

		if (*end || pid <= 1 || pid == keep || pid == getpid() ||
		    !instance_proxy(pc->agent, (pid_t)pid))
			continue;
		for (i = 0; i < pc->nretired; i++)
			known |= pc->retired[i].pid == pid;
		if (known)
			continue;
		fprintf(stderr, "sluiced: proxy %ld of this instance has no agent: draining it\n", pid);
		retire_add(pc, (pid_t)pid, -1, false);
		retire_drain(&pc->retired[pc->nretired - 1]);
	}
	closedir(d);
}

/* ---- connection handling --------------------------------------------------------- */

static void disconnect(struct proxy_ctl *pc, bool proxy_gone);
static void schedule(struct proxy_ctl *pc, unsigned ms);

static void adopt_listener(struct proxy_ctl *pc, uint32_t ep_id, int fd)
{
	struct agent *a = pc->agent;
	size_t i;

	for (i = 0; i < a->reg.npods; i++) {
		struct agent_pod *p = a->reg.pods[i];

		if (p->ep_id == ep_id && p->proxy_listener_fd < 0) {
			p->proxy_listener_fd = fd;
			sluice_dp_proxy_listener_set(a->dp, ep_id, fd);
			return;
		}
	}
	close(fd);
}

static void listen_retry(uv_timer_t *t)
{
	struct proxy_ctl *pc = t->data;
	struct agent *a = pc->agent;
	size_t i, missing = 0;
	char *err = NULL;

	for (i = 0; i < a->reg.npods; i++) {
		struct agent_pod *p = a->reg.pods[i];

		if (p->proxy_listener_fd >= 0)
			continue;
		if (proxy_ctl_pod_added(a, p, &err))
			missing++;
		else
			fprintf(stderr, "sluiced: proxy listener for %s/%s made on retry\n", p->ns, p->name);
		free(err);
		err = NULL;
	}
	if (!missing)
		uv_timer_stop(t);
}

static void listen_retry_arm(struct proxy_ctl *pc)
{
	if (!uv_is_active((uv_handle_t *)&pc->listen_timer))
		uv_timer_start(&pc->listen_timer, listen_retry, 1000, 1000);
}

static void configure(struct proxy_ctl *pc)
{
	struct agent *a = pc->agent;
	size_t i;
	char *err = NULL;

	/* every pod needs a listener: make the missing ones */
	for (i = 0; i < a->reg.npods; i++) {
		struct agent_pod *p = a->reg.pods[i];

		if (p->proxy_listener_fd < 0 && proxy_ctl_pod_added(a, p, &err)) {
			fprintf(stderr, "sluiced: proxy listener for %s/%s: %s\n", p->ns, p->name, err);
			free(err);
			err = NULL;
		}
	}
	/* rules first: a listener handed over starts accepting at once, and a
	 * request must never meet a proxy that has no table yet */
	if (pc->last_rules)
		send_rules_text(pc, pc->last_rules);
	send_names(pc, pc->fd);
	for (i = 0; i < a->reg.npods; i++)
		send_endpoint(pc, pc->fd, a->reg.pods[i]);
	pc->ready = true;
	pc->failures = 0;
	sluice_dp_proxy_set_up(a->dp, true);
	if (pc->external)
		fprintf(stderr, "sluiced: L7 proxy ready (external proxy at %s, its pid %d)\n",
			pc->control, (int)pc->pid);
	else
		fprintf(stderr, "sluiced: L7 proxy ready (pid %d)\n", (int)pc->pid);
	pc->waiting_logged = false;
	/* the new one has everything: the replaced ones drain now */
	for (i = 0; i < pc->nretired; i++)
		retire_drain(&pc->retired[i]);
}

static void handle(struct proxy_ctl *pc, json_t *m, int *fds, int nfds)
{
	const char *type = json_string_value(json_object_get(m, "type"));
	int i;

	if (!type)
		goto close_fds;
	if (!strcmp(type, "ready")) {
		json_t *q;

		pc->pid = (pid_t)json_integer_value(json_object_get(m, "pid"));
		if (!pc->external)
			save_proxy_state(pc);
		q = json_pack("{s:s}", "type", "listeners?");
		send_msg(pc->fd, q, NULL, 0);
		json_decref(q);
	} else if (!strcmp(type, "listener") && nfds > 0) {
		adopt_listener(pc, (uint32_t)json_integer_value(json_object_get(m, "ep_id")), fds[0]);
		fds[0] = -1;
	} else if (!strcmp(type, "listeners_end")) {
		configure(pc);
	} else if (!strcmp(type, "access")) {
		on_access(pc, m);
	} else if (!strcmp(type, "stats")) {
		json_decref(pc->stats);
		pc->stats = json_incref(m);
		metrics_proxy_stats(pc->agent, m);
	} else if (!strcmp(type, "rules_ok")) {
		if (pc->rules_pending)
			pc->rules_pending--;
	} else if (!strcmp(type, "rules_error")) {
		fprintf(stderr, "sluiced: proxy rejected the L7 table: %s\n",
			json_string_value(json_object_get(m, "error")) ?: "?");
		if (pc->rules_pending)
			pc->rules_pending--;
	}
close_fds:
	for (i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
	struct proxy_ctl *pc = h->data;

	(void)events;
	if (status < 0) {
		disconnect(pc, true);
		return;
	}
	for (;;) {
		_Alignas(8) char buf[MSG_MAX + 1];
		char cbuf[CMSG_SPACE(sizeof(int) * 8)];
		struct iovec iov = { .iov_base = buf, .iov_len = MSG_MAX };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		int fds[8], nfds = 0;
		struct cmsghdr *cm;
		ssize_t n = recvmsg(pc->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		json_t *m;

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			disconnect(pc, true);
			return;
		}
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
				int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));

				for (; k > 0 && nfds < 8; k--, nfds++)
					memcpy(&fds[nfds], CMSG_DATA(cm) + (size_t)nfds * sizeof(int), sizeof(int));
			}
		}
		if (is_access_batch(buf, (size_t)n)) {
			while (nfds > 0)
				close(fds[--nfds]);
			on_access_batch(pc, buf, (size_t)n);
			continue;
		}
		buf[n] = 0;
		m = json_loads(buf, 0, NULL);
		if (m) {
			handle(pc, m, fds, nfds);
			json_decref(m);
		} else {
			while (nfds > 0)
				close(fds[--nfds]);
		}
		if (pc->fd < 0)
			return;
	}
}

static int try_connect(const char *path)
{
	return sl_unix_connect(path, SOCK_SEQPACKET);
}

/* The proxy's path: --proxy-bin, or next to sluiced; path[] is the
 * caller's buffer. */
static const char *proxy_binary(struct agent *a, char *path, size_t len)
{
	char self[4000];
	ssize_t n;

	if (a->cfg.proxy_bin)
		return a->cfg.proxy_bin;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *slash;

		self[n] = 0;
		slash = strrchr(self, '/');
		if (slash) {
			*slash = 0;
			snprintf(path, len, "%s/../proxy/sluice-proxy", self);
			if (access(path, X_OK) == 0)
				return path;
			snprintf(path, len, "%s/sluice-proxy", self);
			if (access(path, X_OK) == 0)
				return path;
		}
	}
	return "sluice-proxy";
}

/* Starts a proxy in its own session (it must outlive the agent). */
static pid_t spawn_proxy(struct proxy_ctl *pc)
{
	struct agent *a = pc->agent;
	char binbuf[4200];
	const char *bin = proxy_binary(a, binbuf, sizeof(binbuf));
	pid_t pid;

	char grace[32];

	pc->generation++;
	snprintf(pc->control, sizeof(pc->control), "%s/proxy.%u.sock", a->cfg.state_dir, pc->generation);
	snprintf(grace, sizeof(grace), "%u", a->cfg.proxy_orphan_grace_ms);
	unlink(pc->control);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		setsid();
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
		}
		execl(bin, "sluice-proxy", "--control", pc->control, "--bpf-root", a->cfg.bpf_root,
		      "--node", a->cfg.node_name, "--orphan-grace-ms", grace, (char *)NULL);
		fprintf(stderr, "sluiced: cannot run %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	pc->spawned_ns = sl_mono_ns();
	pc->child = true;
	return pid;
}

static void connected(struct proxy_ctl *pc, int fd)
{
	json_t *hello;
	bool out_ok;

	pc->fd = fd;
	pc->rules_pending = 0;
	uv_poll_init(pc->agent->loop, &pc->poll, fd);
	pc->poll.data = pc;
	uv_poll_start(&pc->poll, UV_READABLE | UV_DISCONNECT, on_readable);
	pc->poll_active = true;
	/* access records in batches, and the access log written by the proxy
	 * itself, on our stdout (it has the names; see access_record.h) */
	fflush(stdout);
	out_ok = fcntl(STDOUT_FILENO, F_GETFD) >= 0;
	hello = json_pack("{s:s,s:s,s:s,s:b}", "type", "hello", "node", pc->agent->cfg.node_name,
			  "access", "binary", "access_log", out_ok);
	send_msg(fd, hello, (int[]){ STDOUT_FILENO }, out_ok ? 1 : 0);
	json_decref(hello);
}

/* The supervisor tick: connect to the proxy we know, or start one. */
static void on_timer(uv_timer_t *t)
{
	struct proxy_ctl *pc = t->data;
	int fd;

	if (pc->fd >= 0)
		return;
	fd = try_connect(pc->control);
	if (fd >= 0) {
		connected(pc, fd);
		return;
	}
	if (pc->external) {
		/* someone else runs it: wait for it (L7 ports stay closed) */
		if (!pc->waiting_logged)
			fprintf(stderr, "sluiced: waiting for the L7 proxy at %s (L7 ports fail closed until it answers)\n",
				pc->control);
		pc->waiting_logged = true;
		schedule(pc, 200);
		return;
	}
	if (pid_alive(pc->pid) && sl_mono_ns() - pc->spawned_ns < 3000000000ull) {
		schedule(pc, 20); /* still starting */
		return;
	}
	if (pid_alive(pc->pid)) {
		fprintf(stderr, "sluiced: proxy %d does not answer on %s, replacing it\n", (int)pc->pid,
			pc->control);
		retire_kill(pc, pc->pid, -1, pc->child);
	} else if (pc->pid > 0) {
		retire_add(pc, pc->pid, -1, pc->child); /* reaped if ours */
	}
	pc->pid = spawn_proxy(pc);
	if (pc->pid < 0) {
		pc->pid = 0;
		schedule(pc, 1000);
		return;
	}
	save_proxy_state(pc);
	schedule(pc, 20);
}

static void schedule(struct proxy_ctl *pc, unsigned ms)
{
	uv_timer_start(&pc->timer, on_timer, ms, 0);
}

static void poll_closed(uv_handle_t *h)
{
	(void)h;
}

static void disconnect(struct proxy_ctl *pc, bool proxy_gone)
{
	struct agent *a = pc->agent;

	if (pc->poll_active) {
		uv_poll_stop(&pc->poll);
		uv_close((uv_handle_t *)&pc->poll, poll_closed);
		pc->poll_active = false;
	}
	if (pc->fd >= 0)
		close(pc->fd);
	pc->fd = -1;
	pc->ready = false;
	if (!proxy_gone)
		return;
	/* fail closed at once: new L7 flows are dropped until a proxy is back */
	sluice_dp_proxy_set_up(a->dp, false);
	if (pc->external) {
		fprintf(stderr, "sluiced: L7 proxy at %s gone; L7 ports fail closed until it is back\n",
			pc->control);
		pc->failures++;
		pc->restarts++;
		pc->pid = 0;
		schedule(pc, 200);
		return;
	}
	fprintf(stderr, "sluiced: L7 proxy %d gone; L7 ports fail closed, restarting it in %u ms\n",
		(int)pc->pid, a->cfg.proxy_restart_delay_ms);
	pc->failures++;
	pc->restarts++;
	retire_kill(pc, pc->pid, -1, pc->child); /* killed if still there, reaped */
	pc->pid = 0;
	schedule(pc, a->cfg.proxy_restart_delay_ms);
}

int proxy_ctl_start(struct agent *a, char **err)
{
	struct proxy_ctl *pc = sl_xcalloc(1, sizeof(*pc));
	char *path = state_file(a, "proxy.json");
	json_t *st;

	(void)err;
	pc->agent = a;
	pc->fd = -1;
	a->proxy = pc;
	uv_timer_init(a->loop, &pc->timer);
	pc->timer.data = pc;
	uv_timer_init(a->loop, &pc->retire_timer);
	pc->retire_timer.data = pc;
	uv_timer_init(a->loop, &pc->listen_timer);
	pc->listen_timer.data = pc;
	mkdir(a->cfg.state_dir, 0700);
	if (a->cfg.proxy_control && !a->cfg.no_proxy) {
		free(path);
		pc->external = true;
		snprintf(pc->control, sizeof(pc->control), "%s", a->cfg.proxy_control);
		schedule(pc, 0);
		return 0;
	}
	/* a proxy left by an earlier agent keeps serving: find it again */
	st = json_load_file(path, 0, NULL);
	free(path);
	if (st) {
		pc->pid = (pid_t)json_integer_value(json_object_get(st, "pid"));
		pc->generation = (unsigned)json_integer_value(json_object_get(st, "generation"));
		snprintf(pc->control, sizeof(pc->control), "%s",
			 json_string_value(json_object_get(st, "control")) ?: "");
		pc->spawned_ns = sl_mono_ns();
		json_decref(st);
		if (pc->pid > 0 && !instance_proxy(a, pc->pid))
			pc->pid = 0; /* gone, or the pid now names another process */
	}
	/* the one we adopt is not our child: its exit is not ours to reap */
	pc->child = false;
	retire_strays(pc, a->cfg.no_proxy ? 0 : pc->pid);
	if (a->cfg.no_proxy)
		return 0;
	schedule(pc, 0);
	return 0;
}

void proxy_ctl_stop(struct agent *a)
{
	struct proxy_ctl *pc = a->proxy;

	if (!pc)
		return;
	/* the proxy keeps serving: only our side of the channel goes */
	uv_timer_stop(&pc->timer);
	uv_close((uv_handle_t *)&pc->timer, NULL);
	disconnect(pc, false);
	/* replaced proxies were told to drain (or will be by the next agent) */
	for (size_t i = 0; i < pc->nretired; i++) {
		if (pc->retired[i].fd >= 0)
			close(pc->retired[i].fd);
		if (pc->retired[i].pidfd >= 0)
			close(pc->retired[i].pidfd);
	}
	free(pc->retired);
	uv_timer_stop(&pc->retire_timer);
	uv_close((uv_handle_t *)&pc->retire_timer, NULL);
	uv_timer_stop(&pc->listen_timer);
	uv_close((uv_handle_t *)&pc->listen_timer, NULL);
	json_decref(pc->stats);
	free(pc->last_rules);
}

int proxy_ctl_kill_stale(struct agent *a)
{
	char *path = state_file(a, "proxy.json");
	DIR *d = opendir("/proc");
	struct dirent *e;
	int killed = 0;

	/* every sluice-proxy whose control socket is in our state directory */
	while (d && (e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (*end || pid <= 1 || pid == getpid() || !instance_proxy(a, (pid_t)pid))
			continue;
		if (kill((pid_t)pid, SIGKILL) == 0) {
			printf("removed: proxy process %ld\n", pid);
			killed++;
		}
	}
	if (d)
		closedir(d);
	if (unlink(path) == 0)
		printf("removed: %s\n", path);
	free(path);
	/* control sockets of every generation */
	d = opendir(a->cfg.state_dir);
	while (d && (e = readdir(d))) {
		size_t n = strlen(e->d_name);

		if (!strncmp(e->d_name, "proxy.", 6) && n > 11 && !strcmp(e->d_name + n - 5, ".sock")) {
			char *sock = sl_strdupf("%s/%s", a->cfg.state_dir, e->d_name);

			if (unlink(sock) == 0)
				printf("removed: %s\n", sock);
			free(sock);
		}
	}
	if (d)
		closedir(d);
	if (killed)
		usleep(50000);
	return killed;
}

int proxy_ctl_pod_added(struct agent *a, struct agent_pod *p, char **err)
{
	struct proxy_ctl *pc = a->proxy;
	int nsfd = open_netns(p), fd = -1, rc;

	if (nsfd < 0)
		return sl_fail(err, errno, "cannot open netns %s: %s", p->net.netns, strerror(errno));
	rc = sluice_dp_proxy_listen_in_netns(nsfd, SLUICE_PROXY_PORT, &fd);
	close(nsfd);
	if (rc) {
		if (pc)
			listen_retry_arm(pc);
		return sl_fail(err, rc, "cannot listen in %s: %s", p->net.netns, strerror(-rc));
	}
	rc = sluice_dp_proxy_listener_set(a->dp, p->ep_id, fd);
	if (rc) {
		close(fd);
		return sl_fail(err, rc, "proxy listener map: %s", strerror(-rc));
	}
	p->proxy_listener_fd = fd;
	if (pc && pc->ready) {
		send_endpoint(pc, pc->fd, p);
		send_names(pc, pc->fd);
	}
	return 0;
}

void proxy_ctl_pod_removed(struct agent *a, struct agent_pod *p)
{
	struct proxy_ctl *pc = a->proxy;

	if (pc && pc->ready) {
		json_t *m = json_pack("{s:s,s:i}", "type", "endpoint_delete", "ep_id", (int)p->ep_id);

		send_msg(pc->fd, m, NULL, 0);
		json_decref(m);
	}
	sluice_dp_proxy_listener_delete(a->dp, p->ep_id);
	if (p->proxy_listener_fd >= 0)
		close(p->proxy_listener_fd);
	p->proxy_listener_fd = -1;
	if (pc && pc->ready)
		send_names(pc, pc->fd);
}

/* One L7 entry as the proxy reads it, for peer (the entry's own, or the
 * host's twin of an any-peer entry) */
static json_t *l7_json(const struct sluice_l7_policy *l, uint32_t peer, bool allow_all)
{
	json_t *rules = json_array(), *o;

	for (size_t k = 0; k < l->nrules; k++)
		json_array_append_new(rules, sl_http_rule_json(l->rules[k]));
	o = json_pack("{s:i,s:s,s:i,s:i,s:i,s:I,s:b,s:o}", "ep_id", (int)l->ep_id, "direction",
		      l->direction == SLUICE_DIR_EGRESS ? "egress" : "ingress", "port", (int)l->port,
		      "end_port", (int)(l->end_port ? l->end_port : l->port), "protocol", (int)l->protocol,
		      "peer_identity", (json_int_t)peer, "allow_all", allow_all, "rules", rules);
	if (l->tls) {
		json_t *t = agent_secrets_tls_json(l);

		/* no HTTP rules at all for this peer and port: a TLS-aware TCP
		 * proxy, as Cilium does */
		if (t && !l->nrules)
			json_object_set_new(t, "tcp", json_true());
		json_object_set_new(o, "tls", t);
	}
	return o;
}

/* An ingress L7 entry of ep for the host itself on l's ports. */
static bool l7_host_entry(const struct sluice_ep_compiled *ep, const struct sluice_l7_policy *l)
{
	for (size_t i = 0; i < ep->nl7; i++) {
		const struct sluice_l7_policy *h = &ep->l7[i];

		if (h->peer_identity == SLUICE_ID_HOST && h->direction == l->direction &&
		    h->protocol == l->protocol && h->port == l->port && h->end_port == l->end_port)
			return true;
	}
	return false;
}

void proxy_ctl_rules(struct agent *a, const struct sluice_compiled *c)
{
	struct proxy_ctl *pc = a->proxy;
	json_t *doc, *pols = json_array();
	size_t i, j;
	char *text;

	if (!pc)
		return;
	for (i = 0; i < c->neps; i++) {
		for (j = 0; j < c->eps[i].nl7; j++) {
			const struct sluice_l7_policy *l = &c->eps[i].l7[j];
			/*
			 * allow-localhost=always (verdict.h): the node's requests
			 * to a local pod are not judged at L7 either. Cilium
			 * wildcards the host at L7 there (its distillery case 12:
			 * "from host should go to proxy allow all"), so that a
			 * kubelet probe is never answered 403: the host's entry
			 * allows every request, and an any-peer entry gets a host
			 * twin that does.
			 */
			bool host_open = a->cfg.allow_localhost && l->direction == SLUICE_DIR_INGRESS;

			json_array_append_new(pols, l7_json(l, l->peer_identity,
							    l->allow_all || (host_open &&
									     l->peer_identity == SLUICE_ID_HOST)));
			if (host_open && l->peer_identity == SLUICE_ID_ANY && !l7_host_entry(&c->eps[i], l))
				json_array_append_new(pols, l7_json(l, SLUICE_ID_HOST, true));
		}
	}
	/* the secrets the table names travel with it (the memfd and the 0600
	 * control socket), so a table and its secrets change together */
	doc = json_pack("{s:i,s:o,s:o}", "version", 1, "policies", pols, "secrets",
			agent_secrets_proxy_json(a, c));
	text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	if (!text)
		return;
	if (pc->last_rules && !strcmp(pc->last_rules, text)) {
		free(text);
		return;
	}
	free(pc->last_rules);
	pc->last_rules = text;
	if (pc->ready)
		send_rules_text(pc, text);
}

int proxy_ctl_restart(struct agent *a, char **err)
{
	struct proxy_ctl *pc = a->proxy;

	if (!pc || a->cfg.no_proxy)
		return sl_fail(err, ENOTSUP, "this agent runs without an L7 proxy");
	if (pc->external)
		return sl_fail(err, ENOTSUP,
			       "the L7 proxy runs on its own (--proxy-control %s): restart it there, e.g. "
			       "kubectl -n kube-system rollout restart ds/sluice-proxy (its L7 connections drop)",
			       pc->control);
	if (!pc->ready)
		return sl_fail(err, EAGAIN, "the proxy is not ready yet");
	/* keep the old one serving until the new one has everything */
	if (pc->poll_active) {
		uv_poll_stop(&pc->poll);
		uv_close((uv_handle_t *)&pc->poll, poll_closed);
		pc->poll_active = false;
	}
	retire_add(pc, pc->pid, pc->fd, pc->child);
	pc->fd = -1;
	pc->ready = false;
	pc->restarts++;
	pc->pid = spawn_proxy(pc);
	if (pc->pid < 0) {
		pc->pid = 0;
		schedule(pc, 1000); /* the old one serves until a new one is ready */
		return sl_fail(err, EIO, "cannot start a new proxy");
	}
	save_proxy_state(pc);
	schedule(pc, 20);
	return 0;
}

json_t *proxy_ctl_status(struct agent *a)
{
	struct proxy_ctl *pc = a->proxy;
	json_t *o = json_object();

	if (!pc || a->cfg.no_proxy) {
		json_object_set_new(o, "state", json_string("disabled"));
		return o;
	}
	json_object_set_new(o, "state", json_string(pc->ready ? "ready" : "starting"));
	json_object_set_new(o, "pid", json_integer(pc->pid));
	json_object_set_new(o, "restarts", json_integer(pc->restarts));
	json_object_set_new(o, "mode", json_string(pc->external ? "external" : "embedded"));
	if (pc->external)
		json_object_set_new(o, "control", json_string(pc->control));
	json_object_set_new(o, "consecutive_failures", json_integer(pc->failures));
	/* 0: every table sent is answered, so in force for every later
	 * request (tests wait on it instead of on time) */
	json_object_set_new(o, "rules_pending", json_integer(pc->rules_pending));
	if (pc->stats) {
		const char *k;
		json_t *v;

		json_object_foreach(pc->stats, k, v)
			if (strcmp(k, "type"))
				json_object_set(o, k, v);
	}
	return o;
}
