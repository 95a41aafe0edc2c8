// SPDX-License-Identifier: Apache-2.0
/*
 * load_cilium.c - decoding of CiliumNetworkPolicy and
 * CiliumClusterwideNetworkPolicy documents (cilium.io/v2) into the model of
 * sluice/policy.h, with Cilium's validation rules and namespace scoping.
 *
 * Fields Cilium knows but sluice does not enforce (toFQDNs, icmps, ...) are
 * errors, never silently ignored: a policy that loads is a policy that is
 * enforced as written.
 */
#include "load.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

/* ---- selectors -------------------------------------------------------- */

/*
 * Cilium validates selectors as Kubernetes does (ValidateLabelSelector,
 * values included) on its own spelling of the key: "source:name" becomes
 * "source.name", any text before the first ':' being the source
 * (GetExtendedKeyFrom). A key without a source is checked as written, as
 * the API server checks a NetworkPolicy's (this is the loader of both;
 * Cilium's "any." would only take 4 characters off a name's 63). A
 * selector that could never match a label (a space, a '*') is refused
 * rather than left to select nothing.
 */
static bool cilium_label_ok(struct yctx *c, y_node_t *kn, const char *key,
			    const char *const *values, size_t nvalues)
{
	const char *colon = strchr(key, ':'), *why;
	char *ext = NULL;
	bool ok = true;

	/* the API server refuses a ':' in a NetworkPolicy's key: read as a
	 * source, "reserved:host" would select the host, which no
	 * NetworkPolicy can name */
	if (colon && c->k8s_label_keys) {
		y_error(c, y_line(kn),
			"invalid label key \"%s\": ':' is not allowed in a Kubernetes label key (sources such as \"reserved:\" or \"k8s:\" are Cilium's, not a NetworkPolicy's)",
			key);
		return false;
	}
	if ((colon ? asprintf(&ext, "%.*s.%s", (int)(colon - key), key, colon + 1)
		   : asprintf(&ext, "%s", key)) < 0) {
		y_error(c, y_line(kn), "out of memory");
		return false;
	}
	if ((why = load_label_key_problem(ext))) {
		y_error(c, y_line(kn), "invalid label key \"%s\": %s", key, why);
		ok = false;
	}
	for (size_t i = 0; i < nvalues; i++)
		if (values[i] && (why = load_label_value_problem(values[i]))) {
			y_error(c, y_line(kn), "invalid label value \"%s\": %s", values[i], why);
			ok = false;
		}
	free(ext);
	return ok;
}

static void cilium_match_labels(struct yctx *c, y_node_t *n, struct sluice_selector *out)
{
	yaml_node_pair_t *p;

	if (y_is_null(n) || !y_mapping(c, n))
		return;
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		y_node_t *k = y_node(c, p->key), *v = y_node(c, p->value);
		const char *key = y_string(c, k), *value;
		char *source = NULL, *name = NULL;
		size_t old;

		if (!key)
			continue;
		old = y_push_field(c, key);
		value = y_string(c, v);
		if (!*key) {
			y_error(c, y_line(k), "empty label key");
		} else if (value && cilium_label_ok(c, k, key, &value, 1)) {
			if (labels_split_key(key, "any", &source, &name) ||
			    selector_add_req(out, source, name, SLUICE_SEL_IN, &value, 1))
				y_error(c, y_line(k), "out of memory");
		}
		free(source);
		free(name);
		y_pop(c, old);
	}
}

static void cilium_match_expression(struct yctx *c, y_node_t *n, struct sluice_selector *out)
{
	static const char *const known[] = { "key", "operator", "values", NULL };
	static const char *const ops[] = { "In", "NotIn", "Exists", "DoesNotExist" };
	y_node_t *kn, *on, *vn;
	const char *key = NULL, *op = NULL;
	const char **values = NULL;
	long nvalues = 0;
	int op_index = -1;
	size_t base = c->plen;

	if (!y_mapping(c, n))
		return;
	y_check_fields(c, n, known, NULL);
	kn = y_field(c, n, "key", NULL);
	on = y_field(c, n, "operator", NULL);
	vn = y_field(c, n, "values", NULL);

	y_push_field(c, "key");
	if (!kn)
		y_error(c, y_line(n), "missing required field");
	else if ((key = y_string(c, kn)) && !*key) {
		y_error(c, y_line(kn), "empty label key");
		key = NULL;
	} else if (key && !cilium_label_ok(c, kn, key, NULL, 0)) {
		key = NULL;
	}
	y_pop(c, base);

	y_push_field(c, "operator");
	if (!on) {
		y_error(c, y_line(n), "missing required field");
	} else if ((op = y_string(c, on))) {
		for (int i = 0; i < 4; i++)
			if (!strcmp(op, ops[i]))
				op_index = i;
		if (op_index < 0)
			y_error(c, y_line(on), "unknown operator \"%s\" (want In, NotIn, Exists, DoesNotExist)", op);
	}
	y_pop(c, base);

	y_push_field(c, "values");
	if (vn) {
		nvalues = y_sequence(c, vn);
		if (nvalues > 0)
			values = calloc((size_t)nvalues, sizeof(*values));
		for (long i = 0; i < nvalues && values; i++) {
			size_t old = y_push_index(c, (size_t)i);
			y_node_t *item = y_item(c, vn, i);
			const char *why;

			values[i] = y_string(c, item);
			if (values[i] && (why = load_label_value_problem(values[i])))
				y_error(c, y_line(item), "invalid label value \"%s\": %s", values[i], why);
			y_pop(c, old);
		}
	}
	if (op_index >= 0 && nvalues >= 0) {
		int line = vn ? y_line(vn) : y_line(on);

		if (op_index <= 1 && nvalues == 0)
			y_error(c, line, "operator %s needs at least one value", op);
		else if (op_index >= 2 && nvalues > 0)
			y_error(c, line, "operator %s takes no values", op);
	}
	y_pop(c, base);

	if (key && op_index >= 0 && !c->nerrors) {
		char *source = NULL, *name = NULL;

		if (labels_split_key(key, "any", &source, &name) ||
		    selector_add_req(out, source, name, (enum sluice_sel_op)op_index,
				     values, nvalues > 0 ? (size_t)nvalues : 0))
			y_error(c, y_line(n), "out of memory");
		free(source);
		free(name);
	}
	free(values);
}

void load_selector(struct yctx *c, y_node_t *n, struct sluice_selector *out)
{
	static const char *const known[] = { "matchLabels", "matchExpressions", NULL };
	y_node_t *ml, *me;
	size_t base = c->plen;
	long cnt;

	if (y_is_null(n))
		return;
	if (!y_mapping(c, n))
		return;
	y_check_fields(c, n, known, NULL);
	ml = y_field(c, n, "matchLabels", NULL);
	me = y_field(c, n, "matchExpressions", NULL);
	if (ml) {
		y_push_field(c, "matchLabels");
		cilium_match_labels(c, ml, out);
		y_pop(c, base);
	}
	if (me) {
		y_push_field(c, "matchExpressions");
		cnt = y_sequence(c, me);
		for (long i = 0; i < cnt; i++) {
			size_t old = y_push_index(c, (size_t)i);

			cilium_match_expression(c, y_item(c, me, i), out);
			y_pop(c, old);
		}
		y_pop(c, base);
	}
}

/*
 * Cilium's scoping of peer selectors (getEndpointSelector() in Cilium's
 * k8s utils): a selector on reserved labels is left alone, and so is one
 * that already has a requirement on the pod namespace key. Otherwise a
 * namespaced policy only selects peers in its own namespace (also when the
 * selector names namespace labels: add an Exists on the namespace key to
 * select across namespaces), and a clusterwide one only
 * selects peers that have a namespace at all, i.e. pods:
 * "fromEndpoints: [{}]" in a CCNP means every pod of the cluster, never
 * world or host (Cilium does the same, so that a wildcard in a CCNP is
 * never a true allow-all).
 */
int load_scope_peer_selector(struct sluice_selector *s, const char *ns)
{
	if (selector_has_source(s, "reserved") || selector_has_key(s, SLUICE_LABEL_NAMESPACE))
		return 0;
	if (ns)
		return selector_add_req(s, "k8s", SLUICE_LABEL_NAMESPACE, SLUICE_SEL_IN, &ns, 1);
	return selector_add_req(s, "k8s", SLUICE_LABEL_NAMESPACE, SLUICE_SEL_EXISTS, NULL, 0);
}

/* ---- CIDRs ------------------------------------------------------------ */

static bool cilium_parse_cidr(const char *s, struct sluice_cidr *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned int plen, max;
	struct in_addr a4;

	memset(out, 0, sizeof(*out));
	if (alen >= sizeof(buf))
		return false;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET, buf, &a4) == 1) {
		out->addr[10] = out->addr[11] = 0xff;
		memcpy(&out->addr[12], &a4, 4);
		max = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		max = 128;
	} else {
		return false;
	}
	plen = max;
	if (slash) {
		uint16_t v;

		/* Go's netip.ParsePrefix, which Cilium's validation uses, takes no
		 * leading zero in the length ("/08") */
		if ((slash[1] == '0' && slash[2]) || load_parse_uint16(slash + 1, &v) || v > max)
			return false;
		plen = v;
	}
	plen += 128 - max;
	out->prefixlen = (uint8_t)plen;
	/* clear host bits, as Go's net.ParseCIDR does */
	for (unsigned int bit = plen; bit < 128; bit++)
		out->addr[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
	return true;
}

