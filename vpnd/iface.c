/* SPDX-License-Identifier: MIT */
/*
 * Following the TUN interface: the kernel's link events for it (up, down,
 * a new MTU, gone), and the interface itself when it is moved to another
 * network namespace.
 *
 * The kernel tells a namespace only about its own links, and a move looks
 * there just like a deletion (RTM_DELLINK).  The TUN descriptor tells the
 * two apart: it still answers TUNGETIFF after a move, and fails with
 * EBADFD once the interface is deleted.  TUNGETDEVNETNS then hands us the
 * interface's new namespace, where we open the event and query sockets
 * again (entering it only for the two socket() calls), so that up, down
 * and MTU changes made over there keep arriving at once.  The UDP sockets,
 * the UAPI socket and every later socket stay in our own namespace.
 *
 * The watcher runs at the loop's highest priority: a change the kernel
 * reported (a lower MTU) is applied before packets read in the same turn
 * of the loop are sealed.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "device.h"
#include "iface.h"

/* Where the interface is: its namespace and its name there. */
struct iface_place {
	int netns;			/* -1: unknown (an old kernel) */
	ino_t ino;
	char name[IFNAMSIZ];
};

static int netns_inode(int fd, ino_t *ino)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	*ino = st.st_ino;
	return 0;
}

/*
 * The event and query sockets, made in namespace netns (-1: the one we
 * are in).  -ENOTRECOVERABLE: we could not return to our own namespace,
 * and must not make another socket.
 */
static int sockets_open(const struct iface_watch *iw, int netns,
			struct mnl_socket **nl, int *qfd)
{
	int ret = 0;

	*nl = NULL;
	*qfd = -1;
	if (netns >= 0 && setns(netns, CLONE_NEWNET))
		return -errno;
	*nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!*nl || mnl_socket_bind(*nl, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0)
		ret = -errno;
	if (!ret) {
		*qfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (*qfd < 0)
			ret = -errno;
	}
	if (netns >= 0 && setns(iw->home_netns, CLONE_NEWNET))
		ret = -ENOTRECOVERABLE;
	if (ret) {
		if (*nl)
			mnl_socket_close(*nl);
		if (*qfd >= 0)
			close(*qfd);
		*nl = NULL;
		*qfd = -1;
	}
	return ret;
}

static int query(const struct iface_watch *iw, unsigned long req,
		 struct ifreq *ifr)
{
	memset(ifr, 0, sizeof(*ifr));
	memcpy(ifr->ifr_name, iw->name, IFNAMSIZ);
	return ioctl(iw->ioctl_fd, req, ifr) ? -errno : 0;
}

bool device_link_is_up(const struct device *dev)
{
	struct ifreq ifr;

	return !query(&dev->iface, SIOCGIFFLAGS, &ifr) &&
	       (ifr.ifr_flags & IFF_UP);
}

static void mtu_refresh(struct device *dev)
{
	struct ifreq ifr;

	if (!query(&dev->iface, SIOCGIFMTU, &ifr) && ifr.ifr_mtu > 0)
		dev->mtu = (unsigned int)ifr.ifr_mtu;
}

static void iface_cb(struct ev_loop *loop, ev_io *w, int revents);

/* Closes the event and query sockets (not our namespace's descriptor). */
static void iface_watch_close(struct iface_watch *iw, struct ev_loop *loop)
{
	if (iw->nl) {
		if (loop)
			ev_io_stop(loop, &iw->w);
		mnl_socket_close(iw->nl);
	}
	if (iw->ioctl_fd >= 0)
		close(iw->ioctl_fd);
	iw->nl = NULL;
	iw->ioctl_fd = -1;
}

static void watch_install(struct device *dev, struct mnl_socket *nl, int qfd,
			  ino_t ino)
{
	struct iface_watch *iw = &dev->iface;

	iface_watch_close(iw, dev->loop);
	iw->nl = nl;
	iw->ioctl_fd = qfd;
	iw->netns_ino = ino;
	ev_io_init(&iw->w, iface_cb, mnl_socket_get_fd(nl), EV_READ);
	ev_set_priority(&iw->w, EV_MAXPRI);
	ev_io_start(dev->loop, &iw->w);
}

/*
 * Where the interface is now.  Returns -ENODEV once it has been deleted;
 * place->netns is -1 when the kernel cannot say (before Linux 5.2), and
 * the interface is then taken to be where it was.
 */
static int locate(const struct device *dev, struct iface_place *place)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(dev->tun_fd, TUNGETIFF, &ifr) < 0)
		return errno == EBADFD ? -ENODEV : -errno;
	memcpy(place->name, ifr.ifr_name, IFNAMSIZ);
	place->name[IFNAMSIZ - 1] = '\0';
	place->ino = dev->iface.netns_ino;
	place->netns = ioctl(dev->tun_fd, TUNGETDEVNETNS);
	if (place->netns >= 0 && netns_inode(place->netns, &place->ino)) {
		close(place->netns);
		place->netns = -1;
		place->ino = dev->iface.netns_ino;
	}
	return 0;
}

