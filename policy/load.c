// SPDX-License-Identifier: Apache-2.0
/*
 * load.c - sluice_policy_load(): splits a file into YAML documents, checks
 * the envelope (apiVersion, kind, metadata) and hands each document to the
 * decoder of its kind. Also the policy set operations (check, merge,
 * remove, free).
 *
 * A load is all-or-nothing: policies are decoded into a private set and
 * only moved into the caller's set when the whole file had no error.
 */
#include "load.h"
#include "hash.h"
#include "yaml_doc.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *sluice_policy_kind_name(int k)
{
	switch ((enum sluice_policy_kind)k) {
	case SLUICE_KIND_CNP:
		return "CiliumNetworkPolicy";
	case SLUICE_KIND_CCNP:
		return "CiliumClusterwideNetworkPolicy";
	case SLUICE_KIND_K8S:
		return "NetworkPolicy";
	case SLUICE_KIND_CCG:
		return "CiliumCIDRGroup";
	}
	return "?";
}

int sluice_policy_kind_parse(const char *s)
{
	static const struct {
		const char *name;
		int kind;
	} names[] = {
		{ "cnp", SLUICE_KIND_CNP },   { "ciliumnetworkpolicy", SLUICE_KIND_CNP },
		{ "ccnp", SLUICE_KIND_CCNP }, { "ciliumclusterwidenetworkpolicy", SLUICE_KIND_CCNP },
		{ "netpol", SLUICE_KIND_K8S }, { "networkpolicy", SLUICE_KIND_K8S },
		{ "ccg", SLUICE_KIND_CCG },   { "ciliumcidrgroup", SLUICE_KIND_CCG },
	};
	size_t n = s ? strlen(s) : 0;

	/* the plural as kubectl takes it: "...policies", "...groups" */
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t l = strlen(names[i].name);

		if (n == l && !strcasecmp(s, names[i].name))
			return names[i].kind;
		if (l > 4 && names[i].name[l - 1] == 'y' && n == l + 2 &&
		    !strncasecmp(s, names[i].name, l - 1) && !strcasecmp(s + l - 1, "ies"))
			return names[i].kind;
		if (l > 4 && names[i].name[l - 1] == 'p' && n == l + 1 &&
		    !strncasecmp(s, names[i].name, l) && (s[l] == 's' || s[l] == 'S'))
			return names[i].kind;
	}
	return -1;
}

bool load_is_dns1123_label(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!(islower(ch) || isdigit(ch) || (ch == '-' && i > 0 && i < n - 1)))
			return false;
	}
	return true;
}

bool load_is_dns1123_subdomain(const char *s)
{
	size_t n = strlen(s);
	const char *p = s;

	if (n == 0 || n > 253)
		return false;
	for (;;) {
		const char *dot = strchr(p, '.');
		char label[254];
		size_t len = dot ? (size_t)(dot - p) : strlen(p);

		memcpy(label, p, len);
		label[len] = '\0';
		if (!load_is_dns1123_label(label))
			return false;
		if (!dot)
			return true;
		p = dot + 1;
	}
}

/* Kubernetes' label value (and qualified name part): at most 63 of
 * [A-Za-z0-9-_.], starting and ending with a letter or digit; "" allowed */
static bool load_is_label_value(const char *s, size_t n)
{
	if (n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!isalnum(ch) && ((i == 0 || i == n - 1) || !strchr("-_.", ch)))
			return false;
	}
	return true;
}

const char *load_label_key_problem(const char *key)
{
	const char *slash = strchr(key, '/'), *name = slash ? slash + 1 : key;
	char prefix[254];

	if (slash) {
		size_t plen = (size_t)(slash - key);

		if (strchr(name, '/'))
			return "a label key holds at most one '/' (prefix/name)";
		if (!plen || plen >= sizeof(prefix))
			return "the prefix before '/' must be a DNS subdomain";
		memcpy(prefix, key, plen);
		prefix[plen] = '\0';
		if (!load_is_dns1123_subdomain(prefix))
			return "the prefix before '/' must be a DNS subdomain (lower case letters, digits, '-' and '.')";
	}
	if (!*name || !load_is_label_value(name, strlen(name)))
		return "a label name is 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
	return NULL;
}

