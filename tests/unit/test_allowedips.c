/* SPDX-License-Identifier: MIT */
/*
 * Tests of the allowed-IPs trie (vpnd/allowedips.c): fixed cases for each
 * rule of cryptokey routing, walk order, allocation failures, and a long
 * randomized run checked against a linear reference table.
 *
 * The .c is included so that the tests can check the trie's internal
 * invariants, and so that its malloc and calloc can be made to fail on
 * demand.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/*
 * Allocation failure injection.  The counter has to be file scope because
 * the code under test calls malloc without any context to carry it; only
 * the tests touch it, and they run one at a time.  -1 disables injection;
 * otherwise the allocation with that ordinal (0 = the next one) fails.
 */
static long fail_nth = -1;

static bool alloc_should_fail(void)
{
	if (fail_nth < 0)
		return false;
	return fail_nth-- == 0;
}

static void *faulty_malloc(size_t size)
{
	return alloc_should_fail() ? NULL : malloc(size);
}

static void *faulty_calloc(size_t n, size_t size)
{
	return alloc_should_fail() ? NULL : calloc(n, size);
}

/* A macro is the only way to reach the calls inside the included file. */
#define malloc(size) faulty_malloc(size)
#define calloc(n, size) faulty_calloc(n, size)
#include "../../vpnd/allowedips.c"
#undef malloc
#undef calloc

enum { NPEERS = 32 };

/* Distinct addresses that stand in for peers; never dereferenced. */
struct fake_peer {
	struct allowedips_owner aips;	/* at offset 0: table_new() */
};

static struct fake_peer peer_tokens[NPEERS];

static struct peer *P(int i)
{
	if (i < 0)
		return NULL;
	return (struct peer *)(void *)&peer_tokens[i];
}

static int peer_no(const struct peer *p)
{
	if (!p)
		return -1;
	return (int)((const struct fake_peer *)(const void *)p - peer_tokens);
}

/* The peers that own at least one prefix. */
static size_t owners(void)
{
	size_t n = 0;

	for (int i = 0; i < NPEERS; i++)
		n += peer_tokens[i].aips.head[AIP_V4] ||
		     peer_tokens[i].aips.head[AIP_V6];
	return n;
}

struct prefix {
	int af;
	uint8_t addr[16];
	uint8_t cidr;
};

static int af_bits(int af)
{
	return af == AF_INET ? 32 : 128;
}

static int af_bytes(int af)
{
	return af == AF_INET ? 4 : 16;
}

/* Parses "addr" or "addr/cidr"; a missing cidr means a host route. */
static struct prefix pfx(const char *s)
{
	struct prefix p;
	char buf[64];
	char *slash;

	memset(&p, 0, sizeof(p));
	assert_true(strlen(s) < sizeof(buf));
	strcpy(buf, s);
	p.af = strchr(buf, ':') ? AF_INET6 : AF_INET;
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		p.cidr = (uint8_t)atoi(slash + 1);
	} else {
		p.cidr = (uint8_t)af_bits(p.af);
	}
	assert_int_equal(inet_pton(p.af, buf, p.addr), 1);
	return p;
}

static int ins(struct allowedips *t, const char *s, int peer)
{
	struct prefix p = pfx(s);

	return allowedips_insert(t, p.af, p.addr, p.cidr, P(peer));
}

static int del(struct allowedips *t, const char *s, int peer)
{
	struct prefix p = pfx(s);

	return allowedips_remove(t, p.af, p.addr, p.cidr, P(peer));
}

static int look(const struct allowedips *t, const char *s)
{
	struct prefix p = pfx(s);

	return peer_no(allowedips_lookup(t, p.af, p.addr));
}

static struct allowedips *table_new(void)
{
	struct allowedips *t = NULL;

	/* Each table starts with peers that own nothing. */
	memset(peer_tokens, 0, sizeof(peer_tokens));
	assert_int_equal(allowedips_init(&t, offsetof(struct fake_peer, aips)),
			 0);
	assert_non_null(t);
	return t;
}

/*
 * Makes every pool of @t cut slabs of @slots slots, so that a test reaches
 * slab boundaries after a few nodes.  Only before the first insert.
 */
static void pool_shrink(struct allowedips *t, size_t slots)
{
	int kind;

	for (kind = 0; kind < AIP_KINDS; kind++) {
		assert_null(t->pool[kind].slabs);
		t->pool[kind].per_slab = slots;
	}
}

static size_t pool_slabs(const struct aip_pool *p)
{
	const struct aip_slab *slab;
	size_t n = 0;

	for (slab = p->slabs; slab; slab = slab->next)
		n++;
	return n;
}

/* ---- Invariants, checked by walking the structure independently. ---- */

static size_t check_subtree(const struct aip_node *node, int fi,
			    const struct aip_node *parent, unsigned int bit,
			    size_t *owned)
{
	unsigned int words = aip_families[fi].words, i;
	size_t n = 1;

	if (!node)
		return 0;
	assert_true(node->cidr <= aip_families[fi].bits);
	for (i = 0; i < words; i++)
		assert_true((node->key[i] & ~word_mask(node->cidr, i)) == 0);
	if (parent) {
		/* A child extends its parent's prefix on the side it hangs. */
		assert_true(node->cidr > parent->cidr);
		assert_true(node_covers(parent, node->key, words));
		assert_int_equal(key_bit(node->key, parent->cidr), bit);
	}
	if (node->peer) {
		const struct aip_node *o;

		(*owned)++;
		/* It is on its own peer's list of this family. */
		o = ((const struct fake_peer *)(const void *)node->peer)
			    ->aips.head[fi];
		while (o && o != node)
			o = o->next;
		assert_ptr_equal(o, node);
	} else {
		/* On no list. */
		assert_null(node->next);
		assert_null(node->pprev);
		/* Minimality: a node without a peer must branch. */
		assert_false(node_full(node, aip_families[fi].bits));
		assert_non_null(node_child(node)[0]);
		assert_non_null(node_child(node)[1]);
	}
	/* A full-length node has no room for children: it has none. */
	if (node_full(node, aip_families[fi].bits))
		return n;
	n += check_subtree(node_child(node)[0], fi, node, 0, owned);
	n += check_subtree(node_child(node)[1], fi, node, 1, owned);
	return n;
}

/*
 * Checks every structural invariant and returns the number of nodes found
 * by traversal, which must agree with the maintained counter.
 */
static size_t check_table(const struct allowedips *t)
{
	size_t owned = 0, listed = 0, total = 0, n;
	struct aip_node *const *link;
	const struct aip_node *node;
	int fi, i;

	for (fi = 0; fi < AIP_FAMILIES; fi++) {
		n = check_subtree(t->root[fi], fi, NULL, 0, &owned);
		assert_int_equal(n, t->nodes[fi]);
		total += n;
	}
	/* Every listed node is the peer's, so with the count above, the
	 * lists hold exactly the nodes with a peer. */
	for (i = 0; i < NPEERS; i++) {
		for (fi = 0; fi < AIP_FAMILIES; fi++) {
			link = &peer_tokens[i].aips.head[fi];
			for (; (node = *link); link = &node->next) {
				assert_ptr_equal(node->peer, P(i));
				/* It knows what points at it, to leave in O(1). */
				assert_ptr_equal(node->pprev, link);
				listed++;
			}
		}
	}
	assert_int_equal(owned, listed);
	assert_int_equal(total, allowedips_node_count(t));
	return total;
}

/* ---- Walk collection. ---- */

