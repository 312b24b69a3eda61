/* SPDX-License-Identifier: MIT */
/*
 * TSO cutting: every segment of a TCP super-packet has the right lengths,
 * sequence number, flags and identification, checksums that verify, and
 * the payloads put back together give the original; partial checksums are
 * finished correctly.
 *
 * Receive coalescing: segments that may be merged are, into a super-packet
 * whose header and partial checksum are right (cutting it again gives back
 * every original byte for byte); every rule that refuses a merge refuses
 * it, and nothing of one flow overtakes anything of the same flow.
 *
 * The checksum sum itself (the AVX2 loop where the CPU has it) equals the
 * textbook sum of big-endian 16-bit words at every length and alignment.
 */
#include <linux/virtio_net.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "../../vpnd/offload.c"

static uint16_t csum(uint32_t acc, const uint8_t *p, size_t len)
{
	for (; len > 1; p += 2, len -= 2)
		acc += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		acc += (uint32_t)(p[0] << 8);
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

static size_t super(uint8_t *p, bool v6, size_t payload, uint8_t flags)
{
	size_t ip = v6 ? 40 : 20, len = ip + 20 + payload;

	memset(p, 0, ip + 20);
	if (v6) {
		p[0] = 0x60;
		p[4] = (uint8_t)((len - 40) >> 8);
		p[5] = (uint8_t)(len - 40);
		p[6] = 6;
		p[7] = 64;
		p[8] = 0xfd;
		p[23] = 1;
		p[24] = 0xfd;
		p[39] = 2;
	} else {
		p[0] = 0x45;
		p[4] = 0x12;
		p[5] = 0x34;
		p[8] = 64;
		p[9] = 6;
		p[12] = 10, p[15] = 1, p[16] = 10, p[19] = 2;
	}
	p[ip + 4] = 0xff, p[ip + 5] = 0xff, p[ip + 6] = 0xff, p[ip + 7] = 0xf0;
	p[ip + 12] = 5 << 4;
	p[ip + 13] = flags;
	for (size_t i = 0; i < payload; i++)
		p[ip + 20 + i] = (uint8_t)(i * 7 + 3);
	return len;
}

static void check_cut(bool v6)
{
	static uint8_t pkt[65536], seg[2000], joined[65536];
	struct offload_hdr h = {
		.gso_type = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 :
				 VIRTIO_NET_HDR_GSO_TCPV4,
		.gso_size = 1000,
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	};
	size_t ip = v6 ? 40 : 20, payload = 4500, hdrlen, n, got = 0;
	size_t len = super(pkt, v6, payload, 0x80 | 0x18 | 0x01);
	unsigned int segs = offload_segments(pkt, len, &h, &hdrlen);

	assert_int_equal(segs, 5);
	assert_int_equal(hdrlen, ip + 20);
	for (unsigned int i = 0; i < segs; i++) {
		uint32_t seq, acc;

		n = offload_segment(seg, pkt, len, &h, hdrlen, i);
		assert_int_equal(n, hdrlen + (i < 4 ? 1000 : 500));
		if (v6) {
			assert_int_equal(seg[4] << 8 | seg[5], n - 40);
			acc = csum(0, seg + 8, 32);
		} else {
			assert_int_equal(seg[2] << 8 | seg[3], n);
			assert_int_equal(seg[4] << 8 | seg[5], 0x1234 + i);
			assert_int_equal(csum(0, seg, 20), 0xffff);
			acc = csum(0, seg + 12, 8);
		}
		acc += 6 + (uint32_t)(n - ip);
		assert_int_equal(csum(acc, seg + ip, n - ip), 0xffff);
		seq = (uint32_t)seg[ip + 4] << 24 | (uint32_t)seg[ip + 5] << 16 |
		      (uint32_t)seg[ip + 6] << 8 | seg[ip + 7];
		assert_int_equal(seq, (uint32_t)(0xfffffff0u + i * 1000));
		/* CWR on the first only; FIN and PSH on the last only. */
		assert_int_equal(!!(seg[ip + 13] & 0x80), i == 0);
		assert_int_equal(!!(seg[ip + 13] & 0x09), i == segs - 1);
		assert_true(seg[ip + 13] & 0x10);	/* ACK kept */
		memcpy(joined + got, seg + hdrlen, n - hdrlen);
		got += n - hdrlen;
	}
	assert_int_equal(got, payload);
	assert_memory_equal(joined, pkt + hdrlen, payload);
}

static void test_cut_v4(void **state)
{
	(void)state;
	check_cut(false);
}

static void test_cut_v6(void **state)
{
	(void)state;
	check_cut(true);
}

static void test_not_cut(void **state)
{
	static uint8_t pkt[3000];
	struct offload_hdr h = { .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				 .gso_size = 1000 };
	size_t len = super(pkt, false, 100, 0x10), hdrlen;

	(void)state;
	assert_int_equal(offload_segments(pkt, len, &h, &hdrlen), 1);
	h.gso_type = VIRTIO_NET_HDR_GSO_NONE;
	assert_int_equal(offload_segments(pkt, len, &h, &hdrlen), 1);
	/* UDP, a bad header length, no segment size: not cut. */
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	assert_int_equal(offload_segments(pkt, len, &h, &hdrlen), 0);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = 0;
	assert_int_equal(offload_segments(pkt, len, &h, &hdrlen), 0);
	h.gso_size = 1000;
	len = super(pkt, false, 10, 0x10);
	pkt[20 + 12] = 15 << 4;	/* a 60-byte TCP header in 30 bytes */
	assert_int_equal(offload_segments(pkt, len, &h, &hdrlen), 0);
	/* A TCPv6 type on an IPv4 packet. */
	pkt[20 + 12] = 5 << 4;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	assert_int_equal(offload_segments(pkt, len, &h, &hdrlen), 0);
}

/*
 * A super-packet is cut into at most OFFLOAD_MAX_SEGMENTS segments: the
 * send path holds that many encrypted copies at once.  One byte more than
 * 128 full segments is refused whole (the caller drops and counts it),
 * never cut short.
 */
static void test_cut_bound(void **state)
{
	static uint8_t pkt[65536], seg[200];
	struct offload_hdr h = { .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				 .gso_size = 100,
				 .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM };
	size_t payload = (size_t)OFFLOAD_MAX_SEGMENTS * 100, hdrlen = 0, len;

	(void)state;
	len = super(pkt, false, payload, 0x10);
	assert_int_equal(offload_segments(pkt, len, &h, &hdrlen),
			 OFFLOAD_MAX_SEGMENTS);
	assert_int_equal(hdrlen, 40);
	assert_int_equal(offload_segment(seg, pkt, len, &h, hdrlen,
					 OFFLOAD_MAX_SEGMENTS - 1), 140);

	hdrlen = 0;
	len = super(pkt, false, payload + 1, 0x10);
	assert_int_equal(offload_segments(pkt, len, &h, &hdrlen), 0);
	assert_int_equal(hdrlen, 0);
	/* The same over IPv6, and the smallest segment size with the
	 * largest packet: 65,495 one-byte segments. */
	len = super(pkt, true, payload + 1, 0x10);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	assert_int_equal(offload_segments(pkt, len, &h, &hdrlen), 0);
	h.gso_size = 1;
	len = super(pkt, false, 65535 - 40, 0x10);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	assert_int_equal(offload_segments(pkt, len, &h, &hdrlen), 0);
}

static void test_csum_complete(void **state)
{
	static uint8_t pkt[200];
	size_t len = super(pkt, false, 50, 0x18);
	struct offload_hdr h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				 .csum_start = 20, .csum_offset = 16 };
	uint32_t acc = csum(0, pkt + 12, 8) + 6 + (uint32_t)(len - 20);
	uint16_t pseudo = (uint16_t)acc;

	(void)state;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	pseudo = (uint16_t)acc;
	/* As the kernel leaves it: the pseudo-header's sum in the field. */
	pkt[36] = (uint8_t)(pseudo >> 8);
	pkt[37] = (uint8_t)pseudo;
	assert_int_equal(offload_csum_complete(pkt, len, &h), 0);
	acc = csum(0, pkt + 12, 8) + 6 + (uint32_t)(len - 20);
	assert_int_equal(csum(acc, pkt + 20, len - 20), 0xffff);
	h.csum_offset = 500;
	assert_int_equal(offload_csum_complete(pkt, len, &h), -22);
}

