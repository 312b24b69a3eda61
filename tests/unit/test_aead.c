/* SPDX-License-Identifier: MIT */
/*
 * Our ChaCha20-Poly1305 (vpnd/chacha20poly1305.c) against libsodium's, an
 * independent implementation: every length up to past a jumbo packet, with
 * and without associated data (the handshake has 32 bytes of it), in place
 * and not, seals to exactly libsodium's bytes and opens them again.  Each
 * of the three ChaCha20 batches (plain C, AVX2, AVX-512) and each Poly1305
 * path (one block at a time, AVX2, AVX-512) gives the same answer as the
 * others and as libsodium, where the CPU has the instructions; a path the
 * CPU lacks is reported as skipped, never as passed.  A bad tag, nonce,
 * key or associated data is refused and leaves nothing decrypted behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../vpnd/chacha20poly1305.c"
#include "../../vpnd/crypto.h"

enum {
	MAX_LEN = 2100,
	AD_MAX = 48,
};

static void fill(uint8_t *p, size_t len, uint32_t seed)
{
	/* xorshift: bytes with every bit pattern, reproducibly. */
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

static void sodium_nonce(uint8_t n[12], uint64_t counter)
{
	memset(n, 0, 4);
	for (int i = 0; i < 8; i++)
		n[4 + i] = (uint8_t)(counter >> (8 * i));
}

static void reference_seal(uint8_t *out, const uint8_t *pt, size_t len,
			   const uint8_t *ad, size_t adlen, uint64_t counter,
			   const uint8_t key[32])
{
	uint8_t n[12];

	sodium_nonce(n, counter);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, len, ad, adlen,
						  NULL, n, key);
}

static size_t next_len(size_t len)
{
	return len < 600 ? len + 1 : len + 13;
}

static void test_seal_matches_libsodium(void **state)
{
	static const size_t adlens[] = { 0, 1, 15, 16, 17, 32, 33, AD_MAX };
	static uint8_t pt[MAX_LEN], want[MAX_LEN + 16], got[MAX_LEN + 16];
	uint8_t key[32], ad[AD_MAX];

	(void)state;
	fill(pt, sizeof(pt), 1);
	fill(ad, sizeof(ad), 2);
	for (size_t len = 0; len <= MAX_LEN; len = next_len(len)) {
		for (size_t a = 0; a < sizeof(adlens) / sizeof(adlens[0]); a++) {
			size_t adlen = adlens[a];
			uint64_t counter = len * 0x9e3779b97f4a7c15ull + adlen;

			fill(key, sizeof(key), (uint32_t)(len * 64 + adlen));
			reference_seal(want, pt, len, ad, adlen, counter, key);
			chacha20poly1305_encrypt(got, pt, len, ad, adlen,
						 counter, key);
			assert_memory_equal(got, want, len + 16);

			memcpy(got, pt, len);
			chacha20poly1305_encrypt(got, got, len, ad, adlen,
						 counter, key);
			assert_memory_equal(got, want, len + 16);

			assert_true(chacha20poly1305_decrypt(got, want, len + 16,
							     ad, adlen, counter,
							     key));
			assert_memory_equal(got, pt, len);
			memcpy(got, want, len + 16);
			assert_true(chacha20poly1305_decrypt(got, got, len + 16,
							     ad, adlen, counter,
							     key));
			assert_memory_equal(got, pt, len);
		}
	}
}

/* The crypto.c wrappers the rest of vpnd calls go to the same code. */
static void test_wrappers(void **state)
{
	uint8_t key[32], pt[1420], want[1436], got[1436];

	(void)state;
	assert_int_equal(wg_init(), 0);
	fill(key, sizeof(key), 3);
	fill(pt, sizeof(pt), 4);
	reference_seal(want, pt, sizeof(pt), NULL, 0, 77, key);
	wg_aead_encrypt(got, pt, sizeof(pt), NULL, 0, 77, key);
	assert_memory_equal(got, want, sizeof(want));
	assert_true(wg_aead_decrypt(got, got, sizeof(got), NULL, 0, 77, key));
	assert_memory_equal(got, pt, sizeof(pt));
}

