/* SPDX-License-Identifier: MIT */
/*
 * Keeping a peer's sticky source address honest when routing changes.
 *
 * Replies to a peer leave from the address it last reached us at (see
 * udp.c), which the kernel honours whatever route the packet takes.  When
 * a better route to the peer appears through another interface, with a
 * source address of its own, the kernel's WireGuard and wireguard-go move
 * to it at once; we would keep the old address until a send failed.
 *
 * So we listen to the kernel's route and rule changes, and after each
 * burst of them ask, per peer that has a sticky source, which interface a
 * packet from that source to the peer's endpoint would leave by now (one
 * route lookup per peer and change, none per packet).  When that is no
 * longer the interface the address was learnt on, or the lookup fails
 * (the address is gone, no route), the source is forgotten: the next
 * packet leaves from the kernel's choice, and the peer's next message
 * teaches us the address again.
 *
 * The same socket hears links and addresses come and go, for whoever
 * registered sticky.changed: the client role sends a new handshake when
 * its way to the server changes (netchange.c), rather than open a second
 * socket for the same events.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "device.h"
#include "netlink.h"
#include "sticky.h"

static int forget_if_moved(struct device *dev, struct peer_state *st)
{
	const union endpoint *e = &st->endpoint;
	const void *dst;
	int oif = 0, out;

	if (!st->src.family)
		return 0;
	if (st->src.family != e->sa.sa_family) {
		memset(&st->src, 0, sizeof(st->src));
		return 1;
	}
	if (e->sa.sa_family == AF_INET) {
		dst = &e->sin.sin_addr;
	} else {
		dst = &e->sin6.sin6_addr;
		oif = (int)e->sin6.sin6_scope_id;
	}
	out = netlink_route_oif(dev->sticky.query, e->sa.sa_family, dst,
				&st->src.addr, oif, dev->fwmark);
	if (out > 0 && out == st->src.ifindex)
		return 0;
	memset(&st->src, 0, sizeof(st->src));
	return 1;
}

void sticky_revalidate(struct device *dev)
{
	unsigned int forgotten = 0;
	struct peer *p;

	if (!dev->sticky.query)
		return;
	for (p = dev->peers.head; p; p = p->list_next)
		if (p->st)
			forgotten += (unsigned int)forget_if_moved(dev, p->st);
	if (forgotten)
		log_msg(dev, LOG_LEVEL_VERBOSE,
			"routing changed: %u peer(s) will send from a new "
			"source address", forgotten);
}

static int msg_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	bool *changed = data;

	/* Route cache entries (PMTU exceptions) change no choice. */
	if ((nlh->nlmsg_type == RTM_NEWROUTE ||
	     nlh->nlmsg_type == RTM_DELROUTE) &&
	    mnl_nlmsg_get_payload_len(nlh) >= sizeof(*rtm) &&
	    (rtm->rtm_flags & RTM_F_CLONED))
		return MNL_CB_OK;
	*changed = true;
	return MNL_CB_OK;
}

static void events_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct device *dev = (struct device *)((char *)w -
					       offsetof(struct device, sticky.w));
	char buf[MNL_SOCKET_BUFFER_SIZE];
	bool changed = false;
	ssize_t n;

	(void)loop;
	(void)revents;
	/* A burst of changes (a whole table replaced) costs one pass. */
	for (;;) {
		n = mnl_socket_recvfrom(dev->sticky.events, buf, sizeof(buf));
		if (n < 0 && errno == ENOBUFS) {
			changed = true;		/* lost some: assume the worst */
			continue;
		}
		if (n <= 0)
			break;
		mnl_cb_run(buf, (size_t)n, 0, 0, msg_cb, &changed);
	}
	if (!changed)
		return;
	sticky_revalidate(dev);
	if (dev->sticky.changed)
		dev->sticky.changed(dev->sticky.changed_arg);
}

int sticky_watch_start(struct device *dev)
{
	struct sticky_watch *sw = &dev->sticky;
	unsigned int groups = RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE |
			      RTMGRP_IPV4_RULE | RTMGRP_LINK |
			      RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
	int group6 = RTNLGRP_IPV6_RULE, ret;

	sw->events = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC |
						     SOCK_NONBLOCK);
	if (!sw->events)
		return -errno;
	if (mnl_socket_bind(sw->events, groups, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto fail;
	}
	/* IPv6 rules have no legacy group bit; a kernel without IPv6 says
	 * no, and then has no IPv6 rules to change either. */
	mnl_socket_setsockopt(sw->events, NETLINK_ADD_MEMBERSHIP, &group6,
			      sizeof(group6));
	ret = netlink_open(&sw->query);
	if (ret)
		goto fail;
	ev_io_init(&sw->w, events_cb, mnl_socket_get_fd(sw->events), EV_READ);
	/* Before the TUN device's packets of the same turn of the loop. */
	ev_set_priority(&sw->w, EV_MAXPRI);
	ev_io_start(dev->loop, &sw->w);
	return 0;
fail:
	mnl_socket_close(sw->events);
	sw->events = NULL;
	return ret;
}

void sticky_watch_stop(struct device *dev)
{
	struct sticky_watch *sw = &dev->sticky;

	if (sw->events) {
		if (dev->loop)
			ev_io_stop(dev->loop, &sw->w);
		mnl_socket_close(sw->events);
	}
	netlink_close(sw->query);
	sw->events = NULL;
	sw->query = NULL;
}
