/* SPDX-License-Identifier: MIT */
/*
 * The kill switch's rules (vpnd/killswitch.c), without a kernel: for each
 * mode, phase, allow_lan and address family, the text rendered is exactly
 * the rules expected, in the order expected (the server's mark, address
 * and port; the DNS rejects before the tunnel and LAN accepts); names that
 * could smuggle nft syntax in are refused before any text is written, and
 * an invalid state never reaches nftables; with allow_lan the tunnel's
 * inside prefixes are dropped before the LAN accepts, in the set nft
 * lists back; endpoints from socket
 * addresses; arp_ignore on a directory standing in for /proc/sys.
 *
 * The expected texts are nft's own listing format: the module writes what
 * nft lists, so that one literal is both (test_killswitch.sh checks that
 * the kernel lists it byte for byte).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/* Included to reach arp_conf_dir and to build alone. */
#include "../../vpnd/killswitch.c"

/* -------------------------------------------------------- the rule lines */

#define O_LO "oifname \"lo\" accept"
#define O_SERVER4 "meta mark 0x00005670 ip daddr 192.0.2.1 udp dport 51820 accept"
#define O_SERVER6 "meta mark 0x00005670 ip6 daddr 2001:db8::51 udp dport 443 accept"
#define O_DHCP4 "udp sport 68 udp dport 67 accept"
#define O_DHCP6 "ip6 daddr ff02::1:2 udp sport 546 udp dport 547 accept"
#define O_ND "ip6 hoplimit 255 icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept"
#define O_MLD "ip6 hoplimit 1 ip6 daddr ff02::16 icmpv6 type { mld-listener-report, mld2-listener-report } accept"
#define DNS4_OK "oifname \"wg0\" ip daddr 10.64.0.1 meta l4proto { tcp, udp } th dport { 53, 853 } accept"
#define DNS6_OK "oifname \"wg0\" ip6 daddr fd64::1 meta l4proto { tcp, udp } th dport { 53, 853 } accept"
#define O_DNS_TCP "tcp dport { 53, 853 } reject with tcp reset"
#define O_DNS_UDP "udp dport { 53, 853 } reject"
#define O_TUN "oifname \"wg0\" accept"
/* allow_lan: the tunnel's inside prefixes (10.64.0.2/24 with its resolver
 * 10.64.0.1 in it, fd64::2/64) never pass as LAN. */
#define O_IN4 "ip daddr 10.64.0.0/24 drop"
#define O_IN6 "ip6 daddr fd64::/64 drop"
#define I_IN4 "ip saddr 10.64.0.0/24 drop"
#define I_IN6 "ip6 saddr fd64::/64 drop"
#define LAN4_DST "ip daddr { 10.0.0.0/8, 169.254.0.0/16, 172.16.0.0/12, 192.168.0.0/16, 224.0.0.0/24, 255.255.255.255 } accept"
#define LAN6_DST "ip6 daddr { fc00::/7, fe80::/10, ff02::/16 } accept"
#define O_REJ_TCP "meta l4proto tcp reject with tcp reset"
#define O_REJ "reject with icmpx admin-prohibited"

#define I_LO "iifname \"lo\" accept"
#define I_TADDR4 "iifname != \"wg0\" ip daddr 10.64.0.2 drop"
#define I_TADDR6 "iifname != \"wg0\" ip6 daddr fd64::2 drop"
#define I_TUN "iifname \"wg0\" accept"
#define I_REDIR4 "icmp type redirect drop"
#define I_REDIR6 "icmpv6 type nd-redirect drop"
#define I_CT "ct state established,related accept"
#define I_DHCP4 "udp sport 67 udp dport 68 accept"
#define I_DHCP6 "ip6 saddr fe80::/10 udp sport 547 udp dport 546 accept"
#define I_ND "ip6 hoplimit 255 icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept"
#define I_MLD "ip6 hoplimit 1 ip6 saddr fe80::/10 icmpv6 type mld-listener-query accept"
#define I_LAN4 "ip saddr { 10.0.0.0/8, 169.254.0.0/16, 172.16.0.0/12, 192.168.0.0/16 } accept"
#define I_LAN6 "ip6 saddr { fc00::/7, fe80::/10 } accept"

#define F_DNS "meta l4proto { tcp, udp } th dport { 53, 853 } drop"
#define F_TUN_BACK "iifname \"wg0\" ct state established,related accept"

/* The one state written out whole, as nft lists it: on, connected to an
 * IPv4 server, IPv4 and IPv6 tunnel addresses and resolvers, no LAN. */