/* Segments as a peer's TCP stack sends them, with valid checksums. */
struct seg_spec {
	bool v6;
	uint32_t seq;
	uint32_t ack;
	uint8_t flags;
	size_t payload;
	uint16_t window;
	uint8_t tos;
	uint16_t sport;
	uint16_t id;
	uint32_t tsval;		/* in a 12-byte timestamp option */
	bool bad_csum;
	bool other_zero;	/* checksum written as 0xffff, which verifies */
};

/* a + b in ones' complement. */
static uint16_t add16(uint16_t a, uint16_t b)
{
	uint32_t s = (uint32_t)a + b;

	return (uint16_t)((s & 0xffff) + (s >> 16));
}

static size_t tcp_seg(uint8_t *p, const struct seg_spec *s)
{
	size_t ip = s->v6 ? 40 : 20, tcp = 32, len = ip + tcp + s->payload;
	uint8_t *t = p + ip;
	uint32_t acc;
	uint16_t c;

	memset(p, 0, ip + tcp);
	if (s->v6) {
		p[0] = 0x60 | s->tos >> 4;
		p[1] = (uint8_t)(s->tos << 4);
		p[4] = (uint8_t)((len - 40) >> 8);
		p[5] = (uint8_t)(len - 40);
		p[6] = 6;
		p[7] = 64;
		p[8] = 0xfd, p[23] = 1, p[24] = 0xfd, p[39] = 2;
	} else {
		p[0] = 0x45;
		p[1] = s->tos;
		p[2] = (uint8_t)(len >> 8);
		p[3] = (uint8_t)len;
		p[4] = (uint8_t)(s->id >> 8);
		p[5] = (uint8_t)s->id;
		p[6] = 0x40;	/* DF */
		p[8] = 64;
		p[9] = 6;
		p[12] = 10, p[15] = 1, p[16] = 10, p[19] = 2;
		c = (uint16_t)~csum(0, p, 20);
		p[10] = (uint8_t)(c >> 8);
		p[11] = (uint8_t)c;
	}
	t[0] = (uint8_t)(s->sport >> 8);
	t[1] = (uint8_t)s->sport;
	t[2] = 0x14, t[3] = 0x51;
	t[4] = (uint8_t)(s->seq >> 24), t[5] = (uint8_t)(s->seq >> 16);
	t[6] = (uint8_t)(s->seq >> 8), t[7] = (uint8_t)s->seq;
	t[8] = (uint8_t)(s->ack >> 24), t[9] = (uint8_t)(s->ack >> 16);
	t[10] = (uint8_t)(s->ack >> 8), t[11] = (uint8_t)s->ack;
	t[12] = (uint8_t)(tcp / 4) << 4;
	t[13] = s->flags;
	t[14] = (uint8_t)(s->window >> 8);
	t[15] = (uint8_t)s->window;
	t[20] = 1, t[21] = 1, t[22] = 8, t[23] = 10;	/* NOP NOP TS */
	t[24] = (uint8_t)(s->tsval >> 24), t[25] = (uint8_t)(s->tsval >> 16);
	t[26] = (uint8_t)(s->tsval >> 8), t[27] = (uint8_t)s->tsval;
	for (size_t i = 0; i < s->payload; i++)
		t[tcp + i] = (uint8_t)((s->seq + i) * 13 + 5);
	acc = (s->v6 ? csum(0, p + 8, 32) : csum(0, p + 12, 8)) + 6 +
	      (uint32_t)(len - ip);
	c = (uint16_t)~csum(acc, t, len - ip);
	if (s->bad_csum)
		c ^= 0x0100;
	if (s->other_zero) {
		/* The first payload word takes the checksum's value: the
		 * rest then sums to zero, and 0xffff verifies as 0 would. */
		uint16_t w = add16((uint16_t)(t[tcp] << 8 | t[tcp + 1]), c);

		t[tcp] = (uint8_t)(w >> 8);
		t[tcp + 1] = (uint8_t)w;
		c = 0xffff;
	}
	t[16] = (uint8_t)(c >> 8);
	t[17] = (uint8_t)c;
	return len;
}

