/* SPDX-License-Identifier: Apache-2.0 */
/*
 * access_record.h - one request's access record in the binary form the
 * agent reads (include/sluice/access_record.h has the layout and why).
 */
#ifndef SLUICE_PROXY_ACCESS_RECORD_H
#define SLUICE_PROXY_ACCESS_RECORD_H

#include <stddef.h>

#include "proxy.h"
#include "sluice/access_record.h"

/*
 * Writes ev's record (struct sluice_access_rec, then method, host and path,
 * each cut at its SLUICE_ACCESS_*_MAX) at buf, which must be 8-byte aligned.
 * Returns its size, or 0 when it does not fit in cap.
 */
size_t proxy_access_record_put(const struct proxy_event *ev, char *buf, size_t cap);

#endif /* SLUICE_PROXY_ACCESS_RECORD_H */
