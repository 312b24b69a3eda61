/* SPDX-License-Identifier: MIT */
/*
 * The client side of vpnd's control socket: connecting, one request, and
 * its reply read line by line into pairs, with every bound of
 * docs/control.md enforced so that a confused or hostile peer costs us at
 * most CTL_LINES_MAX lines of CTL_LINE_MAX bytes.  Also the messages and
 * exit codes, and the checks of names, the subcommands share.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

/* A line and its newline fit twice, so a line is never split by a read. */
enum { READ_BUF = 2 * (CTL_LINE_MAX + 1) };

struct reader {
	int fd;
	uint64_t deadline;		/* CLOCK_MONOTONIC, ms */
	size_t off, len;		/* unread bytes are buf[off, len) */
	char buf[READ_BUF];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits for @fd to be readable until @deadline: 0, -ETIMEDOUT, -errno. */
static int wait_readable(int fd, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t now;
	int n;

	for (;;) {
		now = now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)(deadline - now));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/* Reads more into the buffer: 0, -ECONNRESET at the end, or -errno. */
static int reader_fill(struct reader *rd)
{
	ssize_t n;
	int ret;

	if (rd->off) {
		memmove(rd->buf, rd->buf + rd->off, rd->len - rd->off);
		rd->len -= rd->off;
		rd->off = 0;
	}
	for (;;) {
		ret = wait_readable(rd->fd, rd->deadline);
		if (ret)
			return ret;
		n = read(rd->fd, rd->buf + rd->len, sizeof(rd->buf) - rd->len);
		if (n > 0) {
			rd->len += (size_t)n;
			return 0;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	}
}

/* The next line, without its newline, NUL-terminated, into @line. */
static int reader_line(struct reader *rd, char line[CTL_LINE_MAX + 1])
{
	char *nl;
	size_t n;
	int ret;

	for (;;) {
		nl = memchr(rd->buf + rd->off, '\n', rd->len - rd->off);
		if (nl)
			break;
		if (rd->len - rd->off > CTL_LINE_MAX)
			return -EMSGSIZE;
		ret = reader_fill(rd);
		if (ret)
			return ret;
	}
	n = (size_t)(nl - (rd->buf + rd->off));
	if (n > CTL_LINE_MAX)
		return -EMSGSIZE;
	/* A NUL would cut the value short without anyone noticing. */
	if (memchr(rd->buf + rd->off, '\0', n))
		return -EPROTO;
	memcpy(line, rd->buf + rd->off, n);
	line[n] = '\0';
	rd->off += n + 1;
	return 0;
}

static bool key_valid(const char *key, size_t len)
{
	if (!len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((key[i] >= 'a' && key[i] <= 'z') ||
		      (key[i] >= '0' && key[i] <= '9') || key[i] == '_'))
			return false;
	return true;
}

/* "errno=N": 0 or a negative errno; anything else is not the protocol. */
static int parse_errno(const char *s, int *err)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v > 0 || v < -4095)
		return -EPROTO;
	*err = (int)v;
	return 0;
}

int ctl_reply_add(struct ctl_reply *r, const char *key, const char *value)
{
	size_t klen = strlen(key), vlen = strlen(value);
	struct ctl_pair *p;
	char *s;

	if (r->n_pair >= CTL_LINES_MAX)
		return -E2BIG;
	if (r->n_pair == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;

		p = reallocarray(r->pair, cap, sizeof(*p));
		if (!p)
			return -ENOMEM;
		r->pair = p;
		r->cap = cap;
	}
	s = malloc(klen + vlen + 2);
	if (!s)
		return -ENOMEM;
	memcpy(s, key, klen + 1);
	memcpy(s + klen + 1, value, vlen + 1);
	r->pair[r->n_pair].key = s;
	r->pair[r->n_pair].value = s + klen + 1;
	r->n_pair++;
	return 0;
}

