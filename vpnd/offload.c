/* SPDX-License-Identifier: MIT */
/*
 * Cutting TCP super-packets as a NIC would (TSO), and finishing partial
 * checksums.  Every segment gets full, freshly computed IP and TCP
 * checksums, so nothing depends on what the kernel left in those fields.
 */
#include <errno.h>
#include <linux/virtio_net.h>
#include <string.h>

#include "offload.h"

enum {
	IP4_MIN = 20,
	IP6_LEN = 40,
	TCP_MIN = 20,
	PROTO_TCP = 6,
	TCP_FIN = 0x01,
	TCP_PSH = 0x08,
	TCP_CWR = 0x80,
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

static uint32_t sum16(uint32_t acc, const uint8_t *p, size_t len)
{
	for (; len > 1; p += 2, len -= 2)
		acc += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		acc += (uint32_t)(p[0] << 8);
	return acc;
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
