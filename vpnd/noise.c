/* SPDX-License-Identifier: MIT */
/*
 * The WireGuard handshake: Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s with the
 * WireGuard identifier and a TAI64N timestamp as the initiation's payload.
 *
 * Every step works on copies of the chaining key and hash on its own stack
 * and writes them into the peer's state only once the whole message has
 * been produced or verified, so a bad message changes nothing.  The copies,
 * and every intermediate key, are wiped at the single exit of each step.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <vpn/le.h>

#include "noise.h"

/*
 * HASH(NOISE_CONSTRUCTION) and HASH(that || NOISE_IDENTIFIER), the starting chaining key
 * and hash of every handshake.  They are constants, so they are written out
 * here instead of being computed into global state at start-up; the unit
 * test recomputes them from the two strings in noise.h.
 */
static const uint8_t noise_initial_chaining_key[NOISE_HASH_LEN] = {
	0x60, 0xe2, 0x6d, 0xae, 0xf3, 0x27, 0xef, 0xc0, 0x2e, 0xc3, 0x35,
	0xe2, 0xa0, 0x25, 0xd2, 0xd0, 0x16, 0xeb, 0x42, 0x06, 0xf8, 0x72,
	0x77, 0xf5, 0x2d, 0x38, 0xd1, 0x98, 0x8b, 0x78, 0xcd, 0x36
};
static const uint8_t noise_initial_hash[NOISE_HASH_LEN] = {
	0x22, 0x11, 0xb3, 0x61, 0x08, 0x1a, 0xc5, 0x66, 0x69, 0x12, 0x43,
	0xdb, 0x45, 0x8a, 0xd5, 0x32, 0x2d, 0x9c, 0x6c, 0x66, 0x22, 0x93,
	0xe8, 0xb7, 0x0e, 0xe1, 0x9c, 0x65, 0xba, 0x07, 0x9e, 0xf3
};

enum {
	/* The initiation flood limit, in nanoseconds between two accepted. */
	NOISE_INITIATION_MIN_INTERVAL = 1000000000 / INITIATIONS_PER_SECOND,
};

/* H = HASH(H || data) */
static void mix_hash(uint8_t hash[NOISE_HASH_LEN], const void *data,
		     size_t len)
{
	wg_hash2(hash, hash, NOISE_HASH_LEN, data, len);
}

/* C = KDF1(C, data) */
static void mix_key(uint8_t ck[NOISE_HASH_LEN], const void *data, size_t len)
{
	wg_kdf(ck, NULL, NULL, ck, data, len);
}

/* (C, k) = KDF2(C, DH(priv, pub)); fails on an all-zero shared secret. */
static int mix_dh(uint8_t ck[NOISE_HASH_LEN], uint8_t key[NOISE_HASH_LEN],
		  const uint8_t priv[NOISE_PUBLIC_KEY_LEN],
		  const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	uint8_t shared[NOISE_PUBLIC_KEY_LEN];
	int ret;

	ret = wg_dh(shared, priv, pub);
	if (!ret)
		wg_kdf(ck, key, NULL, ck, shared, sizeof(shared));
	wg_wipe(shared, sizeof(shared));
	return ret;
}

/* (C, k) = KDF2(C, precomputed static-static DH) */
static void mix_precomputed_dh(uint8_t ck[NOISE_HASH_LEN],
			       uint8_t key[NOISE_HASH_LEN],
			       const uint8_t shared[NOISE_PUBLIC_KEY_LEN])
{
	wg_kdf(ck, key, NULL, ck, shared, NOISE_PUBLIC_KEY_LEN);
}

/* (C, tau, k) = KDF3(C, psk); H = HASH(H || tau) */
static void mix_psk(uint8_t ck[NOISE_HASH_LEN], uint8_t hash[NOISE_HASH_LEN],
		    uint8_t key[NOISE_HASH_LEN],
		    const uint8_t psk[NOISE_SYMMETRIC_KEY_LEN])
{
	uint8_t tau[NOISE_HASH_LEN];

	wg_kdf(ck, tau, key, ck, psk, NOISE_SYMMETRIC_KEY_LEN);
	mix_hash(hash, tau, sizeof(tau));
	wg_wipe(tau, sizeof(tau));
}

