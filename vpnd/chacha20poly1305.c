/* SPDX-License-Identifier: MIT */
/*
 * ChaCha20-Poly1305 as RFC 8439 defines it, written for the data path.
 *
 * Why our own: the AEAD is half of the daemon's time under load.  OpenSSL's
 * EVP was faster than libsodium at a full packet, but each packet paid for
 * its parameter machinery (string compares, a context re-init), a key cache
 * per thread had to be kept and wiped, and loading libcrypto cost every
 * daemon 3.3 MiB of resident pages.  This file has no state at all: a key
 * in, a packet out, the key schedule on the stack and wiped on return.
 *
 * ChaCha20 runs eight blocks (512 bytes) or sixteen at a time, on whichever
 * implementation the CPU allows: AVX-512 (a block per 32-bit lane, sixteen
 * in zmm or eight in ymm), AVX2 (four groups of two blocks, a block per
 * 128-bit lane) or plain C.  The choice is made per call by
 * __builtin_cpu_supports(), which reads what libgcc recorded at start-up,
 * so nothing here is mutable.  With a block per 128-bit lane each row of
 * the state sits in one vector: a column round is four vector operations
 * per step, and a diagonal round the same after rotating the words of
 * three rows within their lanes.
 *
 * Poly1305 works in radix 2^64 with 128-bit products (two limbs and a few
 * bits above them) for short inputs and the last blocks of long ones.  A
 * long input goes through lanes that each hash every eighth (or fourth)
 * block with a power of r: eight lanes in radix 2^44 with AVX-512 IFMA's
 * 52-bit multiplies, else in radix 2^26 with AVX-512 or (four lanes) AVX2.
 * The AEAD pads everything it authenticates to 16 bytes, so every block it
 * hashes is a full one.
 *
 * Neither part branches on or indexes by a secret; the tag is compared in
 * constant time; decryption checks the tag before it writes a byte.
 */
#include <endian.h>
#include <string.h>

#include <sodium.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define CHACHA20POLY1305_X86 1
#endif

#include "chacha20poly1305.h"

enum {
	CHACHA_BLOCK_LEN = 64,
	CHACHA_BATCH_BLOCKS = 8,
	CHACHA_BATCH_LEN = CHACHA_BATCH_BLOCKS * CHACHA_BLOCK_LEN,
	CHACHA_WIDE_BLOCKS = 16,
	CHACHA_WIDE_LEN = CHACHA_WIDE_BLOCKS * CHACHA_BLOCK_LEN,
	CHACHA_DOUBLE_ROUNDS = 10,
	POLY1305_BLOCK_LEN = 16,
	POLY1305_KEY_LEN = 32,
};

typedef unsigned __int128 u128;

static inline uint32_t load32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static inline void store64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

/*
 * The state every block starts from, but for word 12, the block counter,
 * which each batch sets.  Word 13 is the four zero bytes of the nonce.
 */
static void chacha_setup(uint32_t st[16], const uint8_t key[32],
			 uint64_t nonce)
{
	st[0] = 0x61707865;	/* "expand 32-byte k" */
	st[1] = 0x3320646e;
	st[2] = 0x79622d32;
	st[3] = 0x6b206574;
	for (int i = 0; i < 8; i++)
		st[4 + i] = load32(key + 4 * i);
	st[12] = 0;
	st[13] = 0;
	st[14] = (uint32_t)nonce;
	st[15] = (uint32_t)(nonce >> 32);
}

/* ------------------------------------------------------------ plain C */

static uint32_t rotl32(uint32_t v, int n)
{
	return v << n | v >> (32 - n);
}

static void qr_c(uint32_t x[16], int a, int b, int c, int d)
{
	x[a] += x[b]; x[d] = rotl32(x[d] ^ x[a], 16);
	x[c] += x[d]; x[b] = rotl32(x[b] ^ x[c], 12);
	x[a] += x[b]; x[d] = rotl32(x[d] ^ x[a], 8);
	x[c] += x[d]; x[b] = rotl32(x[b] ^ x[c], 7);
}

static void chacha_block_c(const uint32_t st[16], uint32_t counter,
			   uint8_t out[CHACHA_BLOCK_LEN])
{
	uint32_t x[16];

	memcpy(x, st, sizeof(x));
	x[12] = counter;
	for (int i = 0; i < CHACHA_DOUBLE_ROUNDS; i++) {
		qr_c(x, 0, 4, 8, 12);
		qr_c(x, 1, 5, 9, 13);
		qr_c(x, 2, 6, 10, 14);
		qr_c(x, 3, 7, 11, 15);
		qr_c(x, 0, 5, 10, 15);
		qr_c(x, 1, 6, 11, 12);
		qr_c(x, 2, 7, 8, 13);
		qr_c(x, 3, 4, 9, 14);
	}
	for (int i = 0; i < 16; i++) {
		uint32_t v = x[i] + (i == 12 ? counter : st[i]);

		out[4 * i] = (uint8_t)v;
		out[4 * i + 1] = (uint8_t)(v >> 8);
		out[4 * i + 2] = (uint8_t)(v >> 16);
		out[4 * i + 3] = (uint8_t)(v >> 24);
	}
	sodium_memzero(x, sizeof(x));
}

static void xor_bytes(uint8_t *dst, const uint8_t *src, const uint8_t *ks,
		      size_t len);

/*
 * Eight blocks from block counter on: XORed into src when src is given,
 * else the key stream itself.  The same contract for every implementation.
 */
static void chacha_batch_c(const uint32_t st[16], uint32_t counter,
			   uint8_t *dst, const uint8_t *src)
{
	uint8_t ks[CHACHA_BLOCK_LEN];

	for (int b = 0; b < CHACHA_BATCH_BLOCKS; b++) {
		uint8_t *out = dst + b * CHACHA_BLOCK_LEN;

		chacha_block_c(st, counter + (uint32_t)b, src ? ks : out);
		if (src)
			xor_bytes(out, src + b * CHACHA_BLOCK_LEN, ks,
				  CHACHA_BLOCK_LEN);
	}
	sodium_memzero(ks, sizeof(ks));
}

#ifdef CHACHA20POLY1305_X86
/* ------------------------------------------------------------ AVX2 */

struct rows256 {
	__m256i a, b, c, d;
};

__attribute__((target("avx2")))
static inline __m256i rotl256(__m256i v, int n)
{
	return _mm256_or_si256(_mm256_slli_epi32(v, n),
			       _mm256_srli_epi32(v, 32 - n));
}

__attribute__((target("avx2")))
static inline void qr256(struct rows256 *r, __m256i rot16, __m256i rot8)
{
	r->a = _mm256_add_epi32(r->a, r->b);
	r->d = _mm256_shuffle_epi8(_mm256_xor_si256(r->d, r->a), rot16);
	r->c = _mm256_add_epi32(r->c, r->d);
	r->b = rotl256(_mm256_xor_si256(r->b, r->c), 12);
	r->a = _mm256_add_epi32(r->a, r->b);
	r->d = _mm256_shuffle_epi8(_mm256_xor_si256(r->d, r->a), rot8);
	r->c = _mm256_add_epi32(r->c, r->d);
	r->b = rotl256(_mm256_xor_si256(r->b, r->c), 7);
}

/* Rows b, c, d turned so that the columns become the diagonals, and back. */
__attribute__((target("avx2")))
static inline void diagonalize256(struct rows256 *r)
{
	r->b = _mm256_shuffle_epi32(r->b, _MM_SHUFFLE(0, 3, 2, 1));
	r->c = _mm256_shuffle_epi32(r->c, _MM_SHUFFLE(1, 0, 3, 2));
	r->d = _mm256_shuffle_epi32(r->d, _MM_SHUFFLE(2, 1, 0, 3));
}

__attribute__((target("avx2")))
static inline void undiagonalize256(struct rows256 *r)
{
	r->b = _mm256_shuffle_epi32(r->b, _MM_SHUFFLE(2, 1, 0, 3));
	r->c = _mm256_shuffle_epi32(r->c, _MM_SHUFFLE(1, 0, 3, 2));
	r->d = _mm256_shuffle_epi32(r->d, _MM_SHUFFLE(0, 3, 2, 1));
}

/* One 64-byte block out of lane 0 (sel 0x20) or 1 (sel 0x31) of rows r. */
__attribute__((target("avx2")))
static inline void out256(const struct rows256 *r, int sel, uint8_t *dst,
			  const uint8_t *src)
{
	__m256i lo, hi;

	if (sel == 0) {
		lo = _mm256_permute2x128_si256(r->a, r->b, 0x20);
		hi = _mm256_permute2x128_si256(r->c, r->d, 0x20);
	} else {
		lo = _mm256_permute2x128_si256(r->a, r->b, 0x31);
		hi = _mm256_permute2x128_si256(r->c, r->d, 0x31);
	}
	if (src) {
		lo = _mm256_xor_si256(lo, _mm256_loadu_si256((const __m256i *)src));
		hi = _mm256_xor_si256(hi, _mm256_loadu_si256((const __m256i *)(src + 32)));
	}
	_mm256_storeu_si256((__m256i *)dst, lo);
	_mm256_storeu_si256((__m256i *)(dst + 32), hi);
}

