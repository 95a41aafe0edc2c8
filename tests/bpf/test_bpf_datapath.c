/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_bpf_datapath.c - the kernel datapath fed crafted packets.
 *
 * Loads the real bpf_lxc object through sluice_dp_open() (so the loader is
 * tested too), pins into a private bpffs directory, and runs from_container
 * and to_container with BPF_PROG_TEST_RUN on hand-made Ethernet/IPv4 frames,
 * checking the verdict, the maps and the events.
 *
 * The whole process first moves into a new, anonymous network namespace: the
 * veth pair it creates there (slbt-h0/slbt-p0) and everything attached to it
 * disappear with the process, even if it crashes. Test runs pass the veth's
 * ifindex in __sk_buff.ifindex; the kernel resolves it in the caller's netns
 * and the program sees it as skb->ifindex, as on a real veth.
 *
 * Each test gets its own pin directory under /sys/fs/bpf/sluice-test-bpf-<pid>,
 * removed in teardown (cmocka runs teardown after a failed test as well).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/magic.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sluice/datapath.h"

#define PASS TC_ACT_UNSPEC /* what our programs return for "let through" */
#define DROP TC_ACT_SHOT

#define EP_ID 7
#define EP_IDENTITY 300
#define POD_IP "10.0.0.1"
#define PEER_IP "10.0.0.2"
#define PEER_ID 1000
#define OTHER_IP "10.0.0.3"
#define OTHER_ID 1001
#define WORLD_IP "192.0.2.9"
#define HOST_IP "10.0.0.254"

#define EVENTS_MAX 64

static char g_base[128];
static int g_ifindex; /* host side of the test veth */
static int g_counter;

struct fx {
	struct sluice_datapath *dp;
	char root[192];
	int from_fd, to_fd;
	struct sluice_flow_event ev[EVENTS_MAX];
	int nev;
	pid_t pod;      /* test_real_veth_traffic's child, killed in teardown */
	int pod_fds[4];
};

/* helpers */

static int sys(const char *cmd)
{
	int r = system(cmd);

	if (r != 0)
		fprintf(stderr, "failed: %s\n", cmd);
	return r;
}

static void addr_v4(uint8_t out[16], const char *ip)
{
	memset(out, 0, 16);
	out[10] = 0xff;
	out[11] = 0xff;
	assert_int_equal(inet_pton(AF_INET, ip, out + 12), 1);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *err = NULL, *warn = NULL;
	bool adopted = true;
	int e;

	assert_non_null(f);
	snprintf(f->root, sizeof(f->root), "%s/t%d", g_base, g_counter++);
	e = sluice_dp_open(&f->dp, f->root, &adopted, &warn, &err);
	if (e)
		fprintf(stderr, "sluice_dp_open: %s\n", err ? err : "?");
	assert_int_equal(e, 0);
	assert_null(warn);
	assert_false(adopted);
	f->from_fd = sluice_dp_program_fd(f->dp, "from_container");
	f->to_fd = sluice_dp_program_fd(f->dp, "to_container");
	assert_true(f->from_fd >= 0 && f->to_fd >= 0);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	int i;

	if (!f)
		return 0;
	for (i = 0; i < 4; i++)
		if (f->pod_fds[i] > 0)
			close(f->pod_fds[i]);
	if (f->pod > 0) {
		kill(f->pod, SIGKILL);
		waitpid(f->pod, NULL, 0);
	}
	sluice_dp_close(f->dp);
	sluice_dp_unpin_all(f->root);
	free(f);
	return 0;
}

static void ep_set(struct fx *f, uint32_t flags)
{
	struct sluice_endpoint ep = { .ep_id = EP_ID, .identity = EP_IDENTITY, .flags = flags };

	addr_v4(ep.addr, POD_IP);
	assert_int_equal(sluice_dp_endpoint_update(f->dp, g_ifindex, &ep), 0);
}

static void ipc_set(struct fx *f, const char *ip, unsigned prefixlen_v4, uint32_t id)
{
	uint8_t a[16];

	addr_v4(a, ip);
	assert_int_equal(sluice_dp_ipcache_update(f->dp, a, 96 + prefixlen_v4, id, 0), 0);
}

static struct sluice_policy_map_entry pe(uint32_t identity, uint8_t dir, uint8_t proto,
					 uint16_t dport, uint32_t prefixlen, uint8_t flags,
					 uint8_t kind)
{
	struct sluice_policy_map_entry e = {
		.key = { .prefixlen = prefixlen, .identity_be = htonl(identity), .direction = dir,
			 .protocol = proto, .dport_be = htons(dport) },
		.value = { .flags = flags, .match_kind = kind,
			   .proxy_port = (flags & SLUICE_POL_F_REDIRECT) ? 15001 : 0 },
	};
	return e;
}

static void pol_set(struct fx *f, const struct sluice_policy_map_entry *e, size_t n)
{
	char *err = NULL;
	int r = sluice_dp_policy_replace(f->dp, EP_ID, e, n, &err);

	if (r)
		fprintf(stderr, "policy_replace: %s\n", err ? err : "?");
	free(err);
	assert_int_equal(r, 0);
}

/* Ethernet + IPv4 + 20 bytes of TCP/UDP/SCTP/ICMP header, zero padded. */
static size_t pkt_v4(uint8_t *buf, uint8_t proto, const char *src, uint16_t sport,
		     const char *dst, uint16_t dport, uint8_t tcp_flags)
{
	struct ethhdr *eth = (struct ethhdr *)buf;
	struct iphdr ip = { .version = 4, .ihl = 5, .ttl = 64, .protocol = proto,
			    .tot_len = htons(40) };
	uint8_t *l4 = buf + sizeof(*eth) + sizeof(ip);
	uint16_t p;

	memset(buf, 0, 128);
	memset(eth->h_dest, 0x02, ETH_ALEN);
	memset(eth->h_source, 0x04, ETH_ALEN);
	eth->h_proto = htons(ETH_P_IP);
	assert_int_equal(inet_pton(AF_INET, src, &ip.saddr), 1);
	assert_int_equal(inet_pton(AF_INET, dst, &ip.daddr), 1);
	memcpy(buf + sizeof(*eth), &ip, sizeof(ip)); /* unaligned there: copy */
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP) {
		p = htons(sport);
		memcpy(l4, &p, 2);
		p = htons(dport);
		memcpy(l4 + 2, &p, 2);
		if (proto == IPPROTO_TCP) {
			l4[12] = 5 << 4;
			l4[13] = tcp_flags;
		}
	} else if (proto == IPPROTO_ICMP) {
		/* ICMP: dport is the type, sport the (echo) identifier */
		l4[0] = (uint8_t)dport;
		p = htons(sport);
		memcpy(l4 + 4, &p, 2);
	}
	return sizeof(*eth) + 40;
}

static int run(int prog_fd, int ifindex, const uint8_t *pkt, size_t len)
{
	struct __sk_buff ctx = { .ifindex = (uint32_t)ifindex };
	uint8_t out[256];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));
	int e = bpf_prog_test_run_opts(prog_fd, &o);

	if (e)
		fprintf(stderr, "test run (ifindex %d, %zu bytes): %s\n", ifindex, len, strerror(-e));
	assert_int_equal(e, 0);
	return (int)o.retval;
}

#define SYN 0x02
#define ACK 0x10

/* the pod sends: from_container, src = pod */
static int egress(struct fx *f, uint8_t proto, const char *dst, uint16_t sport, uint16_t dport,
		  uint8_t flags)
{
	uint8_t buf[128];
	size_t len = pkt_v4(buf, proto, POD_IP, sport, dst, dport, flags);

	return run(f->from_fd, g_ifindex, buf, len);
}

/* delivered to the pod: to_container, dst = pod */
static int ingress(struct fx *f, uint8_t proto, const char *src, uint16_t sport, uint16_t dport,
		   uint8_t flags)
{
	uint8_t buf[128];
	size_t len = pkt_v4(buf, proto, src, sport, POD_IP, dport, flags);

	return run(f->to_fd, g_ifindex, buf, len);
}

static void on_event(void *ctx, const struct sluice_flow_event *ev)
{
	struct fx *f = ctx;

	if (f->nev < EVENTS_MAX)
		f->ev[f->nev] = *ev;
	f->nev++;
}

static int drain(struct fx *f)
{
	f->nev = 0;
	assert_true(sluice_dp_events_drain(f->dp, on_event, f) >= 0);
	return f->nev;
}

static uint64_t stat_get(struct fx *f, int idx)
{
	uint64_t s[SLUICE_STAT_MAX];

	assert_int_equal(sluice_dp_stats(f->dp, s), 0);
	return s[idx];
}

static int ct_has(struct fx *f, const char *src, uint16_t sport, const char *dst, uint16_t dport,
		  uint8_t proto, uint8_t dir, struct sluice_ct_entry *out)
{
	struct sluice_ct_key k = { .sport = sport, .dport = dport, .protocol = proto,
				   .direction = dir, .ep_id = EP_ID };
	struct sluice_ct_entry e;

	addr_v4(k.saddr, src);
	addr_v4(k.daddr, dst);
	if (bpf_map_lookup_elem(sluice_dp_map_fd(f->dp, SLUICE_MAP_CT), &k, &e) < 0)
		return 0;
	if (out)
		*out = e;
	return 1;
}

/* policy decisions */

