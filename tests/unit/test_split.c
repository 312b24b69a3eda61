/* SPDX-License-Identifier: MIT */
/*
 * Split tunneling by network: the networks a profile or a request names
 * (vpnd/splitnet.c), the profile's [split] section (vpnd/conf.c), the
 * routes a set needs (vpnd/splitroute.c's plan) and the kill switch's
 * rules for it (vpnd/killswitch.c).  Parsing refuses bad and host-bit
 * CIDRs; overlap with the set, the tunnel's addresses (IPv6 by /64) and
 * resolvers is refused in both directions and both families; a change is
 * all or nothing; both keys at once are an error with the file's line;
 * the profile rewrite keeps every other line, comments included.
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/rtnetlink.h>

#include "../../vpnd/conf.h"
#include "../../vpnd/firewall.h"
#include "../../vpnd/killswitch.h"
#include "../../vpnd/splitnet.h"
#include "../../vpnd/splitroute.h"

static struct conf_prefix net(const char *text)
{
	struct conf_prefix p;
	const char *why = splitnet_parse(text, strlen(text), &p);

	if (why)
		fail_msg("%s: %s", text, why);
	return p;
}

/* A profile's tunnel: 10.64.0.2/32, fc00:bbbb::2/128, resolver 10.64.0.1
 * and 2001:db8:53::1. */
static void tunnel(struct conf_client *c)
{
	memset(c, 0, sizeof(*c));
	c->address[0] = net("10.64.0.2/32");
	c->address[1] = net("fc00:bbbb::2/128");
	c->n_address = 2;
	c->dns[0] = net("10.64.0.1");
	c->dns[1] = net("2001:db8:53::1");
	c->n_dns = 2;
}

static void test_parse(void **state)
{
	struct conf_prefix p;
	char buf[64];

	(void)state;
	assert_null(splitnet_parse("198.51.100.0/24", 15, &p));
	assert_int_equal(p.family, AF_INET);
	assert_int_equal(p.cidr, 24);
	assert_string_equal(splitnet_text(&p, buf, sizeof(buf)),
			    "198.51.100.0/24");
	assert_null(splitnet_parse("2001:db8:5::/48", 15, &p));
	assert_int_equal(p.family, AF_INET6);
	assert_null(splitnet_parse("203.0.113.9", 11, &p));
	assert_int_equal(p.cidr, 32);
	assert_non_null(splitnet_parse("300.1.2.0/24", 12, &p));
	assert_non_null(splitnet_parse("198.51.100.0/33", 15, &p));
	assert_non_null(splitnet_parse("2001:db8::/129", 14, &p));
	assert_non_null(splitnet_parse("example.com", 11, &p));
	assert_non_null(splitnet_parse("", 0, &p));
	assert_non_null(strstr(splitnet_parse("198.51.100.1/24", 15, &p),
			       "host bits"));
	assert_non_null(strstr(splitnet_parse("2001:db8:5::1/48", 16, &p),
			       "host bits"));
}

static void test_overlap(void **state)
{
	struct conf_prefix a = net("10.0.0.0/8"), b = net("10.20.0.0/16");
	struct conf_prefix c = net("11.0.0.0/8"), d = net("::/0");
	struct splitnet_set s = { .mode = CONF_SPLIT_EXCLUDE };
	struct in_addr in;

	(void)state;
	assert_true(splitnet_overlap(&a, &b));
	assert_true(splitnet_overlap(&b, &a));
	assert_false(splitnet_overlap(&a, &c));
	assert_false(splitnet_overlap(&a, &d));	/* families apart */
	s.net[s.n++] = b;
	inet_pton(AF_INET, "10.20.3.4", &in);
	assert_int_equal(splitnet_find_addr(&s, AF_INET, &in), 0);
	inet_pton(AF_INET, "10.21.0.1", &in);
	assert_int_equal(splitnet_find_addr(&s, AF_INET, &in), -1);
}

