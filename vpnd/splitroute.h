/* SPDX-License-Identifier: MIT */
/*
 * Split tunneling by network, in the routing tables: routes in the
 * tunnel's own table T (netlink.h), which every unmarked lookup reaches
 * through the tunnel's rule, so no policy rule of its own is needed and
 * none can be left in the wrong order.
 *
 *   exclude   "throw NET metric SPLITROUTE_METRIC" for each network: the
 *             lookup leaves T and goes on to main, the physical route.
 *   include   "throw 0.0.0.0/0" and "throw ::/0" at SPLITROUTE_METRIC,
 *             before T's own defaults (NETLINK_TUNNEL_METRIC), so that
 *             everything leaves T; and for each included network and
 *             each of the tunnel's inside prefixes (its resolvers and the
 *             networks of its addresses, so that DNS stays in the tunnel)
 *             a route into the tunnel at SPLITROUTE_METRIC, longer and
 *             therefore chosen over the throw, with an unreachable one
 *             behind it at SPLITROUTE_BACKSTOP_METRIC: when the tunnel's
 *             device disappears (a daemon killed) its routes go with it,
 *             and an included network must then fail rather than fall
 *             through to the throw.  A family without a tunnel address
 *             gets only the unreachable ones.
 *
 * Routes are tagged NETLINK_PROTO_VPND and use only these two metrics, so
 * splitroute_flush() finds exactly the ones a daemon that died left
 * behind, and nothing else, whatever its set was.
 *
 * Changing the set goes in an order that never lets a destination that
 * is tunnelled before and after the change leave outside in between:
 * routes into the tunnel (and their backstops) are added first, then the
 * throws that go are removed, then the new throws are added, then the
 * old routes into the tunnel are removed.  A failure undoes the steps
 * already made, in reverse.
 */
#ifndef VPND_SPLITROUTE_H
#define VPND_SPLITROUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "netlink.h"
#include "splitnet.h"

enum splitroute_values {
	SPLITROUTE_METRIC = 100,
	SPLITROUTE_BACKSTOP_METRIC = 0xfffffffe,
	/* Two default throws, and a route and its backstop for each
	 * included network and inside prefix. */
	SPLITROUTE_MAX = 2 + 2 * (SPLITNET_MAX + NETLINK_INSIDE_MAX),
};

/* What the routes depend on besides the set. */
struct splitroute_tunnel {
	int ifindex;			/* the tunnel device */
	uint32_t table;			/* its table T */
	bool has_ipv4, has_ipv6;	/* it has an address of that family */
	const struct netlink_prefix *inside;	/* netlink_tunnel_inside() */
	unsigned int n_inside;
};

/*
 * The routes set @s needs, into out[SPLITROUTE_MAX]; pure.  Returns how
 * many.
 */
unsigned int splitroute_plan(const struct splitroute_tunnel *t,
			     const struct splitnet_set *s,
			     struct netlink_route *out);

/*
 * Takes the routes of @from to those of @to, in the order above; all or
 * nothing.  0 or -errno (netlink_strerror() says what).
 */
int splitroute_change(struct netlink *nl, const struct splitroute_tunnel *t,
		      const struct splitnet_set *from,
		      const struct splitnet_set *to);

/*
 * Removes every split route of table @table, of this daemon or of one
 * that died; what is gone already counts as removed.  0 or the first
 * -errno.
 */
int splitroute_flush(struct netlink *nl, uint32_t table);

#endif /* VPND_SPLITROUTE_H */
