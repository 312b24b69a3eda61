/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the TUN offloads, vpnd/offload.c, both ways.
 *
 * Receive coalescing (an input whose first byte is even): the rest is a
 * script of steps (see enum op) that make "decrypted inner packets" and
 * hand them to offload_gro_add() exactly as receive.c's tun_deliver() does:
 * each in a buffer of its own, only packets that receive_inner_length()
 * accepts, cut to that length, a full batch flushed and the packet added
 * again, and the batch flushed as gro_flush() flushes it.  Packets are raw
 * bytes (optionally with lengths and checksums made right), TCP segments
 * built from templates of up to eight flows that a step continues, PSHes,
 * shortens, gaps, corrupts or repeats, UDP packets, and IPv4 fragments and
 * IPv6 extension headers that may hide a flow's bytes.
 *
 * Checked at every flush, besides ASan/UBSan/LSan:
 *  - every write is either one input packet, unchanged, behind a zero
 *    virtio-net header, or a merge whose header is consistent: NEEDS_CSUM,
 *    TCPV4 or TCPV6 as the IP version says, hdr_len the first packet's IP
 *    and TCP headers, gso_size the first packet's payload, csum_start and
 *    csum_offset at the TCP checksum, inside the packet; its IP lengths and
 *    IPv4 header checksum right; its partial checksum finishing (with
 *    offload_csum_complete(), as the kernel would) into a valid one;
 *  - a merge cut again with offload_segments()/offload_segment() gives as
 *    many segments as the write says it carries, and they are, byte for
 *    byte, the input packets it merged (only the IPv4 identification, and
 *    with it the header checksum, may differ, and only under DF);
 *  - order: writes start in arrival order, and each further packet of a
 *    merge is the next packet of the first one's flow that is not written
 *    yet, never one behind a packet that may belong to any flow (a TCP
 *    fragment, an IPv6 extension header); so nothing of a flow overtakes
 *    anything of it, and every input packet comes out exactly once.
 * The flows and that order are worked out here from the packets' bytes,
 * not from the coalescer's own bookkeeping.
 *
 * Transmit cutting (an odd first byte): a virtio-net header and a packet,
 * as send.c's tun_readable_offload() reads them, through offload_hdr_parse(),
 * offload_segments(), then offload_segment() for each segment or
 * offload_csum_complete() for a lone packet.  Every buffer is exactly as
 * long as the packet it holds, so ASan sees any byte read or written past
 * it.  Checked: the segment count and lengths fit the packet and gso_size;
 * each segment repeats the headers with the lengths, identification,
 * sequence number and flags a cut gives, carries its share of the payload,
 * and has checksums that verify; a finished partial checksum verifies,
 * and offload_csum_complete() refuses exactly the offsets that do not fit.
 *
 * FUZZ_WRITE_SEEDS=DIR makes the harness write its seed corpus and exit;
 * FUZZ_TRACE=1 prints the writes of the inputs it runs.
 */
#include <errno.h>
#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "offload.h"
#include "receive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FAIL(...)                                               \
	do {                                                    \
		fprintf(stderr, "fuzz_offload: " __VA_ARGS__);  \
		fputc('\n', stderr);                            \
		abort();                                        \
	} while (0)

enum {
	PROTO_TCP = 6,
	PROTO_UDP = 17,
	TCP_FIN = 0x01,
	TCP_PSH = 0x08,
	TCP_ACK = 0x10,
	TCP_CWR = 0x80,
	SLOTS = 8,
	/* Bounds on one input's work, so that executions stay fast. */
	MAX_PACKETS = 4096,
	MAX_BYTES = 1 << 20,
	IP_MAX = 65535,
};

/*
 * Steps of a coalescing script; the low two bits of a step's first byte.
 *
 *  OP_RAW    len:2 bytes[len]   a packet as given; bit 2 sets its IP length
 *            field(s) to len, bit 3 makes its IPv4 header checksum right,
 *            bit 4 its TCP checksum
 *  OP_NEW    ip[20|40] tcp[20+opt] payload:2   slot (bits 2-4) gets a new
 *            flow template and sends its first segment; bit 5 IPv6, bits
 *            6-7 the TCP options' length (0, 12, 20, 40)
 *  OP_NEXT   ...   slot (bits 2-4) sends the segment that follows its last,
 *            changed as bits 5-7 say (enum next)
 *  OP_OTHER  ...   bits 2-4: enum other
 */
enum op { OP_RAW, OP_NEW, OP_NEXT, OP_OTHER };

enum next {
	NEXT_SAME,	/* as the last one */
	NEXT_PAYLOAD,	/* len:2  with len bytes of payload from now on */
	NEXT_PSH,	/* with PSH */
	NEXT_FLAGS,	/* flags:1  with these TCP flags */
	NEXT_SEQ,	/* delta:1  its sequence number moved (signed) */
	NEXT_POKE,	/* pos:1 xor:1  a header byte changed, before the
			 * lengths and checksums are made right */
	NEXT_CORRUPT,	/* which:1  a checksum made wrong (bit 0: IPv4's);
			 * or with bit 1 the TCP checksum, with bit 2 the
			 * IPv4 one, written as 0xffff, ones' complement's
			 * other zero, which verifies as well */
	NEXT_REPEAT,	/* count:1  count + 1 clean segments */
};