typedef void (*batch_fn)(const uint32_t st[16], uint32_t counter,
			 uint8_t *dst, const uint8_t *src);

/*
 * One batch implementation of nblocks (8 or 16) against plain C, key
 * stream and XOR, in place too, near the end of the 32-bit counter also.
 */
static void check_batch(batch_fn batch, uint32_t nblocks)
{
	static const uint32_t counters[] = { 0, 1, 8, 1000, 0xfffffff4u };
	uint8_t key[32], src[CHACHA_WIDE_LEN], want[CHACHA_WIDE_LEN];
	uint8_t got[CHACHA_WIDE_LEN + CHACHA_BLOCK_LEN];
	size_t len = nblocks * CHACHA_BLOCK_LEN;
	uint32_t st[16];

	fill(src, sizeof(src), 5);
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		fill(key, sizeof(key), 6 + (uint32_t)i);
		chacha_setup(st, key, 0x0102030405060708ull * i);
		for (uint32_t b = 0; b < nblocks; b += CHACHA_BATCH_BLOCKS)
			chacha_batch_c(st, counters[i] + b,
				       want + b * CHACHA_BLOCK_LEN, NULL);
		memset(got, 0xa5, sizeof(got));
		batch(st, counters[i], got, NULL);
		assert_memory_equal(got, want, len);
		/* Nothing written past the batch. */
		for (size_t j = len; j < sizeof(got); j++)
			assert_int_equal(got[j], 0xa5);
		for (uint32_t b = 0; b < nblocks; b += CHACHA_BATCH_BLOCKS)
			chacha_batch_c(st, counters[i] + b,
				       want + b * CHACHA_BLOCK_LEN,
				       src + b * CHACHA_BLOCK_LEN);
		batch(st, counters[i], got, src);
		assert_memory_equal(got, want, len);
		memcpy(got, src, sizeof(src));
		batch(st, counters[i], got, got);
		assert_memory_equal(got, want, len);
	}
}

/*
 * Known answer for plain C, RFC 8439 section 2.3.2: key 00..1f, nonce
 * 00 00 00 09 00 00 00 4a 00 00 00 00, block counter 1.  Our nonce is
 * four zero bytes and a 64-bit counter, so the state is set by hand.
 */
static void test_chacha_block_rfc8439(void **state)
{
	static const uint8_t want[16] = {
		0x10, 0xf1, 0xe7, 0xe4, 0xd1, 0x3b, 0x59, 0x15,
		0x50, 0x0f, 0xdd, 0x1f, 0xa3, 0x20, 0x71, 0xc4,
	};
	uint8_t key[32], out[CHACHA_BLOCK_LEN];
	uint32_t st[16];

	(void)state;
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	chacha_setup(st, key, 0);
	st[13] = 0x09000000;
	st[14] = 0x4a000000;
	st[15] = 0;
	chacha_block_c(st, 1, out);
	assert_memory_equal(out, want, sizeof(want));
}

static void test_chacha_batch_avx2(void **state)
{
	(void)state;
#ifdef CHACHA20POLY1305_X86
	if (__builtin_cpu_supports("avx2")) {
		check_batch(chacha_batch_avx2, CHACHA_BATCH_BLOCKS);
		return;
	}
#endif
	skip();
}

static void test_chacha_batch_avx512(void **state)
{
	(void)state;
#ifdef CHACHA20POLY1305_X86
	if (__builtin_cpu_supports("avx512vl")) {
		check_batch(chacha_batch_avx512, CHACHA_BATCH_BLOCKS);
		return;
	}
#endif
	skip();
}

static void test_chacha_wide_avx512(void **state)
{
	(void)state;
#ifdef CHACHA20POLY1305_X86
	if (__builtin_cpu_supports("avx512f")) {
		check_batch(chacha_wide_avx512, CHACHA_WIDE_BLOCKS);
		return;
	}
#endif
	skip();
}

