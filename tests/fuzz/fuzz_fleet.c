/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes what a fleet server reads from etcd (vpnd/fleet_json.c): a user's
 * value, whoever wrote it into etcd, and the gateway's answers around it.
 *
 * The first input byte chooses what the rest is:
 *  - 0: a user's value.  Accepted, it has 1 to 64 prefixes, sorted, none
 *    twice, no host bits; refused, it says why and leaves nothing behind.
 *  - 1: a watch message, 2: a range answer, as JSON.  Whatever they hold,
 *    every pair passed on has a name that is a valid peer name or a reason
 *    why not, and a value no longer than a user's value may be.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "fleet_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                             \
	do {                                                  \
		fprintf(stderr, "fuzz_fleet: " __VA_ARGS__);  \
		fputc('\n', stderr);                          \
		abort();                                      \
	} while (0)

static void check_user(const char *text, size_t len)
{
	struct fleet_user u;
	const char *why = NULL;
	int r = fleet_user_parse(text, len, &u, &why);

	if (r == 0) {
		if (!u.n_allowed_ips || u.n_allowed_ips > FLEET_ALLOWED_IPS_MAX)
			FAIL("accepted %zu prefixes", u.n_allowed_ips);
		for (size_t i = 0; i < u.n_allowed_ips; i++) {
			const struct conf_prefix *p = &u.allowed_ips[i];

			if (p->family != AF_INET && p->family != AF_INET6)
				FAIL("a prefix of family %d", p->family);
			if (conf_prefix_has_host_bits(p))
				FAIL("a prefix with host bits");
			if (i && !memcmp(p, p - 1, sizeof(*p)))
				FAIL("a prefix twice");
		}
		fleet_user_clear(&u);
		return;
	}
	if (r != -EINVAL && r != -ENOMEM)
		FAIL("returned %d", r);
	if (!why)
		FAIL("refused without a reason");
	if (u.allowed_ips || u.n_allowed_ips)
		FAIL("a refused value left prefixes behind");
}

static int check_kv(void *ctx, const struct fleet_kv *kv)
{
	(void)ctx;
	if (!kv->why && (!kv->name || !conf_peer_name_valid(kv->name)))
		FAIL("a bad name passed without a reason");
	if (kv->value && kv->value_len > FLEET_VALUE_MAX)
		FAIL("a value of %zu bytes decoded", kv->value_len);
	if (kv->value)
		check_user(kv->value, kv->value_len);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_tokener *tok;
	struct json_object *o;

	if (!size)
		return 0;
	if (sodium_init() < 0)
		abort();
	if (data[0] == 0) {
		check_user((const char *)data + 1, size - 1);
		return 0;
	}
	tok = json_tokener_new_ex(16);
	if (!tok)
		return 0;
	o = json_tokener_parse_ex(tok, (const char *)data + 1, (int)(size - 1));
	if (o) {
		if (data[0] == 1) {
			struct fleet_watch_info wi;

			fleet_json_watch(o, "/u/", &wi, check_kv, NULL);
		} else {
			struct fleet_range_info ri;

			fleet_json_range(o, "/u/", &ri, check_kv, NULL);
			free(ri.last_key);
		}
		json_object_put(o);
	}
	json_tokener_free(tok);
	return 0;
}