bool load_cidr_contains(const struct sluice_cidr *outer, const struct sluice_cidr *inner)
{
	if (inner->prefixlen < outer->prefixlen)
		return false;
	for (unsigned int bit = 0; bit < outer->prefixlen; bit++) {
		uint8_t m = (uint8_t)(0x80u >> (bit % 8));

		if ((outer->addr[bit / 8] & m) != (inner->addr[bit / 8] & m))
			return false;
	}
	return true;
}

bool load_cidr(struct yctx *c, y_node_t *n, struct sluice_cidr *out)
{
	const char *s = y_string(c, n);

	if (!s)
		return false;
	if (!cilium_parse_cidr(s, out)) {
		y_error(c, y_line(n), "invalid CIDR \"%s\"", s);
		return false;
	}
	return true;
}

bool load_prefix(struct yctx *c, y_node_t *n, struct sluice_cidr *out)
{
	const char *s = n && n->type == YAML_SCALAR_NODE ? y_string(c, n) : NULL;

	if (s && !strchr(s, '/')) {
		y_error(c, y_line(n), "invalid CIDR \"%s\": want ADDRESS/LENGTH", s);
		return false;
	}
	return load_cidr(c, n, out);
}

/* the address of inner (its first one) lies inside outer */
static bool cilium_cidr_holds_addr(const struct sluice_cidr *outer, const struct sluice_cidr *inner)
{
	struct sluice_cidr addr = *inner;

	addr.prefixlen = 128;
	return load_cidr_contains(outer, &addr);
}

/*
 * One CIDR set entry: exactly one of cidr, cidrGroupRef and
 * cidrGroupSelector, with excepts. A plain cidr goes into out->cidrs (its
 * excepts must lie inside it); a group reference into out->groups (both
 * arrays have room for every entry of the list).
 */
static void cilium_cidr_set(struct yctx *c, y_node_t *n, struct sluice_peer_rule *out)
{
	static const char *const known[] = { "cidr", "cidrGroupRef", "cidrGroupSelector", "except",
					     NULL };
	y_node_t *cn, *gn, *sn, *en;
	struct sluice_cidr *cidr = NULL, **exceptp, *except;
	size_t *nexceptp, base = c->plen;
	bool ok = false;
	long cnt;

	if (!y_mapping(c, n))
		return;
	y_check_fields(c, n, known, NULL);
	cn = y_field(c, n, "cidr", NULL);
	gn = y_field(c, n, "cidrGroupRef", NULL);
	sn = y_field(c, n, "cidrGroupSelector", NULL);
	en = y_field(c, n, "except", NULL);
	if ((cn != NULL) + (gn != NULL) + (sn != NULL) != 1) {
		y_error(c, y_line(n), (cn || gn || sn)
			? "cidr, cidrGroupRef and cidrGroupSelector are exclusive: give one"
			: "missing required field: one of cidr, cidrGroupRef or cidrGroupSelector");
		return;
	}
	if (cn) {
		const char *txt = cn->type == YAML_SCALAR_NODE ? y_string(c, cn) : NULL;

		cidr = &out->cidrs[out->ncidrs++];
		y_push_field(c, "cidr");
		/* a CIDR set's entries are prefixes (Cilium parses them as such);
		 * a bare address is for fromCIDR/toCIDR (the hint only for text
		 * that is an address) */
		if (txt && !strchr(txt, '/') && cilium_parse_cidr(txt, cidr))
			y_error(c, y_line(cn), "invalid CIDR \"%s\": want ADDRESS/LENGTH (a bare address goes in toCIDR/fromCIDR)", txt);
		else if (txt && !strchr(txt, '/'))
			y_error(c, y_line(cn), "invalid CIDR \"%s\"", txt);
		else
			ok = load_cidr(c, cn, cidr);
		y_pop(c, base);
		exceptp = &cidr->except;
		nexceptp = &cidr->nexcept;
	} else {
		struct sluice_cidr_group_ref *g = &out->groups[out->ngroups++];

		g->line = y_line(n);
		if (gn) {
			const char *name;

			y_push_field(c, "cidrGroupRef");
			if ((name = y_string(c, gn))) {
				if (!load_is_dns1123_subdomain(name))
					y_error(c, y_line(gn), "invalid CiliumCIDRGroup name \"%s\" (want a DNS-1123 subdomain)", name);
				else
					g->name = y_strdup(c, name);
			}
		} else {
			y_push_field(c, "cidrGroupSelector");
			g->by_selector = true;
			if (y_is_null(sn) || y_mapping(c, sn))
				load_selector(c, sn, &g->selector);
		}
		y_pop(c, base);
		exceptp = &g->except;
		nexceptp = &g->nexcept;
	}
	if (!en)
		return;
	y_push_field(c, "except");
	cnt = y_sequence(c, en);
	if (cnt > 0 && (*exceptp = y_calloc(c, (size_t)cnt, sizeof(**exceptp))))
		*nexceptp = (size_t)cnt;
	for (size_t i = 0; i < *nexceptp; i++) {
		size_t old = y_push_index(c, i);
		y_node_t *item = y_item(c, en, (long)i);

		except = &(*exceptp)[i];
		if (item && item->type == YAML_SCALAR_NODE && !strchr(y_string(c, item) ?: "/", '/')) {
			y_error(c, y_line(item), "invalid CIDR \"%s\": want ADDRESS/LENGTH", y_string(c, item));
			y_pop(c, old);
			continue;
		}
		/* a group's excepts are not checked against prefixes the group may
		 * only get later. Cilium's CIDRRule.Validate wants the except's
		 * address inside the cidr (prefix.Contains(except.Addr())), not its
		 * whole prefix: a wider except then leaves the entry nothing */
		if (load_cidr(c, item, except) && cidr && ok && !cilium_cidr_holds_addr(cidr, except))
			y_error(c, y_line(item), "\"%s\" is not inside cidr \"%s\"",
				y_string(c, item), y_string(c, cn));
		y_pop(c, old);
	}
	y_pop(c, base);
}

/*
 * toServices: [{k8sService: {serviceName, namespace}} | {k8sServiceSelector:
 * {selector, namespace}}]. A missing namespace is the policy's own (any
 * namespace in a clusterwide policy), as Cilium scopes it.
 */
static void cilium_service_ref(struct yctx *c, y_node_t *n, const char *ns,
			       struct sluice_service_ref *out)
{
	static const char *const known[] = { "k8sService", "k8sServiceSelector", NULL };
	static const char *const svc_known[] = { "serviceName", "namespace", NULL };
	static const char *const sel_known[] = { "selector", "namespace", NULL };
	y_node_t *byname, *bysel, *v;
	size_t base = c->plen;
	const char *s;

	out->line = y_line(n);
	if (!y_mapping(c, n))
		return;
	y_check_fields(c, n, known, NULL);
	byname = y_field(c, n, "k8sService", NULL);
	bysel = y_field(c, n, "k8sServiceSelector", NULL);
	if (!byname && !bysel) {
		y_error(c, y_line(n), "want one of k8sService and k8sServiceSelector");
		return;
	}
	/* Cilium takes both and its rule translator (serviceMatches()) looks
	 * at the selector alone when there is one: so does sluice, saying so */
	if (byname && bysel) {
		y_warn(c, y_line(n), "k8sService is ignored beside k8sServiceSelector (Cilium selects by the selector alone): write two toServices entries for both");
		byname = NULL;
	}
	if (byname) {
		y_push_field(c, "k8sService");
		if (y_mapping(c, byname)) {
			size_t lvl = c->plen;

			y_check_fields(c, byname, svc_known, NULL);
			v = y_field(c, byname, "serviceName", NULL);
			y_push_field(c, "serviceName");
			if (!v)
				y_error(c, y_line(byname), "missing required field");
			else if ((s = y_string(c, v)) && !*s)
				y_error(c, y_line(v), "must not be empty");
			else if (s)
				out->name = y_strdup(c, s);
			y_pop(c, lvl);
			v = y_field(c, byname, "namespace", NULL);
			if (v && (s = y_string(c, v)) && *s)
				out->namespace = y_strdup(c, s);
		}
		y_pop(c, base);
	} else {
		out->by_selector = true;
		y_push_field(c, "k8sServiceSelector");
		if (y_mapping(c, bysel)) {
			y_check_fields(c, bysel, sel_known, NULL);
			v = y_field(c, bysel, "selector", NULL);
			if (!v) {
				y_error(c, y_line(bysel), "selector: missing required field");
			} else {
				size_t old = c->plen;

				y_push_field(c, "selector");
				if (y_is_null(v) || y_mapping(c, v))
					load_selector(c, v, &out->selector);
				y_pop(c, old);
			}
			v = y_field(c, bysel, "namespace", NULL);
			if (v && (s = y_string(c, v)) && *s)
				out->namespace = y_strdup(c, s);
		}
		y_pop(c, base);
	}
	if (!out->namespace && ns)
		out->namespace = y_strdup(c, ns);
}

/* ---- ports and L7 rules ----------------------------------------------- */

