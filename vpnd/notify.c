/* SPDX-License-Identifier: MIT */
/*
 * sd_notify's protocol, written out: a datagram to $NOTIFY_SOCKET, a path
 * or, with a leading '@', a name in the abstract namespace.  A socket is
 * opened per message: messages are rare (start, changes of state, stop, a
 * watchdog ping every few seconds), and the daemon keeps no descriptor
 * that a role could close or leak to another process.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

int notify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t n = path ? strlen(path) : 0;
	socklen_t len;
	ssize_t sent;
	int fd, ret = 0;

	if (!n)
		return 0;
	/* Only the two forms systemd hands out; anything else is a mistake
	 * in the environment, not a place to send to. */
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(sun.sun_path))
		return -EINVAL;
	memcpy(sun.sun_path, path, n);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
			  (path[0] == '/'));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
		      (struct sockaddr *)&sun, len);
	if (sent < 0)
		ret = -errno;
	else if ((size_t)sent != strlen(state))
		ret = -EMSGSIZE;
	close(fd);
	return ret;
}

static int send_status(const char *prefix, const char *fmt, va_list ap)
{
	char msg[512];
	int n;

	n = snprintf(msg, sizeof(msg), "%sSTATUS=", prefix);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	/* A newline would end the assignment and start another. */
	for (char *p = msg + n; *p; p++)
		if (*p == '\n')
			*p = ' ';
	return notify_send(msg);
}

int notify_ready(const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = send_status("READY=1\n", fmt, ap);
	va_end(ap);
	return ret;
}

int notify_status(const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = send_status("", fmt, ap);
	va_end(ap);
	return ret;
}

int notify_stopping(void)
{
	return notify_send("STOPPING=1\nSTATUS=stopping");
}

uint64_t notify_watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	unsigned long long v;
	char *end;

	if (!usec || !*usec)
		return 0;
	if (pid && *pid) {
		errno = 0;
		v = strtoull(pid, &end, 10);
		if (errno || *end || v != (unsigned long long)getpid())
			return 0;
	}
	errno = 0;
	v = strtoull(usec, &end, 10);
	if (errno || *end)
		return 0;
	return v;
}

static void watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	notify_send("WATCHDOG=1");
}

void notify_watchdog_start(struct ev_loop *loop, ev_timer *w)
{
	uint64_t usec = notify_watchdog_usec();
	double every;

	if (!usec)
		return;
	/* Half the interval, as systemd advises: one late ping is not a
	 * missed one. */
	every = (double)usec / 2e6;
	ev_timer_init(w, watchdog_cb, every, every);
	ev_timer_start(loop, w);
	notify_send("WATCHDOG=1");
}
