/* SPDX-License-Identifier: MIT */
/*
 * The allowed-IPs table: a path-compressed binary radix trie per address
 * family, mapping prefixes to peers, plus a list from each peer to the
 * nodes it owns, kept in the peer's struct allowedips_owner.
 *
 * The trie is kept minimal: every node either carries a peer or branches in
 * two, so a node that loses its peer and has fewer than two children is
 * removed on the spot.  The per-peer lists let removal and listing of one
 * peer's prefixes cost time proportional to that peer's prefixes rather than
 * to the whole table, which matters with thousands of peers.
 *
 * A server may route 100,000 peers of one /32 each, so the nodes are kept
 * small: keys are 32-bit words (one for IPv4), and a node of full length
 * (/32, /128), which can have no children, is allocated without them.  A
 * /32 leaf is 32 bytes and its branching node 48.  Nodes come from a pool
 * of exact-size slots per node kind rather than from malloc, whose chunk
 * header and size classes would serve those from 48 and 64 bytes.
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
	AIP_MAX_WORDS = 4,
	/*
	 * cidr strictly increases down the trie, so a path holds at most
	 * AIP_MAX_BITS + 1 nodes; a pre-order walk keeps at most one pending
	 * right child per node on the path.
	 */
	AIP_STACK_DEPTH = AIP_MAX_BITS + 1,
};

struct aip_family_info {
	int af;
	uint8_t bits;
	uint8_t words;
};

static const struct aip_family_info aip_families[AIP_FAMILIES] = {
	[AIP_V4] = { .af = AF_INET, .bits = 32, .words = 1 },
	[AIP_V6] = { .af = AF_INET6, .bits = 128, .words = 4 },
};

/*
 * A trie node.  Keys are held as host-order 32-bit words so that lookups
 * compare whole words: an IPv4 address is one word, an IPv6 address four.
 * Bit 0 is the most significant bit of word 0.  The key is always masked
 * to cidr, and the node is allocated with exactly as many key words as its
 * family needs.
 *
 * A node with a peer is on that peer's list for its family: next is the
 * following node, pprev the link that points at this one (the owner's head
 * or the previous node's next), so that one node leaves its list in O(1)
 * wherever it stands.  A UAPI set that hands a peer 100,000 prefixes
 * another peer held would otherwise walk that peer's list for each.  A node
 * without a peer exists only because it branches: it has exactly two
 * children.  A node shorter than its family's full length is the node
 * member of a struct aip_inner, which holds its children; a full-length
 * node cannot have any, and is allocated alone.
 */
struct aip_node {
	struct peer *peer;
	struct aip_node *next;
	struct aip_node **pprev;
	uint8_t cidr;
	uint32_t key[];
};

struct aip_inner {
	struct aip_node *child[2];
	struct aip_node node;		/* last: its key follows */
};

/*
 * The four kinds of node, each of one size: per family, full-length leaves
 * and nodes with children.
 */
enum aip_kind {
	AIP_KIND_V4_FULL,
	AIP_KIND_V4_INNER,
	AIP_KIND_V6_FULL,
	AIP_KIND_V6_INNER,
	AIP_KINDS,
};

enum aip_pool_limits {
	/*
	 * Slab bytes, malloc header included, so that a slab is one malloc
	 * chunk of 64 KiB, under the mmap threshold: mallinfo2() counts it.
	 */
	AIP_SLAB_BYTES = 64 * 1024 - 16,
	AIP_SLOT_ALIGN = 8,
};

/* A slab's header; the slots follow it. */
struct aip_slab {
	struct aip_slab *next;
};

/* A slot on a pool's free list holds only the link to the next one. */
struct aip_free_slot {
	struct aip_free_slot *next;
};

/*
 * Exact-size slots of one node kind, carved from slabs that hold only that
 * kind, so that the nodes of one family lie together for lookups.  A freed
 * slot goes on the free list and is reused before the current slab is cut
 * further.  A slab is not returned before allowedips_free(), even when
 * all its slots are free: that would need a count per slab and a way from
 * a slot to its slab, for memory the table is likely to need again when
 * peers come back, and which the daemon keeps locked in RAM regardless.
 * The pool thus holds the table's peak number of nodes of each kind.
 */
