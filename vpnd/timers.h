/* SPDX-License-Identifier: MIT */
/*
 * The five per-peer timers of WireGuard (section 6 of the paper), and the
 * rekeying rules that go with them, as pure functions of a clock value the
 * caller passes in.  This module reads no clock, arms no libev watcher and
 * sends nothing: the daemon tells it what happened through the
 * timers_on_*() hooks, asks it what is due through timers_next() and
 * timers_expire(), and carries the decisions out.
 *
 * Time is a monotonic clock in nanoseconds (CLOCK_MONOTONIC, or BOOTTIME so
 * that a suspended machine ages its keys).  Deadlines are inclusive: a rule
 * "after T" holds from the instant now - start == T onwards.
 *
 * The daemon's loop for one peer is:
 *
 *	actions = timers_expire(st, now, &deadline);
 *	carry out the actions, in this order:
 *	  TIMERS_GIVE_UP		drop the packets queued for lack of a
 *					session;
 *	  TIMERS_ZERO_KEYS		wipe the handshake and every keypair;
 *	  TIMERS_SEND_INITIATION or
 *	  TIMERS_RETRY_INITIATION	send one handshake initiation (either bit
 *					or both: one initiation), forgetting the
 *					cached source address first;
 *	  TIMERS_SEND_KEEPALIVE or
 *	  TIMERS_SEND_PERSISTENT_KEEPALIVE
 *					send one keepalive (either bit or both);
 *	arm the peer's single libev timer at the deadline timers_next() gives
 *	once the actions have been carried out (their hooks move it).
 *
 * Nothing here locks: the caller serialises all calls for one peer.
 */
#ifndef VPND_TIMERS_H
#define VPND_TIMERS_H

#include <stdbool.h>
#include <stdint.h>

#include <vpn/messages.h>

/* The deadline reported when no timer is armed. */
#define TIMERS_NEVER UINT64_MAX

enum timers_clock {
	TIMERS_NSEC_PER_MSEC = 1000000,
	TIMERS_NSEC_PER_SEC = 1000000000,
	/*
	 * Jitter arguments are in [0, TIMERS_JITTER_MAX_NS); larger values are
	 * clamped.  The daemon draws them with
	 * randombytes_uniform(TIMERS_JITTER_MAX_NS); tests pass fixed values.
	 */
	TIMERS_JITTER_MAX_NS = REKEY_TIMEOUT_JITTER_MAX_MS * TIMERS_NSEC_PER_MSEC,
};

/* What timers_next() and timers_expire() ask the daemon to do. */
enum timers_action {
	TIMERS_SEND_INITIATION = 1 << 0,	/* a new handshake, not a retry */
	TIMERS_RETRY_INITIATION = 1 << 1,	/* our initiation went unanswered */
	TIMERS_GIVE_UP = 1 << 2,		/* stop retrying, drop the queue */
	TIMERS_SEND_KEEPALIVE = 1 << 3,		/* acknowledge received data */
	TIMERS_SEND_PERSISTENT_KEEPALIVE = 1 << 4,
	TIMERS_ZERO_KEYS = 1 << 5,
};

/*
 * One timer: when it fires, or 0 while it is not armed (every deadline is
 * at least a timeout after some clock value, so never 0).  One word rather
 * than a time and a flag: every peer carries five of these, and a server
 * may hold 100,000 peers.
 */
struct timers_deadline {
	uint64_t at;
};

/*
 * What the rekeying rules need to know about the peer's current sending
 * keypair.  The keypair itself (peer.c) stays the only record of these; the
 * caller fills this in from it when asking.
 */
struct timers_keypair {
	uint64_t birth;		/* when the keypair was derived */
	uint64_t send_counter;	/* nonces used so far, i.e. the next nonce */
	bool initiator;		/* we sent the initiation that derived it */
};

struct timers_state {
	struct timers_deadline retransmit;	/* our initiation is unanswered */
	struct timers_deadline new_handshake;	/* we sent data, heard nothing */
	struct timers_deadline keepalive;	/* we received data, sent nothing */
	struct timers_deadline persistent;	/* the persistent keepalive */
	struct timers_deadline zero_keys;	/* no new session for a long time */

	/* Initiations and responses both count against the rate limit. */
	uint64_t last_handshake_sent;
	/* For status reports (wg's "latest handshake"), in the same clock. */
	uint64_t last_handshake_complete;
	/* For status reports and the client's failover decisions. */
	uint64_t last_authenticated_sent;
	uint64_t last_authenticated_received;

	/* Retransmissions of the current initiation so far. */
	unsigned int handshake_attempts;
	/* Seconds, zero when off. */
	uint16_t persistent_keepalive_interval;
	/*
	 * REKEY_AFTER_TIME in nanoseconds, set by timers_init().  Only the
	 * integration tests shorten it (VPND_TEST_REKEY_AFTER_TIME), to see
	 * many rekeys in a few seconds.
	 */
	uint64_t rekey_after_time;

