/* SPDX-License-Identifier: MIT */
/*
 * Tests of the per-peer timers (vpnd/timers.c).  Every rule is checked with
 * explicit clock values on both sides of its deadline: one nanosecond
 * before, at, and where it matters one nanosecond after.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* Included so that the test builds alone and can reach the statics. */
#include "../../vpnd/timers.c"

/* An arbitrary start, far from zero so that nothing depends on it. */
static const uint64_t T0 = UINT64_C(1000) * TIMERS_NSEC_PER_SEC;

static uint64_t sec(uint64_t s)
{
	return s * TIMERS_NSEC_PER_SEC;
}

/* The actions due at @now, checked to agree between the two queries. */
static unsigned int due(struct timers_state *st, uint64_t now)
{
	struct timers_state before;
	unsigned int predicted, fired;
	uint64_t deadline;

	memcpy(&before, st, sizeof(before));
	predicted = timers_next(st, now, &deadline);
	assert_memory_equal(&before, st, sizeof(before));
	/* The data path's query: the same time, nothing fired. */
	assert_true(timers_earliest(st) == deadline);
	fired = timers_expire(st, now, NULL);
	assert_int_equal(predicted, fired);
	if (fired != 0)
		assert_true(deadline <= now);
	return fired;
}

static uint64_t next_deadline(const struct timers_state *st)
{
	uint64_t deadline;

	timers_next(st, 0, &deadline);
	assert_true(timers_earliest(st) == deadline);
	return deadline;
}

static void test_init_is_idle(void **state)
{
	struct timers_state st;
	uint64_t deadline = 0;

	(void)state;
	memset(&st, 0xa5, sizeof(st));
	timers_init(&st);
	assert_int_equal(timers_next(&st, T0, &deadline), 0);
	assert_true(deadline == TIMERS_NEVER);
	assert_int_equal(timers_expire(&st, UINT64_MAX, &deadline), 0);
	assert_true(deadline == TIMERS_NEVER);
	/* No initiation was ever sent, so the rate limit does not apply. */
	assert_true(timers_initiation_request(&st, 0));
}

static void test_initiation_rate_limit(void **state)
{
	struct timers_state st;

	(void)state;
	timers_init(&st);
	assert_true(timers_initiation_request(&st, T0));
	/* A grant counts as sent even if the daemon never reports it. */
	assert_false(timers_initiation_request(&st, T0));
	assert_false(timers_initiation_request(&st, T0 + sec(REKEY_TIMEOUT) - 1));
	assert_true(timers_initiation_request(&st, T0 + sec(REKEY_TIMEOUT)));
	assert_false(timers_initiation_request(&st, T0 + sec(REKEY_TIMEOUT) + 1));
	assert_false(timers_initiation_request(&st, T0 + sec(2 * REKEY_TIMEOUT) - 1));
	assert_true(timers_initiation_request(&st, T0 + sec(2 * REKEY_TIMEOUT)));
}

static void test_rate_limit_counts_sent_initiations(void **state)
{
	struct timers_state st;
	uint64_t t = T0 + sec(50);

	(void)state;
	timers_init(&st);
	timers_on_handshake_initiated(&st, t, 0);
	assert_false(timers_initiation_request(&st, t + sec(REKEY_TIMEOUT) - 1));
	assert_true(timers_initiation_request(&st, t + sec(REKEY_TIMEOUT)));
}

static void test_rate_limit_counts_responses(void **state)
{
	struct timers_state st;
	uint64_t t = T0 + sec(7);

	(void)state;
	timers_init(&st);
	timers_on_handshake_response_sent(&st, t);
	assert_false(timers_initiation_request(&st, t + sec(REKEY_TIMEOUT) - 1));
	assert_true(timers_initiation_request(&st, t + sec(REKEY_TIMEOUT)));
}

static void check_retransmit_after(uint64_t jitter, uint64_t expected_delay)
{
	struct timers_state st;
	uint64_t at = T0 + expected_delay;

	timers_init(&st);
	timers_on_handshake_initiated(&st, T0, jitter);
	assert_true(next_deadline(&st) == at);
	assert_int_equal(due(&st, at - 1), 0);
	assert_int_equal(due(&st, at), TIMERS_RETRY_INITIATION);
	assert_int_equal(st.handshake_attempts, 1);
	/* Fired once; nothing more until the daemon reports the retry. */
	assert_false((st.retransmit.at != 0));
	assert_int_equal(due(&st, at + 1), 0);
}

