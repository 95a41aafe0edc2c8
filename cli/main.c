/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c - sluice, the command line: talks to sluiced over its socket.
 * Every command and subcommand answers --help (exit 0); a usage error
 * exits 2, a refused or failed request prints one line and exits 1.
 * Gets and lists print a table, or -o json / -o yaml (format.h).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/names.h"
#include "../common/util.h"
#include "sluice/abi.h"
#include "client.h"
#include "cli.h"
#include "format.h"

static int fail_answer(json_t *res)
{
	const char *e = json_string_value(json_object_get(res, "error"));

	fprintf(stderr, "sluice: %s\n", e ? e : "request failed");
	return 1;
}

/* Sends req (stolen), prints nothing; returns the answer or NULL (printed). */
json_t *cli_request(json_t *req)
{
	json_t *res = client_call(req);

	json_decref(req);
	if (!res)
		return NULL;
	if (!json_is_true(json_object_get(res, "ok"))) {
		fail_answer(res);
		json_decref(res);
		return NULL;
	}
	return res;
}

/* The answer without the API's envelope: what a user sees in -o json. */
static json_t *strip_envelope(json_t *res)
{
	json_object_del(res, "ok");
	return res;
}

bool cli_want_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return false;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	}
	return false;
}

/* "NS/NAME" -> ns, name (pointers into a copy the caller frees via *buf). */
int cli_split_ref(const char *ref, char **buf, const char **ns, const char **name)
{
	char *slash;

	*buf = sl_xstrdup(ref);
	slash = strchr(*buf, '/');
	if (!slash || slash == *buf || !slash[1] || strchr(slash + 1, '/')) {
		char shown[300];

		fprintf(stderr, "sluice: expected NAMESPACE/NAME, got \"%s\"\n",
			sl_escape_ctl(ref, shown, sizeof(shown)));
		free(*buf);
		return -EINVAL;
	}
	*slash = 0;
	*ns = *buf;
	*name = slash + 1;
	return 0;
}

/* Kubernetes' rules for a pod reference; prints why not. */
static int check_pod_ref(const char *ns, const char *name)
{
	char *err = NULL;
	int rc = sl_check_namespace(ns, &err);

	if (!rc)
		rc = sl_check_pod_name(name, &err);
	if (rc) {
		fprintf(stderr, "sluice: %s\n", err);
		free(err);
	}
	return rc;
}

/* Kubernetes' label syntax for every key (and value) of set and remove. */
static int check_labels(json_t *set, json_t *remove)
{
	const char *k;
	json_t *v;
	size_t i;
	char *err = NULL;
	int rc = 0;

	json_object_foreach(set, k, v) {
		rc = sl_check_label_key(k, &err);
		if (!rc)
			rc = sl_check_label_value(k, json_string_value(v), &err);
		if (rc)
			break;
	}
	json_array_foreach(remove, i, v) {
		if (rc)
			break;
		rc = sl_check_label_key(json_string_value(v), &err);
	}
	if (rc) {
		fprintf(stderr, "sluice: %s\n", err);
		free(err);
	}
	return rc;
}

/* Parses "k=v,k2=v2" (or several such arguments) into a JSON object; "k-"
 * entries go to remove when it is non-NULL. */
int cli_parse_labels(const char *text, json_t *set, json_t *remove)
{
	char *copy = sl_xstrdup(text), *save = NULL, *tok;
	int rc = 0;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		size_t len = strlen(tok);

		if (!eq && remove && len > 1 && tok[len - 1] == '-') {
			tok[len - 1] = 0;
			json_array_append_new(remove, json_string(tok));
			continue;
		}
		if (!eq || eq == tok) {
			char shown[300];

			fprintf(stderr, "sluice: invalid label \"%s\" (want key=value%s)\n",
				sl_escape_ctl(tok, shown, sizeof(shown)), remove ? " or key-" : "");
			rc = -EINVAL;
			break;
		}
		*eq = 0;
		json_object_set_new(set, tok, json_string(eq + 1));
	}
	free(copy);
	return rc;
}

/* k=v,k2=v2 with control characters escaped; "<none>" when empty. */
static void print_labels(json_t *labels)
{
	const char *k;
	json_t *v;
	bool first = true;
	char kb[300], vb[300];

	json_object_foreach(labels, k, v) {
		printf("%s%s=%s", first ? "" : ",", cli_cell(k, kb, sizeof(kb)),
		       cli_cell(json_string_value(v), vb, sizeof(vb)));
		first = false;
	}
	if (first)
		printf("<none>");
}

static void subcmd_help(FILE *f, const char *family, const struct subcmd *sc)
{
	fprintf(f, "Usage: sluice %s %s\n\n%s", family, sc->usage, sc->help);
}

int cli_dispatch(const char *family, const char *about, const struct subcmd *cmds, size_t n, int argc,
		 char **argv)
{
	size_t i;
	FILE *f;

	if (argc >= 2) {
		for (i = 0; i < n; i++) {
			if (strcmp(argv[1], cmds[i].name))
				continue;
			if (cli_want_help(argc - 1, argv + 1)) {
				subcmd_help(stdout, family, &cmds[i]);
				return 0;
			}
			return cmds[i].run(argc - 1, argv + 1);
		}
		if (strcmp(argv[1], "-h") && strcmp(argv[1], "--help") && strcmp(argv[1], "help")) {
			fprintf(stderr, "sluice: unknown %s command \"%s\" (see sluice %s --help)\n", family,
				argv[1], family);
			return 2;
		}
	}
	f = argc < 2 ? stderr : stdout;
	fprintf(f, "Usage: sluice %s COMMAND\n\n%s\n\nCommands:\n", family, about);
	for (i = 0; i < n; i++)
		fprintf(f, "  %s %s\n", family, cmds[i].usage);
	fprintf(f, "\n`sluice %s COMMAND --help` for details.\n", family);
	return argc < 2 ? 2 : 0;
}

