/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bpf_skmsg.c - the socket fast path: bytes a local TCP socket sends go
 * straight into the receive queue of its peer socket when both ends are on
 * this node, skipping two TCP/IP stacks and the veth.
 *
 * Why sk_msg: it runs in sendmsg() of every socket in the socks SOCKHASH
 * (bpf_sockops.c inserts them) and can redirect the message to another
 * socket of the map. Attached to the map (BPF_SK_MSG_VERDICT) by the loader.
 *
 * Policy is unaffected: both sockets exist only because their handshake
 * crossed tc (and sk_lookup/connect4), and data of an established flow is
 * not judged per packet anyway. What changes is that tc no longer sees the
 * data packets (CT packet/byte counters stop at the handshake).
 *
 * A peer that is not in the map (remote node, socket not registered): the
 * helper returns SK_DROP for a missing key, so the program ignores it and
 * returns SK_PASS: the bytes take the normal path.
 */
#include "lib/common.h"
#include "lib/socks.h"
#include "lib/splice.h"
#include "lib/req_splice.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * The request splice (include/sluice/abi.h): the exchange the kernel sent
 * the request of is over on this side. Completes its record, then rq moves
 * on: READY after DONE (unless the client sent more meanwhile: HOLD), else
 * OFF (the proxy takes over).
 */
static __always_inline void req_end(struct sluice_splice_slot *s, __u32 outcome)
{
	__u64 seq = s->rq_seq;
	__u32 idx = ((__u32)s->ring & (SLUICE_RQ_RINGS - 1)) * SLUICE_RQ_RING_LEN +
		    (__u32)(seq & (SLUICE_RQ_RING_LEN - 1));
	struct sluice_rq_rec *rec = bpf_map_lookup_elem(&sluice_rql_v1, &idx);

	/* rec->seq: a record of ours still, not one the ring reused */
	if (rec && rec->seq == seq) {
		rec->outcome = outcome;
		rec->status = s->status;
		rec->first_ns = s->first_ns;
		rec->last_ns = s->last_ns;
		rec->bytes_out = s->bytes;
		/* the proxy may have given it up (its connection closed) */
		__sync_val_compare_and_swap(&rec->done, 0, seq + 1);
	}
	if (outcome == SLUICE_SPLICE_DONE) {
		s->state = SLUICE_SPLICE_IDLE;
		if (__sync_val_compare_and_swap(&s->rq, SLUICE_RQ_TAKEN, SLUICE_RQ_READY) !=
		    SLUICE_RQ_TAKEN)
			s->rq = SLUICE_RQ_OFF;
	} else {
		if (outcome == SLUICE_SPLICE_PASSED)
			s->state = SLUICE_SPLICE_IDLE; /* the proxy adopts it from the record */
		s->rq = SLUICE_RQ_OFF;
	}
}

/* A response the proxy armed with AFTER is over: DONE becomes a record of
 * the proxy's (own) and rq READY; anything else (or no room) is the
 * proxy's as in the response splice. */
static __always_inline void req_after(struct sluice_splice_slot *s, __u32 state)
{
	struct sluice_rq_ring *ring;
	struct sluice_rq_rec *rec;
	__u32 ri = s->ring, idx;
	__u64 seq;

	if (state != SLUICE_SPLICE_DONE || ri >= SLUICE_RQ_RINGS ||
	    !(ring = bpf_map_lookup_elem(&sluice_rqr_v1, &ri)) ||
	    *(volatile __u64 *)&ring->head - *(volatile __u64 *)&ring->tail >=
		    SLUICE_RQ_RING_LEN - SLUICE_RQ_RING_SLACK)
		goto proxy;
	seq = __sync_fetch_and_add(&ring->head, 1);
	idx = ri * SLUICE_RQ_RING_LEN + (__u32)(seq & (SLUICE_RQ_RING_LEN - 1));
	rec = bpf_map_lookup_elem(&sluice_rql_v1, &idx);
	if (!rec)
		goto proxy; /* never: idx is in the array */
	rec->done = 0;
	rec->seq = seq;
	rec->slot = s->self;
	rec->gen = s->gen;
	rec->outcome = SLUICE_SPLICE_DONE;
	rec->status = s->status;
	rec->own = 1;
	rec->req_ns = 0;
	rec->first_ns = s->first_ns;
	rec->last_ns = s->last_ns;
	rec->bytes_in = 0;
	rec->bytes_out = s->bytes;
	__sync_val_compare_and_swap(&rec->done, 0, seq + 1);
	s->state = SLUICE_SPLICE_IDLE;
	/* client bytes since (-> OFF): the proxy has them, and this record */
	__sync_val_compare_and_swap(&s->rq, SLUICE_RQ_AFTER, SLUICE_RQ_READY);
	return;
proxy:
	__sync_val_compare_and_swap(&s->rq, SLUICE_RQ_AFTER, SLUICE_RQ_OFF);
}

