/* SPDX-License-Identifier: Apache-2.0 */
/*
 * services.c - the Service registry (services.h): ClusterIP allocation from
 * --service-cidr, the services' ports and backends, and the service and
 * backend maps that connect4/sendmsg4 translate with (bpf/lib/service.h).
 *
 * How a port's backends reach the datapath without a reader ever seeing a
 * half-written set: the backends' own entries first, then the slots
 * 1..n, then slot 0 with the new count, then the slots past n are deleted
 * and backends no port uses any more are removed. A reader that got the old
 * count picks an old slot, which is still there or already holds a new
 * backend; never an empty slot or a removed backend.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <bpf/bpf.h>

#include "../common/names.h"
#include "../common/util.h"
#include "sluice/abi.h"
#include "api.h"
#include "revalidate.h"
#include "services.h"

struct svc_port {
	char *name;               /* "" when unnamed */
	uint16_t port;
	uint8_t protocol;
	uint16_t target_port;     /* 0: target_name */
	char *target_name;
	uint32_t svc_id;          /* the frontend's id in the datapath */
	uint32_t *written;        /* backend ids in slots 1..nwritten */
	size_t nwritten;
	bool in_map;              /* slot 0 written */
	uint32_t aff_written;     /* affinity timeout slot 0 carries; its match
				   * entries exist for written[] when non-zero */
	uint16_t node_port;       /* spec's nodePort, 0: none */
	uint16_t np_written;      /* the node port whose frontend is in the map */
};

struct svc_ep {                   /* an explicit backend (EndpointSlice) */
	uint32_t ip;
	char *port_name;
	uint16_t port;
	uint8_t protocol;
};

struct agent_service {
	char *ns, *name;
	uint32_t ip;              /* ClusterIP, host order */
	bool ip_in_range;         /* taken from the allocator's bitmap */
	struct sluice_labels labels;
	struct sluice_labels selector;
	bool has_selector;
	struct svc_port *ports;
	size_t nports;
	struct svc_ep *eps;
	size_t neps;
	bool explicit_eps;
	uint64_t created_ns;
	char *note;               /* spec's note: what is not served, or NULL */
	uint32_t affinity_timeout; /* ClientIP affinity, seconds; 0: None */
	char *type;               /* "ClusterIP", "NodePort", "LoadBalancer" */
};

/* A backend address shared by every port that uses it. */
struct svc_backend {
	uint32_t ip;
	uint16_t port;
	uint8_t protocol;
	uint32_t id;
	uint32_t refs;
};

struct agent_services {
	struct agent_service **v;
	size_t n;
	char cidr[48];
	uint32_t net, size;       /* the range: net .. net + size - 1 */
	uint8_t *used;            /* bitmap of offsets */
	uint32_t cursor;
	uint32_t next_svc_id;
	uint32_t next_be_id;
	struct svc_backend *bes;
	size_t nbes;
	uint32_t max_entries, max_backends;
	uint64_t entries;         /* keys in the services map (1 + slots per port) */
	/* svc_id -> (service, port index), for observe */
	struct { struct agent_service *s; size_t pi; } *by_id;
	size_t nby_id;
	bool map_checked;         /* leftovers of an earlier agent removed */
	bool policies_use_services; /* some policy has toServices */
	uv_timer_t save_timer;    /* services.json, written shortly after a change */
	bool save_pending;
	bool timer_init;
	uint64_t udp_sockets_cut; /* connected UDP sockets of removed backends */
	/* while restoring: the backends an earlier agent left in the map, so a
	 * backend gets its old id back (ClientIP affinities name backends by id
	 * and outlive the agent, as the pinned maps do) */
	struct svc_backend *prev;
	size_t nprev;
};

/* ---- small helpers ------------------------------------------------------ */

static const char *proto_name(uint8_t p)
{
	return p == IPPROTO_UDP ? "UDP" : p == IPPROTO_TCP ? "TCP" : p == IPPROTO_SCTP ? "SCTP" : "?";
}