/* Four blocks, two per group, the groups interleaved for the pipeline. */
__attribute__((target("avx2")))
static void chacha_quad_avx2(const uint32_t st[16], uint32_t counter,
			     uint8_t *dst, const uint8_t *src)
{
	const __m256i rot16 = _mm256_setr_epi8(
		2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13,
		2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
	const __m256i rot8 = _mm256_setr_epi8(
		3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14,
		3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14);
	struct rows256 in[2], x[2];

	for (int g = 0; g < 2; g++) {
		uint32_t c0 = counter + 2 * (uint32_t)g;

		in[g].a = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)st));
		in[g].b = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(st + 4)));
		in[g].c = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(st + 8)));
		in[g].d = _mm256_setr_epi32((int)c0, (int)st[13], (int)st[14],
					    (int)st[15], (int)(c0 + 1),
					    (int)st[13], (int)st[14],
					    (int)st[15]);
		x[g] = in[g];
	}
	for (int i = 0; i < CHACHA_DOUBLE_ROUNDS; i++) {
		qr256(&x[0], rot16, rot8);
		qr256(&x[1], rot16, rot8);
		diagonalize256(&x[0]);
		diagonalize256(&x[1]);
		qr256(&x[0], rot16, rot8);
		qr256(&x[1], rot16, rot8);
		undiagonalize256(&x[0]);
		undiagonalize256(&x[1]);
	}
	for (int g = 0; g < 2; g++) {
		x[g].a = _mm256_add_epi32(x[g].a, in[g].a);
		x[g].b = _mm256_add_epi32(x[g].b, in[g].b);
		x[g].c = _mm256_add_epi32(x[g].c, in[g].c);
		x[g].d = _mm256_add_epi32(x[g].d, in[g].d);
		for (int lane = 0; lane < 2; lane++) {
			size_t off = (size_t)(2 * g + lane) * CHACHA_BLOCK_LEN;

			out256(&x[g], lane, dst + off, src ? src + off : NULL);
		}
	}
	/* The registers spill to the stack: wipe them there too. */
	memset(x, 0, sizeof(x));
	__asm__ __volatile__("" : : "r"(x) : "memory");
}

__attribute__((target("avx2")))
static void chacha_batch_avx2(const uint32_t st[16], uint32_t counter,
			      uint8_t *dst, const uint8_t *src)
{
	chacha_quad_avx2(st, counter, dst, src);
	chacha_quad_avx2(st, counter + 4, dst + 4 * CHACHA_BLOCK_LEN,
			 src ? src + 4 * CHACHA_BLOCK_LEN : NULL);
	_mm256_zeroupper();
}

/* ------------------------------------------------------------ AVX-512 */

/*
 * Here the blocks sit side by side instead, one per 32-bit lane: vector i
 * holds word i of every block.  A quarter round is then lane-wise
 * arithmetic with no shuffling of words between rounds, and the four
 * quarter rounds of a round are independent chains the CPU can overlap;
 * the shuffling moves to the end, where a transpose turns the words back
 * into blocks.  Sixteen blocks go in zmm registers, eight in ymm (with
 * AVX-512VL's rotations and its 32 registers, so the sixteen words fit
 * beside their temporaries).  On Zen 4 the rounds alone took 10.6 ns a
 * block for sixteen blocks in zmm and 14.7 for eight in ymm; a whole batch
 * of eight took 16.0 ns a block in ymm, and 18.8 laid out as the AVX2 path
 * is (four blocks per zmm, one per 128-bit lane).  A 1420-byte packet and
 * its key block are 24 blocks: sixteen and eight.
 */
struct words512 {
	__m512i w[16];
};

struct words256 {
	__m256i w[16];
};

/* a += b; d ^= a; d <<<= n: one step of a quarter round, in each lane. */
__attribute__((target("avx512f"), always_inline))
static inline void step512(struct words512 *x, int a, int b, int d, int n)
{
	x->w[a] = _mm512_add_epi32(x->w[a], x->w[b]);
	x->w[d] = _mm512_xor_si512(x->w[d], x->w[a]);
	/* The count must be a constant: the cases make it one. */
	switch (n) {
	case 16: x->w[d] = _mm512_rol_epi32(x->w[d], 16); break;
	case 12: x->w[d] = _mm512_rol_epi32(x->w[d], 12); break;
	case 8: x->w[d] = _mm512_rol_epi32(x->w[d], 8); break;
	default: x->w[d] = _mm512_rol_epi32(x->w[d], 7); break;
	}
}

__attribute__((target("avx512f,avx512vl"), always_inline))
static inline void step256(struct words256 *x, int a, int b, int d, int n)
{
	x->w[a] = _mm256_add_epi32(x->w[a], x->w[b]);
	x->w[d] = _mm256_xor_si256(x->w[d], x->w[a]);
	switch (n) {
	case 16: x->w[d] = _mm256_rol_epi32(x->w[d], 16); break;
	case 12: x->w[d] = _mm256_rol_epi32(x->w[d], 12); break;
	case 8: x->w[d] = _mm256_rol_epi32(x->w[d], 8); break;
	default: x->w[d] = _mm256_rol_epi32(x->w[d], 7); break;
	}
}

/*
 * The words of quarter round i: a column (i, 4 + i, 8 + i, 12 + i) when
 * diag is 0; for a diagonal, rows b, c, d move on by 1, 2, 3 words.
 */
static inline int qr_word(int row, int i, int diag)
{
	return 4 * row + (i + row * diag) % 4;
}

/* One round (columns or diagonals), its four quarter rounds step by step. */
__attribute__((target("avx512f"), always_inline))
static inline void round512(struct words512 *x, int diag)
{
	static const int rot[4] = { 16, 12, 8, 7 };

#pragma GCC unroll 4
	for (int s = 0; s < 4; s++) {
#pragma GCC unroll 4
		for (int i = 0; i < 4; i++) {
			if (s % 2 == 0)
				step512(x, qr_word(0, i, diag),
					qr_word(1, i, diag),
					qr_word(3, i, diag), rot[s]);
			else
				step512(x, qr_word(2, i, diag),
					qr_word(3, i, diag),
					qr_word(1, i, diag), rot[s]);
		}
	}
}

__attribute__((target("avx512f,avx512vl"), always_inline))
static inline void round256(struct words256 *x, int diag)
{
	static const int rot[4] = { 16, 12, 8, 7 };

#pragma GCC unroll 4
	for (int s = 0; s < 4; s++) {
#pragma GCC unroll 4
		for (int i = 0; i < 4; i++) {
			if (s % 2 == 0)
				step256(x, qr_word(0, i, diag),
					qr_word(1, i, diag),
					qr_word(3, i, diag), rot[s]);
			else
				step256(x, qr_word(2, i, diag),
					qr_word(3, i, diag),
					qr_word(1, i, diag), rot[s]);
		}
	}
}

/* dst = v, or v ^ src when src is given. */
__attribute__((target("avx512f"), always_inline))
static inline void out512(__m512i v, uint8_t *dst, const uint8_t *src)
{
	if (src)
		v = _mm512_xor_si512(v, _mm512_loadu_si512(src));
	_mm512_storeu_si512(dst, v);
}

__attribute__((target("avx512f,avx512vl"), always_inline))
static inline void out256v(__m256i v, uint8_t *dst, const uint8_t *src)
{
	if (src)
		v = _mm256_xor_si256(v, _mm256_loadu_si256((const __m256i *)src));
	_mm256_storeu_si256((__m256i *)dst, v);
}

/*
 * Sixteen blocks out of sixteen words: a 16x16 transpose of 32-bit words.
 * Pairs of words, then pairs of pairs, within each 128-bit lane, leave
 * u[4i + k] holding, in lane L, words 4i..4i+3 of block 4L + k; block
 * 4L + k is then lane L of u[k], u[4 + k], u[8 + k], u[12 + k], a 4x4
 * transpose of 128-bit lanes.
 */
