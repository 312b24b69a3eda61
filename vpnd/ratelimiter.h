/* SPDX-License-Identifier: MIT */
/*
 * A per-source token bucket for handshake messages under load: 20 per
 * second with a burst of 5 from each IPv4 address or IPv6 /64, so that one
 * flooding host cannot take all of the Diffie-Hellman work away from the
 * others.  The table is bounded; when it is full, new sources are refused.
 */
#ifndef VPND_RATELIMITER_H
#define VPND_RATELIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "crypto.h"

enum ratelimiter_values {
	RATELIMITER_PACKETS_PER_SECOND = 20,
	RATELIMITER_PACKETS_BURST = 5,
	RATELIMITER_MAX_ENTRIES = 8192,
};

struct ratelimiter_entry {
	uint64_t last;		/* ns; 0: slot empty */
	uint64_t tokens;	/* in ns of credit */
	uint8_t key[9];		/* family byte, then address or /64 */
};

struct ratelimiter {
	struct ratelimiter_entry *slots;
	struct ratelimiter_entry *spare;	/* same size, for the GC */
	size_t nslots;		/* power of two, twice the entry limit */
	size_t count;
	uint64_t refused_full;	/* new sources refused: the table was full */
	uint8_t secret[16];
};

int ratelimiter_init(struct ratelimiter *rl, const struct wg_rng *rng);
void ratelimiter_free(struct ratelimiter *rl);
/* Whether one more handshake message from src is allowed at now. */
bool ratelimiter_allow(struct ratelimiter *rl, const struct sockaddr *src,
		       uint64_t now);
/* Forgets sources idle for a second or more. */
void ratelimiter_gc(struct ratelimiter *rl, uint64_t now);

#endif /* VPND_RATELIMITER_H */