/* c = AEAD(k, 0, p, H); H = HASH(H || c) */
static void encrypt_and_hash(uint8_t *dst, const uint8_t *src, size_t len,
			     const uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
			     uint8_t hash[NOISE_HASH_LEN])
{
	wg_aead_encrypt(dst, src, len, hash, NOISE_HASH_LEN, 0, key);
	mix_hash(hash, dst, len + NOISE_AUTHTAG_LEN);
}

static bool decrypt_and_hash(uint8_t *dst, const uint8_t *src, size_t len,
			     const uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
			     uint8_t hash[NOISE_HASH_LEN])
{
	if (!wg_aead_decrypt(dst, src, len + NOISE_AUTHTAG_LEN, hash,
				 NOISE_HASH_LEN, 0, key))
		return false;
	mix_hash(hash, src, len + NOISE_AUTHTAG_LEN);
	return true;
}

/* The start of every handshake: C0, H0, then H = HASH(H0 || responder). */
static void handshake_init(uint8_t ck[NOISE_HASH_LEN],
			   uint8_t hash[NOISE_HASH_LEN],
			   const uint8_t responder_public[NOISE_PUBLIC_KEY_LEN])
{
	memcpy(ck, noise_initial_chaining_key, NOISE_HASH_LEN);
	memcpy(hash, noise_initial_hash, NOISE_HASH_LEN);
	mix_hash(hash, responder_public, NOISE_PUBLIC_KEY_LEN);
}

/* An ephemeral key pair; e is also mixed into C and H (C = KDF1(C, e)). */
static int ephemeral_generate(const struct noise_ctx *ctx,
			      uint8_t priv[NOISE_PUBLIC_KEY_LEN],
			      uint8_t pub[NOISE_PUBLIC_KEY_LEN],
			      uint8_t ck[NOISE_HASH_LEN],
			      uint8_t hash[NOISE_HASH_LEN])
{
	wg_generate_private(priv, ctx->rng);
	if (wg_public_from_private(pub, priv))
		return -EINVAL;
	mix_key(ck, pub, NOISE_PUBLIC_KEY_LEN);
	mix_hash(hash, pub, NOISE_PUBLIC_KEY_LEN);
	return 0;
}

static bool message_header_is(const uint8_t *msg, size_t len,
			      enum message_type type, size_t want)
{
	/* The type is a little-endian word whose upper three bytes are zero. */
	return len == want && get_le32(msg) == (uint32_t)type;
}

int noise_local_set_private(struct noise_ctx *ctx,
			    const uint8_t private_key[NOISE_PUBLIC_KEY_LEN])
{
	struct noise_local *l = &ctx->local;
	uint8_t priv[NOISE_PUBLIC_KEY_LEN];
	uint8_t pub[NOISE_PUBLIC_KEY_LEN];
	int ret = 0;

	memcpy(priv, private_key, sizeof(priv));
	wg_clamp(priv);
	if (wg_is_zero(private_key, NOISE_PUBLIC_KEY_LEN)) {
		/* wg(8) sets an all-zero key to mean "no private key". */
		noise_local_clear(ctx);
		goto out;
	}
	ret = wg_public_from_private(pub, priv);
	if (ret)
		goto out;
	memcpy(l->static_private, priv, sizeof(priv));
	memcpy(l->static_public, pub, sizeof(pub));
	l->has_identity = true;
out:
	wg_wipe(priv, sizeof(priv));
	return ret;
}

void noise_local_clear(struct noise_ctx *ctx)
{
	wg_wipe(&ctx->local, sizeof(ctx->local));
}

void noise_remote_precompute(struct noise_remote *r,
			     const struct noise_ctx *ctx)
{
	(void)ctx;
	r->static_static_known = false;
	r->static_static_valid = false;
	wg_wipe(r->static_static, sizeof(r->static_static));
}

/*
 * The static-static DH with our current identity, done once per key change.
 * An initiation reaches this only with a valid MAC1 and after decrypting a
 * configured peer's key, so a flood costs at most one DH per configured peer.
 */
