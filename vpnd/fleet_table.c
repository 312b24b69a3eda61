/* SPDX-License-Identifier: MIT */
/*
 * The fleet's users and the diff a change makes (see fleet_table.h).  The
 * table is a hash of names, keyed with a secret so that names chosen to
 * collide cannot slow it down; it grows by doubling.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fleet_table.h"

enum {
	FLEET_TABLE_MIN_BUCKETS = 64,
};

struct fleet_entry {
	struct fleet_entry *next;
	uint8_t public_key[KEY_LEN];
	uint8_t psk_tag[CRYPTO_MAC_LEN];	/* keyed hash; zero: no psk */
	bool has_psk;
	uint32_t seen;			/* generation of the last put */
	struct conf_prefix *allowed_ips;
	size_t n_allowed_ips;
	char name[];
};

static size_t bucket_of(const struct fleet_table *t, const char *name)
{
	uint8_t h[CRYPTO_MAC_LEN];
	uint64_t v;

	wg_mac(h, t->secret, sizeof(t->secret), name, strlen(name));
	memcpy(&v, h, sizeof(v));
	return (size_t)v & t->mask;
}

int fleet_table_init(struct fleet_table *t)
{
	memset(t, 0, sizeof(*t));
	t->buckets = calloc(FLEET_TABLE_MIN_BUCKETS, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->mask = FLEET_TABLE_MIN_BUCKETS - 1;
	randombytes_buf(t->secret, sizeof(t->secret));
	return 0;
}

static void entry_free(struct fleet_entry *e)
{
	free(e->allowed_ips);
	free(e);
}

void fleet_table_free(struct fleet_table *t, const struct fleet_ops *ops)
{
	if (!t->buckets)
		return;
	for (size_t i = 0; i <= t->mask; i++) {
		struct fleet_entry *e = t->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			if (ops)
				ops->remove(ops->ctx, e->public_key);
			entry_free(e);
		}
	}
	free(t->buckets);
	sodium_memzero(t, sizeof(*t));
}

static struct fleet_entry **find(const struct fleet_table *t, const char *name)
{
	struct fleet_entry **pp = &t->buckets[bucket_of(t, name)];

	for (; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->name, name))
			return pp;
	return pp;
}