static void test_allow_by_identity_l4(void **state)
{
	struct fx *f = *state;
	struct sluice_policy_map_entry e[] = {
		pe(PEER_ID, SLUICE_DIR_EGRESS, IPPROTO_TCP, 80, 64, 0, SLUICE_MATCH_L3_L4),
	};
	uint8_t peer[16], pod[16];

	ep_set(f, SLUICE_EP_F_ENFORCE_EGRESS);
	ipc_set(f, PEER_IP, 32, PEER_ID);
	e[0].value.rule_ref = 77; /* the policy that wrote it */
	pol_set(f, e, 1);

	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40000, 80, SYN), PASS);
	assert_true(ct_has(f, POD_IP, 40000, PEER_IP, 80, IPPROTO_TCP, SLUICE_DIR_EGRESS, NULL));
	assert_int_equal(drain(f), 1);
	assert_int_equal(f->ev[0].type, SLUICE_EVENT_POLICY_VERDICT);
	assert_int_equal(f->ev[0].verdict, SLUICE_VERDICT_FORWARDED);
	assert_int_equal(f->ev[0].ep_id, EP_ID);
	assert_int_equal(f->ev[0].ep_identity, EP_IDENTITY);
	assert_int_equal(f->ev[0].peer_identity, PEER_ID);
	assert_int_equal(f->ev[0].sport, 40000);
	assert_int_equal(f->ev[0].dport, 80);
	assert_int_equal(f->ev[0].protocol, IPPROTO_TCP);
	assert_int_equal(f->ev[0].direction, SLUICE_DIR_EGRESS);
	assert_int_equal(f->ev[0].match_kind, SLUICE_MATCH_L3_L4);
	assert_int_equal(f->ev[0].rule_ref, 77); /* observe names the policy by it */
	assert_int_equal(f->ev[0].ifindex, g_ifindex);
	assert_int_equal(f->ev[0].tcp_flags, SYN);
	addr_v4(pod, POD_IP);
	addr_v4(peer, PEER_IP);
	assert_memory_equal(f->ev[0].saddr, pod, 16);
	assert_memory_equal(f->ev[0].daddr, peer, 16);

	/* other port, other peer, other protocol: default deny */
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40001, 81, SYN), DROP);
	assert_int_equal(egress(f, IPPROTO_TCP, OTHER_IP, 40002, 80, SYN), DROP);
	assert_int_equal(egress(f, IPPROTO_UDP, PEER_IP, 40003, 80, 0), DROP);
	assert_int_equal(drain(f), 3);
	assert_int_equal(f->ev[0].type, SLUICE_EVENT_DROP);
	assert_int_equal(f->ev[0].drop_reason, SLUICE_DROP_POLICY_DENIED);
	assert_int_equal(f->ev[0].rule_ref, 0); /* no entry decided: no policy */
	assert_int_equal(f->ev[1].peer_identity, SLUICE_ID_WORLD); /* not in ipcache */
	assert_false(ct_has(f, POD_IP, 40001, PEER_IP, 81, IPPROTO_TCP, SLUICE_DIR_EGRESS, NULL));
	assert_int_equal(stat_get(f, SLUICE_STAT_FORWARDED_EGRESS), 1);
	assert_int_equal(stat_get(f, SLUICE_STAT_DROPPED_EGRESS), 3);
	assert_int_equal(stat_get(f, SLUICE_STAT_DROP_POLICY_DENIED), 3);
	assert_int_equal(stat_get(f, SLUICE_STAT_CT_CREATED), 1);
}

static void test_allow_by_any_peer(void **state)
{
	struct fx *f = *state;
	struct sluice_policy_map_entry e[] = {
		pe(SLUICE_ID_ANY, SLUICE_DIR_INGRESS, IPPROTO_TCP, 8080, 64, 0,
		   SLUICE_MATCH_L4_ONLY),
	};

	ep_set(f, SLUICE_EP_F_ENFORCE_INGRESS);
	ipc_set(f, PEER_IP, 32, PEER_ID);
	pol_set(f, e, 1);

	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 50000, 8080, SYN), PASS);
	assert_int_equal(ingress(f, IPPROTO_TCP, WORLD_IP, 50001, 8080, SYN), PASS);
	assert_int_equal(ingress(f, IPPROTO_TCP, WORLD_IP, 50002, 8081, SYN), DROP);
	assert_int_equal(drain(f), 3);
	assert_int_equal(f->ev[0].peer_identity, PEER_ID);
	assert_int_equal(f->ev[0].match_kind, SLUICE_MATCH_L4_ONLY);
	assert_int_equal(f->ev[0].direction, SLUICE_DIR_INGRESS);
	assert_int_equal(f->ev[1].peer_identity, SLUICE_ID_WORLD);
	assert_int_equal(f->ev[2].drop_reason, SLUICE_DROP_POLICY_DENIED);
	assert_true(ct_has(f, PEER_IP, 50000, POD_IP, 8080, IPPROTO_TCP, SLUICE_DIR_INGRESS, NULL));
}

static void test_l3_only_allows_any_port_and_icmp(void **state)
{
	struct fx *f = *state;
	struct sluice_policy_map_entry e[] = {
		pe(PEER_ID, SLUICE_DIR_EGRESS, 0, 0, SLUICE_POLICY_PREFIX_L3, 0,
		   SLUICE_MATCH_L3_ONLY),
		/* an L4 rule matches ICMP only if it names ICMP: port 0 never matches 80 */
		pe(OTHER_ID, SLUICE_DIR_EGRESS, IPPROTO_TCP, 80, 64, 0, SLUICE_MATCH_L3_L4),
	};

	ep_set(f, SLUICE_EP_F_ENFORCE_EGRESS);
	ipc_set(f, PEER_IP, 32, PEER_ID);
	ipc_set(f, OTHER_IP, 32, OTHER_ID);
	pol_set(f, e, 2);

	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40000, 1, SYN), PASS);
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40000, 65535, SYN), PASS);
	assert_int_equal(egress(f, IPPROTO_UDP, PEER_IP, 40000, 53, 0), PASS);
	assert_int_equal(egress(f, IPPROTO_ICMP, PEER_IP, 0, 8, 0), PASS);
	assert_int_equal(egress(f, IPPROTO_ICMP, OTHER_IP, 0, 8, 0), DROP);
	assert_int_equal(egress(f, IPPROTO_TCP, OTHER_IP, 40000, 80, SYN), PASS);
	assert_int_equal(drain(f), 6);
	assert_int_equal(f->ev[0].match_kind, SLUICE_MATCH_L3_ONLY);
	assert_int_equal(f->ev[3].protocol, IPPROTO_ICMP);
	assert_int_equal(f->ev[4].drop_reason, SLUICE_DROP_POLICY_DENIED);
}

/*
 * icmps rules: the policy port of ICMP is the message type (parse.h). A
 * query and its reply share one conntrack entry keyed by the identifier;
 * another type from the same peer is judged on its own.
 */
static void test_icmp_types(void **state)
{
	struct fx *f = *state;
	struct sluice_policy_map_entry e[] = {
		pe(PEER_ID, SLUICE_DIR_EGRESS, IPPROTO_ICMP, 8, 64, 0, SLUICE_MATCH_L3_L4),
		pe(PEER_ID, SLUICE_DIR_INGRESS, IPPROTO_ICMP, 3, 64, 0, SLUICE_MATCH_L3_L4),
	};

	ep_set(f, SLUICE_EP_F_ENFORCE_INGRESS | SLUICE_EP_F_ENFORCE_EGRESS);
	ipc_set(f, PEER_IP, 32, PEER_ID);
	ipc_set(f, OTHER_IP, 32, OTHER_ID);
	pol_set(f, e, 2);

	/* echo request (type 8, id 77) allowed; its reply rides the entry */
	assert_int_equal(egress(f, IPPROTO_ICMP, PEER_IP, 77, 8, 0), PASS);
	assert_true(ct_has(f, POD_IP, 77, PEER_IP, 8, IPPROTO_ICMP, SLUICE_DIR_EGRESS, NULL));
	assert_int_equal(ingress(f, IPPROTO_ICMP, PEER_IP, 77, 0, 0), PASS);
	/* a reply with another identifier is no reply: judged, denied */
	assert_int_equal(ingress(f, IPPROTO_ICMP, PEER_IP, 78, 0, 0), DROP);
	/* another query type to the same peer is judged on its own: denied */
	assert_int_equal(egress(f, IPPROTO_ICMP, PEER_IP, 77, 13, 0), DROP);
	assert_int_equal(egress(f, IPPROTO_ICMP, OTHER_IP, 77, 8, 0), DROP);
	/* destination unreachable (3) from the peer: allowed by its own rule;
	 * the peer's echo request (8) is not */
	assert_int_equal(ingress(f, IPPROTO_ICMP, PEER_IP, 0, 3, 0), PASS);
	assert_int_equal(ingress(f, IPPROTO_ICMP, PEER_IP, 5, 8, 0), DROP);
	/* events carry type and code where Hubble shows them (abi.h) */
	assert_int_equal(drain(f), 7);
	assert_int_equal(f->ev[0].type, SLUICE_EVENT_POLICY_VERDICT);
	assert_int_equal(f->ev[0].protocol, IPPROTO_ICMP);
	assert_int_equal(f->ev[0].sport, 8);
	assert_int_equal(f->ev[0].dport, 0);
	assert_int_equal(f->ev[1].type, SLUICE_EVENT_TRACE); /* the echo reply */
	assert_int_equal(f->ev[1].sport, 0);
	assert_int_equal(f->ev[2].type, SLUICE_EVENT_DROP);
	assert_int_equal(f->ev[3].sport, 13);
	assert_int_equal(f->ev[3].drop_reason, SLUICE_DROP_POLICY_DENIED);
	assert_int_equal(f->ev[5].sport, 3);
	assert_int_equal(f->ev[5].verdict, SLUICE_VERDICT_FORWARDED);
	assert_int_equal(f->ev[6].sport, 8);
	assert_int_equal(f->ev[6].direction, SLUICE_DIR_INGRESS);
	/* the abi helper reads a ct key's type back (agent/revalidate.c) */
	assert_int_equal(sluice_ct_icmp_type(77, 8), 8);
	assert_int_equal(sluice_ct_icmp_type(8, 77), 0);
	assert_int_equal(sluice_ct_icmp_type(13, 5), 14);
	assert_int_equal(sluice_ct_icmp_type(0, 3), 3);
}

