/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the client profile, conf_client_load() in vpnd/conf.c: the whole
 * path a profile takes, the line scan, iniparser's reading of the same
 * bytes, and the validation of [interface] and [split].  The input is the
 * file, written as DIR/client.conf (fuzz_conf.h).
 *
 * Properties, for any input:
 *  - a refusal has a message that says where (fuzz_check_refusal()) and
 *    leaves no profile behind;
 *  - an accepted profile is within the documented ranges: 1 to 8
 *    addresses, none unspecified nor a /0; 1 to 8 resolvers, plain
 *    addresses; mtu 0 or 1280 to 9000; a known kill switch mode; the
 *    servers path absolute (relative ones are resolved); failover_after
 *    and probe_timeout_ms in range; "server" consistent with its kind;
 *    split networks within bounds, without host bits, present only with
 *    [split]; lines that exist;
 *  - it frees without a leak (LSan).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "conf.h"

#define FUZZ_NAME "fuzz_client"
#include "fuzz_conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_prefix(const struct conf_prefix *p, bool plain,
			 const char *what)
{
	unsigned int max;

	if (p->family != AF_INET && p->family != AF_INET6)
		FAIL("%s of family %d", what, p->family);
	max = p->family == AF_INET ? 32 : 128;
	if (p->cidr > max || (plain && p->cidr != max))
		FAIL("%s with a prefix length of %u", what, p->cidr);
}

static bool lower_text(const char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			return false;
	return true;
}

static void check_select(const struct conf_client *c, unsigned int lines)
{
	switch (c->select) {
	case CONF_SELECT_NONE:
		if (c->server || c->select_value)
			FAIL("no choice, but a server or value");
		return;
	case CONF_SELECT_ID:
		if (!c->server || !*c->server || !lower_text(c->server) ||
		    strlen(c->server) > CONF_NAME_MAX || c->select_value)
			FAIL("a server id that is not one");
		break;
	case CONF_SELECT_FASTEST:
		if (c->server || c->select_value)
			FAIL("fastest with a server or value");
		break;
	case CONF_SELECT_COUNTRY:
		if (c->server || !c->select_value ||
		    strlen(c->select_value) != 2 ||
		    !lower_text(c->select_value))
			FAIL("a country that is not one");
		break;
	case CONF_SELECT_CITY:
		if (c->server || !c->select_value || !*c->select_value ||
		    strlen(c->select_value) > CONF_NAME_MAX)
			FAIL("a city that is not one");
		break;
	default:
		FAIL("choice %d", c->select);
	}
	if (c->server_line < 1 || c->server_line > lines)
		FAIL("server at line %u of %u", c->server_line, lines);
}

static void check_split(const struct conf_client *c, unsigned int lines)
{
	if (c->n_split > CONF_SPLIT_MAX)
		FAIL("%u split networks", c->n_split);
	if (!c->has_split && (c->n_split || c->split_mode != CONF_SPLIT_NONE))
		FAIL("split networks without [split]");
	if (c->split_mode == CONF_SPLIT_NONE && c->n_split)
		FAIL("split networks without a mode");
	if (c->split_mode != CONF_SPLIT_NONE &&
	    (c->split_mode != CONF_SPLIT_EXCLUDE &&
	     c->split_mode != CONF_SPLIT_INCLUDE))
		FAIL("split mode %d", c->split_mode);
	if (c->split_mode != CONF_SPLIT_NONE &&
	    (c->split_line < 1 || c->split_line > lines))
		FAIL("split at line %u of %u", c->split_line, lines);
	for (unsigned int i = 0; i < c->n_split; i++) {
		check_prefix(&c->split_net[i], false, "a split network");
		if (conf_prefix_has_host_bits(&c->split_net[i]))
			FAIL("a split network with host bits");
	}
}

static void check_client(const struct conf_client *c, const char *path,
			 unsigned int lines)
{
	if (!c->path || strcmp(c->path, path))
		FAIL("the profile's path is not the one loaded");
	if (!c->private_key || !c->secrets)
		FAIL("accepted without a private key");
	if (!c->n_address || c->n_address > CONF_ADDRESS_MAX)
		FAIL("%u addresses", c->n_address);
	for (unsigned int i = 0; i < c->n_address; i++) {
		check_prefix(&c->address[i], false, "an address");
		if (!c->address[i].cidr)
			FAIL("an address with a /0");
	}
	if (!c->n_dns || c->n_dns > CONF_DNS_MAX)
		FAIL("%u resolvers", c->n_dns);
	for (unsigned int i = 0; i < c->n_dns; i++)
		check_prefix(&c->dns[i], true, "a resolver");
	if (c->mtu && (c->mtu < CONF_MTU_MIN || c->mtu > CONF_MTU_MAX))
		FAIL("mtu %u", c->mtu);
	if (!conf_kill_switch_name(c->kill_switch))
		FAIL("kill switch %d", c->kill_switch);
	if (!c->servers_path || c->servers_path[0] != '/')
		FAIL("a servers path that is not absolute: %s",
		     c->servers_path ? c->servers_path : "(none)");
	if (c->failover_after > CONF_FAILOVER_MAX)
		FAIL("failover_after %u", c->failover_after);
	if (c->probe_timeout_ms < CONF_PROBE_TIMEOUT_MIN ||
	    c->probe_timeout_ms > CONF_PROBE_TIMEOUT_MAX)
		FAIL("probe_timeout_ms %u", c->probe_timeout_ms);
	check_select(c, lines);
	check_split(c, lines);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_client *c = (struct conf_client *)1;
	char path[PATH_MAX], err[CONF_ERR_LEN];
	unsigned int lines = fuzz_lines(data, size);
	int r;

	fuzz_put("client.conf", data, size, 0600, path);
	r = conf_client_load(path, &c, err, sizeof(err));
	if (r) {
		if (c)
			FAIL("refused, but a profile is left");
		fuzz_check_refusal(r, err, sizeof(err), path, lines);
		return 0;
	}
	if (!c)
		FAIL("accepted without a profile");
	check_client(c, path, lines);
	conf_client_free(c);
	return 0;
}
