/* SPDX-License-Identifier: Apache-2.0 */
/*
 * service.c - `sluice service`: create, update, list, get, delete ClusterIP
 * services. The CLI checks the syntax it parses (selector, port specs) and
 * fails early with the agent's words; the agent checks everything again
 * (it is the trust boundary) and allocates the ClusterIP.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/names.h"
#include "../common/util.h"
#include "cli.h"
#include "format.h"

static int say(char *err)
{
	fprintf(stderr, "sluice: %s\n", err);
	free(err);
	return -EINVAL;
}

/*
 * --selector k=v,k2=v2: a Service's selector is a map, so equality only;
 * set-based forms (in, notin, !=, !k, k) are refused by name.
 */
static int parse_selector(const char *text, json_t *out)
{
	char *copy = sl_xstrdup(text), *save = NULL, *tok, shown[300], *err = NULL;
	int rc = 0;

	if (!*text) {
		free(copy);
		return say(sl_strdupf("invalid --selector \"\": want k=v,... (at least one label)"));
	}
	for (tok = strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq || eq == tok || strstr(tok, "!=") || strstr(tok, "==") || strchr(tok, ' ') ||
		    strchr(tok, '(')) {
			rc = say(sl_strdupf("invalid --selector \"%s\": unknown selector syntax near "
					    "\"%s\" (a Service selects with k=v,... equality only; no "
					    "!=, in, notin, or existence)",
					    sl_escape_ctl(text, shown, sizeof(shown)), tok));
			break;
		}
		*eq = 0;
		if (sl_check_label_key(tok, &err) || sl_check_label_value(tok, eq + 1, &err)) {
			rc = say(sl_strdupf("invalid --selector: %s", err));
			free(err);
			break;
		}
		json_object_set_new(out, tok, json_string(eq + 1));
	}
	free(copy);
	return rc;
}

/* --port [NAME=]PORT[:TARGETPORT][/PROTO]; TARGETPORT a number or a name. */
static int parse_port(const char *spec, json_t *ports)
{
	char *copy = sl_xstrdup(spec), *p = copy, *eq, *slash, *colon, *end, shown[300];
	const char *name = "", *proto = "TCP", *target = NULL;
	char *err = NULL;
	unsigned long port, tport = 0;
	json_t *o;
	int rc = 0;

	if ((eq = strchr(p, '='))) {
		*eq = 0;
		name = p;
		p = eq + 1;
	}
	if ((slash = strchr(p, '/'))) {
		*slash = 0;
		proto = slash + 1;
		for (end = slash + 1; *end; end++)
			if (*end >= 'a' && *end <= 'z')
				*end = (char)(*end - 'a' + 'A');
	}
	if ((colon = strchr(p, ':'))) {
		*colon = 0;
		target = colon + 1;
	}
	errno = 0;
	port = strtoul(p, &end, 10);
	if (!*p || *end || errno || *p == '-' || *p == '+') {
		rc = say(sl_strdupf("invalid --port \"%s\": want [NAME=]PORT:TARGETPORT/PROTO, e.g. "
				    "http=80:8080/TCP", sl_escape_ctl(spec, shown, sizeof(shown))));
		goto out;
	}
	if (port < 1 || port > 65535) {
		rc = say(sl_strdupf("invalid --port \"%s\": port %lu out of range (1-65535)",
				    sl_escape_ctl(spec, shown, sizeof(shown)), port));
		goto out;
	}
	if (strcmp(proto, "TCP") && strcmp(proto, "UDP")) {
		rc = say(sl_strdupf("invalid --port \"%s\": protocol \"%s\": want TCP or UDP",
				    sl_escape_ctl(spec, shown, sizeof(shown)), proto));
		goto out;
	}
	if (sl_check_port_name("port name", name, &err)) {
		rc = say(sl_strdupf("invalid --port \"%s\": %s", sl_escape_ctl(spec, shown, sizeof(shown)),
				    err));
		free(err);
		goto out;
	}
	o = json_pack("{s:s,s:i,s:s}", "name", name, "port", (int)port, "protocol", proto);
	if (target && *target >= '0' && *target <= '9') {
		errno = 0;
		tport = strtoul(target, &end, 10);
		if (*end || errno || tport < 1 || tport > 65535) {
			json_decref(o);
			rc = say(sl_strdupf("invalid --port \"%s\": target port \"%s\" out of range "
					    "(1-65535)", sl_escape_ctl(spec, shown, sizeof(shown)), target));
			goto out;
		}
		json_object_set_new(o, "target_port", json_integer((json_int_t)tport));
	} else if (target) {
		if (sl_check_target_port_name(target, &err)) {
			json_decref(o);
			rc = say(sl_strdupf("invalid --port \"%s\": %s",
					    sl_escape_ctl(spec, shown, sizeof(shown)), err));
			free(err);
			goto out;
		}
		json_object_set_new(o, "target_port", json_string(target));
	} else {
		json_object_set_new(o, "target_port", json_integer((json_int_t)port));
	}
	json_array_append_new(ports, o);
out:
	free(copy);
	return rc;
}