/* The state a response ends in: for an exchange the kernel started, its
 * record and rq too; for one the proxy armed with AFTER, maybe a record. */
static __always_inline void splice_end(struct sluice_splice_slot *s, __u32 state)
{
	__u64 rq = s->rq;

	s->state = state;
	if (rq == SLUICE_RQ_TAKEN || rq == SLUICE_RQ_HOLD)
		req_end(s, state);
	else if (rq == SLUICE_RQ_AFTER)
		req_after(s, state);
}

/*
 * The response splice (include/sluice/abi.h): the sender is a server whose
 * peer is a proxy upstream socket with an armed slot. Returns 1 when the
 * message went to the client (its verdict is set), 0 when it takes the
 * normal way to the peer.
 */
static __always_inline int splice_body(struct sk_msg_md *msg, struct sluice_splice_slot *s)
{
	struct sluice_sock_key client = s->client;
	__u64 left = s->body_left, size = msg->size;

	if (bpf_msg_redirect_hash(msg, &sluice_sock_v1, &client, BPF_F_INGRESS) != SK_PASS) {
		/* the client is gone: the proxy closes both sides */
		splice_end(s, SLUICE_SPLICE_BROKEN);
		return 0;
	}
	if (size > left) {
		/* bytes after the body: they come back to this program, which
		 * then sends them to the proxy (DONE) */
		bpf_msg_apply_bytes(msg, (__u32)left);
		size = left;
	}
	s->bytes += size;
	s->body_left = left - size;
	if (!s->body_left) {
		s->last_ns = bpf_ktime_get_ns();
		s->spliced++;
		splice_end(s, SLUICE_SPLICE_DONE);
	}
	return 1;
}

static __always_inline int splice_head(struct sk_msg_md *msg, struct sluice_splice_slot *s)
{
	struct sluice_sock_key client;
	struct splice_head *h;
	__u32 zero = 0, n = msg->size, i, dropped = 0;
	__u64 body;
	void *data, *data_end;

	h = bpf_map_lookup_elem(&sluice_splh_v1, &zero);
	if (!h)
		goto pass;
	if (n > SLUICE_SPLICE_HEAD_MAX)
		n = SLUICE_SPLICE_HEAD_MAX;
	if (n < 19 || bpf_msg_pull_data(msg, 0, n, 0))
		goto pass;
	data = msg->data;
	data_end = msg->data_end;
	if (data + n > data_end)
		goto pass;
	if (bpf_probe_read_kernel(h->buf, n & (2 * SLUICE_SPLICE_HEAD_MAX - 1), data))
		goto pass;
	if (!splice_head_read(h, n))
		goto pass;
	/* the response must be alone in its message (nothing after its body):
	 * the proxy serves one request at a time, so more is out of turn */
	body = msg->size - h->head_len;
	if (body > h->content_length)
		goto pass;
	client = s->client;
	if (bpf_msg_redirect_hash(msg, &sluice_sock_v1, &client, BPF_F_INGRESS) != SK_PASS)
		goto pass;
	/* the lines the proxy drops, last first so that earlier offsets hold */
	for (i = SPLICE_DROP_MAX; i > 0; i--) {
		__u32 k = i - 1, off, len;

		if (k >= h->ndrop || k >= SPLICE_DROP_MAX)
			continue;
		off = h->drop_off[k];
		len = h->drop_end[k] - off;
		if (bpf_msg_pop_data(msg, off, len, 0)) {
			/* half rewritten: nobody may get these bytes as they are */
			splice_end(s, SLUICE_SPLICE_BROKEN);
			return -1;
		}
		dropped += len;
	}
	s->status = h->status;
	s->first_ns = bpf_ktime_get_ns();
	s->bytes = h->head_len - dropped + body;
	s->body_left = h->content_length - body;
	if (!s->body_left) {
		s->last_ns = s->first_ns;
		s->spliced++;
		splice_end(s, SLUICE_SPLICE_DONE);
	} else {
		s->state = SLUICE_SPLICE_BODY;
	}
	return 1;
pass:
	splice_end(s, SLUICE_SPLICE_PASSED);
	return 0;
}

