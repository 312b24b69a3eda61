/* SPDX-License-Identifier: MIT */
/*
 * The fleet without sockets: a user's value (fleet_json.c), etcd's
 * gateway answers and our requests, and the diff a change makes
 * (fleet_table.c), applied to a model device through struct fleet_ops.
 * The model keeps a "session" number per peer, so that a test can see
 * whether a change kept a user's sessions or replaced its peer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <sodium.h>

#include "crypto.h"
#include "fleet_json.h"
#include "fleet_table.h"

/* ------------------------------------------------------------------ */
/* Keys and values.                                                    */

static void key_b64(char out[KEY_BASE64_LEN + 1], uint8_t seed)
{
	uint8_t k[KEY_LEN];

	memset(k, seed, sizeof(k));
	key_to_base64(out, k);
}

/* A user's value: key from @seed, the prefixes given, a psk when psk. */
static char *value(uint8_t seed, const char *ips, uint8_t psk)
{
	char k[KEY_BASE64_LEN + 1], p[KEY_BASE64_LEN + 1];
	char *v;

	key_b64(k, seed);
	key_b64(p, psk);
	if (psk)
		assert_true(asprintf(&v,
				     "{\"public_key\":\"%s\",\"allowed_ips\":[%s],\"preshared_key\":\"%s\"}",
				     k, ips, p) > 0);
	else
		assert_true(asprintf(&v,
				     "{\"public_key\":\"%s\",\"allowed_ips\":[%s]}",
				     k, ips) > 0);
	return v;
}

static void test_parse_valid(void **state)
{
	char *v = value(7, "\"fc00:bbbb::3:7/128\", \"10.64.3.7/32\", \"10.65.0.0/16\"", 9);
	struct fleet_user u;
	const char *why;
	uint8_t k[KEY_LEN];

	(void)state;
	assert_int_equal(fleet_user_parse(v, strlen(v), &u, &why), 0);
	memset(k, 7, sizeof(k));
	assert_memory_equal(u.public_key, k, KEY_LEN);
	memset(k, 9, sizeof(k));
	assert_true(u.has_psk);
	assert_memory_equal(u.preshared_key, k, KEY_LEN);
	assert_int_equal(u.n_allowed_ips, 3);
	/* Sorted: IPv4 first, by address. */
	assert_int_equal(u.allowed_ips[0].family, AF_INET);
	assert_int_equal(u.allowed_ips[0].cidr, 32);
	assert_int_equal(u.allowed_ips[1].cidr, 16);
	assert_int_equal(u.allowed_ips[2].family, AF_INET6);
	fleet_user_clear(&u);
	free(v);

	/* No psk, and an explicit null one. */
	v = value(7, "\"10.64.3.7/32\"", 0);
	assert_int_equal(fleet_user_parse(v, strlen(v), &u, &why), 0);
	assert_false(u.has_psk);
	fleet_user_clear(&u);
	free(v);
}