static const char connected_literal[] =
	"\tchain output {\n"
	"\t\ttype filter hook output priority filter; policy drop;\n"
	"\t\toifname \"lo\" accept\n"
	"\t\tmeta mark 0x00005670 ip daddr 192.0.2.1 udp dport 51820 accept\n"
	"\t\tudp sport 68 udp dport 67 accept\n"
	"\t\tip6 daddr ff02::1:2 udp sport 546 udp dport 547 accept\n"
	"\t\tip6 hoplimit 255 icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept\n"
	"\t\tip6 hoplimit 1 ip6 daddr ff02::16 icmpv6 type { mld-listener-report, mld2-listener-report } accept\n"
	"\t\toifname \"wg0\" ip daddr 10.64.0.1 meta l4proto { tcp, udp } th dport { 53, 853 } accept\n"
	"\t\toifname \"wg0\" ip6 daddr fd64::1 meta l4proto { tcp, udp } th dport { 53, 853 } accept\n"
	"\t\ttcp dport { 53, 853 } reject with tcp reset\n"
	"\t\tudp dport { 53, 853 } reject\n"
	"\t\toifname \"wg0\" accept\n"
	"\t\tmeta l4proto tcp reject with tcp reset\n"
	"\t\treject with icmpx admin-prohibited\n"
	"\t}\n"
	"\n"
	"\tchain input {\n"
	"\t\ttype filter hook input priority filter; policy drop;\n"
	"\t\tiifname \"lo\" accept\n"
	"\t\tiifname != \"wg0\" ip daddr 10.64.0.2 drop\n"
	"\t\tiifname != \"wg0\" ip6 daddr fd64::2 drop\n"
	"\t\tiifname \"wg0\" accept\n"
	"\t\ticmp type redirect drop\n"
	"\t\ticmpv6 type nd-redirect drop\n"
	"\t\tct state established,related accept\n"
	"\t\tudp sport 67 udp dport 68 accept\n"
	"\t\tip6 saddr fe80::/10 udp sport 547 udp dport 546 accept\n"
	"\t\tip6 hoplimit 255 icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept\n"
	"\t\tip6 hoplimit 1 ip6 saddr fe80::/10 icmpv6 type mld-listener-query accept\n"
	"\t}\n"
	"\n"
	"\tchain forward {\n"
	"\t\ttype filter hook forward priority filter; policy drop;\n"
	"\t\toifname \"wg0\" ip daddr 10.64.0.1 meta l4proto { tcp, udp } th dport { 53, 853 } accept\n"
	"\t\toifname \"wg0\" ip6 daddr fd64::1 meta l4proto { tcp, udp } th dport { 53, 853 } accept\n"
	"\t\tmeta l4proto { tcp, udp } th dport { 53, 853 } drop\n"
	"\t\toifname \"wg0\" accept\n"
	"\t\tiifname \"wg0\" ct state established,related accept\n"
	"\t}\n";

/* ------------------------------------------------------------- helpers */

static void add_addr(struct netlink_prefix *a, unsigned int *n,
		     const char *text)
{
	assert_int_equal(netlink_prefix_parse(text, &a[*n]), 0);
	(*n)++;
}

/* on, connected to 192.0.2.1:51820 over wg0, the usual dual-stack
 * profile; each test changes what it is about. */
static struct killswitch_state connected(void)
{
	struct killswitch_state s = {
		.mode = KILLSWITCH_ON,
		.phase = KILLSWITCH_CONNECTED,
		.tunnel_ifname = "wg0",
		.fwmark = 0x5670,
		.server = { .family = AF_INET, .port = 51820,
			    .protocol = IPPROTO_UDP },
	};

	assert_int_equal(inet_pton(AF_INET, "192.0.2.1", &s.server.addr), 1);
	add_addr(s.tunnel_addr, &s.n_tunnel_addr, "10.64.0.2/24");
	add_addr(s.tunnel_addr, &s.n_tunnel_addr, "fd64::2/64");
	add_addr(s.resolver, &s.n_resolver, "10.64.0.1");
	add_addr(s.resolver, &s.n_resolver, "fd64::1");
	return s;
}

/* The rendered body (malloc'd), its rules and return value. */
static char *render(const struct killswitch_state *s, bool held,
		    enum killswitch_rules *rules, int *ret)
{
	struct firewall_text t = FIREWALL_TEXT_INIT;
	enum killswitch_rules r;
	char *text;
	int err;

	err = killswitch_render(s, held, &t, &r);
	if (ret)
		*ret = err;
	else
		assert_int_equal(err, 0);
	if (rules)
		*rules = r;
	/* A failed render must also leave the text unappliable. */
	assert_int_equal(t.err, err);
	text = strdup(firewall_text_str(&t));
	assert_non_null(text);
	firewall_text_free(&t);
	return text;
}

/*
 * The body nft would list for these lines: "@output", "@input" and
 * "@forward" open a chain (closing the previous one), anything else is a
 * rule of the open chain; NULL ends it.
 */
static char *body_of(const char *const *lines)
{
	struct firewall_text t = FIREWALL_TEXT_INIT;
	bool open = false, first = true;
	char *text;

	for (; *lines; lines++) {
		if (**lines == '@') {
			if (open)
				firewall_text_add(&t, "\t}\n");
			firewall_text_add(&t, "%s\tchain %s {\n\t\ttype filter "
					  "hook %s priority filter; policy "
					  "drop;\n", first ? "" : "\n",
					  *lines + 1, *lines + 1);
			open = true;
			first = false;
		} else {
			firewall_text_add(&t, "\t\t%s\n", *lines);
		}
	}
	if (open)
		firewall_text_add(&t, "\t}\n");
	assert_int_equal(t.err, 0);
	text = strdup(firewall_text_str(&t));
	assert_non_null(text);
	firewall_text_free(&t);
	return text;
}

static void expect_body(const struct killswitch_state *s, bool held,
			enum killswitch_rules want_rules,
			const char *const *lines)
{
	enum killswitch_rules rules;
	char *got = render(s, held, &rules, NULL);
	char *want = body_of(lines);

	assert_int_equal(rules, want_rules);
	assert_string_equal(got, want);
	free(got);
	free(want);
}

/* ------------------------------------------------------------ the rules */

static void test_connected_literal(void **state)
{
	struct killswitch_state s = connected();
	enum killswitch_rules rules;
	char *got;

	(void)state;
	got = render(&s, false, &rules, NULL);
	assert_int_equal(rules, KILLSWITCH_RULES_TUNNEL);
	assert_string_equal(got, connected_literal);
	free(got);
	/* connecting and error are the same set: the server may not answer
	 * yet, or any more, and nothing else may leave meanwhile. */
	s.phase = KILLSWITCH_CONNECTING;
	got = render(&s, false, NULL, NULL);
	assert_string_equal(got, connected_literal);
	free(got);
	s.phase = KILLSWITCH_ERROR;
	s.mode = KILLSWITCH_LOCKDOWN;
	got = render(&s, false, NULL, NULL);
	assert_string_equal(got, connected_literal);
	free(got);
}