/* One line of a reply; *done once the empty line after errno= is read. */
static int reply_line(struct ctl_reply *r, char *line, bool *seen_errno,
		      bool *done)
{
	char *eq;

	if (!*line) {
		/* Every reply ends "errno=N" and an empty line. */
		if (!*seen_errno)
			return -EPROTO;
		*done = true;
		return 0;
	}
	if (*seen_errno)
		return -EPROTO;
	eq = strchr(line, '=');
	if (!eq || !key_valid(line, (size_t)(eq - line)))
		return -EPROTO;
	*eq = '\0';
	if (!strcmp(line, "errno")) {
		*seen_errno = true;
		return parse_errno(eq + 1, &r->err);
	}
	return ctl_reply_add(r, line, eq + 1);
}

static int read_reply(struct reader *rd, struct ctl_reply *r)
{
	char line[CTL_LINE_MAX + 1];
	bool seen_errno = false, done = false;
	size_t bytes = 0;
	int ret;

	/* ctl_reply_add() bounds the lines: only "errno" and "" are not kept;
	 * and the bytes, as vpnd's CONTROL_REPLY_MAX does with its closing
	 * lines. */
	while (!done) {
		ret = reader_line(rd, line);
		if (!ret) {
			bytes += strlen(line) + 1;
			ret = bytes > CTL_REPLY_BYTES_MAX ? -E2BIG :
			      reply_line(r, line, &seen_errno, &done);
		}
		if (ret)
			return ret;
	}
	r->message = ctl_reply_get(r, "message");
	return 0;
}

static int send_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int ctl_call(struct ctl_conn *c, const char *request, int timeout_ms,
	     struct ctl_reply *r)
{
	struct reader *rd;
	int ret, send_err;

	memset(r, 0, sizeof(*r));
	send_err = send_all(c->fd, request, strlen(request));
	/* A daemon that turns us away replies at once and closes: our send
	 * may then fail, but its reply, which says why, is there to read. */
	if (send_err && send_err != -EPIPE && send_err != -ECONNRESET)
		return send_err;
	rd = calloc(1, sizeof(*rd));
	if (!rd)
		return -ENOMEM;
	rd->fd = c->fd;
	rd->deadline = now_ms() + (uint64_t)timeout_ms;
	ret = read_reply(rd, r);
	free(rd);
	if (ret && send_err) {
		ctl_reply_free(r);
		return send_err;
	}
	return ret;
}

void ctl_wait_closed(struct ctl_conn *c, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	char buf[256];
	ssize_t n;

	do {
		if (wait_readable(c->fd, deadline))
			return;
		n = read(c->fd, buf, sizeof(buf));
	} while (n > 0 || (n < 0 && errno == EINTR));
}

void ctl_reply_free(struct ctl_reply *r)
{
	for (size_t i = 0; i < r->n_pair; i++)
		free(r->pair[i].key);
	free(r->pair);
	memset(r, 0, sizeof(*r));
}

const char *ctl_reply_find(const struct ctl_reply *r, size_t from, size_t to,
			   const char *key)
{
	for (size_t i = from; i < to && i < r->n_pair; i++)
		if (!strcmp(r->pair[i].key, key))
			return r->pair[i].value;
	return NULL;
}

const char *ctl_reply_get(const struct ctl_reply *r, const char *key)
{
	return ctl_reply_find(r, 0, r->n_pair, key);
}

/* $VPND_RUNDIR/IFNAME.sock into c->path. */
static int socket_path(struct ctl_conn *c)
{
	const char *dir = getenv("VPND_RUNDIR");
	int n;

	if (!dir || !*dir)
		dir = CTL_RUNDIR_DEFAULT;
	n = snprintf(c->path, sizeof(c->path), "%s/%s.sock", dir, c->ifname);
	if (n < 0 || (size_t)n >= sizeof(c->path))
		return -ENAMETOOLONG;
	return 0;
}

int ctl_connect(struct ctl_conn *c, const char *ifname)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int ret;

	c->fd = -1;
	c->ifname = ifname;
	ret = socket_path(c);
	if (ret)
		return ret;
	memcpy(sun.sun_path, c->path, strlen(c->path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun))) {
		ret = -errno;
		ctl_close(c);
		return ret;
	}
	return 0;
}

