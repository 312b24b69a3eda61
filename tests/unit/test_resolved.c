/* SPDX-License-Identifier: MIT */
/*
 * Tests of vpnd/resolved.c without a bus: the record a killed daemon
 * leaves is read and removed by the next start, which reverts nothing
 * when the link recorded is gone or now bears another name; with no
 * system bus to reach, resolved counts as not running and a revert of
 * nothing configured succeeds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "resolved.h"

struct fixture {
	char dir[64];
	struct resolved_state r;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_resolved.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	/* Nothing answers here: no test may reach the machine's bus. */
	setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus", 1);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unlink(f->r.record);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void write_record(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void test_no_bus_not_running(void **state)
{
	struct fixture *f = *state;

	resolved_init(&f->r, f->dir, "vpnt0");
	assert_false(resolved_running(&f->r));
	/* sd-bus was loaded for the question, and only for it. */
	assert_true(f->r.sd_open);
}

static void test_revert_nothing(void **state)
{
	struct fixture *f = *state;

	resolved_init(&f->r, f->dir, "vpnt0");
	assert_int_equal(resolved_revert(&f->r), 0);
}

static void test_recover_without_record(void **state)
{
	struct fixture *f = *state;

	resolved_init(&f->r, f->dir, "vpnt0");
	assert_int_equal(resolved_recover(&f->r), 0);
	assert_int_equal(f->r.ifindex, 0);
}

/* A record naming TEXT: recovered without error, reverting nothing (no
 * bus here: a revert attempt would fail), and removed. */
static void recover_from(struct fixture *f, const char *text)
{
	resolved_init(&f->r, f->dir, "vpnt0");
	write_record(f->r.record, text);
	assert_int_equal(resolved_recover(&f->r), 0);
	assert_int_equal(access(f->r.record, F_OK), -1);
	assert_int_equal(f->r.ifindex, 0);
}

static void test_recover_link_gone(void **state)
{
	recover_from(*state, "2147483000\n");
}

/* Index 1 is "lo", not ours: never reverted, record dropped. */
static void test_recover_other_link(void **state)
{
	recover_from(*state, "1\n");
}

static void test_recover_garbage(void **state)
{
	recover_from(*state, "not a number");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_bus_not_running, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revert_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_without_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_link_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_other_link, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_garbage, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