static void ip_str(uint32_t ip, char *buf, size_t n)
{
	snprintf(buf, n, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

static bool bit_get(const uint8_t *b, uint32_t i) { return b[i / 8] & (1u << (i % 8)); }
static void bit_set(uint8_t *b, uint32_t i, bool v)
{
	if (v)
		b[i / 8] |= (uint8_t)(1u << (i % 8));
	else
		b[i / 8] &= (uint8_t)~(1u << (i % 8));
}

/* A frontend's key: ClusterIP:port, or a node port (ip 0: the wildcard
 * address, which connect4 reads for any node's address). */
static void svc_key(struct sluice_svc_key *k, uint32_t ip, uint16_t port, uint8_t protocol,
		    uint16_t slot)
{
	memset(k, 0, sizeof(*k));
	if (ip)
		sl_addr_from_ipv4(k->addr, ip);
	k->port = port;
	k->protocol = protocol;
	k->slot = slot;
}

static int map_fd(struct agent *a, const char *name)
{
	return a->dp ? sluice_dp_map_fd(a->dp, name) : -ENOENT;
}

/* ---- node route ------------------------------------------------------- */

int agent_services_node_setup(struct agent *a, char **err)
{
	const char *argv[] = { "ip", "route", "replace", "blackhole", NULL, NULL };

	if (!a->services)
		return 0;
	argv[4] = a->services->cidr;
	return sl_run(err, argv);
}

void agent_services_node_teardown(struct agent *a, bool say)
{
	const char *del[] = { "ip", "route", "del", "blackhole", NULL, NULL };
	char *err = NULL, cmd[128], line[256];
	FILE *f;
	bool found = false;

	if (!a->services)
		return;
	snprintf(cmd, sizeof(cmd), "ip route show type blackhole %s 2>/dev/null", a->services->cidr);
	f = popen(cmd, "r");
	while (f && fgets(line, sizeof(line), f))
		found = true;
	if (f)
		pclose(f);
	if (!found)
		return;
	del[4] = a->services->cidr;
	if (!sl_run(&err, del) && say)
		printf("removed: blackhole route %s (services)\n", a->services->cidr);
	free(err);
}

/* ---- init --------------------------------------------------------------- */

int agent_services_init(struct agent *a, const char *cidr, uint32_t max_entries,
			uint32_t max_backends, char **err)
{
	struct agent_services *S;
	unsigned plen;
	uint32_t net;

	if (sl_parse_cidr4(cidr, &net, &plen) || plen < 12 || plen > 30)
		return sl_fail(err, EINVAL, "--service-cidr %s: want an IPv4 CIDR between /12 and /30",
			       cidr);
	if (net & (plen ? ~0u >> plen : ~0u))
		return sl_fail(err, EINVAL, "--service-cidr %s: host bits set", cidr);
	if (max_entries < 2 || max_backends < 1)
		return sl_fail(err, EINVAL, "--service-max-entries and --backend-max-entries must be "
			       "at least 2 and 1");
	S = sl_xcalloc(1, sizeof(*S));
	snprintf(S->cidr, sizeof(S->cidr), "%s", cidr);
	S->net = net;
	S->size = 1u << (32 - plen);
	S->used = sl_xcalloc(S->size / 8 + 1, 1);
	/* network and broadcast addresses are never handed out (as Kubernetes) */
	bit_set(S->used, 0, true);
	bit_set(S->used, S->size - 1, true);
	S->cursor = 1;
	S->next_svc_id = 1;
	S->next_be_id = 1;
	S->max_entries = max_entries;
	S->max_backends = max_backends;
	a->services = S;
	return 0;
}

static void port_free(struct svc_port *p)
{
	free(p->name);
	free(p->target_name);
	free(p->written);
}

static void service_free(struct agent_service *s)
{
	size_t i;

	if (!s)
		return;
	free(s->ns);
	free(s->name);
	free(s->note);
	free(s->type);
	sluice_labels_free(&s->labels);
	sluice_labels_free(&s->selector);
	for (i = 0; i < s->nports; i++)
		port_free(&s->ports[i]);
	free(s->ports);
	for (i = 0; i < s->neps; i++)
		free(s->eps[i].port_name);
	free(s->eps);
	free(s);
}

static void services_save_now(struct agent *a);

void agent_services_free(struct agent *a)
{
	struct agent_services *S = a->services;
	size_t i;

	if (!S)
		return;
	if (S->save_pending)
		services_save_now(a);
	for (i = 0; i < S->n; i++)
		service_free(S->v[i]);
	free(S->v);
	free(S->used);
	free(S->bes);
	free(S->by_id);
	if (S->timer_init) {
		/* the handle is freed by the loop's close callback */
		S->save_timer.data = NULL;
		uv_close((uv_handle_t *)&S->save_timer, NULL);
		uv_run(a->loop, UV_RUN_NOWAIT);
	}
	free(S);
	a->services = NULL;
}

/* ---- backends (shared, reference counted) -------------------------------- */

static struct svc_backend *be_find(struct agent_services *S, uint32_t id)
{
	size_t i;

	for (i = 0; i < S->nbes; i++)
		if (S->bes[i].id == id)
			return &S->bes[i];
	return NULL;
}

/* A reference on the backend ip:port/proto, its map entry written on the first. */
static int be_acquire(struct agent *a, uint32_t ip, uint16_t port, uint8_t proto, uint32_t *id,
		      char **err)
{
	struct agent_services *S = a->services;
	struct sluice_backend v = {};
	struct svc_backend *b;
	uint32_t new_id;
	size_t i;
	int fd;

	for (i = 0; i < S->nbes; i++) {
		b = &S->bes[i];
		if (b->ip == ip && b->port == port && b->protocol == proto) {
			b->refs++;
			*id = b->id;
			return 0;
		}
	}
	if (S->nbes >= S->max_backends)
		return sl_fail(err, ENOSPC, "backend map full (%u backends, --backend-max-entries)",
			       S->max_backends);
	new_id = S->next_be_id;
	for (i = 0; i < S->nprev; i++) {
		b = &S->prev[i];
		if (b->ip == ip && b->port == port && b->protocol == proto) {
			if (!be_find(S, b->id))
				new_id = b->id;
			break;
		}
	}
	sl_addr_from_ipv4(v.addr, ip);
	v.port = port;
	v.protocol = proto;
	fd = map_fd(a, SLUICE_MAP_BACKENDS);
	if (fd >= 0 && bpf_map_update_elem(fd, &new_id, &v, BPF_ANY) < 0) {
		int e = errno;

		return sl_fail(err, e, "writing backend to %s: %s%s", SLUICE_MAP_BACKENDS, strerror(e),
			       e == E2BIG ? " (map full: --backend-max-entries)" : "");
	}
	S->bes = realloc(S->bes, (S->nbes + 1) * sizeof(*S->bes));
	if (!S->bes)
		abort();
	b = &S->bes[S->nbes++];
	*b = (struct svc_backend){ .ip = ip, .port = port, .protocol = proto, .id = new_id,
				   .refs = 1 };
	*id = new_id;
	if (new_id == S->next_be_id)
		S->next_be_id++;
	return 0;
}

/* Before a restore: the backends an earlier agent left (be_acquire reuses
 * their ids), and new ids above all of them. */
static void be_prev_load(struct agent *a)
{
	struct agent_services *S = a->services;
	int fd = map_fd(a, SLUICE_MAP_BACKENDS);
	uint32_t id, next;
	struct sluice_backend v;
	bool first = true;

	while (fd >= 0 && bpf_map_get_next_key(fd, first ? NULL : &id, &next) == 0) {
		first = false;
		id = next;
		if (bpf_map_lookup_elem(fd, &id, &v) < 0)
			continue;
		S->prev = realloc(S->prev, (S->nprev + 1) * sizeof(*S->prev));
		if (!S->prev)
			abort();
		S->prev[S->nprev++] = (struct svc_backend){ .ip = sl_addr_ipv4(v.addr), .port = v.port,
							     .protocol = v.protocol, .id = id };
		if (id >= S->next_be_id)
			S->next_be_id = id + 1;
	}
}

static void be_release(struct agent *a, uint32_t id)
{
	struct agent_services *S = a->services;
	struct svc_backend *b = be_find(S, id);
	int fd;

	if (!b || --b->refs)
		return;
	fd = map_fd(a, SLUICE_MAP_BACKENDS);
	if (fd >= 0)
		bpf_map_delete_elem(fd, &id);
	*b = S->bes[--S->nbes];
}

/* ---- connected UDP sockets of a backend that went -------------------------- */

/*
 * connect() on a UDP socket translates once: the socket then sends to that
 * backend for good, and a backend that leaves the service (its pod deleted,
 * relabelled, not ready) would leave it sending into nothing (upstream
 * conntrack.go "should be able to preserve UDP traffic when server pod
 * cycles for a ClusterIP service": kube-proxy flushes the conntrack entries
 * of a removed UDP endpoint, Cilium's socket LB destroys such sockets). The
 * agent destroys them, as revalidate.c does for a revoked TCP flow: the
 * application's next call fails (ECONNABORTED) and its next connect() picks
 * a live backend. Connected sockets only: an unconnected one picks per
 * datagram already. Where to look: the pods whose endpoint reached that
 * backend through this frontend (sluice_sflw_v1, written at translation);
 * which sockets: those translated to it from this frontend (their
 * sluice_srev_v1 entry), never one a pod connected to the backend's own
 * address.
 */
struct udp_cut_ctx {
	int rev_fd;
	uint32_t svc_id;
};

static bool udp_cut_translated(void *ctx, uint64_t cookie, const struct revalidate_udp_peer *peer)
{
	const struct udp_cut_ctx *c = ctx;
	struct sluice_svc_revnat_key rk = { .cookie = cookie, .port = peer->port };
	struct sluice_svc_revnat rv;

	sl_addr_from_ipv4(rk.addr, peer->ip);
	return bpf_map_lookup_elem(c->rev_fd, &rk, &rv) == 0 && rv.svc_id == c->svc_id;
}

static void udp_cut_gone(struct agent *a, const struct svc_port *p, const struct svc_backend *gone,
			 size_t ngone)
{
	struct sluice_svc_flow_key k, next;
	int fd = map_fd(a, SLUICE_MAP_SVC_FLOWS);
	uint32_t *eps = NULL, id;
	size_t neps = 0, i, j, g, cut = 0;
	bool first = true;
	struct udp_cut_ctx cc = { .rev_fd = map_fd(a, SLUICE_MAP_SVC_REVNAT), .svc_id = p->svc_id };
	struct revalidate_udp_peer *peers;

	if (fd < 0 || cc.rev_fd < 0 || !ngone)
		return;
	while (bpf_map_get_next_key(fd, first ? NULL : &k, &next) == 0) {
		first = false;
		k = next;
		if (k.protocol != IPPROTO_UDP || bpf_map_lookup_elem(fd, &k, &id) || id != p->svc_id)
			continue;
		for (g = 0; g < ngone; g++)
			if (sl_addr_ipv4(k.addr) == gone[g].ip && k.port == gone[g].port)
				break;
		for (j = 0; g < ngone && j < neps && eps[j] != k.ep_id; j++)
			;
		if (g == ngone || j < neps)
			continue;
		eps = realloc(eps, (neps + 1) * sizeof(*eps));
		if (!eps)
			abort();
		eps[neps++] = k.ep_id;
	}
	peers = sl_xcalloc(ngone, sizeof(*peers));
	for (g = 0; g < ngone; g++)
		peers[g] = (struct revalidate_udp_peer){ .ip = gone[g].ip, .port = gone[g].port };
	/* one dump of each such pod's sockets, for every backend that went */
	for (i = 0; i < a->reg.npods; i++) {
		const struct agent_pod *pod = a->reg.pods[i];

		for (j = 0; j < neps && eps[j] != pod->ep_id; j++)
			;
		if (j < neps && pod->net.netns[0])
			cut += revalidate_cut_udp_peers(pod->net.netns, peers, ngone, udp_cut_translated, &cc);
	}
	free(peers);
	if (cut)
		fprintf(stderr, "sluiced: %zu connected UDP socket(s) of a removed backend destroyed "
			"(port %u/UDP)\n", cut, p->port);
	a->services->udp_sockets_cut += cut;
	free(eps);
}

/* ---- the datapath of one port ------------------------------------------- */

/* The UDP backends port p had and ids no longer has: their sockets go. */
static void port_cut_removed(struct agent *a, const struct svc_port *p, const uint32_t *ids,
			     size_t n)
{
	struct svc_backend *gone = NULL;
	size_t ngone = 0, i, j;

	for (i = 0; i < p->nwritten; i++) {
		const struct svc_backend *b = be_find(a->services, p->written[i]);

		for (j = 0; j < n && ids[j] != p->written[i]; j++)
			;
		if (j < n || !b)
			continue;
		gone = realloc(gone, (ngone + 1) * sizeof(*gone));
		if (!gone)
			abort();
		gone[ngone++] = *b;
	}
	udp_cut_gone(a, p, gone, ngone);
	free(gone);
}

/* The ids of a that are not in b, into *out (sorted copies: a port may have
 * tens of thousands of backends). */
static size_t ids_minus(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, uint32_t **out)
{
	uint32_t *sa = na ? sl_xcalloc(na, sizeof(*sa)) : NULL;
	uint32_t *sb = nb ? sl_xcalloc(nb, sizeof(*sb)) : NULL;
	size_t i, j = 0, n = 0;

	if (na)
		memcpy(sa, a, na * sizeof(*a));
	if (nb)
		memcpy(sb, b, nb * sizeof(*b));
	if (na > 1) /* (qsort of a NULL array is undefined even for 0 items) */
		qsort(sa, na, sizeof(*sa), sl_u32_cmp);
	if (nb > 1)
		qsort(sb, nb, sizeof(*sb), sl_u32_cmp);
	for (i = 0; i < na; i++) {
		while (j < nb && sb[j] < sa[i])
			j++;
		if (j == nb || sb[j] != sa[i])
			sa[n++] = sa[i];
	}
	free(sb);
	*out = sa;
	return n;
}

/* Affinity match entries {svc_id, id} of ids (svc_aff_match). */
static int aff_match_write(int fd, uint32_t svc_id, const uint32_t *ids, size_t n)
{
	struct sluice_svc_aff_match_key mk = { .svc_id = svc_id };
	uint8_t one = 1;
	size_t i;

	for (i = 0; fd >= 0 && i < n; i++) {
		mk.backend_id = ids[i];
		if (bpf_map_update_elem(fd, &mk, &one, BPF_ANY) < 0)
			return -errno;
	}
	return 0;
}

static void aff_match_delete(int fd, uint32_t svc_id, const uint32_t *ids, size_t n)
{
	struct sluice_svc_aff_match_key mk = { .svc_id = svc_id };
	size_t i;

	for (i = 0; fd >= 0 && i < n; i++) {
		mk.backend_id = ids[i];
		bpf_map_delete_elem(fd, &mk);
	}
}

/*
 * One frontend's keys: the backend slots 1..n (those already holding the
 * same backend skipped when the frontend had them: had), then slot 0 with
 * the count that makes them reachable, then the slots past n go.
 */
static int front_write(int fd, uint32_t ip, uint16_t port, const struct svc_port *p, bool had,
		       const uint32_t *ids, size_t n, const struct sluice_svc_entry *slot0)
{
	struct sluice_svc_entry e;
	struct sluice_svc_key k;
	size_t i;

	for (i = 0; i < n; i++) {
		if (had && i < p->nwritten && p->written[i] == ids[i])
			continue;
		svc_key(&k, ip, port, p->protocol, (uint16_t)(i + 1));
		memset(&e, 0, sizeof(e));
		e.svc_id = p->svc_id;
		e.backend_id = ids[i];
		if (bpf_map_update_elem(fd, &k, &e, BPF_ANY) < 0)
			return -errno;
	}
	svc_key(&k, ip, port, p->protocol, 0);
	if (bpf_map_update_elem(fd, &k, slot0, BPF_ANY) < 0)
		return -errno;
	for (i = n; had && i < p->nwritten; i++) {
		svc_key(&k, ip, port, p->protocol, (uint16_t)(i + 1));
		bpf_map_delete_elem(fd, &k);
	}
	return 0;
}

/* One frontend's keys out, slot 0 first: from then on nobody picks a slot. */
static void front_unwrite(int fd, uint32_t ip, uint16_t port, const struct svc_port *p)
{
	struct sluice_svc_key k;
	size_t i;

	for (i = 0; fd >= 0 && i <= p->nwritten; i++) {
		svc_key(&k, ip, port, p->protocol, (uint16_t)i);
		bpf_map_delete_elem(fd, &k);
	}
}

/*
 * With ClientIP affinity a client keeps following its backend only while
 * the backend has a match entry: the entries of new backends go in before
 * the slots that make them reachable, those of backends that left go after
 * slot 0 stopped counting them (and all of them when affinity is turned
 * off). Affinity entries themselves are never rewritten here: one whose
 * backend left is simply not followed (the client picks anew).
 */
static int port_write(struct agent *a, struct agent_service *s, struct svc_port *p,
		      const uint32_t *ids, size_t n, char **err)
{
	struct agent_services *S = a->services;
	struct sluice_svc_entry e = {};
	/* the ClusterIP's keys, and the node port's as many */
	uint64_t need = (1 + n) * (p->node_port ? 2 : 1);
	uint64_t have = p->in_map ? (1 + p->nwritten) * (p->np_written ? 2 : 1) : 0;
	int fd = map_fd(a, SLUICE_MAP_SERVICES), mfd = map_fd(a, SLUICE_MAP_SVC_AFF_MATCH);
	uint32_t aff = s->affinity_timeout, *delta = NULL;
	size_t i, nd;

	if (n > 65535)
		return sl_fail(err, E2BIG, "service %s/%s: %zu backends (65535 at most)", s->ns,
			       s->name, n);
	if (S->entries - have + need > S->max_entries)
		return sl_fail(err, ENOSPC,
			       "service map full: %s/%s port %u needs %llu entries, %llu of %u in use "
			       "(--service-max-entries)", s->ns, s->name, p->port,
			       (unsigned long long)need, (unsigned long long)S->entries, S->max_entries);
	if (fd >= 0) {
		if (aff) {
			nd = p->aff_written && p->in_map
				     ? ids_minus(ids, n, p->written, p->nwritten, &delta)
				     : ids_minus(ids, n, NULL, 0, &delta);
			int r = aff_match_write(mfd, p->svc_id, delta, nd);

			free(delta);
			delta = NULL;
			if (r) {
				errno = -r;
				goto fail;
			}
		}
		memset(&e, 0, sizeof(e));
		e.svc_id = p->svc_id;
		e.count = (uint16_t)n;
		if (aff) {
			e.flags = SLUICE_SVC_F_AFFINITY;
			e.affinity_timeout = aff;
		}
		if (front_write(fd, s->ip, p->port, p, p->in_map, ids, n, &e) ||
		    (p->node_port && front_write(fd, 0, p->node_port, p,
						 p->in_map && p->np_written == p->node_port, ids, n, &e)))
			goto fail;
		if (p->in_map && p->np_written && p->np_written != p->node_port)
			front_unwrite(fd, 0, p->np_written, p);
		if (p->aff_written && p->in_map) {
			nd = aff ? ids_minus(p->written, p->nwritten, ids, n, &delta)
				 : ids_minus(p->written, p->nwritten, NULL, 0, &delta);
			aff_match_delete(mfd, p->svc_id, delta, nd);
			free(delta);
		}
	}
	p->aff_written = aff;
	p->np_written = p->node_port;
	S->entries = S->entries - have + need;
	if (p->protocol == IPPROTO_UDP)
		port_cut_removed(a, p, ids, n);
	for (i = 0; i < p->nwritten; i++)
		be_release(a, p->written[i]);
	free(p->written);
	p->written = n ? sl_xcalloc(n, sizeof(*ids)) : NULL;
	if (n)
		memcpy(p->written, ids, n * sizeof(*ids));
	p->nwritten = n;
	p->in_map = true;
	return 0;
fail: {
	int e2 = errno;

	/* slots past the old count are unreachable: leaving them is harmless,
	 * the next write overwrites them */
	return sl_fail(err, e2, "writing service %s/%s port %u to %s: %s%s", s->ns, s->name, p->port,
		       SLUICE_MAP_SERVICES, strerror(e2),
		       e2 == E2BIG ? " (map full: --service-max-entries)" : "");
}
}

static void port_unwrite(struct agent *a, struct agent_service *s, struct svc_port *p)
{
	struct agent_services *S = a->services;
	int fd = map_fd(a, SLUICE_MAP_SERVICES);
	size_t i;

	if (!p->in_map)
		return;
	front_unwrite(fd, s->ip, p->port, p);
	if (p->np_written)
		front_unwrite(fd, 0, p->np_written, p);
	if (p->aff_written)
		aff_match_delete(map_fd(a, SLUICE_MAP_SVC_AFF_MATCH), p->svc_id, p->written,
				 p->nwritten);
	p->aff_written = 0;
	S->entries -= (1 + p->nwritten) * (p->np_written ? 2 : 1);
	p->np_written = 0;
	for (i = 0; i < p->nwritten; i++)
		be_release(a, p->written[i]);
	free(p->written);
	p->written = NULL;
	p->nwritten = 0;
	p->in_map = false;
}

/* ---- which backends a port has ------------------------------------------ */

static bool selector_matches(const struct sluice_labels *sel, const struct sluice_labels *labels)
{
	size_t i;

	for (i = 0; i < sel->n; i++) {
		const struct sluice_label *l = sluice_labels_find(labels, "k8s", sel->v[i].key);

		if (!l || strcmp(l->value, sel->v[i].value))
			return false;
	}
	return sel->n > 0;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/* The (ip << 16 | port) of every backend of port p, sorted, no duplicates. */
static size_t port_targets(const struct agent *a, const struct agent_service *s,
			   const struct svc_port *p, uint64_t **out)
{
	size_t cap = 0, n = 0, i, j, k;
	uint64_t *v = NULL;

#define ADD_(ip_, port_)                                                          \
	do {                                                                      \
		if (n == cap) {                                                   \
			cap = cap ? cap * 2 : 8;                                  \
			v = realloc(v, cap * sizeof(*v));                         \
			if (!v)                                                   \
				abort();                                          \
		}                                                                 \
		v[n++] = (uint64_t)(ip_) << 16 | (port_);                         \
	} while (0)

	if (s->explicit_eps) {
		for (i = 0; i < s->neps; i++)
			if (s->eps[i].protocol == p->protocol && !strcmp(s->eps[i].port_name, p->name))
				ADD_(s->eps[i].ip, s->eps[i].port);
	} else if (s->has_selector) {
		for (k = 0; k < 2; k++) {
			struct agent_pod *const *pods = k ? a->reg.remotes : a->reg.pods;
			size_t np = k ? a->reg.nremotes : a->reg.npods;

			for (i = 0; i < np; i++) {
				const struct agent_pod *pod = pods[i];
				uint16_t port = p->target_port;

				if (!pod->net.ip || strcmp(pod->ns, s->ns) ||
				    !selector_matches(&s->selector, &pod->labels))
					continue;
				if (p->target_name) {
					port = 0;
					for (j = 0; j < pod->nports; j++)
						if (pod->ports[j].protocol == p->protocol &&
						    !strcmp(pod->ports[j].name, p->target_name))
							port = pod->ports[j].port;
					if (!port)
						continue; /* as Kubernetes: no such port, no endpoint */
				}
				ADD_(pod->net.ip, port);
			}
		}
	}
#undef ADD_
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_u64);
	for (i = j = 0; i < n; i++)
		if (!j || v[j - 1] != v[i])
			v[j++] = v[i];
	*out = v;
	return j;
}

/* Brings one port's datapath entries to what its backends are now. */
static int port_sync(struct agent *a, struct agent_service *s, struct svc_port *p, char **err)
{
	uint64_t *t = NULL;
	size_t n = port_targets(a, s, p, &t), i, got = 0;
	uint32_t *ids = n ? sl_xcalloc(n, sizeof(*ids)) : NULL;
	int rc = 0;

	for (i = 0; i < n; i++) {
		rc = be_acquire(a, (uint32_t)(t[i] >> 16), (uint16_t)(t[i] & 0xffff), p->protocol,
				&ids[i], err);
		if (rc)
			goto out;
		got++;
	}
	if (p->in_map && n == p->nwritten && (!n || !memcmp(ids, p->written, n * sizeof(*ids))) &&
	    p->aff_written == s->affinity_timeout && p->np_written == p->node_port)
		goto out; /* unchanged: drop the extra references below */
	rc = port_write(a, s, p, ids, n, err);
	if (!rc)
		got = 0; /* the port holds them now */
out:
	for (i = 0; i < got; i++)
		be_release(a, ids[i]);
	free(ids);
	free(t);
	return rc;
}

/*
 * Deletes the keys of a map that keep() does not explain (what an earlier
 * agent left); returns how many. The keys are collected first: deleting
 * while walking with get_next_key restarts the walk.
 */
static size_t map_gc(int fd, size_t ksize, bool (*keep)(const struct agent_services *S,
							const void *key),
		     const struct agent_services *S)
{
	uint8_t k[64], next[64], *dead = NULL;
	size_t ndead = 0, i;
	bool first = true;

	if (fd < 0 || ksize > sizeof(k))
		return 0;
	while (bpf_map_get_next_key(fd, first ? NULL : k, next) == 0) {
		first = false;
		memcpy(k, next, ksize);
		if (keep(S, k))
			continue;
		dead = realloc(dead, (ndead + 1) * ksize);
		if (!dead)
			abort();
		memcpy(dead + ndead++ * ksize, k, ksize);
	}
	for (i = 0; i < ndead; i++)
		bpf_map_delete_elem(fd, dead + i * ksize);
	free(dead);
	return ndead;
}

/* a frontend slot of a port of ours */
static bool svc_key_ours(const struct agent_services *S, const void *key)
{
	const struct sluice_svc_key *k = key;
	bool wild = !sl_addr_ipv4(k->addr); /* a node port's frontend */
	size_t i, j;

	for (i = 0; i < S->n; i++) {
		const struct agent_service *s = S->v[i];

		if (!wild && sl_addr_ipv4(k->addr) != s->ip)
			continue;
		for (j = 0; j < s->nports; j++)
			if (s->ports[j].in_map &&
			    (wild ? s->ports[j].np_written : s->ports[j].port) == k->port &&
			    s->ports[j].protocol == k->protocol && k->slot <= s->ports[j].nwritten)
				return true;
	}
	return false;
}

static bool backend_ours(const struct agent_services *S, const void *key)
{
	size_t i;

	for (i = 0; i < S->nbes; i++)
		if (S->bes[i].id == *(const uint32_t *)key)
			return true;
	return false;
}

/* an affinity match entry of a port of ours with affinity */
static bool aff_match_ours(const struct agent_services *S, const void *key)
{
	const struct sluice_svc_aff_match_key *k = key;
	const struct svc_port *p;
	size_t i;

	if (k->svc_id >= S->nby_id || !S->by_id[k->svc_id].s)
		return false;
	p = &S->by_id[k->svc_id].s->ports[S->by_id[k->svc_id].pi];
	for (i = 0; p->aff_written && i < p->nwritten; i++)
		if (p->written[i] == k->backend_id)
			return true;
	return false;
}

/* Deletes keys an earlier agent left that no service of ours explains. */
static void services_map_gc(struct agent *a)
{
	const struct agent_services *S = a->services;
	size_t nsvc, nbe, nmatch;

	if (map_fd(a, SLUICE_MAP_SERVICES) < 0 || map_fd(a, SLUICE_MAP_BACKENDS) < 0)
		return;
	nsvc = map_gc(map_fd(a, SLUICE_MAP_SERVICES), sizeof(struct sluice_svc_key), svc_key_ours, S);
	nbe = map_gc(map_fd(a, SLUICE_MAP_BACKENDS), sizeof(uint32_t), backend_ours, S);
	nmatch = map_gc(map_fd(a, SLUICE_MAP_SVC_AFF_MATCH), sizeof(struct sluice_svc_aff_match_key),
			aff_match_ours, S);
	if (nsvc || nbe || nmatch)
		fprintf(stderr, "sluiced: removed %zu service, %zu backend and %zu affinity match "
			"entries left by an earlier agent\n", nsvc, nbe, nmatch);
}

int agent_services_sync(struct agent *a, char **err)
{
	struct agent_services *S = a->services;
	size_t i, j;
	int rc;

	if (!S)
		return 0;
	for (i = 0; i < S->n; i++)
		for (j = 0; j < S->v[i]->nports; j++) {
			rc = port_sync(a, S->v[i], &S->v[i]->ports[j], err);
			if (rc)
				return rc;
		}
	return 0;
}

/* ---- toServices --------------------------------------------------------- */

static bool service_ref_matches(const struct sluice_service_ref *r, const struct agent_service *s)
{
	if (r->namespace && strcmp(r->namespace, s->ns))
		return false;
	if (!r->by_selector)
		return r->name && !strcmp(r->name, s->name);
	return sluice_selector_matches(&r->selector, &s->labels);
}

static void sel_req(struct sluice_selector *sel, const char *key, const char *value)
{
	struct sluice_sel_req *q;

	sel->reqs = realloc(sel->reqs, (sel->nreqs + 1) * sizeof(*sel->reqs));
	if (!sel->reqs)
		abort();
	q = &sel->reqs[sel->nreqs++];
	memset(q, 0, sizeof(*q));
	q->source = sl_xstrdup("k8s");
	q->key = sl_xstrdup(key);
	q->op = SLUICE_SEL_IN;
	q->values = sl_xcalloc(1, sizeof(char *));
	q->values[0] = sl_xstrdup(value);
	q->nvalues = 1;
}

static void peer_drop_resolved(struct sluice_peer_rule *pr)
{
	size_t i, j;

	for (i = pr->nendpoints - pr->nsvc_endpoints; i < pr->nendpoints; i++) {
		struct sluice_selector *s = &pr->endpoints[i];

		for (j = 0; j < s->nreqs; j++) {
			size_t k;

			free(s->reqs[j].source);
			free(s->reqs[j].key);
			for (k = 0; k < s->reqs[j].nvalues; k++)
				free(s->reqs[j].values[k]);
			free(s->reqs[j].values);
		}
		free(s->reqs);
	}
	pr->nendpoints -= pr->nsvc_endpoints;
	pr->ncidrs -= pr->nsvc_cidrs; /* resolved /32s have no excepts */
	pr->nsvc_endpoints = 0;
	pr->nsvc_cidrs = 0;
}

/* What one service stands for as a peer: the pods its selector picks in
 * its namespace, else the addresses of its endpoints. */
static void peer_add_service(struct sluice_peer_rule *pr, const struct agent_service *s)
{
	size_t i;

	if (s->has_selector) {
		struct sluice_selector *sel;

		pr->endpoints = realloc(pr->endpoints, (pr->nendpoints + 1) * sizeof(*pr->endpoints));
		if (!pr->endpoints)
			abort();
		sel = &pr->endpoints[pr->nendpoints++];
		memset(sel, 0, sizeof(*sel));
		for (i = 0; i < s->selector.n; i++)
			sel_req(sel, s->selector.v[i].key, s->selector.v[i].value);
		sel_req(sel, SLUICE_LABEL_NAMESPACE, s->ns);
		pr->nsvc_endpoints++;
		return;
	}
	for (i = 0; i < s->neps; i++) {
		struct sluice_cidr *c;
		size_t j;
		bool dup = false;

		for (j = pr->ncidrs - pr->nsvc_cidrs; j < pr->ncidrs && !dup; j++)
			dup = sl_addr_ipv4(pr->cidrs[j].addr) == s->eps[i].ip;
		if (dup)
			continue;
		pr->cidrs = realloc(pr->cidrs, (pr->ncidrs + 1) * sizeof(*pr->cidrs));
		if (!pr->cidrs)
			abort();
		c = &pr->cidrs[pr->ncidrs++];
		memset(c, 0, sizeof(*c));
		sl_addr_from_ipv4(c->addr, s->eps[i].ip);
		c->prefixlen = 128;
		pr->nsvc_cidrs++;
	}
}

bool agent_services_resolve_policies(struct agent *a)
{
	const struct agent_services *S = a->services;
	bool used = false;
	size_t pi, ri, k, si, sj;

	for (pi = 0; pi < a->policies.n; pi++) {
		struct sluice_policy *p = &a->policies.v[pi];

		for (ri = 0; ri < p->nrules; ri++) {
			struct sluice_rule *r = &p->rules[ri];
			struct sluice_peer_rule *lists[2] = { r->egress, r->egress_deny };
			size_t ns[2] = { r->negress, r->negress_deny };

			for (k = 0; k < 2; k++)
				for (si = 0; si < ns[k]; si++) {
					struct sluice_peer_rule *pr = &lists[k][si];

					if (!pr->nservices)
						continue;
					used = true;
					peer_drop_resolved(pr);
					for (sj = 0; S && sj < S->n; sj++) {
						size_t m;

						for (m = 0; m < pr->nservices; m++)
							if (service_ref_matches(&pr->services[m], S->v[sj])) {
								peer_add_service(pr, S->v[sj]);
								break;
							}
					}
				}
		}
	}
	if (S)
		a->services->policies_use_services = used;
	return used;
}

/* ---- the registry ------------------------------------------------------- */

static struct agent_service **find_slot(const struct agent_services *S, const char *ns,
					const char *name)
{
	size_t i;

	for (i = 0; S && i < S->n; i++)
		if (!strcmp(S->v[i]->ns, ns) && !strcmp(S->v[i]->name, name))
			return &S->v[i];
	return NULL;
}

const struct agent_service *agent_service_find(const struct agent *a, const char *ns,
					       const char *name)
{
	struct agent_service **s = find_slot(a->services, ns, name);

	return s ? *s : NULL;
}

const char *agent_service_ns(const struct agent_service *s) { return s->ns; }
const char *agent_service_name(const struct agent_service *s) { return s->name; }

const struct agent_service *agent_service_by_id(const struct agent *a, uint32_t svc_id,
						uint16_t *port, const char **port_name)
{
	const struct agent_services *S = a->services;

	if (!S || svc_id >= S->nby_id || !S->by_id[svc_id].s)
		return NULL;
	if (port)
		*port = S->by_id[svc_id].s->ports[S->by_id[svc_id].pi].port;
	if (port_name)
		*port_name = S->by_id[svc_id].s->ports[S->by_id[svc_id].pi].name;
	return S->by_id[svc_id].s;
}

bool agent_service_for_flow(const struct agent *a, uint32_t client_ep, const uint8_t backend[16],
			    uint16_t port, uint8_t protocol, const struct agent_service **svc,
			    uint16_t *svc_port)
{
	struct sluice_svc_flow_key k = {};
	uint32_t id = 0;
	int fd;

	if (!a->services || !a->services->n || !client_ep || !a->dp)
		return false;
	fd = sluice_dp_map_fd(a->dp, SLUICE_MAP_SVC_FLOWS);
	if (fd < 0)
		return false;
	memcpy(k.addr, backend, 16);
	k.ep_id = client_ep;
	k.port = port;
	k.protocol = protocol;
	if (bpf_map_lookup_elem(fd, &k, &id) < 0)
		return false;
	*svc = agent_service_by_id(a, id, svc_port, NULL);
	return *svc != NULL;
}

static void by_id_set(struct agent_services *S, uint32_t id, struct agent_service *s, size_t pi)
{
	if (id >= S->nby_id) {
		size_t n = S->nby_id ? S->nby_id : 64;

		while (n <= id)
			n *= 2;
		S->by_id = realloc(S->by_id, n * sizeof(*S->by_id));
		if (!S->by_id)
			abort();
		memset(&S->by_id[S->nby_id], 0, (n - S->nby_id) * sizeof(*S->by_id));
		S->nby_id = n;
	}
	S->by_id[id].s = s;
	S->by_id[id].pi = pi;
}

static int ip_take(struct agent_services *S, uint32_t want, uint32_t *out, bool *in_range,
		   const char *ns, const char *name, char **err)
{
	char shown[32];
	uint32_t off, i;

	if (want) {
		*out = want;
		*in_range = want - S->net < S->size;
		if (!*in_range)
			return 0; /* an address the cluster gave (Kubernetes mode) */
		off = want - S->net;
		if (bit_get(S->used, off)) {
			ip_str(want, shown, sizeof(shown));
			return sl_fail(err, EEXIST, "service %s/%s: ClusterIP %s is %s", ns, name, shown,
				       off == 0 || off == S->size - 1 ? "not usable" : "already allocated");
		}
		bit_set(S->used, off, true);
		return 0;
	}
	for (i = 0; i < S->size; i++) {
		off = (S->cursor + i) % S->size;
		if (!bit_get(S->used, off)) {
			bit_set(S->used, off, true);
			S->cursor = off + 1;
			*out = S->net + off;
			*in_range = true;
			return 0;
		}
	}
	return sl_fail(err, ENOSPC, "service %s/%s: no ClusterIP left in --service-cidr %s (%u "
		       "addresses, all allocated)", ns, name, S->cidr, S->size - 2);
}

static void ip_give_back(struct agent_services *S, const struct agent_service *s)
{
	if (s->ip_in_range)
		bit_set(S->used, s->ip - S->net, false);
}

/* Checks a spec the way the Kubernetes API server checks a Service. */
static int spec_check(const struct agent_svc_spec *sp, char **err)
{
	size_t i, j;
	int rc;

	if (!sp->ns || !sp->name)
		return sl_fail(err, EINVAL, "service needs NAMESPACE/NAME");
	rc = sl_check_namespace(sp->ns, err);
	if (!rc)
		rc = sl_check_service_name(sp->name, err);
	if (rc)
		return rc;
	if (!sp->nports)
		return sl_fail(err, EINVAL, "service %s/%s: spec.ports: at least one port is required",
			       sp->ns, sp->name);
	if (sp->affinity_timeout > AGENT_SVC_AFFINITY_MAX_S)
		return sl_fail(err, EINVAL, "service %s/%s: "
			       "spec.sessionAffinityConfig.clientIP.timeoutSeconds: %u: must be greater "
			       "than 0 and at most %u", sp->ns, sp->name, sp->affinity_timeout,
			       AGENT_SVC_AFFINITY_MAX_S);
	for (i = 0; i < sp->nports; i++) {
		const struct agent_svc_port_spec *p = &sp->ports[i];
		const char *pn = p->name ? p->name : "";

		if (!p->port)
			return sl_fail(err, EINVAL, "service %s/%s: spec.ports[%zu].port: must be between 1 "
				       "and 65535", sp->ns, sp->name, i);
		if (p->protocol != IPPROTO_TCP && p->protocol != IPPROTO_UDP)
			return sl_fail(err, EINVAL, "service %s/%s: spec.ports[%zu].protocol: TCP or UDP "
				       "(SCTP is not translated)", sp->ns, sp->name, i);
		rc = sl_check_port_name("port name", pn, err);
		if (!rc && p->target_name)
			rc = sl_check_target_port_name(p->target_name, err);
		if (rc) {
			char *m = *err;

			*err = sl_strdupf("service %s/%s: spec.ports[%zu]: %s", sp->ns, sp->name, i, m);
			free(m);
			return rc;
		}
		if (!p->target_name && !p->target_port)
			return sl_fail(err, EINVAL, "service %s/%s: spec.ports[%zu].targetPort: must be "
				       "between 1 and 65535", sp->ns, sp->name, i);
		if (sp->nports > 1 && !*pn)
			return sl_fail(err, EINVAL, "service %s/%s: spec.ports[%zu].name: required when "
				       "there is more than one port", sp->ns, sp->name, i);
		for (j = 0; j < i; j++) {
			const struct agent_svc_port_spec *q = &sp->ports[j];

			if (*pn && q->name && !strcmp(pn, q->name))
				return sl_fail(err, EEXIST, "service %s/%s: spec.ports[%zu].name: duplicate "
					       "port name \"%s\"", sp->ns, sp->name, i, pn);
			if (q->port == p->port && q->protocol == p->protocol)
				return sl_fail(err, EEXIST, "service %s/%s: spec.ports[%zu]: duplicate port "
					       "%u/%s", sp->ns, sp->name, i, p->port,
					       proto_name(p->protocol));
			if (p->node_port && q->node_port == p->node_port && q->protocol == p->protocol)
				return sl_fail(err, EEXIST, "service %s/%s: spec.ports[%zu].nodePort: "
					       "duplicate node port %u/%s", sp->ns, sp->name, i,
					       p->node_port, proto_name(p->protocol));
		}
	}
	return 0;
}

static struct agent_service *service_from_spec(struct agent_services *S,
					       const struct agent_svc_spec *sp)
{
	struct agent_service *s = sl_xcalloc(1, sizeof(*s));
	size_t i;

	s->ns = sl_xstrdup(sp->ns);
	s->name = sl_xstrdup(sp->name);
	if (sp->note)
		s->note = sl_xstrdup(sp->note);
	if (sp->labels)
		sluice_labels_copy(&s->labels, sp->labels);
	if (sp->selector && sp->selector->n) {
		sluice_labels_copy(&s->selector, sp->selector);
		s->has_selector = true;
	}
	s->ports = sl_xcalloc(sp->nports, sizeof(*s->ports));
	s->nports = sp->nports;
	for (i = 0; i < sp->nports; i++) {
		struct svc_port *p = &s->ports[i];

		p->name = sl_xstrdup(sp->ports[i].name ? sp->ports[i].name : "");
		p->port = sp->ports[i].port;
		p->protocol = sp->ports[i].protocol;
		p->target_port = sp->ports[i].target_name ? 0 : sp->ports[i].target_port;
		p->target_name = sp->ports[i].target_name ? sl_xstrdup(sp->ports[i].target_name) : NULL;
		p->node_port = sp->ports[i].node_port;
		p->svc_id = sp->ports[i].id ? sp->ports[i].id : S->next_svc_id++;
		if (p->svc_id >= S->next_svc_id)
			S->next_svc_id = p->svc_id + 1;
	}
	s->created_ns = sl_now_ns();
	s->affinity_timeout = sp->affinity_timeout;
	s->type = sl_xstrdup(sp->type ? sp->type : "ClusterIP");
	return s;
}

/* Takes the datapath entries of every port of s away (delete, replace). */
static void service_unwrite(struct agent *a, struct agent_service *s)
{
	size_t i;

	for (i = 0; i < s->nports; i++) {
		port_unwrite(a, s, &s->ports[i]);
		if (s->ports[i].svc_id < a->services->nby_id)
			a->services->by_id[s->ports[i].svc_id].s = NULL;
	}
}

/* Moves the datapath state of port from to port to (same frontend keys). */
static void port_take(struct svc_port *to, struct svc_port *from)
{
	to->svc_id = from->svc_id;
	to->written = from->written;
	to->nwritten = from->nwritten;
	to->in_map = from->in_map;
	to->aff_written = from->aff_written;
	to->np_written = from->np_written;
	from->written = NULL;
	from->nwritten = 0;
	from->in_map = false;
	from->aff_written = 0;
	from->np_written = 0;
}

/* The port of old with the same frontend as p (an update keeps it), or -1. */
static ssize_t port_match(const struct agent_service *old, const struct agent_service *s,
			  const struct svc_port *p)
{
	size_t i;

	for (i = 0; old && old->ip == s->ip && i < old->nports; i++)
		if (old->ports[i].port == p->port && old->ports[i].protocol == p->protocol)
			return (ssize_t)i;
	return -1;
}

/* Another service's node port: the API server's allocator holds a number
 * for every protocol (only one service may use the same one for TCP and
 * UDP). */
static bool node_port_held(const struct agent_services *S, const struct agent_svc_spec *sp,
			   uint16_t np, const struct agent_service **by)
{
	size_t j, k;

	for (j = 0; j < S->n; j++) {
		const struct agent_service *o = S->v[j];

		if (!strcmp(o->ns, sp->ns) && !strcmp(o->name, sp->name))
			continue;
		for (k = 0; k < o->nports; k++)
			if (o->ports[k].node_port == np) {
				*by = o;
				return true;
			}
	}
	return false;
}

/*
 * The node ports of a spec, as the API server's allocator gives them: a
 * port of a NodePort or LoadBalancer service without one keeps the one the
 * service had for that port, or gets the lowest free one of the range; one
 * given must be free (another service's is refused, as a duplicate within
 * the spec is by spec_check()). *out is a copy of sp with them when one was
 * given out (its ports array the caller's to free), else left empty.
 */
static int node_ports_take(const struct agent_services *S, const struct agent_svc_spec *sp,
			   const struct agent_service *old, struct agent_svc_spec *out, char **err)
{
	bool want = sp->type && (!strcmp(sp->type, "NodePort") || !strcmp(sp->type, "LoadBalancer"));
	struct agent_svc_port_spec *ports = NULL;
	const struct agent_service *by;
	size_t i, k;

	if (sp->type && !want && strcmp(sp->type, "ClusterIP"))
		return sl_fail(err, EINVAL, "service %s/%s: spec.type: Unsupported value: \"%s\": "
			       "supported values: \"ClusterIP\", \"NodePort\", \"LoadBalancer\"",
			       sp->ns, sp->name, sp->type);
	for (i = 0; i < sp->nports; i++) {
		const struct agent_svc_port_spec *p = &sp->ports[i];
		uint16_t np = p->node_port;

		if (np && !want) {
			free(ports);
			return sl_fail(err, EINVAL, "service %s/%s: spec.ports[%zu].nodePort: Forbidden: "
				       "may not be used when `type` is 'ClusterIP'", sp->ns, sp->name, i);
		}
		if (np && !sp->node_ports_fixed &&
		    (np < AGENT_SVC_NODE_PORT_MIN || np > AGENT_SVC_NODE_PORT_MAX)) {
			free(ports);
			return sl_fail(err, EINVAL, "service %s/%s: spec.ports[%zu].nodePort: Invalid "
				       "value: %u: provided port is not in the valid range. The range of "
				       "valid ports is %u-%u", sp->ns, sp->name, i, np,
				       AGENT_SVC_NODE_PORT_MIN, AGENT_SVC_NODE_PORT_MAX);
		}
		if (np && node_port_held(S, sp, np, &by)) {
			free(ports);
			return sl_fail(err, EEXIST, "service %s/%s: spec.ports[%zu].nodePort: Invalid "
				       "value: %u: provided port is already allocated (service %s/%s)",
				       sp->ns, sp->name, i, np, by->ns, by->name);
		}
		if (np || !want || sp->node_ports_fixed)
			continue;
		for (k = 0; old && k < old->nports && !np; k++)
			if (old->ports[k].port == p->port && old->ports[k].protocol == p->protocol)
				np = old->ports[k].node_port;
		for (uint32_t c = AGENT_SVC_NODE_PORT_MIN; !np && c <= AGENT_SVC_NODE_PORT_MAX; c++) {
			bool taken = node_port_held(S, sp, (uint16_t)c, &by);

			for (k = 0; k < sp->nports && !taken; k++)
				taken = sp->ports[k].node_port == c || (ports && ports[k].node_port == c);
			if (!taken)
				np = (uint16_t)c;
		}
		if (!np) {
			free(ports);
			return sl_fail(err, ENOSPC, "service %s/%s: spec.ports[%zu].nodePort: no free "
				       "node port in %u-%u", sp->ns, sp->name, i,
				       AGENT_SVC_NODE_PORT_MIN, AGENT_SVC_NODE_PORT_MAX);
		}
		if (!ports) {
			ports = sl_xcalloc(sp->nports, sizeof(*ports));
			memcpy(ports, sp->ports, sp->nports * sizeof(*ports));
		}
		ports[i].node_port = np;
	}
	if (ports) {
		*out = *sp;
		out->ports = ports;
	}
	return 0;
}

int agent_service_upsert(struct agent *a, const struct agent_svc_spec *sp, char **err)
{
	struct agent_services *S = a->services;
	struct agent_svc_spec np_spec = { 0 };
	struct agent_service **slot, *old = NULL, *s;
	char *old_note = NULL;
	uint32_t ip = 0;
	bool in_range = false;
	size_t i;
	ssize_t m;
	int rc;

	if (!S)
		return sl_fail(err, ENOTSUP, "services are not enabled");
	rc = spec_check(sp, err);
	if (rc)
		return rc;
	slot = find_slot(S, sp->ns, sp->name);
	old = slot ? *slot : NULL;
	rc = node_ports_take(S, sp, old, &np_spec, err);
	if (rc)
		return rc;
	if (np_spec.ports)
		sp = &np_spec;
	if (old && (!sp->cluster_ip || sp->cluster_ip == old->ip)) {
		ip = old->ip; /* keeps its address (ClusterIP is immutable) */
		in_range = old->ip_in_range;
	} else {
		rc = ip_take(S, sp->cluster_ip, &ip, &in_range, sp->ns, sp->name, err);
		if (rc) {
			free((void *)np_spec.ports);
			return rc;
		}
	}
	s = service_from_spec(S, sp);
	s->ip = ip;
	s->ip_in_range = in_range;
	if (old) {
		/* an update keeps its explicit endpoints, its creation time and,
		 * for the frontends it keeps, their ids and datapath entries */
		s->explicit_eps = old->explicit_eps;
		s->eps = old->eps;
		s->neps = old->neps;
		old->eps = NULL;
		old->neps = 0;
		s->created_ns = old->created_ns;
		for (i = 0; i < s->nports; i++)
			if ((m = port_match(old, s, &s->ports[i])) >= 0)
				port_take(&s->ports[i], &old->ports[m]);
	}
	for (i = 0; i < s->nports; i++) {
		rc = port_sync(a, s, &s->ports[i], err);
		if (rc)
			goto undo;
	}
	if (old) {
		old_note = old->note;
		old->note = NULL;
		service_unwrite(a, old); /* the frontends the update dropped */
		if (old->ip != s->ip)
			ip_give_back(S, old);
		service_free(old);
		*slot = s;
	} else {
		S->v = realloc(S->v, (S->n + 1) * sizeof(*S->v));
		if (!S->v)
			abort();
		S->v[S->n++] = s;
	}
	for (i = 0; i < s->nports; i++)
		by_id_set(S, s->ports[i].svc_id, s, i);
	/* once per change, not per resync (the Kubernetes source applies every
	 * Service again on each commit) */
	if (s->note && (!old_note || strcmp(old_note, s->note)))
		fprintf(stderr, "sluiced: service %s/%s: %s\n", s->ns, s->name, s->note);
	free(old_note);
	agent_services_save_later(a);
	free((void *)np_spec.ports);
	return 0;
undo:
	free(old_note);
	for (i = 0; i < s->nports; i++) {
		if (old && (m = port_match(old, s, &s->ports[i])) >= 0) {
			char *e2 = NULL;

			port_take(&old->ports[m], &s->ports[i]);
			if (port_sync(a, old, &old->ports[m], &e2)) {
				fprintf(stderr, "sluiced: rollback of service %s/%s failed: %s\n", old->ns,
					old->name, e2 ? e2 : "?");
				a->counters.rollbacks_failed++;
			}
			free(e2);
		} else {
			port_unwrite(a, s, &s->ports[i]);
		}
	}
	if (old) {
		old->eps = s->eps;
		old->neps = s->neps;
		s->eps = NULL;
		s->neps = 0;
	}
	if (!old || old->ip != s->ip)
		ip_give_back(S, s);
	service_free(s);
	free((void *)np_spec.ports);
	return rc;
}

int agent_service_delete(struct agent *a, const char *ns, const char *name, char **err)
{
	struct agent_services *S = a->services;
	struct agent_service **slot = find_slot(S, ns ? ns : "", name ? name : "");
	struct agent_service *s;

	if (!slot)
		return sl_fail(err, ENOENT, "service %s/%s not found", ns ? ns : "", name ? name : "");
	s = *slot;
	service_unwrite(a, s);
	ip_give_back(S, s);
	*slot = S->v[--S->n];
	service_free(s);
	agent_services_save_later(a);
	return 0;
}

int agent_service_set_endpoints(struct agent *a, const char *ns, const char *name,
				const struct agent_svc_endpoint *eps, size_t n, char **err)
{
	struct agent_service **slot = find_slot(a->services, ns, name);
	struct agent_service *s;
	struct svc_ep *old_eps, *nv;
	size_t old_n, i;
	bool old_explicit;
	int rc = 0;

	if (!slot)
		return sl_fail(err, ENOENT, "service %s/%s not found", ns, name);
	s = *slot;
	nv = n ? sl_xcalloc(n, sizeof(*nv)) : NULL;
	for (i = 0; i < n; i++) {
		nv[i].ip = eps[i].ip;
		nv[i].port_name = sl_xstrdup(eps[i].port_name ? eps[i].port_name : "");
		nv[i].port = eps[i].port;
		nv[i].protocol = eps[i].protocol;
	}
	old_eps = s->eps;
	old_n = s->neps;
	old_explicit = s->explicit_eps;
	s->eps = nv;
	s->neps = n;
	s->explicit_eps = true;
	for (i = 0; i < s->nports && !rc; i++)
		rc = port_sync(a, s, &s->ports[i], err);
	if (rc) {
		char *e2 = NULL;

		s->eps = old_eps;
		s->neps = old_n;
		s->explicit_eps = old_explicit;
		for (i = 0; i < s->nports; i++)
			if (port_sync(a, s, &s->ports[i], &e2))
				a->counters.rollbacks_failed++;
		free(e2);
		old_eps = nv;
		old_n = n;
	}
	for (i = 0; i < old_n; i++)
		free(old_eps[i].port_name);
	free(old_eps);
	if (!rc)
		agent_services_save_later(a);
	return rc;
}

/* ---- JSON --------------------------------------------------------------- */

static json_t *labels_obj(const struct sluice_labels *l)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; i < l->n; i++)
		json_object_set_new(o, l->v[i].key, json_string(l->v[i].value));
	return o;
}