static void test_retransmit_honours_jitter(void **state)
{
	(void)state;
	check_retransmit_after(0, sec(REKEY_TIMEOUT));
	check_retransmit_after(1, sec(REKEY_TIMEOUT) + 1);
	check_retransmit_after(123456789, sec(REKEY_TIMEOUT) + 123456789);
	check_retransmit_after(TIMERS_JITTER_MAX_NS - 1,
			       sec(REKEY_TIMEOUT) + TIMERS_JITTER_MAX_NS - 1);
}

static void test_jitter_is_clamped(void **state)
{
	(void)state;
	assert_int_equal(TIMERS_JITTER_MAX_NS,
			 REKEY_TIMEOUT_JITTER_MAX_MS * UINT64_C(1000000));
	check_retransmit_after(TIMERS_JITTER_MAX_NS,
			       sec(REKEY_TIMEOUT) + TIMERS_JITTER_MAX_NS - 1);
	check_retransmit_after(UINT64_MAX,
			       sec(REKEY_TIMEOUT) + TIMERS_JITTER_MAX_NS - 1);
}

/*
 * Drives the retransmit timer the way the daemon would, with no answer ever
 * coming back.  Returns the time of giving up; counts initiations sent.
 */
static uint64_t run_until_give_up(struct timers_state *st, uint64_t start,
				  uint64_t jitter, unsigned int *initiations)
{
	uint64_t t = start, deadline;
	unsigned int actions;

	assert_true(timers_initiation_request(st, t));
	timers_on_handshake_initiated(st, t, jitter);
	*initiations = 1;
	for (;;) {
		deadline = next_deadline(st);
		assert_true(deadline == st->retransmit.at);
		assert_int_equal(due(st, deadline - 1), 0);
		t = deadline;
		actions = due(st, t);
		if (actions & TIMERS_GIVE_UP) {
			assert_int_equal(actions, TIMERS_GIVE_UP);
			return t;
		}
		assert_int_equal(actions, TIMERS_RETRY_INITIATION);
		timers_on_handshake_initiated(st, t, jitter);
		++*initiations;
		assert_true(*initiations < 100);
	}
}

static void test_give_up_after_attempts(void **state)
{
	struct timers_state st;
	unsigned int initiations;
	uint64_t gave_up;

	(void)state;
	timers_init(&st);
	gave_up = run_until_give_up(&st, T0, 0, &initiations);
	assert_int_equal(initiations, MAX_TIMER_HANDSHAKES + 2);
	/* Twenty intervals of REKEY_TIMEOUT: REKEY_ATTEMPT_TIME and one more. */
	assert_true(gave_up == T0 + sec((MAX_TIMER_HANDSHAKES + 2) * REKEY_TIMEOUT));
	assert_true(gave_up >= T0 + sec(REKEY_ATTEMPT_TIME));
	assert_false((st.retransmit.at != 0));
	assert_true((st.zero_keys.at != 0));
	assert_true(st.zero_keys.at == gave_up + sec(3 * REJECT_AFTER_TIME));
	assert_true(next_deadline(&st) == st.zero_keys.at);
	assert_int_equal(due(&st, st.zero_keys.at - 1), 0);
	assert_int_equal(due(&st, st.zero_keys.at), TIMERS_ZERO_KEYS);
	assert_true(next_deadline(&st) == TIMERS_NEVER);
}

static void test_give_up_with_jitter(void **state)
{
	struct timers_state st;
	unsigned int initiations;
	uint64_t gave_up, j = 200 * UINT64_C(1000000);

	(void)state;
	timers_init(&st);
	gave_up = run_until_give_up(&st, T0, j, &initiations);
	assert_int_equal(initiations, MAX_TIMER_HANDSHAKES + 2);
	assert_true(gave_up ==
		    T0 + (MAX_TIMER_HANDSHAKES + 2) * (sec(REKEY_TIMEOUT) + j));
}

/*
 * Data can still arrive on an old keypair while our handshakes go
 * unanswered; the keepalive it is owed is dropped with the queue.
 */
