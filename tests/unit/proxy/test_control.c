/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control channel, proxy side (docs/proxy-control.md), driven as the
 * agent drives it: hello/ready, endpoints with their fds, listeners? giving
 * the same sockets back, rules from a memfd (ok, malformed, bad regex),
 * endpoint_delete, a second agent seeing the first one's configuration,
 * stats, a connection that cannot be resolved (reset: fail closed), drain.
 * No BPF: the datapath resolver runs without maps, which is enough for
 * everything but resolving a flow for real (tests/integration does that).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "control.h"
#include "proxy.h"
#include "resolver_datapath.h"

struct ctl_test {
	uv_loop_t loop;
	struct proxy_server *srv;
	struct proxy_control *ctl;
	struct proxy_resolver *res;
	char dir[64], path[96];
	int drains;
	bool closed;
};

static void on_drain(void *ctx)
{
	struct ctl_test *t = ctx;

	t->drains++;
	proxy_control_draining(t->ctl);
	proxy_server_drain(t->srv, 2000);
}

static void on_closed(void *ctx)
{
	struct ctl_test *t = ctx;

	t->closed = true;
	proxy_control_close(t->ctl);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int agent_connect(struct ctl_test *t)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, t->path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	for (int i = 0; i < 5; i++)
		uv_run(&t->loop, UV_RUN_NOWAIT); /* accepted */
	return fd;
}

static void agent_send(int fd, const char *json, const int *fds, int nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = { .iov_base = (void *)json, .iov_len = strlen(json) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
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
	assert_true(sendmsg(fd, &mh, 0) == (ssize_t)strlen(json));
}

/* The next message of type want (others, e.g. stats, are skipped unless
 * want is one of them); runs the proxy's loop meanwhile. */
static json_t *agent_expect(struct ctl_test *t, int fd, const char *want, int *fd_out)
{
	uint64_t deadline = now_ms() + 3000;

	if (fd_out)
		*fd_out = -1;
	while (now_ms() < deadline) {
		char buf[65536], cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *cm;
		ssize_t n;
		json_t *m;
		int rfd = -1;

		uv_run(&t->loop, UV_RUN_NOWAIT);
		n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EAGAIN) {
			poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, 5);
			continue;
		}
		assert_true(n > 0);
		cm = CMSG_FIRSTHDR(&mh);
		if (cm && cm->cmsg_type == SCM_RIGHTS)
			memcpy(&rfd, CMSG_DATA(cm), sizeof(int));
		buf[n] = 0;
		m = json_loads(buf, 0, NULL);
		assert_non_null(m);
		if (!strcmp(json_string_value(json_object_get(m, "type")), want)) {
			if (fd_out)
				*fd_out = rfd;
			else if (rfd >= 0)
				close(rfd);
			return m;
		}
		if (rfd >= 0)
			close(rfd);
		json_decref(m);
	}
	fail_msg("no %s message", want);
	return NULL;
}

static int tcp_listener(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 16), 0);
	getsockname(fd, (struct sockaddr *)&a, &len);
	*port = ntohs(a.sin_port);
	return fd;
}

static uint16_t sock_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

/* Sends an endpoint with a fresh loopback listener; returns its port. */
static uint16_t send_endpoint(int afd, uint32_t ep_id, const char *ip)
{
	char msg[256];
	uint16_t port;
	int fds[2];

	fds[0] = tcp_listener(&port);
	fds[1] = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	snprintf(msg, sizeof(msg),
		 "{\"type\":\"endpoint\",\"ep_id\":%u,\"namespace\":\"default\",\"pod\":\"p%u\","
		 "\"ip\":\"%s\",\"identity\":257}", ep_id, ep_id, ip);
	agent_send(afd, msg, fds, 2);
	close(fds[0]); /* the agent keeps its copy; here the proxy's is enough */
	close(fds[1]);
	return port;
}

static json_t *send_rules(struct ctl_test *t, int afd, const char *doc, const char *want)
{
	int mfd = memfd_create("rules", MFD_CLOEXEC);
	char msg[96];

	assert_true(write(mfd, doc, strlen(doc)) == (ssize_t)strlen(doc));
	snprintf(msg, sizeof(msg), "{\"type\":\"rules\",\"size\":%zu}", strlen(doc));
	agent_send(afd, msg, &mfd, 1);
	close(mfd);
	return agent_expect(t, afd, want, NULL);
}

