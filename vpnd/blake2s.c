/* SPDX-License-Identifier: MIT */
/*
 * BLAKE2s as RFC 7693 specifies it (see blake2s.h).  The last block is
 * held back until final(), because it alone is compressed with the
 * finalisation flag set, and a block that fills exactly cannot be known
 * to be the last one until more input or final() arrives.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "blake2s.h"

/* The initial hash values: SHA-256's (RFC 7693, 2.6). */
static const uint32_t blake2s_iv[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/* The message word schedule of the ten rounds (RFC 7693, 2.7). */
static const uint8_t blake2s_sigma[10][16] = {
	{ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
	{ 14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3 },
	{ 11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4 },
	{ 7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8 },
	{ 9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13 },
	{ 2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9 },
	{ 12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11 },
	{ 13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10 },
	{ 6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5 },
	{ 10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0 },
};

static inline uint32_t ror32(uint32_t w, unsigned int c)
{
	return (w >> c) | (w << (32 - c));
}

static inline uint32_t load_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* The mixing function G on four words of v with two message words. */
static inline void blake2s_g(uint32_t v[16], int a, int b, int c, int d,
			     uint32_t x, uint32_t y)
{
	v[a] = v[a] + v[b] + x;
	v[d] = ror32(v[d] ^ v[a], 16);
	v[c] = v[c] + v[d];
	v[b] = ror32(v[b] ^ v[c], 12);
	v[a] = v[a] + v[b] + y;
	v[d] = ror32(v[d] ^ v[a], 8);
	v[c] = v[c] + v[d];
	v[b] = ror32(v[b] ^ v[c], 7);
}

static void blake2s_compress(struct blake2s_state *s,
			     const uint8_t block[BLAKE2S_BLOCK_LEN],
			     uint32_t inc, bool last)
{
	uint32_t m[16], v[16];
	int i, r;

	s->t[0] += inc;
	s->t[1] += s->t[0] < inc;
	for (i = 0; i < 16; i++)
		m[i] = load_le32(block + 4 * i);
	for (i = 0; i < 8; i++) {
		v[i] = s->h[i];
		v[i + 8] = blake2s_iv[i];
	}
	v[12] ^= s->t[0];
	v[13] ^= s->t[1];
	if (last)
		v[14] = ~v[14];
	/* Unrolled, the schedule's indexes become constants: a third
	 * faster than looking them up. */
#pragma GCC unroll 10
	for (r = 0; r < 10; r++) {
		const uint8_t *sg = blake2s_sigma[r];

		/* Columns, then diagonals. */
		blake2s_g(v, 0, 4, 8, 12, m[sg[0]], m[sg[1]]);
		blake2s_g(v, 1, 5, 9, 13, m[sg[2]], m[sg[3]]);
		blake2s_g(v, 2, 6, 10, 14, m[sg[4]], m[sg[5]]);
		blake2s_g(v, 3, 7, 11, 15, m[sg[6]], m[sg[7]]);
		blake2s_g(v, 0, 5, 10, 15, m[sg[8]], m[sg[9]]);
		blake2s_g(v, 1, 6, 11, 12, m[sg[10]], m[sg[11]]);
		blake2s_g(v, 2, 7, 8, 13, m[sg[12]], m[sg[13]]);
		blake2s_g(v, 3, 4, 9, 14, m[sg[14]], m[sg[15]]);
	}
	for (i = 0; i < 8; i++)
		s->h[i] ^= v[i] ^ v[i + 8];
	/* The message may be a key or a secret being hashed. */
	sodium_memzero(m, sizeof(m));
	sodium_memzero(v, sizeof(v));
}

void blake2s_init_key(struct blake2s_state *s, size_t outlen,
		      const void *key, size_t keylen)
{
	if (!outlen || outlen > BLAKE2S_OUT_MAX || keylen > BLAKE2S_KEY_MAX ||
	    (keylen && !key))
		abort();
	memset(s, 0, sizeof(*s));
	memcpy(s->h, blake2s_iv, sizeof(s->h));
	/* The parameter block's first word: digest length, key length,
	 * fanout 1, depth 1 (sequential mode); the rest is zero. */
	s->h[0] ^= 0x01010000 ^ ((uint32_t)keylen << 8) ^ (uint32_t)outlen;
	s->outlen = outlen;
	if (keylen) {
		/* The key, zero-padded, is the first block. */
		memcpy(s->buf, key, keylen);
		s->buflen = BLAKE2S_BLOCK_LEN;
	}
}

void blake2s_init(struct blake2s_state *s, size_t outlen)
{
	blake2s_init_key(s, outlen, NULL, 0);
}

void blake2s_update(struct blake2s_state *s, const void *in, size_t len)
{
	const uint8_t *p = in;
	size_t take;

	if (!len)
		return;
	/* A full buffer is compressed only now that more input follows. */
	if (s->buflen == BLAKE2S_BLOCK_LEN) {
		blake2s_compress(s, s->buf, BLAKE2S_BLOCK_LEN, false);
		s->buflen = 0;
	}
	if (s->buflen) {
		take = BLAKE2S_BLOCK_LEN - s->buflen;
		if (take > len)
			take = len;
		memcpy(s->buf + s->buflen, p, take);
		s->buflen += take;
		p += take;
		len -= take;
		if (!len)
			return;
		blake2s_compress(s, s->buf, BLAKE2S_BLOCK_LEN, false);
		s->buflen = 0;
	}
	/* Whole blocks straight from the input, all but a last one. */
	while (len > BLAKE2S_BLOCK_LEN) {
		blake2s_compress(s, p, BLAKE2S_BLOCK_LEN, false);
		p += BLAKE2S_BLOCK_LEN;
		len -= BLAKE2S_BLOCK_LEN;
	}
	memcpy(s->buf, p, len);
	s->buflen = len;
}

void blake2s_final(struct blake2s_state *s, uint8_t *out)
{
	uint8_t digest[BLAKE2S_OUT_MAX];
	int i;

	memset(s->buf + s->buflen, 0, BLAKE2S_BLOCK_LEN - s->buflen);
	blake2s_compress(s, s->buf, (uint32_t)s->buflen, true);
	for (i = 0; i < 8; i++) {
		digest[4 * i] = (uint8_t)s->h[i];
		digest[4 * i + 1] = (uint8_t)(s->h[i] >> 8);
		digest[4 * i + 2] = (uint8_t)(s->h[i] >> 16);
		digest[4 * i + 3] = (uint8_t)(s->h[i] >> 24);
	}
	memcpy(out, digest, s->outlen);
	sodium_memzero(digest, sizeof(digest));
	sodium_memzero(s, sizeof(*s));
}

void blake2s(uint8_t *out, size_t outlen, const void *in, size_t len,
	     const void *key, size_t keylen)
{
	struct blake2s_state s;

	blake2s_init_key(&s, outlen, key, keylen);
	blake2s_update(&s, in, len);
	blake2s_final(&s, out);
}
