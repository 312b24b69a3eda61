/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes vpnctl's side of the control socket, vpnctl/ctl.c: ctl_call()
 * reading and parsing what comes back from the socket into a struct
 * ctl_reply, and ctl_reply_find()/ctl_reply_get() on the result.  vpnctl
 * runs as an ordinary user, and what answers on the socket path may not be
 * our daemon (a stale path, a daemon of another version, or something
 * hostile listening there), so every byte of the reply is untrusted.
 *
 * The reply is served through a real socket, so that the code under test
 * is ctl_call() as vpnctl runs it, reads and all: an AF_UNIX
 * SOCK_SEQPACKET pair, whose packets arrive one per read(), lets the input
 * reach the reader cut at chosen places.  Each input is served twice:
 *
 *  1. whole (in packets of READ_PIECE bytes, the most one read takes);
 *  2. cut into up to MAX_CUTS pieces of sizes drawn from byte 0.
 *
 * What is checked, besides ASan/UBSan/LSan:
 *  - both passes give the same result, and the result is what a plain
 *    referee parser of docs/control.md's framing (below, written apart from
 *    ctl.c) says: the same return code, and for a well-formed reply the
 *    same pairs in order, the same errno, the first message=;
 *  - the return code is 0 or one ctl_call() documents;
 *  - a reply parsed is bounded: at most CTL_LINES_MAX pairs, keys of
 *    [a-z0-9_], no key "errno", no NUL or newline in a value, no line over
 *    CTL_LINE_MAX;
 *  - ctl_reply_find() over ranges drawn from the input, out-of-range ones
 *    included, finds what a linear scan finds;
 *  - the message, printed with ctl_print_text() as vpnctl prints it,
 *    carries no control character to the terminal;
 *  - the request vpnctl sent arrives whole at the other end;
 *  - ctl_reply_free() leaves nothing behind (LSan).
 *
 * Input layout: byte 0 seeds the cut points; the rest is the reply.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* vpnctl is not part of the core library: its reply code comes in here. */
#include "../../vpnctl/ctl.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                               \
	do {                                                    \
		fprintf(stderr, "fuzz_ctlreply: " __VA_ARGS__); \
		fputc('\n', stderr);                            \
		abort();                                        \
	} while (0)

enum {
	/* A packet never larger than the room ctl.c's reader has left
	 * (at least CTL_LINE_MAX + 2 bytes), so none is truncated. */
	READ_PIECE = CTL_LINE_MAX,
	MAX_CUTS = 32,
	/* Keeps a whole input within the socket's send buffer. */
	MAX_INPUT = 48 * 1024,
};

static const char request[] = "status=1\n\n";

/* The referee's view of one reply. */
struct expect {
	int ret;
	int err;
	size_t n_pair;
	size_t message;		/* index of the first message=, or SIZE_MAX */
};

