/* SPDX-License-Identifier: MIT */
/*
 * ICMPv4 "host unreachable" and ICMPv6 "address unreachable", built from
 * the packet that could not be routed.  The error's source is the
 * unreachable destination itself: the daemon owns no address of its own on
 * the interface, and this is the address the sender's stack matches the
 * error against.  The rules of RFC 1812 and RFC 4443 about what never gets
 * an error (errors, fragments, multicast) are kept so no storm can start.
 */
#include <stdbool.h>
#include <string.h>

#include "fragment.h"
#include "icmp.h"

enum {
	IPV4_HDR = 20,
	IPV6_HDR = 40,
	ICMP_HDR = 8,
	PROTO_ICMP = 1,
	PROTO_ICMPV6 = 58,
	ICMP_DEST_UNREACH = 3,
	ICMP_HOST_UNREACH = 1,
	ICMPV6_DEST_UNREACH = 1,
	ICMPV6_ADDR_UNREACH = 3,
};

static uint32_t sum16(uint32_t acc, const uint8_t *p, size_t len)
{
	for (; len > 1; p += 2, len -= 2)
		acc += (uint32_t)p[0] << 8 | p[1];
	if (len)
		acc += (uint32_t)p[0] << 8;
	return acc;
}

static uint16_t fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static bool v4_no_error(const uint8_t *pkt, size_t len, size_t ihl)
{
	const uint8_t *src = pkt + 12, *dst = pkt + 16;
	bool src_bad = src[0] == 0 || src[0] >= 224 ||
		       (src[0] == 255 && src[1] == 255 && src[2] == 255 &&
			src[3] == 255);

	if (src_bad || dst[0] >= 224)
		return true;
	if (fragment_kind(pkt, len) == FRAGMENT_LATER)	/* not the first */
		return true;
	if (pkt[9] == PROTO_ICMP) {
		uint8_t type = len > ihl ? pkt[ihl] : 0;

		/* Only echo, timestamp and the like are queries. */
		if (len <= ihl || type == 3 || type == 4 || type == 5 ||
		    type == 11 || type == 12)
			return true;
	}
	return false;
}

static size_t build_v4(uint8_t *out, const uint8_t *pkt, size_t len)
{
	size_t ihl = (size_t)(pkt[0] & 15) * 4, quote, total;

	if (len < IPV4_HDR || ihl < IPV4_HDR || ihl > len ||
	    v4_no_error(pkt, len, ihl))
		return 0;
	quote = len;
	if (quote > ICMP_V4_MAX - IPV4_HDR - ICMP_HDR)
		quote = ICMP_V4_MAX - IPV4_HDR - ICMP_HDR;
	total = IPV4_HDR + ICMP_HDR + quote;

	memset(out, 0, IPV4_HDR + ICMP_HDR);
	out[0] = 0x45;
	out[1] = 0xc0;			/* internetwork control */
	put16(out + 2, (uint16_t)total);
	out[8] = 64;
	out[9] = PROTO_ICMP;
	memcpy(out + 12, pkt + 16, 4);
	memcpy(out + 16, pkt + 12, 4);
	put16(out + 10, fold(sum16(0, out, IPV4_HDR)));

	out[IPV4_HDR] = ICMP_DEST_UNREACH;
	out[IPV4_HDR + 1] = ICMP_HOST_UNREACH;
	memcpy(out + IPV4_HDR + ICMP_HDR, pkt, quote);
	put16(out + IPV4_HDR + 2,
	      fold(sum16(0, out + IPV4_HDR, ICMP_HDR + quote)));
	return total;
}

static size_t build_v6(uint8_t *out, const uint8_t *pkt, size_t len)
{
	static const uint8_t unspecified[16];
	size_t quote, plen;
	uint32_t acc;

	if (len < IPV6_HDR)
		return 0;
	if (pkt[8] == 0xff || pkt[24] == 0xff ||
	    !memcmp(pkt + 8, unspecified, 16))
		return 0;
	/* An ICMPv6 error (types below 128) is never answered. */
	if (pkt[6] == PROTO_ICMPV6 && (len <= IPV6_HDR || pkt[IPV6_HDR] < 128))
		return 0;
	quote = len;
	if (quote > ICMP_V6_MAX - IPV6_HDR - ICMP_HDR)
		quote = ICMP_V6_MAX - IPV6_HDR - ICMP_HDR;
	plen = ICMP_HDR + quote;

	memset(out, 0, IPV6_HDR + ICMP_HDR);
	out[0] = 0x60;
	put16(out + 4, (uint16_t)plen);
	out[6] = PROTO_ICMPV6;
	out[7] = 64;
	memcpy(out + 8, pkt + 24, 16);
	memcpy(out + 24, pkt + 8, 16);
	out[IPV6_HDR] = ICMPV6_DEST_UNREACH;
	out[IPV6_HDR + 1] = ICMPV6_ADDR_UNREACH;
	memcpy(out + IPV6_HDR + ICMP_HDR, pkt, quote);

	/* The checksum covers a pseudo-header: addresses, length, protocol. */
	acc = sum16(0, out + 8, 32);
	acc += (uint32_t)plen;
	acc += PROTO_ICMPV6;
	acc = sum16(acc, out + IPV6_HDR, plen);
	put16(out + IPV6_HDR + 2, fold(acc));
	return IPV6_HDR + plen;
}

size_t icmp_build_unreachable(uint8_t *out, const uint8_t *pkt, size_t len)
{
	if (!len)
		return 0;
	switch (pkt[0] >> 4) {
	case 4:
		return build_v4(out, pkt, len);
	case 6:
		return build_v6(out, pkt, len);
	default:
		return 0;
	}
}
