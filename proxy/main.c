/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c - sluice-proxy, the proxy as a standalone binary.
 *
 * Static mode (tests, demos): every connection goes to one upstream, the
 * peer has one identity, rules come from a JSON file (rules_json.h):
 *
 *   sluice-proxy --listen 127.0.0.1:15001 --upstream 127.0.0.1:8080 \
 *                --rules rules.json --peer-identity 4097
 *
 * TLS in static mode: `--secret NS/NAME:KEY=FILE[,KEY=FILE...]` (repeatable)
 * loads a secret from PEM files, and the rules file's "tls" object names
 * it (rules_json.h), e.g. {"allow_all": true, "tls": {"terminating":
 * {"secret": "demo/site"}}}. SIGHUP reloads the secret files too.
 *
 * SIGHUP reloads the rules file (a bad file keeps the old rules); SIGINT and
 * SIGTERM close every connection and exit, printing counters to stderr.
 *
 * Agent mode (started by sluiced; docs/proxy-control.md):
 *
 *   sluice-proxy --control PATH --bpf-root DIR [--node NAME] [--pid-file FILE]
 *                [--orphan-grace-ms MS] [--cgroup DIR] [--health ADDR]
 *
 * --cgroup and --health are for a proxy that runs in its own container (the
 * chart's sluice-proxy DaemonSet, the agent started with --proxy-control):
 * it joins the agent's system cgroup itself (outside the pods' cgroup,
 * where connect4 would steer its own upstream connections back into it),
 * and serves /healthz and /readyz for its probes.
 *
 * endpoints, names and rules arrive over the control socket, flows are
 * resolved from the pinned datapath maps (resolver_datapath.c). SIGTERM,
 * SIGINT and the agent's "drain" stop accepting, let requests in flight
 * finish (at most 10 s) and exit 0. So does a proxy left without an agent
 * for --orphan-grace-ms (default 30000, 0 = forever): it fails closed rather
 * than enforce rules nobody updates.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "health.h"
#include "proxy.h"
#include "resolver_datapath.h"
#include "rules_json.h"
#include "req_splice.h"
#include "splice.h"
#include "sluice/abi.h"
#include "sluice/dp_proxy.h"

#define MAIN_DRAIN_MS 10000u
#define MAIN_ORPHAN_GRACE_MS 30000u

struct main_ctx {
	uv_loop_t *loop;
	struct proxy_server *srv;
	const char *rules_file;
	struct proxy_rules_key key;
	uv_signal_t sig_hup, sig_int, sig_term;
	struct proxy_control *ctl;      /* agent mode */
	struct proxy_health *health;    /* agent mode, --health */
	struct sluice_dp_proxy *dp;     /* agent mode: for the splice maps */
	uv_timer_t splice_timer;        /* until they are there */
	bool draining;
	const char *secrets[16];        /* --secret specs, static mode */
	size_t nsecrets;
};

static char *main_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n;

	*len = 0;
	if (!f)
		return NULL;
	for (;;) {
		if (*len + 4096 > cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 8192);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		n = fread(buf + *len, 1, cap - *len, f);
		if (!n)
			break;
		*len += n;
	}
	fclose(f);
	return buf;
}

/* "ns/name:key=file,key=file" into the proxy's secret store. */
static int main_load_secret(struct main_ctx *m, const char *spec)
{
	struct proxy_secret_item items[8];
	char *copy = strdup(spec), *colon, *tok, *save = NULL;
	size_t n = 0;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	colon = strchr(copy, ':');
	if (!colon || !strchr(copy, '/')) {
		fprintf(stderr, "sluice-proxy: --secret %s: want NS/NAME:KEY=FILE[,KEY=FILE]\n", spec);
		free(copy);
		return -EINVAL;
	}
	*colon = '\0';
	for (tok = strtok_r(colon + 1, ",", &save); tok && n < 8; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq) {
			fprintf(stderr, "sluice-proxy: --secret %s: %s: want KEY=FILE\n", spec, tok);
			rc = -EINVAL;
			break;
		}
		*eq = '\0';
		items[n].key = tok;
		if (!(items[n].data = main_read_file(eq + 1, &items[n].len))) {
			fprintf(stderr, "sluice-proxy: --secret %s: %s: %s\n", spec, eq + 1,
				strerror(errno));
			rc = -errno;
			break;
		}
		n++;
	}
	if (!rc)
		rc = proxy_tls_store_set(proxy_server_tls_store(m->srv), copy, items, n);
	for (size_t i = 0; i < n; i++)
		free((char *)items[i].data);
	free(copy);
	return rc;
}

