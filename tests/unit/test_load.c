/* SPDX-License-Identifier: MIT */
/*
 * When the daemon is "under load" and gates handshakes with cookies: only
 * when the socket a handshake came from has a backlog (a full batch and at
 * least 1/DEVICE_LOAD_BACKLOG_SHARE of its receive buffer queued), and for
 * a second after the last time it had one.  A busy but keeping-up daemon,
 * however many handshakes it completes a second, is not under load.
 *
 * The backlog is real: datagrams sent over loopback to a socket nobody
 * reads, measured by the kernel (SO_MEMINFO).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "device.h"
#include "udp.h"

static const uint64_t MS = 1000000ULL;

struct pair {
	int rx, tx;
};

/* A receiving socket with a small buffer, and a sender connected to it. */
static struct pair pair_open(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int size = 64 * 1024;
	struct pair p;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p.rx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	p.tx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(p.rx >= 0 && p.tx >= 0);
	assert_int_equal(setsockopt(p.rx, SOL_SOCKET, SO_RCVBUF, &size,
				    sizeof(size)), 0);
	assert_int_equal(bind(p.rx, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(p.rx, (struct sockaddr *)&a, &len), 0);
	assert_int_equal(connect(p.tx, (struct sockaddr *)&a, sizeof(a)), 0);
	return p;
}

static void pair_close(struct pair *p)
{
	close(p->rx);
	close(p->tx);
}

/* Queues n initiation-sized datagrams on p's receiver. */
static void queue(struct pair *p, int n)
{
	uint8_t msg[148] = { 1 };

	for (int i = 0; i < n; i++)
		assert_int_equal(send(p->tx, msg, sizeof(msg), 0),
				 (ssize_t)sizeof(msg));
}

static void drain(struct pair *p)
{
	uint8_t buf[2048];

	while (recv(p->rx, buf, sizeof(buf), 0) > 0)
		;
}

/* Queues datagrams until the backlog is high; returns how many it took. */
static int fill(struct pair *p)
{
	int n = 0;

	while (!udp_backlog_high(p->rx, DEVICE_LOAD_BACKLOG_SHARE)) {
		queue(p, 1);
		assert_true(++n < 10000);
	}
	return n;
}

static void test_backlog_measured(void **state)
{
	struct pair p = pair_open();
	int n;

	(void)state;
	assert_false(udp_backlog_high(p.rx, DEVICE_LOAD_BACKLOG_SHARE));
	queue(&p, 2);
	/* Two datagrams are not an eighth of a 128 KiB buffer. */
	assert_false(udp_backlog_high(p.rx, DEVICE_LOAD_BACKLOG_SHARE));
	n = fill(&p);
	assert_true(n > 2);
	assert_true(udp_backlog_high(p.rx, DEVICE_LOAD_BACKLOG_SHARE));
	drain(&p);
	assert_false(udp_backlog_high(p.rx, DEVICE_LOAD_BACKLOG_SHARE));
	/* A descriptor that is no socket has no backlog. */
	assert_false(udp_backlog_high(-1, DEVICE_LOAD_BACKLOG_SHARE));
	pair_close(&p);
}

static void test_rate_alone_is_not_load(void **state)
{
	static struct device dev;
	struct pair p = pair_open();
	uint64_t now = 1000 * MS;

	(void)state;
	memset(&dev, 0, sizeof(dev));
	/*
	 * 20,000 handshakes in one second, each read in a batch that left
	 * the socket empty: the old rule (512 a second) would have called
	 * this load; the backlog rule does not.
	 */
	for (int i = 0; i < 20000; i++) {
		device_backlog_batch(&dev, p.rx, false);
		assert_false(device_under_load(&dev, now + i * 50000ULL));
		device_backlog_done(&dev);
	}
	/* A full batch whose socket has little queued: not load either. */
	queue(&p, 2);
	device_backlog_batch(&dev, p.rx, true);
	assert_false(device_under_load(&dev, now));
	device_backlog_done(&dev);
	pair_close(&p);
}

static void test_backlog_is_load_for_a_second(void **state)
{
	static struct device dev;
	struct pair p = pair_open();
	uint64_t now = 5000 * MS;

	(void)state;
	memset(&dev, 0, sizeof(dev));
	fill(&p);
	/* A batch that was not full says the socket was emptied, whatever
	 * the kernel's count says by now: not asked, not load. */
	device_backlog_batch(&dev, p.rx, false);
	assert_false(device_under_load(&dev, now));
	device_backlog_done(&dev);

	device_backlog_batch(&dev, p.rx, true);
	assert_true(device_under_load(&dev, now));
	/* Asked once per batch: draining now does not change its answer. */
	drain(&p);
	assert_true(device_under_load(&dev, now + 1 * MS));
	device_backlog_done(&dev);

	/* Messages outside any batch, and later empty batches, stay under
	 * load until a second after the last backlog... */
	assert_true(device_under_load(&dev, now + 500 * MS));
	device_backlog_batch(&dev, p.rx, true);
	assert_true(device_under_load(&dev, now + 1000 * MS));
	device_backlog_done(&dev);
	/* ...and no longer. */
	assert_false(device_under_load(&dev, now + 1002 * MS));
	pair_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backlog_measured),
		cmocka_unit_test(test_rate_alone_is_not_load),
		cmocka_unit_test(test_backlog_is_load_for_a_second),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