__attribute__((target("avx512f"), always_inline))
static inline void out_blocks512(const struct words512 *x, uint8_t *dst,
				 const uint8_t *src)
{
	__m512i t[16], u[16];

#pragma GCC unroll 8
	for (int i = 0; i < 8; i++) {
		t[2 * i] = _mm512_unpacklo_epi32(x->w[2 * i], x->w[2 * i + 1]);
		t[2 * i + 1] = _mm512_unpackhi_epi32(x->w[2 * i],
						     x->w[2 * i + 1]);
	}
#pragma GCC unroll 4
	for (int i = 0; i < 4; i++) {
		u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
		u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
		u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
		u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
	}
#pragma GCC unroll 4
	for (int k = 0; k < 4; k++) {
		__m512i lo01 = _mm512_shuffle_i32x4(u[k], u[4 + k], 0x44);
		__m512i lo23 = _mm512_shuffle_i32x4(u[8 + k], u[12 + k], 0x44);
		__m512i hi01 = _mm512_shuffle_i32x4(u[k], u[4 + k], 0xee);
		__m512i hi23 = _mm512_shuffle_i32x4(u[8 + k], u[12 + k], 0xee);
		__m512i blk[4] = {
			_mm512_shuffle_i32x4(lo01, lo23, 0x88),
			_mm512_shuffle_i32x4(lo01, lo23, 0xdd),
			_mm512_shuffle_i32x4(hi01, hi23, 0x88),
			_mm512_shuffle_i32x4(hi01, hi23, 0xdd),
		};

#pragma GCC unroll 4
		for (int l = 0; l < 4; l++) {
			size_t off = (size_t)(4 * l + k) * CHACHA_BLOCK_LEN;

			out512(blk[l], dst + off, src ? src + off : NULL);
		}
	}
}

/*
 * Eight blocks out of words w[first..first + 7]: the 32 bytes at 4 first
 * of each.  Pairs and pairs of pairs as above leave u[k] holding words
 * 0-3 of blocks k and k + 4, u[4 + k] words 4-7; the 128-bit halves are
 * then put together.
 */
__attribute__((target("avx512f,avx512vl"), always_inline))
static inline void out_half256(const struct words256 *x, int first,
			       uint8_t *dst, const uint8_t *src)
{
	__m256i t[8], u[8];

#pragma GCC unroll 4
	for (int i = 0; i < 4; i++) {
		t[2 * i] = _mm256_unpacklo_epi32(x->w[first + 2 * i],
						 x->w[first + 2 * i + 1]);
		t[2 * i + 1] = _mm256_unpackhi_epi32(x->w[first + 2 * i],
						     x->w[first + 2 * i + 1]);
	}
#pragma GCC unroll 2
	for (int i = 0; i < 2; i++) {
		u[4 * i] = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
		u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
		u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
		u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
	}
#pragma GCC unroll 4
	for (int k = 0; k < 4; k++) {
		size_t lo = (size_t)k * CHACHA_BLOCK_LEN + 4 * (size_t)first;
		size_t hi = lo + 4 * CHACHA_BLOCK_LEN;

		out256v(_mm256_permute2x128_si256(u[k], u[4 + k], 0x20),
			dst + lo, src ? src + lo : NULL);
		out256v(_mm256_permute2x128_si256(u[k], u[4 + k], 0x31),
			dst + hi, src ? src + hi : NULL);
	}
}

/* Sixteen blocks from block counter on, the contract of chacha_batch_c(). */
__attribute__((target("avx512f")))
static void chacha_wide_avx512(const uint32_t st[16], uint32_t counter,
			       uint8_t *dst, const uint8_t *src)
{
	const __m512i ctr = _mm512_add_epi32(
		_mm512_set1_epi32((int)counter),
		_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
				  14, 15));
	struct words512 x;

#pragma GCC unroll 16
	for (int i = 0; i < 16; i++)
		x.w[i] = i == 12 ? ctr : _mm512_set1_epi32((int)st[i]);
	for (int i = 0; i < CHACHA_DOUBLE_ROUNDS; i++) {
		round512(&x, 0);
		round512(&x, 1);
	}
#pragma GCC unroll 16
	for (int i = 0; i < 16; i++)
		x.w[i] = _mm512_add_epi32(x.w[i], i == 12 ? ctr :
					  _mm512_set1_epi32((int)st[i]));
	out_blocks512(&x, dst, src);
	/* The registers spill to the stack: wipe them there too. */
	memset(&x, 0, sizeof(x));
	__asm__ __volatile__("" : : "r"(&x) : "memory");
	_mm256_zeroupper();
}

