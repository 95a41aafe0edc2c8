/* SPDX-License-Identifier: Apache-2.0 */
/* journal.c - see journal.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"

char *journal_splice(char *text, size_t tlen, size_t at, size_t old_len, const char *repl,
		     size_t len)
{
	if (len > old_len) {
		text = realloc(text, tlen - old_len + len + 1);
		if (!text)
			abort();
	}
	/* a change of the same length leaves the rest where it is */
	if (len != old_len)
		memmove(text + at + len, text + at + old_len, tlen - at - old_len + 1);
	memcpy(text + at, repl, len);
	return text;
}

int journal_record_head(char *head, size_t cap, size_t at, size_t old_len, size_t len)
{
	return snprintf(head, cap, "EDIT %zu %zu %zu\n", at, old_len, len);
}

char *journal_replay(char *text, const char *j, size_t jlen, size_t *used)
{
	const char *p = j;

	while ((size_t)(p - j) < jlen) {
		size_t at, old_len, len, tlen = strlen(text);
		const char *nl = memchr(p, '\n', jlen - (size_t)(p - j));
		char head[96];

		/* the header alone, NUL-terminated: sscanf must not read past it */
		if (!nl || (size_t)(nl - p) >= sizeof(head))
			break;
		memcpy(head, p, (size_t)(nl - p));
		head[nl - p] = 0;
		if (sscanf(head, "EDIT %zu %zu %zu", &at, &old_len, &len) != 3 ||
		    len > jlen - (size_t)(nl + 1 - j) || at > tlen || old_len > tlen - at)
			break;
		text = journal_splice(text, tlen, at, old_len, nl + 1, len);
		p = nl + 1 + len;
	}
	*used = (size_t)(p - j);
	return text;
}