struct aip_pool {
	struct aip_slab *slabs;
	struct aip_free_slot *free;
	char *cut;			/* next uncut slot of slabs, */
	char *end;			/* and the end of that slab */
	size_t slot;			/* bytes */
	size_t per_slab;		/* slots; tests make it small */
};

struct allowedips {
	struct aip_node *root[AIP_FAMILIES];
	size_t nodes[AIP_FAMILIES];
	size_t owner_offset;		/* of the peer's allowedips_owner */
	struct aip_pool pool[AIP_KINDS];
};

/*
 * A pre-order iterator that needs no allocation.  It reads a node's
 * children before handing the node out, so the caller may free it.
 */
struct aip_iter {
	struct aip_node *stack[AIP_STACK_DEPTH];
	size_t depth;
	struct aip_node *next;
	unsigned int bits;
};

static int family_index(int af)
{
	if (af == AF_INET)
		return AIP_V4;
	if (af == AF_INET6)
		return AIP_V6;
	return -1;
}

static void key_from_addr(uint32_t key[AIP_MAX_WORDS], int fi,
			  const void *addr)
{
	uint32_t a[AIP_MAX_WORDS] = { 0 };
	unsigned int i;

	memcpy(a, addr, aip_families[fi].words * sizeof(a[0]));
	for (i = 0; i < AIP_MAX_WORDS; i++)
		key[i] = be32toh(a[i]);
}

static void key_to_addr(uint8_t addr[16], int fi, const uint32_t *key)
{
	uint32_t a[AIP_MAX_WORDS];
	unsigned int i, words = aip_families[fi].words;

	for (i = 0; i < words; i++)
		a[i] = htobe32(key[i]);
	memcpy(addr, a, words * sizeof(a[0]));
}

/* The bits of key word @word that lie inside a prefix of length @cidr. */
static inline uint32_t word_mask(unsigned int cidr, unsigned int word)
{
	unsigned int first = word * 32;

	if (cidr <= first)
		return 0;
	if (cidr >= first + 32)
		return UINT32_MAX;
	return UINT32_MAX << (32 - (cidr - first));
}

static void key_mask(uint32_t key[AIP_MAX_WORDS], unsigned int cidr)
{
	unsigned int i;

	for (i = 0; i < AIP_MAX_WORDS; i++)
		key[i] &= word_mask(cidr, i);
}

static inline unsigned int key_bit(const uint32_t *key, unsigned int pos)
{
	return (key[pos / 32] >> (31 - pos % 32)) & 1;
}

/* A node's children; only for a node shorter than its family's length. */
static inline struct aip_node **node_child(const struct aip_node *node)
{
	struct aip_inner *in = (struct aip_inner *)((char *)node -
					offsetof(struct aip_inner, node));

	return in->child;
}

static inline bool node_full(const struct aip_node *node, unsigned int bits)
{
	return node->cidr == bits;
}

/* Does @key fall inside the prefix of @node? */
static inline bool node_covers(const struct aip_node *node,
			       const uint32_t *key, unsigned int words)
{
	unsigned int i;

	for (i = 0; i < words; i++)
		if ((key[i] ^ node->key[i]) & word_mask(node->cidr, i))
			return false;
	return true;
}

/* Number of leading bits @a and @b share, at most @limit. */
static unsigned int common_bits(const uint32_t *a, const uint32_t *b,
				unsigned int words, unsigned int limit)
{
	unsigned int i, n;
	uint32_t diff;

	for (i = 0; i < words; i++) {
		diff = a[i] ^ b[i];
		if (diff) {
			n = i * 32 + (unsigned int)__builtin_clz(diff);
			return n < limit ? n : limit;
		}
	}
	return limit;
}

