/* SPDX-License-Identifier: MIT */
/*
 * Fragments in a send batch (fragment.h): which packets are IPv4 or IPv6
 * fragments and of which kind, and the order that sends a batch of nothing
 * but fragments with its first fragments ahead of the later ones, each
 * group in the order read, while any other batch keeps its order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fragment.h"

enum { F_NONE = FRAGMENT_NONE, F_FIRST = FRAGMENT_FIRST,
       F_LATER = FRAGMENT_LATER };

/* An IPv4 header with this flags-and-offset field (host order). */
static void ipv4(uint8_t p[20], uint16_t frag)
{
	memset(p, 0, 20);
	p[0] = 0x45;
	p[6] = (uint8_t)(frag >> 8);
	p[7] = (uint8_t)frag;
	p[9] = 17;
}

/* An IPv6 header, then a fragment header with this offset-and-M field
 * when next is 44, else next as the first header after the fixed one. */
static void ipv6(uint8_t p[48], uint8_t next, uint16_t frag)
{
	memset(p, 0, 48);
	p[0] = 0x60;
	p[6] = next;
	p[40] = 17;
	p[42] = (uint8_t)(frag >> 8);
	p[43] = (uint8_t)frag;
}

static void test_ipv4_kinds(void **state)
{
	static const struct {
		uint16_t frag;
		enum fragment_kind want;
	} cases[] = {
		{ 0x0000, FRAGMENT_NONE },	/* whole */
		{ 0x4000, FRAGMENT_NONE },	/* whole, DF */
		{ 0x2000, FRAGMENT_FIRST },	/* MF, offset 0 */
		{ 0x20b9, FRAGMENT_LATER },	/* MF, offset 185 (1480 bytes) */
		{ 0x00af, FRAGMENT_LATER },	/* the last, offset 175 */
		{ 0x0001, FRAGMENT_LATER },	/* the smallest offset */
		{ 0x1fff, FRAGMENT_LATER },	/* the largest */
	};
	uint8_t p[20];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ipv4(p, cases[i].frag);
		assert_int_equal(fragment_kind(p, sizeof(p)), cases[i].want);
		/* One byte short of a header: nothing can be read. */
		assert_int_equal(fragment_kind(p, sizeof(p) - 1), FRAGMENT_NONE);
	}
}

static void test_ipv6_kinds(void **state)
{
	uint8_t p[48];

	(void)state;
	ipv6(p, 44, 0x0001);			/* M, offset 0 */
	assert_int_equal(fragment_kind(p, sizeof(p)), FRAGMENT_FIRST);
	ipv6(p, 44, 0x0571);			/* M, offset 174 */
	assert_int_equal(fragment_kind(p, sizeof(p)), FRAGMENT_LATER);
	ipv6(p, 44, 0x0570);			/* the last */
	assert_int_equal(fragment_kind(p, sizeof(p)), FRAGMENT_LATER);
	ipv6(p, 44, 0x0000);			/* an atomic fragment: whole */
	assert_int_equal(fragment_kind(p, sizeof(p)), FRAGMENT_NONE);
	ipv6(p, 44, 0x0006);			/* reserved bits only */
	assert_int_equal(fragment_kind(p, sizeof(p)), FRAGMENT_NONE);
	/* The fragment header cut short. */
	ipv6(p, 44, 0x0001);
	assert_int_equal(fragment_kind(p, 47), FRAGMENT_NONE);
	/* Behind another extension header: left alone. */
	ipv6(p, 0, 0x0001);
	assert_int_equal(fragment_kind(p, sizeof(p)), FRAGMENT_NONE);
	ipv6(p, 17, 0x0001);
	assert_int_equal(fragment_kind(p, sizeof(p)), FRAGMENT_NONE);
}

static void test_not_ip(void **state)
{
	uint8_t p[48] = { 0 };

	(void)state;
	assert_int_equal(fragment_kind(p, 0), FRAGMENT_NONE);
	p[0] = 0x50;
	p[6] = 0x20;
	assert_int_equal(fragment_kind(p, sizeof(p)), FRAGMENT_NONE);
}

/* fragment_order() on kinds, against want (NULL: keep the order). */
static void check_order(const uint8_t *kinds, unsigned int n,
			const unsigned int *want)
{
	unsigned int order[32];

	memset(order, 0xff, sizeof(order));
	if (!want) {
		assert_false(fragment_order(kinds, n, order));
		return;
	}
	assert_true(fragment_order(kinds, n, order));
	assert_memory_equal(order, want, n * sizeof(*want));
}

static void test_order(void **state)
{
	static const uint8_t pairs[] = { F_FIRST, F_LATER, F_FIRST, F_LATER,
					 F_FIRST, F_LATER };
	static const unsigned int pairs_want[] = { 0, 2, 4, 1, 3, 5 };
	/* A later fragment of a datagram from the previous batch first,
	 * and one of three fragments. */
	static const uint8_t carried[] = { F_LATER, F_FIRST, F_LATER, F_LATER,
					   F_FIRST, F_LATER };
	static const unsigned int carried_want[] = { 1, 4, 0, 2, 3, 5 };
	static const uint8_t with_whole[] = { F_FIRST, F_LATER, F_NONE,
					      F_FIRST, F_LATER };
	static const uint8_t in_order[] = { F_FIRST, F_FIRST, F_LATER,
					    F_LATER };
	static const uint8_t firsts[] = { F_FIRST, F_FIRST, F_FIRST };
	static const uint8_t laters[] = { F_LATER, F_LATER };
	static const uint8_t wholes[] = { F_NONE, F_NONE, F_NONE };

	(void)state;
	check_order(pairs, 6, pairs_want);
	check_order(carried, 6, carried_want);
	/* Anything whole in the batch: no packet moves. */
	check_order(with_whole, 5, NULL);
	/* Already first fragments first, or one kind alone. */
	check_order(in_order, 4, NULL);
	check_order(firsts, 3, NULL);
	check_order(laters, 2, NULL);
	check_order(wholes, 3, NULL);
	check_order(pairs, 0, NULL);
	check_order(pairs, 1, NULL);
}

/* A full batch of alternating fragments: the first halves' positions are
 * the even ones, the later halves' the odd ones, each in order. */
static void test_order_full_batch(void **state)
{
	uint8_t kinds[32];
	unsigned int want[32];

	(void)state;
	for (unsigned int i = 0; i < 32; i++) {
		kinds[i] = i % 2 ? F_LATER : F_FIRST;
		want[i] = i < 16 ? 2 * i : 2 * (i - 16) + 1;
	}
	check_order(kinds, 32, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_kinds),
		cmocka_unit_test(test_ipv6_kinds),
		cmocka_unit_test(test_not_ip),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_order_full_batch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
