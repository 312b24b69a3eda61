/* SPDX-License-Identifier: MIT */
/*
 * The primitives WireGuard is built from, behind names that say what the
 * protocol uses them for: BLAKE2s (libb2) as HASH and keyed MAC, HMAC and
 * the HKDF built on it, ChaCha20-Poly1305 (chacha20poly1305.c, our own),
 * XChaCha20-Poly1305 and X25519 (libsodium), TAI64N timestamps, and the
 * source of randomness.
 */
#ifndef VPND_CRYPTO_H
#define VPND_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <vpn/messages.h>

enum crypto_lengths {
	CRYPTO_HASH_LEN = 32,
	CRYPTO_MAC_LEN = 16,
	CRYPTO_BLAKE2S_BLOCK_LEN = 64,
	CRYPTO_AEAD_KEY_LEN = 32,
	CRYPTO_AEAD_TAG_LEN = 16,
	CRYPTO_XAEAD_NONCE_LEN = 24,
	CRYPTO_DH_LEN = 32,
	CRYPTO_TAI64N_LEN = 12,
};

/*
 * Where randomness comes from.  The daemon passes NULL, which means the
 * kernel's generator through libsodium; tests pass a generator of their own
 * so that handshakes and indices are reproducible byte for byte.
 */
struct wg_rng {
	void (*fill)(void *ctx, void *buf, size_t len);
	void *ctx;
};

void wg_rng_fill(const struct wg_rng *rng, void *buf, size_t len);
uint32_t wg_rng_u32(const struct wg_rng *rng);

/* Must be called once before anything else here; returns 0 or -errno. */
int wg_init(void);

/* HASH: unkeyed BLAKE2s-256, of one input or of two concatenated. */
void wg_hash(uint8_t out[CRYPTO_HASH_LEN], const void *in, size_t len);
void wg_hash2(uint8_t out[CRYPTO_HASH_LEN], const void *a, size_t alen,
		  const void *b, size_t blen);

/* MAC: BLAKE2s-128 in its keyed mode (key of 1 to 32 bytes). */
void wg_mac(uint8_t out[CRYPTO_MAC_LEN], const uint8_t *key,
		size_t keylen, const void *in, size_t len);

/* HMAC-BLAKE2s-256, RFC 2104 with BLAKE2s's 64-byte block. */
void wg_hmac(uint8_t out[CRYPTO_HASH_LEN], const uint8_t *key,
		 size_t keylen, const void *in, size_t len);

/*
 * WireGuard's KDF1/KDF2/KDF3 in one: derives t1, t2, t3 from chaining key
 * ck and input; pass NULL for the outputs not wanted (KDFn sets the first n).
 * Any output may alias ck.
 */
void wg_kdf(uint8_t t1[CRYPTO_HASH_LEN], uint8_t t2[CRYPTO_HASH_LEN],
		uint8_t t3[CRYPTO_HASH_LEN], const uint8_t ck[CRYPTO_HASH_LEN],
		const void *in, size_t len);

/*
 * ChaCha20-Poly1305 with WireGuard's nonce: four zero bytes and the 64-bit
 * little-endian counter.  dst holds len + CRYPTO_AEAD_TAG_LEN bytes on
 * encryption; decryption returns false, and leaves dst wiped, when the tag
 * does not verify.  dst may equal src.
 */
void wg_aead_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
			 const uint8_t *ad, size_t adlen, uint64_t nonce,
			 const uint8_t key[CRYPTO_AEAD_KEY_LEN]);
bool wg_aead_decrypt(uint8_t *dst, const uint8_t *src, size_t len,
			 const uint8_t *ad, size_t adlen, uint64_t nonce,
			 const uint8_t key[CRYPTO_AEAD_KEY_LEN]);
/* XChaCha20-Poly1305 with a 24-byte nonce, for cookie replies. */
void wg_xaead_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
			  const uint8_t *ad, size_t adlen,
			  const uint8_t nonce[CRYPTO_XAEAD_NONCE_LEN],
			  const uint8_t key[CRYPTO_AEAD_KEY_LEN]);
bool wg_xaead_decrypt(uint8_t *dst, const uint8_t *src, size_t len,
			  const uint8_t *ad, size_t adlen,
			  const uint8_t nonce[CRYPTO_XAEAD_NONCE_LEN],
			  const uint8_t key[CRYPTO_AEAD_KEY_LEN]);

/*
 * X25519.  wg_dh() fails with -EINVAL when the shared secret is all
 * zero, which is what a low-order or all-zero public key produces: such a
 * key must never lead to a session.
 */
int wg_dh(uint8_t out[CRYPTO_DH_LEN], const uint8_t priv[CRYPTO_DH_LEN],
	      const uint8_t pub[CRYPTO_DH_LEN]);
void wg_clamp(uint8_t key[CRYPTO_DH_LEN]);
void wg_generate_private(uint8_t out[CRYPTO_DH_LEN],
			     const struct wg_rng *rng);
int wg_public_from_private(uint8_t pub[CRYPTO_DH_LEN],
			       const uint8_t priv[CRYPTO_DH_LEN]);

/*
 * TAI64N of a wall-clock time.  The nanoseconds are rounded down to a power
 * of two no finer than the initiation rate limit, so that the timestamp in
 * an initiation does not hand out the fine grain of our clock.
 */
void wg_tai64n(uint8_t out[CRYPTO_TAI64N_LEN], const struct timespec *now);

/* Constant-time comparison and wiping, for everything secret. */
bool wg_equal(const void *a, const void *b, size_t len);
bool wg_is_zero(const void *a, size_t len);
void wg_wipe(void *p, size_t len);

#endif /* VPND_CRYPTO_H */