static void cilium_port(struct yctx *c, y_node_t *n, struct sluice_port *out)
{
	static const char *const known[] = { "port", "protocol", "endPort", NULL };
	y_node_t *pn, *prn, *en, *v[3];
	size_t base = c->plen;
	const char *s;
	bool named = false, port_ok = false;

	out->line = y_line(n);
	if (!y_mapping(c, n))
		return;
	y_check_fields_get(c, n, known, NULL, v, NULL);
	pn = v[0];
	prn = v[1];
	en = v[2];

	y_push_field(c, "port");
	if (!pn) {
		y_error(c, y_line(n), "missing required field");
	} else if ((s = y_string(c, pn))) {
		char lower[16];
		size_t len = strlen(s);

		for (size_t i = 0; i < len && i < sizeof(lower) - 1; i++)
			lower[i] = (char)tolower((unsigned char)s[i]);
		lower[len < sizeof(lower) - 1 ? len : sizeof(lower) - 1] = '\0';
		/* As Cilium's PortProtocol: a string that is an IANA service name
		 * (a letter somewhere, any case) is a name, also when it starts
		 * with a digit ("8080a", "0x10": Cilium's own example); digits
		 * alone are a number. */
		if (len < sizeof(lower) && load_is_iana_svc_name(lower)) {
			out->name = y_strdup(c, lower);
			named = port_ok = true;
		} else if (!s[0] || !isdigit((unsigned char)s[0]) || load_parse_uint16(s, &out->port)) {
			y_error(c, y_line(pn), "invalid port \"%s\"", s);
		} else {
			port_ok = true;
		}
	}
	y_pop(c, base);

	y_push_field(c, "protocol");
	if (prn && (s = y_string(c, prn))) {
		if (!strcmp(s, "TCP"))
			out->protocol = IPPROTO_TCP;
		else if (!strcmp(s, "UDP"))
			out->protocol = IPPROTO_UDP;
		else if (!strcmp(s, "SCTP"))
			out->protocol = IPPROTO_SCTP;
		else if (!strcmp(s, "ANY") || !*s)
			out->protocol = 0;
		else
			y_error(c, y_line(prn), "unknown protocol \"%s\" (want TCP, UDP, SCTP or ANY)", s);
	}
	y_pop(c, base);

	y_push_field(c, "endPort");
	if (en && !y_is_null(en) && (s = y_string(c, en))) {
		uint16_t end;

		if (load_parse_uint16(s, &end))
			y_error(c, y_line(en), "invalid endPort \"%s\"", s);
		else if (end && named) /* Cilium's API: "EndPort is ignored if Port is a named port" */
			y_warn(c, y_line(en), "endPort is ignored with a named port (as Cilium ignores it): the rule is for port \"%s\" alone",
			       out->name);
		else if (end && port_ok && out->port == 0)
			y_error(c, y_line(en), "endPort needs a non-zero port");
		else if (end && port_ok && end < out->port)
			y_error(c, y_line(en), "endPort %u is lower than port %u", end, out->port);
		else if (end > out->port)
			out->end_port = end;
	}
	y_pop(c, base);
}

static bool cilium_is_tchar(unsigned char ch)
{
	return isalnum(ch) || strchr("!#$%&'*+-.^_`|~", ch);
}

/*
 * Headers are "Name" (must be present) or "Name: value" (exact value);
 * "Name:value" is normalized to "Name: value" so the proxy knows one form.
 * "Name value" is Cilium's form too: its proxy configuration splits a
 * header at the first space and drops a ':' that ends the name, so the
 * rule wants Name with that value (Cilium's Sanitize takes any text).
 */
static char *cilium_header(const char *s)
{
	const char *p = s, *value;
	char *out;
	size_t nlen;

	while (*p && cilium_is_tchar((unsigned char)*p))
		p++;
	nlen = (size_t)(p - s);
	if (!nlen)
		return NULL;
	if (!*p)
		return strdup(s);
	if (*p != ':' && *p != ' ')
		return NULL;
	p++;
	while (*p == ' ' || *p == '\t')
		p++;
	value = p;
	for (; *p; p++)
		if (*p == '\r' || *p == '\n')
			return NULL;
	if (!*value)
		return strndup(s, nlen);
	if (asprintf(&out, "%.*s: %s", (int)nlen, s, value) < 0)
		return NULL;
	return out;
}

/*
 * The same header as Cilium's proxy configuration reads it: split at the
 * first space, a ':' that ends the name dropped; without a space the
 * whole text is the name of a header that must be present ("X-Key:true"
 * never is). For warnings where the two readings differ.
 */
static char *cilium_header_upstream(const char *s)
{
	const char *sp = strchr(s, ' ');
	size_t nlen = sp ? (size_t)(sp - s) : strlen(s);
	char *out;

	if (!sp)
		return strdup(s);
	while (nlen && s[nlen - 1] == ':')
		nlen--;
	if (!sp[1])
		return strndup(s, nlen);
	if (asprintf(&out, "%.*s: %s", (int)nlen, s, sp + 1) < 0)
		return NULL;
	return out;
}

/* Fields headerMatches may compare but not edit (ADD, DELETE, REPLACE):
 * the message's framing and the hop-by-hop fields (RFC 9110 7.6.1). */
static bool cilium_header_framing(const char *name)
{
	static const char *const v[] = {
		"host", "content-length", "transfer-encoding", "connection", "keep-alive",
		"proxy-connection", "te", "trailer", "upgrade", "expect", NULL,
	};

	for (size_t i = 0; v[i]; i++)
		if (!strcasecmp(name, v[i]))
			return true;
	return false;
}

/* A secret reference {namespace, name}; namespace defaults to the policy's. */
/* A secret's {namespace, name} mapping sn into t (namespace: the
 * policy's by default); the TLS contexts' and headerMatches' one reader. */
static void cilium_secret_fields(struct yctx *c, y_node_t *sn, const char *ns,
				 struct sluice_tls_context *t)
{
	static const char *const secret_known[] = { "namespace", "name", NULL };
	y_node_t *f;
	const char *s;

	y_check_fields(c, sn, secret_known, NULL);
	if ((f = y_field(c, sn, "name", NULL)) && (s = y_string(c, f)) && *s)
		t->secret_name = y_strdup(c, s);
	else
		y_error(c, y_line(sn), "name: missing required field");
	if ((f = y_field(c, sn, "namespace", NULL)) && !y_is_null(f) && (s = y_string(c, f)) && *s)
		t->secret_ns = y_strdup(c, s);
	else
		t->secret_ns = y_strdup(c, ns ? ns : "default");
}

static struct sluice_tls_context *cilium_secret_ref(struct yctx *c, y_node_t *sn, const char *ns)
{
	struct sluice_tls_context *t;

	if (!y_mapping(c, sn) || !(t = y_calloc(c, 1, sizeof(*t))))
		return NULL;
	t->line = y_line(sn);
	if (asprintf(&t->where, "%s:%d: %s", c->file, t->line, c->path[0] ? c->path + 1 : "") < 0)
		t->where = NULL;
	cilium_secret_fields(c, sn, ns, t);
	return t;
}

/*
 * headerMatches: [{name, value, secret: {namespace, name}, mismatch}].
 * mismatch is "" (deny), LOG, ADD, DELETE or REPLACE (Cilium's
 * MismatchAction); the proxy does the actions (proxy/rules.h).
 */
static void cilium_header_matches(struct yctx *c, y_node_t *n, const char *ns,
				  struct sluice_http_rule *out)
{
	static const char *const known[] = { "name", "value", "secret", "mismatch", NULL };
	size_t base = y_push_field(c, "headerMatches");
	long cnt = y_sequence(c, n);

	if (cnt > 0 && (out->header_matches = y_calloc(c, (size_t)cnt, sizeof(*out->header_matches))))
		out->nheader_matches = (size_t)cnt;
	for (size_t i = 0; i < out->nheader_matches; i++) {
		struct sluice_header_match *hm = &out->header_matches[i];
		y_node_t *item = y_item(c, n, (long)i), *f;
		size_t old = y_push_index(c, i), fb;
		const char *s;

		hm->line = y_line(item);
		if (!y_mapping(c, item)) {
			y_pop(c, old);
			continue;
		}
		y_check_fields(c, item, known, NULL);
		fb = y_push_field(c, "name");
		if (!(f = y_field(c, item, "name", NULL)) || y_is_null(f)) {
			y_error(c, hm->line, "missing required field");
		} else if ((s = y_string(c, f))) {
			const char *p = s;

			while (*p && cilium_is_tchar((unsigned char)*p))
				p++;
			if (!*s || *p)
				y_error(c, y_line(f), "invalid header name \"%s\"", s);
			else
				hm->name = y_strdup(c, s);
		}
		y_pop(c, fb);
		if ((f = y_field(c, item, "value", NULL)) && !y_is_null(f)) {
			fb = y_push_field(c, "value");
			if ((s = y_string(c, f))) {
				if (strpbrk(s, "\r\n"))
					y_error(c, y_line(f), "a header value cannot hold CR or LF");
				else
					hm->value = y_strdup(c, s);
			}
			y_pop(c, fb);
		}
		if ((f = y_field(c, item, "mismatch", NULL)) && !y_is_null(f)) {
			int m;

			fb = y_push_field(c, "mismatch");
			if ((s = y_string(c, f))) {
				if ((m = sluice_mismatch_parse(s)) < 0)
					y_error(c, y_line(f), "unknown action \"%s\" (want LOG, ADD, DELETE, REPLACE, or none to deny)", s);
				else
					hm->mismatch = (uint8_t)m;
			}
			y_pop(c, fb);
		}
		if ((f = y_field(c, item, "secret", NULL)) && !y_is_null(f)) {
			fb = y_push_field(c, "secret");
			hm->secret = cilium_secret_ref(c, f, ns);
			y_pop(c, fb);
		}
		if (hm->name && (hm->mismatch == SLUICE_MISMATCH_ADD || hm->mismatch == SLUICE_MISMATCH_REPLACE) &&
		    !hm->value && !hm->secret)
			y_warn(c, hm->line, "%s without a value or a secret sets %s to an empty value",
			       sluice_mismatch_name(hm->mismatch), hm->name);
		if (hm->name && hm->mismatch >= SLUICE_MISMATCH_ADD && cilium_header_framing(hm->name))
			y_error(c, hm->line, "%s cannot change %s: it frames the request or describes one hop, so an edit could make the server read another request than the one the rules judged",
				sluice_mismatch_name(hm->mismatch), hm->name);
		y_pop(c, old);
	}
	y_pop(c, base);
}

