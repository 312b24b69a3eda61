/* SPDX-License-Identifier: MIT */
/*
 * The bounds on what outsiders can make the daemon hold (docs/limits.md)
 * that can be driven without sockets: the packets staged for one peer and
 * for all peers, the etcd watch message json-c holds until it ends, and
 * how a bound that keeps refusing is counted and said in the log (once,
 * then at most once per interval, with how many since).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The watch stream's writer is static: reach it by including fleet.c,
 * before cmocka.h, whose fail() macro would rename its fail(). */
#include "fleet.c"
#include "uapisock.h"

#include <cmocka.h>

static const uint64_t S = 1000000000ULL;

/* Stages n packets filled with the bytes mark, mark + 1, ... */
static void stage(struct peer *p, unsigned int n, unsigned int mark)
{
	uint8_t pkt[100];

	for (unsigned int i = 0; i < n; i++) {
		memset(pkt, (int)((mark + i) & 0xff), sizeof(pkt));
		peer_stage_packet(p, pkt, sizeof(pkt));
	}
}

static void unstage(struct peer *p)
{
	peer_staged_drop(p);
	free(p->st->staged);
	p->st->staged = NULL;
}

/* One peer: 128 packets, then each new one pushes out the oldest. */
static void test_peer_staged(void **state)
{
	struct device dev = { .log_level = LOG_LEVEL_SILENT };
	struct peer_state st = { 0 };
	struct peer p = { .dev = &dev, .st = &st };
	uint8_t first;

	(void)state;
	stage(&p, PEER_MAX_STAGED + 72, 0);
	assert_int_equal(st.nstaged, PEER_MAX_STAGED);
	assert_int_equal(dev.peers.staged, PEER_MAX_STAGED);
	assert_int_equal(dev.bounds.hits[BOUND_PEER_STAGED], 72);
	assert_int_equal(dev.stats.tx_dropped, 72);
	/* The 72 oldest went: the first kept is the 73rd staged. */
	first = st.staged[0]->data[0];
	assert_int_equal(first, 72);
	unstage(&p);
	assert_int_equal(dev.peers.staged, 0);
	assert_int_equal(dev.stats.tx_dropped, 72 + PEER_MAX_STAGED);
}

/*
 * Many peers: all together hold PEER_MAX_STAGED_TOTAL at most.  At the
 * bound a peer's new packet replaces its own oldest, and a peer with none
 * staged cannot start a queue.
 */
static void test_all_staged(void **state)
{
	enum { PEERS = PEER_MAX_STAGED_TOTAL / 100 + 2 };
	struct device dev = { .log_level = LOG_LEVEL_SILENT };
	struct peer *p = calloc(PEERS, sizeof(*p));
	struct peer_state *st = calloc(PEERS, sizeof(*st));
	unsigned int i, full = PEER_MAX_STAGED_TOTAL / 100;
	unsigned int rest = PEER_MAX_STAGED_TOTAL - full * 100;

	(void)state;
	assert_non_null(p);
	assert_non_null(st);
	for (i = 0; i < PEERS; i++) {
		p[i].dev = &dev;
		p[i].st = &st[i];
	}
	for (i = 0; i < full; i++)
		stage(&p[i], 100, 0);
	stage(&p[full], rest, 0);
	assert_int_equal(dev.peers.staged, PEER_MAX_STAGED_TOTAL);
	assert_int_equal(dev.bounds.hits[BOUND_STAGED], 0);

	stage(&p[full], 10, rest);	/* has some: its oldest make room */
	assert_int_equal(st[full].nstaged, rest);
	assert_int_equal(st[full].staged[0]->data[0], 10);
	stage(&p[full + 1], 5, 0);	/* has none: refused */
	assert_int_equal(st[full + 1].nstaged, 0);
	assert_int_equal(dev.peers.staged, PEER_MAX_STAGED_TOTAL);
	assert_int_equal(dev.bounds.hits[BOUND_STAGED], 15);
	assert_int_equal(dev.stats.tx_dropped, 15);

	/* A queue sent or dropped gives its room back. */
	unstage(&p[0]);
	stage(&p[full + 1], 5, 0);
	assert_int_equal(st[full + 1].nstaged, 5);
	assert_int_equal(dev.peers.staged, PEER_MAX_STAGED_TOTAL - 95);
	for (i = 0; i < PEERS; i++)
		unstage(&p[i]);
	assert_int_equal(dev.peers.staged, 0);
	free(st);
	free(p);
}