struct walk_log {
	struct prefix *items;
	size_t n, cap;
	size_t stop_after;	/* 0: never stop */
	int stop_value;
};

static int walk_collect(void *ctx, int family, const uint8_t *addr,
			uint8_t cidr)
{
	struct walk_log *log = ctx;
	struct prefix *p;

	if (log->n == log->cap) {
		log->cap = log->cap ? log->cap * 2 : 16;
		log->items = realloc(log->items,
				     log->cap * sizeof(*log->items));
		assert_non_null(log->items);
	}
	p = &log->items[log->n++];
	memset(p, 0, sizeof(*p));
	p->af = family;
	memcpy(p->addr, addr, (size_t)af_bytes(family));
	p->cidr = cidr;
	if (log->stop_after && log->n == log->stop_after)
		return log->stop_value;
	return 0;
}

static void walk_log_reset(struct walk_log *log)
{
	free(log->items);
	memset(log, 0, sizeof(*log));
}

static bool prefix_equal(const struct prefix *a, const struct prefix *b)
{
	return a->af == b->af && a->cidr == b->cidr &&
	       memcmp(a->addr, b->addr, (size_t)af_bytes(a->af)) == 0;
}

static void print_prefix(const char *what, const struct prefix *p)
{
	char buf[INET6_ADDRSTRLEN];

	inet_ntop(p->af, p->addr, buf, sizeof(buf));
	print_error("%s %s/%u\n", what, buf, p->cidr);
}

/* The walk of @peer must list exactly @expected, in that order. */
static void assert_walk(const struct allowedips *t, int peer,
			const char *const *expected, size_t n)
{
	struct walk_log log = { 0 };
	struct prefix want;
	size_t i;

	assert_int_equal(allowedips_walk_by_peer(t, P(peer), walk_collect,
						 &log), 0);
	if (log.n != n) {
		for (i = 0; i < log.n; i++)
			print_prefix("walked", &log.items[i]);
	}
	assert_int_equal(log.n, n);
	for (i = 0; i < n; i++) {
		want = pfx(expected[i]);
		if (!prefix_equal(&log.items[i], &want)) {
			print_prefix("walked", &log.items[i]);
			print_prefix("wanted", &want);
		}
		assert_true(prefix_equal(&log.items[i], &want));
	}
	walk_log_reset(&log);
}

/* ---- Fixed cases. ---- */

struct route {
	const char *prefix;
	int peer;
};

struct probe {
	const char *addr;
	int peer;	/* -1: no route */
};

static void test_fixed_table(void **state)
{
	static const struct route routes[] = {
		{ "0.0.0.0/0", 0 },
		{ "10.0.0.0/8", 1 },
		{ "10.1.0.0/16", 2 },
		{ "10.1.2.0/24", 3 },
		{ "10.1.2.3/32", 4 },
		{ "192.168.1.1/32", 5 },
		{ "172.16.0.0/12", 6 },
		{ "10.128.0.0/9", 7 },
		{ "::/0", 8 },
		{ "2001:db8::/32", 9 },
		{ "2001:db8:1::/48", 10 },
		{ "2001:db8:1::1/128", 11 },
		{ "fe80::/10", 12 },
		{ "2001:db8:8000::/33", 13 },
		{ "2001:db8:1:0:8000::/65", 14 },
	};
	static const struct probe probes[] = {
		{ "10.1.2.3", 4 },
		{ "10.1.2.2", 3 },
		{ "10.1.2.4", 3 },
		{ "10.1.2.255", 3 },
		{ "10.1.3.1", 2 },
		{ "10.2.0.0", 1 },
		{ "10.127.255.255", 1 },
		{ "10.128.0.0", 7 },
		{ "10.200.0.1", 7 },
		{ "11.0.0.0", 0 },
		{ "9.255.255.255", 0 },
		{ "192.168.1.1", 5 },
		{ "192.168.1.0", 0 },
		{ "192.168.1.2", 0 },
		{ "172.16.0.0", 6 },
		{ "172.31.255.255", 6 },
		{ "172.32.0.0", 0 },
		{ "0.0.0.0", 0 },
		{ "255.255.255.255", 0 },
		{ "2001:db8:1::1", 11 },
		{ "2001:db8:1::2", 10 },
		{ "2001:db8:1::", 10 },
		{ "2001:db8:1:0:7fff:ffff:ffff:ffff", 10 },
		{ "2001:db8:1:0:8000::", 14 },
		{ "2001:db8:1:0:ffff:ffff:ffff:ffff", 14 },
		{ "2001:db8:2::", 9 },
		{ "2001:db8:7fff:ffff:ffff:ffff:ffff:ffff", 9 },
		{ "2001:db8:8000::1", 13 },
		{ "2001:db9::", 8 },
		{ "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", 8 },
		{ "fe80::1", 12 },
		{ "febf:ffff::", 12 },
		{ "fec0::", 8 },
		{ "::", 8 },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 8 },
	};
	struct allowedips *t = table_new();
	size_t i;
	int got;

	(void)state;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		assert_int_equal(ins(t, routes[i].prefix, routes[i].peer), 0);
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		got = look(t, probes[i].addr);
		if (got != probes[i].peer)
			print_error("lookup %s: peer %d, wanted %d\n",
				    probes[i].addr, got, probes[i].peer);
		assert_int_equal(got, probes[i].peer);
	}
	/*
	 * 15 prefixes and two branches: 172.16/12 and 192.168.1.1 first
	 * differ at bit 1, so they meet at 128.0.0.0/1 below 0/0; the /128
	 * and the /65 under 2001:db8:1::/48 first differ at bit 64, so they
	 * meet at 2001:db8:1::/64.  Every other prefix hangs directly below
	 * the longest prefix that contains it.
	 */
	assert_int_equal(check_table(t), 17);
	allowedips_free(t);
}

static void test_no_default_route(void **state)
{
	struct allowedips *t = table_new();

	(void)state;
	assert_int_equal(look(t, "10.0.0.1"), -1);
	assert_int_equal(look(t, "::1"), -1);
	assert_int_equal(ins(t, "10.0.0.0/8", 1), 0);
	assert_int_equal(ins(t, "10.1.1.1/32", 2), 0);
	assert_int_equal(look(t, "10.1.1.1"), 2);
	assert_int_equal(look(t, "10.1.1.0"), 1);
	assert_int_equal(look(t, "11.0.0.0"), -1);
	assert_int_equal(look(t, "9.255.255.255"), -1);
	/* Exactly two nodes: the /32 hangs directly below the /8. */
	assert_int_equal(check_table(t), 2);
	allowedips_free(t);
}

static void test_families_apart(void **state)
{
	struct allowedips *t = table_new();
	uint8_t zero[16] = { 0 };

	(void)state;
	assert_int_equal(ins(t, "0.0.0.0/0", 1), 0);
	assert_int_equal(look(t, "1.2.3.4"), 1);
	assert_int_equal(look(t, "::"), -1);
	assert_int_equal(look(t, "::ffff:1.2.3.4"), -1);
	assert_int_equal(look(t, "2001:db8::1"), -1);
	/* The same bytes under the other family must not match either. */
	assert_null(allowedips_lookup(t, AF_INET6, zero));
	assert_non_null(allowedips_lookup(t, AF_INET, zero));

	assert_int_equal(ins(t, "::/0", 2), 0);
	assert_int_equal(look(t, "::"), 2);
	assert_int_equal(look(t, "1.2.3.4"), 1);
	assert_int_equal(del(t, "0.0.0.0/0", 1), 0);
	assert_int_equal(look(t, "1.2.3.4"), -1);
	assert_int_equal(look(t, "::1"), 2);
	/* Removing the IPv6 /0 as IPv4 must not find it. */
	assert_int_equal(del(t, "0.0.0.0/0", 2), -ENOENT);
	assert_int_equal(look(t, "::1"), 2);
	assert_int_equal(check_table(t), 1);
	allowedips_free(t);
}