static void test_check_inside(void **state)
{
	struct splitnet_set s = { 0 };
	struct conf_client c;
	struct conf_prefix p;
	char why[SPLITNET_ERR_LEN];

	(void)state;
	tunnel(&c);
	p = net("10.64.0.0/24");	/* the address and the resolver */
	assert_int_equal(splitnet_check(&s, &p, &c, why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "tunnel's address"));
	p = net("10.64.0.0/31");	/* the resolver alone */
	assert_int_equal(splitnet_check(&s, &p, &c, why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "resolver"));
	p = net("10.64.0.4/30");	/* next to both: fine */
	assert_int_equal(splitnet_check(&s, &p, &c, why, sizeof(why)), 0);
	/* IPv6: the address counts as its /64. */
	p = net("fc00:bbbb::8000/113");
	assert_int_equal(splitnet_check(&s, &p, &c, why, sizeof(why)),
			 -EINVAL);
	p = net("fc00:bbbb:0:1::/64");
	assert_int_equal(splitnet_check(&s, &p, &c, why, sizeof(why)), 0);
	p = net("2001:db8:53::/48");
	assert_int_equal(splitnet_check(&s, &p, &c, why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "2001:db8:53::1"));
	/* Every address of a family. */
	p = net("0.0.0.0/0");
	assert_int_equal(splitnet_check(&s, &p, &c, why, sizeof(why)),
			 -EINVAL);
}

static void test_change(void **state)
{
	struct splitnet_set s = { 0 }, t, u;
	struct conf_prefix p[3] = { net("198.51.100.0/24"),
				    net("2001:db8:5::/48"),
				    net("198.51.100.128/25") };
	struct conf_client c;
	char why[SPLITNET_ERR_LEN];

	(void)state;
	tunnel(&c);
	assert_int_equal(splitnet_change(&s, CONF_SPLIT_EXCLUDE, true, p, 2,
					 &c, &t, why, sizeof(why)), 0);
	assert_int_equal(t.mode, CONF_SPLIT_EXCLUDE);
	assert_int_equal(t.n, 2);
	/* All or nothing: the third overlaps the first, nothing is added. */
	memset(&u, 0x55, sizeof(u));
	assert_int_equal(splitnet_change(&t, CONF_SPLIT_EXCLUDE, true, p + 1,
					 2, &c, &u, why, sizeof(why)), -EEXIST);
	assert_int_equal(u.n, 0x55555555);
	assert_int_equal(splitnet_change(&t, CONF_SPLIT_EXCLUDE, true, p + 2,
					 1, &c, &u, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "overlaps 198.51.100.0/24"));
	/* The other mode while this one has networks. */
	assert_int_equal(splitnet_change(&t, CONF_SPLIT_INCLUDE, true, p + 2,
					 1, &c, &u, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "not allowed"));
	/* Removing: exact networks only; the last one leaves no mode. */
	assert_int_equal(splitnet_change(&t, CONF_SPLIT_EXCLUDE, false, p + 2,
					 1, &c, &u, why, sizeof(why)), -ENOENT);
	assert_int_equal(splitnet_change(&t, CONF_SPLIT_EXCLUDE, false, p, 2,
					 &c, &u, why, sizeof(why)), 0);
	assert_int_equal(u.n, 0);
	assert_int_equal(u.mode, CONF_SPLIT_NONE);
	/* Then the other mode is fine. */
	assert_int_equal(splitnet_change(&u, CONF_SPLIT_INCLUDE, true, p + 2,
					 1, &c, &t, why, sizeof(why)), 0);
	assert_int_equal(t.mode, CONF_SPLIT_INCLUDE);
}

/* ------------------------------------------------------------- profile */

struct fixture {
	char dir[64];
	char path[96];
	char err[CONF_ERR_LEN];
};

