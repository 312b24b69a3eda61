/* SPDX-License-Identifier: MIT */
/*
 * Tests of the sd_notify protocol (vpnd/notify.c) against a datagram
 * socket of the test's own, standing in for systemd: the messages byte
 * for byte, a path and an abstract name, nothing sent without
 * $NOTIFY_SOCKET, a malformed variable refused, a newline in a status
 * kept from starting a second assignment, and which watchdog settings
 * are ours ($WATCHDOG_PID) and well-formed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../vpnd/notify.c"

struct listener {
	int fd;
	bool abstract;
	char path[108];
};

/* A socket to receive on, bound to a fresh path (or abstract name) that
 * $NOTIFY_SOCKET then names. */
static void listen_on(struct listener *l, bool abstract)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char env[110];
	socklen_t len;
	size_t n;

	l->abstract = abstract;
	l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(l->fd >= 0);
	snprintf(l->path, sizeof(l->path), "/tmp/vpnd-test-notify-%d-%d",
		 (int)getpid(), abstract);
	n = strlen(l->path);
	memcpy(sun.sun_path, l->path, n);
	if (abstract)
		sun.sun_path[0] = '\0';
	else
		unlink(l->path);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
			  !abstract);
	assert_int_equal(bind(l->fd, (struct sockaddr *)&sun, len), 0);
	snprintf(env, sizeof(env), "%s%s", abstract ? "@" : "",
		 l->path + (abstract ? 1 : 0));
	assert_int_equal(setenv("NOTIFY_SOCKET", env, 1), 0);
}

static void listener_close(struct listener *l)
{
	close(l->fd);
	if (!l->abstract)
		unlink(l->path);
	unsetenv("NOTIFY_SOCKET");
}

/* The next datagram, which must be there already. */
static void expect_msg(struct listener *l, const char *want)
{
	char buf[1024];
	ssize_t n = recv(l->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void expect_nothing(struct listener *l)
{
	char buf[16];

	assert_int_equal(recv(l->fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
}

static void test_messages_path(void **state)
{
	struct listener l;

	(void)state;
	listen_on(&l, false);
	assert_int_equal(notify_ready("server on %s, UDP port %u", "wg0", 51820u), 0);
	expect_msg(&l, "READY=1\nSTATUS=server on wg0, UDP port 51820");
	assert_int_equal(notify_status("connected to %s", "se-sto-01"), 0);
	expect_msg(&l, "STATUS=connected to se-sto-01");
	assert_int_equal(notify_stopping(), 0);
	expect_msg(&l, "STOPPING=1\nSTATUS=stopping");
	expect_nothing(&l);
	listener_close(&l);
}

static void test_messages_abstract(void **state)
{
	struct listener l;

	(void)state;
	listen_on(&l, true);
	assert_int_equal(notify_send("WATCHDOG=1"), 0);
	expect_msg(&l, "WATCHDOG=1");
	listener_close(&l);
}

/* A newline in a status (a server id, say) must not make a second
 * assignment such as READY=1 or MAINPID=. */
static void test_status_newline(void **state)
{
	struct listener l;

	(void)state;
	listen_on(&l, false);
	assert_int_equal(notify_status("a\nREADY=1"), 0);
	expect_msg(&l, "STATUS=a READY=1");
	listener_close(&l);
}

static void test_no_socket(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(notify_ready("x"), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	assert_int_equal(notify_stopping(), 0);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(notify_send("READY=1"), -EINVAL);
	/* A name longer than sun_path: refused, not cut. */
	char longer[200];

	memset(longer, 'a', sizeof(longer) - 1);
	longer[0] = '/';
	longer[sizeof(longer) - 1] = '\0';
	setenv("NOTIFY_SOCKET", longer, 1);
	assert_int_equal(notify_send("READY=1"), -EINVAL);
	/* Nobody listening: the error, not silence. */
	setenv("NOTIFY_SOCKET", "/tmp/vpnd-test-notify-nobody", 1);
	assert_int_equal(notify_send("READY=1"), -ENOENT);
	unsetenv("NOTIFY_SOCKET");
}

static void test_watchdog_usec(void **state)
{
	char pid[32];

	(void)state;
	unsetenv("WATCHDOG_PID");
	unsetenv("WATCHDOG_USEC");
	assert_int_equal(notify_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "30000000", 1);
	assert_int_equal(notify_watchdog_usec(), 30000000);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(notify_watchdog_usec(), 30000000);
	/* Meant for another process (a parent that forked us). */
	snprintf(pid, sizeof(pid), "%d", (int)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(notify_watchdog_usec(), 0);
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "30s", 1);
	assert_int_equal(notify_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "", 1);
	assert_int_equal(notify_watchdog_usec(), 0);
	unsetenv("WATCHDOG_USEC");
}

/* The watchdog pings at once, then every half interval, from the loop. */
static void test_watchdog_loop(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct listener l;
	ev_timer w;
	int n = 0;

	(void)state;
	listen_on(&l, false);
	setenv("WATCHDOG_USEC", "100000", 1);
	notify_watchdog_start(loop, &w);
	expect_msg(&l, "WATCHDOG=1");
	/* Three half intervals (50 ms each) later, at least two pings more. */
	for (int i = 0; i < 3; i++)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &w);
	for (;;) {
		char buf[32];
		ssize_t r = recv(l.fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (r < 0)
			break;
		assert_int_equal(r, 10);
		assert_memory_equal(buf, "WATCHDOG=1", 10);
		n++;
	}
	assert_true(n >= 2);
	unsetenv("WATCHDOG_USEC");
	ev_loop_destroy(loop);
	listener_close(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_messages_path),
		cmocka_unit_test(test_messages_abstract),
		cmocka_unit_test(test_status_newline),
		cmocka_unit_test(test_no_socket),
		cmocka_unit_test(test_watchdog_usec),
		cmocka_unit_test(test_watchdog_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