static int check_ref(const char *ns, const char *name)
{
	char *err = NULL;
	int rc = sl_check_namespace(ns, &err);

	if (!rc)
		rc = sl_check_service_name(name, &err);
	if (rc)
		say(err);
	return rc;
}

/* create and update: the same options, the whole spec each time */
static int svc_write(int argc, char **argv, bool update)
{
	const char *sub = update ? "update" : "create";
	static const struct option opts[] = {
		{ "selector", required_argument, NULL, 's' },
		{ "port", required_argument, NULL, 'p' },
		{ "labels", required_argument, NULL, 'l' },
		{ "cluster-ip", required_argument, NULL, 'c' },
		{ "session-affinity", required_argument, NULL, 'a' },
		{ "session-affinity-timeout", required_argument, NULL, 't' },
		{ "type", required_argument, NULL, 'T' },
		{ "node-port", required_argument, NULL, 'N' },
		{ 0 },
	};
	json_t *selector = NULL, *ports = json_array(), *labels = json_object(), *req, *res;
	const char *ns, *name, *cip = NULL, *aff = NULL, *type = NULL;
	char *buf, *end, shown[300];
	long long timeout = 0, node_port = 0;
	int c, rc = 2;

	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "s:p:l:", opts, NULL)) != -1) {
		if (c == 's') {
			if (!selector)
				selector = json_object();
			if (parse_selector(optarg, selector))
				goto out;
		} else if (c == 'p') {
			if (parse_port(optarg, ports))
				goto out;
		} else if (c == 'l') {
			if (cli_parse_labels(optarg, labels, NULL))
				goto out;
		} else if (c == 'c') {
			cip = optarg;
		} else if (c == 'a') {
			/* kubectl expose --session-affinity's values */
			if (strcmp(optarg, "ClientIP") && strcmp(optarg, "None")) {
				say(sl_strdupf("invalid --session-affinity \"%s\": want ClientIP or None",
					       sl_escape_ctl(optarg, shown, sizeof(shown))));
				goto out;
			}
			aff = optarg;
		} else if (c == 'T') {
			if (strcmp(optarg, "ClusterIP") && strcmp(optarg, "NodePort")) {
				say(sl_strdupf("invalid --type \"%s\": want ClusterIP or NodePort",
					       sl_escape_ctl(optarg, shown, sizeof(shown))));
				goto out;
			}
			type = optarg;
		} else if (c == 'N') {
			errno = 0;
			node_port = strtoll(optarg, &end, 10);
			if (!*optarg || *end || errno || node_port < 1 || node_port > 65535) {
				say(sl_strdupf("invalid --node-port \"%s\": want a port number",
					       sl_escape_ctl(optarg, shown, sizeof(shown))));
				goto out;
			}
		} else if (c == 't') {
			errno = 0;
			timeout = strtoll(optarg, &end, 10);
			if (!*optarg || *end || errno || timeout < 1 || timeout > 86400) {
				say(sl_strdupf("invalid --session-affinity-timeout \"%s\": want seconds, "
					       "1-86400 (sessionAffinityConfig.clientIP.timeoutSeconds)",
					       sl_escape_ctl(optarg, shown, sizeof(shown))));
				goto out;
			}
		} else {
			goto out;
		}
	}
	if (optind != argc - 1 || !json_array_size(ports)) {
		rc = usage_error("service", sub,
				 "NAMESPACE/NAME --selector k=v,... --port [NAME=]PORT:TARGETPORT/PROTO ...");
		goto out;
	}
	if (node_port && json_array_size(ports) != 1) {
		say(sl_strdupf("--node-port: the service must have exactly one --port (kubectl create "
			       "service nodeport's rule)"));
		goto out;
	}
	if (node_port)
		json_object_set_new(json_array_get(ports, 0), "node_port", json_integer(node_port));
	if (node_port && !type)
		type = "NodePort";
	if (cli_split_ref(argv[optind], &buf, &ns, &name))
		goto out;
	if (check_ref(ns, name)) {
		free(buf);
		rc = 1;
		goto out;
	}
	req = json_pack("{s:s,s:s,s:s,s:O,s:O}", "cmd", update ? "service.update" : "service.create",
			"namespace", ns, "name", name, "ports", ports, "labels", labels);
	if (selector)
		json_object_set(req, "selector", selector);
	if (cip)
		json_object_set_new(req, "cluster_ip", json_string(cip));
	if (aff)
		json_object_set_new(req, "session_affinity", json_string(aff));
	if (type)
		json_object_set_new(req, "type", json_string(type));
	if (timeout)
		json_object_set_new(req, "session_affinity_timeout_seconds", json_integer(timeout));
	free(buf);
	res = cli_request(req);
	if (!res) {
		rc = 1;
		goto out;
	}
	printf("%s\n", json_string_value(json_object_get(res, "cluster_ip")));
	json_decref(res);
	rc = 0;