json_t *agent_service_json(const struct agent *a, const struct agent_service *s)
{
	json_t *o = json_object(), *ports = json_array(), *bes = json_array();
	char ip[32];
	size_t i, j;

	ip_str(s->ip, ip, sizeof(ip));
	json_object_set_new(o, "namespace", json_string(s->ns));
	json_object_set_new(o, "name", json_string(s->name));
	json_object_set_new(o, "type", json_string(s->type));
	json_object_set_new(o, "cluster_ip", json_string(ip));
	json_object_set_new(o, "labels", labels_obj(&s->labels));
	json_object_set_new(o, "selector", s->has_selector ? labels_obj(&s->selector) : json_null());
	json_object_set_new(o, "endpoints_source",
			    json_string(s->explicit_eps ? "endpointslices" : s->has_selector ? "selector"
											: "none"));
	json_object_set_new(o, "created_unix_ns", json_integer((json_int_t)s->created_ns));
	json_object_set_new(o, "session_affinity",
			    json_string(s->affinity_timeout ? "ClientIP" : "None"));
	if (s->affinity_timeout)
		json_object_set_new(o, "session_affinity_timeout_seconds",
				    json_integer(s->affinity_timeout));
	if (s->note)
		json_object_set_new(o, "not_served", json_string(s->note));
	for (i = 0; i < s->nports; i++) {
		const struct svc_port *p = &s->ports[i];
		json_t *po = json_object();

		json_object_set_new(po, "name", json_string(p->name));
		json_object_set_new(po, "port", json_integer(p->port));
		json_object_set_new(po, "protocol", json_string(proto_name(p->protocol)));
		json_object_set_new(po, "target_port", p->target_name ? json_string(p->target_name)
								     : json_integer(p->target_port));
		json_object_set_new(po, "id", json_integer(p->svc_id));
		if (p->node_port)
			json_object_set_new(po, "node_port", json_integer(p->node_port));
		json_object_set_new(po, "backends", json_integer((json_int_t)p->nwritten));
		json_array_append_new(ports, po);
		for (j = 0; j < p->nwritten; j++) {
			struct svc_backend *b = be_find(a->services, p->written[j]);
			json_t *bo;
			uint8_t addr[16];
			const struct agent_pod *pod;

			if (!b)
				continue;
			ip_str(b->ip, ip, sizeof(ip));
			sl_addr_from_ipv4(addr, b->ip);
			pod = registry_pod_by_addr(&a->reg, addr, true);
			bo = json_pack("{s:s,s:i,s:s,s:s}", "ip", ip, "port", (int)b->port, "protocol",
				       proto_name(b->protocol), "port_name", p->name);
			if (pod)
				json_object_set_new(bo, "pod", json_sprintf("%s/%s", pod->ns, pod->name));
			json_array_append_new(bes, bo);
		}
	}
	json_object_set_new(o, "ports", ports);
	json_object_set_new(o, "backends", bes);
	return o;
}

