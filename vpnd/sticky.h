/* SPDX-License-Identifier: MIT */
/*
 * The sticky source address (a peer's struct endpoint_src) against the
 * routing table: forgotten when a routing change sends the peer's traffic
 * out of another interface than the one the address belongs with.
 */
#ifndef VPND_STICKY_H
#define VPND_STICKY_H

#include <ev.h>

struct device;
struct mnl_socket;
struct netlink;

struct sticky_watch {
	struct mnl_socket *events;	/* link, address, route, rule changes */
	struct netlink *query;		/* route lookups */
	ev_io w;
	/* Told after each burst of changes, once the sources are checked:
	 * the client role follows the network with it (netchange.c). */
	void (*changed)(void *arg);
	void *changed_arg;
};

/* In our own network namespace, the one the UDP sockets live in. */
int sticky_watch_start(struct device *dev);
void sticky_watch_stop(struct device *dev);

/* Checks every peer's source against the routes now (done on changes). */
void sticky_revalidate(struct device *dev);

#endif /* VPND_STICKY_H */
