/* SPDX-License-Identifier: Apache-2.0 */
/* util.c - see util.h. */
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sluice/abi.h"

extern char **environ;

static char *vstrdupf(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	return s;
}

char *sl_strdupf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = vstrdupf(fmt, ap);
	va_end(ap);
	return s;
}

void *sl_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		abort();
	return p;
}

void *sl_xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		abort();
	return p;
}

char *sl_xstrdup(const char *s)
{
	char *d = strdup(s ? s : "");

	if (!d)
		abort();
	return d;
}

int sl_fail(char **err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		free(*err);
		va_start(ap, fmt);
		*err = vstrdupf(fmt, ap);
		va_end(ap);
	}
	/* never "success with a message": a caller passing errno that
	 * happens to be 0 still reports a failure */
	if (!code)
		return -EIO;
	return code > 0 ? -code : code;
}

static int run(char **err, const char *const argv[], bool quiet)
{
	posix_spawn_file_actions_t fa;
	char tmpl[] = "/tmp/sluice-run-XXXXXX";
	int fd = mkstemp(tmpl), status = 0, rc;
	pid_t pid;

	if (fd < 0)
		return sl_fail(err, errno, "mkstemp: %s", strerror(errno));
	unlink(tmpl);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, 2);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc) {
		close(fd);
		return quiet ? -rc : sl_fail(err, rc, "cannot run %s: %s", argv[0], strerror(rc));
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		close(fd);
		return 0;
	}
	if (!quiet) {
		char buf[512] = "";
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

		if (n > 0) {
			buf[n] = 0;
			while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
				buf[--n] = 0;
		}
		sl_fail(err, EIO, "%s %s %s failed: %s", argv[0], argv[1] ? argv[1] : "",
			argv[1] && argv[2] ? argv[2] : "", buf[0] ? buf : "(no message)");
	}
	close(fd);
	return -EIO;
}

int sl_run(char **err, const char *const argv[])
{
	return run(err, argv, false);
}

void sl_run_quiet(const char *const argv[])
{
	run(NULL, argv, true);
}

int sl_write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(text);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	if (n < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	close(fd);
	return (size_t)n == len ? 0 : -EIO;
}

int sl_read_file(const char *path, size_t max, char **out, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	size_t cap = 4096, n = 0;
	char *buf;

	if (!f)
		return -errno;
	buf = malloc(cap + 1);
	if (!buf)
		abort();
	for (;;) {
		size_t r;

		if (n == cap) {
			if (cap >= max) {
				if (f != stdin)
					fclose(f);
				free(buf);
				return -EFBIG;
			}
			cap *= 2;
			buf = realloc(buf, cap + 1);
			if (!buf)
				abort();
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (f != stdin)
		fclose(f);
	buf[n] = 0;
	*out = buf;
	if (len)
		*len = n;
	return 0;
}

void sl_addr_from_ipv4(uint8_t out[16], uint32_t ip)
{
	memset(out, 0, 16);
	out[10] = 0xff;
	out[11] = 0xff;
	out[12] = ip >> 24;
	out[13] = ip >> 16;
	out[14] = ip >> 8;
	out[15] = ip;
}

bool sl_ipv4_loopback(uint32_t ip)
{
	return ip >> 24 == 127;
}

void sl_sock_key_v4(struct sluice_sock_key *k, uint32_t local_ip, uint16_t local_port,
		    uint32_t remote_ip, uint16_t remote_port, uint64_t netns_cookie)
{
	memset(k, 0, sizeof(*k));
	sl_addr_from_ipv4(k->local_addr, local_ip);
	sl_addr_from_ipv4(k->remote_addr, remote_ip);
	k->local_port = local_port;
	k->remote_port = remote_port;
	if (sl_ipv4_loopback(local_ip) || sl_ipv4_loopback(remote_ip))
		k->netns_cookie = netns_cookie;
}

bool sl_addr_is_ipv4(const uint8_t a[16])
{
	static const uint8_t pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a, pfx, 12) == 0;
}

uint32_t sl_addr_ipv4(const uint8_t a[16])
{
	return (uint32_t)a[12] << 24 | (uint32_t)a[13] << 16 | (uint32_t)a[14] << 8 | a[15];
}

const char *sl_addr_str(const uint8_t a[16], char *buf, size_t len)
{
	if (sl_addr_is_ipv4(a))
		inet_ntop(AF_INET, a + 12, buf, len);
	else
		inet_ntop(AF_INET6, a, buf, len);
	return buf;
}

int sl_parse_cidr4(const char *s, uint32_t *net, unsigned *prefixlen)
{
	char tmp[64];
	char *slash, *end;
	struct in_addr in;
	unsigned long p;

	if (strlen(s) >= sizeof(tmp))
		return -EINVAL;
	strcpy(tmp, s);
	slash = strchr(tmp, '/');
	if (!slash)
		return -EINVAL;
	*slash = 0;
	if (inet_pton(AF_INET, tmp, &in) != 1)
		return -EINVAL;
	errno = 0;
	p = strtoul(slash + 1, &end, 10);
	if (errno || *end || end == slash + 1 || p > 32)
		return -EINVAL;
	*prefixlen = p;
	*net = ntohl(in.s_addr) & (p ? ~0u << (32 - p) : 0);
	return 0;
}

bool sl_is_policy_file(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && ((n > 5 && !strcmp(name + n - 5, ".yaml")) ||
				  (n > 4 && !strcmp(name + n - 4, ".yml")) ||
				  (n > 5 && !strcmp(name + n - 5, ".json")));
}

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

uint64_t sl_now_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

uint64_t sl_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t sl_mono_coarse_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC_COARSE);
}

