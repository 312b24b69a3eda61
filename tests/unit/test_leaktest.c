/* SPDX-License-Identifier: MIT */
/*
 * The judge of vpnctl leaktest (vpnctl/leaktest.c), without sockets or
 * root: packets built here byte by byte (IPv4 and IPv6, TCP SYN, UDP,
 * ICMP and ICMPv6 echo, DNS, ARP, neighbour solicitation) are handed to
 * the judge as the packet socket would hand them, and each probe must
 * recognise its own packet and nothing else: not another destination,
 * port, ICMP id or nonce, not a truncated header, not a later fragment.
 * The probe builders are checked against an independent reading (the
 * ICMP checksum recomputed, the DNS query parsed), and the verdicts
 * against the rules of docs/vpnctl.1.md: seen is a leak, a silent probe
 * whose target the link was asked for is a leak, the rest keep blocked,
 * not sent or error, and the summary counts the leaks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* Included to reach the judge's statics; ctl.o and json.o are linked. */
#include "../../vpnctl/leaktest.c"

/* Documentation addresses, so that nothing here names a real host. */
#define TARGET4 "192.0.2.7"
#define OTHER4 "192.0.2.8"
#define SOURCE4 "198.51.100.2"
#define TARGET6 "2001:db8::7"
#define OTHER6 "2001:db8::8"
#define SOURCE6 "2001:db8:1::2"

enum {
	SPORT = 40001,		/* the source port "the kernel chose" */
	ICMP_ID = 0x4a5b,
	FD_OPEN = 1000,		/* an open socket, never touched */
	PKT_MAX = 256,
};

static const uint8_t nonce[LEAKTEST_NONCE_LEN] = {
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
};

/* ---------------------------------------------------- building packets */

