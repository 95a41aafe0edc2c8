/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_print.h - the text forms of `sluice observe`: compact (Hubble's
 * default line), dict and table, laid out as Hubble's printer
 * (hubble/pkg/printer) lays out a flow. Printed from the decoded flow
 * (struct sl_flow_view, what common/flow_wire.c hands the CLI), or from a
 * flow's JSON (--input-file, an agent without the binary form).
 *
 * Both print what Hubble would print for the flow's JSON line
 * (common/flow_json.c): the strings cut where the line cuts them, the
 * Summary the line has. tests/unit/cli/test_flow_print.c holds both paths
 * to the same bytes, and the JSON path to Hubble's own printer tests.
 */
#ifndef SLUICE_CLI_FLOW_PRINT_H
#define SLUICE_CLI_FLOW_PRINT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/flow_json.h"

enum flow_print_form {
	FLOW_PRINT_COMPACT,
	FLOW_PRINT_DICT,
	FLOW_PRINT_TABLE,
};

/* Hubble's --time-format names, in Go's layouts, always in UTC */
enum flow_time_format {
	FLOW_TIME_STAMP_MILLI,    /* "Jan _2 15:04:05.000" (the default) */
	FLOW_TIME_YMD,            /* "2006-01-02" */
	FLOW_TIME_YMDH,           /* "2006-01-02T15Z07:00" */
	FLOW_TIME_YMDHM,          /* "2006-01-02T15:04Z07:00" */
	FLOW_TIME_RFC3339,        /* "2006-01-02T15:04:05Z07:00" */
	FLOW_TIME_RFC3339_MILLI,  /* fraction ".999": trailing zeros dropped */
	FLOW_TIME_RFC3339_MICRO,  /* ".999999" */
	FLOW_TIME_RFC3339_NANO,   /* ".999999999" */
	FLOW_TIME_RFC1123Z,       /* "Mon, 02 Jan 2006 15:04:05 -0700" */
};

/* Hubble's name (StampMilli, RFC3339, ...) of a format; -1 when unknown. */
int flow_time_format_parse(const char *name);

struct flow_text;

struct flow_printer {
	enum flow_print_form form;
	enum flow_time_format time_format;
	bool color; /* Hubble's colours (a terminal) */
	const char *node; /* --print-node-name: the flow's node, else NULL */
	bool policy_names; /* --print-policy-names: ALLOWED BY name (kind) */
	bool numeric;      /* --numeric: addresses, never pod or service names */
	struct flow_text *scratch; /* one flow's cells, reused */
	/* -o table: the rows so far, laid out by flow_print_flush */
	char **rows;
	size_t nrows, rows_cap;
	/* flows printed so far: the table's header and dict's separators */
	unsigned long long count;
	/* "Mon _D HH:MM:SS" of the last flow's second, kept for the next */
	bool memo_valid;
	uint64_t memo_sec;
	char memo[24];
};

/*
 * Prints f (ending with a newline) in p's form, as Hubble's printer
 * (hubble/pkg/printer) prints the flow's JSON: compact
 * "TIME [NODE]: SRC (ID:n) -> DST (ID:m) TYPE VERDICT (SUMMARY)" ("<-"
 * and the ends swapped for a reply, "<>" when that is unknown, as for a
 * drop), dict, or table rows, which wait for flow_print_flush (Go's
 * tabwriter aligns columns over all of them).
 */
void flow_print(struct flow_printer *p, FILE *out, const struct sl_flow_view *f);
/* The same for a Flow object (a line of -o json, or of hubble observe -o
 * json): every field Hubble's printer reads, also those sluice's flows
 * never have (source_service, *_names, l7.dns, ip_trace_id, auth_type). */
void flow_print_json(struct flow_printer *p, FILE *out, json_t *flow);
/* A lost_events response (hubble observe's "EVENTS LOST" line): its
 * source, CPU and count, and the first and last lost when known. */
void flow_print_lost(struct flow_printer *p, FILE *out, json_t *msg);
/* -o table: prints the rows kept so far, aligned. */
void flow_print_flush(struct flow_printer *p, FILE *out);
void flow_printer_free(struct flow_printer *p);

/*
 * A flow line's "flow" object (an agent without the binary wire form) as a
 * view for flow_print. The strings point into flow, but for the host,
 * which is cut from the URL into host.
 */
struct flow_json_view {
	struct sl_flow_view f;
	char host[SL_FLOW_CAP_HOST];
	char *labels[2];   /* the ends' labels as JSON array text (malloc'd) */
	const char *uuid;  /* the flow's uuid text, or NULL */
};
void flow_view_from_json(json_t *flow, struct flow_json_view *v);
void flow_json_view_free(struct flow_json_view *v);

#endif
