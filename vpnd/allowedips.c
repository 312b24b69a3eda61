/* SPDX-License-Identifier: MIT */
/*
 * The allowed-IPs table: a path-compressed binary radix trie per address
 * family, mapping prefixes to peers, plus a small index from each peer to
 * the nodes it owns.
 *
 * The trie is kept minimal: every node either carries a peer or branches in
 * two, so a node that loses its peer and has fewer than two children is
 * removed on the spot.  The per-peer index lets removal and listing of one
 * peer's prefixes cost time proportional to that peer's prefixes rather than
 * to the whole table, which matters with thousands of peers.
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "allowedips.h"

/* Index of each family's root; IPv4 sorts first in walks. */
enum aip_family {
	AIP_V4,
	AIP_V6,
	AIP_FAMILIES,
};

enum aip_limits {
	AIP_MAX_BITS = 128,
	AIP_MAX_WORDS = 2,
	/*
	 * cidr strictly increases down the trie, so a path holds at most
	 * AIP_MAX_BITS + 1 nodes; a pre-order walk keeps at most one pending
	 * right child per node on the path.
	 */
	AIP_STACK_DEPTH = AIP_MAX_BITS + 1,
	AIP_MIN_BUCKET_BITS = 4,
	AIP_MAX_BUCKET_BITS = 32,
};

struct aip_family_info {
	int af;
	uint8_t bits;
	uint8_t words;
};

static const struct aip_family_info aip_families[AIP_FAMILIES] = {
	[AIP_V4] = { .af = AF_INET, .bits = 32, .words = 1 },
	[AIP_V6] = { .af = AF_INET6, .bits = 128, .words = 2 },
};

/*
 * A trie node.  Keys are held as host-order 64-bit words so that lookups
 * compare whole words: an IPv4 address fills the upper half of one word, an
 * IPv6 address fills two.  Bit 0 is the most significant bit of word 0.
 * The key is always masked to cidr, and the node is allocated with exactly
 * as many key words as its family needs: 56 bytes for IPv4 and 64 for
 * IPv6, before the allocator's overhead.
 *
 * A node with a peer is on that peer's list (next/pprev) for its family.
 * A node without a peer exists only because it branches: it has exactly
 * two children.
 */
struct aip_node {
	/* Lookups never read the list links, so they stay out of the way. */
	struct aip_node *next;
	struct aip_node **pprev;
	struct aip_node *child[2];
	struct peer *peer;
	uint8_t cidr;
	uint64_t key[];
};

/* The nodes one peer owns, found through a chained hash on the pointer. */
struct aip_owner {
	struct aip_owner *hash_next;
	struct peer *peer;
	struct aip_node *head[AIP_FAMILIES];
	/*
	 * 32 bits: each node costs 56 bytes or more, so no count can reach
	 * 2^32, and the owner fits 40 bytes (a 48-byte malloc chunk, not a
	 * 64-byte one): 1.6 MB less with 100,000 peers.
	 */
	uint32_t count[AIP_FAMILIES];
};

struct allowedips {
	struct aip_node *root[AIP_FAMILIES];
	size_t nodes[AIP_FAMILIES];
	struct aip_owner **buckets;
	unsigned int bucket_bits;
	size_t owners;
};

/*
 * A pre-order iterator that needs no allocation.  It reads a node's
 * children before handing the node out, so the caller may free it.
 */
struct aip_iter {
	struct aip_node *stack[AIP_STACK_DEPTH];
	size_t depth;
	struct aip_node *next;
};

static int family_index(int af)
{
	if (af == AF_INET)
		return AIP_V4;
	if (af == AF_INET6)
		return AIP_V6;
	return -1;
}

static void key_from_addr(uint64_t key[AIP_MAX_WORDS], int fi,
			  const void *addr)
{
	uint32_t a4;
	uint64_t a6[2];

	if (fi == AIP_V4) {
		memcpy(&a4, addr, sizeof(a4));
		key[0] = (uint64_t)be32toh(a4) << 32;
		key[1] = 0;
		return;
	}
	memcpy(a6, addr, sizeof(a6));
	key[0] = be64toh(a6[0]);
	key[1] = be64toh(a6[1]);
}