static void put16(uint8_t *b, unsigned int v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static void addr4(const char *s, uint8_t *out)
{
	assert_int_equal(inet_pton(AF_INET, s, out), 1);
}

static void addr6(const char *s, uint8_t *out)
{
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
}

/*
 * An IPv4 header of @ihl words (options are NOPs) from SOURCE4 to @dst,
 * with @frag as the flags and fragment offset word; @l4 bytes of
 * transport follow it.  Returns the header's length.
 */
static size_t ip4_header(uint8_t *b, unsigned int ihl, uint8_t proto,
			 const char *dst, unsigned int frag, size_t l4)
{
	size_t hlen = ihl * 4;

	memset(b, 0, 20);
	b[0] = (uint8_t)(0x40 | (ihl & 0xf));
	put16(b + 2, (unsigned int)(hlen + l4));
	put16(b + 4, 0x1234);
	put16(b + 6, frag);
	b[8] = 64;
	b[9] = proto;
	addr4(SOURCE4, b + 12);
	addr4(dst, b + 16);
	if (hlen > 20)
		memset(b + 20, 1, hlen - 20);	/* NOP options */
	return hlen;
}

/* A plain IPv6 header from SOURCE6 to @dst; @next is its next header. */
static size_t ip6_header(uint8_t *b, uint8_t next, const char *dst,
			 size_t payload)
{
	memset(b, 0, 40);
	b[0] = 0x60;
	put16(b + 4, (unsigned int)payload);
	b[6] = next;
	b[7] = 64;
	addr6(SOURCE6, b + 8);
	addr6(dst, b + 24);
	return 40;
}

/* A TCP SYN without options. */
static size_t tcp_syn(uint8_t *b, uint16_t sport, uint16_t dport)
{
	memset(b, 0, 20);
	put16(b, sport);
	put16(b + 2, dport);
	put16(b + 4, 0x1111);		/* sequence number */
	b[12] = 5 << 4;			/* data offset */
	b[13] = 0x02;			/* SYN */
	put16(b + 14, 64240);
	return 20;
}

static size_t udp_dgram(uint8_t *b, uint16_t sport, uint16_t dport,
			const void *data, size_t len)
{
	put16(b, sport);
	put16(b + 2, dport);
	put16(b + 4, (unsigned int)(8 + len));
	put16(b + 6, 0);
	memcpy(b + 8, data, len);
	return 8 + len;
}

/* An echo request as a ping would send it: type, id, sequence, nonce. */
static size_t echo(uint8_t *b, uint8_t type, uint16_t id,
		   const uint8_t *data)
{
	b[0] = type;
	b[1] = 0;
	put16(b + 2, 0);
	put16(b + 4, id);
	put16(b + 6, 1);
	memcpy(b + 8, data, LEAKTEST_NONCE_LEN);
	return 8 + LEAKTEST_NONCE_LEN;
}

/* Whole packets, IPv4 or IPv6 after the family of @dst. */
static bool is_v6(const char *dst)
{
	return strchr(dst, ':') != NULL;
}

static size_t wrap(uint8_t *b, uint8_t proto, const char *dst,
		   const uint8_t *l4, size_t l4_len)
{
	size_t h = is_v6(dst) ? ip6_header(b, proto, dst, l4_len) :
				ip4_header(b, 5, proto, dst, 0x4000, l4_len);

	memcpy(b + h, l4, l4_len);
	return h + l4_len;
}

static size_t tcp_packet(uint8_t *b, const char *dst, uint16_t sport,
			 uint16_t dport)
{
	uint8_t l4[20];

	return wrap(b, IPPROTO_TCP, dst, l4, tcp_syn(l4, sport, dport));
}

static size_t udp_packet(uint8_t *b, const char *dst, uint16_t sport,
			 uint16_t dport)
{
	uint8_t l4[64];

	return wrap(b, IPPROTO_UDP, dst, l4,
		    udp_dgram(l4, sport, dport, "x", 1));
}

static size_t echo_packet(uint8_t *b, const char *dst, uint16_t id,
			  const uint8_t *data)
{
	uint8_t l4[32];
	bool v6 = is_v6(dst);

	return wrap(b, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP, dst, l4,
		    echo(l4, v6 ? 128 : 8, id, data));
}

/* ----------------------------------------------------- a test's probes */

static void leaktest_setup(struct leaktest *t)
{
	memset(t, 0, sizeof(*t));
	t->judge = -1;
	snprintf(t->ifname, sizeof(t->ifname), "eth0");
	assert_int_equal(inet_pton(AF_INET, TARGET4, &t->target), 1);
	assert_int_equal(inet_pton(AF_INET6, TARGET6, &t->target6), 1);
}

/* A probe as probe_start() leaves a sent one: open, with a known source
 * port, ICMP id and nonce. */
static void probe_setup(struct probe *p, enum probe_kind kind, int family,
			const struct leaktest *t)
{
	probe_init(p, kind, family, t);
	assert_int_equal(p->fd, -1);
	p->fd = FD_OPEN;
	p->sport = kind == PROBE_ICMP ? 0 : SPORT;
	p->icmp_id = ICMP_ID;
	memcpy(p->nonce, nonce, sizeof(nonce));
	p->result = PROBE_BLOCKED;
}

/* All ten, as leaktest_run() makes them, each with a source port of its
 * own (SPORT + index). */
static void all_probes(struct leaktest *t)
{
	static const int families[] = { AF_INET, AF_INET6 };

	leaktest_setup(t);
	for (size_t f = 0; f < 2; f++)
		for (int k = 0; k < PROBE_KINDS; k++) {
			struct probe *p = &t->probe[t->n_probe];

			probe_setup(p, (enum probe_kind)k, families[f], t);
			if (p->sport)
				p->sport = (uint16_t)(SPORT + t->n_probe);
			t->n_probe++;
		}
}

/* Does @p recognise the packet @b? */
static bool matches(const struct probe *p, const uint8_t *b, size_t len)
{
	struct packet pk;

	if (!parse_ipv4(b, len, &pk) && !parse_ipv6(b, len, &pk))
		return false;
	return probe_matches(p, &pk);
}

/* ------------------------------------------------------------- parsing */

static void test_ipv4_header(void **state)
{
	uint8_t b[PKT_MAX], l4[20];
	struct packet pk;
	size_t n;

	(void)state;
	memset(b, 0, sizeof(b));
	tcp_syn(l4, SPORT, 443);

	/* Plain, with DF set. */
	n = ip4_header(b, 5, IPPROTO_TCP, TARGET4, 0x4000, 20);
	memcpy(b + n, l4, 20);
	assert_true(parse_ipv4(b, n + 20, &pk));
	assert_int_equal(pk.family, AF_INET);
	assert_int_equal(pk.proto, IPPROTO_TCP);
	assert_ptr_equal(pk.daddr, b + 16);
	assert_ptr_equal(pk.l4, b + 20);
	assert_int_equal(pk.l4_len, 20);
	assert_false(parse_ipv6(b, n + 20, &pk));

	/* Options: the transport header starts after them. */
	n = ip4_header(b, 7, IPPROTO_TCP, TARGET4, 0, 20);
	memcpy(b + n, l4, 20);
	assert_true(parse_ipv4(b, n + 20, &pk));
	assert_ptr_equal(pk.l4, b + 28);
	assert_int_equal(pk.l4_len, 20);
	assert_int_equal(get16(pk.l4), SPORT);

	/* An IHL below 5, or beyond the bytes there are. */
	n = ip4_header(b, 5, IPPROTO_TCP, TARGET4, 0, 20);
	memcpy(b + n, l4, 20);
	b[0] = 0x44;
	assert_false(parse_ipv4(b, 40, &pk));
	b[0] = 0x40;
	assert_false(parse_ipv4(b, 40, &pk));
	b[0] = 0x4f;			/* 60 bytes of header, 40 there */
	assert_false(parse_ipv4(b, 40, &pk));
	assert_true(parse_ipv4(b, 60, &pk));
	b[0] = 0x46;			/* 24 bytes: one short, then all */
	assert_false(parse_ipv4(b, 23, &pk));
	assert_true(parse_ipv4(b, 24, &pk));
	assert_int_equal(pk.l4_len, 0);
	b[0] = 0x45;
	assert_true(parse_ipv4(b, 40, &pk));

	/* Shorter than a header; another version. */
	assert_false(parse_ipv4(b, 19, &pk));
	assert_true(parse_ipv4(b, 20, &pk));
	assert_int_equal(pk.l4_len, 0);
	b[0] = 0x65;
	assert_false(parse_ipv4(b, 40, &pk));
	b[0] = 0x45;

	/* A first fragment holds the transport header, a later one not:
	 * any bit of the offset, low or high, refuses it. */
	put16(b + 6, 0x2000);		/* MF, offset 0 */
	assert_true(parse_ipv4(b, 40, &pk));
	put16(b + 6, 0x2001);
	assert_false(parse_ipv4(b, 40, &pk));
	put16(b + 6, 0x0001);		/* the last fragment */
	assert_false(parse_ipv4(b, 40, &pk));
	put16(b + 6, 0x1000);		/* offset's top bit */
	assert_false(parse_ipv4(b, 40, &pk));
	put16(b + 6, 0x4100);
	assert_false(parse_ipv4(b, 40, &pk));
}

/* Appends an extension header of @len bytes (a multiple of 8) whose next
 * header is @next; its option bytes are a PadN and then @fill. */
static size_t ext_header(uint8_t *b, uint8_t next, size_t len, uint8_t fill)
{
	b[0] = next;
	b[1] = (uint8_t)(len / 8 - 1);
	memset(b + 2, fill, len - 2);
	if (!fill) {
		b[2] = 1;		/* PadN over the rest */
		b[3] = (uint8_t)(len - 4);
	} else {
		/* An experimental option, skipped when not understood
		 * (RFC 4727), whose data is @fill. */
		b[2] = 0x1e;
		b[3] = (uint8_t)(len - 4);
	}
	return len;
}

static size_t frag_header(uint8_t *b, uint8_t next, unsigned int offset,
			  bool more)
{
	b[0] = next;
	b[1] = 0;
	put16(b + 2, offset << 3 | (more ? 1 : 0));
	put16(b + 4, 0xdead);
	put16(b + 6, 0xbeef);
	return 8;
}

static void test_ipv6_header(void **state)
{
	uint8_t b[PKT_MAX];
	struct packet pk;
	size_t n;

	(void)state;
	n = ip6_header(b, IPPROTO_TCP, TARGET6, 20);
	n += tcp_syn(b + n, SPORT, 443);
	assert_true(parse_ipv6(b, n, &pk));
	assert_int_equal(pk.family, AF_INET6);
	assert_int_equal(pk.proto, IPPROTO_TCP);
	assert_ptr_equal(pk.daddr, b + 24);
	assert_ptr_equal(pk.l4, b + 40);
	assert_int_equal(pk.l4_len, 20);
	assert_false(parse_ipv4(b, n, &pk));
	assert_false(parse_ipv6(b, 39, &pk));
	b[0] = 0x45;
	assert_false(parse_ipv6(b, n, &pk));

	/* Hop-by-hop (8 bytes), then destination options (16): skipped. */
	n = ip6_header(b, 0, TARGET6, 0);
	n += ext_header(b + n, 60, 8, 0);
	n += ext_header(b + n, IPPROTO_TCP, 16, 0);
	n += tcp_syn(b + n, SPORT, 443);
	assert_true(parse_ipv6(b, n, &pk));
	assert_int_equal(pk.proto, IPPROTO_TCP);
	assert_ptr_equal(pk.l4, b + 64);
	assert_int_equal(get16(pk.l4), SPORT);
	/* Cut inside the second extension header, or before its length. */
	assert_false(parse_ipv6(b, 60, &pk));
	assert_false(parse_ipv6(b, 50, &pk));
	/* Its length pointing beyond the packet. */
	b[49] = 20;
	assert_false(parse_ipv6(b, n, &pk));

	/* A routing header, then the first fragment of a datagram. */
	n = ip6_header(b, 43, TARGET6, 0);
	n += ext_header(b + n, 44, 8, 0);
	n += frag_header(b + n, IPPROTO_TCP, 0, true);
	n += tcp_syn(b + n, SPORT, 443);
	assert_true(parse_ipv6(b, n, &pk));
	assert_int_equal(pk.proto, IPPROTO_TCP);
	assert_ptr_equal(pk.l4, b + 56);

	/* A later fragment carries no transport header. */
	frag_header(b + 48, IPPROTO_TCP, 1, true);
	assert_false(parse_ipv6(b, n, &pk));
	frag_header(b + 48, IPPROTO_TCP, 8191, false);
	assert_false(parse_ipv6(b, n, &pk));
	frag_header(b + 48, IPPROTO_TCP, 4096, true);	/* top bit only */
	assert_false(parse_ipv6(b, n, &pk));
	frag_header(b + 48, IPPROTO_TCP, 0, false);
	assert_true(parse_ipv6(b, n, &pk));

	/* Hop-by-hop options after another header: no IPv6 packet (RFC
	 * 8200, 4.3), whatever follows; first, they are skipped.  (Found by
	 * fuzz_leaktest: a routing header, then hop-by-hop, then a SYN.) */
	n = ip6_header(b, 43, TARGET6, 0);
	n += ext_header(b + n, 0, 8, 0);
	n += ext_header(b + n, IPPROTO_TCP, 16, 0);
	n += tcp_syn(b + n, SPORT, 443);
	assert_false(parse_ipv6(b, n, &pk));
	b[6] = 0;			/* hop-by-hop, hop-by-hop */
	assert_false(parse_ipv6(b, n, &pk));
	b[40] = 60;			/* hop-by-hop, destination options */
	assert_true(parse_ipv6(b, n, &pk));
	assert_int_equal(pk.proto, IPPROTO_TCP);
	assert_ptr_equal(pk.l4, b + 64);

	/* A header the judge does not skip (AH) is taken for the transport:
	 * no probe has that protocol, so none matches it. */
	n = ip6_header(b, 51, TARGET6, 0);
	n += ext_header(b + n, IPPROTO_TCP, 16, 0);
	n += tcp_syn(b + n, SPORT, 443);
	assert_true(parse_ipv6(b, n, &pk));
	assert_int_equal(pk.proto, 51);
}

/*
 * An extension header longer than 8 bytes right before a fragment
 * header: each header's length is read by its own type, not by the type
 * of the header after it.
 */
static void test_ipv6_long_header_then_fragment(void **state)
{
	uint8_t b[PKT_MAX];
	struct leaktest t;
	struct packet pk;
	size_t n;

	(void)state;
	leaktest_setup(&t);
	probe_setup(&t.probe[0], PROBE_TCP, AF_INET6, &t);

	n = ip6_header(b, 60, TARGET6, 0);
	n += ext_header(b + n, 44, 16, 0xaa);
	n += frag_header(b + n, IPPROTO_TCP, 0, true);
	n += tcp_syn(b + n, SPORT, 443);
	assert_int_equal(n, 84);
	assert_true(parse_ipv6(b, n, &pk));
	assert_int_equal(pk.proto, IPPROTO_TCP);
	assert_ptr_equal(pk.l4, b + 64);
	assert_true(probe_matches(&t.probe[0], &pk));

	/* The same behind 24 bytes of hop-by-hop options. */
	n = ip6_header(b, 0, TARGET6, 0);
	n += ext_header(b + n, 44, 24, 0x77);
	n += frag_header(b + n, IPPROTO_TCP, 0, false);
	n += tcp_syn(b + n, SPORT, 443);
	assert_true(parse_ipv6(b, n, &pk));
	assert_ptr_equal(pk.l4, b + 72);
	assert_true(probe_matches(&t.probe[0], &pk));
	/* And refused when the fragment is not the first. */
	frag_header(b + 64, IPPROTO_TCP, 3, false);
	assert_false(parse_ipv6(b, n, &pk));
}

/* ------------------------------------------------------------- matching */

static void test_tcp_probe(void **state)
{
	static const char *const dst[] = { TARGET4, TARGET6 };
	static const char *const other[] = { OTHER4, OTHER6 };
	static const int family[] = { AF_INET, AF_INET6 };
	uint8_t b[PKT_MAX];
	struct leaktest t;
	struct probe *p = &t.probe[0];
	size_t n;

	(void)state;
	leaktest_setup(&t);
	for (int f = 0; f < 2; f++) {
		probe_setup(p, PROBE_TCP, family[f], &t);

		n = tcp_packet(b, dst[f], SPORT, 443);
		assert_true(matches(p, b, n));
		/* Another destination, port, source port. */
		n = tcp_packet(b, other[f], SPORT, 443);
		assert_false(matches(p, b, n));
		n = tcp_packet(b, dst[f], SPORT, 53);
		assert_false(matches(p, b, n));
		n = tcp_packet(b, dst[f], SPORT + 1, 443);
		assert_false(matches(p, b, n));
		/* The other family's target. */
		n = tcp_packet(b, dst[1 - f], SPORT, 443);
		assert_false(matches(p, b, n));
		/* UDP with the same ports. */
		n = udp_packet(b, dst[f], SPORT, 443);
		assert_false(matches(p, b, n));
		/* Ports cut short: three bytes of transport, then four. */
		n = tcp_packet(b, dst[f], SPORT, 443);
		assert_false(matches(p, b, n - 17));
		assert_true(matches(p, b, n - 16));
		/* A source port not yet known matches nothing. */
		p->sport = 0;
		n = tcp_packet(b, dst[f], 0, 443);
		assert_false(matches(p, b, n));
	}

	/* An IPv6 packet whose address starts with the IPv4 target's
	 * bytes is not for the IPv4 target. */
	probe_setup(p, PROBE_TCP, AF_INET, &t);
	n = tcp_packet(b, "c000:207::1", SPORT, 443);
	assert_memory_equal(b + 24, &t.target, 4);
	assert_false(matches(p, b, n));

	/* IPv4 options in front of the SYN do not hide it. */
	probe_setup(p, PROBE_TCP, AF_INET, &t);
	n = ip4_header(b, 8, IPPROTO_TCP, TARGET4, 0, 20);
	n += tcp_syn(b + n, SPORT, 443);
	assert_true(matches(p, b, n));
	/* Taken as a 20-byte header, the options would be the ports. */
	b[0] = 0x45;
	assert_false(matches(p, b, n));
	/* A later fragment of it is not it. */
	b[0] = 0x48;
	put16(b + 6, 0x0003);
	assert_false(matches(p, b, n));
}

static void test_udp_and_dns_probes(void **state)
{
	static const char *const dst[] = { TARGET4, TARGET6 };
	static const int family[] = { AF_INET, AF_INET6 };
	uint8_t b[PKT_MAX];
	struct leaktest t;
	struct probe *udp = &t.probe[0], *dns = &t.probe[1];
	struct probe *dtcp = &t.probe[2];
	size_t n;

	(void)state;
	leaktest_setup(&t);
	for (int f = 0; f < 2; f++) {
		probe_setup(udp, PROBE_UDP, family[f], &t);
		probe_setup(dns, PROBE_DNS_UDP, family[f], &t);
		probe_setup(dtcp, PROBE_DNS_TCP, family[f], &t);

		n = udp_packet(b, dst[f], SPORT, 443);
		assert_true(matches(udp, b, n));
		assert_false(matches(dns, b, n));
		assert_false(matches(dtcp, b, n));

		n = udp_packet(b, dst[f], SPORT, 53);
		assert_false(matches(udp, b, n));
		assert_true(matches(dns, b, n));
		assert_false(matches(dtcp, b, n));
		n = udp_packet(b, dst[f], SPORT - 1, 53);
		assert_false(matches(dns, b, n));

		n = tcp_packet(b, dst[f], SPORT, 53);
		assert_true(matches(dtcp, b, n));
		assert_false(matches(dns, b, n));
		assert_false(matches(udp, b, n));
	}
}

static void test_icmp_probe(void **state)
{
	static const char *const dst[] = { TARGET4, TARGET6 };
	static const char *const other[] = { OTHER4, OTHER6 };
	static const int family[] = { AF_INET, AF_INET6 };
	uint8_t b[PKT_MAX], data[LEAKTEST_NONCE_LEN];
	struct leaktest t;
	struct probe *p = &t.probe[0];
	size_t n, h;

	(void)state;
	leaktest_setup(&t);
	for (int f = 0; f < 2; f++) {
		probe_setup(p, PROBE_ICMP, family[f], &t);
		h = family[f] == AF_INET ? 20 : 40;

		n = echo_packet(b, dst[f], ICMP_ID, nonce);
		assert_true(matches(p, b, n));
		/* The nonce cut by a byte. */
		assert_false(matches(p, b, n - 1));
		/* Another destination, id, nonce. */
		n = echo_packet(b, other[f], ICMP_ID, nonce);
		assert_false(matches(p, b, n));
		n = echo_packet(b, dst[f], ICMP_ID ^ 1, nonce);
		assert_false(matches(p, b, n));
		for (size_t i = 0; i < sizeof(data); i++) {
			memcpy(data, nonce, sizeof(data));
			data[i] ^= 0x10;
			n = echo_packet(b, dst[f], ICMP_ID, data);
			assert_false(matches(p, b, n));
		}
		/* An echo reply, and the other family's echo type. */
		n = echo_packet(b, dst[f], ICMP_ID, nonce);
		b[h] = family[f] == AF_INET ? 0 : 129;
		assert_false(matches(p, b, n));
		b[h] = family[f] == AF_INET ? 128 : 8;
		assert_false(matches(p, b, n));
		/* ICMPv4 in IPv6 and the reverse: the protocol must agree. */
		b[h] = family[f] == AF_INET ? 8 : 128;
		assert_true(matches(p, b, n));
		if (family[f] == AF_INET)
			b[9] = IPPROTO_ICMPV6;
		else
			b[6] = IPPROTO_ICMP;
		assert_false(matches(p, b, n));
	}
}

/* The judge over all ten probes: each packet marks its own probe only. */
static void test_judge_marks_one_probe(void **state)
{
	uint8_t b[PKT_MAX];
	struct leaktest t;
	size_t n;

	(void)state;
	for (size_t i = 0; i < 2 * PROBE_KINDS; i++) {
		struct probe *p;
		const char *dst;

		all_probes(&t);
		assert_int_equal(t.n_probe, 10);
		p = &t.probe[i];
		dst = p->family == AF_INET ? TARGET4 : TARGET6;
		switch (p->kind) {
		case PROBE_ICMP:
			n = echo_packet(b, dst, ICMP_ID, nonce);
			break;
		case PROBE_UDP:
		case PROBE_DNS_UDP:
			n = udp_packet(b, dst, p->sport, kinds[p->kind].port);
			break;
		default:
			n = tcp_packet(b, dst, p->sport, kinds[p->kind].port);
			break;
		}
		/* A packet type of ARP is not read as IP. */
		judge_packet(&t, b, n, ETH_P_ARP);
		for (size_t j = 0; j < t.n_probe; j++)
			assert_false(t.probe[j].seen);
		judge_packet(&t, b, n, p->family == AF_INET ? ETH_P_IP :
							       ETH_P_IPV6);
		for (size_t j = 0; j < t.n_probe; j++)
			assert_int_equal(t.probe[j].seen, j == i);
		assert_false(t.asked4);
		assert_false(t.asked6);

		/* A probe whose socket never opened is never seen. */
		all_probes(&t);
		t.probe[i].fd = -1;
		judge_packet(&t, b, n, ETH_P_IP);
		for (size_t j = 0; j < t.n_probe; j++)
			assert_false(t.probe[j].seen);
	}
}

/*
 * Every prefix of a packet, in a heap buffer of exactly that size, so
 * that ASan and valgrind see any read past what the socket returned;
 * only the whole packet (and, IPv4 or ARP, nothing shorter than the
 * header and ports) may be taken for the probe or the question.
 */
static void judge_prefixes(const uint8_t *pkt, size_t len, uint16_t type,
			   size_t need)
{
	for (size_t cut = 0; cut <= len; cut++) {
		uint8_t *b = malloc(cut ? cut : 1);
		struct leaktest t;
		bool any;

		assert_non_null(b);
		memcpy(b, pkt, cut);
		all_probes(&t);
		judge_packet(&t, b, cut, type);
		free(b);
		any = t.asked4 || t.asked6;
		for (size_t i = 0; i < t.n_probe; i++)
			any |= t.probe[i].seen;
		if (any)
			assert_true(cut >= need);
		if (cut == len)
			assert_true(any);
	}
}

static void test_truncated(void **state)
{
	uint8_t b[PKT_MAX], ext[PKT_MAX];
	struct leaktest t;
	size_t n, h;

	(void)state;
	n = tcp_packet(b, TARGET4, SPORT, 443);
	judge_prefixes(b, n, ETH_P_IP, 24);
	/* IPv4 options: the header alone is 32 bytes. */
	h = ip4_header(b, 8, IPPROTO_TCP, TARGET4, 0, 20);
	n = h + tcp_syn(b + h, SPORT, 443);
	judge_prefixes(b, n, ETH_P_IP, h + 4);
	n = echo_packet(b, TARGET6, ICMP_ID, nonce);
	judge_prefixes(b, n, ETH_P_IPV6, n);

	/* Extension headers cut anywhere. */
	h = ip6_header(ext, 0, TARGET6, 0);
	h += ext_header(ext + h, 43, 16, 0x55);
	h += ext_header(ext + h, 44, 8, 0);
	h += frag_header(ext + h, IPPROTO_UDP, 0, true);
	n = h + udp_dgram(ext + h,
			   SPORT + PROBE_KINDS + PROBE_UDP, 443, "x", 1);
	judge_prefixes(ext, n, ETH_P_IPV6, h + 4);
	/* In full, it is the IPv6 UDP probe's (probe 6 of all_probes()). */
	all_probes(&t);
	judge_packet(&t, ext, n, ETH_P_IPV6);
	for (size_t i = 0; i < t.n_probe; i++)
		assert_int_equal(t.probe[i].seen, i == PROBE_KINDS + PROBE_UDP);
}

/* ------------------------------------------------- neighbour discovery */

/* An ARP request (Ethernet, IPv4) from SOURCE4 for @who. */
static size_t arp_request(uint8_t *b, const char *who)
{
	put16(b, ARPHRD_ETHER);
	put16(b + 2, ETH_P_IP);
	b[4] = 6;
	b[5] = 4;
	put16(b + 6, ARPOP_REQUEST);
	memset(b + 8, 0x02, 6);		/* sender's MAC */
	addr4(SOURCE4, b + 14);
	memset(b + 18, 0, 6);		/* target's MAC: unknown */
	addr4(who, b + 24);
	return 28;
}

static void test_arp(void **state)
{
	uint8_t b[64];
	struct leaktest t;
	struct in_addr target;
	size_t n;

	(void)state;
	leaktest_setup(&t);
	target = t.target;

	n = arp_request(b, TARGET4);
	assert_true(arp_asks_for(b, n, &target));
	judge_prefixes(b, n, ETH_P_ARP, n);
	/* Another address; the sender being the target does not count. */
	n = arp_request(b, OTHER4);
	assert_false(arp_asks_for(b, n, &target));
	addr4(TARGET4, b + 14);
	assert_false(arp_asks_for(b, n, &target));

	/* A reply, another protocol or address length, cut short. */
	n = arp_request(b, TARGET4);
	put16(b + 6, ARPOP_REPLY);
	assert_false(arp_asks_for(b, n, &target));
	put16(b + 6, ARPOP_REQUEST);
	put16(b + 2, ETH_P_IPV6);
	assert_false(arp_asks_for(b, n, &target));
	put16(b + 2, ETH_P_IP);
	b[5] = 16;
	assert_false(arp_asks_for(b, n, &target));
	b[5] = 4;
	assert_false(arp_asks_for(b, n - 1, &target));
	assert_false(arp_asks_for(b, 7, &target));
	assert_true(arp_asks_for(b, n, &target));

	/* The target's place follows the hardware address length. */
	b[4] = 8;
	assert_false(arp_asks_for(b, n, &target));
	memset(b + 8, 0x02, 8);
	addr4(SOURCE4, b + 16);
	memset(b + 20, 0, 8);
	addr4(TARGET4, b + 28);
	assert_true(arp_asks_for(b, 32, &target));

	/* Through the judge: only as ARP. */
	n = arp_request(b, TARGET4);
	judge_packet(&t, b, n, ETH_P_IP);
	assert_false(t.asked4);
	n = arp_request(b, OTHER4);
	judge_packet(&t, b, n, ETH_P_ARP);
	assert_false(t.asked4);
	n = arp_request(b, TARGET4);
	judge_packet(&t, b, n, ETH_P_ARP);
	assert_true(t.asked4);
	assert_false(t.asked6);
}

/* A neighbour solicitation for @who, to its solicited-node address. */
static size_t ns_packet(uint8_t *b, const char *who)
{
	uint8_t *l4;
	size_t n;

	n = ip6_header(b, IPPROTO_ICMPV6, "ff02::1:ff00:7", 32);
	b[7] = 255;
	l4 = b + n;
	memset(l4, 0, 32);
	l4[0] = 135;
	addr6(who, l4 + 8);
	l4[24] = 1;			/* source link-layer address */
	l4[25] = 1;
	memset(l4 + 26, 0x02, 6);
	return n + 32;
}

static void test_neighbour_solicitation(void **state)
{
	uint8_t b[PKT_MAX];
	struct leaktest t;
	struct packet pk;
	size_t n;

	(void)state;
	leaktest_setup(&t);

	n = ns_packet(b, TARGET6);
	assert_true(parse_ipv6(b, n, &pk));
	assert_true(ns_asks_for(&pk, &t.target6));
	judge_prefixes(b, n, ETH_P_IPV6, 40 + 24);
	/* The target field alone counts, the minimum being 24 bytes. */
	pk.l4_len = 24;
	assert_true(ns_asks_for(&pk, &t.target6));
	pk.l4_len = 23;
	assert_false(ns_asks_for(&pk, &t.target6));

	n = ns_packet(b, OTHER6);
	assert_true(parse_ipv6(b, n, &pk));
	assert_false(ns_asks_for(&pk, &t.target6));

	/* An advertisement, another protocol. */
	n = ns_packet(b, TARGET6);
	b[40] = 136;
	assert_true(parse_ipv6(b, n, &pk));
	assert_false(ns_asks_for(&pk, &t.target6));
	b[40] = 135;
	b[6] = IPPROTO_UDP;
	assert_true(parse_ipv6(b, n, &pk));
	assert_false(ns_asks_for(&pk, &t.target6));
	b[6] = IPPROTO_ICMPV6;

	/* Through the judge. */
	n = ns_packet(b, OTHER6);
	judge_packet(&t, b, n, ETH_P_IPV6);
	assert_false(t.asked6);
	n = ns_packet(b, TARGET6);
	judge_packet(&t, b, n, ETH_P_IPV6);
	assert_true(t.asked6);
	assert_false(t.asked4);
}

/* ------------------------------------------------------------ builders */

/* RFC 1071 over 16-bit words, written apart from the one under test:
 * the sum of a packet holding its right checksum folds to 0xffff. */
static unsigned int ones_sum(const uint8_t *b, size_t len)
{
	unsigned long sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += i % 2 ? b[i] : (unsigned long)b[i] * 256;
	while (sum > 0xffff)
		sum = (sum >> 16) + (sum & 0xffff);
	return (unsigned int)sum;
}

static void test_build_echo(void **state)
{
	uint8_t buf[LEAKTEST_QUERY_MAX], b[PKT_MAX];
	struct leaktest t;
	struct probe *p = &t.probe[0];
	size_t n;

	(void)state;
	leaktest_setup(&t);

	probe_setup(p, PROBE_ICMP, AF_INET, &t);
	memset(buf, 0xee, sizeof(buf));
	n = build_payload(p, buf);
	assert_int_equal(n, 16);
	assert_int_equal(buf[0], 8);
	assert_int_equal(buf[1], 0);
	assert_int_equal(get16(buf + 4), ICMP_ID);
	assert_int_equal(get16(buf + 6), 1);
	assert_memory_equal(buf + 8, nonce, sizeof(nonce));
	assert_int_equal(buf[16], 0xee);
	assert_int_not_equal(get16(buf + 2), 0);
	assert_int_equal(ones_sum(buf, n), 0xffff);
	/* What the checksum covers: any byte changed breaks it. */
	for (size_t i = 0; i < n; i++) {
		buf[i] ^= 0x01;
		assert_int_not_equal(ones_sum(buf, n), 0xffff);
		buf[i] ^= 0x01;
	}
	/* inet_checksum itself, on the RFC 1071 example and an odd length. */
	{
		static const uint8_t rfc[] = { 0x00, 0x01, 0xf2, 0x03,
					       0xf4, 0xf5, 0xf6, 0xf7 };
		static const uint8_t odd[] = { 0x12, 0x34, 0x56 };

		assert_int_equal(inet_checksum(rfc, sizeof(rfc)),
				 (uint16_t)~0xddf2);
		assert_int_equal(inet_checksum(odd, sizeof(odd)),
				 (uint16_t)~(0x1234 + 0x5600));
	}
	/* The probe recognises what it sends. */
	n = wrap(b, IPPROTO_ICMP, TARGET4, buf, n);
	assert_true(matches(p, b, n));

	/* ICMPv6: type 128; the kernel writes the checksum. */
	probe_setup(p, PROBE_ICMP, AF_INET6, &t);
	n = build_payload(p, buf);
	assert_int_equal(n, 16);
	assert_int_equal(buf[0], 128);
	assert_int_equal(buf[1], 0);
	assert_int_equal(get16(buf + 2), 0);
	assert_int_equal(get16(buf + 4), ICMP_ID);
	assert_memory_equal(buf + 8, nonce, sizeof(nonce));
	n = wrap(b, IPPROTO_ICMPV6, TARGET6, buf, n);
	assert_true(matches(p, b, n));

	/* The UDP probe's datagram says what it is and carries the nonce;
	 * TCP sends nothing but its handshake. */
	probe_setup(p, PROBE_UDP, AF_INET, &t);
	n = build_payload(p, buf);
	assert_int_equal(n, 22);
	assert_memory_equal(buf, "vpnd leaktest ", 14);
	assert_memory_equal(buf + 14, nonce, sizeof(nonce));
	probe_setup(p, PROBE_TCP, AF_INET, &t);
	assert_int_equal(build_payload(p, buf), 0);
	probe_setup(p, PROBE_DNS_TCP, AF_INET6, &t);
	assert_int_equal(build_payload(p, buf), 0);
}

/*
 * Reads a DNS query of @len bytes: exactly one question, no records, the
 * name in dotted form into @name.  Returns the question's type and class
 * as (type << 16 | class), or -1 for anything malformed.
 */
static long parse_query(const uint8_t *q, size_t len, char *name,
			size_t name_len)
{
	size_t off = 12, w = 0;

	if (len < 12 || get16(q + 4) != 1 || get16(q + 6) || get16(q + 8) ||
	    get16(q + 10))
		return -1;
	for (;;) {
		size_t l;

		if (off >= len)
			return -1;
		l = q[off++];
		if (!l)
			break;
		if (l > 63 || off + l > len || w + l + 2 > name_len)
			return -1;
		if (w)
			name[w++] = '.';
		memcpy(name + w, q + off, l);
		w += l;
		off += l;
	}
	name[w] = '\0';
	if (off + 4 != len)
		return -1;
	return (long)get16(q + off) << 16 | get16(q + off + 2);
}

static void test_build_query(void **state)
{
	uint8_t buf[LEAKTEST_QUERY_MAX + 8], tcp[LEAKTEST_QUERY_MAX + 8];
	char name[128], want[128];
	struct leaktest t;
	struct probe *p = &t.probe[0];
	size_t n, m;

	(void)state;
	leaktest_setup(&t);
	probe_setup(p, PROBE_DNS_UDP, AF_INET, &t);
	memset(buf, 0xee, sizeof(buf));
	n = build_payload(p, buf);
	assert_true(n <= LEAKTEST_QUERY_MAX);
	assert_int_equal(buf[n], 0xee);

	/* Header: the id from the nonce, a standard query asking for
	 * recursion, one question. */
	assert_int_equal(get16(buf), get16(nonce));
	assert_int_equal(get16(buf + 2), 0x0100);
	assert_int_equal(parse_query(buf, n, name, sizeof(name)),
			 1L << 16 | 1);		/* A, IN */
	snprintf(want, sizeof(want),
		 "%02x%02x%02x%02x%02x%02x%02x%02x.leaktest.invalid",
		 nonce[0], nonce[1], nonce[2], nonce[3], nonce[4], nonce[5],
		 nonce[6], nonce[7]);
	assert_string_equal(name, want);

	/* The parser is strict enough to notice a damaged query. */
	buf[12] = 17;
	assert_int_equal(parse_query(buf, n, name, sizeof(name)), -1);
	buf[12] = 16;
	assert_int_equal(parse_query(buf, n - 1, name, sizeof(name)), -1);
	put16(buf + 4, 2);
	assert_int_equal(parse_query(buf, n, name, sizeof(name)), -1);
	put16(buf + 4, 1);
	assert_int_not_equal(parse_query(buf, n, name, sizeof(name)), -1);

	/* Another nonce, another name. */
	p->nonce[7] ^= 0xff;
	m = build_payload(p, buf);
	assert_int_equal(m, n);
	assert_int_not_equal(parse_query(buf, n, name, sizeof(name)), -1);
	assert_string_not_equal(name, want);
	p->nonce[7] ^= 0xff;

	/* Over TCP: the same message after its two-byte length. */
	n = build_query(p, buf, false);
	memset(tcp, 0xee, sizeof(tcp));
	m = build_query(p, tcp, true);
	assert_int_equal(m, n + 2);
	assert_int_equal(get16(tcp), n);
	assert_memory_equal(tcp + 2, buf, n);
	assert_int_equal(tcp[m], 0xee);

	/* The probe recognises its query as a datagram to port 53. */
	{
		uint8_t pkt[PKT_MAX], l4[PKT_MAX];
		size_t k = udp_dgram(l4, SPORT, 53, buf, n);

		k = wrap(pkt, IPPROTO_UDP, TARGET4, l4, k);
		assert_true(matches(p, pkt, k));
	}
}

/* ------------------------------------------------------------ verdicts */

static const char *detail_of(const struct probe *p)
{
	static char buf[128];

	probe_detail(p, buf, sizeof(buf));
	return buf;
}

/* Seen is a leak; unseen keeps what sending said; only leaks count. */
static void test_judgement_seen(void **state)
{
	struct leaktest t;
	size_t leaked, failed;

	(void)state;
	all_probes(&t);
	leaked = leaktest_judge(&t, &failed);
	assert_int_equal(leaked, 0);
	assert_int_equal(failed, 0);
	for (size_t i = 0; i < t.n_probe; i++) {
		assert_int_equal(t.probe[i].result, PROBE_BLOCKED);
		assert_false(t.probe[i].on_link);
	}

	all_probes(&t);
	t.probe[0].seen = true;			/* tcp, IPv4 */
	t.probe[7].seen = true;			/* icmp, IPv6 */
	t.probe[3].result = PROBE_NOT_SENT;
	t.probe[3].send_err = -ENETUNREACH;
	t.probe[8].result = PROBE_FAILED;
	t.probe[8].send_err = -EMFILE;
	t.probe[8].fd = -1;
	leaked = leaktest_judge(&t, &failed);
	assert_int_equal(leaked, 2);
	assert_int_equal(failed, 1);
	for (size_t i = 0; i < t.n_probe; i++) {
		enum probe_result want = PROBE_BLOCKED;

		if (i == 0 || i == 7)
			want = PROBE_LEAKED;
		else if (i == 3)
			want = PROBE_NOT_SENT;
		else if (i == 8)
			want = PROBE_FAILED;
		assert_int_equal(t.probe[i].result, want);
		assert_false(t.probe[i].on_link);
	}
	/* Whatever sending said, a probe seen leaving is a leak. */
	all_probes(&t);
	t.probe[1].result = PROBE_NOT_SENT;
	t.probe[1].send_err = -EHOSTUNREACH;
	t.probe[1].seen = true;
	assert_int_equal(leaktest_judge(&t, &failed), 1);
	assert_int_equal(t.probe[1].result, PROBE_LEAKED);

	/* All ten. */
	all_probes(&t);
	for (size_t i = 0; i < t.n_probe; i++)
		t.probe[i].seen = true;
	assert_int_equal(leaktest_judge(&t, &failed), 10);
	assert_int_equal(failed, 0);
}

/*
 * A probe the stack let through without a word, whose target the link
 * was asked for, is a leak; one with an error, a handshake, or one never
 * sent is not, and the other family is not concerned.
 */
static void test_judgement_on_link(void **state)
{
	struct leaktest t;
	size_t leaked, failed;

	(void)state;
	for (int f = 0; f < 2; f++) {
		size_t base = f ? PROBE_KINDS : 0, other = f ? 0 : PROBE_KINDS;

		all_probes(&t);
		if (f)
			t.asked6 = true;
		else
			t.asked4 = true;
		/* tcp: refused by a reset; udp: EPERM on send; icmp: silent;
		 * dns-udp: never sent; dns-tcp: connected. */
		t.probe[base + PROBE_TCP].later_err = -ECONNREFUSED;
		t.probe[base + PROBE_UDP].send_err = -EPERM;
		t.probe[base + PROBE_DNS_UDP].result = PROBE_NOT_SENT;
		t.probe[base + PROBE_DNS_UDP].send_err = -EADDRNOTAVAIL;
		t.probe[base + PROBE_DNS_TCP].connected = true;

		leaked = leaktest_judge(&t, &failed);
		assert_int_equal(leaked, 1);
		assert_int_equal(failed, 0);
		assert_int_equal(t.probe[base + PROBE_ICMP].result,
				 PROBE_LEAKED);
		assert_true(t.probe[base + PROBE_ICMP].on_link);
		assert_string_equal(detail_of(&t.probe[base + PROBE_ICMP]),
				    f ? "the link was asked for the target by "
					"neighbour solicitation" :
					"the link was asked for the target by "
					"ARP");
		assert_int_equal(t.probe[base + PROBE_TCP].result,
				 PROBE_BLOCKED);
		assert_int_equal(t.probe[base + PROBE_UDP].result,
				 PROBE_BLOCKED);
		assert_int_equal(t.probe[base + PROBE_DNS_UDP].result,
				 PROBE_NOT_SENT);
		assert_int_equal(t.probe[base + PROBE_DNS_TCP].result,
				 PROBE_BLOCKED);
		for (size_t k = 0; k < PROBE_KINDS; k++) {
			assert_int_equal(t.probe[other + k].result,
					 PROBE_BLOCKED);
			assert_false(t.probe[other + k].on_link);
		}
	}

	/* Both families asked, every probe silent: all ten leak. */
	all_probes(&t);
	t.asked4 = t.asked6 = true;
	assert_int_equal(leaktest_judge(&t, &failed), 10);

	/* A probe that could not be tried stays an error. */
	all_probes(&t);
	t.asked4 = true;
	t.probe[PROBE_TCP].result = PROBE_FAILED;
	t.probe[PROBE_TCP].send_err = -EPERM;
	assert_int_equal(leaktest_judge(&t, &failed), 4);
	assert_int_equal(failed, 1);
	assert_int_equal(t.probe[PROBE_TCP].result, PROBE_FAILED);

	/* Whatever errors were recorded, not sent and error stay so. */
	all_probes(&t);
	t.asked4 = true;
	t.probe[PROBE_TCP].result = PROBE_NOT_SENT;
	t.probe[PROBE_UDP].result = PROBE_FAILED;
	assert_int_equal(leaktest_judge(&t, &failed), 3);
	assert_int_equal(t.probe[PROBE_TCP].result, PROBE_NOT_SENT);
	assert_int_equal(t.probe[PROBE_UDP].result, PROBE_FAILED);
	assert_int_equal(failed, 1);

	/* Seen and asked: a leak once, not on the link. */
	all_probes(&t);
	t.asked4 = true;
	t.probe[PROBE_UDP].seen = true;
	assert_int_equal(leaktest_judge(&t, &failed), 5);
	assert_false(t.probe[PROBE_UDP].on_link);
	assert_string_equal(detail_of(&t.probe[PROBE_UDP]),
			    "no error from the socket");
}

static void test_details_and_names(void **state)
{
	struct leaktest t;
	struct probe *p = &t.probe[0];

	(void)state;
	leaktest_setup(&t);

	/* The manual's words for each result, in text and in JSON. */
	assert_string_equal(result_name(PROBE_BLOCKED, false), "blocked");
	assert_string_equal(result_name(PROBE_LEAKED, false), "LEAK");
	assert_string_equal(result_name(PROBE_NOT_SENT, false), "not sent");
	assert_string_equal(result_name(PROBE_FAILED, false), "ERROR");
	assert_string_equal(result_name(PROBE_BLOCKED, true), "blocked");
	assert_string_equal(result_name(PROBE_LEAKED, true), "leak");
	assert_string_equal(result_name(PROBE_NOT_SENT, true), "not_sent");
	assert_string_equal(result_name(PROBE_FAILED, true), "error");

	/* What counts as never sent. */
	assert_true(not_sent(-ENETUNREACH));
	assert_true(not_sent(-EHOSTUNREACH));
	assert_true(not_sent(-EADDRNOTAVAIL));
	assert_true(not_sent(-EAFNOSUPPORT));
	assert_false(not_sent(-EPERM));
	assert_false(not_sent(-ECONNREFUSED));
	assert_false(not_sent(0));

	probe_setup(p, PROBE_TCP, AF_INET, &t);
	p->later_err = -ECONNREFUSED;
	assert_string_equal(detail_of(p), "connection refused");
	probe_setup(p, PROBE_UDP, AF_INET, &t);
	p->send_err = -EPERM;
	assert_string_equal(detail_of(p), "operation not permitted");
	/* The first error is the one told. */
	p->later_err = -ECONNREFUSED;
	assert_string_equal(detail_of(p), "operation not permitted");
	probe_setup(p, PROBE_TCP, AF_INET6, &t);
	p->result = PROBE_NOT_SENT;
	p->send_err = -ENETUNREACH;
	assert_string_equal(detail_of(p), "no route");
	p->send_err = -EHOSTUNREACH;
	assert_string_equal(detail_of(p), "no route");
	p->send_err = -EADDRNOTAVAIL;
	assert_string_equal(detail_of(p), "no source address");
	p->send_err = -EAFNOSUPPORT;
	assert_string_equal(detail_of(p), "IPv6 disabled");
	probe_setup(p, PROBE_DNS_TCP, AF_INET, &t);
	p->connected = true;
	assert_string_equal(detail_of(p), "connected");

	/* Destinations as the manual prints them. */
	{
		char buf[INET6_ADDRSTRLEN + 8];

		probe_setup(p, PROBE_TCP, AF_INET, &t);
		probe_destination(p, buf, sizeof(buf));
		assert_string_equal(buf, TARGET4 ":443");
		probe_setup(p, PROBE_DNS_UDP, AF_INET6, &t);
		probe_destination(p, buf, sizeof(buf));
		assert_string_equal(buf, "[" TARGET6 "]:53");
		probe_setup(p, PROBE_ICMP, AF_INET6, &t);
		probe_destination(p, buf, sizeof(buf));
		assert_string_equal(buf, TARGET6);
	}
}

/* Runs a printer with stdout in a file; returns what it printed. */
static char *capture(void (*print)(const struct leaktest *, size_t, size_t),
		     const struct leaktest *t, size_t leaked, size_t failed)
{
	static char out[4096];
	FILE *f = tmpfile();
	int saved;
	size_t n;

	assert_non_null(f);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(f), STDOUT_FILENO) >= 0);
	print(t, leaked, failed);
	fflush(stdout);
	assert_true(dup2(saved, STDOUT_FILENO) >= 0);
	close(saved);
	rewind(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	fclose(f);
	return out;
}