static int cmp_service(const void *x, const void *y)
{
	const struct agent_service *a = *(struct agent_service *const *)x;
	const struct agent_service *b = *(struct agent_service *const *)y;
	int c = strcmp(a->ns, b->ns);

	return c ? c : strcmp(a->name, b->name);
}

json_t *agent_services_list_json(const struct agent *a)
{
	const struct agent_services *S = a->services;
	json_t *arr = json_array();
	struct agent_service **v;
	size_t i;

	if (!S || !S->n)
		return arr;
	v = sl_xcalloc(S->n, sizeof(*v));
	memcpy(v, S->v, S->n * sizeof(*v));
	qsort(v, S->n, sizeof(*v), cmp_service);
	for (i = 0; i < S->n; i++)
		json_array_append_new(arr, agent_service_json(a, v[i]));
	free(v);
	return arr;
}

void agent_services_counts(const struct agent *a, struct agent_services_counts *out)
{
	const struct agent_services *S = a->services;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!S)
		return;
	out->services = S->n;
	for (i = 0; i < S->n; i++)
		out->frontends += S->v[i]->nports;
	out->backends = S->nbes;
	out->entries = S->entries;
	out->max_entries = S->max_entries;
	out->udp_sockets_cut = S->udp_sockets_cut;
}

/* ---- state -------------------------------------------------------------- */