int usage_error(const char *family, const char *sub, const char *usage)
{
	fprintf(stderr, "sluice: usage: sluice %s %s %s\n", family, sub, usage);
	return 2;
}

/* ---- pod ---------------------------------------------------------------- */

static int parse_port(const char *spec, json_t *ports)
{
	char name[64], proto[8] = "TCP", tail;
	unsigned port;
	int n = sscanf(spec, "%63[^=]=%u/%7[A-Z]%c", name, &port, proto, &tail);

	if (n < 2 || n > 3 || port == 0 || port > 65535 ||
	    (strcmp(proto, "TCP") && strcmp(proto, "UDP") && strcmp(proto, "SCTP"))) {
		char shown[300];

		fprintf(stderr, "sluice: invalid --port \"%s\" (want NAME=PORT/TCP|UDP|SCTP)\n",
			sl_escape_ctl(spec, shown, sizeof(shown)));
		return -EINVAL;
	}
	json_array_append_new(ports, json_pack("{s:s,s:i,s:s}", "name", name, "port", (int)port,
					       "protocol", proto));
	return 0;
}

static int pod_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "labels", required_argument, NULL, 'l' },
		{ "port", required_argument, NULL, 'p' },
		{ "remote", required_argument, NULL, 'r' },
		{ 0 },
	};
	json_t *labels = json_object(), *ports = json_array(), *res;
	const char *remote = NULL;
	const char *ns, *name;
	char *buf;
	int c;

	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "l:p:", opts, NULL)) != -1) {
		if (c == 'l' && cli_parse_labels(optarg, labels, NULL))
			return 2;
		if (c == 'p' && parse_port(optarg, ports))
			return 2;
		if (c == 'r')
			remote = optarg;
		if (c == '?')
			return 2;
	}
	if (optind != argc - 1)
		return usage_error("pod", "create", "NAMESPACE/NAME --labels k=v,... [--port NAME=PORT/PROTO]");
	if (cli_split_ref(argv[optind], &buf, &ns, &name))
		return 2;
	if (check_pod_ref(ns, name) || check_labels(labels, NULL)) {
		free(buf);
		return 1;
	}
	{
		json_t *req = json_pack("{s:s,s:s,s:s,s:o,s:o}", "cmd", "pod.create", "namespace", ns,
					"name", name, "labels", labels, "ports", ports);

		if (remote)
			json_object_set_new(req, "remote_ip", json_string(remote));
		res = cli_request(req);
	}
	free(buf);
	if (!res)
		return 1;
	printf("%s\n", json_string_value(json_object_get(res, "ip")));
	json_decref(res);
	return 0;
}

/*
 * `sluice pod import FILE|-`: pods of other nodes, one per line,
 * "NAMESPACE/NAME IP [k=v,...]" (# starts a comment), registered all or
 * none with one request.
 */
static int pod_import(int argc, char **argv)
{
	json_t *pods = json_array(), *res, *req;
	char *text = NULL, *line, *save = NULL;
	size_t len, lineno = 0;
	int rc;

	if (argc != 2)
		return usage_error("pod", "import", "FILE|- (lines: NAMESPACE/NAME IP [k=v,...])");
	rc = sl_read_file(argv[1], 64u << 20, &text, &len);
	if (rc) {
		fprintf(stderr, "sluice: cannot read %s: %s\n", argv[1], strerror(-rc));
		return 1;
	}
	for (line = text; line; line = save) {
		char *nl = strchr(line, '\n'), *ref, *ip, *lab, *hash, *buf;
		const char *ns, *name;
		json_t *labels = json_object();

		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		lineno++;
		if ((hash = strchr(line, '#')))
			*hash = '\0';
		ref = strtok(line, " \t\r");
		if (!ref) {
			json_decref(labels);
			continue;
		}
		ip = strtok(NULL, " \t\r");
		lab = strtok(NULL, " \t\r");
		if (!ip || strtok(NULL, " \t\r") || !inet_pton(AF_INET, ip, &(struct in_addr){ 0 }) ||
		    cli_split_ref(ref, &buf, &ns, &name)) {
			fprintf(stderr, "sluice: %s:%zu: want NAMESPACE/NAME IP [k=v,...]\n", argv[1], lineno);
			json_decref(labels);
			json_decref(pods);
			free(text);
			return 2;
		}
		if (lab && cli_parse_labels(lab, labels, NULL)) {
			fprintf(stderr, "sluice: %s:%zu: invalid labels\n", argv[1], lineno);
			free(buf);
			json_decref(labels);
			json_decref(pods);
			free(text);
			return 2;
		}
		if (check_pod_ref(ns, name) || check_labels(labels, NULL)) {
			fprintf(stderr, "sluice: %s:%zu: pod rejected\n", argv[1], lineno);
			free(buf);
			json_decref(labels);
			json_decref(pods);
			free(text);
			return 1;
		}
		json_array_append_new(pods, json_pack("{s:s,s:s,s:s,s:o}", "namespace", ns, "name", name,
						       "ip", ip, "labels", labels));
		free(buf);
	}
	free(text);
	req = json_pack("{s:s,s:o}", "cmd", "pod.import", "pods", pods);
	res = cli_request(req);
	if (!res)
		return 1;
	printf("%lld pods registered\n", (long long)json_integer_value(json_object_get(res, "created")));
	json_decref(res);
	return 0;
}

static int pod_delete(int argc, char **argv)
{
	const char *ns, *name;
	char *buf;
	json_t *res;

	if (argc != 2)
		return usage_error("pod", "delete", "NAMESPACE/NAME");
	if (cli_split_ref(argv[1], &buf, &ns, &name))
		return 2;
	res = cli_request(json_pack("{s:s,s:s,s:s}", "cmd", "pod.delete", "namespace", ns, "name", name));
	free(buf);
	if (!res)
		return 1;
	printf("pod %s deleted\n", argv[1]);
	json_decref(res);
	return 0;
}