static void test_connected_allow_lan(void **state)
{
	struct killswitch_state s = connected();
	static const char *const lines[] = {
		"@output", O_LO, O_SERVER4, O_DHCP4, O_DHCP6, O_ND, O_MLD,
		DNS4_OK, DNS6_OK, O_DNS_TCP, O_DNS_UDP, O_TUN, O_IN4, O_IN6,
		LAN4_DST, LAN6_DST, O_REJ_TCP, O_REJ,
		"@input", I_LO, I_TADDR4, I_TADDR6, I_TUN, I_REDIR4,
		I_REDIR6, I_CT, I_DHCP4, I_DHCP6, I_ND, I_MLD, I_IN4, I_IN6,
		I_LAN4, I_LAN6,
		"@forward", DNS4_OK, DNS6_OK, F_DNS, O_TUN, F_TUN_BACK,
		O_IN4, O_IN6, LAN4_DST, LAN6_DST,
		NULL
	};

	(void)state;
	s.allow_lan = true;
	expect_body(&s, false, KILLSWITCH_RULES_TUNNEL, lines);
}

/* IPv6 only: server, tunnel address and resolver; a server on 443. */
static void test_ipv6_only(void **state)
{
	struct killswitch_state s = connected();
	static const char *const lines[] = {
		"@output", O_LO, O_SERVER6, O_DHCP4, O_DHCP6, O_ND, O_MLD,
		DNS6_OK, O_DNS_TCP, O_DNS_UDP, O_TUN, O_REJ_TCP, O_REJ,
		"@input", I_LO, I_TADDR6, I_TUN, I_REDIR4, I_REDIR6, I_CT,
		I_DHCP4, I_DHCP6, I_ND, I_MLD,
		"@forward", DNS6_OK, F_DNS, O_TUN, F_TUN_BACK,
		NULL
	};

	(void)state;
	s.server.family = AF_INET6;
	s.server.port = 443;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::51", &s.server.addr), 1);
	s.n_tunnel_addr = 0;
	add_addr(s.tunnel_addr, &s.n_tunnel_addr, "fd64::2/128");
	s.n_resolver = 0;
	add_addr(s.resolver, &s.n_resolver, "fd64::1");
	expect_body(&s, false, KILLSWITCH_RULES_TUNNEL, lines);
}

/* Connecting before a server is chosen: no marked traffic may leave. */
static void test_no_server_yet(void **state)
{
	struct killswitch_state s = connected();
	static const char *const lines[] = {
		"@output", O_LO, O_DHCP4, O_DHCP6, O_ND, O_MLD, DNS4_OK,
		DNS6_OK, O_DNS_TCP, O_DNS_UDP, O_TUN, O_REJ_TCP, O_REJ,
		"@input", I_LO, I_TADDR4, I_TADDR6, I_TUN, I_REDIR4,
		I_REDIR6, I_CT, I_DHCP4, I_DHCP6, I_ND, I_MLD,
		"@forward", DNS4_OK, DNS6_OK, F_DNS, O_TUN, F_TUN_BACK,
		NULL
	};
	char *got;

	(void)state;
	memset(&s.server, 0, sizeof(s.server));
	s.phase = KILLSWITCH_CONNECTING;
	expect_body(&s, false, KILLSWITCH_RULES_TUNNEL, lines);
	got = render(&s, false, NULL, NULL);
	assert_null(strstr(got, "meta mark"));
	free(got);
}

/* No resolvers, no tunnel addresses yet (error before they were added):
 * every DNS query is rejected, nothing is dropped by address. */
static void test_no_resolvers_no_addresses(void **state)
{
	struct killswitch_state s = connected();
	static const char *const lines[] = {
		"@output", O_LO, O_SERVER4, O_DHCP4, O_DHCP6, O_ND, O_MLD,
		O_DNS_TCP, O_DNS_UDP, O_TUN, O_REJ_TCP, O_REJ,
		"@input", I_LO, I_TUN, I_REDIR4, I_REDIR6, I_CT, I_DHCP4,
		I_DHCP6, I_ND, I_MLD,
		"@forward", F_DNS, O_TUN, F_TUN_BACK,
		NULL
	};

	(void)state;
	s.phase = KILLSWITCH_ERROR;
	s.n_resolver = 0;
	s.n_tunnel_addr = 0;
	expect_body(&s, false, KILLSWITCH_RULES_TUNNEL, lines);
}

/* Several addresses of a family become one set, sorted as nft lists it,
 * without duplicates, and only the address of a prefix counts. */
static void test_address_sets(void **state)
{
	struct killswitch_state s = connected();
	char *got;

	(void)state;
	s.n_resolver = 0;
	add_addr(s.resolver, &s.n_resolver, "10.64.0.53");
	add_addr(s.resolver, &s.n_resolver, "fd64::1");
	add_addr(s.resolver, &s.n_resolver, "10.64.0.1");
	add_addr(s.resolver, &s.n_resolver, "10.64.0.53");
	add_addr(s.resolver, &s.n_resolver, "10.64.0.1/8");
	s.n_tunnel_addr = 0;
	add_addr(s.tunnel_addr, &s.n_tunnel_addr, "10.64.0.3/24");
	add_addr(s.tunnel_addr, &s.n_tunnel_addr, "10.64.0.2/24");
	got = render(&s, false, NULL, NULL);
	assert_non_null(strstr(got, "\t\toifname \"wg0\" ip daddr { 10.64.0.1, "
				    "10.64.0.53 } meta l4proto { tcp, udp } "
				    "th dport { 53, 853 } accept\n"));
	assert_non_null(strstr(got, "\t\t" DNS6_OK "\n"));
	assert_non_null(strstr(got, "\t\tiifname != \"wg0\" ip daddr "
				    "{ 10.64.0.2, 10.64.0.3 } drop\n"));
	assert_null(strstr(got, "ip6 daddr fd64::2"));
	assert_null(strstr(got, "/24"));
	free(got);
}

static long rule_pos(const char *body, const char *chain, const char *line);