static void test_control_channel(void **state)
{
	struct ctl_test *t = calloc(1, sizeof(*t));
	struct proxy_config cfg;
	struct stat st;
	char *err = NULL;
	json_t *m;
	int afd, lfd, cfd;
	uint16_t port3, port4;

	(void)state;
	strcpy(t->dir, "/tmp/sluice-ctl-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/proxy.sock", t->dir);
	uv_loop_init(&t->loop);
	proxy_config_defaults(&cfg);
	t->res = proxy_resolver_datapath_new(NULL);
	assert_non_null(t->res);
	t->srv = proxy_server_new(&t->loop, &cfg, t->res, &err);
	assert_non_null(t->srv);
	assert_int_equal(proxy_control_start(&t->loop, t->srv, t->res, t->path, "n1", on_drain, t,
					     &t->ctl, &err), 0);
	proxy_server_set_closed_cb(t->srv, on_closed, t);
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* hello -> ready, nothing known yet */
	afd = agent_connect(t);
	agent_send(afd, "{\"type\":\"hello\",\"node\":\"n1\"}", NULL, 0);
	m = agent_expect(t, afd, "ready", NULL);
	assert_int_equal(json_integer_value(json_object_get(m, "pid")), getpid());
	assert_int_equal(json_array_size(json_object_get(m, "endpoints")), 0);
	json_decref(m);

	/* two endpoints; listeners? gives the very same sockets back */
	port3 = send_endpoint(afd, 3, "10.9.0.3");
	port4 = send_endpoint(afd, 4, "10.9.0.4");
	agent_send(afd, "{\"type\":\"names\",\"pods\":[{\"ip\":\"10.9.0.3\",\"namespace\":\"default\","
			"\"pod\":\"p3\"}]}", NULL, 0);
	agent_send(afd, "{\"type\":\"listeners?\"}", NULL, 0);
	for (int i = 0; i < 2; i++) {
		uint32_t id;

		m = agent_expect(t, afd, "listener", &lfd);
		id = (uint32_t)json_integer_value(json_object_get(m, "ep_id"));
		assert_true(lfd >= 0);
		assert_int_equal(sock_port(lfd), id == 3 ? port3 : port4);
		close(lfd);
		json_decref(m);
	}
	json_decref(agent_expect(t, afd, "listeners_end", NULL));

	/* rules: the agent's form (end_port, protocol), a broken document, a bad regex */
	m = send_rules(t, afd,
		       "{\"version\":1,\"policies\":[{\"allow_all\":false,\"direction\":\"ingress\","
		       "\"end_port\":8080,\"ep_id\":3,\"peer_identity\":0,\"port\":8080,\"protocol\":6,"
		       "\"rules\":[{\"headers\":[],\"method\":\"GET\",\"path\":\"/a\"}]}]}",
		       "rules_ok");
	assert_int_equal(json_integer_value(json_object_get(m, "policies")), 1);
	json_decref(m);
	m = send_rules(t, afd, "{\"version\":1,\"policies\":[{\"bogus\":1}]}", "rules_error");
	assert_non_null(json_string_value(json_object_get(m, "error")));
	assert_true(json_is_false(json_object_get(m, "installed")));
	json_decref(m);
	m = send_rules(t, afd,
		       "{\"version\":1,\"policies\":[{\"direction\":\"ingress\",\"ep_id\":3,"
		       "\"peer_identity\":0,\"port\":8080,\"rules\":[{\"path\":\"(\"}]}]}",
		       "rules_error");
	assert_true(json_is_true(json_object_get(m, "installed")));
	json_decref(m);

	/* a connection the resolver cannot place (not podIP:port, not
	 * 127.0.0.1:15001) is reset */
	{
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port3),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		char b;
		ssize_t n = 1;

		cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_int_equal(connect(cfd, (struct sockaddr *)&a, sizeof(a)), 0);
		for (uint64_t end = now_ms() + 2000; now_ms() < end;) {
			uv_run(&t->loop, UV_RUN_NOWAIT);
			n = recv(cfd, &b, 1, MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN))
				break;
			usleep(1000);
		}
		assert_true(n < 0 && errno == ECONNRESET);
		close(cfd);
	}
	m = agent_expect(t, afd, "stats", NULL);
	assert_int_equal(json_integer_value(json_object_get(m, "connections_refused")), 1);
	assert_int_equal(json_integer_value(json_object_get(m, "connections_total")), 0);
	json_decref(m);

	/* endpoint_delete; the agent goes, a new one finds what is left */
	agent_send(afd, "{\"type\":\"endpoint_delete\",\"ep_id\":3}", NULL, 0);
	agent_send(afd, "{\"type\":\"listeners?\"}", NULL, 0);
	m = agent_expect(t, afd, "listener", &lfd);
	assert_int_equal(json_integer_value(json_object_get(m, "ep_id")), 4);
	close(lfd);
	json_decref(m);
	json_decref(agent_expect(t, afd, "listeners_end", NULL));
	close(afd);
	for (int i = 0; i < 5; i++)
		uv_run(&t->loop, UV_RUN_NOWAIT);
	afd = agent_connect(t);
	agent_send(afd, "{\"type\":\"hello\",\"node\":\"n1\"}", NULL, 0);
	m = agent_expect(t, afd, "ready", NULL);
	assert_int_equal(json_array_size(json_object_get(m, "endpoints")), 1);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(m, "endpoints"), 0)), 4);
	json_decref(m);

	/* drain: the server goes, the control socket with it */
	agent_send(afd, "{\"type\":\"drain\"}", NULL, 0);
	for (uint64_t end = now_ms() + 3000; !t->closed && now_ms() < end;)
		uv_run(&t->loop, UV_RUN_NOWAIT);
	assert_int_equal(t->drains, 1);
	assert_true(t->closed);
	assert_int_equal(uv_run(&t->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&t->loop), 0);
	assert_int_not_equal(access(t->path, F_OK), 0);
	close(afd);
	rmdir(t->dir);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_channel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