static void pod_table_head(bool wide)
{
	printf("%-30s %-15s %-9s %-14s %s", "NAME", "IP", "IDENTITY", "CONTAINER", "LABELS");
	if (wide)
		printf("  %-8s %-6s %-12s %-10s %s", "ENDPOINT", "NODE", "INTERFACE", "ENFORCING", "PORTS");
	printf("\n");
}

static void pod_table_row(json_t *p, bool wide)
{
	char full[600], nsb[300], nb[300];

	snprintf(full, sizeof(full), "%s/%s",
		 cli_cell(json_string_value(json_object_get(p, "namespace")), nsb, sizeof(nsb)),
		 cli_cell(json_string_value(json_object_get(p, "name")), nb, sizeof(nb)));
	/* CONTAINER: the CNI container id of a pod the plugin attached,
	 * "-" for the agent's own pods, "remote" for other nodes' */
	printf("%-30s %-15s %-9lld %-14.12s ", full, json_string_value(json_object_get(p, "ip")) ?: "",
	       (long long)json_integer_value(json_object_get(p, "identity")),
	       json_string_value(json_object_get(p, "container_id")) ?:
	       json_is_true(json_object_get(p, "remote")) ? "remote" : "-");
	print_labels(json_object_get(p, "labels"));
	if (wide) {
		bool in = json_is_true(json_object_get(p, "ingress_enforced"));
		bool eg = json_is_true(json_object_get(p, "egress_enforced"));
		json_t *port;
		size_t i;

		printf("  %-8lld %-6s %-12s %-10s ", (long long)json_integer_value(json_object_get(p, "endpoint")),
		       json_is_true(json_object_get(p, "remote")) ? "remote" : "local",
		       json_string_value(json_object_get(p, "interface")) ?: "-",
		       in && eg ? "both" : in ? "ingress" : eg ? "egress" : "none");
		json_array_foreach(json_object_get(p, "ports"), i, port)
			printf("%s%s=%lld/%s", i ? "," : "",
			       cli_cell(json_string_value(json_object_get(port, "name")), nb, sizeof(nb)),
			       (long long)json_integer_value(json_object_get(port, "port")),
			       json_string_value(json_object_get(port, "protocol")) ?: "");
		if (!json_array_size(json_object_get(p, "ports")))
			printf("<none>");
	}
	printf("\n");
}

/* get and list of a kind with a table (pods, services): the same flags,
 * the same request shape and the same -o json|yaml|wide|name handling. */
int cli_resource_get(int argc, char **argv, const struct cli_kind *k)
{
	enum cli_fmt fmt;
	const char *ns, *name;
	json_t *res;
	char *buf;
	char cmd[64];
	int rc = cli_take_output(&argc, argv, CLI_FMT_GET, &fmt);

	if (rc)
		return rc;
	if (argc != 2)
		return usage_error(k->family, "get", "NAMESPACE/NAME [-o json|yaml|wide|name]");
	if (cli_split_ref(argv[1], &buf, &ns, &name))
		return 2;
	snprintf(cmd, sizeof(cmd), "%s.get", k->family);
	res = cli_request(json_pack("{s:s,s:s,s:s}", "cmd", cmd, "namespace", ns, "name", name));
	free(buf);
	if (!res)
		return 1;
	strip_envelope(res);
	if (fmt & CLI_FMT_OBJECT) {
		cli_print_as(res, fmt, k->family);
	} else {
		k->head(fmt == CLI_FMT_WIDE);
		k->row(res, fmt == CLI_FMT_WIDE);
	}
	json_decref(res);
	return 0;
}

int cli_take_namespace(int *argc, char **argv, const char **ns)
{
	int i, j, used;

	*ns = NULL;
	for (i = 1; i < *argc; i++) {
		used = 1;
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "-A") || !strcmp(argv[i], "--all-namespaces")) {
			*ns = NULL;
		} else if (!strcmp(argv[i], "-n") || !strcmp(argv[i], "--namespace")) {
			if (i + 1 >= *argc) {
				fprintf(stderr, "sluice: %s needs a namespace\n", argv[i]);
				return 2;
			}
			*ns = argv[i + 1];
			used = 2;
		} else if (!strncmp(argv[i], "--namespace=", 12)) {
			*ns = argv[i] + 12;
		} else {
			continue;
		}
		for (j = i; j + used <= *argc; j++)
			argv[j] = argv[j + used];
		*argc -= used;
		i--;
	}
	return 0;
}

bool cli_in_namespace(json_t *item, const char *ns)
{
	const char *v = json_string_value(json_object_get(item, "namespace"));

	return !ns || (v && !strcmp(v, ns));
}

int cli_resource_list(int argc, char **argv, const struct cli_kind *k)
{
	enum cli_fmt fmt;
	json_t *res, *item, *items;
	const char *ns;
	size_t i;
	char cmd[64];
	int rc = cli_take_output(&argc, argv, CLI_FMT_GET, &fmt);

	if (!rc)
		rc = cli_take_namespace(&argc, argv, &ns);
	if (rc)
		return rc;
	if (argc != 1)
		return usage_error(k->family, "list", "[-n NAMESPACE|-A] [-o json|yaml|wide|name]");
	snprintf(cmd, sizeof(cmd), "%s.list", k->family);
	res = cli_request(json_pack("{s:s}", "cmd", cmd));
	if (!res)
		return 1;
	/* -n: the namespace's items only (the agent lists them all) */
	items = json_array();
	json_array_foreach(json_object_get(res, k->items), i, item)
		if (cli_in_namespace(item, ns))
			json_array_append(items, item);
	json_object_set_new(res, k->items, items);
	if (fmt & CLI_FMT_OBJECT) {
		json_t *list = cli_list(json_incref(json_object_get(res, k->items)));

		cli_print_as(list, fmt, k->family);
		json_decref(list);
		json_decref(res);
		return 0;
	}
	k->head(fmt == CLI_FMT_WIDE);
	json_array_foreach(json_object_get(res, k->items), i, item)
		k->row(item, fmt == CLI_FMT_WIDE);
	json_decref(res);
	return 0;
}