static void cilium_http_rule(struct yctx *c, y_node_t *n, const char *ns,
			     struct sluice_http_rule *out)
{
	static const char *const known[] = { "method", "path", "host", "headers", "headerMatches", NULL };
	const char *names[] = { "method", "path", "host" };
	char **dst[] = { &out->method, &out->path, &out->host };
	size_t base = c->plen;
	y_node_t *hn;
	long cnt;

	out->line = y_line(n);
	if (y_is_null(n) || !y_mapping(c, n))
		return;
	y_check_fields(c, n, known, NULL);
	if ((hn = y_field(c, n, "headerMatches", NULL)) && !y_is_null(hn))
		cilium_header_matches(c, hn, ns, out);
	for (size_t i = 0; i < 3; i++) {
		y_node_t *f = y_field(c, n, names[i], NULL);
		const char *s;
		char *err = NULL;

		if (!f || y_is_null(f))
			continue;
		y_push_field(c, names[i]);
		if ((s = y_string(c, f))) {
			if (regex_validate(s, &err)) {
				char *hint = regex_glob_hint(names[i], s);

				y_error(c, y_line(f), "invalid regex \"%s\": %s%s", s,
					err ? err : "out of memory", hint ? hint : "");
				free(hint);
			} else {
				char *warning = regex_lint(names[i], s);

				if (warning)
					y_warn(c, y_line(f), "%s", warning);
				free(warning);
				*dst[i] = y_strdup(c, s);
			}
			free(err);
		}
		y_pop(c, base);
	}
	hn = y_field(c, n, "headers", NULL);
	if (!hn)
		return;
	y_push_field(c, "headers");
	cnt = y_sequence(c, hn);
	if (cnt > 0 && (out->headers = y_calloc(c, (size_t)cnt, sizeof(*out->headers))))
		out->nheaders = (size_t)cnt;
	for (size_t i = 0; i < out->nheaders; i++) {
		y_node_t *item = y_item(c, hn, (long)i);
		size_t old = y_push_index(c, i);
		const char *s = y_string(c, item);

		if (s && !(out->headers[i] = cilium_header(s))) {
			y_error(c, y_line(item), "invalid header \"%s\" (want \"Name\" or \"Name: value\")", s);
		} else if (s) {
			char *theirs = cilium_header_upstream(s);

			if (theirs && strcmp(theirs, out->headers[i]))
				y_warn(c, y_line(item), "header \"%s\" is read as \"%s\"; Cilium reads it as \"%s\" (it splits at the first space only): write \"%s\" for both to agree",
				       s, out->headers[i], theirs, out->headers[i]);
			else if (strcspn(s, " ") < strcspn(s, ":") && strchr(s, ':'))
				y_warn(c, y_line(item), "header \"%s\" wants %s (split at the first space, as Cilium does); a header name has no spaces",
				       s, out->headers[i]);
			free(theirs);
		}
		y_pop(c, old);
	}
	y_pop(c, base);
}

/* The CRD's serverNames pattern, ^([-a-zA-Z0-9_*]+[.]?)+$, at most 253 bytes. */
static bool tls_server_name_valid(const char *s)
{
	size_t len = strlen(s);
	bool label = false;

	if (!len || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (!label)
				return false;
			label = false;
		} else if (isalnum((unsigned char)s[i]) || strchr("-_*", s[i])) {
			label = true;
		} else {
			return false;
		}
	}
	return true;
}

static void cilium_dns_rules(struct yctx *c, y_node_t *n)
{
	static const char *const known[] = { "matchName", "matchPattern", NULL };
	bool wildcard = false;
	long cnt = y_sequence(c, n);

	for (long i = 0; i < cnt; i++) {
		y_node_t *item = y_item(c, n, i), *pat;
		size_t old = y_push_index(c, (size_t)i);

		if (y_mapping(c, item)) {
			y_check_fields(c, item, known, NULL);
			pat = y_field(c, item, "matchPattern", NULL);
			if (pat && pat->type == YAML_SCALAR_NODE &&
			    !strcmp((const char *)pat->data.scalar.value, "*"))
				wildcard = true;
		}
		y_pop(c, old);
	}
	if (!wildcard)
		y_warn(c, y_line(n), "dns rules are not enforced by sluice: the port is allowed for every name");
}

/*
 * Cilium's PortRule validation of DNS rules: they are an egress matter
 * (the DNS proxy answers a pod's own lookups), on named ports (port 53,
 * not a range), and one rules block holds one L7 protocol. sluice does not
 * enforce the names (cilium_dns_rules warns), but a rule Cilium refuses is
 * refused here too.
 */
static void cilium_dns_checks(struct yctx *c, y_node_t *dn, bool ingress, bool has_http,
			      const struct sluice_port_rule *pr)
{
	if (ingress) {
		y_error(c, y_line(dn), "DNS rules are not allowed on ingress");
		return;
	}
	if (has_http)
		y_error(c, y_line(dn), "multiple L7 protocol rule types (http and dns) in one rules block: write two toPorts entries");
	if (!pr->nports)
		y_error(c, y_line(dn), "port 53 must be specified for DNS rules (toPorts[].ports)");
	for (size_t i = 0; i < pr->nports; i++)
		if (pr->ports[i].end_port > pr->ports[i].port)
			y_error(c, y_line(dn), "DNS rules do not support port ranges (ports[%zu] has endPort)", i);
}

/*
 * terminatingTLS / originatingTLS: {secret: {namespace, name}, trustedCA,
 * certificate, privateKey}. Only the shape is checked here; the secret's
 * existence and keys are checked by the agent, which knows the secrets.
 */
static struct sluice_tls_context *cilium_tls_context(struct yctx *c, y_node_t *n,
						     const char *field, const char *ns)
{
	static const char *const known[] = {
		"secret", "trustedCA", "certificate", "privateKey", NULL,
	};
	static const char *const keys[] = { "trustedCA", "certificate", "privateKey" };
	struct sluice_tls_context *t;
	y_node_t *sn, *f;
	size_t base = y_push_field(c, field);
	const char *s;

	if (!y_mapping(c, n) || !(t = y_calloc(c, 1, sizeof(*t)))) {
		y_pop(c, base);
		return NULL;
	}
	t->line = y_line(n);
	if (asprintf(&t->where, "%s:%d: %s", c->file, t->line, c->path[0] ? c->path + 1 : "") < 0)
		t->where = NULL;
	y_check_fields(c, n, known, NULL);
	for (size_t i = 0; i < 3; i++) {
		char **dst[] = { &t->trusted_ca, &t->certificate, &t->private_key };
		size_t old;

		if (!(f = y_field(c, n, keys[i], NULL)) || y_is_null(f))
			continue;
		old = y_push_field(c, keys[i]);
		if ((s = y_string(c, f))) {
			if (!*s || strchr(s, '/'))
				y_error(c, y_line(f), "invalid key name \"%s\"", s);
			else
				*dst[i] = y_strdup(c, s);
		}
		y_pop(c, old);
	}
	sn = y_field(c, n, "secret", NULL);
	y_push_field(c, "secret");
	if (!sn || y_is_null(sn)) {
		y_error(c, t->line, "missing required field");
	} else if (y_mapping(c, sn)) {
		cilium_secret_fields(c, sn, ns, t);
	}
	y_pop(c, base);
	return t;
}

static void cilium_server_names(struct yctx *c, y_node_t *n, struct sluice_port_rule *out)
{
	size_t base = y_push_field(c, "serverNames");
	long cnt = y_sequence(c, n);

	if (cnt > 0 && (out->server_names = y_calloc(c, (size_t)cnt, sizeof(char *))))
		out->nserver_names = (size_t)cnt;
	for (size_t i = 0; i < out->nserver_names; i++) {
		y_node_t *item = y_item(c, n, (long)i);
		size_t old = y_push_index(c, i);
		const char *s = y_string(c, item);

		/* the CRD's pattern: ^([-a-zA-Z0-9_*]+[.]?)+$ */
		if (s && !tls_server_name_valid(s))
			y_error(c, y_line(item), "invalid server name \"%s\" (letters, digits, '-', '_', '*' and dots)", s);
		else if (s)
			out->server_names[i] = y_strdup(c, s);
		y_pop(c, old);
	}
	y_pop(c, base);
}

