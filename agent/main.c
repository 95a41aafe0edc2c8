/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c - sluiced, the node agent: options, requirement checks, startup
 * (load or adopt the datapath, restore state), the event loop, shutdown.
 *
 * Stopping the agent (SIGTERM, SIGINT, even SIGKILL) leaves the pinned maps
 * and the attached programs enforcing the last policy; `sluiced --cleanup`
 * is what removes pods, programs and pins.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "../common/util.h"
#include "agent.h"
#include "memory.h"
#include "cni.h"
#include "config_dir.h"
#include "flows.h"
#include "health.h"
#include "instance.h"
#include "k8s.h"
#include "log_format.h"
#include "metrics.h"
#include "proxy_ctl.h"
#include "policy_dir.h"
#include "revalidate.h"
#include "secrets.h"
#include "services.h"

static struct agent the_agent;
static struct agent_k8s_options k8s_opt;
static uv_signal_t sig_int, sig_term;
static uv_timer_t host_timer;
static uv_poll_t events_poll;
static uv_timer_t events_timer;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sluiced [OPTIONS]\n"
		"The sluice node agent: loads the eBPF datapath, manages local pods,\n"
		"identities and policies, and serves the local API used by `sluice`.\n\n"
		"  --bpf-root DIR      pin directory on bpffs (default /sys/fs/bpf/sluice)\n"
		"  --cgroup-root DIR   cgroup v2 directory the agent works under\n"
		"                      (default /sys/fs/cgroup/unified)\n"
		"  --socket PATH       API socket (default /run/sluice/sluice.sock)\n"
		"  --state-dir DIR     where declared state is kept (default /run/sluice/NAME,\n"
		"                      NAME the last component of --bpf-root)\n"
		"  --pod-cidr CIDR     addresses for local pods (default 10.244.0.0/16)\n"
		"  --service-cidr CIDR ClusterIPs of `sluice service create` (default\n"
		"                      10.96.0.0/16; standalone: a blackhole route, like the\n"
		"                      pod CIDR: translated at the socket, never routed)\n"
		"  --service-max-entries N  service map size: one entry per service port plus\n"
		"                      one per backend of it (default 65536)\n"
		"  --backend-max-entries N  backend map size (default 65536)\n"
		"  --netns-prefix P    prefix of pod network namespace names (default sluice-)\n"
		"  --node-name NAME    this node's name (default: $K8S_NODE_NAME, else the\n"
		"                      hostname)\n"
		"  --flows N           flows kept in memory for `sluice observe` (default 4096)\n"
		"  --observer-queue BYTES  how far an observe client may fall behind (bytes\n"
		"                      queued for it) before it loses flows, counted in\n"
		"                      flows_lost_by_slow_observers (default 16777216)\n"
		"  --metrics ADDR      Prometheus metrics address (default 127.0.0.1:9962, 'off')\n"
		"  --log-format FMT    text (default) or json: one JSON object per log line\n"
		"  --health ADDR       /healthz and /readyz for probes, e.g. 127.0.0.1:9877\n"
		"                      (default off)\n"
		"  --policy-dir DIR    apply every policy file in DIR and watch it\n"
		"  --proxy-bin PATH    the L7 proxy (default: next to sluiced)\n"
		"  --proxy-restart-delay MS  wait before restarting a dead proxy (default 1000)\n"
		"  --proxy-orphan-grace MS   a proxy left without an agent keeps serving this\n"
		"                      long, then fails closed (default 30000, 0 = never)\n"
		"  --proxy-control PATH  the L7 proxy runs on its own (its own container,\n"
		"                      e.g. the chart's sluice-proxy DaemonSet) listening on\n"
		"                      this control socket: never start or signal one, connect\n"
		"                      to it and reconnect when it restarts (L7 ports fail\n"
		"                      closed meanwhile)\n"
		"  --no-proxy          no L7 proxy: L7 ports fail closed\n"
		"  --config-dir DIR    options from DIR, one file per long option (a mounted\n"
		"                      ConfigMap): \"true\" = flag on; the command line wins\n"
		"  --kubernetes        Kubernetes mode, in-cluster config: pods, namespaces,\n"
		"                      policies and identities come from the API server\n"
		"  --kubeconfig FILE   Kubernetes mode with the server and credentials of FILE\n"
		"  --identity-gc-interval S  identity GC period in Kubernetes mode (default 900)\n"
		"  --identity-gc-grace S     an unused identity is marked this long before it\n"
		"                      is deleted (default 1800)\n"
		"  --k8s-endpoint-throttle MS  SluiceEndpoint writes at most this often\n"
		"                      (default 500)\n"
		"  --allow-localhost MODE  auto (default), always or policy, as Cilium's:\n"
		"                      always lets the node (reserved:host) reach local pods\n"
		"                      whatever their ingress policy says, unless a deny\n"
		"                      names it (Kubernetes wants kubelet's probes to reach\n"
		"                      pods); policy needs a rule that allows the host; auto\n"
		"                      is always in Kubernetes mode, policy in standalone mode\n"
		"  --pods-cgroup DIR   the cgroup holding the pods' processes, where egress L7\n"
		"                      steering (connect4) attaches (default\n"
		"                      <cgroup-root>/<netns-prefix>pods; on Kubernetes the\n"
		"                      kubelet's kubepods cgroup, e.g. <root>/kubepods.slice)\n"
		"  --cni-conf-dir DIR  once ready, chain sluice-cni as the last plugin of the\n"
		"                      primary network's conflist in DIR (/etc/cni/net.d)\n"
		"  --cni-chain-target NAME  that conflist: a file or network name, or auto\n"
		"                      (default: the lexically first config file)\n"
		"  --cni-remove-on-exit  take the sluice-cni entry out again on stop\n"
		"  --cni-uninstall     take the sluice-cni entry out of --cni-conf-dir (the\n"
		"                      running agent stops putting it back), exit\n"
		"  --cleanup           remove whatever exists of this instance (proxies, pods,\n"
		"                      programs, pins, route, cgroups, state), say what, exit\n"
		"  -h, --help          this help\n"
		"      --version       the version and the datapath ABI version\n");
}