static void test_host_bits_masked(void **state)
{
	static const char *const v4[] = { "10.0.0.0/8" };
	static const char *const both[] = { "0.0.0.0/0", "10.0.0.0/8",
					    "2001:db8::/32" };
	struct allowedips *t = table_new();

	(void)state;
	assert_int_equal(ins(t, "10.1.2.3/8", 1), 0);
	assert_int_equal(look(t, "10.200.0.1"), 1);
	assert_int_equal(look(t, "10.1.2.3"), 1);
	assert_int_equal(look(t, "11.1.2.3"), -1);
	assert_walk(t, 1, v4, 1);

	assert_int_equal(ins(t, "2001:db8:ffff::1234/32", 1), 0);
	assert_int_equal(ins(t, "255.255.255.255/0", 1), 0);
	assert_int_equal(look(t, "2001:db8::1"), 1);
	assert_int_equal(look(t, "2001:db9::1"), -1);
	assert_walk(t, 1, both, 3);

	/* Removal masks the same way, and the same prefix is one node. */
	assert_int_equal(ins(t, "10.9.9.9/8", 1), 0);
	assert_int_equal(check_table(t), 3);
	assert_int_equal(del(t, "10.255.0.0/8", 1), 0);
	assert_int_equal(del(t, "2001:db8:1::/32", 1), 0);
	assert_int_equal(del(t, "1.1.1.1/0", 1), 0);
	assert_int_equal(check_table(t), 0);
	allowedips_free(t);
}

static void test_replace(void **state)
{
	static const char *const one[] = { "10.0.0.0/8" };
	static const char *const two[] = { "10.0.0.0/8", "10.0.0.0/16" };
	struct allowedips *t = table_new();

	(void)state;
	assert_int_equal(ins(t, "10.0.0.0/8", 1), 0);
	assert_int_equal(ins(t, "10.0.0.0/16", 1), 0);
	assert_int_equal(ins(t, "10.0.0.0/8", 2), 0);
	assert_int_equal(look(t, "10.1.0.0"), 2);
	assert_int_equal(look(t, "10.0.1.0"), 1);
	assert_walk(t, 2, one, 1);
	assert_walk(t, 1, two + 1, 1);
	/* Re-inserting for the same owner changes nothing. */
	assert_int_equal(ins(t, "10.0.0.0/8", 2), 0);
	assert_walk(t, 2, one, 1);
	assert_int_equal(check_table(t), 2);

	/* The old owner can no longer remove it; the new one can. */
	assert_int_equal(del(t, "10.0.0.0/8", 1), -ENOENT);
	assert_int_equal(look(t, "10.1.0.0"), 2);
	assert_int_equal(ins(t, "10.0.0.0/16", 2), 0);
	assert_walk(t, 2, two, 2);
	assert_walk(t, 1, NULL, 0);
	assert_int_equal(owners(), 1);
	assert_int_equal(del(t, "10.0.0.0/8", 2), 0);
	assert_int_equal(look(t, "10.1.0.0"), -1);
	assert_int_equal(look(t, "10.0.1.0"), 2);
	assert_int_equal(check_table(t), 1);
	allowedips_free(t);
}

static void assert_probes(const struct allowedips *t,
			  const struct probe *probes, size_t n)
{
	size_t i;
	int got;

	for (i = 0; i < n; i++) {
		got = look(t, probes[i].addr);
		if (got != probes[i].peer)
			print_error("lookup %s: peer %d, wanted %d\n",
				    probes[i].addr, got, probes[i].peer);
		assert_int_equal(got, probes[i].peer);
	}
}

static void test_remove_one(void **state)
{
	static const struct probe before[] = {
		{ "10.0.0.1", 1 },  { "10.0.1.1", 2 }, { "10.1.0.1", 3 },
		{ "10.2.0.1", 1 },  { "fd00::1", 4 },  { "fd00:1::1", 5 },
		{ "fd01::", -1 },
	};
	static const struct probe after[] = {
		{ "10.0.0.1", 1 },  { "10.0.1.1", 1 }, { "10.1.0.1", 3 },
		{ "10.2.0.1", 1 },  { "fd00::1", -1 }, { "fd00:1::1", 5 },
		{ "fd01::", -1 },
	};
	const size_t n = sizeof(before) / sizeof(before[0]);
	struct allowedips *t = table_new();
	size_t nodes;

	(void)state;
	assert_int_equal(ins(t, "10.0.0.0/8", 1), 0);
	assert_int_equal(ins(t, "10.0.1.0/24", 2), 0);
	assert_int_equal(ins(t, "10.1.0.0/16", 3), 0);
	assert_int_equal(ins(t, "fd00::/64", 4), 0);
	assert_int_equal(ins(t, "fd00:1::/64", 5), 0);
	nodes = check_table(t);
	/*
	 * Five prefixes and two branches: 10.0.0.0/15 joins the /24 and the
	 * /16, and fd00::/31 joins the two /64s.
	 */
	assert_int_equal(nodes, 7);
	assert_probes(t, before, n);

	/* Wrong peer, no such prefix, a branch, a NULL peer: nothing moves. */
	assert_int_equal(del(t, "10.0.1.0/24", 1), -ENOENT);
	assert_int_equal(del(t, "10.0.1.0/24", 3), -ENOENT);
	assert_int_equal(del(t, "10.0.1.0/23", 2), -ENOENT);
	assert_int_equal(del(t, "10.0.1.0/25", 2), -ENOENT);
	assert_int_equal(del(t, "10.0.0.0/24", 2), -ENOENT);
	assert_int_equal(del(t, "10.0.0.0/15", 1), -ENOENT);
	assert_int_equal(del(t, "10.0.0.0/15", -1), -ENOENT);
	assert_int_equal(del(t, "fd00::/31", 4), -ENOENT);
	assert_int_equal(del(t, "fd00::/31", -1), -ENOENT);
	assert_int_equal(del(t, "fd00::/64", -1), -ENOENT);
	assert_int_equal(del(t, "fd00::/64", 5), -ENOENT);
	assert_int_equal(check_table(t), nodes);
	assert_probes(t, before, n);

	assert_int_equal(del(t, "10.0.1.0/24", 2), 0);
	assert_int_equal(del(t, "fd00::/64", 4), 0);
	/* Each branch went with its lost child. */
	assert_int_equal(check_table(t), 3);
	assert_probes(t, after, n);
	assert_int_equal(del(t, "10.0.1.0/24", 2), -ENOENT);
	assert_walk(t, 2, NULL, 0);
	assert_walk(t, 4, NULL, 0);
	assert_int_equal(owners(), 3);
	allowedips_free(t);
}

