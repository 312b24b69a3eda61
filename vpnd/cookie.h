/* SPDX-License-Identifier: MIT */
/*
 * MAC1 and MAC2 on handshake messages, and the cookie reply that a
 * responder under load sends instead of doing Diffie-Hellman work.
 *
 * The checker is our side: it verifies the MACs on what arrives and makes
 * cookies bound to the sender's address and port.  A maker lives in each
 * peer: it puts MACs on what we send and keeps the cookie a peer gave us.
 * Neither reads a clock; "now" is monotonic nanoseconds from the caller.
 */
#ifndef VPND_COOKIE_H
#define VPND_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <vpn/messages.h>

#include "crypto.h"

struct cookie_checker {
	uint8_t secret[NOISE_HASH_LEN];
	uint64_t secret_birthdate;	/* monotonic ns; 0: no secret yet */
	uint8_t mac1_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t cookie_key[NOISE_SYMMETRIC_KEY_LEN];
	bool has_identity;
	const struct wg_rng *rng;	/* NULL: the system's */
};

struct cookie_maker {
	uint8_t mac1_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t cookie_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t cookie[COOKIE_LEN];
	uint64_t cookie_birthdate;	/* monotonic ns; 0: no cookie */
	uint8_t last_mac1_sent[COOKIE_MAC_LEN];
	bool have_sent_mac1;
};

enum cookie_mac_state {
	COOKIE_MAC_INVALID,
	COOKIE_MAC_VALID_NO_COOKIE,
	COOKIE_MAC_VALID_WITH_COOKIE,
};

enum cookie_verdict {
	COOKIE_DROP,		/* bad MAC1: drop before any other work */
	COOKIE_SEND_REPLY,	/* under load and no valid MAC2: answer */
	COOKIE_ACCEPT,		/* go on with the handshake */
};

void cookie_checker_init(struct cookie_checker *c,
			 const struct wg_rng *rng);
/* Derives the MAC1 and cookie keys from our public key (NULL: none). */
void cookie_checker_precompute(struct cookie_checker *c,
			       const uint8_t public_key[NOISE_PUBLIC_KEY_LEN]);
void cookie_checker_clear(struct cookie_checker *c);

/*
 * Checks the MACs at the end of a whole handshake message.  Only MAC1 is
 * always required; MAC2 counts only when it matches a cookie we would give
 * src now, that is for this address and port, from the current secret.
 */
enum cookie_mac_state cookie_checker_validate(struct cookie_checker *c,
					      const uint8_t *msg, size_t len,
					      const struct sockaddr *src,
					      uint64_t now);
/* What to do with a message, given its MACs and whether we are loaded. */
enum cookie_verdict cookie_decide(enum cookie_mac_state state,
				  bool under_load);
/* The 64-byte reply to msg, which came from src with sender index idx. */
int cookie_checker_create_reply(struct cookie_checker *c,
				uint8_t reply[MESSAGE_COOKIE_LEN],
				const uint8_t *msg, size_t len, uint32_t idx,
				const struct sockaddr *src, uint64_t now);

void cookie_maker_init(struct cookie_maker *m,
		       const uint8_t peer_public[NOISE_PUBLIC_KEY_LEN]);
/* Fills MAC1, and MAC2 while we hold a fresh cookie from the peer. */
void cookie_maker_add_macs(struct cookie_maker *m, uint8_t *msg, size_t len,
			   uint64_t now);
/* Takes the cookie out of a reply to the last message we MACed. */
int cookie_maker_consume_reply(struct cookie_maker *m, const uint8_t *reply,
			       size_t len, uint64_t now);

/* The receiver index a cookie reply is addressed to. */
uint32_t cookie_reply_receiver(const uint8_t reply[MESSAGE_COOKIE_LEN]);

#endif /* VPND_COOKIE_H */
