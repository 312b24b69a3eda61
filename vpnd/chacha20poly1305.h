/* SPDX-License-Identifier: MIT */
/*
 * ChaCha20-Poly1305 (RFC 8439) with WireGuard's nonce: four zero bytes and
 * the 64-bit little-endian counter.  Our own, because it is the hot loop of
 * the data path: see chacha20poly1305.c for why, and crypto.h for the
 * wrappers the rest of vpnd calls.
 */
#ifndef VPND_CHACHA20POLY1305_H
#define VPND_CHACHA20POLY1305_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum chacha20poly1305_lengths {
	CHACHA20POLY1305_KEY_LEN = 32,
	CHACHA20POLY1305_TAG_LEN = 16,
};

/*
 * Seals len bytes of src into dst, followed by the tag: dst holds len +
 * CHACHA20POLY1305_TAG_LEN bytes.  dst may equal src.
 */
void chacha20poly1305_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
			      const uint8_t *ad, size_t adlen, uint64_t nonce,
			      const uint8_t key[CHACHA20POLY1305_KEY_LEN]);

/*
 * Opens len bytes of src (ciphertext and tag) into dst, len -
 * CHACHA20POLY1305_TAG_LEN bytes.  The tag is checked before a byte is
 * decrypted; when it does not verify the result is false and dst is
 * wiped.  A len shorter than a tag is false, and dst is not touched.  dst
 * may equal src.
 */
bool chacha20poly1305_decrypt(uint8_t *dst, const uint8_t *src, size_t len,
			      const uint8_t *ad, size_t adlen, uint64_t nonce,
			      const uint8_t key[CHACHA20POLY1305_KEY_LEN]);

#endif
