/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the judge of vpnctl leaktest, vpnctl/leaktest.c: judge_packet()
 * and what it calls, parse_ipv4(), parse_ipv6(), probe_matches(),
 * arp_asks_for() and ns_asks_for().  The judge reads whatever a packet
 * socket on the physical interface hands it, the first LEAKTEST_SNAPLEN
 * bytes of every packet leaving by that link: other programs' traffic, and
 * whatever any local user can make the kernel send, so every byte of it is
 * untrusted.
 *
 * Each input is one packet, handed to the judge in a malloc'd buffer of
 * exactly its length (so that ASan catches a read past it), with the
 * ethertype the socket reports and a set of probes as leaktest_run()
 * leaves them once sent: kind, family, source port, ICMP id, nonce, open
 * or closed, and the IPv4 and IPv6 targets, all drawn from the input.
 *
 * Input layout:
 *   byte 0      bits 0-1: the ethertype (ARP, IPv4, IPv6, another);
 *               bits 2-5: the number of probes (at most LEAKTEST_PROBES_MAX)
 *   bytes 1-20  the IPv4 target, then the IPv6 target
 *   13 bytes    each probe: flags (bits 0-2: the kind, modulo PROBE_KINDS;
 *               bit 3: IPv6; bit 4: closed), then the source port and the
 *               ICMP id (big-endian), then the nonce
 *   the rest    the packet, from its network header on
 *
 * What is checked, besides ASan/UBSan/LSan, against a reading of the
 * packet written here apart from leaktest.c:
 *  - parse_ipv4() and parse_ipv6() accept exactly the packets the
 *    reference accepts, and find the same protocol, destination and
 *    transport header: IPv4 with an IHL of at least 5 within the bytes
 *    there are, and a fragment offset of 0 (only a first fragment holds
 *    the transport header); IPv6 with its extension headers walked as RFC
 *    8200 says: hop-by-hop options only right after the IPv6 header,
 *    routing and destination options by their own length, a fragment
 *    header of a first fragment only, each header whole in the packet;
 *  - a probe is marked seen exactly when the packet is that probe's: the
 *    probe is open, and the packet goes to its family's target with its
 *    protocol, from its source port (never 0) to its service port, or is
 *    an echo request with its ICMP id and nonce;
 *  - asked4 is set exactly for an ARP request (ethertype ARP) asking for
 *    the IPv4 target, asked6 exactly for a neighbour solicitation whose
 *    target is the IPv6 target;
 *  - nothing else in struct leaktest changes.
 *
 * Where the judge stops short by design, the reference says the same, so
 * that a difference is a finding: at most LEAKTEST_EXT_MAX extension
 * headers are walked, AH and ESP end the walk (a probe behind them is not
 * recognised; tests/unit/test_leaktest.c says so too), and the length
 * fields of the IP headers are not trusted over the bytes received.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The judge's statics; vpnctl's ctl.o and json.o come from the archive. */
#include "../../vpnctl/leaktest.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                               \
	do {                                                    \
		fprintf(stderr, "fuzz_leaktest: " __VA_ARGS__); \
		fputc('\n', stderr);                            \
		abort();                                        \
	} while (0)

enum {
	HEAD_LEN = 21,
	PROBE_LEN = 5 + LEAKTEST_NONCE_LEN,
	PROBE_V6 = 0x08,
	PROBE_CLOSED = 0x10,
	/* Stands for an open socket; the judge never uses it as one. */
	FD_OPEN = 1000,
	/* The most extension headers the judge walks before it takes the
	 * next header for the transport (parse_ipv6()'s loop). */
	LEAKTEST_EXT_MAX = 8,
};

static const uint16_t ethertypes[4] = {
	ETH_P_ARP, ETH_P_IP, ETH_P_IPV6,
	0x88b5,		/* IEEE 802's local experimental ethertype */
};

