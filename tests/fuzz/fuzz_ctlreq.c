/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the daemon's side of the control socket, vpnd/ctlproto.c: how
 * control.c cuts the bytes a client sends into requests
 * (control_request_end()), parses each (control_request_parse()) and
 * decides whether the client may ask it (control_request_access()).  The
 * socket is open to the group vpnd, so the bytes may come from any member
 * of it, and a refusal's message goes back into the reply.
 *
 * The stream is cut into requests twice, as control.c does with what it
 * has read: whole, and in pieces of sizes drawn from byte 1 appended to a
 * buffer one at a time, each piece followed by taking every complete
 * request out of the buffer (the first MAX_REQUESTS of an input).  Each
 * request is parsed from a copy sized to it (ASan sees a read past it),
 * twice.
 *
 * What is checked, besides ASan/UBSan/LSan:
 *  - both cuttings give the same requests (the same bytes, so the same
 *    results): framing does not depend on read sizes;
 *  - parsing is deterministic: the same text gives the same request, the
 *    same result and the same message;
 *  - a result is 0 or -EINVAL; a request with a NUL byte is refused;
 *  - a refusal's message (parse or access) is not empty, has no newline
 *    (it becomes one message= line of the reply: a newline would let a
 *    client write reply lines of its choosing) and fits a reply line;
 *  - a request taken is bounded and consistent: the operation is the first
 *    line's key, a name of [a-z0-9_], and that line says =1; each
 *    argument belongs to its
 *    operation (a server only for up, a mode only for killswitch, ...);
 *    at most SPLITNET_MAX networks, each a valid prefix; a probe timeout
 *    within its bounds; a selection never a bare server id;
 *  - access follows docs/control.md's table, written out here apart from
 *    ctlproto.c's: root may ask anything; the group may ask status,
 *    servers, probe, up, down, exec, split_pid, split_apps, killswitch
 *    without mode= or allow_lan=, and split without save=yes.
 *
 * Input layout: byte 0 bit 0: the client is root; byte 1 seeds the pieces;
 * the rest is the stream.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                               \
	do {                                                    \
		fprintf(stderr, "fuzz_ctlreq: " __VA_ARGS__);   \
		fputc('\n', stderr);                            \
		abort();                                        \
	} while (0)

enum {
	/* control.c's: its reply lines, its message buffer, its input. */
	LINE_MAX_ = 4096,
	MSG_LEN = 256,
	IN_MAX = 16384,
	MAX_REQUESTS = 64,
	HEADER_LEN = 2,
};

/* What one request came to, for comparing the two cuttings. */
struct outcome {
	size_t start, len;	/* of its text in the stream */
	int parsed, access;
};

struct run {
	struct outcome o[MAX_REQUESTS];
	size_t n;
};

static bool msg_ok(const char *msg)
{
	size_t len = strnlen(msg, MSG_LEN);

	return len && len < MSG_LEN && !strchr(msg, '\n') &&
	       strlen("message=") + len + 1 <= LINE_MAX_;
}

static bool in_list(const char *op, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(op, *list))
			return true;
	return false;
}

/* docs/control.md's table of what the group vpnd may ask. */
static bool group_may(const struct control_request *r)
{
	static const char *const always[] = {
		"status", "servers", "probe", "up", "down", "exec",
		"split_pid", "split_apps", NULL,
	};

	if (in_list(r->op, always))
		return true;
	if (!strcmp(r->op, "killswitch"))
		return !r->has_mode && !r->has_allow_lan;
	if (!strcmp(r->op, "split"))
		return !r->split_save;
	return false;
}

static bool prefix_ok(const struct conf_prefix *p)
{
	return (p->family == AF_INET && p->cidr <= 32) ||
	       (p->family == AF_INET6 && p->cidr <= 128);
}

/* Arguments only where their operation takes them. */
static void check_request(const struct control_request *r, const char *text)
{
	const char *op = r->op;
	size_t oplen = strnlen(op, sizeof(r->op));
	bool up = !strcmp(op, "up"), probe = !strcmp(op, "probe");
	bool split = !strcmp(op, "split");
	bool split_pid = !strcmp(op, "split_pid");

	if (!oplen || oplen == sizeof(r->op) ||
	    strspn(op, "abcdefghijklmnopqrstuvwxyz0123456789_") != oplen)
		FAIL("operation '%.40s' not a lowercase name", op);
	/* A request may begin with the third newline of "\n\n\n": the
	 * parser skips empty lines (only its first is possible). */
	text += strspn(text, "\n");
	if (strncmp(text, op, oplen) || strncmp(text + oplen, "=1", 2) ||
	    (text[oplen + 2] && text[oplen + 2] != '\n'))
		FAIL("operation '%s' is not the first line's =1", op);
	if (!memchr(r->server, '\0', sizeof(r->server)) ||
	    !memchr(r->select_value, '\0', sizeof(r->select_value)))
		FAIL("a name without its NUL");
	if (r->has_server && !up)
		FAIL("server= taken for %s", op);
	if (r->select && !up && !probe)
		FAIL("a selection taken for %s", op);
	if (r->select != CONF_SELECT_NONE && r->select != CONF_SELECT_FASTEST &&
	    r->select != CONF_SELECT_COUNTRY && r->select != CONF_SELECT_CITY)
		FAIL("selection %d", r->select);
	if (r->timeout_ms && (!probe || r->timeout_ms < CONF_PROBE_TIMEOUT_MIN ||
			      r->timeout_ms > CONF_PROBE_TIMEOUT_MAX))
		FAIL("timeout_ms %u for %s", r->timeout_ms, op);
	if ((r->has_mode || r->has_allow_lan) && strcmp(op, "killswitch"))
		FAIL("a kill switch argument taken for %s", op);
	if ((r->n_split_net || r->has_split_action || r->split_save ||
	     r->split_mode) && !split)
		FAIL("a split argument taken for %s", op);
	if (r->n_split_net > SPLITNET_MAX)
		FAIL("%u networks", r->n_split_net);
	for (unsigned int i = 0; i < r->n_split_net; i++)
		if (!prefix_ok(&r->split_net[i]))
			FAIL("network %u not a prefix", i);
	if (r->split.has_group && strcmp(op, "exec") && !split_pid)
		FAIL("group= taken for %s", op);
	if ((r->split.pid || r->split.has_action) && !split_pid)
		FAIL("pid= or action= taken for %s", op);
	if (r->split.pid < 0)
		FAIL("pid %d", (int)r->split.pid);
}

