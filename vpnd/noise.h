/* SPDX-License-Identifier: MIT */
/*
 * The Noise_IKpsk2 handshake of WireGuard, as a state machine that turns
 * bytes into bytes.  It opens no socket and reads no clock: the caller hands
 * it the time, a source of randomness, and the lookups it needs (peer by
 * public key, handshake by index, a fresh index).
 */
#ifndef VPND_NOISE_H
#define VPND_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <vpn/messages.h>

#include "crypto.h"

/* The protocol's name and WireGuard's identifier, hashed into every handshake. */
#define NOISE_CONSTRUCTION "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
#define NOISE_IDENTIFIER "WireGuard v1 zx2c4 Jason@zx2c4.com"

enum noise_handshake_state {
	HANDSHAKE_ZEROED,
	HANDSHAKE_CREATED_INITIATION,
	HANDSHAKE_CONSUMED_INITIATION,
	HANDSHAKE_CREATED_RESPONSE,
	HANDSHAKE_CONSUMED_RESPONSE,
};

/* Our own identity.  Secret: the caller keeps it in locked memory. */
struct noise_local {
	bool has_identity;
	uint8_t static_private[NOISE_PUBLIC_KEY_LEN];
	uint8_t static_public[NOISE_PUBLIC_KEY_LEN];
};

/* The state of one handshake in flight with one peer. */
struct noise_handshake {
	enum noise_handshake_state state;
	uint32_t local_index;
	uint32_t remote_index;
	uint8_t ephemeral_private[NOISE_PUBLIC_KEY_LEN];
	uint8_t remote_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t chaining_key[NOISE_HASH_LEN];
};

/* What we know of one peer, and its handshake. */
struct noise_remote {
	uint8_t public_key[NOISE_PUBLIC_KEY_LEN];
	uint8_t preshared_key[NOISE_SYMMETRIC_KEY_LEN];
	/*
	 * DH(our static, its static), computed at the first handshake after
	 * either key changed, not when the peer is added: loading 100,000
	 * peers would otherwise cost 100,000 Diffie-Hellman operations up
	 * front (seconds), for peers that may never connect.  A low-order
	 * peer key makes it fail, and then no handshake with that peer is
	 * ever created or accepted.
	 */
	uint8_t static_static[NOISE_PUBLIC_KEY_LEN];
	bool static_static_known;	/* computed since the last key change */
	bool static_static_valid;
	/*
	 * The handshake in flight, or NULL: made when one starts (we send an
	 * initiation or accept one), wiped and freed when it becomes a
	 * session or is dropped, so that the many peers of a server that are
	 * not shaking hands do not carry its 140 bytes.
	 */
	struct noise_handshake *hs;
	uint8_t latest_timestamp[NOISE_TIMESTAMP_LEN];
	uint64_t last_initiation_consumption;	/* monotonic ns, 0 = never */
	void *owner;				/* the daemon's peer */
};

/*
 * The two session keys a handshake yields, with the indices that name them
 * on the wire.  The data path adds its counters around this.
 */
struct noise_keypair {
	uint8_t send_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t recv_key[NOISE_SYMMETRIC_KEY_LEN];
	uint32_t local_index;
	uint32_t remote_index;
	bool initiator;
	uint64_t birthdate;			/* monotonic ns */
};

/*
 * What the handshake needs from the peer and index tables it does not own.
 * index_new() gives a random index not in use, registered for remote's
 * handshake, or returns -errno; index_drop() forgets one; remote_by_index()
 * finds the peer whose handshake (not session) owns an index.
 */
struct noise_upcalls {
	void *ctx;
	struct noise_remote *(*remote_by_public)(void *ctx,
						 const uint8_t *public_key);
	struct noise_remote *(*remote_by_index)(void *ctx, uint32_t index);
	int (*index_new)(void *ctx, struct noise_remote *remote,
			 uint32_t *index);
	void (*index_drop)(void *ctx, uint32_t index);
};

/* The Noise context: our identity, the lookups, randomness. */
struct noise_ctx {
	struct noise_local local;
	struct noise_upcalls up;
	const struct wg_rng *rng;		/* NULL: the system's */
};

int noise_local_set_private(struct noise_ctx *ctx,
			    const uint8_t private_key[NOISE_PUBLIC_KEY_LEN]);
void noise_local_clear(struct noise_ctx *ctx);

void noise_remote_init(struct noise_remote *r, const struct noise_ctx *ctx,
		       const uint8_t public_key[NOISE_PUBLIC_KEY_LEN],
		       const uint8_t psk[NOISE_SYMMETRIC_KEY_LEN], void *owner);
void noise_remote_set_psk(struct noise_remote *r,
			  const uint8_t psk[NOISE_SYMMETRIC_KEY_LEN]);
/* Call after our private key changed: the static DH is redone when next needed. */
void noise_remote_precompute(struct noise_remote *r,
			     const struct noise_ctx *ctx);
/*
 * Does the static-static DH now if it is not done yet (handshakes call it);
 * false when it cannot be done: no identity, or a low-order peer key.
 */
bool noise_remote_static_static(const struct noise_ctx *ctx,
				struct noise_remote *r);
/* The index of the handshake in flight, or 0 when there is none. */
uint32_t noise_handshake_index(const struct noise_remote *r);
/* Whether a handshake is in flight in that state. */
bool noise_handshake_is(const struct noise_remote *r,
			enum noise_handshake_state state);
/* Forgets the handshake in flight (dropping its index) and its secrets. */
void noise_handshake_clear(struct noise_ctx *ctx, struct noise_remote *r);
/* Forgets everything secret about the peer, as on removal. */
void noise_remote_clear(struct noise_ctx *ctx, struct noise_remote *r);

/*
 * The four steps.  Each returns 0 or -errno and leaves the handshake as it
 * was on any failure.  The messages are written and read whole, with their
 * MAC fields: create_* leaves mac1 and mac2 zero for cookie.c to fill, and
 * consume_* does not look at them (cookie.c has checked them before).
 */
int noise_handshake_create_initiation(struct noise_ctx *ctx,
				      struct noise_remote *r,
				      uint8_t msg[MESSAGE_INITIATION_LEN],
				      const struct timespec *wall);
int noise_handshake_consume_initiation(struct noise_ctx *ctx,
				       const uint8_t *msg, size_t len,
				       uint64_t now,
				       struct noise_remote **out);
int noise_handshake_create_response(struct noise_ctx *ctx,
				    struct noise_remote *r,
				    uint8_t msg[MESSAGE_RESPONSE_LEN]);
int noise_handshake_consume_response(struct noise_ctx *ctx,
				     const uint8_t *msg, size_t len,
				     struct noise_remote **out);

/*
 * Derives the transport keys once the handshake is complete (the initiator
 * after consuming a response, the responder after creating one), then wipes
 * the handshake.  The handshake's local index now names the keypair: the
 * caller re-points its index table entry rather than dropping it.
 */
int noise_handshake_begin_session(struct noise_remote *r,
				  struct noise_keypair *kp, uint64_t now);

#endif /* VPND_NOISE_H */
