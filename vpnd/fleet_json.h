/* SPDX-License-Identifier: MIT */
/*
 * The JSON of a fleet: one user's value as the provider writes it into
 * etcd, and the shapes of etcd's v3 HTTP/JSON gateway answers (a range
 * read, a watch message).  Pure: text in, structs out, through json-c; no
 * sockets, no device.  Every message says what is wrong without quoting
 * the text, which holds keys and addresses.
 */
#ifndef VPND_FLEET_JSON_H
#define VPND_FLEET_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vpn/key.h>

#include "conf.h"

struct json_object;

enum fleet_json_limits {
	FLEET_VALUE_MAX = 4096,		/* bytes of one user's JSON */
	FLEET_ALLOWED_IPS_MAX = 64,	/* prefixes of one user */
	FLEET_NAME_MAX = CONF_NAME_MAX,	/* the etcd key after the prefix */
};

/*
 * One user, as parsed from its value.  The preshared key is a secret: the
 * caller wipes it (fleet_user_clear() does) once it was handed on.
 */
struct fleet_user {
	uint8_t public_key[KEY_LEN];
	uint8_t preshared_key[KEY_LEN];
	bool has_psk;
	struct conf_prefix *allowed_ips;	/* sorted, host bits clear */
	size_t n_allowed_ips;
};

/*
 * Parses {"public_key": "...", "allowed_ips": ["10.64.3.7/32", ...],
 * "preshared_key": "..."} (preshared_key optional, no other member).
 * Returns 0, -EINVAL with *@why saying what is wrong (never quoting the
 * text), or -ENOMEM.  On error @u holds nothing to free.
 */
int fleet_user_parse(const char *text, size_t len, struct fleet_user *u,
		     const char **why);
/* Wipes the preshared key and frees the prefixes. */
void fleet_user_clear(struct fleet_user *u);
/* Whether two users have the same key, preshared key and prefixes. */
bool fleet_user_equal(const struct fleet_user *a, const struct fleet_user *b);

/* One key-value pair of an answer, decoded from base64. */
struct fleet_kv {
	const char *name;	/* the key after the prefix, NUL-terminated */
	const char *value;	/* NULL for a deletion, and for a value too
				 * large to decode (value_len says how large) */
	size_t value_len;
	int64_t mod_revision;
	bool deleted;
	const char *why;	/* non-NULL: the key itself is bad, and why */
	/* The whole etcd key for log lines, non-printable bytes as '?'. */
	char key[CONF_FLEET_TEXT_MAX + FLEET_NAME_MAX + 8];
};

/* Called for each pair; a non-zero return stops the walk and is returned. */
typedef int (*fleet_kv_fn)(void *ctx, const struct fleet_kv *kv);

/* What a range answer says beside its pairs. */
struct fleet_range_info {
	int64_t revision;	/* of the store when it was read */
	bool more;		/* another page follows */
	char *last_key;		/* malloc'd raw key of the last pair, or NULL */
	size_t last_key_len;
};

/*
 * Walks the pairs of a /v3/kv/range answer whose keys start with @prefix.
 * Returns 0, the callback's value, -EPROTO (not a range answer) or
 * -ENOMEM.  info->last_key is the caller's to free.
 */
int fleet_json_range(struct json_object *o, const char *prefix,
		     struct fleet_range_info *info, fleet_kv_fn cb, void *ctx);

/* What a watch message says beside its events. */
struct fleet_watch_info {
	bool created;		/* the watch is now in place */
	bool canceled;		/* etcd ended it */
	int64_t compact_revision;	/* non-zero: history is gone */
	int64_t revision;	/* header revision */
	bool error;		/* an {"error": ...} message */
};

/* Walks the events of one /v3/watch message; returns as above. */
int fleet_json_watch(struct json_object *o, const char *prefix,
		     struct fleet_watch_info *info, fleet_kv_fn cb, void *ctx);

/*
 * The request bodies.  @from is the raw key to start at (NULL: the
 * prefix); revision 0 means the newest.  Return a malloc'd string or NULL.
 */
char *fleet_json_range_request(const char *prefix, const char *from,
			       size_t from_len, int64_t revision,
			       unsigned int limit);
char *fleet_json_watch_request(const char *prefix, int64_t start_revision);

#endif /* VPND_FLEET_JSON_H */
