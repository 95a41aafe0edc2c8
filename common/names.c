/* SPDX-License-Identifier: Apache-2.0 */
/* names.c - see names.h. The rules are Kubernetes' (apimachinery's
 * validation package): same alphabets, same lengths, same wording. */
#include "names.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

#define DNS1123_LABEL_MAX 63
#define DNS1123_SUBDOMAIN_MAX 253
#define LABEL_NAME_MAX 63
#define LABEL_VALUE_MAX 63

const char *sl_escape_ctl(const char *s, char *buf, size_t len)
{
	return sl_escape_ctl_n(s, s ? strlen(s) : 0, buf, len);
}

const char *sl_escape_ctl_n(const char *s, size_t slen, char *buf, size_t len)
{
	const char *end;
	size_t n = 0;

	if (!len)
		return buf;
	if (!s)
		s = "", slen = 0;
	end = s + slen;
	for (; s < end && *s && n + 5 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\n') {
			buf[n++] = '\\';
			buf[n++] = 'n';
		} else if (c == '\t') {
			buf[n++] = '\\';
			buf[n++] = 't';
		} else if (c == '\r') {
			buf[n++] = '\\';
			buf[n++] = 'r';
		} else if (c == '\\') {
			buf[n++] = '\\';
			buf[n++] = '\\';
		} else if (c < 0x20 || c == 0x7f) {
			n += (size_t)snprintf(buf + n, len - n, "\\x%02x", c);
		} else {
			buf[n++] = (char)c;
		}
	}
	if (s < end && *s && n + 4 <= len) { /* cut: say so */
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = 0;
	return buf;
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? over s[0..n) */
static bool dns_label_ok(const char *s, size_t n)
{
	size_t i;

	if (!n || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	for (i = 1; i + 1 < n; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

/* dot-separated DNS labels over s[0..n) */
static bool dns_subdomain_ok(const char *s, size_t n)
{
	size_t start = 0, i;

	for (i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (!dns_label_ok(s + start, i - start))
				return false;
			start = i + 1;
		}
	}
	return n > 0;
}

/* [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])? over s[0..n) */
static bool label_name_ok(const char *s, size_t n)
{
	size_t i;

	if (!n || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (i = 1; i + 1 < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

#define SHOW(s) sl_escape_ctl((s), shown, sizeof(shown))

int sl_check_namespace(const char *ns, char **err)
{
	char shown[400];
	size_t n = ns ? strlen(ns) : 0;

	if (!n)
		return sl_fail(err, EINVAL, "namespace: must not be empty");
	if (n > DNS1123_LABEL_MAX)
		return sl_fail(err, EINVAL, "namespace \"%s\": must be no more than 63 characters (has %zu)",
			       SHOW(ns), n);
	if (!dns_label_ok(ns, n))
		return sl_fail(err, EINVAL,
			       "namespace \"%s\": a lowercase RFC 1123 label must consist of lower case "
			       "alphanumeric characters or '-', and must start and end with an alphanumeric "
			       "character (regex '[a-z0-9]([-a-z0-9]*[a-z0-9])?')", SHOW(ns));
	return 0;
}

int sl_check_pod_name(const char *name, char **err)
{
	char shown[400];
	size_t n = name ? strlen(name) : 0;

	if (!n)
		return sl_fail(err, EINVAL, "pod name: must not be empty");
	if (n > DNS1123_SUBDOMAIN_MAX)
		return sl_fail(err, EINVAL, "pod name \"%s\": must be no more than 253 characters (has %zu)",
			       SHOW(name), n);
	if (!dns_subdomain_ok(name, n))
		return sl_fail(err, EINVAL,
			       "pod name \"%s\": a lowercase RFC 1123 subdomain must consist of lower case "
			       "alphanumeric characters, '-' or '.', and must start and end with an "
			       "alphanumeric character (regex "
			       "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')", SHOW(name));
	return 0;
}

int sl_check_label_key(const char *key, char **err)
{
	char shown[400];
	const char *slash, *name, *colon;
	size_t n = key ? strlen(key) : 0, pn;

	if (!n)
		return sl_fail(err, EINVAL, "label key: must not be empty");
	slash = strchr(key, '/');
	name = slash ? slash + 1 : key;
	pn = slash ? (size_t)(slash - key) : 0;
	colon = strchr(key, ':');
	if (colon && (!slash || colon < slash))
		return sl_fail(err, EINVAL,
			       "label key \"%s\": sources such as \"reserved:\" or \"k8s:\" are set by sluice, "
			       "not by users; give the key alone (':' is not allowed in a label key)", SHOW(key));
	if (slash) {
		if (!pn)
			return sl_fail(err, EINVAL, "label key \"%s\": prefix part must not be empty", SHOW(key));
		if (pn > DNS1123_SUBDOMAIN_MAX)
			return sl_fail(err, EINVAL,
				       "label key \"%s\": prefix part must be no more than 253 characters",
				       SHOW(key));
		if (!dns_subdomain_ok(key, pn))
			return sl_fail(err, EINVAL,
				       "label key \"%s\": prefix part must be a lowercase RFC 1123 subdomain "
				       "(lower case alphanumeric characters, '-' or '.', starting and ending "
				       "with an alphanumeric character)", SHOW(key));
	}
	if (!*name)
		return sl_fail(err, EINVAL, "label key \"%s\": name part must not be empty", SHOW(key));
	if (strlen(name) > LABEL_NAME_MAX)
		return sl_fail(err, EINVAL, "label key \"%s\": name part must be no more than 63 characters",
			       SHOW(key));
	if (!label_name_ok(name, strlen(name)))
		return sl_fail(err, EINVAL,
			       "label key \"%s\": name part must consist of alphanumeric characters, '-', "
			       "'_' or '.', and must start and end with an alphanumeric character (regex "
			       "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]', optional prefix 'example.com/')",
			       SHOW(key));
	return 0;
}

int sl_check_label_value(const char *key, const char *value, char **err)
{
	char shown[400], kshown[400];
	size_t n = value ? strlen(value) : 0;

	if (!n)
		return 0;
	if (n > LABEL_VALUE_MAX)
		return sl_fail(err, EINVAL, "label %s: value \"%s\": must be no more than 63 characters",
			       sl_escape_ctl(key, kshown, sizeof(kshown)), SHOW(value));
	if (!label_name_ok(value, n))
		return sl_fail(err, EINVAL,
			       "label %s: value \"%s\": a valid label value must be an empty string or "
			       "consist of alphanumeric characters, '-', '_' or '.', and must start and end "
			       "with an alphanumeric character (regex '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
			       sl_escape_ctl(key, kshown, sizeof(kshown)), SHOW(value));
	return 0;
}

int sl_check_service_name(const char *name, char **err)
{
	char shown[400];
	size_t n = name ? strlen(name) : 0;

	if (!n)
		return sl_fail(err, EINVAL, "service name: must not be empty");
	if (n > DNS1123_LABEL_MAX)
		return sl_fail(err, EINVAL, "service name \"%s\": must be no more than 63 characters (has %zu)",
			       SHOW(name), n);
	if (!dns_label_ok(name, n) || !(name[0] >= 'a' && name[0] <= 'z'))
		return sl_fail(err, EINVAL,
			       "service name \"%s\": a DNS-1035 label must consist of lower case "
			       "alphanumeric characters or '-', start with an alphabetic character, and end "
			       "with an alphanumeric character (regex '[a-z]([-a-z0-9]*[a-z0-9])?')",
			       SHOW(name));
	return 0;
}

int sl_check_port_name(const char *what, const char *name, char **err)
{
	char shown[400];
	size_t n = name ? strlen(name) : 0;

	if (n > DNS1123_LABEL_MAX || (n && !dns_label_ok(name, n)))
		return sl_fail(err, EINVAL,
			       "%s \"%s\": must be a lowercase RFC 1123 label of at most 63 characters "
			       "(regex '[a-z0-9]([-a-z0-9]*[a-z0-9])?')", what, SHOW(name));
	return 0;
}

int sl_check_target_port_name(const char *name, char **err)
{
	char shown[400];
	size_t n = name ? strlen(name) : 0, i;
	bool letter = false, ok = n > 0 && n <= 15 && name[0] != '-' && name[n - 1] != '-';

	for (i = 0; ok && i < n; i++) {
		if (name[i] >= 'a' && name[i] <= 'z')
			letter = true;
		else if (name[i] == '-')
			ok = i == 0 || name[i - 1] != '-';
		else if (!(name[i] >= '0' && name[i] <= '9'))
			ok = false;
	}
	if (!ok || !letter)
		return sl_fail(err, EINVAL,
			       "target port \"%s\": want a port number (1-65535) or a port name "
			       "(IANA_SVC_NAME: at most 15 characters of a-z, 0-9 and '-', with at least "
			       "one letter, no '-' at either end and no '--')", SHOW(name));
	return 0;
}
