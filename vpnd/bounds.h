/* SPDX-License-Identifier: MIT */
/*
 * The bounds on what an outsider (a remote sender, or a local client of the
 * UAPI or control socket) can make the daemon hold.  Each bound lives with
 * what it bounds (PEER_MAX_STAGED in peer.h, RATELIMITER_MAX_ENTRIES in
 * ratelimiter.h, ...); this file owns only what happens when one refuses
 * something: it is counted, for the UAPI's stats=1 reply ("bound_NAME=N"),
 * and said in the log at most once per BOUNDS_LOG_INTERVAL_S, never with an
 * address or a key in the line.  docs/limits.md lists them all.
 */
#ifndef VPND_BOUNDS_H
#define VPND_BOUNDS_H

#include <stdint.h>

struct device;
struct uapi_writer;

enum bound_kind {
	BOUND_PEER_STAGED,	/* one peer's staged packets: oldest dropped */
	BOUND_STAGED,		/* all peers' staged packets: new dropped */
	BOUND_RATELIMITER,	/* sources the ratelimiter tracks */
	BOUND_UAPI_CONNS,	/* connections to the UAPI socket */
	BOUND_UAPI_IDLE,	/* seconds a UAPI connection may idle */
	BOUND_CONTROL_CONNS,	/* connections to the control socket */
	BOUND_CONTROL_IDLE,	/* seconds a control connection may idle */
	BOUND_FLEET_MESSAGE,	/* bytes of one etcd watch message */
	BOUND_KINDS,
};

enum bounds_values {
	/* A bound that keeps refusing is said again once a minute, with how
	 * many it refused since: enough to see a flood, too little to be
	 * one in the journal. */
	BOUNDS_LOG_INTERVAL_S = 60,
};

struct bounds {
	uint64_t hits[BOUND_KINDS];
	uint64_t logged_at[BOUND_KINDS];	/* ns, device_now(); 0: never */
	uint64_t hits_logged[BOUND_KINDS];	/* hits when last said */
};

/* n things were refused at the bound of kind k, whose value is limit. */
void bound_hits(struct device *dev, enum bound_kind k, unsigned long limit,
		uint64_t n, uint64_t now);

static inline void bound_hit(struct device *dev, enum bound_kind k,
			     unsigned long limit, uint64_t now)
{
	bound_hits(dev, k, limit, 1, now);
}
/* The "bound_*" lines of a stats=1 reply. */
int bounds_stats_write(const struct bounds *b, struct uapi_writer *w);

#endif /* VPND_BOUNDS_H */