static void cilium_port_rule(struct yctx *c, y_node_t *n, bool ingress, bool deny, const char *ns,
			     struct sluice_port_rule *out)
{
	static const char *const known[] = {
		"ports", "rules", "terminatingTLS", "originatingTLS", "serverNames", NULL,
	};
	static const char *const unsupported[] = { "listener", NULL };
	static const char *const tls_fields[] = { "terminatingTLS", "originatingTLS", "serverNames" };
	static const char *const rules_known[] = { "http", "dns", NULL };
	static const char *const rules_unsupported[] = { "kafka", "l7proto", "l7", NULL };
	y_node_t *pn, *rn, *hn, *dn, *v[5];
	size_t base = c->plen;
	int rules_line = 0, lines[5];
	long cnt;

	out->line = y_line(n);
	if (!y_mapping(c, n))
		return;
	/* known's order: the TLS fields at 2, 3, 4, as tls_fields */
	y_check_fields_get(c, n, known, unsupported, v, lines);
	pn = v[0];
	rn = v[1];
	rules_line = lines[1];
	for (size_t i = 0; i < 3; i++) {
		int kl = lines[2 + i];
		y_node_t *tn = v[2 + i];

		if (!tn || y_is_null(tn))
			continue;
		if (deny) {
			size_t old = y_push_field(c, tls_fields[i]);
			y_error(c, kl, "TLS is not allowed in a deny section");
			y_pop(c, old);
		} else if (i == 2) {
			cilium_server_names(c, tn, out);
		} else {
			struct sluice_tls_context *t = cilium_tls_context(c, tn, tls_fields[i], ns);
			*(i == 0 ? &out->terminating_tls : &out->originating_tls) = t;
		}
	}
	if (pn) {
		y_push_field(c, "ports");
		cnt = y_sequence(c, pn);
		if (cnt > 0 && (out->ports = y_calloc(c, (size_t)cnt, sizeof(*out->ports))))
			out->nports = (size_t)cnt;
		for (size_t i = 0; i < out->nports; i++) {
			size_t old = y_push_index(c, i);

			cilium_port(c, y_item(c, pn, (long)i), &out->ports[i]);
			y_pop(c, old);
		}
		/* Cilium's limit (maxPorts), per toPorts entry */
		if (out->nports > 40)
			y_error(c, y_line(pn), "too many ports (%zu), the max is 40", out->nports);
		y_pop(c, base);
	}
	/* Cilium merges one filter per listed port (GetPortProtocols()): an
	 * entry without ports is no port at all, not every port */
	out->no_ports = !out->nports;
	if (sluice_port_rule_has_tls(out)) {
		/* as for http rules: TLS lives on TCP ports */
		if (!out->nports)
			y_error(c, out->line, "TLS (terminatingTLS, originatingTLS, serverNames) needs at least one port");
		for (size_t j = 0; j < out->nports; j++)
			if (out->ports[j].protocol == IPPROTO_UDP || out->ports[j].protocol == IPPROTO_SCTP)
				y_error(c, out->line, "TLS can only apply to TCP (ports[%zu] is %s)", j,
					out->ports[j].protocol == IPPROTO_UDP ? "UDP" : "SCTP");
		if (out->nserver_names && out->originating_tls && !out->terminating_tls)
			y_error(c, out->line, "serverNames with originatingTLS needs terminatingTLS too (the proxy cannot read the SNI of a connection it does not terminate and then re-encrypt it)");
	}
	if (!rn || y_is_null(rn))
		return;
	y_push_field(c, "rules");
	if (deny) {
		y_error(c, rules_line, "L7 rules are not allowed in a deny section");
		goto out;
	}
	if (!y_mapping(c, rn))
		goto out;
	y_check_fields(c, rn, rules_known, rules_unsupported);
	hn = y_field(c, rn, "http", NULL);
	dn = y_field(c, rn, "dns", NULL);
	if (dn) {
		y_push_field(c, "dns");
		cilium_dns_checks(c, dn, ingress, hn != NULL, out);
		cilium_dns_rules(c, dn);
		y_pop(c, base + strlen(".rules"));
	}
	if (!hn)
		goto out;
	y_push_field(c, "http");
	out->has_http = true;
	cnt = y_sequence(c, hn);
	if (cnt > 0 && (out->http = y_calloc(c, (size_t)cnt, sizeof(*out->http))))
		out->nhttp = (size_t)cnt;
	for (size_t i = 0; i < out->nhttp; i++) {
		size_t old = y_push_index(c, i);

		cilium_http_rule(c, y_item(c, hn, (long)i), ns, &out->http[i]);
		y_pop(c, old);
	}
	if (out->nhttp && !out->nports)
		y_error(c, y_line(hn), "L7 rules need at least one port");
	/* as Cilium's PortRule validation: HTTP is TCP's, on a port */
	for (size_t j = 0; out->nhttp && j < out->nports; j++) {
		if (out->ports[j].protocol != IPPROTO_TCP)
			y_error(c, y_line(hn), "L7 rules can only apply to TCP (ports[%zu] is %s)", j,
				out->ports[j].protocol == IPPROTO_UDP    ? "UDP"
				: out->ports[j].protocol == IPPROTO_SCTP ? "SCTP"
									 : "ANY: write protocol: TCP");
		else if (!out->ports[j].port && !out->ports[j].name)
			y_error(c, y_line(hn), "L7 rules can not be used when a port is 0 (ports[%zu])", j);
	}
	if (out->nhttp && out->nserver_names && !out->terminating_tls)
		y_error(c, y_line(hn), "serverNames are not allowed with L7 rules without TLS termination (terminatingTLS)");
out:
	y_pop(c, base);
}

/* ---- peer rules ------------------------------------------------------- */

static const struct {
	const char *name;
	uint32_t bit;
} cilium_entities[] = {
	{ "world", SLUICE_ENTITY_WORLD },
	{ "world-ipv4", SLUICE_ENTITY_WORLD },
	{ "world-ipv6", SLUICE_ENTITY_WORLD },
	{ "host", SLUICE_ENTITY_HOST },
	{ "cluster", SLUICE_ENTITY_CLUSTER },
	{ "all", SLUICE_ENTITY_ALL },
	{ "remote-node", SLUICE_ENTITY_REMOTE_NODE },
	{ "init", SLUICE_ENTITY_INIT },
	{ "health", SLUICE_ENTITY_HEALTH },
	{ "unmanaged", SLUICE_ENTITY_UNMANAGED },
	{ "kube-apiserver", SLUICE_ENTITY_KUBE_APISERVER },
	{ "ingress", SLUICE_ENTITY_INGRESS },
	{ "namespace", SLUICE_ENTITY_NAMESPACE },
	/* Cilium's "none": a label no identity has; the rule names peers (so it
	 * is no L4-only rule) and selects none of them */
	{ "none", 0 },
};

static void cilium_entities_list(struct yctx *c, y_node_t *n, uint32_t *bits)
{
	long cnt = y_sequence(c, n);

	for (long i = 0; i < cnt; i++) {
		y_node_t *item = y_item(c, n, i);
		size_t old = y_push_index(c, (size_t)i);
		const char *s = y_string(c, item);
		bool found = false;

		for (size_t e = 0; s && e < sizeof(cilium_entities) / sizeof(cilium_entities[0]); e++) {
			if (!strcmp(s, cilium_entities[e].name)) {
				*bits |= cilium_entities[e].bit;
				found = true;
			}
		}
		if (s && !found)
			y_error(c, y_line(item), "unknown entity \"%s\" (want world, host, cluster, all, remote-node, init, health, unmanaged, kube-apiserver, ingress, namespace or none)", s);
		y_pop(c, old);
	}
}

/* Cilium's ICMP type names (api/v2 ICMPField), by family. */
struct icmp_name {
	const char *name;
	uint8_t type;
};

static const struct icmp_name icmp4_names[] = {
	{ "EchoReply", 0 }, { "DestinationUnreachable", 3 }, { "Redirect", 5 },
	{ "Echo", 8 }, { "EchoRequest", 8 }, { "RouterAdvertisement", 9 },
	{ "RouterSelection", 10 }, { "TimeExceeded", 11 }, { "ParameterProblem", 12 },
	{ "Timestamp", 13 }, { "TimestampReply", 14 }, { "Photuris", 40 },
	{ "ExtendedEchoRequest", 42 }, { "ExtendedEchoReply", 43 }, { NULL, 0 },
};

static const struct icmp_name icmp6_names[] = {
	{ "DestinationUnreachable", 1 }, { "PacketTooBig", 2 }, { "TimeExceeded", 3 },
	{ "ParameterProblem", 4 }, { "EchoRequest", 128 }, { "EchoReply", 129 },
	{ "MulticastListenerQuery", 130 }, { "MulticastListenerReport", 131 },
	{ "MulticastListenerDone", 132 }, { "RouterSolicitation", 133 },
	{ "RouterAdvertisement", 134 }, { "NeighborSolicitation", 135 },
	{ "NeighborAdvertisement", 136 }, { "RedirectMessage", 137 },
	{ "RouterRenumbering", 138 }, { "ICMPNodeInformationQuery", 139 },
	{ "ICMPNodeInformationResponse", 140 }, { "InverseNeighborDiscoverySolicitation", 141 },
	{ "InverseNeighborDiscoveryAdvertisement", 142 },
	{ "HomeAgentAddressDiscoveryRequest", 144 }, { "HomeAgentAddressDiscoveryReply", 145 },
	{ "MobilePrefixSolicitation", 146 }, { "MobilePrefixAdvertisement", 147 },
	{ "DuplicateAddressRequestCodeSuffix", 157 },
	{ "DuplicateAddressConfirmationCodeSuffix", 158 },
	{ "ExtendedEchoRequest", 160 }, { "ExtendedEchoReply", 161 }, { NULL, 0 },
};

