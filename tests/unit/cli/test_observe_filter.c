/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_observe_filter.c - `sluice observe`'s flags into Hubble FlowFilters
 * (cli/observe_filter.c), on the cases of hubble's own flag tests
 * (cmd/observe/flows_filter_test.go): which FlowFilters the allowlist and
 * the denylist get, which combinations are refused and with what.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "observe_filter.h"

/* Parses argv-style "name value" pairs ("not" takes none) into f; returns
 * the first error (malloc'd) or NULL. */
static char *run(struct obs_filter *f, const char *const *args)
{
	char *err = NULL;

	for (size_t i = 0; args[i]; i++) {
		const char *name = args[i] + 2; /* "--" */
		bool takes = obs_filter_flag_has_value(name);

		if (obs_filter_set(f, name, takes ? args[i + 1] : NULL, &err))
			return err;
		if (takes)
			i++;
	}
	return NULL;
}

/* The flags must give exactly the allowlist and denylist written as JSON
 * ("[]" for none). */
static void expect(const char *const *args, const char *allow, const char *deny)
{
	struct obs_filter *f = obs_filter_new();
	json_t *a = NULL, *d = NULL, *wa = json_loads(allow, 0, NULL), *wd = json_loads(deny, 0, NULL);
	char *err = run(f, args);

	if (err)
		fprintf(stderr, "unexpected error: %s\n", err);
	assert_null(err);
	assert_int_equal(obs_filter_lists(f, &a, &d, &err), 0);
	assert_non_null(wa);
	assert_non_null(wd);
	if (!json_equal(a, wa) || !json_equal(d, wd)) {
		char *ga = json_dumps(a, JSON_COMPACT), *gd = json_dumps(d, JSON_COMPACT);

		fprintf(stderr, "allow: %s\n  want %s\ndeny: %s\n  want %s\n", ga, allow, gd, deny);
		free(ga);
		free(gd);
		fail();
	}
	json_decref(a);
	json_decref(d);
	json_decref(wa);
	json_decref(wd);
	obs_filter_free(f);
}

/* The flags must be refused; with msg, the error must contain it. */
static void refused(const char *const *args, const char *msg)
{
	struct obs_filter *f = obs_filter_new();
	char *err = run(f, args);
	json_t *a = NULL, *d = NULL;

	if (!err && obs_filter_lists(f, &a, &d, &err) == 0) {
		json_decref(a);
		json_decref(d);
	}
	if (!err)
		fprintf(stderr, "accepted: %s ...\n", args[0]);
	assert_non_null(err);
	if (msg && !strstr(err, msg)) {
		fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, msg);
		fail();
	}
	free(err);
	obs_filter_free(f);
}

#define A(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void test_default_and_dispatch(void **state)
{
	(void)state;
	expect(A("--from-ip", "1.2.3.4"), "[{\"source_ip\":[\"1.2.3.4\"]}]", "[]");
	expect((const char *const[]){ NULL }, "[]", "[]");
	/* TestFilterDispatch */
	expect(A("--from-ip", "1.2.3.4", "--from-ip", "5.6.7.8", "--not", "--to-ip", "5.5.5.5",
		 "--verdict", "DROPPED", "--type", "l7"),
	       "[{\"source_ip\":[\"1.2.3.4\",\"5.6.7.8\"],\"verdict\":[\"DROPPED\"],"
	       "\"event_type\":[{\"type\":129}]}]",
	       "[{\"destination_ip\":[\"5.5.5.5\"]}]");
	/* TestFilterLeftRight */
	expect(A("--ip", "1.2.3.4", "--ip", "5.6.7.8", "--verdict", "DROPPED", "--not", "--pod",
		 "deathstar", "--not", "--http-status", "200", "--http-method", "get", "--http-path",
		 "/page/\\d+", "--node-name", "k8s*"),
	       "[{\"source_ip\":[\"1.2.3.4\",\"5.6.7.8\"],\"verdict\":[\"DROPPED\"],\"http_method\":[\"get\"],"
	       "\"http_path\":[\"/page/\\\\d+\"],\"node_name\":[\"k8s*\"]},"
	       "{\"destination_ip\":[\"1.2.3.4\",\"5.6.7.8\"],\"verdict\":[\"DROPPED\"],\"http_method\":[\"get\"],"
	       "\"http_path\":[\"/page/\\\\d+\"],\"node_name\":[\"k8s*\"]}]",
	       "[{\"source_pod\":[\"deathstar\"],\"http_status_code\":[\"200\"]},"
	       "{\"destination_pod\":[\"deathstar\"],\"http_status_code\":[\"200\"]}]");
	/* TestUuid */
	expect(A("--uuid", "b9fab269-04ae-495c-9d12-b6c36d41de0d"),
	       "[{\"uuid\":[\"b9fab269-04ae-495c-9d12-b6c36d41de0d\"]}]", "[]");
	/* TestHTTPURL */
	expect(A("--http-url", "http://.*cilium\\.io/foo", "--http-url", "http://www\\.cilium\\.io/bar"),
	       "[{\"http_url\":[\"http://.*cilium\\\\.io/foo\",\"http://www\\\\.cilium\\\\.io/bar\"]}]", "[]");
}

