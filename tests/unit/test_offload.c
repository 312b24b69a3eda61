/* SPDX-License-Identifier: MIT */
/*
 * TSO cutting: every segment of a TCP super-packet has the right lengths,
 * sequence number, flags and identification, checksums that verify, and
 * the payloads put back together give the original; partial checksums are
 * finished correctly.
 */
#include <linux/virtio_net.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "offload.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cut_v4),
		cmocka_unit_test(test_cut_v6),
		cmocka_unit_test(test_not_cut),
		cmocka_unit_test(test_csum_complete),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