static void test_port_range_blocks(void **state)
{
	struct fx *f = *state;
	/* 8000-8005 = 8000/62 (8000-8003) + 8004/63 (8004-8005) */
	struct sluice_policy_map_entry e[] = {
		pe(PEER_ID, SLUICE_DIR_EGRESS, IPPROTO_TCP, 8000, 62, 0, SLUICE_MATCH_L3_L4),
		pe(PEER_ID, SLUICE_DIR_EGRESS, IPPROTO_TCP, 8004, 63, 0, SLUICE_MATCH_L3_L4),
	};
	uint16_t port;

	ep_set(f, SLUICE_EP_F_ENFORCE_EGRESS);
	ipc_set(f, PEER_IP, 32, PEER_ID);
	pol_set(f, e, 2);

	for (port = 7998; port <= 8007; port++)
		assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40000, port, SYN),
				 port >= 8000 && port <= 8005 ? PASS : DROP);
	/* same ports over UDP: the protocol bits are part of the prefix */
	assert_int_equal(egress(f, IPPROTO_UDP, PEER_IP, 40000, 8001, 0), DROP);
}

static void test_deny_wins_across_lookups(void **state)
{
	struct fx *f = *state;
	/* allow the peer on 80, but deny every peer at L3: the deny wins */
	struct sluice_policy_map_entry a[] = {
		pe(PEER_ID, SLUICE_DIR_EGRESS, IPPROTO_TCP, 80, 64, 0, SLUICE_MATCH_L3_L4),
		pe(SLUICE_ID_ANY, SLUICE_DIR_EGRESS, 0, 0, 40, SLUICE_POL_F_DENY,
		   SLUICE_MATCH_ALL),
	};
	/* and the other way round: allow everyone on 80, deny this peer */
	struct sluice_policy_map_entry b[] = {
		pe(SLUICE_ID_ANY, SLUICE_DIR_EGRESS, IPPROTO_TCP, 80, 64, 0, SLUICE_MATCH_L4_ONLY),
		pe(PEER_ID, SLUICE_DIR_EGRESS, 0, 0, 40, SLUICE_POL_F_DENY, SLUICE_MATCH_L3_ONLY),
	};

	a[0].value.rule_ref = 1;
	a[1].value.rule_ref = 2;
	ep_set(f, SLUICE_EP_F_ENFORCE_EGRESS);
	ipc_set(f, PEER_IP, 32, PEER_ID);
	ipc_set(f, OTHER_IP, 32, OTHER_ID);

	pol_set(f, a, 2);
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40000, 80, SYN), DROP);
	assert_int_equal(drain(f), 1);
	assert_int_equal(f->ev[0].drop_reason, SLUICE_DROP_POLICY_DENY);
	assert_int_equal(f->ev[0].match_kind, SLUICE_MATCH_ALL);
	assert_int_equal(f->ev[0].rule_ref, 2); /* the deny's, which decided */

	pol_set(f, b, 2);
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40001, 80, SYN), DROP);
	assert_int_equal(egress(f, IPPROTO_TCP, OTHER_IP, 40002, 80, SYN), PASS);
	assert_int_equal(drain(f), 2);
	assert_int_equal(f->ev[0].drop_reason, SLUICE_DROP_POLICY_DENY);
	assert_int_equal(f->ev[0].peer_identity, PEER_ID);
	assert_int_equal(stat_get(f, SLUICE_STAT_DROP_POLICY_DENY), 2);
}

/* SCTP ports are read as TCP's and UDP's: a NetworkPolicy rule on SCTP 81
 * (the e2e suite's "using SCTP" cases) admits SCTP to 81 and its replies,
 * and nothing else. */
static void test_sctp_ports(void **state)
{
	struct fx *f = *state;
	struct sluice_policy_map_entry e[] = {
		pe(PEER_ID, SLUICE_DIR_INGRESS, IPPROTO_SCTP, 81, 64, 0, SLUICE_MATCH_L3_L4),
	};

	ep_set(f, SLUICE_EP_F_ENFORCE_INGRESS | SLUICE_EP_F_ENFORCE_EGRESS);
	ipc_set(f, PEER_IP, 32, PEER_ID);
	pol_set(f, e, 1);

	assert_int_equal(ingress(f, IPPROTO_SCTP, PEER_IP, 50000, 81, 0), PASS);
	assert_true(ct_has(f, PEER_IP, 50000, POD_IP, 81, IPPROTO_SCTP, SLUICE_DIR_INGRESS, NULL));
	assert_int_equal(egress(f, IPPROTO_SCTP, PEER_IP, 81, 50000, 0), PASS);
	assert_int_equal(ingress(f, IPPROTO_SCTP, PEER_IP, 50000, 80, 0), DROP);
	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 50000, 81, SYN), DROP);
	assert_int_equal(ingress(f, IPPROTO_UDP, PEER_IP, 50000, 81, 0), DROP);
	assert_int_equal(drain(f), 5);
	assert_int_equal(f->ev[0].protocol, IPPROTO_SCTP);
	assert_int_equal(f->ev[0].dport, 81);
}

static void test_longest_match_inside_one_trie(void **state)
{
	struct fx *f = *state;
	/* all of TCP from the peer, except port 22, which the compiler wrote as deny */
	struct sluice_policy_map_entry e[] = {
		pe(PEER_ID, SLUICE_DIR_INGRESS, IPPROTO_TCP, 0, 48, 0, SLUICE_MATCH_L3_L4),
		pe(PEER_ID, SLUICE_DIR_INGRESS, IPPROTO_TCP, 22, 64, SLUICE_POL_F_DENY,
		   SLUICE_MATCH_L3_L4),
	};

	ep_set(f, SLUICE_EP_F_ENFORCE_INGRESS);
	ipc_set(f, PEER_IP, 32, PEER_ID);
	pol_set(f, e, 2);

	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 50000, 22, SYN), DROP);
	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 50000, 21, SYN), PASS);
	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 50000, 23, SYN), PASS);
	assert_int_equal(ingress(f, IPPROTO_UDP, PEER_IP, 50000, 23, 0), DROP);
	assert_int_equal(drain(f), 4);
	assert_int_equal(f->ev[0].drop_reason, SLUICE_DROP_POLICY_DENY);
	assert_int_equal(f->ev[3].drop_reason, SLUICE_DROP_POLICY_DENIED);
}

static void test_not_enforced_allows_but_deny_applies(void **state)
{
	struct fx *f = *state;
	struct sluice_policy_map_entry e[] = {
		pe(SLUICE_ID_WORLD, SLUICE_DIR_EGRESS, 0, 0, 40, SLUICE_POL_F_DENY,
		   SLUICE_MATCH_L3_ONLY),
	};

	ep_set(f, SLUICE_EP_F_ENFORCE_INGRESS); /* egress not enforced */
	ipc_set(f, PEER_IP, 32, PEER_ID);

	/* no policy map at all */
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40000, 80, SYN), PASS);
	assert_int_equal(egress(f, IPPROTO_TCP, WORLD_IP, 40001, 443, SYN), PASS);

	pol_set(f, e, 1);
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40002, 80, SYN), PASS);
	assert_int_equal(egress(f, IPPROTO_TCP, WORLD_IP, 40003, 443, SYN), DROP);
	assert_int_equal(drain(f), 4);
	assert_int_equal(f->ev[0].match_kind, SLUICE_MATCH_NONE);
	assert_int_equal(f->ev[3].drop_reason, SLUICE_DROP_POLICY_DENY);
	assert_int_equal(f->ev[3].peer_identity, SLUICE_ID_WORLD);
}

static void test_default_deny(void **state)
{
	struct fx *f = *state;

	ep_set(f, SLUICE_EP_F_ENFORCE_INGRESS | SLUICE_EP_F_ENFORCE_EGRESS);
	pol_set(f, NULL, 0); /* selected by a policy that allows nothing */

	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40000, 80, SYN), DROP);
	assert_int_equal(ingress(f, IPPROTO_UDP, PEER_IP, 5353, 53, 0), DROP);
	assert_int_equal(drain(f), 2);
	assert_int_equal(f->ev[0].type, SLUICE_EVENT_DROP);
	assert_int_equal(f->ev[0].verdict, SLUICE_VERDICT_DROPPED);
	assert_int_equal(f->ev[0].drop_reason, SLUICE_DROP_POLICY_DENIED);
	assert_int_equal(f->ev[1].drop_reason, SLUICE_DROP_POLICY_DENIED);
	assert_int_equal(f->ev[1].direction, SLUICE_DIR_INGRESS);
	assert_int_equal(f->ev[1].sport, 5353);
	assert_int_equal(f->ev[1].dport, 53);
	assert_int_equal(stat_get(f, SLUICE_STAT_DROPPED_INGRESS), 1);
	assert_int_equal(stat_get(f, SLUICE_STAT_DROPPED_EGRESS), 1);

	/* and with no inner map at all (endpoint enforced before its policy lands) */
	assert_int_equal(sluice_dp_policy_delete(f->dp, EP_ID), 0);
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40001, 80, SYN), DROP);
}

/* allow-localhost=always (verdict.h's sluice_ep_enforced): the node reaches
 * the pod through an enforced ingress, but not through a deny that names
 * it; other peers, and the pod's egress to the node, stay enforced */
