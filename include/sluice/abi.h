/* SPDX-License-Identifier: Apache-2.0 */
/*
 * abi.h - the contract between sluice's kernel programs and user space.
 *
 * Everything that both sides read or write lives here: map names, keys and
 * values, event records, verdicts and drop reasons. A map whose key or value
 * layout changes gets a new versioned name (SLUICE_MAP_*), so that an agent
 * never reads a pinned map written with another layout.
 *
 * Addresses are always 16 bytes: IPv4 is stored as an IPv4-mapped IPv6
 * address (::ffff:a.b.c.d), so keys are already IPv6-ready.
 * Multi-byte integers are host byte order unless the field name ends in _be.
 */
#ifndef SLUICE_ABI_H
#define SLUICE_ABI_H

#include <linux/types.h>

/* 2: drop reason numbers no longer collide with Cilium's (PROXY_UNAVAILABLE 250)
 * 3: flow events carry the deciding policy entry's rule_ref */
#define SLUICE_ABI_VERSION 3

/* Map names, pinned under the agent's --bpf-root. */
#define SLUICE_MAP_IPCACHE   "sluice_ipc_v1"
#define SLUICE_MAP_ENDPOINTS "sluice_ep_v1"
#define SLUICE_MAP_POLICY    "sluice_pol_v1"
#define SLUICE_MAP_CT        "sluice_ct_v1"
#define SLUICE_MAP_EVENTS    "sluice_ev_v1"
#define SLUICE_MAP_STATS     "sluice_stat_v1"
#define SLUICE_MAP_DROPAGG   "sluice_dagg_v1"
/*
 * L7 steering and the socket fast path (see bpf/README.md, "why each hook").
 * Kernel object names hold at most 15 characters, hence the short names.
 */
#define SLUICE_MAP_EP_ADDR         "sluice_epip_v1"  /* pod address -> ep_id */
#define SLUICE_MAP_NETNS_EP        "sluice_nsep_v1"  /* pod netns cookie -> ep_id */
#define SLUICE_MAP_PROXY_LISTENERS "sluice_plsn_v1"  /* ep_id -> in-pod proxy listener */
#define SLUICE_MAP_PROXY_STATE     "sluice_pst_v1"   /* [0] = is a proxy serving */
#define SLUICE_MAP_ORIG_DST_SK     "sluice_odsk_v1"  /* socket cookie -> original dst */
#define SLUICE_MAP_ORIG_DST        "sluice_odst_v1"  /* client addr/port/netns -> original dst */
#define SLUICE_MAP_PROXY_FLOWS     "sluice_pflw_v1"  /* proxy upstream tuples */
#define SLUICE_MAP_SOCKS           "sluice_sock_v1"  /* SOCKHASH for sk_msg redirect */
#define SLUICE_MAP_SOCK_SIDE       "sluice_sdir_v1"  /* sock key -> SLUICE_SOCK_ACTIVE/PASSIVE */
#define SLUICE_MAP_SPLICE          "sluice_splc_v1"  /* proxy upstream sock key -> splice slot */
#define SLUICE_MAP_SPLICE_SLOTS    "sluice_spls_v2"  /* splice slots (mmap'd by the proxy) */
#define SLUICE_MAP_SPLICE_SCRATCH  "sluice_splh_v1"  /* per-CPU: a response head being read */
#define SLUICE_MAP_REQ_VERDICTS    "sluice_rqv_v1"   /* request splice: what the proxy allowed */
#define SLUICE_MAP_REQ_RINGS       "sluice_rqr_v1"   /* request splice: each proxy's ring (mmap'd) */
#define SLUICE_MAP_REQ_RECORDS     "sluice_rql_v1"   /* request splice: the rings' records (mmap'd) */
#define SLUICE_MAP_REQ_SCRATCH     "sluice_rqh_v1"   /* per-CPU: a request head being read */
/*
 * Services (ClusterIP translated at the socket, see bpf/README.md): the
 * frontends and their backend slots, the backends, and per socket what it
 * was translated from (for replies and getpeername()).
 */
#define SLUICE_MAP_SERVICES        "sluice_svc_v1"   /* frontend + slot -> service / backend id */
#define SLUICE_MAP_BACKENDS        "sluice_be_v1"    /* backend id -> address */
#define SLUICE_MAP_SVC_REVNAT      "sluice_srev_v1"  /* socket cookie + backend -> frontend */
#define SLUICE_MAP_SVC_FLOWS       "sluice_sflw_v1"  /* endpoint + backend -> frontend (observe) */
#define SLUICE_MAP_SVC_AFFINITY    "sluice_saff_v1"  /* client netns + frontend -> backend, last use */
#define SLUICE_MAP_SVC_AFF_MATCH   "sluice_safm_v1"  /* frontend + backend of an affinity frontend */
/* One-slot array holding SLUICE_ABI_VERSION, written by the loader and
 * compared on adopt; unversioned name on purpose. */