enum other {
	OTHER_FLUSH,	/* the end of a receive batch */
	OTHER_UDP4,	/* len:1 */
	OTHER_UDP6,	/* len:1 */
	OTHER_FRAG,	/* slot:1 len:1  an IPv4 fragment of a slot's flow */
	OTHER_EXT6,	/* slot:1  a slot's next segment behind an IPv6
			 * hop-by-hop header */
	OTHER_ACK,	/* slot:1  a pure ACK of a slot's flow */
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

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* The textbook ones' complement sum, folded: 0xffff means "verifies". */
static uint32_t rsum(uint32_t acc, const uint8_t *p, size_t len)
{
	uint64_t s = acc;

	for (; len >= 8; p += 8, len -= 8)
		s += (uint32_t)(p[0] << 8 | p[1]) + (uint32_t)(p[2] << 8 | p[3]) +
		     (uint32_t)(p[4] << 8 | p[5]) + (uint32_t)(p[6] << 8 | p[7]);
	for (; len > 1; p += 2, len -= 2)
		s += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		s += (uint32_t)(p[0] << 8);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

static uint32_t pseudo(const uint8_t *p, size_t tcplen)
{
	uint32_t acc = p[0] >> 4 == 4 ? rsum(0, p + 12, 8) : rsum(0, p + 8, 32);

	return rsum(acc + PROTO_TCP + (uint32_t)tcplen, NULL, 0);
}

static bool ip4_csum_ok(const uint8_t *p, size_t ihl)
{
	return rsum(0, p, ihl) == 0xffff;
}

static bool tcp_csum_ok(const uint8_t *p, size_t len, size_t ip)
{
	return rsum(pseudo(p, len - ip), p + ip, len - ip) == 0xffff;
}

static void fix_ip4_csum(uint8_t *p, size_t ihl)
{
	put16(p + 10, 0);
	put16(p + 10, (uint16_t)~rsum(0, p, ihl));
}

static void fix_tcp_csum(uint8_t *p, size_t len, size_t ip)
{
	put16(p + ip + 16, 0);
	put16(p + ip + 16, (uint16_t)~rsum(pseudo(p, len - ip), p + ip, len - ip));
}

/* Exactly n bytes, so that ASan sees a byte past them (even with n 0). */
static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p && n)
		FAIL("out of memory");
	return p;
}

static void *xmemdup(const void *src, size_t n)
{
	void *p = xmalloc(n);

	if (n)
		memcpy(p, src, n);
	return p;
}

/* ---- What a packet is, worked out here independently of offload.c. ---- */

enum kind {
	KIND_NONE,	/* of no TCP flow */
	KIND_TCP,	/* TCP whose ports are in view */
	KIND_ANY,	/* might belong to any TCP flow: nothing may pass it */
};

/* The IPv6 extension headers (RFC 8200 and the IANA list). */
static bool ip6_ext(uint8_t nh)
{
	switch (nh) {
	case 0: case 43: case 44: case 50: case 51: case 60:
	case 135: case 139: case 140: case 253: case 254:
		return true;
	default:
		return false;
	}
}

static size_t ip_hl(const uint8_t *p)
{
	return p[0] >> 4 == 4 ? (size_t)(p[0] & 15) * 4 : 40;
}

static enum kind kind_of(const uint8_t *p, size_t len)
{
	if (p[0] >> 4 == 4) {
		if (p[9] != PROTO_TCP)
			return KIND_NONE;
		if (get16(p + 6) & 0x3fff)
			return KIND_ANY;
		return len >= ip_hl(p) + 20 ? KIND_TCP : KIND_NONE;
	}
	if (ip6_ext(p[6]))
		return KIND_ANY;
	if (p[6] != PROTO_TCP)
		return KIND_NONE;
	return len >= 60 ? KIND_TCP : KIND_ANY;
}

/* Both KIND_TCP: the same addresses and ports. */
static bool same_flow(const uint8_t *a, const uint8_t *b)
{
	if (a[0] >> 4 != b[0] >> 4)
		return false;
	if (a[0] >> 4 == 4 ? memcmp(a + 12, b + 12, 8) : memcmp(a + 8, b + 8, 32))
		return false;
	return !memcmp(a + ip_hl(a), b + ip_hl(b), 4);
}

/*
 * Whether a segment cut from a merge is the packet orig: byte for byte,
 * but that under DF the IPv4 identification means nothing and a merge
 * need not keep it (then the header checksum must still verify).
 */
static bool same_packet(const uint8_t *cut, const uint8_t *orig, size_t len)
{
	if (orig[0] >> 4 == 4 && orig[6] & 0x40) {
		size_t ihl = ip_hl(orig);

		return !memcmp(cut, orig, 4) && !memcmp(cut + 6, orig + 6, 4) &&
		       !memcmp(cut + 12, orig + 12, len - 12) &&
		       ip4_csum_ok(cut, ihl);
	}
	return !memcmp(cut, orig, len);
}

/* ---- The coalescing, driven as receive.c drives it. ---- */

struct queued {
	uint8_t *pkt;	/* what offload_gro_add() got (it may rewrite it) */
	uint8_t *orig;	/* a copy of it as it came */
	size_t len;
	enum kind kind;
	bool out;	/* written */
};

static bool trace;
static struct offload_gro gro;
static struct queued q[OFFLOAD_GRO_PACKETS];
static unsigned int nq;
static unsigned long npackets, nbytes;

/* Whether one input's budget of packets and bytes is spent. */
static bool spent(void)
{
	return npackets >= MAX_PACKETS || nbytes >= MAX_BYTES;
}

/* The first packet not yet written, after index from (-1: any). */
static int next_unwritten(int from)
{
	for (unsigned int k = (unsigned int)(from + 1); k < nq; k++)
		if (!q[k].out)
			return (int)k;
	return -1;
}

static size_t flatten(const struct iovec *iov, unsigned int n, uint8_t **out)
{
	size_t total = 0, at = 0;

	for (unsigned int j = 1; j < n; j++) {
		if (!iov[j].iov_base || !iov[j].iov_len)
			FAIL("write has an empty iovec %u", j);
		total += iov[j].iov_len;
	}
	/* A merge is at most one IP packet; a lone one at most what
	 * receive_inner_length() let through. */
	if (total > IP_MAX + 40)
		FAIL("a write of %zu bytes", total);
	*out = xmalloc(total);
	for (unsigned int j = 1; j < n; j++) {
		memcpy(*out + at, iov[j].iov_base, iov[j].iov_len);
		at += iov[j].iov_len;
	}
	return total;
}