static void test_allow_localhost(void **state)
{
	struct fx *f = *state;
	struct sluice_policy_map_entry e[] = {
		pe(SLUICE_ID_HOST, SLUICE_DIR_INGRESS, IPPROTO_TCP, 81, 64, SLUICE_POL_F_DENY,
		   SLUICE_MATCH_L3_L4),
	};

	ipc_set(f, HOST_IP, 32, SLUICE_ID_HOST);
	pol_set(f, e, 1);
	ep_set(f, SLUICE_EP_F_ENFORCE_INGRESS | SLUICE_EP_F_ENFORCE_EGRESS);
	assert_int_equal(ingress(f, IPPROTO_TCP, HOST_IP, 40000, 80, SYN), DROP);
	ep_set(f, SLUICE_EP_F_ENFORCE_INGRESS | SLUICE_EP_F_ENFORCE_EGRESS | SLUICE_EP_F_ALLOW_LOCALHOST);
	assert_int_equal(ingress(f, IPPROTO_TCP, HOST_IP, 40001, 80, SYN), PASS);
	assert_int_equal(ingress(f, IPPROTO_UDP, HOST_IP, 40002, 53, 0), PASS);
	assert_int_equal(ingress(f, IPPROTO_TCP, HOST_IP, 40003, 81, SYN), DROP);
	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 40004, 80, SYN), DROP);
	assert_int_equal(egress(f, IPPROTO_TCP, HOST_IP, 40005, 80, SYN), DROP);
	assert_int_equal(drain(f), 6);
	assert_int_equal(f->ev[1].verdict, SLUICE_VERDICT_FORWARDED);
	assert_int_equal(f->ev[1].peer_identity, SLUICE_ID_HOST);
	assert_int_equal(f->ev[3].drop_reason, SLUICE_DROP_POLICY_DENY);
	assert_int_equal(f->ev[4].drop_reason, SLUICE_DROP_POLICY_DENIED);
	assert_int_equal(f->ev[5].drop_reason, SLUICE_DROP_POLICY_DENIED);
}

/* conntrack */

static void test_ct_reply_and_established(void **state)
{
	struct fx *f = *state;
	struct sluice_policy_map_entry e[] = {
		pe(PEER_ID, SLUICE_DIR_EGRESS, IPPROTO_TCP, 80, 64, 0, SLUICE_MATCH_L3_L4),
	};
	struct sluice_ct_entry ct;

	ep_set(f, SLUICE_EP_F_ENFORCE_INGRESS | SLUICE_EP_F_ENFORCE_EGRESS);
	ipc_set(f, PEER_IP, 32, PEER_ID);
	pol_set(f, e, 1);

	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40000, 80, SYN), PASS);
	/* the reply passes to_container although ingress allows nothing */
	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 80, 40000, SYN | ACK), PASS);
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40000, 80, ACK), PASS);
	/* a new flow from the peer does not */
	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 80, 40001, SYN), DROP);

	assert_true(ct_has(f, POD_IP, 40000, PEER_IP, 80, IPPROTO_TCP, SLUICE_DIR_EGRESS, &ct));
	assert_int_equal(ct.packets_fwd, 2);
	assert_int_equal(ct.packets_rev, 1);
	assert_int_equal(ct.peer_identity, PEER_ID);
	assert_int_equal(ct.match_kind, SLUICE_MATCH_L3_L4);
	/* one POLICY_VERDICT per flow, not per packet; the SYN-ACK is a trace */
	assert_int_equal(drain(f), 3);
	assert_int_equal(f->ev[0].type, SLUICE_EVENT_POLICY_VERDICT);
	assert_int_equal(f->ev[1].type, SLUICE_EVENT_TRACE);
	assert_int_equal(f->ev[2].type, SLUICE_EVENT_DROP);

	/* an established flow is not judged again, even after the policy changed */
	pol_set(f, NULL, 0);
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40000, 80, ACK), PASS);
	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 80, 40000, ACK), PASS);
	/* until its CT entry is flushed */
	assert_int_equal(sluice_dp_ct_flush(f->dp, EP_ID), 0);
	assert_false(ct_has(f, POD_IP, 40000, PEER_IP, 80, IPPROTO_TCP, SLUICE_DIR_EGRESS, NULL));
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40000, 80, ACK), DROP);
	assert_int_equal(stat_get(f, SLUICE_STAT_FORWARDED_EGRESS), 3);
	assert_int_equal(stat_get(f, SLUICE_STAT_FORWARDED_INGRESS), 2);
}

#define FIN 0x01
#define RST 0x04

/*
 * Trace events (lib/trace.h): after the policy verdict of a flow's first
 * packet, a packet is reported when it carries SYN, FIN or RST for the first
 * time in its direction, once per node: delivered to the pod (to-endpoint),
 * or sent by it to an address that is not a local pod (to-stack).
 */
static void test_trace_events(void **state)
{
	struct fx *f = *state;
	struct sluice_policy_map_entry e[] = {
		pe(PEER_ID, SLUICE_DIR_EGRESS, IPPROTO_TCP, 80, 64, 0, SLUICE_MATCH_L3_L4),
		pe(OTHER_ID, SLUICE_DIR_EGRESS, IPPROTO_TCP, 80, 64, 0, SLUICE_MATCH_L3_L4),
		pe(PEER_ID, SLUICE_DIR_INGRESS, IPPROTO_TCP, 81, 64, 0, SLUICE_MATCH_L3_L4),
	};
	uint8_t other[16];

	ep_set(f, SLUICE_EP_F_ENFORCE_INGRESS | SLUICE_EP_F_ENFORCE_EGRESS);
	ipc_set(f, PEER_IP, 32, PEER_ID);
	ipc_set(f, OTHER_IP, 32, OTHER_ID);
	pol_set(f, e, 3);
	drain(f);

	/* the pod connects to a peer that is not a local pod */
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40000, 80, SYN), PASS);
	assert_int_equal(drain(f), 1);
	assert_int_equal(f->ev[0].type, SLUICE_EVENT_POLICY_VERDICT);
	assert_int_equal(f->ev[0].trace, 0);
	/* a retransmitted SYN: nothing new */
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40000, 80, SYN), PASS);
	assert_int_equal(drain(f), 0);
	/* the SYN-ACK delivered to the pod: a reply, to-endpoint */
	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 80, 40000, SYN | ACK), PASS);
	assert_int_equal(drain(f), 1);
	assert_int_equal(f->ev[0].type, SLUICE_EVENT_TRACE);
	assert_int_equal(f->ev[0].trace, SLUICE_TRACE_TO_ENDPOINT | SLUICE_TRACE_REPLY);
	assert_int_equal(f->ev[0].direction, SLUICE_DIR_INGRESS);
	assert_int_equal(f->ev[0].tcp_flags, SYN | ACK);
	assert_int_equal(f->ev[0].verdict, SLUICE_VERDICT_FORWARDED);
	assert_int_equal(f->ev[0].ep_identity, EP_IDENTITY);
	assert_int_equal(f->ev[0].peer_identity, PEER_ID);
	assert_int_equal(f->ev[0].sport, 80);
	/* its retransmission, the ACKs, the data: nothing */
	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 80, 40000, SYN | ACK), PASS);
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40000, 80, ACK), PASS);
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40000, 80, ACK | 0x08), PASS);
	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 80, 40000, ACK), PASS);
	assert_int_equal(drain(f), 0);
	/* the pod's FIN leaves for the peer: to-stack, forward, once */
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40000, 80, FIN | ACK), PASS);
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40000, 80, FIN | ACK), PASS);
	assert_int_equal(drain(f), 1);
	assert_int_equal(f->ev[0].type, SLUICE_EVENT_TRACE);
	assert_int_equal(f->ev[0].trace, SLUICE_TRACE_TO_STACK);
	assert_int_equal(f->ev[0].direction, SLUICE_DIR_EGRESS);
	assert_int_equal(f->ev[0].tcp_flags, FIN | ACK);
	/* the peer's FIN, then its RST: each reported, as replies */
	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 80, 40000, FIN | ACK), PASS);
	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 80, 40000, RST), PASS);
	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 80, 40000, RST), PASS);
	assert_int_equal(drain(f), 2);
	assert_int_equal(f->ev[0].tcp_flags, FIN | ACK);
	assert_int_equal(f->ev[1].tcp_flags, RST);
	assert_int_equal(f->ev[1].trace, SLUICE_TRACE_TO_ENDPOINT | SLUICE_TRACE_REPLY);

	/* to a local pod: its own hook reports the packet, not this one */
	addr_v4(other, OTHER_IP);
	assert_int_equal(sluice_dp_ep_addr_update(f->dp, other, EP_ID + 1), 0);
	assert_int_equal(egress(f, IPPROTO_TCP, OTHER_IP, 40001, 80, SYN), PASS);
	assert_int_equal(drain(f), 1);
	assert_int_equal(egress(f, IPPROTO_TCP, OTHER_IP, 40001, 80, FIN | ACK), PASS);
	assert_int_equal(drain(f), 0);
	assert_int_equal(ingress(f, IPPROTO_TCP, OTHER_IP, 80, 40001, FIN | ACK), PASS);
	assert_int_equal(drain(f), 1);
	assert_int_equal(f->ev[0].trace, SLUICE_TRACE_TO_ENDPOINT | SLUICE_TRACE_REPLY);

	/* a connection to the pod: its FIN is forward at to-endpoint */
	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 45000, 81, SYN), PASS);
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 81, 45000, SYN | ACK), PASS);
	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 45000, 81, FIN | ACK), PASS);
	assert_int_equal(drain(f), 3);
	assert_int_equal(f->ev[0].type, SLUICE_EVENT_POLICY_VERDICT);
	assert_int_equal(f->ev[1].trace, SLUICE_TRACE_TO_STACK | SLUICE_TRACE_REPLY);
	assert_int_equal(f->ev[2].trace, SLUICE_TRACE_TO_ENDPOINT);
	assert_int_equal(f->ev[2].peer_identity, PEER_ID);
	/* UDP: the first reply is reported, once; the requests are the policy
	 * verdict's */
	pol_set(f, (struct sluice_policy_map_entry[]){ pe(PEER_ID, SLUICE_DIR_EGRESS, IPPROTO_UDP, 53, 64, 0,
							  SLUICE_MATCH_L3_L4) }, 1);
	drain(f);
	assert_int_equal(egress(f, IPPROTO_UDP, PEER_IP, 40000, 53, 0), PASS);
	assert_int_equal(egress(f, IPPROTO_UDP, PEER_IP, 40000, 53, 0), PASS);
	assert_int_equal(drain(f), 1);
	assert_int_equal(f->ev[0].type, SLUICE_EVENT_POLICY_VERDICT);
	assert_int_equal(ingress(f, IPPROTO_UDP, PEER_IP, 53, 40000, 0), PASS);
	assert_int_equal(ingress(f, IPPROTO_UDP, PEER_IP, 53, 40000, 0), PASS);
	assert_int_equal(drain(f), 1);
	assert_int_equal(f->ev[0].type, SLUICE_EVENT_TRACE);
	assert_int_equal(f->ev[0].trace, SLUICE_TRACE_TO_ENDPOINT | SLUICE_TRACE_REPLY);
	assert_int_equal(f->ev[0].protocol, IPPROTO_UDP);
	assert_int_equal(egress(f, IPPROTO_UDP, PEER_IP, 40000, 53, 0), PASS);
	assert_int_equal(drain(f), 0);
}