static void test_give_up_drops_keepalive(void **state)
{
	struct timers_state st;
	uint64_t at = T0 + sec(REKEY_TIMEOUT);

	(void)state;
	timers_init(&st);
	timers_on_handshake_initiated(&st, T0, 0);
	st.handshake_attempts = MAX_TIMER_HANDSHAKES + 1;
	timers_on_data_received(&st, T0 + sec(1));
	assert_true((st.keepalive.at != 0));
	assert_int_equal(due(&st, at - 1), 0);
	assert_int_equal(due(&st, at), TIMERS_GIVE_UP);
	assert_false((st.keepalive.at != 0));
	assert_true(next_deadline(&st) == at + sec(3 * REJECT_AFTER_TIME));

	/* One attempt fewer, and it retries instead. */
	timers_init(&st);
	timers_on_handshake_initiated(&st, T0, 0);
	st.handshake_attempts = MAX_TIMER_HANDSHAKES;
	assert_int_equal(due(&st, at), TIMERS_RETRY_INITIATION);
	assert_int_equal(st.handshake_attempts, MAX_TIMER_HANDSHAKES + 1);
}

/* A zero-keys deadline already set by a session is not moved by giving up. */
static void test_give_up_keeps_pending_zero_keys(void **state)
{
	struct timers_state st;
	unsigned int initiations;

	(void)state;
	timers_init(&st);
	timers_on_session_derived(&st, T0);
	run_until_give_up(&st, T0 + sec(1), 0, &initiations);
	assert_true(st.zero_keys.at == T0 + sec(3 * REJECT_AFTER_TIME));
}

static void test_handshake_complete_stops_retransmit(void **state)
{
	struct timers_state st;
	uint64_t at = T0 + sec(REKEY_TIMEOUT) + 7;

	(void)state;
	timers_init(&st);
	timers_on_handshake_initiated(&st, T0, 7);
	assert_int_equal(due(&st, at), TIMERS_RETRY_INITIATION);
	timers_on_handshake_initiated(&st, at, 0);
	assert_int_equal(st.handshake_attempts, 1);
	timers_on_handshake_complete(&st, at + sec(1));
	assert_int_equal(st.handshake_attempts, 0);
	assert_false((st.retransmit.at != 0));
	assert_int_equal(due(&st, at + sec(60)), 0);
	assert_true(st.handshake_ever_completed);
	assert_true(st.last_handshake_complete == at + sec(1));
}

/* A new reason to handshake restarts the count, even when rate limited. */
static void test_request_restarts_attempts(void **state)
{
	struct timers_state st;
	uint64_t t = T0;
	int i;

	(void)state;
	timers_init(&st);
	timers_on_handshake_initiated(&st, t, 0);
	for (i = 0; i < 3; i++) {
		t += sec(REKEY_TIMEOUT);
		assert_int_equal(due(&st, t), TIMERS_RETRY_INITIATION);
		timers_on_handshake_initiated(&st, t, 0);
	}
	assert_int_equal(st.handshake_attempts, 3);
	assert_false(timers_initiation_request(&st, t + 1));
	assert_int_equal(st.handshake_attempts, 0);
	/* The retransmit timer keeps running. */
	assert_int_equal(due(&st, t + sec(REKEY_TIMEOUT)), TIMERS_RETRY_INITIATION);
}

static void test_keepalive_after_data_received(void **state)
{
	struct timers_state st;
	uint64_t at = T0 + sec(KEEPALIVE_TIMEOUT);

	(void)state;
	timers_init(&st);
	timers_on_data_received(&st, T0);
	assert_true(next_deadline(&st) == at);
	assert_int_equal(due(&st, at - 1), 0);
	assert_int_equal(due(&st, at), TIMERS_SEND_KEEPALIVE);
	assert_int_equal(due(&st, at + 1), 0);
	assert_true(next_deadline(&st) == TIMERS_NEVER);
}

static void test_keepalive_cancelled_by_sending(void **state)
{
	struct timers_state st;

	(void)state;
	timers_init(&st);
	timers_on_data_received(&st, T0);
	timers_on_authenticated_packet_sent(&st, T0 + sec(KEEPALIVE_TIMEOUT) - 1);
	assert_int_equal(due(&st, T0 + sec(KEEPALIVE_TIMEOUT)), 0);
	assert_true(next_deadline(&st) == TIMERS_NEVER);
	assert_true(st.authenticated_ever_sent);
	assert_true(st.last_authenticated_sent == T0 + sec(KEEPALIVE_TIMEOUT) - 1);
}

/*
 * More data does not push the keepalive back; it earns a second keepalive
 * KEEPALIVE_TIMEOUT after the first, unless we send something meanwhile.
 */