__attribute__((target("avx512f,avx512vl")))
static void chacha_batch_avx512(const uint32_t st[16], uint32_t counter,
				uint8_t *dst, const uint8_t *src)
{
	const __m256i ctr = _mm256_add_epi32(
		_mm256_set1_epi32((int)counter),
		_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
	struct words256 x;

#pragma GCC unroll 16
	for (int i = 0; i < 16; i++)
		x.w[i] = i == 12 ? ctr : _mm256_set1_epi32((int)st[i]);
	for (int i = 0; i < CHACHA_DOUBLE_ROUNDS; i++) {
		round256(&x, 0);
		round256(&x, 1);
	}
#pragma GCC unroll 16
	for (int i = 0; i < 16; i++)
		x.w[i] = _mm256_add_epi32(x.w[i], i == 12 ? ctr :
					  _mm256_set1_epi32((int)st[i]));
	out_half256(&x, 0, dst, src);
	out_half256(&x, 8, dst, src);
	memset(&x, 0, sizeof(x));
	__asm__ __volatile__("" : : "r"(&x) : "memory");
	_mm256_zeroupper();
}

#endif

/* ------------------------------------------------------------ dispatch */

/* Eight blocks (CHACHA_BATCH_LEN bytes) from block counter on. */
static void chacha_batch(const uint32_t st[16], uint32_t counter,
			 uint8_t *dst, const uint8_t *src)
{
#ifdef CHACHA20POLY1305_X86
	if (__builtin_cpu_supports("avx512vl")) {
		chacha_batch_avx512(st, counter, dst, src);
		return;
	}
	if (__builtin_cpu_supports("avx2")) {
		chacha_batch_avx2(st, counter, dst, src);
		return;
	}
#endif
	chacha_batch_c(st, counter, dst, src);
}

/* Sixteen blocks (CHACHA_WIDE_LEN bytes): one call where AVX-512 has it. */
static void chacha_wide(const uint32_t st[16], uint32_t counter,
			uint8_t *dst, const uint8_t *src)
{
#ifdef CHACHA20POLY1305_X86
	if (__builtin_cpu_supports("avx512f")) {
		chacha_wide_avx512(st, counter, dst, src);
		return;
	}
#endif
	chacha_batch(st, counter, dst, src);
	chacha_batch(st, counter + CHACHA_BATCH_BLOCKS, dst + CHACHA_BATCH_LEN,
		     src ? src + CHACHA_BATCH_LEN : NULL);
}

#ifdef CHACHA20POLY1305_X86
/* 64 bytes at a time: the first batch's bytes and the tail of a packet. */
__attribute__((target("avx512f")))
static size_t xor_blocks_avx512(uint8_t *dst, const uint8_t *src,
				const uint8_t *ks, size_t len)
{
	size_t i;

	for (i = 0; i + 64 <= len; i += 64)
		_mm512_storeu_si512(dst + i,
				    _mm512_xor_si512(_mm512_loadu_si512(src + i),
						     _mm512_loadu_si512(ks + i)));
	_mm256_zeroupper();
	return i;
}
#endif

static void xor_bytes(uint8_t *dst, const uint8_t *src, const uint8_t *ks,
		      size_t len)
{
	size_t i = 0;

#ifdef CHACHA20POLY1305_X86
	if (len >= 64 && __builtin_cpu_supports("avx512f"))
		i = xor_blocks_avx512(dst, src, ks, len);
#endif
	for (; i + 8 <= len; i += 8) {
		uint64_t a, b;

		memcpy(&a, src + i, 8);
		memcpy(&b, ks + i, 8);
		a ^= b;
		memcpy(dst + i, &a, 8);
	}
	for (; i < len; i++)
		dst[i] = src[i] ^ ks[i];
}

/*
 * Block 0's first 32 bytes are the one-time Poly1305 key; the other blocks
 * of the first batch cover the start of the packet.  A packet of more than
 * 448 bytes gets sixteen blocks at first (the key and 960 bytes), a shorter
 * one eight.  chacha_first() makes that batch into ks and says how many
 * bytes of the packet it covers; chacha_rest() XORs src with the stream
 * from block 1 on (those bytes from ks) into dst, and makes the rest in
 * batches of sixteen, the tail into ks.
 */
static size_t chacha_first(const uint32_t st[16], size_t len,
			   uint8_t ks[CHACHA_WIDE_LEN])
{
	if (len > CHACHA_BATCH_LEN - CHACHA_BLOCK_LEN) {
		chacha_wide(st, 0, ks, NULL);
		return CHACHA_WIDE_LEN - CHACHA_BLOCK_LEN;
	}
	chacha_batch(st, 0, ks, NULL);
	return CHACHA_BATCH_LEN - CHACHA_BLOCK_LEN;
}

static void chacha_rest(uint8_t *dst, const uint8_t *src, size_t len,
			const uint32_t st[16], uint8_t ks[CHACHA_WIDE_LEN],
			size_t first)
{
	uint32_t counter = (uint32_t)((first + CHACHA_BLOCK_LEN) /
				      CHACHA_BLOCK_LEN);
	size_t n = len < first ? len : first, pos;

	xor_bytes(dst, src, ks + CHACHA_BLOCK_LEN, n);
	for (pos = n; len - pos >= CHACHA_WIDE_LEN; pos += CHACHA_WIDE_LEN) {
		chacha_wide(st, counter, dst + pos, src + pos);
		counter += CHACHA_WIDE_BLOCKS;
	}
	/* Nothing left, as with no payload at all (src and dst NULL). */
	if (pos == len)
		return;
	if (len - pos > CHACHA_BATCH_LEN)
		chacha_wide(st, counter, ks, NULL);
	else
		chacha_batch(st, counter, ks, NULL);
	xor_bytes(dst + pos, src + pos, ks, len - pos);
}

/* ------------------------------------------------------------ Poly1305 */

/*
 * The accumulator h = h0 + h1 2^64 + h2 2^128, kept below 5 2^128 between
 * blocks; r clamped as the RFC says, which leaves r1 a multiple of 4, so
 * that r1 2^128 = (r1 / 4) 2^130 = 5 (r1 / 4) mod p: s1 is that factor.
 */
struct poly1305 {
	uint64_t r0, r1, s1;
	uint64_t h0, h1, h2;
};

static void poly1305_init(struct poly1305 *p, const uint8_t key[16])
{
	p->r0 = load64(key) & 0x0ffffffc0fffffffull;
	p->r1 = load64(key + 8) & 0x0ffffffc0ffffffcull;
	p->s1 = p->r1 + (p->r1 >> 2);
	p->h0 = p->h1 = p->h2 = 0;
}

/* h = (h + m + 2^128) r mod p, partly reduced, for each 16-byte block. */
static void poly1305_blocks(struct poly1305 *p, const uint8_t *m,
			    size_t nblocks)
{
	const uint64_t r0 = p->r0, r1 = p->r1, s1 = p->s1;
	uint64_t h0 = p->h0, h1 = p->h1, h2 = p->h2;

	while (nblocks--) {
		u128 t, d0, d1;
		uint64_t d2, c;

		t = (u128)h0 + load64(m);
		h0 = (uint64_t)t;
		t = (u128)h1 + load64(m + 8) + (uint64_t)(t >> 64);
		h1 = (uint64_t)t;
		h2 += (uint64_t)(t >> 64) + 1;

		/* h2 <= 6 and r0, r1 < 2^60: no sum below overflows. */
		d0 = (u128)h0 * r0 + (u128)h1 * s1;
		d1 = (u128)h0 * r1 + (u128)h1 * r0 + h2 * s1;
		d2 = h2 * r0;

		h0 = (uint64_t)d0;
		d1 += (uint64_t)(d0 >> 64);
		h1 = (uint64_t)d1;
		d2 += (uint64_t)(d1 >> 64);

		/* What is above 2^130 comes back times 5: c = 5 (d2 >> 2). */
		c = (d2 >> 2) + (d2 & ~(uint64_t)3);
		h2 = d2 & 3;
		t = (u128)h0 + c;
		h0 = (uint64_t)t;
		t = (u128)h1 + (uint64_t)(t >> 64);
		h1 = (uint64_t)t;
		h2 += (uint64_t)(t >> 64);
		m += POLY1305_BLOCK_LEN;
	}
	p->h0 = h0;
	p->h1 = h1;
	p->h2 = h2;
}

#ifdef CHACHA20POLY1305_X86
/*
 * Long inputs go four blocks at a time through AVX2, in radix 2^26 (five
 * limbs of 26 bits per number, each in a 64-bit lane, which the 32x32-bit
 * vector multiply takes).  Lane j hashes blocks j, j + 4, j + 8, ... with
 * r^4 in place of r; at the end lane j is multiplied by the power of r that
 * its last block still needed, and the four lanes added: the same sum,
 * Horner's rule split four ways.
 */
enum {
	POLY1305_VECTOR_MIN_BLOCKS = 16,	/* below it the set-up costs more */
	LIMB_BITS = 26,
	LIMB_MASK = (1 << LIMB_BITS) - 1,
};

/* h (radix 2^64, below 2^131) as five limbs; the top one may exceed 26 bits. */
static void limbs_from_h(uint64_t l[5], uint64_t h0, uint64_t h1, uint64_t h2)
{
	l[0] = h0 & LIMB_MASK;
	l[1] = (h0 >> 26) & LIMB_MASK;
	l[2] = ((h0 >> 52) | (h1 << 12)) & LIMB_MASK;
	l[3] = (h1 >> 14) & LIMB_MASK;
	l[4] = (h1 >> 40) | (h2 << 24);
}

/* out = a b mod p, limbs below 2^27 in and out: the vector loop's algebra. */
static void limbs_mul(uint64_t out[5], const uint64_t a[5], const uint64_t b[5])
{
	uint64_t s1 = 5 * b[1], s2 = 5 * b[2], s3 = 5 * b[3], s4 = 5 * b[4];
	uint64_t d[5], c;

	d[0] = a[0] * b[0] + a[1] * s4 + a[2] * s3 + a[3] * s2 + a[4] * s1;
	d[1] = a[0] * b[1] + a[1] * b[0] + a[2] * s4 + a[3] * s3 + a[4] * s2;
	d[2] = a[0] * b[2] + a[1] * b[1] + a[2] * b[0] + a[3] * s4 + a[4] * s3;
	d[3] = a[0] * b[3] + a[1] * b[2] + a[2] * b[1] + a[3] * b[0] + a[4] * s4;
	d[4] = a[0] * b[4] + a[1] * b[3] + a[2] * b[2] + a[3] * b[1] + a[4] * b[0];
	for (int i = 0; i < 4; i++) {
		d[i + 1] += d[i] >> 26;
		d[i] &= LIMB_MASK;
	}
	c = d[4] >> 26;
	d[4] &= LIMB_MASK;
	d[0] += c * 5;
	d[1] += d[0] >> 26;
	d[0] &= LIMB_MASK;
	memcpy(out, d, sizeof(d));
}

/* h2's bits above 2^130 back to the bottom, times 5: h below 5 2^128. */
static void h_fold(struct poly1305 *p)
{
	uint64_t c = (p->h2 >> 2) * 5;
	u128 t;

	p->h2 &= 3;
	t = (u128)p->h0 + c;
	p->h0 = (uint64_t)t;
	t = (u128)p->h1 + (uint64_t)(t >> 64);
	p->h1 = (uint64_t)t;
	p->h2 += (uint64_t)(t >> 64);
}

/*
 * h from the lanes' sum, five limbs of up to 28 bits: back to radix 2^64,
 * and below 5 2^128 as poly1305_blocks() keeps it.
 */
static void h_from_limbs(struct poly1305 *p, const uint64_t l[5])
{
	u128 t;

	t = (u128)l[0] + ((u128)l[1] << 26) + ((u128)l[2] << 52);
	p->h0 = (uint64_t)t;
	t = (t >> 64) + ((u128)l[3] << 14) + ((u128)l[4] << 40);
	p->h1 = (uint64_t)t;
	p->h2 = (uint64_t)(t >> 64);
	h_fold(p);
}

struct vec5 {
	__m256i l[5];
};

/* The carry from limb x into limb y. */
__attribute__((target("avx2"), always_inline))
static inline void vec_carry(__m256i *x, __m256i *y)
{
	*y = _mm256_add_epi64(*y, _mm256_srli_epi64(*x, 26));
	*x = _mm256_and_si256(*x, _mm256_set1_epi64x(LIMB_MASK));
}

/* a b + c d + e f + g h + i j, products of the low 32 bits of each lane. */
__attribute__((target("avx2"), always_inline))
static inline __m256i vec_dot5(__m256i a, __m256i b, __m256i c, __m256i d,
			       __m256i e, __m256i f, __m256i g, __m256i h,
			       __m256i i, __m256i j)
{
	__m256i x = _mm256_add_epi64(_mm256_mul_epu32(a, b), _mm256_mul_epu32(c, d));
	__m256i y = _mm256_add_epi64(_mm256_mul_epu32(e, f), _mm256_mul_epu32(g, h));

	return _mm256_add_epi64(_mm256_add_epi64(x, y), _mm256_mul_epu32(i, j));
}

/* h = h r mod p in every lane; s = 5 r; limbs below 2^27 in and out. */
__attribute__((target("avx2"), always_inline))
static inline void vec5_mul(struct vec5 *h, const struct vec5 *r,
			    const struct vec5 *s)
{
	const __m256i *a = h->l, *b = r->l, *t = s->l;
	__m256i d0, d1, d2, d3, d4, c;

	d0 = vec_dot5(a[0], b[0], a[1], t[4], a[2], t[3], a[3], t[2], a[4], t[1]);
	d1 = vec_dot5(a[0], b[1], a[1], b[0], a[2], t[4], a[3], t[3], a[4], t[2]);
	d2 = vec_dot5(a[0], b[2], a[1], b[1], a[2], b[0], a[3], t[4], a[4], t[3]);
	d3 = vec_dot5(a[0], b[3], a[1], b[2], a[2], b[1], a[3], b[0], a[4], t[4]);
	d4 = vec_dot5(a[0], b[4], a[1], b[3], a[2], b[2], a[3], b[1], a[4], b[0]);
	/*
	 * Two carry chains side by side, four steps deep instead of seven;
	 * the carry out of the top limb can pass 32 bits: times 5 by shifts.
	 */
	vec_carry(&d0, &d1);
	vec_carry(&d3, &d4);
	vec_carry(&d1, &d2);
	c = _mm256_srli_epi64(d4, 26);
	d4 = _mm256_and_si256(d4, _mm256_set1_epi64x(LIMB_MASK));
	d0 = _mm256_add_epi64(d0, _mm256_add_epi64(c, _mm256_slli_epi64(c, 2)));
	vec_carry(&d2, &d3);
	vec_carry(&d0, &d1);
	vec_carry(&d3, &d4);
	h->l[0] = d0;
	h->l[1] = d1;
	h->l[2] = d2;
	h->l[3] = d3;
	h->l[4] = d4;
}

/*
 * Four blocks as limbs, with the 2^128 bit set: block j of the group in
 * lane 0, 2, 1, 3 for j = 0, 1, 2, 3 (the order unpacking leaves them in).
 */
__attribute__((target("avx2"), always_inline))
static inline void vec5_load(struct vec5 *m, const uint8_t *p)
{
	const __m256i mask = _mm256_set1_epi64x(LIMB_MASK);
	__m256i x = _mm256_loadu_si256((const __m256i *)p);
	__m256i y = _mm256_loadu_si256((const __m256i *)(p + 32));
	__m256i lo = _mm256_unpacklo_epi64(x, y), hi = _mm256_unpackhi_epi64(x, y);

	m->l[0] = _mm256_and_si256(lo, mask);
	m->l[1] = _mm256_and_si256(_mm256_srli_epi64(lo, 26), mask);
	m->l[2] = _mm256_and_si256(_mm256_or_si256(_mm256_srli_epi64(lo, 52),
						   _mm256_slli_epi64(hi, 12)),
				   mask);
	m->l[3] = _mm256_and_si256(_mm256_srli_epi64(hi, 14), mask);
	m->l[4] = _mm256_or_si256(_mm256_srli_epi64(hi, 40),
				  _mm256_set1_epi64x(1 << 24));
}

/* r's limbs as a vector: the same in every lane, or one power per lane. */
__attribute__((target("avx2")))
static inline void vec5_set(struct vec5 *v, struct vec5 *five,
			    const uint64_t *lane0, const uint64_t *lane1,
			    const uint64_t *lane2, const uint64_t *lane3)
{
#pragma GCC unroll 5
	for (int i = 0; i < 5; i++) {
		v->l[i] = _mm256_set_epi64x((long long)lane3[i], (long long)lane2[i],
					    (long long)lane1[i], (long long)lane0[i]);
		five->l[i] = _mm256_add_epi64(v->l[i], _mm256_slli_epi64(v->l[i], 2));
	}
}

__attribute__((target("avx2")))
static void poly1305_blocks_avx2(struct poly1305 *p, const uint8_t *m,
				 size_t nblocks)
{
	uint64_t r1[5], r2[5], r3[5], r4[5], h[5], sum[5] = { 0 };
	uint64_t lanes[4];
	struct vec5 acc, msg, rr, ss;

	limbs_from_h(r1, p->r0, p->r1, 0);
	limbs_mul(r2, r1, r1);
	limbs_mul(r3, r2, r1);
	limbs_mul(r4, r2, r2);
	limbs_from_h(h, p->h0, p->h1, p->h2);

	vec5_load(&acc, m);
	acc.l[0] = _mm256_add_epi64(acc.l[0], _mm256_set_epi64x(0, 0, 0, (long long)h[0]));
	acc.l[1] = _mm256_add_epi64(acc.l[1], _mm256_set_epi64x(0, 0, 0, (long long)h[1]));
	acc.l[2] = _mm256_add_epi64(acc.l[2], _mm256_set_epi64x(0, 0, 0, (long long)h[2]));
	acc.l[3] = _mm256_add_epi64(acc.l[3], _mm256_set_epi64x(0, 0, 0, (long long)h[3]));
	acc.l[4] = _mm256_add_epi64(acc.l[4], _mm256_set_epi64x(0, 0, 0, (long long)h[4]));
	vec5_set(&rr, &ss, r4, r4, r4, r4);
	for (size_t i = 4; i < nblocks; i += 4) {
		vec5_mul(&acc, &rr, &ss);
		vec5_load(&msg, m + i * POLY1305_BLOCK_LEN);
		acc.l[0] = _mm256_add_epi64(acc.l[0], msg.l[0]);
		acc.l[1] = _mm256_add_epi64(acc.l[1], msg.l[1]);
		acc.l[2] = _mm256_add_epi64(acc.l[2], msg.l[2]);
		acc.l[3] = _mm256_add_epi64(acc.l[3], msg.l[3]);
		acc.l[4] = _mm256_add_epi64(acc.l[4], msg.l[4]);
	}
	/* Lanes 0..3 hold blocks 0, 2, 1, 3 of the last group. */
	vec5_set(&rr, &ss, r4, r2, r3, r1);
	vec5_mul(&acc, &rr, &ss);
#pragma GCC unroll 5
	for (int k = 0; k < 5; k++) {
		_mm256_storeu_si256((__m256i *)lanes, acc.l[k]);
		sum[k] = lanes[0] + lanes[1] + lanes[2] + lanes[3];
	}

	h_from_limbs(p, sum);

	sodium_memzero(r2, sizeof(r2));
	sodium_memzero(r3, sizeof(r3));
	sodium_memzero(r4, sizeof(r4));
	sodium_memzero(r1, sizeof(r1));
	sodium_memzero(lanes, sizeof(lanes));
	_mm256_zeroupper();
}

/*
 * The same with AVX-512, eight lanes, r^8 per step.  Lane k holds blocks
 * 0, 4, 1, 5, 2, 6, 3, 7 of each group of eight for k = 0..7.  The powers
 * of r are made in vectors too (three multiplications instead of seven).
 */
struct vec8 {
	__m512i l[5];
};

__attribute__((target("avx512f"), always_inline))
static inline void vec8_carry(__m512i *x, __m512i *y)
{
	*y = _mm512_add_epi64(*y, _mm512_srli_epi64(*x, 26));
	*x = _mm512_and_si512(*x, _mm512_set1_epi64(LIMB_MASK));
}

__attribute__((target("avx512f"), always_inline))
static inline __m512i vec8_dot5(__m512i a, __m512i b, __m512i c, __m512i d,
				__m512i e, __m512i f, __m512i g, __m512i h,
				__m512i i, __m512i j)
{
	__m512i x = _mm512_add_epi64(_mm512_mul_epu32(a, b), _mm512_mul_epu32(c, d));
	__m512i y = _mm512_add_epi64(_mm512_mul_epu32(e, f), _mm512_mul_epu32(g, h));

	return _mm512_add_epi64(_mm512_add_epi64(x, y), _mm512_mul_epu32(i, j));
}

/* 5 r, limb by limb: what a limb's product brings back from above 2^130. */
__attribute__((target("avx512f"), always_inline))
static inline void vec8_times5(struct vec8 *s, const struct vec8 *r)
{
	s->l[0] = r->l[0];
	s->l[1] = _mm512_add_epi64(r->l[1], _mm512_slli_epi64(r->l[1], 2));
	s->l[2] = _mm512_add_epi64(r->l[2], _mm512_slli_epi64(r->l[2], 2));
	s->l[3] = _mm512_add_epi64(r->l[3], _mm512_slli_epi64(r->l[3], 2));
	s->l[4] = _mm512_add_epi64(r->l[4], _mm512_slli_epi64(r->l[4], 2));
}

/* h = h r mod p lane by lane, s = 5 r; limbs below 2^27 in and out. */
__attribute__((target("avx512f"), always_inline))
static inline void vec8_mul(struct vec8 *h, const struct vec8 *r,
			    const struct vec8 *s)
{
	const __m512i *a = h->l, *b = r->l, *t = s->l;
	__m512i d0, d1, d2, d3, d4, c;

	d0 = vec8_dot5(a[0], b[0], a[1], t[4], a[2], t[3], a[3], t[2], a[4], t[1]);
	d1 = vec8_dot5(a[0], b[1], a[1], b[0], a[2], t[4], a[3], t[3], a[4], t[2]);
	d2 = vec8_dot5(a[0], b[2], a[1], b[1], a[2], b[0], a[3], t[4], a[4], t[3]);
	d3 = vec8_dot5(a[0], b[3], a[1], b[2], a[2], b[1], a[3], b[0], a[4], t[4]);
	d4 = vec8_dot5(a[0], b[4], a[1], b[3], a[2], b[2], a[3], b[1], a[4], b[0]);
	/* Two carry chains side by side: four steps deep instead of seven. */
	vec8_carry(&d0, &d1);
	vec8_carry(&d3, &d4);
	vec8_carry(&d1, &d2);
	c = _mm512_srli_epi64(d4, 26);
	d4 = _mm512_and_si512(d4, _mm512_set1_epi64(LIMB_MASK));
	d0 = _mm512_add_epi64(d0, _mm512_add_epi64(c, _mm512_slli_epi64(c, 2)));
	vec8_carry(&d2, &d3);
	vec8_carry(&d0, &d1);
	vec8_carry(&d3, &d4);
	h->l[0] = d0;
	h->l[1] = d1;
	h->l[2] = d2;
	h->l[3] = d3;
	h->l[4] = d4;
}

/* h = h r, with 5 r made on the way (for the few products of the set-up). */
__attribute__((target("avx512f"), always_inline))
static inline void vec8_mul_once(struct vec8 *h, const struct vec8 *r)
{
	struct vec8 s;

	vec8_times5(&s, r);
	vec8_mul(h, r, &s);
}

__attribute__((target("avx512f"), always_inline))
static inline void vec8_load(struct vec8 *m, const uint8_t *p)
{
	const __m512i mask = _mm512_set1_epi64(LIMB_MASK);
	__m512i x = _mm512_loadu_si512(p), y = _mm512_loadu_si512(p + 64);
	__m512i lo = _mm512_unpacklo_epi64(x, y), hi = _mm512_unpackhi_epi64(x, y);

	m->l[0] = _mm512_and_si512(lo, mask);
	m->l[1] = _mm512_and_si512(_mm512_srli_epi64(lo, 26), mask);
	m->l[2] = _mm512_and_si512(_mm512_or_si512(_mm512_srli_epi64(lo, 52),
						   _mm512_slli_epi64(hi, 12)),
				   mask);
	m->l[3] = _mm512_and_si512(_mm512_srli_epi64(hi, 14), mask);
	m->l[4] = _mm512_or_si512(_mm512_srli_epi64(hi, 40),
				  _mm512_set1_epi64(1 << 24));
}

/* v = a with the lanes in mask taken from b; or every lane from idx. */
__attribute__((target("avx512f"), always_inline))
static inline void vec8_blend(struct vec8 *v, __mmask8 mask,
			      const struct vec8 *a, const struct vec8 *b)
{
#pragma GCC unroll 5
	for (int i = 0; i < 5; i++)
		v->l[i] = _mm512_mask_blend_epi64(mask, a->l[i], b->l[i]);
}

__attribute__((target("avx512f"), always_inline))
static inline void vec8_permute(struct vec8 *v, __m512i idx,
				const struct vec8 *a)
{
#pragma GCC unroll 5
	for (int i = 0; i < 5; i++)
		v->l[i] = _mm512_permutexvar_epi64(idx, a->l[i]);
}

/*
 * pow gets r^1..r^8 in lanes 0..7: r^2 = r r; (r^3, r^4) = r^2 (r, r^2);
 * (r^5..r^8) = r^4 (r..r^4).
 */
__attribute__((target("avx512f"), always_inline))
static inline void vec8_powers(struct vec8 *pow, const uint64_t r[5])
{
	struct vec8 one, two, t;

#pragma GCC unroll 5
	for (int i = 0; i < 5; i++)
		one.l[i] = _mm512_set1_epi64((long long)r[i]);
	two = one;
	vec8_mul_once(&two, &one);		/* r^2 everywhere */
	vec8_blend(&t, 0xaa, &one, &two);	/* r, r^2, r, r^2, ... */
	vec8_mul_once(&two, &t);		/* r^3, r^4, r^3, r^4, ... */
	vec8_blend(&t, 0xcc, &t, &two);		/* r, r^2, r^3, r^4, ... */
	vec8_permute(&two, _mm512_set1_epi64(3), &t);	/* r^4 everywhere */
	vec8_mul_once(&two, &t);		/* r^5..r^8, r^5..r^8 */
	vec8_blend(pow, 0xf0, &t, &two);	/* r^1..r^8 */
}

__attribute__((target("avx512f")))
static void poly1305_blocks_avx512(struct poly1305 *p, const uint8_t *m,
				   size_t nblocks)
{
	uint64_t r1[5], h[5], sum[5], lanes[8];
	struct vec8 acc, msg, pow, step, step5;

	limbs_from_h(r1, p->r0, p->r1, 0);
	vec8_powers(&pow, r1);
	vec8_permute(&step, _mm512_set1_epi64(7), &pow);
	vec8_times5(&step5, &step);
	limbs_from_h(h, p->h0, p->h1, p->h2);

	vec8_load(&acc, m);
#pragma GCC unroll 5
	for (int k = 0; k < 5; k++)
		acc.l[k] = _mm512_mask_add_epi64(acc.l[k], 1, acc.l[k],
						 _mm512_set1_epi64((long long)h[k]));
	for (size_t i = 8; i < nblocks; i += 8) {
		vec8_mul(&acc, &step, &step5);
		vec8_load(&msg, m + i * POLY1305_BLOCK_LEN);
		acc.l[0] = _mm512_add_epi64(acc.l[0], msg.l[0]);
		acc.l[1] = _mm512_add_epi64(acc.l[1], msg.l[1]);
		acc.l[2] = _mm512_add_epi64(acc.l[2], msg.l[2]);
		acc.l[3] = _mm512_add_epi64(acc.l[3], msg.l[3]);
		acc.l[4] = _mm512_add_epi64(acc.l[4], msg.l[4]);
	}
	/* Block j of the last group still needs r^(8 - j). */
	vec8_permute(&step, _mm512_setr_epi64(7, 3, 6, 2, 5, 1, 4, 0), &pow);
	vec8_mul_once(&acc, &step);
#pragma GCC unroll 5
	for (int k = 0; k < 5; k++) {
		_mm512_storeu_si512(lanes, acc.l[k]);
		sum[k] = lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] +
			 lanes[5] + lanes[6] + lanes[7];
	}

	h_from_limbs(p, sum);

	sodium_memzero(r1, sizeof(r1));
	sodium_memzero(lanes, sizeof(lanes));
	_mm256_zeroupper();
}