static void check_merge(const uint8_t *w, size_t len, const uint8_t *vnet,
			unsigned int head, unsigned int packets)
{
	const struct queued *hq = &q[head];
	const uint8_t *ho = hq->orig;
	bool v6 = ho[0] >> 4 == 6;
	size_t ip = ip_hl(ho), hdrlen, cut_hdrlen = 0;
	struct offload_hdr h;
	unsigned int segs;
	int prev = (int)head;
	uint8_t *c;

	if (hq->kind != KIND_TCP)
		FAIL("a merge begins with packet %u, which is not TCP", head);
	hdrlen = ip + (size_t)(ho[ip + 12] >> 4) * 4;
	if (hdrlen >= hq->len)
		FAIL("a merge begins with packet %u, which has no payload", head);
	if (offload_hdr_parse(vnet, OFFLOAD_VNET_HDR_LEN, &h))
		FAIL("the vnet header does not parse");
	if (h.flags != VIRTIO_NET_HDR_F_NEEDS_CSUM)
		FAIL("merge: vnet flags %#x", h.flags);
	if (h.gso_type != (v6 ? VIRTIO_NET_HDR_GSO_TCPV6 :
				VIRTIO_NET_HDR_GSO_TCPV4))
		FAIL("merge: gso_type %u for IPv%d", h.gso_type, v6 ? 6 : 4);
	if (h.hdr_len != hdrlen || h.hdr_len > len)
		FAIL("merge: hdr_len %u, the headers are %zu, the write %zu",
		     h.hdr_len, hdrlen, len);
	if (h.gso_size != hq->len - hdrlen)
		FAIL("merge: gso_size %u, the first payload %zu", h.gso_size,
		     hq->len - hdrlen);
	if (h.csum_start != ip || h.csum_offset != 16 ||
	    (size_t)h.csum_start + h.csum_offset + 2 > len)
		FAIL("merge: csum_start %u csum_offset %u in %zu bytes",
		     h.csum_start, h.csum_offset, len);
	if (len > IP_MAX)
		FAIL("merge: %zu bytes", len);
	if (v6 ? get16(w + 4) != len - 40 : get16(w + 2) != len)
		FAIL("merge: the IP length field says otherwise than %zu", len);
	if (!v6 && !ip4_csum_ok(w, ip))
		FAIL("merge: a wrong IPv4 header checksum");
	if (v6 ? memcmp(w, ho, 4) || memcmp(w + 6, ho + 6, 34) :
		 memcmp(w, ho, 2) || memcmp(w + 4, ho + 4, 6) ||
			 memcmp(w + 12, ho + 12, ip - 12))
		FAIL("merge: IP header changed beyond its length and checksum");

	/* What the kernel does with the partial checksum. */
	c = xmemdup(w, len);
	if (offload_csum_complete(c, len, &h))
		FAIL("merge: the partial checksum cannot be finished");
	if (!tcp_csum_ok(c, len, ip))
		FAIL("merge: the finished TCP checksum does not verify");
	free(c);

	segs = offload_segments(w, len, &h, &cut_hdrlen);
	if (segs != packets || cut_hdrlen != hdrlen)
		FAIL("merge of %u packets cuts into %u (headers %zu, not %zu)",
		     packets, segs, cut_hdrlen, hdrlen);
	for (unsigned int k = 0; k < segs; k++) {
		int idx = (int)head;
		uint8_t *seg = xmalloc(hdrlen + h.gso_size);
		size_t n;

		if (k) {
			/* The next unwritten packet of the flow; nothing that
			 * might be of it may come between. */
			for (idx = next_unwritten(prev); idx >= 0;
			     idx = next_unwritten(idx)) {
				if (q[idx].kind == KIND_ANY)
					FAIL("merge from %u takes a packet behind "
					     "%d, which may be of its flow",
					     head, idx);
				if (q[idx].kind == KIND_TCP &&
				    same_flow(q[idx].orig, ho))
					break;
			}
			if (idx < 0)
				FAIL("merge from %u carries %u packets; its "
				     "flow has only %u unwritten", head,
				     packets, k);
		}
		n = offload_segment(seg, w, len, &h, hdrlen, k);
		if (n != q[idx].len || !same_packet(seg, q[idx].orig, n))
			FAIL("segment %u of the merge from %u is not packet %d "
			     "(%zu bytes, it had %zu): reordered or changed",
			     k, head, idx, n, q[idx].len);
		free(seg);
		q[idx].out = true;
		prev = idx;
	}
}

static void check_write(unsigned int i)
{
	uint8_t vnet[OFFLOAD_VNET_HDR_LEN];
	struct iovec iov[OFFLOAD_GRO_IOV];
	unsigned int n, packets = 0;
	uint8_t *w;
	size_t len;
	int head;

	memset(vnet, 0xa5, sizeof(vnet));
	n = offload_gro_item_iov(&gro, i, vnet, iov, &packets);
	if (n < 2 || n > OFFLOAD_GRO_IOV)
		FAIL("write %u has %u iovecs", i, n);
	if (iov[0].iov_base != vnet || iov[0].iov_len != OFFLOAD_VNET_HDR_LEN)
		FAIL("write %u does not begin with its vnet header", i);
	len = flatten(iov, n, &w);
	/* Writes start in arrival order: this one with the first packet
	 * that no earlier write carried. */
	head = next_unwritten(-1);
	if (trace)
		fprintf(stderr, "write %u: packet %d, %u packets, %zu bytes\n",
			i, head, packets, len);
	if (head < 0)
		FAIL("write %u, but every packet is written already", i);
	if (!packets || packets > nq)
		FAIL("write %u says it carries %u packets", i, packets);
	if (packets == 1) {
		static const uint8_t zero[OFFLOAD_VNET_HDR_LEN];

		if (memcmp(vnet, zero, sizeof(zero)))
			FAIL("a lone packet behind a vnet header that is not "
			     "zero");
		if (len != q[head].len || memcmp(w, q[head].orig, len))
			FAIL("write %u is not packet %d unchanged", i, head);
		q[head].out = true;
	} else {
		check_merge(w, len, vnet, (unsigned int)head, packets);
	}
	free(w);
}