/* The inside set of one rule: "\t\tKW DIR SET drop\n" in each chain that
 * has it (output and forward by destination, input by source). */
static void expect_inside(const char *body, const char *kw, const char *set)
{
	char line[512];

	snprintf(line, sizeof(line), "%s daddr %s drop", kw, set);
	assert_true(rule_pos(body, "output", line) >= 0);
	assert_true(rule_pos(body, "forward", line) >= 0);
	snprintf(line, sizeof(line), "%s saddr %s drop", kw, set);
	assert_true(rule_pos(body, "input", line) >= 0);
}

/*
 * The inside set: resolvers and address networks (IPv6 ones at least a
 * /64), ascending, a resolver inside a network left out (nft refuses
 * overlapping intervals), touching ones merged into one interval (nft
 * would merge them itself and list something else), one element without
 * braces.
 */
static void test_inside_sets(void **state)
{
	struct killswitch_state s = connected();
	char *got;

	(void)state;
	s.allow_lan = true;
	s.n_tunnel_addr = 0;
	add_addr(s.tunnel_addr, &s.n_tunnel_addr, "10.64.0.2/32");
	add_addr(s.tunnel_addr, &s.n_tunnel_addr, "fd64::2/48");
	add_addr(s.tunnel_addr, &s.n_tunnel_addr, "10.70.0.9/16");
	add_addr(s.tunnel_addr, &s.n_tunnel_addr, "fc00:bbbb::2/128");
	s.n_resolver = 0;
	add_addr(s.resolver, &s.n_resolver, "192.0.2.53");
	add_addr(s.resolver, &s.n_resolver, "10.70.3.3");
	add_addr(s.resolver, &s.n_resolver, "10.64.0.3");
	add_addr(s.resolver, &s.n_resolver, "fc00:bbbb::1");
	add_addr(s.resolver, &s.n_resolver, "10.64.0.1");
	add_addr(s.resolver, &s.n_resolver, "2001:db8::53");
	add_addr(s.resolver, &s.n_resolver, "10.64.0.1");
	got = render(&s, false, NULL, NULL);
	expect_inside(got, "ip", "{ 10.64.0.1-10.64.0.3, 10.70.0.0/16, "
				 "192.0.2.53 }");
	expect_inside(got, "ip6", "{ 2001:db8::53, fc00:bbbb::/64, fd64::/48 }");
	free(got);

	/* Two touching /25s are one /24; one IPv6 network alone. */
	s.n_tunnel_addr = 0;
	add_addr(s.tunnel_addr, &s.n_tunnel_addr, "10.64.0.130/25");
	add_addr(s.tunnel_addr, &s.n_tunnel_addr, "fd64::2/64");
	add_addr(s.tunnel_addr, &s.n_tunnel_addr, "10.64.0.2/25");
	s.n_resolver = 0;
	add_addr(s.resolver, &s.n_resolver, "10.64.0.1");
	add_addr(s.resolver, &s.n_resolver, "fd64::1");
	got = render(&s, false, NULL, NULL);
	expect_inside(got, "ip", "10.64.0.0/24");
	expect_inside(got, "ip6", "fd64::/64");
	free(got);

	/* IPv4 only: no IPv6 rule at all. */
	s.n_tunnel_addr = 0;
	add_addr(s.tunnel_addr, &s.n_tunnel_addr, "10.64.0.2/32");
	s.n_resolver = 0;
	add_addr(s.resolver, &s.n_resolver, "10.64.0.53");
	got = render(&s, false, NULL, NULL);
	expect_inside(got, "ip", "{ 10.64.0.2, 10.64.0.53 }");
	assert_null(strstr(got, "ip6 daddr fd64"));
	assert_null(strstr(got, "ip6 saddr fd64"));
	free(got);
}

/* Only the TUNNEL rules with allow_lan have it: without allow_lan the
 * final rejects already stop it, and BLOCK has no tunnel. */
static void test_inside_only_with_allow_lan(void **state)
{
	struct killswitch_state s = connected();
	char *got;

	(void)state;
	got = render(&s, false, NULL, NULL);
	assert_null(strstr(got, "10.64.0.0/24"));
	assert_null(strstr(got, "fd64::/64"));
	free(got);
	s.allow_lan = true;
	s.mode = KILLSWITCH_LOCKDOWN;
	s.phase = KILLSWITCH_DISCONNECTED;
	got = render(&s, false, NULL, NULL);
	assert_non_null(strstr(got, LAN4_DST));
	assert_null(strstr(got, "10.64.0.0/24"));
	assert_null(strstr(got, "fd64::/64"));
	free(got);
}

/* netlink_tunnel_inside(), which routing and the kill switch share. */
static void test_inside_prefixes(void **state)
{
	struct netlink_prefix addr[4], dns[4], out[8];
	unsigned int na = 0, nd = 0, n;
	char buf[INET6_ADDRSTRLEN];

	(void)state;
	add_addr(addr, &na, "fc00:bbbb::2/128");
	add_addr(addr, &na, "10.64.0.2/32");
	add_addr(addr, &na, "fd64:1:2:3::2/56");
	add_addr(dns, &nd, "10.64.0.1/8");	/* the length is ignored */
	add_addr(dns, &nd, "fc00:bbbb::1");
	dns[nd].family = AF_UNIX;		/* skipped */
	nd++;
	n = netlink_tunnel_inside(addr, na, dns, nd, out);
	assert_int_equal(n, 4);
	assert_int_equal(out[0].family, AF_INET);
	assert_int_equal(out[0].len, 32);
	assert_string_equal(inet_ntop(AF_INET, &out[0].addr, buf, sizeof(buf)),
			    "10.64.0.1");
	assert_int_equal(out[1].len, 32);
	assert_string_equal(inet_ntop(AF_INET, &out[1].addr, buf, sizeof(buf)),
			    "10.64.0.2");
	/* A /128 counts as its /64, which holds the server's side. */
	assert_int_equal(out[2].family, AF_INET6);
	assert_int_equal(out[2].len, 64);
	assert_string_equal(inet_ntop(AF_INET6, &out[2].addr, buf,
				      sizeof(buf)), "fc00:bbbb::");
	/* Wider than a /64 stays as wide, host bits cleared. */
	assert_int_equal(out[3].len, 56);
	assert_string_equal(inet_ntop(AF_INET6, &out[3].addr, buf,
				      sizeof(buf)), "fd64:1:2::");
}