static struct seg_spec spec(bool v6, uint32_t seq, size_t payload)
{
	return (struct seg_spec){ .v6 = v6, .seq = seq, .ack = 0x01020304,
				  .flags = 0x10, .payload = payload,
				  .window = 501, .sport = 40000, .tsval = 77 };
}

enum { NPKT = 48, PKT_MAX = 1600 };

static uint8_t pkts[NPKT][PKT_MAX], orig[NPKT][PKT_MAX];
static size_t lens[NPKT];
static struct offload_gro gro;

/* Queues segment i as described; IPv4 identifications count up, as a
 * cut gives them. */
static void add(unsigned int i, struct seg_spec s)
{
	s.id = (uint16_t)(0x7000 + i);
	lens[i] = tcp_seg(pkts[i], &s);
	memcpy(orig[i], pkts[i], lens[i]);
	assert_int_equal(offload_gro_add(&gro, pkts[i], lens[i]), 0);
}

/* Write i flattened into out (without its vnet header); returns its
 * length and how many packets it carries. */
static size_t flat(unsigned int i, uint8_t *out, struct offload_hdr *h,
		   unsigned int *packets)
{
	static struct iovec iov[OFFLOAD_GRO_IOV];
	uint8_t vnet[OFFLOAD_VNET_HDR_LEN];
	unsigned int n = offload_gro_item_iov(&gro, i, vnet, iov, packets);
	size_t len = 0;

	assert_true(n >= 2 && n <= OFFLOAD_GRO_IOV);
	assert_ptr_equal(iov[0].iov_base, vnet);
	assert_int_equal(offload_hdr_parse(vnet, sizeof(vnet), h), 0);
	for (unsigned int j = 1; j < n; j++) {
		memcpy(out + len, iov[j].iov_base, iov[j].iov_len);
		len += iov[j].iov_len;
	}
	return len;
}

