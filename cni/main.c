/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c - sluice-cni, a chained CNI plugin (spec 1.0.0 and 1.1.0; 0.3.x
 * and 0.4.0 configurations too). It runs after the main plugin (bridge,
 * ptp, ...), tells the node's sluice agent about the pod and returns only
 * once the agent has the pod's datapath in place, so no pod starts
 * unmanaged; see cni/README.md for the commands and error codes.
 *
 * The runtime gives the command and the container in the environment
 * (CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS, CNI_PATH)
 * and the network configuration on stdin; the answer is JSON on stdout,
 * errors as {"cniVersion","code","msg","details"} with exit status 1.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/util.h"
#include "agent_link.h"
#include "veth.h"

/* spec error codes */
enum {
	E_INCOMPATIBLE = 1,
	E_ENV = 4,
	E_IO = 5,
	E_DECODE = 6,
	E_CONFIG = 7,
	E_TRY_AGAIN = 11,
	E_NOT_AVAILABLE = 50,
	/* the plugin's own (100 and up) */
	E_POD_NETWORK = 100, /* the pod's interface is not what a chain gives */
	E_REFUSED = 101,     /* the agent refused the attachment */
	E_NOT_IN_PLACE = 102 /* CHECK: the attachment is missing or broken */
};

static const char *const supported[] = { SLUICE_CNI_VERSIONS };
#define NSUPPORTED (sizeof(supported) / sizeof(supported[0]))
#define LATEST "1.1.0"
#define DEFAULT_TIMEOUT_S 30

struct conf {
	json_t *root;
	const char *version; /* the configuration's cniVersion */
	const char *name;
	const char *socket;
	int timeout_s;
};

static const char *out_version = LATEST; /* for error output */

