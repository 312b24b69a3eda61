/* SPDX-License-Identifier: MIT */
/*
 * The TUN interface as the kernel reports it: up or down, its MTU, and
 * whether it still exists, wherever it lives.  The interface may be moved
 * to another network namespace (a container given the tunnel as its only
 * way out) while the UDP sockets and the UAPI socket stay in ours; the
 * watch then follows it there.
 */
#ifndef VPND_IFACE_H
#define VPND_IFACE_H

#include <ev.h>
#include <net/if.h>
#include <stdbool.h>
#include <sys/types.h>

struct device;
struct mnl_socket;

struct iface_watch {
	struct mnl_socket *nl;		/* link events, in the interface's netns */
	int ioctl_fd;			/* SIOCGIF* queries, same netns */
	int home_netns;			/* ours: where the UDP sockets live */
	ino_t netns_ino;		/* the netns the two above belong to */
	char name[IFNAMSIZ];		/* the interface's name over there */
	bool away;			/* not in our own netns */
	ev_io w;
};

/* Opens the watch in our own namespace, on dev->ifname and dev->ifindex. */
int iface_watch_start(struct device *dev);
void iface_watch_stop(struct device *dev);

/*
 * Checks where the interface is now and catches up with what events may
 * have missed (up or down, MTU).  Returns false once the interface has
 * been deleted, or when it cannot be followed safely.
 */
bool iface_sync(struct device *dev);

#endif /* VPND_IFACE_H */