/* Cutting write i again gives packets first .. first + count - 1, byte
 * for byte; its partial checksum finishes into a valid one. */
static void check_merge(unsigned int i, unsigned int first,
			unsigned int count)
{
	static uint8_t big[70000], seg[PKT_MAX];
	struct offload_hdr h;
	unsigned int packets, segs;
	size_t len = flat(i, big, &h, &packets), hdrlen, ip;
	bool v6 = big[0] >> 4 == 6;
	uint32_t acc;

	ip = v6 ? 40 : 20;
	assert_int_equal(packets, count);
	if (count == 1) {
		assert_int_equal(h.flags, 0);
		assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
		assert_int_equal(len, lens[first]);
		assert_memory_equal(big, orig[first], len);
		return;
	}
	assert_int_equal(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(h.gso_type, v6 ? VIRTIO_NET_HDR_GSO_TCPV6 :
					  VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(h.hdr_len, ip + 32);
	assert_int_equal(h.gso_size, lens[first] - ip - 32);
	assert_int_equal(h.csum_start, ip);
	assert_int_equal(h.csum_offset, 16);
	if (v6) {
		assert_int_equal(big[4] << 8 | big[5], len - 40);
	} else {
		assert_int_equal(big[2] << 8 | big[3], len);
		assert_int_equal(csum(0, big, 20), 0xffff);
	}

	segs = offload_segments(big, len, &h, &hdrlen);
	assert_int_equal(segs, count);
	for (unsigned int k = 0; k < segs; k++) {
		size_t n = offload_segment(seg, big, len, &h, hdrlen, k);

		assert_int_equal(n, lens[first + k]);
		assert_memory_equal(seg, orig[first + k], n);
	}

	/* What the kernel would do with the partial checksum. */
	assert_int_equal(offload_csum_complete(big, len, &h), 0);
	acc = (v6 ? csum(0, big + 8, 32) : csum(0, big + 12, 8)) + 6 +
	      (uint32_t)(len - ip);
	assert_int_equal(csum(acc, big + ip, len - ip), 0xffff);
}

static void check_merge_runs(bool v6)
{
	unsigned int i;

	offload_gro_init(&gro);
	for (i = 0; i < 20; i++) {
		struct seg_spec s = spec(v6, 1000 + i * 1368, 1368);

		if (i == 19) {
			s.payload = 700;
			s.flags |= 0x08;	/* PSH on the last */
		}
		add(i, s);
	}
	assert_int_equal(offload_gro_items(&gro), 1);
	check_merge(0, 0, 20);
}

static void test_gro_merge_v4(void **state)
{
	(void)state;
	check_merge_runs(false);
}

static void test_gro_merge_v6(void **state)
{
	(void)state;
	check_merge_runs(true);
}

/* The sequence wraps inside a merge; a 64 KiB merge stops growing. */
static void test_gro_wrap_and_limit(void **state)
{
	unsigned int i, n;

	(void)state;
	offload_gro_init(&gro);
	for (i = 0; i < 4; i++)
		add(i, spec(false, 0xfffff000u + i * 1400, 1400));
	assert_int_equal(offload_gro_items(&gro), 1);
	check_merge(0, 0, 4);

	/* 64 segments of 1400 bytes: 46 fit in 65535 bytes, 18 more. */
	offload_gro_init(&gro);
	for (i = 0; i < NPKT; i++)
		add(i, spec(true, 5000 + i * 1400, 1400));
	n = offload_gro_items(&gro);
	assert_int_equal(n, 2);
	check_merge(0, 0, 46);
	check_merge(1, 46, NPKT - 46);
}

/*
 * Two segments that must not merge: each is written alone, in order.
 * change() makes the second differ from a clean continuation of the first.
 */
static void check_refused(bool v6, void (*change)(struct seg_spec *a,
						  struct seg_spec *b))
{
	struct seg_spec a = spec(v6, 1000, 1000), b = spec(v6, 2000, 1000);

	change(&a, &b);
	offload_gro_init(&gro);
	add(0, a);
	add(1, b);
	assert_int_equal(offload_gro_items(&gro), 2);
	check_merge(0, 0, 1);
	check_merge(1, 1, 1);
}

static void gap(struct seg_spec *a, struct seg_spec *b)
{
	(void)a;
	b->seq += 1;
}

static void overlap(struct seg_spec *a, struct seg_spec *b)
{
	(void)a;
	b->seq -= 500;
}

static void other_ack(struct seg_spec *a, struct seg_spec *b)
{
	(void)a;
	b->ack += 1;
}

static void other_window(struct seg_spec *a, struct seg_spec *b)
{
	(void)a;
	b->window += 1;
}

static void other_options(struct seg_spec *a, struct seg_spec *b)
{
	(void)a;
	b->tsval += 1;
}

static void other_tos(struct seg_spec *a, struct seg_spec *b)
{
	(void)a;
	b->tos = 0x03;	/* CE */
}

static void first_psh(struct seg_spec *a, struct seg_spec *b)
{
	(void)b;
	a->flags |= 0x08;
}

static void first_short(struct seg_spec *a, struct seg_spec *b)
{
	a->payload = 500;
	b->seq = a->seq + 500;
}

static void second_longer(struct seg_spec *a, struct seg_spec *b)
{
	(void)a;
	b->payload = 1001;
}

static void syn(struct seg_spec *a, struct seg_spec *b)
{
	(void)a;
	b->flags |= 0x02;
}

static void fin(struct seg_spec *a, struct seg_spec *b)
{
	(void)a;
	b->flags |= 0x01;
}

static void rst(struct seg_spec *a, struct seg_spec *b)
{
	(void)a;
	b->flags |= 0x04;
}

static void urg(struct seg_spec *a, struct seg_spec *b)
{
	(void)a;
	b->flags |= 0x20;
}

static void cwr(struct seg_spec *a, struct seg_spec *b)
{
	(void)a;
	b->flags |= 0x80;
}

static void first_cwr(struct seg_spec *a, struct seg_spec *b)
{
	(void)b;
	a->flags |= 0x80;
}

static void ece_differs(struct seg_spec *a, struct seg_spec *b)
{
	(void)a;
	b->flags |= 0x40;
}

static void pure_ack(struct seg_spec *a, struct seg_spec *b)
{
	(void)a;
	b->payload = 0;
}

static void bad_csum(struct seg_spec *a, struct seg_spec *b)
{
	(void)a;
	b->bad_csum = true;
}

static void first_bad_csum(struct seg_spec *a, struct seg_spec *b)
{
	(void)b;
	a->bad_csum = true;
}

/* A cut would write 0 for that 0xffff: the segment would not come back
 * byte for byte (found by tests/fuzz/fuzz_offload.c). */
static void other_zero(struct seg_spec *a, struct seg_spec *b)
{
	(void)a;
	b->other_zero = true;
}

static void first_other_zero(struct seg_spec *a, struct seg_spec *b)
{
	(void)b;
	a->other_zero = true;
}

static void other_port(struct seg_spec *a, struct seg_spec *b)
{
	(void)a;
	b->sport += 1;
}

static void (*const refusals[])(struct seg_spec *, struct seg_spec *) = {
	gap, overlap, other_ack, other_window, other_options, other_tos,
	first_psh, first_short, second_longer, syn, fin, rst, urg, cwr,
	first_cwr, ece_differs, pure_ack, bad_csum, first_bad_csum, other_port,
	other_zero, first_other_zero,
};

static void test_gro_refused(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		check_refused(false, refusals[i]);
		check_refused(true, refusals[i]);
	}
}

/* What must not be merged in IPv4 alone: a bad header checksum, options,
 * a fragment, a header checksum written as 0xffff (which verifies, but a
 * cut would write 0). */
static void test_gro_refused_v4(void **state)
{
	static const unsigned int what[] = { 0, 1, 2, 3 };

	(void)state;
	for (size_t w = 0; w < sizeof(what) / sizeof(what[0]); w++) {
		offload_gro_init(&gro);
		add(0, spec(false, 1000, 1000));
		lens[1] = tcp_seg(pkts[1], &(struct seg_spec){
			.seq = 2000, .ack = 0x01020304, .flags = 0x10,
			.payload = 1000, .window = 501, .sport = 40000,
			.id = 0x7002, .tsval = 77 });
		if (what[w] == 0) {
			pkts[1][11] ^= 1;
		} else if (what[w] == 1) {
			pkts[1][0] = 0x46;	/* a 24-byte header: options */
		} else if (what[w] == 3) {
			/* Under DF the identification may be anything: it
			 * takes the checksum's value, the field 0xffff. */
			uint16_t id = add16((uint16_t)(pkts[1][4] << 8 |
						       pkts[1][5]),
					    (uint16_t)(pkts[1][10] << 8 |
						       pkts[1][11]));

			pkts[1][4] = (uint8_t)(id >> 8);
			pkts[1][5] = (uint8_t)id;
			pkts[1][10] = pkts[1][11] = 0xff;
			assert_int_equal(csum(0, pkts[1], 20), 0xffff);
		} else {
			pkts[1][6] |= 0x20;	/* MF */
			pkts[1][10] = pkts[1][11] = 0;
			uint16_t c = (uint16_t)~csum(0, pkts[1], 20);
			pkts[1][10] = (uint8_t)(c >> 8);
			pkts[1][11] = (uint8_t)c;
		}
		memcpy(orig[1], pkts[1], lens[1]);
		assert_int_equal(offload_gro_add(&gro, pkts[1], lens[1]), 0);
		add(2, spec(false, 3000, 1000));
		/* A fragment closes every merge; the others end theirs. */
		assert_int_equal(offload_gro_items(&gro), 3);
		check_merge(0, 0, 1);
		check_merge(2, 2, 1);
	}
}

/*
 * The IPv4 identification: with DF it may be anything; without, it must
 * count up from the first segment's, as a cut would number them.
 */
static void test_gro_ipv4_id(void **state)
{
	unsigned int df;

	(void)state;
	for (df = 0; df < 2; df++) {
		offload_gro_init(&gro);
		for (unsigned int i = 0; i < 3; i++) {
			struct seg_spec s = spec(false, 1000 + i * 1000, 1000);
			uint16_t c;

			lens[i] = tcp_seg(pkts[i], &s);
			pkts[i][4] = (uint8_t)(i * 77);	/* out of order */
			pkts[i][6] = df ? 0x40 : 0;
			pkts[i][10] = pkts[i][11] = 0;
			c = (uint16_t)~csum(0, pkts[i], 20);
			pkts[i][10] = (uint8_t)(c >> 8);
			pkts[i][11] = (uint8_t)c;
			memcpy(orig[i], pkts[i], lens[i]);
			assert_int_equal(offload_gro_add(&gro, pkts[i], lens[i]),
					 0);
		}
		assert_int_equal(offload_gro_items(&gro), df ? 1 : 3);
	}
	/* Without DF and counting up: merged, and cut back exactly. */
	offload_gro_init(&gro);
	for (unsigned int i = 0; i < 3; i++) {
		struct seg_spec s = spec(false, 1000 + i * 1000, 1000);
		uint16_t c;

		s.id = (uint16_t)(0xfffe + i);	/* wraps */
		lens[i] = tcp_seg(pkts[i], &s);
		pkts[i][6] = 0;
		pkts[i][10] = pkts[i][11] = 0;
		c = (uint16_t)~csum(0, pkts[i], 20);
		pkts[i][10] = (uint8_t)(c >> 8);
		pkts[i][11] = (uint8_t)c;
		memcpy(orig[i], pkts[i], lens[i]);
		assert_int_equal(offload_gro_add(&gro, pkts[i], lens[i]), 0);
	}
	assert_int_equal(offload_gro_items(&gro), 1);
	check_merge(0, 0, 3);
}

/*
 * Two flows interleaved merge separately; a UDP packet between them stays
 * in its place and breaks nothing; a pure ACK of one flow ends that flow's
 * merge so that later segments do not overtake it.
 */
static void test_gro_flows(void **state)
{
	struct seg_spec s;
	unsigned int i;

	(void)state;
	offload_gro_init(&gro);
	for (i = 0; i < 6; i++) {
		s = spec(false, 1000 + (i / 2) * 1000, 1000);
		s.sport = (uint16_t)(40000 + i % 2);
		add(i, s);
	}
	/* A UDP packet: not merged, written after the two merges begun. */
	lens[6] = tcp_seg(pkts[6], &(struct seg_spec){ .payload = 100 });
	pkts[6][9] = 17;
	memcpy(orig[6], pkts[6], lens[6]);
	assert_int_equal(offload_gro_add(&gro, pkts[6], lens[6]), 0);
	s = spec(false, 4000, 1000);
	add(7, s);
	s.payload = 0;
	s.seq = 5000;
	add(8, s);	/* pure ACK of flow 40000 */
	s = spec(false, 5000, 1000);
	add(9, s);	/* must come after the ACK */

	assert_int_equal(offload_gro_items(&gro), 5);
	/* Flow 40000: segments 0, 2, 4, 7. */
	{
		static uint8_t big[70000];
		struct offload_hdr h;
		unsigned int packets;
		size_t len = flat(0, big, &h, &packets);

		assert_int_equal(packets, 4);
		assert_int_equal(len, lens[0] + 3 * 1000);
		assert_int_equal(big[20] << 8 | big[21], 40000);
		len = flat(1, big, &h, &packets);
		assert_int_equal(packets, 3);
		assert_int_equal(big[20] << 8 | big[21], 40001);
	}
	check_merge(2, 6, 1);
	check_merge(3, 8, 1);
	check_merge(4, 9, 1);
}

/* More flows than can grow at once: the newest are written unmerged, the
 * older ones keep growing, nothing is lost. */
static void test_gro_many_flows(void **state)
{
	struct seg_spec s;
	unsigned int i, total = 0, packets, n;

	(void)state;
	offload_gro_init(&gro);
	for (i = 0; i < 2 * (OFFLOAD_GRO_FLOWS + 2); i++) {
		s = spec(true, 1000 + (i / (OFFLOAD_GRO_FLOWS + 2)) * 1000,
			 1000);
		s.sport = (uint16_t)(1000 + i % (OFFLOAD_GRO_FLOWS + 2));
		add(i, s);
	}
	n = offload_gro_items(&gro);
	for (i = 0; i < n; i++) {
		static uint8_t big[70000];
		struct offload_hdr h;

		flat(i, big, &h, &packets);
		total += packets;
	}
	assert_int_equal(total, 2 * (OFFLOAD_GRO_FLOWS + 2));
	/* Two flows found no room: their four segments are alone. */
	assert_int_equal(n, OFFLOAD_GRO_FLOWS + 2 + 2);
}

/*
 * Random batches: three TCP flows (IPv4 and IPv6) and UDP, interleaved,
 * with gaps, PSH, short segments, pure ACKs and bad checksums thrown in.
 * Whatever was merged, cutting every write again must give each flow's
 * packets back byte for byte and in the order they came, every packet
 * exactly once.
 */
static uint32_t rnd_state = 12345;

static uint32_t rnd(uint32_t n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 8) % n;
}

