// SPDX-License-Identifier: Apache-2.0
/*
 * test_config.c - kubeconfig and in-cluster configuration: good files give
 * the server, credentials and namespace (paths relative to the kubeconfig's
 * folder, *-data decoded); every missing or bad field is an error naming
 * the file, the line and the field; in-cluster config from the environment
 * and the ServiceAccount folder, IPv6 in brackets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "client.h"

static char dir[] = "/tmp/sluice-k8s-config-XXXXXX";

static char *path_in(const char *name)
{
	char *p = malloc(strlen(dir) + strlen(name) + 2);
	sprintf(p, "%s/%s", dir, name);
	return p;
}

static char *write_in(const char *name, const char *text)
{
	char *p = path_in(name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return p;
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	free(write_in("ca.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"));
	free(write_in("token", "  tok-from-file\n"));
	char *sub = path_in("sub");
	mkdir(sub, 0700);
	free(sub);
	free(write_in("sub/client.crt", "x"));
	free(write_in("sub/client.key", "x"));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* base64 of "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n" */
#define PEM_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClFVSkQKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="

static const char good[] =
	"apiVersion: v1\n"
	"kind: Config\n"
	"current-context: dev\n"
	"clusters:\n"
	"- name: other\n"
	"  cluster: {server: https://10.9.9.9}\n"
	"- name: local\n"
	"  cluster:\n"
	"    server: https://127.0.0.1:16443\n"
	"    certificate-authority: ca.crt\n"
	"contexts:\n"
	"- name: dev\n"
	"  context: {cluster: local, user: admin, namespace: team-a}\n"
	"- name: data\n"
	"  context: {cluster: datacl, user: certuser}\n"
	"- name: filetok\n"
	"  context: {cluster: local, user: fileuser}\n"
	"users:\n"
	"- name: admin\n"
	"  user: {token: s3cret}\n"
	"- name: fileuser\n"
	"  user: {tokenFile: token}\n"
	"- name: certuser\n"
	"  user:\n"
	"    client-certificate-data: " PEM_B64 "\n"
	"    client-key-data: " PEM_B64 "\n"
	"- name: certfiles\n"
	"  user: {client-certificate: sub/client.crt, client-key: sub/client.key}\n"
	"clusters_unused: 1\n";

static void test_good_current_context(void **state)
{
	(void)state;
	char *p = write_in("good.yaml", good);
	struct k8s_config c;
	char *err = NULL;
	assert_int_equal(k8s_config_from_kubeconfig(p, NULL, &c, &err), 0);
	assert_null(err);
	assert_string_equal(c.server, "https://127.0.0.1:16443");
	char *ca = path_in("ca.crt");
	assert_string_equal(c.ca_file, ca);
	free(ca);
	assert_string_equal(c.token, "s3cret");
	assert_null(c.token_file);
	assert_string_equal(c.namespace, "team-a");
	assert_false(c.insecure);
	k8s_config_free(&c);
	free(p);
}