static void test_parse_rejects(void **state)
{
	char k[KEY_BASE64_LEN + 1], many[64 * 20 + 8] = "";
	char big[FLEET_VALUE_MAX + 64];
	struct {
		const char *what;
		char *text;
		size_t len;
	} bad[32];
	size_t n = 0;

	(void)state;
	key_b64(k, 3);
#define BAD(w, ...) do { \
		bad[n].what = w; \
		assert_true(asprintf(&bad[n].text, __VA_ARGS__) > 0); \
		bad[n].len = strlen(bad[n].text); \
		n++; \
	} while (0)
	BAD("not JSON", "{\"public_key\": ");
	BAD("trailing text", "{\"public_key\":\"%s\",\"allowed_ips\":[\"10.0.0.1/32\"]} x", k);
	BAD("an array", "[1, 2]");
	BAD("a string", "\"%s\"", k);
	BAD("no public_key", "{\"allowed_ips\":[\"10.0.0.1/32\"]}");
	BAD("a short key", "{\"public_key\":\"%.43s\",\"allowed_ips\":[\"10.0.0.1/32\"]}", k);
	BAD("a key that is not base64", "{\"public_key\":\"%.43s!\",\"allowed_ips\":[\"10.0.0.1/32\"]}", k);
	BAD("a numeric key", "{\"public_key\":12,\"allowed_ips\":[\"10.0.0.1/32\"]}");
	BAD("an unknown member", "{\"public_key\":\"%s\",\"allowed_ip\":[\"10.0.0.1/32\"]}", k);
	BAD("no allowed_ips", "{\"public_key\":\"%s\"}", k);
	BAD("allowed_ips a string", "{\"public_key\":\"%s\",\"allowed_ips\":\"10.0.0.1/32\"}", k);
	BAD("allowed_ips empty", "{\"public_key\":\"%s\",\"allowed_ips\":[]}", k);
	BAD("an entry not a string", "{\"public_key\":\"%s\",\"allowed_ips\":[7]}", k);
	BAD("an entry not a prefix", "{\"public_key\":\"%s\",\"allowed_ips\":[\"10.0.0.300/32\"]}", k);
	BAD("a hostname", "{\"public_key\":\"%s\",\"allowed_ips\":[\"example.com\"]}", k);
	BAD("a prefix too long", "{\"public_key\":\"%s\",\"allowed_ips\":[\"10.0.0.1/33\"]}", k);
	BAD("host bits", "{\"public_key\":\"%s\",\"allowed_ips\":[\"10.0.0.1/24\"]}", k);
	BAD("a prefix twice", "{\"public_key\":\"%s\",\"allowed_ips\":[\"10.0.0.1/32\",\"10.0.0.1\"]}", k);
	BAD("a NUL inside an entry", "{\"public_key\":\"%s\",\"allowed_ips\":[\"10.0.0.1\\u0000/32\"]}", k);
	BAD("a bad psk", "{\"public_key\":\"%s\",\"allowed_ips\":[\"10.0.0.1/32\"],\"preshared_key\":\"abc\"}", k);
	BAD("nested too deep", "{\"public_key\":\"%s\",\"allowed_ips\":[[[[[\"10.0.0.1/32\"]]]]]}", k);
	for (int i = 0; i < 65; i++) {
		char one[24];

		snprintf(one, sizeof(one), "%s\"10.1.0.%d/32\"", i ? "," : "", i);
		strcat(many, one);
	}
	BAD("65 prefixes", "{\"public_key\":\"%s\",\"allowed_ips\":[%s]}", k, many);
	memset(big, ' ', sizeof(big));
	snprintf(big + sizeof(big) - 64, 64, "{\"public_key\":\"%s\"}", k);
	BAD("over 4096 bytes", "%s", big);
	/* A NUL byte before the end of the text. */
	BAD("a NUL after the object", "{\"public_key\":\"%s\",\"allowed_ips\":[\"10.0.0.1/32\"]}#", k);
	bad[n - 1].text[bad[n - 1].len - 1] = '\0';
#undef BAD
	for (size_t i = 0; i < n; i++) {
		struct fleet_user u;
		const char *why = NULL;
		int r = fleet_user_parse(bad[i].text, bad[i].len, &u, &why);

		if (r != -EINVAL)
			fail_msg("%s: parsed (%d)", bad[i].what, r);
		assert_non_null(why);
		/* The message never quotes the value. */
		assert_null(strstr(why, "10.0.0"));
		assert_null(strstr(why, k));
		free(bad[i].text);
	}
}

static void test_user_equal(void **state)
{
	char *a = value(1, "\"10.0.0.1/32\",\"10.0.0.2/32\"", 5);
	char *b = value(1, "\"10.0.0.2/32\",\"10.0.0.1/32\"", 5);
	char *c = value(1, "\"10.0.0.2/32\",\"10.0.0.1/32\"", 6);
	struct fleet_user ua, ub, uc;
	const char *why;

	(void)state;
	assert_int_equal(fleet_user_parse(a, strlen(a), &ua, &why), 0);
	assert_int_equal(fleet_user_parse(b, strlen(b), &ub, &why), 0);
	assert_int_equal(fleet_user_parse(c, strlen(c), &uc, &why), 0);
	assert_true(fleet_user_equal(&ua, &ub));	/* order does not matter */
	assert_false(fleet_user_equal(&ua, &uc));
	fleet_user_clear(&ua);
	fleet_user_clear(&ub);
	fleet_user_clear(&uc);
	free(a);
	free(b);
	free(c);
}

/* ------------------------------------------------------------------ */
/* A model device.                                                     */

enum { MODEL_MAX = 64 };

struct model_peer {
	bool used;
	uint8_t key[KEY_LEN];
	bool has_psk;
	uint8_t psk[KEY_LEN];
	struct conf_prefix ips[8];
	size_t n_ips;
	unsigned int session;	/* a new number for each new peer */
};