bool noise_remote_static_static(const struct noise_ctx *ctx,
				struct noise_remote *r)
{
	if (r->static_static_known)
		return r->static_static_valid;
	r->static_static_valid =
		ctx->local.has_identity &&
		wg_dh(r->static_static, ctx->local.static_private,
			  r->public_key) == 0;
	if (!r->static_static_valid)
		wg_wipe(r->static_static, sizeof(r->static_static));
	r->static_static_known = true;
	return r->static_static_valid;
}

void noise_remote_init(struct noise_remote *r, const struct noise_ctx *ctx,
		       const uint8_t public_key[NOISE_PUBLIC_KEY_LEN],
		       const uint8_t psk[NOISE_SYMMETRIC_KEY_LEN], void *owner)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->public_key, public_key, NOISE_PUBLIC_KEY_LEN);
	if (psk)
		memcpy(r->preshared_key, psk, NOISE_SYMMETRIC_KEY_LEN);
	r->owner = owner;
	noise_remote_precompute(r, ctx);
}

void noise_remote_set_psk(struct noise_remote *r,
			  const uint8_t psk[NOISE_SYMMETRIC_KEY_LEN])
{
	if (psk)
		memcpy(r->preshared_key, psk, NOISE_SYMMETRIC_KEY_LEN);
	else
		wg_wipe(r->preshared_key, NOISE_SYMMETRIC_KEY_LEN);
}

uint32_t noise_handshake_index(const struct noise_remote *r)
{
	return r->hs && r->hs->state != HANDSHAKE_ZEROED ? r->hs->local_index :
							   0;
}

bool noise_handshake_is(const struct noise_remote *r,
			enum noise_handshake_state state)
{
	return r->hs && r->hs->state == state;
}

static void handshake_free(struct noise_remote *r)
{
	if (!r->hs)
		return;
	wg_wipe(r->hs, sizeof(*r->hs));
	free(r->hs);
	r->hs = NULL;
}

/* A fresh handshake state, unless the one in flight is to be reused. */
static struct noise_handshake *handshake_make(struct noise_remote *r)
{
	return r->hs ? r->hs : calloc(1, sizeof(*r->hs));
}

/* Gives back what handshake_make() made for a step that then failed. */
static void handshake_unmake(struct noise_remote *r,
			     struct noise_handshake *hs)
{
	if (hs && hs != r->hs)
		free(hs);
}

void noise_handshake_clear(struct noise_ctx *ctx, struct noise_remote *r)
{
	uint32_t index = noise_handshake_index(r);

	if (index && ctx->up.index_drop)
		ctx->up.index_drop(ctx->up.ctx, index);
	handshake_free(r);
}

void noise_remote_clear(struct noise_ctx *ctx, struct noise_remote *r)
{
	noise_handshake_clear(ctx, r);
	wg_wipe(r, sizeof(*r));
}

/*
 * Registers a fresh index for the handshake about to be sent, releasing the
 * one of any handshake it replaces.  Index 0 is never handed out: it marks
 * "none" in the handshake state.
 */
static int handshake_take_index(struct noise_ctx *ctx, struct noise_remote *r,
				uint32_t *index)
{
	int ret;

	ret = ctx->up.index_new(ctx->up.ctx, r, index);
	if (ret)
		return ret;
	if (noise_handshake_index(r))
		ctx->up.index_drop(ctx->up.ctx, noise_handshake_index(r));
	return 0;
}

/*
 * The initiation with a given timestamp.  The public function below passes
 * the rounded TAI64N of the wall clock; the unit test passes the vectors'
 * timestamps, whose nanoseconds are not rounded.
 */
