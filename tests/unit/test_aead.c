/* SPDX-License-Identifier: MIT */
/*
 * The transport AEAD's OpenSSL path and its per-thread cache (crypto.c):
 * every length on either side of the switch from libsodium to EVP seals to
 * exactly what libsodium's own one-shot function seals (an implementation
 * independent of OpenSSL), in place and not, across key changes; a bad tag
 * is refused and leaves nothing decrypted behind; a forgotten key leaves
 * the cache; two threads sealing with one key at once both stay right.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../vpnd/crypto.c"

enum {
	BIG = 1440,
	THREAD_PACKETS = 3000,
};

/* Lengths around AEAD_EVP_MIN_LEN and up to a full packet and more. */
static const size_t lens[] = { 0, 1, 16, 64, 511, 512, 513, 1024, 1420, BIG };

static void fill(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 31);
}

/* libsodium's answer, the referee for every length. */
static void reference_seal(uint8_t *out, const uint8_t *pt, size_t len,
			   uint64_t counter, const uint8_t key[32])
{
	uint8_t n[12] = { 0 };

	for (int i = 0; i < 8; i++)
		n[4 + i] = (uint8_t)(counter >> (8 * i));
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, len, NULL, 0,
						  NULL, n, key);
}

static void test_seal_matches_libsodium(void **state)
{
	static uint8_t pt[BIG], want[BIG + 16], got[BIG + 16], back[BIG + 16];
	uint8_t keys[2][32];

	(void)state;
	fill(keys[0], 32, 1);
	fill(keys[1], 32, 2);
	fill(pt, sizeof(pt), 3);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t len = lens[i];
		/* Alternating keys makes the cache re-key at every step. */
		for (uint64_t c = 0; c < 4; c++) {
			const uint8_t *key = keys[c & 1];
			uint64_t counter = c * 0x0102030405060708ull;

			reference_seal(want, pt, len, counter, key);
			wg_aead_encrypt(got, pt, len, NULL, 0, counter, key);
			assert_memory_equal(got, want, len + 16);

			/* In place, as send.c seals. */
			memcpy(got, pt, len);
			wg_aead_encrypt(got, got, len, NULL, 0, counter, key);
			assert_memory_equal(got, want, len + 16);

			assert_true(wg_aead_decrypt(back, want, len + 16, NULL,
						    0, counter, key));
			assert_memory_equal(back, pt, len);
			/* In place, as receive.c opens. */
			assert_true(wg_aead_decrypt(got, got, len + 16, NULL, 0,
						    counter, key));
			assert_memory_equal(got, pt, len);
		}
	}
}

static void test_bad_tag_leaves_nothing(void **state)
{
	static uint8_t pt[1420], ct[1420 + 16], out[1420 + 16];
	uint8_t key[32], other[32];
	const size_t flips[] = { 0, 700, 1419, 1420, 1435 };

	(void)state;
	fill(key, 32, 9);
	fill(other, 32, 10);
	fill(pt, sizeof(pt), 11);
	wg_aead_encrypt(ct, pt, sizeof(pt), NULL, 0, 5, key);
	for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		memcpy(out, ct, sizeof(ct));
		out[flips[i]] ^= 0x80;
		assert_false(wg_aead_decrypt(out, out, sizeof(ct), NULL, 0, 5,
					     key));
		/* EVP decrypts before it verifies: none of that may stay. */
		assert_true(wg_is_zero(out, sizeof(pt)));
	}
	memcpy(out, ct, sizeof(ct));
	assert_false(wg_aead_decrypt(out, out, sizeof(ct), NULL, 0, 6, key));
	assert_true(wg_is_zero(out, sizeof(pt)));
	memcpy(out, ct, sizeof(ct));
	assert_false(wg_aead_decrypt(out, out, sizeof(ct), NULL, 0, 5, other));
	assert_true(wg_is_zero(out, sizeof(pt)));
	/* The failures left the cache usable. */
	assert_true(wg_aead_decrypt(out, ct, sizeof(ct), NULL, 0, 5, key));
	assert_memory_equal(out, pt, sizeof(pt));
}

static void test_forget_drops_the_key(void **state)
{
	static uint8_t pt[1420], ct[1420 + 16], want[1420 + 16];
	uint8_t key[32], other[32];
	struct aead_cache *c = &aead_cache;

	(void)state;
	fill(key, 32, 21);
	fill(other, 32, 22);
	fill(pt, sizeof(pt), 23);
	wg_aead_encrypt(ct, pt, sizeof(pt), NULL, 0, 1, key);
	assert_true(wg_aead_decrypt(ct, ct, sizeof(ct), NULL, 0, 1, key));
	assert_true(c->slot[AEAD_ENCRYPT].keyed);
	assert_memory_equal(c->keys[AEAD_ENCRYPT], key, 32);
	assert_memory_equal(c->keys[AEAD_DECRYPT], key, 32);

	/* Another key is not ours to forget here. */
	wg_aead_forget(other);
	assert_true(c->slot[AEAD_ENCRYPT].keyed);

	wg_aead_forget(key);
	for (int dir = AEAD_DECRYPT; dir <= AEAD_ENCRYPT; dir++) {
		assert_false(c->slot[dir].keyed);
		assert_true(wg_is_zero(c->keys[dir], 32));
		/* A fresh context stands ready: no allocation per packet. */
		assert_non_null(c->slot[dir].ctx);
	}
	/* And the key, should it come back, still works. */
	reference_seal(want, pt, sizeof(pt), 2, key);
	wg_aead_encrypt(ct, pt, sizeof(pt), NULL, 0, 2, key);
	assert_memory_equal(ct, want, sizeof(want));

	wg_aead_thread_wipe();
	assert_false(c->ready);
	assert_null(c->keys);
	assert_null(c->slot[AEAD_ENCRYPT].ctx);
	wg_aead_encrypt(ct, pt, sizeof(pt), NULL, 0, 2, key);
	assert_memory_equal(ct, want, sizeof(want));
}

struct sealer {
	const uint8_t *key;
	uint64_t first;
	int mismatches;
};

static void *seal_many(void *arg)
{
	static const size_t sizes[] = { 1420, 64, 600 };
	struct sealer *s = arg;
	uint8_t pt[1420], got[1420 + 16], want[1420 + 16];

	for (uint64_t i = 0; i < THREAD_PACKETS; i++) {
		size_t len = sizes[i % 3];
		uint64_t counter = s->first + i;

		fill(pt, len, (uint8_t)counter);
		wg_aead_encrypt(got, pt, len, NULL, 0, counter, s->key);
		reference_seal(want, pt, len, counter, s->key);
		if (memcmp(got, want, len + 16) != 0 ||
		    !wg_aead_decrypt(got, got, len + 16, NULL, 0, counter,
				     s->key) ||
		    memcmp(got, pt, len) != 0)
			s->mismatches++;
	}
	return NULL;
}

/* Two threads, one key, at once: each has its own contexts. */
static void test_two_threads_one_key(void **state)
{
	uint8_t key[32];
	struct sealer s[2];
	pthread_t t[2];

	(void)state;
	fill(key, 32, 33);
	for (int i = 0; i < 2; i++) {
		s[i] = (struct sealer){ .key = key, .first = (uint64_t)i << 32 };
		assert_int_equal(pthread_create(&t[i], NULL, seal_many, &s[i]),
				 0);
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(s[i].mismatches, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seal_matches_libsodium),
		cmocka_unit_test(test_bad_tag_leaves_nothing),
		cmocka_unit_test(test_forget_drops_the_key),
		cmocka_unit_test(test_two_threads_one_key),
	};

	if (wg_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