struct model {
	struct model_peer peer[MODEL_MAX];
	unsigned int next_session;
	uint8_t static_key[KEY_LEN];
	int fail_set;		/* set() fails with this once */
	unsigned int sets, removes;
};

static struct model_peer *model_find(struct model *m, const uint8_t *key)
{
	for (int i = 0; i < MODEL_MAX; i++)
		if (m->peer[i].used && !memcmp(m->peer[i].key, key, KEY_LEN))
			return &m->peer[i];
	return NULL;
}

static bool model_overlap(const struct conf_prefix *a,
			  const struct conf_prefix *b)
{
	const uint8_t *x = (const uint8_t *)&a->addr, *y = (const uint8_t *)&b->addr;
	unsigned int bits = a->cidr < b->cidr ? a->cidr : b->cidr;

	if (a->family != b->family)
		return false;
	for (unsigned int i = 0; i < bits; i++)
		if (((x[i / 8] ^ y[i / 8]) >> (7 - i % 8)) & 1)
			return false;
	return true;
}

static bool m_name_reserved(void *ctx, const char *name)
{
	(void)ctx;
	return !strcmp(name, "static-peer");
}

static int m_check(void *ctx, const struct fleet_user *u,
		   const uint8_t *old_key, const char **why)
{
	struct model *m = ctx;
	struct model_peer *own = old_key ? model_find(m, old_key) : NULL;
	struct model_peer *p = model_find(m, u->public_key);

	if (!memcmp(u->public_key, m->static_key, KEY_LEN)) {
		*why = "static key";
		return -ENOTUNIQ;
	}
	if (p && p != own) {
		*why = "another's key";
		return -EEXIST;
	}
	for (int i = 0; i < MODEL_MAX; i++) {
		if (!m->peer[i].used || &m->peer[i] == own)
			continue;
		for (size_t j = 0; j < m->peer[i].n_ips; j++)
			for (size_t k = 0; k < u->n_allowed_ips; k++)
				if (model_overlap(&m->peer[i].ips[j],
						  &u->allowed_ips[k])) {
					*why = "overlap";
					return -EADDRINUSE;
				}
	}
	return 0;
}

static int m_set(void *ctx, const struct fleet_user *u, const uint8_t *old_key,
		 unsigned int changes)
{
	struct model *m = ctx;
	struct model_peer *p = old_key ? model_find(m, old_key) : NULL;
	int r = m->fail_set;

	m->sets++;
	m->fail_set = 0;
	if (r)
		return r;
	if (p && (changes & FLEET_CHANGE_KEY)) {
		p->used = false;
		p = NULL;
	}
	if (!p) {
		int i = 0;

		while (i < MODEL_MAX - 1 && m->peer[i].used)
			i++;
		assert_false(m->peer[i].used);
		p = &m->peer[i];
		memset(p, 0, sizeof(*p));
		p->used = true;
		p->session = ++m->next_session;
		memcpy(p->key, u->public_key, KEY_LEN);
		changes |= FLEET_CHANGE_PSK | FLEET_CHANGE_IPS;
	}
	if (changes & FLEET_CHANGE_PSK) {
		p->has_psk = u->has_psk;
		memcpy(p->psk, u->preshared_key, KEY_LEN);
	}
	if (changes & FLEET_CHANGE_IPS) {
		assert_true(u->n_allowed_ips <= 8);
		memcpy(p->ips, u->allowed_ips, u->n_allowed_ips * sizeof(*p->ips));
		p->n_ips = u->n_allowed_ips;
	}
	return 0;
}

static void m_remove(void *ctx, const uint8_t key[KEY_LEN])
{
	struct model *m = ctx;
	struct model_peer *p = model_find(m, key);

	m->removes++;
	if (p)
		p->used = false;
}

struct fx {
	struct model m;
	struct fleet_ops ops;
	struct fleet_table t;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx || fleet_table_init(&fx->t))
		return -1;
	memset(fx->m.static_key, 0xee, KEY_LEN);
	fx->ops = (struct fleet_ops){
		.ctx = &fx->m, .name_reserved = m_name_reserved,
		.check = m_check, .set = m_set, .remove = m_remove,
	};
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	fleet_table_free(&fx->t, &fx->ops);
	for (int i = 0; i < MODEL_MAX; i++)
		assert_false(fx->m.peer[i].used);
	free(fx);
	return 0;
}

