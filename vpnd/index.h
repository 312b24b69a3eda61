/* SPDX-License-Identifier: MIT */
/*
 * The table of our 32-bit sender indices.  Every handshake in flight and
 * every live keypair is named on the wire by an index we chose at random;
 * a received response or data message names one of them, and this table
 * finds it.  Lookups allocate nothing and take no lock.
 */
#ifndef VPND_INDEX_H
#define VPND_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

enum index_kind {
	INDEX_NONE = 0,
	INDEX_HANDSHAKE = 1,
	INDEX_KEYPAIR = 2,
};

struct index_slot {
	uint32_t index;		/* 0: empty */
	uint32_t kind;
	void *obj;
};

struct index_table {
	struct index_slot *slots;
	size_t mask;		/* capacity - 1; capacity is a power of two */
	size_t count;
};

int index_table_init(struct index_table *t);
void index_table_free(struct index_table *t);
/* Registers obj under a fresh random index that is neither 0 nor in use. */
int index_table_insert(struct index_table *t, enum index_kind kind, void *obj,
		       const struct wg_rng *rng, uint32_t *index);
/* The object registered under index with that kind, or NULL. */
void *index_table_lookup(const struct index_table *t, uint32_t index,
			 enum index_kind kind);
/* Re-points an index at another object (a handshake becoming a keypair). */
int index_table_replace(struct index_table *t, uint32_t index,
			enum index_kind kind, void *obj);
int index_table_remove(struct index_table *t, uint32_t index);

#endif /* VPND_INDEX_H */