/*
 * icmps: [{fields: [{type: 8 | EchoRequest, family: IPv4 | IPv6}]}], as
 * Cilium reads it: each type becomes a "port" of protocol ICMP (or ICMPv6)
 * in one port rule, judged by the datapath with the message's type as the
 * port (bpf/lib/parse.h). A query's reply rides its conntrack entry. As in
 * Cilium, type 0 is port 0, which means every type of the family.
 */
static void cilium_icmps(struct yctx *c, y_node_t *n, struct sluice_peer_rule *out)
{
	static const char *const rule_known[] = { "fields", NULL };
	static const char *const field_known[] = { "type", "family", NULL };
	size_t base = y_push_field(c, "icmps");
	long nr = y_sequence(c, n), total = 0;
	struct sluice_port_rule *pr;

	for (long i = 0; i < nr; i++) {
		y_node_t *r = y_item(c, n, i), *f;

		if (r && r->type == YAML_MAPPING_NODE && (f = y_field(c, r, "fields", NULL)) &&
		    f->type == YAML_SEQUENCE_NODE)
			total += (long)(f->data.sequence.items.top - f->data.sequence.items.start);
	}
	if (nr <= 0 || !(out->to_ports = y_calloc(c, 1, sizeof(*out->to_ports)))) {
		y_pop(c, base);
		return;
	}
	out->nto_ports = 1;
	pr = &out->to_ports[0];
	pr->line = y_line(n);
	if (total > 0 && !(pr->ports = y_calloc(c, (size_t)total, sizeof(*pr->ports)))) {
		y_pop(c, base);
		return;
	}
	for (long i = 0; i < nr; i++) {
		y_node_t *r = y_item(c, n, i), *fn;
		size_t old = y_push_index(c, (size_t)i), fb;
		long nf;

		if (!y_mapping(c, r)) {
			y_pop(c, old);
			continue;
		}
		y_check_fields(c, r, rule_known, NULL);
		fn = y_field(c, r, "fields", NULL);
		fb = y_push_field(c, "fields");
		nf = fn ? y_sequence(c, fn) : 0;
		if (!fn)
			y_error(c, y_line(r), "missing required field");
		if (nf > 40)
			y_error(c, y_line(fn), "at most 40 fields (got %ld)", nf);
		for (long k = 0; k < nf; k++) {
			y_node_t *item = y_item(c, fn, k), *tn, *famn;
			size_t ko = y_push_index(c, (size_t)k), tb;
			const struct icmp_name *names = icmp4_names;
			struct sluice_port *p;
			const char *t, *fam = "IPv4";
			unsigned long v;
			char *end;

			if (!y_mapping(c, item)) {
				y_pop(c, ko);
				continue;
			}
			y_check_fields(c, item, field_known, NULL);
			if ((famn = y_field(c, item, "family", NULL)) && !y_is_null(famn)) {
				tb = y_push_field(c, "family");
				if ((fam = y_string(c, famn)) && strcmp(fam, "IPv4") && strcmp(fam, "IPv6"))
					y_error(c, y_line(famn), "unknown family \"%s\" (want IPv4 or IPv6)", fam);
				y_pop(c, tb);
				if (!fam)
					fam = "IPv4";
			}
			if (!strcmp(fam, "IPv6"))
				names = icmp6_names;
			tn = y_field(c, item, "type", NULL);
			tb = y_push_field(c, "type");
			if (!tn || y_is_null(tn)) {
				y_error(c, y_line(item), "missing required field");
			} else if ((t = y_string(c, tn))) {
				const struct icmp_name *nm;

				errno = 0;
				v = strtoul(t, &end, 10);
				if (*t >= '0' && *t <= '9') {
					if (*end || errno || v > 255)
						y_error(c, y_line(tn), "invalid ICMP type \"%s\" (0-255 or a name)", t);
				} else {
					for (nm = names; nm->name && strcmp(nm->name, t); nm++)
						;
					if (!nm->name)
						y_error(c, y_line(tn), "unknown %s ICMP type \"%s\"", fam, t);
					v = nm->type;
				}
				p = &pr->ports[pr->nports++];
				p->port = (uint16_t)(v & 0xff);
				p->protocol = strcmp(fam, "IPv6") ? IPPROTO_ICMP : IPPROTO_ICMPV6;
				p->line = y_line(item);
			}
			y_pop(c, tb);
			y_pop(c, ko);
		}
		y_pop(c, fb);
		y_pop(c, old);
	}
	pr->no_ports = !pr->nports; /* "fields: []": no type, as in Cilium */
	y_pop(c, base);
}

static long seq_len(const y_node_t *n)
{
	return n && n->type == YAML_SEQUENCE_NODE ? n->data.sequence.items.top - n->data.sequence.items.start : 0;
}

/*
 * Cilium's rule validation refuses two kinds of peer selector in one rule
 * (IngressCommonRule/EgressCommonRule.Validate: "combining FromEndpoints
 * and FromCIDR is not supported yet"), in allow and deny sections alike.
 * What the union would mean is clear, but a policy Cilium refuses must not
 * be one that sluice enforces: the same YAML would protect a pod here and
 * do nothing on a Cilium cluster. Empty lists do not count, as in Cilium.
 */
static void cilium_peer_kinds_alone(struct yctx *c, y_node_t *rule, y_node_t *const nodes[5],
				    const char *const names[5])
{
	const char *first = NULL;

	for (size_t i = 0; i < 5; i++) {
		if (seq_len(nodes[i]) <= 0)
			continue;
		if (first) {
			y_error(c, y_line(rule),
				"combining %s and %s in one rule is not supported (Cilium refuses it too): write them as two rules",
				first, names[i]);
			return;
		}
		first = names[i];
	}
}

/*
 * A peer list written empty ("fromEndpoints: []", not left out or null).
 * Cilium tells the two apart (mergeEndpointSelectors(): a nil L3 matches
 * nothing, an empty one everything): a rule with an empty peer list selects
 * no peer at all, with toPorts too, where leaving the list out would make
 * it an L4-only rule for every peer. Cilium's own tests keep "toCIDRSet:
 * []" through a JSON round trip for that reason.
 */
static bool cilium_peer_list_empty(const y_node_t *n)
{
	return n && n->type == YAML_SEQUENCE_NODE && seq_len(n) == 0;
}