static const struct cli_kind pod_kind = { "pod", "pods", pod_table_head, pod_table_row };

static int pod_get(int argc, char **argv) { return cli_resource_get(argc, argv, &pod_kind); }
static int pod_list(int argc, char **argv) { return cli_resource_list(argc, argv, &pod_kind); }

static int label_args(int first, int argc, char **argv, json_t *set, json_t *remove)
{
	int i;

	if (first >= argc) {
		fprintf(stderr, "sluice: no labels given (want key=value or key-)\n");
		return -EINVAL;
	}
	for (i = first; i < argc; i++)
		if (cli_parse_labels(argv[i], set, remove))
			return -EINVAL;
	return 0;
}

static int pod_label(int argc, char **argv)
{
	json_t *set = json_object(), *rm = json_array(), *res;
	const char *ns, *name;
	char *buf;

	if (argc < 3)
		return usage_error("pod", "label", "NAMESPACE/NAME k=v... [k-...]");
	if (cli_split_ref(argv[1], &buf, &ns, &name))
		return 2;
	if (label_args(2, argc, argv, set, rm)) {
		free(buf);
		return 2;
	}
	if (check_labels(set, rm)) {
		free(buf);
		return 1;
	}
	res = cli_request(json_pack("{s:s,s:s,s:s,s:o,s:o}", "cmd", "pod.label", "namespace", ns,
				    "name", name, "set", set, "remove", rm));
	free(buf);
	if (!res)
		return 1;
	printf("pod %s/%s labelled, identity %lld\n", json_string_value(json_object_get(res, "namespace")),
	       json_string_value(json_object_get(res, "name")),
	       (long long)json_integer_value(json_object_get(res, "identity")));
	json_decref(res);
	return 0;
}

/*
 * Runs a command inside the pod: joins its cgroup first (so cgroup hooks and
 * `pod delete` see the process), then its network namespace, then execs
 * itself into the command (no fork: the command has this process's PID, so
 * whoever started `sluice pod exec` can signal it, wait for it and read its
 * /proc entry). Exit status: the command's; 126 when the pod cannot be
 * entered, 127 when the command cannot be run.
 */
static int pod_exec(int argc, char **argv)
{
	const char *ns, *name, *netns, *cgroup;
	char *buf, path[4200], pidbuf[32];
	json_t *res;
	int i, nsfd;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++)
		;
	if (i != 2 || i + 1 >= argc)
		return usage_error("pod", "exec", "NAMESPACE/NAME -- CMD [ARGS...]");
	if (cli_split_ref(argv[1], &buf, &ns, &name))
		return 2;
	res = cli_request(json_pack("{s:s,s:s,s:s}", "cmd", "pod.get", "namespace", ns, "name", name));
	free(buf);
	if (!res)
		return 1;
	if (json_is_true(json_object_get(res, "remote"))) {
		fprintf(stderr, "sluice: pod %s runs on another node\n", argv[1]);
		json_decref(res);
		return 1;
	}
	netns = json_string_value(json_object_get(res, "netns_path"));
	cgroup = json_string_value(json_object_get(res, "cgroup"));
	nsfd = netns ? open(netns, O_RDONLY | O_CLOEXEC) : -1;
	if (nsfd < 0) {
		fprintf(stderr, "sluice: cannot open %s: %s\n", netns ? netns : "(no netns)",
			strerror(netns ? errno : ENOENT));
		json_decref(res);
		return 1;
	}
	snprintf(pidbuf, sizeof(pidbuf), "%d", getpid());
	/* a pod attached by CNI has no cgroup of the agent's: netns only */
	if (cgroup && *cgroup) {
		snprintf(path, sizeof(path), "%s/cgroup.procs", cgroup);
		if (sl_write_file(path, pidbuf)) {
			fprintf(stderr, "sluice: cannot join cgroup %s\n", cgroup);
			return 126;
		}
	}
	if (setns(nsfd, CLONE_NEWNET)) {
		fprintf(stderr, "sluice: cannot enter %s: %s\n", netns, strerror(errno));
		return 126;
	}
	close(nsfd);
	json_decref(res);
	fflush(NULL);
	signal(SIGPIPE, SIG_DFL); /* ignored by the CLI, not by what it runs */
	execvp(argv[3], &argv[3]);
	fprintf(stderr, "sluice: cannot run %s: %s\n", argv[3], strerror(errno));
	return 127;
}

static const struct subcmd pod_cmds[] = {
	{ "create", pod_create, "create NAMESPACE/NAME --labels k=v,... [--port NAME=PORT/PROTO]... [--remote IP]",
	  "Creates a local pod (network namespace, veth, IP, cgroup) and prints its IP.\n"
	  "With --remote IP, registers a pod running on another node instead: its\n"
	  "identity and address become known here.\n\n"
	  "  -l, --labels k=v,...        the pod's labels (Kubernetes label syntax)\n"
	  "  -p, --port NAME=PORT/PROTO  a named container port (TCP, UDP or SCTP)\n"
	  "      --remote IP             a pod of another node\n\n"
	  "Names follow Kubernetes: the namespace is a DNS-1123 label (63 characters),\n"
	  "the name a DNS-1123 subdomain (253).\n" },
	{ "import", pod_import, "import FILE|-",
	  "Registers many pods of other nodes at once, all or none. One pod per line:\n"
	  "NAMESPACE/NAME IP [k=v,...]; # starts a comment.\n" },
	{ "exec", pod_exec, "exec NAMESPACE/NAME -- CMD [ARGS...]",
	  "Runs a command inside the pod (its cgroup and network namespace) and\n"
	  "returns its exit status.\n" },
	{ "delete", pod_delete, "delete NAMESPACE/NAME", "Deletes a pod.\n" },
	{ "list", pod_list, "list [-n NAMESPACE|-A] [-o json|yaml|wide|name]",
	  "Every pod: name, IP, identity and labels; -o wide adds the endpoint,\n"
	  "node, interface, enforced directions and ports. -o json and -o yaml print\n"
	  "a kubectl-style List whose items are the agent's pod records.\n" },
	{ "get", pod_get, "get NAMESPACE/NAME [-o json|yaml|wide|name]",
	  "One pod, as a table row, or everything the agent knows of it (-o json,\n"
	  "-o yaml).\n" },
	{ "label", pod_label, "label NAMESPACE/NAME k=v... [k-...]",
	  "Sets (k=v) or removes (k-) labels; the pod moves to its new identity at once.\n" },
};

