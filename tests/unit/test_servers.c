/* SPDX-License-Identifier: MIT */
/*
 * Server selection without sockets: name matching (case, UTF-8 Latin-1),
 * which servers a selection covers, and the ranking by round trip.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "servers.h"

static struct conf_server_entry entries[] = {
	{ .id = "de-fra-01", .country = "de", .city = "Frankfurt" },
	{ .id = "se-got-01", .country = "se", .city = "Göteborg" },
	{ .id = "se-sto-01", .country = "se", .city = "Stockholm" },
	{ .id = "se-sto-02", .country = "se", .city = "Stockholm" },
	{ .id = "ch-zrh-01", .country = "ch", .city = "Zürich" },
	{ .id = "us-nyc-01", .country = "us", .city = "" },
};
enum { N = sizeof(entries) / sizeof(entries[0]) };

static void test_names(void **state)
{
	(void)state;
	assert_true(servers_name_equal("Stockholm", "stockholm"));
	assert_true(servers_name_equal("STOCKHOLM", "stockholm"));
	assert_true(servers_name_equal("Zürich", "ZÜRICH"));
	assert_true(servers_name_equal("göteborg", "GÖTEBORG"));
	assert_true(servers_name_equal("", ""));
	assert_false(servers_name_equal("Zurich", "Zürich"));
	assert_false(servers_name_equal("Stockholm", "Stockholm "));
	assert_false(servers_name_equal("Stock", "Stockholm"));
	/* U+00D7 and U+00F7 (× and ÷) are not a letter pair. */
	assert_false(servers_name_equal("\xc3\x97", "\xc3\xb7"));
	/* A lone lead byte at the end is compared as it is. */
	assert_false(servers_name_equal("a\xc3", "a"));
	assert_true(servers_name_equal("a\xc3", "A\xc3"));
}

static size_t count(enum conf_select kind, const char *value)
{
	size_t n = 0;

	for (size_t i = 0; i < N; i++)
		n += servers_entry_matches(&entries[i], kind, value);
	return n;
}

static void test_selection(void **state)
{
	char buf[96];

	(void)state;
	assert_int_equal(count(CONF_SELECT_FASTEST, NULL), N);
	assert_int_equal(count(CONF_SELECT_COUNTRY, "se"), 3);
	assert_int_equal(count(CONF_SELECT_COUNTRY, "SE"), 3);
	assert_int_equal(count(CONF_SELECT_COUNTRY, "no"), 0);
	assert_int_equal(count(CONF_SELECT_CITY, "stockholm"), 2);
	assert_int_equal(count(CONF_SELECT_CITY, "zÜrich"), 1);
	assert_int_equal(count(CONF_SELECT_CITY, ""), 1);
	assert_int_equal(count(CONF_SELECT_ID, "SE-GOT-01"), 1);
	assert_int_equal(count(CONF_SELECT_NONE, NULL), 0);
	assert_int_equal(count(CONF_SELECT_COUNTRY, NULL), 0);
	assert_string_equal(servers_selection_text(CONF_SELECT_COUNTRY, "se",
						   buf, sizeof(buf)),
			    "country:se");
	assert_string_equal(servers_selection_text(CONF_SELECT_CITY,
						   "Zürich", buf,
						   sizeof(buf)),
			    "city:Zürich");
	assert_string_equal(servers_selection_text(CONF_SELECT_FASTEST, NULL,
						   buf, sizeof(buf)),
			    "fastest");
	assert_string_equal(servers_selection_text(CONF_SELECT_ID,
						   "se-sto-01", buf,
						   sizeof(buf)),
			    "se-sto-01");
}

static void test_rank(void **state)
{
	struct servers_result r[] = {
		{ &entries[0], -1 },
		{ &entries[1], 40000000 },
		{ &entries[2], 5000000 },
		{ &entries[3], -1 },
		{ &entries[4], 40000000 },	/* a tie with [1] */
		{ &entries[5], 0 },
	};

	(void)state;
	assert_int_equal(servers_rank(r, 6), 4);
	assert_ptr_equal(r[0].entry, &entries[5]);	/* 0 ns answers */
	assert_ptr_equal(r[1].entry, &entries[2]);
	/* Ties keep the list's order. */
	assert_ptr_equal(r[2].entry, &entries[1]);
	assert_ptr_equal(r[3].entry, &entries[4]);
	/* No answer: last, in the list's order. */
	assert_ptr_equal(r[4].entry, &entries[0]);
	assert_ptr_equal(r[5].entry, &entries[3]);
	assert_true(r[4].rtt_ns < 0 && r[5].rtt_ns < 0);

	/* Nobody answered: the list's order. */
	struct servers_result none[] = {
		{ &entries[3], -1 }, { &entries[1], -1 }, { &entries[2], -1 },
	};
	assert_int_equal(servers_rank(none, 3), 0);
	assert_ptr_equal(none[0].entry, &entries[1]);
	assert_ptr_equal(none[1].entry, &entries[2]);
	assert_ptr_equal(none[2].entry, &entries[3]);
	assert_int_equal(servers_rank(NULL, 0), 0);
}

#define S(x) ((uint64_t)(x) * 1000000000ULL)
#define MS(x) ((uint64_t)(x) * 1000000ULL)