/* Parses one request of the stream, twice, and judges it. */
static void judge(const uint8_t *text, size_t len, bool root,
		  struct outcome *o)
{
	struct control_request r1, r2;
	char msg1[MSG_LEN], msg2[MSG_LEN], *t1, *t2;
	int ret;

	t1 = malloc(len + 1);
	t2 = malloc(len + 1);
	if (!t1 || !t2)
		FAIL("out of memory");
	memcpy(t1, text, len);
	t1[len] = '\0';
	memcpy(t2, t1, len + 1);
	memset(msg1, 0, sizeof(msg1));
	memset(msg2, 0, sizeof(msg2));
	o->parsed = control_request_parse(t1, len, &r1, msg1, sizeof(msg1));
	ret = control_request_parse(t2, len, &r2, msg2, sizeof(msg2));
	if (ret != o->parsed || strcmp(msg1, msg2) ||
	    (!ret && memcmp(&r1, &r2, sizeof(r1))))
		FAIL("the same request parsed twice differs");
	free(t2);
	o->access = 0;
	if (o->parsed) {
		if (o->parsed != -EINVAL)
			FAIL("parse returned %d", o->parsed);
		if (!msg_ok(msg1))
			FAIL("refusal message not one bounded line: '%s'",
			     msg1);
		free(t1);
		return;
	}
	if (memchr(text, '\0', len))
		FAIL("a request with a NUL byte taken");
	/* t1 was cut up by the parser: judge against the stream's bytes. */
	memcpy(t1, text, len);
	check_request(&r1, t1);
	free(t1);
	msg1[0] = '\0';
	o->access = control_request_access(&r1, root, msg1, sizeof(msg1));
	if (o->access && o->access != -EPERM)
		FAIL("access returned %d", o->access);
	if ((o->access == 0) != (root || group_may(&r1)))
		FAIL("%s asked by %s: %d, the table says otherwise", r1.op,
		     root ? "root" : "the group", o->access);
	if (o->access && !msg_ok(msg1))
		FAIL("access message not one bounded line: '%s'", msg1);
}

/* The stream cut as control.c cuts it, @cut bytes read at a time (0: all
 * at once).  A buffer that fills without a whole request in it ends the
 * connection ("request too long"). */
static void cut(const uint8_t *p, size_t len, uint32_t seed, bool root,
		bool judging, struct run *run)
{
	size_t off = 0, start = 0, in_len = 0, used;

	run->n = 0;
	while (off < len) {
		size_t piece = len - off;

		if (seed) {
			seed = seed * 1103515245u + 12345u;
			piece = 1 + (seed >> 16) % 64;
			if (piece > len - off)
				piece = len - off;
		}
		if (piece > IN_MAX - 1 - in_len)
			piece = IN_MAX - 1 - in_len;
		in_len += piece;
		off += piece;
		while (run->n < MAX_REQUESTS &&
		       (used = control_request_end((const char *)p + start,
						   in_len))) {
			struct outcome *o = &run->o[run->n++];

			o->start = start;
			o->len = used - 2;
			if (judging)
				judge(p + start, used - 2, root, o);
			start += used;
			in_len -= used;
		}
		if (in_len == IN_MAX - 1 || run->n == MAX_REQUESTS)
			return;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run whole, pieces;
	bool root;

	if (size < HEADER_LEN)
		return 0;
	root = data[0] & 1;
	cut(data + HEADER_LEN, size - HEADER_LEN, 0, root, true, &whole);
	/* The same bytes parse the same (judge() checks it): the pieces need
	 * only be cut at the same places. */
	cut(data + HEADER_LEN, size - HEADER_LEN,
	    data[1] * 2654435761u + 1, root, false, &pieces);
	if (whole.n != pieces.n)
		FAIL("%zu requests whole, %zu in pieces", whole.n, pieces.n);
	for (size_t i = 0; i < whole.n; i++)
		if (whole.o[i].start != pieces.o[i].start ||
		    whole.o[i].len != pieces.o[i].len)
			FAIL("request %zu cut differently in pieces", i);
	return 0;
}
