/* SPDX-License-Identifier: Apache-2.0 */
/* format.c - see format.h. */
#include "format.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "../common/names.h"
#include "../common/util.h"

static const struct {
	const char *name;
	enum cli_fmt fmt;
} formats[] = {
	{ "json", CLI_FMT_JSON },
	{ "yaml", CLI_FMT_YAML },
	{ "wide", CLI_FMT_WIDE },
	{ "name", CLI_FMT_NAME },
};

static int bad_output(const char *value, unsigned allowed)
{
	size_t i;
	bool first = true;

	fprintf(stderr, "sluice: unable to match a printer suitable for the output format \"%s\", "
			"allowed formats are: ", value);
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (!(allowed & formats[i].fmt))
			continue;
		fprintf(stderr, "%s%s", first ? "" : ",", formats[i].name);
		first = false;
	}
	fprintf(stderr, "\n");
	return 2;
}

int cli_take_output(int *argc, char **argv, unsigned allowed, enum cli_fmt *fmt)
{
	int i, j;

	*fmt = CLI_FMT_TABLE;
	for (i = 1; i < *argc; i++) {
		const char *value = NULL;
		int used = 1;
		size_t k;
		bool found = false;

		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) {
			if (i + 1 >= *argc) {
				fprintf(stderr, "sluice: %s needs a format (%s)\n", argv[i],
					allowed & CLI_FMT_NAME ? "json, yaml, wide or name"
					: allowed & CLI_FMT_WIDE ? "json, yaml or wide" : "json or yaml");
				return 2;
			}
			value = argv[i + 1];
			used = 2;
		} else if (!strncmp(argv[i], "--output=", 9)) {
			value = argv[i] + 9;
		} else if (!strncmp(argv[i], "-o", 2)) {
			value = argv[i] + 2;
		} else {
			continue;
		}
		for (k = 0; k < sizeof(formats) / sizeof(formats[0]); k++) {
			if (!strcmp(value, formats[k].name) && (allowed & formats[k].fmt)) {
				*fmt = formats[k].fmt;
				found = true;
			}
		}
		if (!found)
			return bad_output(value, allowed);
		for (j = i; j + used <= *argc; j++)
			argv[j] = argv[j + used];
		*argc -= used;
		i--;
	}
	return 0;
}

json_t *cli_list(json_t *items)
{
	return json_pack("{s:s,s:o,s:s,s:{s:s}}", "apiVersion", "v1", "items", items, "kind", "List",
			 "metadata", "resourceVersion", "");
}

/* one -o name line: RESOURCE/NAME */
static void print_name(json_t *o, const char *resource)
{
	const char *kind = json_string_value(json_object_get(o, "kind"));
	const char *api = json_string_value(json_object_get(o, "apiVersion"));
	const char *name = json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));
	const char *slash = api ? strchr(api, '/') : NULL;
	char nb[300], kb[200];
	size_t i;

	if (!name)
		name = json_string_value(json_object_get(o, "name"));
	if (!name && json_is_integer(json_object_get(o, "identity"))) {
		snprintf(nb, sizeof(nb), "%lld", (long long)json_integer_value(json_object_get(o, "identity")));
		name = nb;
	} else {
		name = cli_cell(name ? name : "", nb, sizeof(nb));
	}
	if (kind && api) { /* kubectl: the kind in lower case, then the API group */
		for (i = 0; kind[i] && i + 1 < sizeof(kb); i++)
			kb[i] = (char)tolower((unsigned char)kind[i]);
		kb[i] = 0;
		printf("%s%s%.*s/%s\n", kb, slash ? "." : "", slash ? (int)(slash - api) : 0, api, name);
	} else {
		printf("%s/%s\n", resource ? resource : "object", name);
	}
}

void cli_print_as(json_t *obj, enum cli_fmt fmt, const char *resource)
{
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	json_t *item;
	size_t i;

	if (fmt != CLI_FMT_NAME) {
		cli_print(obj, fmt);
		return;
	}
	if (kind && !strcmp(kind, "List") && json_is_array(json_object_get(obj, "items"))) {
		json_array_foreach(json_object_get(obj, "items"), i, item)
			print_name(item, resource);
		return;
	}
	print_name(obj, resource);
}

void cli_print(json_t *obj, enum cli_fmt fmt)
{
	if (fmt == CLI_FMT_NAME) {
		cli_print_as(obj, fmt, NULL);
		return;
	}
	if (fmt == CLI_FMT_YAML) {
		cli_yaml_dump(stdout, obj);
		return;
	}
	{
		char *s = json_dumps(obj, JSON_INDENT(4) | JSON_ENCODE_ANY);

		printf("%s\n", s ? s : "null");
		free(s);
	}
}

const char *cli_cell(const char *s, char *buf, size_t len)
{
	return sl_escape_ctl(s ? s : "", buf, len);
}

/* ---- JSON -> YAML -------------------------------------------------------- */

/* Would this string read back as something else, or not parse, if unquoted? */
static bool needs_quotes(const char *s)
{
	static const char *const words[] = { "true", "false", "null", "yes", "no", "on", "off", "y", "n", "~" };
	size_t n = strlen(s), i;
	char *end;

	if (!n || isspace((unsigned char)s[0]) || isspace((unsigned char)s[n - 1]))
		return true;
	if (strchr("-?:,[]{}#&*!|>'\"%@`", s[0]))
		return true;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return true;
		if (c == ':' && (i + 1 == n || s[i + 1] == ' '))
			return true;
		if (c == '#' && i && s[i - 1] == ' ')
			return true;
	}
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcasecmp(s, words[i]))
			return true;
	strtod(s, &end);
	if (!*end || isdigit((unsigned char)s[0]) || s[0] == '.' || s[0] == '+')
		return true;
	return false;
}