static void json_printer(const struct leaktest *t, size_t leaked,
			 size_t failed)
{
	(void)failed;
	print_json(t, leaked);
}

static const char *last_line(const char *out)
{
	const char *end = out + strlen(out), *s;

	assert_true(end > out && end[-1] == '\n');
	for (s = end - 1; s > out && s[-1] != '\n'; s--)
		;
	return s;
}

static void test_summary(void **state)
{
	struct leaktest t;
	size_t leaked, failed;
	char *out;

	(void)state;
	all_probes(&t);
	leaked = leaktest_judge(&t, &failed);
	out = capture(print_text, &t, leaked, failed);
	assert_string_equal(last_line(out), "no leak\n");
	assert_non_null(strstr(out, "interface: eth0\n"));
	assert_null(strstr(out, "LEAK"));

	all_probes(&t);
	t.probe[2].seen = true;
	t.asked4 = true;			/* four silent IPv4 probes */
	t.probe[PROBE_TCP].later_err = -ECONNREFUSED;
	leaked = leaktest_judge(&t, &failed);
	assert_int_equal(leaked, 4);
	out = capture(print_text, &t, leaked, failed);
	assert_string_equal(last_line(out), "4 of 10 probes leaked\n");
	assert_non_null(strstr(out, "icmp     " TARGET4 "                  "
				    "LEAK (no error from the socket)\n"));
	assert_non_null(strstr(out, "udp      " TARGET4 ":443              "
				    "LEAK (the link was asked for the target "
				    "by ARP)\n"));
	assert_non_null(strstr(out, "tcp      " TARGET4 ":443              "
				    "blocked (connection refused)\n"));
	out = capture(json_printer, &t, leaked, failed);
	assert_non_null(strstr(out, "\"leaked\":4}\n"));
	assert_non_null(strstr(out, "{\"probe\":\"udp\",\"family\":\"ipv4\","
				    "\"destination\":\"" TARGET4 "\","
				    "\"port\":443,\"result\":\"leak\","));
	assert_non_null(strstr(out, "{\"probe\":\"icmp\",\"family\":\"ipv6\","
				    "\"destination\":\"" TARGET6 "\","
				    "\"result\":\"blocked\","));

	/* No leak, but a probe that could not be tried. */
	all_probes(&t);
	t.probe[9].result = PROBE_FAILED;
	t.probe[9].send_err = -EMFILE;
	leaked = leaktest_judge(&t, &failed);
	out = capture(print_text, &t, leaked, failed);
	assert_string_equal(last_line(out), "no leak seen, but 1 of 10 "
					    "probes could not be tried\n");
	assert_non_null(strstr(out, "ERROR"));
	out = capture(json_printer, &t, leaked, failed);
	assert_non_null(strstr(out, "\"result\":\"error\""));
	assert_non_null(strstr(out, "\"leaked\":0}\n"));
}