void ctl_close(struct ctl_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

bool ctl_not_running(int err)
{
	return err == -ENOENT || err == -ECONNREFUSED;
}

int ctl_report_connect(const struct ctl_conn *c, int err)
{
	if (ctl_not_running(err))
		fprintf(stderr, "vpnctl: vpnd is not running on %s (no %s)\n",
			c->ifname, c->path);
	else if (err == -EACCES || err == -EPERM)
		fprintf(stderr, "vpnctl: %s: permission denied: run as root "
				"or as a member of the group vpnd\n",
			c->path);
	else if (err == -ENAMETOOLONG)
		fprintf(stderr, "vpnctl: the socket path of %s is too long "
				"(VPND_RUNDIR?)\n",
			c->ifname);
	else
		fprintf(stderr, "vpnctl: %s: %s\n", c->path, strerror(-err));
	return CTL_EXIT_UNREACHABLE;
}

int ctl_report_call(const struct ctl_conn *c, int err)
{
	switch (err) {
	case -ECONNRESET:
	case -EPIPE:
		/* Also how the daemon turns away a user it does not serve. */
		fprintf(stderr, "vpnctl: vpnd on %s closed the connection "
				"without a reply (not root nor in the group "
				"vpnd? too many clients? or it stopped)\n",
			c->ifname);
		return CTL_EXIT_UNREACHABLE;
	case -ETIMEDOUT:
		fprintf(stderr, "vpnctl: vpnd on %s did not reply in time\n",
			c->ifname);
		return CTL_EXIT_UNREACHABLE;
	case -EMSGSIZE:
		fprintf(stderr, "vpnctl: vpnd sent a line longer than %d "
				"bytes\n",
			CTL_LINE_MAX);
		return CTL_EXIT_FAILED;
	case -E2BIG:
		fprintf(stderr, "vpnctl: vpnd sent more than %d lines or %d "
				"bytes\n",
			CTL_LINES_MAX, CTL_REPLY_BYTES_MAX);
		return CTL_EXIT_FAILED;
	case -EPROTO:
		fprintf(stderr, "vpnctl: vpnd's reply is not in the control "
				"protocol (a different version?)\n");
		return CTL_EXIT_FAILED;
	default:
		fprintf(stderr, "vpnctl: %s: %s\n", c->path, strerror(-err));
		return CTL_EXIT_FAILED;
	}
}

int ctl_report_reply(const struct ctl_reply *r)
{
	fputs("vpnctl: ", stderr);
	if (r->message && *r->message)
		ctl_print_text(stderr, r->message);
	else
		fputs(strerror(-r->err), stderr);
	fputc('\n', stderr);
	/* Refused for who we are: no permission, as docs/control.md says. */
	if (r->err == -EACCES || r->err == -EPERM)
		return CTL_EXIT_UNREACHABLE;
	return CTL_EXIT_FAILED;
}

int ctl_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vpnctl %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'vpnctl %s --help'.\n", cmd);
	return CTL_EXIT_USAGE;
}

int ctl_option_error(const char *cmd, int ret, int opt, const char *arg)
{
	if (ret == ':')
		return ctl_usage_error(cmd, "%s needs an argument", arg);
	if (opt)
		return ctl_usage_error(cmd, "unknown option -%c", opt);
	return ctl_usage_error(cmd, "unknown option %s", arg);
}

bool ctl_ifname_valid(const char *name)
{
	size_t len = strlen(name);

	if (!len || len >= IFNAMSIZ || !strcmp(name, ".") ||
	    !strcmp(name, ".."))
		return false;
	for (size_t i = 0; i < len; i++)
		if (name[i] == '/' || name[i] == ':' ||
		    (unsigned char)name[i] <= ' ' ||
		    (unsigned char)name[i] >= 0x7f)
			return false;
	return true;
}

bool ctl_server_id_valid(const char *id)
{
	size_t len = strlen(id);

	if (!len || len > CTL_SERVER_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') ||
		      (id[i] >= 'A' && id[i] <= 'Z') ||
		      (id[i] >= '0' && id[i] <= '9') || id[i] == '-' ||
		      id[i] == '_' || id[i] == '.'))
			return false;
	return true;
}

bool ctl_parse_u64(const char *s, unsigned long long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return !errno && !*end;
}

void ctl_print_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		fputc(ch < ' ' || ch == 0x7f ? '?' : ch, f);
	}
}

size_t ctl_text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}