static void key_to_addr(uint8_t addr[16], int fi, const uint64_t *key)
{
	uint32_t a4;
	uint64_t a6[2];

	if (fi == AIP_V4) {
		a4 = htobe32((uint32_t)(key[0] >> 32));
		memcpy(addr, &a4, sizeof(a4));
		return;
	}
	a6[0] = htobe64(key[0]);
	a6[1] = htobe64(key[1]);
	memcpy(addr, a6, sizeof(a6));
}

/* The bits of key word @word that lie inside a prefix of length @cidr. */
static inline uint64_t word_mask(unsigned int cidr, unsigned int word)
{
	unsigned int first = word * 64;

	if (cidr <= first)
		return 0;
	if (cidr >= first + 64)
		return UINT64_MAX;
	return UINT64_MAX << (64 - (cidr - first));
}

static void key_mask(uint64_t key[AIP_MAX_WORDS], unsigned int cidr)
{
	unsigned int i;

	for (i = 0; i < AIP_MAX_WORDS; i++)
		key[i] &= word_mask(cidr, i);
}

static inline unsigned int key_bit(const uint64_t *key, unsigned int pos)
{
	return (key[pos / 64] >> (63 - pos % 64)) & 1;
}

/* Does @key fall inside the prefix of @node? */
static inline bool node_covers(const struct aip_node *node,
			       const uint64_t *key, unsigned int words)
{
	unsigned int i;

	for (i = 0; i < words; i++)
		if ((key[i] ^ node->key[i]) & word_mask(node->cidr, i))
			return false;
	return true;
}

/* Number of leading bits @a and @b share, at most @limit. */
static unsigned int common_bits(const uint64_t *a, const uint64_t *b,
				unsigned int words, unsigned int limit)
{
	unsigned int i, n;
	uint64_t diff;

	for (i = 0; i < words; i++) {
		diff = a[i] ^ b[i];
		if (diff) {
			n = i * 64 + (unsigned int)__builtin_clzll(diff);
			return n < limit ? n : limit;
		}
	}
	return limit;
}

static struct aip_node *node_new(struct allowedips *t, int fi,
				 const uint64_t *key, unsigned int cidr)
{
	unsigned int words = aip_families[fi].words, i;
	struct aip_node *node;

	node = malloc(sizeof(*node) + words * sizeof(node->key[0]));
	if (!node)
		return NULL;
	node->child[0] = NULL;
	node->child[1] = NULL;
	node->peer = NULL;
	node->next = NULL;
	node->pprev = NULL;
	node->cidr = (uint8_t)cidr;
	memcpy(node->key, key, words * sizeof(node->key[0]));
	/* The caller's key is masked to its own cidr, which may be longer. */
	for (i = 0; i < words; i++)
		node->key[i] &= word_mask(cidr, i);
	t->nodes[fi]++;
	return node;
}

static void node_free(struct allowedips *t, int fi, struct aip_node *node)
{
	t->nodes[fi]--;
	free(node);
}

static void iter_start(struct aip_iter *it, struct aip_node *root)
{
	it->depth = 0;
	it->next = root;
}

static struct aip_node *iter_next(struct aip_iter *it)
{
	struct aip_node *node = it->next;

	if (!node) {
		if (!it->depth)
			return NULL;
		node = it->stack[--it->depth];
	}
	if (node->child[1])
		it->stack[it->depth++] = node->child[1];
	it->next = node->child[0];
	return node;
}

static size_t owner_bucket(const struct allowedips *t, const struct peer *peer)
{
	/* Fibonacci hashing spreads the allocator's aligned pointers. */
	uint64_t h = (uint64_t)(uintptr_t)peer * UINT64_C(0x9e3779b97f4a7c15);

	return (size_t)(h >> (64 - t->bucket_bits));
}

static struct aip_owner *owner_find(const struct allowedips *t,
				    const struct peer *peer)
{
	struct aip_owner *o;

	for (o = t->buckets[owner_bucket(t, peer)]; o; o = o->hash_next)
		if (o->peer == peer)
			return o;
	return NULL;
}

/*
 * Doubles the bucket array.  Failure is harmless: chains only get longer,
 * so it is not reported.
 */
