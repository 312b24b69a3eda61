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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_selection),
		cmocka_unit_test(test_rank),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
