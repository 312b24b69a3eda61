/* SPDX-License-Identifier: MIT */
/*
 * WireGuard's per-peer timers and rekeying rules, as a state machine over a
 * clock value passed in.  This file owns when things must happen: when to
 * retransmit or give up on a handshake, when to start a new one, when to
 * send keepalives and when to wipe keys.  It owns none of the doing; see
 * timers.h for how the daemon drives it.
 */
#include <stddef.h>
#include <string.h>

#include "timers.h"

static uint64_t seconds(uint64_t s)
{
	return s * TIMERS_NSEC_PER_SEC;
}

/*
 * @t + @d, held at TIMERS_NEVER rather than wrapping, so that a clock value
 * near the top of the range cannot make a deadline fall in the past.
 */
static uint64_t later(uint64_t t, uint64_t d)
{
	return t > TIMERS_NEVER - d ? TIMERS_NEVER : t + d;
}

/* True from the instant @d has passed since @since. */
static bool has_elapsed(uint64_t since, uint64_t d, uint64_t now)
{
	return now >= later(since, d);
}

/*
 * A jitter outside its range would lengthen a timeout beyond what peers
 * expect, so it is clamped rather than trusted.
 */
static uint64_t jitter_clamp(uint64_t jitter_ns)
{
	return jitter_ns < TIMERS_JITTER_MAX_NS ? jitter_ns :
						  TIMERS_JITTER_MAX_NS - 1;
}

/* 0 means "not armed"; no timeout is that short, but stay exact. */
static void deadline_arm(struct timers_deadline *d, uint64_t at)
{
	d->at = at ? at : 1;
}

static void deadline_disarm(struct timers_deadline *d)
{
	d->at = 0;
}

static bool deadline_armed(const struct timers_deadline *d)
{
	return d->at != 0;
}

static bool deadline_due(const struct timers_deadline *d, uint64_t now)
{
	return deadline_armed(d) && now >= d->at;
}

void timers_init(struct timers_state *st)
{
	memset(st, 0, sizeof(*st));
	st->rekey_after_time = seconds(REKEY_AFTER_TIME);
}

bool timers_set_persistent_keepalive(struct timers_state *st, uint16_t interval)
{
	bool turned_on = st->persistent_keepalive_interval == 0 && interval != 0;

	st->persistent_keepalive_interval = interval;
	/*
	 * A pending keepalive would do nothing once the interval is zero;
	 * disarming it saves the daemon a pointless wake-up.  A changed
	 * non-zero interval takes effect at the next traversal.
	 */
	if (interval == 0)
		deadline_disarm(&st->persistent);
	return turned_on;
}

void timers_stop(struct timers_state *st)
{
	deadline_disarm(&st->retransmit);
	deadline_disarm(&st->new_handshake);
	deadline_disarm(&st->keepalive);
	deadline_disarm(&st->persistent);
	deadline_disarm(&st->zero_keys);
}

/*
 * The new-handshake timer runs from the first data sent after we last heard
 * from the peer; later sends must not push it back, or a peer that went away
 * while we keep sending would never be noticed.
 */
void timers_on_data_sent(struct timers_state *st, uint64_t now,
			 uint64_t jitter_ns)
{
	if (deadline_armed(&st->new_handshake))
		return;
	deadline_arm(&st->new_handshake,
		     later(now, seconds(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) +
					jitter_clamp(jitter_ns)));
}

/*
 * Likewise the keepalive is owed KEEPALIVE_TIMEOUT after the first data
 * received since we last sent; data arriving meanwhile is remembered, so
 * that one more keepalive follows the first.
 */
void timers_on_data_received(struct timers_state *st, uint64_t now)
{
	if (deadline_armed(&st->keepalive))
		st->keepalive_again = true;
	else
		deadline_arm(&st->keepalive, later(now, seconds(KEEPALIVE_TIMEOUT)));
}

/* Anything authenticated we send tells the peer we are alive. */
void timers_on_authenticated_packet_sent(struct timers_state *st, uint64_t now)
{
	deadline_disarm(&st->keepalive);
	st->last_authenticated_sent = now;
	st->authenticated_ever_sent = true;
}

/* Anything authenticated we receive shows the session still works. */
void timers_on_authenticated_packet_received(struct timers_state *st,
					     uint64_t now)
{
	deadline_disarm(&st->new_handshake);
	st->last_authenticated_received = now;
	st->authenticated_ever_received = true;
}