static void test_good_other_contexts(void **state)
{
	(void)state;
	char *text = malloc(sizeof(good) + 256);
	sprintf(text, "%s%s", good,
		"extra: {}\n");
	/* a second cluster list entry the "data" context names, with data */
	char *g = write_in("good2.yaml",
			   "current-context: data\n"
			   "clusters:\n"
			   "- name: datacl\n"
			   "  cluster:\n"
			   "    server: https://[::1]:6443\n"
			   "    certificate-authority-data: " PEM_B64 "\n"
			   "    insecure-skip-tls-verify: true\n"
			   "- name: local\n"
			   "  cluster: {server: 'http://127.0.0.1:8080'}\n"
			   "contexts:\n"
			   "- {name: data, context: {cluster: datacl, user: certuser}}\n"
			   "- {name: filetok, context: {cluster: local, user: fileuser}}\n"
			   "- {name: files, context: {cluster: local, user: certfiles}}\n"
			   "users:\n"
			   "- name: certuser\n"
			   "  user:\n"
			   "    client-certificate-data: " PEM_B64 "\n"
			   "    client-key-data: " PEM_B64 "\n"
			   "- {name: fileuser, user: {tokenFile: token}}\n"
			   "- {name: certfiles, user: {client-certificate: sub/client.crt, client-key: sub/client.key}}\n");
	struct k8s_config c;
	char *err = NULL;
	assert_int_equal(k8s_config_from_kubeconfig(g, NULL, &c, &err), 0);
	assert_string_equal(c.server, "https://[::1]:6443");
	assert_non_null(strstr(c.ca_data, "-----BEGIN CERTIFICATE-----\nQUJD\n"));
	assert_non_null(strstr(c.cert_data, "-----BEGIN CERTIFICATE-----"));
	assert_non_null(c.key_data);
	assert_true(c.insecure);
	assert_string_equal(c.namespace, "default");
	k8s_config_free(&c);

	assert_int_equal(k8s_config_from_kubeconfig(g, "filetok", &c, &err), 0);
	char *tok = path_in("token");
	assert_string_equal(c.token_file, tok);
	free(tok);
	assert_null(c.token);
	assert_string_equal(c.server, "http://127.0.0.1:8080");
	k8s_config_free(&c);

	assert_int_equal(k8s_config_from_kubeconfig(g, "files", &c, &err), 0);
	char *crt = path_in("sub/client.crt");
	assert_string_equal(c.cert_file, crt);
	free(crt);
	k8s_config_free(&c);
	free(g);
	free(text);
}

/* Writes `text` and expects an error that names the file and `needles`. */
static void expect_bad(const char *text, const char *context, const char *n1, const char *n2)
{
	char *p = write_in("bad.yaml", text);
	struct k8s_config c;
	char *err = NULL;
	assert_true(k8s_config_from_kubeconfig(p, context, &c, &err) < 0);
	assert_non_null(err);
	if (!strstr(err, p) || (n1 && !strstr(err, n1)) || (n2 && !strstr(err, n2)))
		fail_msg("message \"%s\" lacks \"%s\" / \"%s\" / \"%s\"", err, p, n1 ? n1 : "",
			 n2 ? n2 : "");
	assert_null(c.server);
	free(err);
	free(p);
}

#define BASE_CLUSTER "clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\n"
#define BASE_CTX "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n"

