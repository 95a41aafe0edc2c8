/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server API as the agent uses it: a proxy on its own loop thread, rules
 * published from another thread (the next request on an open connection
 * sees them), the event hook, the counters, and a clean close with
 * connections still open.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "proxy.h"
#include "rules_json.h"

struct srv_test {
	uv_loop_t loop;
	uv_async_t stop;
	struct proxy_server *srv;
	uint16_t port;
	int up_fd;
	uint16_t up_port;
	atomic_int events;
	atomic_int denied_events;
	struct proxy_counters cnt;
	pthread_t loop_thread, up_thread;
};

/* A blocking upstream: answers every request head with "ok". */
static void *srv_upstream(void *arg)
{
	struct srv_test *t = arg;

	for (;;) {
		int fd = accept(t->up_fd, NULL, NULL);
		char buf[4096];
		size_t have = 0;
		if (fd < 0)
			return NULL;
		for (;;) {
			ssize_t n = read(fd, buf + have, sizeof(buf) - have);
			char *end;
			if (n <= 0)
				break;
			have += (size_t)n;
			while ((end = memmem(buf, have, "\r\n\r\n", 4))) {
				static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
				size_t used = (size_t)(end + 4 - buf);
				if (write(fd, resp, sizeof(resp) - 1) < 0)
					break;
				memmove(buf, buf + used, have - used);
				have -= used;
			}
		}
		close(fd);
	}
}

static void srv_on_event(void *ctx, const struct proxy_event *ev)
{
	struct srv_test *t = ctx;

	atomic_fetch_add(&t->events, 1);
	if (ev->x->verdict == HTTP_VERDICT_DENIED)
		atomic_fetch_add(&t->denied_events, 1);
	assert_int_equal(ev->flow->peer_identity, 4097);
}

static void srv_on_stop(uv_async_t *a)
{
	struct srv_test *t = a->data;

	proxy_server_counters(t->srv, &t->cnt);
	proxy_server_close(t->srv);
	uv_close((uv_handle_t *)&t->stop, NULL);
}

static void *srv_loop(void *arg)
{
	struct srv_test *t = arg;

	uv_run(&t->loop, UV_RUN_DEFAULT);
	return NULL;
}

static struct proxy_rules_table *srv_rules(const char *json)
{
	struct proxy_rules_table *tab = NULL;
	char *err = NULL;

	if (proxy_rules_json_load(json, strlen(json), NULL, &tab, &err))
		fail_msg("rules: %s", err);
	return tab;
}

static int srv_status(int fd, const char *path)
{
	char req[256], buf[512];
	size_t have = 0;
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);

	assert_int_equal(write(fd, req, (size_t)n), n);
	for (;;) {
		char *end, *cl;
		ssize_t r = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (r <= 0)
			return -1;
		have += (size_t)r;
		buf[have] = 0;
		end = strstr(buf, "\r\n\r\n");
		cl = strstr(buf, "Content-Length: ");
		if (end && cl && have >= (size_t)(end + 4 - buf) + (size_t)atoi(cl + 16))
			return atoi(buf + 9);
	}
}