/* Each kind's protocol and service port, as docs/vpnctl.1.md lists them. */
static const struct {
	uint8_t proto4, proto6;
	uint16_t port;		/* 0: an echo request */
} ref_kinds[PROBE_KINDS] = {
	[PROBE_TCP] = { IPPROTO_TCP, IPPROTO_TCP, 443 },
	[PROBE_UDP] = { IPPROTO_UDP, IPPROTO_UDP, 443 },
	[PROBE_ICMP] = { IPPROTO_ICMP, IPPROTO_ICMPV6, 0 },
	[PROBE_DNS_UDP] = { IPPROTO_UDP, IPPROTO_UDP, 53 },
	[PROBE_DNS_TCP] = { IPPROTO_TCP, IPPROTO_TCP, 53 },
};

static unsigned int be16(const uint8_t *p)
{
	return (unsigned int)p[0] * 256u + p[1];
}

/* The reference's reading of an IP packet: offsets into it. */
struct ref_ip {
	int family;
	uint8_t proto;
	size_t daddr;
	size_t l4;
};

/* RFC 791: version and IHL, flags and fragment offset in bytes 6-7,
 * protocol in byte 9, destination in bytes 16-19. */
static bool ref_ipv4(const uint8_t *b, size_t len, struct ref_ip *r)
{
	size_t hlen;

	if (len < 20 || (b[0] & 0xf0) != 0x40)
		return false;
	hlen = 4u * (b[0] & 0x0fu);
	if (hlen < 20 || hlen > len)
		return false;
	/* The offset, in 8-byte units, is all but the 3 flag bits. */
	if (be16(b + 6) & 0x1fff)
		return false;
	r->family = AF_INET;
	r->proto = b[9];
	r->daddr = 16;
	r->l4 = hlen;
	return true;
}

/*
 * RFC 8200, 4: the length of the extension header @nh at @b (with @left
 * bytes from there to the end), the @n-th one after the IPv6 header; 0
 * when @nh is not a header to skip (the transport, or one that ends the
 * walk), -1 when the packet cannot be read on.
 */
static long ref_ext_len(unsigned int nh, const uint8_t *b, size_t left,
			unsigned int n)
{
	size_t hlen;

	switch (nh) {
	case IPPROTO_HOPOPTS:
		/* 4.3: only immediately after the IPv6 header. */
		if (n > 0)
			return -1;
		/* fall through */
	case IPPROTO_ROUTING:
	case IPPROTO_DSTOPTS:
		/* 4.3-4.4, 4.6: Hdr Ext Len in 8 octets, not counting the
		 * first 8. */
		if (left < 2)
			return -1;
		hlen = 8 * ((size_t)b[1] + 1);
		break;
	case IPPROTO_FRAGMENT:
		/* 4.5: 8 octets; the offset is the top 13 bits of bytes
		 * 2-3, and a later fragment has no transport header. */
		if (left < 8 || be16(b + 2) >> 3)
			return -1;
		hlen = 8;
		break;
	default:
		return 0;
	}
	return hlen <= left ? (long)hlen : -1;
}

static bool ref_ipv6(const uint8_t *b, size_t len, struct ref_ip *r)
{
	unsigned int nh, n;
	size_t off = 40;
	long hlen = 0;

	if (len < 40 || (b[0] & 0xf0) != 0x60)
		return false;
	nh = b[6];
	for (n = 0; n < LEAKTEST_EXT_MAX; n++) {
		hlen = ref_ext_len(nh, b + off, len - off, n);
		if (hlen < 0)
			return false;
		if (hlen == 0)
			break;
		nh = b[off];
		off += (size_t)hlen;
	}
	r->family = AF_INET6;
	r->proto = (uint8_t)nh;
	r->daddr = 24;
	r->l4 = off;
	return true;
}