static void test_tcp_without_syn_is_judged(void **state)
{
	struct fx *f = *state;
	struct sluice_policy_map_entry e[] = {
		pe(PEER_ID, SLUICE_DIR_INGRESS, IPPROTO_TCP, 443, 64, 0, SLUICE_MATCH_L3_L4),
	};

	ep_set(f, SLUICE_EP_F_ENFORCE_INGRESS);
	ipc_set(f, PEER_IP, 32, PEER_ID);
	pol_set(f, e, 1);

	/* mid-connection after a CT loss: still allowed, so it survives */
	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 51000, 443, ACK), PASS);
	assert_true(ct_has(f, PEER_IP, 51000, POD_IP, 443, IPPROTO_TCP, SLUICE_DIR_INGRESS, NULL));
	/* no longer allowed: breaks */
	assert_int_equal(ingress(f, IPPROTO_TCP, OTHER_IP, 51000, 443, ACK), DROP);
}

/* A SYN on a tuple whose flow closed is a new connection: judged again. */
static void test_ct_closed_tuple_reuse_is_judged(void **state)
{
	struct fx *f = *state;
	struct sluice_policy_map_entry e[] = {
		pe(PEER_ID, SLUICE_DIR_INGRESS, IPPROTO_TCP, 8081, 64, 0, SLUICE_MATCH_L3_L4),
	};
	struct sluice_ct_entry ct;

	ep_set(f, SLUICE_EP_F_ENFORCE_INGRESS);
	ipc_set(f, PEER_IP, 32, PEER_ID);
	pol_set(f, e, 1);

	/* a connection, closed by the pod (FIN) and the peer (FIN) */
	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 41356, 8081, SYN), PASS);
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 8081, 41356, SYN | ACK), PASS);
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 8081, 41356, 0x01 | ACK), PASS);
	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 41356, 8081, 0x01 | ACK), PASS);
	assert_true(ct_has(f, PEER_IP, 41356, POD_IP, 8081, IPPROTO_TCP, SLUICE_DIR_INGRESS, &ct));
	assert_true(ct.flags & SLUICE_CT_F_SEEN_FIN);
	/* the closed flow's last packets still pass on its entry after a revocation */
	pol_set(f, NULL, 0);
	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 41356, 8081, ACK), PASS);
	/* a new connection on the same tuple does not ride on the old verdict */
	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 41356, 8081, SYN), DROP);
	/* allowed again: judged, passes, and gets an entry of its own */
	pol_set(f, e, 1);
	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 41356, 8081, SYN), PASS);
	assert_true(ct_has(f, PEER_IP, 41356, POD_IP, 8081, IPPROTO_TCP, SLUICE_DIR_INGRESS, &ct));
	assert_false(ct.flags & SLUICE_CT_F_SEEN_FIN);
	/* and its retransmitted SYN passes on that entry after a revocation */
	pol_set(f, NULL, 0);
	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 41356, 8081, SYN), PASS);
}

static void test_ct_flush_scope(void **state)
{
	struct fx *f = *state;
	struct sluice_ct_key k = { .protocol = IPPROTO_TCP, .ep_id = 99 };
	struct sluice_ct_entry v = { .last_seen_ns = 1 };
	int ct_fd = sluice_dp_map_fd(f->dp, SLUICE_MAP_CT);

	ep_set(f, 0);
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40000, 80, SYN), PASS);
	assert_int_equal(bpf_map_update_elem(ct_fd, &k, &v, BPF_ANY), 0);
	assert_int_equal(sluice_dp_ct_flush(f->dp, EP_ID), 0);
	assert_false(ct_has(f, POD_IP, 40000, PEER_IP, 80, IPPROTO_TCP, SLUICE_DIR_EGRESS, NULL));
	assert_int_equal(bpf_map_lookup_elem(ct_fd, &k, &v), 0); /* other endpoint kept */
	assert_int_equal(sluice_dp_ct_flush(f->dp, 0), 0);
	assert_int_equal(bpf_map_lookup_elem(ct_fd, &k, &v), -ENOENT);
}

/* sluice_dp_ct_foreach: what the callback answers true for is deleted (in
 * batches), also when the datapath removed some of those entries meanwhile */
struct ct_walk_ctx {
	int ct_fd;
	size_t seen;
};

static bool ct_walk_cb(void *ctx, const struct sluice_ct_key *k, const struct sluice_ct_entry *v)
{
	struct ct_walk_ctx *c = ctx;

	(void)v;
	c->seen++;
	/* sport % 3 == 0: the callback asks for a deletion; one in 7 of those
	 * is gone before the walk deletes it (as if the datapath had) */
	if (k->sport % 3)
		return false;
	if (k->sport % 7 == 0)
		assert_int_equal(bpf_map_delete_elem(c->ct_fd, k), 0);
	return true;
}

static void test_ct_foreach_deletes(void **state)
{
	struct fx *f = *state;
	struct ct_walk_ctx c = { .ct_fd = sluice_dp_map_fd(f->dp, SLUICE_MAP_CT) };
	struct sluice_ct_key k = { .dport = 80, .protocol = IPPROTO_TCP, .ep_id = 77 };
	struct sluice_ct_entry v = { .last_seen_ns = 1 };
	size_t i, left = 0, n = 5000;

	for (i = 1; i <= n; i++) {
		k.sport = (uint16_t)i;
		assert_int_equal(bpf_map_update_elem(c.ct_fd, &k, &v, BPF_ANY), 0);
	}
	assert_int_equal(sluice_dp_ct_foreach(f->dp, ct_walk_cb, &c), 0);
	assert_int_equal(c.seen, n);
	for (i = 1; i <= n; i++) {
		k.sport = (uint16_t)i;
		if (bpf_map_lookup_elem(c.ct_fd, &k, &v) == 0) {
			assert_true(i % 3 != 0);
			left++;
		}
	}
	assert_int_equal(left, n - n / 3);
}

static void test_ct_idle_entry_expires(void **state)
{
	struct fx *f = *state;
	struct sluice_ct_key k = { .sport = 40000, .dport = 53, .protocol = IPPROTO_UDP,
				   .direction = SLUICE_DIR_EGRESS, .ep_id = EP_ID };
	struct sluice_ct_entry v = { 0 };
	int ct_fd = sluice_dp_map_fd(f->dp, SLUICE_MAP_CT);
	struct timespec ts;
	uint64_t now;

	/* bpf_ktime_get_ns() is CLOCK_MONOTONIC */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (now < 120ull * 1000000000ull)
		skip(); /* machine booted less than 2 minutes ago */

	ep_set(f, SLUICE_EP_F_ENFORCE_EGRESS);
	addr_v4(k.saddr, POD_IP);
	addr_v4(k.daddr, PEER_IP);
	/* idle for 2 minutes: past the 60 s UDP lifetime, so judged again (denied) */
	v.created_ns = v.last_seen_ns = now - 120ull * 1000000000ull;
	assert_int_equal(bpf_map_update_elem(ct_fd, &k, &v, BPF_ANY), 0);
	assert_int_equal(egress(f, IPPROTO_UDP, PEER_IP, 40000, 53, 0), DROP);
	/* recently seen: passes without policy */
	v.last_seen_ns = now;
	assert_int_equal(bpf_map_update_elem(ct_fd, &k, &v, BPF_ANY), 0);
	assert_int_equal(egress(f, IPPROTO_UDP, PEER_IP, 40000, 53, 0), PASS);
}

/* redirect, drops, events */