out:
	json_decref(selector);
	json_decref(ports);
	json_decref(labels);
	return rc;
}

static int svc_create(int argc, char **argv) { return svc_write(argc, argv, false); }
static int svc_update(int argc, char **argv) { return svc_write(argc, argv, true); }

static int svc_delete(int argc, char **argv)
{
	const char *ns, *name;
	char *buf;
	json_t *res;

	if (argc != 2)
		return usage_error("service", "delete", "NAMESPACE/NAME");
	if (cli_split_ref(argv[1], &buf, &ns, &name))
		return 2;
	res = cli_request(json_pack("{s:s,s:s,s:s}", "cmd", "service.delete", "namespace", ns, "name",
				    name));
	free(buf);
	if (!res)
		return 1;
	printf("service %s deleted\n", argv[1]);
	json_decref(res);
	return 0;
}

static void age(uint64_t created_ns, char *buf, size_t n)
{
	uint64_t now = (uint64_t)time(NULL), t = created_ns / 1000000000ull;
	uint64_t s = now > t ? now - t : 0;

	if (s < 120)
		snprintf(buf, n, "%llus", (unsigned long long)s);
	else if (s < 7200)
		snprintf(buf, n, "%llum", (unsigned long long)(s / 60));
	else if (s < 172800)
		snprintf(buf, n, "%lluh", (unsigned long long)(s / 3600));
	else
		snprintf(buf, n, "%llud", (unsigned long long)(s / 86400));
}

static void table_head(bool wide)
{
	printf("%-40s %-10s %-15s %-24s %-9s %-5s", "NAME", "TYPE", "CLUSTER-IP", "PORT(S)", "BACKENDS",
	       "AGE");
	if (wide)
		printf(" %s", "SELECTOR");
	printf("\n");
}

static void table_row(json_t *s, bool wide)
{
	char full[600], nsb[300], nb[300], ports[256] = "", ag[32];
	json_t *p, *sel;
	size_t i, off = 0;
	const char *k;

	snprintf(full, sizeof(full), "%s/%s",
		 cli_cell(json_string_value(json_object_get(s, "namespace")), nsb, sizeof(nsb)),
		 cli_cell(json_string_value(json_object_get(s, "name")), nb, sizeof(nb)));
	/* kubectl's PORT(S): port/proto, port:nodePort/proto for a node port
	 * (the target port is in get -o json, as kubectl shows it in describe) */
	json_array_foreach(json_object_get(s, "ports"), i, p) {
		json_int_t np = json_integer_value(json_object_get(p, "node_port"));
		int w;

		if (np > 0)
			w = snprintf(ports + off, sizeof(ports) - off, "%s%lld:%lld/%s", i ? "," : "",
				     (long long)json_integer_value(json_object_get(p, "port")),
				     (long long)np,
				     json_string_value(json_object_get(p, "protocol")) ?: "");
		else
			w = snprintf(ports + off, sizeof(ports) - off, "%s%lld/%s", i ? "," : "",
				     (long long)json_integer_value(json_object_get(p, "port")),
				     json_string_value(json_object_get(p, "protocol")) ?: "");
		if (w < 0 || (size_t)w >= sizeof(ports) - off)
			break;
		off += (size_t)w;
	}
	age((uint64_t)json_integer_value(json_object_get(s, "created_unix_ns")), ag, sizeof(ag));
	printf("%-40s %-10s %-15s %-24s %-9zu %-5s", full,
	       json_string_value(json_object_get(s, "type")) ?: "ClusterIP",
	       json_string_value(json_object_get(s, "cluster_ip")) ?: "", ports,
	       json_array_size(json_object_get(s, "backends")), ag);
	if (wide) {
		json_t *v;

		sel = json_object_get(s, "selector");
		printf(" ");
		i = 0;
		json_object_foreach(sel, k, v) {
			char kb[300], vb[300];

			printf("%s%s=%s", i++ ? "," : "", cli_cell(k, kb, sizeof(kb)),
			       cli_cell(json_string_value(v), vb, sizeof(vb)));
		}
		if (!i)
			printf("<none>");
	}
	printf("\n");
}