static int check_fs(const char *path, long magic, const char *what, char **err)
{
	struct statfs st;
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	/* the directory may not exist yet: check the nearest existing parent */
	while (statfs(buf, &st)) {
		char *slash = strrchr(buf, '/');

		if (errno != ENOENT || !slash || slash == buf)
			return sl_fail(err, errno, "%s: %s", path, strerror(errno));
		*slash = 0;
	}
	if (st.f_type != magic)
		return sl_fail(err, EINVAL, "%s is not on %s", path, what);
	return 0;
}

static int check_requirements(struct agent *a, char **err)
{
	int rc;

	if (geteuid() != 0)
		return sl_fail(err, EPERM,
			       "sluiced needs root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN) to load eBPF programs and create pods");
	rc = check_fs(a->cfg.bpf_root, BPF_FS_MAGIC, "a bpf filesystem (mount -t bpf bpf /sys/fs/bpf)", err);
	if (rc)
		return rc;
	rc = check_fs(a->cfg.cgroup_root, CGROUP2_SUPER_MAGIC, "cgroup v2", err);
	if (rc)
		return rc;
	if (access("/proc/self/ns/net", F_OK))
		return sl_fail(err, ENOTSUP, "kernel has no network namespaces");
	{
		const char *argv[] = { "ip", "-V", NULL };

		if (sl_run(NULL, argv))
			return sl_fail(err, ENOENT, "iproute2 (`ip`) is required to create pods");
	}
	return 0;
}

static void on_signal(uv_signal_t *s, int sig)
{
	(void)sig;
	fprintf(stderr, "sluiced: stopping (pinned programs and maps keep enforcing policy)\n");
	uv_stop(s->loop);
}

static void on_host_timer(uv_timer_t *t)
{
	agent_refresh_host_addrs(t->data);
}

/*
 * The ring buffer is polled while it is quiet. A drain that found events
 * is followed by the next one EVENTS_BATCH_MS later instead of by the next
 * wake-up: at 100k events/s that is one wake-up, one read of the ring and
 * one write per observer for each ~100 events instead of for each few;
 * the first drain that finds nothing goes back to polling. A flow reaches
 * observers at most that much later.
 */
#define EVENTS_BATCH_MS 1

static void on_events(uv_poll_t *p, int status, int events);