const char *load_label_value_problem(const char *value)
{
	if (!load_is_label_value(value, strlen(value)))
		return "a label value is at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
	return NULL;
}

/* IANA_SVC_NAME: 1-15 of [a-z0-9-], a letter somewhere, no "--", no '-' at the ends */
bool load_is_iana_svc_name(const char *s)
{
	size_t n = strlen(s);
	bool letter = false;

	if (n == 0 || n > 15 || s[0] == '-' || s[n - 1] == '-' || strstr(s, "--"))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (islower(ch))
			letter = true;
		else if (!isdigit(ch) && ch != '-')
			return false;
	}
	return letter;
}

int load_parse_uint16(const char *s, uint16_t *port)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 5)
		return -1;
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return -1;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

void load_metadata(struct yctx *c, y_node_t *root, struct sluice_policy *p,
		   bool namespaced)
{
	static const char *const known[] = {
		"name", "namespace", "labels", "annotations", "uid", "resourceVersion",
		"generation", "creationTimestamp", "deletionTimestamp",
		"deletionGracePeriodSeconds", "managedFields", "selfLink",
		"finalizers", "ownerReferences", "generateName", NULL,
	};
	y_node_t *meta, *n;
	int line = y_line(root);
	size_t old = y_push_field(c, "metadata");
	const char *s;

	meta = y_field(c, root, "metadata", &line);
	if (!meta) {
		y_error(c, line, "missing required field");
		goto out;
	}
	if (!y_mapping(c, meta))
		goto out;
	y_check_fields(c, meta, known, NULL);

	y_push_field(c, "name");
	n = y_field(c, meta, "name", &line);
	if (!n || y_is_null(n)) {
		y_error(c, n ? y_line(n) : y_line(meta), "missing required field");
	} else if ((s = y_string(c, n))) {
		if (!load_is_dns1123_subdomain(s))
			y_error(c, y_line(n), "invalid name \"%s\" (want a DNS-1123 subdomain: lower case letters, digits, '-' and '.')", s);
		else
			p->name = y_strdup(c, s);
	}
	y_pop(c, old + strlen(".metadata"));

	y_push_field(c, "namespace");
	n = y_field(c, meta, "namespace", &line);
	if (n && !y_is_null(n) && (s = y_string(c, n))) {
		if (!namespaced)
			y_error(c, y_line(n), "a %s has no namespace", sluice_policy_kind_name(p->kind));
		else if (!load_is_dns1123_label(s))
			y_error(c, y_line(n), "invalid namespace \"%s\" (want a DNS-1123 label)", s);
		else
			p->namespace = y_strdup(c, s);
	}
	if (namespaced && !p->namespace && !(n && !y_is_null(n)))
		p->namespace = y_strdup(c, "default");
	y_pop(c, old + strlen(".metadata"));

	/* labels and annotations: string to string maps, otherwise ignored */
	const char *maps[] = { "labels", "annotations" };
	for (size_t i = 0; i < 2; i++) {
		yaml_node_pair_t *pr;

		y_push_field(c, maps[i]);
		n = y_field(c, meta, maps[i], &line);
		if (n && !y_is_null(n) && y_mapping(c, n)) {
			for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
				y_string(c, y_node(c, pr->key));
				y_string(c, y_node(c, pr->value));
			}
		}
		y_pop(c, old + strlen(".metadata"));
	}
out:
	y_pop(c, old);
}