static void test_redirect_fails_closed(void **state)
{
	struct fx *f = *state;
	struct sluice_policy_map_entry e[] = {
		pe(PEER_ID, SLUICE_DIR_INGRESS, IPPROTO_TCP, 80, 64, SLUICE_POL_F_REDIRECT,
		   SLUICE_MATCH_L3_L4),
		/* an L4 allow of the same port for everyone must not skip the proxy */
		pe(SLUICE_ID_ANY, SLUICE_DIR_INGRESS, IPPROTO_TCP, 80, 64, 0, SLUICE_MATCH_L4_ONLY),
	};

	ep_set(f, SLUICE_EP_F_ENFORCE_INGRESS);
	ipc_set(f, PEER_IP, 32, PEER_ID);
	pol_set(f, e, 2);

	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 50000, 80, SYN), DROP);
	assert_int_equal(drain(f), 1);
	assert_int_equal(f->ev[0].drop_reason, SLUICE_DROP_PROXY_UNAVAILABLE);
	assert_int_equal(f->ev[0].peer_identity, PEER_ID);
	assert_int_equal(stat_get(f, SLUICE_STAT_DROP_PROXY_UNAVAILABLE), 1);
	assert_false(ct_has(f, PEER_IP, 50000, POD_IP, 80, IPPROTO_TCP, SLUICE_DIR_INGRESS, NULL));
	/* others take the plain L4 allow */
	assert_int_equal(ingress(f, IPPROTO_TCP, OTHER_IP, 50000, 80, SYN), PASS);
}

/*
 * With a proxy serving and its listener registered, to_container lets an
 * L7 flow in with a CT entry flagged REDIRECT (sk_lookup steers it in the
 * pod); from_container lets out only the proxy's registered upstream leg.
 */
static void test_redirect_when_proxy_ready(void **state)
{
	struct fx *f = *state;
	struct sluice_policy_map_entry e[] = {
		pe(PEER_ID, SLUICE_DIR_INGRESS, IPPROTO_TCP, 80, 64, SLUICE_POL_F_REDIRECT,
		   SLUICE_MATCH_L3_L4),
		pe(PEER_ID, SLUICE_DIR_EGRESS, IPPROTO_TCP, 80, 64, SLUICE_POL_F_REDIRECT,
		   SLUICE_MATCH_L3_L4),
	};
	struct sluice_proxy_flow_key fk = { .sport = 40001, .dport = 80, .protocol = IPPROTO_TCP };
	struct sluice_ct_entry ct;
	uint8_t one = 1;
	int lfd;

	ep_set(f, SLUICE_EP_F_ENFORCE_INGRESS | SLUICE_EP_F_ENFORCE_EGRESS);
	ipc_set(f, PEER_IP, 32, PEER_ID);
	pol_set(f, e, 2);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	assert_int_equal(listen(lfd, 1), 0);

	/* up without a listener, listener while down: still closed */
	assert_int_equal(sluice_dp_proxy_set_up(f->dp, true), 0);
	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 50000, 80, SYN), DROP);
	assert_int_equal(sluice_dp_proxy_listener_set(f->dp, EP_ID, lfd), 0);
	assert_int_equal(sluice_dp_proxy_set_up(f->dp, false), 0);
	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 50001, 80, SYN), DROP);
	drain(f);

	assert_int_equal(sluice_dp_proxy_set_up(f->dp, true), 0);
	assert_int_equal(ingress(f, IPPROTO_TCP, PEER_IP, 50002, 80, SYN), PASS);
	assert_true(ct_has(f, PEER_IP, 50002, POD_IP, 80, IPPROTO_TCP, SLUICE_DIR_INGRESS, &ct));
	assert_true(ct.flags & SLUICE_CT_F_REDIRECT);
	assert_int_equal(ct.proxy_port, 15001);
	assert_int_equal(drain(f), 1);
	assert_int_equal(f->ev[0].type, SLUICE_EVENT_POLICY_VERDICT);
	assert_int_equal(f->ev[0].verdict, SLUICE_VERDICT_REDIRECTED);
	assert_int_equal(stat_get(f, SLUICE_STAT_REDIRECTED), 1);
	/* UDP has no proxy */
	assert_int_equal(ingress(f, IPPROTO_UDP, PEER_IP, 50002, 80, 0), DROP);

	/* egress: only the proxy's registered tuple */
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40001, 80, SYN), DROP);
	addr_v4(fk.saddr, POD_IP);
	addr_v4(fk.daddr, PEER_IP);
	assert_int_equal(bpf_map_update_elem(sluice_dp_map_fd(f->dp, SLUICE_MAP_PROXY_FLOWS), &fk,
					     &one, BPF_ANY), 0);
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40001, 80, SYN), PASS);
	assert_true(ct_has(f, POD_IP, 40001, PEER_IP, 80, IPPROTO_TCP, SLUICE_DIR_EGRESS, &ct));
	assert_true(ct.flags & SLUICE_CT_F_REDIRECT);
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40002, 80, SYN), DROP);
	close(lfd);
}

static void test_drop_events_are_aggregated(void **state)
{
	struct fx *f = *state;

	ep_set(f, SLUICE_EP_F_ENFORCE_EGRESS);
	ipc_set(f, PEER_IP, 32, PEER_ID);

	/* a SYN and two retransmits within a second: one event, three drops */
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40000, 80, SYN), DROP);
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40000, 80, SYN), DROP);
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40000, 80, SYN), DROP);
	/* another flow has its own budget */
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40001, 80, SYN), DROP);
	assert_int_equal(drain(f), 2);
	assert_int_equal(f->ev[0].sport, 40000);
	assert_int_equal(f->ev[1].sport, 40001);
	assert_int_equal(stat_get(f, SLUICE_STAT_DROPPED_EGRESS), 4);

	/* after the interval the flow is reported again */
	usleep(1100 * 1000);
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40000, 80, SYN), DROP);
	assert_int_equal(drain(f), 1);
}

static void test_events_lost_counted(void **state)
{
	struct fx *f = *state;
	int i, lost_before = (int)stat_get(f, SLUICE_STAT_EVENTS_LOST);
	uint64_t lost;

	int fill = (int)(SLUICE_EVENTS_BYTES / (sizeof(struct sluice_flow_event) + 8));

	ep_set(f, 0);
	/* SLUICE_EVENTS_BYTES / (record + 8-byte header) events fill the ring:
	 * offer a third more, each a new flow (so each one emits) */
	for (i = 0; i < fill + fill / 3; i++)
		assert_int_equal(egress(f, IPPROTO_UDP, PEER_IP, (uint16_t)(1 + i % 60000),
					(uint16_t)(53 + i / 60000), 0), PASS);
	lost = stat_get(f, SLUICE_STAT_EVENTS_LOST);
	assert_true(lost > (uint64_t)lost_before);
	assert_true(drain(f) > fill * 8 / 10);
}

static void test_non_endpoint_non_ip_and_ipv6(void **state)
{
	struct fx *f = *state;
	uint8_t buf[128];
	size_t len = pkt_v4(buf, IPPROTO_TCP, POD_IP, 40000, PEER_IP, 80, SYN);
	struct ethhdr *eth = (struct ethhdr *)buf;

	/* not an endpoint: passes untouched, no event (lo is ifindex 1) */
	ep_set(f, SLUICE_EP_F_ENFORCE_EGRESS | SLUICE_EP_F_ENFORCE_INGRESS);
	assert_int_equal(run(f->from_fd, 1, buf, len), PASS);
	assert_int_equal(run(f->to_fd, 1, buf, len), PASS);
	assert_int_equal(drain(f), 0);

	/* ARP passes even when both directions are enforced */
	eth->h_proto = htons(ETH_P_ARP);
	assert_int_equal(run(f->from_fd, g_ifindex, buf, len), PASS);

	/* IPv6 is not supported (pods have it disabled): dropped with a reason */
	memset(buf + sizeof(*eth), 0, 60);
	eth->h_proto = htons(ETH_P_IPV6);
	buf[sizeof(*eth)] = 0x60;
	buf[sizeof(*eth) + 6] = IPPROTO_TCP;
	assert_int_equal(run(f->from_fd, g_ifindex, buf, sizeof(*eth) + 60), DROP);
	assert_int_equal(drain(f), 1);
	assert_int_equal(f->ev[0].drop_reason, SLUICE_DROP_UNSUPPORTED_L3);

	/* a header length below 20 bytes: invalid (the test run refuses frames
	 * too short for an IPv4 header, so truncation cannot be tested here) */
	len = pkt_v4(buf, IPPROTO_TCP, POD_IP, 40000, PEER_IP, 80, SYN);
	buf[sizeof(*eth)] = 0x44;
	assert_int_equal(run(f->from_fd, g_ifindex, buf, len), DROP);
	assert_int_equal(drain(f), 1);
	assert_int_equal(f->ev[0].drop_reason, SLUICE_DROP_INVALID_PACKET);
}

static void test_spoofed_source_dropped(void **state)
{
	struct fx *f = *state;
	uint8_t buf[128];
	size_t len = pkt_v4(buf, IPPROTO_TCP, OTHER_IP, 40000, PEER_IP, 80, SYN);

	ep_set(f, 0);
	assert_int_equal(run(f->from_fd, g_ifindex, buf, len), DROP);
	assert_int_equal(drain(f), 1);
	assert_int_equal(f->ev[0].drop_reason, SLUICE_DROP_INVALID_SOURCE);
	/* a pod's ingress may come from anywhere */
	assert_int_equal(ingress(f, IPPROTO_TCP, OTHER_IP, 40000, 80, SYN), PASS);
}

/* loader */

static int lookup_via_outer(struct fx *f, const struct sluice_policy_map_entry *probe,
			    struct sluice_policy_entry *out)
{
	uint32_t ep = EP_ID, inner_id;
	int fd, r;

	assert_int_equal(bpf_map_lookup_elem(sluice_dp_map_fd(f->dp, SLUICE_MAP_POLICY), &ep,
					     &inner_id), 0);
	fd = bpf_map_get_fd_by_id(inner_id);
	assert_true(fd >= 0);
	r = bpf_map_lookup_elem(fd, &probe->key, out);
	close(fd);
	return r == 0;
}