static void on_events_timer(uv_timer_t *t)
{
	if (flows_drain_datapath(t->data) > 0)
		uv_timer_start(t, on_events_timer, EVENTS_BATCH_MS, 0);
	else
		uv_poll_start(&events_poll, UV_READABLE, on_events); /* level-triggered */
}

static void on_events(uv_poll_t *p, int status, int events)
{
	(void)status;
	(void)events;
	if (flows_drain_datapath(p->data) > 0) {
		uv_poll_stop(p);
		uv_timer_start(&events_timer, on_events_timer, EVENTS_BATCH_MS, 0);
	}
}

static int parse_args(struct agent *a, int argc, char **argv, bool *cleanup, bool *cni_uninstall)
{
	static const struct option opts[] = {
		{ "bpf-root", required_argument, NULL, 'b' },
		{ "cgroup-root", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "pod-cidr", required_argument, NULL, 'p' },
		{ "netns-prefix", required_argument, NULL, 'n' },
		{ "node-name", required_argument, NULL, 'N' },
		{ "flows", required_argument, NULL, 'f' },
		{ "observer-queue", required_argument, NULL, 0x130 },
		{ "metrics", required_argument, NULL, 'm' },
		{ "health", required_argument, NULL, 'H' },
		{ "log-format", required_argument, NULL, 'L' },
		{ "policy-dir", required_argument, NULL, 'd' },
		{ "cleanup", no_argument, NULL, 'C' },
		{ "proxy-bin", required_argument, NULL, 'P' },
		{ "proxy-restart-delay", required_argument, NULL, 'R' },
		{ "proxy-orphan-grace", required_argument, NULL, 'G' },
		{ "no-proxy", no_argument, NULL, 'X' },
		{ "proxy-control", required_argument, NULL, 0x120 },
		{ "kubernetes", no_argument, NULL, 'K' },
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "k8s-sa-dir", required_argument, NULL, 1001 },
		{ "identity-gc-interval", required_argument, NULL, 1002 },
		{ "identity-gc-grace", required_argument, NULL, 1003 },
		{ "k8s-endpoint-throttle", required_argument, NULL, 1004 },
		{ "pods-cgroup", required_argument, NULL, 0x104 },
		{ "allow-localhost", required_argument, NULL, 0x105 },
		{ "service-cidr", required_argument, NULL, 0x110 },
		{ "service-max-entries", required_argument, NULL, 0x111 },
		{ "backend-max-entries", required_argument, NULL, 0x112 },
		{ "cni-conf-dir", required_argument, NULL, 0x100 },
		{ "cni-chain-target", required_argument, NULL, 0x101 },
		{ "cni-remove-on-exit", no_argument, NULL, 0x102 },
		{ "cni-uninstall", no_argument, NULL, 0x103 },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	static char host[256];
	int c;

	a->cfg.bpf_root = "/sys/fs/bpf/sluice";
	a->cfg.cgroup_root = "/sys/fs/cgroup/unified";
	a->cfg.socket_path = "/run/sluice/sluice.sock";
	a->cfg.state_dir = NULL; /* derived from --bpf-root unless given */
	a->cfg.pod_cidr = "10.244.0.0/16";
	a->cfg.service_cidr = "10.96.0.0/16";
	a->cfg.service_max_entries = SLUICE_SERVICES_MAX;
	a->cfg.backend_max_entries = SLUICE_BACKENDS_MAX;
	a->cfg.netns_prefix = "sluice-";
	a->cfg.metrics_addr = "127.0.0.1:9962";
	a->cfg.flow_buffer = 4096;
	a->cfg.observer_queue = 16u << 20;
	a->cfg.proxy_restart_delay_ms = 1000;
	a->cfg.proxy_orphan_grace_ms = 30000;
	gethostname(host, sizeof(host) - 1);
	a->cfg.node_name = getenv("K8S_NODE_NAME") && *getenv("K8S_NODE_NAME") ? getenv("K8S_NODE_NAME")
									       : host;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'b': a->cfg.bpf_root = optarg; break;
		case 'c': a->cfg.cgroup_root = optarg; break;
		case 's': a->cfg.socket_path = optarg; break;
		case 'S': a->cfg.state_dir = optarg; break;
		case 'p': a->cfg.pod_cidr = optarg; break;
		case 'n': a->cfg.netns_prefix = optarg; break;
		case 'N': a->cfg.node_name = optarg; break;
		case 'f': a->cfg.flow_buffer = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'm': a->cfg.metrics_addr = optarg; break;
		case 'H': a->cfg.health_addr = optarg; break;
		case 'L': a->cfg.log_format = optarg; break;
		case 'd': a->cfg.policy_dir = optarg; break;
		case 'C': *cleanup = true; break;
		case 'P': a->cfg.proxy_bin = optarg; break;
		case 'R': a->cfg.proxy_restart_delay_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'G': a->cfg.proxy_orphan_grace_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'X': a->cfg.no_proxy = true; break;
		case 0x130: a->cfg.observer_queue = strtoul(optarg, NULL, 10); break;
		case 0x120: a->cfg.proxy_control = *optarg ? optarg : NULL; break;
		case 'K': k8s_opt.in_cluster = true; break;
		case 'k': k8s_opt.kubeconfig = optarg; break;
		case 1001: k8s_opt.sa_dir = optarg; break;
		case 1002: k8s_opt.gc_interval_s = (unsigned)strtoul(optarg, NULL, 10); break;
		case 1003: k8s_opt.gc_grace_s = (unsigned)strtoul(optarg, NULL, 10); break;
		case 1004: k8s_opt.ep_throttle_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 0x104: a->cfg.pods_cgroup = optarg; break;
		case 0x105: a->cfg.allow_localhost_opt = optarg; break;
		case 0x110: a->cfg.service_cidr = optarg; break;
		case 0x111: a->cfg.service_max_entries = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 0x112: a->cfg.backend_max_entries = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 0x100: a->cfg.cni_conf_dir = optarg; break;
		case 0x101: a->cfg.cni_chain_target = optarg; break;
		case 0x102: a->cfg.cni_remove_on_exit = true; break;
		case 0x103: *cni_uninstall = true; break;
		case 'h': usage(stdout); exit(0);
		case 'V':
			printf("sluiced %s (datapath ABI %d)\n", SLUICE_VERSION, SLUICE_ABI_VERSION);
			exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sluiced: unexpected argument %s\n", argv[optind]);
		return -EINVAL;
	}
	if (!a->cfg.state_dir) {
		static char derived[PATH_MAX];
		char *d = instance_default_state_dir(a->cfg.bpf_root);

		snprintf(derived, sizeof(derived), "%s", d);
		free(d);
		a->cfg.state_dir = derived;
	}
	if (!a->cfg.flow_buffer)
		a->cfg.flow_buffer = 1;
	if (!a->cfg.allow_localhost_opt || !strcmp(a->cfg.allow_localhost_opt, "auto")) {
		a->cfg.allow_localhost = k8s_opt.in_cluster || k8s_opt.kubeconfig;
	} else if (!strcmp(a->cfg.allow_localhost_opt, "always")) {
		a->cfg.allow_localhost = true;
	} else if (!strcmp(a->cfg.allow_localhost_opt, "policy")) {
		a->cfg.allow_localhost = false;
	} else {
		fprintf(stderr, "sluiced: --allow-localhost %s: want auto, always or policy\n",
			a->cfg.allow_localhost_opt);
		return -EINVAL;
	}
	if (strlen(a->cfg.netns_prefix) > 32) {
		fprintf(stderr, "sluiced: --netns-prefix is too long (32 characters at most)\n");
		return -EINVAL;
	}
	return 0;
}