static void test_keepalive_again(void **state)
{
	struct timers_state st;
	uint64_t at = T0 + sec(KEEPALIVE_TIMEOUT);
	uint64_t deadline;

	(void)state;
	timers_init(&st);
	timers_on_data_received(&st, T0);
	timers_on_data_received(&st, T0 + sec(9));
	assert_true(next_deadline(&st) == at);
	assert_int_equal(timers_expire(&st, at, &deadline), TIMERS_SEND_KEEPALIVE);
	assert_true(deadline == at + sec(KEEPALIVE_TIMEOUT));
	assert_int_equal(due(&st, deadline - 1), 0);
	assert_int_equal(due(&st, deadline), TIMERS_SEND_KEEPALIVE);
	/* The second was the last. */
	assert_true(next_deadline(&st) == TIMERS_NEVER);

	/* Sending the first keepalive cancels the second. */
	timers_init(&st);
	timers_on_data_received(&st, T0);
	timers_on_data_received(&st, T0 + 1);
	assert_int_equal(due(&st, at), TIMERS_SEND_KEEPALIVE);
	timers_on_authenticated_packet_sent(&st, at);
	assert_true(next_deadline(&st) == TIMERS_NEVER);
}

static void test_new_handshake_after_silence(void **state)
{
	struct timers_state st;
	uint64_t j = 333 * UINT64_C(1000000);
	uint64_t at = T0 + sec(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) + j;

	(void)state;
	timers_init(&st);
	timers_on_data_sent(&st, T0, j);
	/* Later data does not push the deadline back. */
	timers_on_data_sent(&st, T0 + sec(5), 0);
	assert_true(next_deadline(&st) == at);
	assert_int_equal(due(&st, at - 1), 0);
	assert_int_equal(due(&st, at), TIMERS_SEND_INITIATION);
	assert_int_equal(due(&st, at + 1), 0);
	assert_true(st.handshake_ever_sent);
	assert_true(st.last_handshake_sent == at);
}

static void test_new_handshake_without_jitter(void **state)
{
	struct timers_state st;
	uint64_t at = T0 + sec(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT);

	(void)state;
	timers_init(&st);
	timers_on_data_sent(&st, T0, 0);
	assert_int_equal(due(&st, at - 1), 0);
	assert_int_equal(due(&st, at), TIMERS_SEND_INITIATION);
}

static void test_new_handshake_cancelled_by_receiving(void **state)
{
	struct timers_state st;
	uint64_t at = T0 + sec(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT);

	(void)state;
	timers_init(&st);
	timers_on_data_sent(&st, T0, 0);
	timers_on_authenticated_packet_received(&st, at - 1);
	assert_int_equal(due(&st, at), 0);
	assert_true(st.authenticated_ever_received);
	assert_true(st.last_authenticated_received == at - 1);
	/* The next data sent starts a fresh count. */
	timers_on_data_sent(&st, at, 0);
	assert_true(next_deadline(&st) ==
		    at + sec(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT));
}

/*
 * The new-handshake timer obeys the rate limit: it fires, but asks for
 * nothing when a handshake message went out less than REKEY_TIMEOUT ago.
 */
static void test_new_handshake_rate_limited(void **state)
{
	struct timers_state st;
	uint64_t at = T0 + sec(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT);
	uint64_t deadline;

	(void)state;
	timers_init(&st);
	timers_on_data_sent(&st, T0, 0);
	timers_on_handshake_response_sent(&st, at - sec(REKEY_TIMEOUT) + 1);
	assert_int_equal(timers_next(&st, at, &deadline), 0);
	assert_true(deadline == at);
	assert_int_equal(timers_expire(&st, at, &deadline), 0);
	assert_true(deadline == TIMERS_NEVER);

	/* One nanosecond earlier, the same response does not hold it back. */
	timers_init(&st);
	timers_on_data_sent(&st, T0, 0);
	timers_on_handshake_response_sent(&st, at - sec(REKEY_TIMEOUT));
	assert_int_equal(due(&st, at), TIMERS_SEND_INITIATION);
}

static void test_new_handshake_restarts_attempts(void **state)
{
	struct timers_state st;

	(void)state;
	timers_init(&st);
	st.handshake_attempts = 7;
	timers_on_data_sent(&st, T0, 0);
	assert_int_equal(due(&st, T0 + sec(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT)),
			 TIMERS_SEND_INITIATION);
	assert_int_equal(st.handshake_attempts, 0);
}