/* Flows 0-2 are TCP from ports 0x4000-0x4002; 3 is UDP. */
static unsigned int flow_of(const uint8_t *p)
{
	bool v6 = p[0] >> 4 == 6;
	size_t ip = v6 ? 40 : 20;

	if ((v6 ? p[6] : p[9]) == 17)
		return 3;
	return p[ip + 1] & 3;
}

static void test_gro_random(void **state)
{
	static uint8_t big[70000], seg[PKT_MAX];
	unsigned int round, i, k, n, want[4][NPKT], nwant[4], got[4];
	unsigned int merged = 0, alone = 0;
	uint32_t seq[3];
	uint16_t id[3];

	(void)state;
	for (round = 0; round < 500; round++) {
		offload_gro_init(&gro);
		memset(nwant, 0, sizeof(nwant));
		memset(got, 0, sizeof(got));
		for (k = 0; k < 3; k++) {
			seq[k] = rnd(0xffffffffu);
			id[k] = (uint16_t)rnd(0xffff);
		}
		n = 1 + rnd(NPKT);
		for (i = 0; i < n; i++) {
			unsigned int f = rnd(4), r = rnd(20);
			struct seg_spec sp;

			if (f == 3) {
				lens[i] = tcp_seg(pkts[i], &(struct seg_spec){
					.payload = 1 + rnd(1000) });
				pkts[i][9] = 17;
			} else {
				sp = spec(f == 1, seq[f], 1000);
				sp.sport = (uint16_t)(0x4000 + f);
				sp.id = id[f]++;
				if (r == 0)
					sp.payload = 1 + rnd(999);
				else if (r == 1)
					sp.flags |= 0x08;
				else if (r == 2)
					sp.seq += 1;	/* a gap */
				else if (r == 3)
					sp.payload = 0;
				else if (r == 4)
					sp.bad_csum = true;
				else if (r == 5)
					sp.flags |= 0x01;
				seq[f] = sp.seq + (uint32_t)sp.payload;
				lens[i] = tcp_seg(pkts[i], &sp);
			}
			memcpy(orig[i], pkts[i], lens[i]);
			want[f][nwant[f]++] = i;
			assert_int_equal(offload_gro_add(&gro, pkts[i], lens[i]),
					 0);
		}
		for (i = 0; i < offload_gro_items(&gro); i++) {
			struct offload_hdr h;
			unsigned int packets, segs, f;
			size_t len = flat(i, big, &h, &packets), hdrlen, m;

			f = flow_of(big);
			merged += packets > 1;
			alone += packets == 1;
			if (packets == 1) {
				assert_true(got[f] < nwant[f]);
				m = want[f][got[f]++];
				assert_int_equal(len, lens[m]);
				assert_memory_equal(big, orig[m], len);
				continue;
			}
			segs = offload_segments(big, len, &h, &hdrlen);
			assert_int_equal(segs, packets);
			for (k = 0; k < segs; k++) {
				size_t sl = offload_segment(seg, big, len, &h,
							    hdrlen, k);

				assert_true(got[f] < nwant[f]);
				m = want[f][got[f]++];
				assert_int_equal(sl, lens[m]);
				assert_memory_equal(seg, orig[m], sl);
			}
		}
		for (k = 0; k < 4; k++)
			assert_int_equal(got[k], nwant[k]);
	}
	/* The mix must have exercised both outcomes plenty. */
	assert_true(merged > 1000 && alone > 1000);
}