static json_t *services_save_json(const struct agent *a)
{
	const struct agent_services *S = a->services;
	json_t *arr = json_array();
	size_t i, j;

	for (i = 0; S && i < S->n; i++) {
		const struct agent_service *s = S->v[i];
		json_t *o = agent_service_json(a, s), *eps = json_array();

		json_object_del(o, "backends");
		for (j = 0; j < s->neps; j++)
			json_array_append_new(eps, json_pack("{s:I,s:s,s:i,s:i}", "ip",
							     (json_int_t)s->eps[j].ip, "port_name",
							     s->eps[j].port_name, "port", s->eps[j].port,
							     "protocol", s->eps[j].protocol));
		if (s->explicit_eps)
			json_object_set_new(o, "endpoints", eps);
		else
			json_decref(eps);
		json_array_append_new(arr, o);
	}
	return arr;
}

static char *services_path(const struct agent *a, const char *suffix)
{
	return sl_strdupf("%s/services.json%s", a->cfg.state_dir, suffix);
}

static void services_save_now(struct agent *a)
{
	json_t *root = json_pack("{s:i,s:o}", "version", 1, "services", services_save_json(a));
	char *tmp = services_path(a, ".tmp"), *final = services_path(a, "");

	a->services->save_pending = false;
	mkdir(a->cfg.state_dir, 0700);
	if (json_dump_file(root, tmp, JSON_COMPACT) || rename(tmp, final))
		fprintf(stderr, "sluiced: cannot write %s: %s\n", final, strerror(errno));
	json_decref(root);
	free(tmp);
	free(final);
}

