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

char LICENSE[] SEC("license") = "GPL";

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
		s->state = SLUICE_SPLICE_BROKEN;
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
		s->state = SLUICE_SPLICE_DONE;
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
			s->state = SLUICE_SPLICE_BROKEN;
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
		s->state = SLUICE_SPLICE_DONE;
	} else {
		s->state = SLUICE_SPLICE_BODY;
	}
	return 1;
pass:
	s->state = SLUICE_SPLICE_PASSED;
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
		__u32 slot = ref->slot;

		s = bpf_map_lookup_elem(&sluice_spls_v1, &slot);
		if (s && s->gen == ref->gen) {
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
