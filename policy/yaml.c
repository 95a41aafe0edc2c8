// SPDX-License-Identifier: Apache-2.0
/*
 * yaml.c - typed, line-numbered access to libyaml documents for the loader,
 * and the "file:line: field: reason" messages it reports.
 */
#include "yaml.h"

#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* appends n bytes to the path, as many as fit; returns the old length
 * (pushed for every field and item the loader reads: no printf here) */
static size_t y_append(struct yctx *c, const char *s, size_t n)
{
	size_t old = c->plen, room = sizeof(c->path) - 1 - c->plen;

	if (n > room)
		n = room;
	memcpy(c->path + c->plen, s, n);
	c->plen += n;
	c->path[c->plen] = '\0';
	return old;
}

size_t y_push_field(struct yctx *c, const char *name)
{
	size_t old = y_append(c, ".", 1);

	y_append(c, name, strlen(name));
	return old;
}

size_t y_push_index(struct yctx *c, size_t i)
{
	char b[24];
	size_t n = sizeof(b);

	b[--n] = ']';
	do
		b[--n] = (char)('0' + i % 10);
	while ((i /= 10));
	b[--n] = '[';
	return y_append(c, b + n, sizeof(b) - n);
}

void y_pop(struct yctx *c, size_t len)
{
	c->plen = len;
	c->path[len] = '\0';
}

static void y_report(struct yctx *c, struct sluice_diags *d, int line,
		     const char *fmt, va_list ap)
{
	char *reason;

	if (vasprintf(&reason, fmt, ap) < 0)
		return;
	sluice_diags_add(d, "%s:%d: %s: %s", c->file, line,
			 c->path[0] == '.' ? c->path + 1 : c->path, reason);
	free(reason);
}

void y_error(struct yctx *c, int line, const char *fmt, ...)
{
	va_list ap;

	c->nerrors++;
	va_start(ap, fmt);
	y_report(c, c->errors, line, fmt, ap);
	va_end(ap);
}

void y_warn(struct yctx *c, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	y_report(c, c->warnings, line, fmt, ap);
	va_end(ap);
}

int y_line(const y_node_t *n)
{
	return n ? (int)n->start_mark.line + 1 : 0;
}

bool y_is_null(const y_node_t *n)
{
	const char *v;

	if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = (const char *)n->data.scalar.value;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

y_node_t *y_node(struct yctx *c, int index)
{
	return y_doc_node(c->doc, index);
}

const char *y_string(struct yctx *c, y_node_t *n)
{
	if (!n || n->type != YAML_SCALAR_NODE) {
		y_error(c, y_line(n), "expected a string");
		return NULL;
	}
	if (y_is_null(n))
		return "";
	return (const char *)n->data.scalar.value;
}

bool y_mapping(struct yctx *c, y_node_t *n)
{
	if (n && n->type == YAML_MAPPING_NODE)
		return true;
	y_error(c, y_line(n), "expected a mapping");
	return false;
}

long y_sequence(struct yctx *c, y_node_t *n)
{
	if (y_is_null(n))
		return 0;
	if (!n || n->type != YAML_SEQUENCE_NODE) {
		y_error(c, y_line(n), "expected a list");
		return -1;
	}
	return n->data.sequence.items.top - n->data.sequence.items.start;
}

y_node_t *y_item(struct yctx *c, y_node_t *seq, long i)
{
	return y_node(c, seq->data.sequence.items.start[i]);
}

int y_bool(struct yctx *c, y_node_t *n)
{
	static const char *const yes[] = { "true", "True", "TRUE" };
	static const char *const no[] = { "false", "False", "FALSE" };

	if (n && n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		const char *v = (const char *)n->data.scalar.value;

		for (size_t i = 0; i < 3; i++) {
			if (!strcmp(v, yes[i]))
				return 1;
			if (!strcmp(v, no[i]))
				return 0;
		}
	}
	y_error(c, y_line(n), "expected a boolean");
	return -1;
}

/* the index of s in a NULL-ended list, or -1 */
static int y_list_index(const char *const *list, const char *s)
{
	for (int i = 0; list && list[i]; i++)
		if (!strcmp(list[i], s))
			return i;
	return -1;
}

static bool y_in_list(const char *const *list, const char *s)
{
	return y_list_index(list, s) >= 0;
}

bool y_check_fields(struct yctx *c, y_node_t *map, const char *const *known,
		    const char *const *unsupported)
{
	return y_check_fields_get(c, map, known, unsupported, NULL, NULL);
}

bool y_check_fields_get(struct yctx *c, y_node_t *map, const char *const *known,
			const char *const *unsupported, y_node_t **vals, int *lines)
{
	yaml_node_pair_t *p, *q;
	bool ok = true;

	for (int i = 0; vals && known[i]; i++) {
		vals[i] = NULL;
		if (lines)
			lines[i] = 0;
	}
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		y_node_t *k = y_node(c, p->key);
		const char *name;
		size_t old;
		int at;

		if (!k || k->type != YAML_SCALAR_NODE) {
			y_error(c, y_line(k), "expected a string as field name");
			ok = false;
			continue;
		}
		name = (const char *)k->data.scalar.value;
		/* the field's path is pushed only to name it in an error; the
		 * known list first (no name is in both): a 25,000-item policy
		 * asks this 50,000 times, nearly always of a known field */
		if ((at = y_list_index(known, name)) < 0) {
			old = y_push_field(c, name);
			y_error(c, y_line(k), y_in_list(unsupported, name) ? "field not supported by sluice"
									 : "unknown field");
			y_pop(c, old);
			ok = false;
		} else {
			/* the first pair of the name, as y_field() finds it */
			if (vals && !vals[at]) {
				vals[at] = y_node(c, p->value);
				if (lines)
					lines[at] = y_line(k);
			}
			for (q = map->data.mapping.pairs.start; q < p; q++) {
				y_node_t *k2 = y_node(c, q->key);

				if (k2 && k2->type == YAML_SCALAR_NODE &&
				    !strcmp((const char *)k2->data.scalar.value, name)) {
					old = y_push_field(c, name);
					y_error(c, y_line(k), "duplicate field (first at line %d)",
						y_line(k2));
					y_pop(c, old);
					ok = false;
					break;
				}
			}
		}
	}
	return ok;
}

y_node_t *y_field(struct yctx *c, y_node_t *map, const char *name, int *key_line)
{
	yaml_node_pair_t *p;

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		y_node_t *k = y_node(c, p->key);

		if (k && k->type == YAML_SCALAR_NODE &&
		    !strcmp((const char *)k->data.scalar.value, name)) {
			if (key_line)
				*key_line = y_line(k);
			return y_node(c, p->value);
		}
	}
	return NULL;
}

char *y_strdup(struct yctx *c, const char *s)
{
	char *d = strdup(s ? s : "");

	if (!d)
		y_error(c, 0, "out of memory");
	return d;
}

void *y_calloc(struct yctx *c, size_t n, size_t size)
{
	void *p;

	if (!n)
		return NULL;
	p = calloc(n, size);
	if (!p)
		y_error(c, 0, "out of memory");
	return p;
}