static int main_parse_addr(const char *s, union proxy_sockaddr *out)
{
	char host[128];
	const char *colon;
	size_t hl;
	long port;
	char *end;

	memset(out, 0, sizeof(*out));
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':')
			return -EINVAL;
		hl = (size_t)(rb - s - 1);
		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, hl);
		host[hl] = 0;
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - s);
		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, hl);
		host[hl] = 0;
	}
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		return -EINVAL;
	if (strchr(host, ':'))
		return uv_ip6_addr(host, (int)port, &out->in6);
	return uv_ip4_addr(host, (int)port, &out->in);
}

static int main_load_rules(struct main_ctx *m)
{
	struct proxy_rules_table *t = NULL;
	char *err = NULL, *text = NULL;
	size_t len = 0;
	FILE *f = fopen(m->rules_file, "r");
	int rc;

	if (!f) {
		fprintf(stderr, "sluice-proxy: %s: %s\n", m->rules_file, strerror(errno));
		return -errno;
	}
	{
		char buf[65536];
		size_t n;
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
			char *nt = realloc(text, len + n);
			if (!nt) {
				free(text);
				fclose(f);
				return -ENOMEM;
			}
			text = nt;
			memcpy(text + len, buf, n);
			len += n;
		}
	}
	fclose(f);
	rc = proxy_rules_json_load(text ? text : "", len, &m->key, &t, &err);
	free(text);
	if (err)
		fprintf(stderr, "sluice-proxy: %s: %s\n", m->rules_file, err);
	free(err);
	if (!t)
		return rc ? rc : -EINVAL;
	/* a table with a broken entry still loads: that entry denies (fail closed) */
	proxy_server_set_rules(m->srv, t);
	fprintf(stderr, "sluice-proxy: loaded %zu rule entries from %s\n",
		proxy_rules_table_size(t), m->rules_file);
	return 0;
}

static void main_print_counters(struct proxy_server *srv)
{
	struct proxy_counters c;

	proxy_server_counters(srv, &c);
	fprintf(stderr,
		"sluice-proxy: counters conns_total=%" PRIu64 " conns_refused=%" PRIu64
		" allowed=%" PRIu64 " denied=%" PRIu64 " errors=%" PRIu64
		" bytes_in=%" PRIu64 " bytes_out=%" PRIu64 "\n",
		c.conns_total, c.conns_refused, c.requests_allowed, c.requests_denied,
		c.requests_error, c.bytes_from_clients, c.bytes_to_clients);
	if (c.tls_handshakes || c.tls_handshake_errors || c.tls_upstream_handshakes ||
	    c.tls_upstream_errors)
		fprintf(stderr,
			"sluice-proxy: tls handshakes=%" PRIu64 " resumed=%" PRIu64
			" errors=%" PRIu64 " sni_denied=%" PRIu64 " upstream_handshakes=%" PRIu64
			" upstream_resumed=%" PRIu64 " upstream_errors=%" PRIu64
			" (timeout=%" PRIu64 " untrusted=%" PRIu64 " plain_http=%" PRIu64
			" protocol=%" PRIu64 " closed=%" PRIu64 " evicted=%" PRIu64
			" upstream_verify=%" PRIu64 ")\n",
			c.tls_handshakes, c.tls_resumed, c.tls_handshake_errors, c.tls_sni_denied,
			c.tls_upstream_handshakes, c.tls_upstream_resumed, c.tls_upstream_errors,
			c.tls_hs_timeout, c.tls_hs_untrusted, c.tls_hs_plain_http, c.tls_hs_protocol,
			c.tls_hs_closed, c.tls_hs_evicted, c.tls_upstream_verify_failed);
}