static void test_persistent_keepalive(void **state)
{
	struct timers_state st;
	uint64_t at;

	(void)state;
	timers_init(&st);
	/* Off: traffic arms nothing. */
	timers_on_authenticated_packet_traversal(&st, T0);
	assert_true(next_deadline(&st) == TIMERS_NEVER);

	assert_true(timers_set_persistent_keepalive(&st, 25));
	assert_false(timers_set_persistent_keepalive(&st, 25));
	assert_false(timers_set_persistent_keepalive(&st, 30));
	assert_false(timers_set_persistent_keepalive(&st, 25));
	timers_on_authenticated_packet_traversal(&st, T0);
	at = T0 + sec(25);
	assert_true(next_deadline(&st) == at);
	assert_int_equal(due(&st, at - 1), 0);
	assert_int_equal(due(&st, at), TIMERS_SEND_PERSISTENT_KEEPALIVE);
	assert_true(next_deadline(&st) == TIMERS_NEVER);

	/* Any traffic, received included, restarts the interval. */
	timers_on_authenticated_packet_traversal(&st, at);
	timers_on_authenticated_packet_traversal(&st, at + sec(10));
	assert_int_equal(due(&st, at + sec(25)), 0);
	assert_int_equal(due(&st, at + sec(35) - 1), 0);
	assert_int_equal(due(&st, at + sec(35)), TIMERS_SEND_PERSISTENT_KEEPALIVE);

	/* Turning it off disarms it. */
	timers_on_authenticated_packet_traversal(&st, at + sec(35));
	assert_false(timers_set_persistent_keepalive(&st, 0));
	assert_true(next_deadline(&st) == TIMERS_NEVER);
	assert_int_equal(due(&st, at + sec(100)), 0);

	/*
	 * The structure is public; a deadline left armed with the interval
	 * zeroed behind the module's back still sends nothing.
	 */
	deadline_arm(&st.persistent, T0);
	assert_int_equal(due(&st, T0), 0);
	assert_true(timers_set_persistent_keepalive(&st, 1));
	timers_on_authenticated_packet_traversal(&st, T0);
	assert_int_equal(due(&st, T0 + sec(1) - 1), 0);
	assert_int_equal(due(&st, T0 + sec(1)), TIMERS_SEND_PERSISTENT_KEEPALIVE);
}

static void test_zero_keys(void **state)
{
	struct timers_state st;
	uint64_t at = T0 + sec(3 * REJECT_AFTER_TIME);

	(void)state;
	timers_init(&st);
	timers_on_session_derived(&st, T0);
	assert_true(next_deadline(&st) == at);
	assert_int_equal(due(&st, at - 1), 0);
	assert_int_equal(due(&st, at), TIMERS_ZERO_KEYS);
	assert_int_equal(due(&st, at + 1), 0);

	/* Every new session postpones it. */
	timers_on_session_derived(&st, T0);
	timers_on_session_derived(&st, T0 + sec(100));
	assert_int_equal(due(&st, at), 0);
	assert_int_equal(due(&st, at + sec(100) - 1), 0);
	assert_int_equal(due(&st, at + sec(100)), TIMERS_ZERO_KEYS);
}

static void test_rekey_on_send_by_age(void **state)
{
	struct timers_state st;
	struct timers_keypair kp = { .birth = T0, .send_counter = 5,
				     .initiator = true };
	uint64_t at = T0 + sec(REKEY_AFTER_TIME);

	(void)state;
	timers_init(&st);
	assert_false(timers_rekey_check_send(&st, at - 1, &kp));
	assert_true(timers_rekey_check_send(&st, at, &kp));
	/* Every later packet asks again, but the rate limit holds. */
	assert_false(timers_rekey_check_send(&st, at + 1, &kp));
	assert_false(timers_rekey_check_send(&st, at + sec(REKEY_TIMEOUT) - 1, &kp));
	assert_true(timers_rekey_check_send(&st, at + sec(REKEY_TIMEOUT), &kp));

	/* The responder never rekeys on age. */
	timers_init(&st);
	kp.initiator = false;
	assert_false(timers_rekey_check_send(&st, at, &kp));
	assert_false(timers_rekey_check_send(&st, T0 + sec(REJECT_AFTER_TIME), &kp));
	assert_false(timers_rekey_check_send(&st, at, NULL));
}

