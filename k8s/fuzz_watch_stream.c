/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_watch_stream.c - libFuzzer target for the watch body framer (built
 * with -DSLUICE_FUZZ=ON, clang).
 *
 * The first byte chooses how the rest is cut into reads. Besides memory
 * safety, the property checked is that chunking never changes the meaning:
 * fed whole or in pieces, the stream gives the same objects, the same
 * result code and the same "cut mid-object" state.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_stream.h"

static int fuzz_collect(void *ctx, json_t *obj)
{
	json_array_append(ctx, obj);
	return 0;
}

static int fuzz_feed(const char *data, size_t len, unsigned step_seed, json_t *out, int *pending)
{
	struct k8s_json_stream s;
	char *err = NULL;
	int r = 0;
	size_t at = 0;
	unsigned x = step_seed | 1;
	k8s_json_stream_init(&s, 1 << 16);
	while (at < len && !r) {
		size_t n = len - at;
		if (step_seed) {
			x = x * 1103515245u + 12345u;
			size_t step = 1 + (x >> 16) % 17;
			if (step < n)
				n = step;
		}
		r = k8s_json_stream_feed(&s, data + at, n, fuzz_collect, out, &err);
		at += n;
	}
	*pending = k8s_json_stream_pending(&s);
	free(err);
	k8s_json_stream_free(&s);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned seed = data[0] ? data[0] : 1;
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	json_t *whole = json_array(), *cut = json_array();
	int pw = 0, pc = 0;
	int rw = fuzz_feed(text, len, 0, whole, &pw);
	int rc = fuzz_feed(text, len, seed, cut, &pc);
	if (rw != rc || !json_equal(whole, cut) || (rw == 0 && pw != pc))
		abort();
	json_decref(whole);
	json_decref(cut);
	return 0;
}
