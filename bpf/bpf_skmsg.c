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

char LICENSE[] SEC("license") = "GPL";

SEC("sk_msg")
int sk_msg_redirect(struct sk_msg_md *msg)
{
	struct sluice_sock_key peer;

	if (msg->family != 2 /* AF_INET */)
		return SK_PASS;
	/* the peer's key is ours reversed */
	sock_key_fill(&peer, msg->remote_ip4, (__u16)bpf_ntohl(msg->remote_port),
		      msg->local_ip4, (__u16)msg->local_port, bpf_get_netns_cookie(msg));
	bpf_msg_redirect_hash(msg, &sluice_sock_v1, &peer, BPF_F_INGRESS);
	return SK_PASS;
}
