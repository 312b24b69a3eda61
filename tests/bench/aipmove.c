/* SPDX-License-Identifier: MIT */
/*
 * aipmove: what the allowed-IPs table costs when prefixes change hands one
 * at a time, as a UAPI `set` does when it gives peer B the allowed_ip lines
 * that peer A held.  Not a test: it prints figures and asserts nothing
 * about time.
 *
 *   aipmove [PREFIXES [ROUNDS]]     (defaults 100000 and 3)
 *
 * For each of IPv4 /32 and IPv6 /128 prefixes it prints, each the best of
 * ROUNDS: the time to insert PREFIXES prefixes for peer A; to move them to
 * peer B one by one, oldest first and newest first; to remove them from B
 * one by one, oldest first (each the last of B's list); the heap each prefix costs (mallinfo2, so malloc's chunk
 * overhead included); and the time of one lookup in the full table.
 *
 * It uses only vpnd/allowedips.h, so the same source measures any version
 * of vpnd/allowedips.c it is linked with.
 */
#include <arpa/inet.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "allowedips.h"

/* Stands in for struct peer: the table touches only its owner member. */
struct bench_peer {
	struct allowedips_owner aips;
};

struct bench_figures {
	double insert, move_oldest, move_newest, remove, lookup_ns;
	double heap_per_prefix;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Prefix @i of a family: distinct host addresses spread over the space. */
static void prefix_addr(uint8_t addr[16], int family, uint32_t i)
{
	uint32_t spread = i * UINT32_C(2654435761);	/* odd: a bijection */

	memset(addr, 0, 16);
	if (family == AF_INET) {
		memcpy(addr, &(uint32_t){ htonl(spread) }, 4);
		return;
	}
	addr[0] = 0xfd;
	memcpy(addr + 12, &(uint32_t){ htonl(spread) }, 4);
}

static void die(const char *what)
{
	fprintf(stderr, "aipmove: %s failed\n", what);
	exit(1);
}

static struct peer *as_peer(struct bench_peer *p)
{
	return (struct peer *)(void *)p;
}

static void insert_all(struct allowedips *t, int family, uint8_t bits,
		       size_t n, struct bench_peer *owner)
{
	uint8_t addr[16];
	size_t i;

	for (i = 0; i < n; i++) {
		prefix_addr(addr, family, (uint32_t)i);
		if (allowedips_insert(t, family, addr, bits, as_peer(owner)))
			die("insert");
	}
}

/* Moves every prefix to @to, in insertion order or its reverse. */
static void move_all(struct allowedips *t, int family, uint8_t bits,
		     size_t n, struct bench_peer *to, int newest_first)
{
	uint8_t addr[16];
	size_t i;

	for (i = 0; i < n; i++) {
		prefix_addr(addr, family,
			    (uint32_t)(newest_first ? n - 1 - i : i));
		if (allowedips_insert(t, family, addr, bits, as_peer(to)))
			die("move");
	}
}

static double lookup_ns(const struct allowedips *t, int family, size_t n)
{
	enum { LOOKUPS = 4000000 };
	uint8_t addr[16];
	size_t i, found = 0;
	double t0 = now();

	for (i = 0; i < LOOKUPS; i++) {
		/* Every other lookup misses: the last byte is off by one. */
		prefix_addr(addr, family, (uint32_t)((i * 7919) % n));
		addr[family == AF_INET ? 3 : 15] ^= (uint8_t)(i & 1);
		found += allowedips_lookup(t, family, addr) != NULL;
	}
	if (found == 0)
		die("lookup");
	return (now() - t0) * 1e9 / LOOKUPS;
}

/* Each prefix for peer A, then handed to B: oldest (A's list's tail) first
 * or newest (its head) first; B's list then holds the oldest at its tail. */
static struct allowedips *table_moved(int family, uint8_t bits, size_t n,
				      int newest_first,
				      struct bench_figures *f)
{
	static struct bench_peer a, b;
	struct allowedips *t;
	size_t heap0;
	double t0;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	if (allowedips_init(&t, offsetof(struct bench_peer, aips)))
		die("init");
	heap0 = mallinfo2().uordblks;
	t0 = now();
	insert_all(t, family, bits, n, &a);
	f->insert = now() - t0;
	f->heap_per_prefix = (double)(mallinfo2().uordblks - heap0) / (double)n;
	if (!newest_first)
		f->lookup_ns = lookup_ns(t, family, n);
	t0 = now();
	move_all(t, family, bits, n, &b, newest_first);
	*(newest_first ? &f->move_newest : &f->move_oldest) = now() - t0;
	return t;
}

static void measure(int family, uint8_t bits, size_t n,
		    struct bench_figures *f)
{
	struct allowedips *t;
	struct bench_figures ignored;
	uint8_t addr[16];
	struct peer *b;
	size_t i;
	double t0;

	t = table_moved(family, bits, n, 0, f);
	/* Every prefix is B's now; B's own list holds prefix 0 last. */
	prefix_addr(addr, family, 0);
	b = allowedips_lookup(t, family, addr);
	t0 = now();
	for (i = 0; i < n; i++) {
		prefix_addr(addr, family, (uint32_t)i);
		if (allowedips_remove(t, family, addr, bits, b))
			die("remove");
	}
	f->remove = now() - t0;
	if (allowedips_node_count(t))
		die("emptying the table");
	allowedips_free(t);

	t = table_moved(family, bits, n, 1, &ignored);
	f->move_newest = ignored.move_newest;
	allowedips_free(t);
}

static double min_of(double a, double b)
{
	return a < b ? a : b;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int family;
		uint8_t bits;
	} fams[] = { { "IPv4 /32", AF_INET, 32 }, { "IPv6 /128", AF_INET6, 128 } };
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	int rounds = argc > 2 ? atoi(argv[2]) : 3, r;
	struct bench_figures best, f;
	size_t k;

	if (n < 2 || n > UINT32_MAX || rounds < 1) {
		fprintf(stderr, "usage: aipmove [PREFIXES [ROUNDS]]\n");
		return 2;
	}
	for (k = 0; k < sizeof(fams) / sizeof(fams[0]); k++) {
		for (r = 0; r < rounds; r++) {
			measure(fams[k].family, fams[k].bits, n, &f);
			if (!r) {
				best = f;
				continue;
			}
			best.insert = min_of(best.insert, f.insert);
			best.move_oldest = min_of(best.move_oldest,
						  f.move_oldest);
			best.move_newest = min_of(best.move_newest,
						  f.move_newest);
			best.remove = min_of(best.remove, f.remove);
			best.lookup_ns = min_of(best.lookup_ns, f.lookup_ns);
		}
		printf("%s, %zu prefixes, best of %d: insert %.3f s, "
		       "move A->B oldest first %.3f s, newest first %.3f s, "
		       "remove oldest first %.3f s, heap %.1f B/prefix, lookup %.1f ns\n",
		       fams[k].name, n, rounds, best.insert, best.move_oldest,
		       best.move_newest, best.remove, best.heap_per_prefix,
		       best.lookup_ns);
	}
	return 0;
}
