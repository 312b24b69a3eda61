/* SPDX-License-Identifier: MIT */
/*
 * Cookies: the vector reply byte for byte, and MAC2 valid only from the
 * same address and port, and only while the cookie lives.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../vpnd/cookie.c"
#include "kat.h"

static const uint64_t SEC = 1000000000ULL;

/* A generator that returns one fixed buffer, for the vector's nonce. */
struct fixed_rng {
	const uint8_t *bytes;
	size_t len;
	int calls;
};

static void fixed_fill(void *ctx, void *buf, size_t len)
{
	struct fixed_rng *f = ctx;

	assert_int_equal(len, f->len);
	memcpy(buf, f->bytes, len);
	f->calls++;
}

static struct sockaddr_in v4(const char *addr, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port) };

	assert_int_equal(inet_pton(AF_INET, addr, &sin.sin_addr), 1);
	return sin;
}

static struct sockaddr_in6 v6(const char *addr, uint16_t port)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
				     .sin6_port = htons(port) };

	assert_int_equal(inet_pton(AF_INET6, addr, &sin6.sin6_addr), 1);
	return sin6;
}

static void test_cookie_vector(void **state)
{
	const struct kat_block *b = kat_find("cookie", 1);
	const struct kat_block *h = kat_find("handshake", 1);
	const uint8_t *nonce = kat_get_len(b, "nonce", 24);
	struct fixed_rng fr = { .bytes = nonce, .len = 24 };
	struct wg_rng rng = { .fill = fixed_fill, .ctx = &fr };
	struct cookie_checker c;
	struct cookie_maker m;
	struct sockaddr_in src = v4("192.168.243.2", 51820);
	uint8_t init[148], reply[64], cookie[16], source[18], key[32];
	uint64_t now = 7 * SEC;

	(void)state;
	memcpy(init, kat_get_len(h, "initiation", 148), 148);
	assert_memory_equal(init + INITIATION_OFF_MAC1,
			    kat_get_len(b, "mac1", 16), 16);

	/* The checker's keys and cookie, from the responder's side. */
	cookie_checker_init(&c, &rng);
	cookie_checker_precompute(&c, kat_get_len(b, "responder_static_public",
						  32));
	assert_memory_equal(c.cookie_key, kat_get_len(b, "cookie_key", 32), 32);
	memcpy(c.secret, kat_get_len(b, "cookie_secret", 32), 32);
	c.secret_birthdate = now;
	assert_int_equal(source_bytes(source, (struct sockaddr *)&src), 6);
	assert_memory_equal(source, kat_get_len(b, "source", 6), 6);
	assert_int_equal(make_cookie(&c, cookie, (struct sockaddr *)&src, now),
			 0);
	assert_memory_equal(cookie, kat_get_len(b, "cookie_value", 16), 16);

	assert_int_equal(cookie_checker_validate(&c, init, 148,
						 (struct sockaddr *)&src, now),
			 COOKIE_MAC_VALID_NO_COOKIE);
	assert_int_equal(cookie_checker_create_reply(
				 &c, reply, init, 148,
				 cookie_reply_receiver(
					 kat_get_len(b, "cookie_reply", 64)),
				 (struct sockaddr *)&src, now),
			 0);
	assert_int_equal(fr.calls, 1);
	assert_memory_equal(reply, kat_get_len(b, "cookie_reply", 64), 64);
	assert_int_equal(cookie_reply_receiver(reply), 0x11223344);

	/* The initiator takes the cookie and re-sends with MAC2. */
	cookie_maker_init(&m, kat_get_len(b, "responder_static_public", 32));
	derive_key(key, label_cookie,
		   kat_get_len(b, "responder_static_public", 32));
	assert_memory_equal(m.cookie_key, key, 32);
	cookie_maker_add_macs(&m, init, 148, now);
	assert_memory_equal(init, kat_get_len(h, "initiation", 148), 148);
	assert_int_equal(cookie_maker_consume_reply(&m, reply, 64, now), 0);
	assert_memory_equal(m.cookie, kat_get_len(b, "cookie_value", 16), 16);
	cookie_maker_add_macs(&m, init, 148, now);
	assert_memory_equal(init + INITIATION_OFF_MAC2,
			    kat_get_len(b, "mac2", 16), 16);
	assert_memory_equal(init, kat_get_len(b, "initiation_with_mac2", 148),
			    148);
	assert_int_equal(cookie_checker_validate(&c, init, 148,
						 (struct sockaddr *)&src, now),
			 COOKIE_MAC_VALID_WITH_COOKIE);
	kat_free();
}

