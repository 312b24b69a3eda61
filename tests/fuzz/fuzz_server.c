/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the server config, conf_server_load() in vpnd/conf.c: [interface]
 * (with the private key inline or in a file), [fleet] and the [peer NAME]
 * sections, and the checks across peers.  The input is the file, written
 * as DIR/server.conf (fuzz_conf.h); DIR also holds server.key, a valid
 * key of mode 0600, and open.key, the same key readable by all, for
 * private_key_file to name.
 *
 * Properties, for any input:
 *  - a refusal has a message that says where and leaves no config behind;
 *  - an accepted config has a private key whose public key is the one
 *    derived, a key file path (if any) that is absolute, a port, 1 to 8
 *    addresses (no /0), no NAT or a valid interface name, forget_after in
 *    range; peers with valid names, lines in file order, 1 or more
 *    prefixes without host bits, no key twice and not the server's own,
 *    no prefix twice across all peers; a [fleet] with 1 to 16 http(s)
 *    URLs without a trailing '/', a prefix, absolute paths, cert and key
 *    together;
 *  - it frees without a leak (LSan).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "conf.h"

#define FUZZ_NAME "fuzz_server"
#include "fuzz_conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char key_text[] = "EHVxfAn7qCUhtyVBWzRqrKDkpUn34aY+K7G28skBWXo=\n";

static void check_prefix(const struct conf_prefix *p, const char *what)
{
	if ((p->family != AF_INET || p->cidr > 32) &&
	    (p->family != AF_INET6 || p->cidr > 128))
		FAIL("%s of family %d, /%u", what, p->family, p->cidr);
}

static bool prefix_equal(const struct conf_prefix *a,
			 const struct conf_prefix *b)
{
	return a->family == b->family && a->cidr == b->cidr &&
	       !memcmp(&a->addr, &b->addr, a->family == AF_INET ? 4 : 16);
}

static void check_interface(const struct conf_server *s)
{
	uint8_t pub[KEY_LEN];
	size_t nat = strnlen(s->nat, sizeof(s->nat));

	if (!s->private_key || !s->secrets)
		FAIL("accepted without a private key");
	crypto_scalarmult_curve25519_base(pub, s->private_key);
	if (memcmp(pub, s->public_key, KEY_LEN))
		FAIL("a public key that is not the private key's");
	if (s->private_key_file && s->private_key_file[0] != '/')
		FAIL("a key file path that is not absolute");
	if (!s->listen_port)
		FAIL("no port");
	if (!s->n_address || s->n_address > CONF_ADDRESS_MAX)
		FAIL("%u addresses", s->n_address);
	for (unsigned int i = 0; i < s->n_address; i++) {
		check_prefix(&s->address[i], "an address");
		if (!s->address[i].cidr)
			FAIL("an address with a /0");
	}
	if (nat == sizeof(s->nat))
		FAIL("nat without its NUL");
	for (size_t i = 0; i < nat; i++)
		if ((unsigned char)s->nat[i] <= ' ' || s->nat[i] == '/' ||
		    s->nat[i] == ':' || (unsigned char)s->nat[i] >= 0x7f)
			FAIL("nat \"%s\" is not an interface name", s->nat);
	if (s->forget_after > CONF_FORGET_AFTER_MAX)
		FAIL("forget_after %u", s->forget_after);
}

static void check_peers(const struct conf_server *s, unsigned int lines)
{
	unsigned int prev = 0;

	for (size_t i = 0; i < s->n_peer; i++) {
		const struct conf_peer *p = &s->peer[i];

		if (!p->name || !conf_peer_name_valid(p->name))
			FAIL("a peer name that is not one");
		if (p->line <= prev || p->line > lines)
			FAIL("[peer %s] at line %u after %u, of %u", p->name,
			     p->line, prev, lines);
		prev = p->line;
		if (!memcmp(p->public_key, s->public_key, KEY_LEN))
			FAIL("[peer %s] has the server's key", p->name);
		if (!p->n_allowed_ips)
			FAIL("[peer %s] without allowed_ips", p->name);
		for (size_t j = 0; j < p->n_allowed_ips; j++) {
			check_prefix(&p->allowed_ips[j], "an allowed prefix");
			if (conf_prefix_has_host_bits(&p->allowed_ips[j]))
				FAIL("[peer %s] a prefix with host bits",
				     p->name);
		}
		for (size_t k = 0; k < i; k++) {
			const struct conf_peer *q = &s->peer[k];

			if (!memcmp(p->public_key, q->public_key, KEY_LEN))
				FAIL("[peer %s] and [peer %s] share a key",
				     p->name, q->name);
			for (size_t a = 0; a < p->n_allowed_ips; a++)
				for (size_t b = 0; b < q->n_allowed_ips; b++)
					if (prefix_equal(&p->allowed_ips[a],
							 &q->allowed_ips[b]))
						FAIL("a prefix in two peers");
		}
		for (size_t a = 0; a < p->n_allowed_ips; a++)
			for (size_t b = 0; b < a; b++)
				if (prefix_equal(&p->allowed_ips[a],
						 &p->allowed_ips[b]))
					FAIL("a prefix twice in a peer");
	}
}

static void check_fleet(const struct conf_fleet *fl, unsigned int lines)
{
	if (!fl->n_etcd || fl->n_etcd > CONF_FLEET_ETCD_MAX)
		FAIL("%u etcd endpoints", fl->n_etcd);
	for (unsigned int i = 0; i < fl->n_etcd; i++) {
		const char *u = fl->etcd[i];
		size_t len = strlen(u);

		if (strncmp(u, "http://", 7) && strncmp(u, "https://", 8))
			FAIL("an etcd endpoint that is not a URL: %s", u);
		if (len > CONF_FLEET_TEXT_MAX || u[len - 1] == '/')
			FAIL("an etcd endpoint of %zu bytes or with a '/'", len);
	}
	if (!fl->prefix || !*fl->prefix ||
	    strlen(fl->prefix) > CONF_FLEET_TEXT_MAX)
		FAIL("a fleet without its prefix");
	if ((fl->ca && fl->ca[0] != '/') || (fl->cert && fl->cert[0] != '/') ||
	    (fl->key && fl->key[0] != '/'))
		FAIL("a fleet path that is not absolute");
	if (!fl->cert != !fl->key)
		FAIL("a certificate without its key, or a key without one");
	if (fl->line < 1 || fl->line > lines)
		FAIL("[fleet] at line %u of %u", fl->line, lines);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_server *s = (struct conf_server *)1;
	char path[PATH_MAX], err[CONF_ERR_LEN];
	unsigned int lines = fuzz_lines(data, size);
	static bool keys_written;
	int r;

	if (!keys_written) {
		if (sodium_init() < 0)
			abort();
		fuzz_put("server.key", key_text, strlen(key_text), 0600, path);
		fuzz_put("open.key", key_text, strlen(key_text), 0644, path);
		keys_written = true;
	}
	fuzz_put("server.conf", data, size, 0600, path);
	r = conf_server_load(path, &s, err, sizeof(err));
	if (r) {
		if (s)
			FAIL("refused, but a config is left");
		fuzz_check_refusal(r, err, sizeof(err), path, lines);
		return 0;
	}
	if (!s || !s->path || strcmp(s->path, path))
		FAIL("accepted without the config or its path");
	check_interface(s);
	check_peers(s, lines);
	if (s->fleet)
		check_fleet(s->fleet, lines);
	conf_server_free(s);
	return 0;
}
