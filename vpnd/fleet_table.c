/* SPDX-License-Identifier: MIT */
/*
 * The fleet's users and the diff a change makes (see fleet_table.h).  The
 * users are json-c's hash table of names (whose hash is seeded at random,
 * so that names chosen to collide cannot slow it down), which also keeps
 * them in the order they came.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/linkhash.h>
#include <sodium.h>

#include "fleet_table.h"

enum {
	FLEET_TABLE_MIN_SIZE = 64,
};

struct fleet_entry {
	uint8_t public_key[KEY_LEN];
	uint8_t psk_tag[CRYPTO_MAC_LEN];	/* keyed hash; zero: no psk */
	bool has_psk;
	uint32_t seen;			/* generation of the last put */
	struct conf_prefix *allowed_ips;
	size_t n_allowed_ips;
	char name[];			/* the table's key */
};

static void entry_free(struct fleet_entry *e)
{
	free(e->allowed_ips);
	free(e);
}

static void lh_entry_free(struct lh_entry *le)
{
	entry_free(lh_entry_v(le));
}

int fleet_table_init(struct fleet_table *t)
{
	memset(t, 0, sizeof(*t));
	t->users = lh_kchar_table_new(FLEET_TABLE_MIN_SIZE, lh_entry_free);
	if (!t->users)
		return -ENOMEM;
	randombytes_buf(t->secret, sizeof(t->secret));
	return 0;
}

void fleet_table_free(struct fleet_table *t, const struct fleet_ops *ops)
{
	struct lh_entry *le;

	if (!t->users)
		return;
	if (ops)
		lh_foreach(t->users, le)
			ops->remove(ops->ctx,
				    ((struct fleet_entry *)lh_entry_v(le))->public_key);
	lh_table_free(t->users);
	sodium_memzero(t, sizeof(*t));
}

static struct fleet_entry *find(const struct fleet_table *t, const char *name)
{
	void *v = NULL;

	return lh_table_lookup_ex(t->users, name, &v) ? v : NULL;
}

const uint8_t *fleet_table_key(const struct fleet_table *t, const char *name)
{
	struct fleet_entry *e = find(t, name);

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

/* Removes the user @e, and its peer. */
static void unlink_entry(struct fleet_table *t, const struct fleet_ops *ops,
			 struct fleet_entry *e)
{
	ops->remove(ops->ctx, e->public_key);
	/* Frees e, whose name is the key: looked up first, then freed. */
	lh_table_delete_entry(t->users, lh_table_lookup_entry(t->users, e->name));
	t->count--;
	t->applied++;
}

/* A skipped value: counted, and the user the name held is gone. */
static int skip(struct fleet_table *t, const struct fleet_ops *ops,
		const char *name, int error)
{
	struct fleet_entry *e;

	t->skipped++;
	if (name && conf_peer_name_valid(name) && (e = find(t, name)))
		unlink_entry(t, ops, e);
	return error;
}

void fleet_table_skip(struct fleet_table *t, const struct fleet_ops *ops,
		      const char *name)
{
	skip(t, ops, name, -EINVAL);
}

static int put(struct fleet_table *t, const struct fleet_ops *ops,
	       const char *name, const char *value, size_t len, bool defer,
	       const char **why)
{
	uint8_t tag[CRYPTO_MAC_LEN];
	struct fleet_entry *e, *ne = NULL;
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
	e = find(t, name);
	changes = changes_of(e, &u, tag);
	if (!changes) {
		e->seen = t->generation;
		fleet_user_clear(&u);
		return 0;
	}
	ret = ops->check(ops->ctx, &u, e ? e->public_key : NULL, why);
	if (defer && (ret == -EEXIST || ret == -EADDRINUSE)) {
		fleet_user_clear(&u);
		sodium_memzero(tag, sizeof(tag));
		return -EAGAIN;
	}
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
	/* The slot first: after set(), nothing may fail. */
	if (ne && lh_table_insert(t->users, ne->name, ne))
		goto skipped;
	ret = ops->set(ops->ctx, &u, ne ? NULL : e->public_key, changes);
	if (ret) {
		*why = "the device could not take the peer";
		if (ne)
			lh_table_delete_entry(
				t->users, lh_table_lookup_entry(t->users, ne->name));
		ne = NULL;	/* freed with its slot */
		goto skipped;
	}
	memcpy(e->public_key, u.public_key, KEY_LEN);
	memcpy(e->psk_tag, tag, sizeof(tag));
	e->has_psk = u.has_psk;
	e->seen = t->generation;
	if (ne)
		t->count++;
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

int fleet_table_put(struct fleet_table *t, const struct fleet_ops *ops,
		    const char *name, const char *value, size_t len,
		    const char **why)
{
	return put(t, ops, name, value, len, false, why);
}

int fleet_table_try(struct fleet_table *t, const struct fleet_ops *ops,
		    const char *name, const char *value, size_t len,
		    const char **why)
{
	return put(t, ops, name, value, len, true, why);
}

int fleet_table_delete(struct fleet_table *t, const struct fleet_ops *ops,
		       const char *name)
{
	struct fleet_entry *e;

	if (!conf_peer_name_valid(name) || !(e = find(t, name)))
		return 0;
	unlink_entry(t, ops, e);
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
	struct lh_entry *le, *next;
	size_t removed = 0;

	lh_foreach_safe(t->users, le, next) {
		struct fleet_entry *e = lh_entry_v(le);

		if (e->seen != t->generation) {
			unlink_entry(t, ops, e);
			removed++;
		}
	}
	return removed;
}
