/* SPDX-License-Identifier: MIT */
/*
 * The cryptographic primitives of WireGuard, wrapped once so that the rest of
 * vpnd never calls BLAKE2s, libsodium or OpenSSL directly.  Everything that holds a key
 * on the stack here is wiped before returning.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include "blake2s.h"
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
	/*
	 * OpenSSL set up now, so that its exit handler is registered before
	 * the AEAD cache's and so runs after it.  Its defaults (the system's
	 * openssl.cnf) are those libcurl already loads in this process.
	 */
	if (!OPENSSL_init_crypto(0, NULL))
		return -EIO;
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

static void aead_nonce(uint8_t nonce[12], uint64_t counter)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

/*
 * The transport data AEAD goes through OpenSSL's EVP, whose ChaCha20 and
 * Poly1305 are about 1.5 times as fast as libsodium's at a full packet on
 * the machines we measured (tests/bench/aead.c); libsodium stays for the
 * handshake and for short packets, where EVP's per-call overhead makes it
 * the slower of the two.  Both produce the same bytes.
 *
 * What makes EVP costly is setting up a context, so each thread keeps one
 * context per direction and re-keys it only when the key changes: the API
 * stays stateless (a key in, a packet out) and no two threads ever share a
 * context, which OpenSSL does not allow.  This per-thread cache is the one
 * piece of mutable state outside the device structure: it belongs to the
 * thread that does the crypto, not to the device, and making it part of
 * the device would force a lock or a context per keypair per thread.
 *
 * Secrets: the context holds the key schedule on OpenSSL's heap, and the
 * cache holds a copy of the key (in sodium_malloc memory: locked, guarded)
 * to tell whether the next packet needs a new key.  The keypair's keys
 * themselves live on the ordinary heap (peer.c), and the server role locks
 * all of its memory and is not dumpable (main.c), so OpenSSL's heap is no
 * weaker a place for them.  What must not happen is a key outliving its
 * keypair: keypair_drop() calls wg_aead_forget() for both keys, which frees
 * (and so cleanses) the context holding one and wipes the copy; a thread's
 * cache is freed at its exit, the main thread's at exit().  A thread other
 * than the one that drops keypairs forgets a key only when it uses another,
 * or when it calls wg_aead_thread_wipe() (a worker that goes idle should).
 */
enum {
	AEAD_EVP_MIN_LEN = 512,	/* below it libsodium is as fast or faster */
	AEAD_DECRYPT = 0,
	AEAD_ENCRYPT = 1,
};

struct aead_slot {
	EVP_CIPHER_CTX *ctx;
	bool keyed;		/* key[] is the key ctx holds */
};

struct aead_cache {
	struct aead_slot slot[2];	/* by AEAD_DECRYPT / AEAD_ENCRYPT */
	uint8_t (*keys)[CRYPTO_AEAD_KEY_LEN];	/* sodium_malloc, 2 keys */
	bool ready;
};

static _Thread_local struct aead_cache aead_cache;
static pthread_key_t aead_exit_key;
static pthread_once_t aead_once = PTHREAD_ONCE_INIT;

static void aead_slot_free(struct aead_cache *c, int dir)
{
	/* EVP_CIPHER_CTX_free cleanses the context before freeing it. */
	EVP_CIPHER_CTX_free(c->slot[dir].ctx);
	c->slot[dir].ctx = NULL;
	c->slot[dir].keyed = false;
	if (c->keys)
		sodium_memzero(c->keys[dir], CRYPTO_AEAD_KEY_LEN);
}

/* A context with the cipher chosen and no key yet; false on failure. */
static bool aead_slot_make(struct aead_cache *c, int dir)
{
	c->slot[dir].ctx = EVP_CIPHER_CTX_new();
	c->slot[dir].keyed = false;
	return c->slot[dir].ctx &&
	       EVP_CipherInit_ex(c->slot[dir].ctx, EVP_chacha20_poly1305(),
				 NULL, NULL, NULL, dir);
}