#define SLUICE_MAP_ABI       "sluice_abi"

#define SLUICE_IPCACHE_MAX      65536
#define SLUICE_ENDPOINTS_MAX    4096
#define SLUICE_POLICY_OUTER_MAX 4096
#define SLUICE_POLICY_INNER_MAX 65536
#define SLUICE_CT_MAX           262144
#define SLUICE_DROPAGG_MAX      16384
#define SLUICE_EVENTS_BYTES     (16u << 20)
#define SLUICE_EP_ADDR_MAX      4096
#define SLUICE_NETNS_EP_MAX     4096
#define SLUICE_PROXY_LISTENERS_MAX 4096
#define SLUICE_ORIG_DST_MAX     65536
#define SLUICE_PROXY_FLOWS_MAX  65536
#define SLUICE_SPLICE_SLOTS     4096
#define SLUICE_SPLICE_HEAD_MAX  512   /* a spliced response's head fits in this */
#define SLUICE_REQ_HEAD_MAX     512   /* a request the kernel sends on fits in this */
#define SLUICE_RQ_TEXT_MAX      256   /* its method, target and Host together */
#define SLUICE_RQ_VERDICTS      65536
#define SLUICE_RQ_RINGS         4     /* proxies at once (a replaced one drains) */
#define SLUICE_RQ_RING_LEN      4096  /* records per ring (a power of 2) */
#define SLUICE_RQ_RING_SLACK    64    /* kept free: reservations racing on other CPUs */
#define SLUICE_SOCKS_MAX        65536
/* defaults of the agent's --service-max-entries / --backend-max-entries */
#define SLUICE_SERVICES_MAX     65536
#define SLUICE_BACKENDS_MAX     65536
#define SLUICE_SVC_REVNAT_MAX   65536
#define SLUICE_SVC_FLOWS_MAX    16384
#define SLUICE_SVC_AFFINITY_MAX 65536

/*
 * The node-local proxy's listener inside each pod netns: 127.0.0.1:PORT.
 * Ingress is steered to it by sk_lookup (the packet keeps its destination),
 * egress by cgroup/connect4 (the pod's connect() is rewritten to it).
 */
#define SLUICE_PROXY_PORT 15001

/* Reserved identities, numbered as Cilium numbers them. */
enum sluice_reserved_identity {
	SLUICE_ID_ANY = 0, /* wildcard peer in policy keys; "unknown" elsewhere */
	SLUICE_ID_HOST = 1,
	SLUICE_ID_WORLD = 2,
	SLUICE_ID_UNMANAGED = 3,
	SLUICE_ID_HEALTH = 4,
	SLUICE_ID_INIT = 5,
	SLUICE_ID_REMOTE_NODE = 6,
	SLUICE_ID_KUBE_APISERVER = 7,
	SLUICE_ID_INGRESS = 8,
	SLUICE_ID_RESERVED_MAX = 255,
	SLUICE_ID_CLUSTER_MIN = 256,     /* pod identities */
	SLUICE_ID_LOCAL_MIN = 16777216,  /* CIDR identities (1 << 24) */
};

enum sluice_direction {
	SLUICE_DIR_INGRESS = 0, /* traffic into the endpoint */
	SLUICE_DIR_EGRESS = 1,  /* traffic out of the endpoint */
};

/*
 * ipcache: LPM trie, peer address -> identity. A miss means "world".
 * prefixlen counts bits of addr (IPv4 /32 = 96 + 32 = 128).
 */
struct sluice_ipcache_key {
	__u32 prefixlen;
	__u8 addr[16];
};

struct sluice_ipcache_value {
	__u32 identity;
	__u32 flags; /* SLUICE_IPC_F_* */
};
#define SLUICE_IPC_F_LOCAL_POD 0x1

/* endpoints: hash, host-side veth ifindex -> endpoint. */
struct sluice_endpoint {
	__u32 ep_id;     /* key of the endpoint's inner policy map */
	__u32 identity;  /* the pod's current security identity */
	__u32 flags;     /* SLUICE_EP_F_* */
	__u32 pad;
	__u8 addr[16];   /* the pod's address */
};
#define SLUICE_EP_F_ENFORCE_INGRESS 0x1 /* default deny on ingress */
#define SLUICE_EP_F_ENFORCE_EGRESS  0x2 /* default deny on egress */
/* the node (reserved:host) reaches the pod whatever its ingress default:
 * Cilium's allow-localhost=always (verdict.h) */
#define SLUICE_EP_F_ALLOW_LOCALHOST 0x4

