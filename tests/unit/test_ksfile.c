/* SPDX-License-Identifier: MIT */
/*
 * The kill switch's state file (vpnd/ksfile.c): what is written reads back
 * the same; every way a file can be other than one we wrote (an unknown or
 * repeated key, a missing one, a bad value, no final newline, a byte that
 * is not printable ASCII, too long, a symbolic link, writable by others)
 * is "corrupt", with the file and line in the message; a missing file is
 * told apart; a save replaces the file whole and leaves no temporary
 * behind, also over one a crash left; one lock holder at a time;
 * directories made 0755.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../vpnd/ksfile.h"

static const char good[] =
	"# a comment\n"
	"mode=lockdown\n"
	"allow_lan=yes\n"
	"\n"
	"hold=no\n"
	"profile_mode=on\n"
	"profile_allow_lan=no\n"
	"arp_ignore=-1\n";

struct dir {
	char path[64];
	char file[96];
};

static int dir_setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	strcpy(d->path, "/tmp/vpnd-ksfile.XXXXXX");
	assert_non_null(mkdtemp(d->path));
	snprintf(d->file, sizeof(d->file), "%s/%s", d->path, KSFILE_NAME);
	*state = d;
	return 0;
}

static int dir_teardown(void **state)
{
	struct dir *d = *state;
	char tmp[128];

	unlink(d->file);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", d->path, KSFILE_NAME);
	unlink(tmp);
	snprintf(tmp, sizeof(tmp), "%s/target", d->path);
	unlink(tmp);
	rmdir(d->path);
	free(d);
	return 0;
}

static void write_file(const char *path, const char *text, size_t len,
		       mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

static void test_good_file(void **state)
{
	struct dir *d = *state;
	struct ksfile f;
	char err[KSFILE_ERR_LEN];

	write_file(d->file, good, strlen(good), 0644);
	assert_int_equal(ksfile_load(d->path, &f, err, sizeof(err)), 0);
	assert_int_equal(f.mode, KILLSWITCH_LOCKDOWN);
	assert_true(f.allow_lan);
	assert_false(f.hold);
	assert_int_equal(f.profile_mode, KILLSWITCH_ON);
	assert_false(f.profile_allow_lan);
	assert_int_equal(f.arp_ignore, -1);
}

static void test_round_trip(void **state)
{
	struct dir *d = *state;
	struct ksfile in = {
		.mode = KILLSWITCH_ON,
		.allow_lan = false,
		.hold = true,
		.profile_mode = KILLSWITCH_OFF,
		.profile_allow_lan = true,
		.arp_ignore = 2,
	}, out;
	char err[KSFILE_ERR_LEN], tmp[128];
	struct stat st;

	assert_int_equal(ksfile_save(d->path, &in), 0);
	memset(&out, 0xa5, sizeof(out));
	assert_int_equal(ksfile_load(d->path, &out, err, sizeof(err)), 0);
	assert_int_equal(out.mode, in.mode);
	assert_int_equal(out.allow_lan, in.allow_lan);
	assert_int_equal(out.hold, in.hold);
	assert_int_equal(out.profile_mode, in.profile_mode);
	assert_int_equal(out.profile_allow_lan, in.profile_allow_lan);
	assert_int_equal(out.arp_ignore, in.arp_ignore);
	assert_int_equal(stat(d->file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", d->path, KSFILE_NAME);
	assert_int_equal(access(tmp, F_OK), -1);

	/* Every mode, and a temporary left by a crash in the way. */
	write_file(tmp, "junk", 4, 0600);
	for (int m = KILLSWITCH_OFF; m <= KILLSWITCH_LOCKDOWN; m++) {
		in.mode = (enum killswitch_mode)m;
		in.hold = m & 1;
		in.arp_ignore = m - 1;
		assert_int_equal(ksfile_save(d->path, &in), 0);
		assert_int_equal(ksfile_load(d->path, &out, err, sizeof(err)),
				 0);
		assert_int_equal(out.mode, m);
		assert_int_equal(out.hold, m & 1);
		assert_int_equal(out.arp_ignore, m - 1);
	}
	assert_int_equal(access(tmp, F_OK), -1);
}