static bool referee_key(const uint8_t *k, size_t len)
{
	if (!len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') ||
		      (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
			return false;
	return true;
}

/* docs/control.md: key=value lines, then errno=N (0 or negative), then an
 * empty line; a line is at most CTL_LINE_MAX bytes; no NUL anywhere. */
static void referee(const uint8_t *p, size_t len, struct expect *e)
{
	size_t off = 0;
	bool seen_errno = false;

	memset(e, 0, sizeof(*e));
	e->message = SIZE_MAX;
	for (;;) {
		const uint8_t *nl = memchr(p + off, '\n', len - off);
		const uint8_t *line = p + off, *eq;
		size_t n;

		if (!nl) {
			e->ret = len - off > CTL_LINE_MAX ? -EMSGSIZE :
							    -ECONNRESET;
			return;
		}
		n = (size_t)(nl - line);
		off += n + 1;
		if (n > CTL_LINE_MAX) {
			e->ret = -EMSGSIZE;
			return;
		}
		if (memchr(line, '\0', n)) {
			e->ret = -EPROTO;
			return;
		}
		if (!n) {
			e->ret = seen_errno ? 0 : -EPROTO;
			break;
		}
		eq = memchr(line, '=', n);
		if (seen_errno || !eq || !referee_key(line, (size_t)(eq - line))) {
			e->ret = -EPROTO;
			return;
		}
		if (eq - line == 5 && !memcmp(line, "errno", 5)) {
			char num[CTL_LINE_MAX + 1];
			char *end;
			long v;

			memcpy(num, eq + 1, n - 6);
			num[n - 6] = '\0';
			errno = 0;
			v = strtol(num, &end, 10);
			if (errno || end == num || *end || v > 0 ||
			    v < -4095) {
				e->ret = -EPROTO;
				return;
			}
			e->err = (int)v;
			seen_errno = true;
			continue;
		}
		if (e->n_pair == CTL_LINES_MAX) {
			e->ret = -E2BIG;
			return;
		}
		if (e->message == SIZE_MAX && eq - line == 7 &&
		    !memcmp(line, "message", 7))
			e->message = e->n_pair;
		e->n_pair++;
	}
}

/* The pairs of a well-formed reply, as the referee reads them again. */
static void check_pairs(const uint8_t *p, size_t len, const struct expect *e,
			const struct ctl_reply *r)
{
	size_t off = 0, i = 0;

	if (r->n_pair != e->n_pair)
		FAIL("%zu pairs, the referee counts %zu", r->n_pair, e->n_pair);
	if (r->err != e->err)
		FAIL("errno %d, the referee says %d", r->err, e->err);
	while (i < e->n_pair) {
		const uint8_t *line = p + off;
		const uint8_t *nl = memchr(line, '\n', len - off);
		const uint8_t *eq = memchr(line, '=', (size_t)(nl - line));
		size_t klen = (size_t)(eq - line), vlen = (size_t)(nl - eq - 1);

		off += (size_t)(nl - line) + 1;
		if (klen == 5 && !memcmp(line, "errno", 5))
			continue;
		if (strlen(r->pair[i].key) != klen ||
		    memcmp(r->pair[i].key, line, klen) ||
		    strlen(r->pair[i].value) != vlen ||
		    memcmp(r->pair[i].value, eq + 1, vlen))
			FAIL("pair %zu differs from the reply's line", i);
		if (!strcmp(r->pair[i].key, "errno") ||
		    strchr(r->pair[i].value, '\n'))
			FAIL("pair %zu is not a plain reply line", i);
		i++;
	}
	if (e->message == SIZE_MAX ? r->message != NULL :
				     r->message != r->pair[e->message].value)
		FAIL("message= is not the first message line");
}

/* ctl_reply_find() against a scan, over ranges drawn from the input. */
static void check_find(const struct ctl_reply *r, const uint8_t *data,
		       size_t size)
{
	static const char *const keys[] = { "state", "message", "server",
					    "address", "x", "" };

	for (size_t k = 0; k < sizeof(keys) / sizeof(*keys); k++) {
		size_t from = size ? data[k % size] % 8 : 0;
		size_t to = size ? from + data[(k + 1) % size] % 64 : 0;
		const char *want = NULL, *got;

		for (size_t i = from; i < to && i < r->n_pair; i++)
			if (!strcmp(r->pair[i].key, keys[k])) {
				want = r->pair[i].value;
				break;
			}
		got = ctl_reply_find(r, from, to, keys[k]);
		if (got != want)
			FAIL("ctl_reply_find(%zu, %zu, %s) is not the scan's",
			     from, to, keys[k]);
	}
}

/* vpnctl prints a daemon's message to a terminal: nothing may control it. */
static void check_print(const struct ctl_reply *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (!r->message)
		return;
	f = open_memstream(&text, &len);
	if (!f)
		FAIL("open_memstream");
	ctl_print_text(f, r->message);
	if (fclose(f))
		FAIL("fclose");
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)text[i] < ' ' || text[i] == 0x7f)
			FAIL("control byte 0x%02x printed", text[i]);
	if (len != strlen(r->message) ||
	    ctl_text_width(r->message) > strlen(r->message))
		FAIL("printed message not the message's length");
	free(text);
}