/*
 * policy: HASH_OF_MAPS, ep_id -> inner LPM trie of sluice_policy_key.
 * The data bits after prefixlen are identity(32) direction(8) protocol(8)
 * dport(16), so one trie holds, for one peer identity and direction:
 *   prefixlen 64       exact protocol and port
 *   prefixlen 48 + k   protocol and a port block (port ranges split into
 *                      aligned power-of-two blocks)
 *   prefixlen 48       protocol, any port
 *   prefixlen 40       any protocol, any port (L3 only)
 * A lookup is made twice: for the peer identity and for SLUICE_ID_ANY.
 * The compiler resolves deny precedence inside one trie (a more specific
 * allow covered by a less specific deny is itself written as deny); across
 * the two lookups deny wins, then redirect, then allow.
 */
struct sluice_policy_key {
	__u32 prefixlen;
	__u32 identity_be;  /* big-endian so that LPM prefix bits are in order */
	__u8 direction;
	__u8 protocol;      /* IPPROTO_*; 0 only with prefixlen <= 40 */
	__u16 dport_be;     /* big-endian */
};
#define SLUICE_POLICY_PREFIX_FULL  64
#define SLUICE_POLICY_PREFIX_PROTO 48
#define SLUICE_POLICY_PREFIX_L3    40

struct sluice_policy_entry {
	__u8 flags;       /* SLUICE_POL_F_* */
	__u8 match_kind;  /* enum sluice_match_kind */
	__u16 proxy_port; /* host order, for SLUICE_POL_F_REDIRECT */
	__u32 rule_ref;   /* opaque, for events */
};
#define SLUICE_POL_F_DENY     0x1
#define SLUICE_POL_F_REDIRECT 0x2 /* L7 rules: the flow goes through the proxy */

enum sluice_match_kind {
	SLUICE_MATCH_NONE = 0,
	SLUICE_MATCH_L3_ONLY = 1,
	SLUICE_MATCH_L3_L4 = 2,
	SLUICE_MATCH_L4_ONLY = 3,
	SLUICE_MATCH_ALL = 4,
};

/* One key/value pair of an endpoint's inner policy map, as the compiler
 * produces it and the datapath loader writes it. */
struct sluice_policy_map_entry {
	struct sluice_policy_key key;
	struct sluice_policy_entry value;
};

/*
 * ct: LRU hash, one entry per flow and endpoint, in the flow's first
 * direction. ICMP (bpf/lib/parse.h): a query (echo, timestamp, info, mask
 * request) is (sport = identifier, dport = type); a reply seen first is
 * (sport = its query's type, dport = identifier); any other message is
 * (0, type).
 */
struct sluice_ct_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;      /* host order */
	__u16 dport;      /* host order */
	__u8 protocol;
	__u8 direction;   /* direction of the first packet, seen from ep_id */
	__u16 pad;
	__u32 ep_id;
};

/* ICMP queries (echo, timestamp, info, mask requests) and their replies
 * (0, 14, 16, 18): the one statement of the pairs, for the datapath's
 * conntrack keys (bpf/lib/parse.h) and the agent's reading of them. */
static inline int sluice_icmp_is_query(__u16 type)
{
	return type == 8 || type == 13 || type == 15 || type == 17;
}

static inline __u16 sluice_icmp_reply_of(__u16 query)
{
	return query == 8 ? 0 : (__u16)(query + 1);
}

/* The query a reply answers, or 0xffff when type is no reply. */
static inline __u16 sluice_icmp_query_of(__u16 type)
{
	__u16 q = type == 0 ? 8 : (__u16)(type - 1);

	return type <= 255 && sluice_icmp_is_query(q) && sluice_icmp_reply_of(q) == type ? q : 0xffff;
}

/* The ICMP type of a ct key's first packet (see above), which is the port
 * its policy was looked up with. */
static inline __u16 sluice_ct_icmp_type(__u16 sport, __u16 dport)
{
	if (sluice_icmp_is_query(dport))
		return dport;
	if (sluice_icmp_is_query(sport))
		return sluice_icmp_reply_of(sport);
	return dport;
}

struct sluice_ct_entry {
	__u64 created_ns;
	__u64 last_seen_ns;
	__u64 packets_fwd;
	__u64 packets_rev;
	__u64 bytes_fwd;
	__u64 bytes_rev;
	__u32 peer_identity;
	__u8 flags;       /* SLUICE_CT_F_* */
	__u8 match_kind;
	__u16 proxy_port;
};
#define SLUICE_CT_F_REDIRECT 0x1
#define SLUICE_CT_F_SEEN_FIN 0x2
/*
 * Trace aggregation (Cilium's monitor aggregation "medium"): the TCP flags
 * SYN, FIN and RST already reported for this flow, forward (the flow's
 * first direction) and reverse. A packet of a known flow is reported as a
 * TRACE event only when it carries one of them for the first time in its
 * direction: the SYN-ACK, each side's FIN, a RST; never the bulk of ACKs.
 * For UDP and ICMP the SYN bit means the direction's first packet.
 */
