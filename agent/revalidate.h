/* SPDX-License-Identifier: Apache-2.0 */
/* revalidate.h - cut established connections whose right was revoked. */
#ifndef SLUICE_REVALIDATE_H
#define SLUICE_REVALIDATE_H

#include "agent.h"

/* Schedules a walk over conntrack right after the current change. */
void revalidate_soon(struct agent *a);
void revalidate_stop(struct agent *a);

#endif
