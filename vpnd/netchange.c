/* SPDX-License-Identifier: MIT */
/*
 * Network changes under a client: Wi-Fi to Ethernet, a new DHCP lease, a
 * lid closed for the night.
 *
 * WireGuard's timers would find out by themselves, but slowly: a session
 * keeps sending into a path that is gone until REKEY_TIMEOUT, and a server
 * behind a NAT that forgot us never hears the keepalives.  So after every
 * burst of link, address and route events (the sticky source watch's
 * socket, sticky.c) we look up the way a packet to the server would leave
 * now, as our marked socket sends it, and when the interface or the source
 * address differs from the last lookup, or a route came back after none,
 * we send a new initiation at once: the move costs about one round trip.
 *
 * No route at all (cable out, Wi-Fi gone): we say so once and wait.  The
 * timers' retries fail quietly in the kernel, failover does not count the
 * silence against the server, and nothing polls: the next route event
 * wakes us.
 *
 * A suspend shows as CLOCK_BOOTTIME running ahead of CLOCK_MONOTONIC; the
 * clocks are compared every NETCHANGE_CLOCK_TICK_S, and a sleep counts as a
 * change even where the route looks the same (the NAT state, the server's
 * session and our keys have all aged meanwhile).
 *
 * The kill switch needs nothing here: it lets our marked packets reach the
 * server's endpoint whatever the interface, and blocks everything else
 * throughout.
 */
#include <string.h>
#include <time.h>

#include "control.h"
#include "device.h"
#include "netchange.h"
#include "peer.h"
#include "send.h"

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

bool netchange_slept(uint64_t boot0, uint64_t mono0, uint64_t boot1,
		     uint64_t mono1)
{
	uint64_t boot = boot1 - boot0, mono = mono1 - mono0;

	if (boot1 < boot0 || mono1 < mono0)
		return false;
	return boot > mono && boot - mono > NETCHANGE_SLEEP_NS;
}

static bool active(const struct client *c)
{
	return c->server && c->dev->peers.head &&
	       (c->state == CLIENT_CONNECTING || c->state == CLIENT_CONNECTED);
}

/* The way our marked UDP socket's packets to the server take now. */
static int lookup(struct client *c, struct netlink_path *path)
{
	const union conf_endpoint *e = &c->server->endpoint;
	const void *dst = e->sa.sa_family == AF_INET6 ?
				  (const void *)&e->in6.sin6_addr :
				  (const void *)&e->in4.sin_addr;

	return netlink_route_path(c->nl, e->sa.sa_family, dst, NULL, 0,
				  CLIENT_FWMARK, path);
}

/* A new initiation now, or as soon as the server would take it. */
static void reinitiate(struct client *c)
{
	struct netchange *nc = &c->nc;
	struct peer *p = c->dev->peers.head;
	uint64_t now = device_now(), since;

	/* Whatever source the old way taught us is wrong on the new one. */
	memset(&p->st->src, 0, sizeof(p->st->src));
	nc->moves++;
	since = now - p->st->timers.last_handshake_sent;
	ev_timer_stop(c->dev->loop, &nc->resend_w);
	if (p->st->timers.last_handshake_sent && since < CLIENT_REINITIATE_GAP_NS) {
		ev_timer_set(&nc->resend_w,
			     (double)(CLIENT_REINITIATE_GAP_NS - since) / 1e9,
			     0.);
		ev_timer_start(c->dev->loop, &nc->resend_w);
		return;
	}
	send_handshake_initiation(p, now);
}

static void check(struct client *c, bool slept)
{
	struct netchange *nc = &c->nc;
	struct netlink_path path;

	if (!active(c))
		return;
	if (lookup(c, &path)) {
		if (!nc->offline)
			log_msg(c->dev, LOG_LEVEL_VERBOSE,
				"no route to the server: waiting for the "
				"network");
		nc->offline = true;
		return;
	}
	if (!slept && !nc->offline && !memcmp(&path, &nc->path, sizeof(path)))
		return;
	log_msg(c->dev, LOG_LEVEL_VERBOSE, "%s: new handshake with %s",
		slept ? "resumed from a sleep" :
		nc->offline ? "the network is back" :
			      "the way to the server changed",
		c->server->id);
	nc->offline = false;
	nc->path = path;
	reinitiate(c);
}

static void changed_cb(void *arg)
{
	check(arg, false);
}

static void clock_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client *c = w->data;
	struct netchange *nc = &c->nc;
	uint64_t boot = clock_ns(CLOCK_BOOTTIME), mono = clock_ns(CLOCK_MONOTONIC);
	bool slept = netchange_slept(nc->boot_ns, nc->mono_ns, boot, mono);

	(void)loop;
	(void)revents;
	nc->boot_ns = boot;
	nc->mono_ns = mono;
	if (slept)
		check(c, true);
}

static void resend_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client *c = w->data;

	(void)loop;
	(void)revents;
	if (active(c))
		send_handshake_initiation(c->dev->peers.head, device_now());
}

void netchange_start(struct client *c)
{
	struct netchange *nc = &c->nc;
	struct device *dev = c->dev;

	/* The server may have changed: its way is the one to follow. */
	nc->offline = lookup(c, &nc->path) != 0;
	if (nc->watching)
		return;
	nc->boot_ns = clock_ns(CLOCK_BOOTTIME);
	nc->mono_ns = clock_ns(CLOCK_MONOTONIC);
	ev_timer_init(&nc->clock_w, clock_cb, NETCHANGE_CLOCK_TICK_S,
		      NETCHANGE_CLOCK_TICK_S);
	nc->clock_w.data = c;
	ev_timer_start(dev->loop, &nc->clock_w);
	ev_timer_init(&nc->resend_w, resend_cb, 0., 0.);
	nc->resend_w.data = c;
	dev->sticky.changed = changed_cb;
	dev->sticky.changed_arg = c;
	nc->watching = true;
}

void netchange_stop(struct client *c)
{
	struct netchange *nc = &c->nc;
	struct device *dev = c->dev;

	if (!nc->watching)
		return;
	ev_timer_stop(dev->loop, &nc->clock_w);
	ev_timer_stop(dev->loop, &nc->resend_w);
	dev->sticky.changed = NULL;
	dev->sticky.changed_arg = NULL;
	nc->watching = false;
	nc->offline = false;
}

bool netchange_offline(const struct client *c)
{
	return c->nc.watching && c->nc.offline;
}
