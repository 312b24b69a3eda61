/* SPDX-License-Identifier: MIT */
/*
 * The client side of vpnd's control socket (docs/control.md): where the
 * socket is, one request and its reply read into a bounded list of
 * key=value pairs, and the checks, messages and exit codes every
 * subcommand of vpnctl shares.
 */
#ifndef VPNCTL_CTL_H
#define VPNCTL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/un.h>
#include <net/if.h>

#include "ctlproto.h"

#define CTL_RUNDIR_DEFAULT "/run/vpnd"
#define CTL_IFNAME_DEFAULT "vpnd0"
#define CTL_PROFILE_DEFAULT "/etc/vpnd/client.conf"

/* The exit codes of docs/control.md. */
enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAILED = 1,		/* the daemon refused or failed it */
	CTL_EXIT_USAGE = 2,
	CTL_EXIT_UNREACHABLE = 3,	/* not running, or no permission */
	CTL_EXIT_TIMEOUT = 4,		/* up: no first handshake in time */
	/* Not an exit code: an argument parser's "go on". */
	CTL_CONTINUE = -1,
};

enum ctl_limits {
	CTL_LINE_MAX = 4096,		/* bytes of a reply line, without \n */
	/* lines of one reply: as many as vpnd may send */
	CTL_LINES_MAX = CONTROL_REPLY_LINES_MAX,
	/* bytes of one reply: vpnd's bound, and its message and errno */
	CTL_REPLY_BYTES_MAX = CONTROL_REPLY_MAX + 2 * (CTL_LINE_MAX + 1),
	CTL_SERVER_ID_MAX = 63,		/* as a section name of servers.conf */
	CTL_PATH_MAX = sizeof(((struct sockaddr_un *)0)->sun_path),
	CTL_TIMEOUT_MS = 5000,		/* status, servers */
	CTL_DOWN_TIMEOUT_MS = 15000,	/* undoing routes, firewall and DNS */
	CTL_CLOSE_WAIT_MS = 3000,	/* for the daemon to go after down */
	CTL_UP_TIMEOUT_MS = 10000,	/* the daemon's default VPND_UP_TIMEOUT */
	CTL_UP_MARGIN_MS = 3000,	/* beyond it, before we give up */
	CTL_START_TIMEOUT_MS = 30000,	/* for a starting vpnd to be ready */
	CTL_PROBE_MAX_MS = 30000,	/* the longest probe_timeout_ms */
};

struct ctl_pair {
	char *key;			/* one allocation: "key\0value\0" */
	char *value;
};

/* A reply: its key=value lines in order, and its errno= line apart. */
struct ctl_reply {
	struct ctl_pair *pair;
	size_t n_pair;
	size_t cap;
	int err;			/* 0, or a negative errno */
	const char *message;		/* the first message=, or NULL */
};

struct ctl_conn {
	int fd;
	const char *ifname;
	char path[CTL_PATH_MAX];
};

/*
 * Connects to the control socket of @ifname under $VPND_RUNDIR.  Returns 0,
 * or a negative errno: -ENOENT or -ECONNREFUSED when no daemon serves it
 * (ctl_not_running()), -EACCES without permission, -ENAMETOOLONG when the
 * path does not fit a socket address.  c->path is set in every case.
 */
int ctl_connect(struct ctl_conn *c, const char *ifname);
void ctl_close(struct ctl_conn *c);
bool ctl_not_running(int err);

/*
 * Sends @request (whole lines, ending with the empty line) and reads one
 * reply into @r, which the caller frees with ctl_reply_free() whatever the
 * result.  Returns 0 when a well-formed reply arrived (its own errno is in
 * r->err), or a negative errno: -ETIMEDOUT (nothing within @timeout_ms),
 * -ECONNRESET (closed before the reply ended), -EMSGSIZE (a line over
 * CTL_LINE_MAX), -E2BIG (over CTL_LINES_MAX lines or CTL_REPLY_BYTES_MAX
 * bytes), -EPROTO (not the protocol), -ENOMEM, or what send() or poll()
 * said.
 */
int ctl_call(struct ctl_conn *c, const char *request, int timeout_ms,
	     struct ctl_reply *r);

/* After down=1: waits up to @timeout_ms for the daemon to close. */
void ctl_wait_closed(struct ctl_conn *c, int timeout_ms);

void ctl_reply_free(struct ctl_reply *r);
/* Appends a pair, as a reply line would.  0, -E2BIG or -ENOMEM. */
int ctl_reply_add(struct ctl_reply *r, const char *key, const char *value);
/* The value of the first @key in pairs [@from, @to), or NULL. */
const char *ctl_reply_find(const struct ctl_reply *r, size_t from, size_t to,
			   const char *key);
const char *ctl_reply_get(const struct ctl_reply *r, const char *key);

/*
 * Connects to the daemon of @ifname, starting "vpnd --client -c PROFILE
 * IFNAME" first when none runs (@profile NULL: CTL_PROFILE_DEFAULT).
 * CTL_EXIT_OK with @c connected, or the exit code, its message printed.
 */
int ctl_connect_or_start(struct ctl_conn *c, const char *ifname,
			 const char *profile);

/* Messages on stderr; each returns the exit code that goes with them. */
int ctl_report_connect(const struct ctl_conn *c, int err);
int ctl_report_call(const struct ctl_conn *c, int err);
int ctl_report_reply(const struct ctl_reply *r);
int ctl_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The usage error getopt_long() found (it returned '?' or ':'). */
int ctl_option_error(const char *cmd, int ret, int opt, const char *arg);

/* What the kernel accepts as an interface name and is safe in a path. */
bool ctl_ifname_valid(const char *name);
/* Letters, digits and - _ . as servers.conf's section names. */
bool ctl_server_id_valid(const char *id);

/* A decimal unsigned value, as the protocol's numbers are. */
bool ctl_parse_u64(const char *s, unsigned long long *out);

/* Prints @s for a terminal: control characters become '?'. */
void ctl_print_text(FILE *f, const char *s);
/* Columns @s takes on a terminal, counting UTF-8 sequences as one. */
size_t ctl_text_width(const char *s);

#endif /* VPNCTL_CTL_H */
