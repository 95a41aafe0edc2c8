/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_splice_head.c - libFuzzer target for the response splice's head
 * reader (bpf/lib/splice_head.h, the sk_msg program's own code built as
 * plain C): any bytes as one send of a response; whenever the kernel would
 * take them, the proxy (its one-parse path and llhttp) must send the client
 * the same bytes and end the exchange the same way (splice_diff.h).
 */
#include <stdint.h>
#include <stdlib.h>

#include "splice_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why;

	if (size > SLUICE_SPLICE_HEAD_MAX + 2048)
		return 0;
	if (splice_diff((const char *)data, size, &why) < 0)
		abort();
	return 0;
}
