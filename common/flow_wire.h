/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_wire.h - the binary form of an observe stream, agent to CLI.
 *
 * Why: as JSON lines a flow is about 700 bytes, and at 100k flows/s copying
 * them into and out of the socket, and formatting them, cost the agent more
 * than everything else it does per flow. In this form a flow is about 80
 * bytes: the names and labels of its two ends are sent once per stream (a
 * peer record), and flows point at them; the CLI renders the JSON line
 * for -o json (common/flow_json.c, the same renderer the agent uses for
 * JSON clients) and prints its text forms from the decoded flow
 * (cli/flow_print.c).
 * A client asks for it with "wire":"binary" in its observe request; the
 * stream's other messages (errors, the end) stay JSON lines.
 *
 * Framing: a frame is SL_WIRE_MAGIC, a 32-bit little-endian length, then
 * that many bytes of records. A JSON line never starts with that byte.
 * Records: one type byte, then
 *   'N' node:  str node name (the agent's, for every flow that follows),
 *              u64 boot id (the flows' uuid: this and their number)
 *   'P' peer:  u64 id, u32 identity, str namespace, str pod, str labels,
 *              u32 endpoint id, str cluster, str workload kind, str name
 *   'F' flow:  u64 time, u64 number (0: no uuid), u8 kind verdict direction protocol match_kind
 *              tcp_flags flags, u16 drop_reason, 16 saddr, 16 daddr,
 *              u16 sport dport, u64 source peer id, u64 destination peer id,
 *              then if flags & SVC: str ns, str name, u16 port;
 *              if flags & L7: str method url host protocol, u16 code,
 *              u64 latency; if kind is TRACE: u8 trace (point | 0x80
 *              when a reply); if flags & POLICY: str kind namespace name
 *              of the policy that decided (flags & POLICY_DENIED: a deny)
 *   'L' lost:  u64 flows this stream lost since its last 'L' (a slow reader)
 * Integers little-endian; str: u16 length (0xffff: NULL) then the bytes and
 * a NUL, so a decoded string points into the frame.
 *
 * Peers: the encoder remembers, per stream, which peer ids it sent, in a
 * direct-mapped table of SL_WIRE_PEERS slots (slot = id % SL_WIRE_PEERS);
 * the decoder keeps the same table. A flow names only peers whose slot holds
 * them on both sides, so the two tables cannot disagree.
 */
#ifndef SLUICE_COMMON_FLOW_WIRE_H
#define SLUICE_COMMON_FLOW_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "flow_json.h"

#define SL_WIRE_MAGIC 0x01
#define SL_WIRE_HEADER 5
#define SL_WIRE_PEERS 1024
/* a decoder refuses bigger frames (an encoder flushes long before) */
#define SL_WIRE_FRAME_MAX (64u << 20)

struct sl_wire_enc {
	uint64_t sent[SL_WIRE_PEERS];
};

struct sl_wire_dec {
	struct {
		uint64_t id;
		struct sl_flow_end end; /* strings owned by the slot */
	} peers[SL_WIRE_PEERS];
	char *node;
	uint64_t boot; /* the node record's: the flows' uuid_boot */
	uint64_t lost; /* sum of the 'L' records */
};

/* Upper bound of what sl_wire_put_flow writes for f (peers included). */
size_t sl_wire_flow_max(const struct sl_flow_view *f);
/*
 * Appends f's record to out, preceded by the peer records the stream has not
 * had (src_id and dst_id: nonzero, one per distinct end content); returns
 * the bytes written.
 */
size_t sl_wire_put_flow(struct sl_wire_enc *e, uint8_t *out, const struct sl_flow_view *f, uint64_t src_id,
			uint64_t dst_id);
/* Bound and writer of a node record and of a lost record. */
size_t sl_wire_node_max(const char *node);
size_t sl_wire_put_node(uint8_t *out, const char *node, uint64_t boot);
#define SL_WIRE_LOST_SIZE 9
size_t sl_wire_put_lost(uint8_t *out, uint64_t lost);
/* Writes the frame header for a payload of len bytes (at out[0..4]). */
void sl_wire_frame_header(uint8_t *out, uint32_t len);

/*
 * Decodes one frame's payload: calls on_flow for each flow (strings valid
 * during the call). Returns 0, -EPROTO with a message for a malformed
 * frame, or what on_flow returned if it was not 0.
 */
typedef int (*sl_wire_flow_cb)(void *ctx, const struct sl_flow_view *f, const char *node);
int sl_wire_decode(struct sl_wire_dec *d, const uint8_t *payload, size_t len, sl_wire_flow_cb on_flow, void *ctx,
		   char **err);
void sl_wire_dec_free(struct sl_wire_dec *d);

#endif
