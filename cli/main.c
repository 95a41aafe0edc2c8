/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c - sluice, the command line: talks to sluiced over its socket.
 * Every command answers --help; a failure prints one line and exits 1.
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

#include "../common/util.h"
#include "client.h"
#include "cli.h"

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

static bool want_help(int argc, char **argv)
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
		fprintf(stderr, "sluice: expected NAMESPACE/NAME, got \"%s\"\n", ref);
		free(*buf);
		return -EINVAL;
	}
	*slash = 0;
	*ns = *buf;
	*name = slash + 1;
	return 0;
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
			fprintf(stderr, "sluice: invalid label \"%s\" (want key=value%s)\n", tok,
				remove ? " or key-" : "");
			rc = -EINVAL;
			break;
		}
		*eq = 0;
		json_object_set_new(set, tok, json_string(eq + 1));
	}
	free(copy);
	return rc;
}

static void print_labels(json_t *labels)
{
	const char *k;
	json_t *v;
	bool first = true;

	json_object_foreach(labels, k, v) {
		printf("%s%s=%s", first ? "" : ",", k, json_string_value(v));
		first = false;
	}
	if (first)
		printf("<none>");
}

/* ---- pod ---------------------------------------------------------------- */

static int parse_port(const char *spec, json_t *ports)
{
	char name[64], proto[8] = "TCP";
	unsigned port;
	int n = sscanf(spec, "%63[^=]=%u/%7s", name, &port, proto);

	if (n < 2 || port == 0 || port > 65535 ||
	    (strcmp(proto, "TCP") && strcmp(proto, "UDP") && strcmp(proto, "SCTP"))) {
		fprintf(stderr, "sluice: invalid --port \"%s\" (want NAME=PORT/TCP|UDP|SCTP)\n", spec);
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
	if (optind != argc - 1) {
		fprintf(stderr, "sluice: usage: sluice pod create NAMESPACE/NAME --labels k=v,... [--port NAME=PORT/PROTO]\n");
		return 2;
	}
	if (cli_split_ref(argv[optind], &buf, &ns, &name))
		return 2;
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

	if (argc != 2) {
		fprintf(stderr, "sluice: usage: sluice pod import FILE|- (lines: NAMESPACE/NAME IP [k=v,...])\n");
		return 2;
	}
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

static int pod_simple(const char *cmd, int argc, char **argv)
{
	const char *ns, *name;
	char *buf;
	json_t *res;

	if (argc != 2) {
		fprintf(stderr, "sluice: usage: sluice pod %s NAMESPACE/NAME\n", cmd + 4);
		return 2;
	}
	if (cli_split_ref(argv[1], &buf, &ns, &name))
		return 2;
	res = cli_request(json_pack("{s:s,s:s,s:s}", "cmd", cmd, "namespace", ns, "name", name));
	free(buf);
	if (!res)
		return 1;
	if (!strcmp(cmd, "pod.get"))
		printf("%s\n", json_dumps(res, JSON_INDENT(2) | JSON_SORT_KEYS));
	json_decref(res);
	return 0;
}

static int pod_list(int argc, char **argv)
{
	json_t *res = cli_request(json_pack("{s:s}", "cmd", "pod.list")), *p;
	size_t i;

	if (!res)
		return 1;
	if (argc > 2 && !strcmp(argv[1], "-o") && !strcmp(argv[2], "json")) {
		char *s = json_dumps(json_object_get(res, "pods"), JSON_INDENT(2));

		printf("%s\n", s);
		free(s);
		json_decref(res);
		return 0;
	}
	printf("%-30s %-15s %-9s %-14s %s\n", "NAME", "IP", "IDENTITY", "CONTAINER", "LABELS");
	json_array_foreach(json_object_get(res, "pods"), i, p) {
		char full[256];

		snprintf(full, sizeof(full), "%s/%s", json_string_value(json_object_get(p, "namespace")),
			 json_string_value(json_object_get(p, "name")));
		/* CONTAINER: the CNI container id of a pod the plugin attached,
		 * "-" for the agent's own pods, "remote" for other nodes' */
		printf("%-30s %-15s %-9lld %-14.12s ", full, json_string_value(json_object_get(p, "ip")),
		       (long long)json_integer_value(json_object_get(p, "identity")),
		       json_string_value(json_object_get(p, "container_id")) ?:
		       json_is_true(json_object_get(p, "remote")) ? "remote" : "-");
		print_labels(json_object_get(p, "labels"));
		printf("\n");
	}
	json_decref(res);
	return 0;
}

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

	if (argc < 3) {
		fprintf(stderr, "sluice: usage: sluice pod label NAMESPACE/NAME k=v... [k-...]\n");
		return 2;
	}
	if (cli_split_ref(argv[1], &buf, &ns, &name))
		return 2;
	if (label_args(2, argc, argv, set, rm)) {
		free(buf);
		return 2;
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
 * `pod delete` see the process), then its network namespace, then execs.
 */
static int pod_exec(int argc, char **argv)
{
	const char *ns, *name, *netns, *cgroup;
	char *buf, path[4200];
	json_t *res;
	int i, status, nsfd;
	pid_t pid;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++)
		;
	if (i != 2 || i + 1 >= argc) {
		fprintf(stderr, "sluice: usage: sluice pod exec NAMESPACE/NAME -- CMD [ARGS...]\n");
		return 2;
	}
	if (cli_split_ref(argv[1], &buf, &ns, &name))
		return 2;
	res = cli_request(json_pack("{s:s,s:s,s:s}", "cmd", "pod.get", "namespace", ns, "name", name));
	free(buf);
	if (!res)
		return 1;
	if (json_is_true(json_object_get(res, "remote"))) {
		fprintf(stderr, "sluice: pod %s runs on another node\n", argv[1]);
		return 1;
	}
	netns = json_string_value(json_object_get(res, "netns_path"));
	cgroup = json_string_value(json_object_get(res, "cgroup"));
	nsfd = open(netns, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		fprintf(stderr, "sluice: cannot open %s: %s\n", netns, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/cgroup.procs", cgroup);
	pid = fork();
	if (pid < 0) {
		perror("sluice: fork");
		return 1;
	}
	if (pid == 0) {
		char pidbuf[32];

		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		snprintf(pidbuf, sizeof(pidbuf), "%d", getpid());
		/* a pod attached by CNI has no cgroup of the agent's: netns only */
		if (cgroup && *cgroup && sl_write_file(path, pidbuf)) {
			fprintf(stderr, "sluice: cannot join cgroup %s\n", cgroup);
			_exit(126);
		}
		if (setns(nsfd, CLONE_NEWNET)) {
			fprintf(stderr, "sluice: cannot enter %s: %s\n", netns, strerror(errno));
			_exit(126);
		}
		execvp(argv[3], &argv[3]);
		fprintf(stderr, "sluice: cannot run %s: %s\n", argv[3], strerror(errno));
		_exit(127);
	}
	close(nsfd);
	json_decref(res);
	signal(SIGINT, SIG_IGN); /* the child gets the terminal's signals */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

static int cmd_pod(int argc, char **argv)
{
	if (argc < 2 || (want_help(argc, argv) && (argc < 2 || strcmp(argv[1], "exec")))) {
		printf("Usage: sluice pod COMMAND\n\n"
		       "Local pods: network namespaces with labels, an IP and a cgroup.\n\n"
		       "  create NAMESPACE/NAME --labels k=v,... [--port NAME=PORT/PROTO]...\n"
		       "                         create a pod; prints its IP\n"
		       "  create NAMESPACE/NAME --labels k=v,... --remote IP\n"
		       "                         register a pod running on another node: its\n"
		       "                         identity and address become known here\n"
		       "  import FILE|-          register many pods of other nodes at once, all\n"
		       "                         or none: lines NAMESPACE/NAME IP [k=v,...]\n"
		       "  exec NAMESPACE/NAME -- CMD [ARGS...]\n"
		       "                         run a command in the pod; returns its status\n"
		       "  delete NAMESPACE/NAME  delete a pod\n"
		       "  list [-o json]         name, IP, identity and labels of every pod\n"
		       "  get NAMESPACE/NAME     everything the agent knows of a pod (JSON)\n"
		       "  label NAMESPACE/NAME k=v... [k-...]\n"
		       "                         set or remove labels (the identity follows)\n");
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "create"))
		return pod_create(argc - 1, argv + 1);
	if (!strcmp(argv[1], "exec"))
		return pod_exec(argc - 1, argv + 1);
	if (!strcmp(argv[1], "import"))
		return pod_import(argc - 1, argv + 1);
	if (!strcmp(argv[1], "delete"))
		return pod_simple("pod.delete", argc - 1, argv + 1);
	if (!strcmp(argv[1], "get"))
		return pod_simple("pod.get", argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return pod_list(argc - 1, argv + 1);
	if (!strcmp(argv[1], "label"))
		return pod_label(argc - 1, argv + 1);
	fprintf(stderr, "sluice: unknown pod command \"%s\" (see sluice pod --help)\n", argv[1]);
	return 2;
}

/* ---- namespace, identity, status ------------------------------------------ */

static int cmd_namespace(int argc, char **argv)
{
	json_t *set = json_object(), *rm = json_array(), *res, *n;
	size_t i;

	if (argc < 2 || want_help(argc, argv)) {
		printf("Usage: sluice namespace COMMAND\n\n"
		       "  label NAMESPACE k=v... [k-...]  set or remove namespace labels\n"
		       "                                  (namespace selectors match them)\n"
		       "  list                            namespaces and their labels\n");
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "list")) {
		res = cli_request(json_pack("{s:s}", "cmd", "namespace.list"));
		if (!res)
			return 1;
		json_array_foreach(json_object_get(res, "namespaces"), i, n) {
			printf("%-20s ", json_string_value(json_object_get(n, "name")));
			print_labels(json_object_get(n, "labels"));
			printf("\n");
		}
		json_decref(res);
		return 0;
	}
	if (strcmp(argv[1], "label") || argc < 4) {
		fprintf(stderr, "sluice: usage: sluice namespace label NAMESPACE k=v... [k-...]\n");
		return 2;
	}
	if (label_args(3, argc, argv, set, rm))
		return 2;
	res = cli_request(json_pack("{s:s,s:s,s:o,s:o}", "cmd", "namespace.label", "namespace", argv[2],
				    "set", set, "remove", rm));
	if (!res)
		return 1;
	printf("namespace %s labelled: ", argv[2]);
	print_labels(json_object_get(res, "labels"));
	printf("\n");
	json_decref(res);
	return 0;
}

static int cmd_identity(int argc, char **argv)
{
	json_t *res, *id, *l;
	size_t i, k;

	if (argc < 2 || want_help(argc, argv) || strcmp(argv[1], "list")) {
		printf("Usage: sluice identity list [-o json]\n\n"
		       "Numeric security identities and their labels, reserved ones included.\n");
		return argc < 2 || !want_help(argc, argv) ? 2 : 0;
	}
	res = cli_request(json_pack("{s:s}", "cmd", "identity.list"));
	if (!res)
		return 1;
	if (argc > 3 && !strcmp(argv[2], "-o") && !strcmp(argv[3], "json")) {
		char *s = json_dumps(json_object_get(res, "identities"), JSON_INDENT(2));

		printf("%s\n", s);
		free(s);
		json_decref(res);
		return 0;
	}
	printf("%-10s %s\n", "ID", "LABELS");
	json_array_foreach(json_object_get(res, "identities"), i, id) {
		printf("%-10lld ", (long long)json_integer_value(json_object_get(id, "identity")));
		json_array_foreach(json_object_get(id, "labels"), k, l)
			printf("%s%s", k ? "\n           " : "", json_string_value(l));
		printf("\n");
	}
	json_decref(res);
	return 0;
}

static int cmd_status(int argc, char **argv)
{
	json_t *res, *m, *p;
	const char *k;
	size_t i;

	if (want_help(argc, argv)) {
		printf("Usage: sluice status [-o json]\n\n"
		       "Agent health, attached programs, map fill levels and counts.\n");
		return 0;
	}
	res = cli_request(json_pack("{s:s}", "cmd", "status"));
	if (!res)
		return 1;
	if (argc > 2 && !strcmp(argv[1], "-o") && !strcmp(argv[2], "json")) {
		char *s = json_dumps(res, JSON_INDENT(2));

		printf("%s\n", s);
		free(s);
		json_decref(res);
		return 0;
	}
	printf("Health:        %s (pid %lld, up %llds, node %s)\n",
	       json_string_value(json_object_get(res, "health")),
	       (long long)json_integer_value(json_object_get(res, "pid")),
	       (long long)json_integer_value(json_object_get(res, "uptime_seconds")),
	       json_string_value(json_object_get(res, "node")));
	printf("Pins:          %s\nCgroup root:   %s\nPod CIDR:      %s\n",
	       json_string_value(json_object_get(res, "bpf_root")),
	       json_string_value(json_object_get(res, "cgroup_root")),
	       json_string_value(json_object_get(res, "pod_cidr")));
	printf("Endpoints:     %lld\nIdentities:    %lld\nPolicies:      %lld\n",
	       (long long)json_integer_value(json_object_get(res, "endpoints")),
	       (long long)json_integer_value(json_object_get(res, "identities")),
	       (long long)json_integer_value(json_object_get(res, "policies")));
	printf("Last apply:    %lld us\n",
	       (long long)json_integer_value(json_object_get(res, "last_policy_apply_us")));
	if (json_is_object(json_object_get(res, "kubernetes"))) {
		/* Kubernetes mode: the API server source */
		json_t *kube = json_object_get(res, "kubernetes"), *cl = json_object_get(kube, "client");

		printf("Kubernetes:    %s (%s), node %s, namespace %s\n",
		       json_string_value(json_object_get(kube, "server")),
		       json_is_true(json_object_get(kube, "synced")) ? "synced" : "syncing",
		       json_string_value(json_object_get(kube, "node")),
		       json_string_value(json_object_get(kube, "namespace")));
		printf("  requests %lld, errors %lld, events %lld, relists %lld, rewatches %lld, token reloads %lld\n",
		       (long long)json_integer_value(json_object_get(cl, "requests")),
		       (long long)json_integer_value(json_object_get(cl, "errors")),
		       (long long)json_integer_value(json_object_get(cl, "events")),
		       (long long)json_integer_value(json_object_get(cl, "relists")),
		       (long long)json_integer_value(json_object_get(cl, "rewatches")),
		       (long long)json_integer_value(json_object_get(cl, "token_reloads")));
		json_object_foreach(json_object_get(kube, "collections"), k, p) {
			const char *e = json_string_value(json_object_get(p, "last_error"));

			printf("  %-34s %-8s %6lld events%s%s\n", k,
			       json_is_true(json_object_get(p, "synced")) ? "synced"
			       : json_is_true(json_object_get(p, "absent")) ? "absent" : "syncing",
			       (long long)json_integer_value(json_object_get(p, "events")),
			       e ? "  last error: " : "", e ? e : "");
		}
		printf("  policy load failures %lld, identities allocated %lld, GC leader %s\n",
		       (long long)json_integer_value(json_object_get(kube, "policy_load_failures")),
		       (long long)json_integer_value(json_object_get(json_object_get(kube, "identities"), "allocated")),
		       json_is_true(json_object_get(json_object_get(kube, "identity_gc"), "leader")) ? "yes" : "no");
	}
	printf("Programs:     ");
	json_array_foreach(json_object_get(res, "programs"), i, p)
		printf(" %s", json_string_value(p));
	printf("\nMaps:\n");
	json_array_foreach(json_object_get(res, "maps"), i, m)
		printf("  %-16s %8lld / %lld\n", json_string_value(json_object_get(m, "name")),
		       (long long)json_integer_value(json_object_get(m, "entries")),
		       (long long)json_integer_value(json_object_get(m, "max_entries")));
	printf("Datapath:\n");
	json_object_foreach(json_object_get(res, "datapath"), k, p)
		printf("  %-24s %lld\n", k, (long long)json_integer_value(p));
	{
		json_t *v;

		json_object_foreach(res, k, v) {
			if (!strncmp(k, "flows_", 6) || !strncmp(k, "proxy_", 6) || !strncmp(k, "events_", 7))
				printf("%-14s %lld\n", k, (long long)json_integer_value(v));
		}
	}
	json_decref(res);
	return 0;
}

static int cmd_proxy(int argc, char **argv)
{
	json_t *res;

	if (argc < 2 || want_help(argc, argv) || strcmp(argv[1], "restart")) {
		printf("Usage: sluice proxy restart\n\n"
		       "Starts a new L7 proxy, hands it the listening sockets and rules, then lets\n"
		       "the old one finish its requests and exit: no connection is refused.\n");
		return argc < 2 || !want_help(argc, argv) ? 2 : 0;
	}
	res = cli_request(json_pack("{s:s}", "cmd", "proxy.restart"));
	if (!res)
		return 1;
	printf("proxy restart started\n");
	json_decref(res);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sluice [--socket PATH] COMMAND ...\n\n"
		"Identity-based, HTTP-aware network policy for local pods.\n\n"
		"Commands:\n"
		"  pod        create, exec, delete, list, label local pods\n"
		"  namespace  label namespaces\n"
		"  identity   list security identities\n"
		"  policy     apply, delete, list, get, lint policies\n"
		"  observe    watch flows and verdicts\n"
		"  proxy      restart the L7 proxy without refusing connections\n"
		"  status     agent health, programs, maps, counts\n\n"
		"The agent's socket is --socket PATH, else $SLUICE_SOCKET, else\n"
		"/run/sluice/sluice.sock. `sluice COMMAND --help` for details.\n");
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
	if (!strcmp(argv[0], "pod"))
		return cmd_pod(argc, argv);
	if (!strcmp(argv[0], "namespace") || !strcmp(argv[0], "ns"))
		return cmd_namespace(argc, argv);
	if (!strcmp(argv[0], "identity"))
		return cmd_identity(argc, argv);
	if (!strcmp(argv[0], "policy"))
		return cli_policy(argc, argv);
	if (!strcmp(argv[0], "observe"))
		return cli_observe(argc, argv);
	if (!strcmp(argv[0], "status"))
		return cmd_status(argc, argv);
	if (!strcmp(argv[0], "proxy"))
		return cmd_proxy(argc, argv);
	if (!strcmp(argv[0], "help")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "sluice: unknown command \"%s\" (see sluice --help)\n", argv[0]);
	return 2;
}
