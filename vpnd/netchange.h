/* SPDX-License-Identifier: MIT */
/*
 * The client role following the network under it: a new way to the server
 * (another interface, another source address, a route back after none) or
 * a resume from suspend sends a fresh handshake at once; with no way at
 * all, the client waits quietly for one.
 */
#ifndef VPND_NETCHANGE_H
#define VPND_NETCHANGE_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "netlink.h"

struct client;

enum netchange_values {
	/* How often the two clocks are compared, in seconds. */
	NETCHANGE_CLOCK_TICK_S = 2,
};

/* BOOTTIME running ahead of MONOTONIC by more than this is a sleep. */
#define NETCHANGE_SLEEP_NS (1000ULL * 1000 * 1000)

struct netchange {
	bool watching;
	bool offline;			/* no route to the server: waiting */
	struct netlink_path path;	/* the way to the server last seen */
	uint64_t boot_ns, mono_ns;	/* the clocks at the last tick */
	unsigned int moves;		/* handshakes sent for a change */
	ev_timer clock_w;
	ev_timer resend_w;		/* an initiation held back by the gap */
};

/* From the first initiation to a server on (again after a switch). */
void netchange_start(struct client *c);
void netchange_stop(struct client *c);

/* No route leads to the server now: failover has nothing to judge. */
bool netchange_offline(const struct client *c);

/*
 * Whether the machine slept between two readings of CLOCK_BOOTTIME and
 * CLOCK_MONOTONIC (ns): the first counts the sleep, the second does not.
 */
bool netchange_slept(uint64_t boot0, uint64_t mono0, uint64_t boot1,
		     uint64_t mono1);

#endif /* VPND_NETCHANGE_H */
