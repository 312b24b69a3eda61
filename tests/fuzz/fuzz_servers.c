/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the server list, conf_servers_load() in vpnd/conf.c (unsigned:
 * fuzz_signed covers the signature), through the line scan, iniparser and
 * the validation of each server's section and of [list].  The input is
 * the file, written as DIR/servers.conf (fuzz_conf.h).
 *
 * Properties, for any input:
 *  - a refusal has a message that says where and leaves no list behind;
 *  - an accepted list names at least one server and is not marked
 *    verified; it has not expired; each server has an id of 1 to 63
 *    lowercase letters, digits and - _ ., found by conf_servers_find()
 *    under that id and under its uppercase spelling (so no two share an
 *    id); an IP endpoint with a port, not the unspecified address; a
 *    two-letter lowercase country; a city (maybe empty); a line that
 *    exists, in file order;
 *  - it frees without a leak (LSan).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <arpa/inet.h>

#include "conf.h"

#define FUZZ_NAME "fuzz_servers"
#include "fuzz_conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool id_valid(const char *id)
{
	size_t len = strlen(id);

	if (!len || len > CONF_NAME_MAX)
		return false;
	for (; *id; id++)
		if (!((*id >= 'a' && *id <= 'z') || (*id >= '0' && *id <= '9') ||
		      *id == '-' || *id == '_' || *id == '.'))
			return false;
	return true;
}

static void check_endpoint(const union conf_endpoint *ep)
{
	static const uint8_t zero[16];

	switch (ep->sa.sa_family) {
	case AF_INET:
		if (!ep->in4.sin_port || !ep->in4.sin_addr.s_addr)
			FAIL("an IPv4 endpoint without a port or address");
		break;
	case AF_INET6:
		if (!ep->in6.sin6_port ||
		    !memcmp(&ep->in6.sin6_addr, zero, sizeof(zero)))
			FAIL("an IPv6 endpoint without a port or address");
		break;
	default:
		FAIL("an endpoint of family %d", ep->sa.sa_family);
	}
}

static void check_entry(const struct conf_servers *l,
			const struct conf_server_entry *e, unsigned int prev,
			unsigned int lines)
{
	char upper[CONF_NAME_MAX + 1];

	if (!e->id || !id_valid(e->id))
		FAIL("a server id that is not one: %s", e->id ? e->id : "(none)");
	if (conf_servers_find(l, e->id) != e)
		FAIL("[%s] is not the server found under its id", e->id);
	for (size_t i = 0; i <= strlen(e->id); i++)
		upper[i] = (char)(e->id[i] >= 'a' && e->id[i] <= 'z' ?
					  e->id[i] - 'a' + 'A' : e->id[i]);
	if (conf_servers_find(l, upper) != e)
		FAIL("[%s] is not found under %s", e->id, upper);
	check_endpoint(&e->endpoint);
	if (strlen(e->country) != 2 || e->country[0] < 'a' ||
	    e->country[0] > 'z' || e->country[1] < 'a' || e->country[1] > 'z')
		FAIL("[%s] country \"%s\"", e->id, e->country);
	if (!e->city)
		FAIL("[%s] without a city string", e->id);
	if (e->line <= prev || e->line > lines)
		FAIL("[%s] at line %u, after %u, of %u", e->id, e->line, prev,
		     lines);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_servers *l = (struct conf_servers *)1;
	char path[PATH_MAX], err[CONF_ERR_LEN];
	unsigned int lines = fuzz_lines(data, size), prev = 0;
	time_t now = time(NULL);
	int r;

	fuzz_put("servers.conf", data, size, 0600, path);
	r = conf_servers_load(path, &l, err, sizeof(err));
	if (r) {
		if (l)
			FAIL("refused, but a list is left");
		fuzz_check_refusal(r, err, sizeof(err), path, lines);
		return 0;
	}
	if (!l || !l->path || strcmp(l->path, path))
		FAIL("accepted without the list or its path");
	if (!l->n_entry || l->verified)
		FAIL("%zu servers, verified %d", l->n_entry, l->verified);
	if (l->expires && l->expires <= now)
		FAIL("an expired list accepted");
	for (size_t i = 0; i < l->n_entry; i++) {
		check_entry(l, &l->entry[i], prev, lines);
		prev = l->entry[i].line;
	}
	conf_servers_free(l);
	return 0;
}
