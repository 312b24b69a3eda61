/* SPDX-License-Identifier: MIT */
/*
 * Which packets of a send batch are IP fragments, and the order that lets
 * UDP GSO take them in runs (fragment.h says why it is safe).
 */
#include "fragment.h"

enum fragment_layout {
	IPV4_HDR_MIN = 20,
	IPV4_FRAG_FIELD = 6,		/* flags and offset, big-endian */
	IPV4_MORE_FRAGMENTS = 0x2000,
	IPV4_OFFSET_MASK = 0x1fff,
	IPV6_HDR_LEN = 40,
	IPV6_NEXT_HEADER = 6,
	IPV6_FRAG_HDR_LEN = 8,
	IPV6_NEXT_FRAGMENT = 44,
	IPV6_FRAG_FIELD = 2,		/* within the fragment header */
	IPV6_MORE_FRAGMENTS = 0x0001,
	IPV6_OFFSET_MASK = 0xfff8,
};

static uint16_t load_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static enum fragment_kind kind_of(uint16_t offset, bool more)
{
	if (offset)
		return FRAGMENT_LATER;
	return more ? FRAGMENT_FIRST : FRAGMENT_NONE;
}

enum fragment_kind fragment_kind(const uint8_t *pkt, size_t len)
{
	uint16_t v;

	if (len < 1)
		return FRAGMENT_NONE;
	switch (pkt[0] >> 4) {
	case 4:
		if (len < IPV4_HDR_MIN)
			return FRAGMENT_NONE;
		v = load_be16(pkt + IPV4_FRAG_FIELD);
		return kind_of(v & IPV4_OFFSET_MASK, v & IPV4_MORE_FRAGMENTS);
	case 6:
		if (len < IPV6_HDR_LEN + IPV6_FRAG_HDR_LEN ||
		    pkt[IPV6_NEXT_HEADER] != IPV6_NEXT_FRAGMENT)
			return FRAGMENT_NONE;
		v = load_be16(pkt + IPV6_HDR_LEN + IPV6_FRAG_FIELD);
		return kind_of(v & IPV6_OFFSET_MASK, v & IPV6_MORE_FRAGMENTS);
	default:
		return FRAGMENT_NONE;
	}
}

bool fragment_order(const uint8_t *kinds, unsigned int n,
		    unsigned int *order)
{
	unsigned int i, k = 0;
	bool later_seen = false, moves = false;

	for (i = 0; i < n; i++) {
		if (kinds[i] == FRAGMENT_NONE)
			return false;
		if (kinds[i] == FRAGMENT_LATER)
			later_seen = true;
		else if (later_seen)
			moves = true;
	}
	if (!moves)
		return false;
	for (i = 0; i < n; i++)
		if (kinds[i] == FRAGMENT_FIRST)
			order[k++] = i;
	for (i = 0; i < n; i++)
		if (kinds[i] == FRAGMENT_LATER)
			order[k++] = i;
	return true;
}
