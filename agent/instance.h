/* SPDX-License-Identifier: Apache-2.0 */
/*
 * instance.h - what makes one sluiced instance (its pin directory, cgroup
 * root, state directory, netns prefix and pod CIDR) its own: the instance
 * lock, the record of which instance a state directory belongs to, the
 * checks made before anything is created, the undo of a failed start, and
 * `--cleanup`.
 */
#ifndef SLUICE_INSTANCE_H
#define SLUICE_INSTANCE_H

#include "agent.h"

/* The default state directory of an instance: /run/sluice/<basename of the
 * pin directory> (malloc'd). */
char *instance_default_state_dir(const char *bpf_root);

/* Options that can be checked without creating anything. */
int instance_check_options(struct agent *a, char **err);

/*
 * Takes the instance's locks (flock on <state-dir>/sluiced.lock and on the
 * pin directory itself, both created if missing) and checks that the state
 * directory belongs to this --bpf-root / --cgroup-root (recording it if it
 * is new). Fails with the PID of the agent holding a lock. The locks are
 * held until the process exits. For cleanup, nothing is created.
 */
int instance_lock(struct agent *a, bool cleanup, char **err);

/*
 * Undoes what a start that failed created. With a datapath of its own
 * (nothing adopted), that is the pins, programs, the pod CIDR's blackhole
 * route and the instance's cgroups; an adopted datapath keeps enforcing.
 */
void instance_undo_start(struct agent *a);

/* `sluiced --cleanup`: removes whatever of the instance exists (proxies,
 * pods, pins, route, cgroups, state), printing what it removed. */
int instance_cleanup(struct agent *a);

#endif