static void test_remove_middle_keeps_branch(void **state)
{
	struct allowedips *t = table_new();

	(void)state;
	/* 10/8 with two children: removing it must leave a branch node. */
	assert_int_equal(ins(t, "10.0.0.0/8", 1), 0);
	assert_int_equal(ins(t, "10.0.0.0/16", 2), 0);
	assert_int_equal(ins(t, "10.128.0.0/16", 3), 0);
	assert_int_equal(del(t, "10.0.0.0/8", 1), 0);
	assert_int_equal(check_table(t), 3);
	assert_int_equal(look(t, "10.1.0.0"), -1);
	assert_int_equal(look(t, "10.0.9.9"), 2);
	assert_int_equal(look(t, "10.128.9.9"), 3);
	/* Re-inserting at the branch's prefix reuses the node. */
	assert_int_equal(ins(t, "10.0.0.0/8", 4), 0);
	assert_int_equal(check_table(t), 3);
	assert_int_equal(look(t, "10.1.0.0"), 4);
	/* One child only: removing the /8 splices the /16 up. */
	assert_int_equal(del(t, "10.128.0.0/16", 3), 0);
	assert_int_equal(check_table(t), 2);
	assert_int_equal(del(t, "10.0.0.0/8", 4), 0);
	assert_int_equal(check_table(t), 1);
	assert_int_equal(look(t, "10.0.9.9"), 2);
	assert_int_equal(look(t, "10.1.0.0"), -1);
	allowedips_free(t);
}

static void test_remove_by_peer(void **state)
{
	static const struct probe before[] = {
		{ "10.0.0.1", 1 },  { "10.0.1.1", 2 }, { "10.0.1.5", 1 },
		{ "10.0.2.1", 1 },  { "10.9.0.0", 2 }, { "2001:db8::1", 1 },
		{ "2001:db8:1::1", 2 }, { "2001:db8:1::9", 1 },
		{ "2001:db9::", -1 },
	};
	static const struct probe after[] = {
		{ "10.0.0.1", -1 }, { "10.0.1.1", 2 }, { "10.0.1.5", 2 },
		{ "10.0.2.1", -1 }, { "10.9.0.0", 2 }, { "2001:db8::1", -1 },
		{ "2001:db8:1::1", 2 }, { "2001:db8:1::9", 2 },
		{ "2001:db9::", -1 },
	};
	static const char *const two[] = {
		"10.0.1.0/24", "10.9.0.0/16", "2001:db8:1::/48",
	};
	const size_t n = sizeof(before) / sizeof(before[0]);
	struct allowedips *t = table_new();

	(void)state;
	assert_int_equal(ins(t, "10.0.0.0/16", 1), 0);
	assert_int_equal(ins(t, "10.0.1.0/24", 2), 0);
	assert_int_equal(ins(t, "10.0.1.5/32", 1), 0);
	assert_int_equal(ins(t, "10.9.0.0/16", 2), 0);
	assert_int_equal(ins(t, "2001:db8::/32", 1), 0);
	assert_int_equal(ins(t, "2001:db8:1::/48", 2), 0);
	assert_int_equal(ins(t, "2001:db8:1::9/128", 1), 0);
	check_table(t);
	assert_probes(t, before, n);

	allowedips_remove_by_peer(t, P(7));	/* unknown: no effect */
	assert_probes(t, before, n);

	allowedips_remove_by_peer(t, P(1));
	assert_probes(t, after, n);
	assert_walk(t, 1, NULL, 0);
	assert_walk(t, 2, two, 3);
	/* Peer 2's three prefixes and the branch joining the IPv4 ones. */
	assert_int_equal(check_table(t), 4);
	assert_int_equal(owners(), 1);

	allowedips_remove_by_peer(t, P(2));
	assert_int_equal(check_table(t), 0);
	assert_int_equal(owners(), 0);
	assert_int_equal(look(t, "10.0.1.1"), -1);
	allowedips_free(t);
}

/*
 * One prefix at a time changes hands or goes, from the head, the middle and
 * the tail of its peer's list: each step must leave every peer's list
 * holding exactly its prefixes.  Five host routes per family for peers 1 to
 * 3; peer 0 owns many more, so that walking 1 to 3 sorts their own lists
 * instead of walking the trie, and a list that lost or kept a node shows.
 */
enum { MOVE_SLOTS = 5, MOVE_PEERS = 4 };

static const char *const move_v4[MOVE_SLOTS] = {
	"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5",
};
static const char *const move_v6[MOVE_SLOTS] = {
	"fd00::1", "fd00::2", "fd00::3", "fd00::4", "fd00::5",
};

/* Who owns each slot of each family: a peer, or -1. */
struct move_state {
	struct allowedips *t;
	int v4[MOVE_SLOTS], v6[MOVE_SLOTS];
};

static void move_table_new(struct move_state *m)
{
	char buf[64];
	int i;

	m->t = table_new();
	for (i = 0; i < MOVE_SLOTS; i++) {
		m->v4[i] = -1;
		m->v6[i] = -1;
	}
	for (i = 0; i < 64; i++) {
		snprintf(buf, sizeof(buf), "192.168.%d.0/24", i);
		assert_int_equal(ins(m->t, buf, 0), 0);
		snprintf(buf, sizeof(buf), "fd80:%x::/32", i);
		assert_int_equal(ins(m->t, buf, 0), 0);
	}
	assert_true(MOVE_SLOTS * 2 < m->t->nodes[AIP_V4]);
	assert_true(MOVE_SLOTS * 2 < m->t->nodes[AIP_V6]);
}

/* Every peer's walk, every slot's lookup, and the table's invariants. */
static void move_check(const struct move_state *m)
{
	const char *want[2 * MOVE_SLOTS];
	size_t n;
	int peer, i;

	for (peer = 1; peer < MOVE_PEERS; peer++) {
		n = 0;
		for (i = 0; i < MOVE_SLOTS; i++)
			if (m->v4[i] == peer)
				want[n++] = move_v4[i];
		for (i = 0; i < MOVE_SLOTS; i++)
			if (m->v6[i] == peer)
				want[n++] = move_v6[i];
		assert_walk(m->t, peer, want, n);
	}
	for (i = 0; i < MOVE_SLOTS; i++) {
		assert_int_equal(look(m->t, move_v4[i]), m->v4[i]);
		assert_int_equal(look(m->t, move_v6[i]), m->v6[i]);
	}
	check_table(m->t);
}

/* Slot @i of a family goes to @peer (inserted or moved), then checks. */
static void move_give(struct move_state *m, int v6, int i, int peer)
{
	int *own = v6 ? m->v6 : m->v4;

	assert_int_equal(ins(m->t, (v6 ? move_v6 : move_v4)[i], peer), 0);
	own[i] = peer;
	move_check(m);
}

/* Slot @i of a family is removed by its owner, then checks. */
static void move_take(struct move_state *m, int v6, int i)
{
	int *own = v6 ? m->v6 : m->v4;
	const char *p = (v6 ? move_v6 : move_v4)[i];

	/* Nobody else may remove it. */
	assert_int_equal(del(m->t, p, own[i] == 1 ? 2 : 1), -ENOENT);
	assert_int_equal(del(m->t, p, own[i]), 0);
	assert_int_equal(del(m->t, p, own[i]), -ENOENT);
	own[i] = -1;
	move_check(m);
}

static void move_drop_peer(struct move_state *m, int peer)
{
	int i;

	allowedips_remove_by_peer(m->t, P(peer));
	for (i = 0; i < MOVE_SLOTS; i++) {
		if (m->v4[i] == peer)
			m->v4[i] = -1;
		if (m->v6[i] == peer)
			m->v6[i] = -1;
	}
	move_check(m);
}

/*
 * A step of a scenario: slot @slot of a family given to @peer (inserted or
 * moved), or removed by its owner, or every prefix of @peer dropped; the
 * whole table is checked after each.
 */