static size_t slot_round(size_t bytes)
{
	return (bytes + AIP_SLOT_ALIGN - 1) & ~(size_t)(AIP_SLOT_ALIGN - 1);
}

/* Bytes of a node of family @fi, to its key's end (sizeof would round). */
static size_t node_bytes(int fi)
{
	return offsetof(struct aip_node, key) +
	       aip_families[fi].words * sizeof(uint32_t);
}

static void pool_init(struct aip_pool *p, size_t bytes)
{
	p->slot = slot_round(bytes);
	p->per_slab = (AIP_SLAB_BYTES - sizeof(struct aip_slab)) / p->slot;
}

/*
 * Starts a new slab.  On failure the pool is as it was, so a node that
 * cannot be had leaves the table unchanged.
 */
static int pool_grow(struct aip_pool *p)
{
	size_t head = slot_round(sizeof(struct aip_slab));
	struct aip_slab *slab;

	slab = malloc(head + p->per_slab * p->slot);
	if (!slab)
		return -ENOMEM;
	slab->next = p->slabs;
	p->slabs = slab;
	p->cut = (char *)slab + head;
	p->end = p->cut + p->per_slab * p->slot;
	return 0;
}

static void *pool_get(struct aip_pool *p)
{
	struct aip_free_slot *f = p->free;

	if (f) {
		p->free = f->next;
		return f;
	}
	if (p->cut == p->end && pool_grow(p))
		return NULL;
	p->cut += p->slot;
	return p->cut - p->slot;
}

static void pool_put(struct aip_pool *p, void *slot)
{
	struct aip_free_slot *f = slot;

	f->next = p->free;
	p->free = f;
}

static void pool_free(struct aip_pool *p)
{
	struct aip_slab *slab;

	while ((slab = p->slabs)) {
		p->slabs = slab->next;
		free(slab);
	}
	p->free = NULL;
	p->cut = NULL;
	p->end = NULL;
}

static struct aip_pool *node_pool(struct allowedips *t, int fi,
				  unsigned int cidr)
{
	int kind = fi == AIP_V4 ? AIP_KIND_V4_FULL : AIP_KIND_V6_FULL;

	if (cidr != aip_families[fi].bits)
		kind++;
	return &t->pool[kind];
}

static struct aip_node *node_new(struct allowedips *t, int fi,
				 const uint32_t *key, unsigned int cidr)
{
	unsigned int words = aip_families[fi].words, i;
	void *slot = pool_get(node_pool(t, fi, cidr));
	struct aip_inner *in = slot;
	struct aip_node *node = slot;

	if (!slot)
		return NULL;
	if (cidr != aip_families[fi].bits) {
		in->child[0] = NULL;
		in->child[1] = NULL;
		node = &in->node;
	}
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
	struct aip_pool *p = node_pool(t, fi, node->cidr);

	t->nodes[fi]--;
	if (node_full(node, aip_families[fi].bits))
		pool_put(p, node);
	else
		pool_put(p, node_child(node));
}

static void iter_start(struct aip_iter *it, int fi, struct aip_node *root)
{
	it->depth = 0;
	it->next = root;
	it->bits = aip_families[fi].bits;
}

static struct aip_node *iter_next(struct aip_iter *it)
{
	struct aip_node *node = it->next;

	if (!node) {
		if (!it->depth)
			return NULL;
		node = it->stack[--it->depth];
	}
	it->next = NULL;
	if (!node_full(node, it->bits)) {
		if (node_child(node)[1])
			it->stack[it->depth++] = node_child(node)[1];
		it->next = node_child(node)[0];
	}
	return node;
}

static struct allowedips_owner *owner_of(const struct allowedips *t,
					 const struct peer *peer)
{
	return (struct allowedips_owner *)((char *)peer + t->owner_offset);
}

static void node_own(struct allowedips *t, struct peer *peer, int fi,
		     struct aip_node *node)
{
	struct allowedips_owner *o = owner_of(t, peer);

	node->peer = peer;
	node->next = o->head[fi];
	if (node->next)
		node->next->pprev = &node->next;
	node->pprev = &o->head[fi];
	o->head[fi] = node;
}