static void test_policy_replace_swaps(void **state)
{
	struct fx *f = *state;
	struct sluice_policy_map_entry a[] = {
		pe(PEER_ID, SLUICE_DIR_EGRESS, IPPROTO_TCP, 80, 64, 0, 2),
	};
	struct sluice_policy_map_entry b[512];
	struct sluice_policy_entry v;
	uint32_t ep = EP_ID, id_a, id_b;
	size_t i;

	for (i = 0; i < 512; i++)
		b[i] = pe(PEER_ID, SLUICE_DIR_EGRESS, IPPROTO_TCP, (uint16_t)(1000 + i), 64, 0, 3);

	ep_set(f, SLUICE_EP_F_ENFORCE_EGRESS);
	ipc_set(f, PEER_IP, 32, PEER_ID);
	pol_set(f, a, 1);
	assert_true(lookup_via_outer(f, &a[0], &v));
	assert_int_equal(v.match_kind, 2);
	assert_int_equal(bpf_map_lookup_elem(sluice_dp_map_fd(f->dp, SLUICE_MAP_POLICY), &ep, &id_a),
			 0);

	pol_set(f, b, 512);
	assert_int_equal(bpf_map_lookup_elem(sluice_dp_map_fd(f->dp, SLUICE_MAP_POLICY), &ep, &id_b),
			 0);
	assert_int_not_equal(id_a, id_b);
	assert_false(lookup_via_outer(f, &a[0], &v));
	assert_true(lookup_via_outer(f, &b[511], &v));
	assert_int_equal(v.match_kind, 3);
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40000, 80, SYN), DROP);
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40000, 1511, SYN), PASS);
	/* the old inner map is gone once the outer map let go of it */
	assert_true(bpf_map_get_fd_by_id(id_a) < 0);

	assert_int_equal(sluice_dp_policy_delete(f->dp, EP_ID), 0);
	assert_int_equal(sluice_dp_policy_delete(f->dp, EP_ID), 0); /* idempotent */
}

static void test_reopen_adopts_pins(void **state)
{
	struct fx *f = *state;
	struct sluice_dp_map_fill fill[16];
	uint8_t a[16];
	bool adopted = false;
	char *err = NULL, *warn = NULL;
	int n, i;

	ep_set(f, SLUICE_EP_F_ENFORCE_EGRESS);
	ipc_set(f, PEER_IP, 32, PEER_ID);
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40000, 80, SYN), DROP);
	sluice_dp_close(f->dp);

	assert_int_equal(sluice_dp_open(&f->dp, f->root, &adopted, &warn, &err), 0);
	assert_null(warn);
	assert_true(adopted);
	f->from_fd = sluice_dp_program_fd(f->dp, "from_container");
	f->to_fd = sluice_dp_program_fd(f->dp, "to_container");
	/* state carried over: the endpoint, the ipcache, the counters */
	assert_int_equal(stat_get(f, SLUICE_STAT_DROPPED_EGRESS), 1);
	n = sluice_dp_map_fill(f->dp, fill, 16);
	assert_int_equal(n, 12); /* 5 L3/L4 maps + 7 of the L7 steering */
	for (i = 0; i < n; i++) {
		if (strcmp(fill[i].name, SLUICE_MAP_ENDPOINTS) == 0 ||
		    strcmp(fill[i].name, SLUICE_MAP_IPCACHE) == 0 ||
		    strcmp(fill[i].name, SLUICE_MAP_DROPAGG) == 0)
			assert_int_equal(fill[i].entries, 1);
		else
			assert_int_equal(fill[i].entries, 0);
	}
	assert_int_equal(egress(f, IPPROTO_TCP, PEER_IP, 40001, 80, SYN), DROP);
	assert_int_equal(stat_get(f, SLUICE_STAT_DROPPED_EGRESS), 2);

	addr_v4(a, PEER_IP);
	assert_int_equal(sluice_dp_ipcache_delete(f->dp, a, 128), 0);
	assert_int_equal(sluice_dp_ipcache_delete(f->dp, a, 128), 0);
	assert_int_equal(sluice_dp_ipcache_update(f->dp, a, 129, 1, 0), -EINVAL);
	assert_int_equal(sluice_dp_endpoint_delete(f->dp, g_ifindex), 0);
}

static void test_incompatible_pin_replaced(void **state)
{
	struct fx *f = *state;
	char path[256], *err = NULL, *warn = NULL;
	bool adopted = false;
	int fd;
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);

	sluice_dp_close(f->dp);
	f->dp = NULL;
	snprintf(path, sizeof(path), "%s/%s", f->root, SLUICE_MAP_CT);
	assert_int_equal(unlink(path), 0);
	/* same name, a layout from some other build */
	fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, SLUICE_MAP_CT, 40, sizeof(struct sluice_ct_entry),
			    1024, NULL);
	assert_true(fd >= 0);
	assert_int_equal(bpf_obj_pin(fd, path), 0);
	close(fd);

	assert_int_equal(sluice_dp_open(&f->dp, f->root, &adopted, &warn, &err), 0);
	assert_non_null(warn);
	assert_non_null(strstr(warn, "replaced incompatible pinned map sluice_ct_v1 (key size 40 != 44)"));
	assert_null(err); /* a warning is not an error */
	free(warn);
	assert_true(adopted); /* the other maps were kept */
	f->from_fd = sluice_dp_program_fd(f->dp, "from_container");
	f->to_fd = sluice_dp_program_fd(f->dp, "to_container");

	fd = bpf_obj_get(path);
	assert_true(fd >= 0);
	assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	close(fd);
	assert_int_equal(info.key_size, sizeof(struct sluice_ct_key));
	assert_int_equal(info.max_entries, SLUICE_CT_MAX);
}

static void test_abi_version_mismatch_replaces_all(void **state)
{
	struct fx *f = *state;
	uint32_t key = 0, version = SLUICE_ABI_VERSION + 1;
	char *err = NULL, *warn = NULL;
	bool adopted = true;

	ep_set(f, 0);
	assert_int_equal(bpf_map_update_elem(sluice_dp_map_fd(f->dp, SLUICE_MAP_ABI), &key, &version,
					     BPF_ANY), 0);
	sluice_dp_close(f->dp);
	f->dp = NULL;

	assert_int_equal(sluice_dp_open(&f->dp, f->root, &adopted, &warn, &err), 0);
	assert_non_null(warn);
	assert_non_null(strstr(warn, "ABI version"));
	assert_null(err);
	free(warn);
	assert_false(adopted);
	assert_int_equal(bpf_map_lookup_elem(sluice_dp_map_fd(f->dp, SLUICE_MAP_ABI), &key, &version),
			 0);
	assert_int_equal(version, SLUICE_ABI_VERSION);
	/* fresh maps: the endpoint is gone */
	assert_int_equal(bpf_map_lookup_elem(sluice_dp_map_fd(f->dp, SLUICE_MAP_ENDPOINTS), &g_ifindex,
					     &(struct sluice_endpoint){ 0 }), -ENOENT);
}

static int tc_has_our_filter(int ifindex, enum bpf_tc_attach_point point, uint32_t *prog_id)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 0x51, .priority = 1);
	libbpf_print_fn_t print = libbpf_set_print(NULL); /* "not found" is an answer */
	int e = bpf_tc_query(&hook, &opts);

	libbpf_set_print(print);
	if (e != 0)
		return 0;
	if (prog_id)
		*prog_id = opts.prog_id;
	return 1;
}

static void test_attach_replace_detach(void **state)
{
	struct fx *f = *state;
	struct sluice_datapath *second = NULL;
	char *err = NULL, **names = NULL;
	uint32_t id1 = 0, id2 = 0;
	size_t n = 0, i;
	int r;

	assert_int_equal(sluice_dp_attach_endpoint(f->dp, g_ifindex, &err), 0);
	assert_true(tc_has_our_filter(g_ifindex, BPF_TC_INGRESS, &id1));
	assert_true(tc_has_our_filter(g_ifindex, BPF_TC_EGRESS, NULL));
	/* idempotent */
	assert_int_equal(sluice_dp_attach_endpoint(f->dp, g_ifindex, &err), 0);

	/* a restarted agent (new programs) replaces the filter in place */
	assert_int_equal(sluice_dp_open(&second, f->root, NULL, NULL, &err), 0);
	assert_int_equal(sluice_dp_attach_endpoint(second, g_ifindex, &err), 0);
	assert_true(tc_has_our_filter(g_ifindex, BPF_TC_INGRESS, &id2));
	assert_int_not_equal(id1, id2);

	assert_int_equal(sluice_dp_programs(second, &names, &n), 0);
	/* 2 tc + sk_lookup, connect4, sock_ops, sk_msg, sendmsg4, recvmsg4, getpeername4 */
	assert_int_equal(n, 9);
	assert_non_null(strstr(names[0], "from_container"));
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);

	assert_int_equal(sluice_dp_detach_endpoint(second, g_ifindex), 0);
	assert_false(tc_has_our_filter(g_ifindex, BPF_TC_INGRESS, NULL));
	assert_false(tc_has_our_filter(g_ifindex, BPF_TC_EGRESS, NULL));
	assert_int_equal(sluice_dp_detach_endpoint(second, g_ifindex), 0); /* idempotent */
	sluice_dp_close(second);

	/* the clsact qdisc stays (others' filters would live there) */
	r = system("tc qdisc show dev slbt-h0 | grep -q clsact");
	assert_int_equal(r, 0);
	/* a device that is gone */
	assert_int_equal(sluice_dp_detach_endpoint(f->dp, 999999), 0);
	assert_int_not_equal(sluice_dp_attach_endpoint(f->dp, 999999, &err), 0);
	assert_non_null(err);
	free(err);
}

/*
 * Real traffic: a "pod" (a child process in its own netns) behind the veth
 * slbt-h1/slbt-p1, our filters on slbt-h1. Proves the direction mapping
 * (tc ingress of the host veth = the pod's egress) and the CT reply path on
 * a real device, which test runs cannot. The pod's netns, and the veth with
 * it, disappear when the child exits.
 */
