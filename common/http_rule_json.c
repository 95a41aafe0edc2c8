/* SPDX-License-Identifier: Apache-2.0 */
/* http_rule_json.c - see http_rule_json.h. */
#include "http_rule_json.h"

#include "sluice/policy.h"

static json_t *header_match_json(const struct sluice_header_match *hm)
{
	json_t *o = json_object();

	json_object_set_new(o, "name", json_string(hm->name ? hm->name : ""));
	if (hm->value)
		json_object_set_new(o, "value", json_string(hm->value));
	if (hm->secret && hm->secret->secret_name) {
		json_t *ref = json_sprintf("%s/%s", hm->secret->secret_ns ? hm->secret->secret_ns : "default",
					   hm->secret->secret_name);
		json_object_set_new(o, "secret", ref);
	}
	if (hm->mismatch != SLUICE_MISMATCH_FAIL && sluice_mismatch_name(hm->mismatch))
		json_object_set_new(o, "mismatch", json_string(sluice_mismatch_name(hm->mismatch)));
	return o;
}

json_t *sl_http_rule_json(const struct sluice_http_rule *r)
{
	json_t *o = json_object(), *h;

	if (r->method)
		json_object_set_new(o, "method", json_string(r->method));
	if (r->path)
		json_object_set_new(o, "path", json_string(r->path));
	if (r->host)
		json_object_set_new(o, "host", json_string(r->host));
	if (r->nheaders) {
		h = json_array();
		for (size_t i = 0; i < r->nheaders; i++)
			json_array_append_new(h, json_string(r->headers[i]));
		json_object_set_new(o, "headers", h);
	}
	if (r->nheader_matches) {
		h = json_array();
		for (size_t i = 0; i < r->nheader_matches; i++)
			json_array_append_new(h, header_match_json(&r->header_matches[i]));
		json_object_set_new(o, "header_matches", h);
	}
	return o;
}
