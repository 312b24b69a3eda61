/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes our ChaCha20-Poly1305, vpnd/chacha20poly1305.c, against
 * libsodium's, an independent implementation.  The input is a key (32
 * bytes), a nonce (8), a byte choosing how much of the rest is associated
 * data, and the rest; so the fuzzer picks every length, every split
 * between the two and every byte pattern, the carries of Poly1305 and the
 * tails of the ChaCha20 batches included.
 *
 * Properties, for any input:
 *  - sealing gives libsodium's bytes, in place as well;
 *  - opening gives the plaintext back, in place as well;
 *  - a sealed packet with one bit flipped (the bit chosen by the input) is
 *    refused, and the output is left all zero.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "chacha20poly1305.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	HEAD_LEN = 32 + 8 + 1,
	MAX_MSG = 4096,
};

#define FAIL(...)                                            \
	do {                                                 \
		fprintf(stderr, "fuzz_aead: " __VA_ARGS__);  \
		fputc('\n', stderr);                         \
		abort();                                     \
	} while (0)

static uint64_t nonce_of(const uint8_t *p)
{
	uint64_t n = 0;

	for (int i = 0; i < 8; i++)
		n |= (uint64_t)p[i] << (8 * i);
	return n;
}

static void check(const uint8_t *key, uint64_t nonce, const uint8_t *ad,
		  size_t adlen, const uint8_t *msg, size_t len)
{
	static uint8_t want[MAX_MSG + 16], got[MAX_MSG + 16];
	uint8_t n[12] = { 0 };
	size_t bit;

	for (int i = 0; i < 8; i++)
		n[4 + i] = (uint8_t)(nonce >> (8 * i));
	crypto_aead_chacha20poly1305_ietf_encrypt(want, NULL, msg, len, ad,
						  adlen, NULL, n, key);
	chacha20poly1305_encrypt(got, msg, len, ad, adlen, nonce, key);
	if (memcmp(got, want, len + 16))
		FAIL("seal differs from libsodium (len %zu, ad %zu)", len, adlen);
	if (len)
		memcpy(got, msg, len);
	chacha20poly1305_encrypt(got, got, len, ad, adlen, nonce, key);
	if (memcmp(got, want, len + 16))
		FAIL("in-place seal differs (len %zu, ad %zu)", len, adlen);

	if (!chacha20poly1305_decrypt(got, want, len + 16, ad, adlen, nonce,
				      key) || (len && memcmp(got, msg, len)))
		FAIL("open failed (len %zu, ad %zu)", len, adlen);
	memcpy(got, want, len + 16);
	if (!chacha20poly1305_decrypt(got, got, len + 16, ad, adlen, nonce,
				      key) || (len && memcmp(got, msg, len)))
		FAIL("in-place open failed (len %zu, ad %zu)", len, adlen);

	/* One bit flipped, anywhere in ciphertext or tag. */
	bit = (nonce ^ (nonce >> 32)) % ((len + 16) * 8);
	memcpy(got, want, len + 16);
	got[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	if (chacha20poly1305_decrypt(got, got, len + 16, ad, adlen, nonce, key))
		FAIL("a flipped bit %zu was accepted (len %zu)", bit, len);
	for (size_t i = 0; i < len; i++)
		if (got[i])
			FAIL("a refused packet left byte %zu behind", i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t rest, adlen;

	if (size < HEAD_LEN || sodium_init() < 0)
		return 0;
	rest = size - HEAD_LEN;
	adlen = data[40] % 65;
	if (adlen > rest)
		adlen = rest;
	if (rest - adlen > MAX_MSG)
		return 0;
	/* No associated data comes as NULL, as the transport passes it, and
	 * no message as NULL, as the handshake seals its empty payloads. */
	check(data, nonce_of(data + 32), adlen ? data + HEAD_LEN : NULL, adlen,
	      rest > adlen ? data + HEAD_LEN + adlen : NULL, rest - adlen);
	return 0;
}