static int cmd_pod(int argc, char **argv)
{
	return cli_dispatch("pod", "Local pods: network namespaces with labels, an IP and a cgroup.", pod_cmds,
			    sizeof(pod_cmds) / sizeof(pod_cmds[0]), argc, argv);
}

/* ---- namespace ----------------------------------------------------------- */

static void ns_row(json_t *n)
{
	char b[300];

	printf("%-20s ", cli_cell(json_string_value(json_object_get(n, "name")), b, sizeof(b)));
	print_labels(json_object_get(n, "labels"));
	printf("\n");
}

static int ns_list_get(int argc, char **argv, bool get)
{
	enum cli_fmt fmt;
	json_t *res, *n, *found = NULL;
	size_t i;
	int rc = cli_take_output(&argc, argv, CLI_FMT_GET, &fmt);

	if (rc)
		return rc;
	if (argc != (get ? 2 : 1))
		return get ? usage_error("namespace", "get", "NAMESPACE [-o json|yaml|wide|name]")
			   : usage_error("namespace", "list", "[-o json|yaml|wide|name]");
	res = cli_request(json_pack("{s:s}", "cmd", "namespace.list"));
	if (!res)
		return 1;
	if (get) {
		json_array_foreach(json_object_get(res, "namespaces"), i, n)
			if (!strcmp(json_string_value(json_object_get(n, "name")) ?: "", argv[1]))
				found = n;
		if (!found) {
			fprintf(stderr, "sluice: namespace %s not found\n", argv[1]);
			json_decref(res);
			return 1;
		}
	}
	if (fmt & CLI_FMT_OBJECT) {
		json_t *out = get ? json_incref(found) : cli_list(json_incref(json_object_get(res, "namespaces")));

		cli_print_as(out, fmt, "namespace");
		json_decref(out);
	} else {
		printf("%-20s %s\n", "NAME", "LABELS");
		if (get)
			ns_row(found);
		else
			json_array_foreach(json_object_get(res, "namespaces"), i, n)
				ns_row(n);
	}
	json_decref(res);
	return 0;
}

static int ns_list(int argc, char **argv) { return ns_list_get(argc, argv, false); }
static int ns_get(int argc, char **argv) { return ns_list_get(argc, argv, true); }

static int ns_label(int argc, char **argv)
{
	json_t *set = json_object(), *rm = json_array(), *res;
	char *err = NULL;

	if (argc < 3)
		return usage_error("namespace", "label", "NAMESPACE k=v... [k-...]");
	if (label_args(2, argc, argv, set, rm))
		return 2;
	if (sl_check_namespace(argv[1], &err)) {
		fprintf(stderr, "sluice: %s\n", err);
		free(err);
		return 1;
	}
	if (check_labels(set, rm))
		return 1;
	res = cli_request(json_pack("{s:s,s:s,s:o,s:o}", "cmd", "namespace.label", "namespace", argv[1],
				    "set", set, "remove", rm));
	if (!res)
		return 1;
	printf("namespace %s labelled: ", argv[1]);
	print_labels(json_object_get(res, "labels"));
	printf("\n");
	json_decref(res);
	return 0;
}

static const struct subcmd ns_cmds[] = {
	{ "label", ns_label, "label NAMESPACE k=v... [k-...]",
	  "Sets (k=v) or removes (k-) namespace labels; namespace selectors\n"
	  "(k8s:io.cilium.k8s.namespace.labels.K) match them.\n" },
	{ "list", ns_list, "list [-o json|yaml|wide|name]", "Namespaces and their labels.\n" },
	{ "get", ns_get, "get NAMESPACE [-o json|yaml|wide|name]", "One namespace and its labels.\n" },
};

static int cmd_namespace(int argc, char **argv)
{
	return cli_dispatch("namespace", "Namespaces and their labels.", ns_cmds,
			    sizeof(ns_cmds) / sizeof(ns_cmds[0]), argc, argv);
}

/* ---- identity ------------------------------------------------------------ */

static void id_row(json_t *id, bool wide)
{
	json_t *l;
	size_t k;
	char b[600];

	printf("%-10lld ", (long long)json_integer_value(json_object_get(id, "identity")));
	if (wide)
		printf("%-10lld ", (long long)json_integer_value(json_object_get(id, "references")));
	json_array_foreach(json_object_get(id, "labels"), k, l)
		printf("%s%s", k ? (wide ? "\n                      " : "\n           ") : "",
		       cli_cell(json_string_value(l), b, sizeof(b)));
	printf("\n");
}

