/* SPDX-License-Identifier: MIT */
/*
 * The cryptographic primitives of WireGuard, wrapped once so that the rest of
 * vpnd never calls BLAKE2s, libsodium or the AEAD directly.  Everything that holds a key
 * on the stack here is wiped before returning.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "blake2s.h"
#include "chacha20poly1305.h"
#include "crypto.h"

enum {
	HMAC_IPAD = 0x36,
	HMAC_OPAD = 0x5c,
	/*
	 * The TAI64 label of the Unix epoch: 2^62 plus the 10 seconds by which
	 * TAI was ahead of UTC in 1970.
	 */
	TAI64_EPOCH_OFFSET_LOW = 10,
};

int wg_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

void wg_rng_fill(const struct wg_rng *rng, void *buf, size_t len)
{
	if (rng && rng->fill)
		rng->fill(rng->ctx, buf, len);
	else
		randombytes_buf(buf, len);
}

uint32_t wg_rng_u32(const struct wg_rng *rng)
{
	uint32_t v;

	wg_rng_fill(rng, &v, sizeof(v));
	return v;
}

void wg_hash(uint8_t out[CRYPTO_HASH_LEN], const void *in, size_t len)
{
	blake2s(out, CRYPTO_HASH_LEN, in, len, NULL, 0);
}

void wg_hash2(uint8_t out[CRYPTO_HASH_LEN], const void *a, size_t alen,
		  const void *b, size_t blen)
{
	struct blake2s_state st;

	blake2s_init(&st, CRYPTO_HASH_LEN);
	blake2s_update(&st, a, alen);
	blake2s_update(&st, b, blen);
	blake2s_final(&st, out);
}

void wg_mac(uint8_t out[CRYPTO_MAC_LEN], const uint8_t *key,
		size_t keylen, const void *in, size_t len)
{
	blake2s(out, CRYPTO_MAC_LEN, in, len, key, keylen);
}

void wg_hmac(uint8_t out[CRYPTO_HASH_LEN], const uint8_t *key,
		 size_t keylen, const void *in, size_t len)
{
	uint8_t block[CRYPTO_BLAKE2S_BLOCK_LEN] = { 0 };
	uint8_t inner[CRYPTO_HASH_LEN];
	struct blake2s_state st;
	size_t i;

	/* RFC 2104: a key longer than the block is replaced by its hash. */
	if (keylen > sizeof(block))
		wg_hash(block, key, keylen);
	else
		memcpy(block, key, keylen);

	for (i = 0; i < sizeof(block); i++)
		block[i] ^= HMAC_IPAD;
	blake2s_init(&st, CRYPTO_HASH_LEN);
	blake2s_update(&st, block, sizeof(block));
	blake2s_update(&st, in, len);
	blake2s_final(&st, inner);

	for (i = 0; i < sizeof(block); i++)
		block[i] ^= HMAC_IPAD ^ HMAC_OPAD;
	blake2s_init(&st, CRYPTO_HASH_LEN);
	blake2s_update(&st, block, sizeof(block));
	blake2s_update(&st, inner, sizeof(inner));
	blake2s_final(&st, out);

	sodium_memzero(block, sizeof(block));
	sodium_memzero(inner, sizeof(inner));
	sodium_memzero(&st, sizeof(st));
}

void wg_kdf(uint8_t t1[CRYPTO_HASH_LEN], uint8_t t2[CRYPTO_HASH_LEN],
		uint8_t t3[CRYPTO_HASH_LEN], const uint8_t ck[CRYPTO_HASH_LEN],
		const void *in, size_t len)
{
	uint8_t prk[CRYPTO_HASH_LEN];
	uint8_t t[CRYPTO_HASH_LEN + 1];
	uint8_t *outs[3] = { t1, t2, t3 };
	size_t tlen = 0;
	uint8_t i;

	/* Extract, then expand: t_i = HMAC(prk, t_{i-1} || i). */
	wg_hmac(prk, ck, CRYPTO_HASH_LEN, in, len);
	for (i = 0; i < 3 && outs[i]; i++) {
		t[tlen] = i + 1;
		wg_hmac(t, prk, sizeof(prk), t, tlen + 1);
		tlen = CRYPTO_HASH_LEN;
		memcpy(outs[i], t, CRYPTO_HASH_LEN);
	}
	sodium_memzero(prk, sizeof(prk));
	sodium_memzero(t, sizeof(t));
}

