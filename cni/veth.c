/* SPDX-License-Identifier: Apache-2.0 */
/*
 * veth.c - finds the host side of a pod's veth: the pod-side interface's
 * peer index (IFLA_LINK, read inside the pod's netns), then the device of
 * that index here whose own peer is the pod's interface. rtnetlink, not
 * sysfs: /sys shows the netns it was mounted in, not the current one.
 */
#include "veth.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "../common/util.h"

struct link_info {
	int ifindex;
	int peer;           /* IFLA_LINK, 0 if none */
	char name[IF_NAMESIZE];
	char kind[32];      /* IFLA_INFO_KIND */
};

/* RTM_GETLINK for one device, by name (ifindex 0) or by index, asked in
 * the netns behind netns_fd (-1: this thread's) */
static int get_link(int netns_fd, const char *name, int ifindex, struct link_info *out)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
		char attrs[64];
	} req;
	char buf[16384];
	struct timeval tv = { .tv_sec = 2 };
	struct nlmsghdr *nh;
	struct rtattr *rta;
	ssize_t n;
	int fd, rc = -ENODEV, len;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	req.nh.nlmsg_type = RTM_GETLINK;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = 1;
	req.ifi.ifi_family = AF_UNSPEC;
	req.ifi.ifi_index = ifindex;
	if (name) {
		size_t l = strlen(name) + 1;

		if (l > IF_NAMESIZE)
			return -EINVAL;
		rta = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.nh.nlmsg_len));
		rta->rta_type = IFLA_IFNAME;
		rta->rta_len = (unsigned short)RTA_LENGTH(l);
		memcpy(RTA_DATA(rta), name, l);
		req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
	}
	/* a netlink socket answers for the netns it was made in */
	fd = netns_fd < 0 ? socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)
			  : sl_socket_in_netns(netns_fd, -1, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
					       NETLINK_ROUTE);
	if (fd < 0)
		return netns_fd < 0 ? -errno : fd;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send(fd, &req, req.nh.nlmsg_len, 0) < 0) {
		rc = -errno;
		goto out;
	}
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		rc = -errno;
		goto out;
	}
	for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (unsigned)n); nh = NLMSG_NEXT(nh, n)) {
		struct ifinfomsg *ifi;

		if (nh->nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr *e = NLMSG_DATA(nh);

			rc = e->error ? e->error : -ENODEV;
			break;
		}
		if (nh->nlmsg_type != RTM_NEWLINK)
			continue;
		ifi = NLMSG_DATA(nh);
		memset(out, 0, sizeof(*out));
		out->ifindex = ifi->ifi_index;
		len = (int)IFLA_PAYLOAD(nh);
		for (rta = IFLA_RTA(ifi); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
			if (rta->rta_type == IFLA_LINK)
				memcpy(&out->peer, RTA_DATA(rta), sizeof(int));
			else if (rta->rta_type == IFLA_IFNAME)
				snprintf(out->name, sizeof(out->name), "%s", (char *)RTA_DATA(rta));
			else if (rta->rta_type == IFLA_LINKINFO) {
				struct rtattr *in = RTA_DATA(rta);
				int ilen = (int)RTA_PAYLOAD(rta);

				for (; RTA_OK(in, ilen); in = RTA_NEXT(in, ilen))
					if (in->rta_type == IFLA_INFO_KIND)
						snprintf(out->kind, sizeof(out->kind), "%s",
							 (char *)RTA_DATA(in));
			}
		}
		rc = 0;
		break;
	}
out:
	close(fd);
	return rc;
}

int veth_host_peer(const char *netns_path, const char *ifname, char host_if[IF_NAMESIZE],
		   char **err)
{
	struct link_info pod, host;
	int target, rc;

	target = open(netns_path, O_RDONLY | O_CLOEXEC);
	if (target < 0)
		return sl_fail(err, errno, "cannot open netns %s: %s", netns_path, strerror(errno));
	rc = get_link(target, ifname, 0, &pod);
	if (rc) {
		rc = sl_fail(err, -rc, "no interface %s in netns %s: %s", ifname, netns_path,
			     strerror(-rc));
		goto out;
	}
	if (strcmp(pod.kind, "veth") || pod.peer <= 0) {
		rc = sl_fail(err, EOPNOTSUPP, "%s in netns %s is a %s, not a veth", ifname, netns_path,
			     pod.kind[0] ? pod.kind : "device of unknown kind");
		goto out;
	}
	rc = get_link(-1, NULL, pod.peer, &host);
	if (rc || strcmp(host.kind, "veth") || host.peer != pod.ifindex) {
		rc = sl_fail(err, ENODEV,
			     "the peer of %s (netns %s) is not a veth in this network namespace",
			     ifname, netns_path);
		goto out;
	}
	snprintf(host_if, IF_NAMESIZE, "%s", host.name);
	rc = 0;
out:
	close(target);
	return rc;
}
