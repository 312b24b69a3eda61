/* SPDX-License-Identifier: MIT */
/*
 * The handshake rate limiter: the burst and the refill rate, IPv6 sources
 * grouped by /64, the bound on sources, and a garbage collection that
 * forgets idle sources without handing any live one a fresh bucket.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ratelimiter.h"

static const uint64_t MS = 1000000ULL;

static struct sockaddr_in v4(uint32_t addr)
{
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(9) };

	s.sin_addr.s_addr = htonl(addr);
	return s;
}

static int burst(struct ratelimiter *rl, const struct sockaddr *src,
		 uint64_t now)
{
	int n = 0;

	while (n < 100 && ratelimiter_allow(rl, src, now))
		n++;
	return n;
}

static void test_burst_and_rate(void **state)
{
	struct ratelimiter rl;
	struct sockaddr_in a = v4(0x0a000001), b = v4(0x0a000002);
	uint64_t t = 1000 * MS;

	(void)state;
	assert_int_equal(ratelimiter_init(&rl, NULL), 0);
	assert_int_equal(burst(&rl, (struct sockaddr *)&a, t), 5);
	/* Another source has its own bucket. */
	assert_int_equal(burst(&rl, (struct sockaddr *)&b, t), 5);
	/* 20 a second: one more every 50 ms, not sooner. */
	assert_false(ratelimiter_allow(&rl, (struct sockaddr *)&a, t + 49 * MS));
	assert_true(ratelimiter_allow(&rl, (struct sockaddr *)&a, t + 50 * MS));
	assert_false(ratelimiter_allow(&rl, (struct sockaddr *)&a, t + 50 * MS));
	/* A long pause refills no more than the burst. */
	assert_int_equal(burst(&rl, (struct sockaddr *)&a, t + 60000 * MS), 5);
	ratelimiter_free(&rl);
}

static void test_ipv6_by_64(void **state)
{
	struct ratelimiter rl;
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 }, b, c;

	(void)state;
	inet_pton(AF_INET6, "2001:db8:1:2::1", &a.sin6_addr);
	b = a;
	inet_pton(AF_INET6, "2001:db8:1:2:ffff::9", &b.sin6_addr);
	c = a;
	inet_pton(AF_INET6, "2001:db8:1:3::1", &c.sin6_addr);
	assert_int_equal(ratelimiter_init(&rl, NULL), 0);
	assert_int_equal(burst(&rl, (struct sockaddr *)&a, MS), 5);
	/* Same /64: the same bucket, already empty. */
	assert_int_equal(burst(&rl, (struct sockaddr *)&b, MS), 0);
	assert_int_equal(burst(&rl, (struct sockaddr *)&c, MS), 5);
	ratelimiter_free(&rl);
}

static void test_table_bound(void **state)
{
	struct ratelimiter rl;
	uint32_t i;

	(void)state;
	assert_int_equal(ratelimiter_init(&rl, NULL), 0);
	for (i = 0; i < RATELIMITER_MAX_ENTRIES; i++) {
		struct sockaddr_in s = v4(0x0b000000 + i);

		assert_true(ratelimiter_allow(&rl, (struct sockaddr *)&s, MS));
	}
	assert_int_equal(rl.count, RATELIMITER_MAX_ENTRIES);
	/* Full: a new source is refused rather than growing the table. */
	{
		struct sockaddr_in s = v4(0x0c000000);

		assert_false(ratelimiter_allow(&rl, (struct sockaddr *)&s, MS));
		/* Counted, for the device to report (bounds.h). */
		assert_int_equal(rl.refused_full, 1);
		assert_int_equal(rl.count, RATELIMITER_MAX_ENTRIES);
	}
	/* Once they are idle, collection makes room again. */
	ratelimiter_gc(&rl, 2000 * MS);
	assert_int_equal(rl.count, 0);
	ratelimiter_free(&rl);
}

static void test_gc_keeps_live_buckets(void **state)
{
	enum { N = 6000 };
	struct ratelimiter rl;
	uint64_t t0 = 10000 * MS, t1 = t0 + 950 * MS, t2 = t0 + 1050 * MS;
	uint32_t i;

	(void)state;
	assert_int_equal(ratelimiter_init(&rl, NULL), 0);
	/* Every source spends its burst at t0; the odd ones again at t1. */
	for (i = 0; i < N; i++) {
		struct sockaddr_in s = v4(0x0d000000 + i);

		assert_int_equal(burst(&rl, (struct sockaddr *)&s, t0), 5);
	}
	for (i = 1; i < N; i += 2) {
		struct sockaddr_in s = v4(0x0d000000 + i);

		/* 950 ms refilled 19 tokens' worth, capped at the burst. */
		assert_int_equal(burst(&rl, (struct sockaddr *)&s, t1), 5);
	}
	/* At t2 the even ones have been idle over a second: forgotten. */
	ratelimiter_gc(&rl, t2);
	assert_int_equal(rl.count, N / 2);
	for (i = 1; i < N; i += 2) {
		struct sockaddr_in s = v4(0x0d000000 + i);

		/*
		 * 100 ms after emptying, an odd source has earned two tokens;
		 * one the collection lost would get a fresh bucket of five.
		 */
		assert_int_equal(burst(&rl, (struct sockaddr *)&s, t2), 2);
	}
	assert_int_equal(rl.count, N / 2);
	ratelimiter_free(&rl);
}

static bool all_zero(const struct ratelimiter_entry *t, size_t n)
{
	static const struct ratelimiter_entry zero;

	for (size_t i = 0; i < n; i++)
		if (memcmp(&t[i], &zero, sizeof(zero)))
			return false;
	return true;
}

/*
 * A collection writes only the slots in use: it leaves the table it moved
 * out of all zero (forgotten sources wiped), so the spare never needs
 * clearing whole, and an empty limiter is not even walked.  Clearing the
 * spare whole each second made both 512 KiB tables resident in every
 * daemon (tests/bench/throughput.sh, peak RSS).
 */
static void test_gc_clears_behind(void **state)
{
	struct ratelimiter rl;
	struct ratelimiter_entry *first;
	struct sockaddr_in a = v4(0x0e000001), b = v4(0x0e000002);

	(void)state;
	assert_int_equal(ratelimiter_init(&rl, NULL), 0);
	first = rl.slots;
	ratelimiter_gc(&rl, 5000 * MS);
	assert_ptr_equal(rl.slots, first);	/* empty: nothing done */

	assert_true(ratelimiter_allow(&rl, (struct sockaddr *)&a, 1000 * MS));
	assert_true(ratelimiter_allow(&rl, (struct sockaddr *)&b, 1800 * MS));
	ratelimiter_gc(&rl, 2500 * MS);		/* a idle 1.5 s, b 0.7 s */
	assert_ptr_not_equal(rl.slots, first);
	assert_int_equal(rl.count, 1);
	assert_true(all_zero(rl.spare, rl.nslots));
	assert_false(all_zero(rl.slots, rl.nslots));

	ratelimiter_gc(&rl, 3000 * MS);		/* b idle 1.2 s */
	assert_int_equal(rl.count, 0);
	assert_true(all_zero(rl.slots, rl.nslots));
	assert_true(all_zero(rl.spare, rl.nslots));
	/* a comes back as a new source, with a full bucket. */
	assert_int_equal(burst(&rl, (struct sockaddr *)&a, 3000 * MS), 5);
	ratelimiter_free(&rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_and_rate),
		cmocka_unit_test(test_ipv6_by_64),
		cmocka_unit_test(test_table_bound),
		cmocka_unit_test(test_gc_keeps_live_buckets),
		cmocka_unit_test(test_gc_clears_behind),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