static void aead_cache_free(struct aead_cache *c)
{
	aead_slot_free(c, AEAD_DECRYPT);
	aead_slot_free(c, AEAD_ENCRYPT);
	sodium_free(c->keys);
	c->keys = NULL;
	c->ready = false;
}

static void aead_thread_exit(void *cache)
{
	aead_cache_free(cache);
}

static void aead_process_exit(void)
{
	aead_cache_free(&aead_cache);
}

static void aead_once_init(void)
{
	/* Without the key, a thread's cache is freed only by
	 * wg_aead_thread_wipe(); the fallback keeps everything correct. */
	if (pthread_key_create(&aead_exit_key, aead_thread_exit))
		aead_exit_key = (pthread_key_t)-1;
	atexit(aead_process_exit);
}

/*
 * Sets the cache of this thread up at its first transport packet: one
 * allocation per thread, never again per packet.  False leaves the thread
 * on libsodium.
 */
static bool aead_cache_ready(struct aead_cache *c)
{
	if (c->ready)
		return true;
	pthread_once(&aead_once, aead_once_init);
	c->keys = sodium_malloc(2 * CRYPTO_AEAD_KEY_LEN);
	if (!c->keys || !aead_slot_make(c, AEAD_DECRYPT) ||
	    !aead_slot_make(c, AEAD_ENCRYPT)) {
		aead_cache_free(c);
		return false;
	}
	if (aead_exit_key != (pthread_key_t)-1)
		pthread_setspecific(aead_exit_key, c);
	c->ready = true;
	return true;
}

/*
 * Whether two keys are the same, in constant time like sodium_memcmp() but
 * a word at a time: at one call per packet, sodium_memcmp()'s byte loop
 * cost 3 % of the daemon's time under load.
 */
static bool aead_key_same(const uint8_t *a, const uint8_t *b)
{
	uint64_t x, y, diff = 0;

	for (size_t i = 0; i < CRYPTO_AEAD_KEY_LEN; i += sizeof(x)) {
		memcpy(&x, a + i, sizeof(x));
		memcpy(&y, b + i, sizeof(y));
		diff |= x ^ y;
	}
	return diff == 0;
}

/* The context of this direction with this key and nonce set, or NULL. */
static EVP_CIPHER_CTX *aead_ctx(int dir, const uint8_t *key, uint64_t nonce)
{
	struct aead_cache *c = &aead_cache;
	struct aead_slot *s = &c->slot[dir];
	uint8_t n[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
	const uint8_t *newkey = NULL;

	if (!aead_cache_ready(c))
		return NULL;
	if (!s->keyed || !aead_key_same(c->keys[dir], key)) {
		/* Re-keying in place overwrites the old key's schedule. */
		memcpy(c->keys[dir], key, CRYPTO_AEAD_KEY_LEN);
		newkey = key;
		s->keyed = false;
	}
	aead_nonce(n, nonce);
	if (!EVP_CipherInit_ex(s->ctx, NULL, NULL, newkey, n, dir)) {
		sodium_memzero(c->keys[dir], CRYPTO_AEAD_KEY_LEN);
		return NULL;
	}
	s->keyed = true;
	return s->ctx;
}

/*
 * Gets or sets the tag through the context's parameters directly: the
 * EVP_CIPHER_CTX_ctrl() that would do the same translates to these at
 * every call, which showed in the profile.
 */
static bool aead_tag(EVP_CIPHER_CTX *ctx, uint8_t *tag, bool set)
{
	OSSL_PARAM p[2] = {
		OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag,
					CRYPTO_AEAD_TAG_LEN),
		OSSL_PARAM_END,
	};

	return set ? EVP_CIPHER_CTX_set_params(ctx, p) :
		     EVP_CIPHER_CTX_get_params(ctx, p);
}

static bool aead_use_evp(size_t len, size_t adlen)
{
	/* Transport data carries no associated data; the handshake does. */
	return adlen == 0 && len >= AEAD_EVP_MIN_LEN && len <= INT_MAX / 2;
}

