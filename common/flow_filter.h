/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_filter.h - which values an observe filter accepts, one rule for the
 * CLI (which exits 2 before asking) and the agent (whose API is the trust
 * boundary): verdicts and types by name, identities and ports as numbers in
 * range, HTTP status as a code or a class.
 */
#ifndef SLUICE_FLOW_FILTER_H
#define SLUICE_FLOW_FILTER_H

#include <stdbool.h>
#include <stddef.h>

/* NULL when value suits the filter flag named field ("ip", "from-port",
 * "protocol", "http-status"), else why not (a static string). Other fields
 * (their values parsed where Hubble parses them: cli/observe_filter.c, the
 * agent's FlowFilters) accept anything but an empty value. */
const char *sl_flow_filter_check(const char *field, const char *value);
/* --node-name: Hubble's pattern ("node", "cluster/node", "k8s*",
 * "cluster/", "/") as the regular expression Hubble makes of it, matched
 * against "cluster/node" (a node name without a cluster is in "default").
 * NULL, or why the pattern is refused. */
const char *sl_flow_node_regex(const char *pattern, char *out, size_t len);
/* --fqdn: Hubble's FQDN pattern (a-z, 0-9, '-', '_', '.', '*'; one
 * trailing dot ignored): NULL, or why it is refused. */
const char *sl_flow_fqdn_check(const char *pattern);
/* --http-status: 1 a code (compared whole), 2 a prefix ("4+", "40+"), 3 a
 * class ("4xx"), 0 neither. */
int sl_flow_http_status_kind(const char *value);

#include <stdbool.h>
#include <stdint.h>

/* An --ip value: an IPv4 or IPv6 address, or a CIDR; IPv4 as ::ffff:a.b.c.d
 * (the flows' form) with the prefix length counted in 128 bits. 0 or -1. */
int sl_flow_ip_parse(const char *v, uint8_t net[16], unsigned *plen);
/* A --tcp-flags value ("SYN", "syn,ack"): the TCP header's flag bits that
 * must all be set (FIN 0x01 ... CWR 0x80, and Hubble's NS 0x100), or -1. */
int sl_flow_tcp_flags_parse(const char *v);
/* Whether a (16 bytes, IPv4 mapped) lies in net/plen. */
bool sl_flow_ip_in(const uint8_t a[16], const uint8_t net[16], unsigned plen);

#endif