/* receive.c's gro_flush(), checking every write. */
static void flush(void)
{
	unsigned int items = offload_gro_items(&gro);

	if (items > nq || (nq && !items))
		FAIL("%u writes for %u packets", items, nq);
	for (unsigned int i = 0; i < items; i++)
		check_write(i);
	for (unsigned int k = 0; k < nq; k++) {
		if (!q[k].out)
			FAIL("packet %u of %u was never written", k, nq);
		free(q[k].pkt);
		free(q[k].orig);
	}
	nq = 0;
	offload_gro_init(&gro);
}

/*
 * receive.c's tun_deliver() for a decrypted packet of len bytes: what
 * receive_inner_length() keeps goes into a buffer of its own, into the batch.
 */
static void deliver(const uint8_t *pkt, size_t len)
{
	size_t inner = receive_inner_length(pkt, len);
	uint8_t *p;
	int r;

	if (!inner || spent())
		return;
	if (nbytes + inner > MAX_BYTES) {
		nbytes = MAX_BYTES;	/* nothing more: the budget is spent */
		return;
	}
	npackets++;
	nbytes += inner;
	p = xmemdup(pkt, inner);
	r = offload_gro_add(&gro, p, inner);
	if (r == -ENOSPC) {
		if (nq != OFFLOAD_GRO_PACKETS)
			FAIL("-ENOSPC with %u packets queued", nq);
		flush();
		r = offload_gro_add(&gro, p, inner);
	}
	if (r)
		FAIL("offload_gro_add: %d with %u packets queued", r, nq);
	q[nq++] = (struct queued){
		.pkt = p, .orig = xmemdup(p, inner), .len = inner,
		.kind = kind_of(p, inner),
	};
}

/* ---- The script. ---- */

struct reader {
	const uint8_t *p;
	size_t n;
};

static uint8_t take(struct reader *r)
{
	if (!r->n)
		return 0;
	r->n--;
	return *r->p++;
}

static size_t take16(struct reader *r)
{
	size_t hi = take(r);

	return hi << 8 | take(r);
}

static void take_bytes(struct reader *r, uint8_t *out, size_t n)
{
	size_t k = n < r->n ? n : r->n;

	memcpy(out, r->p, k);
	memset(out + k, 0, n - k);
	r->p += k;
	r->n -= k;
}

/* A flow's template: the headers of its last segment, and what follows. */
struct slot {
	bool used;
	uint8_t hdr[40 + 60];
	size_t ip, hdrlen, payload;
	uint32_t seq;		/* of the segment that follows */
	uint16_t id;		/* its IPv4 identification */
};

static struct slot slots[SLOTS];
static uint8_t *scratch;	/* IP_MAX bytes */
static uint8_t *pattern;	/* 2 * 65536 bytes that payloads are cut from */

/* Builds a segment of slot s into scratch; returns its length. */
static size_t build(struct slot *s, size_t payload, uint32_t seq, uint16_t id,
		    int flags, int poke_pos, uint8_t poke_xor)
{
	uint8_t *p = scratch;
	size_t len;

	if (payload > IP_MAX - s->hdrlen)
		payload = IP_MAX - s->hdrlen;
	len = s->hdrlen + payload;
	memcpy(p, s->hdr, s->hdrlen);
	/* Payload bytes that depend on their sequence number. */
	memcpy(p + s->hdrlen, pattern + ((seq + s->ip) & 0xffff), payload);
	put32(p + s->ip + 4, seq);
	if (flags >= 0)
		p[s->ip + 13] = (uint8_t)flags;
	if (s->ip == 20)
		put16(p + 4, id);
	if (poke_pos >= 0)
		p[(size_t)poke_pos % s->hdrlen] ^= poke_xor;
	if (s->ip == 20) {
		p[0] = 0x45;
		put16(p + 2, (uint16_t)len);
		fix_ip4_csum(p, 20);
	} else {
		p[0] = (uint8_t)(0x60 | (p[0] & 15));
		put16(p + 4, (uint16_t)(len - 40));
	}
	fix_tcp_csum(p, len, s->ip);
	return len;
}

/* Ones' complement addition of two 16-bit words. */
static uint16_t add16(uint16_t a, uint16_t b)
{
	uint32_t s = (uint32_t)a + b;

	return (uint16_t)((s & 0xffff) + (s >> 16));
}

/*
 * Rewrites the checksum at p + at, over a region whose word at p + adj
 * may change, as 0xffff: the word takes the checksum's value, so that the
 * rest sums to (negative) zero and the field may hold 0 or 0xffff.
 */
static void other_zero(uint8_t *p, size_t at, size_t adj)
{
	put16(p + adj, add16(get16(p + adj), get16(p + at)));
	put16(p + at, 0xffff);
}

/* Sends slot s's next segment and moves the slot on past it. */
static void send_next(struct slot *s, size_t payload, int flags, int seq_delta,
		      int poke_pos, uint8_t poke_xor, int corrupt)
{
	uint32_t seq = s->seq + (uint32_t)seq_delta;
	size_t len;

	if (spent())
		return;
	len = build(s, payload, seq, s->id, flags, poke_pos, poke_xor);
	if (corrupt >= 0 && corrupt & 6) {
		/* A TCP checksum's other zero: a payload word pays for it. */
		if (corrupt & 2 && len >= s->hdrlen + 2)
			other_zero(scratch, s->ip + 16, s->hdrlen);
		/* The IPv4 header's: the identification pays (under DF it
		 * may be anything). */
		if (corrupt & 4 && s->ip == 20) {
			other_zero(scratch, 10, 4);
			fix_tcp_csum(scratch, len, 20);
		}
	} else if (corrupt >= 0) {
		if (corrupt & 1 && s->ip == 20)
			scratch[11] ^= 0x01;
		else
			scratch[s->ip + 17] ^= (uint8_t)(corrupt | 1);
	}
	s->seq = seq + (uint32_t)(len - s->hdrlen);
	s->id++;
	deliver(scratch, len);
}