static int create_initiation(struct noise_ctx *ctx, struct noise_remote *r,
			     uint8_t msg[MESSAGE_INITIATION_LEN],
			     const uint8_t ts[NOISE_TIMESTAMP_LEN])
{
	uint8_t ck[NOISE_HASH_LEN], hash[NOISE_HASH_LEN];
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t eph[NOISE_PUBLIC_KEY_LEN];
	struct noise_handshake *hs = NULL;
	uint32_t index;
	int ret = -EINVAL;

	if (!ctx->local.has_identity || !noise_remote_static_static(ctx, r))
		goto out;
	ret = -ENOMEM;
	hs = handshake_make(r);
	if (!hs)
		goto out;

	memset(msg, 0, MESSAGE_INITIATION_LEN);
	put_le32(msg + INITIATION_OFF_TYPE, MESSAGE_HANDSHAKE_INITIATION);
	handshake_init(ck, hash, r->public_key);

	/* e */
	ret = ephemeral_generate(ctx, eph, msg + INITIATION_OFF_EPHEMERAL, ck,
				 hash);
	if (ret)
		goto out;
	/* es */
	ret = mix_dh(ck, key, eph, r->public_key);
	if (ret)
		goto out;
	/* s */
	encrypt_and_hash(msg + INITIATION_OFF_STATIC, ctx->local.static_public,
			 NOISE_PUBLIC_KEY_LEN, key, hash);
	/* ss */
	mix_precomputed_dh(ck, key, r->static_static);
	/* {t} */
	encrypt_and_hash(msg + INITIATION_OFF_TIMESTAMP, ts, NOISE_TIMESTAMP_LEN,
			 key, hash);

	ret = handshake_take_index(ctx, r, &index);
	if (ret)
		goto out;
	put_le32(msg + INITIATION_OFF_SENDER, index);

	r->hs = hs;
	r->hs->state = HANDSHAKE_CREATED_INITIATION;
	r->hs->local_index = index;
	r->hs->remote_index = 0;
	memcpy(r->hs->ephemeral_private, eph, sizeof(eph));
	memset(r->hs->remote_ephemeral, 0, NOISE_PUBLIC_KEY_LEN);
	memcpy(r->hs->chaining_key, ck, sizeof(ck));
	memcpy(r->hs->hash, hash, sizeof(hash));
out:
	if (ret)
		memset(msg, 0, MESSAGE_INITIATION_LEN);
	handshake_unmake(r, hs);
	wg_wipe(ck, sizeof(ck));
	wg_wipe(hash, sizeof(hash));
	wg_wipe(key, sizeof(key));
	wg_wipe(eph, sizeof(eph));
	return ret;
}

int noise_handshake_create_initiation(struct noise_ctx *ctx,
				      struct noise_remote *r,
				      uint8_t msg[MESSAGE_INITIATION_LEN],
				      const struct timespec *wall)
{
	uint8_t ts[NOISE_TIMESTAMP_LEN];

	wg_tai64n(ts, wall);
	return create_initiation(ctx, r, msg, ts);
}

/*
 * The replay and flood rules for an initiation that decrypted correctly:
 * its timestamp must be strictly newer than the last one accepted from the
 * peer, and the previous accepted one must be at least 1/50 s old.
 */
static bool initiation_is_fresh(const struct noise_remote *r,
				const uint8_t ts[NOISE_TIMESTAMP_LEN],
				uint64_t now)
{
	/* TAI64N is big-endian, so bytewise order is time order. */
	if (memcmp(ts, r->latest_timestamp, NOISE_TIMESTAMP_LEN) <= 0)
		return false;
	if (r->last_initiation_consumption &&
	    now - r->last_initiation_consumption < NOISE_INITIATION_MIN_INTERVAL)
		return false;
	return true;
}

int noise_handshake_consume_initiation(struct noise_ctx *ctx,
				       const uint8_t *msg, size_t len,
				       uint64_t now,
				       struct noise_remote **out)
{
	uint8_t ck[NOISE_HASH_LEN], hash[NOISE_HASH_LEN];
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t spub[NOISE_PUBLIC_KEY_LEN];
	uint8_t ts[NOISE_TIMESTAMP_LEN];
	const uint8_t *e = msg + INITIATION_OFF_EPHEMERAL;
	struct noise_handshake *hs;
	struct noise_remote *r = NULL;
	int ret = -EINVAL;

	if (!message_header_is(msg, len, MESSAGE_HANDSHAKE_INITIATION,
			       MESSAGE_INITIATION_LEN) ||
	    !ctx->local.has_identity)
		goto out;

