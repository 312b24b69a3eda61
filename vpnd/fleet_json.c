/* SPDX-License-Identifier: MIT */
/*
 * A fleet's JSON (see fleet_json.h): a user's value, and etcd's gateway
 * answers.  json-c parses; libsodium decodes base64, which is how the
 * gateway carries keys and values (they are bytes to etcd).  The gateway
 * prints 64-bit numbers as strings ("revision": "42"); both forms are read.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "fleet_json.h"

/* ------------------------------------------------------------------ */
/* One user's value.                                                   */

static int prefix_order(const void *a, const void *b)
{
	const struct conf_prefix *p = a, *q = b;
	int c;

	if (p->family != q->family)
		return p->family < q->family ? -1 : 1;
	c = memcmp(&p->addr, &q->addr, p->family == AF_INET ? 4 : 16);
	if (c)
		return c;
	return (p->cidr > q->cidr) - (p->cidr < q->cidr);
}

static int key_member(struct json_object *v, uint8_t key[KEY_LEN])
{
	char text[KEY_BASE64_LEN + 1];
	int len;

	if (!json_object_is_type(v, json_type_string))
		return -EINVAL;
	len = json_object_get_string_len(v);
	if (len != KEY_BASE64_LEN)
		return -EINVAL;
	memcpy(text, json_object_get_string(v), KEY_BASE64_LEN + 1);
	len = key_from_base64(key, text) ? -EINVAL : 0;
	sodium_memzero(text, sizeof(text));
	return len;
}

static int allowed_ips_member(struct json_object *v, struct fleet_user *u,
			      const char **why)
{
	size_t n;

	if (!json_object_is_type(v, json_type_array)) {
		*why = "allowed_ips is not an array of strings";
		return -EINVAL;
	}
	n = json_object_array_length(v);
	if (!n || n > FLEET_ALLOWED_IPS_MAX) {
		*why = "allowed_ips holds no prefix, or more than 64";
		return -EINVAL;
	}
	u->allowed_ips = calloc(n, sizeof(*u->allowed_ips));
	if (!u->allowed_ips)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		struct conf_prefix *p = &u->allowed_ips[i];

		if (!json_object_is_type(e, json_type_string) ||
		    conf_prefix_parse(p, json_object_get_string(e),
				      (size_t)json_object_get_string_len(e)) ||
		    strlen(json_object_get_string(e)) !=
			    (size_t)json_object_get_string_len(e)) {
			*why = "an entry of allowed_ips is not an address or prefix";
			return -EINVAL;
		}
		if (conf_prefix_has_host_bits(p)) {
			*why = "an entry of allowed_ips has host bits set";
			return -EINVAL;
		}
		u->n_allowed_ips++;
	}
	qsort(u->allowed_ips, n, sizeof(*u->allowed_ips), prefix_order);
	for (size_t i = 1; i < n; i++)
		if (!prefix_order(&u->allowed_ips[i - 1], &u->allowed_ips[i])) {
			*why = "allowed_ips lists a prefix twice";
			return -EINVAL;
		}
	return 0;
}

static int user_members(struct json_object *o, struct fleet_user *u,
			const char **why)
{
	struct json_object *pk = NULL, *ips = NULL, *psk = NULL;
	int ret;

	json_object_object_foreach(o, name, v) {
		if (!strcmp(name, "public_key"))
			pk = v;
		else if (!strcmp(name, "allowed_ips"))
			ips = v;
		else if (!strcmp(name, "preshared_key"))
			psk = v;
		else {
			*why = "unknown member (a user has public_key, allowed_ips and preshared_key)";
			return -EINVAL;
		}
	}
	if (!pk || key_member(pk, u->public_key)) {
		*why = "public_key is missing or not a key (44 characters of base64, as wg pubkey prints)";
		return -EINVAL;
	}
	if (!ips) {
		*why = "allowed_ips is missing";
		return -EINVAL;
	}
	ret = allowed_ips_member(ips, u, why);
	if (ret)
		return ret;
	if (psk && !json_object_is_type(psk, json_type_null)) {
		if (key_member(psk, u->preshared_key)) {
			*why = "preshared_key is not a key (44 characters of base64, as wg genpsk prints)";
			return -EINVAL;
		}
		u->has_psk = true;
	}
	return 0;
}

