/* SPDX-License-Identifier: Apache-2.0 */
/*
 * observe.c - `sluice observe`: flows from the agent, as compact lines or
 * Hubble-style JSON. Filtering happens in the agent, so a follow stream
 * carries only what was asked for. Filters are checked here first (a bad
 * value exits 2). Like `hubble observe`, --follow ends with an error
 * (exit 1) when it loses the agent; with --reconnect it waits for the
 * agent, asks for the flows since the loss and reports the gap.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/flow_filter.h"
#include "../common/flow_json.h"
#include "../common/flow_match.h"
#include "../common/flow_wire.h"
#include "../common/util.h"
#include "cli.h"
#include "client.h"
#include "flow_print.h"
#include "observe_filter.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sluice observe [OPTIONS]\n\n"
		"Flows and verdicts, from the kernel and the L7 proxy.\n\n"
		"  -f, --follow            keep streaming new flows; exits 1 if the agent goes away\n"
		"      --reconnect         with --follow: wait for the agent to come back and\n"
		"                          report the gap instead of exiting\n"
		"      --last N            the last N matching flows (default 20 without --follow)\n"
		"      --all               every matching flow the agent holds\n"
		"      --first N           the first N matching flows the agent holds\n"
		"      --since WHEN        flows from WHEN: a duration back (30s, 5m, 1h), an\n"
		"                          RFC 3339 time (2026-12-05T10:12:52Z), or hubble's\n"
		"                          2026-12-05, 2026-12-05T10Z, 2026-12-05T10:12+01:00,\n"
		"                          RFC 1123Z (Sat, 05 Dec 2026 10:12:52 +0000)\n"
		"      --until WHEN        flows up to WHEN (not with --follow)\n"
		"  -o, --output FORMAT     compact (default), dict, table (not with --follow)\n"
		"                          or json (jsonpb), as hubble observe prints them\n"
		"  -j, --json              the same as -o json\n"
		"      --print-node-name   the node of each flow (compact, dict, table)\n"
		"      --print-policy-names  the policies that decided a policy verdict\n"
		"                          (ALLOWED BY name (kind), ...)\n"
		"      --numeric           addresses, not pod or service names (also\n"
		"                          --ip-translation=false)\n"
		"      --color WHEN        auto (default: on a terminal), always or never\n"
		"      --time-format F     StampMilli (default, \"Dec  6 10:12:52.123\"), RFC3339,\n"
		"                          RFC3339Milli/Micro/Nano, RFC1123Z, YearMonthDay[Hour[Minute]]\n"
		"  -A, --all-namespaces    pods of any namespace (--from-, --to-all-namespaces)\n"
		"      --input-file FILE   flows from FILE (- for standard input), lines of\n"
		"                          observe -o json or hubble observe -o json, not the agent's\n"
		"                          (all of them without --last; a bad line is skipped)\n"
		"      --print-raw-filters print the allowlist and denylist (Hubble FlowFilters)\n"
		"                          and exit\n"
		"      --allowlist JSON    a raw FlowFilter to allow   --denylist JSON  to deny\n"
		"Filters, as hubble observe builds them: the same flag repeated is OR,\n"
		"different flags AND; an \"either side\" flag matches the source (with the\n"
		"source side of the others) or the destination:\n"
		"      --verdict V         FORWARDED, DROPPED, REDIRECTED, ERROR, AUDIT\n"
		"                          (also ALLOWED = not dropped, DENIED = DROPPED)\n"
		"      --pod [NS/]PREFIX   either side     --from-pod, --to-pod (NS: default)\n"
		"  -n, --namespace NS      either side     --from-namespace, --to-namespace\n"
		"  -l, --label SELECTOR    either side     --from-label, --to-label\n"
		"                          (k=v,k2!=v,k3,!k4,k5 in (a,b); k8s:app=x)\n"
		"      --identity N|NAME   either side     --from-identity, --to-identity\n"
		"      --ip IP|CIDR        either side     --from-ip, --to-ip\n"
		"      --port N            either side     --from-port, --to-port (0-65535)\n"
		"      --protocol P        tcp, udp, sctp, icmp, http\n"
		"      --tcp-flags F[,F]   all of these set (SYN, ACK, FIN, RST, ...)\n"
		"      --to-service [NS/]NAME  through that ClusterIP (--service: either side;\n"
		"                          a source is never a service here)\n"
		"      --traffic-direction ingress or egress (whose policy decided)\n"
		"  -t, --type T[:SUB]      drop, trace[:to-endpoint|:to-proxy|:to-stack],\n"
		"                          policy-verdict, l7, l3-l4 (drop, trace and\n"
		"                          policy-verdict), or numbers (129, 4:1)\n"
		"      --http-method M     --http-path REGEX     --http-status CODE|4xx\n"
		"      --http-url REGEX    the absolute URL (http://host/path)\n"
		"      --drop-reason-desc R  e.g. POLICY_DENIED, PROXY_UNAVAILABLE\n"
		"      --node-name GLOB    the agent's node (\"node-*\", \"default/node-a\")\n"
		"      --cluster NAME      either side's cluster (--from-cluster, --to-cluster)\n"
		"      --encrypted, --unencrypted  (no flow here is encrypted)\n"
		"      --node-label, --snat-ip, --interface, --http-header K:V, --trace-id,\n"
		"      --ip-trace-id, --ip-trace-option  hubble's; sluice's flows carry none of\n"
		"                          these, so they match no flow\n"
		"  -4, -6, --ip-version V  IPv4 or IPv6 flows\n"
		"      --fqdn NAME         either side (no flow has names: sluice has no DNS proxy)\n"
		"      --uuid UUID         the flow of that uuid (-o json shows each flow's)\n"
		"      --workload [KIND/]NAME  either side (--from-workload, --to-workload): a\n"
		"                          Kubernetes pod's owner, as Hubble names it (Deployment web)\n"
		"      --not               the next filter goes to the denylist: a flow matching\n"
		"                          all of the --not filters is not shown\n");
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
	if (!(v * mult < 1e19)) /* also NaN and infinity */
		return -EINVAL;
	*ns = (uint64_t)(v * mult);
	return 0;
}