static void cilium_peer_rule(struct yctx *c, y_node_t *n, bool ingress, bool deny,
			     const char *ns, struct sluice_peer_rule *out)
{
	static const char *const in_known[] = {
		"fromEndpoints", "fromEntities", "fromCIDR", "fromCIDRSet", "toPorts", "icmps", NULL,
	};
	static const char *const in_unsupported[] = {
		"fromRequires", "fromGroups", "fromNodes", "authentication", NULL,
	};
	/* in the order of in_known, toServices last (the fields are read by index) */
	static const char *const out_known[] = {
		"toEndpoints", "toEntities", "toCIDR", "toCIDRSet", "toPorts", "icmps", "toServices", NULL,
	};
	static const char *const out_unsupported[] = {
		"toRequires", "toFQDNs", "toGroups", "toNodes", "authentication", NULL,
	};
	const char *f_ep = ingress ? "fromEndpoints" : "toEndpoints";
	const char *f_ent = ingress ? "fromEntities" : "toEntities";
	const char *f_cidr = ingress ? "fromCIDR" : "toCIDR";
	const char *f_set = ingress ? "fromCIDRSet" : "toCIDRSet";
	y_node_t *ep, *ent, *cidr, *set, *tp, *icmps, *svc = NULL, *v[8];
	size_t base = c->plen;
	long nep = 0, ncidr = 0, nset = 0, ntp = 0, nsvc = 0;

	out->line = y_line(n);
	if (y_is_null(n)) { /* "- " alone: an empty rule */
		out->has_l3 = true;
		return;
	}
	if (!y_mapping(c, n))
		return;
	y_check_fields_get(c, n, ingress ? in_known : out_known,
			   ingress ? in_unsupported : out_unsupported, v, NULL);
	ep = v[0];
	ent = v[1];
	cidr = v[2];
	set = v[3];
	tp = v[4];
	icmps = v[5];
	if (!ingress)
		svc = v[6];
	cilium_peer_kinds_alone(c, n, (y_node_t *[]){ ep, ent, cidr, set, svc },
				(const char *[]){ f_ep, f_ent, f_cidr, f_set, "toServices" });

	if (svc) {
		y_push_field(c, "toServices");
		nsvc = y_sequence(c, svc);
		if (nsvc > 0 && (out->services = y_calloc(c, (size_t)nsvc, sizeof(*out->services))))
			out->nservices = (size_t)nsvc;
		for (size_t i = 0; i < out->nservices; i++) {
			size_t old = y_push_index(c, i);

			cilium_service_ref(c, y_item(c, svc, (long)i), ns, &out->services[i]);
			y_pop(c, old);
		}
		y_pop(c, base);
	}
	if (ep) {
		y_push_field(c, f_ep);
		nep = y_sequence(c, ep);
		if (nep > 0 && (out->endpoints = y_calloc(c, (size_t)nep, sizeof(*out->endpoints))))
			out->nendpoints = (size_t)nep;
		for (size_t i = 0; i < out->nendpoints; i++) {
			size_t old = y_push_index(c, i);
			y_node_t *item = y_item(c, ep, (long)i);

			if (y_is_null(item) || y_mapping(c, item)) {
				load_selector(c, item, &out->endpoints[i]);
				if (load_scope_peer_selector(&out->endpoints[i], ns))
					y_error(c, y_line(item), "out of memory");
			}
			y_pop(c, old);
		}
		y_pop(c, base);
	}
	if (ent) {
		y_push_field(c, f_ent);
		cilium_entities_list(c, ent, &out->entities);
		y_pop(c, base);
	}
	if (cidr) {
		y_push_field(c, f_cidr);
		ncidr = y_sequence(c, cidr);
		y_pop(c, base);
	}
	if (set) {
		y_push_field(c, f_set);
		nset = y_sequence(c, set);
		y_pop(c, base);
	}
	if (nset > 0)
		out->groups = y_calloc(c, (size_t)nset, sizeof(*out->groups));
	if (ncidr + nset > 0 && (nset <= 0 || out->groups) &&
	    (out->cidrs = y_calloc(c, (size_t)(ncidr > 0 ? ncidr : 0) + (size_t)(nset > 0 ? nset : 0),
				   sizeof(*out->cidrs)))) {
		y_push_field(c, f_cidr);
		for (long i = 0; i < ncidr; i++) {
			size_t old = y_push_index(c, (size_t)i);

			load_cidr(c, y_item(c, cidr, i), &out->cidrs[out->ncidrs++]);
			y_pop(c, old);
		}
		y_pop(c, base);
		y_push_field(c, f_set);
		for (long i = 0; i < nset; i++) {
			size_t old = y_push_index(c, (size_t)i);

			cilium_cidr_set(c, y_item(c, set, i), out);
			y_pop(c, old);
		}
		y_pop(c, base);
	}
	if (tp) {
		y_push_field(c, "toPorts");
		ntp = y_sequence(c, tp);
		if (ntp > 0 && (out->to_ports = y_calloc(c, (size_t)ntp, sizeof(*out->to_ports))))
			out->nto_ports = (size_t)ntp;
		for (size_t i = 0; i < out->nto_ports; i++) {
			size_t old = y_push_index(c, i);

			cilium_port_rule(c, y_item(c, tp, (long)i), ingress, deny, ns, &out->to_ports[i]);
			y_pop(c, old);
		}
		y_pop(c, base);
	}
	if (icmps && !y_is_null(icmps)) {
		if (tp && !y_is_null(tp)) {
			y_push_field(c, "icmps");
			y_error(c, y_line(icmps), "the icmps block may only be present without toPorts (define a separate rule to use toPorts)");
			y_pop(c, base);
		} else
			cilium_icmps(c, icmps, out);
	}
	/*
	 * Cilium: a rule with ports but no peer selector applies to every
	 * peer (an L4-only rule); a rule with neither ("- {}") selects no
	 * peer at all, which is how "ingress: [{}]" denies everything.
	 * An entity list names peers even when it holds only "none".
	 */
	out->no_peers = cilium_peer_list_empty(ep) || cilium_peer_list_empty(ent) ||
			cilium_peer_list_empty(cidr) || cilium_peer_list_empty(set);
	out->has_l3 = out->nendpoints || seq_len(ent) > 0 || out->ncidrs || out->ngroups ||
		      out->nservices || !out->nto_ports || out->no_peers;
}

/* ---- lint: L7 rules that an L4 allow makes moot ---------------------- */

static bool lint_selector_equal(const struct sluice_selector *a, const struct sluice_selector *b)
{
	if (a->nreqs != b->nreqs)
		return false;
	for (size_t i = 0; i < a->nreqs; i++) {
		const struct sluice_sel_req *x = &a->reqs[i], *y = &b->reqs[i];

		if (x->op != y->op || x->nvalues != y->nvalues || strcmp(x->source, y->source) ||
		    strcmp(x->key, y->key))
			return false;
		for (size_t j = 0; j < x->nvalues; j++)
			if (strcmp(x->values[j], y->values[j]))
				return false;
	}
	return true;
}

/* every peer that l7 names is named by l4 too (compared as written) */
static bool lint_peers_cover(const struct sluice_peer_rule *l4, const struct sluice_peer_rule *l7)
{
	if (l4->no_peers)
		return false;
	if (!l4->has_l3 || (l4->entities & SLUICE_ENTITY_ALL))
		return true;
	if (!l7->has_l3 || (l7->entities & ~l4->entities))
		return false;
	for (size_t i = 0; i < l7->nendpoints; i++) {
		bool found = false;

		for (size_t j = 0; j < l4->nendpoints && !found; j++)
			found = lint_selector_equal(&l7->endpoints[i], &l4->endpoints[j]);
		if (!found)
			return false;
	}
	for (size_t i = 0; i < l7->ncidrs; i++) {
		bool found = false;

		for (size_t j = 0; j < l4->ncidrs && !found; j++)
			found = !l4->cidrs[j].nexcept &&
				l4->cidrs[j].prefixlen <= l7->cidrs[i].prefixlen &&
				load_cidr_contains(&l4->cidrs[j], &l7->cidrs[i]);
		if (!found)
			return false;
	}
	return true;
}

/* an L4 port-level allow (no http rules) in pr covers the L7 port p */
static bool lint_port_covered(const struct sluice_port_rule *pr, const struct sluice_port *p)
{
	uint16_t lo = p->port, hi = p->end_port ? p->end_port : p->port;

	if (pr->nhttp)
		return false;
	for (size_t i = 0; i < pr->nports; i++) {
		const struct sluice_port *q = &pr->ports[i];

		if (q->protocol && q->protocol != IPPROTO_TCP)
			continue;
		if (p->name || q->name) {
			if (p->name && q->name && !strcasecmp(p->name, q->name))
				return true;
			continue;
		}
		if (q->port == 0 || (q->port <= lo && hi <= (q->end_port ? q->end_port : q->port)))
			return true;
	}
	return false;
}

/*
 * Cilium: when an allow without http rules names a port for some peers,
 * requests from those peers on that port all pass the proxy, whatever the
 * http rules of other allows say. Warned here when both are in one rule.
 */
/* the path of section[i].toPorts[t].rules.http, for a warning there */
static void lint_push_http(struct yctx *c, const char *section, size_t i, size_t t)
{
	y_push_field(c, section);
	y_push_index(c, i);
	y_push_field(c, "toPorts");
	y_push_index(c, t);
	y_push_field(c, "rules");
	y_push_field(c, "http");
}

void cilium_lint_shadowed(struct yctx *c, const char *section,
			  const struct sluice_peer_rule *v, size_t n, bool open)
{
	size_t base = c->plen;

	for (size_t i = 0; i < n; i++)
		for (size_t t = 0; t < v[i].nto_ports; t++) {
			const struct sluice_port_rule *l7 = &v[i].to_ports[t];
			bool warned = false;

			if (open && l7->nhttp) {
				/* the compiler gives them allow_all (compile_contribute) */
				lint_push_http(c, section, i, t);
				y_warn(c, l7->http[0].line,
				       "these http rules deny no request: the rule says enableDefaultDeny: {%s: false}, so every request passes the proxy (Cilium adds an allow-all http rule there); the port still goes through the proxy, for visibility",
				       strcmp(section, "ingress") ? "egress" : "ingress");
				y_pop(c, base);
				continue;
			}

			for (size_t k = 0; l7->nhttp && k < l7->nports && !warned; k++)
				for (size_t j = 0; j < n && !warned; j++)
					for (size_t u = 0; u < v[j].nto_ports && !warned; u++) {
						const struct sluice_port *p = &l7->ports[k];
						char port[80];

						if (!lint_port_covered(&v[j].to_ports[u], p) ||
						    !lint_peers_cover(&v[j], &v[i]))
							continue;
						if (p->name)
							snprintf(port, sizeof(port), "\"%s\"", p->name);
						else if (p->end_port)
							snprintf(port, sizeof(port), "%u-%u/TCP", p->port, p->end_port);
						else
							snprintf(port, sizeof(port), "%u/TCP", p->port);
						lint_push_http(c, section, i, t);
						y_warn(c, l7->http[0].line,
						       "these http rules restrict nothing on port %s: %s[%zu].toPorts[%zu] allows the same peers on that port without http rules, so every request passes the proxy (as in Cilium); add the http rules there too or drop the port from it",
						       port, section, j, u);
						y_pop(c, base);
						warned = true;
					}
		}
}

/* ---- rules ------------------------------------------------------------ */

bool cilium_item_has_http(const struct sluice_peer_rule *it)
{
	for (size_t t = 0; t < it->nto_ports; t++)
		if (it->to_ports[t].has_http || sluice_port_rule_has_tls(&it->to_ports[t]))
			return true; /* TLS sends the port to the proxy as http rules do */
	return false;
}

