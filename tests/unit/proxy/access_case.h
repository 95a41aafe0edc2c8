/* SPDX-License-Identifier: Apache-2.0 */
/*
 * access_case.h - one proxied exchange (flow, exchange, event) as the
 * proxy's access-log and access-record writers take it: the fixture of
 * tests/unit/proxy/test_access_record.c and tests/unit/agent/test_access_json.c.
 */
#ifndef SLUICE_TEST_ACCESS_CASE_H
#define SLUICE_TEST_ACCESS_CASE_H

#include <arpa/inet.h>
#include <string.h>

#include "proxy.h"

struct rec_case {
	struct proxy_flow flow;
	struct http_exchange x;
	struct proxy_event ev;
};

static void rec_case_init(struct rec_case *c, const char *path, int status)
{
	memset(c, 0, sizeof(*c));
	c->flow.ep_id = 7;
	c->flow.direction = 1;
	c->flow.src.identity = 4097;
	c->flow.src.addr.in.sin_family = AF_INET;
	c->flow.src.addr.in.sin_port = htons(41234);
	inet_pton(AF_INET, "10.244.0.3", &c->flow.src.addr.in.sin_addr);
	c->flow.dst.identity = 4098;
	c->flow.dst.addr.in.sin_family = AF_INET;
	c->flow.dst.addr.in.sin_port = htons(8080);
	inet_pton(AF_INET, "10.244.0.2", &c->flow.dst.addr.in.sin_addr);
	c->x.method = "GET";
	c->x.method_len = 3;
	c->x.host = "backend:8080";
	c->x.host_len = strlen(c->x.host);
	c->x.path = path;
	c->x.path_len = strlen(path);
	c->x.http_minor = 1;
	c->x.status = status;
	c->x.verdict = status == 403 ? HTTP_VERDICT_DENIED : HTTP_VERDICT_ALLOWED;
	c->x.start_ns = 1000;
	c->x.end_ns = 43000;
	c->x.upstream_sent_ns = 2000;
	c->x.upstream_first_ns = 12000;
	c->x.bytes_in = 78;
	c->x.bytes_out = 98;
	c->ev.flow = &c->flow;
	c->ev.x = &c->x;
	c->ev.wall_start_us = 1764950000123456;
}

#endif