static int id_list_get(int argc, char **argv, bool get)
{
	enum cli_fmt fmt;
	json_t *res, *id, *found = NULL;
	size_t i;
	char *end = NULL;
	unsigned long want = 0;
	int rc = cli_take_output(&argc, argv, CLI_FMT_GET, &fmt);

	if (rc)
		return rc;
	if (argc != (get ? 2 : 1))
		return get ? usage_error("identity", "get", "ID [-o json|yaml|wide|name]")
			   : usage_error("identity", "list", "[-o json|yaml|wide|name]");
	if (get) {
		errno = 0;
		want = strtoul(argv[1], &end, 10);
		if (!*argv[1] || *end || errno || argv[1][0] == '-' || want > UINT32_MAX) {
			fprintf(stderr, "sluice: invalid identity \"%s\" (want a number)\n", argv[1]);
			return 2;
		}
	}
	res = cli_request(json_pack("{s:s}", "cmd", "identity.list"));
	if (!res)
		return 1;
	if (get) {
		json_array_foreach(json_object_get(res, "identities"), i, id)
			if ((unsigned long)json_integer_value(json_object_get(id, "identity")) == want)
				found = id;
		if (!found) {
			fprintf(stderr, "sluice: identity %lu not found\n", want);
			json_decref(res);
			return 1;
		}
	}
	if (fmt & CLI_FMT_OBJECT) {
		json_t *out = get ? json_incref(found) : cli_list(json_incref(json_object_get(res, "identities")));

		cli_print_as(out, fmt, "identity");
		json_decref(out);
	} else {
		if (fmt == CLI_FMT_WIDE)
			printf("%-10s %-10s %s\n", "ID", "REFS", "LABELS");
		else
			printf("%-10s %s\n", "ID", "LABELS");
		if (get)
			id_row(found, fmt == CLI_FMT_WIDE);
		else
			json_array_foreach(json_object_get(res, "identities"), i, id)
				id_row(id, fmt == CLI_FMT_WIDE);
	}
	json_decref(res);
	return 0;
}

static int id_list(int argc, char **argv) { return id_list_get(argc, argv, false); }
static int id_get(int argc, char **argv) { return id_list_get(argc, argv, true); }

static const struct subcmd id_cmds[] = {
	{ "list", id_list, "list [-o json|yaml|wide|name]",
	  "Numeric security identities and their labels, reserved ones included\n"
	  "(1 host, 2 world, ...; pods from 256; CIDR identities from 16777216);\n"
	  "-o wide adds how many pods and policies refer to each.\n" },
	{ "get", id_get, "get ID [-o json|yaml|wide|name]", "One identity and its labels.\n" },
};

static int cmd_identity(int argc, char **argv)
{
	return cli_dispatch("identity", "Security identities.", id_cmds, sizeof(id_cmds) / sizeof(id_cmds[0]),
			    argc, argv);
}

/* ---- status -------------------------------------------------------------- */