static void test_rekey_on_send_by_count(void **state)
{
	struct timers_state st;
	struct timers_keypair kp = { .birth = T0,
				     .send_counter = REKEY_AFTER_MESSAGES,
				     .initiator = false };

	(void)state;
	timers_init(&st);
	assert_false(timers_rekey_check_send(&st, T0 + 1, &kp));
	kp.send_counter = REKEY_AFTER_MESSAGES + 1;
	assert_true(timers_rekey_check_send(&st, T0 + 1, &kp));
	timers_init(&st);
	kp.initiator = true;
	assert_true(timers_rekey_check_send(&st, T0 + 1, &kp));
}

static void test_rekey_resets_attempts(void **state)
{
	struct timers_state st;
	struct timers_keypair kp = { .birth = T0, .send_counter = 0,
				     .initiator = true };

	(void)state;
	timers_init(&st);
	st.handshake_attempts = 4;
	assert_true(timers_rekey_check_send(&st, T0 + sec(REKEY_AFTER_TIME), &kp));
	assert_int_equal(st.handshake_attempts, 0);
}

static void test_rekey_on_receive(void **state)
{
	struct timers_state st;
	struct timers_keypair kp = { .birth = T0, .send_counter = 0,
				     .initiator = true };
	uint64_t at = T0 + sec(REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT -
			       REKEY_TIMEOUT);

	(void)state;
	timers_init(&st);
	assert_false(timers_rekey_check_receive(&st, at - 1, &kp));
	assert_false(st.lastminute_handshake_sent);
	assert_true(timers_rekey_check_receive(&st, at, &kp));
	/* Once per session, even after the rate limit has passed. */
	assert_false(timers_rekey_check_receive(&st, at + sec(REKEY_TIMEOUT), &kp));
	/* A completed handshake re-enables it. */
	timers_on_handshake_complete(&st, at + sec(REKEY_TIMEOUT));
	assert_true(timers_rekey_check_receive(&st, at + sec(REKEY_TIMEOUT), &kp));

	/* Spent even when the rate limit held the initiation back. */
	timers_init(&st);
	timers_on_handshake_response_sent(&st, at - 1);
	assert_false(timers_rekey_check_receive(&st, at, &kp));
	assert_true(st.lastminute_handshake_sent);
	assert_false(timers_rekey_check_receive(&st, at + sec(REKEY_TIMEOUT), &kp));

	/* Only the initiator rekeys this way; the count does not matter. */
	timers_init(&st);
	kp.initiator = false;
	kp.send_counter = REKEY_AFTER_MESSAGES + 1;
	assert_false(timers_rekey_check_receive(&st, at, &kp));
	assert_false(timers_rekey_check_receive(&st, T0 + sec(REJECT_AFTER_TIME), &kp));
	assert_false(timers_rekey_check_receive(&st, at, NULL));
}

static void test_keypair_lifetime(void **state)
{
	struct timers_keypair kp = { .birth = T0, .send_counter = 0,
				     .initiator = true };
	uint64_t end = T0 + sec(REJECT_AFTER_TIME);

	(void)state;
	assert_true(timers_keypair_can_send(&kp, T0));
	assert_true(timers_keypair_can_send(&kp, end - 1));
	assert_false(timers_keypair_can_send(&kp, end));
	assert_false(timers_keypair_can_send(&kp, end + 1));
	assert_true(timers_keypair_can_receive(&kp, end - 1));
	assert_false(timers_keypair_can_receive(&kp, end));

	kp.send_counter = REJECT_AFTER_MESSAGES - 1;
	assert_true(timers_keypair_can_send(&kp, T0));
	kp.send_counter = REJECT_AFTER_MESSAGES;
	assert_false(timers_keypair_can_send(&kp, T0));
	/* The send counter does not limit receiving. */
	assert_true(timers_keypair_can_receive(&kp, T0));
}

/*
 * Timers due together fire in deadline order.  When the retransmit timer
 * (out of attempts) is the earlier, it gives up before the new-handshake
 * timer starts over; when it is the later, the new handshake has already
 * restarted the count and taken the rate limit's slot.
 */
static void test_simultaneous_timers_fire_in_order(void **state)
{
	struct timers_state st;
	uint64_t late = T0 + sec(200);

	(void)state;
	timers_init(&st);
	st.handshake_attempts = MAX_TIMER_HANDSHAKES + 1;
	deadline_arm(&st.retransmit, T0 + sec(10));
	deadline_arm(&st.new_handshake, T0 + sec(11));
	assert_int_equal(due(&st, late), TIMERS_GIVE_UP | TIMERS_SEND_INITIATION);
	assert_int_equal(st.handshake_attempts, 0);

	timers_init(&st);
	st.handshake_attempts = MAX_TIMER_HANDSHAKES + 1;
	deadline_arm(&st.retransmit, T0 + sec(11));
	deadline_arm(&st.new_handshake, T0 + sec(10));
	assert_int_equal(due(&st, late), TIMERS_SEND_INITIATION);
	assert_int_equal(st.handshake_attempts, 1);
}

