/* SPDX-License-Identifier: MIT */
/*
 * Tests of the anti-replay window (vpnd/replay.c): the test vectors of the
 * Linux kernel's WireGuard counter self-test, reproduced case for case, and
 * a randomised comparison against a reference model that keeps every
 * accepted counter in a set and applies the window rule literally.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Included so that the test builds alone and can reach the statics. */
#include "../../vpnd/replay.c"

/* The kernel self-test's name for the first counter outside the window. */
enum { T_LIM = COUNTER_WINDOW_SIZE + 1 };

struct replay_case {
	uint64_t counter;
	bool fresh;
};

/*
 * The 34 numbered cases of drivers/net/wireguard/selftest/counter.c, in
 * order, all run on one counter.
 */
static const struct replay_case kernel_cases[] = {
	/*  1 */ { 0, true },
	/*  2 */ { 1, true },
	/*  3 */ { 1, false },
	/*  4 */ { 9, true },
	/*  5 */ { 8, true },
	/*  6 */ { 7, true },
	/*  7 */ { 7, false },
	/*  8 */ { T_LIM, true },
	/*  9 */ { T_LIM - 1, true },
	/* 10 */ { T_LIM - 1, false },
	/* 11 */ { T_LIM - 2, true },
	/* 12 */ { 2, true },
	/* 13 */ { 2, false },
	/* 14 */ { T_LIM + 16, true },
	/* 15 */ { 3, false },
	/* 16 */ { T_LIM + 16, false },
	/* 17 */ { T_LIM * 4, true },
	/* 18 */ { T_LIM * 4 - (T_LIM - 1), true },
	/* 19 */ { 10, false },
	/* 20 */ { T_LIM * 4 - T_LIM, false },
	/* 21 */ { T_LIM * 4 - (T_LIM + 1), false },
	/* 22 */ { T_LIM * 4 - (T_LIM - 2), true },
	/* 23 */ { T_LIM * 4 + 1 - T_LIM, false },
	/* 24 */ { 0, false },
	/* 25 */ { REJECT_AFTER_MESSAGES, false },
	/* 26 */ { REJECT_AFTER_MESSAGES - 1, true },
	/* 27 */ { REJECT_AFTER_MESSAGES, false },
	/* 28 */ { REJECT_AFTER_MESSAGES - 1, false },
	/* 29 */ { REJECT_AFTER_MESSAGES - 2, true },
	/* 30 */ { REJECT_AFTER_MESSAGES + 1, false },
	/* 31 */ { REJECT_AFTER_MESSAGES + 2, false },
	/* 32 */ { REJECT_AFTER_MESSAGES - 2, false },
	/* 33 */ { REJECT_AFTER_MESSAGES - 3, true },
	/* 34 */ { 0, false },
};

/* Fails the test, naming the step, unless @counter gives @fresh. */
static void expect(struct replay_counter *c, uint64_t counter, bool fresh,
		   const char *what, size_t step)
{
	bool got = replay_counter_validate(c, counter);

	if (got != fresh)
		fail_msg("%s, step %zu: counter %" PRIu64 " was %s, expected %s",
			 what, step, counter, got ? "fresh" : "rejected",
			 fresh ? "fresh" : "rejected");
}

static void test_kernel_numbered_cases(void **state)
{
	struct replay_counter c;
	size_t i;

	(void)state;
	assert_int_equal(sizeof(kernel_cases) / sizeof(kernel_cases[0]), 34);
	replay_counter_init(&c);
	for (i = 0; i < sizeof(kernel_cases) / sizeof(kernel_cases[0]); i++)
		expect(&c, kernel_cases[i].counter, kernel_cases[i].fresh,
		       "numbered case", i + 1);
}

/* Bulk case 1: 1..W ascending, then 0 is still inside the window. */
static void test_kernel_bulk_ascending_from_one(void **state)
{
	struct replay_counter c;
	uint64_t i;

	(void)state;
	replay_counter_init(&c);
	for (i = 1; i <= COUNTER_WINDOW_SIZE; i++)
		expect(&c, i, true, "ascending from 1", i);
	expect(&c, 0, true, "ascending from 1, then 0", 0);
	expect(&c, 0, false, "ascending from 1, then 0 again", 0);
}

/* Bulk case 2: 2..W+1 ascending; 1 is the oldest counter in the window. */
static void test_kernel_bulk_ascending_from_two(void **state)
{
	struct replay_counter c;
	uint64_t i;

	(void)state;
	replay_counter_init(&c);
	for (i = 2; i <= COUNTER_WINDOW_SIZE + 1; i++)
		expect(&c, i, true, "ascending from 2", i);
	expect(&c, 1, true, "ascending from 2, then 1", 0);
	expect(&c, 0, false, "ascending from 2, then 0", 0);
}

