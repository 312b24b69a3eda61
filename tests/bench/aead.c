/* SPDX-License-Identifier: MIT */
/*
 * tests/bench/aead.c: the cost of the transport AEAD (ChaCha20-Poly1305 with
 * WireGuard's 12-byte nonce, no associated data), per packet, for the
 * implementations vpnd could use:
 *
 *   sodium    libsodium's one-shot crypto_aead_chacha20poly1305_ietf_*
 *   evp-key   OpenSSL EVP, one context, key and nonce set for every packet
 *   evp-iv    OpenSSL EVP, key set once, only the nonce set per packet
 *   evp-new   OpenSSL EVP, a context made and freed per packet (what a
 *             naive swap would do)
 *   vpnd      wg_aead_encrypt/decrypt as built into vpnd: crypto.c, which
 *             calls our own chacha20poly1305.c
 *
 * at 1420 and 64 bytes (and 128 to 512, where the two cross), encrypt and
 * decrypt.  A benchmark, not a test: it
 * checks only that every implementation seals to the same bytes and that
 * each one opens what it sealed, and prints ns/packet and GB/s.
 *
 *   make bench-aead            (or build/tests/bench_aead [SECONDS])
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "crypto.h"

enum {
	KEY_LEN = 32,
	TAG_LEN = 16,
	NONCE_LEN = 12,
	MAX_LEN = 1420,
};

typedef void (*seal_fn)(uint8_t *buf, size_t len, uint64_t n,
			const uint8_t *key);
typedef int (*open_fn)(uint8_t *buf, size_t len, uint64_t n,
		       const uint8_t *key);

struct impl {
	const char *name;
	seal_fn seal;
	open_fn open;
};

/* One context per direction for the evp-key and evp-iv variants. */
static EVP_CIPHER_CTX *enc_ctx, *dec_ctx;

static void nonce_of(uint8_t out[NONCE_LEN], uint64_t n)
{
	memset(out, 0, 4);
	for (int i = 0; i < 8; i++)
		out[4 + i] = (uint8_t)(n >> (8 * i));
}

static void sodium_seal(uint8_t *buf, size_t len, uint64_t n,
			const uint8_t *key)
{
	uint8_t iv[NONCE_LEN];

	nonce_of(iv, n);
	crypto_aead_chacha20poly1305_ietf_encrypt(buf, NULL, buf, len, NULL, 0,
						  NULL, iv, key);
}

static int sodium_open(uint8_t *buf, size_t len, uint64_t n,
		       const uint8_t *key)
{
	uint8_t iv[NONCE_LEN];

	nonce_of(iv, n);
	return crypto_aead_chacha20poly1305_ietf_decrypt(buf, NULL, NULL, buf,
							 len + TAG_LEN, NULL, 0,
							 iv, key);
}

static int evp_run(EVP_CIPHER_CTX *c, const uint8_t *key, uint8_t *buf,
		   size_t len, uint64_t n, int enc)
{
	uint8_t iv[NONCE_LEN];
	int outl;

	nonce_of(iv, n);
	if (!EVP_CipherInit_ex(c, NULL, NULL, key, iv, enc))
		return -1;
	if (!enc && !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, TAG_LEN,
					 buf + len))
		return -1;
	if (!EVP_CipherUpdate(c, buf, &outl, buf, (int)len))
		return -1;
	if (!EVP_CipherFinal_ex(c, buf + outl, &outl))
		return -1;
	if (enc && !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, TAG_LEN,
					buf + len))
		return -1;
	return 0;
}

static void evp_key_seal(uint8_t *buf, size_t len, uint64_t n,
			 const uint8_t *key)
{
	evp_run(enc_ctx, key, buf, len, n, 1);
}

static int evp_key_open(uint8_t *buf, size_t len, uint64_t n,
			const uint8_t *key)
{
	return evp_run(dec_ctx, key, buf, len, n, 0);
}

/* The key was set once in main(); only the nonce changes. */
static void evp_iv_seal(uint8_t *buf, size_t len, uint64_t n,
			const uint8_t *key)
{
	(void)key;
	evp_run(enc_ctx, NULL, buf, len, n, 1);
}

static int evp_iv_open(uint8_t *buf, size_t len, uint64_t n,
		       const uint8_t *key)
{
	(void)key;
	return evp_run(dec_ctx, NULL, buf, len, n, 0);
}

static int evp_new_run(uint8_t *buf, size_t len, uint64_t n,
		       const uint8_t *key, int enc)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int ret = -1;

	if (c && EVP_CipherInit_ex(c, EVP_chacha20_poly1305(), NULL, NULL,
				   NULL, enc))
		ret = evp_run(c, key, buf, len, n, enc);
	EVP_CIPHER_CTX_free(c);
	return ret;
}

static void evp_new_seal(uint8_t *buf, size_t len, uint64_t n,
			 const uint8_t *key)
{
	evp_new_run(buf, len, n, key, 1);
}

static int evp_new_open(uint8_t *buf, size_t len, uint64_t n,
			const uint8_t *key)
{
	return evp_new_run(buf, len, n, key, 0);
}

static void vpnd_seal(uint8_t *buf, size_t len, uint64_t n,
		      const uint8_t *key)
{
	wg_aead_encrypt(buf, buf, len, NULL, 0, n, key);
}

static int vpnd_open(uint8_t *buf, size_t len, uint64_t n,
		     const uint8_t *key)
{
	return wg_aead_decrypt(buf, buf, len + TAG_LEN, NULL, 0, n, key) ?
		       0 : -1;
}