static void test_server_publish_rules(void **state)
{
	struct srv_test *t = calloc(1, sizeof(*t));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	union proxy_sockaddr up, bound, lst;
	struct proxy_config cfg;
	struct proxy_resolver *res;
	char *err = NULL;
	int fd, st;

	(void)state;
	/* upstream */
	t->up_fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(t->up_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(t->up_fd, 16), 0);
	getsockname(t->up_fd, (struct sockaddr *)&a, &alen);
	memset(&up, 0, sizeof(up));
	up.in = a;
	pthread_create(&t->up_thread, NULL, srv_upstream, t);

	/* proxy on its own loop thread */
	uv_loop_init(&t->loop);
	proxy_config_defaults(&cfg);
	res = proxy_resolver_static_new(&up, 7, 0, 4097);
	t->srv = proxy_server_new(&t->loop, &cfg, res, &err);
	assert_non_null(t->srv);
	proxy_server_set_event_cb(t->srv, srv_on_event, t);
	memset(&lst, 0, sizeof(lst));
	uv_ip4_addr("127.0.0.1", 0, &lst.in);
	assert_int_equal(proxy_server_listen(t->srv, &lst.sa), 0);
	proxy_server_address(t->srv, &bound);
	t->port = proxy_sockaddr_port(&bound);
	uv_async_init(&t->loop, &t->stop, srv_on_stop);
	t->stop.data = t;
	pthread_create(&t->loop_thread, NULL, srv_loop, t);

	/* no rules yet: fail closed */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_port = htons(t->port);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(srv_status(fd, "/a"), 403);

	/* rules published from this thread apply to the next request */
	{
		char json[256];
		snprintf(json, sizeof(json),
			 "{\"policies\":[{\"ep_id\":7,\"direction\":\"ingress\",\"port\":%u,"
			 "\"peer_identity\":4097,\"rules\":[{\"path\":\"/a\"}]}]}", t->up_port = proxy_sockaddr_port(&up));
		assert_int_equal(proxy_server_publish_rules(t->srv, srv_rules(json)), 0);
	}
	for (int i = 0; i < 200 && (st = srv_status(fd, "/a")) != 200; i++)
		usleep(5000);
	assert_int_equal(st, 200);
	assert_int_equal(srv_status(fd, "/b"), 403);
	/* swap again, same connection: /a now denied, /b allowed */
	{
		char json[256];
		snprintf(json, sizeof(json),
			 "{\"policies\":[{\"ep_id\":7,\"direction\":\"ingress\",\"port\":%u,"
			 "\"peer_identity\":0,\"rules\":[{\"path\":\"/b\"}]}]}", t->up_port);
		assert_int_equal(proxy_server_publish_rules(t->srv, srv_rules(json)), 0);
	}
	for (int i = 0; i < 200 && (st = srv_status(fd, "/b")) != 200; i++)
		usleep(5000);
	assert_int_equal(st, 200);
	assert_int_equal(srv_status(fd, "/a"), 403);

	/* close with this connection still open */
	uv_async_send(&t->stop);
	pthread_join(t->loop_thread, NULL);
	assert_int_equal(uv_loop_close(&t->loop), 0);
	assert_true(t->cnt.requests_allowed >= 2);
	assert_true(t->cnt.requests_denied >= 3);
	assert_int_equal(t->cnt.conns_total, 1);
	assert_int_equal(atomic_load(&t->events),
			 (int)(t->cnt.requests_allowed + t->cnt.requests_denied + t->cnt.requests_error));
	assert_true(atomic_load(&t->denied_events) >= 3);
	close(fd);
	shutdown(t->up_fd, SHUT_RDWR);
	close(t->up_fd);
	pthread_join(t->up_thread, NULL);
	free(t);
}

/* A resolver like the datapath one will be: per-listener data, its own
 * upstream sockets. */
struct hook_resolver {
	struct proxy_resolver base;
	union proxy_sockaddr up;
	atomic_int resolved, sockets, closed, released;
	void *seen_listener_data;
};

static int hook_resolve(struct proxy_resolver *r, int fd, void *listener_data,
			const union proxy_sockaddr *peer, const union proxy_sockaddr *local,
			struct proxy_flow *out)
{
	struct hook_resolver *h = (struct hook_resolver *)r;

	(void)fd;
	(void)local;
	memset(out, 0, sizeof(*out));
	out->ep_id = 9;
	out->peer_identity = 4097;
	out->orig_dst = h->up;
	out->src.addr = *peer;
	out->src.pod = "client-pod";
	out->src.ns = "ns1";
	h->seen_listener_data = listener_data;
	atomic_fetch_add(&h->resolved, 1);
	return 0;
}

static int hook_upstream_socket(struct proxy_resolver *r, struct proxy_flow *flow, void **up_data)
{
	struct hook_resolver *h = (struct hook_resolver *)r;

	assert_int_equal(flow->ep_id, 9);
	*up_data = h;
	atomic_fetch_add(&h->sockets, 1);
	return socket(AF_INET, SOCK_STREAM, 0);
}

static void hook_upstream_closed(struct proxy_resolver *r, void *up_data)
{
	assert_ptr_equal(up_data, r);
	atomic_fetch_add(&((struct hook_resolver *)r)->closed, 1);
}

static void hook_release(struct proxy_resolver *r, struct proxy_flow *flow)
{
	(void)flow;
	atomic_fetch_add(&((struct hook_resolver *)r)->released, 1);
}

static void hook_destroy(struct proxy_resolver *r)
{
	(void)r; /* the test frees it, after reading its counters */
}