static void test_types(void **state)
{
	(void)state;
	refused(A("--type", "some-invalid-type"), "unable to parse type");
	refused(A("--type", "trace:some-invalid-sub-type"), "unable to parse event sub-type");
	refused(A("--type", "agent:Policy updated"), NULL);
	expect(A("--type", "254", "--type", "255:127", "--type", "trace:to-endpoint", "--type",
		 "trace:from-endpoint", "--type", "4:2", "--type", "agent", "--type", "agent:3", "--type",
		 "agent:policy-updated", "--type", "agent:service-deleted"),
	       "[{\"event_type\":[{\"type\":254},{\"type\":255,\"match_sub_type\":true,\"sub_type\":127},"
	       "{\"type\":4,\"match_sub_type\":true},{\"type\":4,\"match_sub_type\":true,\"sub_type\":5},"
	       "{\"type\":4,\"match_sub_type\":true,\"sub_type\":2},{\"type\":130},"
	       "{\"type\":130,\"match_sub_type\":true,\"sub_type\":3},"
	       "{\"type\":130,\"match_sub_type\":true,\"sub_type\":5},"
	       "{\"type\":130,\"match_sub_type\":true,\"sub_type\":12}]}]",
	       "[]");
	/* sluice's l3-l4: drops, traces and policy verdicts */
	expect(A("--type", "l3-l4"), "[{\"event_type\":[{\"type\":1},{\"type\":4},{\"type\":5}]}]", "[]");
}