/* Watches the interface in its new namespace.  false: we must stop. */
static bool follow(struct device *dev, const struct iface_place *place)
{
	struct iface_watch *iw = &dev->iface;
	struct mnl_socket *nl;
	ino_t home = 0;
	int qfd, ret;

	ret = sockets_open(iw, place->netns, &nl, &qfd);
	if (ret == -ENOTRECOVERABLE) {
		log_msg(dev, LOG_LEVEL_ERROR,
			"cannot return to our own network namespace, exiting");
		return false;
	}
	if (ret) {
		/*
		 * Still serving, blind: the old sockets would now describe
		 * whatever takes the name over here, so they go, and the
		 * interface is taken to be up with its last MTU (only its
		 * own changes go unseen, until it comes back).
		 */
		log_msg(dev, LOG_LEVEL_ERROR,
			"interface moved to another network namespace, "
			"cannot follow it there: %s", strerror(-ret));
		iface_watch_close(iw, dev->loop);
		iw->netns_ino = place->ino;
		iw->away = true;
		device_set_up(dev, true);
		return true;
	}
	watch_install(dev, nl, qfd, place->ino);
	iw->away = !netns_inode(iw->home_netns, &home) && home != place->ino;
	log_msg(dev, LOG_LEVEL_VERBOSE, "interface moved to %s network namespace",
		iw->away ? "another" : "our own");
	device_set_up(dev, device_link_is_up(dev));
	return true;
}

bool iface_sync(struct device *dev)
{
	struct iface_watch *iw = &dev->iface;
	struct iface_place place = { .netns = -1 };
	struct ifreq ifr;
	bool ok = true;
	int ret;

	ret = locate(dev, &place);
	if (ret == -ENODEV) {
		log_msg(dev, LOG_LEVEL_ERROR, "interface deleted, exiting");
		return false;
	}
	if (ret)
		return true;	/* nothing learnt; it did not say "gone" */
	memcpy(iw->name, place.name, IFNAMSIZ);
	if (place.ino != iw->netns_ino)
		ok = follow(dev, &place);
	if (place.netns >= 0)
		close(place.netns);
	if (!ok)
		return false;
	if (!query(iw, SIOCGIFINDEX, &ifr))
		dev->ifindex = ifr.ifr_ifindex;
	mtu_refresh(dev);
	return true;
}

struct link_event {
	struct device *dev;
	bool gone;
	bool changed;
};

static int attr_cb(const struct nlattr *a, void *data)
{
	struct link_event *ev = data;
	struct device *dev = ev->dev;

	if (mnl_attr_get_type(a) == IFLA_MTU &&
	    !mnl_attr_validate(a, MNL_TYPE_U32) && mnl_attr_get_u32(a))
		dev->mtu = mnl_attr_get_u32(a);
	else if (mnl_attr_get_type(a) == IFLA_IFNAME &&
		 !mnl_attr_validate(a, MNL_TYPE_NUL_STRING) &&
		 mnl_attr_get_payload_len(a) <= IFNAMSIZ)
		memcpy(dev->iface.name, mnl_attr_get_str(a),
		       mnl_attr_get_payload_len(a));
	return MNL_CB_OK;
}

static int msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_event *ev = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi) ||
	    ifi->ifi_index != ev->dev->ifindex)
		return MNL_CB_OK;
	if (nlh->nlmsg_type == RTM_DELLINK) {
		ev->gone = true;
	} else if (nlh->nlmsg_type == RTM_NEWLINK) {
		ev->changed = true;
		/* The new MTU is applied now, not on the next housekeeping:
		 * until then padding would fill packets to the old one. */
		mnl_attr_parse(nlh, sizeof(*ifi), attr_cb, ev);
	}
	return MNL_CB_OK;
}

static void iface_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct device *dev = (struct device *)((char *)w -
					       offsetof(struct device, iface.w));
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct link_event ev = { .dev = dev };
	ssize_t n;

	(void)revents;
	n = mnl_socket_recvfrom(dev->iface.nl, buf, sizeof(buf));
	if (n <= 0) {
		/* Overrun: events were lost, so ask the interface directly. */
		if (n < 0 && errno == ENOBUFS) {
			if (!iface_sync(dev))
				ev_break(loop, EVBREAK_ALL);
			else
				device_set_up(dev, device_link_is_up(dev));
		}
		return;
	}
	mnl_cb_run(buf, (size_t)n, 0, 0, msg_cb, &ev);
	/* Gone from this namespace: deleted, or moved elsewhere. */
	if (ev.gone) {
		if (!iface_sync(dev))
			ev_break(loop, EVBREAK_ALL);
		return;
	}
	/*
	 * Events arrive after the fact: one sent while the link was still
	 * down (an MTU change just before "up") must not take down a link
	 * that is up by now.  The interface's present flags decide.
	 */
	if (ev.changed)
		device_set_up(dev, device_link_is_up(dev));
}

int iface_watch_start(struct device *dev)
{
	struct iface_watch *iw = &dev->iface;
	struct mnl_socket *nl;
	ino_t ino = 0;
	int qfd, ret;

	iw->ioctl_fd = -1;
	memcpy(iw->name, dev->ifname, IFNAMSIZ);
	/* Ours, to come back to after opening sockets in another. */
	iw->home_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (iw->home_netns < 0)
		return -errno;
	ret = netns_inode(iw->home_netns, &ino);
	if (!ret)
		ret = sockets_open(iw, -1, &nl, &qfd);
	if (ret)
		return ret;
	watch_install(dev, nl, qfd, ino);
	return 0;
}

void iface_watch_stop(struct device *dev)
{
	struct iface_watch *iw = &dev->iface;

	iface_watch_close(iw, dev->loop);
	if (iw->home_netns >= 0)
		close(iw->home_netns);
	iw->home_netns = -1;
}
