/* SPDX-License-Identifier: MIT */
/*
 * vpnd's runtime and state directories (vpnd/rundir.c): one it creates has
 * exactly the mode asked for under any umask; one already there is used
 * as it is when only root (or we) can write to it, and refused, with a
 * message naming the path and what is wrong, when its mode, its owner or
 * its type would let someone else replace vpnd's sockets.  A refused
 * directory is left exactly as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../vpnd/rundir.h"

struct scratch {
	char base[64];
	char path[96];		/* base/d: the directory under test */
	char err[RUNDIR_ERR_LEN];
};

static int scratch_setup(void **state)
{
	struct scratch *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	strcpy(s->base, "/tmp/vpnd-rundir.XXXXXX");
	assert_non_null(mkdtemp(s->base));
	snprintf(s->path, sizeof(s->path), "%s/d", s->base);
	*state = s;
	return 0;
}

static int scratch_teardown(void **state)
{
	struct scratch *s = *state;

	if (rmdir(s->path))
		unlink(s->path);
	rmdir(s->base);
	free(s);
	return 0;
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

/* The bug this module was written for: under umask 077, mkdir(0755) gave
 * 0700.  Every restrictive umask must still give the mode asked for. */
static void test_created_with_exact_mode(void **state)
{
	static const mode_t masks[] = { 077, 027, 022, 0277 };
	struct scratch *s = *state;
	bool created;
	mode_t old;
	size_t i;

	for (i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
		old = umask(masks[i]);
		created = false;
		assert_int_equal(rundir_make(s->path, 0755, &created, s->err,
					     sizeof(s->err)), 0);
		umask(old);
		assert_true(created);
		assert_int_equal(mode_of(s->path), 0755);
		assert_int_equal(rmdir(s->path), 0);
	}
}

static void test_existing_safe_kept(void **state)
{
	struct scratch *s = *state;
	bool created = true;

	/* 0700 is narrower than documented but lets no one in: used, and
	 * not touched (vpnd changes no directory it did not make). */
	assert_int_equal(mkdir(s->path, 0700), 0);
	assert_int_equal(chmod(s->path, 0700), 0);
	assert_int_equal(rundir_make(s->path, 0755, &created, s->err,
				     sizeof(s->err)), 0);
	assert_false(created);
	assert_int_equal(mode_of(s->path), 0700);
	assert_int_equal(chmod(s->path, 0755), 0);
	assert_int_equal(rundir_make(s->path, 0755, NULL, s->err,
				     sizeof(s->err)), 0);
}

static void test_writable_by_others_refused(void **state)
{
	static const mode_t bad[] = { 0777, 0775, 0757, 01777, 0722 };
	struct scratch *s = *state;
	char want[16];
	size_t i;

	assert_int_equal(mkdir(s->path, 0700), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(chmod(s->path, bad[i]), 0);
		s->err[0] = '\0';
		assert_int_equal(rundir_make(s->path, 0755, NULL, s->err,
					     sizeof(s->err)), -EPERM);
		assert_non_null(strstr(s->err, s->path));
		snprintf(want, sizeof(want), "mode %04o", (unsigned int)bad[i]);
		assert_non_null(strstr(s->err, want));
		assert_non_null(strstr(s->err, "refusing"));
		assert_int_equal(mode_of(s->path), bad[i]);
	}
}

static void test_not_a_directory_refused(void **state)
{
	struct scratch *s = *state;
	char target[112];
	int fd;

	/* A symbolic link, even to a good directory: whoever made it may
	 * point it elsewhere later. */
	snprintf(target, sizeof(target), "%s/t", s->base);
	assert_int_equal(mkdir(target, 0755), 0);
	assert_int_equal(symlink(target, s->path), 0);
	assert_int_equal(rundir_make(s->path, 0755, NULL, s->err,
				     sizeof(s->err)), -EPERM);
	assert_non_null(strstr(s->err, s->path));
	assert_non_null(strstr(s->err, "not a directory"));
	assert_int_equal(unlink(s->path), 0);
	assert_int_equal(rmdir(target), 0);

	fd = open(s->path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(rundir_make(s->path, 0755, NULL, s->err,
				     sizeof(s->err)), -EPERM);
	assert_non_null(strstr(s->err, "not a directory"));
}

static void test_missing_parent(void **state)
{
	struct scratch *s = *state;
	char deep[128];

	snprintf(deep, sizeof(deep), "%s/no/such", s->base);
	assert_int_equal(rundir_make(deep, 0755, NULL, s->err,
				     sizeof(s->err)), -ENOENT);
	assert_non_null(strstr(s->err, deep));
}

/* The owner rule alone, for any uid, without needing root. */
static void test_owner_rule(void **state)
{
	struct scratch *s = *state;

	assert_true(rundir_is_safe("/x", 0, S_IFDIR | 0755, 1000, s->err,
				   sizeof(s->err)));
	assert_true(rundir_is_safe("/x", 1000, S_IFDIR | 0755, 1000, s->err,
				   sizeof(s->err)));
	assert_false(rundir_is_safe("/x", 1234, S_IFDIR | 0755, 0, s->err,
				    sizeof(s->err)));
	assert_non_null(strstr(s->err, "/x is owned by uid 1234"));
	assert_false(rundir_is_safe("/x", 0, S_IFREG | 0644, 0, s->err,
				    sizeof(s->err)));
}

/* The owner rule through rundir_make: only root can give a directory away. */
static void test_foreign_owner_refused(void **state)
{
	struct scratch *s = *state;

	if (geteuid() != 0)
		skip();
	assert_int_equal(mkdir(s->path, 0755), 0);
	assert_int_equal(chown(s->path, 65534, 65534), 0);
	assert_int_equal(rundir_make(s->path, 0755, NULL, s->err,
				     sizeof(s->err)), -EPERM);
	assert_non_null(strstr(s->err, "owned by uid 65534"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_created_with_exact_mode,
						scratch_setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_existing_safe_kept,
						scratch_setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_writable_by_others_refused,
						scratch_setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_not_a_directory_refused,
						scratch_setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_missing_parent,
						scratch_setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_owner_rule,
						scratch_setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_foreign_owner_refused,
						scratch_setup, scratch_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