static void owners_grow(struct allowedips *t)
{
	struct aip_owner **old = t->buckets, *o, *next;
	size_t i, nold = (size_t)1 << t->bucket_bits, b;

	if (t->bucket_bits >= AIP_MAX_BUCKET_BITS)
		return;
	t->buckets = calloc(nold * 2, sizeof(*t->buckets));
	if (!t->buckets) {
		t->buckets = old;
		return;
	}
	t->bucket_bits++;
	for (i = 0; i < nold; i++) {
		for (o = old[i]; o; o = next) {
			next = o->hash_next;
			b = owner_bucket(t, o->peer);
			o->hash_next = t->buckets[b];
			t->buckets[b] = o;
		}
	}
	free(old);
}

static struct aip_owner *owner_get(struct allowedips *t, struct peer *peer)
{
	struct aip_owner *o = owner_find(t, peer);
	size_t b;

	if (o)
		return o;
	o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->peer = peer;
	if (t->owners >= (size_t)1 << t->bucket_bits)
		owners_grow(t);
	b = owner_bucket(t, peer);
	o->hash_next = t->buckets[b];
	t->buckets[b] = o;
	t->owners++;
	return o;
}

/* Forgets @o once it owns nothing, so departed peers cost no memory. */
static void owner_put_if_empty(struct allowedips *t, struct aip_owner *o)
{
	struct aip_owner **link;

	if (o->head[AIP_V4] || o->head[AIP_V6])
		return;
	for (link = &t->buckets[owner_bucket(t, o->peer)]; *link != o;
	     link = &(*link)->hash_next)
		;
	*link = o->hash_next;
	t->owners--;
	free(o);
}

static void node_own(struct aip_owner *o, int fi, struct aip_node *node)
{
	node->peer = o->peer;
	node->next = o->head[fi];
	if (node->next)
		node->next->pprev = &node->next;
	node->pprev = &o->head[fi];
	o->head[fi] = node;
	o->count[fi]++;
}

static void node_disown(struct aip_owner *o, int fi, struct aip_node *node)
{
	*node->pprev = node->next;
	if (node->next)
		node->next->pprev = node->pprev;
	node->next = NULL;
	node->pprev = NULL;
	node->peer = NULL;
	o->count[fi]--;
}

/* Gives an existing node to @o, taking it from its previous owner. */
static void node_reassign(struct allowedips *t, int fi, struct aip_node *node,
			  struct aip_owner *o)
{
	struct aip_owner *prev;

	if (node->peer == o->peer)
		return;
	if (node->peer) {
		prev = owner_find(t, node->peer);
		node_disown(prev, fi, node);
		owner_put_if_empty(t, prev);
	}
	node_own(o, fi, node);
}

static int trie_insert(struct allowedips *t, int fi, const uint64_t *key,
		       unsigned int cidr, struct aip_owner *o)
{
	unsigned int words = aip_families[fi].words;
	struct aip_node **link = &t->root[fi], *node, *leaf, *branch;
	unsigned int common = 0;

	/* Descend while the node's prefix is a prefix of the new one. */
	while ((node = *link)) {
		common = common_bits(node->key, key, words,
				     node->cidr < cidr ? node->cidr : cidr);
		if (common < node->cidr)
			break;
		if (node->cidr == cidr) {
			node_reassign(t, fi, node, o);
			return 0;
		}
		link = &node->child[key_bit(key, node->cidr)];
	}

	leaf = node_new(t, fi, key, cidr);
	if (!leaf)
		return -ENOMEM;
	if (!node) {
		*link = leaf;
	} else if (common == cidr) {
		/* The new prefix contains @node: it goes in above it. */
		leaf->child[key_bit(node->key, cidr)] = node;
		*link = leaf;
	} else {
		/*
		 * The two prefixes first differ at bit @common, so they need
		 * a branching node of that length above both.
		 */
		branch = node_new(t, fi, key, common);
		if (!branch) {
			node_free(t, fi, leaf);
			return -ENOMEM;
		}
		branch->child[key_bit(key, common)] = leaf;
		branch->child[key_bit(node->key, common)] = node;
		*link = branch;
	}
	node_own(o, fi, leaf);
	return 0;
}

