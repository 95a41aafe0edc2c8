/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cni.h - what sluice-cni and the agent agree on besides the API commands
 * (agent/cni.c): the default socket, and the delete queue next to it where
 * the plugin leaves deletions while the agent is down (one file per
 * attachment, NAME.delete = {"containerID", "ifname"}; a "lock" file held
 * shared by the plugin and exclusively by the agent while it drains).
 */
#ifndef SLUICE_CNI_H
#define SLUICE_CNI_H

#define SLUICE_CNI_DEFAULT_SOCKET "/run/sluice/sluice.sock"
#define SLUICE_CNI_QUEUE_NAME "cni-delete-queue"
#define SLUICE_CNI_QUEUE_MAX 256
/* the spec versions sluice-cni speaks: chaining (prevResult) exists from
 * 0.3.0 on */
#define SLUICE_CNI_VERSIONS "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"

#endif
