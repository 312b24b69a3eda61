/* SPDX-License-Identifier: MIT */
/*
 * IP fragments in a send batch.  A datagram larger than the tunnel's MTU
 * (1400 bytes of UDP payload at the default 1420, say) leaves the kernel as
 * a full first fragment and a short later one, so a batch read from the
 * TUN device alternates long and short packets.  UDP GSO sends a run of
 * equal-sized datagrams to one peer as one message, and such a batch has no
 * runs: each datagram walks the kernel's UDP and IP layers alone.
 *
 * When every packet of a batch is a fragment, sending the first fragments
 * before the later ones (each group in the order read) gives two runs
 * instead of none.  It changes nothing a receiver can see but arrival
 * times within the batch: reassembly takes fragments in any order, and a
 * datagram is complete when its last fragment arrives, which stays in
 * order with the other datagrams' last fragments.  A batch that holds
 * anything else (a TCP segment, a whole datagram) keeps its order, so no
 * flow is ever reordered.  These functions only look at headers.
 */
#ifndef VPND_FRAGMENT_H
#define VPND_FRAGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fragment_kind {
	FRAGMENT_NONE,		/* a whole packet, or not one we can read */
	FRAGMENT_FIRST,		/* offset 0, more fragments to follow */
	FRAGMENT_LATER,		/* any fragment at a non-zero offset */
};

/*
 * What an IPv4 or IPv6 packet of len bytes is.  IPv6 counts as a fragment
 * only when the fragment header follows the fixed header directly (as the
 * kernel puts it for a datagram of its own); anything else is NONE, which
 * keeps the batch's order.
 */
enum fragment_kind fragment_kind(const uint8_t *pkt, size_t len);

/*
 * For a batch of n packets of these kinds: whether to send it in another
 * order, and if so, order[k] is the packet to send k-th.  True only when
 * every packet is a fragment and some later fragment comes before a first
 * one; order is then the first fragments in their order, then the later
 * ones in theirs.
 */
bool fragment_order(const uint8_t *kinds, unsigned int n,
		    unsigned int *order);

#endif /* VPND_FRAGMENT_H */
