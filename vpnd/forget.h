/* SPDX-License-Identifier: MIT */
/*
 * Forgetting idle peers, for the server role's RAM-only promise: once a
 * peer's last session has expired and it has been quiet for forget_after
 * seconds, nothing in memory says where it connected from or when.  The
 * rule is a pure function of times (forget_deadline); forget_peer() carries
 * it out.  docs/config.md, "RAM only", states the rule.
 */
#ifndef VPND_FORGET_H
#define VPND_FORGET_H

#include <stdbool.h>
#include <stdint.h>

struct peer;

#define FORGET_NEVER UINT64_MAX

/* What the rule needs to know about one peer; times in monotonic ns. */
struct forget_times {
	bool had_session;	/* a keypair exists, or a handshake completed */
	uint64_t session_start;	/* the newest keypair's birth */
	bool had_packet;	/* anything authenticated was ever received */
	uint64_t last_received;
};

/*
 * The instant from which the peer is to be forgotten: @forget_after ns
 * after the later of its newest session's expiry (@lifetime after its
 * start) and its last authenticated packet.  FORGET_NEVER for a peer that
 * never had a session nor sent anything: there is nothing to forget.
 */
uint64_t forget_deadline(const struct forget_times *t, uint64_t lifetime,
			 uint64_t forget_after);

/* The times of @p, as the rule wants them. */
struct forget_times forget_times_of(const struct peer *p);

/*
 * Wipes the peer's sessions, handshake state, endpoint, reply source,
 * latest-handshake time, transfer counters, timers and cookie; its
 * configuration (key, allowed IPs, preshared key, persistent keepalive)
 * stays, and so does the TAI64N timestamp of its last initiation, which
 * refuses replays.
 */
void forget_peer(struct peer *p, uint64_t now);

#endif /* VPND_FORGET_H */
