/* SPDX-License-Identifier: MIT */
/*
 * The forgetting rule of the server role (vpnd/forget.c), as a function of
 * times: a peer is forgotten forget_after after the later of its newest
 * session's expiry and its last authenticated packet, checked one
 * nanosecond before and at each deadline; and which of a peer's records
 * the rule reads its times from.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "forget.h"
#include "peer.h"

static const uint64_t S = 1000000000;	/* one second in ns */
static const uint64_t T0 = UINT64_C(5000) * 1000000000;
static const uint64_t LIFE = UINT64_C(180) * 1000000000;

static bool forgotten_at(const struct forget_times *t, uint64_t after,
			 uint64_t now)
{
	return now >= forget_deadline(t, LIFE, after);
}

static void test_nothing_to_forget(void **state)
{
	struct forget_times t = { 0 };

	(void)state;
	assert_true(forget_deadline(&t, LIFE, 180 * S) == FORGET_NEVER);
	assert_true(forget_deadline(&t, LIFE, 0) == FORGET_NEVER);
}

/* A session and nothing after it: expiry + forget_after, the default. */
static void test_session_then_silence(void **state)
{
	struct forget_times t = {
		.had_session = true, .session_start = T0,
		.had_packet = true, .last_received = T0,
	};

	(void)state;
	assert_false(forgotten_at(&t, 180 * S, T0 + 360 * S - 1));
	assert_true(forgotten_at(&t, 180 * S, T0 + 360 * S));
	/* forget_after = 0: as soon as the session expired. */
	assert_false(forgotten_at(&t, 0, T0 + 180 * S - 1));
	assert_true(forgotten_at(&t, 0, T0 + 180 * S));
}

/* Packets after the session's expiry (keepalives on a rekeyed session
 * whose handshake the rule has not seen yet) keep the peer. */
static void test_packets_postpone(void **state)
{
	struct forget_times t = {
		.had_session = true, .session_start = T0,
		.had_packet = true, .last_received = T0 + 500 * S,
	};

	(void)state;
	assert_false(forgotten_at(&t, 180 * S, T0 + 680 * S - 1));
	assert_true(forgotten_at(&t, 180 * S, T0 + 680 * S));
	/* A packet inside the session does not move the deadline. */
	t.last_received = T0 + 100 * S;
	assert_true(forgotten_at(&t, 180 * S, T0 + 360 * S));
}

/* A new session moves the deadline on. */
static void test_new_session(void **state)
{
	struct forget_times t = {
		.had_session = true, .session_start = T0 + 120 * S,
		.had_packet = true, .last_received = T0 + 120 * S,
	};

	(void)state;
	assert_false(forgotten_at(&t, 180 * S, T0 + 480 * S - 1));
	assert_true(forgotten_at(&t, 180 * S, T0 + 480 * S));
}

/* An initiation that never became a session (say, from an address that
 * then went away) still left an endpoint: it is forgotten from the
 * packet. */
static void test_packet_without_session(void **state)
{
	struct forget_times t = { .had_packet = true, .last_received = T0 };

	(void)state;
	assert_false(forgotten_at(&t, 180 * S, T0 + 180 * S - 1));
	assert_true(forgotten_at(&t, 180 * S, T0 + 180 * S));
}

/* Deadlines near the top of the clock saturate rather than wrap. */
static void test_saturates(void **state)
{
	struct forget_times t = {
		.had_session = true, .session_start = UINT64_MAX - S,
	};

	(void)state;
	assert_true(forget_deadline(&t, LIFE, 180 * S) == FORGET_NEVER);
	assert_false(forgotten_at(&t, 180 * S, UINT64_MAX - 1));
}

/* The newest of the keypairs' births, or the last completed handshake
 * once the keypairs are gone. */
static void test_times_of_peer(void **state)
{
	struct keypair a, b;
	struct peer p;
	struct peer_state st;
	struct forget_times t;

	(void)state;
	/* A peer that never talked has no state, and nothing to forget. */
	memset(&p, 0, sizeof(p));
	t = forget_times_of(&p);
	assert_false(t.had_session);
	assert_false(t.had_packet);
	memset(&st, 0, sizeof(st));
	p.st = &st;
	t = forget_times_of(&p);
	assert_false(t.had_session);
	assert_false(t.had_packet);

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.k.birthdate = T0;
	b.k.birthdate = T0 + 130 * S;
	st.previous = &a;
	st.next = &b;
	st.timers.handshake_ever_completed = true;
	st.timers.last_handshake_complete = T0 + 2 * S;
	st.timers.authenticated_ever_received = true;
	st.timers.last_authenticated_received = T0 + 131 * S;
	t = forget_times_of(&p);
	assert_true(t.had_session);
	assert_true(t.session_start == T0 + 130 * S);
	assert_true(t.had_packet);
	assert_true(t.last_received == T0 + 131 * S);

	st.previous = st.next = NULL;
	t = forget_times_of(&p);
	assert_true(t.had_session);
	assert_true(t.session_start == T0 + 2 * S);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_to_forget),
		cmocka_unit_test(test_session_then_silence),
		cmocka_unit_test(test_packets_postpone),
		cmocka_unit_test(test_new_session),
		cmocka_unit_test(test_packet_without_session),
		cmocka_unit_test(test_saturates),
		cmocka_unit_test(test_times_of_peer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