/* Puts a value made by value(); returns the table's answer. */
static int put(struct fx *fx, const char *name, uint8_t seed, const char *ips,
	       uint8_t psk)
{
	char *v = value(seed, ips, psk);
	const char *why;
	int r = fleet_table_put(&fx->t, &fx->ops, name, v, strlen(v), &why);

	free(v);
	return r;
}

static struct model_peer *peer_of(struct fx *fx, uint8_t seed)
{
	uint8_t k[KEY_LEN];

	memset(k, seed, sizeof(k));
	return model_find(&fx->m, k);
}

static size_t peers(struct fx *fx)
{
	size_t n = 0;

	for (int i = 0; i < MODEL_MAX; i++)
		n += fx->m.peer[i].used;
	return n;
}

static void test_table_changes(void **state)
{
	struct fx *fx = *state;
	unsigned int s;

	assert_int_equal(put(fx, "alice", 1, "\"10.0.0.1/32\"", 0), 1);
	assert_int_equal(put(fx, "bob", 2, "\"10.0.0.2/32\"", 4), 1);
	assert_int_equal(fx->t.count, 2);
	assert_int_equal(peers(fx), 2);
	s = peer_of(fx, 1)->session;

	/* The same value again: nothing happens. */
	assert_int_equal(put(fx, "alice", 1, "\"10.0.0.1/32\"", 0), 0);
	assert_int_equal(fx->m.sets, 2);

	/* New prefixes: the same peer, its sessions kept. */
	assert_int_equal(put(fx, "alice", 1, "\"10.0.0.1/32\",\"fc00::1/128\"", 0), 1);
	assert_int_equal(peer_of(fx, 1)->session, s);
	assert_int_equal(peer_of(fx, 1)->n_ips, 2);

	/* A new psk: the same peer. */
	assert_int_equal(put(fx, "alice", 1, "\"10.0.0.1/32\",\"fc00::1/128\"", 8), 1);
	assert_int_equal(peer_of(fx, 1)->session, s);
	assert_true(peer_of(fx, 1)->has_psk);

	/* A new key: a new peer, the old one gone with its sessions. */
	assert_int_equal(put(fx, "alice", 3, "\"10.0.0.1/32\"", 0), 1);
	assert_null(peer_of(fx, 1));
	assert_non_null(peer_of(fx, 3));
	assert_int_not_equal(peer_of(fx, 3)->session, s);
	assert_int_equal(fleet_table_key(&fx->t, "alice")[0], 3);

	/* A deletion, then one of a name that holds nothing. */
	assert_int_equal(fleet_table_delete(&fx->t, &fx->ops, "alice"), 1);
	assert_null(peer_of(fx, 3));
	assert_null(fleet_table_key(&fx->t, "alice"));
	assert_int_equal(fleet_table_delete(&fx->t, &fx->ops, "alice"), 0);
	assert_int_equal(fx->t.count, 1);
	assert_non_null(peer_of(fx, 2));
	assert_int_equal(fx->t.skipped, 0);
}