static void test_bad_fields(void **state)
{
	(void)state;
	char *err = NULL;
	struct k8s_config c;
	assert_true(k8s_config_from_kubeconfig("/nonexistent/kubeconfig", NULL, &c, &err) < 0);
	assert_non_null(strstr(err, "/nonexistent/kubeconfig"));
	free(err);

	expect_bad("a: [1, 2\n", NULL, "line ", "not YAML");
	expect_bad("- 1\n- 2\n", NULL, "not a kubeconfig", NULL);
	expect_bad(BASE_CLUSTER "users: [{name: u, user: {token: t}}]\n"
		   "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
		   NULL, "current-context", "not set");
	expect_bad(BASE_CLUSTER BASE_CTX "users: [{name: u, user: {token: t}}]\n", "nope",
		   "contexts", "no entry named \"nope\"");
	expect_bad("clusters: [{name: c, cluster: {insecure-skip-tls-verify: true}}]\n" BASE_CTX
		   "users: [{name: u, user: {token: t}}]\n",
		   NULL, "line 1: clusters[\"c\"].cluster.server", "missing");
	expect_bad("clusters: [{name: c, cluster: {server: ftp://x}}]\n" BASE_CTX
		   "users: [{name: u, user: {token: t}}]\n",
		   NULL, "clusters[\"c\"].cluster.server", "https://");
	expect_bad(BASE_CTX "users: [{name: u, user: {token: t}}]\n", NULL, "clusters",
		   "no entry named \"c\"");
	expect_bad(BASE_CLUSTER BASE_CTX "users: [{name: other, user: {token: t}}]\n", NULL,
		   "users", "no entry named \"u\"");
	expect_bad(BASE_CLUSTER "    certificate-authority: missing.crt\n" BASE_CTX
		   "users: [{name: u, user: {token: t}}]\n",
		   NULL, "line 5: clusters[\"c\"].cluster.certificate-authority", "missing.crt");
	expect_bad(BASE_CLUSTER "    certificate-authority-data: '%%%notbase64'\n" BASE_CTX
		   "users: [{name: u, user: {token: t}}]\n",
		   NULL, "line 5: clusters[\"c\"].cluster.certificate-authority-data",
		   "not valid base64");
	expect_bad(BASE_CLUSTER "    certificate-authority-data: aGVsbG8=\n" BASE_CTX
		   "users: [{name: u, user: {token: t}}]\n",
		   NULL, "certificate-authority-data", "PEM");
	expect_bad(BASE_CLUSTER "    insecure-skip-tls-verify: maybe\n" BASE_CTX
		   "users: [{name: u, user: {token: t}}]\n",
		   NULL, "line 5: clusters[\"c\"].cluster.insecure-skip-tls-verify", "true or false");
	expect_bad(BASE_CLUSTER BASE_CTX "users:\n- name: u\n  user:\n    client-certificate-data: " PEM_B64
		   "\n",
		   NULL, "users[\"u\"].user.client-key", "missing");
	expect_bad(BASE_CLUSTER BASE_CTX "users:\n- name: u\n  user:\n    exec: {command: aws}\n", NULL,
		   "line 12: users[\"u\"].user.exec", "not supported");
	expect_bad(BASE_CLUSTER BASE_CTX "users:\n- name: u\n  user:\n    tokenFile: nofile\n", NULL,
		   "users[\"u\"].user.tokenFile", "nofile");
	expect_bad(BASE_CLUSTER BASE_CTX "users:\n- name: u\n  user:\n    token: [1]\n", NULL,
		   "users[\"u\"].user", "must be a string");
	expect_bad(BASE_CLUSTER "contexts:\n- name: x\n  context: {user: u}\ncurrent-context: x\n"
		   "users: [{name: u, user: {token: t}}]\n",
		   NULL, "contexts[\"x\"].context.cluster", "missing");
	expect_bad(BASE_CLUSTER BASE_CTX "users:\n- name: u\n", NULL, "users[\"u\"].user",
		   "missing or not a mapping");
}

static void test_in_cluster(void **state)
{
	(void)state;
	struct k8s_config c;
	char *err = NULL;
	char *sa = path_in("sa");
	mkdir(sa, 0700);
	free(write_in("sa/token", "abc\n"));
	free(write_in("sa/ca.crt", "x"));

	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	assert_true(k8s_config_in_cluster(sa, &c, &err) < 0);
	assert_non_null(strstr(err, "KUBERNETES_SERVICE_HOST"));

	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(k8s_config_in_cluster(sa, &c, &err), 0);
	assert_string_equal(c.server, "https://10.96.0.1:443");
	assert_non_null(strstr(c.token_file, "/sa/token"));
	assert_non_null(strstr(c.ca_file, "/sa/ca.crt"));
	assert_string_equal(c.namespace, "default");
	k8s_config_free(&c);

	free(write_in("sa/namespace", "kube-system\n"));
	setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
	assert_int_equal(k8s_config_in_cluster(sa, &c, &err), 0);
	assert_string_equal(c.server, "https://[fd00:10:96::1]:443");
	assert_string_equal(c.namespace, "kube-system");
	k8s_config_free(&c);

	char *tok = path_in("sa/token");
	unlink(tok);
	assert_true(k8s_config_in_cluster(sa, &c, &err) < 0);
	assert_non_null(strstr(err, tok));
	free(tok);
	free(err);
	free(sa);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_current_context),
		cmocka_unit_test(test_good_other_contexts),
		cmocka_unit_test(test_bad_fields),
		cmocka_unit_test(test_in_cluster),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