/*
 * Everything that can be checked, and the instance lock, before anything is
 * created: a start refused here leaves nothing behind.
 */
static int prepare(struct agent *a, bool cleanup, char **err)
{
	unsigned plen;
	int rc;

	if (sl_parse_cidr4(a->cfg.pod_cidr, &a->podcfg.cidr_net, &plen) || plen > 28 || plen < 8)
		return sl_fail(err, EINVAL, "--pod-cidr %s: want an IPv4 CIDR between /8 and /28",
			       a->cfg.pod_cidr);
	a->podcfg.cidr_prefixlen = plen;
	a->podcfg.node_routing = !(k8s_opt.in_cluster || k8s_opt.kubeconfig);
	a->podcfg.netns_prefix = a->cfg.netns_prefix;
	snprintf(a->pod_cgroup_dir, sizeof(a->pod_cgroup_dir), "%s/%spods", a->cfg.cgroup_root,
		 a->cfg.netns_prefix);
	a->podcfg.cgroup_dir = a->pod_cgroup_dir;
	/* pods the agent did not make (CNI) run in the runtime's cgroups */
	snprintf(a->cgroup_pods, sizeof(a->cgroup_pods), "%s",
		 a->cfg.pods_cgroup ? a->cfg.pods_cgroup : a->pod_cgroup_dir);
	snprintf(a->cgroup_system, sizeof(a->cgroup_system), "%s/%ssystem", a->cfg.cgroup_root,
		 a->cfg.netns_prefix);
	registry_init(&a->reg);
	a->reg.next_ip_offset = 2;
	rc = agent_services_init(a, a->cfg.service_cidr, a->cfg.service_max_entries,
				 a->cfg.backend_max_entries, err);
	if (rc)
		return rc;
	rc = check_requirements(a, err);
	if (rc)
		return rc;
	if (!cleanup && (rc = instance_check_options(a, err)))
		return rc;
	return instance_lock(a, cleanup, err);
}