/*
 * The request splice: the sender is a client whose peer is the proxy's
 * socket of a paired connection. Returns 1 when the request went to the
 * server (the verdict is set), 0 when the bytes go to the proxy.
 */
static __always_inline int req_take(struct sk_msg_md *msg, struct sluice_splice_slot *s,
				    __u32 slot)
{
	struct sluice_sock_key server;
	struct sluice_rq_ring *ring;
	struct sluice_rq_rec *rec;
	struct sluice_rq_key *k;
	struct req_scratch *x;
	__u32 zero = 0, n = msg->size, ri, idx, mlen, tlen, hlen, toff, hoff, *v;
	__u64 rq = s->rq, seq;
	void *data, *data_end;

	if (rq == SLUICE_RQ_TAKEN || rq == SLUICE_RQ_AFTER) {
		/* more while a request is out (pipelined): the proxy's, after it */
		__sync_val_compare_and_swap(&s->rq, rq,
					    rq == SLUICE_RQ_TAKEN ? SLUICE_RQ_HOLD : SLUICE_RQ_OFF);
		goto passed;
	}
	if (rq != SLUICE_RQ_READY || s->state != SLUICE_SPLICE_IDLE ||
	    s->rq_passed != *(volatile __u64 *)&s->rq_read ||
	    __sync_val_compare_and_swap(&s->rq, SLUICE_RQ_READY, SLUICE_RQ_BUSY) !=
		    SLUICE_RQ_READY)
		goto passed;
	ri = s->ring;
	if (ri >= SLUICE_RQ_RINGS)
		goto off;
	ring = bpf_map_lookup_elem(&sluice_rqr_v1, &ri);
	x = bpf_map_lookup_elem(&sluice_rqh_v1, &zero);
	if (!ring || !x)
		goto off;
	if (n < 16 || n > SLUICE_REQ_HEAD_MAX || bpf_msg_pull_data(msg, 0, n, 0))
		goto off;
	data = msg->data;
	data_end = msg->data_end;
	if (data + n > data_end)
		goto off;
	if (bpf_probe_read_kernel(x->h.buf, n & (2 * SLUICE_REQ_HEAD_MAX - 1), data))
		goto off;
	if (!req_head_read(&x->h, n) || x->h.head_len != n)
		goto off;
	mlen = x->h.method_len;
	tlen = x->h.target_len;
	toff = x->h.target_off;
	hoff = x->h.host_off;
	hlen = x->h.host_end - hoff;
	if (mlen > 7 || tlen > SLUICE_RQ_TEXT_MAX || hlen > SLUICE_RQ_TEXT_MAX ||
	    mlen + tlen + hlen > SLUICE_RQ_TEXT_MAX)
		goto off;
	k = &x->key;
	__builtin_memset(k, 0, sizeof(*k));
	k->epoch = ring->epoch;
	k->ep_id = s->ep_id;
	k->peer_identity = s->peer_identity;
	k->port = s->port;
	k->direction = s->direction;
	k->method_len = (__u16)mlen;
	k->target_len = (__u16)tlen;
	k->host_len = (__u16)hlen;
	if (bpf_probe_read_kernel(k->text, mlen & 7, x->h.buf) ||
	    bpf_probe_read_kernel(k->text + (mlen & 7), tlen & (SLUICE_RQ_TEXT_MAX - 1),
				  x->h.buf + (toff & (SLUICE_REQ_HEAD_MAX - 1))) ||
	    bpf_probe_read_kernel(k->text + ((mlen + tlen) & (SLUICE_RQ_TEXT_MAX - 1)),
				  hlen & (SLUICE_RQ_TEXT_MAX - 1),
				  x->h.buf + (hoff & (SLUICE_REQ_HEAD_MAX - 1))))
		goto off;
	v = bpf_map_lookup_elem(&sluice_rqv_v1, k);
	if (!v || *v != SLUICE_RQ_ALLOW)
		goto off;
	/* room in the ring: else the proxy carries it (and logs it) */
	if (*(volatile __u64 *)&ring->head - *(volatile __u64 *)&ring->tail >=
	    SLUICE_RQ_RING_LEN - SLUICE_RQ_RING_SLACK)
		goto off;
	server = s->server;
	if (bpf_msg_redirect_hash(msg, &sluice_sock_v1, &server, BPF_F_INGRESS) != SK_PASS)
		goto off;
	seq = __sync_fetch_and_add(&ring->head, 1);
	idx = ri * SLUICE_RQ_RING_LEN + (__u32)(seq & (SLUICE_RQ_RING_LEN - 1));
	rec = bpf_map_lookup_elem(&sluice_rql_v1, &idx);
	if (!rec)
		goto off; /* never: idx is in the array */
	rec->done = 0;
	rec->seq = seq;
	rec->slot = slot;
	rec->gen = s->gen;
	rec->outcome = 0;
	rec->status = 0;
	rec->own = 0;
	rec->req_ns = bpf_ktime_get_ns();
	rec->first_ns = rec->last_ns = 0;
	rec->bytes_in = n;
	rec->bytes_out = 0;
	__builtin_memcpy(&rec->key, k, sizeof(*k));
	s->rq_seq = seq;
	s->rq_taken++;
	s->status = 0;
	s->bytes = 0;
	/* armed as the proxy arms it: s->client was set when it paired */
	s->state = SLUICE_SPLICE_ARMED;
	s->rq = SLUICE_RQ_TAKEN;
	return 1;
off:
	s->rq = SLUICE_RQ_OFF;
passed:
	/* only this client's sends write it (one at a time: the socket lock) */
	s->rq_passed += n;
	return 0;
}