	bool handshake_ever_sent;
	bool handshake_ever_completed;
	bool authenticated_ever_sent;
	bool authenticated_ever_received;
	/* Data arrived while a keepalive was already scheduled. */
	bool keepalive_again;
	/* The receive-side rekey has fired for the current session. */
	bool lastminute_handshake_sent;
};

/* A peer that has never sent or received anything, persistent keepalive off. */
void timers_init(struct timers_state *st);

/*
 * Sets the persistent keepalive interval in seconds (zero turns it off).
 * Returns true when it has just been turned on, in which case the daemon
 * sends a keepalive now so that the chain of keepalives starts.
 */
bool timers_set_persistent_keepalive(struct timers_state *st, uint16_t interval);

/* Disarms every timer, for a peer being removed or an interface going down. */
void timers_stop(struct timers_state *st);

/* After a data message that carried a packet (not a keepalive) was sent. */
void timers_on_data_sent(struct timers_state *st, uint64_t now,
			 uint64_t jitter_ns);
/* After a data message that carried a packet was received and accepted. */
void timers_on_data_received(struct timers_state *st, uint64_t now);
/* After any authenticated message (data, keepalive, handshake) was sent. */
void timers_on_authenticated_packet_sent(struct timers_state *st, uint64_t now);
/* After any authenticated message was received and accepted. */
void timers_on_authenticated_packet_received(struct timers_state *st,
					     uint64_t now);
/* Before an authenticated message is sent, or after one is received. */
void timers_on_authenticated_packet_traversal(struct timers_state *st,
					      uint64_t now);
/* After a handshake initiation was sent. */
void timers_on_handshake_initiated(struct timers_state *st, uint64_t now,
				   uint64_t jitter_ns);
/* After a handshake response was sent. */
void timers_on_handshake_response_sent(struct timers_state *st, uint64_t now);
/*
 * After a handshake response was received and processed (initiator), or the
 * first data message on a new keypair confirmed it (responder).
 */
void timers_on_handshake_complete(struct timers_state *st, uint64_t now);
/*
 * After a keypair was derived: before sending a response, or after
 * receiving one.
 */
void timers_on_session_derived(struct timers_state *st, uint64_t now);

/*
 * Asks for a new handshake (not a retry), as the send path does when it has
 * packets but no usable keypair.  Returns true when the daemon should send an
 * initiation now; false when one was sent less than REKEY_TIMEOUT ago.  A
 * true answer counts as sending one for the rate limit.
 */
bool timers_initiation_request(struct timers_state *st, uint64_t now);

/*
 * Lets the next initiation request through at once, as after our private
 * key changed: the sessions just expired, and waiting out REKEY_TIMEOUT
 * from the last handshake would only delay the new one.
 */
void timers_reset_rate_limit(struct timers_state *st);

/*
 * The rekeying rules.  Call the first after sending transport messages and
 * the second after receiving one, with the peer's current keypair, or NULL
 * when there is none or it is no longer valid for sending.  Each returns
 * true when the daemon should send an initiation now.
 */
bool timers_rekey_check_send(struct timers_state *st, uint64_t now,
			     const struct timers_keypair *current);
bool timers_rekey_check_receive(struct timers_state *st, uint64_t now,
				const struct timers_keypair *current);

/* Whether a keypair may still encrypt a message, or decrypt one. */
bool timers_keypair_can_send(const struct timers_keypair *kp, uint64_t now);
bool timers_keypair_can_receive(const struct timers_keypair *kp, uint64_t now);

/*
 * Without changing anything, returns the actions timers_expire() would
 * return at @now, and stores in @deadline (if not NULL) the earliest armed
 * deadline, or TIMERS_NEVER.  A deadline at or before @now means that
 * timers_expire() has work to do now, even when no action results from it
 * (an initiation held back by the rate limit, say).
 */
unsigned int timers_next(const struct timers_state *st, uint64_t now,
			 uint64_t *deadline);

/*
 * The earliest armed deadline, or TIMERS_NEVER: timers_next()'s @deadline
 * without its dry run of the firing, for the data path, which re-arms the
 * peer's timer after every packet and needs only the time.
 */
uint64_t timers_earliest(const struct timers_state *st);

/*
 * Fires every timer due at @now, earliest deadline first, and returns the
 * actions they call for.  @deadline (if not NULL) receives the earliest
 * deadline still armed: after @now, or TIMERS_NEVER.
 */
unsigned int timers_expire(struct timers_state *st, uint64_t now,
			   uint64_t *deadline);

#endif /* VPND_TIMERS_H */
