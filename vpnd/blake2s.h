/* SPDX-License-Identifier: MIT */
/*
 * BLAKE2s (RFC 7693), the hash, MAC and KDF core of WireGuard: 32-bit
 * words, 64-byte blocks, digests of 1 to 32 bytes, keys of up to 32.
 *
 * Our own, not libb2's: the handshake hashes a few hundred bytes at a
 * time, where a plain implementation is as fast, and libb2 brings
 * OpenMP's runtime into the daemon for its tree modes, which we never use.
 */
#ifndef VPND_BLAKE2S_H
#define VPND_BLAKE2S_H

#include <stddef.h>
#include <stdint.h>

enum blake2s_lengths {
	BLAKE2S_BLOCK_LEN = 64,
	BLAKE2S_OUT_MAX = 32,
	BLAKE2S_KEY_MAX = 32,
};

struct blake2s_state {
	uint32_t h[8];
	uint32_t t[2];			/* bytes compressed so far */
	uint8_t buf[BLAKE2S_BLOCK_LEN];	/* the block not yet compressed */
	size_t buflen;
	size_t outlen;
};

/* outlen in 1..32 and keylen in 0..32 (key may be NULL when 0); anything
 * else is a programming error and aborts. */
void blake2s_init_key(struct blake2s_state *s, size_t outlen,
		      const void *key, size_t keylen);
void blake2s_init(struct blake2s_state *s, size_t outlen);
void blake2s_update(struct blake2s_state *s, const void *in, size_t len);
/* Writes s->outlen bytes and wipes the state. */
void blake2s_final(struct blake2s_state *s, uint8_t *out);
void blake2s(uint8_t *out, size_t outlen, const void *in, size_t len,
	     const void *key, size_t keylen);

#endif /* VPND_BLAKE2S_H */