static void test_lockdown_disconnected(void **state)
{
	struct killswitch_state s = connected();
	static const char *const block[] = {
		"@output", O_LO, O_DHCP4, O_DHCP6, O_ND, O_MLD, O_DNS_TCP,
		O_DNS_UDP, O_REJ_TCP, O_REJ,
		"@input", I_LO, I_REDIR4, I_REDIR6, I_CT, I_DHCP4, I_DHCP6,
		I_ND, I_MLD,
		"@forward", F_DNS,
		NULL
	};
	static const char *const block_lan[] = {
		"@output", O_LO, O_DHCP4, O_DHCP6, O_ND, O_MLD, O_DNS_TCP,
		O_DNS_UDP, LAN4_DST, LAN6_DST, O_REJ_TCP, O_REJ,
		"@input", I_LO, I_REDIR4, I_REDIR6, I_CT, I_DHCP4, I_DHCP6,
		I_ND, I_MLD, I_LAN4, I_LAN6,
		"@forward", F_DNS, LAN4_DST, LAN6_DST,
		NULL
	};

	(void)state;
	s.mode = KILLSWITCH_LOCKDOWN;
	s.phase = KILLSWITCH_DISCONNECTED;
	/* The server, the tunnel and its resolvers count for nothing now. */
	expect_body(&s, false, KILLSWITCH_RULES_BLOCK, block);
	s.allow_lan = true;
	expect_body(&s, false, KILLSWITCH_RULES_BLOCK, block_lan);
	/* Nor does the tunnel's name, so a missing one is fine. */
	s.tunnel_ifname = NULL;
	expect_body(&s, false, KILLSWITCH_RULES_BLOCK, block_lan);
}

/* While vpnd probes servers, its marked packets reach exactly those
 * endpoints, in the block phase as in the tunnel's, after the server's. */
static void test_probe_endpoints(void **state)
{
	struct killswitch_state s = connected();
	struct killswitch_endpoint probe[2] = {
		{ .family = AF_INET, .port = 51001, .protocol = IPPROTO_UDP },
		{ .family = AF_INET6, .port = 443, .protocol = IPPROTO_UDP },
	};
	static const char *const block[] = {
		"@output", O_LO,
		"meta mark 0x00005670 ip daddr 198.51.100.9 udp dport 51001 accept",
		"meta mark 0x00005670 ip6 daddr 2001:db8::51 udp dport 443 accept",
		O_DHCP4, O_DHCP6, O_ND, O_MLD, O_DNS_TCP, O_DNS_UDP, O_REJ_TCP,
		O_REJ,
		"@input", I_LO, I_REDIR4, I_REDIR6, I_CT, I_DHCP4, I_DHCP6,
		I_ND, I_MLD,
		"@forward", F_DNS,
		NULL
	};
	char *got;

	(void)state;
	assert_int_equal(inet_pton(AF_INET, "198.51.100.9", &probe[0].addr), 1);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::51", &probe[1].addr), 1);
	s.probe = probe;
	s.n_probe = 2;
	s.mode = KILLSWITCH_LOCKDOWN;
	s.phase = KILLSWITCH_DISCONNECTED;
	expect_body(&s, false, KILLSWITCH_RULES_BLOCK, block);
	/* Connected: the server's rule, then the probes'. */
	s.phase = KILLSWITCH_CONNECTED;
	got = render(&s, false, NULL, NULL);
	assert_non_null(strstr(got, O_SERVER4 "\n\t\tmeta mark 0x00005670 ip daddr 198.51.100.9 udp dport 51001 accept\n"));
	free(got);
	/* No table, no rules: nothing to open. */
	s.mode = KILLSWITCH_OFF;
	got = render(&s, false, NULL, NULL);
	assert_string_equal(got, "");
	free(got);
}

/* "on" while disconnected and "off" have no table, unless it is held. */
static void test_no_table_and_held(void **state)
{
	struct killswitch_state s = connected();
	enum killswitch_rules rules;
	char *got;

	(void)state;
	s.phase = KILLSWITCH_DISCONNECTED;
	got = render(&s, false, &rules, NULL);
	assert_int_equal(rules, KILLSWITCH_RULES_NONE);
	assert_string_equal(got, "");
	free(got);
	got = render(&s, true, &rules, NULL);
	assert_int_equal(rules, KILLSWITCH_RULES_BLOCK);
	assert_null(strstr(got, "wg0"));
	assert_non_null(strstr(got, O_REJ));
	free(got);

	s.mode = KILLSWITCH_OFF;
	s.phase = KILLSWITCH_CONNECTED;
	got = render(&s, false, &rules, NULL);
	assert_int_equal(rules, KILLSWITCH_RULES_NONE);
	assert_string_equal(got, "");
	free(got);
	/* Held and connected: the tunnel works, nothing else leaves. */
	got = render(&s, true, &rules, NULL);
	assert_int_equal(rules, KILLSWITCH_RULES_TUNNEL);
	assert_string_equal(got, connected_literal);
	free(got);
}

static void test_hold_and_release(void **state)
{
	struct killswitch ks;

	(void)state;
	killswitch_init(&ks, NULL);
	assert_false(ks.held);
	killswitch_hold(&ks);
	assert_true(ks.held);
	killswitch_release(&ks);
	assert_false(ks.held);
	killswitch_free(&ks);
}