/*
 * --since/--until as Hubble takes them: a duration back from now (30s, 5m,
 * 1h) or an RFC 3339 time (2026-12-05T10:12:52Z, with a fraction or an
 * offset such as +01:00). The answer is wall-clock ns since the epoch.
 */
/* Go's "Z07:00" at p: "Z" or "+hh:mm"/"-hh:mm"; the offset in seconds, or
 * -1 when p is not one (and nothing may follow it) */
static long zone_offset(const char *p, bool *ok)
{
	int hh, mm;

	*ok = false;
	if (!strcmp(p, "Z") || !strcmp(p, "z")) {
		*ok = true;
		return 0;
	}
	if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':' && sscanf(p + 1, "%2d:%2d", &hh, &mm) == 2 &&
	    hh <= 23 && mm <= 59) {
		*ok = true;
		return (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
	}
	return 0;
}

/* s starts with shape ('d' a digit, anything else itself) */
static bool has_shape(const char *s, const char *shape)
{
	for (; *shape; s++, shape++)
		if (*shape == 'd' ? !(*s >= '0' && *s <= '9') : *s != *shape)
			return false;
	return true;
}

/*
 * Hubble's other layouts (hubble/pkg/time FromString): YearMonthDay
 * (2006-01-02, UTC), YearMonthDayHour (2006-01-02T15Z07:00),
 * YearMonthDayHourMinute (2006-01-02T15:04Z07:00) and RFC1123Z
 * (Mon, 02 Jan 2006 15:04:05 -0700).
 */