/*
 * Traffic in either direction refreshes the NAT mappings on the path, so the
 * persistent keepalive is only needed after an interval of silence.
 */
void timers_on_authenticated_packet_traversal(struct timers_state *st,
					      uint64_t now)
{
	if (st->persistent_keepalive_interval == 0)
		return;
	deadline_arm(&st->persistent,
		     later(now, seconds(st->persistent_keepalive_interval)));
}

static void handshake_sent(struct timers_state *st, uint64_t now)
{
	st->last_handshake_sent = now;
	st->handshake_ever_sent = true;
}

void timers_on_handshake_initiated(struct timers_state *st, uint64_t now,
				   uint64_t jitter_ns)
{
	handshake_sent(st, now);
	deadline_arm(&st->retransmit,
		     later(now, seconds(REKEY_TIMEOUT) + jitter_clamp(jitter_ns)));
}

/*
 * A response we just sent derived a fresh session; an initiation of ours
 * right behind it would only replace that session, so it counts against the
 * rate limit too.
 */
void timers_on_handshake_response_sent(struct timers_state *st, uint64_t now)
{
	handshake_sent(st, now);
}

void timers_on_handshake_complete(struct timers_state *st, uint64_t now)
{
	deadline_disarm(&st->retransmit);
	st->handshake_attempts = 0;
	st->lastminute_handshake_sent = false;
	st->last_handshake_complete = now;
	st->handshake_ever_completed = true;
}

/* Each new session postpones the wiping of keys. */
void timers_on_session_derived(struct timers_state *st, uint64_t now)
{
	deadline_arm(&st->zero_keys, later(now, seconds(REJECT_AFTER_TIME * 3)));
}

/*
 * The rate limit: no initiation within REKEY_TIMEOUT of the last handshake
 * message we sent, initiation or response.
 */
static bool initiation_allowed(const struct timers_state *st, uint64_t now)
{
	return !st->handshake_ever_sent ||
	       has_elapsed(st->last_handshake_sent, seconds(REKEY_TIMEOUT), now);
}

/*
 * A granted initiation is stamped at once, not when the daemon reports it
 * sent: if building or sending it fails, the next request must still wait,
 * or every packet queued behind the failure would ask again.
 */
static bool initiation_grant(struct timers_state *st, uint64_t now)
{
	if (!initiation_allowed(st, now))
		return false;
	handshake_sent(st, now);
	return true;
}

void timers_reset_rate_limit(struct timers_state *st)
{
	st->handshake_ever_sent = false;
}

/*
 * A new reason to handshake restarts the count of retries, so the daemon
 * gives up only after REKEY_ATTEMPT_TIME without any such reason.  The count
 * restarts even when the rate limit holds the initiation back.
 */
bool timers_initiation_request(struct timers_state *st, uint64_t now)
{
	st->handshake_attempts = 0;
	return initiation_grant(st, now);
}

bool timers_rekey_check_send(struct timers_state *st, uint64_t now,
			     const struct timers_keypair *current)
{
	bool stale;

	if (current == NULL)
		return false;
	/*
	 * Only the initiator rekeys on age, so that both ends do not start a
	 * handshake at the same moment; either end rekeys on use.
	 */
	stale = current->send_counter > REKEY_AFTER_MESSAGES ||
		(current->initiator &&
		 has_elapsed(current->birth, st->rekey_after_time, now));
	return stale && timers_initiation_request(st, now);
}

bool timers_rekey_check_receive(struct timers_state *st, uint64_t now,
				const struct timers_keypair *current)
{
	if (current == NULL || !current->initiator ||
	    st->lastminute_handshake_sent)
		return false;
	/*
	 * An initiator that receives but seldom sends may never reach the
	 * send-side check before its keypair expires.  It must rekey early
	 * enough that a handshake (REKEY_TIMEOUT) and the peer's keepalive
	 * (KEEPALIVE_TIMEOUT) still fit in the keypair's life.  This is tried
	 * once per session: a failure is left to the retransmit timer.
	 */
	if (!has_elapsed(current->birth,
			 seconds(REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT -
				 REKEY_TIMEOUT), now))
		return false;
	st->lastminute_handshake_sent = true;
	return timers_initiation_request(st, now);
}

bool timers_keypair_can_send(const struct timers_keypair *kp, uint64_t now)
{
	return kp->send_counter < REJECT_AFTER_MESSAGES &&
	       !has_elapsed(kp->birth, seconds(REJECT_AFTER_TIME), now);
}