static void test_failover_silence(void **state)
{
	struct servers_failover f;

	(void)state;
	servers_failover_init(&f, 15);
	/* Nothing sent, nothing heard: an idle tunnel is never judged. */
	assert_false(servers_failover_due(&f, 0, 0, S(100)));
	/* Sent at 10 s, answered at 10.05 s: fine, for ever after. */
	assert_false(servers_failover_due(&f, 0, S(10), S(10)));
	assert_false(servers_failover_due(&f, S(10) + MS(50), S(10), S(11)));
	assert_false(servers_failover_due(&f, S(10) + MS(50), S(10), S(500)));
	/* Sent at 600 s, no answer: due at 615 s, not before. */
	assert_false(servers_failover_due(&f, S(10) + MS(50), S(600), S(601)));
	/* Later sends do not push the wait back: it counts from the first. */
	assert_false(servers_failover_due(&f, S(10) + MS(50), S(605), S(614)));
	assert_int_equal(servers_failover_waited(&f, S(614)), S(14));
	assert_true(servers_failover_due(&f, S(10) + MS(50), S(610), S(615)));
	/* An answer at the last moment: not due, and the wait starts over. */
	assert_false(servers_failover_due(&f, S(615), S(610), S(616)));
	assert_int_equal(servers_failover_waited(&f, S(616)), 0);
	assert_false(servers_failover_due(&f, S(615), S(620), S(634)));
	assert_true(servers_failover_due(&f, S(615), S(621), S(635)));
	assert_int_equal(f.count, 0);
}

static void test_failover_off(void **state)
{
	struct servers_failover f;

	(void)state;
	servers_failover_init(&f, 0);
	assert_false(servers_failover_due(&f, 0, S(1), S(10000)));
	assert_false(servers_failover_due(&f, S(1), S(2), S(10000)));
}

/* Switches without an answer wait 1, 2, 4 ... 60 s more each time; an
 * answer resets that. */
static void test_failover_backoff(void **state)
{
	static const unsigned int pause[] = { 0, 1, 2, 4, 8, 16, 32, 60, 60 };
	struct servers_failover f;
	uint64_t now = S(1000);

	(void)state;
	servers_failover_init(&f, 5);
	assert_false(servers_failover_due(&f, 0, now, now));
	now += S(5);
	assert_true(servers_failover_due(&f, 0, now - S(5), now));
	for (unsigned int i = 0; i < sizeof(pause) / sizeof(*pause); i++) {
		uint64_t switched = now;

		servers_failover_switched(&f, switched);
		assert_int_equal(f.count, i + 1);
		/* The new peer sends its initiation at once, and hears
		 * nothing: due after 5 s and the pause, whichever is later. */
		assert_false(servers_failover_due(&f, 0, switched, switched));
		now = switched + S(5) - 1;
		assert_false(servers_failover_due(&f, 0, switched + S(1), now));
		now = switched + (pause[i] > 5 ? S(pause[i]) : S(5)) - 1;
		assert_false(servers_failover_due(&f, 0, switched + S(1), now));
		now += 1;
		assert_true(servers_failover_due(&f, 0, switched + S(1), now));
	}
	/* The next server answers: the pause is gone, the count stays. */
	servers_failover_switched(&f, now);
	assert_false(servers_failover_due(&f, now + MS(40), now, now + MS(40)));
	assert_int_equal(f.misses, 0);
	assert_int_equal(f.not_before, 0);
	assert_int_equal(f.count, 10);
	assert_false(servers_failover_due(&f, now + MS(40), now + S(100),
					  now + S(104)));
	assert_true(servers_failover_due(&f, now + MS(40), now + S(100),
					 now + S(105)));
	/* A connection made by the user starts the count again. */
	servers_failover_init(&f, 5);
	assert_int_equal(f.count, 0);
}

static void test_next_in_turn(void **state)
{
	struct conf_servers list = { .entry = entries, .n_entry = N };

	(void)state;
	/* In se: got-01, sto-01, sto-02, round. */
	assert_ptr_equal(servers_next_in_turn(&list, CONF_SELECT_COUNTRY, "se",
					      &entries[1]), &entries[2]);
	assert_ptr_equal(servers_next_in_turn(&list, CONF_SELECT_COUNTRY, "se",
					      &entries[3]), &entries[1]);
	assert_ptr_equal(servers_next_in_turn(&list, CONF_SELECT_FASTEST, NULL,
					      &entries[5]), &entries[0]);
	/* Not in the selection, or none: the first of it. */
	assert_ptr_equal(servers_next_in_turn(&list, CONF_SELECT_COUNTRY, "se",
					      &entries[0]), &entries[1]);
	assert_ptr_equal(servers_next_in_turn(&list, CONF_SELECT_CITY,
					      "stockholm", NULL), &entries[2]);
	/* Alone in it: itself. */
	assert_ptr_equal(servers_next_in_turn(&list, CONF_SELECT_COUNTRY, "ch",
					      &entries[4]), &entries[4]);
	assert_null(servers_next_in_turn(&list, CONF_SELECT_COUNTRY, "no",
					 &entries[4]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_selection),
		cmocka_unit_test(test_rank),
		cmocka_unit_test(test_failover_silence),
		cmocka_unit_test(test_failover_off),
		cmocka_unit_test(test_failover_backoff),
		cmocka_unit_test(test_next_in_turn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