/* Bulk case 3: W..0 descending, all of it fits in the window. */
static void test_kernel_bulk_descending_to_zero(void **state)
{
	struct replay_counter c;
	uint64_t i;

	(void)state;
	replay_counter_init(&c);
	for (i = COUNTER_WINDOW_SIZE + 1; i-- > 0;)
		expect(&c, i, true, "descending to 0", i);
}

/* Bulk case 4: W+1..1 descending; 0 is then one below the window. */
static void test_kernel_bulk_descending_to_one(void **state)
{
	struct replay_counter c;
	uint64_t i;

	(void)state;
	replay_counter_init(&c);
	for (i = COUNTER_WINDOW_SIZE + 2; i-- > 1;)
		expect(&c, i, true, "descending from W+1", i);
	expect(&c, 0, false, "descending from W+1, then 0", 0);
}

/* Bulk case 5: W..1 descending, then W+1 advances and pushes 0 out. */
static void test_kernel_bulk_descending_then_advance(void **state)
{
	struct replay_counter c;
	uint64_t i;

	(void)state;
	replay_counter_init(&c);
	for (i = COUNTER_WINDOW_SIZE + 1; i-- > 1;)
		expect(&c, i, true, "descending from W", i);
	expect(&c, COUNTER_WINDOW_SIZE + 1, true, "then W+1", 0);
	expect(&c, 0, false, "then W+1, then 0", 0);
}

/* Bulk case 6: W..1 descending, 0 before W+1 is accepted, and W+1 after. */
static void test_kernel_bulk_descending_zero_then_advance(void **state)
{
	struct replay_counter c;
	uint64_t i;

	(void)state;
	replay_counter_init(&c);
	for (i = COUNTER_WINDOW_SIZE + 1; i-- > 1;)
		expect(&c, i, true, "descending from W", i);
	expect(&c, 0, true, "then 0", 0);
	expect(&c, COUNTER_WINDOW_SIZE + 1, true, "then 0, then W+1", 0);
}

/*
 * A jump of many laps of the ring must forget every old bit: a counter that
 * aliases a seen one but lies inside the new window is fresh.
 */
static void test_long_jump_clears_ring(void **state)
{
	struct replay_counter c;
	uint64_t i, top = 10 * (uint64_t)COUNTER_BITS_TOTAL + 5;

	(void)state;
	replay_counter_init(&c);
	for (i = 0; i < COUNTER_BITS_TOTAL; i++)
		expect(&c, i, true, "fill the ring", i);
	expect(&c, top, true, "jump", 0);
	for (i = 1; i <= COUNTER_WINDOW_SIZE; i++)
		expect(&c, top - i, true, "below the jump", i);
	expect(&c, top - COUNTER_WINDOW_SIZE - 1, false, "below the window", 0);
}

/*
 * The window edge falls on every bit position of a word: from each top
 * within one word, exactly COUNTER_WINDOW_SIZE counters below it are
 * accepted and the one after is not.
 */
static void test_window_edge_every_bit_offset(void **state)
{
	struct replay_counter c;
	uint64_t base = 3 * (uint64_t)COUNTER_BITS_TOTAL, top;
	unsigned int off;

	(void)state;
	for (off = 0; off < 2 * REPLAY_WORD_BITS; off++) {
		top = base + off;
		replay_counter_init(&c);
		expect(&c, top, true, "edge top", off);
		expect(&c, top - COUNTER_WINDOW_SIZE - 1, false, "edge just out", off);
		expect(&c, top - COUNTER_WINDOW_SIZE, true, "edge just in", off);
		expect(&c, top - COUNTER_WINDOW_SIZE, false, "edge replay", off);
		expect(&c, top, false, "edge top replay", off);
	}
}

/* Re-initialising a used counter forgets everything. */
static void test_init_resets(void **state)
{
	struct replay_counter c;

	(void)state;
	memset(&c, 0xa5, sizeof(c));
	replay_counter_init(&c);
	expect(&c, 0, true, "after init", 0);
	expect(&c, 100000, true, "after init", 1);
	replay_counter_init(&c);
	expect(&c, 0, true, "after second init", 0);
	expect(&c, 100000, true, "after second init", 1);
}

/*
 * The reference model: an open-addressed set of every accepted counter, the
 * greatest of them, and the rule stated in replay.h.  It shares no code or
 * representation with the ring.
 */
enum { REF_SLOTS = 1 << 18 };

