/* SPDX-License-Identifier: MIT */
/*
 * The requests of vpnd's control socket (docs/control.md), apart from the
 * socket: where one request ends in the bytes a client sent, what it asks
 * (one OP=1 line and its arguments, checked), and whether the one who
 * asks may.  Pure: no sockets, no state; control.c owns the connections
 * and does what a request asks, tests/fuzz/fuzz_ctlreq.c hammers this.
 */
#ifndef VPND_CTLPROTO_H
#define VPND_CTLPROTO_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "ksfile.h"
#include "splitapp.h"
#include "splitnet.h"

/* Members of this group may drive the connection (docs/control.md). */
#define CONTROL_GROUP "vpnd"

enum control_proto_limits {
	/*
	 * The most a reply may hold, in bytes.  The longest replies list the
	 * servers (servers=1, probe=1), and each server's lines take fewer
	 * bytes than its entry in the list file, which CONF_FILE_MAX bounds:
	 * the entry's public key line alone outweighs the rtt_us= and
	 * connected= lines the file does not have.  So every reply to an
	 * accepted list fits, with room for the rest.  A reply that would
	 * not fit anyway ends with errno=-EMSGSIZE instead of being cut.
	 */
	CONTROL_REPLY_MAX = CONF_FILE_MAX + 65536,
	/* A reply line is at least "k=v\n": the most lines a reply holds. */
	CONTROL_REPLY_LINES_MAX = CONTROL_REPLY_MAX / 4,
};

struct control_request {
	char op[32];
	char server[CONF_NAME_MAX + 1];
	bool has_server;
	/* up=1 select=, probe=1 country= or city= */
	enum conf_select select;
	char select_value[CONF_NAME_MAX + 1];
	unsigned int timeout_ms;	/* probe=1; 0: the profile's */
	enum killswitch_mode mode;
	bool has_mode;
	bool allow_lan;
	bool has_allow_lan;
	/* split=1 [mode= action= net=... save=yes] */
	enum conf_split split_mode;
	bool split_add;
	bool has_split_action;
	struct conf_prefix split_net[SPLITNET_MAX];
	unsigned int n_split_net;
	bool split_save;
	struct splitapp_request split;	/* exec=1, split_pid=1 */
};

/*
 * The length of the first whole request in @in[0, @len), its closing
 * empty line included, or 0 when the request is not complete yet.
 */
size_t control_request_end(const char *in, size_t len);

/*
 * Parses one request, @text[0, @text_len) without its closing empty line
 * and NUL-terminated at @text_len (it is cut up in place), into @r.
 * Returns 0, or -EINVAL with @msg (of @len bytes) saying what was wrong,
 * in one line.
 */
int control_request_parse(char *text, size_t text_len,
			  struct control_request *r, char *msg, size_t len);

/*
 * Whether @r may be asked by root (@root) or by a member of the group
 * CONTROL_GROUP: 0, or -EPERM with @msg (of @len bytes) saying why.
 */
int control_request_access(const struct control_request *r, bool root,
			   char *msg, size_t len);

#endif /* VPND_CTLPROTO_H */