static void services_on_save_timer(uv_timer_t *t)
{
	struct agent *a = t->data;

	if (a && a->services && a->services->save_pending)
		services_save_now(a);
}

void agent_services_save_later(struct agent *a)
{
	struct agent_services *S = a->services;

	if (!S)
		return;
	S->save_pending = true;
	if (!a->loop) {
		services_save_now(a);
		return;
	}
	if (!S->timer_init) {
		uv_timer_init(a->loop, &S->save_timer);
		S->timer_init = true;
	}
	S->save_timer.data = a;
	if (!uv_is_active((uv_handle_t *)&S->save_timer))
		uv_timer_start(&S->save_timer, services_on_save_timer, 200, 0);
}

static int json_to_labels(json_t *o, struct sluice_labels *out, const char *what, char **err)
{
	const char *k;
	json_t *v;
	int rc;

	if (!o || json_is_null(o))
		return 0;
	if (!json_is_object(o))
		return sl_fail(err, EINVAL, "%s: must be an object of label keys and values", what);
	json_object_foreach(o, k, v) {
		if (!json_is_string(v))
			return sl_fail(err, EINVAL, "%s: %s: value must be a string", what, k);
		rc = sl_check_label_key(k, err);
		if (!rc)
			rc = sl_check_label_value(k, json_string_value(v), err);
		if (rc) {
			char *m = *err;

			*err = sl_strdupf("%s: %s", what, m);
			free(m);
			return rc;
		}
		sluice_labels_add(out, "k8s", k, json_string_value(v));
	}
	return 0;
}

