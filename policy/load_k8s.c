// SPDX-License-Identifier: Apache-2.0
/*
 * load_k8s.c - Kubernetes NetworkPolicy (networking.k8s.io/v1) decoding into
 * the same model as the Cilium policies, with Kubernetes' semantics:
 *
 *   - podSelector selects pods of the policy's namespace ({} or left out =
 *     all of them; a policy without spec isolates every pod's ingress);
 *   - policyTypes says which directions the policy isolates; without it,
 *     Ingress always, and Egress when the egress list is not empty;
 *   - an isolated direction with no rules denies everything
 *     ("ingress: []"), a rule without peers allows every peer and a rule
 *     without ports every port ("ingress: [{}]" allows all);
 *   - a peer with podSelector and namespaceSelector selects the matching
 *     pods of the matching namespaces (one selector, ANDed). Namespace
 *     labels are matched through the k8s:io.cilium.k8s.namespace.labels.KEY
 *     labels the identities carry;
 *   - an ipBlock selects addresses outside the cluster through CIDR
 *     identities and, unlike Cilium's fromCIDR, also local pods whose
 *     addresses lie inside it (cidrs_select_pods; see compile_peers.c).
 */
#include "load.h"

#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Kubernetes label keys have no Cilium source: they are pod labels (k8s). */
static int k8s_set_source(struct sluice_selector *s)
{
	for (size_t i = 0; i < s->nreqs; i++) {
		char *src;

		if (strcmp(s->reqs[i].source, "any"))
			continue;
		src = strdup("k8s");
		if (!src)
			return -1;
		free(s->reqs[i].source);
		s->reqs[i].source = src;
	}
	return 0;
}

/* Appends the requirements of a namespaceSelector as namespace-label ones. */
static int k8s_add_namespace_reqs(struct sluice_selector *dst, const struct sluice_selector *ns_sel)
{
	for (size_t i = 0; i < ns_sel->nreqs; i++) {
		const struct sluice_sel_req *r = &ns_sel->reqs[i];
		char *key;
		int rc;

		if (asprintf(&key, "%s%s", SLUICE_LABEL_NS_PREFIX, r->key) < 0)
			return -1;
		rc = selector_add_req(dst, "k8s", key, r->op,
				      (const char *const *)r->values, r->nvalues);
		free(key);
		if (rc)
			return rc;
	}
	/* only pods have a namespace: never world or host */
	return selector_add_req(dst, "k8s", SLUICE_LABEL_NAMESPACE, SLUICE_SEL_EXISTS, NULL, 0);
}

static void k8s_peer(struct yctx *c, y_node_t *n, const char *ns,
		     struct sluice_peer_rule *out, size_t *nsel, size_t *ncidr)
{
	static const char *const known[] = { "podSelector", "namespaceSelector", "ipBlock", NULL };
	y_node_t *ps, *nss, *ib;
	size_t base = c->plen;