enum move_op { MOVE_GIVE, MOVE_TAKE, MOVE_DROP, MOVE_FILL };

struct move_step {
	enum move_op op;
	int v6, slot, peer;
};

static void move_run(const struct move_step *steps, size_t n)
{
	struct move_state m;
	size_t i;
	int slot;

	move_table_new(&m);
	for (i = 0; i < n; i++) {
		switch (steps[i].op) {
		case MOVE_GIVE:
			move_give(&m, steps[i].v6, steps[i].slot,
				  steps[i].peer);
			break;
		case MOVE_TAKE:
			move_take(&m, steps[i].v6, steps[i].slot);
			break;
		case MOVE_DROP:
			move_drop_peer(&m, steps[i].peer);
			break;
		case MOVE_FILL:
			/* Each new node goes to the head of its list: slot 0
			 * ends at the tail, slot 4 at the head. */
			for (slot = 0; slot < MOVE_SLOTS; slot++) {
				move_give(&m, 0, slot, steps[i].peer);
				move_give(&m, 1, slot, steps[i].peer);
			}
			break;
		}
	}
	/* Only peer 0's 64 prefixes of each family and their branches. */
	assert_int_equal(owners(), 1);
	assert_int_equal(check_table(m.t), 2 * (64 + 63));
	allowedips_free(m.t);
}

/*
 * Moves from peer 1's list to peer 2's and on to 3's, removals, drops and
 * refills, each from the head, the middle or the tail of a list.
 */
static void test_one_prefix_at_a_time(void **state)
{
	static const struct move_step steps[] = {
		{ MOVE_FILL, 0, 0, 1 },
		/* From peer 1's middle, tail and head; IPv6 another way. */
		{ MOVE_GIVE, 0, 2, 2 }, { MOVE_GIVE, 1, 0, 2 },
		{ MOVE_GIVE, 0, 4, 2 }, { MOVE_GIVE, 1, 2, 2 },
		{ MOVE_GIVE, 0, 0, 2 }, { MOVE_GIVE, 1, 4, 2 },
		/* Peer 1 keeps 1 and 3; peer 2's IPv4 list is 0, 4, 2 from
		 * its head: its middle, tail and last node go to peer 3. */
		{ MOVE_GIVE, 0, 4, 3 }, { MOVE_GIVE, 0, 2, 3 },
		{ MOVE_GIVE, 0, 0, 3 },
		/* Back to the first owner, and to the owner it has. */
		{ MOVE_GIVE, 0, 2, 1 }, { MOVE_GIVE, 0, 2, 1 },
		{ MOVE_GIVE, 1, 2, 1 },
		/* Dropping a peer leaves what moved away from it. */
		{ MOVE_DROP, 0, 0, 2 }, { MOVE_DROP, 0, 0, 3 },
		/* Gone prefixes come back as new nodes, to another peer. */
		{ MOVE_GIVE, 0, 0, 2 }, { MOVE_GIVE, 1, 4, 2 },
		{ MOVE_GIVE, 0, 4, 3 },
		{ MOVE_DROP, 0, 0, 1 }, { MOVE_DROP, 0, 0, 2 },
		{ MOVE_DROP, 0, 0, 3 },

		/* Removal from the middle, head and tail of peer 1's lists. */
		{ MOVE_FILL, 0, 0, 1 },
		{ MOVE_TAKE, 0, 2, 0 }, { MOVE_TAKE, 1, 0, 0 },
		{ MOVE_TAKE, 0, 4, 0 }, { MOVE_TAKE, 1, 2, 0 },
		{ MOVE_TAKE, 0, 0, 0 }, { MOVE_TAKE, 1, 4, 0 },
		/* Moved away, then removed by the peer it moved to. */
		{ MOVE_GIVE, 0, 3, 2 }, { MOVE_TAKE, 0, 1, 0 },
		{ MOVE_TAKE, 0, 3, 0 },
		/* The last one of a list, then the list refilled. */
		{ MOVE_TAKE, 1, 1, 0 }, { MOVE_TAKE, 1, 3, 0 },
		{ MOVE_FILL, 0, 0, 1 },
		{ MOVE_GIVE, 1, 2, 3 }, { MOVE_TAKE, 0, 2, 0 },
		{ MOVE_DROP, 0, 0, 1 }, { MOVE_TAKE, 1, 2, 0 },
	};

	(void)state;
	move_run(steps, sizeof(steps) / sizeof(steps[0]));
}

static void test_bad_args(void **state)
{
	struct allowedips *t = table_new();
	struct prefix p4 = pfx("10.0.0.0"), p6 = pfx("::");

	(void)state;
	assert_int_equal(allowedips_insert(t, AF_INET, p4.addr, 33, P(1)),
			 -EINVAL);
	assert_int_equal(allowedips_insert(t, AF_INET, p4.addr, 255, P(1)),
			 -EINVAL);
	assert_int_equal(allowedips_insert(t, AF_INET6, p6.addr, 129, P(1)),
			 -EINVAL);
	assert_int_equal(allowedips_insert(t, AF_UNIX, p6.addr, 8, P(1)),
			 -EINVAL);
	assert_int_equal(allowedips_insert(t, AF_INET, p4.addr, 8, NULL),
			 -EINVAL);
	assert_int_equal(allowedips_remove(t, AF_INET, p4.addr, 33, P(1)),
			 -EINVAL);
	assert_int_equal(allowedips_remove(t, AF_INET6, p6.addr, 129, P(1)),
			 -EINVAL);
	assert_int_equal(allowedips_remove(t, AF_PACKET, p6.addr, 0, P(1)),
			 -EINVAL);
	assert_int_equal(check_table(t), 0);
	assert_int_equal(owners(), 0);

	/* The longest legal prefixes are accepted. */
	assert_int_equal(allowedips_insert(t, AF_INET, p4.addr, 32, P(1)), 0);
	assert_int_equal(allowedips_insert(t, AF_INET6, p6.addr, 128, P(1)),
			 0);
	assert_null(allowedips_lookup(t, AF_UNIX, p4.addr));
	assert_ptr_equal(allowedips_lookup(t, AF_INET, p4.addr), P(1));
	assert_int_equal(check_table(t), 2);
	allowedips_free(t);
	allowedips_free(NULL);
}

/* ---- Walks. ---- */