static int parse_ip(const char *s, uint32_t *ip)
{
	struct in_addr in;

	if (!s || inet_pton(AF_INET, s, &in) != 1)
		return -EINVAL;
	*ip = ntohl(in.s_addr);
	return 0;
}

static uint8_t parse_proto(const char *s)
{
	return !s || !strcmp(s, "TCP") ? IPPROTO_TCP : !strcmp(s, "UDP") ? IPPROTO_UDP
		: !strcmp(s, "SCTP") ? IPPROTO_SCTP : 0;
}

/* Who hands service_from_json() a service. */
enum svc_json_mode {
	SVC_JSON_CREATE,  /* service.create: must not exist yet */
	SVC_JSON_UPDATE,  /* service.update: must exist; its ClusterIP stays */
	SVC_JSON_RESTORE, /* the state file: the frontend ids of before */
};

/*
 * session_affinity "ClientIP" | "None" (absent: None) and
 * session_affinity_timeout_seconds (ClientIP only; absent: 10800), checked
 * as the API server checks sessionAffinity and sessionAffinityConfig.
 */
static int affinity_from_json(json_t *req, const char *ns, const char *name, uint32_t *out,
			      char **err)
{
	json_t *aff = json_object_get(req, "session_affinity");
	json_t *to = json_object_get(req, "session_affinity_timeout_seconds");
	const char *v = json_string_value(aff);
	bool client_ip;

	*out = 0;
	if (aff && !json_is_null(aff) && (!v || (strcmp(v, "ClientIP") && strcmp(v, "None"))))
		return sl_fail(err, EINVAL, "service %s/%s: spec.sessionAffinity: Unsupported value: "
			       "%s%s%s: supported values: \"ClientIP\", \"None\"", ns, name,
			       v ? "\"" : "", v ? v : "not a string", v ? "\"" : "");
	client_ip = v && !strcmp(v, "ClientIP");
	if (to && !json_is_null(to)) {
		json_int_t t = json_integer_value(to);

		if (!client_ip)
			return sl_fail(err, EINVAL, "service %s/%s: spec.sessionAffinityConfig: "
				       "Forbidden: must not be set when sessionAffinity is None "
				       "(session_affinity_timeout_seconds without ClientIP)", ns, name);
		if (!json_is_integer(to) || t <= 0 || t > (json_int_t)AGENT_SVC_AFFINITY_MAX_S)
			return sl_fail(err, EINVAL, "service %s/%s: "
				       "spec.sessionAffinityConfig.clientIP.timeoutSeconds: %s%lld: "
				       "must be greater than 0 and at most %u", ns, name,
				       json_is_integer(to) ? "" : "not a number ",
				       (long long)t, AGENT_SVC_AFFINITY_MAX_S);
		*out = (uint32_t)t;
	} else if (client_ip) {
		*out = AGENT_SVC_AFFINITY_DEFAULT_S;
	}
	return 0;
}

/*
 * A service from its JSON (the API's request or the state file):
 * {namespace, name, cluster_ip?, labels?, selector?, session_affinity?,
 * session_affinity_timeout_seconds?, ports: [{name, port, protocol,
 * target_port: number | name}]}. Calls upsert.
 */
