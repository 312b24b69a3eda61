/* SPDX-License-Identifier: MIT */
/*
 * The ICMP errors for unroutable packets: well-formed (checksums verify,
 * addresses swapped, the original quoted) and never sent where the RFCs
 * forbid (errors, fragments, multicast, broadcast).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "icmp.h"

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

static size_t udp4(uint8_t *p, const uint8_t src[4], const uint8_t dst[4],
		   size_t payload)
{
	size_t len = 28 + payload;

	memset(p, 0, len);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[8] = 64;
	p[9] = 17;
	memcpy(p + 12, src, 4);
	memcpy(p + 16, dst, 4);
	for (size_t i = 28; i < len; i++)
		p[i] = (uint8_t)i;
	return len;
}

static void test_v4_unreachable(void **state)
{
	static const uint8_t src[4] = { 10, 0, 0, 1 }, dst[4] = { 10, 9, 9, 9 };
	uint8_t pkt[2000], out[ICMP_V6_MAX];
	size_t len = udp4(pkt, src, dst, 1000), n;

	(void)state;
	n = icmp_build_unreachable(out, pkt, len);
	assert_int_equal(n, 576);
	assert_int_equal(out[0], 0x45);
	assert_int_equal(out[2] << 8 | out[3], 576);
	assert_int_equal(out[9], 1);
	assert_memory_equal(out + 12, dst, 4);
	assert_memory_equal(out + 16, src, 4);
	assert_int_equal(csum(0, out, 20), 0xffff);
	assert_int_equal(out[20], 3);
	assert_int_equal(out[21], 1);
	assert_int_equal(csum(0, out + 20, n - 20), 0xffff);
	assert_memory_equal(out + 28, pkt, n - 28);
}

static void test_v4_never_answered(void **state)
{
	static const uint8_t a[4] = { 10, 0, 0, 1 }, b[4] = { 10, 9, 9, 9 };
	static const uint8_t mc[4] = { 224, 0, 0, 1 },
			     bc[4] = { 255, 255, 255, 255 },
			     zero[4] = { 0, 0, 0, 0 };
	uint8_t pkt[200], out[ICMP_V6_MAX];
	size_t len;

	(void)state;
	len = udp4(pkt, a, mc, 8);
	assert_int_equal(icmp_build_unreachable(out, pkt, len), 0);
	len = udp4(pkt, bc, b, 8);
	assert_int_equal(icmp_build_unreachable(out, pkt, len), 0);
	len = udp4(pkt, zero, b, 8);
	assert_int_equal(icmp_build_unreachable(out, pkt, len), 0);
	/* A later fragment. */
	len = udp4(pkt, a, b, 8);
	pkt[7] = 10;
	assert_int_equal(icmp_build_unreachable(out, pkt, len), 0);
	/* An ICMP error (type 3), but an echo request (8) is answered. */
	len = udp4(pkt, a, b, 8);
	pkt[9] = 1;
	pkt[20] = 3;
	assert_int_equal(icmp_build_unreachable(out, pkt, len), 0);
	pkt[20] = 8;
	assert_int_not_equal(icmp_build_unreachable(out, pkt, len), 0);
	/* Malformed: too short, bad header length, not IP at all. */
	assert_int_equal(icmp_build_unreachable(out, pkt, 19), 0);
	pkt[0] = 0x44;
	assert_int_equal(icmp_build_unreachable(out, pkt, len), 0);
	pkt[0] = 0x55;
	assert_int_equal(icmp_build_unreachable(out, pkt, len), 0);
	pkt[0] = 0x00;
	assert_int_equal(icmp_build_unreachable(out, pkt, len), 0);
	assert_int_equal(icmp_build_unreachable(out, pkt, 0), 0);
}

static size_t udp6(uint8_t *p, uint8_t src_first, uint8_t dst_first,
		   size_t payload)
{
	size_t len = 48 + payload;

	memset(p, 0, len);
	p[0] = 0x60;
	p[4] = (uint8_t)((len - 40) >> 8);
	p[5] = (uint8_t)(len - 40);
	p[6] = 17;
	p[7] = 64;
	p[8] = src_first;
	p[23] = 1;
	p[24] = dst_first;
	p[39] = 2;
	return len;
}

static void test_v6_unreachable(void **state)
{
	uint8_t pkt[3000], out[ICMP_V6_MAX], pseudo[40];
	size_t len = udp6(pkt, 0xfd, 0xfd, 2000), n;
	uint32_t acc;

	(void)state;
	n = icmp_build_unreachable(out, pkt, len);
	assert_int_equal(n, 1280);
	assert_int_equal(out[0], 0x60);
	assert_int_equal(out[4] << 8 | out[5], 1240);
	assert_int_equal(out[6], 58);
	assert_memory_equal(out + 8, pkt + 24, 16);
	assert_memory_equal(out + 24, pkt + 8, 16);
	assert_int_equal(out[40], 1);
	assert_int_equal(out[41], 3);
	/* Verify the checksum over the pseudo-header independently. */
	memset(pseudo, 0, sizeof(pseudo));
	memcpy(pseudo, out + 8, 32);
	pseudo[34] = (uint8_t)(1240 >> 8);
	pseudo[35] = (uint8_t)1240;
	pseudo[39] = 58;
	acc = csum(0, pseudo, 40);
	assert_int_equal(csum(acc, out + 40, n - 40), 0xffff);
	assert_memory_equal(out + 48, pkt, n - 48);

	/* Multicast either way, unspecified source, ICMPv6 errors: none. */
	len = udp6(pkt, 0xff, 0xfd, 8);
	assert_int_equal(icmp_build_unreachable(out, pkt, len), 0);
	len = udp6(pkt, 0xfd, 0xff, 8);
	assert_int_equal(icmp_build_unreachable(out, pkt, len), 0);
	len = udp6(pkt, 0, 0xfd, 8);
	pkt[23] = 0;
	assert_int_equal(icmp_build_unreachable(out, pkt, len), 0);
	len = udp6(pkt, 0xfd, 0xfd, 8);
	pkt[6] = 58;
	pkt[40] = 1;
	assert_int_equal(icmp_build_unreachable(out, pkt, len), 0);
	pkt[40] = 128;		/* echo request: answered */
	assert_int_not_equal(icmp_build_unreachable(out, pkt, len), 0);
	assert_int_equal(icmp_build_unreachable(out, pkt, 39), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_unreachable),
		cmocka_unit_test(test_v4_never_answered),
		cmocka_unit_test(test_v6_unreachable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