/* The judge's reading and the reference's agree. */
static void same_reading(const char *what, bool got, const struct packet *pk,
			 bool want, const struct ref_ip *r, const uint8_t *b,
			 size_t len)
{
	if (got != want)
		FAIL("%s: the judge %s a packet of %zu bytes the reference %s",
		     what, got ? "takes" : "refuses", len,
		     want ? "takes" : "refuses");
	if (!got)
		return;
	if (pk->family != r->family || pk->proto != r->proto)
		FAIL("%s: family %d protocol %u, the reference's %d %u", what,
		     pk->family, pk->proto, r->family, r->proto);
	if (pk->daddr != b + r->daddr)
		FAIL("%s: the destination at %td, not %zu", what,
		     pk->daddr - b, r->daddr);
	if (pk->l4 != b + r->l4 || pk->l4_len != len - r->l4)
		FAIL("%s: the transport at %td (%zu bytes), not %zu (%zu)",
		     what, pk->l4 - b, pk->l4_len, r->l4, len - r->l4);
}

static void check_parsers(const uint8_t *b, size_t len)
{
	struct packet pk;
	struct ref_ip r;
	bool got, want;

	memset(&pk, 0, sizeof(pk));
	got = parse_ipv4(b, len, &pk);
	want = ref_ipv4(b, len, &r);
	same_reading("IPv4", got, &pk, want, &r, b, len);
	memset(&pk, 0, sizeof(pk));
	got = parse_ipv6(b, len, &pk);
	want = ref_ipv6(b, len, &r);
	same_reading("IPv6", got, &pk, want, &r, b, len);
}

/* RFC 826: hardware and protocol type, their address lengths, the
 * operation, then the sender's and the target's hardware and protocol
 * addresses, in that order. */
static bool ref_arp_request(const uint8_t *b, size_t len,
			    const uint8_t *target)
{
	size_t hln, pln, tpa;

	if (len < 8)
		return false;
	hln = b[4];
	pln = b[5];
	if (be16(b + 2) != 0x0800 || pln != 4 || be16(b + 6) != 1)
		return false;
	tpa = 8 + hln + pln + hln;
	return len >= tpa + pln && !memcmp(b + tpa, target, pln);
}

/* RFC 4861, 4.3: type 135, code, checksum, 4 reserved bytes, target. */
static bool ref_solicits(const uint8_t *b, size_t len, const struct ref_ip *r,
			 const uint8_t *target)
{
	return r->family == AF_INET6 && r->proto == IPPROTO_ICMPV6 &&
	       len - r->l4 >= 24 && b[r->l4] == 135 &&
	       !memcmp(b + r->l4 + 8, target, 16);
}

/* Whether the packet is probe @p's, @dst being its family's target. */
static bool ref_is_probe(const struct probe *p, const uint8_t *dst,
			 const uint8_t *b, size_t len, const struct ref_ip *r)
{
	bool v6 = p->family == AF_INET6;
	const uint8_t *l4 = b + r->l4;
	size_t l4_len = len - r->l4;

	if (p->fd < 0 || r->family != p->family ||
	    r->proto != (v6 ? ref_kinds[p->kind].proto6 :
			      ref_kinds[p->kind].proto4) ||
	    memcmp(b + r->daddr, dst, v6 ? 16 : 4))
		return false;
	if (!ref_kinds[p->kind].port)
		return l4_len >= 8 + LEAKTEST_NONCE_LEN &&
		       l4[0] == (v6 ? 128 : 8) && be16(l4 + 4) == p->icmp_id &&
		       !memcmp(l4 + 8, p->nonce, LEAKTEST_NONCE_LEN);
	return l4_len >= 4 && p->sport && be16(l4) == p->sport &&
	       be16(l4 + 2) == ref_kinds[p->kind].port;
}