/*
 * With AVX-512 IFMA the eight lanes work in radix 2^44 instead: three
 * limbs of 44, 44 and 42 bits.  vpmadd52luq and vpmadd52huq add the low and
 * the high 52 bits of a product of 52-bit numbers to a lane, so h r takes
 * nine products (each made twice, once per half) where radix 2^26 takes
 * 25.  A product's high half weighs 2^52 = 2^8 2^44: it joins the next limb
 * shifted by 8, and the top limb's wraps round to the bottom times 2^8 20,
 * since 2^132 = 4 2^130 = 20 mod p.  The lanes hold the blocks in the
 * order vec8_load() leaves them.
 */
struct vec3 {
	__m512i l[3];
};

__attribute__((target("avx512f"), always_inline))
static inline __m512i mask44(void)
{
	return _mm512_set1_epi64((1ll << 44) - 1);
}

/* 20 r: what a product that passes 2^132 brings back. */
__attribute__((target("avx512f"), always_inline))
static inline __m512i times20(__m512i r)
{
	return _mm512_add_epi64(_mm512_slli_epi64(r, 4), _mm512_slli_epi64(r, 2));
}

/* h = h r mod p lane by lane; s = 20 r; limbs below 2^46 in, 2^45 out. */
__attribute__((target("avx512f,avx512ifma"), always_inline))
static inline void vec3_mul(struct vec3 *h, const struct vec3 *r,
			    const struct vec3 *s)
{
	const __m512i *a = h->l, *b = r->l, *t = s->l;
	const __m512i z = _mm512_setzero_si512();
	__m512i lo0, lo1, lo2, hi0, hi1, hi2, c;

	lo0 = _mm512_madd52lo_epu64(z, a[0], b[0]);
	hi0 = _mm512_madd52hi_epu64(z, a[0], b[0]);
	lo1 = _mm512_madd52lo_epu64(z, a[0], b[1]);
	hi1 = _mm512_madd52hi_epu64(z, a[0], b[1]);
	lo2 = _mm512_madd52lo_epu64(z, a[0], b[2]);
	hi2 = _mm512_madd52hi_epu64(z, a[0], b[2]);
	lo0 = _mm512_madd52lo_epu64(lo0, a[1], t[2]);
	hi0 = _mm512_madd52hi_epu64(hi0, a[1], t[2]);
	lo1 = _mm512_madd52lo_epu64(lo1, a[1], b[0]);
	hi1 = _mm512_madd52hi_epu64(hi1, a[1], b[0]);
	lo2 = _mm512_madd52lo_epu64(lo2, a[1], b[1]);
	hi2 = _mm512_madd52hi_epu64(hi2, a[1], b[1]);
	lo0 = _mm512_madd52lo_epu64(lo0, a[2], t[1]);
	hi0 = _mm512_madd52hi_epu64(hi0, a[2], t[1]);
	lo1 = _mm512_madd52lo_epu64(lo1, a[2], t[2]);
	hi1 = _mm512_madd52hi_epu64(hi1, a[2], t[2]);
	lo2 = _mm512_madd52lo_epu64(lo2, a[2], b[0]);
	hi2 = _mm512_madd52hi_epu64(hi2, a[2], b[0]);

	/* The high halves, one limb up (the top one round to the bottom). */
	lo1 = _mm512_add_epi64(lo1, _mm512_slli_epi64(hi0, 8));
	lo2 = _mm512_add_epi64(lo2, _mm512_slli_epi64(hi1, 8));
	lo0 = _mm512_add_epi64(lo0, _mm512_add_epi64(_mm512_slli_epi64(hi2, 12),
						     _mm512_slli_epi64(hi2, 10)));
	/* Below 2^59, 2^55, 2^55: one carry pass, the top past 2^130 times 5. */
	lo1 = _mm512_add_epi64(lo1, _mm512_srli_epi64(lo0, 44));
	lo0 = _mm512_and_si512(lo0, mask44());
	lo2 = _mm512_add_epi64(lo2, _mm512_srli_epi64(lo1, 44));
	lo1 = _mm512_and_si512(lo1, mask44());
	c = _mm512_srli_epi64(lo2, 42);
	h->l[2] = _mm512_and_si512(lo2, _mm512_set1_epi64((1ll << 42) - 1));
	h->l[0] = _mm512_add_epi64(lo0, _mm512_add_epi64(c, _mm512_slli_epi64(c, 2)));
	h->l[1] = lo1;
}