static int die(int code, const char *msg, const char *details_fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int die(int code, const char *msg, const char *details_fmt, ...)
{
	char details[2048] = "";
	json_t *e;
	va_list ap;

	if (details_fmt) {
		va_start(ap, details_fmt);
		vsnprintf(details, sizeof(details), details_fmt, ap);
		va_end(ap);
	}
	e = json_pack("{s:s,s:i,s:s,s:s}", "cniVersion", out_version, "code", code, "msg", msg,
		      "details", details);
	json_dumpf(e, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(e);
	fprintf(stderr, "sluice-cni: %s%s%s\n", msg, details[0] ? ": " : "", details);
	exit(1);
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* code 4 naming every missing variable, as the spec asks */
static void require_env(const char *const *names)
{
	char missing[256] = "";
	size_t i;

	for (i = 0; names[i]; i++)
		if (!env(names[i]))
			snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), "%s%s",
				 missing[0] ? " " : "", names[i]);
	if (missing[0]) {
		char msg[320];

		/* the spec: the message names the variables */
		snprintf(msg, sizeof(msg), "required env variables [%s] missing", missing);
		die(E_ENV, msg, "the runtime must set them for CNI_COMMAND=%s", env("CNI_COMMAND"));
	}
}

/* "MAJOR.MINOR.PATCH", digits only */
static bool version_ok(const char *v)
{
	int dots = 0;
	bool digit = false;

	for (; *v; v++) {
		if (*v == '.') {
			if (!digit)
				return false;
			dots++;
			digit = false;
		} else if (isdigit((unsigned char)*v)) {
			digit = true;
		} else {
			return false;
		}
	}
	return dots == 2 && digit;
}

static bool version_supported(const char *v)
{
	size_t i;

	for (i = 0; i < NSUPPORTED; i++)
		if (!strcmp(v, supported[i]))
			return true;
	return false;
}

/* v >= want, both MAJOR.MINOR.PATCH */
static bool version_ge(const char *v, const char *want)
{
	unsigned a[3] = { 0 }, b[3] = { 0 };
	int i;

	sscanf(v, "%u.%u.%u", &a[0], &a[1], &a[2]);
	sscanf(want, "%u.%u.%u", &b[0], &b[1], &b[2]);
	for (i = 0; i < 3; i++)
		if (a[i] != b[i])
			return a[i] > b[i];
	return true;
}

static bool version_at_least_1(const char *v)
{
	return version_ge(v, "1.0.0");
}

static char *read_stdin(size_t *len)
{
	size_t cap = 65536;
	char *buf = malloc(cap);
	ssize_t n;

	*len = 0;
	if (!buf)
		abort();
	for (;;) {
		if (cap - *len < 4096) {
			if (cap >= (16u << 20))
				die(E_IO, "network configuration too large", "over 16 MiB on stdin");
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		n = read(0, buf + *len, cap - *len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die(E_IO, "cannot read the network configuration", "stdin: %s", strerror(errno));
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	buf[*len] = 0;
	return buf;
}

static void load_conf(struct conf *c, const char *text, size_t len)
{
	json_error_t je;
	json_t *v;

	memset(c, 0, sizeof(*c));
	c->root = json_loadb(text, len, 0, &je);
	if (!c->root)
		die(E_DECODE, "cannot decode the network configuration", "stdin: line %d: %s", je.line,
		    je.text);
	if (!json_is_object(c->root))
		die(E_DECODE, "cannot decode the network configuration", "stdin: not a JSON object");
	v = json_object_get(c->root, "cniVersion");
	if (!v)
		die(E_CONFIG, "invalid network configuration", "cniVersion: missing");
	if (!json_is_string(v) || !version_ok(json_string_value(v)))
		die(E_DECODE, "cannot decode the network configuration",
		    "cniVersion: not a version string (want MAJOR.MINOR.PATCH)");
	c->version = json_string_value(v);
	if (!version_supported(c->version))
		die(E_INCOMPATIBLE, "incompatible CNI versions",
		    "config is \"%s\", plugin supports 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0", c->version);
	out_version = c->version;
	v = json_object_get(c->root, "name");
	if (!json_is_string(v) || !*json_string_value(v))
		die(E_CONFIG, "invalid network configuration", "name: %s",
		    v ? "must be a non-empty string" : "missing");
	c->name = json_string_value(v);
	v = json_object_get(c->root, "type");
	if (!json_is_string(v) || !*json_string_value(v))
		die(E_CONFIG, "invalid network configuration", "type: %s",
		    v ? "must be a non-empty string" : "missing");
	v = json_object_get(c->root, "socket");
	if (v && (!json_is_string(v) || json_string_value(v)[0] != '/'))
		die(E_CONFIG, "invalid network configuration", "socket: must be an absolute path");
	c->socket = v ? json_string_value(v) : SLUICE_CNI_DEFAULT_SOCKET;
	v = json_object_get(c->root, "timeout");
	if (v && (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 600))
		die(E_CONFIG, "invalid network configuration", "timeout: seconds, 1 to 600");
	c->timeout_s = v ? (int)json_integer_value(v) : DEFAULT_TIMEOUT_S;
	v = json_object_get(c->root, "prevResult");
	if (v && !json_is_object(v))
		die(E_DECODE, "cannot decode the network configuration", "prevResult: not an object");
}

/* K8S_POD_NAMESPACE=a;K8S_POD_NAME=b;... */
static char *cni_arg(const char *key)
{
	const char *args = env("CNI_ARGS"), *p;
	size_t klen = strlen(key);

	for (p = args; p && *p;) {
		const char *end = strchr(p, ';');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n > klen && !strncmp(p, key, klen) && p[klen] == '=')
			return strndup(p + klen + 1, n - klen - 1);
		p += n + (end ? 1 : 0);
	}
	return NULL;
}

/* The pod's interface in prevResult: name == CNI_IFNAME inside a sandbox
 * (CNI_NETNS, or another spelling of it); its index or -1. */
static int pod_interface(json_t *prev, const char *ifname, const char *netns)
{
	json_t *ifs = json_object_get(prev, "interfaces"), *v;
	size_t i;
	int any = -1;

	json_array_foreach(ifs, i, v) {
		const char *n = json_string_value(json_object_get(v, "name"));
		const char *sb = json_string_value(json_object_get(v, "sandbox"));

		if (!n || strcmp(n, ifname) || !sb || !*sb)
			continue;
		if (!strcmp(sb, netns))
			return (int)i;
		if (any < 0)
			any = (int)i;
	}
	return any;
}

/* the pod's addresses ("10.1.2.3", no prefix length) as a JSON list */
static json_t *pod_ips(json_t *prev, int iface, bool v4_only)
{
	json_t *out = json_array(), *v;
	size_t i;

	json_array_foreach(json_object_get(prev, "ips"), i, v) {
		json_t *idx = json_object_get(v, "interface");
		const char *addr = json_string_value(json_object_get(v, "address"));
		char buf[64], *slash;

		if (!addr || (idx && json_integer_value(idx) != iface))
			continue;
		snprintf(buf, sizeof(buf), "%s", addr);
		slash = strchr(buf, '/');
		if (slash)
			*slash = 0;
		if (v4_only && strchr(buf, ':'))
			continue;
		json_array_append_new(out, json_string(buf));
	}
	return out;
}

/* prevResult in the configuration's version: 0.3.x/0.4.0 results carry
 * "version" on each address, 1.0.0 and later do not */
static json_t *result_for(json_t *prev, const char *version)
{
	json_t *r = json_deep_copy(prev), *v;
	size_t i;

	json_object_set_new(r, "cniVersion", json_string(version));
	json_array_foreach(json_object_get(r, "ips"), i, v) {
		const char *addr = json_string_value(json_object_get(v, "address"));

		if (version_at_least_1(version))
			json_object_del(v, "version");
		else if (!json_object_get(v, "version"))
			json_object_set_new(v, "version", json_string(addr && strchr(addr, ':') ? "6" : "4"));
	}
	return r;
}

static const char *answer_error(json_t *res)
{
	return json_string_value(json_object_get(res, "error")) ?: "no answer";
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cmd_add(struct conf *c)
{
	const char *cid = env("CNI_CONTAINERID"), *netns = env("CNI_NETNS");
	const char *ifname = env("CNI_IFNAME");
	json_t *prev = json_object_get(c->root, "prevResult"), *req, *res = NULL, *out;
	char host_if[IF_NAMESIZE], *err = NULL, *pns, *pname;
	int64_t deadline = mono_ms() + (int64_t)c->timeout_s * 1000;
	int iface, rc;

	if (!prev)
		die(E_CONFIG, "invalid network configuration",
		    "prevResult: missing; sluice-cni is a chained plugin: put it after the main plugin in a conflist");
	iface = pod_interface(prev, ifname, netns);
	if (iface < 0)
		die(E_POD_NETWORK, "the pod's interface is not in prevResult",
		    "no interface %s with a sandbox in prevResult.interfaces", ifname);
	if (veth_host_peer(netns, ifname, host_if, &err))
		die(E_POD_NETWORK, "cannot find the host side of the pod's veth", "%s", err);
	pns = cni_arg("K8S_POD_NAMESPACE");
	pname = cni_arg("K8S_POD_NAME");
	req = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:s*,s:s*}", "cmd", "cni.attach", "container_id",
			cid, "network", c->name, "netns", netns, "ifname", ifname, "host_interface",
			host_if, "ips", pod_ips(prev, iface, true), "namespace", pns, "name", pname);
	if (!json_array_size(json_object_get(req, "ips")))
		die(E_POD_NETWORK, "the pod has no IPv4 address",
		    "prevResult.ips has no IPv4 address for %s", ifname);
	/* bounded wait for the agent to have the pod's datapath in place */
	for (;;) {
		int64_t left = deadline - mono_ms();

		json_decref(res);
		rc = agent_call(c->socket, req, left > 0 ? (int)left : 1, &res);
		if (rc)
			die(E_TRY_AGAIN, "the sluice agent is not reachable",
			    "%s: %s; the pod must not start unmanaged, try again later", c->socket,
			    strerror(-rc));
		if (json_is_true(json_object_get(res, "ok")))
			break;
		if (!json_is_true(json_object_get(res, "retry")))
			die(E_REFUSED, "the sluice agent refused the pod", "%s", answer_error(res));
		if (mono_ms() + 200 >= deadline)
			die(E_TRY_AGAIN, "the sluice agent is not ready for the pod",
			    "%s (waited %d s)", answer_error(res), c->timeout_s);
		sleep_ms(200);
	}
	out = result_for(prev, c->version);
	json_dumpf(out, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(out);
	json_decref(res);
	json_decref(req);
	free(pns);
	free(pname);
	return 0;
}

/* Best effort, idempotent: a pod that is gone or an agent that is down is
 * not an error (the runtime would retry forever); an agent that is down
 * finds the deletion in its queue when it starts. */
static int cmd_del(struct conf *c)
{
	const char *cid = env("CNI_CONTAINERID"), *ifname = env("CNI_IFNAME");
	json_t *req = json_pack("{s:s,s:s,s:s}", "cmd", "cni.detach", "container_id", cid, "ifname",
				ifname);
	json_t *res = NULL;
	char *err = NULL;
	bool answered = false;
	int rc;

	rc = agent_call(c->socket, req, c->timeout_s * 1000, &res);
	if (rc) {
		/* down, or died or hung on the way: the queue keeps the deletion */
		rc = queue_delete(c->socket, cid, ifname, req, &answered, &err);
		if (rc)
			die(E_TRY_AGAIN, "the sluice agent is down and the deletion cannot be queued",
			    "%s", err);
		if (!answered)
			fprintf(stderr, "sluice-cni: agent down, deletion of %s queued\n", cid);
	} else if (!json_is_true(json_object_get(res, "ok"))) {
		fprintf(stderr, "sluice-cni: DEL %s: %s (ignored)\n", cid, answer_error(res));
	}
	json_decref(res);
	json_decref(req);
	return 0;
}

static int cmd_check(struct conf *c)
{
	const char *cid = env("CNI_CONTAINERID"), *netns = env("CNI_NETNS");
	const char *ifname = env("CNI_IFNAME");
	json_t *prev = json_object_get(c->root, "prevResult"), *req, *res = NULL;
	int iface, rc;

	if (!prev)
		die(E_CONFIG, "invalid network configuration", "prevResult: missing (CHECK needs it)");
	iface = pod_interface(prev, ifname, netns);
	if (iface < 0)
		die(E_NOT_IN_PLACE, "the pod's interface is not in prevResult",
		    "no interface %s with a sandbox in prevResult.interfaces", ifname);
	req = json_pack("{s:s,s:s,s:s,s:o}", "cmd", "cni.check", "container_id", cid, "ifname", ifname,
			"ips", pod_ips(prev, iface, true));
	rc = agent_call(c->socket, req, c->timeout_s * 1000, &res);
	if (rc)
		die(E_TRY_AGAIN, "the sluice agent is not reachable", "%s: %s", c->socket,
		    strerror(-rc));
	if (!json_is_true(json_object_get(res, "ok")))
		die(E_NOT_IN_PLACE, "the pod's sluice attachment is not in place", "%s",
		    answer_error(res));
	json_decref(res);
	json_decref(req);
	return 0;
}

static int cmd_status(struct conf *c)
{
	json_t *req = json_pack("{s:s}", "cmd", "cni.status"), *res = NULL;
	int rc = agent_call(c->socket, req, 5000, &res);

	if (rc)
		die(E_NOT_AVAILABLE, "the sluice agent is not available", "%s: %s", c->socket,
		    strerror(-rc));
	if (!json_is_true(json_object_get(res, "ok")))
		die(E_NOT_AVAILABLE, "the sluice agent is not ready", "%s", answer_error(res));
	json_decref(res);
	json_decref(req);
	return 0;
}

/* Attachments of this network that the runtime does not list go. The
 * spec's first text named the key cni.dev/attachments: accepted too. */
static int cmd_gc(struct conf *c)
{
	json_t *valid = json_object_get(c->root, "cni.dev/valid-attachments"), *req, *res = NULL, *v;
	size_t i;
	int rc;

	if (!valid)
		valid = json_object_get(c->root, "cni.dev/attachments");
	if (!valid)
		return 0; /* nothing to compare with: remove nothing */
	if (!json_is_array(valid))
		die(E_CONFIG, "invalid network configuration", "cni.dev/valid-attachments: not a list");
	json_array_foreach(valid, i, v) {
		if (!json_is_string(json_object_get(v, "containerID")))
			die(E_CONFIG, "invalid network configuration",
			    "cni.dev/valid-attachments[%zu].containerID: missing", i);
	}
	req = json_pack("{s:s,s:s,s:O}", "cmd", "cni.gc", "network", c->name, "valid", valid);
	rc = agent_call(c->socket, req, c->timeout_s * 1000, &res);
	if (rc)
		die(E_TRY_AGAIN, "the sluice agent is not reachable", "%s: %s", c->socket,
		    strerror(-rc));
	if (!json_is_true(json_object_get(res, "ok")))
		die(E_TRY_AGAIN, "garbage collection failed", "%s", answer_error(res));
	json_decref(res);
	json_decref(req);
	return 0;
}

/* VERSION answers whatever stdin holds; the version in use is the one the
 * runtime asked for when we support it */
static int cmd_version(const char *text, size_t len)
{
	json_t *in = json_loadb(text, len, 0, NULL), *out, *list = json_array();
	const char *v = json_string_value(json_object_get(in, "cniVersion"));
	size_t i;

	for (i = 0; i < NSUPPORTED; i++)
		json_array_append_new(list, json_string(supported[i]));
	out = json_pack("{s:s,s:o}", "cniVersion", v && version_supported(v) ? v : LATEST,
			"supportedVersions", list);
	json_dumpf(out, stdout, JSON_COMPACT);
	fputc('\n', stdout);
	json_decref(out);
	json_decref(in);
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const add_env[] = { "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", NULL };
	static const char *const del_env[] = { "CNI_CONTAINERID", "CNI_IFNAME", NULL };
	const char *cmd = env("CNI_COMMAND");
	struct conf c;
	char *text;
	size_t len;
	int rc;

	if (argc > 1 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-v"))) {
		printf("sluice-cni %s, CNI spec 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0\n", SLUICE_VERSION);
		return 0;
	}
	if (argc > 1 || !cmd) {
		if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			printf("sluice-cni: a chained CNI plugin for the sluice agent; runtimes run it\n"
			       "with CNI_COMMAND and friends in the environment. See cni/README.md.\n");
			return 0;
		}
		die(E_ENV, "required env variables [CNI_COMMAND] missing", "sluice-cni is run by a CNI runtime");
	}
	if (strcmp(cmd, "ADD") && strcmp(cmd, "DEL") && strcmp(cmd, "CHECK") &&
	    strcmp(cmd, "STATUS") && strcmp(cmd, "GC") && strcmp(cmd, "VERSION"))
		die(E_ENV, "unknown CNI_COMMAND", "CNI_COMMAND=%s", cmd);
	if (!strcmp(cmd, "ADD") || !strcmp(cmd, "CHECK"))
		require_env(add_env);
	else if (!strcmp(cmd, "DEL"))
		require_env(del_env);
	if (env("CNI_CONTAINERID") && strcmp(cmd, "VERSION")) {
		const char *s = env("CNI_CONTAINERID");
		size_t i;

		for (i = 0; s[i]; i++)
			if (!isalnum((unsigned char)s[i]) && (i == 0 || !strchr("_.-", s[i])))
				die(E_ENV, "invalid characters in CNI_CONTAINERID",
				    "CNI_CONTAINERID=%s: alphanumeric first, then [A-Za-z0-9_.-]", s);
	}
	if (env("CNI_IFNAME") && strcmp(cmd, "VERSION")) {
		const char *s = env("CNI_IFNAME");

		if (strlen(s) >= IF_NAMESIZE || !strcmp(s, ".") || !strcmp(s, "..") ||
		    strpbrk(s, "/: \t\n\r\v\f"))
			die(E_ENV, "invalid CNI_IFNAME", "CNI_IFNAME=%s: not a valid interface name", s);
	}
	text = read_stdin(&len);
	if (!strcmp(cmd, "VERSION")) {
		rc = cmd_version(text, len);
		free(text);
		return rc;
	}
	load_conf(&c, text, len);
	/* as libcni: the commands exist from the version that brought them */
	if (!strcmp(cmd, "CHECK") && !version_ge(c.version, "0.4.0"))
		die(E_INCOMPATIBLE, "config version does not allow CHECK", "cniVersion %s", c.version);
	if ((!strcmp(cmd, "STATUS") || !strcmp(cmd, "GC")) && !version_ge(c.version, "1.1.0"))
		die(E_INCOMPATIBLE, "config version does not allow STATUS or GC", "cniVersion %s (1.1.0 needed)",
		    c.version);
	if (!strcmp(cmd, "ADD"))
		rc = cmd_add(&c);
	else if (!strcmp(cmd, "DEL"))
		rc = cmd_del(&c);
	else if (!strcmp(cmd, "CHECK"))
		rc = cmd_check(&c);
	else if (!strcmp(cmd, "STATUS"))
		rc = cmd_status(&c);
	else
		rc = cmd_gc(&c);
	json_decref(c.root);
	free(text);
	return rc;
}