static void test_table_skips(void **state)
{
	struct fx *fx = *state;
	const char *why;
	unsigned int bob;

	assert_int_equal(put(fx, "alice", 1, "\"10.0.0.1/32\"", 0), 1);
	assert_int_equal(put(fx, "bob", 2, "\"10.0.0.4/30\"", 0), 1);
	bob = peer_of(fx, 2)->session;

	/* Another user's key, an overlapping prefix: skipped, counted. */
	assert_int_equal(put(fx, "carol", 1, "\"10.0.0.9/32\"", 0), -EEXIST);
	assert_int_equal(put(fx, "carol", 3, "\"10.0.0.5/32\"", 0), -EADDRINUSE);
	assert_int_equal(put(fx, "carol", 3, "\"10.0.0.0/8\"", 0), -EADDRINUSE);
	assert_null(fleet_table_key(&fx->t, "carol"));
	/* The name or key of a [peer] section. */
	assert_int_equal(put(fx, "static-peer", 4, "\"10.0.1.1/32\"", 0), -ENOTUNIQ);
	assert_int_equal(put(fx, "dave", 0xee, "\"10.0.1.1/32\"", 0), -ENOTUNIQ);
	/* A bad name. */
	assert_int_equal(put(fx, "bad name", 5, "\"10.0.1.2/32\"", 0), -EINVAL);
	assert_int_equal(fx->t.skipped, 6);
	assert_int_equal(peers(fx), 2);

	/* The device failing: nothing added, counted. */
	fx->m.fail_set = -ENOMEM;
	assert_int_equal(put(fx, "erin", 6, "\"10.0.2.1/32\"", 0), -ENOMEM);
	assert_null(fleet_table_key(&fx->t, "erin"));
	assert_int_equal(fx->t.count, 2);

	/* A malformed value for a user: that user is gone, no other. */
	assert_int_equal(fleet_table_put(&fx->t, &fx->ops, "alice", "{", 1,
					 &why), -EINVAL);
	assert_non_null(why);
	assert_null(peer_of(fx, 1));
	assert_null(fleet_table_key(&fx->t, "alice"));
	assert_int_equal(peer_of(fx, 2)->session, bob);
	/* So is a user whose new value clashes. */
	assert_int_equal(put(fx, "frank", 7, "\"10.0.3.1/32\"", 0), 1);
	assert_int_equal(put(fx, "frank", 7, "\"10.0.0.6/32\"", 0), -EADDRINUSE);
	assert_null(peer_of(fx, 7));
	/* A value skipped before the table (a bad key in etcd). */
	assert_int_equal(put(fx, "gina", 8, "\"10.0.4.1/32\"", 0), 1);
	fleet_table_skip(&fx->t, &fx->ops, "gina");
	assert_null(peer_of(fx, 8));
	fleet_table_skip(&fx->t, &fx->ops, NULL);
	assert_int_equal(fx->t.skipped, 11);
	assert_int_equal(fx->t.count, 1);
	assert_int_equal(peer_of(fx, 2)->session, bob);
}

/* A clash within a batch waits for the batch's end, changing nothing. */
static void test_table_try(void **state)
{
	struct fx *fx = *state;
	char *v = value(3, "\"10.0.0.1/32\"", 0);
	const char *why;
	unsigned int a;

	assert_int_equal(put(fx, "alice", 1, "\"10.0.0.1/32\"", 0), 1);
	assert_int_equal(put(fx, "carol", 3, "\"10.0.0.3/32\"", 0), 1);
	a = peer_of(fx, 1)->session;
	/* carol takes alice's address before alice gives it up. */
	assert_int_equal(fleet_table_try(&fx->t, &fx->ops, "carol", v,
					 strlen(v), &why), -EAGAIN);
	assert_int_equal(fx->t.skipped, 0);
	assert_non_null(peer_of(fx, 3));	/* carol as she was */
	assert_int_equal(peer_of(fx, 3)->ips[0].addr.ip4.s_addr, htonl(0x0a000003));
	assert_int_equal(peer_of(fx, 1)->session, a);
	/* alice goes; carol's value, put again, now applies. */
	assert_int_equal(fleet_table_delete(&fx->t, &fx->ops, "alice"), 1);
	assert_int_equal(fleet_table_put(&fx->t, &fx->ops, "carol", v,
					 strlen(v), &why), 1);
	assert_int_equal(peer_of(fx, 3)->ips[0].addr.ip4.s_addr, htonl(0x0a000001));
	/* Anything but a clash is decided at once. */
	assert_int_equal(fleet_table_try(&fx->t, &fx->ops, "dave", "{", 1,
					 &why), -EINVAL);
	assert_int_equal(fx->t.skipped, 1);
	free(v);
}

static void test_table_sync(void **state)
{
	struct fx *fx = *state;
	unsigned int a, b;

	assert_int_equal(put(fx, "alice", 1, "\"10.0.0.1/32\"", 0), 1);
	assert_int_equal(put(fx, "bob", 2, "\"10.0.0.2/32\"", 0), 1);
	assert_int_equal(put(fx, "carol", 3, "\"10.0.0.3/32\"", 0), 1);
	a = peer_of(fx, 1)->session;
	b = peer_of(fx, 2)->session;

	/* A full read: alice unchanged, bob's prefix changed, carol gone,
	 * dave new. */
	fleet_table_sync_begin(&fx->t);
	assert_int_equal(put(fx, "alice", 1, "\"10.0.0.1/32\"", 0), 0);
	assert_int_equal(put(fx, "bob", 2, "\"10.0.0.12/32\"", 0), 1);
	assert_int_equal(put(fx, "dave", 4, "\"10.0.0.4/32\"", 0), 1);
	assert_int_equal(fleet_table_sync_end(&fx->t, &fx->ops), 1);
	assert_int_equal(peer_of(fx, 1)->session, a);
	assert_int_equal(peer_of(fx, 2)->session, b);
	assert_null(peer_of(fx, 3));
	assert_non_null(peer_of(fx, 4));
	assert_int_equal(fx->t.count, 3);

	/* An empty read removes everyone. */
	fleet_table_sync_begin(&fx->t);
	assert_int_equal(fleet_table_sync_end(&fx->t, &fx->ops), 3);
	assert_int_equal(peers(fx), 0);
}

