/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netns.c - sockets made inside a pod's netns for the agent: the netns
 * cookie (what connect4 keys pods by) and the proxy's in-pod listener.
 * Both enter the netns with sl_socket_in_netns() (common/util.c).
 */
#include <errno.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "../common/util.h"
#include "internal.h"

int sluice_dp_netns_cookie(int netns_fd, uint64_t *out)
{
	socklen_t len = sizeof(*out);
	int fd = sl_socket_in_netns(netns_fd, -1, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), e = 0;

	if (fd < 0)
		return fd;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, out, &len) < 0)
		e = -errno;
	close(fd);
	return e;
}

int sluice_dp_proxy_listen_in_netns(int netns_fd, uint16_t port, int *out_fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = sl_socket_in_netns(netns_fd, -1, AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1, e = 0;

	if (fd < 0)
		return fd;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1024) < 0) {
		e = -errno;
		close(fd);
		return e;
	}
	*out_fd = fd;
	return 0;
}