static int setup(struct agent *a, char **err)
{
	int rc;

	struct sluice_dp_options dpo = {
		.service_max_entries = a->cfg.service_max_entries,
		.backend_max_entries = a->cfg.backend_max_entries,
	};

	char *warnings = NULL;

	rc = sluice_dp_open_opts(&a->dp, a->cfg.bpf_root, &dpo, &a->adopted, &warnings, err);
	if (rc)
		return rc;
	if (warnings) { /* e.g. an incompatible pin was replaced */
		fprintf(stderr, "sluiced: %s\n", warnings);
		free(warnings);
	}
	rc = pod_net_node_setup(&a->podcfg, err);
	if (!rc && a->podcfg.node_routing) /* standalone: ClusterIPs routed nowhere */
		rc = agent_services_node_setup(a, err);
	if (rc)
		return rc;
	agent_refresh_host_addrs(a);
	return 0;
}

/*
 * The agent and its proxy live in <cgroup-root>/<prefix>system: inside the
 * instance (so sock_ops, attached at the instance root, sees the proxy's
 * sockets for the sk_msg fast path) but outside the pods' cgroup (where
 * connect4 would steer the proxy's own upstream connections back into it).
 */
static int enter_system_cgroup(struct agent *a, char **err)
{
	char path[4200], pid[32];
	int rc;

	if (mkdir(a->cgroup_system, 0755) && errno != EEXIST)
		return sl_fail(err, errno, "cannot create cgroup %s: %s", a->cgroup_system, strerror(errno));
	snprintf(path, sizeof(path), "%s/cgroup.procs", a->cgroup_system);
	snprintf(pid, sizeof(pid), "%d", getpid());
	rc = sl_write_file(path, pid);
	if (rc)
		return sl_fail(err, rc, "cannot join cgroup %s: %s", a->cgroup_system, strerror(-rc));
	return sluice_dp_attach_cgroups(a->dp, a->cgroup_pods, a->cfg.cgroup_root, err);
}