static int null_check(void *ctx, const struct fleet_user *u,
		      const uint8_t *old_key, const char **why)
{
	(void)ctx;
	(void)u;
	(void)old_key;
	(void)why;
	return 0;
}

static int null_set(void *ctx, const struct fleet_user *u,
		    const uint8_t *old_key, unsigned int changes)
{
	(*(size_t *)ctx)++;
	(void)u;
	(void)old_key;
	(void)changes;
	return 0;
}

static void null_remove(void *ctx, const uint8_t key[KEY_LEN])
{
	(*(size_t *)ctx)--;
	(void)key;
}

/* The table alone through its growth, against a device of counts. */
static void test_table_grows(void **state)
{
	size_t held = 0, n = 3000;
	struct fleet_ops ops = {
		.ctx = &held, .name_reserved = m_name_reserved,
		.check = null_check, .set = null_set, .remove = null_remove,
	};
	struct fleet_table t;
	char name[16], *v;
	const char *why;

	(void)state;
	assert_int_equal(fleet_table_init(&t), 0);
	v = value(1, "\"10.0.0.1/32\"", 0);
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "u%zu", i);
		assert_int_equal(fleet_table_put(&t, &ops, name, v, strlen(v),
						 &why), 1);
	}
	assert_int_equal(t.count, n);
	assert_int_equal(held, n);
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "u%zu", i);
		assert_non_null(fleet_table_key(&t, name));
		assert_int_equal(fleet_table_put(&t, &ops, name, v, strlen(v),
						 &why), 0);
	}
	assert_null(fleet_table_key(&t, "u3000"));
	fleet_table_free(&t, &ops);
	assert_int_equal(held, 0);
	free(v);
}

/* ------------------------------------------------------------------ */
/* etcd's answers and our requests.                                    */

static char *b64(const char *s, size_t len)
{
	size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *out = malloc(cap);

	assert_non_null(out);
	sodium_bin2base64(out, cap, (const uint8_t *)s, len,
			  sodium_base64_VARIANT_ORIGINAL);
	return out;
}

struct seen {
	char names[8][72];
	bool deleted[8], why[8], has_value[8];
	size_t value_len[8];
	int64_t rev[8];
	int n;
};

static int collect(void *ctx, const struct fleet_kv *kv)
{
	struct seen *s = ctx;

	assert_true(s->n < 8);
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s",
		 kv->name ? kv->name : "");
	s->deleted[s->n] = kv->deleted;
	s->why[s->n] = kv->why != NULL;
	s->has_value[s->n] = kv->value != NULL;
	s->value_len[s->n] = kv->value_len;
	s->rev[s->n] = kv->mod_revision;
	s->n++;
	return 0;
}