static int service_from_json(struct agent *a, json_t *req, enum svc_json_mode mode, char **err)
{
	const bool create_only = mode == SVC_JSON_CREATE;
	const struct agent_service *have;
	const char *ns = json_string_value(json_object_get(req, "namespace"));
	const char *name = json_string_value(json_object_get(req, "name"));
	json_t *ports = json_object_get(req, "ports"), *jp, *sel = json_object_get(req, "selector");
	struct sluice_labels labels = { 0 }, selector = { 0 };
	struct agent_svc_port_spec *ps = NULL;
	struct agent_svc_spec sp = { .ns = ns, .name = name };
	size_t i;
	int rc;

	if (!ns || !name || !*ns || !*name)
		return sl_fail(err, EINVAL, "service needs NAMESPACE/NAME");
	have = agent_service_find(a, ns, name);
	if (create_only && have)
		return sl_fail(err, EEXIST, "service %s/%s already exists", ns, name);
	if (mode == SVC_JSON_UPDATE && !have)
		return sl_fail(err, ENOENT, "service %s/%s not found", ns, name);
	/* Kubernetes' headless form: a DNS-only service, nothing to translate */
	if (json_is_string(json_object_get(req, "cluster_ip")) &&
	    !strcmp(json_string_value(json_object_get(req, "cluster_ip")), "None"))
		return sl_fail(err, EINVAL, "service %s/%s: cluster_ip None: a headless service has no "
			       "ClusterIP to translate and sluice serves no DNS for it", ns, name);
	if (json_object_get(req, "cluster_ip") && !json_is_null(json_object_get(req, "cluster_ip")) &&
	    parse_ip(json_string_value(json_object_get(req, "cluster_ip")), &sp.cluster_ip))
		return sl_fail(err, EINVAL, "service %s/%s: cluster_ip: not an IPv4 address", ns, name);
	/* as the API server: "spec.clusterIP: field is immutable" (upsert
	 * would otherwise move the service to the new address) */
	if (mode == SVC_JSON_UPDATE && sp.cluster_ip && sp.cluster_ip != have->ip)
		return sl_fail(err, EINVAL, "service %s/%s: cluster_ip: field is immutable", ns, name);
	/* a user's request stays in the range (Kubernetes' addresses may not) */
	if (create_only && sp.cluster_ip && sp.cluster_ip - a->services->net >= a->services->size)
		return sl_fail(err, EINVAL, "service %s/%s: cluster_ip %s: not in --service-cidr %s", ns,
			       name, json_string_value(json_object_get(req, "cluster_ip")),
			       a->services->cidr);
	rc = affinity_from_json(req, ns, name, &sp.affinity_timeout, err);
	if (rc)
		return rc;
	if (json_object_get(req, "type") && !json_is_null(json_object_get(req, "type")) &&
	    !json_is_string(json_object_get(req, "type")))
		return sl_fail(err, EINVAL, "service %s/%s: spec.type: not a string", ns, name);
	sp.type = json_string_value(json_object_get(req, "type"));
	rc = json_to_labels(json_object_get(req, "labels"), &labels, "labels", err);
	if (!rc)
		rc = json_to_labels(sel, &selector, "selector", err);
	if (rc)
		goto out;
	if (!json_is_array(ports)) {
		rc = sl_fail(err, EINVAL, "service %s/%s: spec.ports: at least one port is required", ns,
			     name);
		goto out;
	}
	ps = sl_xcalloc(json_array_size(ports) + 1, sizeof(*ps));
	json_array_foreach(ports, i, jp) {
		json_t *tp = json_object_get(jp, "target_port");
		json_int_t port = json_integer_value(json_object_get(jp, "port"));

		ps[i].name = json_string_value(json_object_get(jp, "name"));
		if (mode == SVC_JSON_RESTORE) /* the state file: same frontend ids as before */
			ps[i].id = (uint32_t)json_integer_value(json_object_get(jp, "id"));
		if (port < 1 || port > 65535) {
			rc = sl_fail(err, EINVAL, "service %s/%s: spec.ports[%zu].port: %lld: must be "
				     "between 1 and 65535", ns, name, i, (long long)port);
			goto out;
		}
		ps[i].port = (uint16_t)port;
		if (json_object_get(jp, "node_port") && !json_is_null(json_object_get(jp, "node_port"))) {
			json_int_t np = json_integer_value(json_object_get(jp, "node_port"));

			if (!json_is_integer(json_object_get(jp, "node_port")) || np < 1 || np > 65535) {
				rc = sl_fail(err, EINVAL, "service %s/%s: spec.ports[%zu].nodePort: must "
					     "be between 1 and 65535", ns, name, i);
				goto out;
			}
			ps[i].node_port = (uint16_t)np;
		}
		ps[i].protocol = parse_proto(json_string_value(json_object_get(jp, "protocol")));
		if (!ps[i].protocol) {
			rc = sl_fail(err, EINVAL, "service %s/%s: spec.ports[%zu].protocol: want TCP or UDP",
				     ns, name, i);
			goto out;
		}
		if (json_is_string(tp)) {
			ps[i].target_name = json_string_value(tp);
		} else if (json_is_integer(tp) || !tp) {
			json_int_t t = tp ? json_integer_value(tp) : port;

			if (t < 1 || t > 65535) {
				rc = sl_fail(err, EINVAL, "service %s/%s: spec.ports[%zu].targetPort: %lld: "
					     "must be between 1 and 65535", ns, name, i, (long long)t);
				goto out;
			}
			ps[i].target_port = (uint16_t)t;
		} else {
			rc = sl_fail(err, EINVAL, "service %s/%s: spec.ports[%zu].targetPort: a number or "
				     "a name", ns, name, i);
			goto out;
		}
	}
	sp.ports = ps;
	sp.nports = json_array_size(ports);
	sp.labels = &labels;
	sp.selector = json_is_object(sel) ? &selector : NULL;
	rc = agent_service_upsert(a, &sp, err);
out:
	free(ps);
	sluice_labels_free(&labels);
	sluice_labels_free(&selector);
	return rc;
}

int agent_services_restore(struct agent *a, char **err)
{
	struct agent_services *S = a->services;
	char *path = services_path(a, "");
	json_t *root = json_load_file(path, 0, NULL), *arr, *o;
	size_t i;
	int rc = 0;

	free(path);
	arr = json_object_get(root, "services");
	if (S && a->dp && !S->map_checked)
		be_prev_load(a);
	if (!S || !json_is_array(arr)) {
		json_decref(root);
		if (S) {
			free(S->prev);
			S->prev = NULL;
			S->nprev = 0;
		}
		if (S && a->dp && !S->map_checked) {
			S->map_checked = true;
			services_map_gc(a);
		}
		return 0;
	}
	json_array_foreach(arr, i, o) {
		const char *ns = json_string_value(json_object_get(o, "namespace"));
		const char *name = json_string_value(json_object_get(o, "name"));
		json_t *eps = json_object_get(o, "endpoints"), *e;
		struct agent_service **slot;
		size_t j;

		rc = service_from_json(a, o, SVC_JSON_RESTORE, err);
		if (rc) {
			/* e.g. smaller map limits than before: that service is
			 * lost, loudly, the others and the agent carry on */
			fprintf(stderr, "sluiced: service %s/%s not restored: %s\n", ns ? ns : "?",
				name ? name : "?", *err ? *err : strerror(-rc));
			free(*err);
			*err = NULL;
			rc = 0;
			continue;
		}
		slot = find_slot(S, ns, name);
		if (!slot)
			continue;
		if ((*slot)->created_ns && json_integer_value(json_object_get(o, "created_unix_ns")))
			(*slot)->created_ns = (uint64_t)json_integer_value(json_object_get(o, "created_unix_ns"));
		if (json_is_array(eps)) {
			size_t n = json_array_size(eps);
			struct agent_svc_endpoint *v = sl_xcalloc(n + 1, sizeof(*v));

			json_array_foreach(eps, j, e) {
				v[j].ip = (uint32_t)json_integer_value(json_object_get(e, "ip"));
				v[j].port_name = json_string_value(json_object_get(e, "port_name"));
				v[j].port = (uint16_t)json_integer_value(json_object_get(e, "port"));
				v[j].protocol = (uint8_t)json_integer_value(json_object_get(e, "protocol"));
			}
			rc = agent_service_set_endpoints(a, ns, name, v, n, err);
			free(v);
			if (rc)
				break;
		}
	}
	json_decref(root);
	free(S->prev);
	S->prev = NULL;
	S->nprev = 0;
	if (rc) {
		char *m = *err;

		*err = sl_strdupf("restoring services from %s/services.json: %s", a->cfg.state_dir, m);
		free(m);
		return rc;
	}
	/* only now: until the restore rewrote them, the old entries kept
	 * translating (an agent restart is no gap for ClusterIP clients) */
	if (a->dp && !S->map_checked) {
		S->map_checked = true;
		services_map_gc(a);
	}
	return 0;
}

/* ---- API commands -------------------------------------------------------- */

bool agent_services_named_by_policies(const struct agent *a)
{
	return a->services && a->services->policies_use_services;
}

/* create and update: the spec, then toServices rules that may name the
 * service get their peers again */
/* In Kubernetes mode the API server is the services' source of truth: a
 * change here would be undone (or deleted) at the next resync. */
static bool services_from_api(struct agent *a, const char *what, char **err)
{
	if (!a->k8s)
		return false;
	sl_fail(err, EPERM, "service %s: in Kubernetes mode services come from the API server; "
		"change them with kubectl (sluice service list/get show them)", what);
	return true;
}

static json_t *services_cmd_write(struct agent *a, json_t *req, enum svc_json_mode mode,
				  const char *why, char **err)
{
	const char *ns = json_string_value(json_object_get(req, "namespace"));
	const char *name = json_string_value(json_object_get(req, "name"));

	if (services_from_api(a, mode == SVC_JSON_UPDATE ? "update" : "create", err) ||
	    service_from_json(a, req, mode, err))
		return NULL;
	if (a->services->policies_use_services)
		agent_regenerate_after(a, why, false);
	return agent_service_json(a, agent_service_find(a, ns, name));
}

json_t *services_cmd_create(struct agent *a, struct api_client *c, json_t *req, char **err)
{
	(void)c;
	return services_cmd_write(a, req, SVC_JSON_CREATE, "service create", err);
}

/*
 * service.update: the whole spec again (selector, ports, labels), as
 * `kubectl replace` of a Service; the ClusterIP stays, the frontends kept
 * keep their entries (connections in flight are not disturbed), new ports
 * translate and dropped ones stop at once (upstream e2e "should be updated
 * after adding or deleting ports").
 */
json_t *services_cmd_update(struct agent *a, struct api_client *c, json_t *req, char **err)
{
	(void)c;
	return services_cmd_write(a, req, SVC_JSON_UPDATE, "service update", err);
}

json_t *services_cmd_delete(struct agent *a, struct api_client *c, json_t *req, char **err)
{
	(void)c;
	if (services_from_api(a, "delete", err) ||
	    agent_service_delete(a, json_string_value(json_object_get(req, "namespace")),
				 json_string_value(json_object_get(req, "name")), err))
		return NULL;
	/* toServices rules may have named it: their peers change */
	if (a->services->policies_use_services)
		agent_regenerate_after(a, "service delete", false);
	return json_object();
}

json_t *services_cmd_list(struct agent *a, struct api_client *c, json_t *req, char **err)
{
	(void)c;
	(void)req;
	(void)err;
	return json_pack("{s:o}", "services", agent_services_list_json(a));
}

json_t *services_cmd_get(struct agent *a, struct api_client *c, json_t *req, char **err)
{
	const char *ns = json_string_value(json_object_get(req, "namespace"));
	const char *name = json_string_value(json_object_get(req, "name"));
	const struct agent_service *s = agent_service_find(a, ns ? ns : "", name ? name : "");

	(void)c;
	if (!s) {
		sl_fail(err, ENOENT, "service %s/%s not found", ns ? ns : "", name ? name : "");
		return NULL;
	}
	return agent_service_json(a, s);
}
