// SPDX-License-Identifier: Apache-2.0
/*
 * diags.c - lists of messages for people: load errors and warnings, each
 * "file:line: field: reason".
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

void diags_vadd(struct sluice_diags *d, const char *fmt, va_list ap)
{
	struct sluice_diag *v;
	char *msg;

	if (!d)
		return;
	if (vasprintf(&msg, fmt, ap) < 0)
		return;
	v = realloc(d->v, (d->n + 1) * sizeof(*v));
	if (!v) {
		free(msg);
		return;
	}
	d->v = v;
	d->v[d->n++].msg = msg;
}

void sluice_diags_add(struct sluice_diags *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diags_vadd(d, fmt, ap);
	va_end(ap);
}

void sluice_diags_free(struct sluice_diags *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].msg);
	free(d->v);
	d->v = NULL;
	d->n = 0;
}