static void test_json_range(void **state)
{
	char *k1 = b64("/u/alice", 8), *v1 = b64("{\"x\":1}", 7);
	char *k2 = b64("/u/bad name", 11), *k3 = b64("/u/big", 6);
	char *bigv, *text, *bigsrc;
	struct fleet_range_info info;
	struct json_object *o;
	struct seen s = { 0 };

	(void)state;
	bigsrc = malloc(8192);
	assert_non_null(bigsrc);
	memset(bigsrc, 'a', 8192);
	bigv = b64(bigsrc, 8192);
	assert_true(asprintf(&text,
			     "{\"header\":{\"revision\":\"42\"},\"kvs\":["
			     "{\"key\":\"%s\",\"value\":\"%s\",\"mod_revision\":\"40\"},"
			     "{\"key\":\"%s\",\"value\":\"%s\",\"mod_revision\":\"41\"},"
			     "{\"key\":\"%s\",\"value\":\"%s\",\"mod_revision\":\"42\"}],"
			     "\"more\":true,\"count\":\"9\"}",
			     k1, v1, k2, v1, k3, bigv) > 0);
	o = json_tokener_parse(text);
	assert_non_null(o);
	assert_int_equal(fleet_json_range(o, "/u/", &info, collect, &s), 0);
	assert_int_equal(info.revision, 42);
	assert_true(info.more);
	assert_int_equal(info.last_key_len, 6);
	assert_memory_equal(info.last_key, "/u/big", 6);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.names[0], "alice");
	assert_false(s.why[0]);
	assert_int_equal(s.value_len[0], 7);
	assert_int_equal(s.rev[0], 40);
	assert_true(s.why[1]);		/* a name with a blank */
	assert_false(s.has_value[2]);	/* too large to decode */
	assert_true(s.value_len[2] > FLEET_VALUE_MAX);
	free(info.last_key);
	json_object_put(o);

	/* A key outside the prefix is not etcd answering what we asked. */
	o = json_tokener_parse("{\"header\":{\"revision\":\"3\"},\"kvs\":[{\"key\":\"L3gvYQ==\"}]}");
	assert_int_equal(fleet_json_range(o, "/u/", &info, collect, &s), -EPROTO);
	json_object_put(o);
	/* No header; an empty answer. */
	o = json_tokener_parse("{\"kvs\":[]}");
	assert_int_equal(fleet_json_range(o, "/u/", &info, collect, &s), -EPROTO);
	json_object_put(o);
	o = json_tokener_parse("{\"header\":{\"revision\":7}}");
	assert_int_equal(fleet_json_range(o, "/u/", &info, collect, &s), 0);
	assert_int_equal(info.revision, 7);
	assert_false(info.more);
	json_object_put(o);
	free(k1);
	free(k2);
	free(k3);
	free(v1);
	free(bigv);
	free(bigsrc);
	free(text);
}

