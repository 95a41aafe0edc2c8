/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent_link.c - the plugin's calls to the agent (one JSON request line,
 * one JSON answer line, as the CLI does: agent/api.c) with a deadline, and
 * the delete queue for when the agent is down.
 */
#include "agent_link.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "../common/util.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int agent_connect(const char *socket_path)
{
	return sl_unix_connect(socket_path, SOCK_STREAM);
}

int agent_call(const char *socket_path, json_t *req, int timeout_ms, json_t **res)
{
	int64_t deadline = now_ms() + timeout_ms;
	char *text = json_dumps(req, JSON_COMPACT), *buf = NULL;
	size_t len = 0, cap = 0, off = 0;
	int fd, rc = 0;

	*res = NULL;
	if (!text)
		return -ENOMEM;
	fd = agent_connect(socket_path);
	if (fd < 0) {
		free(text);
		return fd;
	}
	len = strlen(text);
	text[len] = '\n'; /* replaces the NUL; not sent as a string */
	while (off < len + 1) {
		ssize_t n = send(fd, text + off, len + 1 - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		off += (size_t)n;
	}
	len = 0;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		char *nl;
		ssize_t n;

		if (left <= 0) {
			rc = -ETIMEDOUT;
			break;
		}
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = -ECONNRESET;
			break;
		}
		len += (size_t)n;
		buf[len] = 0;
		nl = strchr(buf, '\n');
		if (nl) {
			*nl = 0;
			*res = json_loads(buf, 0, NULL);
			rc = *res ? 0 : -EBADMSG;
			break;
		}
	}
out:
	close(fd);
	free(text);
	free(buf);
	return rc;
}

char *queue_dir_for(const char *socket_path)
{
	const char *slash = strrchr(socket_path, '/');

	if (!slash)
		return sl_strdupf("./%s", SLUICE_CNI_QUEUE_NAME);
	return sl_strdupf("%.*s/%s", (int)(slash - socket_path), socket_path, SLUICE_CNI_QUEUE_NAME);
}

static size_t queue_count(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0, len;

	while (d && (de = readdir(d))) {
		len = strlen(de->d_name);
		n += len > 7 && !strcmp(de->d_name + len - 7, ".delete");
	}
	if (d)
		closedir(d);
	return n;
}

/*
 * See agent/cni.c (agent_cni_drain_queue) for why the lock is held while
 * the agent is tried once more: a deletion is either answered by an agent
 * or queued before an agent that starts meanwhile drains the queue.
 */
int queue_delete(const char *socket_path, const char *container_id, const char *ifname,
		 json_t *detach_req, bool *answered, char **err)
{
	char *dir = queue_dir_for(socket_path), *lock = sl_strdupf("%s/lock", dir);
	char *name, *tmp, key[256];
	uint32_t h = 2166136261u;
	const char *c;
	json_t *res = NULL, *entry;
	int fd = -1, i, rc = 0;

	/* a file name fits NAME_MAX whatever the id's length (the spec sets
	 * none): a long id is cut and a hash of the whole added; the file's
	 * content names the attachment */
	for (c = container_id; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	if (strlen(container_id) > 160)
		snprintf(key, sizeof(key), "%.160s-%08x.%s", container_id, h, ifname);
	else
		snprintf(key, sizeof(key), "%s.%s", container_id, ifname);
	name = sl_strdupf("%s/%s.delete", dir, key);
	tmp = sl_strdupf("%s/.%s.tmp", dir, key);
	*answered = false;
	if (mkdir(dir, 0700) && errno != EEXIST) {
		rc = sl_fail(err, errno, "cannot create %s: %s", dir, strerror(errno));
		goto out;
	}
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = sl_fail(err, errno, "cannot open %s: %s", lock, strerror(errno));
		goto out;
	}
	for (i = 0; i < 100 && flock(fd, LOCK_SH | LOCK_NB); i++)
		usleep(50000);
	if (i == 100) {
		rc = sl_fail(err, EAGAIN, "%s is held by a draining agent", lock);
		goto out;
	}
	if (!agent_call(socket_path, detach_req, 10000, &res)) {
		*answered = true;
		goto out;
	}
	if (queue_count(dir) >= SLUICE_CNI_QUEUE_MAX) {
		rc = sl_fail(err, ENOSPC, "the delete queue %s is full (%d entries)", dir,
			     SLUICE_CNI_QUEUE_MAX);
		goto out;
	}
	entry = json_pack("{s:s,s:s,s:I}", "containerID", container_id, "ifname", ifname, "time",
			  (json_int_t)time(NULL));
	if (json_dump_file(entry, tmp, JSON_COMPACT) || rename(tmp, name)) {
		rc = sl_fail(err, errno ?: EIO, "cannot write %s: %s", name, strerror(errno ?: EIO));
		unlink(tmp);
	}
	json_decref(entry);
out:
	json_decref(res);
	if (fd >= 0) {
		flock(fd, LOCK_UN);
		close(fd);
	}
	free(dir);
	free(lock);
	free(name);
	free(tmp);
	return rc;
}
