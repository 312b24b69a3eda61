/* SPDX-License-Identifier: MIT */
/*
 * Cryptokey routing: the table that maps an IPv4 or IPv6 prefix to the peer
 * allowed to use it.  Outbound packets find their peer with
 * allowedips_lookup() on the destination; inbound packets are checked by
 * looking up their source and comparing the result with the peer that
 * decrypted them.
 *
 * The table stores and compares `struct peer *` values, and of a peer it
 * touches only the struct allowedips_owner at the offset given to
 * allowedips_init(): the head of the peer's own list of prefixes, so that
 * a server's 100,000 peers need no table beside the trie to find them.
 *
 * Concurrency: lookups take no lock and allocate nothing, but they must not
 * run at the same time as a function that modifies the table.  The caller
 * provides that exclusion.
 */
#ifndef VPND_ALLOWEDIPS_H
#define VPND_ALLOWEDIPS_H

#include <stddef.h>
#include <stdint.h>

struct peer;
struct allowedips;
struct aip_node;

/*
 * Embedded in each peer, zeroed; only allowedips.c reads or writes it.  The
 * first node of each list points back at it, so a peer must not move in
 * memory while it owns prefixes.
 */
struct allowedips_owner {
	struct aip_node *head[2];	/* IPv4, IPv6 */
};

/*
 * Called by allowedips_walk_by_peer() once per prefix.  @addr is the prefix
 * in network byte order (4 bytes for AF_INET, 16 for AF_INET6), with every
 * bit beyond @cidr clear.  A non-zero return stops the walk and becomes its
 * result.  The callback must not modify the table.
 */
typedef int (*allowedips_walk_fn)(void *ctx, int family, const uint8_t *addr,
				  uint8_t cidr);

/*
 * Allocates an empty table into *out.  @owner_offset is where a peer's
 * struct allowedips_owner is: offsetof(struct peer, aips).  Returns 0 or
 * -ENOMEM.
 */
int allowedips_init(struct allowedips **out, size_t owner_offset);

/*
 * Frees the table and every node in it.  NULL is accepted.  The peers'
 * owners still point at the freed nodes: free the table after its peers.
 */
void allowedips_free(struct allowedips *t);

/*
 * Routes @addr/@cidr to @peer.  Bits of @addr beyond @cidr are ignored.  If
 * that exact prefix is already in the table it is moved to @peer.
 * Returns 0, -EINVAL (unknown family, @cidr too long, NULL peer) or -ENOMEM;
 * on error the table is unchanged.
 */
int allowedips_insert(struct allowedips *t, int family, const void *addr,
		      uint8_t cidr, struct peer *peer);

/*
 * Removes exactly @addr/@cidr, and only if it belongs to @peer.
 * Returns 0, -ENOENT (no such prefix, or it belongs to another peer) or
 * -EINVAL (unknown family, @cidr too long).
 */
int allowedips_remove(struct allowedips *t, int family, const void *addr,
		      uint8_t cidr, struct peer *peer);

/* Removes every prefix that belongs to @peer. */
void allowedips_remove_by_peer(struct allowedips *t, struct peer *peer);

/*
 * Longest-prefix match of @addr (4 or 16 bytes in network byte order).
 * Returns NULL when no prefix covers it or the family is unknown.
 */
struct peer *allowedips_lookup(const struct allowedips *t, int family,
			       const void *addr);

/*
 * Calls @cb for each prefix of @peer: IPv4 first, then IPv6, each family in
 * ascending address order and, for equal addresses, ascending cidr.
 * Returns 0 when every prefix was visited, or the callback's non-zero value
 * if it stopped the walk.  The walk cannot fail: when it cannot allocate
 * room to sort the peer's prefixes it walks the whole trie instead.
 */
int allowedips_walk_by_peer(const struct allowedips *t, struct peer *peer,
			    allowedips_walk_fn cb, void *ctx);

/* Number of trie nodes currently allocated, both families together. */
size_t allowedips_node_count(const struct allowedips *t);

#endif /* VPND_ALLOWEDIPS_H */