static int parse_layouts(const char *s, uint64_t *abs_ns)
{
	struct tm tm = { 0 };
	const char *p = NULL;
	long off = 0;
	bool ok = false;
	time_t t;

	if (has_shape(s, "dddd-dd-dd")) {
		sscanf(s, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
		tm.tm_year -= 1900;
		tm.tm_mon -= 1;
		if (!s[10])
			ok = true;
		else if (has_shape(s + 10, "Tdd:dd")) {
			sscanf(s + 11, "%2d:%2d", &tm.tm_hour, &tm.tm_min);
			off = zone_offset(s + 16, &ok);
		} else if (has_shape(s + 10, "Tdd")) {
			sscanf(s + 11, "%2d", &tm.tm_hour);
			off = zone_offset(s + 13, &ok);
		}
		ok = ok && tm.tm_mon >= 0 && tm.tm_mon < 12 && tm.tm_mday >= 1 && tm.tm_mday <= 31 &&
		     tm.tm_hour < 24 && tm.tm_min < 60;
	} else if ((p = strptime(s, "%a, %d %b %Y %H:%M:%S ", &tm)) && (*p == '+' || *p == '-') &&
		   strlen(p) == 5 && strspn(p + 1, "0123456789") == 4) {
		int v = atoi(p + 1);

		off = ((v / 100) * 3600L + (v % 100) * 60L) * (*p == '-' ? -1 : 1);
		ok = true;
	}
	if (!ok)
		return -EINVAL;
	t = timegm(&tm) - off;
	if (t < 0)
		return -EINVAL;
	*abs_ns = (uint64_t)t * 1000000000ull;
	return 0;
}

static int parse_when(const char *s, uint64_t *abs_ns)
{
	uint64_t ns = 0;

	if (!parse_duration(s, &ns)) {
		uint64_t now = sl_now_ns();

		*abs_ns = ns < now ? now - ns : 1;
		return 0;
	}
	if (!sl_parse_rfc3339(s, abs_ns))
		return 0;
	return parse_layouts(s, abs_ns);
}

static bool all_digits(const char *v)
{
	return *v && strspn(v, "0123456789") == strlen(v);
}

/* Flows that came in the binary wire form: -o json renders them here, with
 * the agent's own renderer, as the line the agent would have sent; the
 * text forms print the decoded flow as it is (flow_print.c). */
struct render {
	bool json_out;
	bool print_node;   /* --print-node-name */
	struct flow_printer text;
	char *buf;
	size_t cap;
};

static int on_wire_flow(void *ctx, const struct sl_flow_view *f, const char *node)
{
	struct render *r = ctx;
	size_t need, n;

	if (!r->json_out) {
		r->text.node = r->print_node ? node : NULL;
		flow_print(&r->text, stdout, f);
		return 0;
	}
	need = sl_flow_json_max(f, node) + 1;
	if (need > r->cap) {
		free(r->buf);
		r->cap = need * 2;
		r->buf = malloc(r->cap);
		if (!r->buf)
			abort();
	}
	n = sl_flow_json(f, node, r->buf);
	r->buf[n++] = '\n';
	fwrite(r->buf, 1, n, stdout);
	return 0;
}

static const char *clock_str(uint64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, len, "%H:%M:%S", &tm);
	return buf;
}

/* the flow of a line: Hubble's GetFlowsResponse {"flow": ...}, or a bare
 * Flow (a file made with jq .flow); NULL for the other responses
 * (node_status, lost_events), which are skipped */
static json_t *line_flow(json_t *msg)
{
	json_t *f = json_object_get(msg, "flow");

	if (json_is_object(f))
		return f;
	return json_object_get(msg, "verdict") || json_object_get(msg, "IP") ? msg : NULL;
}

/* One flow line of an --input-file, selected: printed in the chosen form
 * (-o json: the line as it was read), from the flow's own fields, as
 * Hubble prints a flow of any agent. */
static void file_print(struct render *r, const char *line, json_t *msg)
{
	json_t *flow = line_flow(msg);

	if (r->json_out) {
		fputs(line, stdout);
		fputc('\n', stdout);
		return;
	}
	if (!flow) { /* a lost_events response: hubble's EVENTS LOST */
		r->text.node = r->print_node ? json_string_value(json_object_get(msg, "node_name")) ?: "" : NULL;
		flow_print_lost(&r->text, stdout, msg);
		return;
	}
	r->text.node = r->print_node ? json_string_value(json_object_get(flow, "node_name")) ?: "" : NULL;
	flow_print_json(&r->text, stdout, flow);
}


