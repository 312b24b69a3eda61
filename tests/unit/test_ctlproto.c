/* SPDX-License-Identifier: MIT */
/*
 * The control socket's requests (vpnd/ctlproto.c): where a request ends,
 * what a request line says, what is refused and with which message (a NUL
 * byte included: it used to end the request early, silently; and an
 * operation named other than in lowercase ASCII), and the
 * table of what the group vpnd may ask (docs/control.md).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../vpnd/ctlproto.h"

static struct control_request r;
static char msg[256];

/* Parses a copy of @text[0, @len), as control.c hands it over. */
static int parse_n(const char *text, size_t len)
{
	static char buf[1024];

	assert_true(len < sizeof(buf));
	memcpy(buf, text, len);
	buf[len] = '\0';
	msg[0] = '\0';
	return control_request_parse(buf, len, &r, msg, sizeof(msg));
}

static int parse(const char *text)
{
	return parse_n(text, strlen(text));
}

static void test_framing(void **state)
{
	(void)state;
	assert_int_equal(control_request_end("status=1\n\n", 10), 10);
	assert_int_equal(control_request_end("status=1\n\nup=1\n\n", 16), 10);
	assert_int_equal(control_request_end("status=1\n", 9), 0);
	assert_int_equal(control_request_end("status=1\n\n", 9), 0);
	assert_int_equal(control_request_end("\n\nstatus=1", 10), 2);
	assert_int_equal(control_request_end("", 0), 0);
}

static void test_requests(void **state)
{
	(void)state;
	assert_int_equal(parse("up=1\nserver=se-sto-01"), 0);
	assert_string_equal(r.op, "up");
	assert_true(r.has_server);
	assert_string_equal(r.server, "se-sto-01");

	assert_int_equal(parse("up=1\nselect=country:se"), 0);
	assert_int_equal(r.select, CONF_SELECT_COUNTRY);
	assert_string_equal(r.select_value, "se");

	assert_int_equal(parse("probe=1\ncity=Stockholm\ntimeout_ms=500"), 0);
	assert_int_equal(r.select, CONF_SELECT_CITY);
	assert_int_equal(r.timeout_ms, 500);

	assert_int_equal(parse("killswitch=1\nmode=lockdown\nallow_lan=yes"),
			 0);
	assert_true(r.has_mode);
	assert_int_equal(r.mode, KILLSWITCH_LOCKDOWN);
	assert_true(r.has_allow_lan && r.allow_lan);

	assert_int_equal(parse("split=1\nmode=exclude\naction=add\n"
			       "net=192.168.0.0/16\nnet=fd00::/8\nsave=yes"),
			 0);
	assert_int_equal(r.n_split_net, 2);
	assert_true(r.split_add && r.has_split_action && r.split_save);

	assert_int_equal(parse("split_pid=1\npid=42\ngroup=bypass\n"
			       "action=del"), 0);
	assert_int_equal(r.split.pid, 42);
	assert_true(r.split.has_group && r.split.has_action);
	assert_false(r.split.add);
}

static void test_refused(void **state)
{
	(void)state;
	assert_int_equal(parse(""), -EINVAL);
	assert_string_equal(msg, "empty request");
	assert_int_equal(parse("status=2"), -EINVAL);
	assert_string_equal(msg, "unknown operation");
	/* No operation, or one not in lowercase ASCII, is none: the group
	 * used to get "permission denied: <those bytes> needs root". */
	assert_int_equal(parse("=1"), -EINVAL);
	assert_string_equal(msg, "unknown operation");
	assert_int_equal(parse("STATUS=1"), -EINVAL);
	assert_int_equal(parse("st\x1b[2Jatus=1"), -EINVAL);
	assert_string_equal(msg, "unknown operation");
	assert_int_equal(parse("status=1\nbogus=1"), -EINVAL);
	assert_string_equal(msg, "unknown key 'bogus' for status");
	assert_int_equal(parse("status=1\nnoequals"), -EINVAL);
	assert_string_equal(msg, "line without '='");
	assert_int_equal(parse("up=1\nselect=se-sto-01"), -EINVAL);
	assert_int_equal(parse("probe=1\ntimeout_ms=99"), -EINVAL);
	assert_int_equal(parse("probe=1\ntimeout_ms=30001"), -EINVAL);
	assert_int_equal(parse("probe=1\ncountry=se\ncity=Oslo"), -EINVAL);
	assert_int_equal(parse("killswitch=1\nmode=maybe"), -EINVAL);
	/* A key of another operation is not this one's. */
	assert_int_equal(parse("status=1\nserver=se-sto-01"), -EINVAL);
	assert_int_equal(parse("exec=1\npid=7"), -EINVAL);
}

/* What follows a NUL must not be dropped without a word. */
static void test_nul_refused(void **state)
{
	static const char req[] = "killswitch=1\0\nmode=off";

	(void)state;
	assert_int_equal(parse_n(req, sizeof(req) - 1), -EINVAL);
	assert_string_equal(msg, "a NUL byte in the request");
	assert_int_equal(parse_n("status=1\0", 9), -EINVAL);
}

static int access_of(const char *text, bool root)
{
	assert_int_equal(parse(text), 0);
	msg[0] = '\0';
	return control_request_access(&r, root, msg, sizeof(msg));
}

static void test_access(void **state)
{
	static const char *const group_may[] = {
		"status=1", "servers=1", "probe=1", "up=1", "down=1",
		"killswitch=1", "exec=1", "split=1", "split=1\nsave=no",
		"split_pid=1", "split_apps=1",
	};
	static const char *const root_only[] = {
		"killswitch=1\nmode=off", "killswitch=1\nallow_lan=no",
		"split=1\nsave=yes", "reload=1",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(group_may) / sizeof(*group_may); i++) {
		assert_int_equal(access_of(group_may[i], false), 0);
		assert_int_equal(access_of(group_may[i], true), 0);
	}
	for (size_t i = 0; i < sizeof(root_only) / sizeof(*root_only); i++) {
		assert_int_equal(access_of(root_only[i], false), -EPERM);
		assert_non_null(strstr(msg, "needs root"));
		assert_int_equal(access_of(root_only[i], true), 0);
	}
	assert_int_equal(access_of("killswitch=1\nmode=on", false), -EPERM);
	assert_non_null(strstr(msg, "changing the kill switch needs root"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_nul_refused),
		cmocka_unit_test(test_access),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
