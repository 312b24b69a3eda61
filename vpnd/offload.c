/* SPDX-License-Identifier: MIT */
/*
 * Cutting TCP super-packets as a NIC would (TSO), and finishing partial
 * checksums.  Every segment gets full, freshly computed IP and TCP
 * checksums, so nothing depends on what the kernel left in those fields.
 *
 * And the reverse on the receiving side: merging consecutive segments of a
 * TCP flow into one super-packet for the TUN device (offload_gro_*).  Only
 * segments that a later cut gives back exactly (but for the IPv4
 * identification of a packet that may not be fragmented, which means
 * nothing) are merged, and only ones
 * whose own checksums verified, since the kernel will not look at them
 * again once the merge says its checksum is still to be done.
 */
#include <errno.h>
#include <linux/virtio_net.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define OFFLOAD_X86 1
#endif

#include "offload.h"

enum {
	SUM_VECTOR_MIN = 128,	/* below it the scalar loop is as fast */
};

#ifdef OFFLOAD_X86
/*
 * The 32-bit words of the first len & ~31 bytes of p, summed as sum16()'s
 * scalar loop sums them, 32 bytes a step: each word is widened into a
 * 64-bit lane (a packet of 64 KiB cannot carry a lane), the lanes added up
 * at the end.  *done says how many bytes were taken.
 */
__attribute__((target("avx2")))
static uint64_t sum_words_avx2(const uint8_t *p, size_t len, size_t *done)
{
	const __m256i zero = _mm256_setzero_si256();
	__m256i a = zero, b = zero;
	uint64_t lanes[4];
	size_t i;

	for (i = 0; i + 32 <= len; i += 32) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(p + i));

		a = _mm256_add_epi64(a, _mm256_unpacklo_epi32(v, zero));
		b = _mm256_add_epi64(b, _mm256_unpackhi_epi32(v, zero));
	}
	_mm256_storeu_si256((__m256i *)lanes, _mm256_add_epi64(a, b));
	_mm256_zeroupper();
	*done = i;
	return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}
#endif

