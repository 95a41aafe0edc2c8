/* SPDX-License-Identifier: Apache-2.0 */
/* policy_dir.h - a watched directory of policy files (--policy-dir). */
#ifndef SLUICE_POLICY_DIR_H
#define SLUICE_POLICY_DIR_H

#include "agent.h"

int policy_dir_start(struct agent *a, char **err);
void policy_dir_stop(struct agent *a);

#endif