static void xwrite(int fd, const uint8_t *p, size_t n)
{
	ssize_t w = write(fd, p, n);

	if (w < 0 || (size_t)w != n)
		FAIL("serving %zu bytes: %s", n, w < 0 ? strerror(errno) :
							  "short write");
}

/* Serves the reply on a fresh socket pair, cut as @cuts says (NULL: in
 * READ_PIECE packets), and runs ctl_call() on it. */
static int serve(const uint8_t *p, size_t len, const size_t *cuts,
		 size_t n_cuts, struct ctl_reply *r)
{
	struct ctl_conn c = { .ifname = "fuzz0" };
	char got[sizeof(request) + 8];
	size_t off = 0;
	ssize_t n;
	int sv[2], ret, buf = 1 << 20;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		FAIL("socketpair: %s", strerror(errno));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	for (size_t i = 0; i < n_cuts && off < len; i++) {
		size_t piece = cuts[i] < len - off ? cuts[i] : len - off;

		xwrite(sv[1], p + off, piece);
		off += piece;
	}
	while (off < len) {
		size_t piece = len - off < READ_PIECE ? len - off : READ_PIECE;

		xwrite(sv[1], p + off, piece);
		off += piece;
	}
	/* End of file once the reply is read: no pass waits for a timer. */
	shutdown(sv[1], SHUT_WR);
	c.fd = sv[0];
	ret = ctl_call(&c, request, 10000, r);
	n = read(sv[1], got, sizeof(got));
	if (n != (ssize_t)strlen(request) || memcmp(got, request, (size_t)n))
		FAIL("the request did not arrive whole");
	close(sv[0]);
	close(sv[1]);
	return ret;
}

static void check_bounds(const struct ctl_reply *r)
{
	if (r->n_pair > CTL_LINES_MAX || r->n_pair > r->cap)
		FAIL("%zu pairs (cap %zu)", r->n_pair, r->cap);
	if (r->err > 0 || r->err < -4095)
		FAIL("errno %d", r->err);
	for (size_t i = 0; i < r->n_pair; i++) {
		size_t klen = strlen(r->pair[i].key);

		if (r->pair[i].value != r->pair[i].key + klen + 1 ||
		    klen + 1 + strlen(r->pair[i].value) > CTL_LINE_MAX)
			FAIL("pair %zu out of bounds", i);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cuts[MAX_CUTS], n_cuts = 0, total = 0;
	struct ctl_reply r1, r2;
	struct expect e;
	uint32_t seed;
	int ret1, ret2;

	if (size < 1 || size > MAX_INPUT)
		return 0;
	seed = data[0] * 2654435761u + 1;
	data++;
	size--;
	while (n_cuts < MAX_CUTS && total < size) {
		seed = seed * 1103515245u + 12345u;
		/* Mostly small pieces, now and then a long one. */
		cuts[n_cuts] = 1 + ((seed >> 16) & 0x10 ? (seed >> 8) % 4096 :
							  (seed >> 8) % 24);
		total += cuts[n_cuts++];
	}

	referee(data, size, &e);
	ret1 = serve(data, size, NULL, 0, &r1);
	ret2 = serve(data, size, cuts, n_cuts, &r2);
	if (ret1 != e.ret || ret2 != e.ret)
		FAIL("ctl_call() returned %d whole and %d in pieces, the "
		     "referee says %d", ret1, ret2, e.ret);
	if (!ret1) {
		check_bounds(&r1);
		check_pairs(data, size, &e, &r1);
		check_pairs(data, size, &e, &r2);
		check_find(&r1, data, size);
		check_print(&r1);
	}
	ctl_reply_free(&r1);
	ctl_reply_free(&r2);
	if (r1.pair || r1.n_pair || r2.pair || r2.n_pair)
		FAIL("ctl_reply_free() left pairs");
	return 0;
}
