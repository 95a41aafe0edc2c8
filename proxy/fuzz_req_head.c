/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_req_head.c - libFuzzer target for the request splice's head reader
 * (bpf/lib/req_head.h, the sk_msg program's own code built as plain C):
 * any bytes as one send of a client; whenever the kernel would send them
 * to the server on its own, the proxy (its one-parse path and llhttp) must
 * accept them whole, decide on the same method, path and Host, and send
 * the same bytes upstream (req_diff.h).
 */
#include <stdint.h>
#include <stdlib.h>

#include "req_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why;

	if (size > SLUICE_REQ_HEAD_MAX + 64)
		return 0;
	if (req_diff((const char *)data, size, &why) < 0)
		abort();
	return 0;
}