static void load_document(struct yctx *c, y_node_t *root, struct sluice_policy *p)
{
	static const char *const known[] = {
		"apiVersion", "kind", "metadata", "spec", "specs", "status", NULL,
	};
	const char *api = NULL, *kind = NULL;
	y_node_t *n;
	int line;
	size_t old;

	if (!y_mapping(c, root))
		return;
	old = y_push_field(c, "apiVersion");
	n = y_field(c, root, "apiVersion", &line);
	if (!n)
		y_error(c, y_line(root), "missing required field");
	else
		api = y_string(c, n);
	y_pop(c, old);
	y_push_field(c, "kind");
	n = y_field(c, root, "kind", &line);
	if (!n)
		y_error(c, y_line(root), "missing required field");
	else
		kind = y_string(c, n);
	if (!api || !kind) {
		y_pop(c, old);
		return;
	}
	if (!strcmp(kind, "CiliumNetworkPolicy")) {
		p->kind = SLUICE_KIND_CNP;
	} else if (!strcmp(kind, "CiliumClusterwideNetworkPolicy")) {
		p->kind = SLUICE_KIND_CCNP;
	} else if (!strcmp(kind, "NetworkPolicy")) {
		p->kind = SLUICE_KIND_K8S;
	} else if (!strcmp(kind, "CiliumCIDRGroup")) {
		p->kind = SLUICE_KIND_CCG;
	} else {
		y_error(c, y_line(n), "unsupported kind \"%s\" (want CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy, CiliumCIDRGroup or NetworkPolicy)", kind);
		y_pop(c, old);
		return;
	}
	y_pop(c, old);
	/* CiliumCIDRGroup is served as v2alpha1 since Cilium 1.13 and as v2
	 * since 1.18: the same object */
	if (strcmp(api, p->kind == SLUICE_KIND_K8S ? "networking.k8s.io/v1" : "cilium.io/v2") &&
	    !(p->kind == SLUICE_KIND_CCG && !strcmp(api, "cilium.io/v2alpha1"))) {
		y_push_field(c, "apiVersion");
		y_error(c, y_line(y_field(c, root, "apiVersion", NULL)),
			"unsupported apiVersion \"%s\" for %s (want %s)", api, kind,
			p->kind == SLUICE_KIND_K8S ? "networking.k8s.io/v1"
			: p->kind == SLUICE_KIND_CCG ? "cilium.io/v2alpha1 or cilium.io/v2"
						     : "cilium.io/v2");
		y_pop(c, old);
		return;
	}
	if (p->kind == SLUICE_KIND_K8S) {
		k8s_load_document(c, root, p);
		return;
	}
	y_check_fields(c, root, known, NULL);
	if (p->kind == SLUICE_KIND_CCG) {
		cilium_load_cidr_group(c, root, p);
		return;
	}
	load_metadata(c, root, p, p->kind == SLUICE_KIND_CNP);
	cilium_load_document(c, root, p);
}