static void step_raw(struct reader *r, uint8_t op)
{
	size_t len = take16(r), ip;
	uint8_t *p = scratch;

	if (len > r->n)
		len = r->n;
	take_bytes(r, p, len);
	if (len < 20) {
		deliver(p, len);
		return;
	}
	if (op & 0x04) {
		if (p[0] >> 4 == 4)
			put16(p + 2, (uint16_t)len);
		else if (len >= 40)
			put16(p + 4, (uint16_t)(len - 40));
	}
	ip = ip_hl(p);
	if (op & 0x08 && p[0] >> 4 == 4 && ip >= 20 && len >= ip)
		fix_ip4_csum(p, ip);
	if (op & 0x10 && len >= 40 && kind_of(p, len) == KIND_TCP && ip >= 20)
		fix_tcp_csum(p, len, ip);
	deliver(p, len);
}

static void step_new(struct reader *r, uint8_t op)
{
	static const size_t opts[4] = { 0, 12, 20, 40 };
	struct slot *s = &slots[op >> 2 & 7];
	bool v6 = op & 0x20;
	size_t tcp = 20 + opts[op >> 6];

	s->used = true;
	s->ip = v6 ? 40 : 20;
	s->hdrlen = s->ip + tcp;
	take_bytes(r, s->hdr, s->hdrlen);
	s->payload = take16(r);
	if (v6) {
		s->hdr[6] = PROTO_TCP;
	} else {
		s->hdr[9] = PROTO_TCP;
		s->id = get16(s->hdr + 4);
	}
	s->hdr[s->ip + 12] = (uint8_t)(tcp / 4 << 4 | (s->hdr[s->ip + 12] & 15));
	s->seq = get32(s->hdr + s->ip + 4);
	send_next(s, s->payload, -1, 0, -1, 0, -1);
}

static void step_next(struct reader *r, uint8_t op)
{
	struct slot *s = &slots[op >> 2 & 7];
	int flags = -1, delta = 0, pos = -1, corrupt = -1;
	uint8_t xor = 0;
	unsigned int count = 1;

	switch (op >> 5) {
	case NEXT_PAYLOAD:
		s->payload = take16(r);
		break;
	case NEXT_PSH:
		flags = s->hdr[s->ip + 13] | TCP_PSH;
		break;
	case NEXT_FLAGS:
		flags = take(r);
		break;
	case NEXT_SEQ:
		delta = (int8_t)take(r);
		break;
	case NEXT_POKE:
		pos = take(r);
		xor = take(r);
		break;
	case NEXT_CORRUPT:
		corrupt = take(r);
		break;
	case NEXT_REPEAT:
		count = 1 + (unsigned int)take(r);
		break;
	default:
		break;
	}
	if (!s->used)
		return;
	while (count--)
		send_next(s, s->payload, flags, delta, pos, xor, corrupt);
}

static void step_other(struct reader *r, uint8_t op)
{
	uint8_t *p = scratch;
	struct slot *s;
	size_t len;

	switch (op >> 2 & 7) {
	case OTHER_FLUSH:
		flush();
		return;
	case OTHER_UDP4:
	case OTHER_UDP6: {
		bool v6 = (op >> 2 & 7) == OTHER_UDP6;
		size_t ip = v6 ? 40 : 20;

		len = ip + 8 + take(r);
		memset(p, 0, len);
		if (v6) {
			p[0] = 0x60;
			put16(p + 4, (uint16_t)(len - 40));
			p[6] = PROTO_UDP;
		} else {
			p[0] = 0x45;
			put16(p + 2, (uint16_t)len);
			p[9] = PROTO_UDP;
			fix_ip4_csum(p, 20);
		}
		put16(p + ip + 4, (uint16_t)(len - ip));
		deliver(p, len);
		return;
	}
	case OTHER_FRAG:
		s = &slots[take(r) & 7];
		len = take(r);
		if (!s->used || s->ip != 20)
			return;
		len = build(s, len, s->seq, s->id++, -1, -1, 0);
		p[6] |= 0x20;	/* MF: more fragments follow */
		fix_ip4_csum(p, 20);
		deliver(p, len);
		return;
	case OTHER_EXT6:
		s = &slots[take(r) & 7];
		if (!s->used || s->ip != 40)
			return;
		len = build(s, s->payload, s->seq, 0, -1, -1, 0);
		/* The TCP header stays where it was, behind a hop-by-hop
		 * header's first bytes: a flow the coalescer cannot see. */
		p[6] = 0;
		deliver(p, len);
		return;
	case OTHER_ACK:
		s = &slots[take(r) & 7];
		if (!s->used)
			return;
		len = build(s, 0, s->seq, s->id++, -1, -1, 0);
		deliver(p, len);
		return;
	default:
		return;
	}
}

static void run_gro(const uint8_t *data, size_t size)
{
	struct reader r = { data, size };

	memset(slots, 0, sizeof(slots));
	npackets = nbytes = 0;
	nq = 0;
	offload_gro_init(&gro);
	while (r.n) {
		uint8_t op = take(&r);

		switch (op & 3) {
		case OP_RAW:
			step_raw(&r, op);
			break;
		case OP_NEW:
			step_new(&r, op);
			break;
		case OP_NEXT:
			step_next(&r, op);
			break;
		default:
			step_other(&r, op);
			break;
		}
	}
	/* The end of the receive batch. */
	flush();
}

/* ---- Cutting, driven as send.c drives it. ---- */

/*
 * mode (the first byte, odd): bit 1 forces a TCP gso_type, IPv6 with bit 2,
 * the ECN bit with bit 3; bit 4 makes the packet's version and protocol
 * agree with that type.  Then the vnet header and the packet.
 */