#define SLUICE_CT_F_TRACED_SHIFT_FWD 2
#define SLUICE_CT_F_TRACED_SHIFT_REV 5
#define SLUICE_CT_F_TRACED_SYN 0x1 /* shifted by one of the above */
#define SLUICE_CT_F_TRACED_FIN 0x2
#define SLUICE_CT_F_TRACED_RST 0x4

/*
 * L7 steering maps.
 *
 * ep_addr (hash): sluice_ipcache_key.addr layout, 16 bytes -> __u32 ep_id.
 * netns_ep (hash): __u64 netns cookie (SO_NETNS_COOKIE) -> __u32 ep_id.
 * proxy_listeners (SOCKHASH): __u32 ep_id -> the proxy's listening socket in
 *   that endpoint's netns (value: the fd on update, the socket cookie on
 *   lookup from user space).
 * proxy_state (array[1]): struct sluice_proxy_state.
 */
struct sluice_proxy_state {
	__u32 up;   /* 1 while a proxy serves the listeners; 0 = fail closed */
	__u32 pad;
};

/* Where a redirected connection was going, and whose it was. */
struct sluice_orig_dst {
	__u8 addr[16];        /* original destination (IPv4-mapped) */
	__u16 port;           /* host order */
	__u16 pad;
	__u32 ep_id;          /* the client endpoint */
	__u32 peer_identity;  /* identity of addr, as judged at connect() */
};

/*
 * orig_dst (LRU hash) key: the client socket as the proxy sees it on its
 * accepted socket (getpeername() = 127.0.0.1:port) plus the netns cookie of
 * the proxy's listener (SO_NETNS_COOKIE), since every pod has its own
 * 127.0.0.1. orig_dst_sk (LRU hash) is keyed by the client's socket cookie
 * (__u64) until sock_ops moves the entry here at ACTIVE_ESTABLISHED.
 */
struct sluice_orig_dst_key {
	__u64 netns_cookie;
	__u8 addr[16];
	__u16 port;           /* host order */
	__u16 pad;
	__u32 pad2;
};

/*
 * proxy_flows (LRU hash) key: a TCP connection the proxy opens from a pod's
 * netns (the egress leg of a redirected connection), as from_container sees
 * its packets: saddr = the pod, daddr = the original destination. Value:
 * __u8, 1. Written by the proxy before connect(), deleted after close.
 */
struct sluice_proxy_flow_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;          /* host order */
	__u16 dport;          /* host order */
	__u8 protocol;
	__u8 pad[3];
};

/*
 * socks (SOCKHASH) key: an established TCP socket, from its own side. The
 * netns cookie is set only when either address is a loopback one (127/8):
 * those tuples repeat in every pod, other addresses are unique on the node
 * and must match across namespaces (pod <-> pod, pod <-> host).
 */
struct sluice_sock_key {
	__u8 local_addr[16];
	__u8 remote_addr[16];
	__u64 netns_cookie;
	__u16 local_port;     /* host order */
	__u16 remote_port;    /* host order */
	__u32 pad;
};

/*
 * sock side (hash, same key as socks): which side of its connection a
 * socket is, written when it is established. Bytes on the sk_msg fast path
 * skip tc, so a long-lived accelerated flow may lose its conntrack entry to
 * LRU eviction; the agent then still finds the flow here (and its
 * direction) when a policy change revokes it.
 */
#define SLUICE_SOCK_ACTIVE  1 /* this side connected (its endpoint's egress) */
#define SLUICE_SOCK_PASSIVE 2 /* this side accepted (its endpoint's ingress) */

/*
 * Response splice: the bytes of a simple HTTP response go from the server's
 * socket straight into the client's receive queue, not through the proxy.
 *
 * The proxy serves one request at a time on an upstream connection. Before
 * it writes a request whose response it would pass on unchanged but for
 * the hop-by-hop lines (HTTP/1.1, keep-alive, not HEAD/CONNECT/upgrade, no
 * body), it arms the connection's slot: the client socket's key, then state
 * ARMED. sk_msg on the server's next send takes the slot (ARMED -> BUSY) and
 * reads the response head as http_conn.c's http_resp_simple() does: when it
 * is simple, whole in the first SLUICE_SPLICE_HEAD_MAX bytes and alone in
 * its message (nothing after its body), the program drops the Connection /
 * Keep-Alive lines (as the proxy would), redirects the message to the
 * client, and counts the body by its Content-Length over further sends
 * (BODY) to DONE. Anything else is PASSED: the bytes go to the proxy's
 * upstream socket as before, and the proxy frames the response itself.
 * Bytes after a counted body go to the proxy too (as today: an upstream
 * talking out of turn). The proxy reads DONE, PASSED or BROKEN (the client
 * socket was gone mid-body) from the mmap'd slot and sets IDLE again.
 *
 * splice (hash): the proxy's upstream socket's key (as in socks) -> which
 * slot, and its generation; the slot is used only while its gen matches,
 * so an entry outliving its socket or slot is inert. A proxy claims a slot
 * by compare-and-swap of owner and raises its gen at every claim and
 * release (proxy/splice.c); the program never reads owner.
 */