static void test_next_reports_earliest_deadline(void **state)
{
	struct timers_state st;
	uint64_t deadline;

	(void)state;
	timers_init(&st);
	timers_set_persistent_keepalive(&st, 30);
	timers_on_session_derived(&st, T0);
	timers_on_authenticated_packet_traversal(&st, T0);
	timers_on_data_sent(&st, T0, 0);
	timers_on_data_received(&st, T0 + sec(1));
	timers_on_handshake_initiated(&st, T0 + sec(3), 5);

	assert_int_equal(timers_next(&st, T0 + sec(3), &deadline), 0);
	assert_true(deadline == T0 + sec(3 + REKEY_TIMEOUT) + 5);
	assert_int_equal(timers_expire(&st, deadline, &deadline),
			 TIMERS_RETRY_INITIATION);
	assert_true(deadline == T0 + sec(1 + KEEPALIVE_TIMEOUT));
	assert_int_equal(timers_expire(&st, deadline, &deadline),
			 TIMERS_SEND_KEEPALIVE);
	assert_true(deadline == T0 + sec(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT));
	assert_int_equal(timers_expire(&st, deadline, &deadline),
			 TIMERS_SEND_INITIATION);
	assert_true(deadline == T0 + sec(30));
	assert_int_equal(timers_expire(&st, deadline, &deadline),
			 TIMERS_SEND_PERSISTENT_KEEPALIVE);
	assert_true(deadline == T0 + sec(3 * REJECT_AFTER_TIME));
	assert_int_equal(timers_expire(&st, deadline, &deadline),
			 TIMERS_ZERO_KEYS);
	assert_true(deadline == TIMERS_NEVER);

	/* A NULL deadline is allowed. */
	assert_int_equal(timers_next(&st, T0, NULL), 0);
	assert_int_equal(timers_expire(&st, T0, NULL), 0);
}

/* A late wake-up fires everything that fell due, once each. */
static void test_late_wakeup_fires_all(void **state)
{
	struct timers_state st;

	(void)state;
	timers_init(&st);
	timers_set_persistent_keepalive(&st, 15);
	timers_on_authenticated_packet_traversal(&st, T0);
	timers_on_data_received(&st, T0);
	timers_on_session_derived(&st, T0);
	assert_int_equal(due(&st, T0 + sec(10000)),
			 TIMERS_SEND_KEEPALIVE | TIMERS_SEND_PERSISTENT_KEEPALIVE |
			 TIMERS_ZERO_KEYS);
	assert_true(next_deadline(&st) == TIMERS_NEVER);
}

static void test_stop_disarms_everything(void **state)
{
	struct timers_state st;

	(void)state;
	timers_init(&st);
	timers_set_persistent_keepalive(&st, 15);
	timers_on_authenticated_packet_traversal(&st, T0);
	timers_on_data_received(&st, T0);
	timers_on_data_sent(&st, T0, 0);
	timers_on_handshake_initiated(&st, T0, 0);
	timers_on_session_derived(&st, T0);
	timers_stop(&st);
	assert_true(next_deadline(&st) == TIMERS_NEVER);
	assert_int_equal(due(&st, UINT64_MAX), 0);
}

/* Near the end of the clock, deadlines saturate instead of wrapping. */
static void test_deadlines_saturate(void **state)
{
	struct timers_state st;
	struct timers_keypair kp = { .birth = UINT64_MAX - 10, .send_counter = 0,
				     .initiator = true };

	(void)state;
	timers_init(&st);
	timers_on_data_received(&st, UINT64_MAX - 5);
	assert_true(st.keepalive.at == TIMERS_NEVER);
	assert_int_equal(due(&st, UINT64_MAX - 1), 0);
	assert_int_equal(due(&st, UINT64_MAX), TIMERS_SEND_KEEPALIVE);
	assert_true(timers_keypair_can_send(&kp, UINT64_MAX - 1));
	assert_true(timers_keypair_can_receive(&kp, UINT64_MAX - 1));
	assert_false(timers_rekey_check_send(&st, UINT64_MAX - 1, &kp));
}