static int fx_setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_split.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/client.conf", fx->dir);
	*state = fx;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fixture *fx = *state;

	unlink(fx->path);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

#define IFACE                                                        \
	"[interface]\n"                                              \
	"private_key = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n" \
	"address = 10.64.0.2/32, fc00:bbbb::2/128\n"                 \
	"dns = 10.64.0.1\n"

static int load(struct fixture *fx, const char *text,
		struct conf_client **c)
{
	FILE *f = fopen(fx->path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(fx->path, 0600);
	fx->err[0] = '\0';
	return conf_client_load(fx->path, c, fx->err, sizeof(fx->err));
}

static void test_profile(void **state)
{
	struct fixture *fx = *state;
	struct conf_client *c;
	char want[256];

	assert_int_equal(load(fx, IFACE "[split]\ninclude = 10.20.0.0/16\n",
			      &c), 0);
	assert_int_equal(c->split_mode, CONF_SPLIT_INCLUDE);
	assert_int_equal(c->n_split, 1);
	assert_int_equal(c->split_line, 6);
	conf_client_free(c);

	/* No [split], or an empty one: nothing excepted. */
	assert_int_equal(load(fx, IFACE, &c), 0);
	assert_int_equal(c->split_mode, CONF_SPLIT_NONE);
	conf_client_free(c);
	assert_int_equal(load(fx, IFACE "[split]\n", &c), 0);
	assert_int_equal(c->n_split, 0);
	conf_client_free(c);

	/* Both: the later key's line, naming the other's. */
	assert_int_equal(load(fx, IFACE "[split]\nexclude = 198.51.100.0/24\n"
				      "\ninclude = 10.20.0.0/16\n", &c),
			 -EINVAL);
	assert_null(c);
	snprintf(want, sizeof(want), "%s:8: [split] include: exclude and include may not both be set (line 6",
		 fx->path);
	assert_non_null(strstr(fx->err, want));

	assert_int_equal(load(fx, IFACE "[split]\nexclude = 198.51.100.0/24, 10.64.0.1/32\n",
			      &c), -EINVAL);
	assert_non_null(strstr(fx->err, ":6: [split] exclude: entry 2:"));
	assert_non_null(strstr(fx->err, "resolver"));
	assert_int_equal(load(fx, IFACE "[split]\nexclude = 198.51.100.0/24,, 10.9.0.0/16\n",
			      &c), -EINVAL);
	assert_non_null(strstr(fx->err, "entry 2 is empty"));
	assert_int_equal(load(fx, IFACE "[split]\nexclude = 198.51.100.7/24\n",
			      &c), -EINVAL);
	assert_non_null(strstr(fx->err, "host bits"));
	assert_int_equal(load(fx, IFACE "[split]\nexclude = 10.0.0.0/8, 10.1.0.0/16\n",
			      &c), -EINVAL);
	assert_non_null(strstr(fx->err, "overlap"));
	assert_int_equal(load(fx, IFACE "[split]\nbypass = 10.1.0.0/16\n",
			      &c), -EINVAL);
	assert_non_null(strstr(fx->err, "bypass"));
}

static char *rewrite(const char *in, const struct splitnet_set *s)
{
	char *out;
	size_t len;

	assert_int_equal(splitnet_profile_rewrite(in, strlen(in), s, &out,
						  &len), 0);
	assert_int_equal(strlen(out), len);
	return out;
}

static void test_rewrite(void **state)
{
	static const char in[] =
		"# my profile\n"
		"[interface]\n"
		"dns = 10.64.0.1 ; keep\n"
		"\n"
		"; split below\n"
		"[Split]\n"
		"# a comment in it\n"
		"exclude = 198.51.100.0/24   ; the office\n"
		"[other]\n"
		"exclude = not ours\n";
	struct splitnet_set s = { .mode = CONF_SPLIT_EXCLUDE };
	char *out;

	(void)state;
	s.net[s.n++] = net("198.51.100.0/24");
	s.net[s.n++] = net("2001:db8:5::/48");
	out = rewrite(in, &s);
	assert_string_equal(out,
		"# my profile\n"
		"[interface]\n"
		"dns = 10.64.0.1 ; keep\n"
		"\n"
		"; split below\n"
		"[Split]\n"
		"# a comment in it\n"
		"exclude = 198.51.100.0/24, 2001:db8:5::/48   ; the office\n"
		"[other]\n"
		"exclude = not ours\n");
	free(out);

	/* Another mode: the old key goes, the new one ends the section. */
	s.mode = CONF_SPLIT_INCLUDE;
	s.n = 1;
	s.net[0] = net("10.20.0.0/16");
	out = rewrite(in, &s);
	assert_non_null(strstr(out, "# a comment in it\ninclude = 10.20.0.0/16\n[other]\n"));
	assert_null(strstr(out, "the office"));
	free(out);

	/* Empty: the key goes, the section and its comments stay. */
	s.n = 0;
	s.mode = CONF_SPLIT_NONE;
	out = rewrite(in, &s);
	assert_non_null(strstr(out, "[Split]\n# a comment in it\n[other]\n"));
	free(out);

	/* No section, no final newline: one is added at the end. */
	s.mode = CONF_SPLIT_EXCLUDE;
	s.n = 1;
	s.net[0] = net("203.0.113.0/24");
	out = rewrite("[interface]\ndns = 10.64.0.1", &s);
	assert_string_equal(out, "[interface]\ndns = 10.64.0.1\n\n[split]\n"
				 "exclude = 203.0.113.0/24\n");
	free(out);
	/* The section last, without a final newline. */
	out = rewrite("[split]", &s);
	assert_string_equal(out, "[split]\nexclude = 203.0.113.0/24\n");
	free(out);
}

/* -------------------------------------------------------------- routes */

static void test_plan(void **state)
{
	struct netlink_prefix inside[1];
	struct splitroute_tunnel t = { .ifindex = 7, .table = 0x5670,
				       .has_ipv4 = true, .inside = inside,
				       .n_inside = 1 };
	struct netlink_route r[SPLITROUTE_MAX];
	struct splitnet_set s = { .mode = CONF_SPLIT_EXCLUDE };
	unsigned int n;

	(void)state;
	netlink_prefix_parse("10.64.0.1/32", &inside[0]);
	s.net[s.n++] = net("198.51.100.0/24");
	s.net[s.n++] = net("2001:db8:5::/48");
	n = splitroute_plan(&t, &s, r);
	assert_int_equal(n, 2);
	assert_int_equal(r[0].type, RTN_THROW);
	assert_int_equal(r[0].metric, SPLITROUTE_METRIC);
	assert_int_equal(r[0].protocol, NETLINK_PROTO_VPND);
	assert_int_equal(r[0].table, 0x5670);
	assert_int_equal(r[1].dst.family, AF_INET6);
	assert_int_equal(r[1].dst.len, 48);

	/* Include: two default throws; each included network (and the
	 * resolver) into the tunnel with its backstop; an IPv6 network
	 * without an IPv6 tunnel address gets the backstop alone. */
	s.mode = CONF_SPLIT_INCLUDE;
	n = splitroute_plan(&t, &s, r);
	assert_int_equal(n, 2 + 2 + 1 + 2);
	assert_int_equal(r[0].type, RTN_THROW);
	assert_int_equal(r[0].dst.len, 0);
	assert_int_equal(r[1].dst.family, AF_INET6);
	assert_int_equal(r[2].type, RTN_UNICAST);
	assert_int_equal(r[2].oif, 7);
	assert_int_equal(r[3].type, RTN_UNREACHABLE);
	assert_int_equal(r[3].metric, SPLITROUTE_BACKSTOP_METRIC);
	assert_int_equal(r[4].type, RTN_UNREACHABLE);
	assert_int_equal(r[4].dst.family, AF_INET6);
	assert_int_equal(r[5].oif, 7);	/* the resolver */

	s.n = 0;
	s.mode = CONF_SPLIT_NONE;
	assert_int_equal(splitroute_plan(&t, &s, r), 0);
}

/* ---------------------------------------------------------- kill switch */

static char *render(const struct killswitch_state *st)
{
	struct firewall_text t = FIREWALL_TEXT_INIT;
	enum killswitch_rules rules;
	char *body;

	assert_int_equal(killswitch_render(st, false, &t, &rules), 0);
	body = strdup(firewall_text_str(&t));
	firewall_text_free(&t);
	return body;
}

static void test_killswitch(void **state)
{
	struct killswitch_state st = {
		.mode = KILLSWITCH_ON,
		.phase = KILLSWITCH_CONNECTED,
		.tunnel_ifname = "wg0",
		.fwmark = 0x5670,
		.server = { .family = AF_INET, .port = 51820,
			    .protocol = IPPROTO_UDP },
		.n_tunnel_addr = 1,
		.n_resolver = 1,
	};
	char *body, *dns, *ex, *tun;

	(void)state;
	inet_pton(AF_INET, "192.0.2.1", &st.server.addr);
	netlink_prefix_parse("10.64.0.2/32", &st.tunnel_addr[0]);
	netlink_prefix_parse("10.64.0.1/32", &st.resolver[0]);
	st.split = KILLSWITCH_SPLIT_EXCLUDE;
	netlink_prefix_parse("198.51.100.0/24", &st.split_net[0]);
	netlink_prefix_parse("203.0.113.0/24", &st.split_net[1]);
	netlink_prefix_parse("2001:db8:5::/48", &st.split_net[2]);
	st.n_split = 3;
	body = render(&st);
	ex = strstr(body, "ip daddr { 198.51.100.0/24, 203.0.113.0/24 } accept");
	assert_non_null(ex);
	assert_non_null(strstr(body, "ip6 daddr 2001:db8:5::/48 accept"));
	/* After the DNS rejects: a query to an excluded resolver is still
	 * refused. */
	dns = strstr(body, "udp dport { 53, 853 } reject");
	assert_non_null(dns);
	assert_true(dns < ex);
	free(body);

	/* Lockdown while disconnected: the exceptions hold too. */
	st.mode = KILLSWITCH_LOCKDOWN;
	st.phase = KILLSWITCH_DISCONNECTED;
	body = render(&st);
	assert_non_null(strstr(body, "ip daddr { 198.51.100.0/24, 203.0.113.0/24 } accept"));
	free(body);

	/* Include: after the tunnel, the included networks and the inside
	 * prefixes dropped, then everything else accepted. */
	st.mode = KILLSWITCH_ON;
	st.phase = KILLSWITCH_CONNECTED;
	st.split = KILLSWITCH_SPLIT_INCLUDE;
	body = render(&st);
	tun = strstr(body, "oifname \"wg0\" accept");
	ex = strstr(body, "ip daddr { 198.51.100.0/24, 203.0.113.0/24 } drop");
	assert_non_null(tun);
	assert_non_null(ex);
	assert_true(tun < ex);
	assert_non_null(strstr(ex, "ip daddr 10.64.0.1-10.64.0.2 drop\n\t\taccept\n"));
	free(body);

	st.n_split = KILLSWITCH_SPLIT_MAX + 1;
	{
		struct firewall_text t = FIREWALL_TEXT_INIT;
		enum killswitch_rules rules;

		assert_int_equal(killswitch_render(&st, false, &t, &rules),
				 -EINVAL);
		firewall_text_free(&t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_check_inside),
		cmocka_unit_test(test_change),
		cmocka_unit_test_setup_teardown(test_profile, fx_setup,
						fx_teardown),
		cmocka_unit_test(test_rewrite),
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_killswitch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