static void main_on_signal(uv_signal_t *s, int signum)
{
	struct main_ctx *m = s->data;

	if (signum == SIGHUP) {
		for (size_t i = 0; i < m->nsecrets; i++)
			main_load_secret(m, m->secrets[i]);
		main_load_rules(m);
		return;
	}
	main_print_counters(m->srv);
	proxy_server_close(m->srv);
	uv_close((uv_handle_t *)&m->sig_hup, NULL);
	uv_close((uv_handle_t *)&m->sig_int, NULL);
	uv_close((uv_handle_t *)&m->sig_term, NULL);
}

static void main_usage(FILE *f)
{
	fprintf(f,
		"usage: sluice-proxy --listen ADDR:PORT --upstream ADDR:PORT --rules FILE.json\n"
		"                    [--peer-identity N] [--ep-id N] [--direction ingress|egress]\n"
		"                    [--max-conns N] [--header-timeout-ms N] [--idle-timeout-ms N]\n"
		"                    [--connect-timeout-ms N] [--stream-timeout-ms N]\n"
		"                    [--buffer-cap BYTES] [--access-log stdout|off|FILE]\n"
		"                    [--access-log-queue BYTES]\n"
		"                    [--port-file FILE] [--secret NS/NAME:KEY=FILE[,KEY=FILE]]...\n"
		"                    [--tls-handshake-timeout-ms N] [--tls-max-handshakes N]\n"
		"       sluice-proxy --control PATH --bpf-root DIR [--node NAME] [--pid-file FILE]\n"
		"                    [--orphan-grace-ms MS] [--cgroup DIR] [--health IP:PORT]\n"
		"                    [timeouts, --max-conns, --buffer-cap as above]\n"
		"       sluice-proxy --version | --help\n");
}

/* ---- agent mode --------------------------------------------------------- */

static void main_agent_closed(void *ctx)
{
	struct main_ctx *m = ctx;

	/* the server (and its resolver) is gone: close the rest, the loop ends */
	m->srv = NULL;
	if (m->dp && !uv_is_closing((uv_handle_t *)&m->splice_timer))
		uv_close((uv_handle_t *)&m->splice_timer, NULL);
	proxy_health_stop(m->health);
	m->health = NULL;
	proxy_control_close(m->ctl);
	uv_close((uv_handle_t *)&m->sig_hup, NULL);
	uv_close((uv_handle_t *)&m->sig_int, NULL);
	uv_close((uv_handle_t *)&m->sig_term, NULL);
}

static void main_agent_drain(void *ctx)
{
	struct main_ctx *m = ctx;

	if (m->draining || !m->srv)
		return;
	m->draining = true;
	fprintf(stderr, "sluice-proxy: draining (at most %u ms)\n", MAIN_DRAIN_MS);
	proxy_control_draining(m->ctl);
	main_print_counters(m->srv);
	proxy_server_drain(m->srv, MAIN_DRAIN_MS);
}

static void main_agent_signal(uv_signal_t *s, int signum)
{
	if (signum != SIGHUP)
		main_agent_drain(s->data);
}

/* Moves this process into cgroup v2 directory dir (made if missing): every
 * socket it makes from now on belongs there. */
static int main_join_cgroup(const char *dir)
{
	char path[4200], pid[32];
	FILE *f;
	int e = 0;

	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	f = fopen(path, "w");
	if (!f)
		return -errno;
	if (fputs(pid, f) < 0)
		e = -errno;
	if (fclose(f) && !e)
		e = -errno;
	return e;
}

static int main_splice_bind(void *ctx, const struct sluice_sock_key *up, uint32_t slot,
			    uint32_t gen)
{
	return sluice_dp_proxy_splice_bind(ctx, up, slot, gen);
}

static int main_splice_unbind(void *ctx, const struct sluice_sock_key *up)
{
	return sluice_dp_proxy_splice_unbind(ctx, up);
}

static int main_req_allow(void *ctx, const struct sluice_rq_key *k)
{
	return sluice_dp_proxy_req_allow(ctx, k);
}

/* Until it has the splice maps (main_agent_closed() stops it with the
 * server). */