/* The arguments: targets must be addresses of their family. */
static void test_arguments(void **state)
{
	struct leaktest t;
	struct leaktest_args a;
	char *ok[] = { "leaktest", "-i", "eth1", "--target", OTHER4,
		       "--target6", OTHER6, "--json", NULL };
	char *bad4[] = { "leaktest", "--target", TARGET6, NULL };
	char *bad6[] = { "leaktest", "-6", TARGET4, NULL };
	char *badif[] = { "leaktest", "-i", "a/b", NULL };
	char *extra[] = { "leaktest", "now", NULL };
	uint8_t want[16];

	(void)state;
	memset(&t, 0, sizeof(t));
	memset(&a, 0, sizeof(a));
	a.target = TARGET4;
	a.target6 = TARGET6;
	optind = 0;
	assert_int_equal(leaktest_parse(8, ok, &a, &t), CTL_CONTINUE);
	assert_string_equal(a.ifname, "eth1");
	assert_true(a.json);
	addr4(OTHER4, want);
	assert_memory_equal(&t.target, want, 4);
	addr6(OTHER6, want);
	assert_memory_equal(&t.target6, want, 16);

	a.ifname = NULL;
	a.target = TARGET4;
	a.target6 = TARGET6;
	optind = 0;
	assert_int_equal(leaktest_parse(3, bad4, &a, &t), CTL_EXIT_USAGE);
	a.target = TARGET4;
	optind = 0;
	assert_int_equal(leaktest_parse(3, bad6, &a, &t), CTL_EXIT_USAGE);
	a.target6 = TARGET6;
	optind = 0;
	assert_int_equal(leaktest_parse(3, badif, &a, &t), CTL_EXIT_USAGE);
	a.ifname = NULL;
	optind = 0;
	assert_int_equal(leaktest_parse(2, extra, &a, &t), CTL_EXIT_USAGE);
}