static int load_append(struct sluice_policy_set *s, struct sluice_policy *p)
{
	struct sluice_policy *v = realloc(s->v, (s->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	s->v = v;
	s->v[s->n++] = *p;
	return 0;
}

static void load_report_duplicate(struct sluice_diags *errors, const struct sluice_policy *first,
				  const struct sluice_policy *dup)
{
	sluice_diags_add(errors, "%s:%d: metadata.name: duplicate %s \"%s%s%s\" (first defined at %s:%d)",
			 dup->file, dup->line, sluice_policy_kind_name(dup->kind),
			 dup->namespace ? dup->namespace : "", dup->namespace ? "/" : "",
			 dup->name, first->file, first->line);
}

/* "kind\x1fnamespace\x1fname": the identity of a policy in a set */
static char *load_policy_key(const struct sluice_policy *p)
{
	char *k;

	if (asprintf(&k, "%d\x1f%s\x1f%s", (int)p->kind, p->namespace ? p->namespace : "",
		     p->name ? p->name : "") < 0)
		return NULL;
	return k;
}

/* Reports each policy that repeats an earlier one; returns how many. */
static int load_find_duplicates(const struct sluice_policy_set *set, struct sluice_diags *errors)
{
	struct strmap seen = { 0 };
	int dups = 0;

	for (size_t i = 0; i < set->n; i++) {
		char *k = load_policy_key(&set->v[i]);
		size_t *first;

		if (!k) {
			dups = -ENOMEM;
			break;
		}
		first = strmap_get(&seen, k);
		if (first) {
			load_report_duplicate(errors, &set->v[*first], &set->v[i]);
			dups++;
		} else if (strmap_put(&seen, k, i)) {
			free(k);
			dups = -ENOMEM;
			break;
		}
		free(k);
	}
	strmap_free(&seen);
	return dups;
}

int sluice_policy_set_check(const struct sluice_policy_set *set, struct sluice_diags *errors)
{
	int dups = load_find_duplicates(set, errors);

	return dups < 0 ? dups : dups ? -EINVAL : 0;
}

int sluice_policy_load(const char *file, const char *text, size_t len,
		       struct sluice_policy_set *out, struct sluice_diags *errors,
		       struct sluice_diags *warnings)
{
	struct sluice_policy_set loaded = { 0 };
	struct sluice_diags warns = { 0 };
	yaml_parser_t parser;
	struct yctx c = {
		.file = file ? file : "<input>",
		.errors = errors,
		.warnings = &warns,
	};
	struct y_doc *fast = NULL;
	size_t nfast = 0, next = 0;
	/* the common shape of YAML without libyaml's scanner (yaml_fast.c);
	 * anything else, and every error, is libyaml's */
	int fast_rc = y_fast_load(text, len, &fast, &nfast);
	/* what the fast reader takes is printable ASCII already */
	bool ascii = fast_rc == 1 || sluice_text_is_ascii(text, len);
	int rc = 0;

	if (fast_rc < 0)
		return -ENOMEM;
	/* libyaml only for a text the fast reader declined */
	if (fast_rc == 0) {
		if (!yaml_parser_initialize(&parser))
			return -ENOMEM;
		yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	}
	for (;;) {
		struct sluice_policy p = { 0 };
		struct y_doc doc;
		y_node_t *root;

		if (fast_rc == 1) {
			if (next == nfast)
				break;
			doc = fast[next++]; /* moved: freed below */
		} else if (!y_doc_load(&parser, &doc)) {
			sluice_diags_add(errors, "%s:%zu: yaml syntax error: %s%s%s", c.file,
					 parser.problem_mark.line + 1,
					 parser.problem ? parser.problem : "unknown",
					 parser.context ? " " : "",
					 parser.context ? parser.context : "");
			c.nerrors++;
			break;
		}
		root = y_doc_root(&doc);
		if (!root) { /* end of stream */
			y_doc_free(&doc);
			break;
		}
		if (y_is_null(root)) { /* an empty document between two "---" */
			y_doc_free(&doc);
			continue;
		}
		c.doc = &doc;
		c.plen = 0;
		c.path[0] = '\0';
		p.line = y_line(root);
		p.text_ascii = ascii;
		p.file = strdup(c.file);
		load_document(&c, root, &p);
		y_doc_free(&doc);
		if (!p.file || c.nerrors || load_append(&loaded, &p)) {
			if (!p.file || (!c.nerrors && !rc))
				rc = -ENOMEM;
			sluice_policy_free(&p);
		}
	}
	if (fast_rc == 0)
		yaml_parser_delete(&parser);
	free(fast); /* its documents were each freed in the loop */

	if (!c.nerrors && !rc) {
		int dups = load_find_duplicates(&loaded, errors);

		if (dups < 0)
			rc = dups;
		else
			c.nerrors += dups;
	}
	if (c.nerrors || rc) {
		sluice_policy_set_free(&loaded);
		sluice_diags_free(&warns);
		return c.nerrors ? -EINVAL : rc;
	}
	for (size_t i = 0; i < warns.n; i++)
		sluice_diags_add(warnings, "%s", warns.v[i].msg);
	sluice_diags_free(&warns);
	for (size_t i = 0; i < loaded.n; i++) {
		if (load_append(out, &loaded.v[i])) {
			/* undo: out must stay unchanged */
			out->n -= i;
			sluice_policy_set_free(&loaded);
			return -ENOMEM;
		}
	}
	free(loaded.v);
	return 0;
}

/* ---- freeing ---------------------------------------------------------- */

static void load_cidrs_free(struct sluice_cidr *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		load_cidrs_free(v[i].except, v[i].nexcept);
	free(v);
}

void load_tls_context_free(struct sluice_tls_context *t)
{
	if (!t)
		return;
	free(t->secret_ns);
	free(t->secret_name);
	free(t->trusted_ca);
	free(t->certificate);
	free(t->private_key);
	free(t->where);
	free(t);
}

void load_peer_rule_free(struct sluice_peer_rule *p)
{
	for (size_t i = 0; i < p->nendpoints; i++)
		selector_free(&p->endpoints[i]);
	free(p->endpoints);
	load_cidrs_free(p->cidrs, p->ncidrs);
	for (size_t i = 0; i < p->nservices; i++) {
		free(p->services[i].name);
		free(p->services[i].namespace);
		selector_free(&p->services[i].selector);
	}
	free(p->services);
	for (size_t i = 0; i < p->ngroups; i++) {
		free(p->groups[i].name);
		selector_free(&p->groups[i].selector);
		load_cidrs_free(p->groups[i].except, p->groups[i].nexcept);
	}
	free(p->groups);
	for (size_t i = 0; i < p->nto_ports; i++) {
		struct sluice_port_rule *pr = &p->to_ports[i];

		for (size_t j = 0; j < pr->nports; j++)
			free(pr->ports[j].name);
		free(pr->ports);
		for (size_t j = 0; j < pr->nhttp; j++) {
			struct sluice_http_rule *h = &pr->http[j];

			free(h->method);
			free(h->path);
			free(h->host);
			for (size_t k = 0; k < h->nheaders; k++)
				free(h->headers[k]);
			free(h->headers);
			for (size_t k = 0; k < h->nheader_matches; k++) {
				free(h->header_matches[k].name);
				free(h->header_matches[k].value);
				load_tls_context_free(h->header_matches[k].secret);
			}
			free(h->header_matches);
		}
		free(pr->http);
		load_tls_context_free(pr->terminating_tls);
		load_tls_context_free(pr->originating_tls);
		for (size_t j = 0; j < pr->nserver_names; j++)
			free(pr->server_names[j]);
		free(pr->server_names);
	}
	free(p->to_ports);
	memset(p, 0, sizeof(*p));
}

void load_rule_free(struct sluice_rule *r)
{
	struct sluice_peer_rule *lists[] = { r->ingress, r->egress, r->ingress_deny, r->egress_deny };
	size_t counts[] = { r->ningress, r->negress, r->ningress_deny, r->negress_deny };

	selector_free(&r->subject);
	for (size_t l = 0; l < 4; l++) {
		for (size_t i = 0; i < counts[l]; i++)
			load_peer_rule_free(&lists[l][i]);
		free(lists[l]);
	}
	memset(r, 0, sizeof(*r));
}

void sluice_policy_free(struct sluice_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nrules; i++)
		load_rule_free(&p->rules[i]);
	free(p->rules);
	load_cidrs_free(p->group_cidrs, p->ngroup_cidrs);
	sluice_labels_free(&p->group_labels);
	free(p->name);
	free(p->namespace);
	free(p->file);
	memset(p, 0, sizeof(*p));
}

void sluice_policy_set_free(struct sluice_policy_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		sluice_policy_free(&s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

struct sluice_peer_rule *rule_section(const struct sluice_rule *r, enum sluice_section section,
				      size_t *n)
{
	switch (section) {
	case SLUICE_SECTION_INGRESS: *n = r->ningress; return r->ingress;
	case SLUICE_SECTION_EGRESS: *n = r->negress; return r->egress;
	case SLUICE_SECTION_INGRESS_DENY: *n = r->ningress_deny; return r->ingress_deny;
	default: *n = r->negress_deny; return r->egress_deny;
	}
}

/* ---- set operations --------------------------------------------------- */

static int load_set_append(struct sluice_policy_set *s, struct sluice_policy *p)
{
	struct sluice_policy *v = realloc(s->v, (s->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	s->v = v;
	s->v[s->n++] = *p;
	memset(p, 0, sizeof(*p));
	return 0;
}

int sluice_policy_set_merge(struct sluice_policy_set *dst, struct sluice_policy_set *src)
{
	return sluice_policy_set_replace(dst, src, NULL);
}

int sluice_policy_set_replace(struct sluice_policy_set *dst, struct sluice_policy_set *src,
			      struct sluice_policy_set *replaced)
{
	struct strmap index = { 0 };
	struct sluice_policy *v;
	int rc = 0;

	if (!src->n)
		return 0;
	v = realloc(dst->v, (dst->n + src->n) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	dst->v = v;
	for (size_t i = 0; i < dst->n && !rc; i++) {
		char *k = load_policy_key(&dst->v[i]);

		rc = k ? strmap_put(&index, k, i) : -ENOMEM;
		free(k);
	}
	for (size_t i = 0; i < src->n && !rc; i++) {
		char *k = load_policy_key(&src->v[i]);
		size_t *at = k ? strmap_get(&index, k) : NULL;

		if (!k) {
			rc = -ENOMEM;
		} else if (at) {
			/* the same policy, another version: it keeps its number */
			if (!src->v[i].ref_id)
				src->v[i].ref_id = dst->v[*at].ref_id;
			if (!replaced || load_set_append(replaced, &dst->v[*at]))
				sluice_policy_free(&dst->v[*at]);
			dst->v[*at] = src->v[i];
			memset(&src->v[i], 0, sizeof(src->v[i]));
		} else {
			rc = strmap_put(&index, k, dst->n);
			if (!rc) {
				dst->v[dst->n++] = src->v[i];
				memset(&src->v[i], 0, sizeof(src->v[i]));
			}
		}
		free(k);
	}
	strmap_free(&index);
	if (rc) {
		/* what was not moved stays in src (moved ones are zeroed there) */
		size_t w = 0;

		for (size_t i = 0; i < src->n; i++)
			if (src->v[i].name)
				src->v[w++] = src->v[i];
		src->n = w;
		return rc;
	}
	free(src->v);
	src->v = NULL;
	src->n = 0;
	return 0;
}

int sluice_policy_set_remove(struct sluice_policy_set *s, int kind,
			     const char *ns, const char *name)
{
	for (size_t i = 0; i < s->n; i++) {
		struct sluice_policy *p = &s->v[i];

		if ((kind >= 0 && (int)p->kind != kind) || !p->name || strcmp(p->name, name) ||
		    strcmp(p->namespace ? p->namespace : "", ns ? ns : ""))
			continue;
		sluice_policy_free(p);
		memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*p));
		s->n--;
		return 0;
	}
	return -ENOENT;
}

int sluice_policy_set_take(struct sluice_policy_set *s, int kind, const char *ns,
			   const char *name, struct sluice_policy_set *out)
{
	for (size_t i = 0; i < s->n; i++) {
		struct sluice_policy *p = &s->v[i];
		int rc;

		if ((kind >= 0 && (int)p->kind != kind) || !p->name || strcmp(p->name, name) ||
		    strcmp(p->namespace ? p->namespace : "", ns ? ns : ""))
			continue;
		rc = load_set_append(out, p);
		if (rc)
			return rc;
		memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*p));
		s->n--;
		return 0;
	}
	return -ENOENT;
}