static void run_tso(const uint8_t *data, size_t size)
{
	uint8_t mode = data[0], *vnet, *pkt, *seg;
	struct offload_hdr h;
	size_t vlen, len, hdrlen = 0, payload, ip, total = 0;
	unsigned int segs;
	bool v4;

	data++, size--;
	vlen = size < OFFLOAD_VNET_HDR_LEN ? size : OFFLOAD_VNET_HDR_LEN;
	vnet = xmemdup(data, vlen);
	if (size >= OFFLOAD_VNET_HDR_LEN && mode & 0x02)
		vnet[1] = (uint8_t)((mode & 0x04 ? VIRTIO_NET_HDR_GSO_TCPV6 :
					     VIRTIO_NET_HDR_GSO_TCPV4) |
				    (mode & 0x08 ? VIRTIO_NET_HDR_GSO_ECN : 0));
	if (offload_hdr_parse(vnet, vlen, &h)) {
		if (size >= OFFLOAD_VNET_HDR_LEN)
			FAIL("a whole vnet header does not parse");
		free(vnet);
		return;
	}
	free(vnet);
	len = size - OFFLOAD_VNET_HDR_LEN;
	pkt = xmemdup(data + OFFLOAD_VNET_HDR_LEN, len);
	if (mode & 0x10 && len >= 40) {
		uint8_t type = h.gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;

		if (type == VIRTIO_NET_HDR_GSO_TCPV6) {
			pkt[0] = (uint8_t)(0x60 | (pkt[0] & 15));
			pkt[6] = PROTO_TCP;
		} else {
			pkt[0] = (uint8_t)(0x40 | (pkt[0] & 15));
			pkt[9] = PROTO_TCP;
		}
	}

	segs = offload_segments(pkt, len, &h, &hdrlen);
	if (segs == 1) {
		/* send.c finishes the checksum of a packet it does not cut. */
		size_t start = h.csum_start, at = start + h.csum_offset;
		bool fits = start < len && at + 2 <= len;
		bool needs = h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;
		uint16_t before = fits ? get16(pkt + at) : 0;
		int r = offload_csum_complete(pkt, len, &h);

		if (needs && !fits ? r != -EINVAL : r != 0)
			FAIL("offload_csum_complete: %d for start %zu, offset "
			     "%u, %zu bytes", r, start, h.csum_offset, len);
		/* The field held the pseudo-header's sum: with it, the
		 * finished region must sum to zero (an aligned field). */
		if (needs && fits && !(h.csum_offset & 1) &&
		    rsum(before, pkt + start, len - start) != 0xffff)
			FAIL("a finished checksum does not verify");
		free(pkt);
		return;
	}
	if (trace)
		fprintf(stderr, "cut: %u segments of %u, headers %zu, %zu bytes\n",
			segs, h.gso_size, hdrlen, len);
	if (!segs) {
		free(pkt);
		return;
	}

	v4 = pkt[0] >> 4 == 4;
	ip = v4 ? (size_t)(pkt[0] & 15) * 4 : 40;
	if (segs > OFFLOAD_MAX_SEGMENTS || !h.gso_size || hdrlen < ip + 20 ||
	    hdrlen > len || hdrlen != ip + (size_t)(pkt[ip + 12] >> 4) * 4)
		FAIL("%u segments of %u, headers %zu, in %zu bytes", segs,
		     h.gso_size, hdrlen, len);
	payload = len - hdrlen;
	if ((size_t)(segs - 1) * h.gso_size >= payload ||
	    (size_t)segs * h.gso_size < payload)
		FAIL("%u segments of %u for %zu bytes of payload", segs,
		     h.gso_size, payload);

	for (unsigned int i = 0; i < segs; i++) {
		size_t off = (size_t)i * h.gso_size, want, n, tcplen;
		bool last = i == segs - 1;
		const uint8_t *t, *ot = pkt + ip;
		uint8_t flags = ot[13];

		want = hdrlen + (last ? payload - off : h.gso_size);
		seg = xmalloc(want);
		n = offload_segment(seg, pkt, len, &h, hdrlen, i);
		if (n != want)
			FAIL("segment %u: %zu bytes, not %zu", i, n, want);
		t = seg + ip;
		tcplen = n - ip;
		if (v4) {
			if (get16(seg + 2) != (uint16_t)n ||
			    get16(seg + 4) != (uint16_t)(get16(pkt + 4) + i) ||
			    !ip4_csum_ok(seg, ip) || memcmp(seg, pkt, 2) ||
			    memcmp(seg + 6, pkt + 6, 4) ||
			    memcmp(seg + 12, pkt + 12, ip - 12))
				FAIL("segment %u: a wrong IPv4 header", i);
		} else if (get16(seg + 4) != (uint16_t)tcplen ||
			   memcmp(seg, pkt, 4) || memcmp(seg + 6, pkt + 6, 34)) {
			FAIL("segment %u: a wrong IPv6 header", i);
		}
		if (!last)
			flags &= (uint8_t)~(TCP_FIN | TCP_PSH);
		if (i)
			flags &= (uint8_t)~TCP_CWR;
		if (get32(t + 4) != get32(ot + 4) + (uint32_t)off ||
		    t[13] != flags || memcmp(t, ot, 4) ||
		    memcmp(t + 8, ot + 8, 5) || memcmp(t + 14, ot + 14, 2) ||
		    memcmp(t + 18, ot + 18, hdrlen - ip - 18))
			FAIL("segment %u: a wrong TCP header", i);
		if (!tcp_csum_ok(seg, n, ip))
			FAIL("segment %u: the TCP checksum does not verify", i);
		if (memcmp(seg + hdrlen, pkt + hdrlen + off, n - hdrlen))
			FAIL("segment %u: not its share of the payload", i);
		total += n - hdrlen;
		free(seg);
	}
	if (total != payload)
		FAIL("the segments carry %zu bytes of %zu", total, payload);
	free(pkt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	if (data[0] & 1)
		run_tso(data, size);
	else
		run_gro(data + 1, size - 1);
	return 0;
}

/* ---- Seeds. ---- */

struct seedbuf {
	uint8_t b[4096];
	size_t n;
};

static void put(struct seedbuf *sb, const void *p, size_t n)
{
	if (sb->n + n > sizeof(sb->b))
		FAIL("a seed outgrew its buffer");
	memcpy(sb->b + sb->n, p, n);
	sb->n += n;
}

static void put8(struct seedbuf *sb, unsigned int v)
{
	uint8_t b = (uint8_t)v;

	put(sb, &b, 1);
}

static void put16be(struct seedbuf *sb, unsigned int v)
{
	put8(sb, v >> 8);
	put8(sb, v);
}

/* OP_NEW for slot with port sport: a 12-byte timestamp option. */
static void seed_new(struct seedbuf *sb, unsigned int slot, bool v6,
		     unsigned int sport, uint32_t seq, unsigned int payload,
		     bool df)
{
	uint8_t hdr[40 + 32] = { 0 };
	size_t ip = v6 ? 40 : 20;

	put8(sb, OP_NEW | slot << 2 | (v6 ? 0x20 : 0) | 1 << 6);
	if (v6) {
		hdr[0] = 0x60;
		hdr[7] = 64;
		hdr[8] = 0xfd, hdr[23] = 1, hdr[24] = 0xfd, hdr[39] = 2;
	} else {
		hdr[0] = 0x45;
		hdr[4] = 0x70, hdr[5] = (uint8_t)slot;
		hdr[6] = df ? 0x40 : 0;
		hdr[8] = 64;
		hdr[12] = 10, hdr[15] = 1, hdr[16] = 10, hdr[19] = 2;
	}
	put16(hdr + ip, (uint16_t)sport);
	put16(hdr + ip + 2, 5201);
	put32(hdr + ip + 4, seq);
	put32(hdr + ip + 8, 0x01020304);
	hdr[ip + 13] = TCP_ACK;
	put16(hdr + ip + 14, 501);
	hdr[ip + 20] = 1, hdr[ip + 21] = 1, hdr[ip + 22] = 8, hdr[ip + 23] = 10;
	hdr[ip + 27] = 77;
	put(sb, hdr, ip + 32);
	put16be(sb, payload);
}

static void seed_write(const char *dir, const char *name,
		       const struct seedbuf *sb)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(sb->b, 1, sb->n, f) != sb->n || fclose(f))
		FAIL("cannot write %s", path);
}

