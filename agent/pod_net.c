/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pod_net.c - builds and removes local pods (see pod_net.h).
 *
 * Routing model (as Cilium's "native routing" on one node): the pod's only
 * route is a default route via a link-local gateway, 169.254.1.1, whose MAC
 * is pinned to the host-side veth, so every packet the pod sends crosses
 * the host veth where the datapath's tc programs enforce policy. The host
 * routes each pod address as a /32 on that veth. iproute2 does the netlink
 * work: it is run without a shell, argument by argument.
 */
#include "pod_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"

#define POD_GATEWAY "169.254.1.1"

static void ipstr(uint32_t ip, char *buf, size_t len)
{
	struct in_addr in = { .s_addr = htonl(ip) };

	inet_ntop(AF_INET, &in, buf, len);
}

static int write_sysctl(const char *path, const char *val)
{
	return sl_write_file(path, val);
}

int pod_net_node_setup(const struct pod_net_config *cfg, char **err)
{
	char net[32], cidr[48], pfx[8];
	int rc;

	if (cfg->node_routing) {
		rc = write_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
		if (rc)
			return sl_fail(err, rc, "cannot enable IPv4 forwarding: %s", strerror(-rc));
		ipstr(cfg->cidr_net, net, sizeof(net));
		snprintf(pfx, sizeof(pfx), "%u", cfg->cidr_prefixlen);
		snprintf(cidr, sizeof(cidr), "%s/%s", net, pfx);
		const char *argv[] = { "ip", "route", "replace", "blackhole", cidr, NULL };

		rc = sl_run(err, argv);
		if (rc)
			return rc;
	}
	if (mkdir(cfg->cgroup_dir, 0755) && errno != EEXIST)
		return sl_fail(err, errno, "cannot create cgroup %s: %s", cfg->cgroup_dir,
			       strerror(errno));
	return 0;
}

void pod_net_node_teardown(const struct pod_net_config *cfg)
{
	char net[32], cidr[48];

	if (cfg->node_routing) {
		ipstr(cfg->cidr_net, net, sizeof(net));
		snprintf(cidr, sizeof(cidr), "%s/%u", net, cfg->cidr_prefixlen);
		const char *argv[] = { "ip", "route", "del", "blackhole", cidr, NULL };

		sl_run_quiet(argv);
	}
	rmdir(cfg->cgroup_dir);
}

/* A host-side name that is unique per agent (prefix) and endpoint, and fits
 * IFNAMSIZ: "lxc" + 8 hex digits of a hash. */
static void host_ifname(const struct pod_net_config *cfg, uint32_t ep_id, unsigned salt,
			char out[16])
{
	uint32_t h = 2166136261u;
	const char *p;

	for (p = cfg->netns_prefix; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ ep_id) * 16777619u;
	h = (h ^ salt) * 16777619u;
	snprintf(out, 16, "lxc%08x", h);
}

static int read_mac(const char *ifname, char *mac, size_t len)
{
	char path[128], *text = NULL;
	size_t n = 0;
	int rc;

	snprintf(path, sizeof(path), "/sys/class/net/%s/address", ifname);
	rc = sl_read_file(path, 64, &text, &n);
	if (rc)
		return rc;
	while (n && (text[n - 1] == '\n' || text[n - 1] == ' '))
		text[--n] = 0;
	snprintf(mac, len, "%s", text);
	free(text);
	return 0;
}

int pod_net_create(const struct pod_net_config *cfg, uint32_t ep_id, uint32_t ip,
		   struct pod_net *out, char **err)
{
	char addr[32], addr32[40], mac[32], sysctl[160];
	unsigned salt;
	int rc;

	memset(out, 0, sizeof(*out));
	out->ip = ip;
	out->host_ifindex = -1;
	snprintf(out->netns, sizeof(out->netns), "%s%u", cfg->netns_prefix, ep_id);
	snprintf(out->cgroup, sizeof(out->cgroup), "%s/%s", cfg->cgroup_dir, out->netns);
	for (salt = 0; salt < 16; salt++) {
		host_ifname(cfg, ep_id, salt, out->host_ifname);
		if (if_nametoindex(out->host_ifname) == 0)
			break;
	}
	ipstr(ip, addr, sizeof(addr));
	snprintf(addr32, sizeof(addr32), "%s/32", addr);

	{
		const char *argv[] = { "ip", "netns", "add", out->netns, NULL };

		rc = sl_run(err, argv);
		if (rc)
			return rc;
	}
	{
		const char *argv[] = { "ip", "link", "add", out->host_ifname, "type", "veth",
				       "peer", "name", "eth0", "netns", out->netns, NULL };

		rc = sl_run(err, argv);
		if (rc)
			goto fail;
	}
	rc = read_mac(out->host_ifname, mac, sizeof(mac));
	if (rc) {
		sl_fail(err, rc, "cannot read MAC of %s", out->host_ifname);
		goto fail;
	}
	/* No IPv6 inside pods: policy is enforced for IPv4 only for now, and the
	 * datapath drops IPv6, so do not let the stack try it. */
	{
		const char *steps[][16] = {
			{ "ip", "netns", "exec", out->netns, "sysctl", "-q", "-w",
			  "net.ipv6.conf.all.disable_ipv6=1", NULL },
			{ "ip", "-n", out->netns, "link", "set", "lo", "up", NULL },
			{ "ip", "-n", out->netns, "addr", "add", addr32, "dev", "eth0", NULL },
			{ "ip", "-n", out->netns, "link", "set", "eth0", "up", NULL },
			{ "ip", "-n", out->netns, "route", "add", POD_GATEWAY, "dev", "eth0",
			  "scope", "link", NULL },
			{ "ip", "-n", out->netns, "route", "add", "default", "via", POD_GATEWAY,
			  "dev", "eth0", NULL },
			{ "ip", "-n", out->netns, "neigh", "replace", POD_GATEWAY, "lladdr", mac,
			  "dev", "eth0", "nud", "permanent", NULL },
			{ "ip", "link", "set", out->host_ifname, "up", NULL },
			{ "ip", "route", "replace", addr32, "dev", out->host_ifname, "scope", "link",
			  NULL },
		};
		size_t i;

		for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
			rc = sl_run(err, steps[i]);
			if (rc)
				goto fail;
		}
	}
	snprintf(sysctl, sizeof(sysctl), "/proc/sys/net/ipv4/conf/%s/rp_filter", out->host_ifname);
	write_sysctl(sysctl, "0");
	snprintf(sysctl, sizeof(sysctl), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", out->host_ifname);
	write_sysctl(sysctl, "1");
	out->host_ifindex = (int)if_nametoindex(out->host_ifname);
	if (out->host_ifindex <= 0) {
		rc = sl_fail(err, ENODEV, "veth %s vanished", out->host_ifname);
		goto fail;
	}
	if (mkdir(out->cgroup, 0755) && errno != EEXIST) {
		rc = sl_fail(err, errno, "cannot create cgroup %s: %s", out->cgroup, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	pod_net_delete(out);
	return rc;
}

/* cgroup.kill (Linux 5.14+) ends every process of the pod at once. */
static void kill_cgroup(const char *cg)
{
	char path[PATH_MAX + 32];
	int i;

	snprintf(path, sizeof(path), "%s/cgroup.kill", cg);
	if (sl_write_file(path, "1") != 0)
		return;
	/* rmdir succeeds once the last process has gone; wait a bounded time */
	for (i = 0; i < 100; i++) {
		if (rmdir(cg) == 0 || errno == ENOENT)
			return;
		usleep(10000);
	}
}

void pod_net_delete(const struct pod_net *p)
{
	if (p->foreign) {
		/* `ip netns del` of a handle: umount and unlink, the netns lives on */
		if (p->netns[0]) {
			const char *argv[] = { "ip", "netns", "del", p->netns, NULL };

			sl_run_quiet(argv);
		}
		return;
	}
	if (p->cgroup[0]) {
		kill_cgroup(p->cgroup);
		rmdir(p->cgroup);
	}
	if (p->host_ifname[0] && if_nametoindex(p->host_ifname)) {
		const char *argv[] = { "ip", "link", "del", p->host_ifname, NULL };

		sl_run_quiet(argv);
	}
	if (p->netns[0]) {
		const char *argv[] = { "ip", "netns", "del", p->netns, NULL };

		sl_run_quiet(argv);
	}
}

int pod_net_host_ifindex(const struct pod_net *p)
{
	unsigned idx = if_nametoindex(p->host_ifname);

	return idx ? (int)idx : -1;
}