/* The node holding exactly @key/@cidr, with or without a peer. */
static struct aip_node *trie_find(struct aip_node *node, int fi,
				  const uint64_t *key, unsigned int cidr)
{
	unsigned int words = aip_families[fi].words;

	while (node && node->cidr < cidr) {
		if (!node_covers(node, key, words))
			return NULL;
		node = node->child[key_bit(key, node->cidr)];
	}
	if (!node || node->cidr != cidr || !node_covers(node, key, words))
		return NULL;
	return node;
}

/*
 * @target has just lost its peer.  Keeps the trie minimal: a node without a
 * peer must branch, so @target goes if it has fewer than two children, and
 * its parent goes too if that leaves a peerless parent with one child.
 */
static void trie_prune(struct allowedips *t, int fi, struct aip_node *target)
{
	struct aip_node **link = &t->root[fi], **parent_link = NULL;
	struct aip_node *parent = NULL, *node, *child;

	while ((node = *link) != target) {
		parent_link = link;
		parent = node;
		link = &node->child[key_bit(target->key, node->cidr)];
	}
	if (target->child[0] && target->child[1])
		return;
	child = target->child[0] ? target->child[0] : target->child[1];
	*link = child;
	node_free(t, fi, target);
	if (child || !parent || parent->peer)
		return;
	*parent_link = parent->child[0] ? parent->child[0] : parent->child[1];
	node_free(t, fi, parent);
}

/*
 * Longest-prefix match.  A node that does not cover the key ends the
 * search, as nothing below it can.  Inlined with constant @words and @bits
 * so each family gets its own straight-line loop.
 */
static inline struct peer *trie_lookup(const struct aip_node *node,
				       const uint64_t *key, unsigned int words,
				       unsigned int bits)
{
	struct peer *best = NULL;

	while (node && node_covers(node, key, words)) {
		if (node->peer)
			best = node->peer;
		if (node->cidr == bits)
			break;
		node = node->child[key_bit(key, node->cidr)];
	}
	return best;
}

static int node_emit(const struct aip_node *node, int fi,
		     allowedips_walk_fn cb, void *ctx)
{
	uint8_t addr[16];

	key_to_addr(addr, fi, node->key);
	return cb(ctx, aip_families[fi].af, addr, node->cidr);
}

/*
 * Visits @peer's nodes by walking the whole trie of one family.  Pre-order
 * with the 0 child first yields ascending address then ascending cidr,
 * because a node's descendants all extend its (masked) address.
 */