/* Split tunneling's exceptions: what leaves by choice is not a leak,
 * DNS always is, and an included network's probe is. */
static void test_split_exceptions(void **state)
{
	struct leaktest t;
	struct conf_prefix net;
	size_t failed, leaked;

	(void)state;
	memset(&t, 0, sizeof(t));
	addr4(TARGET4, (uint8_t *)&t.target);
	addr6(TARGET6, (uint8_t *)&t.target6);
	for (int k = 0; k < PROBE_KINDS; k++) {
		probe_init(&t.probe[t.n_probe++], (enum probe_kind)k, AF_INET,
			   &t);
		probe_init(&t.probe[t.n_probe++], (enum probe_kind)k,
			   AF_INET6, &t);
	}
	for (size_t i = 0; i < t.n_probe; i++)
		t.probe[i].seen = true;
	/* The IPv4 target excluded: its four non-DNS probes are excepted. */
	t.split_known = true;
	t.split.mode = CONF_SPLIT_EXCLUDE;
	assert_null(splitnet_parse(TARGET4 "/32", strlen(TARGET4) + 3, &net));
	t.split.net[t.split.n++] = net;
	leaked = leaktest_judge(&t, &failed);
	assert_int_equal(leaked, t.n_probe - 3);
	for (size_t i = 0; i < t.n_probe; i++) {
		const struct probe *p = &t.probe[i];
		bool dns = p->kind == PROBE_DNS_UDP || p->kind == PROBE_DNS_TCP;

		assert_int_equal(p->result, p->family == AF_INET && !dns ?
				 PROBE_EXCEPTED : PROBE_LEAKED);
	}
	/* Include mode with the same network: the IPv6 probes are the ones
	 * outside, DNS still leaks. */
	t.split.mode = CONF_SPLIT_INCLUDE;
	for (size_t i = 0; i < t.n_probe; i++)
		t.probe[i].result = PROBE_BLOCKED;
	leaked = leaktest_judge(&t, &failed);
	assert_int_equal(leaked, t.n_probe - 3);
	for (size_t i = 0; i < t.n_probe; i++) {
		const struct probe *p = &t.probe[i];
		bool dns = p->kind == PROBE_DNS_UDP || p->kind == PROBE_DNS_TCP;

		assert_int_equal(p->result, p->family == AF_INET6 && !dns ?
				 PROBE_EXCEPTED : PROBE_LEAKED);
	}
	assert_string_equal(result_name(PROBE_EXCEPTED, true), "excepted");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_header),
		cmocka_unit_test(test_ipv6_header),
		cmocka_unit_test(test_ipv6_long_header_then_fragment),
		cmocka_unit_test(test_tcp_probe),
		cmocka_unit_test(test_udp_and_dns_probes),
		cmocka_unit_test(test_icmp_probe),
		cmocka_unit_test(test_judge_marks_one_probe),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_arp),
		cmocka_unit_test(test_neighbour_solicitation),
		cmocka_unit_test(test_build_echo),
		cmocka_unit_test(test_build_query),
		cmocka_unit_test(test_judgement_seen),
		cmocka_unit_test(test_judgement_on_link),
		cmocka_unit_test(test_details_and_names),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_arguments),
		cmocka_unit_test(test_split_exceptions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