int fleet_user_parse(const char *text, size_t len, struct fleet_user *u,
		     const char **why)
{
	struct json_tokener *tok;
	struct json_object *o;
	int ret = -EINVAL;

	memset(u, 0, sizeof(*u));
	*why = NULL;
	if (len > FLEET_VALUE_MAX) {
		*why = "the value is over 4096 bytes";
		return -EINVAL;
	}
	tok = json_tokener_new_ex(4);
	if (!tok)
		return -ENOMEM;
	o = json_tokener_parse_ex(tok, text, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len)
		*why = "the value is not one JSON object";
	else if (!json_object_is_type(o, json_type_object))
		*why = "the value is not a JSON object";
	else
		ret = user_members(o, u, why);
	/* json-c copied the strings, preshared key included: wipe them. */
	if (o && json_object_is_type(o, json_type_object)) {
		struct json_object *psk = NULL;

		if (json_object_object_get_ex(o, "preshared_key", &psk) &&
		    json_object_is_type(psk, json_type_string))
			sodium_memzero((void *)json_object_get_string(psk),
				       (size_t)json_object_get_string_len(psk));
	}
	json_object_put(o);
	json_tokener_free(tok);
	if (ret)
		fleet_user_clear(u);
	if (ret == -ENOMEM)
		*why = "out of memory";
	return ret;
}

void fleet_user_clear(struct fleet_user *u)
{
	free(u->allowed_ips);
	sodium_memzero(u, sizeof(*u));
}

bool fleet_user_equal(const struct fleet_user *a, const struct fleet_user *b)
{
	if (memcmp(a->public_key, b->public_key, KEY_LEN) ||
	    a->has_psk != b->has_psk ||
	    (a->has_psk &&
	     sodium_memcmp(a->preshared_key, b->preshared_key, KEY_LEN)) ||
	    a->n_allowed_ips != b->n_allowed_ips)
		return false;
	for (size_t i = 0; i < a->n_allowed_ips; i++)
		if (prefix_order(&a->allowed_ips[i], &b->allowed_ips[i]))
			return false;
	return true;
}

/* ------------------------------------------------------------------ */
/* etcd's answers.                                                     */

/* A 64-bit member, as a string ("42") or a number; 0 when absent. */
static int64_t int_member(struct json_object *o, const char *name)
{
	struct json_object *v;
	const char *s;
	char *end;
	long long n;

	if (!json_object_object_get_ex(o, name, &v))
		return 0;
	if (json_object_is_type(v, json_type_int))
		return json_object_get_int64(v);
	if (!json_object_is_type(v, json_type_string))
		return 0;
	s = json_object_get_string(v);
	errno = 0;
	n = strtoll(s, &end, 10);
	return errno || *end || end == s ? 0 : (int64_t)n;
}

static bool bool_member(struct json_object *o, const char *name)
{
	struct json_object *v;

	return json_object_object_get_ex(o, name, &v) &&
	       json_object_get_boolean(v);
}

/* Decodes base64 into @out (@cap bytes); -1 when it does not fit or is bad. */
static int b64_decode(const char *b64, size_t b64len, uint8_t *out, size_t cap,
		      size_t *len)
{
	if (b64len / 4 * 3 > cap + 2 || !key_base64_text_valid(b64, b64len))
		return -1;
	return sodium_base642bin(out, cap, b64, b64len, NULL, len, NULL,
				 sodium_base64_VARIANT_ORIGINAL);
}

static void key_printable(struct fleet_kv *kv, const uint8_t *raw, size_t len)
{
	size_t n = len < sizeof(kv->key) - 1 ? len : sizeof(kv->key) - 1;

	for (size_t i = 0; i < n; i++)
		kv->key[i] = raw[i] > ' ' && raw[i] < 0x7f ? (char)raw[i] : '?';
	kv->key[n] = '\0';
}

/* The value's base64 may hold a preshared key: wiped whatever the key. */
static void value_wipe(struct json_object *kvo)
{
	struct json_object *v;

	if (json_object_object_get_ex(kvo, "value", &v) &&
	    json_object_is_type(v, json_type_string))
		sodium_memzero((void *)json_object_get_string(v),
			       (size_t)json_object_get_string_len(v));
}

/*
 * Decodes one "kv" object and calls @cb.  @raw receives the raw key (for
 * paging); a bad key or value is passed on with kv.why set, so that the
 * caller counts and logs it.
 */
