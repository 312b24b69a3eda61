/* SPDX-License-Identifier: MIT */
/*
 * Known answers for the primitives: BLAKE2s from RFC 7693 (appendix B and
 * the appendix E self-test), keyed BLAKE2s, HMAC-BLAKE2s and WireGuard's
 * KDF from the shared vectors, TAI64N, AEAD round trips and X25519's
 * refusal of low-order points.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "blake2s.h"
#include "crypto.h"
#include "kat.h"

static void test_blake2s_rfc7693_abc(void **state)
{
	uint8_t out[32], want[32];

	(void)state;
	kat_hex(want, sizeof(want),
		"508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
	wg_hash(out, "abc", 3);
	assert_memory_equal(out, want, 32);
}

/* RFC 7693 appendix E: a deterministic input sequence... */
static void selftest_seq(uint8_t *out, size_t len, uint32_t seed)
{
	uint32_t a = 0xDEAD4BAD * seed, b = 1, t;

	for (size_t i = 0; i < len; i++) {
		t = a + b;
		a = b;
		b = t;
		out[i] = (uint8_t)(t >> 24);
	}
}

/* ...hashed at every output and input length, keyed and unkeyed, into one
 * running hash whose value the RFC gives. */
static void test_blake2s_rfc7693_selftest(void **state)
{
	static const size_t md_len[] = { 16, 20, 28, 32 };
	static const size_t in_len[] = { 0, 3, 64, 65, 255, 1024 };
	uint8_t in[1024], md[32], key[32], out[32], want[32];
	struct blake2s_state ctx;

	(void)state;
	kat_hex(want, sizeof(want),
		"6a411f08ce25adcdfb02aba641451cec53c598b24f4fc787fbdc88797f4c1dfe");
	blake2s_init(&ctx, 32);
	for (size_t i = 0; i < 4; i++) {
		size_t outlen = md_len[i];

		for (size_t j = 0; j < 6; j++) {
			size_t inlen = in_len[j];

			selftest_seq(in, inlen, (uint32_t)inlen);
			blake2s(md, outlen, in, inlen, NULL, 0);
			blake2s_update(&ctx, md, outlen);
			selftest_seq(key, outlen, (uint32_t)outlen);
			blake2s(md, outlen, in, inlen, key, outlen);
			blake2s_update(&ctx, md, outlen);
		}
	}
	blake2s_final(&ctx, out);
	assert_memory_equal(out, want, 32);
}

/* The input fed in two pieces, split anywhere (around the block edges
 * above all), keyed or not, gives what one piece gives. */
static void test_blake2s_split_anywhere(void **state)
{
	uint8_t in[200], key[32], whole[32], split[32];
	struct blake2s_state s;

	(void)state;
	selftest_seq(in, sizeof(in), 7);
	selftest_seq(key, sizeof(key), 9);
	for (size_t keylen = 0; keylen <= 32; keylen += 32) {
		for (size_t len = 0; len <= sizeof(in); len++) {
			blake2s(whole, 32, in, len, key, keylen);
			for (size_t cut = 0; cut <= len; cut++) {
				blake2s_init_key(&s, 32, key, keylen);
				blake2s_update(&s, in, cut);
				blake2s_update(&s, in + cut, len - cut);
				blake2s_final(&s, split);
				assert_memory_equal(whole, split, 32);
			}
		}
	}
}

static void test_hash2_is_concatenation(void **state)
{
	uint8_t a[32], b[32];

	(void)state;
	wg_hash(a, "hello world", 11);
	wg_hash2(b, "hello", 5, " world", 6);
	assert_memory_equal(a, b, 32);
	wg_hash2(b, "hello", 5, "world", 5);
	assert_memory_not_equal(a, b, 32);
}