static const struct impl impls[] = {
	{ "sodium", sodium_seal, sodium_open },
	{ "evp-key", evp_key_seal, evp_key_open },
	{ "evp-iv", evp_iv_seal, evp_iv_open },
	{ "evp-new", evp_new_seal, evp_new_open },
	{ "vpnd", vpnd_seal, vpnd_open },
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Nanoseconds per packet to seal `count` packets of len bytes. */
static double time_seal(const struct impl *im, const uint8_t *key,
			uint8_t *buf, size_t len, uint64_t count)
{
	double t0 = now_s();

	for (uint64_t i = 0; i < count; i++)
		im->seal(buf, len, i, key);
	return (now_s() - t0) * 1e9 / (double)count;
}

/* The same to open `count` copies of one sealed packet; < 0 on failure. */
static double time_open(const struct impl *im, const uint8_t *key,
			uint8_t *buf, const uint8_t *sealed, size_t len,
			uint64_t count)
{
	double t0 = now_s();

	for (uint64_t i = 0; i < count; i++) {
		memcpy(buf, sealed, len + TAG_LEN);
		if (im->open(buf, len, 7, key) != 0)
			return -1;
	}
	return (now_s() - t0) * 1e9 / (double)count;
}

/*
 * Best of ROUNDS runs of about `seconds` each way: the machine is shared,
 * and the fastest run is the one least disturbed.
 */
static int bench(const struct impl *im, const uint8_t *key, size_t len,
		 double seconds)
{
	enum { ROUNDS = 3 };
	static uint8_t buf[MAX_LEN + TAG_LEN], sealed[MAX_LEN + TAG_LEN];
	double enc = 1e18, dec = 1e18, t;
	uint64_t count;
	int r;

	memset(buf, 0xa5, sizeof(buf));
	count = (uint64_t)(seconds * 1e9 / ROUNDS /
			   time_seal(im, key, buf, len, 1000)) + 1;
	memset(sealed, 0x5a, len);
	im->seal(sealed, len, 7, key);
	for (r = 0; r < ROUNDS; r++) {
		t = time_seal(im, key, buf, len, count);
		enc = t < enc ? t : enc;
		t = time_open(im, key, buf, sealed, len, count);
		if (t < 0) {
			fprintf(stderr, "aead: %s failed to open its own packet\n",
				im->name);
			return -1;
		}
		dec = t < dec ? t : dec;
	}
	printf("%-8s %5zu  %9.1f %7.2f   %9.1f %7.2f\n", im->name, len, enc,
	       (double)len / enc, dec, (double)len / dec);
	return 0;
}

/* Every implementation must produce the same ciphertext and tag. */
static int cross_check(const uint8_t *key)
{
	uint8_t ref[MAX_LEN + TAG_LEN], out[MAX_LEN + TAG_LEN];
	size_t i;

	memset(ref, 0x3c, MAX_LEN);
	impls[0].seal(ref, MAX_LEN, 42, key);
	for (i = 1; i < sizeof(impls) / sizeof(impls[0]); i++) {
		memset(out, 0x3c, MAX_LEN);
		impls[i].seal(out, MAX_LEN, 42, key);
		if (memcmp(ref, out, sizeof(ref)) != 0) {
			fprintf(stderr, "aead: %s disagrees with %s\n",
				impls[i].name, impls[0].name);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const size_t usual[] = { 1420, 64, 128, 256, 512 };
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	size_t lens[16], nlens = 0, i, j;
	uint8_t key[KEY_LEN];

	/* Lengths after the seconds replace the usual ones. */
	for (i = 2; i < (size_t)argc && nlens < 16; i++) {
		lens[nlens] = strtoul(argv[i], NULL, 10);
		if (!lens[nlens] || lens[nlens] > MAX_LEN) {
			fprintf(stderr, "aead: length '%s' not in 1..%d\n",
				argv[i], MAX_LEN);
			return 2;
		}
		nlens++;
	}
	if (!nlens)
		for (nlens = 0; nlens < sizeof(usual) / sizeof(usual[0]); nlens++)
			lens[nlens] = usual[nlens];

	if (wg_init() < 0)
		return 1;
	randombytes_buf(key, sizeof(key));
	enc_ctx = EVP_CIPHER_CTX_new();
	dec_ctx = EVP_CIPHER_CTX_new();
	if (!enc_ctx || !dec_ctx ||
	    !EVP_EncryptInit_ex(enc_ctx, EVP_chacha20_poly1305(), NULL, key,
				NULL) ||
	    !EVP_DecryptInit_ex(dec_ctx, EVP_chacha20_poly1305(), NULL, key,
				NULL))
		return 1;
	if (cross_check(key) < 0)
		return 1;

	printf("%s, best of 3 in %.1f s per figure\n", OpenSSL_version(OPENSSL_VERSION),
	       seconds);
	printf("impl       len  enc ns/pkt    GB/s  dec ns/pkt    GB/s\n");
	for (j = 0; j < nlens; j++)
		for (i = 0; i < sizeof(impls) / sizeof(impls[0]); i++)
			if (bench(&impls[i], key, lens[j], seconds) < 0)
				return 1;
	EVP_CIPHER_CTX_free(enc_ctx);
	EVP_CIPHER_CTX_free(dec_ctx);
	sodium_memzero(key, sizeof(key));
	return 0;
}