static void test_labels_identities(void **state)
{
	(void)state;
	expect(A("--label", "k1=v1,k2=v2", "--label", "k3"),
	       "[{\"source_label\":[\"k1=v1,k2=v2\",\"k3\"]},{\"destination_label\":[\"k1=v1,k2=v2\",\"k3\"]}]",
	       "[]");
	expect(A("--identity", "1", "--identity", "2"),
	       "[{\"source_identity\":[1,2]},{\"destination_identity\":[1,2]}]", "[]");
	expect(A("--identity", "world"), "[{\"source_identity\":[2]},{\"destination_identity\":[2]}]", "[]");
	expect(A("--from-identity", "kube-apiserver"), "[{\"source_identity\":[7]}]", "[]");
	expect(A("--to-identity", "remote-node"), "[{\"destination_identity\":[6]}]", "[]");
	refused(A("--from-identity", "bad"), "invalid security identity");
	/* the values test_flow_filter checked when the CLI judged them there */
	expect(A("--identity", "0", "--identity", "4294967295"),
	       "[{\"source_identity\":[0,4294967295]},{\"destination_identity\":[0,4294967295]}]", "[]");
	refused(A("--identity", "-1"), "invalid security identity");
	refused(A("--identity", "4294967296"), "invalid security identity");
	refused(A("--from-identity", "-2"), "invalid security identity");
	refused(A("--verdict", "BOGUS"), "invalid --verdict value");
	expect(A("--verdict", "forwarded", "--verdict", "REDIRECTED", "--verdict", "DENIED"),
	       "[{\"verdict\":[\"FORWARDED\",\"REDIRECTED\",\"DROPPED\"]}]", "[]");
	expect(A("--verdict", "ALLOWED"),
	       "[{\"verdict\":[\"FORWARDED\",\"AUDIT\",\"REDIRECTED\",\"TRACED\",\"TRANSLATED\"]}]",
	       "[]");
	refused(A("--to-identity", "bad"), NULL);
	refused(A("--identity", "bad"), NULL);
	/* TestFromToWorkloadCombined */
	expect(A("--from-pod", "cilium", "--to-workload", "app"),
	       "[{\"source_pod\":[\"cilium\"],\"destination_workload\":[{\"name\":\"app\"}]}]", "[]");
	expect(A("--pod", "cilium", "--to-workload", "app"),
	       "[{\"source_pod\":[\"cilium\"],\"destination_workload\":[{\"name\":\"app\"}]},"
	       "{\"destination_pod\":[\"cilium\"],\"destination_workload\":[{\"name\":\"app\"}]}]",
	       "[]");
	expect(A("--workload", "Deployment/web"),
	       "[{\"source_workload\":[{\"kind\":\"Deployment\",\"name\":\"web\"}]},"
	       "{\"destination_workload\":[{\"kind\":\"Deployment\",\"name\":\"web\"}]}]",
	       "[]");
	/* cluster names (hubble's --cluster, --from-cluster, --to-cluster) */
	expect(A("--cluster", "c1"),
	       "[{\"source_cluster_name\":[\"c1\"]},{\"destination_cluster_name\":[\"c1\"]}]", "[]");
	expect(A("--from-cluster", "c1", "--to-cluster", "c2"),
	       "[{\"source_cluster_name\":[\"c1\"],\"destination_cluster_name\":[\"c2\"]}]", "[]");
	expect(A("--not", "--to-cluster", "c2"), "[]", "[{\"destination_cluster_name\":[\"c2\"]}]");
	/* TestFromToIdentityCombined */
	expect(A("--from-pod", "cilium", "--to-identity", "42"),
	       "[{\"source_pod\":[\"cilium\"],\"destination_identity\":[42]}]", "[]");
	expect(A("--pod", "cilium", "--to-identity", "42"),
	       "[{\"source_pod\":[\"cilium\"],\"destination_identity\":[42]},"
	       "{\"destination_pod\":[\"cilium\"],\"destination_identity\":[42]}]",
	       "[]");
}

static void test_tcp_flags_direction(void **state)
{
	static const char *const good[][2] = {
		{ "SYN", "SYN" }, { "syn", "SYN" }, { "FIN", "FIN" }, { "RST", "RST" },
		{ "PSH", "PSH" }, { "ACK", "ACK" }, { "URG", "URG" }, { "ECE", "ECE" },
		{ "CWR", "CWR" }, { "NS", "NS" },
	};
	static const char *const bad[] = { "unknown", "syn,unknown", "unknown,syn", "syn,", ",syn" };
	char want[128];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(want, sizeof(want), "[{\"tcp_flags\":[{\"%s\":true}]}]", good[i][1]);
		expect(A("--tcp-flags", good[i][0], "--not", "--tcp-flags", "NS"), want,
		       "[{\"tcp_flags\":[{\"NS\":true}]}]");
	}
	expect(A("--tcp-flags", "syn,ack", "--tcp-flags", "syn"),
	       "[{\"tcp_flags\":[{\"SYN\":true,\"ACK\":true},{\"SYN\":true}]}]", "[]");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(A("--tcp-flags", bad[i]), "unknown tcp flag");
	expect(A("--traffic-direction", "ingress"), "[{\"traffic_direction\":[\"INGRESS\"]}]", "[]");
	expect(A("--traffic-direction", "INGRESS", "--traffic-direction", "EgrEss"),
	       "[{\"traffic_direction\":[\"INGRESS\",\"EGRESS\"]}]", "[]");
	refused(A("--traffic-direction", "up"), "invalid traffic direction");
	refused(A("--tcp-flags", "SYNACK"), "unknown tcp flag");
	refused(A("--tcp-flags", ""), "unknown tcp flag");
	refused(A("--traffic-direction", "to the moon"),
		"to the moon: invalid traffic direction, expected ingress or egress");
}