	if (!y_mapping(c, n))
		return;
	y_check_fields(c, n, known, NULL);
	ps = y_field(c, n, "podSelector", NULL);
	nss = y_field(c, n, "namespaceSelector", NULL);
	ib = y_field(c, n, "ipBlock", NULL);
	if (ps && y_is_null(ps))
		ps = NULL;
	if (nss && y_is_null(nss))
		nss = NULL;
	if (ib && y_is_null(ib))
		ib = NULL;
	if (ib && (ps || nss)) {
		y_error(c, y_line(n), "ipBlock may not be combined with podSelector or namespaceSelector");
		return;
	}
	if (!ib && !ps && !nss) {
		y_error(c, y_line(n), "must specify podSelector, namespaceSelector or ipBlock");
		return;
	}
	if (ib) {
		static const char *const ib_known[] = { "cidr", "except", NULL };
		struct sluice_cidr *cidr = &out->cidrs[(*ncidr)++];
		y_node_t *cn, *en;
		bool ok = false;
		long cnt;

		y_push_field(c, "ipBlock");
		if (!y_mapping(c, ib))
			goto out;
		y_check_fields(c, ib, ib_known, NULL);
		cn = y_field(c, ib, "cidr", NULL);
		en = y_field(c, ib, "except", NULL);
		y_push_field(c, "cidr");
		if (!cn)
			y_error(c, y_line(ib), "missing required field");
		else /* the API server parses both as prefixes (ParseCIDRSloppy) */
			ok = load_prefix(c, cn, cidr);
		y_pop(c, base + strlen(".ipBlock"));
		out->cidrs_select_pods = true;
		if (en) {
			y_push_field(c, "except");
			cnt = y_sequence(c, en);
			if (cnt > 0 && (cidr->except = y_calloc(c, (size_t)cnt, sizeof(*cidr->except))))
				cidr->nexcept = (size_t)cnt;
			for (size_t i = 0; i < cidr->nexcept; i++) {
				size_t old = y_push_index(c, i);
				y_node_t *item = y_item(c, en, (long)i);
				struct sluice_cidr *ex = &cidr->except[i];

				/* the API server rejects an except that is not a strict
				 * subset of cidr */
				if (load_prefix(c, item, ex) && ok &&
				    (!load_cidr_contains(cidr, ex) || ex->prefixlen == cidr->prefixlen))
					y_error(c, y_line(item), "\"%s\" is not a strict subset of cidr \"%s\"",
						y_string(c, item), y_string(c, cn));
				y_pop(c, old);
			}
		}
		goto out;
	}

	struct sluice_selector *sel = &out->endpoints[(*nsel)++];

	if (ps) {
		y_push_field(c, "podSelector");
		load_selector(c, ps, sel);
		y_pop(c, base);
	}
	if (k8s_set_source(sel))
		y_error(c, y_line(n), "out of memory");
	if (nss) {
		struct sluice_selector tmp = { 0 };

		y_push_field(c, "namespaceSelector");
		load_selector(c, nss, &tmp);
		y_pop(c, base);
		if (k8s_add_namespace_reqs(sel, &tmp))
			y_error(c, y_line(n), "out of memory");
		selector_free(&tmp);
	} else if (selector_add_req(sel, "k8s", SLUICE_LABEL_NAMESPACE, SLUICE_SEL_IN, &ns, 1)) {
		y_error(c, y_line(n), "out of memory");
	}
out:
	y_pop(c, base);
}

static void k8s_port(struct yctx *c, y_node_t *n, struct sluice_port *out)
{
	static const char *const known[] = { "port", "protocol", "endPort", NULL };
	y_node_t *pn, *prn, *en;
	size_t base = c->plen;
	const char *s;
	bool numeric = false;

	out->line = y_line(n);
	out->protocol = IPPROTO_TCP;
	if (!y_mapping(c, n))
		return;
	y_check_fields(c, n, known, NULL);
	pn = y_field(c, n, "port", NULL);
	prn = y_field(c, n, "protocol", NULL);
	en = y_field(c, n, "endPort", NULL);

	y_push_field(c, "port");
	if (pn && !y_is_null(pn) && (s = y_string(c, pn))) {
		/* a name is an IANA service name (a lower case letter somewhere:
		 * "1234a" is one); digits alone are a number, 1-65535 */
		if (load_is_iana_svc_name(s)) {
			out->name = y_strdup(c, s);
		} else if (s[0] && isdigit((unsigned char)s[0])) {
			if (load_parse_uint16(s, &out->port) || out->port == 0)
				y_error(c, y_line(pn), "invalid port \"%s\"", s);
			else
				numeric = true;
		} else {
			y_error(c, y_line(pn), "invalid port \"%s\"", s);
		}
	}
	y_pop(c, base);

	y_push_field(c, "protocol");
	if (prn && !y_is_null(prn) && (s = y_string(c, prn))) {
		if (!strcmp(s, "TCP"))
			out->protocol = IPPROTO_TCP;
		else if (!strcmp(s, "UDP"))
			out->protocol = IPPROTO_UDP;
		else if (!strcmp(s, "SCTP"))
			out->protocol = IPPROTO_SCTP;
		else
			y_error(c, y_line(prn), "unknown protocol \"%s\" (want TCP, UDP or SCTP)", s);
	}
	y_pop(c, base);

	y_push_field(c, "endPort");
	if (en && !y_is_null(en) && (s = y_string(c, en))) {
		uint16_t end;

		if (load_parse_uint16(s, &end) || end == 0)
			y_error(c, y_line(en), "invalid endPort \"%s\"", s);
		else if (!numeric)
			y_error(c, y_line(en), "endPort needs a numeric port");
		else if (end < out->port)
			y_error(c, y_line(en), "endPort %u is lower than port %u", end, out->port);
		else if (end > out->port)
			out->end_port = end;
	}
	y_pop(c, base);
}

