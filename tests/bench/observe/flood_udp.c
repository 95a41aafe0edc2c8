/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flood_udp.c - the observe benchmark's load: COUNT one-byte UDP datagrams
 * to DST, each a new flow (its own source socket and destination port), at
 * RATE per second, for at most SECONDS. Run inside a pod (`sluice pod exec`).
 *
 * Why C and sendmmsg: the Python flood (tests/tools/flood.py) spends
 * about 10 µs of interpreter per datagram and offered 14k-25k flows/s on
 * this 2-vCPU machine, far below the 100k/s the pipeline must be shown to
 * carry. Here one sendmmsg() carries a burst of BURST datagrams, each to
 * the next destination port, so the sender's own cost is the kernel's per
 * packet (veth, tc) and little else.
 *
 * New flows: flow k goes from socket (k / PORTS) % SOCKETS to destination
 * port 1024 + k % PORTS, so a tuple comes back only after SOCKETS * PORTS
 * flows (516,096 with 8 sockets): more than the datapath's one-second drop
 * aggregation at any rate this machine can offer, so every datagram is a
 * new drop event.
 *
 * Pacing: bursts are sent when the wall clock says they are due; a sender
 * that falls behind catches up at full speed (no sleep) and says so in its
 * "achieved" rate, it never silently offers less. A full socket buffer
 * (EAGAIN) is waited out with poll(), so every datagram is handed to the
 * kernel: "sent" is what the datapath was offered.
 *
 * Prints one line: sent=N seconds=S rate=R (achieved datagrams/s) cpu=C
 * (its own user+system seconds: the datapath's per-packet work runs in the
 * sender's system time, so this is what offering the load cost).
 *
 * usage: flood_udp DST_IPV4 COUNT RATE [SECONDS] [SOCKETS]
 *        RATE 0 = as fast as possible; SECONDS default 60; SOCKETS default 8
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BURST 64
#define PORTS 64512u /* 1024 .. 65535 */
#define MAX_SOCKETS 64

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct sockaddr_in dst[BURST];
	struct mmsghdr msgs[BURST];
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };
	int socks[MAX_SOCKETS], nsocks = 8, i;
	unsigned long long count, sent = 0;
	double rate, limit = 60, t0, deadline, t;

	if (argc < 4) {
		fprintf(stderr, "usage: flood_udp DST_IPV4 COUNT RATE [SECONDS] [SOCKETS]\n");
		return 2;
	}
	count = strtoull(argv[2], NULL, 10);
	rate = strtod(argv[3], NULL);
	if (argc > 4)
		limit = strtod(argv[4], NULL);
	if (argc > 5)
		nsocks = atoi(argv[5]);
	if (nsocks < 1 || nsocks > MAX_SOCKETS || limit <= 0 || rate < 0) {
		fprintf(stderr, "flood_udp: bad SECONDS, RATE or SOCKETS (1-%d)\n", MAX_SOCKETS);
		return 2;
	}
	memset(dst, 0, sizeof(dst));
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < BURST; i++) {
		dst[i].sin_family = AF_INET;
		if (inet_pton(AF_INET, argv[1], &dst[i].sin_addr) != 1) {
			fprintf(stderr, "flood_udp: bad IPv4 address %s\n", argv[1]);
			return 2;
		}
		msgs[i].msg_hdr.msg_name = &dst[i];
		msgs[i].msg_hdr.msg_namelen = sizeof(dst[i]);
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	for (i = 0; i < nsocks; i++) {
		struct sockaddr_in any = { .sin_family = AF_INET };

		socks[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		/* bound now, so each socket has its own source port from the start */
		if (socks[i] < 0 || bind(socks[i], (struct sockaddr *)&any, sizeof(any))) {
			perror("flood_udp: socket");
			return 1;
		}
	}
	t0 = now_s();
	deadline = t0 + limit;
	for (t = t0; sent < count && t < deadline; t = now_s()) {
		unsigned long long due = rate > 0 ? (unsigned long long)((t - t0) * rate) + 1 : count;
		unsigned n = 0, k;
		int s, rc;

		if (due > count)
			due = count;
		if (sent >= due) {
			/* ahead of the schedule: sleep until the next datagram is due */
			double wait = (double)(sent + 1) / rate - (t - t0);
			struct timespec ts = { 0, (long)(wait * 1e9) };

			if (wait > 0)
				nanosleep(&ts, NULL);
			continue;
		}
		/* one burst: consecutive flows on the same socket */
		s = socks[(sent / PORTS) % (unsigned)nsocks];
		while (n < BURST && sent + n < due && (sent + n) / PORTS == sent / PORTS) {
			k = (unsigned)((sent + n) % PORTS);
			dst[n].sin_port = htons((uint16_t)(1024 + k));
			n++;
		}
		rc = sendmmsg(s, msgs, n, 0);
		if (rc < 0) {
			if (errno == EAGAIN || errno == ENOBUFS) {
				struct pollfd p = { .fd = s, .events = POLLOUT };

				poll(&p, 1, 10);
				continue;
			}
			if (errno == EINTR)
				continue;
			/* a denied destination may answer with ICMP errors that
			 * surface as ECONNREFUSED on a later send: not a failure */
			if (errno == ECONNREFUSED || errno == EPERM)
				continue;
			perror("flood_udp: sendmmsg");
			return 1;
		}
		sent += (unsigned long long)rc;
	}
	t = now_s() - t0;
	{
		struct rusage ru;

		getrusage(RUSAGE_SELF, &ru);
		printf("sent=%llu seconds=%.3f rate=%.0f cpu=%.3f\n", sent, t, t > 0 ? (double)sent / t : 0.0,
		       (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
			       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	}
	for (i = 0; i < nsocks; i++)
		close(socks[i]);
	return 0;
}