#define SLUICE_SPLICE_IDLE   0
#define SLUICE_SPLICE_ARMED  1  /* proxy: the next response may be spliced */
#define SLUICE_SPLICE_BUSY   2  /* sk_msg: reading its head */
#define SLUICE_SPLICE_BODY   3  /* sk_msg: head sent to the client, body_left to go */
#define SLUICE_SPLICE_DONE   4  /* sk_msg: the whole response went to the client */
#define SLUICE_SPLICE_PASSED 5  /* sk_msg: not spliced, the proxy gets it */
#define SLUICE_SPLICE_BROKEN 6  /* sk_msg: the client went away mid-body */

struct sluice_splice_ref {
	__u32 slot;
	__u32 gen;
};

struct sluice_splice_slot {
	__u64 state;          /* SLUICE_SPLICE_* (64 bits: BPF's cmpxchg) */
	__u32 gen;
	__u32 status;
	struct sluice_sock_key client; /* the client socket's own key (socks) */
	__u64 body_left;      /* BODY: bytes of the body still to come */
	__u64 first_ns;       /* bpf_ktime_get_ns() when the head went */
	__u64 last_ns;        /* ... when the last byte went */
	__u64 bytes;          /* bytes sent to the client (head as rewritten) */
	__u64 spliced;        /* responses spliced through this slot (stats) */
	__u32 owner;          /* the pid of the proxy using the slot, 0: free
			       * (several proxies run while one drains) */
	__u32 pad;
	/* the request splice, while a client connection is paired with the
	 * upstream connection (see below) */
	__u64 rq;             /* SLUICE_RQ_* (64 bits: BPF's cmpxchg) */
	struct sluice_sock_key server; /* the server socket's own key (socks) */
	__u64 rq_seq;         /* TAKEN / HOLD: the exchange's record (ring seq) */
	__u64 rq_taken;       /* requests the kernel sent on (stats, activity) */
	__u64 rq_passed;      /* sk_msg: client bytes it let go to the proxy */
	__u64 rq_read;        /* proxy: client bytes it read (both since pairing) */
	__u32 ep_id;          /* what the proxy looks the rules up by */
	__u32 peer_identity;
	__u16 port;
	__u8 direction;
	__u8 ring;            /* the owner's record ring */
	__u32 self;           /* this slot's number (for records) */
};

/*
 * Request splice: a request the proxy would pass on unchanged, on a client
 * connection the proxy paired with its upstream connection, goes from the
 * client's socket straight to the server's, when the proxy allowed the
 * same request (rules context, method, target, Host) before.
 *
 * Pairing (proxy, between two exchanges): the slot of the upstream
 * connection gets the client and server socket keys and the rules context,
 * and a second splice entry: the proxy's client-facing socket's key ->
 * the slot with SLUICE_SPLICE_REF_CLIENT. Then rq = READY.
 *
 * sk_msg on the client's send, with rq READY (-> BUSY), no response
 * under way and every byte it let go to the proxy read by the proxy
 * (rq_passed == rq_read: so no earlier request can still be waiting in the
 * proxy's socket; bytes sent before the pairing are not counted, which
 * only ever makes rq_read larger and keeps the kernel out of that
 * connection): the message must be exactly one request head that
 * bpf/lib/req_head.h takes (what http_conn would send upstream byte for
 * byte, its rules seeing those method, target and Host bytes). Its key
 * (struct sluice_rq_key, with the ring's epoch) must be in the verdicts
 * map: the proxy writes a key there when it allowed such a request by
 * rules that look at nothing else (no header rules, no header edits), under
 * its current rules table (epoch; a new table, a new epoch: old keys never
 * match again). Then the message goes to the server socket's receive queue,
 * a record is reserved in the owner's ring (never when the ring is full:
 * the request then goes to the proxy), the response is armed on the slot
 * as the proxy would arm it, rq = TAKEN. Anything else: rq = OFF and the
 * bytes go to the proxy, which frames the request as always and sets READY
 * again when it is idle.
 *
 * The response ends as in the response splice; for a TAKEN exchange the
 * program itself completes the record (outcome, status, bytes, times, then
 * done = seq + 1) and moves on: DONE -> rq READY (the next request may go
 * the same way), PASSED -> OFF (the response comes to the proxy's upstream
 * socket: the proxy takes the exchange over from the record), BROKEN ->
 * OFF (the proxy closes both sides). Bytes from the client while TAKEN
 * (pipelined) go to the proxy and make it HOLD: OFF when the exchange ends.
 *
 * The proxy's own exchanges hand over too: a paired connection's client
 * keeps sending, so the proxy is rarely idle between its requests. When
 * it arms a response (every client byte read), the proxy may set AFTER:
 * at DONE the program writes a record of that response (own = 1: status,
 * bytes, times; the proxy ends its exchange from it) and sets READY, so
 * the client's next request may already go the kernel's way. Client bytes
 * meanwhile (-> OFF), a full ring, or any other end: the slot's state is
 * left to the proxy as in the response splice.
 *
 * The proxy reads its ring's completed records in order (out of order
 * ones wait) and logs each exchange as if it had carried it: access log,
 * flows, counters. It only ever moves rq OFF <-> READY by compare-and-swap.
 */
