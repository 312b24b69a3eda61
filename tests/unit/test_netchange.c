/* SPDX-License-Identifier: MIT */
/*
 * Tests of the suspend detector of vpnd/netchange.c: a sleep is
 * CLOCK_BOOTTIME running ahead of CLOCK_MONOTONIC by more than
 * NETCHANGE_SLEEP_NS between two readings; ordinary ticks, scheduling
 * jitter and clocks read out of order are not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "netchange.h"

#define S (1000ULL * 1000 * 1000)
#define MS (1000ULL * 1000)

static void test_tick_without_sleep(void **state)
{
	(void)state;
	/* Both clocks advance by the tick, give or take a read's delay. */
	assert_false(netchange_slept(100 * S, 50 * S, 102 * S, 52 * S));
	assert_false(netchange_slept(100 * S, 50 * S, 102 * S + 3 * MS,
				     52 * S));
	assert_false(netchange_slept(100 * S, 50 * S, 102 * S,
				     52 * S + 3 * MS));
}

static void test_late_tick_is_not_sleep(void **state)
{
	(void)state;
	/* A loaded machine runs the tick 30 s late: both clocks say so. */
	assert_false(netchange_slept(100 * S, 50 * S, 130 * S, 80 * S));
}

static void test_sleep(void **state)
{
	(void)state;
	/* A night: BOOTTIME counted 8 hours the other clock did not. */
	assert_true(netchange_slept(100 * S, 50 * S, 100 * S + 28800 * S,
				    52 * S));
	/* Just over the threshold, and just at it. */
	assert_true(netchange_slept(0, 0, 2 * S + NETCHANGE_SLEEP_NS + 1,
				    2 * S));
	assert_false(netchange_slept(0, 0, 2 * S + NETCHANGE_SLEEP_NS,
				     2 * S));
}

static void test_backwards_is_not_sleep(void **state)
{
	(void)state;
	/* Readings taken in the wrong order (a caller's bug) say nothing. */
	assert_false(netchange_slept(100 * S, 50 * S, 90 * S, 52 * S));
	assert_false(netchange_slept(100 * S, 50 * S, 200 * S, 40 * S));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tick_without_sleep),
		cmocka_unit_test(test_late_tick_is_not_sleep),
		cmocka_unit_test(test_sleep),
		cmocka_unit_test(test_backwards_is_not_sleep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