/* Takes the node off its peer's list, wherever it stands in it. */
static void node_disown(struct aip_node *node)
{
	*node->pprev = node->next;
	if (node->next)
		node->next->pprev = node->pprev;
	node->next = NULL;
	node->pprev = NULL;
	node->peer = NULL;
}

/* Gives an existing node to @peer, taking it from its previous owner. */
static void node_reassign(struct allowedips *t, int fi, struct aip_node *node,
			  struct peer *peer)
{
	if (node->peer == peer)
		return;
	if (node->peer)
		node_disown(node);
	node_own(t, peer, fi, node);
}

static int trie_insert(struct allowedips *t, int fi, const uint32_t *key,
		       unsigned int cidr, struct peer *peer)
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
			node_reassign(t, fi, node, peer);
			return 0;
		}
		/* Shorter than the new prefix, so not of full length. */
		link = &node_child(node)[key_bit(key, node->cidr)];
	}

	leaf = node_new(t, fi, key, cidr);
	if (!leaf)
		return -ENOMEM;
	if (!node) {
		*link = leaf;
	} else if (common == cidr) {
		/* The new prefix contains @node: it goes in above it. */
		node_child(leaf)[key_bit(node->key, cidr)] = node;
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
		node_child(branch)[key_bit(key, common)] = leaf;
		node_child(branch)[key_bit(node->key, common)] = node;
		*link = branch;
	}
	node_own(t, peer, fi, leaf);
	return 0;
}