/* TestNamespace */
static void test_namespaces(void **state)
{
	(void)state;
	expect(A("--namespace", "cilium", "--port", "443"),
	       "[{\"source_pod\":[\"cilium/\"],\"source_port\":[\"443\"]},"
	       "{\"destination_pod\":[\"cilium/\"],\"destination_port\":[\"443\"]}]",
	       "[]");
	expect(A("--from-namespace", "cilium", "--from-port", "443"),
	       "[{\"source_pod\":[\"cilium/\"],\"source_port\":[\"443\"]}]", "[]");
	expect(A("--to-namespace", "cilium"), "[{\"destination_pod\":[\"cilium/\"]}]", "[]");
	expect(A("--to-namespace", "cilium", "--port", "443"),
	       "[{\"destination_pod\":[\"cilium/\"],\"source_port\":[\"443\"]},"
	       "{\"destination_pod\":[\"cilium/\"],\"destination_port\":[\"443\"]}]",
	       "[]");
	expect(A("--namespace", "cilium", "--pod", "foo-9c76d6c95-tf788"),
	       "[{\"source_pod\":[\"cilium/foo-9c76d6c95-tf788\"]},"
	       "{\"destination_pod\":[\"cilium/foo-9c76d6c95-tf788\"]}]",
	       "[]");
	expect(A("--namespace", "cilium", "--service", "foo"),
	       "[{\"source_service\":[\"cilium/foo\"]},{\"destination_service\":[\"cilium/foo\"]}]", "[]");
	expect(A("--namespace", "cilium", "--namespace", "kube-system", "--service", "foo", "--service",
		 "bar"),
	       "[{\"source_service\":[\"cilium/foo\",\"kube-system/foo\",\"cilium/bar\",\"kube-system/bar\"]},"
	       "{\"destination_service\":[\"cilium/foo\",\"kube-system/foo\",\"cilium/bar\",\"kube-system/bar\"]}]",
	       "[]");
	expect(A("--to-namespace", "cilium", "--to-pod", "cilium/foo-9c76d6c95-tf788"),
	       "[{\"destination_pod\":[\"cilium/foo-9c76d6c95-tf788\"]}]", "[]");
	expect(A("--from-namespace", "kube-system", "--to-pod", "cilium/foo-9c76d6c95-tf788"),
	       "[{\"source_pod\":[\"kube-system/\"],\"destination_pod\":[\"cilium/foo-9c76d6c95-tf788\"]}]",
	       "[]");
	refused(A("--to-namespace", "kube-system", "--to-pod", "cilium/foo-9c76d6c95-tf788"),
		"\"kube-system\" does not contain \"cilium/foo-9c76d6c95-tf788\"");
	refused(A("--from-namespace", "kube-system", "--from-service", "cilium/foo"),
		"\"kube-system\" does not contain \"cilium/foo\"");
	refused(A("--from-service", "cilium/foo", "--from-pod", "kube-system/hubble"),
		"namespace of service \"cilium/foo\" conflict with pod");
}

/* TestConflicts, TestConflicts_Table (those sluice has flags for),
 * TestTrailingNot */
