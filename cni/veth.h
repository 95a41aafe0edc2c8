/* SPDX-License-Identifier: Apache-2.0 */
/* veth.h - the host side of a pod's veth. */
#ifndef SLUICE_CNI_VETH_H
#define SLUICE_CNI_VETH_H

#include <net/if.h>

/* The name, in the caller's netns, of the peer of interface ifname inside
 * the netns at netns_path; 0 or -errno with *err set. */
int veth_host_peer(const char *netns_path, const char *ifname, char host_if[IF_NAMESIZE],
		   char **err);

#endif