/*
 * One session's life, as the daemon would drive it: we initiate, the peer
 * answers, data flows both ways, and at REKEY_AFTER_TIME our next send
 * starts the rekey.
 */
static void test_session_life(void **state)
{
	struct timers_state st;
	struct timers_keypair kp;
	uint64_t t = T0, deadline;

	(void)state;
	timers_init(&st);
	assert_true(timers_initiation_request(&st, t));
	timers_on_authenticated_packet_traversal(&st, t);
	timers_on_authenticated_packet_sent(&st, t);
	timers_on_handshake_initiated(&st, t, 1000);

	t += 30 * UINT64_C(1000000);	/* the response, 30 ms later */
	timers_on_session_derived(&st, t);
	timers_on_handshake_complete(&st, t);
	timers_on_authenticated_packet_received(&st, t);
	timers_on_authenticated_packet_traversal(&st, t);
	kp = (struct timers_keypair){ .birth = t, .initiator = true };
	assert_true(next_deadline(&st) == t + sec(3 * REJECT_AFTER_TIME));

	/* Ping-pong every second for a while: no timer ever fires. */
	for (; t < T0 + sec(REKEY_AFTER_TIME) - sec(1); t += sec(1)) {
		assert_int_equal(due(&st, t), 0);
		timers_on_authenticated_packet_traversal(&st, t);
		timers_on_authenticated_packet_sent(&st, t);
		timers_on_data_sent(&st, t, 0);
		kp.send_counter++;
		assert_false(timers_rekey_check_send(&st, t, &kp));
		timers_on_authenticated_packet_received(&st, t + 1);
		timers_on_authenticated_packet_traversal(&st, t + 1);
		timers_on_data_received(&st, t + 1);
		assert_false(timers_rekey_check_receive(&st, t + 1, &kp));
		assert_true(timers_keypair_can_send(&kp, t));
	}
	/* The keepalive owed for the last reply is still pending. */
	assert_true(timers_next(&st, t, &deadline) == 0);
	assert_true(deadline > t);

	t = kp.birth + sec(REKEY_AFTER_TIME);
	timers_on_authenticated_packet_sent(&st, t);
	timers_on_data_sent(&st, t, 0);
	assert_true(timers_rekey_check_send(&st, t, &kp));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_is_idle),
		cmocka_unit_test(test_initiation_rate_limit),
		cmocka_unit_test(test_rate_limit_counts_sent_initiations),
		cmocka_unit_test(test_rate_limit_counts_responses),
		cmocka_unit_test(test_retransmit_honours_jitter),
		cmocka_unit_test(test_jitter_is_clamped),
		cmocka_unit_test(test_give_up_after_attempts),
		cmocka_unit_test(test_give_up_with_jitter),
		cmocka_unit_test(test_give_up_drops_keepalive),
		cmocka_unit_test(test_give_up_keeps_pending_zero_keys),
		cmocka_unit_test(test_handshake_complete_stops_retransmit),
		cmocka_unit_test(test_request_restarts_attempts),
		cmocka_unit_test(test_keepalive_after_data_received),
		cmocka_unit_test(test_keepalive_cancelled_by_sending),
		cmocka_unit_test(test_keepalive_again),
		cmocka_unit_test(test_new_handshake_after_silence),
		cmocka_unit_test(test_new_handshake_without_jitter),
		cmocka_unit_test(test_new_handshake_cancelled_by_receiving),
		cmocka_unit_test(test_new_handshake_rate_limited),
		cmocka_unit_test(test_new_handshake_restarts_attempts),
		cmocka_unit_test(test_persistent_keepalive),
		cmocka_unit_test(test_zero_keys),
		cmocka_unit_test(test_rekey_on_send_by_age),
		cmocka_unit_test(test_rekey_on_send_by_count),
		cmocka_unit_test(test_rekey_resets_attempts),
		cmocka_unit_test(test_rekey_on_receive),
		cmocka_unit_test(test_keypair_lifetime),
		cmocka_unit_test(test_simultaneous_timers_fire_in_order),
		cmocka_unit_test(test_next_reports_earliest_deadline),
		cmocka_unit_test(test_late_wakeup_fires_all),
		cmocka_unit_test(test_stop_disarms_everything),
		cmocka_unit_test(test_deadlines_saturate),
		cmocka_unit_test(test_session_life),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
