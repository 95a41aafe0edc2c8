/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bpf_sockops.c - registers established TCP sockets for the sk_msg fast
 * path, and hands redirected connections' original destinations to the
 * proxy.
 *
 * Why sock_ops: it is called once per socket when the handshake completes,
 * on both sides (ACTIVE_ESTABLISHED for the connect()ing side, PASSIVE for
 * the accept()ing side), and may insert the socket into a SOCKHASH, which
 * no other hook on this kernel can. Attached to the instance's cgroup root,
 * so pods' sockets and the proxy's (system cgroup; its accepted sockets
 * inherit the listener's cgroup) are covered, the rest of the host is not.
 *
 * The original destination: connect4 stored it under the client socket's
 * cookie, which the proxy cannot know. At ACTIVE_ESTABLISHED the local
 * address and port are known, so it moves to {client addr, client port,
 * netns cookie}: the proxy reads getpeername() of its accepted socket and
 * the netns cookie of its listener.
 */
#include "lib/common.h"
#include "lib/proxy.h"
#include "lib/socks.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline void sockops_move_orig_dst(struct bpf_sock_ops *skops,
						  __u64 netns_cookie, __be32 local_ip)
{
	struct sluice_orig_dst_key key = {};
	struct sluice_orig_dst *od;
	__u64 cookie = bpf_get_socket_cookie(skops);

	od = bpf_map_lookup_elem(&sluice_odsk_v1, &cookie);
	if (!od)
		return;
	key.netns_cookie = netns_cookie;
	addr_from_ipv4(key.addr, local_ip);
	key.port = (__u16)skops->local_port;
	bpf_map_update_elem(&sluice_odst_v1, &key, od, BPF_ANY);
	bpf_map_delete_elem(&sluice_odsk_v1, &cookie);
}

SEC("sockops")
int sock_ops_established(struct bpf_sock_ops *skops)
{
	struct sluice_sock_key key;
	__u64 netns_cookie;
	__u32 op = skops->op;
	__be32 lip, rip;

	if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB &&
	    op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_STATE_CB)
		return 1;
	if (!sock_v4_addrs(skops, &lip, &rip))
		return 1;
	netns_cookie = bpf_get_netns_cookie(skops);
	sock_key_fill(&key, lip, (__u16)skops->local_port, rip,
		      (__u16)bpf_ntohl(skops->remote_port), netns_cookie);
	/* a closed socket leaves the sockhash by itself; its side record goes
	 * with it here, so the agent's revocation walk only sees live flows */
	if (op == BPF_SOCK_OPS_STATE_CB) {
		if (skops->args[1] == BPF_TCP_CLOSE)
			bpf_map_delete_elem(&sluice_sdir_v1, &key);
		return 1;
	}
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
	/* a failure only costs the fast path: bytes take the normal way */
	bpf_sock_hash_update(skops, &sluice_sock_v1, &key, BPF_ANY);
	{
		__u8 side = op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB ? SLUICE_SOCK_ACTIVE
								   : SLUICE_SOCK_PASSIVE;

		bpf_map_update_elem(&sluice_sdir_v1, &key, &side, BPF_ANY);
	}
	if (op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		sockops_move_orig_dst(skops, netns_cookie, lip);
	return 1;
}