static int kv_walk(struct json_object *kvo, const char *prefix, bool deleted,
		   uint8_t *raw, size_t *raw_len, fleet_kv_fn cb, void *ctx)
{
	size_t plen = strlen(prefix), cap = plen + FLEET_NAME_MAX, vlen = 0;
	struct fleet_kv kv = { .deleted = deleted };
	struct json_object *k, *v;
	char *value = NULL;
	int ret;

	*raw_len = 0;
	if (!json_object_object_get_ex(kvo, "key", &k) ||
	    !json_object_is_type(k, json_type_string)) {
		value_wipe(kvo);
		return -EPROTO;
	}
	kv.mod_revision = int_member(kvo, "mod_revision");
	if (b64_decode(json_object_get_string(k),
		       (size_t)json_object_get_string_len(k), raw, cap,
		       raw_len)) {
		kv.why = "the key is not base64, or is longer than the prefix and a name of 63 characters";
		snprintf(kv.key, sizeof(kv.key), "%s...", prefix);
		*raw_len = 0;
		value_wipe(kvo);
		return cb(ctx, &kv);
	}
	key_printable(&kv, raw, *raw_len);
	if (*raw_len < plen || memcmp(raw, prefix, plen)) {
		value_wipe(kvo);
		return -EPROTO;
	}
	raw[*raw_len] = '\0';
	kv.name = (const char *)raw + plen;
	if (strlen(kv.name) != *raw_len - plen ||
	    !conf_peer_name_valid(kv.name))
		kv.why = "the name after the prefix is not 1 to 63 letters, digits and - _ . @";
	if (!deleted && json_object_object_get_ex(kvo, "value", &v) &&
	    json_object_is_type(v, json_type_string)) {
		size_t b64len = (size_t)json_object_get_string_len(v);

		kv.value_len = b64len / 4 * 3;
		if (kv.value_len <= FLEET_VALUE_MAX) {
			value = malloc(FLEET_VALUE_MAX + 1);
			if (!value)
				return -ENOMEM;
			if (b64_decode(json_object_get_string(v), b64len,
				       (uint8_t *)value, FLEET_VALUE_MAX,
				       &vlen)) {
				kv.why = kv.why ? kv.why : "the value is not base64";
				vlen = 0;
			}
			value[vlen] = '\0';
			kv.value = value;
			kv.value_len = vlen;
		}
		/* The base64 held the preshared key too. */
		sodium_memzero((void *)json_object_get_string(v), b64len);
	} else if (!deleted) {
		kv.value = "";
	}
	ret = cb(ctx, &kv);
	if (value) {
		sodium_memzero(value, FLEET_VALUE_MAX + 1);
		free(value);
	}
	return ret;
}

/* Walks the array @member of @parent, if there is one. */
static int walk_array(struct json_object *parent, const char *member,
		      const char *prefix, bool watch, fleet_kv_fn cb, void *ctx)
{
	size_t cap = strlen(prefix) + FLEET_NAME_MAX + 1, raw_len = 0, n;
	struct json_object *arr;
	uint8_t *raw;
	int ret = 0;

	if (!json_object_object_get_ex(parent, member, &arr))
		return 0;
	if (!json_object_is_type(arr, json_type_array))
		return -EPROTO;
	raw = malloc(cap);
	if (!raw)
		return -ENOMEM;
	n = json_object_array_length(arr);
	for (size_t i = 0; i < n && !ret; i++) {
		struct json_object *e = json_object_array_get_idx(arr, i);
		struct json_object *kvo = e, *type;
		bool deleted = false;

		if (watch) {
			if (!json_object_object_get_ex(e, "kv", &kvo)) {
				ret = -EPROTO;
				break;
			}
			/* A "type" that is not a string (null, say) is not
			 * a deletion. */
			deleted = json_object_object_get_ex(e, "type", &type) &&
				  json_object_is_type(type, json_type_string) &&
				  !strcmp(json_object_get_string(type),
					  "DELETE");
		}
		ret = kv_walk(kvo, prefix, deleted, raw, &raw_len, cb, ctx);
	}
	free(raw);
	return ret;
}

/* The raw key of the last pair of a page, for the next page's start. */
static int last_key(struct json_object *o, struct fleet_range_info *info)
{
	struct json_object *kvs, *last, *k;
	size_t n, b64len;

	if (!json_object_object_get_ex(o, "kvs", &kvs) ||
	    !(n = json_object_array_length(kvs)))
		return -EPROTO;
	last = json_object_array_get_idx(kvs, n - 1);
	if (!json_object_object_get_ex(last, "key", &k))
		return -EPROTO;
	b64len = (size_t)json_object_get_string_len(k);
	info->last_key = malloc(b64len + 1);
	if (!info->last_key)
		return -ENOMEM;
	if (!key_base64_text_valid(json_object_get_string(k), b64len) ||
	    sodium_base642bin((uint8_t *)info->last_key, b64len,
			      json_object_get_string(k), b64len, NULL,
			      &info->last_key_len, NULL,
			      sodium_base64_VARIANT_ORIGINAL))
		return -EPROTO;
	return 0;
}