	handshake_init(ck, hash, ctx->local.static_public);
	/* e */
	mix_key(ck, e, NOISE_PUBLIC_KEY_LEN);
	mix_hash(hash, e, NOISE_PUBLIC_KEY_LEN);
	/* es */
	if (mix_dh(ck, key, ctx->local.static_private, e))
		goto out;
	/* s */
	ret = -EBADMSG;
	if (!decrypt_and_hash(spub, msg + INITIATION_OFF_STATIC,
			      NOISE_PUBLIC_KEY_LEN, key, hash))
		goto out;
	r = ctx->up.remote_by_public(ctx->up.ctx, spub);
	if (!r || !noise_remote_static_static(ctx, r)) {
		ret = -ENOKEY;
		r = NULL;
		goto out;
	}
	/* ss */
	mix_precomputed_dh(ck, key, r->static_static);
	/* {t} */
	if (!decrypt_and_hash(ts, msg + INITIATION_OFF_TIMESTAMP,
			      NOISE_TIMESTAMP_LEN, key, hash))
		goto out;
	if (!initiation_is_fresh(r, ts, now)) {
		ret = -EALREADY;
		goto out;
	}

	hs = handshake_make(r);
	if (!hs) {
		ret = -ENOMEM;
		goto out;
	}
	/* Accepted: only now does the peer's state change. */
	if (noise_handshake_index(r))
		ctx->up.index_drop(ctx->up.ctx, noise_handshake_index(r));
	r->hs = hs;
	memcpy(r->latest_timestamp, ts, sizeof(ts));
	r->last_initiation_consumption = now ? now : 1;
	r->hs->state = HANDSHAKE_CONSUMED_INITIATION;
	r->hs->local_index = 0;
	r->hs->remote_index = get_le32(msg + INITIATION_OFF_SENDER);
	memcpy(r->hs->remote_ephemeral, e, NOISE_PUBLIC_KEY_LEN);
	wg_wipe(r->hs->ephemeral_private, NOISE_PUBLIC_KEY_LEN);
	memcpy(r->hs->chaining_key, ck, sizeof(ck));
	memcpy(r->hs->hash, hash, sizeof(hash));
	ret = 0;
out:
	wg_wipe(ck, sizeof(ck));
	wg_wipe(hash, sizeof(hash));
	wg_wipe(key, sizeof(key));
	wg_wipe(spub, sizeof(spub));
	wg_wipe(ts, sizeof(ts));
	*out = ret ? NULL : r;
	return ret;
}

int noise_handshake_create_response(struct noise_ctx *ctx,
				    struct noise_remote *r,
				    uint8_t msg[MESSAGE_RESPONSE_LEN])
{
	uint8_t ck[NOISE_HASH_LEN], hash[NOISE_HASH_LEN];
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t eph[NOISE_PUBLIC_KEY_LEN];
	uint32_t index;
	int ret = -EINVAL;

	if (!noise_handshake_is(r, HANDSHAKE_CONSUMED_INITIATION))
		goto out;

	memset(msg, 0, MESSAGE_RESPONSE_LEN);
	put_le32(msg + RESPONSE_OFF_TYPE, MESSAGE_HANDSHAKE_RESPONSE);
	put_le32(msg + RESPONSE_OFF_RECEIVER, r->hs->remote_index);
	memcpy(ck, r->hs->chaining_key, sizeof(ck));
	memcpy(hash, r->hs->hash, sizeof(hash));

	/* e */
	ret = ephemeral_generate(ctx, eph, msg + RESPONSE_OFF_EPHEMERAL, ck,
				 hash);
	if (ret)
		goto out;
	/* ee */
	ret = mix_dh(ck, NULL, eph, r->hs->remote_ephemeral);
	if (ret)
		goto out;
	/* se */
	ret = mix_dh(ck, NULL, eph, r->public_key);
	if (ret)
		goto out;
	/* psk */
	mix_psk(ck, hash, key, r->preshared_key);
	/* {} */
	encrypt_and_hash(msg + RESPONSE_OFF_EMPTY, NULL, 0, key, hash);

	ret = handshake_take_index(ctx, r, &index);
	if (ret)
		goto out;
	put_le32(msg + RESPONSE_OFF_SENDER, index);

	r->hs->state = HANDSHAKE_CREATED_RESPONSE;
	r->hs->local_index = index;
	memcpy(r->hs->ephemeral_private, eph, sizeof(eph));
	memcpy(r->hs->chaining_key, ck, sizeof(ck));
	memcpy(r->hs->hash, hash, sizeof(hash));
out:
	if (ret)
		memset(msg, 0, MESSAGE_RESPONSE_LEN);
	wg_wipe(ck, sizeof(ck));
	wg_wipe(hash, sizeof(hash));
	wg_wipe(key, sizeof(key));
	wg_wipe(eph, sizeof(eph));
	return ret;
}