static const struct cli_kind svc_kind = { "service", "services", table_head, table_row };

static int svc_get(int argc, char **argv) { return cli_resource_get(argc, argv, &svc_kind); }
static int svc_list(int argc, char **argv) { return cli_resource_list(argc, argv, &svc_kind); }

static const struct subcmd svc_cmds[] = {
	{ "create", svc_create,
	  "create NAMESPACE/NAME --selector k=v,... --port [NAME=]PORT:TARGETPORT/PROTO ... "
	  "[--labels k=v,...] [--cluster-ip IP] [--session-affinity ClientIP|None]\n"
	  "    [--session-affinity-timeout SECONDS] [--type ClusterIP|NodePort [--node-port N]]",
	  "Creates a ClusterIP service and prints its address, allocated from the agent's\n"
	  "--service-cidr. A connect() or sendto() from a pod to CLUSTER-IP:PORT goes to\n"
	  "one of the service's backends, chosen at random; policy judges the backend pod.\n\n"
	  "  -s, --selector k=v,...   the backends: pods of NAMESPACE with these labels\n"
	  "                           (equality only, as a Service's selector); they\n"
	  "                           follow pod create, delete and relabel at once\n"
	  "  -p, --port SPEC          [NAME=]PORT[:TARGETPORT][/TCP|UDP]; TARGETPORT is a\n"
	  "                           number or a named port of the backend pods\n"
	  "                           (default: PORT); NAME is required with several ports\n"
	  "  -l, --labels k=v,...     the service's own labels (k8sServiceSelector)\n"
	  "      --cluster-ip IP      this address instead of the next free one\n"
	  "      --session-affinity ClientIP|None\n"
	  "                           ClientIP: each client pod keeps reaching the backend\n"
	  "                           it reached first, while its last connection or\n"
	  "                           datagram is younger than the timeout (default None:\n"
	  "                           every connection picks at random)\n"
	  "      --session-affinity-timeout SECONDS\n"
	  "                           ClientIP's timeout, 1-86400 (default 10800, as\n"
	  "                           sessionAffinityConfig.clientIP.timeoutSeconds)\n"
	  "      --type NodePort      each port also gets a node port (30000-32767, the\n"
	  "                           lowest free one): a pod's connect() to any node's\n"
	  "                           address (this host's) at it reaches the backends\n"
	  "      --node-port N        this node port (one --port only; implies NodePort)\n\n"
	  "A service without backends refuses connections at once (ECONNREFUSED).\n" },
	{ "update", svc_update,
	  "update NAMESPACE/NAME --selector k=v,... --port [NAME=]PORT:TARGETPORT/PROTO ... "
	  "[--labels k=v,...] [--session-affinity ClientIP|None]\n"
	  "    [--session-affinity-timeout SECONDS] [--type ClusterIP|NodePort [--node-port N]]",
	  "Replaces a service's selector, ports, labels and session affinity with the\n"
	  "ones given (what is not given is gone, as `kubectl replace`) and prints its\n"
	  "ClusterIP, which stays (--cluster-ip, if given, must be the same: it is\n"
	  "immutable). Backends follow the new selector and target ports at once; a\n"
	  "port no longer listed stops translating, a new one starts. Turning session\n"
	  "affinity on or off, or changing its timeout, applies to the next connection;\n"
	  "backends clients are attached to are kept while they stay in the service.\n"
	  "--type is replaced too (none: ClusterIP); a NodePort service's ports keep\n"
	  "their node ports unless --node-port gives another.\n" },
	{ "delete", svc_delete, "delete NAMESPACE/NAME", "Deletes a service.\n" },
	{ "list", svc_list, "list [-n NAMESPACE|-A] [-o json|yaml|wide|name]",
	  "Every service: cluster IP, ports, number of backends; -o wide adds the\n"
	  "selector. -o json and -o yaml print a kubectl-style List.\n" },
	{ "get", svc_get, "get NAMESPACE/NAME [-o json|yaml|wide|name]",
	  "One service, with its backends (pod, address, port) in -o json and -o yaml.\n" },
};

int cli_service(int argc, char **argv)
{
	return cli_dispatch("service", "ClusterIP services, translated at the socket.", svc_cmds,
			    sizeof(svc_cmds) / sizeof(svc_cmds[0]), argc, argv);
}