void wg_aead_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
			 const uint8_t *ad, size_t adlen, uint64_t nonce,
			 const uint8_t key[CRYPTO_AEAD_KEY_LEN])
{
	chacha20poly1305_encrypt(dst, src, len, ad, adlen, nonce, key);
}

bool wg_aead_decrypt(uint8_t *dst, const uint8_t *src, size_t len,
			 const uint8_t *ad, size_t adlen, uint64_t nonce,
			 const uint8_t key[CRYPTO_AEAD_KEY_LEN])
{
	return chacha20poly1305_decrypt(dst, src, len, ad, adlen, nonce, key);
}

void wg_xaead_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
			  const uint8_t *ad, size_t adlen,
			  const uint8_t nonce[CRYPTO_XAEAD_NONCE_LEN],
			  const uint8_t key[CRYPTO_AEAD_KEY_LEN])
{
	crypto_aead_xchacha20poly1305_ietf_encrypt(dst, NULL, src, len, ad,
						   adlen, NULL, nonce, key);
}

bool wg_xaead_decrypt(uint8_t *dst, const uint8_t *src, size_t len,
			  const uint8_t *ad, size_t adlen,
			  const uint8_t nonce[CRYPTO_XAEAD_NONCE_LEN],
			  const uint8_t key[CRYPTO_AEAD_KEY_LEN])
{
	if (len < CRYPTO_AEAD_TAG_LEN)
		return false;
	return crypto_aead_xchacha20poly1305_ietf_decrypt(dst, NULL, NULL, src,
							  len, ad, adlen, nonce,
							  key) == 0;
}

int wg_dh(uint8_t out[CRYPTO_DH_LEN], const uint8_t priv[CRYPTO_DH_LEN],
	      const uint8_t pub[CRYPTO_DH_LEN])
{
	/*
	 * libsodium itself refuses an all-zero result; the explicit check
	 * below keeps that guarantee even if a build of it did not.
	 */
	if (crypto_scalarmult(out, priv, pub) != 0 ||
	    wg_is_zero(out, CRYPTO_DH_LEN)) {
		sodium_memzero(out, CRYPTO_DH_LEN);
		return -EINVAL;
	}
	return 0;
}

void wg_clamp(uint8_t key[CRYPTO_DH_LEN])
{
	key[0] &= 248;
	key[31] = (key[31] & 127) | 64;
}

void wg_generate_private(uint8_t out[CRYPTO_DH_LEN],
			     const struct wg_rng *rng)
{
	wg_rng_fill(rng, out, CRYPTO_DH_LEN);
	wg_clamp(out);
}

int wg_public_from_private(uint8_t pub[CRYPTO_DH_LEN],
			       const uint8_t priv[CRYPTO_DH_LEN])
{
	return crypto_scalarmult_base(pub, priv) == 0 ? 0 : -EINVAL;
}

static uint32_t tai64n_nsec_granule(void)
{
	uint32_t limit = 1000000000u / INITIATIONS_PER_SECOND;
	uint32_t g = 1;

	/* The largest power of two not above the initiation interval. */
	while (g <= limit / 2)
		g <<= 1;
	return g;
}

void wg_tai64n(uint8_t out[CRYPTO_TAI64N_LEN], const struct timespec *now)
{
	uint64_t sec = (UINT64_C(1) << 62) + TAI64_EPOCH_OFFSET_LOW +
		       (uint64_t)now->tv_sec;
	uint32_t nsec = (uint32_t)now->tv_nsec & ~(tai64n_nsec_granule() - 1);
	int i;

	for (i = 0; i < 8; i++)
		out[i] = (uint8_t)(sec >> (56 - 8 * i));
	for (i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}

bool wg_equal(const void *a, const void *b, size_t len)
{
	return sodium_memcmp(a, b, len) == 0;
}

bool wg_is_zero(const void *a, size_t len)
{
	return sodium_is_zero(a, len) == 1;
}

void wg_wipe(void *p, size_t len)
{
	sodium_memzero(p, len);
}