static void test_walk_order(void **state)
{
	static const char *const inserted[] = {
		"10.0.0.0/24", "192.168.0.0/16", "10.0.0.1/32", "0.0.0.0/0",
		"fe80::/10", "10.0.0.0/8", "2001:db8::/48", "10.128.0.0/9",
		"9.255.255.255/32", "::1/128", "10.0.0.0/16", "::/0",
		"2001:db8::/32", "10.0.0.0/9", "2001:db8::/128",
		"255.255.255.255/32",
	};
	static const char *const sorted[] = {
		"0.0.0.0/0", "9.255.255.255/32", "10.0.0.0/8", "10.0.0.0/9",
		"10.0.0.0/16", "10.0.0.0/24", "10.0.0.1/32", "10.128.0.0/9",
		"192.168.0.0/16", "255.255.255.255/32",
		"::/0", "::1/128", "2001:db8::/32", "2001:db8::/48",
		"2001:db8::/128", "fe80::/10",
	};
	const size_t n = sizeof(sorted) / sizeof(sorted[0]);
	struct allowedips *t = table_new();
	struct walk_log log = { 0 };
	char other[64];
	size_t i;
	int ret;

	(void)state;
	assert_int_equal(sizeof(inserted) / sizeof(inserted[0]), n);
	for (i = 0; i < n; i++)
		assert_int_equal(ins(t, inserted[i], 1), 0);
	/* Peer 1 owns everything: this walks the trie. */
	assert_walk(t, 1, sorted, n);

	/* Now peer 1 owns a small share: this sorts its list. */
	for (i = 0; i < 200; i++) {
		snprintf(other, sizeof(other), "172.%zu.%zu.0/24", i % 16,
			 i);
		assert_int_equal(ins(t, other, 2), 0);
		snprintf(other, sizeof(other), "fd00:%zx::/32", i);
		assert_int_equal(ins(t, other, 3), 0);
	}
	assert_true(n * 2 < t->nodes[AIP_V4]);
	assert_true(n * 2 < t->nodes[AIP_V6]);
	assert_walk(t, 1, sorted, n);

	/* The sort cannot allocate: the walk falls back to the trie. */
	fail_nth = 0;
	assert_walk(t, 1, sorted, n);
	assert_int_equal(fail_nth, -1);
	fail_nth = -1;

	/* A non-zero callback value stops the walk and is returned. */
	log.stop_after = 3;
	log.stop_value = 42;
	ret = allowedips_walk_by_peer(t, P(1), walk_collect, &log);
	assert_int_equal(ret, 42);
	assert_int_equal(log.n, 3);
	walk_log_reset(&log);
	log.stop_after = 12;
	log.stop_value = -7;
	ret = allowedips_walk_by_peer(t, P(1), walk_collect, &log);
	assert_int_equal(ret, -7);
	assert_int_equal(log.n, 12);
	walk_log_reset(&log);

	/* A peer with nothing walks nothing. */
	assert_walk(t, 9, NULL, 0);
	check_table(t);
	allowedips_free(t);
}

/* ---- Allocation failures. ---- */

struct snapshot {
	size_t nodes, owners;
	struct walk_log walks[NPEERS];
};

static void snapshot_take(const struct allowedips *t, struct snapshot *s)
{
	int i;

	memset(s, 0, sizeof(*s));
	s->nodes = check_table(t);
	s->owners = owners();
	for (i = 0; i < NPEERS; i++)
		assert_int_equal(allowedips_walk_by_peer(t, P(i), walk_collect,
							 &s->walks[i]), 0);
}

static void snapshot_assert_same(const struct snapshot *a,
				 const struct snapshot *b)
{
	size_t j;
	int i;

	assert_int_equal(a->nodes, b->nodes);
	assert_int_equal(a->owners, b->owners);
	for (i = 0; i < NPEERS; i++) {
		assert_int_equal(a->walks[i].n, b->walks[i].n);
		for (j = 0; j < a->walks[i].n; j++)
			assert_true(prefix_equal(&a->walks[i].items[j],
						 &b->walks[i].items[j]));
	}
}

static void snapshot_free(struct snapshot *s)
{
	int i;

	for (i = 0; i < NPEERS; i++)
		walk_log_reset(&s->walks[i]);
}

static void test_enomem(void **state)
{
	struct allowedips *t = NULL;
	struct snapshot before, now;
	int failures = 0, ret;
	long nth;
	char buf[64];
	int i;

	(void)state;
	fail_nth = 0;
	assert_int_equal(allowedips_init(&t, 0), -ENOMEM);
	fail_nth = -1;

	for (nth = 0;; nth++) {
		t = table_new();
		/* One slot a slab: each new node needs an allocation. */
		pool_shrink(t, 1);
		for (i = 0; i < 16; i++) {
			snprintf(buf, sizeof(buf), "10.%d.0.0/16", i);
			assert_int_equal(ins(t, buf, i), 0);
		}
		snapshot_take(t, &before);
		/* A leaf and a branch: two allocations. */
		fail_nth = nth;
		ret = ins(t, "10.16.0.0/16", 20);
		fail_nth = -1;
		if (ret == -ENOMEM) {
			failures++;
			snapshot_take(t, &now);
			snapshot_assert_same(&before, &now);
			snapshot_free(&now);
			assert_int_equal(look(t, "10.16.0.1"), -1);
		} else {
			assert_int_equal(ret, 0);
			assert_int_equal(look(t, "10.16.0.1"), 20);
			assert_int_equal(check_table(t), before.nodes + 2);
		}
		snapshot_free(&before);
		allowedips_free(t);
		if (ret == 0 && nth > 4)
			break;
	}
	/* Leaf and branch can each fail. */
	assert_int_equal(failures, 2);
}

/* ---- The node pool. ---- */

/* A slab of the default size holds its slots and fits its malloc chunk. */
static void test_pool_sizes(void **state)
{
	struct allowedips *t = table_new();
	int kind;

	(void)state;
	assert_int_equal(t->pool[AIP_KIND_V4_FULL].slot, 32);
	assert_int_equal(t->pool[AIP_KIND_V4_INNER].slot, 48);
	assert_int_equal(t->pool[AIP_KIND_V6_FULL].slot, 48);
	assert_int_equal(t->pool[AIP_KIND_V6_INNER].slot, 64);
	for (kind = 0; kind < AIP_KINDS; kind++) {
		assert_int_equal(t->pool[kind].slot % AIP_SLOT_ALIGN, 0);
		assert_true(sizeof(struct aip_slab) +
			    t->pool[kind].per_slab * t->pool[kind].slot <=
			    AIP_SLAB_BYTES);
		assert_true(t->pool[kind].per_slab > 1000);
	}
	allowedips_free(t);
}

static int ins_host(struct allowedips *t, int family, unsigned int i,
		    int peer)
{
	uint8_t addr[16] = { 0xfd };

	addr[14] = (uint8_t)(i >> 8);
	addr[15] = (uint8_t)i;
	if (family == AF_INET)
		memcpy(addr, (uint8_t[]){ 10, 0, (uint8_t)(i >> 8),
					  (uint8_t)i }, 4);
	return allowedips_insert(t, family, addr,
				 family == AF_INET ? 32 : 128, P(peer));
}

/*
 * More nodes than a slab holds spill into new slabs; freed slots are used
 * again before any new slab is cut.
 */
static void test_pool_slabs_reused(void **state)
{
	struct allowedips *t = table_new();
	size_t slabs[AIP_KINDS];
	unsigned int i, n = 100;
	int kind, round;

	(void)state;
	pool_shrink(t, 3);
	for (round = 0; round < 3; round++) {
		for (i = 0; i < n; i++) {
			assert_int_equal(ins_host(t, AF_INET, i, 1), 0);
			assert_int_equal(ins_host(t, AF_INET6, i, 2), 0);
		}
		check_table(t);
		/* n leaves and n - 1 branches of each family. */
		assert_int_equal(allowedips_node_count(t), 4 * n - 2);
		for (kind = 0; kind < AIP_KINDS; kind++) {
			if (!round)
				slabs[kind] = pool_slabs(&t->pool[kind]);
			assert_int_equal(pool_slabs(&t->pool[kind]),
					 slabs[kind]);
		}
		assert_int_equal(slabs[AIP_KIND_V4_FULL], (n + 2) / 3);
		assert_int_equal(slabs[AIP_KIND_V4_INNER], (n - 1 + 2) / 3);
		assert_int_equal(look(t, "10.0.0.99"), 1);
		assert_int_equal(look(t, "fd00::63"), 2);
		allowedips_remove_by_peer(t, P(round == 1 ? 2 : 1));
		allowedips_remove_by_peer(t, P(round == 1 ? 1 : 2));
		assert_int_equal(allowedips_node_count(t), 0);
	}
	allowedips_free(t);
}