static void k8s_rule(struct yctx *c, y_node_t *n, bool ingress, const char *ns,
		     struct sluice_peer_rule *out)
{
	static const char *const in_known[] = { "from", "ports", NULL };
	static const char *const out_known[] = { "to", "ports", NULL };
	const char *peers_name = ingress ? "from" : "to";
	y_node_t *pn, *portn;
	size_t base = c->plen;
	long npeers = 0, nports = 0;

	out->line = y_line(n);
	if (y_is_null(n))
		return; /* "- " alone: every peer, every port */
	if (!y_mapping(c, n))
		return;
	y_check_fields(c, n, ingress ? in_known : out_known, NULL);
	pn = y_field(c, n, peers_name, NULL);
	portn = y_field(c, n, "ports", NULL);
	if (pn) {
		y_push_field(c, peers_name);
		npeers = y_sequence(c, pn);
		if (npeers > 0) {
			out->endpoints = y_calloc(c, (size_t)npeers, sizeof(*out->endpoints));
			out->cidrs = y_calloc(c, (size_t)npeers, sizeof(*out->cidrs));
		}
		for (long i = 0; i < npeers && out->endpoints && out->cidrs; i++) {
			size_t old = y_push_index(c, (size_t)i);

			k8s_peer(c, y_item(c, pn, i), ns, out, &out->nendpoints, &out->ncidrs);
			y_pop(c, old);
		}
		y_pop(c, base);
	}
	out->has_l3 = npeers > 0;
	if (portn) {
		y_push_field(c, "ports");
		nports = y_sequence(c, portn);
		if (nports > 0 && (out->to_ports = y_calloc(c, 1, sizeof(*out->to_ports)))) {
			out->nto_ports = 1;
			out->to_ports->line = y_line(portn);
			if ((out->to_ports->ports = y_calloc(c, (size_t)nports,
							     sizeof(*out->to_ports->ports))))
				out->to_ports->nports = (size_t)nports;
		}
		for (size_t i = 0; out->nto_ports && i < out->to_ports->nports; i++) {
			size_t old = y_push_index(c, i);

			k8s_port(c, y_item(c, portn, (long)i), &out->to_ports->ports[i]);
			y_pop(c, old);
		}
		y_pop(c, base);
	}
}

static void k8s_section(struct yctx *c, y_node_t *spec, bool ingress, const char *ns,
			struct sluice_peer_rule **list, size_t *n, long *count)
{
	const char *name = ingress ? "ingress" : "egress";
	y_node_t *s = spec ? y_field(c, spec, name, NULL) : NULL;
	size_t base = c->plen;

	*count = 0;
	if (!s)
		return;
	y_push_field(c, name);
	*count = y_sequence(c, s);
	if (*count > 0 && (*list = y_calloc(c, (size_t)*count, sizeof(**list))))
		*n = (size_t)*count;
	for (size_t i = 0; i < *n; i++) {
		size_t old = y_push_index(c, i);

		k8s_rule(c, y_item(c, s, (long)i), ingress, ns, &(*list)[i]);
		y_pop(c, old);
	}
	y_pop(c, base);
}

