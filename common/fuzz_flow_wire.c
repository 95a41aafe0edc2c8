/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_flow_wire.c - libFuzzer target for the observe stream's decoder and
 * the JSON renderer behind it (built with -DSLUICE_FUZZ=ON, clang).
 *
 * The first two bytes (little endian) say where the rest splits into two
 * frames, so peers described in one frame are used by the next, as on a
 * real stream. Checked besides
 * memory safety: the decoder answers 0 or -EPROTO, and every decoded flow
 * renders within sl_flow_json_max() (the line goes to a buffer of exactly
 * that size, so ASan sees any overrun) as one NUL-free line that a JSON
 * reader accepts (valid JSON, valid UTF-8: jansson checks both).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "flow_json.h"
#include "flow_wire.h"

static int fuzz_render(void *ctx, const struct sl_flow_view *f, const char *node)
{
	size_t max = sl_flow_json_max(f, node), n;
	char *line = malloc(max);
	json_t *j;

	(void)ctx;
	if (!line)
		abort();
	n = sl_flow_json(f, node, line);
	if (n >= max || strlen(line) != n || memchr(line, '\n', n))
		abort();
	j = json_loadb(line, n, 0, NULL);
	if (!j)
		abort();
	json_decref(j);
	free(line);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_wire_dec *d;
	size_t split, frame[2][2];

	if (size < 2)
		return 0;
	split = (size_t)data[0] | (size_t)data[1] << 8;
	data += 2;
	size -= 2;
	if (split > size)
		split = size;
	frame[0][0] = 0;
	frame[0][1] = split;
	frame[1][0] = split;
	frame[1][1] = size - split;
	d = calloc(1, sizeof(*d));
	if (!d)
		abort();
	for (int i = 0; i < 2; i++) {
		char *err = NULL;
		int rc = sl_wire_decode(d, data + frame[i][0], frame[i][1], fuzz_render, NULL, &err);

		if ((rc != 0 && rc != -EPROTO) || (rc && !err))
			abort();
		free(err);
		if (rc)
			break;
	}
	sl_wire_dec_free(d);
	free(d);
	return 0;
}