struct reference {
	uint64_t *slot;		/* a counter plus one; zero marks a free slot */
	size_t used;
	uint64_t greatest;
	bool any;
};

static void ref_init(struct reference *r)
{
	r->slot = calloc(REF_SLOTS, sizeof(*r->slot));
	assert_non_null(r->slot);
	r->used = 0;
	r->greatest = 0;
	r->any = false;
}

static void ref_free(struct reference *r)
{
	free(r->slot);
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64_C(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return x;
}

/* Returns the slot of @counter, or the free slot where it would go. */
static uint64_t *ref_find(struct reference *r, uint64_t counter)
{
	size_t i = mix64(counter) & (REF_SLOTS - 1);

	while (r->slot[i] != 0 && r->slot[i] != counter + 1)
		i = (i + 1) & (REF_SLOTS - 1);
	return &r->slot[i];
}

static bool ref_validate(struct reference *r, uint64_t counter)
{
	uint64_t *s;

	if (counter >= REJECT_AFTER_MESSAGES)
		return false;
	if (r->any && counter < r->greatest &&
	    r->greatest - counter > COUNTER_WINDOW_SIZE)
		return false;
	s = ref_find(r, counter);
	if (*s != 0)
		return false;
	/* Keep the table at most half full so that probing stays short. */
	assert_true(r->used < REF_SLOTS / 2);
	*s = counter + 1;
	r->used++;
	if (!r->any || counter > r->greatest)
		r->greatest = counter;
	r->any = true;
	return true;
}

/* splitmix64: small, seedable, and good enough to pick test inputs. */
static uint64_t rng_next(uint64_t *s)
{
	*s += UINT64_C(0x9e3779b97f4a7c15);
	return mix64(*s);
}

/*
 * Picks the next counter to offer: mostly near the top of the window, where
 * the edge and the ring's aliasing live, sometimes a replay of the top,
 * sometimes a jump forward by up to several laps of the ring.  Near the end
 * of the counter space a jump may wrap around to a tiny counter; that is
 * deliberate, as it offers counters far below the window.
 */
static uint64_t pick_counter(uint64_t *rng, uint64_t top, uint64_t floor)
{
	uint64_t r = rng_next(rng), span = 3 * (uint64_t)COUNTER_BITS_TOTAL;
	uint64_t back;

	switch (r % 8) {
	case 0:
		return top;
	case 1:
		return top + 1 + (r >> 8) % span;
	case 2:
	case 3:
		return top + 1 + (r >> 8) % 70;
	default:
		back = (r >> 8) % (COUNTER_WINDOW_SIZE + 200);
		return top - floor >= back ? top - back : floor;
	}
}

static void run_random(uint64_t seed, uint64_t start, size_t steps)
{
	struct replay_counter c;
	struct reference ref;
	uint64_t rng = seed, top = start, counter;
	bool want;
	size_t i;

	replay_counter_init(&c);
	ref_init(&ref);
	for (i = 0; i < steps; i++) {
		counter = pick_counter(&rng, top, start);
		want = ref_validate(&ref, counter);
		if (replay_counter_validate(&c, counter) != want) {
			ref_free(&ref);
			fail_msg("seed %" PRIu64 ", step %zu: counter %" PRIu64
				 " should be %s", seed, i, counter,
				 want ? "fresh" : "rejected");
		}
		if (ref.any)
			top = ref.greatest;
	}
	ref_free(&ref);
}

static void test_random_against_reference(void **state)
{
	uint64_t seed;

	(void)state;
	for (seed = 1; seed <= 8; seed++)
		run_random(seed, 0, 60000);
}

/* The same walk, ending past REJECT_AFTER_MESSAGES. */
static void test_random_near_reject_limit(void **state)
{
	uint64_t seed;

	(void)state;
	for (seed = 100; seed < 104; seed++)
		run_random(seed, REJECT_AFTER_MESSAGES - 40000, 30000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernel_numbered_cases),
		cmocka_unit_test(test_kernel_bulk_ascending_from_one),
		cmocka_unit_test(test_kernel_bulk_ascending_from_two),
		cmocka_unit_test(test_kernel_bulk_descending_to_zero),
		cmocka_unit_test(test_kernel_bulk_descending_to_one),
		cmocka_unit_test(test_kernel_bulk_descending_then_advance),
		cmocka_unit_test(test_kernel_bulk_descending_zero_then_advance),
		cmocka_unit_test(test_long_jump_clears_ring),
		cmocka_unit_test(test_window_edge_every_bit_offset),
		cmocka_unit_test(test_init_resets),
		cmocka_unit_test(test_random_against_reference),
		cmocka_unit_test(test_random_near_reject_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