static void probe_from(struct probe *p, const uint8_t *in,
		       const struct leaktest *t)
{
	memset(p, 0, sizeof(*p));
	p->kind = (enum probe_kind)((in[0] & 0x07) % PROBE_KINDS);
	p->family = in[0] & PROBE_V6 ? AF_INET6 : AF_INET;
	p->fd = in[0] & PROBE_CLOSED ? -1 : FD_OPEN;
	p->sport = (uint16_t)be16(in + 1);
	p->icmp_id = (uint16_t)be16(in + 3);
	memcpy(p->nonce, in + 5, LEAKTEST_NONCE_LEN);
	if (p->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&p->dst;

		sin->sin_family = AF_INET;
		sin->sin_addr = t->target;
		sin->sin_port = htons(ref_kinds[p->kind].port);
		p->dst_len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&p->dst;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = t->target6;
		sin6->sin6_port = htons(ref_kinds[p->kind].port);
		p->dst_len = sizeof(*sin6);
	}
	p->result = PROBE_BLOCKED;
}

/* What the judge must leave in @want after the packet @b. */
static void ref_judge(struct leaktest *want, const uint8_t *target4,
		      const uint8_t *target6, const uint8_t *b, size_t len,
		      uint16_t ethertype)
{
	struct ref_ip r;

	if (ethertype == ETH_P_ARP) {
		want->asked4 = ref_arp_request(b, len, target4);
		return;
	}
	if (!ref_ipv4(b, len, &r) && !ref_ipv6(b, len, &r))
		return;
	want->asked6 = ref_solicits(b, len, &r, target6);
	for (size_t i = 0; i < want->n_probe; i++) {
		struct probe *p = &want->probe[i];

		p->seen = ref_is_probe(p, p->family == AF_INET ? target4 :
				       target6, b, len, &r);
	}
}

static void compare(const struct leaktest *got, const struct leaktest *want)
{
	if (got->asked4 != want->asked4)
		FAIL("asked4 %d, the reference's %d", got->asked4,
		     want->asked4);
	if (got->asked6 != want->asked6)
		FAIL("asked6 %d, the reference's %d", got->asked6,
		     want->asked6);
	for (size_t i = 0; i < want->n_probe; i++)
		if (got->probe[i].seen != want->probe[i].seen)
			FAIL("probe %zu (%s, IPv%d) seen %d, the reference's %d",
			     i, kinds[want->probe[i].kind].name,
			     want->probe[i].family == AF_INET ? 4 : 6,
			     got->probe[i].seen, want->probe[i].seen);
	if (memcmp(got, want, sizeof(*got)))
		FAIL("the judge changed more than seen, asked4 and asked6");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct leaktest t, want;
	uint8_t target4[4], target6[16], *pkt;
	uint16_t ethertype;
	size_t n_probe, off, len;

	if (size < HEAD_LEN)
		return 0;
	ethertype = ethertypes[data[0] & 0x03];
	n_probe = (size_t)(data[0] >> 2 & 0x0f);
	if (n_probe > LEAKTEST_PROBES_MAX)
		n_probe = LEAKTEST_PROBES_MAX;
	if (size < HEAD_LEN + n_probe * PROBE_LEN)
		return 0;
	memcpy(target4, data + 1, 4);
	memcpy(target6, data + 5, 16);

	memset(&t, 0, sizeof(t));
	t.judge = -1;
	memcpy(t.ifname, "eth0", 5);
	memcpy(&t.target, target4, 4);
	memcpy(&t.target6, target6, 16);
	off = HEAD_LEN;
	for (size_t i = 0; i < n_probe; i++, off += PROBE_LEN)
		probe_from(&t.probe[i], data + off, &t);
	t.n_probe = n_probe;

	len = size - off;
	pkt = malloc(len);
	if (!pkt && len)
		FAIL("out of memory");
	if (len)
		memcpy(pkt, data + off, len);

	check_parsers(pkt, len);
	memcpy(&want, &t, sizeof(t));
	ref_judge(&want, target4, target6, pkt, len, ethertype);
	judge_packet(&t, pkt, len, ethertype);
	compare(&t, &want);
	free(pkt);
	return 0;
}