static int walk_trie(struct aip_node *root, int fi, const struct peer *peer,
		     allowedips_walk_fn cb, void *ctx)
{
	struct aip_iter it;
	struct aip_node *node;
	int ret;

	iter_start(&it, root);
	while ((node = iter_next(&it))) {
		if (node->peer != peer)
			continue;
		ret = node_emit(node, fi, cb, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

static int node_cmp(const struct aip_node *a, const struct aip_node *b,
		    unsigned int words)
{
	unsigned int i;

	for (i = 0; i < words; i++)
		if (a->key[i] != b->key[i])
			return a->key[i] < b->key[i] ? -1 : 1;
	return (int)a->cidr - (int)b->cidr;
}

static int node_cmp_v4(const void *a, const void *b)
{
	return node_cmp(*(struct aip_node *const *)a,
			*(struct aip_node *const *)b, 1);
}

static int node_cmp_v6(const void *a, const void *b)
{
	return node_cmp(*(struct aip_node *const *)a,
			*(struct aip_node *const *)b, 2);
}

/*
 * Visits the owner's nodes of one family in order.  Sorting the owner's
 * list costs O(k log k) for k prefixes, which beats walking the whole trie
 * unless the peer owns a large share of it.  The walk needs no memory, so
 * it is also the fallback when the sort array cannot be allocated.
 */
static int walk_owner(const struct allowedips *t, const struct aip_owner *o,
		      int fi, allowedips_walk_fn cb, void *ctx)
{
	size_t n = o->count[fi], i = 0;
	struct aip_node **nodes, *node;
	int ret = 0;

	if (!n)
		return 0;
	if (n * 2 >= t->nodes[fi])
		return walk_trie(t->root[fi], fi, o->peer, cb, ctx);
	nodes = malloc(n * sizeof(*nodes));
	if (!nodes)
		return walk_trie(t->root[fi], fi, o->peer, cb, ctx);
	for (node = o->head[fi]; node; node = node->next)
		nodes[i++] = node;
	qsort(nodes, n, sizeof(*nodes),
	      fi == AIP_V4 ? node_cmp_v4 : node_cmp_v6);
	for (i = 0; i < n && !ret; i++)
		ret = node_emit(nodes[i], fi, cb, ctx);
	free(nodes);
	return ret;
}

int allowedips_init(struct allowedips **out)
{
	struct allowedips *t;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->bucket_bits = AIP_MIN_BUCKET_BITS;
	t->buckets = calloc((size_t)1 << t->bucket_bits, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

void allowedips_free(struct allowedips *t)
{
	struct aip_owner *o, *next;
	struct aip_node *node;
	struct aip_iter it;
	size_t i;
	int fi;

	if (!t)
		return;
	for (fi = 0; fi < AIP_FAMILIES; fi++) {
		iter_start(&it, t->root[fi]);
		while ((node = iter_next(&it)))
			free(node);
	}
	for (i = 0; i < (size_t)1 << t->bucket_bits; i++) {
		for (o = t->buckets[i]; o; o = next) {
			next = o->hash_next;
			free(o);
		}
	}
	free(t->buckets);
	free(t);
}

int allowedips_insert(struct allowedips *t, int family, const void *addr,
		      uint8_t cidr, struct peer *peer)
{
	int fi = family_index(family), ret;
	uint64_t key[AIP_MAX_WORDS];
	struct aip_owner *o;

	if (fi < 0 || cidr > aip_families[fi].bits || !peer)
		return -EINVAL;
	key_from_addr(key, fi, addr);
	key_mask(key, cidr);
	o = owner_get(t, peer);
	if (!o)
		return -ENOMEM;
	ret = trie_insert(t, fi, key, cidr, o);
	/* An owner created for a failed insert must not linger. */
	owner_put_if_empty(t, o);
	return ret;
}

int allowedips_remove(struct allowedips *t, int family, const void *addr,
		      uint8_t cidr, struct peer *peer)
{
	int fi = family_index(family);
	uint64_t key[AIP_MAX_WORDS];
	struct aip_node *node;
	struct aip_owner *o;

	if (fi < 0 || cidr > aip_families[fi].bits)
		return -EINVAL;
	key_from_addr(key, fi, addr);
	key_mask(key, cidr);
	node = trie_find(t->root[fi], fi, key, cidr);
	/* A peerless node is only a branch: it is not a route to remove. */
	if (!node || !node->peer || node->peer != peer)
		return -ENOENT;
	o = owner_find(t, peer);
	node_disown(o, fi, node);
	owner_put_if_empty(t, o);
	trie_prune(t, fi, node);
	return 0;
}

void allowedips_remove_by_peer(struct allowedips *t, struct peer *peer)
{
	struct aip_owner *o = owner_find(t, peer);
	struct aip_node *node;
	int fi;

	if (!o)
		return;
	for (fi = 0; fi < AIP_FAMILIES; fi++) {
		while ((node = o->head[fi])) {
			node_disown(o, fi, node);
			trie_prune(t, fi, node);
		}
	}
	owner_put_if_empty(t, o);
}

struct peer *allowedips_lookup(const struct allowedips *t, int family,
			       const void *addr)
{
	int fi = family_index(family);
	uint64_t key[AIP_MAX_WORDS];

	if (fi < 0)
		return NULL;
	key_from_addr(key, fi, addr);
	if (fi == AIP_V4)
		return trie_lookup(t->root[AIP_V4], key, 1, 32);
	return trie_lookup(t->root[AIP_V6], key, 2, 128);
}

int allowedips_walk_by_peer(const struct allowedips *t, struct peer *peer,
			    allowedips_walk_fn cb, void *ctx)
{
	const struct aip_owner *o = owner_find(t, peer);
	int fi, ret;

	if (!o)
		return 0;
	for (fi = 0; fi < AIP_FAMILIES; fi++) {
		ret = walk_owner(t, o, fi, cb, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

size_t allowedips_node_count(const struct allowedips *t)
{
	return t->nodes[AIP_V4] + t->nodes[AIP_V6];
}
