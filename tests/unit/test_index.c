/* SPDX-License-Identifier: MIT */
/*
 * The sender index table: indices are random, non-zero and unique; the
 * table agrees with a reference under heavy insert/remove churn; a
 * generator that repeats itself is survived, and a broken one is reported.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../vpnd/index.c"

/* splitmix64, for reproducible randomized tests. */
static uint64_t mix_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void mix_fill(void *ctx, void *buf, size_t len)
{
	uint64_t v = mix_next(ctx);

	memcpy(buf, &v, len < 8 ? len : 8);
}

struct ref_entry {
	uint32_t index;
	int kind;
	void *obj;
};

static void test_unique_nonzero_and_found(void **state)
{
	enum { N = 100000 };
	struct index_table t;
	struct ref_entry *ref = calloc(N, sizeof(*ref));
	static char objs[N];

	(void)state;
	assert_int_equal(index_table_init(&t), 0);
	for (size_t i = 0; i < N; i++) {
		ref[i].obj = &objs[i];
		ref[i].kind = i % 2 ? INDEX_KEYPAIR : INDEX_HANDSHAKE;
		assert_int_equal(index_table_insert(&t, ref[i].kind, ref[i].obj,
						    NULL, &ref[i].index),
				 0);
		assert_int_not_equal(ref[i].index, 0);
	}
	assert_int_equal(t.count, N);
	for (size_t i = 0; i < N; i++) {
		assert_ptr_equal(index_table_lookup(&t, ref[i].index,
						    ref[i].kind),
				 ref[i].obj);
		/* The kind is part of the key: a session index is not a
		 * handshake's. */
		assert_null(index_table_lookup(&t, ref[i].index,
					       ref[i].kind == INDEX_KEYPAIR ?
						       INDEX_HANDSHAKE :
						       INDEX_KEYPAIR));
	}
	assert_null(index_table_lookup(&t, 0, INDEX_HANDSHAKE));
	index_table_free(&t);
	free(ref);
}

static void test_churn_against_reference(void **state)
{
	enum { SLOTS = 4096, OPS = 400000 };
	struct ref_entry ref[SLOTS] = { { 0 } };
	uint64_t seed = 42;
	struct wg_rng rng = { .fill = mix_fill, .ctx = &seed };
	uint64_t pick = 7;
	struct index_table t;
	size_t live = 0;
	static char objs[SLOTS];

	(void)state;
	assert_int_equal(index_table_init(&t), 0);
	for (int op = 0; op < OPS; op++) {
		size_t i = mix_next(&pick) % SLOTS;

		if (!ref[i].index) {
			ref[i].obj = &objs[i];
			ref[i].kind = INDEX_HANDSHAKE;
			assert_int_equal(index_table_insert(&t, ref[i].kind,
							    ref[i].obj, &rng,
							    &ref[i].index),
					 0);
			live++;
		} else if (mix_next(&pick) % 3) {
			assert_int_equal(index_table_remove(&t, ref[i].index),
					 0);
			assert_null(index_table_lookup(&t, ref[i].index,
						       INDEX_HANDSHAKE));
			assert_int_equal(index_table_remove(&t, ref[i].index),
					 -ENOENT);
			ref[i].index = 0;
			live--;
		} else {
			ref[i].kind = INDEX_KEYPAIR;
			assert_int_equal(index_table_replace(&t, ref[i].index,
							     INDEX_KEYPAIR,
							     ref[i].obj),
					 0);
		}
		if (op % 997 == 0) {
			for (size_t j = 0; j < SLOTS; j++)
				if (ref[j].index)
					assert_ptr_equal(
						index_table_lookup(
							&t, ref[j].index,
							ref[j].kind),
						ref[j].obj);
		}
		assert_int_equal(t.count, live);
	}
	for (size_t j = 0; j < SLOTS; j++)
		if (ref[j].index)
			assert_int_equal(index_table_remove(&t, ref[j].index),
					 0);
	assert_int_equal(t.count, 0);
	for (size_t j = 0; j <= t.mask; j++)
		assert_int_equal(t.slots[j].index, 0);
	index_table_free(&t);
}

/* A generator that repeats: 7, 7, 0, 7, 9, 9, 9, ... */
static void repeating_fill(void *ctx, void *buf, size_t len)
{
	static const uint32_t seq[] = { 7, 7, 0, 7, 9 };
	int *n = ctx;
	uint32_t v = seq[*n < 5 ? *n : 4];

	assert_int_equal(len, 4);
	memcpy(buf, &v, 4);
	(*n)++;
}

static void test_collisions_and_broken_generator(void **state)
{
	struct index_table t;
	int n = 0, o1, o2, o3;
	struct wg_rng rng = { .fill = repeating_fill, .ctx = &n };
	uint32_t a, b, c;

	(void)state;
	assert_int_equal(index_table_init(&t), 0);
	assert_int_equal(index_table_insert(&t, INDEX_HANDSHAKE, &o1, &rng, &a),
			 0);
	assert_int_equal(a, 7);
	/* 7 is taken and 0 is reserved: the table draws again until 9. */
	assert_int_equal(index_table_insert(&t, INDEX_HANDSHAKE, &o2, &rng, &b),
			 0);
	assert_int_equal(b, 9);
	/* Only 9 from now on: it gives up instead of spinning forever. */
	assert_int_equal(index_table_insert(&t, INDEX_HANDSHAKE, &o3, &rng, &c),
			 -EAGAIN);
	assert_int_equal(t.count, 2);
	assert_int_equal(index_table_replace(&t, 12345, INDEX_KEYPAIR, &o3),
			 -ENOENT);
	index_table_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unique_nonzero_and_found),
		cmocka_unit_test(test_churn_against_reference),
		cmocka_unit_test(test_collisions_and_broken_generator),
	};

	if (wg_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