#define SLUICE_SPLICE_REF_CLIENT (1u << 31) /* in sluice_splice_ref.slot */

#define SLUICE_RQ_OFF   0  /* the proxy reads the client's requests */
#define SLUICE_RQ_READY 1  /* proxy: idle; the kernel may send the next request on */
#define SLUICE_RQ_BUSY  2  /* sk_msg: reading a request */
#define SLUICE_RQ_TAKEN 3  /* sk_msg: a request went to the server, its response is armed */
#define SLUICE_RQ_HOLD  4  /* TAKEN, and the client sent more (to the proxy): OFF at its end */
#define SLUICE_RQ_AFTER 5  /* proxy: the response it armed is its own; once DONE, the
			    * program records it (own = 1) and goes READY */

#define SLUICE_RQ_ALLOW 1  /* a verdict's value */

struct sluice_rq_key {
	__u64 epoch;          /* the proxy's rules table (its ring's epoch) */
	__u32 ep_id;
	__u32 peer_identity;
	__u16 port;
	__u8 direction;
	__u8 pad;
	__u16 method_len;
	__u16 target_len;
	__u16 host_len;
	__u16 pad2;
	__u32 pad3;
	__u8 text[SLUICE_RQ_TEXT_MAX]; /* method, target, Host; zeros after */
};

/* One proxy's ring; head and tail on their own cache lines. */
struct sluice_rq_ring {
	__u64 head;           /* sk_msg: records reserved (fetch-and-add) */
	__u64 pad0[7];
	__u64 tail;           /* proxy: records consumed */
	__u64 epoch;          /* proxy: its rules table, in every key it writes */
	__u32 owner;          /* proxy pid, 0: free (claimed as slots are) */
	__u32 pad1;
	__u64 pad2[5];
};

struct sluice_rq_rec {
	__u64 done;           /* seq + 1 once the exchange is over, else older */
	__u64 seq;            /* whose record it is now (a late writer checks) */
	__u32 slot;
	__u32 gen;
	__u32 outcome;        /* SLUICE_SPLICE_DONE / PASSED / BROKEN */
	__u32 status;
	__u32 own;            /* 1: the proxy's exchange (AFTER); key unused */
	__u32 pad;
	__u64 req_ns;         /* bpf_ktime_get_ns() when the request went */
	__u64 first_ns;
	__u64 last_ns;
	__u64 bytes_in;
	__u64 bytes_out;
	struct sluice_rq_key key;
};

/*
 * services (hash). One frontend (ClusterIP, port, protocol) takes
 * 1 + count keys: slot 0 holds the service, slots 1..count the ids of its
 * backends. connect4/sendmsg4 read slot 0, pick a slot at random and read
 * that backend. The agent writes backend slots before the count that makes
 * them reachable, and lowers the count before it deletes slots, so a reader
 * never picks a slot that is not there.
 */
struct sluice_svc_key {
	__u8 addr[16];        /* the ClusterIP (IPv4-mapped); all zero: a node
			       * port, on any node's address (NodePort) */
	__u16 port;           /* host order */
	__u8 protocol;        /* IPPROTO_TCP / IPPROTO_UDP */
	__u8 pad;
	__u16 slot;           /* 0: the service; 1..count: a backend */
	__u16 pad2;
};

struct sluice_svc_entry {
	__u32 svc_id;         /* slot 0: the frontend's id (observe, metrics) */
	__u32 backend_id;     /* slot > 0: key of the backends map */
	__u16 count;          /* slot 0: number of backends (0: refuse) */
	__u16 flags;          /* slot 0: SLUICE_SVC_F_* */
	__u32 affinity_timeout; /* slot 0 with SLUICE_SVC_F_AFFINITY: seconds */
};