static void test_json_watch(void **state)
{
	char *k1 = b64("/u/alice", 8), *k2 = b64("/u/bob", 6), *v = b64("{}", 2);
	struct fleet_watch_info info;
	struct json_object *o;
	struct seen s = { 0 };
	char *text;

	(void)state;
	o = json_tokener_parse("{\"result\":{\"header\":{\"revision\":\"5\"},\"created\":true}}");
	assert_int_equal(fleet_json_watch(o, "/u/", &info, collect, &s), 0);
	assert_true(info.created);
	assert_int_equal(info.revision, 5);
	assert_int_equal(s.n, 0);
	json_object_put(o);

	assert_true(asprintf(&text,
			     "{\"result\":{\"header\":{\"revision\":\"7\"},\"events\":["
			     "{\"kv\":{\"key\":\"%s\",\"value\":\"%s\",\"mod_revision\":\"6\"}},"
			     "{\"type\":\"DELETE\",\"kv\":{\"key\":\"%s\",\"mod_revision\":\"7\"}}]}}",
			     k1, v, k2) > 0);
	o = json_tokener_parse(text);
	assert_int_equal(fleet_json_watch(o, "/u/", &info, collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_false(s.deleted[0]);
	assert_int_equal(s.value_len[0], 2);
	assert_true(s.deleted[1]);
	assert_string_equal(s.names[1], "bob");
	assert_int_equal(s.rev[1], 7);
	json_object_put(o);

	o = json_tokener_parse("{\"result\":{\"header\":{},\"canceled\":true,\"compact_revision\":\"30\"}}");
	assert_int_equal(fleet_json_watch(o, "/u/", &info, collect, &s), 0);
	assert_true(info.canceled);
	assert_int_equal(info.compact_revision, 30);
	json_object_put(o);
	o = json_tokener_parse("{\"error\":{\"grpc_code\":14,\"message\":\"x\"}}");
	assert_int_equal(fleet_json_watch(o, "/u/", &info, collect, &s), 0);
	assert_true(info.error);
	json_object_put(o);
	o = json_tokener_parse("{\"result\":{\"events\":{}}}");
	assert_int_equal(fleet_json_watch(o, "/u/", &info, collect, &s), -EPROTO);
	json_object_put(o);
	free(text);

	/* A "type" that is not a string is no deletion (found by fuzz_fleet:
	 * null had strcmp() read through a NULL). */
	s.n = 0;
	assert_true(asprintf(&text,
			     "{\"result\":{\"header\":{\"revision\":\"8\"},\"events\":["
			     "{\"type\":null,\"kv\":{\"key\":\"%s\",\"value\":\"%s\",\"mod_revision\":\"8\"}},"
			     "{\"type\":7,\"kv\":{\"key\":\"%s\",\"value\":\"%s\",\"mod_revision\":\"8\"}}]}}",
			     k1, v, k2, v) > 0);
	o = json_tokener_parse(text);
	assert_int_equal(fleet_json_watch(o, "/u/", &info, collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_false(s.deleted[0]);
	assert_false(s.deleted[1]);
	json_object_put(o);
	free(text);

	/* A key whose base64 has a byte above 0x7f, which libsodium would
	 * read as '/': not base64, so the entry is passed on as one to skip,
	 * with why. */
	s.n = 0;
	assert_true(asprintf(&text,
			     "{\"result\":{\"header\":{\"revision\":\"9\"},\"events\":["
			     "{\"kv\":{\"key\":\"%s\",\"value\":\"%s\",\"mod_revision\":\"9\"}}]}}",
			     k1, v) > 0);
	text[strstr(text, k1) - text + 1] = (char)0xd6;
	o = json_tokener_parse(text);
	assert_non_null(o);
	assert_int_equal(fleet_json_watch(o, "/u/", &info, collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_true(s.why[0]);
	assert_string_equal(s.names[0], "");
	/* Skipped, its value (which may hold a preshared key) still wiped. */
	{
		struct json_object *r, *ev, *kv, *val;
		const char *t;

		assert_true(json_object_object_get_ex(o, "result", &r));
		assert_true(json_object_object_get_ex(r, "events", &ev));
		assert_true(json_object_object_get_ex(
			json_object_array_get_idx(ev, 0), "kv", &kv));
		assert_true(json_object_object_get_ex(kv, "value", &val));
		t = json_object_get_string(val);
		for (int i = 0; i < json_object_get_string_len(val); i++)
			assert_int_equal(t[i], 0);
	}
	json_object_put(o);
	free(text);
	free(k1);
	free(k2);
	free(v);
}

static void member_is(struct json_object *o, const char *name,
		      const char *want, size_t len)
{
	struct json_object *v;
	uint8_t bin[64];
	size_t n;

	assert_true(json_object_object_get_ex(o, name, &v));
	assert_int_equal(sodium_base642bin(bin, sizeof(bin),
					   json_object_get_string(v),
					   (size_t)json_object_get_string_len(v),
					   NULL, &n, NULL,
					   sodium_base64_VARIANT_ORIGINAL), 0);
	assert_int_equal(n, len);
	assert_memory_equal(bin, want, len);
}

static void test_requests(void **state)
{
	char *t = fleet_json_range_request("/vpnd/users/", NULL, 0, 0, 1000);
	struct json_object *o = json_tokener_parse(t), *v, *c;

	(void)state;
	member_is(o, "key", "/vpnd/users/", 12);
	member_is(o, "range_end", "/vpnd/users0", 12);
	assert_true(json_object_object_get_ex(o, "limit", &v));
	assert_string_equal(json_object_get_string(v), "1000");
	assert_false(json_object_object_get_ex(o, "revision", &v));
	json_object_put(o);
	free(t);

	t = fleet_json_range_request("/vpnd/users/", "/vpnd/users/bob\0", 16, 77, 10);
	o = json_tokener_parse(t);
	member_is(o, "key", "/vpnd/users/bob\0", 16);
	assert_true(json_object_object_get_ex(o, "revision", &v));
	assert_string_equal(json_object_get_string(v), "77");
	json_object_put(o);
	free(t);

	t = fleet_json_watch_request("/vpnd/users/", 43);
	o = json_tokener_parse(t);
	assert_true(json_object_object_get_ex(o, "create_request", &c));
	member_is(c, "key", "/vpnd/users/", 12);
	member_is(c, "range_end", "/vpnd/users0", 12);
	assert_true(json_object_object_get_ex(c, "start_revision", &v));
	assert_string_equal(json_object_get_string(v), "43");
	json_object_put(o);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_user_equal),
		cmocka_unit_test_setup_teardown(test_table_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_skips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_try, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_grows, setup, teardown),
		cmocka_unit_test(test_json_range),
		cmocka_unit_test(test_json_watch),
		cmocka_unit_test(test_requests),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
