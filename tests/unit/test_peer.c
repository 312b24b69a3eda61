/* SPDX-License-Identifier: MIT */
/*
 * A peer's two parts (vpnd/peer.c): struct peer, which every configured
 * peer has, and struct peer_state, made only once the peer talks or is told
 * where it is, and freed again when the server forgets it.  With 100,000
 * peers that never connect, struct peer alone is what they cost, so its
 * size is checked here too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "device.h"
#include "forget.h"
#include "peer.h"
#include "send.h"

enum {
	/* What tests/bench/README.md's 100,000-peer figure rests on. */
	PEER_SIZE_BUDGET = 216,
};

static struct device dev;

static int setup(void **state)
{
	(void)state;
	memset(&dev, 0, sizeof(dev));
	dev.log_level = LOG_LEVEL_SILENT;
	dev.udp4 = dev.udp6 = dev.tun_fd = -1;
	dev.loop = ev_loop_new(EVFLAG_AUTO);
	dev.rekey_after_time = UINT64_C(7) * 1000000000;
	if (!dev.loop || peer_table_init(&dev.peers) ||
	    index_table_init(&dev.index) ||
	    allowedips_init(&dev.aips, offsetof(struct peer, aips)))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	device_remove_all_peers(&dev);
	allowedips_free(dev.aips);
	index_table_free(&dev.index);
	peer_table_free(&dev.peers);
	ev_loop_destroy(dev.loop);
	return 0;
}

static struct peer *new_peer(uint8_t tag)
{
	uint8_t key[NOISE_PUBLIC_KEY_LEN];
	struct peer *p = NULL;

	memset(key, tag, sizeof(key));
	assert_int_equal(peer_create(&dev, key, &p), 0);
	assert_non_null(p);
	return p;
}

static void test_size(void **state)
{
	(void)state;
	assert_true(sizeof(struct peer) <= PEER_SIZE_BUDGET);
}

/* A peer as configured: no state, and nothing that needs one breaks. */
static void test_idle_peer(void **state)
{
	struct peer *p = new_peer(1);
	static const uint8_t a4[4] = { 10, 0, 0, 1 };

	(void)state;
	assert_null(p->st);
	assert_int_equal(allowedips_insert(dev.aips, AF_INET, a4, 32, p), 0);
	assert_ptr_equal(allowedips_lookup(dev.aips, AF_INET, a4), p);
	peer_timer_update(p, 1);
	peer_keys_clear(p);
	peer_sessions_expire(p);
	peer_staged_drop(p);
	send_keepalive(p, 1);
	send_handshake_request(p, 1);
	send_handshake_initiation(p, 1);
	send_staged(p, 1, true);
	assert_null(p->st);
	assert_int_equal(dev.stats.tx_dropped, 0);
	peer_remove(p);
	assert_null(allowedips_lookup(dev.aips, AF_INET, a4));
	assert_int_equal(dev.peers.count, 0);
}

static void test_activate_once(void **state)
{
	struct peer *p = new_peer(2);
	struct peer_state *st;

	(void)state;
	assert_int_equal(peer_activate(p), 0);
	st = p->st;
	assert_non_null(st);
	assert_true(st->timer_armed_at == TIMERS_NEVER);
	assert_true(st->timers.rekey_after_time == dev.rekey_after_time);
	assert_ptr_equal(st->timer.data, p);
	assert_int_equal(peer_activate(p), 0);
	assert_ptr_equal(p->st, st);
	peer_deactivate(p);
	assert_null(p->st);
	peer_deactivate(p);
	assert_null(p->st);
}

/* Forgotten without a keepalive: back to a peer that never talked, but
 * its last TAI64N timestamp stays, so no old initiation replays. */
static void test_forget_frees_state(void **state)
{
	struct peer *p = new_peer(3);

	(void)state;
	assert_int_equal(peer_activate(p), 0);
	p->st->endpoint.sin.sin_family = AF_INET;
	p->st->rx_bytes = 148;
	p->st->timers.authenticated_ever_received = true;
	memset(p->remote.latest_timestamp, 0x5a,
	       sizeof(p->remote.latest_timestamp));
	forget_peer(p, 1000);
	assert_null(p->st);
	assert_int_equal(p->remote.latest_timestamp[0], 0x5a);
	assert_int_equal(p->remote.latest_timestamp[NOISE_TIMESTAMP_LEN - 1],
			 0x5a);
	assert_false(forget_times_of(p).had_packet);
}

/* With a keepalive the setting must survive, so the state stays, emptied. */
static void test_forget_keeps_keepalive(void **state)
{
	struct peer *p = new_peer(4);

	(void)state;
	assert_int_equal(peer_activate(p), 0);
	timers_set_persistent_keepalive(&p->st->timers, 25);
	assert_int_equal(p->st->timers.persistent_keepalive_interval, 25);
	p->st->endpoint.sin.sin_family = AF_INET;
	p->st->rx_bytes = 148;
	p->st->tx_bytes = 92;
	p->st->timers.authenticated_ever_received = true;
	forget_peer(p, 1000);
	assert_non_null(p->st);
	assert_int_equal(p->st->timers.persistent_keepalive_interval, 25);
	assert_true(p->st->timers.rekey_after_time == dev.rekey_after_time);
	assert_int_equal(p->st->endpoint.sa.sa_family, 0);
	assert_true(p->st->rx_bytes == 0 && p->st->tx_bytes == 0);
	assert_false(forget_times_of(p).had_packet);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size),
		cmocka_unit_test_setup_teardown(test_idle_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_activate_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_forget_frees_state, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_forget_keeps_keepalive,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
