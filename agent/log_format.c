/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log_format.c - JSON log lines for sluiced's stderr (see log_format.h).
 *
 * Every message of the agent is an fprintf(stderr, ...), so rather than
 * touching each one, stderr becomes a pipe to a small child process that
 * reads lines and writes them out as JSON on the original stderr. The child
 * holds no agent state and exits when the pipe closes, i.e. when the agent
 * exits, however it exits, after writing what was left: no line is lost and
 * no thread or global is added to the agent.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "../common/util.h"
#include "log_format.h"

static void json_escape(FILE *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
}

static const char *level_of(const char *msg)
{
	if (strstr(msg, "error") || strstr(msg, "cannot") || strstr(msg, "failed") ||
	    strstr(msg, "No such") || strstr(msg, "denied") || strstr(msg, "invalid"))
		return "error";
	if (strstr(msg, "warning") || strstr(msg, "retrying"))
		return "warning";
	return "info";
}

static void emit(FILE *out, const char *line)
{
	struct timespec ts;
	struct tm tm;
	char when[32];
	const char *msg = line;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	if (!strncmp(msg, "sluiced: ", 9))
		msg += 9;
	fprintf(out, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"component\":\"sluiced\",\"msg\":\"",
		when, ts.tv_nsec / 1000000, level_of(msg));
	json_escape(out, msg);
	fputs("\"}\n", out);
	fflush(out);
}

static void formatter(int in, int outfd)
{
	FILE *fin = fdopen(in, "r"), *out = fdopen(outfd, "w");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!fin || !out)
		_exit(1);
	while ((n = getline(&line, &cap, fin)) >= 0) {
		if (n && line[n - 1] == '\n')
			line[n - 1] = 0;
		emit(out, line);
	}
	_exit(0);
}

int log_format_start(const char *format, char **err)
{
	int p[2], orig;
	pid_t pid;

	if (!format || !strcmp(format, "text"))
		return 0;
	if (strcmp(format, "json"))
		return sl_fail(err, EINVAL, "--log-format %s: want text or json", format);
	if (pipe2(p, O_CLOEXEC))
		return sl_fail(err, errno, "--log-format: pipe: %s", strerror(errno));
	orig = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (orig < 0) {
		close(p[0]);
		close(p[1]);
		return sl_fail(err, errno, "--log-format: dup: %s", strerror(errno));
	}
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		close(orig);
		return sl_fail(err, errno, "--log-format: fork: %s", strerror(errno));
	}
	if (pid == 0) {
		/* the formatter: ignores the signals meant for the agent and
		 * lives until the agent's end of the pipe closes */
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		prctl(PR_SET_NAME, "sluiced-log");
		close(p[1]);
		formatter(p[0], orig);
	}
	close(p[0]);
	close(orig);
	if (dup2(p[1], STDERR_FILENO) < 0)
		return sl_fail(err, errno, "--log-format: dup2: %s", strerror(errno));
	close(p[1]);
	return 0;
}
