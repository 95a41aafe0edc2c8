/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cni.c - pods the agent did not create: the container runtime made their
 * netns and veth (the primary CNI plugin, e.g. bridge), sluice-cni tells
 * the agent about them and waits until their datapath is in place.
 *
 * Such a pod is a registry entry like a standalone pod; only who owns the
 * network differs. The agent keeps its own handle on the pod's netns, a
 * bind mount under /run/netns (as `ip netns attach` makes): every part that
 * opens a pod's netns (sk_lookup steering, the proxy's in-pod listener,
 * revalidation, `sluice pod exec`) works unchanged, and the handle stays
 * valid even when the runtime's own path is not visible to the agent.
 * Detach drops the handle, never the netns or the veth.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <dirent.h>
#include <arpa/inet.h>
#include <uv.h>

#include "../common/util.h"
#include "agent.h"
#include "cni.h"
#include "k8s.h"

#define NETNS_DIR "/run/netns"
#define CONF_RETRY_MS 2000

struct agent_cni {
	uv_timer_t timer;
	bool installed;     /* our conflist entry was written (or found) */
	bool warned;
};

const char *agent_not_ready(const struct agent *a)
{
	if (!a->serving)
		return "the agent is starting";
	if (a->sources_syncing)
		return "the agent's sources have not finished their initial sync";
	return NULL;
}