/* Eight blocks as limbs, with the 2^128 bit set; lanes as vec8_load(). */
__attribute__((target("avx512f"), always_inline))
static inline void vec3_load(struct vec3 *m, const uint8_t *p)
{
	__m512i x = _mm512_loadu_si512(p), y = _mm512_loadu_si512(p + 64);
	__m512i lo = _mm512_unpacklo_epi64(x, y), hi = _mm512_unpackhi_epi64(x, y);

	m->l[0] = _mm512_and_si512(lo, mask44());
	m->l[1] = _mm512_and_si512(_mm512_or_si512(_mm512_srli_epi64(lo, 44),
						   _mm512_slli_epi64(hi, 20)),
				   mask44());
	m->l[2] = _mm512_or_si512(_mm512_srli_epi64(hi, 24),
				  _mm512_set1_epi64(1ll << 40));
}

/* h = h r lane by lane, with 20 r made on the way (for the set-up). */
__attribute__((target("avx512f,avx512ifma"), always_inline))
static inline void vec3_mul_once(struct vec3 *h, const struct vec3 *r)
{
	struct vec3 s;

#pragma GCC unroll 3
	for (int i = 0; i < 3; i++)
		s.l[i] = times20(r->l[i]);
	vec3_mul(h, r, &s);
}