int main(int argc, char **argv)
{
	struct agent *a = &the_agent;
	struct config_argv cfg_argv; /* lives as long as main(): cfg points into it */
	bool cleanup = false, cni_uninstall = false, api_started = false;
	char *err = NULL;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (config_dir_expand(argc, argv, &cfg_argv, &err)) {
		fprintf(stderr, "sluiced: %s\n", err);
		free(err);
		return 2;
	}
	if (parse_args(a, cfg_argv.argc, cfg_argv.argv, &cleanup, &cni_uninstall)) {
		for (int i = 0; i < cfg_argv.nowned; i++)
			fprintf(stderr, "%s%s", i ? " " : "sluiced: options read from --config-dir: ",
				cfg_argv.owned[i]);
		if (cfg_argv.nowned)
			fputc('\n', stderr);
		return 2;
	}
	if (log_format_start(a->cfg.log_format, &err)) {
		fprintf(stderr, "sluiced: %s\n", err);
		free(err);
		return 2;
	}
	if (cni_uninstall) /* a preStop hook: no datapath needed */
		return agent_cni_uninstall_cmd(a);
	agent_memory_setup();
	a->loop = uv_default_loop();
	a->started_ns = sl_now_ns();
	rc = prepare(a, cleanup, &err);
	if (rc)
		goto refused;
	if (cleanup)
		return instance_cleanup(a) ? 1 : 0;
	rc = setup(a, &err);
	if (rc)
		goto fail;
	if ((rc = enter_system_cgroup(a, &err)))
		goto fail;
	/* before the policies: their TLS contexts name secrets */
	if ((rc = agent_secrets_load(a, &err)))
		goto fail;
	rc = agent_state_restore(a, &err);
	if (!rc)
		rc = agent_services_restore(a, &err);
	if (rc)
		goto fail;
	if (a->adopted)
		fprintf(stderr, "sluiced: adopted pinned datapath state under %s (%zu pods)\n",
			a->cfg.bpf_root, a->reg.npods);
	rc = flows_init(a, &err);
	if (rc)
		goto fail;
	rc = agent_api_start(a, &err);
	if (rc)
		goto fail;
	api_started = true;
	agent_cni_drain_queue(a);
	rc = metrics_start(a, &err);
	if (rc)
		goto fail;
	rc = proxy_ctl_start(a, &err);
	if (rc)
		goto fail;
	agent_regenerate(a, NULL); /* hands the L7 table to the proxy */
	rc = policy_dir_start(a, &err);
	if (rc)
		goto fail;
	if (k8s_opt.in_cluster || k8s_opt.kubeconfig) {
		rc = agent_k8s_start(a, &k8s_opt, &err);
		if (rc)
			goto fail;
	}
	agent_memory_start(a);
	rc = health_start(a, &err); /* last: answering means started */
	if (rc)
		goto fail;

	uv_signal_init(a->loop, &sig_int);
	uv_signal_start(&sig_int, on_signal, SIGINT);
	uv_signal_init(a->loop, &sig_term);
	uv_signal_start(&sig_term, on_signal, SIGTERM);
	uv_timer_init(a->loop, &host_timer);
	host_timer.data = a;
	uv_timer_start(&host_timer, on_host_timer, 2000, 2000);
	uv_poll_init(a->loop, &events_poll, sluice_dp_events_fd(a->dp));
	events_poll.data = a;
	uv_poll_start(&events_poll, UV_READABLE, on_events);
	uv_timer_init(a->loop, &events_timer);
	events_timer.data = a;
	agent_state_save(a);
	if (k8s_opt.in_cluster || k8s_opt.kubeconfig)
		/* pods get their addresses from the primary CNI: --pod-cidr is
		 * unused, what matters is where egress steering attaches */
		fprintf(stderr,
			"sluiced: ready on %s (kubernetes, node %s; pins %s, cgroup %s, pods cgroup %s, "
			"pod addresses from the primary CNI)\n",
			a->cfg.socket_path, a->cfg.node_name, a->cfg.bpf_root, a->cfg.cgroup_root,
			a->cgroup_pods);
	else
		fprintf(stderr, "sluiced: ready on %s (pins %s, cgroup %s, pods %s)\n", a->cfg.socket_path,
			a->cfg.bpf_root, a->cfg.cgroup_root, a->cfg.pod_cidr);

	agent_cni_start(a);
	uv_run(a->loop, UV_RUN_DEFAULT);
	agent_cni_stop(a);

	health_stop(a);
	agent_memory_stop(a);
	agent_k8s_stop(a);
	agent_api_stop(a);
	policy_dir_stop(a);
	revalidate_stop(a);
	proxy_ctl_stop(a);
	flows_stop(a);
	metrics_stop(a);
	uv_close((uv_handle_t *)&sig_int, NULL);
	uv_close((uv_handle_t *)&sig_term, NULL);
	uv_close((uv_handle_t *)&host_timer, NULL);
	uv_close((uv_handle_t *)&events_poll, NULL);
	uv_close((uv_handle_t *)&events_timer, NULL);
	uv_run(a->loop, UV_RUN_NOWAIT);
	agent_state_save(a);
	agent_services_free(a); /* writes services.json if a save is pending */
	sluice_dp_close(a->dp);
	return 0;
fail:
	/* a start that fails undoes what it did */
	fprintf(stderr, "sluiced: %s\n", err ? err : strerror(-rc));
	free(err);
	if (api_started)
		agent_api_stop(a);
	instance_undo_start(a);
	return 1;
refused:
	fprintf(stderr, "sluiced: %s\n", err ? err : strerror(-rc));
	free(err);
	return 1;
}