static void test_save_refuses_nonsense(void **state)
{
	struct dir *d = *state;
	struct ksfile f = { .mode = 7, .arp_ignore = -1 };

	assert_int_equal(ksfile_save(d->path, &f), -EINVAL);
	f.mode = KILLSWITCH_ON;
	f.arp_ignore = 9;
	assert_int_equal(ksfile_save(d->path, &f), -EINVAL);
	assert_int_equal(access(d->file, F_OK), -1);
}

static void test_missing(void **state)
{
	struct dir *d = *state;
	struct ksfile f;
	char err[KSFILE_ERR_LEN];

	unlink(d->file);
	assert_int_equal(ksfile_load(d->path, &f, err, sizeof(err)), -ENOENT);
	assert_int_equal(ksfile_load("/nonexistent-vpnd-dir", &f, err,
				     sizeof(err)),
			 -ENOENT);
}

/* Replaces the line starting with key= in good by repl (NULL: deletes
 * it), appends extra. */
static void variant(char *out, size_t cap, const char *key, const char *repl,
		    const char *extra)
{
	const char *p = good, *nl;
	size_t klen = strlen(key), used = 0;

	out[0] = '\0';
	for (; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!strncmp(p, key, klen) && p[klen] == '=') {
			if (repl)
				used += (size_t)snprintf(out + used, cap - used,
							 "%s\n", repl);
			continue;
		}
		used += (size_t)snprintf(out + used, cap - used, "%.*s\n",
					 (int)(nl - p), p);
	}
	snprintf(out + used, cap - used, "%s", extra);
}

static void expect_corrupt(struct dir *d, const char *text, size_t len,
			   mode_t mode, const char *words)
{
	struct ksfile f = { .mode = KILLSWITCH_OFF }, before = f;
	char err[KSFILE_ERR_LEN];

	write_file(d->file, text, len, mode);
	assert_int_equal(ksfile_load(d->path, &f, err, sizeof(err)),
			 -EBADMSG);
	if (!strstr(err, words) || !strstr(err, d->file))
		fail_msg("message '%s' lacks '%s' or the path", err, words);
	/* Nothing half-read reaches the caller. */
	assert_memory_equal(&f, &before, sizeof(f));
}

static void test_corrupt(void **state)
{
	static const struct {
		const char *key, *repl, *extra, *words;
	} cases[] = {
		{ "mode", "mode=open", "", ":2: mode: bad value" },
		{ "mode", "mode=", "", ":2: mode: bad value" },
		{ "mode", "mode=on ", "", "bad value" },
		{ "mode", "mode = on", "", "unknown key" },
		{ "mode", NULL, "", "mode missing" },
		{ "hold", "hold=true", "", ":5: hold: bad value" },
		{ "allow_lan", "allow_lan=YES", "", "bad value" },
		{ "arp_ignore", "arp_ignore=9", "", "bad value" },
		{ "arp_ignore", "arp_ignore=-2", "", "bad value" },
		{ "arp_ignore", "arp_ignore=10", "", "bad value" },
		{ "arp_ignore", NULL, "", "arp_ignore missing" },
		{ "profile_mode", NULL, "", "profile_mode missing" },
		{ "hold", "hold", "", "not key=value" },
		{ "x", NULL, "mode=on\n", "mode given twice" },
		{ "x", NULL, "kill=1\n", "unknown key 'kill'" },
		{ "x", NULL, "hold=no", "no newline at the end" },
	};
	struct dir *d = *state;
	char text[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		variant(text, sizeof(text), cases[i].key, cases[i].repl,
			cases[i].extra);
		expect_corrupt(d, text, strlen(text), 0644, cases[i].words);
	}
	expect_corrupt(d, "", 0, 0644, "mode missing");
	expect_corrupt(d, good, sizeof(good), 0644, "NUL byte");
	/* Quoted back, these would reach the log and a terminal. */
	expect_corrupt(d, "mode=on\n\x1b[2Jhold=no\n", 20, 0644,
		       ":2: byte 0x1b");
	expect_corrupt(d, "mode=on\nhold=\xc3\xa9\n", 16, 0644,
		       ":2: byte 0xc3");
	expect_corrupt(d, "mode=on\r\n", 9, 0644, ":1: byte 0x0d");
}