/* The fallback for sixteen blocks is two batches of eight. */
static void test_chacha_wide(void **state)
{
	(void)state;
	check_batch(chacha_wide, CHACHA_WIDE_BLOCKS);
}

typedef void (*poly_fn)(struct poly1305 *p, const uint8_t *m, size_t nblocks);

/*
 * One Poly1305 path against libsodium's one-time authenticator, on whole
 * blocks (all the AEAD feeds it): random keys and messages, and the
 * extremes, where every carry is taken: all-ones blocks and the largest r
 * the clamp allows.  step is the path's group size.
 */
static void check_poly(poly_fn blocks, size_t step)
{
	static uint8_t m[300 * 16];
	uint8_t key[32], want[16], got[16];
	struct poly1305 p;

	for (int kind = 0; kind < 3; kind++) {
		for (size_t n = step; n <= 300; n += step) {
			uint32_t seed = (uint32_t)(kind * 1000 + n);

			fill(key, sizeof(key), seed);
			fill(m, n * 16, seed + 1);
			if (kind >= 1)
				memset(m, 0xff, n * 16);
			if (kind == 2)
				memset(key, 0xff, 16);
			crypto_onetimeauth_poly1305(want, m, n * 16, key);
			poly1305_init(&p, key);
			blocks(&p, m, n);
			poly1305_final(&p, key + 16, got);
			assert_memory_equal(got, want, sizeof(want));
		}
	}
}

static void test_poly1305_scalar(void **state)
{
	(void)state;
	check_poly(poly1305_blocks, 1);
}

/*
 * The final reduction's one subtraction of p: with r = 1 two all-ones
 * blocks leave h = 2 (2^128 - 1 + 2^128) = p + 3, so the tag is 3 + s.
 */
static void test_poly1305_h_above_p(void **state)
{
	uint8_t key[32] = { 1 }, m[32], want[16], got[16];
	struct poly1305 p;

	(void)state;
	memset(m, 0xff, sizeof(m));
	fill(key + 16, 16, 9);
	crypto_onetimeauth_poly1305(want, m, sizeof(m), key);
	poly1305_init(&p, key);
	poly1305_blocks(&p, m, 2);
	assert_int_equal(p.h2, 3);
	assert_true(p.h0 == UINT64_MAX - 1 && p.h1 == UINT64_MAX);
	poly1305_final(&p, key + 16, got);
	assert_memory_equal(got, want, sizeof(want));
}

static void test_poly1305_avx2(void **state)
{
	(void)state;
#ifdef CHACHA20POLY1305_X86
	if (__builtin_cpu_supports("avx2")) {
		check_poly(poly1305_blocks_avx2, 4);
		return;
	}
#endif
	skip();
}

static void test_poly1305_avx512(void **state)
{
	(void)state;
#ifdef CHACHA20POLY1305_X86
	if (__builtin_cpu_supports("avx512f")) {
		check_poly(poly1305_blocks_avx512, 8);
		return;
	}
#endif
	skip();
}

#ifdef CHACHA20POLY1305_X86
/* The IFMA path on m alone: any count, its first group led by empty blocks. */
static void ifma_whole(struct poly1305 *p, const uint8_t *m, size_t nblocks)
{
	poly1305_blocks_ifma(p, m, nblocks, NULL, 0);
}
#endif

static void test_poly1305_ifma(void **state)
{
	(void)state;
#ifdef CHACHA20POLY1305_X86
	if (__builtin_cpu_supports("avx512ifma")) {
		check_poly(ifma_whole, 1);
		return;
	}
#endif
	skip();
}

/*
 * The IFMA path as the AEAD calls it, alone and with the one block past
 * whole groups taken aside: after a few blocks one by one (so h is not
 * zero when it starts), on blocks from m and then from a separate tail, every split of one to 40 blocks with up to two in the tail, on
 * random and on all-ones blocks with the largest r.
 */