static long long jint(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/*
 * "n failed (a reason1, b reason2)": the reasons that happened, by the names
 * /metrics gives them (sluice_tls_handshake_failures_total's reason label).
 */
static void print_tls_failures(long long total, json_t *px, const char *const (*why)[2], size_t n)
{
	const char *sep = " (";
	size_t i;

	printf("%lld failed", total);
	for (i = 0; i < n; i++) {
		long long v = jint(px, why[i][0]);

		if (v) {
			printf("%s%lld %s", sep, v, why[i][1]);
			sep = ", ";
		}
	}
	if (strcmp(sep, " ("))
		printf(")");
}

/* The proxy's TLS counters (terminatingTLS: clients; originatingTLS:
 * upstreams), as `-o json` and /metrics have them */
static void print_proxy_tls(json_t *px)
{
	static const char *const client_why[][2] = {
		{ "tls_sni_denied", "server_name" },        { "tls_handshake_untrusted", "untrusted" },
		{ "tls_handshake_timeouts", "timeout" },    { "tls_handshake_plain_http", "plain_http" },
		{ "tls_handshake_protocol", "protocol" },   { "tls_handshake_closed", "closed" },
		/* closed at the concurrent-handshake cap to make room */
		{ "tls_handshake_evicted", "evicted" },
	};
	long long up_verify = jint(px, "tls_upstream_verify_failed");
	long long up_other = jint(px, "tls_upstream_errors") - up_verify;
	json_t *up_why = json_pack("{s:I,s:I}", "verify", (json_int_t)up_verify, "other",
				   (json_int_t)(up_other > 0 ? up_other : 0));
	static const char *const upstream_why[][2] = { { "verify", "verify" }, { "other", "other" } };

	printf("  tls clients  %lld handshakes (%lld resumed), ", jint(px, "tls_handshakes"), jint(px, "tls_resumed"));
	print_tls_failures(jint(px, "tls_handshake_errors"), px, client_why, sizeof(client_why) / sizeof(client_why[0]));
	printf("\n");
	printf("  tls upstream %lld handshakes (%lld resumed), ", jint(px, "tls_upstream_handshakes"),
	       jint(px, "tls_upstream_resumed"));
	print_tls_failures(jint(px, "tls_upstream_errors"), up_why, upstream_why, 2);
	printf("\n");
	json_decref(up_why);
}

static void print_proxy_status(json_t *px)
{
	const char *state = json_string_value(json_object_get(px, "state")) ?: "unknown";

	if (!strcmp(state, "disabled")) {
		printf("Proxy:         disabled (--no-proxy)\n");
		return;
	}
	printf("Proxy:         %s (pid %lld, restarts %lld)\n", state, jint(px, "pid"), jint(px, "restarts"));
	/* as cilium status says "Envoy: external": the agent's child, or the
	 * sluice-proxy DaemonSet's it connects to */
	if (json_is_string(json_object_get(px, "mode")))
		printf("  mode         %s%s%s%s\n", json_string_value(json_object_get(px, "mode")),
		       json_is_string(json_object_get(px, "control")) ? " (control " : "",
		       json_string_value(json_object_get(px, "control")) ?: "",
		       json_is_string(json_object_get(px, "control")) ? ")" : "");
	printf("  connections  %lld active, %lld total, %lld refused\n", jint(px, "connections_active"),
	       jint(px, "connections_total"), jint(px, "connections_refused"));
	printf("  requests     %lld allowed, %lld denied, %lld errors\n", jint(px, "requests_allowed"),
	       jint(px, "requests_denied"), jint(px, "requests_error"));
	if (json_object_get(px, "tls_handshakes")) /* a proxy that reported its counters */
		print_proxy_tls(px);
	/* lost on the way (a slow agent, a full stdout): said only when it happened */
	if (jint(px, "access_dropped") || jint(px, "access_log_dropped"))
		printf("  dropped      %lld access records (to the agent), %lld access-log lines\n",
		       jint(px, "access_dropped"), jint(px, "access_log_dropped"));
}

static int cmd_status(int argc, char **argv)
{
	enum cli_fmt fmt;
	json_t *res, *m, *p, *mem;
	const char *k;
	size_t i;
	int rc;

	if (cli_want_help(argc, argv)) {
		printf("Usage: sluice status [-o json|yaml]\n\n"
		       "Agent health, memory, attached programs, map fill levels, the L7 proxy\n"
		       "(pid, state, mode, restarts, connections, requests, TLS handshakes and\n"
		       "failures by reason, clients and upstreams) and counters.\n");
		return 0;
	}
	rc = cli_take_output(&argc, argv, CLI_FMT_DATA, &fmt);
	if (rc)
		return rc;
	if (argc != 1) {
		fprintf(stderr, "sluice: usage: sluice status [-o json|yaml]\n");
		return 2;
	}
	res = cli_request(json_pack("{s:s}", "cmd", "status"));
	if (!res)
		return 1;
	strip_envelope(res);
	if (fmt != CLI_FMT_TABLE) {
		cli_print(res, fmt);
		json_decref(res);
		return 0;
	}
	printf("Health:        %s (pid %lld, up %llds, node %s)\n",
	       json_string_value(json_object_get(res, "health")), jint(res, "pid"), jint(res, "uptime_seconds"),
	       json_string_value(json_object_get(res, "node")));
	printf("Version:       %s (datapath ABI %lld)\n", json_string_value(json_object_get(res, "version")) ?: "?",
	       jint(res, "datapath_abi"));
	mem = json_object_get(res, "memory");
	if (mem)
		printf("Memory:        %.1f MiB resident (peak %.1f MiB)\n", jint(mem, "rss_bytes") / 1048576.0,
		       jint(mem, "rss_peak_bytes") / 1048576.0);
	printf("Pins:          %s\nCgroup root:   %s\n", json_string_value(json_object_get(res, "bpf_root")),
	       json_string_value(json_object_get(res, "cgroup_root")));
	if (json_object_get(res, "pod_cidr")) {
		printf("Pod CIDR:      %s\n", json_string_value(json_object_get(res, "pod_cidr")));
	} else {
		/* Kubernetes mode: the primary CNI gives the addresses */
		json_t *nc = json_object_get(res, "node_pod_cidrs"), *c;
		size_t j;

		printf("Pod addresses: from the %s", json_string_value(json_object_get(res, "pod_addresses")) ?: "primary CNI");
		if (json_array_size(nc)) {
			printf(" (Node podCIDRs");
			json_array_foreach(nc, j, c)
				printf("%s%s", j ? ", " : " ", json_string_value(c));
			printf(")");
		} else if (json_is_array(nc)) {
			printf(" (the Node has no podCIDRs)");
		}
		printf("\n");
	}
	printf("Endpoints:     %lld\nIdentities:    %lld\nPolicies:      %lld\n", jint(res, "endpoints"),
	       jint(res, "identities"), jint(res, "policies"));
	printf("Last apply:    %lld us\n", jint(res, "last_policy_apply_us"));
	if (json_is_object(json_object_get(res, "services"))) {
		json_t *sv = json_object_get(res, "services");

		printf("Services:      %lld (%lld ports, %lld backends; service map %lld/%lld)\n",
		       jint(sv, "services"), jint(sv, "frontends"), jint(sv, "backends"),
		       jint(sv, "map_entries"), jint(sv, "map_max_entries"));
	}
	if (jint(res, "rollbacks_failed") || jint(res, "state_save_failures"))
		printf("WARNING:       %lld failed rollbacks (the datapath may not match the declared state), %lld failed state saves\n",
		       jint(res, "rollbacks_failed"), jint(res, "state_save_failures"));
	if (json_is_object(json_object_get(res, "kubernetes"))) {
		/* Kubernetes mode: the API server source */
		json_t *kube = json_object_get(res, "kubernetes"), *cl = json_object_get(kube, "client");

		printf("Kubernetes:    %s (%s), node %s, namespace %s\n",
		       json_string_value(json_object_get(kube, "server")),
		       json_is_true(json_object_get(kube, "synced")) ? "synced" : "syncing",
		       json_string_value(json_object_get(kube, "node")),
		       json_string_value(json_object_get(kube, "namespace")));
		printf("  requests %lld, errors %lld, forbidden %lld, not found %lld, events %lld, relists %lld, rewatches %lld, token reloads %lld\n",
		       jint(cl, "requests"), jint(cl, "errors"), jint(cl, "forbidden"), jint(cl, "not_found"),
		       jint(cl, "events"), jint(cl, "relists"), jint(cl, "rewatches"), jint(cl, "token_reloads"));
		json_object_foreach(json_object_get(kube, "collections"), k, p) {
			const char *e = json_string_value(json_object_get(p, "last_error"));

			printf("  %-34s %-8s %6lld events%s%s\n", k,
			       json_is_true(json_object_get(p, "synced")) ? "synced"
			       : json_is_true(json_object_get(p, "absent")) ? "absent" : "syncing",
			       jint(p, "events"), e ? "  last error: " : "", e ? e : "");
		}
		json_array_foreach(json_object_get(kube, "secrets"), i, p) {
			/* a TLS Secret that is not there: name it and what it leaves without TLS */
			json_t *pols = json_object_get(p, "in_force_policies"), *x;
			size_t j;

			if (!json_is_true(json_object_get(p, "missing")))
				continue;
			printf("  TLS Secret %s/%s missing: %s", json_string_value(json_object_get(p, "namespace")),
			       json_string_value(json_object_get(p, "name")),
			       json_string_value(json_object_get(p, "error")) ?: "not present");
			json_array_foreach(pols, j, x)
				printf("%s%s", j ? ", " : "; new TLS connections refused for ", json_string_value(x));
			printf("\n");
		}
		if (jint(kube, "secrets_waiting"))
			printf("  waiting for %lld Secrets to be listed (the TLS connections and header matches that need them are refused meanwhile)\n",
			       jint(kube, "secrets_waiting"));
		printf("  policy load failures %lld, identities allocated %lld, GC leader %s\n",
		       jint(kube, "policy_load_failures"), jint(json_object_get(kube, "identities"), "allocated"),
		       json_is_true(json_object_get(json_object_get(kube, "identity_gc"), "leader")) ? "yes" : "no");
	}
	print_proxy_status(json_object_get(res, "proxy"));
	printf("Programs:     ");
	json_array_foreach(json_object_get(res, "programs"), i, p)
		printf(" %s", json_string_value(p));
	printf("\nMaps:\n");
	json_array_foreach(json_object_get(res, "maps"), i, m)
		printf("  %-16s %8lld / %lld\n", json_string_value(json_object_get(m, "name")), jint(m, "entries"),
		       jint(m, "max_entries"));
	printf("Datapath:\n");
	json_object_foreach(json_object_get(res, "datapath"), k, p)
		printf("  %-24s %lld\n", k, (long long)json_integer_value(p));
	{
		json_t *v;

		json_object_foreach(res, k, v) {
			if (!strncmp(k, "flows_", 6) || !strncmp(k, "events_", 7))
				printf("%-14s %lld\n", k, (long long)json_integer_value(v));
		}
	}
	json_decref(res);
	return 0;
}

/* ---- proxy --------------------------------------------------------------- */

static int proxy_restart(int argc, char **argv)
{
	json_t *res;

	(void)argv;
	if (argc != 1)
		return usage_error("proxy", "restart", "");
	res = cli_request(json_pack("{s:s}", "cmd", "proxy.restart"));
	if (!res)
		return 1;
	printf("proxy restart started\n");
	json_decref(res);
	return 0;
}

static const struct subcmd proxy_cmds[] = {
	{ "restart", proxy_restart, "restart",
	  "Starts a new L7 proxy, hands it the listening sockets and rules, then lets\n"
	  "the old one finish its requests and exit: no connection is refused.\n" },
};

static int cmd_proxy(int argc, char **argv)
{
	return cli_dispatch("proxy", "The node's L7 proxy.", proxy_cmds, 1, argc, argv);
}

/* ---- main ---------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sluice [--socket PATH] COMMAND ...\n\n"
		"Identity-based, HTTP-aware network policy for local pods.\n\n"
		"Commands:\n"
		"  pod        create, exec, delete, list, get, label, import pods\n"
		"  namespace  label, list, get namespaces\n"
		"  identity   list, get security identities\n"
		"  policy     apply, delete, list, get, lint policies\n"
		"  service    create, delete, list, get ClusterIP services\n"
		"  observe    watch flows and verdicts\n"
		"  secret     create, list, get, delete secrets for TLS interception\n"
		"  proxy      restart the L7 proxy without refusing connections\n"
		"  status     agent health, memory, proxy, programs, maps, counts\n"
		"  version    the CLI's version and datapath ABI\n\n"
		"Options:\n"
		"  --socket PATH  the agent's socket (else $SLUICE_SOCKET, else\n"
		"                 /run/sluice/sluice.sock)\n"
		"  --version      print the version\n\n"
		"`sluice COMMAND --help` for details. Gets and lists take -o json|yaml|wide|name.\n");
}

static int print_version(void)
{
	printf("sluice %s (datapath ABI %d)\n", SLUICE_VERSION, SLUICE_ABI_VERSION);
	return 0;
}

/* `sluice version [-o json|yaml]`: as kubectl version -o json names it,
 * {"clientVersion": {...}} */
static int cmd_version(int argc, char **argv)
{
	enum cli_fmt fmt;
	json_t *v;
	int rc;

	if (cli_want_help(argc, argv)) {
		printf("Usage: sluice version [-o json|yaml]\n\nPrints the CLI's version and the datapath ABI version.\n");
		return 0;
	}
	rc = cli_take_output(&argc, argv, CLI_FMT_DATA, &fmt);
	if (rc)
		return rc;
	if (argc != 1) {
		fprintf(stderr, "sluice: usage: sluice version [-o json|yaml]\n");
		return 2;
	}
	if (fmt == CLI_FMT_TABLE)
		return print_version();
	v = json_pack("{s:{s:s,s:i}}", "clientVersion", "version", SLUICE_VERSION, "datapathABI",
		      SLUICE_ABI_VERSION);
	cli_print(v, fmt);
	json_decref(v);
	return 0;
}

int main(int argc, char **argv)
{
	int i = 1;

	signal(SIGPIPE, SIG_IGN);
	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			client_set_socket(argv[i + 1]);
			i += 2;
		} else if (!strncmp(argv[i], "--socket=", 9)) {
			client_set_socket(argv[i] + 9);
			i++;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-v")) {
			return print_version();
		} else {
			fprintf(stderr, "sluice: unknown option %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	argc -= i;
	argv += i;
	if (!strcmp(argv[0], "pod") || !strcmp(argv[0], "pods"))
		return cmd_pod(argc, argv);
	if (!strcmp(argv[0], "namespace") || !strcmp(argv[0], "ns"))
		return cmd_namespace(argc, argv);
	if (!strcmp(argv[0], "identity"))
		return cmd_identity(argc, argv);
	if (!strcmp(argv[0], "policy"))
		return cli_policy(argc, argv);
	if (!strcmp(argv[0], "service") || !strcmp(argv[0], "services") || !strcmp(argv[0], "svc"))
		return cli_service(argc, argv);
	if (!strcmp(argv[0], "observe"))
		return cli_observe(argc, argv);
	if (!strcmp(argv[0], "secret") || !strcmp(argv[0], "secrets"))
		return cli_secret(argc, argv);
	if (!strcmp(argv[0], "status"))
		return cmd_status(argc, argv);
	if (!strcmp(argv[0], "proxy"))
		return cmd_proxy(argc, argv);
	if (!strcmp(argv[0], "version"))
		return cmd_version(argc, argv);
	if (!strcmp(argv[0], "help")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "sluice: unknown command \"%s\" (see sluice --help)\n", argv[0]);
	return 2;
}