/*
 * --input-file: flows from lines of `observe -o json` (Hubble's
 * GetFlowsResponse, as `hubble observe -o json` writes them), instead of
 * the agent's. The same filters select them, with the agent's code
 * (common/flow_match.c), then --since/--until and --first/--last as the
 * agent applies them; --follow prints each match as it is read, to the end
 * of the input. Returns the exit code.
 */
static int observe_file(const char *path, json_t *allow, json_t *deny, bool follow, json_int_t first,
			json_int_t last, uint64_t since, uint64_t until, struct render *r)
{
	json_t *req = json_pack("{s:O,s:O}", "allowlist", allow, "denylist", deny);
	char *err = NULL, *line = NULL, **ring = NULL;
	struct sl_flow_filters *fs = sl_flow_filters_parse(req, &err);
	bool in = !strcmp(path, "-");
	FILE *f = in ? stdin : fopen(path, "r");
	size_t cap = 0, nring = 0, head = 0, matched = 0, lineno = 0;
	int rc = 0;
	ssize_t n;

	json_decref(req);
	if (!fs) {
		fprintf(stderr, "sluice: %s\n", err ? err : "invalid filter");
		free(err);
		if (f && !in)
			fclose(f);
		return 2;
	}
	if (!f) {
		fprintf(stderr, "sluice: %s: %s\n", path, strerror(errno));
		sl_flow_filters_free(fs);
		return 1;
	}
	/* as hubble reads a file: without --last (or with --last 0) every flow,
	 * and at most a million kept for --last */
	if (last == 0)
		last = -1;
	if (last > 1000000 && last < (json_int_t)1 << 40) {
		fprintf(stderr, "sluice: --last must be <= 1000000 with --input-file, got %lld\n", (long long)last);
		sl_flow_filters_free(fs);
		if (!in)
			fclose(f);
		return 2;
	}
	/* --all (a last of 2^40) prints as it reads, like --follow */
	if (last > 0 && last < (json_int_t)1 << 40 && !follow) {
		ring = calloc((size_t)last, sizeof(*ring));
		if (!ring)
			abort();
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		struct flow_json_view v;
		json_error_t jerr;
		json_t *msg, *flow;
		uint64_t t;
		bool hit;

		lineno++;
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		if (!n)
			continue;
		msg = json_loadb(line, (size_t)n, 0, &jerr);
		if (!json_is_object(msg)) { /* as hubble: said, skipped, and on to the next */
			fprintf(stderr, "sluice: %s:%zu: not a flow (a JSON object per line), skipped: %s\n",
				in ? "<stdin>" : path, lineno, msg ? "not an object" : jerr.text);
			json_decref(msg);
			continue;
		}
		flow = line_flow(msg);
		memset(&v, 0, sizeof(v));
		if (!flow && !(json_is_object(json_object_get(msg, "lost_events")) && sl_flow_filters_empty(fs))) {
			/* node_status and the like, or lost events a filter would
			 * not pass (they have no flow to match) */
			json_decref(msg);
			continue;
		}
		if (flow)
			flow_view_from_json(flow, &v);
		/* the window reads the response's time (hubble's), else the flow's */
		if (flow == msg || sl_parse_rfc3339(json_string_value(json_object_get(msg, "time")), &t))
			t = v.f.time_ns;
		hit = (!since || t >= since) && (!until || t <= until) &&
		      (!flow || sl_flow_filters_match(fs, &v.f, json_string_value(json_object_get(flow, "node_name")),
						      v.uuid));
		if (hit && first >= 0 && matched >= (size_t)first)
			hit = false;
		if (hit) {
			matched++;
			if (ring) { /* the newest `last`, printed at the end */
				size_t size = (size_t)last;

				if (nring == size) {
					free(ring[head]);
					ring[head] = sl_xstrdup(line);
					head = (head + 1) % size;
				} else {
					ring[nring++] = sl_xstrdup(line);
				}
			} else if (last != 0 || first >= 0 || since || until || follow) {
				file_print(r, line, msg);
				if (follow)
					fflush(stdout);
			}
		}
		flow_json_view_free(&v);
		json_decref(msg);
		if (first >= 0 && matched >= (size_t)first && !follow)
			break;
	}
	for (size_t i = 0; ring && i < nring; i++) {
		char *l = ring[(head + i) % nring];
		json_t *msg = json_loads(l, 0, NULL);

		if (!rc)
			file_print(r, l, msg);
		json_decref(msg);
		free(l);
	}
	free(ring);
	free(line);
	if (!in)
		fclose(f);
	sl_flow_filters_free(fs);
	return rc;
}