int noise_handshake_consume_response(struct noise_ctx *ctx,
				     const uint8_t *msg, size_t len,
				     struct noise_remote **out)
{
	uint8_t ck[NOISE_HASH_LEN], hash[NOISE_HASH_LEN];
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t empty[1];
	const uint8_t *e = msg + RESPONSE_OFF_EPHEMERAL;
	struct noise_remote *r = NULL;
	int ret = -EINVAL;

	if (!message_header_is(msg, len, MESSAGE_HANDSHAKE_RESPONSE,
			       MESSAGE_RESPONSE_LEN) ||
	    !ctx->local.has_identity)
		goto out;

	r = ctx->up.remote_by_index(ctx->up.ctx,
				    get_le32(msg + RESPONSE_OFF_RECEIVER));
	if (!r || !noise_handshake_is(r, HANDSHAKE_CREATED_INITIATION)) {
		ret = -ENOENT;
		r = NULL;
		goto out;
	}
	memcpy(ck, r->hs->chaining_key, sizeof(ck));
	memcpy(hash, r->hs->hash, sizeof(hash));

	/* e */
	mix_key(ck, e, NOISE_PUBLIC_KEY_LEN);
	mix_hash(hash, e, NOISE_PUBLIC_KEY_LEN);
	/* ee */
	if (mix_dh(ck, NULL, r->hs->ephemeral_private, e))
		goto out;
	/* se */
	if (mix_dh(ck, NULL, ctx->local.static_private, e))
		goto out;
	/* psk */
	mix_psk(ck, hash, key, r->preshared_key);
	/* {} */
	ret = -EBADMSG;
	if (!decrypt_and_hash(empty, msg + RESPONSE_OFF_EMPTY, 0, key, hash))
		goto out;

	r->hs->state = HANDSHAKE_CONSUMED_RESPONSE;
	r->hs->remote_index = get_le32(msg + RESPONSE_OFF_SENDER);
	memcpy(r->hs->remote_ephemeral, e, NOISE_PUBLIC_KEY_LEN);
	memcpy(r->hs->chaining_key, ck, sizeof(ck));
	memcpy(r->hs->hash, hash, sizeof(hash));
	ret = 0;
out:
	wg_wipe(ck, sizeof(ck));
	wg_wipe(hash, sizeof(hash));
	wg_wipe(key, sizeof(key));
	if (ret)
		r = NULL;
	*out = r;
	return ret;
}

int noise_handshake_begin_session(struct noise_remote *r,
				  struct noise_keypair *kp, uint64_t now)
{
	struct noise_handshake *hs = r->hs;

	if (!hs)
		return -EINVAL;
	if (hs->state == HANDSHAKE_CONSUMED_RESPONSE) {
		/* (T_send, T_recv) = KDF2(C, empty) for the initiator... */
		wg_kdf(kp->send_key, kp->recv_key, NULL, hs->chaining_key,
			   NULL, 0);
		kp->initiator = true;
	} else if (hs->state == HANDSHAKE_CREATED_RESPONSE) {
		/* ...and the same two, swapped, for the responder. */
		wg_kdf(kp->recv_key, kp->send_key, NULL, hs->chaining_key,
			   NULL, 0);
		kp->initiator = false;
	} else {
		return -EINVAL;
	}
	kp->local_index = hs->local_index;
	kp->remote_index = hs->remote_index;
	kp->birthdate = now;
	handshake_free(r);
	return 0;
}