static void test_rules_for_every_state(void **state)
{
	struct killswitch_state s = { 0 };
	int m, p, h;

	(void)state;
	for (m = KILLSWITCH_OFF; m <= KILLSWITCH_LOCKDOWN; m++)
		for (p = KILLSWITCH_DISCONNECTED; p <= KILLSWITCH_ERROR; p++)
			for (h = 0; h < 2; h++) {
				enum killswitch_rules want;
				enum killswitch_mode em = h ? KILLSWITCH_LOCKDOWN :
					(enum killswitch_mode)m;

				s.mode = (enum killswitch_mode)m;
				s.phase = (enum killswitch_phase)p;
				if (em == KILLSWITCH_OFF)
					want = KILLSWITCH_RULES_NONE;
				else if (p != KILLSWITCH_DISCONNECTED)
					want = KILLSWITCH_RULES_TUNNEL;
				else if (em == KILLSWITCH_LOCKDOWN)
					want = KILLSWITCH_RULES_BLOCK;
				else
					want = KILLSWITCH_RULES_NONE;
				assert_int_equal(killswitch_rules_for(&s, h),
						 want);
			}
}

/* Position of "\t\tLINE\n" inside chain NAME, or -1. */
static long rule_pos(const char *body, const char *chain, const char *line)
{
	char head[64], needle[256];
	const char *start, *end, *hit;

	snprintf(head, sizeof(head), "\tchain %s {\n", chain);
	snprintf(needle, sizeof(needle), "\t\t%s\n", line);
	start = strstr(body, head);
	if (!start)
		return -1;
	end = strstr(start, "\n\t}\n");
	hit = strstr(start, needle);
	if (!hit || (end && hit > end))
		return -1;
	return hit - body;
}

/* Over every combination: the DNS rejects come before the tunnel and LAN
 * accepts, the server's rule before the DNS rejects, the final rejects
 * last; the forward chain drops DNS before its accepts. */
static void test_order_everywhere(void **state)
{
	int m, p, lan, srv, fam;

	(void)state;
	for (m = KILLSWITCH_ON; m <= KILLSWITCH_LOCKDOWN; m++)
		for (p = KILLSWITCH_DISCONNECTED; p <= KILLSWITCH_ERROR; p++)
			for (lan = 0; lan < 2; lan++)
				for (srv = 0; srv < 2; srv++)
					for (fam = 0; fam < 2; fam++) {
		struct killswitch_state s = connected();
		long dns, tun, l4, l6, srvpos, rej;
		char *b;

		s.mode = (enum killswitch_mode)m;
		s.phase = (enum killswitch_phase)p;
		s.allow_lan = lan;
		if (!srv)
			memset(&s.server, 0, sizeof(s.server));
		else if (fam) {
			s.server.family = AF_INET6;
			s.server.port = 443;
			inet_pton(AF_INET6, "2001:db8::51", &s.server.addr);
		}
		b = render(&s, false, NULL, NULL);
		if (!*b) {	/* on, disconnected */
			assert_true(m == KILLSWITCH_ON &&
				    p == KILLSWITCH_DISCONNECTED);
			free(b);
			continue;
		}
		dns = rule_pos(b, "output", O_DNS_TCP);
		assert_true(dns >= 0);
		assert_true(rule_pos(b, "output", O_DNS_UDP) > dns);
		tun = rule_pos(b, "output", O_TUN);
		l4 = rule_pos(b, "output", LAN4_DST);
		l6 = rule_pos(b, "output", LAN6_DST);
		srvpos = rule_pos(b, "output", fam ? O_SERVER6 : O_SERVER4);
		rej = rule_pos(b, "output", O_REJ);
		assert_true(tun < 0 || tun > dns);
		assert_true(lan ? (l4 > dns && l6 > dns && l4 > tun) :
				  (l4 < 0 && l6 < 0));
		assert_true((srv && p != KILLSWITCH_DISCONNECTED) ?
				    (srvpos >= 0 && srvpos < dns) :
				    srvpos < 0);
		assert_true(rej > dns && rej > tun && rej > l4 && rej > l6);
		/* The inside drops sit between the tunnel and LAN accepts,
		 * only with allow_lan and a tunnel. */
		if (lan && tun >= 0) {
			assert_true(rule_pos(b, "output", O_IN4) > tun);
			assert_true(rule_pos(b, "output", O_IN6) < l4);
			assert_true(rule_pos(b, "forward", O_IN4) >
				    rule_pos(b, "forward", O_TUN));
			assert_true(rule_pos(b, "forward", O_IN6) <
				    rule_pos(b, "forward", LAN4_DST));
			assert_true(rule_pos(b, "input", I_IN4) >
				    rule_pos(b, "input", I_TUN));
			assert_true(rule_pos(b, "input", I_IN6) <
				    rule_pos(b, "input", I_LAN4));
		} else {
			assert_null(strstr(b, "10.64.0.0/24 drop"));
		}
		assert_true(rule_pos(b, "output", DNS4_OK) < dns);
		dns = rule_pos(b, "forward", F_DNS);
		assert_true(dns >= 0);
		assert_true(rule_pos(b, "forward", O_TUN) < 0 ||
			    rule_pos(b, "forward", O_TUN) > dns);
		assert_true(!lan || rule_pos(b, "forward", LAN4_DST) > dns);
		/* Input: the tunnel address is dropped on other devices
		 * before replies are accepted. */
		if (p != KILLSWITCH_DISCONNECTED)
			assert_true(rule_pos(b, "input", I_TADDR4) <
				    rule_pos(b, "input", I_CT));
		free(b);
	}
}

/* ---------------------------------------------------------- refusals */

static void expect_refused(const struct killswitch_state *s, int err,
			   const char *why)
{
	char *got;
	int ret;

	got = render(s, false, NULL, &ret);
	assert_int_equal(ret, err);
	/* Refused before anything was written. */
	assert_string_equal(got, "");
	free(got);
	if (why) {
		struct firewall_text t = FIREWALL_TEXT_INIT;
		enum killswitch_rules r;

		killswitch_render(s, false, &t, &r);
		assert_non_null(strstr(t.why, why));
		firewall_text_free(&t);
	}
}