/* A TSO seed: a TCP super-packet of payload bytes behind its header. */
static void seed_tso(struct seedbuf *sb, bool v6, unsigned int payload,
		     uint16_t gso_size, uint8_t flags)
{
	uint8_t vnet[OFFLOAD_VNET_HDR_LEN] = { 0 };
	uint8_t hdr[60] = { 0 };
	size_t ip = v6 ? 40 : 20;
	uint16_t v;

	sb->n = 0;
	put8(sb, 0x01);
	vnet[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vnet[1] = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
	v = (uint16_t)(ip + 20);
	memcpy(vnet + 2, &v, 2);
	memcpy(vnet + 4, &gso_size, 2);
	v = (uint16_t)ip;
	memcpy(vnet + 6, &v, 2);
	v = 16;
	memcpy(vnet + 8, &v, 2);
	put(sb, vnet, sizeof(vnet));
	if (v6) {
		hdr[0] = 0x60;
		put16(hdr + 4, (uint16_t)(20 + payload));
		hdr[6] = PROTO_TCP;
		hdr[7] = 64;
		hdr[8] = 0xfd, hdr[23] = 1, hdr[24] = 0xfd, hdr[39] = 2;
	} else {
		hdr[0] = 0x45;
		put16(hdr + 2, (uint16_t)(40 + payload));
		hdr[4] = 0x12, hdr[5] = 0x34;
		hdr[8] = 64;
		hdr[9] = PROTO_TCP;
		hdr[12] = 10, hdr[15] = 1, hdr[16] = 10, hdr[19] = 2;
	}
	put16(hdr + ip, 5201);
	put16(hdr + ip + 2, 40000);
	put32(hdr + ip + 4, 0xfffff000u);
	hdr[ip + 12] = 5 << 4;
	hdr[ip + 13] = flags;
	put(sb, hdr, ip + 20);
	for (unsigned int i = 0; i < payload; i++)
		put8(sb, i * 7 + 3);
}

static void seeds_write(const char *dir)
{
	static struct seedbuf sb;

	/* One IPv4 flow: a run of 20, the last one short. */
	sb.n = 0;
	put8(&sb, 0);
	seed_new(&sb, 0, false, 40000, 1000, 1000, true);
	put8(&sb, OP_NEXT | NEXT_REPEAT << 5), put8(&sb, 17);
	put8(&sb, OP_NEXT | NEXT_PAYLOAD << 5), put16be(&sb, 500);
	put8(&sb, OP_NEXT);
	seed_write(dir, "seed-run4", &sb);

	/* IPv6 and IPv4 (without DF) interleaved, a UDP packet between,
	 * PSH ending one, a pure ACK, a gap, a corrupt checksum. */
	sb.n = 0;
	put8(&sb, 0);
	seed_new(&sb, 1, true, 40001, 0xfffffc00u, 1200, false);
	seed_new(&sb, 2, false, 40002, 7, 1200, false);
	for (unsigned int i = 0; i < 4; i++) {
		put8(&sb, OP_NEXT | 1 << 2);
		put8(&sb, OP_NEXT | 2 << 2);
	}
	put8(&sb, OP_OTHER | OTHER_UDP4 << 2), put8(&sb, 100);
	put8(&sb, OP_NEXT | 1 << 2 | NEXT_PSH << 5);
	put8(&sb, OP_NEXT | 2 << 2);
	put8(&sb, OP_OTHER | OTHER_ACK << 2), put8(&sb, 2);
	put8(&sb, OP_NEXT | 2 << 2);
	put8(&sb, OP_NEXT | 2 << 2 | NEXT_SEQ << 5), put8(&sb, 1);
	put8(&sb, OP_NEXT | 2 << 2);
	put8(&sb, OP_NEXT | 1 << 2 | NEXT_CORRUPT << 5), put8(&sb, 0);
	put8(&sb, OP_NEXT | 1 << 2);
	put8(&sb, OP_NEXT | 1 << 2);
	put8(&sb, OP_OTHER | OTHER_FLUSH << 2);
	put8(&sb, OP_NEXT | 1 << 2);
	put8(&sb, OP_NEXT | 2 << 2);
	seed_write(dir, "seed-interleaved", &sb);

	/* A fragment and an extension header in the middle of flows. */
	sb.n = 0;
	put8(&sb, 0);
	seed_new(&sb, 3, false, 40003, 1, 800, true);
	seed_new(&sb, 4, true, 40004, 1, 800, false);
	put8(&sb, OP_NEXT | 3 << 2), put8(&sb, OP_NEXT | 4 << 2);
	put8(&sb, OP_OTHER | OTHER_FRAG << 2), put8(&sb, 3), put8(&sb, 200);
	put8(&sb, OP_NEXT | 3 << 2), put8(&sb, OP_NEXT | 4 << 2);
	put8(&sb, OP_NEXT | 3 << 2), put8(&sb, OP_NEXT | 4 << 2);
	put8(&sb, OP_OTHER | OTHER_EXT6 << 2), put8(&sb, 4);
	put8(&sb, OP_NEXT | 3 << 2), put8(&sb, OP_NEXT | 4 << 2);
	put8(&sb, OP_NEXT | 3 << 2 | NEXT_POKE << 5), put8(&sb, 34),
		put8(&sb, 1);
	put8(&sb, OP_NEXT | 3 << 2 | NEXT_FLAGS << 5), put8(&sb, 0x11);
	put8(&sb, OP_OTHER | OTHER_UDP6 << 2), put8(&sb, 0);
	seed_write(dir, "seed-barriers", &sb);

	/* Header fields a merge must keep, changed; checksums written as
	 * the other zero. */
	sb.n = 0;
	put8(&sb, 0);
	seed_new(&sb, 0, false, 40010, 1, 600, false);
	seed_new(&sb, 1, true, 40011, 1, 600, false);
	seed_new(&sb, 2, false, 40012, 1, 600, true);
	for (unsigned int f = 0; f < 3; f++) {
		put8(&sb, OP_NEXT | f << 2);
		/* TOS or traffic class, then the identification (IPv4)
		 * or flow label (IPv6), then the TTL or hop limit. */
		put8(&sb, OP_NEXT | f << 2 | NEXT_POKE << 5), put8(&sb, 1),
			put8(&sb, 4);
		put8(&sb, OP_NEXT | f << 2);
		put8(&sb, OP_NEXT | f << 2 | NEXT_POKE << 5), put8(&sb, 5),
			put8(&sb, 1);
		put8(&sb, OP_NEXT | f << 2);
		put8(&sb, OP_NEXT | f << 2 | NEXT_POKE << 5), put8(&sb, 7),
			put8(&sb, 1);
		put8(&sb, OP_NEXT | f << 2);
		put8(&sb, OP_NEXT | f << 2 | NEXT_CORRUPT << 5), put8(&sb, 2);
		put8(&sb, OP_NEXT | f << 2 | NEXT_CORRUPT << 5), put8(&sb, 4);
		put8(&sb, OP_NEXT | f << 2);
	}
	seed_write(dir, "seed-fields", &sb);

	/* More flows than may grow at once, then a full batch (-ENOSPC)
	 * and a merge that reaches 64 KiB. */
	sb.n = 0;
	put8(&sb, 0);
	for (unsigned int f = 0; f < SLOTS; f++)
		seed_new(&sb, f, f & 1, 30000 + f, 100000 * f, 1000, true);
	/* Slots 6 and 7 start two more flows: they find no room. */
	seed_new(&sb, 6, false, 31006, 7, 1000, true);
	seed_new(&sb, 7, true, 31007, 7, 1000, true);
	for (unsigned int f = 0; f < SLOTS; f++)
		put8(&sb, OP_NEXT | f << 2);
	put8(&sb, OP_NEXT | 0 << 2 | NEXT_PAYLOAD << 5), put16be(&sb, 1400);
	put8(&sb, OP_NEXT | 0 << 2 | NEXT_REPEAT << 5), put8(&sb, 120);
	seed_write(dir, "seed-flows", &sb);

	/* Raw packets: with lengths and checksums made right, and not. */
	sb.n = 0;
	put8(&sb, 0);
	{
		uint8_t raw[60] = { 0x45, 0, 0, 60, 0, 1, 0x40, 0, 64,
				    PROTO_TCP };

		raw[20 + 12] = 5 << 4;
		raw[20 + 13] = TCP_ACK;
		put8(&sb, OP_RAW | 0x1c), put16be(&sb, sizeof(raw));
		put(&sb, raw, sizeof(raw));
		put8(&sb, OP_RAW), put16be(&sb, sizeof(raw));
		put(&sb, raw, sizeof(raw));
		raw[0] = 0x60;
		raw[6] = PROTO_TCP;
		raw[40 + 12] = 5 << 4;
		put8(&sb, OP_RAW | 0x14), put16be(&sb, sizeof(raw));
		put(&sb, raw, sizeof(raw));
	}
	seed_write(dir, "seed-raw", &sb);

	seed_tso(&sb, false, 3500, 1000, TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR);
	seed_write(dir, "seed-tso4", &sb);
	seed_tso(&sb, true, 2800, 1400, TCP_ACK);
	seed_write(dir, "seed-tso6", &sb);
	seed_tso(&sb, false, 300, 1000, TCP_ACK);
	seed_write(dir, "seed-tso-one", &sb);
	sb.b[2] = VIRTIO_NET_HDR_GSO_NONE;
	seed_write(dir, "seed-csum", &sb);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_WRITE_SEEDS");

	(void)argc;
	(void)argv;
	scratch = xmalloc(IP_MAX);
	pattern = xmalloc(2 * 65536);
	for (size_t i = 0; i < 2 * 65536; i++)
		pattern[i] = (uint8_t)(i * 13 + 5);
	trace = getenv("FUZZ_TRACE") != NULL;
	if (dir) {
		seeds_write(dir);
		exit(0);
	}
	return 0;
}