int fleet_json_range(struct json_object *o, const char *prefix,
		     struct fleet_range_info *info, fleet_kv_fn cb, void *ctx)
{
	struct json_object *header;
	int ret;

	memset(info, 0, sizeof(*info));
	if (!json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "header", &header))
		return -EPROTO;
	info->revision = int_member(header, "revision");
	info->more = bool_member(o, "more");
	if (info->revision <= 0)
		return -EPROTO;
	ret = walk_array(o, "kvs", prefix, false, cb, ctx);
	if (!ret && info->more)
		ret = last_key(o, info);
	return ret;
}

int fleet_json_watch(struct json_object *o, const char *prefix,
		     struct fleet_watch_info *info, fleet_kv_fn cb, void *ctx)
{
	struct json_object *r, *header;

	memset(info, 0, sizeof(*info));
	if (!json_object_is_type(o, json_type_object))
		return -EPROTO;
	if (json_object_object_get_ex(o, "error", &r)) {
		info->error = true;
		return 0;
	}
	if (!json_object_object_get_ex(o, "result", &r) ||
	    !json_object_is_type(r, json_type_object))
		return -EPROTO;
	if (json_object_object_get_ex(r, "header", &header))
		info->revision = int_member(header, "revision");
	info->created = bool_member(r, "created");
	info->canceled = bool_member(r, "canceled");
	info->compact_revision = int_member(r, "compact_revision");
	return walk_array(r, "events", prefix, true, cb, ctx);
}

/* ------------------------------------------------------------------ */
/* Requests.                                                           */

static int add_b64(struct json_object *o, const char *name, const void *bin,
		   size_t len)
{
	size_t cap = sodium_base64_ENCODED_LEN(len,
					       sodium_base64_VARIANT_ORIGINAL);
	char *b64 = malloc(cap);
	int ret;

	if (!b64)
		return -ENOMEM;
	sodium_bin2base64(b64, cap, bin, len, sodium_base64_VARIANT_ORIGINAL);
	ret = json_object_object_add(o, name, json_object_new_string(b64));
	free(b64);
	return ret ? -ENOMEM : 0;
}

static int add_int(struct json_object *o, const char *name, int64_t v)
{
	char text[24];

	snprintf(text, sizeof(text), "%" PRId64, v);
	return json_object_object_add(o, name, json_object_new_string(text)) ?
		       -ENOMEM : 0;
}

/* The keys from @prefix up to, not including, the prefix's end. */
static int add_range(struct json_object *o, const char *prefix,
		     const char *from, size_t from_len)
{
	size_t plen = strlen(prefix);
	char end[CONF_FLEET_TEXT_MAX + 1];
	int ret;

	/* Printable ASCII, so the last byte plus one does not carry. */
	memcpy(end, prefix, plen);
	end[plen - 1]++;
	ret = add_b64(o, "key", from ? from : prefix, from ? from_len : plen);
	return ret ? ret : add_b64(o, "range_end", end, plen);
}

static char *finish(struct json_object *o, int ret)
{
	char *text = NULL;

	if (!ret)
		text = strdup(json_object_to_json_string_ext(
			o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return text;
}

char *fleet_json_range_request(const char *prefix, const char *from,
			       size_t from_len, int64_t revision,
			       unsigned int limit)
{
	struct json_object *o = json_object_new_object();
	int ret;

	if (!o)
		return NULL;
	ret = add_range(o, prefix, from, from_len);
	if (!ret && limit)
		ret = add_int(o, "limit", limit);
	if (!ret && revision)
		ret = add_int(o, "revision", revision);
	return finish(o, ret);
}

char *fleet_json_watch_request(const char *prefix, int64_t start_revision)
{
	struct json_object *o = json_object_new_object();
	struct json_object *c = json_object_new_object();
	int ret = o && c ? 0 : -ENOMEM;

	if (!ret)
		ret = add_range(c, prefix, NULL, 0);
	if (!ret && start_revision)
		ret = add_int(c, "start_revision", start_revision);
	if (!ret) {
		ret = json_object_object_add(o, "create_request", c) ? -ENOMEM : 0;
		c = NULL;
	}
	json_object_put(c);
	if (!o)
		return NULL;
	return finish(o, ret);
}