SEC("sk_msg")
int sk_msg_redirect(struct sk_msg_md *msg)
{
	struct sluice_sock_key peer;
	struct sluice_splice_ref *ref;
	struct sluice_splice_slot *s;

	__be32 lip, rip;

	if (!sock_v4_addrs(msg, &lip, &rip))
		return SK_PASS;
	/* the peer's key is ours reversed */
	sock_key_fill(&peer, rip, (__u16)bpf_ntohl(msg->remote_port), lip, (__u16)msg->local_port,
		      bpf_get_netns_cookie(msg));
	ref = bpf_map_lookup_elem(&sluice_splc_v1, &peer);
	if (ref) {
		__u32 slot = ref->slot & ~SLUICE_SPLICE_REF_CLIENT;

		s = bpf_map_lookup_elem(&sluice_spls_v2, &slot);
		if (s && s->gen == ref->gen && (ref->slot & SLUICE_SPLICE_REF_CLIENT)) {
			/* a client of the proxy */
			if (req_take(msg, s, slot))
				return SK_PASS;
		} else if (s && s->gen == ref->gen) {
			int r = 0;

			if (s->state == SLUICE_SPLICE_BODY)
				r = splice_body(msg, s);
			else if (s->state == SLUICE_SPLICE_ARMED &&
				 __sync_val_compare_and_swap(&s->state, SLUICE_SPLICE_ARMED,
							     SLUICE_SPLICE_BUSY) ==
					 SLUICE_SPLICE_ARMED)
				r = splice_head(msg, s);
			if (r > 0)
				return SK_PASS;
			if (r < 0)
				return SK_DROP;
		}
	}
	bpf_msg_redirect_hash(msg, &sluice_sock_v1, &peer, BPF_F_INGRESS);
	return SK_PASS;
}