/* v = a with the lanes in mask taken from b. */
__attribute__((target("avx512f"), always_inline))
static inline void vec3_blend(struct vec3 *v, __mmask8 mask,
			      const struct vec3 *a, const struct vec3 *b)
{
#pragma GCC unroll 3
	for (int i = 0; i < 3; i++)
		v->l[i] = _mm512_mask_blend_epi64(mask, a->l[i], b->l[i]);
}

/* pow gets r^1..r^8 in lanes 0..7, as vec8_powers() does in radix 2^26. */
__attribute__((target("avx512f,avx512ifma"), always_inline))
static inline void vec3_powers(struct vec3 *pow, uint64_t r0, uint64_t r1)
{
	struct vec3 one, two, t;

	one.l[0] = _mm512_set1_epi64((long long)(r0 & ((1ull << 44) - 1)));
	one.l[1] = _mm512_set1_epi64(
		(long long)((r0 >> 44 | r1 << 20) & ((1ull << 44) - 1)));
	one.l[2] = _mm512_set1_epi64((long long)(r1 >> 24));
	two = one;
	vec3_mul_once(&two, &one);		/* r^2 everywhere */
	vec3_blend(&t, 0xaa, &one, &two);	/* r, r^2, r, r^2, ... */
	vec3_mul_once(&two, &t);		/* r^3, r^4, r^3, r^4, ... */
	vec3_blend(&t, 0xcc, &t, &two);		/* r, r^2, r^3, r^4, ... */
#pragma GCC unroll 3
	for (int i = 0; i < 3; i++)		/* r^4 everywhere */
		two.l[i] = _mm512_permutexvar_epi64(_mm512_set1_epi64(3), t.l[i]);
	vec3_mul_once(&two, &t);		/* r^5..r^8, r^5..r^8 */
	vec3_blend(pow, 0xf0, &t, &two);	/* r^1..r^8 */
}

/* r and 20 r with every lane from idx of pow. */
__attribute__((target("avx512f"), always_inline))
static inline void vec3_pick(struct vec3 *r, struct vec3 *s, __m512i idx,
			     const struct vec3 *pow)
{
#pragma GCC unroll 3
	for (int i = 0; i < 3; i++) {
		r->l[i] = _mm512_permutexvar_epi64(idx, pow->l[i]);
		s->l[i] = times20(r->l[i]);
	}
}

/*
 * The IFMA path takes a whole message, so that its last blocks (the AEAD's
 * padded partial block and its length block, which lie apart from the
 * ciphertext) need no scalar steps after it: the nblocks of m, then the
 * ntail of tail, behind lead empty blocks that round the count up to whole
 * groups of eight.  An empty block is zero without the 2^128 bit, so its
 * lane stays zero through every multiplication and weighs nothing.
 */
struct poly_msg {
	const uint8_t *m, *tail;
	size_t nblocks, ntail, lead;
};

/* Blocks v..v + 7 of the padded message, read in place when m holds them
 * all, else gathered into buf. */
static const uint8_t *poly_group(uint8_t buf[8 * POLY1305_BLOCK_LEN],
				 const struct poly_msg *msg, size_t v)
{
	size_t q, b;

	if (v >= msg->lead && v - msg->lead + 8 <= msg->nblocks)
		return msg->m + (v - msg->lead) * POLY1305_BLOCK_LEN;
	for (q = 0; q < 8; q++, v++) {
		uint8_t *dst = buf + q * POLY1305_BLOCK_LEN;

		if (v < msg->lead)
			memset(dst, 0, POLY1305_BLOCK_LEN);
		else if ((b = v - msg->lead) < msg->nblocks)
			memcpy(dst, msg->m + b * POLY1305_BLOCK_LEN,
			       POLY1305_BLOCK_LEN);
		else
			memcpy(dst, msg->tail + (b - msg->nblocks) *
						POLY1305_BLOCK_LEN,
			       POLY1305_BLOCK_LEN);
	}
	return buf;
}

/* The lane vec3_load() gives block q of a group: 0, 2, 4, 6, 1, 3, 5, 7. */
static unsigned int group_lane(size_t q)
{
	return q < 4 ? 2 * (unsigned int)q : 2 * (unsigned int)(q - 4) + 1;
}

__attribute__((target("avx512f,avx512ifma")))
static void poly1305_blocks_ifma(struct poly1305 *p, const uint8_t *m,
				 size_t nblocks, const uint8_t *tail,
				 size_t ntail)
{
	struct poly_msg msg = {
		.m = m, .tail = tail, .nblocks = nblocks, .ntail = ntail,
		.lead = (0 - (nblocks + ntail)) & 7,
	};
	size_t total = msg.lead + nblocks + ntail;
	uint8_t buf[8 * POLY1305_BLOCK_LEN];
	__mmask8 live = 0, first = (__mmask8)(1u << group_lane(msg.lead));
	uint64_t sum[3];
	struct vec3 acc, in, pow, step, step20;
	u128 t;

	if (!total)
		return;
	for (size_t q = msg.lead; q < 8; q++)
		live |= (__mmask8)(1u << group_lane(q));
	vec3_powers(&pow, p->r0, p->r1);
	vec3_pick(&step, &step20, _mm512_set1_epi64(7), &pow);

	/* The empty blocks lose their 2^128 bit; h joins the first real one. */
	vec3_load(&in, poly_group(buf, &msg, 0));
	acc.l[0] = _mm512_maskz_mov_epi64(live, in.l[0]);
	acc.l[1] = _mm512_maskz_mov_epi64(live, in.l[1]);
	acc.l[2] = _mm512_maskz_mov_epi64(live, in.l[2]);
	acc.l[0] = _mm512_mask_add_epi64(acc.l[0], first, acc.l[0], _mm512_set1_epi64(
			(long long)(p->h0 & ((1ull << 44) - 1))));
	acc.l[1] = _mm512_mask_add_epi64(acc.l[1], first, acc.l[1], _mm512_set1_epi64(
			(long long)((p->h0 >> 44 | p->h1 << 20) & ((1ull << 44) - 1))));
	acc.l[2] = _mm512_mask_add_epi64(acc.l[2], first, acc.l[2], _mm512_set1_epi64(
			(long long)(p->h1 >> 24 | p->h2 << 40)));
	for (size_t v = 8; v < total; v += 8) {
		vec3_mul(&acc, &step, &step20);
		vec3_load(&in, poly_group(buf, &msg, v));
		acc.l[0] = _mm512_add_epi64(acc.l[0], in.l[0]);
		acc.l[1] = _mm512_add_epi64(acc.l[1], in.l[1]);
		acc.l[2] = _mm512_add_epi64(acc.l[2], in.l[2]);
	}
	/* Block q of the last group still needs r^(8 - q). */
	vec3_pick(&step, &step20, _mm512_setr_epi64(7, 3, 6, 2, 5, 1, 4, 0),
		  &pow);
	vec3_mul(&acc, &step, &step20);
#pragma GCC unroll 3
	for (int k = 0; k < 3; k++)
		sum[k] = (uint64_t)_mm512_reduce_add_epi64(acc.l[k]);

	/* Each sum is below 2^48: h < 2^136, folded below 5 2^128 again. */
	t = (u128)sum[0] + ((u128)sum[1] << 44);
	p->h0 = (uint64_t)t;
	t = (t >> 64) + ((u128)sum[2] << 24);
	p->h1 = (uint64_t)t;
	p->h2 = (uint64_t)(t >> 64);
	h_fold(p);
	_mm256_zeroupper();
}

