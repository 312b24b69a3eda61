/* SPDX-License-Identifier: MIT */
/*
 * Opening the TUN device and reading its MTU.  The descriptor is
 * non-blocking: the event loop reads it until it is empty.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tun.h"

int tun_open(const char *name, char actual[IFNAMSIZ], bool *offload)
{
	struct ifreq ifr;
	int fd, ret;
	unsigned int feat = 0;

	if (strlen(name) >= IFNAMSIZ || !*name)
		return -ENAMETOOLONG;
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	/* Ask for the virtio-net header only where offloads are wanted. */
	if (offload && *offload && !ioctl(fd, TUNGETFEATURES, &feat) &&
	    (feat & IFF_VNET_HDR))
		ifr.ifr_flags |= IFF_VNET_HDR;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	memcpy(actual, ifr.ifr_name, IFNAMSIZ);
	actual[IFNAMSIZ - 1] = '\0';
	if (offload)
		*offload = (ifr.ifr_flags & IFF_VNET_HDR) &&
			   !ioctl(fd, TUNSETOFFLOAD,
				  TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
	if (offload && !*offload && (ifr.ifr_flags & IFF_VNET_HDR)) {
		/* The header without the offloads is no use: start over. */
		close(fd);
		*offload = false;
		return tun_open(name, actual, offload);
	}
	return fd;
}

static int ifreq_ioctl(const char *name, unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (s < 0)
		return -errno;
	strncpy(ifr->ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(s, req, ifr) < 0)
		ret = -errno;
	close(s);
	return ret;
}

int tun_set_mtu(const char *name, unsigned int mtu)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_mtu = (int)mtu;
	return ifreq_ioctl(name, SIOCSIFMTU, &ifr);
}

int tun_get_mtu(const char *name)
{
	struct ifreq ifr;
	int ret;

	memset(&ifr, 0, sizeof(ifr));
	ret = ifreq_ioctl(name, SIOCGIFMTU, &ifr);
	return ret ? ret : ifr.ifr_mtu;
}