static void test_conflicts(void **state)
{
	static const char *const pairs[][2] = {
		{ "--port", "--to-port" },       { "--port", "--from-port" },
		{ "--identity", "--to-identity" }, { "--identity", "--from-identity" },
		{ "--workload", "--to-workload" }, { "--workload", "--from-workload" },
		{ "--fqdn", "--from-fqdn" },     { "--fqdn", "--to-fqdn" },
		{ "--ip", "--from-ip" },         { "--ip", "--to-ip" },
		{ "--label", "--from-label" },   { "--label", "--to-label" },
		{ "--service", "--from-service" }, { "--service", "--to-service" },
		{ "--pod", "--from-pod" },       { "--pod", "--to-pod" },
		{ "--namespace", "--from-namespace" }, { "--namespace", "--to-namespace" },
		{ "--ip", "--fqdn" },            { "--ip", "--from-fqdn" },
		{ "--ip", "--to-fqdn" },         { "--from-ip", "--from-fqdn" },
		{ "--from-ip", "--fqdn" },       { "--to-ip", "--fqdn" },
		{ "--to-ip", "--to-fqdn" },      { "--ip", "--pod" },
		{ "--ip", "--from-pod" },        { "--ip", "--to-pod" },
		{ "--from-ip", "--from-pod" },   { "--from-ip", "--pod" },
		{ "--to-ip", "--pod" },          { "--to-ip", "--to-pod" },
		{ "--ip", "--namespace" },       { "--ip", "--from-namespace" },
		{ "--ip", "--to-namespace" },    { "--from-ip", "--from-namespace" },
		{ "--from-ip", "--namespace" },  { "--to-ip", "--namespace" },
		{ "--to-ip", "--to-namespace" }, { "--pod", "--fqdn" },
		{ "--pod", "--from-fqdn" },      { "--pod", "--to-fqdn" },
		{ "--from-pod", "--from-fqdn" }, { "--from-pod", "--fqdn" },
		{ "--to-pod", "--fqdn" },        { "--to-pod", "--to-fqdn" },
		{ "--namespace", "--fqdn" },     { "--namespace", "--from-fqdn" },
		{ "--namespace", "--to-fqdn" },  { "--namespace", "--from-service" },
		{ "--namespace", "--to-service" }, { "--from-namespace", "--from-fqdn" },
		{ "--from-namespace", "--fqdn" }, { "--to-namespace", "--fqdn" },
		{ "--to-namespace", "--to-fqdn" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		/* values that are valid for either flag ("1" is an identity and a
		 * port, and an address only for --ip: so 10.0.0.1 there) */
		const char *v0 = strstr(pairs[i][0], "ip") ? "10.0.0.1" : "1";
		const char *v1 = strstr(pairs[i][1], "ip") ? "10.0.0.2" : "2";

		refused(A(pairs[i][0], v0, pairs[i][1], v1), "cannot be combined");
	}
	refused(A("--from-ip", "1.2.3.4", "--from-fqdn", "doesnt.work"),
		"filters --from-fqdn and --from-ip cannot be combined");
	refused(A("--from-service", "foo", "--service", "bar"),
		"filters --service and --from-service cannot be combined");
	/* "complex ok" */
	expect(A("--to-service", "foo", "--from-service", "bar", "--from-identity", "world", "--to-identity",
		 "world", "--to-ip", "1.2.3.4", "--from-pod", "blib", "--from-port", "1172", "--to-port",
		 "11245", "--workload", "buzz"),
	       "[{\"source_pod\":[\"blib\"],\"source_service\":[\"bar\"],\"source_workload\":[{\"name\":\"buzz\"}],"
	       "\"destination_ip\":[\"1.2.3.4\"],"
	       "\"destination_service\":[\"foo\"],\"source_port\":[\"1172\"],\"destination_port\":[\"11245\"],"
	       "\"source_identity\":[2],\"destination_identity\":[2]},"
	       "{\"source_pod\":[\"blib\"],\"source_service\":[\"bar\"],"
	       "\"destination_ip\":[\"1.2.3.4\"],\"destination_service\":[\"foo\"],\"destination_workload\":[{\"name\":\"buzz\"}],"
	       "\"source_port\":[\"1172\"],\"destination_port\":[\"11245\"],"
	       "\"source_identity\":[2],\"destination_identity\":[2]}]",
	       "[]");
	refused(A("--from-ip", "1.2.3.4", "--not"), "trailing --not");
	refused(A("--not", "--not", "--pod", "x"), "consecutive --not statements");
}

static void test_raw_and_yaml(void **state)
{
	struct obs_filter *f = obs_filter_new();
	json_t *a, *d;
	char *err = NULL, *y;

	(void)state;
	assert_int_equal(obs_filter_set(f, "verdict", "DROPPED", &err), 0);
	assert_int_equal(obs_filter_set(f, "verdict", "ERROR", &err), 0);
	assert_int_equal(obs_filter_add_raw(f, true, "{\"source_pod\":[\"it's/\"]}", &err), 0);
	assert_int_not_equal(obs_filter_add_raw(f, false, "[1]", &err), 0);
	free(err);
	assert_int_equal(obs_filter_lists(f, &a, &d, &err), 0);
	y = obs_filter_yaml(a, d);
	assert_string_equal(y, "allowlist:\n    - '{\"verdict\":[\"DROPPED\",\"ERROR\"]}'\n"
			       "denylist:\n    - '{\"source_pod\":[\"it''s/\"]}'\n");
	free(y);
	json_decref(a);
	json_decref(d);
	obs_filter_free(f);
	a = json_array();
	d = json_array();
	y = obs_filter_yaml(a, d);
	assert_string_equal(y, "{}\n");
	free(y);
	json_decref(a);
	json_decref(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_and_dispatch),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_labels_identities),
		cmocka_unit_test(test_tcp_flags_direction),
		cmocka_unit_test(test_namespaces),
		cmocka_unit_test(test_conflicts),
		cmocka_unit_test(test_raw_and_yaml),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
