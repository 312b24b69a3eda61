/* SPDX-License-Identifier: MIT */
/*
 * The handshake rate limiter.  Each source owns a bucket of credit measured
 * in nanoseconds: a packet costs one second / PACKETS_PER_SECOND, credit
 * refills with time, and the bucket holds at most PACKETS_BURST packets'
 * worth.  Slots are found by a keyed hash, so a flood of forged sources
 * cannot be aimed at one chain.  Forgetting idle sources rebuilds the whole
 * table into a spare one, which keeps every probe run intact.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimiter.h"

enum {
	NSEC_PER_SEC = 1000000000,
	PACKET_COST = NSEC_PER_SEC / RATELIMITER_PACKETS_PER_SECOND,
	BUCKET_MAX = PACKET_COST * RATELIMITER_PACKETS_BURST,
};

int ratelimiter_init(struct ratelimiter *rl, const struct wg_rng *rng)
{
	memset(rl, 0, sizeof(*rl));
	rl->nslots = 2 * RATELIMITER_MAX_ENTRIES;
	rl->slots = calloc(rl->nslots, sizeof(*rl->slots));
	rl->spare = calloc(rl->nslots, sizeof(*rl->spare));
	if (!rl->slots || !rl->spare) {
		ratelimiter_free(rl);
		return -ENOMEM;
	}
	wg_rng_fill(rng, rl->secret, sizeof(rl->secret));
	return 0;
}

void ratelimiter_free(struct ratelimiter *rl)
{
	free(rl->slots);
	free(rl->spare);
	memset(rl, 0, sizeof(*rl));
}

/* IPv4 sources are limited per address, IPv6 per /64: one host's share. */
static bool source_key(uint8_t key[9], const struct sockaddr *src)
{
	memset(key, 0, 9);
	if (src->sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)(const void *)src)
					 ->sin_addr, 4);
		return true;
	}
	if (src->sa_family == AF_INET6) {
		key[0] = 6;
		memcpy(key + 1, &((const struct sockaddr_in6 *)(const void *)src)
					 ->sin6_addr, 8);
		return true;
	}
	return false;
}

static size_t home_of(const struct ratelimiter *rl, const uint8_t key[9])
{
	uint8_t h[16];
	uint64_t v;

	wg_mac(h, rl->secret, sizeof(rl->secret), key, 9);
	memcpy(&v, h, sizeof(v));
	return (size_t)v & (rl->nslots - 1);
}

static struct ratelimiter_entry *find_or_add(struct ratelimiter *rl,
					     const uint8_t key[9], uint64_t now)
{
	size_t i = home_of(rl, key);

	for (;;) {
		struct ratelimiter_entry *e = &rl->slots[i];

		if (!e->last) {
			if (rl->count >= RATELIMITER_MAX_ENTRIES) {
				rl->refused_full++;
				return NULL;
			}
			memcpy(e->key, key, 9);
			e->last = now ? now : 1;
			e->tokens = BUCKET_MAX;
			rl->count++;
			return e;
		}
		if (!memcmp(e->key, key, 9))
			return e;
		i = (i + 1) & (rl->nslots - 1);
	}
}

bool ratelimiter_allow(struct ratelimiter *rl, const struct sockaddr *src,
		       uint64_t now)
{
	struct ratelimiter_entry *e;
	uint8_t key[9];
	uint64_t credit;

	if (!source_key(key, src))
		return false;
	e = find_or_add(rl, key, now);
	if (!e)
		return false;
	credit = e->tokens + (now > e->last ? now - e->last : 0);
	if (credit > BUCKET_MAX)
		credit = BUCKET_MAX;
	e->last = now ? now : 1;
	if (credit < PACKET_COST) {
		e->tokens = credit;
		return false;
	}
	e->tokens = credit - PACKET_COST;
	return true;
}

/*
 * The spare table is all zero between collections, and each collection
 * leaves the table it empties all zero again, writing only the slots that
 * were in use: a table a few sources use stays a few pages of memory, not
 * the 512 KiB that clearing it whole would make resident (twice, as the
 * two tables take turns).  Moved-out slots are cleared, which also wipes
 * the addresses they held.
 */
void ratelimiter_gc(struct ratelimiter *rl, uint64_t now)
{
	struct ratelimiter_entry *old = rl->slots, *swap;
	size_t i, j, mask = rl->nslots - 1;

	if (!rl->count)
		return;
	rl->count = 0;
	for (i = 0; i < rl->nslots; i++) {
		if (!old[i].last)
			continue;
		if (now < old[i].last + NSEC_PER_SEC) {
			j = home_of(rl, old[i].key);
			while (rl->spare[j].last)
				j = (j + 1) & mask;
			rl->spare[j] = old[i];
			rl->count++;
		}
		memset(&old[i], 0, sizeof(old[i]));
	}
	swap = rl->slots;
	rl->slots = rl->spare;
	rl->spare = swap;
}
