/* SPDX-License-Identifier: Apache-2.0 */
/* util.h - small helpers shared by the agent and the CLI: messages, running
 * commands without a shell, reading and writing small files, addresses. */
#ifndef SLUICE_UTIL_H
#define SLUICE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* malloc'd printf; aborts on out-of-memory (a daemon that cannot allocate
 * a message cannot do anything useful either). */
char *sl_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *sl_xcalloc(size_t n, size_t size);
/* not zeroed: for memory written whole before it is read */
void *sl_xmalloc(size_t size);
char *sl_xstrdup(const char *s);
/* Replaces *err with a new message (frees the old one); returns -code,
 * always negative (-EIO for a code of 0). */
int sl_fail(char **err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Runs argv (no shell), waits; on non-zero exit fills *err with argv[0..2]
 * and the command's stderr. Returns 0 or -EIO / -errno. */
int sl_run(char **err, const char *const argv[]);
/* Same, but ignores failures (for best-effort cleanup). */
void sl_run_quiet(const char *const argv[]);

int sl_write_file(const char *path, const char *text);
/* Reads a whole file (up to max bytes) into a malloc'd NUL-terminated buffer. */
int sl_read_file(const char *path, size_t max, char **out, size_t *len);

/* 16-byte IPv4-mapped address helpers. */
void sl_addr_from_ipv4(uint8_t out[16], uint32_t ipv4_host_order);
/* A socket's key in the sk_msg SOCKHASH (include/sluice/abi.h), as
 * bpf/lib/socks.h sock_key_fill() makes it: its own addresses and ports
 * (host order), the netns cookie kept only for a loopback tuple. */
struct sluice_sock_key;
void sl_sock_key_v4(struct sluice_sock_key *k, uint32_t local_ip, uint16_t local_port,
		    uint32_t remote_ip, uint16_t remote_port, uint64_t netns_cookie);
bool sl_ipv4_loopback(uint32_t ipv4_host_order);
bool sl_addr_is_ipv4(const uint8_t a[16]);
uint32_t sl_addr_ipv4(const uint8_t a[16]); /* host order */
/* qsort/bsearch order of uint32_t values */
int sl_u32_cmp(const void *a, const void *b);
/* Formats into buf (>= 46 bytes); IPv4-mapped prints as dotted quad. */
const char *sl_addr_str(const uint8_t a[16], char *buf, size_t len);
int sl_parse_cidr4(const char *s, uint32_t *net, unsigned *prefixlen);

/* *.yaml, *.yml or *.json, not hidden: what a policy directory holds. */
bool sl_is_policy_file(const char *name);

uint64_t sl_now_ns(void);      /* CLOCK_REALTIME */
/* An RFC 3339 time (2026-12-05T10:12:52Z; a fraction of up to 9 digits and
 * an offset such as +01:00 allowed) as ns since the epoch; 0 or -EINVAL. */
int sl_parse_rfc3339(const char *s, uint64_t *ns);
/* The valid UTF-8 sequence at s, at most left bytes (RFC 3629): its length
 * and code point (cp may be NULL), 0 if none; see util.c. */
size_t sl_utf8_decode(const unsigned char *s, size_t left, uint32_t *cp);
/* A connected unix socket of this type (SOCK_STREAM, ...) or -errno. */
int sl_unix_connect(const char *path, int type);
uint64_t sl_mono_ns(void);     /* CLOCK_MONOTONIC (same clock as bpf_ktime_get_ns) */
/* CLOCK_MONOTONIC_COARSE: a few ms of resolution, a fraction of the cost;
 * for ages and deadlines looked at per event, not for durations */
uint64_t sl_mono_coarse_ns(void);
/* src into dst[cap], cut to cap - 1 bytes, always terminated (cap > 0):
 * what snprintf(dst, cap, "%s", src) gives, without the format engine */
void sl_strlcpy(char *dst, const char *src, size_t cap);

/*
 * A socket(domain, type, protocol) made inside the network namespace
 * netns_fd, or -errno. The calling thread enters that netns and comes back
 * to self_netns_fd (its own netns; -1: opened here for the call). A socket
 * belongs for life to the netns it was made in, so this is how the agent
 * and the proxy reach into pods. If the thread cannot come back it aborts:
 * every later socket would silently land in the pod.
 */
int sl_socket_in_netns(int netns_fd, int self_netns_fd, int domain, int type, int protocol);
/* The same for n sockets at once (one netns round trip): how many were
 * made into out[] (at least 1), or -errno. */
int sl_sockets_in_netns(int netns_fd, int self_netns_fd, int domain, int type, int protocol,
			int *out, int n);

#endif
