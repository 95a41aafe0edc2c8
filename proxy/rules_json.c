/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rules_json.c - reading and writing the serialized rules table (format in
 * rules_json.h) with jansson.
 */
#include "rules_json.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_rule_json.h"
#include "sluice/policy_api.h"
#include "tls.h"

static void rjson_errf(char **err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void rjson_errf(char **err, const char *fmt, ...)
{
	va_list ap;

	if (!err || *err)
		return;
	va_start(ap, fmt);
	if (vasprintf(err, fmt, ap) < 0)
		*err = NULL;
	va_end(ap);
}

static int rjson_check_keys(json_t *obj, const char *const *allowed,
			    const char *where, char **err)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v) {
		size_t i;
		for (i = 0; allowed[i]; i++)
			if (!strcmp(k, allowed[i]))
				break;
		if (!allowed[i]) {
			rjson_errf(err, "%s.%s: unknown key", where, k);
			return -EINVAL;
		}
	}
	return 0;
}

/* Optional string field: absent or null = NULL. */
static int rjson_opt_str(json_t *obj, const char *key, const char **out,
			 const char *where, char **err)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		rjson_errf(err, "%s.%s: expected a string", where, key);
		return -EINVAL;
	}
	*out = json_string_value(v);
	return 0;
}

/* {"secret": "ns/name", "trustedCA"|"certificate"|"privateKey": key} */
static int rjson_tls_ref(json_t *obj, struct proxy_tls_ref *ref, const char *where, char **err)
{
	static const char *const keys[] = { "secret", "trustedCA", "certificate", "privateKey", NULL };
	const char *secret, *ca, *crt, *key;
	int ret;

	if (!json_is_object(obj)) {
		rjson_errf(err, "%s: expected an object", where);
		return -EINVAL;
	}
	ret = rjson_check_keys(obj, keys, where, err);
	if (!ret)
		ret = rjson_opt_str(obj, "secret", &secret, where, err);
	if (!ret)
		ret = rjson_opt_str(obj, "trustedCA", &ca, where, err);
	if (!ret)
		ret = rjson_opt_str(obj, "certificate", &crt, where, err);
	if (!ret)
		ret = rjson_opt_str(obj, "privateKey", &key, where, err);
	if (ret)
		return ret;
	if (!secret || !*secret) {
		rjson_errf(err, "%s.secret: required", where);
		return -EINVAL;
	}
	return proxy_tls_ref_set(ref, secret, ca, crt, key);
}

/* The entry's "tls" object, attached to the entry added last. */
static int rjson_tls(struct proxy_rules_builder *b, json_t *tls, const char *where, char **err)
{
	static const char *const keys[] = { "terminating", "originating", "server_names", "tcp", NULL };
	struct proxy_tls_spec *spec;
	json_t *v;
	char w[160];
	int ret;

	if (!json_is_object(tls)) {
		rjson_errf(err, "%s.tls: expected an object", where);
		return -EINVAL;
	}
	snprintf(w, sizeof(w), "%s.tls", where);
	if ((ret = rjson_check_keys(tls, keys, w, err)))
		return ret;
	if (!(spec = proxy_tls_spec_new()))
		return -ENOMEM;
	if ((v = json_object_get(tls, "terminating")) && !json_is_null(v)) {
		snprintf(w, sizeof(w), "%s.tls.terminating", where);
		ret = rjson_tls_ref(v, &spec->term, w, err);
	}
	if (!ret && (v = json_object_get(tls, "originating")) && !json_is_null(v)) {
		snprintf(w, sizeof(w), "%s.tls.originating", where);
		ret = rjson_tls_ref(v, &spec->orig, w, err);
	}
	if (!ret && (v = json_object_get(tls, "server_names")) && !json_is_null(v)) {
		if (!json_is_array(v)) {
			rjson_errf(err, "%s.tls.server_names: expected an array", where);
			ret = -EINVAL;
		}
		for (size_t i = 0; !ret && i < json_array_size(v); i++) {
			const char *n = json_string_value(json_array_get(v, i));

			if (!n || !proxy_tls_sni_pattern_valid(n)) {
				rjson_errf(err, "%s.tls.server_names[%zu]: expected a server name pattern",
					   where, i);
				ret = -EINVAL;
			} else {
				ret = proxy_tls_spec_add_server_name(spec, n);
			}
		}
	}
	if (!ret && (v = json_object_get(tls, "tcp")) && !json_is_null(v)) {
		if (!json_is_boolean(v)) {
			rjson_errf(err, "%s.tls.tcp: expected a boolean", where);
			ret = -EINVAL;
		}
		spec->tcp = json_is_true(v);
	}
	if (!ret)
		ret = proxy_rules_builder_set_tls(b, spec);
	proxy_tls_spec_unref(spec);
	return ret;
}