/*
 * The IFMA path for a whole message, but for one block past whole groups
 * (a ciphertext of a multiple of 128 bytes and the length block after it):
 * that one costs less alone than as a group of its own.
 */
static void poly1305_ifma_all(struct poly1305 *p, const uint8_t *m,
			      size_t nblocks, const uint8_t *tail, size_t ntail)
{
	const uint8_t *last;

	if ((nblocks + ntail) % 8 != 1) {
		poly1305_blocks_ifma(p, m, nblocks, tail, ntail);
		return;
	}
	if (ntail) {
		poly1305_blocks_ifma(p, m, nblocks, tail, ntail - 1);
		last = tail + (ntail - 1) * POLY1305_BLOCK_LEN;
	} else {
		poly1305_blocks_ifma(p, m, nblocks - 1, NULL, 0);
		last = m + (nblocks - 1) * POLY1305_BLOCK_LEN;
	}
	poly1305_blocks(p, last, 1);
}

#endif

/*
 * The nblocks of m, then the ntail of tail: whole groups through the
 * vectors when it pays, the rest one by one.  With IFMA the vectors take
 * the tail too.
 */
static void poly1305_hash(struct poly1305 *p, const uint8_t *m, size_t nblocks,
			  const uint8_t *tail, size_t ntail)
{
	size_t vec = 0;

#ifdef CHACHA20POLY1305_X86
	if (nblocks + ntail < POLY1305_VECTOR_MIN_BLOCKS) {
		/* one by one */
	} else if (__builtin_cpu_supports("avx512ifma")) {
		poly1305_ifma_all(p, m, nblocks, tail, ntail);
		return;
	} else if (__builtin_cpu_supports("avx512f")) {
		vec = nblocks & ~(size_t)7;
		poly1305_blocks_avx512(p, m, vec);
	} else if (__builtin_cpu_supports("avx2")) {
		vec = nblocks & ~(size_t)3;
		poly1305_blocks_avx2(p, m, vec);
	}
#endif
	/* m may be NULL with no blocks, and NULL + 0 is undefined. */
	if (nblocks > vec)
		poly1305_blocks(p, m + vec * POLY1305_BLOCK_LEN, nblocks - vec);
	poly1305_blocks(p, tail, ntail);
}

/*
 * The partial block at the end of len bytes of m, padded with zeros (the
 * AEAD's pad16), into last; returns how many such blocks there are, 0 or 1.
 */
static size_t poly1305_pad_last(uint8_t last[POLY1305_BLOCK_LEN],
				const uint8_t *m, size_t len)
{
	size_t rest = len % POLY1305_BLOCK_LEN;

	if (!rest)
		return 0;
	memset(last, 0, POLY1305_BLOCK_LEN);
	memcpy(last, m + (len - rest), rest);
	return 1;
}

/* Hashes len bytes, the last block padded with zeros. */
static void poly1305_padded(struct poly1305 *p, const uint8_t *m, size_t len)
{
	uint8_t last[POLY1305_BLOCK_LEN];

	/* Nothing at all, as often as not with no buffer (m NULL). */
	if (!len)
		return;
	poly1305_hash(p, m, len / POLY1305_BLOCK_LEN, last,
		      poly1305_pad_last(last, m, len));
}

/* tag = (h mod p) + s mod 2^128; h < 2p, so p is taken off at most once. */
static void poly1305_final(struct poly1305 *p, const uint8_t s[16],
			   uint8_t tag[CHACHA20POLY1305_TAG_LEN])
{
	uint64_t g0, g1, g2, mask;
	u128 t;

	t = (u128)p->h0 + 5;
	g0 = (uint64_t)t;
	t = (u128)p->h1 + (uint64_t)(t >> 64);
	g1 = (uint64_t)t;
	g2 = p->h2 + (uint64_t)(t >> 64);
	/* h + 5 reaches 2^130 exactly when h >= p. */
	mask = 0 - (g2 >> 2);
	g0 = (p->h0 & ~mask) | (g0 & mask);
	g1 = (p->h1 & ~mask) | (g1 & mask);

	t = (u128)g0 + load64(s);
	store64(tag, (uint64_t)t);
	store64(tag + 8, g1 + load64(s + 8) + (uint64_t)(t >> 64));
	sodium_memzero(p, sizeof(*p));
}

/* The RFC 8439 tag over ad and ciphertext ct, with the one-time key. */
static void aead_tag(uint8_t tag[CHACHA20POLY1305_TAG_LEN],
		     const uint8_t otk[POLY1305_KEY_LEN], const uint8_t *ad,
		     size_t adlen, const uint8_t *ct, size_t len)
{
	struct poly1305 p;
	uint8_t tail[2 * POLY1305_BLOCK_LEN];
	size_t ntail;

	poly1305_init(&p, otk);
	poly1305_padded(&p, ad, adlen);
	/* The ciphertext's padded end and the lengths go with it, in one
	 * hash: the vectors take them all where they can. */
	ntail = poly1305_pad_last(tail, ct, len);
	store64(tail + ntail * POLY1305_BLOCK_LEN, adlen);
	store64(tail + ntail * POLY1305_BLOCK_LEN + 8, len);
	poly1305_hash(&p, ct, len / POLY1305_BLOCK_LEN, tail, ntail + 1);
	poly1305_final(&p, otk + 16, tag);
}

/* ------------------------------------------------------------ the AEAD */

/* In constant time, a word at a time (sodium_memcmp() goes byte by byte). */
static bool tag_equal(const uint8_t a[CHACHA20POLY1305_TAG_LEN],
		      const uint8_t b[CHACHA20POLY1305_TAG_LEN])
{
	uint64_t d = (load64(a) ^ load64(b)) | (load64(a + 8) ^ load64(b + 8));

	/* d | -d has its top bit set exactly when d is not zero. */
	return ((d | (0 - d)) >> 63) == 0;
}

void chacha20poly1305_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
			      const uint8_t *ad, size_t adlen, uint64_t nonce,
			      const uint8_t key[CHACHA20POLY1305_KEY_LEN])
{
	uint32_t st[16];
	uint8_t ks[CHACHA_WIDE_LEN], otk[POLY1305_KEY_LEN];
	size_t first;

	chacha_setup(st, key, nonce);
	first = chacha_first(st, len, ks);
	/* chacha_rest() may reuse ks for the last batch. */
	memcpy(otk, ks, sizeof(otk));
	chacha_rest(dst, src, len, st, ks, first);
	aead_tag(dst + len, otk, ad, adlen, dst, len);
	sodium_memzero(st, sizeof(st));
	sodium_memzero(ks, sizeof(ks));
	sodium_memzero(otk, sizeof(otk));
}

bool chacha20poly1305_decrypt(uint8_t *dst, const uint8_t *src, size_t len,
			      const uint8_t *ad, size_t adlen, uint64_t nonce,
			      const uint8_t key[CHACHA20POLY1305_KEY_LEN])
{
	uint32_t st[16];
	uint8_t ks[CHACHA_WIDE_LEN], tag[CHACHA20POLY1305_TAG_LEN];
	size_t plen = len - CHACHA20POLY1305_TAG_LEN, first;
	bool ok;

	if (len < CHACHA20POLY1305_TAG_LEN)
		return false;
	chacha_setup(st, key, nonce);
	first = chacha_first(st, plen, ks);
	/* The tag is checked before a byte of dst is written. */
	aead_tag(tag, ks, ad, adlen, src, plen);
	ok = tag_equal(tag, src + plen);
	if (ok)
		chacha_rest(dst, src, plen, st, ks, first);
	else
		sodium_memzero(dst, plen);
	sodium_memzero(st, sizeof(st));
	sodium_memzero(ks, sizeof(ks));
	sodium_memzero(tag, sizeof(tag));
	return ok;
}