/* Runs fn with stderr in a file; returns how many lines it wrote. */
static int log_lines(void (*fn)(struct device *), struct device *dev,
		     char *text, size_t len)
{
	FILE *f = tmpfile();
	int saved = dup(2), lines = 0;
	size_t n;

	assert_non_null(f);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_true(dup2(fileno(f), 2) == 2);
	fn(dev);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = fread(text, 1, len - 1, f);
	text[n] = '\0';
	fclose(f);
	for (size_t i = 0; i < n; i++)
		lines += text[i] == '\n';
	return lines;
}

static void flood(struct device *dev)
{
	/* 1,000 refusals a second for two and a half minutes. */
	for (uint64_t ms = 0; ms < 150000; ms++)
		bound_hit(dev, BOUND_UAPI_CONNS, UAPISOCK_MAX_CONNS,
			  100 * S + ms * 1000000);
}

static void test_log_rate(void **state)
{
	struct device dev = { .log_level = LOG_LEVEL_ERROR };
	char text[2048];

	(void)state;
	strcpy(dev.ifname, "wgtest");
	/* Said at the first, at 60 s and at 120 s: three lines. */
	assert_int_equal(log_lines(flood, &dev, text, sizeof(text)), 3);
	assert_int_equal(dev.bounds.hits[BOUND_UAPI_CONNS], 150000);
	assert_non_null(strstr(text, "limit reached: 64 UAPI connections; "
				     "closing new ones\n"));
	assert_non_null(strstr(text, "(60000 times in the last 60 s)"));
	/* Other kinds have their own line and count. */
	assert_int_equal(dev.bounds.hits[BOUND_CONTROL_CONNS], 0);
	/* Zero refusals (the ratelimiter's quiet seconds) say nothing. */
	bound_hits(&dev, BOUND_RATELIMITER, RATELIMITER_MAX_ENTRIES, 0,
		   300 * S);
	assert_int_equal(dev.bounds.logged_at[BOUND_RATELIMITER], 0);
}

/* A watch stream: json-c holds an unfinished message, up to the bound. */
static void watch_setup(struct fleet *f, struct device *dev,
			struct conf_fleet *cf)
{
	memset(f, 0, sizeof(*f));
	f->dev = dev;
	f->cf = cf;
	f->watch_max = 4096;
	f->tok = json_tokener_new_ex(FLEET_JSON_DEPTH);
	assert_non_null(f->tok);
}

static void test_fleet_watch_message(void **state)
{
	struct device dev = { .log_level = LOG_LEVEL_SILENT };
	struct conf_fleet cf = { .prefix = (char *)"/users/" };
	const char *head = "{\"result\":{\"header\":{\"revision\":\"7\"},"
			   "\"pad\":\"";
	char chunk[1000], pad[2001], msg[3000];
	struct fleet f;
	int n;

	(void)state;
	memset(chunk, 'a', sizeof(chunk));
	memset(pad, 'a', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';

	/* Complete messages, each under the bound, many bytes in all. */
	watch_setup(&f, &dev, &cf);
	n = snprintf(msg, sizeof(msg), "%s%s\"}}\n", head, pad);
	for (int i = 0; i < 10; i++)
		assert_int_equal(watch_write(msg, 1, (size_t)n, &f),
				 (size_t)n);
	assert_int_equal(f.abort, ABORT_NONE);
	assert_int_equal(f.watch_partial, 0);

	/* One message that never ends: dropped once it passes the bound. */
	assert_int_equal(watch_write((char *)head, 1, strlen(head), &f),
			 strlen(head));
	for (n = 0; n < 10; n++)
		if (watch_write(chunk, 1, sizeof(chunk), &f) == 0)
			break;
	assert_int_equal(n, 4);		/* past 4096 with the fifth */
	assert_int_equal(f.abort, ABORT_FAIL);
	assert_int_equal(dev.bounds.hits[BOUND_FLEET_MESSAGE], 1);
	/* The next transfer starts from nothing. */
	transfer_end(&f);
	assert_int_equal(f.watch_partial, 0);
	assert_int_equal(watch_write(msg, 1, strlen(msg), &f), strlen(msg));
	json_tokener_free(f.tok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peer_staged),
		cmocka_unit_test(test_all_staged),
		cmocka_unit_test(test_log_rate),
		cmocka_unit_test(test_fleet_watch_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