bool timers_keypair_can_receive(const struct timers_keypair *kp, uint64_t now)
{
	return !has_elapsed(kp->birth, seconds(REJECT_AFTER_TIME), now);
}

/*
 * Our initiation went unanswered for REKEY_TIMEOUT plus jitter.  The first
 * initiation and MAX_TIMER_HANDSHAKES + 1 retries, MAX_TIMER_HANDSHAKES + 2
 * in all, cover REKEY_ATTEMPT_TIME; after that the peer is taken to be gone.
 * Packets waiting for a session are dropped rather than kept indefinitely,
 * and whatever a partial exchange left behind is wiped in due course.
 */
static unsigned int expire_retransmit(struct timers_state *st, uint64_t now)
{
	if (st->handshake_attempts > MAX_TIMER_HANDSHAKES) {
		deadline_disarm(&st->keepalive);
		if (!deadline_armed(&st->zero_keys))
			deadline_arm(&st->zero_keys,
				     later(now, seconds(REJECT_AFTER_TIME * 3)));
		return TIMERS_GIVE_UP;
	}
	st->handshake_attempts++;
	return initiation_grant(st, now) ? TIMERS_RETRY_INITIATION : 0;
}

/* We sent data and heard nothing back: the session may be dead. */
static unsigned int expire_new_handshake(struct timers_state *st, uint64_t now)
{
	return timers_initiation_request(st, now) ? TIMERS_SEND_INITIATION : 0;
}

static unsigned int expire_keepalive(struct timers_state *st, uint64_t now)
{
	if (st->keepalive_again) {
		st->keepalive_again = false;
		deadline_arm(&st->keepalive, later(now, seconds(KEEPALIVE_TIMEOUT)));
	}
	return TIMERS_SEND_KEEPALIVE;
}

static unsigned int expire_persistent(struct timers_state *st)
{
	return st->persistent_keepalive_interval != 0 ?
		       TIMERS_SEND_PERSISTENT_KEEPALIVE : 0;
}

/* Returns the due deadline with the earliest time, or NULL. */
static struct timers_deadline *earliest_due(struct timers_state *st,
					    uint64_t now)
{
	/* On equal deadlines, this order decides. */
	struct timers_deadline *all[] = {
		&st->retransmit, &st->new_handshake, &st->keepalive,
		&st->persistent, &st->zero_keys,
	};
	struct timers_deadline *best = NULL;
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (deadline_due(all[i], now) &&
		    (best == NULL || all[i]->at < best->at))
			best = all[i];
	return best;
}

uint64_t timers_earliest(const struct timers_state *st)
{
	const struct timers_deadline *all[] = {
		&st->retransmit, &st->new_handshake, &st->keepalive,
		&st->persistent, &st->zero_keys,
	};
	uint64_t best = TIMERS_NEVER;
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (deadline_armed(all[i]) && all[i]->at < best)
			best = all[i]->at;
	return best;
}

/*
 * Fires the due timers one at a time in deadline order, as separate timers
 * would have fired, because one firing can change what the next one does:
 * a new-handshake timer restarts the retry count a retransmit timer reads.
 * Each firing disarms its timer and can only re-arm timers in the future,
 * so the loop ends.
 */
static unsigned int fire_due(struct timers_state *st, uint64_t now)
{
	struct timers_deadline *d;
	unsigned int actions = 0;

	while ((d = earliest_due(st, now)) != NULL) {
		deadline_disarm(d);
		if (d == &st->retransmit)
			actions |= expire_retransmit(st, now);
		else if (d == &st->new_handshake)
			actions |= expire_new_handshake(st, now);
		else if (d == &st->keepalive)
			actions |= expire_keepalive(st, now);
		else if (d == &st->persistent)
			actions |= expire_persistent(st);
		else
			actions |= TIMERS_ZERO_KEYS;
	}
	return actions;
}

unsigned int timers_next(const struct timers_state *st, uint64_t now,
			 uint64_t *deadline)
{
	/* Firing a copy answers the question without a second rule book. */
	struct timers_state copy = *st;

	if (deadline != NULL)
		*deadline = timers_earliest(st);
	return fire_due(&copy, now);
}

unsigned int timers_expire(struct timers_state *st, uint64_t now,
			   uint64_t *deadline)
{
	unsigned int actions = fire_due(st, now);

	if (deadline != NULL)
		*deadline = timers_earliest(st);
	return actions;
}
