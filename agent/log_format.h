/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log_format.h - sluiced --log-format text|json. "json" turns every line the
 * agent writes to stderr into one JSON object, for log collectors:
 *   {"time":"2026-01-01T00:00:00.000Z","level":"info","component":"sluiced","msg":"..."}
 * stdout (the HTTP access log, already JSON lines) is left alone.
 */
#ifndef SLUICE_LOG_FORMAT_H
#define SLUICE_LOG_FORMAT_H

/* Validates FORMAT and, for json, starts the formatter. 0 or -errno. */
int log_format_start(const char *format, char **err);

#endif