/* The node holding exactly @key/@cidr, with or without a peer. */
static struct aip_node *trie_find(struct aip_node *node, int fi,
				  const uint32_t *key, unsigned int cidr)
{
	unsigned int words = aip_families[fi].words;

	while (node && node->cidr < cidr) {
		if (!node_covers(node, key, words))
			return NULL;
		node = node_child(node)[key_bit(key, node->cidr)];
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
	struct aip_node *parent = NULL, *node, *child = NULL, **kids;

	while ((node = *link) != target) {
		parent_link = link;
		parent = node;
		link = &node_child(node)[key_bit(target->key, node->cidr)];
	}
	if (!node_full(target, aip_families[fi].bits)) {
		kids = node_child(target);
		if (kids[0] && kids[1])
			return;
		child = kids[0] ? kids[0] : kids[1];
	}
	*link = child;
	node_free(t, fi, target);
	if (child || !parent || parent->peer)
		return;
	kids = node_child(parent);
	*parent_link = kids[0] ? kids[0] : kids[1];
	node_free(t, fi, parent);
}

/*
 * Longest-prefix match.  A node that does not cover the key ends the
 * search, as nothing below it can.  Inlined with constant @words and @bits
 * so each family gets its own straight-line loop.
 */
static inline struct peer *trie_lookup(const struct aip_node *node,
				       const uint32_t *key, unsigned int words,
				       unsigned int bits)
{
	struct peer *best = NULL;

	while (node && node_covers(node, key, words)) {
		if (node->peer)
			best = node->peer;
		if (node_full(node, bits))
			break;
		node = node_child(node)[key_bit(key, node->cidr)];
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

	iter_start(&it, fi, root);
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
			*(struct aip_node *const *)b, 4);
}

/*
 * Visits the peer's nodes of one family in order.  Sorting the peer's
 * list costs O(k log k) for k prefixes, which beats walking the whole trie
 * unless the peer owns a large share of it.  The walk needs no memory, so
 * it is also the fallback when the sort array cannot be allocated.
 */
static int walk_owner(const struct allowedips *t, struct peer *peer, int fi,
		      allowedips_walk_fn cb, void *ctx)
{
	struct aip_node *head = owner_of(t, peer)->head[fi], **nodes, *node;
	size_t n = 0, i = 0;
	int ret = 0;

	for (node = head; node; node = node->next)
		n++;
	if (!n)
		return 0;
	if (n * 2 >= t->nodes[fi])
		return walk_trie(t->root[fi], fi, peer, cb, ctx);
	nodes = malloc(n * sizeof(*nodes));
	if (!nodes)
		return walk_trie(t->root[fi], fi, peer, cb, ctx);
	for (node = head; node; node = node->next)
		nodes[i++] = node;
	qsort(nodes, n, sizeof(*nodes),
	      fi == AIP_V4 ? node_cmp_v4 : node_cmp_v6);
	for (i = 0; i < n && !ret; i++)
		ret = node_emit(nodes[i], fi, cb, ctx);
	free(nodes);
	return ret;
}

int allowedips_init(struct allowedips **out, size_t owner_offset)
{
	struct allowedips *t;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->owner_offset = owner_offset;
	pool_init(&t->pool[AIP_KIND_V4_FULL], node_bytes(AIP_V4));
	pool_init(&t->pool[AIP_KIND_V4_INNER],
		  offsetof(struct aip_inner, node) + node_bytes(AIP_V4));
	pool_init(&t->pool[AIP_KIND_V6_FULL], node_bytes(AIP_V6));
	pool_init(&t->pool[AIP_KIND_V6_INNER],
		  offsetof(struct aip_inner, node) + node_bytes(AIP_V6));
	*out = t;
	return 0;
}

void allowedips_free(struct allowedips *t)
{
	int kind;

	if (!t)
		return;
	/* The nodes are all in the slabs: no need to walk the tries. */
	for (kind = 0; kind < AIP_KINDS; kind++)
		pool_free(&t->pool[kind]);
	free(t);
}

int allowedips_insert(struct allowedips *t, int family, const void *addr,
		      uint8_t cidr, struct peer *peer)
{
	int fi = family_index(family);
	uint32_t key[AIP_MAX_WORDS];

	if (fi < 0 || cidr > aip_families[fi].bits || !peer)
		return -EINVAL;
	key_from_addr(key, fi, addr);
	key_mask(key, cidr);
	return trie_insert(t, fi, key, cidr, peer);
}

int allowedips_remove(struct allowedips *t, int family, const void *addr,
		      uint8_t cidr, struct peer *peer)
{
	int fi = family_index(family);
	uint32_t key[AIP_MAX_WORDS];
	struct aip_node *node;

	if (fi < 0 || cidr > aip_families[fi].bits)
		return -EINVAL;
	key_from_addr(key, fi, addr);
	key_mask(key, cidr);
	node = trie_find(t->root[fi], fi, key, cidr);
	/* A peerless node is only a branch: it is not a route to remove. */
	if (!node || !node->peer || node->peer != peer)
		return -ENOENT;
	node_disown(node);
	trie_prune(t, fi, node);
	return 0;
}

void allowedips_remove_by_peer(struct allowedips *t, struct peer *peer)
{
	struct allowedips_owner *o = owner_of(t, peer);
	struct aip_node *node;
	int fi;

	for (fi = 0; fi < AIP_FAMILIES; fi++) {
		while ((node = o->head[fi])) {
			node_disown(node);
			trie_prune(t, fi, node);
		}
	}
}

struct peer *allowedips_lookup(const struct allowedips *t, int family,
			       const void *addr)
{
	int fi = family_index(family);
	uint32_t key[AIP_MAX_WORDS];

	if (fi < 0)
		return NULL;
	key_from_addr(key, fi, addr);
	if (fi == AIP_V4)
		return trie_lookup(t->root[AIP_V4], key, 1, 32);
	return trie_lookup(t->root[AIP_V6], key, 4, 128);
}

int allowedips_walk_by_peer(const struct allowedips *t, struct peer *peer,
			    allowedips_walk_fn cb, void *ctx)
{
	int fi, ret;

	for (fi = 0; fi < AIP_FAMILIES; fi++) {
		ret = walk_owner(t, peer, fi, cb, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

size_t allowedips_node_count(const struct allowedips *t)
{
	return t->nodes[AIP_V4] + t->nodes[AIP_V6];
}
