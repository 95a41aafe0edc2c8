/* SPDX-License-Identifier: Apache-2.0 */
/*
 * splice.h - the proxy's half of the response splice (include/sluice/abi.h,
 * "Response splice"): one slot per upstream connection, armed before a
 * request whose response the kernel may send straight to the client, and
 * read back to learn what happened to that response.
 *
 * A handle is a slot number + 1; 0 means "no slot" everywhere.
 */
#ifndef SLUICE_PROXY_SPLICE_H
#define SLUICE_PROXY_SPLICE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sluice/abi.h"

struct proxy_splice;

/* Writes / deletes an upstream socket's entry in the splice hash (agent
 * mode: dp_proxy.h); 0 or a negative errno. */
struct proxy_splice_maps {
	int (*bind)(void *ctx, const struct sluice_sock_key *up, uint32_t slot, uint32_t gen);
	int (*unbind)(void *ctx, const struct sluice_sock_key *up);
	void *ctx;
};

/* slots: SLUICE_SPLICE_SLOTS of them, shared with the kernel. NULL when
 * slots is NULL (no splice maps) or out of memory. */
struct proxy_splice *proxy_splice_new(struct sluice_splice_slot *slots,
				      const struct proxy_splice_maps *maps);
void proxy_splice_free(struct proxy_splice *sp);

/* A slot for a connected upstream socket: 0 when there is none to give (all
 * taken, a loopback tuple, the map refused). */
uint32_t proxy_splice_attach(struct proxy_splice *sp, int fd);
/* The upstream connection is given up: its slot is inert at once (a new
 * generation), whatever the server still sends goes to its socket. */
void proxy_splice_detach(struct proxy_splice *sp, uint32_t h);

/* The client socket's key in the socks map, from the accepted connection
 * (fd) and its addresses; false for what is not spliced to (IPv6). */
bool proxy_splice_client_key(int fd, const struct sockaddr *peer, const struct sockaddr *local,
			     struct sluice_sock_key *out);

/* Before the request's first byte is written. */
void proxy_splice_arm(struct proxy_splice *sp, uint32_t h, const struct sluice_sock_key *client);
/* Still ARMED (the kernel never took the response: the server is not on
 * the fast path): back to IDLE, true. False: the kernel took it first. */
bool proxy_splice_disarm(struct proxy_splice *sp, uint32_t h);
/* The slot as the kernel left it; state read with acquire order. */
const struct sluice_splice_slot *proxy_splice_slot(struct proxy_splice *sp, uint32_t h,
						    uint64_t *state);
/* DONE, PASSED or BROKEN seen: IDLE again. */
void proxy_splice_reset(struct proxy_splice *sp, uint32_t h);

/* For the request splice (req_splice.c): the slot of a handle of ours
 * (NULL: not ours), its upstream socket's key, a splice entry of another
 * key (ref: a slot number, maybe with SLUICE_SPLICE_REF_CLIENT), our pid. */
struct sluice_splice_slot *proxy_splice_slot_mut(struct proxy_splice *sp, uint32_t h);
const struct sluice_sock_key *proxy_splice_up_key(const struct proxy_splice *sp, uint32_t h);
int proxy_splice_bind_key(struct proxy_splice *sp, const struct sluice_sock_key *k, uint32_t ref,
			  uint32_t gen);
void proxy_splice_unbind_key(struct proxy_splice *sp, const struct sluice_sock_key *k);
uint32_t proxy_splice_pid(const struct proxy_splice *sp);

#endif /* SLUICE_PROXY_SPLICE_H */