struct world {
	struct cookie_checker c;
	struct cookie_maker m;
	uint8_t pub[32];
	uint8_t msg[148];
};

/* A responder loaded, and an initiator that fetched a cookie at t. */
static void world_setup(struct world *w, const struct sockaddr *src,
			uint64_t t)
{
	uint8_t reply[64];

	wg_rng_fill(NULL, w->pub, 32);
	cookie_checker_init(&w->c, NULL);
	cookie_checker_precompute(&w->c, w->pub);
	cookie_maker_init(&w->m, w->pub);
	wg_rng_fill(NULL, w->msg, sizeof(w->msg));
	put_le32(w->msg, MESSAGE_HANDSHAKE_INITIATION);
	cookie_maker_add_macs(&w->m, w->msg, 148, t);
	assert_true(wg_is_zero(w->msg + 132, 16));
	assert_int_equal(cookie_checker_validate(&w->c, w->msg, 148, src, t),
			 COOKIE_MAC_VALID_NO_COOKIE);
	assert_int_equal(cookie_decide(COOKIE_MAC_VALID_NO_COOKIE, true),
			 COOKIE_SEND_REPLY);
	assert_int_equal(cookie_checker_create_reply(&w->c, reply, w->msg, 148,
						     1, src, t),
			 0);
	assert_int_equal(cookie_maker_consume_reply(&w->m, reply, 64, t), 0);
	/* A replayed reply is refused: it answered an earlier message. */
	assert_int_equal(cookie_maker_consume_reply(&w->m, reply, 64, t),
			 -EINVAL);
	cookie_maker_add_macs(&w->m, w->msg, 148, t);
	assert_false(wg_is_zero(w->msg + 132, 16));
}

static void test_mac2_bound_to_address_and_port(void **state)
{
	struct world w;
	struct sockaddr_in a = v4("10.0.0.1", 4000);
	struct sockaddr_in other_port = v4("10.0.0.1", 4001);
	struct sockaddr_in other_addr = v4("10.0.0.2", 4000);
	struct sockaddr_in6 a6 = v6("fd00::1", 4000);
	struct sockaddr_in6 a6_port = v6("fd00::1", 4001);
	struct sockaddr_in6 a6_addr = v6("fd00::2", 4000);
	uint64_t t = 100 * SEC;

	(void)state;
	world_setup(&w, (struct sockaddr *)&a, t);
	assert_int_equal(cookie_checker_validate(&w.c, w.msg, 148,
						 (struct sockaddr *)&a, t),
			 COOKIE_MAC_VALID_WITH_COOKIE);
	assert_int_equal(cookie_decide(COOKIE_MAC_VALID_WITH_COOKIE, true),
			 COOKIE_ACCEPT);
	assert_int_equal(cookie_checker_validate(&w.c, w.msg, 148,
						 (struct sockaddr *)&other_port,
						 t),
			 COOKIE_MAC_VALID_NO_COOKIE);
	assert_int_equal(cookie_checker_validate(&w.c, w.msg, 148,
						 (struct sockaddr *)&other_addr,
						 t),
			 COOKIE_MAC_VALID_NO_COOKIE);

	world_setup(&w, (struct sockaddr *)&a6, t);
	assert_int_equal(cookie_checker_validate(&w.c, w.msg, 148,
						 (struct sockaddr *)&a6, t),
			 COOKIE_MAC_VALID_WITH_COOKIE);
	assert_int_equal(cookie_checker_validate(&w.c, w.msg, 148,
						 (struct sockaddr *)&a6_port, t),
			 COOKIE_MAC_VALID_NO_COOKIE);
	assert_int_equal(cookie_checker_validate(&w.c, w.msg, 148,
						 (struct sockaddr *)&a6_addr, t),
			 COOKIE_MAC_VALID_NO_COOKIE);
}

