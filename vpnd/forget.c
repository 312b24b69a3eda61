/* SPDX-License-Identifier: MIT */
/*
 * Forgetting a peer: when (forget_deadline) and how (forget_peer).  The
 * server role asks once a second (server.c); the engine and client roles
 * never forget, as wireguard-go does not.
 */
#include <string.h>

#include <sodium.h>

#include "forget.h"
#include "peer.h"

/* @a + @b, held at FORGET_NEVER rather than wrapping. */
static uint64_t sum(uint64_t a, uint64_t b)
{
	return a > FORGET_NEVER - b ? FORGET_NEVER : a + b;
}

uint64_t forget_deadline(const struct forget_times *t, uint64_t lifetime,
			 uint64_t forget_after)
{
	uint64_t quiet_from = 0;

	if (!t->had_session && !t->had_packet)
		return FORGET_NEVER;
	if (t->had_session)
		quiet_from = sum(t->session_start, lifetime);
	if (t->had_packet && t->last_received > quiet_from)
		quiet_from = t->last_received;
	return sum(quiet_from, forget_after);
}

static void newest(struct forget_times *t, const struct keypair *kp)
{
	if (!kp)
		return;
	if (!t->had_session || kp->k.birthdate > t->session_start)
		t->session_start = kp->k.birthdate;
	t->had_session = true;
}

struct forget_times forget_times_of(const struct peer *p)
{
	const struct peer_state *st = p->st;
	struct forget_times t = { 0 };

	/* Never talked, or forgotten already: nothing to forget. */
	if (!st)
		return t;
	t.had_packet = st->timers.authenticated_ever_received;
	t.last_received = st->timers.last_authenticated_received;
	/* Keypairs are wiped 540 s after the last one was made; the time of
	 * the last completed handshake outlives them. */
	if (st->timers.handshake_ever_completed) {
		t.had_session = true;
		t.session_start = st->timers.last_handshake_complete;
	}
	newest(&t, st->current);
	newest(&t, st->previous);
	newest(&t, st->next);
	return t;
}

void forget_peer(struct peer *p, uint64_t now)
{
	struct peer_state *st = p->st;
	uint16_t keepalive;
	uint64_t rekey_after_time;

	/* When it last initiated; its TAI64N timestamp must stay, or an old
	 * initiation could be replayed. */
	p->remote.last_initiation_consumption = 0;
	if (!st) {
		peer_keys_clear(p);
		return;
	}
	keepalive = st->timers.persistent_keepalive_interval;
	if (!keepalive) {
		/* No setting to keep: all of its state goes, keys, cookie,
		 * endpoint, counters and staged packets with it, and it
		 * costs what a peer that never talked does. */
		peer_deactivate(p);
		return;
	}
	rekey_after_time = st->timers.rekey_after_time;
	peer_keys_clear(p);
	peer_staged_drop(p);
	/* A cookie it gave us went with its keys (peer_keys_clear()). */
	sodium_memzero(&st->endpoint, sizeof(st->endpoint));
	sodium_memzero(&st->src, sizeof(st->src));
	sodium_memzero(&st->last_handshake, sizeof(st->last_handshake));
	st->rx_bytes = st->tx_bytes = 0;
	/* The timers' record of when things happened goes too; only the
	 * settings are kept. */
	timers_stop(&st->timers);
	timers_init(&st->timers);
	st->timers.rekey_after_time = rekey_after_time;
	st->timers.persistent_keepalive_interval = keepalive;
	peer_timer_update(p, now);
}
