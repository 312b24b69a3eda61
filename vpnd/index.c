/* SPDX-License-Identifier: MIT */
/*
 * An open-addressed hash table with linear probing.  The keys are random
 * numbers of our own choosing, so an attacker cannot crowd one bucket; the
 * mixing step only spreads a weak test generator's output.  Removal shifts
 * the following entries back instead of leaving tombstones, so a table that
 * lives for months under churn never slows down.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include <vpn/messages.h>

#include "index.h"

enum {
	INDEX_TABLE_MIN_SLOTS = 64,
	/* Bounded retries: with the table at most half full, 64 misses in a
	 * row mean the generator is broken, not unlucky. */
	INDEX_TABLE_MAX_TRIES = 64,
};

static size_t slot_of(const struct index_table *t, uint32_t index)
{
	return (size_t)((index * UINT32_C(0x9e3779b1)) >> 7) & t->mask;
}

static struct index_slot *find(const struct index_table *t, uint32_t index)
{
	size_t i = slot_of(t, index);

	for (;;) {
		struct index_slot *s = &t->slots[i];

		if (s->index == index)
			return s;
		if (!s->index)
			return NULL;
		i = (i + 1) & t->mask;
	}
}

static void place(struct index_slot *slots, size_t mask,
		  const struct index_slot *e, const struct index_table *shape)
{
	size_t i = slot_of(shape, e->index);

	while (slots[i].index)
		i = (i + 1) & mask;
	slots[i] = *e;
}

static int grow(struct index_table *t)
{
	size_t ncap = (t->mask + 1) * 2, i;
	struct index_table n = { .mask = ncap - 1, .count = t->count };

	n.slots = calloc(ncap, sizeof(*n.slots));
	if (!n.slots)
		return -ENOMEM;
	for (i = 0; i <= t->mask; i++)
		if (t->slots[i].index)
			place(n.slots, n.mask, &t->slots[i], &n);
	free(t->slots);
	*t = n;
	return 0;
}

int index_table_init(struct index_table *t)
{
	t->slots = calloc(INDEX_TABLE_MIN_SLOTS, sizeof(*t->slots));
	if (!t->slots)
		return -ENOMEM;
	t->mask = INDEX_TABLE_MIN_SLOTS - 1;
	t->count = 0;
	return 0;
}

void index_table_free(struct index_table *t)
{
	free(t->slots);
	t->slots = NULL;
	t->mask = 0;
	t->count = 0;
}

int index_table_insert(struct index_table *t, enum index_kind kind, void *obj,
		       const struct wg_rng *rng, uint32_t *index)
{
	struct index_slot e = { .kind = kind, .obj = obj };
	int tries, ret;

	if ((t->count + 1) * 2 > t->mask + 1) {
		ret = grow(t);
		if (ret)
			return ret;
	}
	for (tries = 0; tries < INDEX_TABLE_MAX_TRIES; tries++) {
		e.index = wg_rng_u32(rng);
		if (e.index && !find(t, e.index))
			break;
	}
	if (tries == INDEX_TABLE_MAX_TRIES)
		return -EAGAIN;
	place(t->slots, t->mask, &e, t);
	t->count++;
	*index = e.index;
	return 0;
}

void *index_table_lookup(const struct index_table *t, uint32_t index,
			 enum index_kind kind)
{
	const struct index_slot *s;

	if (!index)
		return NULL;
	s = find(t, index);
	return s && s->kind == kind ? s->obj : NULL;
}

int index_table_replace(struct index_table *t, uint32_t index,
			enum index_kind kind, void *obj)
{
	struct index_slot *s = index ? find(t, index) : NULL;

	if (!s)
		return -ENOENT;
	s->kind = kind;
	s->obj = obj;
	return 0;
}

/*
 * Whether the entry in slot i, whose home slot is home, may move back into
 * the hole: it may unless its home lies after the hole and at or before i,
 * going round the ring, for then the hole is not on its probe path.
 */
static bool must_move(size_t home, size_t hole, size_t i)
{
	if (hole <= i)
		return home <= hole || home > i;
	return home <= hole && home > i;
}

int index_table_remove(struct index_table *t, uint32_t index)
{
	struct index_slot *s = index ? find(t, index) : NULL;
	size_t hole, i;

	if (!s)
		return -ENOENT;
	hole = (size_t)(s - t->slots);
	i = hole;
	for (;;) {
		i = (i + 1) & t->mask;
		if (!t->slots[i].index)
			break;
		if (must_move(slot_of(t, t->slots[i].index), hole, i)) {
			t->slots[hole] = t->slots[i];
			hole = i;
		}
	}
	t->slots[hole] = (struct index_slot){ 0 };
	t->count--;
	return 0;
}