enum {
	IP4_MIN = 20,
	IP6_LEN = 40,
	TCP_MIN = 20,
	PROTO_TCP = 6,
	PROTO_UDP = 17,
	PROTO_ICMP6 = 58,
	TCP_FIN = 0x01,
	TCP_PSH = 0x08,
	TCP_ACK = 0x10,
	TCP_ECE = 0x40,
	TCP_CWR = 0x80,
	IP_MAX_LEN = 65535,
	IP4_FRAG_MASK = 0x3fff,	/* MF and the fragment offset */
	IP4_DF = 0x40,		/* in the first byte of the flags */
	TCP_CSUM_OFF = 16,
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * The ones' complement sum of p as big-endian 16-bit words, added to acc
 * (itself a sum of such words).  Every payload byte passes through here, so
 * it adds 32-bit words in the host's order into a 64-bit accumulator and
 * puts the bytes right once at the end: the ones' complement sum does not
 * care in which order the two bytes of every word are taken, as long as it
 * is the same for all of them.  Only the last piece of a chain of calls may
 * have an odd length.
 */
static uint32_t sum16(uint32_t acc, const uint8_t *p, size_t len)
{
	uint64_t s = 0;
	uint32_t w;
	uint16_t h;

#ifdef OFFLOAD_X86
	if (len >= SUM_VECTOR_MIN && __builtin_cpu_supports("avx2")) {
		size_t done;

		s = sum_words_avx2(p, len, &done);
		p += done;
		len -= done;
	}
#endif
	for (; len >= 16; p += 16, len -= 16) {
		memcpy(&w, p, 4);
		s += w;
		memcpy(&w, p + 4, 4);
		s += w;
		memcpy(&w, p + 8, 4);
		s += w;
		memcpy(&w, p + 12, 4);
		s += w;
	}
	for (; len >= 4; p += 4, len -= 4) {
		memcpy(&w, p, 4);
		s += w;
	}
	if (len >= 2) {
		memcpy(&h, p, 2);
		s += h;
		p += 2;
		len -= 2;
	}
	if (len) {
		h = 0;
		memcpy(&h, p, 1);
		s += h;
	}
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	s = (uint16_t)(s << 8 | s >> 8);
#endif
	return acc + (uint32_t)s;
}

static uint16_t fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

int offload_hdr_parse(const uint8_t *p, size_t len, struct offload_hdr *h)
{
	if (len < OFFLOAD_VNET_HDR_LEN)
		return -EINVAL;
	/* The legacy header is in the host's byte order. */
	h->flags = p[0];
	h->gso_type = p[1];
	memcpy(&h->hdr_len, p + 2, 2);
	memcpy(&h->gso_size, p + 4, 2);
	memcpy(&h->csum_start, p + 6, 2);
	memcpy(&h->csum_offset, p + 8, 2);
	return 0;
}

int offload_csum_complete(uint8_t *pkt, size_t len,
			  const struct offload_hdr *h)
{
	size_t start = h->csum_start, at = start + h->csum_offset;

	if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return 0;
	if (start >= len || at + 2 > len)
		return -EINVAL;
	/* The field holds the pseudo-header's sum already: include it. */
	put16(pkt + at, fold(sum16(0, pkt + start, len - start)));
	return 0;
}

unsigned int offload_segments(const uint8_t *pkt, size_t len,
			      const struct offload_hdr *h, size_t *hdrlen)
{
	uint8_t type = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	size_t ip, tcp, payload;
	unsigned int n;

	if (type == VIRTIO_NET_HDR_GSO_NONE)
		return 1;
	if (type == VIRTIO_NET_HDR_GSO_TCPV4 && len >= IP4_MIN &&
	    pkt[0] >> 4 == 4 && pkt[9] == PROTO_TCP)
		ip = (size_t)(pkt[0] & 15) * 4;
	else if (type == VIRTIO_NET_HDR_GSO_TCPV6 && len >= IP6_LEN &&
		 pkt[0] >> 4 == 6 && pkt[6] == PROTO_TCP)
		ip = IP6_LEN;
	else
		return 0;
	if (ip < IP4_MIN || len < ip + TCP_MIN)
		return 0;
	tcp = (size_t)(pkt[ip + 12] >> 4) * 4;
	if (tcp < TCP_MIN || len < ip + tcp || !h->gso_size)
		return 0;
	payload = len - ip - tcp;
	n = (unsigned int)((payload + h->gso_size - 1) / h->gso_size);
	if (!n || n > OFFLOAD_MAX_SEGMENTS)
		return 0;
	*hdrlen = ip + tcp;
	return n;
}

size_t offload_segment(uint8_t *out, const uint8_t *pkt, size_t len,
		       const struct offload_hdr *h, size_t hdrlen,
		       unsigned int i)
{
	size_t off = hdrlen + (size_t)i * h->gso_size, seg = len - off;
	bool v4 = pkt[0] >> 4 == 4, last;
	size_t ip = v4 ? (size_t)(pkt[0] & 15) * 4 : IP6_LEN;
	size_t tcplen;
	uint32_t seq, acc;
	uint8_t *tcp = out + ip;

	if (seg > h->gso_size)
		seg = h->gso_size;
	last = off + seg == len;
	memcpy(out, pkt, hdrlen);
	memcpy(out + hdrlen, pkt + off, seg);
	tcplen = hdrlen - ip + seg;

	if (v4) {
		put16(out + 2, (uint16_t)(hdrlen + seg));
		put16(out + 4, (uint16_t)(get16(pkt + 4) + i));
		put16(out + 10, 0);
		put16(out + 10, fold(sum16(0, out, ip)));
	} else {
		put16(out + 4, (uint16_t)tcplen);
	}

	seq = (uint32_t)get16(tcp + 4) << 16 | get16(tcp + 6);
	seq += (uint32_t)i * h->gso_size;
	put16(tcp + 4, (uint16_t)(seq >> 16));
	put16(tcp + 6, (uint16_t)seq);
	if (!last)
		tcp[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
	if (i)
		tcp[13] &= (uint8_t)~TCP_CWR;

	/* The TCP checksum over the pseudo-header and the segment. */
	put16(tcp + 16, 0);
	acc = v4 ? sum16(0, out + 12, 8) : sum16(0, out + 8, 32);
	acc += PROTO_TCP + (uint32_t)tcplen;
	put16(tcp + 16, fold(sum16(acc, tcp, tcplen)));
	return hdrlen + seg;
}

/* The pseudo-header's sum for a TCP segment of tcplen bytes in pkt. */
static uint32_t pseudo_sum(const uint8_t *pkt, size_t tcplen)
{
	uint32_t acc = pkt[0] >> 4 == 4 ? sum16(0, pkt + 12, 8) :
					  sum16(0, pkt + 8, 32);

	return acc + PROTO_TCP + (uint32_t)tcplen;
}

/* What a packet is to the coalescing. */
enum gro_kind {
	GRO_OTHER,	/* not TCP: written in its place */
	GRO_UNSURE,	/* perhaps TCP, but its ports are hidden */
	GRO_TCP,	/* TCP of a known flow, but not to be merged */
	GRO_SEGMENT,	/* a TCP segment that may be merged */
};

static enum gro_kind gro_classify(const uint8_t *pkt, size_t len,
				  size_t *iphl, size_t *hdrlen)
{
	bool v4 = pkt[0] >> 4 == 4;
	size_t ip, tcp;
	uint8_t flags;

	if (v4) {
		if (len < IP4_MIN || pkt[9] != PROTO_TCP)
			return GRO_OTHER;
		ip = (size_t)(pkt[0] & 15) * 4;
		/* A fragment may carry a flow's bytes without its ports. */
		if (get16(pkt + 6) & IP4_FRAG_MASK || ip < IP4_MIN ||
		    len < ip + TCP_MIN)
			return GRO_UNSURE;
	} else {
		if (len < IP6_LEN || pkt[6] == PROTO_UDP ||
		    pkt[6] == PROTO_ICMP6)
			return GRO_OTHER;
		/* Extension headers may hide TCP behind them. */
		if (pkt[6] != PROTO_TCP || len < IP6_LEN + TCP_MIN)
			return GRO_UNSURE;
		ip = IP6_LEN;
	}
	*iphl = ip;
	tcp = (size_t)(pkt[ip + 12] >> 4) * 4;
	flags = pkt[ip + 13];
	/* IP options, and any flag but ACK, PSH and a steady ECE, are rare
	 * enough not to be worth the rules a merge of them would need. */
	if ((v4 && ip != IP4_MIN) || tcp < TCP_MIN || len <= ip + tcp ||
	    (flags & (uint8_t)~(TCP_PSH | TCP_ECE)) != TCP_ACK)
		return GRO_TCP;
	if (v4 && fold(sum16(0, pkt, ip)))
		return GRO_TCP;
	if (fold(sum16(pseudo_sum(pkt, len - ip), pkt + ip, len - ip)))
		return GRO_TCP;
	/* 0xffff, ones' complement's other zero, verifies as 0 does; a
	 * checksum computed whole is never 0xffff (what it covers is never
	 * all zero), so a cut would write 0: such a segment, perhaps patched
	 * on its way, would not be given back exactly. */
	if (get16(pkt + ip + TCP_CSUM_OFF) == 0xffff ||
	    (v4 && get16(pkt + 10) == 0xffff))
		return GRO_TCP;
	*hdrlen = ip + tcp;
	return GRO_SEGMENT;
}

static bool gro_same_flow(const uint8_t *a, const uint8_t *b, size_t bip)
{
	size_t aip;

	if (a[0] >> 4 != b[0] >> 4)
		return false;
	if (a[0] >> 4 == 4) {
		aip = (size_t)(a[0] & 15) * 4;
		return !memcmp(a + 12, b + 12, 8) && !memcmp(a + aip, b + bip, 4);
	}
	return !memcmp(a + 8, b + 8, 32) && !memcmp(a + IP6_LEN, b + bip, 4);
}

void offload_gro_init(struct offload_gro *g)
{
	g->nseg = g->nitem = g->nflow = 0;
}

unsigned int offload_gro_items(const struct offload_gro *g)
{
	return g->nitem;
}

static int gro_flow_find(const struct offload_gro *g, const uint8_t *pkt,
			 size_t iphl)
{
	unsigned int f;

	for (f = 0; f < g->nflow; f++) {
		const struct offload_gro_item *it = &g->item[g->flow[f]];

		if (gro_same_flow(g->seg[it->head].pkt, pkt, iphl))
			return (int)f;
	}
	return -1;
}

static void gro_flow_close(struct offload_gro *g, unsigned int f)
{
	g->item[g->flow[f]].open = false;
	memmove(&g->flow[f], &g->flow[f + 1],
		(g->nflow - f - 1) * sizeof(g->flow[0]));
	g->nflow--;
}

static void gro_flow_open(struct offload_gro *g, unsigned int item)
{
	/* With every slot taken the newcomer stays alone: closing an older
	 * merge instead would make flows that take turns close each other's
	 * merges all the time. */
	if (g->nflow == OFFLOAD_GRO_FLOWS)
		return;
	g->item[item].open = true;
	g->flow[g->nflow++] = (int16_t)item;
}

/*
 * Whether the segment pkt continues the merge it: the same IP and TCP
 * headers apart from the lengths, IPv4 identification and checksums, the
 * sequence number right after the merge's, PSH allowed on the last one,
 * and no more payload than the segments before it.
 */
static bool gro_continues(const struct offload_gro *g,
			  const struct offload_gro_item *it, const uint8_t *pkt,
			  size_t len, size_t hdrlen)
{
	const struct offload_gro_seg *head = &g->seg[it->head];
	const uint8_t *h = head->pkt, *th, *tp;
	size_t ip = pkt[0] >> 4 == 4 ? IP4_MIN : IP6_LEN, payload = len - hdrlen;
	uint32_t seq;

	if (hdrlen != head->hdrlen || payload > it->gso_size ||
	    it->len + payload > IP_MAX_LEN || it->segs >= OFFLOAD_MAX_SEGMENTS)
		return false;
	if (ip == IP4_MIN) {
		/* Version, header length, TOS; flags, TTL, protocol. */
		if (memcmp(h, pkt, 2) || memcmp(h + 6, pkt + 6, 4))
			return false;
		/* A cut numbers the segments on from the first; only with
		 * DF may the numbers have been anything. */
		if (!(h[6] & IP4_DF) &&
		    get16(pkt + 4) != (uint16_t)(get16(h + 4) + it->segs))
			return false;
	} else if (memcmp(h, pkt, 4) || memcmp(h + 6, pkt + 6, 2)) {
		/* Version, traffic class, flow label; next header, hops. */
		return false;
	}
	th = h + ip;
	tp = pkt + ip;
	seq = (uint32_t)get16(tp + 4) << 16 | get16(tp + 6);
	/* The head never carries PSH: a PSH segment ends a merge. */
	return seq == it->next_seq && !memcmp(th + 8, tp + 8, 5) &&
	       (tp[13] & (uint8_t)~TCP_PSH) == th[13] &&
	       !memcmp(th + 14, tp + 14, 2) &&
	       !memcmp(th + 18, tp + 18, hdrlen - ip - 18);
}

static void gro_append(struct offload_gro *g, struct offload_gro_item *it,
		       unsigned int s, size_t iphl)
{
	const struct offload_gro_seg *seg = &g->seg[s];
	uint32_t payload = seg->len - seg->hdrlen;

	g->seg[it->tail].next = (int16_t)s;
	it->tail = (int16_t)s;
	it->segs++;
	it->len += payload;
	it->next_seq += payload;
	it->psh = seg->pkt[iphl + 13] & TCP_PSH;
}

int offload_gro_add(struct offload_gro *g, uint8_t *pkt, size_t len)
{
	size_t iphl = 0, hdrlen = 0;
	enum gro_kind kind;
	struct offload_gro_item *it;
	unsigned int s, f;
	int found = -1;

	if (g->nseg == OFFLOAD_GRO_PACKETS)
		return -ENOSPC;
	kind = gro_classify(pkt, len, &iphl, &hdrlen);
	if (kind == GRO_UNSURE) {
		/* Whatever flow it belongs to must not overtake it. */
		while (g->nflow)
			gro_flow_close(g, 0);
	} else if (kind != GRO_OTHER) {
		found = gro_flow_find(g, pkt, iphl);
	}

	s = g->nseg++;
	g->seg[s] = (struct offload_gro_seg){
		.pkt = pkt, .len = (uint32_t)len, .hdrlen = (uint16_t)hdrlen,
		.next = -1,
	};
	if (found >= 0) {
		f = (unsigned int)found;
		it = &g->item[g->flow[f]];
		if (kind == GRO_SEGMENT &&
		    gro_continues(g, it, pkt, len, hdrlen)) {
			gro_append(g, it, s, iphl);
			if (it->psh || len - hdrlen < it->gso_size)
				gro_flow_close(g, f);
			return 0;
		}
		/* Later bytes of the flow must not join an earlier write. */
		gro_flow_close(g, f);
	}

	it = &g->item[g->nitem];
	*it = (struct offload_gro_item){
		.head = (int16_t)s, .tail = (int16_t)s, .segs = 1,
		.len = (uint32_t)len,
	};
	if (kind == GRO_SEGMENT) {
		const uint8_t *tcp = pkt + iphl;

		it->gso_size = (uint16_t)(len - hdrlen);
		it->next_seq = ((uint32_t)get16(tcp + 4) << 16 | get16(tcp + 6)) +
			       it->gso_size;
		it->psh = tcp[13] & TCP_PSH;
		if (!it->psh)
			gro_flow_open(g, g->nitem);
	}
	g->nitem++;
	return 0;
}

/* Makes the first packet of a merge the header of the whole. */
static void gro_merge_headers(const struct offload_gro_item *it,
			      const struct offload_gro_seg *head,
			      uint8_t vnet[OFFLOAD_VNET_HDR_LEN])
{
	uint8_t *pkt = head->pkt;
	bool v4 = pkt[0] >> 4 == 4;
	size_t ip = v4 ? IP4_MIN : IP6_LEN;
	uint16_t v;

	if (v4) {
		put16(pkt + 2, (uint16_t)it->len);
		put16(pkt + 10, 0);
		put16(pkt + 10, fold(sum16(0, pkt, ip)));
	} else {
		put16(pkt + 4, (uint16_t)(it->len - IP6_LEN));
	}
	if (it->psh)
		pkt[ip + 13] |= TCP_PSH;
	/* A partial checksum: the field holds the pseudo-header's sum and
	 * the kernel (or whoever cuts the packet) adds the rest. */
	put16(pkt + ip + TCP_CSUM_OFF,
	      (uint16_t)~fold(pseudo_sum(pkt, it->len - ip)));

	vnet[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vnet[1] = v4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
	/* The rest of the legacy header is in the host's byte order. */
	v = head->hdrlen;
	memcpy(vnet + 2, &v, 2);
	v = it->gso_size;
	memcpy(vnet + 4, &v, 2);
	v = (uint16_t)ip;
	memcpy(vnet + 6, &v, 2);
	v = TCP_CSUM_OFF;
	memcpy(vnet + 8, &v, 2);
}

unsigned int offload_gro_item_iov(struct offload_gro *g, unsigned int i,
				  uint8_t vnet[OFFLOAD_VNET_HDR_LEN],
				  struct iovec *iov, unsigned int *packets)
{
	const struct offload_gro_item *it = &g->item[i];
	const struct offload_gro_seg *s = &g->seg[it->head];
	unsigned int n = 2;
	int j;

	memset(vnet, 0, OFFLOAD_VNET_HDR_LEN);
	iov[0].iov_base = vnet;
	iov[0].iov_len = OFFLOAD_VNET_HDR_LEN;
	iov[1].iov_base = s->pkt;
	iov[1].iov_len = s->len;
	*packets = it->segs;
	if (it->segs == 1)
		return n;
	gro_merge_headers(it, s, vnet);
	for (j = s->next; j >= 0; j = g->seg[j].next, n++) {
		iov[n].iov_base = g->seg[j].pkt + g->seg[j].hdrlen;
		iov[n].iov_len = g->seg[j].len - g->seg[j].hdrlen;
	}
	return n;
}