static void test_names_cannot_inject(void **state)
{
	static const char *const bad[] = {
		"wg0\"", "wg0\" accept", "wg0\"; flush ruleset; \"",
		"wg0 accept", "a;b", "a{", "a}", "wg0\n", "wg*", "$x", "a\\b",
		"", "0123456789abcdef", "wg0\taccept", "\xc3\xa9",
	};
	struct killswitch_state s = connected();
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		s.tunnel_ifname = bad[i];
		expect_refused(&s, -EINVAL, "invalid tunnel interface name");
	}
	s.tunnel_ifname = NULL;
	expect_refused(&s, -EINVAL, "invalid tunnel interface name");
	/* Valid odd names go in quoted, as they are. */
	s.tunnel_ifname = "wg-0.a_b";
	{
		char *got = render(&s, false, NULL, NULL);

		assert_non_null(strstr(got, "\t\toifname \"wg-0.a_b\" accept\n"));
		free(got);
	}
}

static void test_bad_states_refused(void **state)
{
	struct killswitch_state s;

	(void)state;
	s = connected();
	s.fwmark = 0;
	expect_refused(&s, -EINVAL, "fwmark 0");
	s = connected();
	s.server.port = 0;
	expect_refused(&s, -EINVAL, "port 0");
	s = connected();
	s.server.family = AF_UNIX;
	expect_refused(&s, -EINVAL, "family");
	s = connected();
	s.server.protocol = IPPROTO_TCP;
	expect_refused(&s, -EPROTONOSUPPORT, "not UDP");
	s = connected();
	s.server.protocol = 0;
	expect_refused(&s, -EPROTONOSUPPORT, "not UDP");
	s = connected();
	s.resolver[1].family = AF_UNSPEC;
	expect_refused(&s, -EINVAL, "resolver");
	s = connected();
	s.n_resolver = KILLSWITCH_DNS_MAX + 1;
	expect_refused(&s, -EINVAL, "resolver");
	s = connected();
	s.tunnel_addr[0].family = 99;
	expect_refused(&s, -EINVAL, "tunnel addresses");
	s = connected();
	s.tunnel_addr[1].len = 129;
	expect_refused(&s, -EINVAL, "tunnel addresses");
	s = connected();
	s.n_tunnel_addr = KILLSWITCH_ADDR_MAX + 1;
	expect_refused(&s, -EINVAL, "tunnel addresses");
	s = connected();
	s.mode = (enum killswitch_mode)7;
	expect_refused(&s, -EINVAL, "mode or phase");
	s = connected();
	s.phase = (enum killswitch_phase)-1;
	expect_refused(&s, -EINVAL, "mode or phase");
	/* A probe endpoint that is not one, in any phase with rules. */
	struct killswitch_endpoint probe = {
		.family = AF_INET, .port = 0, .protocol = IPPROTO_UDP,
	};
	s = connected();
	s.probe = &probe;
	s.n_probe = 1;
	expect_refused(&s, -EINVAL, "probe endpoint");
	probe.port = 443;
	probe.protocol = IPPROTO_TCP;
	s.mode = KILLSWITCH_LOCKDOWN;
	s.phase = KILLSWITCH_DISCONNECTED;
	expect_refused(&s, -EINVAL, "probe endpoint");
	probe.protocol = IPPROTO_UDP;
	probe.family = AF_UNIX;
	expect_refused(&s, -EINVAL, "probe endpoint");
}

/* An invalid state is refused by apply, verify and takeover before they
 * reach nftables: here there is no nftables context at all. */
static void test_invalid_state_never_reaches_nftables(void **state)
{
	struct killswitch_state s = connected();
	struct killswitch ks;
	bool yes = true;

	(void)state;
	killswitch_init(&ks, NULL);
	s.tunnel_ifname = "wg0\" accept";
	assert_int_equal(killswitch_apply(&ks, &s), -EINVAL);
	assert_non_null(strstr(killswitch_strerror(&ks),
			       "invalid tunnel interface name"));
	assert_false(ks.applied);
	assert_null(ks.listing);
	assert_int_equal(killswitch_verify(&ks, &s, &yes), -EINVAL);
	assert_false(yes);
	killswitch_free(&ks);
}

/* ----------------------------------------------------------- endpoints */

static void test_endpoint_from_sockaddr(void **state)
{
	struct killswitch_endpoint e;
	struct sockaddr_in in4 = { .sin_family = AF_INET,
				   .sin_port = htons(51820) };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6,
				    .sin6_port = htons(443) };
	struct sockaddr sa = { .sa_family = AF_UNIX };
	struct in_addr want4;
	struct in6_addr want6;

	(void)state;
	inet_pton(AF_INET, "192.0.2.1", &in4.sin_addr);
	assert_int_equal(killswitch_endpoint_from_sockaddr(
				 &e, (struct sockaddr *)&in4, sizeof(in4)), 0);
	assert_int_equal(e.family, AF_INET);
	assert_int_equal(e.port, 51820);
	assert_int_equal(e.protocol, IPPROTO_UDP);
	assert_memory_equal(&e.addr.v4, &in4.sin_addr, 4);

	inet_pton(AF_INET6, "2001:db8::51", &in6.sin6_addr);
	assert_int_equal(killswitch_endpoint_from_sockaddr(
				 &e, (struct sockaddr *)&in6, sizeof(in6)), 0);
	assert_int_equal(e.family, AF_INET6);
	assert_int_equal(e.port, 443);
	inet_pton(AF_INET6, "2001:db8::51", &want6);
	assert_memory_equal(&e.addr.v6, &want6, 16);

	/* ::ffff:198.51.100.7 leaves as IPv4: the rule must be ip, not ip6. */
	inet_pton(AF_INET6, "::ffff:198.51.100.7", &in6.sin6_addr);
	assert_int_equal(killswitch_endpoint_from_sockaddr(
				 &e, (struct sockaddr *)&in6, sizeof(in6)), 0);
	assert_int_equal(e.family, AF_INET);
	inet_pton(AF_INET, "198.51.100.7", &want4);
	assert_memory_equal(&e.addr.v4, &want4, 4);

	assert_int_equal(killswitch_endpoint_from_sockaddr(&e, &sa, sizeof(sa)),
			 -EAFNOSUPPORT);
	assert_int_equal(killswitch_endpoint_from_sockaddr(
				 &e, (struct sockaddr *)&in6, sizeof(in4)),
			 -EAFNOSUPPORT);
}