static void scalar(FILE *f, json_t *v)
{
	char *s;

	switch (json_typeof(v)) {
	case JSON_STRING:
		if (!needs_quotes(json_string_value(v))) {
			fputs(json_string_value(v), f);
			return;
		}
		break;
	case JSON_OBJECT:
		fputs("{}", f);
		return;
	case JSON_ARRAY:
		fputs("[]", f);
		return;
	default:
		break;
	}
	/* a JSON string is a valid YAML double-quoted scalar */
	s = json_dumps(v, JSON_ENCODE_ANY);
	fputs(s ? s : "null", f);
	free(s);
}

static bool is_block(json_t *v)
{
	return (json_is_object(v) && json_object_size(v)) || (json_is_array(v) && json_array_size(v));
}

static void emit(FILE *f, json_t *v, int indent, bool inline_first);

static void emit_object(FILE *f, json_t *o, int indent, bool inline_first)
{
	const char *k;
	json_t *v;
	bool first = true;

	json_object_foreach(o, k, v) {
		json_t *key = json_string(k);

		if (!(first && inline_first))
			fprintf(f, "%*s", indent, "");
		first = false;
		scalar(f, key);
		json_decref(key);
		fputc(':', f);
		if (!is_block(v)) {
			fputc(' ', f);
			scalar(f, v);
			fputc('\n', f);
		} else {
			fputc('\n', f);
			/* sequences sit at their key's indentation, as kubectl prints them */
			emit(f, v, json_is_array(v) ? indent : indent + 2, false);
		}
	}
}

static void emit_array(FILE *f, json_t *a, int indent)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v) {
		fprintf(f, "%*s- ", indent, "");
		if (json_is_object(v) && json_object_size(v)) {
			emit_object(f, v, indent + 2, true);
		} else if (json_is_array(v) && json_array_size(v)) {
			fputc('\n', f);
			emit_array(f, v, indent + 2);
		} else {
			scalar(f, v);
			fputc('\n', f);
		}
	}
}

static void emit(FILE *f, json_t *v, int indent, bool inline_first)
{
	if (json_is_object(v) && json_object_size(v))
		emit_object(f, v, indent, inline_first);
	else if (json_is_array(v) && json_array_size(v))
		emit_array(f, v, indent);
	else {
		scalar(f, v);
		fputc('\n', f);
	}
}

void cli_yaml_dump(FILE *f, json_t *v)
{
	emit(f, v, 0, false);
}

/* ---- YAML -> JSON ---------------------------------------------------------- */

static bool all_of(const char *s, const char *set)
{
	return *s && strspn(s, set) == strlen(s);
}

/* YAML 1.2 core schema resolution of a plain scalar. */
static json_t *plain_scalar(const char *s)
{
	char *end;

	if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
		return json_null();
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return json_true();
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return json_false();
	if (all_of(s + (s[0] == '-' || s[0] == '+'), "0123456789")) {
		errno = 0;
		long long v = strtoll(s, &end, 10);

		if (!errno && !*end)
			return json_integer(v);
	}
	if (!strncmp(s, "0x", 2) && all_of(s + 2, "0123456789abcdefABCDEF"))
		return json_integer(strtoll(s + 2, NULL, 16));
	if (!strncmp(s, "0o", 2) && all_of(s + 2, "01234567"))
		return json_integer(strtoll(s + 2, NULL, 8));
	if (strpbrk(s, "0123456789") && strspn(s, "0123456789.eE+-") == strlen(s)) {
		double d = strtod(s, &end);

		if (!*end)
			return json_real(d);
	}
	return json_string(s);
}

static json_t *node_json(yaml_document_t *doc, yaml_node_t *n, int depth)
{
	json_t *out;

	if (!n || depth > 200)
		return json_null();
	switch (n->type) {
	case YAML_SCALAR_NODE: {
		const char *s = (const char *)n->data.scalar.value;

		if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
			return plain_scalar(s);
		return json_stringn(s, n->data.scalar.length);
	}
	case YAML_SEQUENCE_NODE: {
		yaml_node_item_t *it;

		out = json_array();
		for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++)
			json_array_append_new(out, node_json(doc, yaml_document_get_node(doc, *it), depth + 1));
		return out;
	}
	case YAML_MAPPING_NODE: {
		yaml_node_pair_t *p;

		out = json_object();
		for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);

			if (!k || k->type != YAML_SCALAR_NODE)
				continue;
			json_object_set_new(out, (const char *)k->data.scalar.value,
					    node_json(doc, yaml_document_get_node(doc, p->value), depth + 1));
		}
		return out;
	}
	default:
		return json_null();
	}
}

json_t *cli_yaml_load(const char *text, size_t len, char **err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	json_t *out = NULL;

	if (!yaml_parser_initialize(&parser)) {
		sl_fail(err, ENOMEM, "out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		sl_fail(err, EINVAL, "line %zu: %s", parser.problem_mark.line + 1,
			parser.problem ? parser.problem : "YAML error");
	} else {
		out = node_json(&doc, yaml_document_get_root_node(&doc), 0);
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	return out;
}