/* the live stream's end: what it held goes (a clean exit under ASan) */
static int observe_done(int rc, json_t *allow, json_t *deny, struct sl_wire_dec *wire, struct render *r)
{
	flow_print_flush(&r->text, stdout);
	flow_printer_free(&r->text);
	fflush(stdout);
	free(r->buf);
	json_decref(allow);
	json_decref(deny);
	if (wire)
		sl_wire_dec_free(wire);
	free(wire);
	return rc;
}

/* the getopt code of a filter flag (observe_filter.c): 1000 + its index */
static int filter_code(const char *name)
{
	for (size_t i = 0; i < obs_filter_nflags(); i++)
		if (!strcmp(obs_filter_flag(i), name))
			return 1000 + (int)i;
	abort();
}

#define NFILTER_FLAGS_MAX 64

int cli_observe(int argc, char **argv)
{
	static const struct option base_opts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "last", required_argument, NULL, 'L' },
		{ "since", required_argument, NULL, 'S' },
		{ "until", required_argument, NULL, 'U' },
		{ "first", required_argument, NULL, 'F' },
		{ "output", required_argument, NULL, 'o' },
		{ "print-node-name", no_argument, NULL, 'P' },
		{ "reconnect", no_argument, NULL, 'R' },
		{ "all", no_argument, NULL, 'a' },
		{ "all-namespaces", no_argument, NULL, 'A' },
		{ "json", no_argument, NULL, 'j' },
		{ "color", required_argument, NULL, 'C' },
		{ "print-raw-filters", no_argument, NULL, 'p' },
		{ "time-format", required_argument, NULL, 'T' },
		{ "allowlist", required_argument, NULL, 'W' },
		{ "denylist", required_argument, NULL, 'B' },
		{ "input-file", required_argument, NULL, 'I' },
		{ "print-policy-names", no_argument, NULL, 'N' },
		{ "numeric", no_argument, NULL, 'M' },
		{ "ip-translation", optional_argument, NULL, 'X' },
		{ "help", no_argument, NULL, 'h' },
	};
	struct option opts[sizeof(base_opts) / sizeof(base_opts[0]) + NFILTER_FLAGS_MAX + 1];
	struct obs_filter *filter = obs_filter_new();
	json_t *allowlist = NULL, *denylist = NULL;
	struct render render = { 0 };
	struct sl_wire_dec *wire = NULL;
	bool follow = false, json_out = false, reconnecting = false, reconnect = false, all = false;
	bool print_raw = false, numeric = false, translate = true;
	int color = -1; /* --color: -1 auto (a terminal), 0 never, 1 always */
	uint64_t lost_at = 0;
	json_int_t last = -1;
	uint64_t since = 0, until = 0;
	json_int_t first = -1;
	const char *input_file = NULL;
	char *ferr = NULL;
	int c;

	size_t nbase = sizeof(base_opts) / sizeof(base_opts[0]), nflags = obs_filter_nflags();

	if (nflags > NFILTER_FLAGS_MAX)
		abort();
	memcpy(opts, base_opts, sizeof(base_opts));
	for (size_t i = 0; i < nflags; i++)
		opts[nbase + i] = (struct option){ obs_filter_flag(i),
						   obs_filter_flag_has_value(obs_filter_flag(i)) ? required_argument
												  : no_argument,
						   NULL, 1000 + (int)i };
	memset(&opts[nbase + nflags], 0, sizeof(opts[0]));
	optind = 1;
	while ((c = getopt_long(argc, argv, "fo:hn:t:jl:A46", opts, NULL)) != -1) {
		/* Hubble's short forms */
		if (c == 'n')
			c = filter_code("namespace");
		else if (c == 't')
			c = filter_code("type");
		else if (c == 'l')
			c = filter_code("label");
		else if (c == '4')
			c = filter_code("ipv4");
		else if (c == '6')
			c = filter_code("ipv6");
		switch (c) {
		case 'f': follow = true; break;
		case 'L':
		case 'F': {
			char *end;
			json_int_t n;

			errno = 0;
			n = strtoll(optarg, &end, 10);
			if (!all_digits(optarg) || *end || errno) {
				fprintf(stderr, "sluice: invalid --%s \"%s\": want a number of flows (0 or more)\n",
					c == 'L' ? "last" : "first", optarg);
				obs_filter_free(filter);
				return 2;
			}
			*(c == 'L' ? &last : &first) = n;
			break;
		}
		case 'R': reconnect = true; break;
		case 'P': render.print_node = true; break;
		case 'N': render.text.policy_names = true; break;
		case 'M': numeric = true; break;
		case 'X': /* Hubble's --ip-translation[=true|false] (default true) */
			if (!optarg || !strcmp(optarg, "true")) {
				translate = true;
			} else if (!strcmp(optarg, "false")) {
				translate = false;
			} else {
				fprintf(stderr, "sluice: invalid --ip-translation \"%s\" (true or false)\n", optarg);
				obs_filter_free(filter);
				return 2;
			}
			break;
		case 'a': all = true; break;
		case 'A': /* Hubble's -A: pods of every namespace */
			if (obs_filter_set(filter, "all-namespaces", NULL, &ferr))
				goto bad_filter;
			break;
		case 'p': print_raw = true; break;
		case 'I': input_file = optarg; break;
		case 'T': {
			int tf = flow_time_format_parse(optarg);

			if (tf < 0) {
				fprintf(stderr, "sluice: invalid --time-format \"%s\" (StampMilli, YearMonthDay, "
						"YearMonthDayHour, YearMonthDayHourMinute, RFC3339, RFC3339Milli, "
						"RFC3339Micro, RFC3339Nano or RFC1123Z)\n", optarg);
				obs_filter_free(filter);
				return 2;
			}
			render.text.time_format = (enum flow_time_format)tf;
			break;
		}
		case 'W':
		case 'B':
			if (obs_filter_add_raw(filter, c == 'B', optarg, &ferr))
				goto bad_filter;
			break;
		case 'j': /* Hubble's older spelling of -o json */
			json_out = true;
			break;
		case 'C':
			if (!strcmp(optarg, "auto")) {
				color = -1;
			} else if (!strcmp(optarg, "always")) {
				color = 1;
			} else if (!strcmp(optarg, "never")) {
				color = 0;
			} else {
				fprintf(stderr, "sluice: invalid --color \"%s\" (auto, always or never)\n", optarg);
				obs_filter_free(filter);
				return 2;
			}
			break;
		case 'S':
		case 'U':
			if (parse_when(optarg, c == 'S' ? &since : &until)) {
				fprintf(stderr, "sluice: invalid --%s \"%s\" (a duration such as 30s, 5m, 1h, "
						"or an RFC 3339 time such as 2026-12-05T10:12:52Z)\n",
					c == 'S' ? "since" : "until", optarg);
				obs_filter_free(filter);
				return 2;
			}
			break;
		case 'o': /* the last -o counts */
			json_out = false;
			render.text.form = FLOW_PRINT_COMPACT;
			if (!strcmp(optarg, "json") || !strcmp(optarg, "jsonpb"))
				json_out = true;
			else if (!strcmp(optarg, "dict"))
				render.text.form = FLOW_PRINT_DICT;
			else if (!strcmp(optarg, "table") || !strcmp(optarg, "tab"))
				render.text.form = FLOW_PRINT_TABLE;
			else if (strcmp(optarg, "compact")) {
				fprintf(stderr, "sluice: unknown output \"%s\" (compact, dict, table or json)\n", optarg);
				obs_filter_free(filter);
				return 2;
			}
			break;
		case 'h': usage(stdout); obs_filter_free(filter); return 0;
		default:
			if (c >= 1000 && c < 1000 + (int)obs_filter_nflags()) {
				if (obs_filter_set(filter, obs_filter_flag((size_t)(c - 1000)), optarg, &ferr))
					goto bad_filter;
				break;
			}
			usage(stderr);
			obs_filter_free(filter);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sluice: unexpected argument \"%s\"\n", argv[optind]);
		obs_filter_free(filter);
		return 2;
	}
	if (obs_filter_lists(filter, &allowlist, &denylist, &ferr))
		goto bad_filter;
	obs_filter_free(filter);
	filter = NULL;
	if (print_raw) { /* as hubble: the request's filters, nothing sent */
		char *y = obs_filter_yaml(allowlist, denylist);

		fputs(y, stdout);
		free(y);
		json_decref(allowlist);
		json_decref(denylist);
		return 0;
	}
	if (all && (first >= 0 || last >= 0)) {
		fprintf(stderr, "sluice: --all cannot be combined with --first or --last\n");
		return observe_done(2, allowlist, denylist, NULL, &render);
	}
	if (all) /* every flow the agent holds (it keeps --flow-buffer of them) */
		last = (json_int_t)1 << 40;
	if (first >= 0 && (last >= 0 || follow)) {
		fprintf(stderr, "sluice: --first cannot be combined with --last or --follow\n");
		return observe_done(2, allowlist, denylist, NULL, &render);
	}
	if (until && follow) {
		fprintf(stderr, "sluice: --until cannot be combined with --follow\n");
		return observe_done(2, allowlist, denylist, NULL, &render);
	}
	if (since && until && until < since) {
		fprintf(stderr, "sluice: --until is before --since\n");
		return observe_done(2, allowlist, denylist, NULL, &render);
	}
	if (reconnect && !follow) {
		fprintf(stderr, "sluice: --reconnect needs --follow\n");
		return observe_done(2, allowlist, denylist, NULL, &render);
	}
	if (render.text.form == FLOW_PRINT_TABLE && follow && !json_out) {
		fprintf(stderr, "sluice: table output format is not compatible with follow mode\n");
		return observe_done(2, allowlist, denylist, NULL, &render);
	}
	render.text.numeric = numeric || !translate;
	/* auto: a terminal, unless NO_COLOR or TERM=dumb (as Hubble's colours);
	 * a table is never coloured */
	if (color < 0)
		color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR") &&
			!(getenv("TERM") && !strcmp(getenv("TERM"), "dumb"));
	render.text.color = !json_out && color && render.text.form != FLOW_PRINT_TABLE;
	/* a pipe or a file gets large writes; the reader flushes stdout
	 * before it waits for the agent, so lines never sit in the buffer */
	if (isatty(STDOUT_FILENO))
		setvbuf(stdout, NULL, _IOLBF, 0);
	else
		setvbuf(stdout, NULL, _IOFBF, 1 << 20);
	render.json_out = json_out;
	if (input_file) {
		int rc;

		if (reconnect) {
			fprintf(stderr, "sluice: --reconnect cannot be combined with --input-file\n");
			rc = 2;
		} else {
			rc = observe_file(input_file, allowlist, denylist, follow, first, last, since, until, &render);
		}
		return observe_done(rc, allowlist, denylist, NULL, &render);
	}
	for (;;) {
		/* the binary wire form: the agent sends ~70 bytes a flow instead
		 * of its JSON line, and this process renders the line */
		json_t *req = json_pack("{s:s,s:b,s:O,s:O,s:s}", "cmd", "observe", "follow", follow,
					"allowlist", allowlist, "denylist", denylist, "wire", "binary");
		json_t *msg;
		uint64_t lost_told = 0;
		int fd;

		if (last >= 0 && !reconnecting)
			json_object_set_new(req, "last", json_integer(last));
		if (since && !reconnecting)
			json_object_set_new(req, "since_ns", json_integer((json_int_t)since));
		if (until)
			json_object_set_new(req, "until_ns", json_integer((json_int_t)until));
		if (first >= 0)
			json_object_set_new(req, "first", json_integer(first));
		if (reconnecting) /* what the agent still holds from the moment it was lost */
			json_object_set_new(req, "since_ns", json_integer((json_int_t)lost_at));
		fd = reconnecting ? client_connect_quiet() : client_connect();
		if (fd < 0) {
			json_decref(req);
			if (!reconnecting)
				return observe_done(1, allowlist, denylist, wire, &render);
			sleep(1);
			continue;
		}
		if (reconnecting) {
			char t1[32], t2[32];

			fprintf(stderr,
				"sluice: reconnected to the agent at %s after losing it at %s (%.1f s): flows of "
				"that gap the agent no longer holds are missing\n",
				clock_str(sl_now_ns(), t2, sizeof(t2)), clock_str(lost_at, t1, sizeof(t1)),
				(double)(sl_now_ns() - lost_at) / 1e9);
			reconnecting = false;
		}
		client_send(fd, req);
		json_decref(req);
		/* a new stream: the agent describes the peers again */
		if (wire)
			sl_wire_dec_free(wire);
		free(wire);
		wire = calloc(1, sizeof(*wire));
		if (!wire)
			abort();
		for (;;) {
			size_t len;
			bool binary;
			const char *raw = client_read_msg(fd, &len, &binary);
			json_t *flow;

			if (raw && binary) {
				char *err = NULL;

				if (sl_wire_decode(wire, (const uint8_t *)raw, len, on_wire_flow, &render, &err)) {
					fprintf(stderr, "sluice: %s\n", err);
					free(err);
					close(fd);
					return observe_done(1, allowlist, denylist, wire, &render);
				}
				/* loss stays visible: the agent says when this client
				 * fell so far behind that it dropped flows for it */
				if (wire->lost != lost_told) {
					fflush(stdout);
					fprintf(stderr,
						"sluice: %llu flows lost: this client fell behind the agent (%llu on "
						"this connection)\n",
						(unsigned long long)(wire->lost - lost_told),
						(unsigned long long)wire->lost);
					lost_told = wire->lost;
				}
				continue;
			}
			/* -o json: a flow line is printed as the agent wrote it
			 * (an agent without the binary form) */
			if (raw && json_out && !strncmp(raw, "{\"flow\":", 8)) {
				fwrite(raw, 1, len, stdout);
				fputc('\n', stdout);
				continue;
			}
			msg = raw ? json_loads(raw, 0, NULL) : NULL;
			if (!msg)
				break;
			flow = json_object_get(msg, "flow");

			if (flow) {
				if (json_out) {
					char *s = json_dumps(msg, JSON_COMPACT);

					printf("%s\n", s);
					free(s);
				} else {
					render.text.node = render.print_node ?
						json_string_value(json_object_get(flow, "node_name")) ?: "" : NULL;
					flow_print_json(&render.text, stdout, flow);
				}
			} else if (json_object_get(msg, "ok") && !json_is_true(json_object_get(msg, "ok"))) {
				fprintf(stderr, "sluice: %s\n",
					json_string_value(json_object_get(msg, "error")) ?: "observe failed");
				json_decref(msg);
				close(fd);
				return observe_done(1, allowlist, denylist, wire, &render);
			} else if (json_is_true(json_object_get(msg, "end"))) {
				json_decref(msg);
				close(fd);
				return observe_done(0, allowlist, denylist, wire, &render);
			}
			json_decref(msg);
		}
		close(fd);
		if (!follow) {
			fprintf(stderr, "sluice: the agent closed the connection before the end of the flows\n");
			return observe_done(1, allowlist, denylist, wire, &render);
		}
		lost_at = sl_now_ns();
		if (!reconnect) {
			fprintf(stderr, "sluice: lost the connection to the agent at %s (use --reconnect to wait "
					"for it)\n", client_socket());
			return observe_done(1, allowlist, denylist, wire, &render);
		}
		fprintf(stderr, "sluice: lost the agent, reconnecting...\n");
		reconnecting = true;
		sleep(1);
	}
bad_filter: /* as hubble: the flag's problem, exit 2 */
	fprintf(stderr, "sluice: %s\n", ferr ? ferr : "invalid filter");
	free(ferr);
	obs_filter_free(filter);
	return 2;
}
