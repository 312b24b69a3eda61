/* SPDX-License-Identifier: MIT */
/*
 * TUN offloads.  With IFF_VNET_HDR and TSO enabled, the kernel hands the
 * daemon TCP "super-packets" of up to 64 KiB, each behind a virtio-net
 * header saying how to cut it, and packets whose checksum it left to us.
 * One read then brings what used to take dozens.  These functions do the
 * cutting and the checksums; they touch no descriptor.
 */
#ifndef VPND_OFFLOAD_H
#define VPND_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum offload_values {
	OFFLOAD_VNET_HDR_LEN = 10,
	OFFLOAD_MAX_SEGMENTS = 128,
};

struct offload_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
};

/* Reads the header in front of a packet; -EINVAL when it is too short. */
int offload_hdr_parse(const uint8_t *p, size_t len, struct offload_hdr *h);

/*
 * For a packet that is not to be cut: finishes the checksum the kernel
 * left to us (VIRTIO_NET_HDR_F_NEEDS_CSUM).  0, or -EINVAL when the offsets
 * do not fit the packet.
 */
int offload_csum_complete(uint8_t *pkt, size_t len,
			  const struct offload_hdr *h);

/*
 * How many segments a super-packet makes, 1 when it is not one, or 0 when
 * it cannot be cut (not TCP over IPv4 or IPv6 without extension headers,
 * a header that does not fit, too many segments).  *hdrlen receives the
 * length of the IP and TCP headers every segment repeats.
 */
unsigned int offload_segments(const uint8_t *pkt, size_t len,
			      const struct offload_hdr *h, size_t *hdrlen);

/*
 * Writes segment i of the super-packet into out: the headers with the
 * lengths, IPv4 identification, sequence number, flags and both checksums
 * made right, and its share of the payload.  Returns its length.
 */
size_t offload_segment(uint8_t *out, const uint8_t *pkt, size_t len,
		       const struct offload_hdr *h, size_t hdrlen,
		       unsigned int i);

#endif /* VPND_OFFLOAD_H */
