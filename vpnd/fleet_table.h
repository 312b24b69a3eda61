/* SPDX-License-Identifier: MIT */
/*
 * The fleet's users as this server holds them, and what a change in etcd
 * does to them: the diff between what a user was and what its new value
 * says, applied to the device through struct fleet_ops.  No sockets and no
 * device here, so the logic is tested alone (tests/unit/test_fleet.c).
 *
 * The table keeps no secret: a user's preshared key is remembered only as
 * a keyed hash, enough to tell whether a new value changes it.  Nor does it
 * keep pointers to peers, which the UAPI may remove behind its back: the
 * device finds a user's peer by its public key each time.
 *
 * A value that cannot be applied (malformed, or whose key or prefixes are
 * another peer's) is skipped and counted; if the name held a user before,
 * that user is removed, so that what a server serves depends only on what
 * etcd holds now, not on the history the server happened to see, and a
 * broken value never leaves a revoked key in place.
 */
#ifndef VPND_FLEET_TABLE_H
#define VPND_FLEET_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "fleet_json.h"

/* What a put changes of an existing user, for fleet_ops.set(). */
enum fleet_change {
	FLEET_CHANGE_NEW = 1u << 0,	/* no peer yet */
	FLEET_CHANGE_KEY = 1u << 1,	/* new public key: a new peer */
	FLEET_CHANGE_PSK = 1u << 2,
	FLEET_CHANGE_IPS = 1u << 3,
};

/*
 * The device's side.  check() says whether @u may take its key and
 * prefixes, given that the user gives up @old_key (NULL: a new user):
 * 0, -ENOTUNIQ (the key of a [peer] section), -EEXIST (another peer's
 * key), -EADDRINUSE (a prefix another peer holds) or -EINVAL (the
 * server's own key), with *@why saying which.  set() makes the peer match
 * @u, creating it, replacing it (a new key) or updating it in place (its
 * sessions kept); it is all or nothing.  remove() removes the peer with
 * @key and its sessions.  name_reserved() says whether a [peer] section
 * has this name.
 */
struct fleet_ops {
	void *ctx;
	bool (*name_reserved)(void *ctx, const char *name);
	int (*check)(void *ctx, const struct fleet_user *u,
		     const uint8_t *old_key, const char **why);
	int (*set)(void *ctx, const struct fleet_user *u,
		   const uint8_t *old_key, unsigned int changes);
	void (*remove)(void *ctx, const uint8_t key[KEY_LEN]);
};

struct lh_table;

struct fleet_table {
	struct lh_table *users;		/* name -> struct fleet_entry */
	size_t count;			/* users held */
	uint8_t secret[16];		/* keys the preshared key tags */
	uint32_t generation;		/* of the resynchronisation under way */
	uint64_t skipped;		/* values skipped, ever */
	uint64_t applied;		/* changes made to the device, ever */
};

int fleet_table_init(struct fleet_table *t);
/* Forgets every user; with @ops, removes their peers too. */
void fleet_table_free(struct fleet_table *t, const struct fleet_ops *ops);

/*
 * A put of @value at @name.  Returns 1 when it changed the device, 0 when
 * the user was already so, or a negative errno when the value was skipped
 * (counted in t->skipped), with *@why saying why for the log.  -ENOTUNIQ
 * means the name or the key is a [peer] section's.
 */
int fleet_table_put(struct fleet_table *t, const struct fleet_ops *ops,
		    const char *name, const char *value, size_t len,
		    const char **why);
/*
 * The same, but a value that clashes with another peer (-EEXIST,
 * -EADDRINUSE) returns -EAGAIN and changes and counts nothing: within one
 * batch of changes, the peer in the way may be about to go (a user
 * deleted, or given new prefixes, later in the batch or, in a full read,
 * absent from it).  The caller puts it again once the batch is applied.
 */
int fleet_table_try(struct fleet_table *t, const struct fleet_ops *ops,
		    const char *name, const char *value, size_t len,
		    const char **why);
/* A deletion: 1 when a user was removed, 0 when there was none. */
int fleet_table_delete(struct fleet_table *t, const struct fleet_ops *ops,
		       const char *name);
/* Counts a value skipped before it reached the table (a bad key). */
void fleet_table_skip(struct fleet_table *t, const struct fleet_ops *ops,
		      const char *name);

/*
 * A resynchronisation from a full read: begin, put every user read, then
 * end removes those not put since begin.  Users whose value did not
 * change are not touched, so their sessions go on.  Returns how many end
 * removed.
 */
void fleet_table_sync_begin(struct fleet_table *t);
size_t fleet_table_sync_end(struct fleet_table *t, const struct fleet_ops *ops);

/* Whether @name holds a user, and with which key (NULL: none). */
const uint8_t *fleet_table_key(const struct fleet_table *t, const char *name);

#endif /* VPND_FLEET_TABLE_H */