/* slot 0 flags */
#define SLUICE_SVC_F_AFFINITY 0x1 /* sessionAffinity: ClientIP */

/*
 * svc_affinity (LRU hash): ClientIP session affinity, as Cilium's socket LB
 * keeps it: the client is its network namespace (a pod), so every socket
 * of one pod reaches the same backend of the frontend while the last use
 * is younger than the frontend's timeout. An entry is only followed while
 * its backend is still one of the frontend's (svc_aff_match), so a removed
 * backend is never reached through an old affinity.
 */
struct sluice_svc_aff_key {
	__u64 netns_cookie;   /* the client pod's netns */
	__u32 svc_id;         /* the frontend */
	__u32 pad;
};

struct sluice_svc_aff {
	__u64 last_ns;        /* bpf_ktime_get_ns() of the last use */
	__u32 backend_id;
	__u32 pad;
};

/* svc_aff_match (hash): {svc_id, backend_id} -> 1 for every backend of a
 * frontend with affinity (written by the agent with the slots) */
struct sluice_svc_aff_match_key {
	__u32 svc_id;
	__u32 backend_id;
};

/* backends (hash): __u32 backend id -> where a backend listens */
struct sluice_backend {
	__u8 addr[16];        /* IPv4-mapped */
	__u16 port;           /* host order */
	__u8 protocol;
	__u8 pad;
	__u32 pad2;
};

/*
 * svc_revnat (LRU hash): what a socket was translated from, so that UDP
 * replies (recvmsg4) and getpeername4 show the ClusterIP, not the backend.
 * Keyed by the socket's cookie and the address it was sent to.
 */
struct sluice_svc_revnat_key {
	__u64 cookie;
	__u8 addr[16];        /* the backend (or the L7 proxy's listener) */
	__u16 port;           /* host order */
	__u16 pad;
	__u32 pad2;
};

struct sluice_svc_revnat {
	__u8 addr[16];        /* the frontend */
	__u16 port;           /* host order */
	__u16 pad;
	__u32 svc_id;
};

/*
 * svc_flows (LRU hash): the last service an endpoint reached a backend
 * through, for observe (tc sees only the backend). Value: __u32 svc_id.
 */
struct sluice_svc_flow_key {
	__u8 addr[16];        /* the backend */
	__u32 ep_id;          /* the client endpoint */
	__u16 port;           /* host order */
	__u8 protocol;
	__u8 pad;
};

/* Verdicts and drop reasons. Drop reasons travel to user space as events. */
enum sluice_verdict {
	SLUICE_VERDICT_FORWARDED = 1,
	SLUICE_VERDICT_DROPPED = 2,
	SLUICE_VERDICT_REDIRECTED = 3, /* allowed at L4, handed to the proxy */
};

/*
 * Drop reasons: one list for the kernel (the enum below), the agent's flows
 * (drop_reason_desc, as Hubble names the reason), `sluice observe`'s text
 * and the metrics' reason label, so the tables cannot drift apart.
 * Numbers are Cilium's where the meaning is Cilium's (api/v1/flow/flow.proto,
 * DropReason); sluice's own reasons are numbered outside Cilium's table
 * (250 and up), so Hubble tooling never reads them as something else.
 *   X(NAME, number, Hubble's name, metric label, text)
 */
#define SLUICE_DROP_REASONS(X)                                                                        \
	X(INVALID_SOURCE, 132, "INVALID_SOURCE_IP", "invalid_source_ip", "Invalid source ip")         \
	X(POLICY_DENIED, 133, "POLICY_DENIED", "policy_denied", "Policy denied")                     \
	X(INVALID_PACKET, 134, "INVALID_PACKET_DROPPED", "invalid_packet", "Invalid packet")         \
	X(UNSUPPORTED_L3, 139, "UNSUPPORTED_L3_PROTOCOL", "unsupported_l3_protocol",                 \
	  "Unsupported L3 protocol")                                                                  \
	X(POLICY_DENY, 181, "POLICY_DENY", "policy_deny", "Policy denied by denylist")               \
	/* an L7 port and no proxy to enforce its rules: fail closed */                              \
	X(PROXY_UNAVAILABLE, 250, "PROXY_UNAVAILABLE", "proxy_unavailable", "Proxy unavailable")

#define SLUICE_DROP_ENUM_(name, num, hubble, metric, text) SLUICE_DROP_##name = num,
enum sluice_drop_reason {
	SLUICE_DROP_NONE = 0,
	SLUICE_DROP_REASONS(SLUICE_DROP_ENUM_)
};
#undef SLUICE_DROP_ENUM_

enum sluice_event_type {
	SLUICE_EVENT_POLICY_VERDICT = 1, /* first packet of a flow, allowed */
	SLUICE_EVENT_DROP = 2,
	SLUICE_EVENT_TRACE = 3,          /* a known flow's packet with new SYN/FIN/RST, a first reply */
};