/*
 * A new slab that cannot be had fails the insert and leaves the table as
 * it was, at every slab boundary; between boundaries nothing can fail.
 */
static void test_pool_enomem_at_boundary(void **state)
{
	struct snapshot before, now;
	struct allowedips *t;
	size_t per_slab;
	unsigned int i, failures;
	int family, ret;

	(void)state;
	for (per_slab = 1; per_slab <= 4; per_slab++) {
		failures = 0;
		t = table_new();
		pool_shrink(t, per_slab);
		for (i = 0; i < 24; i++) {
			family = i % 2 ? AF_INET6 : AF_INET;
			snapshot_take(t, &before);
			fail_nth = 0;
			ret = ins_host(t, family, i, (int)i % NPEERS);
			/* Unspent: the insert allocated nothing. */
			if (fail_nth == 0)
				assert_int_equal(ret, 0);
			fail_nth = -1;
			if (ret == -ENOMEM) {
				failures++;
				snapshot_take(t, &now);
				snapshot_assert_same(&before, &now);
				snapshot_free(&now);
				assert_int_equal(ins_host(t, family, i,
							  (int)i % NPEERS), 0);
			}
			snapshot_free(&before);
			check_table(t);
		}
		/* Each insert needs a leaf; every per_slab-th a new slab. */
		assert_true(failures >= 24 / per_slab);
		allowedips_free(t);
	}
}

/* ---- Randomized comparison with a linear reference. ---- */

struct rng {
	uint64_t s;
};

/* splitmix64: small, fast and deterministic for a fixed seed. */
static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static unsigned int rng_below(struct rng *r, unsigned int n)
{
	return (unsigned int)(rng_next(r) % n);
}

struct ref_entry {
	struct prefix p;
	int peer;
};

struct ref {
	struct ref_entry *e;
	size_t n, cap;
};

static uint8_t byte_mask(int cidr, int byte)
{
	int bits = cidr - byte * 8;

	if (bits <= 0)
		return 0;
	if (bits >= 8)
		return 0xff;
	return (uint8_t)(0xff << (8 - bits));
}

static void prefix_mask(struct prefix *p)
{
	int i;

	for (i = 0; i < 16; i++)
		p->addr[i] &= i < af_bytes(p->af) ? byte_mask(p->cidr, i) : 0;
}

static bool ref_covers(const struct prefix *p, int af, const uint8_t *addr)
{
	int i, n = af_bytes(af);

	if (p->af != af)
		return false;
	for (i = 0; i < n && i * 8 < p->cidr; i++)
		if ((addr[i] ^ p->addr[i]) & byte_mask(p->cidr, i))
			return false;
	return true;
}

static struct ref_entry *ref_find(struct ref *r, const struct prefix *p)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (prefix_equal(&r->e[i].p, p))
			return &r->e[i];
	return NULL;
}

static void ref_insert(struct ref *r, struct prefix p, int peer)
{
	struct ref_entry *e;

	prefix_mask(&p);
	e = ref_find(r, &p);
	if (e) {
		e->peer = peer;
		return;
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		r->e = realloc(r->e, r->cap * sizeof(*r->e));
		assert_non_null(r->e);
	}
	r->e[r->n].p = p;
	r->e[r->n].peer = peer;
	r->n++;
}

static int ref_remove(struct ref *r, struct prefix p, int peer)
{
	struct ref_entry *e;

	prefix_mask(&p);
	e = ref_find(r, &p);
	if (!e || e->peer != peer)
		return -ENOENT;
	*e = r->e[--r->n];
	return 0;
}

static void ref_remove_by_peer(struct ref *r, int peer)
{
	size_t i = 0;

	while (i < r->n) {
		if (r->e[i].peer == peer)
			r->e[i] = r->e[--r->n];
		else
			i++;
	}
}

static int ref_lookup(const struct ref *r, int af, const uint8_t *addr)
{
	int best = -1, best_cidr = -1;
	size_t i;

	for (i = 0; i < r->n; i++) {
		if (r->e[i].p.cidr > best_cidr &&
		    ref_covers(&r->e[i].p, af, addr)) {
			best = r->e[i].peer;
			best_cidr = r->e[i].p.cidr;
		}
	}
	return best;
}

static int prefix_order(const void *a, const void *b)
{
	const struct prefix *x = a, *y = b;
	int c;

	if (x->af != y->af)
		return x->af == AF_INET ? -1 : 1;
	c = memcmp(x->addr, y->addr, (size_t)af_bytes(x->af));
	if (c)
		return c;
	return (int)x->cidr - (int)y->cidr;
}

/* Compares the walk of every peer, both ways of walking, with the ref. */
static void compare_walks(const struct allowedips *t, const struct ref *r,
			  int npeers)
{
	struct prefix *want = malloc((r->n + 1) * sizeof(*want));
	struct walk_log log = { 0 }, raw = { 0 };
	size_t i, n;
	int peer, fi;

	assert_non_null(want);
	for (peer = 0; peer < npeers; peer++) {
		n = 0;
		for (i = 0; i < r->n; i++)
			if (r->e[i].peer == peer)
				want[n++] = r->e[i].p;
		qsort(want, n, sizeof(*want), prefix_order);
		assert_int_equal(allowedips_walk_by_peer(t, P(peer),
							 walk_collect, &log),
				 0);
		for (fi = 0; fi < AIP_FAMILIES; fi++)
			assert_int_equal(walk_trie(t->root[fi], fi, P(peer),
						   walk_collect, &raw), 0);
		assert_int_equal(log.n, n);
		assert_int_equal(raw.n, n);
		for (i = 0; i < n; i++) {
			assert_true(prefix_equal(&log.items[i], &want[i]));
			assert_true(prefix_equal(&raw.items[i], &want[i]));
		}
		walk_log_reset(&log);
		walk_log_reset(&raw);
	}
	free(want);
}

struct fuzz {
	struct rng rng;
	struct prefix bases[2][12];
	struct ref ref;
	struct allowedips *t;
	size_t lookups, mismatches, hits;
	size_t removed, refused, peers_removed;
};

