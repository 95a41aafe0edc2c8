/* SPDX-License-Identifier: Apache-2.0 */
/*
 * observe.c - `sluice observe`: flows from the agent, as compact lines or
 * Hubble-style JSON. Filtering happens in the agent, so a follow stream
 * carries only what was asked for. --follow survives agent restarts.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/util.h"
#include "cli.h"
#include "client.h"

static bool color;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sluice observe [OPTIONS]\n\n"
		"Flows and verdicts, from the kernel and the L7 proxy.\n\n"
		"  -f, --follow            keep streaming new flows\n"
		"      --last N            the last N matching flows (default 20 without --follow)\n"
		"      --since DURATION    flows of the last DURATION (e.g. 30s, 5m, 1h)\n"
		"  -o, --output FORMAT     compact (default) or json\n"
		"Filters (same filter repeated: OR; different filters: AND):\n"
		"      --verdict V         FORWARDED, DROPPED, REDIRECTED (also ALLOWED, DENIED)\n"
		"      --pod [NS/]NAME     either side     --from-pod, --to-pod\n"
		"      --namespace NS      either side\n"
		"      --label K=V         either side     --from-label, --to-label\n"
		"      --identity N        either side\n"
		"      --port N            either side\n"
		"      --protocol P        tcp, udp, icmp, http\n"
		"      --type T            l3-l4, l7, policy-verdict\n"
		"      --http-method M     --http-path REGEX     --http-status CODE|4xx\n"
		"      --not               invert the next filter\n");
}

static int parse_duration(const char *s, uint64_t *ns)
{
	char *end;
	double v = strtod(s, &end);
	double mult = 1e9;

	if (end == s || v < 0)
		return -EINVAL;
	if (!strcmp(end, "ms"))
		mult = 1e6;
	else if (!strcmp(end, "s") || !*end)
		mult = 1e9;
	else if (!strcmp(end, "m"))
		mult = 60e9;
	else if (!strcmp(end, "h"))
		mult = 3600e9;
	else if (!strcmp(end, "d"))
		mult = 86400e9;
	else
		return -EINVAL;
	*ns = (uint64_t)(v * mult);
	return 0;
}

static const char *peer_name(json_t *p, char *buf, size_t len)
{
	const char *ns = json_string_value(json_object_get(p, "namespace"));
	const char *pod = json_string_value(json_object_get(p, "pod_name"));
	json_int_t id = json_integer_value(json_object_get(p, "identity"));

	if (pod && *pod)
		snprintf(buf, len, "%s/%s", ns, pod);
	else if (id == 1)
		snprintf(buf, len, "host");
	else if (id == 2)
		snprintf(buf, len, "world");
	else
		snprintf(buf, len, "identity %lld", (long long)id);
	return buf;
}

static const char *drop_text(const char *desc)
{
	if (!desc)
		return "Dropped";
	if (!strcmp(desc, "POLICY_DENIED"))
		return "Policy denied";
	if (!strcmp(desc, "POLICY_DENY"))
		return "Policy denied by deny rule";
	if (!strcmp(desc, "PROXY_UNAVAILABLE"))
		return "Proxy unavailable";
	if (!strcmp(desc, "INVALID_SOURCE_IP"))
		return "Invalid source IP";
	if (!strcmp(desc, "UNSUPPORTED_L3_PROTOCOL"))
		return "Unsupported L3 protocol";
	return desc;
}

static void print_compact(json_t *flow)
{
	json_t *l4 = json_object_get(flow, "l4"), *l7 = json_object_get(flow, "l7");
	json_t *ip = json_object_get(flow, "IP");
	const char *verdict = json_string_value(json_object_get(flow, "verdict"));
	const char *t = json_string_value(json_object_get(flow, "time"));
	bool denied = verdict && !strcmp(verdict, "DROPPED");
	char src[300], dst[400], when[64] = "", detail[600], kind[32];
	const char *proto = "ip";
	json_int_t sport = 0, dport = 0;
	const char *k;
	json_t *v;

	json_object_foreach(l4, k, v) {
		proto = k;
		sport = json_integer_value(json_object_get(v, "source_port"));
		dport = json_integer_value(json_object_get(v, "destination_port"));
	}
	(void)sport;
	if (t) {
		struct tm tm = { 0 };
		static const char *mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
		int ms = 0;

		if (sscanf(t, "%d-%d-%dT%d:%d:%d.%3d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
			   &tm.tm_min, &tm.tm_sec, &ms) >= 6 && tm.tm_mon >= 1 && tm.tm_mon <= 12)
			snprintf(when, sizeof(when), "%s %02d %02d:%02d:%02d.%03d", mon[tm.tm_mon - 1],
				 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
	}
	peer_name(json_object_get(flow, "source"), src, sizeof(src));
	peer_name(json_object_get(flow, "destination"), dst, sizeof(dst));
	if (!strncmp(dst, "identity", 8) || !strcmp(dst, "world") || !strcmp(dst, "host")) {
		char tmp[400];

		snprintf(tmp, sizeof(tmp), "%.300s(%.64s)", dst,
			 json_string_value(json_object_get(ip, "destination")) ?: "?");
		snprintf(dst, sizeof(dst), "%s", tmp);
	}
	if (l7) {
		json_t *http = json_object_get(l7, "http");
		const char *type = json_string_value(json_object_get(l7, "type"));
		bool resp = type && !strcmp(type, "RESPONSE");

		snprintf(kind, sizeof(kind), "http-%s", resp ? "response" : "request");
		if (resp)
			snprintf(detail, sizeof(detail), "%s %s => %lld",
				 json_string_value(json_object_get(http, "method")) ?: "",
				 json_string_value(json_object_get(http, "url")) ?: "",
				 (long long)json_integer_value(json_object_get(http, "code")));
		else
			snprintf(detail, sizeof(detail), "%s %s",
				 json_string_value(json_object_get(http, "method")) ?: "",
				 json_string_value(json_object_get(http, "url")) ?: "");
	} else {
		const char *dir = json_string_value(json_object_get(flow, "traffic_direction"));

		if (!strcmp(proto, "TCP"))
			snprintf(kind, sizeof(kind), "tcp-connect");
		else if (!strcmp(proto, "UDP"))
			snprintf(kind, sizeof(kind), "udp");
		else if (!strcmp(proto, "ICMPv4"))
			snprintf(kind, sizeof(kind), "icmp");
		else
			snprintf(kind, sizeof(kind), "%s", proto);
		if (denied)
			snprintf(detail, sizeof(detail), "%s",
				 drop_text(json_string_value(json_object_get(flow, "drop_reason_desc"))));
		else
			snprintf(detail, sizeof(detail), "%s %s",
				 json_string_value(json_object_get(flow, "policy_match_type")) ?: "",
				 dir ? dir : "");
	}
	if (dport)
		printf("%s  %s → %s:%lld  %s %s%s%s (%s)\n", when, src, dst, (long long)dport, kind,
		       color ? (denied ? "\033[31m" : "\033[32m") : "", denied ? "DENIED" : "ALLOWED",
		       color ? "\033[0m" : "", detail);
	else
		printf("%s  %s → %s  %s %s%s%s (%s)\n", when, src, dst, kind,
		       color ? (denied ? "\033[31m" : "\033[32m") : "", denied ? "DENIED" : "ALLOWED",
		       color ? "\033[0m" : "", detail);
}

int cli_observe(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "last", required_argument, NULL, 'L' },
		{ "since", required_argument, NULL, 'S' },
		{ "output", required_argument, NULL, 'o' },
		{ "not", no_argument, NULL, 'N' },
		{ "verdict", required_argument, NULL, 1000 },
		{ "pod", required_argument, NULL, 1001 },
		{ "from-pod", required_argument, NULL, 1002 },
		{ "to-pod", required_argument, NULL, 1003 },
		{ "namespace", required_argument, NULL, 1004 },
		{ "label", required_argument, NULL, 1005 },
		{ "from-label", required_argument, NULL, 1006 },
		{ "to-label", required_argument, NULL, 1007 },
		{ "identity", required_argument, NULL, 1008 },
		{ "port", required_argument, NULL, 1009 },
		{ "protocol", required_argument, NULL, 1010 },
		{ "type", required_argument, NULL, 1011 },
		{ "http-method", required_argument, NULL, 1012 },
		{ "http-path", required_argument, NULL, 1013 },
		{ "http-status", required_argument, NULL, 1014 },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static const char *fields[] = { "verdict", "pod", "from-pod", "to-pod", "namespace", "label",
					"from-label", "to-label", "identity", "port", "protocol",
					"type", "http-method", "http-path", "http-status" };
	json_t *filters = json_array();
	bool follow = false, json_out = false, negate = false, reconnecting = false;
	json_int_t last = -1;
	uint64_t since = 0;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "fo:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': follow = true; break;
		case 'L': last = atoll(optarg); break;
		case 'S':
			if (parse_duration(optarg, &since)) {
				fprintf(stderr, "sluice: invalid --since \"%s\" (e.g. 30s, 5m, 1h)\n", optarg);
				return 2;
			}
			break;
		case 'o':
			if (!strcmp(optarg, "json") || !strcmp(optarg, "jsonpb"))
				json_out = true;
			else if (strcmp(optarg, "compact")) {
				fprintf(stderr, "sluice: unknown output \"%s\" (compact or json)\n", optarg);
				return 2;
			}
			break;
		case 'N': negate = true; break;
		case 'h': usage(stdout); return 0;
		default:
			if (c >= 1000 && c <= 1014) {
				json_array_append_new(filters, json_pack("{s:s,s:s,s:b}", "field", fields[c - 1000],
									  "value", optarg, "not", negate));
				negate = false;
				break;
			}
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sluice: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	color = isatty(STDOUT_FILENO) && !json_out;
	if (isatty(STDOUT_FILENO))
		setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		json_t *req = json_pack("{s:s,s:b,s:O}", "cmd", "observe", "follow", follow, "filters", filters);
		json_t *msg;
		int fd;

		if (last >= 0 && !reconnecting)
			json_object_set_new(req, "last", json_integer(last));
		if (since && !reconnecting)
			json_object_set_new(req, "since_ns", json_integer((json_int_t)(sl_now_ns() - since)));
		if (reconnecting) /* nothing old again: new flows only */
			json_object_set_new(req, "last", json_integer(0));
		fd = client_connect();
		if (fd < 0) {
			json_decref(req);
			if (!reconnecting)
				return 1;
			sleep(1);
			continue;
		}
		if (reconnecting)
			fprintf(stderr, "sluice: reconnected to the agent\n");
		client_send(fd, req);
		json_decref(req);
		for (;;) {
			const char *raw = json_out ? client_read_raw(fd) : NULL;
			json_t *flow;

			/* -o json: a flow line is printed as the agent wrote it */
			if (raw && !strncmp(raw, "{\"flow\":", 8)) {
				fputs(raw, stdout);
				fputc('\n', stdout);
				continue;
			}
			msg = raw ? json_loads(raw, 0, NULL) : (json_out ? NULL : client_read(fd));
			if (!msg)
				break;
			flow = json_object_get(msg, "flow");

			if (flow) {
				if (json_out) {
					char *s = json_dumps(msg, JSON_COMPACT);

					printf("%s\n", s);
					free(s);
				} else {
					print_compact(flow);
				}
			} else if (json_object_get(msg, "ok") && !json_is_true(json_object_get(msg, "ok"))) {
				fprintf(stderr, "sluice: %s\n",
					json_string_value(json_object_get(msg, "error")) ?: "observe failed");
				json_decref(msg);
				close(fd);
				return 1;
			} else if (json_is_true(json_object_get(msg, "end"))) {
				json_decref(msg);
				close(fd);
				return 0;
			}
			json_decref(msg);
		}
		close(fd);
		if (!follow)
			return 0;
		fprintf(stderr, "sluice: lost the agent, reconnecting...\n");
		reconnecting = true;
		sleep(1);
	}
}