/* ----------------------------------------------------------- arp_ignore */

struct arp_dir {
	char root[64];
};

static void write_value(const char *root, const char *name, const char *v)
{
	char path[160];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/%s/arp_ignore", root, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(v, f);
	fclose(f);
}

static int read_value(const char *root, const char *name)
{
	char path[160];
	int v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/arp_ignore", root, name);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &v), 1);
	fclose(f);
	return v;
}

static int arp_setup(void **state)
{
	struct arp_dir *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	snprintf(d->root, sizeof(d->root), "/tmp/test_killswitch.XXXXXX");
	assert_non_null(mkdtemp(d->root));
	arp_conf_dir = d->root;
	*state = d;
	return 0;
}

static void remove_value(const char *root, const char *name)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/%s/arp_ignore", root, name);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", root, name);
	rmdir(path);
}

static int arp_teardown(void **state)
{
	struct arp_dir *d = *state;

	remove_value(d->root, "all");
	remove_value(d->root, "eth0");
	rmdir(d->root);
	arp_conf_dir = "/proc/sys/net/ipv4/conf";
	free(d);
	return 0;
}

static void test_arp_guard_and_restore(void **state)
{
	struct arp_dir *d = *state;
	struct killswitch_arp a;

	write_value(d->root, "all", "0\n");
	assert_int_equal(killswitch_arp_guard(&a, "all"), 0);
	assert_int_equal(a.old, 0);
	assert_int_equal(a.ours, KILLSWITCH_ARP_IGNORE);
	assert_int_equal(read_value(d->root, "all"), 1);
	assert_int_equal(killswitch_arp_restore(&a), 0);
	assert_int_equal(read_value(d->root, "all"), 0);
	/* Twice is harmless. */
	assert_int_equal(killswitch_arp_restore(&a), 0);
	assert_int_equal(read_value(d->root, "all"), 0);
}

static void test_arp_stricter_left_alone(void **state)
{
	struct arp_dir *d = *state;
	struct killswitch_arp a;

	write_value(d->root, "eth0", "2\n");
	assert_int_equal(killswitch_arp_guard(&a, "eth0"), 0);
	assert_int_equal(a.old, 2);
	assert_int_equal(a.ours, -1);
	assert_int_equal(read_value(d->root, "eth0"), 2);
	assert_int_equal(killswitch_arp_restore(&a), 0);
	assert_int_equal(read_value(d->root, "eth0"), 2);
}

static void test_arp_changed_since_is_kept(void **state)
{
	struct arp_dir *d = *state;
	struct killswitch_arp a;

	write_value(d->root, "all", "0\n");
	assert_int_equal(killswitch_arp_guard(&a, "all"), 0);
	write_value(d->root, "all", "3\n");
	assert_int_equal(killswitch_arp_restore(&a), 0);
	assert_int_equal(read_value(d->root, "all"), 3);
}

static void test_arp_bad_names(void **state)
{
	struct killswitch_arp a;

	(void)state;
	assert_int_equal(killswitch_arp_guard(&a, ".."), -EINVAL);
	assert_int_equal(killswitch_arp_guard(&a, "."), -EINVAL);
	assert_int_equal(killswitch_arp_guard(&a, "a/b"), -EINVAL);
	assert_int_equal(killswitch_arp_guard(&a, ""), -EINVAL);
	assert_int_equal(killswitch_arp_guard(&a, NULL), -EINVAL);
	assert_int_equal(killswitch_arp_guard(&a, "nosuchif0"), -ENOENT);
	/* A failed guard holds nothing to restore. */
	assert_int_equal(a.ours, -1);
	assert_int_equal(killswitch_arp_restore(&a), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connected_literal),
		cmocka_unit_test(test_connected_allow_lan),
		cmocka_unit_test(test_ipv6_only),
		cmocka_unit_test(test_no_server_yet),
		cmocka_unit_test(test_no_resolvers_no_addresses),
		cmocka_unit_test(test_address_sets),
		cmocka_unit_test(test_inside_sets),
		cmocka_unit_test(test_inside_only_with_allow_lan),
		cmocka_unit_test(test_inside_prefixes),
		cmocka_unit_test(test_lockdown_disconnected),
		cmocka_unit_test(test_no_table_and_held),
		cmocka_unit_test(test_hold_and_release),
		cmocka_unit_test(test_rules_for_every_state),
		cmocka_unit_test(test_order_everywhere),
		cmocka_unit_test(test_names_cannot_inject),
		cmocka_unit_test(test_bad_states_refused),
		cmocka_unit_test(test_probe_endpoints),
		cmocka_unit_test(test_invalid_state_never_reaches_nftables),
		cmocka_unit_test(test_endpoint_from_sockaddr),
		cmocka_unit_test_setup_teardown(test_arp_guard_and_restore,
						arp_setup, arp_teardown),
		cmocka_unit_test_setup_teardown(test_arp_stricter_left_alone,
						arp_setup, arp_teardown),
		cmocka_unit_test_setup_teardown(test_arp_changed_since_is_kept,
						arp_setup, arp_teardown),
		cmocka_unit_test_setup_teardown(test_arp_bad_names, arp_setup,
						arp_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