void k8s_load_document(struct yctx *c, y_node_t *root, struct sluice_policy *p)
{
	static const char *const known[] = { "apiVersion", "kind", "metadata", "spec", "status", NULL };
	static const char *const spec_known[] = {
		"podSelector", "policyTypes", "ingress", "egress", NULL,
	};
	y_node_t *spec, *ps, *types;
	struct sluice_rule *r;
	size_t base = c->plen;
	long nin, neg;
	bool want_in = true, want_eg = false;

	c->k8s_label_keys = true; /* load_selector() reads Kubernetes' keys */
	y_check_fields(c, root, known, NULL);
	load_metadata(c, root, p, true);
	/* spec may be left out (or null) as well: the API server decodes the
	 * empty spec, every pod of the namespace with its ingress isolated and
	 * no rule, a default deny of ingress, as kubectl creates it. */
	spec = y_field(c, root, "spec", NULL);
	if (y_is_null(spec))
		spec = NULL;
	y_push_field(c, "spec");
	if ((spec && !y_mapping(c, spec)) || !p->namespace)
		goto out;
	if (spec)
		y_check_fields(c, spec, spec_known, NULL);
	if (!(p->rules = y_calloc(c, 1, sizeof(*p->rules))))
		goto out;
	p->nrules = 1;
	r = &p->rules[0];
	r->line = y_line(spec ? spec : root);
	r->default_deny_ingress = r->default_deny_egress = SLUICE_UNSET;

	/* podSelector may be left out: the API server decodes it as the empty
	 * selector, every pod of the namespace (kubernetes/kubernetes#131354;
	 * the e2e suite's "should work with Ingress,Egress specified together"
	 * sends such a policy). */
	ps = spec ? y_field(c, spec, "podSelector", NULL) : NULL;
	y_push_field(c, "podSelector");
	if (ps)
		load_selector(c, ps, &r->subject);
	if (k8s_set_source(&r->subject) ||
	    selector_add_req(&r->subject, "k8s", SLUICE_LABEL_NAMESPACE, SLUICE_SEL_IN,
			     (const char *const *)&p->namespace, 1))
		y_error(c, r->line, "out of memory");
	y_pop(c, base + strlen(".spec"));

	k8s_section(c, spec, true, p->namespace, &r->ingress, &r->ningress, &nin);
	k8s_section(c, spec, false, p->namespace, &r->egress, &r->negress, &neg);

	types = spec ? y_field(c, spec, "policyTypes", NULL) : NULL;
	if (types && !y_is_null(types)) {
		long cnt;

		y_push_field(c, "policyTypes");
		cnt = y_sequence(c, types);
		if (cnt > 0)
			want_in = false;
		/* the API server's limit (duplicates are allowed within it) */
		if (cnt > 2)
			y_error(c, y_line(types), "may not specify more than two policyTypes");
		for (long i = 0; i < cnt; i++) {
			y_node_t *item = y_item(c, types, i);
			size_t old = y_push_index(c, (size_t)i);
			const char *s = y_string(c, item);

			if (s && !strcmp(s, "Ingress"))
				want_in = true;
			else if (s && !strcmp(s, "Egress"))
				want_eg = true;
			else if (s)
				y_error(c, y_line(item), "unknown policy type \"%s\" (want Ingress or Egress)", s);
			y_pop(c, old);
		}
		if (cnt == 0)
			want_eg = neg > 0;
		y_pop(c, base + strlen(".spec"));
	} else {
		want_eg = neg > 0;
	}
	/* a direction not in policyTypes is not affected: drop its rules */
	if (!want_in) {
		for (size_t i = 0; i < r->ningress; i++)
			load_peer_rule_free(&r->ingress[i]);
		free(r->ingress);
		r->ingress = NULL;
		r->ningress = 0;
	}
	if (!want_eg) {
		for (size_t i = 0; i < r->negress; i++)
			load_peer_rule_free(&r->egress[i]);
		free(r->egress);
		r->egress = NULL;
		r->negress = 0;
	}
	r->has_ingress = want_in;
	r->has_egress = want_eg;
out:
	c->k8s_label_keys = false;
	y_pop(c, base);
}
