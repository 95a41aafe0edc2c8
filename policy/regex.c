// SPDX-License-Identifier: Apache-2.0
/*
 * regex.c - validation of the http regexes of a policy. They are full-match
 * regexes (Envoy safe_regex semantics), so they are compiled the way the
 * proxy compiles them: anchored at the start and wrapped as (?:re)\z.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "internal.h"

#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int regex_validate(const char *re, char **err)
{
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	pcre2_code *code;
	char *wrapped = NULL;
	int rc;

	*err = NULL;
	/* alone first: "a)|(b" must not pass because the wrapping balances it */
	code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF,
			     &rc, &off, NULL);
	if (code) {
		pcre2_code_free(code);
		if (asprintf(&wrapped, "(?:%s)\\z", re) < 0)
			return -ENOMEM;
		code = pcre2_compile((PCRE2_SPTR)wrapped, PCRE2_ZERO_TERMINATED,
				     PCRE2_ANCHORED | PCRE2_UTF, &rc, &off, NULL);
		free(wrapped);
		if (code) {
			pcre2_code_free(code);
			return 0;
		}
		off = 0;
	}
	pcre2_get_error_message(rc, msg, sizeof(msg));
	if (asprintf(err, "%s at offset %zu", (char *)msg, (size_t)off) < 0)
		*err = NULL;
	return -EINVAL;
}