#define REAL_HOST_IP "10.200.0.1"
#define REAL_POD_IP "10.200.0.2"

static void pod_main(int cmd_fd, int res_fd)
{
	uint16_t port;
	char ok = 1;

	if (unshare(CLONE_NEWNET) != 0 || write(res_fd, &ok, 1) != 1)
		_exit(1);
	if (read(cmd_fd, &port, sizeof(port)) != sizeof(port))
		_exit(1);
	if (system("ip link set lo up && ip addr add " REAL_POD_IP "/24 dev slbt-p1 && "
		   "ip link set slbt-p1 up") != 0)
		_exit(1);
	if (write(res_fd, &ok, 1) != 1)
		_exit(1);
	/* then: a port to connect to, answered with 0 or an errno; port 0 ends */
	while (read(cmd_fd, &port, sizeof(port)) == sizeof(port) && port != 0) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
		struct timeval tv = { .tv_sec = 1 };
		int fd = socket(AF_INET, SOCK_STREAM, 0), r = 0;

		inet_pton(AF_INET, REAL_HOST_IP, &sa.sin_addr);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
			r = errno;
		close(fd);
		if (write(res_fd, &r, sizeof(r)) != sizeof(r))
			break;
	}
	_exit(0);
}

static int pod_connect(int cmd_fd, int res_fd, uint16_t port)
{
	int r = -1;

	assert_int_equal(write(cmd_fd, &port, sizeof(port)), sizeof(port));
	assert_int_equal(read(res_fd, &r, sizeof(r)), sizeof(r));
	return r;
}

static int listen_on(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	inet_pton(AF_INET, REAL_HOST_IP, &sa.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void test_real_veth_traffic(void **state)
{
	struct fx *f = *state;
	struct sluice_policy_map_entry e[] = {
		pe(SLUICE_ID_HOST, SLUICE_DIR_EGRESS, IPPROTO_TCP, 8080, 64, 0, SLUICE_MATCH_L3_L4),
	};
	struct sluice_endpoint ep = { .ep_id = EP_ID, .identity = EP_IDENTITY,
				      .flags = SLUICE_EP_F_ENFORCE_INGRESS |
					       SLUICE_EP_F_ENFORCE_EGRESS };
	int *cmd = &f->pod_fds[0], *res = &f->pod_fds[2], l1, l2, ifindex;
	char line[128], ok = 0, *err = NULL;
	uint16_t zero = 0;
	uint8_t host[16];
	int i, r1, r2, verdicts = 0, drops = 0;

	/* teardown closes these fds and kills the child, whatever happens here */
	assert_int_equal(pipe(cmd), 0);
	assert_int_equal(pipe(res), 0);
	f->pod = fork();
	assert_true(f->pod >= 0);
	if (f->pod == 0)
		pod_main(cmd[0], res[1]);
	assert_int_equal(read(res[0], &ok, 1), 1);
	snprintf(line, sizeof(line), "ip link add slbt-h1 type veth peer name slbt-p1 netns %d",
		 (int)f->pod);
	assert_int_equal(sys(line), 0);
	assert_int_equal(sys("ip addr add " REAL_HOST_IP "/24 dev slbt-h1"), 0);
	assert_int_equal(sys("ip link set slbt-h1 up"), 0);
	ifindex = (int)if_nametoindex("slbt-h1");
	assert_true(ifindex > 0);
	assert_int_equal(write(cmd[1], &zero, sizeof(zero)), sizeof(zero));
	assert_int_equal(read(res[0], &ok, 1), 1);

	addr_v4(ep.addr, REAL_POD_IP);
	addr_v4(host, REAL_HOST_IP);
	assert_int_equal(sluice_dp_endpoint_update(f->dp, ifindex, &ep), 0);
	assert_int_equal(sluice_dp_ipcache_update(f->dp, host, 128, SLUICE_ID_HOST, 0), 0);
	pol_set(f, e, 1);
	assert_int_equal(sluice_dp_attach_endpoint(f->dp, ifindex, &err), 0);
	l1 = listen_on(8080);
	l2 = listen_on(8081);

	r1 = pod_connect(cmd[1], res[0], 8080); /* allowed; the SYN-ACK passes by CT */
	r2 = pod_connect(cmd[1], res[0], 8081); /* default deny on egress */
	close(l1);
	close(l2);
	assert_true(l1 >= 0 && l2 >= 0);
	drain(f);
	for (i = 0; i < f->nev && i < EVENTS_MAX; i++) {
		if (f->ev[i].type == SLUICE_EVENT_POLICY_VERDICT && f->ev[i].dport == 8080 &&
		    f->ev[i].direction == SLUICE_DIR_EGRESS &&
		    f->ev[i].peer_identity == SLUICE_ID_HOST && f->ev[i].ifindex == (uint32_t)ifindex)
			verdicts++;
		if (f->ev[i].type == SLUICE_EVENT_DROP && f->ev[i].dport == 8081 &&
		    f->ev[i].direction == SLUICE_DIR_EGRESS &&
		    f->ev[i].drop_reason == SLUICE_DROP_POLICY_DENIED)
			drops++;
	}
	assert_int_equal(r1, 0);
	assert_int_not_equal(r2, 0);
	assert_int_equal(verdicts, 1);
	assert_true(drops >= 1);
	assert_true(stat_get(f, SLUICE_STAT_FORWARDED_INGRESS) >= 1); /* SYN-ACK, ARP */
}

/* process setup: private netns, veth, bpffs */

/* Removes a base dir and the per-test pin dirs in it. */
static void base_remove(const char *base)
{
	char path[512];
	struct dirent *de;
	DIR *dir = opendir(base);

	if (dir) {
		while ((de = readdir(dir)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", base, de->d_name);
			sluice_dp_unpin_all(path);
		}
		closedir(dir);
	}
	if (rmdir(base) != 0 && errno != ENOENT)
		perror(base);
}

/* Per-test dirs are removed by their teardown; this catches what a failure
 * in the middle of a test left behind. The netns goes away with us. */
static void env_cleanup(void)
{
	base_remove(g_base);
}

/* A run killed with SIGKILL leaves its pins: remove those of dead runs. */
static void env_remove_stale(void)
{
	char path[512];
	struct dirent *de;
	DIR *dir = opendir("/sys/fs/bpf");
	int pid;

	if (!dir)
		return;
	while ((de = readdir(dir)) != NULL) {
		if (sscanf(de->d_name, "sluice-test-bpf-%d", &pid) != 1 || pid <= 0)
			continue;
		if (kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "/sys/fs/bpf/%s", de->d_name);
		base_remove(path);
	}
	closedir(dir);
}

static int env_setup(void)
{
	struct statfs fs;

	if (statfs("/sys/fs/bpf", &fs) != 0 || (unsigned long)fs.f_type != BPF_FS_MAGIC) {
		mkdir("/sys/fs/bpf", 0700);
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL) != 0) {
			perror("mount bpffs");
			return -1;
		}
	}
	env_remove_stale();
	if (unshare(CLONE_NEWNET) != 0) {
		perror("unshare(CLONE_NEWNET)");
		return -1;
	}
	if (sys("ip link set lo up") || sys("ip link add slbt-h0 type veth peer name slbt-p0") ||
	    sys("ip link set slbt-h0 up"))
		return -1;
	g_ifindex = (int)if_nametoindex("slbt-h0");
	if (g_ifindex <= 1)
		return -1;
	snprintf(g_base, sizeof(g_base), "/sys/fs/bpf/sluice-test-bpf-%d", (int)getpid());
	if (mkdir(g_base, 0700) != 0) {
		perror(g_base);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest policy_tests[] = {
		cmocka_unit_test_setup_teardown(test_allow_by_identity_l4, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_allow_by_any_peer, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_l3_only_allows_any_port_and_icmp, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_icmp_types, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_port_range_blocks, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_deny_wins_across_lookups, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_sctp_ports, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_longest_match_inside_one_trie, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_not_enforced_allows_but_deny_applies, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_default_deny, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_allow_localhost, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ct_reply_and_established, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_trace_events, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tcp_without_syn_is_judged, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ct_closed_tuple_reuse_is_judged, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_ct_flush_scope, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ct_idle_entry_expires, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ct_foreach_deletes, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_redirect_fails_closed, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_redirect_when_proxy_ready, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_drop_events_are_aggregated, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_events_lost_counted, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_non_endpoint_non_ip_and_ipv6, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_spoofed_source_dropped, fx_setup, fx_teardown),
	};
	const struct CMUnitTest loader_tests[] = {
		cmocka_unit_test_setup_teardown(test_policy_replace_swaps, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_reopen_adopts_pins, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_incompatible_pin_replaced, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_abi_version_mismatch_replaces_all, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_attach_replace_detach, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_real_veth_traffic, fx_setup, fx_teardown),
	};
	const char *group = argc > 1 ? argv[1] : "all";
	int failed = 0;

	if (geteuid() != 0) {
		fprintf(stderr, "needs root (BPF, bpffs, netns): skipped\n");
		return 77;
	}
	if (env_setup() != 0) {
		if (g_base[0])
			rmdir(g_base);
		return 1;
	}
	if (strcmp(group, "all") == 0 || strcmp(group, "policy") == 0)
		failed += cmocka_run_group_tests_name("bpf_lxc_policy", policy_tests, NULL, NULL);
	if (strcmp(group, "all") == 0 || strcmp(group, "loader") == 0)
		failed += cmocka_run_group_tests_name("bpf_datapath_loader", loader_tests, NULL, NULL);
	env_cleanup();
	return failed ? 1 : 0;
}