static void test_kdf_vectors(void **state)
{
	(void)state;
	for (int n = 1; n <= 3; n++) {
		const struct kat_block *b = kat_find("kdf", n);
		size_t inlen;
		const uint8_t *key = kat_get_len(b, "key", 32);
		const uint8_t *in = kat_get(b, "input", &inlen);
		uint8_t out[32], t1[32], t2[32], t3[32];

		assert_non_null(b);
		wg_hash(out, in, inlen);
		assert_memory_equal(out, kat_get_len(b, "hash", 32), 32);
		wg_mac(out, key, 32, in, inlen);
		assert_memory_equal(out, kat_get_len(b, "mac", 16), 16);
		wg_hmac(out, key, 32, in, inlen);
		assert_memory_equal(out, kat_get_len(b, "hmac", 32), 32);

		memset(t2, 0xaa, 32);
		wg_kdf(t1, NULL, NULL, key, in, inlen);
		assert_memory_equal(t1, kat_get_len(b, "kdf1_1", 32), 32);
		wg_kdf(t1, t2, NULL, key, in, inlen);
		assert_memory_equal(t1, kat_get_len(b, "kdf2_1", 32), 32);
		assert_memory_equal(t2, kat_get_len(b, "kdf2_2", 32), 32);
		wg_kdf(t1, t2, t3, key, in, inlen);
		assert_memory_equal(t1, kat_get_len(b, "kdf3_1", 32), 32);
		assert_memory_equal(t2, kat_get_len(b, "kdf3_2", 32), 32);
		assert_memory_equal(t3, kat_get_len(b, "kdf3_3", 32), 32);

		/* The chaining key may be an output too, as noise.c uses it. */
		memcpy(t1, key, 32);
		wg_kdf(t1, t2, NULL, t1, in, inlen);
		assert_memory_equal(t1, kat_get_len(b, "kdf2_1", 32), 32);
		assert_memory_equal(t2, kat_get_len(b, "kdf2_2", 32), 32);
	}
}

static void test_hmac_long_key(void **state)
{
	uint8_t key[100], hk[32], a[32], b[32];

	(void)state;
	/* RFC 2104: a key longer than the block acts as its hash. */
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	wg_hash(hk, key, sizeof(key));
	wg_hmac(a, key, sizeof(key), "data", 4);
	wg_hmac(b, hk, sizeof(hk), "data", 4);
	assert_memory_equal(a, b, 32);
	wg_hmac(b, key, 64, "data", 4);
	assert_memory_not_equal(a, b, 32);
}

static void test_tai64n(void **state)
{
	uint8_t out[12], want[12], later[12];
	struct timespec ts = { .tv_sec = 0x5fee660a - 10, .tv_nsec = 0 };

	(void)state;
	kat_hex(want, sizeof(want), "400000005fee660a00000000");
	wg_tai64n(out, &ts);
	assert_memory_equal(out, want, 12);
	assert_memory_equal(out, kat_get_len(kat_find("handshake", 1),
					     "timestamp", 12), 12);

	/* The nanoseconds are cut to multiples of 2^24 (~16.8 ms), the
	 * largest power of two within the 20 ms initiation interval. */
	ts.tv_nsec = 999999999;
	wg_tai64n(out, &ts);
	kat_hex(want, sizeof(want), "400000005fee660a3b000000");
	assert_memory_equal(out, want, 12);
	ts.tv_nsec = (1 << 24) - 1;
	wg_tai64n(out, &ts);
	kat_hex(want, sizeof(want), "400000005fee660a00000000");
	assert_memory_equal(out, want, 12);
	ts.tv_nsec = 1 << 24;
	wg_tai64n(out, &ts);
	kat_hex(want, sizeof(want), "400000005fee660a01000000");
	assert_memory_equal(out, want, 12);

	/* Big-endian, so a later time compares greater bytewise. */
	ts.tv_sec += 1;
	ts.tv_nsec = 0;
	wg_tai64n(later, &ts);
	assert_true(memcmp(later, out, 12) > 0);
}

static void test_aead_roundtrip_and_tamper(void **state)
{
	uint8_t key[32], pt[100], ct[116], back[100];

	(void)state;
	for (size_t i = 0; i < 32; i++)
		key[i] = (uint8_t)(i * 7);
	for (size_t i = 0; i < sizeof(pt); i++)
		pt[i] = (uint8_t)i;
	wg_aead_encrypt(ct, pt, sizeof(pt), (const uint8_t *)"ad", 2, 42, key);
	assert_true(wg_aead_decrypt(back, ct, sizeof(ct), (const uint8_t *)"ad",
				    2, 42, key));
	assert_memory_equal(back, pt, sizeof(pt));
	assert_false(wg_aead_decrypt(back, ct, sizeof(ct),
				     (const uint8_t *)"ad", 2, 43, key));
	assert_false(wg_aead_decrypt(back, ct, sizeof(ct),
				     (const uint8_t *)"aD", 2, 42, key));
	ct[5] ^= 1;
	assert_false(wg_aead_decrypt(back, ct, sizeof(ct),
				     (const uint8_t *)"ad", 2, 42, key));
	assert_false(wg_aead_decrypt(back, ct, 15, NULL, 0, 42, key));
}