/*
 * A TRACE event's trace byte: where the packet was seen (Hubble's
 * trace_observation_point) and whether it goes against the flow's first
 * direction (is_reply). to-endpoint: delivered to the pod (the hook of its
 * ingress); to-proxy: the same, but to the proxy's listener in the pod;
 * to-stack: sent by the pod to an address that is not a local pod (a
 * packet between two local pods is reported once, where it is delivered).
 */
#define SLUICE_TRACE_TO_ENDPOINT 1
#define SLUICE_TRACE_TO_PROXY 2
#define SLUICE_TRACE_TO_STACK 3
#define SLUICE_TRACE_POINT_MASK 0x3
#define SLUICE_TRACE_REPLY 0x80

/* One record in the events ring buffer. */
struct sluice_flow_event {
	__u64 ts_ns;          /* bpf_ktime_get_ns() */
	__u32 type;           /* enum sluice_event_type */
	__u32 ep_id;
	__u32 ep_identity;
	__u32 peer_identity;
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;          /* ICMP: the type */
	__u16 dport;          /* ICMP: the code */
	__u8 protocol;
	__u8 direction;
	__u8 verdict;         /* enum sluice_verdict */
	__u8 match_kind;
	__u16 drop_reason;    /* enum sluice_drop_reason */
	__u8 tcp_flags;
	__u8 trace;           /* TRACE events: SLUICE_TRACE_*; else 0 */
	__u32 ifindex;
	__u32 len;
	/* the deciding policy entry's rule_ref (policy verdicts, drops by a
	 * deny entry), else 0: which policy allowed or denied the flow */
	__u32 rule_ref;
};

/*
 * stats: per-CPU array of counters. One list for the kernel's indexes, the
 * names `sluice status` shows and the metrics (family and labels), so the
 * three cannot drift apart.
 *   X(NAME, status name, metric family, metric labels)
 */
#define SLUICE_STATS(X)                                                                               \
	X(FORWARDED_INGRESS, "forwarded_ingress", "sluice_datapath_packets_total",                    \
	  "direction=\"ingress\",verdict=\"forwarded\"")                                              \
	X(FORWARDED_EGRESS, "forwarded_egress", "sluice_datapath_packets_total",                      \
	  "direction=\"egress\",verdict=\"forwarded\"")                                               \
	X(DROPPED_INGRESS, "dropped_ingress", "sluice_datapath_packets_total",                        \
	  "direction=\"ingress\",verdict=\"dropped\"")                                                \
	X(DROPPED_EGRESS, "dropped_egress", "sluice_datapath_packets_total",                          \
	  "direction=\"egress\",verdict=\"dropped\"")                                                 \
	X(DROP_POLICY_DENIED, "drop_policy_denied", "sluice_datapath_drops_by_reason_total",          \
	  "reason=\"policy_denied\"")                                                                 \
	X(DROP_POLICY_DENY, "drop_policy_deny", "sluice_datapath_drops_by_reason_total",              \
	  "reason=\"policy_deny\"")                                                                   \
	X(DROP_PROXY_UNAVAILABLE, "drop_proxy_unavailable", "sluice_datapath_drops_by_reason_total",  \
	  "reason=\"proxy_unavailable\"")                                                             \
	X(DROP_OTHER, "drop_other", "sluice_datapath_drops_by_reason_total", "reason=\"other\"")       \
	X(EVENTS_LOST, "events_lost", "sluice_events_lost_total", "")                                 \
	X(CT_CREATED, "ct_created", "sluice_conntrack_created_total", "")                             \
	X(REDIRECTED, "redirected", "sluice_datapath_redirected_total", "")                           \
	X(SVC_TRANSLATED_TCP, "service_translations_tcp", "sluice_service_translations_total",         \
	  "protocol=\"TCP\"")                                                                          \
	X(SVC_TRANSLATED_UDP, "service_translations_udp", "sluice_service_translations_total",         \
	  "protocol=\"UDP\"")                                                                          \
	X(SVC_NO_BACKEND_TCP, "service_no_backend_tcp", "sluice_service_no_backend_total",             \
	  "protocol=\"TCP\"")                                                                          \
	X(SVC_NO_BACKEND_UDP, "service_no_backend_udp", "sluice_service_no_backend_total",             \
	  "protocol=\"UDP\"")

#define SLUICE_STAT_ENUM_(name, status, family, labels) SLUICE_STAT_##name,
enum sluice_stat {
	SLUICE_STATS(SLUICE_STAT_ENUM_)
	SLUICE_STAT_MAX,
};
#undef SLUICE_STAT_ENUM_

#endif /* SLUICE_ABI_H */