/* A failed grow only lengthens the chains. */
static void grow(struct fleet_table *t)
{
	size_t n = (t->mask + 1) * 2;
	struct fleet_entry **b = calloc(n, sizeof(*b));
	struct fleet_table nt = *t;

	if (!b)
		return;
	nt.buckets = b;
	nt.mask = n - 1;
	for (size_t i = 0; i <= t->mask; i++) {
		struct fleet_entry *e = t->buckets[i], *next;

		for (; e; e = next) {
			size_t k = bucket_of(&nt, e->name);

			next = e->next;
			e->next = b[k];
			b[k] = e;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->mask = n - 1;
}

const uint8_t *fleet_table_key(const struct fleet_table *t, const char *name)
{
	struct fleet_entry *e = *find(t, name);

	return e ? e->public_key : NULL;
}

static void psk_tag(const struct fleet_table *t, const struct fleet_user *u,
		    uint8_t tag[CRYPTO_MAC_LEN])
{
	if (u->has_psk)
		wg_mac(tag, t->secret, sizeof(t->secret), u->preshared_key,
		       KEY_LEN);
	else
		memset(tag, 0, CRYPTO_MAC_LEN);
}

/* What a new value changes of @e; 0 when nothing. */
static unsigned int changes_of(const struct fleet_entry *e,
			       const struct fleet_user *u,
			       const uint8_t tag[CRYPTO_MAC_LEN])
{
	unsigned int c = 0;

	if (!e)
		return FLEET_CHANGE_NEW;
	if (memcmp(e->public_key, u->public_key, KEY_LEN))
		return FLEET_CHANGE_KEY | FLEET_CHANGE_PSK | FLEET_CHANGE_IPS;
	if (e->has_psk != u->has_psk ||
	    sodium_memcmp(e->psk_tag, tag, CRYPTO_MAC_LEN))
		c |= FLEET_CHANGE_PSK;
	if (e->n_allowed_ips != u->n_allowed_ips ||
	    memcmp(e->allowed_ips, u->allowed_ips,
		   u->n_allowed_ips * sizeof(*u->allowed_ips)))
		c |= FLEET_CHANGE_IPS;
	return c;
}

/* Removes the user at *pp, and its peer. */
static void unlink_entry(struct fleet_table *t, const struct fleet_ops *ops,
			 struct fleet_entry **pp)
{
	struct fleet_entry *e = *pp;

	*pp = e->next;
	ops->remove(ops->ctx, e->public_key);
	entry_free(e);
	t->count--;
	t->applied++;
}

/* A skipped value: counted, and the user the name held is gone. */
static int skip(struct fleet_table *t, const struct fleet_ops *ops,
		const char *name, int error)
{
	struct fleet_entry **pp;

	t->skipped++;
	if (name && conf_peer_name_valid(name)) {
		pp = find(t, name);
		if (*pp)
			unlink_entry(t, ops, pp);
	}
	return error;
}

void fleet_table_skip(struct fleet_table *t, const struct fleet_ops *ops,
		      const char *name)
{
	skip(t, ops, name, -EINVAL);
}

int fleet_table_put(struct fleet_table *t, const struct fleet_ops *ops,
		    const char *name, const char *value, size_t len,
		    const char **why)
{
	uint8_t tag[CRYPTO_MAC_LEN];
	struct fleet_entry **pp, *e, *ne = NULL;
	struct fleet_user u;
	unsigned int changes;
	int ret;

	*why = NULL;
	if (!conf_peer_name_valid(name)) {
		*why = "the name is not 1 to 63 letters, digits and - _ . @";
		return skip(t, ops, NULL, -EINVAL);
	}
	if (ops->name_reserved(ops->ctx, name)) {
		*why = "a [peer] section of the config has this name";
		return skip(t, ops, name, -ENOTUNIQ);
	}
	ret = fleet_user_parse(value, len, &u, why);
	if (ret)
		return skip(t, ops, name, ret);
	psk_tag(t, &u, tag);
	pp = find(t, name);
	e = *pp;
	changes = changes_of(e, &u, tag);
	if (!changes) {
		e->seen = t->generation;
		fleet_user_clear(&u);
		return 0;
	}
	ret = ops->check(ops->ctx, &u, e ? e->public_key : NULL, why);
	if (ret)
		goto skipped;
	/* Everything that can fail here fails before the device changes. */
	ret = -ENOMEM;
	*why = "out of memory";
	if (!e) {
		ne = calloc(1, sizeof(*ne) + strlen(name) + 1);
		if (!ne)
			goto skipped;
		memcpy(ne->name, name, strlen(name) + 1);
		e = ne;
	}
	if (changes & FLEET_CHANGE_IPS || ne) {
		struct conf_prefix *ips = malloc(u.n_allowed_ips * sizeof(*ips));

		if (!ips)
			goto skipped;
		memcpy(ips, u.allowed_ips, u.n_allowed_ips * sizeof(*ips));
		free(e->allowed_ips);
		e->allowed_ips = ips;
		e->n_allowed_ips = u.n_allowed_ips;
	}
	ret = ops->set(ops->ctx, &u, ne ? NULL : e->public_key, changes);
	if (ret) {
		*why = "the device could not take the peer";
		goto skipped;
	}
	memcpy(e->public_key, u.public_key, KEY_LEN);
	memcpy(e->psk_tag, tag, sizeof(tag));
	e->has_psk = u.has_psk;
	e->seen = t->generation;
	if (ne) {
		if (t->count >= t->mask + 1)
			grow(t);
		pp = find(t, name);
		ne->next = *pp;
		*pp = ne;
		t->count++;
	}
	t->applied++;
	fleet_user_clear(&u);
	sodium_memzero(tag, sizeof(tag));
	return 1;
skipped:
	fleet_user_clear(&u);
	sodium_memzero(tag, sizeof(tag));
	if (ne)
		entry_free(ne);
	return skip(t, ops, name, ret);
}

int fleet_table_delete(struct fleet_table *t, const struct fleet_ops *ops,
		       const char *name)
{
	struct fleet_entry **pp;

	if (!conf_peer_name_valid(name))
		return 0;
	pp = find(t, name);
	if (!*pp)
		return 0;
	unlink_entry(t, ops, pp);
	return 1;
}

void fleet_table_sync_begin(struct fleet_table *t)
{
	/* Zero is what a fresh entry would hold: never a generation. */
	if (!++t->generation)
		t->generation = 1;
}

size_t fleet_table_sync_end(struct fleet_table *t, const struct fleet_ops *ops)
{
	size_t removed = 0;

	for (size_t i = 0; i <= t->mask; i++) {
		struct fleet_entry **pp = &t->buckets[i];

		while (*pp) {
			if ((*pp)->seen != t->generation) {
				unlink_entry(t, ops, pp);
				removed++;
			} else {
				pp = &(*pp)->next;
			}
		}
	}
	return removed;
}