static void test_xaead_roundtrip_and_tamper(void **state)
{
	uint8_t key[32] = { 1 }, nonce[24] = { 2 }, pt[16] = { 3 }, ct[32],
		back[16];

	(void)state;
	wg_xaead_encrypt(ct, pt, sizeof(pt), (const uint8_t *)"x", 1, nonce,
			 key);
	assert_true(wg_xaead_decrypt(back, ct, sizeof(ct),
				     (const uint8_t *)"x", 1, nonce, key));
	assert_memory_equal(back, pt, sizeof(pt));
	nonce[23] ^= 1;
	assert_false(wg_xaead_decrypt(back, ct, sizeof(ct),
				      (const uint8_t *)"x", 1, nonce, key));
}


static void test_dh_rejects_low_order(void **state)
{
	uint8_t priv[32], pub[32], out[32];

	(void)state;
	wg_generate_private(priv, NULL);
	for (size_t i = 0; i < KAT_LOW_ORDER_POINTS; i++) {
		kat_hex(pub, 32, kat_low_order_points[i]);
		memset(out, 0x55, sizeof(out));
		assert_int_equal(wg_dh(out, priv, pub), -EINVAL);
		/* A failed DH leaves no partial secret behind. */
		assert_true(wg_is_zero(out, 32));
	}
}

static void test_dh_agrees_and_matches_vectors(void **state)
{
	const struct kat_block *b = kat_find("handshake", 1);
	uint8_t pub[32], s1[32], s2[32], a[32], bb[32], apub[32], bpub[32];

	(void)state;
	assert_int_equal(wg_public_from_private(
				 pub, kat_get_len(b, "initiator_static_private", 32)),
			 0);
	assert_memory_equal(pub, kat_get_len(b, "initiator_static_public", 32),
			    32);
	wg_generate_private(a, NULL);
	wg_generate_private(bb, NULL);
	assert_int_equal(a[0] & 7, 0);
	assert_int_equal(a[31] & 0xc0, 0x40);
	wg_public_from_private(apub, a);
	wg_public_from_private(bpub, bb);
	assert_int_equal(wg_dh(s1, a, bpub), 0);
	assert_int_equal(wg_dh(s2, bb, apub), 0);
	assert_memory_equal(s1, s2, 32);
}

static void test_equal_and_zero(void **state)
{
	uint8_t a[32] = { 0 }, b[32] = { 0 };

	(void)state;
	assert_true(wg_equal(a, b, 32));
	assert_true(wg_is_zero(a, 32));
	b[31] = 1;
	assert_false(wg_equal(a, b, 32));
	assert_false(wg_is_zero(b, 32));
	wg_wipe(b, 32);
	assert_true(wg_is_zero(b, 32));
}

static int teardown(void **state)
{
	(void)state;
	kat_free();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blake2s_rfc7693_abc),
		cmocka_unit_test(test_blake2s_rfc7693_selftest),
		cmocka_unit_test(test_blake2s_split_anywhere),
		cmocka_unit_test(test_hash2_is_concatenation),
		cmocka_unit_test(test_kdf_vectors),
		cmocka_unit_test(test_hmac_long_key),
		cmocka_unit_test(test_tai64n),
		cmocka_unit_test(test_aead_roundtrip_and_tamper),
		cmocka_unit_test(test_xaead_roundtrip_and_tamper),
		cmocka_unit_test(test_dh_rejects_low_order),
		cmocka_unit_test(test_dh_agrees_and_matches_vectors),
		cmocka_unit_test(test_equal_and_zero),
	};

	if (wg_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, teardown);
}