static void test_server_listen_fd_and_hooks(void **state)
{
	struct srv_test *t = calloc(1, sizeof(*t));
	struct hook_resolver *hr = calloc(1, sizeof(*hr));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct proxy_listener *l = NULL;
	struct proxy_config cfg;
	char *err = NULL, json[256];
	int lfd, fd;
	uint16_t lport;
	static int endpoint_tag;

	(void)state;
	t->up_fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(t->up_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(t->up_fd, 16), 0);
	getsockname(t->up_fd, (struct sockaddr *)&a, &alen);
	hr->up.in = a;
	pthread_create(&t->up_thread, NULL, srv_upstream, t);

	/* a listening socket made elsewhere (the agent, in a pod netns) */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_port = 0;
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 16), 0);
	alen = sizeof(a);
	getsockname(lfd, (struct sockaddr *)&a, &alen);
	lport = ntohs(a.sin_port);

	hr->base.resolve = hook_resolve;
	hr->base.upstream_socket = hook_upstream_socket;
	hr->base.upstream_closed = hook_upstream_closed;
	hr->base.release = hook_release;
	hr->base.destroy = hook_destroy;
	uv_loop_init(&t->loop);
	proxy_config_defaults(&cfg);
	t->srv = proxy_server_new(&t->loop, &cfg, &hr->base, &err);
	snprintf(json, sizeof(json),
		 "{\"policies\":[{\"ep_id\":9,\"direction\":\"ingress\",\"port\":%u,"
		 "\"peer_identity\":0,\"rules\":[{\"path\":\"/a\"}]}]}",
		 proxy_sockaddr_port(&hr->up));
	proxy_server_set_rules(t->srv, srv_rules(json));
	assert_int_equal(proxy_server_listen_fd(t->srv, lfd, &endpoint_tag, &l), 0);
	assert_non_null(l);
	uv_async_init(&t->loop, &t->stop, srv_on_stop);
	t->stop.data = t;
	pthread_create(&t->loop_thread, NULL, srv_loop, t);

	fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_port = htons(lport);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(srv_status(fd, "/a"), 200);
	assert_int_equal(srv_status(fd, "/a"), 200);
	assert_int_equal(srv_status(fd, "/x"), 403);
	assert_ptr_equal(hr->seen_listener_data, &endpoint_tag);
	assert_int_equal(atomic_load(&hr->resolved), 1);
	assert_int_equal(atomic_load(&hr->sockets), 1); /* one upstream, reused */
	close(fd);

	uv_async_send(&t->stop);
	pthread_join(t->loop_thread, NULL);
	assert_int_equal(uv_loop_close(&t->loop), 0);
	assert_int_equal(atomic_load(&hr->closed), atomic_load(&hr->sockets));
	assert_int_equal(atomic_load(&hr->released), 1);
	free(hr);
	shutdown(t->up_fd, SHUT_RDWR);
	close(t->up_fd);
	pthread_join(t->up_thread, NULL);
	free(t);
}

static void drain_on_stop(uv_async_t *a)
{
	struct srv_test *t = a->data;

	proxy_server_drain(t->srv, 5000);
	uv_close((uv_handle_t *)&t->stop, NULL);
}

static void drain_closed(void *ctx)
{
	atomic_store((atomic_int *)ctx, 1);
}

/* Drain: idle connections close at once, the server goes away, the loop ends. */
static void test_server_drain(void **state)
{
	struct srv_test *t = calloc(1, sizeof(*t));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	union proxy_sockaddr up, bound, lst;
	struct proxy_config cfg;
	atomic_int closed = 0;
	char *err = NULL, json[256], c;
	int fd;

	(void)state;
	t->up_fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(t->up_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(t->up_fd, 16), 0);
	getsockname(t->up_fd, (struct sockaddr *)&a, &alen);
	memset(&up, 0, sizeof(up));
	up.in = a;
	pthread_create(&t->up_thread, NULL, srv_upstream, t);
	uv_loop_init(&t->loop);
	proxy_config_defaults(&cfg);
	t->srv = proxy_server_new(&t->loop, &cfg, proxy_resolver_static_new(&up, 7, 0, 4097), &err);
	proxy_server_set_closed_cb(t->srv, drain_closed, &closed);
	snprintf(json, sizeof(json),
		 "{\"policies\":[{\"ep_id\":7,\"direction\":\"ingress\",\"port\":%u,"
		 "\"peer_identity\":0,\"allow_all\":true}]}", proxy_sockaddr_port(&up));
	proxy_server_set_rules(t->srv, srv_rules(json));
	memset(&lst, 0, sizeof(lst));
	uv_ip4_addr("127.0.0.1", 0, &lst.in);
	assert_int_equal(proxy_server_listen(t->srv, &lst.sa), 0);
	proxy_server_address(t->srv, &bound);
	uv_async_init(&t->loop, &t->stop, drain_on_stop);
	t->stop.data = t;
	pthread_create(&t->loop_thread, NULL, srv_loop, t);

	fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_port = htons(proxy_sockaddr_port(&bound));
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(srv_status(fd, "/anything"), 200);
	uv_async_send(&t->stop);
	assert_int_equal(read(fd, &c, 1), 0); /* the idle connection is closed */
	pthread_join(t->loop_thread, NULL);   /* and the loop ends */
	assert_int_equal(atomic_load(&closed), 1);
	assert_int_equal(uv_loop_close(&t->loop), 0);
	close(fd);
	shutdown(t->up_fd, SHUT_RDWR);
	close(t->up_fd);
	pthread_join(t->up_thread, NULL);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_publish_rules),
		cmocka_unit_test(test_server_listen_fd_and_hooks),
		cmocka_unit_test(test_server_drain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