static void test_too_long(void **state)
{
	struct dir *d = *state;
	size_t len = KSFILE_SIZE_MAX + 100;
	char *text = malloc(len);

	assert_non_null(text);
	memset(text, '#', len);
	text[len - 1] = '\n';
	expect_corrupt(d, text, len, 0644, "longer than");
	/* Exactly at the limit is read (and then judged by its content). */
	memcpy(text, good, strlen(good));
	memset(text + strlen(good), '#', KSFILE_SIZE_MAX - strlen(good));
	text[KSFILE_SIZE_MAX - 1] = '\n';
	write_file(d->file, text, KSFILE_SIZE_MAX, 0644);
	{
		struct ksfile f;
		char err[KSFILE_ERR_LEN];

		assert_int_equal(ksfile_load(d->path, &f, err, sizeof(err)),
				 0);
	}
	free(text);
}

static void test_permissions_and_links(void **state)
{
	struct dir *d = *state;
	char target[128];
	struct ksfile f;
	char err[KSFILE_ERR_LEN];

	expect_corrupt(d, good, strlen(good), 0666, "writable by it alone");
	expect_corrupt(d, good, strlen(good), 0664, "writable by it alone");
	snprintf(target, sizeof(target), "%s/target", d->path);
	write_file(target, good, strlen(good), 0644);
	unlink(d->file);
	assert_int_equal(symlink(target, d->file), 0);
	assert_int_equal(ksfile_load(d->path, &f, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "symbolic link"));
	unlink(d->file);
	assert_int_equal(mkdir(d->file, 0755), 0);
	assert_int_equal(ksfile_load(d->path, &f, err, sizeof(err)), -EBADMSG);
	rmdir(d->file);
}

static void test_lock(void **state)
{
	struct dir *d = *state;
	char lock[128], sub[96];
	int a, b, c;
	struct stat st;
	bool fresh;
	mode_t old;

	snprintf(lock, sizeof(lock), "%s/%s", d->path, KSFILE_LOCK_NAME);
	assert_int_equal(ksfile_lock(d->path, &a, &fresh), 0);
	assert_true(a >= 0);
	/* The first daemon with this directory made the lock file. */
	assert_true(fresh);
	/* Another open file description, as another daemon has: refused. */
	assert_int_equal(ksfile_lock(d->path, &b, &fresh), -EBUSY);
	assert_int_equal(b, -1);
	close(a);
	/* The lock file an earlier daemon left: not a first run. */
	fresh = true;
	assert_int_equal(ksfile_lock(d->path, &c, &fresh), 0);
	assert_false(fresh);
	close(c);
	unlink(lock);

	/* A directory it creates is 0755 whatever the umask: vpnctl reads
	 * the file as a member of the vpnd group. */
	snprintf(sub, sizeof(sub), "%s/sub", d->path);
	old = umask(077);
	assert_int_equal(ksfile_lock(sub, &a, &fresh), 0);
	umask(old);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	close(a);
	snprintf(lock, sizeof(lock), "%s/%s", sub, KSFILE_LOCK_NAME);
	unlink(lock);
	rmdir(sub);
}

static void test_modes(void **state)
{
	enum killswitch_mode m;

	(void)state;
	assert_int_equal(ksfile_mode_parse("lockdown", &m), 0);
	assert_int_equal(m, KILLSWITCH_LOCKDOWN);
	assert_int_equal(ksfile_mode_parse("Off", &m), -EINVAL);
	assert_int_equal(ksfile_mode_parse("", &m), -EINVAL);
	assert_string_equal(ksfile_mode_name(KILLSWITCH_OFF), "off");
	assert_null(ksfile_mode_name((enum killswitch_mode)3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_file, dir_setup,
						dir_teardown),
		cmocka_unit_test_setup_teardown(test_round_trip, dir_setup,
						dir_teardown),
		cmocka_unit_test_setup_teardown(test_save_refuses_nonsense,
						dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_missing, dir_setup,
						dir_teardown),
		cmocka_unit_test_setup_teardown(test_corrupt, dir_setup,
						dir_teardown),
		cmocka_unit_test_setup_teardown(test_too_long, dir_setup,
						dir_teardown),
		cmocka_unit_test_setup_teardown(test_permissions_and_links,
						dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_lock, dir_setup,
						dir_teardown),
		cmocka_unit_test(test_modes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