static void flip_bit(uint8_t *addr, int bit)
{
	addr[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
}

static void random_addr(struct rng *r, int af, uint8_t *addr)
{
	int i;

	memset(addr, 0, 16);
	for (i = 0; i < af_bytes(af); i++)
		addr[i] = (uint8_t)rng_next(r);
}

/*
 * Prefixes mostly grow from a few shared bases with a bit or two flipped,
 * so that they nest and branch; host bits are left set on purpose.
 */
static struct prefix random_prefix(struct fuzz *f)
{
	int af = rng_below(&f->rng, 2) ? AF_INET6 : AF_INET;
	int bits = af_bits(af), flips, i;
	unsigned int kind = rng_below(&f->rng, 100);
	unsigned int span = (unsigned int)bits * 3 / 4;
	struct prefix p;

	if (kind < 10) {
		p.af = af;
		random_addr(&f->rng, af, p.addr);
	} else {
		p = f->bases[af == AF_INET6][rng_below(&f->rng, 12)];
		flips = (int)rng_below(&f->rng, 4);
		for (i = 0; i < flips; i++)
			flip_bit(p.addr, (int)rng_below(&f->rng,
							(unsigned int)bits));
	}
	/*
	 * Mostly longer prefixes, so that some of the space stays unrouted;
	 * a few short ones, /0 included, cover large parts of it.
	 */
	kind = rng_below(&f->rng, 1000);
	if (kind < 2)
		p.cidr = 0;
	else if (kind < 20)
		p.cidr = (uint8_t)rng_below(&f->rng, (unsigned int)bits / 4);
	else if (kind < 150)
		p.cidr = (uint8_t)bits;
	else
		p.cidr = (uint8_t)(bits / 4 + rng_below(&f->rng, span));
	return p;
}

static void random_lookup(struct fuzz *f)
{
	unsigned int kind = rng_below(&f->rng, 100);
	const struct prefix *base;
	struct prefix p;
	int bits, i, want, got;

	if (kind < 50 && f->ref.n) {
		/* Inside a known prefix, host bits random. */
		p = f->ref.e[rng_below(&f->rng, (unsigned int)f->ref.n)].p;
		bits = af_bits(p.af);
		for (i = p.cidr; i < bits; i++)
			if (rng_below(&f->rng, 2))
				flip_bit(p.addr, i);
	} else if (kind < 85) {
		base = &f->bases[rng_below(&f->rng, 2)][rng_below(&f->rng, 12)];
		p = *base;
		bits = af_bits(p.af);
		for (i = 0; i < 3; i++)
			flip_bit(p.addr, (int)rng_below(&f->rng,
							(unsigned int)bits));
	} else {
		p.af = rng_below(&f->rng, 2) ? AF_INET6 : AF_INET;
		random_addr(&f->rng, p.af, p.addr);
	}
	want = ref_lookup(&f->ref, p.af, p.addr);
	got = peer_no(allowedips_lookup(f->t, p.af, p.addr));
	f->lookups++;
	if (want >= 0)
		f->hits++;
	if (want != got) {
		if (!f->mismatches)
			print_prefix("first mismatch at", &p);
		f->mismatches++;
	}
}

static void fuzz_remove(struct fuzz *f, struct prefix p, int peer)
{
	int want = ref_remove(&f->ref, p, peer);

	assert_int_equal(allowedips_remove(f->t, p.af, p.addr, p.cidr,
					   P(peer)), want);
	if (want)
		f->refused++;
	else
		f->removed++;
}

static void fuzz_step(struct fuzz *f, int npeers)
{
	unsigned int kind = rng_below(&f->rng, 1000);
	int peer = (int)rng_below(&f->rng, (unsigned int)npeers);
	struct ref_entry *e;
	struct prefix p;

	if (kind < 650) {
		p = random_prefix(f);
		assert_int_equal(allowedips_insert(f->t, p.af, p.addr, p.cidr,
						   P(peer)), 0);
		ref_insert(&f->ref, p, peer);
	} else if (kind < 720 && f->ref.n) {
		/* Replace: an existing prefix moves to another peer. */
		e = &f->ref.e[rng_below(&f->rng, (unsigned int)f->ref.n)];
		p = e->p;
		assert_int_equal(allowedips_insert(f->t, p.af, p.addr, p.cidr,
						   P(peer)), 0);
		ref_insert(&f->ref, p, peer);
	} else if (kind < 850 && f->ref.n) {
		/* Remove an existing prefix, sometimes as the wrong peer. */
		e = &f->ref.e[rng_below(&f->rng, (unsigned int)f->ref.n)];
		p = e->p;
		if (rng_below(&f->rng, 4))
			peer = e->peer;
		fuzz_remove(f, p, peer);
	} else if (kind < 999) {
		/* Remove whatever a random prefix names, usually nothing. */
		fuzz_remove(f, random_prefix(f), peer);
	} else {
		allowedips_remove_by_peer(f->t, P(peer));
		ref_remove_by_peer(&f->ref, peer);
		f->peers_removed++;
	}
}

static void swap_int(int *a, int *b)
{
	int tmp = *a;

	*a = *b;
	*b = tmp;
}

static void test_random_vs_reference(void **state)
{
	enum { STEPS = 10000, LOOKUPS_PER_STEP = 11, CHECK_EVERY = 1000 };
	const int npeers = 8;
	struct fuzz f;
	size_t max_n = 0, removed_peers = 0;
	int i, j, order[8];

	(void)state;
	memset(&f, 0, sizeof(f));
	f.rng.s = UINT64_C(0x5eed0fa11bad1d5);
	f.t = table_new();
	for (i = 0; i < 12; i++) {
		f.bases[0][i].af = AF_INET;
		random_addr(&f.rng, AF_INET, f.bases[0][i].addr);
		f.bases[1][i].af = AF_INET6;
		random_addr(&f.rng, AF_INET6, f.bases[1][i].addr);
	}

	for (i = 1; i <= STEPS; i++) {
		fuzz_step(&f, npeers);
		for (j = 0; j < LOOKUPS_PER_STEP; j++)
			random_lookup(&f);
		if (f.ref.n > max_n)
			max_n = f.ref.n;
		if (i % CHECK_EVERY == 0) {
			/* Structure, counts and every peer's walk. */
			check_table(f.t);
			compare_walks(f.t, &f.ref, npeers);
		}
	}
	print_message("max %zu prefixes, %zu lookups, %zu hits, %zu removed, "
		      "%zu refused, %zu peers removed\n", max_n, f.lookups,
		      f.hits, f.removed, f.refused, f.peers_removed);
	assert_int_equal(f.mismatches, 0);
	/* The run must have been big and meaningful enough to trust. */
	assert_true(f.lookups >= 100000);
	assert_true(max_n >= 2000);
	assert_true(f.hits > f.lookups / 2);
	assert_true(f.hits < f.lookups - f.lookups / 50);
	assert_true(f.removed > 100);
	assert_true(f.refused > 100);
	assert_true(f.peers_removed > 0);

	/* Remove every peer in a shuffled order, checking as we go. */
	for (i = 0; i < npeers; i++)
		order[i] = i;
	for (i = npeers - 1; i > 0; i--) {
		j = (int)rng_below(&f.rng, (unsigned int)i + 1);
		swap_int(&order[i], &order[j]);
	}
	for (i = 0; i < npeers; i++) {
		allowedips_remove_by_peer(f.t, P(order[i]));
		ref_remove_by_peer(&f.ref, order[i]);
		removed_peers++;
		for (j = 0; j < 2000; j++)
			random_lookup(&f);
		compare_walks(f.t, &f.ref, npeers);
		check_table(f.t);
	}
	assert_int_equal(f.mismatches, 0);
	assert_int_equal(f.ref.n, 0);
	assert_int_equal(removed_peers, (size_t)npeers);
	/* Counted by traversal inside check_table, not taken on trust. */
	assert_int_equal(check_table(f.t), 0);
	assert_null(f.t->root[AIP_V4]);
	assert_null(f.t->root[AIP_V6]);
	assert_int_equal(owners(), 0);
	allowedips_free(f.t);
	free(f.ref.e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_table),
		cmocka_unit_test(test_no_default_route),
		cmocka_unit_test(test_families_apart),
		cmocka_unit_test(test_host_bits_masked),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_remove_one),
		cmocka_unit_test(test_remove_middle_keeps_branch),
		cmocka_unit_test(test_remove_by_peer),
		cmocka_unit_test(test_one_prefix_at_a_time),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_walk_order),
		cmocka_unit_test(test_enomem),
		cmocka_unit_test(test_pool_sizes),
		cmocka_unit_test(test_pool_slabs_reused),
		cmocka_unit_test(test_pool_enomem_at_boundary),
		cmocka_unit_test(test_random_vs_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