static void main_splice_try(uv_timer_t *t)
{
	struct main_ctx *m = t->data;
	struct proxy_splice_maps maps = { main_splice_bind, main_splice_unbind, m->dp };
	struct sluice_splice_slot *slots = sluice_dp_proxy_splice_slots(m->dp);
	struct proxy_splice *sp = slots ? proxy_splice_new(slots, &maps) : NULL;

	if (sp) {
		struct proxy_rq_maps rmaps = { main_req_allow, m->dp };
		struct sluice_rq_ring *rings;
		struct sluice_rq_rec *recs;

		proxy_server_set_splice(m->srv, sp);
		/* and requests straight to the server (req_splice.h), unless
		 * turned off; an agent without the maps: responses only */
		if (!getenv("SLUICE_PROXY_NO_REQ_SPLICE") &&
		    sluice_dp_proxy_req_maps(m->dp, &rings, &recs))
			proxy_server_set_req_splice(m->srv, proxy_rq_new(sp, rings, recs, &rmaps));
		uv_close((uv_handle_t *)t, NULL);
		return;
	}
	if (!uv_is_active((uv_handle_t *)t)) {
		uv_timer_start(t, main_splice_try, 1000, 1000);
		uv_unref((uv_handle_t *)t);
	}
}

static int main_agent(struct main_ctx *m, struct proxy_config *cfg, const char *control,
		      const char *bpf_root, const char *node, const char *pid_file,
		      uint32_t orphan_grace_ms, const char *cgroup, const char *health)
{
	struct sluice_dp_proxy *dp = NULL;
	struct proxy_resolver *res;
	char *err = NULL;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (cgroup && (rc = main_join_cgroup(cgroup))) {
		fprintf(stderr, "sluice-proxy: cannot join cgroup %s: %s\n", cgroup, strerror(-rc));
		return 1;
	}
	rc = sluice_dp_proxy_open(&dp, bpf_root, &err);
	if (rc) {
		fprintf(stderr, "sluice-proxy: %s\n", err ? err : strerror(-rc));
		free(err);
		return 1;
	}
	res = proxy_resolver_datapath_new(dp);
	if (!res) {
		fprintf(stderr, "sluice-proxy: out of memory\n");
		sluice_dp_proxy_close(dp);
		return 1;
	}
	cfg->access_log = NULL; /* records go to the agent (control.c) */
	m->loop = uv_default_loop();
	m->srv = proxy_server_new(m->loop, cfg, res, &err);
	if (!m->srv) {
		fprintf(stderr, "sluice-proxy: %s\n", err ? err : "out of memory");
		return 1;
	}
	if (!getenv("SLUICE_PROXY_NO_SPLICE")) {
		/* responses straight from the server to the client where the
		 * kernel can (splice.h); until the agent has pinned the maps
		 * (a proxy pod may start first), looked for once a second */
		m->dp = dp;
		uv_timer_init(m->loop, &m->splice_timer);
		m->splice_timer.data = m;
		main_splice_try(&m->splice_timer);
	}
	rc = proxy_control_start(m->loop, m->srv, res, control, node, main_agent_drain, m,
				 &m->ctl, &err);
	if (rc) {
		fprintf(stderr, "sluice-proxy: %s\n", err ? err : strerror(-rc));
		return 1;
	}
	proxy_server_set_closed_cb(m->srv, main_agent_closed, m);
	proxy_control_set_orphan_grace(m->ctl, orphan_grace_ms);
	if (health && (rc = proxy_health_start(m->loop, health, proxy_control_ready, m->ctl, &m->health,
					       &err))) {
		fprintf(stderr, "sluice-proxy: %s\n", err ? err : strerror(-rc));
		return 1;
	}
	if (pid_file) {
		FILE *pf = fopen(pid_file, "w");

		if (pf) {
			fprintf(pf, "%d\n", (int)getpid());
			fclose(pf);
		}
	}
	{
		static char logbuf[1 << 16];

		setvbuf(stdout, logbuf, _IOFBF, sizeof(logbuf));
	}
	uv_signal_init(m->loop, &m->sig_hup);
	uv_signal_init(m->loop, &m->sig_int);
	uv_signal_init(m->loop, &m->sig_term);
	m->sig_hup.data = m->sig_int.data = m->sig_term.data = m;
	uv_signal_start(&m->sig_hup, main_agent_signal, SIGHUP);
	uv_signal_start(&m->sig_int, main_agent_signal, SIGINT);
	uv_signal_start(&m->sig_term, main_agent_signal, SIGTERM);
	fprintf(stderr, "sluice-proxy: pid %d, control socket %s, bpf root %s\n", (int)getpid(),
		control, bpf_root);
	uv_run(m->loop, UV_RUN_DEFAULT);
	uv_loop_close(m->loop);
	fflush(stdout);
	if (pid_file)
		unlink(pid_file);
	fprintf(stderr, "sluice-proxy: drained, exiting\n");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "upstream", required_argument, NULL, 'u' },
		{ "rules", required_argument, NULL, 'r' },
		{ "peer-identity", required_argument, NULL, 'i' },
		{ "ep-id", required_argument, NULL, 'e' },
		{ "direction", required_argument, NULL, 'd' },
		{ "max-conns", required_argument, NULL, 'm' },
		{ "header-timeout-ms", required_argument, NULL, 'H' },
		{ "idle-timeout-ms", required_argument, NULL, 'I' },
		{ "connect-timeout-ms", required_argument, NULL, 'C' },
		{ "stream-timeout-ms", required_argument, NULL, 'S' },
		{ "buffer-cap", required_argument, NULL, 'b' },
		{ "access-log", required_argument, NULL, 'a' },
		{ "access-log-queue", required_argument, NULL, 'q' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "control", required_argument, NULL, 'c' },
		{ "bpf-root", required_argument, NULL, 'B' },
		{ "node", required_argument, NULL, 'n' },
		{ "pid-file", required_argument, NULL, 'P' },
		{ "orphan-grace-ms", required_argument, NULL, 'O' },
		{ "cgroup", required_argument, NULL, 'G' },
		{ "health", required_argument, NULL, 'Z' },
		{ "secret", required_argument, NULL, 's' },
		{ "tls-handshake-timeout-ms", required_argument, NULL, 'T' },
		{ "tls-max-handshakes", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	struct main_ctx m = { 0 };
	struct proxy_config cfg;
	union proxy_sockaddr listen_addr, up_addr, bound;
	const char *listen_s = NULL, *up_s = NULL, *log_s = "stdout", *port_file = NULL;
	const char *control = NULL, *bpf_root = NULL, *node = NULL, *pid_file = NULL;
	const char *cgroup = NULL, *health = NULL;
	struct proxy_resolver *res;
	char *err = NULL;
	uint32_t orphan_grace_ms = MAIN_ORPHAN_GRACE_MS;
	size_t log_queue = 0;
	int c, rc;

	proxy_config_defaults(&cfg);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'l': listen_s = optarg; break;
		case 'u': up_s = optarg; break;
		case 'r': m.rules_file = optarg; break;
		case 'i': m.key.peer_identity = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'e': m.key.ep_id = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'd':
			if (!strcmp(optarg, "egress"))
				m.key.direction = 1;
			else if (!strcmp(optarg, "ingress"))
				m.key.direction = 0;
			else {
				main_usage(stderr);
				return 2;
			}
			break;
		case 'V':
			printf("sluice-proxy %s (datapath ABI %d)\n", SLUICE_VERSION, SLUICE_ABI_VERSION);
			return 0;
		case 'm': cfg.max_conns = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'H': cfg.header_timeout_ms = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'I': cfg.idle_timeout_ms = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'C': cfg.connect_timeout_ms = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'S': cfg.stream_idle_timeout_ms = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'b': cfg.buffer_cap = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'a': log_s = optarg; break;
		case 'q': log_queue = (size_t)strtoull(optarg, NULL, 0); break;
		case 'p': port_file = optarg; break;
		case 'c': control = optarg; break;
		case 'B': bpf_root = optarg; break;
		case 'n': node = optarg; break;
		case 'P': pid_file = optarg; break;
		case 'O': orphan_grace_ms = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'G': cgroup = optarg; break;
		case 'Z': health = optarg; break;
		case 's':
			if (m.nsecrets == sizeof(m.secrets) / sizeof(m.secrets[0])) {
				fprintf(stderr, "sluice-proxy: too many --secret\n");
				return 2;
			}
			m.secrets[m.nsecrets++] = optarg;
			break;
		case 'T': cfg.tls_handshake_timeout_ms = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'M': cfg.tls_max_handshakes = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'h': main_usage(stdout); return 0;
		default: main_usage(stderr); return 2;
		}
	}
	if (control || bpf_root) {
		if (!control || !bpf_root || listen_s || up_s || m.rules_file) {
			main_usage(stderr);
			return 2;
		}
		return main_agent(&m, &cfg, control, bpf_root, node, pid_file, orphan_grace_ms, cgroup,
				  health);
	}
	if (!listen_s || !up_s || !m.rules_file) {
		main_usage(stderr);
		return 2;
	}
	if (main_parse_addr(listen_s, &listen_addr) || main_parse_addr(up_s, &up_addr)) {
		fprintf(stderr, "sluice-proxy: bad address (want IP:PORT or [IPv6]:PORT)\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN); /* a log reader or a client gone is an error, not a death */
	m.loop = uv_default_loop();
	if (strcmp(log_s, "off")) {
		/* never blocks the loop: a stalled reader costs lines, counted */
		int fd = !strcmp(log_s, "stdout") ? fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3) :
			 open(log_s, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

		if (fd < 0) {
			fprintf(stderr, "sluice-proxy: %s: %s\n", log_s, strerror(errno));
			return 1;
		}
		cfg.access_log = proxy_log_sink_new(m.loop, fd, log_queue);
		if (!cfg.access_log) {
			fprintf(stderr, "sluice-proxy: out of memory\n");
			return 1;
		}
	}
	m.key.port = proxy_sockaddr_port(&up_addr);
	res = proxy_resolver_static_new(&up_addr, m.key.ep_id, m.key.direction,
					m.key.peer_identity);
	m.srv = res ? proxy_server_new(m.loop, &cfg, res, &err) : NULL;
	if (!m.srv) {
		fprintf(stderr, "sluice-proxy: %s\n", err ? err : "out of memory");
		return 1;
	}
	for (size_t i = 0; i < m.nsecrets; i++)
		if (main_load_secret(&m, m.secrets[i]) < 0)
			return 1;
	if (main_load_rules(&m) < 0) {
		/* fail closed: no table means every request is denied */
		fprintf(stderr, "sluice-proxy: no valid rules: denying everything\n");
	}
	rc = proxy_server_listen(m.srv, &listen_addr.sa);
	if (rc) {
		fprintf(stderr, "sluice-proxy: listen %s: %s\n", listen_s, uv_strerror(rc));
		return 1;
	}
	proxy_server_address(m.srv, &bound);
	fprintf(stderr, "sluice-proxy: listening on port %u, upstream %s\n",
		proxy_sockaddr_port(&bound), up_s);
	if (port_file) {
		FILE *pf = fopen(port_file, "w");
		if (pf) {
			fprintf(pf, "%u\n", proxy_sockaddr_port(&bound));
			fclose(pf);
		}
	}
	uv_signal_init(m.loop, &m.sig_hup);
	uv_signal_init(m.loop, &m.sig_int);
	uv_signal_init(m.loop, &m.sig_term);
	m.sig_hup.data = m.sig_int.data = m.sig_term.data = &m;
	uv_signal_start(&m.sig_hup, main_on_signal, SIGHUP);
	uv_signal_start(&m.sig_int, main_on_signal, SIGINT);
	uv_signal_start(&m.sig_term, main_on_signal, SIGTERM);
	uv_run(m.loop, UV_RUN_DEFAULT);
	if (cfg.access_log) {
		uint64_t lost = proxy_log_sink_close(cfg.access_log, 1000);

		uv_run(m.loop, UV_RUN_DEFAULT); /* the sink's handle */
		if (lost)
			fprintf(stderr, "sluice-proxy: access log: %" PRIu64
				" lines dropped (the reader did not keep up)\n", lost);
	}
	uv_loop_close(m.loop);
	fflush(stdout);
	return 0;
}