static void test_poly1305_ifma_tail(void **state)
{
	uint8_t m[44 * 16], tail[2 * 16], key[32], want[16], got[16];
	struct poly1305 p;

	(void)state;
#ifdef CHACHA20POLY1305_X86
	if (!__builtin_cpu_supports("avx512ifma"))
		skip();
	for (int kind = 0; kind < 2; kind++) {
		for (size_t pre = 0; pre <= 2; pre++) {
			for (size_t n = 1; n <= 40; n++) {
				for (size_t nt = 0; nt <= 2 && nt <= n; nt++) {
					uint32_t seed = (uint32_t)(pre * 10000 + n * 10 + nt);

					fill(key, sizeof(key), seed);
					fill(m, (pre + n) * 16, seed + 1);
					if (kind) {
						memset(key, 0xff, 16);
						memset(m, 0xff, (pre + n) * 16);
					}
					crypto_onetimeauth_poly1305(want, m, (pre + n) * 16, key);
					/* The last nt blocks move to the tail; m keeps
					 * a different last block where they were. */
					memcpy(tail, m + (pre + n - nt) * 16, nt * 16);
					memset(m + (pre + n - nt) * 16, 0x5a, nt * 16);
					for (int all = 0; all < 2; all++) {
						poly1305_init(&p, key);
						poly1305_blocks(&p, m, pre);
						(all ? poly1305_ifma_all : poly1305_blocks_ifma)(
							&p, m + pre * 16, n - nt, tail, nt);
						poly1305_final(&p, key + 16, got);
						assert_memory_equal(got, want, sizeof(want));
					}
				}
			}
		}
	}
	return;
#endif
	skip();
}

static void test_bad_input_is_refused(void **state)
{
	static const size_t flips[] = { 0, 700, 1419, 1420, 1435 };
	uint8_t key[32], other[32], ad[32], pt[1420], ct[1436], out[1436];

	(void)state;
	fill(key, sizeof(key), 10);
	fill(other, sizeof(other), 11);
	fill(ad, sizeof(ad), 12);
	fill(pt, sizeof(pt), 13);
	chacha20poly1305_encrypt(ct, pt, sizeof(pt), ad, sizeof(ad), 5, key);
	for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		memcpy(out, ct, sizeof(ct));
		out[flips[i]] ^= 0x80;
		assert_false(chacha20poly1305_decrypt(out, out, sizeof(ct), ad,
						      sizeof(ad), 5, key));
		assert_true(sodium_is_zero(out, sizeof(pt)));
	}
	memset(out, 0xaa, sizeof(out));
	assert_false(chacha20poly1305_decrypt(out, ct, sizeof(ct), ad,
					      sizeof(ad), 6, key));
	assert_true(sodium_is_zero(out, sizeof(pt)));
	assert_false(chacha20poly1305_decrypt(out, ct, sizeof(ct), ad,
					      sizeof(ad), 5, other));
	assert_false(chacha20poly1305_decrypt(out, ct, sizeof(ct), ad,
					      sizeof(ad) - 1, 5, key));
	assert_false(chacha20poly1305_decrypt(out, ct, sizeof(ct), NULL, 0, 5,
					      key));
	/* Shorter than a tag. */
	assert_false(chacha20poly1305_decrypt(out, ct, 15, NULL, 0, 5, key));
	assert_true(chacha20poly1305_decrypt(out, ct, sizeof(ct), ad,
					     sizeof(ad), 5, key));
	assert_memory_equal(out, pt, sizeof(pt));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seal_matches_libsodium),
		cmocka_unit_test(test_wrappers),
		cmocka_unit_test(test_chacha_block_rfc8439),
		cmocka_unit_test(test_chacha_batch_avx2),
		cmocka_unit_test(test_chacha_batch_avx512),
		cmocka_unit_test(test_chacha_wide_avx512),
		cmocka_unit_test(test_chacha_wide),
		cmocka_unit_test(test_poly1305_scalar),
		cmocka_unit_test(test_poly1305_h_above_p),
		cmocka_unit_test(test_poly1305_avx2),
		cmocka_unit_test(test_poly1305_avx512),
		cmocka_unit_test(test_poly1305_ifma),
		cmocka_unit_test(test_poly1305_ifma_tail),
		cmocka_unit_test(test_bad_input_is_refused),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