void sl_strlcpy(char *dst, const char *src, size_t cap)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = 0;
}

int sl_unix_connect(const char *path, int type)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

int sl_sockets_in_netns(int netns_fd, int self_netns_fd, int domain, int type, int protocol,
			int *out, int n)
{
	int self = self_netns_fd, made = 0, e = 0;

	if (self < 0) {
		self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (self < 0)
			return -errno;
	}
	if (setns(netns_fd, CLONE_NEWNET) < 0) {
		e = -errno;
		if (self != self_netns_fd)
			close(self);
		return e;
	}
	while (made < n) {
		int fd = socket(domain, type, protocol);

		if (fd < 0) {
			e = -errno;
			break;
		}
		out[made++] = fd;
	}
	if (setns(self, CLONE_NEWNET) < 0) {
		perror("sluice: setns back to this thread's own network namespace");
		abort();
	}
	if (self != self_netns_fd)
		close(self);
	return made ? made : e;
}

int sl_socket_in_netns(int netns_fd, int self_netns_fd, int domain, int type, int protocol)
{
	int fd, r = sl_sockets_in_netns(netns_fd, self_netns_fd, domain, type, protocol, &fd, 1);

	return r < 0 ? r : fd;
}

int sl_parse_rfc3339(const char *s, uint64_t *ns)
{
	struct tm tm = { 0 };
	const char *p = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	uint64_t frac = 0, scale = 1000000000ull;
	long off = 0;
	time_t t;

	if (!p)
		return -EINVAL;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++)
			if (scale > 1) {
				scale /= 10;
				frac += (uint64_t)(*p - '0') * scale;
			}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int hh, mm;

		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2 || hh > 23 || mm > 59)
			return -EINVAL;
		off = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	t = timegm(&tm) - off;
	if (t < 0)
		return -EINVAL;
	*ns = (uint64_t)t * 1000000000ull + frac;
	return 0;
}

/*
 * The valid UTF-8 sequence at s, of at most left bytes (RFC 3629: no
 * overlong form, no surrogate, nothing above U+10FFFF): its length, and its
 * code point in *cp unless cp is NULL; 0 when s does not start one. A NUL
 * ends a sequence like any byte that is not a continuation, so a
 * NUL-terminated string may pass SIZE_MAX.
 */
size_t sl_utf8_decode(const unsigned char *s, size_t left, uint32_t *cp)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	uint32_t v;
	size_t n, i;

	if (c < 0x80) {
		n = 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 0;
	}
	if (left < n || (n > 1 && (s[1] < lo || s[1] > hi)))
		return 0;
	v = n == 1 ? c : c & (0x7fu >> n);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	if (cp)
		*cp = v;
	return n;
}

int sl_u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}