static void test_mac2_lifetime(void **state)
{
	struct world w;
	struct sockaddr_in a = v4("10.0.0.1", 4000);
	const struct sockaddr *src = (struct sockaddr *)&a;
	uint64_t t = 100 * SEC;

	(void)state;
	world_setup(&w, src, t);
	/* The checker's secret is born at t: valid until it is 120 s old. */
	assert_int_equal(cookie_checker_validate(&w.c, w.msg, 148, src,
						 t + 120 * SEC - 1),
			 COOKIE_MAC_VALID_WITH_COOKIE);
	assert_int_equal(cookie_checker_validate(&w.c, w.msg, 148, src,
						 t + 120 * SEC),
			 COOKIE_MAC_VALID_NO_COOKIE);
	/* The secret has rotated: the old cookie stays dead. */
	assert_int_equal(cookie_checker_validate(&w.c, w.msg, 148, src,
						 t + 121 * SEC),
			 COOKIE_MAC_VALID_NO_COOKIE);

	/* The maker stops sending MAC2 5 s before the secret would rotate. */
	world_setup(&w, src, t);
	cookie_maker_add_macs(&w.m, w.msg, 148, t + 115 * SEC - 1);
	assert_false(wg_is_zero(w.msg + 132, 16));
	cookie_maker_add_macs(&w.m, w.msg, 148, t + 115 * SEC);
	assert_true(wg_is_zero(w.msg + 132, 16));
}

static void test_mac1_checks(void **state)
{
	struct world w;
	struct sockaddr_in a = v4("10.0.0.1", 4000);
	const struct sockaddr *src = (struct sockaddr *)&a;
	struct cookie_checker other;
	uint8_t other_pub[32];

	(void)state;
	world_setup(&w, src, SEC);
	for (size_t i = 0; i < 132; i++) {
		w.msg[i] ^= 1;
		assert_int_equal(cookie_checker_validate(&w.c, w.msg, 148, src,
							 SEC),
				 COOKIE_MAC_INVALID);
		w.msg[i] ^= 1;
	}
	assert_int_equal(cookie_decide(COOKIE_MAC_INVALID, false), COOKIE_DROP);
	assert_int_equal(cookie_decide(COOKIE_MAC_INVALID, true), COOKIE_DROP);
	assert_int_equal(cookie_decide(COOKIE_MAC_VALID_NO_COOKIE, false),
			 COOKIE_ACCEPT);
	/* MAC1 is keyed by the receiver's public key: nobody else's fits. */
	wg_rng_fill(NULL, other_pub, 32);
	cookie_checker_init(&other, NULL);
	cookie_checker_precompute(&other, other_pub);
	assert_int_equal(cookie_checker_validate(&other, w.msg, 148, src, SEC),
			 COOKIE_MAC_INVALID);
	/* Without an identity, nothing validates. */
	cookie_checker_precompute(&other, NULL);
	assert_int_equal(cookie_checker_validate(&other, w.msg, 148, src, SEC),
			 COOKIE_MAC_INVALID);
	/* Too short to carry MACs. */
	assert_int_equal(cookie_checker_validate(&w.c, w.msg, 31, src, SEC),
			 COOKIE_MAC_INVALID);
}

static void test_reply_refused_when_tampered(void **state)
{
	struct cookie_checker c;
	struct cookie_maker m;
	struct sockaddr_in a = v4("10.0.0.1", 4000);
	uint8_t pub[32], msg[92] = { 2 }, reply[64], bad[64];

	(void)state;
	wg_rng_fill(NULL, pub, 32);
	cookie_checker_init(&c, NULL);
	cookie_checker_precompute(&c, pub);
	cookie_maker_init(&m, pub);
	/* Nothing sent yet: a reply cannot be ours. */
	assert_int_equal(cookie_checker_create_reply(&c, reply, msg, 92, 5,
						     (struct sockaddr *)&a, SEC),
			 0);
	assert_int_equal(cookie_maker_consume_reply(&m, reply, 64, SEC),
			 -EINVAL);
	cookie_maker_add_macs(&m, msg, 92, SEC);
	assert_int_equal(cookie_checker_create_reply(&c, reply, msg, 92, 5,
						     (struct sockaddr *)&a, SEC),
			 0);
	for (size_t i = 0; i < 64; i++) {
		memcpy(bad, reply, 64);
		bad[i] ^= 0x10;
		/* The receiver index (4..7) is routing, not authenticated. */
		if (i >= 4 && i < 8)
			continue;
		assert_int_not_equal(cookie_maker_consume_reply(&m, bad, 64,
								SEC),
				     0);
	}
	assert_int_equal(cookie_maker_consume_reply(&m, reply, 63, SEC),
			 -EINVAL);
	assert_int_equal(cookie_maker_consume_reply(&m, reply, 64, SEC), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cookie_vector),
		cmocka_unit_test(test_mac2_bound_to_address_and_port),
		cmocka_unit_test(test_mac2_lifetime),
		cmocka_unit_test(test_mac1_checks),
		cmocka_unit_test(test_reply_refused_when_tampered),
	};

	if (wg_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