/*
 * EVP, for a transport packet.  False when the context could not be set
 * up, before anything was written: the caller then uses libsodium.
 */
static bool aead_evp_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
			     uint64_t nonce, const uint8_t *key)
{
	EVP_CIPHER_CTX *ctx = aead_ctx(AEAD_ENCRYPT, key, nonce);
	int n, m;

	if (!ctx)
		return false;
	/*
	 * Once the nonce is set these steps cannot fail for an in-range
	 * length; if one did, the packet would go out wiped and the peer
	 * would drop it: lost, never leaked.
	 */
	if (!EVP_EncryptUpdate(ctx, dst, &n, src, (int)len) ||
	    !EVP_EncryptFinal_ex(ctx, dst + n, &m) ||
	    !aead_tag(ctx, dst + len, false))
		sodium_memzero(dst, len + CRYPTO_AEAD_TAG_LEN);
	return true;
}

/* As aead_evp_encrypt(); *ok says whether the tag verified. */
static bool aead_evp_decrypt(uint8_t *dst, const uint8_t *src, size_t len,
			     uint64_t nonce, const uint8_t *key, bool *ok)
{
	EVP_CIPHER_CTX *ctx = aead_ctx(AEAD_DECRYPT, key, nonce);
	size_t plen = len - CRYPTO_AEAD_TAG_LEN;
	int n, m;

	if (!ctx)
		return false;
	/* The tag first: src may be dst, and decrypting overwrites it. */
	*ok = aead_tag(ctx, (uint8_t *)(src + plen), true) &&
	      EVP_DecryptUpdate(ctx, dst, &n, src, (int)plen) &&
	      EVP_DecryptFinal_ex(ctx, dst + n, &m);
	/* EVP decrypts before it verifies: unverified bytes must not stay. */
	if (!*ok)
		sodium_memzero(dst, plen);
	return true;
}

void wg_aead_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
			 const uint8_t *ad, size_t adlen, uint64_t nonce,
			 const uint8_t key[CRYPTO_AEAD_KEY_LEN])
{
	uint8_t n[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];

	if (aead_use_evp(len, adlen) &&
	    aead_evp_encrypt(dst, src, len, nonce, key))
		return;
	aead_nonce(n, nonce);
	crypto_aead_chacha20poly1305_ietf_encrypt(dst, NULL, src, len, ad,
						  adlen, NULL, n, key);
}

bool wg_aead_decrypt(uint8_t *dst, const uint8_t *src, size_t len,
			 const uint8_t *ad, size_t adlen, uint64_t nonce,
			 const uint8_t key[CRYPTO_AEAD_KEY_LEN])
{
	uint8_t n[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
	bool ok;

	if (len < CRYPTO_AEAD_TAG_LEN)
		return false;
	if (aead_use_evp(len - CRYPTO_AEAD_TAG_LEN, adlen) &&
	    aead_evp_decrypt(dst, src, len, nonce, key, &ok))
		return ok;
	aead_nonce(n, nonce);
	return crypto_aead_chacha20poly1305_ietf_decrypt(dst, NULL, NULL, src,
							 len, ad, adlen, n,
							 key) == 0;
}

void wg_aead_forget(const uint8_t key[CRYPTO_AEAD_KEY_LEN])
{
	struct aead_cache *c = &aead_cache;
	int dir;

	if (!c->ready)
		return;
	for (dir = AEAD_DECRYPT; dir <= AEAD_ENCRYPT; dir++) {
		if (!c->slot[dir].keyed || !aead_key_same(c->keys[dir], key))
			continue;
		/* A fresh context now, so the next packet allocates nothing. */
		aead_slot_free(c, dir);
		if (!aead_slot_make(c, dir)) {
			aead_cache_free(c);
			return;
		}
	}
}

void wg_aead_thread_wipe(void)
{
	aead_cache_free(&aead_cache);
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
