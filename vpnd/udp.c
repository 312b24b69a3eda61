/* SPDX-License-Identifier: MIT */
/*
 * Binding the UDP sockets, and the control messages the data path sends
 * and receives with them.  Batching (recvmmsg/sendmmsg) lives with the
 * data path in send.c and receive.c.
 *
 * The sockets ask for UDP_GRO: a burst from one peer may then arrive as
 * one buffer of equal-sized datagrams (the last may be shorter), which
 * receive.c takes apart again.  VPND_NO_OFFLOAD=1 leaves it off.
 */
#include <errno.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "udp.h"

enum {
	UDP_SOCKET_BUFFER = 4 << 20,
	UDP_BIND_TRIES = 16,
};

int udp_set_mark(int fd, uint32_t mark)
{
	if (fd < 0)
		return 0;
	return setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) ? -errno
									 : 0;
}

static int udp_socket(int family, uint16_t port, uint32_t fwmark)
{
	union endpoint a;
	int fd, one = 1, buf = UDP_SOCKET_BUFFER, ret;
	socklen_t len;

	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&a, 0, sizeof(a));
	if (family == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		/* Which of our addresses each datagram came to: see src. */
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
			   sizeof(one));
		a.sin6.sin6_family = AF_INET6;
		a.sin6.sin6_port = htons(port);
		len = sizeof(a.sin6);
	} else {
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
		a.sin.sin_family = AF_INET;
		a.sin.sin_port = htons(port);
		len = sizeof(a.sin);
	}
	/* Bigger buffers absorb bursts between two turns of the loop; the
	 * forcing variant works for root, the plain one caps elsewhere. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	/* An old kernel says no: datagrams then come one by one. */
	if (!getenv("VPND_NO_OFFLOAD"))
		setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one));
	if (fwmark && udp_set_mark(fd, fwmark)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if (bind(fd, &a.sa, len)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

static uint16_t bound_port(int fd)
{
	union endpoint a;
	socklen_t len = sizeof(a);

	if (getsockname(fd, &a.sa, &len))
		return 0;
	return ntohs(a.sa.sa_family == AF_INET6 ? a.sin6.sin6_port
						 : a.sin.sin_port);
}

int udp_open(uint16_t port, uint32_t fwmark, int *fd4, int *fd6,
	     uint16_t *actual)
{
	int tries, a, b;

	for (tries = 0; tries < UDP_BIND_TRIES; tries++) {
		a = udp_socket(AF_INET, port, fwmark);
		if (a < 0 && a != -EAFNOSUPPORT)
			return a;
		b = udp_socket(AF_INET6, a >= 0 ? bound_port(a) : port, fwmark);
		if (b == -EADDRINUSE && port == 0 && a >= 0) {
			/* The random IPv4 port is taken in IPv6: draw again. */
			close(a);
			continue;
		}
		if (b < 0 && b != -EAFNOSUPPORT) {
			if (a >= 0)
				close(a);
			return b;
		}
		if (a < 0 && b < 0)
			return -EAFNOSUPPORT;
		*fd4 = a;
		*fd6 = b;
		*actual = bound_port(a >= 0 ? a : b);
		return 0;
	}
	return -EADDRINUSE;
}

void udp_local_from_cmsg(struct msghdr *mh, struct endpoint_src *local)
{
	struct cmsghdr *cm;

	memset(local, 0, sizeof(*local));
	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			local->family = AF_INET;
			local->addr.v4 = pi.ipi_addr;
			local->ifindex = pi.ipi_ifindex;
		} else if (cm->cmsg_level == IPPROTO_IPV6 &&
			   cm->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			local->family = AF_INET6;
			local->addr.v6 = pi.ipi6_addr;
			local->ifindex = (int)pi.ipi6_ifindex;
		}
	}
}

size_t udp_gro_from_cmsg(struct msghdr *mh)
{
	struct cmsghdr *cm;
	int size;

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_UDP || cm->cmsg_type != UDP_GRO ||
		    cm->cmsg_len < CMSG_LEN(sizeof(size)))
			continue;
		memcpy(&size, CMSG_DATA(cm), sizeof(size));
		return size > 0 ? (size_t)size : 0;
	}
	return 0;
}

size_t udp_gso_to_cmsg(void *buf, size_t used, size_t len, uint16_t size)
{
	struct cmsghdr *cm = (struct cmsghdr *)((uint8_t *)buf + used);

	/* used is a whole number of CMSG_SPACE()s, so cm is aligned. */
	if (used + CMSG_SPACE(sizeof(size)) > len)
		return 0;
	memset(cm, 0, CMSG_SPACE(sizeof(size)));
	cm->cmsg_level = SOL_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof(size));
	memcpy(CMSG_DATA(cm), &size, sizeof(size));
	return used + CMSG_SPACE(sizeof(size));
}

bool udp_gso_supported(int fd)
{
	int size;
	socklen_t len = sizeof(size);

	return !getsockopt(fd, SOL_UDP, UDP_SEGMENT, &size, &len);
}

bool udp_backlog_high(int fd, unsigned int share)
{
	uint32_t mem[SK_MEMINFO_VARS];
	socklen_t len = sizeof(mem);

	/* rmem_alloc counts each queued datagram's whole buffer, which is
	 * what the receive buffer's size limits too. */
	if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) ||
	    len < (SK_MEMINFO_RCVBUF + 1) * sizeof(mem[0]))
		return false;
	return (uint64_t)mem[SK_MEMINFO_RMEM_ALLOC] * share >=
	       mem[SK_MEMINFO_RCVBUF];
}

size_t udp_local_to_cmsg(const struct endpoint_src *local, void *buf,
			 size_t len)
{
	struct msghdr mh = { .msg_control = buf, .msg_controllen = len };
	struct cmsghdr *cm;

	if (!local || !local->family)
		return 0;
	memset(buf, 0, len);
	cm = CMSG_FIRSTHDR(&mh);
	if (local->family == AF_INET) {
		struct in_pktinfo pi = { .ipi_spec_dst = local->addr.v4 };

		/* The interface stays the route's choice: only the address
		 * is pinned, which is what the other side checks. */
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	}
	struct in6_pktinfo pi6 = { .ipi6_addr = local->addr.v6 };

	/* A link-local address means nothing without its interface. */
	if (IN6_IS_ADDR_LINKLOCAL(&local->addr.v6))
		pi6.ipi6_ifindex = (unsigned int)local->ifindex;
	cm->cmsg_level = IPPROTO_IPV6;
	cm->cmsg_type = IPV6_PKTINFO;
	cm->cmsg_len = CMSG_LEN(sizeof(pi6));
	memcpy(CMSG_DATA(cm), &pi6, sizeof(pi6));
	return CMSG_SPACE(sizeof(pi6));
}

void udp_close(int *fd4, int *fd6)
{
	if (*fd4 >= 0)
		close(*fd4);
	if (*fd6 >= 0)
		close(*fd6);
	*fd4 = *fd6 = -1;
}