/* A full batch says so and takes nothing. */
static void test_gro_full(void **state)
{
	static uint8_t udp[100];
	unsigned int i;

	(void)state;
	offload_gro_init(&gro);
	udp[0] = 0x45;
	udp[9] = 17;
	for (i = 0; i < OFFLOAD_GRO_PACKETS; i++)
		assert_int_equal(offload_gro_add(&gro, udp, sizeof(udp)), 0);
	assert_int_equal(offload_gro_add(&gro, udp, sizeof(udp)), -ENOSPC);
	assert_int_equal(offload_gro_items(&gro), OFFLOAD_GRO_PACKETS);
}

/* RFC 1071's sum, two bytes at a time, the odd byte padded with zero. */
static uint32_t textbook_sum(const uint8_t *p, size_t len)
{
	uint64_t s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

static void test_sum16_every_length(void **state)
{
	static uint8_t buf[65536 + 4];
	uint32_t x = 1;

	(void)state;
	for (size_t off = 0; off < 4; off++) {
		for (size_t i = 0; i < sizeof(buf); i++) {
			x = x * 1103515245u + 12345u;
			buf[i] = (uint8_t)(x >> 16);
		}
		for (size_t len = 0; len <= 1600; len++)
			assert_int_equal(fold(sum16(0, buf + off, len)),
					 fold(textbook_sum(buf + off, len)));
		/* A whole 64 KiB packet of all-ones words: the widest sum. */
		memset(buf, 0xff, sizeof(buf));
		assert_int_equal(fold(sum16(0, buf + off, 65536)),
				 fold(textbook_sum(buf + off, 65536)));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sum16_every_length),
		cmocka_unit_test(test_cut_v4),
		cmocka_unit_test(test_cut_v6),
		cmocka_unit_test(test_not_cut),
		cmocka_unit_test(test_cut_bound),
		cmocka_unit_test(test_csum_complete),
		cmocka_unit_test(test_gro_merge_v4),
		cmocka_unit_test(test_gro_merge_v6),
		cmocka_unit_test(test_gro_wrap_and_limit),
		cmocka_unit_test(test_gro_refused),
		cmocka_unit_test(test_gro_refused_v4),
		cmocka_unit_test(test_gro_ipv4_id),
		cmocka_unit_test(test_gro_flows),
		cmocka_unit_test(test_gro_many_flows),
		cmocka_unit_test(test_gro_random),
		cmocka_unit_test(test_gro_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