/* The spec's container ID: alphanumeric first, then [A-Za-z0-9_.-]. */
static bool valid_container_id(const char *s)
{
	size_t i;

	if (!s || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
		    (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (i = 0; s[i]; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return i <= 256;
}

static bool is_netns(int fd)
{
	return ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNET;
}

/*
 * /run/netns/NAME becomes a bind mount of src, like `ip netns attach`:
 * the directory is made a shared mount point first (as iproute2 does), so
 * the handle propagates to the other mount namespaces that share it.
 */
static int netns_bind(const char *src, const char *name, char **err)
{
	char path[PATH_MAX];
	int fd;

	fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sl_fail(err, errno, "cannot open netns %s: %s", src, strerror(errno));
	if (!is_netns(fd)) {
		close(fd);
		return sl_fail(err, EINVAL, "%s is not a network namespace", src);
	}
	close(fd);
	mkdir(NETNS_DIR, 0755);
	if (mount("", NETNS_DIR, "none", MS_SHARED | MS_REC, NULL) && errno == EINVAL) {
		if (!mount(NETNS_DIR, NETNS_DIR, "none", MS_BIND | MS_REC, NULL))
			mount("", NETNS_DIR, "none", MS_SHARED | MS_REC, NULL);
	}
	snprintf(path, sizeof(path), NETNS_DIR "/%s", name);
	umount2(path, MNT_DETACH); /* a stale handle of the same name */
	unlink(path);
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0)
		return sl_fail(err, errno, "cannot create %s: %s", path, strerror(errno));
	close(fd);
	if (mount(src, path, "none", MS_BIND, NULL)) {
		int e = errno;

		unlink(path);
		return sl_fail(err, e, "cannot bind %s to %s: %s", src, path, strerror(e));
	}
	return 0;
}

/* the handle is there and is a netns */
static bool netns_handle_ok(const char *name)
{
	char path[PATH_MAX];
	int fd;
	bool ok;

	snprintf(path, sizeof(path), NETNS_DIR "/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ok = is_netns(fd);
	close(fd);
	return ok;
}

static struct agent_pod *find_attachment(struct agent *a, const char *container_id,
					 const char *ifname)
{
	size_t i;

	for (i = 0; i < a->reg.npods; i++) {
		struct agent_pod *p = a->reg.pods[i];

		if (p->cni && !strcmp(p->cni->container_id, container_id) &&
		    (!ifname || !strcmp(p->cni->ifname, ifname)))
			return p;
	}
	return NULL;
}

static int detach_pod(struct agent *a, struct agent_pod *p, const char *why, char **err)
{
	char *ns = sl_xstrdup(p->ns), *name = sl_xstrdup(p->name);
	int rc;

	if (why)
		fprintf(stderr, "sluiced: cni: detaching %s/%s (container %.12s): %s\n", ns, name,
			p->cni->container_id, why);
	rc = agent_pod_delete(a, ns, name, err);
	free(ns);
	free(name);
	return rc;
}

static void meta_free(struct sluice_labels *labels, struct sluice_named_port *ports, size_t n)
{
	size_t i;

	sluice_labels_free(labels);
	for (i = 0; i < n; i++)
		free(ports[i].name);
	free(ports);
}

int agent_endpoint_attach(struct agent *a, const struct agent_attach_req *req,
			  struct agent_pod **out, char **err)
{
	struct sluice_labels labels = { 0 };
	struct sluice_named_port *ports = NULL;
	struct agent_workload workload = { 0 };
	size_t nports = 0;
	struct agent_pod *p, *other;
	const char *why = agent_not_ready(a);
	char *name = NULL, ipbuf[64];
	const char *ns;
	uint8_t addr[16];
	int ifindex, rc;

	if (why)
		return sl_fail(err, EAGAIN, "not ready: %s", why);
	if (!valid_container_id(req->container_id))
		return sl_fail(err, EINVAL, "invalid container id \"%s\"", req->container_id ?: "");
	if (!req->ifname || !*req->ifname || !req->netns_path || !*req->netns_path)
		return sl_fail(err, EINVAL, "attach needs the pod's netns and interface");
	if (!req->host_ifname || !*req->host_ifname || strlen(req->host_ifname) >= IF_NAMESIZE)
		return sl_fail(err, EINVAL, "attach needs the host side of the pod's veth");
	if (!req->ip)
		return sl_fail(err, EINVAL, "attach needs the pod's IPv4 address");
	ifindex = (int)if_nametoindex(req->host_ifname);
	if (ifindex <= 0)
		return sl_fail(err, ENODEV, "no interface %s in the agent's network namespace",
			       req->host_ifname);
	ns = req->ns && *req->ns ? req->ns : "default";
	name = req->name && *req->name ? sl_xstrdup(req->name)
				       : sl_strdupf("cni-%.12s", req->container_id);

	/* the runtime retried an ADD that reached us: same attachment, done */
	p = find_attachment(a, req->container_id, req->ifname);
	if (p && p->net.ip == req->ip && p->net.host_ifindex == ifindex && !strcmp(p->ns, ns) &&
	    !strcmp(p->name, name) && netns_handle_ok(p->net.netns) &&
	    sluice_dp_endpoint_attached(a->dp, ifindex) == 1) {
		*out = p;
		free(name);
		return 0;
	}

	/* labels from the Kubernetes source, for pods Kubernetes made */
	if (a->pod_meta && req->name && *req->name) {
		rc = a->pod_meta(a, ns, name, &labels, &ports, &nports, &workload);
		if (rc == -EAGAIN) {
			sl_fail(err, EAGAIN, "pod %s/%s is not known to the Kubernetes source yet", ns, name);
			goto out;
		}
		if (rc) {
			sl_fail(err, -rc, "metadata of pod %s/%s: %s", ns, name, strerror(-rc));
			goto out;
		}
	}

	/* what this attachment replaces: an earlier attach of the same
	 * container, or a stale sandbox of the same pod or address whose DEL
	 * never came (a standalone pod is never replaced) */
	if (p && (rc = detach_pod(a, p, "attached again", err)))
		goto out;
	other = registry_pod_find(&a->reg, ns, name);
	if (other && !other->cni) {
		rc = sl_fail(err, EEXIST, "pod %s/%s already exists and was not made by CNI", ns, name);
		goto out;
	}
	if (other && (rc = detach_pod(a, other, "replaced by a new sandbox of the same pod", err)))
		goto out;
	if (registry_remote_find(&a->reg, ns, name)) {
		rc = sl_fail(err, EEXIST, "pod %s/%s is registered as a pod of another node", ns, name);
		goto out;
	}
	sl_addr_from_ipv4(addr, req->ip);
	other = registry_pod_by_addr(&a->reg, addr, true);
	if (other && !other->cni) {
		rc = sl_fail(err, EEXIST, "address %s is used by pod %s/%s",
			     sl_addr_str(addr, ipbuf, sizeof(ipbuf)), other->ns, other->name);
		goto out;
	}
	if (other && (rc = detach_pod(a, other, "its address went to a new pod", err)))
		goto out;

	p = registry_pod_new(ns, name, &labels, ports, nports);
	p->workload = workload; /* moved */
	workload = (struct agent_workload){ 0 };
	p->ep_id = a->reg.next_ep_id++;
	p->net.foreign = true;
	p->net.ip = req->ip;
	p->net.host_ifindex = ifindex;
	snprintf(p->net.host_ifname, sizeof(p->net.host_ifname), "%s", req->host_ifname);
	snprintf(p->net.netns, sizeof(p->net.netns), "%sc%u", a->cfg.netns_prefix, p->ep_id);
	p->cni = sl_xcalloc(1, sizeof(*p->cni));
	p->cni->container_id = sl_xstrdup(req->container_id);
	p->cni->network = sl_xstrdup(req->network ?: "");
	p->cni->ifname = sl_xstrdup(req->ifname);
	p->cni->netns_source = sl_xstrdup(req->netns_path);
	rc = netns_bind(req->netns_path, p->net.netns, err);
	if (rc) {
		registry_pod_free(p);
		goto out;
	}
	/* the main plugin may just have given the node an address (bridge's
	 * gateway on its first pod): host traffic to the pod must carry the
	 * host identity from the start, not after the next periodic refresh */
	agent_refresh_host_addrs(a);
	rc = agent_pod_enroll(a, p, err);
	if (!rc) {
		fprintf(stderr, "sluiced: cni: attached %s/%s (container %.12s, %s, endpoint %u, identity %u)\n",
			p->ns, p->name, req->container_id, req->host_ifname, p->ep_id, p->identity);
		*out = p;
	}
out:
	meta_free(&labels, ports, nports);
	agent_workload_free(&workload);
	free(name);
	return rc;
}

int agent_endpoint_detach(struct agent *a, const char *container_id, const char *ifname,
			  char **err)
{
	struct agent_pod *p;
	int rc = 0;

	/* all of the container's attachments when ifname is NULL */
	while (!rc && container_id && (p = find_attachment(a, container_id, ifname)))
		rc = detach_pod(a, p, NULL, err);
	return rc;
}

/* ---- the API commands ---- */

static const char *req_str(json_t *req, const char *key)
{
	return json_string_value(json_object_get(req, key));
}

static int parse_ip4(const char *s, uint32_t *ip)
{
	struct in_addr in;

	if (!s || inet_pton(AF_INET, s, &in) != 1)
		return -EINVAL;
	*ip = ntohl(in.s_addr);
	return 0;
}

static json_t *attachment_json(const struct agent_pod *p)
{
	uint8_t addr[16];
	char ip[64];

	sl_addr_from_ipv4(addr, p->net.ip);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "container_id", p->cni->container_id,
			 "network", p->cni->network, "ifname", p->cni->ifname, "namespace", p->ns,
			 "name", p->name, "ip", sl_addr_str(addr, ip, sizeof(ip)), "host_interface",
			 p->net.host_ifname, "endpoint", (json_int_t)p->ep_id, "identity",
			 (json_int_t)p->identity);
}

static json_t *cmd_attach(struct agent *a, json_t *req, char **err)
{
	struct agent_attach_req r = {
		.container_id = req_str(req, "container_id"),
		.network = req_str(req, "network"),
		.netns_path = req_str(req, "netns"),
		.ifname = req_str(req, "ifname"),
		.host_ifname = req_str(req, "host_interface"),
		.ns = req_str(req, "namespace"),
		.name = req_str(req, "name"),
	};
	struct agent_pod *p = NULL;
	json_t *ips = json_object_get(req, "ips"), *v;
	size_t i;
	int rc;

	json_array_foreach(ips, i, v) {
		if (!parse_ip4(json_string_value(v), &r.ip))
			break;
	}
	rc = agent_endpoint_attach(a, &r, &p, err);
	if (rc == -EAGAIN) {
		/* the plugin waits and asks again, within its bound */
		json_t *res = json_pack("{s:b,s:s,s:b}", "ok", 0, "error", *err, "retry", 1);

		free(*err);
		*err = NULL;
		return res;
	}
	return rc ? NULL : attachment_json(p);
}

/* CHECK: the attachment exists with the address the runtime knows, its
 * veth is the same device, the netns handle holds, the programs run */
static json_t *cmd_check(struct agent *a, json_t *req, char **err)
{
	const char *cid = req_str(req, "container_id") ?: "", *ifname = req_str(req, "ifname");
	struct agent_pod *p = find_attachment(a, cid, ifname);
	json_t *ips = json_object_get(req, "ips"), *v;
	bool ip_ok = !json_array_size(ips);
	size_t i;
	int ifindex;

	if (!p) {
		sl_fail(err, ENOENT, "no attachment for container %s interface %s", cid, ifname ?: "*");
		return NULL;
	}
	json_array_foreach(ips, i, v) {
		uint32_t ip;

		if (!parse_ip4(json_string_value(v), &ip) && ip == p->net.ip)
			ip_ok = true;
	}
	if (!ip_ok) {
		sl_fail(err, EINVAL, "pod %s/%s is attached with another address", p->ns, p->name);
		return NULL;
	}
	ifindex = (int)if_nametoindex(p->net.host_ifname);
	if (ifindex != p->net.host_ifindex) {
		sl_fail(err, ENODEV, "the host side %s of pod %s/%s is gone or was replaced",
			p->net.host_ifname, p->ns, p->name);
		return NULL;
	}
	if (!netns_handle_ok(p->net.netns)) {
		sl_fail(err, ENOENT, "the netns of pod %s/%s is gone", p->ns, p->name);
		return NULL;
	}
	if (sluice_dp_endpoint_attached(a->dp, ifindex) != 1) {
		sl_fail(err, ENOENT, "the datapath programs are not attached to %s", p->net.host_ifname);
		return NULL;
	}
	return attachment_json(p);
}

/* GC: every attachment of this network that the runtime does not list */
static json_t *cmd_gc(struct agent *a, json_t *req, char **err)
{
	const char *network = req_str(req, "network") ?: "";
	json_t *valid = json_object_get(req, "valid"), *removed = json_array(), *v;
	size_t i, k;
	int rc = 0;

	if (!json_is_array(valid)) {
		sl_fail(err, EINVAL, "gc needs the list of valid attachments");
		json_decref(removed);
		return NULL;
	}
	for (i = 0; i < a->reg.npods;) {
		struct agent_pod *p = a->reg.pods[i];
		bool keep = !p->cni || strcmp(p->cni->network, network);

		json_array_foreach(valid, k, v) {
			const char *cid = req_str(v, "containerID"), *ifn = req_str(v, "ifname");

			if (cid && !strcmp(cid, p->cni ? p->cni->container_id : "") &&
			    (!ifn || !strcmp(ifn, p->cni->ifname)))
				keep = true;
		}
		if (keep) {
			i++;
			continue;
		}
		json_array_append_new(removed, attachment_json(p));
		if ((rc = detach_pod(a, p, "not in the runtime's valid attachments (GC)", err)))
			break;
	}
	if (rc) {
		json_decref(removed);
		return NULL;
	}
	return json_pack("{s:o}", "removed", removed);
}

static json_t *cmd_conf_uninstall(struct agent *a, char **err);

json_t *agent_cni_api(struct agent *a, const char *cmd, json_t *req, char **err)
{
	if (!strcmp(cmd, "cni.status")) {
		const char *why = agent_not_ready(a);

		if (why) {
			sl_fail(err, EAGAIN, "not ready: %s", why);
			return NULL;
		}
		return json_pack("{s:b}", "ready", 1);
	}
	if (!strcmp(cmd, "cni.attach"))
		return cmd_attach(a, req, err);
	if (!strcmp(cmd, "cni.detach")) {
		if (agent_endpoint_detach(a, req_str(req, "container_id"), req_str(req, "ifname"), err))
			return NULL;
		return json_object();
	}
	if (!strcmp(cmd, "cni.check"))
		return cmd_check(a, req, err);
	if (!strcmp(cmd, "cni.gc"))
		return cmd_gc(a, req, err);
	if (!strcmp(cmd, "cni.uninstall"))
		return cmd_conf_uninstall(a, err);
	if (!strcmp(cmd, "cni.list")) {
		json_t *arr = json_array();
		size_t i;

		for (i = 0; i < a->reg.npods; i++)
			if (a->reg.pods[i]->cni)
				json_array_append_new(arr, attachment_json(a->reg.pods[i]));
		return json_pack("{s:o}", "attachments", arr);
	}
	sl_fail(err, EINVAL, "unknown command %s", cmd);
	return NULL;
}

int agent_cni_refuse_delete(struct agent *a, const char *ns, const char *name, char **err)
{
	struct agent_pod *p = registry_pod_find(&a->reg, ns, name);

	if (!p || !p->cni)
		return 0;
	return sl_fail(err, EPERM,
		       "pod %s/%s belongs to container %s of the container runtime (CNI): it goes when the runtime deletes its sandbox (CNI DEL or GC)",
		       ns, name, p->cni->container_id);
}

json_t *agent_cni_status_json(struct agent *a)
{
	const char *why = agent_not_ready(a);
	size_t i, n = 0;

	for (i = 0; i < a->reg.npods; i++)
		n += a->reg.pods[i]->cni != NULL;
	return json_pack("{s:b,s:s*,s:I,s:s*,s:b}", "ready", !why, "not_ready_reason", why,
			 "attachments", (json_int_t)n, "conf_dir", a->cfg.cni_conf_dir,
			 "chained", a->cnis && a->cnis->installed);
}

void agent_cni_pod_json(const struct agent_pod *p, json_t *o)
{
	if (!p->cni)
		return;
	json_object_set_new(o, "container_id", json_string(p->cni->container_id));
	json_object_set_new(o, "cni_network", json_string(p->cni->network));
	json_object_set_new(o, "cni_ifname", json_string(p->cni->ifname));
	json_object_set_new(o, "cni_netns", json_string(p->cni->netns_source));
}

/* ---- state ---- */

void agent_cni_revive(struct agent_pod *p)
{
	char *err = NULL;

	if (!p->cni || netns_handle_ok(p->net.netns) || !*p->cni->netns_source)
		return;
	if (netns_bind(p->cni->netns_source, p->net.netns, &err) == 0)
		fprintf(stderr, "sluiced: cni: netns handle of %s/%s made again from %s\n", p->ns,
			p->name, p->cni->netns_source);
	free(err);
}

/* ---- the delete queue ---- */

static char *queue_dir(const struct agent *a)
{
	const char *slash = strrchr(a->cfg.socket_path, '/');
	size_t n = slash ? (size_t)(slash - a->cfg.socket_path) : 1;

	return sl_strdupf("%.*s/%s", (int)n, slash ? a->cfg.socket_path : ".", SLUICE_CNI_QUEUE_NAME);
}

/*
 * The plugin, finding the agent down, takes the queue's lock shared, tries
 * the agent once more and only then writes a file; the agent listens first
 * and then drains under the lock held exclusively. So a deletion is either
 * answered by this agent or in the queue before the drain reads it.
 */
void agent_cni_drain_queue(struct agent *a)
{
	char *dir = queue_dir(a), *lock = sl_strdupf("%s/lock", dir);
	struct dirent *de;
	DIR *d;
	int fd, i, n = 0;

	fd = open(lock, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		goto out; /* no queue: nothing was ever queued */
	for (i = 0; i < 100 && flock(fd, LOCK_EX | LOCK_NB); i++)
		usleep(50000);
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char *path, *text = NULL, *err = NULL;
		size_t tlen;
		json_t *j;

		if (len < 8 || strcmp(de->d_name + len - 7, ".delete"))
			continue;
		path = sl_strdupf("%s/%s", dir, de->d_name);
		if (!sl_read_file(path, 65536, &text, &tlen) && (j = json_loads(text, 0, NULL))) {
			const char *cid = req_str(j, "containerID");

			if (valid_container_id(cid) &&
			    agent_endpoint_detach(a, cid, req_str(j, "ifname"), &err))
				fprintf(stderr, "sluiced: cni: queued delete of %s: %s\n", cid, err);
			n++;
			json_decref(j);
		} else {
			fprintf(stderr, "sluiced: cni: dropping unreadable queue entry %s\n", path);
		}
		unlink(path);
		free(path);
		free(text);
		free(err);
	}
	if (d)
		closedir(d);
	if (n)
		fprintf(stderr, "sluiced: cni: %d queued deletion%s handled\n", n, n == 1 ? "" : "s");
	flock(fd, LOCK_UN);
	close(fd);
out:
	free(lock);
	free(dir);
}

/* ---- the conflist writer ---- */

const char *agent_cni_conf_pending(const struct agent *a)
{
	if (!a->cfg.cni_conf_dir)
		return NULL;
	if (!a->cnis)
		return "sluice-cni is not chained yet (the conflist is written once the agent is ready)";
	if (!a->cnis->installed)
		return "sluice-cni could not be chained in the CNI config directory yet (see the agent's log)";
	return NULL;
}

static void conf_tick(uv_timer_t *t)
{
	struct agent *a = t->data;
	struct agent_cni *c = a->cnis;
	char *err = NULL, *path = NULL;
	bool changed = false;
	int rc;

	if (agent_not_ready(a))
		return;
	rc = cni_conf_install(a->cfg.cni_conf_dir, a->cfg.cni_chain_target, a->cfg.socket_path,
			      &changed, &path, &err);
	if (rc) {
		if (!c->warned)
			fprintf(stderr, "sluiced: cni: cannot chain sluice-cni in %s: %s (retrying)\n",
				a->cfg.cni_conf_dir, err ?: strerror(-rc));
		c->warned = true;
	} else {
		/* again when a primary CNI rewrote its config without our entry */
		if (changed)
			fprintf(stderr, "sluiced: cni: sluice-cni chained in %s\n", path);
		c->installed = true;
		c->warned = false;
		/* the node can enforce and new pods go through us: now the
		 * agent-not-ready taint may go (k8s_node.c; once per run) */
		if (a->k8s)
			k8s_node_ready(a->k8s);
	}
	free(err);
	free(path);
}

void agent_cni_start(struct agent *a)
{
	a->serving = true;
	if (!a->cfg.cni_conf_dir || a->cnis)
		return;
	a->cnis = sl_xcalloc(1, sizeof(*a->cnis));
	uv_timer_init(a->loop, &a->cnis->timer);
	a->cnis->timer.data = a;
	/* written once the agent is ready, then kept (cheap when nothing
	 * changed: the directory and one file are read) until
	 * `sluiced --cni-uninstall` or the agent stops */
	uv_timer_start(&a->cnis->timer, conf_tick, 0, CONF_RETRY_MS);
}

static void conf_writer_stop(struct agent *a)
{
	if (!a->cnis)
		return;
	uv_timer_stop(&a->cnis->timer);
	uv_close((uv_handle_t *)&a->cnis->timer, (uv_close_cb)free);
	a->cnis = NULL;
}

/* cni.uninstall: a preStop hook's `sluiced --cni-uninstall` asks the
 * running agent first, so that it stops keeping the entry, which it would
 * otherwise put back before it gets its SIGTERM */
static json_t *cmd_conf_uninstall(struct agent *a, char **err)
{
	conf_writer_stop(a);
	if (a->cfg.cni_conf_dir && cni_conf_uninstall(a->cfg.cni_conf_dir, err))
		return NULL;
	fprintf(stderr, "sluiced: cni: sluice-cni taken out of %s on request\n",
		a->cfg.cni_conf_dir ?: "(no --cni-conf-dir)");
	return json_object();
}

int agent_cni_uninstall_cmd(struct agent *a)
{
	char *err = NULL, line[4096];
	struct timeval tv = { .tv_sec = 10 };
	int fd = sl_unix_connect(a->cfg.socket_path, SOCK_STREAM), rc;
	static const char req[] = "{\"cmd\":\"cni.uninstall\"}\n";
	ssize_t n = -1;

	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (write(fd, req, sizeof(req) - 1) == (ssize_t)sizeof(req) - 1)
			n = read(fd, line, sizeof(line) - 1);
		close(fd);
		if (n > 0) {
			line[n] = 0;
			if (strstr(line, "\"ok\":true"))
				return 0;
			fprintf(stderr, "sluiced: the agent at %s: %s", a->cfg.socket_path, line);
		}
	}
	/* no agent (or an old one): do it here */
	if (!a->cfg.cni_conf_dir) {
		fprintf(stderr, "sluiced: --cni-uninstall needs --cni-conf-dir\n");
		return 1;
	}
	rc = cni_conf_uninstall(a->cfg.cni_conf_dir, &err);
	if (rc)
		fprintf(stderr, "sluiced: %s\n", err);
	free(err);
	return rc ? 1 : 0;
}

void agent_cni_stop(struct agent *a)
{
	char *err = NULL;

	a->serving = false;
	if (!a->cnis)
		return;
	conf_writer_stop(a);
	if (a->cfg.cni_remove_on_exit) {
		if (cni_conf_uninstall(a->cfg.cni_conf_dir, &err))
			fprintf(stderr, "sluiced: cni: %s\n", err);
		else
			fprintf(stderr, "sluiced: cni: sluice-cni removed from %s\n", a->cfg.cni_conf_dir);
		free(err);
	}
}