/* An optional array field: *out is the array, or NULL when absent or null. */
static int rjson_opt_array(json_t *obj, const char *key, json_t **out, const char *where,
			   char **err)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v)) {
		rjson_errf(err, "%s.%s: expected an array", where, key);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/*
 * A rule's "header_matches": [{"name", "value", "secret": "ns/name",
 * "mismatch"}]. A secret's value is its lone item in the document's
 * "secrets"; a secret that is not there (or has more items) is missing.
 */
static int rjson_header_matches(json_t *hm, json_t *secrets, struct proxy_header_match_spec *out,
				const char *rw, char **err)
{
	static const char *const keys[] = { "name", "value", "secret", "mismatch", NULL };

	for (size_t k = 0; k < json_array_size(hm); k++) {
		json_t *m = json_array_get(hm, k), *v;
		struct proxy_header_match_spec *ms = &out[k];
		const char *act = NULL, *sec = NULL;
		char w[160];
		int a, ret;

		snprintf(w, sizeof(w), "%s.header_matches[%zu]", rw, k);
		if (!json_is_object(m)) {
			rjson_errf(err, "%s: expected an object", w);
			return -EINVAL;
		}
		if ((ret = rjson_check_keys(m, keys, w, err)) ||
		    (ret = rjson_opt_str(m, "name", &ms->name, w, err)) ||
		    (ret = rjson_opt_str(m, "value", &ms->value, w, err)) ||
		    (ret = rjson_opt_str(m, "secret", &sec, w, err)) ||
		    (ret = rjson_opt_str(m, "mismatch", &act, w, err)))
			return ret;
		if (!ms->name || !*ms->name) {
			rjson_errf(err, "%s.name: expected a header name", w);
			return -EINVAL;
		}
		a = act ? sluice_mismatch_parse(act) : SLUICE_MISMATCH_FAIL;
		if (a < 0) {
			rjson_errf(err, "%s.mismatch: unknown action \"%s\"", w, act);
			return -EINVAL;
		}
		ms->mismatch = (uint8_t)a;
		if (sec) {
			json_t *items = json_object_get(secrets, sec);

			ms->secret = true;
			if (json_is_object(items) && json_object_size(items) == 1) {
				void *it = json_object_iter(items);

				v = json_object_iter_value(it);
				if (json_is_string(v)) {
					ms->secret_value = json_string_value(v);
					ms->secret_len = json_string_length(v);
				}
			}
		}
	}
	return 0;
}

/* Parses one policy body and adds it to the builder. */
static int rjson_add_policy(struct proxy_rules_builder *b, json_t *pol, json_t *secrets,
			    const struct proxy_rules_key *key, const char *where,
			    char **err, bool *compile_error)
{
	static const char *const rule_keys[] = { "method", "path", "host", "headers",
						 "header_matches", NULL };
	json_t *rules = json_object_get(pol, "rules");
	json_t *aa = json_object_get(pol, "allow_all");
	struct proxy_rule_spec *specs = NULL;
	struct proxy_header_match_spec *hms = NULL;
	const char **hdrs = NULL;
	size_t nrules = 0, nhdrs = 0, hi = 0, nhm = 0, mi = 0;
	int ret = 0;

	if (aa && !json_is_boolean(aa)) {
		rjson_errf(err, "%s.allow_all: expected a boolean", where);
		return -EINVAL;
	}
	if (rules && !json_is_array(rules)) {
		rjson_errf(err, "%s.rules: expected an array", where);
		return -EINVAL;
	}
	nrules = rules ? json_array_size(rules) : 0;
	for (size_t i = 0; i < nrules; i++) {
		json_t *h = json_object_get(json_array_get(rules, i), "headers");
		if (h && json_is_array(h))
			nhdrs += json_array_size(h);
		h = json_object_get(json_array_get(rules, i), "header_matches");
		if (h && json_is_array(h))
			nhm += json_array_size(h);
	}
	if ((nrules && !(specs = calloc(nrules, sizeof(*specs)))) ||
	    (nhdrs && !(hdrs = calloc(nhdrs, sizeof(*hdrs)))) ||
	    (nhm && !(hms = calloc(nhm, sizeof(*hms))))) {
		free(specs);
		free(hdrs);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nrules && !ret; i++) {
		json_t *r = json_array_get(rules, i), *h;
		char rw[96];

		snprintf(rw, sizeof(rw), "%s.rules[%zu]", where, i);
		if (!json_is_object(r)) {
			rjson_errf(err, "%s: expected an object", rw);
			ret = -EINVAL;
			break;
		}
		ret = rjson_check_keys(r, rule_keys, rw, err);
		if (!ret)
			ret = rjson_opt_str(r, "method", &specs[i].method, rw, err);
		if (!ret)
			ret = rjson_opt_str(r, "path", &specs[i].path, rw, err);
		if (!ret)
			ret = rjson_opt_str(r, "host", &specs[i].host, rw, err);
		if (!ret)
			ret = rjson_opt_array(r, "headers", &h, rw, err);
		if (!ret && h) {
			specs[i].headers = hdrs + hi;
			specs[i].nheaders = json_array_size(h);
			for (size_t k = 0; k < specs[i].nheaders; k++) {
				json_t *s = json_array_get(h, k);
				if (!json_is_string(s)) {
					rjson_errf(err, "%s.headers[%zu]: expected a string", rw, k);
					ret = -EINVAL;
					break;
				}
				hdrs[hi++] = json_string_value(s);
			}
		}
		if (!ret)
			ret = rjson_opt_array(r, "header_matches", &h, rw, err);
		if (!ret && h) {
			specs[i].matches = hms + mi;
			specs[i].nmatches = json_array_size(h);
			ret = rjson_header_matches(h, secrets, hms + mi, rw, err);
			mi += specs[i].nmatches;
		}
	}
	if (!ret) {
		char *cerr = NULL;
		ret = proxy_rules_builder_add(b, key, aa && json_is_true(aa), specs,
					      nrules, &cerr);
		if (ret == -EINVAL) {
			*compile_error = true;
			rjson_errf(err, "%s.%s", where, cerr ? cerr : "invalid rule");
			ret = 0; /* the entry stays and denies */
		}
		free(cerr);
	}
	if (!ret && json_object_get(pol, "tls") && !json_is_null(json_object_get(pol, "tls")))
		ret = rjson_tls(b, json_object_get(pol, "tls"), where, err);
	free(hdrs);
	free(hms);
	free(specs);
	return ret;
}

static int rjson_uint(json_t *obj, const char *key, json_int_t max, uint32_t *out,
		      const char *where, char **err)
{
	json_t *v = json_object_get(obj, key);

	if (!v || !json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > max) {
		rjson_errf(err, "%s.%s: expected an integer 0..%lld", where, key,
			   (long long)max);
		return -EINVAL;
	}
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

int proxy_rules_json_secrets(const char *text, size_t len, struct proxy_tls_store *st,
			     char **err)
{
	json_t *doc = json_loadb(text, len, 0, NULL), *secrets, *items, *v;
	const char **names = NULL;
	const char *name, *key;
	size_t n = 0;
	int ret = 0;

	if (!doc)
		return 0; /* proxy_rules_json_load() reports it */
	secrets = json_object_get(doc, "secrets");
	if (secrets && !json_is_object(secrets)) {
		rjson_errf(err, "secrets: expected an object");
		ret = -EINVAL;
		goto out;
	}
	if (secrets && !(names = calloc(json_object_size(secrets) + 1, sizeof(*names)))) {
		ret = -ENOMEM;
		goto out;
	}
	json_object_foreach(secrets, name, items) {
		struct proxy_secret_item it[16];
		size_t ni = 0;

		if (!json_is_object(items) || json_object_size(items) > 16) {
			rjson_errf(err, "secrets.%s: expected an object of at most 16 keys", name);
			ret = -EINVAL;
			goto out;
		}
		json_object_foreach(items, key, v) {
			if (!json_is_string(v)) {
				rjson_errf(err, "secrets.%s.%s: expected a string", name, key);
				ret = -EINVAL;
				goto out;
			}
			it[ni++] = (struct proxy_secret_item){ key, json_string_value(v),
							       json_string_length(v) };
		}
		if ((ret = proxy_tls_store_set(st, name, it, ni)))
			goto out;
		names[n++] = name;
	}
	ret = proxy_tls_store_retain(st, names, n);
out:
	free(names);
	json_decref(doc);
	return ret;
}

int proxy_rules_json_load(const char *text, size_t len,
			  const struct proxy_rules_key *single_key,
			  struct proxy_rules_table **out, char **err)
{
	static const char *const top_keys[] = { "version", "policies", "secrets", NULL };
	static const char *const single_keys[] = { "allow_all", "rules", "tls", "secrets", NULL };
	static const char *const pol_keys[] = { "ep_id", "direction", "port", "end_port",
						"protocol", "peer_identity", "allow_all",
						"rules", "tls", NULL };
	struct proxy_rules_builder *b = NULL;
	json_error_t jerr;
	json_t *doc, *pols;
	bool compile_error = false;
	int ret = 0;

	*out = NULL;
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		rjson_errf(err, "line %d: %s", jerr.line, jerr.text);
		return -EINVAL;
	}
	if (!json_is_object(doc)) {
		rjson_errf(err, "top level: expected an object");
		ret = -EINVAL;
		goto out;
	}
	b = proxy_rules_builder_new();
	if (!b) {
		ret = -ENOMEM;
		goto out;
	}
	pols = json_object_get(doc, "policies");
	if (!pols && single_key) {
		ret = rjson_check_keys(doc, single_keys, "", err);
		if (!ret)
			ret = rjson_add_policy(b, doc, json_object_get(doc, "secrets"), single_key,
					       "policy", err, &compile_error);
		goto finish;
	}
	ret = rjson_check_keys(doc, top_keys, "", err);
	if (ret)
		goto out;
	{
		json_t *ver = json_object_get(doc, "version");
		if (ver && (!json_is_integer(ver) || json_integer_value(ver) != 1)) {
			rjson_errf(err, "version: only version 1 is supported");
			ret = -EINVAL;
			goto out;
		}
	}
	if (!json_is_array(pols)) {
		rjson_errf(err, "policies: expected an array");
		ret = -EINVAL;
		goto out;
	}
	for (size_t i = 0; i < json_array_size(pols) && !ret; i++) {
		json_t *p = json_array_get(pols, i), *dir, *proto;
		struct proxy_rules_key key = { 0 };
		uint32_t port = 0, end_port = 0;
		char where[48];

		snprintf(where, sizeof(where), "policies[%zu]", i);
		if (!json_is_object(p)) {
			rjson_errf(err, "%s: expected an object", where);
			ret = -EINVAL;
			break;
		}
		ret = rjson_check_keys(p, pol_keys, where, err);
		if (!ret)
			ret = rjson_uint(p, "ep_id", UINT32_MAX, &key.ep_id, where, err);
		if (!ret)
			ret = rjson_uint(p, "peer_identity", UINT32_MAX, &key.peer_identity, where, err);
		if (!ret)
			ret = rjson_uint(p, "port", 65535, &port, where, err);
		if (ret)
			break;
		if (port == 0) {
			rjson_errf(err, "%s.port: must be 1..65535", where);
			ret = -EINVAL;
			break;
		}
		key.port = (uint16_t)port;
		if (json_object_get(p, "end_port")) {
			ret = rjson_uint(p, "end_port", 65535, &end_port, where, err);
			if (!ret && end_port < port) {
				rjson_errf(err, "%s.end_port: must be >= port", where);
				ret = -EINVAL;
			}
			if (ret)
				break;
			key.end_port = (uint16_t)end_port;
		}
		dir = json_object_get(p, "direction");
		if (json_is_string(dir) && !strcmp(json_string_value(dir), "ingress")) {
			key.direction = 0;
		} else if (json_is_string(dir) && !strcmp(json_string_value(dir), "egress")) {
			key.direction = 1;
		} else {
			rjson_errf(err, "%s.direction: expected \"ingress\" or \"egress\"", where);
			ret = -EINVAL;
			break;
		}
		proto = json_object_get(p, "protocol");
		if (proto && !(json_is_integer(proto) && json_integer_value(proto) == 6)) {
			rjson_errf(err, "%s.protocol: only 6 (TCP) carries HTTP", where);
			ret = -EINVAL;
			break;
		}
		ret = rjson_add_policy(b, p, json_object_get(doc, "secrets"), &key, where, err,
				       &compile_error);
	}
finish:
	if (ret)
		goto out;
	ret = proxy_rules_builder_finish(b, out, err);
	b = NULL;
	if (!ret && compile_error)
		ret = -EINVAL;
out:
	proxy_rules_builder_free(b);
	json_decref(doc);
	return ret;
}

char *proxy_rules_json_from_l7(const struct sluice_l7_policy *pol, size_t n)
{
	json_t *doc = json_object(), *arr = json_array();
	char *s = NULL;

	if (!doc || !arr)
		goto out;
	json_object_set_new(doc, "version", json_integer(1));
	json_object_set(doc, "policies", arr);
	for (size_t i = 0; i < n; i++) {
		const struct sluice_l7_policy *p = &pol[i];
		json_t *o = json_object(), *rules = json_array();

		if (!o || !rules) {
			json_decref(o);
			json_decref(rules);
			goto out;
		}
		json_object_set_new(o, "ep_id", json_integer(p->ep_id));
		json_object_set_new(o, "direction",
				    json_string(p->direction ? "egress" : "ingress"));
		json_object_set_new(o, "port", json_integer(p->port));
		if (p->end_port > p->port)
			json_object_set_new(o, "end_port", json_integer(p->end_port));
		json_object_set_new(o, "peer_identity", json_integer(p->peer_identity));
		json_object_set_new(o, "allow_all", json_boolean(p->allow_all));
		for (size_t k = 0; k < p->nrules; k++)
			json_array_append_new(rules, sl_http_rule_json(p->rules[k]));
		json_object_set_new(o, "rules", rules);
		json_array_append_new(arr, o);
	}
	s = json_dumps(doc, JSON_COMPACT);
out:
	json_decref(arr);
	json_decref(doc);
	return s;
}

int proxy_rules_table_from_l7(const struct sluice_l7_policy *pol, size_t n,
			      struct proxy_rules_table **out, char **err)
{
	char *text = proxy_rules_json_from_l7(pol, n);
	int rc;

	*out = NULL;
	if (!text)
		return -ENOMEM;
	rc = proxy_rules_json_load(text, strlen(text), NULL, out, err);
	free(text);
	return rc;
}
