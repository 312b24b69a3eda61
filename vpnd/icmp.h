/* SPDX-License-Identifier: MIT */
/*
 * The ICMP "unreachable" error the daemon writes back into the TUN device
 * when no peer routes a packet's destination, so that the sender learns at
 * once instead of timing out.
 */
#ifndef VPND_ICMP_H
#define VPND_ICMP_H

#include <stddef.h>
#include <stdint.h>

enum icmp_limits {
	ICMP_V4_MAX = 576,	/* RFC 1812: an error fits in 576 bytes */
	ICMP_V6_MAX = 1280,	/* RFC 4443: and in the IPv6 minimum MTU */
};

/*
 * Builds into out (at least ICMP_V6_MAX bytes) the error answering pkt, and
 * returns its length, or 0 when pkt must not be answered: a malformed
 * packet, an ICMP error, a non-first fragment, a multicast or broadcast or
 * unspecified address.
 */
size_t icmp_build_unreachable(uint8_t *out, const uint8_t *pkt, size_t len);

#endif /* VPND_ICMP_H */