void cilium_peer_item(struct yctx *c, y_node_t *n, enum sluice_section section, const char *ns,
		      struct sluice_peer_rule *out)
{
	cilium_peer_rule(c, n, sluice_section_is_ingress(section), sluice_section_is_deny(section), ns,
			 out);
	if (n) {
		out->src_start = n->start_mark.index;
		out->src_end = n->end_mark.index;
	}
}

static void cilium_section(struct yctx *c, y_node_t *rule, enum sluice_section section,
			   const char *ns, struct sluice_peer_rule **list, size_t *n, bool *present)
{
	const char *name = sluice_section_name(section);
	y_node_t *s = y_field(c, rule, name, NULL);
	size_t base = c->plen;
	long cnt;

	if (!s)
		return;
	y_push_field(c, name);
	cnt = y_sequence(c, s);
	if (cnt > 0 && (*list = y_calloc(c, (size_t)cnt, sizeof(**list))))
		*n = (size_t)cnt;
	for (size_t i = 0; i < *n; i++) {
		size_t old = y_push_index(c, i);

		cilium_peer_item(c, y_item(c, s, (long)i), section, ns, &(*list)[i]);
		y_pop(c, old);
	}
	/* Cilium looks at len(): "ingress: []" is the same as no ingress */
	*present = *n > 0;
	y_pop(c, base);
}

static void cilium_rule_labels(struct yctx *c, y_node_t *n)
{
	static const char *const known[] = { "key", "value", "source", NULL };
	long cnt = y_sequence(c, n);

	for (long i = 0; i < cnt; i++) {
		y_node_t *item = y_item(c, n, i);
		size_t old = y_push_index(c, (size_t)i);

		if (y_mapping(c, item)) {
			yaml_node_pair_t *p;

			y_check_fields(c, item, known, NULL);
			for (p = item->data.mapping.pairs.start; p < item->data.mapping.pairs.top; p++)
				y_string(c, y_node(c, p->value));
		}
		y_pop(c, old);
	}
}

static void cilium_default_deny(struct yctx *c, y_node_t *n, struct sluice_rule *r)
{
	static const char *const known[] = { "ingress", "egress", NULL };
	y_node_t *f;
	size_t base = c->plen;

	r->default_deny_ingress = r->default_deny_egress = SLUICE_UNSET;
	if (!n || y_is_null(n) || !y_mapping(c, n))
		return;
	y_check_fields(c, n, known, NULL);
	if ((f = y_field(c, n, "ingress", NULL)) && !y_is_null(f)) {
		int v;

		y_push_field(c, "ingress");
		v = y_bool(c, f);
		if (v >= 0)
			r->default_deny_ingress = v;
		y_pop(c, base);
	}
	if ((f = y_field(c, n, "egress", NULL)) && !y_is_null(f)) {
		int v;

		y_push_field(c, "egress");
		v = y_bool(c, f);
		if (v >= 0)
			r->default_deny_egress = v;
		y_pop(c, base);
	}
}

static void cilium_rule(struct yctx *c, y_node_t *n, const char *ns, struct sluice_rule *r)
{
	static const char *const known[] = {
		"endpointSelector", "ingress", "egress", "ingressDeny", "egressDeny",
		"description", "labels", "enableDefaultDeny", "nodeSelector", NULL,
	};
	y_node_t *es, *ns_sel, *f;
	size_t base = c->plen;
	int line = 0, errors = c->nerrors; /* a rule already wrong is not told more */

	r->line = y_line(n);
	r->default_deny_ingress = r->default_deny_egress = SLUICE_UNSET;
	if (!y_mapping(c, n))
		return;
	y_check_fields(c, n, known, NULL);
	es = y_field(c, n, "endpointSelector", NULL);
	ns_sel = y_field(c, n, "nodeSelector", &line);
	if (ns_sel) {
		y_push_field(c, "nodeSelector");
		y_error(c, line, "host policies (nodeSelector) are not supported by sluice; use endpointSelector");
		y_pop(c, base);
	} else if (!es) {
		y_push_field(c, "endpointSelector");
		y_error(c, y_line(n), "missing required field");
		y_pop(c, base);
	} else {
		y_push_field(c, "endpointSelector");
		load_selector(c, es, &r->subject);
		if (ns && selector_add_req(&r->subject, "k8s", SLUICE_LABEL_NAMESPACE,
					   SLUICE_SEL_IN, &ns, 1))
			y_error(c, y_line(es), "out of memory");
		y_pop(c, base);
	}
	cilium_section(c, n, SLUICE_SECTION_INGRESS, ns, &r->ingress, &r->ningress, &r->has_ingress);
	cilium_section(c, n, SLUICE_SECTION_EGRESS, ns, &r->egress, &r->negress, &r->has_egress);
	cilium_section(c, n, SLUICE_SECTION_INGRESS_DENY, ns, &r->ingress_deny, &r->ningress_deny,
		       &r->has_ingress_deny);
	cilium_section(c, n, SLUICE_SECTION_EGRESS_DENY, ns, &r->egress_deny, &r->negress_deny,
		       &r->has_egress_deny);
	if ((f = y_field(c, n, "description", NULL))) {
		y_push_field(c, "description");
		y_string(c, f);
		y_pop(c, base);
	}
	if ((f = y_field(c, n, "labels", NULL))) {
		y_push_field(c, "labels");
		cilium_rule_labels(c, f);
		y_pop(c, base);
	}
	if ((f = y_field(c, n, "enableDefaultDeny", NULL))) {
		y_push_field(c, "enableDefaultDeny");
		cilium_default_deny(c, f, r);
		y_pop(c, base);
	}
	cilium_lint_shadowed(c, "ingress", r->ingress, r->ningress, r->default_deny_ingress == SLUICE_FALSE);
	cilium_lint_shadowed(c, "egress", r->egress, r->negress, r->default_deny_egress == SLUICE_FALSE);
	/*
	 * Cilium's Rule.Validate (and its CRD) refuse a rule without a
	 * non-empty section: it would enforce nothing, as Cilium only turns on
	 * a direction that has one ("ingress: []" is no section, as len()).
	 * Said only of a rule with no other error: a misspelt or mistyped
	 * section has its own.
	 */
	if (c->nerrors == errors && !r->has_ingress && !r->has_egress && !r->has_ingress_deny &&
	    !r->has_egress_deny)
		y_error(c, r->line, "rule must have at least one of ingress, ingressDeny, egress or egressDeny: a rule without one enforces nothing (use `ingress: [{}]` to deny all ingress)");
}

void cilium_load_document(struct yctx *c, y_node_t *root, struct sluice_policy *p)
{
	y_node_t *spec = y_field(c, root, "spec", NULL);
	y_node_t *specs = y_field(c, root, "specs", NULL);
	const char *ns = p->kind == SLUICE_KIND_CNP ? p->namespace : NULL;
	size_t base = c->plen, count = 0;
	long nspecs = 0;

	if (p->kind == SLUICE_KIND_CNP && !ns)
		return; /* metadata had an error */
	if (specs) {
		y_push_field(c, "specs");
		nspecs = y_sequence(c, specs);
		y_pop(c, base);
		if (nspecs < 0)
			return;
	}
	if (spec && y_is_null(spec))
		spec = NULL;
	if (!spec && nspecs == 0 && specs && specs->type == YAML_SEQUENCE_NODE) {
		/* Cilium's Parse: ErrEmptyCNP only when both are nil; "specs: []"
		 * is a policy of no rule, which enforces nothing */
		y_push_field(c, "specs");
		y_warn(c, y_line(specs), "empty: the policy has no rule and enforces nothing");
		y_pop(c, base);
		return;
	}
	if (!spec && nspecs == 0) {
		y_push_field(c, "spec");
		y_error(c, y_line(root), "missing required field (spec or specs)");
		y_pop(c, base);
		return;
	}
	count = (spec ? 1 : 0) + (size_t)nspecs;
	if (!(p->rules = y_calloc(c, count, sizeof(*p->rules))))
		return;
	p->nrules = count;
	if (spec) {
		y_push_field(c, "spec");
		cilium_rule(c, spec, ns, &p->rules[0]);
		p->rules[0].specs_index = -1;
		y_pop(c, base);
	}
	for (long i = 0; i < nspecs; i++) {
		y_push_field(c, "specs");
		y_push_index(c, (size_t)i);
		cilium_rule(c, y_item(c, specs, i), ns, &p->rules[(spec ? 1 : 0) + (size_t)i]);
		p->rules[(spec ? 1 : 0) + (size_t)i].specs_index = (int)i;
		y_pop(c, base);
	}
	for (size_t r = 0; r < p->nrules && !p->has_http; r++)
		for (enum sluice_section sec = SLUICE_SECTION_INGRESS;
		     sec <= SLUICE_SECTION_EGRESS && !p->has_http; sec++) { /* deny lists have no http */
			size_t n;
			const struct sluice_peer_rule *v = rule_section(&p->rules[r], sec, &n);

			for (size_t j = 0; j < n && !p->has_http; j++)
				p->has_http = cilium_item_has_http(&v[j]);
		}
	for (size_t r = 0; r < p->nrules && !p->has_groups; r++)
		for (int sec = 0; sec < SLUICE_SECTION_COUNT && !p->has_groups; sec++) {
			size_t n;
			const struct sluice_peer_rule *v = rule_section(&p->rules[r], (enum sluice_section)sec, &n);

			for (size_t j = 0; j < n && !p->has_groups; j++)
				p->has_groups = v[j].ngroups != 0;
		}
}
